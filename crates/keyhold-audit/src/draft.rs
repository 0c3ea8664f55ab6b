//! Building an event step by step from plain strings: what happened, to what, with which
//! outcome; the actor and the time are filled in last, from where the request came from.

use crate::{
    Action, Actor, DetailName, DetailValue, Details, Event, Outcome, PublicText, ReasonCode,
    Surface,
};

/// Why a draft could not become an event. The messages name the kind of value, never the
/// value (it might be a secret pasted by mistake).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DraftError {
    /// A text is not a valid [`PublicText`].
    #[error("a value cannot be recorded in the audit log")]
    Text,
    /// The failure code is not a valid [`ReasonCode`].
    #[error("an invalid reason code")]
    ReasonCode,
    /// A detail name is not a valid [`DetailName`].
    #[error("an invalid detail name")]
    DetailName,
    /// More details than [`Details::MAX_ENTRIES`].
    #[error("too many audit details")]
    TooManyDetails,
}

impl DraftError {
    /// The message, as a static string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "a value cannot be recorded in the audit log",
            Self::ReasonCode => "an invalid reason code",
            Self::DetailName => "an invalid detail name",
            Self::TooManyDetails => "too many audit details",
        }
    }
}

fn text(s: &str) -> Result<PublicText, DraftError> {
    PublicText::new(s).map_err(|_| DraftError::Text)
}

/// Where and when an event comes from: what the caller knows about the request. (This crate
/// reads no clock: the caller says what time it is.)
pub trait Provenance {
    /// The error a draft's failure becomes.
    type Error: From<DraftError>;
    /// The door the request came through.
    fn surface(&self) -> Surface;
    /// Remote address or OS user, if known.
    fn source(&self) -> Option<&str>;
    /// The request id.
    fn request_id(&self) -> &str;
    /// The time to stamp the event with (Unix milliseconds).
    fn time_ms(&self) -> i64;
}

/// An event under construction: what happened, to what, with which outcome.
#[derive(Debug, Clone)]
pub struct EventDraft {
    action: Action,
    workspace: Option<String>,
    target: Option<String>,
    failure: Option<&'static str>,
    details: Vec<(&'static str, DetailValue)>,
    introspector: Option<String>,
}

impl EventDraft {
    /// A draft of `action`, succeeded, with nothing else said yet.
    pub fn new(action: Action) -> Self {
        Self {
            action,
            workspace: None,
            target: None,
            failure: None,
            details: Vec::new(),
            introspector: None,
        }
    }

    /// In workspace `ws`.
    #[must_use]
    pub fn workspace(mut self, ws: &str) -> Self {
        self.workspace = Some(ws.to_owned());
        self
    }

    /// About `t`.
    #[must_use]
    pub fn target(mut self, t: &str) -> Self {
        self.target = Some(t.to_owned());
        self
    }

    /// The key of the service that asked (token introspection): its use, in this row.
    #[must_use]
    pub fn introspected_by(mut self, key_id: &str) -> Self {
        self.introspector = Some(key_id.to_owned());
        self
    }

    /// Failed with reason `code` (snake_case).
    #[must_use]
    pub fn failed(mut self, code: &'static str) -> Self {
        self.failure = Some(code);
        self
    }

    /// With detail `name` (snake_case) = `v`.
    #[must_use]
    pub fn detail(mut self, name: &'static str, v: impl Into<DetailValue>) -> Self {
        self.details.push((name, v.into()));
        self
    }

    /// Names the signing keys the operation deleted (every token they signed had expired):
    /// detail `signing_keys_deleted`, space-separated, so that one put back is named by
    /// reconciliation. (Kids are 43 characters: a detail holds eleven; more are rare enough
    /// that the rest go unnamed rather than fail the operation.)
    pub fn signing_keys_deleted(self, kids: &[String]) -> Result<Self, DraftError> {
        if kids.is_empty() {
            return Ok(self);
        }
        let mut list = String::new();
        for kid in kids {
            if list.len() + kid.len() + 1 > PublicText::MAX_LEN {
                break;
            }
            if !list.is_empty() {
                list.push(' ');
            }
            list.push_str(kid);
        }
        Ok(self.detail("signing_keys_deleted", text(&list)?))
    }

