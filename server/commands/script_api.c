/* script_api.c — Redis's scripting API inside Lua: redis.call and
 * redis.pcall (through the one execution point, cmd_call, with Redis's
 * checks), error_reply, status_reply, sha1hex, log and its levels,
 * setresp, set_repl and REPL_*, the version, Redis's pcall and
 * math.random. Runs on the worker thread running the script. */
#include "server/commands/script_internal.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/util/log.h"
#include "server/core/server.h"
#include "server/memory/maxmemory.h"
#include "server/persist/persist.h"

/* Redis 7.0.15, as redis.REDIS_VERSION and REDIS_VERSION_NUM (0x00MMmmpp). */
#define SCRIPT_REDIS_VERSION "7.0.15"
#define SCRIPT_REDIS_VERSION_NUM 0x0007000f

/* Redis's PROPAGATE_* values behind redis.REPL_*. */
enum { REPL_NONE = 0, REPL_AOF = 1, REPL_REPLICA = 2, REPL_ALL = 3 };

_Thread_local struct script_run *script_cur;
_Thread_local unsigned short script_rand[3] = {0x330E, 0xABCD, 0x1234};

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

/* Redis's checks of a command a script calls, and ours: only declared
 * keys, all on one shard. NULL with *dp and *shard set, or the error text
 * (with its code, without the '-'). */
static const char *check_command(struct script_run *r, size_t argc, const struct resp_arg *argv,
                                 const struct cmd_def **dp, unsigned *shard)
{
    const struct cmd_def *container = NULL;
    const struct cmd_def *d = cmd_lookup_argv(argc, argv, &container);
    if (!d || !d->exec)
        return "ERR Unknown Redis command called from script";
    if (!cmd_arity_ok(d, argc))
        return "ERR Wrong number of args calling Redis command from script";
    if (d->flags & CMD_NOSCRIPT)
        return "ERR This Redis command is not allowed from script";
    /* What runs on the connection's thread or on every shard cannot run
     * inside a script, which holds only its keys' shards. (A blocking
     * command's exec is its non-blocking form, as Redis runs it in a
     * script: commands/cmd_block.c.) */
    if (((d->flags & CMD_CONN) && !(d->flags & CMD_CONNLESS)) ||
        (d->flags & (CMD_ALLSHARDS | CMD_AFTER_PRIOR)))
        return "ERR This Redis command is not supported from scripts by shardkv";
    if (r->ro && (d->flags & (CMD_WRITE | CMD_MAY_REPLICATE)))
        return "ERR Write commands are not allowed from read-only scripts.";
    /* Redis's scriptVerifyWriteCommandAllow: after a failed save, a write
     * is refused unless the script already wrote (it cannot be stopped
     * half-way). */
    if ((d->flags & CMD_WRITE) && !r->wrote && persist_writes_denied(d->flags))
        return PERSIST_MISCONF_ERR;
    /* Redis's scriptVerifyOOM: over maxmemory when the script began, a
     * script without allow-oom may not grow memory, unless it already
     * wrote (it cannot be stopped half-way). */
    if ((d->flags & CMD_DENYOOM) && r->oom && !r->allow_oom && !r->wrote)
        return MAXMEMORY_OOM_ERROR;
    /* Only the keys the script declared: they are what routed it and
     * what its locks cover (Dragonfly's rule). */
    *shard = r->home;
    bool first = true;
    struct cmd_keys it;
    size_t pos;
    if (cmd_keys_init(&it, d, argc, argv) > 0) {
        while (cmd_keys_next(&it, &pos, NULL)) {
            if (!r->sc->any_keys && !declared(r->sc, &argv[pos]))
                return "ERR script tried accessing undeclared key";
            if (r->c)
                continue; /* one shard: every declared key is here */
            unsigned s = shard_group_route(server.group, argv[pos].ptr, argv[pos].len);
            if (!first && s != *shard)
                return "ERR shardkv: a command inside a script may not span shards";
            *shard = s;
            first = false;
        }
    }
    *dp = d;
    return NULL;
}

/* Run d here, in the EVAL's context, into reply. */
static void run_command(struct script_run *r, const struct cmd_def *d, size_t argc,
                        const struct resp_arg *argv, struct rbuf *reply)
{
    struct cmd_ctx sub = {
        .shard = r->c->shard,
        .db = r->c->db,
        .dbidx = r->c->dbidx,
        .proto = r->resp,
        .argc = argc,
        .argv = argv,
        .out = reply,
        .now_ms = r->c->now_ms,
        /* Its keyspace events are the script's: their frames for the
         * script's own client go where the script's would (before the
         * script's reply), or to its coordinator. */
        .script_call = true,
        .origin = r->c->origin,
        .oslot = r->c->oslot,
        .events = r->c->events,
    };
    cmd_call(d, &sub);
}

/* Leave the command for the driver (script_xrun) and yield: it runs on
 * its shard inside the script's transaction, and the driver resumes the
 * script with its reply. */
