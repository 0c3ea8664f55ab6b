//! Authenticated rows: every row whose content grants or withholds access carries a MAC under
//! the store's row key (a random key sealed as an envelope record, so it never sits in the
//! database in clear and rotates with the key hierarchy). A row that was inserted, edited or
//! moved to another id does not authenticate and is an `integrity_error` naming it — never a
//! grant. What a MAC cannot tell — an older authentic copy of a row put back (a replay) — is
//! reconciled against the audit chain by `audit verify` (see `reconcile`).
//!
//! Covered: signing keys (kid, public key, state, validity), API-key standing (every column
//! but the informational last-used time), workspaces (id, name, revoke-all mark) and the
//! store's identity rows in `meta`.

use keyhold_crypto::{MasterKey, ROW_MAC_LEN, RowKey, RowMac, SecretBytes};
use keyhold_store::{ApiKeyRow, RecordKey, SigningKeyRow, SigningKeyState, Tx, WorkspaceRow};

use crate::{Error, Keyhold, Result, read, write};

const ROW_KEY_KIND: &str = "row-key";
pub(crate) const META_WITNESS: &str = "master_witness";
const META_IDENTITY_MAC: &str = "identity_mac";
/// The `meta` rows that identify the store and its keys, in MAC order.
const IDENTITY_ROWS: [&str; 5] = [
    crate::META_STORE_ID,
    crate::META_MASTER_CHECK,
    crate::META_CREATED_AT,
    crate::audit::META_CHECKPOINT_PUBLIC,
    META_WITNESS,
];

fn row_key_record() -> RecordKey {
    RecordKey {
        workspace: String::new(),
        kind: ROW_KEY_KIND.to_owned(),
        id: "current".to_owned(),
    }
}

fn tampered(what: String) -> Error {
    Error::Integrity {
        what,
        detail: "the row does not authenticate: inserted, edited or moved without the master key"
            .into(),
    }
}

pub(crate) fn signing_key_fields(row: &SigningKeyRow) -> RowMac {
    RowMac::new("signing_key")
        .text(&row.kid)
        .bytes(&row.public_key)
        .text(match row.state {
            SigningKeyState::Active => "active",
            _ => "retiring",
        })
        .int(row.created_at)
        .opt_int(row.retired_at)
}

pub(crate) fn api_key_fields(row: &ApiKeyRow) -> RowMac {
    RowMac::new("api_key")
        .text(&row.jti)
        .text(&row.workspace)
        .text(&row.name)
        .text(&row.sub)
        .text(&row.scopes)
        .text(&row.kid)
        .text(&row.fingerprint)
        .int(row.created_at_ms)
        .text(&row.created_by)
        .int(row.expires_at)
        .opt_int(row.revoked_at_ms)
        .opt_text(row.revoked_by.as_deref())
        .int(row.mint_seq)
}

pub(crate) fn workspace_fields(row: &WorkspaceRow) -> RowMac {
    RowMac::new("workspace")
        .text(&row.id)
        .text(&row.name)
        .int(row.created_at)
        .opt_int(row.revoked_all_at_ms)
        .opt_int(row.revoked_all_seq)
}

impl Keyhold {
    fn with_row_key<T>(&self, f: impl FnOnce(&RowKey) -> T) -> Result<T> {
        let guard = read(&self.rows);
        let key = guard
            .as_ref()
            .ok_or(Error::Internal("the row key is not loaded"))?;
        Ok(f(key))
    }

    pub(crate) fn mac_signing_key(&self, row: &mut SigningKeyRow) -> Result<()> {
        row.mac = self.with_row_key(|k| k.mac(&signing_key_fields(row)).to_vec())?;
        Ok(())
    }

    pub(crate) fn mac_api_key(&self, row: &mut ApiKeyRow) -> Result<()> {
        row.mac = self.with_row_key(|k| k.mac(&api_key_fields(row)).to_vec())?;
        Ok(())
    }

    pub(crate) fn mac_workspace(&self, row: &mut WorkspaceRow) -> Result<()> {
        row.mac = self.with_row_key(|k| k.mac(&workspace_fields(row)).to_vec())?;
        Ok(())
    }

    pub(crate) fn check_signing_key(&self, row: &SigningKeyRow) -> Result<()> {
        if self.with_row_key(|k| k.verify(&signing_key_fields(row), &row.mac))? {
            Ok(())
        } else {
            Err(tampered(format!("signing key {}", row.kid)))
        }
    }

    pub(crate) fn check_api_key(&self, row: &ApiKeyRow) -> Result<()> {
        if self.with_row_key(|k| k.verify(&api_key_fields(row), &row.mac))? {
            Ok(())
        } else {
            Err(tampered(format!("api key {}", row.jti)))
        }
    }

