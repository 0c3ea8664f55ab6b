//! Each transition of the rotation machine, and each refusal with its code.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use keyhold_rotation::{
    Connection, DEFAULT_GRACE_SECS, Effect, FailReason, Origin, RotateStep, RotationError,
    SlotName::{Primary, Secondary},
    SlotState, Verdict, Version,
};

const GRACE: u64 = DEFAULT_GRACE_SECS;

/// A connection whose primary slot holds active version 1 since time 0.
fn saved() -> Connection {
    let mut c = Connection::new(GRACE);
    let v = c.update(Primary, 0, false).unwrap();
    c.test(Primary, v, Verdict::Pass, 0).unwrap();
    c.save(Primary, v, 0).unwrap();
    c
}

/// [`saved`], then version 2 in the secondary slot promoted at time 100: the primary is the
/// standby until 100 + the grace period.
fn rotated() -> Connection {
    let mut c = saved();
    let v = c.update(Secondary, 100, false).unwrap();
    c.test(Secondary, v, Verdict::Pass, 100).unwrap();
    c.save(Secondary, v, 100).unwrap();
    c
}

fn code<T: std::fmt::Debug>(r: Result<T, RotationError>) -> &'static str {
    r.unwrap_err().code()
}

#[test]
fn update_stages_a_new_version() {
    let mut c = Connection::new(GRACE);
    assert_eq!(c.slot(Primary), SlotState::Empty);
    let v = c.update(Primary, 5, false).unwrap();
    assert_eq!(v, Version::new(1));
    assert_eq!(c.last_version(), 1);
    let staged = SlotState::Staged {
        version: v,
        origin: Origin::Update,
    };
    assert_eq!(c.slot(Primary), staged);
    // Updating again replaces it with the next version: a test of the old one no longer counts.
    assert_eq!(c.update(Primary, 6, false).unwrap(), Version::new(2));
    assert_eq!(
        code(c.test(Primary, v, Verdict::Pass, 7)),
        "rotation_version_mismatch"
    );
}

#[test]
fn test_records_the_verdict_on_exactly_the_staged_version() {
    let mut c = Connection::new(GRACE);
    let v = c.update(Primary, 0, false).unwrap();
    c.test(Primary, v, Verdict::Fail(FailReason::Unreachable), 3)
        .unwrap();
    let failed = SlotState::Failed {
        version: v,
        origin: Origin::Update,
        at: 3,
        reason: FailReason::Unreachable,
    };
    assert_eq!(c.slot(Primary), failed);
    assert_eq!(FailReason::Unreachable.code(), "unreachable");
    c.test(Primary, v, Verdict::Pass, 4).unwrap();
    let tested = SlotState::Tested {
        version: v,
        origin: Origin::Update,
        at: 4,
    };
    assert_eq!(c.slot(Primary), tested);
    c.test(Primary, v, Verdict::Fail(FailReason::Rejected), 5)
        .unwrap();
    assert!(matches!(c.slot(Primary), SlotState::Failed { at: 5, .. }));
}

#[test]
fn save_promotes_and_the_old_active_becomes_the_standby_for_the_grace_period() {
    let c = saved();
    assert_eq!(c.active(), Some((Primary, Version::new(1))));
    assert_eq!(
        c.slot(Primary),
        SlotState::Active {
            version: Version::new(1),
            since: 0,
            tested: 0
        }
    );
    let c = rotated();
    assert_eq!(c.active(), Some((Secondary, Version::new(2))));
    let standby = SlotState::Standby {
        version: Version::new(1),
        until: 100 + GRACE,
    };
    assert_eq!(c.slot(Primary), standby);
    let both = vec![(Secondary, Version::new(2)), (Primary, Version::new(1))];
    assert_eq!(c.handed_out(100 + GRACE - 1), both);
    assert_eq!(
        c.handed_out(100 + GRACE),
        vec![(Secondary, Version::new(2))]
    );
}

