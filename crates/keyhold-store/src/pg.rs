//! The PostgreSQL side of the SQL layer: a small pool of connections, each a
//! `tokio-postgres` client whose socket is driven by the pool's own runtime, so that the
//! store's synchronous calls work from any thread — a plain one, the blocking pool, or an
//! async worker of the server — without entering a runtime of the caller's. Each connection
//! speaks TLS as the store's `sslmode` says (`pg_tls.rs`). Statements are the store's one
//! dialect with `?N` written as `$N`, prepared once per connection.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::sql::{Row, Value};

/// Runs `f` to completion on this thread, parking it while `f` waits. The futures it runs
/// only wait on channels to a connection task that the pool's runtime drives, so this needs
/// no runtime of its own and may run inside another's.
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// The statement text PostgreSQL takes: numbered parameters `?N` become `$N`.
pub(crate) fn dialect(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

impl ToSql for Value {
    /// Each kind as the column's own type asks: an integer as whichever integer width (or a
    /// boolean), text as text, bytes as `bytea`.
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Self::Null => Ok(IsNull::Yes),
            Self::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Self::Text(t) => t.as_str().to_sql(ty, out),
            Self::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Column `i` of a PostgreSQL row as a [`Value`], by the column's type.
fn value(row: &tokio_postgres::Row, i: usize) -> Result<Value, tokio_postgres::Error> {
    let ty = row.columns().get(i).map(|c| c.type_().clone());
    Ok(match ty {
        Some(Type::INT8) => row
            .try_get::<_, Option<i64>>(i)?
            .map_or(Value::Null, Value::Int),
        Some(Type::INT4) => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(Value::Null, |v| Value::Int(i64::from(v))),
        Some(Type::INT2) => row
            .try_get::<_, Option<i16>>(i)?
            .map_or(Value::Null, |v| Value::Int(i64::from(v))),
        Some(Type::BOOL) => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Value::Null, |v| Value::Int(i64::from(v))),
        Some(Type::BYTEA) => row
            .try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Value::Null, Value::Blob),
        _ => row
            .try_get::<_, Option<String>>(i)?
            .map_or(Value::Null, Value::Text),
    })
}

/// Why a connection could not be had: the server said no, or the pool's runtime is gone.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server's or the driver's error.
    Db(tokio_postgres::Error),
    /// The task that opens connections ended without an answer.
    Gone,
    /// Every connection stayed in use for as long as a caller may wait.
    Busy,
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e)
    }
}

/// The runtime's connecting task ended without answering.
struct Gone;

impl From<Gone> for Failure {
    fn from(_: Gone) -> Self {
        Self::Gone
    }
}

/// One connection of the pool, used by one transaction at a time.
pub(crate) struct PgConn {
    client: Client,
    statements: RefCell<HashMap<String, Statement>>,
    /// A statement failed, or a transaction ended without committing, since the connection
    /// was taken: it may be left inside a transaction or holding a session lock, so it is
    /// reset before anyone else uses it.
    unsure: Cell<bool>,
}

impl PgConn {
    /// `result`, noting a failure: the connection is then reset when given back.
    fn noted<T>(
        &self,
        result: Result<T, tokio_postgres::Error>,
    ) -> Result<T, tokio_postgres::Error> {
        if result.is_err() {
            self.unsure.set(true);
        }
        result
    }

    /// The prepared statement of `sql` (in the store's dialect), prepared once.
    fn statement(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let prepared = self.noted(block_on(self.client.prepare(&dialect(sql))))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_owned(), prepared.clone());
        Ok(prepared)
    }

    /// Runs one statement: how many rows it changed.
    pub(crate) fn exec(&self, sql: &str, params: &[Value]) -> Result<u64, tokio_postgres::Error> {
        let stmt = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        self.noted(block_on(self.client.execute(&stmt, &params)))
    }

    /// Every row a query answers.
    pub(crate) fn rows(
        &self,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let stmt = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        let rows = self.noted(block_on(self.client.query(&stmt, &params)))?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| value(r, i))
                    .collect::<Result<_, _>>()
                    .map(Row)
            })
            .collect()
    }

    /// Runs statements that take no parameters (transaction control, the schema).
    pub(crate) fn batch(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.noted(block_on(self.client.batch_execute(sql)))
    }

    /// Whether the connection is fit to be given to the next caller: after a failure, the
    /// transaction it may be left in is rolled back and any session lock released; one that
    /// cannot be reset is not fit.
    fn reset(&self) -> bool {
        if self.unsure.get() {
            let reset = block_on(
                self.client
                    .batch_execute("ROLLBACK; SELECT pg_advisory_unlock_all()"),
            );
            if reset.is_err() {
                return false;
            }
            self.unsure.set(false);
        }
        !self.is_closed()
    }

    /// Whether a statement failed since the connection was taken.
    pub(crate) fn failed(&self) -> bool {
        self.unsure.get()
    }

    /// Has the connection reset when it is given back (its transaction rolled back, its
    /// session locks released): for a transaction that ends without committing.
    pub(crate) fn reset_on_return(&self) {
        self.unsure.set(true);
    }

    /// Whether the connection is closed (the server went away): it is then dropped.
    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

