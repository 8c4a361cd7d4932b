#!/usr/bin/python3
"""Differential test of Pub/Sub: the same scripts run against a real
redis-server 7.0 and against shardkv-server with --threads 2 and --threads 4,
and every reply and every message frame must match byte for byte, in RESP2
and RESP3: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE
SUNSUBSCRIBE PUBLISH SPUBLISH PUBSUB (every subcommand and its errors),
RESET, the subscribed RESP2 mode's refusals and PING, glob patterns' edge
cases, MULTI with PUBLISH and SUBSCRIBE.

A script names connections ("s", "p", ...); each is opened on first use
(RESP3 scripts send HELLO 3 first) and is a different TCP connection, so on
shardkv they land on different workers as the kernel spreads them; every
script runs several times on fresh connections. Frames that one command
produces in an order Redis leaves to its dict iteration (several patterns
matching one channel, UNSUBSCRIBE of all channels) are compared as sorted
lists. Every script ends with PING then RESET on each connection, so a
stray frame shows up as a difference. Run: /usr/bin/python3
test_diff_pubsub.py with SHARDKV_BIN set to the directory holding
shardkv-server.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvdiff import RawConn, b, encode  # noqa: E402
import skvdiff  # noqa: E402

# Each script runs this many times on fresh connections, so that its
# connections fall on different workers of shardkv in different ways.
REPEATS = 3


def bulks(raw):
    """The elements of a flat array of bulk strings (for sorting)."""
    lines = raw.split(b"\r\n")
    out, i = [], 1
    while i + 1 < len(lines):
        if lines[i].startswith(b"$"):
            out.append(lines[i + 1])
            i += 2
        else:
            i += 1
    return out


class Runner:
    """Runs script operations on one server, on named connections."""

    def __init__(self, port, proto):
        self.port = port
        self.proto = proto
        self.conns = {}

    def conn(self, name):
        c = self.conns.get(name)
        if c is None:
            c = RawConn(self.port)
            c.sock.settimeout(5)
            if self.proto == 3:
                c.sock.sendall(encode([b"HELLO", b"3"]))
                c.read_reply()  # (server name and version differ)
            self.conns[name] = c
        return c

    def read(self, c, n):
        return [c.read_reply() for _ in range(n)]

    def run_ops(self, ops):
        """("cmd", conn, argv, frames): send, read that many frames;
        ("any", ...): the same, frames compared in any order; ("set", conn,
        argv): a flat array of bulks compared as a set; ("read", conn, n):
        n pushed frames, in any order."""
        out = []
        for op in ops:
            kind = op[0]
            if kind in ("cmd", "any"):
                _, name, argv, n = op
                c = self.conn(name)
                c.sock.sendall(encode(argv))
                frames = self.read(c, n)
                out.append((kind, name, argv, sorted(frames) if kind == "any" else frames))
            elif kind == "set":
                _, name, argv = op
                c = self.conn(name)
                c.sock.sendall(encode(argv))
                r = c.read_reply()
                out.append((kind, name, argv, r[:1], sorted(bulks(r))))
            elif kind == "unsuball":
                # Unsubscribing from every name: Redis's order is its dict's,
                # and each frame's count depends on that order, so the names
                # and the counts are compared as multisets.
                _, name, argv, n = op
                c = self.conn(name)
                c.sock.sendall(encode(argv))
                frames = self.read(c, n)
                out.append((kind, name, argv, sorted(f[:f.rindex(b":")] for f in frames),
                            sorted(f[f.rindex(b":"):] for f in frames)))
            elif kind == "read":
                _, name, n = op
                out.append((kind, name, sorted(self.read(self.conn(name), n))))
            else:
                raise ValueError(kind)
        return out

    def finish(self):
        """PING and RESET every connection (a stray frame would come first),
        then close them."""
        out = []
        for name in sorted(self.conns):
            c = self.conns[name]
            c.sock.sendall(encode([b"PING"]) + encode([b"RESET"]))
            out.append(("end", name, self.read(c, 2)))
        for c in self.conns.values():
            c.close()
        self.conns = {}
        return out


# ---------------------------------------------------------------- the scripts
#
# "{c}" in an argument becomes a name unique to the run, so runs never see
# each other's channels.

def cmd(conn, *argv, n=1):
    return ("cmd", conn, list(argv), n)


def any_(conn, *argv, n=1):
    return ("any", conn, list(argv), n)


def unsuball(conn, *argv, n=1):
    return ("unsuball", conn, list(argv), n)


def read(conn, n=1):
    return ("read", conn, n)


def script_basics(proto):
    return [
        cmd("s", "SUBSCRIBE", "{c}a", "{c}b", n=2),
        cmd("p", "PUBLISH", "{c}a", "m1"), read("s"),
        cmd("p", "PUBLISH", "{c}b", ""), read("s"),
        cmd("p", "PUBLISH", "{c}zz", "nobody"),
        cmd("s", "SUBSCRIBE", "{c}a", "{c}a", "{c}c", n=3),
        cmd("s", "UNSUBSCRIBE", "{c}a", "{c}nope", n=2),
        cmd("p", "PUBLISH", "{c}a", "gone"),
        cmd("p", "PUBLISH", "{c}c", "m2"), read("s"),
        unsuball("s", "UNSUBSCRIBE", n=2),
        cmd("s", "UNSUBSCRIBE"),
        cmd("s", "PUNSUBSCRIBE"),
        cmd("s", "SUNSUBSCRIBE"),
        cmd("s", "GET", "{c}k"),
    ]


def script_counts(proto):
    return [
        cmd("s1", "SUBSCRIBE", "{c}x", "{c}y", n=2),
        cmd("s2", "SUBSCRIBE", "{c}x", n=1),
        cmd("s3", "PSUBSCRIBE", "{c}*", "{c}x*", n=2),
        cmd("p", "PUBSUB", "NUMSUB", "{c}x", "{c}y", "{c}z"),
        cmd("p", "PUBSUB", "NUMSUB"),
        cmd("p", "PUBSUB", "NUMPAT"),
        ("set", "p", ["PUBSUB", "CHANNELS"]),
        ("set", "p", ["PUBSUB", "CHANNELS", "{c}?"]),
        ("set", "p", ["PUBSUB", "CHANNELS", "nomatch*"]),
        cmd("p", "PUBLISH", "{c}x", "hello"), read("s1"), read("s2"), read("s3", 2),
        cmd("p", "PUBLISH", "{c}y", "hi"), read("s1"), read("s3"),
        cmd("s2", "UNSUBSCRIBE", "{c}x"),
        cmd("s3", "PUNSUBSCRIBE", "{c}*"),
        cmd("p", "PUBLISH", "{c}x", "again"), read("s1"), read("s3"),
        cmd("p", "PUBSUB", "NUMSUB", "{c}x"),
        cmd("p", "PUBSUB", "NUMPAT"),
        cmd("s3", "PSUBSCRIBE", "{c}x*", n=1),
        cmd("p", "PUBSUB", "NUMPAT"),
    ]


def script_subscribed_mode(proto):
    refused = [["GET", "{c}k"], ["SET", "{c}k", "v"], ["CLIENT", "LIST"], ["CLIENT", "ID"],
               ["CONFIG", "GET", "timeout"], ["PUBSUB", "NUMPAT"], ["PUBLISH", "{c}a", "b"],
               ["SPUBLISH", "{c}a", "b"], ["MULTI"], ["HELLO", "3"], ["ECHO", "x"],
               ["SELECT", "1"], ["INFO"], ["COMMAND", "COUNT"], ["DBSIZE"], ["MGET", "{c}k"],
               # Errors that come before the subscribed-mode check in Redis:
               ["NOSUCHCOMMAND"], ["GET"], ["SUBSCRIBE"], ["CLIENT"], ["CLIENT", "FOO"],
               ["CONFIG", "GET"], ["PUBSUB", "FOO"], ["PUBSUB", "NUMPAT", "x"],
               ["PING", "a", "b"]]
    if proto == 3:
        # Allowed in RESP3: leave out what differs between servers by
        # nature (ids, addresses, versions, command counts) or opens MULTI.
        varying = {"LIST", "ID", "INFO", "HELLO", "COUNT", "MULTI"}
        refused = [r for r in refused if not varying & {str(a).upper() for a in r}]
    s = [cmd("s", "SUBSCRIBE", "{c}a")]
    s += [cmd("s", *r) for r in refused]
    s += [cmd("s", "PING"), cmd("s", "PING", "hello"), cmd("s", "ping", "")]
    s += [cmd("s", "PSUBSCRIBE", "{c}p*"), cmd("s", "SSUBSCRIBE", "{c}s"),
          cmd("s", "SUNSUBSCRIBE", "{c}s"), cmd("s", "PUNSUBSCRIBE", "{c}p*"),
          cmd("s", "UNSUBSCRIBE", "{c}a"),
          # Out of subscribed mode again:
          cmd("s", "PING"), cmd("s", "GET", "{c}k"),
          cmd("s", "SSUBSCRIBE", "{c}s"), cmd("s", "GET", "{c}k"),
          cmd("s", "RESET"), cmd("s", "GET", "{c}k"), cmd("s", "PING")]
    # RESET leaves subscribed mode, MULTI and the selected database.
    s += [cmd("t", "SELECT", "2"), cmd("t", "MULTI"), cmd("t", "SUBSCRIBE", "{c}q"),
          cmd("t", "RESET"), cmd("t", "EXEC"), cmd("t", "SUBSCRIBE", "{c}q"),
          cmd("p", "PUBLISH", "{c}q", "m"), read("t"), cmd("t", "RESET"),
          cmd("p", "PUBLISH", "{c}q", "m")]
    return s


def script_interleave(proto):
    # Ordinary commands work while subscribed in RESP3 (RESP2 refuses
    # them); their replies and the pushed messages share the connection,
    # compared in any order where a message from another connection races
    # a reply.
    return [
        cmd("s", "SUBSCRIBE", "{c}a"),
        cmd("s", "SET", "{c}k", "v"),
        cmd("p", "PUBLISH", "{c}a", "m1"),
        any_("s", "GET", "{c}k", n=2),
        # Publishing to oneself: the message, then the reply, as in Redis.
        cmd("s", "PUBLISH", "{c}a", "self", n=2 if proto == 3 else 1),
        cmd("s", "PING"),
        cmd("s", "UNSUBSCRIBE"),
    ]


def script_shard(proto):
    return [
        cmd("s", "SSUBSCRIBE", "{c}a", "{c}b", "{c}a", n=3),
        cmd("s", "SUBSCRIBE", "{c}a"),
        cmd("p", "SPUBLISH", "{c}a", "m1"), read("s"),
        cmd("p", "PUBLISH", "{c}b", "not for shard subscribers"),
        cmd("p", "PUBSUB", "SHARDNUMSUB", "{c}a", "{c}b", "{c}c"),
        cmd("p", "PUBSUB", "SHARDNUMSUB"),
        ("set", "p", ["PUBSUB", "SHARDCHANNELS", "{c}*"]),
        cmd("p", "PUBSUB", "NUMSUB", "{c}a", "{c}b"),
        cmd("s", "SUNSUBSCRIBE", "{c}a", "{c}zz", n=2),
        any_("s", "SUNSUBSCRIBE", n=1),
        cmd("s", "SUNSUBSCRIBE"),
        cmd("p", "SPUBLISH", "{c}b", "x"),
        cmd("s", "UNSUBSCRIBE"),
    ]


def script_errors(proto):
    return [cmd("p", *a) for a in [
        ["PUBSUB"], ["PUBSUB", "HELP"], ["pubsub", "help", "x"], ["PUBSUB", "FOO"],
        ["pubSub", "foo", "bar"], ["PUBSUB", "CHANNELS", "a", "b"],
        ["pubsub", "Channels", "a", "b"], ["PUBSUB", "SHARDCHANNELS", "a", "b"],
        ["PUBSUB", "NUMPAT", "x"], ["PUBSUB", "NUMSUB"], ["PUBSUB", "SHARDNUMSUB"],
        ["PUBLISH"], ["PUBLISH", "a"], ["PUBLISH", "a", "b", "c"], ["SPUBLISH", "a"],
        ["SUBSCRIBE"], ["PSUBSCRIBE"], ["SSUBSCRIBE"], ["UNSUBSCRIBE"], ["PUNSUBSCRIBE"],
        ["SUNSUBSCRIBE"], ["RESET", "x"], ["PUNSUBSCRIBE", "a", "b"],
    ]]


# Pattern, then channels published to: the count (0 or 1) and the frame
# must agree with Redis's stringmatchlen.
PATTERNS = [
    (b"*", [b"", b"x", b"*"]), (b"", [b"", b"x"]), (b"?", [b"", b"a", b"ab"]),
    (b"a*", [b"a", b"ab", b"ba"]), (b"h?llo", [b"hello", b"hllo", b"heello"]),
    (b"h[ae]llo", [b"hallo", b"hello", b"hillo"]), (b"h[^e]llo", [b"hallo", b"hello"]),
    (b"h[a-c]llo", [b"hbllo", b"hdllo"]), (b"h[c-a]llo", [b"hbllo", b"hdllo"]),
    (b"h\\*llo", [b"h*llo", b"hello"]), (b"[", [b"[", b"a"]), (b"[a", [b"a", b"b"]),
    (b"a\\", [b"a\\", b"a"]), (b"[\\]]", [b"]", b"\\"]), (b"[a-]", [b"]", b"a", b"-"]),
    (b"**", [b"x", b""]), (b"\\", [b"\\"]), (b"[^]", [b"a", b"]"]), (b"[]]", [b"]"]),
    (b"a*b*c", [b"abc", b"aXbYc", b"acb"]), (b"[a-z]*[0-9]", [b"abc1", b"1"]),
    (b"H*", [b"hello", b"Hello"]), (b"*a*a*a*a*a*a*a*a*a*b", [b"a" * 60, b"a" * 30 + b"b"]),
    (b"\xff*", [b"\xff\x00", b"\xfe"]), (b"a\x00*", [b"a\x00b", b"a"]),
]


def script_patterns(proto):
    s = []
    for i, (pat, chans) in enumerate(PATTERNS):
        sub = "s%d" % (i % 3)
        s.append(cmd(sub, "PSUBSCRIBE", pat))
        for ch in chans:
            s.append(("pub", sub, ch))
        s.append(cmd(sub, "PUNSUBSCRIBE", pat))
    return s


def script_multi(proto):
    return [
        cmd("s", "SUBSCRIBE", "{c}a"),
        cmd("p", "MULTI"), cmd("p", "PUBLISH", "{c}a", "in-multi"),
        cmd("p", "SUBSCRIBE", "{c}b"), cmd("p", "PUBSUB", "NUMSUB", "{c}b"),
        cmd("p", "EXEC"), read("s"),
        cmd("s", "UNSUBSCRIBE", "{c}a"),
    ]


def script_payloads(proto):
    big = b"x" * 100000
    return [
        cmd("s", "SUBSCRIBE", b"{c}\x00\r\n\xff", "{c}big", n=2),
        cmd("p", "PUBLISH", b"{c}\x00\r\n\xff", b"a\r\nb\x00"), read("s"),
        cmd("p", "PUBLISH", "{c}big", big), read("s"),
        cmd("p", "PUBLISH", "{c}big", ""), read("s"),
        unsuball("s", "UNSUBSCRIBE", n=2),
    ]


SCRIPTS = {"basics": script_basics, "counts": script_counts,
           "subscribed_mode": script_subscribed_mode, "interleave": script_interleave,
           "shard": script_shard, "errors": script_errors, "patterns": script_patterns,
           "multi": script_multi, "payloads": script_payloads}


class PubSubDiff:
    """The test methods; subclasses pick shardkv's thread count."""

    SKV_ARGS = ()
    nrun = 0

    def expand(self, script):
        PubSubDiff.nrun += 1
        pre = b"ps%d:" % PubSubDiff.nrun
        out = []
        for op in script:
            if op[0] in ("cmd", "any", "set", "unsuball"):
                args = [b(a).replace(b"{c}", pre) for a in op[2]]
                out.append((op[0], op[1], args) + tuple(op[3:]))
            elif op[0] == "pub":
                # PUBLISH from "p", then read as many frames on the
                # subscriber as Redis's reply says (checked equal first).
                out.append(("cmd", "p", [b"PUBLISH", op[2], b"m"], 1))
                out.append(("pubread", op[1]))
            else:
                out.append(op)
        return out

    def run_both(self, script, proto):
        script = self.expand(script)
        want = self.run_on(self.redis.port, script, proto)
        got = self.run_on(self.skv.port, script, proto)
        log = self.skv.log()
        for marker in skvdiff.SANITIZER_MARKERS:
            self.assertNotIn(marker, log, log[-4000:])
        for i, (w, g) in enumerate(zip(want, got)):
            self.assertEqual(w, g, "step %d of %d differs (RESP%d)" % (i, len(want), proto))
        self.assertEqual(len(want), len(got))

    def run_on(self, port, script, proto):
        r = Runner(port, proto)
        out = []
        for op in script:
            if op[0] != "pubread":
                out += r.run_ops([op])
                continue
            reply = out[-1][3][0]
            n = int(reply[1:-2]) if reply.startswith(b":") else 0
            out += r.run_ops([("read", op[1], n)])
        return out + r.finish()

    def check(self, name):
        for proto in (2, 3):
            for _ in range(REPEATS):
                self.run_both(SCRIPTS[name](proto), proto)


