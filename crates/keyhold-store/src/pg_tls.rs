//! TLS to PostgreSQL, with rustls. Two of libpq's parameters say what a connection does:
//! `sslmode` and `sslrootcert`, given in the URL's query
//! (`postgres://USER@HOST:PORT/DB?sslmode=verify-full&sslrootcert=/etc/keyhold/ca.pem`) or in
//! libpq's variables `PGSSLMODE` and `PGSSLROOTCERT`; each one in the URL wins over its
//! variable. keyhold never runs TLS without verifying the server's certificate chain:
//!
//! - `disable`: plain TCP.
//! - `prefer`: TLS if the server offers it, verified as under `verify-ca`; plain TCP if the
//!   server does not speak TLS. A certificate that fails verification is refused, never
//!   answered by falling back to plain TCP.
//! - `require` and `verify-ca`: TLS, or no connection; the server's certificate chain must
//!   verify against `sslrootcert` (the system's root certificates when none is given). The
//!   host name is not checked (libpq's `require` with a root certificate behaves so).
//! - `verify-full`: TLS, or no connection; the chain and the host name are both verified.
//!
//! Without an `sslmode`, a connection to a loopback host (`localhost`, 127.0.0.0/8, `::1`) or
//! through a Unix socket (where PostgreSQL speaks no TLS) is `prefer`; any other is
//! `verify-full`. An unknown `sslmode`, or an `sslrootcert` that cannot be read or holds no
//! certificate, is an error naming the parameter. A refused certificate is reported as the
//! server's, with the reason (an unknown issuer, a name it does not carry, ...).

use std::error::Error as _;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::Host;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;

/// How a connection uses TLS (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

const MODES: [(&str, SslMode); 5] = [
    ("disable", SslMode::Disable),
    ("prefer", SslMode::Prefer),
    ("require", SslMode::Require),
    ("verify-ca", SslMode::VerifyCa),
    ("verify-full", SslMode::VerifyFull),
];

impl SslMode {
    fn name(self) -> &'static str {
        MODES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("verify-full", |(n, _)| n)
    }

    /// The driver's mode: whether it asks for TLS, and whether it must have it.
    fn driver(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as Driver;
        match self {
            Self::Disable => Driver::Disable,
            Self::Prefer => Driver::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => Driver::Require,
        }
    }
}

/// The TLS parameters taken out of a URL's query, as given.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Params {
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// `url` without its `sslmode` and `sslrootcert` query parameters (which the driver's parser
/// does not know, or knows only in part), and their values. The last of a repeated one wins.
pub(crate) fn take_params(url: &str) -> (String, Params) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), Params::default());
    };
    let mut params = Params::default();
    let mut rest = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = || {
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned()
        };
        match key {
            "sslmode" => params.sslmode = Some(value()),
            "sslrootcert" => params.sslrootcert = Some(value()),
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, params)
}

/// A connection's TLS: its mode and the root certificates it trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tls {
    pub(crate) mode: SslMode,
    /// `sslrootcert`; the system's roots if `None`.
    pub(crate) rootcert: Option<PathBuf>,
}

impl std::fmt::Display for Tls {
    /// `sslmode=verify-full, sslrootcert=PATH` (or `, the system's root certificates`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sslmode={}", self.mode.name())?;
        match (&self.rootcert, self.mode) {
            (_, SslMode::Disable) => Ok(()),
            (Some(path), _) => write!(f, ", sslrootcert={}", path.display()),
            (None, _) => f.write_str(", the system's root certificates"),
        }
    }
}

fn refused(detail: String) -> StoreError {
    StoreError::Postgres {
        location: "the PostgreSQL URL".to_owned(),
        detail,
    }
}

