#!/usr/bin/python3
"""What operators read, against redis-server 7.0: INFO keyspace_hits,
keyspace_misses, expired_keys and evicted_keys after the same command
sequence (the keyspace-notification test's, which reads, misses and
writes over every family; then keys expiring; then eviction of every key
at a 1-byte maxmemory); SLOWLOG and LATENCY replies byte for byte where
they are deterministic (HELP, errors, arities, CONFIG errors, LEN after
RESET, the DOCTOR text with the monitor off), and their shapes where they
are not (entry fields, argument truncation, client address and name,
max-len trimming, latency events of a slow command)."""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import skvtest  # noqa: E402
from skvdiff import DiffTest, RawConn  # noqa: E402
from test_diff_notify import sequence  # noqa: E402

FIELDS = ("keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys")


def stats(port):
    with skvtest.Client(port, decode=True) as c:
        info = skvtest.parse_info(c.call("INFO", "stats"))["stats"]
    return {f: int(info[f]) for f in FIELDS}


def run_all(port, cmds):
    raw = RawConn(port)
    try:
        for cmd in cmds:
            raw.run([cmd])
    finally:
        raw.close()


class InfoCounters(unittest.TestCase):
    maxDiff = None
    ARGS = ("--threads", "2")

    def test_same_counts_as_redis(self):
        with skvtest.RedisServer() as r, skvtest.ShardkvServer(list(self.ARGS)) as s:
            with skvtest.Client(r.port) as c:
                c.call("SET", "payload-src", "hello")
                payload = c.call("DUMP", "payload-src")
                c.call("DEL", "payload-src")
            cmds = [["CONFIG", "RESETSTAT"]] + sequence(b"o:", payload)
            cmds += [["SET", "keep%d" % i, "v"] for i in range(50)]
            for port in (r.port, s.port):
                run_all(port, cmds)
            want, got = stats(r.port), stats(s.port)
            self.assertGreater(want["keyspace_hits"], 10)
            self.assertGreater(want["keyspace_misses"], 10)
            self.assertEqual(got, want, "after the notification sequence")
            # Keys whose TTL passed: reaped by active expiry or by a read.
            for port in (r.port, s.port):
                run_all(port, [["SET", "exp%d" % i, "v", "PX", "30"] for i in range(20)])
            time.sleep(0.5)
            for port in (r.port, s.port):
                run_all(port, [["GET", "exp%d" % i] for i in range(0, 20, 2)])
            want, got = stats(r.port), stats(s.port)
            self.assertGreaterEqual(want["expired_keys"], 20)
            self.assertEqual(got, want, "after expiry")
            # A 1-byte bound: every key is evicted, then writes are refused.
            for port in (r.port, s.port):
                with skvtest.Client(port, decode=True) as c:
                    self.assertEqual(c.call("CONFIG", "SET", "maxmemory-policy",
                                            "allkeys-random"), "OK")
                    self.assertEqual(c.call("CONFIG", "SET", "maxmemory", "1"), "OK")
                    c.call("SET", "x", "y")
            deadline = time.time() + 5
            while time.time() < deadline:
                if all(skvtest.Client(p).call("DBSIZE") == 0 for p in (r.port, s.port)):
                    break
                time.sleep(0.1)
            for port in (r.port, s.port):
                with skvtest.Client(port, decode=True) as c:
                    c.call("CONFIG", "SET", "maxmemory", "0")
            want, got = stats(r.port), stats(s.port)
            self.assertGreater(want["evicted_keys"], 40)
            self.assertEqual(got, want, "after eviction")
            # CONFIG RESETSTAT zeroes them all.
            for port in (r.port, s.port):
                run_all(port, [["CONFIG", "RESETSTAT"]])
            self.assertEqual(stats(s.port), {f: 0 for f in FIELDS})


class InfoCountersOneThread(InfoCounters):
    ARGS = ("--threads", "1")


