"""skvtest — shared helpers for shardkv's integration and compatibility tests.

Stdlib only (Debian's /usr/bin/python3). Gives the suites:

* free_port()                  a free TCP port on 127.0.0.1
* ShardkvServer(args, env)     starts $SHARDKV_BIN/shardkv-server on a free
                               loopback port, waits until it accepts, and is
                               always stopped (context manager, atexit, and the
                               child dies with us through PR_SET_PDEATHSIG)
* RedisServer()                the same for /usr/bin/redis-server (reference)
* run_server(args, env)        run the binary to completion (for --help,
                               bad options) and return (rc, stdout, stderr)
* Client(port)                 a raw RESP client: call(*args) sends one command
                               and parses one reply with a full RESP2/RESP3
                               parser; send_raw()/read_reply() for raw bytes
* main()                       run the calling module's unittest cases, print
                               'N passed, N failed' and exit non-zero on failure

Reply mapping: simple string -> str, bulk string -> bytes (str when the client
was made with decode=True), integer -> int, null -> None, array -> list,
error -> RespError (returned, not raised: tests compare error texts), RESP3
map -> dict, set -> RespSet (a list), push -> RespPush (a list), double ->
float, boolean -> bool, big number -> int, verbatim -> bytes/str without the
format prefix, attributes are read and dropped (kept on client.last_attrs).
"""

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT = 10.0  # seconds a server gets to start accepting


def bin_dir():
    """Directory holding shardkv-server: $SHARDKV_BIN, else <repo>/build/bin."""
    return os.environ.get("SHARDKV_BIN") or os.path.join(REPO, "build", "bin")


def server_path():
    return os.path.join(bin_dir(), "shardkv-server")


def free_port():
    """A port that was free on 127.0.0.1 a moment ago (the kernel picked it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


# ---------------------------------------------------------------- processes

_live = set()  # every process started and not yet reaped, for atexit
# Sanitizer reports (and failed assertions: the test builds keep assert on)
# found in server logs; main() counts them as failures, so a server that
# aborts, even at exit, fails the suite.
sanitizer_reports = []
_SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                    "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer", "Assertion `")


def _kill_all():
    for p in list(_live):
        p.stop()


atexit.register(_kill_all)


def _on_sigterm(signum, frame):
    # ctest's timeout sends SIGTERM: turn it into an exit so atexit runs.
    sys.exit(128 + signum)


if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
    signal.signal(signal.SIGTERM, _on_sigterm)

_libc = None


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL if the test process dies first."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except Exception:
        pass


def _clean_env(env):
    """Our environment without any SHARDKV_* setting, plus env."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("SHARDKV_")}
    e.update(env or {})
    return e


def wait_port(port, proc=None, timeout=START_TIMEOUT, host="127.0.0.1"):
    """Wait until host:port accepts a connection. Returns True, or False when
    the timeout passed or proc exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class ServerError(Exception):
    """The server did not start; the message carries its log."""


class _Process:
    """A server child process on a free loopback port; always stopped."""

    name = "server"

    def __init__(self, args=(), env=None, port=None):
        self.port = port or free_port()
        self.extra = list(args)
        self.env = env
        self.tmpdir = tempfile.mkdtemp(prefix="skvtest-")
        self.logpath = os.path.join(self.tmpdir, "server.log")
        self.proc = None
        self.returncode = None

    def argv(self):
        raise NotImplementedError

    def start(self):
        logf = open(self.logpath, "wb")
        try:
            self.proc = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, cwd=self.tmpdir,
                env=_clean_env(self.env), preexec_fn=_die_with_parent)
        finally:
            logf.close()
        _live.add(self)
        if not wait_port(self.port, self.proc):
            rc = self.proc.poll()
            self.stop()
            raise ServerError("%s on port %d did not start (exit %s); log:\n%s"
                              % (self.name, self.port, rc, self.log()))
        return self

    def log(self):
        """Everything the server wrote so far (stdout and stderr)."""
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout):
        """Wait for exit; returns the exit code or None on timeout."""
        try:
            self.returncode = self.proc.wait(timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after timeout. Returns the exit code.
        Idempotent; removes the temporary directory. A server that died of
        a signal other than SIGKILL (a crash: SIGSEGV, SIGABRT, ...), even
        at exit, counts as a failure of the run, as a sanitizer report in
        its log does."""
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.terminate()
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.returncode = self.proc.returncode
            log = self.log()
            crashed = self.returncode is not None and self.returncode < 0 and \
                self.returncode != -signal.SIGKILL
            if crashed or any(m in log for m in _SANITIZER_MARKS):
                sanitizer_reports.append((self.name, self.port))
                sys.stderr.write("\n==== %s from %s on port %d ====\n%s\n"
                                 % ("died of signal %d" % -self.returncode if crashed
                                    else "sanitizer report", self.name, self.port, log))
        _live.discard(self)
        if self.tmpdir and os.path.isdir(self.tmpdir):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        return self.returncode

    def client(self, **kw):
        return Client(self.port, **kw)

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class ShardkvServer(_Process):
    """shardkv-server --port P --bind 127.0.0.1 [args]; env adds SHARDKV_*
    variables (inherited SHARDKV_* settings are removed first)."""

    name = "shardkv-server"

    def argv(self):
        return [server_path(), "--port", str(self.port), "--bind", "127.0.0.1"] + self.extra


