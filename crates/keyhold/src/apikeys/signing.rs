//! Signing keys: the active one, the public halves that verify, rotation and the JWKS.

use keyhold_token::{SignerError, SignerRing, SignerRow};

use super::*;

/// In-memory signing state: the active private key and every public key that may verify.
#[derive(Default)]
pub(crate) struct Signing {
    pub(super) active: Option<SigningKey>,
    pub(super) verifiers: BTreeMap<String, VerifyingKey>,
    /// The store's change mark when `verifiers` was last loaded: an unknown `kid` triggers a
    /// reload only if something was committed since (junk tokens cost no reload).
    pub(super) loaded_at: Option<keyhold_store::ChangeMark>,
}

pub(super) fn signing_record(kid: &str) -> RecordKey {
    RecordKey {
        workspace: String::new(),
        kind: SIGNING_KEY_KIND.to_owned(),
        id: kid.to_owned(),
    }
}

/// What the signing-key rules (`keyhold-token`'s `SignerRing`) need of a row.
fn facts(row: &SigningKeyRow) -> SignerRow<'_> {
    SignerRow {
        kid: &row.kid,
        public_key: &row.public_key,
        active: row.state == SigningKeyState::Active,
    }
}

fn ring(rows: &[SigningKeyRow]) -> SignerRing<'_, SigningKeyRow> {
    SignerRing::new(rows, facts)
}

/// A signing key that does not give the key its row names, as the integrity error naming it.
fn signer_error(kid: &str, e: SignerError) -> Error {
    Error::Integrity {
        what: format!("signing key {kid}"),
        detail: e.to_string(),
    }
}

impl Keyhold {
    /// The issuer (`iss`) of this store's tokens: unique per store.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Creates the first signing key if the store has none (new stores and stores created
    /// before API keys existed).
    /// Returns the id of the key it created, for the operation's audit event to name (detail
    /// `signing_key`): the chain names every signing key the store ever had.
    pub(crate) fn ensure_signing_key(&self, tx: &Tx<'_>) -> Result<Option<String>> {
        if ring(&tx.signing_keys()?).active().is_some() {
            return Ok(None);
        }
        self.add_signing_key(tx).map(Some)
    }

    pub(super) fn add_signing_key(&self, tx: &Tx<'_>) -> Result<String> {
        let key = SigningKey::generate().map_err(Error::from)?;
        let kid = key.kid().to_owned();
        self.seal_record(tx, signing_record(&kid), &key.to_pkcs8_der())?;
        let mut row = SigningKeyRow {
            kid: kid.clone(),
            public_key: key.verifying_key().as_bytes().to_vec(),
            state: SigningKeyState::Active,
            created_at: now(),
            retired_at: None,
            mac: Vec::new(),
        };
        self.rows.mac_signing_key(&mut row)?;
        tx.insert_signing_key(&row)?;
        Ok(kid)
    }

    /// Loads the public keys into memory (all of them, replacing what was there). A row that
    /// does not authenticate fails the whole load, naming it: nothing is replaced, and a token
    /// of an unknown key is refused with that integrity error.
    pub(super) fn load_verifiers(&self, tx: &Tx<'_>) -> Result<()> {
        let rows = tx.signing_keys()?;
        let mut map = BTreeMap::new();
        for row in rows {
            self.rows.check_signing_key(&row)?;
            let vk = facts(&row)
                .verifier()
                .map_err(|e| signer_error(&row.kid, e))?;
            map.insert(row.kid, vk);
        }
        let mut signing = write(&self.signing);
        signing.verifiers = map;
        // Unknown until `reload_verifiers` says which change it saw.
        signing.loaded_at = None;
        Ok(())
    }

    /// [`Keyhold::load_verifiers`] in a read transaction of its own, remembering the store's
    /// change mark from before it (so no commit can slip in unseen).
    pub(super) fn reload_verifiers(&self) -> Result<()> {
        let version = self.store.changes()?;
        self.store.read(|tx| self.load_verifiers(tx))?;
        write(&self.signing).loaded_at = Some(version);
        Ok(())
    }

