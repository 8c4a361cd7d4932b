/* script_msgpack.c — the cmsgpack library Redis gives scripts: MessagePack
 * encoding and decoding of Lua values with the interface, encodings,
 * limits and error texts of the lua_cmsgpack 0.4.0 that Redis 7.0 embeds,
 * so that packed bytes match redis-server's. Written here because Debian
 * packages no MessagePack library for Lua 5.1. Runs on the worker thread
 * that owns the Lua state, inside a script. */
#include "server/commands/script_libs.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Tables nested deeper than this pack as nil: Redis's bound, which is
 * what lets a table that contains itself be packed at all. */
#define MSGPACK_MAX_NESTING 16

/* Longest packed result: proto-max-bulk-len's default, the longest bulk
 * string Redis accepts. A table holding itself many times packs 16 levels
 * of fan-out, which no memory holds; this stops it (Redis runs on until
 * its allocator fails) before lua-memory-limit would. */
#define MSGPACK_OUT_MAX ((size_t)512 << 20)

/* Stack slots one nesting level of packing uses: the table's key, its
 * value, the copy of the key being packed, and a new buffer block. */
#define PACK_LEVEL_SLOTS 4

/* ---- Packing -------------------------------------------------------------- */

/* The packed bytes so far. The block is a full userdata at stack index
 * slot, replaced by a bigger one as it fills: Lua owns the memory, so an
 * error raised anywhere while packing (a memory error, the stack check)
 * leaks nothing. */
struct pbuf {
    unsigned char *p; /* the block: cap bytes, len of them used */
    size_t len;       /* bytes packed */
    size_t cap;       /* bytes in the block */
    int slot;         /* its stack index */
};

/* Make room for n more bytes. */
static void pbuf_reserve(lua_State *L, struct pbuf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return;
    if (n > MSGPACK_OUT_MAX - b->len)
        luaL_error(L, "cmsgpack: packed result longer than %d bytes", (int)MSGPACK_OUT_MAX);
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < n)
        cap = cap > MSGPACK_OUT_MAX / 2 ? MSGPACK_OUT_MAX : cap * 2;
    unsigned char *p = lua_newuserdata(L, cap);
    if (b->len)
        memcpy(p, b->p, b->len);
    lua_replace(L, b->slot);
    b->p = p;
    b->cap = cap;
}

