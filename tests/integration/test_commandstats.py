#!/usr/bin/python3
"""INFO commandstats and errorstats against redis-server 7.0: the same
command sequence runs on both servers after CONFIG RESETSTAT, and every
command's calls, rejected_calls and failed_calls, every error code's count
and total_error_replies must be equal (usec differs by nature; its format
is checked). Then what a differential test cannot show: counts
summed over workers when the connections live on different ones, RESETSTAT
clearing them, and timed commands getting a time. Run directly or through
ctest."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import RedisServer, ShardkvServer  # noqa: E402

SEQUENCE = [
    ("SET", "a", "1"), ("GET", "a"), ("GET",), ("INCR", "a"), ("SET", "s", "x"),
    ("INCR", "s"), ("MSET", "k1", "v1", "k2", "v2"), ("MGET", "k1", "k2", "nope"),
    ("MSET", "k1"), ("RENAME", "nokey", "x"), ("RENAME", "k1", "k3"), ("DEL", "k2", "a"),
    ("EXISTS", "k3", "s"), ("CLIENT", "SETNAME", "n1"), ("CLIENT", "SETNAME"),
    ("client", "getname"), ("CLIENT", "NOSUCH"), ("CONFIG", "GET", "maxclients"),
    ("CONFIG", "GET"), ("COMMAND", "COUNT"), ("ECHO", "hi"), ("ECHO",),
    # Inside EXEC: calls and failures count when EXEC runs them.
    ("MULTI",), ("SET", "m", "1"), ("INCR", "s"), ("INCR", "m"), ("CLIENT", "GETNAME"),
    ("EXEC",),
    # Refused while queueing: rejected, and EXEC aborts.
    ("MULTI",), ("GET",), ("SAVE",), ("CLIENT", "SETNAME"), ("SET", "q", "1"), ("EXEC",),
    ("SELECT", "1"), ("SELECT", "99"), ("EXPIRE", "s", "100"), ("TTL", "s"), ("KEYS", "*"),
    ("DBSIZE",), ("SELECT", "0"), ("SCAN", "0"), ("FLUSHDB",), ("DBSIZE",),
]
# Failures on keys of every shard: some run on the connection's own worker,
# some on others (and come back after a direct reply), whatever the seed.
SEQUENCE += [("SET", "f%d" % i, "x") for i in range(16)]
SEQUENCE += [("INCRBY", "f%d" % i, "1") for i in range(16)]
SEQUENCE += [("RENAME", "nokey%d" % i, "f%d" % i) for i in range(16)]

# Not compared: the INFO that reads the stats (Redis counts it only after it
# has answered) and the RESETSTAT before the sequence (ours resets every
# worker after counting itself).
NOT_COMPARED = {"info", "config|resetstat"}

LINE = re.compile(r"^cmdstat_([^:]+):calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),"
                  r"rejected_calls=(\d+),failed_calls=(\d+)$")


def commandstats(c):
    """INFO commandstats as {name: (calls, rejected, failed, usec, per_call)}."""
    text = c.call("INFO", "commandstats")
    text = text.decode() if isinstance(text, bytes) else text
    lines = [x for x in text.split("\r\n") if x]
    assert lines[0] == "# Commandstats", lines[:1]
    out = {}
    for x in lines[1:]:
        m = LINE.match(x)
        assert m, "malformed line %r" % x
        out[m.group(1)] = (int(m.group(2)), int(m.group(5)), int(m.group(6)), int(m.group(3)),
                           float(m.group(4)))
    return out


def run(port):
    """(commandstats, errorstats as {code: count}, total_error_replies)."""
    with skvtest.Client(port) as c:
        c.call("CONFIG", "RESETSTAT")
        for cmd in SEQUENCE:
            c.call(*cmd)
        # A protocol error on a connection of its own (it is closed).
        with skvtest.Client(port) as bad:
            bad.send_raw(b"*1\r\n$x\r\n")
            bad.read_reply()
        cmds = {k: v[:3] for k, v in commandstats(c).items() if k not in NOT_COMPARED}
        errs = {}
        section = skvtest.parse_info(c.call("INFO", "errorstats")).get("errorstats", {})
        for k, v in section.items():
            ok = (k.startswith("errorstat_") and isinstance(v, dict) and set(v) == {"count"}
                  and v["count"].isdigit())
            assert ok, "malformed line %r:%r" % (k, v)
            errs[k[len("errorstat_"):]] = int(v["count"])
        stats = skvtest.parse_info(c.call("INFO", "stats"))["stats"]
        return cmds, errs, int(stats["total_error_replies"])


class Commandstats(unittest.TestCase):
    @unittest.skipUnless(skvtest.have_redis_server(), "redis-server not installed")
    def test_counts_match_redis(self):
        with RedisServer() as r:
            want, want_errs, want_total = run(r.port)
        with ShardkvServer(["--threads", "4"]) as s:
            got, got_errs, got_total = run(s.port)
        self.assertEqual(got_errs, want_errs)
        self.assertEqual(got_total, want_total)
        self.assertGreater(want_errs.get("EXECABORT", 0), 0)
        # The sequence really exercises all three counters.
        self.assertEqual(want["get"], (1, 2, 0))
        self.assertEqual(want["incr"][2], 2)
        self.assertEqual(want["incrby"], (16, 0, 16))
        self.assertEqual(want["rename"], (18, 0, 17))
        self.assertGreater(want["client|setname"][1], 0)
        for name in sorted(set(want) | set(got)):
            self.assertEqual(got.get(name), want.get(name), name)

    def test_summed_over_workers_reset_and_timed(self):
        with ShardkvServer(["--threads", "2"]) as s:
            # Enough connections that both workers serve some (SO_REUSEPORT
            # spreads them), each doing 20 SETs and 10 GETs of its own keys.
            clients = [s.client() for _ in range(6)]
            try:
                for i, c in enumerate(clients):
                    for j in range(20):
                        c.call("SET", "k%d:%d" % (i, j), "v")
                    for j in range(10):
                        c.call("GET", "k%d:%d" % (i, j))
                st = commandstats(clients[0])
                self.assertEqual(st["set"][:3], (120, 0, 0))
                self.assertEqual(st["get"][:3], (60, 0, 0))
                # The first run of a command is always timed.
                self.assertGreater(st["set"][4], 0.0)
                self.assertEqual(clients[0].call("CONFIG", "RESETSTAT"), "OK")
                st = commandstats(clients[0])
                self.assertNotIn("set", st)
                self.assertNotIn("get", st)
            finally:
                for c in clients:
                    c.close()


if __name__ == "__main__":
    skvtest.main()