    /// The active signing key, loaded (and decrypted) if this process does not hold it or
    /// another process rotated it.
    pub(crate) fn active_signing_key(&self, tx: &Tx<'_>) -> Result<()> {
        let rows = tx.signing_keys()?;
        let active = ring(&rows)
            .active()
            .ok_or(Error::Internal("the store has no active signing key"))?;
        self.rows.check_signing_key(active)?;
        if read(&self.signing)
            .active
            .as_ref()
            .is_some_and(|k| k.kid() == active.kid)
        {
            return Ok(());
        }
        let der = self.open_record(tx, &signing_record(&active.kid))?;
        let key = facts(active)
            .signing_key(der.expose())
            .map_err(|e| signer_error(&active.kid, e))?;
        write(&self.signing).active = Some(key);
        Ok(())
    }

    /// Deletes retiring signing keys whose every token has expired.
    pub(super) fn prune_signing_keys(&self, tx: &Tx<'_>, now: i64) -> Result<Vec<String>> {
        let rows = tx.signing_keys()?;
        let mut retired = Vec::new();
        for row in ring(&rows).prunable(now, |r| tx.last_expiry_signed_by(&r.kid))? {
            tx.delete_signing_key(&row.kid)?;
            tx.delete_record(&signing_record(&row.kid))?;
            retired.push(row.kid.clone());
        }
        Ok(retired)
    }

    /// The public keys that verify this store's tokens, as an RFC 7517 JWKS.
    pub fn jwks(&self) -> Result<Jwks> {
        self.store.read(|tx| self.load_verifiers(tx))?;
        Ok(Jwks::new(read(&self.signing).verifiers.values().cloned()))
    }

    /// Rotates the signing key (`admin`): new tokens are signed by a new key; the old one only
    /// verifies until the last token it signed expires, then it is deleted. Its private half
    /// is deleted at once.
    ///
    /// Store-wide, so beyond the operator only an `admin` key of the store's home workspace
    /// (`default`, created by `init`) may do it; an `admin` key of any other workspace is
    /// refused with `workspace_mismatch`.
    pub fn rotate_signing_key(&self, caller: &Caller) -> Result<SigningKeyRotation> {
        let out = self.store.write(|tx| {
            if !caller.is_operator() {
                // The scope first (as `require_store_admin`): a key without `admin` is told
                // so, whichever workspace it belongs to.
                caller.require(Scope::Admin, caller.confined_to().unwrap_or_default())?;
                let home = self.resolve(tx, crate::DEFAULT_WORKSPACE)?;
                caller.require(Scope::Admin, &home.id)?;
            }
            let now = now();
            let created_key = self.ensure_signing_key(tx)?;
            let mut old = Vec::new();
            let rows = tx.signing_keys()?;
            for row in ring(&rows).signing() {
                let mut row = row.clone();
                self.rows.check_signing_key(&row)?;
                row.state = SigningKeyState::Retiring;
                row.retired_at = Some(now);
                self.rows.mac_signing_key(&mut row)?;
                tx.update_signing_key(&row)?;
                old.push(row.kid);
            }
            for kid in &old {
                tx.delete_record(&signing_record(kid))?;
            }
            let kid = self.add_signing_key(tx)?;
            let retired = self.prune_signing_keys(tx, now)?;
            self.audit(
                tx,
                caller,
                crate::audit::EventDraft::new(keyhold_audit::Action::SigningKeyRotated)
                    .target(&kid)
                    .signing_key_created(created_key.as_deref())?
                    .signing_keys_deleted(&retired)?,
            )?;
            let mut retiring = Vec::new();
            for row in ring(&tx.signing_keys()?).retiring() {
                retiring.push((row.kid.clone(), tx.last_expiry_signed_by(&row.kid)?));
            }
            self.load_verifiers(tx)?;
            Ok::<_, Error>(SigningKeyRotation {
                kid,
                retiring,
                retired,
            })
        })?;
        write(&self.signing).active = None;
        Ok(out)
    }

    /// Loads signing state at open.
    pub(crate) fn load_signing(&self) -> Result<()> {
        self.reload_verifiers()
    }
}
