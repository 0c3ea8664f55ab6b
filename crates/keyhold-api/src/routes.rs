//! The route table of API v1: what the server serves, the client calls and OpenAPI documents.

/// What a route does: the operation the server runs for it (its OpenAPI `operationId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Liveness.
    Health,
    /// The store's public signing keys.
    Jwks,
    /// The OpenAPI document.
    OpenApi,
    /// Prometheus metrics.
    Metrics,
    /// The caller's identity.
    WhoAmI,
    /// Token introspection.
    VerifyToken,
    /// The workspace's keys.
    ListKeys,
    /// Mint a key.
    MintKey,
    /// Revoke every key of the workspace.
    RevokeAllKeys,
    /// One key.
    GetKey,
    /// Revoke one key.
    RevokeKey,
    /// Rotate the signing key.
    RotateSigningKey,
    /// Audit records of the workspace.
    ListAudit,
    /// Verify the audit chain.
    VerifyAudit,
}

/// A route of API v1.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The operation.
    pub op: Op,
    /// HTTP method.
    pub method: &'static str,
    /// Path template (`{id}` is a key id or name, one path segment).
    pub template: &'static str,
    /// Scope the bearer key needs (`any`: any valid key); `None`: no authentication.
    pub scope: Option<&'static str>,
    /// Store-wide: besides the scope, the key must belong to the store's home workspace.
    pub home_only: bool,
    /// One line for the OpenAPI document.
    pub summary: &'static str,
    /// The request body ([`crate::MintBody`], [`crate::VerifyBody`]), if the route takes one.
    pub request: Option<&'static str>,
    /// What a success carries.
    pub response: &'static str,
    /// The error codes particular to this route. Besides these, a route with a scope gives
    /// the bearer refusals (`missing_token`, `token_*`, `key_*`, `workspace_*`,
    /// `insufficient_scope`), and any route the store's and the server's failures
    /// (`store_busy`, `internal_error`, ...).
    pub errors: &'static [&'static str],
}

impl Route {
    /// The path of this route for key `id`, which the caller has already percent-encoded as a
    /// path segment; a template without `{id}` is returned as it is.
    pub fn path(&self, encoded_id: &str) -> String {
        self.template.replace("{id}", encoded_id)
    }
}

const fn open(
    op: Op,
    template: &'static str,
    summary: &'static str,
    response: &'static str,
) -> Route {
    Route {
        op,
        method: "GET",
        template,
        scope: None,
        home_only: false,
        summary,
        request: None,
        response,
        errors: &[],
    }
}

const fn keyed(
    op: Op,
    method: &'static str,
    template: &'static str,
    scope: &'static str,
    summary: &'static str,
    response: &'static str,
) -> Route {
    Route {
        op,
        method,
        template,
        scope: Some(scope),
        home_only: false,
        summary,
        request: None,
        response,
        errors: &[],
    }
}

/// A route for the store's administrators only: `admin` keys of the home workspace.
const fn store_admin(
    op: Op,
    method: &'static str,
    template: &'static str,
    summary: &'static str,
    response: &'static str,
) -> Route {
    Route {
        home_only: true,
        ..keyed(op, method, template, "admin", summary, response)
    }
}

const fn with_body(route: Route, request: &'static str, errors: &'static [&'static str]) -> Route {
    Route {
        request: Some(request),
        errors,
        ..route
    }
}

const fn with_errors(route: Route, errors: &'static [&'static str]) -> Route {
    Route { errors, ..route }
}

/// Every route of API v1, in the order OpenAPI lists them. The server serves exactly these
/// (any other method on one of these paths is refused), and a test checks both directions.
pub const ROUTES: &[Route] = &[
    open(Op::Health, "/healthz", "Liveness.", "{\"status\":\"ok\"}"),
    open(
        Op::Jwks,
        "/.well-known/jwks.json",
        "Public keys that verify this store's tokens (RFC 7517).",
        "Jwks",
    ),
    open(
        Op::OpenApi,
        "/v1/openapi.json",
        "This document.",
        "OpenAPI 3.1",
    ),
    store_admin(
        Op::Metrics,
        "GET",
        "/metrics",
        "Prometheus metrics of the whole server (an admin key of the home workspace only).",
        "text/plain; version=0.0.4",
    ),
    keyed(
        Op::WhoAmI,
        "GET",
        "/v1/whoami",
        "any",
        "The caller's identity, workspace and scopes.",
        "Principal",
    ),
    with_body(
        keyed(
            Op::VerifyToken,
            "POST",
            "/v1/tokens/verify",
            "keys:read",
            "Introspect a token: valid and its claims, or why not.",
            "Verdict",
        ),
        "VerifyBody",
        &[
            "invalid_json",
            "body_too_large",
            "request_timeout",
            "bad_request",
            "scope_unknown",
            "scope_malformed",
        ],
    ),
    keyed(
        Op::ListKeys,
        "GET",
        "/v1/keys",
        "keys:read",
        "The workspace's API keys (never a token).",
        "KeyList",
    ),
    with_body(
        keyed(
            Op::MintKey,
            "POST",
            "/v1/keys",
            "keys:write",
            "Mint an API key; the token is in this response only.",
            "Minted (201)",
        ),
        "MintBody",
        &[
            "invalid_json",
            "body_too_large",
            "request_timeout",
            "bad_request",
            "invalid_expiry",
            "scope_unknown",
            "scope_malformed",
            "scope_escalation",
            "claim_out_of_range",
            "invalid_input",
            "conflict",
        ],
    ),
    keyed(
        Op::RevokeAllKeys,
        "POST",
        "/v1/keys/revoke-all",
        "keys:revoke",
        "Revoke every key of the workspace at once.",
        "RevokeAll",
    ),
    with_errors(
        keyed(
            Op::GetKey,
            "GET",
            "/v1/keys/{id}",
            "keys:read",
            "One key, by id or name.",
            "ApiKey",
        ),
        &["not_found"],
    ),
    with_errors(
        keyed(
            Op::RevokeKey,
            "POST",
            "/v1/keys/{id}/revoke",
            "keys:revoke",
            "Revoke one key.",
            "ApiKey",
        ),
        &["not_found"],
    ),
    store_admin(
        Op::RotateSigningKey,
        "POST",
        "/v1/signing-keys/rotate",
        "Rotate the signing key (an admin key of the home workspace only).",
        "SigningKeyRotation",
    ),
    with_errors(
        keyed(
            Op::ListAudit,
            "GET",
            "/v1/audit",
            "audit:read",
            "Audit records of the key's own workspace (query: action, key, actor, since_ms, limit).",
            "Records",
        ),
        &["invalid_input"],
    ),
    store_admin(
        Op::VerifyAudit,
        "POST",
        "/v1/audit/verify",
        "Recompute the audit hash chain of the whole store (an admin key of the home workspace only).",
        "AuditVerification",
    ),
];

impl Op {
    /// This operation's route ([`ROUTES`] lists them in the order of this enum).
    pub fn route(self) -> &'static Route {
        &ROUTES[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_has_exactly_one_route() {
        for (i, r) in ROUTES.iter().enumerate() {
            assert_eq!(r.op as usize, i, "{:?} is out of place", r.op);
            assert_eq!(r.op.route().template, r.template);
        }
        assert_eq!(Op::GetKey.route().path("a%2Fb"), "/v1/keys/a%2Fb");
    }

    #[test]
    fn every_route_error_is_a_documented_code() {
        for r in ROUTES {
            for code in r.errors {
                assert!(
                    crate::lookup(code).is_some(),
                    "{} gives unknown {code}",
                    r.template
                );
            }
        }
    }
}
