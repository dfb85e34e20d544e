-- ConnectHub schema for PostgreSQL, version 7: users with roles, personal
-- API tokens, sessions that belong to users, and the audit log. It
-- mirrors the SQLite schema's version 7.

-- +goose Up

-- One row per person. password_hash is an encoded argon2id hash, '' for a
-- user who signs in only through single sign-on. A disabled user keeps its
-- row (for the record and the audit log) but cannot sign in, and its
-- sessions and tokens are refused.
CREATE TABLE users (
    username      text COLLATE "C" NOT NULL PRIMARY KEY,
    display_name  text        NOT NULL DEFAULT '',
    role          text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    disabled      boolean     NOT NULL DEFAULT false,
    password_hash text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_login_at timestamptz
);

-- Tokens gain the user scope and an owner (the user a personal token acts
-- for).
ALTER TABLE tokens DROP CONSTRAINT tokens_scope_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_scope_check CHECK (scope IN ('admin', 'worker', 'user'));
ALTER TABLE tokens ADD COLUMN owner text COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX tokens_owner ON tokens (owner) WHERE owner <> '';

-- A session made with the bootstrap credentials is marked break_glass:
-- it is an admin without a user row. Every session before this version
-- was one.
ALTER TABLE sessions ADD COLUMN break_glass boolean NOT NULL DEFAULT false;
UPDATE sessions SET break_glass = true;
CREATE INDEX sessions_user_name ON sessions (user_name);

-- The audit log: one row per change or sign-in, written in the same
-- transaction as the change. Append-only: a trigger refuses every UPDATE;
-- only the retention cleaner deletes, the oldest first. changes is a JSON
-- array of {field, before, after}.
CREATE TABLE audit (
    id          bigserial   NOT NULL PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text COLLATE "C" NOT NULL,
    actor_kind  text        NOT NULL,
    break_glass boolean     NOT NULL DEFAULT false,
    action      text COLLATE "C" NOT NULL,
    target      text COLLATE "C" NOT NULL DEFAULT '',
    client      text        NOT NULL DEFAULT '',
    changes     jsonb       NOT NULL DEFAULT '[]',
    detail      text        NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_target ON audit (target, id);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_action ON audit (action, id);
-- +goose StatementBegin
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

-- +goose Down
DROP TABLE audit;
DROP FUNCTION audit_append_only();
DROP INDEX sessions_user_name;
ALTER TABLE sessions DROP COLUMN break_glass;
DELETE FROM tokens WHERE scope = 'user';
DROP INDEX tokens_owner;
ALTER TABLE tokens DROP COLUMN owner;
ALTER TABLE tokens DROP CONSTRAINT tokens_scope_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_scope_check CHECK (scope IN ('admin', 'worker'));
DROP TABLE users;
