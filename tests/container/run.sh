#!/usr/bin/env bash
# run.sh — the container suite (`make test-container`): builds docker/Dockerfile
# with podman and checks, against the running images, what docker/ promises:
# the server answers on a published loopback port, HEALTHCHECK passes (and
# fails when the server is not where it looks), data in a volume survives a
# kill after a save point and a stop, compose.yml keeps its volume's data,
# and compose.twemproxy.yml serves SET/GET/MGET through twemproxy over three
# servers. Runs as root (re-runs itself through sudo otherwise). Everything it
# creates is named after this run and removed on exit, failed or not; the
# images (shardkv, shardkv-twemproxy, debian:12-slim) stay as the build cache.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    exec sudo --preserve-env=CI bash "$0" "$@"
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
for tool in podman podman-compose redis-cli python3; do
    command -v "$tool" >/dev/null || {
        echo "container: $tool is missing (scripts/install-deps.sh all installs it)" >&2
        exit 1
    }
done

# Lower-case letters and digits only: compose derives its names from it.
# Fixed width, so that no run's name is a prefix of another's (the cleanup
# matches names against it).
RUN=$(printf 'skvct%07d' $$)
IMAGE=shardkv:latest
PROXY_IMAGE=shardkv-twemproxy:latest
# A bound on every wait for a server, in seconds.
WAIT_S=60
# Each podman-compose call, in seconds (the first one builds).
COMPOSE_TIMEOUT=900
tmp=$(mktemp -d /var/tmp/skv-container.XXXXXX)
src="$tmp/src"
started=$SECONDS
passed=0
failed=0
compose_files=()

# ---- cleanup: always, also after a failure or an interrupt ------------------
dump_logs() {
    local c
    for c in $(podman ps -a --filter "name=$RUN" --format '{{.Names}}'); do
        echo "---- podman logs $c (last 30 lines)" >&2
        podman logs --tail 30 "$c" >&2 || true
    done
}

cleanup() {
    local rc=$?
    set +e
    if [ "$rc" -ne 0 ]; then
        # A command that failed outside check() is a failure too.
        [ "$failed" -gt 0 ] || failed=1
        dump_logs
    fi
    local f
    for f in "${compose_files[@]}"; do
        timeout 120 podman-compose -p "$RUN" -f "$f" down -v >/dev/null 2>&1
    done
    # Whatever compose or a failed step left: all carry the run's name.
    podman ps -a --filter "name=$RUN" --format '{{.ID}}' | xargs -r podman rm -f -t 0 >/dev/null 2>&1
    podman pod ls --filter "name=$RUN" --format '{{.ID}}' | xargs -r podman pod rm -f >/dev/null 2>&1
    podman network ls --filter "name=$RUN" --format '{{.Name}}' | xargs -r podman network rm -f >/dev/null 2>&1
    podman volume ls --filter "name=$RUN" --format '{{.Name}}' | xargs -r podman volume rm -f >/dev/null 2>&1
    local left
    left=$( { podman ps -a --filter "name=$RUN" --format '{{.Names}}'
              podman pod ls --filter "name=$RUN" --format '{{.Name}}'
              podman network ls --filter "name=$RUN" --format '{{.Name}}'
              podman volume ls --filter "name=$RUN" --format '{{.Name}}'; } 2>/dev/null)
    if [ -n "$left" ]; then
        echo "container: cleanup left: $left" >&2
        [ "$rc" -eq 0 ] && rc=1
    fi
    rm -rf "$tmp"
    echo "container: $passed passed, $failed failed ($((SECONDS - started)) s)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- helpers --------------------------------------------------------------------
step() { echo "container: [$((SECONDS - started)) s] $*"; }

# check DESCRIPTION EXPECTED ACTUAL: one assertion; the first failure ends
# the run (later steps build on earlier ones).
check() {
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1))
        return 0
    fi
    failed=$((failed + 1))
    printf 'container: FAIL %s\n  expected: %q\n  actual:   %q\n' "$1" "$2" "$3" >&2
    exit 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cli PORT ARGS...: one command to 127.0.0.1:PORT, raw reply lines.
cli() {
    local port=$1
    shift
    timeout 10 redis-cli -h 127.0.0.1 -p "$port" "$@"
}

