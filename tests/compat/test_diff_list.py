#!/usr/bin/python3
"""Differential test of the list commands: the same command sequences go to a
real redis-server 7.0 and to shardkv-server (--threads 2, so the keys of
LMOVE, RPOPLPUSH and LMPOP spread over two shards), and the replies must
match byte for byte, errors included: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP
(with counts) LLEN LINDEX LSET LRANGE LTRIM LREM LINSERT LPOS (RANK COUNT
MAXLEN) LMOVE RPOPLPUSH LMPOP, arity, negative and out-of-range indexes,
absurd numbers, WRONGTYPE both ways, TYPE, OBJECT ENCODING ("quicklist" for
every list), the list options of CONFIG, RESP2 and RESP3 reply shapes,
MULTI/EXEC, and seeded random sequences over lists big enough for many
nodes. Run: /usr/bin/python3 test_diff_list.py with SHARDKV_BIN set to the
directory holding shardkv-server.
"""

import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvdiff  # noqa: E402
import skvtest  # noqa: E402
from skvdiff import RawConn  # noqa: E402
from test_diff_hash import split_reply  # noqa: E402

INTS = [b"0", b"1", b"-1", b"2", b"-2", b"3", b"100", b"-100", b"007", b"+5", b" 5", b"1.5",
        b"abc", b"", b"9223372036854775807", b"-9223372036854775808",
        b"9223372036854775808", b"-9223372036854775809"]
VALUES = [b"", b"v", b"a", b"b", b"12", b"-12", b"1234567890123", b"007", b"3.5",
          b"a\x00b\r\n\xff", b"x" * 64, b"y" * 200, b"9223372036854775807", b"-0",
          b"z" * 9000]

LIST_ARITY = {"LPUSH": -3, "RPUSH": -3, "LPUSHX": -3, "RPUSHX": -3, "LPOP": -2, "RPOP": -2,
              "LLEN": 2, "LINDEX": 3, "LSET": 4, "LRANGE": 4, "LTRIM": 4, "LREM": 4,
              "LINSERT": 5, "LPOS": -3, "LMOVE": 5, "RPOPLPUSH": 3, "LMPOP": -4}

# One valid call of each list command on key {k}, for the WRONGTYPE cases.
LIST_CALLS = [["LPUSH", "{k}", "a"], ["RPUSH", "{k}", "a"], ["LPUSHX", "{k}", "a"],
              ["RPUSHX", "{k}", "a"], ["LPOP", "{k}"], ["RPOP", "{k}"], ["LPOP", "{k}", "2"],
              ["RPOP", "{k}", "0"], ["LLEN", "{k}"], ["LINDEX", "{k}", "0"],
              ["LINDEX", "{k}", "x"], ["LSET", "{k}", "0", "v"], ["LRANGE", "{k}", "0", "-1"],
              ["LTRIM", "{k}", "0", "1"], ["LREM", "{k}", "0", "a"],
              ["LINSERT", "{k}", "BEFORE", "a", "b"], ["LPOS", "{k}", "a"],
              ["LPOS", "{k}", "a", "COUNT", "0"], ["LMOVE", "{k}", "{k2}", "LEFT", "RIGHT"],
              ["LMOVE", "{k2}", "{k}", "LEFT", "RIGHT"], ["RPOPLPUSH", "{k}", "{k2}"],
              ["RPOPLPUSH", "{k2}", "{k}"], ["LMPOP", "1", "{k}", "LEFT"],
              ["LMPOP", "2", "{k2}", "{k}", "RIGHT", "COUNT", "3"]]

# Commands of other types, each of which must refuse a list.
OTHER_CALLS = [["GET", "{k}"], ["GETSET", "{k}", "v"], ["GETDEL", "{k}"], ["APPEND", "{k}", "x"],
               ["STRLEN", "{k}"], ["INCR", "{k}"], ["SETRANGE", "{k}", "0", "x"],
               ["MGET", "{k}", "{k2}"], ["HSET", "{k}", "f", "v"], ["HGET", "{k}", "f"],
               ["HLEN", "{k}"], ["SADD", "{k}", "m"], ["SCARD", "{k}"],
               ["SMEMBERS", "{k}"], ["SINTER", "{k}", "{k2}"], ["SMOVE", "{k}", "{k2}", "a"]]


