-- ConnectHub schema, version 8: notifications. Channels say where messages
-- go, alert rules which events of which jobs go there; notifications is at
-- once the outbox the sender delivers from and the delivery log.
--
-- Events are recorded by triggers, in the same transaction that ends a run
-- (SUCCESS or FAILURE), rescues it from a lost worker, or declares a node
-- dead, so that no event is lost to a crash: alert_events is a queue that
-- the alert processor consumes, in a transaction of its own that writes
-- the notifications. The triggers record nothing while no enabled rule
-- wants the event, so the queue costs nothing to whoever has no rules.

-- +goose Up
-- id is the channel's name (the secrets walk finds every token by id).
-- url is what is shown (the query's values masked); the query itself, the
-- signing secret and the SMTP password are in secret, a Fernet token.
CREATE TABLE notify_channels (
    id         TEXT    NOT NULL PRIMARY KEY,
    type       TEXT    NOT NULL,
    language   TEXT    NOT NULL,
    url        TEXT    NOT NULL DEFAULT '',
    smtp       TEXT,
    secret     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE alert_rules (
    id             TEXT    NOT NULL PRIMARY KEY, -- ULID
    name           TEXT    NOT NULL,
    enabled        INTEGER NOT NULL DEFAULT 1,
    match_job      TEXT    NOT NULL DEFAULT '',
    match_handler  TEXT    NOT NULL DEFAULT '',
    match_queue    TEXT    NOT NULL DEFAULT '',
    event          TEXT    NOT NULL,
    threshold      TEXT    NOT NULL DEFAULT '',
    quiet_ns       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

-- A rule's channels, in order. A channel a rule names cannot be deleted.
CREATE TABLE alert_rule_channels (
    rule_id TEXT    NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    channel TEXT    NOT NULL REFERENCES notify_channels (id),
    pos     INTEGER NOT NULL,
    PRIMARY KEY (rule_id, channel)
) STRICT, WITHOUT ROWID;
CREATE INDEX alert_rule_channels_channel ON alert_rule_channels (channel);

-- What each rule last announced per job (or node): the quiet period.
CREATE TABLE alert_state (
    rule_id      TEXT    NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    scope        TEXT    NOT NULL,
    last_sent_at INTEGER,
    subject      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (rule_id, scope)
) STRICT, WITHOUT ROWID;

-- Jobs whose failure was announced since their last success: the next
-- success is a recovery.
CREATE TABLE alert_failing (
    job_id TEXT NOT NULL PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE alert_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- The outbox and the delivery log. rule_id and channel are kept as text
-- without a foreign key: the log outlives a deleted rule.
CREATE TABLE notifications (
    id               TEXT    NOT NULL PRIMARY KEY, -- ULID
    rule_id          TEXT    NOT NULL DEFAULT '',
    channel          TEXT    NOT NULL,
    event            TEXT    NOT NULL,
    job_id           TEXT    NOT NULL DEFAULT '',
    run_id           TEXT    NOT NULL DEFAULT '',
    alert            TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    history          TEXT    NOT NULL DEFAULT '[]',
    next_attempt_at  INTEGER NOT NULL,
    lease_owner      TEXT    NOT NULL DEFAULT '',
    lease_expires_at INTEGER,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
) STRICT;
-- The sender's claim: only pending rows, by due time.
CREATE INDEX notifications_pending ON notifications (next_attempt_at, id) WHERE status = 'pending';

-- +goose StatementBegin
CREATE TRIGGER alert_run_end AFTER UPDATE OF status ON runs
WHEN NEW.status IN ('SUCCESS', 'FAILURE') AND OLD.status IN ('QUEUED', 'RUNNING')
 AND EXISTS (SELECT 1 FROM alert_rules WHERE enabled = 1 AND event IN ('failure', 'recovery'))
BEGIN
    INSERT INTO alert_events (kind, subject, created_at) VALUES ('run_end', NEW.id, NEW.updated_at);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER alert_worker_lost AFTER UPDATE OF status ON runs
WHEN OLD.status = 'RUNNING' AND NEW.status IN ('QUEUED', 'FAILURE') AND NEW.error = 'worker lost'
 AND EXISTS (SELECT 1 FROM alert_rules WHERE enabled = 1 AND event = 'worker_lost')
BEGIN
    INSERT INTO alert_events (kind, subject, created_at) VALUES ('worker_lost', NEW.id, NEW.updated_at);
END;
-- +goose StatementEnd

-- A node declared dead: its present state drops to inactive while its
-- heartbeat stays as it was (a node that stops cleanly reports in as it
-- goes, which moves its heartbeat).
-- +goose StatementBegin
CREATE TRIGGER alert_node_down AFTER UPDATE OF present_state ON nodes
WHEN OLD.present_state <> 'inactive' AND NEW.present_state = 'inactive'
 AND NEW.last_heartbeat = OLD.last_heartbeat
 AND EXISTS (SELECT 1 FROM alert_rules WHERE enabled = 1 AND event = 'node_down')
BEGIN
    INSERT INTO alert_events (kind, subject, created_at) VALUES ('node_down', NEW.name, NEW.last_heartbeat);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER alert_node_down;
DROP TRIGGER alert_worker_lost;
DROP TRIGGER alert_run_end;
DROP TABLE notifications;
DROP TABLE alert_events;
DROP TABLE alert_failing;
DROP TABLE alert_state;
DROP TABLE alert_rule_channels;
DROP TABLE alert_rules;
DROP TABLE notify_channels;
