//! Shared fixtures for the facade's integration tests.
#![allow(dead_code, clippy::expect_used)]

use std::path::{Path, PathBuf};

use base64::Engine;
use keyhold::{KeySource, Keyhold, MasterKey, SecretBytes};

pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn key_file(&self) -> PathBuf {
        self.data().join("master.key")
    }

    pub fn db(&self) -> PathBuf {
        self.data().join("keyhold.db")
    }

    pub fn init(&self) -> Keyhold {
        Keyhold::init(self.data(), KeySource::default_file(self.data()))
            .expect("init")
            .0
    }

    pub fn open(&self) -> keyhold::Result<Keyhold> {
        Keyhold::open(self.data(), KeySource::default_file(self.data()))
    }

    /// Direct SQL access to the database file, to play the attacker or the disk.
    pub fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db()).expect("sqlite open")
    }
}

pub fn text_key(key: &MasterKey) -> KeySource {
    KeySource::Text(keyhold::Zeroizing::new(key.to_base64url().to_string()))
}

/// A random canary secret: printable, unique per run, long enough never to collide.
pub fn canary() -> Vec<u8> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .expect("urandom");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("canary-{hex}").into_bytes()
}

pub fn secret(bytes: &[u8]) -> SecretBytes {
    SecretBytes::copy_from(bytes)
}

/// Stores `value` as record `secret`/`id` of the default workspace, as the operator.
pub fn put(kh: &Keyhold, id: &str, value: &[u8]) -> keyhold::RecordInfo {
    kh.put_record(
        &keyhold::Caller::operator(),
        "default",
        "secret",
        id,
        &secret(value),
    )
    .expect("put")
}

/// Every encoding of `needle` that could appear if it leaked: raw, hex (both cases) and
/// base64 (standard and url-safe, padded or not, at each of the three alignments a containing
/// string could give it).
pub fn encodings(needle: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![needle.to_vec()];
    let hex: String = needle.iter().map(|b| format!("{b:02x}")).collect();
    out.push(hex.clone().into_bytes());
    out.push(hex.to_uppercase().into_bytes());
    for engine in [
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        for skip in 0..3 {
            let enc = engine.encode(&needle[skip..]);
            // Drop the last (possibly partial) group: it depends on what follows the needle.
            let stable = &enc[..enc.len().saturating_sub(4)];
            out.push(stable.as_bytes().to_vec());
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts that no encoding of `canary` occurs in `haystack`; `what` names the place.
pub fn assert_absent(haystack: &[u8], canary: &[u8], what: &str) {
    for enc in encodings(canary) {
        assert!(
            !contains(haystack, &enc),
            "canary leaked into {what} as {:?}",
            String::from_utf8_lossy(&enc)
        );
    }
}

pub fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o7777
}
