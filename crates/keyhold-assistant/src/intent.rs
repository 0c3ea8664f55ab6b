//! From words to an intent: filler dropped, negated verbs set aside, the one action found and
//! its arguments read. Every pass is one walk over the words (or a bounded window of them).

use crate::duration::{Preset, durations, nearest};
use crate::names::{Name, Scope, another, name, scopes, unknown_scope};
use crate::refuse::refusal;
use crate::words::{Tok, Work, destructive_at, words};
use crate::{HELP, Intent};

/// Words that carry no meaning here.
const FILLER: [&str; 27] = [
    "please",
    "pls",
    "plz",
    "kindly",
    "hey",
    "hi",
    "hello",
    "yo",
    "azi",
    "thanks",
    "thank",
    "thx",
    "cheers",
    "just",
    "quickly",
    "asap",
    "urgently",
    "immediately",
    "i",
    "we",
    "id",
    "ill",
    "im",
    "go",
    "ahead",
    "ok",
    "okay",
];

/// Words that negate the verbs after them, up to a clause break or a turn ("just", "but").
const NEGATORS: [&str; 7] = ["dont", "not", "never", "no", "without", "doesnt", "didnt"];
const TURNS: [&str; 7] = ["just", "but", "instead", "only", "and", "then", "rather"];

/// The actions a sentence can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Create,
    Revoke,
    Rotate,
    List,
    Delete,
}

fn w(toks: &[Tok], i: usize) -> &str {
    toks.get(i).map(|t| t.w.as_str()).unwrap_or("")
}

/// The words without filler ("could you", "I need to", "please", "for me").
fn strip(toks: Vec<Tok>, work: &Work) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        work.step(1);
        let (x, next) = (w(&toks, i), w(&toks, i + 1));
        let pair = (matches!(x, "could" | "can" | "would" | "will" | "may")
            && matches!(next, "you" | "i" | "we" | "u"))
            || (matches!(x, "need" | "want" | "like" | "have" | "wanna") && next == "to")
            || (x == "for" && matches!(next, "me" | "us"));
        if pair {
            i += 2;
        } else {
            if toks[i].quote > 0 || !FILLER.contains(&x) {
                out.push(toks[i].clone());
            }
            i += 1;
        }
    }
    out
}

/// Which words are negated ("don't revoke anything, just list the keys").
fn negated(toks: &[Tok], work: &Work) -> Vec<bool> {
    let mut on = false;
    toks.iter()
        .map(|t| {
            work.step(1);
            if t.is_break() || TURNS.contains(&t.w.as_str()) {
                on = false;
            } else if NEGATORS.contains(&t.w.as_str()) && t.quote == 0 {
                on = true;
            }
            on
        })
        .collect()
}

/// The action word `i` asks for, if it is an action verb.
fn act_at(toks: &[Tok], i: usize) -> Option<Act> {
    let x = w(toks, i);
    if x == "rotate" {
        return Some(Act::Rotate);
    }
    if destructive_at(toks, i) {
        return Some(Act::Revoke);
    }
    match x {
        "create" => Some(Act::Create),
        "need" | "want" | "like" | "get" | "give" | "set"
            if matches!(w(toks, i + 1), "a" | "an" | "new" | "another" | "up" | "me") =>
        {
            Some(Act::Create)
        }
        "list" | "show" | "display" | "view" | "see" | "what" | "which" | "enumerate" => {
            Some(Act::List)
        }
        "how" if w(toks, i + 1) == "many" => Some(Act::List),
        "delete" | "remove" | "erase" | "wipe" | "destroy" | "purge" | "drop" | "nuke" => {
            Some(Act::Delete)
        }
        _ => None,
    }
}

/// The actions asked for, with the word each is at: negated verbs and verbs that describe a
/// new key's abilities ("a key that can rotate connections") left out.
fn actions(toks: &[Tok], neg: &[bool], work: &Work) -> Vec<(Act, usize)> {
    let mut out: Vec<(Act, usize)> = Vec::new();
    for i in 0..toks.len() {
        work.step(1);
        if toks[i].quote > 0 || neg[i] {
            continue;
        }
        let Some(act) = act_at(toks, i) else { continue };
        let creating = out.first().is_some_and(|(a, _)| *a == Act::Create);
        let ability = toks[i.saturating_sub(3)..i]
            .iter()
            .rev()
            .take_while(|t| !t.is_break())
            .any(|t| matches!(t.w.as_str(), "can" | "may" | "to" | "able" | "allowed"));
        if creating && ability {
            continue;
        }
        if !out.iter().any(|(a, _)| *a == act) {
            out.push((act, i));
        }
    }
    out
}

fn clarify(q: impl Into<String>) -> Intent {
    Intent::Clarify { question: q.into() }
}

fn unknown() -> Intent {
    Intent::Unknown { help: HELP.into() }
}

fn has(toks: &[Tok], words: &[&str]) -> bool {
    toks.iter()
        .any(|t| t.quote == 0 && words.contains(&t.w.as_str()))
}

