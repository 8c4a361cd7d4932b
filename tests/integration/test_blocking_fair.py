"""Blocked clients come first (issue 11): elements written to a key that
clients wait on go to those clients, in the order they blocked, before any
later command of any client can take them, as in Redis 7.0 (which serves
the ready keys right after the command that filled them).

Each case blocks a few clients on one key (their connections spread over
the workers of --threads 2 and 4; the key's shard is one of them), then
pushes from a pipeline or another client and tries to take the elements at
once: a non-blocking pop pipelined behind the push or sent by another
client, a new BLPOP, a pipeline whose other commands are on other shards,
the push inside MULTI/EXEC (one shard or several) or a script. BLMOVE
waiters whose destinations are on other shards (each served by a move
transaction whose lock on the source counts from the moment it is served:
txn_start_reserved) get the same cases, but for the pipeline spanning
shards (see DESIGN.md, "Order differences from Redis"). Every case is run
many times, on fresh keys, against shardkv and
against redis-server, and the two transcripts must be equal; the expected
transcript is also checked directly, so a missing redis-server does not
hide a failure.

Each test starts the real shardkv-server ($SHARDKV_BIN) on a free loopback
port and always stops it (skvtest.StrictShardkvServer).
"""

import time
import unittest

import skvtest

ShardkvServer = skvtest.StrictShardkvServer
ROUNDS = 25      # fresh keys per case, server and thread count
NWAIT = 3        # clients blocked on the key


wait_blocked = skvtest.wait_blocked


class Fixture:
    """A server, a control client and NWAIT waiter connections (opened one
    after another, so that with several workers they land on several)."""

    def __init__(self, test, srv):
        self.t = test
        self.srv = srv
        self.ctl = srv.client()
        test.addCleanup(self.ctl.close)
        self.waiters = []
        for _ in range(NWAIT):
            w = srv.client(timeout=3.0)
            test.addCleanup(w.close)
            self.waiters.append(w)
        self.p = srv.client(timeout=3.0)   # the pusher
        self.q = srv.client(timeout=3.0)   # another client, the late popper
        test.addCleanup(self.p.close)
        test.addCleanup(self.q.close)

    def block(self, clients, *cmd):
        """Block each client of `clients` with cmd, one after the other, so
        their order in the key's queue is known."""
        base = self.blocked()
        for i, w in enumerate(clients):
            w.send(*cmd)
            self.t.assertTrue(wait_blocked(self.ctl, base + i + 1), "client did not block")

    def reply(self, c):
        """c's reply, or a marker if none comes (a waiter whose element
        another client took stays blocked)."""
        try:
            return c.read_reply()
        except TimeoutError:
            return "<no reply: still blocked>"

    def blocked(self):
        info = self.ctl.call("INFO", "clients")
        return int(skvtest.parse_info(info)["clients"]["blocked_clients"])


def lists_case(fx, k, rnd):
    """Waiters on list k; one pipeline pushes and pops at once."""
    out = []
    w = fx.waiters[:NWAIT]
    fx.block(w, "BLPOP", k, "0")
    n = NWAIT + (rnd % 3) - 1   # fewer, as many, or more elements than waiters
    elems = ["e%d" % i for i in range(n)]
    out.append(fx.p.pipeline([("RPUSH", k, *elems), ("LPOP", k), ("LLEN", k)]))
    served = min(n, NWAIT)
    out.append([fx.reply(c) for c in w[:served]])
    if served < NWAIT:   # the last waiter is still blocked: release it
        fx.ctl.call("RPUSH", k, "late")
        out.append([fx.reply(c) for c in w[served:]])
    return out


def zset_case(fx, k, rnd):
    """The same for sorted sets: BZPOPMIN waiters, ZADD then ZPOPMIN."""
    out = []
    w = fx.waiters[:NWAIT]
    fx.block(w, "BZPOPMIN", k, "0")
    args = []
    for i in range(NWAIT):
        args += [str(i), "m%d" % i]
    out.append(fx.p.pipeline([("ZADD", k, *args), ("ZPOPMIN", k), ("ZCARD", k)]))
    out.append([fx.reply(c) for c in w])
    return out


