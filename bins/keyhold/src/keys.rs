//! Key, token and signing-key commands: `keys …`, `jwks`, `signing-key rotate`. They go
//! through [`Operations`], so they read the same on a local store and through a server.

use keyhold::{ApiKey, MintRequest, Operations, RevokeAll, ScopeSet, Token};

use crate::args::{Args, KeysCommand};
use crate::output::{Output, human_key, pretty_json, status_word, time};
use crate::{exit, secret_input};

/// `keyhold keys …`.
pub fn run(
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
            create(ops, &req, out)
        }
        KeysCommand::List => list(ops, ws, out),
        KeysCommand::Show { key } => {
            let k = ops.key(ws, key)?;
            out.emit(&k, || human_key(&k))
        }
        KeysCommand::Revoke { key } => {
            let k = ops.revoke_key(ws, key)?;
            out.emit(&k, || revoked(&k))
        }
        KeysCommand::RevokeAll { yes } => revoke_all(ops, ws, *yes, out),
        KeysCommand::Verify { scope } => verify(ops, *scope, out),
    }
}

pub fn create(ops: &dyn Operations, req: &MintRequest, out: &Output) -> keyhold::Result<()> {
    let minted = ops.mint_key(req)?;
    show_minted(&minted.key, &minted.token, out)
}

/// A key just created, with its token: the one time it is shown.
pub fn show_minted(key: &ApiKey, token: &Token, out: &Output) -> keyhold::Result<()> {
    // EXPOSE: the one moment the token is shown; stdout only, so it can be piped.
    if out.json {
        let body = serde_json::json!({ "token": token.expose(), "key": key });
        out.print(&pretty_json(&body)?);
    } else {
        out.print(token.expose());
    }
    let note = format!(
        "keyhold: created key {} ({}) expiring {} with scopes {}. The token above is shown once and cannot be shown again.",
        key.name,
        key.id,
        time(key.expires_at),
        key.scopes.join(" ")
    );
    eprintln!("{}", exit::printable(&note));
    Ok(())
}

pub fn list(ops: &dyn Operations, ws: Option<&str>, out: &Output) -> keyhold::Result<()> {
    show_list(&ops.keys(ws)?, out)
}

/// The workspace's keys, one line each.
pub fn show_list(list: &[ApiKey], out: &Output) -> keyhold::Result<()> {
    out.emit(&list, || {
        let mut s = format!(
            "{:<20} {:<38} {:<8} {:<21} SCOPES",
            "NAME", "ID", "STATUS", "EXPIRES"
        );
        for k in list {
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

/// What `keys revoke` says it did.
pub fn revoked(k: &ApiKey) -> String {
    format!(
        "Revoked key {} ({}); it is refused from its next use on.",
        k.name, k.id
    )
}

/// What `keys revoke-all` says it did.
pub fn revoked_all(r: &RevokeAll) -> String {
    format!(
        "Revoked all keys of workspace {} ({} were active).",
        r.workspace, r.keys_revoked
    )
}

pub fn revoke_all(
    ops: &dyn Operations,
    ws: Option<&str>,
    yes: bool,
    out: &Output,
) -> keyhold::Result<()> {
    if !yes {
        return Err(keyhold::Error::InvalidInput {
            field: "revoke-all",
            reason: "this disables every key of the workspace; add --yes to confirm".into(),
        });
    }
    let r = ops.revoke_all_keys(ws)?;
    out.emit(&r, || revoked_all(&r))
}

fn verify(
    ops: &dyn Operations,
    scope: Option<keyhold::Scope>,
    out: &Output,
) -> keyhold::Result<()> {
    let token = secret_input::token()?;
    let p = ops.verify_token(token.as_str(), scope)?;
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

/// `keyhold jwks`.
pub fn jwks(ops: &dyn Operations, out: &Output) -> keyhold::Result<()> {
    let jwks = ops.jwks()?;
    // The JWKS is JSON whatever the output mode: it is meant for other programs.
    out.print(&pretty_json(&jwks)?);
    Ok(())
}

/// `keyhold signing-key rotate`.
pub fn rotate_signing_key(ops: &dyn Operations, out: &Output) -> keyhold::Result<()> {
    let r = ops.rotate_signing_key()?;
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
