//! What the PostgreSQL tests share: the throwaway server `scripts/pg-cluster` starts (found
//! through the `KEYHOLD_TEST_PG_*` variables; a test fails, never skips, without them), role
//! names no other test uses, roles that are dropped when the test ends, and the server's log.
#![allow(dead_code)] // each test file uses its own part of this module

use keyhold_connect::{Login, Postgres, SecretBytes};
use postgres::{Client, Config, NoTls};

const HINT: &str = "is not set: run the tests with scripts/test, or start a server with \
                    `scripts/pg-cluster start DIR` and `set -a; . DIR/env; set +a` first";

fn var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{name} {HINT}"),
    }
}

/// The test server's superuser: host, port, user and password.
pub fn admin() -> (String, u16, String, SecretBytes) {
    let host = var("KEYHOLD_TEST_PG_HOST");
    let port = var("KEYHOLD_TEST_PG_PORT")
        .parse()
        .expect("KEYHOLD_TEST_PG_PORT is a port number");
    let user = var("KEYHOLD_TEST_PG_USER");
    let file = var("KEYHOLD_TEST_PG_PASSWORD_FILE");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("KEYHOLD_TEST_PG_PASSWORD_FILE ({file}) is unreadable: {e}"));
    (
        host,
        port,
        user,
        SecretBytes::copy_from(text.trim_end().as_bytes()),
    )
}

/// The connector for the test server's `postgres` database.
pub fn connector() -> Postgres {
    let (host, port, _, _) = admin();
    Postgres::new(&host, port, "postgres").expect("valid settings")
}

/// A plain client logged in as the superuser, for setting up and checking.
pub fn admin_client() -> Client {
    let (host, port, user, password) = admin();
    Config::new()
        .host(&host)
        .port(port)
        .dbname("postgres")
        .user(&user)
        .password(password.expose())
        .application_name("keyhold-tests")
        .connect(NoTls)
        .expect("the test server accepts its superuser")
}

/// Runs `f` with the superuser's login.
pub fn with_admin_login<T>(f: impl FnOnce(&Login<'_>) -> T) -> T {
    let (_, _, user, password) = admin();
    f(&Login {
        user: &user,
        password: &password,
    })
}

/// `kh_test_` and 16 random hex digits: a name no other test (in any process) picks.
pub fn unique() -> String {
    keyhold_crypto::random::identifier("kh_test_", 8).expect("OS random")
}

/// A random string to plant as a secret and look for where it must not be.
pub fn canary() -> SecretBytes {
    let id = keyhold_crypto::random::identifier("canary", 12).expect("OS random");
    SecretBytes::from_vec(id.into_bytes())
}

/// A login role created for one test and dropped when it ends. Its password is set from a
/// SCRAM verifier, so the setup puts no password into the server's log either.
pub struct Role {
    pub name: String,
}

impl Role {
    /// Creates `name` with `LOGIN` and `password`, and `extra` options (e.g. `CREATEROLE`).
    pub fn create(name: &str, password: &SecretBytes, extra: &str) -> Role {
        let verifier = postgres_protocol::password::scram_sha_256(password.expose());
        let sql = format!(
            "CREATE ROLE {} LOGIN {extra} PASSWORD {}",
            keyhold_connect::quote_ident(name).expect("a usable name"),
            keyhold_connect::quote_literal(&verifier).expect("a plain verifier"),
        );
        admin_client()
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("cannot create the test role {name:?}: {e}"));
        Role {
            name: name.to_owned(),
        }
    }

    pub fn login<'a>(&'a self, password: &'a SecretBytes) -> Login<'a> {
        Login {
            user: &self.name,
            password,
        }
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        if let Ok(ident) = keyhold_connect::quote_ident(&self.name) {
            let _ = admin_client().batch_execute(&format!("DROP ROLE IF EXISTS {ident}"));
        }
    }
}

/// The test server's log so far (it logs every statement and connection).
pub fn server_log() -> String {
    let path = var("KEYHOLD_TEST_PG_LOG");
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("KEYHOLD_TEST_PG_LOG ({path}) is unreadable: {e}"));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The secret as text, for looking for it in logs and messages.
pub fn text(secret: &SecretBytes) -> String {
    String::from_utf8(secret.expose().to_vec()).expect("test secrets are text")
}
