/* script_xpcall.c — Lua's pcall and xpcall for scripts whose keys span
 * shards. There redis.call yields to the driver (script_lua.c), and Lua
 * 5.1 cannot yield through a C function such as pcall. So while such a
 * script runs, its global pcall is a Lua function that runs the protected
 * call as a coroutine of its own (a "pass-through" thread, registered
 * here): a redis.call inside it yields that thread, the wrapper passes the
 * yield on to the driver and hands the reply back down, and an error ends
 * the thread, which the wrapper reports as pcall would (with Redis 7's
 * twist: an error table's "err" string). xpcall works the same way. The
 * protected call stays inside the script's transaction: every command
 * still runs as one of its rounds. Outside a pass-through chain (in a
 * coroutine the script made) the wrappers call Lua's C functions. Runs on
 * the worker thread running the script. */
#include "server/commands/script_internal.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

/* Registry names: the wrappers, and the weak-keyed set of pass-through
 * threads. */
#define REG_XPCALL "skv_xpcall"
#define REG_XXPCALL "skv_xxpcall"
#define REG_XTHREADS "skv_xthreads"

/* What redis.call yields from a pass-through thread: its address tells the
 * wrapper the yield is a command's, not the script's own coroutine.yield. */
static const char sentinel;

/* The body of every pass-through thread: called with (f, ...), it calls
 * f(...). Loaded without debug information (strip_dump), so that, as
 * under the C pcall, an error raised at level 2 gets no position and a C
 * function's argument errors name no function. */
static const char body_src[] = "local f = ... return f(select(2, ...))";

/* The wrappers: (pcall, xpcall, newco, passthrough, resume, status, yield,
 * type, select, body, sentinel) -> pcall, xpcall. They hand a call they
 * cannot run as a pass-through thread (not a function, or not in the
 * script's own chain of threads) to the C functions; xpcall's argument
 * error is raised here, at the script's level, as Lua's. xpcall's handler
 * runs once the thread has died (no debug library lets a script see the
 * difference); an error in it gives Lua's "error in error handling". */
static const char wrapper_src[] =
    "local pcall, xpcall, newco, passthrough, resume, status, yield, type, select, body, SENT"
    " = ...\n"
    "local function step(co, h, ok, ...)\n"
    "  if not ok then\n"
    "    local e = ...\n"
    "    if h then\n"
    "      local hok, r = pcall(h, e)\n"
    "      if hok then return false, r end\n"
    "      return false, 'error in error handling'\n"
    "    end\n"
    "    if type(e) == 'table' and type(e.err) == 'string' then e = e.err end\n"
    "    return false, e\n"
    "  end\n"
    "  if status(co) == 'dead' then return true, ... end\n"
    "  if select('#', ...) ~= 1 or (...) ~= SENT then\n"
    "    return step(co, h, false, 'attempt to yield across metamethod/C-call boundary')\n"
    "  end\n"
    "  return step(co, h, resume(co, yield(SENT)))\n"
    "end\n"
    "return function(...)\n"
    "  if type((...)) ~= 'function' or not passthrough() then return pcall(...) end\n"
    "  local co = newco(body)\n"
    "  return step(co, nil, resume(co, ...))\n"
    "end, function(...)\n"
    "  local f, h = ...\n"
    "  if select('#', ...) < 2 then\n"
    "    error(\"bad argument #2 to 'xpcall' (value expected)\", 2)\n"
    "  end\n"
    "  if type(f) ~= 'function' or not passthrough() then return xpcall(...) end\n"
    "  local co = newco(body)\n"
    "  return step(co, h, resume(co, f))\n"
    "end\n";

/* ---- Stripping the body's debug information --------------------------------- */

struct dump {
    char *p;       /* bytes written by lua_dump (malloc) */
    size_t n, cap; /* used and allocated */
    bool oom;      /* an append failed */
};

static int dump_write(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void)L;
    struct dump *d = ud;
    if (d->n + sz > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        while (cap < d->n + sz)
            cap *= 2;
        char *q = realloc(d->p, cap);
        if (!q) {
            d->oom = true;
            return 1;
        }
        d->p = q;
        d->cap = cap;
    }
    memcpy(d->p + d->n, p, sz);
    d->n += sz;
    return 0;
}

/* Lua 5.1's dump header: signature, version, format, little-endian, then
 * the sizes of int, size_t, Instruction, lua_Number, and number kind. */
static const char header[12] = {'\033', 'L', 'u', 'a', 0x51, 0, 1, 4, 8, 4, 8, 0};

