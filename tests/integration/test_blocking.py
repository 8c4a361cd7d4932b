"""Property tests for blocking pops across shards (issue 11, item 4).

Producers and consumers on different workers (--threads 2 and 4) over many
keys: every pushed element is popped exactly once (BLPOP/BRPOP on lists,
BZPOPMIN on sorted sets, BLMOVE between shards), waiters on one key are
served in the order they blocked (BLMOVE waiters served across shards
too), timeouts fire within 100 ms of their
time, waiters that disconnect leave nothing behind (no element is popped
for them, blocked_clients drops to 0; the server's log must hold no
sanitizer report at exit), and keys deleted or re-typed while clients wait.

Each test starts the real shardkv-server ($SHARDKV_BIN) on a free loopback
port and always stops it (skvtest.StrictShardkvServer).
"""

import random
import threading
import time
import unittest

import skvrace
import skvtest

ShardkvServer = skvtest.StrictShardkvServer
DURATION = 2.0   # seconds the producers run
NKEYS = 24


wait_blocked = skvtest.wait_blocked


class ExactlyOnce(unittest.TestCase):
    def run_queue(self, threads, pop, push):
        """Producers push unique elements with push(c, key, elem); consumers
        pop with pop(c, keys) -> element or None; every element must come out
        exactly once."""
        keys = ["q:%d" % i for i in range(NKEYS)]
        with ShardkvServer(["--threads", str(threads)]) as srv:
            stop = threading.Event()
            produced, consumed, errors = [], [], []
            lock = threading.Lock()
            done_producing = threading.Event()

            def producer(i):
                rnd = random.Random(i)
                with srv.client() as c:
                    n = 0
                    while not stop.is_set():
                        e = "p%d:%d" % (i, n)
                        push(c, rnd.choice(keys), e)
                        with lock:
                            produced.append(e)
                        n += 1
                        if n % 50 == 0:
                            time.sleep(0.002)  # let waiters block too

            def consumer(i):
                rnd = random.Random(1000 + i)
                with srv.client() as c:
                    while True:
                        ks = rnd.sample(keys, 3)
                        try:
                            got = pop(c, ks)
                        except Exception as ex:  # noqa: BLE001
                            errors.append(repr(ex))
                            return
                        if got is None:
                            if done_producing.is_set():
                                return
                            continue
                        with lock:
                            consumed.append(got.decode())

            ps = [threading.Thread(target=producer, args=(i,)) for i in range(4)]
            cs = [threading.Thread(target=consumer, args=(i,)) for i in range(8)]
            for t in cs + ps:
                t.start()
            time.sleep(DURATION)
            stop.set()
            for t in ps:
                t.join()
            # Drain: consumers go on until a whole timeout passes with no data.
            deadline = time.monotonic() + 30
            while len(consumed) < len(produced) and time.monotonic() < deadline:
                time.sleep(0.05)
            done_producing.set()
            for t in cs:
                t.join(30)
            self.assertEqual(errors, [])
            self.assertGreater(len(produced), 100)
            self.assertEqual(len(consumed), len(set(consumed)), "an element popped twice")
            lost = set(produced) - set(consumed)
            extra = set(consumed) - set(produced)
            self.assertFalse(lost or extra, "%d lost (%r...), %d unknown" %
                             (len(lost), sorted(lost)[:5], len(extra)))
            with srv.client() as c:
                self.assertTrue(wait_blocked(c, 0))

    def test_blpop_brpop_threads_2(self):
        def pop(c, ks):
            r = c.call(random.choice(["BLPOP", "BRPOP"]), *ks, "0.2")
            return None if r is None else r[1]
        self.run_queue(2, pop, lambda c, k, e: c.call("RPUSH", k, e))

    def test_blpop_threads_4(self):
        def pop(c, ks):
            r = c.call("BLPOP", *ks, "0.2")
            return None if r is None else r[1]
        self.run_queue(4, pop, lambda c, k, e: c.call("LPUSH", k, e))

    def test_bzpopmin_threads_4(self):
        def pop(c, ks):
            r = c.call("BZPOPMIN", *ks, "0.2")
            return None if r is None else r[1]
        self.run_queue(4, pop, lambda c, k, e: c.call("ZADD", k, "1", e))

    def test_blmpop_threads_2(self):
        def pop(c, ks):
            r = c.call("BLMPOP", "0.2", str(len(ks)), *ks, "LEFT", "COUNT", "1")
            return None if r is None else r[1][0]
        self.run_queue(2, pop, lambda c, k, e: c.call("RPUSH", k, e))

    def test_blmove_across_shards(self):
        """Consumers move elements from the queues to per-consumer lists on
        (likely) other shards; at the end every element is in exactly one
        destination list and no queue holds any."""
        keys = ["mq:%d" % i for i in range(NKEYS)]
        with ShardkvServer(["--threads", "4"]) as srv:
            stop = threading.Event()
            produced = []

            def producer(i):
                with srv.client() as c:
                    rnd = random.Random(i)
                    n = 0
                    while not stop.is_set():
                        e = "m%d:%d" % (i, n)
                        c.call("RPUSH", rnd.choice(keys), e)
                        produced.append(e)
                        n += 1

            def consumer(i):
                with srv.client() as c:
                    rnd = random.Random(500 + i)
                    idle = 0
                    while idle < 3:
                        r = c.call("BLMOVE", rnd.choice(keys), "dst:%d" % i, "LEFT", "RIGHT", "0.1")
                        idle = idle + 1 if r is None and stop.is_set() else 0

            ps = [threading.Thread(target=producer, args=(i,)) for i in range(3)]
            cs = [threading.Thread(target=consumer, args=(i,)) for i in range(6)]
            for t in cs + ps:
                t.start()
            time.sleep(DURATION)
            stop.set()
            for t in ps + cs:
                t.join(60)
            with srv.client() as c:
                left = []
                for k in keys:
                    left += c.call("LRANGE", k, "0", "-1")
                moved = []
                for i in range(6):
                    moved += c.call("LRANGE", "dst:%d" % i, "0", "-1")
            moved = [m.decode() for m in moved] + [x.decode() for x in left]
            self.assertEqual(len(moved), len(set(moved)), "an element moved twice")
            lost = set(produced) - set(moved)
            self.assertFalse(lost or len(moved) != len(produced),
                             "%d lost (%r...)" % (len(lost), sorted(lost)[:5]))


    def run_mixed_consumers(self, nkeys, producers, pipelined, movers, blpops, pollers):
        """Producers push unique elements onto nkeys queues, a share
        `pipelined` of them popping right behind their own push in one
        pipeline; BLMOVE consumers (each move reserved on its source when
        served after a push, or run from the client's worker when its first
        try finds data) move them to lists of their own; BLPOP consumers and
        pollers (LPOP, RPOP inside MULTI/EXEC) take them: every element ends
        up exactly once in a consumer's hands, a destination list or its
        queue."""
        keys = ["mix:%d" % i for i in range(nkeys)]
        with ShardkvServer(["--threads", "2"]) as srv:
            stop = threading.Event()
            lock = threading.Lock()
            produced, taken, errors = [], [], []

            def keep(got, how):
                if got is not None:
                    with lock:
                        taken.append((got.decode(), how))

            def guard(fn):
                def run(i):
                    try:
                        fn(i)
                    except Exception as ex:  # noqa: BLE001
                        errors.append(repr(ex))
                return run

            @guard
            def producer(i):
                rnd = random.Random(i)
                with srv.client() as c:
                    n = 0
                    while not stop.is_set():
                        k = rnd.choice(keys)
                        e = "m%d:%d" % (i, n)
                        n += 1
                        with lock:
                            produced.append(e)
                        if rnd.random() < pipelined:
                            keep(c.pipeline([("RPUSH", k, e), ("LPOP", k)])[1], "producer %d" % i)
                        else:
                            c.call("RPUSH", k, e)

            @guard
            def mover(i):
                rnd = random.Random(100 + i)
                with srv.client() as c:
                    while not stop.is_set():
                        c.call("BLMOVE", rnd.choice(keys), "mixdst:%d" % i, "LEFT", "RIGHT", "0.05")

            @guard
            def blpop(i):
                rnd = random.Random(200 + i)
                with srv.client() as c:
                    while not stop.is_set():
                        got = c.call("BLPOP", *rnd.sample(keys, min(2, nkeys)), "0.05")
                        keep(got[1] if got else None, "BLPOP %d" % i)

            @guard
            def poller(i):
                rnd = random.Random(300 + i)
                with srv.client() as c:
                    while not stop.is_set():
                        k = rnd.choice(keys)
                        if rnd.random() < 0.5:
                            keep(c.call("LPOP", k), "LPOP %d" % i)
                        else:
                            keep(c.pipeline([("MULTI",), ("RPOP", k), ("EXEC",)])[2][0], "EXEC %d" % i)
                        time.sleep(0.001)

            ts = ([threading.Thread(target=producer, args=(i,)) for i in range(producers)] +
                  [threading.Thread(target=mover, args=(i,)) for i in range(movers)] +
                  [threading.Thread(target=blpop, args=(i,)) for i in range(blpops)] +
                  [threading.Thread(target=poller, args=(i,)) for i in range(pollers)])
            for t in ts:
                t.start()
            time.sleep(DURATION)
            stop.set()
            for t in ts:
                t.join(30)
            self.assertEqual(errors, [])
            with srv.client() as c:
                self.assertTrue(wait_blocked(c, 0))
                held = []
                for k in keys + ["mixdst:%d" % i for i in range(movers)]:
                    held += [(x.decode(), k) for x in c.call("LRANGE", k, "0", "-1")]
                moved = sum(c.call("LLEN", "mixdst:%d" % i) for i in range(movers))
            self.assertGreater(len(produced), 100)
            self.assertGreater(moved, 10, "too few moves to tell")
            # Where each element taken twice ended up, and what is missing:
            # the path that broke exactly-once.
            where = {}
            for e, how in taken + held:
                where.setdefault(e, []).append(how)
            twice = {e: hows for e, hows in where.items() if len(hows) > 1}
            missing = sorted(set(produced) - set(where))
            self.assertEqual(twice, {}, "taken twice (missing: %s)" % missing[:10])
            self.assertEqual(missing, [], "an element lost")
            self.assertEqual(set(where) - set(produced), set(), "an element unknown")

    def test_blmove_among_other_consumers(self):
        """BLMOVE consumers among BLPOP consumers, pollers and producers
        that pop behind their own push (run_mixed_consumers)."""
        self.run_mixed_consumers(nkeys=4, producers=3, pipelined=0.3, movers=4, blpops=2,
                                 pollers=2)

    def test_blmove_racing_pushers(self):
        """Moves and pipelined pops crowd a few queues: a move started from
        a client's worker (its first try found data) races the reservations
        that pushes make for the other waiters, and the pops held behind
        them (a pop held behind a reservation that ended without running
        once ran between such a move's check and its pop: about 3% of the
        runs of this test saw an element twice)."""
        self.run_mixed_consumers(nkeys=4, producers=6, pipelined=0.5, movers=6, blpops=0,
                                 pollers=0)


