#!/usr/bin/python3
"""test_save_errors.py — what the server does when it cannot save,
compared with redis-server 7.0:

* a background save that hits a full disk (a 1 MB tmpfs: permissions do
  not stop root, a full file system does) turns rdb_last_bgsave_status to
  err (a failed SAVE only answers -ERR); writes and PING then get Redis's
  exact -MISCONF reply while reads work, MULTI and EXEC abort as Redis's
  do, CONFIG SET save "" and stop-writes-on-bgsave-error no lift it, and a
  successful save clears it;
  the log names the cause ("No space left on device").

Needs root for mount(8) (CI runs the tests as root); without it the tmpfs
tests are skipped, which skvtest counts as failed.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import skvtest

# Bigger than the tmpfs, and random so that Redis's LZF cannot shrink it.
BIG = 1500000


@contextlib.contextmanager
def tmpfs(options="size=1m"):
    """A fresh tmpfs mounted on a new directory; always unmounted."""
    d = tempfile.mkdtemp(prefix="skvtest-tmpfs-")
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", d],
                           capture_output=True)
        if r.returncode != 0:
            raise unittest.SkipTest("cannot mount a tmpfs (needs root): %s"
                                    % r.stderr.decode(errors="replace").strip())
        try:
            yield d
        finally:
            if subprocess.run(["umount", d], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", d], capture_output=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def our_protected_configs_args():
    """--enable-protected-configs yes once our server has that option (as
    Redis, it would then refuse CONFIG SET dir by default)."""
    rc, out, _ = skvtest.run_server(["--help"])
    return ["--enable-protected-configs", "yes"] if "enable-protected-configs" in out else []


def persistence(c):
    return skvtest.parse_info(c.call("INFO", "persistence"))["persistence"]


def wait_bgsave_done(c, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = persistence(c)
        if p["rdb_bgsave_in_progress"] == "0":
            return p
        time.sleep(0.02)
    raise AssertionError("BGSAVE still running after %d s" % timeout)


def misconf_transcript(srv, full_dir):
    """Fill a save into full_dir, then record what every command of
    interest answers; returns [(command, reply)]."""
    out = []
    with srv.client() as c, srv.client() as other:
        def rec(*args, cl=c, label=None):
            out.append((label or " ".join(str(a) for a in args), cl.call(*args)))

        rec("CONFIG", "SET", "save", "3600 1")
        rec("CONFIG", "SET", "dir", full_dir, label="CONFIG SET dir <full>")
        out.append(("SET big", c.call("SET", "big", os.urandom(BIG))))
        # A failed SAVE is only answered with an error, as in Redis.
        rec("SAVE")
        out.append(("status", persistence(c)["rdb_last_bgsave_status"]))
        rec("SET", "a", "0")
        rec("BGSAVE")
        out.append(("status", wait_bgsave_done(c)["rdb_last_bgsave_status"]))
        rec("SET", "a", "b")
        rec("DEL", "big")
        rec("INCR", "n")
        rec("FLUSHALL")
        rec("PING")
        rec("PING", "hi")
        rec("ECHO", "x")
        rec("EXISTS", "big")
        rec("GET", "a")
        rec("DBSIZE")
        # Refused while queueing: EXEC then aborts.
        rec("MULTI")
        rec("SET", "x", "1")
        rec("GET", "x")
        rec("EXEC")
        rec("MULTI")
        rec("PING")
        rec("EXEC")
        # Queued before the refusal starts: EXEC says why it aborts.
        rec("CONFIG", "SET", "stop-writes-on-bgsave-error", "no", cl=other)
        rec("SET", "a", "1")
        rec("MULTI")
        rec("SET", "x", "1")
        rec("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes", cl=other)
        rec("EXEC")
        # Only while save points are configured.
        rec("CONFIG", "SET", "save", "")
        rec("SET", "a", "2")
        rec("CONFIG", "SET", "save", "3600 1")
        rec("SET", "a", "3")
        # A save that works clears it.
        rec("CONFIG", "SET", "dir", srv.tmpdir, label="CONFIG SET dir <roomy>")
        rec("BGSAVE")
        out.append(("status", wait_bgsave_done(c)["rdb_last_bgsave_status"]))
        rec("SET", "a", "4")
        rec("PING")
        rec("GET", "a")
        out.append(("errorstat_MISCONF",
                    skvtest.parse_info(c.call("INFO", "errorstats"))["errorstats"]
                    .get("errorstat_MISCONF")))
    return out


class SaveErrorTest(unittest.TestCase):
    def test_failed_bgsave_refuses_writes_like_redis(self):
        with tmpfs() as full:
            with skvtest.ShardkvServer(["--threads", "2"] + our_protected_configs_args()) as srv:
                ours = misconf_transcript(srv, full)
                log = srv.log()
        replies = dict(ours)  # (the last reply of a command given twice)
        misconf = skvtest.RespError(
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
            "persist to disk. Commands that may modify the data set are disabled, because this "
            "instance is configured to report errors during writes if RDB snapshotting fails "
            "(stop-writes-on-bgsave-error option). Please check the Redis logs for details "
            "about the RDB error.")
        self.assertEqual([r for k, r in ours if k == "status"], ["ok", "err", "ok"])
        self.assertEqual(replies["SET a b"], misconf)
        self.assertEqual(replies["GET a"], b"4")
        self.assertEqual(replies["PING"], "PONG")
        self.assertIn(("PING", misconf), ours)
        self.assertIn("No space left on device", log)
        self.assertNotIn("Input/output error", log)

        if not skvtest.have_redis_server():
            self.skipTest("no redis-server to compare with")
        with tmpfs() as full:
            with skvtest.RedisServer(["--enable-protected-configs", "yes"]) as ref:
                theirs = misconf_transcript(ref, full)
                ref_log = ref.log()
        self.assertIn("No space left on device", ref_log)
        self.assertEqual(ours, theirs)

    def test_stop_writes_option_like_redis(self):
        cmds = [("CONFIG", "GET", "stop-writes-on-bgsave-error"),
                ("CONFIG", "SET", "stop-writes-on-bgsave-error", "NO"),
                ("CONFIG", "GET", "stop-writes-on-bgsave-error"),
                ("CONFIG", "SET", "stop-writes-on-bgsave-error", "maybe"),
                ("CONFIG", "SET", "stop-writes-on-bgsave-error", ""),
                ("CONFIG", "GET", "stop-writes-on-bgsave-error")]
        with skvtest.ShardkvServer() as srv, srv.client() as c:
            ours = [c.call(*a) for a in cmds]
        self.assertEqual(ours[0], [b"stop-writes-on-bgsave-error", b"yes"])
        if not skvtest.have_redis_server():
            self.skipTest("no redis-server to compare with")
        with skvtest.RedisServer() as ref, ref.client() as c:
            self.assertEqual(ours, [c.call(*a) for a in cmds])


if __name__ == "__main__":
    skvtest.main()
