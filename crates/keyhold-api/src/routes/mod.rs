//! The route table of API v1: what the server serves, the client calls and OpenAPI documents.
//! A route is described here; the table itself is in `table.rs`.

mod table;
mod team;

pub use table::ROUTES;

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
    /// A sentence for the assistant.
    Ask,
    /// Sign in: a session.
    SignIn,
    /// Sign out: end the caller's session.
    SignOut,
    /// The caller's session again: who, where, and its CSRF token.
    CurrentSession,
    /// Redeem an enrolment code: set one's password.
    Redeem,
    /// The workspace's members.
    ListMembers,
    /// Add a member.
    AddMember,
    /// Change a member's role or state.
    UpdateMember,
    /// Remove a member.
    RemoveMember,
    /// Set the workspace's access policy.
    SetPolicy,
    /// Enrol a TOTP second factor.
    EnrolTotp,
}

/// A route of API v1.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The operation.
    pub op: Op,
    /// HTTP method.
    pub method: &'static str,
    /// Path template: each `{param}` is one path segment (`{id}`: a key id or name;
    /// `{name}`: a connection's name; `{slot}`: `primary` or `secondary`; `{email}`: a
    /// member's email).
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
    public(op, "GET", template, summary, response)
}

/// A route anyone may call, without a key (sign-in, enrolment; sign-out goes by its cookie).
const fn public(
    op: Op,
    method: &'static str,
    template: &'static str,
    summary: &'static str,
    response: &'static str,
) -> Route {
    Route {
        op,
        method,
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
    fn only_the_active_credential_and_the_assistant_answer_a_secret() {
        let secret: Vec<Op> = ROUTES.iter().filter(|r| r.secret).map(|r| r.op).collect();
        assert_eq!(
            secret,
            [
                Op::ActiveCredential,
                Op::Ask,
                Op::SignIn,
                Op::CurrentSession,
                Op::AddMember,
                Op::EnrolTotp
            ]
        );
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
