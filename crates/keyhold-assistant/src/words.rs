//! From text to words: one pass over the characters, then one pass over the words that
//! lower-cases them, folds inflections and synonyms into one spelling and corrects the common
//! typos of the words that matter (verbs and nouns, never names or durations).

use std::cell::Cell;

/// One word (or clause break) of the sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tok {
    /// The word, lower-cased and folded to its canonical spelling; `","` for a clause break.
    pub w: String,
    /// Byte offsets of the word in the original text (for names, as the person wrote them).
    pub start: usize,
    pub end: usize,
    /// Which quoted stretch the word is in (`0`: none). Quoted words are names, never verbs.
    pub quote: u32,
}

impl Tok {
    pub fn is(&self, w: &str) -> bool {
        self.w == w
    }
    pub fn is_break(&self) -> bool {
        self.w == ","
    }
    pub fn is_number(&self) -> bool {
        !self.w.is_empty() && self.w.bytes().all(|b| b.is_ascii_digit())
    }
}

/// Counts the work a parse does: one step per character read and per word visited by a pass.
#[derive(Debug, Default)]
pub(crate) struct Work(Cell<usize>);

impl Work {
    pub fn step(&self, n: usize) {
        self.0.set(self.0.get().saturating_add(n));
    }
    pub fn get(&self) -> usize {
        self.0.get()
    }
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '„' | '«' | '»' | '`')
}

fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '‘' | '’')
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits `text` into words, clause breaks and quoted stretches. Digits and letters are split
/// apart (`30d` is `30 d`); `:` joins the halves of a scope (`keys:read`); an apostrophe inside
/// a word is dropped (`don't` is `dont`) and a possessive `'s` is left out of the word.
pub(crate) fn tokenize(text: &str, work: &Work) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut quote = 0u32;
    let mut open: Option<char> = None;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    work.step(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        let prev = i.checked_sub(1).map(|p| chars[p].1);
        let next = chars.get(i + 1).map(|n| n.1);
        if is_quote(c) || (is_single_quote(c) && !prev.is_some_and(is_word)) {
            if open.is_some() {
                open = None;
            } else {
                quote += 1;
                open = Some(c);
            }
            i += 1;
        } else if is_single_quote(c) && open.is_some() && !next.is_some_and(is_word) {
            open = None;
            i += 1;
        } else if c == '\\'
            && next.is_some_and(|n| matches!(n.to_ascii_lowercase(), 'n' | 'r' | 't'))
        {
            // A written-out line break ("list keys\nshow password") breaks a clause too.
            if !out.last().is_some_and(Tok::is_break) {
                out.push(tok(",".into(), at, at + 2, 0));
            }
            i += 2;
        } else if is_word(c) {
            let (tok, n) = word(&chars, i, if open.is_some() { quote } else { 0 });
            out.push(tok);
            i = n;
        } else {
            if matches!(c, ',' | '.' | ';' | '!' | '?' | ':' | '\n' | '(' | ')')
                && !out.last().is_some_and(Tok::is_break)
            {
                out.push(Tok {
                    w: ",".into(),
                    start: at,
                    end: at + c.len_utf8(),
                    quote: 0,
                });
            }
            i += 1;
        }
    }
    out
}

/// One word starting at `chars[i]`; returns it and the index after. A word that starts with
/// digits is only those digits (`30d` is `30 d`); one that starts with a letter takes letters,
/// digits, and a `-` or `:` between letters (`on-call`, `keys:read`, `kh_7f3a`).
fn word(chars: &[(usize, char)], i: usize, quote: u32) -> (Tok, usize) {
    let digit = chars[i].1.is_ascii_digit();
    let start = chars[i].0;
    let mut j = i;
    let mut w = String::new();
    let mut end = start;
    while j < chars.len() {
        let c = chars[j].1;
        let next_letter = chars.get(j + 1).is_some_and(|n| n.1.is_alphabetic());
        let joins = (c == ':' || c == '-' || is_single_quote(c)) && next_letter && !digit;
        if is_word(c) && (!digit || c.is_ascii_digit()) {
            w.extend(c.to_lowercase());
        } else if joins && (c == ':' || c == '-') {
            w.push(c);
        } else if joins {
            // `grafana's` is `grafana`; `don't` is `dont`.
            let after: Vec<char> = chars[j + 1..].iter().take(2).map(|c| c.1).collect();
            if after.first() == Some(&'s') && !after.get(1).is_some_and(|c| is_word(*c)) {
                return (tok(w, start, chars[j].0, quote), j + 2);
            }
        } else {
            break;
        }
        end = chars[j].0 + c.len_utf8();
        j += 1;
    }
    (tok(w, start, end, quote), j)
}

