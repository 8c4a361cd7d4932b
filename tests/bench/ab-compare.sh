#!/usr/bin/env bash
# ab-compare.sh — two shardkv-server builds and redis-server 7.0 under the
# same redis-benchmark runs (SET and GET, 50 clients, 100,000 random keys,
# 32-byte values), interleaved round by round in rotating order, so that
# the drift of this noisy machine hits all three alike. Prints the median
# requests/s of each, the ratios, and each server's CPU time per request
# (utime + stime from /proc over all its rounds), the steadier figure here.
# All three servers listen on free loopback ports and are always stopped.
#
# usage: tests/bench/ab-compare.sh OLD_BIN_DIR NEW_BIN_DIR
# env:   PIPELINE (default 16), THREADS (default 2), ROUNDS (default 9),
#        REQUESTS per run (default 300000)
# Build an old commit with: git worktree add /tmp/old <commit> &&
#   cmake -S /tmp/old -B /tmp/old/b -DCMAKE_BUILD_TYPE=Release -DSKV_TESTS=OFF &&
#   cmake --build /tmp/old/b   (then OLD_BIN_DIR is /tmp/old/b/bin)
# This is a benchmark, never a pass/fail test.
set -euo pipefail
[ $# -eq 2 ] || { sed -n 2,16p "$0" >&2; exit 2; }
OLD=$1/shardkv-server
NEW=$2/shardkv-server
P=${PIPELINE:-16}
T=${THREADS:-2}
R=${ROUNDS:-9}
N=${REQUESTS:-300000}
for exe in "$OLD" "$NEW" /usr/bin/redis-server /usr/bin/redis-benchmark; do
    [ -x "$exe" ] || { echo "ab-compare: $exe not found" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/skv-ab-XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
declare -A PORT PID
start() { # name argv...
    local name=$1 port
    shift
    port=$(free_port)
    "$@" --port "$port" --bind 127.0.0.1 >"$TMP/$name.log" 2>&1 &
    PIDS+=($!)
    PID[$name]=$!
    PORT[$name]=$port
    for _ in $(seq 100); do
        [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    echo "ab-compare: $name did not start" >&2
    cat "$TMP/$name.log" >&2
    exit 1
}
start old "$OLD" --threads "$T" --loglevel warning
start new "$NEW" --threads "$T" --loglevel warning
start redis /usr/bin/redis-server --save '' --appendonly no --dir "$TMP" --loglevel warning
cpu() { awk '{print $14 + $15}' "/proc/${PID[$1]}/stat"; }
declare -A CPU0
for s in old new redis; do CPU0[$s]=$(cpu $s); done
run() { # name -> "SET GET" requests/s
    redis-benchmark -p "${PORT[$1]}" -c 50 -r 100000 -d 32 -t set,get -n "$N" -P "$P" --csv \
        2>/dev/null | tr -d '"' | awk -F, '/^SET,/{s=$2} /^GET,/{g=$2} END {printf "%d %d\n", s, g}'
}
order=(old new redis)
for r in $(seq "$R"); do
    for i in 0 1 2; do
        s=${order[$(((r + i) % 3))]}
        echo "$s $(run "$s")" >>"$TMP/rows"
    done
done
declare -A TICKS
for s in old new redis; do TICKS[$s]=$(($(cpu $s) - CPU0[$s])); done
HZ=$(getconf CLK_TCK)
printf '\nredis-benchmark -c 50 -r 100000 -d 32 -t set,get -n %s -P %s; shardkv --threads %s; %s rounds\n' \
    "$N" "$P" "$T" "$R"
/usr/bin/python3 - "$TMP/rows" "$HZ" "$((2 * N * R))" "${TICKS[old]}" "${TICKS[new]}" \
    "${TICKS[redis]}" <<'EOF'
import statistics, sys
rows, hz, nreq = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ticks = dict(zip(("old", "new", "redis"), map(int, sys.argv[4:7])))
runs = {}
for line in open(rows):
    name, s, g = line.split()
    runs.setdefault(name, []).append((int(s), int(g)))
med = {k: [statistics.median(x[i] for x in v) for i in (0, 1)] for k, v in runs.items()}
print("%-6s %12s %12s %14s %14s %12s" % ("server", "SET rps", "GET rps", "SET / redis", "GET / redis",
                                          "CPU us/req"))
for k in ("old", "new", "redis"):
    print("%-6s %12d %12d %14.2f %14.2f %12.3f" % (k, med[k][0], med[k][1], med[k][0] / med["redis"][0],
                                                  med[k][1] / med["redis"][1],
                                                  ticks[k] / hz * 1e6 / nreq))
print("new / old: SET %.3f, GET %.3f requests/s; CPU per request %.3f"
      % (med["new"][0] / med["old"][0], med["new"][1] / med["old"][1],
         ticks["new"] / max(ticks["old"], 1)))
EOF
