-- ConnectHub schema for PostgreSQL, version 9: a run's meta object, and the
-- key of a run imported from another system. It mirrors the SQLite schema's
-- version 9.
--
-- meta is a JSON object (NULL when a run has none) for facts about a run
-- that are not part of what it executes: where an imported run came from
-- (imported_from), later the chain a run belongs to.
--
-- import_key names the record an imported run was made from (for the Python
-- ConnectHub, "python:job_logs:<id>"). The unique index makes an import
-- idempotent: importing the same history again inserts only what is new,
-- whichever process does it. Runs ConnectHub makes itself have none.

-- +goose Up
ALTER TABLE runs ADD COLUMN meta json;
ALTER TABLE runs ADD COLUMN import_key text COLLATE "C";
CREATE UNIQUE INDEX runs_import ON runs (job_id, import_key) WHERE import_key IS NOT NULL;

-- +goose Down
DROP INDEX runs_import;
ALTER TABLE runs DROP COLUMN import_key;
ALTER TABLE runs DROP COLUMN meta;
