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
const META_MINT_COUNTER: &str = "mint_counter";
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

/// The part of a key row that verification reads, MAC'd on its own so that the hot path reads
/// and authenticates a short row: `jti` (the one looked up, so a row moved to another id
/// fails), workspace, revocation and mint order.
fn standing_fields(
    jti: &str,
    workspace: &str,
    revoked_at_ms: Option<i64>,
    mint_seq: i64,
) -> RowMac {
    RowMac::new("api_key_standing")
        .text(jti)
        .text(workspace)
        .opt_int(revoked_at_ms)
        .int(mint_seq)
}

/// A workspace's revoke-all mark, MAC'd on its own for the same reason.
fn mark_fields(id: &str, revoked_all_seq: Option<i64>) -> RowMac {
    RowMac::new("workspace_mark")
        .text(id)
        .opt_int(revoked_all_seq)
}

/// A row's `mac` column: the MAC of the whole row, then the MAC of the part verification reads.
fn two_macs(k: &keyhold_crypto::RowKey, whole: &RowMac, part: &RowMac) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * ROW_MAC_LEN);
    out.extend_from_slice(&k.mac(whole));
    out.extend_from_slice(&k.mac(part));
    out
}

pub(crate) fn workspace_fields(row: &WorkspaceRow) -> RowMac {
    RowMac::new("workspace")
        .text(&row.id)
        .text(&row.name)
        .int(row.created_at)
        .opt_int(row.revoked_all_at_ms)
        .opt_int(row.revoked_all_seq)
}

/// Replaces the whole-row half of `mac` with the one of `old`: a revocation of a row whose
/// whole-row MAC failed must not make the edit authentic.
pub(crate) fn keep_whole(mac: &mut Vec<u8>, old: &[u8]) {
    let whole = old.get(..ROW_MAC_LEN).unwrap_or(old);
    let mut out = whole.to_vec();
    out.resize(ROW_MAC_LEN, 0);
    out.extend_from_slice(mac.get(ROW_MAC_LEN..).unwrap_or_default());
    *mac = out;
}

fn counter_fields(n: i64) -> RowMac {
    RowMac::new("mint_counter").int(n)
}

fn downgraded(detail: &str) -> Error {
    Error::Integrity {
        what: "schema version".into(),
        detail: format!(
            "the store says its rows are not authenticated yet, but {detail}: its schema \
             version was put back; refusing to authenticate its rows"
        ),
    }
}

impl Keyhold {
    /// The highest mint sequence number ever handed out (authenticated). A revoke-all's mark
    /// is this, never the highest number among the rows an attacker left visible.
    pub(crate) fn mint_counter(&self, tx: &Tx<'_>) -> Result<i64> {
        let stored = tx.meta(META_MINT_COUNTER)?.unwrap_or_default();
        let bad = || tampered("meta mint_counter".into());
        let (Some(n), Some(mac)) = (stored.get(..8), stored.get(8..)) else {
            return Err(bad());
        };
        let n = i64::from_be_bytes(n.try_into().map_err(|_| bad())?);
        self.verify_row(&counter_fields(n), mac, || "meta mint_counter".into())?;
        Ok(n)
    }

