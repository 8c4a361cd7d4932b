#!/usr/bin/env bash
# notify_cost.sh — what notify-keyspace-events KEA costs (issue 13): the
# same redis-benchmark run (-t set,get -P 16 -c 50 -r 100000) against
# redis-server and shardkv-server (each thread count asked), with
# notifications off and then on, one subscriber on __key*__:* reading
# everything; prints each server's CPU time per request (utime + stime
# from /proc, the server only) off and on, and the increase. Servers run
# on free loopback ports and are always stopped (lib.sh's trap).
#
# usage: tests/bench/notify_cost.sh [requests per run (default 400000)]
# env:   SHARDKV_BIN  directory holding shardkv-server (default build/bin)
#        THREADS_LIST shardkv worker threads to test (default "1 2")
# A benchmark, never a pass/fail test.
set -euo pipefail

N=${1:-400000}
THREADS_LIST=${THREADS_LIST:-"1 2"}
. "$(dirname "$0")/lib.sh"
# per_request PORT PID -> server CPU µs per request of one run.
per_request() {
    local before after
    before=$(cpu_us "$2")
    "$BENCH" -h 127.0.0.1 -p "$1" -c 50 -r 100000 -d 32 -t set,get -n "$N" -P 16 -q \
        >/dev/null 2>&1
    after=$(cpu_us "$2")
    awk -v d="$((after - before))" -v n="$((2 * N))" 'BEGIN { printf "%.3f", d / n }'
}

# measure NAME PORT PID: off, then on with a subscriber draining events.
measure() {
    local off on sub
    "$CLI" -p "$2" config set notify-keyspace-events "" >/dev/null
    off=$(per_request "$2" "$3")
    "$CLI" -p "$2" config set notify-keyspace-events KEA >/dev/null
    "$CLI" -p "$2" psubscribe '__key*__:*' >/dev/null 2>&1 &
    sub=$!
    sleep 0.3
    on=$(per_request "$2" "$3")
    kill "$sub" 2>/dev/null || true
    wait "$sub" 2>/dev/null || true
    "$CLI" -p "$2" config set notify-keyspace-events "" >/dev/null
    awk -v n="$1" -v a="$off" -v b="$on" \
        'BEGIN { printf "%-12s | %8.3f | %8.3f | %+5.0f%%\n", n, a, b, (b / a - 1) * 100 }'
}

echo "redis-benchmark -t set,get -P 16 -c 50 -r 100000 -n $N; server CPU us per request"
echo "server       |      off |  KEA on  | cost"
start_redis REDIS
measure redis "$REDIS_PORT" "$REDIS_PID"
stop_server REDIS
for t in $THREADS_LIST; do
    start_shardkv SKV --threads "$t"
    measure "shardkv $t" "$SKV_PORT" "$SKV_PID"
    stop_server SKV
done