    pub(crate) fn check_workspace(&self, row: &WorkspaceRow) -> Result<()> {
        if self.with_row_key(|k| k.verify(&workspace_fields(row), &row.mac))? {
            Ok(())
        } else {
            Err(tampered(format!("workspace {}", row.id)))
        }
    }

    /// Creates the row key (a new store, or the upgrade to authenticated rows) and seals it in
    /// `tx`. The handle holds it from now on; a rolled-back transaction discards the handle.
    pub(crate) fn create_row_key(&self, tx: &Tx<'_>) -> Result<()> {
        let key = RowKey::generate()?;
        self.seal_record(tx, row_key_record(), &key.to_secret_bytes())?;
        *write(&self.rows) = Some(key);
        Ok(())
    }

    /// Loads the row key from its sealed record.
    pub(crate) fn load_row_key(&self, tx: &Tx<'_>) -> Result<()> {
        let secret: SecretBytes = match self.open_record(tx, &row_key_record()) {
            Ok(s) => s,
            Err(Error::NotFound(_)) => {
                return Err(Error::Integrity {
                    what: "row key".into(),
                    detail: "the store's row key record is missing".into(),
                });
            }
            Err(e) => return Err(e),
        };
        let key = RowKey::from_secret(&secret).ok_or_else(|| Error::Integrity {
            what: "row key".into(),
            detail: "wrong length".into(),
        })?;
        *write(&self.rows) = Some(key);
        Ok(())
    }

    fn identity_fields(tx: &Tx<'_>) -> Result<RowMac> {
        let mut m = RowMac::new("identity");
        for name in IDENTITY_ROWS {
            let v = tx.meta(name)?.ok_or_else(|| Error::Integrity {
                what: format!("meta {name}"),
                detail: "missing".into(),
            })?;
            m = m.text(name).bytes(&v);
        }
        Ok(m)
    }

    /// Writes a fresh master-key witness for `master` and the MAC over the identity rows.
    pub(crate) fn write_identity(&self, tx: &Tx<'_>, master: &MasterKey) -> Result<()> {
        let salt = keyhold_crypto::random::array::<16>()?;
        let witness = keyhold_crypto::master_witness(master, &salt)?;
        let mut value = salt.to_vec();
        value.extend_from_slice(&witness);
        tx.set_meta(META_WITNESS, &value)?;
        let fields = Self::identity_fields(tx)?;
        let mac = self.with_row_key(|k| k.mac(&fields))?;
        tx.set_meta(META_IDENTITY_MAC, &mac)?;
        Ok(())
    }

    /// Checks the MAC over the identity rows.
    pub(crate) fn check_identity(&self, tx: &Tx<'_>) -> Result<()> {
        let fields = Self::identity_fields(tx)?;
        let mac = tx.meta(META_IDENTITY_MAC)?.unwrap_or_default();
        if mac.len() == ROW_MAC_LEN && self.with_row_key(|k| k.verify(&fields, &mac))? {
            Ok(())
        } else {
            Err(tampered("meta (store identity)".into()))
        }
    }

    /// The upgrade to authenticated rows (schema 5), in the migration's own transaction: a
    /// row key, mint sequence numbers in creation order, revoke-all marks translated from
    /// their instants, a MAC on every row, the master-key witness and the identity MAC.
    pub(crate) fn authenticate_existing_rows(&self, tx: &Tx<'_>, master: &MasterKey) -> Result<()> {
        self.create_row_key(tx)?;
        self.ensure_audit_keys(tx)?;
        for mut row in tx.signing_keys()? {
            self.mac_signing_key(&mut row)?;
            tx.update_signing_key(&row)?;
        }
        let keys = tx.all_api_keys()?;
        let mut seqs: Vec<(String, i64, i64)> = Vec::with_capacity(keys.len());
        for (i, mut row) in keys.into_iter().enumerate() {
            row.mint_seq = i64::try_from(i).unwrap_or(i64::MAX - 1) + 1;
            self.mac_api_key(&mut row)?;
            tx.set_api_key_auth(&row.jti, row.mint_seq, &row.mac)?;
            seqs.push((row.workspace, row.created_at_ms, row.mint_seq));
        }
        for mut ws in tx.workspaces()? {
            // The old rule: keys minted at or before the instant are revoked.
            ws.revoked_all_seq = ws.revoked_all_at_ms.map(|at| {
                seqs.iter()
                    .filter(|(w, created, _)| *w == ws.id && *created <= at)
                    .map(|(_, _, s)| *s)
                    .max()
                    .unwrap_or(0)
            });
            self.mac_workspace(&mut ws)?;
            tx.set_workspace_auth(&ws.id, ws.revoked_all_seq, &ws.mac)?;
        }
        self.write_identity(tx, master)?;
        Ok(())
    }
}
