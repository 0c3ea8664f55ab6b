//! Connections on a real store and a real PostgreSQL (the throwaway server of the test
//! command): staging, testing and saving credentials, rotation by regeneration, refusals,
//! consumers that never see a failed login while rotations go on, and the audit trail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../keyhold-connect/tests/common/mod.rs"]
mod pg;

use std::time::Duration;

use common::Fixture;
use keyhold::api::{ConnectionKind, CreateConnection, Secret, SlotName, SlotState};
use keyhold::{Caller, Keyhold, SecretBytes};
use pg::Role;

fn op() -> Caller {
    Caller::operator()
}

fn secret(s: &SecretBytes) -> Secret {
    Secret::new(pg::text(s))
}

/// A connection request for roles `a` and `b` of the test server.
fn request(name: &str, a: &Role, b: &Role, grace_secs: u64) -> CreateConnection {
    let (host, port, _, _) = pg::admin();
    CreateConnection {
        name: name.to_owned(),
        kind: ConnectionKind::Postgres,
        host: Some(host),
        port: Some(port),
        database: Some("postgres".into()),
        url: None,
        scheme: None,
        primary_user: Some(a.name.clone()),
        secondary_user: Some(b.name.clone()),
        admin_user: None,
        admin_password: None,
        grace_secs,
        rotate_every_secs: None,
    }
}

/// Two roles with known passwords, and a connection over them whose primary is saved.
struct Setup {
    fx: Fixture,
    kh: Keyhold,
    a: Role,
    b: Role,
    pa: SecretBytes,
    pb: SecretBytes,
}

fn setup(grace_secs: u64) -> Setup {
    let fx = Fixture::new();
    let kh = fx.init();
    let (pa, pb) = (pg::canary(), pg::canary());
    let a = Role::create(&pg::unique(), &pa, "");
    let b = Role::create(&pg::unique(), &pb, "");
    kh.create_connection(&op(), "default", &request("orders", &a, &b, grace_secs))
        .unwrap();
    let c = kh
        .update_credential(
            &op(),
            "default",
            "orders",
            SlotName::Primary,
            &secret(&pa),
            false,
        )
        .unwrap();
    assert_eq!(c.slots.primary.state, SlotState::Staged);
    let t = kh
        .test_credential(&op(), "default", "orders", SlotName::Primary)
        .unwrap();
    assert!(t.passed, "{t:?}");
    let c = kh
        .save_credential(&op(), "default", "orders", SlotName::Primary, false)
        .unwrap();
    assert_eq!(c.active, Some(SlotName::Primary));
    Setup {
        fx,
        kh,
        a,
        b,
        pa,
        pb,
    }
}

/// Whether `user` logs in with `password` and runs `SELECT 1`.
fn logs_in(user: &str, password: &str) -> bool {
    let (host, port, _, _) = pg::admin();
    postgres::Config::new()
        .host(&host)
        .port(port)
        .dbname("postgres")
        .user(user)
        .password(password)
        .connect_timeout(Duration::from_secs(5))
        .connect(postgres::NoTls)
        .and_then(|mut c| c.simple_query("SELECT 1"))
        .is_ok()
}

#[test]
fn a_wrong_password_fails_its_test_cannot_be_saved_and_the_active_one_keeps_serving() {
    let s = setup(600);
    let wrong = pg::canary();
    s.kh.update_credential(
        &op(),
        "default",
        "orders",
        SlotName::Secondary,
        &secret(&wrong),
        false,
    )
    .unwrap();
    let t =
        s.kh.test_credential(&op(), "default", "orders", SlotName::Secondary)
            .unwrap();
    assert!(!t.passed);
    assert_eq!(t.failure, Some(keyhold::api::Failure::Rejected));
    assert_eq!(t.connection.slots.secondary.state, SlotState::Failed);
    let detail = t.detail.clone().unwrap();
    assert!(!detail.contains(&pg::text(&wrong)), "{detail}");
    let e =
        s.kh.save_credential(&op(), "default", "orders", SlotName::Secondary, false)
            .unwrap_err();
    assert_eq!(e.code(), "rotation_not_tested");
    let cred = s.kh.active_credential(&op(), "default", "orders").unwrap();
    assert_eq!(cred.slot, SlotName::Primary);
    assert_eq!(cred.password.expose(), pg::text(&s.pa));
    assert!(logs_in(
        cred.user.as_deref().unwrap(),
        cred.password.expose()
    ));
    // The active slot cannot be staged over, tested in place or saved again.
    let e =
        s.kh.update_credential(
            &op(),
            "default",
            "orders",
            SlotName::Primary,
            &secret(&wrong),
            false,
        )
        .unwrap_err();
    assert_eq!(e.code(), "rotation_slot_active");
    let _ = (&s.a, &s.b, &s.pb);
}

#[test]
fn a_rotation_regenerates_the_standby_at_the_target_and_promotes_it() {
    let s = setup(0);
    // The secondary role changes its own password: it needs a credential of its own first.
    s.kh.update_credential(
        &op(),
        "default",
        "orders",
        SlotName::Secondary,
        &secret(&s.pb),
        false,
    )
    .unwrap();
    for round in 0..3 {
        let before = s.kh.active_credential(&op(), "default", "orders").unwrap();
        let t =
            s.kh.rotate_connection(&op(), "default", "orders", false)
                .unwrap();
        assert!(t.passed, "round {round}: {t:?}");
        let after = s.kh.active_credential(&op(), "default", "orders").unwrap();
        assert_ne!(after.slot, before.slot, "round {round}");
        assert!(after.version > before.version);
        assert!(logs_in(
            after.user.as_deref().unwrap(),
            after.password.expose()
        ));
        // The credential that was active is the standby and still logs in.
        assert!(logs_in(
            before.user.as_deref().unwrap(),
            before.password.expose()
        ));
    }
    // The secondary's first password was replaced at the target.
    assert!(!logs_in(&s.b.name, &pg::text(&s.pb)));
    let v = s.kh.verify_audit(None).unwrap();
    assert!(v.rows > 10, "{v:?}");
    let _ = (&s.fx, &s.a);
}

