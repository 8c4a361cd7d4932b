#!/bin/sh
# snapshot.sh — snapshot benchmark (not a test): 1,000,000 keys of 16 bytes
# with 32-byte values; BGSAVE repeatedly while redis-benchmark drives SET
# traffic; peak memory during the saves against memory before; write p99 and
# max latency with and without saves; time to save and to load. Runs the
# same against redis-server (fork + copy-on-write) in the same run.
#
# Usage: tests/bench/snapshot.sh [build-dir]    (default: build)
# Env:   KEYS=1000000 REQS=400000 CLIENTS=50 THREADS=0 (shardkv threads)
#        SERVERS="shardkv redis" (which to run, in order)
#        SKV_ARGS="" (more shardkv-server options, e.g. "--rdbcompression no")
# Prints one table; figures go to docs/BENCHMARKS.md ("Snapshots").
set -eu
BUILD=${1:-build}
SKV=$(realpath "${SKV:-$BUILD/bin/shardkv-server}")
REDIS=${REDIS:-/usr/bin/redis-server}
[ -x "$SKV" ] || { echo "no $SKV: build first" >&2; exit 2; }
[ -x "$REDIS" ] || { echo "no $REDIS" >&2; exit 2; }
command -v redis-benchmark >/dev/null || { echo "redis-benchmark missing" >&2; exit 2; }
exec /usr/bin/python3 - "$SKV" "$REDIS" <<'PY'
import os, re, shutil, signal, socket, subprocess, sys, tempfile, threading, time

SKV, REDIS = sys.argv[1], sys.argv[2]
NKEYS = int(os.environ.get("KEYS", "1000000"))
REQS = int(os.environ.get("REQS", "400000"))
CLIENTS = int(os.environ.get("CLIENTS", "50"))
THREADS = os.environ.get("THREADS", "0")
VAL = b"v" * 32

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def cmd(port, *args, timeout=600):
    out = subprocess.run(["redis-cli", "-p", str(port)] + [str(a) for a in args],
                         capture_output=True, timeout=timeout)
    return out.stdout.decode().strip()

class Conn:
    """One persistent RESP connection: polling through it costs the servers
    the same few microseconds per sample, where spawning redis-cli every
    sample would load the 2 CPUs the servers and the load generator share."""
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), 10)
        self.f = self.s.makefile("rb")

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        line = self.f.readline()
        if line[:1] == b"$":
            n = int(line[1:])
            return self.f.read(n + 2)[:-2].decode() if n >= 0 else None
        return line[1:].strip().decode()

    def close(self):
        self.f.close(); self.s.close()

def info(conn):
    d = {}
    for line in conn.call("INFO", "persistence").splitlines():
        if ":" in line:
            k, v = line.split(":", 1); d[k] = v.strip()
    return d

def wait_up(port, proc, timeout=120):
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if proc.poll() is not None:
            raise SystemExit("server exited: %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            if cmd(port, "PING") == "PONG":
                return time.monotonic() - t
        except OSError:
            pass
        time.sleep(0.01)
    raise SystemExit("server did not start")

def start(kind, port, d):
    if kind == "shardkv":
        argv = [SKV, "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
                "--threads", THREADS] + os.environ.get("SKV_ARGS", "").split()
    else:
        argv = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
                "--appendonly", "no"]
    log = open(os.path.join(d, "server.log"), "wb")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=d)
    return p, wait_up(port, p)

def total_kb(pid):
    """RSS of pid plus the pages private to its children (Redis's fork
    child: the copies its copy-on-write forced), in kB. Read from the
    child's smaps_rollup only: reading the server's own smaps takes its
    mmap lock and stalls its page faults (measured: SET p99 0.86 -> 2.2 ms
    with a 20 ms poller), which /proc/PID/status does not."""
    total = rss_kb(pid)
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        kids = []
    for k in kids:
        try:
            with open("/proc/%d/smaps_rollup" % k) as f:
                for line in f:
                    if line.startswith(("Private_Clean:", "Private_Dirty:")):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total

def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def fill(port):
    p = subprocess.Popen(["redis-cli", "-p", str(port), "--pipe"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL)
    buf = []
    for i in range(NKEYS):
        k = b"key:%012d" % i          # 16 bytes, redis-benchmark's -r key shape
        buf.append(b"*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$32\r\n%s\r\n" % (k, VAL))
        if len(buf) == 10000:
            p.stdin.write(b"".join(buf)); buf = []
    p.stdin.write(b"".join(buf)); p.stdin.close(); p.wait()

def bench(port):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(REQS),
                          "-r", str(NKEYS), "-d", "32", "-c", str(CLIENTS), "--csv"],
                         capture_output=True, timeout=900).stdout.decode()
    for line in out.splitlines():
        if line.startswith('"SET"'):
            f = [x.strip('"') for x in line.split(",")]
            return {"rps": float(f[1]), "p99": float(f[6]), "max": float(f[7])}
    raise SystemExit("no redis-benchmark result: %s" % out)

POLL_S = 0.02     # sampling period, with and without saves alike

