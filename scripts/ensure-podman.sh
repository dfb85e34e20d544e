#!/bin/sh
# ensure-podman.sh installs what the container tests (internal/deploytest)
# need when it is missing, and says what it did: Debian's podman, runc (the
# tests run containers with --runtime runc: podman's default crun fails on
# hosts with hybrid cgroups) and the CA certificates that deploy/image.sh
# copies into the image. make test runs it before go test; with
# CONNECTHUB_TEST_STRICT=1 a runtime that cannot start containers fails
# those tests instead of skipping them.
#
# Usage: scripts/ensure-podman.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)

say() { echo "ensure-podman: $*"; }

missing=""
command -v podman >/dev/null 2>&1 || missing="$missing podman"
command -v runc >/dev/null 2>&1 || missing="$missing runc"
[ -r /etc/ssl/certs/ca-certificates.crt ] || missing="$missing ca-certificates"

if [ -z "$missing" ]; then
	say "found $(podman --version) and $(runc --version | head -n 1), nothing to install"
	exit 0
fi

say "missing:$missing"
# shellcheck disable=SC2086
"$here/apt-install.sh" ensure-podman $missing
for bin in podman runc; do
	if ! command -v "$bin" >/dev/null 2>&1; then
		say "apt-get reported success but $bin is not there"
		exit 1
	fi
done
say "installed $(podman --version) and $(runc --version | head -n 1)"
