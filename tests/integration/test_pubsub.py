#!/usr/bin/python3
"""Pub/Sub across workers: with --threads 4 and subscribers and publishers on
connections spread over every worker, each subscriber gets every message
exactly once and in each publisher's order; PUBLISH counts every
subscription that completed before it; a subscriber that never reads is
closed at client-output-buffer-limit's pubsub class while a publisher
floods, with the server's memory bounded; CLIENT LIST, CLIENT KILL TYPE
pubsub and INFO report subscriptions; Debian's redis-py (4.3, RESP2 only)
pubsub() works: listen, get_message, psubscribe, run_in_thread. Run
directly or through ctest."""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import ShardkvServer  # noqa: E402
from skvdiff import RawConn, encode  # noqa: E402

import redis  # noqa: E402  (Debian's python3-redis)

# Connections are spread over workers by the kernel (SO_REUSEPORT): with
# 24 subscribers on 4 workers, the chance that one worker gets none is
# 4 * (3/4)^24, about 0.4%; the ordering test holds either way.
NSUBS = 24
MB = 1 << 20


def vm_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def parse_frame(raw):
    """A RESP2/RESP3 array of bulks as a list of bytes."""
    lines = raw.split(b"\r\n")
    out, i = [], 1
    while i < len(lines):
        if lines[i].startswith(b"$"):
            out.append(lines[i + 1])
            i += 2
        elif lines[i].startswith(b":"):
            out.append(int(lines[i][1:]))
            i += 1
        else:
            i += 1
    return out