class SlowlogLatencyDiff(DiffTest):
    """Byte-for-byte where Redis's reply is deterministic."""

    SKV_ARGS = ("--threads", "2")

    def test_help_errors_and_config(self):
        self.compare([
            [["SLOWLOG", "HELP"]], [["LATENCY", "HELP"]],
            [["SLOWLOG"]], [["SLOWLOG", "FOO"]], [["SLOWLOG", "GET", "abc"]],
            [["SLOWLOG", "GET", "-2"]], [["SLOWLOG", "GET", "1", "2"]],
            [["SLOWLOG", "GET", "+1"]], [["SLOWLOG", "LEN", "x"]], [["SLOWLOG", "RESET", "x"]],
            [["SLOWLOG", "HELP", "x"]], [["LATENCY"]], [["LATENCY", "FOO"]],
            [["LATENCY", "LATEST", "x"]], [["LATENCY", "HISTORY"]],
            [["LATENCY", "HISTORY", "nosuchevent"]], [["LATENCY", "RESET", "a", "b"]],
            [["LATENCY", "RESET"]], [["LATENCY", "DOCTOR"]], [["LATENCY", "DOCTOR", "x"]],
            [["LATENCY", "HELP", "x"]],
            [["CONFIG", "GET", "slowlog-log-slower-than"]], [["CONFIG", "GET", "slowlog-max-len"]],
            [["CONFIG", "GET", "latency-monitor-threshold"]],
            [["CONFIG", "SET", "slowlog-log-slower-than", "-2"]],
            [["CONFIG", "SET", "slowlog-log-slower-than", "x"]],
            [["CONFIG", "SET", "slowlog-max-len", "-1"]],
            [["CONFIG", "SET", "latency-monitor-threshold", "-1"]],
            [["CONFIG", "SET", "slowlog-max-len", "128"]],
            # Nothing at the default threshold is that slow: LEN after RESET.
            [["SLOWLOG", "RESET"], ["SLOWLOG", "LEN"], ["SLOWLOG", "GET"]],
        ], "slowlog/latency")


