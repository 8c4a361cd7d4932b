#!/usr/bin/python3
"""Differential test of the cmsgpack and struct Lua libraries against a real
redis-server 7.0, byte for byte, errors included. shardkv writes both
libraries itself (Debian packages neither for Lua 5.1), so this is where
their encodings, decodings and error texts are held to Redis's:

* cmsgpack.pack of every Lua type, every integer width at its boundaries,
  floats that fit a float 32 and that do not, strings across the 31, 255
  and 65535 length boundaries, arrays and maps across 15 and 65535
  entries, nesting to the 16-level bound, tables that hold themselves;
* cmsgpack.unpack, unpack_one and unpack_limit of every MessagePack form
  (and the ones lua_cmsgpack refuses), each valid input truncated at every
  byte, huge declared lengths, deep nesting, too many values, offsets and
  limits, and a few hundred random (and mutated) inputs;
* struct.pack, struct.unpack and struct.size with every format letter,
  both byte orders, alignments, integer widths 0..32 at their boundaries,
  bad formats and short data, and random formats over random data.

Decoded values are returned as a canonical text (numbers as %.17g, tables
with their entries sorted), so a difference in a value's type or in a
float's last bit shows. shardkv runs with --threads 2 and a few scripts
declare keys on both shards, so the cross-shard (coroutine) path runs too.
Run: /usr/bin/python3 test_diff_script_libs.py with SHARDKV_BIN set.
"""

import os
import random
import struct as pystruct
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
import skvdiff  # noqa: E402

# A Lua prelude: dump(...) turns values into one canonical string.
DUMP = r"""
local function d(v, depth)
  local t = type(v)
  if t == 'number' then return string.format('%.17g', v) end
  if t == 'string' then return string.format('%q', v) end
  if t == 'table' then
    if depth > 24 then return '{...}' end
    local e = {}
    for k, x in pairs(v) do e[#e + 1] = d(k, depth + 1) .. '=' .. d(x, depth + 1) end
    table.sort(e)
    return '{' .. table.concat(e, ',') .. '}'
  end
  return tostring(v)
end
local function dump(...)
  local r = {select('#', ...)}
  for i = 1, select('#', ...) do r[#r + 1] = d((select(i, ...)), 0) end
  return table.concat(r, ' ')
end
"""


def ev(src, *args):
    return ["EVAL", src, "0"] + list(args)


def evd(expr, *args):
    """EVAL returning dump(expr)."""
    return ev(DUMP + "return dump(%s)" % expr, *args)


# ---------------------------------------------------------------- cmsgpack.pack

INT_EDGES = ["0", "1", "-1", "31", "32", "-31", "-32", "-33", "127", "128", "-127", "-128",
             "-129", "255", "256", "-255", "-256", "32767", "32768", "-32768", "-32769",
             "65535", "65536", "-65536", "2^31-1", "2^31", "-2^31", "-2^31-1", "2^32-1",
             "2^32", "-2^32", "2^53", "-2^53", "2^62", "2^63-1024", "2^63", "-2^63",
             "-2^63-2048", "2^64", "-2^64", "1e300", "-1e300"]
FLOATS = ["0.5", "-0.5", "1.5", "0.1", "-0.1", "1/3", "3.4028234663852886e38",
          "3.4028235677973366e38", "1e39", "-1e39", "1.401298464324817e-45", "1e-46",
          "2.2250738585072014e-308", "4.9406564584124654e-324", "1/0", "-1/0", "0/0",
          "-(0/0)", "-0.0", "2^24+1", "2^24+0.5", "16777217.5", "123456.789"]


