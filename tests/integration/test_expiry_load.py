#!/usr/bin/python3
"""Active expiry under load (issue 14): 1,000,000 keys SET with PX 1000-3000
(random) over pipelined raw sockets, and no client ever touches them
again. While they are being written, the keys expired but still present
(DBSIZE minus the keys alive) are reported as a share of the keys present
(Redis's target for its active expiry cycle is 10%; the test holds it to
75%, for a busy machine); after the last TTL has passed, fewer
than 10% of the keys set are left within 3 s and none soon after, and
INFO expired_keys counts each key exactly once. Servers listen on
127.0.0.1, free ports, always stopped.

The keys alive at a time t are known from the client's own record only
within bounds: a key sent at s and acknowledged at a expires between
s + TTL and a + TTL, and DBSIZE runs some time between its request and
its reply. The stale share is printed as the range this leaves; the test
fails when even its lower end is over the bound (the upper end also holds
the machine's stalls)."""

import os
import random
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402

KEYS = 1_000_000
CHUNK = 2_000  # commands per pipelined write
TTL_MS = (1000, 3000)
BUCKET_MS = 10  # resolution of the client's count of keys alive
STALE_SHARE = 0.10  # Redis's ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE
SAMPLE_S = 0.1  # DBSIZE polling period
MIN_ALIVE = KEYS // 10  # samples with fewer keys alive are not counted
WRITING_STALE_SHARE = 0.75  # the bound held while writing (see check)
DRAIN_MS = 3000  # after the last TTL, fewer than 10% of the keys left within this


class ExpiryUnderLoad(unittest.TestCase):
    def setUp(self):
        rng = random.Random(14)
        self.ttls = [rng.randint(*TTL_MS) for _ in range(KEYS)]
        # The requests, built before any clock matters.
        self.chunks = []
        for i in range(0, KEYS, CHUNK):
            cmds = []
            for j in range(i, min(KEYS, i + CHUNK)):
                key = b"exp:%07d" % j
                ttl = b"%d" % self.ttls[j]
                cmds.append(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n$2\r\nPX\r\n$%d\r\n%s\r\n"
                            % (len(key), key, len(ttl), ttl))
            self.chunks.append((i, min(KEYS, i + CHUNK), b"".join(cmds)))

    def alive(self, counts, base, t_ms):
        """Keys whose expiry, as counts records it, falls in a bucket after
        t_ms's."""
        b = int(t_ms // BUCKET_MS) - base + 1
        return sum(counts[max(b, 0):])

    def run_load(self, srv):
        """Write every key, sampling DBSIZE. Each key's expiry is counted
        twice, at its chunk's send time plus its TTL (the earliest it can
        be) and at its acknowledgement plus its TTL (the latest). Returns
        (samples, early, late, base); a sample is (t_ms, dbsize, keys
        certainly alive, keys possibly alive)."""
        base = int(time.time() * 1000) // BUCKET_MS
        size = (600_000 + TTL_MS[1]) // BUCKET_MS  # room for a 10-minute load
        early, late = [0] * size, [0] * size
        samples = []
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        poll = srv.client()
        last_sample = time.monotonic()
        try:
            for lo, hi, buf in self.chunks:
                sent_ms = time.time() * 1000
                s.sendall(buf)
                want = 5 * (hi - lo)
                got = bytearray()
                while len(got) < want:
                    part = s.recv(want - len(got))
                    self.assertTrue(part, "connection closed")
                    got += part
                acked_ms = time.time() * 1000
                self.assertEqual(bytes(got), b"+OK\r\n" * (hi - lo))
                for j in range(lo, hi):
                    early[int((sent_ms + self.ttls[j]) // BUCKET_MS) - base] += 1
                    late[int((acked_ms + self.ttls[j]) // BUCKET_MS) - base] += 1
                if time.monotonic() - last_sample >= SAMPLE_S:
                    last_sample = time.monotonic()
                    # DBSIZE runs at some time between t0 and t: the keys
                    # certainly alive are those alive until t, the keys
                    # possibly alive those that may be alive at t0. Only
                    # the keys written so far are in the counts yet.
                    t0 = time.time() * 1000
                    n = poll.call("DBSIZE")
                    t = time.time() * 1000
                    samples.append((t, n, self.alive(early, base, t), self.alive(late, base, t0)))
        finally:
            s.close()
            poll.close()
        return samples, early, late, base

    def check(self, srv):
        t0 = time.monotonic()
        during, early, late, base = self.run_load(srv)
        load_s = time.monotonic() - t0
        # From here every key has certainly expired: the last one's latest
        # expiry, in wall-clock ms.
        last_ms = (base + max(i for i, n in enumerate(late) if n) + 1) * BUCKET_MS
        c = srv.client()
        after = []
        while True:
            n = c.call("DBSIZE")
            t = time.time() * 1000
            after.append((t, n))
            if (n == 0 and t > last_ms) or t > last_ms + 10_000:
                break
            time.sleep(SAMPLE_S / 2)
        stats = skvtest.parse_info(c.call("INFO", "stats"))["stats"]
        c.close()

        # While keys are written: the stale share of the keys present, as a
        # range. At least: DBSIZE minus the keys that may still be alive;
        # at most: minus those certainly alive.
        # Only samples while enough keys must be alive for a share to mean
        # something (a client stalled for seconds by a busy machine sees
        # everything it sent expire; a handful of stale keys is then a large
        # share).
        shares = []
        for t, n, sure, maybe in during:
            if sure >= MIN_ALIVE and n:
                shares.append((max(0, n - maybe) / n, max(0, n - sure) / n))
        self.assertGreater(len(shares), 5, "too few samples: the load was too slow")
        at_least = max(lo for lo, hi in shares)
        at_most = max(hi for lo, hi in shares)
        report = ("%d keys written in %.1f s; worst stale share while writing: between %.3f and "
                  "%.3f; " % (KEYS, load_s, at_least, at_most))
        # After the last TTL: time until fewer than 10% of the keys are left.
        below = [t for t, n in after if t > last_ms and n < STALE_SHARE * KEYS]
        self.assertTrue(below, report + "still %d keys 10 s after the last TTL" % after[-1][1])
        report += ("below 10%% of the keys %.0f ms after the last TTL, none left after %.0f ms"
                   % (below[0] - last_ms, after[-1][0] - last_ms))
        print(report, file=sys.stderr)
        # Redis's 10% is the goal (docs/BENCHMARKS.md has the figures,
        # 0.065-0.098 in most runs); a machine busy with other work starves
        # the shard threads of the CPU their time-bounded cycles count on
        # (0.55 once in the full suite on 2 shared CPUs, redis-server 7.0
        # 0.38-0.78), so the test holds the share only to
        # WRITING_STALE_SHARE, and the drain after the last TTL to DRAIN_MS
        # (4-48 ms in most runs, 1,062 ms in that one): what they catch is
        # an expiry that does not keep up at all.
        self.assertLess(at_least, WRITING_STALE_SHARE, report)
        self.assertLess(below[0] - last_ms, DRAIN_MS, report)
        self.assertEqual(after[-1][1], 0, report)
        self.assertEqual(int(stats["expired_keys"]), KEYS, report)

    def test_shardkv(self):
        with skvtest.StrictShardkvServer(args=["--threads", "2"]) as srv:
            self.check(srv)


if __name__ == "__main__":
    skvtest.main()
