/* script_lua.c — the Lua side of scripting: one Lua 5.1 state per worker
 * thread, built lazily with Redis's sandbox (the libraries Redis loads,
 * read-only globals and library tables, no os/io/loadfile/dofile/print),
 * Redis's scripting API (redis.call, pcall, error_reply, status_reply,
 * sha1hex, log, setresp, set_repl, version), compiling bodies into that
 * state, and running one EVAL. Runs on the worker thread that executes the
 * script; nothing here is shared between threads but the body registry
 * (script_cache.c). */
#include "server/script.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"

int luaopen_cjson(lua_State *L);
int luaopen_bit(lua_State *L);

/* Redis 7.0.15, as redis.REDIS_VERSION and REDIS_VERSION_NUM (0x00MMmmpp). */
#define SCRIPT_REDIS_VERSION "7.0.15"
#define SCRIPT_REDIS_VERSION_NUM 0x0007000f

/* Redis's PROPAGATE_* values behind redis.REPL_*. */
enum { REPL_NONE = 0, REPL_AOF = 1, REPL_REPLICA = 2, REPL_ALL = 3 };

/* Lua's garbage collector is stepped every this many scripts, as Redis
 * does (LUA_GC_CYCLE_PERIOD): a full cycle at Lua's own pace costs latency. */
#define GC_PERIOD 50

/* Registry names. */
#define REG_ERRH "skv_err_handler"   /* the error handler */
#define REG_RO "skv_readonly"        /* set of read-only tables (weak keys) */

/* One running script (redis.call reads it). */
struct run {
    struct cmd_ctx *c;      /* the EVAL's context: shard, db, clock */
    const struct script_call *sc; /* its keys and arguments */
    int resp;               /* protocol of redis.call replies (setresp) */
    bool ro;                /* write commands refused */
    bool wrote;             /* a write command ran */
};

/* This thread's state and what goes with it. */
static _Thread_local lua_State *tl_L;
static _Thread_local uint64_t tl_epoch;    /* script_cache_epoch it was built in */
static _Thread_local struct run *tl_run;   /* the script running, or NULL */
static _Thread_local unsigned tl_gc;       /* scripts since the last GC step */
/* math.random's state: Redis's redisLrand48, a 48-bit LCG whose initial
 * state (0x1234ABCD330E) is the one nrand48 takes as three shorts. Redis
 * has one per process and never reseeds it between scripts; here each
 * worker has its own, starting where Redis's starts. */
static _Thread_local unsigned short tl_rand[3] = {0x330E, 0xABCD, 0x1234};

/* ---- redis.* -------------------------------------------------------------- */

/* Push Redis's error table for msg and raise it (redis.call's errors). */
static int raise_error(lua_State *L, const char *msg)
{
    script_push_error(L, msg, strlen(msg));
    return lua_error(L);
}

/* Is key one of the script's declared keys? */
static bool declared(const struct script_call *sc, const struct resp_arg *key)
{
    for (size_t i = 0; i < sc->nkeys; i++)
        if (sc->keys[i].len == key->len && memcmp(sc->keys[i].ptr, key->ptr, key->len) == 0)
            return true;
    return false;
}

/* Check and run one command for redis.call/pcall into reply; NULL, or the
 * error text (without "ERR ") when it was refused before running. */
static const char *call_command(struct run *r, size_t argc, const struct resp_arg *argv,
                                struct rbuf *reply)
{
    const struct cmd_def *container = NULL;
    const struct cmd_def *d = cmd_lookup_argv(argc, argv, &container);
    if (!d || !d->exec)
        return "Unknown Redis command called from script";
    if (!cmd_arity_ok(d, argc))
        return "Wrong number of args calling Redis command from script";
    if (d->flags & CMD_NOSCRIPT)
        return "This Redis command is not allowed from script";
    /* What runs on the connection's thread or on every shard cannot run
     * inside a script that owns one shard. */
    if (((d->flags & CMD_CONN) && !(d->flags & CMD_CONNLESS)) ||
        (d->flags & (CMD_ALLSHARDS | CMD_AFTER_PRIOR | CMD_BLOCKING)))
        return "This Redis command is not supported from scripts by shardkv";
    if (r->ro && (d->flags & (CMD_WRITE | CMD_MAY_REPLICATE)))
        return "Write commands are not allowed from read-only scripts.";
    /* Only the keys the script declared: they are what routed it here
     * and what its locks cover (Dragonfly's rule). */
    struct cmd_keys it;
    size_t pos;
    if (cmd_keys_init(&it, d, argc, argv) > 0)
        while (cmd_keys_next(&it, &pos, NULL))
            if (!declared(r->sc, &argv[pos]))
                return "script tried accessing undeclared key";
    if (d->flags & CMD_WRITE)
        r->wrote = true;
    struct cmd_ctx sub = {
        .shard = r->c->shard,
        .db = r->c->db,
        .dbidx = r->c->dbidx,
        .proto = r->resp,
        .argc = argc,
        .argv = argv,
        .out = reply,
        .now_ms = r->c->now_ms,
    };
    cmd_call(d, &sub);
    return NULL;
}

