#!/usr/bin/python3
"""Debian's python3-django-redis (5.2, on Django 3.2) against shardkv
(--threads 2) and, as the reference, redis-server: the same cache
operations on both, whose results must be equal, and no error on either.
Covers set/get/add, get_many/set_many/delete_many, incr/decr (django-redis
runs them as an EVAL that checks the key exists), lock acquire and release
(redis-py's Lock, its scripts by EVALSHA), keys/iter_keys/delete_pattern
(SCAN with MATCH), and TTLs (ttl, pttl, expire, persist, touch). Django is
set up with settings.configure(), no project. Run directly or through
ctest."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402

import django  # noqa: E402  (Debian's python3-django)
import django.conf  # noqa: E402  (settings: not a module global, which the
#                                  test loader would touch unconfigured)


def near(v, want, slack):
    """A TTL as seen: 'near' if want - slack <= v <= want, else the value."""
    return "near" if v is not None and want - slack <= v <= want else v


def scenario(cache):
    """Run the cache operations, return what each gave (exceptions as their
    type name: both servers must raise the same)."""
    seen = []

    def see(label, fn):
        try:
            seen.append((label, fn()))
        except Exception as e:  # noqa: BLE001 (compared, not swallowed)
            seen.append((label, "raised " + type(e).__name__))

    cache.clear()  # FLUSHDB
    see("set", lambda: cache.set("a", "value", timeout=None))
    see("get", lambda: cache.get("a"))
    see("get missing", lambda: cache.get("missing", default="dflt"))
    see("add existing", lambda: cache.add("a", "other"))
    see("add new", lambda: cache.add("b", {"x": [1, 2]}))
    see("get pickled", lambda: cache.get("b"))
    see("has_key", lambda: (cache.has_key("a"), cache.has_key("zz")))
    # Counters: integers are stored as plain numbers, so INCRBY works.
    see("set counter", lambda: cache.set("n", 10))
    see("incr", lambda: cache.incr("n"))
    see("incr 5", lambda: cache.incr("n", 5))
    see("decr", lambda: cache.decr("n", 3))
    see("incr negative", lambda: cache.incr("n", -20))
    see("get counter", lambda: cache.get("n"))
    see("incr missing", lambda: cache.incr("nope"))
    see("incr big", lambda: (cache.set("big", 2**62), cache.incr("big", 2**62))[1])
    see("get big", lambda: cache.get("big"))
    # Many at once.
    see("set_many", lambda: cache.set_many({"m1": 1, "m2": "two", "m3": [3]}, timeout=100))
    see("get_many", lambda: sorted(cache.get_many(["m1", "m2", "m3", "m4"]).items()))
    see("delete_many", lambda: cache.delete_many(["m1", "m3", "m9"]))
    see("get_many after", lambda: sorted(cache.get_many(["m1", "m2", "m3"]).items()))
    see("delete", lambda: (cache.delete("m2"), cache.delete("m2")))
    # Patterns: SCAN with MATCH over every shard.
    for i in range(30):
        cache.set("user:%d" % i, i)
        cache.set("sess:%d" % i, i)
    see("keys", lambda: sorted(cache.keys("user:*")))
    see("iter_keys", lambda: sorted(cache.iter_keys("sess:1*", itersize=7)))
    see("delete_pattern", lambda: cache.delete_pattern("user:*", itersize=5))
    see("keys after", lambda: (sorted(cache.keys("user:*")), len(cache.keys("sess:*"))))
    # TTLs.
    see("set ttl", lambda: cache.set("t", 1, timeout=100))
    see("ttl", lambda: near(cache.ttl("t"), 100, 2))
    see("pttl", lambda: near(cache.pttl("t"), 100000, 2000))
    see("ttl persistent", lambda: cache.ttl("a"))
    see("ttl missing", lambda: cache.ttl("missing"))
    see("expire", lambda: (cache.expire("a", 50), near(cache.ttl("a"), 50, 2)))
    see("persist", lambda: (cache.persist("a"), cache.ttl("a")))
    see("touch", lambda: (cache.touch("t", 30), near(cache.ttl("t"), 30, 2)))
    see("touch missing", lambda: cache.touch("missing", 30))
    see("set expired", lambda: (cache.set("gone", 1, timeout=0), cache.get("gone")))
    see("incr keeps ttl", lambda: (cache.incr("t"), near(cache.ttl("t"), 30, 2)))
    # The lock: redis-py's Lock on the cache's key.
    lock = cache.lock("lk", timeout=5)
    see("lock acquire", lambda: lock.acquire(blocking=False))
    other = cache.lock("lk", timeout=5)
    see("lock held", lambda: other.acquire(blocking=False))
    see("lock locked", lambda: (lock.locked(), lock.owned(), other.owned()))
    see("lock extend", lambda: lock.extend(10))
    see("lock release", lambda: lock.release())
    see("lock free", lambda: (lock.locked(), other.acquire(blocking=False)))
    see("lock release other", lambda: other.release())
    see("lock release twice", lambda: other.release())
    with cache.lock("lk2", timeout=5):
        see("with lock", lambda: cache.lock("lk2").acquire(blocking=False))
    see("after with", lambda: cache.lock("lk2").acquire(blocking=False))
    return seen


class DjangoRedisCompat(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = skvtest.RedisServer().start()
        cls.skv = skvtest.ShardkvServer(["--threads", "2"]).start()

        def cache(port):
            return {"BACKEND": "django_redis.cache.RedisCache",
                    "LOCATION": "redis://127.0.0.1:%d/0" % port,
                    "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient",
                                "SOCKET_TIMEOUT": 10}}

        django.conf.settings.configure(CACHES={"default": cache(cls.redis.port),
                                   "redis": cache(cls.redis.port),
                                   "shardkv": cache(cls.skv.port)},
                           USE_TZ=True)
        django.setup()

    @classmethod
    def tearDownClass(cls):
        from django.core.cache import caches
        for name in ("redis", "shardkv"):
            caches[name].close()
        cls.skv.stop()
        cls.redis.stop()

    def test_same_results_as_redis(self):
        from django.core.cache import caches
        want = scenario(caches["redis"])
        got = scenario(caches["shardkv"])
        # Nothing raised on Redis but the cases meant to (incr of a
        # missing key, a lock released twice).
        raised = [s for s in want if isinstance(s[1], str) and s[1].startswith("raised ")]
        self.assertEqual([s[0] for s in raised], ["incr missing", "lock release twice"], raised)
        self.assertEqual(len(got), len(want))
        for w, g in zip(want, got):
            self.assertEqual(g, w, "case %r" % w[0])

    def test_incr_is_atomic_under_threads(self):
        # django-redis's incr is an EVAL (EXISTS then INCRBY): concurrent
        # callers must lose no increment.
        import threading
        from django.core.cache import caches
        for name in ("redis", "shardkv"):
            cache = caches[name]
            cache.set("ctr", 0, timeout=None)
            errors = []

            def bump():
                try:
                    for _ in range(100):
                        cache.incr("ctr")
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))

            ts = [threading.Thread(target=bump) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            self.assertEqual(errors, [], name)
            self.assertEqual(cache.get("ctr"), 400, name)


if __name__ == "__main__":
    skvtest.main()
