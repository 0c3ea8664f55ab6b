//! One audit record decoded for display or export: what `audit list` and `audit export`
//! show.

use crate::fold::{RowError, StoredAuditRow, check_columns};
use crate::{AuditError, AuditKey, DetailValue, Event, Outcome};

/// One audit record, decoded for display or export (no secret can be in it: see
/// `keyhold-audit`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Position in the chain.
    pub seq: u64,
    /// Unix milliseconds.
    pub time_ms: i64,
    /// Dotted action.
    pub action: String,
    /// Workspace id.
    pub workspace: Option<String>,
    /// Who.
    pub actor: String,
    /// With which key.
    pub key_id: Option<String>,
    /// Through which surface.
    pub surface: String,
    /// From where.
    pub source: Option<String>,
    /// On what.
    pub target: Option<String>,
    /// `success` or the failure code.
    pub outcome: String,
    /// Request id.
    pub request_id: String,
    /// Extra public facts.
    pub details: serde_json::Map<String, serde_json::Value>,
    /// Chain hash (hex).
    pub hash: String,
}

impl AuditEntry {
    /// The stored `row`, checked and decoded for listing: its hash must be its event's link
    /// (under `key`) after its stored `prev`, and its filter columns must say what its event
    /// says — so a row cannot be shown under another actor, key, workspace or time. (Whether
    /// the rows before it are intact is `audit verify`'s question.)
    pub fn checked(key: &AuditKey, row: &StoredAuditRow<'_>) -> Result<Self, RowError> {
        let seq = row.seq;
        let linked = <&[u8; 32]>::try_from(row.prev)
            .is_ok_and(|prev| key.link_hash(seq, prev, row.event).as_slice() == row.hash);
        if !linked {
            return Err(RowError::Unlinked { seq });
        }
        let view = crate::canonical::view(row.event, |_, _| {})
            .map_err(|_| RowError::Undecodable { seq })?;
        check_columns(seq, &row.columns, &view)?;
        Self::decode(seq, row.event, row.hash).map_err(|_| RowError::Undecodable { seq })
    }

    /// Decodes row `seq` from its canonical event and chain hash (this checks neither the
    /// hash nor the row's columns: the caller does, before showing it).
    pub fn decode(seq: u64, canonical: &[u8], hash: &[u8]) -> Result<Self, AuditError> {
        let e = Event::from_canonical(canonical)?;
        let details = e
            .details
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    DetailValue::Text(t) => serde_json::Value::from(t.as_str()),
                    DetailValue::Int(i) => serde_json::Value::from(*i),
                    DetailValue::Bool(b) => serde_json::Value::from(*b),
                };
                (k.as_str().to_owned(), v)
            })
            .collect();
        Ok(Self {
            seq,
            time_ms: e.time_ms,
            action: e.action.as_str().to_owned(),
            workspace: e.workspace.map(|w| w.as_str().to_owned()),
            actor: e.actor.sub.as_str().to_owned(),
            key_id: e.actor.key_id.map(|k| k.as_str().to_owned()),
            surface: e.actor.surface.as_str().to_owned(),
            source: e.actor.source.map(|s| s.as_str().to_owned()),
            target: e.target.map(|t| t.as_str().to_owned()),
            outcome: match &e.outcome {
                Outcome::Success => "success".to_owned(),
                Outcome::Failure(code) => code.as_str().to_owned(),
            },
            request_id: e.request_id.as_str().to_owned(),
            details,
            hash: crate::hex::encode(hash),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, Actor, DetailName, Details, PublicText, ReasonCode, Surface};

    #[test]
    fn an_entry_says_what_its_event_says() {
        let t = |s: &str| PublicText::new(s).unwrap();
        let mut d = Details::new();
        d.insert(DetailName::new("suppressed").unwrap(), 4i64)
            .unwrap();
        let e = Event::new(
            7,
            Actor::new(t("svc"), Surface::Http).with_key_id(t("key_1")),
            Action::KeyRejected,
            t("req_1"),
        )
        .with_outcome(Outcome::Failure(ReasonCode::new("token_expired").unwrap()))
        .with_details(d);
        let entry = AuditEntry::decode(3, &e.to_canonical(), &[0xab, 0x01]).unwrap();
        assert_eq!(
            (entry.seq, entry.time_ms, entry.action.as_str()),
            (3, 7, "key.rejected")
        );
        assert_eq!(
            (entry.surface.as_str(), entry.outcome.as_str()),
            ("http", "token_expired")
        );
        assert_eq!(entry.key_id.as_deref(), Some("key_1"));
        assert_eq!(entry.details["suppressed"], serde_json::json!(4));
        assert_eq!(entry.hash, "ab01");
        assert!(AuditEntry::decode(3, b"\x02", &[]).is_err());
    }

    #[test]
    fn a_listed_row_must_be_linked_and_say_what_its_event_says() {
        let t = |s: &str| PublicText::new(s).unwrap();
        let key = AuditKey::from_bytes(&[7; 32]).unwrap();
        let e = Event::new(
            9,
            Actor::new(t("op"), Surface::Cli),
            Action::KeyUsed,
            t("req_1"),
        );
        let sealed = crate::AuditChain::new(&key, crate::ChainHead::GENESIS)
            .append(&e)
            .unwrap();
        let row = StoredAuditRow {
            seq: sealed.link.seq,
            prev: &sealed.link.prev,
            hash: &sealed.link.hash,
            event: &sealed.canonical,
            columns: crate::Columns::of(&e),
        };
        assert_eq!(AuditEntry::checked(&key, &row).unwrap().action, "key.used");
        let mut edited = row;
        edited.columns.actor = "someone";
        assert_eq!(
            AuditEntry::checked(&key, &edited).unwrap_err(),
            RowError::ColumnsEdited { seq: 1 }
        );
        let unlinked = StoredAuditRow {
            hash: &[0; 32],
            ..row
        };
        let err = AuditEntry::checked(&key, &unlinked).unwrap_err();
        assert_eq!(err.to_string(), "its hash does not match its event");
    }
}
