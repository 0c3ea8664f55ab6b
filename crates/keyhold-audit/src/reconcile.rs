//! Replays: a row MAC cannot tell an older authentic copy of a row from the current one. The
//! audit chain can: `audit verify` folds the chain into what it says last happened to every
//! key, workspace and signing key ([`Reconciler::push`], one verified event at a time), and
//! compares that with the rows as they stand ([`Reconciler::check`], given as plain values:
//! this crate reads no database). The first disagreement names the row and the audit record.

use std::collections::{BTreeMap, BTreeSet};

use crate::Action;
use crate::canonical::{ValueView, View};

/// A disagreement between the chain and the rows: which row, and what is wrong (the audit
/// record it contradicts is named in `detail`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct Disagreement {
    /// The row (`api key ID`, `workspace ID`, `signing key KID`, `meta mint_counter`).
    pub what: String,
    /// What the chain says and the row does not.
    pub detail: String,
}

/// An API key's row as it stands: the facts reconciliation compares.
#[derive(Debug, Clone, Copy)]
pub struct KeyRow<'a> {
    /// The key id.
    pub jti: &'a str,
    /// Its mint sequence number.
    pub mint_seq: i64,
    /// Whether the row says it is revoked.
    pub revoked: bool,
}

/// A workspace's row as it stands.
#[derive(Debug, Clone, Copy)]
pub struct WorkspaceRow<'a> {
    /// The workspace id.
    pub id: &'a str,
    /// Its revoke-all mark, if any.
    pub revoked_all_seq: Option<i64>,
}

/// A signing key's row as it stands.
#[derive(Debug, Clone, Copy)]
pub struct SigningKeyRow<'a> {
    /// The key id.
    pub kid: &'a str,
    /// Whether it is the active signing key.
    pub active: bool,
}

#[derive(Debug, Default)]
struct KeyHistory {
    created: u64,
    revoked: Option<u64>,
    /// Its mint sequence number, as recorded when it was created (absent in old records).
    mint_seq: Option<i64>,
}

#[derive(Debug, Default)]
struct WorkspaceHistory {
    created: Option<u64>,
    /// The newest revoke-all's mark and its record; `None` inside for a revoke-all recorded
    /// before marks were sequence numbers (its mark cannot be compared).
    revoked_through: Option<(u64, Option<i64>)>,
}

/// The details of an event that reconciliation reads (collected while the event is read).
#[derive(Debug, Default)]
pub struct Details<'a> {
    mint_seq: Option<i64>,
    revoked_through: Option<i64>,
    signing_key: Option<&'a str>,
    signing_keys_deleted: Option<&'a str>,
    rows_authenticated: bool,
}

impl<'a> Details<'a> {
    /// Notes one detail of the event being read (the others are ignored).
    pub fn note(&mut self, name: &'a str, value: ValueView<'a>) {
        match (name, value) {
            ("mint_seq", ValueView::Int(n)) => self.mint_seq = Some(n),
            ("revoked_through", ValueView::Int(n)) => self.revoked_through = Some(n),
            ("signing_key", ValueView::Text(kid)) => self.signing_key = Some(kid),
            ("signing_keys_deleted", ValueView::Text(kids)) => {
                self.signing_keys_deleted = Some(kids);
            }
            ("rows_authenticated", ValueView::Bool(b)) => self.rows_authenticated = b,
            _ => {}
        }
    }
}

/// What the chain says, folded row by row.
#[derive(Debug, Default)]
pub struct Reconciler {
    keys: BTreeMap<String, KeyHistory>,
    workspaces: BTreeMap<String, WorkspaceHistory>,
    /// The newest signing key the chain named (created or rotated to): its record and id.
    active_signing_key: Option<(u64, String)>,
    /// Every signing key the chain named.
    signing_keys: BTreeSet<String>,
    /// Signing keys the chain deleted, with the record that did.
    signing_keys_deleted: BTreeMap<String, u64>,
    /// Keys in the order the chain created them, per workspace: (jti, mint_seq).
    minted: BTreeMap<String, Vec<(String, i64)>>,
    /// The first revoke-all whose mark left out a key created before it.
    short_mark: Option<(u64, String, i64, i64)>,
    /// Whether the chain records that the store's rows are authenticated.
    rows_authenticated: bool,
    /// The highest mint number the chain recorded: its record, the key and the number.
    highest_minted: Option<(u64, String, i64)>,
}

fn disagreement(what: String, detail: String) -> Disagreement {
    Disagreement { what, detail }
}

