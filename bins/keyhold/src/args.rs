use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand};

pub use crate::store_args::{RekeyArgs, StoreCommand, WorkspaceCommand};

/// keyhold: API keys and connection credentials under envelope encryption.
#[derive(Debug, Parser)]
#[command(name = "keyhold", version, max_term_width = 100)]
pub struct Args {
    /// Data directory holding the store.
    #[arg(
        long,
        global = true,
        env = "KEYHOLD_DATA_DIR",
        hide_env_values = true,
        default_value = "./keyhold-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,

    /// The store, if not in the data directory: sqlite:DIR or postgres://USER@HOST:PORT/DB
    /// (password from KEYHOLD_STORE_PASSWORD_FILE, PGPASSWORD or PGPASSFILE, never the URL).
    #[arg(
        long,
        global = true,
        env = "KEYHOLD_STORE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub store: Option<String>,

    /// Master key file (default: <DATA_DIR>/master.key). Ignored when KEYHOLD_MASTER_KEY is set.
    #[arg(
        long,
        global = true,
        env = "KEYHOLD_MASTER_KEY_FILE",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub master_key_file: Option<PathBuf>,

    /// Workspace (name or id) for workspace-scoped commands [default: default]. Through a
    /// server, commands act in the workspace of the key in KEYHOLD_TOKEN.
    #[arg(
        long,
        short = 'w',
        global = true,
        env = "KEYHOLD_WORKSPACE",
        hide_env_values = true
    )]
    pub workspace: Option<String>,

    /// Act through a keyhold server (e.g. https://keyhold.internal:8200) instead of opening
    /// the store: key, jwks, signing-key and audit commands, authenticated by the API key in
    /// KEYHOLD_TOKEN. No master key is needed.
    #[arg(
        long,
        global = true,
        env = "KEYHOLD_ADDR",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub server: Option<String>,

    /// CA certificates (PEM) to trust for an https server instead of the system's.
    #[arg(
        long,
        global = true,
        env = "KEYHOLD_CA_CERT",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub ca_cert: Option<PathBuf>,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a store: data dir (0700), database (0600), master key file unless
    /// KEYHOLD_MASTER_KEY is set, and the default workspace.
    Init,
    /// Show paths, schema version and key counts (never a secret).
    Status,
    /// Upgrade a store written by an earlier release, with your word on what its audit chain
    /// cannot vouch for (any command upgrades a store that needs no such word).
    Upgrade {
        /// A retiring signing key to keep (a key this store signed with before); repeatable.
        #[arg(long = "accept-signing-key", value_name = "KID")]
        accept: Vec<String>,
        /// A retiring signing key to drop (its tokens are refused from now on); repeatable.
        #[arg(long = "drop-signing-key", value_name = "KID")]
        drop: Vec<String>,
    },
    /// Manage workspaces.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Rotate the master key (re-wraps KEKs) or the key-encryption key (re-wraps data keys).
    Rekey(RekeyArgs),
    /// Move the store to another database (e.g. from SQLite to a shared PostgreSQL).
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// API keys: create (shown once), list, show, revoke, revoke-all, verify.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print the public JWKS (RFC 7517) that verifies this store's tokens.
    Jwks,
    /// Manage the token-signing key.
    SigningKey {
        #[command(subcommand)]
        command: SigningKeyCommand,
    },
    /// The audit log: list, export, verify the hash chain, write a signed checkpoint.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Connections: credentials for a database or an API in two slots, rotated without
    /// downtime.
    Connections {
        #[command(subcommand)]
        command: ConnectionsCommand,
    },
    /// The people of a workspace: add (an enrolment code shown once, or a password from
    /// stdin), list, show, set-role, disable, enable, remove, policy, enrol.
    Members {
        #[command(subcommand)]
        command: MembersCommand,
    },
    /// Sign in at the server (--server) as a person: email and password from the terminal (or
    /// stdin with --password-stdin), never argv. Commands through that server then act as you.
    Login {
        /// Your email (asked for if not given).
        #[arg(long)]
        email: Option<String>,
        /// Read the email (unless given) and the password from standard input, one per line.
        #[arg(long)]
        password_stdin: bool,
        /// Ask for a TOTP code too (read after the password), for a person with a second factor.
        #[arg(long)]
        totp: bool,
    },
    /// End your session at the server (--server) and forget it.
    Logout,
    /// Ask Azi, in plain language ("Create an API key for the mobile app with 30-day
    /// expiry"): the request becomes the same scoped action, audited with surface `assistant`.
    /// Revoking and rotating need --yes, or a yes at the prompt. Azi never shows a secret.
    Ask {
        /// What you want, in a sentence.
        sentence: String,
        /// Only say what Azi understood (one JSON object with --json); do nothing.
        #[arg(long)]
        dry_run: bool,
        /// Confirm a destructive request (revoke, revoke all, rotate) without a prompt.
        #[arg(long)]
        yes: bool,
    },
    /// Run a command with a connection's active credential in its environment only
    /// (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD for postgres; <NAME>_URL and
    /// <NAME>_TOKEN for http); exits with the command's status.
    Run {
        /// The connection whose credential the command gets.
        #[arg(long, value_name = "NAME")]
        connection: String,
        /// The command and its arguments.
        #[arg(required = true, last = true, value_name = "CMD")]
        command: Vec<std::ffi::OsString>,
    },
}

