//! The indexed columns of an audit row: what a filter searches, repeated from the chained
//! event so that lookups can use indexes, and therefore checked against it.

use crate::canonical::View;
use crate::{Event, Outcome, PublicText};

/// A row's filter columns, derived from its event alone: what is written, and what a stored
/// row must still say (a row whose columns were edited could hide from a filter or show under
/// another actor, key, workspace or time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns<'a> {
    /// Unix milliseconds.
    pub time_ms: i64,
    /// Workspace id.
    pub workspace: Option<&'a str>,
    /// Dotted action name.
    pub action: &'a str,
    /// The actor's subject.
    pub actor: &'a str,
    /// The key the actor acted with.
    pub key_id: Option<&'a str>,
    /// `success` or the failure's reason code.
    pub outcome: &'a str,
}

impl<'a> Columns<'a> {
    /// The columns `e`'s row is written with.
    pub fn of(e: &'a Event) -> Self {
        Self {
            time_ms: e.time_ms,
            workspace: e.workspace.as_ref().map(PublicText::as_str),
            action: e.action.as_str(),
            actor: e.actor.sub.as_str(),
            key_id: e.actor.key_id.as_ref().map(PublicText::as_str),
            outcome: match &e.outcome {
                Outcome::Success => "success",
                Outcome::Failure(c) => c.as_str(),
            },
        }
    }

    /// The columns a row whose event reads as `v` must have.
    pub fn of_view(v: &View<'a>) -> Self {
        Self {
            time_ms: v.time_ms,
            workspace: v.workspace,
            action: v.action.as_str(),
            actor: v.sub,
            key_id: v.key_id,
            outcome: v.failure.unwrap_or("success"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, Actor, ReasonCode, Surface};

    #[test]
    fn an_event_and_its_view_give_the_same_columns() {
        let t = |s: &str| PublicText::new(s).unwrap();
        for outcome in [
            Outcome::Success,
            Outcome::Failure(ReasonCode::new("key_revoked").unwrap()),
        ] {
            let e = Event::new(
                9,
                Actor::new(t("svc"), Surface::Cli),
                Action::KeyUsed,
                t("r"),
            )
            .with_workspace(t("ws_1"))
            .with_outcome(outcome);
            let bytes = e.to_canonical();
            let v = crate::canonical::view(&bytes, |_, _| {}).unwrap();
            assert_eq!(Columns::of(&e), Columns::of_view(&v));
        }
    }
}
