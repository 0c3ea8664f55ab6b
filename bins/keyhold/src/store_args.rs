//! The arguments of the commands on the store itself: `workspace`, `rekey`, `store`.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Subcommand};

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy every row of a store into an empty one (keys, records, connections, members and
    /// the audit chain, still verifying), then record the move in the new store's chain.
    /// Stop the servers on the old store first; the old store is left as it was.
    Migrate {
        /// The store to move: sqlite:DIR or postgres://USER@HOST:PORT/DB.
        #[arg(long, value_name = "STORE")]
        from: String,
        /// Where to: an empty database or data directory, same forms. Refused if it holds a
        /// store.
        #[arg(long, value_name = "STORE")]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace.
    Create {
        /// Name: lowercase letters, digits and '-', at most 63 characters.
        name: String,
    },
    /// List workspaces.
    List,
}

#[derive(Debug, ClapArgs)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["master", "kek"])))]
pub struct RekeyArgs {
    /// Replace the master key. The new key (32 bytes, base64url) is read from --new-key-file,
    /// or from standard input; never from the command line.
    #[arg(long)]
    pub master: bool,
    /// Rotate the key-encryption key and re-wrap every data key (resumes an unfinished run).
    #[arg(long)]
    pub kek: bool,
    /// File holding the new master key (must be 0600 and yours).
    #[arg(long, requires = "master", value_name = "FILE")]
    pub new_key_file: Option<PathBuf>,
    /// Records re-wrapped per transaction during KEK rotation.
    #[arg(long, default_value_t = keyhold::KEK_ROTATION_BATCH, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub batch: usize,
}