/// A bounded pool of connections to one database, with the runtime that drives them.
pub(crate) struct PgPool {
    runtime: tokio::runtime::Runtime,
    config: tokio_postgres::Config,
    /// Starts TLS where `config`'s mode asks for it, verifying as the store's `sslmode` says.
    tls: MakeRustlsConnect,
    idle: Mutex<(Vec<PgConn>, usize)>,
    returned: Condvar,
    size: usize,
}

/// A connection taken from the pool, given back when dropped (unless it closed).
pub(crate) struct Taken<'p> {
    pool: &'p PgPool,
    conn: Option<PgConn>,
}

impl std::ops::Deref for Taken<'_> {
    type Target = PgConn;
    fn deref(&self) -> &PgConn {
        // Present from `take` until `drop`.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let fit = conn.reset();
        let mut idle = self.pool.lock();
        if fit {
            idle.0.push(conn);
        } else {
            idle.1 -= 1;
        }
        drop(idle);
        self.pool.returned.notify_one();
    }
}

impl PgPool {
    /// A pool of at most `size` connections as `config` says, with `tls` (nothing is opened
    /// yet).
    pub(crate) fn new(
        config: tokio_postgres::Config,
        tls: MakeRustlsConnect,
        size: usize,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("keyhold-pg")
            .enable_all()
            .build()?;
        Ok(Self {
            runtime,
            config,
            tls,
            idle: Mutex::new((Vec::new(), 0)),
            returned: Condvar::new(),
            size: size.max(1),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<PgConn>, usize)> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An idle connection, a new one while fewer than `size` are open, or the next one given
    /// back within `wait`.
    pub(crate) fn take(&self, wait: Duration) -> Result<Taken<'_>, Failure> {
        let deadline = Instant::now() + wait;
        let mut idle = self.lock();
        loop {
            if let Some(conn) = idle.0.pop() {
                // One the server closed meanwhile (a restart, a failover) is dropped unused.
                if conn.is_closed() {
                    idle.1 -= 1;
                    continue;
                }
                return Ok(Taken {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if idle.1 < self.size {
                idle.1 += 1;
                drop(idle);
                return match self.connect() {
                    Ok(conn) => Ok(Taken {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.lock().1 -= 1;
                        // The place this attempt held is free for a caller waiting on it.
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::Busy);
            }
            idle = self
                .returned
                .wait_timeout(idle, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// A new connection; its socket is driven by the pool's runtime from now on.
    fn connect(&self) -> Result<PgConn, Failure> {
        let config = self.config.clone();
        let tls = self.tls.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        self.runtime.spawn(async move {
            match config.connect(tls).await {
                Ok((client, connection)) => {
                    let _ = tx.send(Ok(client));
                    // Ends when the client is dropped or the server goes away.
                    let _ = connection.await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
        let client = rx.recv().map_err(|_| Gone)??;
        Ok(PgConn {
            client,
            statements: RefCell::new(HashMap::new()),
            unsure: Cell::new(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_are_written_as_postgresql_writes_them() {
        assert_eq!(
            dialect("SELECT a FROM t WHERE b = ?1 AND c = ?12 OR d IS ?"),
            "SELECT a FROM t WHERE b = $1 AND c = $12 OR d IS ?"
        );
    }

    #[test]
    fn a_ready_future_is_answered_at_once_and_a_waiting_one_when_woken() {
        assert_eq!(block_on(async { 7 }), 7);
        let (tx, rx) = futures_channel_oneshot();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let _ = tx.send(5);
        });
        assert_eq!(block_on(rx), Ok(5));
    }

    /// A one-shot channel whose receiver is a future woken from another thread.
    fn futures_channel_oneshot() -> (
        tokio::sync::oneshot::Sender<i32>,
        tokio::sync::oneshot::Receiver<i32>,
    ) {
        tokio::sync::oneshot::channel()
    }
}
