#!/usr/bin/python3
"""Differential test of keyspace notifications (notify-keyspace-events):
the same command sequence, over every command family the server has
(strings, keys, EXPIRE family, RENAME/COPY/MOVE, RESTORE, hashes, sets,
lists, sorted sets, MULTI), runs against a real redis-server 7.0 and against shardkv-server,
and the messages a PSUBSCRIBE __key*@*__:* client receives must match:
in full order with --threads 1, and per key (the order of each key's
messages, and the same messages overall) with --threads 2, where the keys
of one command live on several shards whose events travel independently.
Also: "expired" from lazy and from active expiry, and CONFIG GET/SET of
the option with Redis's class strings and error.

The "new" class (n) is compared per key only, on both thread counts: a
SMOVE that creates its destination reports "new" before the source's
"srem" here (it adds first so that running out of memory changes
nothing); Redis reports it after. Run: /usr/bin/python3
test_diff_notify.py with SHARDKV_BIN set to the directory holding
shardkv-server.
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvdiff import FAR_MS, FAR_S, RawConn, encode  # noqa: E402
import skvdiff  # noqa: E402

PATTERN = b"__key*@*__:*"
# Seconds without a message after which the subscriber has had them all.
QUIET = 0.4


def sequence(p, payload):
    """The commands, keys prefixed with p. payload: a DUMP of "hello"."""
    k = lambda s: p + s.encode()  # noqa: E731
    return [
        # Strings.
        ["SET", k("a"), "1"], ["SET", k("a"), "2"], ["SET", k("a"), "3", "XX"],
        ["SET", k("a"), "4", "NX"], ["SETNX", k("b"), "1"], ["SETNX", k("b"), "2"],
        ["SETEX", k("c"), "100", "x"], ["PSETEX", k("d"), "100000", "y"],
        ["SET", k("e"), "1", "EX", "100"], ["SET", k("e"), "2", "KEEPTTL"],
        ["SET", k("f"), "v", "GET"], ["GETSET", k("f"), "w"], ["GETDEL", k("f")],
        ["GETDEL", k("f")], ["GETEX", k("c"), "PERSIST"], ["GETEX", k("c"), "EX", "100"],
        ["GETEX", k("c")], ["GETEX", k("c"), "PXAT", "1"], ["APPEND", k("g"), "x"],
        ["APPEND", k("g"), "y"], ["SETRANGE", k("h"), "2", "z"], ["SETRANGE", k("h"), "0", ""],
        ["INCR", k("i")], ["DECR", k("i")], ["INCRBY", k("i"), "5"], ["DECRBY", k("i"), "2"],
        ["INCRBYFLOAT", k("j"), "1.5"], ["MSET", k("k1"), "1", k("k2"), "2"],
        ["MSETNX", k("k3"), "1", k("k4"), "2"], ["MSETNX", k("k3"), "5", k("k5"), "5"],
        ["GET", k("none")], ["MGET", k("a"), k("none")], ["STRLEN", k("none")],
        ["GETRANGE", k("none"), "0", "1"], ["GETEX", k("none")],
        # Keys and expiry.
        ["EXPIRE", k("a"), "100"], ["PEXPIRE", k("a"), "100000"],
        ["EXPIREAT", k("a"), FAR_S], ["PEXPIREAT", k("a"), FAR_MS],
        ["EXPIRE", k("a"), "100", "NX"], ["PERSIST", k("a")], ["PERSIST", k("a")],
        ["EXPIRE", k("b"), "-1"], ["EXPIRE", k("none"), "10"], ["TTL", k("none")],
        ["PTTL", k("a")], ["TYPE", k("none")], ["EXISTS", k("a"), k("none")],
        ["TOUCH", k("a"), k("none")], ["OBJECT", "ENCODING", k("none")],
        ["DEL", k("a"), k("none")], ["UNLINK", k("k1"), k("k2")],
        ["RENAME", k("i"), k("ii")], ["RENAME", k("ii"), k("ii")],
        ["RENAMENX", k("ii"), k("j")], ["RENAMENX", k("ii"), k("jj")],
        ["RENAME", k("jj"), k("j")], ["RENAME", k("none"), k("x")],
        ["COPY", k("j"), k("jc")], ["COPY", k("j"), k("jc")],
        ["COPY", k("j"), k("jc"), "REPLACE"], ["COPY", k("j"), k("jc2"), "DB", "1"],
        ["COPY", k("none"), k("x")], ["MOVE", k("jc"), "1"], ["MOVE", k("none"), "1"],
        ["MOVE", k("g"), "1"], ["DUMP", k("none")],
        ["RESTORE", k("r"), "0", payload], ["RESTORE", k("r"), "0", payload, "REPLACE"],
        ["RESTORE", k("r"), "1", payload, "REPLACE", "ABSTTL"],
        ["RESTORE", k("r2"), "0", payload], ["RENAME", k("r2"), k("e")],
        # Hashes.
        ["HSET", k("h1"), "f", "1", "g", "2"], ["HSET", k("h1"), "f", "3"],
        ["HSETNX", k("h1"), "f", "1"], ["HSETNX", k("h1"), "z", "1"],
        ["HSETNX", k("h3"), "z", "1"], ["HMSET", k("h1"), "a", "1"],
        ["HINCRBY", k("h1"), "n", "2"], ["HINCRBYFLOAT", k("h1"), "fl", "1.5"],
        ["HDEL", k("h1"), "nofield"], ["HDEL", k("h1"), "f", "g"], ["HGET", k("none"), "f"],
        ["HLEN", k("none")], ["HGETALL", k("none")], ["HDEL", k("h2"), "x"],
        ["HSET", k("h2"), "x", "1"], ["HDEL", k("h2"), "x"], ["RENAME", k("h1"), k("h4")],
        ["COPY", k("h4"), k("h5")], ["MOVE", k("h5"), "1"], ["HINCRBY", k("b"), "x", "1"],
        # Sets.
        ["SADD", k("s1"), "a", "b", "c"], ["SADD", k("s1"), "a"], ["SREM", k("s1"), "zz"],
        ["SREM", k("s1"), "a"], ["SADD", k("s2"), "x"], ["SMOVE", k("s1"), k("s2"), "b"],
        ["SMOVE", k("s1"), k("s3"), "c"], ["SMOVE", k("s2"), k("s2"), "x"],
        ["SMOVE", k("none"), k("s2"), "x"], ["SPOP", k("s3")], ["SADD", k("s4"), "1", "2", "3"],
        ["SPOP", k("s4"), "0"], ["SPOP", k("s4"), "5"], ["SADD", k("s5"), "1", "2", "3", "4"],
        ["SPOP", k("s5"), "1"], ["SADD", k("s6"), "1", "2", "3", "4", "x"],
        ["SINTERSTORE", k("d1"), k("s6"), k("s2")], ["SUNIONSTORE", k("d2"), k("s6"), k("s2")],
        ["SDIFFSTORE", k("d3"), k("s6"), k("s2")], ["SINTERSTORE", k("d1"), k("none"), k("s6")],
        ["SDIFFSTORE", k("d3"), k("s2"), k("s2")], ["SUNIONSTORE", k("d2"), k("s6")],
        ["SISMEMBER", k("none"), "a"], ["SCARD", k("none")], ["SMEMBERS", k("none")],
        ["SINTER", k("none"), k("s6")], ["SRANDMEMBER", k("none")], ["SREM", k("none"), "a"],
        ["SPOP", k("none")], ["RENAME", k("s6"), k("s7")], ["SADD", k("a"), "x"],
        # Lists.
        ["RPUSH", k("l1"), "a", "b", "c", "d"], ["LPUSH", k("l1"), "z"],
        ["LPUSHX", k("none"), "x"], ["RPUSHX", k("l1"), "e"], ["LPOP", k("l1")],
        ["RPOP", k("l1"), "2"], ["LPOP", k("l1"), "0"], ["LSET", k("l1"), "0", "q"],
        ["LINSERT", k("l1"), "BEFORE", "b", "x"], ["LINSERT", k("l1"), "AFTER", "nope", "y"],
        ["LREM", k("l1"), "0", "x"], ["LREM", k("l1"), "0", "nope"], ["LTRIM", k("l1"), "0", "-1"],
        ["RPUSH", k("l2"), "1", "2"], ["LMOVE", k("l2"), k("l3"), "LEFT", "RIGHT"],
        ["RPOPLPUSH", k("l2"), k("l3")], ["LMOVE", k("l3"), k("l3"), "LEFT", "LEFT"],
        ["LMPOP", "2", k("none"), k("l3"), "LEFT", "COUNT", "5"], ["RPUSH", k("l4"), "1"],
        ["LTRIM", k("l4"), "1", "0"], ["LPOP", k("none")], ["LRANGE", k("none"), "0", "1"],
        ["LINDEX", k("none"), "0"], ["LLEN", k("none")], ["LPOS", k("none"), "a"],
        ["LMOVE", k("none"), k("l1"), "LEFT", "LEFT"], ["RENAME", k("l1"), k("l5")],
        # Sorted sets.
        ["ZADD", k("z1"), "1", "a", "2", "b", "3", "c", "4", "d"], ["ZADD", k("z1"), "1", "a"],
        ["ZADD", k("z1"), "NX", "5", "a"], ["ZADD", k("z1"), "INCR", "1", "a"],
        ["ZINCRBY", k("z1"), "2", "e"], ["ZREM", k("z1"), "zz"], ["ZREM", k("z1"), "e"],
        ["ZREMRANGEBYRANK", k("z1"), "5", "9"], ["ZREMRANGEBYRANK", k("z1"), "0", "0"],
        ["ZADD", k("z1"), "0", "x", "0", "y", "9", "p", "9", "q"],
        ["ZREMRANGEBYSCORE", k("z1"), "8", "10"], ["ZREMRANGEBYLEX", k("z1"), "[x", "[y"],
        ["ZPOPMIN", k("z1")], ["ZPOPMAX", k("z1"), "0"], ["ZPOPMAX", k("z1"), "10"],
        ["ZADD", k("z2"), "1", "a", "2", "b"], ["ZADD", k("z3"), "2", "b", "3", "c"],
        ["ZUNIONSTORE", k("z4"), "2", k("z2"), k("z3")],
        ["ZINTERSTORE", k("z5"), "2", k("z2"), k("z3")],
        ["ZDIFFSTORE", k("z6"), "2", k("z2"), k("z3")],
        ["ZINTERSTORE", k("z5"), "2", k("none"), k("z3")],
        ["ZRANGESTORE", k("z7"), k("z4"), "0", "1"], ["ZRANGESTORE", k("z7"), k("z4"), "5", "9"],
        ["ZMPOP", "2", k("none"), k("z2"), "MIN", "COUNT", "5"], ["ZSCORE", k("none"), "a"],
        ["ZRANGE", k("none"), "0", "-1"], ["ZREM", k("none"), "a"], ["RENAME", k("z3"), k("z8")],
        ["COPY", k("z8"), k("z9")], ["ZADD", k("a"), "1", "x"],
        # A transaction, and the commands that send nothing.
        ["MULTI"], ["SET", k("m"), "1"], ["INCR", k("m"), ], ["DEL", k("m")], ["EXEC"],
        ["SELECT", "1"], ["FLUSHDB"], ["SELECT", "0"],
    ]


def key_of(msg):
    """(db, key) a message is about: the keyspace channel's suffix, or the
    keyevent message's payload."""
    ch, payload = msg
    head, _, rest = ch.partition(b"__:")
    db = head.split(b"@")[1]
    return (db, rest) if head.startswith(b"__keyspace") else (db, payload)


