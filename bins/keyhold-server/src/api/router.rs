//! Resolves a request's method and path to a route of API v1, with `matchit`.

use hyper::{Method, StatusCode};
use keyhold::api::{ROUTES, Route, SlotName};

use super::reply::{Failure, http};

/// The paths of [`ROUTES`], built once at start-up; resolving a path allocates nothing but
/// the key id it captures.
pub struct Router {
    paths: matchit::Router<&'static str>,
}

impl Router {
    /// The router of every template in [`ROUTES`].
    pub fn new() -> Result<Self, matchit::InsertError> {
        let mut paths = matchit::Router::new();
        for (i, route) in ROUTES.iter().enumerate() {
            // A template shared by several methods is inserted once.
            if ROUTES[..i].iter().all(|r| r.template != route.template) {
                paths.insert(route.template, route.template)?;
            }
        }
        Ok(Self { paths })
    }

    /// The template `path` matches, if any (trailing slashes do not count).
    pub fn template(&self, path: &str) -> Option<&'static str> {
        self.paths
            .at(path.trim_end_matches('/'))
            .ok()
            .map(|m| *m.value)
    }

    /// The route of `method` on `path`, with the parameters the path names: `not_found` for
    /// a path no route has, `method_not_allowed` for another method, `invalid_slot` for a
    /// slot that is neither `primary` nor `secondary`.
    pub fn resolve(
        &self,
        method: &Method,
        path: &str,
    ) -> Result<(&'static Route, PathParams), Failure> {
        let matched = self.paths.at(path.trim_end_matches('/')).map_err(|_| {
            http(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such route (see /v1/openapi.json)",
            )
        })?;
        let template = *matched.value;
        let same_path = || ROUTES.iter().filter(move |r| r.template == template);
        let Some(route) = same_path().find(|r| r.method == method.as_str()) else {
            let allowed: Vec<&str> = same_path().map(|r| r.method).collect();
            return Err(http(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("use {}", allowed.join(", ")),
            ));
        };
        let get = |name| matched.params.get(name).unwrap_or_default().to_owned();
        let slot = match matched.params.get("slot") {
            None => None,
            Some(s) => Some(SlotName::parse(s).ok_or_else(|| {
                http(
                    StatusCode::BAD_REQUEST,
                    "invalid_slot",
                    "a slot is `primary` or `secondary`",
                )
            })?),
        };
        let email = decoded(&get("email")).ok_or_else(|| {
            http(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the path's email is not valid percent-encoded UTF-8",
            )
        })?;
        let params = PathParams {
            id: get("id"),
            name: get("name"),
            email,
            slot,
        };
        Ok((route, params))
    }
}

/// A path segment with its percent-escapes decoded (`ann%40team.com` → `ann@team.com`).
fn decoded(segment: &str) -> Option<String> {
    let mut out = Vec::with_capacity(segment.len());
    let mut bytes = segment.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// What a path names: a key (`id`), a connection (`name`) and its `slot`, as captured (still
/// percent-encoded; empty where the template has none), and a member (`email`, decoded).
#[derive(Debug, Default)]
pub struct PathParams {
    /// A key's id or name.
    pub id: String,
    /// A connection's name.
    pub name: String,
    /// A member's email.
    pub email: String,
    /// A connection's slot.
    pub slot: Option<SlotName>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn paths_resolve_to_their_templates() {
        let r = Router::new().unwrap();
        let cases = [
            ("/healthz", Some("/healthz")),
            ("/healthz/", Some("/healthz")),
            ("/v1/keys", Some("/v1/keys")),
            ("/v1/keys/revoke-all", Some("/v1/keys/revoke-all")),
            ("/v1/keys/key_1", Some("/v1/keys/{id}")),
            ("/v1/keys/key_1/revoke", Some("/v1/keys/{id}/revoke")),
            ("/v1/keys/a/b/c", None),
            ("/v1", None),
            ("/", None),
            ("", None),
        ];
        for (path, template) in cases {
            assert_eq!(r.template(path), template, "{path}");
        }
        let Ok((route, p)) = r.resolve(&Method::POST, "/v1/keys/a%2Fb/revoke") else {
            panic!("a key's revoke route");
        };
        assert_eq!(
            (route.template, p.id.as_str()),
            ("/v1/keys/{id}/revoke", "a%2Fb")
        );
        assert!(r.resolve(&Method::GET, "/v1/keys/revoke-all").is_err());
        let path = "/v1/connections/orders/slots/secondary/test";
        let Ok((route, p)) = r.resolve(&Method::POST, path) else {
            panic!("a slot's test route");
        };
        assert_eq!(route.template, "/v1/connections/{name}/slots/{slot}/test");
        assert_eq!(
            (p.name.as_str(), p.slot),
            ("orders", Some(SlotName::Secondary))
        );
        let Err(bad) = r.resolve(&Method::POST, "/v1/connections/orders/slots/third/test") else {
            panic!("a third slot");
        };
        assert_eq!(bad.code(), "invalid_slot");
    }
}
