"""Differential testing against a real redis-server 7.0: raw RESP
connections that return each reply as its exact bytes, the byte comparison
(with a tolerance for relative TTLs), and a unittest base class that runs
lists of command cases on both servers, each case in a keyspace of its own,
and fails with the first differences. Used by tests/compat/test_diff*.py."""

import socket
import unittest

import skvtest

# How far apart two servers' relative TTL readings may be: the test sends to
# one server, then the other, so a few milliseconds pass in between; the
# margin is generous for loaded CI machines.
PTTL_TOLERANCE_MS = 1000
TTL_TOLERANCE_S = 1

# Commands whose integer reply depends on the moment it was computed.
TIMING = {b"TTL": TTL_TOLERANCE_S, b"EXPIRETIME": TTL_TOLERANCE_S,
          b"PTTL": PTTL_TOLERANCE_MS, b"PEXPIRETIME": PTTL_TOLERANCE_MS}

# What sanitizer builds print when they find something.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "WARNING: ThreadSanitizer", "runtime error:",
                     "ERROR: LeakSanitizer")

# Far-future absolute times (year 2100), so nothing expires during the run.
FAR_S = b"4102444800"
FAR_MS = b"4102444800000"


def b(x):
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode("utf-8", "surrogateescape")
    return str(x).encode()


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = b(a)
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawConn:
    """One TCP connection that returns each reply as its exact bytes."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        self.sock.close()

    def _need(self, n):
        while len(self.buf) - self.pos < n:
            d = self.sock.recv(1 << 16)
            if not d:
                raise skvtest.ConnectionClosed("server closed the connection")
            self.buf += d

    def _line_end(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                return i + 2
            d = self.sock.recv(1 << 16)
            if not d:
                raise skvtest.ConnectionClosed("server closed the connection")
            self.buf += d

    def _skip_one(self):
        end = self._line_end()
        t = self.buf[self.pos:self.pos + 1]
        head = bytes(self.buf[self.pos + 1:end - 2])
        self.pos = end
        if t in (b"$", b"=", b"!"):
            n = int(head)
            if n >= 0:
                self._need(n + 2)
                self.pos += n + 2
        elif t in (b"*", b"~", b">", b"%", b"|"):
            n = int(head)
            if t in (b"%", b"|"):
                n *= 2
            for _ in range(max(n, 0)):
                self._skip_one()

    def read_reply(self):
        start = self.pos
        self._skip_one()
        raw = bytes(self.buf[start:self.pos])
        del self.buf[:self.pos]
        self.pos = 0
        return raw

    def run(self, cmds):
        """Send the commands in one write (a pipeline), return raw replies."""
        self.sock.sendall(b"".join(encode(c) for c in cmds))
        return [self.read_reply() for _ in cmds]


def same_reply(cmd, a, b_):
    """Byte equality, except the timing-dependent integers within tolerance."""
    if a == b_:
        return True
    tol = TIMING.get(b(cmd[0]).upper())
    if tol is None or not (a.startswith(b":") and b_.startswith(b":")):
        return False
    x, y = int(a[1:-2]), int(b_[1:-2])
    # -1 and -2 mean "no TTL" and "no key": never within a tolerance.
    if x < 0 or y < 0:
        return False
    return abs(x - y) <= tol


class DiffTest(unittest.TestCase):
    """Subclasses set SKV_ARGS (extra shardkv-server arguments) if needed."""

    SKV_ARGS = ()
    redis = None
    skv = None

    @classmethod
    def setUpClass(cls):
        cls.redis = skvtest.RedisServer().start()
        cls.skv = skvtest.ShardkvServer(args=cls.SKV_ARGS).start()
        cls.rc = RawConn(cls.redis.port)
        cls.sc = RawConn(cls.skv.port)
        DiffTest.ncase = getattr(DiffTest, "ncase", 0)

    @classmethod
    def tearDownClass(cls):
        for c in (getattr(cls, "rc", None), getattr(cls, "sc", None)):
            if c is not None:
                c.close()
        for s in (cls.skv, cls.redis):
            if s is not None:
                s.stop()

    def expand(self, case):
        """Give the case's keys a prefix of their own."""
        DiffTest.ncase += 1
        pre = b"dt%d:" % DiffTest.ncase
        subst = {b"{k}": pre + b"k", b"{k2}": pre + b"k2", b"{k3}": pre + b"k3",
                 b"{k4}": pre + b"k4"}
        return [[subst.get(b(a), b(a)) for a in cmd] for cmd in case]

    def compare(self, cases, label, rc=None, sc=None):
        """Run every case on both servers (on the class's connections unless
        others are given) and fail with the first differences found."""
        rc = rc or self.rc
        sc = sc or self.sc
        mismatches = []
        ncmds = 0
        for case in cases:
            cmds = self.expand(case)
            ncmds += len(cmds)
            want = rc.run(cmds)
            got = sc.run(cmds)
            for cmd, w, g in zip(cmds, want, got):
                if not same_reply(cmd, w, g):
                    mismatches.append((cmd, w, g))
        # A sanitizer build of the server reports and may keep running: its
        # log must stay free of reports.
        log = self.skv.log()
        for marker in SANITIZER_MARKERS:
            self.assertNotIn(marker, log, "shardkv-server log:\n" + log[-4000:])
        if mismatches:
            lines = ["%d of %d commands differ (%s); first ones:" % (len(mismatches), ncmds, label)]
            for cmd, w, g in mismatches[:25]:
                lines.append("  %r\n    redis:   %r\n    shardkv: %r" % (cmd, w, g))
            self.fail("\n".join(lines))
        self.assertGreater(ncmds, 0)
        return ncmds

