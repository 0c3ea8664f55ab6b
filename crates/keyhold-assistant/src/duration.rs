//! Durations as people write them ("30-day", "30 days", "a month", "one week", "a full
//! workday", "15 min", "quarter of an hour", "1h"), read into minutes, and the presets a key
//! may expire after.

use crate::words::{Tok, Work};

/// How long a created key lives: one of the six presets keyhold offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Preset {
    /// 15 minutes (`15m`).
    M15,
    /// One hour (`1h`).
    H1,
    /// Eight hours, a working day (`8h`).
    H8,
    /// A day (`24h`).
    H24,
    /// A week (`7d`).
    D7,
    /// Thirty days, "a month" (`30d`).
    D30,
}

impl Preset {
    /// Every preset, shortest first.
    pub const ALL: [Preset; 6] = [
        Preset::M15,
        Preset::H1,
        Preset::H8,
        Preset::H24,
        Preset::D7,
        Preset::D30,
    ];

    /// The preset as keyhold writes it: `15m`, `1h`, `8h`, `24h`, `7d` or `30d`.
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::M15 => "15m",
            Preset::H1 => "1h",
            Preset::H8 => "8h",
            Preset::H24 => "24h",
            Preset::D7 => "7d",
            Preset::D30 => "30d",
        }
    }

    /// The preset's length in minutes.
    pub fn minutes(self) -> u64 {
        match self {
            Preset::M15 => 15,
            Preset::H1 => 60,
            Preset::H8 => 8 * 60,
            Preset::H24 => 24 * 60,
            Preset::D7 => 7 * 24 * 60,
            Preset::D30 => 30 * 24 * 60,
        }
    }

    /// The preset exactly `minutes` long, if there is one.
    pub fn of_minutes(minutes: u64) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.minutes() == minutes)
    }
}

/// What a duration that is no preset should be: the presets either side of it.
pub(crate) fn nearest(minutes: u64) -> String {
    let below = Preset::ALL
        .into_iter()
        .rev()
        .find(|p| p.minutes() < minutes);
    let above = Preset::ALL.into_iter().find(|p| p.minutes() > minutes);
    match (below, above) {
        (Some(b), Some(a)) => format!(
            "that is not one of the expiry presets; the nearest are {} and {} — which one?",
            b.as_str(),
            a.as_str()
        ),
        (Some(b), None) => format!(
            "that is longer than the longest expiry preset, {}; use {} or shorter?",
            b.as_str(),
            b.as_str()
        ),
        (None, Some(a)) => format!(
            "that is shorter than the shortest expiry preset, {}; use {}?",
            a.as_str(),
            a.as_str()
        ),
        (None, None) => "which expiry: 15m, 1h, 8h, 24h, 7d or 30d?".into(),
    }
}

fn number_word(w: &str) -> Option<u64> {
    Some(match w {
        "a" | "an" | "one" | "single" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "fifteen" => 15,
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "ninety" => 90,
        _ => return None,
    })
}

/// Minutes in one of `unit`; `short` units (`m`, `h`, `d`, `w`) only right after a number.
fn unit(w: &str, after_digits: bool) -> Option<u64> {
    Some(match w {
        "minutes" => 1,
        "hours" => 60,
        "days" => 24 * 60,
        "weeks" => 7 * 24 * 60,
        "months" => 30 * 24 * 60,
        "fortnight" | "fortnights" => 14 * 24 * 60,
        "year" | "years" | "yr" | "y" if w.len() > 1 || after_digits => 365 * 24 * 60,
        "seconds" | "second" | "sec" | "secs" => 0,
        "workday" | "workdays" | "shift" => 8 * 60,
        "m" if after_digits => 1,
        "h" if after_digits => 60,
        "d" if after_digits => 24 * 60,
        "w" if after_digits => 7 * 24 * 60,
        "mo" if after_digits => 30 * 24 * 60,
        _ => return None,
    })
}

/// A duration found in the words: its length and the words it spans (`start..end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub minutes: u64,
    pub start: usize,
    pub end: usize,
}

/// A number at `i` (digits, or words such as "twenty four"): its value and the index after.
fn number_at(toks: &[Tok], i: usize) -> Option<(u64, usize, bool)> {
    let t = toks.get(i)?;
    if t.is_number() {
        let v = t.w.parse::<u64>().unwrap_or(u64::MAX / 1_000_000);
        return Some((v.min(u64::MAX / 1_000_000), i + 1, true));
    }
    let v = number_word(&t.w)?;
    if (20..100).contains(&v)
        && let Some(u) = toks.get(i + 1).and_then(|n| number_word(&n.w))
        && u < 10
        && u > 1
    {
        return Some((v + u, i + 2, false));
    }
    Some((v, i + 1, false))
}

/// The duration starting at word `i`, if one does.
fn duration_at(toks: &[Tok], i: usize) -> Option<Found> {
    let w = |k: usize| toks.get(k).map(|t| t.w.as_str()).unwrap_or("");
    // "quarter of an hour", "a quarter hour", "half an hour", "half a day".
    let q = if matches!(w(i), "a" | "one") {
        i + 1
    } else {
        i
    };
    if matches!(w(q), "quarter" | "half") {
        let mut k = q + 1;
        if w(k) == "of" {
            k += 1;
        }
        if matches!(w(k), "a" | "an") {
            k += 1;
        }
        let u = unit(w(k), false)?;
        let minutes = if w(q) == "quarter" { u / 4 } else { u / 2 };
        return Some(Found {
            minutes,
            start: i,
            end: k + 1,
        });
    }
    let (n, mut k, digits) = number_at(toks, i)?;
    while k < i + 4
        && matches!(
            w(k),
            "full" | "whole" | "entire" | "business" | "working" | "work"
        )
    {
        k += 1;
    }
    // "a full work day", "one business day": a working day.
    let work_day = k > i + 1 && matches!(w(k - 1), "business" | "working" | "work");
    let u = if work_day && w(k) == "days" {
        8 * 60
    } else {
        unit(w(k), digits && k == i + 1)?
    };
    Some(Found {
        minutes: n.saturating_mul(u),
        start: i,
        end: k + 1,
    })
}

/// Every duration in the words, in order; one pass.
pub(crate) fn durations(toks: &[Tok], work: &Work) -> Vec<Found> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        work.step(1);
        if toks[i].quote == 0
            && let Some(f) = duration_at(toks, i)
        {
            out.push(f);
            i = f.end;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::words::words;

    fn mins(s: &str) -> Vec<u64> {
        let w = Work::default();
        durations(&words(s, &w), &w)
            .into_iter()
            .map(|f| f.minutes)
            .collect()
    }

    #[test]
    fn spellings() {
        assert_eq!(mins("30-day expiry"), [43200]);
        assert_eq!(mins("a month"), [43200]);
        assert_eq!(mins("one week"), [10080]);
        assert_eq!(mins("a full workday"), [480]);
        assert_eq!(mins("15 min"), [15]);
        assert_eq!(mins("a quarter of an hour"), [15]);
        assert_eq!(mins("an hour"), [60]);
        assert_eq!(mins("1h"), [60]);
        assert_eq!(mins("twenty four hours"), [1440]);
        assert_eq!(mins("2 days"), [2880]);
        assert_eq!(mins("half an hour"), [30]);
        assert_eq!(mins("a key for the mobile app"), Vec::<u64>::new());
    }

    #[test]
    fn nearest_presets() {
        assert!(nearest(2880).contains("24h and 7d"));
        assert!(nearest(5).contains("15m"));
        assert!(nearest(100_000).contains("30d"));
    }
}
