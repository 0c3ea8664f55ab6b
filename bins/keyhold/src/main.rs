//! `keyhold`: the command-line interface. Parses arguments, calls the facade, prints the
//! result; errors are one line on stderr and a documented exit status (docs/cli.md).
#![forbid(unsafe_code)]
// A command-line program's job is to print.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod exit;
mod parse_error;
mod secret_input;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use keyhold::{
    Caller, KeySource, Keyhold, Local, MintRequest, Operations, Remote, ScopeSet, Status,
};
use serde::Serialize;

use crate::args::{
    Args, AuditCommand, Command, KeysCommand, RekeyArgs, SigningKeyCommand, WorkspaceCommand,
};

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => return exit::usage(e),
    };
    let json = args.json;
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::error(&e, json),
    }
}

fn key_source(args: &Args) -> KeySource {
    let file = args
        .master_key_file
        .clone()
        .unwrap_or_else(|| keyhold::DataDir::default_key_file(&args.data_dir));
    KeySource::from_env_or_file(file)
}

/// Where key, token and audit commands go: a server if one is named, else the local store.
fn operations(args: &Args) -> keyhold::Result<Box<dyn Operations>> {
    match &args.server {
        Some(url) => {
            let key = secret_input::server_key()?;
            let ca = args
                .ca_cert
                .as_ref()
                .map(|f| {
                    std::fs::read(f).map_err(|e| keyhold::Error::Io {
                        path: f.clone(),
                        kind: e.kind(),
                    })
                })
                .transpose()?;
            Ok(Box::new(Remote::new(url, &key, ca.as_deref())?))
        }
        None => Ok(Box::new(Local::new(
            Keyhold::open(&args.data_dir, key_source(args))?,
            Caller::operator().via(keyhold::Surface::Cli),
        ))),
    }
}

/// Opens the local store for a command that needs it (and the master key) itself.
fn local_store(args: &Args, command: &str) -> keyhold::Result<Keyhold> {
    refuse_remote(args, command)?;
    Keyhold::open(&args.data_dir, key_source(args))
}

/// Refuses a store-only command given a server.
fn refuse_remote(args: &Args, command: &str) -> keyhold::Result<()> {
    if args.server.is_some() {
        return Err(keyhold::Error::InvalidInput {
            field: "server",
            reason: format!(
                "`keyhold {command}` works on the store itself and needs its master key; run it without --server/KEYHOLD_ADDR where the store is"
            ),
        });
    }
    Ok(())
}

