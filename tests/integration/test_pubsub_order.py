#!/usr/bin/python3
"""Pub/Sub and keyspace-event frames in Redis's order relative to replies
(issue 13), with subscribers, publishers and keys on different workers:

- a RESP3 client subscribed to the events of its own keys gets each event
  of its command before the command's reply, as redis-server 7.0 emits them
  while the command runs, whichever shard owns the key;
- a subscriber sees the events of commands spanning shards (MSET, DEL,
  RENAME, SMOVE, *STORE, MULTI/EXEC, scripts) in redis-server's order;
- once PUBLISH, or a write that causes an event, has replied, a command the
  subscriber sends next is answered after the message.

Transcripts are compared with a real redis-server on the same commands.
Run directly or through ctest."""

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import RedisServer, RespPush, ShardkvServer  # noqa: E402

MARK = "__keyspace@0__:zz-marker"


def read_until_marker(sub):
    """Everything sub receives up to the marker message, which the caller
    published after its commands were answered."""
    got = []
    while True:
        r = sub.read_reply()
        if isinstance(r, RespPush) or (isinstance(r, list) and r and r[0] in ("message", "pmessage")):
            items = list(r)
            if items[-2:] == [MARK, "mark"] or items[-2:] == [MARK, "marked"]:
                return got
            got.append(("push", items))
        else:
            got.append(("reply", r))


def subscribe_events(cl, proto):
    if proto == 3:
        cl.call("HELLO", "3")
    cl.send("PSUBSCRIBE", "__key*__:*")
    r = cl.read_reply()
    assert list(r) == ["psubscribe", "__key*__:*", 1], r


class Base(unittest.TestCase):
    threads = 2

    @classmethod
    def setUpClass(cls):
        cls.skv = ShardkvServer(args=["--threads", str(cls.threads)]).start()
        cls.redis = RedisServer().start()
        cls.sa = cls.skv.client(decode=True)
        cls.ra = cls.redis.client(decode=True)
        for a in (cls.sa, cls.ra):
            assert a.call("CONFIG", "SET", "notify-keyspace-events", "KEA") == "OK"
        # Keys on each shard, named alike in both servers.
        cls.keys = [[skvtest.key_on(cls.sa, s, "k%d-%d:" % (s, j)) for j in range(3)]
                    for s in range(cls.threads)]

    @classmethod
    def tearDownClass(cls):
        cls.sa.close()
        cls.ra.close()
        cls.skv.stop()
        cls.redis.stop()

    def setUp(self):
        self.sa.call("FLUSHALL")
        self.ra.call("FLUSHALL")


