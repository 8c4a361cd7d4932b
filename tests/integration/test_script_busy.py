#!/usr/bin/python3
"""Long scripts (issue 12, item 4): busy-reply-threshold (lua-time-limit),
-BUSY for other clients, SCRIPT KILL of a script that has not written and
the error its client gets, UNKILLABLE once it wrote and SHUTDOWN NOSAVE as
the way out, NOTBUSY; and a script allocating without bound stopped at
lua-memory-limit while the server keeps serving.

Replies are compared byte for byte with redis-server 7.0 where Redis is
deterministic (every error text here). Servers run on free loopback ports
and are always stopped.
"""

import time
import unittest

import skvtest

THREADS = "4"
LATE = 8  # clients connecting during a busy script
LOOP = "while true do end"
# About one second of a script, calling TIME (below busy-reply-threshold).
SECOND = ("local t = redis.call('time') local s = t[1] * 1000000 + t[2] repeat "
          "local n = redis.call('time') until n[1] * 1000000 + n[2] - s > 1000000 return 1")
BUSY = skvtest.RespError("BUSY Redis is busy running a script. You can only call "
                         "SCRIPT KILL or SHUTDOWN NOSAVE.")
WROTE = "redis.call('set', KEYS[1], '1') " + LOOP
ACROSS = "redis.call('get', KEYS[1]) redis.call('get', KEYS[2]) " + LOOP
GROW = "local t = {} while true do t[#t+1] = string.rep('x', 1000) end"
# Lua interns strings: GROW's table grows by a slot a turn; this one by 1 KB.
GROW_DISTINCT = "local t = {} while true do t[#t+1] = string.rep('x', 1000) .. #t end"


def connect(srv, n):
    """n clients, each seen by the server (PING answered) before use."""
    cs = [srv.client() for _ in range(n)]
    for c in cs:
        assert c.call("PING") == "PONG"
    return cs


def wait_busy(c, timeout=10.0):
    """Send PING until the reply is -BUSY; return that reply."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = c.call("PING")
        if isinstance(r, skvtest.RespError):
            return r
        time.sleep(0.02)
    raise AssertionError("no -BUSY within %.0f s" % timeout)


def kill_scenario(srv, body, keys):
    """A script loops; another client sees BUSY, SHUTDOWN without NOSAVE
    is refused, SCRIPT KILL stops it, its client gets the error, the
    server serves again. Returns the replies seen."""
    a, b, k = connect(srv, 3)
    seen = [k.call("CONFIG", "SET", "lua-time-limit", "100"),
            k.call("CONFIG", "GET", "busy-reply-threshold")]
    a.send("EVAL", body, str(len(keys)), *keys)
    seen.append(wait_busy(b))
    seen.append(b.call("SET", "probe", "1"))
    seen.append(k.call("SHUTDOWN"))
    # Clients that connect now, some of them to the busy worker's
    # listener, are answered too; the last one kills the script.
    late = [srv.client() for _ in range(LATE)]
    seen += [c.call("PING") for c in late]
    seen.append(late[-1].call("SCRIPT", "KILL"))
    seen.append(a.read_reply())
    seen.append(b.call("SET", "probe", "2"))
    seen.append(a.call("GET", "probe"))
    seen.append(k.call("SCRIPT", "KILL"))
    for c in [a, b, k] + late:
        c.close()
    return seen


def exec_scenario(srv):
    """MULTI while a script is busy: the queued command is refused, EXEC
    aborts the transaction (even without MULTI), the allow-busy commands of
    transactions run. Returns the replies seen."""
    a, b, k = connect(srv, 3)
    k.call("CONFIG", "SET", "busy-reply-threshold", "100")
    a.send("EVAL", LOOP, "0")
    seen = [wait_busy(b)]
    for cmd in (("MULTI",), ("INCR", "x"), ("EXEC",), ("DISCARD",), ("EXEC",),
                ("UNWATCH",), ("MULTI",), ("DISCARD",), ("SCRIPT", "KILL")):
        seen.append(b.call(*cmd))
    seen.append(a.read_reply())
    seen.append(b.call("INCR", "x"))
    for c in (a, b, k):
        c.close()
    return seen


def queued_scenario(srv):
    """Requests sent before the threshold passed, to the key of a looping
    script (so, here, to its shard's mailbox, or for clients of the busy
    worker its sockets): each gets -BUSY once the threshold has passed,
    while the script still runs, and none of them ran. Returns the replies
    seen; a reply that waits for the script's end comes too late (the
    socket's timeout) and fails the test."""
    a, k, *qs = connect(srv, 2 + LATE)
    k.call("CONFIG", "SET", "busy-reply-threshold", "1000")
    a.send("EVAL", LOOP, "1", "queued")
    time.sleep(0.2)  # the script runs; its threshold is 0.8 s away
    sent = time.monotonic()
    for i, c in enumerate(qs):
        c.send("INCR", "queued") if i % 2 else c.send("SET", "queued", "x")
    seen = []
    for c in qs:
        c.settimeout(5.0)  # the script loops until SCRIPT KILL, after these
        try:
            seen.append(c.read_reply())
        except OSError as e:  # socket.timeout: the request waited
            seen.append("no reply in time: %r" % e)
    late = time.monotonic() - sent
    seen.append(late < 4.0 or "replies took %.1f s" % late)
    seen.append(k.call("SCRIPT", "KILL"))
    seen.append(str(a.read_reply()).split(" script:")[0])
    seen.append(k.call("GET", "queued"))  # none of them ran
    k.call("CONFIG", "SET", "busy-reply-threshold", "5000")
    for c in [a, k] + qs:
        c.close()
    return seen


