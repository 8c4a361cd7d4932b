#!/usr/bin/python3
"""Differential test of SORT and SORT_RO against a real redis-server 7.0:
every option combination (BY pattern / nosort / hash field, LIMIT,
GET # / key / hash field / constant, ASC/DESC, ALPHA, STORE) on lists,
sets and sorted sets, numeric and ALPHA, patterns on missing keys, LIMIT
edge cases, errors, WRONGTYPE, COMMAND INFO and COMMAND GETKEYS, with
shardkv on 1, 2 and 4 threads so the source, the pattern keys and the
STORE destination fall on different shards.

Replies are compared byte for byte, except where Redis promises no order:
a set sorted with BY nosort and no STORE comes back in the set's own
order, so that reply is compared as a sorted list. Ties that Redis leaves
to its sort routine (ALPHA with a BY whose keys are all missing, on a set
or sorted set, or with LIMIT) are not generated.
Run: /usr/bin/python3 test_diff_sort.py with SHARDKV_BIN set.
"""

import os
import random
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvdiff import RawConn, b  # noqa: E402
import skvdiff  # noqa: E402

NUMS = ["3", "-1", "10", "2.5", "7", "3", "0", "-20", "1e3", "42"]
WORDS = ["pear", "apple", "fig", "kiwi", "date", "lime", "plum", "apple", "cherry", "grape"]


def parse(raw, pos=0):
    """One RESP reply at pos: (value, next). Aggregates are (type, items)."""
    end = raw.index(b"\r\n", pos)
    t = raw[pos:pos + 1]
    nxt = end + 2
    if t == b"$":
        n = int(raw[pos + 1:end])
        if n < 0:
            return raw[pos:nxt], nxt
        return raw[pos:nxt + n + 2], nxt + n + 2
    if t == b"*":
        n = int(raw[pos + 1:end])
        items = []
        for _ in range(max(n, 0)):
            v, nxt = parse(raw, nxt)
            items.append(v)
        return (t, items), nxt
    return raw[pos:nxt], nxt


def canon_sorted(raw):
    v, _ = parse(raw)
    if isinstance(v, tuple):
        return (v[0], sorted(v[1], key=repr))
    return v


def setup_data():
    """Commands that build the sources and every pattern key."""
    cmds = []
    cmds.append(["RPUSH", "{p}ln"] + NUMS)
    cmds.append(["SADD", "{p}sn"] + NUMS)
    cmds.append(["ZADD", "{p}zn"] + sum([[str(i % 4), v] for i, v in enumerate(NUMS)], []))
    cmds.append(["RPUSH", "{p}lw"] + WORDS)
    cmds.append(["SADD", "{p}sw"] + WORDS)
    cmds.append(["ZADD", "{p}zw"] + sum([[str(-i), v] for i, v in enumerate(WORDS)], []))
    # Weights: unique per distinct element, in an order unlike the values;
    # one element of each source has none (two would tie under ALPHA).
    for i, v in enumerate(sorted(set(NUMS + WORDS))):
        if v in ("kiwi", "-20"):
            continue
        w = str((i * 37) % 23 - 11)
        cmds.append(["SET", "{p}w_" + v, w])
        cmds.append(["SET", "{p}aw_" + v, "x%02d" % ((i * 7) % 29)])
        cmds.append(["HSET", "{p}h_" + v, "f", str((i * 13) % 31), "g", "val-" + v])
        cmds.append(["SET", "{p}o_" + v, "obj-" + v])
    cmds.append(["SET", "{p}w_7", "notanumber"])  # BY value that does not parse
    cmds.append(["LPUSH", "{p}o_42", "a list"])   # GET of a non-string: nil
    cmds.append(["SET", "{p}str", "x"])
    cmds.append(["HSET", "{p}hash", "a", "1"])
    return cmds


BYS = [None, "nosort", "constant", "{p}w_*", "{p}aw_*", "{p}h_*->f", "{p}nokey_*",
       "{p}h_*->nofield", "{p}w_*->"]
