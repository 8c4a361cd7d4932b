#!/usr/bin/python3
"""Work queue over blocking pops: producers LPUSH to random queues, each
element carrying its push time; consumers BRPOP (each over its share of the
queues) and take push-to-pop latency from the element. Prints elements
popped per second and the p50/p99 of push-to-pop latency for redis-server
and for shardkv with each thread count asked, then shardkv's ratios to
redis-server (throughput: higher is better; p99: lower is better). A
benchmark, never a pass/fail test (tests/integration/test_blocking.py holds
the rules). Both servers run on free 127.0.0.1 ports and are always
stopped.

usage: work_queue.py BIN_DIR [--seconds 10] [--threads 1 2] [--producers 50]
                [--consumers 50] [--queues 100] [--keys-per-pop 2]
                [--procs 4] [--rate 0]
Each consumer BRPOPs --keys-per-pop queues (consumer i starts at queue
i * keys-per-pop, wrapping), so with the defaults the 50 consumers cover
the 100 queues. Producers push as fast as their replies come (one command
in flight per connection); a backlog therefore shows as latency. With
--rate R they push R elements/s in all, each on a fixed schedule (an
element late by its schedule counts from when it was due), so below the
consumers' capacity p99 measures the server, not a backlog. Clients
are spread over --procs processes (half producers, half consumers), each
driving its connections with one selector; on a small machine the client
may be the limit, which the ratios share. Keep runs short on a shared
machine (--seconds 2 to check it works)."""

import argparse
import heapq
import multiprocessing
import os
import random
import selectors
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import skvtest  # noqa: E402
from skvtest import encode_command  # noqa: E402

BLOCK_TIMEOUT = b"1"   # seconds a BRPOP waits before it is sent again


