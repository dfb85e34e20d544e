-- ConnectHub schema for PostgreSQL, version 13: batches (configuration as
-- code). It mirrors the SQLite schema's version 13.

-- +goose Up

-- A batch is a set of job changes written in one transaction: an apply of
-- definition files, an import, or the rollback of an earlier batch.
CREATE TABLE batches (
    id           bigserial   NOT NULL PRIMARY KEY,
    created_at   timestamptz NOT NULL,
    actor        text COLLATE "C" NOT NULL DEFAULT '',
    action       text        NOT NULL CHECK (action IN ('apply', 'import', 'rollback')),
    source_files jsonb       NOT NULL DEFAULT '[]',
    source_hash  text        NOT NULL DEFAULT '',
    rollback_of  bigint      NOT NULL DEFAULT 0,
    created      integer     NOT NULL DEFAULT 0,
    updated      integer     NOT NULL DEFAULT 0,
    deleted      integer     NOT NULL DEFAULT 0
);

-- One row per job a batch touched: its state before and after as the
-- job's JSON ('' for absent; text, not jsonb, so it reads back exactly as
-- written) and its encrypted secret_cfg token, which a rollback writes
-- back. No foreign key to jobs: a batch outlives the jobs it deleted.
CREATE TABLE batch_items (
    batch_id      bigint  NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    seq           integer NOT NULL,
    job_id        text COLLATE "C" NOT NULL,
    op            text    NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    before_state  text    NOT NULL DEFAULT '',
    before_secret text    NOT NULL DEFAULT '',
    after_state   text    NOT NULL DEFAULT '',
    after_secret  text    NOT NULL DEFAULT '',
    PRIMARY KEY (batch_id, seq)
);
CREATE INDEX batch_items_job ON batch_items (job_id, batch_id);

-- +goose Down
DROP TABLE batch_items;
DROP TABLE batches;
