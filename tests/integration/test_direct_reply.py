"""Integration tests for direct replies (server/route/dispatch.c, direct_send): when
a client's only pending command runs on another worker's shard, that worker
sends the reply to the socket itself. The connection's own worker must then
write nothing before it, and must not close the socket (letting a new
connection reuse its fd number) until the request is back.
"""

import random
import socket
import threading
import unittest

import skvtest
from skvtest import encode_command


ShardkvServer = skvtest.StrictShardkvServer


class DirectReply(unittest.TestCase):
    def test_request_reply_clients_get_their_own_replies(self):
        """Clients that wait for each reply, on every shard, interleaved
        with clients that send a command and close at once: every reply is
        the one for its own request, and nothing arrives unasked."""
        with ShardkvServer(["--threads", "4"]) as srv:
            with srv.client() as c:
                # Values unique per key, big enough to take several segments.
                c.pipeline([("SET", "key:%d" % i, ("val:%d:" % i) * 200) for i in range(64)])
            stop = threading.Event()
            errors = []

            def vanisher():
                rng = random.Random(1)
                while not stop.is_set():
                    s = socket.create_connection(("127.0.0.1", srv.port))
                    s.sendall(encode_command("GET", "key:%d" % rng.randrange(64)))
                    if rng.random() < 0.5:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.close()

            def asker(seed):
                rng = random.Random(seed)
                try:
                    for _ in range(150):
                        with srv.client() as c:
                            for _ in range(5):
                                i = rng.randrange(64)
                                got = c.call("GET", "key:%d" % i)
                                if got != (("val:%d:" % i) * 200).encode():
                                    errors.append((i, got[:40] if got else got))
                            c.settimeout(0.01)
                            try:
                                extra = c.sock.recv(1)
                                if extra:
                                    errors.append(("unasked bytes", extra))
                            except socket.timeout:
                                pass
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(repr(e))

            vs = [threading.Thread(target=vanisher) for _ in range(2)]
            ask = [threading.Thread(target=asker, args=(s,)) for s in range(4)]
            for t in vs + ask:
                t.start()
            for t in ask:
                t.join()
            stop.set()
            for t in vs:
                t.join()
            self.assertEqual(errors, [])
            with srv.client() as c:
                self.assertEqual(c.call("PING"), "PONG")

    def test_pipeline_after_a_direct_reply_stays_in_order(self):
        """A lone command goes direct; the client pipelines more before its
        reply arrives: all replies in order."""
        with ShardkvServer(["--threads", "2"]) as srv, srv.client() as c:
            for round_ in range(200):
                k = "p%d" % round_
                c.send("SET", k, "1")          # alone: may be sent directly
                c.send_raw(encode_command("INCR", k) + encode_command("GET", k) +
                           encode_command("INCR", k))
                self.assertEqual([c.read_reply() for _ in range(4)], ["OK", 2, b"2", 3])


if __name__ == "__main__":
    skvtest.main()
