//! Roles and what each may do: the one table ([`OPERATIONS`]) that `docs/access.md` shows
//! and a test keeps equal to it.

use keyhold_token::{Scope, ScopeSet};

use crate::AccessError;

/// A member's role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Everything in the workspace, members and its policy included.
    Owner,
    /// Keys, connections, audit, and members other than owners.
    Admin,
    /// Keys for themselves with the workspace's allowed scopes, connections to use, their own
    /// audit.
    Developer,
    /// Read-only lists and audit.
    Viewer,
}

/// How far a role may perform an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Yes.
    Yes,
    /// Only on what is the member's own (the keys they created, their own audit records, members
    /// who are not owners): the operation says which.
    Own,
    /// No.
    No,
}

/// One operation of a workspace, and each role's access to it.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// Its name in the table (`keys.create`).
    pub name: &'static str,
    /// The scope an API key needs for it (`None`: no key may do it; only members).
    pub scope: Option<Scope>,
    /// What it is, and what `Own` means for it.
    pub what: &'static str,
    /// Owner, admin, developer, viewer.
    pub access: [Access; 4],
}

use Access::{No, Own, Yes};

const fn op(
    name: &'static str,
    scope: Option<Scope>,
    what: &'static str,
    access: [Access; 4],
) -> Operation {
    Operation {
        name,
        scope,
        what,
        access,
    }
}

