//! The event model: who did what to which thing, when, through which surface, and how it ended.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::{AuditError, DetailName, PublicText, ReasonCode};

macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($err:expr) {
            $( $(#[$vdoc:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )+ ];

            /// The stable name (stored in the log and in the canonical encoding).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = AuditError;
            fn from_str(s: &str) -> Result<Self, AuditError> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err($err),
                }
            }
        }
    };
}

named_enum! {
    /// What happened. The dotted names are stable: they are stored and hashed.
    ///
    /// `#[non_exhaustive]`: later releases add actions (connections, ...). An older verifier
    /// reports a row with an action it does not know as undecodable.
    pub enum Action (AuditError::UnknownAction) {
        /// An access key (API token) was minted.
        KeyCreated => "key.created",
        /// An access key authorized a request.
        KeyUsed => "key.used",
        /// A presented token was refused (the outcome's reason code says why).
        KeyRejected => "key.rejected",
        /// One access key was revoked.
        KeyRevoked => "key.revoked",
        /// Every token of a workspace issued so far was revoked.
        KeysRevokedAll => "keys.revoked_all",
        /// The token signing key was rotated.
        SigningKeyRotated => "signing_key.rotated",
        /// A workspace was created.
        WorkspaceCreated => "workspace.created",
        /// The master key was rotated.
        MasterKeyRotated => "master_key.rotated",
        /// A key-encryption key was rotated.
        KekRotated => "kek.rotated",
        /// An encrypted record was written.
        RecordWritten => "record.written",
        /// An encrypted record was deleted.
        RecordDeleted => "record.deleted",
        /// A signed checkpoint of the audit chain was written.
        AuditCheckpointed => "audit.checkpointed",
        /// A token signing key was created (the store's first, or one recorded by the
        /// upgrade to authenticated rows); its id is the target.
        SigningKeyCreated => "signing_key.created",
        /// From here on, the store's access rows are authenticated (a new store, or the
        /// upgrade of an older one): an upgrade is refused once the chain holds this.
        RowsAuthenticated => "store.rows_authenticated",
        /// A connection was created (its settings; never a credential).
        ConnectionCreated => "connection.created",
        /// A connection and every credential it kept were deleted.
        ConnectionDeleted => "connection.deleted",
        /// An operator's credential was staged into a slot (its version; never the value).
        CredentialUpdated => "connection.credential_updated",
        /// A slot's credential was tested at the target; a failure's outcome says why.
        CredentialTested => "connection.tested",
        /// A slot's tested credential was promoted to active (the other slot, if it was
        /// active, is the standby for the grace period).
        CredentialSaved => "connection.saved",
        /// A regeneration was begun: a new credential for the slot is stored, about to be set
        /// at the target.
        RegenerationBegun => "connection.regenerating",
        /// The target took the regenerated credential.
        RegenerationConfirmed => "connection.regenerated",
        /// Setting the regenerated credential at the target failed; the slot is failed.
        RegenerationAbandoned => "connection.regeneration_abandoned",
        /// A consumer was handed a connection's credential.
        CredentialRead => "credential.read",
        /// The assistant handed out a confirmation of a destructive request (the target is a
        /// prefix of its token's digest, never the token).
        ConfirmationIssued => "assistant.confirmation_issued",
        /// A confirmation was presented that does not confirm the request (the outcome says
        /// so; the detail says why).
        ConfirmationRefused => "assistant.confirmation_refused",
        /// A person became a member of a workspace (the target is their email).
        MemberAdded => "member.added",
        /// A member's role or state changed (disabled members' sessions end with it).
        MemberUpdated => "member.updated",
        /// A member was removed from a workspace.
        MemberRemoved => "member.removed",
        /// A person's password was set (by enrolment, or directly by an operator).
        PasswordSet => "person.password_set",
        /// A person enrolled a TOTP second factor.
        TotpEnrolled => "person.totp_enrolled",
        /// An enrolment code was issued (shown once; never recorded).
        EnrolmentIssued => "person.enrolment_issued",
        /// A person signed in (the target is a prefix of the session's digest).
        SignedIn => "session.signed_in",
        /// A sign-in failed (the outcome's code says it did, never why).
        SignInFailed => "session.sign_in_failed",
        /// A session was ended by its person.
        SignedOut => "session.signed_out",
        /// A workspace's access policy was set.
        PolicySet => "workspace.policy_set",
        /// The store was moved here from another database, every row as it was (the details
        /// name both places, never a password); the rows before this one came with it.
        StoreMigrated => "store.migrated",
    }
}

