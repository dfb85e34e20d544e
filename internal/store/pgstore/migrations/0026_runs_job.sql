-- ConnectHub schema for PostgreSQL, version 26: no index of every run by
-- job, and no foreign key from runs to jobs.
--
-- runs_job (job_id, id) held every run, so each run state change (the
-- insert, the claim, the end: a status change is never a HOT update) added
-- an entry to it: two of the six entries a run costs after it is queued,
-- and about a quarter of the server's CPU per run under the queue
-- (docs/benchmarks-write-path.md). Every read it served now walks the
-- per-status indexes a run already has, newest first, and merges them:
--
-- - a job's run list: runs_queued_job and runs_running (now keyed by
--   job_id, id, so that a job's backlog is walked in order, not sorted)
--   and runs_job_finished (job_id, status, id), one walk per status;
-- - the trailing failures of a job (alerts): the newest SUCCESS through
--   runs_job_finished, then the FAILUREs after it.
--
-- The foreign key needed runs_job too: deleting a job made PostgreSQL
-- look up the job's runs by job_id alone, which without an index on
-- job_id is a scan of the whole table. The store now keeps the rule the
-- key kept, in the same way: a run insert locks its jobs' rows
-- (FOR KEY SHARE, as the key's check did) and fails with a
-- foreign_key_violation (connecthub_job_missing) when one is gone; a job
-- deletion locks the job's row (FOR UPDATE), then deletes its runs status
-- by status through the same indexes, then the job. The lock orders the
-- two, so no run can be left without its job.

-- +goose Up
ALTER TABLE runs DROP CONSTRAINT runs_job_id_fkey;
DROP INDEX runs_job;
DROP INDEX runs_running;
CREATE INDEX runs_running ON runs (job_id, id) WHERE status = 'RUNNING';
DROP INDEX runs_queued_job;
CREATE INDEX runs_queued_job ON runs (job_id, id) WHERE status = 'QUEUED';

-- +goose StatementBegin
CREATE FUNCTION connecthub_job_missing(job text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'job % does not exist', job USING ERRCODE = 'foreign_key_violation';
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION connecthub_job_missing(text);
DROP INDEX runs_queued_job;
CREATE INDEX runs_queued_job ON runs (job_id) WHERE status = 'QUEUED';
DROP INDEX runs_running;
CREATE INDEX runs_running ON runs (job_id) WHERE status = 'RUNNING';
CREATE INDEX runs_job ON runs (job_id, id);
ALTER TABLE runs ADD CONSTRAINT runs_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE CASCADE;
