#!/usr/bin/python3
"""Memory per element of hashes and sets, shardkv against redis-server 7.0
on the same data, one data set at a time on fresh servers: the growth of
the process's resident set (VmRSS) while the data set is written, divided by
its elements. A benchmark, never a pass/fail test.

Data sets (the issue's): 100,000 hashes x 10 fields (6-byte fields, 16-byte
values); one hash of 1,000,000 fields (9-byte fields, 16-byte values); one
set of 1,000,000 16-byte strings; one set of 1,000,000 integers.

usage: type_memory.py [--scale 1.0] [--threads 1]
env:   SHARDKV_BIN directory holding shardkv-server (default build/bin)
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402

BATCH = 1000  # commands per pipeline
ARGS_PER_CMD = 100  # elements per HSET/SADD on the big containers


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def small_hashes(n):
    for i in range(n):
        args = ["HSET", "h:%08d" % i]
        for j in range(10):
            args += ["fld%03d" % j, "v%015d" % (i * 10 + j)]
        yield args, 10


def big_hash(n):
    for i in range(0, n, ARGS_PER_CMD):
        args = ["HSET", "bighash"]
        for j in range(i, min(n, i + ARGS_PER_CMD)):
            args += ["f%08d" % j, "v%015d" % j]
        yield args, min(n, i + ARGS_PER_CMD) - i


def string_set(n):
    for i in range(0, n, ARGS_PER_CMD):
        yield (["SADD", "strset"] + ["member:%09d" % j for j in range(i, min(n, i + ARGS_PER_CMD))],
               min(n, i + ARGS_PER_CMD) - i)


def int_set(n):
    for i in range(0, n, ARGS_PER_CMD):
        yield (["SADD", "intset"] + [str(j * 7) for j in range(i, min(n, i + ARGS_PER_CMD))],
               min(n, i + ARGS_PER_CMD) - i)


def load(srv, gen):
    c = srv.client()
    c.call("PING")
    time.sleep(0.3)
    before = rss(srv.proc.pid)
    elements = 0
    batch = []
    for args, n in gen:
        batch.append(args)
        elements += n
        if len(batch) == BATCH:
            c.pipeline(batch)
            batch = []
    if batch:
        c.pipeline(batch)
    c.call("PING")
    time.sleep(0.3)
    after = rss(srv.proc.pid)
    c.close()
    return (after - before) / elements, elements


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of each data set")
    ap.add_argument("--threads", default="1")
    a = ap.parse_args()
    sets = [("100k hashes x 10 fields", small_hashes, 100000),
            ("1 hash of 1M fields", big_hash, 1000000),
            ("1 set of 1M 16-byte strings", string_set, 1000000),
            ("1 set of 1M integers", int_set, 1000000)]
    print("%-30s %10s %14s %14s %7s" % ("data set", "elements", "shardkv B/el", "redis B/el",
                                        "ratio"))
    for name, gen, n in sets:
        n = max(1, int(n * a.scale))
        if gen is small_hashes:
            n = max(1, n)
        with skvtest.ShardkvServer(args=("--threads", a.threads)) as s:
            sk, elements = load(s, gen(n))
        with skvtest.RedisServer() as r:
            rd, _ = load(r, gen(n))
        print("%-30s %10d %14.1f %14.1f %7.2f" % (name, elements, sk, rd, sk / rd))


if __name__ == "__main__":
    main()