def pack_cases():
    cases = []
    add = cases.append
    for group in (INT_EDGES, FLOATS):
        add([ev("return cmsgpack.pack(%s)" % x) for x in group])
    add([ev("return cmsgpack.pack(%s)" % ", ".join(INT_EDGES + FLOATS))])
    for n in (0, 1, 30, 31, 32, 33, 254, 255, 256, 257, 65534, 65535, 65536, 65537, 100000):
        add([ev("return cmsgpack.pack(string.rep('x', %d))" % n),
             ev("return cmsgpack.pack(string.rep('\\0\\255', %d / 2), 'tail')" % n)])
    rnd = random.Random(12)
    add([ev("return cmsgpack.pack(ARGV[1])", bytes(rnd.randrange(256) for _ in range(n)))
         for n in (0, 5, 31, 32, 300, 70000)])
    lua_values = [
        "nil", "true", "false", "''", "'abc'", "{}", "{{}}", "{1,2,3}", "{1,2,nil,3}",
        "{nil,2}", "{[2]=1}", "{[0]=1}", "{[-1]=1}", "{[1.5]=1}", "{[1]=1,[2]=2,[4]=4}",
        "{a=1}", "{1,2,a=3}", "{[true]=1}", "{[false]='f'}", "{[1/0]=1}",
        "{x={y={z={}}}}", "{1,{2,{3,{4}}}}", "{'a',{b='c'},true,false,1.5,-7}",
        "{a=print}", "{print}", "function() end", "coroutine.create(function() end)",
        "{[{}]=1}", "{[{1,2}]={3}}", "{ok='x'}", "{err='y'}",
        "{f=0.5,g=-0.25,h=2^40}", "{[2^40]=1}",
    ]
    add([ev("return cmsgpack.pack(%s)" % v) for v in lua_values])
    add([ev("return cmsgpack.pack(%s)" % ", ".join(lua_values[:8]))])
    # Array and map sizes across the fix/16/32 forms.
    for n in (14, 15, 16, 17, 65535, 65536, 65537):
        add([ev("local t = {} for i = 1, %d do t[i] = i %% 7 end return cmsgpack.pack(t)" % n),
             ev("local t = {} for i = 1, %d do t['k' .. i] = i end "
                "return #cmsgpack.pack(t) .. ':' .. string.byte(cmsgpack.pack(t), 1)" % n),
             ev("local t = {} for i = 1, %d do t[i * 2] = true end "
                "return #cmsgpack.pack(t) .. ':' .. string.byte(cmsgpack.pack(t), 1)" % n)])
    # Maps whose key order is Lua's (same hash and table code in both).
    add([ev("local t = {} for i = 1, 40 do t['key' .. i] = i end return cmsgpack.pack(t)"),
         ev("local t = {} for i = 1, 40 do t[i * 3.5] = i end return cmsgpack.pack(t)"),
         ev("local t = {} for i = 40, 1, -1 do t[-i] = 'v' .. i end return cmsgpack.pack(t)"),
         ev("return cmsgpack.pack({a=1, b=2, c=3, d=4, e={1, 2, {x='y'}}})")])
    # The nesting bound, and tables holding themselves.
    for depth in (14, 15, 16, 17, 18, 30):
        add([ev("local t = {} local c = t for i = 1, %d do c[1] = {} c = c[1] end "
                "return cmsgpack.pack(t)" % depth),
             ev("local t = {} local c = t for i = 1, %d do c.k = {} c = c.k end "
                "return cmsgpack.pack(t)" % depth),
             ev("local t = {} local c = t for i = 1, %d do local n = {} c[n] = 1 c = n end "
                "return cmsgpack.pack(t)" % depth)])
    add([ev("local t = {} t[1] = t return cmsgpack.pack(t)"),
         ev("local t = {} t.me = t return cmsgpack.pack(t)"),
         ev("local t = {} t[1] = t t[2] = t return #cmsgpack.pack(t)"),
         ev("local t = {} t[1] = {t, t} return #cmsgpack.pack(t)"),
         # A table key at the bound packs as nil: the result does not unpack.
         ev("local t = {} local c = t for i = 1, 15 do c.k = {} c = c.k end c[{}] = 1 "
            "return cmsgpack.pack(t)"),
         ev("local t = {} local c = t for i = 1, 15 do c.k = {} c = c.k end c[{}] = 1 "
            "return cmsgpack.unpack(cmsgpack.pack(t))")])
    # Argument counts and bad calls.
    add([ev("return cmsgpack.pack()"),
         ev("local t = {} for i = 1, 4000 do t[i] = i end return #cmsgpack.pack(unpack(t))"),
         ev("local t = {} for i = 1, 4001 do t[i] = i end return #cmsgpack.pack(unpack(t))"),
         ev("return cmsgpack.pack(nil, nil)"), ev("return cmsgpack.pack(1, nil, 2)")])
    # Round trips.
    for v in lua_values[:24]:
        add([evd("cmsgpack.unpack(cmsgpack.pack(%s))" % v)])
    add([ev("local s = cmsgpack.pack(%s) return cmsgpack.pack(cmsgpack.unpack(s)) == s" % x)
         for x in INT_EDGES])
    return cases


