//! The one-line message for a command-line parsing error, quoting only what could not be a
//! secret.
//!
//! A token pasted where it does not belong (`keyhold keys verify "$TOKEN"`, `--scope "$TOKEN"`)
//! must not come back on stderr, which often ends up in CI logs. clap's own messages quote the
//! offending argument verbatim, so the message is rebuilt here from the error's kind and
//! context: text from the command's definition (option names, subcommands, accepted values) is
//! shown as is; text the user typed is shown only if it is plausible as a name or id (the rule
//! the facade applies to identifiers in its messages). A value parser's explanation is shown
//! only if it contains no piece of an implausible argument.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// What stands in for an argument that is not shown.
pub const NOT_SHOWN: &str = "(not shown: not a valid name or id)";

/// Whether `arg` may be echoed: non-empty, at most 64 bytes, and only ASCII lowercase letters,
/// digits and `._-:@/`. A token, a key or a password essentially never passes (they carry
/// uppercase letters, `=`, `+` or are long); names, ids, presets and scopes do.
pub fn plausible(arg: &str) -> bool {
    !arg.is_empty()
        && arg.len() <= 64
        && arg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-:@/".contains(&b))
}

/// `'arg'` if it is plausible, otherwise [`NOT_SHOWN`].
pub fn quoted(arg: &str) -> String {
    if plausible(arg) {
        format!("'{arg}'")
    } else {
        NOT_SHOWN.to_owned()
    }
}

/// The shortest run of an implausible argument that is treated as a leak if it shows up.
const LEAK_WINDOW: usize = 8;

/// The parts of `argv` that must not appear in a message: every implausible argument, and for
/// `--option=value` the implausible value alone (the option's name may be quoted from the
/// definition).
fn hidden_parts(argv: &[String]) -> Vec<&str> {
    let mut parts = Vec::new();
    for arg in argv {
        let value = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => value,
            _ => arg.as_str(),
        };
        if !value.is_empty() && !plausible(value) {
            parts.push(value);
        }
    }
    parts
}

/// Whether `text` contains any hidden part, or any run of [`LEAK_WINDOW`] bytes of one.
fn leaks(text: &str, hidden: &[&str]) -> bool {
    hidden.iter().any(|part| {
        if part.len() <= LEAK_WINDOW {
            return text.contains(part);
        }
        (0..=part.len() - LEAK_WINDOW).any(|start| {
            part.get(start..start + LEAK_WINDOW)
                .is_some_and(|window| text.contains(window))
        })
    })
}

