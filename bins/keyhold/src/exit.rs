//! Exit statuses (documented in docs/cli.md) and the one-line error output.

use std::process::ExitCode;

/// Maps an error code to the process exit status.
pub fn status_for(code: &str) -> u8 {
    match code {
        "invalid_input" => 2,
        "not_initialized" | "not_found" => 3,
        "already_initialized" | "conflict" => 4,
        "wrong_master_key" | "master_key_invalid" | "master_key_unavailable" => 5,
        "integrity_error" | "store_corrupt" | "store_version_unsupported" => 6,
        "store_busy" => 7,
        _ => 1,
    }
}

/// Prints a facade error as one line (or one JSON object with `--json`) and picks the status.
pub fn error(e: &keyhold::Error, json: bool) -> ExitCode {
    let message = one_line(&e.to_string());
    if json {
        let body = serde_json::json!({ "error": { "code": e.code(), "message": message } });
        eprintln!("{body}");
    } else {
        eprintln!("keyhold: error: {message}");
    }
    ExitCode::from(status_for(e.code()))
}

/// Prints a command-line parsing error as one line; help and version go to stdout as usual.
pub fn usage(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            // clap's message, without its usage block and tips, on one line.
            let rendered = e.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.trim_start().starts_with("tip:"))
                .map(|l| l.trim().trim_start_matches("error: "))
                .filter(|l| !l.is_empty())
                .collect();
            let message = if message.is_empty() {
                "invalid arguments".to_owned()
            } else {
                message.join(" ")
            };
            eprintln!("keyhold: error: {message} (see keyhold --help)");
            ExitCode::from(2)
        }
    }
}

fn one_line(s: &str) -> String {
    s.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
