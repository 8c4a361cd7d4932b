#!/usr/bin/python3
"""Property test: a script is atomic across shards (issue 12). NACCT
counters hold a fixed total over keys spread on several shards. Movers run
a script that moves an amount from one key to another when the first holds
enough (a read-modify-write of two keys, cross-shard for most pairs), by
EVAL and by EVALSHA; readers sum every key with MGET (a cross-shard
transaction) and with a read-only script (EVAL_RO over every key). A move
seen half done shows as a wrong total or a negative balance. Afterwards the
total still holds, and the moves counted match what the keys say.

The server ($SHARDKV_BIN) runs with more shards than cores on a free
loopback port and is always stopped.
"""

import os
import random
import unittest

import skvrace
import skvtest

DURATION = float(os.environ.get("SKV_ATOMICITY_SECONDS", "4"))
THREADS = "4"
NACCT = 8     # 8 keys over 4 shards
START = 100
MOVERS = 6
READERS = 4

MOVE = """
local have = tonumber(redis.call('get', KEYS[1]))
local amount = tonumber(ARGV[1])
if have < amount then return 0 end
redis.call('decrby', KEYS[1], amount)
redis.call('incrby', KEYS[2], amount)
return 1
"""

SUM = """
local total, low = 0, 0
for i = 1, #KEYS do
  local v = tonumber(redis.call('get', KEYS[i]))
  total = total + v
  if v < low then low = v end
end
return {total, low}
"""


def accounts():
    return ["acct:%d" % i for i in range(NACCT)]


class ScriptAtomicity(unittest.TestCase):
    def test_moves_by_script_are_never_seen_half_done(self):
        keys = accounts()
        total = START * NACCT
        with skvtest.StrictShardkvServer(["--threads", THREADS]) as srv, srv.client() as c:
            for k in keys:
                c.call("SET", k, str(START))
            sha = c.call("SCRIPT", "LOAD", MOVE).decode()
            r = skvrace.Runner(srv.port)

            def mover(r, c, i):
                rnd = random.Random(100 + i)
                while not r.stop.is_set():
                    src, dst = rnd.sample(keys, 2)
                    amount = str(rnd.randrange(1, 30))
                    if i % 2:
                        got = c.call("EVALSHA", sha, "2", src, dst, amount)
                    else:
                        got = c.call("EVAL", MOVE, "2", src, dst, amount)
                    if got not in (0, 1):
                        r.fail("move replied %r" % (got,))
                        return
                    r.count("moves", got)

            def reader(r, c, i):
                while not r.stop.is_set():
                    got = c.pipeline([["MGET"] + keys,
                                      ["EVAL_RO", SUM, str(NACCT)] + keys])
                    vals = [int(v) for v in got[0]]
                    if sum(vals) != total or min(vals) < 0:
                        r.fail("MGET saw a move half done: %r" % (vals,))
                        return
                    if got[1] != [total, 0]:  # {sum, min(0, every value)}
                        r.fail("the summing script saw a move half done: %r" % (got[1],))
                        return
                    r.count("reads")

            r.run([mover] * MOVERS + [reader] * READERS, DURATION,
                  until={"moves": 201, "reads": 51})
            self.assertEqual(r.errors, [])
            self.assertEqual(r.failures, [])
            self.assertGreater(r.counts.get("moves", 0), 200)
            self.assertGreater(r.counts.get("reads", 0), 50)
            vals = [int(v) for v in c.call("MGET", *keys)]
            self.assertEqual(sum(vals), total)
            self.assertGreaterEqual(min(vals), 0)

    def test_concurrent_increments_by_script_are_not_lost(self):
        # Each script increments two keys on different shards; afterwards
        # both hold exactly the number of scripts that replied.
        with skvtest.StrictShardkvServer(["--threads", THREADS]) as srv, srv.client() as c:
            pair = ["inc:a", "inc:b"]
            r = skvrace.Runner(srv.port)
            script = ("local a = redis.call('incr', KEYS[1]); local b = redis.call('incr', KEYS[2]); "
                      "return a - b")

            def incr(r, c, i):
                while not r.stop.is_set():
                    got = c.call("EVAL", script, "2", *pair)
                    if got != 0:
                        r.fail("the two counters differ inside the script: %r" % (got,))
                        return
                    r.count("incrs")

            r.run([incr] * 6, DURATION / 2, until={"incrs": 101})
            self.assertEqual(r.errors, [])
            self.assertEqual(r.failures, [])
            n = r.counts.get("incrs", 0)
            self.assertGreater(n, 100)
            self.assertEqual(c.call("MGET", *pair), [str(n).encode()] * 2)


if __name__ == "__main__":
    skvtest.main()
