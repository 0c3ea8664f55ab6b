//! Versioned schema migrations. `PRAGMA user_version` is the applied version; each step runs in
//! its own transaction together with the version bump, so a crash leaves a whole version.

use rusqlite::Connection;

/// Migration `i` (0-based) takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: key hierarchy, workspaces, encrypted records.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT;

    CREATE TABLE keks (
        id         INTEGER PRIMARY KEY,
        wrapped    BLOB    NOT NULL,
        state      TEXT    NOT NULL CHECK (state IN ('active', 'retiring')),
        created_at INTEGER NOT NULL
    ) STRICT;
    CREATE UNIQUE INDEX keks_one_active ON keks (state) WHERE state = 'active';

    CREATE TABLE workspaces (
        id         TEXT    PRIMARY KEY,
        name       TEXT    NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE records (
        workspace  TEXT    NOT NULL,
        kind       TEXT    NOT NULL,
        id         TEXT    NOT NULL,
        version    INTEGER NOT NULL CHECK (version > 0),
        kek_id     INTEGER NOT NULL REFERENCES keks (id),
        envelope   BLOB    NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (workspace, kind, id)
    ) STRICT;
    CREATE INDEX records_by_kek ON records (kek_id);
    "#,
    // 2: API keys (metadata only: never the token), signing keys, workspace revoke-all.
    r#"
    CREATE TABLE signing_keys (
        kid          TEXT    PRIMARY KEY,
        public_key   BLOB    NOT NULL,
        state        TEXT    NOT NULL CHECK (state IN ('active', 'retiring')),
        created_at   INTEGER NOT NULL,
        retired_at   INTEGER
    ) STRICT;
    CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

    CREATE TABLE api_keys (
        jti           TEXT    PRIMARY KEY,
        workspace     TEXT    NOT NULL REFERENCES workspaces (id),
        name          TEXT    NOT NULL,
        sub           TEXT    NOT NULL,
        scopes        TEXT    NOT NULL,
        kid           TEXT    NOT NULL,
        fingerprint   TEXT    NOT NULL,
        created_at_ms INTEGER NOT NULL,
        created_by    TEXT    NOT NULL,
        expires_at    INTEGER NOT NULL,
        revoked_at_ms INTEGER,
        revoked_by    TEXT,
        last_used_at  INTEGER,
        UNIQUE (workspace, name)
    ) STRICT;
    CREATE INDEX api_keys_by_kid ON api_keys (kid, expires_at);

    ALTER TABLE workspaces ADD COLUMN revoked_all_at_ms INTEGER;
    "#,
    // 3: the audit log, a hash chain. `event` is the canonical encoding the chain hashes; the
    // other columns repeat some of its fields so `audit list` can filter with indexes.
    r#"
    CREATE TABLE audit_log (
        seq       INTEGER PRIMARY KEY CHECK (seq > 0),
        time_ms   INTEGER NOT NULL,
        workspace TEXT,
        action    TEXT    NOT NULL,
        actor     TEXT    NOT NULL,
        key_id    TEXT,
        outcome   TEXT    NOT NULL,
        event     BLOB    NOT NULL,
        prev      BLOB    NOT NULL,
        hash      BLOB    NOT NULL
    ) STRICT;
    CREATE INDEX audit_by_time ON audit_log (time_ms);
    CREATE INDEX audit_by_key ON audit_log (key_id) WHERE key_id IS NOT NULL;
    "#,
    // 4: a counter of changes to any key's standing (revocation, revoke-all, deletion), kept by
    // triggers so that no code path - in any process, of any version - can forget it. A
    // verifier that cached a standing compares this one integer instead of re-reading the key;
    // other writes (audit rows, last-used times) leave it alone.
    r#"
    CREATE TABLE standing (
        id      INTEGER PRIMARY KEY CHECK (id = 0),
        version INTEGER NOT NULL
    ) STRICT;
    INSERT INTO standing (id, version) VALUES (0, 0);
    CREATE TRIGGER api_keys_standing_update
        AFTER UPDATE OF jti, workspace, created_at_ms, expires_at, revoked_at_ms ON api_keys
        BEGIN UPDATE standing SET version = version + 1 WHERE id = 0; END;
    CREATE TRIGGER api_keys_standing_delete AFTER DELETE ON api_keys
        BEGIN UPDATE standing SET version = version + 1 WHERE id = 0; END;
    CREATE TRIGGER workspaces_standing_update AFTER UPDATE OF id, revoked_all_at_ms ON workspaces
        BEGIN UPDATE standing SET version = version + 1 WHERE id = 0; END;
    CREATE TRIGGER workspaces_standing_delete AFTER DELETE ON workspaces
        BEGIN UPDATE standing SET version = version + 1 WHERE id = 0; END;
    "#,
    // 5: authenticated rows. Every row that decides who gets in carries a MAC (computed by the
    // facade under the store's row key, which the store never sees). API keys get a mint
    // sequence number and revoke-all marks a sequence number to compare it with: revoke-all is
    // decided by commit order, not by clocks. Any change to an access-deciding column moves
    // the standing counter (only `last_used_at` does not; a new key does not either: only
    // accepted tokens are cached, and a new row cannot change another key's standing).
    //
    // Applied by `Store::upgrade` only, together with the facade's MACs over the existing rows
    // in the same transaction: a store is never at version 5 with unauthenticated rows.
    r#"
    ALTER TABLE signing_keys ADD COLUMN mac BLOB;
    ALTER TABLE api_keys ADD COLUMN mint_seq INTEGER;
    ALTER TABLE api_keys ADD COLUMN mac BLOB;
    ALTER TABLE workspaces ADD COLUMN revoked_all_seq INTEGER;
    ALTER TABLE workspaces ADD COLUMN mac BLOB;
    CREATE UNIQUE INDEX api_keys_by_seq ON api_keys (mint_seq);
    DROP TRIGGER IF EXISTS api_keys_standing_update;
    CREATE TRIGGER api_keys_standing_update
        AFTER UPDATE OF jti, workspace, name, sub, scopes, kid, fingerprint, created_at_ms,
            created_by, expires_at, revoked_at_ms, revoked_by, mint_seq, mac ON api_keys
        BEGIN UPDATE standing SET version = version + 1 WHERE id = 0; END;
    DROP TRIGGER IF EXISTS workspaces_standing_update;
    CREATE TRIGGER workspaces_standing_update
        AFTER UPDATE OF id, name, revoked_all_at_ms, revoked_all_seq, mac ON workspaces
        BEGIN UPDATE standing SET version = version + 1 WHERE id = 0; END;
    CREATE TRIGGER signing_keys_standing_change AFTER UPDATE ON signing_keys
        BEGIN UPDATE standing SET version = version + 1 WHERE id = 0; END;
    CREATE TRIGGER signing_keys_standing_delete AFTER DELETE ON signing_keys
        BEGIN UPDATE standing SET version = version + 1 WHERE id = 0; END;
    "#,
    // 6: connections. Public settings and the two slots' rotation states, MAC'd by the facade
    // like every access row; the credentials are envelope records. Nothing to authenticate
    // in an older store (it has no connections), so this step applies by itself.
    r#"
    CREATE TABLE connections (
        id                TEXT    PRIMARY KEY,
        workspace         TEXT    NOT NULL REFERENCES workspaces (id),
        name              TEXT    NOT NULL,
        kind              TEXT    NOT NULL,
        settings          TEXT    NOT NULL,
        grace_secs        INTEGER NOT NULL CHECK (grace_secs >= 0),
        rotate_every_secs INTEGER CHECK (rotate_every_secs > 0),
        last_version      INTEGER NOT NULL CHECK (last_version >= 0),
        primary_state     TEXT    NOT NULL,
        secondary_state   TEXT    NOT NULL,
        created_at        INTEGER NOT NULL,
        created_by        TEXT    NOT NULL,
        updated_at        INTEGER NOT NULL,
        mac               BLOB    NOT NULL,
        last_used_at      INTEGER,
        next_rotation_at  INTEGER,
        rotation_failures INTEGER NOT NULL DEFAULT 0,
        lease_owner       TEXT,
        lease_until       INTEGER,
        UNIQUE (workspace, name)
    ) STRICT;
    CREATE INDEX connections_due ON connections (next_rotation_at)
        WHERE next_rotation_at IS NOT NULL;
    "#,
    // 7: the assistant's confirmations of destructive requests, single use and short-lived,
    // MAC'd by the facade. New and empty, so it applies by itself.
    r#"
    CREATE TABLE confirmations (
        id         TEXT    PRIMARY KEY,
        workspace  TEXT    NOT NULL,
        caller     TEXT    NOT NULL,
        intent     TEXT    NOT NULL,
        expires_at INTEGER NOT NULL,
        mac        BLOB    NOT NULL
    ) STRICT;
    "#,
    // 8: team access. People (an email, a password hash), their memberships of workspaces with
    // a role, sessions and enrolment codes (digests only), failed sign-ins, and each
    // workspace's access policy; access-deciding rows are MAC'd by the facade. New and empty,
    // so it applies by itself.
    r#"
    CREATE TABLE people (
        email         TEXT    PRIMARY KEY,
        display_name  TEXT    NOT NULL,
        password_hash TEXT,
        totp          INTEGER NOT NULL CHECK (totp IN (0, 1)),
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        mac           BLOB    NOT NULL,
        totp_step     INTEGER,
        last_sign_in  INTEGER
    ) STRICT;
    CREATE TABLE members (
        workspace  TEXT    NOT NULL REFERENCES workspaces (id),
        email      TEXT    NOT NULL REFERENCES people (email),
        role       TEXT    NOT NULL,
        state      TEXT    NOT NULL,
        created_by TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        mac        BLOB    NOT NULL,
        PRIMARY KEY (workspace, email)
    ) STRICT;
    CREATE INDEX members_by_email ON members (email);
    CREATE TABLE sessions (
        id            TEXT    PRIMARY KEY,
        email         TEXT    NOT NULL,
        workspace     TEXT    NOT NULL,
        csrf          TEXT    NOT NULL,
        created_at    INTEGER NOT NULL,
        idle_secs     INTEGER NOT NULL CHECK (idle_secs > 0),
        absolute_secs INTEGER NOT NULL CHECK (absolute_secs > 0),
        mac           BLOB    NOT NULL,
        last_seen     INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX sessions_by_member ON sessions (email, workspace);
    CREATE TABLE enrolments (
        id         TEXT    PRIMARY KEY,
        email      TEXT    NOT NULL,
        workspace  TEXT    NOT NULL,
        expires_at INTEGER NOT NULL,
        mac        BLOB    NOT NULL
    ) STRICT;
    CREATE TABLE sign_in_failures (
        subject  TEXT    PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_at  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE workspace_policies (
        workspace        TEXT    PRIMARY KEY REFERENCES workspaces (id),
        require_totp     INTEGER NOT NULL CHECK (require_totp IN (0, 1)),
        developer_scopes TEXT    NOT NULL,
        updated_at       INTEGER NOT NULL,
        mac              BLOB    NOT NULL
    ) STRICT;
    "#,
];

/// The last version [`apply`] reaches by itself from an older schema: the step after it needs
/// [`upgrade`] (the facade's work in the same transaction).
pub(crate) const AUTOMATIC: u32 = 4;

/// The version that [`upgrade`] reaches; every step after it applies by itself again.
pub(crate) const UPGRADED: u32 = AUTOMATIC + 1;

/// The schema version this build writes.
pub(crate) const LATEST: u32 = MIGRATIONS.len() as u32;

pub(crate) enum MigrateError {
    Newer(u32),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

/// Applies pending migrations up to version `up_to`.
pub(crate) fn apply(conn: &mut Connection, up_to: u32) -> Result<(), MigrateError> {
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: u32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if current > LATEST {
            return Err(MigrateError::Newer(current));
        }
        if current >= up_to {
            return Ok(());
        }
        let Some(sql) = MIGRATIONS.get(current as usize) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", current + 1)?;
        tx.commit()?;
    }
}

/// Applies the next migration and runs `f` in the same transaction; commits only if both
/// succeed. `Ok(false)` if the schema was not at `from` (nothing done).
pub(crate) fn upgrade<E>(
    conn: &mut Connection,
    path: &std::path::Path,
    from: u32,
    f: impl FnOnce(&crate::Tx<'_>) -> Result<(), E>,
) -> Result<bool, E>
where
    E: From<crate::StoreError>,
{
    let sqlite = |e| crate::StoreError::from_sqlite(path, e);
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    let current: u32 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sqlite)?;
    if current != from {
        return Ok(false);
    }
    let Some(sql) = MIGRATIONS.get(current as usize) else {
        return Ok(false);
    };
    tx.execute_batch(sql).map_err(sqlite)?;
    f(&crate::Tx::new(&tx, path))?;
    tx.pragma_update(None, "user_version", current + 1)
        .map_err(sqlite)?;
    tx.commit().map_err(sqlite)?;
    Ok(true)
}
