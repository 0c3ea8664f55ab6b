//! Nodes: `keyhold-server` processes sharing one store on the test command's PostgreSQL, as
//! several machines behind a load balancer would.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::{Reply, request_to};
use crate::pg;

/// One shared store: its database and the master key file every node reads.
pub struct Cluster {
    pub url: String,
    pub key_file: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// A fresh database and a new master key.
    pub fn new() -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let key_file = dir.path().join("master.key");
        keyhold::KeySource::File(keyhold::MasterKeyFile::new(&key_file))
            .load_or_create()
            .expect("a master key file");
        Cluster {
            url: pg::database(),
            key_file,
            dir,
        }
    }

    /// Starts node `name` (its log in the cluster's directory) with `extra` arguments.
    pub fn spawn(&self, name: &str, extra: &[&str]) -> Child {
        let data = self.dir.path().join(name);
        Command::new(env!("CARGO_BIN_EXE_keyhold-server"))
            .args(["--store", &self.url, "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(&data)
            .arg("--master-key-file")
            .arg(&self.key_file)
            .args(["--log-level", "info"])
            // No scheduled rotations unless the test asks for them.
            .args(if extra.contains(&"--rotation-check") {
                &[][..]
            } else {
                &["--rotation-check", "0"][..]
            })
            .args(extra)
            .env_remove("KEYHOLD_MASTER_KEY")
            .env_remove("PGPASSWORD")
            .env("KEYHOLD_STORE_PASSWORD_FILE", pg::password_file())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(self.log(name)).expect("log file"))
            .spawn()
            .expect("spawn a node")
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// Starts `names` together on the store and waits until each listens; the admin key the
    /// one that created the store printed, if one did.
    pub fn start(&self, names: &[&str], extra: &[&str]) -> (Vec<Node>, Option<String>) {
        let children: Vec<(String, Child)> = names
            .iter()
            .map(|n| ((*n).to_owned(), self.spawn(n, extra)))
            .collect();
        let mut admin = None;
        let nodes = children
            .into_iter()
            .map(|(name, child)| {
                let (node, printed) = Node::listening(name, child, self);
                if let Some(a) = printed {
                    assert!(admin.is_none(), "a second node printed an admin key");
                    admin = Some(a);
                }
                node
            })
            .collect();
        (nodes, admin)
    }

    /// Runs the `keyhold` CLI on the shared store (as another machine's operator would) and
    /// returns its JSON output.
    pub fn cli(&self, args: &[&str]) -> serde_json::Value {
        let out = Command::new(crate::common::cli_binary())
            .args(["--store", &self.url, "--json"])
            .arg("--master-key-file")
            .arg(&self.key_file)
            .args(args)
            .env_remove("KEYHOLD_MASTER_KEY")
            .env_remove("KEYHOLD_ADDR")
            .env("KEYHOLD_STORE_PASSWORD_FILE", pg::password_file())
            .output()
            .expect("run keyhold");
        assert!(
            out.status.success(),
            "keyhold {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json output")
    }
}

/// A running node.
pub struct Node {
    pub name: String,
    pub child: Child,
    pub addr: SocketAddr,
}

impl Node {
    fn listening(name: String, mut child: Child, cluster: &Cluster) -> (Node, Option<String>) {
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut admin, mut addr) = (None, None);
        while addr.is_none() {
            let line = match lines.next() {
                Some(Ok(l)) => l,
                _ => panic!(
                    "node {name} stopped before listening: {}",
                    std::fs::read_to_string(cluster.log(&name)).unwrap_or_default()
                ),
            };
            if let Some(t) = line.strip_prefix("admin key (30 days; shown once, store it now): ") {
                admin = Some(t.to_owned());
            }
            if let Some(a) = line.strip_prefix("listening on http://") {
                addr = Some(a.parse().expect("address"));
            }
        }
        let addr = addr.expect("address");
        (Node { name, child, addr }, admin)
    }

    pub fn request(&self, method: &str, path: &str, token: &str, body: Option<&str>) -> Reply {
        request_to(self.addr, method, path, Some(token), body, &[])
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Mints a key through `node` and returns (token, key id).
pub fn mint(node: &Node, admin: &str, name: &str, scopes: &[&str]) -> (String, String) {
    let body = serde_json::json!({"name": name, "expires": "1h", "scopes": scopes}).to_string();
    let r = node.request("POST", "/v1/keys", admin, Some(&body));
    assert_eq!(r.status, 201, "{}: {:?}", node.name, r.body);
    (
        r.body["token"].as_str().expect("token").to_owned(),
        r.body["key"]["id"].as_str().expect("key id").to_owned(),
    )
}

pub fn path_of(p: &Path) -> &str {
    p.to_str().expect("utf8")
}
