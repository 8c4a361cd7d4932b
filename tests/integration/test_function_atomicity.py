#!/usr/bin/python3
"""Property test: an FCALL is atomic across shards (issue 12), as EVAL is.
NACCT counters hold a fixed total over keys spread on several shards.
Movers call a function that moves an amount from one key to another when
the first holds enough (cross-shard for most pairs); readers sum every key
with MGET and with a no-writes function called by FCALL_RO over every key.
The library is loaded through one connection and called through the
others, so every worker's Lua state loads it. A move seen half done shows
as a wrong total or a negative balance. Afterwards the total still holds.

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

LIBRARY = """#!lua name=bank
redis.register_function('move', function(keys, args)
  local have = tonumber(redis.call('get', keys[1]))
  local amount = tonumber(args[1])
  if have < amount then return 0 end
  redis.call('decrby', keys[1], amount)
  redis.call('incrby', keys[2], amount)
  return 1
end)
redis.register_function{function_name='total', flags={'no-writes'},
  callback=function(keys, args)
    local total, low = 0, 0
    for i = 1, #keys do
      local v = tonumber(redis.call('get', keys[i]))
      total = total + v
      if v < low then low = v end
    end
    return {total, low}
  end}
"""


def accounts():
    return ["acct:%d" % i for i in range(NACCT)]


class FunctionAtomicity(unittest.TestCase):
    def test_moves_by_function_are_never_seen_half_done(self):
        keys = accounts()
        total = START * NACCT
        with skvtest.StrictShardkvServer(["--threads", THREADS]) as srv, srv.client() as c:
            for k in keys:
                c.call("SET", k, str(START))
            self.assertEqual(c.call("FUNCTION", "LOAD", LIBRARY), b"bank")
            r = skvrace.Runner(srv.port)

            def mover(r, c, i):
                rnd = random.Random(100 + i)
                while not r.stop.is_set():
                    src, dst = rnd.sample(keys, 2)
                    got = c.call("FCALL", "move", "2", src, dst, str(rnd.randrange(1, 30)))
                    if got not in (0, 1):
                        r.fail("move replied %r" % (got,))
                        return
                    r.count("moves", got)

            def reader(r, c, i):
                while not r.stop.is_set():
                    got = c.pipeline([["MGET"] + keys, ["FCALL_RO", "total", str(NACCT)] + keys])
                    vals = [int(v) for v in got[0]]
                    if sum(vals) != total or min(vals) < 0:
                        r.fail("MGET saw a move half done: %r" % (vals,))
                        return
                    if got[1] != [total, 0]:
                        r.fail("the summing function saw a move half done: %r" % (got[1],))
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


if __name__ == "__main__":
    skvtest.main()