def own_client_scenario(srv):
    """The looping script's own client sends more commands, before and
    after the threshold: Redis reads none of them until the script ends,
    so they run after it, not refused. Keys of several shards, so that the
    script runs on the client's worker for some and on another for others.
    Returns the replies seen."""
    k = srv.client()
    k.call("CONFIG", "SET", "busy-reply-threshold", "300")
    seen = []
    for key in ("own:1", "own:2", "own:3", "own:4"):
        a = srv.client()
        assert a.call("PING") == "PONG"
        a.send("EVAL", LOOP, "1", key)
        time.sleep(0.1)
        a.send("GET", key)  # before the threshold
        time.sleep(0.4)
        a.send("SET", key, "v")  # after it
        a.send("PING")
        time.sleep(0.1)
        seen.append(k.call("SCRIPT", "KILL"))
        a.settimeout(5.0)
        seen.append(str(a.read_reply()).split(" script:")[0])
        seen += [a.read_reply() for _ in range(3)]
        seen.append(k.call("GET", key))
        a.close()
    k.call("CONFIG", "SET", "busy-reply-threshold", "5000")
    k.close()
    return seen


def unkillable_scenario(srv):
    """A script that wrote cannot be killed; SHUTDOWN NOSAVE ends the
    server. Returns the replies seen (not the script's own)."""
    a, b, k = connect(srv, 3)
    k.call("CONFIG", "SET", "busy-reply-threshold", "100")
    a.send("EVAL", WROTE, "1", "w")
    seen = [wait_busy(b), k.call("SCRIPT", "KILL")]
    k.send("SHUTDOWN", "NOSAVE")
    seen.append(k.is_closed(10.0))
    rc = srv.proc.wait(10)
    seen.append(rc)
    for c in (a, b, k):
        c.close()
    return seen


def both(fn, *args):
    """fn run against shardkv and redis-server: (ours, redis's)."""
    with skvtest.StrictShardkvServer(["--threads", THREADS]) as srv:
        ours = fn(srv, *args)
    with skvtest.RedisServer() as ref:
        theirs = fn(ref, *args)
    return ours, theirs