static int yield_command(lua_State *L, struct script_run *r, const struct cmd_def *d,
                         unsigned shard, size_t argc, const struct resp_arg *argv, bool raise)
{
    struct script_pending *p = r->pending;
    free(p->argv); /* a yield that failed (inside a C pcall) left it */
    p->argv = malloc(argc * sizeof *p->argv + resp_args_len(argv, argc) + 1);
    if (!p->argv)
        return luaL_error(L, "out of memory");
    resp_args_copy(p->argv, argv, argc);
    p->argc = argc;
    p->d = d;
    p->shard = shard;
    p->raise = raise;
    p->thread = L;
    script_x_push_sentinel(L);
    return lua_yield(L, 1);
}

/* The body of redis.call (raise: an error reply is raised) and
 * redis.pcall (it is returned). Across shards the command is left for
 * the driver and the script yields; the driver raises after the resume
 * when it must (script_xrun_resume). */
static int redis_generic_call(lua_State *L, bool raise)
{
    struct script_run *r = script_cur;
    if (!r)
        return raise_error(L, "redis.call/pcall can only be called inside a script invocation");
    script_mem_hold(true);
    int argc = lua_gettop(L);
    const char *err = NULL;
    if (argc == 0)
        err = "ERR Please specify at least one argument for this redis lib call";
    struct resp_arg *argv = argc ? malloc((size_t)argc * sizeof *argv) : NULL;
    if (argc && !argv) {
        script_mem_hold(false);
        return luaL_error(L, "out of memory");
    }
    for (int j = 1; !err && j <= argc; j++) {
        int t = lua_type(L, j);
        if (t == LUA_TNUMBER) {
            /* Not lua_tolstring: Lua's "%.14g" loses precision. The text
             * replaces the number in its stack slot. */
            char num[64];
            int n = snprintf(num, sizeof num, "%.17g", (double)lua_tonumber(L, j));
            lua_pushlstring(L, num, (size_t)n);
            lua_replace(L, j);
        } else if (t != LUA_TSTRING) {
            err = "ERR Lua redis lib command arguments must be strings or integers";
            break;
        }
        argv[j - 1].ptr = lua_tolstring(L, j, &argv[j - 1].len);
    }
    const struct cmd_def *d = NULL;
    unsigned shard = 0;
    if (!err)
        err = check_command(r, (size_t)argc, argv, &d, &shard);
    if (!err && (d->flags & CMD_WRITE)) {
        r->wrote = true;
        if (!script_busy_write()) {
            free(argv);
            script_mem_hold(false);
            return script_busy_raise_killed(L);
        }
    }
    if (!err && !r->c && !script_x_yieldable(L))
        err = "ERR shardkv: redis.call from a coroutine of a script whose keys span shards";
    if (!err && !r->c) {
        script_mem_hold(false); /* what follows allocates with malloc */
        int rc = yield_command(L, r, d, shard, (size_t)argc, argv, raise);
        free(argv);
        return rc;
    }
    struct rbuf reply;
    rbuf_init(&reply);
    if (!err)
        run_command(r, d, (size_t)argc, argv, &reply);
    free(argv);
    lua_settop(L, 0);
    bool failed;
    if (err) {
        char buf[512]; /* the longest text, MISCONF's, is 340 bytes */
        snprintf(buf, sizeof buf, "-%s", err);
        script_push_error(L, buf, strlen(buf));
        failed = true;
    } else {
        if (reply.oom || !script_resp_to_lua(L, reply.ptr, reply.len))
            script_push_error(L, "-ERR out of memory", 18);
        failed = reply.oom || (reply.len && reply.ptr[0] == '-');
    }
    rbuf_deinit(&reply);
    script_mem_hold(false);
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
 * "err" string (what redis.call raises) is handed back as that string.
 * No argument is checked: Redis's pcall() ends up calling the boolean it
 * pushes, and answers what that call fails with. */
static int lua_pcall_redis(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc == 0) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, "attempt to call a boolean value");
        return 2;
    }
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
    struct script_run *r = script_cur;
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
    if (!script_cur)
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

/* math.random and math.randomseed over script_rand: Lua's own code with
 * rand() replaced, as Redis does, so every platform gives one sequence. */
static int math_random(lua_State *L)
{
    const long max = 2147483647L; /* REDIS_LRAND48_MAX */
    lua_Number r = (lua_Number)(nrand48(script_rand) % max) / (lua_Number)max;
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
    script_rand[0] = 0x330E; /* srand48's layout: the seed above 0x330E */
    script_rand[1] = (unsigned short)(seed & 0xffff);
    script_rand[2] = (unsigned short)((uint32_t)seed >> 16);
    return 0;
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

void script_api_register(lua_State *L)
{
    lua_pushcfunction(L, lua_pcall_redis);
    lua_setglobal(L, "pcall");

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

}
