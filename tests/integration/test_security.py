#!/usr/bin/python3
"""Security and operations hardening, checked against the real binary and,
where Redis 7.0 has the behaviour, against /usr/bin/redis-server: protected
configs (dir, dbfilename), HTTP requests sent to the port, protected mode,
the limits on clients that have not authenticated, a second server on the
same port, SIGHUP, and empty keys in WATCH and transactions (run under
ASan/UBSan by make test). Every server is always stopped."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import RedisServer, RespError, run_server  # noqa: E402

# Fails the test on a sanitizer report or an unclean exit.
ShardkvServer = skvtest.StrictShardkvServer


def both(args=(), skv_args=(), redis_args=()):
    """A shardkv-server and a redis-server with the same extra arguments."""
    return (ShardkvServer(list(args) + list(skv_args)),
            RedisServer(list(args) + list(redis_args)))


class Signals(unittest.TestCase):
    def test_sighup_is_ignored(self):
        # Redis ignores SIGHUP; the default action would end the process.
        for srv in both(skv_args=("--threads", "2")):
            with srv as s, s.client() as c:
                s.signal(signal.SIGHUP)
                time.sleep(0.3)
                self.assertTrue(s.alive(), "%s died of SIGHUP" % s.name)
                self.assertEqual(c.call("PING"), "PONG")


class SecondServer(unittest.TestCase):
    def test_second_server_on_same_port_exits(self):
        # Redis: the second one logs the bind error and exits 1.
        with RedisServer() as r:
            rc, out, err = run_server(["--port", str(r.port), "--bind", "127.0.0.1"],
                                      binary=RedisServer.binary, timeout=5)
            self.assertEqual(rc, 1)
            want = ("Warning: Could not create server TCP listening socket 127.0.0.1:%d: "
                    "bind: Address already in use" % r.port)
            self.assertIn(want, out + err)
            self.assertIn("Failed listening on port %d (TCP), aborting." % r.port, out + err)
        with ShardkvServer(["--threads", "2"]) as s, s.client() as c:
            c.call("SET", "k", "first")
            rc, out, err = run_server(["--port", str(s.port), "--bind", "127.0.0.1",
                                       "--threads", "2"], timeout=5)
            self.assertEqual(rc, 1, "second server did not exit 1: %s" % (out + err))
            want = ("Warning: Could not create server TCP listening socket 127.0.0.1:%d: "
                    "bind: Address already in use" % s.port)
            self.assertIn(want, out + err)
            self.assertIn("Failed listening on port %d (TCP), aborting." % s.port, out + err)
            # The first still has every new connection.
            for _ in range(20):
                with s.client() as c2:
                    self.assertEqual(c2.call("GET", "k"), b"first")
        # The claim on the port goes with the process.
        with ShardkvServer(port=s.port) as s2, s2.client() as c:
            self.assertEqual(c.call("PING"), "PONG")


HTTP_POST = (b"POST / HTTP/1.1\r\n"
             b"Host: 127.0.0.1\r\n"
             b"Content-Type: text/plain\r\n"
             b"Content-Length: 40\r\n"
             b"\r\n"
             b"SET pwned 1\r\nSET pwned 2\r\nSET pwned 3\r\n")
SECURITY_LOG = ("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or "
                "Host: commands to Redis. This is likely due to an attacker attempting to use "
                "Cross Protocol Scripting to compromise your Redis instance. Connection aborted.")


def recv_all(sock, timeout=3.0):
    """Everything the peer sends until it closes; None if it stays open."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                return data
            data += d
    except ConnectionResetError:
        return data
    except socket.timeout:
        return None


class CrossProtocol(unittest.TestCase):
    def check(self, srv, request, password=None):
        with srv as s:
            with socket.create_connection(("127.0.0.1", s.port)) as sock:
                sock.sendall(request)
                got = recv_all(sock)
            self.assertEqual(got, b"", "%s: connection not closed at once without a reply: %r"
                             % (s.name, got))
            with s.client() as c:
                if password:
                    self.assertEqual(c.call("AUTH", password), "OK")
                self.assertEqual(c.call("EXISTS", "pwned"), 0, s.name)
                self.assertEqual(c.call("DBSIZE"), 0, s.name)
            deadline = time.monotonic() + 3
            while SECURITY_LOG not in s.log() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn(SECURITY_LOG, s.log(), s.name)

    def test_http_post_runs_nothing(self):
        for srv in both(skv_args=("--threads", "2")):
            self.check(srv, HTTP_POST)

    def test_post_in_any_case(self):
        for srv in both():
            self.check(srv, b"pOsT / HTTP/1.1\r\nSET pwned 1\r\n")

    def test_host_header_first(self):
        # A "Host:" line closes the connection too, in any letter case, and
        # even from a client that has not authenticated.
        req = b"host: x\r\nSET pwned 1\r\n"
        for srv in both(("--requirepass", "pw")):
            self.check(srv, req, password="pw")