def list_cases():
    cases = []
    # Pushes and their replies, missing keys, X forms.
    cases.append([["LPUSHX", "{k}", "a"], ["RPUSHX", "{k}", "a", "b"], ["EXISTS", "{k}"],
                  ["LPUSH", "{k}", "a", "b", "c"], ["RPUSH", "{k}", "1", "2", "3"],
                  ["LPUSHX", "{k}", "x", "y"], ["RPUSHX", "{k}", "z"], ["LRANGE", "{k}", "0", "-1"],
                  ["LLEN", "{k}"], ["TYPE", "{k}"], ["OBJECT", "ENCODING", "{k}"]])
    # Every value kind through push, index, range and pop.
    c = [["RPUSH", "{k}"] + VALUES, ["LRANGE", "{k}", "0", "-1"]]
    for i in range(-len(VALUES) - 2, len(VALUES) + 2):
        c.append(["LINDEX", "{k}", str(i)])
    c += [["LPOP", "{k}"], ["RPOP", "{k}"], ["LPOP", "{k}", "3"], ["RPOP", "{k}", "2"],
          ["LRANGE", "{k}", "0", "-1"], ["LLEN", "{k}"]]
    cases.append(c)
    # LRANGE and LTRIM over index pairs, on a fresh list each time.
    idx = ["0", "1", "-1", "-2", "3", "-3", "5", "-5", "9", "-9", "100", "-100",
           "9223372036854775807", "-9223372036854775808", "x", "1.0"]
    for s in idx:
        c = [["DEL", "{k}"], ["RPUSH", "{k}", "a", "b", "c", "d", "e"]]
        for e in idx:
            c.append(["LRANGE", "{k}", s, e])
        cases.append(c)
    for s in idx:
        for e in idx:
            cases.append([["RPUSH", "{k}", "a", "b", "c", "d", "e"], ["LTRIM", "{k}", s, e],
                          ["LRANGE", "{k}", "0", "-1"], ["EXISTS", "{k}"]])
    cases.append([["LRANGE", "{k}", "0", "-1"], ["LTRIM", "{k}", "0", "1"], ["EXISTS", "{k}"],
                  ["LRANGE", "{k}", "x", "0"]])
    # Pops with counts: 0, negative, huge, bad; missing keys.
    for cnt in INTS:
        cases.append([["RPUSH", "{k}", "a", "b", "c"], ["LPOP", "{k}", cnt], ["RPOP", "{k}", cnt],
                      ["LRANGE", "{k}", "0", "-1"], ["EXISTS", "{k}"]])
    cases.append([["LPOP", "{k}"], ["RPOP", "{k}"], ["LPOP", "{k}", "0"], ["RPOP", "{k}", "5"],
                  ["LPOP", "{k}", "-1"], ["LPOP", "{k}", "1", "2"], ["RPOP", "{k}", "1", "2", "3"]])
    # LSET.
    for i in INTS:
        cases.append([["RPUSH", "{k}", "a", "b", "c"], ["LSET", "{k}", i, "new"],
                      ["LRANGE", "{k}", "0", "-1"]])
    cases.append([["LSET", "{k}", "0", "v"], ["LSET", "{k}", "x", "v"],
                  ["RPUSH", "{k}", "1"], ["LSET", "{k}", "0", "y" * 100], ["LSET", "{k}", "-1", "5"],
                  ["LRANGE", "{k}", "0", "-1"]])
    # LREM.
    for cnt in INTS:
        cases.append([["RPUSH", "{k}", "a", "b", "a", "c", "a", "1", "a"],
                      ["LREM", "{k}", cnt, "a"], ["LRANGE", "{k}", "0", "-1"]])
    cases.append([["LREM", "{k}", "0", "a"], ["RPUSH", "{k}", "a", "a"], ["LREM", "{k}", "0", "a"],
                  ["EXISTS", "{k}"], ["RPUSH", "{k}", "1", "01", "1"], ["LREM", "{k}", "0", "1"],
                  ["LRANGE", "{k}", "0", "-1"]])
    # LINSERT.
    cases.append([["LINSERT", "{k}", "BEFORE", "a", "x"], ["RPUSH", "{k}", "a", "b", "c"],
                  ["LINSERT", "{k}", "BEFORE", "a", "x"], ["LINSERT", "{k}", "after", "c", "y"],
                  ["LINSERT", "{k}", "AfTeR", "b", "z"], ["LINSERT", "{k}", "before", "nope", "q"],
                  ["LINSERT", "{k}", "middle", "a", "q"], ["LINSERT", "{k}", "before", "1", "2"],
                  ["RPUSH", "{k}", "10"], ["LINSERT", "{k}", "before", "10", "9"],
                  ["LRANGE", "{k}", "0", "-1"]])
    # LPOS and its options.
    base = ["RPUSH", "{k}", "a", "b", "c", "1", "2", "3", "c", "c", "a", "1"]
    opts = [[], ["RANK", "1"], ["RANK", "2"], ["RANK", "-1"], ["RANK", "-2"], ["RANK", "0"],
            ["RANK", "9"], ["RANK", "-9"], ["RANK", "x"], ["RANK", "9223372036854775807"],
            ["RANK", "-9223372036854775808"], ["COUNT", "0"], ["COUNT", "1"], ["COUNT", "2"],
            ["COUNT", "-1"], ["COUNT", "x"], ["MAXLEN", "0"], ["MAXLEN", "1"], ["MAXLEN", "3"],
            ["MAXLEN", "-1"], ["RANK", "-1", "COUNT", "0"], ["RANK", "2", "COUNT", "2"],
            ["RANK", "-2", "COUNT", "5", "MAXLEN", "8"], ["COUNT", "0", "MAXLEN", "4"],
            ["RANK", "-9223372036854775808", "COUNT", "2"],
            ["RANK", "-9223372036854775808", "COUNT", "0"], ["RANK"], ["COUNT"], ["MAXLEN"],
            ["BOGUS", "1"], ["count", "1", "rank", "1", "maxlen", "1", "count", "3"]]
    for ele in ("a", "c", "1", "zz"):
        c = [base]
        for o in opts:
            c.append(["LPOS", "{k}", ele] + o)
        cases.append(c)
    cases.append([["LPOS", "{k}", "a"], ["LPOS", "{k}", "a", "COUNT", "3"],
                  ["LPOS", "{k}", "a", "RANK", "0"], ["LPOS", "{k}", "a", "COUNT", "-1"]])
    # LMOVE and RPOPLPUSH, both directions, same key, new destination.
    for f in ("LEFT", "RIGHT", "left", "middle"):
        for t in ("LEFT", "RIGHT", "right", "up"):
            cases.append([["RPUSH", "{k}", "a", "b", "c"], ["RPUSH", "{k2}", "x"],
                          ["LMOVE", "{k}", "{k2}", f, t], ["LMOVE", "{k}", "{k3}", f, t],
                          ["LMOVE", "{k}", "{k}", f, t], ["LRANGE", "{k}", "0", "-1"],
                          ["LRANGE", "{k2}", "0", "-1"], ["LRANGE", "{k3}", "0", "-1"],
                          ["LMOVE", "{k}", "{k2}", f, t], ["EXISTS", "{k}"],
                          ["LMOVE", "{k}", "{k2}", f, t], ["LMOVE", "{k4}", "{k4}", f, t]])
    cases.append([["RPUSH", "{k}", "1", "2", "3"], ["RPOPLPUSH", "{k}", "{k2}"],
                  ["RPOPLPUSH", "{k}", "{k}"], ["LRANGE", "{k}", "0", "-1"],
                  ["RPOPLPUSH", "{k}", "{k2}"], ["RPOPLPUSH", "{k}", "{k2}"],
                  ["RPOPLPUSH", "{k}", "{k2}"], ["LRANGE", "{k2}", "0", "-1"], ["EXISTS", "{k}"],
                  ["RPUSH", "{k4}", "only"], ["RPOPLPUSH", "{k4}", "{k4}"],
                  ["LRANGE", "{k4}", "0", "-1"]])
    cases.append([["SET", "{k}", "s"], ["RPUSH", "{k2}", "a"], ["LMOVE", "{k2}", "{k}", "LEFT", "LEFT"],
                  ["LMOVE", "{k}", "{k2}", "LEFT", "LEFT"], ["LMOVE", "{k3}", "{k}", "LEFT", "LEFT"],
                  ["RPOPLPUSH", "{k2}", "{k}"], ["LRANGE", "{k2}", "0", "-1"]])
    # LMPOP.
    lm = [["LMPOP", "1", "{k}", "LEFT"], ["LMPOP", "2", "{k}", "{k2}", "RIGHT"],
          ["LMPOP", "3", "{k3}", "{k}", "{k2}", "LEFT", "COUNT", "2"],
          ["LMPOP", "3", "{k3}", "{k}", "{k2}", "right", "count", "100"],
          ["LMPOP", "0", "{k}", "LEFT"], ["LMPOP", "-1", "{k}", "LEFT"], ["LMPOP", "x", "{k}", "LEFT"],
          ["LMPOP", "1", "{k}", "MIDDLE"], ["LMPOP", "1", "{k}", "LEFT", "COUNT", "0"],
          ["LMPOP", "1", "{k}", "LEFT", "COUNT", "-1"], ["LMPOP", "1", "{k}", "LEFT", "COUNT"],
          ["LMPOP", "1", "{k}", "LEFT", "COUNT", "1", "COUNT", "1"],
          ["LMPOP", "1", "{k}", "LEFT", "BOGUS"], ["LMPOP", "5", "{k}", "LEFT"],
          ["LMPOP", "2", "{k}", "LEFT"], ["LMPOP", "1", "{k}", "{k2}", "LEFT"],
          ["LMPOP", "9223372036854775807", "{k}", "LEFT"]]
    cases.append([["RPUSH", "{k2}", "a", "b", "c", "d"], ["RPUSH", "{k}", "1", "2"]] + lm +
                 [["LRANGE", "{k}", "0", "-1"], ["LRANGE", "{k2}", "0", "-1"], ["EXISTS", "{k}"]] +
                 lm)
    cases.append([["SET", "{k2}", "x"], ["RPUSH", "{k3}", "a"],
                  ["LMPOP", "3", "{k}", "{k2}", "{k3}", "LEFT"],
                  ["LMPOP", "2", "{k3}", "{k2}", "LEFT"], ["LMPOP", "2", "{k}", "{k4}", "LEFT"]])
    # MULTI/EXEC with list commands on several keys.
    cases.append([["RPUSH", "{k}", "a", "b"], ["MULTI"], ["LPUSH", "{k2}", "x"],
                  ["LMOVE", "{k}", "{k2}", "LEFT", "LEFT"], ["LMPOP", "2", "{k3}", "{k2}", "RIGHT"],
                  ["RPOPLPUSH", "{k}", "{k3}"], ["LLEN", "{k}"], ["EXEC"],
                  ["LRANGE", "{k2}", "0", "-1"], ["LRANGE", "{k3}", "0", "-1"]])
    # Elements around the listpack limits (8 KB nodes, long strings).
    big = [["RPUSH", "{k}", "e%d" % i] for i in range(1500)]
    big += [["RPUSH", "{k}", "x" * 5000], ["LPUSH", "{k}", "y" * 9000], ["LLEN", "{k}"],
            ["LINDEX", "{k}", "700"], ["LINDEX", "{k}", "-700"], ["LRANGE", "{k}", "695", "705"],
            ["LRANGE", "{k}", "-5", "-1"], ["LINSERT", "{k}", "AFTER", "e900", "mid"],
            ["LSET", "{k}", "1000", "z" * 3000], ["LREM", "{k}", "-2", "e5"],
            ["LPOS", "{k}", "mid"], ["LPOS", "{k}", "e1499", "RANK", "-1"],
            ["LTRIM", "{k}", "100", "-100"], ["LLEN", "{k}"], ["LPOP", "{k}", "50"],
            ["RPOP", "{k}", "50"], ["LRANGE", "{k}", "0", "20"], ["OBJECT", "ENCODING", "{k}"]]
    cases.append(big)
    return cases


