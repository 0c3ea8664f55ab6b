//! The web portal: plain HTML, CSS and JavaScript modules, embedded in the binary (it works
//! offline and needs no build step) and served at `/` and `/portal/…`. The pages call API v1
//! like any client, as the signed-in member's session: the portal has no authority of its
//! own, so there is no second authorization path.

/// A file of the portal.
pub struct Asset {
    /// The path it is served at.
    pub path: &'static str,
    /// Its media type.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($path:literal, $file:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/portal/", $file)),
        }
    };
}

/// Every file of the portal (a test checks that the `portal/` directory holds no other).
pub const ASSETS: &[Asset] = &[
    asset!("/", "index.html", HTML),
    asset!("/portal/api.js", "api.js", JS),
    asset!("/portal/apikeys.js", "apikeys.js", JS),
    asset!("/portal/app.js", "app.js", JS),
    asset!("/portal/audit.js", "audit.js", JS),
    asset!("/portal/azi.js", "azi.js", JS),
    asset!("/portal/catalog.js", "catalog.js", JS),
    asset!("/portal/connections.js", "connections.js", JS),
    asset!("/portal/credentials.js", "credentials.js", JS),
    asset!("/portal/dialog.js", "dialog.js", JS),
    asset!("/portal/dom.js", "dom.js", JS),
    asset!("/portal/enrol.js", "enrol.js", JS),
    asset!("/portal/favicon.svg", "favicon.svg", SVG),
    asset!("/portal/keys.js", "keys.js", JS),
    asset!("/portal/members.js", "members.js", JS),
    asset!("/portal/portal.css", "portal.css", CSS),
    asset!("/portal/secret.js", "secret.js", JS),
    asset!("/portal/session.js", "session.js", JS),
    asset!("/portal/signin.js", "signin.js", JS),
];

/// The portal's file at `path`, if it is one (`/index.html` is `/`).
pub fn asset(path: &str) -> Option<&'static Asset> {
    let path = if path == "/index.html" { "/" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

/// The portal's file a request asks for, if it is a read of one.
pub fn file(method: &hyper::Method, uri: &hyper::Uri) -> Option<&'static Asset> {
    let reads = matches!(*method, hyper::Method::GET | hyper::Method::HEAD);
    asset(uri.path()).filter(|_| reads)
}

/// What every response carries so that a browser treats it strictly: no script, style,
/// frame or connection but the server's own, no framing by another site, no referrer sent
/// anywhere, and no guessing of media types.
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// The origins browsers may reach the server at: those given with `--public-origin`, or,
/// for a server on a loopback address, any loopback host name (`127.0.0.1`, `[::1]`,
/// `localhost`, `*.localhost`). A request naming another host is refused before anything
/// else, so a page whose own DNS name was pointed at this machine (DNS rebinding) reaches
/// nothing. A server on another address without `--public-origin` answers every host name.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// `scheme://host[:port]`, as given.
    pub public: Vec<String>,
    /// Whether the server listens on a loopback address.
    pub loopback: bool,
}

impl Origins {
    /// Whether a request with this `Host` header is for this server (a request without one
    /// comes from no browser).
    pub fn serves(&self, host: Option<&hyper::header::HeaderValue>) -> bool {
        let Some(host) = host.map(|h| h.to_str().unwrap_or("\u{0}")) else {
            return true;
        };
        if !self.public.is_empty() {
            return self.public.iter().any(|o| {
                o.split_once("://")
                    .is_some_and(|(_, h)| h.eq_ignore_ascii_case(host))
            });
        }
        if !self.loopback {
            return true;
        }
        let name = match host.rsplit_once(':') {
            Some((n, port)) if port.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => host,
        };
        let name = name.to_ascii_lowercase();
        name == "127.0.0.1"
            || name == "[::1]"
            || name == "localhost"
            || name.ends_with(".localhost")
    }
}

