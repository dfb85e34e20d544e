-- ConnectHub schema for PostgreSQL, version 12: job revisions. It mirrors
-- the SQLite schema's version 12.

-- +goose Up

-- One row per stored state of a job, written in the transaction of the
-- change. No foreign key to jobs: a deleted job keeps its revisions, so it
-- can be restored. id is "<job id>/<revision>" (a slash is not allowed in
-- job ids), the key the secret walk pages by. definition is the job's JSON
-- (text, not jsonb: its bytes are kept as written) without
-- server-maintained fields; secret_keys a JSON array of names;
-- secret_fingerprint the JSON of the keyed fingerprint ('' for none);
-- secret_cfg the encrypted secret exactly as the job stored it.
CREATE TABLE job_revisions (
    id                 text COLLATE "C" NOT NULL PRIMARY KEY,
    job_id             text COLLATE "C" NOT NULL,
    revision           integer     NOT NULL CHECK (revision > 0),
    action             text        NOT NULL,
    actor              text        NOT NULL,
    actor_kind         text        NOT NULL,
    source             text        NOT NULL DEFAULT '',
    at                 timestamptz NOT NULL,
    definition         text        NOT NULL,
    secret_keys        text        NOT NULL DEFAULT '[]',
    secret_fingerprint text        NOT NULL DEFAULT '',
    secret_cfg         text        NOT NULL DEFAULT '',
    UNIQUE (job_id, revision)
);

-- The last number given to each job id, so that numbers are never reused
-- (not even after a delete) and concurrent changes of one job get
-- distinct ones: the upsert of this row, which locks it until the
-- transaction ends, is what assigns a number.
CREATE TABLE job_revision_heads (
    job_id        text COLLATE "C" NOT NULL PRIMARY KEY,
    last_revision integer NOT NULL
);

-- +goose Down
DROP TABLE job_revision_heads;
DROP TABLE job_revisions;
