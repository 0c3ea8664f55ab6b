//! Who performs an operation, and through which door: the attribution every audit record and
//! every authorization decision starts from.

use keyhold_access::{Access, AccessError, Role};
use keyhold_token::{Scope, ScopeSet, TokenError};

use crate::{Error, Principal, Result};

pub use keyhold_audit::{Surface, new_request_id};

/// Where a request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The door.
    pub surface: Surface,
    /// Remote address (HTTP) or OS user (CLI, library).
    pub source: Option<String>,
    /// Correlates the request across logs, responses and the audit trail.
    pub request_id: String,
}

impl Origin {
    /// An origin on `surface` with a fresh request id, attributed to the OS user.
    pub fn new(surface: Surface) -> Self {
        Self {
            surface,
            source: Some(os_user()),
            request_id: new_request_id(),
        }
    }
}

fn os_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty() && u.len() <= 64 && u.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| format!("uid-{}", rustix::process::geteuid().as_raw()))
}

#[derive(Debug, Clone)]
enum Who {
    Operator {
        name: String,
    },
    Key(Principal),
    Member(Membership),
    /// Someone not signed in, named by the identity they claim (signing in, enrolling): for
    /// the audit trail only; they may do nothing.
    Claiming {
        email: String,
    },
}

/// A signed-in member: who, where, with which role, and which scopes their keys may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Their email.
    pub email: String,
    /// Workspace id.
    pub workspace: String,
    /// Their role there.
    pub role: Role,
    /// The scopes the keys they mint may carry (their role's, within the workspace's policy).
    pub grantable: ScopeSet,
}

/// Who performs an operation: the local operator (whoever holds the master key: may do
/// everything, in every workspace) or the holder of a verified API key (bounded by its
/// scopes and workspace) — and where the request came from.
#[derive(Debug, Clone)]
pub struct Caller {
    who: Who,
    origin: Origin,
    /// What the assistant understood the request as, if it came through her.
    intent: Option<&'static str>,
}

impl Caller {
    /// The local operator, named after the OS user, through the library.
    pub fn operator() -> Self {
        Self {
            who: Who::Operator { name: os_user() },
            origin: Origin::new(Surface::Library),
            intent: None,
        }
    }

    /// The server itself, acting on its own schedule (regular rotations): an operator named
    /// `keyhold-server`, through the HTTP surface.
    pub fn server() -> Self {
        Self {
            who: Who::Operator {
                name: "keyhold-server".to_owned(),
            },
            origin: Origin::new(Surface::Http),
            intent: None,
        }
    }

    /// The holder of a verified key, through the library.
    pub fn key(principal: Principal) -> Self {
        Self {
            who: Who::Key(principal),
            origin: Origin::new(Surface::Library),
            intent: None,
        }
    }

    /// A signed-in member (their session was checked), through the portal.
    pub fn member(m: Membership) -> Self {
        Self {
            who: Who::Member(m),
            origin: Origin::new(Surface::Portal),
            intent: None,
        }
    }

    /// Someone not signed in, claiming to be `email` (a sign-in, an enrolment), from `origin`:
    /// recorded as that person, allowed nothing.
    pub fn claiming(email: &str, origin: Origin) -> Self {
        Self {
            who: Who::Claiming {
                email: email.to_owned(),
            },
            origin,
            intent: None,
        }
    }

    /// The member behind this caller, if it is one.
    pub fn membership(&self) -> Option<&Membership> {
        match &self.who {
            Who::Member(m) => Some(m),
            _ => None,
        }
    }

    /// Whether this caller may use `scope` only on what is their own (a developer's keys and
    /// audit records): the operation then narrows itself to those.
    pub(crate) fn own_only(&self, scope: Scope) -> bool {
        self.membership()
            .is_some_and(|m| m.role.access_for(scope) == Access::Own)
    }

    /// The same caller, asking through the assistant, who understood the request as `intent`
    /// (its kind, e.g. `revoke_all`): every event recorded for it carries the detail
    /// `assistant_intent` — the intent, never the sentence.
    pub fn asking(mut self, intent: &'static str) -> Self {
        self.origin.surface = Surface::Assistant;
        self.intent = Some(intent);
        self
    }