LIMITS = [None, ("0", "3"), ("2", "-1"), ("-5", "2"), ("1", "0"), ("100", "5"),
          ("3", "9223372036854775807"), ("-9223372036854775808", "2")]
GETS = [[], ["#"], ["{p}o_*", "#"], ["{p}h_*->g"], ["nostar"], ["{p}h_*->f", "{p}nokey_*"],
        ["{p}o_*->"]]
SOURCES = ["{p}ln", "{p}sn", "{p}zn", "{p}lw", "{p}sw", "{p}zw", "{p}missing"]
MISSING_BY = {"{p}nokey_*", "{p}h_*->nofield", "{p}w_*->"}


def option_cases(rnd):
    """(command, unordered) pairs over the option space: every source with
    every BY, and a random sample of the rest so the run stays short."""
    out = []
    for src in SOURCES:
        for by in BYS:
            for alpha in (False, True):
                for desc in (False, True):
                    limits = rnd.sample(LIMITS, 3) + [None]
                    for lim in limits:
                        gets = rnd.choice(GETS)
                        if alpha and by in MISSING_BY and (lim or src[3] in "sz"):
                            continue  # ties left to the sort routine
                        if src[3] == "s" and by in ("nosort", "constant") and lim:
                            continue  # a range of the set's own order
                        cmd = ["SORT", src]
                        if by:
                            cmd += ["BY", by]
                        if lim:
                            cmd += ["LIMIT", lim[0], lim[1]]
                        for g in gets:
                            cmd += ["GET", g]
                        if desc:
                            cmd.append("DESC")
                        if alpha:
                            cmd.append("ALPHA")
                        unordered = src[3] == "s" and by in ("nosort", "constant")
                        out.append((cmd, unordered))
                        ro = list(cmd)
                        ro[0] = "SORT_RO"
                        out.append((ro, unordered))
    return out


def store_cases(rnd):
    """STORE forms: the stored list is read back."""
    out = []
    for src in SOURCES:
        for by in BYS:
            if by in MISSING_BY:
                continue
            alpha = src[3] == "w" or by == "{p}aw_*"
            cmd = ["SORT", src]
            if by:
                cmd += ["BY", by]
            lim = rnd.choice(LIMITS)
            if lim:
                cmd += ["LIMIT", lim[0], lim[1]]
            for g in rnd.choice(GETS):
                cmd += ["GET", g]
            if rnd.random() < 0.5:
                cmd.append("DESC")
            if alpha:
                cmd.append("ALPHA")
            dst = rnd.choice(["{p}dst", "{p}dst2", "{p}str", src])
            if dst == src:
                dst = "{p}dst3"
            out.append([cmd + ["STORE", dst], ["LRANGE", dst, "0", "-1"], ["TYPE", dst],
                        ["TTL", dst]])
    return out


