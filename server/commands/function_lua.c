/* function_lua.c — libraries inside a worker's function Lua state (one
 * per worker, beside its EVAL state; script_lua.c owns both). Every
 * library chunk runs with one shared environment, a read-only table whose
 * metatable reads through to the sandbox's globals; while a library's
 * code loads, the metatable reads from the load-time API instead (only
 * redis.register_function, redis.log, its levels and the version), as
 * Redis 7.0 switches its globals. The callbacks a library registers are
 * kept in the state's registry by library id. Runs on the thread that
 * owns the state (a worker, or the main thread at start-up). */
#include "server/commands/function.h"

#include <lauxlib.h>
#include <lua.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "server/commands/script.h"
#include "server/commands/script_internal.h"

/* Registry names. */
#define REG_ENV "skv_fn_env"         /* the libraries' environment */
#define REG_ENV_META "skv_fn_envmeta" /* its metatable */
#define REG_LOAD_API "skv_fn_loadapi" /* globals while code loads */
#define REG_LIBS "skv_fn_libs"        /* id -> {name = callback} */
#define REG_GEN "skv_fn_gen"          /* registry generation last pruned at */

/* Redis's bound on the time a library's code may run while loading. */
#define LOAD_TIMEOUT_MS 500

/* The library whose code is loading on this thread, and where its
 * callbacks go (a registry reference), or NULL. */
static _Thread_local struct fn_lib *tl_lib;
static _Thread_local int tl_tbl = LUA_NOREF;
static _Thread_local int64_t tl_load_start;

/* Raise Redis's error table {err = "ERR " .. msg} (no position). */
static int raise_err(lua_State *L, const char *msg)
{
    lua_newtable(L);
    lua_pushfstring(L, "ERR %s", msg);
    lua_setfield(L, -2, "err");
    return lua_error(L);
}

static void mark_readonly(lua_State *L, int idx, int how)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_RO);
    lua_pushvalue(L, idx);
    if (how == 2)
        lua_pushnumber(L, 2);
    else
        lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Give the table on top a metatable that refuses writes and raises
 * Redis's error for a missing name. */
static void guard(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, script_global_missing);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, script_readonly_error);
    lua_setfield(L, -2, "__newindex");
    mark_readonly(L, -1, 2);
    lua_setmetatable(L, -2);
    mark_readonly(L, -1, 1);
}

/* ---- redis.register_function ------------------------------------------------- */

static const struct {
    const char *name;
    uint32_t flag;
} flag_names[] = {
    {"no-writes", SCRIPT_FLAG_NO_WRITES},     {"allow-oom", SCRIPT_FLAG_ALLOW_OOM},
    {"allow-stale", SCRIPT_FLAG_ALLOW_STALE}, {"no-cluster", SCRIPT_FLAG_NO_CLUSTER},
    {"allow-cross-slot-keys", SCRIPT_FLAG_CROSS_SLOT},
};

/* The flags table at idx into *flags; false on a bad one. */
static bool read_flags(lua_State *L, int idx, uint32_t *flags)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (!lua_isstring(L, -1)) {
            lua_pop(L, 2);
            return false;
        }
        const char *s = lua_tostring(L, -1);
        size_t i;
        for (i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
            if (strcmp(s, flag_names[i].name) == 0)
                break;
        if (i == sizeof flag_names / sizeof flag_names[0]) {
            lua_pop(L, 2);
            return false;
        }
        *flags |= flag_names[i].flag;
        lua_pop(L, 1);
    }
    return true;
}

