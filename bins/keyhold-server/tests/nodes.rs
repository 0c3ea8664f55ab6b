//! Three `keyhold-server` processes on one PostgreSQL store over loopback, under load: a key
//! revoked through one node is refused by every other on its very next request, the audit
//! chain stays one chain, rotations of one connection never leave two active credentials, and
//! a node killed with SIGKILL loses nothing it acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

mod common;
#[path = "common/nodes.rs"]
mod nodes;
#[path = "common/pg.rs"]
mod pg;

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::assert_envelope;
use nodes::{Cluster, Node, mint};

/// Stops the load when the test's own thread ends, whether it finished or failed.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Revocations counted in the no-window check.
const REVOCATIONS: usize = 100;

/// What one load request saw: the round its token belonged to, when it was sent, its status.
type Seen = (usize, Instant, u16);

/// Every key id the audit log names as created (as target or acting key), read through `node`.
fn created_in_audit(node: &Node, admin: &str) -> HashSet<String> {
    let r = node.request(
        "GET",
        "/v1/audit?action=key.created&limit=10000",
        admin,
        None,
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["records"]
        .as_array()
        .expect("records")
        .iter()
        .flat_map(|e| [e["target"].as_str(), e["details"]["key_id"].as_str()])
        .flatten()
        .map(str::to_owned)
        .collect()
}

/// `POST /v1/audit/verify` through every node in turn: the one chain verifies through each
/// (each verification is itself recorded, so the chain grows as they run). Its length.
fn chain_verifies_everywhere(nodes: &[Node], admin: &str) -> u64 {
    let mut rows = 0;
    for n in nodes {
        let r = n.request("POST", "/v1/audit/verify", admin, Some("{}"));
        assert_eq!(r.status, 200, "{}: {:?}", n.name, r.body);
        let now = r.body["rows"].as_u64().expect("rows");
        assert!(
            now >= rows,
            "{}: the chain shrank from {rows} to {now}",
            n.name
        );
        rows = now;
    }
    rows
}

#[test]
fn a_key_revoked_through_one_node_is_refused_by_every_other_on_its_next_request() {
    let cluster = Cluster::new();
    // Three nodes start together on an empty database: one creates the store.
    let (nodes, admin) = cluster.start(&["a", "b", "c"], &[]);
    let admin = admin.expect("the node that created the store printed its admin key");
    let current: Mutex<Option<(usize, String)>> = Mutex::new(None);
    let revoked_at: Mutex<Vec<Option<Instant>>> = Mutex::new(vec![None; REVOCATIONS]);
    let stop = AtomicBool::new(false);
    let minted: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let turn = AtomicUsize::new(0);
    let seen: Vec<Seen> = std::thread::scope(|s| {
        // Load: requests with the round's key, spread over the nodes, until told to stop.
        let load: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let mut seen = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let Some((round, token)) = current.lock().unwrap().clone() else {
                            std::thread::yield_now();
                            continue;
                        };
                        let node = &nodes[turn.fetch_add(1, Ordering::Relaxed) % nodes.len()];
                        let sent = Instant::now();
                        let r = node.request("GET", "/v1/whoami", &token, None);
                        seen.push((round, sent, r.status));
                    }
                    seen
                })
            })
            .collect();
        // Writes from every node at once: mints, each acknowledged one remembered.
        s.spawn(|| {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let (_, id) = mint(&nodes[i % 3], &admin, &format!("w-{i}"), &["keys:read"]);
                minted.lock().unwrap().push(id);
                i += 1;
            }
        });
        let _stop = StopOnDrop(&stop);
        for round in 0..REVOCATIONS {
            let (token, id) = mint(
                &nodes[round % 3],
                &admin,
                &format!("r-{round}"),
                &["read:queries"],
            );
            // Every node accepts the key first, so that each has it in its verify cache.
            for n in &nodes {
                let r = n.request("GET", "/v1/whoami", &token, None);
                assert_eq!(r.status, 200, "{}: {:?}", n.name, r.body);
            }
            *current.lock().unwrap() = Some((round, token.clone()));
            let revoker = &nodes[(round + 1) % 3];
            let r = revoker.request("POST", &format!("/v1/keys/{id}/revoke"), &admin, None);
            assert_eq!(r.status, 200, "{:?}", r.body);
            revoked_at.lock().unwrap()[round] = Some(Instant::now());
            for n in nodes.iter().filter(|n| n.name != revoker.name) {
                let r = n.request("GET", "/v1/whoami", &token, None);
                assert_envelope(&r, 401, "key_revoked");
            }
        }
        stop.store(true, Ordering::Relaxed);
        load.into_iter()
            .flat_map(|h| h.join().expect("load thread"))
            .collect()
    });
    let revoked_at = revoked_at.into_inner().unwrap();
    let after = |&(round, sent, _): &Seen| revoked_at[round].is_some_and(|at| sent > at);
    let accepted_after = seen.iter().filter(|s| after(s) && s.2 == 200).count();
    let refused_after = seen.iter().filter(|s| after(s) && s.2 == 401).count();
    let accepted_before = seen.iter().filter(|s| !after(s) && s.2 == 200).count();
    eprintln!(
        "{} load requests: {accepted_before} accepted before their key's revocation returned, \
         {refused_after} refused after it, {accepted_after} accepted after it",
        seen.len()
    );
    assert_eq!(accepted_after, 0, "a node accepted a revoked key");
    assert!(
        refused_after >= REVOCATIONS && accepted_before > 0,
        "the load really ran on both sides of the revocations"
    );

    // One chain, written by three nodes at once, verifies through each of them; every
    // acknowledged mint is in it.
    let rows = chain_verifies_everywhere(&nodes, &admin);
    let minted = minted.into_inner().unwrap();
    let audited = created_in_audit(&nodes[0], &admin);
    let missing: Vec<_> = minted.iter().filter(|id| !audited.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged mints not in the audit log: {missing:?}"
    );
    assert!(minted.len() > 10 && rows as usize > minted.len() + 2 * REVOCATIONS);
    // Checkpoints work on the shared store as on a file: written, then proven reached.
    let checkpoint = cluster.dir.path().join("checkpoint.json");
    let checkpoint = checkpoint.to_str().expect("utf8");
    cluster.cli(&["audit", "checkpoint", "--out", checkpoint]);
    let anchored = cluster.cli(&["audit", "verify", "--checkpoint", checkpoint]);
    assert!(
        anchored["checkpoint_seq"]
            .as_u64()
            .is_some_and(|s| s >= rows),
        "{anchored}"
    );
    let v = cluster.cli(&["audit", "verify"]);
    assert!(
        v["rows"].as_u64().is_some_and(|r| r >= rows),
        "the CLI on the shared store: {v}"
    );

    // Revoke-all through one node: every key of the workspace, each in every node's verify
    // cache, is refused by every other node on its next request.
    let keys: Vec<String> = (0..3)
        .map(|i| mint(&nodes[i], &admin, &format!("all-{i}"), &["read:queries"]).0)
        .collect();
    for n in &nodes {
        for key in &keys {
            let r = n.request("GET", "/v1/whoami", key, None);
            assert_eq!(r.status, 200, "{}: {:?}", n.name, r.body);
        }
    }
    let r = nodes[1].request("POST", "/v1/keys/revoke-all", &admin, None);
    assert_eq!(r.status, 200, "{:?}", r.body);
    for n in [&nodes[2], &nodes[0]] {
        for key in keys.iter().chain([&admin]) {
            let r = n.request("GET", "/v1/whoami", key, None);
            assert_envelope(&r, 401, "key_revoked_all");
        }
    }
}

