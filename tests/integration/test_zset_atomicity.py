"""Property test: the multi-key sorted set commands are atomic across
shards (issue 11). N members live in NSETS sorted sets, each member in
exactly one set with its number as its score, on a server with several
shards. Movers shift members between sets with MULTI/ZREM/ZADD/EXEC and
ZMPOP + ZADD transactions (cross-shard transactions both), while readers
run ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE, ZUNION, ZINTERCARD and
ZRANGESTORE over the sets. Any state between the two halves of a move is
visible to a command that is not atomic: a member in no set (a union of
N-1, a non-empty difference from the set of all members) or in two (a
non-empty pairwise intersection, a doubled score in a SUM union).
Afterwards the sets still hold exactly the N members once, with their
scores.

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
NSETS = 8     # 8 keys over 4 shards: all on one shard with p = 4 / 4^8
N = 40        # members
MOVERS = 6
READERS = 6

ShardkvServer = skvtest.StrictShardkvServer
Runner = skvrace.Runner


def zsets(tag):
    return ["%s:z:%d" % (tag, i) for i in range(NSETS)]


def members():
    return ["m%d" % i for i in range(N)]


def score_of(m):
    return int(m[1:])


def setup(c, zs, tag):
    rnd = random.Random(1)
    for m in members():
        c.call("ZADD", rnd.choice(zs), score_of(m), m)
    c.call("ZADD", "%s:all" % tag, *[x for m in members() for x in (score_of(m), m)])


def check_final(test, c, zs):
    seen = {}
    for z in zs:
        got = c.call("ZRANGE", z, "0", "-1", "WITHSCORES")
        for m, s in zip(got[0::2], got[1::2]):
            test.assertNotIn(m, seen)
            seen[m.decode()] = float(s)
    test.assertEqual(seen, {m: float(score_of(m)) for m in members()})


class ZsetAtomicity(unittest.TestCase):
    def test_zset_algebra_never_sees_half_a_move(self):
        tag = "zalg"
        zs = zsets(tag)
        with ShardkvServer(["--threads", THREADS]) as srv, srv.client() as c:
            setup(c, zs, tag)
            r = Runner(srv.port)

            def mover(r, c, i):
                rnd = random.Random(100 + i)
                while not r.stop.is_set():
                    src, dst = rnd.sample(zs, 2)
                    if i % 2 == 0:
                        m = rnd.choice(members())
                        c.call("WATCH", src)
                        if c.call("ZSCORE", src, m) is None:
                            c.call("UNWATCH")
                            continue
                        got = c.pipeline([["MULTI"], ["ZREM", src, m],
                                          ["ZADD", dst, score_of(m), m], ["EXEC"]])
                        if got[3] is not None and got[3] != [1, 1]:
                            r.fail("MULTI move replied %r" % (got,))
                            return
                    else:
                        # Pop the lowest of src and add it to dst, in one
                        # transaction whose first reply says what moved.
                        c.call("WATCH", src)
                        low = c.call("ZRANGE", src, "0", "0")
                        if not low:
                            c.call("UNWATCH")
                            continue
                        m = low[0].decode()
                        got = c.pipeline([["MULTI"], ["ZMPOP", "1", src, "MIN"],
                                          ["ZADD", dst, score_of(m), m], ["EXEC"]])
                        ex = got[3]
                        if ex is not None and (ex[1] != 1 or ex[0][1][0][0].decode() != m):
                            r.fail("ZMPOP move replied %r" % (got,))
                            return
                    r.count("moves")

            def reader(r, c, i):
                rnd = random.Random(200 + i)
                dest = "%s:{dest%d}" % (tag, i)
                total = float(sum(score_of(m) for m in members()))
                while not r.stop.is_set():
                    a, b = rnd.sample(zs, 2)
                    got = c.pipeline([
                        ["ZUNIONSTORE", dest, str(NSETS)] + zs,
                        ["ZCARD", dest],
                        ["ZDIFFSTORE", dest, str(NSETS + 1), "%s:all" % tag] + zs,
                        ["ZINTERSTORE", dest, "2", a, b],
                        ["ZINTERCARD", "2", a, b],
                        ["ZUNION", str(NSETS)] + zs + ["WITHSCORES"],
                        ["ZDIFF", str(NSETS + 1), "%s:all" % tag] + zs,
                        ["ZUNIONSTORE", dest, str(NSETS + 1), "%s:all" % tag] + zs
                        + ["AGGREGATE", "SUM"],
                        ["ZRANGESTORE", dest, "%s:all" % tag, "0", "-1"],
                    ])
                    want = [N, N, 0, 0, 0]
                    union = got[5]
                    scores = [float(s) for s in union[1::2]]
                    if (got[:5] != want or len(union) != 2 * N or sum(scores) != total
                            or got[6] != [] or got[7] != N or got[8] != N):
                        r.fail("half a move seen: %r" % (got[:5] + [len(union), got[6:]],))
                        return
                    r.count("reads")

            r.run([mover] * MOVERS + [reader] * READERS, DURATION,
                  until={"moves": 201, "reads": 51})
            self.assertEqual(r.errors, [])
            self.assertEqual(r.failures, [])
            self.assertGreater(r.counts.get("moves", 0), 200)
            self.assertGreater(r.counts.get("reads", 0), 50)
            check_final(self, c, zs)
            # The SUM union of all the sets and "all" doubles every score:
            # each member counted once in the sets, once in "all".
            got = c.call("ZUNION", str(NSETS + 1), "%s:all" % tag, *zs, "WITHSCORES")
            self.assertEqual([float(s) for s in got[1::2]],
                             sorted(2.0 * score_of(m) for m in members()))


if __name__ == "__main__":
    skvtest.main()
