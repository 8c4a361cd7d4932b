#!/usr/bin/python3
"""Clients that pipeline GET of 1 MB values and never read: the server's
peak VmRSS and how many clients it closed. A benchmark, never a pass/fail
test (tests/integration/test_outbuf_limit.py holds the bounds).

usage: obuf_flood.py BIN_DIR THREADS CLIENTS LIMIT
LIMIT is a client-output-buffer-limit value ("normal 64mb 0 0"), or "-" for
the default."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def send(s, data):
    try:
        s.sendall(data)
    except OSError:
        pass  # closed by the server at its limit


def main():
    bin_dir, threads, nclients, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    os.environ["SHARDKV_BIN"] = bin_dir
    args = ["--threads", str(threads)]
    if limit != "-":
        args += ["--client-output-buffer-limit", limit]
    with skvtest.ShardkvServer(args) as srv, srv.client() as c:
        keys = ["big%d" % i for i in range(16)]  # every shard owns some
        for k in keys:
            c.call("SET", k, b"x" * (1 << 20))
        base = rss_mb(srv.proc.pid)
        req = b"".join(skvtest.encode_command("GET", keys[i % 16]) for i in range(3000))
        socks = []
        for _ in range(nclients):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.connect(("127.0.0.1", srv.port))
            socks.append(s)
        for s in socks:
            threading.Thread(target=send, args=(s, req), daemon=True).start()
        peak, t0 = 0, time.time()
        while time.time() - t0 < 4:
            peak = max(peak, rss_mb(srv.proc.pid))
            time.sleep(0.02)
        closed = 0
        for s in socks:
            s.settimeout(3)
            try:
                while s.recv(1 << 20):
                    pass
                closed += 1
            except socket.timeout:
                pass
            except ConnectionError:
                closed += 1
        print("threads=%d clients=%d limit=%s base=%d MB peak=%d MB closed=%d"
              % (threads, nclients, limit, base, peak, closed))


if __name__ == "__main__":
    main()
