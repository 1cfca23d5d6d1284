#!/bin/sh
# Makes the base images Dockerfile.cuda names (debian:bookworm and
# debian:bookworm-slim) from Debian's own packages, for a Docker engine that
# cannot pull from Docker Hub: debootstrap's minimal Debian 12 into a
# folder, imported under both names. The host's CA bundle goes into the
# image's local certificates, so that a build behind a TLS-inspecting proxy
# (as on the development VM) trusts what the host trusts. Run as root;
# needs debootstrap and a running Docker engine.
#
#   scripts/docker-base-debootstrap.sh && make docker-cuda
set -eu
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /etc/ssl/certs/ca-certificates.crt "$root/usr/local/share/ca-certificates/host-bundle.crt"
fi
tar -C "$root" -c . | docker import - debian:bookworm
docker tag debian:bookworm debian:bookworm-slim
