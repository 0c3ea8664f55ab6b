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
    /// The workspace's connections.
    ListConnections,
    /// Create a connection.
    CreateConnection,
    /// One connection.
    GetConnection,
    /// Delete a connection.
    DeleteConnection,
    /// Stage a credential the caller made into a slot.
    UpdateCredential,
    /// Test a slot's credential at the target.
    TestCredential,
    /// Promote a slot's tested credential.
    SaveCredential,
    /// Make a new credential for a slot at the target.
    RegenerateCredential,
    /// Rotate a connection: regenerate the slot that is not active, test it, promote it.
    RotateConnection,
    /// The credential to use now.
    ActiveCredential,
}

/// A route of API v1.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The operation.
    pub op: Op,
    /// HTTP method.
    pub method: &'static str,
    /// Path template: each `{param}` is one path segment (`{id}`: a key id or name;
    /// `{name}`: a connection's name; `{slot}`: `primary` or `secondary`).
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
    /// The success carries a secret: it is answered with `Cache-Control: no-store`, and the
    /// OpenAPI document marks it.
    pub secret: bool,
    /// The error codes particular to this route. Besides these, a route with a scope gives
    /// the bearer refusals (`missing_token`, `token_*`, `key_*`, `workspace_*`,
    /// `insufficient_scope`), and any route the store's and the server's failures
    /// (`store_busy`, `internal_error`, ...).
    pub errors: &'static [&'static str],
}

impl Route {
    /// The names of the template's parameters, in path order (`["name", "slot"]` for
    /// `/v1/connections/{name}/slots/{slot}/test`).
    pub fn params(&self) -> impl Iterator<Item = &'static str> {
        self.template
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
    }

    /// The path of this route with its parameters, in path order, replaced by `encoded`,
    /// segments the caller has already percent-encoded. A parameter with no segment given
    /// is left as it is; a template without parameters is returned as it is.
    pub fn path(&self, encoded: &[&str]) -> String {
        let mut given = encoded.iter();
        self.template
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') && seg.ends_with('}') {
                    given.next().copied().unwrap_or(seg)
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/")
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
        secret: false,
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
        secret: false,
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

/// A route whose success carries a secret.
const fn secret(route: Route) -> Route {
    Route {
        secret: true,
        ..route
    }
}

/// What a body that does not parse gives.
const BODY: [&str; 4] = [
    "invalid_json",
    "body_too_large",
    "request_timeout",
    "bad_request",
];

