//! API-key and signing-key statements. The token itself is never stored: only its id (`jti`),
//! a short fingerprint and its metadata.

use crate::sql::{Mismatch, Row, values};
use crate::sqlite::Sqlite;
use crate::{Standing, StoreError, Tx};

/// Lifecycle of a token-signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningKeyState {
    /// Signs new tokens. Exactly one signing key is active.
    Active,
    /// Verifies tokens it signed until the last of them expires, then is deleted.
    Retiring,
}

impl SigningKeyState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Retiring => "retiring",
        }
    }
}

/// A signing key's public half and state (the private half is an encrypted record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    /// RFC 7638 thumbprint, the JWT `kid`.
    pub kid: String,
    /// Raw Ed25519 public key.
    pub public_key: Vec<u8>,
    /// Active or retiring.
    pub state: SigningKeyState,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds it stopped signing, if it has.
    pub retired_at: Option<i64>,
    /// The row's MAC (empty if the row has none).
    pub mac: Vec<u8>,
}

/// An API key's stored metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKeyRow {
    /// Token id (`jti` claim).
    pub jti: String,
    /// Workspace id.
    pub workspace: String,
    /// Name, unique within the workspace.
    pub name: String,
    /// Subject (`sub` claim).
    pub sub: String,
    /// Granted scopes, space-separated.
    pub scopes: String,
    /// Signing key that signed it.
    pub kid: String,
    /// Short fingerprint of the token (identifies it; cannot be used as it).
    pub fingerprint: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    /// Who minted it.
    pub created_by: String,
    /// Unix seconds (`exp` claim).
    pub expires_at: i64,
    /// Unix milliseconds of revocation.
    pub revoked_at_ms: Option<i64>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Unix seconds of the last successful verification (informational: not authenticated,
    /// decides nothing).
    pub last_used_at: Option<i64>,
    /// Store-wide mint order: a revoke-all refuses every key at or below its mark.
    pub mint_seq: i64,
    /// The row's MAC (empty if the row has none).
    pub mac: Vec<u8>,
}

/// What verification needs to know about a key, in one indexed lookup, borrowed from the
/// statement: its standing and its workspace's revoke-all mark, each with its row's MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyStanding<'a> {
    /// The key's workspace id.
    pub workspace: &'a str,
    /// When it was revoked (ms), if it was.
    pub revoked_at_ms: Option<i64>,
    /// Its mint sequence number.
    pub mint_seq: i64,
    /// Unix seconds of its last recorded use.
    pub last_used_at: Option<i64>,
    /// The key row's MAC.
    pub mac: &'a [u8],
    /// The workspace's revoke-all mark.
    pub revoked_all_seq: Option<i64>,
    /// The workspace row's MAC.
    pub workspace_mac: &'a [u8],
}

const API_KEY_COLUMNS: &str = "jti, workspace, name, sub, scopes, kid, fingerprint, created_at_ms, created_by, \
     expires_at, revoked_at_ms, revoked_by, last_used_at, mint_seq, mac";

fn api_key_from_row(r: &Row) -> Result<ApiKeyRow, Mismatch> {
    Ok(ApiKeyRow {
        jti: r.get(0)?,
        workspace: r.get(1)?,
        name: r.get(2)?,
        sub: r.get(3)?,
        scopes: r.get(4)?,
        kid: r.get(5)?,
        fingerprint: r.get(6)?,
        created_at_ms: r.get(7)?,
        created_by: r.get(8)?,
        expires_at: r.get(9)?,
        revoked_at_ms: r.get(10)?,
        revoked_by: r.get(11)?,
        last_used_at: r.get(12)?,
        mint_seq: r.get::<Option<i64>>(13)?.unwrap_or(0),
        mac: r.get::<Option<Vec<u8>>>(14)?.unwrap_or_default(),
    })
}

fn signing_key_from_row(r: &Row) -> Result<SigningKeyRow, Mismatch> {
    let state = match r.get::<String>(2)?.as_str() {
        "active" => SigningKeyState::Active,
        "retiring" => SigningKeyState::Retiring,
        _ => return Err(Mismatch("signing_keys.state")),
    };
    Ok(SigningKeyRow {
        kid: r.get(0)?,
        public_key: r.get(1)?,
        state,
        created_at: r.get(3)?,
        retired_at: r.get(4)?,
        mac: r.get::<Option<Vec<u8>>>(5)?.unwrap_or_default(),
    })
}

