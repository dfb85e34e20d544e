-- ConnectHub schema for PostgreSQL, version 11: paused queues. It mirrors
-- the SQLite schema's version 11.

-- +goose Up

-- A queue is paused while it has a row here: claims skip it (its runs stay
-- QUEUED and its depth is still reported). A row per paused queue, so the
-- claim's check is one primary-key lookup per queue it names.
CREATE TABLE paused_queues (
    name      text COLLATE "C" NOT NULL PRIMARY KEY,
    paused_at timestamptz NOT NULL,
    paused_by text        NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE paused_queues;