named_enum! {
    /// Through which door the actor came.
    pub enum Surface (AuditError::UnknownSurface) {
        /// The `keyhold` command line.
        Cli => "cli",
        /// The HTTP API.
        Http => "http",
        /// The web portal.
        Portal => "portal",
        /// The assistant.
        Assistant => "assistant",
        /// A program embedding keyhold as a library.
        Library => "library",
    }
}

impl serde::Serialize for Surface {
    /// As its stable name (`cli`, `http`, ...).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Actor {
    /// The subject: a user, service or token subject.
    pub sub: PublicText,
    /// The access key (token `jti` or key id) the actor used, if any.
    pub key_id: Option<PublicText>,
    /// The surface.
    pub surface: Surface,
    /// Where from: the remote address (HTTP) or the OS user (CLI), if known.
    pub source: Option<PublicText>,
}

impl Actor {
    /// An actor with no key id and no source.
    pub fn new(sub: PublicText, surface: Surface) -> Self {
        Self {
            sub,
            key_id: None,
            surface,
            source: None,
        }
    }

    /// Sets the access key the actor used.
    #[must_use]
    pub fn with_key_id(mut self, key_id: PublicText) -> Self {
        self.key_id = Some(key_id);
        self
    }

    /// Sets where the actor came from.
    #[must_use]
    pub fn with_source(mut self, source: PublicText) -> Self {
        self.source = Some(source);
        self
    }
}

/// How it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The operation succeeded.
    Success,
    /// The operation failed with this stable reason code (`token_expired`, ...).
    Failure(ReasonCode),
}

/// A detail's value: public text, an integer or a boolean — nothing else.
///
/// There is no `From<&str>` (text must be validated: use [`PublicText`]) and no conversion
/// from arbitrary `Display` or `Serialize` types. A secret cannot become a detail:
///
/// ```compile_fail,E0277
/// let secret = keyhold_crypto::SecretBytes::copy_from(b"hunter2");
/// let _ = keyhold_audit::DetailValue::from(secret);
/// ```
///
/// ```compile_fail,E0277
/// use keyhold_crypto::secrecy::SecretString;
/// let mut d = keyhold_audit::Details::new();
/// let name = keyhold_audit::DetailName::new("password").unwrap();
/// d.insert(name, SecretString::from("hunter2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DetailValue {
    /// Public text.
    Text(PublicText),
    /// A signed integer (counts, seconds, versions).
    Int(i64),
    /// A flag.
    Bool(bool),
}

impl From<PublicText> for DetailValue {
    fn from(v: PublicText) -> Self {
        Self::Text(v)
    }
}

impl From<i64> for DetailValue {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<u32> for DetailValue {
    fn from(v: u32) -> Self {
        Self::Int(i64::from(v))
    }
}

impl From<bool> for DetailValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

/// A small map of detail name → value, always in name order (the canonical order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Details(BTreeMap<DetailName, DetailValue>);

impl Details {
    /// The most details one event may carry.
    pub const MAX_ENTRIES: usize = 32;

    /// No details.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value` (replacing an earlier value). Fails with
    /// [`AuditError::TooManyDetails`] beyond [`MAX_ENTRIES`](Self::MAX_ENTRIES).
    pub fn insert(
        &mut self,
        name: DetailName,
        value: impl Into<DetailValue>,
    ) -> Result<(), AuditError> {
        if self.0.len() >= Self::MAX_ENTRIES && !self.0.contains_key(&name) {
            return Err(AuditError::TooManyDetails);
        }
        self.0.insert(name, value.into());
        Ok(())
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&DetailValue> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .map(|(_, v)| v)
    }