class Fairness(unittest.TestCase):
    def test_fifo_among_waiters_on_one_key(self):
        for threads in (2, 4):
            with ShardkvServer(["--threads", str(threads)]) as srv, srv.client() as ctl:
                waiters = []
                for i in range(8):
                    w = srv.client()
                    self.addCleanup(w.close)
                    w.send("BLPOP", "fair", "other%d" % i, "0")
                    self.assertTrue(wait_blocked(ctl, i + 1))
                    waiters.append(w)
                ctl.call("RPUSH", "fair", *["e%d" % i for i in range(8)])
                got = [w.read_reply() for w in waiters]
                self.assertEqual(got, [[b"fair", b"e%d" % i] for i in range(8)])
                # One at a time, with a late joiner at the back.
                for i in range(3):
                    waiters[i].send("BRPOP", "fair2", "0")
                    self.assertTrue(wait_blocked(ctl, i + 1))
                for i in range(3):
                    ctl.call("LPUSH", "fair2", "x%d" % i)
                    self.assertEqual(waiters[i].read_reply(), [b"fair2", b"x%d" % i])

    def test_fifo_among_blmove_waiters_across_shards(self):
        """BLMOVE waiters on one source, each with its own destination (most
        on other shards, so each is served by a move transaction), get the
        elements in the order they blocked, and each element is in its
        waiter's destination once the reply is in."""
        with ShardkvServer(["--threads", "4"]) as srv, srv.client() as ctl:
            waiters = []
            for i in range(8):
                w = srv.client()
                self.addCleanup(w.close)
                w.send("BLMOVE", "fsrc", "fdst:%d" % i, "LEFT", "RIGHT", "0")
                self.assertTrue(wait_blocked(ctl, i + 1))
                waiters.append(w)
            ctl.call("RPUSH", "fsrc", *["e%d" % i for i in range(8)])
            self.assertEqual([w.read_reply() for w in waiters], [b"e%d" % i for i in range(8)])
            for i in range(8):
                self.assertEqual(ctl.call("LRANGE", "fdst:%d" % i, "0", "-1"), [b"e%d" % i])
            self.assertEqual(ctl.call("EXISTS", "fsrc"), 0)
            self.assertTrue(wait_blocked(ctl, 0))


