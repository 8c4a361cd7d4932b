#!/usr/bin/python3
"""ioredis (Node.js, pinned in tests/compat/ioredis/package-lock.json)
against shardkv and against redis-server: check.js makes the calls Node
applications make and prints what came back; the two servers' results must
be equal, and the values that prove the calls worked are checked too.
ioredis is installed with `npm ci` into the build directory the first time
(the npm registry must be reachable); Node.js and npm come from
scripts/install-deps.sh. Run directly or through ctest."""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import RedisServer, ShardkvServer  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ioredis")
FILES = ("package.json", "package-lock.json", "check.js")


def node_dir():
    """The build directory's copy of HERE with ioredis installed in it."""
    d = os.path.join(skvtest.bin_dir(), "..", "ioredis-compat")
    os.makedirs(d, exist_ok=True)
    for f in FILES:
        shutil.copyfile(os.path.join(HERE, f), os.path.join(d, f))
    want = json.load(open(os.path.join(HERE, "package.json")))["dependencies"]["ioredis"]
    have = os.path.join(d, "node_modules", "ioredis", "package.json")
    if not os.path.exists(have) or json.load(open(have))["version"] != want:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=d,
                       check=True, timeout=300)
    return d


def run_check(d, port):
    p = subprocess.run(["node", "check.js", str(port)], cwd=d, capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise AssertionError("check.js against port %d failed:\n%s" % (port, p.stderr))
    return json.loads(p.stdout)


class IORedis(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("node", "npm"):
            if not shutil.which(tool):
                raise RuntimeError("%s not found: run scripts/install-deps.sh" % tool)
        cls.dir = node_dir()

    @unittest.skipUnless(skvtest.have_redis_server(), "redis-server not installed")
    def test_same_results_as_redis(self):
        with RedisServer() as r:
            want = run_check(self.dir, r.port)
        with ShardkvServer(["--threads", "2"]) as s:
            got = run_check(self.dir, s.port)
        for key in want:
            self.assertEqual(got.get(key), want[key], key)
        self.assertEqual(sorted(got), sorted(want))

    def test_calls_work(self):
        # What equality with redis-server cannot show: that the calls did
        # what they should (on a shardkv with keys on four shards).
        with ShardkvServer(["--threads", "4"]) as s:
            out = run_check(self.dir, s.port)
        self.assertEqual(out["status"], "ready")
        self.assertEqual(out["name"], "ioredis-compat")
        self.assertEqual(out["get"], "v")
        self.assertTrue(out["ttlOk"])
        self.assertEqual(out["mget"], ["1", "2", "3", None])
        self.assertEqual(out["incrby"], 42)
        self.assertTrue(out["incrErr"].startswith("ERR:ERR value is not an integer"))
        self.assertEqual(out["bin"], "00010d0aff242a")
        self.assertEqual(out["pipeline"][0], "42")
        self.assertEqual(out["pipeline"][2], ["1", "199", None])
        self.assertEqual(out["multi"], ["OK", 2, "2"])
        self.assertTrue(out["execAbort"].startswith("ERR:EXECABORT"))
        self.assertIsNone(out["watched"])
        self.assertEqual(out["w"], "theirs")
        self.assertIsNone(out["db0k"])
        self.assertEqual(out["scanned"], 200)
        self.assertEqual((out["autoMax"], out["autoDistinct"]), (500, 500))
        self.assertTrue(out["infoHasLoading"])


if __name__ == "__main__":
    skvtest.main()
