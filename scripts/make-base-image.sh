#!/usr/bin/env bash
# make-base-image.sh — makes sure podman has debian:12-slim, the base of
# docker/Dockerfile. Does nothing when the image exists; else pulls it; and
# only where no registry answers, builds the same Debian 12 from Debian's
# own packages with debootstrap (minbase, about a minute) and imports it
# under that name. Run as root (tests/container/run.sh does).
set -euo pipefail

IMAGE=debian:12-slim
# Fully qualified, so the pull needs no short-name alias or prompt.
REMOTE=docker.io/library/debian:12-slim
# A registry that does not answer fails in well under a second here; the
# bound is for one that answers slowly.
PULL_TIMEOUT=300

if podman image exists "$IMAGE"; then
    exit 0
fi
if timeout "$PULL_TIMEOUT" podman pull -q "$REMOTE" >/dev/null; then
    # Reachable by the short name too, whatever the registries.conf says.
    podman tag "$REMOTE" "$IMAGE"
    exit 0
fi
echo "make-base-image: cannot pull $REMOTE; building $IMAGE with debootstrap" >&2

# apt's own mirror (the one this machine reaches), not a hard-coded host.
# shellcheck disable=SC2016 # $(REPO_URI) is apt's placeholder, not the shell's
mirror=$(apt-get indextargets --format '$(REPO_URI)' | grep -m1 '/debian/' || true)
if [ -z "$mirror" ]; then
    echo "make-base-image: no Debian mirror in apt's configuration" >&2
    exit 1
fi
tmp=$(mktemp -d /var/tmp/skv-rootfs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 || {
    tail -n 30 "$tmp/debootstrap.log" >&2
    exit 1
}
# What the official slim image leaves out, and what a container must not
# inherit from the host that ran debootstrap.
rm -rf "$tmp"/rootfs/var/lib/apt/lists/* "$tmp"/rootfs/var/cache/apt/*.bin \
       "$tmp"/rootfs/var/cache/apt/archives/*.deb "$tmp"/rootfs/var/log/*.log
: >"$tmp/rootfs/etc/hostname"
tar -C "$tmp/rootfs" -c . | podman import -q --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "make-base-image: imported $IMAGE" >&2