def fixed_cases():
    """Errors, edge cases and key reporting."""
    return [
        ["SORT", "{p}str"],
        ["SORT", "{p}hash"],
        ["SORT", "{p}str", "BY", "{p}w_*"],
        ["SORT", "{p}ln", "LIMIT", "1"],
        ["SORT", "{p}ln", "LIMIT", "a", "1"],
        ["SORT", "{p}ln", "LIMIT", "1", "1.5"],
        ["SORT", "{p}str", "LIMIT", "a", "1"],
        ["SORT", "{p}ln", "GET"],
        ["SORT", "{p}ln", "BY"],
        ["SORT", "{p}ln", "STORE"],
        ["SORT", "{p}ln", "FOO"],
        ["SORT", "{p}str", "FOO"],
        ["SORT_RO", "{p}ln", "STORE", "{p}dst"],
        ["SORT", "{p}lw"],
        ["SORT", "{p}lw", "BY", "{p}w_*"],
        ["SORT", "{p}ln", "BY", "{p}w_*", "GET", "#"],
        ["SORT", "{p}ln", "BY", "{p}w_*", "BY", "nosort"],
        ["SORT", "{p}ln", "BY", "nosort", "BY", "{p}w_*"],
        ["SORT", "{p}ln", "asc", "desc", "limit", "0", "2", "alpha"],
        ["SORT", "{p}ln", "STORE", "{p}d1", "STORE", "{p}d2"],
        ["LRANGE", "{p}d2", "0", "-1"],
        ["EXISTS", "{p}d1"],
        ["RPUSH", "{p}odd", "", "1", " 2", "inf", "-inf", "0x10"],
        ["SORT", "{p}odd"],
        ["RPUSH", "{p}nan", "1", "nan"],
        ["SORT", "{p}nan"],
        ["SORT", "{p}nan", "LIMIT", "0", "1"],
        ["SORT", "{p}nan", "ALPHA"],
        ["SORT", "{p}missing", "STORE", "{p}str"],
        ["EXISTS", "{p}str"],
        ["SORT", "{p}missing", "STORE", "{p}str"],
        ["SORT", "{p}ln", "LIMIT", "100", "1", "STORE", "{p}dst"],
        ["EXISTS", "{p}dst"],
        ["SORT", "{p}ln", "BY", "nosort", "STORE", "{p}ln"],
        ["LRANGE", "{p}ln", "0", "-1"],
        ["SORT", "{p}sn", "BY", "nosort", "STORE", "{p}sd"],
        ["LRANGE", "{p}sd", "0", "-1"],
        ["SORT", "{p}sw", "BY", "{p}w_*", "STORE", "{p}sd", "GET", "{p}nokey_*"],
        ["LRANGE", "{p}sd", "0", "-1"],
        ["COMMAND", "GETKEYS", "SORT", "{p}a"],
        ["COMMAND", "GETKEYS", "SORT", "{p}a", "BY", "x", "STORE", "{p}d"],
        ["COMMAND", "GETKEYS", "SORT", "{p}a", "STORE", "store", "{p}x"],
        ["COMMAND", "GETKEYS", "SORT", "{p}a", "LIMIT", "store", "1", "STORE", "{p}d2"],
        ["COMMAND", "GETKEYS", "SORT", "{p}a", "GET", "store", "STORE", "{p}d", "STORE"],
        ["COMMAND", "GETKEYS", "SORT_RO", "{p}a", "BY", "x", "STORE", "{p}d"],
        ["COMMAND", "INFO", "SORT", "SORT_RO"],
        ["SORT"],
        ["SORT_RO"],
        ["ZADD", "{p}zsmall", "1", "a", "2", "b"],
        ["OBJECT", "ENCODING", "{p}zsmall"],
        ["SORT_RO", "{p}zsmall", "ALPHA"],
        ["OBJECT", "ENCODING", "{p}zsmall"],
        ["ZSCORE", "{p}zsmall", "b"],
        ["SORT", "{p}ln", "BY", "{p}w_*\x00x", "GET", "#\x00", "GET", "{p}o_*\x00y"],
        ["SORT", "{p}ln", "BY", "nosort", "GET", "->*", "GET", "{p}h_*->g->h", "GET", "*"],
        ["SORT", "{p}ln", "BY", "{p}h_*->", "GET", "{p}h_**->g", "GET", "{p}h_*->\x00g"],
        ["SORT", "{p}lw", "BY", "{p}aw_*", "ALPHA", "GET", "#", "GET", "#", "LIMIT", "2", "3"],
        ["SORT", "{p}ln", "LIMIT", "-1", "-1", "LIMIT", "2", "2"],
        ["SORT", "{p}ln", "LIMIT", "0", "-2"],
        ["SORT", "{p}ln", "LIMIT", "9", "1", "DESC"],
        ["SORT", "{p}ln", "LIMIT", "10", "1"],
        ["SORT", "{p}zn", "BY", "nosort", "LIMIT", "9", "5", "DESC"],
        ["SORT", "{p}zn", "BY", "nosort", "LIMIT", "10", "5", "DESC"],
        ["SORT", "{p}ln", "LIMIT", "99999999999999999999", "1"],
        ["MULTI"],
        ["SORT", "{p}zn", "BY", "{p}w_*", "GET", "{p}o_*", "STORE", "{p}tx"],
        ["SORT_RO", "{p}lw", "BY", "{p}h_*->f", "GET", "{p}h_*->g"],
        ["SORT", "{p}str"],
        ["LRANGE", "{p}tx", "0", "-1"],
        ["EXEC"],
        # Last: Redis reads errno after strtod without clearing it, so an
        # overflow makes its next numeric SORTs in the same read fail too.
        ["RPUSH", "{p}big", "1e400"],
        ["SORT", "{p}big"],
    ]


