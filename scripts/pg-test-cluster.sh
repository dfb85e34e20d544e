#!/usr/bin/env bash
# pg-test-cluster.sh — a private, throwaway PostgreSQL cluster for tests.
#
#   scripts/pg-test-cluster.sh start DIR   start a cluster whose state lives in DIR;
#                                          prints its URL on stdout and writes it to DIR/url
#   scripts/pg-test-cluster.sh stop DIR    stop that cluster and remove DIR
#   scripts/pg-test-cluster.sh status DIR  exit 0 (and print the URL) if it is running
#   scripts/pg-test-cluster.sh pause DIR   stop the server but keep its data (an outage)
#   scripts/pg-test-cluster.sh resume DIR  start a paused server again on the same port
#
# The cluster is tuned for tests, never for data anyone wants back: fsync,
# synchronous_commit and full_page_writes are off (unless PG_TEST_DURABLE=1,
# for benchmarks that must measure what users run), authentication is "trust"
# for the local superuser "postgres", and it listens on 127.0.0.1 only, on a
# free port, with its unix socket inside its own directory (so it never
# collides with a system PostgreSQL or with another cluster started by this
# script). max_connections is 300 because `go test` runs packages and tests in
# parallel, each store with its own pool and LISTEN connection.
#
# initdb refuses to run as root, so under root the cluster is created and
# run as the existing "postgres" system user, in a fresh temporary directory
# that user owns (DIR itself may sit where that user cannot reach, such as
# a checkout under /root). DIR then only holds bookkeeping: url, port, the
# path of the cluster directory and a copy of the server log on failure.
#
# Both commands are safe to repeat: start on a running cluster prints its
# URL again, start after a crash or reboot replaces the stale state, and stop
# on a missing or stopped cluster just cleans up. stop removes only the files
# this script made: a DIR that holds anything else is left in place.
#
# Environment:
#   PG_TEST_BINDIR         directory of initdb and pg_ctl (default: PATH, then
#                          /usr/lib/postgresql/<newest>/bin)
#   PG_TEST_START_TIMEOUT  seconds to wait for the server to start (default 60)
#   PG_TEST_DURABLE        1: keep PostgreSQL's durable defaults (fsync,
#                          synchronous_commit and full_page_writes on), so
#                          every commit waits for its WAL flush, as in
#                          production; `make bench` uses it. It applies when
#                          the cluster is created: a running cluster keeps
#                          the settings it was started with.
set -euo pipefail

readonly PROG=${0##*/}
# How long to wait for the server to accept connections, in seconds.
readonly START_TIMEOUT=${PG_TEST_START_TIMEOUT:-60}
readonly DURABLE=${PG_TEST_DURABLE:-0}
# The files this script keeps in DIR: all that stop removes.
readonly STATE_FILES=(url port pgdata postgres.log)

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	cat >&2 <<EOF
usage: $PROG start DIR | stop DIR | status DIR
  start   provision a throwaway PostgreSQL for tests; print its URL (also in DIR/url)
  stop    stop it and remove DIR
  status  print the URL and exit 0 if it is running, else exit 1
  pause   stop the server, keeping its data (tests of a database outage)
  resume  start a paused server again on its port
EOF
	exit 2
}

# find_bin NAME prints the path of a PostgreSQL server program: from PATH
# first, else from the Debian/Ubuntu versioned directories (newest first).
find_bin() {
	local name=$1 p
	if [[ -n ${PG_TEST_BINDIR:-} ]]; then
		[[ -x $PG_TEST_BINDIR/$name ]] || return 1
		echo "$PG_TEST_BINDIR/$name"
		return 0
	fi
	if p=$(command -v "$name" 2>/dev/null); then
		echo "$p"
		return 0
	fi
	for p in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
		if [[ -x $p/$name ]]; then
			echo "$p/$name"
			return 0
		fi
	done
	return 1
}

