#!/usr/bin/python3
"""test_list_rdb.py — lists through DUMP/RESTORE and RDB files, against a
real redis-server 7.0:

* DUMP from redis-server -> RESTORE into shardkv -> DUMP: byte-identical
  (RDB type 18, the same listpack nodes), for small lists, lists of
  several nodes (> 128 elements), elements over 64 bytes and over 8 KB
  (a node each), and with list-compress-depth 1 (LZF inner nodes), the
  contents checked back in redis-server;
* PLAIN nodes (redis-server's DEBUG QUICKLIST-PACKED-THRESHOLD) restored;
* lists built with RPUSH/LPUSH over the wire DUMP as Redis's (the same
  node boundaries); after edits in the middle, the same contents;
* redis-server's dump.rdb with lists loaded by shardkv, and our SAVE file
  accepted by redis-check-rdb and loaded by redis-server;
* RESTORE of a corrupt or empty list refused as Redis refuses it.
"""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

import skvtest

REDIS_CHECK_RDB = "/usr/bin/redis-check-rdb"


def values():
    """name -> commands building it (the key goes after the command name)."""
    v = {}
    v["l:small"] = [["RPUSH", "a", "b", "c", "1", "2", "-3", "9223372036854775807"]]
    v["l:lzf"] = [["RPUSH"] + ["element-%d" % i for i in range(50)]]
    v["l:many"] = [["RPUSH"] + ["e%d" % i for i in range(2000)], ["LPUSH", "head"]]
    v["l:long"] = [["RPUSH"] + [("v%d-" % i) * 30 for i in range(300)]]
    v["l:huge"] = [["RPUSH", "s", "x" * 9000, "t", "y" * 20000, "u"]]
    v["l:ints"] = [["RPUSH"] + [str(i * 7919 - 100000) for i in range(1000)]]
    v["l:mixed"] = [["LPUSH"] + ["m%d" % i for i in range(500)],
                    ["LINSERT", "BEFORE", "m250", "ins"], ["LREM", "0", "m3"],
                    ["LSET", "100", "z" * 500]]
    return v


