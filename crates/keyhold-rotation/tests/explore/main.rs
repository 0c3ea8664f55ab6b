//! Exhaustive exploration of the rotation machine: a breadth-first search over the stored
//! connection × the target × a bounded clock × two callers running `rotate` (their planned,
//! not yet applied steps are the in-flight work a crash drops), applying every operation in
//! every state — updates with a credential the target has or has not, forced or not,
//! regenerations begun, their effect at the target and its confirmation or, when it fails
//! (the target having taken the version or not), its abandonment, tests passing and
//! failing, saves, time passing the grace period, crashes — until no new state appears.
//! Every reachable state is checked against the invariants (see `World::broken`), and each
//! invariant's check is shown to fail on a deliberately broken machine.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

mod faulty;
mod world;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Instant;

use world::{Fault, Op, World};

struct Report {
    states: usize,
    transitions: usize,
    depth: usize,
    /// States left unexpanded at the depth bound (0: every reachable state was explored).
    frontier: usize,
    /// Refused transitions, by code.
    refused: BTreeMap<&'static str, usize>,
    /// The first state found breaking each invariant, with the operations that lead there.
    broken: BTreeMap<char, Vec<Op>>,
}

/// Breadth-first search from the empty connection, to `max_depth` operations or until no
/// new state appears.
fn explore(fault: Fault, max_depth: usize, stop_at: Option<char>) -> Report {
    let start = World::new();
    let mut seen: HashSet<World> = HashSet::from([start.clone()]);
    let mut queue = VecDeque::from([(start, Vec::<Op>::new())]);
    let mut report = Report {
        states: 1,
        transitions: 0,
        depth: 0,
        frontier: 0,
        refused: BTreeMap::new(),
        broken: BTreeMap::new(),
    };
    while let Some((world, path)) = queue.pop_front() {
        if path.len() >= max_depth {
            report.frontier += 1;
            continue;
        }
        for op in world.ops() {
            let Some((next, refused)) = world.step(op, fault) else {
                continue;
            };
            report.transitions += 1;
            if let Some(code) = refused {
                *report.refused.entry(code).or_default() += 1;
            }
            if !seen.insert(next.clone()) {
                continue;
            }
            let mut next_path = path.clone();
            next_path.push(op);
            report.depth = report.depth.max(next_path.len());
            for inv in next.broken() {
                report
                    .broken
                    .entry(inv)
                    .or_insert_with(|| next_path.clone());
                if stop_at == Some(inv) {
                    return report;
                }
            }
            report.states += 1;
            queue.push_back((next, next_path));
        }
    }
    report
}

/// Operations from the empty connection the default run explores (every sequence of this
/// length or less); `KEYHOLD_ROTATION_DEPTH` asks for more.
const DEPTH: usize = 10;

#[test]
fn no_reachable_state_breaks_an_invariant() {
    let depth = std::env::var("KEYHOLD_ROTATION_DEPTH").map_or(DEPTH, |d| d.parse().unwrap());
    let started = Instant::now();
    let report = explore(Fault::None, depth, None);
    eprintln!(
        "rotation: {} states, {} transitions, depth {}, {} left at the bound, {:.2?}; refused: {:?}",
        report.states,
        report.transitions,
        report.depth,
        report.frontier,
        started.elapsed(),
        report.refused
    );
    assert!(
        report.broken.is_empty(),
        "invariants broken: {:#?}",
        report.broken
    );
    assert!(
        report.depth >= 10,
        "explored only to depth {}",
        report.depth
    );
    // The search met every refusal: stale plans, a rival's regeneration in progress, a grace
    // period, slots in the wrong state, a rotation before the first save.
    let codes: Vec<_> = report.refused.keys().copied().collect();
    assert_eq!(
        codes,
        [
            "rotation_grace_period",
            "rotation_in_progress",
            "rotation_no_active_slot",
            "rotation_not_staged",
            "rotation_not_tested",
            "rotation_slot_active",
            "rotation_version_mismatch",
        ],
        "{:?}",
        report.refused
    );
}

fn breaks(fault: Fault, invariant: char) {
    let report = explore(fault, usize::MAX, Some(invariant));
    eprintln!(
        "{fault:?} breaks ({invariant}): {:?}",
        report.broken.get(&invariant)
    );
    assert!(
        report.broken.contains_key(&invariant),
        "{fault:?} should break ({invariant}); found {:?}",
        report.broken
    );
}

#[test]
fn skipping_the_grace_check_is_caught() {
    breaks(Fault::SkipGrace, 'c');
}

#[test]
fn recording_a_failed_test_as_a_pass_is_caught() {
    breaks(Fault::PassAnyway, 'a');
    breaks(Fault::PassAnyway, 'b');
    breaks(Fault::PassAnyway, 'f');
}

#[test]
fn promoting_a_version_that_was_not_tested_is_caught() {
    breaks(Fault::UpdateKeepsTest, 'e');
}

#[test]
fn a_save_that_does_not_demote_is_caught() {
    breaks(Fault::NoDemote, 'd');
}

#[test]
fn a_stale_plan_reaching_the_target_is_caught() {
    breaks(Fault::UnguardedEffect, 'c');
}

#[test]
fn an_abandoned_regeneration_recorded_as_tested_is_caught() {
    breaks(Fault::AbandonAsTested, 'f');
    breaks(Fault::AbandonAsTested, 'b');
}
