//! `keyhold-server`: the HTTP API over the keyhold facade. hyper 1 on tokio; every store
//! operation runs on the blocking pool (SQLite and the audit group commit block).
#![forbid(unsafe_code)]
// A server binary reports its address and the first admin key on stdout.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod api;
mod framing;
mod metrics;
mod portal;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use keyhold::{Caller, KeySource, Keyhold, Surface};

/// keyhold-server: API keys and connection credentials over HTTP.
#[derive(Debug, Parser)]
#[command(name = "keyhold-server", version, max_term_width = 100)]
struct Args {
    /// Data directory holding the store (created and initialised if empty).
    #[arg(
        long,
        env = "KEYHOLD_DATA_DIR",
        hide_env_values = true,
        default_value = "./keyhold-data",
        value_name = "DIR"
    )]
    data_dir: PathBuf,
    /// Where the store is, if not in the data directory: sqlite:DIR, or a PostgreSQL database
    /// several servers share (postgres://USER@HOST:PORT/DB; the password comes from
    /// KEYHOLD_STORE_PASSWORD_FILE, PGPASSWORD or a PGPASSFILE, never the URL).
    #[arg(
        long,
        env = "KEYHOLD_STORE",
        hide_env_values = true,
        value_name = "URL"
    )]
    store: Option<String>,
    /// Master key file (default: <DATA_DIR>/master.key). Ignored when KEYHOLD_MASTER_KEY is set.
    #[arg(
        long,
        env = "KEYHOLD_MASTER_KEY_FILE",
        hide_env_values = true,
        value_name = "FILE"
    )]
    master_key_file: Option<PathBuf>,
    /// Address to listen on. Loopback unless TLS is configured (or --insecure-no-tls).
    #[arg(long, default_value = "127.0.0.1:8200", value_name = "ADDR")]
    listen: SocketAddr,
    /// Accept plain HTTP on a non-loopback address (tokens would cross the network in clear).
    #[arg(long)]
    insecure_no_tls: bool,
    /// TLS certificate chain (PEM). With --tls-key, the server speaks only HTTPS.
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM; must be readable by its owner only).
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Seconds a client gets to send its headers, and then its body (slow or half-sent
    /// requests are answered 408 or dropped, without holding a worker).
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    read_timeout: u64,
    /// Log format: one line per request, as text or JSON (on stderr).
    #[arg(long, value_parser = ["human", "json"], default_value = "human")]
    log_format: String,
    /// Log level: error, warn, info, debug or trace. Nothing secret is logged at any level.
    #[arg(long, default_value = "info")]
    log_level: tracing::Level,
    /// How often to look for connections whose regular rotation is due (seconds; 0: never —
    /// another node or an operator rotates them).
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    rotation_check: u64,
    /// Let API keys create connections to this machine or its link (loopback, link-local
    /// addresses, localhost): for databases that run beside the server. Off by default: what
    /// answers there trusts this machine, not whoever named it.
    #[arg(long)]
    allow_local_targets: bool,
    /// Minutes without a request after which a signed-in session ends.
    #[arg(long, default_value_t = 30, value_name = "MINUTES")]
    session_idle_minutes: u32,
    /// Hours after which a signed-in session ends, whatever happens.
    #[arg(long, default_value_t = 12, value_name = "HOURS")]
    session_max_hours: u32,
    /// A reverse proxy in front of the server (its address; repeatable): the client address it
    /// appends to X-Forwarded-For is then the request's source, for the audit log and the
    /// sign-in throttle. Anyone else's X-Forwarded-For is ignored.
    #[arg(long = "trusted-proxy", value_name = "IP")]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// An origin browsers reach the server at (`https://keyhold.example.com`; repeatable).
    /// Requests naming another host are refused, and so are browsers' requests from any other
    /// origin. Without it a loopback server answers loopback names only.
    #[arg(long = "public-origin", value_name = "URL", value_parser = portal::public_origin)]
    public_origins: Vec<String>,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    if !args.listen.ip().is_loopback() && args.tls_cert.is_none() && !args.insecure_no_tls {
        eprintln!(
            "keyhold-server: error: refusing to listen on {} without TLS: pass --tls-cert and --tls-key (or, knowingly, --insecure-no-tls)",
            args.listen
        );
        return ExitCode::from(2);
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyhold-server: error: {e}");
            ExitCode::from(1)
        }
    }
}