class SortDiff(skvdiff.DiffTest):
    SKV_ARGS = ("--threads", "2")

    def expand(self, case):
        skvdiff.DiffTest.ncase += 1
        pre = b"st%d:" % skvdiff.DiffTest.ncase
        return [[b(a).replace(b"{p}", pre) for a in cmd] for cmd in case]

    def run_case(self, cmds, unordered, label):
        """cmds already expanded; unordered: indexes compared as sorted."""
        want, got = self.rc.run(cmds), self.sc.run(cmds)
        bad = []
        for i, (cmd, w, g) in enumerate(zip(cmds, want, got)):
            same = w == g
            if not same and i in unordered:
                same = canon_sorted(w) == canon_sorted(g)
            if not same:
                bad.append((cmd, w, g))
        return bad

    def check(self, bad, n, label):
        log = self.skv.log()
        for marker in skvdiff.SANITIZER_MARKERS:
            self.assertNotIn(marker, log, "shardkv-server log:\n" + log[-4000:])
        if bad:
            lines = ["%d of %d commands differ (%s); first ones:" % (len(bad), n, label)]
            for cmd, w, g in bad[:20]:
                lines.append("  %r\n    redis:   %r\n    shardkv: %r" % (cmd, w[:300], g[:300]))
            self.fail("\n".join(lines))
        self.assertGreater(n, 0)

    def with_data(self, body):
        """One key prefix: the data, then body's commands."""
        case = self.expand(setup_data() + body)
        return case[len(setup_data()):], case[:len(setup_data())]

    def test_options(self):
        rnd = random.Random(11)
        cases = option_cases(rnd)
        self.assertGreater(len(cases), 500)
        body, data = self.with_data([c for c, _ in cases])
        self.rc.run(data)
        self.sc.run(data)
        unordered = {i for i, (_, u) in enumerate(cases) if u}
        bad = self.run_case(body, unordered, "options")
        self.check(bad, len(body), "options")

    def test_store(self):
        rnd = random.Random(12)
        bad, n = [], 0
        for case in store_cases(rnd):
            body, data = self.with_data(case)
            self.rc.run(data)
            self.sc.run(data)
            bad += self.run_case(body, set(), "store")
            n += len(body)
        self.check(bad, n, "store")

    def test_errors_and_keys(self):
        body, data = self.with_data(fixed_cases())
        self.rc.run(data)
        self.sc.run(data)
        bad = self.run_case(body, set(), "errors")
        self.check(bad, len(body), "errors")

    def test_resp3(self):
        rc, sc = RawConn(self.redis.port), RawConn(self.skv.port)
        try:
            for c in (rc, sc):
                self.assertTrue(c.run([[b"HELLO", b"3"]])[0].startswith(b"%"))
            body, data = self.with_data([
                ["SORT", "{p}ln", "GET", "{p}nokey_*", "GET", "#"],
                ["SORT_RO", "{p}zw", "BY", "{p}aw_*", "ALPHA", "GET", "{p}h_*->g"],
                ["SORT", "{p}missing"]])
            rc.run(data)
            sc.run(data)
            want, got = rc.run(body), sc.run(body)
            bad = [(c, w, g) for c, w, g in zip(body, want, got) if w != g]
            self.check(bad, len(body), "resp3")
        finally:
            rc.close()
            sc.close()

    def test_large_values(self):
        """Past the compact encodings: a list of several nodes, a sorted set
        tree, a hash-table set; weights on every shard."""
        rnd = random.Random(13)
        vals = ["%d" % rnd.randint(-10 ** 6, 10 ** 6) for _ in range(700)]
        uniq = sorted(set(vals))
        data = [["RPUSH", "{p}L"] + vals, ["SADD", "{p}S"] + vals,
                ["ZADD", "{p}Z"] + sum([[str(rnd.random()), v] for v in uniq], [])]
        for i, v in enumerate(uniq):
            data.append(["SET", "{p}w_" + v, str((i * 7919) % 100003)])
            data.append(["HSET", "{p}h_" + v, "g", "g" + v])
        body = []
        for src in ("{p}L", "{p}S", "{p}Z"):
            body += [["SORT", src], ["SORT", src, "DESC", "LIMIT", "5", "20"],
                     ["SORT", src, "ALPHA", "LIMIT", "100", "10"],
                     ["SORT", src, "BY", "{p}w_*", "GET", "#", "GET", "{p}h_*->g"],
                     ["SORT", src, "BY", "{p}w_*", "LIMIT", "300", "7", "GET", "{p}w_*"],
                     ["SORT", src, "BY", "{p}w_*", "STORE", "{p}out"],
                     ["LRANGE", "{p}out", "0", "-1"]]
        body += [["SORT", "{p}L", "BY", "nosort", "LIMIT", "400", "30", "DESC"],
                 ["SORT", "{p}Z", "BY", "nosort", "LIMIT", "200", "30", "DESC"],
                 ["SORT", "{p}Z", "BY", "nosort", "GET", "{p}h_*->g"],
                 ["SORT", "{p}S", "BY", "nosort", "STORE", "{p}out"],
                 ["LRANGE", "{p}out", "0", "-1"],
                 ["OBJECT", "ENCODING", "{p}out"]]
        case = self.expand(data + body)
        self.rc.run(case[:len(data)])
        self.sc.run(case[:len(data)])
        bad = self.run_case(case[len(data):], set(), "large")
        self.check(bad, len(body), "large")

    def test_script(self):
        """From a script: Redis's reply when every key is on the script's
        shard (always with one thread), else shardkv's refusal."""
        body, data = self.with_data([
            ["EVAL", "return redis.call('SORT', KEYS[1], 'BY', ARGV[1], 'GET', ARGV[2])",
             "1", "{p}ln", "{p}h_*->f", "{p}o_*"],
            ["EVAL", "return redis.call('SORT', KEYS[1], 'LIMIT', 1, 3, 'DESC')", "1",
             "{p}ln"]])
        self.rc.run(data)
        self.sc.run(data)
        want, got = self.rc.run(body), self.sc.run(body)
        self.assertEqual(want[1], got[1])
        if self.SKV_ARGS[1] == "1":
            self.assertEqual(want[0], got[0])
        else:
            self.assertTrue(got[0] == want[0] or got[0].startswith(
                b"-ERR shardkv: SORT in a script may read pattern keys only on the script's "
                b"shard"), got[0])
        self.assertTrue(want[0].startswith(b"*10\r\n"), want[0])

    def test_sortstore_event(self):
        """STORE notifies "sortstore" (and "del" when the result is empty)."""
        out = {}
        for name, port in (("redis", self.redis.port), ("skv", self.skv.port)):
            c, sub = RawConn(port), RawConn(port)
            try:
                c.run([[b"CONFIG", b"SET", b"notify-keyspace-events", b"KEA"]])
                sub.run([[b"PSUBSCRIBE", b"__keyevent@0__:sort*"]])
                sub.run([[b"PSUBSCRIBE", b"__keyevent@0__:del"]])
                body, data = self.with_data([["SORT", "{p}ln", "STORE", "{p}ev"],
                                             ["SORT", "{p}missing", "STORE", "{p}ev"],
                                             ["PING"]])
                c.run(data)
                c.run(body)
                msgs = [sub.read_reply() for _ in range(2)]
                out[name] = [m.replace(body[0][3], b"K") for m in msgs]
                c.run([[b"CONFIG", b"SET", b"notify-keyspace-events", b""]])
            finally:
                c.close()
                sub.close()
        self.assertIn(b"sortstore", out["redis"][0])
        self.assertEqual(out["redis"], out["skv"])