/// Every operation of a workspace with each role's access: owner, admin, developer, viewer.
pub const OPERATIONS: [Operation; 12] = [
    op(
        "keys.read",
        Some(Scope::KeysRead),
        "list and show the workspace's keys",
        [Yes, Yes, Yes, Yes],
    ),
    op(
        "keys.create",
        Some(Scope::KeysWrite),
        "create keys in their own name (a developer: with the workspace's allowed scopes only)",
        [Yes, Yes, Own, No],
    ),
    op(
        "keys.revoke",
        Some(Scope::KeysRevoke),
        "revoke a key, or every key at once (a developer: the keys they created, one at a time)",
        [Yes, Yes, Own, No],
    ),
    op(
        "connections.read",
        Some(Scope::ConnectionsRead),
        "list and show connections (never a secret)",
        [Yes, Yes, Yes, Yes],
    ),
    op(
        "connections.use",
        Some(Scope::ConnectionsUse),
        "be handed a connection's active credential",
        [Yes, Yes, Yes, No],
    ),
    op(
        "connections.write",
        Some(Scope::ConnectionsWrite),
        "create, change and delete connections, stage, test and save credentials",
        [Yes, Yes, No, No],
    ),
    op(
        "connections.rotate",
        Some(Scope::ConnectionsRotate),
        "rotate a connection, regenerate a slot",
        [Yes, Yes, No, No],
    ),
    op(
        "audit.read",
        Some(Scope::AuditRead),
        "read the workspace's audit log (a developer: the records of their own actions)",
        [Yes, Yes, Own, Yes],
    ),
    op(
        "members.read",
        None,
        "list and show the workspace's members",
        [Yes, Yes, Yes, Yes],
    ),
    op(
        "members.manage",
        None,
        "add members, change roles, disable and remove members (an admin: never an owner, nor make one)",
        [Yes, Own, No, No],
    ),
    op(
        "workspace.policy",
        None,
        "set the workspace's policy: require a second factor, the scopes developers may give their keys",
        [Yes, No, No, No],
    ),
    op(
        "store.admin",
        Some(Scope::Admin),
        "store-wide operations, as an owner of the home workspace: rotate the signing key, read metrics, verify the audit chain",
        [Yes, No, No, No],
    ),
];

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Developer, Role::Viewer];

    /// The role's name (`owner`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// The role named `name`, or the refusal of a name that is none (`invalid_input`).
    pub fn named(name: &str) -> Result<Role, AccessError> {
        Role::parse(name).ok_or(AccessError::Invalid {
            field: "role",
            reason: "one of owner, admin, developer, viewer",
        })
    }

    fn column(self) -> usize {
        self as usize
    }

    /// The role's access to the operation named `name` (`No` for a name not in the table).
    pub fn access(self, name: &str) -> Access {
        OPERATIONS
            .iter()
            .find(|o| o.name == name)
            .map_or(No, |o| o.access[self.column()])
    }

    /// The role's access to what an API key would need `scope` for (`No` for scopes that
    /// guard no operation of keyhold's, such as `read:queries`).
    pub fn access_for(self, scope: Scope) -> Access {
        OPERATIONS
            .iter()
            .find(|o| o.scope == Some(scope))
            .map_or(No, |o| o.access[self.column()])
    }

    /// Refuses unless the role has at least `at_least` access to the operation `name`.
    pub fn require(self, name: &str, at_least: Access) -> Result<(), AccessError> {
        let ok = match (self.access(name), at_least) {
            (Yes, _) | (Own, Own) => true,
            (Own, _) | (No, _) => false,
        };
        if ok { Ok(()) } else { Err(self.refused(name)) }
    }

    /// The refusal of operation `name` for this role.
    pub fn refused(self, name: &str) -> AccessError {
        let what = OPERATIONS
            .iter()
            .find(|o| o.name == name)
            .map_or(name, |o| o.what);
        AccessError::InsufficientRole {
            role: self.as_str(),
            what: what.to_owned(),
        }
    }

    /// The scopes the keys a member of this role mints may carry: an owner any (`admin`), an
    /// admin every scope but `admin`, a developer those of `allowed` (never `admin`), a viewer
    /// none. Nobody grants a scope above their own role.
    pub fn grantable(self, allowed: &ScopeSet) -> ScopeSet {
        match self {
            Role::Owner => [Scope::Admin].into_iter().collect(),
            Role::Admin => Scope::all()
                .iter()
                .copied()
                .filter(|s| *s != Scope::Admin)
                .collect(),
            Role::Developer => allowed.iter().filter(|s| self.may_carry(*s)).collect(),
            Role::Viewer => ScopeSet::new(),
        }
    }

    /// The refusal of what an API key would need `scope` for.
    pub fn refused_scope(self, scope: Scope) -> AccessError {
        let name = OPERATIONS
            .iter()
            .find(|o| o.scope == Some(scope))
            .map_or(scope.as_str(), |o| o.name);
        self.refused(name)
    }

    /// Whether a key a member of this role mints may carry `scope` at most: a scope guarding
    /// an operation the role may do on everything, or one no keyhold operation uses (an
    /// application's, such as `read:queries`) — never one the role holds only on its own
    /// things, nor `admin` below an owner.
    pub fn may_carry(self, scope: Scope) -> bool {
        let guarded = OPERATIONS.iter().find(|o| o.scope == Some(scope));
        match guarded {
            Some(o) => o.access[self.column()] == Yes,
            None => true,
        }
    }

    /// What the keys of a member of this role may carry in a workspace whose developers may
    /// give their keys `developer_scopes` (space-separated).
    pub fn grantable_in(self, developer_scopes: &str) -> ScopeSet {
        let allowed: ScopeSet = developer_scopes
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        self.grantable(&allowed)
    }

    /// Refuses unless a member of this role may change a member from role `from` (`None`: a
    /// new member) to role `to` (`None`: disabled or removed). An owner may do anything; an
    /// admin may not touch an owner nor make one; no one else manages members.
    pub fn may_assign(self, from: Option<Role>, to: Option<Role>) -> Result<(), AccessError> {
        match self {
            Role::Owner => Ok(()),
            Role::Admin if from != Some(Role::Owner) && to != Some(Role::Owner) => Ok(()),
            _ => Err(self.refused("members.manage")),
        }
    }
}

