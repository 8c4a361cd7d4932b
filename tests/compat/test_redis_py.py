#!/usr/bin/python3
"""Debian's python3-redis (4.3) against shardkv: the calls applications make
most — pipelines without transactions, SET with EX, MGET, INCR, SCAN
iteration, client names, Redis(db=1), INFO and CONFIG helpers, a pool shared
by threads. Run directly or through ctest."""

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import ShardkvServer  # noqa: E402

import redis  # noqa: E402  (Debian's python3-redis)


class RedisPy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.skv = ShardkvServer(["--threads", "2"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.skv.stop()

    def r(self, **kw):
        c = redis.Redis(host="127.0.0.1", port=self.skv.port, socket_timeout=10, **kw)
        self.addCleanup(c.close)
        return c

    def test_basic(self):
        r = self.r(decode_responses=True)
        self.assertTrue(r.ping())
        self.assertTrue(r.set("py:k", "v"))
        self.assertEqual(r.get("py:k"), "v")
        self.assertIsNone(r.get("py:missing"))
        self.assertEqual(r.incr("py:n"), 1)
        self.assertEqual(r.incr("py:n", 10), 11)
        self.assertEqual(r.echo("hi"), "hi")
        with self.assertRaises(redis.ResponseError):
            r.incr("py:k")

    def test_set_ex(self):
        r = self.r()
        self.assertTrue(r.set("py:ttl", b"v", ex=100))
        ttl = r.ttl("py:ttl")
        self.assertTrue(95 <= ttl <= 100, ttl)
        self.assertTrue(r.set("py:pttl", b"v", px=50000))
        self.assertTrue(45000 <= r.pttl("py:pttl") <= 50000)
        self.assertIsNone(r.set("py:ttl", b"w", nx=True))

    def test_mget_and_pipeline(self):
        r = self.r()
        pipe = r.pipeline(transaction=False)
        for i in range(500):
            pipe.set("py:p:%d" % i, i)
        for i in range(500):
            pipe.incr("py:p:%d" % i)
        res = pipe.execute()
        self.assertEqual(res[:500], [True] * 500)
        self.assertEqual(res[500:], list(range(1, 501)))
        vals = r.mget(["py:p:%d" % i for i in range(500)] + ["py:p:none"])
        self.assertEqual(vals[:500], [b"%d" % (i + 1) for i in range(500)])
        self.assertIsNone(vals[500])

    def test_scan_iter(self):
        r = self.r(db=7)
        want = set()
        for i in range(1200):
            r.set("scan:%d" % i, "x")
            want.add(b"scan:%d" % i)
        r.set("other", "x")
        got = set(r.scan_iter(match="scan:*", count=100))
        self.assertEqual(got, want)
        self.assertEqual(len(set(r.scan_iter())), 1201)

    def test_client_name(self):
        r = self.r()
        self.assertTrue(r.client_setname("py-client"))
        self.assertEqual(r.client_getname(), "py-client")
        names = [c.get("name") for c in r.client_list()]
        self.assertIn("py-client", names)
        self.assertIsInstance(r.client_id(), int)

    def test_db_selection(self):
        r0, r1 = self.r(), self.r(db=1)
        r0.set("py:db", "zero")
        r1.set("py:db", "one")
        self.assertEqual(r0.get("py:db"), b"zero")
        self.assertEqual(r1.get("py:db"), b"one")
        r1.delete("py:db")
        self.assertIsNone(r1.get("py:db"))
        self.assertEqual(r0.get("py:db"), b"zero")

    def test_info_config_time(self):
        r = self.r()
        info = r.info()
        self.assertIn("redis_version", info)
        self.assertIn("used_memory", info)
        self.assertEqual(r.info("server")["tcp_port"], self.skv.port)
        self.assertEqual(r.config_get("maxclients"), {"maxclients": "10000"})
        self.assertTrue(r.config_set("timeout", 0))
        secs, usecs = r.time()
        self.assertGreater(secs, 1600000000)
        self.assertTrue(r.dbsize() >= 0)

    def test_pool_threads(self):
        pool = redis.ConnectionPool(host="127.0.0.1", port=self.skv.port, max_connections=8)
        r = redis.Redis(connection_pool=pool)
        self.addCleanup(pool.disconnect)
        errors = []

        def work(t):
            try:
                for i in range(200):
                    r.incr("py:shared")
                    r.set("py:t%d:%d" % (t, i), i)
            except Exception as e:  # reported below
                errors.append(e)

        ths = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(int(r.get("py:shared")), 1600)


if __name__ == "__main__":
    skvtest.main()