def add_tests(cls):
    for name in SCRIPTS:
        setattr(cls, "test_" + name, lambda self, n=name: self.check(n))
    return cls


class _Base(PubSubDiff, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = skvtest.RedisServer().start()
        cls.skv = skvtest.ShardkvServer(args=cls.SKV_ARGS).start()

    @classmethod
    def tearDownClass(cls):
        for s in (cls.skv, cls.redis):
            s.stop()

    def test_command_info(self):
        names = ["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe",
                 "sunsubscribe", "publish", "spublish", "pubsub", "reset"]
        with skvtest.Client(self.redis.port) as r, skvtest.Client(self.skv.port) as s:
            for name in names:
                want = r.call("COMMAND", "INFO", name)[0]
                got = s.call("COMMAND", "INFO", name)[0]
                self.assertEqual(got[:2], want[:2], name)
                self.assertEqual(got[3:6], want[3:6], name)

    def test_comparison_can_fail(self):
        # A frame on the wrong side or a different count must be seen.
        with self.assertRaises(AssertionError):
            self.assertEqual([("read", "s", [b"a"])], [("read", "s", [b"b"])])


@add_tests
class TwoThreads(_Base):
    SKV_ARGS = ("--threads", "2")


@add_tests
class FourThreads(_Base):
    SKV_ARGS = ("--threads", "4")


del _Base

if __name__ == "__main__":
    skvtest.main()