fn run(args: Args) -> keyhold::Result<()> {
    let out = Output { json: args.json };
    match &args.command {
        Command::Init => {
            local_store_free(&args)?;
            let (_kh, report) = Keyhold::init_by(
                &args.data_dir,
                key_source(&args),
                &Caller::operator().via(keyhold::Surface::Cli),
            )?;
            out.emit(&report, || {
                let key_note = if report.generated_master_key {
                    " (new: back it up, and in production keep it off the disk that holds the data)"
                } else {
                    ""
                };
                format!(
                    "Initialised a keyhold store in {}\n  database:   {}\n  master key: {}{}\n  workspace:  {} ({})",
                    report.data_dir.display(),
                    report.database.display(),
                    report.master_key,
                    key_note,
                    report.workspace.name,
                    report.workspace.id
                )
            })
        }
        Command::Status => {
            let kh = local_store(&args, "status")?;
            let status = kh.status()?;
            out.emit(&status, || human_status(&status))
        }
        Command::Upgrade { accept, drop } => {
            // Store-only, like `status` (refused through a server).
            refuse_remote(&args, "upgrade")?;
            let kh = Keyhold::open_upgrading(
                &args.data_dir,
                key_source(&args),
                &keyhold::Upgrade {
                    accept_signing_keys: accept.clone(),
                    drop_signing_keys: drop.clone(),
                },
            )?;
            let status = kh.status()?;
            out.emit(&status, || human_status(&status))
        }
        Command::Workspace { command } => {
            let kh = local_store(&args, "workspace")?;
            match command {
                WorkspaceCommand::Create { name } => {
                    let ws =
                        kh.create_workspace(&Caller::operator().via(keyhold::Surface::Cli), name)?;
                    out.emit(&ws, || format!("Created workspace {} ({})", ws.name, ws.id))
                }
                WorkspaceCommand::List => {
                    let list = kh.workspaces()?;
                    out.emit(&list, || {
                        let mut s = format!("{:<24} {:<24} CREATED", "NAME", "ID");
                        for ws in &list {
                            s.push_str(&format!(
                                "\n{:<24} {:<24} {}",
                                ws.name,
                                ws.id,
                                time(ws.created_at)
                            ));
                        }
                        s
                    })
                }
            }
        }
        Command::Keys { command } => keys(operations(&args)?.as_ref(), &args, command, &out),
        Command::Audit { command } => audit(&args, command, &out),
        Command::Jwks => {
            let jwks = operations(&args)?.jwks()?;
            // The JWKS is JSON whatever the output mode: it is meant for other programs.
            out.print(
                &serde_json::to_string_pretty(&jwks)
                    .map_err(|_| keyhold::Error::Internal("JSON encoding failed"))?,
            );
            Ok(())
        }
        Command::SigningKey {
            command: SigningKeyCommand::Rotate,
        } => {
            let r = operations(&args)?.rotate_signing_key()?;
            out.emit(&r, || {
                let mut s = format!("New tokens are signed by {}.", r.kid);
                for (kid, until) in &r.retiring {
                    s.push_str(&format!(
                        "\n{} verifies until {}",
                        kid,
                        until.map_or_else(|| "its next pruning (no live tokens)".to_owned(), time)
                    ));
                }
                for kid in &r.retired {
                    s.push_str(&format!(
                        "\n{kid} retired (every token it signed has expired)"
                    ));
                }
                s
            })
        }
        Command::Rekey(RekeyArgs {
            master,
            kek,
            new_key_file,
            batch,
        }) => {
            let kh = local_store(&args, "rekey")?;
            if *master {
                let new_key = secret_input::new_master_key(new_key_file.as_deref())?;
                let r =
                    kh.rotate_master_key(&Caller::operator().via(keyhold::Surface::Cli), &new_key)?;
                out.emit(&r, || match &r.key_file {
                    Some(f) => format!("Master key rotated: {} key-encryption key(s) re-wrapped; {} now holds the new key", r.keks_rewrapped, f.display()),
                    None => format!(
                        "Master key rotated: {} key-encryption key(s) re-wrapped; set KEYHOLD_MASTER_KEY to the new key before the next command",
                        r.keks_rewrapped
                    ),
                })
            } else {
                debug_assert!(*kek, "clap requires one of --master / --kek");
                let r = kh.rotate_kek_with(
                    &Caller::operator().via(keyhold::Surface::Cli),
                    *batch,
                    |_| std::ops::ControlFlow::Continue(()),
                )?;
                out.emit(&r, || {
                    format!(
                        "Key-encryption key rotated{}: active KEK {}, {} record(s) re-wrapped in {} batch(es), retired KEK(s): {}",
                        if r.resumed { " (resumed an unfinished rotation)" } else { "" },
                        r.active_kek,
                        r.rewrapped,
                        r.batches,
                        if r.retired.is_empty() { "none".to_owned() } else { r.retired.iter().map(u32::to_string).collect::<Vec<_>>().join(", ") }
                    )
                })
            }
        }
    }
}

/// `init` makes a store here; naming a server as well is a mistake worth stopping.
fn local_store_free(args: &Args) -> keyhold::Result<()> {
    if args.server.is_some() {
        return Err(keyhold::Error::InvalidInput {
            field: "server",
            reason: "`keyhold init` creates a store in the data directory; run it without --server/KEYHOLD_ADDR".into(),
        });
    }
    Ok(())
}

