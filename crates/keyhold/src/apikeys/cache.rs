//! The verify cache: successful verifications, kept only while provably current.

use super::*;

/// Successful verifications, keyed by the token itself.
///
/// The token is the key (held in a zeroizing buffer, wiped on eviction) rather than a digest
/// of it: hashing a 500-byte token with SHA-256 cost more than everything else on a hit, and
/// a full-string comparison leaves no collision to reason about. The process that holds this
/// cache also holds the unwrapped KEKs and the signing key, so keeping recently verified
/// tokens adds no exposure that a memory dump would not already have.
///
/// A hit skips parsing and the signature check only. Expiry is re-checked against the clock on
/// every hit, and the key's standing (revoked, revoke-all) is reused only while the store is
/// provably unchanged since it was read: this process's own revocations bump `local_epoch`,
/// and any other connection's commit changes SQLite's `data_version`. Otherwise the standing
/// is read again — so revocation stays exact, in every process.
pub(crate) struct VerifyCache {
    pub(super) entries: std::collections::HashMap<CacheKey, Cached, TailHash>,
    pub(super) capacity: usize,
}

/// Hashes only the last 32 bytes it is given, mixed with a per-process random seed: for a
/// token that is the end of its Ed25519 signature, already uniformly random. Equality is still
/// decided on the whole token, and only tokens that verified are ever inserted, so nobody can
/// fill a bucket with chosen keys.
#[derive(Clone)]
pub(crate) struct TailHash(u64);

impl Default for TailHash {
    fn default() -> Self {
        let seed = keyhold_crypto::random::array::<8>()
            .map(u64::from_le_bytes)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Self(seed)
    }
}

impl std::hash::BuildHasher for TailHash {
    type Hasher = TailHasher;
    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0)
    }
}

/// See [`TailHash`].
pub(crate) struct TailHasher(u64);

impl std::hash::Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        let tail = &bytes[bytes.len().saturating_sub(32)..];
        for chunk in tail.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0 ^ u64::from_le_bytes(word))
                .wrapping_mul(0x0000_0100_0000_01b3)
                .rotate_left(29);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A cached token: hashed and compared as a `str`, zeroized when dropped.
pub(super) struct CacheKey(pub(super) Zeroizing<String>);

impl PartialEq for CacheKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for CacheKey {}

impl std::hash::Hash for CacheKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Must hash exactly as `str` does, for lookups by `&str` (Borrow contract).
        self.0.as_str().hash(state);
    }
}

impl std::borrow::Borrow<str> for CacheKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

pub(super) struct Cached {
    pub(super) principal: Principal,
    pub(super) claims: Claims,
    pub(super) facts: KeyFacts,
    /// The standing counter and this handle's revocation epoch when `facts` were read.
    pub(super) seen: (i64, u64),
    /// When `facts` were read: they are read again after [`STANDING_MAX_AGE`] even if the
    /// counter says nothing changed (an attacker who can write the database could put the
    /// counter back; this bounds what that buys them).
    pub(super) read_at: std::time::Instant,
}

/// The longest a cached standing is trusted without reading it again.
pub const STANDING_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// See `Keyhold::validated`.
pub(crate) struct Validated {
    pub(super) data_version: i64,
    pub(super) own_writes: u64,
    pub(super) standing: i64,
}

impl Default for Validated {
    fn default() -> Self {
        // A data_version SQLite never reports: the first check reads the counter.
        Self {
            data_version: i64::MIN,
            own_writes: 0,
            standing: 0,
        }
    }
}

/// Default number of verified tokens remembered per process.
pub const VERIFY_CACHE_CAPACITY: usize = 4096;

impl Default for VerifyCache {
    fn default() -> Self {
        Self {
            entries: std::collections::HashMap::default(),
            capacity: VERIFY_CACHE_CAPACITY,
        }
    }
}

/// The time rules of `keyhold_token::verify`, re-applied to a cached token on every hit.
pub(super) fn within_lifetime(c: &Claims, now: i64) -> bool {
    let l = i64::try_from(DEFAULT_LEEWAY).unwrap_or(0);
    now <= c.exp().saturating_add(l)
        && c.nbf().is_none_or(|n| n <= now.saturating_add(l))
        && c.iat() <= now.saturating_add(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(iat: i64, preset: ExpiryPreset) -> Claims {
        let scopes: ScopeSet = [Scope::ReadQueries].into_iter().collect();
        Claims::new("urn:keyhold:t", "s", "ws_1", scopes, iat, preset, "key_1").expect("claims")
    }

    #[test]
    fn cached_tokens_expire_exactly_with_the_same_leeway_as_verify() {
        let l = i64::try_from(DEFAULT_LEEWAY).expect("small");
        let c = claims(1_000_000, ExpiryPreset::FifteenMinutes);
        let exp = c.exp();
        assert!(within_lifetime(&c, exp));
        assert!(
            within_lifetime(&c, exp + l),
            "edge of the leeway is still valid"
        );
        assert!(
            !within_lifetime(&c, exp + l + 1),
            "one second past it is not"
        );
        assert!(within_lifetime(&c, 1_000_000 - l), "iat at the leeway edge");
        assert!(
            !within_lifetime(&c, 1_000_000 - l - 1),
            "iat further in the future"
        );
        let nbf = claims(1_000_000, ExpiryPreset::OneHour).with_not_before(1_000_100);
        assert!(within_lifetime(&nbf, 1_000_100 - l));
        assert!(!within_lifetime(&nbf, 1_000_100 - l - 1));
    }
}
