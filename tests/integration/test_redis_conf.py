#!/usr/bin/python3
"""Moving from Redis: shardkv-server reads redis.conf (Debian's stock file
included) and Redis's command-line form; directives without meaning here are
accepted with one warning line each, unknown ones stop start-up with their
line number (exit 2); daemonize, pidfile, unixsocket/unixsocketperm work;
a low open-file limit lowers maxclients with Redis's warnings. Compared with
a real redis-server where Redis behaves the same. Run directly or through
ctest."""

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import Client, RedisServer, ShardkvServer, run_server  # noqa: E402

STOCK = "/etc/redis/redis.conf"  # from the redis-server package

# Stock directives that are options here: these must never be warned about.
HONOURED = {"bind", "port", "tcp-backlog", "timeout", "daemonize", "pidfile", "loglevel",
            "logfile", "databases", "dbfilename", "dir", "hz", "save", "requirepass", "maxclients",
            "unixsocket", "unixsocketperm", "protected-mode", "stop-writes-on-bgsave-error",
            "rdbcompression", "client-output-buffer-limit", "set-max-intset-entries",
            "hash-max-listpack-entries", "hash-max-listpack-value", "maxmemory",
            "maxmemory-policy", "maxmemory-samples", "maxmemory-eviction-tenacity",
            "lfu-log-factor", "lfu-decay-time", "notify-keyspace-events", "list-max-listpack-size",
            "list-compress-depth", "zset-max-listpack-entries", "zset-max-listpack-value",
            "slowlog-log-slower-than", "slowlog-max-len", "latency-monitor-threshold"}


def config_get(client, pattern):
    r = client.call("CONFIG", "GET", pattern)
    return dict(zip(r[::2], r[1::2]))


def directives(path):
    """(line number, directive) of every non-comment line of a redis.conf."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                out.append((n, line.split()[0].lower()))
    return out


def warnings_in(log):
    """{(line, directive)} of the 'accepted but ignored' warnings in log."""
    found = re.findall(r"line (\d+): '([a-z0-9-]+)' is accepted but ignored", log)
    return [(int(n), d) for n, d in found]


class ConfServer(ShardkvServer):
    """shardkv-server CONF [args]: the config file first, as with
    redis-server; the port comes from the file unless args give it."""

    def __init__(self, conf, args=(), prefix=(), **kw):
        super().__init__(args, **kw)
        self.conf = conf
        self.prefix = list(prefix)

    def argv(self):
        return self.prefix + [skvtest.server_path(), self.conf] + self.extra


class ConfRedis(RedisServer):
    """redis-server CONF --port P --bind 127.0.0.1 --dir TMP [args]."""

    def __init__(self, conf, args=(), prefix=(), **kw):
        super().__init__(args, **kw)
        self.conf = conf
        self.prefix = list(prefix)

    def argv(self):
        return self.prefix + [self.binary, self.conf, "--port", str(self.port), "--bind",
                              "127.0.0.1", "--dir", self.tmpdir] + self.extra


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skvrconf-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path


@unittest.skipUnless(os.path.exists(STOCK), "redis-server package not installed")
class StockFile(Base):
    def patched_stock(self, port):
        """Debian's redis.conf with the paths and the port moved to tmp."""
        sock = os.path.join(self.tmp, "redis.sock")
        repl = {"port": "port %d" % port, "dir": "dir %s" % self.tmp,
                "pidfile": "pidfile %s" % os.path.join(self.tmp, "redis.pid"),
                "logfile": "logfile %s" % os.path.join(self.tmp, "server.log"),
                "daemonize": "daemonize no"}
        lines = []
        with open(STOCK, encoding="utf-8") as f:
            for line in f:
                words = line.split()
                if words and words[0] in repl:
                    line = repl.pop(words[0]) + "\n"
                elif line.startswith("# unixsocket /"):
                    line = "unixsocket %s\n" % sock
                elif line.startswith("# unixsocketperm"):
                    line = "unixsocketperm 700\n"
                lines.append(line)
        self.assertEqual(repl, {}, "every patched directive is in the stock file")
        return self.write("redis.conf", "".join(lines)), sock

    def test_stock_redis_conf_starts_serves_and_warns_once_per_ignored_directive(self):
        port = skvtest.free_port()
        conf, sock = self.patched_stock(port)
        with ConfServer(conf, port=port) as s, s.client(decode=True) as c:
            self.assertEqual(c.call("SET", "k", "v"), "OK")
            self.assertEqual(c.call("GET", "k"), "v")
            got = config_get(c, "*")
            self.assertEqual(got["port"], str(port))
            self.assertEqual(got["bind"], "127.0.0.1 -::1")
            self.assertEqual(got["dir"], self.tmp)
            self.assertEqual(got["daemonize"], "no")
            self.assertEqual(got["unixsocket"], sock)
            self.assertEqual(got["unixsocketperm"], "700")
            # No save line: Redis's default save points, as redis-server.
            self.assertEqual(got["save"], "3600 1 300 100 60 10000")
            self.assertEqual(stat.S_IMODE(os.stat(sock).st_mode), 0o700)
            self.assertTrue(os.path.exists(os.path.join(self.tmp, "redis.pid")))
            with open(os.path.join(self.tmp, "server.log")) as f:
                log = f.read()
        want = [(n, d) for n, d in directives(conf) if d not in HONOURED]
        got = warnings_in(log)
        self.assertEqual(sorted(got), sorted(want), "one warning per ignored directive line")
        self.assertGreater(len(want), 40)
        for n, d in directives(conf):
            if d in HONOURED:
                self.assertNotIn("'%s'" % d, log, "honoured directive warned about")
        self.assertFalse(os.path.exists(sock), "unix socket removed at shutdown")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "redis.pid")))

    def test_stock_file_means_the_same_to_redis(self):
        """Values both servers read from the stock file agree."""
        if not skvtest.have_redis_server():
            self.skipTest("no redis-server")
        port = skvtest.free_port()
        conf, _ = self.patched_stock(port)
        names = ["databases", "timeout", "tcp-backlog", "hz", "loglevel", "dbfilename",
                 "save", "unixsocketperm", "daemonize", "appendonly", "rdbcompression",
                 "hash-max-listpack-entries",
                 "hash-max-listpack-value", "hash-max-ziplist-entries",
                 "zset-max-listpack-entries", "zset-max-listpack-value", "zset-max-ziplist-value"]
        with ConfServer(conf, port=port) as s, s.client(decode=True) as c:
            ours = {n: config_get(c, n)[n] for n in names}
        port2 = skvtest.free_port()
        conf2, _ = self.patched_stock(port2)
        with ConfRedis(conf2, port=port2) as r, r.client(decode=True) as c:
            theirs = {n: config_get(c, n)[n] for n in names}
        self.assertEqual(ours, theirs)