#[test]
fn regenerate_is_written_ahead_and_resumed_with_the_same_version() {
    let mut c = saved();
    let e = c.begin_regenerate(Secondary, None, 10, false).unwrap();
    let v = Version::new(2);
    assert_eq!(
        e,
        Effect::SetAtTarget {
            slot: Secondary,
            version: v
        }
    );
    assert_eq!(c.slot(Secondary), SlotState::Regenerating { version: v });
    // A crash here: what the stored state asks for is the same effect, as often as asked.
    assert_eq!(c.pending(), vec![e]);
    assert_eq!(c.clone().pending(), vec![e]);
    c.confirm_regenerated(Secondary, v).unwrap();
    let staged = SlotState::Staged {
        version: v,
        origin: Origin::Regenerate,
    };
    assert_eq!(c.slot(Secondary), staged);
    assert!(c.pending().is_empty());
    // Confirming again (a second caller resuming the same intent) changes nothing.
    c.confirm_regenerated(Secondary, v).unwrap();
    assert_eq!(c.slot(Secondary), staged);
    assert_eq!(
        code(c.confirm_regenerated(Secondary, Version::new(9))),
        "rotation_version_mismatch"
    );
}

#[test]
fn a_rotation_is_planned_one_stored_transition_at_a_time() {
    let mut c = saved();
    let step = c.next_rotate_step(10, false).unwrap();
    assert_eq!(
        step,
        RotateStep::Regenerate {
            slot: Secondary,
            seen: None,
            force: false
        }
    );
    let e = c.begin_regenerate(Secondary, None, 10, false).unwrap();
    assert_eq!(
        c.next_rotate_step(11, false).unwrap(),
        RotateStep::SetAndConfirm(e)
    );
    let v = Version::new(2);
    c.confirm_regenerated(Secondary, v).unwrap();
    assert_eq!(
        c.next_rotate_step(12, false).unwrap(),
        RotateStep::Test {
            slot: Secondary,
            version: v
        }
    );
    c.test(Secondary, v, Verdict::Pass, 12).unwrap();
    assert_eq!(
        c.next_rotate_step(13, false).unwrap(),
        RotateStep::Save {
            slot: Secondary,
            version: v
        }
    );
    c.save(Secondary, v, 13).unwrap();
    assert_eq!(c.active(), Some((Secondary, v)));
    // The next rotation would replace the standby: not within its grace, unless forced.
    assert_eq!(code(c.next_rotate_step(14, false)), "rotation_grace_period");
    let forced = RotateStep::Regenerate {
        slot: Primary,
        seen: Some(Version::new(1)),
        force: true,
    };
    assert_eq!(c.next_rotate_step(14, true).unwrap(), forced);
    let after = RotateStep::Regenerate {
        slot: Primary,
        seen: Some(Version::new(1)),
        force: false,
    };
    assert_eq!(c.next_rotate_step(13 + GRACE, false).unwrap(), after);
}

#[test]
fn a_rotation_regenerates_an_operators_staged_credential_or_a_failed_one() {
    let mut c = saved();
    let v = c.update(Secondary, 1, false).unwrap();
    let fresh = RotateStep::Regenerate {
        slot: Secondary,
        seen: Some(v),
        force: false,
    };
    assert_eq!(c.next_rotate_step(2, false).unwrap(), fresh);
    let e = c.begin_regenerate(Secondary, Some(v), 2, false).unwrap();
    let Effect::SetAtTarget { version, .. } = e;
    c.confirm_regenerated(Secondary, version).unwrap();
    c.test(Secondary, version, Verdict::Fail(FailReason::Rejected), 3)
        .unwrap();
    let again = RotateStep::Regenerate {
        slot: Secondary,
        seen: Some(version),
        force: false,
    };
    assert_eq!(c.next_rotate_step(4, false).unwrap(), again);
}