fn string(e: &clap::Error, kind: ContextKind) -> Option<&str> {
    match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn strings(e: &clap::Error, kind: ContextKind) -> Vec<String> {
    match e.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    }
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The subcommand the error is about, e.g. `keys verify`, read from clap's usage line (which
/// is built from the definition, never from the values given).
fn command_path(e: &clap::Error) -> String {
    let usage = match e.get(ContextKind::Usage) {
        Some(ContextValue::StyledStr(s)) => s.to_string(),
        _ => return String::new(),
    };
    usage
        .split_whitespace()
        .skip_while(|w| *w != "keyhold")
        .skip(1)
        .take_while(|w| w.starts_with(|c: char| c.is_ascii_lowercase()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A hint for an unexpected positional argument where a secret is likely to have been pasted.
fn secret_hint(command: &str) -> Option<&'static str> {
    match command {
        "keys verify" => Some(
            "`keyhold keys verify` reads the token from standard input, never from the command line",
        ),
        "rekey" => Some(
            "`keyhold rekey --master` reads the new master key from --new-key-file or standard input, never from the command line",
        ),
        _ => None,
    }
}

/// The message (without the `keyhold: error: ` prefix) for a parsing error, given the
/// arguments the program was started with (without the program name).
pub fn message(e: &clap::Error, argv: &[String]) -> String {
    let hidden = hidden_parts(argv);
    let full = describe(e, &hidden);
    // Belt and braces: whatever the kind, nothing of an implausible argument goes out.
    if leaks(&full, &hidden) {
        e.kind().as_str().unwrap_or("invalid arguments").to_owned()
    } else {
        full
    }
}

fn describe(e: &clap::Error, hidden: &[&str]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !value_problem(e, hidden, &mut parts) {
        usage_problem(e, &mut parts);
    }
    if parts.is_empty() {
        parts.push(e.kind().as_str().unwrap_or("invalid arguments").to_owned());
    }
    suggestions(e, &mut parts);
    parts.join("; ")
}

/// What is wrong with a value given to an argument (`false` if the error is not about one).
fn value_problem(e: &clap::Error, hidden: &[&str], parts: &mut Vec<String>) -> bool {
    let arg = string(e, ContextKind::InvalidArg);
    let value = string(e, ContextKind::InvalidValue);
    match e.kind() {
        ErrorKind::InvalidValue => match (arg, value) {
            (Some(arg), Some("")) => parts.push(format!(
                "a value is required for '{arg}' but none was supplied"
            )),
            (Some(arg), Some(value)) => {
                parts.push(format!("invalid value {} for '{arg}'", quoted(value)));
            }
            _ => {}
        },
        ErrorKind::ValueValidation => {
            if let (Some(arg), Some(value)) = (arg, value) {
                let mut m = format!("invalid value {} for '{arg}'", quoted(value));
                let why = std::error::Error::source(e).map(ToString::to_string);
                if let Some(why) = why.filter(|w| !w.trim().is_empty() && !leaks(w, hidden)) {
                    m.push_str(": ");
                    m.push_str(why.trim());
                }
                parts.push(m);
            }
        }
        ErrorKind::TooManyValues => {
            if let (Some(arg), Some(value)) = (arg, value) {
                parts.push(format!(
                    "unexpected value {} for '{arg}' found; no more were expected",
                    quoted(value)
                ));
            }
        }
        _ => return false,
    }
    true
}

/// What is wrong with the shape of the command line: unknown, missing or conflicting
/// arguments and subcommands.
fn usage_problem(e: &clap::Error, parts: &mut Vec<String>) {
    let arg = string(e, ContextKind::InvalidArg);
    match e.kind() {
        ErrorKind::UnknownArgument => {
            if let Some(arg) = arg {
                parts.push(format!("unexpected argument {} found", quoted(arg)));
                if !arg.starts_with('-')
                    && let Some(hint) = secret_hint(&command_path(e))
                {
                    parts.push(hint.to_owned());
                }
            }
        }
        ErrorKind::InvalidSubcommand => {
            if let Some(sub) = string(e, ContextKind::InvalidSubcommand) {
                parts.push(format!("unrecognized subcommand {}", quoted(sub)));
            }
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = strings(e, ContextKind::InvalidArg);
            if !missing.is_empty() {
                parts.push(format!(
                    "the following required arguments were not provided: {}",
                    missing.join(", ")
                ));
            }
        }
        ErrorKind::MissingSubcommand => {
            if let Some(sub) = string(e, ContextKind::InvalidSubcommand) {
                parts.push(format!(
                    "'{sub}' requires a subcommand but one was not provided"
                ));
            }
        }
        ErrorKind::ArgumentConflict => {
            // Both sides are arguments of the definition (e.g. '--master'), never values.
            let prior = strings(e, ContextKind::PriorArg);
            match (arg, prior.is_empty()) {
                (Some(arg), _) if prior == [arg] => {
                    parts.push(format!(
                        "the argument '{arg}' cannot be used multiple times"
                    ));
                }
                (Some(arg), false) => parts.push(format!(
                    "the argument '{arg}' cannot be used with {}",
                    list(&prior)
                )),
                _ => {}
            }
        }
        ErrorKind::NoEquals => {
            if let Some(arg) = arg {
                parts.push(format!(
                    "equal sign is needed when assigning values to '{arg}'"
                ));
            }
        }
        ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            if let Some(arg) = arg {
                parts.push(format!("wrong number of values for '{arg}'"));
            }
        }
        _ => {}
    }
}

/// Suggestions, all from the definition: names of subcommands, options and values.
fn suggestions(e: &clap::Error, parts: &mut Vec<String>) {
    let similar = strings(e, ContextKind::SuggestedSubcommand);
    if !similar.is_empty() {
        parts.push(format!("similar subcommands: {}", list(&similar)));
    }
    let similar = strings(e, ContextKind::SuggestedArg);
    if !similar.is_empty() {
        parts.push(format!("similar arguments: {}", list(&similar)));
    }
    let values = strings(e, ContextKind::ValidValue);
    if !values.is_empty() {
        parts.push(format!("possible values: {}", values.join(", ")));
    }
    let subcommands = strings(e, ContextKind::ValidSubcommand);
    if !subcommands.is_empty() {
        parts.push(format!("subcommands: {}", subcommands.join(", ")));
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{NOT_SHOWN, message, plausible};
    use crate::args::Args;

    const JWT: &str =
        "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiJvcGVyYXRvciJ9.c2lnbmF0dXJlX2hlcmU";

    fn error_for(argv: &[&str]) -> String {
        let full: Vec<&str> = std::iter::once("keyhold")
            .chain(argv.iter().copied())
            .collect();
        let e = Args::try_parse_from(&full).expect_err("a parsing error");
        let given: Vec<String> = argv.iter().map(|s| (*s).to_owned()).collect();
        message(&e, &given)
    }

    #[test]
    fn the_plausibility_rule_is_the_facades() {
        for ok in [
            "mobile-app",
            "key_0123abcd",
            "read:queries",
            "45d",
            "--bogus-flag",
            "a@b/c.d",
        ] {
            assert!(plausible(ok), "{ok}");
        }
        for bad in [
            "",
            "Mobile",
            "a b",
            "x=y",
            JWT,
            &"a".repeat(65),
            "caf\u{e9}",
            "x\u{1b}",
        ] {
            assert!(!plausible(bad), "{bad}");
        }
        assert!(plausible(&"a".repeat(64)));
    }

    #[test]
    fn an_implausible_argument_is_never_quoted() {
        for argv in [
            &["keys", "verify", JWT][..],
            &["keys", "verify", "--scope", JWT],
            &[
                "keys",
                "create",
                "--name",
                "n",
                "--scope",
                JWT,
                "--expires",
                "7d",
            ],
            &["keys", "create", "--name", "n", "--expires", JWT],
            &[
                "keys",
                "create",
                "--name",
                "n",
                "--expires=AbCdEfGhIjKlMnOp",
            ],
            &[JWT],
            &["keys", JWT],
            &[&format!("--{JWT}")],
            &["--json=SeCrEt-VaLuE-1234", "keys", "list"],
            &["audit", "list", "--limit", JWT],
            &["audit", "list", "--since", JWT],
        ] {
            let m = message_checked(argv);
            assert!(m.contains(NOT_SHOWN), "{argv:?}: {m}");
        }
    }

    fn message_checked(argv: &[&str]) -> String {
        let m = error_for(argv);
        for arg in argv.iter().filter(|a| !plausible(a)) {
            let value = arg.split_once('=').map_or(*arg, |(_, v)| v);
            for w in value.as_bytes().windows(8) {
                let w = std::str::from_utf8(w).expect("ascii");
                assert!(!m.contains(w), "{argv:?} leaked {w:?}: {m}");
            }
        }
        assert!(!m.contains('\n'), "{m}");
        m
    }

    #[test]
    fn plausible_arguments_and_explanations_are_still_shown() {
        let m = message_checked(&["keys", "create", "--name", "n", "--expires", "45d"]);
        assert!(m.contains("'45d'") && m.contains("--expires"), "{m}");
        assert!(m.contains("15m"), "the presets are listed: {m}");
        let m = message_checked(&["keys", "verify", "--scope", "read:bogus"]);
        assert!(
            m.contains("'read:bogus'") && m.contains("unknown scope"),
            "{m}"
        );
        let m = message_checked(&["frobnicate"]);
        assert_eq!(m, "unrecognized subcommand 'frobnicate'");
        let m = message_checked(&["--bogus-flag", "status"]);
        assert!(
            m.starts_with("unexpected argument '--bogus-flag' found"),
            "{m}"
        );
        let m = message_checked(&["stauts"]);
        assert!(m.contains("'status'"), "a suggestion: {m}");
        let m = message_checked(&["rekey", "--master", "--kek"]);
        assert!(m.contains("--master") && m.contains("--kek"), "{m}");
        let m = message_checked(&["keys", "show"]);
        assert!(m.contains("<KEY>"), "{m}");
    }

    #[test]
    fn a_token_given_to_keys_verify_gets_a_hint() {
        let m = message_checked(&["keys", "verify", JWT]);
        assert!(
            m.starts_with(&format!("unexpected argument {NOT_SHOWN} found")),
            "{m}"
        );
        assert!(m.contains("reads the token from standard input"), "{m}");
    }
}
