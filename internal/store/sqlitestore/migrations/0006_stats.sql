-- ConnectHub schema, version 6: maintained run counts, so that the stats,
-- the metrics and the dashboard never count history.
--
-- Only finished runs (SUCCESS, FAILURE, CANCELED, SKIPPED) are counted
-- here: QUEUED and RUNNING runs are the small active set, counted through
-- the partial indexes runs_claim and runs_lease. The counts change in
-- the transaction of every write to runs, so they cannot drift: a trigger
-- counts every delete, whatever the path (a purge, a retention cleaner, a
-- job's delete cascading to its runs), and the driver's statements count
-- what they insert and finish (see below). SQLite has one writer, so a row
-- per (job, status) costs no contention.
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

-- There is no trigger on INSERT or UPDATE: in SQLite a row trigger costs
-- a sub-program call for every row written, even one it does not count (a
-- QUEUED insert, a claim): measured, inserts took 40% more CPU and
-- completions ran at half the rate. The driver's statements that insert
-- finished runs or finish runs (a completion, a cancel, a rescue that
-- gives up, a replaced cron run, a SKIPPED fire, an import through
-- RunInsert or LoadHistory) add what they wrote in one statement per
-- transaction instead (finishCounts in stats.go). Deletes, whatever their
-- path, are counted by the trigger above.

-- The counts of the runs already there.
INSERT INTO run_counts (job_id, status, n)
    SELECT job_id, status, COUNT(*) FROM runs WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
    GROUP BY job_id, status;
INSERT INTO run_counts_hourly (hour, status, n)
    SELECT COALESCE(finished_at, created_at) - COALESCE(finished_at, created_at) % 3600000000, status, COUNT(*)
    FROM runs WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
    GROUP BY 1, 2;

-- +goose Down
DROP TRIGGER run_counts_delete;
DROP INDEX runs_job_finished;
DROP TABLE run_counts_hourly;
DROP TABLE run_counts;
