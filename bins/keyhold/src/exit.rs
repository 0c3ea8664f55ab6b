//! Exit statuses (documented in docs/cli.md) and the one-line error output.

use std::process::ExitCode;

/// The error envelope of docs/auth-and-tokens.md, as the CLI prints it with `--json`.
pub fn envelope(e: &keyhold::Error) -> keyhold::api::ErrorEnvelope {
    keyhold::api::ErrorEnvelope::new(e.code(), &one_line(&e.to_string()), &request_id())
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
        let json = serde_json::to_string(&envelope(e)).unwrap_or_default();
        eprintln!("{}", printable(&json));
    } else {
        eprintln!("keyhold: error: {}", one_line(&e.to_string()));
    }
    ExitCode::from(e.exit_status())
}

/// Prints a command-line parsing error as one line, quoting an argument only if it could not
/// be a secret; help and version go to stdout as usual.
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
            // Rebuilt from the error's parts, so no argument that could be a secret is echoed.
            let argv: Vec<String> = std::env::args_os()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let message = one_line(&crate::parse_error::message(&e, &argv));
            eprintln!("keyhold: error: {message} (see keyhold --help)");
            ExitCode::from(2)
        }
    }
}

fn one_line(s: &str) -> String {
    printable(s)
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// `s` safe for a terminal: control characters (escape sequences, BEL, C1) and bidirectional
/// overrides become U+FFFD; line breaks and tabs stay. Output can carry text a server chose
/// (its error messages, key names, audit fields), and none of it may drive the terminal.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if s.chars().any(unsafe_char) {
        std::borrow::Cow::Owned(
            s.chars()
                .map(|c| if unsafe_char(c) { '\u{FFFD}' } else { c })
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_sequences_and_bidi_overrides_cannot_reach_the_terminal() {
        let hostile = "key \u{1b}]52;c;aGk=\u{7}\u{1b}[2Jgone\u{202E}txt.exe\u{9b}31m";
        let shown = super::printable(hostile);
        assert!(
            !shown.chars().any(|c| c.is_control() || c == '\u{202E}'),
            "{shown:?}"
        );
        assert!(shown.contains("gone"));
        assert_eq!(super::printable("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(super::one_line("a\nb\u{1b}[1m"), "a; b\u{FFFD}[1m");
    }
}
