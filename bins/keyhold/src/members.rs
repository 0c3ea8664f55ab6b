//! `keyhold members …`: the people of a workspace, through [`Operations`] (so the same on a
//! local store and through a server), and `members enrol` on a local store.

use keyhold::api::{AddMember, Member, Policy, Secret, UpdateMember};
use keyhold::{Keyhold, Operations};

use crate::args::MembersCommand;
use crate::output::{Output, time};
use crate::{exit, secret_input};

/// `keyhold members …` (all but `enrol`).
pub fn run(
    ops: &dyn Operations,
    ws: Option<&str>,
    command: &MembersCommand,
    out: &Output,
) -> keyhold::Result<()> {
    let update = |email: &str, role: Option<&str>, state: Option<&str>| {
        let req = UpdateMember {
            role: role.map(str::to_owned),
            state: state.map(str::to_owned),
        };
        let m = ops.update_member(ws, email, &req)?;
        out.emit(&m, || line(&m))
    };
    match command {
        MembersCommand::Add {
            email,
            role,
            name,
            password_stdin,
        } => add(
            ops,
            ws,
            (email, role, name.as_deref()),
            *password_stdin,
            out,
        ),
        MembersCommand::List => list(ops, ws, out),
        MembersCommand::Show { email } => {
            let wanted = email.trim().to_ascii_lowercase();
            let m = ops.members(ws)?.into_iter().find(|m| m.email == wanted);
            let m = m.ok_or_else(|| {
                keyhold::Error::NotFound(format!("member {}", keyhold::api::names::quoted(&wanted)))
            })?;
            out.emit(&m, || line(&m))
        }
        MembersCommand::SetRole { email, role } => update(email, Some(role), None),
        MembersCommand::Disable { email } => update(email, None, Some("disabled")),
        MembersCommand::Enable { email } => update(email, None, Some("active")),
        MembersCommand::Remove { email, revoke_keys } => {
            let m = ops.remove_member(ws, email, *revoke_keys)?;
            out.emit(&m, || format!("Removed {}; their sessions ended.", m.email))
        }
        MembersCommand::Policy {
            developer_scopes,
            require_totp,
        } => {
            let p = Policy {
                developer_scopes: developer_scopes.clone(),
                require_totp: *require_totp,
            };
            let p = ops.set_policy(ws, &p)?;
            out.emit(&p, || {
                format!(
                    "Developers' keys may carry: {}. Second factor required: {}.",
                    p.developer_scopes.join(" "),
                    if p.require_totp { "yes" } else { "no" }
                )
            })
        }
        MembersCommand::Enrol => Err(keyhold::Error::Internal("enrol is dispatched before")),
    }
}

/// `keyhold members add`: the enrolment code on stdout, once (or the member, with a password).
fn add(
    ops: &dyn Operations,
    ws: Option<&str>,
    (email, role, name): (&str, &str, Option<&str>),
    password_stdin: bool,
    out: &Output,
) -> keyhold::Result<()> {
    let password = match password_stdin {
        true => Some(Secret::new(
            secret_input::credential("password", true)?.as_str(),
        )),
        false => None,
    };
    let req = AddMember {
        email: email.to_owned(),
        role: role.to_owned(),
        display_name: name.map(str::to_owned),
        password,
    };
    let added = ops.add_member(ws, &req)?;
    match &added.enrolment {
        // EXPOSE: the one moment the enrolment code is shown; stdout only.
        Some(_) if out.json => {
            out.print(&crate::output::pretty_json(&added)?);
            Ok(())
        }
        Some(e) => {
            out.print(e.code.expose());
            let note = format!(
                "keyhold: added {} as {} ({}). Give them the code above: it sets their password once, until {}.",
                added.member.email,
                added.member.role,
                added.member.state,
                time(e.expires_at)
            );
            eprintln!("{}", exit::printable(&note));
            Ok(())
        }
        None => out.emit(&added.member, || format!("Added {}.", line(&added.member))),
    }
}

/// `keyhold members list`.
fn list(ops: &dyn Operations, ws: Option<&str>, out: &Output) -> keyhold::Result<()> {
    let list = ops.members(ws)?;
    out.emit(&list, || {
        let mut s = format!(
            "{:<32} {:<10} {:<9} {:<21}",
            "EMAIL", "ROLE", "STATE", "LAST SIGN-IN"
        );
        for m in &list {
            let seen = m.last_sign_in.map_or_else(|| "never".to_owned(), time);
            s.push_str(&format!(
                "\n{:<32} {:<10} {:<9} {:<21}",
                m.email, m.role, m.state, seen
            ));
        }
        s
    })
}

/// `keyhold members enrol`: redeems a code on this store.
pub fn enrol(kh: &Keyhold, out: &Output) -> keyhold::Result<()> {
    let code = secret_input::credential("enrolment code", true)?;
    let password = secret_input::credential("new password", true)?;
    let origin = keyhold::Origin::new(keyhold::Surface::Cli);
    kh.redeem_enrolment(&origin, &code, &password)?;
    out.emit(&serde_json::json!({ "status": "enrolled" }), || {
        "Enrolled: your password is set.".to_owned()
    })
}

fn line(m: &Member) -> String {
    format!("{} ({}): {}, {}", m.email, m.display_name, m.role, m.state)
}