static int register_function(lua_State *L)
{
    if (!tl_lib)
        return raise_err(L, "redis.register_function can only be called on FUNCTION LOAD command");
    int argc = lua_gettop(L);
    if (argc < 1 || argc > 2)
        return raise_err(L, "wrong number of arguments to redis.register_function");
    int name_at = 0, cb_at = 0, desc_at = 0;
    uint32_t flags = 0;
    if (argc == 1) {
        if (!lua_istable(L, 1))
            return raise_err(L, "calling redis.register_function with a single argument is only "
                                "applicable to Lua table (representing named arguments).");
        /* Checked in table order, as Redis does; read after. */
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            if (strcmp(k, "function_name") == 0) {
                if (!lua_isstring(L, -1))
                    return raise_err(L, "function_name argument given to "
                                        "redis.register_function must be a string");
                name_at = 1;
            } else if (strcmp(k, "description") == 0) {
                if (!lua_isstring(L, -1))
                    return raise_err(L, "description argument given to "
                                        "redis.register_function must be a string");
                desc_at = 1;
            } else if (strcmp(k, "callback") == 0) {
                if (!lua_isfunction(L, -1))
                    return raise_err(L, "callback argument given to redis.register_function must "
                                        "be a function");
                cb_at = 1;
            } else if (strcmp(k, "flags") == 0) {
                if (!lua_istable(L, -1))
                    return raise_err(L, "flags argument to redis.register_function must be a "
                                        "table representing function flags");
                if (!read_flags(L, lua_gettop(L), &flags))
                    return raise_err(L, "unknown flag given");
            } else {
                return raise_err(L, "unknown argument given to redis.register_function");
            }
            lua_pop(L, 1);
        }
        if (!name_at)
            return raise_err(L, "redis.register_function must get a function name argument");
        if (!cb_at)
            return raise_err(L, "redis.register_function must get a callback argument");
        /* The stack: 1 table, 2 name, 3 callback, 4 description or nil. */
        lua_getfield(L, 1, "function_name");
        lua_getfield(L, 1, "callback");
        lua_getfield(L, 1, "description");
        name_at = 2;
        cb_at = 3;
        desc_at = desc_at ? 4 : 0;
    } else {
        if (!lua_isstring(L, 1))
            return raise_err(L, "first argument to redis.register_function must be a string");
        if (!lua_isfunction(L, 2))
            return raise_err(L, "second argument to redis.register_function must be a function");
        name_at = 1;
        cb_at = 2;
    }
    size_t nlen, dlen = 0;
    const char *name = lua_tolstring(L, name_at, &nlen);
    const char *desc = desc_at ? lua_tolstring(L, desc_at, &dlen) : NULL;
    if (!function_name_ok(name, nlen))
        return raise_err(L, "Library names can only contain letters, numbers, or underscores(_) "
                            "and must be at least one character long");
    const char *err;
    if (function_lib_add(tl_lib, name, nlen, desc, dlen, desc != NULL, flags, &err) != 0)
        return raise_err(L, err);
    lua_rawgeti(L, LUA_REGISTRYINDEX, tl_tbl);
    lua_pushlstring(L, name, nlen);
    lua_pushvalue(L, cb_at);
    lua_rawset(L, -3);
    return 0;
}

/* ---- The environment ------------------------------------------------------- */

void function_lua_setup(lua_State *L)
{
    /* The environment: empty and read-only, reading through to the globals. */
    lua_newtable(L);
    lua_newtable(L);
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, script_readonly_error);
    lua_setfield(L, -2, "__newindex");
    mark_readonly(L, -1, 2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_ENV_META);
    lua_setmetatable(L, -2);
    mark_readonly(L, -1, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_ENV);

    /* What loading code sees: redis with register_function, log and the
     * constants, nothing else. */
    lua_newtable(L);                       /* the load globals */
    lua_newtable(L);                       /* their redis */
    lua_pushcfunction(L, register_function);
    lua_setfield(L, -2, "register_function");
    lua_getglobal(L, "redis");
    static const char *const copied[] = {"log",         "LOG_DEBUG",     "LOG_VERBOSE",
                                         "LOG_NOTICE",  "LOG_WARNING",   "REDIS_VERSION",
                                         "REDIS_VERSION_NUM"};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        lua_getfield(L, -1, copied[i]);
        lua_setfield(L, -3, copied[i]);
    }
    lua_pop(L, 1);
    guard(L);
    lua_setfield(L, -2, "redis");
    guard(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_LOAD_API);

    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_LIBS);
}

/* Point the environment's reads at the load API (on) or the globals. */
static void load_mode(lua_State *L, bool on)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ENV_META);
    lua_pushstring(L, "__index");
    if (on)
        lua_getfield(L, LUA_REGISTRYINDEX, REG_LOAD_API);
    else
        lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Redis's luaEngineLoadHook: code that loads for too long is stopped. */
static void load_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (clock_mono_ns() / 1000000 - tl_load_start > LOAD_TIMEOUT_MS)
        raise_err(L, "FUNCTION LOAD timeout");
}

