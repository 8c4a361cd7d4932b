#!/usr/bin/env bash
# workloads.sh — shardkv-server against redis-server 7.0 under shardkv-bench's
# three workloads, the same as shardkv-engine-bench's (read-heavy GET:SET
# 95:5 over 10,000 keys, balanced 50:50 over 1,000,000 keys, churn SET then
# DEL of short-lived keys), same flags for both. The servers run side by side on
# free loopback ports and are measured alternately, so background load hits
# both alike; both are always stopped (trap). Prints ops/s, p99 and the
# shardkv/redis ratio per workload.
#
# usage: tests/bench/workloads.sh
# env:   SHARDKV_BIN  directory holding shardkv-server and shardkv-bench
#                     (default build/bin)
#        SECONDS_PER_RUN  length of each run (default 5)
#        CONNECTIONS  (default 50)   PIPELINE (default 1)
#        BENCH_THREADS shardkv-bench threads (default 1)
#        THREADS      shardkv-server worker threads (default 2)
#        KEYS         key space (default: the workload's)   VALUE_SIZE (default 32)
#        DISTRIBUTION uniform or zipf:S (default uniform)
# On a 2-core machine the load generator competes with the server for CPU:
# compare the ratios, not the absolute numbers. Never a pass/fail test.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SHARDKV_BIN:-$REPO/build/bin}
SKV=$BIN/shardkv-server
BENCH=$BIN/shardkv-bench
CLI=$BIN/shardkv-cli
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
SECS=${SECONDS_PER_RUN:-5}
CONNECTIONS=${CONNECTIONS:-50}
PIPELINE=${PIPELINE:-1}
BENCH_THREADS=${BENCH_THREADS:-1}
THREADS=${THREADS:-2}
KEYS=${KEYS:-}
VALUE_SIZE=${VALUE_SIZE:-32}
DISTRIBUTION=${DISTRIBUTION:-uniform}
PY=/usr/bin/python3

for exe in "$SKV" "$BENCH" "$CLI" "$REDIS_SERVER" "$PY"; do
    [ -x "$exe" ] || { echo "workloads: $exe not found (build first)" >&2; exit 2; }
done

TMP=$(mktemp -d)
SKV_PID=
REDIS_PID=
cleanup() {
    for pid in $SKV_PID $REDIS_PID; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ready() { # port pid name
    for _ in $(seq 1 100); do
        kill -0 "$2" 2>/dev/null || { echo "workloads: $3 exited; log:" >&2; cat "$TMP/$3.log" >&2; exit 1; }
        "$CLI" -p "$1" PING >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "workloads: $3 did not start on port $1" >&2
    exit 1
}

SKV_PORT=$(free_port)
"$SKV" --port "$SKV_PORT" --bind 127.0.0.1 --threads "$THREADS" >"$TMP/shardkv.log" 2>&1 &
SKV_PID=$!
REDIS_PORT=$(free_port)
"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP" >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
wait_ready "$SKV_PORT" "$SKV_PID" shardkv
wait_ready "$REDIS_PORT" "$REDIS_PID" redis

run() { # port workload -> one JSON line
    local extra=()
    [ "$2" != churn ] && extra=(--prefill)
    [ -n "$KEYS" ] && extra+=(--keys "$KEYS")
    "$CLI" -p "$1" FLUSHALL >/dev/null 2>&1 || true
    "$BENCH" --port "$1" --workload "$2" --seconds "$SECS" --connections "$CONNECTIONS" \
        --pipeline "$PIPELINE" --threads "$BENCH_THREADS" \
        --value-size "$VALUE_SIZE" --distribution "$DISTRIBUTION" --json --quiet "${extra[@]}"
}

echo "shardkv-server --threads $THREADS vs redis-server; ${SECS}s per run, $CONNECTIONS connections," \
     "pipeline $PIPELINE, ${KEYS:-per-workload} keys, ${VALUE_SIZE}-byte values, $DISTRIBUTION"
printf '%-11s %14s %14s %8s %12s %12s\n' workload shardkv_ops/s redis_ops/s ratio skv_p99_ms redis_p99_ms
for w in read-heavy balanced churn; do
    s=$(run "$SKV_PORT" "$w")
    r=$(run "$REDIS_PORT" "$w")
    "$PY" - "$w" "$s" "$r" <<'PYEOF'
import json, sys
w, s, r = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
ratio = s["ops_per_sec"] / r["ops_per_sec"] if r["ops_per_sec"] else float("nan")
print("%-11s %14.0f %14.0f %8.2f %12.3f %12.3f" % (w, s["ops_per_sec"], r["ops_per_sec"], ratio,
      s["p99_us"] / 1000, r["p99_us"] / 1000))
if s["errors"] or r["errors"]:
    print("  errors: shardkv %d, redis %d" % (s["errors"], r["errors"]))
PYEOF
done