static int redis_generic_call(lua_State *L, bool raise)
{
    struct run *r = tl_run;
    if (!r)
        return raise_error(L, "redis.call/pcall can only be called inside a script invocation");
    int argc = lua_gettop(L);
    if (argc == 0) {
        script_push_error(L, "Please specify at least one argument for this redis lib call", 60);
        return raise ? lua_error(L) : 1;
    }
    struct resp_arg *argv = malloc((size_t)argc * sizeof *argv);
    if (!argv)
        return luaL_error(L, "out of memory");
    for (int j = 1; j <= argc; j++) {
        int t = lua_type(L, j);
        if (t == LUA_TNUMBER) {
            /* Not lua_tolstring: Lua's "%.14g" loses precision. The text
             * replaces the number in its stack slot. */
            char num[64];
            int n = snprintf(num, sizeof num, "%.17g", (double)lua_tonumber(L, j));
            lua_pushlstring(L, num, (size_t)n);
            lua_replace(L, j);
        } else if (t != LUA_TSTRING) {
            free(argv);
            lua_settop(L, 0);
            script_push_error(L, "Lua redis lib command arguments must be strings or integers",
                              59);
            return raise ? lua_error(L) : 1;
        }
        argv[j - 1].ptr = lua_tolstring(L, j, &argv[j - 1].len);
    }
    struct rbuf reply;
    rbuf_init(&reply);
    const char *err = call_command(r, (size_t)argc, argv, &reply);
    free(argv);
    bool failed;
    if (err) {
        char buf[160];
        snprintf(buf, sizeof buf, "-ERR %s", err);
        lua_settop(L, 0);
        script_push_error(L, buf, strlen(buf));
        failed = true;
    } else {
        lua_settop(L, 0);
        if (reply.oom || !script_resp_to_lua(L, reply.ptr, reply.len))
            script_push_error(L, "-ERR out of memory", 18);
        failed = reply.len && reply.ptr[0] == '-';
    }
    rbuf_deinit(&reply);
    if (raise && failed)
        return lua_error(L);
    return 1;
}

static int redis_call(lua_State *L)
{
    return redis_generic_call(L, true);
}

static int redis_pcall(lua_State *L)
{
    return redis_generic_call(L, false);
}

/* Lua's pcall, with Redis 7's twist: an error that is a table with an
 * "err" string (what redis.call raises) is handed back as that string. */
static int lua_pcall_redis(lua_State *L)
{
    int argc = lua_gettop(L);
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    if (lua_pcall(L, argc - 1, LUA_MULTRET, 0)) {
        lua_remove(L, 1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1))
                lua_replace(L, -2);
            else
                lua_pop(L, 1);
        }
        lua_pushboolean(L, 0);
        lua_insert(L, 1);
    }
    return lua_gettop(L);
}

static int redis_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1)
        return raise_error(L, "wrong number of arguments");
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    char hex[SHA1_HEX_LEN + 1];
    sha1_hex(s ? s : "", s ? n : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int redis_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        script_push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (n && s[0] == '-') {
        script_push_error(L, s, n);
    } else {
        lua_pushstring(L, "-");
        lua_pushvalue(L, 1);
        lua_concat(L, 2);
        s = lua_tolstring(L, -1, &n);
        script_push_error(L, s, n);
    }
    return 1;
}

static int redis_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        script_push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    lua_newtable(L);
    lua_pushstring(L, "ok");
    lua_pushvalue(L, -3);
    lua_settable(L, -3);
    return 1;
}

static int redis_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2)
        return raise_error(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, -argc))
        return raise_error(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, -argc);
    if (level < LOG_DEBUG || level > LOG_WARNING)
        return raise_error(L, "Invalid debug level.");
    if (level < log_level())
        return 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    /* Glue the arguments with spaces (non-strings are skipped, as Redis). */
    int first = 1;
    for (int j = 2; j <= argc; j++) {
        size_t n;
        const char *s = lua_tolstring(L, j, &n);
        if (!s)
            continue;
        if (!first)
            luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, n);
        first = 0;
    }
    luaL_pushresult(&b);
    log_msg(level, "%s", lua_tostring(L, -1));
    return 0;
}

