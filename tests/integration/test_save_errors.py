#!/usr/bin/python3
"""test_save_errors.py — what the server does when it cannot save, and the
checks of its data directory, compared with redis-server 7.0 where Redis
behaves the same:

* a background save that hits a full disk (a 1 MB tmpfs: permissions do
  not stop root, a full file system does) turns rdb_last_bgsave_status to
  err (a failed SAVE only answers -ERR); writes and PING then get Redis's
  exact -MISCONF reply while reads work, MULTI and EXEC abort as Redis's
  do, scripts are refused as Redis refuses them (a script with flags and
  without no-writes before it runs, a legacy script's first write), CONFIG
  SET save "" and stop-writes-on-bgsave-error no lift it, and a
  successful save clears it; the log names the cause ("No space left on
  device");
* start-up with a missing dir, a dir that is a file, or a read-only one
  exits 1 with the reason in the log; CONFIG SET dir to a missing path or
  a file is refused with Redis's text and changes nothing;
* temp files a killed server left in dir (kill -9 during BGSAVE) are
  removed at start-up, and nothing else is: not the dump (which loads), not a live process's temp
  file, not a locked one, not Redis's temp-<pid>.rdb, not a symlink.

Needs root for mount(8) (CI runs the tests as root); without it the tmpfs
tests are skipped, which skvtest counts as failed.
"""

