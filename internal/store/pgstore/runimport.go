package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// The statements of RunImport, each one round trip for the whole batch.
const (
	// importExistingSQL returns the positions (from 1) of the batch's runs
	// whose job already has a run with their import key.
	importExistingSQL = `SELECT k.i FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(job_id, key, i)
		WHERE EXISTS (SELECT 1 FROM runs r WHERE r.job_id = k.job_id AND r.import_key = k.key)`
	// importSlotsTakenSQL returns the positions of the cron slots that
	// already have a cron run.
	importSlotsTakenSQL = `SELECT c.i FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS c(job_id, at, i)
		WHERE EXISTS (SELECT 1 FROM runs r WHERE r.job_id = c.job_id AND r.scheduled_for = c.at AND r."trigger" = 'cron')`
	// importRunsSQL inserts the runs of a runRows with their import keys
	// and log sizes. A key another import inserted meanwhile is skipped.
	importRunsSQL = runJobsLocked + `INSERT INTO runs (id, job_id, status, "trigger", scheduled_for, queue, priority, handler,
	snapshot, snapshot_secret, attempt, max_attempts, attempts, available_at, node,
	lease_expires_at, heartbeat_at, cancel_requested, started_at, finished_at, message,
	error, traceback, result, created_at, updated_at, meta, import_key, log_size)
	SELECT u.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::int[], $8::text[],
		$9::json[], $10::text[], $11::int[], $12::int[], $13::json[], $14::timestamptz[], $15::text[],
		$16::timestamptz[], $17::timestamptz[], $18::boolean[], $19::timestamptz[], $20::timestamptz[], $21::text[],
		$22::text[], $23::text[], $24::json[], $25::timestamptz[], $26::timestamptz[], $27::json[], $28::text[], $29::bigint[])` + runJobsChecked + `
	ON CONFLICT (job_id, import_key) WHERE import_key IS NOT NULL DO NOTHING
	RETURNING id`
	// importLogsSQL stores each inserted run's log as one chunk.
	importLogsSQL = `INSERT INTO run_logs (run_id, off, data) SELECT id, 0, data FROM unnest($1::text[], $2::bytea[]) AS l(id, data)`
)

// RunImport implements store.RunImportStore in one transaction of four
// statements, whatever the size of the batch: which keys exist, which
// slots are taken, the insert of the runs, the insert of their logs.
func (s *Store) RunImport(ctx context.Context, runs []store.ImportedRun) (store.RunImportResult, error) {
	rows, err := store.PrepareImport(runs, &s.ids)
	if err != nil || len(rows) == 0 {
		return store.RunImportResult{}, err
	}
	for _, row := range rows {
		cleanRunText(row.Run)
	}
	var insertedIDs map[string]bool
	err = s.tx(ctx, func(tx pgx.Tx) error {
		insertedIDs = nil
		jobs := make([]string, len(rows))
		keys := make([]string, len(rows))
		for i, row := range rows {
			jobs[i], keys[i] = row.Run.JobID, cleanText(row.Key)
		}
		existing, err := positions(ctx, tx, importExistingSQL, jobs, keys)
		if err != nil {
			return err
		}
		var fresh []store.ImportedRun
		var cronJobs []string
		var cronSlots []time.Time
		var cronAt []int
		for i, row := range rows {
			if existing[i] {
				continue
			}
			if row.Run.Trigger == connecthub.TriggerCron {
				cronJobs = append(cronJobs, row.Run.JobID)
				cronSlots = append(cronSlots, utc(row.Run.ScheduledFor))
				cronAt = append(cronAt, len(fresh))
			}
			fresh = append(fresh, row)
		}
		if len(cronJobs) > 0 {
			taken, err := positions(ctx, tx, importSlotsTakenSQL, cronJobs, cronSlots)
			if err != nil {
				return err
			}
			for i, at := range cronAt {
				if taken[i] {
					store.DemoteImported(fresh[at].Run)
				}
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		var cols runRows
		freshKeys := make([]string, len(fresh))
		sizes := make([]int64, len(fresh))
		for i, row := range fresh {
			if err := cols.add(row.Run); err != nil {
				return err
			}
			freshKeys[i] = cleanText(row.Key)
			sizes[i] = int64(len(cleanText(row.Log)))
		}
		out, err := tx.Query(ctx, importRunsSQL, append(cols.args(), freshKeys, sizes)...)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(out, pgx.RowTo[string])
		if err != nil {
			return err
		}
		insertedIDs = make(map[string]bool, len(ids))
		for _, id := range ids {
			insertedIDs[id] = true
		}
		var logIDs []string
		var logData [][]byte
		for _, row := range fresh {
			if insertedIDs[row.Run.ID] && row.Log != "" {
				logIDs = append(logIDs, row.Run.ID)
				logData = append(logData, []byte(cleanText(row.Log)))
			}
		}
		if len(logIDs) > 0 {
			if _, err := tx.Exec(ctx, importLogsSQL, logIDs, logData); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case isCode(err, codeForeignKeyViolation):
		return store.RunImportResult{}, store.ImportJobMissing(rows, err)
	case isCode(err, codeUniqueViolation):
		return store.RunImportResult{}, store.RunExists(err)
	case err != nil:
		return store.RunImportResult{}, dbErr(err)
	}
	return store.ImportOutcome(runs, rows, insertedIDs), nil
}

// positions runs a query over two parallel arrays that returns positions
// (from 1, WITH ORDINALITY) and returns them as a set of indexes from 0.
func positions(ctx context.Context, tx pgx.Tx, query string, a, b any) (map[int]bool, error) {
	rows, err := tx.Query(ctx, query, a, b)
	if err != nil {
		return nil, err
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	set := make(map[int]bool, len(got))
	for _, i := range got {
		set[int(i-1)] = true
	}
	return set, nil
}
