-- ConnectHub schema, version 24: run-now requests with an Idempotency-Key.
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds,
-- durations in nanoseconds).

-- +goose Up

-- A job's run made by a request with an Idempotency-Key, by that key: a
-- second run of the job with the same key is refused (so a retried
-- request cannot make two runs, whatever races it), and a retry finds the
-- run the first request made. Runs without a key, nearly all, are not in
-- the index, so it costs them nothing.
CREATE UNIQUE INDEX runs_request_key ON runs (job_id, json_extract(meta, '$.request_key'))
    WHERE json_extract(meta, '$.request_key') IS NOT NULL;

-- +goose Down
DROP INDEX runs_request_key;
