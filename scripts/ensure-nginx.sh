#!/bin/sh
# ensure-nginx.sh installs Debian's nginx for the deployment tests
# (internal/deploytest) when it is missing, and says what it did. make test
# runs it before go test; with CONNECTHUB_TEST_STRICT=1 a missing nginx
# fails those tests instead of skipping them.
#
# The tests start nginx themselves, in the foreground with a configuration
# of their own (-p, -c, -e in a temporary directory): the system service
# the package sets up is not needed, and is disabled when this script
# installs the package, to keep port 80 free.
#
# Usage: scripts/ensure-nginx.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)

say() { echo "ensure-nginx: $*"; }
version() { /usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //'; }

if [ -x /usr/sbin/nginx ]; then
	say "found $(version), nothing to install"
	exit 0
fi

say "nginx is missing"
"$here/apt-install.sh" ensure-nginx nginx
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl disable --now nginx >/dev/null 2>&1 || sudo systemctl disable --now nginx >/dev/null 2>&1 || true
fi
if [ ! -x /usr/sbin/nginx ]; then
	say "apt-get reported success but /usr/sbin/nginx is not there"
	exit 1
fi
say "installed $(version) at /usr/sbin/nginx"
