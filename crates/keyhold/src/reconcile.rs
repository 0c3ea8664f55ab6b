//! Replays: a row MAC cannot tell an older authentic copy of a row from the current one. The
//! audit chain can: `audit verify` folds the chain into what it says last happened to every
//! key, workspace and signing key, and compares that with the rows as they stand. The first
//! disagreement is an integrity error naming the row and the audit record.

use std::collections::BTreeMap;

use keyhold_audit::{Action, DetailValue, Event, Outcome};
use keyhold_store::{ApiKeyRow, SigningKeyRow, SigningKeyState, WorkspaceRow};

use crate::Error;

#[derive(Default)]
struct KeyHistory {
    created: u64,
    revoked: Option<u64>,
}

#[derive(Default)]
struct WorkspaceHistory {
    created: Option<u64>,
    /// The newest revoke-all's mark and its record; `None` inside for a revoke-all recorded
    /// before marks were sequence numbers (its mark cannot be compared).
    revoked_through: Option<(u64, Option<i64>)>,
}

/// What the chain says, folded row by row.
#[derive(Default)]
pub(crate) struct Reconciler {
    keys: BTreeMap<String, KeyHistory>,
    workspaces: BTreeMap<String, WorkspaceHistory>,
    /// The newest signing-key rotation: its record and the new key's id.
    active_signing_key: Option<(u64, String)>,
}

fn disagreement(what: String, detail: String) -> Error {
    Error::Integrity { what, detail }
}

impl Reconciler {
    /// Folds one verified event (record `seq`) in.
    pub(crate) fn push(&mut self, seq: u64, e: &Event) {
        if e.outcome != Outcome::Success {
            return;
        }
        let target = e.target.as_ref().map(|t| t.as_str().to_owned());
        let workspace = e.workspace.as_ref().map(|w| w.as_str().to_owned());
        match (e.action, target, workspace) {
            (Action::KeyCreated, Some(jti), _) => {
                self.keys.insert(
                    jti,
                    KeyHistory {
                        created: seq,
                        revoked: None,
                    },
                );
            }
            (Action::KeyRevoked, Some(jti), _) => {
                let k = self.keys.entry(jti).or_default();
                k.revoked.get_or_insert(seq);
            }
            (Action::KeysRevokedAll, _, Some(ws)) => {
                let mark = match e.details.get("revoked_through") {
                    Some(DetailValue::Int(m)) => Some(*m),
                    _ => None,
                };
                let w = self.workspaces.entry(ws).or_default();
                let newer = match (w.revoked_through, mark) {
                    (Some((_, Some(old))), Some(new)) => new >= old,
                    _ => true,
                };
                if newer {
                    w.revoked_through = Some((seq, mark));
                }
            }
            (Action::WorkspaceCreated, _, Some(ws)) => {
                self.workspaces.entry(ws).or_default().created = Some(seq);
            }
            (Action::SigningKeyRotated, Some(kid), _) => {
                self.active_signing_key = Some((seq, kid));
            }
            _ => {}
        }
    }

    /// Compares the rows as they stand with the chain; the first disagreement, if any.
    pub(crate) fn check(
        &self,
        keys: &[ApiKeyRow],
        workspaces: &[WorkspaceRow],
        signing_keys: &[SigningKeyRow],
    ) -> Result<(), Error> {
        let mut present = std::collections::BTreeSet::new();
        for row in keys {
            present.insert(row.jti.as_str());
            let what = || format!("api key {}", row.jti);
            let Some(h) = self.keys.get(&row.jti).filter(|h| h.created > 0) else {
                return Err(disagreement(
                    what(),
                    "the audit chain records no key.created for it".into(),
                ));
            };
            match (h.revoked, row.revoked_at_ms) {
                (Some(seq), None) => {
                    return Err(disagreement(
                        what(),
                        format!(
                            "the audit chain records its revocation (audit record {seq}) but \
                             its row says it is not revoked: an older copy of the row was put back"
                        ),
                    ));
                }
                (None, Some(_)) => {
                    return Err(disagreement(
                        what(),
                        "its row says revoked, but the audit chain records no revocation".into(),
                    ));
                }
                _ => {}
            }
        }
        for (jti, h) in &self.keys {
            if h.created > 0 && !present.contains(jti.as_str()) {
                return Err(disagreement(
                    format!("api key {jti}"),
                    format!("created in audit record {}, but its row is gone", h.created),
                ));
            }
        }
        let mut ws_present = std::collections::BTreeSet::new();
        for ws in workspaces {
            ws_present.insert(ws.id.as_str());
            let what = || format!("workspace {}", ws.id);
            let recorded = self.workspaces.get(&ws.id);
            match (recorded.and_then(|w| w.revoked_through), ws.revoked_all_seq) {
                (Some((seq, Some(mark))), stored) if stored != Some(mark) => {
                    return Err(disagreement(
                        what(),
                        format!(
                            "its revoke-all mark is {}, but audit record {seq} set it to {mark}: \
                             the mark was edited or an older copy of the row was put back",
                            stored.map_or_else(|| "unset".to_owned(), |m| m.to_string())
                        ),
                    ));
                }
                (None, Some(_)) => {
                    return Err(disagreement(
                        what(),
                        "it has a revoke-all mark, but the audit chain records no revoke-all"
                            .into(),
                    ));
                }
                _ => {}
            }
        }
        for (id, w) in &self.workspaces {
            if let Some(seq) = w.created
                && !ws_present.contains(id.as_str())
            {
                return Err(disagreement(
                    format!("workspace {id}"),
                    format!("created in audit record {seq}, but its row is gone"),
                ));
            }
        }
        if let Some((seq, kid)) = &self.active_signing_key {
            let active: Vec<&str> = signing_keys
                .iter()
                .filter(|k| k.state == SigningKeyState::Active)
                .map(|k| k.kid.as_str())
                .collect();
            if active != [kid.as_str()] {
                return Err(disagreement(
                    format!("signing key {kid}"),
                    format!(
                        "audit record {seq} made it the active signing key, but the active \
                         one is {}",
                        if active.is_empty() {
                            "none".to_owned()
                        } else {
                            active.join(", ")
                        }
                    ),
                ));
            }
        }
        Ok(())
    }
}