/* Read a little-endian int or size_t of n bytes at *at (within end). */
static bool read_uint(const char *p, size_t end, size_t *at, size_t n, uint64_t *v)
{
    if (end - *at < n)
        return false;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v |= (uint64_t)(unsigned char)p[*at + i] << (8 * i);
    *at += n;
    return true;
}

/* Cut the debug section (line numbers, local and upvalue names) of the
 * dump's main function, which has no nested functions: keep everything
 * up to its constants and write three empty lists. False if the dump is
 * not the layout this expects (the body then keeps its debug data). */
static bool strip_dump(struct dump *d)
{
    if (d->n < sizeof header || memcmp(d->p, header, sizeof header) != 0)
        return false;
    size_t at = sizeof header;
    uint64_t v;
    if (!read_uint(d->p, d->n, &at, 8, &v) || d->n - at < v) /* source */
        return false;
    at += v;
    at += 4 + 4 + 4; /* linedefined, lastlinedefined; 4 bytes of counts */
    if (at > d->n || !read_uint(d->p, d->n, &at, 4, &v) || (d->n - at) / 4 < v) /* code */
        return false;
    at += v * 4;
    uint64_t nk;
    if (!read_uint(d->p, d->n, &at, 4, &nk))
        return false;
    for (uint64_t i = 0; i < nk; i++) {
        if (at >= d->n)
            return false;
        int t = d->p[at++];
        if (t == LUA_TBOOLEAN) {
            at += 1;
        } else if (t == LUA_TNUMBER) {
            at += 8;
        } else if (t == LUA_TSTRING) {
            if (!read_uint(d->p, d->n, &at, 8, &v) || d->n - at < v)
                return false;
            at += v;
        } else if (t != LUA_TNIL) {
            return false;
        }
        if (at > d->n)
            return false;
    }
    if (!read_uint(d->p, d->n, &at, 4, &v) || v != 0) /* nested functions */
        return false;
    static const char empty[12] = {0};
    d->n = at;
    return dump_write(NULL, empty, sizeof empty, d) == 0;
}

/* Push the body function, without debug information when that works. */
static bool push_body(lua_State *L)
{
    if (luaL_loadbuffer(L, body_src, sizeof body_src - 1, "=pcall"))
        return false;
    struct dump d = {0};
    if (lua_dump(L, dump_write, &d) == 0 && !d.oom && strip_dump(&d) &&
        luaL_loadbuffer(L, d.p, d.n, "=pcall") == 0)
        lua_remove(L, -2); /* the stripped one replaces the source one */
    free(d.p);
    return true;
}

/* ---- The wrapper's helpers ------------------------------------------------------ */

/* Is L a pass-through thread (one that the wrapper made)? */
static bool is_passthrough(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_XTHREADS);
    lua_pushthread(L);
    lua_rawget(L, -2);
    bool yes = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return yes;
}

bool script_x_yieldable(lua_State *L)
{
    struct script_run *r = script_cur;
    return r && !r->c && (L == r->co || is_passthrough(L));
}

/* passthrough(): may a redis.call here yield to the driver? */
static int x_passthrough(lua_State *L)
{
    lua_pushboolean(L, script_x_yieldable(L));
    return 1;
}

/* newco(f): a new pass-through thread whose body is f. */
static int x_newco(lua_State *L)
{
    lua_State *co = lua_newthread(L);
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_XTHREADS);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    return 1;
}

void script_x_push_sentinel(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&sentinel);
}

void script_xpcall_push(lua_State *L, bool x)
{
    lua_getfield(L, LUA_REGISTRYINDEX, x ? REG_XXPCALL : REG_XPCALL);
}

bool script_xpcall_register(lua_State *L)
{
    lua_newtable(L); /* the pass-through threads, weak keys */
    lua_newtable(L);
    lua_pushstring(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_XTHREADS);

    if (luaL_loadbuffer(L, wrapper_src, sizeof wrapper_src - 1, "=pcall"))
        return false;
    lua_getglobal(L, "pcall"); /* Redis's C pcall (script_api.c) */
    lua_getglobal(L, "xpcall");
    lua_pushcfunction(L, x_newco);
    lua_pushcfunction(L, x_passthrough);
    lua_getglobal(L, "coroutine");
    lua_getfield(L, -1, "resume");
    lua_getfield(L, -2, "status");
    lua_getfield(L, -3, "yield");
    lua_remove(L, -4);
    lua_getglobal(L, "type");
    lua_getglobal(L, "select");
    if (!push_body(L))
        return false;
    script_x_push_sentinel(L);
    if (lua_pcall(L, 11, 2, 0))
        return false;
    lua_setfield(L, LUA_REGISTRYINDEX, REG_XXPCALL);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_XPCALL);
    return true;
}
