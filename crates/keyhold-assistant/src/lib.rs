//! Azi, keyhold's assistant: a sentence in plain language becomes one typed [`Intent`] —
//! create a key, revoke one key or all of them, list keys, rotate a connection — or a
//! refusal, a question back, or help.
//!
//! This crate only reads. It executes nothing, holds and sees no secret, does no I/O, reads no
//! clock and loads no model: [`parse`] is deterministic rules over the words, so the same
//! sentence always gives the same intent. Whoever acts on an intent does so with the caller's
//! own authority, and asks for confirmation of the destructive ones
//! ([`Intent::is_destructive`]).
//!
//! What it reads: case, punctuation and quotes around names; filler ("please", "could you",
//! "I need", "hey azi"); the common typos of the words that matter ("revoek", "creat",
//! "tokn", "expirey"); durations ("30-day", "a month", "one week", "a full workday", "15 min",
//! "an hour"), of which only the six [`Preset`]s are accepted; names ("for the mobile app",
//! "named X", "called X", quoted); scopes ("read-only", "read and execute queries",
//! `keys:read`); synonyms ("token", "JWT", "API key"; "disable", "kill", "turn off",
//! "deactivate"; "every", "all"); negation ("don't revoke anything, just list the keys").
//!
//! What it refuses, as a whole sentence and before anything else: any request to see, print,
//! reveal, export or decrypt a token after its creation, a password, a credential, a secret or
//! the master key, and any attempt to change the rules ("ignore previous instructions",
//! "debug mode", "pretend", "as an admin"), wherever in the sentence it is.
//!
//! Work is linear in the input: the text is read once into words and every later pass walks
//! the words once, looking at most a few words around each. Text longer than
//! [`MAX_INPUT_BYTES`] is not read at all ([`Intent::Unknown`]).
#![forbid(unsafe_code)]

mod duration;
mod intent;
mod names;
mod plan;
mod refuse;
mod words;

pub use duration::Preset;
pub use names::Scope;
pub use plan::{DEFAULT_SCOPES, Plan};

/// The longest sentence read, in bytes (4 KiB): one request is far shorter, and anything
/// longer is answered with [`Intent::Unknown`] without being read, so that no part of it can
/// act and the work stays small.
pub const MAX_INPUT_BYTES: usize = 4096;

/// The examples of what Azi can do, given with [`Intent::Unknown`].
pub const HELP: &str = "I can create, list and revoke API keys, and rotate a connection's \
     credential. Try: \"Create an API key for the mobile app with 30-day expiry\", \"List my \
     keys\" or \"Revoke the grafana key\".";

/// What a sentence asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Intent {
    /// Create an API key in the caller's workspace.
    CreateKey {
        /// The key's name, as the person wrote it (without quotes or filler).
        name: String,
        /// When it expires.
        expires: Preset,
        /// The scopes asked for, sorted by name and without repeats; empty when none were.
        scopes: Vec<Scope>,
    },
    /// Revoke one key, by its name (or id) as the person wrote it. Destructive.
    RevokeKey {
        /// The key's name or id.
        key: String,
    },
    /// Revoke every key in the caller's workspace. Destructive.
    RevokeAll,
    /// List the keys of the caller's workspace (their metadata, never a token).
    ListKeys,
    /// Rotate a connection's credential. Destructive.
    RotateConnection {
        /// The connection's name as the person wrote it.
        connection: String,
    },
    /// The sentence asks for something that is never done (above all, to see a secret).
    Refuse {
        /// Why, in a sentence.
        reason: String,
    },
    /// Something is missing or ambiguous; the question asks for it.
    Clarify {
        /// The question back.
        question: String,
    },
    /// Nothing Azi does: a greeting, another topic, empty input.
    Unknown {
        /// What Azi can do, with examples.
        help: String,
    },
}

