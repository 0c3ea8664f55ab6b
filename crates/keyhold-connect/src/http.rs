//! The HTTP connector: a `GET` with the credential in the `Authorization` header.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use zeroize::Zeroizing;

use crate::{Connector, Login, Refusal};

/// How the credential is put into the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpAuth {
    /// `Authorization: Bearer <password>` (the login's user is not sent).
    Bearer,
    /// `Authorization: Basic base64(<user>:<password>)`.
    Basic,
}

/// Why an [`Http`] could not be built from its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HttpConfigError {
    /// Not an absolute `http://` or `https://` URL.
    #[error("the URL must be an absolute http:// or https:// URL")]
    Url,
    /// A `user:password@` part: credentials belong in keyhold, not in a URL.
    #[error("the URL must not contain a user or password (user@host)")]
    Userinfo,
    /// Plain `http://` to a host that is not loopback: the credential would cross the network
    /// in clear.
    #[error("plain http:// is accepted only for a loopback address; use https://")]
    PlainHttp,
}

/// An HTTP(S) endpoint that answers 2xx to a request with a valid credential.
///
/// [`Connector::test`] sends one `GET` to the URL with the credential in the `Authorization`
/// header (never in the URL): a 2xx answer passes; 401 or 403 is [`Refusal::Rejected`]; any
/// other status (said in the detail), a redirect (never followed, so the credential cannot be
/// carried elsewhere), a network failure or a timeout is [`Refusal::Unreachable`]. `https://`
/// verifies the server with the platform's trust store (rustls); plain `http://` is accepted
/// only for a loopback address. It cannot set passwords.
#[derive(Clone)]
pub struct Http {
    url: String,
    scheme: HttpAuth,
    agent: ureq::Agent,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http")
            .field("url", &self.url)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

fn check_url(url: &str) -> Result<(), HttpConfigError> {
    let uri: ureq::http::Uri = url.parse().map_err(|_| HttpConfigError::Url)?;
    let authority = uri.authority().ok_or(HttpConfigError::Url)?;
    if authority.as_str().contains('@') {
        return Err(HttpConfigError::Userinfo);
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err(HttpConfigError::Url);
    }
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") => {
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(HttpConfigError::PlainHttp)
            }
        }
        _ => Err(HttpConfigError::Url),
    }
}

fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(Some(Duration::from_secs(15)))
        .tls_config(tls)
        .user_agent(concat!("keyhold/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// A `Rejected` for a credential that cannot be put into a header at all.
fn unsendable(what: &str) -> Refusal {
    Refusal::Rejected {
        detail: format!("the {what} cannot be sent in an HTTP header"),
    }
}

impl Http {
    /// The endpoint at `url`, authenticating with `scheme`.
    pub fn new(url: &str, scheme: HttpAuth) -> Result<Self, HttpConfigError> {
        check_url(url)?;
        Ok(Self {
            url: url.to_owned(),
            scheme,
            agent: agent(),
        })
    }

    /// The endpoint's URL (it holds no credential).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `Authorization` header's value for `login`.
    fn authorization(&self, login: &Login<'_>) -> Result<Zeroizing<String>, Refusal> {
        // EXPOSE: the credential goes into the request's Authorization header.
        let password =
            std::str::from_utf8(login.password.expose()).map_err(|_| unsendable("password"))?;
        let value = match self.scheme {
            HttpAuth::Bearer => Zeroizing::new(format!("Bearer {password}")),
            HttpAuth::Basic => {
                if login.user.contains(':') {
                    return Err(unsendable("user name (it contains ':')"));
                }
                let pair = Zeroizing::new(format!("{}:{password}", login.user));
                let encoded =
                    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*pair));
                Zeroizing::new(format!("Basic {}", &*encoded))
            }
        };
        // Visible ASCII and spaces only: no line break can smuggle a second header.
        if !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
            return Err(unsendable("password"));
        }
        Ok(value)
    }

    fn unreachable(&self, what: impl fmt::Display) -> Refusal {
        Refusal::Unreachable {
            detail: format!("{}: {what}", self.url),
        }
    }
}

/// A transport error in this crate's words.
fn transport(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".into()
        }
        ureq::Error::Io(io) => format!("network error ({})", io.kind()),
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Rustls(_) => "TLS handshake failed".into(),
        _ => "the request failed".into(),
    }
}

impl Connector for Http {
    fn testable(&self) -> bool {
        true
    }

    fn test(&self, login: &Login<'_>) -> Result<(), Refusal> {
        let auth = self.authorization(login)?;
        let resp = self
            .agent
            .get(&self.url)
            .header("Authorization", auth.as_str())
            .call()
            .map_err(|e| self.unreachable(transport(&e)))?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => Ok(()),
            401 | 403 => Err(Refusal::Rejected {
                detail: format!("{}: HTTP {status}", self.url),
            }),
            _ => Err(self.unreachable(format_args!("unexpected HTTP status {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretBytes;

    #[test]
    fn urls_are_checked() {
        assert!(Http::new("https://api.example.com/v1/me", HttpAuth::Bearer).is_ok());
        assert!(Http::new("http://127.0.0.1:8080/ok", HttpAuth::Basic).is_ok());
        assert!(Http::new("http://[::1]:8080/ok", HttpAuth::Basic).is_ok());
        assert!(Http::new("http://localhost/ok", HttpAuth::Basic).is_ok());
        let err = |u: &str| Http::new(u, HttpAuth::Bearer).err();
        assert_eq!(err("ftp://example.com/"), Some(HttpConfigError::Url));
        assert_eq!(err("/relative"), Some(HttpConfigError::Url));
        assert_eq!(err("not a url"), Some(HttpConfigError::Url));
        assert_eq!(
            err("https://u:p@example.com/"),
            Some(HttpConfigError::Userinfo)
        );
        assert_eq!(
            err("https://u@example.com/"),
            Some(HttpConfigError::Userinfo)
        );
        assert_eq!(err("http://example.com/"), Some(HttpConfigError::PlainHttp));
    }

    #[test]
    fn headers_refuse_line_breaks_and_colons_in_basic_users() {
        let h = Http::new("http://127.0.0.1:1/", HttpAuth::Basic).unwrap();
        let pw = SecretBytes::copy_from(b"pw");
        let colon = Login {
            user: "a:b",
            password: &pw,
        };
        assert!(matches!(h.test(&colon), Err(Refusal::Rejected { .. })));
        let b = Http::new("http://127.0.0.1:1/", HttpAuth::Bearer).unwrap();
        let crlf = SecretBytes::copy_from(b"tok\r\nX-Evil: 1");
        let login = Login {
            user: "",
            password: &crlf,
        };
        let e = b.test(&login).unwrap_err();
        assert!(matches!(e, Refusal::Rejected { .. }));
        assert!(!format!("{e} {e:?}").contains("Evil"));
    }
}