class ListRdb(unittest.TestCase):
    def setUp(self):
        for path in (REDIS_CHECK_RDB, skvtest.RedisServer.binary):
            self.assertTrue(os.access(path, os.X_OK), "%s is missing" % path)
        self.tmp = tempfile.mkdtemp(prefix="skv-lists-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def redis(self, *extra):
        return skvtest.RedisServer(["--enable-debug-command", "yes"] + list(extra))

    def shardkv(self, *extra):
        return skvtest.ShardkvServer(["--dir", self.tmp, "--threads", "2"] + list(extra))

    def build(self, c):
        """Make every value on c; returns name -> DUMP payload."""
        dumps = {}
        for name, cmds in values().items():
            for cmd in cmds:
                r = c.call(cmd[0], name, *cmd[1:])
                self.assertNotIsInstance(r, skvtest.RespError, name)
            dumps[name] = c.call("DUMP", name)
        return dumps

    def contents(self, c, name):
        return c.call("LRANGE", name, 0, -1)

    def both_ways(self, *opts):
        with self.redis(*opts) as rs, self.shardkv(*opts) as ss:
            rc, sc = rs.client(), ss.client()
            dumps = self.build(rc)
            for name, payload in dumps.items():
                self.assertEqual(sc.call("RESTORE", name, 0, payload), "OK", name)
                self.assertEqual(self.contents(sc, name), self.contents(rc, name), name)
                self.assertEqual(sc.call("OBJECT", "ENCODING", name), b"quicklist", name)
                ours = sc.call("DUMP", name)
                self.assertEqual(ours, payload, "%s: DUMP differs from Redis's" % name)
                self.assertEqual(rc.call("RESTORE", "back:" + name, 0, ours), "OK", name)
                self.assertEqual(self.contents(rc, "back:" + name), self.contents(rc, name), name)
            # Built over the wire: the same replies and contents, and a
            # DUMP redis-server restores. Pushes fill nodes as Redis's do
            # (the same bytes); after LINSERT/LREM/LSET in the middle the
            # nodes may split or merge elsewhere (l:mixed: contents only).
            for name, cmds in values().items():
                for cmd in cmds:
                    self.assertEqual(repr(sc.call(cmd[0], "w:" + name, *cmd[1:])),
                                     repr(rc.call(cmd[0], "w:" + name, *cmd[1:])), name)
                ours = sc.call("DUMP", "w:" + name)
                if name != "l:mixed":
                    self.assertEqual(ours, rc.call("DUMP", "w:" + name), name)
                self.assertEqual(rc.call("RESTORE", "wb:" + name, 0, ours), "OK", name)
                self.assertEqual(self.contents(rc, "wb:" + name), self.contents(rc, name), name)

    def test_dump_restore_both_ways(self):
        self.both_ways()

    def test_dump_restore_compressed_small_nodes(self):
        self.both_ways("--list-compress-depth", "1", "--list-max-listpack-size", "16")

    def test_plain_nodes_restore(self):
        with self.redis() as rs, self.shardkv() as ss:
            rc, sc = rs.client(), ss.client()
            self.assertEqual(rc.call("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"), "OK")
            rc.call("RPUSH", "plain", "a", "p" * 150, "b", "q" * 10000, "c")
            payload = rc.call("DUMP", "plain")
            self.assertEqual(sc.call("RESTORE", "plain", 0, payload), "OK")
            self.assertEqual(self.contents(sc, "plain"), self.contents(rc, "plain"))
            self.assertEqual(sc.call("LINDEX", "plain", 3), b"q" * 10000)
            ours = sc.call("DUMP", "plain")
            self.assertEqual(rc.call("RESTORE", "back", 0, ours), "OK")
            self.assertEqual(self.contents(rc, "back"), self.contents(rc, "plain"))

    def test_restore_errors_as_redis(self):
        with self.redis() as rs, self.shardkv() as ss:
            rc, sc = rs.client(), ss.client()
            dumps = self.build(rc)
            p = dumps["l:small"]
            # An empty quicklist (no nodes), and one whose node count lies.
            empty = bytes([18, 0]) + p[-10:]
            cases = [
                ("RESTORE", "n1", 0, p[:-1] + bytes([p[-1] ^ 1])),
                ("RESTORE", "n1", 0, p[:5]),
                ("RESTORE", "n1", 0, p[:3] + b"\xff" + p[4:]),
                ("RESTORE", "l:small", 0, p),
                ("LRANGE", "n1", 0, -1),
            ]
            sc.call("RESTORE", "l:small", 0, p)
            for cmd in cases:
                self.assertEqual(repr(sc.call(*cmd)), repr(rc.call(*cmd)), cmd[:3])
            # A payload with a bad checksum is refused before decoding; an
            # empty list with a good one must be refused too, not stored.
            self.assertIsInstance(sc.call("RESTORE", "n2", 0, empty), skvtest.RespError)
            self.assertEqual(sc.call("EXISTS", "n2"), 0)

    def test_we_load_redis_dump_rdb(self):
        with self.redis() as rs:
            rc = rs.client()
            dumps = self.build(rc)
            want = {n: self.contents(rc, n) for n in dumps}
            rc.call("PEXPIREAT", "l:small", 4102444800000)
            self.assertEqual(rc.call("SAVE"), "OK")
            shutil.copyfile(os.path.join(rs.tmpdir, "dump.rdb"), os.path.join(self.tmp, "dump.rdb"))
            with self.shardkv() as ss:
                sc = ss.client()
                self.assertEqual(sc.call("DBSIZE"), len(dumps))
                self.assertEqual(sc.call("PEXPIRETIME", "l:small"), 4102444800000)
                for name in dumps:
                    self.assertEqual(self.contents(sc, name), want[name], name)
                    self.assertEqual(sc.call("DUMP", name), dumps[name], name)

    def test_redis_loads_our_save(self):
        with self.redis() as rs:
            rc = rs.client()
            dumps = self.build(rc)
            want = {n: self.contents(rc, n) for n in dumps}
            with self.shardkv() as ss:
                sc = ss.client()
                self.build(sc)
                sc.call("PEXPIRE", "l:many", 3600000)
                self.assertEqual(sc.call("SAVE"), "OK")
            path = os.path.join(self.tmp, "dump.rdb")
            p = subprocess.run([REDIS_CHECK_RDB, path], capture_output=True, timeout=60)
            out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
            self.assertEqual(p.returncode, 0, out)
            self.assertIn("RDB looks OK", out)
            self.assertIn("%d keys read" % len(dumps), out)
            with self.shardkv() as ss:
                sc = ss.client()
                for name in dumps:
                    self.assertEqual(self.contents(sc, name), want[name], name)
        loaded = skvtest.RedisServer(["--dbfilename", "ours.rdb"])
        shutil.copyfile(path, os.path.join(loaded.tmpdir, "ours.rdb"))
        with loaded:
            deadline = time.monotonic() + skvtest.START_TIMEOUT
            while "DB loaded from disk" not in loaded.log():
                self.assertTrue(time.monotonic() < deadline and loaded.alive(), loaded.log())
                time.sleep(0.02)
            c = loaded.client()
            self.assertEqual(c.call("DBSIZE"), len(dumps))
            for name in dumps:
                self.assertEqual(self.contents(c, name), want[name], name)
            self.assertEqual(c.call("DUMP", "l:small"), dumps["l:small"])
            self.assertGreater(c.call("PTTL", "l:many"), 3000000)


if __name__ == "__main__":
    skvtest.main()
