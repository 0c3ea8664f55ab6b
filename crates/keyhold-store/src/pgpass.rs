//! libpq's password file (`PGPASSFILE`, else `~/.pgpass`): one
//! `hostname:port:database:username:password` a line, the first line that matches the
//! connection giving its password. A field `*` matches anything; `\:` and `\\` stand for `:`
//! and `\`; lines starting with `#` are comments. As libpq does, a file its group or others
//! have any access to is ignored (not an error): a password it holds may have been seen.
//! A missing file means no password; any other failure to read it is an error naming the file,
//! never its contents.

use std::path::{Path, PathBuf};

use crate::StoreError;

/// What a connection is, as the password file's lines name it. A Unix socket is named by its
/// directory (libpq also lets `localhost` name a socket in its compiled-in default directory;
/// keyhold has no such default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The host name, or the directory of a Unix socket.
    pub(crate) host: String,
    /// The port, in decimal.
    pub(crate) port: String,
    pub(crate) database: String,
    pub(crate) user: String,
}

/// What looking in the password file found.
#[derive(PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The password of the first matching line.
    Found(String),
    /// No file, or no line for this connection.
    Nothing,
    /// The file was ignored: its group or others may read it.
    Ignored(PathBuf),
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Found(_) => f.write_str("Found(..)"),
            Self::Nothing => f.write_str("Nothing"),
            Self::Ignored(p) => f.debug_tuple("Ignored").field(p).finish(),
        }
    }
}

/// The password a connection logs in with, if any, and what to add to its errors when the
/// password file was passed over.
#[derive(Default)]
pub(crate) struct Credential {
    pub(crate) password: Option<String>,
    note: Option<String>,
}

impl Credential {
    /// The caller's password.
    pub(crate) fn given(password: Option<&str>) -> Self {
        Self {
            password: password.map(str::to_owned),
            note: None,
        }
    }

    /// The password the file libpq would read (see [`location`]) holds for `target`.
    pub(crate) fn from_file(
        env: impl Fn(&str) -> Option<String>,
        target: &Target,
    ) -> Result<Self, StoreError> {
        let Some(path) = location(env) else {
            return Ok(Self::default());
        };
        Ok(match lookup(&path, target)? {
            Lookup::Found(password) if !password.is_empty() => Self {
                password: Some(password),
                note: None,
            },
            Lookup::Found(_) | Lookup::Nothing => Self::default(),
            Lookup::Ignored(path) => Self {
                password: None,
                note: Some(format!(
                    "the password file {} was ignored because its group or others may \
                     read it (chmod 0600 it)",
                    path.display()
                )),
            },
        })
    }

    /// `e`, with the note on the password file if the connection failed without a password.
    pub(crate) fn explain(&self, e: StoreError) -> StoreError {
        match (e, &self.note) {
            (StoreError::Postgres { location, detail }, Some(note)) => StoreError::Postgres {
                location,
                detail: format!("{detail}; {note}"),
            },
            (e, _) => e,
        }
    }
}

/// The password file libpq would read: `PGPASSFILE`, else `.pgpass` in `HOME`. `env` reads
/// a variable.
pub(crate) fn location(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    set("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|home| Path::new(&home).join(".pgpass")))
}

/// A file that holds a password, as opened.
enum Private {
    /// No file there.
    Missing,
    /// Its group or others may read it.
    Shared,
    /// Not a regular file (a directory, a device).
    NotAFile,
    /// Its text.
    Text(String),
}

/// How much of a password file is read: more is not a password file.
const MOST: u64 = 1 << 20;

/// The file at `path`, checked on the file as opened, so that what is read is what was
/// checked even if the path is swapped meanwhile.
fn open_private(path: &Path) -> Result<Private, StoreError> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Private::Missing),
        Err(e) => return Err(StoreError::io(path, &e)),
    };
    let meta = file.metadata().map_err(|e| StoreError::io(path, &e))?;
    if !meta.is_file() {
        return Ok(Private::NotAFile);
    }
    if shared(&meta) {
        return Ok(Private::Shared);
    }
    let mut text = String::new();
    file.take(MOST)
        .read_to_string(&mut text)
        .map_err(|e| StoreError::io(path, &e))?;
    Ok(Private::Text(text))
}

/// The password in keyhold's own password file (`KEYHOLD_STORE_PASSWORD_FILE`) at `path`:
/// its text without the final line break. Named outright, a file that is missing, not a
/// file, or readable by others is an error, not passed over.
pub(crate) fn password_file(path: &Path) -> Result<String, StoreError> {
    let refused = |why: &str| StoreError::Postgres {
        location: "KEYHOLD_STORE_PASSWORD_FILE".to_owned(),
        detail: format!("{}: {why}", path.display()),
    };
    match open_private(path)? {
        Private::Text(text) => Ok(text.trim_end_matches(['\r', '\n']).to_owned()),
        Private::Missing => Err(refused("no such file")),
        Private::NotAFile => Err(refused("not a file")),
        Private::Shared => Err(refused(
            "its group or others may read it; it must be readable by its owner only \
             (chmod 600 it)",
        )),
    }
}

/// The password the file at `path` holds for `target`.
pub(crate) fn lookup(path: &Path, target: &Target) -> Result<Lookup, StoreError> {
    Ok(match open_private(path)? {
        Private::Missing | Private::NotAFile => Lookup::Nothing,
        Private::Shared => Lookup::Ignored(path.to_path_buf()),
        Private::Text(text) => find(&text, target).map_or(Lookup::Nothing, Lookup::Found),
    })
}

/// Whether the file's group or others have any access to it.
#[cfg(unix)]
fn shared(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o077 != 0
}

