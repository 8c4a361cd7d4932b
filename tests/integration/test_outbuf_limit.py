#!/usr/bin/python3
"""client-output-buffer-limit: Redis 7.0's class format in CONFIG GET/SET
(compared with redis-server) and in the flag/JSON/env forms; clients that
pipeline big GETs and never read are closed at the limit with the server's
memory bounded, whichever thread produced their replies; a client that
reads big values under the default is served in full and costs the server
little memory. Run directly or through ctest."""

import json
import os
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import RedisServer, ShardkvServer, encode_command, run_server  # noqa: E402

MB = 1 << 20
OPT = "client-output-buffer-limit"
REDIS_DEFAULT = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"


def vm_rss(pid):
    """The process's resident set in bytes (/proc/PID/status VmRSS)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


def under_tsan(pid):
    """ThreadSanitizer's allocator and shadow memory make RSS meaningless."""
    with open("/proc/%d/maps" % pid) as f:
        return "libtsan" in f.read()


# A small ASan quarantine, so that freed reply buffers do not count as held
# memory in sanitizer builds (no effect on other builds).
SMALL_QUARANTINE = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16"}


class RssPeak:
    """Samples a process's VmRSS every 10 ms in a thread; .peak is the most
    seen between start and stop."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = 0
        self.done = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, vm_rss(self.pid))
            except (OSError, AssertionError):
                return
            time.sleep(0.01)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.t.join()
        return False


def set_big_keys(client, n):
    """n keys of 1 MB each; with 16 of them every shard owns some, so every
    client has requests out on another thread."""
    keys = ["big:%d" % i for i in range(n)]
    for i, k in enumerate(keys):
        assert client.call("SET", k, bytes([65 + i % 26]) * MB) == "OK"
    return keys


def read_until_closed(sock, timeout):
    """Read and discard until the server closes sock; True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(1 << 20):
                return True
        except socket.timeout:
            return False
        except ConnectionError:
            return True
    return False


class ConfigFormat(unittest.TestCase):
    """CONFIG GET/SET of the class format, reply for reply against Redis."""

    VALUES = [
        "normal 64mb 0 0",
        "normal 1k 2kb 3 replica 1 2 3",
        "slave 4 5 6",
        "pubsub 7 8 9 normal 5 6 7",
        "NORMAL 1 2 3",
        "normal 1gb 2g 3",
        "normal 1 2 3 normal 4 5 6",
        "normal 1mb 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60",
        "",
        "normal 1 2",
        "normal 1 2 3 ",
        "normal  1 2 3",
        "  normal   1 2 3  ",
        "foo 1 2 3",
        "master 1 2 3",
        "normal 1 2 3 master 1 2 3",
        "normal x 2 3",
        "normal 1 x 3",
        "normal 1 2 x",
        "normal 1 2 -3",
        "normal -1 2 3",
        "normal +1 2 3",
        "normal 1.5 2 3",
        "normal 1 2 +3",
        "normal 1 2 03",
        "normal 1 2 -0",
        "normal 1 2 ",
        "normal 1b 2 3",
        "normal 1 2 2147483647",
        "normal 1 2 2147483648",
        "normal 1 2 99999999999999999999",
        "normal 18446744073709551615 2 3",
        "normal 99999999999999999999 2 3",
        "normal 0 0 0",
    ]

    def test_matches_redis(self):
        if not skvtest.have_redis_server():
            self.skipTest("redis-server not installed")
        with ShardkvServer(["--threads", "2"]) as s, RedisServer() as r, \
                s.client() as cs, r.client() as cr:
            self.assertEqual(cs.call("CONFIG", "GET", OPT), cr.call("CONFIG", "GET", OPT))
            self.assertEqual(cr.call("CONFIG", "GET", OPT)[1].decode(), REDIS_DEFAULT)
            for v in self.VALUES:
                got, want = cs.call("CONFIG", "SET", OPT, v), cr.call("CONFIG", "SET", OPT, v)
                self.assertEqual(got, want, "CONFIG SET %s %r" % (OPT, v))
                got, want = cs.call("CONFIG", "GET", OPT), cr.call("CONFIG", "GET", OPT)
                self.assertEqual(got, want, "CONFIG GET after %r" % v)
            # Several options at once: all or nothing, as in Redis.
            for args in ([OPT, "normal 1 2 3", "maxclients", "x"],
                         [OPT, "normal 1 2 3", OPT, "normal 4 5 6"],
                         [OPT, "normal 9 8 7", "timeout", "0"]):
                self.assertEqual(cs.call("CONFIG", "SET", *args), cr.call("CONFIG", "SET", *args))
                self.assertEqual(cs.call("CONFIG", "GET", OPT), cr.call("CONFIG", "GET", OPT))

    def test_flag_json_env(self):
        want = "normal 1048576 2000 3 slave 268435456 67108864 60 pubsub 1 2 3"
        text = "normal 1mb 2k 3 pubsub 1 2 3"
        tmp = tempfile.mkdtemp(prefix="skvobuf-")
        path = os.path.join(tmp, "c.json")
        with open(path, "w") as f:
            json.dump({OPT: text}, f)
        try:
            for args, env in ((["--" + OPT, text], None),
                              (["--config", path], None),
                              ([], {"SHARDKV_CLIENT_OUTPUT_BUFFER_LIMIT": text})):
                with ShardkvServer(args, env=env) as s, s.client(decode=True) as c:
                    self.assertEqual(c.call("CONFIG", "GET", OPT), [OPT, want], args or env)
            rc, out, err = run_server(["--port", "0", "--" + OPT, "normal 1 2"])
            self.assertEqual(rc, 2)
            self.assertIn("Wrong number of arguments in buffer limit configuration.", err)
        finally:
            os.unlink(path)
            os.rmdir(tmp)


