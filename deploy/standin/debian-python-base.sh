#!/bin/sh
# Build a Debian image with Python 3.11 and pip from Debian's packages alone, for a host whose
# Docker engine cannot pull python:3.11-slim. Needs root and debootstrap. Use it as the base
# of every image: LOOPML_BASE_IMAGE=<tag> (make compose-test, make container-test) or
# --build-arg BASE_IMAGE=<tag>. The host's CA bundle is copied in, so pip and apt in the
# builds trust what the host trusts (a proxy's own CA, say).
#   sudo sh deploy/standin/debian-python-base.sh loopml-standin/debian-python:3.11
set -eu
tag="${1:?usage: debian-python-base.sh TAG (e.g. loopml-standin/debian-python:3.11)}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
  bookworm "$root" "$mirror"
ln -sf python3 "$root/usr/bin/python"
ln -sf pip3 "$root/usr/bin/pip"
rm -f "$root"/usr/lib/python3.*/EXTERNALLY-MANAGED  # an image's pip installs system-wide
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["python3"]' - "$tag"
echo "built $tag"