impl Tx<'_> {
    // --- signing keys -------------------------------------------------------------------

    /// Adds a signing key.
    pub fn insert_signing_key(&self, row: &SigningKeyRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO signing_keys (kid, public_key, state, created_at, retired_at, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            values![
                &row.kid,
                &row.public_key,
                row.state.as_str(),
                row.created_at,
                row.retired_at,
                &row.mac
            ],
        )
        .map(drop)
    }

    /// All signing keys, newest first.
    pub fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        self.rows(
            "SELECT kid, public_key, state, created_at, retired_at, mac FROM signing_keys ORDER BY created_at DESC, kid",
            &[],
            signing_key_from_row,
        )
    }

    /// Rewrites a signing key's state, retirement time and MAC.
    pub fn update_signing_key(&self, row: &SigningKeyRow) -> Result<(), StoreError> {
        self.exec(
            "UPDATE signing_keys SET state = ?2, retired_at = ?3, mac = ?4 WHERE kid = ?1",
            values![&row.kid, row.state.as_str(), row.retired_at, &row.mac],
        )
        .map(drop)
    }

    /// Deletes a signing key's public row.
    pub fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError> {
        self.exec("DELETE FROM signing_keys WHERE kid = ?1", values![kid])
            .map(drop)
    }

    /// The latest expiry of any unrevoked key signed by `kid` (None if there is none).
    pub fn last_expiry_signed_by(&self, kid: &str) -> Result<Option<i64>, StoreError> {
        let last = self.row(
            "SELECT MAX(expires_at) FROM api_keys WHERE kid = ?1 AND revoked_at_ms IS NULL",
            values![kid],
            |r| r.get::<Option<i64>>(0),
        )?;
        Ok(last.flatten())
    }

    // --- API keys -----------------------------------------------------------------------

    /// Records a newly minted key.
    pub fn insert_api_key(&self, row: &ApiKeyRow) -> Result<(), StoreError> {
        self.exec(
            &format!("INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"),
            values![
                &row.jti,
                &row.workspace,
                &row.name,
                &row.sub,
                &row.scopes,
                &row.kid,
                &row.fingerprint,
                row.created_at_ms,
                &row.created_by,
                row.expires_at,
                row.revoked_at_ms,
                &row.revoked_by,
                row.last_used_at,
                row.mint_seq,
                &row.mac
            ],
        )
        .map(drop)
    }

    /// One key by `jti`.
    pub fn api_key(&self, jti: &str) -> Result<Option<ApiKeyRow>, StoreError> {
        self.row(
            &format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE jti = ?1"),
            values![jti],
            api_key_from_row,
        )
    }

    /// One key by workspace and name.
    pub fn api_key_by_name(
        &self,
        workspace: &str,
        name: &str,
    ) -> Result<Option<ApiKeyRow>, StoreError> {
        self.row(
            &format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE workspace = ?1 AND name = ?2"),
            values![workspace, name],
            api_key_from_row,
        )
    }

    /// The keys of a workspace, newest first.
    pub fn api_keys(&self, workspace: &str) -> Result<Vec<ApiKeyRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE workspace = ?1 ORDER BY created_at_ms DESC, jti"
            ),
            values![workspace],
            api_key_from_row,
        )
    }

    /// Records a key's revocation and its row's new MAC; `false` if it was already revoked
    /// or does not exist.
    pub fn revoke_api_key(
        &self,
        jti: &str,
        at_ms: i64,
        by: &str,
        mac: &[u8],
    ) -> Result<bool, StoreError> {
        self.exec(
            "UPDATE api_keys SET revoked_at_ms = ?2, revoked_by = ?3, mac = ?4 WHERE jti = ?1 AND revoked_at_ms IS NULL",
            values![jti, at_ms, by, mac],
        )
        .map(|n| n > 0)
    }

    /// Replaces a key row's mint sequence number and MAC (schema upgrade).
    pub fn set_api_key_auth(&self, jti: &str, seq: i64, mac: &[u8]) -> Result<(), StoreError> {
        self.exec(
            "UPDATE api_keys SET mint_seq = ?2, mac = ?3 WHERE jti = ?1",
            values![jti, seq, mac],
        )
        .map(drop)
    }

    /// Every key of the store, in mint order (oldest first; keys without a sequence number by
    /// creation time).
    pub fn all_api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY mint_seq, created_at_ms, jti"
            ),
            &[],
            api_key_from_row,
        )
    }

    /// Sets a key's last-used time to `at` (Unix seconds) if the stored one is a minute or
    /// more older (or unset): the time is kept to the minute, so a key in constant use costs
    /// one page write a minute, not one per batch of use records.
    pub fn touch_api_key(&self, jti: &str, at: i64) -> Result<(), StoreError> {
        self.exec(
            "UPDATE api_keys SET last_used_at = ?2 WHERE jti = ?1 AND COALESCE(last_used_at, 0) <= ?2 - 60",
            values![jti, at],
        )
        .map(drop)
    }
}

