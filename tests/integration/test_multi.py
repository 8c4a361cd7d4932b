"""Integration tests for MULTI / EXEC / DISCARD / WATCH / UNWATCH.

Where Redis 7.0 has the behaviour, the same command sequences run against
/usr/bin/redis-server on a free loopback port and the replies must be
identical. The rest checks what only a sharded server can get wrong: EXEC
and WATCH over keys on several shards, watched keys written from clients on
other workers, expiry of watched keys, RESP3, and clients that go away in
the middle of a transaction. Every server is always stopped.
"""

import threading
import time
import unittest

import skvtest
from skvtest import RedisServer, RespError


ShardkvServer = skvtest.StrictShardkvServer


def keys(prefix, n):
    """n keys; with 4 shards, 12+ random keys land on several shards."""
    return ["%s:%d" % (prefix, i) for i in range(n)]


# Sequences run on one fresh connection after FLUSHALL, on both servers.
SEQUENCES = [
    [("MULTI",), ("MULTI",), ("SET", "a", "1"), ("EXEC",)],
    [("EXEC",)],
    [("DISCARD",)],
    [("MULTI",), ("FOO", "x"), ("SET", "a", "1"), ("EXEC",), ("GET", "a")],
    [("MULTI",), ("GET",), ("EXEC",)],
    [("MULTI",), ("WATCH", "a"), ("SET", "a", "2"), ("EXEC",)],
    [("SET", "s", "abc"), ("MULTI",), ("INCR", "s"), ("SET", "t", "1"),
     ("MGET", "s", "t", "zz"), ("EXEC",)],
    [("MULTI",), ("EXEC",)],
    [("MULTI",), ("PING",), ("ECHO", "hi"), ("SELECT", "2"), ("SET", "q", "1"),
     ("SELECT", "0"), ("GET", "q"), ("EXEC",), ("GET", "q"), ("SELECT", "2"), ("GET", "q")],
    [("WATCH", "w"), ("UNWATCH",), ("MULTI",), ("DISCARD",), ("DISCARD",)],
    [("MULTI",), ("SET", "a", "1"), ("DISCARD",), ("GET", "a"), ("EXEC",)],
    [("MULTI",)] + [("SET", k, k) for k in keys("m", 12)]
    + [("DEL",) + tuple(keys("m", 12)[:6]), ("MGET",) + tuple(keys("m", 12)),
       ("RENAME", "m:7", "moved"), ("EXISTS", "m:7", "moved", "m:8"), ("DBSIZE",),
       ("FLUSHDB",), ("DBSIZE",), ("EXEC",)],
    [("MULTI",), ("MSETNX", "a", "1", "b", "2"), ("MSETNX", "b", "1", "x", "2"),
     ("COPY", "a", "a2"), ("RENAMENX", "a", "b"), ("GET", "a2"), ("EXEC",)],
    [("MULTI",), ("SET", "k", "v", "EX", "abc"), ("GET", "k"), ("EXEC",)],
    [("WATCH",)],
    [("SET", "n", "1"), ("WATCH", "n"), ("GET", "n"), ("MULTI",), ("INCR", "n"), ("EXEC",),
     ("GET", "n")],
    [("SET", "n", "1"), ("WATCH", "n"), ("SET", "n", "2"), ("MULTI",), ("INCR", "n"),
     ("EXEC",), ("GET", "n")],
    # The failed EXEC forgot the watch: the next one runs.
    [("SET", "n", "1"), ("WATCH", "n"), ("SET", "n", "2"), ("MULTI",), ("EXEC",),
     ("MULTI",), ("INCR", "n"), ("EXEC",)],
    [("MULTI",), ("SET", "x", "1"), ("GET",), ("EXEC",), ("GET", "x")],
    [("MULTI",), ("SET", "x", "1"), ("DISCARD",), ("MULTI",), ("GET", "x"), ("EXEC",)],
    # Connection commands that answer on the spot run inside EXEC, in order.
    [("MULTI",), ("CLIENT", "SETNAME", "inside"), ("CLIENT", "GETNAME"),
     ("CONFIG", "GET", "maxclients"), ("CONFIG", "SET", "timeout", "0"), ("CONFIG", "GET"),
     ("CLIENT", "NOSUCH"), ("EXEC",), ("CLIENT", "GETNAME")],
    [("MULTI",), ("CLIENT", "SETNAME", "bad name"), ("SET", "y", "1"), ("EXEC",), ("GET", "y")],
    # Queue-time subcommand checks: any case, wrong counts, unknown long names.
    [("MULTI",), ("client", "SetName", "n1"), ("COMMAND", "COUNT", "x"), ("CONFIG", "resetStat"),
     ("CLIENT", "x" * 40), ("EXEC",)],
    [("MULTI",), ("Config", "Help", "extra"), ("EXEC",)],
    # Commands that ask every worker run inside EXEC too; SAVE does not (Redis neither).
    [("MULTI",), ("CONFIG", "RESETSTAT"), ("CLIENT", "KILL", "ID", "999999"), ("SET", "a", "1"),
     ("CLIENT", "KILL", "127.0.0.1:1"), ("GET", "a"), ("EXEC",)],
    [("MULTI",), ("SAVE",), ("EXEC",)],
]


