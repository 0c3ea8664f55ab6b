//! Azi in the facade: a sentence, read by `keyhold-assistant` into an intent and a plan, is
//! carried out as the same operation the other surfaces call — as the caller, through the
//! `assistant` surface, with the intent (never the sentence) in every event. A destructive
//! plan acts only on its second ask, with the confirmation the first one stored.

use keyhold_api::{AskReply, Confirmation, Done, KeyList, MintBody};
use keyhold_assistant::Plan;
use keyhold_audit::events::{confirmation_issued, confirmation_refused};
use keyhold_store::{ConfirmationRow, Taken};

use crate::{Caller, Error, Keyhold, MintRequest, Result, Scope, Token, now};

/// How long a confirmation confirms (seconds): long enough to read the question, too short
/// to be kept.
pub const CONFIRMATION_SECS: i64 = 120;

impl Keyhold {
    /// Asks Azi, as `caller` in `workspace` (an id or a name). An answer (refusal, question,
    /// help) does nothing; a destructive request without `confirmation` stores one and asks
    /// for it; otherwise the request is carried out with the caller's own scopes.
    pub fn ask(
        &self,
        caller: &Caller,
        workspace: &str,
        sentence: &str,
        confirmation: Option<&str>,
    ) -> Result<AskReply<Token>> {
        let intent = keyhold_assistant::parse(sentence);
        let json = intent.to_json();
        let invalid = |reason: String| Error::InvalidInput {
            field: "request",
            reason,
        };
        let plan = intent.plan().map_err(invalid)?;
        let caller = &caller.clone().asking(intent.kind());
        match (plan.as_ref().and_then(Plan::confirmation), confirmation) {
            (Some(question), None) => {
                let plan = plan
                    .as_ref()
                    .ok_or(Error::Internal("a question without a plan"))?;
                let c = self.confirmation(caller, workspace, plan, question)?;
                return Ok(AskReply::pending(&json, Some(c)));
            }
            (Some(_), Some(token)) => {
                let plan = plan
                    .as_ref()
                    .ok_or(Error::Internal("a question without a plan"))?;
                self.confirmed(caller, workspace, &plan.to_json(), token)?
            }
            (None, Some(_)) => {
                return Err(Error::Confirmation(
                    "confirms nothing: there is nothing to confirm",
                ));
            }
            (None, None) => {}
        }
        let Some(plan) = plan else {
            return Ok(AskReply::pending(&json, None));
        };
        Ok(AskReply::done(
            &json,
            self.carry_out(caller, workspace, plan)?,
        ))
    }

    /// Stores a confirmation of `plan` for `caller`, who must hold the scope it needs there,
    /// and records that it was handed out.
    fn confirmation(
        &self,
        caller: &Caller,
        workspace: &str,
        plan: &Plan,
        question: String,
    ) -> Result<Confirmation> {
        let token = keyhold_crypto::random::identifier("khc_", 32)?;
        let (now, expires_at) = (now(), now() + CONFIRMATION_SECS);
        let scope: Scope = plan.scope().parse()?;
        self.store.write(|tx| -> Result<()> {
            let ws = self.resolve(tx, workspace)?;
            caller.require(scope, &ws.id)?;
            let id = keyhold_crypto::sha256_hex(token.as_bytes());
            let kind = plan.kind();
            let event = confirmation_issued(&ws.id, &id[..16], kind, expires_at)?;
            let mut row = ConfirmationRow {
                id,
                workspace: ws.id,
                caller: caller.name(),
                intent: plan.to_json(),
                expires_at,
                mac: Vec::new(),
            };
            self.rows.mac_confirmation(&mut row)?;
            tx.insert_confirmation(&row, now)?;
            self.audit(tx, caller, event)
        })?;
        Ok(Confirmation {
            expires_at,
            question,
            token,
        })
    }

    /// Takes `caller`'s confirmation `token` — used up whether or not it confirms — and checks
    /// that it was given in `workspace` for `plan` and has not expired. Another caller's
    /// confirmation is left to its owner. A refusal is recorded.
    fn confirmed(&self, caller: &Caller, workspace: &str, plan: &str, token: &str) -> Result<()> {
        let verdict = self.store.write(|tx| -> Result<Result<(), &str>> {
            let ws = self.resolve(tx, workspace)?;
            let id = keyhold_crypto::sha256_hex(token.as_bytes());
            let why = match tx.take_confirmation(&id, &caller.name(), now())? {
                Taken::Row(row) => {
                    self.rows.check_confirmation(&row)?;
                    match row.confirms(&caller.name(), &ws.id, plan, now()) {
                        Ok(()) => return Ok(Ok(())),
                        Err(why) => why,
                    }
                }
                Taken::OtherCaller => "other_caller",
                Taken::Nothing => "unknown",
            };
            self.audit(tx, caller, confirmation_refused(&ws.id, &id[..16], why)?)?;
            Ok(Err(why))
        })?;
        verdict.map_err(|why| {
            Error::Confirmation(match why {
                "unknown" => "is unknown, used already or expired",
                "other_caller" => "was given to another caller",
                "other_request" => "was given for another request",
                _ => "has expired",
            })
        })
    }

    fn carry_out(&self, caller: &Caller, workspace: &str, plan: Plan) -> Result<Done<Token>> {
        Ok(match plan {
            Plan::Mint {
                name,
                expires,
                scopes,
            } => {
                let body = MintBody::new(name, expires, &scopes);
                let m = self.mint_key(caller, &MintRequest::from_body(workspace.into(), body)?)?;
                Done::minted(m.key, m.token)
            }
            Plan::List => Done::Keys(KeyList {
                keys: self.keys(caller, workspace)?,
            }),
            Plan::Revoke { key } => Done::Revoked(self.revoke_key(caller, workspace, &key)?),
            Plan::RevokeAll => Done::RevokedAll(self.revoke_all_keys(caller, workspace)?),
            Plan::Rotate { connection } => {
                Done::Rotated(self.rotate_connection(caller, workspace, &connection, false)?)
            }
        })
    }
}
