-- ConnectHub schema, version 25: the alert events of runs are recorded by
-- the statements that change the runs, not by a row trigger.
--
-- SQLite calls a row trigger's program for every row an UPDATE writes,
-- before its WHEN can say no, so every completed run paid a call of
-- alert_run_status although alert rules are rare (9% of a completion's
-- CPU, measured). The driver now records the same events (worker_lost,
-- then run_end; only while an enabled rule wants them) in one statement
-- per transaction, in the transaction that changes the runs (runEvents in
-- runevents.go). Events of nodes keep their trigger: a node changes state
-- rarely.

-- +goose Up
DROP TRIGGER alert_run_status;

-- +goose Down
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