/// Decides a change of member `target` (from role `from`, to role `to` and state `state`,
/// `None`: removed) made by a member of role `by` (`None`: the operator or an `admin` key),
/// among the workspace's `members` (email, role, state): the state must be `active` or
/// `disabled`, the changer must be allowed, and an active owner must remain.
pub fn decide_change<'a>(
    by: Option<Role>,
    (target, from): (&str, Option<Role>),
    to: Option<(Role, &str)>,
    members: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
) -> Result<(), AccessError> {
    if let Some((_, state)) = to
        && !matches!(state, "active" | "disabled" | "invited")
    {
        return Err(AccessError::Invalid {
            field: "state",
            reason: "active or disabled",
        });
    }
    if let Some(r) = by {
        r.may_assign(from, to.map(|(role, _)| role))?;
    }
    let stays = matches!(to, Some((Role::Owner, "active")));
    let (mut was, mut others) = (false, false);
    for (email, role, state) in members {
        let owner = role == "owner" && state == "active";
        if email == target {
            was = owner;
        } else {
            others |= owner;
        }
    }
    if was && !stays && !others {
        return Err(AccessError::LastOwner);
    }
    Ok(())
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_of_an_operation_is_named_once_and_roles_are_ordered() {
        let scopes: Vec<Scope> = OPERATIONS.iter().filter_map(|o| o.scope).collect();
        let mut unique = scopes.clone();
        unique.dedup();
        assert_eq!(scopes, unique);
        // A role may do nothing a more powerful role may not.
        for o in OPERATIONS {
            let rank = |a: Access| match a {
                Yes => 2,
                Own => 1,
                No => 0,
            };
            let ranks: Vec<u8> = o.access.iter().map(|a| rank(*a)).collect();
            assert!(
                ranks.windows(2).all(|w| w[0] >= w[1]) || o.name == "audit.read",
                "{}",
                o.name
            );
        }
        assert_eq!(Role::parse("developer"), Some(Role::Developer));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn a_workspace_keeps_an_active_owner_and_states_are_known() {
        let members = [("o@t.co", "owner", "active"), ("a@t.co", "admin", "active")];
        let demote = decide_change(
            None,
            ("o@t.co", Some(Role::Owner)),
            Some((Role::Admin, "active")),
            members,
        );
        assert_eq!(demote, Err(AccessError::LastOwner));
        let remove = decide_change(None, ("o@t.co", Some(Role::Owner)), None, members);
        assert_eq!(remove, Err(AccessError::LastOwner));
        let promote = decide_change(
            None,
            ("a@t.co", Some(Role::Admin)),
            Some((Role::Owner, "active")),
            members,
        );
        assert_eq!(promote, Ok(()));
        let by_admin = decide_change(
            Some(Role::Admin),
            ("a@t.co", Some(Role::Admin)),
            Some((Role::Owner, "active")),
            members,
        );
        assert_eq!(by_admin.map_err(|e| e.code()), Err("insufficient_role"));
        let odd = decide_change(
            None,
            ("a@t.co", Some(Role::Admin)),
            Some((Role::Admin, "gone")),
            members,
        );
        assert_eq!(odd.map_err(|e| e.code()), Err("invalid_input"));
        assert!(
            Role::Developer
                .grantable_in("read:queries admin bogus")
                .iter()
                .eq([Scope::ReadQueries])
        );
    }

    #[test]
    fn nobody_grants_above_their_role_and_admins_never_touch_owners() {
        let allowed: ScopeSet = [Scope::ReadQueries, Scope::Admin].into_iter().collect();
        assert!(
            Role::Developer
                .grantable(&allowed)
                .iter()
                .eq([Scope::ReadQueries])
        );
        assert!(!Role::Admin.grantable(&allowed).contains(Scope::Admin));
        assert!(Role::Viewer.grantable(&allowed).is_empty());
        assert!(Role::Admin.may_assign(None, Some(Role::Admin)).is_ok());
        assert!(Role::Admin.may_assign(None, Some(Role::Owner)).is_err());
        assert!(Role::Admin.may_assign(Some(Role::Owner), None).is_err());
        assert!(
            Role::Owner
                .may_assign(Some(Role::Owner), Some(Role::Viewer))
                .is_ok()
        );
        for r in [Role::Developer, Role::Viewer] {
            let e = r.may_assign(None, Some(Role::Viewer)).unwrap_err();
            assert_eq!(e.code(), "insufficient_role");
        }
        assert!(Role::Developer.require("keys.revoke", Own).is_ok());
        assert!(Role::Developer.require("keys.revoke", Yes).is_err());
        assert_eq!(Role::Viewer.access_for(Scope::ReadQueries), No);
    }
}
