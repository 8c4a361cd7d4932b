"""Property test: LMOVE, RPOPLPUSH and LMPOP are atomic across shards
(issue 11). N distinct elements live in NLISTS lists on a server with
several shards. Movers shift elements between lists with LMOVE (every
pair of ends), RPOPLPUSH, and LMPOP followed by a push in one MULTI,
while readers take every list in one MULTI/EXEC (atomic across shards:
it holds all the keys) and check that the lists hold exactly the N
elements, each once: half a move shows as an element missing or twice.
Afterwards the lists still hold exactly the N elements once. BLMOVE and
BRPOPLPUSH served across shards (blocked, then woken) are one step too:
readers summing LLEN of every list in one MULTI/EXEC always see N.

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
NLISTS = 8    # 8 keys over 4 shards
N = 40        # elements
MOVERS = 6
READERS = 4
ENDS = ("LEFT", "RIGHT")

ShardkvServer = skvtest.StrictShardkvServer
Runner = skvrace.Runner


def lists(tag):
    return ["%s:list:%d" % (tag, i) for i in range(NLISTS)]


def elements():
    return [b"e%d" % i for i in range(N)]


def setup_lists(c, ls):
    rnd = random.Random(1)
    for e in elements():
        c.call("RPUSH", rnd.choice(ls), e)


def snapshot(c, ls):
    """Every list's elements, read in one transaction."""
    got = c.pipeline([["MULTI"]] + [["LRANGE", k, 0, -1] for k in ls] + [["EXEC"]])
    return got[-1]


