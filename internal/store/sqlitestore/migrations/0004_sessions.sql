-- ConnectHub schema, version 4: the admin UI's sessions.
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds).

-- +goose Up

-- One row per login. hash is the hex SHA-256 of the cookie's secret,
-- unique so that a request is authenticated with one index lookup; the
-- secret itself is never stored. A revoked session keeps its row until it
-- expires, so its cookie is known as logged out; SessionCreate deletes
-- expired rows, through the expires_at index.
CREATE TABLE sessions (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_name    TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    client       TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
