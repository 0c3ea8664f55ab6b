//! The verify cache: tokens that verified, kept only while provably current.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::{Claims, DEFAULT_LEEWAY, KeyFacts, Scope, TokenError, check_state};

/// The longest a cached standing is trusted without reading it again.
pub const STANDING_MAX_AGE: Duration = Duration::from_secs(1);

/// Default number of verified tokens remembered per process.
pub const VERIFY_CACHE_CAPACITY: usize = 4096;

/// Successful verifications, keyed by the token itself: `P` is what a hit gives back (the
/// caller's principal), `M` the caller's mark of the standing the facts were read at.
///
/// The token is the key (held in a zeroizing buffer, wiped on eviction) rather than a digest
/// of it: hashing a 500-byte token with SHA-256 cost more than everything else on a hit, and
/// a full-string comparison leaves no collision to reason about. The process that holds this
/// cache also holds the unwrapped KEKs and the signing key, so keeping recently verified
/// tokens adds no exposure that a memory dump would not already have.
///
/// A hit skips parsing and the signature check only. The time rules
/// ([`Claims::check_times`], with [`DEFAULT_LEEWAY`] as [`verify`](crate::verify) uses) are
/// applied again on every hit, and the key's standing (revoked, revoke-all) is reused only
/// while the caller's mark is the one it was read at, and for at most [`STANDING_MAX_AGE`].
/// Otherwise the entry is dropped and the caller verifies afresh — so revocation and expiry
/// stay exact.
pub struct VerifyCache<P, M> {
    inner: RwLock<Entries<P, M>>,
}

struct Entries<P, M> {
    map: HashMap<CacheKey, CacheEntry<P, M>, TailHash>,
    capacity: usize,
}

/// A verification to remember.
#[derive(Debug)]
pub struct CacheEntry<P, M> {
    /// What a hit gives back.
    pub principal: P,
    /// The verified claims.
    pub claims: Claims,
    /// What the store said about the token's key.
    pub facts: KeyFacts,
    /// The caller's mark of the standing `facts` were read at.
    pub seen: M,
    /// When `facts` were read: they are read again after [`STANDING_MAX_AGE`] even if the
    /// mark says nothing changed (an attacker who can write the database could put a counter
    /// back; this bounds what that buys them).
    pub read_at: Instant,
}

/// What [`VerifyCache::lookup`] found.
#[derive(Debug)]
pub enum Lookup<P> {
    /// A current entry whose scopes cover the requirement.
    Hit(P),
    /// A current entry whose scopes do not cover the requirement.
    Refused(TokenError, P),
    /// No current entry: verify afresh (a stale one has been dropped).
    Miss,
}

impl<P, M> Default for VerifyCache<P, M> {
    fn default() -> Self {
        Self::new(VERIFY_CACHE_CAPACITY)
    }
}

impl<P, M> std::fmt::Debug for VerifyCache<P, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens.
        f.debug_struct("VerifyCache")
            .field("capacity", &self.read().capacity)
            .finish_non_exhaustive()
    }
}

impl<P, M> VerifyCache<P, M> {
    /// A cache remembering up to `capacity` tokens (0: none).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: RwLock::new(Entries {
                map: HashMap::default(),
                capacity,
            }),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Entries<P, M>> {
        // Entries are inserted and removed whole: a poisoned lock still guards a usable map.
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Entries<P, M>> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many tokens it remembers now.
    pub fn len(&self) -> usize {
        self.read().map.len()
    }

    /// Whether it remembers no token now.
    pub fn is_empty(&self) -> bool {
        self.read().map.is_empty()
    }

    /// Whether it remembers anything at all.
    pub fn enabled(&self) -> bool {
        self.read().capacity != 0
    }

    /// Sets how many tokens it remembers, forgetting every one.
    pub fn set_capacity(&self, capacity: usize) {
        let mut entries = self.write();
        entries.capacity = capacity;
        entries.map.clear();
    }

    /// Remembers a verification of `token`, evicting an arbitrary entry when full (a miss
    /// costs only one full verification).
    pub fn insert(&self, token: &str, entry: CacheEntry<P, M>) {
        let mut entries = self.write();
        if entries.capacity == 0 {
            return;
        }
        if entries.map.len() >= entries.capacity {
            let victim = entries
                .map
                .keys()
                .next()
                .map(|k| String::from(k.0.as_str()));
            if let Some(k) = victim {
                entries.map.remove(k.as_str());
            }
        }
        entries
            .map
            .insert(CacheKey(Zeroizing::new(token.to_owned())), entry);
    }
}

impl<P: Clone, M: PartialEq> VerifyCache<P, M> {
    /// `token`'s entry if it is provably current at `now` (Unix seconds) under the mark
    /// `seen`, with `required` checked against its scopes. `clock` is read (once) only when
    /// an entry passed every other check. A stale entry is dropped.
    pub fn lookup(
        &self,
        token: &str,
        now: i64,
        seen: &M,
        clock: impl FnOnce() -> Instant,
        required: Option<Scope>,
    ) -> Lookup<P> {
        {
            let entries = self.read();
            let Some(c) = entries.map.get(token) else {
                return Lookup::Miss;
            };
            if c.claims.check_times(now, DEFAULT_LEEWAY).is_ok()
                && c.seen == *seen
                && clock().saturating_duration_since(c.read_at) < STANDING_MAX_AGE
            {
                match check_state(&c.claims, &c.facts, c.claims.workspace(), required) {
                    Ok(()) => return Lookup::Hit(c.principal.clone()),
                    Err(e @ TokenError::InsufficientScope { .. }) => {
                        return Lookup::Refused(e, c.principal.clone());
                    }
                    Err(_) => {}
                }
            }
        }
        // Stale or refused: verified again from scratch, never from this entry.
        self.write().map.remove(token);
        Lookup::Miss
    }
}

/// Hashes only the last 32 bytes it is given, mixed with a per-process random seed: for a
/// token that is the end of its Ed25519 signature, already uniformly random. Equality is still
/// decided on the whole token, and only tokens that verified are ever inserted, so nobody can
/// fill a bucket with chosen keys.
#[derive(Clone)]
struct TailHash(u64);

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
struct TailHasher(u64);

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
struct CacheKey(Zeroizing<String>);

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

#[cfg(test)]
mod tests;