class ScriptBusy(unittest.TestCase):
    def test_notbusy(self):
        def run(srv):
            with srv.client() as c:
                return [c.call("SCRIPT", "KILL"), c.call("EVAL", "return 1", "0"),
                        c.call("SCRIPT", "KILL")]
        ours, theirs = both(run)
        self.assertEqual(ours, theirs)
        self.assertEqual(str(ours[0]), "NOTBUSY No scripts in execution right now.")

    def test_kill_a_loop_on_one_shard(self):
        ours, theirs = both(kill_scenario, LOOP, [])
        self.assertEqual(ours, theirs)
        self.assertEqual(str(ours[2]), "BUSY Redis is busy running a script. You can only "
                                       "call SCRIPT KILL or SHUTDOWN NOSAVE.")
        killed = str(ours[6 + LATE])
        self.assertTrue(killed.startswith("ERR Script killed by user with SCRIPT KILL..."), killed)

    def test_kill_a_loop_over_keys_of_several_shards(self):
        # Keys on different shards: the script runs on its connection's
        # thread between its commands; Redis has one shard.
        ours, theirs = both(kill_scenario, ACROSS, ["acct:0", "acct:1", "acct:2"])
        self.assertEqual(ours, theirs)

    def test_local_calls_of_a_script_across_shards_count_as_busy(self):
        # A script across shards whose calls hit its connection's own shard
        # runs them at once, never freeing the thread: the busy clock must
        # run on across those calls (not restart at each one), so other
        # clients get -BUSY and SCRIPT KILL stops it.
        with skvtest.StrictShardkvServer(["--threads", "2"]) as srv:
            a, b = connect(srv, 1)[0], None

            def shard_stats():
                info = a.call("INFO", "shards").decode()
                return {int(line[5:line.index(":")]): dict(
                    kv.split("=") for kv in line.split(":", 1)[1].split(","))
                        for line in info.splitlines() if line.startswith("shard")}

            # (Not INFO's client counts: the start-up probe's connection
            # may not be gone yet.)
            mine = [skvtest.worker_of(a, a)]
            local = remote = None
            for i in range(64):
                before = shard_stats()
                a.call("SET", "busy:%d" % i, "1")
                after = shard_stats()
                on = [s for s in after if after[s]["keys"] != before[s]["keys"]][0]
                if on == mine[0]:
                    local = local or "busy:%d" % i
                else:
                    remote = remote or "busy:%d" % i
            self.assertTrue(local and remote)
            self.assertEqual(a.call("CONFIG", "SET", "lua-time-limit", "100"), "OK")
            b = srv.client()
            a.send("EVAL", "redis.call('get', KEYS[2]) "
                   "while true do redis.call('get', KEYS[1]) end", "2", local, remote)
            self.assertTrue(str(wait_busy(b)).startswith("BUSY"))
            self.assertEqual(b.call("SCRIPT", "KILL"), "OK")
            killed = str(a.read_reply())
            self.assertTrue(killed.startswith("ERR Script killed by user"), killed)
            self.assertEqual(b.call("PING"), "PONG")
            a.close()
            b.close()

    def test_transactions_while_busy(self):
        ours, theirs = both(exec_scenario)
        self.assertEqual(ours, theirs)
        self.assertTrue(str(ours[3]).startswith("EXECABORT Transaction discarded because of: "
                                                "BUSY"), ours[3])

    def test_requests_queued_before_the_threshold_get_busy(self):
        ours, theirs = both(queued_scenario)
        self.assertEqual(ours, theirs)
        busy = skvtest.RespError("BUSY Redis is busy running a script. You can only call "
                                 "SCRIPT KILL or SHUTDOWN NOSAVE.")
        self.assertEqual(ours[:LATE], [busy] * LATE)
        self.assertEqual(ours[LATE:], [True, "OK", "ERR Script killed by user with SCRIPT KILL...",
                                       None])

    def test_requests_held_behind_a_transaction_get_busy(self):
        # A command on a key that a transaction holds waits on its shard:
        # here a script's over keys of two shards, running on its
        # connection's worker (1), holds one on shard 0 from its first
        # call on. Once the script is busy Redis answers every other
        # client -BUSY; a SET held on shard 0 waited for the script's end
        # instead. Second form: a script on another key of shard 0 starts
        # there after the SET was held, so worker 0 answers from inside
        # that script's hook.
        for second in (False, True):
            with self.subTest(second_script=second):
                for _attempt in range(3):
                    if self.held_set_gets_busy(second):
                        break
                else:
                    self.fail("the SET was never held behind the transaction")

    def held_set_gets_busy(self, second):
        """One try of the test above; False when the SET was not held."""
        with skvtest.StrictShardkvServer(["--threads", "2"]) as srv:
            admin = srv.client(decode=True)
            kx = skvtest.key_on(admin, 1, "x:")
            kw = skvtest.key_on(admin, 0, "w:")
            k0 = skvtest.key_on(admin, 0, "own:")
            self.assertEqual(admin.call("CONFIG", "SET", "busy-reply-threshold", "2000"), "OK")
            c = skvtest.client_on(srv, admin, 1)
            b = skvtest.client_on(srv, admin, 0)
            a = skvtest.client_on(srv, admin, 0)
            c.send("EVAL", ACROSS, "2", kx, kw)
            time.sleep(0.2)  # its transaction holds kw on shard 0
            b.send("SET", kw, "1")
            b.settimeout(0.2)
            try:
                early = b.read_reply()
            except TimeoutError:
                early = "held"
            if early != "held":
                admin.call("SCRIPT", "KILL")
                return False
            if second:
                a.send("EVAL", LOOP, "1", k0)
            b.settimeout(10.0)
            self.assertEqual(b.read_reply(), BUSY)
            self.assertEqual(admin.call("SCRIPT", "KILL"), "OK")
            killed = str(c.read_reply())
            self.assertTrue(killed.startswith("ERR Script killed by user"), killed)
            if second:
                killed = str(a.read_reply())
                self.assertTrue(killed.startswith("ERR Script killed by user"), killed)
            self.assertEqual(b.call("PING"), "PONG")
            return True

    def test_replies_coming_back_during_a_busy_script_are_written(self):
        # Client b of worker 0 has a GET out on shard 1 (waiting there
        # behind a 1-second script of another client) when a script starts
        # on worker 0. The GET's reply comes back while that script runs:
        # it must reach b, and so must the -BUSY of b's next command,
        # which is queued behind it. Both waited for the script's end.
        with skvtest.StrictShardkvServer(["--threads", "2"]) as srv:
            admin = srv.client(decode=True)
            kx = skvtest.key_on(admin, 1, "x:")
            self.assertEqual(admin.call("SET", kx, "v"), "OK")
            self.assertEqual(admin.call("CONFIG", "SET", "busy-reply-threshold", "2500"), "OK")
            c = skvtest.client_on(srv, admin, 1)
            b = skvtest.client_on(srv, admin, 0)
            a = skvtest.client_on(srv, admin, 0)
            c.send("EVAL", SECOND, "0")
            time.sleep(0.2)
            b.send("GET", kx)  # waits in shard 1's mailbox,
            time.sleep(0.2)  # once worker 0's turn ended
            a.send("EVAL", LOOP, "0")  # runs on worker 0
            b.settimeout(10.0)
            self.assertEqual(b.read_reply(), "v")
            self.assertEqual(c.read_reply(), 1)
            self.assertEqual(b.call("PING"), BUSY)
            self.assertEqual(admin.call("SCRIPT", "KILL"), "OK")
            killed = str(a.read_reply())
            self.assertTrue(killed.startswith("ERR Script killed by user"), killed)
            self.assertEqual(b.call("PING"), "PONG")

    def test_the_scripts_own_client_waits(self):
        ours, theirs = both(own_client_scenario)
        self.assertEqual(ours, theirs)
        self.assertEqual(ours[:6], ["OK", "ERR Script killed by user with SCRIPT KILL...", None,
                                    "OK", "PONG", b"v"])

    def test_unkillable_then_shutdown_nosave(self):
        ours, theirs = both(unkillable_scenario)
        self.assertEqual(ours, theirs)
        self.assertTrue(str(ours[1]).startswith("UNKILLABLE Sorry the script already executed"))
        self.assertEqual(ours[3], 0)

    def test_script_allocating_without_bound(self):
        with skvtest.StrictShardkvServer(["--threads", THREADS,
                                          "--lua-memory-limit", "8mb"]) as srv:
            with srv.client() as c:
                for body in (GROW, GROW_DISTINCT):
                    r = c.call("EVAL", body, "0")
                    self.assertIsInstance(r, skvtest.RespError)
                    self.assertIn("not enough memory", str(r))
                info = c.call("INFO", "memory").decode()
                used = int(info.split("used_memory_lua:")[1].split("\r\n")[0])
                self.assertGreater(used, 0)
                self.assertLess(used, 16 << 20, "Lua kept what the script allocated")
                self.assertIn("number_of_cached_scripts:2\r\n", info)
                self.assertEqual(c.call("EVAL", "return #string.rep('y', 1000)", "0"), 1000)
                self.assertEqual(c.call("CONFIG", "GET", "lua-memory-limit"),
                                 [b"lua-memory-limit", b"8388608"])
                self.assertEqual(c.call("PING"), "PONG")


if __name__ == "__main__":
    skvtest.main()
