//! Token lifetimes: a fixed menu of presets instead of free-form durations.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::TokenError;

/// How long a minted token is valid. Only these six lifetimes exist.
///
/// | preset | `Display` / accepted spellings | good for |
/// |---|---|---|
/// | 15 minutes | `15m`, `15min`, `15 minutes` | CLI smoke tests |
/// | 1 hour | `1h`, `1 hour` | Short automation |
/// | 8 hours | `8h`, `8 hours` | A full workday |
/// | 24 hours | `24h`, `1d`, `24 hours`, `1 day` | Daily rotation |
/// | 7 days | `7d`, `7 days` | Temporary integration |
/// | 30 days | `30d`, `30 days` | Longer-lived service |
///
/// Parsing ignores ASCII case and surrounding whitespace and allows one space between number
/// and unit; units may be written `m`/`min`/`mins`/`minute`/`minutes`, `h`/`hr`/`hrs`/`hour`/
/// `hours`, `d`/`day`/`days`. The number must be one of the preset numbers written without
/// sign or leading zeros; equivalent spellings in other units (`60m`, `168h`) are refused so
/// that the menu stays the menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ExpiryPreset {
    /// 15 minutes.
    FifteenMinutes,
    /// 1 hour.
    OneHour,
    /// 8 hours.
    EightHours,
    /// 24 hours.
    OneDay,
    /// 7 days.
    SevenDays,
    /// 30 days.
    ThirtyDays,
}

const ALL: [ExpiryPreset; 6] = [
    ExpiryPreset::FifteenMinutes,
    ExpiryPreset::OneHour,
    ExpiryPreset::EightHours,
    ExpiryPreset::OneDay,
    ExpiryPreset::SevenDays,
    ExpiryPreset::ThirtyDays,
];

impl ExpiryPreset {
    /// Every preset, shortest first.
    pub fn all() -> &'static [ExpiryPreset] {
        &ALL
    }

    /// The lifetime in seconds.
    pub fn seconds(self) -> u64 {
        match self {
            Self::FifteenMinutes => 15 * 60,
            Self::OneHour => 60 * 60,
            Self::EightHours => 8 * 60 * 60,
            Self::OneDay => 24 * 60 * 60,
            Self::SevenDays => 7 * 24 * 60 * 60,
            Self::ThirtyDays => 30 * 24 * 60 * 60,
        }
    }

    /// The lifetime in seconds as a JWT NumericDate offset.
    pub(crate) fn seconds_i64(self) -> i64 {
        // All presets are at most 2,592,000 seconds, far below i64::MAX.
        i64::try_from(self.seconds()).unwrap_or(i64::MAX)
    }

    /// The lifetime.
    pub fn duration(self) -> Duration {
        Duration::from_secs(self.seconds())
    }

    /// Human label, e.g. `"15 minutes"`.
    pub fn label(self) -> &'static str {
        match self {
            Self::FifteenMinutes => "15 minutes",
            Self::OneHour => "1 hour",
            Self::EightHours => "8 hours",
            Self::OneDay => "24 hours",
            Self::SevenDays => "7 days",
            Self::ThirtyDays => "30 days",
        }
    }

    /// What the preset is meant for, e.g. `"CLI smoke tests"`.
    pub fn good_for(self) -> &'static str {
        match self {
            Self::FifteenMinutes => "CLI smoke tests",
            Self::OneHour => "Short automation",
            Self::EightHours => "A full workday",
            Self::OneDay => "Daily rotation",
            Self::SevenDays => "Temporary integration",
            Self::ThirtyDays => "Longer-lived service",
        }
    }

    /// The canonical short spelling (`15m`, `1h`, `8h`, `24h`, `7d`, `30d`), also [`Display`].
    ///
    /// [`Display`]: fmt::Display
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FifteenMinutes => "15m",
            Self::OneHour => "1h",
            Self::EightHours => "8h",
            Self::OneDay => "24h",
            Self::SevenDays => "7d",
            Self::ThirtyDays => "30d",
        }
    }
}

impl fmt::Display for ExpiryPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Minutes,
    Hours,
    Days,
}

fn unit(s: &str) -> Option<Unit> {
    match s {
        "m" | "min" | "mins" | "minute" | "minutes" => Some(Unit::Minutes),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some(Unit::Hours),
        "d" | "day" | "days" => Some(Unit::Days),
        _ => None,
    }
}

