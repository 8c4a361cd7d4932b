#!/usr/bin/python3
"""One big SET against a running server, or against one this script starts:
the time from the SET's last byte to its reply, and the worst PING latency
another client saw meanwhile, with the key on the setter's own worker and
on another one. A benchmark, never a pass/fail test.

usage: bigset.py [--bin DIR | --port N] [--threads N] [--mb 512] [--rounds 1]
Against redis-server (--port) there is one row: it has one thread.
"""

import argparse
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402


def shards(c):
    """INFO shards -> [{field: value}] per shard, or [] (redis-server)."""
    info = skvtest.parse_info(c.call("INFO", "shards"))
    sec = info.get("shards", {})
    return [sec["shard%d" % i] for i in range(len(sec))]


def key_on(c, want_shard):
    """A key whose owner is shard want_shard (found by SET and INFO)."""
    for i in range(1000):
        k = "bigset:%d" % i
        before = [int(s["keys"]) for s in shards(c)]
        c.call("SET", k, "x")
        after = [int(s["keys"]) for s in shards(c)]
        c.call("DEL", k)
        if after[want_shard] == before[want_shard] + 1:
            return k
    raise RuntimeError("no key for shard %d" % want_shard)


class Pinger(threading.Thread):
    """PINGs in a loop on its own connection; max latency per window."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.c = skvtest.Client(port, timeout=60)
        self.worst = 0.0
        self.stop = False

    def run(self):
        while not self.stop:
            t = time.perf_counter()
            assert self.c.call("PING") == "PONG"
            self.worst = max(self.worst, time.perf_counter() - t)
            time.sleep(0.001)


def connect_setter(port, c):
    """A new connection and the worker it landed on: the shard whose command
    count grows by the 100 PINGs it sends (None against redis-server)."""
    before = [int(x["cmds"]) for x in shards(c)]
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not before:
        return s, None
    s.sendall(b"PING\r\n" * 100)
    got = b""
    while got.count(b"+PONG\r\n") < 100:
        got += s.recv(4096)
    after = [int(x["cmds"]) for x in shards(c)]
    # (The pinger adds to its own worker's count meanwhile: take the most.)
    d = [a - b for a, b in zip(after, before)]
    return s, d.index(max(d))


def big_set(s, key, payload, pinger):
    head = b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n" % (len(key), key.encode(), len(payload))
    time.sleep(0.05)
    pinger.worst = 0.0
    t0 = time.perf_counter()
    s.sendall(head)
    s.sendall(payload)
    s.sendall(b"\r\n")
    t_last = time.perf_counter()
    reply = b""
    while not reply.endswith(b"\r\n"):
        d = s.recv(64)
        if not d:
            raise RuntimeError("closed")
        reply += d
    t_reply = time.perf_counter()
    time.sleep(0.05)
    s.close()
    return reply.strip().decode(), t_last - t0, t_reply - t_last, pinger.worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", help="directory of shardkv-server (start one)")
    ap.add_argument("--port", type=int, help="use a running server")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mb", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args()
    srv = None
    if a.port is None:
        if a.bin:
            os.environ["SHARDKV_BIN"] = a.bin
        srv = skvtest.ShardkvServer(["--threads", str(a.threads)]).start()
        port = srv.port
    else:
        port = a.port
    try:
        payload = b"v" * (a.mb << 20)
        c = skvtest.Client(port, timeout=120)
        n = len(shards(c))
        keys = [key_on(c, i) for i in range(n)] if n else ["bigset:0"]
        pinger = Pinger(port)
        pinger.start()
        print("%-13s %9s %12s %14s %s" % ("key", "send s", "reply ms", "max PING ms", "reply"))
        for _ in range(a.rounds):
            for other in ((False, True) if n > 1 else (False,)):
                s, w = connect_setter(port, c)
                key = keys[0] if w is None else keys[(w + other) % n]
                name = "redis" if w is None else ("other worker" if other else "same worker")
                reply, send, lat, worst = big_set(s, key, payload, pinger)
                print("%-13s %9.2f %12.1f %14.1f %s" % (name, send, lat * 1000, worst * 1000, reply))
                assert c.call("STRLEN", key) == len(payload)
                c.call("DEL", key)
        pinger.stop = True
    finally:
        if srv:
            srv.stop()


if __name__ == "__main__":
    main()
