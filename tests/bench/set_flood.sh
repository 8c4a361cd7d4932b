#!/usr/bin/env bash
# set_flood.sh — a SET flood at the memory bound, where every SET evicts
# (issue 14): shardkv-server against redis-server 7.0, both with
# maxmemory MAXMEMORY and allkeys-lru, the same redis-benchmark run
# (-t set -r 100000000 -P 16 -d 32 -c 50: nearly every SET a new key).
# Each server is first filled to the bound by one unmeasured run, then
# measured. For the p99 without eviction, a fresh server without maxmemory
# holds as many keys as that server held at the bound and the same flood
# overwrites them (-r that many keys; again one unmeasured run first): the
# same table size and the same requests, minus the evictions. Servers run
# one at a time, the order alternating per round, on free loopback ports,
# always stopped (trap).
# Figures: the median of ROUNDS rounds of requests/s and p99, and of the
# server's CPU time and run-queue wait per request (sched_us: with more
# busy threads than cores, the wait is the scheduler's share of p99).
#
# usage: tests/bench/set_flood.sh [requests per run (default 1000000)]
# env:   SHARDKV_BIN  directory holding shardkv-server (default build/bin)
#        MAXMEMORY    the bound (default 16mb)
#        ROUNDS       rounds (default 3)
#        THREADS      shardkv worker threads (default 2)
# Targets: shardkv/redis requests/s at the bound >= 1.0; shardkv's p99 at
# the bound <= 1.5x its p99 without eviction. A benchmark, never a test.
set -euo pipefail

N=${1:-1000000}
MAXMEMORY=${MAXMEMORY:-16mb}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
. "$(dirname "$0")/lib.sh"

# flood PORT N KEYSPACE -> "rps p50 p99" of one redis-benchmark SET run
flood() {
    "$BENCH" -h 127.0.0.1 -p "$1" -c 50 -P 16 -r "$3" -d 32 -t set -n "$2" --csv 2>/dev/null \
        | tr -d '"' | awk -F, '$1 == "SET" { print $2, $5, $7 }'
}

declare -A HELD # keys each server held at the bound in this round

# one WHO MODE: a fresh server (MODE bound: maxmemory, -r 100000000; free:
# no maxmemory, -r what WHO held at the bound), one unmeasured run to fill
# it, one measured; appends "rps p50 p99 evicted keys" to $TMP/WHO.MODE.
one() {
    local who=$1 mode=$2 opts=() port evicted keys space=100000000
    if [ "$mode" = bound ]; then
        opts=(--maxmemory "$MAXMEMORY" --maxmemory-policy allkeys-lru)
    else
        space=${HELD[$who]}
    fi
    if [ "$who" = skv ]; then
        start_shardkv S --threads "$THREADS" "${opts[@]}"
    else
        start_redis S "${opts[@]}"
    fi
    port=$S_PORT
    flood "$port" "$N" "$space" >/dev/null
    local before run0 wait0 run1 wait1
    before=$("$CLI" -p "$port" info stats | tr -d '\r' | awk -F: '$1 == "evicted_keys" { print $2 }')
    read -r run0 wait0 < <(sched_us "$S_PID")
    read -r rps p50 p99 < <(flood "$port" "$N" "$space")
    read -r run1 wait1 < <(sched_us "$S_PID")
    evicted=$("$CLI" -p "$port" info stats | tr -d '\r' | awk -F: '$1 == "evicted_keys" { print $2 }')
    keys=$("$CLI" -p "$port" dbsize)
    stop_server S
    [ "$mode" = bound ] && HELD[$who]=$keys
    local run wait
    read -r run wait < <(awk -v r0="$run0" -v r1="$run1" -v w0="$wait0" -v w1="$wait1" -v n="$N" \
        'BEGIN { printf "%.2f %.2f\n", (r1 - r0) / n, (w1 - w0) / n }')
    echo "$rps $p50 $p99 $((evicted - before)) $keys $run $wait" >>"$TMP/$who.$mode"
    printf '  %-5s %-5s %10.0f rps  p50 %6s  p99 %6s ms  evicted %8d  keys %8d  run %s  wait %s us/req\n' \
        "$who" "$mode" "$rps" "$p50" "$p99" "$((evicted - before))" "$keys" "$run" "$wait"
}

# median FILE COLUMN
median() {
    awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "SET flood: redis-benchmark -t set -r 100000000 -P 16 -d 32 -c 50 -n $N; maxmemory $MAXMEMORY" \
     "allkeys-lru; shardkv --threads $THREADS vs redis-server" \
     "$("$REDIS_SERVER" --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p'); $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
    if (( r % 2 )); then order="skv redis"; else order="redis skv"; fi
    for mode in bound free; do
        for who in $order; do
            one "$who" "$mode"
        done
    done
done

printf '\nmedians of %s rounds:\n' "$ROUNDS"
printf '%-8s | %12s %8s %8s %11s | %12s %8s %11s | %10s\n' server "bound rps" "p99 ms" "evicted" \
    "run/wait us" "free rps" "p99 ms" "run/wait us" "p99 ratio"
for who in skv redis; do
    brps=$(median "$TMP/$who.bound" 1); bp99=$(median "$TMP/$who.bound" 3)
    bev=$(median "$TMP/$who.bound" 4)
    bsched="$(median "$TMP/$who.bound" 6)/$(median "$TMP/$who.bound" 7)"
    frps=$(median "$TMP/$who.free" 1); fp99=$(median "$TMP/$who.free" 3)
    fsched="$(median "$TMP/$who.free" 6)/$(median "$TMP/$who.free" 7)"
    printf '%-8s | %12.0f %8s %8s %11s | %12.0f %8s %11s | %10s\n' "$who" "$brps" "$bp99" "$bev" \
        "$bsched" "$frps" "$fp99" "$fsched" \
        "$(awk -v a="$bp99" -v b="$fp99" 'BEGIN { printf "%.2f", a / b }')"
done
echo "throughput at the bound, shardkv / redis: $(awk -v a="$(median "$TMP/skv.bound" 1)" \
    -v b="$(median "$TMP/redis.bound" 1)" 'BEGIN { printf "%.2f", a / b }')"
echo "(p99 ratio = p99 at the bound / p99 overwriting as many keys without maxmemory, same server;"
echo " the client shares the machine; run/wait: the server's threads' time on a CPU and time"
echo " runnable but waiting for one, per request, from the kernel's schedstat)"
