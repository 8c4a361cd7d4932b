#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages shardkv needs. Idempotent:
# installs only what is missing. Works as root or through sudo.
#   runtime  what building and running need (`make run`, `make build`, the
#            Dockerfile's build stage): compiler, CMake, the libraries
#   all      runtime plus every test suite's tools (`make test`, CI): clang
#            and LLVM for sanitizers and fuzzing, Criterion, redis, twemproxy,
#            Node.js for ioredis, podman for the container suite; and podman
#            configured for this kind of VM (scripts/configure-podman.sh)
set -euo pipefail

# libedit-dev: shardkv-cli's line editing. liblua5.1-0-dev: EVAL and
# SCRIPT run Lua 5.1, the version Redis embeds (LuaJIT differs in number
# formatting and error texts, which scripts see); lua-cjson-dev and
# lua-bitop-dev: the cjson and bit libraries Redis preloads for scripts.
RUNTIME_PKGS=(build-essential cmake pkg-config libuv1-dev libjemalloc-dev libcjson-dev libedit-dev
              liblua5.1-0-dev lua-cjson-dev lua-bitop-dev)
# iproute2: test_security.py gives a network namespace of its own an address.
# prometheus-redis-exporter: test_redis_exporter.py scrapes shardkv with it.
# python3-django-redis (with python3-django) and python3-limits:
# test_django_redis.py and test_limits.py run those libraries against shardkv.
TEST_PKGS=(clang libclang-rt-14-dev llvm libcriterion-dev
           redis-server redis-tools python3 python3-redis nutcracker iproute2
           prometheus-redis-exporter python3-django python3-django-redis python3-limits)
# The container suite (tests/container/run.sh) runs as root, so podman needs
# none of its rootless helpers (uidmap, slirp4netns, fuse-overlayfs).
# runc: crun fails on this VM (scripts/configure-podman.sh); netavark with
# aardvark-dns is the network stack that lets compose services find each
# other by name, and it publishes ports through iptables; debootstrap makes
# the base image where no registry answers (scripts/make-base-image.sh).
CONTAINER_PKGS=(podman podman-compose runc netavark aardvark-dns iptables debootstrap)

mode="${1:-all}"
case "$mode" in
    runtime) PKGS=("${RUNTIME_PKGS[@]}") ;;
    all) PKGS=("${RUNTIME_PKGS[@]}" "${TEST_PKGS[@]}" "${CONTAINER_PKGS[@]}") ;;
    *) echo "usage: $0 [runtime|all]" >&2; exit 2 ;;
esac

SUDO=
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then
    SUDO=sudo
fi

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$p")
done
# The ioredis compatibility test runs on Node.js with npm. Checked by
# command, not by package: a machine may have a newer Node.js from another
# repository (its own npm included), which Debian's npm would displace.
if [ "$mode" = all ] && ! { command -v node && command -v npm; } >/dev/null; then
    missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
        echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
    # Debian's redis-server, nutcracker and prometheus-redis-exporter
    # packages start system instances (redis on 6379, the exporter on 9121);
    # tests start their own on free ports, and `make run` wants 6379.
    for svc in redis-server nutcracker prometheus-redis-exporter; do
        if printf '%s\n' "${missing[@]}" | grep -qx "$svc"; then
            $SUDO systemctl stop "$svc" 2>/dev/null || $SUDO service "$svc" stop 2>/dev/null || true
            $SUDO systemctl disable "$svc" 2>/dev/null || true
        fi
    done
fi

# Configuration is checked on every run, not only after an install: it is
# cheap and idempotent, and a machine may have podman from before.
if [ "$mode" = all ]; then
    if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
        $SUDO bash "$(dirname "$0")/configure-podman.sh"
    else
        echo "install-deps: no root or sudo: podman left unconfigured (the container suite needs root)" >&2
    fi
fi
