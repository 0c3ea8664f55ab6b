//! Shared by the tests: a real store in a temporary directory, rows to put in it, and a
//! `RowAuth` holding a fresh key.
#![allow(dead_code)]

use keyhold_crypto::RowKey;
use keyhold_integrity::{IntegrityError, RowAuth};
use keyhold_store::{
    ApiKeyRow, SigningKeyRow, SigningKeyState, Store, StoreError, Tx, WorkspaceRow,
};
use tempfile::TempDir;

pub fn new_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::create(&dir.path().join("keyhold.db")).expect("create");
    (dir, store)
}

pub fn write<T>(store: &Store, f: impl FnOnce(&Tx<'_>) -> Result<T, IntegrityError>) -> T {
    store.write(f).expect("write")
}

pub fn read<T>(store: &Store, f: impl FnOnce(&Tx<'_>) -> Result<T, IntegrityError>) -> T {
    store.read(f).expect("read")
}

pub fn raw_write(store: &Store, f: impl FnOnce(&Tx<'_>) -> Result<(), StoreError>) {
    store.write(f).expect("write");
}

pub fn loaded() -> RowAuth {
    let auth = RowAuth::default();
    auth.install(RowKey::generate().expect("rng"));
    auth
}

pub fn workspace(id: &str, name: &str) -> WorkspaceRow {
    WorkspaceRow {
        id: id.into(),
        name: name.into(),
        created_at: 1_700_000_000,
        // No revoke-all yet, not yet MACed.
        ..WorkspaceRow::default()
    }
}

pub fn api_key(jti: &str, ws: &str, created_at_ms: i64, mint_seq: i64) -> ApiKeyRow {
    ApiKeyRow {
        jti: jti.into(),
        workspace: ws.into(),
        name: format!("name-{jti}"),
        sub: "ci".into(),
        scopes: "secrets:read".into(),
        kid: "kid-a".into(),
        fingerprint: format!("fp-{jti}"),
        created_at_ms,
        created_by: "operator".into(),
        expires_at: 2_000_000_000,
        mint_seq,
        // Not revoked, never used, not yet MACed.
        ..ApiKeyRow::default()
    }
}

pub fn signing_key(kid: &str, state: SigningKeyState, created_at: i64) -> SigningKeyRow {
    SigningKeyRow {
        kid: kid.into(),
        public_key: format!("pk-{kid}").into_bytes(),
        state,
        created_at,
        retired_at: None,
        mac: Vec::new(),
    }
}

/// The row an error names and what it says, for a row error.
pub fn named(e: IntegrityError) -> (String, String) {
    match e {
        IntegrityError::Row { what, detail } => (what, detail),
        other => panic!("not a row error: {other:?}"),
    }
}

pub const TAMPERED: &str =
    "the row does not authenticate: inserted, edited or moved without the master key";