/// The path's `{slot}` is not a slot, or no connection has that `{name}`.
const SLOT: [&str; 2] = ["connection_not_found", "invalid_slot"];

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
    keyed(
        Op::ListConnections,
        "GET",
        "/v1/connections",
        "connections:read",
        "The workspace's connections (never a credential).",
        "ConnectionList",
    ),
    with_body(
        keyed(
            Op::CreateConnection,
            "POST",
            "/v1/connections",
            "connections:write",
            "Create a connection: its target's settings and its slots' logins.",
            "Connection (201)",
        ),
        "CreateConnection",
        &[
            BODY[0],
            BODY[1],
            BODY[2],
            BODY[3],
            "invalid_input",
            "invalid_connection",
            "connection_exists",
        ],
    ),
    with_errors(
        keyed(
            Op::GetConnection,
            "GET",
            "/v1/connections/{name}",
            "connections:read",
            "One connection, by name (never a credential).",
            "Connection",
        ),
        &["connection_not_found", "rotation_state_inconsistent"],
    ),
    with_errors(
        keyed(
            Op::DeleteConnection,
            "DELETE",
            "/v1/connections/{name}",
            "connections:write",
            "Delete a connection and its stored credentials (the target's logins are left as they are).",
            "Connection",
        ),
        &["connection_not_found", "rotation_in_progress"],
    ),
    with_body(
        keyed(
            Op::UpdateCredential,
            "PUT",
            "/v1/connections/{name}/slots/{slot}/credential",
            "connections:write",
            "Stage a credential you made into a slot that is not active; it must pass a test before it can be saved.",
            "Connection",
        ),
        "UpdateCredential",
        &[
            BODY[0],
            BODY[1],
            BODY[2],
            BODY[3],
            SLOT[0],
            SLOT[1],
            "invalid_input",
            "rotation_slot_active",
            "rotation_grace_period",
            "rotation_in_progress",
            "rotation_state_inconsistent",
        ],
    ),
    with_errors(
        keyed(
            Op::TestCredential,
            "POST",
            "/v1/connections/{name}/slots/{slot}/test",
            "connections:write",
            "Test a slot's staged credential at the target and record the verdict.",
            "TestOutcome",
        ),
        &[
            SLOT[0],
            SLOT[1],
            "connection_untestable",
            "rotation_slot_active",
            "rotation_in_progress",
            "rotation_not_staged",
            "rotation_version_mismatch",
            "rotation_state_inconsistent",
        ],
    ),
    with_body(
        keyed(
            Op::SaveCredential,
            "POST",
            "/v1/connections/{name}/slots/{slot}/save",
            "connections:write",
            "Promote a slot's tested credential: it becomes active, the one that was active the standby for the grace period.",
            "Connection",
        ),
        "SaveCredential",
        &[
            BODY[0],
            BODY[1],
            BODY[2],
            BODY[3],
            SLOT[0],
            SLOT[1],
            "acknowledgement_required",
            "rotation_slot_active",
            "rotation_in_progress",
            "rotation_not_tested",
            "rotation_version_mismatch",
            "rotation_state_inconsistent",
        ],
    ),
    with_errors(
        keyed(
            Op::RegenerateCredential,
            "POST",
            "/v1/connections/{name}/slots/{slot}/regenerate",
            "connections:rotate",
            "Make a new credential for a slot that is not active and set it at the target; it is staged for its test.",
            "Connection",
        ),
        &[
            SLOT[0],
            SLOT[1],
            "regeneration_unsupported",
            "target_unreachable",
            "target_refused",
            "rotation_slot_active",
            "rotation_grace_period",
            "rotation_in_progress",
            "rotation_version_mismatch",
            "rotation_state_inconsistent",
        ],
    ),
    with_body(
        keyed(
            Op::RotateConnection,
            "POST",
            "/v1/connections/{name}/rotate",
            "connections:rotate",
            "Rotate: regenerate the slot that is not active, test it and, if it passes, promote it (resumes a rotation that was interrupted).",
            "TestOutcome",
        ),
        "Rotate",
        &[
            BODY[0],
            BODY[1],
            BODY[2],
            BODY[3],
            "connection_not_found",
            "regeneration_unsupported",
            "target_unreachable",
            "target_refused",
            "rotation_no_active_slot",
            "rotation_grace_period",
            "rotation_in_progress",
            "rotation_version_mismatch",
            "rotation_state_inconsistent",
        ],
    ),
    secret(with_errors(
        keyed(
            Op::ActiveCredential,
            "GET",
            "/v1/connections/{name}/credential",
            "connections:use",
            "The credential to use now, with what is needed to use it; answered with Cache-Control: no-store.",
            "ActiveCredential",
        ),
        &[
            "connection_not_found",
            "rotation_no_active_slot",
            "rotation_state_inconsistent",
        ],
    )),
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
        assert_eq!(Op::GetKey.route().path(&["a%2Fb"]), "/v1/keys/a%2Fb");
        assert_eq!(Op::ListKeys.route().path(&[]), "/v1/keys");
        let test = Op::TestCredential.route();
        assert_eq!(test.params().collect::<Vec<_>>(), ["name", "slot"]);
        assert_eq!(
            test.path(&["orders-db", "primary"]),
            "/v1/connections/orders-db/slots/primary/test"
        );
        assert_eq!(
            test.path(&["orders-db"]),
            "/v1/connections/orders-db/slots/{slot}/test"
        );
        assert_eq!(Op::RevokeKey.route().params().collect::<Vec<_>>(), ["id"]);
        assert_eq!(Op::ListConnections.route().params().count(), 0);
    }

    #[test]
    fn only_the_active_credential_route_answers_a_secret() {
        let secret: Vec<Op> = ROUTES.iter().filter(|r| r.secret).map(|r| r.op).collect();
        assert_eq!(secret, [Op::ActiveCredential]);
        let r = Op::ActiveCredential.route();
        assert_eq!((r.method, r.scope), ("GET", Some("connections:use")));
        // No connection route takes a secret in its path or query: only in a body.
        for r in ROUTES
            .iter()
            .filter(|r| r.template.starts_with("/v1/connections"))
        {
            assert!(
                r.params().all(|p| p == "name" || p == "slot"),
                "{}",
                r.template
            );
        }
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