class StrictShardkvServer(ShardkvServer):
    """A ShardkvServer whose with-block fails the test at once when the
    server did not exit 0 or its log holds a sanitizer report (leaks at exit
    included), instead of only counting the report at the end."""

    def __exit__(self, *exc):
        log = self.log()
        rc = self.stop()
        if exc[0] is None:
            for bad in _SANITIZER_MARKS:
                if bad in log:
                    raise AssertionError("%s in server log:\n%s" % (bad, log[-4000:]))
            if rc != 0:
                raise AssertionError("server exited with %s; log:\n%s" % (rc, log[-4000:]))
        return False


class RedisServer(_Process):
    """The reference: redis-server with no persistence on a free port."""

    name = "redis-server"
    binary = "/usr/bin/redis-server"

    def argv(self):
        return [self.binary, "--save", "", "--appendonly", "no", "--port", str(self.port),
                "--bind", "127.0.0.1", "--dir", self.tmpdir] + self.extra


def have_redis_server():
    return os.access(RedisServer.binary, os.X_OK)


def run_server(args, env=None, timeout=10.0, binary=None):
    """Run shardkv-server with args to completion (for --help, --version and
    start-up errors). Returns (returncode, stdout, stderr) as text. A server
    that is still running after timeout is killed and returncode is None."""
    tmp = tempfile.mkdtemp(prefix="skvtest-")
    try:
        p = subprocess.Popen([binary or server_path()] + list(args), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp,
                             env=_clean_env(env), preexec_fn=_die_with_parent)
        try:
            out, err = p.communicate(timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            rc = None
        return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------- RESP client

class RespError(Exception):
    """An error reply. str(e) is the text without the leading '-'."""

    def __eq__(self, other):
        if isinstance(other, RespError):
            return str(self) == str(other)
        if isinstance(other, str):
            return str(self) == other
        return NotImplemented

    def __hash__(self):
        return hash(str(self))

    def __repr__(self):
        return "RespError(%r)" % str(self)

    @property
    def code(self):
        """First word: ERR, WRONGTYPE, NOPROTO, ..."""
        return str(self).split(" ", 1)[0]


class RespSet(list):
    """A RESP3 set (kept as a list: members may be unhashable)."""


class RespPush(list):
    """A RESP3 push message (out-of-band)."""


class ConnectionClosed(Exception):
    """The server closed the connection."""


class ProtocolError(Exception):
    """The reply was not valid RESP."""


def encode_command(*args):
    """RESP multibulk for one command; args may be str, bytes, int or float."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, bytes):
            b = a
        elif isinstance(a, str):
            b = a.encode("utf-8", "surrogateescape")
        else:
            b = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Client:
    """A blocking RESP client over one TCP (or Unix socket) connection.

    call(*args) sends a command and returns its parsed reply (errors are
    returned as RespError). send_raw(bytes) and read_reply() work on raw bytes
    for protocol tests. Push messages are returned like any reply (RESP3).
    """

    def __init__(self, port, host="127.0.0.1", timeout=10.0, decode=False, source=None,
                 unix_path=None):
        # source: the local address to connect from (e.g. "127.0.0.2");
        # unix_path: connect to this Unix socket instead (port unused).
        if unix_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix_path)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout,
                                                 source_address=(source, 0) if source else None)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.decode = decode
        self.last_attrs = None

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def settimeout(self, t):
        self.sock.settimeout(t)

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, *args):
        self.sock.sendall(encode_command(*args))

    def call(self, *args):
        """Send one command, read one reply."""
        self.send(*args)
        return self.read_reply()

    def pipeline(self, commands):
        """Send every command in one write, then read as many replies."""
        self.sock.sendall(b"".join(encode_command(*c) for c in commands))
        return [self.read_reply() for _ in commands]

    def is_closed(self, timeout=2.0):
        """True if the server closes the connection within timeout (any bytes
        it still sends are discarded)."""
        old = self.sock.gettimeout()
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                try:
                    d = self.sock.recv(65536)
                except socket.timeout:
                    return False
                except ConnectionError:
                    return True
                if not d:
                    return True
        finally:
            self.sock.settimeout(old)

    # -- parser

    def _fill(self):
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            raise ConnectionClosed("server closed the connection")
        self.buf += d

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data = bytes(self.buf[:n])
        if self.buf[n:n + 2] != b"\r\n":
            raise ProtocolError("bulk not followed by CRLF: %r" % bytes(self.buf[n:n + 2]))
        del self.buf[:n + 2]
        return data

    def _str(self, b):
        return b.decode("utf-8", "surrogateescape") if self.decode else b

    def _agg_len(self, rest):
        n = int(rest)
        return None if n < 0 else n

    def read_reply(self):
        """Parse exactly one reply (RESP2 or RESP3)."""
        line = self._line()
        if not line:
            raise ProtocolError("empty line")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode("utf-8", "surrogateescape")
        if t == b"-":
            return RespError(rest.decode("utf-8", "surrogateescape"))
        if t == b":":
            return int(rest)
        if t == b"$":
            if rest == b"?":
                return self._str(self._streamed())
            n = int(rest)
            return None if n < 0 else self._str(self._exact(n))
        if t in (b"*", b"~", b">"):
            n = self._agg_len(rest)
            if n is None:
                return None
            items = [self.read_reply() for _ in range(n)]
            if t == b"~":
                return RespSet(items)
            if t == b">":
                return RespPush(items)
            return items
        if t == b"%":
            n = int(rest)
            m = {}
            for _ in range(n):
                k = self.read_reply()
                v = self.read_reply()
                m[_hashable(k)] = v
            return m
        if t == b"|":
            n = int(rest)
            attrs = {}
            for _ in range(n):
                k = self.read_reply()
                attrs[_hashable(k)] = self.read_reply()
            self.last_attrs = attrs
            return self.read_reply()
        if t == b"_":
            return None
        if t == b"#":
            if rest not in (b"t", b"f"):
                raise ProtocolError("bad boolean %r" % rest)
            return rest == b"t"
        if t == b",":
            s = rest.decode().lower()
            if s in ("inf", "+inf"):
                return float("inf")
            if s == "-inf":
                return float("-inf")
            return float(s)
        if t == b"(":
            return int(rest)
        if t == b"!":
            return RespError(self._exact(int(rest)).decode("utf-8", "surrogateescape"))
        if t == b"=":
            data = self._exact(int(rest))
            if data[3:4] != b":":
                raise ProtocolError("verbatim string without format: %r" % data[:8])
            return self._str(data[4:])
        raise ProtocolError("unknown reply type %r in %r" % (t, line[:64]))

    def _streamed(self):
        parts = []
        while True:
            line = self._line()
            if not line.startswith(b";"):
                raise ProtocolError("bad streamed chunk %r" % line[:64])
            n = int(line[1:])
            if n == 0:
                return b"".join(parts)
            parts.append(self._exact(n))


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v


def shards(c):
    """INFO shards of the server c is connected to, one dict per shard."""
    info = parse_info(c.call("INFO", "shards"))["shards"]
    return [info["shard%d" % i] for i in range(len(info))]


def key_on(c, shard, prefix="key:"):
    """A key name (prefix + a number) that shard owns: SET it and see whose
    key count grew."""
    for i in range(10000):
        k = "%s%d" % (prefix, i)
        before = int(shards(c)[shard]["keys"])
        c.call("SET", k, "x")
        grew = int(shards(c)[shard]["keys"]) == before + 1
        c.call("DEL", k)
        if grew:
            return k
    raise AssertionError("no key for shard %d" % shard)


def worker_of(admin, cl):
    """The worker cl landed on: the one whose command count grows by the
    100 PINGs it sends (every other client is idle meanwhile)."""
    before = [int(s["cmds"]) for s in shards(admin)]
    assert cl.pipeline([("PING",)] * 100) == ["PONG"] * 100
    after = [int(s["cmds"]) for s in shards(admin)]
    up = [i for i in range(len(after)) if after[i] - before[i] >= 100]
    assert len(up) == 1, (before, after)
    return up[0]


def client_on(srv, admin, worker):
    """A client of srv on the given worker (connections are spread by the
    kernel: try until one lands there)."""
    spare = []
    try:
        for _ in range(64):
            cl = srv.client(decode=True)
            if worker_of(admin, cl) == worker:
                return cl
            spare.append(cl)
    finally:
        for cl in spare:
            cl.close()
    raise AssertionError("no connection landed on worker %d" % worker)


def wait_blocked(c, n, timeout=5.0):
    """Wait until INFO on client c says n clients are blocked; False if
    that did not happen within timeout seconds."""
    deadline = time.monotonic() + timeout
    want = b"blocked_clients:%d\r" % n
    while time.monotonic() < deadline:
        if want in c.call("INFO", "clients"):
            return True
        time.sleep(0.002)
    return False


def parse_info(text):
    """INFO text -> {section: {field: value}}; values stay strings except
    keyspace-style 'k=v,k=v' lines, which become dicts."""
    if isinstance(text, bytes):
        text = text.decode()
    out, cur = {}, None
    for line in text.split("\r\n"):
        if not line:
            continue
        if line.startswith("# "):
            cur = out.setdefault(line[2:].strip().lower(), {})
            continue
        if cur is None or ":" not in line:
            raise ValueError("bad INFO line %r" % line)
        k, v = line.split(":", 1)
        parts = v.split(",")
        if v and all("=" in kv and not kv.startswith("=") for kv in parts):
            v = dict(kv.split("=", 1) for kv in parts)
        cur[k] = v
    return out


# ------------------------------------------------------------------- runner

def main(module=None):
    """Run the unittest cases of the calling module (its __main__), print
    'N passed, N failed' as the final line and exit 0 only if all passed.
    Skipped tests are reported, and count as failures: a test that cannot
    run has not passed."""
    mod = sys.modules[module or "__main__"]
    suite = unittest.defaultTestLoader.loadTestsFromModule(mod)
    if len(sys.argv) > 1:
        suite = unittest.defaultTestLoader.loadTestsFromNames(sys.argv[1:], mod)
    runner = unittest.TextTestRunner(verbosity=2, stream=sys.stderr)
    try:
        res = runner.run(suite)
    finally:
        _kill_all()
    failed = len(res.failures) + len(res.errors) + len(res.skipped) + len(res.unexpectedSuccesses)
    passed = res.testsRun - failed
    # A sanitizer report in a server's log fails the run even if every
    # assertion held: it is counted as one more failure.
    for name, port in sanitizer_reports:
        print("server crash or sanitizer report (counted as failed): %s on port %d"
              % (name, port))
    failed += len(sanitizer_reports)
    if res.skipped:
        for t, why in res.skipped:
            print("skipped (counted as failed): %s: %s" % (t, why))
    sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(0 if failed == 0 and res.testsRun > 0 else 1)
