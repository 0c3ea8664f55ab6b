//! The client of API v1 (feature `client`): a typed call on any route of [`ROUTES`](crate::ROUTES)
//! over HTTP(S), with `ureq` and rustls (ring).
//!
//! The key travels only in the `Authorization` header; nothing secret is ever put in a URL.
//! Plain `http://` is accepted only for a loopback address (the server refuses anything else
//! without TLS too); `https://` verifies the server with the platform's trust store, or with
//! the CA certificates given. Redirects are not followed, so the key cannot be carried to
//! another host. A failed request is an [`ApiError`]: the server's envelope (code, message,
//! status, request id), or why the server could not be reached or understood.

mod connections;
mod error;
mod url;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

pub use error::ApiError;
use url::{base_url, encode};

use crate::{AuditQuery, ErrorEnvelope, Op};

/// Largest response body read from a server.
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// A `keyhold-server` reached over HTTP(S), acting as one API key or one signed-in person.
pub struct Client {
    base: String,
    authorization: Zeroizing<String>,
    /// A signed-in person's CSRF token (sent with every request; `authorization` is then the
    /// session cookie).
    csrf: Option<Zeroizing<String>>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// What a call puts into its route's path and query: the path's parameters (`{id}`, or
/// `{name}` and `{slot}`; percent-encoded here) and query parameters (likewise), in order.
/// Never a secret: those go in bodies.
#[derive(Debug, Default, Clone)]
pub struct Params<'a> {
    segments: Vec<&'a str>,
    query: Vec<(&'a str, String)>,
}

impl<'a> Params<'a> {
    /// The key id or name for a route's `{id}`.
    pub fn id(id: &'a str) -> Self {
        Self {
            segments: vec![id],
            query: Vec::new(),
        }
    }

    /// The connection's name for a route's `{name}`.
    pub fn connection(name: &'a str) -> Self {
        Self::id(name)
    }

    /// The connection's name and the slot for a route's `{name}` and `{slot}`.
    pub fn slot(name: &'a str, slot: crate::SlotName) -> Self {
        Self {
            segments: vec![name, slot.as_str()],
            query: Vec::new(),
        }
    }

    /// Adds `name=value` to the query, if there is a value.
    pub fn query(mut self, name: &'a str, value: Option<String>) -> Self {
        if let Some(v) = value {
            self.query.push((name, v));
        }
        self
    }

    /// The query of `GET /v1/audit` that asks for `q` (its `workspace` is not sent: a key
    /// reads its own).
    pub fn audit(q: &AuditQuery) -> Self {
        Self {
            segments: Vec::new(),
            query: q.pairs(),
        }
    }

    /// The path of `op`'s route with these parameters.
    fn path(&self, op: Op) -> String {
        let route = op.route();
        let encoded: Vec<String> = self.segments.iter().map(|s| encode(s)).collect();
        let encoded: Vec<&str> = encoded.iter().map(String::as_str).collect();
        let path = route.path(&encoded);
        if self.query.is_empty() {
            return path;
        }
        let query: Vec<String> = self
            .query
            .iter()
            .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
            .collect();
        format!("{path}?{}", query.join("&"))
    }
}

/// The platform's trust store, or the CA certificates in `ca_pem`.
fn root_certs(ca_pem: Option<&[u8]>) -> Result<ureq::tls::RootCerts, ApiError> {
    let Some(pem) = ca_pem else {
        return Ok(ureq::tls::RootCerts::PlatformVerifier);
    };
    let certs: Vec<_> = ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(ApiError::Invalid {
            field: "ca-cert",
            reason: "no PEM certificate in the file".into(),
        });
    }
    Ok(ureq::tls::RootCerts::Specific(Arc::new(certs)))
}

fn agent(base: &str, roots: ureq::tls::RootCerts) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(roots)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    ureq::Agent::config_builder()
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
        .new_agent()
}

impl Client {
    /// A client of the server at `url` (e.g. `https://keyhold.internal:8200`), authenticating
    /// with `token`. `ca_pem`, if given, replaces the platform's trust store with these CA
    /// certificates (PEM) for `https`.
    pub fn new(url: &str, token: &str, ca_pem: Option<&[u8]>) -> Result<Self, ApiError> {
        let base = base_url(url)?;
        let token = token.trim();
        if token.is_empty() {
            return Err(ApiError::Invalid {
                field: "KEYHOLD_TOKEN",
                reason: "empty: set it to an API key".into(),
            });
        }
        let agent = agent(&base, root_certs(ca_pem)?);
        Ok(Self {
            base,
            authorization: Zeroizing::new(format!("Bearer {token}")),
            csrf: None,
            agent,
        })
    }

