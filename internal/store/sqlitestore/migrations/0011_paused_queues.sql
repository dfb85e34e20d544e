-- ConnectHub schema, version 11: paused queues.
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds).

-- +goose Up

-- A queue is paused while it has a row here: claims skip it (its runs stay
-- QUEUED and its depth is still reported). A row per paused queue, so the
-- claim's check is one primary-key lookup per queue it names.
CREATE TABLE paused_queues (
    name      TEXT    NOT NULL PRIMARY KEY,
    paused_at INTEGER NOT NULL,
    paused_by TEXT    NOT NULL DEFAULT ''
) STRICT;

-- +goose Down
DROP TABLE paused_queues;
