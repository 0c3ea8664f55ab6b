//! keyhold's SQL, written once for every backend: statements use one dialect (numbered
//! parameters `?1`, `ON CONFLICT … DO`, `RETURNING`, integers, text and blobs only), values
//! cross as [`Value`]s and rows come back as [`Row`]s, so no statement of the store depends
//! on which database runs it.

use rusqlite::types::{ToSqlOutput, ValueRef};

use crate::StoreError;
use crate::tx::{Db, Tx};

/// A value bound to a statement or read from a row: the four kinds keyhold stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit integer (also booleans, as 0 and 1).
    Int(i64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Self::Int(i64::from(v))
    }
}

impl From<u64> for Value {
    /// Saturating: every `u64` keyhold stores (versions, sequence numbers) is far below
    /// `i64::MAX`.
    fn from(v: u64) -> Self {
        Self::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Self::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Int(i64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Self::Text(v.clone())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Self::Blob(v.to_vec())
    }
}

impl From<&Vec<u8>> for Value {
    fn from(v: &Vec<u8>) -> Self {
        Self::Blob(v.clone())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Self::Blob(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

impl<T: Clone + Into<Value>> From<&Option<T>> for Value {
    fn from(v: &Option<T>) -> Self {
        v.clone().map_or(Self::Null, Into::into)
    }
}

/// The values of a statement's parameters, in order: `values![a, b, c]`.
macro_rules! values {
    ($($v:expr),* $(,)?) => {
        &[$($crate::sql::Value::from($v)),*][..]
    };
}
pub(crate) use values;

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Null => ValueRef::Null,
            Self::Int(i) => ValueRef::Integer(*i),
            Self::Text(t) => ValueRef::Text(t.as_bytes()),
            Self::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl Value {
    /// A value SQLite handed back.
    pub(crate) fn from_sqlite(v: ValueRef<'_>) -> Self {
        match v {
            ValueRef::Null => Self::Null,
            ValueRef::Integer(i) => Self::Int(i),
            // keyhold stores no floating-point value; one read as such is not its data.
            ValueRef::Real(_) => Self::Null,
            ValueRef::Text(t) => Self::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Self::Blob(b.to_vec()),
        }
    }
}

/// A stored value that is not of the kind its column holds (the store reports it as a
/// `BadValue` of the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mismatch(pub &'static str);

/// A type a column's value is read as.
pub(crate) trait FromValue: Sized {
    /// The value as `Self`, if it is one.
    fn from_value(v: &Value) -> Result<Self, Mismatch>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self, Mismatch> {
        match v {
            Value::Int(i) => Ok(*i),
            _ => Err(Mismatch("an integer column")),
        }
    }
}

impl FromValue for u32 {
    fn from_value(v: &Value) -> Result<Self, Mismatch> {
        u32::try_from(i64::from_value(v)?).map_err(|_| Mismatch("a 32-bit unsigned column"))
    }
}

impl FromValue for u64 {
    fn from_value(v: &Value) -> Result<Self, Mismatch> {
        u64::try_from(i64::from_value(v)?).map_err(|_| Mismatch("an unsigned column"))
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, Mismatch> {
        Ok(i64::from_value(v)? != 0)
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, Mismatch> {
        match v {
            Value::Text(t) => Ok(t.clone()),
            _ => Err(Mismatch("a text column")),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Result<Self, Mismatch> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            // An empty blob may come back as an empty text from a column without a type.
            Value::Text(t) if t.is_empty() => Ok(Vec::new()),
            _ => Err(Mismatch("a blob column")),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, Mismatch> {
        match v {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// A row of a result, its columns in the statement's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row(pub(crate) Vec<Value>);

impl Row {
    /// Column `i` as `T`.
    pub(crate) fn get<T: FromValue>(&self, i: usize) -> Result<T, Mismatch> {
        T::from_value(self.0.get(i).unwrap_or(&Value::Null))
    }

    /// Column `i` as borrowed text, or `None` for `NULL`.
    pub(crate) fn text_ref(&self, i: usize) -> Result<Option<&str>, Mismatch> {
        match self.0.get(i) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Text(t)) => Ok(Some(t)),
            Some(_) => Err(Mismatch("a text column")),
        }
    }

    /// Column `i` as borrowed bytes (`NULL` reads as none).
    pub(crate) fn blob_ref(&self, i: usize) -> Result<&[u8], Mismatch> {
        match self.0.get(i) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Blob(b)) => Ok(b),
            Some(_) => Err(Mismatch("a blob column")),
        }
    }

    /// A row SQLite handed back, with `columns` columns.
    pub(crate) fn from_sqlite(r: &rusqlite::Row<'_>, columns: usize) -> rusqlite::Result<Self> {
        let mut values = Vec::with_capacity(columns);
        for i in 0..columns {
            values.push(Value::from_sqlite(r.get_ref(i)?));
        }
        Ok(Self(values))
    }
}

/// The three ways every statement of a transaction runs, on whichever database it is.
impl Tx<'_> {
    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(self.path, e)
    }

    fn pg_err(&self, e: &tokio_postgres::Error) -> StoreError {
        StoreError::from_pg(&self.path.to_string_lossy(), e)
    }

    /// Runs one statement with `params`: how many rows it changed.
    pub(crate) fn exec(&self, sql: &str, params: &[Value]) -> Result<usize, StoreError> {
        match self.db {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql).map_err(|e| self.err(e))?;
                stmt.execute(rusqlite::params_from_iter(params))
                    .map_err(|e| self.err(e))
            }
            Db::Postgres(conn) => conn
                .exec(sql, params)
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                .map_err(|e| self.pg_err(&e)),
        }
    }

    /// Up to `limit` rows a query answers (all of them without one), as values.
    pub(crate) fn fetch(
        &self,
        sql: &str,
        params: &[Value],
        limit: Option<usize>,
    ) -> Result<Vec<Row>, StoreError> {
        match self.db {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql).map_err(|e| self.err(e))?;
                let columns = stmt.column_count();
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(params))
                    .map_err(|e| self.err(e))?;
                let mut out = Vec::new();
                while limit.is_none_or(|n| out.len() < n) {
                    let Some(r) = rows.next().map_err(|e| self.err(e))? else {
                        break;
                    };
                    out.push(Row::from_sqlite(r, columns).map_err(|e| self.err(e))?);
                }
                Ok(out)
            }
            Db::Postgres(conn) => {
                let mut rows = conn.rows(sql, params).map_err(|e| self.pg_err(&e))?;
                rows.truncate(limit.unwrap_or(usize::MAX));
                Ok(rows)
            }
        }
    }