fn keys(
    ops: &dyn Operations,
    args: &Args,
    command: &KeysCommand,
    out: &Output,
) -> keyhold::Result<()> {
    let ws = args.workspace.as_deref();
    match command {
        KeysCommand::Create {
            name,
            expires,
            scopes,
            sub,
        } => {
            let scopes = if scopes.is_empty() {
                None
            } else {
                Some(scopes.iter().copied().collect::<ScopeSet>())
            };
            let req = MintRequest {
                workspace: ws.unwrap_or_default().to_owned(),
                name: name.clone(),
                expires: *expires,
                scopes,
                sub: sub.clone(),
            };
            let minted = ops.mint_key(&req)?;
            // EXPOSE: the one moment the token is shown; stdout only, so it can be piped.
            if out.json {
                let body = serde_json::json!({ "token": minted.token.expose(), "key": minted.key });
                out.print(
                    &serde_json::to_string_pretty(&body)
                        .map_err(|_| keyhold::Error::Internal("JSON encoding failed"))?,
                );
            } else {
                out.print(minted.token.expose());
            }
            let note = format!(
                "keyhold: created key {} ({}) expiring {} with scopes {}. The token above is shown once and cannot be shown again.",
                minted.key.name,
                minted.key.id,
                time(minted.key.expires_at),
                minted.key.scopes.join(" ")
            );
            eprintln!("{}", exit::printable(&note));
            Ok(())
        }
        KeysCommand::List => {
            let list = ops.keys(ws)?;
            out.emit(&list, || {
                let mut s = format!(
                    "{:<20} {:<38} {:<8} {:<21} SCOPES",
                    "NAME", "ID", "STATUS", "EXPIRES"
                );
                for k in &list {
                    s.push_str(&format!(
                        "\n{:<20} {:<38} {:<8} {:<21} {}",
                        k.name,
                        k.id,
                        status_word(k.status),
                        time(k.expires_at),
                        k.scopes.join(" ")
                    ));
                }
                s
            })
        }
        KeysCommand::Show { key } => {
            let k = ops.key(ws, key)?;
            out.emit(&k, || human_key(&k))
        }
        KeysCommand::Revoke { key } => {
            let k = ops.revoke_key(ws, key)?;
            out.emit(&k, || {
                format!(
                    "Revoked key {} ({}); it is refused from its next use on.",
                    k.name, k.id
                )
            })
        }
        KeysCommand::RevokeAll { yes } => {
            if !yes {
                return Err(keyhold::Error::InvalidInput {
                    field: "revoke-all",
                    reason: "this disables every key of the workspace; add --yes to confirm".into(),
                });
            }
            let r = ops.revoke_all_keys(ws)?;
            out.emit(&r, || {
                format!(
                    "Revoked all keys of workspace {} ({} were active).",
                    r.workspace, r.keys_revoked
                )
            })
        }
        KeysCommand::Verify { scope } => {
            let token = secret_input::token()?;
            let p = ops.verify_token(token.as_str(), *scope)?;
            out.emit(&p, || {
                let scopes: Vec<&str> = p.scopes.iter().map(keyhold::Scope::as_str).collect();
                format!(
                    "valid\n  sub:       {}\n  workspace: {}\n  key id:    {}\n  scopes:    {}\n  issued:    {}\n  expires:   {}",
                    p.sub,
                    p.workspace,
                    p.key_id,
                    scopes.join(" "),
                    time(p.iat),
                    time(p.exp)
                )
            })
        }
    }
}