# -------------------------------------------------------------- cmsgpack.unpack

def be(n, size):
    return (n % (1 << (8 * size))).to_bytes(size, "big")


def mp_str(s):
    n = len(s)
    if n < 32:
        return bytes([0xa0 | n]) + s
    if n < 256:
        return b"\xd9" + be(n, 1) + s
    if n < 65536:
        return b"\xda" + be(n, 2) + s
    return b"\xdb" + be(n, 4) + s


def valid_inputs():
    """MessagePack inputs of every form lua_cmsgpack reads."""
    v = [bytes([b]) for b in (0x00, 0x01, 0x7f, 0xe0, 0xf0, 0xff, 0xc0, 0xc2, 0xc3)]
    for t, size in ((0xcc, 1), (0xcd, 2), (0xce, 4), (0xcf, 8), (0xd0, 1), (0xd1, 2),
                    (0xd2, 4), (0xd3, 8)):
        for n in (0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
                  0xffffffff, (1 << 53) + 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1):
            if n < (1 << (8 * size)):
                v.append(bytes([t]) + be(n, size))
    for f in (0.0, -0.0, 0.5, 1.5, -2.75, 3.4e38, 1e-45, float("inf"), float("-inf")):
        v.append(b"\xca" + pystruct.pack(">f", f))
    v.append(b"\xca\x7f\xc0\x00\x01")  # a NaN with a payload
    for f in (0.0, -0.0, 0.1, 1e300, 5e-324, float("inf"), 2.0 ** 63, -(2.0 ** 63)):
        v.append(b"\xcb" + pystruct.pack(">d", f))
    v.append(b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x01")
    for n in (0, 1, 31):
        v.append(mp_str(b"s" * n))
    v += [b"\xd9\x00", b"\xd9\x20" + b"a" * 32, b"\xd9\xff" + b"b" * 255, b"\xda\x00\x00",
          b"\xda\x01\x00" + b"c" * 256, b"\xdb\x00\x00\x00\x00", b"\xdb\x00\x00\x01\x00" + b"d" * 256,
          mp_str(bytes(range(256)) * 257)]
    v += [b"\x90", b"\x91\x01", b"\x93\x01\xc0\x03", b"\x92\xc0\xc0", b"\x9f" + bytes(range(15)),
          b"\xdc\x00\x00", b"\xdc\x00\x10" + bytes(16), b"\xdd\x00\x00\x00\x02\xa1x\x91\x90",
          b"\x80", b"\x81\xa1k\x01", b"\x82\x01\xa1a\x02\xa1b", b"\x81\xcb" + pystruct.pack(">d", 1.5) + b"\xc3",
          b"\x81\x90\x01", b"\x81\x81\x01\x02\x81\x03\x04", b"\x81\xc3\xc2", b"\x81\x01\xc0",
          b"\x8f" + b"".join(bytes([i, i]) for i in range(15)),
          b"\xde\x00\x10" + b"".join(bytes([i, 0xa1, 0x61 + i]) for i in range(16)),
          b"\xdf\x00\x00\x00\x01\xa3key\x93\x01\x02\x03",
          b"\x81\xa1a\x81\xa1b\x81\xa1c\x91\x90"]
    return v


BAD = [b"\xc1", b"\xc4\x01a", b"\xc5\x00\x01a", b"\xc6\x00\x00\x00\x01a", b"\xc7\x01\x01a",
       b"\xc8\x00\x01\x01a", b"\xc9\x00\x00\x00\x01\x01a", b"\xd4\x01a", b"\xd5\x01ab",
       b"\xd6\x01abcd", b"\xd7\x01" + b"a" * 8, b"\xd8\x01" + b"a" * 16, b"\x91\xc1",
       b"\x81\xc1\x01", b"\x81\x01\xc1", b"\x01\xc1", b"\x92\x01\xc4",
       b"\x81\xc0\x01", b"\x81\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00\x01",
       b"\xdb\xff\xff\xff\xff", b"\xdb\x7f\xff\xff\xff", b"\xdb\x80\x00\x00\x00abc",
       b"\xda\xff\xff", b"\xdd\xff\xff\xff\xff", b"\xdd\x80\x00\x00\x00\x01\x02",
       b"\xdd\x7f\xff\xff\xff\x90", b"\xdc\xff\xff\x01", b"\xdf\xff\xff\xff\xff",
       b"\xdf\x80\x00\x00\x00\x01\x02", b"\xde\xff\xff\xa1a"]

UNPACK = DUMP + "return dump(cmsgpack.unpack(ARGV[1]))"
UNPACK_ONE = DUMP + "return dump(cmsgpack.unpack_one(ARGV[1], tonumber(ARGV[2])))"
UNPACK_LIMIT = DUMP + "return dump(cmsgpack.unpack_limit(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])))"


def random_value(rnd, depth=0):
    """Random MessagePack bytes, with non-shortest forms too."""
    k = rnd.randrange(12 if depth < 4 else 8)
    if k == 0:
        return bytes([rnd.choice([0xc0, 0xc2, 0xc3, rnd.randrange(0x80), rnd.randrange(0xe0, 0x100)])])
    if k == 1:
        t, size = rnd.choice([(0xcc, 1), (0xcd, 2), (0xce, 4), (0xcf, 8), (0xd0, 1), (0xd1, 2),
                              (0xd2, 4), (0xd3, 8)])
        return bytes([t]) + bytes(rnd.randrange(256) for _ in range(size))
    if k == 2:
        return b"\xca" + bytes(rnd.randrange(256) for _ in range(4))
    if k == 3:
        return b"\xcb" + bytes(rnd.randrange(256) for _ in range(8))
    if k in (4, 5, 6, 7):
        s = bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 5, 31, 32, 40])))
        form = rnd.randrange(4)
        if form == 0 and len(s) < 32:
            return bytes([0xa0 | len(s)]) + s
        return [b"\xd9" + be(len(s), 1), b"\xda" + be(len(s), 2), b"\xdb" + be(len(s), 4),
                b"\xd9" + be(len(s), 1)][form] + s
    n = rnd.randrange(5)
    if k in (8, 9):
        head = rnd.choice([bytes([0x90 | n]), b"\xdc" + be(n, 2), b"\xdd" + be(n, 4)])
        return head + b"".join(random_value(rnd, depth + 1) for _ in range(n))
    head = rnd.choice([bytes([0x80 | n]), b"\xde" + be(n, 2), b"\xdf" + be(n, 4)])
    # Keys that are never nil or NaN, so most maps decode.
    keys = [mp_str(b"k%d" % i) if rnd.randrange(3) else bytes([i]) for i in range(n)]
    return head + b"".join(keys[i] + random_value(rnd, depth + 1) for i in range(n))


