-- ConnectHub schema for PostgreSQL, version 14: chains between jobs. It
-- mirrors the SQLite schema's version 14.

-- +goose Up

-- Runs gain the trigger chain. NOT VALID skips a scan of every run: each
-- stored row met the narrower constraint already.
ALTER TABLE runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_check
    CHECK ("trigger" IN ('cron', 'manual', 'retry', 'api', 'chain')) NOT VALID;

-- The jobs a run of this job starts when it ends SUCCESS (on_success) or
-- FAILURE for good (on_failure). A job's lists are read whole with the
-- job; the few queries across jobs (a delete's check for upstream jobs, a
-- chain write's cycle check) read the jobs that have any, which
-- jobs_chained keeps to those.
ALTER TABLE jobs ADD COLUMN on_success text[] NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN on_failure text[] NOT NULL DEFAULT '{}';
CREATE INDEX jobs_chained ON jobs (id) WHERE on_success <> '{}' OR on_failure <> '{}';

-- At most one run per parent run and downstream job: the run page's
-- "started by this run" list reads it, and it backs the rule that a
-- parent's end starts each downstream job once.
CREATE UNIQUE INDEX runs_chain_parent ON runs ((meta->>'parent_run'), job_id)
    WHERE "trigger" = 'chain';

-- +goose Down
DELETE FROM runs WHERE "trigger" = 'chain';
ALTER TABLE runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_check CHECK ("trigger" IN ('cron', 'manual', 'retry', 'api'));
DROP INDEX runs_chain_parent;
DROP INDEX jobs_chained;
ALTER TABLE jobs DROP COLUMN on_failure;
ALTER TABLE jobs DROP COLUMN on_success;