class BusyKeys(unittest.TestCase):
    def test_served_at_once_while_transactions_hold_the_key(self):
        """A blocking pop on a key that holds data is served at once, also
        while MULTI/EXEC readers over keys on every shard keep taking the
        key in turn: the pop waits for the transactions scheduled before
        it, never for a moment with none (a stream of them starved it
        until its timeout: about half the pops timed out with a non-empty
        list). BLPOP, and BRPOPLPUSH/BLMOVE to a key on the same shard."""
        with ShardkvServer(["--threads", "4"]) as srv, srv.client() as ctl:
            src = skvtest.key_on(ctl, 0, "busy:src:")
            dst = skvtest.key_on(ctl, 0, "busy:dst:")
            keys = [src, dst] + [skvtest.key_on(ctl, i, "busy:o%d:" % i) for i in (1, 2, 3)]
            r = skvrace.Runner(srv.port)

            def reader(r, c, i):
                while not r.stop.is_set():
                    c.pipeline([["MULTI"]] + [["LLEN", k] for k in keys] + [["EXEC"]])
                    r.count("reads")

            def popper(r, c, i):
                n = 0
                while not r.stop.is_set():
                    n += 1
                    c.call("RPUSH", src, "e%d" % n)
                    cmd = [["BLPOP", src, "2"], ["BRPOPLPUSH", src, dst, "2"],
                           ["BLMOVE", src, dst, "LEFT", "RIGHT", "2"]][n % 3]
                    got = c.call(*cmd)
                    want = [src.encode(), b"e%d" % n] if n % 3 == 0 else b"e%d" % n
                    if got != want:
                        r.fail("%r on a list holding e%d replied %r" % (cmd, n, got))
                        return
                    if n % 3:
                        c.call("RPOP", dst)
                    r.count("pops")

            r.run([reader] * 4 + [popper], 2, until={"pops": 100, "reads": 100})
            self.assertEqual(r.errors, [])
            self.assertEqual(r.failures, [])
            self.assertGreaterEqual(r.counts.get("pops", 0), 100)
            self.assertGreaterEqual(r.counts.get("reads", 0), 100)
            self.assertEqual(ctl.call("LLEN", src), 0)
            self.assertEqual(ctl.call("LLEN", dst), 0)

    def test_first_key_with_data_wins_while_transactions_hold_it(self):
        """BRPOP q1 q2 pops q1 while q1 has data, as Redis does, also while
        pipelines spanning shards and MULTI/EXEC blocks keep taking q1: the
        try waits for them in its turn instead of going on to q2 (which
        served two thirds of these pops from q2, a priority queue's
        lower-priority list)."""
        with ShardkvServer(["--threads", "2"]) as srv, srv.client() as ctl:
            q1 = skvtest.key_on(ctl, 0, "prio:hi:")
            q2 = skvtest.key_on(ctl, 1, "prio:lo:")
            z = skvtest.key_on(ctl, 1, "prio:z:")
            ctl.call("RPUSH", q1, *["h%d" % i for i in range(600)])
            ctl.call("RPUSH", q2, *["l%d" % i for i in range(600)])
            r = skvrace.Runner(srv.port)

            def pipeliner(r, c, i):
                while not r.stop.is_set():
                    c.pipeline([["LLEN", q1], ["SET", z, i], ["LINDEX", q1, "0"]])
                    r.count("pipelines")

            def transaction(r, c, i):
                while not r.stop.is_set():
                    c.pipeline([["MULTI"], ["LLEN", q1], ["GET", z], ["EXEC"]])

            def consumer(r, c, i):
                for n in range(500):
                    got = c.call(*[["BRPOP", q1, q2, "2"], ["BLPOP", q1, q2, "2"]][n % 2])
                    if got is None or got[0] != q1.encode():
                        r.fail("pop %d with %s still holding data took %r" % (n, q1, got))
                        return
                    r.count("pops")
                r.stop.set()

            r.run([pipeliner] * 2 + [transaction] * 2 + [consumer], 30)
            self.assertEqual(r.errors, [])
            self.assertEqual(r.failures, [])
            self.assertEqual(r.counts.get("pops", 0), 500)
            self.assertGreater(r.counts.get("pipelines", 0), 100)
            self.assertEqual(ctl.call("LLEN", q1), 100)
            self.assertEqual(ctl.call("LLEN", q2), 600)

    def test_fed_waiters_take_elements_before_queued_transactions(self):
        """A list with blocked clients hands each pushed element to one of
        them before any transaction already queued on the list runs, as
        Redis serves right after the command that pushed: MULTI/EXEC
        readers of the list, queued behind the push (an EXEC, or a
        pipeline spanning shards), always find it empty while waiters wait
        for every push. Serving behind them instead let about one read in
        ten see the element."""
        for mode in ("exec", "pipeline"):
            with ShardkvServer(["--threads", "2"]) as srv, srv.client() as ctl:
                q = skvtest.key_on(ctl, 0, "fed:q:")
                z = skvtest.key_on(ctl, 1, "fed:z:")
                r = skvrace.Runner(srv.port)
                taken = []
                done = threading.Event()

                def waiter(r, c, i):
                    while not done.is_set():
                        if c.call("BLPOP", q, "10") is not None:
                            taken.append(1)

                def pusher(r, c, i):
                    try:
                        for n in range(1, 201):
                            if r.stop.is_set():
                                return
                            if mode == "exec":
                                c.pipeline([["MULTI"], ["RPUSH", q, n], ["SET", z, n], ["EXEC"]])
                            else:
                                c.pipeline([["RPUSH", q, n], ["SET", z, n]])
                            deadline = time.monotonic() + 5
                            while len(taken) < n and time.monotonic() < deadline:
                                time.sleep(0.0005)
                            if len(taken) < n:
                                r.fail("%s: element %d never taken" % (mode, n))
                                return
                            r.count("pushes")
                    finally:
                        # Reads after this may see the elements that end the
                        # waits.
                        done.set()
                        c.call("RPUSH", q, "end", "end", "end")
                        r.stop.set()

                def reader(r, c, i):
                    while not r.stop.is_set():
                        got = c.pipeline([["MULTI"], ["LLEN", q], ["GET", z], ["EXEC"]])[-1]
                        r.count("reads")
                        if got[0] != 0 and not done.is_set():
                            r.fail("%s: a reader saw %d element(s) in a list with blocked "
                                   "clients" % (mode, got[0]))
                            return

                r.run([waiter] * 3 + [pusher] + [reader] * 3, 60)
                self.assertEqual(r.errors, [])
                self.assertEqual(r.failures, [])
                self.assertEqual(r.counts.get("pushes", 0), 200)
                self.assertGreater(r.counts.get("reads", 0), 200)