locate_binaries() {
	local missing=() name
	for name in initdb pg_ctl postgres; do
		if ! find_bin "$name" >/dev/null; then
			missing+=("$name")
		fi
	done
	if ((${#missing[@]} > 0)); then
		local where="on PATH or in /usr/lib/postgresql/*/bin"
		[[ -n ${PG_TEST_BINDIR:-} ]] && where="in PG_TEST_BINDIR=$PG_TEST_BINDIR"
		die "PostgreSQL server programs not found $where: ${missing[*]}.
Install the server (Debian/Ubuntu: apt-get install postgresql-15), put its bin directory
(for example /usr/lib/postgresql/15/bin) on PATH, or set PG_TEST_BINDIR to it."
	fi
	INITDB=$(find_bin initdb)
	PG_CTL=$(find_bin pg_ctl)
	# pg_ctl finds the postgres binary next to itself; if that is only a
	# symlink farm (as in /usr/local/bin), point it at the real directory.
	local real
	real=$(readlink -f "$PG_CTL")
	PG_CTL=$real
	real=$(readlink -f "$INITDB")
	INITDB=$real
	if [[ ! -x $(dirname "$PG_CTL")/postgres ]]; then
		die "pg_ctl at $PG_CTL has no postgres program next to it; fix the PostgreSQL installation"
	fi
}

# as_owner runs a command as the cluster's owner: the postgres system user
# when we are root, else ourselves.
as_owner() {
	if ((EUID == 0)); then
		if command -v runuser >/dev/null 2>&1; then
			runuser -u "$PG_USER" -- "$@"
		else
			# su needs one command string; quote every word.
			su -s /bin/sh "$PG_USER" -c "$(printf '%q ' "$@")"
		fi
	else
		"$@"
	fi
}

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now. The
# kernel picks it (bind to port 0), so it is free at this instant; start
# retries with a new port in the unlikely case someone takes it before the
# server binds it.
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
		return
	fi
	# Fallback without Python: probe random ports until a connect is refused.
	local port i
	for ((i = 0; i < 200; i++)); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	die "cannot find a free TCP port on 127.0.0.1"
}

url_for() {
	echo "postgres://postgres@127.0.0.1:$1/postgres?sslmode=disable"
}

# postmaster_pid DATA prints the pid of the cluster's postmaster, if its pid
# file is there.
postmaster_pid() {
	local pidfile=$1/data/postmaster.pid pid
	[[ -r $pidfile ]] || return 1
	read -r pid <"$pidfile" || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	echo "$pid"
}

# alive PID reports whether the process exists and is not a zombie.
alive() {
	local state
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ -n $state && $state != Z* ]]
}

# running DIR reports whether the cluster recorded in DIR is up and
# accepts connections on its port.
running() {
	local dir=$1 data pid port
	[[ -f $dir/pgdata && -f $dir/port ]] || return 1
	data=$(<"$dir/pgdata")
	port=$(<"$dir/port")
	pid=$(postmaster_pid "$data") || return 1
	alive "$pid" || return 1
	if command -v pg_isready >/dev/null 2>&1; then
		pg_isready -q -h 127.0.0.1 -p "$port" -U postgres -d postgres
	fi
}

# stop_cluster DIR stops the recorded cluster (if any) and removes its
# files. It does not give up on a server that will not stop: the data is
# throwaway, so the postmaster is killed.
stop_cluster() {
	local dir=$1 data pid
	[[ -f $dir/pgdata ]] || return 0
	data=$(<"$dir/pgdata")
	if pid=$(postmaster_pid "$data") && alive "$pid"; then
		# immediate: nothing here is worth a checkpoint.
		if ! as_owner "$PG_CTL" stop -D "$data/data" -m immediate -w -t 30 >/dev/null 2>&1; then
			echo "$PROG: pg_ctl could not stop the server (pid $pid); killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	# Only ever remove a directory this script made.
	if [[ $data == */connecthub-pg.* && -d $data ]]; then
		rm -rf -- "$data"
	fi
	rm -f -- "$dir/pgdata"
}

