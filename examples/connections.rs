//! An application that takes its database login from keyhold and survives rotations: it keeps
//! the credential it was handed, and when the database refuses it (the credential was rotated
//! away), it asks keyhold once more and retries — once.
//!
//! The same code runs on a local store or through a keyhold server (`Operations` is either),
//! so an application host needs no master key: only an API key with `connections:use`.
//!
//! Run against a PostgreSQL you administer (its superuser login in the usual libpq variables):
//! `PGHOST=… PGPORT=… PGUSER=postgres PGPASSWORD=… cargo run -p keyhold-examples --example
//! connections`. The example makes two login roles, a store in a temporary directory and a
//! connection over the roles; it queries, rotates twice behind the application's back, and
//! queries again; then it drops the roles.
#![allow(clippy::print_stdout)]

use keyhold::api::{ActiveCredential, ConnectionKind, CreateConnection, Rotate, Secret, SlotName};
use keyhold::{Caller, KeySource, Keyhold, Local, MasterKey, Operations};

type Error = Box<dyn std::error::Error>;

/// The application's side: a credential kept between queries, refreshed only when refused.
struct Consumer<'a> {
    keyhold: &'a dyn Operations,
    connection: &'a str,
    held: Option<ActiveCredential>,
}

impl Consumer<'_> {
    /// Runs `SELECT 1`, re-reading the credential once if the database refuses the one held.
    fn query(&mut self) -> Result<i32, Error> {
        match self.try_query() {
            Err(e) if refused_login(&e) => {
                println!("  the database refused the credential held: re-reading it from keyhold");
                self.held = None;
                self.try_query()
            }
            other => other,
        }
    }

    fn try_query(&mut self) -> Result<i32, Error> {
        if self.held.is_none() {
            self.held = Some(self.keyhold.active_credential(None, self.connection)?);
        }
        let c = self.held.as_ref().ok_or("no credential")?;
        let mut client = postgres::Config::new()
            .host(c.host.as_deref().unwrap_or("localhost"))
            .port(c.port.unwrap_or(5432))
            .dbname(c.database.as_deref().unwrap_or("postgres"))
            .user(c.user.as_deref().unwrap_or_default())
            .password(c.password.expose())
            .connect(postgres::NoTls)?;
        let row = client.query_one("SELECT 1", &[])?;
        Ok(row.get(0))
    }
}

/// Whether `e` is the database refusing the login (SQLSTATE class 28).
fn refused_login(e: &Error) -> bool {
    e.downcast_ref::<postgres::Error>()
        .and_then(postgres::Error::code)
        .is_some_and(|c| c.code().starts_with("28"))
}

fn env(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("{name} is not set: see the example's header").into())
}

/// The administrator's client, from the libpq variables.
fn admin() -> Result<postgres::Client, Error> {
    Ok(postgres::Config::new()
        .host(&env("PGHOST")?)
        .port(env("PGPORT")?.parse()?)
        .dbname("postgres")
        .user(&env("PGUSER")?)
        .password(env("PGPASSWORD")?)
        .connect(postgres::NoTls)?)
}

fn main() -> Result<(), Error> {
    let suffix = format!("{:x}", std::process::id());
    let roles = [format!("app_a_{suffix}"), format!("app_b_{suffix}")];
    let mut db = admin()?;
    for r in &roles {
        // The roles start with no password: keyhold sets every one they will ever have.
        db.batch_execute(&format!("CREATE ROLE \"{r}\" LOGIN"))?;
    }
    let result = demo(&roles);
    for r in &roles {
        db.batch_execute(&format!("DROP ROLE IF EXISTS \"{r}\""))?;
    }
    result
}

fn demo(roles: &[String; 2]) -> Result<(), Error> {
    let tmp = tempfile::tempdir()?;
    let master = MasterKey::generate()?;
    let key = KeySource::Text(keyhold::Zeroizing::new(master.to_base64url().to_string()));
    let (kh, _) = Keyhold::init(tmp.path().join("data"), key)?;
    let ops = Local::new(kh, Caller::operator());
    ops.create_connection(
        None,
        &CreateConnection {
            name: "orders".into(),
            kind: ConnectionKind::Postgres,
            host: Some(env("PGHOST")?),
            port: Some(env("PGPORT")?.parse()?),
            database: Some("postgres".into()),
            url: None,
            scheme: None,
            primary_user: Some(roles[0].clone()),
            secondary_user: Some(roles[1].clone()),
            admin_user: Some(env("PGUSER")?),
            admin_password: Some(Secret::new(env("PGPASSWORD")?)),
            grace_secs: 0,
            rotate_every_secs: None,
        },
    )?;
    // The first credential: made by keyhold, set at the database, tested, saved.
    let made = ops.regenerate_credential(None, "orders", SlotName::Primary, &Rotate::default())?;
    assert!(made.passed, "the database accepted the new credential");
    ops.save_credential(None, "orders", SlotName::Primary, &Default::default())?;

    let mut app = Consumer {
        keyhold: &ops,
        connection: "orders",
        held: None,
    };
    println!("query: {}", app.query()?);
    // Two rotations with no grace: the credential the application holds is replaced.
    for _ in 0..2 {
        let r = ops.rotate_connection(None, "orders", &Rotate { force: true })?;
        println!(
            "rotated: the {} slot is active",
            r.connection.active.map_or("no", |s| s.as_str())
        );
    }
    println!("query: {}", app.query()?);
    Ok(())
}