    /// What the assistant understood the request as, if it came through her.
    pub(crate) fn intent(&self) -> Option<&'static str> {
        self.intent
    }

    /// The same caller, arriving through `surface`.
    pub fn via(mut self, surface: Surface) -> Self {
        self.origin.surface = surface;
        self
    }

    /// The same caller, with this origin (surface, source address, request id).
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// Where the request came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Whether this caller is the operator (who holds the master key and may do anything); a
    /// key, a member or someone signing in is not.
    pub fn is_operator(&self) -> bool {
        matches!(self.who, Who::Operator { .. })
    }

    /// The workspace a key or a member is confined to (`None`: the operator, or someone not
    /// signed in).
    pub(crate) fn confined_to(&self) -> Option<&str> {
        match &self.who {
            Who::Key(p) => Some(&p.workspace),
            Who::Member(m) => Some(&m.workspace),
            _ => None,
        }
    }

    /// The verified key behind this caller, if it is not the operator.
    pub fn principal(&self) -> Option<&Principal> {
        match &self.who {
            Who::Key(p) => Some(p),
            _ => None,
        }
    }

    /// The identity recorded as creator/revoker (`operator:NAME` or `key:ID`).
    pub fn name(&self) -> String {
        match &self.who {
            Who::Operator { name } => format!("operator:{name}"),
            Who::Key(p) => format!("key:{}", p.key_id),
            Who::Member(m) => format!("member:{}", m.email),
            Who::Claiming { email } => format!("person:{email}"),
        }
    }

    /// The subject the audit trail records (the OS user for the operator).
    pub fn sub(&self) -> String {
        match &self.who {
            Who::Operator { name } => name.clone(),
            Who::Key(p) => p.sub.clone(),
            Who::Member(m) => m.email.clone(),
            Who::Claiming { email } => email.clone(),
        }
    }

    /// The scopes this caller holds (`admin` for the operator).
    pub(crate) fn scopes(&self) -> ScopeSet {
        match &self.who {
            Who::Operator { .. } => [Scope::Admin].into_iter().collect(),
            Who::Key(p) => p.scopes.clone(),
            Who::Member(m) => m.grantable.clone(),
            Who::Claiming { .. } => ScopeSet::new(),
        }
    }

    /// Refuses unless the caller may use `scope` in workspace `workspace_id`.
    pub(crate) fn require(&self, scope: Scope, workspace_id: &str) -> Result<()> {
        match &self.who {
            Who::Operator { .. } => Ok(()),
            Who::Key(p) if p.workspace != workspace_id => {
                Err(Error::from(TokenError::WorkspaceMismatch))
            }
            Who::Key(p) if !p.scopes.covers(scope) => {
                Err(Error::from(TokenError::InsufficientScope {
                    required: scope,
                }))
            }
            Who::Key(_) => Ok(()),
            Who::Member(m) if m.workspace != workspace_id => {
                Err(Error::from(TokenError::WorkspaceMismatch))
            }
            Who::Member(m) => match m.role.access_for(scope) {
                Access::No => Err(Error::Access(m.role.refused_scope(scope))),
                _ => Ok(()),
            },
            Who::Claiming { .. } => Err(Error::Access(AccessError::SessionInvalid)),
        }
    }

    /// [`Caller::require`], and a member must have `scope` on everything, not only their own
    /// (revoking every key of a workspace).
    pub(crate) fn require_all(&self, scope: Scope, workspace_id: &str) -> Result<()> {
        self.require(scope, workspace_id)?;
        self.require_own(scope, "")
    }

    /// Refuses a member who may use `scope` on their own things only, for a thing `owner`
    /// (a creator as [`Caller::name`] writes it) that is not theirs.
    pub(crate) fn require_own(&self, scope: Scope, owner: &str) -> Result<()> {
        match self.membership() {
            Some(m) if self.own_only(scope) && owner != self.name() => {
                Err(Error::Access(AccessError::InsufficientRole {
                    role: m.role.as_str(),
                    what: "act on what another created".to_owned(),
                }))
            }
            _ => Ok(()),
        }
    }
}
