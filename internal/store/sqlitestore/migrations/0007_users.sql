-- ConnectHub schema, version 7: users with roles, personal API tokens,
-- sessions that belong to users, and the audit log.
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds).

-- +goose Up

-- One row per person. password_hash is an encoded argon2id hash, '' for a
-- user who signs in only through single sign-on. A disabled user keeps its
-- row (for the record and the audit log) but cannot sign in, and its
-- sessions and tokens are refused.
CREATE TABLE users (
    username      TEXT    NOT NULL PRIMARY KEY,
    display_name  TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    password_hash TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_login_at INTEGER
) STRICT;

-- Tokens gain the user scope and an owner (the user a personal token acts
-- for). SQLite cannot change a CHECK constraint in place, so the table is
-- rebuilt; nothing references it by foreign key.
CREATE TABLE tokens_v7 (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    scope        TEXT    NOT NULL CHECK (scope IN ('admin', 'worker', 'user')),
    hash         TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    node_prefix  TEXT    NOT NULL DEFAULT '',
    queues       TEXT    NOT NULL DEFAULT '[]',
    owner        TEXT    NOT NULL DEFAULT ''
) STRICT;
INSERT INTO tokens_v7 (id, name, scope, hash, created_at, last_used_at, revoked_at, node_prefix, queues)
    SELECT id, name, scope, hash, created_at, last_used_at, revoked_at, node_prefix, queues FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_v7 RENAME TO tokens;
CREATE INDEX tokens_owner ON tokens (owner) WHERE owner <> '';

-- A session made with the bootstrap credentials is marked break_glass:
-- it is an admin without a user row. Every session before this version
-- was one.
ALTER TABLE sessions ADD COLUMN break_glass INTEGER NOT NULL DEFAULT 0 CHECK (break_glass IN (0, 1));
UPDATE sessions SET break_glass = 1;
CREATE INDEX sessions_user_name ON sessions (user_name);

-- The audit log: one row per change or sign-in, written in the same
-- transaction as the change. Append-only: a trigger refuses every UPDATE;
-- only the retention cleaner deletes, the oldest first. changes is a JSON
-- array of {field, before, after}.
CREATE TABLE audit (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    actor_kind  TEXT    NOT NULL,
    break_glass INTEGER NOT NULL DEFAULT 0,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL DEFAULT '',
    client      TEXT    NOT NULL DEFAULT '',
    changes     TEXT    NOT NULL DEFAULT '[]',
    detail      TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_target ON audit (target, id);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_action ON audit (action, id);
-- +goose StatementBegin
CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit;
DROP INDEX sessions_user_name;
ALTER TABLE sessions DROP COLUMN break_glass;
DELETE FROM tokens WHERE scope = 'user';
CREATE TABLE tokens_v5 (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    scope        TEXT    NOT NULL CHECK (scope IN ('admin', 'worker')),
    hash         TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    node_prefix  TEXT    NOT NULL DEFAULT '',
    queues       TEXT    NOT NULL DEFAULT '[]'
) STRICT;
INSERT INTO tokens_v5 SELECT id, name, scope, hash, created_at, last_used_at, revoked_at, node_prefix, queues FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_v5 RENAME TO tokens;
DROP TABLE users;