impl Reconciler {
    /// Folds one verified event (record `seq`) in.
    pub fn push(&mut self, seq: u64, e: &View<'_>, d: &Details<'_>) {
        if e.failure.is_some() {
            return;
        }
        self.note_signing_keys(seq, d);
        // Only these actions change what is reconciled (key uses, the bulk of a log, do not).
        if !matches!(
            e.action,
            Action::KeyCreated
                | Action::KeyRevoked
                | Action::KeysRevokedAll
                | Action::WorkspaceCreated
                | Action::SigningKeyRotated
                | Action::SigningKeyCreated
                | Action::RowsAuthenticated
        ) {
            return;
        }
        let target = e.target.map(str::to_owned);
        let workspace = e.workspace.map(str::to_owned);
        match (e.action, target, workspace) {
            (Action::KeyCreated, Some(jti), ws) => self.key_created(seq, jti, ws, d.mint_seq),
            (Action::KeyRevoked, Some(jti), _) => {
                let k = self.keys.entry(jti).or_default();
                k.revoked.get_or_insert(seq);
            }
            (Action::KeysRevokedAll, _, Some(ws)) => self.revoked_all(seq, ws, d.revoked_through),
            (Action::WorkspaceCreated, _, Some(ws)) => {
                self.workspaces.entry(ws).or_default().created = Some(seq);
            }
            (Action::SigningKeyRotated | Action::SigningKeyCreated, Some(kid), _) => {
                self.signing_keys.insert(kid.clone());
                self.active_signing_key = Some((seq, kid));
            }
            (Action::RowsAuthenticated, _, _) => self.rows_authenticated = true,
            _ => {}
        }
    }

    /// The details any event may carry about signing keys and authenticated rows.
    fn note_signing_keys(&mut self, seq: u64, d: &Details<'_>) {
        // A signing key the operation created first (`init`, or a mint with none active).
        if let Some(kid) = d.signing_key {
            self.signing_keys.insert(kid.to_owned());
            self.active_signing_key = Some((seq, kid.to_owned()));
        }
        if d.rows_authenticated {
            self.rows_authenticated = true;
        }
        for kid in d
            .signing_keys_deleted
            .into_iter()
            .flat_map(|l| l.split(' '))
        {
            self.signing_keys_deleted.insert(kid.to_owned(), seq);
        }
    }

    fn key_created(&mut self, seq: u64, jti: String, ws: Option<String>, mint_seq: Option<i64>) {
        if let Some(m) = mint_seq
            && self.highest_minted.as_ref().is_none_or(|(_, _, h)| m > *h)
        {
            self.highest_minted = Some((seq, jti.clone(), m));
        }
        if let (Some(ws), Some(m)) = (ws, mint_seq) {
            self.minted.entry(ws).or_default().push((jti.clone(), m));
        }
        self.keys.insert(
            jti,
            KeyHistory {
                created: seq,
                revoked: None,
                mint_seq,
            },
        );
    }

    fn revoked_all(&mut self, seq: u64, ws: String, mark: Option<i64>) {
        // Every key the chain created before this revoke-all must be under its mark: a mark
        // taken while the newest rows were hidden would leave one out.
        if let Some(m) = mark
            && self.short_mark.is_none()
            && let Some((jti, s)) = self
                .minted
                .get(&ws)
                .and_then(|keys| keys.iter().find(|(_, s)| *s > m))
        {
            self.short_mark = Some((seq, jti.clone(), *s, m));
        }
        let w = self.workspaces.entry(ws).or_default();
        let newer = match (w.revoked_through, mark) {
            (Some((_, Some(old))), Some(new)) => new >= old,
            _ => true,
        };
        if newer {
            w.revoked_through = Some((seq, mark));
        }
    }

    /// Whether the chain records that the store's rows are authenticated (see
    /// `Action::RowsAuthenticated`).
    pub fn rows_authenticated(&self) -> bool {
        self.rows_authenticated
    }