def other_client_case(fx, k, rnd):
    """The push from one client, LPOP from another sent right behind it:
    whichever runs first, Redis answers the LPOP nil (the waiters take
    everything)."""
    out = []
    w = fx.waiters[:NWAIT]
    fx.block(w, "BLPOP", k, "0")
    fx.p.send("RPUSH", k, *["e%d" % i for i in range(NWAIT)])
    fx.q.send("LPOP", k)
    out.append([fx.p.read_reply(), fx.q.read_reply()])
    out.append([fx.reply(c) for c in w])
    out.append(fx.ctl.call("EXISTS", k))
    return out


def new_blpop_case(fx, k, rnd):
    """A BLPOP pipelined behind the push (its first try would find data)
    waits behind the clients already blocked, and so does one sent by
    another client right after."""
    out = []
    w = fx.waiters[:NWAIT]
    fx.block(w, "BLPOP", k, "0")
    late = fx.q if rnd % 2 else fx.p
    fx.p.send("RPUSH", k, *["e%d" % i for i in range(NWAIT)])
    late.send("BLPOP", k, "0")
    out.append(fx.p.read_reply())
    out.append([fx.reply(c) for c in w])
    fx.t.assertTrue(wait_blocked(fx.ctl, 1), "the late BLPOP did not block")
    fx.ctl.call("RPUSH", k, "late")
    out.append(fx.reply(late))
    return out


def cross_shard_pipeline_case(fx, k, rnd):
    """The push and the pop in a pipeline whose other commands are on
    other shards (with several workers, most rounds: then the pipeline
    runs as one unit holding its keys' locks); the waiters are still served
    between the push and the pop."""
    out = []
    w = fx.waiters[:NWAIT]
    fx.block(w, "BLPOP", k, "0")
    out.append(fx.p.pipeline([("RPUSH", k, *["e%d" % i for i in range(NWAIT)]),
                              ("SET", k + ":o1", "x"), ("LPOP", k), ("SET", k + ":o2", "y"),
                              ("LLEN", k)]))
    out.append([fx.reply(c) for c in w])
    return out


def multi_case(fx, k, rnd):
    """The push inside MULTI/EXEC, with a pop behind EXEC; EXEC's own pop
    (inside the transaction) does take the element, as in Redis. The
    second key is on another shard for about half of the keys."""
    out = []
    w = fx.waiters[:NWAIT]
    fx.block(w, "BLPOP", k, "0")
    other = k + ":other"
    out.append(fx.p.pipeline([("MULTI",), ("RPUSH", k, "a", "b"), ("SET", other, "x"),
                              ("LPOP", k), ("EXEC",), ("LPOP", k), ("LLEN", k)]))
    out.append(fx.reply(w[0]))
    fx.ctl.call("RPUSH", k, "c", "d")
    out.append([fx.reply(c) for c in w[1:]])
    return out


def script_case(fx, k, rnd):
    """The push from a script; the script's own pop takes an element (the
    waiters are served after it), the pop behind it does not."""
    out = []
    w = fx.waiters[:NWAIT]
    fx.block(w, "BLPOP", k, "0")
    src = "redis.call('rpush', KEYS[1], 'a', 'b', 'c') return redis.call('lpop', KEYS[1])"
    out.append(fx.p.pipeline([("EVAL", src, "1", k), ("LPOP", k), ("LLEN", k)]))
    out.append([fx.reply(c) for c in w[:2]])
    fx.ctl.call("RPUSH", k, "d")
    out.append(fx.reply(w[2]))
    return out