class SlowlogShapes(unittest.TestCase):
    """Entries as Redis makes them: compared field by field, ids, times and
    durations by their kind."""

    maxDiff = None

    def entries(self, port, name, cmds, max_len=128):
        with skvtest.Client(port) as c:
            c.call("CLIENT", "SETNAME", name)
            c.call("CONFIG", "SET", "slowlog-max-len", str(max_len))
            c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
            c.call("SLOWLOG", "RESET")
            for cmd in cmds:
                c.call(*cmd)
            c.call("CONFIG", "SET", "slowlog-log-slower-than", "-1")
            n = c.call("SLOWLOG", "LEN")
            got = c.call("SLOWLOG", "GET", "-1")
            local = c.call("CLIENT", "INFO")
        self.assertEqual(len(got), n)
        addr = [f.split(b"=", 1)[1] for f in local.split() if f.startswith(b"addr=")][0]
        for e in got:
            self.assertEqual(len(e), 6, e)
            self.assertIsInstance(e[0], int)
            self.assertLess(abs(e[1] - time.time()), 10)
            self.assertGreaterEqual(e[2], 0)
            self.assertEqual(e[4], b"?:0" if e[3][0] == b"get" else addr, e)
        ids = [e[0] for e in got]
        self.assertEqual(ids, sorted(ids, reverse=True))
        self.assertEqual(len(set(ids)), len(ids))
        return [(e[3], e[5]) for e in got]

    def check(self, skv_args):
        cmds = [
            ["SET", "k", "v"], ["GET", "k"], ["SET", "big", "x" * 300],
            # With two workers some of these keys are on the other one: the
            # entry made on its shard thread still has the client's name.
            *[["SET", "r%d" % i, "v"] for i in range(16)],
            *[["GET", "r%d" % i] for i in range(16)],
            # A script's call is logged with Redis's Lua client ("?:0", no
            # name); a blocking pop only as itself, never its inner pop.
            ["EVAL", "return redis.call('get', KEYS[1])", "1", "r3"],
            ["RPUSH", "q", "a"], ["BLPOP", "q", "0"],
            ["MSET"] + ["a%d" % i if j % 2 == 0 else "v" for i in range(25) for j in range(2)],
            ["PING"],
            ["SADD", "s"] + ["m%d" % i for i in range(40)],
            ["DEL", "k"],
            # EXEC itself is not logged, each command it runs is.
            ["MULTI"], ["SET", "k", "w"], ["MSET", "a1", "x", "a2", "y", "a3", "z"],
            ["GET", "k"], ["PING"], ["EXEC"],
        ]
        with skvtest.RedisServer() as r, skvtest.ShardkvServer(list(skv_args)) as s:
            want = self.entries(r.port, "opsclient", cmds)
            got = self.entries(s.port, "opsclient", cmds)
            self.assertEqual(got, want)
            # Trimmed to slowlog-max-len, newest kept.
            want = self.entries(r.port, "x", cmds, max_len=3)
            got = self.entries(s.port, "x", cmds, max_len=3)
            self.assertEqual(len(got), 3)
            self.assertEqual([a for a, _ in got], [a for a, _ in want])

    def test_entries_one_thread(self):
        self.check(("--threads", "1"))

    def test_entries_two_threads(self):
        # MSET's keys are on both shards: it is logged at its merged reply.
        self.check(("--threads", "2"))

    def test_auth_is_redacted(self):
        with skvtest.ShardkvServer(["--requirepass", "pw"]) as s, \
                skvtest.RedisServer(["--requirepass", "pw"]) as r:
            out = []
            for port in (r.port, s.port):
                with skvtest.Client(port) as c:
                    c.call("AUTH", "pw")
                    c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
                    c.call("AUTH", "pw")
                    c.call("CONFIG", "SET", "slowlog-log-slower-than", "-1")
                    out.append(c.call("SLOWLOG", "GET", "1")[0][3])
            self.assertEqual(out[1], out[0])
            self.assertEqual(out[0], [b"AUTH", b"(redacted)"])


class LatencyHistogram(unittest.TestCase):
    """Redis 7.0's per-command latency tracking: LATENCY HISTOGRAM and INFO
    latencystats count every run, by command and subcommand."""

    BOUNDS = {1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16908, 33816}

    def run_on(self, port):
        with skvtest.Client(port) as c:
            c.call("CONFIG", "RESETSTAT")
            for i in range(5):
                c.call("SET", "k%d" % i, "v")
                c.call("GET", "k%d" % i)
            c.call("MSET", "a", "1", "b", "2", "c", "3", "d", "4")
            c.call("MULTI")
            c.call("GET", "k1")
            c.call("EXEC")
            c.call("CONFIG", "GET", "maxmemory")
            none = c.call("LATENCY", "HISTOGRAM", "nosuchcommand")
            h = c.call("LATENCY", "HISTOGRAM", "set", "GET", "mset", "config|get", "exec")
            info = skvtest.parse_info(c.call("INFO", "latencystats"))["latencystats"]
        hist = {}
        for name, body in zip(h[::2], h[1::2]):
            body = dict(zip(body[::2], body[1::2]))
            pts = body[b"histogram_usec"]
            hist[name] = (body[b"calls"], pts[::2], pts[1::2])
        return none, hist, info

    def test_like_redis(self):
        with skvtest.RedisServer() as r, skvtest.ShardkvServer(["--threads", "2"]) as s:
            want = self.run_on(r.port)
            got = self.run_on(s.port)
        self.assertEqual(got[0], want[0])  # no such command: an empty map
        self.assertEqual(sorted(got[1]), sorted(want[1]))
        for name, (calls, bounds, cums) in got[1].items():
            self.assertEqual(calls, want[1][name][0], name)
            self.assertTrue(set(bounds) <= self.BOUNDS, (name, bounds))
            self.assertEqual(bounds, sorted(bounds))
            self.assertEqual(cums, sorted(cums))
            self.assertEqual(cums[-1], calls)
        # INFO is counted once its own reply is built in Redis; here when it
        # has asked the shards, so this INFO may list itself already.
        info = "latency_percentiles_usec_info"
        self.assertEqual(sorted(set(got[2]) - {info}), sorted(set(want[2]) - {info}))
        for line in got[2].values():
            self.assertEqual(sorted(line), ["p50", "p99", "p99.9"])
            p50, p99, p999 = (float(line[k]) for k in ("p50", "p99", "p99.9"))
            self.assertTrue(0 < p50 <= p99 <= p999, line)


