//! Verifying a stored chain: every row's MAC, the linkage between neighbours, the sequence
//! numbers, the encoding, and (optionally) a signed checkpoint.

use crate::chain::GENESIS_PREV;
use crate::{AuditError, AuditKey, ChainHead, SealedEvent, canonical};

/// A stored row as the verifier sees it. Implemented for [`StoredRow`], [`RowRef`] and
/// [`SealedEvent`]; a store adapter can implement it for its own row type.
pub trait ChainRow {
    /// The row's sequence number.
    fn seq(&self) -> u64;
    /// The stored previous hash.
    fn prev(&self) -> &[u8; 32];
    /// The stored link hash.
    fn hash(&self) -> &[u8; 32];
    /// The stored canonical event bytes.
    fn canonical(&self) -> &[u8];
}

impl<T: ChainRow + ?Sized> ChainRow for &T {
    fn seq(&self) -> u64 {
        (**self).seq()
    }
    fn prev(&self) -> &[u8; 32] {
        (**self).prev()
    }
    fn hash(&self) -> &[u8; 32] {
        (**self).hash()
    }
    fn canonical(&self) -> &[u8] {
        (**self).canonical()
    }
}

/// An owned stored row `(seq, prev, hash, canonical bytes)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    /// Sequence number.
    pub seq: u64,
    /// Stored previous hash.
    pub prev: [u8; 32],
    /// Stored link hash.
    pub hash: [u8; 32],
    /// Stored canonical event bytes.
    pub canonical: Vec<u8>,
}

impl ChainRow for StoredRow {
    fn seq(&self) -> u64 {
        self.seq
    }
    fn prev(&self) -> &[u8; 32] {
        &self.prev
    }
    fn hash(&self) -> &[u8; 32] {
        &self.hash
    }
    fn canonical(&self) -> &[u8] {
        &self.canonical
    }
}

impl From<SealedEvent> for StoredRow {
    fn from(s: SealedEvent) -> Self {
        Self {
            seq: s.link.seq,
            prev: s.link.prev,
            hash: s.link.hash,
            canonical: s.canonical,
        }
    }
}

/// A borrowed stored row (e.g. straight from a database cursor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRef<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Stored previous hash.
    pub prev: &'a [u8; 32],
    /// Stored link hash.
    pub hash: &'a [u8; 32],
    /// Stored canonical event bytes.
    pub canonical: &'a [u8],
}

impl ChainRow for RowRef<'_> {
    fn seq(&self) -> u64 {
        self.seq
    }
    fn prev(&self) -> &[u8; 32] {
        self.prev
    }
    fn hash(&self) -> &[u8; 32] {
        self.hash
    }
    fn canonical(&self) -> &[u8] {
        self.canonical
    }
}

impl ChainRow for SealedEvent {
    fn seq(&self) -> u64 {
        self.link.seq
    }
    fn prev(&self) -> &[u8; 32] {
        &self.link.prev
    }
    fn hash(&self) -> &[u8; 32] {
        &self.link.hash
    }
    fn canonical(&self) -> &[u8] {
        &self.canonical
    }
}

/// A trusted `(seq, head)` pair, from a verified [`Checkpoint`](crate::Checkpoint): the chain
/// must reach `seq`, and its link hash there must be `head`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// The checkpointed sequence number.
    pub seq: u64,
    /// The checkpointed link hash.
    pub head: [u8; 32],
}

/// What a successful verification saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// How many rows were verified.
    pub rows: u64,
    /// The newest seq (0 for an empty chain).
    pub head_seq: u64,
    /// The newest link hash ([`GENESIS_PREV`](crate::GENESIS_PREV) for an empty chain).
    pub head_hash: [u8; 32],
}

impl Summary {
    /// The head, to compare with or checkpoint.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.head_seq,
            hash: self.head_hash,
        }
    }
}