def disconnections(c):
    """INFO's count of clients closed for their output buffer limit."""
    stats = skvtest.parse_info(c.call("INFO", "stats"))["stats"]
    return int(stats["client_output_buffer_limit_disconnections"])


class Limits(unittest.TestCase):
    CLIENTS = 4
    GETS = 3000      # per client: 3 GB of replies asked for, never read
    LIMIT = 64 * MB

    def flood(self, threads):
        with ShardkvServer(["--threads", str(threads), "--" + OPT, "normal 64mb 0 0"],
                           env=SMALL_QUARANTINE) as s, s.client() as c:
            keys = set_big_keys(c, 16)
            base = vm_rss(s.proc.pid)
            req = b"".join(encode_command("GET", keys[i % len(keys)]) for i in range(self.GETS))
            socks = []
            for _ in range(self.CLIENTS):
                sk = socket.socket()
                sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
                sk.connect(("127.0.0.1", s.port))
                socks.append(sk)
            with RssPeak(s.proc.pid) as rss:
                senders = [threading.Thread(target=self.send, args=(sk, req), daemon=True)
                           for sk in socks]
                for t in senders:
                    t.start()
                # The flood, until the server has closed every client (or a
                # minute: a sanitizer build is slow to make 64 MB of replies
                # for four clients, and a client read before it got there
                # would drain its buffer and never be closed). Then read:
                # each must find its end.
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and disconnections(c) < self.CLIENTS:
                    time.sleep(0.1)
                closed = sum(read_until_closed(sk, 20) for sk in socks)
            for sk in socks:
                sk.close()
            # Before: 450-500 MB per client, whatever the limit.
            bound = base + (self.CLIENTS + 2) * self.LIMIT
            if not under_tsan(s.proc.pid):
                self.assertLess(rss.peak, bound, "peak VmRSS %d MB, base %d MB"
                                % (rss.peak >> 20, base >> 20))
            self.assertEqual(closed, self.CLIENTS)
            self.assertEqual(disconnections(c), self.CLIENTS)
            self.assertIn("scheduled to be closed ASAP for overcoming of output buffer limits.",
                          s.log())
            # The server is fine and the values intact.
            self.assertEqual(c.call("GET", keys[3]), bytes([65 + 3]) * MB)
            self.assertEqual(c.call("PING"), "PONG")

    @staticmethod
    def send(sk, data):
        try:
            sk.sendall(data)
        except OSError:
            pass  # closed by the server mid-send: expected

    def test_nonreading_closed_threads2(self):
        self.flood(2)

    def test_nonreading_closed_threads4(self):
        self.flood(4)

    def test_fanout_parts(self):
        # MGET's parts come back from every shard (in a transaction, txn.c):
        # they count too. One MGET is served whole; a client pipelining
        # MGETs it never reads is closed, and the parts made for it stop at
        # its limit (before: 1.6 GB, every MGET of the pipeline at once).
        with ShardkvServer(["--threads", "2", "--" + OPT, "normal 64mb 0 0"],
                           env=SMALL_QUARANTINE) as s, s.client() as c:
            keys = set_big_keys(c, 16)
            self.assertEqual(c.call("MGET", *keys), [bytes([65 + i]) * MB for i in range(16)])
            base = vm_rss(s.proc.pid)
            with RssPeak(s.proc.pid) as rss:
                sk = socket.create_connection(("127.0.0.1", s.port))
                sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
                self.send(sk, encode_command("MGET", *keys) * 100)  # 1.6 GB asked for
                deadline = time.monotonic() + 60  # (as in flood)
                while time.monotonic() < deadline and disconnections(c) < 1:
                    time.sleep(0.1)
                self.assertTrue(read_until_closed(sk, 60))
                sk.close()
            if not under_tsan(s.proc.pid):
                self.assertLess(rss.peak, base + 3 * self.LIMIT, "peak VmRSS %d MB, base %d MB"
                                % (rss.peak >> 20, base >> 20))
            self.assertEqual(c.call("MGET", keys[0], keys[9]), [b"A" * MB, b"J" * MB])

    def test_soft_limit(self):
        # Over the soft limit (1 MB) for more than its 1 second: closed then,
        # not at once, even though nothing more happens on the connection.
        with ShardkvServer(["--threads", "2", "--" + OPT, "normal 0 1mb 1"],
                           env=SMALL_QUARANTINE) as s, s.client() as c:
            keys = set_big_keys(c, 16)
            sk = socket.create_connection(("127.0.0.1", s.port))
            sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            self.send(sk, b"".join(encode_command("GET", k) for k in keys * 2))
            t = time.monotonic()
            time.sleep(0.5)
            stats = skvtest.parse_info(c.call("INFO", "stats"))["stats"]
            self.assertEqual(stats["client_output_buffer_limit_disconnections"], "0")
            # Reading would bring it under the limit again: wait, then read.
            # Whole seconds, as Redis counts them: closed 2-3 s after.
            time.sleep(3.5)
            self.assertTrue(read_until_closed(sk, 10))
            self.assertGreater(time.monotonic() - t, 1.0)
            sk.close()
            stats = skvtest.parse_info(c.call("INFO", "stats"))["stats"]
            self.assertEqual(stats["client_output_buffer_limit_disconnections"], "1")

    def test_readers_default(self):
        # Redis's default: no limit for normal clients. Clients that
        # pipeline 300 big GETs each and read them, late, are served in
        # full, and the server paces them instead of producing hundreds of
        # replies ahead (before: 256 in flight and more queued per client).
        with ShardkvServer(["--threads", "2"], env=SMALL_QUARANTINE) as s, s.client() as c:
            self.assertEqual(c.call("CONFIG", "GET", OPT)[1].decode(), REDIS_DEFAULT)
            keys = set_big_keys(c, 16)
            base = vm_rss(s.proc.pid)
            n, readers = 300, [s.client(timeout=60) for _ in range(self.CLIENTS)]
            req = b"".join(encode_command("GET", keys[i % 16]) for i in range(n))
            with RssPeak(s.proc.pid) as rss:
                for r in readers:
                    r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
                    r.send_raw(req)
                time.sleep(2)  # slow readers: the server must not run ahead
                for r in readers:
                    for i in range(n):
                        v = r.read_reply()
                        self.assertEqual(v, bytes([65 + (i % 16) % 26]) * MB, "reply %d" % i)
                    self.assertEqual(r.call("PING"), "PONG")
                    r.close()
            # A client's first pipeline may have 16 replies out before the
            # server knows how big they are (dispatch.c, ORDER_UNIT_FIRST);
            # after that about 4 MB of them.
            if not under_tsan(s.proc.pid):
                self.assertLess(rss.peak, base + self.CLIENTS * 32 * MB,
                                "peak VmRSS %d MB, base %d MB" % (rss.peak >> 20, base >> 20))


if __name__ == "__main__":
    skvtest.main()
