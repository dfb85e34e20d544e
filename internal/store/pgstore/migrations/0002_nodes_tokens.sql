-- ConnectHub schema for PostgreSQL, version 2: the node registry and API
-- tokens. It mirrors the SQLite schema's version 2, with the same type
-- choices as version 1 (timestamptz, json kept as written, "C" collation
-- for names that are sorted or compared bytewise).

-- +goose Up

-- The registry (SPEC §1 Node). A node's runs are the runs whose node column
-- holds its name; there is no foreign key, because runs outlive the nodes
-- that ran them (a cleaned node's history stays readable). The table holds
-- one row per live or recently dead process, so it needs no index beyond
-- its key: NodeMarkDead and NodeClean scan it.
CREATE TABLE nodes (
    name            text COLLATE "C" NOT NULL PRIMARY KEY,
    kind            text        NOT NULL DEFAULT '',
    version         text        NOT NULL DEFAULT '',
    endpoint        text        NOT NULL DEFAULT '',
    queues          json        NOT NULL DEFAULT '[]', -- array of queue names
    handlers        json        NOT NULL DEFAULT '[]', -- array of connecthub.NodeHandler, schemas included
    max_concurrency integer     NOT NULL DEFAULT 0,
    metrics_port    integer     NOT NULL DEFAULT 0,
    labels          json        NOT NULL DEFAULT '{}', -- object of strings
    setting_state   text        NOT NULL CHECK (setting_state IN ('active', 'inactive')),
    present_state   text        NOT NULL CHECK (present_state IN ('activating', 'active', 'deactivating', 'inactive')),
    registered_at   timestamptz NOT NULL,
    last_heartbeat  timestamptz NOT NULL,
    running         integer     NOT NULL DEFAULT 0
);

-- API tokens. hash is the hex SHA-256 of the secret, unique so that a
-- request is authenticated with one index lookup. Revoked tokens stay, with
-- their name, for the record.
CREATE TABLE tokens (
    id           text COLLATE "C" NOT NULL PRIMARY KEY,
    name         text COLLATE "C" NOT NULL UNIQUE,
    scope        text        NOT NULL CHECK (scope IN ('admin', 'worker')),
    hash         text COLLATE "C" NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- +goose Down
DROP TABLE tokens;
DROP TABLE nodes;
