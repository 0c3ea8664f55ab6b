//! Minting: authorise, apply the token rules (`keyhold_token::plan_mint`), persist, audit.

use keyhold_audit::PublicText;
use keyhold_token::{Claims, MintAsk, MintError, Minter};

use super::*;

/// A mint the token rules refused, with the code and message it always had: the request's
/// field and why for input errors, the token error's own code otherwise.
fn refused(e: MintError) -> Error {
    match e {
        MintError::Token(t) => Error::from(t),
        other => Error::InvalidInput {
            field: other.field().unwrap_or("request"),
            reason: other.to_string(),
        },
    }
}

impl Keyhold {
    /// Mints an API key. The caller needs `keys:write` in the workspace, and may grant only
    /// scopes it holds itself (no escalation). The token is returned once and never stored.
    pub fn mint_key(&self, caller: &Caller, req: &MintRequest) -> Result<MintedKey> {
        key_name(&req.name)?;
        let (scopes, sub) = (caller.scopes(), caller.sub());
        if let Some(m) = caller.membership() {
            // A person's role first; then they create keys in their own name only.
            caller.require(Scope::KeysWrite, &m.workspace)?;
            if req.sub.as_deref().is_some_and(|s| s != sub) {
                return Err(refused(MintError::ForeignSubject));
            }
        }
        let minter = Minter {
            scopes: &scopes,
            sub: &sub,
            key_expires_at: caller.principal().map(|p| p.exp),
        };
        let ask = MintAsk {
            scopes: req.scopes.as_ref(),
            sub: req.sub.as_deref(),
            expires: req.expires,
        };
        let plan = keyhold_token::plan_mint(&minter, &ask, now()).map_err(refused)?;
        let jti = keyhold_token::new_jti().map_err(Error::from)?;
        self.store.write(|tx| {
            let ws = self.resolve(tx, &req.workspace)?;
            caller.require(Scope::KeysWrite, &ws.id)?;
            if tx.api_key_by_name(&ws.id, &req.name)?.is_some() {
                // (Authenticated or not, the name is taken: refused either way.)
                return Err(Error::Conflict(format!(
                    "key \"{}\" in workspace \"{}\"",
                    req.name, ws.name
                )));
            }
            let created_key = self.ensure_signing_key(tx)?;
            self.active_signing_key(tx)?;
            let created_at_ms = now_ms();
            let iat = created_at_ms / 1000;
            let claims = plan
                .claims(&self.issuer, &ws.id, iat, &jti)
                .map_err(refused)?;
            let (token, row) =
                self.sign_and_insert(tx, caller, &req.name, &claims, created_at_ms)?;
            let pruned = self.prune_signing_keys(tx, iat)?;
            self.audit(
                tx,
                caller,
                key_created(&row, created_key.as_deref(), &pruned)?,
            )?;
            let ws_row = self.workspace_row(tx, &ws.id)?;
            Ok(MintedKey {
                token,
                key: api_key(row, &ws_row, iat),
            })
        })
    }

    /// Signs `claims` with the active key and stores the key's row under the next mint
    /// sequence number, authenticated.
    fn sign_and_insert(
        &self,
        tx: &Tx<'_>,
        caller: &Caller,
        name: &str,
        claims: &Claims,
        created_at_ms: i64,
    ) -> Result<(Token, ApiKeyRow)> {
        let signing = read(&self.signing);
        let key = signing
            .active
            .as_ref()
            .ok_or(Error::Internal("signing key not loaded"))?;
        let token = Token(Zeroizing::new(
            keyhold_token::mint(key, claims).map_err(Error::from)?,
        ));
        let mut row = ApiKeyRow {
            jti: claims.jti().to_owned(),
            workspace: claims.workspace().to_owned(),
            name: name.to_owned(),
            sub: claims.sub().to_owned(),
            // Space-separated, sorted: what the listing splits again.
            scopes: claims.scopes().to_string(),
            kid: key.kid().to_owned(),
            fingerprint: keyhold_token::fingerprint(token.expose()),
            created_at_ms,
            created_by: caller.name(),
            expires_at: claims.exp(),
            revoked_at_ms: None,
            revoked_by: None,
            last_used_at: None,
            mint_seq: self
                .rows
                .mint_counter(tx)?
                .checked_add(1)
                .ok_or(Error::Internal("mint sequence exhausted"))?,
            mac: Vec::new(),
        };
        drop(signing);
        self.rows.set_mint_counter(tx, row.mint_seq)?;
        self.rows.mac_api_key(&mut row)?;
        tx.insert_api_key(&row).map_err(|e| match e {
            // The name was free (checked above) and ids are random: the mint number is
            // taken, so the counter is behind the keys — it was put back.
            StoreError::Constraint(_) => Error::Integrity {
                what: "meta mint_counter".into(),
                detail: format!(
                    "mint number {} is already taken: the counter was put back",
                    row.mint_seq
                ),
            },
            other => Error::Store(other),
        })?;
        Ok((token, row))
    }
}

/// The `key.created` event of `row`, with the signing keys the mint created or deleted.
fn key_created(
    row: &ApiKeyRow,
    created_key: Option<&str>,
    pruned: &[String],
) -> Result<crate::audit::EventDraft> {
    let text = |s: &str, what| PublicText::new(s).map_err(|_| Error::Internal(what));
    let key = keyhold_audit::events::MintedKey {
        workspace: &row.workspace,
        key_id: &row.jti,
        name: text(&row.name, "unrecordable key name")?,
        scopes: text(&row.scopes, "unrecordable scopes")?,
        expires_at: row.expires_at,
        mint_seq: row.mint_seq,
    };
    Ok(keyhold_audit::events::key_created(
        key,
        created_key,
        pruned,
    )?)
}