def unpack_cases():
    cases = []
    add = cases.append
    valid = valid_inputs()
    for i in range(0, len(valid), 16):
        add([ev(UNPACK, x) for x in valid[i:i + 16]])
    add([ev(UNPACK, b"".join(valid[:40]))])
    add([ev(UNPACK, x) for x in BAD])
    # Every valid input cut short at every byte.
    cut = []
    for x in valid:
        if len(x) < 300:
            cut += [ev(UNPACK, x[:i]) for i in range(1, len(x))]
    for i in range(0, len(cut), 64):
        add(cut[i:i + 64])
    # Nesting and counts at Lua's stack bound (LUAI_MAXCSTACK).
    for n in (100, 3990, 3998, 3999, 4000, 5000):
        add([ev(DUMP + "return select('#', cmsgpack.unpack(ARGV[1]))", b"\x91" * n + b"\x01"),
             ev(DUMP + "return select('#', cmsgpack.unpack(ARGV[1]))", b"\xdc\x00\x01" * n + b"\x90")])
    for n in (100, 7990, 7997, 7998, 7999, 8000, 9000):
        add([ev(DUMP + "return select('#', cmsgpack.unpack(ARGV[1]))", b"\x81" * n + b"\x01"),
             ev(DUMP + "return select('#', cmsgpack.unpack(ARGV[1]))", b"\x81\x00" * n + b"\x01"),
             ev(DUMP + "return select('#', cmsgpack.unpack(ARGV[1]))", b"\x00" * n),
             ev(DUMP + "return select('#', cmsgpack.unpack(ARGV[1], 'extra'))", b"\x00" * n),
             ev(DUMP + "return select('#', cmsgpack.unpack_limit(ARGV[1], 0))", b"\x00" * n),
             ev(DUMP + "return select('#', cmsgpack.unpack_limit(ARGV[1], %d, 1))" % n, b"\x00" * n)])
    # Huge declared lengths over short input: errors, quickly.
    add([ev(UNPACK, b"\xdd\xff\xff\xff\xff" + b"\x90" * 1000),
         ev(UNPACK, b"\xdf\xff\xff\xff\xff" + b"\x01\x90" * 1000),
         ev(UNPACK, b"\xdb\xff\xff\xff\xff" + b"x" * 1000)])
    # unpack_one / unpack_limit: offsets and limits.
    stream = b"\x01\xa2ab\x92\x03\x04\xc0\xcb" + pystruct.pack(">d", 2.5)
    for off in ("0", "1", "2", "4", "5", "7", "8", "16", "17", "-1", "4294967297", "x", "1.9"):
        add([ev(UNPACK_ONE, stream, off), ev(UNPACK_ONE, b"\x01\x02\x03", off),
             ev(UNPACK_ONE, b"", off)])
        for lim in ("0", "1", "2", "3", "10", "-1", "-2"):
            add([ev(UNPACK_LIMIT, stream, lim, off)])
    add([evd("cmsgpack.unpack_one(ARGV[1])", stream), evd("cmsgpack.unpack_one(ARGV[1], nil)", stream),
         evd("cmsgpack.unpack_limit(ARGV[1])", stream), evd("cmsgpack.unpack_limit(ARGV[1], 2)", stream),
         evd("cmsgpack.unpack_limit(ARGV[1], 'a')", stream), evd("cmsgpack.unpack_one(ARGV[1], {})", stream),
         evd("cmsgpack.unpack()"), evd("cmsgpack.unpack(nil)"), evd("cmsgpack.unpack({})"),
         evd("cmsgpack.unpack(12)"), evd("cmsgpack.unpack(-1.5)"), evd("cmsgpack.unpack('')"),
         evd("cmsgpack.unpack_one('')"), evd("cmsgpack.unpack_limit('', 1)"),
         evd("cmsgpack.unpack_one()"), evd("cmsgpack.unpack_limit()"),
         evd("cmsgpack.unpack_one(ARGV[1], 1, 2, 3)", stream),
         ev("local s, n = '\\1\\2\\3', 0 local off, v = cmsgpack.unpack_one(s) "
            "local r = {} while off ~= -1 do r[#r + 1] = v off, v = cmsgpack.unpack_one(s, off) end "
            "r[#r + 1] = v return r"),
         evd("pcall(cmsgpack.unpack, ARGV[1])", b"\xc1"), evd("pcall(cmsgpack.unpack, ARGV[1])", b"\x92")])
    # Random inputs, whole and mutated.
    rnd = random.Random(7)
    rand = []
    for _ in range(300):
        x = b"".join(random_value(rnd) for _ in range(rnd.randrange(1, 4)))
        rand.append(ev(UNPACK, x))
        y = bytearray(x)
        for _ in range(rnd.randrange(1, 4)):
            y[rnd.randrange(len(y))] = rnd.randrange(256)
        rand.append(ev(UNPACK, bytes(y)))
        rand.append(ev(UNPACK, x[:rnd.randrange(len(x) + 1)]))
        rand.append(ev(DUMP + "local s = cmsgpack.pack(cmsgpack.unpack(ARGV[1])) "
                       "return dump(s, cmsgpack.unpack(s))", x))
    for i in range(0, len(rand), 100):
        add(rand[i:i + 100])
    return cases


