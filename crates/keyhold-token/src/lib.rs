//! keyhold's access tokens: Ed25519-signed JWTs with a fixed menu of lifetimes, a closed scope
//! catalog and strict, ordered verification — and every rule about them: what may be minted
//! ([`plan_mint`]), the time rules, the revocation and revoke-all rules ([`check_state`],
//! [`revoked_by_all`]) and the cache of verified tokens ([`VerifyCache`]). It must never do
//! I/O, read a database or a clock (`now` and instants are always parameters), or speak of a
//! transport such as HTTP: callers map its stable error codes. The only randomness is the OS
//! CSPRNG (through keyhold-crypto) for [`SigningKey::generate`], [`new_jti`] and the cache's hash seed.
//!
//! # Token format
//!
//! A compact JWS (RFC 7515) with header `{"typ":"at+jwt","alg":"EdDSA","kid":"…"}` (RFC 9068
//! access-token type, RFC 8037 EdDSA over Ed25519) and [`Claims`]
//! `iss, sub, workspace, scopes, iat, exp[, nbf], jti`. `kid` is the RFC 7638 JWK thumbprint
//! of the signing key's public key; [`Jwks`] publishes the public keys as an RFC 7517 JWK Set.
//! Times are JSON integers (seconds since the Unix epoch); `"exp":"1700000000"` is a
//! mistyped claim, not a time. Unknown extra claims are ignored and dropped (RFC 7519 §4), so
//! a newer minter can add claims without breaking older verifiers; keyhold never reads one.
//!
//! # Expiry presets
//!
//! | [`ExpiryPreset`] | spelling | good for |
//! |---|---|---|
//! | 15 minutes | `15m` | CLI smoke tests |
//! | 1 hour | `1h` | Short automation |
//! | 8 hours | `8h` | A full workday |
//! | 24 hours | `24h` (or `1d`) | Daily rotation |
//! | 7 days | `7d` | Temporary integration |
//! | 30 days | `30d` | Longer-lived service |
//!
//! There are no other lifetimes: [`Claims::new`] takes a preset and sets `exp = iat + preset`.
//!
//! # Scopes and the no-escalation rule
//!
//! | scope | allows |
//! |---|---|
//! | `read:queries` | read saved queries and results |
//! | `execute:queries` | execute saved queries |
//! | `keys:read` | list and inspect access keys |
//! | `keys:write` | mint access keys |
//! | `keys:revoke` | revoke access keys |
//! | `connections:read` | list and inspect connections |
//! | `connections:write` | create, change, delete connections |
//! | `connections:rotate` | rotate connection credentials |
//! | `connections:use` | use connection credentials |
//! | `audit:read` | read the audit log |
//! | `admin` | everything: implies every scope |
//!
//! Scopes are two lowercase-ASCII segments joined by a colon; `admin` is the only scope without
//! one. Any other string is refused (`scope_malformed`, or `scope_unknown` naming a
//! well-formed scope outside the catalog), also inside a token's `scopes` claim. A scope
//! implies only itself, except `admin`, which implies all.
//!
//! **No escalation:** a token may mint only tokens whose every scope it covers
//! ([`ScopeSet::is_subset_of`] / [`ScopeSet::ensure_no_escalation`]). Only `admin` covers
//! `admin`, so holding every other scope still does not let a token mint an admin token.
//!
//! # Verification
//!
//! [`verify`] (stateless) checks, in this order, each failure with its own error:
//! malformed (≤ [`MAX_TOKEN_LEN`] = 8 KiB, three canonical base64url parts, JSON objects
//! without duplicate members) → `crit` present → `typ` ≠ `at+jwt` → `alg` ≠ `EdDSA` → unknown
//! `kid` (only thumbprint-shaped `kid`s are ever looked up) → bad signature → missing or
//! mistyped claim → `iss` mismatch → expired → not yet valid → issued in the future.
//! The signature is checked before any claim is interpreted.
//!
//! Leeway: [`DEFAULT_LEEWAY`] = 30 s. With leeway `L` a token is accepted while
//! `now <= exp + L`, `nbf <= now + L` and `iat <= now + L`; the edge itself is accepted and
//! one second past it is not.
//!
//! [`check_state`] then applies the stateful rules as a pure function of facts the caller
//! looked up ([`KeyFacts`]), in this order: token's workspace ≠ request's workspace →
//! workspace unknown → access key (`jti`) unknown → key revoked → `iat <=` the workspace's
//! revoke-all instant (a token minted in the same second as a revoke-all is revoked too) →
//! scopes do not cover the operation's required scope.
//!
//! # Error codes
//!
//! [`TokenError::code`] (the statuses a transport answers with are the caller's business; the
//! table says how keyhold's HTTP API maps them):
//!
//! | code | HTTP | meaning |
//! |---|---|---|
//! | `token_malformed` | 401 | not a well-formed token |
//! | `token_crit_unsupported` | 401 | header has `crit` |
//! | `token_wrong_type` | 401 | `typ` is not `at+jwt` |
//! | `token_alg_not_allowed` | 401 | `alg` is not `EdDSA` (`none`, `HS256`, ...) |
//! | `token_unknown_kid` | 401 | no trusted key with that `kid` |
//! | `token_bad_signature` | 401 | signature does not verify |
//! | `token_invalid_claims` | 401 | a claim is missing, mistyped or invalid |
//! | `token_wrong_issuer` | 401 | `iss` is not ours |
//! | `token_expired` | 401 | `now > exp + leeway` |
//! | `token_not_yet_valid` | 401 | `nbf > now + leeway` |
//! | `token_issued_in_future` | 401 | `iat > now + leeway` |
//! | `workspace_mismatch` | 401 | token is for another workspace |
//! | `workspace_unknown` | 401 | token's workspace does not exist |
//! | `key_unknown` | 401 | token's access key is not on record |
//! | `key_revoked` | 401 | token's access key was revoked |
//! | `key_revoked_all` | 401 | issued at or before the workspace's revoke-all |
//! | `insufficient_scope` | 403 | scopes do not cover the operation |
//! | `scope_escalation` | 403 | minting more scopes than the minting token holds |
//! | `scope_malformed` | 400 | scope string breaks the grammar |
//! | `scope_unknown` | 400 | scope not in the catalog |
//! | `invalid_expiry` | 400 | not one of the presets |
//! | `claim_out_of_range` | 400 | bad value given to [`Claims::new`] |
//! | `invalid_key` | 500 | stored key bytes do not parse |
//! | `rng_failed` | 500 | OS random source failed |
//! | `signing_failed` | 500 | signing or encoding failed |
//!
//! No error message contains the token, its signature or key bytes.
//!
//! # Crypto backend
//!
//! jsonwebtoken 11 bundles no crypto; this crate plugs ring in through its `CryptoProvider`
//! interface ([`provider`]) for minting, and verifies signatures with ring's `ED25519`
//! directly (the path the Wycheproof tests exercise).
//!
//! Measured against the alternative, jsonwebtoken's `rust_crypto` feature (ed25519-dalek), on
//! the project's 2-core machine, release build, 20,000 verifications of the same ~290-byte
//! token, three rounds: ring `ED25519` verify 50–58 µs (17–20k/s per core), jsonwebtoken
//! `crypto::verify` with `rust_crypto` 38–40 µs (25–26k/s per core). ed25519-dalek is about
//! 25 % faster (its AVX2 backend), yet ring is the choice: ~13 µs per request is noise next to
//! a request's database and envelope work; ring is already keyhold's crypto dependency (one
//! library to audit and to trust for randomness); and `rust_crypto` pulls in `rsa`, `p256`,
//! `p384`, `hmac`, `rand` and `ed25519-dalek` for algorithms keyhold refuses, including `rsa`
//! with the unfixed RUSTSEC-2023-0071 advisory.
//!
//! Cost of verification beyond the signature (`benches/benches/token_verify.rs`, criterion,
//! 473-byte token, 4-key JWKS, two runs): bare ring Ed25519 verify of the signing input
//! 63.6–65.8 µs, full [`verify`] 65.5–72.1 µs, a ratio of 1.03–1.10: parsing and the ordered
//! checks add a few microseconds; the signature is nearly all of the cost.
//!
//! [`fingerprint`] gives a short storage identifier of a token (it identifies, it does not
//! authenticate).
#![forbid(unsafe_code)]