def run_sequences(port):
    out = []
    for seq in SEQUENCES:
        with skvtest.Client(port) as c:
            c.call("FLUSHALL")
            out.append([c.call(*cmd) for cmd in seq])
    return out


def run_watch_cases(port):
    """WATCH on one connection, writes on another."""
    out = []
    with skvtest.Client(port) as c, skvtest.Client(port) as d:
        c.call("FLUSHALL")
        c.call("SET", "a", "1")
        c.call("WATCH", "a", "b")
        d.call("SET", "a", "2")
        out.append(("other client wrote", [c.call("MULTI"), c.call("GET", "a"), c.call("EXEC")]))
        c.call("WATCH", "b")
        d.call("SET", "b", "2")
        out.append(("created", [c.call("MULTI"), c.call("GET", "a"), c.call("EXEC")]))
        c.call("WATCH", "nx")
        d.call("DEL", "nx")
        out.append(("deleted nothing", [c.call("MULTI"), c.call("PING"), c.call("EXEC")]))
        c.call("WATCH", "a")
        d.call("SETNX", "a", "9")
        out.append(("failed setnx", [c.call("MULTI"), c.call("PING"), c.call("EXEC")]))
        c.call("WATCH", "a")
        d.call("GET", "a")
        out.append(("read only", [c.call("MULTI"), c.call("PING"), c.call("EXEC")]))
        c.call("SET", "e", "1", "PX", "100")
        c.call("WATCH", "e")
        time.sleep(0.3)
        out.append(("expired", [c.call("MULTI"), c.call("PING"), c.call("EXEC")]))
        c.call("SET", "e2", "1", "PX", "50")
        time.sleep(0.2)
        c.call("WATCH", "e2")  # already expired at WATCH: does not count
        out.append(("expired before", [c.call("MULTI"), c.call("PING"), c.call("EXEC")]))
        c.call("WATCH", "a")
        d.call("FLUSHALL")
        out.append(("flushall", [c.call("MULTI"), c.call("PING"), c.call("EXEC")]))
        c.call("SET", "a", "1")
        c.call("WATCH", "a")
        c.call("SET", "a", "3")
        out.append(("own write", [c.call("MULTI"), c.call("PING"), c.call("EXEC")]))
        c.call("SET", "a", "1")
        c.call("WATCH", "a")
        d.call("SET", "a", "2")
        c.call("UNWATCH")
        out.append(("unwatched", [c.call("MULTI"), c.call("PING"), c.call("EXEC")]))
        c.call("SET", "a", "1")
        c.call("WATCH", "a")
        d.call("SET", "a", "2")
        out.append(("discard forgets", [c.call("MULTI"), c.call("DISCARD"), c.call("MULTI"),
                                        c.call("PING"), c.call("EXEC")]))
        c.call("HELLO", "3")
        c.call("SET", "a", "1")
        c.call("WATCH", "a")
        d.call("SET", "a", "2")
        c.send("MULTI")
        c.send("PING")
        c.send("EXEC")
        out.append(("resp3", [c.read_reply(), c.read_reply(), c.read_reply()]))
    return out


