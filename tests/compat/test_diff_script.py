#!/usr/bin/python3
"""Differential test of scripting against a real redis-server 7.0: EVAL,
EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, byte for byte, errors included.
Scripts return every Lua type and nested tables, call commands with
redis.call and redis.pcall (errors raised and trapped), build status and
error replies, hit syntax and runtime errors, write globals and probe the
sandbox, convert replies in RESP2 and RESP3 (redis.setresp, and a RESP3
client), use cjson and bit. shardkv runs with --threads 2, so scripts whose
keys fall on both shards run as cross-shard transactions; the same cases
must give the same replies there.

Where shardkv differs on purpose, it is tested on shardkv alone: a key
not declared in KEYS is refused (Dragonfly's rule). The cmsgpack and
struct libraries have their own differential test (test_diff_script_libs.py).
Run: /usr/bin/python3 test_diff_script.py with SHARDKV_BIN set.
"""

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
import skvdiff  # noqa: E402
from skvdiff import RawConn  # noqa: E402


def ev(src, *keys_then_args, nkeys=None):
    """EVAL src with the given keys (placeholders {k}...) then arguments."""
    keys = [a for a in keys_then_args if a.startswith("{k")]
    n = len(keys) if nkeys is None else nkeys
    return ["EVAL", src, str(n)] + list(keys_then_args)


# Scripts returning every Lua type, plain and nested.
RETURNS = [
    "return 1", "return -1", "return 0", "return 3.99", "return -3.99", "return 1e20",
    "return 2^53", "return -0.5", "return 1/0", "return 0/0",
    "return 'str'", "return ''", "return 'a\\0b'", "return true", "return false", "return nil",
    "return", "return {}", "return {1,2,3}", "return {1,2,nil,3}", "return {nil,1}",
    "return {1,'a',{2,true,false},3.7}", "return {{{{1}}}}", "return {a=1,b=2}",
    "return {1,2,a=3}", "return {ok='FINE'}", "return {ok='two\\r\\nlines'}",
    "return {err='ERR custom'}", "return {err='NOCODE'}", "return {err='-MINUS x'}",
    "return {err='x\\ny'}", "return {ok=1}", "return {err=1}",
    "return redis.status_reply('PONG')", "return redis.error_reply('MY err')",
    "return redis.error_reply('noprefix')", "return redis.error_reply('-DASH err')",
    "return redis.error_reply('')", "return redis.status_reply('')",
    "return {redis.status_reply('A'), redis.error_reply('B c')}",
    "return redis.error_reply(1)", "return redis.status_reply()",
    "return {double=3.5}", "return {double='x'}", "return {map={a=1}}", "return {set={a=true}}",
    "return {big_number='123'}", "return {verbatim_string={format='txt', string='hi'}}",
    "return function() end", "return coroutine.create(function() end)",
    "return tostring(1e15)", "return tostring(0.1)", "return 10/3",
    "return string.format('%d %s %5.2f', 7, 'x', 3.14159)",
    "return {string.rep('ab', 3), string.upper('x'), ('y'):upper(), #'four'}",
    "return table.concat({1,2,3}, ',')", "return select('#', 1, 2, 3)",
    "return type(unpack)", "return math.floor(3.7)", "return math.huge",
    "return _VERSION", "return type(loadstring)", "return type(xpcall)",
]