impl FromStr for ExpiryPreset {
    type Err = TokenError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        if s.len() > 16 {
            return Err(TokenError::InvalidExpiry);
        }
        let s = s.to_ascii_lowercase();
        let split = s
            .find(|c: char| !c.is_ascii_digit())
            .ok_or(TokenError::InvalidExpiry)?;
        let (number, rest) = s.split_at(split);
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let unit = unit(rest).ok_or(TokenError::InvalidExpiry)?;
        match (number, unit) {
            ("15", Unit::Minutes) => Ok(Self::FifteenMinutes),
            ("1", Unit::Hours) => Ok(Self::OneHour),
            ("8", Unit::Hours) => Ok(Self::EightHours),
            ("24", Unit::Hours) | ("1", Unit::Days) => Ok(Self::OneDay),
            ("7", Unit::Days) => Ok(Self::SevenDays),
            ("30", Unit::Days) => Ok(Self::ThirtyDays),
            _ => Err(TokenError::InvalidExpiry),
        }
    }
}

impl serde::Serialize for ExpiryPreset {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ExpiryPreset {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_labels_and_texts() {
        let expected = [
            (15 * 60, "15m", "15 minutes", "CLI smoke tests"),
            (3600, "1h", "1 hour", "Short automation"),
            (8 * 3600, "8h", "8 hours", "A full workday"),
            (24 * 3600, "24h", "24 hours", "Daily rotation"),
            (7 * 86400, "7d", "7 days", "Temporary integration"),
            (30 * 86400, "30d", "30 days", "Longer-lived service"),
        ];
        assert_eq!(ExpiryPreset::all().len(), expected.len());
        for (p, (secs, short, label, good)) in ExpiryPreset::all().iter().zip(expected) {
            assert_eq!(p.seconds(), secs);
            assert_eq!(p.duration(), Duration::from_secs(secs));
            assert_eq!(p.to_string(), short);
            assert_eq!(p.label(), label);
            assert_eq!(p.good_for(), good);
            // Display and label both parse back to the same preset.
            assert_eq!(short.parse::<ExpiryPreset>().unwrap(), *p);
            assert_eq!(label.parse::<ExpiryPreset>().unwrap(), *p);
        }
    }

    #[test]
    fn accepted_spellings() {
        for (s, p) in [
            ("15m", ExpiryPreset::FifteenMinutes),
            ("15min", ExpiryPreset::FifteenMinutes),
            (" 15 MIN ", ExpiryPreset::FifteenMinutes),
            ("1H", ExpiryPreset::OneHour),
            ("8h", ExpiryPreset::EightHours),
            ("24h", ExpiryPreset::OneDay),
            ("1d", ExpiryPreset::OneDay),
            ("1 day", ExpiryPreset::OneDay),
            ("7d", ExpiryPreset::SevenDays),
            ("30d", ExpiryPreset::ThirtyDays),
            ("30 days", ExpiryPreset::ThirtyDays),
        ] {
            assert_eq!(s.parse::<ExpiryPreset>().unwrap(), p, "{s:?}");
        }
    }

    #[test]
    fn refused_spellings_list_the_presets() {
        for s in [
            "",
            " ",
            "15",
            "m",
            "16m",
            "60m",
            "1440m",
            "2h",
            "168h",
            "1w",
            "0d",
            "-1h",
            "+1h",
            "01h",
            "015m",
            "1.5h",
            "1  h",
            "1hh",
            "15 m in",
            "7dd",
            "30d ",
            "1h\0",
            "∞",
            "99999999999999999999d",
        ] {
            if s == "30d " {
                continue; // trailing whitespace is trimmed; checked below
            }
            let err = s.parse::<ExpiryPreset>().unwrap_err();
            assert_eq!(err.code(), "invalid_expiry", "{s:?}");
            let msg = err.to_string();
            for p in ["15m", "1h", "8h", "24h", "7d", "30d"] {
                assert!(msg.contains(p), "{msg}");
            }
        }
        assert_eq!(
            "30d ".parse::<ExpiryPreset>().unwrap(),
            ExpiryPreset::ThirtyDays
        );
    }

    #[test]
    fn serde_uses_the_canonical_spelling() {
        let json = serde_json::to_string(&ExpiryPreset::SevenDays).unwrap();
        assert_eq!(json, "\"7d\"");
        let back: ExpiryPreset = serde_json::from_str("\"1d\"").unwrap();
        assert_eq!(back, ExpiryPreset::OneDay);
        assert!(serde_json::from_str::<ExpiryPreset>("\"2d\"").is_err());
    }
}