/// The words of `text` as the parser reads them for verbs: filler ("just", "a", "please")
/// left out, so "turn just a key off" has `off` within reach of `turn`.
pub(crate) fn verb_words(text: &str, work: &Work) -> Vec<Tok> {
    strip(words(text, work), work)
}

/// The intent of the (already capped) sentence.
pub(crate) fn parse_text(text: &str, work: &Work) -> Intent {
    let all = words(text, work);
    if let Some(reason) = refusal(&all, work) {
        return Intent::Refuse {
            reason: reason.into(),
        };
    }
    let toks = strip(all, work);
    if !toks.iter().any(|t| !t.is_break()) {
        return unknown();
    }
    let neg = negated(&toks, work);
    let acts = actions(&toks, &neg, work);
    let key_noun = has(&toks, &["key", "keys"]);
    let held_back =
        (0..toks.len()).any(|i| neg[i] && toks[i].quote == 0 && act_at(&toks, i).is_some());
    match acts.as_slice() {
        [] if held_back => clarify("then I do nothing; what should I do instead?"),
        [] if key_noun => no_verb(text, &toks, work),
        [] => unknown(),
        [(Act::List, _)] if key_noun || toks.iter().filter(|t| !t.is_break()).count() == 1 => {
            Intent::ListKeys
        }
        [(Act::List, _)] => unknown(),
        [(Act::Delete, _)] if key_noun && !has(&toks, &["table", "select", "from", "where"]) => {
            clarify("keyhold revokes keys rather than deleting them: say \"revoke the <name> key\"")
        }
        [(Act::Delete, _)] => unknown(),
        [(Act::Create, i)] => create(text, &toks, *i, work),
        [(Act::Revoke, i)] => revoke(text, &toks, *i, &neg, work),
        [(Act::Rotate, i)] => rotate(text, &toks, *i, work),
        _ => clarify(
            "that asks for more than one thing; which one: create a key, list keys, revoke a \
             key, revoke all keys or rotate a connection?",
        ),
    }
}

/// A sentence with a key but no verb: "a new key for grafana, 7 days" creates; "my keys" lists.
fn no_verb(text: &str, toks: &[Tok], work: &Work) -> Intent {
    let (_, mins) = duration_skip(toks, work);
    if has(toks, &["key"]) && (has(toks, &["a", "an", "new", "another"]) || !mins.is_empty()) {
        return create(text, toks, 0, work);
    }
    if has(toks, &["keys"]) {
        return Intent::ListKeys;
    }
    clarify("what should I do with the key: create one, list them or revoke one?")
}

fn duration_skip(toks: &[Tok], work: &Work) -> (Vec<bool>, Vec<u64>) {
    let found = durations(toks, work);
    let mut skip = vec![false; toks.len()];
    for f in &found {
        for s in skip.iter_mut().take(f.end.min(toks.len())).skip(f.start) {
            *s = true;
        }
    }
    let mut mins: Vec<u64> = found.iter().map(|f| f.minutes).collect();
    mins.dedup();
    (skip, mins)
}

fn create(text: &str, toks: &[Tok], at: usize, work: &Work) -> Intent {
    if !has(toks, &["key", "keys"]) && has(toks, &["connection", "workspace", "user", "secret"]) {
        return unknown();
    }
    let (skip, mins) = duration_skip(toks, work);
    let named = name(text, toks, at + 1, &["key", "keys"], &skip, work);
    let never = has(
        toks,
        &["never", "forever", "permanent", "infinite", "unlimited"],
    );
    let expires = match mins.as_slice() {
        _ if never => return clarify("every key expires; the longest preset is 30d — use 30d?"),
        [] => None,
        [m] => match Preset::of_minutes(*m) {
            Some(p) => Some(p),
            None => return clarify(nearest(*m)),
        },
        _ => return clarify("that names two expiries; which one: 15m, 1h, 8h, 24h, 7d or 30d?"),
    };
    let mut skip = skip;
    if let Some(Name { start, end, .. }) = &named {
        for s in skip.iter_mut().take(*end).skip(*start) {
            *s = true;
        }
    }
    if let Some(word) = unknown_scope(toks, at + 1, &skip) {
        let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        return clarify(format!(
            "\"{word}\" is not a scope; the scopes are {}",
            known.join(", ")
        ));
    }
    match (named, expires) {
        (Some(n), Some(expires)) => Intent::CreateKey {
            name: n.text,
            expires,
            scopes: scopes(toks, at + 1, &skip, work),
        },
        (Some(n), None) => clarify(format!(
            "when should the key for {} expire: 15m, 1h, 8h, 24h, 7d or 30d?",
            n.text
        )),
        (None, Some(_)) => clarify("what is the key for? name it, e.g. \"for the mobile app\""),
        (None, None) => clarify(
            "what is the key for, and when should it expire (15m, 1h, 8h, 24h, 7d or 30d)? \
             e.g. \"a key for the mobile app for 30 days\"",
        ),
    }
}

