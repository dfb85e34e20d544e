-- ConnectHub schema for PostgreSQL, version 6: maintained run counts, so
-- that the stats, the metrics and the dashboard never count history. It
-- keeps the same counts as the SQLite schema's version 6, differently.
--
-- Only finished runs (SUCCESS, FAILURE, CANCELED, SKIPPED) are counted:
-- QUEUED and RUNNING runs are the small active set, counted through the
-- partial indexes. Statement-level triggers record every change to the
-- counts, in the transaction of the write to runs, whatever the path (an
-- insert, a completion, a rescue, a purge, a job's delete cascading to its
-- runs, COPY from an importer, a retention cleaner), so they cannot drift.
--
-- Concurrent completions must not queue behind one hot counter row, nor
-- deadlock on two: so a trigger only appends rows to run_count_deltas (one
-- per job, status and hour a statement changed), which takes no lock that
-- another writer waits for. A maintenance pass folds the deltas into
-- run_counts and run_counts_hourly in one transaction; a read sums the
-- folded counts and the deltas not folded yet, in one snapshot.

-- +goose Up
CREATE TABLE run_counts (
    job_id text COLLATE "C" NOT NULL,
    status text   NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (job_id, status)
);

CREATE TABLE run_counts_hourly (
    hour   timestamptz NOT NULL, -- start of the UTC hour of finished_at
    status text        NOT NULL,
    n      bigint      NOT NULL,
    PRIMARY KEY (hour, status)
);

CREATE TABLE run_count_deltas (
    job_id text COLLATE "C" NOT NULL,
    status text        NOT NULL,
    hour   timestamptz NOT NULL,
    n      bigint      NOT NULL
);

-- A job's finished runs by status, newest first: its last run (one seek
-- per status) and the durations of its last successful runs, without
-- reading its history. Partial, so a claim never touches it.
CREATE INDEX runs_job_finished ON runs (job_id, status, id) WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED');

-- +goose StatementBegin
CREATE FUNCTION run_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO run_count_deltas (job_id, status, hour, n)
    SELECT job_id, status, date_trunc('hour', COALESCE(finished_at, created_at), 'UTC'), count(*)
    FROM new_runs WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
    GROUP BY 1, 2, 3;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION run_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO run_count_deltas (job_id, status, hour, n)
    SELECT job_id, status, date_trunc('hour', COALESCE(finished_at, created_at), 'UTC'), -count(*)
    FROM old_runs WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
    GROUP BY 1, 2, 3;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- An update takes every old finished row out and puts every new one in;
-- what did not change nets out to nothing and is not written.
-- +goose StatementBegin
CREATE FUNCTION run_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO run_count_deltas (job_id, status, hour, n)
    SELECT job_id, status, hour, sum(n) FROM (
        SELECT job_id, status, date_trunc('hour', COALESCE(finished_at, created_at), 'UTC') AS hour, -1 AS n
        FROM old_runs WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
        UNION ALL
        SELECT job_id, status, date_trunc('hour', COALESCE(finished_at, created_at), 'UTC'), 1
        FROM new_runs WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
    ) AS d
    GROUP BY 1, 2, 3 HAVING sum(n) <> 0;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER run_counts_insert AFTER INSERT ON runs
    REFERENCING NEW TABLE AS new_runs FOR EACH STATEMENT EXECUTE FUNCTION run_counts_insert();
CREATE TRIGGER run_counts_delete AFTER DELETE ON runs
    REFERENCING OLD TABLE AS old_runs FOR EACH STATEMENT EXECUTE FUNCTION run_counts_delete();
CREATE TRIGGER run_counts_update AFTER UPDATE ON runs
    REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs FOR EACH STATEMENT EXECUTE FUNCTION run_counts_update();

-- The counts of the runs already there.
INSERT INTO run_counts (job_id, status, n)
    SELECT job_id, status, count(*) FROM runs WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
    GROUP BY 1, 2;
INSERT INTO run_counts_hourly (hour, status, n)
    SELECT date_trunc('hour', COALESCE(finished_at, created_at), 'UTC'), status, count(*)
    FROM runs WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
    GROUP BY 1, 2;

-- +goose Down
DROP TRIGGER run_counts_update ON runs;
DROP TRIGGER run_counts_delete ON runs;
DROP TRIGGER run_counts_insert ON runs;
DROP FUNCTION run_counts_update();
DROP FUNCTION run_counts_delete();
DROP FUNCTION run_counts_insert();
DROP INDEX runs_job_finished;
DROP TABLE run_count_deltas;
DROP TABLE run_counts_hourly;
DROP TABLE run_counts;
