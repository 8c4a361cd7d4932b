/* script_struct.c — the struct library Redis gives scripts: binary
 * packing of numbers and strings by a format string (Roberto
 * Ierusalimschy's struct for Lua 5.1, in the version Redis 7.0 embeds),
 * with its format letters, endianness and alignment options, results and
 * error texts. Written here because Debian packages no struct library for
 * Lua 5.1. Runs on the worker thread that owns the Lua state, inside a
 * script.
 *
 * Format: '<' little endian, '>' big endian, '!n' alignment n (a power of
 * two; '!' alone: the machine's, 8), 'x' a zero byte, 'b/B' char, 'h/H'
 * short, 'l/L' long, 'T' size_t, 'i/In' int of n bytes (default 4, at
 * most 32), 'f' float, 'd' double, 'cn' n bytes ('c0': as long as the
 * string; unpack takes the length from the previous result), 's' a
 * zero-terminated string, ' ' ignored. Lower case is signed. */
#include "server/commands/script_libs.h"

#include <ctype.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

/* Longest integer field ('i32'): the library's bound. */
#define STRUCT_MAX_INT_SIZE 32
/* The machine's largest alignment, what '!' alone selects. */
#define STRUCT_MAX_ALIGN 8

/* What the options so far have set. */
struct fmt_state {
    int little; /* byte order: 1 little endian (the default here), 0 big */
    int align;  /* largest alignment, a power of two (default 1: packed) */
};

/* ---- Conversions as x86-64 does them ---------------------------------------
 * The library converts doubles to 64-bit integers with plain C casts;
 * redis-server runs on x86-64, where a double out of range (or NaN) becomes
 * INT64_MIN, and the unsigned conversion goes through the signed one. These
 * give the same bytes without the undefined behaviour. */

static int64_t x86_to_int64(double d)
{
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0)
        return (int64_t)d;
    return INT64_MIN;
}

static uint64_t x86_to_uint64(double d)
{
    if (!(d >= 9223372036854775808.0))
        return (uint64_t)x86_to_int64(d);
    return (uint64_t)x86_to_int64(d - 9223372036854775808.0) ^ ((uint64_t)1 << 63);
}

/* ---- The format ------------------------------------------------------------ */

/* A decimal count at *fmt (advanced past it), or dflt when none is there. */
static int read_count(lua_State *L, const char **fmt, int dflt)
{
    if (!isdigit((unsigned char)**fmt))
        return dflt;
    int a = 0;
    do {
        int digit = **fmt - '0';
        if (a > INT_MAX / 10 || a * 10 > INT_MAX - digit)
            luaL_error(L, "integral size overflow");
        a = a * 10 + digit;
        (*fmt)++;
    } while (isdigit((unsigned char)**fmt));
    return a;
}

/* The size in bytes of option opt (reading its count from *fmt); 0 for
 * the options without one ('s', '<', ...). */
static size_t opt_size(lua_State *L, int opt, const char **fmt)
{
    switch (opt) {
    case 'B': case 'b': return sizeof(char);
    case 'H': case 'h': return sizeof(short);
    case 'L': case 'l': return sizeof(long);
    case 'T': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'x': return 1;
    case 'c': return (size_t)read_count(L, fmt, 1);
    case 'i': case 'I': {
        int n = read_count(L, fmt, sizeof(int));
        if (n > STRUCT_MAX_INT_SIZE)
            luaL_error(L, "integral size %d is larger than limit of %d", n, STRUCT_MAX_INT_SIZE);
        return (size_t)n;
    }
    default: return 0;
    }
}

/* Padding before a field of size bytes at offset pos: aligned to its size,
 * at most to the '!' alignment; strings are never aligned. */
static size_t pad_before(size_t pos, const struct fmt_state *st, int opt, size_t size)
{
    if (size == 0 || opt == 'c')
        return 0;
    size_t align = size > (size_t)st->align ? (size_t)st->align : size;
    return (align - (pos & (align - 1))) & (align - 1);
}

/* The options that set state; any other character is an error against
 * the format (argument 1). */
static void set_option(lua_State *L, int opt, const char **fmt, struct fmt_state *st)
{
    switch (opt) {
    case ' ':
        return;
    case '>':
        st->little = 0;
        return;
    case '<':
        st->little = 1;
        return;
    case '!': {
        int a = read_count(L, fmt, STRUCT_MAX_ALIGN);
        if (a <= 0 || (a & (a - 1)) != 0)
            luaL_error(L, "alignment %d is not a power of 2", a);
        st->align = a;
        return;
    }
    default:
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
    }
}

static void fmt_init(struct fmt_state *st)
{
    st->little = 1; /* x86-64's order */
    st->align = 1;
}

/* ---- struct.pack --------------------------------------------------------------- */

/* The number at argument arg as a size-byte integer. Only 8 bytes carry
 * the value: wider fields get zeros beyond them, even for a negative one. */
static void put_int(lua_State *L, luaL_Buffer *b, int arg, int little, size_t size)
{
    lua_Number n = luaL_checknumber(L, arg);
    uint64_t v = n < 0 ? (uint64_t)x86_to_int64(n) : x86_to_uint64(n);
    char out[STRUCT_MAX_INT_SIZE];
    for (size_t i = 0; i < size; i++) {
        out[little ? i : size - 1 - i] = (char)(v & 0xff);
        v >>= 8;
    }
    luaL_addlstring(b, out, size);
}