#[cfg(not(unix))]
fn shared(_: &std::fs::Metadata) -> bool {
    false
}

/// One of a line's first four fields: `*`, or a value to equal.
#[derive(Debug, PartialEq, Eq)]
enum Field {
    Any,
    Exactly(String),
}

impl Field {
    fn matches(&self, value: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exactly(v) => v == value,
        }
    }
}

/// The password of the first line of `text` that matches `target`.
pub(crate) fn find(text: &str, target: &Target) -> Option<String> {
    let wanted = [&target.host, &target.port, &target.database, &target.user];
    text.lines()
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(parse)
        .find(|(fields, _)| fields.iter().zip(wanted).all(|(f, w)| f.matches(w)))
        .map(|(_, password)| password)
}

/// A line's four fields and its password; `None` if it has fewer than five fields. The
/// password ends at the line's end or at an unescaped `:`, as libpq reads it.
fn parse(line: &str) -> Option<([Field; 4], String)> {
    let mut fields = Vec::with_capacity(4);
    let mut chars = line.chars();
    for _ in 0..4 {
        let (value, raw_star, ended) = field(&mut chars);
        if ended {
            return None;
        }
        fields.push(if raw_star {
            Field::Any
        } else {
            Field::Exactly(value)
        });
    }
    let (password, _, _) = field(&mut chars);
    let fields: [Field; 4] = fields.try_into().ok()?;
    Some((fields, password))
}

/// The next field of `chars`, unescaped: its value, whether it was a bare `*`, and whether
/// the line ended before a `:` closed it.
fn field(chars: &mut std::str::Chars<'_>) -> (String, bool, bool) {
    let mut value = String::new();
    let mut escaped = false;
    loop {
        match chars.next() {
            None => {
                let star = value == "*" && !escaped;
                return (value, star, true);
            }
            Some(':') => {
                let star = value == "*" && !escaped;
                return (value, star, false);
            }
            Some('\\') => {
                escaped = true;
                // A backslash at the very end stands for itself.
                value.push(chars.next().unwrap_or('\\'));
            }
            Some(c) => value.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            host: "db.example".into(),
            port: "5432".into(),
            database: "keyhold".into(),
            user: "kh".into(),
        }
    }

    #[test]
    fn an_exact_line_gives_its_password() {
        assert_eq!(
            find("db.example:5432:keyhold:kh:s3cret\n", &target()).as_deref(),
            Some("s3cret")
        );
    }

    #[test]
    fn a_star_matches_any_value_but_an_escaped_star_only_a_star() {
        let text = "*:*:*:kh:any\n";
        assert_eq!(find(text, &target()).as_deref(), Some("any"));
        let literal = "\\*:*:*:kh:literal\n";
        assert_eq!(find(literal, &target()), None);
        let star_host = Target {
            host: "*".into(),
            ..target()
        };
        assert_eq!(find(literal, &star_host).as_deref(), Some("literal"));
        // A star inside a value is a character, not a pattern.
        assert_eq!(find("db.*:5432:keyhold:kh:no\n", &target()), None);
    }

    #[test]
    fn escapes_stand_for_colons_and_backslashes_in_every_field() {
        let socket = Target {
            host: "c:\\sock".into(),
            ..target()
        };
        let text = "c\\:\\\\sock:5432:keyhold:kh:pa\\:ss\\\\word\n";
        assert_eq!(find(text, &socket).as_deref(), Some("pa:ss\\word"));
    }

    #[test]
    fn comments_blank_lines_and_short_lines_are_skipped() {
        let text = "# db.example:5432:keyhold:kh:commented\n\
                    \n\
                    db.example:5432:keyhold\n\
                    db.example:5432:keyhold:kh:real\r\n";
        assert_eq!(find(text, &target()).as_deref(), Some("real"));
    }

    #[test]
    fn the_first_matching_line_wins() {
        let text = "db.example:5432:other:kh:not-this\n\
                    *:5432:keyhold:kh:first\n\
                    db.example:5432:keyhold:kh:second\n";
        assert_eq!(find(text, &target()).as_deref(), Some("first"));
    }

    #[test]
    fn no_matching_line_is_no_password() {
        let text = "db.example:5433:keyhold:kh:port\n\
                    other:5432:keyhold:kh:host\n\
                    db.example:5432:keyhold:someone:user\n";
        assert_eq!(find(text, &target()), None);
        assert_eq!(find("", &target()), None);
    }

    #[test]
    fn the_password_ends_at_an_unescaped_colon() {
        let text = "*:*:*:*:password:extra\n";
        assert_eq!(find(text, &target()).as_deref(), Some("password"));
    }

    #[test]
    fn the_file_is_pgpassfile_else_pgpass_in_home() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            location(env(&[("PGPASSFILE", "/a/pw"), ("HOME", "/h")])),
            Some(PathBuf::from("/a/pw"))
        );
        assert_eq!(
            location(env(&[("PGPASSFILE", ""), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.pgpass"))
        );
        assert_eq!(location(env(&[])), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_may_read_is_ignored_and_a_missing_one_is_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pgpass");
        assert_eq!(lookup(&path, &target()).expect("missing"), Lookup::Nothing);
        std::fs::write(&path, "*:*:*:*:pw\n").expect("write");
        let mode = |m| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m));
        mode(0o600).expect("chmod");
        assert_eq!(
            lookup(&path, &target()).expect("0600"),
            Lookup::Found("pw".into())
        );
        for shared in [0o640, 0o604, 0o620] {
            mode(shared).expect("chmod");
            assert_eq!(
                lookup(&path, &target()).expect("shared"),
                Lookup::Ignored(path.clone())
            );
        }
    }
}
