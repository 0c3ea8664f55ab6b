//! Which fields of which row a MAC covers: each row's canonical encoding, and the layout of a
//! `mac` column that holds two MACs (the whole row, then the part verification reads).

use keyhold_crypto::{ROW_MAC_LEN, RowKey, RowMac};
use keyhold_store::{
    ApiKeyRow, ConfirmationRow, ConnectionRow, EnrolmentRow, MemberRow, PersonRow, PolicyRow,
    SessionRow, SigningKeyRow, SigningKeyState, WorkspaceRow,
};

pub(crate) fn signing_key(row: &SigningKeyRow) -> RowMac {
    RowMac::new("signing_key")
        .text(&row.kid)
        .bytes(&row.public_key)
        .text(match row.state {
            SigningKeyState::Active => "active",
            _ => "retiring",
        })
        .int(row.created_at)
        .opt_int(row.retired_at)
}

pub(crate) fn api_key(row: &ApiKeyRow) -> RowMac {
    RowMac::new("api_key")
        .text(&row.jti)
        .text(&row.workspace)
        .text(&row.name)
        .text(&row.sub)
        .text(&row.scopes)
        .text(&row.kid)
        .text(&row.fingerprint)
        .int(row.created_at_ms)
        .text(&row.created_by)
        .int(row.expires_at)
        .opt_int(row.revoked_at_ms)
        .opt_text(row.revoked_by.as_deref())
        .int(row.mint_seq)
}

/// The part of a key row that verification reads, MAC'd on its own so that the hot path reads
/// and authenticates a short row: `jti` (the one looked up, so a row moved to another id
/// fails), workspace, revocation and mint order.
pub(crate) fn standing(
    jti: &str,
    workspace: &str,
    revoked_at_ms: Option<i64>,
    mint_seq: i64,
) -> RowMac {
    RowMac::new("api_key_standing")
        .text(jti)
        .text(workspace)
        .opt_int(revoked_at_ms)
        .int(mint_seq)
}

/// The standing part of a whole key row.
pub(crate) fn standing_of(row: &ApiKeyRow) -> RowMac {
    standing(&row.jti, &row.workspace, row.revoked_at_ms, row.mint_seq)
}

/// A workspace's revoke-all mark, MAC'd on its own for the same reason.
pub(crate) fn mark(id: &str, revoked_all_seq: Option<i64>) -> RowMac {
    RowMac::new("workspace_mark")
        .text(id)
        .opt_int(revoked_all_seq)
}

pub(crate) fn workspace(row: &WorkspaceRow) -> RowMac {
    RowMac::new("workspace")
        .text(&row.id)
        .text(&row.name)
        .int(row.created_at)
        .opt_int(row.revoked_all_at_ms)
        .opt_int(row.revoked_all_seq)
}

/// A connection: everything that decides which credential is handed out, and where to — not
/// its last use or its schedule, which decide neither.
pub(crate) fn connection(row: &ConnectionRow) -> RowMac {
    RowMac::new("connection")
        .text(&row.id)
        .text(&row.workspace)
        .text(&row.name)
        .text(&row.kind)
        .text(&row.settings)
        .int(row.grace_secs)
        .opt_int(row.rotate_every_secs)
        .int(row.last_version)
        .text(&row.primary_state)
        .text(&row.secondary_state)
        .int(row.created_at)
        .text(&row.created_by)
        .int(row.updated_at)
}

pub(crate) fn confirmation(row: &ConfirmationRow) -> RowMac {
    RowMac::new("confirmation")
        .text(&row.id)
        .text(&row.workspace)
        .text(&row.caller)
        .text(&row.intent)
        .int(row.expires_at)
}

pub(crate) fn person(row: &PersonRow) -> RowMac {
    RowMac::new("person")
        .text(&row.email)
        .text(&row.display_name)
        .opt_text(row.password_hash.as_deref())
        .int(i64::from(row.totp))
        .int(row.created_at)
        .int(row.updated_at)
}

pub(crate) fn member(row: &MemberRow) -> RowMac {
    RowMac::new("member")
        .text(&row.workspace)
        .text(&row.email)
        .text(&row.role)
        .text(&row.state)
        .text(&row.created_by)
        .int(row.created_at)
        .int(row.updated_at)
}

pub(crate) fn session(row: &SessionRow) -> RowMac {
    RowMac::new("session")
        .text(&row.id)
        .text(&row.email)
        .text(&row.workspace)
        .text(&row.csrf)
        .int(row.created_at)
        .int(row.idle_secs)
        .int(row.absolute_secs)
}

pub(crate) fn enrolment(row: &EnrolmentRow) -> RowMac {
    RowMac::new("enrolment")
        .text(&row.id)
        .text(&row.email)
        .text(&row.workspace)
        .int(row.expires_at)
}

pub(crate) fn policy(row: &PolicyRow) -> RowMac {
    RowMac::new("workspace_policy")
        .text(&row.workspace)
        .int(i64::from(row.require_totp))
        .text(&row.developer_scopes)
        .int(row.updated_at)
}

pub(crate) fn counter(n: i64) -> RowMac {
    RowMac::new("mint_counter").int(n)
}

/// A row's `mac` column: the MAC of the whole row, then the MAC of the part verification reads.
pub(crate) fn two_macs(k: &RowKey, whole: &RowMac, part: &RowMac) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * ROW_MAC_LEN);
    out.extend_from_slice(&k.mac(whole));
    out.extend_from_slice(&k.mac(part));
    out
}

/// The whole-row half of a two-MAC `mac` column (empty if the column is short).
pub(crate) fn whole_half(mac: &[u8]) -> &[u8] {
    mac.get(..ROW_MAC_LEN).unwrap_or_default()
}

/// The part half of a two-MAC `mac` column (empty if the column is short).
pub(crate) fn part_half(mac: &[u8]) -> &[u8] {
    mac.get(ROW_MAC_LEN..).unwrap_or_default()
}

/// Replaces the whole-row half of `mac` with the one of `old`: a revocation of a row whose
/// whole-row MAC failed must not make the edit authentic.
pub fn keep_whole(mac: &mut Vec<u8>, old: &[u8]) {
    let whole = old.get(..ROW_MAC_LEN).unwrap_or(old);
    let mut out = whole.to_vec();
    out.resize(ROW_MAC_LEN, 0);
    out.extend_from_slice(part_half(mac));
    *mac = out;
}
