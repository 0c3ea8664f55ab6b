//! `keyhold ask`: Azi. A sentence becomes one intent (keyhold's assistant parser, through the
//! facade); the intent becomes the same operation the other commands perform, as the operator
//! arriving through the `assistant` surface — so it is checked and audited like any other.
//! Destructive intents need `--yes` or a yes at the prompt; refusals, questions and help are a
//! one-line answer and a non-zero exit, with nothing done.

use std::io::{BufRead, IsTerminal, Write};

use keyhold::assistant::{Intent, key_name};
use keyhold::{Error, MintRequest, Operations, ScopeSet};

use crate::keys;
use crate::output::Output;

/// `keyhold ask "…"`.
pub fn run(
    operations: impl FnOnce(&'static str) -> keyhold::Result<Box<dyn Operations>>,
    ws: Option<&str>,
    (sentence, dry_run, yes): (&str, bool, bool),
    out: &Output,
) -> keyhold::Result<()> {
    let intent = keyhold::assistant::parse(sentence);
    let kind = intent.kind();
    let ops = || operations(kind);
    if dry_run {
        out.print(&intent.to_json());
        return Ok(());
    }
    let answer = |reason: String| Error::InvalidInput {
        field: "request",
        reason,
    };
    let name = |written: &str| {
        let n = key_name(written);
        if n.is_empty() {
            Err(answer(format!(
                "\"{written}\" cannot be a name: use letters and digits"
            )))
        } else {
            Ok(n)
        }
    };
    match intent {
        Intent::Refuse { reason } => Err(answer(format!("Azi will not do that: {reason}"))),
        Intent::Clarify { question } => Err(answer(question)),
        Intent::Unknown { help } => Err(answer(help)),
        Intent::ListKeys => keys::list(ops()?.as_ref(), ws, out),
        Intent::CreateKey {
            name: written,
            expires,
            scopes,
        } => {
            let req = mint_request(ws, &name(&written)?, expires, &scopes)?;
            keys::create(ops()?.as_ref(), &req, out)
        }
        Intent::RevokeKey { key } => {
            let key = name(&key)?;
            confirm(
                &format!("Revoke key {key}? It stops working on its next use."),
                yes,
            )?;
            let k = ops()?.revoke_key(ws, &key)?;
            out.emit(&k, || format!("Revoked key {} ({}).", k.name, k.id))
        }
        Intent::RevokeAll => {
            confirm(
                "Revoke every key of the workspace? All stop working at once.",
                yes,
            )?;
            keys::revoke_all(ops()?.as_ref(), ws, true, out)
        }
        Intent::RotateConnection { connection } => {
            let connection = name(&connection)?;
            confirm(&format!("Rotate connection {connection}?"), yes)?;
            let r = ops()?.rotate_connection(ws, &connection, &Default::default())?;
            out.emit(&r, || {
                let active = r.connection.active.map_or("no", |s| s.as_str());
                match r.passed {
                    true => format!("Rotated {connection}: the {active} slot is active."),
                    false => format!("The new credential of {connection} failed its test; the {active} slot keeps serving."),
                }
            })
        }
    }
}

/// The key a create intent asks for, in workspace `ws`.
fn mint_request(
    ws: Option<&str>,
    name: &str,
    expires: keyhold::assistant::Preset,
    scopes: &[keyhold::assistant::Scope],
) -> keyhold::Result<MintRequest> {
    let scopes = scopes
        .iter()
        .map(|s| keyhold::scope_from_wire(s.as_str()))
        .collect::<keyhold::Result<ScopeSet>>()?;
    Ok(MintRequest {
        workspace: ws.unwrap_or_default().to_owned(),
        name: name.to_owned(),
        expires: expires.as_str().parse().map_err(|_| Error::InvalidInput {
            field: "expires",
            reason: "not an expiry preset".into(),
        })?,
        scopes: (!scopes.is_empty()).then_some(scopes),
        sub: None,
    })
}

/// A destructive request goes ahead with `yes`, or a yes typed at the terminal.
fn confirm(question: &str, yes: bool) -> keyhold::Result<()> {
    if yes {
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