class Timeouts(unittest.TestCase):
    def test_timeouts_fire_within_100ms(self):
        with ShardkvServer(["--threads", "2"]) as srv:
            results = []

            def one(t, cmd):
                with srv.client() as c:
                    t0 = time.monotonic()
                    r = c.call(*cmd)
                    results.append((t, time.monotonic() - t0, r, cmd[0]))

            cmds = []
            for t in (0.05, 0.2, 0.35, 0.5, 1.0):
                ts = repr(t)
                cmds += [(t, ["BLPOP", "to:a", "to:b", ts]), (t, ["BZPOPMAX", "to:z", ts]),
                         (t, ["BLMOVE", "to:s", "to:d", "LEFT", "LEFT", ts]),
                         (t, ["BLMPOP", ts, "1", "to:m", "RIGHT"]),
                         (t, ["BZMPOP", ts, "2", "to:y", "to:x", "MIN"])]
            th = [threading.Thread(target=one, args=c) for c in cmds]
            for x in th:
                x.start()
            for x in th:
                x.join(10)
            self.assertEqual(len(results), len(cmds))
            for t, took, r, name in results:
                self.assertIsNone(r, name)
                self.assertGreaterEqual(took, t - 0.005, "%s %.3f fired early" % (name, t))
                self.assertLess(took, t + 0.1, "%s %.3f fired after %.3f" % (name, t, took))


