-- ConnectHub schema, version 14: chains between jobs.
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds).

-- +goose Up

-- Runs gain the trigger chain. SQLite cannot change a CHECK constraint in
-- place; rebuilding runs would copy every run, so the constraint's text is
-- widened where SQLite keeps it, as SQLite's documentation allows for
-- loosening a constraint (every stored row meets the wider one). RESET
-- makes this connection read the new text; the CREATE INDEX statements
-- below change the schema cookie, so every other connection reads it too.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
    SET sql = replace(sql, '"trigger"        TEXT    NOT NULL CHECK ("trigger" IN (''cron'', ''manual'', ''retry'', ''api''))',
                           '"trigger"        TEXT    NOT NULL CHECK ("trigger" IN (''cron'', ''manual'', ''retry'', ''api'', ''chain''))')
    WHERE type = 'table' AND name = 'runs';
PRAGMA writable_schema = RESET;

-- The jobs a run of this job starts when it ends SUCCESS (on_success) or
-- FAILURE for good (on_failure): JSON arrays of job ids. A job's lists are
-- read whole with the job; the few queries across jobs (a delete's check
-- for upstream jobs, a chain write's cycle check) read the jobs that have
-- any, which jobs_chained keeps to those.
ALTER TABLE jobs ADD COLUMN on_success TEXT NOT NULL DEFAULT '[]';
ALTER TABLE jobs ADD COLUMN on_failure TEXT NOT NULL DEFAULT '[]';
CREATE INDEX jobs_chained ON jobs (id) WHERE on_success <> '[]' OR on_failure <> '[]';

-- At most one run per parent run and downstream job: the run page's
-- "started by this run" list reads it, and it backs the rule that a
-- parent's end starts each downstream job once.
CREATE UNIQUE INDEX runs_chain_parent ON runs (json_extract(meta, '$.parent_run'), job_id)
    WHERE "trigger" = 'chain';

-- +goose Down
DELETE FROM runs WHERE "trigger" = 'chain';
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
    SET sql = replace(sql, '"trigger"        TEXT    NOT NULL CHECK ("trigger" IN (''cron'', ''manual'', ''retry'', ''api'', ''chain''))',
                           '"trigger"        TEXT    NOT NULL CHECK ("trigger" IN (''cron'', ''manual'', ''retry'', ''api''))')
    WHERE type = 'table' AND name = 'runs';
PRAGMA writable_schema = RESET;
DROP INDEX runs_chain_parent;
DROP INDEX jobs_chained;
ALTER TABLE jobs DROP COLUMN on_failure;
ALTER TABLE jobs DROP COLUMN on_success;