def latest_max(latest, event):
    return [e[3] for e in latest if e[0] == event][0]


class LatencyEvents(unittest.TestCase):
    def events(self, port):
        members = ["m%d" % i for i in range(300000)]
        with skvtest.Client(port, timeout=60) as c:
            c.call("CONFIG", "SET", "latency-monitor-threshold", "1")
            c.call("LATENCY", "RESET")
            c.call("SADD", "big", *members)   # fast-command, one slow run
            c.call("SMEMBERS", "big")         # command (not @fast)
            # No more samples while the figures are read.
            c.call("CONFIG", "SET", "latency-monitor-threshold", "1000000")
            latest = c.call("LATENCY", "LATEST")
            hist = {e[0]: c.call("LATENCY", "HISTORY", e[0]) for e in latest}
            doctor = c.call("LATENCY", "DOCTOR")
            graph = c.call("LATENCY", "GRAPH", "command")
            nograph = c.call("LATENCY", "GRAPH", "nosuchevent")
            resets = c.call("LATENCY", "RESET", "command")
            after = c.call("LATENCY", "LATEST")
            c.call("CONFIG", "SET", "latency-monitor-threshold", "0")
        return latest, hist, doctor, resets, after, graph, nograph

    def test_events_like_redis(self):
        with skvtest.RedisServer() as r, skvtest.ShardkvServer(["--threads", "2"]) as s:
            want = self.events(r.port)
            got = self.events(s.port)
        self.assertEqual(got[6], want[6])  # GRAPH's error for an unknown event
        for latest, hist, doctor, resets, after, graph, _ in (want, got):
            # A column per sample: 4 rows of the curve, a blank row, the
            # labels ("0s") downwards; high and low are HISTORY's.
            vals = [v for _, v in hist[b"command"]]
            n = len(vals)
            lines = graph.decode().split("\n")
            self.assertEqual(lines[0], "command - high %d ms, low %d ms (all time high %d ms)"
                             % (max(vals), min(vals), latest_max(latest, b"command")))
            self.assertEqual(lines[1], "-" * 80)
            self.assertTrue(all(len(l) == n for l in lines[2:-1]), lines)
            self.assertEqual(lines[6], " " * n)
            self.assertEqual(lines[-1], "")
            tallest = vals.index(max(vals))
            self.assertIn(lines[2][tallest], "_o#|" if min(vals) != max(vals) else " ")
            names = sorted(e[0] for e in latest)
            self.assertEqual(names, [b"command", b"fast-command"], latest)
            for e in latest:
                self.assertEqual(len(e), 4)
                self.assertLess(abs(e[1] - time.time()), 10)
                self.assertGreaterEqual(e[2], 1)
                self.assertGreaterEqual(e[3], e[2])
                # (A fast admin command may have crossed 1 ms too.)
                self.assertGreaterEqual(len(hist[e[0]]), 1)
                self.assertEqual(hist[e[0]][-1], [e[1], e[2]])
            self.assertEqual(resets, 1)
            self.assertEqual([e[0] for e in after], [b"fast-command"])
            text = doctor.decode() if isinstance(doctor, bytes) else str(doctor)
            self.assertIn("Dave, I have observed latency spikes", text)
            self.assertIn("command: 1 latency spikes", text)
            self.assertIn("fast-command: 1 latency spikes", text)
            self.assertIn("- Check your Slow Log", text)


if __name__ == "__main__":
    skvtest.main()
