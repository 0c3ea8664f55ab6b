//! Realistic events for the integration tests.
#![allow(dead_code)]

use keyhold_audit::{
    Action, Actor, AuditChain, AuditKey, ChainHead, DetailName, Details, Event, Outcome,
    PublicText, ReasonCode, StoredRow, Surface,
};

pub fn t(s: &str) -> PublicText {
    PublicText::new(s).unwrap()
}

/// The `i`-th event of a plausible log: mostly key uses, some rejections and admin actions.
pub fn event(i: u64) -> Event {
    let actions = [
        Action::KeyUsed,
        Action::KeyUsed,
        Action::KeyUsed,
        Action::KeyRejected,
        Action::KeyCreated,
        Action::RecordWritten,
    ];
    let action = actions[(i % actions.len() as u64) as usize];
    let actor = Actor::new(t(&format!("svc-{}", i % 7)), Surface::Http)
        .with_key_id(t(&format!("key_{:016x}", i % 13)))
        .with_source(t("10.0.3.17"));
    let mut details = Details::new();
    details
        .insert(DetailName::new("scope").unwrap(), t("read:queries"))
        .unwrap();
    details
        .insert(DetailName::new("latency_us").unwrap(), (i % 900) as i64)
        .unwrap();
    let mut e = Event::new(
        1_700_000_000_000 + i as i64 * 37,
        actor,
        action,
        t(&format!("req_{i:012}")),
    )
    .with_workspace(t("ws_prod_1a2b3c"))
    .with_target(t(&format!("qry_{}", i % 101)))
    .with_details(details);
    if action == Action::KeyRejected {
        e = e.with_outcome(Outcome::Failure(ReasonCode::new("token_expired").unwrap()));
    }
    e
}

/// A chain of `n` events from genesis, as stored rows, and its head.
pub fn chain(key: &AuditKey, n: u64) -> (Vec<StoredRow>, ChainHead) {
    let events: Vec<Event> = (1..=n).map(event).collect();
    let mut chain = AuditChain::new(key, ChainHead::GENESIS);
    // Batches of 100, as the writer commits them.
    let mut rows = Vec::with_capacity(n as usize);
    for batch in events.chunks(100) {
        rows.extend(
            chain
                .append_batch(batch)
                .unwrap()
                .into_iter()
                .map(StoredRow::from),
        );
    }
    (rows, chain.head())
}

pub fn key(byte: u8) -> AuditKey {
    AuditKey::from_bytes(&[byte; 32]).unwrap()
}