class Format(Base):
    def test_unknown_directive_exits_2_with_line_number(self):
        conf = self.write("bad.conf", "port 7000\n# comment\n\nnot-a-directive yes\n")
        rc, out, err = run_server([conf])
        self.assertEqual(rc, 2, err)
        self.assertIn("line 4", err)
        self.assertIn("'not-a-directive'", err)
        self.assertEqual(err.count("\n"), 1, "one line: " + err)

    def test_unbalanced_quotes_exit_2(self):
        conf = self.write("q.conf", "port 7000\nrequirepass \"abc\n")
        rc, out, err = run_server(["--config", conf])
        self.assertEqual(rc, 2)
        self.assertIn("line 2", err)
        self.assertIn("Unbalanced quotes", err)

    def test_quoting_and_escapes_as_redis(self):
        text = ("requirepass \"p\\x41ss w\\\"rd\"\n"
                "dbfilename 'it\\'s.rdb'\n"
                "save 900 1\nsave 300 10\n")
        conf = self.write("q.conf", text)
        names = ["requirepass", "dbfilename", "save"]
        port = skvtest.free_port()
        with ConfServer(conf, ["--port", str(port)], port=port) as s:
            with s.client(decode=True) as c:
                self.assertEqual(c.call("AUTH", "pAss w\"rd"), "OK")
                ours = {n: config_get(c, n)[n] for n in names}
        self.assertEqual(ours["requirepass"], "pAss w\"rd")
        self.assertEqual(ours["save"], "900 1 300 10")
        if skvtest.have_redis_server():
            with ConfRedis(conf) as r, r.client(decode=True) as c:
                c.call("AUTH", "pAss w\"rd")
                theirs = {n: config_get(c, n)[n] for n in names}
            self.assertEqual(ours, theirs)

    def test_include_relative_to_working_directory(self):
        self.write("extra.conf", "timeout 7\nsave 60 5\n")
        os.mkdir(os.path.join(self.tmp, "conf.d"))
        self.write("conf.d/a.conf", "hz 20\n")
        self.write("conf.d/b.conf", "databases 4\n")
        conf = self.write("main.conf", "save 30 3\ninclude extra.conf\n"
                          "include %s/conf.d/*.conf\ninclude %s/none/*.conf\n"
                          % (self.tmp, self.tmp))
        port = skvtest.free_port()
        s = ConfServer(conf, ["--port", str(port)], port=port)
        # skvtest runs the server in its own temporary directory; include
        # paths are relative to it, as redis-server's are to its cwd.
        shutil.copy(os.path.join(self.tmp, "extra.conf"), s.tmpdir)
        with s, s.client(decode=True) as c:
            got = config_get(c, "*")
        self.assertEqual(got["timeout"], "7")
        self.assertEqual(got["hz"], "20")
        self.assertEqual(got["databases"], "4")
        self.assertEqual(got["save"], "30 3 60 5")

    def test_appendonly_yes_is_a_loud_warning(self):
        conf = self.write("a.conf", "appendonly yes\nmin-replicas-to-write 3\n")
        port = skvtest.free_port()
        with ConfServer(conf, ["--port", str(port)], port=port) as s:
            with s.client() as c:
                self.assertEqual(c.call("PING"), "PONG")
            log = s.log()
        self.assertRegex(log, r"line 1: 'appendonly' is accepted but ignored: NOT SUPPORTED")
        self.assertRegex(log, r"line 2: 'min-replicas-to-write' is accepted but ignored: "
                              r"NOT ENFORCED")

    def test_json_still_json(self):
        conf = self.write("c.json", '  {"timeout": 9}')
        port = skvtest.free_port()
        with ConfServer(conf, ["--port", str(port)], port=port) as s, s.client(decode=True) as c:
            self.assertEqual(config_get(c, "timeout")["timeout"], "9")