    /// Names a signing key the operation had to create first (none active): detail
    /// `signing_key`, so the chain names every signing key the store ever had.
    pub fn signing_key_created(self, kid: Option<&str>) -> Result<Self, DraftError> {
        Ok(match kid {
            Some(kid) => self.detail("signing_key", text(kid)?),
            None => self,
        })
    }

    /// The event, by subject `sub` acting with key `acting_key` (if any; otherwise the
    /// event's actor key is left unset) from `origin`.
    pub fn event<P: Provenance>(
        self,
        sub: &str,
        acting_key: Option<&str>,
        origin: &P,
    ) -> Result<Event, P::Error> {
        Ok(self.build(sub, acting_key, origin)?)
    }

    fn build<P: Provenance>(
        mut self,
        sub: &str,
        acting_key: Option<&str>,
        origin: &P,
    ) -> Result<Event, DraftError> {
        let mut actor = Actor::new(text(sub)?, origin.surface());
        if let Some(k) = acting_key {
            actor = actor.with_key_id(text(k)?);
        }
        if let Some(src) = origin.source() {
            actor = actor.with_source(text(src)?);
        }
        let request_id = text(origin.request_id())?;
        let mut event = Event::new(origin.time_ms(), actor, self.action, request_id);
        if let Some(ws) = &self.workspace {
            event = event.with_workspace(text(ws)?);
        }
        if let Some(t) = &self.target {
            event = event.with_target(text(t)?);
        }
        if let Some(code) = self.failure {
            let code = ReasonCode::new(code).map_err(|_| DraftError::ReasonCode)?;
            event = event.with_outcome(Outcome::Failure(code));
        }
        if let Some(k) = self.introspector.take() {
            self.details
                .push(("introspected_by", DetailValue::Text(text(&k)?)));
        }
        if !self.details.is_empty() {
            let mut d = Details::new();
            for (name, v) in self.details {
                let name = DetailName::new(name).map_err(|_| DraftError::DetailName)?;
                d.insert(name, v).map_err(|_| DraftError::TooManyDetails)?;
            }
            event = event.with_details(d);
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Here;

    impl Provenance for Here {
        type Error = DraftError;
        fn surface(&self) -> Surface {
            Surface::Http
        }
        fn source(&self) -> Option<&str> {
            Some("10.0.0.7")
        }
        fn request_id(&self) -> &str {
            "req_1"
        }
        fn time_ms(&self) -> i64 {
            1_700_000_000_000
        }
    }

    #[test]
    fn a_draft_becomes_the_event_it_describes() {
        let e = EventDraft::new(Action::KeyRejected)
            .workspace("ws_1")
            .target("key_1")
            .failed("token_expired")
            .detail("suppressed", 3i64)
            .introspected_by("key_2")
            .event("svc", Some("key_1"), &Here)
            .unwrap();
        assert_eq!(e.time_ms, 1_700_000_000_000);
        assert_eq!(e.actor.surface, Surface::Http);
        assert_eq!(
            e.actor.key_id.as_ref().map(PublicText::as_str),
            Some("key_1")
        );
        assert_eq!(e.target.as_ref().map(PublicText::as_str), Some("key_1"));
        assert!(matches!(&e.outcome, Outcome::Failure(c) if c.as_str() == "token_expired"));
        assert!(e.details.get("introspected_by").is_some());
        assert_eq!(e.details.get("suppressed"), Some(&DetailValue::Int(3)));
    }

    #[test]
    fn deleted_signing_keys_are_listed_as_far_as_a_detail_holds() {
        let kids: Vec<String> = (0..20).map(|i| format!("{i:043}")).collect();
        let e = EventDraft::new(Action::SigningKeyRotated)
            .signing_keys_deleted(&kids)
            .unwrap()
            .event("op", None, &Here)
            .unwrap();
        let Some(DetailValue::Text(list)) = e.details.get("signing_keys_deleted") else {
            panic!("no list");
        };
        assert_eq!(list.as_str().split(' ').count(), 11);
    }

    #[test]
    fn an_unrecordable_value_is_refused_without_echoing_it() {
        let err = EventDraft::new(Action::KeyUsed)
            .target("bad\u{7}")
            .event("op", None, &Here)
            .unwrap_err();
        assert_eq!(err, DraftError::Text);
        assert!(!err.to_string().contains("bad"));
    }
}