# ------------------------------------------------------------------- struct

SPACK = ("local a = {} for i = 2, #ARGV do a[#a + 1] = tonumber(ARGV[i]) or ARGV[i] end "
         "return struct.pack(ARGV[1], unpack(a))")
SUNPACK = DUMP + "return dump(struct.unpack(ARGV[1], ARGV[2], tonumber(ARGV[3])))"
SSIZE = DUMP + "return dump(struct.size(ARGV[1]))"

NUMS = ["0", "1", "-1", "127", "128", "-128", "-129", "255", "256", "32767", "32768", "-32769",
        "65535", "65536", "2147483647", "2147483648", "-2147483649", "4294967295", "4294967296",
        "9007199254740993", "9223372036854775807", "-9223372036854775808", "1.8446744073709552e19",
        "3.7e19", "-1e30", "0.5", "-0.5", "1.5", "-2.5", "1e300", "inf", "-inf", "nan", "-nan"]


def struct_cases():
    cases = []
    add = cases.append
    lua_nums = {"inf": "1/0", "-inf": "-1/0", "nan": "0/0", "-nan": "-(0/0)"}
    for order in ("<", ">", ""):
        for letter in "bBhHlLTiIfd":
            add([ev("return struct.pack('%s%s', %s)" % (order, letter, lua_nums.get(n, n)))
                 for n in NUMS])
        for width in (0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32):
            for letter in "iI":
                add([ev("return struct.pack('%s%s%d', %s)" % (order, letter, width, lua_nums.get(n, n)))
                     for n in NUMS[:24]])
    rnd = random.Random(3)
    data = [bytes([0] * 40), bytes([0xff] * 40), bytes([0x80] + [0] * 39), bytes([0] * 7 + [0x80] * 33),
            bytes(rnd.randrange(256) for _ in range(40)), bytes(range(40)), bytes(range(255, 215, -1))]
    for order in ("<", ">", "!", "!4>", "<!2", "!16"):
        for letter in "bBhHlLTiIfd":
            add([ev(SUNPACK, "%s%s%s" % (order, "b", letter), x) for x in data])
        for width in (0, 1, 2, 3, 5, 7, 8, 9, 10, 15, 16, 17, 24, 31, 32):
            add([ev(SUNPACK, "%si%d I%d" % (order, width, width), x) for x in data])
    # Strings, padding, alignment.
    add([ev(SPACK, f, *args) for f, args in [
        ("c", ["abc"]), ("c3", ["abc"]), ("c5", ["abc"]), ("c2", ["abc"]), ("c0", ["abc"]),
        ("c0c0", ["ab", "cd"]), ("s", ["abc"]), ("s", [""]), ("s", ["a\0b"]), ("ss", ["a", "b"]),
        ("s5", ["abc"]), ("bxxb", ["1", "2"]), ("x", []), ("!4bi", ["1", "2"]),
        ("!bd", ["1", "2.5"]), ("!2bdbh", ["1", "2", "3", "4"]), ("!8bLbhbic2bd", ["1", "2", "3", "4", "5", "6", "xy", "7", "8"]),
        ("!16bd", ["1", "2"]), ("!1bd", ["1", "2"]), ("! b i", ["1", "2"]),
        (">!4 h b i c3 d", ["-2", "3", "-4", "xyz", "0.25"]), ("<i>i", ["1", "1"]),
        ("b", ["x"]), ("b", []), ("i", ["12abc"]), ("c", ["12"]), ("d", ["0x10"]), ("c1", ["5"]),
        ("", []), ("", ["extra"]), ("i0i0", ["1", "2"]), ("bb", ["1"]), ("c2", ["a"]),
        ("f", ["1e39"]), ("f", ["1e-50"]), ("f", ["3.4028235677973366e38"]), ("=b", ["1"]),
        ("z", ["1"]), ("b2", ["1"]), ("B300", ["1"]), ("!0", []), ("!3", []), ("!", []),
        ("!64b", ["1"]), ("!99999999999", []), ("!2147483647", []), ("!2147483648", []),
        ("i33", ["1"]), ("i99999999999", ["1"]), ("c2147483648", ["a"]), ("c2147483647", ["a"]),
        ("b\xe9", ["1"]), ("b\x00b", ["1", "2"]), ("#", []), ("-", []),
    ]])
    add([ev("return struct.pack()"), ev("return struct.pack(nil)"), ev("return struct.pack({})"),
         ev("return struct.pack(12, 1)"), ev("return struct.pack('c', {})"),
         ev("return struct.pack('s', nil)"), ev("return struct.pack('b', '1e2')"),
         ev("return struct.pack('d', '  7  ')")])
    # Unpack: short data, offsets, c0, s.
    add([ev(SUNPACK, f, d, *pos) for f, d, pos in [
        ("i", "abcd", []), ("i", "abc", []), ("i", "abcd", ["0"]), ("i", "abcd", ["-5"]),
        ("i", "abcd", ["-1"]), ("i", "abcd", ["1"]), ("i", "abcd", ["2"]), ("b", "abcd", ["4"]),
        ("b", "abcd", ["5"]), ("x", "abcd", ["5"]), ("", "abcd", ["5"]), ("", "abcd", ["-5"]),
        ("", "abcd", ["100"]), ("b", "abcd", ["2.7"]), ("b", "abcd", ["x"]),
        ("c0", "abc", []), ("bc0", "\x03abcd", []), ("bc0", "\x09abcd", []), ("c2c0", "12abc", []),
        ("c2c0", "02abc", []), ("c1c0", "-abc", []), ("c3c0", "0x2abc", []), ("c3c0", " 2 abc", []),
        ("fc0", b"\x00\x00\xc0\xbfabc", []), ("fc0", b"\x00\x00\xc0\x7fabc", []), ("bxc0", "\x02\x00ab", []),
        ("s", "abc", []), ("s", "ab\0c", []), ("ss", "a\0b\0", []), ("s", "", []), ("bs", "\x01", []),
        ("c", "", []), ("c3", "ab", []), ("c3", "abc", []), ("c0", "", ["1"]), ("!4bi", "\x01\0\0\0\x02\0\0\0", []),
        ("!4bi", "\x01\0\0\0\x02\0\0", []), ("bxxb", "\x01\0\0\x02", []), ("b\0b", "\x01\x02", []),
        ("z", "a", []), ("b2", "ab", []), ("=b", "a", []), ("i33", "a", []), ("!3", "a", []),
        ("i0i0", "", []), ("i0" * 4100, "", []), ("x" * 5000, "a" * 5000, []),
        ("b" * 3995, "a" * 4000, []), ("b" * 4000, "a" * 4000, []), ("c2147483647", "a", []),
    ]])
    add([evd("struct.unpack()"), evd("struct.unpack('b')"), evd("struct.unpack('b', nil)"),
         evd("struct.unpack(5, '12345')"), evd("struct.unpack('i', 5)"), evd("struct.unpack('i', {})"),
         evd("struct.unpack('d', 1.5)"), evd("struct.unpack('b', 'a', 1, 2)")])
    # size
    add([ev(SSIZE, f) for f in [
        "", "b", "B", "h", "H", "l", "L", "T", "i", "I", "f", "d", "x", "c", "c5", "c0", "s", "s5",
        "i0", "i1", "i16", "i32", "i33", "!", "!0", "!3", "!16", "!16bd", "!4bdbhbi", "bd", "!bd",
        "T l L f", "z", "Z", "=i", "!i", "<>b", "c2147483647", "c2147483648", "i99999999999",
        "bc2147483647", "c2147483647c2147483647", "5", "b5", "\xe9", "#", "!2bdbh",
        "!8bLbhbic2bd", "bi!4bi", "b\x00i",
    ]])
    add([evd("struct.size()"), evd("struct.size(nil)"), evd("struct.size(12)"), evd("struct.size({})")])
    # Random formats over random data, and pack of what unpack returned.
    alphabet = "<>!  xbBhHlLTiIfdcs0123456789"
    rand = []
    for _ in range(400):
        fmt = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 9)))
        d = bytes(rnd.randrange(256) if rnd.randrange(4) else 0 for _ in range(rnd.randrange(0, 48)))
        pos = [str(rnd.randrange(-1, 6))] if rnd.randrange(3) == 0 else []
        rand.append(ev(SUNPACK, fmt, d, *pos))
        rand.append(ev(SSIZE, fmt))
        rand.append(ev(DUMP + "local r = {pcall(struct.unpack, ARGV[1], ARGV[2])} "
                       "if not r[1] then return dump(unpack(r)) end "
                       "return dump(pcall(struct.pack, ARGV[1], unpack(r, 2)))", fmt, d))
    for i in range(0, len(rand), 100):
        add(rand[i:i + 100])
    return cases


