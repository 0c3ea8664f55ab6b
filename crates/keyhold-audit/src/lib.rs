//! keyhold's tamper-evident audit log, as pure computation: the event model, its builder
//! ([`EventDraft`]) and its display form ([`AuditEntry`]), the canonical encoding, the hash
//! chain, its verifier and checkpoints, [`reconcile`] (what the chain says about keys,
//! workspaces and signing keys, against their rows as they stand), the policy that bounds
//! rejection records ([`rejections`]) and group commit ([`commit`]: concurrent callers share
//! one durable batch, awaited blocking or as a future). It must never do I/O: it reads no
//! clock, file, network, environment or database, and depends on no keyhold crate but
//! `keyhold-crypto`. The caller supplies the time, the stored rows, the keys and the function
//! that commits a batch (group commit only coordinates threads); the only outside resource is
//! the OS CSPRNG (through keyhold-crypto) in [`AuditKey::generate`],
//! [`CheckpointSigner::generate`] and the per-process starting point of [`new_request_id`].
//!
//! ```text
//! Event ──canonical──▶ bytes ──HMAC-SHA256(audit key, tag‖seq‖prev‖bytes)──▶ link hash
//!                                   ▲ prev = previous row's hash (zeros for seq 1)
//! newest (seq, hash) ──Ed25519──▶ Checkpoint (JSON file outside the database)
//! ```
//!
//! # Events hold only public values
//!
//! An [`Event`] is built only from these types: [`PublicText`] (1–512 bytes of UTF-8 without
//! control or bidirectional-formatting characters, validated from `&str`), [`ReasonCode`]
//! and [`DetailName`] (snake_case), [`Action`], [`Surface`], `i64` and `bool` (through
//! [`DetailValue`]). **The rule: a secret cannot be put into an event without an explicit,
//! greppable `expose` call.** It is enforced by types, not review: keyhold's secret types
//! (`SecretBytes`, `secrecy::SecretString`/`SecretBox`, [`AuditKey`], [`CheckpointSigner`],
//! token signing keys) implement neither `Display`, `AsRef<str>` nor `Deref<Target = str>`,
//! and this crate has no `impl<T: Display> From<T>` and no "anything `Serialize`" path. These
//! do not compile:
//!
//! ```compile_fail,E0308
//! use keyhold_audit::{Actor, Surface};
//! let secret = keyhold_crypto::SecretBytes::copy_from(b"sk_live_123");
//! let _ = Actor::new(secret, Surface::Cli);
//! ```
//!
//! ```compile_fail,E0308
//! use keyhold_audit::{Actor, Event, Action, PublicText, Surface};
//! use keyhold_crypto::secrecy::SecretString;
//! let actor = Actor::new(PublicText::new("user_42").unwrap(), Surface::Cli);
//! let rid = PublicText::new("req_1").unwrap();
//! let password = SecretString::from("hunter2");
//! let _ = Event::new(0, actor, Action::KeyUsed, rid).with_target(password);
//! ```
//!
//! ```compile_fail,E0277
//! use keyhold_audit::{DetailName, Details};
//! let mut d = Details::new();
//! let key = keyhold_crypto::SecretBytes::copy_from(b"k");
//! d.insert(DetailName::new("key").unwrap(), key);
//! ```
//!
//! while the same code with public values does:
//!
//! ```
//! use keyhold_audit::{Action, Actor, DetailName, Details, Event, Outcome, PublicText,
//!     ReasonCode, Surface};
//! let t = |s: &str| PublicText::new(s).unwrap();
//! let mut d = Details::new();
//! d.insert(DetailName::new("scopes").unwrap(), t("read:queries"))?;
//! d.insert(DetailName::new("leeway_s").unwrap(), 60i64)?;
//! let e = Event::new(
//!         1_700_000_000_000,
//!         Actor::new(t("user_42"), Surface::Http).with_source(t("10.0.0.7")),
//!         Action::KeyRejected,
//!         t("req_01"),
//!     )
//!     .with_workspace(t("ws_prod"))
//!     .with_outcome(Outcome::Failure(ReasonCode::new("token_expired")?))
//!     .with_details(d);
//! assert_eq!(Event::from_canonical(&e.to_canonical())?, e);
//! # Ok::<(), keyhold_audit::AuditError>(())
//! ```
//!
//! # Canonical encoding (version 1)
//!
//! `text` = u32 big-endian byte length ‖ UTF-8 bytes; `opt(text)` = one presence byte (0 =
//! absent, nothing follows; 1 = present, a `text` follows); integers are fixed-width
//! big-endian. In this order:
//!
//! | field | encoding |
//! |---|---|
//! | version | 1 byte, `0x01` |
//! | `time_ms` | i64 BE (8 bytes) |
//! | `workspace` | `opt(text)` |
//! | `actor.sub` | `text` |
//! | `actor.key_id` | `opt(text)` |
//! | `actor.surface` | `text` (its stable name, e.g. `http`) |
//! | `actor.source` | `opt(text)` |
//! | `action` | `text` (its stable dotted name, e.g. `key.used`) |
//! | `target` | `opt(text)` |
//! | `outcome` | `0x00` (success) or `0x01` ‖ `text` (reason code) |
//! | `request_id` | `text` |
//! | details | u32 BE count (≤ 32), then per detail in strictly increasing byte order of name: name `text` ‖ value tag (`0x00` text ‖ `text`, `0x01` int ‖ i64 BE, `0x02` bool ‖ `0x00`/`0x01`) |
//!
//! **Injective:** the encoding is a fixed sequence of self-delimiting fields — every
//! variable-length value carries its length, every optional or alternative value a tag byte
//! that fixes what follows — so reading it from the start recovers each field exactly, and
//! two different events always differ in some field's bytes. (Concatenation without lengths
//! would not be: `sub="ab", key_id="c"` vs `sub="a", key_id="bc"`.) **Canonical:** details
//! are a sorted map, so each event has exactly one encoding, and the decoder refuses
//! anything else (unknown version, tags or names, presence bytes other than 0/1, invalid
//! text, unsorted or repeated detail names, trailing bytes, more than
//! [`MAX_ENCODED_LEN`](canonical::MAX_ENCODED_LEN) bytes): `encode(decode(b)) == b` for
//! every accepted `b`. Decoding never panics.
//!
//! # Hash chain
//!
//! Row `seq` (1, 2, 3, … without gaps) stores `prev` (the previous row's hash; for seq 1,
//! 32 zero bytes: [`GENESIS_PREV`]) and
//!
//! ```text
//! hash = HMAC-SHA256(audit key, u32(len tag) ‖ tag ‖ u64(seq) ‖ prev[32] ‖ u32(len c) ‖ c)
//! tag  = "keyhold/audit/v1",  c = canonical(event),  integers big-endian
//! ```
//!
//! [`AuditChain`] appends batches of events after a head the caller read. The key makes the
//! chain unforgeable without it: recomputing a tampered chain needs the [`AuditKey`].
//!
//! # Verification
//!
//! [`verify`] / [`Verifier`] (streaming) and [`verify_parallel`] (chunks on several threads)
//! check every row and report the first bad seq as a [`ChainError`]. A chain alone cannot
//! show that its newest rows were deleted; a signed [`Checkpoint`] (its [`Anchor`]) can.
//! [`ChainAudit`] ([`fold`]) is `audit verify`'s run over stored rows: the chain, every row's
//! filter columns and the [`reconcile`] fold, one row at a time.
//!
//! # Checkpoints
//!
//! [`CheckpointSigner::sign`] signs, with Ed25519, `u32(len tag) ‖ tag ‖ u32(len store_id) ‖
//! store_id ‖ u64(seq) ‖ head[32] ‖ i64(time_ms)` with tag `"keyhold/audit/checkpoint/v1"`;
//! the [`Checkpoint`] is a JSON document the caller stores outside the database.
#![forbid(unsafe_code)]