# Lua's pcall and xpcall around redis.call (KEYS[1] holds "abc").
PCALLS = [
    "local ok, e = pcall(redis.call, 'incr', KEYS[1]); return {tostring(ok), type(e), e}",
    "local ok, e = pcall(function() return redis.call('incr', KEYS[1]) end); return {tostring(ok), e}",
    "local ok, e = pcall(function() redis.call('set', KEYS[2], 'v'); redis.call('incr', KEYS[1]); "
    "return 'no' end); return {tostring(ok), e, redis.call('get', KEYS[2])}",
    "return {pcall(redis.call, 'get', KEYS[1])}", "return {pcall(redis.call, 'get', KEYS[2])}",
    "return {pcall(function() error('x') end)}", "return {pcall(function() error('x', 2) end)}",
    "return {pcall(function() error({err='x'}) end)}", "return {pcall()}", "return {pcall(nil)}",
    "return {pcall(coroutine.yield, 1)}", "return {pcall(function() coroutine.yield(1) end)}",
    "return {pcall(string.rep)}", "return {pcall(redis.call, 'nosuch')}", "return {pcall(redis.call)}",
    "local ok, e = pcall(redis.call, 'incr', KEYS[1]); return redis.call('incr', KEYS[1])",
    "local ok, e = pcall(pcall, redis.call, 'incr', KEYS[1]); return {tostring(ok), tostring(e)}",
    "return {pcall(function() local a = redis.call('get', KEYS[1]); "
    "local ok, e = pcall(redis.call, 'incr', KEYS[1]); return {a, e, redis.call('set', KEYS[2], 'z')} end)}",
    "local ok, e = pcall(function() local t = {}; return t.x.y end); return e",
    "return {select('#', pcall(function() return 1, 2, nil, 4 end)), pcall(function() return 1, 2 end)}",
    "local ok, e = pcall(redis.call, 'incr', KEYS[1]); error(e)",
    "local ok, e = pcall(redis.call, 'set', KEYS[1], 'abc'); return {tostring(ok), e.ok}",
    "local ok, e = pcall(function() redis.call('get', KEYS[1]); error('late') end); return e",
    "local ok, e = pcall(function() redis.call('get', KEYS[1]); return 'a' .. nil end); return e",
    "local n = 0; for i = 1, 5 do if pcall(redis.call, 'incr', KEYS[2]) then n = n + 1 end end; "
    "return {n, redis.call('get', KEYS[2])}",
    "return pcall(redis.pcall, 'incr', KEYS[1])", "redis.call('get', KEYS[1]); return 1, 2",
    "local ok, e = pcall(redis.pcall, 'incr', KEYS[1]); return e",
    "local ok, e = pcall(redis.call, 'incr', KEYS[1], 'x'); return e",
    "local ok, e = xpcall(function() return redis.call('incr', KEYS[1]) end, "
    "function(e) return e end); return {tostring(ok), type(e), e.err}",
    "local ok, e = xpcall(function() return redis.call('get', KEYS[1]) end, "
    "function(e) return e end); return {tostring(ok), e}",
    "return {xpcall(function() error('boom') end, function(e) return 'h:' .. e end)}",
    "return {xpcall(function() error('boom') end, function(e) error('again') end)}",
    "return {xpcall(function() return 1 end)}", "return {xpcall(redis.call, function(e) return e end)}",
    "return {pcall(function(...) return select('#', ...), ... end, 1, nil, 3)}",
    "return {pcall(error)}", "return {pcall(error, {err='T'})}",
    "redis.call('set', KEYS[2], '1'); local ok, e = pcall(redis.call, 'lpush', KEYS[2], 'x'); "
    "return {e, redis.call('get', KEYS[2])}",
]

