use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::secret::Key32;
use crate::{CryptoError, KeyFileProblem};

/// The root of the key hierarchy: 32 random bytes, never stored in the database.
///
/// No `Clone`, `Display` or `Serialize`; `Debug` prints nothing of the key; zeroized on drop.
pub struct MasterKey(pub(crate) Key32);

impl MasterKey {
    /// A fresh random master key.
    pub fn generate() -> Result<Self, CryptoError> {
        Key32::random().map(Self)
    }

    /// Parses the base64url text form (the `KEYHOLD_MASTER_KEY` value, or a key file's line).
    /// Padding and surrounding whitespace are accepted.
    pub fn from_base64url(text: &str) -> Result<Self, CryptoError> {
        let trimmed = text.trim().trim_end_matches('=');
        let bytes = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(trimmed)
                .map_err(|_| CryptoError::MasterKeyEncoding("not base64url"))?,
        );
        Key32::from_slice(&bytes)
            .map(Self)
            .ok_or(CryptoError::MasterKeyEncoding("wrong length"))
    }

    /// The base64url text form, for writing a key file. The returned string is zeroized on drop.
    pub fn to_base64url(&self) -> Zeroizing<String> {
        // EXPOSE: encoding the key is how it is handed to the key file; nothing else calls this.
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.0.expose()))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey").finish_non_exhaustive()
    }
}

/// A master key file: one line of base64url, mode 0600, owned by the user running keyhold.
#[derive(Debug, Clone)]
pub struct MasterKeyFile {
    path: PathBuf,
}

impl MasterKeyFile {
    /// Names a key file (nothing is read yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether something exists at the path.
    pub fn exists(&self) -> bool {
        fs::symlink_metadata(&self.path).is_ok()
    }

    fn problem(&self, problem: KeyFileProblem) -> CryptoError {
        CryptoError::KeyFile {
            path: self.path.clone(),
            problem,
        }
    }

