//! keyhold's authenticated rows: the integrity of the rows that decide access. Every row whose
//! content grants or withholds access carries a MAC under the store's row key; this crate owns
//! which fields of which row the MAC covers — signing keys (kid, public key, state, validity),
//! API keys (every column but the informational last-used time, and on its own the standing
//! that verification reads), workspaces (the whole row, and on its own the revoke-all mark),
//! connections (settings and both slots' rotation states: which credential is handed out),
//! the assistant's confirmations (who may confirm what, until when), team access (people and
//! their password hashes, memberships and roles, sessions, enrolment codes, policies),
//! the store's identity rows in `meta` with a master-key witness, and the MAC'd mint counter —
//! and the checks that turn a row that does not authenticate into an [`IntegrityError`] naming
//! it. It also plans the one-time upgrade that authenticates an older store's rows
//! ([`upgrade`]).
//!
//! [`RowAuth`] holds the row key. It may read and write rows through `keyhold-store`'s `Tx`,
//! and depends on no keyhold crate but `keyhold-crypto` and `keyhold-store`. It must never
//! decide access, seal or open the row key (the facade keeps it as an envelope record, so it
//! rotates with the key hierarchy), write an audit event or read the audit chain: what the
//! chain says is handed in as plain values. A row that was inserted, edited or moved to another
//! id does not authenticate; what a MAC cannot tell — an older authentic copy of a row put back
//! — is for the audit chain's reconciliation.
#![forbid(unsafe_code)]

mod fields;
mod identity;
mod revocation;
pub mod upgrade;

use std::sync::{PoisonError, RwLock};

use keyhold_crypto::{CryptoError, RowKey, RowMac, SecretBytes};
use keyhold_store::{
    ApiKeyRow, ConfirmationRow, ConnectionRow, EnrolmentRow, KeyStanding, MemberRow, PersonRow,
    PolicyRow, RecordKey, SessionRow, SigningKeyRow, StoreError, WorkspaceRow,
};

pub use fields::keep_whole;
pub use identity::{is_stores_key, is_witnessed};

/// The names of the `meta` rows this crate reads or writes: the store's identity (MAC'd
/// together, in [`meta::IDENTITY`]'s order), the master-key witness, the identity MAC and the
/// mint counter.
pub mod meta {
    /// The store's random id.
    pub const STORE_ID: &str = "store_id";
    /// The master key's check value.
    pub const MASTER_CHECK: &str = "master_check";
    /// When the store was created.
    pub const CREATED_AT: &str = "created_at";
    /// The public key that verifies the audit log's checkpoints.
    pub const CHECKPOINT_PUBLIC: &str = "audit_checkpoint_public";
    /// A salted witness of the master key (salt ‖ HMAC).
    pub const WITNESS: &str = "master_witness";
    /// The MAC over the identity rows.
    pub const IDENTITY_MAC: &str = "identity_mac";
    /// The highest mint sequence number ever handed out, with its MAC.
    pub const MINT_COUNTER: &str = "mint_counter";
    /// The `meta` rows that identify the store and its keys, in MAC order.
    pub const IDENTITY: [&str; 5] = [
        STORE_ID,
        MASTER_CHECK,
        CREATED_AT,
        CHECKPOINT_PUBLIC,
        WITNESS,
    ];
}

const ROW_KEY_KIND: &str = "row-key";

/// The envelope record that holds the row key, sealed by the key hierarchy.
pub fn row_key_record() -> RecordKey {
    RecordKey {
        workspace: String::new(),
        kind: ROW_KEY_KIND.to_owned(),
        id: "current".to_owned(),
    }
}