def exchange(port, data, idle=0.5, timeout=5.0, host="127.0.0.1", source=None):
    """Send data on a new connection (from the address source, if given);
    return (bytes received, closed?) once the server closed it or sent
    nothing for `idle` seconds."""
    with socket.create_connection((host, port),
                                  source_address=(source, 0) if source else None) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = b""
        deadline = time.monotonic() + timeout
        sock.settimeout(idle)
        while time.monotonic() < deadline:
            try:
                d = sock.recv(65536)
            except ConnectionResetError:
                return got, True
            except socket.timeout:
                return got, False
            if not d:
                return got, True
            got += d
        return got, False


def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


class Unauthenticated(unittest.TestCase):
    """With requirepass, a client that has not authenticated may send at
    most 10 arguments of at most 16384 bytes (Redis 7.0)."""

    CASES = [
        b"*11\r\n",
        b"*10\r\n" + b"$1\r\na\r\n" * 10,
        b"*1\r\n$16385\r\n",
        b"*2\r\n$4\r\nECHO\r\n$16384\r\n" + b"x" * 16384 + b"\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$104857600\r\n",
        b"*2000000000\r\n",
        b"*3000000000\r\n",
        b"*1\r\n$600000000\r\n",
        b"PING\r\n*11\r\n",
        b"AUTH pw\r\n*11\r\n" + b"$1\r\na\r\n" * 11,
    ]

    def replies(self, srv):
        with srv as s:
            out = [exchange(s.port, case) for case in self.CASES]
            # Once authenticated, big values and many arguments are fine,
            # and AUTH then a big SET in one write works: the SET is
            # parsed after AUTH has run, as in Redis.
            big = b"v" * (1 << 20)
            many = ["k%d" % i for i in range(20)]
            with s.client() as c:
                out += [c.call("AUTH", "pw"), c.call("SET", "big", big), c.call("STRLEN", "big"),
                        c.call("MSET", *[x for k in many for x in (k, k)]), c.call("MGET", *many)]
            with s.client() as c:
                c.send_raw(b"AUTH pw\r\n" + skvtest.encode_command("SET", "b2", big) +
                           skvtest.encode_command("STRLEN", "b2"))
                out += [c.read_reply(), c.read_reply(), c.read_reply()]
            return out

    def test_limits_match_redis(self):
        skv, redis = both(("--requirepass", "pw"))
        got, want = self.replies(skv), self.replies(redis)
        for case, g, w in zip(self.CASES + [b"authenticated"] * 8, got, want):
            self.assertEqual(g, w, case[:40])
        self.assertEqual(len(got), len(want))
        self.assertEqual(got[-1], 1 << 20)
        # The cases that matter, spelled out.
        self.assertEqual(got[0], (b"-ERR Protocol error: unauthenticated multibulk length\r\n",
                                  True))
        self.assertEqual(got[2], (b"-ERR Protocol error: unauthenticated bulk length\r\n",
                                  True))
        self.assertEqual(got[4], (b"-ERR Protocol error: unauthenticated bulk length\r\n",
                                  True))

    def test_no_memory_for_unauthenticated_bulk(self):
        with ShardkvServer(["--requirepass", "pw", "--threads", "2"]) as s:
            with s.client() as c:
                self.assertEqual(c.call("PING"), RespError("NOAUTH Authentication required."))
            before = vm_rss_kb(s.proc.pid)
            sock = socket.create_connection(("127.0.0.1", s.port))
            try:
                sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$104857600\r\n")
                chunk = b"x" * (1 << 20)
                for _ in range(50):
                    sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            time.sleep(0.3)
            grown = vm_rss_kb(s.proc.pid) - before
            sock.close()
            self.assertLess(grown, 10 * 1024, "RSS grew by %d kB" % grown)
            with s.client() as c:
                self.assertEqual(c.call("AUTH", "pw"), "OK")
                self.assertEqual(c.call("EXISTS", "k"), 0)


SSH_KEY = b"\n\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKEYKEYKEYKEY attacker@example\n\n"


def config_get(c, name):
    r = c.call("CONFIG", "GET", name)
    return r[1] if r else None


