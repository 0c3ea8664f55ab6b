//! The error codes of API v1: each with its HTTP status and the CLI's exit status.

/// One documented error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    /// The stable `snake_case` code: the `code` of the error envelope.
    pub code: &'static str,
    /// The HTTP status a response with this code has.
    pub status: u16,
    /// The exit status of the `keyhold` CLI for this code (docs/cli.md).
    pub exit: u8,
}

const fn row(code: &'static str, status: u16, exit: u8) -> ErrorCode {
    ErrorCode { code, status, exit }
}

/// Every documented error code: the table of `docs/auth-and-tokens.md`, which a test keeps
/// equal to this one, with the exit statuses `docs/cli.md` describes.
pub const CODES: &[ErrorCode] = &[
    row("token_malformed", 401, 8),
    row("token_crit_unsupported", 401, 8),
    row("token_wrong_type", 401, 8),
    row("token_alg_not_allowed", 401, 8),
    row("token_unknown_kid", 401, 8),
    row("token_bad_signature", 401, 8),
    row("token_invalid_claims", 401, 8),
    row("token_wrong_issuer", 401, 8),
    row("token_expired", 401, 8),
    row("token_not_yet_valid", 401, 8),
    row("token_issued_in_future", 401, 8),
    row("workspace_mismatch", 401, 8),
    row("workspace_unknown", 401, 8),
    row("key_unknown", 401, 8),
    row("key_revoked", 401, 8),
    row("key_revoked_all", 401, 8),
    row("insufficient_scope", 403, 9),
    row("scope_escalation", 403, 9),
    row("scope_malformed", 400, 2),
    row("scope_unknown", 400, 2),
    row("invalid_expiry", 400, 2),
    row("claim_out_of_range", 400, 2),
    row("missing_token", 401, 8),
    row("invalid_json", 400, 2),
    row("body_too_large", 413, 1),
    row("request_timeout", 408, 1),
    row("bad_request", 400, 2),
    row("method_not_allowed", 405, 1),
    row("misdirected_request", 421, 1),
    row("invalid_input", 400, 2),
    row("not_found", 404, 3),
    row("not_initialized", 500, 3),
    row("conflict", 409, 4),
    row("already_initialized", 409, 4),
    row("wrong_master_key", 500, 5),
    row("master_key_invalid", 400, 5),
    row("master_key_unavailable", 500, 5),
    row("integrity_error", 500, 6),
    row("store_corrupt", 500, 6),
    row("store_version_unsupported", 500, 6),
    row("store_busy", 503, 7),
    row("store_error", 500, 1),
    row("io_error", 500, 1),
    row("internal_error", 500, 1),
    row("invalid_key", 500, 1),
    row("rng_failed", 500, 1),
    row("signing_failed", 500, 1),
    row("server_error", 502, 1),
    row("connection_not_found", 404, 3),
    row("connection_exists", 409, 4),
    row("invalid_connection", 400, 2),
    row("invalid_slot", 400, 2),
    row("connection_untestable", 409, 4),
    row("acknowledgement_required", 409, 4),
    row("regeneration_unsupported", 409, 4),
    row("target_unreachable", 502, 1),
    row("target_refused", 502, 1),
    row("credential_rejected", 422, 1),
    row("rotation_slot_active", 409, 4),
    row("rotation_grace_period", 409, 4),
    row("rotation_in_progress", 409, 4),
    row("rotation_version_mismatch", 409, 4),
    row("rotation_not_staged", 409, 4),
    row("rotation_not_tested", 409, 4),
    row("rotation_no_active_slot", 409, 4),
    row("rotation_state_inconsistent", 500, 6),
    row("confirmation_invalid", 409, 4),
    row("insufficient_role", 403, 9),
    row("sign_in_failed", 401, 8),
    row("sign_in_throttled", 429, 7),
    row("password_rejected", 400, 2),
    row("session_invalid", 401, 8),
    row("enrolment_invalid", 400, 2),
    row("last_owner", 409, 4),
    row("csrf_failed", 403, 9),
];

/// The documented code `code`, if it is one.
pub fn lookup(code: &str) -> Option<&'static ErrorCode> {
    CODES.iter().find(|c| c.code == code)
}

/// The HTTP status of `code`; 500 for a code this table does not know.
pub fn http_status(code: &str) -> u16 {
    lookup(code).map_or(500, |c| c.status)
}

/// The CLI exit status of `code`; 1 (a failure with no status of its own) for a code this
/// table does not know.
pub fn exit_status(code: &str) -> u8 {
    lookup(code).map_or(1, |c| c.exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        for (i, c) in CODES.iter().enumerate() {
            assert!(
                CODES[..i].iter().all(|d| d.code != c.code),
                "{} twice",
                c.code
            );
            assert!((400..600).contains(&c.status), "{}", c.code);
            assert!(c.exit != 0, "{}", c.code);
        }
        assert_eq!(
            (http_status("key_revoked"), exit_status("key_revoked")),
            (401, 8)
        );
        // The connection codes: a state refusal is a conflict (exit 4, like `conflict`),
        // bad settings are input (2), the target's failures are a gateway's (502, exit 1),
        // and stored rotation state no transition makes is an integrity failure (6).
        for (code, status, exit) in [
            ("connection_not_found", 404, 3),
            ("connection_exists", 409, 4),
            ("invalid_connection", 400, 2),
            ("invalid_slot", 400, 2),
            ("connection_untestable", 409, 4),
            ("acknowledgement_required", 409, 4),
            ("regeneration_unsupported", 409, 4),
            ("target_unreachable", 502, 1),
            ("target_refused", 502, 1),
            ("credential_rejected", 422, 1),
            ("rotation_slot_active", 409, 4),
            ("rotation_grace_period", 409, 4),
            ("rotation_in_progress", 409, 4),
            ("rotation_version_mismatch", 409, 4),
            ("rotation_not_staged", 409, 4),
            ("rotation_not_tested", 409, 4),
            ("rotation_no_active_slot", 409, 4),
            ("rotation_state_inconsistent", 500, 6),
        ] {
            assert_eq!(
                (http_status(code), exit_status(code)),
                (status, exit),
                "{code}"
            );
        }
        assert_eq!(
            (
                http_status("from_the_future"),
                exit_status("from_the_future")
            ),
            (500, 1)
        );
    }
}