#[test]
fn consumers_never_fail_while_twenty_rotations_run_in_process() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let s = setup(1);
    s.kh.update_credential(
        &op(),
        "default",
        "orders",
        SlotName::Secondary,
        &secret(&s.pb),
        false,
    )
    .unwrap();
    let stop = AtomicBool::new(false);
    let (ok, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let c = s.kh.active_credential(&op(), "default", "orders");
                    let fine = c.is_ok_and(|c| {
                        logs_in(c.user.as_deref().unwrap_or_default(), c.password.expose())
                    });
                    let counter = if fine { &ok } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(240);
        let mut rotations = 0;
        while rotations < 20 && std::time::Instant::now() < deadline {
            match s.kh.rotate_connection(&op(), "default", "orders", false) {
                Ok(t) => {
                    assert!(t.passed, "{t:?}");
                    rotations += 1;
                }
                // The standby is within its grace: consumers may hold it. Wait it out.
                Err(e) if e.code() == "rotation_grace_period" => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("rotation {rotations}: {e}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert_eq!(rotations, 20, "twenty rotations within the deadline");
    });
    let (ok, failed) = (ok.into_inner(), failed.into_inner());
    eprintln!(
        "in process: {ok} logins with the handed-out credential, {failed} failed, 20 rotations"
    );
    assert_eq!(failed, 0, "a consumer failed while rotations ran");
    assert!(ok >= 20, "the consumers ran: {ok}");
    // Every read is in the chain, which still verifies.
    let reads =
        s.kh.audit_entries(
            &op(),
            &keyhold::api::AuditQuery {
                action: Some("credential.read".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(reads.len() as u64 >= 20.min(ok), "{}", reads.len());
    s.kh.verify_audit(None).unwrap();
}

#[test]
fn due_rotations_run_once_and_a_failing_one_backs_off_while_the_active_credential_serves() {
    let fx = Fixture::new();
    let kh = fx.init();
    let (pa, pb) = (pg::canary(), pg::canary());
    let a = Role::create(&pg::unique(), &pa, "");
    let b = Role::create(&pg::unique(), &pb, "");
    let mut req = request("orders", &a, &b, 0);
    req.rotate_every_secs = Some(1);
    kh.create_connection(&op(), "default", &req).unwrap();
    for (slot, password) in [(SlotName::Primary, &pa), (SlotName::Secondary, &pb)] {
        kh.update_credential(&op(), "default", "orders", slot, &secret(password), false)
            .unwrap();
    }
    kh.test_credential(&op(), "default", "orders", SlotName::Primary)
        .unwrap();
    let saved = kh
        .save_credential(&op(), "default", "orders", SlotName::Primary, false)
        .unwrap();
    let due = saved.next_rotation_due.expect("scheduled on save");
    // Nothing is due before its time.
    assert_eq!(kh.rotate_due().unwrap(), keyhold::DueRotations::default());
    while keyhold_now() < due {
        std::thread::sleep(Duration::from_millis(100));
    }
    let done = kh.rotate_due().unwrap();
    assert_eq!((done.rotated, done.failed), (1, 0));
    let c = kh.connection(&op(), "default", "orders").unwrap();
    assert_eq!(c.active, Some(SlotName::Secondary));
    assert!(
        c.next_rotation_due.unwrap() > due,
        "rescheduled a period on"
    );
    let reads = kh
        .audit_entries(
            &op(),
            &keyhold::api::AuditQuery {
                action: Some("connection.saved".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let last = reads.last().expect("saved");
    assert_eq!(
        (last.actor.as_str(), last.surface.as_str()),
        ("keyhold-server", "http"),
        "{last:?}"
    );

    // The primary's login now refuses what keyhold holds for it: the next due rotation
    // regenerates it with its own (now wrong) credential and fails; the schedule backs off
    // and the active credential keeps serving.
    let mut admin = pg::admin_client();
    let wrong = postgres_protocol::password::scram_sha_256(b"changed-behind-keyhold's-back");
    admin
        .batch_execute(&format!(
            "ALTER ROLE {} PASSWORD '{wrong}'",
            keyhold_connect::quote_ident(&a.name).unwrap()
        ))
        .unwrap();
    let next = c.next_rotation_due.unwrap();
    while keyhold_now() < next {
        std::thread::sleep(Duration::from_millis(100));
    }
    let done = kh.rotate_due().unwrap();
    assert_eq!((done.rotated, done.failed), (0, 1));
    let c = kh.connection(&op(), "default", "orders").unwrap();
    assert_eq!(c.active, Some(SlotName::Secondary));
    assert!(
        c.next_rotation_due.unwrap() >= keyhold_now() + 25,
        "retried after 30 s"
    );
    let cred = kh.active_credential(&op(), "default", "orders").unwrap();
    assert!(logs_in(
        cred.user.as_deref().unwrap(),
        cred.password.expose()
    ));
    // A second runner finds nothing due: the failed attempt was claimed and moved on.
    assert_eq!(kh.rotate_due().unwrap(), keyhold::DueRotations::default());
}

fn keyhold_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
