#!/usr/bin/python3
"""Differential test of the sorted set commands against a real redis-server
7.0: ZADD (NX XX GT LT CH INCR) ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK
ZREVRANK ZCOUNT ZLEXCOUNT ZRANGE (BYSCORE BYLEX REV LIMIT WITHSCORES)
ZRANGESTORE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX
ZREVRANGEBYLEX ZREMRANGEBYRANK/SCORE/LEX ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER
ZSCAN ZUNION ZINTER ZDIFF and their STORE forms, ZINTERCARD, with errors,
arity, WRONGTYPE both ways, score formatting (inf, -inf, 1e+20, 17
digits), exclusive bounds, lex ranges, LIMIT offsets, NaN increments,
OBJECT ENCODING across the thresholds, DUMP payloads byte for byte and
RESTORE both ways, RESP2 and RESP3, and randomized sequences. shardkv runs
with --threads 2, so the multi-key commands' keys fall on both shards and
run as cross-shard transactions.

Replies are compared byte for byte, except ZRANDMEMBER (by shape and
membership) and ZSCAN of a big set (any well-formed page; completeness is
tested apart). Run: /usr/bin/python3 test_diff_zset.py with SHARDKV_BIN set.
"""

import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvdiff import RawConn, b, same_reply  # noqa: E402
import skvdiff  # noqa: E402


def parse(raw, pos=0):
    """Parse one RESP2/RESP3 reply: (value, next pos). An aggregate is
    (type byte, [items]); anything else its raw bytes."""
    end = raw.index(b"\r\n", pos)
    t = raw[pos:pos + 1]
    head = raw[pos + 1:end]
    nxt = end + 2
    if t in (b"$", b"=", b"!"):
        n = int(head)
        if n < 0:
            return raw[pos:nxt], nxt
        return raw[pos:nxt + n + 2], nxt + n + 2
    if t in (b"*", b"~", b">", b"%", b"|"):
        n = int(head)
        if n < 0:
            return raw[pos:nxt], nxt
        if t in (b"%", b"|"):
            n *= 2
        items = []
        for _ in range(n):
            v, nxt = parse(raw, nxt)
            items.append(v)
        return (t, items), nxt
    return raw[pos:nxt], nxt


def shape(raw):
    v, _ = parse(raw)
    if isinstance(v, tuple):
        return (v[0], len(v[1]), tuple(x[0] if isinstance(x, tuple) else x[:1] for x in v[1]))
    if raw.startswith(b"$") and not raw.startswith(b"$-1"):
        return b"$"
    return raw


def same_scan(w, g):
    """ZSCAN: errors exactly; a whole scan in one page exactly (a listpack
    set comes back whole, in order); otherwise any well-formed page."""
    if w.startswith(b"-") or g.startswith(b"-"):
        return w == g
    (tw, (cw, iw)), (tg, (cg, ig)) = parse(w)[0], parse(g)[0]
    if tw != tg or iw[0] != ig[0]:
        return False
    if cw == cg == b"$1\r\n0\r\n":
        return w == g
    return True


def same(cmd, w, g):
    name = b(cmd[0]).upper()
    if name == b"ZRANDMEMBER":
        return shape(w) == shape(g)
    if name == b"ZSCAN":
        return same_scan(w, g)
    return same_reply(cmd, w, g)


SCORES = ["0", "1", "-1", "1.5", "0.1", "1e20", "-1e-20", "inf", "-inf", "+inf", "3.0",
          "1.1", "123456789012345678", "4503599627370496", "0x10", "1e400", "-0", "2.5e-5",
          "9007199254740993", ".5", "5.", "1E3"]
BAD_SCORES = ["nan", "abc", "", " 1", "1 ", "1e", "--1", "NaN", "inf1", "1\x002"]

ARITY = {"zadd": -4, "zincrby": 4, "zrem": -3, "zcard": 2, "zscore": 3, "zmscore": -3,
         "zrank": 3, "zrevrank": 3, "zcount": 4, "zlexcount": 4, "zrange": -4,
         "zrangestore": -5, "zrevrange": -4, "zrangebyscore": -4, "zrevrangebyscore": -4,
         "zrangebylex": -4, "zrevrangebylex": -4, "zremrangebyrank": 4,
         "zremrangebyscore": 4, "zremrangebylex": 4, "zpopmin": -2, "zpopmax": -2,
         "zmpop": -4, "zrandmember": -2, "zscan": -3, "zunion": -3, "zinter": -3,
         "zdiff": -3, "zunionstore": -4, "zinterstore": -4, "zdiffstore": -4,
         "zintercard": -3}

BASE = [["ZADD", "{k}", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "-inf", "lo",
         "+inf", "hi", "2", "bb", "2", "ba"]]
LEX = [["ZADD", "{k}", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "aa", "0", "",
        "0", "b\x00", "0", "zz"]]