# HELLO and AUTH queue like any command and run inside EXEC; a HELLO there
# switches the protocol of the replies after it, in the same EXEC.
HELLO_SEQUENCES = [
    [("MULTI",), ("HELLO", "2"), ("AUTH", "foo"), ("SELECT", "1"), ("EXEC",)],
    [("MULTI",), ("HELLO", "3"), ("GET", "nokey"), ("PING",), ("HELLO", "2"),
     ("GET", "nokey"), ("EXEC",), ("PING",)],
    [("MULTI",), ("HELLO", "4"), ("AUTH", "a", "b", "c"), ("HELLO", "3", "AUTH", "default", "x"),
     ("EXEC",), ("HELLO", "2")],
]


def without_ids(reply):
    """HELLO's reply with its connection id taken out (the servers count
    connections differently); anything else as it is."""
    if isinstance(reply, dict):
        return {k: (None if k in ("id", b"id") else without_ids(v)) for k, v in reply.items()}
    if isinstance(reply, list):
        out = [without_ids(x) for x in reply]
        for i in range(0, len(out) - 1, 2):
            if out[i] in ("id", b"id"):
                out[i + 1] = None
        return out
    return reply


def run_hello_sequences(port):
    out = []
    for seq in HELLO_SEQUENCES:
        with skvtest.Client(port) as c:
            for cmd in seq:
                c.send(*cmd)
            out.append([without_ids(c.read_reply()) for _ in seq])
    return out


class SameAsRedis(unittest.TestCase):
    def run_both(self, run, sequences, threads):
        """run(port) on redis-server and on shardkv; the replies of each
        sequence must be equal. Returns redis-server's."""
        with RedisServer() as r:
            want = run(r.port)
        with ShardkvServer(["--threads", str(threads)]) as s:
            got = run(s.port)
        for i, (w, g) in enumerate(zip(want, got)):
            self.assertEqual(g, w, "sequence %d: %r" % (i, sequences[i]))
        return want

    @unittest.skipUnless(skvtest.have_redis_server(), "redis-server not installed")
    def test_hello_and_auth_inside_multi_match_redis(self):
        want = self.run_both(run_hello_sequences, HELLO_SEQUENCES, 2)
        # The RESP3 map really came back inside the EXEC of sequence 1.
        self.assertIsInstance(want[1][6][0], dict)

    @unittest.skipUnless(skvtest.have_redis_server(), "redis-server not installed")
    def test_sequences_match_redis(self):
        self.run_both(run_sequences, SEQUENCES, 4)

    @unittest.skipUnless(skvtest.have_redis_server(), "redis-server not installed")
    def test_watch_matches_redis(self):
        with RedisServer() as r:
            want = run_watch_cases(r.port)
        with ShardkvServer(["--threads", "4"]) as s:
            got = run_watch_cases(s.port)
        for w, g in zip(want, got):
            self.assertEqual(g, w, w[0])
        # And the cases really test both outcomes.
        outcomes = {name: res[-1] is None for name, res in want}
        self.assertTrue(outcomes["other client wrote"])
        self.assertFalse(outcomes["read only"])

    def test_resp3_null_and_resp2_null_array(self):
        with ShardkvServer(["--threads", "2"]) as s, s.client() as c, s.client() as d:
            for proto, null in (("2", b"*-1\r\n"), ("3", b"_\r\n")):
                c.call("HELLO", proto)
                c.call("SET", "a", "1")
                c.call("WATCH", "a")
                d.call("SET", "a", "2")
                self.assertEqual(c.call("MULTI"), "OK")
                self.assertEqual(c.call("GET", "a"), "QUEUED")
                c.send("EXEC")
                data = b""
                while not data.endswith(b"\r\n"):
                    data += c.sock.recv(100)
                self.assertEqual(data, null)


