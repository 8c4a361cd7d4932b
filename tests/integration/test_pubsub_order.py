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
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import RedisServer, RespPush, ShardkvServer  # noqa: E402

MARK = "__keyspace@0__:zz-marker"


def shards(c):
    info = skvtest.parse_info(c.call("INFO", "shards"))["shards"]
    return [info["shard%d" % i] for i in range(len(info))]


def worker_of(admin, cl):
    """The worker cl landed on: the one whose command count grows by the
    100 PINGs it sends (every other client is idle meanwhile)."""
    before = [int(s["cmds"]) for s in shards(admin)]
    assert cl.pipeline([("PING",)] * 100) == ["PONG"] * 100
    after = [int(s["cmds"]) for s in shards(admin)]
    up = [i for i in range(len(after)) if after[i] - before[i] >= 100]
    assert len(up) == 1, (before, after)
    return up[0]


def client_on(srv, admin, worker):
    """A client of srv on the given worker (connections are spread by the
    kernel: try until one lands there)."""
    spare = []
    try:
        for _ in range(64):
            cl = srv.client(decode=True)
            if worker_of(admin, cl) == worker:
                return cl
            spare.append(cl)
    finally:
        for cl in spare:
            cl.close()
    raise AssertionError("no connection landed on worker %d" % worker)


def key_on(c, shard, prefix):
    """A key name that shard owns (SET it, see whose key count grew)."""
    for i in range(10000):
        k = "%s%d" % (prefix, i)
        before = int(shards(c)[shard]["keys"])
        c.call("SET", k, "x")
        grew = int(shards(c)[shard]["keys"]) == before + 1
        c.call("DEL", k)
        if grew:
            return k
    raise AssertionError("no key for shard %d" % shard)


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
        cls.keys = [[key_on(cls.sa, s, "k%d-%d:" % (s, j)) for j in range(3)]
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
        sub = client_on(srv, admin, sub_worker) if srv is self.skv else srv.client(decode=True)
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


class Causality(Base):
    """Publisher and subscriber on different workers: once the publisher
    has PUBLISH's reply (or a write's whose event the subscriber wants),
    the subscriber's next command is answered after the message."""

    rounds = 300

    def loop(self, sub_w, pub_w, proto, publish, expect):
        sub = client_on(self.skv, self.sa, sub_w)
        pub = client_on(self.skv, self.sa, pub_w)
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


class OwnKeyEvents4(OwnKeyEvents):
    threads = 4


class Causality4(Causality):
    threads = 4
    rounds = 100


if __name__ == "__main__":
    skvtest.main()
