//! [`Remote`]: the [`Operations`] of a `keyhold-server`, over its HTTP API v1.
//!
//! The key travels only in the `Authorization` header; nothing secret is ever put in a URL.
//! Plain `http://` is accepted only for a loopback address (the server refuses anything else
//! without TLS too); `https://` verifies the server with the platform's trust store, or with
//! the CA certificates given. Redirects are not followed, so the key cannot be carried to
//! another host. A server error comes back as the same [`Error`] code the store would have
//! given locally ([`Error::Remote`]).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keyhold_api::{ErrorEnvelope, KeyList, Minted, Op, Records, Route, Verdict, VerifyBody};
use keyhold_crypto::secrecy::zeroize::Zeroizing;
use keyhold_token::{Jwks, Scope};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::apikeys::Token;
use crate::ops::Operations;
use crate::{
    ApiKey, AuditEntry, AuditFilter, AuditVerification, Error, MintRequest, MintedKey, Principal,
    Result, RevokeAll, SigningKeyRotation,
};

/// Largest response body read from a server.
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// A `keyhold-server` reached over HTTP(S), acting as one API key.
pub struct Remote {
    base: String,
    authorization: Zeroizing<String>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Checks a server URL: `http` or `https`, no credentials, no query or fragment, and plain
/// `http` only to a loopback host. Returns it without a trailing slash.
fn base_url(url: &str) -> Result<String> {
    let bad = |reason: &str| Error::InvalidInput {
        field: "server",
        reason: reason.to_owned(),
    };
    let expected = || bad("expected http(s)://HOST:PORT");
    let uri: http::Uri = url.parse().map_err(|_| expected())?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(expected());
    };
    if authority.as_str().contains('@') {
        return Err(bad(
            "a server URL must not carry credentials; put the key in KEYHOLD_TOKEN",
        ));
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(bad("a server URL takes no query or fragment"));
    }
    match scheme {
        "https" => {}
        "http" => {
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            let loopback =
                host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(bad(
                    "plain http is only for a loopback address: the key would cross the network in clear; use https",
                ));
            }
        }
        _ => return Err(bad("the scheme must be http or https")),
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// What passes unencoded in a path segment or query value: RFC 3986's unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a path segment or query value.
fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

impl Remote {
    /// A client of the server at `url` (e.g. `https://keyhold.internal:8200`), authenticating
    /// with `token`. `ca_pem`, if given, replaces the platform's trust store with these CA
    /// certificates (PEM) for `https`.
    pub fn new(url: &str, token: &str, ca_pem: Option<&[u8]>) -> Result<Self> {
        let base = base_url(url)?;
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::InvalidInput {
                field: "KEYHOLD_TOKEN",
                reason: "empty: set it to an API key".into(),
            });
        }
        let roots = match ca_pem {
            None => ureq::tls::RootCerts::PlatformVerifier,
            Some(pem) => {
                let certs: Vec<_> = ureq::tls::parse_pem(pem)
                    .filter_map(|item| match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                        _ => None,
                    })
                    .collect();
                if certs.is_empty() {
                    return Err(Error::InvalidInput {
                        field: "ca-cert",
                        reason: "no PEM certificate in the file".into(),
                    });
                }
                ureq::tls::RootCerts::Specific(Arc::new(certs))
            }
        };
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(roots)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // A proxy from the environment only for https, where it sees ciphertext. Plain
            // http is loopback-only, and through a proxy the key would leave the machine in
            // clear (and reach the proxy's own loopback, not this one).
            .proxy(if base.starts_with("https://") {
                ureq::Proxy::try_from_env()
            } else {
                None
            })
            .timeout_global(Some(Duration::from_secs(60)))
            .timeout_connect(Some(Duration::from_secs(10)))
            .tls_config(tls)
            .user_agent(concat!("keyhold/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Self {
            base,
            authorization: Zeroizing::new(format!("Bearer {token}")),
            agent,
        })
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The identity of the key this client acts as (`GET /v1/whoami`).
    pub fn whoami(&self) -> Result<Principal> {
        self.call(Op::WhoAmI.route(), None, None::<&()>)
    }

    fn unreachable(&self, reason: impl std::fmt::Display) -> Error {
        Error::Server {
            url: self.base.clone(),
            reason: reason.to_string(),
        }
    }

    /// One request on `route`: `path` replaces the route's template when it needs a key id or
    /// a query; `body` is sent as JSON. A non-2xx answer is decoded from the envelope.
    fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        route: &Route,
        path: Option<&str>,
        body: Option<&B>,
    ) -> Result<T> {
        // The body may hold a token: encoded once, into a buffer wiped on every return path.
        let bytes = body
            .map(|b| {
                serde_json::to_vec(b)
                    .map(Zeroizing::new)
                    .map_err(|_| Error::Internal("could not encode the request as JSON"))
            })
            .transpose()?;
        let path = path.unwrap_or(route.template);
        self.send(route.method, path, bytes.as_deref().map(Vec::as_slice))
    }

    /// Sends one request and reads its answer.
    fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<T> {
        let url = format!("{}{path}", self.base);
        let auth: &str = &self.authorization;
        let sent = match method {
            "GET" => self.agent.get(&url).header("Authorization", auth).call(),
            _ => {
                let req = self.agent.post(&url).header("Authorization", auth);
                match body {
                    Some(b) => req.content_type("application/json").send(b),
                    None => req.send_empty(),
                }
            }
        };
        // ureq's transport errors describe the connection, never the request's headers.
        let mut resp = sent.map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let bytes = Zeroizing::new(
            resp.body_mut()
                .with_config()
                .limit(MAX_RESPONSE)
                .read_to_vec()
                .map_err(|e| self.unreachable(e))?,
        );
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes)
                .map_err(|e| self.unreachable(format!("unexpected answer to {path}: {e}")));
        }
        Err(self.envelope(status, &bytes))
    }

    fn envelope(&self, status: u16, bytes: &[u8]) -> Error {
        match serde_json::from_slice::<ErrorEnvelope>(bytes) {
            Ok(e) => Error::from_envelope(&self.base, &e.error.code, &e.error.message),
            Err(_) => self.unreachable(format!("HTTP {status} without an error envelope")),
        }
    }

    /// A call on a route of one key, `ident` encoded into its path.
    fn on_key(&self, op: Op, ident: &str) -> Result<ApiKey> {
        let route = op.route();
        self.call(route, Some(&route.path(&encode(ident))), None::<&()>)
    }

    /// A key acts in its own workspace: any other named here is refused before asking.
    fn own_workspace(workspace: Option<&str>) -> Result<()> {
        match workspace {
            None => Ok(()),
            Some(_) => Err(Error::InvalidInput {
                field: "workspace",
                reason: "through a server, commands act in the workspace of the key in KEYHOLD_TOKEN; drop --workspace".into(),
            }),
        }
    }
}

