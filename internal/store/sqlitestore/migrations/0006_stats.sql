-- ConnectHub schema, version 6: maintained run counts, so that the stats,
-- the metrics and the dashboard never count history.
--
-- Only finished runs (SUCCESS, FAILURE, CANCELED, SKIPPED) are counted
-- here: QUEUED and RUNNING runs are the small active set, counted through
-- the partial indexes runs_claim and runs_lease. Triggers keep the counts,
-- in the transaction of every write to runs, whatever the path (an insert,
-- a completion, a rescue, a purge, a job's delete cascading to its runs, an
-- importer, a retention cleaner), so they cannot drift. SQLite has one
-- writer, so a row per (job, status) costs no contention.
--
-- run_counts_hourly buckets finished runs by the UTC hour of finished_at
-- (created_at when a finished run has none); the maintenance pass prunes
-- hours older than two days, so the table stays small.

-- +goose Up
CREATE TABLE run_counts (
    job_id TEXT    NOT NULL,
    status TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (job_id, status)
) STRICT, WITHOUT ROWID;

CREATE TABLE run_counts_hourly (
    hour   INTEGER NOT NULL, -- start of the UTC hour, unix microseconds
    status TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (hour, status)
) STRICT, WITHOUT ROWID;

-- A job's finished runs by status, newest first: its last run (one seek
-- per status) and the durations of its last successful runs, without
-- reading its history. Partial, so a claim never touches it.
CREATE INDEX runs_job_finished ON runs (job_id, status, id) WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED');

-- +goose StatementBegin
CREATE TRIGGER run_counts_insert AFTER INSERT ON runs
WHEN NEW.status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
BEGIN
    INSERT INTO run_counts (job_id, status, n) VALUES (NEW.job_id, NEW.status, 1)
        ON CONFLICT (job_id, status) DO UPDATE SET n = n + 1;
    INSERT INTO run_counts_hourly (hour, status, n)
        VALUES (COALESCE(NEW.finished_at, NEW.created_at) - COALESCE(NEW.finished_at, NEW.created_at) % 3600000000, NEW.status, 1)
        ON CONFLICT (hour, status) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER run_counts_delete AFTER DELETE ON runs
WHEN OLD.status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
BEGIN
    INSERT INTO run_counts (job_id, status, n) VALUES (OLD.job_id, OLD.status, -1)
        ON CONFLICT (job_id, status) DO UPDATE SET n = n - 1;
    INSERT INTO run_counts_hourly (hour, status, n)
        VALUES (COALESCE(OLD.finished_at, OLD.created_at) - COALESCE(OLD.finished_at, OLD.created_at) % 3600000000, OLD.status, -1)
        ON CONFLICT (hour, status) DO UPDATE SET n = n - 1;
END;
-- +goose StatementEnd

-- An update that changes what is counted (status, job or finish time) of a
-- run that is or was finished takes the old row out and puts the new one
-- in. Heartbeats and log appends do not name these columns, so the trigger
-- is not even considered for them.
-- +goose StatementBegin
CREATE TRIGGER run_counts_update AFTER UPDATE OF status, job_id, finished_at, created_at ON runs
WHEN (OLD.status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED') OR NEW.status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED'))
    AND (OLD.status IS NOT NEW.status OR OLD.job_id IS NOT NEW.job_id
        OR OLD.finished_at IS NOT NEW.finished_at OR OLD.created_at IS NOT NEW.created_at)
BEGIN
    INSERT INTO run_counts (job_id, status, n)
        SELECT OLD.job_id, OLD.status, -1 WHERE OLD.status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
        ON CONFLICT (job_id, status) DO UPDATE SET n = n - 1;
    INSERT INTO run_counts_hourly (hour, status, n)
        SELECT COALESCE(OLD.finished_at, OLD.created_at) - COALESCE(OLD.finished_at, OLD.created_at) % 3600000000, OLD.status, -1
        WHERE OLD.status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
        ON CONFLICT (hour, status) DO UPDATE SET n = n - 1;
    INSERT INTO run_counts (job_id, status, n)
        SELECT NEW.job_id, NEW.status, 1 WHERE NEW.status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
        ON CONFLICT (job_id, status) DO UPDATE SET n = n + 1;
    INSERT INTO run_counts_hourly (hour, status, n)
        SELECT COALESCE(NEW.finished_at, NEW.created_at) - COALESCE(NEW.finished_at, NEW.created_at) % 3600000000, NEW.status, 1
        WHERE NEW.status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
        ON CONFLICT (hour, status) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- The counts of the runs already there.
INSERT INTO run_counts (job_id, status, n)
    SELECT job_id, status, COUNT(*) FROM runs WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
    GROUP BY job_id, status;
INSERT INTO run_counts_hourly (hour, status, n)
    SELECT COALESCE(finished_at, created_at) - COALESCE(finished_at, created_at) % 3600000000, status, COUNT(*)
    FROM runs WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
    GROUP BY 1, 2;

-- +goose Down
DROP TRIGGER run_counts_update;
DROP TRIGGER run_counts_delete;
DROP TRIGGER run_counts_insert;
DROP INDEX runs_job_finished;
DROP TABLE run_counts_hourly;
DROP TABLE run_counts;