bool function_lua_load(lua_State *L, struct fn_lib *lib, struct rbuf *err)
{
    /* The shebang line goes; its newline stays, so line numbers hold. */
    const char *code = lib->code;
    size_t len = lib->code_len;
    const char *nl = memchr(code, '\n', len);
    size_t skip = nl ? (size_t)(nl - code) : 0;
    if (luaL_loadbuffer(L, code + skip, len - skip, "@user_function")) {
        const char *m = lua_tostring(L, -1);
        rbuf_append(err, "Error compiling function: ", 26);
        rbuf_append(err, m ? m : "", m ? strlen(m) : 0);
        lua_pop(L, 1);
        return false;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ENV);
    lua_setfenv(L, -2);
    lua_newtable(L); /* the callbacks */
    lua_pushvalue(L, -1);
    tl_tbl = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_insert(L, -2);
    tl_lib = lib;
    tl_load_start = clock_mono_ns() / 1000000;
    load_mode(L, true);
    lua_sethook(L, load_hook, LUA_MASKCOUNT, SCRIPT_HOOK_COUNT);
    int rc = lua_pcall(L, 0, 0, 0);
    lua_sethook(L, NULL, 0, 0);
    load_mode(L, false);
    tl_lib = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, tl_tbl);
    tl_tbl = LUA_NOREF;
    if (rc) {
        static const char pre[] = "Error registering functions: ";
        rbuf_append(err, pre, sizeof pre - 1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            size_t n = 0;
            const char *m = lua_tolstring(L, -1, &n);
            rbuf_append(err, m ? m : "", m ? n : 0);
            lua_pop(L, 1);
        } else {
            size_t n = 0;
            const char *m = lua_tolstring(L, -1, &n);
            rbuf_append(err, "ERR ", 4);
            rbuf_append(err, m ? m : "unknown error", m ? n : 13);
        }
        lua_pop(L, 2);
        return false;
    }
    if (lib->nfuncs == 0) {
        static const char msg[] = "No functions registered";
        rbuf_append(err, msg, sizeof msg - 1);
        lua_pop(L, 1);
        return false;
    }
    return true; /* the callbacks stay on the stack */
}

bool function_lua_push(lua_State *L, uint64_t id, const char *fname, size_t flen)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_LIBS);
    lua_pushnumber(L, (lua_Number)id);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        struct rbuf code, err;
        rbuf_init(&code);
        rbuf_init(&err);
        struct fn_lib *lib = NULL;
        bool ok = function_lib_code(id, &code) && code.ptr;
        if (ok) {
            lib = function_lib_new("", code.ptr, code.len);
            ok = lib && function_lua_load(L, lib, &err);
        }
        function_lib_free(lib);
        rbuf_deinit(&code);
        rbuf_deinit(&err);
        if (!ok) {
            lua_pop(L, 1);
            return false;
        }
        lua_pushnumber(L, (lua_Number)id);
        lua_pushvalue(L, -2);
        lua_rawset(L, -4);
    }
    lua_pushlstring(L, fname, flen);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) {
        /* FCALL finds a function whatever the case of its name (Redis's
         * dict of functions): look for the name as registered. */
        lua_pop(L, 1);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            size_t n;
            const char *k = lua_tolstring(L, -2, &n);
            if (n == flen && strncasecmp(k, fname, flen) == 0)
                break;
            lua_pop(L, 1);
        }
        if (lua_gettop(L) >= 2 && lua_isfunction(L, -1)) {
            lua_remove(L, -2); /* the key */
        } else {
            lua_pushnil(L);
        }
    }
    lua_replace(L, -3);
    lua_pop(L, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return false;
    }
    return true;
}

void function_lua_prune(lua_State *L)
{
    uint64_t g = function_registry_gen();
    lua_getfield(L, LUA_REGISTRYINDEX, REG_GEN);
    bool same = lua_isnumber(L, -1) && (uint64_t)lua_tonumber(L, -1) == g;
    lua_pop(L, 1);
    if (same)
        return;
    lua_pushnumber(L, (lua_Number)g);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_GEN);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_LIBS);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        if (!function_lib_alive((uint64_t)lua_tonumber(L, -1))) {
            /* Setting an existing field to nil during lua_next is allowed. */
            lua_pushvalue(L, -1);
            lua_pushnil(L);
            lua_rawset(L, -4);
        }
    }
    lua_pop(L, 1);
}

struct fn_lib *function_compile(const char *code, size_t len, const char *name, struct rbuf *err)
{
    struct fn_lib *lib = function_lib_new(name, code, len);
    lua_State *L = lib ? script_fstate() : NULL;
    if (!L) {
        function_lib_free(lib);
        rbuf_append(err, "out of memory", 13);
        return NULL;
    }
    if (!function_lua_load(L, lib, err)) {
        function_lib_free(lib);
        return NULL;
    }
    lua_pop(L, 1); /* the callbacks: loaded again when first called */
    return lib;
}
