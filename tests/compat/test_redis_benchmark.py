#!/usr/bin/python3
"""Debian's redis-benchmark against shardkv --threads 2 must finish every
test without an error. This is a compatibility test, not a measurement: no
figure is asserted (tests/bench/compare-redis.sh measures)."""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import ShardkvServer  # noqa: E402

REDIS_BENCHMARK = "/usr/bin/redis-benchmark"


class RedisBenchmark(unittest.TestCase):
    def run_bench(self, port, *args):
        p = subprocess.run([REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(port)] + list(args),
                           capture_output=True, timeout=300)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_pipelined_suite(self):
        with ShardkvServer(["--threads", "2"]) as s:
            rc, out, err = self.run_bench(s.port, "-t", "ping,set,get,incr,mset", "-P", "16",
                                          "-n", "20000", "-q")
            self.assertEqual(rc, 0, out + err)
            text = out + err
            self.assertNotRegex(text, r"(?i)error|warning", text)
            # -q prints one "NAME: N requests per second" line per test.
            names = re.findall(r"^\s*([A-Z_]+(?: \([^)]*\))?):\s*[\d.]+ requests per second",
                               text.replace("\r", "\n"), re.M)
            flat = " ".join(names)
            for t in ("PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET"):
                self.assertIn(t, flat, text)
            with s.client(decode=True) as c:
                # INCR's counter key got every increment exactly once.
                self.assertEqual(int(c.call("GET", "counter:__rand_int__")), 20000)

    def test_list_suite(self):
        with ShardkvServer(["--threads", "2"]) as s:
            rc, out, err = self.run_bench(s.port, "-t", "lpush,rpush,lpop,rpop,lrange", "-P", "16",
                                          "-n", "5000", "-q")
            self.assertEqual(rc, 0, out + err)
            text = out + err
            self.assertNotRegex(text, r"(?i)error|warning", text)
            names = re.findall(r"^\s*([A-Z_0-9]+(?: \([^)]*\))?):\s*[\d.]+ requests per second",
                               text.replace("\r", "\n"), re.M)
            flat = " ".join(names)
            for t in ("LPUSH", "RPUSH", "LPOP", "RPOP", "LRANGE_100", "LRANGE_300", "LRANGE_500",
                      "LRANGE_600"):
                self.assertIn(t, flat, text)
            with s.client(decode=True) as c:
                # LPUSH/RPUSH 5000 each, LPOP/RPOP 5000 each, then 5000
                # LPUSHes for the LRANGE tests; pipelines of 16 from 50
                # clients overshoot a little (redis-server's list ends the
                # same way).
                n = c.call("LLEN", "mylist")
                self.assertTrue(5000 <= n < 5000 + 50 * 16, n)

    def test_random_keys_and_csv(self):
        with ShardkvServer(["--threads", "2"]) as s:
            rc, out, err = self.run_bench(s.port, "-t", "set,get", "-r", "1000", "-d", "32",
                                          "-c", "20", "-n", "5000", "--csv")
            self.assertEqual(rc, 0, out + err)
            rows = [ln for ln in out.splitlines() if ln.startswith('"SET"') or ln.startswith('"GET"')]
            self.assertEqual(len(rows), 2, out)
            with s.client(decode=True) as c:
                n = c.call("DBSIZE")
                self.assertGreater(n, 100)
                vals = c.pipeline([("GET", "key:%012d" % i) for i in range(1000)])
                present = [v for v in vals if v is not None]
                self.assertEqual(len(present), n, "every key is one of the 1000 -r keys")
                self.assertTrue(all(len(v) == 32 for v in present), "-d 32 values intact")


if __name__ == "__main__":
    skvtest.main()
