//! The schema of a PostgreSQL store, at the version SQLite reaches through its migrations
//! (`migrations::LATEST`): the same tables, columns, keys, checks and standing triggers, in
//! PostgreSQL's types (`BIGINT`, `TEXT`, `BYTEA`). A PostgreSQL store starts at this version;
//! later versions add steps here as SQLite's migrations do.

/// Creates every table of schema version [`crate::migrations::LATEST`] (in one transaction,
/// under the migration lock).
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE keyhold_schema (
    id      BIGINT PRIMARY KEY CHECK (id = 0),
    version BIGINT NOT NULL
);

CREATE TABLE meta (
    key   TEXT  PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE keks (
    id         BIGINT PRIMARY KEY,
    wrapped    BYTEA  NOT NULL,
    state      TEXT   NOT NULL CHECK (state IN ('active', 'retiring')),
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX keks_one_active ON keks (state) WHERE state = 'active';

CREATE TABLE workspaces (
    id                TEXT   PRIMARY KEY,
    name              TEXT   NOT NULL UNIQUE,
    created_at        BIGINT NOT NULL,
    revoked_all_at_ms BIGINT,
    revoked_all_seq   BIGINT,
    mac               BYTEA
);

CREATE TABLE records (
    workspace  TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    id         TEXT   NOT NULL,
    version    BIGINT NOT NULL CHECK (version > 0),
    kek_id     BIGINT NOT NULL REFERENCES keks (id),
    envelope   BYTEA  NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, kind, id)
);
CREATE INDEX records_by_kek ON records (kek_id);

CREATE TABLE signing_keys (
    kid        TEXT   PRIMARY KEY,
    public_key BYTEA  NOT NULL,
    state      TEXT   NOT NULL CHECK (state IN ('active', 'retiring')),
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    mac        BYTEA
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

CREATE TABLE api_keys (
    jti           TEXT   PRIMARY KEY,
    workspace     TEXT   NOT NULL REFERENCES workspaces (id),
    name          TEXT   NOT NULL,
    sub           TEXT   NOT NULL,
    scopes        TEXT   NOT NULL,
    kid           TEXT   NOT NULL,
    fingerprint   TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    created_by    TEXT   NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at_ms BIGINT,
    revoked_by    TEXT,
    last_used_at  BIGINT,
    mint_seq      BIGINT,
    mac           BYTEA,
    UNIQUE (workspace, name)
);
CREATE INDEX api_keys_by_kid ON api_keys (kid, expires_at);
CREATE UNIQUE INDEX api_keys_by_seq ON api_keys (mint_seq);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY CHECK (seq > 0),
    time_ms   BIGINT NOT NULL,
    workspace TEXT,
    action    TEXT   NOT NULL,
    actor     TEXT   NOT NULL,
    key_id    TEXT,
    outcome   TEXT   NOT NULL,
    event     BYTEA  NOT NULL,
    prev      BYTEA  NOT NULL,
    hash      BYTEA  NOT NULL
);
CREATE INDEX audit_by_time ON audit_log (time_ms);
CREATE INDEX audit_by_key ON audit_log (key_id) WHERE key_id IS NOT NULL;

-- Moves on every change to any key's standing, as SQLite's triggers move it.
CREATE TABLE standing (
    id      BIGINT PRIMARY KEY CHECK (id = 0),
    version BIGINT NOT NULL
);
INSERT INTO standing (id, version) VALUES (0, 0);
CREATE FUNCTION keyhold_standing_moves() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE standing SET version = version + 1 WHERE id = 0;
    RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_standing_update
    AFTER UPDATE OF jti, workspace, name, sub, scopes, kid, fingerprint, created_at_ms,
        created_by, expires_at, revoked_at_ms, revoked_by, mint_seq, mac ON api_keys
    FOR EACH ROW EXECUTE FUNCTION keyhold_standing_moves();
CREATE TRIGGER api_keys_standing_delete AFTER DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION keyhold_standing_moves();
CREATE TRIGGER workspaces_standing_update
    AFTER UPDATE OF id, name, revoked_all_at_ms, revoked_all_seq, mac ON workspaces
    FOR EACH ROW EXECUTE FUNCTION keyhold_standing_moves();
CREATE TRIGGER workspaces_standing_delete AFTER DELETE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION keyhold_standing_moves();
CREATE TRIGGER signing_keys_standing_change AFTER UPDATE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION keyhold_standing_moves();
CREATE TRIGGER signing_keys_standing_delete AFTER DELETE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION keyhold_standing_moves();

-- Moves with every committed write transaction: the change mark of every node.
CREATE TABLE writes (
    id      BIGINT PRIMARY KEY CHECK (id = 0),
    version BIGINT NOT NULL
);
INSERT INTO writes (id, version) VALUES (0, 0);

CREATE TABLE connections (
    id                TEXT   PRIMARY KEY,
    workspace         TEXT   NOT NULL REFERENCES workspaces (id),
    name              TEXT   NOT NULL,
    kind              TEXT   NOT NULL,
    settings          TEXT   NOT NULL,
    grace_secs        BIGINT NOT NULL CHECK (grace_secs >= 0),
    rotate_every_secs BIGINT CHECK (rotate_every_secs > 0),
    last_version      BIGINT NOT NULL CHECK (last_version >= 0),
    primary_state     TEXT   NOT NULL,
    secondary_state   TEXT   NOT NULL,
    created_at        BIGINT NOT NULL,
    created_by        TEXT   NOT NULL,
    updated_at        BIGINT NOT NULL,
    mac               BYTEA  NOT NULL,
    last_used_at      BIGINT,
    next_rotation_at  BIGINT,
    rotation_failures BIGINT NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_until       BIGINT,
    UNIQUE (workspace, name)
);
CREATE INDEX connections_due ON connections (next_rotation_at)
    WHERE next_rotation_at IS NOT NULL;

CREATE TABLE confirmations (
    id         TEXT   PRIMARY KEY,
    workspace  TEXT   NOT NULL,
    caller     TEXT   NOT NULL,
    intent     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    mac        BYTEA  NOT NULL
);

CREATE TABLE people (
    email         TEXT   PRIMARY KEY,
    display_name  TEXT   NOT NULL,
    password_hash TEXT,
    totp          BIGINT NOT NULL CHECK (totp IN (0, 1)),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    mac           BYTEA  NOT NULL,
    totp_step     BIGINT,
    last_sign_in  BIGINT
);
CREATE TABLE members (
    workspace  TEXT   NOT NULL REFERENCES workspaces (id),
    email      TEXT   NOT NULL REFERENCES people (email),
    role       TEXT   NOT NULL,
    state      TEXT   NOT NULL,
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    mac        BYTEA  NOT NULL,
    PRIMARY KEY (workspace, email)
);
CREATE INDEX members_by_email ON members (email);
CREATE TABLE sessions (
    id            TEXT   PRIMARY KEY,
    email         TEXT   NOT NULL,
    workspace     TEXT   NOT NULL,
    csrf          TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    idle_secs     BIGINT NOT NULL CHECK (idle_secs > 0),
    absolute_secs BIGINT NOT NULL CHECK (absolute_secs > 0),
    mac           BYTEA  NOT NULL,
    last_seen     BIGINT NOT NULL
);
CREATE INDEX sessions_by_member ON sessions (email, workspace);
CREATE TABLE enrolments (
    id         TEXT   PRIMARY KEY,
    email      TEXT   NOT NULL,
    workspace  TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    mac        BYTEA  NOT NULL
);
CREATE TABLE sign_in_failures (
    subject  TEXT   PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_at  BIGINT NOT NULL
);
CREATE TABLE workspace_policies (
    workspace        TEXT   PRIMARY KEY REFERENCES workspaces (id),
    require_totp     BIGINT NOT NULL CHECK (require_totp IN (0, 1)),
    developer_scopes TEXT   NOT NULL,
    updated_at       BIGINT NOT NULL,
    mac              BYTEA  NOT NULL
);
"#;