class PubSubAcrossWorkers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.skv = ShardkvServer(args=["--threads", "4"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.skv.stop()

    def conn(self, proto=2):
        c = RawConn(self.skv.port)
        c.sock.settimeout(20)
        if proto == 3:
            c.sock.sendall(encode([b"HELLO", b"3"]))
            c.read_reply()
        return c

    def test_order_and_exactly_once(self):
        subs = [self.conn(2 if i % 2 else 3) for i in range(NSUBS)]
        for s in subs:
            s.sock.sendall(encode([b"SUBSCRIBE", b"ord"]))
            self.assertEqual(parse_frame(s.read_reply())[0], b"subscribe")
        pubs = [self.conn() for _ in range(4)]
        n = 10000
        per = n // len(pubs)
        # Each publisher pipelines its numbered messages in bursts.
        for k, p in enumerate(pubs):
            for start in range(0, per, 500):
                p.sock.sendall(b"".join(encode([b"PUBLISH", b"ord", b"%d:%d" % (k, i)])
                                        for i in range(start, min(per, start + 500))))
                for _ in range(start, min(per, start + 500)):
                    self.assertEqual(p.read_reply(), b":%d\r\n" % NSUBS)
        for s in subs:
            nxt = [0] * len(pubs)
            for _ in range(n):
                f = parse_frame(s.read_reply())
                self.assertEqual(f[:2], [b"message", b"ord"])
                k, i = map(int, f[2].split(b":"))
                self.assertEqual(i, nxt[k], "publisher %d out of order" % k)
                nxt[k] += 1
            self.assertEqual(nxt, [per] * len(pubs))
            # Nothing more: the next frame is PING's reply.
            s.sock.sendall(encode([b"PING"]))
            self.assertIn(s.read_reply(), (b"*2\r\n$4\r\npong\r\n$0\r\n\r\n", b"+PONG\r\n"))
        for c in subs + pubs:
            c.close()

    def test_publish_counts_every_completed_subscription(self):
        pubs = [self.conn() for _ in range(4)]
        subs = []
        for i in range(NSUBS):
            s = self.conn()
            kind = b"PSUBSCRIBE" if i % 3 == 0 else b"SUBSCRIBE"
            s.sock.sendall(encode([kind, b"cnt*" if i % 3 == 0 else b"cnt1"]))
            s.read_reply()
            subs.append(s)
            p = pubs[i % len(pubs)]
            p.sock.sendall(encode([b"PUBLISH", b"cnt1", b"x"]))
            self.assertEqual(p.read_reply(), b":%d\r\n" % (i + 1))
        p = pubs[0]
        p.sock.sendall(encode([b"PUBSUB", b"NUMSUB", b"cnt1"]) + encode([b"PUBSUB", b"NUMPAT"]))
        self.assertEqual(parse_frame(p.read_reply()), [b"cnt1", NSUBS - NSUBS // 3])
        self.assertEqual(p.read_reply(), b":1\r\n")
        for i, s in enumerate(subs):
            s.sock.sendall(encode([b"RESET"]))
            while s.read_reply() != b"+RESET\r\n":
                pass  # (messages published meanwhile)
            q = pubs[i % len(pubs)]
            q.sock.sendall(encode([b"PUBLISH", b"cnt1", b"x"]))
            self.assertEqual(q.read_reply(), b":%d\r\n" % (NSUBS - i - 1))
        for c in subs + pubs:
            c.close()

    def test_client_list_info_and_kill_type_pubsub(self):
        s = self.conn(3)
        s.sock.sendall(encode([b"SUBSCRIBE", b"i1", b"i2"]) + encode([b"PSUBSCRIBE", b"i*"]) +
                       encode([b"SSUBSCRIBE", b"i3"]) + encode([b"CLIENT", b"INFO"]))
        for _ in range(4):
            s.read_reply()
        info = s.read_reply().decode()
        self.assertIn(" flags=P ", info)
        self.assertIn(" sub=2 psub=1 ssub=1 ", info)
        with skvtest.Client(self.skv.port, decode=True) as c:
            stats = c.call("INFO", "stats")
            self.assertIn("pubsub_channels:2\r\n", stats)
            self.assertIn("pubsub_patterns:1\r\n", stats)
            self.assertIn("pubsubshard_channels:1\r\n", stats)
            listed = c.call("CLIENT", "LIST", "TYPE", "pubsub")
            self.assertEqual(listed.count("\n"), 1, listed)
            self.assertNotIn("flags=P", c.call("CLIENT", "LIST", "TYPE", "normal"))
            self.assertEqual(c.call("CLIENT", "KILL", "TYPE", "pubsub"), 1)
            deadline = time.time() + 5
            while time.time() < deadline and "pubsub_channels:0\r\n" not in c.call("INFO"):
                time.sleep(0.05)
            self.assertIn("pubsub_channels:0\r\n", c.call("INFO", "stats"))
        s.close()

    def test_subscribers_leaving_while_messages_fly(self):
        subs = [self.conn() for _ in range(16)]
        for s in subs:
            s.sock.sendall(encode([b"SUBSCRIBE", b"fly"]))
            s.read_reply()
        p = self.conn()
        stop = threading.Event()

        def flood():
            while not stop.is_set():
                p.sock.sendall(b"".join(encode([b"PUBLISH", b"fly", b"m" * 100])
                                        for _ in range(100)))
                for _ in range(100):
                    p.read_reply()

        t = threading.Thread(target=flood)
        t.start()
        try:
            for s in subs:
                time.sleep(0.01)
                s.close()
        finally:
            stop.set()
            t.join()
        # The server sees each hang-up soon after it happens.
        deadline = time.time() + 5
        while True:
            p.sock.sendall(encode([b"PUBLISH", b"fly", b"x"]))
            n = p.read_reply()
            if n == b":0\r\n" or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(n, b":0\r\n")
        p.close()
        self.assertTrue(self.skv.alive())


class SlowSubscriber(unittest.TestCase):
    def test_closed_at_pubsub_hard_limit_memory_bounded(self):
        # A small ASan quarantine, so that freed frames do not count as held
        # memory in sanitizer builds (no effect on other builds).
        env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16"}
        with ShardkvServer(args=["--threads", "2", "--client-output-buffer-limit",
                                 "pubsub 4mb 0 0"], env=env) as skv:
            slow = socket.socket()
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.connect(("127.0.0.1", skv.port))
            slow.sendall(encode([b"SUBSCRIBE", b"flood"]))
            time.sleep(0.2)
            fast = RawConn(skv.port)
            fast.sock.sendall(encode([b"SUBSCRIBE", b"flood"]))
            fast.read_reply()
            payload = b"z" * 4096
            frame = len(b"*3\r\n$7\r\nmessage\r\n$5\r\nflood\r\n$4096\r\n" + payload + b"\r\n")
            total = 40000  # 160 MB through the server
            got = [0]

            def reader():
                # Count bytes, not frames: the fast subscriber must keep up.
                want = total * frame
                try:
                    while got[0] < want:
                        d = fast.sock.recv(1 << 20)
                        if not d:
                            break
                        got[0] += len(d)
                except OSError:
                    pass

            p = RawConn(skv.port)
            t = threading.Thread(target=reader)
            t.start()
            rss0 = vm_rss(skv.proc.pid)
            counts = []
            for start in range(0, total, 50):
                p.sock.sendall(b"".join(encode([b"PUBLISH", b"flood", payload])
                                        for _ in range(50)))
                counts += [p.read_reply() for _ in range(50)]
                # Pace the flood by the fast subscriber, so that only the
                # slow one (which never reads) can reach the 4 MB limit,
                # however busy the machine (sanitizer builds, CI).
                deadline = time.monotonic() + 30
                while (start + 50 - 200) * frame > got[0] and time.monotonic() < deadline:
                    time.sleep(0.001)
            t.join(30)
            rss1 = vm_rss(skv.proc.pid)
            self.assertEqual(got[0], total * frame)
            self.assertEqual(counts[0], b":2\r\n")
            self.assertEqual(counts[-1], b":1\r\n")  # the slow one is gone
            self.assertLess(rss1 - rss0, 64 * MB, "RSS grew from %d to %d" % (rss0, rss1))
            with skvtest.Client(skv.port, decode=True) as c:
                self.assertIn("client_output_buffer_limit_disconnections:1\r\n",
                              c.call("INFO", "stats"))
            self.assertIn("scheduled to be closed ASAP for overcoming of output buffer limits",
                          skv.log())
            slow.close()
            fast.close()
            p.close()

    def test_big_messages_shared_not_copied(self):
        """A frame of 1 KB or more is held once by every subscriber's reply
        FIFO on a worker (server/net/reply_fifo.h, shared_buf), not copied
        into each: 100 subscribers that never read, sent 8 messages of
        1 MB, cost the server a few MB, not the ~400 MB that copies left
        over by the kernel's socket buffers would."""
        env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16"}
        with ShardkvServer(args=["--threads", "1", "--client-output-buffer-limit",
                                 "pubsub 64mb 0 0"], env=env) as skv:
            subs = []
            for _ in range(100):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", skv.port))
                s.sendall(encode([b"SUBSCRIBE", b"big"]))
                subs.append(s)
            p = RawConn(skv.port)
            deadline = time.monotonic() + 10
            while True:
                p.sock.sendall(encode([b"PUBSUB", b"NUMSUB", b"big"]))
                if p.read_reply() == b"*2\r\n$3\r\nbig\r\n:100\r\n":
                    break
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.02)
            rss0 = vm_rss(skv.proc.pid)
            payload = b"m" * MB
            for _ in range(8):
                p.sock.sendall(encode([b"PUBLISH", b"big", payload]))
                self.assertEqual(p.read_reply(), b":100\r\n")
            time.sleep(0.3)
            rss1 = vm_rss(skv.proc.pid)
            self.assertLess(rss1 - rss0, 64 * MB, "RSS grew from %d to %d" % (rss0, rss1))
            # Every subscriber still gets every byte, in order.
            frame = encode([b"message", b"big", payload])
            s = subs[37]
            s.settimeout(10)
            want = len(b"*3\r\n$9\r\nsubscribe\r\n$3\r\nbig\r\n:1\r\n") + 8 * len(frame)
            got = b""
            while len(got) < want:
                d = s.recv(1 << 20)
                self.assertTrue(d)
                got += d
            self.assertTrue(got.endswith(frame * 8))
            for s in subs:
                s.close()
            p.close()

    def test_soft_limit_with_seconds(self):
        with ShardkvServer(args=["--client-output-buffer-limit", "pubsub 0 1mb 1"]) as skv:
            slow = socket.socket()
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.connect(("127.0.0.1", skv.port))
            slow.sendall(encode([b"SUBSCRIBE", b"soft"]))
            time.sleep(0.2)
            with skvtest.Client(skv.port, decode=True) as c:
                # Past what the kernel's socket buffers absorb.
                for _ in range(4000):
                    c.call("PUBLISH", "soft", "y" * 4096)
                deadline = time.time() + 6
                while time.time() < deadline and c.call("PUBLISH", "soft", "y") != 0:
                    time.sleep(0.1)
                self.assertEqual(c.call("PUBLISH", "soft", "y"), 0)
            slow.close()


class RedisPy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.skv = ShardkvServer(args=["--threads", "2"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.skv.stop()

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.skv.port, socket_timeout=10)

    def test_pubsub_listen_get_message_psubscribe(self):
        r = self.client()
        ps = r.pubsub()
        ps.subscribe("news")
        ps.psubscribe("sport.*")
        self.assertEqual(ps.get_message(timeout=5)["type"], "subscribe")
        self.assertEqual(ps.get_message(timeout=5)["type"], "psubscribe")
        others = [self.client() for _ in range(4)]
        for i, o in enumerate(others):
            self.assertEqual(o.publish("news", "n%d" % i), 1)
            self.assertEqual(o.publish("sport.ball", "s%d" % i), 1)
        got = []
        for m in ps.listen():
            if m["type"] in ("message", "pmessage"):
                got.append((m["type"], m["channel"], m["data"], m.get("pattern")))
            if len(got) == 8:
                break
        self.assertEqual([g[2] for g in got if g[0] == "message"],
                         [b"n0", b"n1", b"n2", b"n3"])
        self.assertEqual([g[2] for g in got if g[0] == "pmessage"],
                         [b"s0", b"s1", b"s2", b"s3"])
        self.assertEqual(r.pubsub_numsub("news"), [(b"news", 1)])
        self.assertEqual(r.pubsub_numpat(), 1)
        self.assertEqual(r.pubsub_channels(), [b"news"])
        ps.close()

    def test_run_in_thread(self):
        got = []
        ev = threading.Event()

        def handler(m):
            got.append(m["data"])
            if len(got) == 3:
                ev.set()

        ps = self.client().pubsub()
        ps.subscribe(**{"jobs": handler})
        th = ps.run_in_thread(sleep_time=0.01)
        try:
            pub = self.client()
            deadline = time.time() + 5
            while pub.publish("jobs", "a") == 0 and time.time() < deadline:
                time.sleep(0.02)
            pub.publish("jobs", "b")
            pub.publish("jobs", "c")
            self.assertTrue(ev.wait(5))
            self.assertEqual(got[-2:], [b"b", b"c"])
        finally:
            th.stop()
            th.join(5)


if __name__ == "__main__":
    skvtest.main()
