//! Appending events to the hash chain.

use std::fmt;

use crate::{AuditError, AuditKey, Event, hex};

/// The `prev` of the first link (seq 1): 32 zero bytes.
pub const GENESIS_PREV: [u8; 32] = [0; 32];

/// The newest link of a chain: what a writer reads back before appending.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHead {
    /// The newest sequence number (0 for an empty chain).
    pub seq: u64,
    /// The newest link hash ([`GENESIS_PREV`] for an empty chain).
    pub hash: [u8; 32],
}

impl ChainHead {
    /// The head of an empty chain.
    pub const GENESIS: ChainHead = ChainHead {
        seq: 0,
        hash: GENESIS_PREV,
    };
}

impl fmt::Debug for ChainHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainHead")
            .field("seq", &self.seq)
            .field("hash", &hex::encode(&self.hash))
            .finish()
    }
}

/// One link: the stored `(seq, prev, hash)` of a row.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainLink {
    /// 1, 2, 3, ... with no gaps.
    pub seq: u64,
    /// The previous link's hash ([`GENESIS_PREV`] for seq 1).
    pub prev: [u8; 32],
    /// `HMAC-SHA256(audit key, tag ‖ seq ‖ prev ‖ canonical(event))`.
    pub hash: [u8; 32],
}

impl fmt::Debug for ChainLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainLink")
            .field("seq", &self.seq)
            .field("prev", &hex::encode(&self.prev))
            .field("hash", &hex::encode(&self.hash))
            .finish()
    }
}

/// An event ready to store: its link and its canonical bytes (the BLOB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEvent {
    /// The row's `(seq, prev, hash)`.
    pub link: ChainLink,
    /// The event's canonical encoding.
    pub canonical: Vec<u8>,
}

/// Appends events to a chain whose head the caller read from the store.
///
/// The chain's whole state is its head, so the writer's protocol is: in one write
/// transaction, read the head, [`append_batch`](Self::append_batch) the events, insert the
/// rows, commit. If the transaction fails, drop this value and start again from the stored
/// head; never reuse a head that was not committed.
#[derive(Debug)]
pub struct AuditChain<'k> {
    key: &'k AuditKey,
    head: ChainHead,
}

impl<'k> AuditChain<'k> {
    /// Continues the chain after `head` ([`ChainHead::GENESIS`] for a new log).
    pub fn new(key: &'k AuditKey, head: ChainHead) -> Self {
        Self { key, head }
    }

    /// The head after everything appended so far.
    pub fn head(&self) -> ChainHead {
        self.head
    }

    /// Links one event after the head.
    pub fn append(&mut self, event: &Event) -> Result<SealedEvent, AuditError> {
        let seq = self
            .head
            .seq
            .checked_add(1)
            .ok_or(AuditError::SeqExhausted)?;
        let canonical = event.to_canonical();
        let prev = self.head.hash;
        let hash = self.key.link_hash(seq, &prev, &canonical);
        self.head = ChainHead { seq, hash };
        Ok(SealedEvent {
            link: ChainLink { seq, prev, hash },
            canonical,
        })
    }

    /// Links a batch of events, in order, after the head (all or nothing: on error the head
    /// is unchanged).
    pub fn append_batch<'e>(
        &mut self,
        events: impl IntoIterator<Item = &'e Event>,
    ) -> Result<Vec<SealedEvent>, AuditError> {
        let start = self.head;
        let events = events.into_iter();
        let mut out = Vec::with_capacity(events.size_hint().0);
        for e in events {
            match self.append(e) {
                Ok(row) => out.push(row),
                Err(err) => {
                    self.head = start;
                    return Err(err);
                }
            }
        }
        Ok(out)
    }
}
