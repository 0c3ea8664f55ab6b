//! The bodies of team access: members of a workspace, enrolment, sign-in and sessions, and a
//! workspace's access policy. Passwords, TOTP codes and enrolment codes travel in bodies only,
//! as [`Secret`]s; a session's token travels in a cookie, never in a body or a URL.

use serde::{Deserialize, Serialize};

use crate::Secret;

/// A member of a workspace (never a password, a code or a session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Unix seconds.
    pub created_at: i64,
    /// Who added them.
    pub created_by: String,
    /// How they are shown.
    pub display_name: String,
    /// Their email: the identity, and the `sub` of the keys they create.
    pub email: String,
    /// Whether they enrolled a TOTP second factor.
    pub has_totp: bool,
    /// Unix seconds of their last sign-in, in any workspace.
    pub last_sign_in: Option<i64>,
    /// `owner`, `admin`, `developer` or `viewer`.
    pub role: String,
    /// `invited` (no password yet), `active` or `disabled`.
    pub state: String,
    /// Workspace id.
    pub workspace: String,
}

/// `POST /v1/members`: add a person to the caller's workspace.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// Their email.
    pub email: String,
    /// Their role.
    pub role: String,
    /// How they are shown (default: the email's local part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Set their password now (automation) instead of handing out an enrolment code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
}

/// The answer to adding a member: the member and, when no password was given, the one-time
/// enrolment code (shown once, valid 24 hours).
#[derive(Debug, Serialize, Deserialize)]
pub struct Added {
    /// The enrolment code, if one was issued.
    pub enrolment: Option<Enrolment>,
    /// The member.
    pub member: Member,
}

/// A one-time enrolment code.
#[derive(Debug, Serialize, Deserialize)]
pub struct Enrolment {
    /// The code (shown once).
    pub code: Secret,
    /// Unix seconds after which it enrols nobody.
    pub expires_at: i64,
}

/// `POST /v1/enrolments`: redeem an enrolment code to set one's password (and optionally
/// enrol a TOTP factor later).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redeem {
    /// The code.
    pub code: Secret,
    /// The new password.
    pub password: Secret,
}

/// `POST /v1/sessions`: sign in.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The person's email.
    pub email: String,
    /// Their password.
    pub password: Secret,
    /// A TOTP code, when the person enrolled one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<Secret>,
    /// The workspace (id or name) to sign in to, if the person belongs to several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
}

/// The name of the session cookie: under TLS with the `__Host-` prefix, which browsers accept
/// only from a secure origin, host-only and for the whole path (so no sibling site can plant
/// one of its own); over plain HTTP (loopback) the plain name.
pub fn session_cookie(tls: bool) -> &'static str {
    if tls {
        "__Host-keyhold_session"
    } else {
        "keyhold_session"
    }
}

/// The answer to a sign-in and to `GET /v1/sessions/current`: who, where, and the CSRF token
/// state-changing requests must send as `X-CSRF-Token`. (The session itself is in the cookie.)
#[derive(Debug, Serialize, Deserialize)]
pub struct Session {
    /// Send as `X-CSRF-Token` with every request that changes something.
    pub csrf: Secret,
    /// The person.
    pub email: String,
    /// Unix seconds at which the session ends, whatever happens.
    pub expires_at: i64,
    /// Minutes without a request after which it ends.
    pub idle_minutes: i64,
    /// Their role in the workspace.
    pub role: String,
    /// Workspace id.
    pub workspace: String,
    /// The workspace's name.
    #[serde(default)]
    pub workspace_name: String,
    /// Every workspace the person is an active member of, with their role there (signing in
    /// to another one is how a session changes workspace).
    #[serde(default)]
    pub workspaces: Vec<WorkspaceRole>,
}

/// A workspace a person belongs to, and their role in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceRole {
    /// The workspace's name.
    pub name: String,
    /// Their role there.
    pub role: String,
    /// Workspace id.
    pub workspace: String,
}

/// `POST /v1/totp`: enrol a TOTP second factor, proving who one is with one's password (no
/// session is needed: a workspace that requires a factor admits nobody without one). Without
/// `code` the answer is a new secret to put in an authenticator app; sent again with the app's
/// first `code`, the factor is enrolled and every later sign-in needs a code.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpEnrol {
    /// The person's email.
    pub email: String,
    /// Their password.
    pub password: Secret,
    /// The authenticator's current code, to confirm the secret it was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Secret>,
}

/// A TOTP secret to enrol (shown once): for an authenticator app, as a URI (often shown as a
/// QR code) and as base32 text.
#[derive(Debug, Serialize, Deserialize)]
pub struct TotpSecret {
    /// `otpauth://totp/…`.
    pub otpauth_uri: Secret,
    /// The secret in base32.
    pub secret: Secret,
}

/// A workspace's access policy (`PUT /v1/policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The scopes developers may give the keys they create.
    pub developer_scopes: Vec<String>,
    /// Whether every member must sign in with a TOTP code.
    pub require_totp: bool,
}

/// `PATCH /v1/members/{email}`: a member's new role and/or state.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    /// The new role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `active` or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// The answer to `GET /v1/members`.
#[derive(Debug, Serialize, Deserialize)]
pub struct MemberList {
    /// The workspace's members, by email.
    pub members: Vec<Member>,
}
