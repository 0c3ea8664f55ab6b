//! Commands on the store itself, which need its master key and so never go through a server:
//! `init`, `status`, `upgrade`, `workspace`, `rekey`.

use keyhold::{Caller, Keyhold};

use crate::args::{Args, RekeyArgs, StoreCommand, WorkspaceCommand};
use crate::output::{Output, human_status, time};
use crate::{key_source, local_store, refuse_remote, secret_input, store_at};

fn operator() -> Caller {
    Caller::operator().via(keyhold::Surface::Cli)
}

/// `keyhold init`.
pub fn init(args: &Args, out: &Output) -> keyhold::Result<()> {
    local_store_free(args)?;
    let (_kh, report) = Keyhold::init_at(&store_at(args)?, key_source(args), &operator())?;
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

/// `keyhold status`.
pub fn status(args: &Args, out: &Output) -> keyhold::Result<()> {
    let kh = local_store(args, "status")?;
    let status = kh.status()?;
    out.emit(&status, || human_status(&status))
}

/// `keyhold upgrade`.
pub fn upgrade(
    args: &Args,
    accept: &[String],
    drop: &[String],
    out: &Output,
) -> keyhold::Result<()> {
    // Store-only, like `status` (refused through a server).
    refuse_remote(args, "upgrade")?;
    let kh = Keyhold::open_at(
        &store_at(args)?,
        key_source(args),
        &keyhold::Upgrade {
            accept_signing_keys: accept.to_vec(),
            drop_signing_keys: drop.to_vec(),
        },
    )?;
    let status = kh.status()?;
    out.emit(&status, || human_status(&status))
}

/// `keyhold workspace create|list`.
pub fn workspace(args: &Args, command: &WorkspaceCommand, out: &Output) -> keyhold::Result<()> {
    let kh = local_store(args, "workspace")?;
    match command {
        WorkspaceCommand::Create { name } => {
            let ws = kh.create_workspace(&operator(), name)?;
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

/// `keyhold rekey --master|--kek`.
pub fn rekey(args: &Args, rekey: &RekeyArgs, out: &Output) -> keyhold::Result<()> {
    let kh = local_store(args, "rekey")?;
    if rekey.master {
        rekey_master(&kh, rekey, out)
    } else {
        debug_assert!(rekey.kek, "clap requires one of --master / --kek");
        rekey_kek(&kh, rekey, out)
    }
}

fn rekey_master(kh: &Keyhold, rekey: &RekeyArgs, out: &Output) -> keyhold::Result<()> {
    let new_key = secret_input::new_master_key(rekey.new_key_file.as_deref())?;
    let r = kh.rotate_master_key(&operator(), &new_key)?;
    out.emit(&r, || match &r.key_file {
        Some(f) => format!("Master key rotated: {} key-encryption key(s) re-wrapped; {} now holds the new key", r.keks_rewrapped, f.display()),
        None => format!(
            "Master key rotated: {} key-encryption key(s) re-wrapped; set KEYHOLD_MASTER_KEY to the new key before the next command",
            r.keks_rewrapped
        ),
    })
}

fn rekey_kek(kh: &Keyhold, rekey: &RekeyArgs, out: &Output) -> keyhold::Result<()> {
    let r = kh.rotate_kek_with(&operator(), rekey.batch, |_| {
        std::ops::ControlFlow::Continue(())
    })?;
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

/// `keyhold store migrate --from STORE --to STORE`.
pub fn migrate(args: &Args, command: &StoreCommand, out: &Output) -> keyhold::Result<()> {
    refuse_remote(args, "store migrate")?;
    let StoreCommand::Migrate { from, to } = command;
    let (from, to) = (keyhold::StoreAt::parse(from)?, keyhold::StoreAt::parse(to)?);
    let m = Keyhold::migrate(&from, &to, key_source(args), &operator())?;
    out.emit(&m, || {
        let rows: u64 = m.tables.iter().map(|(_, n)| n).sum();
        format!(
            "Moved the store from {} to {}: {rows} rows; its audit chain verifies ({} rows, head {}).\nPoint every server and command at the new store (--store / KEYHOLD_STORE); the old one is left as it was.",
            m.from, m.to, m.audit.rows, m.audit.head
        )
    })
}