#[test]
fn an_abandoned_regeneration_fails_the_slot_and_the_next_rotation_regenerates_it() {
    let mut c = regenerating();
    let v = Version::new(2);
    c.abandon_regenerate(Secondary, v, FailReason::Unreachable, 20)
        .unwrap();
    let failed = SlotState::Failed {
        version: v,
        origin: Origin::Regenerate,
        at: 20,
        reason: FailReason::Unreachable,
    };
    assert_eq!(c.slot(Secondary), failed);
    // Nothing is pending any more, the failed credential is not handed out nor savable, and
    // the active one is untouched.
    assert!(c.pending().is_empty());
    assert_eq!(c.handed_out(21), vec![(Primary, Version::new(1))]);
    assert_eq!(code(c.save(Secondary, v, 21)), "rotation_not_tested");
    // The next rotation regenerates the failed slot: a new version, a new intent.
    let again = RotateStep::Regenerate {
        slot: Secondary,
        seen: Some(v),
        force: false,
    };
    assert_eq!(c.next_rotate_step(22, false).unwrap(), again);
    let e = c.begin_regenerate(Secondary, Some(v), 22, false).unwrap();
    assert_eq!(
        e,
        Effect::SetAtTarget {
            slot: Secondary,
            version: Version::new(3)
        }
    );
    // A refused change is abandoned with its own reason.
    c.abandon_regenerate(Secondary, Version::new(3), FailReason::Rejected, 23)
        .unwrap();
    assert!(matches!(
        c.slot(Secondary),
        SlotState::Failed {
            reason: FailReason::Rejected,
            at: 23,
            ..
        }
    ));
    // Only a new passing test (the target did take it after all) makes it savable.
    c.test(Secondary, Version::new(3), Verdict::Pass, 24)
        .unwrap();
    c.save(Secondary, Version::new(3), 25).unwrap();
    assert_eq!(c.active(), Some((Secondary, Version::new(3))));
}

#[test]
fn only_the_regeneration_in_progress_of_exactly_that_version_is_abandoned() {
    let cases: Vec<(&str, Connection, Transition)> = vec![
        (
            "rotation_version_mismatch",
            regenerating(),
            Box::new(|c| c.abandon_regenerate(Secondary, Version::new(3), FailReason::Rejected, 1)),
        ),
        (
            "rotation_version_mismatch",
            saved(),
            Box::new(|c| c.abandon_regenerate(Secondary, Version::new(2), FailReason::Rejected, 1)),
        ),
        (
            "rotation_version_mismatch",
            staged(),
            Box::new(|c| c.abandon_regenerate(Secondary, Version::new(1), FailReason::Rejected, 1)),
        ),
        (
            "rotation_slot_active",
            saved(),
            Box::new(|c| c.abandon_regenerate(Primary, Version::new(1), FailReason::Rejected, 1)),
        ),
        (
            // An operator's staged credential is not a regeneration.
            "rotation_not_staged",
            staged(),
            Box::new(|c| c.abandon_regenerate(Secondary, Version::new(2), FailReason::Rejected, 1)),
        ),
        (
            // Confirmed: the target took it; there is no intent left to abandon.
            "rotation_not_staged",
            {
                let mut c = regenerating();
                c.confirm_regenerated(Secondary, Version::new(2)).unwrap();
                c
            },
            Box::new(|c| {
                c.abandon_regenerate(Secondary, Version::new(2), FailReason::Unreachable, 1)
            }),
        ),
        (
            // Abandoned already.
            "rotation_not_staged",
            {
                let mut c = regenerating();
                c.abandon_regenerate(Secondary, Version::new(2), FailReason::Unreachable, 1)
                    .unwrap();
                c
            },
            Box::new(|c| {
                c.abandon_regenerate(Secondary, Version::new(2), FailReason::Unreachable, 2)
            }),
        ),
        (
            "rotation_not_staged",
            rotated(),
            Box::new(|c| c.abandon_regenerate(Primary, Version::new(1), FailReason::Rejected, 101)),
        ),
    ];
    for (want, mut c, op) in cases {
        let before = c.clone();
        let e = op(&mut c).unwrap_err();
        assert_eq!(e.code(), want, "{e:?}");
        assert_eq!(
            c, before,
            "a refused abandon ({want}) changed the connection"
        );
    }
}

#[test]
fn a_rotation_regenerates_a_standby_slot_whose_regeneration_was_abandoned() {
    // The standby of a rotation, its grace over, is regenerated; setting it fails.
    let mut c = rotated();
    let after = 100 + GRACE;
    let step = c.next_rotate_step(after, false).unwrap();
    let RotateStep::Regenerate { slot, seen, force } = step else {
        panic!("{step:?}");
    };
    assert_eq!((slot, seen), (Primary, Some(Version::new(1))));
    let Effect::SetAtTarget { version, .. } = c.begin_regenerate(slot, seen, after, force).unwrap();
    c.abandon_regenerate(Primary, version, FailReason::Unreachable, after + 1)
        .unwrap();
    assert!(matches!(
        c.slot(Primary),
        SlotState::Failed {
            origin: Origin::Regenerate,
            ..
        }
    ));
    // A failed slot has no grace: the next rotation regenerates it at once, unforced.
    let again = RotateStep::Regenerate {
        slot: Primary,
        seen: Some(version),
        force: false,
    };
    assert_eq!(c.next_rotate_step(after + 2, false).unwrap(), again);
    assert_eq!(c.handed_out(after + 2), vec![(Secondary, Version::new(2))]);
}

