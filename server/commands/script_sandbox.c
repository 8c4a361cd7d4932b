/* script_sandbox.c — a new Lua state with Redis's sandbox: the libraries
 * Redis loads (base, table, string, math, cjson, bit, and cmsgpack and
 * struct from script_libs.h; debug only for the error handler), no os, io, package, loadfile, dofile or print,
 * read-only globals and library tables (stock Lua 5.1 has no read-only
 * flag, so proxies and guarded rawset, setmetatable and getmetatable stand
 * in for Redis's patched Lua), and the error handler every script runs
 * under. Runs on the worker thread that will own the state. */
#include "server/commands/script_internal.h"
#include "server/commands/script_libs.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdbool.h>

#include "server/util/log.h"

int luaopen_cjson(lua_State *L);
int luaopen_bit(lua_State *L);

/* ---- The sandbox --------------------------------------------------------- */

int script_readonly_error(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

int script_global_missing(lua_State *L)
{
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      name ? name : "?");
}

/* Is the table at idx one of the read-only ones? */
static bool is_readonly(lua_State *L, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_RO);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    bool ro = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return ro;
}

/* Is the table at idx the metatable of a proxy? Those are ours, not the
 * script's: Redis's library tables have none. */
static bool is_proxy_meta(lua_State *L, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_RO);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    bool meta = lua_isnumber(L, -1); /* 2 marks a proxy's metatable */
    lua_pop(L, 2);
    return meta;
}

/* Redis's patched Lua raises this from C: no position. */
static int readonly_raw_error(lua_State *L)
{
    lua_pushstring(L, "Attempt to modify a readonly table");
    return lua_error(L);
}

/* rawset, refusing the read-only tables (Redis's patched Lua refuses any
 * write to them; stock 5.1 needs the check here). */
static int rawset_guarded(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (is_readonly(L, 1))
        return readonly_raw_error(L);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* setmetatable, refusing the read-only tables: their metatables are what
 * keeps them read-only. */
static int setmetatable_guarded(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int t = lua_type(L, 2);
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
    if (is_readonly(L, 1))
        return readonly_raw_error(L);
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

static void make_proxy(lua_State *L);

/* getmetatable, handing out a read-only metatable as a read-only proxy
 * (a metatable's fields are read raw, so it cannot be a proxy itself). */
static int getmetatable_guarded(lua_State *L)
{
    luaL_checkany(L, 1);
    /* _G, the scripts' environment, answers for the globals it shows. */
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ENV);
    bool env = lua_rawequal(L, 1, -1);
    lua_pop(L, 1);
    if (env) {
        lua_pushvalue(L, LUA_GLOBALSINDEX);
        lua_replace(L, 1);
    }
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    if (is_proxy_meta(L, -1))
        lua_pushnil(L);
    else if (is_readonly(L, -1))
        make_proxy(L);
    return 1;
}

static void mark_readonly(lua_State *L, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_RO);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Replace the table on top by a read-only proxy of it: reads go to the
 * table, writes raise Redis's error. The proxy and its metatable are
 * read-only (the guards above keep scripts from taking that off). */
static void make_proxy(lua_State *L)
{
    lua_newtable(L);                 /* proxy */
    lua_newtable(L);                 /* its metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, script_readonly_error);
    lua_setfield(L, -2, "__newindex");
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_RO);
    lua_pushvalue(L, -2);
    lua_pushnumber(L, 2);            /* read-only, and a proxy's */
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_setmetatable(L, -2);
    mark_readonly(L, -1);
    lua_replace(L, -2);
}

/* loadstring, whose chunk runs in the scripts' environment (SCRIPT_REG_ENV)
 * rather than the globals themselves. The original is upvalue 1. */
static int loadstring_in_env(lua_State *L)
{
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    if (lua_isfunction(L, 1)) {
        lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ENV);
        lua_setfenv(L, 1);
    }
    return lua_gettop(L);
}

/* Make global table `name` a read-only proxy. */
static void protect_global(lua_State *L, const char *name)
{
    lua_getglobal(L, name);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    make_proxy(L);
    lua_setglobal(L, name);
}

/* The error handler every script runs under: the error becomes Redis's
 * table {err=..., source=..., line=...}, where the place is the script's
 * (the caller of redis.call when the error came from C). It keeps the
 * debug library for itself; scripts do not see it. */
