#!/usr/bin/env bash
# install-deps.sh — installs every Debian package that building, testing and
# running shardkv need. Idempotent: installs only what is missing. Works as
# root or through sudo; used by `make run`, `make test`, CI and the Dockerfile.
set -euo pipefail

# Build and runtime libraries, then what the test suites drive.
BUILD_PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev llvm
            libuv1-dev libjemalloc-dev libcjson-dev libedit-dev)
# iproute2: test_security.py gives a network namespace of its own an address.
TEST_PKGS=(libcriterion-dev redis-server redis-tools python3 python3-redis nutcracker iproute2)

case "${1:-all}" in
    runtime) PKGS=("${BUILD_PKGS[@]}") ;;
    all) PKGS=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}") ;;
    *) echo "usage: $0 [runtime|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$p")
done
# The ioredis compatibility test runs on Node.js with npm. Checked by
# command, not by package: a machine may have a newer Node.js from another
# repository (its own npm included), which Debian's npm would displace.
if [ "${1:-all}" = all ] && ! { command -v node && command -v npm; } >/dev/null; then
    missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian's redis-server and nutcracker packages start system instances (redis
# on 6379); tests start their own on free ports, and `make run` wants 6379.
for svc in redis-server nutcracker; do
    if printf '%s\n' "${missing[@]}" | grep -qx "$svc"; then
        $SUDO systemctl stop "$svc" 2>/dev/null || $SUDO service "$svc" stop 2>/dev/null || true
        $SUDO systemctl disable "$svc" 2>/dev/null || true
    fi
done