/// A transition tried on a connection, its effect dropped.
type Transition = Box<dyn Fn(&mut Connection) -> Result<(), RotationError>>;

#[test]
fn refusals_have_stable_codes_and_change_nothing() {
    let fresh = Connection::new(GRACE);
    let cases: Vec<(&str, Connection, Transition)> = vec![
        (
            "rotation_slot_active",
            saved(),
            Box::new(|c| c.update(Primary, 1, true).map(drop)),
        ),
        (
            "rotation_slot_active",
            saved(),
            Box::new(|c| {
                c.begin_regenerate(Primary, Some(Version::new(1)), 1, true)
                    .map(drop)
            }),
        ),
        (
            "rotation_slot_active",
            saved(),
            Box::new(|c| c.test(Primary, Version::new(1), Verdict::Pass, 1)),
        ),
        (
            "rotation_slot_active",
            saved(),
            Box::new(|c| c.save(Primary, Version::new(1), 1)),
        ),
        (
            "rotation_grace_period",
            rotated(),
            Box::new(|c| c.update(Primary, 100 + GRACE - 1, false).map(drop)),
        ),
        (
            "rotation_grace_period",
            rotated(),
            Box::new(|c| {
                c.begin_regenerate(Primary, Some(Version::new(1)), 100, false)
                    .map(drop)
            }),
        ),
        (
            "rotation_in_progress",
            regenerating(),
            Box::new(|c| c.update(Secondary, 1, true).map(drop)),
        ),
        (
            "rotation_in_progress",
            regenerating(),
            Box::new(|c| {
                c.begin_regenerate(Secondary, Some(Version::new(2)), 1, true)
                    .map(drop)
            }),
        ),
        (
            "rotation_in_progress",
            regenerating(),
            Box::new(|c| c.test(Secondary, Version::new(2), Verdict::Pass, 1)),
        ),
        (
            "rotation_in_progress",
            regenerating(),
            Box::new(|c| c.save(Secondary, Version::new(2), 1)),
        ),
        (
            "rotation_version_mismatch",
            saved(),
            Box::new(|c| {
                c.begin_regenerate(Secondary, Some(Version::new(7)), 1, false)
                    .map(drop)
            }),
        ),
        (
            "rotation_version_mismatch",
            staged(),
            Box::new(|c| c.save(Secondary, Version::new(1), 1)),
        ),
        (
            "rotation_version_mismatch",
            staged(),
            Box::new(|c| c.confirm_regenerated(Secondary, Version::new(1))),
        ),
        (
            "rotation_not_staged",
            saved(),
            Box::new(|c| c.test(Secondary, Version::new(1), Verdict::Pass, 1)),
        ),
        (
            "rotation_not_staged",
            rotated(),
            Box::new(|c| c.test(Primary, Version::new(1), Verdict::Pass, 101)),
        ),
        (
            "rotation_not_tested",
            staged(),
            Box::new(|c| c.save(Secondary, Version::new(2), 1)),
        ),
        (
            "rotation_not_tested",
            saved(),
            Box::new(|c| c.save(Secondary, Version::new(1), 1)),
        ),
        (
            "rotation_not_tested",
            rotated(),
            Box::new(|c| c.save(Primary, Version::new(1), 101)),
        ),
        (
            "rotation_no_active_slot",
            fresh.clone(),
            Box::new(|c| c.next_rotate_step(0, true).map(drop)),
        ),
    ];
    for (want, mut c, op) in cases {
        let before = c.clone();
        let e = op(&mut c).unwrap_err();
        assert_eq!(e.code(), want, "{e:?}");
        assert_eq!(
            c, before,
            "a refused transition ({want}) changed the connection"
        );
        assert!(!e.to_string().is_empty());
    }
    // A failed test does not make a credential savable.
    let mut c = staged();
    c.test(
        Secondary,
        Version::new(2),
        Verdict::Fail(FailReason::Rejected),
        1,
    )
    .unwrap();
    assert_eq!(
        code(c.save(Secondary, Version::new(2), 1)),
        "rotation_not_tested"
    );
}

