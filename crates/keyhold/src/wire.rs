//! API v1's request bodies ([`crate::api`]) turned into the facade's own requests, so a server
//! hands the facade what it read and gets back a facade [`Error`] with the documented code.

use keyhold_api::MintBody;
use keyhold_token::{Scope, ScopeSet};

use crate::apikeys::MintRequest;
use crate::{Error, Result};

impl MintRequest {
    /// The request a `POST /v1/keys` body makes in `workspace`: its expiry preset and scopes
    /// parsed (`invalid_expiry`, `scope_unknown`, `scope_malformed` if they are not valid).
    pub fn from_body(workspace: String, body: MintBody) -> Result<Self> {
        let expires = body.expires.parse().map_err(Error::Token)?;
        let scopes = body
            .scopes
            .map(|list| {
                list.iter()
                    .map(|s| s.parse::<Scope>())
                    .collect::<Result<ScopeSet, _>>()
            })
            .transpose()
            .map_err(Error::Token)?;
        Ok(Self {
            workspace,
            name: body.name,
            expires,
            scopes,
            sub: body.sub,
        })
    }
}

/// A scope as a request names it (`keys:read`), or the documented refusal
/// (`scope_unknown`, `scope_malformed`).
pub fn scope_from_wire(name: &str) -> Result<Scope> {
    name.parse().map_err(Error::Token)
}