static void put(lua_State *L, struct pbuf *b, const void *src, size_t n)
{
    pbuf_reserve(L, b, n);
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

/* A type byte followed by the low n bytes of v, most significant first
 * (MessagePack is big-endian). */
static void put_head(lua_State *L, struct pbuf *b, unsigned char type, uint64_t v, int n)
{
    unsigned char h[9];
    h[0] = type;
    for (int i = n; i >= 1; i--) {
        h[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
    put(L, b, h, (size_t)n + 1);
}

/* The smallest encoding of v, as lua_cmsgpack picks it: positive values
 * as unsigned, negative ones as signed. */
static void pack_int(lua_State *L, struct pbuf *b, int64_t v)
{
    if (v >= 0) {
        uint64_t u = (uint64_t)v;
        if (u <= 0x7f)
            put_head(L, b, (unsigned char)u, 0, 0);
        else if (u <= 0xff)
            put_head(L, b, 0xcc, u, 1);
        else if (u <= 0xffff)
            put_head(L, b, 0xcd, u, 2);
        else if (u <= 0xffffffffu)
            put_head(L, b, 0xce, u, 4);
        else
            put_head(L, b, 0xcf, u, 8);
    } else {
        uint64_t u = (uint64_t)v;
        if (v >= -32)
            put_head(L, b, (unsigned char)(u & 0xff), 0, 0);
        else if (v >= INT8_MIN)
            put_head(L, b, 0xd0, u, 1);
        else if (v >= INT16_MIN)
            put_head(L, b, 0xd1, u, 2);
        else if (v >= INT32_MIN)
            put_head(L, b, 0xd2, u, 4);
        else
            put_head(L, b, 0xd3, u, 8);
    }
}

/* A number is an integer when it converts to int64 and back unchanged
 * (lua_cmsgpack's test; -0 packs as 0). Everything else is a float 32
 * when that holds it exactly, else a float 64. */
static void pack_number(lua_State *L, struct pbuf *b, lua_Number n)
{
    /* 2^63: the first double outside int64 (the range check keeps the
     * conversion defined; NaN fails it). */
    if (n >= -9223372036854775808.0 && n < 9223372036854775808.0 && n == (lua_Number)(int64_t)n) {
        pack_int(L, b, (int64_t)n);
        return;
    }
    float f = (float)n;
    if ((double)f == n) {
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        put_head(L, b, 0xca, u, 4);
    } else {
        uint64_t u;
        memcpy(&u, &n, sizeof u);
        put_head(L, b, 0xcb, u, 8);
    }
}

/* Strings as str 8/16/32 (lua_cmsgpack 0.4.0 writes the str 8 form). */
static void pack_string(lua_State *L, struct pbuf *b, const char *s, size_t len)
{
    if (len < 32)
        put_head(L, b, (unsigned char)(0xa0 | len), 0, 0);
    else if (len <= 0xff)
        put_head(L, b, 0xd9, len, 1);
    else if (len <= 0xffff)
        put_head(L, b, 0xda, len, 2);
    else
        put_head(L, b, 0xdb, len, 4);
    put(L, b, s, len);
}

/* Array and map headers: fix form up to 15 entries, then 16 and 32 bits. */
static void pack_count(lua_State *L, struct pbuf *b, size_t n, unsigned char fix,
                       unsigned char c16, unsigned char c32)
{
    if (n <= 15)
        put_head(L, b, (unsigned char)(fix | n), 0, 0);
    else if (n <= 0xffff)
        put_head(L, b, c16, n, 2);
    else
        put_head(L, b, c32, n, 4);
}

/* Is the table on top an array: its keys exactly 1..n? Every key must be a
 * positive integral number; with no key repeated, the largest equal to
 * the count means none is missing. The empty table is an array. */
static int table_is_array(lua_State *L)
{
    lua_Number count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Number k = lua_tonumber(L, -1);
        if (!(k > 0 && k == floor(k))) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
        if (k > max)
            max = k;
    }
    return max == count;
}

static void pack_value(lua_State *L, struct pbuf *b, int level);

/* The table on top, as an array or a map, its members one level deeper. */
static void pack_table(lua_State *L, struct pbuf *b, int level)
{
    luaL_checkstack(L, PACK_LEVEL_SLOTS, "in function mp_encode_lua_table");
    if (table_is_array(L)) {
        size_t n = lua_objlen(L, -1);
        pack_count(L, b, n, 0x90, 0xdc, 0xdd);
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, (int)i);
            pack_value(L, b, level + 1);
        }
        return;
    }
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    pack_count(L, b, n, 0x80, 0xde, 0xdf);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        pack_value(L, b, level + 1); /* the key's copy */
        pack_value(L, b, level + 1); /* the value */
    }
}

/* Pack the value on top of the stack and pop it. Functions, userdata and
 * threads pack as nil, as do tables past the nesting bound. */
static void pack_value(lua_State *L, struct pbuf *b, int level)
{
    int t = lua_type(L, -1);
    if (t == LUA_TTABLE && level >= MSGPACK_MAX_NESTING)
        t = LUA_TNIL;
    switch (t) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        pack_string(L, b, s, len);
        break;
    }
    case LUA_TBOOLEAN:
        put_head(L, b, lua_toboolean(L, -1) ? 0xc3 : 0xc2, 0, 0);
        break;
    case LUA_TNUMBER:
        pack_number(L, b, lua_tonumber(L, -1));
        break;
    case LUA_TTABLE:
        pack_table(L, b, level);
        break;
    default:
        put_head(L, b, 0xc0, 0, 0);
        break;
    }
    lua_pop(L, 1);
}

/* cmsgpack.pack(v1, v2, ...): the values packed one after the other. */
static int mp_pack(lua_State *L)
{
    int nargs = lua_gettop(L);
    if (nargs == 0)
        return luaL_argerror(L, 0, "MessagePack pack needs input.");
    /* Redis's room for one string per argument: the same limit on the
     * number of arguments. */
    if (!lua_checkstack(L, nargs))
        return luaL_argerror(L, 0, "Too many arguments for MessagePack pack.");
    luaL_checkstack(L, 2, "in function mp_pack");
    lua_pushnil(L); /* the buffer's slot */
    struct pbuf b = {.p = NULL, .len = 0, .cap = 0, .slot = lua_gettop(L)};
    for (int i = 1; i <= nargs; i++) {
        lua_pushvalue(L, i);
        pack_value(L, &b, 0);
    }
    lua_pushlstring(L, (const char *)b.p, b.len);
    return 1;
}

