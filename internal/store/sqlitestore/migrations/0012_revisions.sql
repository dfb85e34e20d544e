-- ConnectHub schema, version 12: job revisions.
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds).

-- +goose Up

-- One row per stored state of a job, written in the transaction of the
-- change. No foreign key to jobs: a deleted job keeps its revisions, so it
-- can be restored. id is "<job id>/<revision>" (a slash is not allowed in
-- job ids), the key the secret walk pages by. definition is the job's JSON
-- without server-maintained fields; secret_keys a JSON array of names;
-- secret_fingerprint the JSON of the keyed fingerprint ('' for none);
-- secret_cfg the encrypted secret exactly as the job stored it.
CREATE TABLE job_revisions (
    id                 TEXT    NOT NULL PRIMARY KEY,
    job_id             TEXT    NOT NULL,
    revision           INTEGER NOT NULL CHECK (revision > 0),
    action             TEXT    NOT NULL,
    actor              TEXT    NOT NULL,
    actor_kind         TEXT    NOT NULL,
    source             TEXT    NOT NULL DEFAULT '',
    at                 INTEGER NOT NULL,
    definition         TEXT    NOT NULL,
    secret_keys        TEXT    NOT NULL DEFAULT '[]',
    secret_fingerprint TEXT    NOT NULL DEFAULT '',
    secret_cfg         TEXT    NOT NULL DEFAULT '',
    UNIQUE (job_id, revision)
) STRICT;

-- The last number given to each job id, so that numbers are never reused
-- (not even after a delete) and concurrent changes of one job get
-- distinct ones: the upsert of this row is what assigns a number.
CREATE TABLE job_revision_heads (
    job_id        TEXT    NOT NULL PRIMARY KEY,
    last_revision INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE job_revision_heads;
DROP TABLE job_revisions;