# The scripting API.
API = [
    "return redis.sha1hex('')", "return redis.sha1hex('abc')", "return redis.sha1hex()",
    "return redis.sha1hex(1, 2)", "return redis.sha1hex(123)",
    "return redis.REDIS_VERSION", "return redis.REDIS_VERSION_NUM",
    "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
    "return redis.log(redis.LOG_DEBUG, 'hello', 'world')", "return redis.log(redis.LOG_WARNING)",
    "return redis.log('x', 'y')", "return redis.log(99, 'y')",
    "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
    "return redis.set_repl(redis.REPL_ALL)", "return redis.set_repl(99)", "return redis.set_repl()",
    "return redis.setresp(4)", "return redis.setresp()", "return redis.setresp(2)",
    "return redis.replicate_commands()", "return redis.breakpoint()",
    "return redis.call()", "return redis.pcall()", "return redis.call({})",
    "return redis.pcall({})", "return redis.call('nosuch')", "return redis.pcall('nosuch')",
    "return redis.call('ping')", "return redis.call('publish', 'ch', 'x')",
    "return redis.call('echo', 'x')", "return redis.call('ping', 'a', 'b')",
    "return redis.call('get')", "return redis.pcall('get')",
    "return redis.call('eval', 'return 1', '0')", "return redis.call('multi')",
    "return redis.call('subscribe', 'c')", "return redis.call('script', 'load', 'return 1')",
    "return pcall(function() redis.call('nosuch') end)",
    "local ok, e = pcall(function() redis.call('nosuch') end); return e",
    "local ok, e = pcall(error, 'x'); return {ok, e}",
    "local ok, e = pcall(error, {err='T'}); return e",
    "return {pcall(function() return 1, 2 end)}",
    "return xpcall(function() error('x') end, function(e) return 'handled ' .. e end)",
    "return cjson.encode({1,2,3})", "return cjson.encode({a={b='c'}})",
    "return cjson.decode('[1,2,{\"a\":3}]')[3].a", "return cjson.decode('bad')",
    "return cjson.encode(cjson.decode('{\"x\":[1,2.5,\"s\",true,null]}'))",
    "return {bit.band(7, 3), bit.bor(1, 2), bit.bxor(5, 1), bit.lshift(1, 4), bit.tohex(255)}",
    "math.randomseed(7); return {math.random(100), math.random(100), math.random(5, 9)}",
    "math.randomseed(7); return tostring(math.random())",
    "return math.random(0)", "return math.random(1, 2, 3)",
]

# Errors: syntax, runtime, globals, the sandbox.
ERRORS = [
    "syntax error here", "return (", "x = ", "local", "return 'unterminated",
    "error('boom')", "error('a\\nb')", "error({err='CUSTOM thing'})", "error({err='-DASH x'})",
    "error()", "error(nil)", "error(42)", "error('x', 0)", "error('x', 2)",
    "return 'a' .. nil", "return nil + 1", "local t = nil; return t.x", "return #5",
    "x = 1", "function f() end", "return x", "return os", "return io", "return print",
    "return loadfile", "return dofile", "return require", "return module", "return package",
    "return debug", "return newproxy ~= nil", "return type(getfenv)",
    "string.x = 1", "redis.call = nil", "math.pi = 3", "table.insert = nil", "cjson.x = 1",
    "bit.band = nil", "rawset(_G, 'y', 1)", "rawset(redis, 'x', 1)", "_G.z = 1",
    "setmetatable(_G, nil)", "return getmetatable(_G)", "return getmetatable('')",
    "getmetatable('').__index = nil", "return getmetatable(redis)", "setmetatable(redis, {})",
    "return setmetatable({}, {__index = function() return 5 end}).x", "return rawget(_G, 'nope')",
    "return rawequal(redis, redis)", "return loadstring('return 1')()",
    "return loadstring('x = 1')()", "return #KEYS", "return #ARGV",
    "local s = 0; for i = 1, 100000 do s = s + i end; return s",
    "return redis.call('set', 'a')",
]