#[test]
fn a_node_killed_under_load_loses_nothing_it_acknowledged_and_resumes_when_restarted() {
    let cluster = Cluster::new();
    let (mut nodes, admin) = cluster.start(&["a", "b", "c"], &[]);
    let admin = admin.expect("admin key");
    let (reader, _) = mint(&nodes[0], &admin, "reader", &["keys:read"]);
    let stop = AtomicBool::new(false);
    let killed = AtomicBool::new(false);
    let acknowledged: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let failures_on_survivors = AtomicUsize::new(0);
    let served_after_kill = AtomicUsize::new(0);
    let nodes_ref = &nodes;
    std::thread::scope(|s| {
        for t in 0..3 {
            let (stop, killed, acknowledged) = (&stop, &killed, &acknowledged);
            let (failures, served) = (&failures_on_survivors, &served_after_kill);
            let admin = &admin;
            let reader = &reader;
            s.spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let node = &nodes_ref[(t + i) % 3];
                    i += 1;
                    let victim = node.name == "b";
                    let was_killed = killed.load(Ordering::Relaxed);
                    if victim && was_killed {
                        continue;
                    }
                    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        if i % 2 == 0 {
                            let body = serde_json::json!(
                                {"name": format!("k-{t}-{i}"), "expires": "1h", "scopes": ["keys:read"]}
                            )
                            .to_string();
                            let r = node.request("POST", "/v1/keys", admin, Some(&body));
                            (r.status == 201)
                                .then(|| r.body["key"]["id"].as_str().map(str::to_owned))
                                .flatten()
                                .map(Some)
                        } else {
                            let r = node.request("GET", "/v1/keys", reader, None);
                            (r.status == 200).then_some(None)
                        }
                    }));
                    match ok {
                        Ok(Some(Some(id))) => acknowledged.lock().unwrap().push(id),
                        Ok(Some(None)) => {}
                        // A request to the victim may die with it; one to a survivor may not.
                        _ if victim => {}
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if was_killed && !victim {
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        let _stop = StopOnDrop(&stop);
        std::thread::sleep(Duration::from_millis(1500));
        // SIGKILL, mid-load: no shutdown hook runs.
        let victim = &nodes_ref[1];
        let pid = victim.child.id();
        let status = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .expect("kill -9");
        assert!(status.success());
        killed.store(true, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(
        failures_on_survivors.load(Ordering::Relaxed),
        0,
        "the survivors kept serving"
    );
    assert!(served_after_kill.load(Ordering::Relaxed) > 0);
    let _ = nodes[1].child.wait();

    let acknowledged = acknowledged.into_inner().unwrap();
    let audited = created_in_audit(&nodes[0], &admin);
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|id| !audited.contains(*id))
        .collect();
    assert!(lost.is_empty(), "acknowledged, then lost: {lost:?}");
    assert!(acknowledged.len() > 10, "{} mints", acknowledged.len());

    // Restarted against the same database, the node resumes: it serves the keys minted
    // elsewhere and the chain verifies through it.
    let (mut restarted, admin_again) = cluster.start(&["b2"], &[]);
    assert!(admin_again.is_none(), "a restart creates nothing");
    let r = restarted[0].request("GET", "/v1/whoami", &reader, None);
    assert_eq!(r.status, 200, "{:?}", r.body);
    nodes[1] = restarted.remove(0);
    chain_verifies_everywhere(&nodes, &admin);
}

/// The slots of a connection (as `GET /v1/connections/{name}` shows it) that are active.
fn active_slots(connection: &serde_json::Value) -> Vec<&'static str> {
    ["primary", "secondary"]
        .into_iter()
        .filter(|s| connection["slots"][*s]["state"] == "active")
        .collect()
}

#[test]
fn concurrent_rotations_of_one_connection_never_leave_two_active_credentials() {
    let cluster = Cluster::new();
    let (nodes, admin) = cluster.start(&["a", "b", "c"], &["--allow-local-targets"]);
    let admin = admin.expect("admin key");
    let (a, b) = (pg::Role::new(), pg::Role::new());
    let made = nodes[0].request(
        "POST",
        "/v1/connections",
        &admin,
        Some(&pg::create_body(&a, &b, 0)),
    );
    assert_eq!(made.status, 201, "{:?}", made.body);
    let base = "/v1/connections/orders";
    let body = serde_json::json!({ "password": a.password }).to_string();
    for step in ["credential", "test", "save"] {
        let method = if step == "credential" { "PUT" } else { "POST" };
        let r = nodes[1].request(
            method,
            &format!("{base}/slots/primary/{step}"),
            &admin,
            (step == "credential").then_some(body.as_str()),
        );
        assert!(r.status < 300, "{step}: {:?}", r.body);
    }
    let mut rotated = 0;
    for round in 0..8 {
        // All three nodes are asked to rotate at the same moment.
        let barrier = std::sync::Barrier::new(3);
        let done = AtomicBool::new(false);
        let done = &done;
        let outcomes: Vec<(u16, serde_json::Value)> = std::thread::scope(|s| {
            // Meanwhile an observer reads the connection through each node in turn: never
            // two active slots, not even between the steps of a rotation.
            let observer = s.spawn(|| {
                let mut looks = 0;
                while !done.load(Ordering::Relaxed) || looks < 3 {
                    let c = nodes[looks % 3].request("GET", base, &admin, None);
                    assert_eq!(active_slots(&c.body).len(), 1, "{}", c.body);
                    looks += 1;
                }
            });
            let handles: Vec<_> = nodes
                .iter()
                .map(|n| {
                    let (barrier, admin) = (&barrier, &admin);
                    s.spawn(move || {
                        barrier.wait();
                        let r = n.request("POST", &format!("{base}/rotate"), admin, Some("{}"));
                        (r.status, r.body)
                    })
                })
                .collect();
            let outcomes = handles.into_iter().map(|h| h.join().unwrap()).collect();
            done.store(true, Ordering::Relaxed);
            observer.join().expect("the observer saw one active slot");
            outcomes
        });
        for (status, body) in &outcomes {
            match status {
                200 => {
                    assert_eq!(body["passed"], true, "round {round}: {body}");
                    rotated += 1;
                }
                409 => assert!(
                    ["rotation_in_progress", "rotation_grace_period", "conflict"]
                        .contains(&body["error"]["code"].as_str().unwrap_or_default()),
                    "round {round}: {body}"
                ),
                _ => panic!("round {round}: {status} {body}"),
            }
        }
        // Exactly one active slot, whichever node is asked, and its login works.
        for n in &nodes {
            let c = n.request("GET", base, &admin, None);
            let active = active_slots(&c.body);
            assert_eq!(
                active.len(),
                1,
                "round {round}, node {}: {}",
                n.name,
                c.body
            );
            assert_eq!(c.body["active"], active[0]);
        }
        let c = nodes[round % 3].request("GET", &format!("{base}/credential"), &admin, None);
        let (user, password) = (c.body["user"].as_str(), c.body["password"].as_str());
        assert!(
            pg::logs_in(user.unwrap(), password.unwrap()),
            "round {round}"
        );
    }
    assert!(rotated >= 8, "each round rotated at least once: {rotated}");
    chain_verifies_everywhere(&nodes, &admin);
}

#[test]
fn a_due_rotation_runs_on_exactly_one_of_three_nodes_checking_every_second() {
    let cluster = Cluster::new();
    let checking = ["--allow-local-targets", "--rotation-check", "1"];
    let (nodes, admin) = cluster.start(&["a", "b", "c"], &checking);
    let admin = admin.expect("admin key");
    let (a, b) = (pg::Role::new(), pg::Role::new());
    let mut body: serde_json::Value =
        serde_json::from_str(&pg::create_body(&a, &b, 0)).expect("json");
    body["rotate_every_secs"] = 3.into();
    let made = nodes[0].request("POST", "/v1/connections", &admin, Some(&body.to_string()));
    assert_eq!(made.status, 201, "{:?}", made.body);
    let base = "/v1/connections/orders";
    let primary = serde_json::json!({ "password": a.password }).to_string();
    for (method, step, body) in [
        ("PUT", "credential", Some(primary.as_str())),
        ("POST", "test", None),
        ("POST", "save", Some("{}")),
    ] {
        let r = nodes[1].request(
            method,
            &format!("{base}/slots/primary/{step}"),
            &admin,
            body,
        );
        assert_eq!(r.status, 200, "{step}: {:?}", r.body);
    }
    // Three nodes look for due rotations every second, for long enough to run several.
    let saves = |n: &Node| {
        let r = n.request(
            "GET",
            "/v1/audit?action=connection.saved&limit=1000",
            &admin,
            None,
        );
        let mut times: Vec<i64> = r.body["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter(|e| e["actor"] == "keyhold-server")
            .map(|e| e["time_ms"].as_i64().expect("time"))
            .collect();
        times.sort_unstable();
        times
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while saves(&nodes[2]).len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let times = saves(&nodes[2]);
    assert!(times.len() >= 4, "scheduled rotations ran: {times:?}");
    // Each due time was taken by one node: consecutive scheduled rotations are a period
    // apart (a second node running the same due rotation would follow within a check).
    let gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| *g >= 2_000), "gaps (ms): {gaps:?}");
    for n in &nodes {
        let c = n.request("GET", base, &admin, None);
        assert_eq!(active_slots(&c.body).len(), 1, "{}", c.body);
    }
    chain_verifies_everywhere(&nodes, &admin);
}

#[test]
fn a_node_whose_database_connections_are_cut_serves_again_as_a_failover_would_leave_it() {
    let cluster = Cluster::new();
    let (nodes, admin) = cluster.start(&["a"], &[]);
    let admin = admin.expect("admin key");
    let node = &nodes[0];
    let (token, _) = mint(node, &admin, "consumer", &["read:queries"]);
    assert_eq!(node.request("GET", "/v1/whoami", &token, None).status, 200);
    // What a failover does to a node: every connection it had is closed by the server.
    let before_query = cluster.url.split('?').next().expect("a URL");
    let db = before_query
        .rsplit('/')
        .next()
        .expect("a database")
        .to_owned();
    let (user, password) = pg::superuser();
    let cut: i64 = pg::login(&user, &password)
        .expect("the superuser logs in")
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = 'keyhold'",
            &[&db],
        )
        .expect("terminate")
        .get(0);
    assert!(cut > 0, "the node had connections to cut");
    // A request caught in the cut fails cleanly, with the error envelope; the node then
    // serves on new connections, without a restart.
    let mut failed = 0;
    let served = common::eventually(|| {
        let r = node.request("GET", "/v1/whoami", &token, None);
        if r.status != 200 {
            assert!(r.status >= 500, "{:?}", r.body);
            assert!(r.body["error"]["code"].is_string(), "{:?}", r.body);
            failed += 1;
        }
        r.status == 200
    });
    assert!(served, "the node serves again");
    assert!(failed <= 1, "{failed} requests failed after the cut");
    let (again, _) = mint(node, &admin, "after-the-cut", &["read:queries"]);
    assert_eq!(node.request("GET", "/v1/whoami", &again, None).status, 200);
    chain_verifies_everywhere(&nodes, &admin);
}