/// `/v1/audit` with the filter as its query.
fn audit_path(filter: &AuditFilter) -> String {
    let mut query = Vec::new();
    let mut add = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            query.push(format!("{name}={}", encode(&v)));
        }
    };
    add("since_ms", filter.since_ms.map(|t| t.to_string()));
    add("action", filter.action.clone());
    add("key", filter.key_id.clone());
    add("actor", filter.actor.clone());
    add("limit", filter.limit.map(|l| l.to_string()));
    let template = Op::ListAudit.route().template;
    if query.is_empty() {
        template.to_owned()
    } else {
        format!("{template}?{}", query.join("&"))
    }
}

impl Operations for Remote {
    fn mint_key(&self, req: &MintRequest) -> Result<MintedKey> {
        Self::own_workspace(Some(req.workspace.as_str()).filter(|w| !w.is_empty()))?;
        let body = keyhold_api::MintBody {
            expires: req.expires.as_str().to_owned(),
            name: req.name.clone(),
            scopes: req
                .scopes
                .as_ref()
                .map(|set| set.iter().map(|s| s.as_str().to_owned()).collect()),
            sub: req.sub.clone(),
        };
        let m: Minted<ApiKey, String> = self.call(Op::MintKey.route(), None, Some(&body))?;
        Ok(MintedKey {
            token: Token::new(Zeroizing::new(m.token)),
            key: m.key,
        })
    }