def zadd_cases():
    cases = []
    add = cases.append
    for s in SCORES + BAD_SCORES:
        add([["ZADD", "{k}", s, "m"], ["ZSCORE", "{k}", "m"], ["ZRANGE", "{k}", "0", "-1",
             "WITHSCORES"], ["ZINCRBY", "{k}", s, "m"], ["ZSCORE", "{k}", "m"],
             ["ZMSCORE", "{k}", "m", "x"], ["DUMP", "{k}"]])
    for opts in ([], ["NX"], ["XX"], ["CH"], ["GT"], ["LT"], ["GT", "CH"], ["LT", "CH"],
                 ["NX", "CH"], ["XX", "CH"], ["XX", "GT"], ["NX", "XX"], ["NX", "GT"],
                 ["NX", "LT"], ["GT", "LT"], ["INCR"], ["INCR", "NX"], ["INCR", "XX"],
                 ["INCR", "GT"], ["INCR", "LT"], ["ch", "xx", "gt"], ["CH", "CH"]):
        add(BASE + [["ZADD", "{k}"] + opts + ["3", "a", "0", "b", "10", "new"],
                    ["ZRANGE", "{k}", "0", "-1", "WITHSCORES"]])
        add(BASE + [["ZADD", "{k}"] + opts + ["3", "a"], ["ZADD", "{k}"] + opts + ["0", "a"],
                    ["ZADD", "{k}"] + opts + ["1", "zz"], ["ZRANGE", "{k}", "0", "-1",
                                                           "WITHSCORES"]])
        add([["ZADD", "{k}"] + opts + ["1", "a"], ["EXISTS", "{k}"], ["ZCARD", "{k}"]])
    # Syntax: odd pairs, no pairs, a bad score among good ones (nothing
    # added), INCR with two pairs.
    for args in (["1"], ["1", "a", "2"], [], ["XX"], ["INCR", "1", "a", "2", "b"],
                 ["1", "a", "x", "b"], ["nan", "a"], ["1", "a", "NX"], ["BOGUS", "1", "a"]):
        add([["ZADD", "{k}"] + args, ["EXISTS", "{k}"]])
    # NaN from inf + -inf.
    add([["ZADD", "{k}", "inf", "a"], ["ZINCRBY", "{k}", "-inf", "a"], ["ZSCORE", "{k}", "a"],
         ["ZADD", "{k}", "INCR", "-inf", "a"], ["ZINCRBY", "{k}", "inf", "a"],
         ["ZINCRBY", "{k}", "nan", "a"], ["ZINCRBY", "{k}", "1", "new"],
         ["ZRANGE", "{k}", "0", "-1", "WITHSCORES"]])
    add([["ZINCRBY", "{k}", "1.5", "a"], ["ZINCRBY", "{k}", "0.1", "a"],
         ["ZINCRBY", "{k}", "-inf", "b"], ["ZINCRBY", "{k}", "1e308", "c"],
         ["ZINCRBY", "{k}", "1e308", "c"], ["ZRANGE", "{k}", "0", "-1", "WITHSCORES"]])
    # ZREM, emptying, missing keys.
    add(BASE + [["ZREM", "{k}", "a", "nope", "a", "b"], ["ZCARD", "{k}"],
                ["ZREM", "{k}", "c", "d", "e", "lo", "hi", "bb", "ba"], ["EXISTS", "{k}"],
                ["ZREM", "{k}", "x"]])
    add([["ZCARD", "{k}"], ["ZSCORE", "{k}", "a"], ["ZMSCORE", "{k}", "a", "b"],
         ["ZRANK", "{k}", "a"], ["ZREVRANK", "{k}", "a"], ["ZCOUNT", "{k}", "-inf", "inf"],
         ["ZLEXCOUNT", "{k}", "-", "+"], ["ZRANGE", "{k}", "0", "-1"],
         ["ZRANGEBYSCORE", "{k}", "0", "1"], ["ZPOPMIN", "{k}"], ["ZPOPMAX", "{k}", "2"],
         ["ZRANDMEMBER", "{k}"], ["ZRANDMEMBER", "{k}", "3"], ["ZSCAN", "{k}", "0"],
         ["ZREMRANGEBYRANK", "{k}", "0", "-1"], ["ZREMRANGEBYSCORE", "{k}", "0", "1"],
         ["ZREMRANGEBYLEX", "{k}", "-", "+"], ["EXISTS", "{k}"]])
    # Ranks and scores.
    add(BASE + [["ZRANK", "{k}", m] for m in ("a", "lo", "hi", "ba", "bb", "b", "nope")]
        + [["ZREVRANK", "{k}", m] for m in ("a", "lo", "hi", "bb", "nope")]
        + [["ZMSCORE", "{k}", "lo", "hi", "nope", "a"]])
    return cases


