//! Team access costs against the key verification pipeline, measured in the same run on one
//! real SQLite store (harness: plain `main`, interleaved rounds, medians):
//!
//! - `key verify`: `Keyhold::verify_token` of an API key (the pipeline every keyed request
//!   runs: signature, claims, standing, the use recorded) — the baseline;
//! - `session check`: `Keyhold::session_caller` of a signed-in member (the session and its
//!   member read and authenticated, lifetimes checked) — what every session request runs;
//! - `sign-in`: a whole successful `Keyhold::sign_in` (Argon2id at OWASP's cost, the session
//!   stored and audited);
//! - `sign-in, wrong password` and `sign-in, unknown email`: failures, whose times should be
//!   alike so that the answer's timing does not tell whether an email exists.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::hint::black_box;
use std::time::Instant;

use keyhold::access::SessionPolicy;
use keyhold::api::{AddMember, Secret, SignIn};
use keyhold::{Caller, ExpiryPreset, KeySource, Keyhold, MasterKey, MintRequest, Origin, Surface};

const ROUNDS: usize = 15;
const FAST: u32 = 200;
const SLOW: u32 = 4;
const PASSWORD: &str = "correct horse staple 9";

fn origin(n: usize) -> Origin {
    Origin {
        surface: Surface::Portal,
        // A source per attempt: the per-source throttle is not what is measured.
        source: Some(format!(
            "10.{}.{}.{}:40000",
            n / 65536 % 256,
            n / 256 % 256,
            n % 256
        )),
        request_id: keyhold::new_request_id(),
    }
}

fn per_call(loops: u32, f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..loops {
        f();
    }
    t.elapsed().as_secs_f64() / f64::from(loops)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn sign_in(email: &str, password: &str) -> SignIn {
    SignIn {
        email: email.into(),
        password: Secret::new(password),
        totp: None,
        workspace: None,
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let text = MasterKey::generate().unwrap().to_base64url().to_string();
    let (kh, _) =
        Keyhold::init(dir.path(), KeySource::Text(keyhold::Zeroizing::new(text))).unwrap();
    let op = Caller::operator();
    let req = MintRequest {
        workspace: "default".into(),
        name: "bench".into(),
        expires: ExpiryPreset::ThirtyDays,
        scopes: None,
        sub: None,
    };
    let key = kh.mint_key(&op, &req).unwrap().token.expose().to_owned();
    let add = |email: &str| AddMember {
        email: email.into(),
        role: "developer".into(),
        display_name: None,
        password: Some(Secret::new(PASSWORD)),
    };
    kh.add_member(&op, "default", &add("bench@team.example"))
        .unwrap();
    let policy = SessionPolicy::default();
    let (session, _) = kh
        .sign_in(&origin(0), &sign_in("bench@team.example", PASSWORD), policy)
        .unwrap();
    let session = session.0.to_string();
    let names = [
        "key verify",
        "session check",
        "sign-in",
        "sign-in, wrong password",
        "sign-in, unknown email",
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut n = 1;
    for round in 0..ROUNDS {
        let o = origin(0);
        times[0].push(per_call(FAST, &mut || {
            black_box(kh.verify_token(black_box(&key), None).unwrap());
        }));
        times[1].push(per_call(FAST, &mut || {
            black_box(kh.session_caller(black_box(&session), None, &o).unwrap());
        }));
        times[2].push(per_call(SLOW, &mut || {
            n += 1;
            black_box(
                kh.sign_in(&origin(n), &sign_in("bench@team.example", PASSWORD), policy)
                    .unwrap(),
            );
        }));
        // Wrong passwords for members of their own (five failures an account are free).
        let wrong = format!("wrong{round}@team.example");
        kh.add_member(&op, "default", &add(&wrong)).unwrap();
        times[3].push(per_call(SLOW, &mut || {
            n += 1;
            black_box(
                kh.sign_in(
                    &origin(n),
                    &sign_in(&wrong, "not the passphrase at all"),
                    policy,
                )
                .unwrap_err(),
            );
        }));
        times[4].push(per_call(SLOW, &mut || {
            n += 1;
            let nobody = format!("nobody{n}@team.example");
            black_box(
                kh.sign_in(&origin(n), &sign_in(&nobody, PASSWORD), policy)
                    .unwrap_err(),
            );
        }));
    }
    let med: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    println!("{ROUNDS} interleaved rounds, medians:");
    for (name, t) in names.iter().zip(&med) {
        println!(
            "  {name:<26} {:>10.1} us   {:>8.3}x key verify",
            t * 1e6,
            t / med[0]
        );
    }
    println!("  unknown email / wrong password: {:.3}", med[4] / med[3]);
}
