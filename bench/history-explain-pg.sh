#!/usr/bin/env bash
# history-explain-pg.sh — EXPLAIN ANALYZE of every statement behind the
# history reads (docs/benchmarks-history.md), on a history that
# `go run ./bench -driver postgres -only history -history-keep NAME` kept:
#
#   PGURL=postgres://postgres@127.0.0.1:PORT/postgres bench/history-explain-pg.sh NAME
#
# Each statement runs twice: with a custom plan (the values known) and with
# a generic plan (what a statement pgx caches may switch to after five
# executions). The statements are the drivers' own, with the columns cut.
set -euo pipefail
db=${1:?usage: PGURL=URL $0 DATABASE}
: "${PGURL:?set PGURL to the URL of the cluster}"
base=${PGURL%%\?*}
url="${base%/*}/$db?sslmode=disable"
for mode in force_custom_plan force_generic_plan; do
echo "=================== plan_cache_mode = $mode"
psql "$url" -X -q <<SQL
SET plan_cache_mode = $mode;
\set run \`psql "$url" -XAtc "SELECT id FROM runs ORDER BY id DESC LIMIT 1"\`
\set jobs \`psql "$url" -XAtc "SELECT array_agg(id) FROM (SELECT id FROM jobs ORDER BY id LIMIT 50) j"\`
PREPARE active AS SELECT 'QUEUED', count(*) FROM runs WHERE status = 'QUEUED' UNION ALL SELECT 'RUNNING', count(*) FROM runs WHERE status = 'RUNNING';
PREPARE counts AS SELECT status, sum(n) FROM ( SELECT status, n FROM run_counts UNION ALL SELECT status, n FROM run_count_deltas) AS c GROUP BY status;
PREPARE counts24 (timestamptz) AS SELECT status, sum(n) FROM ( SELECT status, n FROM run_counts_hourly WHERE hour >= \$1 UNION ALL SELECT status, n FROM run_count_deltas WHERE hour >= \$1) AS c GROUP BY status;
PREPARE queues (timestamptz) AS SELECT queue, count(*), min(available_at) FILTER (WHERE available_at <= \$1) FROM runs WHERE status = 'QUEUED' GROUP BY queue ORDER BY queue;
PREPARE jobcount AS SELECT count(*), count(*) FILTER (WHERE enabled) FROM jobs;
PREPARE lastruns (text[]) AS SELECT r.job_id, r.id, r.status, r."trigger", r.finished_at FROM unnest(\$1::text[]) AS j(id) CROSS JOIN LATERAL (SELECT GREATEST((SELECT id FROM runs WHERE job_id = j.id AND status = 'SUCCESS' ORDER BY id DESC LIMIT 1), (SELECT id FROM runs WHERE job_id = j.id AND status = 'FAILURE' ORDER BY id DESC LIMIT 1), (SELECT id FROM runs WHERE job_id = j.id AND status = 'CANCELED' ORDER BY id DESC LIMIT 1), (SELECT id FROM runs WHERE job_id = j.id AND status = 'SKIPPED' ORDER BY id DESC LIMIT 1)) AS id) AS m JOIN runs AS r ON r.id = m.id;
PREPARE durations (text, int) AS SELECT started_at, finished_at FROM runs WHERE job_id = \$1 AND status = 'SUCCESS' ORDER BY id DESC LIMIT \$2;
PREPARE runs_all (int) AS SELECT id, job_id, status FROM runs ORDER BY id DESC LIMIT \$1;
PREPARE runs_failure (int) AS SELECT id, job_id, status FROM runs WHERE status IN ('FAILURE') ORDER BY id DESC LIMIT \$1;
PREPARE runs_canceled (int) AS SELECT id, job_id, status FROM runs WHERE status IN ('CANCELED') ORDER BY id DESC LIMIT \$1;
PREPARE runs_job_failure (text, int) AS SELECT id, job_id, status FROM runs WHERE id = ANY(ARRAY(SELECT id FROM ((SELECT id FROM runs WHERE job_id = \$1 AND status = 'FAILURE' ORDER BY id DESC LIMIT \$2)) AS newest ORDER BY id DESC LIMIT \$2)) ORDER BY id DESC LIMIT \$2;
PREPARE runs_job_canceled (text, int) AS SELECT id, job_id, status FROM runs WHERE id = ANY(ARRAY(SELECT id FROM ((SELECT id FROM runs WHERE job_id = \$1 AND status = 'CANCELED' ORDER BY id DESC LIMIT \$2)) AS newest ORDER BY id DESC LIMIT \$2)) ORDER BY id DESC LIMIT \$2;
PREPARE runs_job (text, int) AS SELECT id, job_id, status FROM runs WHERE id = ANY(ARRAY(SELECT id FROM ((SELECT id FROM runs WHERE job_id = \$1 AND status = 'QUEUED' ORDER BY id DESC LIMIT \$2) UNION ALL (SELECT id FROM runs WHERE job_id = \$1 AND status = 'RUNNING' ORDER BY id DESC LIMIT \$2) UNION ALL (SELECT id FROM runs WHERE job_id = \$1 AND status = 'SUCCESS' ORDER BY id DESC LIMIT \$2) UNION ALL (SELECT id FROM runs WHERE job_id = \$1 AND status = 'FAILURE' ORDER BY id DESC LIMIT \$2) UNION ALL (SELECT id FROM runs WHERE job_id = \$1 AND status = 'CANCELED' ORDER BY id DESC LIMIT \$2) UNION ALL (SELECT id FROM runs WHERE job_id = \$1 AND status = 'SKIPPED' ORDER BY id DESC LIMIT \$2)) AS newest ORDER BY id DESC LIMIT \$2)) ORDER BY id DESC LIMIT \$2;
PREPARE run_get (text) AS SELECT id, job_id, status, snapshot FROM runs WHERE id = \$1;
PREPARE run_log (text, bigint) AS SELECT r.status, r.log_size, l.off, l.data FROM runs r LEFT JOIN LATERAL ( SELECT off, data FROM run_logs WHERE run_id = r.id AND off + length(data) > \$2 ORDER BY off) l ON true WHERE r.id = \$1;
PREPARE jobs_ids (text[]) AS SELECT id, timezone FROM jobs WHERE id = ANY(\$1);
PREPARE secret_walk (text, int) AS SELECT id, snapshot_secret FROM runs WHERE snapshot_secret <> '' AND id > \$1 ORDER BY id LIMIT \$2;
\echo '--- Stats: active set'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE active;
\echo '--- Stats: counts'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE counts;
\echo '--- Stats: 24h counts'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE counts24(now() - interval '24 hours');
\echo '--- Stats: queues (metrics gauges)'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE queues(now());
\echo '--- Stats: jobs'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE jobcount;
\echo '--- JobLastRuns (jobs API, /admin/jobs, job API, job page): 50 jobs'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE lastruns(:'jobs');
\echo '--- JobDurations (job API, job page)'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE durations('hist00000', 20);
\echo '--- RunList unfiltered (runs API, /admin/runs)'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE runs_all(51);
\echo '--- RunList status FAILURE (/admin/runs?status=FAILURE, dashboard failures)'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE runs_failure(51);
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE runs_failure(9);
\echo '--- RunList status CANCELED (none in the history)'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE runs_canceled(51);
\echo '--- RunList job (/admin/runs?job_id=, job page recent runs)'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE runs_job('hist00000', 51);
\echo '--- RunList job and status FAILURE (/admin/runs?job_id=&status=FAILURE)'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE runs_job_failure('hist00000', 51);
\echo '--- RunList job and status CANCELED (none)'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE runs_job_canceled('hist00000', 51);
\echo '--- RunGet (run page)'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE run_get(:'run');
\echo '--- RunLogRead (run page)'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE run_log(:'run', 0);
\echo '--- JobsByIDs (runs pages, dashboard, run page)'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE jobs_ids(:'jobs');
\echo '--- key check walk (first start)'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) EXECUTE secret_walk('', 500);
SQL
done
