use keyhold_crypto::{Envelope, RecordAad, SecretBytes};
use keyhold_store::{RecordKey, RecordRow, Tx};

use crate::{Error, Keyhold, Result, names, now, read};

/// Public facts about a stored record (never its content).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordInfo {
    /// Workspace id.
    pub workspace: String,
    /// Record kind.
    pub kind: String,
    /// Record id.
    pub id: String,
    /// Version after the write.
    pub version: u64,
    /// KEK wrapping its data key.
    pub kek_id: u32,
    /// Unix seconds.
    pub updated_at: i64,
}

fn aad<'a>(key: &'a RecordKey, version: u64) -> RecordAad<'a> {
    RecordAad {
        kind: &key.kind,
        workspace: &key.workspace,
        id: &key.id,
        version,
    }
}

impl Keyhold {
    /// Seals `key`'s new value under the active KEK and writes it (within `tx`).
    pub(crate) fn seal_record(
        &self,
        tx: &Tx<'_>,
        key: RecordKey,
        secret: &SecretBytes,
    ) -> Result<RecordInfo> {
        let kek_id = tx.active_kek_id()?.ok_or(Error::Internal(
            "the store has no active key-encryption key",
        ))?;
        self.ensure_kek(tx, kek_id)?;
        let version = tx
            .record_version(&key)?
            .checked_add(1)
            .ok_or(Error::Internal("record version overflow"))?;
        // EXPOSE: the plaintext is encrypted here and nowhere else.
        let env = read(&self.ring).seal(kek_id, &aad(&key, version), secret.expose())?;
        let row = RecordRow {
            key,
            version,
            kek_id,
            envelope: env.0,
            updated_at: now(),
        };
        tx.put_record(&row)?;
        Ok(RecordInfo {
            workspace: row.key.workspace,
            kind: row.key.kind,
            id: row.key.id,
            version,
            kek_id,
            updated_at: row.updated_at,
        })
    }

    /// Reads and opens `key` (within `tx`); an envelope that fails authentication is an
    /// integrity error naming the record.
    pub(crate) fn open_record(&self, tx: &Tx<'_>, key: &RecordKey) -> Result<SecretBytes> {
        let row = tx.record(key)?.ok_or_else(|| {
            Error::NotFound(format!("record {}/{}/{}", key.workspace, key.kind, key.id))
        })?;
        let env = Envelope(row.envelope);
        let aad = aad(key, row.version);
        let kek_id = env
            .kek_id_for_row(row.kek_id)
            .map_err(|e| Error::integrity(aad.to_string(), e))?;
        self.ensure_kek(tx, kek_id)?;
        read(&self.ring)
            .open(&aad, &env)
            .map_err(|e| Error::integrity(aad.to_string(), e))
    }

    fn record_key(&self, tx: &Tx<'_>, workspace: &str, kind: &str, id: &str) -> Result<RecordKey> {
        names::record_kind(kind)?;
        names::record_id(id)?;
        let ws = self.resolve(tx, workspace)?;
        Ok(RecordKey {
            workspace: ws.id,
            kind: kind.to_owned(),
            id: id.to_owned(),
        })
    }

    /// Stores `secret` as record `kind`/`id` of `workspace` (id or name), encrypted under a
    /// fresh data key; replaces any previous value and increments the version.
    ///
    /// Recorded as `record.written` (kind, id and version — never the value). A key caller
    /// needs `admin`.
    pub fn put_record(
        &self,
        caller: &crate::Caller,
        workspace: &str,
        kind: &str,
        id: &str,
        secret: &SecretBytes,
    ) -> Result<RecordInfo> {
        self.store.write(|tx| {
            let key = self.record_key(tx, workspace, kind, id)?;
            if !caller.is_operator() {
                caller.require(keyhold_token::Scope::Admin, &key.workspace)?;
            }
            let info = self.seal_record(tx, key, secret)?;
            let record = crate::audit::EventDraft::new(keyhold_audit::Action::RecordWritten)
                .workspace(&info.workspace)
                .target(&format!("{}/{}", info.kind, info.id))
                .detail("version", i64::try_from(info.version).unwrap_or(i64::MAX));
            self.audit(tx, caller, record)?;
            Ok(info)
        })
    }

    /// Reads and decrypts record `kind`/`id` of `workspace`.
    ///
    /// A key caller needs `admin` in the record's workspace. Reads are not audited yet
    /// (docs/audit.md says so).
    pub fn record(
        &self,
        caller: &crate::Caller,
        workspace: &str,
        kind: &str,
        id: &str,
    ) -> Result<SecretBytes> {
        self.store.read(|tx| {
            let key = self.record_key(tx, workspace, kind, id)?;
            if !caller.is_operator() {
                caller.require(keyhold_token::Scope::Admin, &key.workspace)?;
            }
            self.open_record(tx, &key)
        })
    }

    /// Deletes record `kind`/`id` of `workspace` (`secure_delete` overwrites the freed pages).
    /// Recorded as `record.deleted`.
    pub fn delete_record(
        &self,
        caller: &crate::Caller,
        workspace: &str,
        kind: &str,
        id: &str,
    ) -> Result<()> {
        self.store.write(|tx| {
            let key = self.record_key(tx, workspace, kind, id)?;
            if !caller.is_operator() {
                caller.require(keyhold_token::Scope::Admin, &key.workspace)?;
            }
            if tx.delete_record(&key)? {
                let record = crate::audit::EventDraft::new(keyhold_audit::Action::RecordDeleted)
                    .workspace(&key.workspace)
                    .target(&format!("{}/{}", key.kind, key.id));
                self.audit(tx, caller, record)
            } else {
                Err(Error::NotFound(format!(
                    "record {}/{}/{}",
                    key.workspace, kind, id
                )))
            }
        })
    }
}