/// An origin given with `--public-origin`: `http(s)://host[:port]`, nothing after it.
pub fn public_origin(text: &str) -> Result<String, String> {
    let bad = || format!("{text:?} is not an origin: give it as https://HOST[:PORT]");
    let (scheme, host) = text.split_once("://").ok_or_else(bad)?;
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !(scheme == "https" || scheme == "http") || !host_ok {
        return Err(bad());
    }
    Ok(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::expect_used)]
    fn every_file_of_the_portal_directory_is_served_and_no_other() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("portal");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("portal/")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut served: Vec<String> = ASSETS
            .iter()
            .map(|a| match a.path {
                "/" => "index.html".to_owned(),
                p => p.trim_start_matches("/portal/").to_owned(),
            })
            .collect();
        served.sort();
        assert_eq!(files, served);
        for a in ASSETS {
            let text = std::str::from_utf8(a.body).expect("utf-8");
            let expected = if a.path == "/" {
                HTML
            } else if a.path.ends_with(".css") {
                CSS
            } else if a.path.ends_with(".svg") {
                SVG
            } else {
                JS
            };
            assert_eq!(a.content_type, expected, "{}", a.path);
            // The policy allows no inline script or style: none may be written.
            for inline in [
                "<style",
                " style=",
                "onclick=",
                "onload=",
                "onsubmit=",
                "javascript:",
                "eval(",
            ] {
                assert!(!text.contains(inline), "{} holds {inline}", a.path);
            }
        }
        assert!(asset("/index.html").is_some_and(|a| a.path == "/"));
        assert!(asset("/portal/../Cargo.toml").is_none());
    }

    #[test]
    fn a_loopback_server_answers_loopback_names_only_unless_told_its_origins() {
        let host = |h: &'static str| Some(hyper::header::HeaderValue::from_static(h));
        let local = Origins {
            public: Vec::new(),
            loopback: true,
        };
        for ok in [
            "127.0.0.1:8200",
            "localhost",
            "LOCALHOST:1",
            "kh.localhost:8200",
            "[::1]:8200",
        ] {
            assert!(local.serves(host(ok).as_ref()), "{ok}");
        }
        for bad in [
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8200",
            "10.0.0.1:8200",
        ] {
            assert!(!local.serves(host(bad).as_ref()), "{bad}");
        }
        assert!(local.serves(None), "no Host: no browser");
        let public = Origins {
            public: vec![public_origin("https://Keyhold.Example.com").unwrap_or_default()],
            loopback: true,
        };
        assert!(public.serves(host("keyhold.example.com").as_ref()));
        assert!(!public.serves(host("127.0.0.1:8200").as_ref()));
        assert!(public_origin("keyhold.example.com").is_err());
        assert!(public_origin("https://a.example/path").is_err());
        assert!(public_origin("ftp://a.example").is_err());
    }

    /// The presets and the scope catalog the pages offer are the server's own.
    #[test]
    #[allow(clippy::expect_used)]
    fn the_pages_offer_the_servers_presets_and_scopes() {
        let catalog = asset("/portal/catalog.js").expect("catalog.js");
        let text = std::str::from_utf8(catalog.body).expect("utf-8");
        let list = |name: &str| -> Vec<String> {
            let start = text.find(&format!("export const {name} = [")).expect(name);
            let rest = &text[start..];
            let body = &rest[..rest.find("];").expect("end of the list")];
            body.split('"')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect()
        };
        let scopes: Vec<&str> = keyhold::Scope::all().iter().map(|s| s.as_str()).collect();
        assert_eq!(list("SCOPES"), scopes);
        let presets: Vec<Vec<String>> = list("PRESETS").chunks(3).map(<[String]>::to_vec).collect();
        let served: Vec<Vec<String>> = keyhold::ExpiryPreset::all()
            .iter()
            .map(|p| vec![p.as_str().into(), p.label().into(), p.good_for().into()])
            .collect();
        assert_eq!(presets, served);
    }
}