def sample(conn, pid, peak):
    """One monitoring sample: INFO persistence plus the memory figures."""
    i = info(conn)
    peak[0] = max(peak[0], total_kb(pid)); peak[1] = max(peak[1], rss_kb(pid))
    return i

def bgsave_once(conn, pid, peak):
    saves = int(info(conn).get("rdb_saves", "0") or 0)
    t = time.monotonic()
    r = conn.call("BGSAVE")
    if "started" not in r:
        raise SystemExit("BGSAVE: %s" % r)
    while True:
        i = sample(conn, pid, peak)
        if i["rdb_bgsave_in_progress"] == "0" and i.get("rdb_last_bgsave_status") == "ok" and \
                (i.get("rdb_saves") is None or int(i["rdb_saves"]) > saves):
            return time.monotonic() - t
        time.sleep(POLL_S)

def bench_sampled(port, pid, conn, peak, bgsave):
    """The SET benchmark with the monitoring loop running the whole time, so
    the runs with and without saves differ only by the saves."""
    res = {}
    th = threading.Thread(target=lambda: res.update(bench(port)))
    th.start()
    time.sleep(0.2)
    times = []
    while th.is_alive():
        if bgsave:
            times.append(bgsave_once(conn, pid, peak))
        else:
            sample(conn, pid, peak); time.sleep(POLL_S)
    th.join()
    return res, times

def run(kind):
    d = tempfile.mkdtemp(prefix="snapbench-")
    port = free_port()
    p, _ = start(kind, port, d)
    try:
        fill(port)
        conn = Conn(port)
        base, _ = bench_sampled(port, p.pid, conn, [0, 0], False)   # no save
        time.sleep(1)
        # "Before": after the same traffic without saves, so connection
        # buffers and allocator caches are already counted.
        before_pss, before_rss = total_kb(p.pid), rss_kb(p.pid)
        # Idle save: time to save alone.
        peak = [0, 0]
        idle_save = bgsave_once(conn, p.pid, peak)
        # Saves back to back for the whole benchmark run.
        peak = [total_kb(p.pid), rss_kb(p.pid)]
        res, save_times = bench_sampled(port, p.pid, conn, peak, True)
        saves = len(save_times)
        conn.close()
        size = os.path.getsize(os.path.join(d, "dump.rdb"))
        after_rss = rss_kb(p.pid)
        cmd(port, "SHUTDOWN", "NOSAVE")
        p.wait(60)
        # Load time: restart on the file.
        p, up = start(kind, port, d)
        loaded = cmd(port, "DBSIZE")
        log = open(os.path.join(d, "server.log")).read()
        m = re.findall(r"DB loaded from disk: ([0-9.]+) seconds", log)
        load_s = float(m[-1]) if m else float("nan")
        cmd(port, "SHUTDOWN", "NOSAVE")
        p.wait(60)
        return {"kind": kind, "rss_before_mb": before_rss / 1024, "pss_before_mb": before_pss / 1024,
                "peak_rss_mb": peak[1] / 1024, "peak_pss_mb": peak[0] / 1024,
                "after_rss_mb": after_rss / 1024,
                "base": base, "during": res, "saves": saves,
                "save_s": idle_save, "save_busy_s": sum(save_times) / max(1, len(save_times)),
                "load_s": load_s, "start_s": up, "keys_loaded": loaded, "file_mb": size / 1e6}
    finally:
        if p.poll() is None:
            p.kill(); p.wait()
        shutil.rmtree(d, ignore_errors=True)

rows = [run(k) for k in os.environ.get("SERVERS", "shardkv redis").split()]
print("keys=%d value=32B key=16B requests=%d clients=%d" % (NKEYS, REQS, CLIENTS))
hdr = ("server", "RSS before", "peak RSS", "ratio", "total before", "peak total(+child)", "ratio",
       "p99 no save", "p99 saving", "ratio", "max no save", "max saving", "SET/s no save",
       "SET/s saving", "saves", "save idle s", "save busy s", "load s", "file MB")
print(" | ".join(hdr))
for r in rows:
    b, s = r["base"], r["during"]
    print(" | ".join([
        r["kind"], "%.1f MB" % r["rss_before_mb"], "%.1f MB" % r["peak_rss_mb"],
        "%.3f" % (r["peak_rss_mb"] / r["rss_before_mb"]), "%.1f MB" % r["pss_before_mb"],
        "%.1f MB" % r["peak_pss_mb"], "%.3f" % (r["peak_pss_mb"] / r["pss_before_mb"]),
        "%.3f ms" % b["p99"], "%.3f ms" % s["p99"], "%.2f" % (s["p99"] / b["p99"]),
        "%.3f ms" % b["max"], "%.3f ms" % s["max"], "%.0f" % b["rps"], "%.0f" % s["rps"],
        str(r["saves"]), "%.3f" % r["save_s"], "%.3f" % r["save_busy_s"], "%.3f" % r["load_s"],
        "%.1f" % r["file_mb"]]))
    print("  %s: RSS after the saves %.1f MB" % (r["kind"], r["after_rss_mb"]))
    if r["keys_loaded"] != str(NKEYS):
        print("WARNING: %s loaded %s keys" % (r["kind"], r["keys_loaded"]))
PY
