//! The team access routes' helpers for the table: member routes, and their errors.

use super::table::BODY;
use super::{Op, Route, keyed};

/// A route a member's session or any key may call: the facade checks the role or scope.
pub(super) const fn member(
    op: Op,
    method: &'static str,
    template: &'static str,
    summary: &'static str,
    response: &'static str,
) -> Route {
    keyed(op, method, template, "any", summary, response)
}

/// What sessions add to a route's errors.
pub(super) const SESSION: [&str; 2] = ["session_invalid", "csrf_failed"];
pub(super) const SIGN_IN: [&str; 7] = [
    BODY[0],
    BODY[1],
    BODY[2],
    BODY[3],
    "sign_in_failed",
    "sign_in_throttled",
    SESSION[1],
];
pub(super) const REDEEM: [&str; 7] = [
    BODY[0],
    BODY[1],
    BODY[2],
    BODY[3],
    "enrolment_invalid",
    "password_rejected",
    SESSION[1],
];
pub(super) const MEMBERS: [&str; 3] = ["insufficient_role", SESSION[0], SESSION[1]];
pub(super) const MEMBER_CHANGE: [&str; 12] = [
    BODY[0],
    BODY[1],
    BODY[2],
    BODY[3],
    "invalid_input",
    "not_found",
    "conflict",
    "insufficient_role",
    "password_rejected",
    "last_owner",
    SESSION[0],
    SESSION[1],
];
pub(super) const POLICY: [&str; 9] = [
    BODY[0],
    BODY[1],
    BODY[2],
    BODY[3],
    "scope_unknown",
    "scope_malformed",
    "insufficient_role",
    SESSION[0],
    SESSION[1],
];
pub(super) const TOTP: [&str; 8] = [
    BODY[0],
    BODY[1],
    BODY[2],
    BODY[3],
    "sign_in_failed",
    "sign_in_throttled",
    "invalid_input",
    SESSION[1],
];