def arity_cases():
    cases = []
    for name, arity in LIST_ARITY.items():
        n = arity if arity > 0 else -arity
        args = [name] + ["{k}"] + ["0"] * (n - 2)
        cases.append([args[:n - 1]])
        if arity > 0:
            cases.append([args + ["extra"]])
    return cases


def wrongtype_cases():
    cases = []
    for setup in (["SET", "{k}", "s"], ["HSET", "{k}", "f", "v"], ["SADD", "{k}", "m"]):
        for call in LIST_CALLS:
            cases.append([setup, ["RPUSH", "{k2}", "a"], call, ["TYPE", "{k}"]])
    for call in OTHER_CALLS:
        cases.append([["RPUSH", "{k}", "a", "b"], call, ["LRANGE", "{k}", "0", "-1"]])
    return cases


def random_ops(rnd, n, nvals):
    keys = ["{k}", "{k2}", "{k3}", "{k4}"]
    ends = ["LEFT", "RIGHT"]

    def val():
        r = rnd.random()
        if r < 0.5:
            return "v%d" % rnd.randrange(nvals)
        if r < 0.8:
            return str(rnd.randrange(-nvals, nvals))
        return "w" * rnd.randrange(0, 300)

    def idx():
        return str(rnd.randrange(-nvals - 3, nvals + 3))

    ops = []
    for _ in range(n):
        k, k2 = rnd.choice(keys), rnd.choice(keys)
        r = rnd.randrange(20)
        if r < 4:
            ops.append([rnd.choice(["LPUSH", "RPUSH"]), k] + [val() for _ in range(rnd.randrange(1, 6))])
        elif r == 4:
            ops.append([rnd.choice(["LPUSHX", "RPUSHX"]), k, val()])
        elif r == 5:
            cmd = [rnd.choice(["LPOP", "RPOP"]), k]
            if rnd.random() < 0.5:
                cmd.append(str(rnd.randrange(0, 5)))
            ops.append(cmd)
        elif r == 6:
            ops.append(["LINDEX", k, idx()])
        elif r == 7:
            ops.append(["LSET", k, idx(), val()])
        elif r == 8:
            ops.append(["LRANGE", k, idx(), idx()])
        elif r == 9:
            if rnd.random() < 0.2:
                ops.append(["LTRIM", k, idx(), idx()])
            else:
                ops.append(["LLEN", k])
        elif r == 10:
            ops.append(["LREM", k, str(rnd.randrange(-3, 4)), val()])
        elif r == 11:
            ops.append(["LINSERT", k, rnd.choice(["BEFORE", "AFTER"]), val(), val()])
        elif r == 12:
            cmd = ["LPOS", k, val()]
            if rnd.random() < 0.5:
                cmd += ["RANK", str(rnd.choice([1, 2, -1, -3]))]
            if rnd.random() < 0.5:
                cmd += ["COUNT", str(rnd.randrange(0, 4))]
            if rnd.random() < 0.3:
                cmd += ["MAXLEN", str(rnd.randrange(0, 20))]
            ops.append(cmd)
        elif r in (13, 14):
            ops.append(["LMOVE", k, k2, rnd.choice(ends), rnd.choice(ends)])
        elif r == 15:
            ops.append(["RPOPLPUSH", k, k2])
        elif r == 16:
            ks = rnd.sample(keys, rnd.randrange(1, 4))
            cmd = ["LMPOP", str(len(ks))] + ks + [rnd.choice(ends)]
            if rnd.random() < 0.5:
                cmd += ["COUNT", str(rnd.randrange(1, 5))]
            ops.append(cmd)
        elif r == 17:
            ops.append(["LRANGE", k, "0", "-1"])
        elif r == 18:
            ops.append(["EXISTS", k])
        else:
            ops.append(["DEL", k] if rnd.random() < 0.1 else ["LLEN", k])
    return ops