class OwnKeyEvents(Base):
    """A RESP3 subscriber running commands on keys itself: each event frame
    of its command comes before the command's reply, the key on the
    client's own worker or on another one."""

    def transcript(self, srv, admin, sub_worker, cmds):
        sub = skvtest.client_on(srv, admin, sub_worker) if srv is self.skv else srv.client(decode=True)
        with sub:
            subscribe_events(sub, 3)
            for cmd in cmds:
                sub.send(*cmd)
            # The replies are all in once a PING sent after them is answered
            # on another connection's side: publish the marker after
            # reading as many replies as commands.
            got = []
            replies = 0
            while replies < len(cmds):
                r = sub.read_reply()
                if isinstance(r, RespPush):
                    got.append(("push", list(r)))
                else:
                    got.append(("reply", r))
                    replies += 1
            admin.call("PUBLISH", MARK, "mark")
            return got + read_until_marker(sub)

    def check(self, cmds_of):
        for w in range(self.threads):
            for s in range(self.threads):
                cmds = cmds_of(self.keys[s])
                want = self.transcript(self.redis, self.ra, None, cmds)
                got = self.transcript(self.skv, self.sa, w, cmds)
                self.assertEqual(got, want, "subscriber on worker %d, keys on shard %d" % (w, s))
                self.sa.call("FLUSHALL")
                self.ra.call("FLUSHALL")

    def test_one_command(self):
        self.check(lambda k: [("SET", k[0], "v")])

    def test_pipeline_of_writes(self):
        self.check(lambda k: [("SET", k[0], "v"), ("APPEND", k[0], "w"), ("GET", k[0]),
                              ("SET", k[1], "1", "EX", "100"), ("INCR", k[1]),
                              ("SADD", k[2], "a", "b"), ("SREM", k[2], "a", "b"),
                              ("DEL", k[0], k[1])])

    def test_spanning_shards(self):
        n = self.threads

        def cmds(k):
            # k: the keys of one shard; o: of the next one.
            o = self.keys[(self.keys.index(k) + 1) % n]
            return [("MSET", k[0], "1", o[0], "2", k[1], "3"),
                    ("DEL", o[0], k[0]),
                    ("RENAME", k[1], o[1]),
                    ("SADD", k[2], "a"), ("SMOVE", k[2], o[2], "a"),
                    ("EVAL", "redis.call('SET', KEYS[1], 1); return redis.call('DEL', KEYS[2])",
                     "2", o[0], o[1])]
        self.check(cmds)

    def test_pipeline_spanning_shards(self):
        # Run as one-shot groups over the shards (program order): each
        # command's frames still go before its own reply.
        n = self.threads

        def cmds(k):
            o = self.keys[(self.keys.index(k) + 1) % n]
            return [("SET", k[0], "1"), ("SET", o[0], "2"), ("INCR", k[0]), ("DEL", o[0]),
                    ("APPEND", o[1], "x"), ("GET", k[0]), ("SADD", k[1], "m")]
        self.check(cmds)

    def test_exec_spanning_shards(self):
        # redis-server 7.0 writes the events of EXEC's commands into the
        # middle of EXEC's array (a protocol error RESP3 forbids, fixed in
        # 7.2 by sending them after the reply): here they come after
        # EXEC's whole reply, in the order redis-server's other
        # subscribers see them.
        n = self.threads

        def cmds(k):
            o = self.keys[(self.keys.index(k) + 1) % n]
            return [("MULTI",), ("SET", k[0], "1"), ("SET", o[0], "2"), ("DEL", k[0], o[0]),
                    ("EXEC",)]

        for w in range(self.threads):
            for s in range(self.threads):
                sub = self.redis.client(decode=True)
                wr = self.redis.client(decode=True)
                with sub, wr:
                    subscribe_events(sub, 2)
                    replies = [("reply", wr.call(*c)) for c in cmds(self.keys[s])]
                    self.ra.call("PUBLISH", MARK, "mark")
                    events = [("push", v[1]) for v in read_until_marker(sub)]
                self.assertEqual(len(events), 8, events)  # 4 events, 2 frames each
                got = self.transcript(self.skv, self.sa, w, cmds(self.keys[s]))
                self.assertEqual(got, replies + events,
                                 "subscriber on worker %d, keys on shard %d" % (w, s))
                self.sa.call("FLUSHALL")
                self.ra.call("FLUSHALL")


