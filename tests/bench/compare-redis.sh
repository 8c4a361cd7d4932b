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
# Also prints, per server and depth, CPU microseconds per request of the
# server and of the client (redis-benchmark) over all rounds: at -P 1 the
# client's CPU is full and the ratio measures it.
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

# run WHO PIPELINE -> CSV lines: "SET","rps","avg","min","p50","p95","p99","max";
# adds the server's and the client's CPU time to CPU[WHO,PIPELINE,srv|cli].
declare -A CPU
run() {
    local port pid s0 c0 c1
    if [ "$1" = skv ]; then port=$SKV_PORT pid=$SKV_PID; else port=$REDIS_PORT pid=$REDIS_PID; fi
    s0=$(cpu_us "$pid")
    children_cpu_us c0
    "$BENCH" -h 127.0.0.1 -p "$port" -c 50 -r 100000 -d 32 -t "$TESTS" -n "$N" -P "$2" --csv \
        2>/dev/null | tr -d '"' | grep -E "$TEST_RE" >>"$TMP/$1.$2"
    CPU[$1,$2,srv]=$((${CPU[$1,$2,srv]:-0} + $(cpu_us "$pid") - s0))
    children_cpu_us c1
    CPU[$1,$2,cli]=$((${CPU[$1,$2,cli]:-0} + c1 - c0))
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
            run skv "$p"
            run redis "$p"
        else
            run redis "$p"
            run skv "$p"
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
NTESTS=$(echo "$TEST_NAMES" | wc -w)
printf '\nCPU us per request over all rounds (server / client):\n'
for p in $PIPELINES; do
    for who in skv redis; do
        awk -v w="$who" -v p="$p" -v s="${CPU[$who,$p,srv]}" -v c="${CPU[$who,$p,cli]}" \
            -v n="$((N * ROUNDS * NTESTS))" 'BEGIN { printf "  -P %-3s %-6s %.3f / %.3f\n", p, w, s / n, c / n }'
    done
done