def cross_cases():
    """A few scripts over keys on both shards: the coroutine path."""
    cases = []
    for pair in (["{k}", "{k2}"], ["{k}", "{k3}"], ["{k2}", "{k3}"]):
        def evk(src, *args):
            return ["EVAL", src, "2"] + pair + list(args)
        cases.append([
            ["SET", pair[0], "\x93\x01\xa1x\x81\xa1k\xc3"],
            evk(DUMP + "return dump(cmsgpack.unpack(redis.call('get', KEYS[1])))"),
            evk("redis.call('set', KEYS[2], cmsgpack.pack({1, 'two', {three=3}})) "
                "return redis.call('get', KEYS[2])"),
            evk("redis.call('get', KEYS[1]) return cmsgpack.unpack(string.rep('\\145', 5000))"),
            evk("redis.call('get', KEYS[1]) return select('#', cmsgpack.unpack(string.rep('\\0', 7999)))"),
            evk("redis.call('get', KEYS[1]) return select('#', cmsgpack.unpack(string.rep('\\0', 8000)))"),
            evk("redis.call('set', KEYS[2], struct.pack('>i2c0', -2, 'ab')) "
                "return {struct.unpack('>i2c2', redis.call('get', KEYS[2]))}"),
            evk("redis.call('get', KEYS[1]) return struct.unpack('c0', 'x')"),
            ["GET", pair[1]],
        ])
    return cases


