#!/usr/bin/python3
"""test_rdb_interop.py — our RDB files against the real Redis 7.0 tools, both
ways, through the test-only tool tests/tools/rdbtool.c ($SHARDKV_BIN/rdbtool):

* redis-check-rdb accepts files written by shard/rdb.c;
* redis-server started on such a file (free loopback port, always stopped)
  holds the same keys, values and TTLs (within 1 s);
* our loader reads the dump.rdb that redis-server writes on SAVE (1000 keys,
  TTLs, long values that Redis LZF-compresses, several dbs) exactly;
* a Redis file with lists, hashes, sets, sorted sets and a stream is refused
  with the type named, and loads its strings with the skip flag.
"""

import os
import random
import shutil
import subprocess
import tempfile
import time
import unittest

import skvtest

REDIS_CHECK_RDB = "/usr/bin/redis-check-rdb"


def rdbtool_path():
    return os.path.join(skvtest.bin_dir(), "rdbtool")


def to_hex(b):
    return b.hex() if b else "-"


def from_hex(s):
    return b"" if s == "-" else bytes.fromhex(s)


def write_rdb(path, records):
    """records: list of (db, key bytes, value bytes, expire_ms or -1)."""
    lines = "".join("%d %s %s %d\n" % (db, to_hex(k), to_hex(v), e) for db, k, v, e in records)
    p = subprocess.run([rdbtool_path(), "write", path], input=lines.encode(),
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("rdbtool write failed: %s" % p.stderr.decode(errors="replace"))


def dump_rdb(path, skip=False):
    """Returns (returncode, {(db, key): (value, expire_ms)}, stderr)."""
    argv = [rdbtool_path(), "dump"] + (["--skip"] if skip else []) + [path]
    p = subprocess.run(argv, capture_output=True, timeout=60)
    out = {}
    for line in p.stdout.decode().splitlines():
        db, k, v, e = line.split(" ")
        key = (int(db), from_hex(k))
        if key in out:
            raise AssertionError("key %r reported twice" % (key,))
        out[key] = (from_hex(v), int(e))
    return p.returncode, out, p.stderr.decode(errors="replace")


def generated_records(n, seed):
    """n keys over dbs 0, 1 and 9: binary keys, integer-like values,
    long compressible and incompressible values, empty values, TTLs in the
    future (one hour to year 2100)."""
    rnd = random.Random(seed)
    now_ms = int(time.time() * 1000)
    recs = []
    for i in range(n):
        db = (0, 0, 0, 1, 9)[i % 5]
        kind = i % 7
        if kind == 0:
            key = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 20)))
        else:
            key = b"key:%d" % i
        if kind in (0, 1):
            val = str(rnd.choice([0, -1, 127, 128, -32768, 2 ** 31 - 1, 2 ** 31, -2 ** 63,
                                  rnd.randrange(-10 ** 9, 10 ** 9)])).encode()
        elif kind == 2:
            val = (b"compressible-%d-" % i) * rnd.randrange(2, 40)
        elif kind == 3:
            val = bytes(rnd.randrange(256) for _ in range(rnd.randrange(21, 300)))
        elif kind == 4:
            val = b""
        else:
            val = b"v%d" % i
        exp = -1
        if i % 3 == 0:
            exp = rnd.choice([now_ms + 3600 * 1000, now_ms + rnd.randrange(10 ** 6, 10 ** 10),
                              4102444800000])
        recs.append((db, key, val, exp))
    # Binary keys may collide (random): keep the first of each.
    seen, out = set(), []
    for r in recs:
        if (r[0], r[1]) not in seen:
            seen.add((r[0], r[1]))
            out.append(r)
    # One value bigger than the writer's 64 KB buffer.
    out.append((0, b"huge", b"0123456789abcdef" * 40000, -1))
    return out