class ProtectedConfigs(unittest.TestCase):
    """dir and dbfilename are Redis's PROTECTED_CONFIG: with the default
    enable-protected-configs no, no client can point SAVE at another file."""

    def setUp(self):
        # Stands in for the server user's ~/.ssh: the attack's target.
        self.target = tempfile.mkdtemp(prefix="skvsec-target-")
        self.data = tempfile.mkdtemp(prefix="skvsec-data-")

    def tearDown(self):
        shutil.rmtree(self.target, ignore_errors=True)
        shutil.rmtree(self.data, ignore_errors=True)

    def attack(self, srv):
        """The classic chain; returns its replies."""
        with srv as s, s.client() as c:
            # (Ordered so that the code before the fix wrote only into
            # the stand-in target directory.)
            return [c.call("CONFIG", "SET", "dbfilename", "../evil.rdb"),
                    c.call("CONFIG", "SET", "maxclients", "100", "DIR", self.target),
                    c.call("CONFIG", "SET", "dir", self.target),
                    c.call("CONFIG", "SET", "dbfilename", "authorized_keys"),
                    c.call("CONFIG", "GET", "enable-protected-configs"),
                    c.call("CONFIG", "SET", "enable-protected-configs", "yes"),
                    c.call("SET", "k", SSH_KEY),
                    c.call("SAVE"),
                    config_get(c, "maxclients")]

    def test_file_write_chain_refused(self):
        skv = ShardkvServer(["--dir", self.data])
        redis = RedisServer()
        got, want = self.attack(skv), self.attack(redis)
        self.assertEqual(got, want)
        self.assertEqual(got[2], RespError(
            "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected "
            "config"))
        self.assertEqual(got[3], RespError(
            "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set "
            "protected config"))
        self.assertEqual(os.listdir(self.target), [])
        self.assertEqual(os.listdir(self.data), ["dump.rdb"])
        self.assertFalse(os.path.exists(os.path.join(os.path.dirname(self.data), "evil.rdb")))

    def allowed(self, srv):
        with srv as s, s.client() as c:
            return [c.call("CONFIG", "SET", "dbfilename", "../evil.rdb"),
                    c.call("CONFIG", "SET", "dbfilename", "sub/evil.rdb"),
                    c.call("CONFIG", "SET", "dbfilename", "a\\b.rdb"),
                    c.call("CONFIG", "SET", "dir", self.target),
                    c.call("CONFIG", "SET", "dbfilename", "ok.rdb"),
                    config_get(c, "dbfilename"),
                    c.call("CONFIG", "GET", "enable-protected-configs")]

    def test_enabled_still_no_path_in_dbfilename(self):
        args = ("--enable-protected-configs", "yes")
        got = self.allowed(ShardkvServer(["--dir", self.data] + list(args)))
        want = self.allowed(RedisServer(list(args)))
        self.assertEqual(got, want)
        self.assertEqual(got[0], RespError(
            "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - dbfilename "
            "can't be a path, just a filename"))
        self.assertEqual(got[3], "OK")
        rc, out, err = run_server(["--dbfilename", "../evil.rdb"])
        self.assertEqual(rc, 2)
        self.assertIn("dbfilename can't be a path, just a filename", err)

    def local_only(self, srv):
        with srv as s:
            out = []
            for src in ("127.0.0.1", "127.0.0.2"):
                # protected-mode no: 127.0.0.2 is not local to Redis 7.0.
                with s.client(source=src) as c:
                    out.append(c.call("CONFIG", "SET", "dir", self.target))
            return out

    def test_local(self):
        args = ["--enable-protected-configs", "local", "--protected-mode", "no"]
        got = self.local_only(ShardkvServer(["--dir", self.data] + args))
        want = self.local_only(RedisServer(args))
        self.assertEqual(got, want)
        self.assertEqual(got[0], "OK")
        self.assertEqual(got[1], RespError(
            "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected "
            "config"))


DENIED = (b"-DENIED Redis is running in protected mode because protected mode is enabled and "
          b"no password is set for the default user. In this mode connections are only "
          b"accepted from the loopback interface. If you want to connect from external "
          b"computers to Redis you may adopt one of the following solutions: 1) Just disable "
          b"protected mode sending the command 'CONFIG SET protected-mode no' from the "
          b"loopback interface by connecting to Redis from the same host the server is "
          b"running, however MAKE SURE Redis is not publicly accessible from internet if you "
          b"do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can "
          b"just disable the protected mode by editing the Redis configuration file, and "
          b"setting the protected mode option to 'no', and then restarting the server. 3) If "
          b"you started the server manually just for testing, restart it with the "
          b"'--protected-mode no' option. 4) Setup a an authentication password for the "
          b"default user. NOTE: You only need to do one of the above things in order for the "
          b"server to start accepting connections from the outside.\r\n")

# The address a client outside the loopback interface gets, inside a
# network namespace of the test's own (see netns_child): no packet leaves it.
NETNS_ADDR = "10.213.7.1"