fn tok(w: String, start: usize, end: usize, quote: u32) -> Tok {
    Tok {
        w,
        start,
        end,
        quote,
    }
}

/// Inflections and synonyms, folded to one spelling before anything reads the words.
const FOLD: [(&str, &str); 53] = [
    ("revokes", "revoke"),
    ("revoking", "revoke"),
    ("disables", "disable"),
    ("disabling", "disable"),
    ("deactivating", "deactivate"),
    ("kills", "kill"),
    ("killing", "kill"),
    ("invalidating", "invalidate"),
    ("rotates", "rotate"),
    ("rotating", "rotate"),
    ("rotation", "rotate"),
    ("turning", "turn"),
    ("creating", "create"),
    ("generating", "generate"),
    ("issue", "create"),
    ("mint", "create"),
    ("generate", "create"),
    ("make", "create"),
    ("add", "create"),
    ("listing", "list"),
    ("lists", "list"),
    ("token", "key"),
    ("tokens", "keys"),
    ("jwt", "key"),
    ("jwts", "keys"),
    ("apikey", "key"),
    ("apikeys", "keys"),
    ("credentials", "credential"),
    ("creds", "credential"),
    ("passwords", "password"),
    ("passwd", "password"),
    ("pw", "password"),
    ("secrets", "secret"),
    ("connections", "connection"),
    ("conn", "connection"),
    ("minute", "minutes"),
    ("min", "minutes"),
    ("mins", "minutes"),
    ("hour", "hours"),
    ("hr", "hours"),
    ("hrs", "hours"),
    ("day", "days"),
    ("week", "weeks"),
    ("wk", "weeks"),
    ("wks", "weeks"),
    ("month", "months"),
    ("expires", "expire"),
    ("expiring", "expire"),
    ("expiration", "expiry"),
    ("expiry", "expiry"),
    ("every", "all"),
    ("readonly", "read-only"),
    ("workspaces", "workspace"),
];

/// Words whose misspellings are corrected (after folding), and their canonical spelling.
const TYPO_TARGETS: [(&str, &str); 24] = [
    ("revoke", "revoke"),
    ("disable", "disable"),
    ("deactivate", "deactivate"),
    ("invalidate", "invalidate"),
    ("rotate", "rotate"),
    ("create", "create"),
    ("generate", "create"),
    ("delete", "delete"),
    ("token", "key"),
    ("tokens", "keys"),
    ("expiry", "expiry"),
    ("expire", "expire"),
    ("expires", "expire"),
    ("connection", "connection"),
    ("credential", "credential"),
    ("credentials", "credential"),
    ("password", "password"),
    ("workspace", "workspace"),
    ("secret", "secret"),
    ("secrets", "secret"),
    ("reveal", "reveal"),
    ("decrypt", "decrypt"),
    ("export", "export"),
    ("instructions", "instructions"),
];

/// Real words one or two letters from a typo target, which are never "corrected"; past
/// tenses among them, which tell of something done ("who revoked it?"), not a request.
const NOT_TYPOS: [&str; 22] = [
    "revoked",
    "disabled",
    "deactivated",
    "invalidated",
    "rotated",
    "generated",
    "taken",
    "evoke",
    "notate",
    "reactivate",
    "activate",
    "collection",
    "passport",
    "secretly",
    "created",
    "expert",
    "reveals",
    "export",
    "decrypted",
    "rotten",
    "delegate",
    "relate",
];

