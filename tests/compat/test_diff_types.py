#!/usr/bin/python3
"""Differential test of what every command that is not a type's own knows
about types, against a real redis-server 7.0: WRONGTYPE for every string
command on a hash and a set (and MGET's nil), TYPE, OBJECT ENCODING across
the encodings of strings, hashes and sets, SCAN's TYPE filter, EXPIRE/TTL/
PERSIST on typed keys, RENAME/RENAMENX/COPY/MOVE/DEL/EXISTS of typed values
(shardkv runs with --threads 2, so the two keys of a RENAME are often on
different shards), SET replacing a typed value, MULTI/EXEC and WATCH over
typed keys, and randomized sequences mixing the types with expiry.
Run: /usr/bin/python3 test_diff_types.py with SHARDKV_BIN set."""

import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
import skvdiff  # noqa: E402

# Every string command with arguments valid for a string, so that on a
# hash or a set the only possible error is the type's.
STRING_CMDS = [["GET", "{k}"], ["GETSET", "{k}", "v"], ["GETDEL", "{k}"], ["GETEX", "{k}"],
               ["GETEX", "{k}", "PERSIST"], ["APPEND", "{k}", "x"], ["STRLEN", "{k}"],
               ["GETRANGE", "{k}", "0", "-1"], ["SUBSTR", "{k}", "0", "1"],
               ["SETRANGE", "{k}", "1", "x"], ["SETRANGE", "{k}", "1", ""],
               ["SETRANGE", "{k}", "600000000", "x"], ["INCR", "{k}"], ["DECR", "{k}"],
               ["INCRBY", "{k}", "5"], ["DECRBY", "{k}", "5"], ["INCRBYFLOAT", "{k}", "1.5"],
               ["INCRBYFLOAT", "{k}", "abc"], ["SET", "{k}", "v", "GET"],
               ["SET", "{k}", "v", "NX", "GET"], ["SET", "{k}", "v", "NX"],
               ["SET", "{k}", "v", "XX", "GET"], ["MGET", "{k}", "{k2}"], ["SETNX", "{k}", "v"],
               ["MSETNX", "{k}", "a", "{k2}", "b"]]

# Values of each type and encoding, built by the commands that make them.
HASH_SMALL = [["HSET", "{k}", "f1", "v1", "f2", "v2"]]
HASH_BIG = [["HSET", "{k}"] + [x for i in range(200) for x in ("f%d" % i, "v%d" % i)]]
HASH_LONGVAL = [["HSET", "{k}", "f", "x" * 100]]
SET_INT = [["SADD", "{k}", "1", "2", "3"]]
SET_INT_BIG = [["SADD", "{k}"] + [str(i) for i in range(600)]]
SET_STR_BIG = [["SADD", "{k}"] + ["m%d" % i for i in range(300)]]
SET_MIXED = [["SADD", "{k}", "1", "a"]]
BUILDERS = [HASH_SMALL, HASH_BIG, HASH_LONGVAL, SET_INT, SET_INT_BIG, SET_STR_BIG, SET_MIXED]
# Redis 7.0 has no listpack sets (7.2 added them, and so do we, as the
# issue asks): OBJECT ENCODING of a small set of strings differs by design.
NO_ENCODING_COMPARE = [SET_MIXED]


def wrongtype_cases():
    cases = []
    for build in (HASH_SMALL, SET_INT, SET_STR_BIG):
        for cmd in STRING_CMDS:
            cases.append(build + [cmd, ["TYPE", "{k}"]])
        # The other way: a hash or set command on a string.
        cases.append([["SET", "{k}", "v"]] + build + [["GET", "{k}"]])
    return cases


