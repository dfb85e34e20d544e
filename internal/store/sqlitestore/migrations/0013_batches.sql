-- ConnectHub schema, version 13: batches (configuration as code).
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds).

-- +goose Up

-- A batch is a set of job changes written in one transaction: an apply of
-- definition files, an import, or the rollback of an earlier batch.
-- AUTOINCREMENT: a batch id is never reused, so "rollback 12" can never
-- name another batch than the one it named yesterday.
CREATE TABLE batches (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    created_at   INTEGER NOT NULL,
    actor        TEXT    NOT NULL DEFAULT '',
    action       TEXT    NOT NULL CHECK (action IN ('apply', 'import', 'rollback')),
    source_files TEXT    NOT NULL DEFAULT '[]',
    source_hash  TEXT    NOT NULL DEFAULT '',
    rollback_of  INTEGER NOT NULL DEFAULT 0,
    created      INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0,
    deleted      INTEGER NOT NULL DEFAULT 0
) STRICT;

-- One row per job a batch touched: its state before and after as the
-- job's JSON ('' for absent) and its encrypted secret_cfg token, which a
-- rollback writes back. No foreign key to jobs: a batch outlives the jobs
-- it deleted.
CREATE TABLE batch_items (
    batch_id      INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    job_id        TEXT    NOT NULL,
    op            TEXT    NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    before_state  TEXT    NOT NULL DEFAULT '',
    before_secret TEXT    NOT NULL DEFAULT '',
    after_state   TEXT    NOT NULL DEFAULT '',
    after_secret  TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (batch_id, seq)
) STRICT;
CREATE INDEX batch_items_job ON batch_items (job_id, batch_id);

-- +goose Down
DROP TABLE batch_items;
DROP TABLE batches;
