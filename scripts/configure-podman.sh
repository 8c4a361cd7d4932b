#!/usr/bin/env bash
# configure-podman.sh — makes root's podman work on this kind of VM. Writes one
# drop-in file; idempotent (rewrites it only when its content differs). Run
# as root; install-deps.sh all runs it after installing podman.
#
# Why a system drop-in and not flags on each call: podman-compose and any
# `podman run` a developer types read it too, and it leaves the packaged
# containers.conf and anyone else's drop-ins untouched (containers.conf(5):
# files in containers.conf.d override the main file key by key).
#   runtime runc      crun, the default, refuses this VM's hybrid cgroup layout
#                     and fails raising RLIMIT_NOFILE/NPROC past the VM's caps
#   default_ulimits   the most the VM lets a container have (podman's default
#                     asks for more, and the start fails)
#   network_backend   netavark (with aardvark-dns, so compose services find
#                     each other by name); stated, not guessed, because the
#                     CNI config that containers-common ships makes podman
#                     probe and warn on every call
set -euo pipefail

conf_dir=/etc/containers/containers.conf.d
conf="$conf_dir/50-shardkv.conf"
want='# Written by shardkv scripts/configure-podman.sh: root podman on a VM that
# allows at most nofile=20000 and nproc=32768 and where crun fails.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[network]
network_backend = "netavark"

[engine]
runtime = "runc"'

if [ -f "$conf" ] && [ "$(cat "$conf")" = "$want" ]; then
    exit 0
fi
mkdir -p "$conf_dir"
printf '%s\n' "$want" >"$conf.tmp"
mv "$conf.tmp" "$conf"
echo "configure-podman: wrote $conf"