    pub(crate) fn set_mint_counter(&self, tx: &Tx<'_>, n: i64) -> Result<()> {
        let mut value = n.to_be_bytes().to_vec();
        value.extend_from_slice(&self.with_row_key(|k| k.mac(&counter_fields(n)))?);
        tx.set_meta(META_MINT_COUNTER, &value)?;
        Ok(())
    }

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
        let part = standing_fields(&row.jti, &row.workspace, row.revoked_at_ms, row.mint_seq);
        row.mac = self.with_row_key(|k| two_macs(k, &api_key_fields(row), &part))?;
        Ok(())
    }

    pub(crate) fn mac_workspace(&self, row: &mut WorkspaceRow) -> Result<()> {
        let part = mark_fields(&row.id, row.revoked_all_seq);
        row.mac = self.with_row_key(|k| two_macs(k, &workspace_fields(row), &part))?;
        Ok(())
    }

    /// `mac` authenticates `fields` (a single-MAC row), or names the row as tampered.
    fn verify_row(&self, fields: &RowMac, mac: &[u8], what: impl FnOnce() -> String) -> Result<()> {
        if self.with_row_key(|k| k.verify(fields, mac))? {
            Ok(())
        } else {
            Err(tampered(what()))
        }
    }

    /// The second half of a two-MAC `mac` column (see `two_macs`) authenticates `part`.
    fn verify_part(&self, part: &RowMac, mac: &[u8], what: impl FnOnce() -> String) -> Result<()> {
        self.verify_row(part, mac.get(ROW_MAC_LEN..).unwrap_or_default(), what)
    }

    /// Both halves of a two-MAC `mac` column: the whole row and its part.
    fn verify_both(
        &self,
        whole: &RowMac,
        part: &RowMac,
        mac: &[u8],
        what: impl Fn() -> String,
    ) -> Result<()> {
        let whole_mac = mac.get(..ROW_MAC_LEN).unwrap_or_default();
        self.verify_row(whole, whole_mac, &what)?;
        self.verify_part(part, mac, what)
    }

    pub(crate) fn check_signing_key(&self, row: &SigningKeyRow) -> Result<()> {
        self.verify_row(&signing_key_fields(row), &row.mac, || {
            format!("signing key {}", row.kid)
        })
    }

    pub(crate) fn check_api_key(&self, row: &ApiKeyRow) -> Result<()> {
        let part = standing_fields(&row.jti, &row.workspace, row.revoked_at_ms, row.mint_seq);
        self.verify_both(&api_key_fields(row), &part, &row.mac, || {
            format!("api key {}", row.jti)
        })
    }

    pub(crate) fn check_workspace(&self, row: &WorkspaceRow) -> Result<()> {
        let part = mark_fields(&row.id, row.revoked_all_seq);
        self.verify_both(&workspace_fields(row), &part, &row.mac, || {
            format!("workspace {}", row.id)
        })
    }

    /// The standing part of a whole key row (see `check_standing`).
    pub(crate) fn check_api_key_standing(&self, row: &ApiKeyRow) -> Result<()> {
        let part = standing_fields(&row.jti, &row.workspace, row.revoked_at_ms, row.mint_seq);
        self.verify_part(&part, &row.mac, || format!("api key {}", row.jti))
    }

    /// A workspace's revoke-all mark alone (the part verification reads).
    pub(crate) fn check_workspace_mark(&self, row: &WorkspaceRow) -> Result<()> {
        let part = mark_fields(&row.id, row.revoked_all_seq);
        self.verify_part(&part, &row.mac, || format!("workspace {}", row.id))
    }

    /// The hot path: key `jti`'s standing as read for a verification — the short MAC of the
    /// key row's standing and the one of its workspace's mark (the whole-row MACs are checked
    /// wherever whole rows are read: listings, revocations, `audit verify`).
    pub(crate) fn check_standing(
        &self,
        jti: &str,
        st: &keyhold_store::KeyStanding<'_>,
    ) -> Result<()> {
        let key_part = standing_fields(jti, st.workspace, st.revoked_at_ms, st.mint_seq);
        self.verify_part(&key_part, st.mac, || format!("api key {jti}"))?;
        let ws_part = mark_fields(st.workspace, st.revoked_all_seq);
        self.verify_part(&ws_part, st.workspace_mac, || {
            format!("workspace {}", st.workspace)
        })
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
    /// their instants, a MAC on every row, the mint counter, the master-key witness and the
    /// identity MAC — and, in the chain, every signing key and the upgrade itself.
    ///
    /// It authenticates only what the chain vouches for. Refused (an integrity error, and the
    /// store does not open) when the store carries anything an upgrade would have made (a row
    /// key, a witness, an identity MAC, a mint counter) or the chain records an earlier
    /// upgrade — someone put the schema version back to have forged rows blessed — and when
    /// the rows disagree with the chain: a key it never created or that it revoked, more than
    /// one signing key it never named, an active signing key whose private half does not open.
    pub(crate) fn authenticate_existing_rows(
        &self,
        tx: &Tx<'_>,
        master: &MasterKey,
        upgrade: &crate::Upgrade,
    ) -> Result<()> {
        let chain = self.refuse_a_second_upgrade(tx)?;
        let (keys, workspaces, mut signing) =
            (tx.all_api_keys()?, tx.workspaces()?, tx.signing_keys()?);
        chain.check_rows(&keys, &workspaces, &signing)?;
        self.settle_unnamed_signing_keys(tx, &chain, upgrade, &mut signing)?;
        self.create_row_key(tx)?;
        self.authenticate_signing_keys(tx, signing)?;
        self.authenticate_keys_and_workspaces(tx, keys, workspaces)?;
        self.write_identity(tx, master)?;
        self.audit(
            tx,
            &crate::Caller::operator(),
            crate::audit::EventDraft::new(keyhold_audit::Action::RowsAuthenticated)
                .detail("upgraded", true),
        )?;
        Ok(())
    }

    /// Refuses a store that carries anything an upgrade would have made, or whose chain
    /// records an earlier upgrade; otherwise the chain, folded.
    fn refuse_a_second_upgrade(&self, tx: &Tx<'_>) -> Result<crate::audit::Chain> {
        if tx.record_version(&row_key_record())? > 0 {
            return Err(downgraded("it has a row key"));
        }
        for name in [META_WITNESS, META_IDENTITY_MAC, META_MINT_COUNTER] {
            if tx.meta(name)?.is_some() {
                return Err(downgraded(&format!("it has meta {name}")));
            }
        }
        let chain = self.fold_chain(tx, None)?;
        if chain.reconciler.rows_authenticated() {
            return Err(downgraded("its audit chain records an earlier upgrade"));
        }
        Ok(chain)
    }

    /// Signing keys the chain never named: one at most (the store's first), and a retiring
    /// one only on the operator's word — kept, or dropped from `signing` and the store.
    fn settle_unnamed_signing_keys(
        &self,
        tx: &Tx<'_>,
        chain: &crate::audit::Chain,
        upgrade: &crate::Upgrade,
        signing: &mut Vec<SigningKeyRow>,
    ) -> Result<()> {
        let unnamed: Vec<&str> = signing
            .iter()
            .filter(|k| !chain.reconciler.names_signing_key(&k.kid))
            .map(|k| k.kid.as_str())
            .collect();
        if unnamed.len() > 1 {
            return Err(Error::Integrity {
                what: format!("signing key {}", unnamed.join(", ")),
                detail: "the audit chain names none of these signing keys (a store has one \
                         unnamed key at most: its first)"
                    .into(),
            });
        }
        // A retiring key the chain never named is the store's first key only on the
        // operator's word (an attacker could have put one there): accepted or dropped by id.
        for kid in &unnamed {
            let retiring = signing
                .iter()
                .any(|k| k.kid == *kid && k.state == SigningKeyState::Retiring);
            if !retiring {
                continue;
            }
            if upgrade.drop_signing_keys.iter().any(|k| k == kid) {
                tx.delete_signing_key(kid)?;
            } else if !upgrade.accept_signing_keys.iter().any(|k| k == kid) {
                return Err(Error::Integrity {
                    what: format!("signing key {kid}"),
                    detail: format!(
                        "upgrading this store to authenticated rows needs your word on this \
                         retiring signing key, which its audit chain does not name: run \
                         `keyhold upgrade --accept-signing-key {kid}` if it is a key this store \
                         signed with (compare it with a JWKS you published), or \
                         `keyhold upgrade --drop-signing-key {kid}` (the tokens it signed are \
                         then refused)"
                    ),
                });
            }
        }
        let unnamed: Vec<String> = unnamed.iter().map(|k| (*k).to_owned()).collect();
        signing
            .retain(|k| !(unnamed.contains(&k.kid) && upgrade.drop_signing_keys.contains(&k.kid)));
        Ok(())
    }

    /// Exactly one active signing key, and it must be the store's own (its private half opens
    /// under the KEKs); every signing key MACed and recorded in the chain (the active one last).
    fn authenticate_signing_keys(&self, tx: &Tx<'_>, signing: Vec<SigningKeyRow>) -> Result<()> {
        let mut active = signing
            .iter()
            .filter(|k| k.state == SigningKeyState::Active);
        match (active.next(), active.next()) {
            (Some(_), None) => {}
            _ => {
                return Err(Error::Integrity {
                    what: "signing keys".into(),
                    detail: "a store has exactly one active signing key".into(),
                });
            }
        }
        self.ensure_audit_keys(tx)?;
        let mut ordered = signing;
        ordered.sort_by_key(|k| (k.state == SigningKeyState::Active, k.created_at));
        for mut row in ordered {
            self.mac_signing_key(&mut row)?;
            tx.update_signing_key(&row)?;
            self.audit(
                tx,
                &crate::Caller::operator(),
                crate::audit::EventDraft::new(keyhold_audit::Action::SigningKeyCreated)
                    .target(&row.kid)
                    .detail("recorded_by_upgrade", true),
            )?;
        }
        self.active_signing_key(tx)?;
        Ok(())
    }

    /// Mint sequence numbers in creation order and a MAC for every API key; revoke-all marks
    /// translated from their instants and a MAC for every workspace; the mint counter.
    fn authenticate_keys_and_workspaces(
        &self,
        tx: &Tx<'_>,
        keys: Vec<ApiKeyRow>,
        workspaces: Vec<WorkspaceRow>,
    ) -> Result<()> {
        let mut seqs: Vec<(String, i64, i64)> = Vec::with_capacity(keys.len());
        let mut last = 0;
        for (i, mut row) in keys.into_iter().enumerate() {
            row.mint_seq = i64::try_from(i).unwrap_or(i64::MAX - 1) + 1;
            last = row.mint_seq;
            self.mac_api_key(&mut row)?;
            tx.set_api_key_auth(&row.jti, row.mint_seq, &row.mac)?;
            seqs.push((row.workspace, row.created_at_ms, row.mint_seq));
        }
        self.set_mint_counter(tx, last)?;
        for mut ws in workspaces {
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
        Ok(())
    }
}
