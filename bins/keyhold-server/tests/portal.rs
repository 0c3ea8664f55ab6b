//! The portal in a real browser: Debian's Chromium, headless, driven through chromedriver,
//! against a real server over loopback and the real PostgreSQL of the connection tests. A
//! person signs in, mints a key with each preset, copies one and uses it, revokes one and
//! then all, updates a connection's credentials (a wrong password fails its test and cannot
//! be saved; the right one is tested, saved and becomes active), asks Azi to create and to
//! revoke, invites a member who sets their password on the first-run page, reads the audit
//! log, and signs out. Every response the browser received is then scanned for the run's
//! secrets, and every page is photographed at 1280×800 and 390×844.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "portal/finish.rs"]
mod finish;
#[path = "common/pg.rs"]
mod pg;
#[path = "portal/steps.rs"]
mod steps;

use browser::Browser;
use common::start_with;
use steps::Run;

#[test]
fn a_person_uses_the_portal_end_to_end_in_chromium() {
    let server = start_with(&["--allow-local-targets"]);
    let (a, b) = (pg::Role::new(), pg::Role::new());
    let mut run = Run::new(&server, &a, &b);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let base = format!("http://{}", server.addr);
        let mut web = Browser::start(&base).await;
        run.sign_in(&mut web).await;
        run.mint_each_preset(&mut web).await;
        run.copy_and_use(&mut web).await;
        run.revoke_one(&mut web).await;
        run.update_credentials(&mut web, &b).await;
        run.azi(&mut web).await;
        run.audit(&mut web).await;
        run.revoke_all(&mut web).await;
        run.invite(&mut web).await;
        run.sign_out(&mut web).await;
        run.enrol(&mut web).await;
        run.scan(&mut web).await;
        web.client.clone().close().await.expect("close the browser");
    });
    // The server's own log holds none of the run's secrets either.
    let log = std::fs::read_to_string(&server.log).expect("server log");
    for secret in run.secrets() {
        assert!(
            !log.contains(secret.as_str()),
            "a secret reached the server's log"
        );
    }
}