static int redis_setresp(lua_State *L)
{
    struct run *r = tl_run;
    if (!r)
        return raise_error(L, "redis.setresp can only be called inside a script invocation");
    if (lua_gettop(L) != 1)
        return raise_error(L, "redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3)
        return raise_error(L, "RESP version must be 2 or 3.");
    r->resp = resp;
    return 0;
}

static int redis_set_repl(lua_State *L)
{
    if (!tl_run)
        return raise_error(L, "redis.set_repl can only be called inside a script invocation");
    if (lua_gettop(L) != 1)
        return raise_error(L, "redis.set_repl() requires two arguments.");
    int flags = (int)lua_tonumber(L, -1);
    if (flags & ~REPL_ALL)
        return raise_error(
            L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    return 0; /* accepted: nothing is replicated yet */
}

static int redis_replicate_commands(lua_State *L)
{
    lua_pushboolean(L, 1); /* deprecated in Redis: always true */
    return 1;
}

/* redis.breakpoint and redis.debug: the debugger is not there; Redis's
 * answers when it is off. */
static int redis_breakpoint(lua_State *L)
{
    lua_pushboolean(L, 0);
    return 1;
}

static int redis_debug(lua_State *L)
{
    return 0;
}

/* math.random and math.randomseed over tl_rand: Lua's own code with
 * rand() replaced, as Redis does, so every platform gives one sequence. */
static int math_random(lua_State *L)
{
    const long max = 2147483647L; /* REDIS_LRAND48_MAX */
    lua_Number r = (lua_Number)(nrand48(tl_rand) % max) / (lua_Number)max;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1);
        int u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int math_randomseed(lua_State *L)
{
    int32_t seed = luaL_checkint(L, 1);
    tl_rand[0] = 0x330E; /* srand48's layout: the seed above 0x330E */
    tl_rand[1] = (unsigned short)(seed & 0xffff);
    tl_rand[2] = (unsigned short)((uint32_t)seed >> 16);
    return 0;
}

/* ---- The sandbox --------------------------------------------------------- */

static int readonly_error(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

static int global_missing(lua_State *L)
{
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      name ? name : "?");
}

/* rawset, refusing the read-only tables (Redis's patched Lua refuses any
 * write to them; stock 5.1 needs the check here). */
static int rawset_guarded(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_RO);
    lua_pushvalue(L, 1);
    lua_rawget(L, -2);
    bool ro = lua_toboolean(L, -1);
    lua_pop(L, 2);
    if (ro) {
        /* From C, as Redis's patched lua_rawset raises it: no position. */
        lua_pushstring(L, "Attempt to modify a readonly table");
        return lua_error(L);
    }
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static void mark_readonly(lua_State *L, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_RO);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Replace global table `name` by a read-only proxy: reads go to the real
 * table, writes raise Redis's error; its metatable is hidden so scripts
 * cannot take the protection off. */
static void protect_global(lua_State *L, const char *name)
{
    lua_getglobal(L, name);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_newtable(L);                 /* proxy */
    lua_newtable(L);                 /* its metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_error);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    mark_readonly(L, -1);
    lua_setglobal(L, name);
    lua_pop(L, 1);
}

static void set_num(lua_State *L, const char *k, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_fn(lua_State *L, const char *k, lua_CFunction f)
{
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, k);
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

static lua_State *state_create(void)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return NULL;
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
    /* Redis never lets these reach the globals. */
    static const char *const removed[] = {"dofile", "loadfile", "print"};
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    lua_pushcfunction(L, lua_pcall_redis);
    lua_setglobal(L, "pcall");
    lua_pushcfunction(L, rawset_guarded);
    lua_setglobal(L, "rawset");

    lua_newtable(L);
    set_fn(L, "call", redis_call);
    set_fn(L, "pcall", redis_pcall);
    set_fn(L, "log", redis_log);
    set_num(L, "LOG_DEBUG", LOG_DEBUG);
    set_num(L, "LOG_VERBOSE", LOG_VERBOSE);
    set_num(L, "LOG_NOTICE", LOG_NOTICE);
    set_num(L, "LOG_WARNING", LOG_WARNING);
    set_num(L, "REDIS_VERSION_NUM", SCRIPT_REDIS_VERSION_NUM);
    lua_pushstring(L, SCRIPT_REDIS_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    set_fn(L, "setresp", redis_setresp);
    set_fn(L, "sha1hex", redis_sha1hex);
    set_fn(L, "error_reply", redis_error_reply);
    set_fn(L, "status_reply", redis_status_reply);
    set_fn(L, "set_repl", redis_set_repl);
    set_num(L, "REPL_NONE", REPL_NONE);
    set_num(L, "REPL_AOF", REPL_AOF);
    set_num(L, "REPL_SLAVE", REPL_REPLICA);
    set_num(L, "REPL_REPLICA", REPL_REPLICA);
    set_num(L, "REPL_ALL", REPL_ALL);
    set_fn(L, "replicate_commands", redis_replicate_commands);
    set_fn(L, "breakpoint", redis_breakpoint);
    set_fn(L, "debug", redis_debug);
    lua_setglobal(L, "redis");

    lua_getglobal(L, "math");
    set_fn(L, "random", math_random);
    set_fn(L, "randomseed", math_randomseed);
    lua_pop(L, 1);

    /* The error handler, then no debug library for scripts. */
    if (luaL_loadbuffer(L, err_handler_src, sizeof err_handler_src - 1, "@err_handler_def") ||
        lua_pcall(L, 0, 1, 0)) {
        lua_close(L);
        return NULL;
    }
    lua_setfield(L, LUA_REGISTRYINDEX, REG_ERRH);
    lua_pushnil(L);
    lua_setglobal(L, "debug");

    /* Read-only tables: a weak-keyed set in the registry. */
    lua_newtable(L);
    lua_newtable(L);
    lua_pushstring(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_RO);
    static const char *const tables[] = {"redis", "string", "math", "table", "cjson",
                                         "bit", "coroutine"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        protect_global(L, tables[i]);
    /* String methods ("x"):upper() go through the string metatable: point
     * it at the proxy and hide it. */
    lua_pushstring(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_getglobal(L, "string");
        lua_setfield(L, -2, "__index");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    /* Globals last: reading a missing one and writing any raise Redis's
     * errors (KEYS and ARGV are set with lua_rawset). */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_newtable(L);
    lua_pushcfunction(L, global_missing);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_error);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    mark_readonly(L, -1);
    lua_pop(L, 1);
    return L;
}

/* This thread's state, rebuilt after a SCRIPT FLUSH. NULL on out-of-memory. */
static lua_State *state_get(void)
{
    uint64_t epoch = script_cache_epoch();
    if (tl_L && tl_epoch != epoch) {
        lua_close(tl_L);
        tl_L = NULL;
    }
    if (!tl_L) {
        tl_L = state_create();
        tl_epoch = epoch;
    }
    return tl_L;
}

/* ---- Compiling and running ------------------------------------------------ */

/* Registry names of a script's function and flags. */
static void reg_name(char *out, char kind, const char *sha)
{
    out[0] = kind;
    out[1] = '_';
    memcpy(out + 2, sha, SHA1_HEX_LEN);
    out[2 + SHA1_HEX_LEN] = '\0';
}

/* Compile body (its SHA1 sha) into L under its registry names. */
static bool compile(lua_State *L, const char *body, size_t len, const char *sha,
                    struct rbuf *out)
{
    uint32_t flags;
    size_t skip;
    struct rbuf err;
    rbuf_init(&err);
    if (!script_shebang(body, len, &flags, &skip, &err)) {
        rbuf_append(&err, "", 1);
        resp_errorf(out, "ERR %s", err.oom ? "out of memory" : err.ptr);
        rbuf_deinit(&err);
        return false;
    }
    rbuf_deinit(&err);
    if (luaL_loadbuffer(L, body + skip, len - skip, "@user_script")) {
        resp_errorf(out, "ERR Error compiling script (new function): %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return false;
    }
    char name[3 + SHA1_HEX_LEN];
    reg_name(name, 'f', sha);
    lua_setfield(L, LUA_REGISTRYINDEX, name);
    reg_name(name, 'g', sha);
    lua_pushnumber(L, flags);
    lua_setfield(L, LUA_REGISTRYINDEX, name);
    if (script_cache_add(body, len, flags, sha) != 0) {
        resp_error(out, "ERR out of memory");
        return false;
    }
    return true;
}

bool script_load(const char *body, size_t len, char *sha, struct rbuf *out)
{
    lua_State *L = state_get();
    if (!L) {
        resp_error(out, "ERR out of memory");
        return false;
    }
    sha1_hex(body, len, sha);
    char name[3 + SHA1_HEX_LEN];
    reg_name(name, 'f', sha);
    lua_getfield(L, LUA_REGISTRYINDEX, name);
    bool have = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (have && script_cache_exists(sha, SHA1_HEX_LEN))
        return true;
    return compile(L, body, len, sha, out);
}

/* A table of strings, for KEYS and ARGV, set as global name. */
static void set_array(lua_State *L, const char *name, const struct resp_arg *a, size_t n)
{
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_pushstring(L, name);
    lua_createtable(L, n < INT32_MAX ? (int)n : 0, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushlstring(L, a[i].ptr, a[i].len);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Reply for the error object on top of L (a table from the handler). */
static void reply_error(lua_State *L, struct cmd_ctx *c, const char *sha)
{
    if (!lua_istable(L, -1)) {
        const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
        resp_errorf(c->out, "ERR Error running script f_%s, %.100s", sha, msg);
        return;
    }
    struct rbuf m;
    rbuf_init(&m);
    lua_getfield(L, -1, "err");
    size_t n = 0;
    const char *s = lua_isstring(L, -1) ? lua_tolstring(L, -1, &n) : "";
    if (n && s[0] == '-') {
        s++;
        n--;
    }
    rbuf_append(&m, s, n);
    lua_pop(L, 1);
    lua_getfield(L, -1, "source");
    lua_getfield(L, -2, "line");
    if (lua_isstring(L, -2) && lua_isstring(L, -1)) {
        size_t sl, ll;
        const char *src = lua_tolstring(L, -2, &sl);
        const char *line = lua_tolstring(L, -1, &ll);
        rbuf_append(&m, " script: ", 9);
        rbuf_append(&m, sha, SHA1_HEX_LEN);
        rbuf_append(&m, ", on ", 5);
        rbuf_append(&m, src, sl);
        rbuf_append(&m, ":", 1);
        rbuf_append(&m, line, ll);
        rbuf_append(&m, ".", 1);
    }
    lua_pop(L, 2);
    rbuf_append(&m, "", 1);
    if (m.oom)
        resp_error(c->out, "ERR out of memory");
    else
        resp_error(c->out, m.ptr);
    rbuf_deinit(&m);
}

void script_run(struct cmd_ctx *c, const struct script_call *sc)
{
    lua_State *L = state_get();
    if (!L) {
        resp_error(c->out, "ERR out of memory");
        return;
    }
    char name[3 + SHA1_HEX_LEN];
    reg_name(name, 'f', sc->sha);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ERRH);
    lua_getfield(L, LUA_REGISTRYINDEX, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        bool ok;
        if (sc->body) {
            ok = compile(L, sc->body, sc->body_len, sc->sha, c->out);
        } else {
            struct rbuf body;
            uint32_t flags;
            rbuf_init(&body);
            if (!script_cache_get(sc->sha, &body, &flags)) {
                resp_error(c->out, "NOSCRIPT No matching script. Please use EVAL.");
                ok = false;
            } else {
                ok = compile(L, body.ptr ? body.ptr : "", body.len, sc->sha, c->out);
            }
            rbuf_deinit(&body);
        }
        if (!ok) {
            lua_pop(L, 1);
            return;
        }
        lua_getfield(L, LUA_REGISTRYINDEX, name);
    }
    reg_name(name, 'g', sc->sha);
    lua_getfield(L, LUA_REGISTRYINDEX, name);
    uint32_t flags = (uint32_t)lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(flags & SCRIPT_FLAG_EVAL_COMPAT) && !(flags & SCRIPT_FLAG_NO_WRITES) && sc->ro) {
        resp_error(c->out, "ERR Can not execute a script with write flag using *_ro command.");
        lua_pop(L, 2);
        return;
    }
    struct run r = {
        .c = c,
        .sc = sc,
        .resp = RESP2,
        .ro = sc->ro || (!(flags & SCRIPT_FLAG_EVAL_COMPAT) && (flags & SCRIPT_FLAG_NO_WRITES)),
    };
    set_array(L, "KEYS", sc->keys, sc->nkeys);
    set_array(L, "ARGV", sc->args, sc->nargs);
    tl_run = &r;
    int err = lua_pcall(L, 0, 1, -2);
    tl_run = NULL;
    if (++tl_gc == GC_PERIOD) {
        lua_gc(L, LUA_GCSTEP, GC_PERIOD);
        tl_gc = 0;
    }
    if (err) {
        reply_error(L, c, sc->sha);
        lua_pop(L, 1);
    } else {
        script_lua_to_resp(L, c->out, c->proto, r.resp);
    }
    lua_pop(L, 1); /* the error handler */
}