class DiffList(skvdiff.DiffTest):
    SKV_ARGS = ("--threads", "2")

    def hello3(self):
        rc, sc = RawConn(self.redis.port), RawConn(self.skv.port)
        rc.run([["HELLO", "3"]])
        sc.run([["HELLO", "3"]])
        return rc, sc

    def test_list_commands(self):
        self.compare(list_cases(), "list commands")

    def test_list_commands_resp3(self):
        rc, sc = self.hello3()
        try:
            self.compare(list_cases(), "list commands, RESP3", rc, sc)
        finally:
            rc.close()
            sc.close()

    def test_arity(self):
        self.compare(arity_cases(), "arity")

    def test_wrongtype(self):
        self.compare(wrongtype_cases(), "WRONGTYPE")

    def test_command_info(self):
        self.compare([[["COMMAND", "INFO", n]] for n in LIST_ARITY] +
                     [[["COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT"]],
                      [["COMMAND", "GETKEYS", "LMOVE", "a", "b", "LEFT", "RIGHT"]]],
                     "COMMAND INFO")

    def scan_all(self, conn):
        cursor, keys = b"0", []
        while True:
            cur, elems = split_reply(conn.run([["SCAN", cursor, "TYPE", "list"]])[0])
            keys += split_reply(elems)
            cursor = cur.split(b"\r\n")[1]
            if cursor == b"0":
                return sorted(keys)

    def config_map(self, conn, pat):
        elems = split_reply(conn.run([["CONFIG", "GET", pat]])[0])
        return {k: v for k, v in zip(elems[0::2], elems[1::2])
                if k.split(b"\r\n")[1].startswith(b"list-")}

    def test_config(self):
        both = (self.rc, self.sc)
        try:
            # Redis lists a glob's matches in its dict's order: as a map.
            for pat in ("list-*", "*ziplist*", "*listpack*", "list-max-*"):
                self.assertEqual(self.config_map(self.rc, pat), self.config_map(self.sc, pat), pat)
            self.compare([[["CONFIG", "GET", "list-max-ziplist-size"]],
                          [["CONFIG", "SET", "list-max-listpack-size", "4"]],
                          [["CONFIG", "GET", "list-max-listpack-size"]],
                          [["CONFIG", "SET", "list-max-ziplist-size", "-3"]],
                          [["CONFIG", "GET", "list-max-listpack-size"]],
                          [["CONFIG", "SET", "list-compress-depth", "1"]],
                          [["CONFIG", "SET", "list-compress-depth", "-1"]],
                          [["CONFIG", "SET", "list-max-listpack-size", "x"]],
                          [["CONFIG", "GET", "list-compress-depth"]]], "config")
            # Small nodes, compressed inner nodes: the replies do not change.
            self.compare([[["CONFIG", "SET", "list-max-listpack-size", "3"]]] + list_cases(),
                         "list commands, small compressed nodes")
        finally:
            for conn in both:
                conn.run([["CONFIG", "SET", "list-max-listpack-size", "-2"],
                          ["CONFIG", "SET", "list-compress-depth", "0"]])

    def test_keyspace_commands(self):
        cases = [[["RPUSH", "{k}", "a", "b", "1"], ["TYPE", "{k}"], ["OBJECT", "ENCODING", "{k}"],
                  ["RENAME", "{k}", "{k2}"], ["LRANGE", "{k2}", "0", "-1"], ["TYPE", "{k}"],
                  ["COPY", "{k2}", "{k3}"], ["LPUSH", "{k3}", "z"], ["LRANGE", "{k2}", "0", "-1"],
                  ["LRANGE", "{k3}", "0", "-1"], ["RENAMENX", "{k3}", "{k2}"],
                  ["EXPIRE", "{k2}", "100"], ["TTL", "{k2}"], ["PERSIST", "{k2}"],
                  ["DEL", "{k2}", "{k3}"], ["EXISTS", "{k2}", "{k3}"]]]
        big = [["RPUSH", "{k}"] + ["e%d" % i for i in range(3000)],
               ["COPY", "{k}", "{k4}"], ["RENAME", "{k}", "{k2}"], ["LLEN", "{k2}"],
               ["LRANGE", "{k2}", "1000", "1005"], ["LRANGE", "{k4}", "-3", "-1"],
               ["DEL", "{k2}"], ["LLEN", "{k4}"]]
        self.compare(cases + [big], "keyspace commands on lists")
        # SCAN TYPE list, MOVE between databases.
        for conn in (self.rc, self.sc):
            conn.run([["FLUSHALL"], ["RPUSH", "scanl", "a"], ["SET", "scans", "x"],
                      ["SADD", "scanset", "m"]])
        # (A cursor over several shards is ours: compare the keys only.)
        self.assertEqual(self.scan_all(self.rc), self.scan_all(self.sc))
        self.compare([[["MOVE", "scanl", "3"]], [["EXISTS", "scanl"]], [["SELECT", "3"]],
                      [["LRANGE", "scanl", "0", "-1"]], [["SELECT", "0"]]], "SCAN and MOVE")

    def test_watch_sees_only_real_changes(self):
        """EXEC after WATCH fails exactly when a list command of another
        client changed the key (its own report, cmd_key_modified)."""
        others = [["RPUSH", "{k}", "x"], ["LPUSHX", "{k}", "x"], ["LPUSHX", "{k}0", "x"],
                  ["LPOP", "{k}"], ["RPOP", "{k}", "0"], ["LSET", "{k}", "0", "a"],
                  ["LSET", "{k}", "9", "a"], ["LTRIM", "{k}", "0", "-1"], ["LREM", "{k}", "0", "no"],
                  ["LREM", "{k}", "0", "a"], ["LINSERT", "{k}", "BEFORE", "no", "x"],
                  ["LINSERT", "{k}", "AFTER", "a", "x"], ["LRANGE", "{k}", "0", "-1"],
                  ["LINDEX", "{k}", "0"], ["LPOS", "{k}", "a"], ["LLEN", "{k}"],
                  ["LMOVE", "{k}", "{k}2", "LEFT", "LEFT"], ["LMOVE", "{k}2", "{k}", "LEFT", "LEFT"],
                  ["RPOPLPUSH", "{k}", "{k}"], ["LMPOP", "2", "{k}2", "{k}", "LEFT"],
                  ["LMPOP", "1", "{k}2", "LEFT"]]
        replies = {}
        for name, port in (("redis", self.redis.port), ("shardkv", self.skv.port)):
            a, b_ = RawConn(port), RawConn(port)
            self.addCleanup(a.close)
            self.addCleanup(b_.close)
            DiffList.ncase += 1
            out = []
            for i, other in enumerate(others):
                key = b"watch%d:%d" % (DiffList.ncase, i)
                sub = lambda c: [skvdiff.b(x).replace(b"{k}", key) for x in c]  # noqa: E731
                a.run([sub(["RPUSH", "{k}", "a", "b", "c"]), sub(["WATCH", "{k}"])])
                b_.run([sub(other)])
                out.append(a.run([["MULTI"], sub(["LLEN", "{k}"]), ["EXEC"]])[2])
            replies[name] = out
        self.assertEqual(replies["redis"], replies["shardkv"])

    def test_random_sequences(self):
        """Seeded random commands on four keys over two shards, replies
        compared one by one."""
        for seed, nvals in ((1, 6), (2, 30), (3, 300)):
            rnd = random.Random(seed)
            ops = self.expand(random_ops(rnd, 4000, nvals))
            want = self.rc.run(ops)
            got = self.sc.run(ops)
            bad = [(cmd, w[:200], g[:200]) for cmd, w, g in zip(ops, want, got) if w != g]
            self.assertFalse(bad, "seed %d: %d differ; first: %r" % (seed, len(bad), bad[:5]))


if __name__ == "__main__":
    skvtest.main()
