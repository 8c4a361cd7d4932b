#!/usr/bin/python3
"""Debian's redis-cli against shardkv: one-shot commands, -n (SELECT), --raw,
and --pipe mass insertion of 100,000 keys. Run directly or through ctest."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import ShardkvServer, encode_command  # noqa: E402

REDIS_CLI = "/usr/bin/redis-cli"


class RedisCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.skv = ShardkvServer(["--threads", "2"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.skv.stop()

    def cli(self, *args, stdin=None, timeout=60):
        # Without a terminal redis-cli prints raw replies; --no-raw keeps the
        # interactive formatting ("(integer) 1", "(nil)") unless --raw is given.
        fmt = [] if "--raw" in args or "--pipe" in args else ["--no-raw"]
        p = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.skv.port)] + fmt + list(args),
                           input=stdin, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_one_shot(self):
        self.assertEqual(self.cli("PING")[1], "PONG\n")
        self.assertEqual(self.cli("SET", "cli:k", "hello world")[1], "OK\n")
        self.assertEqual(self.cli("GET", "cli:k")[1], "\"hello world\"\n")
        self.assertEqual(self.cli("INCR", "cli:n")[1], "(integer) 1\n")
        self.assertEqual(self.cli("--raw", "INCR", "cli:n")[1], "2\n")
        self.assertEqual(self.cli("GET", "cli:missing")[1], "(nil)\n")
        self.assertEqual(self.cli("ECHO", "x")[1], "\"x\"\n")
        rc, out, err = self.cli("NOSUCHCOMMAND")
        self.assertIn("ERR unknown command", out + err)
        rc, out, err = self.cli("CONFIG", "GET", "port")
        self.assertEqual(out, "1) \"port\"\n2) \"%d\"\n" % self.skv.port)
        rc, out, err = self.cli("INFO", "server")
        self.assertIn("redis_version:", out)
        rc, out, err = self.cli("CLIENT", "SETNAME", "bad name")
        self.assertIn("ERR Client names cannot contain spaces", out + err)

    def test_select_with_n(self):
        self.assertEqual(self.cli("-n", "2", "SET", "cli:db", "two")[1], "OK\n")
        self.assertEqual(self.cli("-n", "2", "GET", "cli:db")[1], "\"two\"\n")
        self.assertEqual(self.cli("GET", "cli:db")[1], "(nil)\n")

    def test_hello3_with_resp3_flag(self):
        rc, out, err = self.cli("-3", "HELLO", "3")
        self.assertEqual(rc, 0, err)
        self.assertIn("proto", out)
        self.assertIn("3", out)

    def test_pipe_100k(self):
        n = 100000
        data = b"".join(encode_command("SELECT", "5") if i == 0 else b"" for i in range(1))
        data += b"".join(encode_command("SET", "pipe:%d" % i, "value-%d" % i) for i in range(n))
        rc, out, err = self.cli("--pipe", stdin=data, timeout=120)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("errors: 0, replies: %d" % (n + 1), out)
        self.assertEqual(self.cli("-n", "5", "DBSIZE")[1], "(integer) %d\n" % n)
        self.assertEqual(self.cli("-n", "5", "GET", "pipe:99999")[1], "\"value-99999\"\n")
        self.assertEqual(self.cli("-n", "5", "GET", "pipe:0")[1], "\"value-0\"\n")


if __name__ == "__main__":
    skvtest.main()
