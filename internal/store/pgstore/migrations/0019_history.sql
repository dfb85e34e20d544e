-- ConnectHub schema for PostgreSQL, version 19: reads that do not walk a
-- long history. It mirrors the SQLite schema's version 19.

-- +goose Up

-- The runs that hold a secret snapshot, by id: the key check of a first
-- start and a key rotation walk them page by page (snapshot_secret <> ''
-- AND id > $1 ORDER BY id), which without this index reads every run of
-- the history to find the few that have one.
CREATE INDEX runs_secret ON runs (id) WHERE snapshot_secret <> '';

-- +goose Down
DROP INDEX runs_secret;