    /// Every row a query answers, each read by `map`.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        params: &[Value],
        map: impl Fn(&Row) -> Result<T, Mismatch>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.fetch(sql, params, None)?;
        rows.iter()
            .map(|row| map(row).map_err(|m| self.bad_value(m.0)))
            .collect()
    }

    /// The first row a query answers, if any, read by `map`.
    pub(crate) fn row<T>(
        &self,
        sql: &str,
        params: &[Value],
        map: impl Fn(&Row) -> Result<T, Mismatch>,
    ) -> Result<Option<T>, StoreError> {
        let rows = self.fetch(sql, params, Some(1))?;
        rows.first()
            .map(|row| map(row).map_err(|m| self.bad_value(m.0)))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_as_what_they_were() {
        let row = Row(vec![
            Value::from(7_u32),
            Value::from("text"),
            Value::from(&b"\x00\x01"[..]),
            Value::from(None::<i64>),
            Value::from(true),
            Value::from(u64::MAX),
        ]);
        assert_eq!(row.get::<u32>(0), Ok(7));
        assert_eq!(row.get::<String>(1).as_deref(), Ok("text"));
        assert_eq!(row.get::<Vec<u8>>(2), Ok(vec![0, 1]));
        assert_eq!(row.get::<Option<i64>>(3), Ok(None));
        assert_eq!(row.get::<bool>(4), Ok(true));
        assert_eq!(row.get::<i64>(5), Ok(i64::MAX), "saturated");
        assert!(row.get::<String>(0).is_err());
        assert!(row.get::<u32>(1).is_err());
        assert!(row.get::<i64>(3).is_err(), "NULL is not an integer");
        assert_eq!(
            row.get::<Option<String>>(9),
            Ok(None),
            "past the end is NULL"
        );
    }
}