/// A workspace other than the caller's: "the acme workspace", "workspace acme". "This
/// workspace", "my workspace", "the workspace", "in workspace" are the caller's.
fn other_workspace(toks: &[Tok]) -> bool {
    let own = ["this", "my", "our", "the", "current", "whole", "entire", ""];
    let prepositions = ["for", "in", "of", "across", "from", "on"];
    toks.iter().enumerate().any(|(i, t)| {
        let before = w(toks, i.wrapping_sub(1));
        let after = w(toks, i + 1);
        t.is("workspace")
            && t.quote == 0
            && (!(own.contains(&before) || prepositions.contains(&before))
                || (prepositions.contains(&before) && !matches!(after, "" | "," | "and" | "now")))
    })
}

fn revoke(text: &str, toks: &[Tok], at: usize, neg: &[bool], work: &Work) -> Intent {
    // "turn off the staging key": the name comes after "off".
    let at = if matches!(w(toks, at + 1), "off" | "down") {
        at + 1
    } else {
        at
    };
    let live = |i: usize| toks[i].quote == 0 && !neg[i];
    let all = (0..toks.len()).any(|i| live(i) && matches!(w(toks, i), "all" | "each"));
    let keep = (0..toks.len()).any(|i| {
        live(i)
            && (matches!(
                w(toks, i),
                "except" | "keep" | "spare" | "excluding" | "besides" | "save"
            ) || (w(toks, i) == "but" && !matches!(w(toks, i + 1), "" | ","))
                || (w(toks, i) == "other" && w(toks, i + 1) == "than")
                || (w(toks, i) == "apart" && w(toks, i + 1) == "from"))
    });
    if keep {
        return clarify(
            "that both revokes and keeps: I can revoke every key in this workspace, or one key \
             by name — which?",
        );
    }
    if has(toks, &["everything", "everyone"]) {
        return clarify("every key in this workspace? say \"revoke all keys\"");
    }
    if has(toks, &["connection", "credential", "password"]) && !has(toks, &["key", "keys"]) {
        return clarify(
            "connections are not revoked; did you mean \"rotate the <name> connection\"?",
        );
    }
    if other_workspace(toks) {
        return clarify(match all {
            true => "I act only on this workspace; revoke all keys in this workspace?",
            false => "I act only on this workspace; revoke that key in this workspace?",
        });
    }
    if all {
        if let Some(word) = narrows(toks, at, neg) {
            return clarify(format!(
                "revoke all takes every key in this workspace, not only some (\"{word}\"): to \
                 revoke one key, name it alone; or say \"revoke all keys\""
            ));
        }
        return Intent::RevokeAll;
    }
    let skip = vec![false; toks.len()];
    match name(text, toks, at + 1, &["key", "keys"], &skip, work) {
        Some(n) if another(toks, n.end, &["key", "keys"], work) => {
            clarify("I revoke one key at a time (or all of them): which key first?")
        }
        Some(n) => Intent::RevokeKey { key: n.text },
        None => clarify("which key should I revoke? name it, or say \"revoke all keys\""),
    }
}

/// The words "revoke all" may have in its clause after the verb: they say "every key of this
/// workspace", and how urgently.
const ALL_OF_THEM: [&str; 27] = [
    "all",
    "every",
    "each",
    "the",
    "of",
    "api",
    "key",
    "keys",
    "in",
    "for",
    "on",
    "across",
    "this",
    "our",
    "workspace",
    "now",
    "immediately",
    "right",
    "away",
    "at",
    "once",
    "asap",
    "active",
    "existing",
    "current",
    "live",
    "outstanding",
];

/// The first word after the verb, in its clause, that would make "revoke all" revoke only some
/// keys ("all expired keys", "all my keys", "the key named all", a quoted name), if any.
fn narrows(toks: &[Tok], at: usize, neg: &[bool]) -> Option<String> {
    for i in at + 1..toks.len() {
        let word = w(toks, i);
        if word == "," {
            break;
        }
        let quantifier = matches!(word, "all" | "every" | "each");
        let named = quantifier && matches!(w(toks, i.wrapping_sub(1)), "the" | "named" | "called");
        let own_workspace = matches!(word, "my") && w(toks, i + 1) == "workspace";
        if neg[i] && toks[i].quote == 0 {
            continue;
        }
        if toks[i].quote > 0 || named || !(own_workspace || ALL_OF_THEM.contains(&word)) {
            return Some(toks[i].w.clone());
        }
    }
    None
}

fn rotate(text: &str, toks: &[Tok], at: usize, work: &Work) -> Intent {
    let nouns = ["connection", "credential", "password", "login"];
    if has(toks, &["key", "keys"]) && !has(toks, &nouns) {
        return clarify(
            "keys are not rotated: create a new key, then revoke the old one; or did you mean a \
             connection?",
        );
    }
    if has(toks, &["all", "each"]) {
        return clarify("which connection should I rotate? one at a time");
    }
    if other_workspace(toks) {
        return clarify("I act only on this workspace; rotate that connection in this workspace?");
    }
    let skip = vec![false; toks.len()];
    match name(text, toks, at + 1, &nouns, &skip, work) {
        Some(n) if another(toks, n.end, &nouns, work) => {
            clarify("I rotate one connection at a time: which first?")
        }
        Some(n) => Intent::RotateConnection { connection: n.text },
        None => clarify("which connection's credential should I rotate?"),
    }
}