/// [`saved`] with an operator's version 2 staged in the secondary slot.
fn staged() -> Connection {
    let mut c = saved();
    c.update(Secondary, 0, false).unwrap();
    c
}

/// [`saved`] with version 2 being regenerated in the secondary slot.
fn regenerating() -> Connection {
    let mut c = saved();
    c.begin_regenerate(Secondary, None, 0, false).unwrap();
    c
}

#[test]
fn forced_work_and_work_after_the_grace_replace_the_standby() {
    let mut c = rotated();
    assert_eq!(c.update(Primary, 100, true).unwrap(), Version::new(3));
    let mut c2 = rotated();
    let e = c2
        .begin_regenerate(Primary, Some(Version::new(1)), 100 + GRACE, false)
        .unwrap();
    assert_eq!(
        e,
        Effect::SetAtTarget {
            slot: Primary,
            version: Version::new(3)
        }
    );
    assert!(c.active().is_some() && c2.active().is_some());
}

#[test]
fn restore_takes_a_stored_state_and_refuses_one_no_transition_makes() {
    let c = rotated();
    let back = Connection::restore(GRACE, c.slot(Primary), c.slot(Secondary), c.last_version());
    assert_eq!(back.unwrap(), c);
    assert_eq!(c.grace_secs(), GRACE);
    let active = |n| SlotState::Active {
        version: Version::new(n),
        since: 0,
        tested: 0,
    };
    let e = Connection::restore(GRACE, active(1), active(2), 2).unwrap_err();
    assert_eq!(e.code(), "rotation_state_inconsistent");
    let e = Connection::restore(GRACE, active(3), SlotState::Empty, 2).unwrap_err();
    assert_eq!(e.code(), "rotation_state_inconsistent");
}

#[test]
fn slot_names_and_versions_print_no_credential() {
    assert_eq!(Primary.other(), Secondary);
    assert_eq!(Secondary.to_string(), "secondary");
    assert_eq!(Version::new(4).to_string(), "v4");
    let e = RotationError::GracePeriod {
        slot: Primary,
        until: 700,
    };
    assert_eq!(
        e.to_string(),
        "the primary slot's previous credential is within its grace period until 700"
    );
}

#[test]
fn a_connection_is_settled_only_when_no_regeneration_may_be_landing() {
    assert!(saved().settled().is_ok());
    let mut c = regenerating();
    assert_eq!(code(c.settled()), "rotation_in_progress");
    c.confirm_regenerated(Secondary, Version::new(2)).unwrap();
    assert!(c.settled().is_ok());
    let mut c = regenerating();
    c.abandon_regenerate(Secondary, Version::new(2), FailReason::Unreachable, 5)
        .unwrap();
    assert!(c.settled().is_ok());
}

#[test]
fn stale_versions_keep_the_slot_s_own_and_every_earlier_one_while_unsettled() {
    let c = regenerating();
    // The secondary regenerates version 2 over an operator's version... none here; say 1 and
    // an older 0-numbered leftover were stored for it.
    assert!(
        c.stale(Secondary, &[1, 2]).is_empty(),
        "unsettled: all kept"
    );
    let mut c = staged();
    // A staged credential that has not passed a test yet: the one before it is kept.
    assert!(c.stale(Secondary, &[1, 2]).is_empty());
    assert_eq!(c.stale(Secondary, &[0, 1, 2]), [Version::new(0)]);
    assert_eq!(c.previous(Secondary, &[1, 2]), Some(Version::new(1)));
    assert_eq!(c.testable(Secondary), Ok(Version::new(2)));
    assert_eq!(code(c.testable(Primary)), "rotation_slot_active");
    // An untestable credential is saved only on an acknowledgement, which is reported.
    assert_eq!(
        code(c.save_current(Secondary, 1, false, false)),
        "acknowledgement_required"
    );
    assert_eq!(
        c.save_current(Secondary, 1, false, true),
        Ok((Version::new(2), true))
    );
    assert_eq!(c.active(), Some((Secondary, Version::new(2))));
    // Proven by its test (here, acknowledged): nothing earlier is needed.
    assert_eq!(c.stale(Secondary, &[1, 2]), [Version::new(1)]);
}