class RdbInterop(unittest.TestCase):
    def setUp(self):
        for path in (rdbtool_path(), REDIS_CHECK_RDB, skvtest.RedisServer.binary):
            self.assertTrue(os.access(path, os.X_OK), "%s is missing" % path)
        self.tmp = tempfile.mkdtemp(prefix="skv-rdb-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def redis_on_file(self, src):
        """A RedisServer that starts on a copy of src (as its dbfilename)."""
        server = skvtest.RedisServer(["--dbfilename", "loaded.rdb"])
        shutil.copyfile(src, os.path.join(server.tmpdir, "loaded.rdb"))
        server.start()
        # The port opens before the file is loaded (clients get -LOADING
        # meanwhile): wait for the log line that says the load finished.
        deadline = time.monotonic() + skvtest.START_TIMEOUT
        while "DB loaded from disk" not in server.log():
            if time.monotonic() > deadline or not server.alive():
                log = server.log()
                server.stop()
                raise AssertionError("redis-server did not load the file:\n" + log)
            time.sleep(0.02)
        return server

    def test_redis_check_rdb_accepts_our_files(self):
        for n, seed in ((0, 1), (1, 2), (500, 3)):
            path = os.path.join(self.tmp, "ours-%d.rdb" % n)
            recs = generated_records(n, seed)
            write_rdb(path, recs)
            p = subprocess.run([REDIS_CHECK_RDB, path], capture_output=True, timeout=60)
            out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
            self.assertEqual(p.returncode, 0, out)
            self.assertIn("RDB looks OK", out)
            self.assertIn("Checksum OK", out)
            self.assertIn("%d keys read" % len(recs), out)

    def test_redis_server_loads_our_file(self):
        path = os.path.join(self.tmp, "ours.rdb")
        recs = generated_records(600, 4)
        # A key that has expired already: redis-server drops it on load.
        recs.append((0, b"long-gone", b"x", 1000))
        write_rdb(path, recs)
        with self.redis_on_file(path) as server:
            c = server.client()
            for db in sorted({r[0] for r in recs}):
                c.call("SELECT", db)
                want = [r for r in recs if r[0] == db and r[3] != 1000]
                self.assertEqual(c.call("DBSIZE"), len(want), "db %d" % db)
                replies = c.pipeline([("GET", r[1]) for r in want] +
                                     [("PTTL", r[1]) for r in want])
                now_ms = time.time() * 1000
                for i, (_, key, val, exp) in enumerate(want):
                    self.assertEqual(replies[i], val, "db %d key %r" % (db, key))
                    pttl = replies[len(want) + i]
                    if exp < 0:
                        self.assertEqual(pttl, -1, "db %d key %r" % (db, key))
                    else:
                        self.assertLess(abs((now_ms + pttl) - exp), 1000,
                                        "db %d key %r: pttl %d for expiry %d" % (db, key, pttl, exp))
            c.call("SELECT", 0)
            self.assertIsNone(c.call("GET", "long-gone"))

    def test_we_load_what_redis_saves(self):
        rnd = random.Random(5)
        expected = {}
        with skvtest.RedisServer() as server:
            c = server.client()
            cmds = {0: [], 1: [], 4: []}
            for i in range(1000):
                db = (0, 0, 1, 4)[i % 4]
                key = b"k%d" % i if i % 11 else bytes([i % 256, 0, 255]) + b"%d" % i
                kind = i % 5
                if kind == 0:
                    val = b"%d" % rnd.randrange(-2 ** 40, 2 ** 40)
                elif kind == 1:
                    val = (b"long and compressible %d " % i) * rnd.randrange(2, 200)
                elif kind == 2:
                    val = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 100)))
                else:
                    val = b"short%d" % i
                cmds[db].append(("SET", key, val))
                exp = -1
                if i % 4 == 1:
                    exp = 4102444800000 + i
                    cmds[db].append(("PEXPIREAT", key, exp))
                expected[(db, key)] = (val, exp)
            # Relative TTLs: checked to within a second of the SAVE.
            relative = {}
            for i in range(20):
                key = b"ttl%d" % i
                cmds[0].append(("SET", key, b"t"))
                cmds[0].append(("EXPIRE", key, 1000 + i))
                relative[(0, key)] = 1000 + i
            big = b"".join(b"%08d" % i for i in range(100000))  # 800 KB
            cmds[1].append(("SET", "big", big))
            expected[(1, b"big")] = (big, -1)
            for db, cc in cmds.items():
                c.call("SELECT", db)
                for r in c.pipeline(cc):
                    self.assertNotIsInstance(r, skvtest.RespError)
            self.assertEqual(c.call("SAVE"), "OK")
            saved_ms = time.time() * 1000
            path = os.path.join(self.tmp, "redis.rdb")
            shutil.copyfile(os.path.join(server.tmpdir, "dump.rdb"), path)

        rc, got, err = dump_rdb(path)
        self.assertEqual(rc, 0, err)
        self.assertIn("crc checked", err)
        for key, secs in relative.items():
            val, exp = got.pop(key)
            self.assertEqual(val, b"t")
            self.assertLess(abs(exp - (saved_ms + secs * 1000)), 1000, key)
        self.assertEqual(len(got), len(expected))
        for key, want in expected.items():
            self.assertEqual(got.get(key), want, "key %r" % (key,))

    def test_redis_resaves_our_file(self):
        """Ours -> redis-server -> SAVE (now with LZF) -> ours: unchanged."""
        path = os.path.join(self.tmp, "ours.rdb")
        recs = generated_records(300, 6)
        write_rdb(path, recs)
        with self.redis_on_file(path) as server:
            self.assertEqual(server.client().call("SAVE"), "OK")
            resaved = os.path.join(self.tmp, "resaved.rdb")
            shutil.copyfile(os.path.join(server.tmpdir, "loaded.rdb"), resaved)
        rc, got, err = dump_rdb(resaved)
        self.assertEqual(rc, 0, err)
        self.assertEqual(got, {(db, k): (v, e) for db, k, v, e in recs})

    def test_other_types_named_or_skipped(self):
        with skvtest.RedisServer() as server:
            c = server.client()
            c.call("SET", "s1", "one")
            c.call("RPUSH", "list", "a", "b")
            c.call("HSET", "hash", "f", "v")
            c.call("SADD", "set", "m")
            c.call("ZADD", "zset", 1, "m")
            c.call("XADD", "stream", "*", "f", "v")
            c.call("XGROUP", "CREATE", "stream", "g", "0")
            c.call("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "stream", ">")
            c.call("SELECT", 1)
            c.call("SET", "s2", "two")
            self.assertEqual(c.call("SAVE"), "OK")
            path = os.path.join(self.tmp, "mixed.rdb")
            shutil.copyfile(os.path.join(server.tmpdir, "dump.rdb"), path)
        rc, _, err = dump_rdb(path)
        self.assertEqual(rc, 1)
        self.assertIn("unsupported value type", err)
        self.assertRegex(err, r"key '(list|hash|set|zset|stream)' holds a ")
        rc, got, err = dump_rdb(path, skip=True)
        self.assertEqual(rc, 0, err)
        self.assertEqual(got, {(0, b"s1"): (b"one", -1), (1, b"s2"): (b"two", -1)})
        self.assertIn("5 skipped", err)

    def test_corrupt_and_truncated_files_refused(self):
        path = os.path.join(self.tmp, "ours.rdb")
        write_rdb(path, generated_records(50, 7))
        with open(path, "rb") as f:
            data = f.read()
        for name, bad in (("truncated", data[:len(data) // 2]),
                          ("no checksum", data[:-8]),
                          ("flipped", data[:100] + bytes([data[100] ^ 0x40]) + data[101:])):
            bad_path = os.path.join(self.tmp, "bad.rdb")
            with open(bad_path, "wb") as f:
                f.write(bad)
            rc, _, err = dump_rdb(bad_path)
            self.assertEqual(rc, 1, name)
            self.assertIn("offset ", err, name)
            # redis-check-rdb agrees that the file is bad.
            p = subprocess.run([REDIS_CHECK_RDB, bad_path], capture_output=True, timeout=60)
            self.assertNotEqual(p.returncode, 0, name)


if __name__ == "__main__":
    skvtest.main()
