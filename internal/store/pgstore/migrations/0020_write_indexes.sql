-- ConnectHub schema for PostgreSQL, version 20: fewer index entries per
-- run state change.
--
-- A status change is never a HOT update (status is in several indexes and
-- index predicates), so PostgreSQL adds an entry for the new row version
-- to every index of runs whose predicate the new version satisfies. A
-- profile of the server under the queue (docs/benchmarks-write-path.md)
-- put 42% of its CPU in those insertions: 9 per run with the indexes of
-- versions 1 to 19 (a claim: the primary key, runs_job, runs_status,
-- runs_lease, runs_active; a successful end: the primary key, runs_job,
-- runs_status, runs_job_finished). This version takes that to 6:
--
-- - runs_status keeps the statuses that are worth an index to list newest
--   first: the waiting set and the rare ends. RUNNING runs are few (the
--   work in flight) and listed through runs_running; SUCCESS is nearly
--   every run, so a newest-first listing of successes walks the primary
--   key back and finds them at once. A claim and a successful end no
--   longer touch it.
-- - runs_lease (RUNNING by lease expiry) and runs_active (a job's QUEUED
--   and RUNNING runs) become runs_running (a job's RUNNING runs) and
--   runs_queued_job (a job's QUEUED runs): a claim touches one of them,
--   not two. The rescuer finds expired leases among the RUNNING runs
--   through runs_running, a walk bounded by the work in flight. And since
--   no index holds lease_expires_at or heartbeat_at any more, a heartbeat
--   (which changes only those) can be a HOT update: no index entry at all.
--
-- Queries that want one of these partial indexes name their status as a
-- literal (status = 'RUNNING'), one index per statement part: a status in
-- a parameter, or IN ('QUEUED', 'RUNNING'), cannot prove a partial index's
-- predicate.

-- +goose Up
DROP INDEX runs_status;
CREATE INDEX runs_status ON runs (status, id) WHERE status IN ('QUEUED', 'FAILURE', 'CANCELED', 'SKIPPED');
DROP INDEX runs_lease;
DROP INDEX runs_active;
CREATE INDEX runs_running ON runs (job_id) WHERE status = 'RUNNING';
CREATE INDEX runs_queued_job ON runs (job_id) WHERE status = 'QUEUED';

-- +goose Down
DROP INDEX runs_queued_job;
DROP INDEX runs_running;
CREATE INDEX runs_active ON runs (job_id) WHERE status IN ('QUEUED', 'RUNNING');
CREATE INDEX runs_lease ON runs (lease_expires_at, id) WHERE status = 'RUNNING';
DROP INDEX runs_status;
CREATE INDEX runs_status ON runs (status, id);
