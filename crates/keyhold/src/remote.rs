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

use keyhold_crypto::secrecy::zeroize::Zeroizing;
use keyhold_token::{Jwks, Scope};
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
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected http(s)://HOST:PORT"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(bad("expected http(s)://HOST:PORT"));
    }
    if authority.contains('@') {
        return Err(bad(
            "a server URL must not carry credentials; put the key in KEYHOLD_TOKEN",
        ));
    }
    if rest.contains(['?', '#']) {
        return Err(bad("a server URL takes no query or fragment"));
    }
    match scheme {
        "https" => {}
        "http" => {
            let host = authority
                .rsplit_once(':')
                .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
                .map_or(authority, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
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

/// Percent-encodes a path segment or query value (RFC 3986 unreserved characters pass).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
        self.call("GET", "/v1/whoami", None)
    }

    fn unreachable(&self, reason: impl std::fmt::Display) -> Error {
        Error::Server {
            url: self.base.clone(),
            reason: reason.to_string(),
        }
    }

    /// One request: `body` is JSON for a POST. A non-2xx answer is decoded from the envelope.
    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T> {
        let bytes = body
            .map(|b| {
                serde_json::to_vec(b)
                    .map(Zeroizing::new)
                    .map_err(|_| Error::Internal("could not encode the request as JSON"))
            })
            .transpose()?;
        self.call_raw(method, path, bytes.as_deref().map(Vec::as_slice))
    }

    /// [`Remote::call`] with the JSON body already encoded (the caller zeroizes it).
    fn call_raw<T: DeserializeOwned>(
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
        #[derive(serde::Deserialize)]
        struct Envelope {
            error: Inner,
        }
        #[derive(serde::Deserialize)]
        struct Inner {
            code: String,
            message: String,
        }
        match serde_json::from_slice::<Envelope>(bytes) {
            Ok(e) => Error::from_envelope(&self.base, &e.error.code, &e.error.message),
            Err(_) => self.unreachable(format!("HTTP {status} without an error envelope")),
        }
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

impl Operations for Remote {
    fn mint_key(&self, req: &MintRequest) -> Result<MintedKey> {
        #[derive(serde::Deserialize)]
        struct Minted {
            token: String,
            key: ApiKey,
        }
        Self::own_workspace(Some(req.workspace.as_str()).filter(|w| !w.is_empty()))?;
        let mut body = serde_json::json!({
            "name": req.name,
            "expires": req.expires.as_str(),
        });
        if let Some(scopes) = &req.scopes {
            body["scopes"] = scopes.iter().map(|s| s.as_str()).collect();
        }
        if let Some(sub) = &req.sub {
            body["sub"] = serde_json::Value::from(sub.as_str());
        }
        let m: Minted = self.call("POST", "/v1/keys", Some(&body))?;
        Ok(MintedKey {
            token: Token::new(Zeroizing::new(m.token)),
            key: m.key,
        })
    }

    fn keys(&self, workspace: Option<&str>) -> Result<Vec<ApiKey>> {
        Self::own_workspace(workspace)?;
        #[derive(serde::Deserialize)]
        struct Keys {
            keys: Vec<ApiKey>,
        }
        Ok(self.call::<Keys>("GET", "/v1/keys", None)?.keys)
    }

    fn key(&self, workspace: Option<&str>, ident: &str) -> Result<ApiKey> {
        Self::own_workspace(workspace)?;
        self.call("GET", &format!("/v1/keys/{}", encode(ident)), None)
    }

    fn revoke_key(&self, workspace: Option<&str>, ident: &str) -> Result<ApiKey> {
        Self::own_workspace(workspace)?;
        self.call("POST", &format!("/v1/keys/{}/revoke", encode(ident)), None)
    }

    fn revoke_all_keys(&self, workspace: Option<&str>) -> Result<RevokeAll> {
        Self::own_workspace(workspace)?;
        self.call("POST", "/v1/keys/revoke-all", None)
    }

    fn verify_token(&self, token: &str, scope: Option<Scope>) -> Result<Principal> {
        #[derive(serde::Deserialize)]
        struct Verdict {
            valid: bool,
            claims: Option<Principal>,
            error: Option<Inner>,
        }
        #[derive(serde::Deserialize)]
        struct Inner {
            code: String,
            message: String,
        }
        #[derive(serde::Serialize)]
        struct Ask<'a> {
            token: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            scope: Option<&'a str>,
        }
        // The body holds the token: encoded once, into a buffer wiped on every return path.
        let body = Zeroizing::new(
            serde_json::to_vec(&Ask {
                token,
                scope: scope.map(Scope::as_str),
            })
            .map_err(|_| Error::Internal("could not encode the request as JSON"))?,
        );
        let v: Verdict = self.call_raw("POST", "/v1/tokens/verify", Some(&body))?;
        match (v.valid, v.claims, v.error) {
            (true, Some(p), _) => Ok(p),
            (false, _, Some(e)) => Err(Error::from_envelope(&self.base, &e.code, &e.message)),
            _ => Err(self.unreachable("a verification answer without claims or error")),
        }
    }

    fn jwks(&self) -> Result<Jwks> {
        self.call("GET", "/.well-known/jwks.json", None)
    }

    fn rotate_signing_key(&self) -> Result<SigningKeyRotation> {
        self.call("POST", "/v1/signing-keys/rotate", None)
    }

    fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        #[derive(serde::Deserialize)]
        struct Records {
            records: Vec<AuditEntry>,
        }
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
        if filter.workspace.is_some() {
            return Err(Error::InvalidInput {
                field: "workspace",
                reason: "through a server, the audit log is read in the key's own workspace".into(),
            });
        }
        let path = if query.is_empty() {
            "/v1/audit".to_owned()
        } else {
            format!("/v1/audit?{}", query.join("&"))
        };
        Ok(self.call::<Records>("GET", &path, None)?.records)
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
        self.call("POST", "/v1/audit/verify", None)
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
        for bad in [
            "127.0.0.1:8200",
            "http://10.0.0.5:8200",
            "http://keyhold.example.com",
            "ftp://127.0.0.1",
            "https://user:pw@keyhold.example.com",
            "https://keyhold.example.com/?token=x",
            "https://",
        ] {
            let e = base_url(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_input", "{bad}");
            assert!(!e.to_string().contains("pw"), "{e}");
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
