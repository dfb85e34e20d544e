#!/bin/sh
# bench-import.sh measures `connecthub import python --history` of a Python
# ConnectHub database with N job_logs rows (default 100000), made by the
# tests' fixture generator, into a fresh ConnectHub: SQLite always, and
# PostgreSQL (old and new database in two schemas) when
# CONNECTHUB_TEST_POSTGRES_URL is set, as scripts/with-test-postgres.sh
# does. It prints the import's own summary (rows, seconds, rows/s) and the
# wall-clock time of the whole command. docs/benchmarks.md records results.
#
# Usage: scripts/bench-import.sh [N]
#        scripts/with-test-postgres.sh scripts/bench-import.sh [N]
set -eu

n=${1:-100000}
py=/usr/bin/python3
"$py" -c 'import cryptography.fernet' 2>/dev/null || py=python3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/connecthub" ./cmd/connecthub
# The CPU time of the import itself, which the load of a shared machine
# does not change as it does the wall clock.
timed=""
if [ -x /usr/bin/time ]; then
	timed="/usr/bin/time -f cpu:%Us_user+%Ss_sys"
fi
gen="internal/pyimport/testdata/make_fixture.py --key-file $dir/py.key --other-key-file $dir/other.key --logs $n"

echo "== SQLite -> SQLite, $n extra job_logs rows"
"$py" $gen --sqlite "$dir/old.db" >/dev/null
start=$(date +%s.%N)
$timed "$dir/connecthub" import python --from "sqlite://$dir/old.db" --key "$dir/py.key" --history \
	--data-dir "$dir/data-sqlite" 2>"$dir/err" | grep '^history:' || true
echo "wall clock: $(echo "$(date +%s.%N) - $start" | bc) s; $(grep '^cpu:' "$dir/err" || true); load: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ -n "${CONNECTHUB_TEST_POSTGRES_URL:-}" ]; then
	echo "== PostgreSQL -> PostgreSQL, $n extra job_logs rows"
	base=$CONNECTHUB_TEST_POSTGRES_URL
	sep='?'
	case $base in *\?*) sep='&' ;; esac
	for s in bench_import_old bench_import_new; do
		psql -q "$base" -c "DROP SCHEMA IF EXISTS $s CASCADE; CREATE SCHEMA $s" >/dev/null 2>&1
	done
	"$py" $gen --sql-out "$dir/old.sql" --dialect postgres >/dev/null
	PGOPTIONS='-c search_path=bench_import_old' psql -q "$base" -f "$dir/old.sql" >/dev/null
	start=$(date +%s.%N)
	$timed "$dir/connecthub" import python --from "${base}${sep}search_path=bench_import_old" --key "$dir/py.key" --history \
		--data-dir "$dir/data-pg" --db-url "${base}${sep}search_path=bench_import_new" 2>"$dir/err" | grep '^history:' || true
	echo "wall clock: $(echo "$(date +%s.%N) - $start" | bc) s; $(grep '^cpu:' "$dir/err" || true) (connecthub only); load: $(cut -d' ' -f1-3 /proc/loadavg)"
	for s in bench_import_old bench_import_new; do
		psql -q "$base" -c "DROP SCHEMA $s CASCADE" >/dev/null 2>&1
	done
fi
