-- ConnectHub schema, version 5: worker tokens bound to node names and
-- queues.
--
-- A worker-scope token may act only for nodes whose name starts with
-- node_prefix and claim only runs of its queues (a JSON array). Worker
-- tokens created before this version get the binding that matches how they
-- were meant to be used: their name as the prefix and the default queue.
-- Admin-scope tokens are bound to nothing ('' and '[]').
--
-- A node remembers the worker token that registered it (owner_token, ''
-- for the admin token and the servers' own pools), so that another worker
-- token cannot register over it while it is alive.

-- +goose Up
ALTER TABLE tokens ADD COLUMN node_prefix TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN queues TEXT NOT NULL DEFAULT '[]';
ALTER TABLE nodes ADD COLUMN owner_token TEXT NOT NULL DEFAULT '';
UPDATE tokens SET node_prefix = name, queues = '["default"]' WHERE scope = 'worker';

-- +goose Down
ALTER TABLE nodes DROP COLUMN owner_token;
ALTER TABLE tokens DROP COLUMN queues;
ALTER TABLE tokens DROP COLUMN node_prefix;
