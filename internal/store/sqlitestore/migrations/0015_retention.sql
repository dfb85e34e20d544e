-- ConnectHub schema, version 15: run retention.
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds,
-- durations in nanoseconds).

-- +goose Up

-- keep_runs: the number of finished runs a job keeps (0: no count limit);
-- keep_for_ns: how long it keeps them (0: the server's default). The
-- cleaner reads a job's finished runs through runs_job_finished
-- (job_id, status, id), so it needs no new index.
ALTER TABLE jobs ADD COLUMN keep_runs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN keep_for_ns INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE jobs DROP COLUMN keep_for_ns;
ALTER TABLE jobs DROP COLUMN keep_runs;
