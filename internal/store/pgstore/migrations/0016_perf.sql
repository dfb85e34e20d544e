-- ConnectHub schema for PostgreSQL, version 16: the alert events of run
-- ends and rescues are recorded by one statement-level trigger instead of a
-- row trigger.
--
-- The row trigger of version 8 (alert_run_event) fired for every run a
-- completion ended, whether or not any alert rule wanted the event: a
-- PL/pgSQL call and a query of alert_rules per run, which measured 17 µs
-- of server CPU per completed run, as much as the completion's own UPDATE
-- (docs/benchmarks.md, "The write path after the features"). The statement
-- trigger asks alert_rules once per statement, returns at once when no
-- enabled rule wants a run event, and otherwise records the events of all
-- the statement's rows in one set-based INSERT. It reads the transition
-- tables that the counts' trigger (version 6) makes PostgreSQL capture for
-- every UPDATE of runs anyway, so it adds no capture of its own.
--
-- The events are the same as version 8's: 'run_end' when a run went from
-- QUEUED or RUNNING to SUCCESS or FAILURE, 'worker_lost' when a RUNNING run
-- was re-queued or failed with the error "worker lost"; within a statement
-- they are recorded in run id order, a run's 'run_end' before its
-- 'worker_lost'. A node's going down keeps its row trigger (nodes change
-- rarely).

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION alert_record_run_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    want_end  boolean;
    want_lost boolean;
BEGIN
    SELECT coalesce(bool_or(event IN ('failure', 'recovery')), false), coalesce(bool_or(event = 'worker_lost'), false)
        INTO want_end, want_lost
        FROM alert_rules WHERE enabled AND event IN ('failure', 'recovery', 'worker_lost');
    IF NOT (want_end OR want_lost) THEN
        RETURN NULL;
    END IF;
    INSERT INTO alert_events (kind, subject, created_at)
    SELECT e.kind, n.id, n.updated_at
    FROM new_runs AS n
    JOIN old_runs AS o ON o.id = n.id
    CROSS JOIN LATERAL (VALUES (1, 'run_end'), (2, 'worker_lost')) AS e (k, kind)
    WHERE (e.k = 1 AND want_end AND o.status IN ('QUEUED', 'RUNNING') AND n.status IN ('SUCCESS', 'FAILURE'))
       OR (e.k = 2 AND want_lost AND o.status = 'RUNNING' AND n.status IN ('QUEUED', 'FAILURE')
           AND n.error = 'worker lost')
    ORDER BY n.id, e.k;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

DROP TRIGGER alert_run_event ON runs;
CREATE TRIGGER alert_run_events AFTER UPDATE ON runs
    REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION alert_record_run_events();

-- +goose Down
DROP TRIGGER alert_run_events ON runs;
DROP FUNCTION alert_record_run_events();
CREATE TRIGGER alert_run_event AFTER UPDATE OF status ON runs FOR EACH ROW
WHEN ((OLD.status IN ('QUEUED', 'RUNNING') AND NEW.status IN ('SUCCESS', 'FAILURE'))
   OR (OLD.status = 'RUNNING' AND NEW.status = 'QUEUED' AND NEW.error = 'worker lost'))
EXECUTE FUNCTION alert_record_event();
