#!/bin/sh
# ensure-prometheus.sh installs Debian's prometheus package, which brings
# prometheus and promtool, for the observability tests of internal/server
# (promtool checks and unit-tests deploy/prometheus/alerts.yml; a real
# Prometheus discovers and scrapes a node) when either is missing, and says
# what it did. make test runs it before go test; with
# CONNECTHUB_TEST_STRICT=1 a missing tool fails those tests instead of
# skipping them.
#
# The package's service is not started: the tests run their own Prometheus
# on a random port of 127.0.0.1 with a throwaway storage directory, and
# never use :9090. While it installs, a policy-rc.d that refuses service
# starts is put in place unless the machine has one; a service that
# started anyway is stopped.
#
# Usage: scripts/ensure-prometheus.sh
set -eu

say() { echo "ensure-prometheus: $*"; }

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
	say "found $(command -v prometheus) and $(command -v promtool), nothing to install"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	say "prometheus/promtool are missing and this is not a Debian-like system (no apt-get);"
	say "install Prometheus yourself, else the Prometheus tests skip"
	exit 1
fi

# as_root runs a command as root: directly when we are, else through sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		say "prometheus is missing and installing it needs root (run as root, or install sudo)"
		exit 1
	fi
}

log=$(mktemp)
policy=""
cleanup() {
	rm -f "$log"
	if [ -n "$policy" ]; then
		as_root rm -f "$policy"
	fi
}
trap cleanup EXIT
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\n# ensure-prometheus.sh: no service starts while packages install.\nexit 101\n' | as_root tee "$policy" >/dev/null
	as_root chmod 755 "$policy"
fi

say "installing Debian's prometheus package (apt-get update && apt-get install -y --no-install-recommends prometheus)"
if ! { as_root apt-get update && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; } >"$log" 2>&1; then
	tail -n 20 "$log" >&2
	say "installing prometheus failed (the apt-get output is above)"
	exit 1
fi

# On a machine whose init system ignores policy-rc.d the service may have
# started; the tests do not need it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
	as_root systemctl stop prometheus && as_root systemctl disable prometheus >/dev/null 2>&1 || true
	say "stopped the prometheus service the package started"
elif [ -x /etc/init.d/prometheus ] && /etc/init.d/prometheus status >/dev/null 2>&1; then
	as_root /etc/init.d/prometheus stop >/dev/null 2>&1 || true
	say "stopped the prometheus service the package started"
fi

for bin in prometheus promtool; do
	if ! command -v "$bin" >/dev/null 2>&1; then
		say "apt-get reported success but $bin is not on PATH"
		exit 1
	fi
done
say "installed $(dpkg-query -W -f='prometheus ${Version}' prometheus 2>/dev/null || echo prometheus): $(command -v prometheus), $(command -v promtool)"