def lib_cases():
    """The library tables: fields, read-only, present in a fresh state."""
    return [[ev("return {cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}"),
             ev("return {type(cmsgpack.pack), type(cmsgpack.unpack), type(cmsgpack.unpack_one), "
                "type(cmsgpack.unpack_limit), type(struct.pack), type(struct.unpack), type(struct.size)}"),
             ev("return {type(cmsgpack.safe), type(struct.x), type(cmsgpack.pack_one)}"),
             ev("cmsgpack.pack = nil"), ev("struct.size = 1"),
             ev("rawset(cmsgpack, 'x', 1)"), ev("rawset(struct, 'x', 1)"),
             ev("setmetatable(struct, {})"), ev("return getmetatable(cmsgpack) == nil"),
             ev("return type(cmsgpack)"), ev("return type(struct)"),
             ["SCRIPT", "FLUSH"], ev("return cmsgpack.pack(struct.size('i'))")]]


class ScriptLibsDiff(skvdiff.DiffTest):
    SKV_ARGS = ("--threads", "2")

    def test_cmsgpack_pack(self):
        self.compare(pack_cases(), "cmsgpack.pack")

    def test_cmsgpack_unpack(self):
        self.compare(unpack_cases(), "cmsgpack.unpack")

    def test_struct(self):
        self.compare(struct_cases(), "struct")

    def test_cross_shard_and_library_tables(self):
        self.compare(cross_cases() + lib_cases(), "cross-shard / library tables")