def range_cases():
    cases = []
    add = cases.append
    ranks = [("0", "-1"), ("0", "0"), ("1", "3"), ("-3", "-1"), ("-100", "100"), ("5", "2"),
             ("100", "200"), ("-1", "-100"), ("3", "-3"), ("x", "1"), ("0", "1.5"),
             ("9223372036854775807", "-9223372036854775808")]
    for lo, hi in ranks:
        for cmd in (["ZRANGE"], ["ZREVRANGE"]):
            add(BASE + [cmd + ["{k}", lo, hi], cmd + ["{k}", lo, hi, "WITHSCORES"]])
        add(BASE + [["ZRANGE", "{k}", lo, hi, "REV", "WITHSCORES"],
                    ["ZREMRANGEBYRANK", "{k}", lo, hi], ["ZRANGE", "{k}", "0", "-1"]])
    scores = [("-inf", "+inf"), ("1", "3"), ("(1", "3"), ("1", "(3"), ("(1", "(3"), ("2", "2"),
              ("(2", "2"), ("3", "1"), ("-inf", "-inf"), ("inf", "inf"), ("(-inf", "(inf"),
              ("x", "1"), ("1", "(x"), ("((1", "2"), ("nan", "1"), ("1.5", "4.5"), ("-1e400", "1"),
              ("", "1"), ("(", "1"), ("+inf", "-inf")]
    for lo, hi in scores:
        add(BASE + [["ZRANGEBYSCORE", "{k}", lo, hi],
                    ["ZRANGEBYSCORE", "{k}", lo, hi, "WITHSCORES"],
                    ["ZREVRANGEBYSCORE", "{k}", hi, lo, "WITHSCORES"],
                    ["ZRANGE", "{k}", lo, hi, "BYSCORE"],
                    ["ZRANGE", "{k}", hi, lo, "BYSCORE", "REV"],
                    ["ZCOUNT", "{k}", lo, hi]])
        add(BASE + [["ZREMRANGEBYSCORE", "{k}", lo, hi], ["ZRANGE", "{k}", "0", "-1"]])
    for off, cnt in [("0", "2"), ("1", "2"), ("2", "-1"), ("-1", "2"), ("0", "0"), ("100", "1"),
                     ("3", "100"), ("x", "1"), ("1", "x"), ("0", "-5")]:
        add(BASE + [["ZRANGEBYSCORE", "{k}", "-inf", "inf", "LIMIT", off, cnt],
                    ["ZRANGEBYSCORE", "{k}", "-inf", "inf", "WITHSCORES", "LIMIT", off, cnt],
                    ["ZREVRANGEBYSCORE", "{k}", "inf", "-inf", "LIMIT", off, cnt, "WITHSCORES"],
                    ["ZRANGE", "{k}", "1", "4", "BYSCORE", "LIMIT", off, cnt],
                    ["ZRANGE", "{k}", "+", "-", "BYLEX", "REV", "LIMIT", off, cnt]])
        add(LEX + [["ZRANGEBYLEX", "{k}", "-", "+", "LIMIT", off, cnt],
                   ["ZREVRANGEBYLEX", "{k}", "+", "-", "LIMIT", off, cnt]])
    lexes = [("-", "+"), ("[a", "[c"), ("(a", "(c"), ("[a", "(c"), ("(a", "[c"), ("[b", "[b"),
             ("(b", "[b"), ("[c", "[a"), ("-", "[b"), ("(b", "+"), ("+", "-"), ("-", "-"),
             ("+", "+"), ("a", "[b"), ("[a", "b"), ("", "+"), ("[", "+"), ("(", "+"),
             ("[b\x00", "+"), ("[aa", "[aa"), ("[z", "[zzz")]
    for lo, hi in lexes:
        add(LEX + [["ZRANGEBYLEX", "{k}", lo, hi], ["ZREVRANGEBYLEX", "{k}", hi, lo],
                   ["ZRANGE", "{k}", lo, hi, "BYLEX"], ["ZRANGE", "{k}", hi, lo, "BYLEX", "REV"],
                   ["ZLEXCOUNT", "{k}", lo, hi]])
        add(LEX + [["ZREMRANGEBYLEX", "{k}", lo, hi], ["ZRANGE", "{k}", "0", "-1"]])
    # ZRANGE's option errors and their order.
    for opts in (["LIMIT", "0", "1"], ["BYLEX", "WITHSCORES"], ["BYSCORE", "BYLEX"],
                 ["REV", "REV"], ["BYSCORE", "BYSCORE"], ["LIMIT", "0"], ["LIMIT"],
                 ["BOGUS"], ["WITHSCORES", "WITHSCORES"], ["BYSCORE", "LIMIT", "0", "-1"],
                 ["LIMIT", "0", "-1"], ["LIMIT", "x", "1", "BYSCORE"], ["withscores", "rev"]):
        add(BASE + [["ZRANGE", "{k}", "0", "3"] + opts,
                    ["ZRANGESTORE", "{k2}", "{k}", "0", "3"] + opts,
                    ["ZRANGE", "{k2}", "0", "-1", "WITHSCORES"]])
    for cmd in ("ZREVRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGEBYLEX"):
        for opts in (["REV"], ["BYSCORE"], ["BYLEX"], ["WITHSCORES"], ["LIMIT", "0", "1"]):
            add(BASE + [[cmd, "{k}", "-", "+"] + opts, [cmd, "{k}", "0", "10"] + opts])
    # ZRANGESTORE across shards, onto itself, an empty result, over a string.
    for args in (["0", "-1"], ["1", "2", "REV"], ["(1", "4", "BYSCORE", "LIMIT", "1", "2"],
                 ["[a", "+", "BYLEX"], ["10", "20"], ["5", "1", "BYSCORE"]):
        add(BASE + [["ZRANGESTORE", "{k2}", "{k}"] + args, ["ZRANGE", "{k2}", "0", "-1",
                    "WITHSCORES"], ["OBJECT", "ENCODING", "{k2}"]])
        add(BASE + [["ZRANGESTORE", "{k}", "{k}"] + args, ["ZRANGE", "{k}", "0", "-1",
                    "WITHSCORES"], ["EXISTS", "{k}"]])
        add(BASE + [["SET", "{k3}", "s"], ["ZRANGESTORE", "{k3}", "{k}"] + args, ["TYPE", "{k3}"]])
    add([["SET", "{k}", "s"], ["ZRANGESTORE", "{k2}", "{k}", "0", "-1"],
         ["ZRANGESTORE", "{k2}", "{k4}", "0", "-1"], ["ZADD", "{k2}", "1", "a"],
         ["ZRANGESTORE", "{k2}", "{k4}", "0", "-1"], ["EXISTS", "{k2}"]])
    return cases


def pop_cases():
    cases = []
    add = cases.append
    for cnt in ([], ["0"], ["1"], ["3"], ["100"], ["-1"], ["x"], ["1.5"], ["1", "2"]):
        add(BASE + [["ZPOPMIN", "{k}"] + cnt, ["ZPOPMAX", "{k}"] + cnt, ["ZCARD", "{k}"]])
    add([["ZADD", "{k}", "1", "a"], ["ZPOPMAX", "{k}"], ["EXISTS", "{k}"], ["ZPOPMAX", "{k}"],
         ["ZPOPMIN", "{k}", "2"]])
    for args in (["1", "{k}", "MIN"], ["1", "{k}", "MAX", "COUNT", "3"],
                 ["2", "{k4}", "{k}", "MAX", "COUNT", "100"], ["2", "{k4}", "{k3}", "MIN"],
                 ["0", "{k}", "MIN"], ["-1", "{k}", "MIN"], ["x", "{k}", "MIN"],
                 ["2", "{k}", "MIN"], ["1", "{k}"], ["1", "{k}", "MID"],
                 ["1", "{k}", "MIN", "COUNT"], ["1", "{k}", "MIN", "COUNT", "0"],
                 ["1", "{k}", "MIN", "COUNT", "-1"],
                 ["1", "{k}", "MIN", "COUNT", "1", "COUNT", "1"],
                 ["1", "{k}", "MIN", "BOGUS"], ["2", "{k2}", "{k}", "min", "count", "2"],
                 ["3", "{k4}", "{k2}", "{k}", "MAX"]):
        add(BASE + [["SET", "{k2}", "str"], ["ZMPOP"] + args, ["ZCARD", "{k}"]])
        add(BASE + [["ZMPOP"] + args, ["ZRANGE", "{k}", "0", "-1"]])
    add([["ZADD", "{k}", "1", "a", "2", "b"], ["ZMPOP", "1", "{k}", "MIN", "COUNT", "5"],
         ["EXISTS", "{k}"], ["ZMPOP", "1", "{k}", "MIN"]])
    # ZRANDMEMBER's argument checks.
    for args in (["1"], ["-3"], ["0"], ["100"], ["3", "WITHSCORES"], ["-3", "withscores"],
                 ["x"], ["1", "bogus"], ["1", "WITHSCORES", "x"], ["-9223372036854775808"],
                 ["9223372036854775807", "WITHSCORES"], ["-4611686018427387904", "WITHSCORES"],
                 ["4611686018427387903", "WITHSCORES"]):
        add(BASE + [["ZRANDMEMBER", "{k}"] + args])
    # ZSCAN of a listpack set: everything in one page, in order.
    for opts in ([], ["COUNT", "1"], ["MATCH", "b*"], ["MATCH", "*"], ["COUNT", "0"],
                 ["COUNT", "x"], ["MATCH"], ["bogus", "1"], ["match", "?", "count", "100"]):
        add(BASE + [["ZSCAN", "{k}", "0"] + opts])
    for cur in ["x", "-1", " 0", ""]:
        add(BASE + [["ZSCAN", "{k}", cur], ["ZSCAN", "{k2}", cur]])
    add([["ZADD", "{k}", "1.5", "a", "100", "b", "-0", "c", "1e20", "d", "inf", "e",
          "0.1", "f"], ["ZSCAN", "{k}", "0"]])
    return cases