impl Tls {
    /// The TLS of a connection to what `config` names: the URL's `params` first, then
    /// `PGSSLMODE` and `PGSSLROOTCERT` as `env` reads them, then the default for its hosts.
    pub(crate) fn settle(
        params: Params,
        env: impl Fn(&str) -> Option<String>,
        config: &tokio_postgres::Config,
    ) -> Result<Self, StoreError> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let mode = match (params.sslmode, env("PGSSLMODE")) {
            (Some(given), _) => Some(("sslmode", given)),
            (None, Some(given)) => Some(("PGSSLMODE", given)),
            (None, None) => None,
        };
        let mode = match mode {
            Some((from, given)) => MODES
                .iter()
                .find(|(n, _)| *n == given)
                .map(|(_, m)| *m)
                .ok_or_else(|| {
                    refused(format!(
                        "{from} {given:?} is not one of disable, prefer, require, verify-ca, \
                         verify-full"
                    ))
                })?,
            None if loopback(config) => SslMode::Prefer,
            None => SslMode::VerifyFull,
        };
        let rootcert = params
            .sslrootcert
            .or_else(|| env("PGSSLROOTCERT"))
            .map(PathBuf::from);
        Ok(Self { mode, rootcert })
    }

    /// Sets the driver's mode in `config`, and the connector that verifies as this mode says.
    pub(crate) fn apply(
        &self,
        config: &mut tokio_postgres::Config,
    ) -> Result<MakeRustlsConnect, StoreError> {
        config.ssl_mode(self.mode.driver());
        let roots = match self.mode {
            // Never asked for: the driver does not start TLS.
            SslMode::Disable => RootCertStore::empty(),
            _ => self.roots()?,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Verifier {
            roots: Arc::new(roots),
            check_name: self.mode == SslMode::VerifyFull,
            algorithms: provider.signature_verification_algorithms,
        };
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| refused(format!("TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        // What libpq offers, and what PostgreSQL 17 expects of a client that offers any.
        tls.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(MakeRustlsConnect::new(tls))
    }

    /// The root certificates: every certificate in `sslrootcert`, or the system's.
    fn roots(&self) -> Result<RootCertStore, StoreError> {
        let mut roots = RootCertStore::empty();
        let Some(path) = &self.rootcert else {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(refused(
                    "no sslrootcert is given and the system has no root certificates".to_owned(),
                ));
            }
            return Ok(roots);
        };
        let bad = |why: String| refused(format!("sslrootcert {}: {why}", path.display()));
        let pem = std::fs::read(path).map_err(|e| bad(format!("cannot be read ({})", e.kind())))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| bad(format!("not a PEM certificate ({e})")))?;
            roots
                .add(cert)
                .map_err(|e| bad(format!("not a usable CA certificate ({e})")))?;
        }
        if roots.is_empty() {
            return Err(bad("holds no PEM certificate".to_owned()));
        }
        Ok(roots)
    }
}

/// Whether every host `config` names is a loopback one or a Unix socket.
fn loopback(config: &tokio_postgres::Config) -> bool {
    let local = |name: &str| {
        let name = name.trim_start_matches('[').trim_end_matches(']');
        name.eq_ignore_ascii_case("localhost")
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    let hosts = config.get_hosts();
    !hosts.is_empty()
        && hosts.iter().all(|h| match h {
            Host::Tcp(name) => local(name),
            #[cfg(unix)]
            Host::Unix(_) => true,
        })
        && config.get_hostaddrs().iter().all(|a| a.is_loopback())
}

/// Checks the server's certificate chain against the roots, and its name when asked to.
#[derive(Debug)]
struct Verifier {
    roots: Arc<RootCertStore>,
    check_name: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        if self.check_name {
            verify_server_name(&cert, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Why the server's certificate was refused, if that is what ended the connection `e`.
pub(crate) fn refused_certificate(e: &tokio_postgres::Error) -> Option<String> {
    let mut next = e.source();
    while let Some(err) = next {
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|i| i.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(why)) =
            inner.or_else(|| err.downcast_ref::<rustls::Error>())
        {
            return Some(reason(why));
        }
        next = err.source();
    }
    None
}

fn reason(why: &CertificateError) -> String {
    match why {
        CertificateError::UnknownIssuer => {
            "it was not issued by any of the trusted root certificates".to_owned()
        }
        CertificateError::NotValidForName => "it does not name the host".to_owned(),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            // rustls shows each name as `DnsName("db.example")`: the name is what matters.
            let names: Vec<&str> = presented
                .iter()
                .map(|p| {
                    p.split_once("(\"")
                        .and_then(|(_, rest)| rest.strip_suffix("\")"))
                        .unwrap_or(p)
                })
                .collect();
            let names = if names.is_empty() {
                "no host".to_owned()
            } else {
                names.join(", ")
            };
            format!(
                "it does not name the host {} (it names {names})",
                expected.to_str()
            )
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
