-- ConnectHub schema, version 1.
--
-- Conventions: times are INTEGER unix microseconds in UTC (compact, sortable,
-- and exact to the precision PostgreSQL keeps); durations are INTEGER
-- nanoseconds (time.Duration); JSON is TEXT. Tables are STRICT so that a bug
-- that writes the wrong type fails loudly instead of storing it.

-- +goose Up
CREATE TABLE jobs (
    id                TEXT    NOT NULL PRIMARY KEY,
    description       TEXT    NOT NULL DEFAULT '',
    enabled           INTEGER NOT NULL DEFAULT 1,
    cron_expr         TEXT    NOT NULL DEFAULT '',
    timezone          TEXT    NOT NULL DEFAULT '',
    handler           TEXT    NOT NULL,
    public_cfg        TEXT    NOT NULL DEFAULT '{}',
    secret_cfg        TEXT    NOT NULL DEFAULT '',  -- Fernet token, never decoded here
    secret_keys       TEXT    NOT NULL DEFAULT '[]', -- JSON array of key names
    has_secret        INTEGER NOT NULL DEFAULT 0,
    timeout_ns        INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL DEFAULT 1,
    retry_backoff_ns  INTEGER NOT NULL DEFAULT 0,
    concurrency       TEXT    NOT NULL DEFAULT 'forbid',
    misfire           TEXT    NOT NULL DEFAULT 'once',
    misfire_window_ns INTEGER NOT NULL DEFAULT 0,
    queue             TEXT    NOT NULL DEFAULT 'default',
    priority          INTEGER NOT NULL DEFAULT 0,
    last_run_at       INTEGER,
    next_run_at       INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;

-- The scheduler's view: enabled jobs by their next slot (JobListDue,
-- JobNextDue). Partial, so disabled and on-demand jobs cost nothing.
CREATE INDEX jobs_due ON jobs (next_run_at, id) WHERE enabled = 1 AND next_run_at IS NOT NULL;

CREATE TABLE runs (
    id               TEXT    NOT NULL PRIMARY KEY, -- ULID: unique and sortable by creation
    job_id           TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    status           TEXT    NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')),
    "trigger"        TEXT    NOT NULL CHECK ("trigger" IN ('cron', 'manual', 'retry', 'api')),
    scheduled_for    INTEGER NOT NULL,
    queue            TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    handler          TEXT    NOT NULL, -- copy of snapshot.handler for the claim's handler filter
    snapshot         TEXT    NOT NULL, -- JSON of connecthub.Snapshot, without the secret token
    snapshot_secret  TEXT    NOT NULL DEFAULT '',
    attempt          INTEGER NOT NULL,
    max_attempts     INTEGER NOT NULL,
    attempts         TEXT    NOT NULL DEFAULT '[]',
    available_at     INTEGER NOT NULL,
    node             TEXT    NOT NULL DEFAULT '',
    lease_expires_at INTEGER,
    heartbeat_at     INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    started_at       INTEGER,
    finished_at      INTEGER,
    message          TEXT    NOT NULL DEFAULT '',
    error            TEXT    NOT NULL DEFAULT '',
    traceback        TEXT    NOT NULL DEFAULT '',
    result           TEXT,
    log_size         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

-- Exactly-once cron: one run per job and slot, whichever replica inserts it.
-- Manual, api and retry runs may share a scheduled_for, so the key is partial.
CREATE UNIQUE INDEX runs_cron_slot ON runs (job_id, scheduled_for) WHERE "trigger" = 'cron';

-- The claim: QUEUED runs of a queue, highest priority first, then oldest.
-- Partial, so the index holds only the (small) waiting set, never history.
CREATE INDEX runs_claim ON runs (queue, priority DESC, id) WHERE status = 'QUEUED';

-- The rescuer: RUNNING runs by lease expiry.
CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'RUNNING';

-- A job's active runs, for the concurrency policies and RunActiveCount.
CREATE INDEX runs_active ON runs (job_id) WHERE status IN ('QUEUED', 'RUNNING');

-- Listing a job's runs newest first; also serves the ON DELETE CASCADE.
CREATE INDEX runs_job ON runs (job_id, id);

-- Listing finished runs by status newest first (the admin's "failures"
-- view), and counting them for Stats. Partial, so the claim (QUEUED to
-- RUNNING) never touches it and a completion only adds an entry: a full
-- (status, id) index cost the queue about 12% of its throughput. QUEUED and
-- RUNNING runs are counted and listed through runs_claim and runs_lease.
CREATE INDEX runs_finished ON runs (status, id) WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED');

-- Run logs are kept apart from the runs row in append-only chunks: appending
-- is an insert of the new bytes rather than a rewrite of the whole log (and
-- of the row every heartbeat and completion touches). off is the byte offset
-- of the chunk in the log.
CREATE TABLE run_logs (
    run_id TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    off    INTEGER NOT NULL,
    data   TEXT    NOT NULL,
    PRIMARY KEY (run_id, off)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE run_logs;
DROP TABLE runs;
DROP TABLE jobs;