def alg_cases():
    cases = []
    add = cases.append
    base = [["ZADD", "{k}", "1", "a", "2", "b", "3", "c", "inf", "i"],
            ["ZADD", "{k2}", "10", "b", "20", "c", "30", "d", "-inf", "i"],
            ["SADD", "{k3}", "a", "c", "x", "1"]]
    keysets = [["1", "{k}"], ["2", "{k}", "{k2}"], ["3", "{k}", "{k2}", "{k3}"],
               ["2", "{k2}", "{k}"], ["2", "{k}", "{k4}"], ["2", "{k4}", "{k}"], ["1", "{k4}"],
               ["2", "{k}", "{k}"], ["2", "{k3}", "{k}"]]
    opts_list = [[], ["WITHSCORES"], ["WEIGHTS", "2", "3"], ["AGGREGATE", "MIN", "WITHSCORES"],
                 ["AGGREGATE", "max", "WITHSCORES"], ["WEIGHTS", "0", "1", "WITHSCORES"],
                 ["WEIGHTS", "-1", "inf", "WITHSCORES"], ["AGGREGATE", "avg"],
                 ["WEIGHTS", "1"], ["WEIGHTS", "x", "1"], ["WEIGHTS", "nan", "1"],
                 ["AGGREGATE"], ["BOGUS"], ["WEIGHTS", "1", "1", "1"],
                 ["AGGREGATE", "SUM", "AGGREGATE", "MAX", "WITHSCORES"]]
    for op in ("ZUNION", "ZINTER", "ZDIFF"):
        for ks in keysets:
            for opts in opts_list:
                if len(ks) == 3 or opts in ([], ["WITHSCORES"], ["WEIGHTS", "2", "3"],
                                            ["AGGREGATE", "MIN", "WITHSCORES"], ["BOGUS"]):
                    add(base + [[op] + ks + opts])
                    sopts = [o for o in opts if o != "WITHSCORES"]
                    add(base + [[op + "STORE", "{k4}"] + ks + sopts,
                                ["ZRANGE", "{k4}", "0", "-1", "WITHSCORES"],
                                ["OBJECT", "ENCODING", "{k4}"], ["EXISTS", "{k4}"]])
        add(base + [[op + "STORE", "{k}", "2", "{k}", "{k2}"], ["ZRANGE", "{k}", "0", "-1",
                    "WITHSCORES"]])
        add(base + [["SET", "{k4}", "s", "EX", "100"], [op + "STORE", "{k4}", "2", "{k}", "{k2}"],
                    ["TYPE", "{k4}"], ["TTL", "{k4}"]])
        add(base + [["SET", "{k4}", "s"], [op + "STORE", "{k4}", "1", "{nokey}"],
                    ["EXISTS", "{k4}"]])
        for bad in (["0", "{k}"], ["-1", "{k}"], ["x", "{k}"], ["3", "{k}", "{k2}"],
                    ["2", "{k}", "{k2}", "WITHSCORES", "x"], ["9223372036854775808", "{k}"]):
            add(base + [[op] + bad, [op + "STORE", "{k4}"] + bad])
        # WRONGTYPE is found before an option error, as Redis looks the
        # keys up first.
        add(base + [["SET", "{k4}", "s"], [op, "2", "{k}", "{k4}", "BOGUS"],
                    [op, "2", "{k}", "{k4}"], [op + "STORE", "{k}", "2", "{k}", "{k4}"],
                    ["ZCARD", "{k}"]])
    # Floating sums in Redis's order of sources.
    add([["ZADD", "{k}", "0.1", "m"], ["ZADD", "{k2}", "0.2", "m"], ["ZADD", "{k3}", "0.3", "m"],
         ["ZADD", "{k3}", "1", "n"], ["ZUNION", "3", "{k}", "{k2}", "{k3}", "WITHSCORES"],
         ["ZUNION", "3", "{k3}", "{k2}", "{k}", "WITHSCORES"],
         ["ZINTER", "3", "{k3}", "{k}", "{k2}", "WITHSCORES"]])
    for args in (["1", "{k}"], ["2", "{k}", "{k2}"], ["3", "{k}", "{k2}", "{k3}"],
                 ["2", "{k}", "{k2}", "LIMIT", "1"], ["2", "{k}", "{k2}", "limit", "0"],
                 ["2", "{k}", "{k4}"], ["0", "{k}"], ["-1", "{k}"], ["x", "{k}"],
                 ["3", "{k}", "{k2}"], ["2", "{k}", "{k2}", "LIMIT"],
                 ["2", "{k}", "{k2}", "LIMIT", "-1"], ["2", "{k}", "{k2}", "LIMIT", "x"],
                 ["2", "{k}", "{k2}", "WITHSCORES"], ["2", "{k}", "{k2}", "WEIGHTS", "1", "1"]):
        add(base + [["ZINTERCARD"] + args])
    # Inside MULTI/EXEC the cross-shard forms join EXEC's transaction.
    add(base + [["MULTI"], ["ZUNIONSTORE", "{k4}", "2", "{k}", "{k2}"], ["ZPOPMIN", "{k}"],
                ["ZINTER", "2", "{k}", "{k4}", "WITHSCORES"], ["ZMPOP", "2", "{k3}", "{k2}", "MAX"],
                ["ZRANGESTORE", "{k3}", "{k4}", "0", "1"], ["ZINTERCARD", "2", "{k}", "{k2}"],
                ["EXEC"], ["ZRANGE", "{k3}", "0", "-1", "WITHSCORES"]])
    return cases


