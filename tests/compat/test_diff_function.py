#!/usr/bin/python3
"""Differential test of Redis 7.0 functions against a real redis-server:
FUNCTION LOAD (shebang errors, register_function's forms and errors, the
load-time sandbox, REPLACE), DELETE, LIST (LIBRARYNAME, WITHCODE), FLUSH,
DUMP/RESTORE with every policy and bad payloads, STATS, KILL, HELP, and
FCALL/FCALL_RO (errors, no-writes, functions returning every Lua type,
redis.call over keys on one shard or both), in RESP2 and RESP3, byte for
byte. shardkv runs with --threads 2: libraries loaded through one
connection are called through others (other workers). Each case starts
with FUNCTION FLUSH; LIST is asked with one library at a time, since
Redis's order of libraries (a dict) is not defined.
Run: /usr/bin/python3 test_diff_function.py with SHARDKV_BIN set.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import skvtest  # noqa: E402
import skvdiff  # noqa: E402
from skvdiff import RawConn  # noqa: E402
from test_diff_script import RETURNS  # noqa: E402

FLUSH = ["FUNCTION", "FLUSH"]


def lib(name, body):
    return "#!lua name=%s\n%s" % (name, body)


def reg(fname, body="return 1", flags=None):
    if flags is None:
        return "redis.register_function('%s', function(keys, args) %s end)\n" % (fname, body)
    return ("redis.register_function{function_name='%s', callback=function(keys, args) %s end, "
            "flags={%s}}\n" % (fname, body, ",".join("'%s'" % f for f in flags)))


def load(code, *opts):
    return ["FUNCTION", "LOAD"] + list(opts) + [code]


# Library code run at load time, in Redis's load sandbox.
LOAD_BODIES = [
    "redis.register_function()", "redis.register_function('a')",
    "redis.register_function('a', 1)", "redis.register_function(1, function() return 1 end)",
    "redis.register_function('a-b', function() end)", "redis.register_function('', function() end)",
    "redis.register_function('a', function() end, 3)", "redis.register_function{}",
    "redis.register_function{function_name='a'}", "redis.register_function{callback=function() end}",
    "redis.register_function{function_name='a', callback=function() end, flags='x'}",
    "redis.register_function{function_name='a', callback=function() end, flags={'x'}}",
    "redis.register_function{function_name='a', callback=function() end, flags={1}}",
    "redis.register_function{function_name='a', callback=function() end, description=1}",
    "redis.register_function{function_name='a', callback=function() end, description={}}",
    "redis.register_function{function_name='a', callback=function() end, foo=1}",
    "redis.register_function{function_name=1, callback=function() end}",
    "redis.register_function{function_name={}, callback=function() end}",
    "redis.register_function{function_name='a', callback=1}",
    "redis.register_function{'a', function() end}",
    "redis.register_function('a', function() end) redis.register_function('a', function() end)",
    "error('boom')", "local x = nil + 1", "local x = #nil",
    "redis.log(redis.LOG_WARNING, 'hi') redis.register_function('a', function() end)",
    "local v = redis.REDIS_VERSION .. redis.REDIS_VERSION_NUM "
    "redis.register_function('a', function() end)",
    "redis.setresp(3)", "redis.pcall('x')", "redis.call('set', 'x', 'y')", "x = 1",
    "local x = KEYS", "local x = redis.sha1hex", "local x = redis.foo", "redis.foo = 1",
    "local x = string.len('x')", "local x = math.floor(1)", "return 1",
    "redis.register_function{function_name='a', callback=function() end, flags={'no-writes',"
    "'allow-oom','allow-stale','no-cluster','allow-cross-slot-keys'}}",
    "redis.register_function{function_name='a', callback=function() end, flags={}}",
    "redis.register_function{function_name='a', callback=function() end, description='d', "
    "flags={'no-writes','no-writes'}}",
    "redis.register_function('a', function() end)\nfoo(",
    "redis.register_function('a', function() end) return 5",
    "redis.register_function('" + "x" * 70 + "', function() end)",
    "local r = redis\nr.register_function('a', function() return r.register_function('b', "
    "function() end) end)",
]

SHEBANGS = [
    "no shebang", "#!python name=x\n", "#!lua name=x foo=bar\n", "#!lua\n", "#!lua name=a-b\n",
    "#!lua name=ab", "#!LUA name=up\n" + reg("up"), "#!lua  name=dsp\n" + reg("dsp"),
    "#!lua name=a name=b\n", "#!lua name=\n", "#!\n", "", "#", "#!lua name=\"q q\"\n",
    "#!lua NAME=up2\n" + reg("up2"), "#!lua name=x\r\n" + reg("f"),
]


def load_cases():
    cases = []
    add = cases.append
    for body in LOAD_BODIES:
        add([FLUSH, load(lib("t", body)), ["FUNCTION", "LIST"], ["FCALL", "a", "0"],
             ["FCALL", "1", "0"], ["FCALL", "b", "0"]])
    for code in SHEBANGS:
        add([FLUSH, load(code), ["FUNCTION", "LIST"]])
    add([FLUSH, load(lib("l1", reg("f1"))), load(lib("l1", reg("f1"))),
         load(lib("l2", reg("f1"))), load(lib("l1", reg("f2")), "REPLACE"),
         ["FUNCTION", "LIST"], ["FCALL", "f1", "0"], ["FCALL", "f2", "0"],
         load(lib("l1", reg("f3")), "replace", "REPLACE"), load(lib("l1", reg("f3")), "foo"),
         load("REPLACE"), ["FUNCTION", "LOAD"], ["FUNCTION", "LIST", "WITHCODE"]])
    # REPLACE keeps the old library when the new one fails.
    add([FLUSH, load(lib("l1", reg("f1"))), load(lib("l1", "error('x')"), "REPLACE"),
         load(lib("l2", reg("f2"))), load(lib("l1", reg("f2")), "REPLACE"),
         ["FCALL", "f1", "0"], ["FUNCTION", "LIST", "LIBRARYNAME", "l1"]])
    return cases


def list_cases():
    cases = []
    add = cases.append
    # One function per library: Redis's order of a library's functions
    # (a dict) is not defined either.
    code1 = lib("alpha", "redis.register_function{function_name='fb', "
                "callback=function() return 2 end, description='the b', flags={'no-writes'}}\n")
    add([FLUSH, load(code1), load(lib("beta", reg("fc"))),
         ["FUNCTION", "LIST", "LIBRARYNAME", "alpha"],
         ["FUNCTION", "LIST", "LIBRARYNAME", "ALPHA", "WITHCODE"],
         ["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "b*"],
         ["FUNCTION", "LIST", "LIBRARYNAME", "nope"], ["FUNCTION", "LIST", "LIBRARYNAME", "?et?"],
         ["FUNCTION", "LIST", "foo"], ["FUNCTION", "LIST", "LIBRARYNAME"],
         ["FUNCTION", "LIST", "WITHCODE", "WITHCODE"],
         ["FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"],
         ["FUNCTION", "STATS"], ["FUNCTION", "DELETE", "alpha"], ["FUNCTION", "DELETE", "alpha"],
         ["FUNCTION", "DELETE"], ["FUNCTION", "DELETE", "a", "b"], ["FUNCTION", "LIST"],
         ["FUNCTION", "STATS"], ["FUNCTION", "STATS", "x"], ["FUNCTION", "FLUSH", "foo"],
         ["FUNCTION", "FLUSH", "SYNC"], ["FUNCTION", "FLUSH", "async"],
         ["FUNCTION", "FLUSH", "async", "x"], ["FUNCTION", "LIST"], ["FUNCTION", "STATS"]])
    add([["FUNCTION", "KILL"], ["FUNCTION", "KILL", "x"], ["FUNCTION", "HELP"],
         ["FUNCTION", "HELP", "x"], ["FUNCTION", "foo"], ["FUNCTION"], ["FUNCTION", "DUMP", "x"],
         ["FUNCTION", "RESTORE"], ["function", "help"]])
    return cases


def fcall_cases():
    cases = []
    add = cases.append
    body = "".join(reg("r%d" % i, src) for i, src in enumerate(RETURNS))
    add([FLUSH, load(lib("rets", body))] +
        [["FCALL", "r%d" % i, "0"] for i in range(len(RETURNS))])
    code = lib("kv", reg("set", "return redis.call('set', keys[1], args[1])") +
               reg("get", "return redis.call('get', keys[1])", flags=["no-writes"]) +
               reg("setro", "return redis.call('set', keys[1], 'x')", flags=["no-writes"]) +
               reg("both", "return {keys, args, #keys, #args}") +
               reg("glob", "return KEYS") + reg("setg", "x = 1") +
               reg("err", "error('boom')") + reg("nocmd", "return redis.call('nosuch')") +
               reg("tbl", "return {err='MY fail'}") +
               reg("resp3", "redis.setresp(3); redis.call('hset', keys[1], 'f', 'v'); "
                   "return redis.call('hgetall', keys[1])") +
               reg("move", "local v = redis.call('get', keys[1]); redis.call('del', keys[1]); "
                   "redis.call('set', keys[2], v); return {v, redis.call('exists', keys[1]), "
                   "redis.call('get', keys[2])}") +
               reg("pc", "return redis.pcall('incr', keys[1])"))
    add([FLUSH, load(code), ["FCALL", "set", "1", "{k}", "v1"], ["FCALL", "get", "1", "{k}"],
         ["FCALL_RO", "get", "1", "{k}"], ["FCALL_RO", "set", "1", "{k}", "v"],
         ["FCALL", "setro", "1", "{k}"], ["FCALL_RO", "setro", "1", "{k}"],
         ["FCALL", "both", "2", "{k}", "{k2}", "a", "b", "c"], ["FCALL", "both", "0"],
         ["FCALL", "glob", "0"], ["FCALL", "setg", "0"], ["FCALL", "err", "0"],
         ["FCALL", "nocmd", "0"], ["FCALL", "tbl", "0"], ["FCALL", "resp3", "1", "{k3}"],
         ["FCALL", "pc", "1", "{k}"], ["FCALL", "nosuch", "0"], ["FCALL", "nosuch", "x"],
         ["FCALL", "get", "x"], ["FCALL", "get", "-1"], ["FCALL", "get", "3", "a"],
         ["FCALL", "get", "1.5", "a"], ["FCALL", "get"], ["FCALL"], ["FCALL_RO", "get"],
         ["FCALL_RO", "nosuch", "0"], ["fcall", "GET", "1", "{k}"]])
    for pair in (["{k}", "{k2}"], ["{k}", "{k3}"], ["{k2}", "{k3}"], ["{k3}", "{k4}"]):
        add([FLUSH, load(code), ["SET", pair[0], "val"], ["FCALL", "move", "2"] + pair,
             ["GET", pair[1]], ["EXISTS", pair[0]], ["FCALL", "both", "2"] + pair + ["x"],
             ["FCALL", "err", "2"] + pair, ["FCALL_RO", "get", "2"] + pair])
    add([FLUSH, load(code), ["MULTI"], ["FCALL", "set", "1", "{k}", "m"],
         ["FCALL", "get", "1", "{k}"], ["FCALL", "nosuch", "0"], ["EXEC"]])
    # Loaded and deleted inside a transaction: FCALL sees each in order.
    add([FLUSH, ["MULTI"], load(lib("m", reg("mf", "return redis.call('set', keys[1], 'z')"))),
         ["FCALL", "mf", "1", "{k}"], ["FUNCTION", "LIST"], ["FUNCTION", "DELETE", "m"],
         ["FCALL", "mf", "1", "{k}"], ["EXEC"], ["GET", "{k}"]])
    # Functions may not be managed or called from scripts.
    add([FLUSH, load(code), ["EVAL", "return redis.call('fcall', 'get', 1, KEYS[1])", "1", "{k}"],
         ["EVAL", "return redis.call('function', 'list')", "0"],
         ["FCALL", "both", "0", "x"]])
    return cases


def dump_cases(dump):
    """dump: redis-server's FUNCTION DUMP of the two libraries below."""
    cases = []
    add = cases.append
    a = load(lib("a", reg("fa")))
    b = load(lib("b", reg("fb")))
    z = load(lib("z", reg("fa")))
    for pol in ([], ["APPEND"], ["REPLACE"], ["FLUSH"], ["append"], ["bogus"], ["FLUSH", "x"]):
        add([FLUSH, ["FUNCTION", "RESTORE", dump] + pol, ["FUNCTION", "LIST", "LIBRARYNAME", "a"],
             ["FCALL", "fb", "0"]])
        add([FLUSH, a, ["FUNCTION", "RESTORE", dump] + pol, ["FUNCTION", "STATS"]])
        add([FLUSH, z, ["FUNCTION", "RESTORE", dump] + pol, ["FUNCTION", "STATS"],
             ["FCALL", "fa", "0"]])
    add([FLUSH, a, ["FUNCTION", "DUMP"]])
    add([FLUSH, ["FUNCTION", "DUMP"]])
    add([FLUSH, a, ["FUNCTION", "RESTORE", "x"], ["FUNCTION", "RESTORE", ""],
         ["FUNCTION", "RESTORE", dump[:-1]], ["FUNCTION", "RESTORE", dump + b"x"]])
    return cases