    /// Reads the key after checking the file is a regular file, owned by the effective user and
    /// not accessible to group or others. Refuses otherwise, saying how to fix it.
    pub fn read(&self) -> Result<MasterKey, CryptoError> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.problem(KeyFileProblem::Missing));
            }
            Err(e) => return Err(self.problem(KeyFileProblem::Io(e.kind()))),
        };
        // Check the opened file itself, not the path, so a swap between check and read is moot.
        let meta = file
            .metadata()
            .map_err(|e| self.problem(KeyFileProblem::Io(e.kind())))?;
        if !meta.is_file() {
            return Err(self.problem(KeyFileProblem::NotAFile));
        }
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(self.problem(KeyFileProblem::Owner {
                owner: meta.uid(),
                me,
            }));
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(self.problem(KeyFileProblem::Permissions(mode)));
        }
        let mut text = Zeroizing::new(String::with_capacity(64));
        // A key file is one short line; anything bigger is not a key file.
        (&mut file)
            .take(4096)
            .read_to_string(&mut text)
            .map_err(|_| self.problem(KeyFileProblem::Content))?;
        MasterKey::from_base64url(&text).map_err(|_| self.problem(KeyFileProblem::Content))
    }

    /// Creates the file with mode 0600 and writes `key` to it, durably (file and directory are
    /// synced). Refuses to overwrite an existing file.
    pub fn create(&self, key: &MasterKey) -> Result<(), CryptoError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => self.problem(KeyFileProblem::Exists),
                kind => self.problem(KeyFileProblem::Io(kind)),
            })?;
        let line = key.to_base64url();
        let io = |e: std::io::Error| self.problem(KeyFileProblem::Io(e.kind()));
        // The umask may have cleared bits but never adds any; make the mode exact regardless.
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io)?;
        file.write_all(line.as_bytes()).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_all().map_err(io)?;
        sync_parent(&self.path).map_err(io)
    }

    /// Atomically moves this file to `target` (replacing it) and syncs the directory.
    pub fn rename_to(&self, target: &MasterKeyFile) -> Result<(), CryptoError> {
        let io = |e: std::io::Error| self.problem(KeyFileProblem::Io(e.kind()));
        fs::rename(&self.path, &target.path).map_err(io)?;
        sync_parent(&target.path).map_err(io)
    }

    /// Removes the file.
    pub fn remove(&self) -> Result<(), CryptoError> {
        fs::remove_file(&self.path).map_err(|e| self.problem(KeyFileProblem::Io(e.kind())))?;
        sync_parent(&self.path).map_err(|e| self.problem(KeyFileProblem::Io(e.kind())))
    }
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trip_and_rejections() {
        let k = MasterKey::generate().expect("rng");
        let text = k.to_base64url();
        assert_eq!(text.len(), 43);
        let back = MasterKey::from_base64url(&format!("  {}=\n", &*text)).expect("parses");
        assert_eq!(back.0.expose(), k.0.expose());
        assert!(matches!(
            MasterKey::from_base64url("AAAA"),
            Err(CryptoError::MasterKeyEncoding("wrong length"))
        ));
        assert!(matches!(
            MasterKey::from_base64url("not base64 at all!"),
            Err(CryptoError::MasterKeyEncoding("not base64url"))
        ));
    }

    #[test]
    fn debug_is_redacted() {
        let k = MasterKey::from_base64url(&"A".repeat(43)).expect("valid");
        let d = format!("{k:?} {k:#?}");
        assert_eq!(d.matches("MasterKey").count(), 2);
        assert!(!d.contains('0') && !d.contains("AAAA"), "{d}");
    }

    #[test]
    fn key_file_created_0600_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = MasterKeyFile::new(dir.path().join("master.key"));
        let k = MasterKey::generate().expect("rng");
        f.create(&k).expect("create");
        let mode = fs::metadata(f.path()).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(f.read().expect("read").0.expose(), k.0.expose());
        assert!(matches!(
            f.create(&k),
            Err(CryptoError::KeyFile {
                problem: KeyFileProblem::Exists,
                ..
            })
        ));
    }

    #[test]
    fn key_file_refused_when_readable_by_others_or_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = MasterKeyFile::new(dir.path().join("master.key"));
        assert!(matches!(
            f.read(),
            Err(CryptoError::KeyFile {
                problem: KeyFileProblem::Missing,
                ..
            })
        ));
        f.create(&MasterKey::generate().expect("rng"))
            .expect("create");
        for mode in [0o644, 0o640, 0o604, 0o660, 0o606] {
            fs::set_permissions(f.path(), fs::Permissions::from_mode(mode)).expect("chmod");
            let err = f.read().expect_err("must refuse");
            assert!(
                matches!(&err, CryptoError::KeyFile { problem: KeyFileProblem::Permissions(m), .. } if *m == mode),
                "{err}"
            );
            let msg = err.to_string();
            assert!(msg.contains("chmod 600"), "message says the fix: {msg}");
        }
        fs::set_permissions(f.path(), fs::Permissions::from_mode(0o400)).expect("chmod");
        f.read().expect("0400 is fine");
    }

    #[test]
    fn key_file_with_garbage_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        fs::write(&path, "definitely not a key\n").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        let err = MasterKeyFile::new(&path).read().expect_err("garbage");
        assert!(matches!(
            err,
            CryptoError::KeyFile {
                problem: KeyFileProblem::Content,
                ..
            }
        ));
        assert!(
            !err.to_string().contains("definitely"),
            "content never echoed"
        );
    }

    #[test]
    fn key_file_owned_by_another_user_is_refused() {
        let me = rustix::process::geteuid().as_raw();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = if me == 0 {
            // As root: hand a well-formed 0600 key file to `nobody`.
            let f = MasterKeyFile::new(dir.path().join("master.key"));
            f.create(&MasterKey::generate().expect("rng"))
                .expect("create");
            rustix::fs::chown(f.path(), Some(rustix::fs::Uid::from_raw(65534)), None)
                .expect("chown as root");
            f.path().to_path_buf()
        } else {
            // Not root: a file owned by root stands in for "somebody else's file".
            PathBuf::from("/etc/passwd")
        };
        let err = MasterKeyFile::new(&path).read().expect_err("foreign owner");
        assert!(
            matches!(err, CryptoError::KeyFile { problem: KeyFileProblem::Owner { me: m, .. }, .. } if m == me),
            "{err}"
        );
    }

    #[test]
    fn directory_is_not_a_key_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        let err = MasterKeyFile::new(dir.path()).read().expect_err("dir");
        assert!(matches!(
            err,
            CryptoError::KeyFile {
                problem: KeyFileProblem::NotAFile | KeyFileProblem::Io(_),
                ..
            }
        ));
    }
}
