#!/usr/bin/env bash
# history-explain-sqlite.sh — EXPLAIN QUERY PLAN and a timed run of every
# statement behind the history reads (docs/benchmarks-history.md), on a
# history that `go run ./bench -driver sqlite -only history -history-keep
# FILE` kept, read only, with the sqlite3 shell:
#
#   bench/history-explain-sqlite.sh FILE
#
# The statements are the driver's own, with the columns cut and the
# parameters written in. The shell's SQLite may be older than the one the
# server embeds (modernc.org/sqlite); the plans were the same here.
set -euo pipefail
db=${1:?usage: $0 FILE}
F="status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')"
run=$(sqlite3 -readonly "$db" "SELECT id FROM runs ORDER BY id DESC LIMIT 1")
q() { # title, sql
	echo "--- $1"
	echo "$2"
	sqlite3 -readonly "$db" "EXPLAIN QUERY PLAN $2"
	printf '.timer on\n%s;\n' "$2" | sqlite3 -readonly "$db" 2>&1 | tail -2 | tr '\n' ' '; echo
	echo
}
last=""
for st in SUCCESS FAILURE CANCELED SKIPPED; do
	[ -n "$last" ] && last="$last UNION ALL "
	last="${last}SELECT MAX(id) AS id FROM runs INDEXED BY runs_job_finished WHERE job_id = 'hist00000' AND status = '$st' AND $F"
done
q "Stats: queued" "SELECT 'QUEUED', COUNT(*) FROM runs WHERE status = 'QUEUED'"
q "Stats: running" "SELECT 'RUNNING', COUNT(*) FROM runs WHERE status = 'RUNNING'"
q "Stats: counts" "SELECT status, SUM(n) FROM run_counts GROUP BY status"
q "Stats: 24h counts" "SELECT status, SUM(n) FROM run_counts_hourly WHERE hour >= (unixepoch('now','-1 day')*1000000) GROUP BY status"
q "Stats: queues (metrics gauges)" "SELECT queue, COUNT(*), MIN(CASE WHEN available_at <= 0 THEN available_at END) FROM runs WHERE status = 'QUEUED' GROUP BY queue ORDER BY queue"
q "Stats: jobs" "SELECT COUNT(*), COALESCE(SUM(enabled), 0) FROM jobs"
q "JobLastRuns, per job (jobs API, /admin/jobs, job API, job page)" "SELECT id, status, \"trigger\", finished_at FROM runs WHERE id = (SELECT MAX(id) FROM ($last))"
q "JobDurations (job API, job page)" "SELECT started_at, finished_at FROM runs INDEXED BY runs_job_finished WHERE job_id = 'hist00000' AND status = 'SUCCESS' AND $F ORDER BY id DESC LIMIT 20"
q "RunList unfiltered (runs API, /admin/runs)" "SELECT id, job_id, status FROM runs ORDER BY id DESC LIMIT 51"
q "RunList status FAILURE (/admin/runs?status=FAILURE, dashboard failures)" "SELECT id, job_id, status FROM runs WHERE status IN ('FAILURE') AND $F ORDER BY id DESC LIMIT 51"
q "RunList status CANCELED (none in the history)" "SELECT id, job_id, status FROM runs WHERE status IN ('CANCELED') AND $F ORDER BY id DESC LIMIT 51"
q "RunList job (/admin/runs?job_id=, job page recent runs)" "SELECT id, job_id, status FROM runs WHERE job_id = 'hist00000' ORDER BY id DESC LIMIT 51"
q "RunList job and status, before (no finished condition)" "SELECT id, job_id, status FROM runs WHERE job_id = 'hist00000' AND status IN ('FAILURE') ORDER BY id DESC LIMIT 51"
q "RunList job and status (/admin/runs?job_id=&status=FAILURE)" "SELECT id, job_id, status FROM runs WHERE job_id = 'hist00000' AND status IN ('FAILURE') AND $F ORDER BY id DESC LIMIT 51"
q "RunGet (run page)" "SELECT id, job_id, status, snapshot FROM runs WHERE id = '$run'"
q "RunLogRead (run page)" "SELECT off, data FROM run_logs WHERE run_id = '$run' AND off >= COALESCE((SELECT MAX(off) FROM run_logs WHERE run_id = '$run' AND off <= 0), 0)"
q "JobsByIDs" "SELECT id, timezone FROM jobs WHERE id IN ('hist00000', 'hist00001', 'hist00002')"
q "key check walk (first start)" "SELECT id, snapshot_secret AS token FROM runs WHERE snapshot_secret <> '' AND id > '' ORDER BY id LIMIT 500"
