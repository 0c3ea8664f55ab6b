//! The PostgreSQL connector (`tokio-postgres` on a runtime of its own per call, under one
//! deadline; plain TCP for now).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use keyhold_crypto::SecretBytes;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};

use crate::{Connector, Login, Refusal, SetError, quote_ident, quote_literal};

/// How long a connection attempt may take before the target counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one statement may run at the target (sent as the session's `statement_timeout`).
const STATEMENT_TIMEOUT_MS: u32 = 10_000;
/// How long a whole call — name lookup, connection, authentication, statement, answer — may
/// take: past it the attempt is dropped (its socket closed) and the target counts as
/// unreachable, whatever the server does. A server that accepts a connection and never
/// answers holds nothing of keyhold's for longer.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// Why a [`Postgres`] could not be built from its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostgresConfigError {
    /// The host is empty, a socket path, or holds whitespace or a control character.
    #[error("the host must be a non-empty name or address (not a socket path) without whitespace")]
    Host,
    /// Port 0.
    #[error("the port must not be 0")]
    Port,
    /// The database name is empty or holds a control character.
    #[error("the database name must be non-empty and without NUL")]
    Database,
}

/// A PostgreSQL server and database to log in to.
///
/// [`Connector::test`] opens a connection with the login and runs `SELECT 1`.
/// [`Connector::set_password`] logs in as the authority and runs
/// `ALTER ROLE "<user>" PASSWORD '<verifier>'`, where the verifier is the SCRAM-SHA-256 secret
/// (`SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>`) computed here from the new password
/// with a fresh random salt. The server stores a verifier as it is, so the password itself is
/// never sent: no server log line (even with `log_statement = all`) and no
/// `pg_stat_activity` row can hold it. The verifier does appear in such a log; it lets nobody
/// log in, and recovering a 32-character random password from it is out of reach.
///
/// Errors are told by SQLSTATE, in this crate's words (the server's text may quote a
/// statement): `28P01`/`28000` (authentication failed) is [`Refusal::Rejected`] and
/// [`SetError::Rejected`]; `42501` (permission denied) is [`SetError::NotPermitted`] (and, for
/// a test, `Rejected`: the login may not use the database); `42704` (no such role) is
/// `SetError::Rejected`; a refused or timed-out connection is `Unreachable`; any other server
/// error is `Refusal::Unreachable` (the login's worth is unknown) or `SetError::Rejected`.
///
/// The connection is configured field by field (`tokio_postgres::Config`), never through a
/// connection string, with `application_name = keyhold`, a 5 s connect timeout, TCP
/// keepalives, and the whole call bounded by [`DEADLINE`]. It is plain
/// TCP (`NoTls`) for now: TLS to PostgreSQL comes with a later piece of work.
#[derive(Clone, PartialEq, Eq)]
pub struct Postgres {
    host: String,
    port: u16,
    database: String,
    connect_timeout: Duration,
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postgres")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .finish()
    }
}