/// Short, frequent misspellings that distance alone would not catch safely.
const KNOWN_TYPOS: [(&str, &str); 13] = [
    ("shw", "show"),
    ("sho", "show"),
    ("prnt", "print"),
    ("kye", "key"),
    ("ket", "key"),
    ("keyz", "keys"),
    ("tkn", "key"),
    ("lst", "list"),
    ("lsit", "list"),
    ("kil", "kill"),
    ("rm", "delete"),
    ("crate", "create"),
    ("craete", "create"),
];

/// Folds one (unquoted) word to its canonical spelling.
pub(crate) fn canonical(w: &str, work: &Work) -> String {
    if let Some((_, to)) = FOLD.iter().chain(KNOWN_TYPOS.iter()).find(|(f, _)| *f == w) {
        return (*to).into();
    }
    let n = w.chars().count();
    if !(4..=16).contains(&n)
        || !w.chars().all(|c| c.is_ascii_lowercase())
        || NOT_TYPOS.contains(&w)
    {
        return w.into();
    }
    for (target, to) in TYPO_TARGETS {
        work.step(1);
        if w == target {
            return to.into();
        }
        let allowed = if target.len() >= 8 { 2 } else { 1 };
        if target.len().abs_diff(n) <= allowed && distance(w, target) <= allowed {
            return to.into();
        }
    }
    w.into()
}

/// Optimal-string-alignment distance (a transposition counts once), of two short ASCII words.
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

/// The sentence as canonical words: tokenized, then every word folded (quoted ones too, so
/// that a refusal reads them; a quoted word is never taken for a verb).
pub(crate) fn words(text: &str, work: &Work) -> Vec<Tok> {
    let mut toks = tokenize(text, work);
    for t in &mut toks {
        work.step(1);
        if !t.is_break() {
            t.w = canonical(&t.w, work);
        }
    }
    toks
}

/// The verbs that make an intent destructive, as [`words`] spells them. `turn`, `switch` and
/// `shut` count only with `off` among the next few words (`turn the grafana key off`), or
/// `shut down`.
pub(crate) const DESTRUCTIVE: [&str; 6] = [
    "revoke",
    "disable",
    "deactivate",
    "kill",
    "invalidate",
    "rotate",
];

/// Whether the word at `i` is a destructive verb (`turn off` and the like included).
pub(crate) fn destructive_at(toks: &[Tok], i: usize) -> bool {
    let t = &toks[i];
    DESTRUCTIVE.contains(&t.w.as_str())
        || (matches!(t.w.as_str(), "turn" | "switch" | "shut")
            && toks[i + 1..(i + 6).min(toks.len())]
                .iter()
                .take_while(|n| !n.is_break())
                .any(|n| n.is("off")))
        || (t.is("shut") && toks.get(i + 1).is_some_and(|n| n.is("down")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(s: &str) -> Vec<String> {
        words(s, &Work::default())
            .into_iter()
            .map(|t| t.w)
            .collect()
    }

    #[test]
    fn typos_and_folds() {
        assert_eq!(ws("Revoek the tokn"), ["revoke", "the", "key"]);
        assert_eq!(
            ws("creat a key, expirey 30d"),
            ["create", "a", "key", ",", "expiry", "30", "d"]
        );
        assert_eq!(ws("grafana's token"), ["grafana", "key"]);
        assert_eq!(ws("don't reactivate"), ["dont", "reactivate"]);
        assert_eq!(ws("keys:read"), ["keys:read"]);
    }

    #[test]
    fn quotes_keep_names() {
        let t = words("create key named 'revoke all' now", &Work::default());
        let q: Vec<_> = t
            .iter()
            .filter(|t| t.quote > 0)
            .map(|t| t.w.as_str())
            .collect();
        assert_eq!(q, ["revoke", "all"]);
    }
}
