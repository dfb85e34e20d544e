#!/bin/sh
# image.sh BINARY IMAGE: builds the container image IMAGE from
# deploy/Containerfile around BINARY, a static connecthub (make build), with
# podman, or docker when podman is missing (CONTAINER_ENGINE chooses). No
# base image is pulled: the image starts FROM scratch, and this script
# stages everything else in a temporary build context:
#   rootfs/etc/passwd, rootfs/etc/group   root and nonroot (uid/gid 65532)
#   rootfs/etc/ssl/certs/ca-certificates.crt   this machine's CA bundle
#   rootfs/tmp                            mode 1777
#   data/                                 /data, chowned to 65532 by the COPY
#
# Usage: deploy/image.sh bin/connecthub localhost/connecthub:v1.2.3
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 BINARY IMAGE" >&2
	exit 2
fi
bin=$1
image=$2
here=$(cd "$(dirname "$0")" && pwd)
version=${VERSION:-${image##*:}}

if [ ! -x "$bin" ]; then
	echo "image.sh: $bin is not an executable (run make build first)" >&2
	exit 1
fi
certs=""
for c in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
	if [ -r "$c" ]; then
		certs=$c
		break
	fi
done
if [ -z "$certs" ]; then
	echo "image.sh: no CA certificate bundle on this machine (Debian: apt-get install ca-certificates)" >&2
	exit 1
fi
engine=${CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
	if command -v podman >/dev/null 2>&1; then
		engine=podman
	elif command -v docker >/dev/null 2>&1; then
		engine=docker
	else
		echo "image.sh: neither podman nor docker is installed (scripts/ensure-podman.sh installs podman)" >&2
		exit 1
	fi
fi

ctx=$(mktemp -d "${TMPDIR:-/tmp}/connecthub-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/tmp" "$ctx/data"
chmod 1777 "$ctx/rootfs/tmp"
chmod 0755 "$ctx/data"
cp "$certs" "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$ctx/rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$ctx/rootfs/etc/group"
chmod 0644 "$ctx/rootfs/etc/passwd" "$ctx/rootfs/etc/group"
cp "$bin" "$ctx/connecthub"
chmod 0755 "$ctx/connecthub"

# docker format: the OCI image format has no HEALTHCHECK.
format=""
if [ "$engine" = podman ]; then
	format="--format docker"
fi
# shellcheck disable=SC2086
"$engine" build $format --build-arg VERSION="$version" -t "$image" -f "$here/Containerfile" "$ctx"
echo "image.sh: built $image with $engine"
