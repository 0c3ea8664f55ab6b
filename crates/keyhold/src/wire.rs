//! API v1's request bodies ([`crate::api`]) turned into the facade's own requests, so a server
//! hands the facade what it read and gets back a facade [`Error`] with the documented code;
//! and back into bodies, for a client of a server.

use keyhold_api::MintBody;
use keyhold_token::{Scope, ScopeSet};

use crate::apikeys::MintRequest;
use crate::{Error, Result};

impl MintRequest {
    /// The request a `POST /v1/keys` body makes in `workspace`: its expiry preset and scopes
    /// parsed (`invalid_expiry`, `scope_unknown`, `scope_malformed` if they are not valid).
    pub fn from_body(workspace: String, body: MintBody) -> Result<Self> {
        let expires = body.expires.parse().map_err(Error::from)?;
        let scopes = body
            .scopes
            .map(|list| {
                list.iter()
                    .map(|s| s.parse::<Scope>())
                    .collect::<Result<ScopeSet, _>>()
            })
            .transpose()
            .map_err(Error::from)?;
        Ok(Self {
            workspace,
            name: body.name,
            expires,
            scopes,
            sub: body.sub,
        })
    }

    /// The `POST /v1/keys` body that asks for this key (its workspace is the caller's own).
    pub fn to_body(&self) -> MintBody {
        MintBody {
            name: self.name.clone(),
            expires: self.expires.as_str().to_owned(),
            scopes: self
                .scopes
                .as_ref()
                .map(|set| set.iter().map(|s| s.as_str().to_owned()).collect()),
            sub: self.sub.clone(),
        }
    }
}

/// A scope as a request names it (`keys:read`), or the documented refusal
/// (`scope_unknown`, `scope_malformed`).
pub fn scope_from_wire(name: &str) -> Result<Scope> {
    name.parse().map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mint_request_goes_through_its_body_unchanged() {
        let scopes: ScopeSet = [Scope::KeysRead, Scope::AuditRead].into_iter().collect();
        let req = MintRequest {
            workspace: String::new(),
            name: "svc".into(),
            expires: "1h".parse().unwrap(),
            scopes: Some(scopes),
            sub: Some("ci".into()),
        };
        let body = req.to_body();
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"name":"svc","expires":"1h","scopes":["audit:read","keys:read"],"sub":"ci"}"#
        );
        let back = MintRequest::from_body("ws".into(), body).unwrap();
        assert_eq!(
            (
                back.workspace.as_str(),
                back.name.as_str(),
                back.sub.as_deref()
            ),
            ("ws", "svc", Some("ci"))
        );
        assert_eq!(back.expires, req.expires);
        assert_eq!(back.scopes, req.scopes);
        let bare = MintRequest {
            scopes: None,
            sub: None,
            ..req
        };
        assert_eq!(
            serde_json::to_string(&bare.to_body()).unwrap(),
            r#"{"name":"svc","expires":"1h"}"#
        );
    }
}
