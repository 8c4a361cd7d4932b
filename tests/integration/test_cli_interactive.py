#!/usr/bin/python3
"""shardkv-cli at a real terminal (a pseudo-terminal), against shardkv-server.

* Editing: arrow-up recalls the previous command; Tab completes command
  names from the server's COMMAND DOCS and lists the candidates.
* History: saved after each command to ~/.shardkv_cli_history (mode 0600),
  or $SHARDKV_CLI_HISTFILE, without AUTH lines (even unbalanced ones);
  loaded by the next session.
* help <command> / help @<group>: answered from COMMAND DOCS by the cli, the
  server never sees a HELP command (no error, no cmdstat_help).
Run directly or through ctest (SHARDKV_BIN points at build/bin)."""

import fcntl
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import ShardkvServer  # noqa: E402

UP = b"\x1b[A"
TIMEOUT = 10.0  # seconds to wait for an expected output (a loaded machine)


class Terminal:
    """shardkv-cli on a pseudo-terminal 200 columns wide; always killed."""

    def __init__(self, port, env):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        cli = os.path.join(skvtest.bin_dir(), "shardkv-cli")
        self.proc = subprocess.Popen([cli, "-p", str(port)], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, start_new_session=True,
                                     preexec_fn=skvtest._die_with_parent)
        os.close(slave)
        self.out = b""

    def expect(self, text, count=1):
        """Read until text appeared count times in all the output so far."""
        deadline = time.monotonic() + TIMEOUT
        while self.out.count(text) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%r not seen %d times in %r" % (text, count, self.out))
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # EIO: the cli exited
                    data = b""
                if not data:
                    raise AssertionError("cli exited before %r; output %r" % (text, self.out))
                self.out += data

    def send(self, data):
        os.write(self.master, data)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        os.close(self.master)


@unittest.skipUnless(os.access(skvtest.server_path(), os.X_OK), "shardkv-server not built")
class CliAtATerminal(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = ShardkvServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="skvcli-")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDKV_")}
        self.env.update(HOME=self.home, TERM="xterm")
        self.prompt = b"127.0.0.1:%d> " % self.srv.port
        self.terms = []

    def tearDown(self):
        for t in self.terms:
            t.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def start(self):
        t = Terminal(self.srv.port, self.env)
        self.terms.append(t)
        t.expect(self.prompt)
        return t

    def command(self, t, keys, reply):
        """Type keys (ending in Enter), wait for reply and the next prompt."""
        n = t.out.count(self.prompt)
        t.send(keys)
        t.expect(reply)
        t.expect(self.prompt, n + 1)

    def test_arrow_up_recalls_the_previous_command(self):
        t = self.start()
        self.command(t, b"echo first\r", b'"first"\r\n')
        # Old line reading sent the escape sequence to the server as a command.
        self.command(t, UP + b"\r", b'"first"\r\n')
        self.assertEqual(t.out.count(b'"first"\r\n'), 2, t.out)
        self.assertNotIn(b"unknown command", t.out)
        # The prompt shows the database after SELECT, as redis-cli's does.
        t.send(b"select 3\r")
        t.expect(b"127.0.0.1:%d[3]> " % self.srv.port)

    def test_history_file(self):
        t = self.start()
        self.command(t, b"set hist:k 1\r", b"OK\r\n")
        self.command(t, b"auth secret\r", b"(error)")
        self.command(t, b'AUTH "unbalanced secret\r', b"Invalid argument(s)")
        self.command(t, b"get hist:k\r", b'"1"\r\n')
        path = os.path.join(self.home, ".shardkv_cli_history")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"set hist:k 1\nget hist:k\n")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        t.close()
        self.terms.remove(t)
        # A new session starts with that history: up twice is the SET.
        t = self.start()
        self.command(t, UP + UP + b"\r", b"OK\r\n")
        # SHARDKV_CLI_HISTFILE names another file.
        other = os.path.join(self.home, "other")
        self.env["SHARDKV_CLI_HISTFILE"] = other
        t = self.start()
        self.command(t, b"echo elsewhere\r", b'"elsewhere"')
        with open(other, "rb") as f:
            self.assertEqual(f.read(), b"echo elsewhere\n")

    def test_tab_completion(self):
        t = self.start()
        # "ech" + Tab is ECHO's only completion; a space follows it (old
        # line reading sent "ech\thi": unknown command 'ech').
        self.command(t, b"ech\thi\r", b'"hi"\r\n')
        # "getr" is unique too, in upper case when typed so.
        self.command(t, b"GETR\tnokey 0 1\r", b'""\r\n')
        # Ambiguous: the first Tab completes the common part, the second
        # lists the candidates.
        n = t.out.count(self.prompt)
        t.send(b"INCRB\t\t")
        t.expect(b"INCRBYFLOAT")
        t.expect(self.prompt + b"INCRBY")
        t.send(b"\x15")  # ^U: clear the line
        t.send(b"help @\t\t")
        t.expect(b"@string")
        t.send(b"\x15echo done\r")
        t.expect(b'"done"')
        t.expect(self.prompt, n + 3)

    def test_help_is_answered_locally(self):
        with self.srv.client() as c:
            docs = c.call("COMMAND", "DOCS", "get")
            before = skvtest.parse_info(c.call("INFO", "stats"))["stats"]
        summary = dict(zip(docs[1][::2], docs[1][1::2]))[b"summary"]
        t = self.start()
        self.command(t, b"help get\r", b"\x1b[33msummary:\x1b[0m " + summary + b"\r\r\n")
        self.assertIn(b"\x1b[1mGET\x1b[0m", t.out)
        self.assertIn(b"\x1b[33mgroup:\x1b[0m string", t.out)
        self.command(t, b"HELP @string\r", b"\x1b[1mGETRANGE\x1b[0m")
        self.command(t, b"help\r", b'"help <command>" for help on <command>')
        with self.srv.client() as c:
            after = skvtest.parse_info(c.call("INFO", "stats"))["stats"]
            stats = c.call("INFO", "commandstats").decode()
        self.assertEqual(after["total_error_replies"], before["total_error_replies"])
        self.assertNotIn("cmdstat_help", stats)
        self.assertNotIn(b"(error)", t.out)


if __name__ == "__main__":
    skvtest.main()