cmd_start() {
	local dir=$1
	if running "$dir"; then
		cat "$dir/url"
		return 0
	fi
	# Stale state (a crash, a reboot that emptied /tmp): start over.
	stop_cluster "$dir"
	mkdir -p -- "$dir"
	rm -f -- "${STATE_FILES[@]/#/$dir/}"

	local base=${TMPDIR:-/tmp}
	[[ -d $base ]] || base=/tmp
	local data
	data=$(mktemp -d "$base/connecthub-pg.XXXXXX") || die "cannot create a temporary directory in $base"
	# Record it at once, so that stop cleans up even if start fails below.
	echo "$data" >"$dir/pgdata"
	if ((EUID == 0)); then
		chown "$PG_USER:" "$data" || die "cannot give $data to the $PG_USER user"
	fi
	chmod 700 "$data"
	if ! as_owner test -w "$data"; then
		die "the $PG_USER user cannot write $data (is $base traversable by it? set TMPDIR to a directory it can reach)"
	fi

	if ! as_owner "$INITDB" -D "$data/data" -U postgres --auth=trust --encoding=UTF8 --no-locale \
		--no-sync >"$data/initdb.log" 2>&1; then
		cat "$data/initdb.log" >&2
		die "initdb failed (log above)"
	fi
	local durability="fsync = off
synchronous_commit = off
full_page_writes = off"
	if [[ $DURABLE == 1 ]]; then
		durability="# PG_TEST_DURABLE=1: fsync, synchronous_commit and full_page_writes keep their defaults (on)"
	fi
	cat >>"$data/data/postgresql.conf" <<EOF

# --- connecthub test cluster (scripts/$PROG): throwaway data ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
max_connections = 300
$durability
shared_buffers = 128MB
max_wal_size = 1GB
timezone = 'UTC'
log_timezone = 'UTC'
log_min_messages = warning
log_min_error_statement = panic
logging_collector = off
EOF

	local attempt port started=0
	for attempt in 1 2 3 4 5; do
		port=$(free_port)
		if as_owner "$PG_CTL" start -D "$data/data" -l "$data/postgres.log" -w -t "$START_TIMEOUT" \
			-o "-p $port" >/dev/null 2>&1; then
			started=1
			break
		fi
		# Most likely the port was taken between the probe and the bind.
		if ! grep -qiE 'could not bind|address already in use' "$data/postgres.log" 2>/dev/null; then
			break
		fi
		echo "$PROG: port $port was taken; retrying ($attempt/5)" >&2
	done
	if ((started == 0)); then
		cp -f "$data/postgres.log" "$dir/postgres.log" 2>/dev/null || true
		tail -n 30 "$data/postgres.log" >&2 2>/dev/null || true
		die "PostgreSQL did not start (server log above, copied to $dir/postgres.log)"
	fi

	# pg_ctl -w waited for the server to accept connections over the
	# socket; check TCP too, which is what the tests use.
	if command -v pg_isready >/dev/null 2>&1; then
		local i
		for ((i = 0; i < START_TIMEOUT * 10; i++)); do
			if pg_isready -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
				break
			fi
			sleep 0.1
		done
		pg_isready -q -h 127.0.0.1 -p "$port" -U postgres -d postgres ||
			die "PostgreSQL started but does not accept TCP connections on 127.0.0.1:$port"
	fi

	echo "$port" >"$dir/port"
	url_for "$port" >"$dir/url"
	cat "$dir/url"
}

cmd_stop() {
	local dir=$1
	if [[ ! -e $dir ]]; then
		return 0
	fi
	stop_cluster "$dir"
	rm -f -- "${STATE_FILES[@]/#/$dir/}"
	if ! rmdir -- "$dir" 2>/dev/null; then
		echo "$PROG: stopped; left $dir in place because it holds files this script did not make" >&2
	fi
}

# cmd_pause stops the server the way an operator's restart does (a fast
# shutdown: open sessions are terminated, committed data is kept), so a
# test can watch ConnectHub live through a database outage.
cmd_pause() {
	local dir=$1 data
	[[ -f $dir/pgdata ]] || die "no cluster recorded in $dir"
	data=$(<"$dir/pgdata")
	as_owner "$PG_CTL" stop -D "$data/data" -m fast -w -t 30 >/dev/null ||
		die "pg_ctl could not stop the server in $data"
}

# cmd_resume starts a paused server on the port it had, so every URL that
# pointed at it works again.
cmd_resume() {
	local dir=$1 data port
	[[ -f $dir/pgdata && -f $dir/port ]] || die "no cluster recorded in $dir"
	data=$(<"$dir/pgdata")
	port=$(<"$dir/port")
	if ! as_owner "$PG_CTL" start -D "$data/data" -l "$data/postgres.log" -w -t "$START_TIMEOUT" \
		-o "-p $port" >/dev/null 2>&1; then
		tail -n 30 "$data/postgres.log" >&2 2>/dev/null || true
		die "PostgreSQL did not start again on port $port (server log above)"
	fi
}

cmd_status() {
	local dir=$1
	if running "$dir"; then
		cat "$dir/url"
		return 0
	fi
	echo "$PROG: no running cluster in $dir" >&2
	return 1
}

main() {
	(($# == 2)) || usage
	local cmd=$1 dir=$2
	[[ -n $dir ]] || usage
	case $dir in
	/ | /tmp | /root | /home | /usr | /var | /etc) die "refusing to use $dir as the cluster's state directory" ;;
	esac
	[[ $START_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "PG_TEST_START_TIMEOUT must be a whole number of seconds, not \"$START_TIMEOUT\""
	[[ $DURABLE == 0 || $DURABLE == 1 ]] || die "PG_TEST_DURABLE must be 0 or 1, not \"$DURABLE\""
	PG_USER=postgres
	if ((EUID == 0)) && ! id -u "$PG_USER" >/dev/null 2>&1; then
		die "running as root, and there is no \"$PG_USER\" system user to run PostgreSQL as (initdb refuses root)"
	fi
	locate_binaries
	case $cmd in
	start) cmd_start "$dir" ;;
	stop) cmd_stop "$dir" ;;
	status) cmd_status "$dir" ;;
	pause) cmd_pause "$dir" ;;
	resume) cmd_resume "$dir" ;;
	*) usage ;;
	esac
}

main "$@"