    /// The details in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&DetailName, &DetailValue)> {
        self.0.iter()
    }

    /// How many details there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One audit event. Every field is a public value type (see the crate docs: secrets cannot
/// be put into an event).
///
/// Built with [`Event::new`] and the `with_*` methods; the fields are public to read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event {
    /// When, in milliseconds since the Unix epoch (supplied by the caller).
    pub time_ms: i64,
    /// The workspace the event belongs to, if any.
    pub workspace: Option<PublicText>,
    /// Who acted.
    pub actor: Actor,
    /// What happened.
    pub action: Action,
    /// What it happened to (a key id, a record id, ...), if anything.
    pub target: Option<PublicText>,
    /// How it ended.
    pub outcome: Outcome,
    /// The request this event belongs to (ties the events of one request together).
    pub request_id: PublicText,
    /// Extra public facts, in name order.
    pub details: Details,
}

impl Event {
    /// A successful event with no workspace, target or details.
    pub fn new(time_ms: i64, actor: Actor, action: Action, request_id: PublicText) -> Self {
        Self {
            time_ms,
            workspace: None,
            actor,
            action,
            target: None,
            outcome: Outcome::Success,
            request_id,
            details: Details::new(),
        }
    }

    /// Sets the workspace.
    #[must_use]
    pub fn with_workspace(mut self, workspace: PublicText) -> Self {
        self.workspace = Some(workspace);
        self
    }

    /// Sets the target.
    #[must_use]
    pub fn with_target(mut self, target: PublicText) -> Self {
        self.target = Some(target);
        self
    }

    /// Sets the outcome.
    #[must_use]
    pub fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Replaces the details.
    #[must_use]
    pub fn with_details(mut self, details: Details) -> Self {
        self.details = details;
        self
    }

    /// The canonical encoding (see the crate docs).
    pub fn to_canonical(&self) -> Vec<u8> {
        crate::canonical::encode(self)
    }

    /// Decodes a canonical encoding; any other bytes are an error, never a panic.
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, AuditError> {
        crate::canonical::decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_stable() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(*a));
            assert_eq!(a.to_string(), a.as_str());
        }
        for s in Surface::ALL {
            assert_eq!(s.as_str().parse::<Surface>(), Ok(*s));
        }
        assert_eq!(Action::ALL.len(), 36);
        assert_eq!(Action::StoreMigrated.as_str(), "store.migrated");
        assert_eq!(Action::CredentialRead.as_str(), "credential.read");
        assert_eq!(
            Action::ConfirmationRefused.as_str(),
            "assistant.confirmation_refused"
        );
        assert_eq!(Action::KeysRevokedAll.as_str(), "keys.revoked_all");
        assert_eq!(Action::AuditCheckpointed.as_str(), "audit.checkpointed");
        assert_eq!("key.Used".parse::<Action>(), Err(AuditError::UnknownAction));
        assert_eq!("CLI".parse::<Surface>(), Err(AuditError::UnknownSurface));
    }

    #[test]
    fn details_are_bounded_and_ordered() {
        let mut d = Details::new();
        for i in (0..Details::MAX_ENTRIES).rev() {
            let name = DetailName::new(&format!("d{i:02}")).unwrap();
            d.insert(name, i64::try_from(i).unwrap()).unwrap();
        }
        let extra = DetailName::new("zz").unwrap();
        assert_eq!(d.insert(extra, true), Err(AuditError::TooManyDetails));
        // Replacing an existing name is still allowed when full.
        d.insert(DetailName::new("d00").unwrap(), false).unwrap();
        let names: Vec<_> = d.iter().map(|(k, _)| k.as_str().to_owned()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(d.get("d00"), Some(&DetailValue::Bool(false)));
    }
}