fn open_or_init(args: &Args) -> keyhold::Result<Keyhold> {
    let key_file = args
        .master_key_file
        .clone()
        .unwrap_or_else(|| keyhold::default_key_file(&args.data_dir));
    let operator = Caller::operator().via(Surface::Library);
    let at = keyhold::StoreAt::or_data_dir(args.store.as_deref(), &args.data_dir)?;
    let (kh, first) =
        Keyhold::open_or_create_at(&at, KeySource::from_env_or_file(key_file), &operator)?;
    if let Some(first) = first {
        println!(
            "keyhold-server: created a new store in {}",
            first.report.data_dir.display()
        );
        // EXPOSE: the first admin key is shown exactly once, here.
        println!(
            "admin key (30 days; shown once, store it now): {}",
            first.admin.token.expose()
        );
    }
    Ok(kh)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let logs = tracing_subscriber::fmt()
        .with_max_level(args.log_level)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    if args.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }
    let app = Arc::new(api::App {
        kh: Arc::new(open_or_init(&args)?),
        metrics: metrics::Metrics::default(),
        read_timeout: Duration::from_secs(args.read_timeout.max(1)),
        router: api::Router::new()?,
        sessions: api::lifetimes(args.session_idle_minutes, args.session_max_hours)
            .ok_or("--session-idle-minutes must be at least 1 and within --session-max-hours")?,
        tls: args.tls_cert.is_some(),
        trusted_proxies: args.trusted_proxies.clone(),
        origins: portal::Origins {
            public: args.public_origins.clone(),
            loopback: args.listen.ip().is_loopback(),
        },
    });
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Key-use records are committed in batches on a thread of their own: a request waits for
    // its record as a future, holding no thread through the fsync.
    let committer = {
        let kh = app.kh.clone();
        std::thread::Builder::new()
            .name("keyhold-uses".into())
            .spawn(move || kh.run_use_committer())?
    };
    app.kh.allow_local_targets(args.allow_local_targets);
    if args.rotation_check > 0 {
        runtime.spawn(rotate_when_due(
            app.kh.clone(),
            Duration::from_secs(args.rotation_check),
        ));
    }
    let served = runtime.block_on(serve(app.clone(), args.listen, tls));
    // Every request has answered; what is still queued is committed before exit.
    app.kh.stop_use_committer();
    if committer.join().is_err() {
        return Err("the use-record committer failed".into());
    }
    served
}

/// Regular rotations: every `every`, the connections whose rotation is due are rotated by the
/// server itself (on the blocking pool; a failure is retried later by the schedule's own
/// policy, and the active credential keeps serving meanwhile).
async fn rotate_when_due(kh: Arc<Keyhold>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let kh = kh.clone();
        match tokio::task::spawn_blocking(move || kh.rotate_due()).await {
            Ok(Ok(done)) if done.rotated + done.failed > 0 => {
                tracing::info!(
                    rotated = done.rotated,
                    failed = done.failed,
                    "regular rotations"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(code = e.code(), "regular rotations: {e}"),
            Err(_) => tracing::warn!("regular rotations: the task failed"),
        }
    }
}

async fn serve(
    app: Arc<api::App>,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{}", listener.local_addr()?);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let app = app.clone();
                let watcher = graceful.watcher();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let http = http1::Builder::new()
                        .timer(TokioTimer::new())
                        // A client that does not finish its headers in time is dropped.
                        .header_read_timeout(app.read_timeout)
                        .to_owned();
                    let timeout = app.read_timeout;
                    // The framing of each request as sent, which hyper does not pass on.
                    let framing = framing::Framing::default();
                    let service = {
                        let framing = framing.clone();
                        service_fn(move |req| api::handle(app.clone(), peer, framing.next(), req))
                    };
                    match tls {
                        None => {
                            let io = TokioIo::new(framing::Inspected::new(stream, framing));
                            let _ = watcher.watch(http.serve_connection(io, service)).await;
                        }
                        Some(acceptor) => {
                            // The handshake gets the same deadline as headers do.
                            if let Ok(Ok(stream)) = tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                                let io = TokioIo::new(framing::Inspected::new(stream, framing));
                                let _ = watcher.watch(http.serve_connection(io, service)).await;
                            }
                        }
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    // In-flight requests finish (their audit rows are committed before they answer).
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
    Ok(())
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
