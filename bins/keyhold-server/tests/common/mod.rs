//! What the server's tests share: a server process on a fresh store over loopback, raw
//! HTTP requests, the error envelope, keys minted for a test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test file uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub log: std::path::PathBuf,
    pub addr: SocketAddr,
    pub admin: String,
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `keyhold` CLI, built beside this package's server by the workspace build.
pub fn cli_binary() -> std::path::PathBuf {
    let cli =
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_keyhold-server")).with_file_name("keyhold");
    assert!(
        cli.exists(),
        "{} is missing: build the whole workspace (cargo build --workspace --bins) first",
        cli.display()
    );
    cli
}

pub fn start() -> Server {
    start_with(&[])
}

pub fn start_with(extra: &[&str]) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyhold-server"))
        .args(["--log-level", "trace", "--log-format", "json"])
        .args(extra)
        .args([
            "--data-dir",
            dir.path().join("data").to_str().expect("utf8"),
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("KEYHOLD_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn server");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut admin, mut addr) = (None, None);
    while addr.is_none() {
        let line = lines.next().expect("server output").expect("line");
        if let Some(t) = line.strip_prefix("admin key (30 days; shown once, store it now): ") {
            admin = Some(t.to_owned());
        }
        if let Some(a) = line.strip_prefix("listening on http://") {
            addr = Some(a.parse().expect("address"));
        }
    }
    Server {
        child,
        log,
        addr: addr.expect("addr"),
        admin: admin.expect("admin key printed once"),
        dir,
    }
}

/// Polls `done` every 10 ms for up to 20 s; whether it came true. Tests wait on what they
/// can observe, never for a fixed time that a loaded machine may overrun.
pub fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` has accepted the connection from `peer` to its `listen` address and
/// read every byte sent on it so far (Linux: the kernel's TCP table and the process's fds).
/// A connection still in the accept queue has no socket inode; unread bytes show as rx_queue.
pub fn has_read_everything(pid: u32, listen: SocketAddr, peer: SocketAddr) -> bool {
    let hex = |a: SocketAddr| match a {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => unreachable!("the tests listen on 127.0.0.1"),
    };
    let (local, remote) = (hex(listen), hex(peer));
    let Ok(table) = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")) else {
        return false;
    };
    // Columns: sl local remote st tx_queue:rx_queue tr:when retrnsmt uid timeout inode ...
    let Some(inode) = table.lines().skip(1).find_map(|row| {
        let f: Vec<&str> = row.split_whitespace().collect();
        (f.len() > 9
            && f[1] == local
            && f[2] == remote
            && f[4].ends_with(":00000000")
            && f[9] != "0")
            .then(|| f[9].to_owned())
    }) else {
        return false;
    };
    let socket = std::path::PathBuf::from(format!("socket:[{inode}]"));
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == socket))
}

/// Reads one response with a `Content-Length` body off a kept-alive connection.
pub fn read_response(stream: &mut TcpStream) -> String {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                })
                .map(|(_, v)| v.trim().parse().expect("length"))
                .expect("content-length");
            if body.len() >= length {
                return text;
            }
        }
        let n = stream.read(&mut chunk).expect("read");
        assert!(n > 0, "connection closed mid-response: {text}");
        raw.extend_from_slice(&chunk[..n]);
    }
}

#[derive(Debug)]
pub struct Reply {
    pub raw: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn request(
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    extra: &[(&str, &str)],
) -> Reply {
    request_to(s.addr, method, path, token, body, extra)
}

/// [`request`] to the server at `addr`.
pub fn request_to(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    // The server's address as the Host, unless the test names another.
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or("");
    req.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    stream.write_all(req.as_bytes()).expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, payload) = raw
        .split_once("\r\n\r\n")
        .map(|(h, p)| (h.to_owned(), p.to_owned()))
        .expect("http response");
    let mut head_lines = head.lines();
    let status = head_lines
        .next()
        .expect("status")
        .split(' ')
        .nth(1)
        .expect("code")
        .parse()
        .expect("number");
    let headers = head_lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        raw,
    }
}

pub fn assert_envelope(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{:?}", r.body);
    let rid = r.body["error"]["request_id"].as_str().expect("request id");
    assert_eq!(
        Some(rid),
        r.header("x-request-id"),
        "envelope and header carry the same request id"
    );
    assert!(r.body["error"]["message"].is_string() && r.body["error"]["doc_url"].is_string());
}

/// Mints a key with the admin key and returns its token.
pub fn mint_token(s: &Server, body: &str) -> String {
    let r = mint(s, &s.admin, body);
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["token"].as_str().expect("token").to_owned()
}

pub fn mint(s: &Server, token: &str, body: &str) -> Reply {
    request(s, "POST", "/v1/keys", Some(token), Some(body), &[])
}

/// The library on the server's store, as the operator (another process's view).
pub fn library(s: &Server) -> keyhold::Keyhold {
    let data = s.dir.path().join("data");
    keyhold::Keyhold::open(&data, keyhold::KeySource::default_file(&data)).expect("open")
}

/// A key with `scope` in workspace `other` (created if need be), minted by the operator.
pub fn other_workspace_key(s: &Server, scope: &str) -> String {
    let kh = library(s);
    let op = keyhold::Caller::operator();
    if kh.workspace("other").is_err() {
        kh.create_workspace(&op, "other").expect("workspace");
    }
    let minted = kh
        .mint_key(
            &op,
            &keyhold::MintRequest {
                workspace: "other".into(),
                name: format!("other-{}", scope.replace(':', "-")),
                expires: keyhold::ExpiryPreset::OneHour,
                scopes: Some([scope.parse().expect("scope")].into_iter().collect()),
                sub: None,
            },
        )
        .expect("mint");
    minted.token.expose().to_owned()
}