    /// A client of the server at `url` acting as the person signed in with `session` (the
    /// session cookie's value) and its `csrf` token.
    pub fn with_session(
        url: &str,
        session: &str,
        csrf: &str,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, ApiError> {
        let mut c = Self::new(url, session, ca_pem)?;
        let name = crate::session_cookie(c.base.starts_with("https://"));
        c.authorization = Zeroizing::new(format!("{name}={}", session.trim()));
        c.csrf = Some(Zeroizing::new(csrf.trim().to_owned()));
        Ok(c)
    }

    /// Signs in at the server at `url` (`POST /v1/sessions`): the session cookie's value, and
    /// the answer (with its CSRF token).
    pub fn sign_in(
        url: &str,
        body: &crate::SignIn,
        ca_pem: Option<&[u8]>,
    ) -> Result<(Zeroizing<String>, crate::Session), ApiError> {
        let base = base_url(url)?;
        let agent = agent(&base, root_certs(ca_pem)?);
        let bytes = Zeroizing::new(
            serde_json::to_vec(body)
                .map_err(|_| ApiError::Internal("could not encode the sign-in"))?,
        );
        let path = Params::default().path(Op::SignIn);
        let unreachable = |reason: String| ApiError::Unreachable {
            url: base.clone(),
            reason,
        };
        let mut resp = agent
            .post(&format!("{base}{path}"))
            .content_type("application/json")
            .send(&bytes[..])
            .map_err(|e| unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .and_then(|v| v.strip_prefix(crate::session_cookie(base.starts_with("https://"))))
            .and_then(|v| v.strip_prefix('='))
            .map(|v| Zeroizing::new(v.to_owned()));
        let answer = Zeroizing::new(
            resp.body_mut()
                .with_config()
                .limit(MAX_RESPONSE)
                .read_to_vec()
                .map_err(|e| unreachable(e.to_string()))?,
        );
        let probe = Self {
            base: base.clone(),
            authorization: Zeroizing::new(String::new()),
            csrf: None,
            agent,
        };
        if !(200..300).contains(&status) {
            return Err(probe.envelope(status, &answer));
        }
        let session = serde_json::from_slice(&answer)
            .map_err(|e| unreachable(format!("unexpected answer to a sign-in: {e}")))?;
        let cookie = cookie
            .ok_or_else(|| unreachable("a sign-in answered without a session cookie".into()))?;
        Ok((cookie, session))
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The error for an answer that is not API v1's: `reason` says what was wrong with it.
    pub fn unreachable(&self, reason: impl std::fmt::Display) -> ApiError {
        ApiError::Unreachable {
            url: self.base.clone(),
            reason: reason.to_string(),
        }
    }

    /// `op` with no parameters and no body.
    pub fn get<T: DeserializeOwned>(&self, op: Op) -> Result<T, ApiError> {
        self.call(op, &Params::default(), None::<&()>)
    }

    /// One request on `op`'s route with `params` in its path and query and `body`, if any,
    /// sent as JSON. A 2xx answer is decoded as `T`; any other from the error envelope.
    pub fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        op: Op,
        params: &Params<'_>,
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        // The body may hold a token: encoded once, into a buffer wiped on every return path.
        let bytes = body
            .map(|b| {
                serde_json::to_vec(b)
                    .map(Zeroizing::new)
                    .map_err(|_| ApiError::Internal("could not encode the request as JSON"))
            })
            .transpose()?;
        let path = params.path(op);
        self.send(
            op.route().method,
            &path,
            bytes.as_deref().map(Vec::as_slice),
        )
    }

    /// Sends one request and reads its answer.
    fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<T, ApiError> {
        let url = format!("{}{path}", self.base);
        let sent = match method {
            "GET" => self.auth(self.agent.get(&url)).call(),
            "DELETE" => self.auth(self.agent.delete(&url)).call(),
            _ => {
                let req = self.auth(match method {
                    "PUT" => self.agent.put(&url),
                    "PATCH" => self.agent.patch(&url),
                    _ => self.agent.post(&url),
                });
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

    /// `req` with this client's credential: the API key, or the session cookie and its CSRF
    /// token.
    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        let value: &str = &self.authorization;
        match &self.csrf {
            None => req.header("Authorization", value),
            Some(csrf) => req
                .header("Cookie", value)
                .header("X-CSRF-Token", csrf.as_str()),
        }
    }

    fn envelope(&self, status: u16, bytes: &[u8]) -> ApiError {
        match serde_json::from_slice::<ErrorEnvelope>(bytes) {
            Ok(e) => ApiError::Refused {
                status,
                code: e.error.code,
                message: e.error.message,
                request_id: e.error.request_id,
            },
            Err(_) => self.unreachable(format!("HTTP {status} without an error envelope")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_built_from_the_route_table() {
        assert_eq!(Params::default().path(Op::ListKeys), "/v1/keys");
        assert_eq!(
            Params::id("a/b").path(Op::RevokeKey),
            "/v1/keys/a%2Fb/revoke"
        );
        assert_eq!(
            Params::slot("orders/db", crate::SlotName::Secondary).path(Op::UpdateCredential),
            "/v1/connections/orders%2Fdb/slots/secondary/credential"
        );
        assert_eq!(
            Params::connection("orders db").path(Op::ActiveCredential),
            "/v1/connections/orders%20db/credential"
        );
        assert_eq!(
            Params::default()
                .query("since_ms", Some("5".into()))
                .query("action", None)
                .query("actor", Some("ci bot&x".into()))
                .path(Op::ListAudit),
            "/v1/audit?since_ms=5&actor=ci%20bot%26x"
        );
    }

    #[test]
    fn the_audit_query_the_client_writes_is_the_one_the_server_reads() {
        let q = AuditQuery {
            since_ms: Some(5),
            actor: Some("ci bot&x=é%".into()),
            workspace: Some("not sent".into()),
            limit: Some(3),
            ..AuditQuery::default()
        };
        let path = Params::audit(&q).path(Op::ListAudit);
        assert_eq!(
            path,
            "/v1/audit?since_ms=5&actor=ci%20bot%26x%3D%C3%A9%25&limit=3"
        );
        let (_, query) = path.split_once('?').unwrap_or_default();
        let read = AuditQuery::from_query(query).unwrap();
        assert_eq!(
            read,
            AuditQuery {
                workspace: None,
                ..q
            }
        );
    }
}
