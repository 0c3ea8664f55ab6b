//! The canonical encoding: round trips, injectivity, strictness, and never panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{event, t};
use keyhold_audit::canonical::{MAX_ENCODED_LEN, VERSION};
use keyhold_audit::{
    Action, Actor, AuditError, DetailName, DetailValue, Details, Event, Outcome, PublicText,
    ReasonCode, Surface,
};
use proptest::prelude::*;

fn minimal() -> Event {
    Event::new(
        0,
        Actor::new(t("a"), Surface::Cli),
        Action::KeyCreated,
        t("r"),
    )
}

#[test]
fn round_trip_of_realistic_and_minimal_events() {
    for e in (0..50).map(event).chain([minimal()]) {
        let bytes = e.to_canonical();
        assert_eq!(bytes[0], VERSION);
        assert_eq!(Event::from_canonical(&bytes).unwrap(), e);
    }
}

#[test]
fn minimal_event_has_the_documented_layout() {
    let mut expect = vec![1u8];
    expect.extend_from_slice(&0i64.to_be_bytes());
    expect.push(0); // workspace absent
    expect.extend_from_slice(&[0, 0, 0, 1, b'a']); // sub
    expect.push(0); // key_id absent
    expect.extend_from_slice(&[0, 0, 0, 3]);
    expect.extend_from_slice(b"cli");
    expect.push(0); // source absent
    expect.extend_from_slice(&[0, 0, 0, 11]);
    expect.extend_from_slice(b"key.created");
    expect.push(0); // target absent
    expect.push(0); // success
    expect.extend_from_slice(&[0, 0, 0, 1, b'r']); // request id
    expect.extend_from_slice(&[0, 0, 0, 0]); // no details
    assert_eq!(minimal().to_canonical(), expect);
}

/// Pairs of events a naive concatenation would confuse; each pair must encode differently.
#[test]
fn fields_that_could_be_confused_encode_differently() {
    let base = minimal();
    let mut pairs: Vec<(Event, Event)> = Vec::new();
    // Moving bytes between adjacent text fields.
    let mut a = base.clone();
    a.actor.sub = t("ab");
    a.actor.key_id = Some(t("c"));
    let mut b = base.clone();
    b.actor.sub = t("a");
    b.actor.key_id = Some(t("bc"));
    pairs.push((a, b));
    // The same text in workspace vs target.
    pairs.push((
        base.clone().with_workspace(t("x")),
        base.clone().with_target(t("x")),
    ));
    // key_id vs source.
    let mut a = base.clone();
    a.actor.key_id = Some(t("10.0.0.1"));
    let mut b = base.clone();
    b.actor.source = Some(t("10.0.0.1"));
    pairs.push((a, b));
    // Text "1" vs integer 1 vs bool true in a detail.
    let detail = |v: DetailValue| {
        let mut d = Details::new();
        d.insert(DetailName::new("n").unwrap(), v).unwrap();
        base.clone().with_details(d)
    };
    pairs.push((
        detail(DetailValue::Int(1)),
        detail(DetailValue::Text(t("1"))),
    ));
    pairs.push((detail(DetailValue::Int(1)), detail(DetailValue::Bool(true))));
    // Detail name/value boundary.
    let two = |n1: &str, v1: &str| {
        let mut d = Details::new();
        d.insert(DetailName::new(n1).unwrap(), t(v1)).unwrap();
        base.clone().with_details(d)
    };
    pairs.push((two("ab", "c"), two("a", "bc")));
    // Failure reason vs request id text.
    pairs.push((
        base.clone()
            .with_outcome(Outcome::Failure(ReasonCode::new("r").unwrap())),
        base.clone(),
    ));
    // Time sign.
    let mut a = base.clone();
    a.time_ms = -1;
    let mut b = base.clone();
    b.time_ms = i64::MAX;
    pairs.push((a, b));
    for (a, b) in pairs {
        assert_ne!(a, b);
        assert_ne!(a.to_canonical(), b.to_canonical(), "{a:?} vs {b:?}");
    }
}

