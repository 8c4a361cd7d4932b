#!/usr/bin/env bash
# evalsha.sh — scripts under load: redis-benchmark sends EVALSHA of a script
# doing GET and INCR on KEYS[1] (one key, key:__rand_int__), and of one doing
# the same on two keys (a:__rand_int__ and b:__rand_int__: with several
# shards, most pairs fall on different shards, so those scripts run across
# shards), to shardkv-server and to redis-server in the same run, at
# --threads 1 and 2. Besides requests/s it prints what one call costs the
# server: its CPU time (utime + stime from /proc/<pid>/stat, before and
# after the run) per request, for the EVALSHA and for plain GET and INCR
# runs with the same keys, so the script's price over the commands it runs
# shows beside Redis's. Both servers run side by side on free loopback
# ports, are measured alternately, and are always stopped (lib.sh's trap).
#
# usage: tests/bench/evalsha.sh [requests per run (default 200000)]
# env:   SHARDKV_BIN  directory holding shardkv-server (default build/bin)
#        THREADS_LIST shardkv worker threads to test (default "1 2")
#        PIPELINE     redis-benchmark -P (default 16)
#        CLIENTS      redis-benchmark -c (default 50)
# This is a benchmark, never a pass/fail test.
set -euo pipefail

N=${1:-200000}
THREADS_LIST=${THREADS_LIST:-"1 2"}
PIPELINE=${PIPELINE:-16}
CLIENTS=${CLIENTS:-50}
KEYSPACE=100000
. "$(dirname "$0")/lib.sh"

ONE="local v = redis.call('GET', KEYS[1]); return redis.call('INCR', KEYS[1])"
TWO="redis.call('GET', KEYS[1]); redis.call('INCR', KEYS[1]); \
redis.call('GET', KEYS[2]); return redis.call('INCR', KEYS[2])"
# run PORT PID COMMAND... -> "requests/s CPU-microseconds-per-request"
run() {
    local port=$1 pid=$2 before after rps
    shift 2
    before=$(cpu_us "$pid")
    rps=$("$BENCH" -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$N" -P "$PIPELINE" -r "$KEYSPACE" \
        --csv "$@" 2>/dev/null | tr -d '"' | awk -F, 'NR > 1 && $2 ~ /^[0-9.]+$/ { r = $2 } END { print r + 0 }')
    after=$(cpu_us "$pid")
    awk -v r="$rps" -v d="$((after - before))" -v n="$N" 'BEGIN { printf "%.0f %.2f\n", r, d / n }'
}

start_redis REDIS
SHA1=$("$CLI" -p "$REDIS_PORT" script load "$ONE")
SHA2=$("$CLI" -p "$REDIS_PORT" script load "$TWO")

# The runs, by name: what redis-benchmark sends.
declare -A CMD=(
    [evalsha1]="EVALSHA $SHA1 1 key:__rand_int__"
    [evalsha2]="EVALSHA $SHA2 2 a:__rand_int__ b:__rand_int__"
    [get]="GET key:__rand_int__"
    [incr]="INCR key:__rand_int__"
    [get2]="GET a:__rand_int__"
    [incr2]="INCR b:__rand_int__"
)
NAMES="evalsha1 get incr evalsha2 get2 incr2"

declare -A RES
i=0
for t in $THREADS_LIST; do
    start_shardkv SKV --threads "$t"
    if [ "$("$CLI" -p "$SKV_PORT" script load "$ONE")" != "$SHA1" ] ||
       [ "$("$CLI" -p "$SKV_PORT" script load "$TWO")" != "$SHA2" ]; then
        echo "$BENCH_NAME: shardkv's SCRIPT LOAD gave another SHA1 than Redis's" >&2
        exit 1
    fi
    for name in $NAMES; do
        read -r -a cmd <<<"${CMD[$name]}"
        # Alternate who goes first so a slow moment is shared fairly.
        if (( i++ % 2 == 0 )); then
            RES[skv,$t,$name]=$(run "$SKV_PORT" "$SKV_PID" "${cmd[@]}")
            RES[redis,$t,$name]=$(run "$REDIS_PORT" "$REDIS_PID" "${cmd[@]}")
        else
            RES[redis,$t,$name]=$(run "$REDIS_PORT" "$REDIS_PID" "${cmd[@]}")
            RES[skv,$t,$name]=$(run "$SKV_PORT" "$SKV_PID" "${cmd[@]}")
        fi
    done
    stop_server SKV
done

printf '\nredis-benchmark -c %s -P %s -r %s -n %s; shardkv vs redis-server %s\n' \
    "$CLIENTS" "$PIPELINE" "$KEYSPACE" "$N" \
    "$("$REDIS_SERVER" --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')"
printf '%-3s %-9s | %12s %9s | %12s %9s | %6s\n' \
    thr run "shardkv rps" "us/call" "redis rps" "us/call" ratio
printf -- '--------------+------------------------+------------------------+-------\n'
for t in $THREADS_LIST; do
    for name in $NAMES; do
        read -r srps scpu <<<"${RES[skv,$t,$name]}"
        read -r rrps rcpu <<<"${RES[redis,$t,$name]}"
        ratio=$(awk -v a="$srps" -v b="$rrps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        printf '%-3s %-9s | %12s %9s | %12s %9s | %6s\n' "$t" "$name" "$srps" "$scpu" "$rrps" "$rcpu" "$ratio"
    done
done

# The script's own price: CPU per EVALSHA minus CPU of the commands it runs.
printf '\nserver CPU per call (us): EVALSHA vs the plain commands it runs\n'
printf '%-3s %-9s | %9s %9s %9s | %9s %9s %9s\n' \
    thr script "skv eval" "skv cmds" "skv over" "rds eval" "rds cmds" "rds over"
for t in $THREADS_LIST; do
    for pair in "evalsha1:get incr" "evalsha2:get incr get2 incr2"; do
        name=${pair%%:*}
        parts=${pair#*:}
        for who in skv redis; do
            eval_cpu=$(cut -d' ' -f2 <<<"${RES[$who,$t,$name]}")
            cmds=0
            for p in $parts; do
                cmds=$(awk -v a="$cmds" -v b="$(cut -d' ' -f2 <<<"${RES[$who,$t,$p]}")" \
                    'BEGIN { printf "%.2f", a + b }')
            done
            over=$(awk -v a="$eval_cpu" -v b="$cmds" 'BEGIN { printf "%.2f", a - b }')
            printf -v "C_$who" '%9s %9s %9s' "$eval_cpu" "$cmds" "$over"
        done
        printf '%-3s %-9s | %s | %s\n' "$t" "$name" "$C_skv" "$C_redis"
    done
done
echo "(ratio = shardkv requests/s / redis requests/s; us/call = server CPU microseconds"
echo " per request, /proc utime+stime at $TICK ticks/s: coarse for short runs; the"
echo " two-key script's plain commands are GET and INCR on each of its keys)"
