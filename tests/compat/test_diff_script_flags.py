#!/usr/bin/python3
"""Differential test of what script and function flags do, against a real
redis-server 7.0, byte for byte, errors included: EVAL/EVALSHA scripts
with a "#!lua flags=..." shebang (or a bare "#!lua") and legacy scripts
without one, FCALL/FCALL_RO of functions registered with flags.

* Over maxmemory (CONFIG SET maxmemory 1 on both servers, noeviction): a
  script that declares flags without allow-oom or no-writes is refused with
  -OOM before it runs, before its numkeys is read, before a *_ro refusal
  and before its body compiles; allow-oom lets its writes run; no-writes
  scripts run. A legacy script runs, and its first deny-oom command gets
  the -OOM error unless it already wrote (Redis's scriptVerifyOOM).
  allow-stale, no-cluster and allow-cross-slot-keys change nothing outside
  a replica or a cluster. Inside EXEC (queued before the bound was set by
  another client), a stored script without allow-oom gets Redis's
  "allow-oom flag is not set" refusal.
* Inside MULTI over maxmemory, every command but EXEC, DISCARD, QUIT and
  RESET is refused with -OOM and EXEC then aborts, as Redis does.
* Within the bound: no-writes refuses writes, *_RO refuses a script that
  lacks it (also covered by test_diff_script.py and test_diff_function.py).

shardkv runs with --threads 2; keys are set on both shards first, so the
bound is exceeded wherever a script runs, and some scripts' keys span the
two shards (run as cross-shard transactions). CONFIG SET goes in a round
trip of its own: shardkv runs it at once, not after the commands before
it in a pipeline.
Run: /usr/bin/python3 test_diff_script_flags.py with SHARDKV_BIN set.
"""

import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import skvtest  # noqa: E402
import skvdiff  # noqa: E402
from skvdiff import RawConn  # noqa: E402
from test_diff_script import cross_pair  # noqa: E402

# Keys on both shards, so that each shard holds data over the bound.
FILL = ["MSET"] + [x for i in range(32) for x in ("flagfill%d" % i, "v")]

LIBRARY = (
    "#!lua name=flaglib\n"
    "redis.register_function('w', function(k, a) return redis.call('set', k[1], 'w') end)\n"
    "redis.register_function{function_name='ro', callback=function(k, a) "
    "return redis.call('get', k[1]) end, flags={'no-writes'}}\n"
    "redis.register_function{function_name='rw', callback=function(k, a) "
    "return redis.call('set', k[1], 'x') end, flags={'no-writes'}}\n"
    "redis.register_function{function_name='oom', callback=function(k, a) "
    "return redis.call('incr', k[1]) end, flags={'allow-oom'}}\n"
    "redis.register_function{function_name='oomro', callback=function(k, a) "
    "return redis.call('set', k[1], 'o') end, flags={'allow-oom', 'no-writes'}}\n"
    "redis.register_function{function_name='other', callback=function(k, a) "
    "return redis.call('set', k[1], 's') end, "
    "flags={'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}}\n"
    "redis.register_function{function_name='pair', callback=function(k, a) "
    "redis.call('expire', k[1], 100); return redis.call('append', k[2], 'p') end}\n")

SHEBANG = "cb70127618f0b0be70c53cf6bfcfa54a29d9b0c0"   # "#!lua\nreturn 1"
LEGACY_SET = "3c5f36d9dceb6de57e5dc7e0862451b444f1fa91"  # "return redis.call('set',KEYS[1],'L')"


def ev(body, *keys):
    return ["EVAL", body, str(len(keys))] + list(keys)