class ScriptLibsBounds(unittest.TestCase):
    """shardkv alone: what Redis leaves unbounded is bounded here by
    lua-memory-limit (and the 512 MB bound on a packed result), and the
    worker serves the next script."""

    def test_packing_and_unpacking_stay_bounded(self):
        with skvtest.StrictShardkvServer(["--threads", "1", "--lua-memory-limit", "32mb"]) as srv, \
                srv.client() as c:
            # 16^16 nodes: a table holding itself 16 times.
            got = c.call("EVAL", "local t = {} for i = 1, 16 do t[i] = t end "
                         "return #cmsgpack.pack(t)", "0")
            self.assertIsInstance(got, skvtest.RespError)
            self.assertIn("not enough memory", str(got))
            # A million empty tables from 1 MB of input.
            n = 1 << 20
            got = c.call("EVAL", "return #cmsgpack.unpack(ARGV[1])", "0",
                         b"\xdd" + n.to_bytes(4, "big") + b"\x90" * n)
            self.assertIsInstance(got, skvtest.RespError)
            self.assertIn("not enough memory", str(got))
            # Declared lengths past the input allocate nothing first.
            for head in (b"\xdb", b"\xdd", b"\xdf"):
                got = c.call("EVAL", "return cmsgpack.unpack(ARGV[1])", "0", head + b"\xff" * 4)
                self.assertIsInstance(got, skvtest.RespError)
                self.assertIn("Missing bytes in input.", str(got))
            self.assertEqual(c.call("EVAL", "return cmsgpack.pack({1, {a = true}})", "0"),
                             b"\x92\x01\x81\xa1a\xc3")
            self.assertEqual(c.call("EVAL", "return struct.pack('>i3', -2)", "0"), b"\xff\xff\xfe")


if __name__ == "__main__":
    skvtest.main()
