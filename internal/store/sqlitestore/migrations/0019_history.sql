-- ConnectHub schema, version 19: reads that do not walk a long history.
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds,
-- durations in nanoseconds).

-- +goose Up

-- The runs that hold a secret snapshot, by id: the key check of a first
-- start and a key rotation walk them page by page (snapshot_secret <> ''
-- AND id > ? ORDER BY id), which without this index reads every run of
-- the history to find the few that have one.
CREATE INDEX runs_secret ON runs (id) WHERE snapshot_secret <> '';

-- +goose Down
DROP INDEX runs_secret;