class Causality(Base):
    """Publisher and subscriber on different workers: once the publisher
    has PUBLISH's reply (or a write's whose event the subscriber wants),
    the subscriber's next command is answered after the message."""

    rounds = 300

    def loop(self, sub_w, pub_w, proto, publish, expect):
        sub = skvtest.client_on(self.skv, self.sa, sub_w)
        pub = skvtest.client_on(self.skv, self.sa, pub_w)
        with sub, pub:
            subscribe_events(sub, proto)
            for i in range(self.rounds):
                publish(pub, i)
                sub.send("PING")
                for frame in expect(i):
                    got = sub.read_reply()
                    self.assertEqual(list(got), frame, "round %d: PING answered first" % i)
                pong = sub.read_reply()
                self.assertEqual(pong, "PONG" if proto == 3 else ["pong", ""], i)

    def test_publish_then_ping(self):
        for proto in (3, 2):
            for sub_w in range(self.threads):
                pub_w = (sub_w + 1) % self.threads
                self.loop(sub_w, pub_w, proto,
                          lambda p, i: self.assertEqual(p.call("PUBLISH", "__keyspace@0__:ch",
                                                               str(i)), 1),
                          lambda i: [["pmessage", "__key*__:*", "__keyspace@0__:ch", str(i)]])

    def test_write_event_then_ping(self):
        # The key on the publisher's worker, and on a third shard: its owner
        # may send the reply itself (direct reply) before its turn ends.
        for sub_w in range(self.threads):
            pub_w = (sub_w + 1) % self.threads
            for s in {pub_w, (pub_w + 1) % self.threads}:
                k = self.keys[s][0]
                self.loop(sub_w, pub_w, 3,
                          lambda p, i: self.assertEqual(p.call("SETRANGE", k, "0", "x"), 1),
                          lambda i: [["pmessage", "__key*__:*", "__keyspace@0__:" + k, "setrange"],
                                     ["pmessage", "__key*__:*", "__keyevent@0__:setrange", k]])


class CrossShard(Base):
    """A writer runs commands whose keys span shards, one at a time; a
    subscriber on another connection sees the same event sequence as
    redis-server's subscriber for the same commands."""

    def commands(self):
        n = self.threads
        # a[i], b[i]: keys on shard i % n and (i + 1) % n.
        a = [self.keys[i % n][0] for i in range(n)]
        b = [self.keys[(i + 1) % n][1] for i in range(n)]
        c = [self.keys[(i + 2) % n][2] for i in range(n)]
        cmds = []
        cmds.append(["MSET"] + [x for i in range(n) for x in (a[i], "1", b[i], "2")])
        cmds.append(["DEL"] + [b[i] for i in range(n)] + [a[i] for i in range(n)])
        cmds.append(["MSET", a[0], "1", b[0], "2", c[0], "3"])
        cmds.append(["MSETNX", a[1], "1", c[1], "2"])
        cmds.append(["RENAME", a[0], b[1]])
        cmds.append(["RENAME", b[0], c[0]])
        cmds.append(["COPY", c[0], a[0]])
        cmds.append(["DEL", a[0], b[0], c[0], a[1], b[1], c[1]])
        cmds.append(["SADD", a[0], "x", "y"])
        cmds.append(["SADD", b[0], "y", "z"])
        cmds.append(["SINTERSTORE", c[0], a[0], b[0]])
        cmds.append(["SUNIONSTORE", c[0], a[0], b[0]])
        cmds.append(["SDIFFSTORE", c[0], c[0], a[0], b[0]])
        cmds.append(["SMOVE", a[0], b[0], "x"])
        cmds.append(["SMOVE", a[0], b[0], "y"])
        cmds.append(["RPUSH", a[1], "1", "2"])
        cmds.append(["LMOVE", a[1], b[1], "LEFT", "RIGHT"])
        cmds.append(["RPOPLPUSH", a[1], b[1]])
        cmds.append(["ZADD", a[0], "1", "m"])
        cmds.append(["ZUNIONSTORE", c[1], "2", a[0], b[1]])
        cmds.append(["ZADD", a[1], "2", "n"])
        cmds.append(["ZUNIONSTORE", c[1], "2", a[0], a[1]])
        cmds.append(["MULTI"])
        cmds.append(["SET", a[0], "x"])
        cmds.append(["SET", b[0], "y"])
        cmds.append(["DEL", a[0], b[0], c[1]])
        cmds.append(["INCR", c[0]])
        cmds.append(["EXEC"])
        cmds.append(["EVAL", "redis.call('SET', KEYS[1], 1); redis.call('SET', KEYS[2], 2); "
                     "redis.call('INCR', KEYS[1]); redis.call('DEL', KEYS[2]); return redis.call('DEL', KEYS[1])",
                     "2", a[1], b[1]])
        cmds.append(["FLUSHALL"])
        return cmds

    def transcript(self, srv, admin):
        sub = srv.client(decode=True)
        wr = srv.client(decode=True)
        with sub, wr:
            subscribe_events(sub, 2)
            replies = [wr.call(*cmd) for cmd in self.commands()]
            admin.call("PUBLISH", MARK, "mark")
            return replies, read_until_marker(sub)

    def test_same_sequence_as_redis(self):
        want = self.transcript(self.redis, self.ra)
        for _ in range(3):
            got = self.transcript(self.skv, self.sa)
            self.assertEqual(got[0], want[0])
            self.assertEqual(got[1], want[1])