class FunctionDiff(skvdiff.DiffTest):
    SKV_ARGS = ("--threads", "2")

    def test_load(self):
        self.compare(load_cases(), "FUNCTION LOAD")

    def test_list_delete_flush_stats(self):
        self.compare(list_cases(), "FUNCTION LIST/DELETE/FLUSH/STATS")

    def test_fcall(self):
        self.compare(fcall_cases(), "FCALL")

    def test_dump_restore(self):
        got = self.rc.run([FLUSH, load(lib("a", reg("fa"))), load(lib("b", reg("fb"))),
                           ["FUNCTION", "DUMP"]])[-1]
        dump = got[got.index(b"\r\n") + 2:-2]
        self.compare(dump_cases(dump), "FUNCTION DUMP/RESTORE")
        # Our DUMP restores on redis-server, and redis-server's on ours.
        ours = self.sc.run([FLUSH, load(lib("c", reg("fc") + reg("fd", "return 'd'"))),
                            ["FUNCTION", "DUMP"]])[-1]
        ours = ours[ours.index(b"\r\n") + 2:-2]
        want = self.rc.run([FLUSH, ["FUNCTION", "RESTORE", ours], ["FCALL", "fd", "0"],
                            ["FUNCTION", "LIST", "WITHCODE"]])
        self.assertEqual(want[1:], [b"+OK\r\n", b"$1\r\nd\r\n", want[3]])
        self.assertIn(b"c", want[3])

    def test_resp3(self):
        rc, sc = RawConn(self.redis.port), RawConn(self.skv.port)
        try:
            rc.run([["HELLO", "3"]])
            sc.run([["HELLO", "3"]])
            code = lib("r3", "redis.register_function{function_name='fb', "
                       "callback=function() return {1, 'x', {ok='y'}} end, description='d', "
                       "flags={'no-writes','allow-stale'}}\n")
            cases = [[FLUSH, load(code), load(lib("r4", reg("fa"))),
                      ["FUNCTION", "LIST", "LIBRARYNAME", "r3"],
                      ["FUNCTION", "LIST", "LIBRARYNAME", "r4", "WITHCODE"],
                      ["FUNCTION", "STATS"],
                      ["FCALL", "fb", "0"], ["FCALL", "nosuch", "0"]]]
            body = "".join(reg("r%d" % i, src) for i, src in enumerate(RETURNS))
            cases.append([FLUSH, load(lib("rets", body))] +
                         [["FCALL", "r%d" % i, "0"] for i in range(len(RETURNS))])
            self.compare(cases, "RESP3", rc=rc, sc=sc)
        finally:
            rc.close()
            sc.close()

    def test_library_callable_from_every_connection(self):
        # Connections are spread over the workers: a library loaded through
        # one is run by the others' Lua states, loaded there on first use.
        code = lib("shared", reg("hello", "return 'hi ' .. args[1]") +
                   reg("cnt", "return redis.call('incr', keys[1])"))
        for conn in (self.rc, self.sc):
            conn.run([FLUSH, load(code)])
        conns = [(RawConn(self.redis.port), RawConn(self.skv.port)) for _ in range(4)]
        try:
            for rc, sc in conns:
                self.compare([[["FCALL", "hello", "0", "x"], ["FCALL", "cnt", "1", "{k}"],
                               ["FCALL_RO", "hello", "0", "y"]]], "other connections",
                             rc=rc, sc=sc)
            # Deleted through one connection: gone on every other.
            for conn in (self.rc, self.sc):
                conn.run([["FUNCTION", "DELETE", "shared"]])
            for rc, sc in conns:
                self.compare([[["FCALL", "hello", "0", "x"]]], "after DELETE", rc=rc, sc=sc)
            # Replaced: every worker runs the new code.
            for conn in (self.rc, self.sc):
                conn.run([load(lib("shared", reg("hello", "return 'new ' .. args[1]")))])
            for rc, sc in conns:
                self.compare([[["FCALL", "hello", "0", "x"]]], "after reload", rc=rc, sc=sc)
        finally:
            for rc, sc in conns:
                rc.close()
                sc.close()


if __name__ == "__main__":
    skvtest.main()
