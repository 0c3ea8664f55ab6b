//! Server URLs and the percent-encoding of what goes into a path or query.

use std::net::IpAddr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::ApiError;

/// Checks a server URL: `http` or `https`, no credentials, no query or fragment, and plain
/// `http` only to a loopback host. Returns it without a trailing slash.
pub(super) fn base_url(url: &str) -> Result<String, ApiError> {
    let bad = |reason: &str| ApiError::Invalid {
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
pub(super) fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
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