#[test]
fn decoder_refuses_non_canonical_bytes() {
    let good = event(3).to_canonical();
    // Wrong version.
    let mut b = good.clone();
    b[0] = 2;
    assert!(matches!(
        Event::from_canonical(&b),
        Err(AuditError::Malformed { what: "version" })
    ));
    // Trailing byte.
    let mut b = good.clone();
    b.push(0);
    assert!(Event::from_canonical(&b).is_err());
    // Every truncation.
    for n in 0..good.len() {
        assert!(Event::from_canonical(&good[..n]).is_err(), "prefix {n}");
    }
    // Presence byte 2 for the workspace.
    let mut b = minimal().to_canonical();
    b[9] = 2;
    assert!(Event::from_canonical(&b).is_err());
    // Unsorted details: swap the two (sorted) detail entries of a hand-built encoding.
    let mut d = Details::new();
    d.insert(DetailName::new("a").unwrap(), true).unwrap();
    d.insert(DetailName::new("b").unwrap(), true).unwrap();
    let sorted = minimal().with_details(d).to_canonical();
    let entry = 4 + 1 + 1 + 1; // name "a" + tag + bool
    let cut = sorted.len() - 2 * entry;
    let mut swapped = sorted[..cut].to_vec();
    swapped.extend_from_slice(&sorted[cut + entry..]);
    swapped.extend_from_slice(&sorted[cut..cut + entry]);
    assert!(Event::from_canonical(&sorted).is_ok());
    assert!(matches!(
        Event::from_canonical(&swapped),
        Err(AuditError::Malformed {
            what: "detail order"
        })
    ));
    // A duplicated detail.
    let mut dup = sorted[..cut].to_vec();
    dup.extend_from_slice(&sorted[cut..cut + entry]);
    dup.extend_from_slice(&sorted[cut..cut + entry]);
    assert!(Event::from_canonical(&dup).is_err());
    // A control character smuggled into the stored text.
    let mut b = minimal().to_canonical();
    let sub_at = 1 + 8 + 1 + 4;
    assert_eq!(b[sub_at], b'a');
    b[sub_at] = b'\n';
    assert!(Event::from_canonical(&b).is_err());
    // Oversized input is refused before parsing.
    assert!(Event::from_canonical(&vec![1u8; MAX_ENCODED_LEN + 1]).is_err());
    // An unknown action name.
    let b = minimal().to_canonical();
    let pos = b.windows(11).position(|w| w == b"key.created").unwrap();
    let mut b2 = b.clone();
    b2[pos..pos + 11].copy_from_slice(b"key.crashed");
    assert!(matches!(
        Event::from_canonical(&b2),
        Err(AuditError::Malformed { what: "action" })
    ));
}

fn text() -> impl Strategy<Value = PublicText> {
    prop_oneof![
        "[ -~]{1,24}",
        "\\PC{1,12}",
        Just("x".repeat(PublicText::MAX_LEN)),
    ]
    .prop_filter_map("not public text", |s| PublicText::new(&s).ok())
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,12}"
}

fn value() -> impl Strategy<Value = DetailValue> {
    prop_oneof![
        text().prop_map(DetailValue::Text),
        any::<i64>().prop_map(DetailValue::Int),
        any::<bool>().prop_map(DetailValue::Bool),
    ]
}

fn arb_event() -> impl Strategy<Value = Event> {
    let actor = (
        text(),
        proptest::option::of(text()),
        proptest::sample::select(Surface::ALL.to_vec()),
        proptest::option::of(text()),
    )
        .prop_map(|(sub, key_id, surface, source)| {
            let mut a = Actor::new(sub, surface);
            a.key_id = key_id;
            a.source = source;
            a
        });
    (
        any::<i64>(),
        proptest::option::of(text()),
        actor,
        proptest::sample::select(Action::ALL.to_vec()),
        proptest::option::of(text()),
        proptest::option::of(name()),
        text(),
        proptest::collection::vec((name(), value()), 0..6),
    )
        .prop_map(
            |(time_ms, workspace, actor, action, target, failure, request_id, details)| {
                let mut e = Event::new(time_ms, actor, action, request_id);
                e.workspace = workspace;
                e.target = target;
                if let Some(code) = failure {
                    e.outcome = Outcome::Failure(ReasonCode::new(&code).unwrap());
                }
                for (n, v) in details {
                    e.details.insert(DetailName::new(&n).unwrap(), v).unwrap();
                }
                e
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn decode_inverts_encode(e in arb_event()) {
        let bytes = e.to_canonical();
        prop_assert_eq!(Event::from_canonical(&bytes).unwrap(), e);
    }

    /// Arbitrary bytes never panic, and whatever decodes re-encodes to exactly the same bytes
    /// (so no two byte strings decode to one event).
    #[test]
    fn arbitrary_bytes_never_panic_and_accepted_bytes_are_canonical(
        bytes in proptest::collection::vec(any::<u8>(), 0..300)
    ) {
        if let Ok(e) = Event::from_canonical(&bytes) {
            prop_assert_eq!(e.to_canonical(), bytes);
        }
    }

    /// Valid encodings with one byte changed: decoding never panics, and anything that still
    /// decodes is a different event with exactly those bytes.
    #[test]
    fn mutated_encodings_never_panic(e in arb_event(), at in any::<prop::sample::Index>(), x in 1u8..) {
        let mut bytes = e.to_canonical();
        let i = at.index(bytes.len());
        bytes[i] ^= x;
        if let Ok(d) = Event::from_canonical(&bytes) {
            prop_assert_ne!(&d, &e);
            prop_assert_eq!(d.to_canonical(), bytes);
        }
    }
}
