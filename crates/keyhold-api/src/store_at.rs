//! Where a store is: a data directory holding a SQLite file (the embedded default), or a
//! PostgreSQL database several processes share. Told by `--store` / `KEYHOLD_STORE`, whose
//! text may be mistyped with a password in it: such a value is refused without ever being
//! repeated.

use std::path::{Path, PathBuf};

/// Where a store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreAt {
    /// A data directory (`sqlite:DIR`, or `--data-dir`), holding the SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database: `postgres://USER@HOST:PORT/DB[?sslmode=…]`, never with a password.
    Postgres(String),
}

/// Why a `--store` value was refused. The message never repeats the value, which may hold a
/// password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadStoreAt(&'static str);

impl std::fmt::Display for BadStoreAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for BadStoreAt {}

impl StoreAt {
    /// `sqlite:DIR`, `postgres://…` or `postgresql://…`.
    pub fn parse(text: &str) -> Result<Self, BadStoreAt> {
        if let Some(dir) = text.strip_prefix("sqlite:") {
            return match dir {
                "" => Err(BadStoreAt("sqlite: needs a data directory (sqlite:DIR)")),
                d => Ok(Self::Sqlite(PathBuf::from(d))),
            };
        }
        let Some(rest) = ["postgres://", "postgresql://"]
            .iter()
            .find_map(|p| text.strip_prefix(p))
        else {
            return Err(BadStoreAt(
                "a store is sqlite:DIR or postgres://USER@HOST:PORT/DB",
            ));
        };
        // USER[:PASSWORD]@ — read as the driver reads it, up to the first '@' wherever it
        // is (a password may hold '/' or '?'); or a `password` parameter in the query.
        let in_userinfo = rest
            .split_once('@')
            .is_some_and(|(user, _)| user.contains(':'));
        let in_query = rest.split_once('?').is_some_and(|(_, query)| {
            query.split('&').any(|pair| {
                pair.split('=').next().map(percent_decoded).as_deref() == Some("password")
            })
        });
        if in_userinfo || in_query {
            return Err(BadStoreAt(
                "the store URL carries a password, which would show in process lists and \
                 shell history: give it in KEYHOLD_STORE_PASSWORD_FILE, PGPASSWORD or a \
                 PGPASSFILE instead",
            ));
        }
        Ok(Self::Postgres(text.to_owned()))
    }

    /// `--store` if given, else the data directory.
    pub fn or_data_dir(store: Option<&str>, data_dir: &Path) -> Result<Self, BadStoreAt> {
        store.map_or_else(|| Ok(Self::Sqlite(data_dir.to_path_buf())), Self::parse)
    }

    /// Whether several processes on several machines may share the store.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

/// `text` with its `%XX` escapes decoded, as the driver decodes a query parameter's name
/// (an escape that is not one is kept as written).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_parsed_and_a_password_is_refused_unrepeated() {
        assert_eq!(
            StoreAt::parse("sqlite:/var/lib/kh"),
            Ok(StoreAt::Sqlite("/var/lib/kh".into()))
        );
        let url = "postgres://kh@db.internal:5432/keyhold?sslmode=verify-full";
        assert_eq!(StoreAt::parse(url), Ok(StoreAt::Postgres(url.into())));
        assert!(StoreAt::parse("postgresql://kh@db/k").is_ok());
        assert!(StoreAt::parse("postgres://kh@db:5432/k?options=a@b").is_ok());
        for bad in ["sqlite:", "mysql://a@b/c", "/var/lib/kh", ""] {
            assert!(StoreAt::parse(bad).is_err(), "{bad}");
        }
        for with in [
            "postgres://kh:hunter2-canary@db/k",
            "postgres://kh:hunter2/canary@db/k",
            "postgres://kh:hunter2?canary@db/k",
            "postgres://kh@db/k?password=hunter2-canary",
            "postgres://kh@db/k?sslmode=require&password=hunter2-canary",
            "postgres://kh@db/k?pass%77ord=hunter2-canary",
        ] {
            let err = StoreAt::parse(with).expect_err(with);
            assert!(err.to_string().contains("PGPASSWORD"));
            assert!(!err.to_string().contains("hunter2"));
        }
        assert_eq!(
            StoreAt::or_data_dir(None, Path::new("d")),
            Ok(StoreAt::Sqlite("d".into()))
        );
        assert!(StoreAt::parse(url).is_ok_and(|s| s.is_shared()));
    }
}
