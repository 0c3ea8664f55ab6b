//! `POST /v1/assistant`: a sentence for Azi, and her reply — what she understood, and then
//! either an answer (nothing done), a confirmation to send back (a destructive request), or
//! what was done.
//!
//! A destructive request (revoke a key, revoke all, rotate a connection) acts only when it is
//! asked twice: the first reply carries a [`Confirmation`], which the same caller sends back
//! with the same sentence within its lifetime. A confirmation is used once, whatever the
//! outcome, and confirms nothing but the intent it was given for.

use serde::{Deserialize, Serialize};

use crate::{ApiKey, KeyList, Minted, RevokeAll, TestOutcome};

/// `POST /v1/assistant`: what the person wrote, and the confirmation of an earlier reply.
/// (`Debug` shows neither: the sentence may hold anything, the confirmation acts.)
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    /// The sentence, as typed (at most 4 KiB are read).
    pub sentence: String,
    /// The token of the [`Confirmation`] of the reply to this same sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<String>,
}

/// What became of a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AskStatus {
    /// A refusal, a question back or help: nothing was done.
    Answered,
    /// A destructive request: nothing was done; send the sentence again with the
    /// confirmation to act.
    Confirm,
    /// The request was carried out: `result` says what it did.
    Done,
}

/// A destructive request waiting for its second ask. (`Debug` does not show the token.)
#[derive(Clone, Serialize, Deserialize)]
pub struct Confirmation {
    /// Unix seconds after which it confirms nothing.
    pub expires_at: i64,
    /// What to ask the person before sending it back.
    pub question: String,
    /// Send back as `confirmation`, once.
    pub token: String,
}

impl std::fmt::Debug for AskBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AskBody")
            .field("sentence", &format_args!("({} bytes)", self.sentence.len()))
            .field(
                "confirmation",
                &self.confirmation.as_ref().map(|_| "(redacted)"),
            )
            .finish()
    }
}

impl std::fmt::Debug for Confirmation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confirmation")
            .field("expires_at", &self.expires_at)
            .field("question", &self.question)
            .field("token", &"(redacted)")
            .finish()
    }
}

/// What a carried-out request did: what the equivalent route answers.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Done<S> {
    /// The key created, and its token (shown this once).
    Minted(Minted<S>),
    /// The workspace's keys.
    Keys(KeyList),
    /// The key revoked.
    Revoked(ApiKey),
    /// Every key of the workspace revoked.
    RevokedAll(RevokeAll),
    /// The connection rotated (or the new credential's failed test).
    Rotated(TestOutcome),
}

/// The answer to `POST /v1/assistant`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AskReply<S> {
    /// The confirmation to send back, when `status` is `confirm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Confirmation>,
    /// What Azi understood: one object, as `keyhold ask --dry-run --json` prints it.
    pub intent: serde_json::Value,
    /// What was done, when `status` is `done`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Done<S>>,
    /// What became of the sentence.
    pub status: AskStatus,
}

impl<S> AskReply<S> {
    /// A reply that did nothing yet: `answered`, or `confirm` with a confirmation. `intent` is
    /// the intent as the assistant writes it (a JSON object).
    pub fn pending(intent: &str, confirmation: Option<Confirmation>) -> Self {
        let status = match confirmation {
            Some(_) => AskStatus::Confirm,
            None => AskStatus::Answered,
        };
        Self {
            confirmation,
            intent: understood(intent),
            result: None,
            status,
        }
    }

    /// A reply to a request that was carried out.
    pub fn done(intent: &str, result: Done<S>) -> Self {
        Self {
            confirmation: None,
            intent: understood(intent),
            result: Some(result),
            status: AskStatus::Done,
        }
    }
}

/// The intent as the assistant writes it, as a JSON value (`null` if it were not JSON, which
/// the assistant's tests rule out).
fn understood(intent: &str) -> serde_json::Value {
    serde_json::from_str(intent).unwrap_or(serde_json::Value::Null)
}

impl<S> Done<S> {
    /// A created key and its token.
    pub fn minted(key: ApiKey, token: S) -> Self {
        Self::Minted(Minted { key, token })
    }
}

impl<S> AskReply<S> {
    /// The same reply with the created key's token (if any) turned into `T`.
    pub fn map<T>(self, f: impl FnOnce(S) -> T) -> AskReply<T> {
        AskReply {
            confirmation: self.confirmation,
            intent: self.intent,
            result: self.result.map(|done| match done {
                Done::Minted(m) => Done::Minted(Minted {
                    key: m.key,
                    token: f(m.token),
                }),
                Done::Keys(k) => Done::Keys(k),
                Done::Revoked(k) => Done::Revoked(k),
                Done::RevokedAll(r) => Done::RevokedAll(r),
                Done::Rotated(t) => Done::Rotated(t),
            }),
            status: self.status,
        }
    }

    /// A copy of the reply that borrows the token as `f` shows it (to write it out).
    pub fn view<'a, T>(&'a self, f: impl FnOnce(&'a S) -> T) -> AskReply<T> {
        AskReply {
            confirmation: self.confirmation.clone(),
            intent: self.intent.clone(),
            result: self.result.as_ref().map(|done| match done {
                Done::Minted(m) => Done::Minted(Minted {
                    key: m.key.clone(),
                    token: f(&m.token),
                }),
                Done::Keys(k) => Done::Keys(KeyList {
                    keys: k.keys.clone(),
                }),
                Done::Revoked(k) => Done::Revoked(k.clone()),
                Done::RevokedAll(r) => Done::RevokedAll(r.clone()),
                Done::Rotated(t) => Done::Rotated(t.clone()),
            }),
            status: self.status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_sentence_and_no_confirmation() {
        let body = AskBody {
            sentence: "revoke the key my-canary-name".into(),
            confirmation: Some("khc_canary".into()),
        };
        let c = Confirmation {
            expires_at: 1,
            question: "Revoke?".into(),
            token: "khc_canary".into(),
        };
        for shown in [format!("{body:?}"), format!("{c:?}")] {
            assert!(!shown.contains("canary"), "{shown}");
        }
    }
}
