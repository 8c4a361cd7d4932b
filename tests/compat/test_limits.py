#!/usr/bin/python3
"""Debian's python3-limits (2.8) with its Redis storage against shardkv
(--threads 2) and, as the reference, redis-server: the same rate limiting
on both, whose results must be equal, and no error on either. The
moving-window strategy runs limits's Lua scripts (acquire_moving_window,
moving_window: LINDEX, LPUSH, LTRIM, EXPIRE, LRANGE on one key, by
EVALSHA), the fixed-window strategies its incr_expire script (INCRBY then
EXPIRE) or plain INCRBY/EXPIRE. storage.reset() is left out: its script
runs KEYS with a pattern, which a script may not do here (keys it did not
declare, on every shard). Run directly or through ctest."""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402

from limits import parse, storage, strategies  # noqa: E402  (Debian's python3-limits)


def scenario(port):
    """Run the limiters against the server on port; return what each call
    gave (exceptions as their type name: both servers must agree)."""
    st = storage.RedisStorage("redis://127.0.0.1:%d" % port)
    seen = []

    def see(label, fn):
        try:
            seen.append((label, fn()))
        except Exception as e:  # noqa: BLE001 (compared, not swallowed)
            seen.append((label, "raised " + type(e).__name__))

    see("check", st.check)
    st.storage.flushdb()
    moving = strategies.MovingWindowRateLimiter(st)
    fixed = strategies.FixedWindowRateLimiter(st)
    elastic = strategies.FixedWindowElasticExpiryRateLimiter(st)

    five = parse("5 per 2 seconds")
    see("moving hits", lambda: [moving.hit(five, "a") for _ in range(7)])
    see("moving test", lambda: moving.test(five, "a"))
    see("moving remaining", lambda: moving.get_window_stats(five, "a")[1])
    see("moving other id", lambda: [moving.hit(five, "b", "x") for _ in range(3)])
    see("moving other remaining", lambda: moving.get_window_stats(five, "b", "x")[1])
    see("moving cost", lambda: [moving.hit(five, "c", cost=c) for c in (3, 3, 2, 1)])
    see("moving cost remaining", lambda: moving.get_window_stats(five, "c")[1])
    see("moving clear", lambda: (moving.clear(five, "a"), moving.test(five, "a"),
                                 moving.get_window_stats(five, "a")[1]))
    see("moving list", lambda: st.storage.llen(five.key_for("b", "x")))
    see("moving ttl", lambda: 0 < st.storage.ttl(five.key_for("b", "x")) <= 2)

    two = parse("2/second")
    see("moving per second", lambda: [moving.hit(two, "s") for _ in range(3)])
    time.sleep(1.1)
    see("moving after a second", lambda: (moving.test(two, "s"), moving.hit(two, "s"),
                                          moving.get_window_stats(two, "s")[1]))

    three = parse("3 per 10 seconds")
    see("fixed hits", lambda: [fixed.hit(three, "f") for _ in range(5)])
    see("fixed test", lambda: fixed.test(three, "f"))
    see("fixed remaining", lambda: fixed.get_window_stats(three, "f")[1])
    see("fixed reset in", lambda: 0 < fixed.get_window_stats(three, "f")[0] - time.time() <= 10)
    see("fixed counter", lambda: st.get(three.key_for("f")))
    see("fixed ttl", lambda: 0 < st.storage.ttl(three.key_for("f")) <= 10)
    see("fixed cost", lambda: [fixed.hit(three, "g", cost=c) for c in (2, 2, 1)])
    see("fixed clear", lambda: (fixed.clear(three, "f"), fixed.test(three, "f"),
                                fixed.hit(three, "f"), st.get(three.key_for("f"))))
    see("elastic hits", lambda: [elastic.hit(three, "e") for _ in range(5)])
    see("elastic remaining", lambda: elastic.get_window_stats(three, "e")[1])
    see("elastic ttl", lambda: 0 < st.storage.ttl(three.key_for("e")) <= 10)
    see("storage incr", lambda: [st.incr("plain", 30), st.incr("plain", 30, amount=4),
                                 st.get("plain"), 0 < st.get_expiry("plain") - time.time() <= 30])
    see("storage acquire", lambda: [st.acquire_entry("ae", 2, 30) for _ in range(3)])
    see("storage moving window", lambda: st.get_moving_window("ae", 2, 30)[1])
    see("storage clear", lambda: (st.clear("ae"), st.get_moving_window("ae", 2, 30)[1]))
    st.storage.close()
    return seen


class LimitsCompat(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = skvtest.RedisServer().start()
        cls.skv = skvtest.ShardkvServer(["--threads", "2"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.skv.stop()
        cls.redis.stop()

    def test_same_results_as_redis(self):
        want = scenario(self.redis.port)
        got = scenario(self.skv.port)
        raised = [s for s in want if isinstance(s[1], str) and s[1].startswith("raised ")]
        self.assertEqual(raised, [])
        self.assertEqual(len(got), len(want))
        for w, g in zip(want, got):
            self.assertEqual(g, w, "case %r" % w[0])

    def test_moving_window_admits_exactly_the_limit_under_threads(self):
        # The acquire script reads the list and pushes in one step: threads
        # hitting one limit at once must get exactly its count admitted.
        for name, port in (("redis", self.redis.port), ("shardkv", self.skv.port)):
            st = storage.RedisStorage("redis://127.0.0.1:%d" % port)
            moving = strategies.MovingWindowRateLimiter(st)
            item = parse("50 per minute")
            admitted = []
            errors = []

            def hitter():
                try:
                    for _ in range(30):
                        admitted.append(moving.hit(item, "t", name))
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))

            ts = [threading.Thread(target=hitter) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            st.storage.close()
            self.assertEqual(errors, [], name)
            self.assertEqual(admitted.count(True), 50, name)
            self.assertEqual(len(admitted), 120, name)


if __name__ == "__main__":
    skvtest.main()