def other_cases():
    cases = []
    add = cases.append
    on_zset = [["GET", "{k}"], ["INCR", "{k}"], ["APPEND", "{k}", "x"], ["SADD", "{k}", "a"],
               ["SMEMBERS", "{k}"], ["HGET", "{k}", "a"], ["SINTER", "{k}", "{k2}"],
               ["SUNIONSTORE", "{k2}", "{k}"], ["TYPE", "{k}"], ["OBJECT", "ENCODING", "{k}"],
               ["EXISTS", "{k}"], ["SET", "{k}", "now a string"], ["TYPE", "{k}"]]
    add(BASE + on_zset)
    on_str = [["ZADD", "{k}", "1", "a"], ["ZINCRBY", "{k}", "1", "a"], ["ZREM", "{k}", "a"],
              ["ZCARD", "{k}"], ["ZSCORE", "{k}", "a"], ["ZMSCORE", "{k}", "a"],
              ["ZRANK", "{k}", "a"], ["ZREVRANK", "{k}", "a"], ["ZCOUNT", "{k}", "0", "1"],
              ["ZCOUNT", "{k}", "x", "1"], ["ZLEXCOUNT", "{k}", "-", "+"],
              ["ZRANGE", "{k}", "0", "1"], ["ZRANGE", "{k}", "x", "1"],
              ["ZRANGEBYSCORE", "{k}", "0", "1"], ["ZRANGEBYLEX", "{k}", "-", "+"],
              ["ZREMRANGEBYRANK", "{k}", "0", "1"], ["ZREMRANGEBYSCORE", "{k}", "0", "1"],
              ["ZREMRANGEBYLEX", "{k}", "-", "+"], ["ZPOPMIN", "{k}"], ["ZPOPMAX", "{k}", "0"],
              ["ZPOPMIN", "{k}", "-1"], ["ZMPOP", "1", "{k}", "MIN"], ["ZRANDMEMBER", "{k}"],
              ["ZRANDMEMBER", "{k}", "0"], ["ZSCAN", "{k}", "0"], ["ZSCAN", "{k}", "x"],
              ["ZUNION", "1", "{k}"], ["ZINTERCARD", "1", "{k}"], ["ZDIFF", "2", "{k2}", "{k}"],
              ["ZRANGESTORE", "{k2}", "{k}", "0", "1"], ["TYPE", "{k}"]]
    add([["SET", "{k}", "v"]] + on_str)
    add([["HSET", "{k}", "f", "v"]] + on_str[:6])
    # RENAME, COPY, MOVE and DUMP of sorted sets (across shards too).
    add(BASE + [["RENAME", "{k}", "{k2}"], ["ZRANGE", "{k2}", "0", "-1", "WITHSCORES"],
                ["COPY", "{k2}", "{k3}"], ["ZRANGE", "{k3}", "0", "-1", "WITHSCORES"],
                ["ZADD", "{k3}", "9", "z"], ["ZCARD", "{k2}"], ["OBJECT", "ENCODING", "{k3}"],
                ["DUMP", "{k3}"], ["MOVE", "{k3}", "5"], ["EXISTS", "{k3}"], ["SELECT", "5"],
                ["ZCARD", "{k3}"], ["DEL", "{k3}"], ["SELECT", "0"]])
    big = ["ZADD", "{k}"] + [x for i in range(300) for x in (str(i * 0.25), "m%d" % i)]
    add([big, ["RENAME", "{k}", "{k2}"], ["ZRANGE", "{k2}", "100", "110", "WITHSCORES"],
         ["COPY", "{k2}", "{k3}"], ["ZCARD", "{k3}"], ["OBJECT", "ENCODING", "{k3}"],
         ["DUMP", "{k3}"]])
    return cases


def encoding_cases():
    cases = []
    add = cases.append
    for n in (127, 128, 129, 300):
        add([["ZADD", "{k}"] + [x for i in range(n) for x in (str(i), "m%d" % i)],
             ["OBJECT", "ENCODING", "{k}"], ["DUMP", "{k}"], ["ZRANGE", "{k}", "-5", "-1",
                                                              "WITHSCORES"],
             ["ZREM", "{k}"] + ["m%d" % i for i in range(n - 3)], ["OBJECT", "ENCODING", "{k}"],
             ["DUMP", "{k}"], ["ZUNIONSTORE", "{k2}", "1", "{k}"], ["OBJECT", "ENCODING", "{k2}"],
             ["ZRANGESTORE", "{k3}", "{k}", "0", "-1"], ["OBJECT", "ENCODING", "{k3}"]])
    for ln in (64, 65):
        add([["ZADD", "{k}", "1", "a", "2", "x" * ln], ["OBJECT", "ENCODING", "{k}"],
             ["DUMP", "{k}"], ["ZADD", "{k2}", "1", "y" * ln, "2", "b"],
             ["OBJECT", "ENCODING", "{k2}"], ["ZINTERSTORE", "{k3}", "1", "{k}"],
             ["OBJECT", "ENCODING", "{k3}"]])
    # Redis 7.0 starts a new set by its first member's length alone, so
    # 200 pairs of one member stay a listpack.
    add([["ZADD", "{k}"] + ["1", "same"] * 200, ["ZCARD", "{k}"], ["OBJECT", "ENCODING", "{k}"]])
    add([["ZADD", "{k}", "1", "x" * 70, "2", "b"], ["ZREM", "{k}", "x" * 70],
         ["OBJECT", "ENCODING", "{k}"], ["ZADD", "{k2}", "1", "b", "2", "x" * 70],
         ["OBJECT", "ENCODING", "{k2}"], ["ZRANGESTORE", "{k3}", "{k}", "0", "-1", "BYSCORE"],
         ["ZRANGESTORE", "{k3}", "{k}", "0", "-1"], ["OBJECT", "ENCODING", "{k3}"]])
    # Non-integer scores of both encodings, as DUMP writes them.
    add([["ZADD", "{k}", "1.5", "a", "-2.25", "b", "1e20", "c", "inf", "d", "-inf", "e",
          "4611686018427387904", "f", "-4611686018427387904", "g", "0.1", "h", "-0", "i"],
         ["DUMP", "{k}"],
         ["ZADD", "{k}"] + [x for i in range(200) for x in (str(i / 3), "n%d" % i)],
         ["DUMP", "{k}"], ["OBJECT", "ENCODING", "{k}"]])
    return cases


def arity_cases():
    cases = []
    for name, ar in ARITY.items():
        n = ar if ar > 0 else -ar
        cases.append([[name.upper()] + ["{k}"] * (n - 2)])
        if ar > 0:
            cases.append([[name.upper()] + ["{k}"] * n])
    return cases


