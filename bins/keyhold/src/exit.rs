//! Exit statuses (documented in docs/cli.md) and the one-line error output.

use std::process::ExitCode;

/// Maps an error (its code, then its HTTP status) to the process exit status.
pub fn status_for(code: &str, http_status: u16) -> u8 {
    match code {
        "invalid_input" => 2,
        "not_initialized" | "not_found" => 3,
        "already_initialized" | "conflict" => 4,
        "wrong_master_key" | "master_key_invalid" | "master_key_unavailable" => 5,
        "integrity_error" | "store_corrupt" | "store_version_unsupported" => 6,
        "store_busy" => 7,
        _ => match http_status {
            400 => 2,
            401 => 8,
            403 => 9,
            404 => 3,
            409 => 4,
            _ => 1,
        },
    }
}

/// The error envelope of docs/auth-and-tokens.md, as the CLI prints it with `--json`.
pub fn envelope(e: &keyhold::Error) -> serde_json::Value {
    serde_json::json!({
        "error": {
            "code": e.code(),
            "message": one_line(&e.to_string()),
            "request_id": request_id(),
            "doc_url": format!("docs/auth-and-tokens.md#{}", e.code()),
        }
    })
}

/// A random id per invocation, so a CLI error can be matched with the audit trail.
fn request_id() -> String {
    let mut b = [0u8; 8];
    // A missing /dev/urandom only costs the id its randomness, never the error report.
    let _ = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b));
    format!(
        "req_{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

/// Prints a facade error as one line (or one JSON object with `--json`) and picks the status.
pub fn error(e: &keyhold::Error, json: bool) -> ExitCode {
    if json {
        eprintln!("{}", envelope(e));
    } else {
        eprintln!("keyhold: error: {}", one_line(&e.to_string()));
    }
    ExitCode::from(status_for(e.code(), e.http_status()))
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
                .take_while(|l| {
                    !l.starts_with("Usage:")
                        && !l.trim_start().starts_with("tip:")
                        && !l.starts_with("For more information")
                })
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