def per_key(msgs):
    out = {}
    for m in msgs:
        out.setdefault(key_of(m), []).append(m)
    return out


class Subscriber:
    """A RESP2 connection in PSUBSCRIBE __key*@*__:* mode."""

    def __init__(self, port):
        self.c = RawConn(port)
        self.c.sock.sendall(encode([b"PSUBSCRIBE", PATTERN]))
        self.c.read_reply()

    def drain(self):
        """Every message until QUIET seconds pass without one: (channel,
        payload) pairs in arrival order."""
        out = []
        self.c.sock.settimeout(QUIET)
        while True:
            try:
                raw = self.c.read_reply()
            except (socket.timeout, TimeoutError):
                return out
            parts = raw.split(b"\r\n")
            # *4 $8 pmessage $n pattern $n channel $n payload
            out.append((parts[6], parts[8]))

    def close(self):
        self.c.close()


class NotifyDiff:
    maxDiff = None
    SKV_ARGS = ()
    FULL_ORDER = False
    nrun = 0

    @classmethod
    def setUpClass(cls):
        cls.redis = skvtest.RedisServer().start()
        cls.skv = skvtest.ShardkvServer(args=cls.SKV_ARGS).start()
        with skvtest.Client(cls.redis.port) as r:
            r.call("SET", "payload-src", "hello")
            cls.payload = r.call("DUMP", "payload-src")
            r.call("DEL", "payload-src")

    @classmethod
    def tearDownClass(cls):
        for s in (cls.skv, cls.redis):
            s.stop()

    def collect(self, port, classes, cmds, after=None):
        """Set classes, run cmds on one connection, return the replies and
        the messages a subscriber got."""
        with skvtest.Client(port) as w:
            self.assertEqual(w.call("CONFIG", "SET", "notify-keyspace-events", classes), "OK")
            sub = Subscriber(port)
            try:
                raw = RawConn(port)
                replies = [raw.run([c])[0] for c in cmds]
                if after:
                    after(raw)
                msgs = sub.drain()
                raw.close()
            finally:
                sub.close()
                w.call("CONFIG", "SET", "notify-keyspace-events", "")
        return replies, msgs

    def both(self, classes, make, after=None):
        NotifyDiff.nrun += 1
        cmds = make(b"n%d:" % NotifyDiff.nrun)
        rr, rm = self.collect(self.redis.port, classes, cmds, after)
        sr, sm = self.collect(self.skv.port, classes, cmds, after)
        log = self.skv.log()
        for marker in skvdiff.SANITIZER_MARKERS:
            self.assertNotIn(marker, log, log[-4000:])
        return rr, rm, sr, sm

    def check_sequence(self, classes):
        rr, rm, sr, sm = self.both(classes, lambda p: sequence(p, self.payload))
        if classes != "Kx":  # (no expiry in the sequence)
            self.assertGreater(len(rm), 1, classes)
        if self.FULL_ORDER and "n" not in classes:
            self.assertEqual(sm, rm, classes)
        else:
            self.assertEqual(per_key(sm), per_key(rm), classes)
            self.assertEqual(sorted(sm), sorted(rm), classes)

    def test_all(self):
        self.check_sequence("KEA")

    def test_with_new_and_keymiss(self):
        self.check_sequence("KEAnm")

    def test_partial_classes(self):
        for classes in ("Kx", "E$", "Kgh", "Ez", "Es", "Kg", "Em", "En", "K$lshzxetd"):
            self.check_sequence(classes)

    def test_expired_lazy_and_active(self):
        def make(p):
            return [["SET", p + b"lazy", "v", "PX", "50"], ["SET", p + b"active", "v", "PX", "50"],
                    ["HSET", p + b"h", "f", "v"], ["PEXPIRE", p + b"h", "50"]]

        def after(raw):
            time.sleep(0.08)
            # A read reaps the first (lazy: "expired", then "keymiss");
            # the cron reaps the others within a few ticks (active).
            raw.run([[b"GET", b"%slazy" % make_prefix[0]]])
            time.sleep(0.5)

        make_prefix = [None]

        def make_and_remember(p):
            make_prefix[0] = p
            return make(p)

        rr, rm, sr, sm = self.both("KEAm", make_and_remember, after)
        self.assertIn(b"expired", [m[1] for m in rm])
        self.assertEqual(per_key(sm), per_key(rm))
        expired = sorted(m for m in sm if m[0].endswith(b"expired"))
        self.assertEqual(len(expired), 3, sm)

    def test_off_sends_nothing(self):
        rr, rm, sr, sm = self.both("", lambda p: sequence(p, self.payload)[:40])
        self.assertEqual(rm, [])
        self.assertEqual(sm, [])

    def test_only_k_or_e_needed(self):
        # Classes without K or E publish nothing, as in Redis.
        rr, rm, sr, sm = self.both("A", lambda p: sequence(p, self.payload)[:20])
        self.assertEqual(rm, [])
        self.assertEqual(sm, [])

    def test_config_get_set(self):
        values = ["KEA", "Kx", "E$", "Kgh", "Ez", "", "A", "Ag", "KA$", "Km", "mn", "KEAmnd",
                  "gslhz$xetd", "gslhz$xet", "KEd", "t", "l", "K", "E", "Ex", "xyz", "KEA nm",
                  "AKE", "nAm", "KEAn", "g$lshzxetdKEmn", "q", "kea"]
        with skvtest.Client(self.redis.port) as r, skvtest.Client(self.skv.port) as s:
            for v in values:
                want = [self.call_raw(r, "CONFIG", "SET", "notify-keyspace-events", v),
                        r.call("CONFIG", "GET", "notify-keyspace-events")]
                got = [self.call_raw(s, "CONFIG", "SET", "notify-keyspace-events", v),
                       s.call("CONFIG", "GET", "notify-keyspace-events")]
                self.assertEqual(got, want, v)
            for c in (r, s):
                c.call("CONFIG", "SET", "notify-keyspace-events", "")

    @staticmethod
    def call_raw(c, *args):
        try:
            return c.call(*args)
        except skvtest.RespError as e:
            return "error: %s" % e

    def test_evicted(self):
        # Not differential (eviction picks differ): every key evicted is one
        # "evicted" event, as many as INFO's evicted_keys.
        s = skvtest.ShardkvServer(args=self.SKV_ARGS).start()
        try:
            with skvtest.Client(s.port, decode=True) as c, skvtest.Client(s.port) as sub:
                c.call("CONFIG", "SET", "notify-keyspace-events", "Ee")
                sub.call("SUBSCRIBE", "__keyevent@0__:evicted")
                for i in range(500):
                    c.call("SET", "k%d" % i, "x" * 200)
                c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
                c.call("CONFIG", "SET", "maxmemory", "1")
                # Writes now evict (and fail with -OOM once nothing is left).
                for i in range(20):
                    try:
                        c.call("SET", "w%d" % i, "v")
                    except skvtest.RespError:
                        pass
                    time.sleep(0.05)
                c.call("CONFIG", "SET", "maxmemory", "0")
                sub.settimeout(QUIET)
                n = 0
                try:
                    while True:
                        sub.read_reply()
                        n += 1
                except (socket.timeout, TimeoutError):
                    pass
                stats = c.call("INFO", "stats").split("\r\n")
                evicted = int([x for x in stats if x.startswith("evicted_keys:")][0].split(":")[1])
                self.assertGreater(evicted, 0)
                self.assertEqual(n, evicted)
        finally:
            s.stop()

    def test_comparison_can_fail(self):
        with self.assertRaises(AssertionError):
            self.assertEqual(per_key([(b"__keyspace@0__:a", b"set")]),
                             per_key([(b"__keyspace@0__:a", b"del")]))


class OneThread(NotifyDiff, unittest.TestCase):
    SKV_ARGS = ("--threads", "1")
    FULL_ORDER = True


class TwoThreads(NotifyDiff, unittest.TestCase):
    SKV_ARGS = ("--threads", "2")


if __name__ == "__main__":
    skvtest.main()