def random_ops(rnd, n):
    """A random sequence over four keys; every reply deterministic."""
    keys = ["{k}", "{k2}", "{k3}", "{k4}"]
    pool = ["m%d" % i for i in range(30)] + [str(i) for i in range(10)]
    ops = []
    for _ in range(n):
        k = rnd.choice(keys)
        ms = rnd.sample(pool, rnd.randint(1, 4))

        def sc():
            return rnd.choice(["1", "2", "2.5", "-1", "0", "inf", "-inf",
                               str(rnd.randint(-9, 9)), "%.3f" % rnd.uniform(-5, 5)])
        r = rnd.randint(0, 22)
        if r <= 4:
            ops.append(["ZADD", k] + rnd.choice([[], ["NX"], ["XX"], ["GT", "CH"], ["LT"]])
                       + [x for m in ms for x in (sc(), m)])
        elif r == 5:
            ops.append(["ZINCRBY", k, sc(), ms[0]])
        elif r == 6:
            ops.append(["ZREM", k] + ms)
        elif r == 7:
            ops.append(["ZRANGE", k, "0", "-1", "WITHSCORES"])
        elif r == 8:
            ops.append(["ZRANGEBYSCORE", k, rnd.choice(["-inf", "(0", "1"]),
                        rnd.choice(["+inf", "(2", "5"]), "WITHSCORES", "LIMIT",
                        str(rnd.randint(0, 3)), str(rnd.randint(-1, 5))])
        elif r == 9:
            ops.append(["ZRANGEBYLEX", k, rnd.choice(["-", "[m1", "(m2"]),
                        rnd.choice(["+", "[m5", "(m3"])])
        elif r == 10:
            ops.append([rnd.choice(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]), k, "2"]
                       + rnd.sample(keys, 2) + (["WEIGHTS", "2", "0.5"] if rnd.random() < 0.3
                                                and r != 12 else []))
        elif r == 11:
            ops.append([rnd.choice(["ZUNION", "ZINTER"]), "3"] + rnd.sample(keys, 3)
                       + ["AGGREGATE", rnd.choice(["SUM", "MIN", "MAX"]), "WITHSCORES"])
        elif r == 12:
            ops.append(["ZDIFF", "2"] + rnd.sample(keys, 2) + ["WITHSCORES"])
        elif r == 13:
            ops.append([rnd.choice(["ZPOPMIN", "ZPOPMAX"]), k, str(rnd.randint(1, 3))])
        elif r == 14:
            ops.append(["ZMPOP", "2"] + rnd.sample(keys, 2) + [rnd.choice(["MIN", "MAX"]),
                                                              "COUNT", "2"])
        elif r == 15:
            ops.append(["ZRANGESTORE", k, rnd.choice(keys), "0", str(rnd.randint(0, 5))])
        elif r == 16:
            ops.append([rnd.choice(["ZREMRANGEBYRANK", "ZREMRANGEBYSCORE"]), k, "0", "1"])
        elif r == 17:
            ops.append(["ZRANK", k, ms[0]])
        elif r == 18:
            ops.append(["ZCOUNT", k, "(1", "+inf"])
        elif r == 19:
            ops.append(["SADD", k, ms[0]] if rnd.random() < 0.3 else ["ZCARD", k])
        elif r == 20:
            ops.append(["DEL", k])
        elif r == 21:
            ops.append(["ZINTERCARD", "2"] + rnd.sample(keys, 2))
        else:
            ops.append(["TYPE", k])
    return ops


def random_big_ops(rnd, n):
    """Random work on sets above the listpack thresholds (the tree): {k}
    with scores of every kind, {k2} with one score (lex ranges, which Redis
    defines only for equal scores), {k3} a destination."""
    ops = [["ZADD", "{k}"] + [x for i in range(400) for x in (str(rnd.randint(-50, 50) / 4),
                                                               "m%d" % i)],
           ["ZADD", "{k2}"] + [x for i in range(400) for x in ("0", "w%03d" % i)]]
    def score():
        return rnd.choice(["-inf", "+inf", "(%d" % rnd.randint(-15, 15), str(rnd.randint(-15, 15)),
                           "%.2f" % rnd.uniform(-15, 15)])

    def lex():
        return rnd.choice(["-", "+", "[w%03d" % rnd.randint(0, 420), "(w%03d" % rnd.randint(0, 420),
                           "[w%d" % rnd.randint(0, 45)])
    for _ in range(n):
        r = rnd.randint(0, 19)
        lim = (["LIMIT", str(rnd.randint(-1, 30)), str(rnd.randint(-1, 30))]
               if rnd.random() < 0.5 else [])
        if r == 0:
            ops.append(["ZRANGE", "{k}", str(rnd.randint(-450, 450)), str(rnd.randint(-450, 450)),
                        "WITHSCORES"] + (["REV"] if rnd.random() < 0.5 else []))
        elif r == 1:
            ops.append(["ZRANGEBYSCORE", "{k}", score(), score(), "WITHSCORES"] + lim)
        elif r == 2:
            ops.append(["ZREVRANGEBYSCORE", "{k}", score(), score()] + lim)
        elif r == 3:
            ops.append(["ZCOUNT", "{k}", score(), score()])
        elif r == 4:
            ops.append(["ZRANGEBYLEX", "{k2}", lex(), lex()] + lim)
        elif r == 5:
            ops.append(["ZREVRANGEBYLEX", "{k2}", lex(), lex()] + lim)
        elif r == 6:
            ops.append(["ZLEXCOUNT", "{k2}", lex(), lex()])
        elif r == 7:
            ops.append(["ZREMRANGEBYLEX", "{k2}", lex(), lex()])
        elif r == 8:
            i = rnd.randint(-420, 420)
            ops.append(["ZREMRANGEBYRANK", "{k}", str(i), str(i + rnd.randint(0, 3))])
        elif r == 9:
            lo = rnd.randint(-15, 15)
            ops.append(["ZREMRANGEBYSCORE", "{k}", str(lo), "(%s" % (lo + 0.5)])
        elif r == 10:
            ops.append(["ZADD", "{k}", str(rnd.randint(-60, 60) / 4), "n%d" % rnd.randint(0, 500)])
        elif r == 11:
            ops.append(["ZINCRBY", "{k}", str(rnd.randint(-8, 8) / 2), "m%d" % rnd.randint(0, 420)])
        elif r == 12:
            ops.append([rnd.choice(["ZRANK", "ZREVRANK"]), rnd.choice(["{k}", "{k2}"]),
                        rnd.choice(["m%d", "w%03d"]) % rnd.randint(0, 420)])
        elif r == 13:
            ops.append([rnd.choice(["ZPOPMIN", "ZPOPMAX"]), rnd.choice(["{k}", "{k2}"]),
                        str(rnd.randint(1, 3))])
        elif r == 14:
            ops.append(["ZUNIONSTORE", "{k3}", "2", "{k}", "{k2}", "WEIGHTS", "1", "2",
                        "AGGREGATE", rnd.choice(["SUM", "MIN", "MAX"])])
        elif r == 15:
            ops.append(["ZRANGE", "{k3}", str(rnd.randint(0, 800)), str(rnd.randint(0, 800)),
                        "WITHSCORES"])
        elif r == 16:
            ops.append(["ZRANGESTORE", "{k3}", "{k}", score(), score(), "BYSCORE"] + lim)
        elif r == 17:
            ops.append(["ZMSCORE", "{k}"] + ["m%d" % rnd.randint(0, 420) for _ in range(3)])
        elif r == 18:
            ops.append(["ZCARD", rnd.choice(["{k}", "{k2}", "{k3}"])])
        else:
            ops.append(["DUMP", rnd.choice(["{k}", "{k2}", "{k3}"])])
    return ops