/// A key (or connection) name as keyhold's names are written — `[a-z0-9][a-z0-9._-]{0,63}` —
/// from the name as a person wrote it: lower case, every run of other characters one `-`
/// ("mobile app" → `mobile-app`, "Grafana (prod)" → `grafana-prod`). Empty if nothing usable
/// is left.
pub fn key_name(written: &str) -> String {
    let mut out = String::new();
    for c in written.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || (matches!(c, '.' | '_') && !out.is_empty()) {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches(['-', '.', '_']);
    trimmed
        .chars()
        .take(64)
        .collect::<String>()
        .trim_end_matches(['-', '.', '_'])
        .to_owned()
}

/// `s` as a JSON string, quotes included.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Intent {
    /// The intent as one JSON object, fields in this order: `{"intent":"create_key",
    /// "name":"mobile app","expires":"30d","scopes":["read:queries"]}`,
    /// `{"intent":"revoke_key","key":"grafana"}`, `{"intent":"revoke_all"}`,
    /// `{"intent":"list_keys"}`, `{"intent":"rotate_connection","connection":"warehouse"}`,
    /// `{"intent":"refuse","reason":"…"}`, `{"intent":"clarify","question":"…"}`,
    /// `{"intent":"unknown","help":"…"}`.
    pub fn to_json(&self) -> String {
        let one = |intent: &str, field: &str, value: &str| {
            format!(
                "{{\"intent\":\"{intent}\",\"{field}\":{}}}",
                json_string(value)
            )
        };
        match self {
            Intent::CreateKey {
                name,
                expires,
                scopes,
            } => {
                let scopes: Vec<String> = scopes.iter().map(|s| json_string(s.as_str())).collect();
                format!(
                    "{{\"intent\":\"create_key\",\"name\":{},\"expires\":\"{}\",\"scopes\":[{}]}}",
                    json_string(name),
                    expires.as_str(),
                    scopes.join(",")
                )
            }
            Intent::RevokeKey { key } => one("revoke_key", "key", key),
            Intent::RevokeAll => "{\"intent\":\"revoke_all\"}".into(),
            Intent::ListKeys => "{\"intent\":\"list_keys\"}".into(),
            Intent::RotateConnection { connection } => {
                one("rotate_connection", "connection", connection)
            }
            Intent::Refuse { reason } => one("refuse", "reason", reason),
            Intent::Clarify { question } => one("clarify", "question", question),
            Intent::Unknown { help } => one("unknown", "help", help),
        }
    }

    /// The intent's name in JSON: `create_key`, `revoke_key`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Intent::CreateKey { .. } => "create_key",
            Intent::RevokeKey { .. } => "revoke_key",
            Intent::RevokeAll => "revoke_all",
            Intent::ListKeys => "list_keys",
            Intent::RotateConnection { .. } => "rotate_connection",
            Intent::Refuse { .. } => "refuse",
            Intent::Clarify { .. } => "clarify",
            Intent::Unknown { .. } => "unknown",
        }
    }

    /// Whether acting on the intent destroys something (revokes a key or all of them, or
    /// replaces a connection's credential), and so needs confirmation first.
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            Intent::RevokeKey { .. } | Intent::RevokeAll | Intent::RotateConnection { .. }
        )
    }
}

/// The intent of `sentence`. Deterministic, never panics, linear in the input (and reads
/// nothing past [`MAX_INPUT_BYTES`]).
pub fn parse(sentence: &str) -> Intent {
    parse_counted(sentence).0
}

/// [`parse`], with the work it did: one step per character read and per word each pass
/// visits (a word's typo check counts once per word it is compared with). The measure of the
/// parser's linearity, for tests; not a time.
pub fn parse_counted(sentence: &str) -> (Intent, usize) {
    let work = words::Work::default();
    work.step(1);
    if sentence.len() > MAX_INPUT_BYTES {
        let help = format!("that is longer than one request ({MAX_INPUT_BYTES} bytes). {HELP}");
        return (Intent::Unknown { help }, work.get());
    }
    let intent = intent::parse_text(sentence, &work);
    (intent, work.get())
}

/// Whether `sentence` names a destructive verb (revoke, disable, deactivate, kill,
/// invalidate, rotate, "turn/switch/shut … off" with `off` within the next five words that
/// are not filler, "shut down", or an accepted typo of one), as [`parse`] reads it, quoted
/// words included. Without
/// one, [`parse`] never returns a destructive intent. Past tenses ("revoked") tell of something
/// done and are not destructive verbs.
pub fn names_destructive_verb(sentence: &str) -> bool {
    if sentence.len() > MAX_INPUT_BYTES {
        return false;
    }
    let work = words::Work::default();
    let toks = intent::verb_words(sentence, &work);
    (0..toks.len()).any(|i| words::destructive_at(&toks, i))
}

/// One fuzzing input: `data` read as text (lossily) and parsed, with the parser's promises
/// checked — the same answer twice, a destructive intent only with a destructive verb, and
/// work bounded by the input's length. Panics if a promise is broken; the fuzz target and a
/// property test call it.
pub fn fuzz_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (intent, work) = parse_counted(&text);
    assert_eq!(intent, parse(&text), "not deterministic");
    assert!(
        !intent.is_destructive() || names_destructive_verb(&text),
        "destructive without a destructive verb: {text:?} gave {intent:?}"
    );
    assert!(
        work <= WORK_PER_BYTE * text.len().min(MAX_INPUT_BYTES) + WORK_BASE,
        "work {work} for {} bytes",
        text.len()
    );
    let json = intent.to_json();
    assert!(json.starts_with("{\"intent\":\"") && json.ends_with('}'));
}

/// The most work [`parse_counted`] may report per byte of input read (a promise of
/// linearity that [`fuzz_one`] and the tests check; sentences take about 3 to 8).
pub const WORK_PER_BYTE: usize = 16;
/// The most work [`parse_counted`] may report beyond [`WORK_PER_BYTE`] per byte.
pub const WORK_BASE: usize = 256;

#[cfg(test)]
mod tests {
    use super::key_name;

    #[test]
    fn names_become_keyhold_names() {
        assert_eq!(key_name("mobile app"), "mobile-app");
        assert_eq!(key_name("Grafana (prod)"), "grafana-prod");
        assert_eq!(key_name("  CI runner v2.1 "), "ci-runner-v2.1");
        assert_eq!(key_name("été"), "t");
        assert_eq!(key_name("…"), "");
        assert_eq!(key_name(&"x".repeat(100)).len(), 64);
    }
}