static const char err_handler_src[] =
    "local dbg = debug\n"
    "return function(e)\n"
    "  local i = dbg.getinfo(2, 'nSl')\n"
    "  if i and i.what == 'C' then i = dbg.getinfo(3, 'nSl') end\n"
    "  if type(e) ~= 'table' then e = {err = 'ERR ' .. tostring(e)} end\n"
    "  if i then e['source'] = i.source; e['line'] = i.currentline end\n"
    "  return e\n"
    "end\n";

/* Lua's last resort for an error outside any protected call (luaL_newstate
 * sets the same): logged, then Lua aborts the process. */
static int on_panic(lua_State *L)
{
    log_warn("Lua panic: %s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    return 0;
}

lua_State *script_state_create(void)
{
    lua_State *L = script_state_new();
    if (!L)
        return NULL;
    lua_atpanic(L, on_panic);
    /* The libraries Redis loads; no package, os or io. */
    static const struct {
        const char *name;
        lua_CFunction open;
    } libs[] = {
        {"", luaopen_base},          {LUA_TABLIBNAME, luaopen_table},
        {LUA_STRLIBNAME, luaopen_string}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_DBLIBNAME, luaopen_debug},
    };
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        lua_pushcfunction(L, libs[i].open);
        lua_pushstring(L, libs[i].name);
        lua_call(L, 1, 0);
    }
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cjson");
    lua_pushcfunction(L, luaopen_bit);
    lua_pushstring(L, "bit");
    lua_call(L, 1, 1);
    lua_setglobal(L, "bit");
    /* Each sets its global itself, as luaL_register does. */
    lua_pushcfunction(L, script_struct_open);
    lua_call(L, 0, 0);
    lua_pushcfunction(L, script_msgpack_open);
    lua_call(L, 0, 0);
    /* Redis never lets these reach the globals. */
    static const char *const removed[] = {"dofile", "loadfile", "print",
                                          "getfenv", "setfenv", "newproxy"};
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    script_api_register(L);
    if (!script_xpcall_register(L)) {
        lua_close(L);
        return NULL;
    }
    lua_pushcfunction(L, rawset_guarded);
    lua_setglobal(L, "rawset");
    lua_pushcfunction(L, setmetatable_guarded);
    lua_setglobal(L, "setmetatable");
    lua_pushcfunction(L, getmetatable_guarded);
    lua_setglobal(L, "getmetatable");

    /* The error handler, then no debug library for scripts. */
    if (luaL_loadbuffer(L, err_handler_src, sizeof err_handler_src - 1, "@err_handler_def") ||
        lua_pcall(L, 0, 1, 0)) {
        lua_close(L);
        return NULL;
    }
    lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ERRH);
    lua_pushnil(L);
    lua_setglobal(L, "debug");

    /* Read-only tables: a weak-keyed set in the registry. */
    lua_newtable(L);
    lua_newtable(L);
    lua_pushstring(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_RO);
    static const char *const tables[] = {"redis", "string", "math", "table", "cjson",
                                         "bit", "coroutine", "struct", "cmsgpack"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        protect_global(L, tables[i]);
    /* String methods ("x"):upper() go through the string metatable: point
     * it at the proxy, and make it read-only. */
    lua_pushstring(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_getglobal(L, "string");
        lua_setfield(L, -2, "__index");
        mark_readonly(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    /* Globals last: reading a missing one and writing any raise Redis's
     * errors (KEYS and ARGV are set with lua_rawset). */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_newtable(L);
    lua_pushcfunction(L, script_global_missing);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, script_readonly_error);
    lua_setfield(L, -2, "__newindex");
    mark_readonly(L, -1);
    lua_setmetatable(L, -2);
    mark_readonly(L, -1);
    lua_pop(L, 1);
    /* The globals' metatable sees only names that are missing: assigning
     * to an existing one (`redis = 5`) would replace it for every later
     * script of this worker, other clients' included. Scripts therefore
     * run in an empty read-only proxy of the globals, as does what they
     * loadstring, and `_G` names the proxy. */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    make_proxy(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ENV);
    lua_pushstring(L, "_G");
    lua_insert(L, -2);
    lua_rawset(L, LUA_GLOBALSINDEX);
    lua_getglobal(L, "loadstring");
    lua_pushcclosure(L, loadstring_in_env, 1);
    lua_pushstring(L, "loadstring");
    lua_insert(L, -2);
    lua_rawset(L, LUA_GLOBALSINDEX);
    return L;
}

