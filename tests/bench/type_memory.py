#!/usr/bin/python3
"""Memory per element of hashes, sets, sorted sets and lists, shardkv against redis-server 7.0
on the same data, one data set at a time on fresh servers: the growth of
the process's resident set (VmRSS) while the data set is written, divided by
its elements. A benchmark, never a pass/fail test.

Data sets (issues 10 and 11): 100,000 hashes x 10 fields (6-byte fields,
16-byte values); one hash of 1,000,000 fields (9-byte fields, 16-byte
values); one set of 1,000,000 16-byte strings; one set of 1,000,000
integers; one sorted set of 1,000,000 16-byte members with random scores;
100,000 sorted sets of 10 members; one list of 1,000,000 16-byte elements.

usage: type_memory.py [--scale 1.0] [--threads 1] [--only NAME-PART]
env:   SHARDKV_BIN directory holding shardkv-server (default build/bin)
"""

import argparse
import os
import random
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


def big_zset(n):
    rnd = random.Random(7)
    for i in range(0, n, ARGS_PER_CMD):
        args = ["ZADD", "bigzset"]
        for j in range(i, min(n, i + ARGS_PER_CMD)):
            args += ["%.6f" % rnd.random(), "member:%09d" % j]
        yield args, min(n, i + ARGS_PER_CMD) - i


def small_zsets(n):
    for i in range(n):
        args = ["ZADD", "z:%d" % i]
        for j in range(10):
            args += [str(j), "m%05d" % j]
        yield args, 10


def big_list(n):
    for i in range(0, n, ARGS_PER_CMD):
        yield (["RPUSH", "biglist"] + ["element:%09d" % j for j in range(i, min(n, i + ARGS_PER_CMD))],
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
    ap.add_argument("--only", default="", help="run the data sets whose name contains this")
    a = ap.parse_args()
    sets = [("100k hashes x 10 fields", small_hashes, 100000),
            ("1 hash of 1M fields", big_hash, 1000000),
            ("1 set of 1M 16-byte strings", string_set, 1000000),
            ("1 set of 1M integers", int_set, 1000000),
            ("1 zset of 1M 16-byte members", big_zset, 1000000),
            ("100k zsets x 10 members", small_zsets, 100000),
            ("1 list of 1M 16-byte elements", big_list, 1000000)]
    print("%-30s %10s %14s %14s %7s" % ("data set", "elements", "shardkv B/el", "redis B/el",
                                        "ratio"))
    for name, gen, n in sets:
        if a.only not in name:
            continue
        n = max(1, int(n * a.scale))

        with skvtest.ShardkvServer(args=("--threads", a.threads)) as s:
            sk, elements = load(s, gen(n))
        with skvtest.RedisServer() as r:
            rd, _ = load(r, gen(n))
        print("%-30s %10d %14.1f %14.1f %7.2f" % (name, elements, sk, rd, sk / rd))


if __name__ == "__main__":
    main()
