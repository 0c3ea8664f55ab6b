//! Azi in the facade: a sentence, read by `keyhold-assistant` into an intent and a plan, is
//! carried out as the same operation the other surfaces call — as the caller, through the
//! `assistant` surface, with the intent (never the sentence) in every event. A destructive
//! plan acts only on its second ask, with the confirmation the first one stored.

use keyhold_api::{AskReply, Confirmation, Done, KeyList, MintBody};
use keyhold_assistant::Plan;
use keyhold_store::ConfirmationRow;

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
        let (Some(plan), caller) = (intent.plan().map_err(invalid)?, caller.clone()) else {
            return Ok(AskReply::pending(&json, None));
        };
        let caller = &caller.asking(intent.kind());
        let scope: Scope = plan.scope().parse()?;
        match (plan.confirmation(), confirmation) {
            (Some(question), None) => {
                let c = self.confirmation(caller, workspace, scope, &json, question)?;
                return Ok(AskReply::pending(&json, Some(c)));
            }
            (Some(_), Some(token)) => self.confirmed(caller, workspace, &json, token)?,
            (None, Some(_)) => return Err(Error::Confirmation("there is nothing to confirm")),
            (None, None) => {}
        }
        Ok(AskReply::done(
            &json,
            self.carry_out(caller, workspace, plan)?,
        ))
    }

    /// Stores a confirmation of `intent` for `caller`, who must hold `scope` there.
    fn confirmation(
        &self,
        caller: &Caller,
        workspace: &str,
        scope: Scope,
        intent: &str,
        question: String,
    ) -> Result<Confirmation> {
        let token = keyhold_crypto::random::identifier("khc_", 32)?;
        let (now, expires_at) = (now(), now() + CONFIRMATION_SECS);
        self.store.write(|tx| -> Result<()> {
            let ws = self.resolve(tx, workspace)?;
            caller.require(scope, &ws.id)?;
            let mut row = ConfirmationRow {
                id: digest(&token),
                workspace: ws.id,
                caller: caller.name(),
                intent: intent.to_owned(),
                expires_at,
                mac: Vec::new(),
            };
            self.rows.mac_confirmation(&mut row)?;
            Ok(tx.insert_confirmation(&row, now)?)
        })?;
        Ok(Confirmation {
            expires_at,
            question,
            token,
        })
    }

    /// Takes the confirmation `token` — used up whether or not it confirms — and checks that it
    /// was given to `caller`, in `workspace`, for `intent`, and has not expired.
    fn confirmed(&self, caller: &Caller, workspace: &str, intent: &str, token: &str) -> Result<()> {
        let verdict = self.store.write(|tx| -> Result<Result<(), &str>> {
            let ws = self.resolve(tx, workspace)?;
            let Some(row) = tx.take_confirmation(&digest(token))? else {
                return Ok(Err("is unknown or was used already"));
            };
            self.rows.check_confirmation(&row)?;
            Ok(row.confirms(&caller.name(), &ws.id, intent, now()))
        })?;
        verdict.map_err(Error::Confirmation)
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

/// A confirmation's row id: a digest of its token, which is never stored.
fn digest(token: &str) -> String {
    keyhold_crypto::random::prefixed_hex("", &keyhold_crypto::sha256(token.as_bytes()))
}