class SortReads(skvdiff.DiffTest):
    """BY reads every element's key, GET only the output range's (Redis's
    lookupKeyRead): the keyspace hit and miss counters move alike."""

    SKV_ARGS = ("--threads", "2")

    def stats(self, conn):
        raw = conn.run([[b"INFO", b"stats"]])[0]
        out = {}
        for line in raw.split(b"\r\n"):
            if line.startswith(b"keyspace_hits:") or line.startswith(b"keyspace_misses:"):
                k, v = line.split(b":")
                out[k] = int(v)
        return out

    def test_hits_and_misses(self):
        cmds = [
            ["SORT", "{p}ln", "BY", "{p}w_*", "LIMIT", "1", "3", "GET", "{p}o_*", "GET", "#",
             "GET", "{p}nokey_*"],
            ["SORT_RO", "{p}lw", "BY", "nosort", "LIMIT", "0", "2", "GET", "{p}h_*->g"],
            ["SORT", "{p}zn", "BY", "{p}h_*->f", "GET", "{p}h_*->nofield", "STORE", "{p}d"],
            ["SORT", "{p}ln", "BY", "{p}w_*", "GET", "{p}o_*", "LIMIT", "100", "5"],
        ]
        for cmd in cmds:
            body, data = self.with_data([cmd])
            self.rc.run(data)
            self.sc.run(data)
            before = (self.stats(self.rc), self.stats(self.sc))
            self.assertEqual(self.rc.run(body), self.sc.run(body))
            after = (self.stats(self.rc), self.stats(self.sc))
            delta = [{k: a[k] - b_[k] for k in a} for a, b_ in zip(after, before)]
            self.assertEqual(delta[0], delta[1], cmd)
            self.assertGreater(sum(delta[0].values()), 0)

    with_data = SortDiff.with_data
    expand = SortDiff.expand