/* ---- Unpacking ------------------------------------------------------------ */

enum { MP_OK = 0, MP_EOF, MP_BADFMT };

/* The input still to decode. */
struct cur {
    const unsigned char *p; /* next byte */
    size_t left;            /* bytes from p to the end */
    int err;                /* MP_*: the first error; decoding stops there */
};

/* Are n more bytes there? If not, the input ends too soon. */
static int need(struct cur *c, size_t n)
{
    if (c->left < n) {
        c->err = MP_EOF;
        return 0;
    }
    return 1;
}

static void skip(struct cur *c, size_t n)
{
    c->p += n;
    c->left -= n;
}

/* The n bytes after the type byte as a big-endian unsigned number. */
static uint64_t read_be(const struct cur *c, int n)
{
    uint64_t v = 0;
    for (int i = 1; i <= n; i++)
        v = v << 8 | c->p[i];
    return v;
}

static void unpack_value(lua_State *L, struct cur *c);

/* An array of n values as a table 1..n. Redis's stack check (and its text)
 * bounds the nesting: about 4000 levels. */
static void unpack_array(lua_State *L, struct cur *c, uint64_t n)
{
    lua_newtable(L);
    luaL_checkstack(L, 1, "in function mp_decode_to_lua_array");
    for (lua_Number i = 1; n > 0; n--, i++) {
        lua_pushnumber(L, i);
        unpack_value(L, c);
        if (c->err)
            return;
        lua_settable(L, -3);
    }
}

/* A map of n pairs as a table. A nil or NaN key raises Lua's own error. */
static void unpack_map(lua_State *L, struct cur *c, uint64_t n)
{
    lua_newtable(L);
    for (; n > 0; n--) {
        unpack_value(L, c);
        if (c->err)
            return;
        unpack_value(L, c);
        if (c->err)
            return;
        lua_settable(L, -3);
    }
}

/* A string of len bytes after a header of hlen bytes. */
static void unpack_string(lua_State *L, struct cur *c, size_t hlen, uint64_t len)
{
    if (len > c->left || !need(c, hlen + (size_t)len)) {
        c->err = MP_EOF;
        return;
    }
    lua_pushlstring(L, (const char *)c->p + hlen, (size_t)len);
    skip(c, hlen + (size_t)len);
}

/* Decode one value and push it; on bad input set c->err (what was pushed
 * by then is left for the caller's error to discard). Every value checks
 * for one more stack slot, as lua_cmsgpack does: that bounds how many
 * values one call returns (LUAI_MAXCSTACK) with Redis's text. */
static void unpack_value(lua_State *L, struct cur *c)
{
    if (!need(c, 1))
        return;
    luaL_checkstack(L, 1, "too many return values at once; use unpack_one or unpack_limit instead.");
    unsigned char t = c->p[0];
    if (t <= 0x7f) {
        lua_pushnumber(L, t);
        skip(c, 1);
        return;
    }
    if (t >= 0xe0) {
        lua_pushnumber(L, (signed char)t);
        skip(c, 1);
        return;
    }
    if (t <= 0x8f || (t >= 0x90 && t <= 0x9f)) {
        skip(c, 1);
        if (t <= 0x8f)
            unpack_map(L, c, t & 0x0f);
        else
            unpack_array(L, c, t & 0x0f);
        return;
    }
    if (t >= 0xa0 && t <= 0xbf) {
        unpack_string(L, c, 1, t & 0x1f);
        return;
    }
    /* The sizes of the fixed-width forms after the type byte. */
    int n = 0;
    switch (t) {
    case 0xcc: case 0xd0: case 0xd9: n = 1; break;
    case 0xcd: case 0xd1: case 0xda: case 0xdc: case 0xde: n = 2; break;
    case 0xca: case 0xce: case 0xd2: case 0xdb: case 0xdd: case 0xdf: n = 4; break;
    case 0xcb: case 0xcf: case 0xd3: n = 8; break;
    case 0xc0: case 0xc2: case 0xc3: break;
    default: /* 0xc1, bin, ext: not lua_cmsgpack's */
        c->err = MP_BADFMT;
        return;
    }
    if (!need(c, 1 + (size_t)n))
        return;
    uint64_t v = read_be(c, n);
    switch (t) {
    case 0xc0: lua_pushnil(L); break;
    case 0xc2: lua_pushboolean(L, 0); break;
    case 0xc3: lua_pushboolean(L, 1); break;
    case 0xcc: case 0xcd: case 0xce: lua_pushnumber(L, (lua_Number)v); break;
    /* uint 64 comes back signed, as lua_cmsgpack reads it. */
    case 0xcf: lua_pushnumber(L, (lua_Number)(int64_t)v); break;
    case 0xd0: lua_pushnumber(L, (int8_t)v); break;
    case 0xd1: lua_pushnumber(L, (int16_t)v); break;
    case 0xd2: lua_pushnumber(L, (int32_t)v); break;
    case 0xd3: lua_pushnumber(L, (lua_Number)(int64_t)v); break;
    case 0xca: {
        uint32_t u = (uint32_t)v;
        float f;
        memcpy(&f, &u, sizeof f);
        lua_pushnumber(L, f);
        break;
    }
    case 0xcb: {
        double d;
        memcpy(&d, &v, sizeof d);
        lua_pushnumber(L, d);
        break;
    }
    case 0xd9: case 0xda: case 0xdb:
        unpack_string(L, c, 1 + (size_t)n, v);
        return;
    case 0xdc: case 0xdd:
        skip(c, 1 + (size_t)n);
        unpack_array(L, c, v);
        return;
    case 0xde: case 0xdf:
        skip(c, 1 + (size_t)n);
        unpack_map(L, c, v);
        return;
    }
    skip(c, 1 + (size_t)n);
}

