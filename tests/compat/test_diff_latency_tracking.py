#!/usr/bin/python3
"""latency-tracking and latency-tracking-info-percentiles against
redis-server 7.0: CONFIG GET/SET byte for byte (Redis's validation errors,
the numbers as Redis prints them), the same settings from a config file
and flags, and INFO latencystats' field names under each setting (off: an
empty section; a list: p<name>= fields in its order, numbers by kind)."""

import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import skvtest  # noqa: E402
from skvdiff import DiffTest  # noqa: E402

P = "latency-tracking-info-percentiles"


class TrackingConfig(DiffTest):
    SKV_ARGS = ("--threads", "2")

    def test_config_get_set(self):
        # (Not by a glob: Redis lists matches in its dictionary's order.)
        both = [["CONFIG", "GET", "latency-tracking"], ["CONFIG", "GET", P]]
        cases = [both]
        for v in ["yes", "no", "YES", "maybe", "", "1", "yes "]:
            cases.append([["CONFIG", "SET", "latency-tracking", v],
                          ["CONFIG", "GET", "latency-tracking"]])
        for v in ["50 99", "", "abc", "101", "-1", "50  99", " 50", "50 ", "50.5 99.99",
                  "1e2", "0", "100", "99.9999", "99.12345678 0 100 -0", "0x10", "nan",
                  "inf", "-inf", "1e400", "1e-400", "1e-320", "0.0000001", "+50", "50,99",
                  "abc 101", "101 abc", "5 4 3 2 1 50 50", "33.333333333", "50\t99",
                  "9" * 200, "50 99 99.9"]:
            cases.append([["CONFIG", "SET", P, v], ["CONFIG", "GET", P]])
        # Checked together, applied together or not at all.
        cases.append([["CONFIG", "SET", P, "1 2 3", "latency-tracking", "maybe"],
                      *both])
        cases.append([["CONFIG", "SET", P, "1 x", "latency-tracking", "no"],
                      *both])
        cases.append([["CONFIG", "SET", P, "1 2 3", "latency-tracking", "no"],
                      *both])
        cases.append([["CONFIG", "SET", "latency-tracking", "yes", P, "50 99 99.9"]])
        self.compare(cases, "latency-tracking config")


def info_shape(port, cmds):
    """INFO latencystats after cmds: {field: [(pname, kind)]}, the INFO
    command's own line left out (Redis counts INFO after its reply)."""
    with skvtest.Client(port) as c:
        for cmd in cmds:
            c.call(*cmd)
        text = c.call("INFO", "latencystats")
    if isinstance(text, bytes):
        text = text.decode()
    lines = text.split("\r\n")
    assert lines[0] == "# Latencystats", lines
    out = {}
    for line in lines[1:]:
        if not line or line.startswith("latency_percentiles_usec_info:"):
            continue
        field, _, rest = line.partition(":")
        pairs = []
        for kv in rest.split(",") if rest else []:
            name, _, val = kv.partition("=")
            # %.3f of microseconds: three decimals, never negative.
            whole, _, frac = val.partition(".")
            assert whole.isdigit() and len(frac) == 3 and frac.isdigit(), line
            pairs.append(name)
        out[field] = pairs
    return out


class TrackingInfo(unittest.TestCase):
    maxDiff = None

    def run_both(self, steps, r_args=(), s_args=()):
        with skvtest.RedisServer(list(r_args)) as r, \
                skvtest.ShardkvServer(["--threads", "2"] + list(s_args)) as s:
            for port in (r.port, s.port):
                with skvtest.Client(port) as c:
                    c.call("CONFIG", "RESETSTAT")
            out = []
            for cmds in steps:
                want = info_shape(r.port, cmds)
                got = info_shape(s.port, cmds)
                self.assertEqual(got, want, cmds)
                out.append(got)
            return out

    def test_info_follows_settings(self):
        work = [["SET", "k%d" % i, "v"] for i in range(8)] + [["GET", "k1"], ["MGET", "k1", "k2"]]
        out = self.run_both([
            work,
            [["CONFIG", "SET", P, "99.12345678 0 100 -0 50"]] + work,
            [["CONFIG", "SET", P, ""]],
            [["CONFIG", "SET", P, "1e1 0x10"]],
            [["CONFIG", "SET", "latency-tracking", "no"]] + work,
            # Back on: what was counted before is there again.
            [["CONFIG", "SET", "latency-tracking", "yes"]],
        ])
        self.assertEqual(out[0]["latency_percentiles_usec_set"], ["p50", "p99", "p99.9"])
        self.assertEqual(out[1]["latency_percentiles_usec_get"],
                         ["p99.123457", "p0", "p100", "p-0", "p50"])
        self.assertEqual(out[2]["latency_percentiles_usec_mget"], [])
        self.assertEqual(out[3]["latency_percentiles_usec_set"], ["p10", "p16"])
        self.assertEqual(out[4], {})
        self.assertIn("latency_percentiles_usec_mget", out[5])

    def test_off_counts_nothing(self):
        # Runs while off are not counted: back on, GET still has one call.
        with skvtest.RedisServer() as r, skvtest.ShardkvServer(["--threads", "2"]) as s:
            got = []
            for port in (r.port, s.port):
                with skvtest.Client(port) as c:
                    c.call("CONFIG", "RESETSTAT")
                    c.call("GET", "x")
                    c.call("CONFIG", "SET", "latency-tracking", "no")
                    for _ in range(5):
                        c.call("GET", "x")
                    c.call("CONFIG", "SET", "latency-tracking", "yes")
                    h = c.call("LATENCY", "HISTOGRAM", "get")
                    got.append(dict(zip(h[1][::2], h[1][1::2]))[b"calls"])
            self.assertEqual(got, [1, 1])

    def test_config_file_and_flags(self):
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, "r.conf")
            with open(conf, "w") as f:
                f.write("latency-tracking-info-percentiles 90 99.5\n")
            # (redis-server takes a file only as its first argument: the
            # same line as flags.)
            with skvtest.RedisServer(["--" + P, "90", "99.5"]) as r, \
                    skvtest.ShardkvServer(["--threads", "2", "--config", conf]) as s:
                for port in (r.port, s.port):
                    with skvtest.Client(port, decode=True) as c:
                        self.assertEqual(c.call("CONFIG", "GET", P), [P, "90 99.5"])
            off = os.path.join(d, "off.conf")
            with open(off, "w") as f:
                f.write("latency-tracking no\nlatency-tracking-info-percentiles \"\"\n")
            with skvtest.ShardkvServer(["--config", off]) as s:
                with skvtest.Client(s.port, decode=True) as c:
                    self.assertEqual(c.call("CONFIG", "GET", "latency-tracking*"),
                                     ["latency-tracking", "no", P, ""])
                    c.call("SET", "a", "b")
                    self.assertEqual(c.call("INFO", "latencystats"), "# Latencystats\r\n")
            with skvtest.ShardkvServer(["--" + P, "1", "2"]) as s:
                with skvtest.Client(s.port, decode=True) as c:
                    self.assertEqual(c.call("CONFIG", "GET", P), [P, "1 2"])
            bad = os.path.join(d, "bad.conf")
            with open(bad, "w") as f:
                f.write("latency-tracking-info-percentiles 50 101\n")
            rc, out, err = skvtest.run_server(["--config", bad])
            self.assertNotEqual(rc, 0)
            self.assertIn("should sit between [0.0,100.0]", out + err)


if __name__ == "__main__":
    skvtest.main()
