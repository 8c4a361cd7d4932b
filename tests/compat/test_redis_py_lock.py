#!/usr/bin/python3
"""Debian's python3-redis (4.3) Lock against shardkv and, as the reference,
redis-server: acquire, a second acquirer kept out, extend (EVALSHA of
redis-py's LUA_EXTEND_SCRIPT, loaded on NOSCRIPT), reacquire, release by
the owner only, release of a lock that expired, and a lock contended by
threads, each holder alone inside. Lock's scripts touch one key: they run
on its shard. Run directly or through ctest."""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402

import redis  # noqa: E402  (Debian's python3-redis)
from redis.exceptions import LockError, LockNotOwnedError  # noqa: E402


class LockCompat:
    """The cases, run against self.port (a subclass starts the server)."""

    def r(self):
        c = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)
        self.addCleanup(c.close)
        return c

    def test_acquire_extend_release(self):
        r = self.r()
        r.script_flush()  # the first EVALSHA gets NOSCRIPT, then loads
        lock = r.lock("lk:a", timeout=5, thread_local=False)
        self.assertTrue(lock.acquire(blocking=False))
        self.assertTrue(lock.locked())
        self.assertTrue(lock.owned())
        other = r.lock("lk:a", timeout=5, thread_local=False)
        self.assertFalse(other.acquire(blocking=False))
        self.assertFalse(other.owned())
        self.assertTrue(lock.extend(10))
        self.assertGreater(r.pttl("lk:a"), 10000)
        self.assertTrue(lock.extend(3, replace_ttl=True))
        self.assertLessEqual(r.pttl("lk:a"), 3000)
        self.assertTrue(lock.reacquire())
        self.assertGreater(r.pttl("lk:a"), 4000)
        with self.assertRaises(LockNotOwnedError):
            other.do_release(b"not-the-token")
        self.assertTrue(lock.locked())
        lock.release()
        self.assertFalse(lock.locked())
        self.assertFalse(r.exists("lk:a"))
        with self.assertRaises(LockError):
            lock.release()

    def test_expired_lock_cannot_be_extended_or_released(self):
        r = self.r()
        lock = r.lock("lk:b", timeout=0.2, thread_local=False)
        self.assertTrue(lock.acquire(blocking=False))
        time.sleep(0.4)
        with self.assertRaises(LockNotOwnedError):
            lock.extend(1)
        with self.assertRaises(LockNotOwnedError):
            lock.reacquire()
        with self.assertRaises(LockNotOwnedError):
            lock.release()

    def test_blocking_acquire_waits_for_release(self):
        r = self.r()
        lock = r.lock("lk:c", timeout=5, thread_local=False)
        self.assertTrue(lock.acquire())
        waiter = r.lock("lk:c", timeout=5, blocking_timeout=0.3, sleep=0.05, thread_local=False)
        self.assertFalse(waiter.acquire())
        threading.Timer(0.2, lock.release).start()
        waiter = r.lock("lk:c", timeout=5, blocking_timeout=3, sleep=0.05, thread_local=False)
        self.assertTrue(waiter.acquire())
        waiter.release()

    def test_contended_lock_admits_one_holder_at_a_time(self):
        inside = [0]
        worst = [0]
        entries = [0]
        errors = []
        guard = threading.Lock()

        def worker():
            try:
                c = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)
                for _ in range(15):
                    with c.lock("lk:d", timeout=5, sleep=0.001, blocking_timeout=10):
                        with guard:
                            inside[0] += 1
                            entries[0] += 1
                            worst[0] = max(worst[0], inside[0])
                        time.sleep(0.001)
                        with guard:
                            inside[0] -= 1
                c.close()
            except Exception as e:  # a failure in a thread fails the test
                errors.append(repr(e))

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(entries[0], 90)
        self.assertEqual(worst[0], 1)


class LockShardkv(LockCompat, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = skvtest.ShardkvServer(["--threads", "2"]).start()
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()


class LockRedis(LockCompat, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = skvtest.RedisServer().start()
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()


if __name__ == "__main__":
    skvtest.main()