class SortAtomic(unittest.TestCase):
    """SORT's BY and GET keys live on every shard: a writer that MSETs all
    of them to one generation at a time must never be seen half done."""

    def test_patterns_see_one_generation(self):
        skv = skvtest.ShardkvServer(args=("--threads", "4")).start()
        try:
            rc, wc = RawConn(skv.port), RawConn(skv.port)
            n = 40
            rc.run([[b"RPUSH", b"src"] + [b"%d" % i for i in range(n)]])
            stop = threading.Event()

            def writer():
                g = 0
                while not stop.is_set():
                    g += 1
                    args = [b"MSET"]
                    for i in range(n):
                        args += [b"w_%d" % i, b"%d" % g, b"o_%d" % i, b"%d" % g]
                    wc.run([args])

            t = threading.Thread(target=writer)
            t.start()
            try:
                seen = 0
                for _ in range(300):
                    raw = rc.run([[b"SORT", b"src", b"BY", b"w_*", b"GET", b"o_*",
                                   b"GET", b"w_*"]])[0]
                    v, _ = parse(raw)
                    vals = {x for x in v[1]}
                    self.assertEqual(len(vals), 1, raw[:200])
                    seen += 1
            finally:
                stop.set()
                t.join()
            self.assertEqual(seen, 300)
            rc.close()
            wc.close()
        finally:
            skv.stop()


class SortDiffOneThread(SortDiff):
    SKV_ARGS = ("--threads", "1")


class SortDiffFourThreads(SortDiff):
    SKV_ARGS = ("--threads", "4")


if __name__ == "__main__":
    skvtest.main()