class ListAtomicity(unittest.TestCase):
    def test_moves_never_seen_half_done(self):
        ls = lists("lm")
        with ShardkvServer(["--threads", THREADS]) as srv, srv.client() as c:
            setup_lists(c, ls)
            r = Runner(srv.port)

            def mover(r, c, i):
                rnd = random.Random(100 + i)
                n = 0
                while not r.stop.is_set():
                    src, dst = rnd.sample(ls, 2)
                    kind = (i + n) % 3
                    if kind == 0:
                        got = c.call("LMOVE", src, dst, rnd.choice(ENDS), rnd.choice(ENDS))
                    elif kind == 1:
                        got = c.call("RPOPLPUSH", src, dst)
                    else:
                        # LMPOP from several lists, pushed on in the same
                        # transaction: never seen without its element.
                        keys = rnd.sample(ls, 3)
                        res = c.pipeline([["MULTI"], ["LMPOP", 3] + keys + [rnd.choice(ENDS)],
                                          ["EXEC"]])[-1]
                        popped = res[0] if res else None
                        if popped is not None:
                            key, elems = popped
                            if len(elems) != 1:
                                r.fail("LMPOP replied %r" % (popped,))
                                return
                            c.call("RPUSH", dst, elems[0])
                        got = None
                    if got is not None and got not in elements():
                        r.fail("move replied %r" % (got,))
                        return
                    n += 1
                    r.count("moves")

            def reader(r, c, i):
                while not r.stop.is_set():
                    snap = snapshot(c, ls)
                    seen = sorted(e for part in snap for e in part)
                    # An LMPOP move is two commands (pop, then push): an
                    # element may be missing in between, never doubled.
                    if len(seen) != len(set(seen)) or len(seen) < N - MOVERS or \
                            not set(seen) <= set(elements()):
                        r.fail("half a move seen: %d elements %r" % (len(seen), seen))
                        return
                    r.count("reads")

            r.run([mover] * MOVERS + [reader] * READERS, DURATION,
                  until={"moves": 201, "reads": 51})
            self.assertEqual(r.errors, [])
            self.assertEqual(r.failures, [])
            self.assertGreater(r.counts.get("moves", 0), 200)
            self.assertGreater(r.counts.get("reads", 0), 50)
            final = sorted(e for part in snapshot(c, ls) for e in part)
            self.assertEqual(final, sorted(elements()))

    def test_lmove_only_keeps_the_count_exact(self):
        # Only LMOVE and RPOPLPUSH (each atomic on its own): every reader
        # snapshot holds all N elements, exactly once.
        ls = lists("exact")
        with ShardkvServer(["--threads", THREADS]) as srv, srv.client() as c:
            setup_lists(c, ls)
            r = Runner(srv.port)

            def mover(r, c, i):
                rnd = random.Random(300 + i)
                while not r.stop.is_set():
                    cmds = []
                    for _ in range(4):
                        src, dst = rnd.sample(ls, 2)
                        if rnd.random() < 0.75:
                            cmds.append(["LMOVE", src, dst, rnd.choice(ENDS), rnd.choice(ENDS)])
                        else:
                            cmds.append(["RPOPLPUSH", src, dst])
                    for got in c.pipeline(cmds):
                        if got is not None and got not in elements():
                            r.fail("move replied %r" % (got,))
                            return
                    r.count("moves", 4)

            def reader(r, c, i):
                while not r.stop.is_set():
                    seen = sorted(e for part in snapshot(c, ls) for e in part)
                    if seen != sorted(elements()):
                        r.fail("half a move seen: %d elements" % len(seen))
                        return
                    r.count("reads")

            r.run([mover] * MOVERS + [reader] * READERS, DURATION,
                  until={"moves": 201, "reads": 51})
            self.assertEqual(r.errors, [])
            self.assertEqual(r.failures, [])
            self.assertGreater(r.counts.get("moves", 0), 200)
            self.assertGreater(r.counts.get("reads", 0), 50)
            final = sorted(e for part in snapshot(c, ls) for e in part)
            self.assertEqual(final, sorted(elements()))

    def test_blmove_served_keeps_the_count(self):
        # BLMOVE consumers wait on sources that are mostly empty and are
        # served when a feeder moves an element back (LMOVE, atomic), or at
        # once when one is there; their destinations are mostly on another
        # shard. Readers take LLEN of every key in one MULTI/EXEC: the
        # total is always N (a served move seen half done would show N - 1
        # or N + 1), and every element ends up somewhere exactly once.
        srcs = ["bq:src:%d" % i for i in range(4)]
        dsts = ["bq:dst:%d" % i for i in range(4)]
        keys = srcs + dsts
        with ShardkvServer(["--threads", THREADS]) as srv, srv.client() as c:
            setup_lists(c, dsts)
            r = Runner(srv.port)

            def consumer(r, c, i):
                rnd = random.Random(700 + i)
                while not r.stop.is_set():
                    src, dst = rnd.choice(srcs), rnd.choice(dsts)
                    if i % 2:
                        got = c.call("BLMOVE", src, dst, rnd.choice(ENDS), rnd.choice(ENDS), "0.05")
                    else:
                        got = c.call("BRPOPLPUSH", src, dst, "0.05")
                    if got is not None:
                        if got not in elements():
                            r.fail("BLMOVE replied %r" % (got,))
                            return
                        r.count("served")

            def feeder(r, c, i):
                rnd = random.Random(800 + i)
                while not r.stop.is_set():
                    c.call("LMOVE", rnd.choice(dsts), rnd.choice(srcs), "LEFT", "RIGHT")

            def reader(r, c, i):
                while not r.stop.is_set():
                    got = c.pipeline([["MULTI"]] + [["LLEN", k] for k in keys] + [["EXEC"]])[-1]
                    if sum(got) != N:
                        r.fail("LLEN total %d, not %d: %r" % (sum(got), N, got))
                        return
                    r.count("reads")

            r.run([consumer] * 6 + [feeder] * 2 + [reader] * 3, DURATION,
                  until={"served": 201, "reads": 51})
            self.assertEqual(r.errors, [])
            self.assertEqual(r.failures, [])
            self.assertGreater(r.counts.get("served", 0), 200)
            self.assertGreater(r.counts.get("reads", 0), 50)
            final = sorted(e for part in snapshot(c, keys) for e in part)
            self.assertEqual(final, sorted(elements()))


if __name__ == "__main__":
    skvtest.main()
