-- ConnectHub schema for PostgreSQL, version 8: notifications. It mirrors
-- the SQLite schema's version 8: channels, alert rules, the outbox and
-- delivery log (notifications), and the triggers that record, in the
-- transaction that ends a run, rescues it from a lost worker or declares a
-- node dead, one alert_events row for the alert processor, while an
-- enabled rule wants that event.

-- +goose Up
CREATE TABLE notify_channels (
    id         text COLLATE "C" NOT NULL PRIMARY KEY,
    type       text        NOT NULL,
    language   text        NOT NULL,
    url        text        NOT NULL DEFAULT '',
    smtp       json,
    secret     text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE alert_rules (
    id            text COLLATE "C" NOT NULL PRIMARY KEY,
    name          text        NOT NULL,
    enabled       boolean     NOT NULL DEFAULT true,
    match_job     text COLLATE "C" NOT NULL DEFAULT '',
    match_handler text COLLATE "C" NOT NULL DEFAULT '',
    match_queue   text COLLATE "C" NOT NULL DEFAULT '',
    event         text        NOT NULL,
    threshold     text        NOT NULL DEFAULT '',
    quiet_ns      bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE alert_rule_channels (
    rule_id text COLLATE "C" NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    channel text COLLATE "C" NOT NULL REFERENCES notify_channels (id),
    pos     integer NOT NULL,
    PRIMARY KEY (rule_id, channel)
);
CREATE INDEX alert_rule_channels_channel ON alert_rule_channels (channel);

CREATE TABLE alert_state (
    rule_id      text COLLATE "C" NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    scope        text COLLATE "C" NOT NULL,
    last_sent_at timestamptz,
    subject      text NOT NULL DEFAULT '',
    PRIMARY KEY (rule_id, scope)
);

CREATE TABLE alert_failing (
    job_id text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE
);

CREATE TABLE alert_events (
    seq        bigserial PRIMARY KEY,
    kind       text        NOT NULL,
    subject    text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE notifications (
    id               text COLLATE "C" NOT NULL PRIMARY KEY,
    rule_id          text COLLATE "C" NOT NULL DEFAULT '',
    channel          text COLLATE "C" NOT NULL,
    event            text        NOT NULL,
    job_id           text COLLATE "C" NOT NULL DEFAULT '',
    run_id           text COLLATE "C" NOT NULL DEFAULT '',
    alert            json        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    history          json        NOT NULL DEFAULT '[]',
    next_attempt_at  timestamptz NOT NULL,
    lease_owner      text        NOT NULL DEFAULT '',
    lease_expires_at timestamptz,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz
);
CREATE INDEX notifications_pending ON notifications (next_attempt_at, id) WHERE status = 'pending';

-- +goose StatementBegin
CREATE FUNCTION alert_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'nodes' THEN
        IF EXISTS (SELECT 1 FROM alert_rules WHERE enabled AND event = 'node_down') THEN
            INSERT INTO alert_events (kind, subject, created_at) VALUES ('node_down', NEW.name, NEW.last_heartbeat);
        END IF;
        RETURN NULL;
    END IF;
    IF NEW.status IN ('SUCCESS', 'FAILURE') AND OLD.status IN ('QUEUED', 'RUNNING')
       AND EXISTS (SELECT 1 FROM alert_rules WHERE enabled AND event IN ('failure', 'recovery')) THEN
        INSERT INTO alert_events (kind, subject, created_at) VALUES ('run_end', NEW.id, NEW.updated_at);
    END IF;
    IF OLD.status = 'RUNNING' AND NEW.status IN ('QUEUED', 'FAILURE') AND NEW.error = 'worker lost'
       AND EXISTS (SELECT 1 FROM alert_rules WHERE enabled AND event = 'worker_lost') THEN
        INSERT INTO alert_events (kind, subject, created_at) VALUES ('worker_lost', NEW.id, NEW.updated_at);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Only run ends and rescues call the function: a claim (QUEUED to
-- RUNNING), a retry or a cancel does not, so the queue's hot path pays
-- nothing for it.
CREATE TRIGGER alert_run_event AFTER UPDATE OF status ON runs FOR EACH ROW
WHEN ((OLD.status IN ('QUEUED', 'RUNNING') AND NEW.status IN ('SUCCESS', 'FAILURE'))
   OR (OLD.status = 'RUNNING' AND NEW.status = 'QUEUED' AND NEW.error = 'worker lost'))
EXECUTE FUNCTION alert_record_event();

-- A node declared dead: inactive while its heartbeat stays as it was (a
-- node that stops cleanly reports in as it goes, which moves it).
CREATE TRIGGER alert_node_down AFTER UPDATE OF present_state ON nodes FOR EACH ROW
WHEN (OLD.present_state <> 'inactive' AND NEW.present_state = 'inactive' AND NEW.last_heartbeat = OLD.last_heartbeat)
EXECUTE FUNCTION alert_record_event();

-- +goose Down
DROP TRIGGER alert_node_down ON nodes;
DROP TRIGGER alert_run_event ON runs;
DROP FUNCTION alert_record_event();
DROP TABLE notifications;
DROP TABLE alert_events;
DROP TABLE alert_failing;
DROP TABLE alert_state;
DROP TABLE alert_rule_channels;
DROP TABLE alert_rules;
DROP TABLE notify_channels;