def parse_reply(buf, pos):
    """One RESP2 reply from buf[pos:]: (value, next_pos), or None when
    incomplete. Arrays of bulks, integers, nulls and errors only."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None
    t, line = buf[pos:pos + 1], buf[pos + 1:nl]
    pos = nl + 2
    if t in (b":", b"+"):
        return line, pos
    if t == b"-":
        raise RuntimeError("server error: %r" % line)
    n = int(line)
    if t == b"$":
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            return None
        return buf[pos:pos + n], pos + n + 2
    if t == b"*":
        if n < 0:
            return None, pos
        out = []
        for _ in range(n):
            r = parse_reply(buf, pos)
            if r is None:
                return None
            v, pos = r
            out.append(v)
        return out, pos
    raise RuntimeError("unexpected reply %r" % buf[pos - len(line) - 3:pos])


class Conn:
    """One client connection: its socket, its unread bytes, its command."""

    def __init__(self, port, role, arg):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = b""
        self.role = role       # "p" producer, "c" consumer
        self.arg = arg         # producer: its id; consumer: its BRPOP bytes

    def send_next(self, rnd, nqueues, due_ns=None):
        if self.role == "p":
            elem = b"%d:%d" % (due_ns or time.monotonic_ns(), self.arg)
            cmd = encode_command("LPUSH", b"q:%d" % rnd.randrange(nqueues), elem)
        else:
            cmd = self.arg
        self.sock.sendall(cmd)


def client_proc(port, roles, opts, start_at, results):
    """Drive the connections `roles` ([(role, index)]) until the deadline;
    put (popped, latencies in µs) in results."""
    rnd = random.Random(os.getpid())
    sel = selectors.DefaultSelector()
    conns = []
    for role, i in roles:
        if role == "c":
            k = opts.keys_per_pop
            keys = [b"q:%d" % ((i * k + j) % opts.queues) for j in range(k)]
            conns.append(Conn(port, "c", encode_command("BRPOP", *keys, BLOCK_TIMEOUT)))
        else:
            conns.append(Conn(port, "p", i))
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = time.monotonic() + opts.seconds
    # --rate: each producer's next push is due every `period` ns; the
    # producers waiting for their time are kept in a heap.
    nprod = sum(1 for c in conns if c.role == "p")
    period = int(opts.producers * 1e9 / opts.rate) if opts.rate > 0 else 0
    due = {}       # producer -> ns its next push is due
    waiting = []   # heap of (due ns, seq, producer)
    t0 = time.monotonic_ns()
    for j, c in enumerate(conns):
        sel.register(c.sock, selectors.EVENT_READ, c)
        if c.role == "p" and period:
            due[c] = t0 + period * j // max(1, nprod)
            heapq.heappush(waiting, (due[c], j, c))
        else:
            c.send_next(rnd, opts.queues)
    popped = 0
    lat = []
    seq = len(conns)
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        now_ns = time.monotonic_ns()
        while waiting and waiting[0][0] <= now_ns:
            _, _, c = heapq.heappop(waiting)
            c.send_next(rnd, opts.queues, due[c])
            due[c] += period
        timeout = deadline - now
        if waiting:
            timeout = min(timeout, max(0.0, (waiting[0][0] - now_ns) / 1e9))
        for key, _ in sel.select(timeout=timeout):
            c = key.data
            d = c.sock.recv(1 << 16)
            if not d:
                raise RuntimeError("server closed a connection")
            c.buf += d
            pos = 0
            while True:
                r = parse_reply(c.buf, pos)
                if r is None:
                    break
                v, pos = r
                if c.role == "c" and v is not None:
                    t_ns = int(v[1].split(b":", 1)[0])
                    lat.append((time.monotonic_ns() - t_ns) / 1000.0)
                    popped += 1
                if c.role == "p" and period:
                    seq += 1
                    heapq.heappush(waiting, (due[c], seq, c))
                else:
                    c.send_next(rnd, opts.queues)
            c.buf = c.buf[pos:]
    for c in conns:
        c.sock.close()
    results.put((popped, lat))


def run(port, opts):
    """One run against the server on port: (elements/s, p50 µs, p99 µs)."""
    roles = [("p", i) for i in range(opts.producers)] + [("c", i) for i in range(opts.consumers)]
    # Half the processes produce, half consume (the clients' own CPU is
    # then split as the server's work is).
    nproc = max(2, opts.procs)
    half = nproc // 2
    groups = [[] for _ in range(nproc)]
    ps = [r for r in roles if r[0] == "p"]
    cs = [r for r in roles if r[0] == "c"]
    for j, r in enumerate(ps):
        groups[j % half].append(r)
    for j, r in enumerate(cs):
        groups[half + j % (nproc - half)].append(r)
    results = multiprocessing.Queue()
    start_at = time.time() + 0.5   # every connection is made before
    procs = [multiprocessing.Process(target=client_proc, args=(port, g, opts, start_at, results))
             for g in groups if g]
    for p in procs:
        p.start()
    popped, lat = 0, []
    for _ in procs:
        n, l = results.get(timeout=opts.seconds + 60)
        popped += n
        lat += l
    for p in procs:
        p.join()
    lat.sort()

    def pct(q):
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
    return popped / opts.seconds, pct(0.50), pct(0.99)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bin_dir", help="directory holding shardkv-server")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", nargs="+", default=["1", "2"])
    ap.add_argument("--producers", type=int, default=50)
    ap.add_argument("--consumers", type=int, default=50)
    ap.add_argument("--queues", type=int, default=100)
    ap.add_argument("--keys-per-pop", type=int, default=2)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--rate", type=float, default=0,
                    help="elements/s the producers push in all; 0: as fast as they can")
    opts = ap.parse_args()
    if not 1 <= opts.keys_per_pop <= opts.queues:
        ap.error("--keys-per-pop must be between 1 and --queues")
    os.environ["SHARDKV_BIN"] = os.path.abspath(opts.bin_dir)
    print("queue: %d producers LPUSH%s, %d consumers BRPOP over %d queues (%d keys each), %.1f s"
          % (opts.producers, " %.0f/s" % opts.rate if opts.rate > 0 else "", opts.consumers,
             opts.queues, opts.keys_per_pop, opts.seconds))
    fmt = "%-20s %10.0f elements/s   p50 %8.0f us   p99 %8.0f us"
    base = None
    if skvtest.have_redis_server():
        with skvtest.RedisServer() as r:
            base = run(r.port, opts)
        print(fmt % (("redis-server",) + base))
    else:
        print("redis-server not found: no ratios")
    for t in opts.threads:
        with skvtest.ShardkvServer(args=["--threads", t]) as s:
            got = run(s.port, opts)
        print(fmt % (("shardkv threads=%s" % t,) + got))
        if base:
            print("%-20s %10.2fx throughput          p99 %8.2fx of redis-server"
                  % ("", got[0] / base[0] if base[0] else float("nan"),
                     got[2] / base[2] if base[2] else float("nan")))


if __name__ == "__main__":
    main()
