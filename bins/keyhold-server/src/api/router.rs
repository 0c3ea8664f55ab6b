//! Resolves a request's method and path to a route of API v1, with `matchit`.

use hyper::{Method, StatusCode};
use keyhold::api::{ROUTES, Route};

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

    /// The route of `method` on `path`, with the key id the path names (empty if none):
    /// `not_found` for a path no route has, `method_not_allowed` for another method.
    pub fn resolve(
        &self,
        method: &Method,
        path: &str,
    ) -> Result<(&'static Route, String), Failure> {
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
        let id = matched.params.get("id").unwrap_or_default().to_owned();
        Ok((route, id))
    }
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
        let Ok((route, id)) = r.resolve(&Method::POST, "/v1/keys/a%2Fb/revoke") else {
            panic!("a key's revoke route");
        };
        assert_eq!(
            (route.template, id.as_str()),
            ("/v1/keys/{id}/revoke", "a%2Fb")
        );
        assert!(r.resolve(&Method::GET, "/v1/keys/revoke-all").is_err());
    }
}
