-- ConnectHub schema for PostgreSQL, version 17: the held end of a remote
-- worker's log. It mirrors the SQLite schema's version 17.

-- +goose Up

-- The end of a log a remote worker sent that may be the beginning of a
-- secret its next request completes: the server stores it, encrypted with
-- the keyring like every secret, and masks it together with that next
-- request (or at completion). In the database rather than in memory so
-- that a restart or another replica between two requests changes nothing.
-- token is a Fernet token ('' when nothing is held); attempt is the attempt
-- whose request left it, so a later attempt never inherits it.
CREATE TABLE run_log_held (
    id      text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    token   text    NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE run_log_held;
