//! Whether anything that matters has changed since a moment, as opaque marks: callers compare
//! them and never learn how they are kept. Here SQLite's `data_version` (moves on every other
//! connection's commit), the main connection's own commit count (which its `data_version`
//! cannot tell) and the standing counter (schema 4, kept by triggers: moves on every
//! revocation, revoke-all or deletion, in any process); another backend keeps the same
//! promises with a counter row.

use crate::StoreError;
use crate::sqlite::Sqlite;

/// Where the whole database stood at a moment. Two marks are equal only if nothing was
/// committed between their readings — by this handle, another handle or another process.
/// The value means nothing but that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeMark {
    pub(crate) data_version: i64,
    pub(crate) own_writes: u64,
}

/// The standing counter at a moment: equal standings mean that no key's or workspace's
/// revocation state changed between their readings, in any process; a later standing is
/// greater.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Standing(pub(crate) i64);

/// The standing as last read, with the change mark it was read at: while the mark has not
/// moved, the standing cannot have either.
#[derive(Debug, Default)]
pub(crate) struct StandingMemo {
    at: Option<ChangeMark>,
    standing: Option<Standing>,
}

impl Sqlite {
    /// The change mark now: one cheap read on the query-only connection (no table, no wait
    /// for a writer).
    pub(crate) fn changes(&self) -> Result<ChangeMark, StoreError> {
        // data_version before own_writes: a commit this reading missed has not counted yet.
        let data_version = self.data_version()?;
        Ok(ChangeMark {
            data_version,
            own_writes: self.own_writes(),
        })
    }

    /// The standing now. While the change mark is where it was at the last reading of the
    /// counter, that reading is the answer (commits of audit rows and last-used times move
    /// the mark but not the counter: then one more small read).
    pub(crate) fn standing_now(&self) -> Result<Standing, StoreError> {
        let mark = self.changes()?;
        {
            let memo = self.memo();
            if memo.at == Some(mark)
                && let Some(standing) = memo.standing
            {
                return Ok(standing);
            }
        }
        let (data_version, standing) = self.versions()?;
        *self.memo() = StandingMemo {
            at: Some(ChangeMark {
                data_version,
                own_writes: mark.own_writes,
            }),
            standing: Some(standing),
        };
        Ok(standing)
    }

    pub(crate) fn memo(&self) -> std::sync::MutexGuard<'_, StandingMemo> {
        self.standing_memo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many write transactions the main connection has committed: what its own
    /// `data_version` cannot tell. (Bumped after the commit.)
    pub(crate) fn own_writes(&self) -> u64 {
        self.own_writes.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn count_own_write(&self) {
        self.own_writes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// SQLite's `PRAGMA data_version` of the read-only connection: it changes whenever any
    /// other connection — this store's writers, another handle, another process — commits a
    /// change to the database. Cheap: no table is read, and no writer is waited for.
    pub(crate) fn data_version(&self) -> Result<i64, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached("PRAGMA data_version")?;
            stmt.query_row([], |r| r.get(0))
        })
    }

    /// The reading connection's `data_version` and the standing counter, read together.
    pub(crate) fn versions(&self) -> Result<(i64, Standing), StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT (SELECT data_version FROM pragma_data_version), (SELECT version FROM standing)",
            )?;
            stmt.query_row([], |r| Ok((r.get(0)?, Standing(r.get(1)?))))
        })
    }
}

#[cfg(test)]
mod tests;
