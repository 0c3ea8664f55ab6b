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
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
];

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
