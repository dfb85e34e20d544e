-- ConnectHub schema, version 3: facts about the database itself.
--
-- Same conventions as version 1 (STRICT tables).

-- +goose Up

-- One row per fact, by name. The first is the key check ("key_check"): a
-- Fernet token of a known text, written by the first start, that tells a
-- later start whether its key file is the one the secrets were encrypted
-- with.
CREATE TABLE meta (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE meta;
