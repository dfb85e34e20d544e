#!/bin/sh
# apt-install.sh WHO PACKAGE...: installs Debian packages for a test
# prerequisite, the way every scripts/ensure-*.sh does it: as root, or
# through sudo; non-interactively; quietly, printing apt-get's output only
# when it fails. WHO prefixes the messages (ensure-nginx, ensure-podman).
# It exits non-zero with a reason when it cannot install.
set -eu

who=$1
shift
say() { echo "$who: $*"; }

if ! command -v apt-get >/dev/null 2>&1; then
	say "this is not a Debian-like system (no apt-get): install $* yourself, else the tests that need them skip"
	exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		say "installing $* needs root (run as root, or install sudo)"
		exit 1
	fi
fi

say "installing Debian's $* (apt-get update && apt-get install -y --no-install-recommends $*)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# RUNLEVEL=1 keeps invoke-rc.d from starting the packages' services after
# the installation: the tests start what they need themselves.
if ! { $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y --no-install-recommends "$@"; } >"$log" 2>&1; then
	tail -n 20 "$log" >&2
	say "installing $* failed (the apt-get output is above)"
	exit 1
fi
