#!/usr/bin/python3
"""Pub/Sub fan-out: one publisher pipelines PUBLISH of 64-byte messages to
one channel with N subscribers spread over the server's workers; prints
messages delivered per second (until every subscriber has every message)
for redis-server and for shardkv with each thread count asked. A benchmark,
never a pass/fail test (tests/integration/test_pubsub.py holds the rules).

usage: pubsub.py BIN_DIR [SUBSCRIBERS [MESSAGES [THREADS...]]]
defaults: 200 subscribers, 20000 messages, threads 1 2. Subscribers are
read by 2 processes with selectors, so the client side is not the limit
for small N; keep runs short on a shared machine."""

import multiprocessing
import os
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import encode_command  # noqa: E402

PAYLOAD = b"p" * 64
CHANNEL = b"bench"
FRAME = len(b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
            % (len(CHANNEL), CHANNEL, len(PAYLOAD), PAYLOAD))
READERS = 2


def reader(port, nsubs, nmsgs, ready, done):
    socks = []
    sel = selectors.DefaultSelector()
    for _ in range(nsubs):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(encode_command("SUBSCRIBE", CHANNEL))
        socks.append(s)
    want_sub = len(b"*3\r\n$9\r\nsubscribe\r\n$5\r\nbench\r\n:1\r\n")
    left = {}
    for s in socks:
        got = 0
        while got < want_sub:
            got += len(s.recv(want_sub - got))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        left[s] = nmsgs * FRAME
    ready.release()
    while left:
        for key, _ in sel.select(timeout=30):
            s = key.fileobj
            d = s.recv(1 << 20)
            left[s] -= len(d)
            if left[s] <= 0 or not d:
                sel.unregister(s)
                del left[s]
    done.put(time.time())


def run(port, nsubs, nmsgs):
    ready = multiprocessing.Semaphore(0)
    done = multiprocessing.Queue()
    per = [nsubs // READERS + (1 if i < nsubs % READERS else 0) for i in range(READERS)]
    procs = [multiprocessing.Process(target=reader, args=(port, n, nmsgs, ready, done))
             for n in per]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    pub = socket.create_connection(("127.0.0.1", port))
    burst = 200
    one = encode_command("PUBLISH", CHANNEL, PAYLOAD)
    t0 = time.time()
    sent = 0
    while sent < nmsgs:
        n = min(burst, nmsgs - sent)
        pub.sendall(one * n)
        want = n * len(b":%d\r\n" % nsubs)
        got = 0
        while got < want:
            got += len(pub.recv(want - got))
        sent += n
    end = max(done.get() for _ in procs)
    for p in procs:
        p.join()
    pub.close()
    return nmsgs * nsubs / (end - t0)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    os.environ["SHARDKV_BIN"] = os.path.abspath(sys.argv[1])
    nsubs = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    nmsgs = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    threads = sys.argv[4:] or ["1", "2"]
    if skvtest.have_redis_server():
        with skvtest.RedisServer() as r:
            print("redis-server      %10.0f deliveries/s" % run(r.port, nsubs, nmsgs))
    for t in threads:
        with skvtest.ShardkvServer(args=["--threads", t]) as s:
            print("shardkv threads=%s %10.0f deliveries/s" % (t, run(s.port, nsubs, nmsgs)))


if __name__ == "__main__":
    main()
