#!/usr/bin/env bash
# with-test-postgres.sh CMD...: run CMD with CONNECTHUB_TEST_POSTGRES_URL set.
#
# When the variable is already set (a PostgreSQL you provide), CMD runs as is.
# Otherwise a private, throwaway cluster is started with pg-test-cluster.sh,
# and stopped and removed when CMD ends, however it ends. It is tuned for
# speed (fsync off) unless PG_TEST_DURABLE=1 (see pg-test-cluster.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ -n "${CONNECTHUB_TEST_POSTGRES_URL:-}" ]; then
	exec "$@"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/connecthub-pg.XXXXXX")
cleanup() { "$here/pg-test-cluster.sh" stop "$dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM
url=$("$here/pg-test-cluster.sh" start "$dir")
durability="fsync off"
[ "${PG_TEST_DURABLE:-0}" = 1 ] && durability="durable: fsync on"
echo "with-test-postgres: throwaway PostgreSQL ($durability) at $url" >&2
export CONNECTHUB_TEST_POSTGRES_URL="$url"
set +e
"$@"
status=$?
set -e
exit $status