/// Why a row, or the row key, cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum IntegrityError {
    /// A row that does not authenticate, is missing or is malformed: `what` names it.
    #[error("integrity check failed for {what}: {detail}")]
    Row {
        /// The row (`api key ID`, `workspace ID`, `signing key KID`, `meta NAME`, …).
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The row key was asked for before it was installed or loaded (a programming error).
    #[error("the row key is not loaded")]
    KeyNotLoaded,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The OS random source failed, or the witness could not be derived.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl IntegrityError {
    pub(crate) fn row(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Row {
            what: what.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn tampered(what: String) -> Self {
        Self::row(
            what,
            "the row does not authenticate: inserted, edited or moved without the master key",
        )
    }
}

/// The row key, and every MAC computed or checked under it. Starts empty: the key is
/// installed when it is created ([`RowAuth::install`]) or loaded from its sealed record
/// ([`RowAuth::load`]).
#[derive(Default)]
pub struct RowAuth {
    key: RwLock<Option<RowKey>>,
}

impl std::fmt::Debug for RowAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RowAuth(..)")
    }
}

/// A team access row: what its MAC covers, and how an integrity error names it.
pub trait AccessRow {
    /// The fields the MAC covers.
    fn fields(&self) -> RowMac;
    /// The stored MAC.
    fn mac(&self) -> &[u8];
    /// Replaces the stored MAC.
    fn set_mac(&mut self, mac: Vec<u8>);
    /// The row, named for an error (never a secret: digests are shortened).
    fn what(&self) -> String;
}

macro_rules! access_row {
    ($row:ty, $fields:path, |$r:ident| $what:expr) => {
        impl AccessRow for $row {
            fn fields(&self) -> RowMac {
                $fields(self)
            }
            fn mac(&self) -> &[u8] {
                &self.mac
            }
            fn set_mac(&mut self, mac: Vec<u8>) {
                self.mac = mac;
            }
            fn what(&self) -> String {
                let $r = self;
                $what
            }
        }
    };
}

access_row!(PersonRow, fields::person, |r| format!("person {}", r.email));
access_row!(MemberRow, fields::member, |r| format!(
    "member {} of workspace {}",
    r.email, r.workspace
));
access_row!(SessionRow, fields::session, |r| format!(
    "a session of {}",
    r.email
));
access_row!(EnrolmentRow, fields::enrolment, |r| format!(
    "an enrolment code of {}",
    r.email
));
access_row!(PolicyRow, fields::policy, |r| format!(
    "the access policy of workspace {}",
    r.workspace
));

impl RowAuth {
    /// Holds `key` from now on (a new store, or the upgrade to authenticated rows, once the
    /// key's record is sealed).
    pub fn install(&self, key: RowKey) {
        // The key is only ever replaced whole: a poisoned lock is still safe to use.
        *self.key.write().unwrap_or_else(PoisonError::into_inner) = Some(key);
    }

    /// Holds the key opened from its sealed record (`None`: the record is missing).
    pub fn load(&self, opened: Option<&SecretBytes>) -> Result<(), IntegrityError> {
        let secret = opened.ok_or_else(|| {
            IntegrityError::row("row key", "the store's row key record is missing")
        })?;
        let key = RowKey::from_secret(secret)
            .ok_or_else(|| IntegrityError::row("row key", "wrong length"))?;
        self.install(key);
        Ok(())
    }

    fn with_key<T>(&self, f: impl FnOnce(&RowKey) -> T) -> Result<T, IntegrityError> {
        let guard = self.key.read().unwrap_or_else(PoisonError::into_inner);
        let key = guard.as_ref().ok_or(IntegrityError::KeyNotLoaded)?;
        Ok(f(key))
    }

    /// `mac` authenticates `fields` (a single-MAC row), or names the row as tampered.
    fn verify(
        &self,
        fields: &RowMac,
        mac: &[u8],
        what: impl FnOnce() -> String,
    ) -> Result<(), IntegrityError> {
        if self.with_key(|k| k.verify(fields, mac))? {
            Ok(())
        } else {
            Err(IntegrityError::tampered(what()))
        }
    }

    /// Both halves of a two-MAC `mac` column: the whole row, then its part.
    fn verify_both(
        &self,
        whole: &RowMac,
        part: &RowMac,
        mac: &[u8],
        what: impl Fn() -> String,
    ) -> Result<(), IntegrityError> {
        self.verify(whole, fields::whole_half(mac), &what)?;
        self.verify(part, fields::part_half(mac), what)
    }

    /// Sets a signing key row's `mac` before it is written.
    pub fn mac_signing_key(&self, row: &mut SigningKeyRow) -> Result<(), IntegrityError> {
        row.mac = self.with_key(|k| k.mac(&fields::signing_key(row)).to_vec())?;
        Ok(())
    }

    /// Sets an API key row's `mac` (the whole row and its standing) before it is written.
    pub fn mac_api_key(&self, row: &mut ApiKeyRow) -> Result<(), IntegrityError> {
        let part = fields::standing_of(row);
        row.mac = self.with_key(|k| fields::two_macs(k, &fields::api_key(row), &part))?;
        Ok(())
    }

    /// Sets a workspace row's `mac` (the whole row and its revoke-all mark) before it is
    /// written.
    pub fn mac_workspace(&self, row: &mut WorkspaceRow) -> Result<(), IntegrityError> {
        let part = fields::mark(&row.id, row.revoked_all_seq);
        row.mac = self.with_key(|k| fields::two_macs(k, &fields::workspace(row), &part))?;
        Ok(())
    }

    /// Sets a connection row's `mac` before it is written.
    pub fn mac_connection(&self, row: &mut ConnectionRow) -> Result<(), IntegrityError> {
        row.mac = self.with_key(|k| k.mac(&fields::connection(row)).to_vec())?;
        Ok(())
    }

    /// A connection row as read.
    pub fn check_connection(&self, row: &ConnectionRow) -> Result<(), IntegrityError> {
        self.verify(&fields::connection(row), &row.mac, || {
            format!("connection {}", row.id)
        })
    }

    /// Sets a confirmation row's `mac` before it is written.
    pub fn mac_confirmation(&self, row: &mut ConfirmationRow) -> Result<(), IntegrityError> {
        row.mac = self.with_key(|k| k.mac(&fields::confirmation(row)).to_vec())?;
        Ok(())
    }

    /// A confirmation row as taken.
    pub fn check_confirmation(&self, row: &ConfirmationRow) -> Result<(), IntegrityError> {
        self.verify(&fields::confirmation(row), &row.mac, || {
            "an assistant confirmation".to_owned()
        })
    }

    /// Sets the `mac` of a team access row (a person, a membership, a session, an enrolment
    /// code or a workspace policy) before it is written.
    pub fn mac_access<R: AccessRow>(&self, row: &mut R) -> Result<(), IntegrityError> {
        let mac = self.with_key(|k| k.mac(&row.fields()).to_vec())?;
        row.set_mac(mac);
        Ok(())
    }

    /// A team access row as read.
    pub fn check_access<R: AccessRow>(&self, row: &R) -> Result<(), IntegrityError> {
        self.verify(&row.fields(), row.mac(), || row.what())
    }

    /// `row`, if there is one, once it authenticates.
    pub fn checked<R: AccessRow>(&self, row: Option<R>) -> Result<Option<R>, IntegrityError> {
        if let Some(r) = &row {
            self.check_access(r)?;
        }
        Ok(row)
    }

    /// `row` with its MAC set, ready to be written.
    pub fn sealed<R: AccessRow>(&self, mut row: R) -> Result<R, IntegrityError> {
        self.mac_access(&mut row)?;
        Ok(row)
    }

    /// A signing key row as read.
    pub fn check_signing_key(&self, row: &SigningKeyRow) -> Result<(), IntegrityError> {
        self.verify(&fields::signing_key(row), &row.mac, || {
            format!("signing key {}", row.kid)
        })
    }

    /// A whole API key row as read: the whole-row MAC, then its standing.
    pub fn check_api_key(&self, row: &ApiKeyRow) -> Result<(), IntegrityError> {
        let part = fields::standing_of(row);
        self.verify_both(&fields::api_key(row), &part, &row.mac, || {
            format!("api key {}", row.jti)
        })
    }

    /// A whole workspace row as read: the whole-row MAC, then its revoke-all mark.
    pub fn check_workspace(&self, row: &WorkspaceRow) -> Result<(), IntegrityError> {
        let part = fields::mark(&row.id, row.revoked_all_seq);
        self.verify_both(&fields::workspace(row), &part, &row.mac, || {
            format!("workspace {}", row.id)
        })
    }

    /// The standing part of a whole key row alone (see [`RowAuth::check_standing`]).
    pub fn check_api_key_standing(&self, row: &ApiKeyRow) -> Result<(), IntegrityError> {
        let part = fields::standing_of(row);
        self.verify(&part, fields::part_half(&row.mac), || {
            format!("api key {}", row.jti)
        })
    }

    /// A workspace's revoke-all mark alone (the part verification reads).
    pub fn check_workspace_mark(&self, row: &WorkspaceRow) -> Result<(), IntegrityError> {
        let part = fields::mark(&row.id, row.revoked_all_seq);
        self.verify(&part, fields::part_half(&row.mac), || {
            format!("workspace {}", row.id)
        })
    }

    /// The hot path: key `jti`'s standing as read for a verification — the short MAC of the
    /// key row's standing and the one of its workspace's mark (the whole-row MACs are checked
    /// wherever whole rows are read: listings, revocations, `audit verify`).
    pub fn check_standing(&self, jti: &str, st: &KeyStanding<'_>) -> Result<(), IntegrityError> {
        let key_part = fields::standing(jti, st.workspace, st.revoked_at_ms, st.mint_seq);
        self.verify(&key_part, fields::part_half(st.mac), || {
            format!("api key {jti}")
        })?;
        let ws_part = fields::mark(st.workspace, st.revoked_all_seq);
        self.verify(&ws_part, fields::part_half(st.workspace_mac), || {
            format!("workspace {}", st.workspace)
        })
    }
}
