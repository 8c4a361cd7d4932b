#!/usr/bin/env bash
# callgrind.sh — instructions per request (valgrind's callgrind, every
# thread of the server) for shardkv-server and redis-server 7.0 under the
# same redis-benchmark run, and their ratio: the steady figure on this
# noisy machine for comparing optimisations. Each server runs under
# callgrind on a free loopback port (always stopped), gets a warm-up run
# of the same test, then its counters are zeroed, the measured run made
# and the counters dumped; the total is divided by the requests.
#
# usage: tests/bench/callgrind.sh [TEST ...]   (redis-benchmark -t names;
#        default: get set)
# env:   SHARDKV_BIN (default build/bin), THREADS (default 1), PIPELINE
#        (default 16), REQUESTS (default 200000), KEYS (-r, default 1000),
#        SERVERS (default "shardkv redis")
# This is a benchmark, never a pass/fail test.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || { echo "callgrind: valgrind not found" >&2; exit 2; }
TESTS=("$@")
[ ${#TESTS[@]} -gt 0 ] || TESTS=(get set)
T=${THREADS:-1}
P=${PIPELINE:-16}
N=${REQUESTS:-200000}
R=${KEYS:-1000}
SERVERS=${SERVERS:-shardkv redis}

# ir SERVER TEST: instructions per request of SERVER under TEST.
ir() {
    local port out log pid total
    port=$(free_port)
    out="$TMP/cg.$1.$2"
    log="$TMP/$1.$2.log"
    if [ "$1" = shardkv ]; then
        valgrind --tool=callgrind --callgrind-out-file="$out" "$SKV" --port "$port" \
            --bind 127.0.0.1 --threads "$T" --save '' --loglevel warning >"$log" 2>&1 &
    else
        valgrind --tool=callgrind --callgrind-out-file="$out" "$REDIS_SERVER" --port "$port" \
            --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" --loglevel warning >"$log" 2>&1 &
    fi
    pid=$!
    PIDS+=("$pid")
    wait_ready "$port" "$1" "$log"
    "$BENCH" -p "$port" -t "$2" -n 20000 -r "$R" -P "$P" -q >/dev/null 2>&1
    callgrind_control -z "$pid" >/dev/null 2>&1
    "$BENCH" -p "$port" -t "$2" -n "$N" -r "$R" -P "$P" -q >/dev/null 2>&1
    callgrind_control -d "$pid" >/dev/null 2>&1
    stop_pid "$pid"
    # The dump after zeroing holds the measured run; the file written at
    # exit holds only the shutdown, which is less: the larger total.
    total=0
    for f in "$out"*; do
        local t
        t=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
        [ -n "$t" ] && [ "$t" -gt "$total" ] && total=$t
    done
    echo $((total / N))
}

printf '%-8s' test
for s in $SERVERS; do printf '%12s' "$s"; done
printf '%10s\n' ratio
for t in "${TESTS[@]}"; do
    printf '%-8s' "$t"
    vals=()
    for s in $SERVERS; do
        v=$(ir "$s" "$t")
        vals+=("$v")
        printf '%12s' "$v"
    done
    if [ ${#vals[@]} -eq 2 ] && [ "${vals[1]}" -gt 0 ]; then
        awk -v a="${vals[0]}" -v b="${vals[1]}" 'BEGIN { printf "%10.3f\n", a / b }'
    else
        echo
    fi
done
