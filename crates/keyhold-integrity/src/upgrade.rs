//! The one-time upgrade of a store from before authenticated rows (schema 5), as far as it is
//! about rows: the refusal of a store whose schema version was put back, the verdict on the
//! signing keys the audit chain never named, the order signing keys are authenticated in, mint
//! numbers in creation order and revoke-all instants translated to marks. What the chain says
//! comes in as plain values; the caller records the upgrade in the chain.

use keyhold_store::{ApiKeyRow, SigningKeyRow, SigningKeyState, Tx, WorkspaceRow};

use crate::{IntegrityError, RowAuth, meta, row_key_record};

fn downgraded(detail: &str) -> IntegrityError {
    IntegrityError::row(
        "schema version",
        format!(
            "the store says its rows are not authenticated yet, but {detail}: its schema \
             version was put back; refusing to authenticate its rows"
        ),
    )
}

/// Refuses a store that carries anything an upgrade would have made: a row key, a witness,
/// an identity MAC, a mint counter (someone put the schema version back to have forged rows
/// blessed).
pub fn refuse_leftovers(tx: &Tx<'_>) -> Result<(), IntegrityError> {
    if tx.record_version(&row_key_record())? > 0 {
        return Err(downgraded("it has a row key"));
    }
    for name in [meta::WITNESS, meta::IDENTITY_MAC, meta::MINT_COUNTER] {
        if tx.meta(name)?.is_some() {
            return Err(downgraded(&format!("it has meta {name}")));
        }
    }
    Ok(())
}

/// Refuses the upgrade when the audit chain records an earlier one.
pub fn refuse_earlier_upgrade(chain_records_one: bool) -> Result<(), IntegrityError> {
    if chain_records_one {
        return Err(downgraded("its audit chain records an earlier upgrade"));
    }
    Ok(())
}

/// What to do with the signing keys: the ones to delete, and the ones to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyPlan {
    /// Retiring keys the chain never named that the operator dropped, by id.
    pub delete: Vec<String>,
    /// Every other row.
    pub keep: Vec<SigningKeyRow>,
}

/// The verdict on signing keys the chain never names (`named` says which it does): a store
/// has one at most (its first). A retiring one is the store's first key only on the operator's
/// word (an attacker could have put one there): accepted (`accept`) or dropped (`drop`) by id.
pub fn settle_unnamed_signing_keys(
    signing: Vec<SigningKeyRow>,
    named: impl Fn(&str) -> bool,
    accept: &[String],
    drop: &[String],
) -> Result<SigningKeyPlan, IntegrityError> {
    let unnamed: Vec<String> = signing
        .iter()
        .filter(|k| !named(&k.kid))
        .map(|k| k.kid.clone())
        .collect();
    if unnamed.len() > 1 {
        return Err(IntegrityError::row(
            format!("signing key {}", unnamed.join(", ")),
            "the audit chain names none of these signing keys (a store has one unnamed key at \
             most: its first)",
        ));
    }
    let mut delete = Vec::new();
    for kid in &unnamed {
        let retiring = signing
            .iter()
            .any(|k| k.kid == *kid && k.state == SigningKeyState::Retiring);
        if !retiring {
            continue;
        }
        if drop.iter().any(|k| k == kid) {
            delete.push(kid.clone());
        } else if !accept.iter().any(|k| k == kid) {
            return Err(needs_word(kid));
        }
    }
    let keep = signing
        .into_iter()
        .filter(|k| !(unnamed.contains(&k.kid) && drop.contains(&k.kid)))
        .collect();
    Ok(SigningKeyPlan { delete, keep })
}

fn needs_word(kid: &str) -> IntegrityError {
    IntegrityError::row(
        format!("signing key {kid}"),
        format!(
            "upgrading this store to authenticated rows needs your word on this retiring \
             signing key, which its audit chain does not name: run `keyhold upgrade \
             --accept-signing-key {kid}` if it is a key this store signed with (compare it \
             with a JWKS you published), or `keyhold upgrade --drop-signing-key {kid}` (the \
             tokens it signed are then refused)"
        ),
    )
}

/// The signing keys in the order they are authenticated and named in the chain: retiring
/// ones by creation, the active one last. A store has exactly one active signing key.
pub fn signing_keys_in_order(
    mut signing: Vec<SigningKeyRow>,
) -> Result<Vec<SigningKeyRow>, IntegrityError> {
    let mut active = signing
        .iter()
        .filter(|k| k.state == SigningKeyState::Active);
    if !matches!((active.next(), active.next()), (Some(_), None)) {
        return Err(IntegrityError::row(
            "signing keys",
            "a store has exactly one active signing key",
        ));
    }
    signing.sort_by_key(|k| (k.state == SigningKeyState::Active, k.created_at));
    Ok(signing)
}

/// Numbers `keys` (as the store lists them: in creation order) 1, 2, …; returns the last
/// number handed out (0 for none), the mint counter's value.
pub fn number_in_creation_order(keys: &mut [ApiKeyRow]) -> i64 {
    let mut last = 0;
    for (i, row) in keys.iter_mut().enumerate() {
        row.mint_seq = i64::try_from(i).unwrap_or(i64::MAX - 1) + 1;
        last = row.mint_seq;
    }
    last
}

/// A workspace's revoke-all instant translated to a mark, by the old rule: keys of the
/// workspace minted at or before the instant are revoked, so the mark is the highest number
/// among them (0 if none). `None` if the workspace was never revoked all at once.
pub fn revoke_all_mark(ws: &WorkspaceRow, numbered: &[ApiKeyRow]) -> Option<i64> {
    ws.revoked_all_at_ms.map(|at| {
        numbered
            .iter()
            .filter(|k| k.workspace == ws.id && k.created_at_ms <= at)
            .map(|k| k.mint_seq)
            .max()
            .unwrap_or(0)
    })
}

impl RowAuth {
    /// Mint sequence numbers in creation order, the mint counter, and revoke-all marks
    /// translated from their instants; a MAC on every key and workspace row, written.
    pub fn authenticate_keys_and_workspaces(
        &self,
        tx: &Tx<'_>,
        mut keys: Vec<ApiKeyRow>,
        workspaces: Vec<WorkspaceRow>,
    ) -> Result<(), IntegrityError> {
        let last = number_in_creation_order(&mut keys);
        for row in &mut keys {
            self.mac_api_key(row)?;
            tx.set_api_key_auth(&row.jti, row.mint_seq, &row.mac)?;
        }
        self.set_mint_counter(tx, last)?;
        for mut ws in workspaces {
            ws.revoked_all_seq = revoke_all_mark(&ws, &keys);
            self.mac_workspace(&mut ws)?;
            tx.set_workspace_auth(&ws.id, ws.revoked_all_seq, &ws.mac)?;
        }
        Ok(())
    }
}
