-- ConnectHub schema for PostgreSQL, version 18: users linked to their
-- accounts at an OpenID Connect issuer. It mirrors the SQLite schema's
-- version 18.

-- +goose Up

-- One row per account an issuer vouched for: (issuer, subject) is the
-- issuer's stable id of the person, and decides which user signs in, so
-- that a person renamed at the issuer stays the same user. A user is
-- linked to at most one account.
CREATE TABLE oidc_identities (
    issuer     text COLLATE "C" NOT NULL,
    subject    text COLLATE "C" NOT NULL,
    username   text COLLATE "C" NOT NULL UNIQUE,
    created_at timestamptz      NOT NULL,
    PRIMARY KEY (issuer, subject)
);

-- +goose Down
DROP TABLE oidc_identities;
