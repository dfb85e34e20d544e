-- ConnectHub schema, version 21: the same constraints, indexes and alert
-- events, in forms that cost the queue less per run.
--
-- SQLite compiles `x IN (a, b, c, ...)` with more than two constants into
-- an ephemeral table that it fills and searches. In a query that table is
-- built once, but in a CHECK constraint or a partial index's WHERE
-- evaluated by an INSERT or UPDATE it is built again for every row
-- written: a claim or a completion built five of them per run (the status
-- CHECK, and the finished-runs condition of runs_finished and
-- runs_job_finished for the old and the new row). With at most two
-- constants SQLite compares directly. The texts below accept exactly the
-- same rows, so no row and no index entry changes: the texts are replaced
-- where SQLite keeps them (as version 14 did), with no rebuild of a table
-- or an index, however many runs there are.
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds).

-- +goose Up
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
    SET sql = replace(sql, 'CHECK (status IN (''QUEUED'', ''RUNNING'', ''SUCCESS'', ''FAILURE'', ''CANCELED'', ''SKIPPED''))',
                           'CHECK (status IN (''QUEUED'', ''RUNNING'') OR status IN (''SUCCESS'', ''FAILURE'') OR status IN (''CANCELED'', ''SKIPPED''))')
    WHERE type = 'table' AND name = 'runs';
UPDATE sqlite_schema
    SET sql = replace(sql, 'CHECK ("trigger" IN (''cron'', ''manual'', ''retry'', ''api'', ''chain''))',
                           'CHECK ("trigger" IN (''cron'', ''manual'') OR "trigger" IN (''retry'', ''api'') OR "trigger" = ''chain'')')
    WHERE type = 'table' AND name = 'runs';
-- A run is finished exactly when it is neither QUEUED nor RUNNING (the
-- CHECK above): the reads of these indexes state the same condition
-- (finishedCondition in runs.go).
UPDATE sqlite_schema
    SET sql = replace(sql, 'WHERE status IN (''SUCCESS'', ''FAILURE'', ''CANCELED'', ''SKIPPED'')',
                           'WHERE status NOT IN (''QUEUED'', ''RUNNING'')')
    WHERE type = 'index' AND name IN ('runs_finished', 'runs_job_finished');
PRAGMA writable_schema = RESET;

-- The two alert triggers become one, and claims no longer call it. SQLite
-- calls a row trigger's program for every row of an UPDATE that sets a
-- column the trigger names, before its WHEN can say no: the two triggers
-- on status cost every claimed and every finished run two calls. The
-- trigger records the same events as the two did (worker_lost first, as
-- they fired), but it names the columns that every UPDATE which can make
-- an event sets and a claim does not: a run that ends sets finished_at,
-- a run put back in the queue (a retry, a rescue, a hand-back) sets
-- available_at, and a failure's text is error. A new statement that
-- changes a run's status must set one of them (TestAlertTriggerPaths).
-- While no rule is enabled (the usual case) the WHEN says no before the
-- two inserts are started.
-- Replacing the triggers changes the schema cookie, so every other
-- connection also reads the texts replaced above.
DROP TRIGGER alert_run_end;
DROP TRIGGER alert_worker_lost;
-- +goose StatementBegin
CREATE TRIGGER alert_run_status AFTER UPDATE OF finished_at, available_at, error ON runs
WHEN ((NEW.status IN ('SUCCESS', 'FAILURE') AND OLD.status IN ('QUEUED', 'RUNNING'))
    OR (OLD.status = 'RUNNING' AND NEW.status = 'QUEUED' AND NEW.error = 'worker lost'))
  AND EXISTS (SELECT 1 FROM alert_rules WHERE enabled = 1)
BEGIN
    INSERT INTO alert_events (kind, subject, created_at)
        SELECT 'worker_lost', NEW.id, NEW.updated_at
        WHERE OLD.status = 'RUNNING' AND NEW.status IN ('QUEUED', 'FAILURE') AND NEW.error = 'worker lost'
          AND EXISTS (SELECT 1 FROM alert_rules WHERE enabled = 1 AND event = 'worker_lost');
    INSERT INTO alert_events (kind, subject, created_at)
        SELECT 'run_end', NEW.id, NEW.updated_at
        WHERE NEW.status IN ('SUCCESS', 'FAILURE')
          AND EXISTS (SELECT 1 FROM alert_rules WHERE enabled = 1 AND event IN ('failure', 'recovery'));
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER alert_run_status;
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
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
    SET sql = replace(sql, 'CHECK (status IN (''QUEUED'', ''RUNNING'') OR status IN (''SUCCESS'', ''FAILURE'') OR status IN (''CANCELED'', ''SKIPPED''))',
                           'CHECK (status IN (''QUEUED'', ''RUNNING'', ''SUCCESS'', ''FAILURE'', ''CANCELED'', ''SKIPPED''))')
    WHERE type = 'table' AND name = 'runs';
UPDATE sqlite_schema
    SET sql = replace(sql, 'CHECK ("trigger" IN (''cron'', ''manual'') OR "trigger" IN (''retry'', ''api'') OR "trigger" = ''chain'')',
                           'CHECK ("trigger" IN (''cron'', ''manual'', ''retry'', ''api'', ''chain''))')
    WHERE type = 'table' AND name = 'runs';
UPDATE sqlite_schema
    SET sql = replace(sql, 'WHERE status NOT IN (''QUEUED'', ''RUNNING'')',
                           'WHERE status IN (''SUCCESS'', ''FAILURE'', ''CANCELED'', ''SKIPPED'')')
    WHERE type = 'index' AND name IN ('runs_finished', 'runs_job_finished');
PRAGMA writable_schema = RESET;
