-- ConnectHub schema for PostgreSQL, version 3: facts about the database
-- itself. It mirrors the SQLite schema's version 3.

-- +goose Up

-- One row per fact, by name. The first is the key check ("key_check"): a
-- Fernet token of a known text, written by the first start, that tells a
-- later start whether its key file is the one the secrets were encrypted
-- with.
CREATE TABLE meta (
    name  text COLLATE "C" NOT NULL PRIMARY KEY,
    value text NOT NULL
);

-- +goose Down
DROP TABLE meta;