def blmove_block(fx, k):
    """Block the waiters with BLMOVE from k, each to a destination of its
    own (with several workers, most on another shard than k: each is then
    served by a move transaction). Returns the destinations."""
    dsts = ["%s:dst%d" % (k, i) for i in range(NWAIT)]
    for i, (w, d) in enumerate(zip(fx.waiters, dsts)):
        base = fx.blocked()
        w.send("BLMOVE", k, d, "LEFT", "RIGHT", "0")
        fx.t.assertTrue(wait_blocked(fx.ctl, base + 1), "client did not block")
    return dsts


def blmove_outcome(fx, dsts):
    """What the BLMOVE waiters replied, and then what each destination holds
    (each element there once its reply is in)."""
    return [[fx.reply(c) for c in fx.waiters],
            [fx.ctl.call("LRANGE", d, "0", "-1") for d in dsts]]


def blmove_lists_case(fx, k, rnd):
    """lists_case with BLMOVE waiters: the pop pipelined behind the push
    finds nothing the waiters wanted, and each element is in its waiter's
    destination once the reply is in."""
    out = []
    dsts = blmove_block(fx, k)
    n = NWAIT + (rnd % 3) - 1
    out.append(fx.p.pipeline([("RPUSH", k, *["e%d" % i for i in range(n)]), ("LPOP", k),
                              ("LLEN", k)]))
    served = min(n, NWAIT)
    out.append([fx.reply(c) for c in fx.waiters[:served]])
    if served < NWAIT:
        fx.ctl.call("RPUSH", k, "late")
        out.append([fx.reply(c) for c in fx.waiters[served:]])
    out.append([fx.ctl.call("LRANGE", d, "0", "-1") for d in dsts])
    return out


def blmove_multi_case(fx, k, rnd):
    """The push inside MULTI/EXEC (the second key on another shard about
    half the time), a pop behind EXEC: the BLMOVE waiters are served as
    EXEC ends, before that pop."""
    out = []
    dsts = blmove_block(fx, k)
    out.append(fx.p.pipeline([("MULTI",), ("RPUSH", k, "a", "b", "c"), ("SET", k + ":other", "x"),
                              ("EXEC",), ("LPOP", k), ("LLEN", k)]))
    return out + blmove_outcome(fx, dsts)


def blmove_script_case(fx, k, rnd):
    """The push from a script, a pop pipelined behind it."""
    out = []
    dsts = blmove_block(fx, k)
    src = "return redis.call('rpush', KEYS[1], 'a', 'b', 'c')"
    out.append(fx.p.pipeline([("EVAL", src, "1", k), ("RPOP", k), ("LLEN", k)]))
    return out + blmove_outcome(fx, dsts)


def blmove_other_client_case(fx, k, rnd):
    """other_client_case with BLMOVE waiters."""
    out = []
    dsts = blmove_block(fx, k)
    fx.p.send("RPUSH", k, *["e%d" % i for i in range(NWAIT)])
    fx.q.send("LPOP", k)
    out.append([fx.p.read_reply(), fx.q.read_reply()])
    return out + blmove_outcome(fx, dsts)


def transcript(test, srv, case, expect, what):
    """Run case ROUNDS times on srv, each round's replies checked against
    expect(round) at once (a round that went wrong leaves clients blocked,
    which would only muddle the next)."""
    fx = Fixture(test, srv)
    out = []
    for i in range(ROUNDS):
        k = "fair:%s:%d" % (case.__name__, i)
        got = case(fx, k, i)
        test.assertEqual(got, expect(i), "%s, round %d" % (what, i))
        test.assertTrue(wait_blocked(fx.ctl, 0), "clients still blocked")
        out.append(got)
    return out


