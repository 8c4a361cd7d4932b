"""Integration tests for the parse-ahead runs of server/net/conn.c: a connection
parses up to 16 small multibulk commands before dispatching them (so their
keys' cache lines load together), and must stop a run exactly where the
one-at-a-time loop would have stopped: at commands that block parsing
(multi-shard fan-out, MULTI/EXEC, all-shard commands), at QUIT, before a
protocol error, at inline or long commands, at partial commands and under
output backpressure. Replies are compared with a real redis-server.
"""

import random
import unittest

import skvtest
from skvtest import RedisServer, RespError, encode_command


ShardkvServer = skvtest.StrictShardkvServer


def random_stream(rng, n):
    """n commands as (raw bytes, argv) with every kind a run must stop at."""
    keys = ["k%d" % i for i in range(24)]
    out = []
    for _ in range(n):
        r = rng.random()
        k = rng.choice(keys)
        if r < 0.30:
            cmd = ("SET", k, "v%d" % rng.randrange(1000))
        elif r < 0.50:
            cmd = ("GET", k)
        elif r < 0.58:
            cmd = ("INCRBY", "n" + k, str(rng.randrange(-5, 6)))
        elif r < 0.62:
            cmd = ("SET", k, "x", "PX", "100000", "GET")
        elif r < 0.67:  # multi-key: fan-out across shards
            cmd = ("MSET",) + tuple(x for kk in rng.sample(keys, 3) for x in (kk, "m"))
        elif r < 0.71:
            cmd = ("MGET",) + tuple(rng.sample(keys, 4))
        elif r < 0.74:
            cmd = ("DEL",) + tuple(rng.sample(keys, 2))
        elif r < 0.77:
            cmd = ("SELECT", str(rng.randrange(2)))
        elif r < 0.80:
            cmd = ("DBSIZE",)
        elif r < 0.83:
            cmd = ("APPEND", k, "a", "b")  # arity error
        elif r < 0.85:
            cmd = ("NOSUCH", k)
        elif r < 0.88:  # inline command ends a run
            out.append((b"GET " + k.encode() + b"\r\n", ("GET", k)))
            continue
        elif r < 0.91:
            cmd = ("EXISTS",) + tuple(rng.sample(keys, 6))  # long: ends a run
        elif r < 0.93:
            cmd = ("MULTI",)
        elif r < 0.95:
            cmd = ("EXEC",)
        elif r < 0.97:
            cmd = ("RENAME", k, rng.choice(keys))
        else:
            cmd = ("PING",)
        out.append((encode_command(*cmd), cmd))
    return out


def send_in_pieces(client, data, rng):
    """Write data in random cuts, some inside a command."""
    i = 0
    while i < len(data):
        j = min(len(data), i + rng.choice([1, 7, 60, 300, 2000, 100000]))
        client.send_raw(data[i:j])
        i = j


class Runs(unittest.TestCase):
    @unittest.skipUnless(skvtest.have_redis_server(), "needs /usr/bin/redis-server")
    def test_random_streams_match_redis(self):
        rng = random.Random(20261126)
        with RedisServer() as ref, ShardkvServer(["--threads", "2"]) as srv:
            for rnd in range(30):
                stream = random_stream(rng, 200)
                data = b"".join(raw for raw, _ in stream)
                got = {}
                for name, server in (("redis", ref), ("shardkv", srv)):
                    with server.client() as c:
                        send_in_pieces(c, data, random.Random(rnd))
                        got[name] = [c.read_reply() for _ in stream]
                for i, (_, argv) in enumerate(stream):
                    self.assertEqual(got["shardkv"][i], got["redis"][i],
                                     "round %d command %d %r" % (rnd, i, argv))
                # The data itself, not just the replies.
                with ref.client() as rc, srv.client() as sc:
                    for db in ("0", "1"):
                        rc.call("SELECT", db)
                        sc.call("SELECT", db)
                        for k in ["k%d" % i for i in range(24)]:
                            self.assertEqual(sc.call("GET", k), rc.call("GET", k), (db, k))

    def test_quit_after_a_full_run(self):
        with ShardkvServer(["--threads", "2"]) as srv, srv.client() as c:
            cmds = [encode_command("SET", "q%d" % i, str(i)) for i in range(20)]
            c.send_raw(b"".join(cmds) + encode_command("QUIT") +
                       encode_command("SET", "after", "1"))
            self.assertEqual([c.read_reply() for _ in range(21)], ["OK"] * 21)
            self.assertTrue(c.is_closed())
            with srv.client() as d:
                self.assertEqual(d.call("GET", "q19"), b"19")
                self.assertIsNone(d.call("GET", "after"))

    def test_protocol_error_after_a_full_run(self):
        with ShardkvServer(["--threads", "2"]) as srv, srv.client() as c:
            cmds = [encode_command("SET", "p%d" % i, str(i)) for i in range(20)]
            c.send_raw(b"".join(cmds) + b"*1\r\n$abc\r\n" + encode_command("SET", "after", "1"))
            self.assertEqual([c.read_reply() for _ in range(20)], ["OK"] * 20)
            self.assertEqual(c.read_reply(), RespError("ERR Protocol error: invalid bulk length"))
            self.assertTrue(c.is_closed())
            with srv.client() as d:
                self.assertEqual(d.call("GET", "p19"), b"19")
                self.assertIsNone(d.call("GET", "after"))

    def test_barrier_in_the_middle_of_a_run(self):
        """MSET across shards blocks parsing until it is done; the GETs
        parsed ahead of it in the same run must see its writes."""
        with ShardkvServer(["--threads", "2"]) as srv, srv.client() as c:
            keys = ["b%d" % i for i in range(8)]
            cmds = [("SET", k, "old") for k in keys]
            cmds.append(("MSET",) + tuple(x for k in keys for x in (k, "new")))
            cmds += [("GET", k) for k in keys]
            replies = c.pipeline(cmds)
            self.assertEqual(replies, ["OK"] * 9 + [b"new"] * 8)

    def test_partial_command_after_a_run(self):
        with ShardkvServer(["--threads", "2"]) as srv, srv.client() as c:
            big = "x" * 100000
            data = b"".join(encode_command("SET", "r%d" % i, str(i)) for i in range(10))
            tail = encode_command("SET", "big", big) + encode_command("GET", "r3")
            c.send_raw(data + tail[:50])
            self.assertEqual([c.read_reply() for _ in range(10)], ["OK"] * 10)
            c.send_raw(tail[50:])
            self.assertEqual(c.read_reply(), "OK")
            self.assertEqual(c.read_reply(), b"3")
            self.assertEqual(c.call("STRLEN", "big"), 100000)


if __name__ == "__main__":
    skvtest.main()