pub mod canonical;
mod chain;
mod checkpoint;
mod columns;
pub mod commit;
mod draft;
mod entry;
mod error;
mod event;
pub mod events;
pub mod fold;
mod hex;
mod key;
pub mod reconcile;
pub mod rejections;
mod request;
mod text;
mod uses;
mod verify;

pub use chain::{AuditChain, ChainHead, ChainLink, GENESIS_PREV, SealedEvent};
pub use checkpoint::{
    CHECKPOINT_TAG, Checkpoint, CheckpointSigner, MAX_CHECKPOINT_JSON, PUBLIC_KEY_LEN,
    checkpoint_kid,
};
pub use columns::Columns;
pub use commit::{Batches, CommitError, Deferred, GroupCommit, Ticket};
pub use draft::{DraftError, EventDraft, Provenance};
pub use entry::AuditEntry;
pub use error::AuditError;
pub use event::{Action, Actor, DetailValue, Details, Event, Outcome, Surface};
pub use fold::{ChainAudit, FoldedChain, RowError, StoredAuditRow};
pub use key::{AuditKey, CHAIN_TAG};
pub use request::new_request_id;
pub use text::{DetailName, MAX_NAME_LEN, PublicText, ReasonCode};
pub use uses::{connections_read, last_used};
pub use verify::{
    Anchor, ChainError, ChainRow, RowRef, StoredRow, Summary, Verifier, verify, verify_parallel,
};