/// Which of a connection's two slots.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Slot {
    /// The first slot.
    Primary,
    /// The second slot.
    Secondary,
}

impl Slot {
    /// The wire's name for it.
    pub fn wire(self) -> keyhold::api::SlotName {
        match self {
            Slot::Primary => keyhold::api::SlotName::Primary,
            Slot::Secondary => keyhold::api::SlotName::Secondary,
        }
    }
}

/// A connection's target kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A PostgreSQL database: one login role per slot.
    Postgres,
    /// An HTTP API taking a bearer token or basic credentials.
    Http,
    /// A credential keyhold keeps but cannot test.
    Generic,
}

/// How an HTTP target takes its credential.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Scheme {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: Basic`, with a user per slot.
    Basic,
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Add a person to the workspace with a role. Prints a one-time enrolment code (valid 24
    /// hours) for them to set their password, unless --password-stdin sets it now.
    Add {
        /// Their email (their identity, and the `sub` of the keys they create).
        email: String,
        /// owner, admin, developer or viewer.
        #[arg(long)]
        role: String,
        /// How they are shown (default: the email's name).
        #[arg(long)]
        name: Option<String>,
        /// Set their password from standard input (first line) instead of an enrolment code.
        #[arg(long)]
        password_stdin: bool,
    },
    /// The workspace's members.
    List,
    /// One member.
    Show {
        /// Their email.
        email: String,
    },
    /// Give a member another role.
    SetRole {
        /// Their email.
        email: String,
        /// owner, admin, developer or viewer.
        role: String,
    },
    /// Disable a member: their sessions end at once; the keys they created stay.
    Disable {
        /// Their email.
        email: String,
    },
    /// Enable a disabled member again.
    Enable {
        /// Their email.
        email: String,
    },
    /// Remove a member: their sessions end at once.
    Remove {
        /// Their email.
        email: String,
        /// Revoke the keys they created in the workspace too.
        #[arg(long)]
        revoke_keys: bool,
    },
    /// Set the workspace's access policy.
    Policy {
        /// A scope developers may give the keys they create; repeatable (none: they may create
        /// no keys with scopes).
        #[arg(long = "developer-scope", value_name = "SCOPE")]
        developer_scopes: Vec<String>,
        /// Require a second factor (TOTP) at sign-in.
        #[arg(long)]
        require_totp: bool,
    },
    /// Redeem an enrolment code on this store: reads the code, then the new password, from
    /// standard input (two lines) or the terminal (not echoed).
    Enrol,
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Create a connection with two empty slots.
    Create(CreateArgs),
    /// Stage a credential (read from standard input, never argv) into a slot that is not
    /// active; it must pass a test before it can be saved.
    UpdateCredentials {
        /// The connection.
        name: String,
        /// The slot to stage it in.
        #[arg(long, value_enum)]
        slot: Slot,
        /// Read the credential from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Test a slot's staged credential against the real target; exit 0 only if it was
    /// accepted.
    Test {
        /// The connection.
        name: String,
        /// The slot to test.
        #[arg(long, value_enum)]
        slot: Slot,
    },
    /// Promote a slot whose credential passed a test since its last update; the credential
    /// that was active stays valid for the grace period.
    Save {
        /// The connection.
        name: String,
        /// The slot to promote.
        #[arg(long, value_enum)]
        slot: Slot,
        /// Promote a generic connection's credential, which cannot be tested (recorded).
        #[arg(long)]
        acknowledge_untested: bool,
    },
    /// Rotate: regenerate the slot that is not active, test it, promote it.
    Rotate {
        /// The connection.
        name: String,
        /// Cut the standby's grace period short (consumers holding it may fail).
        #[arg(long)]
        force: bool,
    },
    /// List the workspace's connections (never a secret).
    List,
    /// Show one connection: slots, states, versions, test times (never a secret).
    Show {
        /// The connection.
        name: String,
    },
    /// Delete a connection and every credential it kept.
    Delete {
        /// The connection.
        name: String,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, ClapArgs)]
pub struct CreateArgs {
    /// Name, unique in the workspace: lowercase letters, digits, '_' and '-'.
    pub name: String,
    /// What the credentials are for.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// Database host (postgres).
    #[arg(long)]
    pub host: Option<String>,
    /// Database port (postgres) [default: 5432].
    #[arg(long)]
    pub port: Option<u16>,
    /// Database name (postgres).
    #[arg(long)]
    pub database: Option<String>,
    /// URL a test requests (http).
    #[arg(long)]
    pub url: Option<String>,
    /// How the API takes its credential (http) [default: bearer].
    #[arg(long, value_enum)]
    pub scheme: Option<Scheme>,
    /// The primary slot's login.
    #[arg(long, value_name = "USER")]
    pub primary_user: Option<String>,
    /// The secondary slot's login.
    #[arg(long, value_name = "USER")]
    pub secondary_user: Option<String>,
    /// A login allowed to set the slots' passwords (postgres); its password is read from
    /// standard input with --admin-password-stdin.
    #[arg(long, value_name = "USER", requires = "admin_password_stdin")]
    pub admin_user: Option<String>,
    /// Read the admin login's password from standard input (first line).
    #[arg(long, requires = "admin_user")]
    pub admin_password_stdin: bool,
    /// How long the credential that was active stays valid after a new one is saved.
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    pub grace: humantime::Duration,
    /// Rotate regularly, this often (a running server does it).
    #[arg(long, value_name = "DURATION")]
    pub rotate_every: Option<humantime::Duration>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit records, oldest first.
    List {
        /// Only records at or after this time (RFC 3339, e.g. 2026-11-27T00:00:00Z).
        #[arg(long, value_name = "TIME")]
        since: Option<humantime::Timestamp>,
        /// Only this action (e.g. key.created, key.used, key.revoked).
        #[arg(long)]
        action: Option<String>,
        /// Only records about this key id.
        #[arg(long = "key", value_name = "ID")]
        key: Option<String>,
        /// Only this actor (sub).
        #[arg(long)]
        actor: Option<String>,
        /// At most this many (the newest).
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Export every record as JSON lines (for a SIEM).
    Export {
        /// JSON lines (the only format).
        #[arg(long, required = true)]
        jsonl: bool,
    },
    /// Recompute the hash chain; with --checkpoint, also prove no newest rows were removed.
    Verify {
        /// A checkpoint written earlier by `keyhold audit checkpoint`.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Write a signed checkpoint (seq, head hash) to a file outside the database.
    Checkpoint {
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Mint an API key. The token is printed once on stdout and never again.
    Create {
        /// Name, unique in the workspace: lowercase letters, digits, '.', '_' and '-'.
        #[arg(long)]
        name: String,
        /// Expiry preset: 15m, 1h, 8h, 24h (or 1d), 7d or 30d.
        #[arg(long, value_name = "PRESET")]
        expires: keyhold::ExpiryPreset,
        /// A scope to grant (repeatable), e.g. read:queries. Default: your own scopes.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<keyhold::Scope>,
        /// Subject (the identity the key acts for). Default: you.
        #[arg(long)]
        sub: Option<String>,
    },
    /// List the workspace's keys (never a token).
    List,
    /// Show one key.
    Show {
        /// Key id or name.
        key: String,
    },
    /// Revoke a key: it stops working on its next use, in every process.
    Revoke {
        /// Key id or name.
        key: String,
    },
    /// Revoke every key of the workspace at once.
    RevokeAll {
        /// Confirm: this disables every existing key of the workspace.
        #[arg(long)]
        yes: bool,
    },
    /// Verify a token read from standard input (never from the command line).
    Verify {
        /// Also require this scope.
        #[arg(long, value_name = "SCOPE")]
        scope: Option<keyhold::Scope>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SigningKeyCommand {
    /// Start signing with a new key; the old one verifies until its last token expires.
    Rotate,
}
