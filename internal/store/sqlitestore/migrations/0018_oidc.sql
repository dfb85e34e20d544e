-- ConnectHub schema, version 18: users linked to their accounts at an
-- OpenID Connect issuer.
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds).

-- +goose Up

-- One row per account an issuer vouched for: (issuer, subject) is the
-- issuer's stable id of the person, and decides which user signs in, so
-- that a person renamed at the issuer stays the same user. A user is
-- linked to at most one account.
CREATE TABLE oidc_identities (
    issuer     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    username   TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
) STRICT;

-- +goose Down
DROP TABLE oidc_identities;