    fn keys(&self, workspace: Option<&str>) -> Result<Vec<ApiKey>> {
        Self::own_workspace(workspace)?;
        let list: KeyList<ApiKey> = self.call(Op::ListKeys.route(), None, None::<&()>)?;
        Ok(list.keys)
    }

    fn key(&self, workspace: Option<&str>, ident: &str) -> Result<ApiKey> {
        Self::own_workspace(workspace)?;
        self.on_key(Op::GetKey, ident)
    }

    fn revoke_key(&self, workspace: Option<&str>, ident: &str) -> Result<ApiKey> {
        Self::own_workspace(workspace)?;
        self.on_key(Op::RevokeKey, ident)
    }

    fn revoke_all_keys(&self, workspace: Option<&str>) -> Result<RevokeAll> {
        Self::own_workspace(workspace)?;
        self.call(Op::RevokeAllKeys.route(), None, None::<&()>)
    }

    fn verify_token(&self, token: &str, scope: Option<Scope>) -> Result<Principal> {
        let ask = VerifyBody {
            scope: scope.map(Scope::as_str),
            token,
        };
        let v: Verdict<Principal> = self.call(Op::VerifyToken.route(), None, Some(&ask))?;
        match (v.valid, v.claims, v.error) {
            (true, Some(p), _) => Ok(p),
            (false, _, Some(e)) => Err(Error::from_envelope(&self.base, &e.code, &e.message)),
            _ => Err(self.unreachable("a verification answer without claims or error")),
        }
    }

    fn jwks(&self) -> Result<Jwks> {
        self.call(Op::Jwks.route(), None, None::<&()>)
    }

    fn rotate_signing_key(&self) -> Result<SigningKeyRotation> {
        self.call(Op::RotateSigningKey.route(), None, None::<&()>)
    }

    fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        if filter.workspace.is_some() {
            return Err(Error::InvalidInput {
                field: "workspace",
                reason: "through a server, the audit log is read in the key's own workspace".into(),
            });
        }
        let path = audit_path(filter);
        let records: Records<AuditEntry> =
            self.call(Op::ListAudit.route(), Some(&path), None::<&()>)?;
        Ok(records.records)
    }

    fn verify_audit(&self, checkpoint: Option<&Path>) -> Result<AuditVerification> {
        if checkpoint.is_some() {
            return Err(Error::InvalidInput {
                field: "checkpoint",
                reason:
                    "a checkpoint is checked against the store itself; run this where the store is"
                        .into(),
            });
        }
        self.call(Op::VerifyAudit.route(), None, None::<&()>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked() {
        for ok in [
            "http://127.0.0.1:8200",
            "http://localhost:8200/",
            "http://[::1]:8200",
            "https://keyhold.example.com",
            "https://10.0.0.5:8200",
        ] {
            assert!(base_url(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("127.0.0.1:8200", "expected http(s)://HOST:PORT"),
            ("http://10.0.0.5:8200", "plain http is only for a loopback"),
            (
                "http://keyhold.example.com",
                "plain http is only for a loopback",
            ),
            ("ftp://127.0.0.1", "the scheme must be http or https"),
            (
                "https://user:pw@keyhold.example.com",
                "must not carry credentials",
            ),
            (
                "https://keyhold.example.com/?token=x",
                "no query or fragment",
            ),
            ("https://keyhold.example.com/#x", "no query or fragment"),
            ("https://", "expected http(s)://HOST:PORT"),
        ] {
            let e = base_url(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_input", "{bad}");
            assert!(!e.to_string().contains("pw"), "{e}");
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
        assert_eq!(
            base_url("http://127.0.0.1:8200/").unwrap(),
            "http://127.0.0.1:8200"
        );
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode("key_ab-c.d~"), "key_ab-c.d~");
        assert_eq!(encode("a/b?c d"), "a%2Fb%3Fc%20d");
    }
}