# wait_reply PORT EXPECTED ARGS...: until the command's reply is EXPECTED.
wait_reply() {
    local port=$1 want=$2 deadline=$((SECONDS + WAIT_S))
    shift 2
    until [ "$(cli "$port" "$@" 2>/dev/null)" = "$want" ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            failed=$((failed + 1))
            echo "container: FAIL no '$want' from 127.0.0.1:$port to '$*' within $WAIT_S s" >&2
            return 1
        fi
        sleep 0.5
    done
}

# info_field PORT NAME: one INFO persistence field's value.
info_field() {
    cli "$1" info persistence | tr -d '\r' | sed -n "s/^$2://p"
}

# quiet CMD...: runs CMD with its output kept aside, shown only if it fails.
# (podman run and rm log an error on every call with a HEALTHCHECK where
# systemd, which would time the periodic checks, is not running.)
quiet() {
    "$@" >"$tmp/quiet.log" 2>&1 || {
        local rc=$?
        tail -n 50 "$tmp/quiet.log" >&2
        return "$rc"
    }
}

# compose FILE ARGS...: podman-compose for this run's project. podman-compose
# 1.0 exits 0 even when a podman command it ran failed (a failed build then
# leaves an older image in use); it prints "exit code: N" after each, which
# is what is checked here.
compose() {
    local file=$1 rc=0
    shift
    timeout "$COMPOSE_TIMEOUT" podman-compose -p "$RUN" -f "$file" "$@" >"$tmp/compose.log" 2>&1 || rc=$?
    if grep -q '^exit code: [1-9]' "$tmp/compose.log"; then
        # The output of the first podman command that failed.
        grep -m1 -B 30 '^exit code: [1-9]' "$tmp/compose.log" >&2
        echo "container: FAIL podman-compose $*: a podman command in it failed" >&2
    elif [ "$rc" -ne 0 ]; then
        tail -n 30 "$tmp/compose.log" >&2
        echo "container: FAIL podman-compose $* (exit $rc)" >&2
    else
        return 0
    fi
    failed=$((failed + 1))
    return 1
}

# run_server NAME PORT ARGS...: a detached server published on PORT.
run_server() {
    local name=$1 port=$2
    shift 2
    quiet podman run -d --name "$name" -p "127.0.0.1:$port:6379" "$@"
}

# health NAME: `podman healthcheck run`'s exit status and what it printed
# (nothing when healthy, "unhealthy" otherwise).
health() {
    local out rc=0
    out=$(podman healthcheck run "$1" 2>&1) || rc=$?
    echo "rc=$rc${out:+ $out}"
}

# ---- sources: a snapshot of the work tree, plus a developer's build/ -----------
step "snapshot of the sources"
mkdir -p "$src"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
         tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$src" -xf -
else
    tar -C "$ROOT" --exclude=./.git --exclude=./build --exclude='./build-*' -cf - . | tar -C "$src" -xf -
fi
# What `make run` leaves in a checkout: a configured build/ whose CMakeCache
# names this host's path. Copied into an image build, it breaks the build
# (CMake refuses a cache made elsewhere): the image must not see it.
cmake -S "$src" -B "$src/build" -DSKV_TESTS=OFF >/dev/null

# ---- images -------------------------------------------------------------------
step "base image debian:12-slim"
bash "$ROOT/scripts/make-base-image.sh"

# Old image IDs, removed once rebuilt so that runs do not pile up images.
old_ids=$(podman image inspect --format '{{.Id}}' "$IMAGE" "$PROXY_IMAGE" 2>/dev/null || true)

step "podman build --format docker -f docker/Dockerfile (from the repo root)"
(cd "$src" && quiet podman build --format docker -t "$IMAGE" -f docker/Dockerfile .)
check "image keeps its HEALTHCHECK" "CMD-SHELL" \
    "$(podman image inspect --format '{{index .Config.Healthcheck.Test 0}}' "$IMAGE" 2>&1)"

# ---- one server: redis-cli, HEALTHCHECK ------------------------------------------
step "one server: redis-cli and HEALTHCHECK"
port=$(free_port)
run_server "$RUN-kv" "$port" "$IMAGE"
wait_reply "$port" PONG ping
check "SET through the published port" OK "$(cli "$port" set greeting hello)"
check "GET through the published port" hello "$(cli "$port" get greeting)"
check "healthcheck of a serving container" rc=0 "$(health "$RUN-kv")"
check "persistence off without SHARDKV_DIR" dir "$(cli "$port" config get dir)"
quiet podman rm -f -t 0 "$RUN-kv"

# The check authenticates with the container's SHARDKV_REQUIREPASS ...
port=$(free_port)
run_server "$RUN-auth" "$port" -e SHARDKV_REQUIREPASS=s3cret "$IMAGE"
wait_reply "$port" PONG -a s3cret --no-auth-warning ping
check "healthcheck with a password" rc=0 "$(health "$RUN-auth")"
# ... and reports a server that is not on the port it checks.
port=$(free_port)
quiet podman run -d --name "$RUN-off" -p "127.0.0.1:$port:6380" "$IMAGE" --port 6380
wait_reply "$port" PONG ping
check "healthcheck of a server on another port" "rc=1 unhealthy" "$(health "$RUN-off")"
quiet podman rm -f -t 0 "$RUN-auth" "$RUN-off"

# ---- persistence in a volume -------------------------------------------------
step "persistence: save point, kill, restart on the same volume"
vol="$RUN-data"
podman volume create "$vol" >/dev/null
port=$(free_port)
run_server "$RUN-p1" "$port" -v "$vol:/data" -e SHARDKV_DIR=/data -e SHARDKV_SAVE="1 1" "$IMAGE"
wait_reply "$port" PONG ping
check "MSET before the save point" OK "$(cli "$port" mset k1 v1 k2 v2 k3 v3)"
# The "1 1" save point: a snapshot within about a second of the writes.
deadline=$((SECONDS + WAIT_S))
until [ "$(info_field "$port" rdb_changes_since_last_save)" = 0 ] &&
      [ "$(info_field "$port" rdb_saves)" != 0 ]; do
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.5
done
check "save point wrote a snapshot" "0 ok" \
    "$(info_field "$port" rdb_changes_since_last_save) $(info_field "$port" rdb_last_bgsave_status)"
# SIGKILL: no save at exit, so only what the save point wrote can come back.
podman kill -s KILL "$RUN-p1" >/dev/null
quiet podman rm -f -t 0 "$RUN-p1"
# The image's own save points from here on (no SHARDKV_SAVE).
run_server "$RUN-p2" "$port" -v "$vol:/data" -e SHARDKV_DIR=/data "$IMAGE"
wait_reply "$port" PONG ping
check "keys back after kill and restart" "$(printf 'v1\nv2\nv3')" "$(cli "$port" mget k1 k2 k3)"
check "image's save points apply with SHARDKV_DIR" "$(printf 'save\n3600 1 300 100 60 10000')" \
    "$(cli "$port" config get save)"

step "persistence: stop (SIGTERM saves), restart on the same volume"
check "SET after the restart" OK "$(cli "$port" set k4 v4)"
quiet podman stop -t 30 "$RUN-p2"
quiet podman rm -f -t 0 "$RUN-p2"
run_server "$RUN-p3" "$port" -v "$vol:/data" -e SHARDKV_DIR=/data "$IMAGE"
wait_reply "$port" PONG ping
check "every key back after stop and restart" "$(printf 'v1\nv2\nv3\nv4')" \
    "$(cli "$port" mget k1 k2 k3 k4)"
quiet podman rm -f -t 0 "$RUN-p3"

# ---- compose.yml: its volume keeps the data across down and up -----------------
# BUILDAH_FORMAT: podman-compose's builds keep the HEALTHCHECK too.
export BUILDAH_FORMAT=docker
step "compose.yml: up, SET, down, up, GET"
compose="$src/docker/compose.yml"
compose_files+=("$compose")
port=$(free_port)
SHARDKV_HOST_PORT=$port compose "$compose" up -d
wait_reply "$port" PONG ping
check "SET through compose.yml" OK "$(cli "$port" set kept yes)"
compose "$compose" down
SHARDKV_HOST_PORT=$port compose "$compose" up -d
wait_reply "$port" PONG ping
check "compose.yml kept the key in its volume" yes "$(cli "$port" get kept)"
compose "$compose" down -v

# ---- compose.twemproxy.yml: three servers behind twemproxy ---------------------
step "compose.twemproxy.yml: up --build (context is the repo root)"
compose="$src/docker/compose.twemproxy.yml"
compose_files+=("$compose")
pport=$(free_port)
SHARDKV_PROXY_PORT=$pport compose "$compose" up -d --build
step "compose.twemproxy.yml: SET, GET, MGET through the proxy"
wait_reply "$pport" OK set probe 1
keys=() want=()
for i in $(seq 1 30); do
    keys+=("key:$i")
    want+=("value-$i")
    check "SET key:$i through twemproxy" OK "$(cli "$pport" set "key:$i" "value-$i")"
done
check "GET through twemproxy" value-17 "$(cli "$pport" get key:17)"
check "MGET of 30 keys through twemproxy" "$(printf '%s\n' "${want[@]}")" \
    "$(cli "$pport" mget "${keys[@]}")"
# ketama spread the 31 keys: every server holds some, none is missing.
total=0
for s in shardkv1 shardkv2 shardkv3; do
    c=$(podman ps --filter "name=${RUN}_${s}_" --format '{{.Names}}')
    n=$(podman exec "$c" redis-cli dbsize)
    check "$s holds some of the keys" yes "$([ "$n" -gt 0 ] && echo yes || echo "no ($n)")"
    total=$((total + n))
done
check "the servers hold the 31 keys between them" 31 "$total"
c=$(podman ps --filter "name=${RUN}_twemproxy_" --format '{{.Names}}')
check "twemproxy runs and never restarted" "running 0" \
    "$(podman inspect --format '{{.State.Status}} {{.RestartCount}}' "$c")"
# Its STOPSIGNAL ends it at once; else `stop` waits the 10 s and kills it.
t0=$SECONDS
quiet podman stop -t 10 "$c"
check "twemproxy stops on its stop signal" "yes" "$([ $((SECONDS - t0)) -lt 5 ] && echo yes || echo "no ($((SECONDS - t0)) s)")"
compose "$compose" down -v

# Images replaced by this run's builds (ignored while something still uses one).
new_ids=$(podman image inspect --format '{{.Id}}' "$IMAGE" "$PROXY_IMAGE" 2>/dev/null || true)
for id in $old_ids; do
    grep -qx "$id" <<<"$new_ids" || podman rmi "$id" >/dev/null 2>&1 || true
done
step "done"