import contextlib
import fcntl
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
        # Scripts: one that declares flags without no-writes is a write
        # command, refused before it runs; a legacy one runs, and its first
        # write fails (unless it wrote already).
        rec("EVAL", "return redis.call('set', KEYS[1], 'e')", "1", "a")
        rec("EVAL", "return redis.pcall('incr', KEYS[1])", "1", "n")
        rec("EVAL", "return redis.call('get', KEYS[1])", "1", "a")
        rec("EVAL", "#!lua\nreturn redis.call('get', KEYS[1])", "1", "a")
        rec("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "a")
        rec("EVAL", "#!lua flags=allow-oom\nreturn 1", "0")
        # Refused while queueing: EXEC then aborts.
        rec("MULTI")
        rec("SET", "x", "1")
        rec("GET", "x")
        rec("EXEC")
        rec("MULTI")
        rec("PING")
        rec("EXEC")
        # A script whose flags make it a write is refused as it is queued;
        # a no-writes or legacy one is queued.
        rec("MULTI")
        rec("EVAL", "#!lua flags=no-writes\nreturn 1", "0")
        rec("EVAL", "return 2", "0")
        rec("EXEC")
        rec("MULTI")
        rec("EVAL", "#!lua\nreturn 3", "0", label="EVAL flagged in MULTI")
        rec("EXEC")
        # Queued before the refusal starts: EXEC says why it aborts.
        rec("CONFIG", "SET", "stop-writes-on-bgsave-error", "no", cl=other)
        rec("SET", "a", "1")
        rec("MULTI")
        rec("SET", "x", "1")
        rec("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes", cl=other)
        rec("EXEC")
        rec("CONFIG", "SET", "stop-writes-on-bgsave-error", "no", cl=other)
        rec("MULTI")
        rec("EVAL", "#!lua\nreturn 4", "0")
        rec("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes", cl=other)
        rec("EXEC", label="EXEC of a flagged script")
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
        self.assertEqual(replies["EVAL flagged in MULTI"], misconf)
        self.assertTrue(str(replies["EXEC of a flagged script"]).startswith(
            "EXECABORT Transaction discarded because of: MISCONF"))
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


class DataDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="skv-dir-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_fails(self, dir_arg, why):
        rc, out, err = skvtest.run_server(["--port", str(skvtest.free_port()),
                                           "--bind", "127.0.0.1", "--dir", dir_arg])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("Can't", err)
        self.assertIn("'%s': %s" % (dir_arg, why), err)
        if skvtest.have_redis_server():
            rrc, rout, rerr = skvtest.run_server(
                ["--port", str(skvtest.free_port()), "--bind", "127.0.0.1", "--dir", dir_arg],
                binary=skvtest.RedisServer.binary)
            self.assertEqual(rrc, 1, rout + rerr)  # (its text says the same otherwise)
            self.assertIn(why, rout + rerr)

    def test_startup_missing_dir_exits_1(self):
        self.start_fails(os.path.join(self.dir, "missing"), "No such file or directory")

    def test_startup_dir_that_is_a_file_exits_1(self):
        path = os.path.join(self.dir, "file")
        open(path, "w").close()
        self.start_fails(path, "Not a directory")

    def test_startup_read_only_dir_exits_1(self):
        # Redis would start and fail at its first save; we refuse at once.
        with tmpfs("size=1m,ro") as ro:
            rc, out, err = skvtest.run_server(["--port", str(skvtest.free_port()),
                                               "--bind", "127.0.0.1", "--dir", ro])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("'%s' (dir): Read-only file system" % ro, err)

    def test_config_set_dir_checked_like_redis(self):
        missing = os.path.join(self.dir, "missing")
        afile = os.path.join(self.dir, "file")
        open(afile, "w").close()
        cmds = [("CONFIG", "SET", "dir", missing), ("CONFIG", "SET", "dir", afile),
                ("CONFIG", "SET", "dir", self.dir), ("CONFIG", "GET", "dir"),
                ("CONFIG", "SET", "dir", missing), ("CONFIG", "GET", "dir")]
        with skvtest.ShardkvServer(our_protected_configs_args()) as srv, srv.client() as c:
            ours = [c.call(*a) for a in cmds]
        self.assertEqual(str(ours[0]), "ERR CONFIG SET failed (possibly related to argument "
                         "'dir') - No such file or directory")
        self.assertEqual(ours[5], [b"dir", self.dir.encode()])
        if not skvtest.have_redis_server():
            self.skipTest("no redis-server to compare with")
        with skvtest.RedisServer(["--enable-protected-configs", "yes"]) as ref, \
                ref.client() as c:
            self.assertEqual(ours, [c.call(*a) for a in cmds])


class TempFileCleanupTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="skv-temp-")
        self.outside = tempfile.mkdtemp(prefix="skv-outside-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.outside, ignore_errors=True)

    def put(self, name, size=1000):
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(b"x" * size)

    def test_stale_temp_files_removed_at_startup(self):
        with skvtest.ShardkvServer(["--dir", self.dir]) as srv, srv.client() as c:
            self.assertEqual(c.call("SET", "k", "v"), "OK")
            self.assertEqual(c.call("SAVE"), "OK")
        p = subprocess.Popen(["true"])
        p.wait()
        dead = p.pid  # a pid no process has now
        self.put("temp-%d-1.rdb" % dead, 100000)      # killed save: removed
        self.put("temp-%d-7.rdb" % dead)              # removed too
        self.put("temp-%d-2.rdb" % dead)              # locked below: kept
        self.put("temp-%d-1.rdb" % os.getpid())       # a live process's: kept
        self.put("temp-%d.rdb" % dead)                # Redis's pattern: not ours
        self.put("temp-%d-1.rdb.bak" % dead)          # not the pattern
        self.put("notes.txt")
        os.mkdir(os.path.join(self.dir, "temp-%d-3.rdb" % dead))  # not a file
        target = os.path.join(self.outside, "precious")
        with open(target, "w") as f:
            f.write("keep")
        os.symlink(target, os.path.join(self.dir, "temp-%d-4.rdb" % dead))
        removed = {"temp-%d-1.rdb" % dead, "temp-%d-7.rdb" % dead}
        before = set(os.listdir(self.dir))

        lock = open(os.path.join(self.dir, "temp-%d-2.rdb" % dead), "rb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with skvtest.ShardkvServer(["--dir", self.dir]) as srv, srv.client() as c:
                self.assertEqual(c.call("GET", "k"), b"v")
                log = srv.log()
                self.assertEqual(set(os.listdir(self.dir)), before - removed)
        finally:
            lock.close()
        for name in removed:
            self.assertIn("Removed %s/%s" % (self.dir, name), log)
        self.assertEqual(log.count("Removed "), 2, log)
        with open(target) as f:
            self.assertEqual(f.read(), "keep")

    def test_kill9_during_bgsave_leaves_nothing_after_restart(self):
        value = b"v" * 500
        with skvtest.ShardkvServer(["--dir", self.dir, "--threads", "2"]) as srv:
            with srv.client() as c:
                for i in range(0, 100000, 1000):
                    replies = c.pipeline([("SET", "k%d" % j, value)
                                          for j in range(i, i + 1000)])
                    self.assertEqual(set(replies), {"OK"})
                self.assertEqual(c.call("SAVE"), "OK")
                self.assertEqual(c.call("SET", "after", "save"), "OK")
                # 50 MB to write: the temp file exists when BGSAVE answers
                # and for a while after.
                self.assertEqual(c.call("BGSAVE"), "Background saving started")
                srv.signal(9)
            srv.wait(10)
            left = [n for n in os.listdir(self.dir) if n.startswith("temp-")]
        self.assertEqual(len(left), 1, "the save finished before kill -9: %s" % left)
        with skvtest.ShardkvServer(["--dir", self.dir, "--threads", "2"]) as srv:
            with srv.client() as c:
                self.assertEqual(c.call("DBSIZE"), 100000)  # as of the SAVE
                self.assertIsNone(c.call("GET", "after"))
            self.assertIn("Removed %s/%s" % (self.dir, left[0]), srv.log())
        self.assertEqual(os.listdir(self.dir), ["dump.rdb"])


if __name__ == "__main__":
    skvtest.main()
