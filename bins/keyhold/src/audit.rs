//! `keyhold audit …`: list and verify through [`keyhold::Operations`]; export and checkpoint
//! on the store itself.

use std::io::Write;

use keyhold::Caller;
use keyhold::api::AuditQuery;

use crate::args::{Args, AuditCommand};
use crate::output::{Output, time};
use crate::{exit, local_store, operations};

/// `keyhold audit …`.
pub fn run(args: &Args, command: &AuditCommand, out: &Output) -> keyhold::Result<()> {
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
            let query = AuditQuery {
                since_ms,
                action: action.clone(),
                key: key.clone(),
                actor: actor.clone(),
                workspace: None,
                limit: Some(*limit),
            };
            list(args, &query, out)
        }
        AuditCommand::Export { .. } => export(args),
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

fn list(args: &Args, query: &AuditQuery, out: &Output) -> keyhold::Result<()> {
    let entries = operations(args)?.audit_entries(query)?;
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

/// The whole log, streamed from the store: not something to page through a server.
fn export(args: &Args) -> keyhold::Result<()> {
    let kh = local_store(args, "audit export")?;
    let caller = Caller::operator().via(keyhold::Surface::Cli);
    let entries = kh.audit_entries(&caller, &AuditQuery::default())?;
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
