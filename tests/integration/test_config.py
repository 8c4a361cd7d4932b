#!/usr/bin/python3
"""Configuration of the real binary: defaults < JSON file < SHARDKV_* env <
flags, checked through CONFIG GET; start-up errors exit 2 with a one-line
message naming the source and the option; --help/--version; the banner and
the log file. Run directly or through ctest."""

import json
import os
import re
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import ShardkvServer, run_server  # noqa: E402


def config_get(client, pattern):
    r = client.call("CONFIG", "GET", pattern)
    return dict(zip(r[::2], r[1::2]))


class Precedence(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skvcfg-")

    def tearDown(self):
        for f in os.listdir(self.tmp):
            os.unlink(os.path.join(self.tmp, f))
        os.rmdir(self.tmp)

    def write(self, obj, name="shardkv.json"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(obj if isinstance(obj, str) else json.dumps(obj))
        return path

    def test_defaults(self):
        with ShardkvServer() as s, s.client(decode=True) as c:
            got = config_get(c, "*")
            self.assertEqual(got["bind"], "127.0.0.1")
            self.assertEqual(got["port"], str(s.port))
            self.assertEqual(got["databases"], "16")
            self.assertEqual(got["maxclients"], "10000")
            self.assertEqual(got["timeout"], "0")
            self.assertEqual(got["requirepass"], "")
            self.assertEqual(got["loglevel"], "notice")
            self.assertEqual(got["dir"], "")
            self.assertEqual(got["dbfilename"], "dump.rdb")
            self.assertEqual(got["proto-max-bulk-len"], str(512 << 20))
            self.assertEqual(got["client-query-buffer-limit"], str(1 << 30))
            self.assertEqual(got["save"], "")
            self.assertEqual(got["appendonly"], "no")

    def test_file_env_flag(self):
        path = self.write({"timeout": 5, "maxclients": 100, "hz": 20, "databases": 4,
                           "client-query-buffer-limit": "2mb", "loglevel": "verbose"})
        env = {"SHARDKV_TIMEOUT": "6", "SHARDKV_MAXCLIENTS": "200",
               "SHARDKV_CLIENT_QUERY_BUFFER_LIMIT": "3MB"}
        with ShardkvServer(["--config", path, "--maxclients", "300"], env=env) as s, \
                s.client(decode=True) as c:
            self.assertEqual(config_get(c, "hz"), {"hz": "20"}, "file over default")
            self.assertEqual(config_get(c, "databases"), {"databases": "4"})
            self.assertEqual(config_get(c, "timeout"), {"timeout": "6"}, "env over file")
            self.assertEqual(config_get(c, "client-query-buffer-limit"),
                             {"client-query-buffer-limit": str(3 << 20)}, "sizes in bytes")
            self.assertEqual(config_get(c, "maxclients"), {"maxclients": "300"}, "flag over env")
            self.assertEqual(config_get(c, "loglevel"), {"loglevel": "verbose"})
            # The options really apply, not only their CONFIG GET text.
            self.assertEqual(c.call("SELECT", "3"), "OK")
            self.assertEqual(str(c.call("SELECT", "4")), "ERR DB index is out of range")
            info = skvtest.parse_info(c.call("INFO", "server"))["server"]
            self.assertEqual(info["config_file"], path)
            self.assertEqual(info["hz"], "20")

    def test_env_config_path_and_equals_flag(self):
        path = self.write({"hz": 7})
        with ShardkvServer(["--timeout=9"], env={"SHARDKV_CONFIG": path}) as s, \
                s.client(decode=True) as c:
            self.assertEqual(config_get(c, "hz"), {"hz": "7"})
            self.assertEqual(config_get(c, "timeout"), {"timeout": "9"})

    def test_threads_option(self):
        for n in ("1", "3"):
            with ShardkvServer(["--threads", n]) as s, s.client(decode=True) as c:
                shards = skvtest.parse_info(c.call("INFO", "shards"))["shards"]
                self.assertEqual(len(shards), int(n))

    def expect_exit2(self, args, env=None, must=()):
        rc, out, err = run_server(args, env=env)
        self.assertEqual(rc, 2, "exit status for %r (stderr %r)" % (args, err))
        text = err.strip()
        self.assertTrue(text, "a message on stderr")
        lines = text.splitlines()
        last = lines[-1]
        for m in must:
            self.assertIn(m, last, "message %r should mention %r" % (last, m))
        return last

    def test_bad_options_exit_2(self):
        self.expect_exit2(["--no-such-option", "1"], must=("--no-such-option", "unknown"))
        self.expect_exit2(["--port", "70000"], must=("--port", "65535"))
        self.expect_exit2(["--port", "12ab"], must=("--port", "integer"))
        self.expect_exit2(["--maxclients"], must=("--maxclients",))
        self.expect_exit2(["--loglevel", "loud"], must=("loglevel", "debug"))
        self.expect_exit2(["--proto-max-bulk-len", "1tb"], must=("proto-max-bulk-len", "memory"))
        self.expect_exit2(["stray"], must=("stray",))
        self.expect_exit2([], env={"SHARDKV_PROT": "1"}, must=("SHARDKV_PROT",))
        self.expect_exit2([], env={"SHARDKV_TIMEOUT": "soon"}, must=("SHARDKV_TIMEOUT", "timeout"))
        path = self.write({"bogus": 1})
        self.expect_exit2(["--config", path], must=(path, "bogus"))
        path = self.write("{\"port\": ", name="broken.json")
        self.expect_exit2(["--config", path], must=(path, "JSON"))
        self.expect_exit2(["--config", os.path.join(self.tmp, "missing.json")], must=("missing.json",))

    def test_help_and_version(self):
        rc, out, err = run_server(["--help"])
        self.assertEqual(rc, 0, err)
        for name in ("port", "bind", "threads", "requirepass", "client-query-buffer-limit",
                     "loglevel", "--config"):
            self.assertIn(name, out)
        rc, out, err = run_server(["--version"])
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"shardkv-server v\d+\.\d+\.\d+")

    def test_banner_and_logfile(self):
        with ShardkvServer(["--threads", "2"]) as s:
            # The banner may be written just after the port starts accepting.
            deadline = time.monotonic() + 3
            while str(s.port) not in s.log() and time.monotonic() < deadline:
                time.sleep(0.05)
            log = s.log()
            self.assertIn(str(s.port), log, "the banner names the port")
            self.assertRegex(log, r"\d+:M \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} [*#.-] ",
                             "Redis-style log lines")
        logpath = os.path.join(self.tmp, "skv.log")
        with ShardkvServer(["--logfile", logpath, "--loglevel", "verbose"]) as s, \
                s.client(decode=True) as c:
            self.assertEqual(c.call("PING"), "PONG")
            self.assertEqual(config_get(c, "logfile"), {"logfile": logpath})
        with open(logpath) as f:
            text = f.read()
        self.assertTrue(text.strip(), "the log went to the file")
        for line in text.splitlines():
            self.assertRegex(line, r"^\d+:(M|W\d+) \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} [*#.-] ")

    def test_config_set_loglevel_reaches_log(self):
        # A failed AUTH is logged at verbose level: invisible at warning,
        # visible once CONFIG SET lowers the level at run time.
        with ShardkvServer(["--loglevel", "warning", "--requirepass", "pw"]) as s, \
                s.client(decode=True) as c:
            self.assertEqual(c.call("AUTH", "wrong1").code, "WRONGPASS")
            self.assertEqual(c.call("AUTH", "pw"), "OK")
            self.assertEqual(c.call("CONFIG", "SET", "loglevel", "verbose"), "OK")
            self.assertEqual(config_get(c, "loglevel"), {"loglevel": "verbose"})
            self.assertEqual(c.call("AUTH", "wrong2").code, "WRONGPASS")
            deadline = time.monotonic() + 2
            while "AUTH failed" not in s.log() and time.monotonic() < deadline:
                time.sleep(0.05)
            lines = [ln for ln in s.log().splitlines() if "AUTH failed" in ln]
            self.assertEqual(len(lines), 1, s.log())
            self.assertRegex(lines[0], r"^\d+:W\d+ .* - AUTH failed", "verbose mark, worker role")

    def test_bind_any_is_explicit(self):
        # The safe default is loopback only; the container sets 0.0.0.0.
        with ShardkvServer(env={"SHARDKV_BIND": "0.0.0.0"}) as s, s.client(decode=True) as c:
            # skvtest passes --bind 127.0.0.1, which wins over the environment.
            self.assertEqual(config_get(c, "bind"), {"bind": "127.0.0.1"})


if __name__ == "__main__":
    skvtest.main()