/* Bytes of a float or double in the format's order (the machine's is
 * little endian). */
static void put_float(luaL_Buffer *b, const void *p, size_t size, int little)
{
    const char *s = p;
    if (little) {
        luaL_addlstring(b, s, size);
        return;
    }
    for (size_t i = size; i > 0; i--)
        luaL_addchar(b, s[i - 1]);
}

/* struct.pack(fmt, ...): the arguments packed as fmt says. */
static int st_pack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    struct fmt_state st;
    fmt_init(&st);
    int arg = 2;
    size_t total = 0;
    luaL_Buffer b;
    lua_pushnil(L); /* keeps the buffer's stack use above the arguments */
    luaL_buffinit(L, &b);
    while (*fmt != '\0') {
        int opt = *fmt++;
        size_t size = opt_size(L, opt, &fmt);
        size_t pad = pad_before(total, &st, opt, size);
        total += pad;
        for (; pad > 0; pad--)
            luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L':
        case 'T': case 'i': case 'I':
            put_int(L, &b, arg++, st.little, size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            put_float(&b, &f, size, st.little);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            put_float(&b, &d, size, st.little);
            break;
        }
        case 'c': case 's': {
            size_t len;
            const char *s = luaL_checklstring(L, arg++, &len);
            if (size == 0)
                size = len;
            /* The library names the argument after this one. */
            luaL_argcheck(L, len >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default:
            set_option(L, opt, &fmt, &st);
        }
        total += size;
    }
    luaL_pushresult(&b);
    return 1;
}

/* ---- struct.unpack ------------------------------------------------------------- */

/* A size-byte integer as a number; beyond 8 bytes only the 8 nearest the
 * least significant end count. The sign test shifts by size*8-1, which
 * x86-64 takes modulo 64 (so 'i9' looks at bit 7). */
static lua_Number get_int(const unsigned char *p, int little, int is_signed, size_t size)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v = v << 8 | p[little ? size - 1 - i : i];
    if (!is_signed)
        return (lua_Number)v;
    uint64_t mask = ~(uint64_t)0 << ((size * 8 - 1) & 63);
    if (v & mask)
        v |= mask;
    return (lua_Number)(int64_t)v;
}

/* A float or double stored in the format's order. */
static void get_float(void *out, const unsigned char *p, size_t size, int little)
{
    unsigned char *o = out;
    for (size_t i = 0; i < size; i++)
        o[i] = p[little ? i : size - 1 - i];
}

/* struct.unpack(fmt, s, [pos]): the values fmt reads from s at byte pos
 * (1-based), then the position after them. */
static int st_unpack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 2, &ld);
    /* Negative positions wrap to huge ones and fail on "too short". */
    size_t pos = (size_t)luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, pos > 0, 3, "offset must be 1 or greater");
    pos--;
    struct fmt_state st;
    fmt_init(&st);
    int n = 0;
    while (*fmt != '\0') {
        int opt = *fmt++;
        size_t size = opt_size(L, opt, &fmt);
        pos += pad_before(pos, &st, opt, size);
        luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results"); /* a result and the next position */
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L':
        case 'T': case 'i': case 'I':
            lua_pushnumber(L, get_int(data + pos, st.little, islower(opt), size));
            n++;
            break;
        case 'x':
            break;
        case 'f': {
            float f;
            get_float(&f, data + pos, size, st.little);
            lua_pushnumber(L, f);
            n++;
            break;
        }
        case 'd': {
            double d;
            get_float(&d, data + pos, size, st.little);
            lua_pushnumber(L, d);
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                /* The length is the previous result, which it replaces. */
                if (n == 0 || !lua_isnumber(L, -1))
                    luaL_error(L, "format 'c0' needs a previous size");
                size = (size_t)x86_to_uint64(lua_tonumber(L, -1));
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
            }
            lua_pushlstring(L, (const char *)data + pos, size);
            n++;
            break;
        case 's': {
            const unsigned char *e = memchr(data + pos, '\0', ld - pos);
            if (!e)
                luaL_error(L, "unfinished string in data");
            size = (size_t)(e - (data + pos)) + 1;
            lua_pushlstring(L, (const char *)data + pos, size - 1);
            n++;
            break;
        }
        default:
            set_option(L, opt, &fmt, &st);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)(pos + 1));
    return n + 1;
}

/* ---- struct.size ---------------------------------------------------------------- */

/* struct.size(fmt): the bytes fmt packs to. Letters it does not know count
 * 0 here (pack and unpack refuse them); other characters must be options. */
static int st_size(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    struct fmt_state st;
    fmt_init(&st);
    size_t pos = 0;
    while (*fmt != '\0') {
        int opt = *fmt++;
        size_t size = opt_size(L, opt, &fmt);
        pos += pad_before(pos, &st, opt, size);
        if (opt == 's')
            luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0)
            luaL_argerror(L, 1, "option 'c0' has no fixed size");
        if (!isalnum((unsigned char)opt))
            set_option(L, opt, &fmt, &st);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int script_struct_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"pack", st_pack},
        {"unpack", st_unpack},
        {"size", st_size},
        {NULL, NULL},
    };
    luaL_register(L, "struct", fns);
    return 1;
}