fn audit(args: &Args, command: &AuditCommand, out: &Output) -> keyhold::Result<()> {
    match command {
        AuditCommand::List {
            since,
            action,
            key,
            actor,
            limit,
        } => {
            let since_ms = since.map(|t| {
                let st: std::time::SystemTime = t.into();
                st.duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            });
            let filter = keyhold::AuditFilter {
                since_ms,
                action: action.clone(),
                key_id: key.clone(),
                actor: actor.clone(),
                workspace: None,
                limit: Some(*limit),
            };
            let entries = operations(args)?.audit_entries(&filter)?;
            out.emit(&entries, || {
                let mut s = format!(
                    "{:>6} {:<20} {:<20} {:<14} {:<9} {:<38} {:<38} OUTCOME",
                    "SEQ", "TIME", "ACTION", "ACTOR", "SURFACE", "KEY", "TARGET"
                );
                for e in &entries {
                    s.push_str(&format!(
                        "\n{:>6} {:<20} {:<20} {:<14} {:<9} {:<38} {:<38} {}",
                        e.seq,
                        time(e.time_ms / 1000),
                        e.action,
                        e.actor,
                        e.surface,
                        e.key_id.as_deref().unwrap_or("-"),
                        e.target.as_deref().unwrap_or("-"),
                        e.outcome
                    ));
                }
                s
            })
        }
        AuditCommand::Export { .. } => {
            // The whole log, streamed from the store: not something to page through a server.
            let kh = local_store(args, "audit export")?;
            let caller = Caller::operator().via(keyhold::Surface::Cli);
            let entries = kh.audit_entries(&caller, &keyhold::AuditFilter::default())?;
            let mut stdout = std::io::stdout().lock();
            for e in &entries {
                let line = serde_json::to_string(e)
                    .map_err(|_| keyhold::Error::Internal("JSON encoding failed"))?;
                if writeln!(stdout, "{}", exit::printable(&line)).is_err() {
                    break;
                }
            }
            Ok(())
        }
        AuditCommand::Verify { checkpoint } => {
            let v = operations(args)?.verify_audit(checkpoint.as_deref())?;
            out.emit(&v, || match v.checkpoint_seq {
                Some(cp) => format!(
                    "ok, {} rows, head {} (seq {}); checkpoint at seq {cp} matches",
                    v.rows, v.head, v.head_seq
                ),
                None => format!("ok, {} rows, head {} (seq {})", v.rows, v.head, v.head_seq),
            })
        }
        AuditCommand::Checkpoint { out: file } => {
            let kh = local_store(args, "audit checkpoint")?;
            let v = kh.audit_checkpoint(&Caller::operator().via(keyhold::Surface::Cli), file)?;
            out.emit(&v, || {
                format!(
                    "Checkpoint of seq {} written to {}; keep it outside this machine's data disk.",
                    v.checkpoint_seq.unwrap_or(0),
                    file.display()
                )
            })
        }
    }
}

fn status_word(s: keyhold::KeyState) -> &'static str {
    match s {
        keyhold::KeyState::Active => "active",
        keyhold::KeyState::Revoked => "revoked",
        keyhold::KeyState::Expired => "expired",
    }
}

fn human_key(k: &keyhold::ApiKey) -> String {
    let mut s = format!(
        "name:        {}\nid:          {}\nworkspace:   {}\nsub:         {}\nscopes:      {}\nstatus:      {}\nfingerprint: {}\ncreated:     {} by {}\nexpires:     {}\nlast used:   {}",
        k.name,
        k.id,
        k.workspace,
        k.sub,
        k.scopes.join(" "),
        status_word(k.status),
        k.fingerprint,
        time(k.created_at),
        k.created_by,
        time(k.expires_at),
        k.last_used_at.map_or_else(|| "never".to_owned(), time)
    );
    if let (Some(at), Some(by)) = (k.revoked_at, &k.revoked_by) {
        s.push_str(&format!("\nrevoked:     {} by {}", time(at), by));
    }
    s
}

fn time(unix: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(unix).unwrap_or(0));
    humantime::format_rfc3339_seconds(t).to_string()
}

fn human_status(s: &Status) -> String {
    let mut out = format!(
        "data dir:        {}\ndatabase:        {}\nmaster key:      {}\nschema version:  {}\nKEKs:            {} (active: {})\nworkspaces:      {}\nrecords:         {}\ncreated:         {}",
        s.data_dir.display(),
        s.database.display(),
        s.master_key,
        s.schema_version,
        s.kek_count,
        s.active_kek,
        s.workspaces,
        s.records,
        time(s.created_at)
    );
    if s.records_pending_rewrap > 0 {
        out.push_str(&format!(
            "\nKEK rotation:    unfinished, {} record(s) to re-wrap (run: keyhold rekey --kek)",
            s.records_pending_rewrap
        ));
    }
    out
}

struct Output {
    json: bool,
}

impl Output {
    fn emit<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) -> keyhold::Result<()> {
        let text = if self.json {
            serde_json::to_string_pretty(value)
                .map_err(|_| keyhold::Error::Internal("could not encode the output as JSON"))?
        } else {
            human()
        };
        self.print(&text);
        Ok(())
    }

    fn print(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (e.g. `| head`) is not worth a panic; the operation already happened.
        let _ = writeln!(stdout, "{}", exit::printable(text));
    }
}
