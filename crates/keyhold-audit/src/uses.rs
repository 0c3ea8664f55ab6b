//! What a batch of use records says about when each key was last used.

use std::collections::BTreeMap;

use crate::{Action, DetailValue, Event};

/// The last-used time (Unix seconds) of every key a batch of events used, in key order: the
/// key a `key.used` event's actor acted with, and the service key named by an
/// `introspected_by` detail (the service that introspected a token used its own key in the
/// same row). One entry per key, with its newest time.
pub fn last_used(events: &[Event]) -> BTreeMap<&str, i64> {
    let mut last: BTreeMap<&str, i64> = BTreeMap::new();
    for e in events {
        if e.action == Action::KeyUsed
            && let Some(k) = &e.actor.key_id
        {
            note(&mut last, k.as_str(), e.time_ms);
        }
        if let Some(DetailValue::Text(k)) = e.details.get("introspected_by") {
            note(&mut last, k.as_str(), e.time_ms);
        }
    }
    last
}

/// The last-used time (Unix seconds) of every connection whose credential a batch handed out
/// (`credential.read`), by workspace and connection name, with its newest time.
pub fn connections_read(events: &[Event]) -> BTreeMap<(&str, &str), i64> {
    let mut last: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for e in events {
        if e.action == Action::CredentialRead
            && let (Some(ws), Some(name)) = (&e.workspace, &e.target)
        {
            let t = last.entry((ws.as_str(), name.as_str())).or_insert(0);
            *t = (*t).max(e.time_ms / 1000);
        }
    }
    last
}

fn note<'e>(last: &mut BTreeMap<&'e str, i64>, key: &'e str, time_ms: i64) {
    let t = last.entry(key).or_insert(0);
    *t = (*t).max(time_ms / 1000);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, DetailName, Details, PublicText, Surface};

    fn t(s: &str) -> PublicText {
        PublicText::new(s).unwrap()
    }

    fn used(key: &str, time_ms: i64, action: Action) -> Event {
        Event::new(
            time_ms,
            Actor::new(t("svc"), Surface::Http).with_key_id(t(key)),
            action,
            t("r"),
        )
    }

    #[test]
    fn each_key_gets_its_newest_use_in_seconds() {
        let mut introspection = used("key_c", 9_500, Action::KeyRejected);
        let mut d = Details::new();
        d.insert(DetailName::new("introspected_by").unwrap(), t("key_svc"))
            .unwrap();
        introspection = introspection.with_details(d);
        let events = [
            used("key_a", 3_999, Action::KeyUsed),
            used("key_a", 2_000, Action::KeyUsed),
            used("key_b", 1_000, Action::KeyRevoked),
            introspection,
        ];
        let last = last_used(&events);
        let got: Vec<(&str, i64)> = last.into_iter().collect();
        assert_eq!(got, [("key_a", 3), ("key_svc", 9)]);
    }
}