mod cache;
mod claims;
mod error;
mod ids;
mod json;
mod minting;
mod preset;
pub mod provider;
mod scope;
mod signers;
mod signing_keys;
mod state;
mod verify;

pub use cache::{CacheEntry, Lookup, STANDING_MAX_AGE, VERIFY_CACHE_CAPACITY, VerifyCache};
pub use claims::{Claims, MAX_CLAIM_LEN, mint};
pub use error::TokenError;
pub use ids::{fingerprint, issuer_of_store, new_jti};
pub use minting::{MintAsk, MintError, MintPlan, Minter, plan_mint};
pub use preset::ExpiryPreset;
pub use scope::{Scope, ScopeSet};
pub use signers::{SignerError, SignerRing, SignerRow};
pub use signing_keys::{Jwk, Jwks, KID_LEN, SigningKey, VerifyingKey, thumbprint};
pub use state::RevokeAllMark;
pub use state::{KeyFacts, KeyStatus, check_state, revoked_by_all, signer_retired};
pub use verify::{
    DEFAULT_LEEWAY, KeyLookup, MAX_TOKEN_LEN, SignedIdentity, VerifiedToken, claimed_workspace,
    signed_identity, verify,
};

/// The `typ` header of keyhold access tokens (RFC 9068).
pub const TOKEN_TYP: &str = "at+jwt";
