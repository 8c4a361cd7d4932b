#!/usr/bin/python3
"""Pub/Sub over many channels: 1,000 channels with 5 subscribers each
(1,000 subscriber connections, each on 5 channels), 8 publishers each
pipelining PUBLISH of 64-byte messages to channels in turn; prints
deliveries per second (until every subscriber has every message meant for
it) for redis-server and for shardkv with each thread count asked. A
benchmark, never a pass/fail test.

usage: pubsub_channels.py BIN_DIR [MESSAGES_PER_PUBLISHER [THREADS...]]
defaults: 20000 messages per publisher, threads 1 2."""

import multiprocessing
import os
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import encode_command  # noqa: E402

CHANNELS = 1000
PER_CHANNEL = 5
SUBSCRIBERS = CHANNELS  # each on PER_CHANNEL channels
PUBLISHERS = 8
READERS = 2
PAYLOAD = b"p" * 64


def channel(i):
    return b"ch:%04d" % i


def frame_len(ch):
    return len(b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
               % (len(ch), ch, len(PAYLOAD), PAYLOAD))


def subs_of(s):
    """The channels subscriber s listens to: PER_CHANNEL per channel overall."""
    return [channel((s + k * (CHANNELS // PER_CHANNEL)) % CHANNELS) for k in range(PER_CHANNEL)]


def reader(port, first, count, nmsgs, ready, done):
    # Every publisher sends nmsgs messages, round robin over the channels:
    # channel c gets sum over publishers of the messages whose index hits c.
    per_channel = [0] * CHANNELS
    for p in range(PUBLISHERS):
        for m in range(nmsgs):
            per_channel[(p * 7 + m) % CHANNELS] += 1
    sel = selectors.DefaultSelector()
    left = {}
    for s in range(first, first + count):
        sock = socket.create_connection(("127.0.0.1", port))
        chans = subs_of(s)
        sock.sendall(encode_command("SUBSCRIBE", *chans))
        want_sub = sum(len(b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:%d\r\n" % (len(c), c, k + 1))
                       for k, c in enumerate(chans))
        got = 0
        while got < want_sub:
            got += len(sock.recv(want_sub - got))
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ)
        left[sock] = sum(per_channel[int(c[3:])] * frame_len(c) for c in chans)
    ready.release()
    while left:
        for key, _ in sel.select(timeout=30):
            sock = key.fileobj
            d = sock.recv(1 << 20)
            left[sock] -= len(d)
            if left[sock] <= 0 or not d:
                sel.unregister(sock)
                del left[sock]
    done.put(time.time())


def publisher(port, p, nmsgs, start, done):
    sock = socket.create_connection(("127.0.0.1", port))
    start.wait()
    burst = 200
    sent = 0
    while sent < nmsgs:
        n = min(burst, nmsgs - sent)
        sock.sendall(b"".join(encode_command("PUBLISH", channel((p * 7 + m) % CHANNELS), PAYLOAD)
                              for m in range(sent, sent + n)))
        want = n * len(b":%d\r\n" % PER_CHANNEL)
        got = 0
        while got < want:
            got += len(sock.recv(want - got))
        sent += n
    sock.close()
    done.put(1)


def run(port, nmsgs):
    ready = multiprocessing.Semaphore(0)
    done = multiprocessing.Queue()
    start = multiprocessing.Event()
    per = [SUBSCRIBERS // READERS + (1 if i < SUBSCRIBERS % READERS else 0) for i in range(READERS)]
    procs, first = [], 0
    for n in per:
        procs.append(multiprocessing.Process(target=reader,
                                             args=(port, first, n, nmsgs, ready, done)))
        first += n
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    pubdone = multiprocessing.Queue()
    pubs = [multiprocessing.Process(target=publisher, args=(port, p, nmsgs, start, pubdone))
            for p in range(PUBLISHERS)]
    for p in pubs:
        p.start()
    time.sleep(0.2)  # publishers connected
    t0 = time.time()
    start.set()
    end = max(done.get() for _ in procs)
    for p in procs + pubs:
        p.join()
    return PUBLISHERS * nmsgs * PER_CHANNEL / (end - t0)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    os.environ["SHARDKV_BIN"] = os.path.abspath(sys.argv[1])
    nmsgs = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    threads = sys.argv[3:] or ["1", "2"]
    if skvtest.have_redis_server():
        with skvtest.RedisServer() as r:
            print("redis-server      %10.0f deliveries/s" % run(r.port, nmsgs))
    for t in threads:
        with skvtest.ShardkvServer(args=["--threads", t]) as s:
            print("shardkv threads=%s %10.0f deliveries/s" % (t, run(s.port, nmsgs)))


if __name__ == "__main__":
    main()
