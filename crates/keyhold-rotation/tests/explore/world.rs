//! The explored world: the stored connection, the target (which version of each slot's login
//! it accepts), a bounded clock, two callers running `rotate`, and a ghost that remembers what
//! consumers were promised and which versions passed a test — facts the machine itself does
//! not keep, so a broken machine cannot hide from them.

use std::collections::BTreeSet;

use keyhold_rotation::{
    Connection, Effect, RotateStep, RotationError, SlotName, SlotState, Version,
};

pub const GRACE: u64 = 600;
pub const TICK: u64 = 300;
pub const LAST_TICK: u64 = 5;
/// At most this many credential versions are made (updates and regenerations).
pub const VERSIONS: u32 = 4;

/// A deliberately broken machine, to prove each invariant's check can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Update and regenerate always force: the grace check is skipped.
    SkipGrace,
    /// A failing verdict is recorded as a pass.
    PassAnyway,
    /// Updating a tested slot keeps its test (the new version is recorded as passed).
    UpdateKeepsTest,
    /// Save leaves the slot that was active claiming to be active.
    NoDemote,
    /// A caller performs its planned effect without reading whether it is still pending.
    UnguardedEffect,
    /// Abandoning a regeneration records the credential as tested instead of failed.
    AbandonAsTested,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Caller {
    Idle,
    Planned { force: bool, step: StepKey },
}

/// A planned step, kept as plain data so the caller can be hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepKey {
    Regenerate(SlotName, Option<Version>, bool),
    SetAndConfirm(SlotName, Version),
    /// The effect was performed; confirm it next.
    Confirm(SlotName, Version),
    Test(SlotName, Version),
    Save(SlotName, Version),
}

