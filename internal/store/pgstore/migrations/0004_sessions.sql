-- ConnectHub schema for PostgreSQL, version 4: the admin UI's sessions. It
-- mirrors the SQLite schema's version 4.

-- +goose Up

-- One row per login. hash is the hex SHA-256 of the cookie's secret,
-- unique so that a request is authenticated with one index lookup; the
-- secret itself is never stored. A revoked session keeps its row until it
-- expires, so its cookie is known as logged out; SessionCreate deletes
-- expired rows, through the expires_at index.
CREATE TABLE sessions (
    id           text COLLATE "C" NOT NULL PRIMARY KEY,
    user_name    text        NOT NULL,
    hash         text COLLATE "C" NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    client       text        NOT NULL DEFAULT '',
    user_agent   text        NOT NULL DEFAULT ''
);

CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
