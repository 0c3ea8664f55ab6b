//! `keyhold connections …` and `keyhold run`: connections and their credentials, through
//! [`Operations`], so they read the same on a local store and through a server. A credential
//! is read only from standard input (or a prompt) and handed only to `run`'s command, in its
//! environment.

use std::ffi::OsString;
use std::process::ExitCode;

use keyhold::api::{
    ActiveCredential, Connection, ConnectionKind, CreateConnection, HttpScheme, Rotate,
    SaveCredential, Secret, Slot, TestOutcome, UpdateCredential,
};
use keyhold::{Error, Operations};

use crate::args::{Args, ConnectionsCommand, CreateArgs, Kind, Scheme};
use crate::output::{Output, time};
use crate::secret_input;

/// `keyhold connections …`.
pub fn run(
    ops: &dyn Operations,
    args: &Args,
    command: &ConnectionsCommand,
    out: &Output,
) -> keyhold::Result<()> {
    let ws = args.workspace.as_deref();
    match command {
        ConnectionsCommand::Create(c) => create(ops, ws, c, out),
        ConnectionsCommand::UpdateCredentials {
            name,
            slot,
            password_stdin,
        } => update(ops, ws, (name, *slot), *password_stdin, out),
        ConnectionsCommand::Test { name, slot } => {
            let t = ops.test_credential(ws, name, slot.wire())?;
            verdict(
                &t,
                out,
                &format!("The target accepted the {} slot's credential.", slot.wire()),
            )
        }
        ConnectionsCommand::Save {
            name,
            slot,
            acknowledge_untested,
        } => {
            let req = SaveCredential {
                acknowledge_untested: *acknowledge_untested,
            };
            let c = ops.save_credential(ws, name, slot.wire(), &req)?;
            out.emit(&c, || {
                format!(
                    "The {} slot of {} is active.\n{}",
                    slot.wire(),
                    c.name,
                    human(&c)
                )
            })
        }
        ConnectionsCommand::Rotate { name, force } => {
            let t = ops.rotate_connection(ws, name, &Rotate { force: *force })?;
            verdict(&t, out, &format!("Rotated {}.", t.connection.name))
        }
        ConnectionsCommand::List => {
            let list = ops.connections(ws)?;
            out.emit(&list, || {
                if list.is_empty() {
                    return "No connections.".to_owned();
                }
                list.iter().map(line).collect::<Vec<_>>().join("\n")
            })
        }
        ConnectionsCommand::Show { name } => {
            let c = ops.connection(ws, name)?;
            out.emit(&c, || human(&c))
        }
        ConnectionsCommand::Delete { name, yes } => {
            if !yes {
                return Err(Error::InvalidInput {
                    field: "yes",
                    reason: format!("deleting {name} destroys its credentials: add --yes"),
                });
            }
            let c = ops.delete_connection(ws, name)?;
            out.emit(&c, || {
                format!("Deleted connection {} and its credentials.", c.name)
            })
        }
    }
}

fn create(
    ops: &dyn Operations,
    ws: Option<&str>,
    c: &CreateArgs,
    out: &Output,
) -> keyhold::Result<()> {
    let made = ops.create_connection(ws, &create_request(c)?)?;
    out.emit(&made, || {
        format!("Created connection {}.\n{}", made.name, human(&made))
    })
}

fn update(
    ops: &dyn Operations,
    ws: Option<&str>,
    (name, slot): (&str, crate::args::Slot),
    piped: bool,
    out: &Output,
) -> keyhold::Result<()> {
    let secret = secret_input::credential("credential", piped)?;
    let req = UpdateCredential {
        password: Secret::new(secret.as_str()),
    };
    let c = ops.update_credential(ws, name, slot.wire(), &req)?;
    out.emit(&c, || {
        let slot = slot.wire();
        format!(
            "Staged a new credential in the {slot} slot of {}; test it next.",
            c.name
        )
    })
}

/// A test's outcome: printed either way, and an error (non-zero exit) if the target refused.
fn verdict(t: &TestOutcome, out: &Output, passed: &str) -> keyhold::Result<()> {
    out.emit(t, || {
        if t.passed {
            format!("{passed}\n{}", human(&t.connection))
        } else {
            format!("{}\n{}", refusal(t), human(&t.connection))
        }
    })?;
    if t.passed {
        Ok(())
    } else {
        Err(Error::rejected_by_target(refusal(t)))
    }
}

fn refusal(t: &TestOutcome) -> String {
    let why = t.detail.as_deref().unwrap_or("the target refused it");
    format!("Test failed: {why}. The active credential keeps serving.")
}

fn create_request(c: &CreateArgs) -> keyhold::Result<CreateConnection> {
    let admin_password = if c.admin_password_stdin {
        Some(Secret::new(
            secret_input::credential("admin password", true)?.as_str(),
        ))
    } else {
        None
    };
    let secs = |d: &humantime::Duration| d.as_secs();
    Ok(CreateConnection {
        name: c.name.clone(),
        kind: match c.kind {
            Kind::Postgres => ConnectionKind::Postgres,
            Kind::Http => ConnectionKind::Http,
            Kind::Generic => ConnectionKind::Generic,
        },
        host: c.host.clone(),
        port: c.port,
        database: c.database.clone(),
        url: c.url.clone(),
        scheme: c.scheme.map(|s| match s {
            Scheme::Bearer => HttpScheme::Bearer,
            Scheme::Basic => HttpScheme::Basic,
        }),
        primary_user: c.primary_user.clone(),
        secondary_user: c.secondary_user.clone(),
        admin_user: c.admin_user.clone(),
        admin_password,
        grace_secs: secs(&c.grace),
        rotate_every_secs: c.rotate_every.as_ref().map(secs),
    })
}