class Disconnects(unittest.TestCase):
    def test_disconnected_waiters_leave_nothing(self):
        with ShardkvServer(["--threads", "4"]) as srv, srv.client() as ctl:
            clients = []
            for i in range(40):
                c = srv.client()
                cmd = [["BLPOP", "dk:%d" % (i % 10), "dk:x", "0"], ["BZPOPMIN", "dz:%d" % i, "0"],
                       ["BLMOVE", "dk:%d" % (i % 10), "dd", "LEFT", "LEFT", "0"],
                       ["BLMPOP", "0", "2", "dk:%d" % (i % 10), "dk:y", "LEFT"]][i % 4]
                c.send(*cmd)
                clients.append(c)
            self.assertTrue(wait_blocked(ctl, 40))
            for c in clients:
                c.close()
            self.assertTrue(wait_blocked(ctl, 0, timeout=1.0))
            # Nothing is served to the clients that went away.
            for i in range(10):
                self.assertEqual(ctl.call("RPUSH", "dk:%d" % i, "v"), 1)
            time.sleep(0.1)
            for i in range(10):
                self.assertEqual(ctl.call("LLEN", "dk:%d" % i), 1)
            self.assertEqual(ctl.call("EXISTS", "dd"), 0)
            self.assertNotIn(b"flags=b", ctl.call("CLIENT", "LIST"))


    def test_shutdown_with_blocked_clients(self):
        """The server stops cleanly (exit 0, no leak report under ASan)
        while clients wait on keys of several shards."""
        clients = []
        with ShardkvServer(["--threads", "4"]) as srv, srv.client() as ctl:
            for i in range(12):
                c = srv.client()
                self.addCleanup(c.close)
                c.send(*[["BLPOP", "sk:%d" % i, "sk:o", "0"], ["BZMPOP", "0", "1", "sz:%d" % i, "MIN"],
                         ["BLMOVE", "sk:%d" % i, "sd:%d" % i, "LEFT", "LEFT", "0"]][i % 3])
                clients.append(c)
            self.assertTrue(wait_blocked(ctl, 12))