class Flags(Base):
    def test_redis_command_line_form(self):
        args = ["--save", "900", "1", "--save", "300", "10", "--daemonize", "no",
                "--protected-mode", "no", "--min-replicas-to-write", "1", "--appendonly", "no"]
        with ShardkvServer(args) as s, s.client(decode=True) as c:
            ours = config_get(c, "save")["save"]
            log = s.log()
        self.assertEqual(ours, "900 1 300 10")
        for d in ("min-replicas-to-write", "appendonly"):
            self.assertIn("flag --%s: '%s' is accepted but ignored" % (d, d), log)
        self.assertNotIn("'protected-mode'", log, "honoured")
        if skvtest.have_redis_server():
            with RedisServer(args) as r, r.client(decode=True) as c:
                # RedisServer puts --save "" first; later --save lines add up.
                self.assertEqual(config_get(c, "save")["save"], ours)

    def test_save_empty_clears(self):
        conf = self.write("s.conf", "save 900 1\n")
        port = skvtest.free_port()
        with ConfServer(conf, ["--port", str(port), "--save", ""], port=port) as s:
            with s.client(decode=True) as c:
                self.assertEqual(config_get(c, "save")["save"], "")


class Bind(Base):
    def test_optional_address_missing_here_is_skipped_as_redis(self):
        # 192.0.2.1 (TEST-NET-1) is on no interface: "-" lets both servers
        # start on the other address; without "-" it is an error.
        args = ["--bind", "127.0.0.1 -192.0.2.1"]
        with ShardkvServer(args) as s, s.client() as c:
            self.assertEqual(c.call("PING"), "PONG")
            self.assertIn("Skipping optional bind address 192.0.2.1", s.log())
        if skvtest.have_redis_server():
            with RedisServer(args) as r, r.client() as c:
                self.assertEqual(c.call("PING"), "PONG")
        rc, out, err = run_server(["--port", str(skvtest.free_port()), "--bind",
                                   "127.0.0.1 192.0.2.1"])
        self.assertEqual(rc, 1, err)