/// The first thing wrong with a chain. [`seq`](Self::seq) is the first bad sequence number.
///
/// Each row is checked in this order: (first row only) its seq is 1; its stored hash is the
/// MAC of its own `(seq, prev, canonical)`; its `prev` is the previous row's stored hash
/// (zeros for the first row); its seq is the previous seq + 1; its bytes decode; and, at the
/// checkpoint's seq, its hash is the checkpoint's head. After the last row, the chain must
/// reach the checkpoint's seq.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The first row's seq is not 1: the oldest rows were deleted (or the rows passed in do
    /// not start at the beginning of the chain).
    #[error("audit chain starts at seq {seq}, not 1: its oldest rows are missing")]
    FirstSeqNotOne {
        /// The first row's seq.
        seq: u64,
    },
    /// The row's hash is not the MAC of its contents: the row was altered, or the chain was
    /// recomputed by someone without the audit key.
    #[error("audit row {seq} was altered: its hash does not match its contents")]
    HashMismatch {
        /// The altered row.
        seq: u64,
    },
    /// The row's `prev` is not the hash of the row before it: a row before it was deleted,
    /// or rows were reordered or swapped.
    #[error(
        "audit row {seq} does not follow the row before it: rows deleted, reordered or swapped"
    )]
    PrevMismatch {
        /// The row whose predecessor is wrong.
        seq: u64,
    },
    /// The row's seq is not the previous seq + 1 although it links correctly (a writer that
    /// skipped or repeated a number, or someone holding the audit key).
    #[error("audit row {seq} breaks the sequence: expected seq {expected}")]
    SeqGap {
        /// The row's seq.
        seq: u64,
        /// The seq it should have had.
        expected: u64,
    },
    /// The row's MAC is valid but its bytes are not an event this version can decode
    /// (a writer bug, or a newer writer's action).
    #[error("audit row {seq} cannot be decoded: {reason}")]
    Undecodable {
        /// The row.
        seq: u64,
        /// The decoder's error.
        reason: AuditError,
    },
    /// The chain ends before the checkpoint's seq: its newest rows were deleted.
    #[error(
        "audit chain ends at seq {head_seq}, before the checkpoint at seq {checkpoint_seq}: newest rows deleted"
    )]
    ShorterThanCheckpoint {
        /// The chain's newest seq.
        head_seq: u64,
        /// The checkpoint's seq.
        checkpoint_seq: u64,
    },
    /// The row at the checkpoint's seq has another hash than the checkpoint: the chain up to
    /// there was replaced.
    #[error("audit row {seq} differs from the signed checkpoint")]
    CheckpointMismatch {
        /// The checkpoint's seq.
        seq: u64,
    },
}

impl ChainError {
    /// The first bad sequence number (for [`ShorterThanCheckpoint`](Self::ShorterThanCheckpoint),
    /// the first missing one).
    pub fn seq(&self) -> u64 {
        match self {
            Self::FirstSeqNotOne { seq }
            | Self::HashMismatch { seq }
            | Self::PrevMismatch { seq }
            | Self::SeqGap { seq, .. }
            | Self::Undecodable { seq, .. }
            | Self::CheckpointMismatch { seq } => *seq,
            Self::ShorterThanCheckpoint { head_seq, .. } => head_seq.saturating_add(1),
        }
    }

    /// A stable snake_case code for logs and API bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::FirstSeqNotOne { .. } => "audit_first_seq_not_one",
            Self::HashMismatch { .. } => "audit_hash_mismatch",
            Self::PrevMismatch { .. } => "audit_prev_mismatch",
            Self::SeqGap { .. } => "audit_seq_gap",
            Self::Undecodable { .. } => "audit_undecodable",
            Self::ShorterThanCheckpoint { .. } => "audit_shorter_than_checkpoint",
            Self::CheckpointMismatch { .. } => "audit_checkpoint_mismatch",
        }
    }
}

