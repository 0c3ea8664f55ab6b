//! `audit verify`'s fold: the stored rows, fed one by one as plain values, are verified as a
//! chain (every link; with an [`Anchor`], that the chain still reaches the checkpoint), their
//! filter columns are checked against their events, and the events are folded into what the
//! chain says last happened to every key, workspace and signing key ([`Reconciler`]). The
//! caller reads the rows; this module only looks at them.

use crate::canonical::View;
use crate::reconcile::{Details, Reconciler};
use crate::{Anchor, AuditKey, ChainError, Columns, RowRef, Summary, Verifier};

/// A stored audit row as the caller read it: the chained fields as stored (the hashes not yet
/// known to have the right length) and the filter columns.
#[derive(Debug, Clone, Copy)]
pub struct StoredAuditRow<'a> {
    /// Position in the chain.
    pub seq: u64,
    /// The previous row's hash, as stored.
    pub prev: &'a [u8],
    /// This row's hash, as stored.
    pub hash: &'a [u8],
    /// The canonical event, as stored.
    pub event: &'a [u8],
    /// The filter columns, as stored.
    pub columns: Columns<'a>,
}

/// The first thing wrong with a stored row. [`seq`](Self::seq) names it; the message is the
/// detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    /// A stored hash does not have 32 bytes.
    #[error("malformed hash")]
    MalformedHash {
        /// The row.
        seq: u64,
    },
    /// The chain is broken (see [`ChainError`]).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The row's filter columns say something else than its chained event.
    #[error("its filter columns disagree with the chained event (edited)")]
    ColumnsEdited {
        /// The row.
        seq: u64,
    },
    /// The row's stored hash is not its event's link after its stored `prev` (a row listed
    /// on its own, outside a run over the chain).
    #[error("its hash does not match its event")]
    Unlinked {
        /// The row.
        seq: u64,
    },
    /// The row's event is not a canonical event.
    #[error("undecodable event")]
    Undecodable {
        /// The row.
        seq: u64,
    },
}

impl RowError {
    /// The row the error is about.
    pub fn seq(&self) -> u64 {
        match self {
            Self::MalformedHash { seq }
            | Self::ColumnsEdited { seq }
            | Self::Unlinked { seq }
            | Self::Undecodable { seq } => *seq,
            Self::Chain(e) => e.seq(),
        }
    }
}

/// Checks that a row's stored filter columns still say what its event (read as `v`) says: a
/// row whose columns were edited could hide from a filter or show under another actor, key,
/// workspace or time.
pub fn check_columns(seq: u64, stored: &Columns<'_>, v: &View<'_>) -> Result<(), RowError> {
    if *stored != Columns::of_view(v) {
        return Err(RowError::ColumnsEdited { seq });
    }
    Ok(())
}

/// The chain, verified and folded.
#[derive(Debug)]
pub struct FoldedChain {
    /// What the chain says last happened to every key, workspace and signing key.
    pub reconciler: Reconciler,
    /// What the verification saw.
    pub summary: Summary,
}

impl FoldedChain {
    /// The fold of an empty log.
    pub fn empty() -> Self {
        Self {
            reconciler: Reconciler::default(),
            summary: Summary {
                rows: 0,
                head_seq: 0,
                head_hash: [0; 32],
            },
        }
    }
}

/// A verification run over stored rows: [`push`](Self::push) them in seq order, then
/// [`finish`](Self::finish). Each row's event is read once, for the chain's check, the
/// columns and the fold.
#[derive(Debug)]
pub struct ChainAudit<'k> {
    verifier: Verifier<'k>,
    reconciler: Reconciler,
}

impl<'k> ChainAudit<'k> {
    /// A run over a chain MACed with `key`, optionally bound to a verified checkpoint.
    pub fn new(key: &'k AuditKey, anchor: Option<Anchor>) -> Self {
        Self {
            verifier: Verifier::new(key, anchor),
            reconciler: Reconciler::default(),
        }
    }

    /// Checks and folds the next row; the first error ends the run.
    pub fn push(&mut self, row: &StoredAuditRow<'_>) -> Result<(), RowError> {
        let seq = row.seq;
        let (Ok(prev), Ok(hash)) = (
            <&[u8; 32]>::try_from(row.prev),
            <&[u8; 32]>::try_from(row.hash),
        ) else {
            return Err(RowError::MalformedHash { seq });
        };
        let link = RowRef {
            seq,
            prev,
            hash,
            canonical: row.event,
        };
        let mut details = Details::default();
        let event = self
            .verifier
            .push_viewed(&link, |name, value| details.note(name, value))?;
        check_columns(seq, &row.columns, &event)?;
        self.reconciler.push(seq, &event, &details);
        Ok(())
    }

    /// Ends the run: checks the checkpoint (if any) against the chain's end.
    pub fn finish(self) -> Result<FoldedChain, RowError> {
        let summary = self.verifier.finish()?;
        Ok(FoldedChain {
            reconciler: self.reconciler,
            summary,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, Actor, AuditChain, ChainHead, Event, PublicText, Surface};

    fn sealed(n: u64) -> (AuditKey, Vec<crate::SealedEvent>, Vec<Event>) {
        let key = AuditKey::from_bytes(&[7u8; 32]).unwrap();
        let t = |s: &str| PublicText::new(s).unwrap();
        let events: Vec<Event> = (0..n)
            .map(|i| {
                Event::new(
                    i64::try_from(i).unwrap(),
                    Actor::new(t("op"), Surface::Cli),
                    Action::KeyUsed,
                    t("r"),
                )
            })
            .collect();
        let rows = AuditChain::new(&key, ChainHead::GENESIS)
            .append_batch(&events)
            .unwrap();
        (key, rows, events)
    }

    fn stored<'a>(s: &'a crate::SealedEvent, e: &'a Event) -> StoredAuditRow<'a> {
        StoredAuditRow {
            seq: s.link.seq,
            prev: &s.link.prev,
            hash: &s.link.hash,
            event: &s.canonical,
            columns: Columns::of(e),
        }
    }

    #[test]
    fn a_clean_chain_folds_to_its_head() {
        let (key, rows, events) = sealed(3);
        let mut run = ChainAudit::new(&key, None);
        for (s, e) in rows.iter().zip(&events) {
            run.push(&stored(s, e)).unwrap();
        }
        let folded = run.finish().unwrap();
        assert_eq!(folded.summary.rows, 3);
        assert_eq!(folded.summary.head_hash, rows[2].link.hash);
    }

    #[test]
    fn a_short_hash_an_edited_column_and_a_broken_link_name_their_row() {
        let (key, rows, events) = sealed(2);
        let mut run = ChainAudit::new(&key, None);
        let mut row = stored(&rows[0], &events[0]);
        row.hash = &row.hash[..31];
        let e = run.push(&row).unwrap_err();
        assert_eq!((e.seq(), e.to_string().as_str()), (1, "malformed hash"));

        let mut run = ChainAudit::new(&key, None);
        let mut row = stored(&rows[0], &events[0]);
        row.columns.actor = "someone-else";
        let e = run.push(&row).unwrap_err();
        assert_eq!(e, RowError::ColumnsEdited { seq: 1 });

        let mut run = ChainAudit::new(&key, None);
        let e = run.push(&stored(&rows[1], &events[1])).unwrap_err();
        assert_eq!(e.seq(), 2);
        assert!(matches!(
            e,
            RowError::Chain(ChainError::FirstSeqNotOne { .. })
        ));
    }
}