class Daemon(Base):
    def wait_file(self, path, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(path) and os.path.getsize(path) > 0:
                return True
            time.sleep(0.02)
        return False

    def test_daemonize_and_pidfile(self):
        port = skvtest.free_port()
        pidfile = os.path.join(self.tmp, "skv.pid")
        logfile = os.path.join(self.tmp, "skv.log")
        rc, out, err = run_server(["--port", str(port), "--bind", "127.0.0.1", "--daemonize",
                                   "yes", "--pidfile", pidfile, "--logfile", logfile])
        self.assertEqual(rc, 0, err)  # the parent exits at once
        self.assertTrue(self.wait_file(pidfile), "pid file written")
        with open(pidfile) as f:
            pid = int(f.read().strip())
        try:
            self.assertTrue(skvtest.wait_port(port))
            with Client(port, decode=True) as c:
                info = skvtest.parse_info(c.call("INFO", "server"))["server"]
                self.assertEqual(int(info["process_id"]), pid)
                self.assertEqual(os.getsid(pid), pid, "a session of its own")
                c.send("SHUTDOWN", "NOSAVE")
            deadline = time.monotonic() + 10
            while os.path.exists(pidfile) and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertFalse(os.path.exists(pidfile), "pid file removed at shutdown")
            with open(logfile) as f:
                self.assertIn("bye bye", f.read())
        finally:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def test_unix_socket_with_redis_cli(self):
        sock = os.path.join(self.tmp, "skv.sock")
        with ShardkvServer(["--unixsocket", sock, "--unixsocketperm", "640"]) as s:
            self.assertEqual(stat.S_IMODE(os.stat(sock).st_mode), 0o640)
            run = lambda *a: subprocess.run(["redis-cli", "-s", sock] + list(a),
                                            capture_output=True, text=True, timeout=10).stdout
            self.assertEqual(run("SET", "u", "1").strip(), "OK")
            with s.client(decode=True) as c:
                self.assertEqual(c.call("GET", "u"), "1", "same data over TCP")
            line = run("CLIENT", "LIST")
        self.assertIn("addr=%s:0 laddr=%s:0 " % (sock, sock), line)
        self.assertRegex(line, r" flags=U ")
        self.assertFalse(os.path.exists(sock), "removed at shutdown")
        if skvtest.have_redis_server():
            rsock = os.path.join(self.tmp, "r.sock")
            with RedisServer(["--unixsocket", rsock, "--unixsocketperm", "640"]):
                ref = subprocess.run(["redis-cli", "-s", rsock, "CLIENT", "LIST"],
                                     capture_output=True, text=True, timeout=10).stdout
                self.assertEqual(stat.S_IMODE(os.stat(rsock).st_mode), 0o640)
            self.assertIn("addr=%s:0 laddr=%s:0 " % (rsock, rsock), ref)
            self.assertRegex(ref, r" flags=U ")


@unittest.skipUnless(shutil.which("prlimit"), "no prlimit")
class OpenFiles(Base):
    def rlimit_lines(self, log):
        return [re.sub(r"^.*? [#*] ", "", l) for l in log.splitlines()
                if "max file descriptors" in l or "maximum open files" in l]

    def test_low_ulimit_lowers_maxclients_as_redis(self):
        prefix = ["prlimit", "--nofile=256:256"]
        # shardkv's workers need a few descriptors each; keep them few.
        port = skvtest.free_port()
        s = ConfServer(self.write("m.conf", "maxclients 10000\nthreads 2\nport %d\n" % port),
                       prefix=prefix, port=port)
        with s, s.client(decode=True) as c:
            ours = config_get(c, "maxclients")["maxclients"]
            lines = self.rlimit_lines(s.log())
        self.assertEqual(ours, "224")  # 256 - 32 reserved, Redis's formula
        self.assertEqual(lines, [
            "You requested maxclients of 10000 requiring at least 10032 max file descriptors.",
            "Server can't set maximum open files to 10032 because of OS error: "
            "Operation not permitted.",
            "Current maximum open files is 256. maxclients has been reduced to 224 to "
            "compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."])
        if skvtest.have_redis_server():
            r = ConfRedis(self.write("r.conf", "maxclients 10000\n"), prefix=prefix)
            with r, r.client(decode=True) as c:
                self.assertEqual(config_get(c, "maxclients")["maxclients"], ours)
                self.assertEqual(self.rlimit_lines(r.log()), lines)


if __name__ == "__main__":
    skvtest.main()