def keyspace_cases():
    cases = []
    add = cases.append
    for build in BUILDERS:
        enc = [] if build in NO_ENCODING_COMPARE else [["OBJECT", "ENCODING", "{k}"]]
        add(build + [["TYPE", "{k}"], ["EXISTS", "{k}"], ["OBJECT", "REFCOUNT", "{k}"]] + enc)
        add(build + [["EXPIRE", "{k}", "100"], ["TTL", "{k}"], ["PERSIST", "{k}"],
                     ["TTL", "{k}"], ["PEXPIRE", "{k}", "50000", "NX"], ["PTTL", "{k}"],
                     ["EXPIRE", "{k}", "0"], ["EXISTS", "{k}"], ["TYPE", "{k}"]])
        add(build + [["RENAME", "{k}", "{k2}"], ["TYPE", "{k}"], ["TYPE", "{k2}"]] +
            [["OBJECT", "ENCODING", "{k2}"]] * len(enc))
        add(build + [["SET", "{k2}", "x"], ["RENAMENX", "{k}", "{k2}"],
                     ["RENAME", "{k}", "{k2}"], ["TYPE", "{k2}"], ["EXISTS", "{k}"]])
        add(build + [["EXPIRE", "{k}", "1000"], ["RENAME", "{k}", "{k3}"], ["TTL", "{k3}"]])
        add(build + [["COPY", "{k}", "{k2}"], ["COPY", "{k}", "{k2}"], ["TYPE", "{k2}"],
                     ["DEL", "{k}"], ["TYPE", "{k2}"], ["COPY", "{k2}", "{k}", "REPLACE"],
                     ["TYPE", "{k}"]] + [["OBJECT", "ENCODING", "{k}"]] * len(enc))
        add(build + [["COPY", "{k}", "{k}", "DB", "3"], ["MOVE", "{k}", "4"], ["TYPE", "{k}"],
                     ["SELECT", "4"], ["TYPE", "{k}"], ["MOVE", "{k}", "0"], ["SELECT", "3"],
                     ["TYPE", "{k}"], ["DEL", "{k}"], ["SELECT", "0"], ["TYPE", "{k}"]])
        add(build + [["SET", "{k}", "str"], ["TYPE", "{k}"], ["GET", "{k}"]])
        add(build + [["SET", "{k}", "str", "KEEPTTL"], ["TYPE", "{k}"]])
        add(build + [["DEL", "{k}", "{k2}"], ["EXISTS", "{k}"], ["TYPE", "{k}"]])
        add(build + [["UNLINK", "{k}"], ["TYPE", "{k}"]])
        add(build + [["MULTI"], ["TYPE", "{k}"], ["GET", "{k}"], ["RENAME", "{k}", "{k2}"],
                     ["TYPE", "{k2}"], ["EXEC"]])
    for sub in ("HELP", "help"):
        add([["OBJECT", sub]])
    add([["OBJECT", "ENCODING"], ["OBJECT", "ENCODING", "{k}"], ["OBJECT", "FREQ", "{k}"],
         ["OBJECT", "bogus", "{k}"], ["OBJECT", "ENCODING", "{k}", "x"]])
    for v in ("1", "9999", "10000", "-1", "hello", "x" * 44, "x" * 45, "12345678901234567890",
              "1234567890123456789", "007"):
        add([["SET", "{k}", v], ["OBJECT", "ENCODING", "{k}"], ["OBJECT", "REFCOUNT", "{k}"],
             ["APPEND", "{k}", "1"], ["OBJECT", "ENCODING", "{k}"]])
    add([["INCR", "{k}"], ["OBJECT", "ENCODING", "{k}"], ["OBJECT", "REFCOUNT", "{k}"]])
    return cases


def random_ops(rnd, n):
    keys = ["{k}", "{k2}", "{k3}", "{k4}"]
    ops = []
    for _ in range(n):
        k, k2 = rnd.choice(keys), rnd.choice(keys)
        m = str(rnd.randrange(8))
        ops.append(rnd.choice([
            ["SET", k, m], ["GET", k], ["INCR", k], ["APPEND", k, m], ["TYPE", k],
            ["HSET", k, "f" + m, m], ["HGET", k, "f" + m], ["HDEL", k, "f" + m], ["HLEN", k],
            ["SADD", k, m], ["SREM", k, m], ["SCARD", k], ["SISMEMBER", k, m],
            ["DEL", k], ["EXISTS", k, k2], ["RENAME", k, k2], ["COPY", k, k2, "REPLACE"],
            ["EXPIRE", k, "100"], ["PERSIST", k], ["TTL", k], ["MGET", k, k2],
        ]))
    return ops


class TypesDifferential(skvdiff.DiffTest):
    SKV_ARGS = ("--threads", "2")

    def test_wrongtype(self):
        cases = wrongtype_cases()
        self.assertGreater(len(cases), 70)
        self.compare(cases, "wrong types")

    def test_keyspace_commands_on_types(self):
        self.compare(keyspace_cases(), "keyspace commands on typed values")

    def scan_all(self, conn, *args):
        """Every key a full SCAN iteration returns (cursors differ between
        servers: shardkv's carries the shard), as a sorted list."""
        keys, cursor = set(), b"0"
        for _ in range(10000):
            reply = conn.call("SCAN", cursor, *args)
            cursor, batch = reply[0], reply[1]
            keys.update(batch)
            if cursor == b"0":
                return sorted(keys)
        self.fail("SCAN did not finish")

    def test_scan_type_filter(self):
        made = {"string": [], "hash": [], "set": []}
        for i in range(40):
            for t, cmd in (("string", ["SET"]), ("hash", ["HSET", "f"]), ("set", ["SADD"])):
                k = "scantype:%s:%d" % (t, i)
                made[t].append(k.encode())
                for srv in (self.redis, self.skv):
                    with srv.client() as c:
                        c.call(*(cmd[:1] + [k] + cmd[1:] + ["v"]))
        with self.redis.client() as rc, self.skv.client() as sc:
            for t in ("string", "hash", "set", "list", "zset", "stream", "HASH", "bogus", "none"):
                args = ("MATCH", "scantype:*", "COUNT", "7", "TYPE", t)
                want = self.scan_all(rc, *args)
                self.assertEqual(self.scan_all(sc, *args), want, "SCAN TYPE %s" % t)
                self.assertEqual(want, sorted(made.get(t.lower(), [])), "redis: TYPE %s" % t)

    def test_watch_sees_typed_writes(self):
        for build in (HASH_SMALL, SET_INT):
            w = build[0][:]
            self.compare([build + [["WATCH", "{k}"]] + [w] + [["MULTI"], ["TYPE", "{k}"],
                                                              ["EXEC"]]], "watch")

    def test_random_sequences(self):
        for seed in (1, 2, 3):
            rnd = random.Random(seed)
            self.compare([random_ops(rnd, 400)], "random seed %d" % seed)


if __name__ == "__main__":
    skvtest.main()
