//! `keyhold`: the command-line interface. Parses arguments, calls the facade, prints the
//! result; errors are one line on stderr and a documented exit status (docs/cli.md).
#![forbid(unsafe_code)]
// A command-line program's job is to print.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod ask;
mod audit;
mod connections;
mod exit;
mod keys;
mod login;
mod members;
mod output;
mod parse_error;
mod secret_input;
mod store;
mod store_args;

use std::process::ExitCode;

use clap::Parser;
use keyhold::{Caller, KeySource, Keyhold, Local, Operations, Remote};

use crate::args::{Args, Command, MembersCommand, SigningKeyCommand};
use crate::output::Output;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => return exit::usage(e),
    };
    let json = args.json;
    if let Command::Run {
        connection,
        command,
    } = &args.command
    {
        let ran = operations(&args)
            .and_then(|ops| connections::run_command(ops.as_ref(), &args, connection, command));
        return ran.unwrap_or_else(|e| exit::error(&e, json));
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::error(&e, json),
    }
}

fn key_source(args: &Args) -> KeySource {
    let file = args
        .master_key_file
        .clone()
        .unwrap_or_else(|| keyhold::default_key_file(&args.data_dir));
    KeySource::from_env_or_file(file)
}

/// Where the store is: `--store`, else the data directory.
fn store_at(args: &Args) -> keyhold::Result<keyhold::StoreAt> {
    Ok(keyhold::StoreAt::or_data_dir(
        args.store.as_deref(),
        &args.data_dir,
    )?)
}

/// Opens the store (which needs its master key).
fn open(args: &Args) -> keyhold::Result<Keyhold> {
    Keyhold::open_at(
        &store_at(args)?,
        key_source(args),
        &keyhold::Upgrade::default(),
    )
}

/// Where key, token and audit commands go: a server if one is named, else the local store.
fn operations(args: &Args) -> keyhold::Result<Box<dyn Operations>> {
    if args.server.is_none() {
        return Ok(Box::new(Local::new(
            open(args)?,
            Caller::operator().via(keyhold::Surface::Cli),
        )));
    }
    let (url, ca) = server_of(args, "")?;
    // An API key in KEYHOLD_TOKEN first; otherwise the session of `keyhold login`.
    if std::env::var_os("KEYHOLD_TOKEN").is_none()
        && let Some(me) = login::session(&url, ca.as_deref())?
    {
        return Ok(Box::new(me));
    }
    let key = secret_input::server_key()?;
    Ok(Box::new(Remote::new(&url, &key, ca.as_deref())?))
}

/// The server a command goes through, and the CA certificates to trust for it.
fn server_of(args: &Args, command: &str) -> keyhold::Result<(String, Option<Vec<u8>>)> {
    let url = args
        .server
        .clone()
        .ok_or_else(|| keyhold::Error::InvalidInput {
            field: "server",
            reason: format!("`keyhold {command}` needs --server URL (or KEYHOLD_ADDR)"),
        })?;
    let ca = args
        .ca_cert
        .as_ref()
        .map(|f| {
            std::fs::read(f).map_err(|e| keyhold::Error::Io {
                path: f.clone(),
                kind: e.kind(),
            })
        })
        .transpose()?;
    Ok((url, ca))
}

/// Opens the local store for a command that needs it (and the master key) itself.
fn local_store(args: &Args, command: &str) -> keyhold::Result<Keyhold> {
    refuse_remote(args, command)?;
    open(args)
}

/// Refuses a store-only command given a server.
fn refuse_remote(args: &Args, command: &str) -> keyhold::Result<()> {
    if args.server.is_some() {
        return Err(keyhold::Error::InvalidInput {
            field: "server",
            reason: format!(
                "`keyhold {command}` works on the store itself and needs its master key; run it without --server/KEYHOLD_ADDR where the store is"
            ),
        });
    }
    Ok(())
}

/// Runs one command: each goes to the module of its group.
fn run(args: Args) -> keyhold::Result<()> {
    let out = Output { json: args.json };
    match &args.command {
        Command::Init => store::init(&args, &out),
        Command::Status => store::status(&args, &out),
        Command::Upgrade { accept, drop } => store::upgrade(&args, accept, drop, &out),
        Command::Workspace { command } => store::workspace(&args, command, &out),
        Command::Keys { command } => keys::run(operations(&args)?.as_ref(), &args, command, &out),
        Command::Connections { command } => {
            connections::run(operations(&args)?.as_ref(), &args, command, &out)
        }
        Command::Run { .. } => Err(keyhold::Error::Internal("run is dispatched before")),
        Command::Login {
            email,
            password_stdin,
            totp,
        } => {
            let (server, ca) = server_of(&args, "login")?;
            let who = (email.as_deref(), *password_stdin, *totp);
            login::login(&server, ca.as_deref(), who, args.workspace.as_deref(), &out)
        }
        Command::Logout => {
            let (server, ca) = server_of(&args, "logout")?;
            login::logout(&server, ca.as_deref(), &out)
        }
        Command::Members {
            command: MembersCommand::Enrol,
        } => members::enrol(&local_store(&args, "members enrol")?, &out),
        Command::Members { command } => members::run(
            operations(&args)?.as_ref(),
            args.workspace.as_deref(),
            command,
            &out,
        ),
        Command::Ask {
            sentence,
            dry_run,
            yes,
        } => {
            let ops = || operations(&args);
            let asked = (sentence.as_str(), *dry_run, *yes);
            ask::run(ops, args.workspace.as_deref(), asked, &out)
        }
        Command::Audit { command } => audit::run(&args, command, &out),
        Command::Jwks => keys::jwks(operations(&args)?.as_ref(), &out),
        Command::SigningKey {
            command: SigningKeyCommand::Rotate,
        } => keys::rotate_signing_key(operations(&args)?.as_ref(), &out),
        Command::Rekey(rekey) => store::rekey(&args, rekey, &out),
        Command::Store { command } => store::migrate(&args, command, &out),
    }
}
