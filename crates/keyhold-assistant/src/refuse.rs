//! What is refused, read over the whole sentence before anything else: a request to see a
//! secret (a token after its creation, a password, a credential, the master key, secrets), and
//! any attempt to change the rules ("ignore previous instructions", "debug mode", "pretend",
//! "as an admin"). Negation does not lift a refusal, and quoted words count.

use crate::words::{Tok, Work};

/// Why a request to see a secret is refused.
pub(crate) const REVEAL: &str = "a key is shown once, when it is created; keyhold never shows a \
     token, password, credential, secret or the master key again, to anyone";

/// Why an attempt to change the rules is refused.
pub(crate) const OVERRIDE: &str = "requests that try to change how I work (other instructions, \
     modes, roles, pretending) are refused as a whole; ask for one action in plain words";

/// Verbs that hand something out whatever it is: with any key, token or secret, refused.
const STRONG: [&str; 30] = [
    "encode",
    "repeat",
    "recite",
    "remind",
    "print",
    "reveal",
    "export",
    "dump",
    "decrypt",
    "output",
    "echo",
    "copy",
    "paste",
    "email",
    "mail",
    "send",
    "leak",
    "expose",
    "spell",
    "recover",
    "unmask",
    "share",
    "post",
    "upload",
    "retrieve",
    "fetch",
    "exfiltrate",
    "cat",
    "download",
    "unhash",
];

/// Verbs that show: with a secret, or one key's value, refused; with "keys", a listing.
const WEAK: [&str; 12] = [
    "show", "display", "see", "view", "give", "get", "tell", "read", "what", "whats", "return",
    "provide",
];

/// What must never be shown.
const SECRET: [&str; 13] = [
    "values",
    "password",
    "passphrase",
    "credential",
    "secret",
    "master",
    "plaintext",
    "value",
    "raw",
    "contents",
    "private",
    "seed",
    "string",
];

/// Words that, anywhere, refuse the sentence.
const ALWAYS: [&str; 4] = ["pretend", "jailbreak", "roleplay", "sudo"];

/// Verbs that, anywhere, ask for a secret.
const ALWAYS_REVEAL: [&str; 4] = ["decrypt", "exfiltrate", "dump", "unhash"];

fn w(toks: &[Tok], i: usize) -> &str {
    toks.get(i).map(|t| t.w.as_str()).unwrap_or("")
}

/// Words from `i` to `i + n`, or to the end.
fn ahead(toks: &[Tok], i: usize, n: usize) -> impl Iterator<Item = &str> {
    toks[i.min(toks.len())..(i + n).min(toks.len())]
        .iter()
        .map(|t| t.w.as_str())
}

/// An attempt to override the rules starting at word `i`.
fn overrides(toks: &[Tok], i: usize) -> bool {
    match w(toks, i) {
        x if ALWAYS.contains(&x) => true,
        "ignore" | "disregard" | "forget" | "override" | "bypass" | "skip" => ahead(toks, i + 1, 5)
            .any(|x| {
                matches!(
                    x,
                    "instructions"
                        | "instruction"
                        | "rules"
                        | "previous"
                        | "prior"
                        | "above"
                        | "prompt"
                        | "policy"
                        | "confirmation"
                        | "safety"
                        | "restrictions"
                        | "everything"
                )
            }),
        "mode" => matches!(
            w(toks, i.wrapping_sub(1)),
            "debug"
                | "developer"
                | "dev"
                | "god"
                | "admin"
                | "unrestricted"
                | "maintenance"
                | "test"
        ),
        "system" => w(toks, i + 1) == "prompt",
        "you" => w(toks, i + 1) == "are" && w(toks, i + 2) == "now",
        "act" | "acting" => w(toks, i + 1) == "as",
        "impersonate" => true,
        "as" => {
            let k = if matches!(w(toks, i + 1), "an" | "a" | "the" | "if") {
                i + 2
            } else {
                i + 1
            };
            matches!(
                w(toks, k),
                "admin" | "administrator" | "root" | "superuser" | "owner" | "operator" | "i"
            )
        }
        // "I am an admin", "I'm the owner": a claimed role changes nothing.
        "am" | "im" => {
            let k = if matches!(w(toks, i + 1), "an" | "a" | "the") {
                i + 2
            } else {
                i + 1
            };
            matches!(
                w(toks, k),
                "admin" | "administrator" | "root" | "superuser" | "owner" | "ceo" | "cto"
            )
        }
        "authorized" | "authorised" | "approved" => w(toks, i + 1) == "by",
        _ => false,
    }
}

/// A request to see a secret whose verb is word `i`.
fn reveals(toks: &[Tok], i: usize) -> bool {
    let verb = w(toks, i);
    let strong = STRONG.contains(&verb);
    if ALWAYS_REVEAL.contains(&verb) {
        return true;
    }
    if !strong && !WEAK.contains(&verb) || (verb == "read" && w(toks, i + 1) == "only") {
        return false;
    }
    let window: Vec<&str> = ahead(toks, i + 1, 7).collect();
    if window
        .iter()
        .any(|x| SECRET.contains(x) || matches!(*x, "again" | "later" | "afterwards"))
    {
        return true;
    }
    if window.first() == Some(&"me") && window.get(1) == Some(&"everything") {
        return true;
    }
    if strong {
        return window
            .iter()
            .any(|x| matches!(*x, "key" | "keys" | "it" | "them" | "everything"));
    }
    // A weak verb with one key ("show me the grafana token"), unless it asks for a new one.
    let Some(k) = window.iter().position(|x| *x == "key") else {
        return false;
    };
    !window[..k]
        .iter()
        .any(|x| matches!(*x, "a" | "an" | "new" | "another" | "keys" | "all"))
}

/// Why the sentence is refused, if it is.
pub(crate) fn refusal(toks: &[Tok], work: &Work) -> Option<&'static str> {
    // "rotate the password for billing-db" asks for a new password, not to see one.
    let rotates = toks.iter().any(|t| t.is("rotate"));
    work.step(toks.len());
    for i in 0..toks.len() {
        work.step(8);
        if overrides(toks, i) {
            return Some(OVERRIDE);
        }
        if reveals(toks, i) {
            return Some(REVEAL);
        }
        if mentions(toks, i, rotates) {
            return Some(REVEAL);
        }
    }
    None
}

/// A secret named at word `i` in a way that asks for it, whatever the verb (or its typo):
/// "the master key", "all secrets", "<verb> me the password", "keys with their tokens", "the
/// password" at the end of a clause.
fn mentions(toks: &[Tok], i: usize, rotates: bool) -> bool {
    let x = w(toks, i);
    let x = if x == "pass" && w(toks, i + 1) == "word" {
        "password"
    } else {
        x
    };
    let before = |n: usize, words: &[&str]| {
        toks[i.saturating_sub(n)..i]
            .iter()
            .any(|t| words.contains(&t.w.as_str()))
    };
    let secret = SECRET.contains(&x);
    let credential = matches!(x, "password" | "credential" | "secret" | "passphrase");
    let ends = !rotates
        && matches!(
            w(toks, i + 1),
            "" | "," | "for" | "of" | "to" | "please" | "now"
        );
    (x == "master" && matches!(w(toks, i + 1), "key" | "keys" | "password"))
        || (x == "secret" && before(1, &["all"]))
        || (credential && before(3, &["me", "us", "him", "her", "them"]))
        || (secret && before(3, &["with", "including", "include", "plus", "their", "its"]))
        || (matches!(x, "key" | "keys") && before(1, &["their", "its"]))
        || (credential && ends && before(1, &["the", "my", "your", "his", "their", "all", "its"]))
}