class WaitersFirst(unittest.TestCase):
    def run_case(self, case, expected_round):
        ref = None
        if skvtest.have_redis_server():
            with skvtest.RedisServer() as rs:
                ref = transcript(self, rs, case, expected_round, "redis-server")
        for threads in (2, 4):
            with ShardkvServer(["--threads", str(threads)]) as srv:
                got = transcript(self, srv, case, expected_round, "--threads %d" % threads)
            if ref is not None:
                self.assertEqual(got, ref, "threads %d: differs from redis-server" % threads)

    def test_pipelined_pop_after_push(self):
        def exp(i):
            n = NWAIT + (i % 3) - 1
            served = min(n, NWAIT)
            k = b"fair:lists_case:%d" % i
            left = [b"e%d" % j for j in range(served, n)]
            rep = [[n, left[0] if left else None, max(0, len(left) - 1)],
                   [[k, b"e%d" % j] for j in range(served)]]
            if served < NWAIT:
                rep.append([[k, b"late"]])
            return rep
        self.run_case(lists_case, exp)

    def test_pipelined_zpopmin_after_zadd(self):
        def exp(i):
            k = b"fair:zset_case:%d" % i
            return [[NWAIT, [], 0], [[k, b"m%d" % j, b"%d" % j] for j in range(NWAIT)]]
        self.run_case(zset_case, exp)

    def test_pop_from_another_client(self):
        def exp(i):
            k = b"fair:other_client_case:%d" % i
            return [[NWAIT, None], [[k, b"e%d" % j] for j in range(NWAIT)], 0]
        self.run_case(other_client_case, exp)

    def test_new_blpop_waits_its_turn(self):
        def exp(i):
            k = b"fair:new_blpop_case:%d" % i
            return [NWAIT, [[k, b"e%d" % j] for j in range(NWAIT)], [k, b"late"]]
        self.run_case(new_blpop_case, exp)

    def test_pipeline_across_shards(self):
        def exp(i):
            k = b"fair:cross_shard_pipeline_case:%d" % i
            return [[NWAIT, "OK", None, "OK", 0], [[k, b"e%d" % j] for j in range(NWAIT)]]
        self.run_case(cross_shard_pipeline_case, exp)

    def test_push_in_exec(self):
        def exp(i):
            k = b"fair:multi_case:%d" % i
            return [["OK", "QUEUED", "QUEUED", "QUEUED", [2, "OK", b"a"], None, 0],
                    [k, b"b"], [[k, b"c"], [k, b"d"]]]
        self.run_case(multi_case, exp)

    def test_push_in_script(self):
        def exp(i):
            k = b"fair:script_case:%d" % i
            return [[b"a", None, 0], [[k, b"b"], [k, b"c"]], [k, b"d"]]
        self.run_case(script_case, exp)

    def test_blmove_pipelined_pop_after_push(self):
        def exp(i):
            n = NWAIT + (i % 3) - 1
            served = min(n, NWAIT)
            left = [b"e%d" % j for j in range(served, n)]
            rep = [[n, left[0] if left else None, max(0, len(left) - 1)],
                   [b"e%d" % j for j in range(served)]]
            if served < NWAIT:
                rep.append([b"late"])
            rep.append([[b"e%d" % j] if j < served else [b"late"] for j in range(NWAIT)])
            return rep
        self.run_case(blmove_lists_case, exp)

    def test_blmove_push_in_exec(self):
        def exp(i):
            return [["OK", "QUEUED", "QUEUED", [3, "OK"], None, 0],
                    [b"a", b"b", b"c"], [[b"a"], [b"b"], [b"c"]]]
        self.run_case(blmove_multi_case, exp)

    def test_blmove_push_in_script(self):
        def exp(i):
            return [[3, None, 0], [b"a", b"b", b"c"], [[b"a"], [b"b"], [b"c"]]]
        self.run_case(blmove_script_case, exp)

    def test_blmove_pop_from_another_client(self):
        def exp(i):
            return [[NWAIT, None], [b"e%d" % j for j in range(NWAIT)],
                    [[b"e%d" % j] for j in range(NWAIT)]]
        self.run_case(blmove_other_client_case, exp)


if __name__ == "__main__":
    skvtest.main()