class ZsetDiff(skvdiff.DiffTest):
    SKV_ARGS = ("--threads", "2")

    def compare(self, cases, label, rc=None, sc=None):
        rc = rc or self.rc
        sc = sc or self.sc
        bad = []
        ncmds = 0
        for case in cases:
            cmds = self.expand(case)
            ncmds += len(cmds)
            want, got = rc.run(cmds), sc.run(cmds)
            for cmd, w, g in zip(cmds, want, got):
                if not same(cmd, w, g):
                    bad.append((cmd, w, g))
        log = self.skv.log()
        for marker in skvdiff.SANITIZER_MARKERS:
            self.assertNotIn(marker, log, "shardkv-server log:\n" + log[-4000:])
        if bad:
            lines = ["%d of %d commands differ (%s); first ones:" % (len(bad), ncmds, label)]
            for cmd, w, g in bad[:25]:
                lines.append("  %r\n    redis:   %r\n    shardkv: %r" % (cmd[:8], w[:300], g[:300]))
            self.fail("\n".join(lines))
        self.assertGreater(ncmds, 0)

    def test_zadd_and_members(self):
        self.compare(zadd_cases(), "zadd")

    def test_ranges(self):
        self.compare(range_cases(), "ranges")

    def test_pops_random_scan(self):
        self.compare(pop_cases(), "pops")

    def test_algebra(self):
        self.compare(alg_cases(), "algebra")

    def test_other_types_and_keyspace(self):
        self.compare(other_cases(), "wrongtype and keyspace")

    def test_encodings_and_dump(self):
        self.compare(encoding_cases(), "encodings")

    def test_arity(self):
        self.compare(arity_cases(), "arity")

    def test_random_sequences(self):
        for seed in range(1, 7):
            self.compare([random_ops(random.Random(seed), 400)], "random seed %d" % seed)

    def test_random_big_sets(self):
        for seed in range(1, 5):
            self.compare([random_big_ops(random.Random(seed), 500)], "big random seed %d" % seed)

    def test_resp3(self):
        rc, sc = RawConn(self.redis.port), RawConn(self.skv.port)
        try:
            for conn in (rc, sc):
                hello, = conn.run([["HELLO", "3"]])
                self.assertTrue(hello.startswith(b"%"))
            cases = (zadd_cases() + range_cases() + pop_cases() + alg_cases() + other_cases())
            cases.append(random_ops(random.Random(77), 300))
            self.compare(cases, "RESP3", rc, sc)
        finally:
            rc.close()
            sc.close()

    def test_config_thresholds(self):
        # One pipeline per step: a CONFIG SET runs on the connection's
        # thread as it is read, ahead of writes still queued for a shard.
        cases = []
        for name in ("zset-max-listpack-entries", "zset-max-ziplist-entries",
                     "zset-max-listpack-value", "zset-max-ziplist-value"):
            cases.append([["CONFIG", "GET", name]])
        cases += [[["CONFIG", "SET", "zset-max-ziplist-entries", "4"]],
                  [["CONFIG", "GET", "zset-max-listpack-entries"],
                   ["ZADD", "cfg:k", "1", "a", "2", "b", "3", "c", "4", "d"],
                   ["OBJECT", "ENCODING", "cfg:k"], ["ZADD", "cfg:k", "5", "e"],
                   ["OBJECT", "ENCODING", "cfg:k"], ["DUMP", "cfg:k"]],
                  [["CONFIG", "SET", "zset-max-listpack-value", "3"]],
                  [["ZADD", "cfg:k2", "1", "abcd"], ["OBJECT", "ENCODING", "cfg:k2"]],
                  [["CONFIG", "SET", "zset-max-listpack-entries", "128"]],
                  [["CONFIG", "SET", "zset-max-listpack-value", "64"]],
                  [["CONFIG", "SET", "zset-max-listpack-entries", "-1"]],
                  [["CONFIG", "GET", "zset-max-listpack-entries"],
                   ["CONFIG", "GET", "zset-max-ziplist-value"]]]
        self.compare(cases, "config")

    def test_scan_type_zset(self):
        for conn in (self.rc, self.sc):
            conn.run([["ZADD", "st:z1", "1", "a"], ["ZADD", "st:z2", "1", "a"],
                      ["SADD", "st:s", "a"], ["SET", "st:str", "v"]])
        for conn in (self.rc, self.sc):
            seen, cursor = set(), b"0"
            while True:
                reply = conn.run([[b"SCAN", cursor, b"MATCH", b"st:*", b"TYPE", b"zset"]])[0]
                (_, (cur, (_, items))) = parse(reply)[0]
                cursor = cur.split(b"\r\n")[1]
                seen |= {parse(i)[0].split(b"\r\n")[1] for i in items}
                if cursor == b"0":
                    break
            self.assertEqual(seen, {b"st:z1", b"st:z2"})

    def test_random_members_are_members(self):
        pre = b"rm:"
        members = [b"m%d" % i for i in range(300)]
        for conn in (self.rc, self.sc):
            conn.run([[b"ZADD", pre + b"z"] + [x for i, m in enumerate(members)
                                              for x in (b"%d" % i, m)]])
        for args, ws in ((["1"], False), (["5"], False), (["-500"], False), (["200"], False),
                         (["299"], False), (["300"], False), (["1000"], False),
                         (["7", "WITHSCORES"], True), (["-7", "WITHSCORES"], True)):
            for conn in (self.rc, self.sc):
                reply = conn.run([[b"ZRANDMEMBER", pre + b"z"] + [b(a) for a in args]])[0]
                t, items = parse(reply)[0]
                got = [parse(i)[0].split(b"\r\n")[1] for i in items]
                if ws:
                    pairs = list(zip(got[0::2], got[1::2]))
                    self.assertTrue(all(members[int(s)] == m for m, s in pairs))
                    got = got[0::2]
                self.assertTrue(set(got) <= set(members))
                n = int(args[0])
                self.assertEqual(len(got), min(n, 300) if n > 0 else -n)
                if n > 0:
                    self.assertEqual(len(set(got)), len(got), "ZRANDMEMBER repeats")

    def test_zscan_big_set_is_complete(self):
        pre = b"scan:"
        members = [b"m%d" % i for i in range(2000)]
        for conn in (self.rc, self.sc):
            for i in range(0, len(members), 500):
                conn.run([[b"ZADD", pre + b"z"] + [x for j, m in enumerate(members[i:i + 500])
                                                  for x in (b"%d" % (i + j), m)]])
        for opts, want in (([], set(members)),
                           ([b"MATCH", b"m1*"], {m for m in members if m.startswith(b"m1")}),
                           ([b"COUNT", b"500"], set(members))):
            for conn in (self.rc, self.sc):
                seen, cursor, calls = {}, b"0", 0
                while True:
                    reply = conn.run([[b"ZSCAN", pre + b"z", cursor] + opts])[0]
                    (_, (cur, (_, items))) = parse(reply)[0]
                    cursor = cur.split(b"\r\n")[1]
                    vals = [parse(i)[0].split(b"\r\n")[1] for i in items]
                    for m, s in zip(vals[0::2], vals[1::2]):
                        seen[m] = s
                    calls += 1
                    if cursor == b"0":
                        break
                    self.assertLess(calls, 10000)
                self.assertEqual(set(seen), want)
                self.assertTrue(all(seen[m] == m[1:] for m in seen))
                if not opts:
                    self.assertGreater(calls, 10)

    def test_zscan_survives_zrem_of_returned_members(self):
        # Between ZSCAN calls, remove members already returned and add new
        # ones: on both servers every member present for the whole scan
        # comes back (a rank cursor would skip as many as were removed).
        members = [b"m%d" % i for i in range(3000)]
        for conn in (self.rc, self.sc):
            key = b"scanrm:z"
            for i in range(0, len(members), 500):
                conn.run([[b"ZADD", key] + [x for j, m in enumerate(members[i:i + 500])
                                            for x in (b"%d" % (i + j), m)]])
            rng = random.Random(7)
            seen, removed, cursor, calls, extra = set(), set(), b"0", 0, 0
            while True:
                reply = conn.run([[b"ZSCAN", key, cursor, b"COUNT", b"20"]])[0]
                (_, (cur, (_, items))) = parse(reply)[0]
                cursor = cur.split(b"\r\n")[1]
                vals = [parse(i)[0].split(b"\r\n")[1] for i in items]
                seen.update(vals[0::2])
                gone = rng.sample(sorted(seen - removed), min(15, len(seen - removed)))
                if gone:
                    conn.run([[b"ZREM", key] + gone])
                    removed.update(gone)
                conn.run([[b"ZADD", key] + [x for k in range(10)
                                            for x in (b"1", b"new%d" % (extra + k))]])
                extra += 10
                calls += 1
                if cursor == b"0":
                    break
                self.assertLess(calls, 10000)
            stable = set(members) - removed
            self.assertEqual(stable - seen, set(), "members present throughout were skipped")
            self.assertGreater(len(removed), 500)

    def test_dump_restore_both_ways(self):
        # Small (listpack), big (type 5), long members, odd scores: DUMP on
        # one server, RESTORE on the other, the same set comes back and
        # re-DUMPs to the same bytes.
        sets = {
            b"small": [b"1.5", b"a", b"-inf", b"b", b"2", b"c", b"1e20", b"d", b"0.1", b"e"],
            b"big": [x for i in range(1000) for x in (b"%r" % (i * 0.37), b"member:%d" % i)],
            b"long": [b"1", b"x" * 100, b"2", b"y"],
            b"ints": [x for i in range(50) for x in (b"%d" % (i * 1000003), b"%d" % i)],
        }
        for name, args in sets.items():
            for src, dst in ((self.rc, self.sc), (self.sc, self.rc)):
                key = b"dr:" + name + (b":r" if src is self.rc else b":s")
                src.run([[b"ZADD", key] + args])
                payload = src.run([[b"DUMP", key]])[0]
                self.assertTrue(payload.startswith(b"$"), payload[:100])
                body = payload[payload.index(b"\r\n") + 2:-2]
                self.assertEqual(dst.run([[b"RESTORE", key, b"0", body]])[0], b"+OK\r\n")
                rng = [b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]
                self.assertEqual(src.run([rng])[0], dst.run([rng])[0], name)
                self.assertEqual(dst.run([[b"DUMP", key]])[0], payload, name)
                self.assertEqual(src.run([[b"OBJECT", b"ENCODING", key]])[0],
                                 dst.run([[b"OBJECT", b"ENCODING", key]])[0])
        # Bad payloads are refused as Redis refuses them.
        good = self.sc.run([[b"DUMP", b"dr:small:s"]])[0]
        body = bytearray(good[good.index(b"\r\n") + 2:-2])
        body[5] ^= 0xFF
        for conn in (self.rc, self.sc):
            self.assertTrue(conn.run([[b"RESTORE", b"dr:bad", b"0", bytes(body)]])[0]
                            .startswith(b"-ERR DUMP payload version or checksum are wrong"))

    def test_comparison_can_fail(self):
        self.assertFalse(same([b"ZRANGE"], b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
                              b"*2\r\n$1\r\nb\r\n$1\r\na\r\n"))
        self.assertFalse(same([b"ZRANDMEMBER"], b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
                              b"*1\r\n$1\r\na\r\n"))
        self.assertFalse(same([b"ZSCORE"], b"$1\r\n1\r\n", b",1\r\n"))


if __name__ == "__main__":
    skvtest.main()
