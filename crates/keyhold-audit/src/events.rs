//! The events keyhold records about keys and workspaces, by what happened: each constructor
//! fixes the action, the target and the details' names, from plain values. (The actor, the
//! time and the request are added by [`EventDraft::event`].)

use crate::{Action, DraftError, EventDraft, PublicText};

/// The actor of a refusal whose token named nobody it could prove.
pub const ANONYMOUS: &str = "anonymous";

/// The key a refused token proved to be (its signature verified): where the refusal is
/// recorded and what it is about.
#[derive(Debug, Clone, Copy)]
pub struct KnownKey<'a> {
    /// The key's workspace.
    pub workspace: &'a str,
    /// The key's id.
    pub key_id: &'a str,
}

fn count(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// `key.used`: key `key_id` of `workspace` was verified — asked by the service whose key is
/// `introspector`, if any (its use, in the same row).
pub fn key_used(workspace: &str, key_id: &str, introspector: Option<&str>) -> EventDraft {
    let record = EventDraft::new(Action::KeyUsed)
        .workspace(workspace)
        .target(key_id);
    match introspector {
        Some(by) => record.introspected_by(by),
        None => record,
    }
}

/// `store.migrated`: the store was moved to `to` from `from` (locations as errors show them:
/// a data directory or `postgres://USER@HOST:PORT/DB`, never a password), `rows` rows in all.
pub fn store_migrated(from: &str, to: &str, rows: u64) -> Result<EventDraft, DraftError> {
    let text = |s: &str| PublicText::new(s).map_err(|_| DraftError::Text);
    Ok(EventDraft::new(Action::StoreMigrated)
        .detail("from", text(from)?)
        .detail("to", text(to)?)
        .detail("rows", count(rows)))
}

/// `key.rejected`: a token refused with `code`, about `key` when its signature told it;
/// `suppressed` refusals of the same kind were counted since the last row (none: no detail);
/// asked by the service whose key is `introspector`, if any.
pub fn key_rejected(
    code: &'static str,
    key: Option<KnownKey<'_>>,
    suppressed: u64,
    introspector: Option<&str>,
) -> EventDraft {
    let mut record = EventDraft::new(Action::KeyRejected).failed(code);
    if suppressed > 0 {
        record = record.detail("suppressed", count(suppressed));
    }
    if let Some(k) = key {
        record = record.workspace(k.workspace).target(k.key_id);
    }
    match introspector {
        Some(by) => record.introspected_by(by),
        None => record,
    }
}

/// `key.rejected` carrying the count of refusals no row has carried yet (see
/// [`rejections`](crate::rejections)): about the bucket's key, if known.
pub fn rejections_counted(p: &crate::rejections::Pending) -> EventDraft {
    let record = EventDraft::new(Action::KeyRejected)
        .failed(p.code)
        .detail("suppressed", count(p.suppressed));
    match &p.key {
        Some(k) => record.target(k),
        None => record,
    }
}

/// `key.rejected` in the asking service's own workspace `workspace`: it introspected a token
/// of another workspace and was refused with `code` (detail `introspection`; nothing of the
/// token).
pub fn foreign_introspection(code: &'static str, workspace: &str) -> EventDraft {
    EventDraft::new(Action::KeyRejected)
        .failed(code)
        .workspace(workspace)
        .detail("introspection", true)
}

/// `key.revoked`: key `key_id` of `workspace`; `already_revoked` when it changed nothing,
/// `row_authentic` whether its whole row authenticated.
pub fn key_revoked(
    workspace: &str,
    key_id: &str,
    already_revoked: bool,
    row_authentic: bool,
) -> EventDraft {
    EventDraft::new(Action::KeyRevoked)
        .workspace(workspace)
        .target(key_id)
        .detail("already_revoked", already_revoked)
        .detail("row_authentic", row_authentic)
}

/// `keys.revoked_all`: every key of `workspace` minted through mint number `revoked_through`;
/// `keys_revoked` of them were active, `row_authentic` whether the workspace's whole row
/// authenticated.
pub fn keys_revoked_all(
    workspace: &str,
    keys_revoked: usize,
    revoked_through: i64,
    row_authentic: bool,
) -> EventDraft {
    EventDraft::new(Action::KeysRevokedAll)
        .workspace(workspace)
        .target(workspace)
        .detail("keys_revoked", count(keys_revoked))
        .detail("revoked_through", revoked_through)
        .detail("row_authentic", row_authentic)
}

/// A minted key, as `key.created` records it.
#[derive(Debug, Clone)]
pub struct MintedKey<'a> {
    /// Its workspace.
    pub workspace: &'a str,
    /// Its id.
    pub key_id: &'a str,
    /// Its name.
    pub name: PublicText,
    /// Its scopes, space-separated.
    pub scopes: PublicText,
    /// Its expiry (Unix seconds).
    pub expires_at: i64,
    /// Its mint number.
    pub mint_seq: i64,
}

