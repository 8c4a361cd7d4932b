#!/usr/bin/env bash
# default-suite.sh — redis-benchmark's default suite (no -t: PING_INLINE,
# PING_MBULK, SET, GET, INCR, LPUSH, RPUSH, LPOP, RPOP, SADD, HSET, SPOP,
# ZADD, ZPOPMIN, LRANGE_100/300/500/600, MSET), unchanged, against
# shardkv-server and redis-server 7.0 on free loopback ports, alternately
# and the same way; prints requests/s per test, the ratio and the
# geometric mean of the ratios. Both servers are always stopped (trap).
#
# usage: tests/bench/default-suite.sh [requests per run (default 100000)]
# env:   SHARDKV_BIN  directory holding shardkv-server (default build/bin)
#        PIPELINE     -P (default 16)
#        THREADS      shardkv worker threads (default 2)
#        ROUNDS       runs per server; the best per test is kept (default 1)
# A benchmark, never a pass/fail test.
set -euo pipefail
N=${1:-100000}
PIPELINE=${PIPELINE:-16}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-1}
. "$(dirname "$0")/lib.sh"

start_shardkv SKV --threads "$THREADS"
start_redis REDIS

# run PORT -> CSV lines "TEST","rps",...
run() {
    "$BENCH" -h 127.0.0.1 -p "$1" -c 50 -n "$N" -P "$PIPELINE" --csv 2>/dev/null |
        tr -d '"' | grep -v '^test,'
}

: >"$TMP/skv"
: >"$TMP/redis"
for r in $(seq "$ROUNDS"); do
    if (( r % 2 == 0 )); then
        run "$SKV_PORT" >>"$TMP/skv"
        run "$REDIS_PORT" >>"$TMP/redis"
    else
        run "$REDIS_PORT" >>"$TMP/redis"
        run "$SKV_PORT" >>"$TMP/skv"
    fi
done

printf '\nredis-benchmark default suite, -c 50 -n %s -P %s; shardkv --threads %s; best of %s\n' \
    "$N" "$PIPELINE" "$THREADS" "$ROUNDS"
awk -F, '
    FNR == NR { if ($2 + 0 > skv[$1]) skv[$1] = $2 + 0; if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } next }
    { if ($2 + 0 > red[$1]) red[$1] = $2 + 0 }
    END {
        printf "%-36s %12s %12s %7s\n", "test", "shardkv rps", "redis rps", "ratio"
        lg = 0; m = 0; low = ""
        for (i = 0; i < n; i++) {
            t = order[i]
            if (!(t in red) || red[t] == 0 || skv[t] == 0) { printf "%-36s %12.0f %12.0f %7s\n", t, skv[t], red[t], "-"; continue }
            r = skv[t] / red[t]; lg += log(r); m++
            if (r < 1.0) low = low " " t
            printf "%-36s %12.0f %12.0f %7.2f\n", t, skv[t], red[t], r
        }
        if (m) printf "geometric mean of %d ratios: %.2f; below 1.0:%s\n", m, exp(lg / m), low == "" ? " none" : low
    }' "$TMP/skv" "$TMP/redis"