impl Postgres {
    /// The server at `host:port` (a name or an address, reached over TCP), database
    /// `database`. A Unix socket directory is refused: a local socket would let whoever names
    /// it log in as the server process's own OS user (`peer` authentication).
    pub fn new(host: &str, port: u16, database: &str) -> Result<Self, PostgresConfigError> {
        let bad = |c: char| c == '\0' || c.is_whitespace() || c.is_control();
        if host.is_empty() || host.starts_with('/') || host.chars().any(bad) {
            return Err(PostgresConfigError::Host);
        }
        if port == 0 {
            return Err(PostgresConfigError::Port);
        }
        if database.is_empty() || database.chars().any(char::is_control) {
            return Err(PostgresConfigError::Database);
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            database: database.to_owned(),
            connect_timeout: CONNECT_TIMEOUT,
        })
    }

    /// The same server with another connect timeout (at least 1 s; [`CONNECT_TIMEOUT`] by
    /// default).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_secs(1));
        self
    }

    /// `host:port/database`, for messages.
    pub fn target(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.database)
    }

    /// Logs in as `login` and runs `work` on the session, all within [`DEADLINE`].
    fn with_session<T, F, Fut>(&self, login: &Login<'_>, work: F) -> Result<T, Failure>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let mut config = Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.database)
            .user(login.user)
            // EXPOSE: the login's password goes to the client library, which answers the
            // server's SCRAM challenge with it (it never travels in clear over SCRAM).
            .password(login.password.expose())
            .application_name("keyhold")
            .options(format!("-c statement_timeout={STATEMENT_TIMEOUT_MS}"))
            .connect_timeout(self.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .tcp_user_timeout(DEADLINE);
        let unreachable = |what: &str| Failure::Unreachable(format!("{}: {what}", self.target()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|_| unreachable("no runtime to reach it with"))?;
        runtime.block_on(async {
            let attempt = async {
                let (client, connection) = config.connect(NoTls).await?;
                // The connection is driven beside the work; both end with the runtime.
                tokio::spawn(connection);
                work(client).await
            };
            match tokio::time::timeout(DEADLINE, attempt).await {
                Ok(done) => done.map_err(|e| self.failure(&e)),
                Err(_) => Err(unreachable(&format!(
                    "no answer within {} s",
                    DEADLINE.as_secs()
                ))),
            }
        })
    }

    /// What went wrong, in this crate's words (the server's message text is not used: it may
    /// quote the statement).
    fn failure(&self, e: &tokio_postgres::Error) -> Failure {
        let target = self.target();
        if let Some(code) = e.code() {
            let c = code.code();
            return if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            {
                Failure::Rejected(format!(
                    "{target}: password authentication failed (SQLSTATE {c})"
                ))
            } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
                Failure::NotPermitted(format!("{target}: permission denied (SQLSTATE {c})"))
            } else if *code == SqlState::UNDEFINED_OBJECT {
                Failure::Rejected(format!("{target}: no such role (SQLSTATE {c})"))
            } else {
                Failure::Other(format!("{target}: the server answered SQLSTATE {c}"))
            };
        }
        let io = std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>());
        let what = match io.map(std::io::Error::kind) {
            Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".to_owned(),
            Some(std::io::ErrorKind::TimedOut) => "timed out".to_owned(),
            Some(kind) => format!("network error ({kind})"),
            None if e.is_closed() => "the connection was closed".to_owned(),
            None => "the connection could not be completed".to_owned(),
        };
        Failure::Unreachable(format!("{target}: {what}"))
    }
}

/// A failure before it is told as a [`Refusal`] or a [`SetError`].
enum Failure {
    Rejected(String),
    NotPermitted(String),
    Unreachable(String),
    /// A server error that is neither an authentication nor a permission failure.
    Other(String),
}

impl From<Failure> for Refusal {
    fn from(f: Failure) -> Self {
        match f {
            // A login that connects but may not use the database is refused like a bad password.
            Failure::Rejected(detail) | Failure::NotPermitted(detail) => {
                Refusal::Rejected { detail }
            }
            Failure::Unreachable(detail) | Failure::Other(detail) => {
                Refusal::Unreachable { detail }
            }
        }
    }
}

impl From<Failure> for SetError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Rejected(detail) | Failure::Other(detail) => SetError::Rejected { detail },
            Failure::NotPermitted(detail) => SetError::NotPermitted { detail },
            Failure::Unreachable(detail) => SetError::Unreachable { detail },
        }
    }
}

/// The `ALTER ROLE` statement that gives `user` the password whose verifier is `verifier`.
fn alter_role(user: &str, verifier: &str) -> Result<String, SetError> {
    let ident = quote_ident(user).map_err(|e| SetError::Rejected {
        detail: format!("the role name cannot be used: {e}"),
    })?;
    // A verifier is `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` in base64:
    // anything else is not sent.
    let plain = verifier.starts_with("SCRAM-SHA-256$")
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-$:+/=".contains(&b));
    if !plain {
        return Err(SetError::Rejected {
            detail: "the password verifier is malformed".into(),
        });
    }
    let literal = quote_literal(verifier).map_err(|_| SetError::Rejected {
        detail: "the password verifier is malformed".into(),
    })?;
    Ok(format!("ALTER ROLE {ident} PASSWORD {literal}"))
}