/// `key.created`: the key, its expiry, mint number and scopes, and the signing keys the mint
/// created (`created_signing_key`) or deleted (`deleted_signing_keys`).
pub fn key_created(
    key: MintedKey<'_>,
    created_signing_key: Option<&str>,
    deleted_signing_keys: &[String],
) -> Result<EventDraft, DraftError> {
    Ok(EventDraft::new(Action::KeyCreated)
        .workspace(key.workspace)
        .target(key.key_id)
        .detail("name", key.name)
        .detail("expires_at", key.expires_at)
        .detail("mint_seq", key.mint_seq)
        .signing_key_created(created_signing_key)?
        .signing_keys_deleted(deleted_signing_keys)?
        .detail("scopes", key.scopes))
}

/// `workspace.created`: workspace `id`, named `name`.
pub fn workspace_created(id: &str, name: &str) -> EventDraft {
    EventDraft::new(Action::WorkspaceCreated)
        .workspace(id)
        .target(name)
}

/// A connection's event: `action` about connection `name` of `workspace`, for `slot` (its
/// stable name) at credential `version`, when the event concerns one.
pub fn connection(
    action: Action,
    workspace: &str,
    name: &str,
    slot_version: Option<(&'static str, u32)>,
) -> Result<EventDraft, DraftError> {
    let mut record = EventDraft::new(action).workspace(workspace).target(name);
    if let Some((slot, version)) = slot_version {
        record = record
            .detail("slot", PublicText::new(slot).map_err(|_| DraftError::Text)?)
            .detail("version", version);
    }
    Ok(record)
}

/// `connection.created`: connection `name` of `workspace`, to a target of `kind`.
pub fn connection_created(
    workspace: &str,
    name: &str,
    kind: &str,
) -> Result<EventDraft, DraftError> {
    let kind = PublicText::new(kind).map_err(|_| DraftError::Text)?;
    Ok(connection(Action::ConnectionCreated, workspace, name, None)?.detail("kind", kind))
}

/// `assistant.confirmation_issued`: confirmation `id` (a prefix of its token's digest) of a
/// `plan` (its kind, e.g. `revoke_all`) in `workspace`, valid until `expires_at`.
pub fn confirmation_issued(
    workspace: &str,
    id: &str,
    plan: &str,
    expires_at: i64,
) -> Result<EventDraft, DraftError> {
    let plan = PublicText::new(plan).map_err(|_| DraftError::Text)?;
    Ok(EventDraft::new(Action::ConfirmationIssued)
        .workspace(workspace)
        .target(id)
        .detail("plan", plan)
        .detail("expires_at", expires_at))
}

/// `assistant.confirmation_refused`: confirmation `id` (a prefix of its token's digest) was
/// presented in `workspace` and refused, `why` (`unknown`, `other_caller`, `other_request`,
/// `expired`).
pub fn confirmation_refused(
    workspace: &str,
    id: &str,
    why: &str,
) -> Result<EventDraft, DraftError> {
    let why = PublicText::new(why).map_err(|_| DraftError::Text)?;
    Ok(EventDraft::new(Action::ConfirmationRefused)
        .workspace(workspace)
        .target(id)
        .failed("confirmation_invalid")
        .detail("why", why))
}

/// A team access event about person `email` in `workspace` (none: store-wide, e.g. a
/// password), with public words as details.
pub fn team(
    action: Action,
    workspace: Option<&str>,
    email: &str,
    details: &[(&'static str, &str)],
) -> Result<EventDraft, DraftError> {
    let mut record = EventDraft::new(action).target(email);
    if let Some(ws) = workspace {
        record = record.workspace(ws);
    }
    for (name, value) in details {
        let value = PublicText::new(value).map_err(|_| DraftError::Text)?;
        record = record.detail(name, value);
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DetailValue, Surface};

    struct Here;

    impl crate::Provenance for Here {
        type Error = DraftError;
        fn surface(&self) -> Surface {
            Surface::Library
        }
        fn source(&self) -> Option<&str> {
            None
        }
        fn request_id(&self) -> &str {
            "req_1"
        }
        fn time_ms(&self) -> i64 {
            1
        }
    }

    #[test]
    fn a_refusal_says_suppressed_only_when_it_carries_a_count() {
        let key = KnownKey {
            workspace: "ws_1",
            key_id: "key_1",
        };
        let plain = key_rejected("token_expired", Some(key), 0, None)
            .event(ANONYMOUS, None, &Here)
            .unwrap();
        assert_eq!(plain.details.get("suppressed"), None);
        assert_eq!(plain.target.as_ref().map(PublicText::as_str), Some("key_1"));
        let counted = key_rejected("token_expired", None, 4, None)
            .event(ANONYMOUS, None, &Here)
            .unwrap();
        assert_eq!(
            counted.details.get("suppressed"),
            Some(&DetailValue::Int(4))
        );
        assert_eq!(counted.workspace, None);
    }

    #[test]
    fn revoke_all_records_its_count_and_mark() {
        let e = keys_revoked_all("ws_1", 3, 7, true)
            .event("op", None, &Here)
            .unwrap();
        assert_eq!(e.action, Action::KeysRevokedAll);
        assert_eq!(e.target.as_ref().map(PublicText::as_str), Some("ws_1"));
        assert_eq!(e.details.get("keys_revoked"), Some(&DetailValue::Int(3)));
        assert_eq!(e.details.get("revoked_through"), Some(&DetailValue::Int(7)));
    }
}
