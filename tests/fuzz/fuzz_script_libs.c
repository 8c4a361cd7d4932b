/* fuzz_script_libs.c — libFuzzer target for the cmsgpack and struct Lua
 * libraries (server/commands/script_msgpack.c, script_struct.c). The first
 * byte picks what the rest is:
 *   0: MessagePack for cmsgpack.unpack, unpack_one and unpack_limit (with
 *      an offset and a limit from bytes 1-2); every value decoded must
 *      pack and unpack again (but for a table key at the nesting bound,
 *      which packs as nil, as in Redis), and once a round trip has dropped
 *      what does not survive one (nils in tables, nesting past 16), the
 *      next round must unpack and pack to the same length;
 *   1: a format (byte 1 gives its length) and data for struct.unpack (with
 *      a position from byte 2) and struct.size; what unpack returned is
 *      packed back with the same format;
 *   2: a format and argument bytes for struct.pack, each byte picking an
 *      argument (numbers at every width's edges, NaN, infinities, strings).
 * Errors raised to the script are fine; a crash, a sanitizer report, an
 * unbalanced stack or a failed check is not. Lua runs under a 64 MB
 * allocator bound, so a memory error is also fine. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "server/commands/script_libs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Lua's bytes in use, and their bound. */
static size_t lua_used;
#define FUZZ_LUA_MAX ((size_t)64 << 20)

static void *bounded_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (nsize == 0) {
        free(ptr);
        lua_used -= osize;
        return NULL;
    }
    if (nsize > osize && nsize - osize > FUZZ_LUA_MAX - lua_used)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        lua_used = lua_used - osize + nsize;
    return p;
}

/* The driver: called with (mode, data, fmt, n1, n2). Raises "CHECK ..."
 * when a property fails; other errors are the libraries' own and come
 * only through pcall. */
static const char driver_src[] =
    "local mode, data, fmt, n1, n2 = ...\n"
    "local function grab(ok, ...)\n"
    "  local r = {ok = ok, n = select('#', ...)}\n"
    "  for i = 1, r.n do r[i] = (select(i, ...)) end\n"
    "  return r\n"
    "end\n"
    "if mode == 0 then\n"
    "  local r = grab(pcall(cmsgpack.unpack, data))\n"
    "  if r.ok then\n"
    "    for i = 1, r.n do\n"
    "      local ok, t1 = pcall(cmsgpack.unpack, cmsgpack.pack(r[i]))\n"
    "      if not ok and t1 ~= 'table index is nil' and t1 ~= 'not enough memory' then\n"
    "        error('CHECK unpack of packed: ' .. tostring(t1))\n"
    "      end\n"
    "      local s1 = cmsgpack.pack(t1)\n"
    "      local t = grab(pcall(cmsgpack.unpack, s1))\n"
    "      if not t.ok then\n"
    "        if t[1] ~= 'not enough memory' then error('CHECK unpack of packed: ' .. tostring(t[1])) end\n"
    "      elseif t.n ~= 1 then error('CHECK one value packed, ' .. t.n .. ' unpacked')\n"
    "      elseif #cmsgpack.pack(t[1]) ~= #s1 then error('CHECK repacked length') end\n"
    "    end\n"
    "  end\n"
    "  pcall(cmsgpack.unpack_one, data, n1)\n"
    "  local l = grab(pcall(cmsgpack.unpack_limit, data, n2, n1))\n"
    "  if l.ok and n2 > 0 and (n1 > 0 or n2 > 0) then\n"
    "    local off = l[1]\n"
    "    if off ~= -1 and (off <= n1 or off >= #data) then error('CHECK next offset ' .. off) end\n"
    "  end\n"
    "elseif mode == 1 then\n"
    "  local r = grab(pcall(struct.unpack, fmt, data, n1))\n"
    "  pcall(struct.size, fmt)\n"
    "  if r.ok then pcall(struct.pack, fmt, unpack(r, 1, r.n - 1)) end\n"
    "else\n"
    "  local pool = {0, 1, -1, 127, 128, -129, 255, 65535, -32769, 2^31, -2^31 - 1, 2^32,\n"
    "                2^53, 2^63, -2^63, 2^64, 1e300, -1e300, 0.5, -0.5, 1/0, -1/0, 0/0,\n"
    "                '', 'a', 'abc\\0def', string.rep('x', 300), '12', '-7.5'}\n"
    "  local args = {}\n"
    "  for i = 1, #data do args[i] = pool[data:byte(i) % #pool + 1] end\n"
    "  pcall(struct.pack, fmt, unpack(args, 1, #data))\n"
    "  pcall(struct.size, fmt)\n"
    "end\n";

static lua_State *state(void)
{
    static lua_State *L;
    if (L)
        return L;
    L = lua_newstate(bounded_alloc, NULL);
    if (!L)
        abort();
    luaL_openlibs(L);
    lua_pushcfunction(L, script_msgpack_open);
    lua_call(L, 0, 0);
    lua_pushcfunction(L, script_struct_open);
    lua_call(L, 0, 0);
    if (luaL_loadbuffer(L, driver_src, sizeof driver_src - 1, "=driver"))
        abort();
    lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_driver");
    return L;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    lua_State *L = state();
    int top = lua_gettop(L);
    int mode = data[0] % 3;
    const char *fmt = "";
    size_t fmt_len = 0;
    size_t skip = 3;
    if (mode != 0) {
        /* A format of up to 31 bytes (struct stops at a zero byte). */
        fmt_len = data[1] & 31;
        if (fmt_len > size - 3)
            fmt_len = size - 3;
        fmt = (const char *)data + 3;
        skip = 3 + fmt_len;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_driver");
    lua_pushinteger(L, mode);
    lua_pushlstring(L, (const char *)data + skip, size - skip);
    lua_pushlstring(L, fmt, fmt_len);
    /* Offsets and limits around the input's size, negative ones too. */
    lua_pushinteger(L, (int8_t)data[1] % 40);
    lua_pushinteger(L, (int8_t)data[2] % 40);
    int rc = lua_pcall(L, 5, 0, 0);
    if (rc != 0 && rc != LUA_ERRMEM) {
        fprintf(stderr, "fuzz_script_libs: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_settop(L, top);
    if (lua_gettop(L) != top)
        abort();
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