/// Checks one row given its predecessor's stored `(seq, hash)` (`None` for the first row).
/// Needs nothing else, so chunks of rows can be checked independently.
fn check_row<R: ChainRow + ?Sized>(
    key: &AuditKey,
    anchor: Option<&Anchor>,
    row: &R,
    pred: Option<(u64, &[u8; 32])>,
) -> Result<(), ChainError> {
    check_row_with(key, anchor, row, pred, canonical::check)
}

/// [`check_row`], reading the event with `read` (which validates it, and may keep what it
/// read: one pass over the encoding either way).
fn check_row_with<R: ChainRow + ?Sized>(
    key: &AuditKey,
    anchor: Option<&Anchor>,
    row: &R,
    pred: Option<(u64, &[u8; 32])>,
    read: impl FnOnce(&[u8]) -> Result<(), AuditError>,
) -> Result<(), ChainError> {
    let seq = row.seq();
    if pred.is_none() && seq != 1 {
        return Err(ChainError::FirstSeqNotOne { seq });
    }
    // Not constant-time: verification is offline, and the stored hashes are not secret.
    if key.link_hash(seq, row.prev(), row.canonical()) != *row.hash() {
        return Err(ChainError::HashMismatch { seq });
    }
    let expected_prev = pred.map_or(&GENESIS_PREV, |(_, h)| h);
    if row.prev() != expected_prev {
        return Err(ChainError::PrevMismatch { seq });
    }
    if let Some((pseq, _)) = pred
        && pseq.checked_add(1) != Some(seq)
    {
        return Err(ChainError::SeqGap {
            seq,
            expected: pseq.saturating_add(1),
        });
    }
    read(row.canonical()).map_err(|reason| ChainError::Undecodable { seq, reason })?;
    if let Some(a) = anchor
        && a.seq == seq
        && a.head != *row.hash()
    {
        return Err(ChainError::CheckpointMismatch { seq });
    }
    Ok(())
}

fn finish(anchor: Option<&Anchor>, rows: u64, head: ChainHead) -> Result<Summary, ChainError> {
    if let Some(a) = anchor {
        if a.seq > head.seq {
            return Err(ChainError::ShorterThanCheckpoint {
                head_seq: head.seq,
                checkpoint_seq: a.seq,
            });
        }
        if a.seq == 0 && a.head != GENESIS_PREV {
            return Err(ChainError::CheckpointMismatch { seq: 0 });
        }
    }
    Ok(Summary {
        rows,
        head_seq: head.seq,
        head_hash: head.hash,
    })
}

/// A streaming verifier: [`push`](Self::push) rows in seq order, then
/// [`finish`](Self::finish). Allocates nothing per row.
///
/// After `push` returns an error, further pushes return the same error.
#[derive(Debug)]
pub struct Verifier<'k> {
    key: &'k AuditKey,
    anchor: Option<Anchor>,
    rows: u64,
    last: Option<ChainHead>,
    failed: Option<ChainError>,
}

impl<'k> Verifier<'k> {
    /// A verifier for a chain MACed with `key`, optionally bound to a verified checkpoint.
    pub fn new(key: &'k AuditKey, anchor: Option<Anchor>) -> Self {
        Self {
            key,
            anchor,
            rows: 0,
            last: None,
            failed: None,
        }
    }