def protected_mode_steps(s, host, source):
    """What a client from `source` gets from server s (listening on host)
    as protected mode's conditions change; the changes are made from
    127.0.0.1. Returned as JSON-able values: [reply text, closed?] for each
    exchange from `source`, repr() of the local client's replies."""
    steps = [exchange(s.port, b"PING\r\n", host=host, source=source)]
    with s.client() as local:
        steps.append(local.call("PING"))
        steps.append(local.call("CONFIG", "SET", "requirepass", "pw"))
        steps.append(exchange(s.port, b"PING\r\n", host=host, source=source))
        steps.append(local.call("AUTH", "pw"))
        steps.append(local.call("CONFIG", "SET", "requirepass", "", "protected-mode", "no"))
        steps.append(exchange(s.port, b"PING\r\n", host=host, source=source))
        steps.append(local.call("CONFIG", "SET", "protected-mode", "yes"))
        steps.append(local.call("CONFIG", "GET", "protected-mode"))
        steps.append(exchange(s.port, b"PING\r\n", host=host, source=source))
        info = skvtest.parse_info(local.call("INFO", "stats"))
        steps.append(int(info["stats"]["rejected_connections"]))
    return [[x[0].decode("latin-1"), x[1]] if isinstance(x, tuple) else repr(x) for x in steps]


def netns_child():
    """Runs inside `unshare --net`: a fresh network namespace with only a
    loopback interface, to which NETNS_ADDR is added. Both servers listen
    on 0.0.0.0 there; prints their protected_mode_steps as JSON."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", NETNS_ADDR + "/32", "dev", "lo"], check=True)
    out = {}
    for srv in both(("--bind", "0.0.0.0")):
        with srv as s:
            out[s.name] = protected_mode_steps(s, NETNS_ADDR, NETNS_ADDR)
    print(json.dumps(out))


class ProtectedMode(unittest.TestCase):
    def check(self, got, want):
        self.assertEqual(got, want)
        denied = [DENIED.decode("latin-1"), True]
        self.assertEqual(got[0], denied)
        self.assertEqual(got[3], ["-NOAUTH Authentication required.\r\n", False])
        self.assertEqual(got[6], ["+PONG\r\n", False])
        self.assertEqual(got[9], denied)
        self.assertEqual(got[10], "2")

    def test_loopback_alias_is_not_local(self):
        # Redis 7.0 counts only 127.0.0.1 and ::1 as local: 127.0.0.2 gets
        # the DENIED reply, so this needs no interface of its own.
        res = []
        for srv in both():
            with srv as s:
                res.append(protected_mode_steps(s, "127.0.0.1", "127.0.0.2"))
        self.check(*res)

    def test_non_loopback_address(self):
        # Bound to 0.0.0.0, a client on another interface address: in a
        # network namespace made for the test (root; CI runs as root). If
        # it cannot be made, the test fails: it must not pass unrun.
        here = os.path.dirname(os.path.abspath(__file__))
        code = ("import sys; sys.path.insert(0, %r); import test_security; "
                "test_security.netns_child()" % here)
        p = subprocess.run(["unshare", "--net", "--", sys.executable, "-c", code],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, "network namespace child failed:\n%s%s"
                         % (p.stdout, p.stderr))
        res = json.loads(p.stdout.strip().splitlines()[-1])
        self.check(res["shardkv-server"], res["redis-server"])


class EmptyKeys(unittest.TestCase):
    """UBSan once stopped the server at memcmp(NULL, .., 0) for an empty key
    in the intent-lock and WATCH tables; the replies are Redis's."""

    SEQUENCES = [
        [("WATCH", ""), ("MULTI",), ("SET", "", "1"), ("EXEC",), ("GET", "")],
        [("SET", "", "v"), ("WATCH", ""), ("SET", "", "w"), ("MULTI",), ("GET", ""),
         ("EXEC",)],
        [("COPY", "", "k1"), ("SET", "", "v"), ("COPY", "", "k1"), ("GET", "k1"),
         ("RENAME", "k1", ""), ("MGET", "", "k1"), ("DEL", "", "k1")],
        [("MSET", "", "a", "b", "c"), ("MGET", "", "b"), ("EXISTS", "", "b", "")],
    ]

    def run_all(self, srv):
        out = []
        with srv as s:
            for seq in self.SEQUENCES:
                with s.client() as c:
                    c.call("FLUSHALL")
                    out.append([c.call(*cmd) for cmd in seq])
        return out

    def test_empty_keys_in_transactions(self):
        skv, redis = both(skv_args=("--threads", "4"))
        self.assertEqual(self.run_all(skv), self.run_all(redis))

    def test_watching_client_at_shutdown(self):
        # A client still watching keys on every shard when the server
        # stops: its unwatch messages once leaked (LeakSanitizer).
        with ShardkvServer(["--threads", "4"]) as s:
            c = s.client()
            self.assertEqual(c.call("WATCH", *["w:%d" % i for i in range(32)]), "OK")
            self.assertEqual(c.call("WATCH", ""), "OK")
            with s.client() as c2:
                self.assertEqual(c2.call("PING"), "PONG")
        c.close()


if __name__ == "__main__":
    skvtest.main()