    /// The mint counter must be at least the highest number the chain handed out: a lower
    /// one was put back (and would let a revoke-all's mark fall short).
    pub fn check_mint_counter(&self, counter: i64) -> Result<(), Disagreement> {
        match &self.highest_minted {
            Some((seq, jti, m)) if counter < *m => Err(disagreement(
                "meta mint_counter".into(),
                format!(
                    "it is {counter}, but audit record {seq} minted key {jti} with number {m}: \
                     an older copy was put back"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Whether the chain names signing key `kid` (created or rotated to).
    pub fn names_signing_key(&self, kid: &str) -> bool {
        self.signing_keys.contains(kid)
    }

    /// Compares the rows as they stand with the chain; the first disagreement, if any.
    pub fn check(
        &self,
        keys: &[KeyRow<'_>],
        workspaces: &[WorkspaceRow<'_>],
        signing_keys: &[SigningKeyRow<'_>],
    ) -> Result<(), Disagreement> {
        if let Some((seq, jti, s, mark)) = &self.short_mark {
            return Err(disagreement(
                format!("api key {jti}"),
                format!(
                    "created before the revoke-all of audit record {seq} (mint sequence {s}), \
                     but that revoke-all's mark is {mark}: rows or the mint counter were \
                     hidden or put back when it ran"
                ),
            ));
        }
        self.check_keys(keys)?;
        self.check_workspaces(workspaces)?;
        self.check_signing_keys(signing_keys)
    }

    fn check_keys(&self, keys: &[KeyRow<'_>]) -> Result<(), Disagreement> {
        let mut present = BTreeSet::new();
        for row in keys {
            present.insert(row.jti);
            let what = || format!("api key {}", row.jti);
            let Some(h) = self.keys.get(row.jti).filter(|h| h.created > 0) else {
                return Err(disagreement(
                    what(),
                    "the audit chain records no key.created for it".into(),
                ));
            };
            if let Some(m) = h.mint_seq
                && m != row.mint_seq
            {
                return Err(disagreement(
                    what(),
                    format!(
                        "its mint sequence number is {}, but audit record {} created it with {m}",
                        row.mint_seq, h.created
                    ),
                ));
            }
            match (h.revoked, row.revoked) {
                (Some(seq), false) => {
                    return Err(disagreement(
                        what(),
                        format!(
                            "the audit chain records its revocation (audit record {seq}) but \
                             its row says it is not revoked: an older copy of the row was put back"
                        ),
                    ));
                }
                (None, true) => {
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
        Ok(())
    }

    fn check_workspaces(&self, workspaces: &[WorkspaceRow<'_>]) -> Result<(), Disagreement> {
        let mut present = BTreeSet::new();
        for ws in workspaces {
            present.insert(ws.id);
            let what = || format!("workspace {}", ws.id);
            let recorded = self.workspaces.get(ws.id);
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
                && !present.contains(id.as_str())
            {
                return Err(disagreement(
                    format!("workspace {id}"),
                    format!("created in audit record {seq}, but its row is gone"),
                ));
            }
        }
        Ok(())
    }

    fn check_signing_keys(&self, signing_keys: &[SigningKeyRow<'_>]) -> Result<(), Disagreement> {
        if self.rows_authenticated
            && let Some(k) = signing_keys
                .iter()
                .find(|k| !self.signing_keys.contains(k.kid))
        {
            return Err(disagreement(
                format!("signing key {}", k.kid),
                "the audit chain never created or rotated to it".into(),
            ));
        }
        if let Some((k, seq)) = signing_keys
            .iter()
            .find_map(|k| self.signing_keys_deleted.get(k.kid).map(|s| (k, s)))
        {
            return Err(disagreement(
                format!("signing key {}", k.kid),
                format!("audit record {seq} deleted it, but its row is back"),
            ));
        }
        if let Some((seq, kid)) = &self.active_signing_key {
            let active: Vec<&str> = signing_keys
                .iter()
                .filter(|k| k.active)
                .map(|k| k.kid)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, DetailName, Event, PublicText, Surface};

    fn t(s: &str) -> PublicText {
        PublicText::new(s).unwrap()
    }

    fn key_event(action: Action, jti: &str, mint_seq: Option<i64>) -> Event {
        let mut e = Event::new(1, Actor::new(t("op"), Surface::Cli), action, t("req_1"))
            .with_workspace(t("ws_1"))
            .with_target(t(jti));
        if let Some(m) = mint_seq {
            let mut d = crate::Details::new();
            d.insert(DetailName::new("mint_seq").unwrap(), m).unwrap();
            e = e.with_details(d);
        }
        e
    }

    fn fold(events: &[Event]) -> Reconciler {
        let mut r = Reconciler::default();
        for (seq, e) in (1u64..).zip(events) {
            let bytes = e.to_canonical();
            let mut d = Details::default();
            let v = crate::canonical::view(&bytes, |n, val| d.note(n, val)).unwrap();
            r.push(seq, &v, &d);
        }
        r
    }

    #[test]
    fn a_revocation_the_row_forgot_is_named_with_its_record() {
        let r = fold(&[
            key_event(Action::KeyCreated, "key_1", Some(1)),
            key_event(Action::KeyRevoked, "key_1", None),
        ]);
        let row = |revoked| KeyRow {
            jti: "key_1",
            mint_seq: 1,
            revoked,
        };
        let d = r.check(&[row(false)], &[], &[]).unwrap_err();
        assert_eq!(d.what, "api key key_1");
        assert!(d.detail.contains("audit record 2"), "{}", d.detail);
        r.check(&[row(true)], &[], &[]).unwrap();
        let gone = r.check(&[], &[], &[]).unwrap_err();
        assert!(gone.detail.contains("its row is gone"), "{}", gone.detail);
    }

    #[test]
    fn a_mint_counter_below_the_chains_highest_number_was_put_back() {
        let r = fold(&[key_event(Action::KeyCreated, "key_7", Some(7))]);
        r.check_mint_counter(7).unwrap();
        let d = r.check_mint_counter(6).unwrap_err();
        assert_eq!(d.what, "meta mint_counter");
        assert!(d.detail.contains("key_7"), "{}", d.detail);
    }
}
