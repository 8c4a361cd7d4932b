#!/usr/bin/python3
"""Hit rate of a cache at the same memory bound, shardkv against
redis-server 7.0 (issue 14): maxmemory 100 MB, allkeys-lru and allkeys-lfu,
a key space of 4M keys with 32-byte values, read by a cache-aside client
(GET, and SET of the key on a miss: shardkv-bench --cache-aside, pipelined)
with a Zipf(0.99) and a uniform key distribution. Per policy and
distribution both servers start fresh with the same settings; each gets the
same warm-up: every key of the key space SET once, in key order (so the
cache is full at the bound, as a cache in service is; the hottest keys are
written first, so LRU starts with them evicted), then WARMUP x keys
cache-aside GETs; then MEASURE x keys GETs are counted: the hit rate (GETs
answered with a value), the keys resident (DBSIZE) and used_memory after
the run. The servers run one after the other, the order
alternating, and the load generator is the same binary for both.
A benchmark, never a pass/fail test; targets: hit rate above Redis's on
both distributions, keys resident >= 1.8x Redis's.

usage: cache_hitrate.py
env:   SHARDKV_BIN  directory holding shardkv-server and shardkv-bench
                    (default build/bin)
       SCALE        multiplies the key space and maxmemory (default 1.0;
                    0.1 is a quick run: 400k keys, 10 MB)
       WARMUP       warm-up GETs per key of the key space (default 0.5)
       MEASURE      measured GETs per key of the key space (default 0.5)
       POLICIES     default "allkeys-lru allkeys-lfu"
       DISTS        default "zipf:0.99 uniform"
       THREADS      shardkv worker threads (default 2)
       PIPELINE, CONNECTIONS   of the load generator (default 64, 8)
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402

KEYS = 4_000_000
MAXMEMORY = 100 * 1024 * 1024  # Redis's "100mb"


def env_float(name, default):
    return float(os.environ.get(name, default))


def bench(port, keys, dist, gets, prefill=False):
    """One shardkv-bench --cache-aside run of gets GETs (after SETting every
    key once with prefill); its JSON result."""
    argv = [os.path.join(skvtest.bin_dir(), "shardkv-bench"), "--port", str(port),
            "--cache-aside", "--keys", str(keys), "--distribution", dist,
            "--requests", str(gets), "--pipeline", os.environ.get("PIPELINE", "64"),
            "--connections", os.environ.get("CONNECTIONS", "8"), "--threads", "1",
            "--value-size", "32", "--json", "--quiet"] + (["--prefill"] if prefill else [])
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
    if p.returncode != 0:
        raise RuntimeError("shardkv-bench failed: %s" % p.stderr.decode())
    r = json.loads(p.stdout.decode().strip().splitlines()[-1])
    if r["errors"] or r["failed"]:
        raise RuntimeError("shardkv-bench: %d errors" % r["errors"])
    return r


def info(c, section):
    return skvtest.parse_info(c.call("INFO", section))[section]


def measure(srv, keys, dist, warmup, gets):
    """Warm srv up, then measure; returns the figures of the measured run."""
    t0 = time.monotonic()
    bench(srv.port, keys, dist, warmup, prefill=True)
    t1 = time.monotonic()
    with srv.client() as c:
        before = info(c, "stats")
        r = bench(srv.port, keys, dist, gets)
        after = info(c, "stats")
        dbsize = c.call("DBSIZE")
        mem = info(c, "memory")
    # The server's own count, a cross-check (-1: INFO has no keyspace_hits).
    server_hit_rate = -1.0
    if "keyspace_hits" in after:
        hits = int(after["keyspace_hits"]) - int(before["keyspace_hits"])
        misses = int(after["keyspace_misses"]) - int(before["keyspace_misses"])
        server_hit_rate = hits / (hits + misses) if hits + misses else 0.0
    return {
        "hit_rate": r["hit_rate"],
        "server_hit_rate": server_hit_rate,
        "keys": dbsize,
        "used_memory": int(mem["used_memory"]),
        # shardkv's maps (bucket arrays included, which are mapped outside
        # the allocator and so missing from used_memory): what its bound
        # counts besides the rest of the process.
        "maps": int(mem.get("used_memory_shards", -1)),
        "evicted": int(after.get("evicted_keys", -1)),
        "ops": r["ops_per_sec"],
        "warmup_s": t1 - t0,
        "measure_s": r["seconds"],
    }


def main():
    if os.environ.get("SHARDKV_BIN"):  # the servers run in their own directories
        os.environ["SHARDKV_BIN"] = os.path.abspath(os.environ["SHARDKV_BIN"])
    scale = env_float("SCALE", 1.0)
    keys = max(1000, int(KEYS * scale))
    maxmemory = max(1 << 20, int(MAXMEMORY * scale))
    warmup = int(keys * env_float("WARMUP", 0.5))
    gets = int(keys * env_float("MEASURE", 0.5))
    policies = os.environ.get("POLICIES", "allkeys-lru allkeys-lfu").split()
    dists = os.environ.get("DISTS", "zipf:0.99 uniform").split()
    threads = os.environ.get("THREADS", "2")
    common = ["--maxmemory", str(maxmemory)]

    print("cache-aside hit rate: %d keys x 32 B values, maxmemory %d B, warm-up: %d SETs "
          "then %d GETs, measured %d GETs; shardkv --threads %s vs redis-server %s"
          % (keys, maxmemory, keys, warmup, gets, threads,
             subprocess.run(["/usr/bin/redis-server", "--version"], stdout=subprocess.PIPE)
             .stdout.decode().split("v=")[1].split()[0]), flush=True)
    rows = []
    run = 0
    for policy in policies:
        for dist in dists:
            res = {}
            order = ["shardkv", "redis"] if run % 2 == 0 else ["redis", "shardkv"]
            run += 1
            for who in order:
                args = common + ["--maxmemory-policy", policy]
                if who == "shardkv":
                    srv = skvtest.ShardkvServer(["--threads", threads, "--loglevel", "warning"]
                                                + args)
                else:
                    srv = skvtest.RedisServer(args)
                with srv:
                    res[who] = measure(srv, keys, dist, warmup, gets)
                print("  %-12s %-10s %-8s hit %.4f (server %.4f) keys %9d used %10d maps %10d "
                      "evicted %9d  %7.0f ops/s  warm-up %.1f s, measured %.1f s"
                      % (policy, dist, who, res[who]["hit_rate"], res[who]["server_hit_rate"],
                         res[who]["keys"], res[who]["used_memory"], res[who]["maps"],
                         res[who]["evicted"],
                         res[who]["ops"], res[who]["warmup_s"], res[who]["measure_s"]),
                      flush=True)
            rows.append((policy, dist, res))

    print()
    print("%-12s %-10s | %8s %8s %6s | %10s %10s %6s" % (
        "policy", "dist", "skv hit", "redis", "diff", "skv keys", "redis keys", "ratio"))
    print("-" * 84)
    for policy, dist, res in rows:
        s, r = res["shardkv"], res["redis"]
        print("%-12s %-10s | %8.4f %8.4f %+6.3f | %10d %10d %6.2f" % (
            policy, dist, s["hit_rate"], r["hit_rate"], s["hit_rate"] - r["hit_rate"],
            s["keys"], r["keys"], s["keys"] / r["keys"] if r["keys"] else 0.0))
    print("(hit = GETs answered with a value / GETs, counted by the client; diff = shardkv - "
          "redis; ratio = keys resident shardkv / redis)")


if __name__ == "__main__":
    main()
