# lib.sh — shared pieces of the shell benchmarks (sourced, not run):
# servers on free loopback ports that are always stopped (an EXIT trap),
# and waiting for them to answer. Sourcing sets REPO, SKV, REDIS_SERVER,
# BENCH, CLI and TMP (a scratch directory removed at exit) and checks that
# the binaries exist; cpu_us reads a process's CPU time, children_cpu_us
# the load generator's.
# env: SHARDKV_BIN (default build/bin), REDIS_SERVER, REDIS_BENCHMARK, REDIS_CLI

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${SHARDKV_BIN:-$REPO/build/bin}
SKV=$BIN/shardkv-server
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
BENCH=${REDIS_BENCHMARK:-/usr/bin/redis-benchmark}
CLI=${REDIS_CLI:-/usr/bin/redis-cli}
BENCH_NAME=$(basename "$0" .sh)

for exe in "$SKV" "$REDIS_SERVER" "$BENCH" "$CLI"; do
    [ -x "$exe" ] || { echo "$BENCH_NAME: $exe not found (build first / install redis-tools)" >&2; exit 2; }
done

TMP=$(mktemp -d "/tmp/skv-$BENCH_NAME-XXXXXX")
PIDS=()

# Stop one server: TERM, up to 5 s, then KILL.
stop_pid() {
    kill "$1" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid"
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ready() { # port name logfile
    for _ in $(seq 100); do
        [ "$("$CLI" -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    echo "$BENCH_NAME: $2 did not start; log:" >&2
    cat "$3" >&2
    exit 1
}

# start_shardkv VAR [server options...]: start shardkv-server on a free
# port, wait until it answers; VAR_PORT and VAR_PID are set.
start_shardkv() {
    local var=$1 port log
    shift
    port=$(free_port)
    log="$TMP/$var.log"
    "$SKV" --port "$port" --bind 127.0.0.1 --loglevel warning "$@" >"$log" 2>&1 &
    PIDS+=($!)
    printf -v "${var}_PID" '%s' "$!"
    printf -v "${var}_PORT" '%s' "$port"
    wait_ready "$port" shardkv-server "$log"
}

# start_redis VAR [server options...]: the same for redis-server, without
# persistence.
start_redis() {
    local var=$1 port log
    shift
    port=$(free_port)
    log="$TMP/$var.log"
    mkdir -p "$TMP/$var.dir"
    "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$TMP/$var.dir" --loglevel warning "$@" >"$log" 2>&1 &
    PIDS+=($!)
    printf -v "${var}_PID" '%s' "$!"
    printf -v "${var}_PORT" '%s' "$port"
    wait_ready "$port" redis-server "$log"
}

# stop_server VAR: stop a server started by start_shardkv/start_redis.
stop_server() {
    local pidvar="${1}_PID" keep=() pid
    stop_pid "${!pidvar}"
    for pid in "${PIDS[@]}"; do
        [ "$pid" = "${!pidvar}" ] || keep+=("$pid")
    done
    PIDS=("${keep[@]}")
}

# children_cpu_us VAR: set VAR to the user + system CPU time of this
# shell's waited-for children (and theirs) so far, in microseconds (bash's
# times, second line; run in this shell, not a $(...) subshell, whose
# children would be its own).
children_cpu_us() {
    times >"$TMP/.times"
    printf -v "$1" '%s' "$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/);
        printf "%.0f", ((u[1] + s[1]) * 60 + u[2] + s[2]) * 1000000 }' "$TMP/.times")"
}

# sched_us PID: "run wait" summed over the process's threads so far, in
# microseconds: time on a CPU, and time runnable but waiting for one (the
# kernel's schedstat). Where the server's threads and the load generator
# are more busy threads than the machine has cores, the wait is latency
# the server did not cause.
sched_us() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null |
        awk '{ r += $1; w += $2 } END { printf "%.0f %.0f\n", r / 1000, w / 1000 }'
}

# cpu_us PID: the process's user + system CPU time so far, in microseconds.
# (/proc/PID/stat: utime and stime are fields 14 and 15, the 12th and 13th
# after the command name's closing parenthesis.)
TICK=$(getconf CLK_TCK)
cpu_us() {
    local rest
    rest=$(sed 's/.*) //' "/proc/$1/stat")
    awk -v t="$TICK" '{ printf "%.0f\n", ($12 + $13) * 1000000 / t }' <<<"$rest"
}
