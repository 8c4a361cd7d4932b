#!/usr/bin/python3
"""Differential test of the blocking pops: the same command sequences go to a
real redis-server 7.0 and to shardkv-server (--threads 2, so the keys of one
command spread over two shards), and the replies must match byte for byte:
BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP served at once
(the non-blocking path, first key with data in argument order), arity,
syntax and timeout errors (not a float, negative, out of range), WRONGTYPE,
nil after a short timeout, the non-blocking behaviour inside MULTI/EXEC,
RESP3 shapes, CLIENT UNBLOCK (TIMEOUT and ERROR, unknown ids), a waiter
woken by a push from another connection, and a BLMOVE waiter served while
its destination holds another type (WRONGTYPE, nothing popped). Run: /usr/bin/python3
test_diff_blocking.py with SHARDKV_BIN set to the directory holding
shardkv-server.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvdiff  # noqa: E402
import skvtest  # noqa: E402
from skvdiff import RawConn, encode  # noqa: E402

TIMEOUTS = [b"0.01", b"abc", b"", b"-1", b"-0.0001", b"1e400", b"inf", b"nan", b"-inf",
            b" 1", b"1 ", b"0x10", b"9223372036854775807", b"9223372036854775.807",
            b"1e15", b"1e16", b"0.001"]


def fast_cases():
    cases = []
    add = cases.append
    # Served at once from the first key with data, in argument order.
    add([["RPUSH", "{k2}", "a", "b", "c"], ["BLPOP", "{k}", "{k2}", "{k3}", "0"],
         ["BRPOP", "{k}", "{k2}", "0"], ["LRANGE", "{k2}", "0", "-1"],
         ["RPUSH", "{k}", "x"], ["BRPOP", "{k2}", "{k}", "1"], ["BLPOP", "{k2}", "{k}", "0"],
         ["EXISTS", "{k2}"], ["BLPOP", "{k2}", "{k2}", "0.01"]])
    add([["ZADD", "{k3}", "1", "a", "2", "b", "3", "c"], ["BZPOPMIN", "{k}", "{k3}", "0"],
         ["BZPOPMAX", "{k}", "{k2}", "{k3}", "0"], ["ZRANGE", "{k3}", "0", "-1", "WITHSCORES"],
         ["ZADD", "{k}", "-1.5", "m"], ["BZPOPMAX", "{k3}", "{k}", "0"],
         ["BZPOPMIN", "{k}", "{k3}", "0"], ["EXISTS", "{k3}"]])
    add([["RPUSH", "{k}", "1", "2", "3", "4"], ["BLMPOP", "0", "2", "{k2}", "{k}", "LEFT"],
         ["BLMPOP", "0", "1", "{k}", "RIGHT", "COUNT", "2"],
         ["BLMPOP", "0", "1", "{k}", "left", "count", "10"], ["EXISTS", "{k}"]])
    add([["ZADD", "{k2}", "1", "a", "2", "b", "3", "c"],
         ["BZMPOP", "0", "2", "{k}", "{k2}", "MIN"],
         ["BZMPOP", "0", "1", "{k2}", "MAX", "COUNT", "5"], ["EXISTS", "{k2}"]])
    add([["RPUSH", "{k}", "a", "b", "c"], ["BLMOVE", "{k}", "{k2}", "LEFT", "RIGHT", "0"],
         ["BLMOVE", "{k}", "{k2}", "RIGHT", "LEFT", "0"], ["BRPOPLPUSH", "{k}", "{k2}", "0"],
         ["LRANGE", "{k2}", "0", "-1"], ["EXISTS", "{k}"],
         ["BLMOVE", "{k2}", "{k2}", "LEFT", "RIGHT", "0"], ["LRANGE", "{k2}", "0", "-1"]])
    # WRONGTYPE: the first key with a value decides, as in Redis.
    add([["SET", "{k}", "s"], ["RPUSH", "{k2}", "a", "b", "c"], ["BLPOP", "{k}", "{k2}", "0"],
         ["BLPOP", "{k2}", "{k}", "0"], ["BZPOPMIN", "{k2}", "0"],
         ["BLMPOP", "0", "1", "{k}", "LEFT"], ["BZMPOP", "0", "1", "{k2}", "MIN"],
         ["BRPOPLPUSH", "{k}", "{k2}", "0"], ["ZADD", "{k3}", "1", "a"],
         ["BLMOVE", "{k3}", "{k2}", "LEFT", "LEFT", "0"], ["BZPOPMAX", "{k}", "{k3}", "0"]])
    # A destination of the wrong type (on this or another shard): the
    # source keeps its elements in order.
    for src, dst in (("{k}", "{k2}"), ("{k2}", "{k3}"), ("{k3}", "{k4}"), ("{k4}", "{k}")):
        add([["RPUSH", src, "a", "b", "c"], ["SET", dst, "x"],
             ["BLMOVE", src, dst, "LEFT", "RIGHT", "0"], ["BLMOVE", src, dst, "RIGHT", "LEFT", "0"],
             ["BRPOPLPUSH", src, dst, "0"], ["LRANGE", src, "0", "-1"], ["GET", dst]])
    # Timeouts: nil after a short wait (RESP2 null array; BLMOVE too).
    add([["BLPOP", "{k}", "0.01"], ["BRPOP", "{k}", "{k2}", "0.02"],
         ["BZPOPMIN", "{k}", "0.01"], ["BZPOPMAX", "{k}", "{k2}", "0.01"],
         ["BLMPOP", "0.01", "2", "{k}", "{k2}", "LEFT"], ["BZMPOP", "0.01", "1", "{k}", "MAX"],
         ["BLMOVE", "{k}", "{k2}", "LEFT", "LEFT", "0.01"],
         ["BRPOPLPUSH", "{k}", "{k2}", "0.01"], ["EXISTS", "{k}", "{k2}"]])
    # Timeout parsing and its errors (a valid timeout always finds data).
    for t in TIMEOUTS:
        add([["RPUSH", "{k}", "1", "2", "3", "4", "5"], ["BLPOP", "{k}", t],
             ["ZADD", "{k2}", "1", "a"], ["BZPOPMIN", "{k2}", t],
             ["BLMOVE", "{k}", "{k3}", "LEFT", "LEFT", t], ["BRPOPLPUSH", "{k}", "{k3}", t],
             ["BLMPOP", t, "1", "{k}", "LEFT"], ["ZADD", "{k2}", "1", "a"],
             ["BZMPOP", t, "1", "{k2}", "MIN"], ["DEL", "{k}", "{k2}", "{k3}"]])
    # Syntax and counts of the numkeys forms, in Redis's order of checks.
    for args in [["0", "{k}", "LEFT"], ["-1", "{k}", "LEFT"], ["abc", "{k}", "LEFT"],
                 ["2", "{k}", "LEFT"], ["1", "{k}", "MIDDLE"], ["1", "{k}", "LEFT", "COUNT"],
                 ["1", "{k}", "LEFT", "COUNT", "0"], ["1", "{k}", "LEFT", "COUNT", "-1"],
                 ["1", "{k}", "LEFT", "COUNT", "x"], ["1", "{k}", "LEFT", "COUNT", "1", "COUNT", "2"],
                 ["1", "{k}", "LEFT", "BOGUS"], ["1", "{k}", "MIN"], ["1", "{k}", "MAX"],
                 ["3", "{k}", "{k2}", "LEFT"], ["1", "{k}", "left", "count", "3"]]:
        add([["RPUSH", "{k}", "a", "b"], ["BLMPOP", "0.01"] + args, ["BLMPOP", "x"] + args,
             ["BZMPOP", "0.01"] + [a if a not in ("LEFT", "left") else "MIN" for a in args],
             ["BZMPOP", "-1"] + args])
    add([["BLMOVE", "{k}", "{k2}", "UP", "LEFT", "0"], ["BLMOVE", "{k}", "{k2}", "LEFT", "x", "-1"],
         ["BLMOVE", "{k}", "{k2}", "LEFT", "RIGHT", "-1"]])
    # Arity.
    for cmd in [["BLPOP"], ["BLPOP", "{k}"], ["BRPOP", "{k}"], ["BZPOPMIN", "{k}"],
                ["BZPOPMAX"], ["BLMOVE", "{k}", "{k2}", "LEFT", "LEFT"],
                ["BRPOPLPUSH", "{k}", "{k2}"], ["BRPOPLPUSH", "{k}", "{k2}", "0", "0"],
                ["BLMPOP", "0", "1", "{k}"], ["BZMPOP", "0", "1"]]:
        add([cmd])
    # Inside MULTI the commands never block: nil at once, or served.
    add([["MULTI"], ["BLPOP", "{k}", "0"], ["RPUSH", "{k}", "a", "b"], ["BLPOP", "{k}", "{k2}", "0"],
         ["BRPOP", "{k2}", "{k}", "0"], ["BLMOVE", "{k}", "{k2}", "LEFT", "LEFT", "0"],
         ["BRPOPLPUSH", "{k3}", "{k}", "0"], ["BZPOPMIN", "{k}", "0"], ["BZMPOP", "0", "1", "{k3}", "MIN"],
         ["BLMPOP", "0", "2", "{k3}", "{k}", "LEFT"], ["EXEC"]])
    # BLMPOP and BZMPOP inside MULTI (the MPOP plan across shards): the
    # first key that exists decides, WRONGTYPE included.
    add([["SET", "{k2}", "s"], ["RPUSH", "{k3}", "a", "b", "c"], ["ZADD", "{k4}", "1", "a", "2", "b"],
         ["MULTI"], ["BLMPOP", "0", "3", "{k}", "{k2}", "{k3}", "LEFT"],
         ["BLMPOP", "0", "3", "{k}", "{k3}", "{k2}", "RIGHT", "COUNT", "2"],
         ["BLMPOP", "0", "2", "{k}", "{k5}", "LEFT"],
         ["BZMPOP", "0", "3", "{k}", "{k2}", "{k4}", "MAX"],
         ["BZMPOP", "0", "3", "{k}", "{k4}", "{k2}", "MAX", "COUNT", "5"],
         ["BZMPOP", "0", "2", "{k3}", "{k4}", "MIN"], ["EXEC"]])
    add([["MULTI"], ["BLPOP", "{k}", "-1"], ["EXEC"]])
    add([["MULTI"], ["BLPOP", "{k}", "abc"], ["BLMPOP", "0", "0", "{k}", "LEFT"], ["EXEC"]])
    add([["MULTI"], ["ZADD", "{k}", "1", "a"], ["BZPOPMAX", "{k2}", "{k}", "0"], ["EXEC"]])
    return cases


class DiffBlocking(skvdiff.DiffTest):
    SKV_ARGS = ("--threads", "2")

    def test_fast_path_errors_timeouts_multi(self):
        self.compare(fast_cases(), "blocking commands")

    def test_resp3(self):
        rc, sc = RawConn(self.redis.port), RawConn(self.skv.port)
        self.addCleanup(rc.close)
        self.addCleanup(sc.close)
        cases = [[["ZADD", "{k}", "1.5", "a", "2", "b"],
                                        ["BZPOPMIN", "{k}", "0"], ["BZPOPMAX", "{k2}", "{k}", "0"],
                                        ["BLPOP", "{k}", "0.01"], ["BZPOPMIN", "{k}", "0.01"],
                                        ["BLMOVE", "{k}", "{k2}", "LEFT", "LEFT", "0.01"],
                                        ["ZADD", "{k}", "3", "c", "4", "d"],
                                        ["BZMPOP", "0", "1", "{k}", "MAX", "COUNT", "2"],
                                        ["MULTI"], ["BLPOP", "{k}", "0"], ["EXEC"]]]
        rc.run([["HELLO", "3"]])
        sc.run([["HELLO", "3"]])
        self.compare(cases, "RESP3", rc=rc, sc=sc)

    def run_blocked(self, port, cmd, until):
        """Send cmd on a new connection, run until(port) meanwhile from
        another, return the blocked command's reply and until's replies."""
        waiter = RawConn(port)
        self.addCleanup(waiter.close)
        waiter.sock.sendall(encode(cmd))
        time.sleep(0.15)
        other = RawConn(port)
        self.addCleanup(other.close)
        extra = until(other)
        return waiter.read_reply(), extra

    def test_woken_by_push_and_unblock(self):
        replies = {}
        DiffBlocking.ncase += 1
        for name, port in (("redis", self.redis.port), ("shardkv", self.skv.port)):
            k = b"blk%d:" % DiffBlocking.ncase
            out = []
            # Woken by a push; the other keys stay untouched.
            out.append(self.run_blocked(port, [b"BLPOP", k + b"a", k + b"b", b"0"],
                                        lambda o: o.run([[b"RPUSH", k + b"b", b"x", b"y"]])))
            out.append(self.run_blocked(port, [b"BZPOPMAX", k + b"z", b"5"],
                                        lambda o: o.run([[b"ZADD", k + b"z", b"1", b"m",
                                                          b"2", b"n"]])))
            out.append(self.run_blocked(
                port, [b"BLMOVE", k + b"s", k + b"d", b"RIGHT", b"LEFT", b"0"],
                lambda o: o.run([[b"RPUSH", k + b"s", b"1", b"2"]])))
            look = RawConn(port)
            self.addCleanup(look.close)
            out.append(look.run([[b"LRANGE", k + b"d", b"0", b"-1"], [b"LRANGE", k + b"s", b"0", b"-1"]]))
            # A destination of the wrong type when the waiter is served: it
            # gets WRONGTYPE and is unblocked, nothing is popped (pairs on
            # one shard and across shards).
            for i in range(4):
                s, d = k + b"ws%d" % i, k + b"wd%d" % i
                out.append(self.run_blocked(
                    port, [b"BLMOVE", s, d, b"LEFT", b"RIGHT", b"0"],
                    lambda o: o.run([[b"SET", d, b"str"], [b"RPUSH", s, b"1", b"2"]])))
                out.append(look.run([[b"LRANGE", s, b"0", b"-1"], [b"GET", d]]))
            # Served at once (the source has data), the destination wrong.
            out.append(look.run([[b"BRPOPLPUSH", k + b"ws0", k + b"wd%d" % i, b"0"]
                                 for i in range(4)] + [[b"LRANGE", k + b"ws0", b"0", b"-1"]]))
            out.append(self.run_blocked(
                port, [b"BLMPOP", b"0", b"2", k + b"m1", k + b"m2", b"RIGHT", b"COUNT", b"3"],
                lambda o: o.run([[b"RPUSH", k + b"m2", b"1", b"2"]])))
            out.append(self.run_blocked(
                port, [b"BZMPOP", b"0", b"1", k + b"zm", b"MIN", b"COUNT", b"2"],
                lambda o: o.run([[b"ZADD", k + b"zm", b"3", b"c", b"1", b"a", b"2", b"b"]])))
            # Woken by MULTI/EXEC and by RENAME of a list onto the key.
            out.append(self.run_blocked(
                port, [b"BRPOP", k + b"e", b"0"],
                lambda o: o.run([[b"MULTI"], [b"RPUSH", k + b"e", b"1"], [b"RPUSH", k + b"e", b"2"],
                                 [b"EXEC"]])))
            out.append(self.run_blocked(
                port, [b"BLPOP", k + b"r", b"0"],
                lambda o: o.run([[b"RPUSH", k + b"src", b"q"], [b"RENAME", k + b"src", k + b"r"]])))
            # Re-typed while waiting: a string does not wake it, a list does.
            out.append(self.run_blocked(
                port, [b"BLPOP", k + b"t", b"0.5"],
                lambda o: o.run([[b"SET", k + b"t", b"s"], [b"DEL", k + b"t"]])))
            # CLIENT UNBLOCK with TIMEOUT, ERROR, and ids of clients not blocked.
            for how in ([], [b"TIMEOUT"], [b"ERROR"], [b"bogus"]):
                waiter = RawConn(port)
                self.addCleanup(waiter.close)
                wid = waiter.run([[b"CLIENT", b"ID"]])[0][1:-2]
                waiter.sock.sendall(encode([b"BLPOP", k + b"u", b"0"]))
                time.sleep(0.15)
                other = RawConn(port)
                self.addCleanup(other.close)
                un = other.run([[b"CLIENT", b"UNBLOCK", wid] + how,
                                [b"CLIENT", b"UNBLOCK", b"999999"],
                                [b"CLIENT", b"UNBLOCK", b"abc"]])
                if how == [b"bogus"]:
                    other.run([[b"CLIENT", b"UNBLOCK", wid]])
                out.append((waiter.read_reply(), un))
            replies[name] = out
        self.assertEqual(replies["redis"], replies["shardkv"])

    def test_blocked_clients_info(self):
        """INFO blocked_clients and CLIENT LIST flags=b while one waits."""
        for port in (self.redis.port, self.skv.port):
            waiter = RawConn(port)
            self.addCleanup(waiter.close)
            waiter.sock.sendall(encode([b"BLPOP", b"infokey", b"0"]))
            time.sleep(0.15)
            with skvtest.Client(port) as c:
                info = c.call("INFO", "clients")
                self.assertIn(b"blocked_clients:1", info)
                lst = c.call("CLIENT", "LIST")
                self.assertIn(b"flags=b ", lst)
                self.assertEqual(c.call("RPUSH", "infokey", "v"), 1)
            self.assertEqual(waiter.read_reply(), b"*2\r\n$7\r\ninfokey\r\n$1\r\nv\r\n")
            with skvtest.Client(port) as c:
                self.assertIn(b"blocked_clients:0", c.call("INFO", "clients"))


if __name__ == "__main__":
    skvtest.main()