impl From<RotateStep> for StepKey {
    fn from(s: RotateStep) -> StepKey {
        match s {
            RotateStep::Regenerate { slot, seen, force } => StepKey::Regenerate(slot, seen, force),
            RotateStep::SetAndConfirm(Effect::SetAtTarget { slot, version }) => {
                StepKey::SetAndConfirm(slot, version)
            }
            RotateStep::Test { slot, version } => StepKey::Test(slot, version),
            RotateStep::Save { slot, version } => StepKey::Save(slot, version),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Update {
        slot: SlotName,
        good: bool,
        force: bool,
    },
    BeginRegenerate {
        slot: SlotName,
        force: bool,
    },
    /// The connector performs a pending effect (after a crash: again).
    Effect {
        slot: SlotName,
    },
    Confirm {
        slot: SlotName,
    },
    /// The connector performs a pending effect and it fails: the target took the version or
    /// not (`took`), nobody knows which; the regeneration is abandoned.
    Abandon {
        slot: SlotName,
        took: bool,
    },
    Test {
        slot: SlotName,
        pass: bool,
    },
    Save {
        slot: SlotName,
    },
    Tick,
    /// Every caller's in-memory work is lost; the store and the target stay.
    Crash,
    Start {
        caller: usize,
        force: bool,
    },
    Apply {
        caller: usize,
        pass: bool,
    },
    /// A caller's planned effect fails at the target, which took the version or not
    /// (`took`), and the caller abandons the regeneration.
    ApplyFailing {
        caller: usize,
        took: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct World {
    pub conn: Connection,
    pub target: [Option<Version>; 2],
    pub tick: u64,
    pub callers: [Caller; 2],
    /// The `NoDemote` fault's slot that still claims to be active.
    pub lingering: Option<(SlotName, SlotState)>,
    pub ghost: Ghost,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Ghost {
    /// Credentials handed to consumers: (slot, version, end of grace; `None` while active).
    pub promises: BTreeSet<(SlotName, Version, Option<u64>)>,
    /// (slot, version) pairs a test passed with the target accepting them.
    pub passed: BTreeSet<(SlotName, Version)>,
    /// Each slot's newest version.
    pub latest: [Option<Version>; 2],
    pub saved: bool,
    /// A slot became active without a passing test of its newest version.
    pub untested_promotion: bool,
}

pub fn ix(s: SlotName) -> usize {
    match s {
        SlotName::Primary => 0,
        SlotName::Secondary => 1,
    }
}

impl World {
    pub fn new() -> World {
        World {
            conn: Connection::new(GRACE),
            target: [None; 2],
            tick: 0,
            callers: [Caller::Idle; 2],
            lingering: None,
            ghost: Ghost::default(),
        }
    }

    pub fn now(&self) -> u64 {
        self.tick * TICK
    }

    /// What the store says a slot holds (as the faulty machine would report it).
    pub fn slot(&self, s: SlotName) -> SlotState {
        match self.lingering {
            Some((l, state)) if l == s => state,
            _ => self.conn.slot(s),
        }
    }

    fn accepts(&self, s: SlotName, v: Version) -> bool {
        self.target[ix(s)] == Some(v)
    }

    /// Every operation worth trying here.
    pub fn ops(&self) -> Vec<Op> {
        let mut ops = Vec::new();
        let budget = self.conn.last_version() < VERSIONS;
        for slot in SlotName::BOTH {
            for force in [false, true] {
                if budget {
                    ops.push(Op::Update {
                        slot,
                        good: true,
                        force,
                    });
                    ops.push(Op::Update {
                        slot,
                        good: false,
                        force,
                    });
                    ops.push(Op::BeginRegenerate { slot, force });
                }
            }
            if matches!(self.conn.slot(slot), SlotState::Regenerating { .. }) {
                ops.push(Op::Effect { slot });
                ops.push(Op::Confirm { slot });
                ops.push(Op::Abandon { slot, took: false });
                ops.push(Op::Abandon { slot, took: true });
            }
            ops.push(Op::Test { slot, pass: false });
            if let Some(v) = self.conn.slot(slot).version()
                && self.accepts(slot, v)
            {
                ops.push(Op::Test { slot, pass: true });
            }
            ops.push(Op::Save { slot });
        }
        if self.tick < LAST_TICK {
            ops.push(Op::Tick);
        }
        if self.callers.iter().any(|c| *c != Caller::Idle) {
            ops.push(Op::Crash);
        }
        for (caller, c) in self.callers.iter().enumerate() {
            match c {
                Caller::Idle => {
                    ops.push(Op::Start {
                        caller,
                        force: false,
                    });
                    ops.push(Op::Start {
                        caller,
                        force: true,
                    });
                }
                Caller::Planned { step, .. } => {
                    ops.push(Op::Apply {
                        caller,
                        pass: false,
                    });
                    ops.push(Op::Apply { caller, pass: true });
                    if let StepKey::SetAndConfirm(..) = step {
                        ops.push(Op::ApplyFailing {
                            caller,
                            took: false,
                        });
                        ops.push(Op::ApplyFailing { caller, took: true });
                    }
                }
            }
        }
        ops
    }

    /// Apply `op` under `fault`; `None` if it does not apply here. A refused transition must
    /// leave the connection as it was.
    /// Also returns the refusal's code, if the transition was refused.
    pub fn step(&self, op: Op, fault: Fault) -> Option<(World, Option<&'static str>)> {
        let mut w = self.clone();
        let before = w.conn.clone();
        let result = w.apply(op, fault)?;
        if result.is_err() {
            assert_eq!(w.conn, before, "a refused {op:?} changed the connection");
        }
        w.observe();
        // The two callers are alike: which one holds which plan does not matter.
        w.callers.sort();
        Some((w, result.err().map(|e| e.code())))
    }

    fn apply(&mut self, op: Op, fault: Fault) -> Option<Result<(), RotationError>> {
        let r = match op {
            Op::Update { slot, good, force } => self.update(slot, good, force, fault),
            Op::BeginRegenerate { slot, force } => {
                let seen = self.conn.slot(slot).version();
                self.regenerate(slot, seen, force, fault)
            }
            Op::Effect { slot } => {
                let Effect::SetAtTarget { slot, version } = *self
                    .conn
                    .pending()
                    .iter()
                    .find(|Effect::SetAtTarget { slot: s, .. }| *s == slot)?;
                self.target[ix(slot)] = Some(version);
                Ok(())
            }
            Op::Confirm { slot } => {
                let v = self.conn.slot(slot).version()?;
                self.conn.confirm_regenerated(slot, v)
            }
            Op::Abandon { slot, took } => {
                let Effect::SetAtTarget { slot, version } = *self
                    .conn
                    .pending()
                    .iter()
                    .find(|Effect::SetAtTarget { slot: s, .. }| *s == slot)?;
                if took {
                    self.target[ix(slot)] = Some(version);
                }
                self.abandon(slot, version, fault)
            }
            Op::Test { slot, pass } => {
                let v = self.conn.slot(slot).version().unwrap_or(Version::new(1));
                self.test(slot, v, pass, fault)
            }
            Op::Save { slot } => {
                let v = self.conn.slot(slot).version().unwrap_or(Version::new(1));
                self.save(slot, v, fault)
            }
            Op::Tick => {
                self.tick += 1;
                Ok(())
            }
            Op::Crash => {
                self.callers = [Caller::Idle; 2];
                Ok(())
            }
            Op::Start { caller, force } => self.replan(caller, force),
            Op::Apply { caller, pass } => self.apply_step(caller, pass, fault)?,
            Op::ApplyFailing { caller, took } => self.apply_failing(caller, took, fault)?,
        };
        Some(r)
    }

    /// A caller applies the step it planned, against the state as it is now (which another
    /// caller may have moved on).
    fn apply_step(
        &mut self,
        caller: usize,
        pass: bool,
        fault: Fault,
    ) -> Option<Result<(), RotationError>> {
        let Caller::Planned { force, step } = self.callers[caller] else {
            return None;
        };
        let running = None;
        let (r, next) = match step {
            StepKey::Regenerate(slot, seen, f) => {
                if pass {
                    return None; // no verdict in this step: one branch is enough
                }
                (self.regenerate(slot, seen, f, fault), running)
            }
            StepKey::SetAndConfirm(slot, version) => {
                if pass {
                    return None;
                }
                // The connector acts only on an effect the store still has pending, read
                // just before: a stale plan's version must never reach the target.
                let effect = Effect::SetAtTarget { slot, version };
                if fault != Fault::UnguardedEffect && !self.conn.pending().contains(&effect) {
                    self.callers[caller] = Caller::Idle;
                    return Some(Ok(()));
                }
                self.target[ix(slot)] = Some(version);
                let step = StepKey::Confirm(slot, version);
                (Ok(()), Some(Caller::Planned { force, step }))
            }
            StepKey::Confirm(slot, version) => {
                if pass {
                    return None;
                }
                (self.conn.confirm_regenerated(slot, version), running)
            }
            StepKey::Test(slot, version) => {
                let pass = pass && self.accepts(slot, version);
                let r = self.test(slot, version, pass, fault);
                (r, if pass { running } else { Some(Caller::Idle) })
            }
            StepKey::Save(slot, version) => {
                if pass {
                    return None;
                }
                (self.save(slot, version, fault), Some(Caller::Idle))
            }
        };
        match (&r, next) {
            // The step was applied; a refused next plan only ends this rotation.
            (Ok(()), None) => drop(self.replan(caller, force)),
            (Ok(()), Some(next)) => self.callers[caller] = next,
            (Err(_), _) => self.callers[caller] = Caller::Idle,
        }
        Some(r)
    }

    /// A caller's planned effect fails at the target (which took the version or not) and the
    /// caller abandons its regeneration; its rotation is over either way.
    fn apply_failing(
        &mut self,
        caller: usize,
        took: bool,
        fault: Fault,
    ) -> Option<Result<(), RotationError>> {
        let Caller::Planned {
            step: StepKey::SetAndConfirm(slot, version),
            ..
        } = self.callers[caller]
        else {
            return None;
        };
        self.callers[caller] = Caller::Idle;
        // As for a successful effect: only one the store still has pending is attempted.
        let effect = Effect::SetAtTarget { slot, version };
        if fault != Fault::UnguardedEffect && !self.conn.pending().contains(&effect) {
            return Some(Ok(()));
        }
        if took {
            self.target[ix(slot)] = Some(version);
        }
        Some(self.abandon(slot, version, fault))
    }

    /// The caller reads the stored state and plans its next step (or stops, refused).
    fn replan(&mut self, caller: usize, force: bool) -> Result<(), RotationError> {
        let planned = self.conn.next_rotate_step(self.now(), force);
        self.callers[caller] = match planned {
            Ok(step) => Caller::Planned {
                force,
                step: step.into(),
            },
            Err(_) => Caller::Idle,
        };
        planned.map(drop)
    }
}
