-- ConnectHub schema, version 17: the held end of a remote worker's log.
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds).

-- +goose Up

-- The end of a log a remote worker sent that may be the beginning of a
-- secret its next request completes: the server stores it, encrypted with
-- the keyring like every secret, and masks it together with that next
-- request (or at completion). In the database rather than in memory so
-- that a restart or another replica between two requests changes nothing.
-- token is a Fernet token ('' when nothing is held); attempt is the attempt
-- whose request left it, so a later attempt never inherits it.
CREATE TABLE run_log_held (
    id      TEXT    NOT NULL PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    token   TEXT    NOT NULL DEFAULT ''
) STRICT;

-- +goose Down
DROP TABLE run_log_held;
