#!/usr/bin/python3
"""test_function_rdb.py — function libraries in RDB files (Redis 7.0's
RDB_OPCODE_FUNCTION2 records), against a real redis-server 7.0:

* a restart keeps the libraries (SAVE, stop, start on the same file);
* our SAVE with libraries passes redis-check-rdb and redis-server loads
  it and runs its functions;
* redis-server's dump.rdb with libraries (its code LZF-compressed) loads
  here, with the same code and functions;
* a file whose library does not load stops the start-up.
"""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

import skvtest

REDIS_CHECK_RDB = "/usr/bin/redis-check-rdb"

LIB_A = ("#!lua name=liba\n"
         "redis.register_function('hello', function(keys, args) return 'hello ' .. args[1] end)\n"
         "redis.register_function{function_name='getk', flags={'no-writes'}, description='get',"
         " callback=function(keys, args) return redis.call('get', keys[1]) end}\n")
LIB_B = ("#!lua name=libb\n"
         "redis.register_function('incr2', function(keys, args)\n"
         "  return {redis.call('incr', keys[1]), redis.call('incr', keys[2])}\nend)\n")


def libraries(c):
    """name -> code, from FUNCTION LIST WITHCODE (RESP2)."""
    out = {}
    for lib in c.call("FUNCTION", "LIST", "WITHCODE"):
        d = dict(zip(lib[0::2], lib[1::2]))
        out[d[b"library_name"]] = d[b"library_code"]
    return out


class FunctionRdb(unittest.TestCase):
    def setUp(self):
        for path in (REDIS_CHECK_RDB, skvtest.RedisServer.binary):
            self.assertTrue(os.access(path, os.X_OK), "%s is missing" % path)
        self.tmp = tempfile.mkdtemp(prefix="skv-func-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def shardkv(self, *extra):
        return skvtest.ShardkvServer(["--dir", self.tmp, "--threads", "2"] + list(extra))

    def load(self, c):
        self.assertEqual(c.call("FUNCTION", "LOAD", LIB_A), b"liba")
        self.assertEqual(c.call("FUNCTION", "LOAD", LIB_B), b"libb")
        c.call("SET", "k", "v")

    def check(self, c):
        self.assertEqual(libraries(c), {b"liba": LIB_A.encode(), b"libb": LIB_B.encode()})
        self.assertEqual(c.call("FCALL", "hello", "0", "x"), b"hello x")
        self.assertEqual(c.call("FCALL_RO", "getk", "1", "k"), b"v")
        self.assertEqual(c.call("FCALL", "incr2", "2", "n1", "n2"), [1, 1])

    def test_restart_keeps_functions(self):
        with self.shardkv() as ss:
            c = ss.client()
            self.load(c)
            self.assertEqual(c.call("SAVE"), "OK")
        with self.shardkv() as ss:
            self.check(ss.client())

    def test_redis_loads_our_save(self):
        with self.shardkv() as ss:
            c = ss.client()
            self.load(c)
            self.assertEqual(c.call("SAVE"), "OK")
        path = os.path.join(self.tmp, "dump.rdb")
        p = subprocess.run([REDIS_CHECK_RDB, path], capture_output=True, timeout=60)
        out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("RDB looks OK", out)
        loaded = skvtest.RedisServer(["--dbfilename", "ours.rdb"])
        shutil.copyfile(path, os.path.join(loaded.tmpdir, "ours.rdb"))
        with loaded:
            deadline = time.monotonic() + skvtest.START_TIMEOUT
            while "DB loaded from disk" not in loaded.log():
                self.assertTrue(time.monotonic() < deadline and loaded.alive(), loaded.log())
                time.sleep(0.02)
            self.check(loaded.client())

    def test_we_load_redis_save(self):
        with skvtest.RedisServer() as rs:
            rc = rs.client()
            self.load(rc)
            self.assertEqual(rc.call("SAVE"), "OK")
            shutil.copyfile(os.path.join(rs.tmpdir, "dump.rdb"),
                            os.path.join(self.tmp, "dump.rdb"))
        with self.shardkv() as ss:
            self.check(ss.client())

    def test_file_with_a_bad_library_stops_start_up(self):
        # A library that refuses to load (its code registers nothing):
        # written by redis-server through RESTORE of a crafted payload is
        # impossible, so the file is ours with the code swapped in place.
        with self.shardkv() as ss:
            c = ss.client()
            c.call("FUNCTION", "LOAD", LIB_A)
            self.assertEqual(c.call("SAVE"), "OK")
        path = os.path.join(self.tmp, "dump.rdb")
        with open(path, "rb") as f:
            data = f.read()
        bad = data.replace(b"register_function('hello'", b"register_function('he-lo'")
        self.assertNotEqual(bad, data)
        # The CRC no longer matches: zero it (Redis writes 0 when checksums
        # are off), so that the library itself is what fails.
        bad = bad[:-8] + b"\0" * 8
        with open(path, "wb") as f:
            f.write(bad)
        rc, out, err = skvtest.run_server(["--dir", self.tmp, "--port", str(skvtest.free_port()),
                                           "--bind", "127.0.0.1"])
        self.assertNotEqual(rc, 0, out + err)
        self.assertIsNotNone(rc, "the server kept running")
        self.assertIn("Failed loading library", out + err)


if __name__ == "__main__":
    skvtest.main()
