//! Strict JSON object parsing for token headers and payloads.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// A JSON object whose member names are unique (RFC 7515 §4 / RFC 7519 §4 allow rejecting
/// duplicates; we do, so no parser differential can hide a second `alg` or `exp`).
pub(crate) struct Object(pub(crate) BTreeMap<String, Value>);

impl<'de> serde::Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Object;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object with unique member names")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    if out.insert(k, v).is_some() {
                        return Err(serde::de::Error::custom("duplicate member"));
                    }
                }
                Ok(Object(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// Parses `bytes` as a JSON object with unique top-level member names.
pub(crate) fn parse_object(bytes: &[u8]) -> Option<BTreeMap<String, Value>> {
    serde_json::from_slice::<Object>(bytes).ok().map(|o| o.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_only_unique_members() {
        assert!(parse_object(br#"{"a":1,"b":[1,2]}"#).is_some());
        assert!(parse_object(br#"{"a":1,"a":2}"#).is_none());
        assert!(parse_object(br#"{"a":1,"\u0061":2}"#).is_none());
        assert!(parse_object(br#"[1]"#).is_none());
        assert!(parse_object(br#""x""#).is_none());
        assert!(parse_object(br#"{"a":1} x"#).is_none());
        assert!(parse_object(b"").is_none());
        assert!(parse_object(&[0xff, 0xfe]).is_none());
    }
}
