//! `keyhold ask`: Azi. The sentence goes to [`Operations::ask`] — the local store, or a
//! server's `POST /v1/assistant` — which reads it and carries it out as the same operation the
//! other commands perform, through the `assistant` surface, so it is checked and audited like
//! any other. A destructive request comes back with a confirmation: with `--yes` or a yes at
//! the prompt it is sent again with it, and only then acts. Refusals, questions and help are
//! a one-line answer and a non-zero exit, with nothing done. `--dry-run` only reads the
//! sentence, here, and prints what Azi understood.

use std::io::{BufRead, IsTerminal, Write};

use keyhold::api::{AskStatus, Done};
use keyhold::{Error, Operations, Token};

use crate::keys;
use crate::output::Output;

/// `keyhold ask "…"`.
pub fn run(
    operations: impl FnOnce() -> keyhold::Result<Box<dyn Operations>>,
    ws: Option<&str>,
    (sentence, dry_run, yes): (&str, bool, bool),
    out: &Output,
) -> keyhold::Result<()> {
    if dry_run {
        out.print(&keyhold::assistant::parse(sentence).to_json());
        return Ok(());
    }
    let ops = operations()?;
    let mut reply = ops.ask(ws, sentence, None)?;
    if let (AskStatus::Confirm, Some(c)) = (reply.status, &reply.confirmation) {
        confirm(&c.question, yes)?;
        reply = ops.ask(ws, sentence, Some(&c.token))?;
    }
    match (reply.status, reply.result) {
        (AskStatus::Done, Some(done)) => show(done, out),
        _ => Err(answer(&reply.intent)),
    }
}

/// What Azi said instead of acting (her reason, question or help), as a refusal of the
/// request.
fn answer(intent: &serde_json::Value) -> Error {
    let said = |field: &str| intent.get(field).and_then(|v| v.as_str());
    let reason = match (said("reason"), said("question"), said("help")) {
        (Some(reason), _, _) => format!("Azi will not do that: {reason}"),
        (None, Some(text), _) | (None, None, Some(text)) => text.to_owned(),
        (None, None, None) => "Azi did not act on that".to_owned(),
    };
    Error::InvalidInput {
        field: "request",
        reason,
    }
}

/// What was done, as the equivalent command shows it.
fn show(done: Done<Token>, out: &Output) -> keyhold::Result<()> {
    match done {
        Done::Minted(m) => keys::show_minted(&m.key, &m.token, out),
        Done::Keys(list) => keys::show_list(&list.keys, out),
        Done::Revoked(k) => out.emit(&k, || keys::revoked(&k)),
        Done::RevokedAll(r) => out.emit(&r, || keys::revoked_all(&r)),
        Done::Rotated(r) => out.emit(&r, || {
            let (name, active) = (&r.connection.name, r.connection.active);
            let active = active.map_or("no", |s| s.as_str());
            match r.passed {
                true => format!("Rotated {name}: the {active} slot is active."),
                false => format!(
                    "The new credential of {name} failed its test; the {active} slot keeps serving."
                ),
            }
        }),
    }
}

/// A destructive request goes ahead with `yes`, or a yes typed at the terminal.
fn confirm(question: &str, yes: bool) -> keyhold::Result<()> {
    if yes {
        // Said even when not asked: --yes confirms what Azi understood, and this is it.
        eprintln!("{} yes (--yes)", crate::exit::printable(question));
        return Ok(());
    }
    let refused = |reason: &str| Error::InvalidInput {
        field: "confirmation",
        reason: reason.to_owned(),
    };
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(refused(
            "this changes keys or credentials: confirm with --yes",
        ));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|_| refused("no answer"))?;
    match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(refused("not confirmed: nothing was done")),
    }
}
