#!/bin/sh
# ensure-chromium.sh installs Debian's chromium for the admin UI's browser
# tests (internal/adminui/browsertest) when it is missing, and says what it
# did. make test runs it before go test; with CONNECTHUB_TEST_STRICT=1 a
# missing browser fails those tests instead of skipping them.
#
# Only Debian's package is used: a browser download of its own (as npm's
# puppeteer or playwright do) cannot work on machines without internet
# access beyond the package registries.
#
# Usage: scripts/ensure-chromium.sh
# Environment: CONNECTHUB_CHROMIUM names another browser binary to use;
# when it is executable nothing is installed.
set -eu

say() { echo "ensure-chromium: $*"; }

if [ -n "${CONNECTHUB_CHROMIUM:-}" ] && [ -x "${CONNECTHUB_CHROMIUM}" ]; then
	say "using CONNECTHUB_CHROMIUM=${CONNECTHUB_CHROMIUM}"
	exit 0
fi

for bin in /usr/bin/chromium /usr/bin/chromium-browser; do
	if [ -x "$bin" ]; then
		# chromium --version is slow on first start; the path is enough.
		say "found $bin, nothing to install"
		exit 0
	fi
done

if ! command -v apt-get >/dev/null 2>&1; then
	say "chromium is missing and this is not a Debian-like system (no apt-get);"
	say "install chromium yourself or set CONNECTHUB_CHROMIUM, else the browser tests skip"
	exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		say "chromium is missing and installing it needs root (run as root, or install sudo)"
		exit 1
	fi
fi

say "chromium is missing: installing Debian's chromium package (apt-get update && apt-get install -y chromium)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium; } >"$log" 2>&1; then
	tail -n 20 "$log" >&2
	say "installing chromium failed (the apt-get output is above)"
	exit 1
fi

if [ ! -x /usr/bin/chromium ]; then
	say "apt-get reported success but /usr/bin/chromium is not there"
	exit 1
fi
say "installed $(dpkg-query -W -f='chromium ${Version}' chromium 2>/dev/null || echo chromium) at /usr/bin/chromium"
