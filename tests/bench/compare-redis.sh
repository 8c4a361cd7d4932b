#!/usr/bin/env bash
# compare-redis.sh — shardkv-server --threads 2 against redis-server 7.0 with
# the same redis-benchmark runs (SET and GET, 50 clients, 100,000 random keys,
# 32-byte values) at pipeline depths 1, 16 and 64. The two servers run side by
# side on free loopback ports and are measured alternately, so background load
# on the machine hits both alike; both are always stopped (trap).
#
# usage: tests/bench/compare-redis.sh [requests per run (default 200000)]
# env:   SHARDKV_BIN  directory holding shardkv-server (default build/bin)
#        ROUNDS       runs per server and depth; the best is kept (default 1)
#        PIPELINES    depths to test (default "1 16 64")
#        THREADS      shardkv worker threads (default 2)
#        TESTS        redis-benchmark tests (default "set,get"; e.g. "hset,sadd,spop")
# This is a benchmark, never a pass/fail test.
set -euo pipefail

N=${1:-200000}
ROUNDS=${ROUNDS:-1}
PIPELINES=${PIPELINES:-"1 16 64"}
THREADS=${THREADS:-2}
TESTS=${TESTS:-set,get}
# The CSV names of those tests: upper case, in order.
TEST_NAMES=$(echo "$TESTS" | tr 'a-z,' 'A-Z ')
TEST_RE="^($(echo "$TEST_NAMES" | tr ' ' '|')),"
. "$(dirname "$0")/lib.sh"

start_shardkv SKV --threads "$THREADS"
start_redis REDIS

# run PORT PIPELINE -> CSV lines: "SET","rps","avg","min","p50","p95","p99","max"
run() {
    "$BENCH" -h 127.0.0.1 -p "$1" -c 50 -r 100000 -d 32 -t "$TESTS" -n "$N" -P "$2" --csv 2>/dev/null \
        | tr -d '"' | grep -E "$TEST_RE"
}

# best RESULTS: keep, per test, the line with the highest requests/s.
best() {
    sort -t, -k1,1 -k2,2gr | awk -F, '!seen[$1]++'
}

declare -A RES
round=0
for p in $PIPELINES; do
    : >"$TMP/skv.$p"
    : >"$TMP/redis.$p"
    for r in $(seq "$ROUNDS"); do
        # Alternate who goes first so a slow moment is shared fairly.
        if (( (round + r) % 2 == 0 )); then
            run "$SKV_PORT" "$p" >>"$TMP/skv.$p"
            run "$REDIS_PORT" "$p" >>"$TMP/redis.$p"
        else
            run "$REDIS_PORT" "$p" >>"$TMP/redis.$p"
            run "$SKV_PORT" "$p" >>"$TMP/skv.$p"
        fi
    done
    round=$((round + 1))
    for who in skv redis; do
        while IFS=, read -r test rps avg min p50 p95 p99 max; do
            RES[$who,$p,$test]="$rps $p50 $p99"
        done < <(best <"$TMP/$who.$p")
    done
done

printf '\nredis-benchmark -c 50 -r 100000 -d 32 -n %s, shardkv --threads %s vs redis-server %s; best of %s\n' \
    "$N" "$THREADS" "$("$REDIS_SERVER" --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')" "$ROUNDS"
printf '%-4s %-4s | %12s %8s %8s | %12s %8s %8s | %6s\n' \
    test P "shardkv rps" "p50 ms" "p99 ms" "redis rps" "p50 ms" "p99 ms" ratio
printf -- '----------+-------------------------------+-------------------------------+-------\n'
for p in $PIPELINES; do
    for test in $TEST_NAMES; do
        read -r srps sp50 sp99 <<<"${RES[skv,$p,$test]:-0 - -}"
        read -r rrps rp50 rp99 <<<"${RES[redis,$p,$test]:-0 - -}"
        ratio=$(awk -v a="$srps" -v b="$rrps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        printf '%-4s %-4s | %12.0f %8s %8s | %12.0f %8s %8s | %6s\n' \
            "$test" "$p" "$srps" "$sp50" "$sp99" "$rrps" "$rp50" "$rp99" "$ratio"
    done
done
echo "(ratio = shardkv requests/s / redis requests/s; the benchmark client shares the machine)"