def call_cases():
    """Scripts calling commands on declared keys ({k}, {k2}, {k3})."""
    cases = []
    add = cases.append
    add([ev("return redis.call('set', KEYS[1], ARGV[1])", "{k}", "v"),
         ev("return redis.call('get', KEYS[1])", "{k}"), ["GET", "{k}"]])
    add([ev("return redis.call('incr', KEYS[1])", "{k}"), ev("return redis.call('incr', KEYS[1])", "{k}"),
         ev("return redis.call('incrbyfloat', KEYS[1], '1.5')", "{k}")])
    add([ev("return redis.call('get', KEYS[1])", "{k}"),
         ev("return redis.call('hgetall', KEYS[1])", "{k}"),
         ev("return redis.call('smembers', KEYS[1])", "{k}"),
         ev("return redis.call('exists', KEYS[1])", "{k}")])
    add([["SET", "{k}", "str"], ev("return redis.call('hget', KEYS[1], 'f')", "{k}"),
         ev("return redis.pcall('hget', KEYS[1], 'f')", "{k}"),
         ev("return redis.call('incr', KEYS[1])", "{k}"),
         ev("return redis.pcall('incr', KEYS[1])", "{k}"),
         ev("return redis.call('incr', KEYS[1], 'x')", "{k}"),
         ev("local r = redis.pcall('incr', KEYS[1]); return r['err']", "{k}"),
         ev("local r = redis.pcall('incr', KEYS[1]); return type(r)", "{k}")])
    add([ev("redis.call('hset', KEYS[1], 'a', '1', 'b', '2'); return redis.call('hgetall', KEYS[1])", "{k}"),
         ev("return redis.call('hmget', KEYS[1], 'a', 'x', 'b')", "{k}"),
         ev("redis.setresp(3); return redis.call('hgetall', KEYS[1])", "{k}"),
         ev("redis.setresp(3); local r = redis.call('hgetall', KEYS[1]); return r['map']['a']", "{k}"),
         ev("redis.setresp(3); return redis.call('hget', KEYS[1], 'nope')", "{k}"),
         ev("redis.setresp(3); return {redis.call('hget', KEYS[1], 'nope')}", "{k}"),
         ev("return {redis.call('hget', KEYS[1], 'nope')}", "{k}"),
         ev("return redis.call('hget', KEYS[1], 'nope') == false", "{k}")])
    add([ev("redis.call('sadd', KEYS[1], 'x', 'y'); redis.setresp(3); "
            "local r = redis.call('smembers', KEYS[1]); return {r['set']['x'], r['set']['z']}", "{k}"),
         ev("redis.setresp(3); return redis.call('smembers', KEYS[1])", "{k}"),
         ev("redis.setresp(3); return redis.call('sismember', KEYS[1], 'x')", "{k}"),
         ev("redis.setresp(3); return redis.call('hincrbyfloat', KEYS[2], 'f', '1.5')", "{k}", "{k2}"),
         ev("redis.setresp(3); local r = redis.call('ping'); return type(r)", "{k}")])
    # A number argument is sent as %.17g.
    add([ev("return redis.call('set', KEYS[1], 3.14159)", "{k}"), ["GET", "{k}"],
         ev("redis.call('set', KEYS[1], 0.1); return redis.call('get', KEYS[1])", "{k}"),
         ev("redis.call('set', KEYS[1], 1e100); return redis.call('get', KEYS[1])", "{k}"),
         ev("redis.call('set', KEYS[1], 10); return redis.call('get', KEYS[1])", "{k}"),
         ev("return redis.call('set', KEYS[1], true)", "{k}"),
         ev("return redis.call('set', KEYS[1], nil)", "{k}")])
    # Several keys: on one shard or on both.
    for pair in (["{k}", "{k2}"], ["{k}", "{k3}"], ["{k2}", "{k3}"]):
        move = ("local v = redis.call('get', KEYS[1]); redis.call('del', KEYS[1]); "
                "redis.call('set', KEYS[2], v); return {v, redis.call('exists', KEYS[1]), "
                "redis.call('get', KEYS[2])}")
        add([["SET", pair[0], "val"], ev(move, *pair), ["GET", pair[1]], ["EXISTS", pair[0]]])
        add([ev("redis.call('set', KEYS[1], 'a'); redis.call('set', KEYS[2], 'b'); "
                "return redis.call('incr', KEYS[2])", *pair)])
        add([ev("redis.call('set', KEYS[1], 'a'); return redis.pcall('incr', KEYS[2]) ", *pair),
             ev("redis.call('set', KEYS[2], 'x')\nlocal a = 1\n\nreturn redis.call('incr', KEYS[2])", *pair),
             ev("redis.call('set', KEYS[2], 'x'); return redis.call('nosuch')", *pair),
             ev("redis.call('get', KEYS[1]); error('late')", *pair),
             ev("redis.call('get', KEYS[1]); return 'a' .. nil", *pair),
             ev("return {KEYS[1], KEYS[2], ARGV[1], #KEYS, #ARGV}", *pair, "arg1"),
             ev("redis.call('get', KEYS[1]); return redis.call('ping')", *pair),
             ev("return redis.call('get', KEYS[2]) or 'none'", *pair)])
        add([ev("redis.setresp(3); redis.call('hset', KEYS[2], 'f', 'v'); "
                "return redis.call('hgetall', KEYS[2])", *pair)])
        # Lua's pcall and xpcall around redis.call (across shards they run
        # the call as a thread of their own: script_xpcall.c).
        add([["SET", pair[0], "abc"], ["DEL", pair[1]]] + [ev(src, *pair) for src in PCALLS])
    # EVAL_RO: writes refused.
    add([ev("return redis.call('set', KEYS[1], 1)", "{k}")[0:0] + ["EVAL_RO", "return redis.call('set', KEYS[1], 1)", "1", "{k}"],
         ["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "{k}"],
         ["EVAL_RO", "return redis.pcall('incr', KEYS[1])", "1", "{k}"],
         ["EVAL_RO", "return redis.call('get', KEYS[1])", "2", "{k}", "{k2}"],
         ["EVAL_RO", "return redis.call('set', KEYS[2], 1)", "2", "{k}", "{k2}"]])
    # Shebang flags.
    for body in ("#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 1)",
                 "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])",
                 "#!lua\nreturn redis.call('set', KEYS[1], 1)",
                 "#!lua flags=allow-oom,no-writes\nreturn 1",
                 "#!lua flags=bogus\nreturn 1", "#!lua flags=no-writes,,x\nreturn 1",
                 "#!lua flags=\nreturn 1", "#!lua name=x\nreturn 1", "#!python\nreturn 1",
                 "#!lua", "#!\nreturn 1", "#!lua\nerror('line two')",
                 "#!lua flags=allow-cross-slot-keys\nreturn 1"):
        add([["EVAL", body, "1", "{k}"], ["EVAL_RO", body, "1", "{k}"]])
    return cases


def eval_cases():
    cases = []
    add = cases.append
    for group in (RETURNS, API, ERRORS):
        for src in group:
            add([["EVAL", src, "0"]])
    # numkeys and arguments.
    for n in ("-1", "abc", "", "1.5", "2", "9223372036854775807", "-9223372036854775808",
              "9223372036854775808", " 1", "01"):
        add([["EVAL", "return #KEYS", n, "a"], ["EVAL_RO", "return #KEYS", n, "a"],
             ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", n, "a"]])
    add([["EVAL", "return 1"], ["EVAL"], ["EVALSHA", "x"], ["EVAL_RO", "return 1"],
         ["EVALSHA_RO", "x"]])
    # Existing globals stay as they are for the next script, also through
    # _G and loadstring; a body starting with ESC is text, not bytecode.
    add([["EVAL", "redis = 5", "0"], ["EVAL", "return type(redis)", "0"],
         ["EVAL", "_G.redis = 5", "0"], ["EVAL", "loadstring('redis = 5')()", "0"],
         ["EVAL", "cjson = nil", "0"], ["EVAL", "return type(cjson)", "0"],
         ["EVAL", "pcall = nil", "0"], ["EVAL", "return type(pcall)", "0"],
         ["EVAL", "return loadstring('return 1 + 1')()", "0"],
         ["EVAL", "\x1bLuaQ\x00\x01\x04\x08", "0"], ["SCRIPT", "LOAD", "\x1bLua"]])
    add([["EVAL", "return {KEYS, ARGV}", "0"], ["EVAL", "return ARGV", "0", "a", "b", ""],
         ["EVAL", "return KEYS", "3", "{k}", "{k2}", "{k3}", "x"]])
    return cases


def sha_cases():
    one = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"  # "return 1"
    cases = []
    add = cases.append
    add([["SCRIPT", "FLUSH"], ["EVALSHA", one, "0"], ["SCRIPT", "EXISTS", one],
         ["SCRIPT", "LOAD", "return 1"], ["SCRIPT", "EXISTS", one, one.upper(), "nope", ""],
         ["EVALSHA", one, "0"], ["EVALSHA", one.upper(), "0"], ["EVALSHA_RO", one, "0"],
         ["EVAL", "return 1", "0"]])
    for bad in ("", "x", one[:39], one + "0", "z" * 40, one[:-1] + "G"):
        add([["EVALSHA", bad, "0"], ["EVALSHA_RO", bad, "0"], ["EVALSHA", bad, "x"]])
    add([["SCRIPT", "LOAD", "syntax error"], ["SCRIPT", "LOAD", "#!lua flags=x\nreturn 1"],
         ["SCRIPT", "LOAD", "return redis.call('get', KEYS[1])"],
         ["EVALSHA", "9bd17f7e4e0d8ba9df5dd24a1bc0b0e67b4ac1d2", "1", "{k}"]])
    # A script loaded on one connection runs by SHA on others (other workers).
    add([["SCRIPT", "LOAD", "return 'loaded ' .. ARGV[1]"]])
    add([["SCRIPT", "FLUSH", "ASYNC"], ["SCRIPT", "FLUSH", "SYNC"], ["SCRIPT", "FLUSH", "sync"],
         ["SCRIPT", "FLUSH", "bogus"], ["SCRIPT", "FLUSH", "SYNC", "x"], ["EVALSHA", one, "0"]])
    add([["SCRIPT"], ["SCRIPT", "foo"], ["SCRIPT", "EXISTS"], ["SCRIPT", "LOAD"],
         ["SCRIPT", "LOAD", "a", "b"], ["SCRIPT", "KILL"], ["SCRIPT", "KILL", "x"],
         ["SCRIPT", "HELP"], ["SCRIPT", "HELP", "x"], ["SCRIPT", "DEBUG"],
         ["script", "exists", "a"]])
    # Alone: Redis refuses SCRIPT DEBUG behind other replies in a pipeline.
    add([["SCRIPT", "DEBUG", "foo"]])
    add([["SCRIPT", "DEBUG", "no"]])
    return cases


class ScriptDiff(skvdiff.DiffTest):
    SKV_ARGS = ("--threads", "2")

    def test_returns_api_errors(self):
        self.compare(eval_cases(), "EVAL")

    def test_calls(self):
        self.compare(call_cases(), "redis.call")

    def test_sha_and_script(self):
        self.compare(sha_cases(), "SCRIPT/EVALSHA")

    def test_loaded_script_found_from_every_connection(self):
        sha = "4f4b8ab06d04f5a3bf1b5af8e0d2c1b42f8c33a1"
        rc = RawConn(self.redis.port)
        got = []
        try:
            want = rc.run([["SCRIPT", "LOAD", "return 'hi ' .. ARGV[1]"]])
            sha = want[0].split(b"\r\n")[1].decode()
            self.sc.run([["SCRIPT", "LOAD", "return 'hi ' .. ARGV[1]"]])
            # Fresh connections land on either worker.
            for i in range(8):
                c = RawConn(self.skv.port)
                try:
                    got.append(c.run([["EVALSHA", sha, "0", str(i)]])[0])
                finally:
                    c.close()
        finally:
            rc.close()
        self.assertEqual(got, [b"$4\r\nhi %d\r\n" % i for i in range(8)])

    def test_resp3_client(self):
        rc, sc = RawConn(self.redis.port), RawConn(self.skv.port)
        try:
            rc.run([["HELLO", "3"]])
            sc.run([["HELLO", "3"]])
            cases = [[["EVAL", s, "0"]] for s in RETURNS + [
                "redis.setresp(3); return redis.call('ping')",
                "redis.setresp(3); return true", "redis.setresp(3); return false",
                "return {double=1.5}", "return {map={a={1,2}}}", "return {set={x=true}}",
                "return {big_number='1234567890123456789012'}", "return nil"]]
            cases.append([ev("redis.call('hset', KEYS[1], 'a', 1); redis.setresp(3); "
                             "return redis.call('hgetall', KEYS[1])", "{k}"),
                          ev("redis.setresp(3); return redis.call('hget', KEYS[1], 'x')", "{k}"),
                          ev("return redis.call('hget', KEYS[1], 'x')", "{k}")])
            self.compare(cases, "RESP3", rc=rc, sc=sc)
        finally:
            rc.close()
            sc.close()

    def test_inside_multi(self):
        cases = [[["MULTI"], ev("return redis.call('incr', KEYS[1])", "{k}"),
                  ev("redis.call('set', KEYS[1], 'a'); redis.call('set', KEYS[2], 'b'); "
                     "return {redis.call('get', KEYS[1]), redis.call('get', KEYS[2])}", "{k}", "{k2}"),
                  ev("return redis.call('get', KEYS[1])", "{k3}"), ["EXEC"]],
                 [["MULTI"], ["EVAL", "return 1", "x"], ["EXEC"]],
                 [["MULTI"], ["EVAL", "return 1", "0"], ["EXEC"]],
                 [["MULTI"], ["SET", "{k}", "1"], ["EVAL", "return redis.call('ping')", "0"],
                  ["EVAL_RO", "return {1, 2}", "0"], ["EVAL", "return redis.call('get', KEYS[1])", "1", "{k}"],
                  ["EXEC"]],
                 [["MULTI"], ["EVALSHA", "x", "0"], ["EXEC"]]]
        self.compare(cases, "MULTI")


def cross_pair(c):
    """Two keys on different shards of shardkv client c (the key hash is
    seeded per start), or None."""
    for i in range(64):
        pair = ["xa", "xb%d" % i]
        got = c.call("EVAL", "return redis.call('mget', KEYS[1], KEYS[2])", "2", *pair)
        if isinstance(got, skvtest.RespError):
            if "may not span shards" in str(got):
                return pair
    return None


class PcallAcrossShards(skvdiff.DiffTest):
    """Lua's pcall and xpcall in scripts whose keys are on two shards
    (ScriptDiff's pairs may fall on one shard in a given run)."""

    SKV_ARGS = ("--threads", "2")

    def test_pcall_cases(self):
        with self.skv.client() as c:
            pair = cross_pair(c)
        self.assertIsNotNone(pair, "no two keys on different shards")
        cases = [[["SET", pair[0], "abc"], ["DEL", pair[1]], ["EVAL", src, "2"] + pair,
                  ["MGET"] + pair] for src in PCALLS]
        self.compare(cases, "pcall across shards")

    def test_pcall_keeps_the_script_atomic(self):
        # Clients run, at once, a script that reads both keys and writes
        # both through pcall (one write inside a function); another reads
        # both keys in one script. Lost updates or a torn read mean the
        # script's transaction let something in between its commands.
        with self.skv.client() as c:
            pair = cross_pair(c)
            self.assertIsNotNone(pair, "no two keys on different shards")
            c.call("MSET", pair[0], "0", pair[1], "0")
        bump = ("local a = tonumber(redis.call('get', KEYS[1])); "
                "local b = tonumber(redis.call('get', KEYS[2])); "
                "local ok1 = pcall(redis.call, 'set', KEYS[1], a + 1); "
                "local ok2, e = pcall(function() redis.call('set', KEYS[2], b + 1); "
                "redis.call('hget', KEYS[1], 'f') end); "
                "return {tostring(ok1), tostring(ok2)}")
        read = "return {redis.call('get', KEYS[1]), redis.call('get', KEYS[2])}"
        per, writers = 150, 4
        errors = []

        def writer():
            try:
                with self.skv.client() as wc:
                    for _ in range(per):
                        # The HGET on a string fails inside the pcall.
                        got = wc.call("EVAL", bump, "2", *pair)
                        if got != [b"true", b"false"]:
                            errors.append(got)
                            return
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)

        def reader():
            try:
                with self.skv.client() as rc:
                    for _ in range(per):
                        a, b_ = rc.call("EVAL", read, "2", *pair)
                        if a != b_:
                            errors.append(("torn", a, b_))
                            return
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        ts = [threading.Thread(target=writer) for _ in range(writers)]
        ts += [threading.Thread(target=reader) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        with self.skv.client() as c:
            want = str(per * writers).encode()
            self.assertEqual(c.call("MGET", *pair), [want, want])


class ScriptShardkvOnly(unittest.TestCase):
    """What shardkv does on purpose differently from Redis."""

    @classmethod
    def setUpClass(cls):
        cls.skv = skvtest.ShardkvServer(["--threads", "2"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.skv.stop()

    def test_undeclared_key_is_refused(self):
        with self.skv.client() as c:
            for keys in (["a"], ["a", "b"], ["a", "c"], []):
                got = c.call("EVAL", "return redis.call('get', 'undeclared')", str(len(keys)), *keys)
                self.assertIsInstance(got, skvtest.RespError)
                self.assertTrue(str(got).startswith("ERR script tried accessing undeclared key "
                                                    "script: "), str(got))
                got = c.call("EVAL", "return redis.pcall('get', 'undeclared')['err']",
                             str(len(keys)), *keys)
                self.assertEqual(got, b"ERR script tried accessing undeclared key")

    def cross_pair(self, c):
        """Two keys on different shards (the key hash is seeded per start)."""
        for i in range(64):
            pair = ["xa", "xb%d" % i]
            got = c.call("EVAL", "return redis.call('mget', KEYS[1], KEYS[2])", "2", *pair)
            if isinstance(got, skvtest.RespError):
                self.assertIn("may not span shards", str(got))
                return pair
        self.fail("no two keys on different shards")

    def test_cross_shard_limits(self):
        # Inside a script whose keys span shards, a command must keep its
        # keys on one shard, and redis.call cannot yield from a coroutine
        # the script made.
        with self.skv.client() as c:
            pair = self.cross_pair(c)
            got = c.call("EVAL", "local f = coroutine.wrap(function() "
                         "return redis.call('get', KEYS[1]) end); return f()", "2", *pair)
            self.assertIsInstance(got, skvtest.RespError)
            self.assertIn("redis.call from a coroutine", str(got))
            # What works: redis.pcall and Lua's pcall (compared with Redis
            # in ScriptDiff), and the script goes on after both.
            got = c.call("EVAL", "redis.call('set', KEYS[1], 'a'); "
                         "local e = redis.pcall('incr', KEYS[1]); "
                         "redis.call('set', KEYS[2], 'b'); "
                         "return {e['err'], redis.call('get', KEYS[2])}", "2", *pair)
            self.assertEqual(got, [b"ERR value is not an integer or out of range", b"b"])

    def test_math_random_starts_where_redis_starts(self):
        # Redis's generator starts at a fixed state and is never reseeded
        # between scripts; each worker here has its own, so a fresh server's
        # first call on a worker gives Redis's first number.
        with skvtest.ShardkvServer(["--threads", "1"]) as srv, srv.client() as c:
            got = c.call("EVAL", "return {math.random(1000000), math.random(1000000)}", "0")
            self.assertEqual(got, [396465, 840486])


if __name__ == "__main__":
    skvtest.main()
