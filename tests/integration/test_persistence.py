#!/usr/bin/python3
"""test_persistence.py — fork-less RDB persistence of the real server:

* point in time: one client SETs seq:1, seq:2, ... (each acknowledged before
  the next) while BGSAVE runs over 300,000 other keys; the file holds
  exactly seq:1..seq:j for some j, and every other key;
* interoperability: redis-check-rdb accepts our file; redis-server 7.0
  started on it has the same keys, values and TTLs (within 1 s); we load the
  dump.rdb redis-server writes; other value types stop the load with the
  type named, or are skipped with rdb-skip-non-string yes;
* restarts: 100,000 keys, SHUTDOWN SAVE, restart, all there; kill -9 after a
  finished BGSAVE, restart, all there as of the save; SIGTERM saves when
  save points are configured and not otherwise;
* faults: the file truncated at random offsets, or one byte flipped:
  start-up refuses with a clear message and a non-zero exit code;
* commands: SAVE, BGSAVE [SCHEDULE], LASTSAVE, the INFO persistence fields,
  save points, errors without a data directory.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import skvtest

REDIS_CHECK_RDB = "/usr/bin/redis-check-rdb"
FIXTURES = os.path.join(skvtest.REPO, "tests", "fixtures")


def rdbtool_path():
    return os.path.join(skvtest.bin_dir(), "rdbtool")


def dump_rdb(path):
    """{(db, key bytes): (value bytes, expire_ms)} through rdbtool (our
    loader, which checks the CRC); raises if the file does not load."""
    p = subprocess.run([rdbtool_path(), "dump", path], capture_output=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("rdbtool dump failed: %s" % p.stderr.decode(errors="replace"))
    out = {}
    for line in p.stdout.decode().splitlines():
        db, k, v, e = line.split(" ")
        key = (int(db), b"" if k == "-" else bytes.fromhex(k))
        if key in out:
            raise AssertionError("key %r written twice" % (key,))
        out[key] = (b"" if v == "-" else bytes.fromhex(v), int(e))
    return out


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def bulk_set(port, items, db=0, batch=20000):
    """SET every (key, value) pipelined in batches; waits for every +OK."""
    s = socket.create_connection(("127.0.0.1", port))
    try:
        if db:
            s.sendall(resp("SELECT", db))
            assert s.recv(100) == b"+OK\r\n"
        for i in range(0, len(items), batch):
            chunk = items[i:i + batch]
            s.sendall(b"".join(resp("SET", k, v) for k, v in chunk))
            want = len(chunk) * 5
            got = b""
            while len(got) < want:
                data = s.recv(1 << 20)
                if not data:
                    raise AssertionError("connection closed")
                got += data
            assert got == b"+OK\r\n" * len(chunk), got[:200]
    finally:
        s.close()


def info(c, section="persistence"):
    text = c.call("INFO", section)
    text = text.decode() if isinstance(text, bytes) else text
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def wait_saved(c, saves_before, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        i = info(c)
        if i["rdb_bgsave_in_progress"] == "0" and int(i["rdb_saves"]) > saves_before:
            return i
        time.sleep(0.02)
    raise AssertionError("no save finished within %d s" % timeout)


class PersistenceTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="skv-persist-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def server(self, *extra):
        return skvtest.ShardkvServer(["--dir", self.dir, "--threads", "2"] + list(extra))

    def path(self, name="dump.rdb"):
        return os.path.join(self.dir, name)

    # ------------------------------------------------------------ point in time

    def test_point_in_time_bgsave_under_sequential_writes(self):
        n = 300000
        with self.server() as srv:
            bulk_set(srv.port, [(b"bulk:%d" % i, b"v%d" % i) for i in range(n)])
            stop = threading.Event()
            acked = [0]

            def writer():
                with srv.client() as w:
                    i = 1
                    while not stop.is_set():
                        r = w.call("SET", "seq:%d" % i, str(i))
                        if r != "OK":
                            raise AssertionError(r)
                        acked[0] = i
                        i += 1

            t = threading.Thread(target=writer)
            t.start()
            try:
                while acked[0] < 50:
                    time.sleep(0.005)
                with srv.client() as c:
                    before = int(info(c)["rdb_saves"])
                    self.assertEqual(c.call("BGSAVE"), "Background saving started")
                    wait_saved(c, before)
                    # Keep writing a little after the save, too.
                    at_save = acked[0]
                    while acked[0] < at_save + 50:
                        time.sleep(0.005)
            finally:
                stop.set()
                t.join()
        got = dump_rdb(self.path())
        seq = sorted(int(k[1][4:]) for k in got if k[1].startswith(b"seq:"))
        self.assertTrue(seq, "no seq key saved: the cut came before the first write?")
        j = seq[-1]
        self.assertEqual(seq, list(range(1, j + 1)), "holes in seq:1..seq:%d" % j)
        self.assertLess(j, acked[0], "the writes after the save are not in the file")
        for i in range(1, j + 1):
            self.assertEqual(got[(0, b"seq:%d" % i)][0], str(i).encode())
        bulk = [k for k in got if k[1].startswith(b"bulk:")]
        self.assertEqual(len(bulk), n)
        for i in random.Random(1).sample(range(n), 2000):
            self.assertEqual(got[(0, b"bulk:%d" % i)], (b"v%d" % i, -1))

    # ---------------------------------------------------------- interoperability

    def populate_mixed(self, port):
        """Strings, integers, binary, long values, TTLs, two databases.
        Returns {(db, key): (value, absolute expiry in Unix s or None)}."""
        rnd = random.Random(5)
        want = {}
        with skvtest.Client(port) as c:
            for i in range(3000):
                db = 0 if i % 3 else 5
                k = b"key:%d" % i
                if i % 7 == 0:
                    v = str(rnd.randint(-2**40, 2**40)).encode()
                elif i % 11 == 0:
                    v = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 40)))
                elif i % 97 == 0:
                    v = b"long-%d-" % i * 5000
                else:
                    v = b"value-%d" % i
                c.call("SELECT", db)
                ttl = None
                if i % 4 == 0:
                    ttl = time.time() + 1000 + i
                    self.assertEqual(c.call("SET", k, v, "EX", 1000 + i), "OK")
                else:
                    self.assertEqual(c.call("SET", k, v), "OK")
                want[(db, k)] = (v, ttl)
        return want

    def check_same(self, port, want):
        with skvtest.Client(port) as c:
            for db in (0, 5):
                c.call("SELECT", db)
                self.assertEqual(c.call("DBSIZE"), sum(1 for k in want if k[0] == db))
            for (db, k), (v, ttl) in want.items():
                c.call("SELECT", db)
                self.assertEqual(c.call("GET", k), v, k)
                pttl = c.call("PTTL", k)
                if ttl is None:
                    self.assertEqual(pttl, -1, k)
                else:
                    self.assertLess(abs(pttl / 1000.0 - (ttl - time.time())), 1.0, k)

    def test_redis_check_rdb_and_redis_server_read_our_file(self):
        if not skvtest.have_redis_server():
            self.fail("redis-server is required")
        with self.server() as srv:
            want = self.populate_mixed(srv.port)
            with srv.client() as c:
                self.assertEqual(c.call("SAVE"), "OK")
        p = subprocess.run([REDIS_CHECK_RDB, self.path()], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        self.assertIn(b"RDB looks OK", p.stdout)
        r = skvtest.RedisServer(["--dbfilename", "ours.rdb"])
        shutil.copyfile(self.path(), os.path.join(r.tmpdir, "ours.rdb"))
        with r:
            self.check_same(r.port, want)

    def test_compressed_like_redis(self):
        """rdbcompression yes (the default) LZF-compresses every key and
        value of more than 20 bytes that compression shortens, as Redis's
        rdbSaveRawString does: the file is within 256 bytes of the dump Redis
        writes of the same data (they differ only in AUX fields),
        redis-check-rdb accepts it and redis-server loads the same data;
        with rdbcompression no it is written raw, and bigger."""
        if not skvtest.have_redis_server():
            self.fail("redis-server is required")

        def fill(port):
            want = {}
            with skvtest.Client(port) as c:
                for db in (0, 5):
                    c.call("SELECT", db)
                    items = []
                    for i in range(2000):
                        k = b"compressible-key-%06d-%d" % (i, db)
                        v = (b"a value with some repetition %d " % (i % 10)) * (1 + i % 7)
                        items += [k, v]
                        want[(db, k)] = (v, None)
                    self.assertEqual(c.call("MSET", *items), "OK")
                    for i in range(0, 2000, 50):  # some short and integer ones
                        c.call("SET", b"k%d" % i, i)
                        want[(db, b"k%d" % i)] = (b"%d" % i, None)
            return want

        r = skvtest.RedisServer()
        with r:
            fill(r.port)
            with r.client() as c:
                self.assertEqual(c.call("SAVE"), "OK")
            redis_size = os.path.getsize(os.path.join(r.tmpdir, "dump.rdb"))
        with self.server() as srv:
            want = fill(srv.port)
            with srv.client() as c:
                self.assertEqual(c.call("CONFIG", "GET", "rdbcompression"),
                                 [b"rdbcompression", b"yes"])
                self.assertEqual(c.call("SAVE"), "OK")
                compressed = os.path.getsize(self.path())
                shutil.copyfile(self.path(), self.path("compressed.rdb"))
                self.assertEqual(c.call("CONFIG", "SET", "rdbcompression", "no"), "OK")
                self.assertEqual(c.call("SAVE"), "OK")
                raw = os.path.getsize(self.path())
        self.assertLess(abs(compressed - redis_size), 256,
                        "ours %d bytes, Redis's %d" % (compressed, redis_size))
        self.assertLess(compressed, raw * 0.8, "compressed %d, raw %d" % (compressed, raw))
        for name in ("compressed.rdb", "dump.rdb"):
            p = subprocess.run([REDIS_CHECK_RDB, self.path(name)], capture_output=True,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
            r = skvtest.RedisServer(["--dbfilename", "ours.rdb"])
            shutil.copyfile(self.path(name), os.path.join(r.tmpdir, "ours.rdb"))
            with r:
                self.check_same(r.port, want)

    def test_we_load_redis_dump(self):
        if not skvtest.have_redis_server():
            self.fail("redis-server is required")
        r = skvtest.RedisServer()
        with r:
            want = self.populate_mixed(r.port)
            with r.client() as c:
                self.assertEqual(c.call("SAVE"), "OK")
            shutil.copyfile(os.path.join(r.tmpdir, "dump.rdb"), self.path())
        with self.server() as srv:
            self.check_same(srv.port, want)
            self.assertIn("Done loading RDB", srv.log())

    def test_other_types_refused_or_skipped(self):
        src = os.path.join(FIXTURES, "redis7-mixed.rdb")
        shutil.copyfile(src, self.path())
        rc, out, err = skvtest.run_server(["--dir", self.dir, "--port", str(skvtest.free_port()),
                                           "--bind", "127.0.0.1"], timeout=20)
        self.assertIsNotNone(rc, "the server started on a file with lists and hashes")
        self.assertNotEqual(rc, 0)
        text = out + err
        self.assertIn("Fatal error loading", text)
        self.assertRegex(text, r"(list|hash|set|zset|stream)")
        with self.server("--rdb-skip-non-string", "yes") as srv:
            with srv.client() as c:
                self.assertGreater(c.call("DBSIZE"), 0)
            self.assertIn("Skipped", srv.log())

    # ------------------------------------------------------------------ restarts

    def test_shutdown_save_then_restart(self):
        n = 100000
        items = [(b"r:%d" % i, b"val-%d" % i) for i in range(n)]
        srv = self.server()
        with srv:
            bulk_set(srv.port, items)
            with srv.client() as c:
                c.send("SHUTDOWN", "SAVE")
                self.assertTrue(c.is_closed(timeout=30))
            self.assertEqual(srv.wait(30), 0)
        with self.server() as srv2:
            with srv2.client() as c:
                self.assertEqual(c.call("DBSIZE"), n)
                for i in random.Random(2).sample(range(n), 3000):
                    self.assertEqual(c.call("GET", b"r:%d" % i), b"val-%d" % i)

    def test_kill9_after_bgsave(self):
        srv = self.server()
        with srv:
            bulk_set(srv.port, [(b"k:%d" % i, b"v%d" % i) for i in range(20000)])
            with srv.client() as c:
                before = int(info(c)["rdb_saves"])
                self.assertEqual(c.call("BGSAVE"), "Background saving started")
                wait_saved(c, before)
                self.assertEqual(c.call("SET", "after", "1"), "OK")
                self.assertEqual(c.call("SET", "k:0", "changed"), "OK")
            srv.proc.send_signal(signal.SIGKILL)
            srv.wait(10)
        with self.server() as srv2:
            with srv2.client() as c:
                self.assertEqual(c.call("DBSIZE"), 20000)
                self.assertIsNone(c.call("GET", "after"))
                self.assertEqual(c.call("GET", "k:0"), b"v0")
                self.assertEqual(c.call("GET", "k:19999"), b"v19999")

    def test_sigterm_saves_only_with_save_points(self):
        srv = self.server("--save", "")
        with srv:
            with srv.client() as c:
                c.call("SET", "a", "1")
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(srv.wait(30), 0, srv.log())
        self.assertFalse(os.path.exists(self.path()), "saved without save points")
        srv = self.server("--save", "3600 1")
        with srv:
            with srv.client() as c:
                c.call("SET", "a", "1")
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(srv.wait(30), 0, srv.log())
            self.assertIn("Saving the final RDB snapshot", srv.log())
        self.assertEqual(dump_rdb(self.path()), {(0, b"a"): (b"1", -1)})

    def test_shutdown_nosave_does_not_save(self):
        srv = self.server("--save", "3600 1")
        with srv:
            with srv.client() as c:
                c.call("SET", "a", "1")
                c.send("SHUTDOWN", "NOSAVE")
                self.assertTrue(c.is_closed(timeout=10))
            self.assertEqual(srv.wait(20), 0)
        self.assertFalse(os.path.exists(self.path()))

    # -------------------------------------------------------------------- faults

    def refused(self, what):
        rc, out, err = skvtest.run_server(["--dir", self.dir, "--port", str(skvtest.free_port()),
                                           "--bind", "127.0.0.1"], timeout=20)
        self.assertIsNotNone(rc, "%s: the server started" % what)
        self.assertNotEqual(rc, 0, what)
        self.assertIn("Fatal error loading", out + err, what)
        return out + err

    def test_truncated_or_flipped_file_refused(self):
        with self.server() as srv:
            bulk_set(srv.port, [(b"t:%d" % i, b"x" * (i % 50)) for i in range(5000)])
            with srv.client() as c:
                self.assertEqual(c.call("SAVE"), "OK")
        with open(self.path(), "rb") as f:
            good = f.read()
        rnd = random.Random(9)
        offsets = sorted(set([0, 5, 9, len(good) - 1, len(good) - 8, len(good) - 9] +
                             [rnd.randrange(1, len(good)) for _ in range(8)]))
        for off in offsets:
            with open(self.path(), "wb") as f:
                f.write(good[:off])
            text = self.refused("truncated at %d" % off)
            if off > 9:
                self.assertRegex(text, r"(?i)truncat|checksum|corrupt", "offset %d" % off)
        for pos in [10, len(good) // 2, len(good) - 12, len(good) - 3] + \
                [rnd.randrange(9, len(good)) for _ in range(4)]:
            bad = bytearray(good)
            bad[pos] ^= 0x5A
            with open(self.path(), "wb") as f:
                f.write(bad)
            self.refused("byte %d flipped" % pos)
        with open(self.path(), "wb") as f:
            f.write(good)
        with self.server() as srv:
            with srv.client() as c:
                self.assertEqual(c.call("DBSIZE"), 5000)

    # ------------------------------------------------------------------ commands

    def test_commands_and_info_fields(self):
        with self.server() as srv:
            with srv.client() as c:
                i = info(c)
                for k in ("loading", "rdb_bgsave_in_progress", "rdb_last_save_time",
                          "rdb_changes_since_last_save", "rdb_last_bgsave_status"):
                    self.assertIn(k, i)
                self.assertEqual(i["loading"], "0")
                self.assertEqual(i["rdb_last_bgsave_status"], "ok")
                t0 = c.call("LASTSAVE")
                self.assertLessEqual(abs(t0 - time.time()), 5)
                for k in range(10):
                    c.call("SET", "c:%d" % k, k)
                self.assertEqual(info(c)["rdb_changes_since_last_save"], "10")
                time.sleep(1.1)
                self.assertEqual(c.call("SAVE"), "OK")
                self.assertEqual(info(c)["rdb_changes_since_last_save"], "0")
                self.assertGreater(c.call("LASTSAVE"), t0)
                before = int(info(c)["rdb_saves"])
                self.assertEqual(c.call("BGSAVE"), "Background saving started")
                r = c.call("BGSAVE", "SCHEDULE")
                self.assertIn(r, ("Background saving scheduled", "Background saving started"))
                wait_saved(c, before + 1)
                self.assertEqual(c.call("BGSAVE", "nonsense").code, "ERR")
                self.assertEqual(dump_rdb(self.path())[(0, b"c:3")], (b"3", -1))

    def test_save_points(self):
        with self.server("--save", "1 2") as srv:
            with srv.client() as c:
                c.call("SET", "a", "1")
                time.sleep(2.5)
                self.assertEqual(info(c)["rdb_saves"], "0", "one change is under the point")
                c.call("SET", "b", "2")
                deadline = time.monotonic() + 10
                while int(info(c)["rdb_saves"]) == 0 and time.monotonic() < deadline:
                    time.sleep(0.1)
                self.assertEqual(int(info(c)["rdb_saves"]), 1)
            self.assertIn("changes in 1 seconds", srv.log())
        self.assertEqual(len(dump_rdb(self.path())), 2)

    def test_without_dir_persistence_is_off(self):
        with skvtest.ShardkvServer() as srv:
            with srv.client() as c:
                self.assertEqual(c.call("SAVE").code, "ERR")
                self.assertEqual(c.call("BGSAVE").code, "ERR")
                self.assertEqual(c.call("SHUTDOWN", "SAVE").code, "ERR")
                self.assertEqual(c.call("PING"), "PONG")


if __name__ == "__main__":
    skvtest.main()
