//! Confirmations the assistant handed out: a destructive request waiting for the second ask
//! that lets it act. A row is named by a digest of its token (the token itself is never
//! stored), is taken — read and deleted in one statement — exactly once, and is useless after
//! it expires. The facade MACs it like every row that decides what may happen.

use crate::sql::{Mismatch, Row, values};
use crate::{StoreError, Tx};

/// A confirmation as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfirmationRow {
    /// A digest of the confirmation's token, in hex.
    pub id: String,
    /// The workspace id it acts in.
    pub workspace: String,
    /// Who asked (`key:ID` or `operator:NAME`): only they may confirm.
    pub caller: String,
    /// What was understood, as the assistant writes an intent (JSON): only that is confirmed.
    pub intent: String,
    /// Unix seconds after which it confirms nothing.
    pub expires_at: i64,
    /// The row's MAC.
    pub mac: Vec<u8>,
}

impl ConfirmationRow {
    /// Whether this confirmation confirms `intent` asked by `caller` in `workspace` at `now`:
    /// `Err` says why not (`other_caller`, `other_request`, `expired`).
    pub fn confirms(
        &self,
        caller: &str,
        workspace: &str,
        intent: &str,
        now: i64,
    ) -> Result<(), &'static str> {
        if self.caller != caller || self.workspace != workspace {
            Err("other_caller")
        } else if self.intent != intent {
            Err("other_request")
        } else if self.expires_at < now {
            Err("expired")
        } else {
            Ok(())
        }
    }
}

fn confirmation_from_row(r: &Row) -> Result<ConfirmationRow, Mismatch> {
    Ok(ConfirmationRow {
        id: r.get(0)?,
        workspace: r.get(1)?,
        caller: r.get(2)?,
        intent: r.get(3)?,
        expires_at: r.get(4)?,
        mac: r.get(5)?,
    })
}

impl Tx<'_> {
    /// Adds a confirmation, and drops those that expired before `now`.
    pub fn insert_confirmation(&self, row: &ConfirmationRow, now: i64) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM confirmations WHERE expires_at < ?1",
            values![now],
        )?;
        self.exec(
            "INSERT INTO confirmations (id, workspace, caller, intent, expires_at, mac) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            values![
                &row.id,
                &row.workspace,
                &row.caller,
                &row.intent,
                row.expires_at,
                &row.mac
            ],
        )
        .map(drop)
    }

    /// Takes the confirmation `id` if it was given to `caller`: it is deleted whatever the
    /// caller then decides, so that it is used at most once. A confirmation given to another
    /// caller is left for its owner ([`Taken::OtherCaller`]). Expired ones are dropped first.
    pub fn take_confirmation(&self, id: &str, caller: &str, now: i64) -> Result<Taken, StoreError> {
        self.exec(
            "DELETE FROM confirmations WHERE expires_at < ?1",
            values![now],
        )?;
        let taken = self.row(
            "DELETE FROM confirmations WHERE id = ?1 AND caller = ?2 \
             RETURNING id, workspace, caller, intent, expires_at, mac",
            values![id, caller],
            confirmation_from_row,
        )?;
        if let Some(row) = taken {
            return Ok(Taken::Row(row));
        }
        let exists = self.row(
            "SELECT 1 FROM confirmations WHERE id = ?1",
            values![id],
            |_| Ok(()),
        )?;
        Ok(match exists {
            Some(()) => Taken::OtherCaller,
            None => Taken::Nothing,
        })
    }
}

/// What [`Tx::take_confirmation`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// The caller's confirmation, now deleted.
    Row(ConfirmationRow),
    /// A confirmation given to another caller (left as it is).
    OtherCaller,
    /// None (never issued, used, or expired).
    Nothing,
}

#[cfg(test)]
mod tests {
    use super::ConfirmationRow;

    #[test]
    fn a_confirmation_confirms_its_own_caller_workspace_and_intent_until_it_expires() {
        let row = ConfirmationRow {
            id: "c".into(),
            workspace: "ws_1".into(),
            caller: "key:k1".into(),
            intent: "{\"intent\":\"revoke_all\"}".into(),
            expires_at: 100,
            mac: Vec::new(),
        };
        let intent = row.intent.clone();
        assert_eq!(row.confirms("key:k1", "ws_1", &intent, 100), Ok(()));
        assert_eq!(row.confirms("key:k1", "ws_1", &intent, 101), Err("expired"));
        assert_eq!(
            row.confirms("key:k2", "ws_1", &intent, 50),
            Err("other_caller")
        );
        assert_eq!(
            row.confirms("key:k1", "ws_2", &intent, 50),
            Err("other_caller")
        );
        assert_eq!(
            row.confirms("key:k1", "ws_1", "{\"intent\":\"list_keys\"}", 50),
            Err("other_request")
        );
    }
}
