-- ConnectHub schema for PostgreSQL, version 1.
--
-- It mirrors the SQLite schema (internal/store/sqlitestore/migrations) so the
-- two drivers behave the same; where they differ, it is in the type only:
--   - times are timestamptz, which keeps microseconds, the precision both
--     drivers promise;
--   - durations are bigint nanoseconds (time.Duration), as in SQLite;
--   - JSON documents are json, not jsonb: json keeps the text as written
--     (key order, spacing), which is what the SQLite driver returns too;
--   - ids, job ids and queue names use the "C" collation: ULIDs and cursors
--     must sort bytewise, whatever the database's default collation, or
--     ORDER BY id would disagree with SQLite (and with Go);
--   - run logs are bytea: a log is whatever bytes a handler wrote, and
--     PostgreSQL text cannot hold NUL bytes or invalid UTF-8.

-- +goose Up
CREATE TABLE jobs (
    id                text COLLATE "C" NOT NULL PRIMARY KEY,
    description       text        NOT NULL DEFAULT '',
    enabled           boolean     NOT NULL DEFAULT true,
    cron_expr         text        NOT NULL DEFAULT '',
    timezone          text        NOT NULL DEFAULT '',
    handler           text COLLATE "C" NOT NULL,
    public_cfg        json        NOT NULL DEFAULT '{}',
    secret_cfg        text        NOT NULL DEFAULT '',   -- Fernet token, never decoded here
    secret_keys       text[]      NOT NULL DEFAULT '{}',
    has_secret        boolean     NOT NULL DEFAULT false,
    timeout_ns        bigint      NOT NULL DEFAULT 0,
    max_attempts      integer     NOT NULL DEFAULT 1,
    retry_backoff_ns  bigint      NOT NULL DEFAULT 0,
    concurrency       text        NOT NULL DEFAULT 'forbid',
    misfire           text        NOT NULL DEFAULT 'once',
    misfire_window_ns bigint      NOT NULL DEFAULT 0,
    queue             text COLLATE "C" NOT NULL DEFAULT 'default',
    priority          integer     NOT NULL DEFAULT 0,
    last_run_at       timestamptz,
    next_run_at       timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);

-- The scheduler's view: enabled jobs by their next slot (JobListDue,
-- JobNextDue). Partial, so disabled and on-demand jobs cost nothing.
CREATE INDEX jobs_due ON jobs (next_run_at, id) WHERE enabled AND next_run_at IS NOT NULL;

CREATE TABLE runs (
    id               text COLLATE "C" NOT NULL PRIMARY KEY, -- ULID: unique and sortable by creation
    job_id           text COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    status           text        NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')),
    "trigger"        text        NOT NULL CHECK ("trigger" IN ('cron', 'manual', 'retry', 'api')),
    scheduled_for    timestamptz NOT NULL,
    queue            text COLLATE "C" NOT NULL,
    priority         integer     NOT NULL,
    handler          text COLLATE "C" NOT NULL, -- copy of snapshot.handler for the claim's handler filter
    snapshot         json        NOT NULL,      -- connecthub.Snapshot, without the secret token
    snapshot_secret  text        NOT NULL DEFAULT '',
    attempt          integer     NOT NULL,
    max_attempts     integer     NOT NULL,
    attempts         json        NOT NULL DEFAULT '[]',
    available_at     timestamptz NOT NULL,
    node             text        NOT NULL DEFAULT '',
    lease_expires_at timestamptz,
    heartbeat_at     timestamptz,
    cancel_requested boolean     NOT NULL DEFAULT false,
    started_at       timestamptz,
    finished_at      timestamptz,
    message          text        NOT NULL DEFAULT '',
    error            text        NOT NULL DEFAULT '',
    traceback        text        NOT NULL DEFAULT '',
    result           json,
    log_size         bigint      NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

-- Exactly-once cron: one run per job and slot, whichever replica inserts it.
-- Manual, api and retry runs may share a scheduled_for, so the key is partial.
CREATE UNIQUE INDEX runs_cron_slot ON runs (job_id, scheduled_for) WHERE "trigger" = 'cron';

-- The claim: QUEUED runs of a queue, highest priority first, then oldest.
-- Partial, so the index holds only the (small) waiting set, never history.
CREATE INDEX runs_claim ON runs (queue, priority DESC, id) WHERE status = 'QUEUED';

-- The rescuer: RUNNING runs by lease expiry.
CREATE INDEX runs_lease ON runs (lease_expires_at, id) WHERE status = 'RUNNING';

-- A job's active runs, for the concurrency policies and RunActiveCount.
CREATE INDEX runs_active ON runs (job_id) WHERE status IN ('QUEUED', 'RUNNING');

-- Listing a job's runs newest first; also serves the ON DELETE CASCADE.
CREATE INDEX runs_job ON runs (job_id, id);

-- Listing by status newest first, and counting by status for Stats.
CREATE INDEX runs_status ON runs (status, id);

-- Run logs are kept apart from the runs row in append-only chunks: appending
-- is an insert of the new bytes rather than a rewrite of the whole log (and
-- of the row every heartbeat and completion touches). off is the byte offset
-- of the chunk in the log.
CREATE TABLE run_logs (
    run_id text COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    off    bigint NOT NULL,
    data   bytea  NOT NULL,
    PRIMARY KEY (run_id, off)
);

-- +goose Down
DROP TABLE run_logs;
DROP TABLE runs;
DROP TABLE jobs;
