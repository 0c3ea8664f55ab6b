//! The bodies of API v1: requests, responses and the error envelope.
//!
//! Response fields are declared in the order they are written on the wire (alphabetical, as
//! keyhold has always written its JSON); request fields in the order a JSON array form of the
//! body gives them, which serde also accepts. Bodies that carry a claim set or an audit record
//! are generic over that type, which the facade owns; bodies that carry a token are generic
//! over the string type, so the client can send a borrowed one, the server can move what it
//! reads into a buffer that is wiped, and the facade can hold its own secret type.

use serde::{Deserialize, Serialize};

use crate::ApiKey;

/// `POST /v1/keys`: mint an API key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintBody {
    /// Name, unique within the workspace.
    pub name: String,
    /// Expiry preset (`15m`, `1h`, ... `30d`).
    pub expires: String,
    /// Scopes; none gives the key the caller's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Subject; none uses the caller's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
}

impl MintBody {
    /// A body for a key of the caller's own subject with `expires` and `scopes`.
    pub fn new(name: String, expires: &str, scopes: &[&str]) -> Self {
        Self {
            name,
            expires: expires.to_owned(),
            scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
            sub: None,
        }
    }
}

/// `POST /v1/tokens/verify`: the token to introspect, and the scope it must have.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody<S> {
    /// The token.
    pub token: S,
    /// Scope the token must grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<S>,
}

/// The answer to `POST /v1/keys`: the key's metadata and, this once, its token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Minted<S> {
    /// The key's metadata.
    pub key: ApiKey,
    /// The token (shown only here).
    pub token: S,
}

/// The answer to `GET /v1/keys`.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyList {
    /// The workspace's keys.
    pub keys: Vec<ApiKey>,
}

/// The answer to `GET /v1/audit`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Records<R> {
    /// The matching records, oldest first.
    pub records: Vec<R>,
}

/// The answer to `POST /v1/tokens/verify`: valid with its claims, or refused and why.
#[derive(Debug, Serialize, Deserialize)]
pub struct Verdict<P> {
    /// The token's claims, if it is valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<P>,
    /// Why the token is refused, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Refusal>,
    /// Whether the token is valid.
    pub valid: bool,
}

/// Why a token was refused: one of the documented codes, and words for people.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refusal {
    /// The error code.
    pub code: String,
    /// The message.
    pub message: String,
}

/// The error envelope every failed request answers with (and the CLI prints with `--json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// The error inside an [`ErrorEnvelope`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// One of the documented codes ([`crate::CODES`]).
    pub code: String,
    /// Where the code is documented ([`doc_url`]).
    #[serde(default)]
    pub doc_url: String,
    /// Words for people, on one line; never a secret.
    pub message: String,
    /// The request's id, to find it in the logs and the audit trail.
    #[serde(default)]
    pub request_id: String,
}

impl ErrorEnvelope {
    /// The envelope of `code` with `message` (line breaks become spaces) for request
    /// `request_id`.
    pub fn new(code: &str, message: &str, request_id: &str) -> Self {
        Self {
            error: ErrorBody {
                code: code.to_owned(),
                doc_url: doc_url(code),
                message: message.replace(['\n', '\r'], " "),
                request_id: request_id.to_owned(),
            },
        }
    }
}

/// Where `code` is documented.
pub fn doc_url(code: &str) -> String {
    format!("docs/auth-and-tokens.md#{code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_written_as_before() {
        let e = ErrorEnvelope::new("not_found", "key x\nnot found", "req_1");
        assert_eq!(
            serde_json::to_string(&e).ok().as_deref(),
            Some(
                r#"{"error":{"code":"not_found","doc_url":"docs/auth-and-tokens.md#not_found","message":"key x not found","request_id":"req_1"}}"#
            )
        );
        let v: Verdict<u8> = Verdict {
            claims: None,
            error: Some(Refusal {
                code: "token_expired".into(),
                message: "expired".into(),
            }),
            valid: false,
        };
        assert_eq!(
            serde_json::to_string(&v).ok().as_deref(),
            Some(r#"{"error":{"code":"token_expired","message":"expired"},"valid":false}"#)
        );
        let ask = VerifyBody {
            scope: None,
            token: "t",
        };
        assert_eq!(
            serde_json::to_string(&ask).ok().as_deref(),
            Some(r#"{"token":"t"}"#)
        );
    }
}