fn line(c: &Connection) -> String {
    let active = c.active.map_or("none", |s| s.as_str());
    format!("{:<24} {:<9} active: {active}", c.name, kind(c.kind))
}

fn kind(k: ConnectionKind) -> &'static str {
    match k {
        ConnectionKind::Postgres => "postgres",
        ConnectionKind::Http => "http",
        ConnectionKind::Generic => "generic",
    }
}

fn slot_line(name: &str, s: &Slot) -> String {
    let json = serde_json::to_value(s.state).unwrap_or_default();
    let mut parts = vec![format!("{name:<9} {}", json.as_str().unwrap_or("?"))];
    if let Some(v) = s.version {
        parts.push(format!("v{v}"));
    }
    if let Some(u) = &s.user {
        parts.push(format!("user {u}"));
    }
    if let Some(t) = s.tested_at {
        parts.push(format!("tested {}", time(t)));
    }
    if let Some(f) = s.failure {
        let json = serde_json::to_value(f).unwrap_or_default();
        parts.push(format!("failure {}", json.as_str().unwrap_or("?")));
    }
    if let Some(t) = s.standby_until {
        parts.push(format!("valid until {}", time(t)));
    }
    parts.join(", ")
}

/// A connection for people: never a secret.
fn human(c: &Connection) -> String {
    let mut out = vec![line(c)];
    if let (Some(h), Some(p), Some(d)) = (&c.target.host, c.target.port, &c.target.database) {
        out.push(format!("  target    {h}:{p}/{d}"));
    }
    if let Some(u) = &c.target.url {
        out.push(format!("  target    {u}"));
    }
    out.push(format!("  {}", slot_line("primary", &c.slots.primary)));
    out.push(format!("  {}", slot_line("secondary", &c.slots.secondary)));
    out.push(format!("  grace     {} s", c.grace_secs));
    match (c.rotate_every_secs, c.next_rotation_due) {
        (Some(every), Some(due)) => {
            out.push(format!(
                "  rotates   every {every} s; next due {}",
                time(due)
            ));
        }
        (Some(every), None) => out.push(format!("  rotates   every {every} s; not scheduled")),
        _ => {}
    }
    if let Some(t) = c.last_used_at {
        out.push(format!("  last used {}", time(t)));
    }
    out.join("\n")
}

/// The environment `keyhold run` gives the command for credential `c`.
pub fn environment(c: &ActiveCredential) -> Vec<(String, keyhold::Zeroizing<String>)> {
    let z = |s: &str| keyhold::Zeroizing::new(s.to_owned());
    let prefix: String = c
        .connection
        .chars()
        .map(|ch| {
            if ch == '-' {
                '_'
            } else {
                ch.to_ascii_uppercase()
            }
        })
        .collect();
    let mut env = Vec::new();
    match c.kind {
        ConnectionKind::Postgres => {
            for (k, v) in [
                ("PGHOST", c.host.as_deref()),
                ("PGDATABASE", c.database.as_deref()),
                ("PGUSER", c.user.as_deref()),
            ] {
                if let Some(v) = v {
                    env.push((k.to_owned(), z(v)));
                }
            }
            if let Some(p) = c.port {
                env.push(("PGPORT".to_owned(), z(&p.to_string())));
            }
            // EXPOSE: the command's own environment is where the credential goes.
            env.push(("PGPASSWORD".to_owned(), z(c.password.expose())));
        }
        ConnectionKind::Http | ConnectionKind::Generic => {
            if let Some(u) = &c.url {
                env.push((format!("{prefix}_URL"), z(u)));
            }
            if let Some(u) = &c.user {
                env.push((format!("{prefix}_USER"), z(u)));
            }
            // EXPOSE: the command's own environment is where the credential goes.
            env.push((format!("{prefix}_TOKEN"), z(c.password.expose())));
        }
    }
    env
}

/// `keyhold run --connection NAME -- CMD …`: CMD's exit status, or an error before it ran.
pub fn run_command(
    ops: &dyn Operations,
    args: &Args,
    connection: &str,
    command: &[OsString],
) -> keyhold::Result<ExitCode> {
    let credential = ops.active_credential(args.workspace.as_deref(), connection)?;
    let (program, rest) = command.split_first().ok_or_else(|| Error::InvalidInput {
        field: "command",
        reason: "name the command to run after --".into(),
    })?;
    let mut child = std::process::Command::new(program);
    child.args(rest);
    // The command gets the connection's credential, not keyhold's own keys; and for a
    // database none of libpq's other variables (PGHOSTADDR, PGSERVICE, PGPASSFILE, ...), which
    // could send the password elsewhere or log in some other way.
    for var in ["KEYHOLD_TOKEN", "KEYHOLD_MASTER_KEY"] {
        child.env_remove(var);
    }
    if credential.kind == ConnectionKind::Postgres {
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("PG") {
                child.env_remove(var);
            }
        }
    }
    let env = environment(&credential);
    if env.iter().any(|(k, _)| k.starts_with("KEYHOLD")) {
        return Err(Error::InvalidInput {
            field: "connection",
            reason: "its variables would be keyhold's own (KEYHOLD_…): rename the connection"
                .into(),
        });
    }
    for (k, v) in env {
        child.env(k, v.as_str());
    }
    let status = child.status().map_err(|e| Error::Io {
        path: program.into(),
        kind: e.kind(),
    })?;
    drop(credential);
    let code = status
        .code()
        .or_else(|| std::os::unix::process::ExitStatusExt::signal(&status).map(|s| 128 + s))
        .unwrap_or(1);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
