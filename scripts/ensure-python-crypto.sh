#!/bin/sh
# ensure-python-crypto.sh installs Debian's python3-cryptography for the
# Python ConnectHub import tests when no python3 can import it, and says
# what it did. The tests' fixture generator
# (internal/pyimport/testdata/make_fixture.py) makes the old database's
# secret_cfg tokens with Python's cryptography.fernet, as the Python
# ConnectHub did. make test runs this before go test; with
# CONNECTHUB_TEST_STRICT=1 a missing module fails those tests instead of
# skipping them.
#
# Only Debian's package is used: there is no PyPI here.
#
# Usage: scripts/ensure-python-crypto.sh
set -eu

say() { echo "ensure-python-crypto: $*"; }

for py in /usr/bin/python3 $(command -v python3 2>/dev/null || true); do
	if [ -x "$py" ] && "$py" -c 'import cryptography.fernet' 2>/dev/null; then
		say "$py has cryptography $("$py" -c 'import cryptography; print(cryptography.__version__)'), nothing to install"
		exit 0
	fi
done

if ! command -v apt-get >/dev/null 2>&1; then
	say "no python3 with the cryptography module and no apt-get: install python3 and its cryptography"
	say "module yourself, else the import tests skip"
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	say "python3-cryptography is missing and installing it needs root: run as root"
	say "or apt-get install python3-cryptography yourself"
	exit 1
fi

say "installing Debian's python3 and python3-cryptography (apt-get update && apt-get install -y python3 python3-cryptography)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-cryptography; } >"$log" 2>&1; then
	tail -n 20 "$log" >&2
	say "installing python3-cryptography failed (the apt-get output is above)"
	exit 1
fi
if ! /usr/bin/python3 -c 'import cryptography.fernet' 2>/dev/null; then
	say "apt-get reported success but /usr/bin/python3 cannot import cryptography"
	exit 1
fi
say "installed $(dpkg-query -W -f='python3-cryptography ${Version}' python3-cryptography 2>/dev/null || echo python3-cryptography)"
