#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use super::*;

fn config(url: &str) -> tokio_postgres::Config {
    url.parse().expect("a URL the driver parses")
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn settle(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<Tls, StoreError> {
    let (rest, params) = take_params(url);
    Tls::settle(params, env, &config(&rest))
}

#[test]
fn the_tls_parameters_leave_the_url_and_the_others_stay() {
    let (url, params) = take_params(
        "postgres://kh@db:5432/k?sslmode=verify-full&connect_timeout=5&sslrootcert=%2Fca%20dir%2Fca.pem",
    );
    assert_eq!(url, "postgres://kh@db:5432/k?connect_timeout=5");
    assert_eq!(params.sslmode.as_deref(), Some("verify-full"));
    assert_eq!(params.sslrootcert.as_deref(), Some("/ca dir/ca.pem"));

    let (url, params) = take_params("postgres://kh@db/k?sslmode=require&sslmode=verify-ca");
    assert_eq!(url, "postgres://kh@db/k");
    assert_eq!(
        params.sslmode.as_deref(),
        Some("verify-ca"),
        "the last wins"
    );

    let (url, params) = take_params("postgres://kh@db/k");
    assert_eq!(
        (url.as_str(), params),
        ("postgres://kh@db/k", Params::default())
    );
}

#[test]
fn the_default_is_prefer_on_loopback_and_verify_full_elsewhere() {
    for local in [
        "postgres://kh@localhost/k",
        "postgres://kh@LOCALHOST:5433/k",
        "postgres://kh@127.0.0.1/k",
        "postgres://kh@127.8.9.10/k",
        "postgres://kh@[::1]:5432/k",
        "postgres://kh@%2Fvar%2Frun%2Fpostgresql/k",
    ] {
        assert_eq!(
            settle(local, no_env).unwrap().mode,
            SslMode::Prefer,
            "{local}"
        );
    }
    for remote in [
        "postgres://kh@db.example/k",
        "postgres://kh@10.0.0.1/k",
        "postgres://kh@localhost,db.example/k",
        "postgres://kh@localhost/k?hostaddr=10.0.0.1",
        "postgres://kh@localhost.example/k",
    ] {
        assert_eq!(
            settle(remote, no_env).unwrap().mode,
            SslMode::VerifyFull,
            "{remote}"
        );
    }
}

#[test]
fn the_url_wins_over_the_environment_and_the_environment_over_the_default() {
    let env = |name: &str| match name {
        "PGSSLMODE" => Some("verify-ca".to_owned()),
        "PGSSLROOTCERT" => Some("/env/ca.pem".to_owned()),
        _ => None,
    };
    let tls = settle("postgres://kh@db/k", env).unwrap();
    assert_eq!(tls.mode, SslMode::VerifyCa);
    assert_eq!(tls.rootcert, Some(PathBuf::from("/env/ca.pem")));

    let tls = settle(
        "postgres://kh@db/k?sslmode=disable&sslrootcert=/url/ca.pem",
        env,
    )
    .unwrap();
    assert_eq!(tls.mode, SslMode::Disable);
    assert_eq!(tls.rootcert, Some(PathBuf::from("/url/ca.pem")));

    // Each parameter on its own: the URL's mode, the environment's roots.
    let tls = settle("postgres://kh@db/k?sslmode=require", env).unwrap();
    assert_eq!(
        (tls.mode, tls.rootcert),
        (SslMode::Require, Some(PathBuf::from("/env/ca.pem")))
    );

    // An empty variable is no variable.
    let empty = |_: &str| Some(String::new());
    assert_eq!(
        settle("postgres://kh@db/k", empty).unwrap().mode,
        SslMode::VerifyFull
    );
}

#[test]
fn an_unknown_mode_is_an_error_naming_where_it_came_from() {
    let err = settle("postgres://kh@db/k?sslmode=bogus", no_env).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("sslmode \"bogus\"") && text.contains("verify-full"),
        "{text}"
    );
    let env = |name: &str| (name == "PGSSLMODE").then(|| "allow".to_owned());
    let text = settle("postgres://kh@db/k", env).unwrap_err().to_string();
    assert!(text.contains("PGSSLMODE \"allow\""), "{text}");
}

#[test]
fn each_mode_drives_the_driver_and_checks_what_it_says() {
    use tokio_postgres::config::SslMode as Driver;
    let expected = [
        ("disable", Driver::Disable, false),
        ("prefer", Driver::Prefer, false),
        ("require", Driver::Require, false),
        ("verify-ca", Driver::Require, false),
        ("verify-full", Driver::Require, true),
    ];
    for (name, driver, names) in expected {
        let (_, mode) = MODES.iter().find(|(n, _)| *n == name).unwrap();
        assert_eq!((mode.name(), mode.driver()), (name, driver));
        assert_eq!(*mode == SslMode::VerifyFull, names, "{name}");
    }
}

#[test]
fn an_unreadable_or_empty_rootcert_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "no certificate here\n").unwrap();
    for path in [&missing, &not_pem] {
        let tls = Tls {
            mode: SslMode::VerifyFull,
            rootcert: Some(path.clone()),
        };
        let mut config = config("postgres://kh@db/k");
        let err = tls.apply(&mut config).err().expect("refused");
        let text = err.to_string();
        assert!(
            text.contains("sslrootcert") && text.contains(&path.display().to_string()),
            "{text}"
        );
    }
    // Disabled TLS reads no root certificate.
    let tls = Tls {
        mode: SslMode::Disable,
        rootcert: Some(missing),
    };
    assert!(tls.apply(&mut config("postgres://kh@db/k")).is_ok());
}

#[test]
fn the_description_names_the_mode_and_the_roots() {
    let mut tls = Tls {
        mode: SslMode::VerifyCa,
        rootcert: Some(PathBuf::from("/etc/ca.pem")),
    };
    assert_eq!(
        tls.to_string(),
        "sslmode=verify-ca, sslrootcert=/etc/ca.pem"
    );
    tls.rootcert = None;
    assert_eq!(
        tls.to_string(),
        "sslmode=verify-ca, the system's root certificates"
    );
    tls.mode = SslMode::Disable;
    assert_eq!(tls.to_string(), "sslmode=disable");
}