class KeyChanges(unittest.TestCase):
    def test_deleted_and_retyped_while_waiting(self):
        with ShardkvServer(["--threads", "2"]) as srv, srv.client() as ctl:
            w = srv.client()
            self.addCleanup(w.close)
            w.send("BLPOP", "rt", "0")
            self.assertTrue(wait_blocked(ctl, 1))
            ctl.call("SET", "rt", "string")
            ctl.call("ZADD", "rt2", "1", "a")
            ctl.call("RENAME", "rt2", "rt")  # a sorted set now
            time.sleep(0.1)
            self.assertTrue(wait_blocked(ctl, 1))
            ctl.call("DEL", "rt")
            ctl.call("RPUSH", "rt", "finally")
            self.assertEqual(w.read_reply(), [b"rt", b"finally"])
            # A sorted-set waiter ignores lists; woken by ZADD after DEL.
            w.send("BZPOPMIN", "rz", "0")
            self.assertTrue(wait_blocked(ctl, 1))
            ctl.call("RPUSH", "rz", "x")
            time.sleep(0.1)
            self.assertTrue(wait_blocked(ctl, 1))
            ctl.call("DEL", "rz")
            ctl.call("ZADD", "rz", "2", "m")
            self.assertEqual(w.read_reply(), [b"rz", b"m", b"2"])
            # Woken by a script's write and by EXEC.
            w.send("BRPOP", "rs", "0")
            self.assertTrue(wait_blocked(ctl, 1))
            ctl.call("EVAL", "return redis.call('RPUSH', KEYS[1], 'fromlua')", "1", "rs")
            self.assertEqual(w.read_reply(), [b"rs", b"fromlua"])
            # A script's BLMPOP never blocks (BLPOP is noscript in Redis 7.0).
            self.assertIsNone(ctl.call("EVAL", "return redis.call('BLMPOP', 0, 1, KEYS[1], 'LEFT')",
                                       "1", "none"))
            ctl.call("RPUSH", "rs", "a")
            self.assertEqual(ctl.call("EVAL", "return redis.call('BLMPOP', 0, 1, KEYS[1], 'LEFT')",
                                      "1", "rs"), [b"rs", [b"a"]])


if __name__ == "__main__":
    skvtest.main()
