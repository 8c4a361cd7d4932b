#!/usr/bin/python3
"""Big values through the read buffer: a 64 MB SET, its key on the
connection's own worker and on another one, completes and reads back
intact, alone or with commands pipelined behind it, with options after the
value, and with a client on the other worker served meanwhile. (A request
to another shard keeps a big SET's value in the connection's read buffer
instead of copying it: conn_take_ibuf.) Timing is in tests/bench/bigset.py.
Run directly or through ctest."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import ShardkvServer, encode_command  # noqa: E402

MB = 1 << 20
SIZE = 64 * MB


def value(tag):
    """SIZE bytes that differ along the value, so a shifted or truncated
    copy is caught."""
    block = bytes(range(256)) * 4096  # 1 MB
    return b"".join(bytes([tag, i % 256]) + block[2:] for i in range(SIZE // MB))


class BigSet(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = ShardkvServer(["--threads", "2"]).start()
        cls.c = cls.srv.client(timeout=60)
        cls.keys = [skvtest.key_on(cls.c, i, "big:") for i in range(2)]

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.srv.stop()

    def setter(self):
        """A new client and the worker it landed on: the shard whose command
        count grows by the 100 PINGs it sends (connections closing elsewhere
        make the client counts unreliable)."""
        before = [int(s["cmds"]) for s in skvtest.shards(self.c)]
        cl = self.srv.client(timeout=60)
        self.assertEqual(cl.pipeline([("PING",)] * 100), ["PONG"] * 100)
        after = [int(s["cmds"]) for s in skvtest.shards(self.c)]
        up = [i for i in range(2) if after[i] - before[i] >= 100]
        self.assertEqual(len(up), 1, (before, after))
        return cl, up[0]

    def big_set(self, other, tail=b"", extra=()):
        cl, w = self.setter()
        with cl:
            key = self.keys[(w + other) % 2]
            v = value(7 + other)
            cl.send_raw(encode_command("SET", key, v, *extra) + tail)
            self.assertEqual(cl.read_reply(), "OK")
            return cl, key, v, [cl.read_reply() for _ in range(tail.count(b"*"))]

    def check(self, key, v):
        self.assertEqual(self.c.call("STRLEN", key), SIZE)
        self.assertEqual(self.c.call("GET", key), v)
        self.assertEqual(self.c.call("DEL", key), 1)

    def test_same_and_other_worker(self):
        for other in (0, 1):
            _, key, v, _ = self.big_set(other)
            self.check(key, v)

    def test_pipelined_behind(self):
        # The read buffer holds more than the SET: it must not be lent.
        for other in (0, 1):
            cl, key, v, rest = self.big_set(other, tail=encode_command("STRLEN", "big:none") +
                                            encode_command("PING"))
            self.assertEqual(rest, [0, "PONG"])
            self.check(key, v)

    def test_options_after_value(self):
        for other in (0, 1):
            _, key, v, _ = self.big_set(other, extra=("EX", "1000"))
            ttl = self.c.call("TTL", key)
            self.assertTrue(990 <= ttl <= 1000, ttl)
            self.check(key, v)

    def test_next_command_after_lend(self):
        # After its buffer went with the SET, the client reads on into a
        # new one: a second big SET and small commands work.
        cl, w = self.setter()
        with cl:
            key = self.keys[(w + 1) % 2]
            for tag in (1, 2):
                v = value(tag)
                self.assertEqual(cl.call("SET", key, v), "OK")
                self.assertEqual(cl.call("PING"), "PONG")
                self.assertEqual(cl.call("GET", key), v)
            self.assertEqual(cl.call("DEL", key), 1)

    def test_others_served_meanwhile(self):
        # A client on the setter's worker is answered while the value is
        # on its way to the other shard (generous bound: only a gross stall
        # of the connection's worker fails it).
        cl, w = self.setter()
        with cl:
            for _ in range(20):
                p, pw = self.setter()
                if pw == w:
                    break
                p.close()
            else:
                self.fail("20 new clients, none on the setter's worker")
            with p:
                key = self.keys[(w + 1) % 2]
                s = cl.sock
                s.sendall(encode_command("SET", key, value(3))[:-2])
                t = time.monotonic()
                s.sendall(b"\r\n")
                self.assertEqual(p.call("PING"), "PONG")
                self.assertLess(time.monotonic() - t, 5.0)
                self.assertEqual(cl.read_reply(), "OK")
                self.check(key, value(3))


if __name__ == "__main__":
    skvtest.main()