/* Decode up to limit values of the string at index 1 from byte offset
 * offset; limit and offset both 0 decode them all. With a limit or an
 * offset, the values come after the offset to read next (-1: the end).
 * Redis's error texts print 32-bit ints (and the input's length as the
 * limit); its tests use the whole values. */
static int unpack_full(lua_State *L, lua_Integer limit, lua_Integer offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int all = limit == 0 && offset == 0;
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.",
                          (int)offset, (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset,
                          (int)len);
    if (all)
        limit = INT_MAX;
    struct cur c = {.p = (const unsigned char *)s + offset, .left = len - (size_t)offset,
                    .err = MP_OK};
    int n = 0;
    for (; c.left > 0 && n < limit; n++) {
        unpack_value(L, &c);
        if (c.err == MP_EOF)
            return luaL_error(L, "Missing bytes in input.");
        if (c.err == MP_BADFMT)
            return luaL_error(L, "Bad data format in input.");
    }
    if (!all) {
        luaL_checkstack(L, 1, "in function mp_unpack_full");
        lua_pushinteger(L, c.left == 0 ? -1 : (lua_Integer)(int)(len - c.left));
        lua_insert(L, 2);
        n++;
    }
    return n;
}

/* cmsgpack.unpack(s): every value in s. Extra arguments stay on the stack
 * (Redis leaves them there too; they count against the stack bound). */
static int mp_unpack(lua_State *L)
{
    return unpack_full(L, 0, 0);
}

/* Drop the arguments after the string (none if there is not even that). */
static void keep_first(lua_State *L)
{
    if (lua_gettop(L) > 1)
        lua_settop(L, 1);
}

/* cmsgpack.unpack_one(s, [offset]): the next offset, then one value. */
static int mp_unpack_one(lua_State *L)
{
    lua_Integer offset = luaL_optinteger(L, 2, 0);
    keep_first(L);
    return unpack_full(L, 1, offset);
}

/* cmsgpack.unpack_limit(s, limit, [offset]): the next offset, then up to
 * limit values. */
static int mp_unpack_limit(lua_State *L)
{
    lua_Integer limit = luaL_checkinteger(L, 2);
    lua_Integer offset = luaL_optinteger(L, 3, 0);
    keep_first(L);
    return unpack_full(L, limit, offset);
}

int script_msgpack_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"pack", mp_pack},
        {"unpack", mp_unpack},
        {"unpack_one", mp_unpack_one},
        {"unpack_limit", mp_unpack_limit},
        {NULL, NULL},
    };
    luaL_register(L, "cmsgpack", fns);
    /* What scripts read in Redis's copy. */
    static const char *const info[][2] = {
        {"_NAME", "cmsgpack"},
        {"_VERSION", "lua-cmsgpack 0.4.0"},
        {"_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo"},
        {"_DESCRIPTION", "MessagePack C implementation for Lua"},
    };
    for (size_t i = 0; i < sizeof info / sizeof info[0]; i++) {
        lua_pushstring(L, info[i][1]);
        lua_setfield(L, -2, info[i][0]);
    }
    return 1;
}