class AcrossShards(unittest.TestCase):
    def test_exec_over_many_shards_in_order(self):
        ks = keys("k", 24)
        with ShardkvServer(["--threads", "4"]) as s, s.client() as c:
            cmds = [("MULTI",)]
            for k in ks:
                cmds.append(("SET", k, "v" + k))
            cmds.append(("MGET",) + tuple(ks))
            cmds.append(("DEL",) + tuple(ks[:10]))
            cmds.append(("EXISTS",) + tuple(ks))
            cmds.append(("MSET",) + tuple(x for k in ks for x in (k, "w")))
            cmds.append(("INCR", ks[0]))
            cmds.append(("EXEC",))
            got = c.pipeline(cmds)
            self.assertEqual(got[0], "OK")
            self.assertEqual(got[1:-1], ["QUEUED"] * (len(cmds) - 2))
            res = got[-1]
            self.assertEqual(res[:24], ["OK"] * 24)
            self.assertEqual(res[24], [("v" + k).encode() for k in ks])
            self.assertEqual(res[25], 10)
            self.assertEqual(res[26], 14)
            self.assertEqual(res[27], "OK")
            self.assertIsInstance(res[28], RespError)
            self.assertEqual(c.call("MGET", *ks), [b"w"] * 24)
            # The client's next command sees everything EXEC did.
            self.assertEqual(c.call("DBSIZE"), 24)

    def test_watch_keys_on_several_shards(self):
        ks = keys("w", 16)
        with ShardkvServer(["--threads", "4"]) as s, s.client() as c, s.client() as d:
            for k in ks:
                c.call("SET", k, "0")
            # Untouched: EXEC runs.
            self.assertEqual(c.call("WATCH", *ks), "OK")
            got = c.pipeline([("MULTI",)] + [("INCR", k) for k in ks] + [("EXEC",)])
            self.assertEqual(got[-1], [1] * 16)
            # Any one of them written by another client: EXEC aborts, for
            # each key (so for each shard).
            for k in ks:
                self.assertEqual(c.call("WATCH", *ks), "OK")
                self.assertEqual(d.call("SET", k, "x"), "OK")
                got = c.pipeline([("MULTI",), ("SET", ks[0], "y"), ("EXEC",)])
                self.assertIsNone(got[-1], k)
                self.assertEqual(c.call("GET", ks[0]), b"x")  # never EXEC's "y"
            # Written by a cross-shard transaction of another client.
            self.assertEqual(c.call("WATCH", ks[5]), "OK")
            self.assertEqual(d.call("MSET", ks[5], "m", ks[11], "m"), "OK")
            self.assertIsNone(c.pipeline([("MULTI",), ("PING",), ("EXEC",)])[-1])
            # ... or by FLUSHALL (keys on every shard).
            self.assertEqual(c.call("WATCH", ks[3]), "OK")
            self.assertEqual(d.call("FLUSHALL"), "OK")
            self.assertIsNone(c.pipeline([("MULTI",), ("PING",), ("EXEC",)])[-1])

    def test_msetnx_is_all_or_nothing_under_contention(self):
        """Clients race MSETNX over overlapping key sets that span shards;
        exactly one wins each round and no key is set by a loser."""
        with ShardkvServer(["--threads", "4"]) as s:
            for rnd in range(30):
                # One key in common, six of its own (on any shards).
                sets = [["r%d:shared" % rnd] + ["r%d:c%d:%d" % (rnd, i, j) for j in range(6)]
                        for i in range(6)]
                wins = []
                lock = threading.Lock()

                def go(i):
                    with s.client() as c:
                        args = []
                        for k in sets[i]:
                            args += [k, str(i)]
                        r = c.call("MSETNX", *args)
                        with lock:
                            wins.append((i, r))

                ts = [threading.Thread(target=go, args=(i,)) for i in range(6)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                winners = [i for i, r in wins if r == 1]
                self.assertEqual(len(winners), 1, wins)
                with s.client() as c:
                    for i in range(6):
                        vals = c.call("MGET", *sets[i])
                        if i == winners[0]:
                            self.assertEqual(set(vals), {str(i).encode()})
                        else:
                            self.assertEqual(vals[1:], [None] * 6)

    def test_dbsize_never_sees_half_an_mset(self):
        """DBSIZE and KEYS answer from one point in the global order: with
        writers adding and deleting 12 keys at a time, the count is always
        a multiple of 12."""
        with ShardkvServer(["--threads", "4"]) as s:
            stop = threading.Event()
            bad = []

            def writer(i):
                ks = keys("d%d" % i, 12)
                with s.client() as c:
                    while not stop.is_set():
                        c.pipeline([("MSET",) + tuple(x for k in ks for x in (k, "1")),
                                    ("DEL",) + tuple(ks)])

            def reader():
                with s.client() as c:
                    while not stop.is_set():
                        n, ks = c.pipeline([("DBSIZE",), ("KEYS", "*")])
                        if n % 12 or len(ks) % 12:
                            bad.append((n, len(ks)))
                            stop.set()

            ts = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
            ts += [threading.Thread(target=reader) for _ in range(3)]
            for t in ts:
                t.start()
            time.sleep(2.0)
            stop.set()
            for t in ts:
                t.join()
            self.assertEqual(bad, [])

    def test_client_gone_mid_transaction(self):
        """Clients that disconnect inside MULTI, with WATCHes, or with an
        EXEC in flight leave no locks behind: everything still runs."""
        ks = keys("g", 16)
        with ShardkvServer(["--threads", "4"]) as s:
            for i in range(20):
                c = s.client()
                c.call("WATCH", *ks)
                if i % 2:
                    c.call("MULTI")
                    c.call("SET", ks[0], "x")
                if i % 3 == 0:
                    c.send_raw(b"".join(skvtest.encode_command(*cmd) for cmd in
                                        [("MULTI",)] + [("INCR", k) for k in ks] + [("EXEC",)]))
                c.close()
            with s.client() as c:
                self.assertEqual(c.call("MSET", *[x for k in ks for x in (k, "z")]), "OK")
                self.assertEqual(c.call("MGET", *ks), [b"z"] * 16)
                got = c.pipeline([("MULTI",)] + [("GET", k) for k in ks] + [("EXEC",)])
                self.assertEqual(got[-1], [b"z"] * 16)

    def test_commands_that_ask_every_worker_run_inside_exec(self):
        """INFO and CLIENT LIST inside EXEC see the transaction's earlier
        writes and not its later ones, and keep their place in the reply."""
        with ShardkvServer(["--threads", "4"]) as s, s.client() as c:
            me = c.call("CLIENT", "ID")
            got = c.pipeline([("MULTI",), ("INFO", "keyspace")] +
                             [("SET", k, "v") for k in keys("i", 12)] +
                             [("INFO", "keyspace"), ("CLIENT", "LIST"), ("DBSIZE",), ("EXEC",)])
            self.assertEqual(got[:-1], ["OK"] + ["QUEUED"] * 16)
            res = got[-1]
            self.assertEqual(len(res), 16)
            self.assertNotIn(b"db0:", res[0])
            self.assertEqual(res[1:13], ["OK"] * 12)
            self.assertIn(b"db0:keys=12,", res[13])
            self.assertIn(b"id=%d " % me, res[14])
            self.assertEqual(res[15], 12)
            self.assertEqual(c.call("PING"), "PONG")

if __name__ == "__main__":
    skvtest.main()
