//! The throwaway PostgreSQL of the test command (`scripts/pg-cluster`, found through the
//! `KEYHOLD_TEST_PG_*` variables: a test fails, never skips, without them), seen from the
//! server's tests: its address, a superuser client, login roles made for one test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;

fn var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: run the tests with scripts/test, or start a server with \
             `scripts/pg-cluster start DIR` and `set -a; . DIR/env; set +a` first"
        ),
    }
}

/// The test server's host and port.
pub fn address() -> (String, u16) {
    let port = var("KEYHOLD_TEST_PG_PORT").parse().expect("a port");
    (var("KEYHOLD_TEST_PG_HOST"), port)
}

/// The superuser's name and password.
pub fn superuser() -> (String, String) {
    let file = var("KEYHOLD_TEST_PG_PASSWORD_FILE");
    let password = std::fs::read_to_string(&file).expect("the superuser's password file");
    (var("KEYHOLD_TEST_PG_USER"), password.trim_end().to_owned())
}

/// A client logged in as `user` with `password`, or the error.
pub fn login(user: &str, password: &str) -> Result<postgres::Client, postgres::Error> {
    let (host, port) = address();
    postgres::Config::new()
        .host(&host)
        .port(port)
        .dbname("postgres")
        .user(user)
        .password(password)
        .connect_timeout(std::time::Duration::from_secs(5))
        .connect(postgres::NoTls)
}

/// How many tables the database `url` names (a URL of [`database`]) holds.
pub fn tables_in(url: &str) -> i64 {
    let db = url.split('?').next().and_then(|u| u.rsplit('/').next());
    let (user, password) = superuser();
    let (host, port) = address();
    postgres::Config::new()
        .host(&host)
        .port(port)
        .dbname(db.expect("a database in the URL"))
        .user(&user)
        .password(&password)
        .connect(postgres::NoTls)
        .expect("the superuser logs in")
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
            &[],
        )
        .expect("count tables")
        .get(0)
}

/// Whether `user` logs in with `password` and runs `SELECT 1`.
pub fn logs_in(user: &str, password: &str) -> bool {
    login(user, password)
        .and_then(|mut c| c.simple_query("SELECT 1"))
        .is_ok()
}

/// 16 random lowercase hex digits.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A login role made for one test (a name no other test picks), dropped when it ends.
pub struct Role {
    pub name: String,
    pub password: String,
}

impl Role {
    pub fn new() -> Role {
        let (name, password) = (format!("kh_test_{}", random_hex()), random_hex());
        let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
        let (user, pw) = superuser();
        login(&user, &pw)
            .expect("the superuser logs in")
            .batch_execute(&format!(
                "CREATE ROLE \"{name}\" LOGIN PASSWORD '{verifier}'"
            ))
            .expect("create the test role");
        Role { name, password }
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let (user, pw) = superuser();
        if let Ok(mut c) = login(&user, &pw) {
            let _ = c.batch_execute(&format!("DROP ROLE IF EXISTS \"{}\"", self.name));
        }
    }
}

/// The body creating connection `orders` for roles `a` and `b`, with the superuser as the
/// admin login.
pub fn create_body(a: &Role, b: &Role, grace_secs: u64) -> String {
    let (host, port) = address();
    let (admin, admin_password) = superuser();
    serde_json::json!({
        "name": "orders", "kind": "postgres", "host": host, "port": port,
        "database": "postgres", "primary_user": a.name, "secondary_user": b.name,
        "admin_user": admin, "admin_password": admin_password, "grace_secs": grace_secs,
    })
    .to_string()
}

/// A fresh, empty database for one test's shared store: its URL, without a password (the
/// superuser's is in `KEYHOLD_TEST_PG_PASSWORD_FILE`, which a node reads as
/// `KEYHOLD_STORE_PASSWORD_FILE`).
pub fn database() -> String {
    let name = format!("kh_nodes_{}", random_hex());
    let (user, password) = superuser();
    login(&user, &password)
        .expect("the superuser logs in")
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create database");
    let (host, port) = address();
    // The cluster speaks TLS with a certificate of its own CA, which the nodes verify.
    let ca = var("KEYHOLD_TEST_PG_CA");
    format!("postgres://{user}@{host}:{port}/{name}?sslrootcert={ca}")
}

/// The file holding the superuser's password.
pub fn password_file() -> String {
    var("KEYHOLD_TEST_PG_PASSWORD_FILE")
}
