//! An outcome that is given only once its batch item is durable, as a blocking wait or as a
//! runtime-agnostic future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{CommitError, GroupCommit, Ticket};

/// Proof that a call comes from [`Deferred`]: it cannot be made outside this crate, so the
/// methods of [`Batches`] that take one can be called by nobody else — not even through the
/// owner's public type.
#[derive(Debug)]
pub struct Token(());

/// The owner of a group-commit queue, as a [`Deferred`] needs it: the queue its ticket is in,
/// and how a batch is committed when no committer thread runs and this waiter leads.
///
/// Both methods take a [`Token`], so only a `Deferred` calls them: a program holding the owner
/// can neither queue items around its own rules nor commit a batch of its choosing.
pub trait Batches {
    /// What is queued.
    type Item;
    /// The error an outcome carries; a failed batch or a misuse becomes one.
    type Error: From<CommitError>;
    /// The queue tickets are taken from.
    fn queue(&self, token: Token) -> &GroupCommit<Self::Item>;
    /// Commits one batch durably (all or nothing).
    fn commit(&self, batch: Vec<Self::Item>, token: Token) -> Result<(), Self::Error>;
}

enum State<T, E> {
    /// Not given yet.
    Held(Result<T, E>),
    /// Given; asking again gets this error.
    Given(E),
}

/// The outcome of an operation whose record is on its way to disk: resolve it with
/// [`Deferred::wait`] (blocking) or `.await` it (any executor). Either way the outcome is given
/// only once the record is durable; a success whose record could not be written becomes an
/// error. Dropping it gives up waiting; the record is still written.
#[must_use = "the outcome is only known once the record is durable: wait for it or await it"]
pub struct Deferred<'a, T, O: Batches> {
    owner: &'a O,
    state: State<T, O::Error>,
    ticket: Option<Ticket>,
    /// A failed record fails a refusal too (when the row is also the only record of who
    /// asked, as in an introspection).
    strict: bool,
}

impl<'a, T, O: Batches> Deferred<'a, T, O> {
    /// `outcome`, to be given once `ticket` (a ticket of `owner`'s queue) is durable; with no
    /// ticket, as soon as it is asked for.
    pub fn new(owner: &'a O, outcome: Result<T, O::Error>, ticket: Option<Ticket>) -> Self {
        Self {
            owner,
            state: State::Held(outcome),
            ticket,
            strict: false,
        }
    }

    /// A failed record fails a refusal too, not only a success.
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    fn settle(&mut self, durable: Result<(), CommitError>) -> Result<T, O::Error> {
        // Decided and collected: nothing is left to give up on drop.
        self.ticket = None;
        let taken = State::Given(CommitError::OutcomeTaken.into());
        let outcome = match std::mem::replace(&mut self.state, taken) {
            State::Held(outcome) => outcome,
            State::Given(e) => Err(e),
        };
        match (outcome, durable) {
            (Ok(_), Err(e)) => Err(e.into()),
            (Err(_), Err(e)) if self.strict => Err(e.into()),
            (outcome, _) => outcome,
        }
    }

    /// The outcome as it will be given if the record becomes durable (a success can still
    /// turn into an error if it does not). For acting on a result early while the record is
    /// on its way; answer no one before awaiting or waiting.
    pub fn outcome(&self) -> Result<&T, &O::Error> {
        match &self.state {
            State::Held(r) => r.as_ref(),
            State::Given(e) => Err(e),
        }
    }

    /// Blocks until the record is durable, then gives the outcome.
    pub fn wait(mut self) -> Result<T, O::Error> {
        let owner = self.owner;
        let durable = match &self.ticket {
            Some(t) => {
                let commit = |b| owner.commit(b, Token(()));
                owner.queue(Token(())).wait(t, &commit)
            }
            None => Ok(()),
        };
        self.settle(durable)
    }
}

impl<T: fmt::Debug, O: Batches> fmt::Debug for Deferred<'_, T, O>
where
    O::Error: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match &self.state {
            State::Held(r) => Some(r),
            State::Given(_) => None,
        };
        f.debug_struct("Deferred")
            .field("outcome", &outcome)
            .field("durable", &self.ticket.is_none())
            .finish()
    }
}

// Nothing in it is pinned: the outcome is only ever moved out whole.
impl<T, O: Batches> Unpin for Deferred<'_, T, O> {}

impl<T, O: Batches> Future for Deferred<'_, T, O> {
    type Output = Result<T, O::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let owner = self.owner;
        let durable = match &self.ticket {
            Some(t) => {
                let commit = |b| owner.commit(b, Token(()));
                match owner.queue(Token(())).poll_ticket(t, cx, &commit) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(r) => r,
                }
            }
            None => Ok(()),
        };
        Poll::Ready(self.settle(durable))
    }
}

impl<T, O: Batches> Drop for Deferred<'_, T, O> {
    fn drop(&mut self) {
        if let Some(t) = self.ticket.take() {
            self.owner.queue(Token(())).abandon(t);
        }
    }
}