impl Sqlite {
    /// The facts verification needs about key `jti` — and the standing they were read at —
    /// in one statement: no explicit transaction, one indexed lookup, handed to `f` borrowed
    /// from the statement (no copy of any column). This is the hot path of every token
    /// verification.
    pub(crate) fn key_standing<T>(
        &self,
        jti: &str,
        f: impl FnOnce(Standing, Option<KeyStanding<'_>>) -> T,
    ) -> Result<T, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(KEY_STANDING)?;
            stmt.query_row([jti], |r| Ok(f(Standing(r.get(0)?), standing_from(r, 1)?)))
        })
    }
}

/// The standing counter and a key's standing (the key `?1`, its workspace), in one row
/// whether or not the key exists: the statement of every verification, on both backends.
pub(crate) const KEY_STANDING: &str = "SELECT (SELECT version FROM standing WHERE id = 0), \
     k.workspace, k.revoked_at_ms, k.mint_seq, k.last_used_at, k.mac, \
     w.id, w.revoked_all_seq, w.mac \
     FROM (SELECT 1) AS one LEFT JOIN api_keys k ON k.jti = ?1 \
     LEFT JOIN workspaces w ON w.id = k.workspace";

fn standing_from<'r>(
    r: &'r rusqlite::Row<'r>,
    at: usize,
) -> rusqlite::Result<Option<KeyStanding<'r>>> {
    let text = |i: usize| -> rusqlite::Result<Option<&'r str>> {
        r.get_ref(at + i)?.as_str_or_null().map_err(Into::into)
    };
    let blob = |i: usize| -> rusqlite::Result<&'r [u8]> {
        Ok(r.get_ref(at + i)?.as_blob_or_null()?.unwrap_or_default())
    };
    // No key row, or a key whose workspace row is gone: nothing to stand on.
    let (Some(workspace), Some(_)) = (text(0)?, text(5)?) else {
        return Ok(None);
    };
    Ok(Some(KeyStanding {
        workspace,
        revoked_at_ms: r.get(at + 1)?,
        mint_seq: r.get::<_, Option<i64>>(at + 2)?.unwrap_or(0),
        last_used_at: r.get(at + 3)?,
        mac: blob(4)?,
        revoked_all_seq: r.get(at + 6)?,
        workspace_mac: blob(7)?,
    }))
}

/// [`KeyStanding`] from `r`'s columns starting at `at` (in [`KEY_STANDING`]'s order),
/// borrowed from the row; `None` when there is no key row, or its workspace row is gone.
pub(crate) fn standing_of(r: &Row, at: usize) -> Result<Option<KeyStanding<'_>>, Mismatch> {
    let (Some(workspace), Some(_)) = (r.text_ref(at)?, r.text_ref(at + 5)?) else {
        return Ok(None);
    };
    Ok(Some(KeyStanding {
        workspace,
        revoked_at_ms: r.get(at + 1)?,
        mint_seq: r.get::<Option<i64>>(at + 2)?.unwrap_or(0),
        last_used_at: r.get(at + 3)?,
        mac: r.blob_ref(at + 4)?,
        revoked_all_seq: r.get(at + 6)?,
        workspace_mac: r.blob_ref(at + 7)?,
    }))
}