    /// Checks the next row.
    pub fn push<R: ChainRow + ?Sized>(&mut self, row: &R) -> Result<(), ChainError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let pred = self.last.as_ref().map(|h| (h.seq, &h.hash));
        let checked = check_row(self.key, self.anchor.as_ref(), row, pred);
        self.settle(row, checked)
    }

    /// Counts a row that checked out and makes it the predecessor of the next; remembers a
    /// failure, so that every later push reports the first one.
    fn settle<R: ChainRow + ?Sized, T>(
        &mut self,
        row: &R,
        checked: Result<T, ChainError>,
    ) -> Result<T, ChainError> {
        match checked {
            Ok(v) => {
                self.rows += 1;
                self.last = Some(ChainHead {
                    seq: row.seq(),
                    hash: *row.hash(),
                });
                Ok(v)
            }
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// [`push`](Self::push), also handing the row's event to `view` as it is read (borrowed,
    /// see [`canonical::view`]) — one pass over the encoding, not two.
    pub fn push_viewed<'a, R: ChainRow + ?Sized>(
        &mut self,
        row: &'a R,
        detail: impl FnMut(&'a str, canonical::ValueView<'a>),
    ) -> Result<canonical::View<'a>, ChainError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let pred = self.last.as_ref().map(|h| (h.seq, &h.hash));
        let mut seen = None;
        let checked = check_row_with(self.key, self.anchor.as_ref(), row, pred, |_| {
            canonical::view(row.canonical(), detail).map(|v| seen = Some(v))
        });
        let viewed = checked.and_then(|()| {
            seen.ok_or(ChainError::Undecodable {
                seq: row.seq(),
                reason: AuditError::Malformed { what: "event" },
            })
        });
        self.settle(row, viewed)
    }

    /// Ends verification: checks the checkpoint (if any) against the chain's end.
    pub fn finish(self) -> Result<Summary, ChainError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        finish(
            self.anchor.as_ref(),
            self.rows,
            self.last.unwrap_or(ChainHead::GENESIS),
        )
    }
}

/// Verifies rows given in seq order on the calling thread.
pub fn verify<I>(key: &AuditKey, rows: I, anchor: Option<Anchor>) -> Result<Summary, ChainError>
where
    I: IntoIterator,
    I::Item: ChainRow,
{
    let mut v = Verifier::new(key, anchor);
    for row in rows {
        v.push(&row)?;
    }
    v.finish()
}

/// Below this many rows per thread, [`verify_parallel`] stays on the calling thread.
const MIN_ROWS_PER_THREAD: usize = 4096;

/// Verifies rows given in seq order, split into `threads` contiguous chunks checked at the
/// same time (`std::thread::scope`). Same result as [`verify`]: each row is checked against
/// its own stored predecessor, so the first failing row of the first failing chunk is the
/// first failing row overall.
///
/// `threads` is the caller's choice (this crate does not probe the machine); 0 and 1 mean the
/// calling thread only.
pub fn verify_parallel<R: ChainRow + Sync>(
    key: &AuditKey,
    rows: &[R],
    anchor: Option<Anchor>,
    threads: usize,
) -> Result<Summary, ChainError> {
    let threads = threads.clamp(1, (rows.len() / MIN_ROWS_PER_THREAD).max(1));
    if threads == 1 {
        return verify(key, rows, anchor);
    }
    let chunk = rows.len().div_ceil(threads);
    let anchor_ref = anchor.as_ref();
    let check_chunk = |start: usize| -> Result<(), ChainError> {
        let end = (start + chunk).min(rows.len());
        let mut pred = start
            .checked_sub(1)
            .and_then(|i| rows.get(i))
            .map(|r| (r.seq(), r.hash()));
        for row in rows.get(start..end).unwrap_or(&[]) {
            check_row(key, anchor_ref, row, pred)?;
            pred = Some((row.seq(), row.hash()));
        }
        Ok(())
    };
    let results: Vec<Result<(), ChainError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads)
            .map(|i| {
                let check_chunk = &check_chunk;
                s.spawn(move || check_chunk(i * chunk))
            })
            .collect();
        let mut results = vec![check_chunk(0)];
        for h in handles {
            // A worker only panics if check_row does, which it must not; report it as such.
            results.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        results
    });
    for r in results {
        r?;
    }
    let head = rows.last().map_or(ChainHead::GENESIS, |r| ChainHead {
        seq: r.seq(),
        hash: *r.hash(),
    });
    finish(
        anchor_ref,
        u64::try_from(rows.len()).unwrap_or(u64::MAX),
        head,
    )
}