impl Connector for Postgres {
    fn testable(&self) -> bool {
        true
    }

    fn test(&self, login: &Login<'_>) -> Result<(), Refusal> {
        let rows = self
            .with_session(login, |client| async move {
                client.simple_query("SELECT 1").await
            })
            .map_err(Refusal::from)?;
        if rows.is_empty() {
            return Err(Refusal::Unreachable {
                detail: format!("{}: SELECT 1 returned nothing", self.target()),
            });
        }
        Ok(())
    }

    fn regenerates(&self) -> bool {
        true
    }

    fn set_password(
        &self,
        user: &str,
        new: &SecretBytes,
        authority: &Login<'_>,
    ) -> Result<(), SetError> {
        if new.is_empty() || new.expose().contains(&0) {
            return Err(SetError::Rejected {
                detail: "a PostgreSQL password must be non-empty and without NUL".into(),
            });
        }
        // EXPOSE: hashed here into the SCRAM verifier, the only form that leaves this process.
        let verifier =
            zeroize::Zeroizing::new(postgres_protocol::password::scram_sha_256(new.expose()));
        let sql = zeroize::Zeroizing::new(alter_role(user, &verifier)?);
        self.with_session(authority, |client| async move {
            client.batch_execute(&sql).await
        })
        .map_err(SetError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert!(Postgres::new("db.internal", 5432, "app").is_ok());
        assert_eq!(
            Postgres::new("/run/postgresql", 5432, "app"),
            Err(PostgresConfigError::Host),
            "no Unix socket: its peer authentication would be the server's own OS user"
        );
        assert_eq!(
            Postgres::new("", 5432, "app"),
            Err(PostgresConfigError::Host)
        );
        assert_eq!(
            Postgres::new("a b", 5432, "app"),
            Err(PostgresConfigError::Host)
        );
        assert_eq!(
            Postgres::new("a\0", 5432, "app"),
            Err(PostgresConfigError::Host)
        );
        assert_eq!(Postgres::new("h", 0, "app"), Err(PostgresConfigError::Port));
        assert_eq!(
            Postgres::new("h", 1, ""),
            Err(PostgresConfigError::Database)
        );
        assert_eq!(
            Postgres::new("h", 1, "a\0"),
            Err(PostgresConfigError::Database)
        );
    }

    #[test]
    fn the_statement_carries_a_verifier_and_a_quoted_name() {
        let v = postgres_protocol::password::scram_sha_256(b"s3cret-canary");
        let sql = alter_role("x\"; DROP ROLE postgres; --", &v).unwrap();
        assert!(sql.starts_with(
            "ALTER ROLE \"x\"\"; DROP ROLE postgres; --\" PASSWORD 'SCRAM-SHA-256$4096:"
        ));
        assert!(!sql.contains("s3cret-canary"));
        assert!(alter_role("u", "plaintext").is_err());
        assert!(alter_role("u", "SCRAM-SHA-256$4096:a'b").is_err());
        assert!(alter_role("", &v).is_err());
    }

    #[test]
    fn a_server_that_never_answers_is_unreachable_after_the_deadline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        // Accept the connection and hold it open, answering nothing.
        let held = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
        let pg = Postgres::new("127.0.0.1", port, "app").expect("settings");
        let password = SecretBytes::copy_from(b"whatever");
        let got = pg.test(&Login {
            user: "app",
            password: &password,
        });
        match got {
            Err(Refusal::Unreachable { detail }) => {
                assert!(detail.contains("no answer within 15 s"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        drop(held);
    }
}
