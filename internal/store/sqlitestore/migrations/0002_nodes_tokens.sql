-- ConnectHub schema, version 2: the node registry and API tokens.
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds,
-- JSON as TEXT).

-- +goose Up

-- The registry (SPEC §1 Node). A node's runs are the runs whose node column
-- holds its name; there is no foreign key, because runs outlive the nodes
-- that ran them (a cleaned node's history stays readable). The table holds
-- one row per live or recently dead process, so it needs no index beyond
-- its key: NodeMarkDead and NodeClean scan it.
CREATE TABLE nodes (
    name            TEXT    NOT NULL PRIMARY KEY,
    kind            TEXT    NOT NULL DEFAULT '',
    version         TEXT    NOT NULL DEFAULT '',
    endpoint        TEXT    NOT NULL DEFAULT '',
    queues          TEXT    NOT NULL DEFAULT '[]', -- JSON array of queue names
    handlers        TEXT    NOT NULL DEFAULT '[]', -- JSON array of connecthub.NodeHandler, schemas included
    max_concurrency INTEGER NOT NULL DEFAULT 0,
    metrics_port    INTEGER NOT NULL DEFAULT 0,
    labels          TEXT    NOT NULL DEFAULT '{}', -- JSON object of strings
    setting_state   TEXT    NOT NULL CHECK (setting_state IN ('active', 'inactive')),
    present_state   TEXT    NOT NULL CHECK (present_state IN ('activating', 'active', 'deactivating', 'inactive')),
    registered_at   INTEGER NOT NULL,
    last_heartbeat  INTEGER NOT NULL,
    running         INTEGER NOT NULL DEFAULT 0
) STRICT;

-- API tokens. hash is the hex SHA-256 of the secret, unique so that a
-- request is authenticated with one index lookup. Revoked tokens stay, with
-- their name, for the record.
CREATE TABLE tokens (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    scope        TEXT    NOT NULL CHECK (scope IN ('admin', 'worker')),
    hash         TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;

-- +goose Down
DROP TABLE tokens;
DROP TABLE nodes;
