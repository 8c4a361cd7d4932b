#!/usr/bin/python3
"""lua-allow-undeclared-keys (issue 12, item 3): off, a script touching a
key it did not declare gets an error (Dragonfly's default); on, the script
runs with every shard locked, so it may touch any key and stays atomic:
movers shift amounts between keys they never declare while readers sum
every key with MGET (a cross-shard read), and no reader sees a move half
done. Replies of the scripts are compared with redis-server 7.0 (which has
no such rule: every key is its). Servers run on free loopback ports and are
always stopped.
"""

import threading
import time
import unittest

import skvtest

THREADS = "4"
KEYS = ["u:%d" % i for i in range(8)]
START = 100

SETGET = """
for i = 1, #ARGV do redis.call('set', ARGV[i], i) end
local out = {}
for i = 1, #ARGV do out[i] = redis.call('get', ARGV[i]) end
return out
"""

MOVE = """
local have = tonumber(redis.call('get', ARGV[1]))
if have < 1 then return 0 end
redis.call('decrby', ARGV[1], 1)
redis.call('incrby', ARGV[2], 1)
return 1
"""


class UndeclaredKeys(unittest.TestCase):
    def test_refused_by_default_then_allowed(self):
        with skvtest.StrictShardkvServer(["--threads", THREADS]) as srv, srv.client() as c:
            r = c.call("EVAL", SETGET, "0", *KEYS)
            self.assertIsInstance(r, skvtest.RespError)
            self.assertIn("undeclared key", str(r))
            self.assertEqual(c.call("CONFIG", "SET", "lua-allow-undeclared-keys", "yes"), "OK")
            ours = c.call("EVAL", SETGET, "0", *KEYS)
        with skvtest.RedisServer() as ref, ref.client() as c:
            theirs = c.call("EVAL", SETGET, "0", *KEYS)
        self.assertEqual(ours, theirs)
        self.assertEqual(ours, [str(i + 1).encode() for i in range(len(KEYS))])

    def test_moves_over_undeclared_keys_are_atomic(self):
        with skvtest.StrictShardkvServer(["--threads", THREADS,
                                          "--lua-allow-undeclared-keys", "yes"]) as srv:
            with srv.client() as c:
                for k in KEYS:
                    c.call("SET", k, str(START))
            stop = time.monotonic() + 3.0
            bad, moves = [], [0]

            def mover(seed):
                with srv.client() as c:
                    i = seed
                    while time.monotonic() < stop:
                        a, b = KEYS[i % len(KEYS)], KEYS[(i * 3 + 1) % len(KEYS)]
                        i += 1
                        if a != b:
                            moves[0] += c.call("EVAL", MOVE, "0", a, b)

            def reader():
                with srv.client() as c:
                    while time.monotonic() < stop:
                        vals = [int(v) for v in c.call("MGET", *KEYS)]
                        if sum(vals) != START * len(KEYS) or min(vals) < 0:
                            bad.append(vals)

            ts = [threading.Thread(target=mover, args=(s,)) for s in range(4)]
            ts += [threading.Thread(target=reader) for _ in range(3)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            self.assertEqual(bad, [], "a reader saw a move half done")
            self.assertGreater(moves[0], 0)
            with srv.client() as c:
                vals = [int(v) for v in c.call("MGET", *KEYS)]
            self.assertEqual(sum(vals), START * len(KEYS))


if __name__ == "__main__":
    skvtest.main()