def oom_cases(nw_sha):
    """Cases run while the server is over maxmemory; each case one round
    trip; {k} holds "1" (set before the bound), {k2} does not exist."""
    cases = []
    add = cases.append
    # Shebang scripts without allow-oom or no-writes: refused before they
    # run, whatever follows (numkeys, the body, the _RO form).
    for body in ("#!lua\nreturn 1", "#!lua\nreturn redis.call('get', KEYS[1])",
                 "#!lua flags=allow-stale\nreturn 1", "#!lua flags=no-cluster\nreturn 1",
                 "#!lua flags=allow-cross-slot-keys\nreturn 1",
                 "#!lua flags=allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1",
                 "#!lua\nsyntax error"):
        add([ev(body, "{k}")])
        add([["EVAL_RO", body, "1", "{k}"]])
        add([["EVAL", body, "-1"]])
        add([["EVAL", body, "x"]])
    add([["EVALSHA", SHEBANG, "0"]])
    add([["EVALSHA", SHEBANG.upper(), "0"]])
    add([["EVALSHA_RO", SHEBANG, "0"]])
    add([["EVALSHA", SHEBANG, "-1"]])
    add([["EVALSHA", SHEBANG[:39], "0"]])
    # A bad shebang is the command's own error; no-writes and allow-oom run.
    add([ev("#!lua flags=bogus\nreturn 1")])
    add([ev("#!lua flags=no-writes\nsyntax error")])
    add([ev("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "{k}")])
    add([["EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "{k}"]])
    add([ev("#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'n')", "{k}")])
    add([ev("#!lua flags=allow-oom,no-writes\nreturn redis.call('set', KEYS[1], 'n')", "{k}")])
    add([["EVALSHA", nw_sha, "1", "{k}"]])
    add([["EVALSHA_RO", nw_sha, "1", "{k}"]])
    add([ev("#!lua flags=allow-oom\nreturn redis.call('incr', KEYS[1])", "{k}"),
         ev("#!lua flags=allow-oom\nreturn redis.call('append', KEYS[1], 'z')", "{k}"),
         ev("#!lua flags=allow-oom\nreturn redis.call('lpush', KEYS[1], 'z')", "{k2}"),
         ["GET", "{k}"], ["LRANGE", "{k2}", "0", "-1"]])
    add([["EVAL_RO", "#!lua flags=allow-oom\nreturn 1", "0"]])
    add([ev("#!lua flags=allow-oom\nreturn redis.pcall('set', KEYS[1], 'q')", "{k}"), ["GET", "{k}"]])
    # Legacy scripts: the first deny-oom command fails, unless the script
    # already wrote; reads and other writes run.
    add([ev("return redis.call('set', KEYS[1], 'L')", "{k}")])
    add([ev("return redis.pcall('set', KEYS[1], 'L')", "{k}")])
    add([ev("local e = redis.pcall('set', KEYS[1], 'L'); return {e['err'], "
            "redis.call('get', KEYS[1])}", "{k}")])
    add([ev("redis.call('get', KEYS[1]); return redis.call('incr', KEYS[1])", "{k}")])
    add([ev("redis.call('lpush', KEYS[1], 'x')", "{k2}"), ["EXISTS", "{k2}"]])
    add([ev("return redis.call('expire', KEYS[1], 100)", "{k}")])
    add([ev("redis.call('expire', KEYS[1], 100); return redis.call('append', KEYS[1], 'y')",
            "{k}"), ["GET", "{k}"]])
    add([ev("redis.call('del', KEYS[2]); return redis.call('set', KEYS[1], 'D')", "{k}", "{k2}"),
         ["GET", "{k}"]])
    add([ev("redis.pcall('incr', KEYS[2]); return redis.call('set', KEYS[1], 'E')", "{k}",
            "{k2}")])
    add([["EVALSHA", LEGACY_SET, "1", "{k}"]])
    add([["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "{k}"]])
    add([["EVAL_RO", "return redis.call('set', KEYS[1], 'r')", "1", "{k}"]])
    # Functions: their flags as a shebang's.
    for fn in ("w", "ro", "rw", "oom", "oomro", "other", "nosuch"):
        add([["FCALL", fn, "1", "{k}"]])
        add([["FCALL_RO", fn, "1", "{k}"]])
        add([["FCALL", fn, "-1"]])
    add([["FCALL", "pair", "2", "{k}", "{k}"], ["GET", "{k}"]])
    return cases


class ScriptFlagsDiff(skvdiff.DiffTest):
    SKV_ARGS = ("--threads", "2")

    def setUp(self):
        setup = [["FUNCTION", "FLUSH"], ["SCRIPT", "FLUSH"], FILL,
                 ["FUNCTION", "LOAD", LIBRARY], ["SCRIPT", "LOAD", "#!lua\nreturn 1"],
                 ["SCRIPT", "LOAD", "return redis.call('set',KEYS[1],'L')"]]
        for conn in (self.rc, self.sc):
            got = conn.run(setup)
            self.assertEqual(got[3], b"$7\r\nflaglib\r\n", got)
            self.assertEqual(got[4], b"$40\r\n" + SHEBANG.encode() + b"\r\n")
            self.assertEqual(got[5], b"$40\r\n" + LEGACY_SET.encode() + b"\r\n")
        self.nw_sha = self.load_both("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])")

    def tearDown(self):
        for conn in (self.rc, self.sc):
            conn.run([["CONFIG", "SET", "maxmemory", "0"]])

    def load_both(self, body):
        want = self.rc.run([["SCRIPT", "LOAD", body]])[0]
        self.assertEqual(self.sc.run([["SCRIPT", "LOAD", body]])[0], want)
        return want.split(b"\r\n")[1].decode()

    def over_bound(self, cases, label, seed=()):
        """Run seed (prefixed like the cases' keys, set before the bound),
        then set maxmemory 1 on both servers, then compare each case with
        its keys given the same prefix as the seed's."""
        mm = [["CONFIG", "SET", "maxmemory", "1"]]
        total = 0
        for case in cases:
            cmds = self.expand(list(seed) + case)
            head, body = cmds[:len(seed)], cmds[len(seed):]
            for conn in (self.rc, self.sc):
                if head:
                    conn.run(head)
                self.assertEqual(conn.run(mm), [b"+OK\r\n"])
            want = self.rc.run(body)
            got = self.sc.run(body)
            for conn in (self.rc, self.sc):
                conn.run([["CONFIG", "SET", "maxmemory", "0"]])
            diffs = [(c, w, g) for c, w, g in zip(body, want, got) if w != g]
            if diffs:
                self.fail("%s: differs:\n%s" % (label, "\n".join(
                    "  %r\n    redis:   %r\n    shardkv: %r" % d for d in diffs)))
            total += len(body)
        self.assertGreater(total, 0)

    def test_over_maxmemory(self):
        self.over_bound(oom_cases(self.nw_sha), "over maxmemory", seed=[["SET", "{k}", "1"]])

    def test_over_maxmemory_across_shards(self):
        with self.skv.client() as c:
            pair = cross_pair(c)
        self.assertIsNotNone(pair, "no two keys on different shards")
        cases = [
            [ev("redis.call('del', KEYS[2]); return redis.call('set', KEYS[1], 'D')", *pair),
             ["GET", pair[0]]],
            [ev("redis.call('get', KEYS[2]); return redis.call('set', KEYS[1], 'D')", *pair)],
            [ev("return redis.call('set', KEYS[1], 'D')", *pair)],
            [ev("#!lua\nreturn redis.call('get', KEYS[1])", *pair)],
            [ev("#!lua flags=allow-oom\nredis.call('incr', KEYS[1]); "
                "return redis.call('append', KEYS[2], 'o')", *pair), ["MGET"] + pair],
            [ev("#!lua flags=no-writes\nreturn redis.call('mget', KEYS[1])", *pair)],
            [["FCALL", "oom", "2"] + pair],
            [["FCALL", "w", "2"] + pair],
            [["FCALL", "pair", "2"] + pair, ["MGET"] + pair],
        ]
        seed = [["SET", pair[0], "5"], ["SET", pair[1], "6"]]
        self.over_bound(cases, "over maxmemory, keys on two shards", seed=seed)

    def test_multi_over_maxmemory(self):
        # Not about scripts: Redis refuses every command of a MULTI block
        # over maxmemory (queueing grows memory) but EXEC, DISCARD, QUIT
        # and RESET, and the block then ends in EXECABORT.
        cases = [
            [["MULTI"], ["SET", "{k}", "x"], ["GET", "{k}"], ["EXEC"], ["GET", "{k}"]],
            [["MULTI"], ["PING"], ["MULTI"], ["WATCH", "{k}"], ["UNWATCH"], ["DISCARD"]],
            [["MULTI"], ["EVAL", "#!lua flags=no-writes\nreturn 1", "0"], ["EXEC"]],
            [["MULTI"], ["RESET"], ["GET", "{k}"]],
        ]
        self.over_bound(cases, "MULTI over maxmemory", seed=[["SET", "{k}", "1"]])

    def test_exec_queued_before_the_bound(self):
        # Queued within the bound; another client sets maxmemory; EXEC runs
        # (nothing queued was deny-oom then: the SHA1 was not stored yet),
        # and the script itself refuses.
        allow = "#!lua flags=allow-oom\nreturn 9"
        queue = self.expand([
            ["MULTI"], ["SCRIPT", "LOAD", "#!lua\nreturn 1"], ["SCRIPT", "LOAD", allow],
            ["EVALSHA", SHEBANG, "0"], ["EVALSHA_RO", SHEBANG, "0"],
            ["EVALSHA", hashlib.sha1(allow.encode()).hexdigest(), "0"],
            ["EVAL", "return redis.call('set', KEYS[1], 'm')", "1", "{k}"],
            ["EVAL", "return redis.call('get', KEYS[1])", "1", "{k}"],
            ["EVAL", "#!lua flags=no-writes\nreturn 2", "0"]])
        replies = []
        for conn, port in ((self.rc, self.redis.port), (self.sc, self.skv.port)):
            self.assertEqual(conn.run([["SCRIPT", "FLUSH"], ["SET", queue[-2][3], "1"]]),
                             [b"+OK\r\n"] * 2)
            self.assertTrue(all(r in (b"+OK\r\n", b"+QUEUED\r\n") for r in conn.run(queue)))
            other = RawConn(port)
            try:
                self.assertEqual(other.run([["CONFIG", "SET", "maxmemory", "1"]]), [b"+OK\r\n"])
            finally:
                other.close()
            replies.append(conn.run([["EXEC"]])[0])
            conn.run([["CONFIG", "SET", "maxmemory", "0"]])
        self.assertIn(b"allow-oom flag is not set", replies[0])
        self.assertEqual(replies[0], replies[1])

    def test_flags_within_the_bound(self):
        cases = [
            [ev("#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 1)", "{k}")],
            [["EVAL_RO", "#!lua\nreturn 1", "0"]],
            [["EVAL_RO", "#!lua flags=allow-oom\nreturn 1", "0"]],
            [["EVAL_RO", "#!lua flags=allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1", "0"]],
            [["EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"]],
            [["EVAL_RO", "return 1", "0"]],
            [ev("#!lua flags=allow-oom\nreturn redis.call('set', KEYS[1], 1)", "{k}")],
            [ev("#!lua flags=allow-stale,no-cluster,allow-cross-slot-keys\n"
                "return redis.call('set', KEYS[1], 1)", "{k}")],
            [["FCALL", "rw", "1", "{k}"]], [["FCALL_RO", "w", "1", "{k}"]],
            [["FCALL_RO", "oom", "1", "{k}"]], [["FCALL_RO", "ro", "1", "{k}"]],
            [["FCALL", "oom", "1", "{k}"]], [["FCALL", "other", "1", "{k}"], ["GET", "{k}"]],
        ]
        self.compare(cases, "flags within the bound")


if __name__ == "__main__":
    skvtest.main()