class PipelineOrder(Base):
    """A pipeline whose commands span shards runs as a one-shot group
    (Program order); a subscriber still sees its events in command order,
    as redis-server sends them, whichever workers the writer, the
    subscriber and the keys are on. A second client deleting one of the
    keys meanwhile (GETDEL: its reply tells which of our writes it
    followed) has its event after that write's and before the next one's."""

    rounds = 150

    def case(self, wr_w, sub_w, other_w):
        n = self.threads
        # Command j of a round writes a key of shard j % n.
        k = [self.keys[j % n][j // n] for j in range(4)]
        want = [("set", k[0]), ("set", k[1]), ("incrby", k[2]), ("lpush", k[3])]
        wr = skvtest.client_on(self.skv, self.sa, wr_w)
        sub = skvtest.client_on(self.skv, self.sa, sub_w)
        other = skvtest.client_on(self.skv, self.sa, other_w)
        deleted = []
        stop = threading.Event()

        def deleter():
            while not stop.is_set():
                v = other.call("GETDEL", k[1])
                if v is not None:
                    deleted.append(int(v))

        with wr, sub, other:
            subscribe_events(sub, 2)
            t = threading.Thread(target=deleter)
            t.start()
            try:
                for i in range(self.rounds):
                    got = wr.pipeline([("SET", k[0], str(i)), ("SET", k[1], str(i)),
                                       ("INCR", k[2]), ("LPUSH", k[3], str(i))])
                    self.assertEqual(got, ["OK", "OK", i + 1, i + 1])
            finally:
                stop.set()
                t.join()
            self.sa.call("PUBLISH", MARK, "mark")
            events = [(m[2].split(":", 1)[1], m[3]) for _, m in read_until_marker(sub)
                      if m[2].startswith("__keyevent@0__:")]
        where = "writer on worker %d, subscriber on %d, deleter on %d" % (wr_w, sub_w, other_w)
        own = [e for e in events if e != ("del", k[1])]
        for i in range(self.rounds):
            self.assertEqual(own[4 * i:4 * i + 4], want, "round %d: %s" % (i, where))
        self.assertEqual(len(own), 4 * self.rounds, where)
        # The deleter's events: after the write whose value it got, before
        # the next one.
        sets = dels = 0
        for e in events:
            if e == ("set", k[1]):
                sets += 1
            elif e == ("del", k[1]):
                self.assertEqual(sets, deleted[dels] + 1,
                                 "deletion %d (of %d): %s" % (dels, deleted[dels], where))
                dels += 1
        self.assertEqual(dels, len(deleted), where)

    def test_pipeline_events_in_order(self):
        n = self.threads
        for wr_w in range(n):
            for sub_w in sorted({wr_w, (wr_w + 1) % n}):
                self.case(wr_w, sub_w, (wr_w + n - 1) % n)
                self.sa.call("FLUSHALL")


class PipelineOrder4(PipelineOrder):
    threads = 4
    rounds = 100


class CrossShard4(CrossShard):
    threads = 4


class OwnKeyEvents4(OwnKeyEvents):
    threads = 4


class Causality4(Causality):
    threads = 4
    rounds = 100


if __name__ == "__main__":
    skvtest.main()
