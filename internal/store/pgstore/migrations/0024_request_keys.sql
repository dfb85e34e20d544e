-- ConnectHub schema for PostgreSQL, version 24: run-now requests with an
-- Idempotency-Key. It mirrors the SQLite schema's version 24.

-- +goose Up

-- A job's run made by a request with an Idempotency-Key, by that key: a
-- second run of the job with the same key is refused (so a retried
-- request cannot make two runs, whatever races it), and a retry finds the
-- run the first request made. Runs without a key, nearly all, are not in
-- the index, so it costs them nothing.
CREATE UNIQUE INDEX runs_request_key ON runs (job_id, (meta->>'request_key'))
    WHERE meta->>'request_key' IS NOT NULL;

-- +goose Down
DROP INDEX runs_request_key;
