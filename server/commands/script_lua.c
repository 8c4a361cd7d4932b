/* script_lua.c — running scripts: one Lua 5.1 state per worker thread,
 * built lazily (script_sandbox.c) and rebuilt after SCRIPT FLUSH, bodies
 * compiled into it on first use, and two ways to run one EVAL: whole on
 * the shard that owns its keys (script_run: redis.call runs each command
 * at once, cmd_call), or across shards from the connection's thread
 * (script_xrun: the script is a coroutine that yields at every
 * redis.call; the caller runs the command on its shard inside the
 * script's transaction and resumes it with the reply). Runs on the worker
 * thread that executes the script; nothing here is shared between threads
 * but the body registry (script_cache.c). */
#include "server/commands/script_internal.h"

#include "server/commands/function.h"
#include "server/memory/maxmemory.h"
#include "server/net/worker.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lua's garbage collector is stepped every this many scripts, as Redis
 * does (LUA_GC_CYCLE_PERIOD): a full cycle at Lua's own pace costs latency. */
#define GC_PERIOD 50

/* A Lua state and what still runs in it: the thread's current state holds
 * one reference, each suspended cross-shard script another, so a SCRIPT
 * FLUSH never closes a state under a script. */
struct lstate {
    lua_State *L;
    unsigned refs;
};

static _Thread_local struct lstate *tl_state; /* this thread's current state */
static _Thread_local struct lstate *tl_fstate; /* its function state (FCALL) */
static _Thread_local uint64_t tl_epoch;       /* script_cache_epoch it was built in */
static _Thread_local unsigned tl_gc;          /* scripts since the last GC step */
/* The error redis.call raises once a cross-shard script resumes (a
 * registry reference, LUA_NOREF: none): see raise_hook. */
static _Thread_local int tl_raise = LUA_NOREF;

static void lstate_unref(struct lstate *s)
{
    if (--s->refs == 0) {
        lua_close(s->L);
        free(s);
    }
}

/* This thread's state, rebuilt after a SCRIPT FLUSH. NULL on out-of-memory. */
static struct lstate *state_get(void)
{
    uint64_t epoch = script_cache_epoch();
    if (tl_state && tl_epoch != epoch) {
        lstate_unref(tl_state);
        tl_state = NULL;
    }
    if (!tl_state) {
        struct lstate *s = malloc(sizeof *s);
        lua_State *L = s ? script_state_create() : NULL;
        if (!L) {
            free(s);
            return NULL;
        }
        s->L = L;
        s->refs = 1;
        tl_state = s;
        tl_epoch = epoch;
    }
    return tl_state;
}

/* This thread's function state: never rebuilt (libraries come and go
 * by id), pruned of removed libraries' callbacks when the registry
 * changed. NULL on out-of-memory. */
static struct lstate *fstate_get(void)
{
    if (!tl_fstate) {
        struct lstate *s = malloc(sizeof *s);
        lua_State *L = s ? script_state_create() : NULL;
        if (!L) {
            free(s);
            return NULL;
        }
        function_lua_setup(L);
        s->L = L;
        s->refs = 1;
        tl_fstate = s;
    }
    function_lua_prune(tl_fstate->L);
    return tl_fstate;
}

lua_State *script_fstate(void)
{
    struct lstate *s = fstate_get();
    return s ? s->L : NULL;
}

void script_thread_cleanup(void)
{
    if (tl_state) {
        lstate_unref(tl_state);
        tl_state = NULL;
    }
    if (tl_fstate) {
        lstate_unref(tl_fstate);
        tl_fstate = NULL;
    }
}

static void gc_step(lua_State *L)
{
    if (++tl_gc == GC_PERIOD) {
        lua_gc(L, LUA_GCSTEP, GC_PERIOD);
        tl_gc = 0;
    }
}

/* ---- Compiling ------------------------------------------------------------- */

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
    /* Lua 5.1 loads a body starting with ESC as precompiled bytecode, which
     * it does not verify (crafted bytecode escapes the sandbox): Redis's
     * Lua parses it as text, so the ESC is a syntax error, its words here. */
    if (len > skip && body[skip] == LUA_SIGNATURE[0]) {
        resp_error(out, "ERR Error compiling script (new function): user_script:1: unexpected "
                        "symbol near 'char(27)'");
        return false;
    }
    if (luaL_loadbuffer(L, body + skip, len - skip, "@user_script")) {
        resp_errorf(out, "ERR Error compiling script (new function): %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return false;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ENV);
    lua_setfenv(L, -2);
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
    struct lstate *st = state_get();
    if (!st) {
        resp_error(out, "ERR out of memory");
        return false;
    }
    lua_State *L = st->L;
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

/* Redis's refusals of a script before it runs, in Redis 7.0's order (a
 * *_RO form first): may a script with these flags run this way (oom: the
 * server was over maxmemory when it began)? False after appending Redis's
 * error to out. A script without a shebang is judged
 * by its commands instead. (The common over-maxmemory case is refused
 * before this, as Redis's processCommand refuses it: script_cmd.c.) */
static bool may_run(const struct script_call *sc, uint32_t flags, bool oom, struct rbuf *out)
{
    if (flags & SCRIPT_FLAG_EVAL_COMPAT)
        return true;
    if (!(flags & SCRIPT_FLAG_NO_WRITES) && sc->ro) {
        resp_error(out, "ERR Can not execute a script with write flag using *_ro command.");
        return false;
    }
    if (oom && !(flags & (SCRIPT_FLAG_ALLOW_OOM | SCRIPT_FLAG_NO_WRITES))) {
        resp_error(out, "OOM allow-oom flag is not set on the script, can not run it when used "
                        "memory > 'maxmemory'");
        return false;
    }
    return true;
}

/* Push sc's function (compiling it, or fetching an EVALSHA's body from
 * the registry first) and return its flags in *flags, if it may run
 * (may_run; oom as there). False after appending the error reply to out
 * (nothing pushed). */
static bool push_function(lua_State *L, const struct script_call *sc, bool oom, uint32_t *flags,
                          struct rbuf *out)
{
    if (sc->fname) {
        uint64_t id;
        if (!function_find(sc->fname, sc->fname_len, &id, flags) ||
            !function_lua_push(L, id, sc->fname, sc->fname_len)) {
            resp_error(out, "ERR Function not found");
            return false;
        }
        if (!may_run(sc, *flags, oom, out)) {
            lua_pop(L, 1);
            return false;
        }
        return true;
    }
    char name[3 + SHA1_HEX_LEN];
    reg_name(name, 'f', sc->sha);
    lua_getfield(L, LUA_REGISTRYINDEX, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        bool ok;
        if (sc->body) {
            ok = compile(L, sc->body, sc->body_len, sc->sha, out);
        } else {
            struct rbuf body;
            uint32_t f;
            rbuf_init(&body);
            if (!script_cache_get(sc->sha, &body, &f)) {
                resp_error(out, "NOSCRIPT No matching script. Please use EVAL.");
                ok = false;
            } else {
                ok = compile(L, body.ptr ? body.ptr : "", body.len, sc->sha, out);
            }
            rbuf_deinit(&body);
        }
        if (!ok)
            return false;
        lua_getfield(L, LUA_REGISTRYINDEX, name);
    }
    reg_name(name, 'g', sc->sha);
    lua_getfield(L, LUA_REGISTRYINDEX, name);
    *flags = (uint32_t)lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!may_run(sc, *flags, oom, out)) {
        lua_pop(L, 1);
        return false;
    }
    return true;
}

/* Are writes refused to a script with these flags run this way? */
static bool read_only(const struct script_call *sc, uint32_t flags)
{
    return sc->ro || (!(flags & SCRIPT_FLAG_EVAL_COMPAT) && (flags & SCRIPT_FLAG_NO_WRITES));
}

/* A table of strings (KEYS, ARGV), pushed. */
static void push_array(lua_State *L, const struct resp_arg *a, size_t n)
{
    lua_createtable(L, n < INT32_MAX ? (int)n : 0, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushlstring(L, a[i].ptr, a[i].len);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

/* Set global name to the value on top (popped), past the read-only
 * globals' guard. */
static void set_global_raw(lua_State *L, const char *name)
{
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_pushstring(L, name);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 2);
}

/* Reply for the error table on top of L ({err, source, line}, as the
 * error handler makes it): Redis's "<err> script: <sha>, on <source>:<line>."
 * (a function's name instead of the SHA1 for FCALL). */
static void reply_error(lua_State *L, struct rbuf *out, const char *sha, size_t sha_len)
{
    if (!lua_istable(L, -1)) {
        const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
        resp_errorf(out, "ERR Error running script f_%.*s, %.100s", (int)sha_len, sha, msg);
        return;
    }
    struct rbuf m;
    rbuf_init(&m);
    lua_getfield(L, -1, "err");
    size_t n = 0;
    const char *s = lua_isstring(L, -1) ? lua_tolstring(L, -1, &n) : "";
    rbuf_append(&m, s, n);
    lua_pop(L, 1);
    lua_getfield(L, -1, "source");
    lua_getfield(L, -2, "line");
    if (lua_isstring(L, -2) && lua_isstring(L, -1)) {
        size_t sl, ll;
        const char *src = lua_tolstring(L, -2, &sl);
        const char *line = lua_tolstring(L, -1, &ll);
        rbuf_append(&m, " script: ", 9);
        rbuf_append(&m, sha, sha_len);
        rbuf_append(&m, ", on ", 5);
        rbuf_append(&m, src, sl);
        rbuf_append(&m, ":", 1);
        rbuf_append(&m, line, ll);
        rbuf_append(&m, ".", 1);
    }
    lua_pop(L, 2);
    if (m.oom)
        resp_error(out, "ERR out of memory");
    else
        script_reply_error(out, m.ptr ? m.ptr : "", m.len);
    rbuf_deinit(&m);
}

/* ---- On one shard ------------------------------------------------------------ */

void script_run(struct cmd_ctx *c, const struct script_call *sc)
{
    struct lstate *st = sc->fname ? fstate_get() : state_get();
    if (!st) {
        resp_error(c->out, "ERR out of memory");
        return;
    }
    lua_State *L = st->L;
    uint32_t flags;
    /* Redis's pre_command_oom_state, as this shard sees it. */
    bool oom = maxmemory_enabled() && maxmemory_out_of_memory(c);
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ERRH);
    if (!push_function(L, sc, oom, &flags, c->out)) {
        lua_pop(L, 1);
        return;
    }
    struct script_run r = {
        .c = c,
        .sc = sc,
        .resp = RESP2,
        .ro = read_only(sc, flags),
        .oom = oom,
        .allow_oom = (flags & SCRIPT_FLAG_ALLOW_OOM) != 0,
    };
    /* A function gets its keys and arguments as its two arguments. */
    push_array(L, sc->keys, sc->nkeys);
    if (!sc->fname)
        set_global_raw(L, "KEYS");
    push_array(L, sc->args, sc->nargs);
    if (!sc->fname)
        set_global_raw(L, "ARGV");
    script_cur = &r;
    script_busy_begin(c->origin);
    if (sc->fname)
        script_busy_function(sc->fname, sc->fname_len, sc->argc, sc->argv);
    lua_sethook(L, script_busy_hook, LUA_MASKCOUNT, SCRIPT_HOOK_COUNT);
    int err = sc->fname ? lua_pcall(L, 2, 1, -4) : lua_pcall(L, 0, 1, -2);
    lua_sethook(L, NULL, 0, 0);
    script_busy_end();
    script_cur = NULL;
    if (err == LUA_ERRMEM)
        lua_gc(L, LUA_GCCOLLECT, 0); /* what the script held is garbage now */
    else
        gc_step(L);
    if (err) {
        if (sc->fname)
            reply_error(L, c->out, sc->fname, sc->fname_len);
        else
            reply_error(L, c->out, sc->sha, SHA1_HEX_LEN);
        lua_pop(L, 1);
    } else {
        script_lua_to_resp(L, c->out, c->proto, r.resp);
    }
    lua_pop(L, 1); /* the error handler */
}

/* ---- Across shards ----------------------------------------------------------- */

struct script_xrun {
    struct lstate *st;            /* the state it runs in (a reference) */
    lua_State *co;                /* its coroutine */
    int co_ref, keys_ref, args_ref; /* registry references: the coroutine,
                                     KEYS and ARGV (set again before each
                                     resume: other scripts set them too) */
    char sha[SHA1_HEX_LEN + 1];   /* its name (EVAL) */
    char *fname;                  /* FCALL: the function's name, a copy */
    size_t argc;                  /* FCALL: the whole command, copied into */
    struct resp_arg *argv;        /* argmem (FUNCTION STATS) */
    struct script_call sc;        /* keys copied into keymem; no body, args */
    void *keymem;                 /* the copies */
    struct script_run run;        /* what redis.call reads */
    struct script_pending pending; /* the command it waits for */
    int proto;                    /* the client's protocol */
    const struct conn *origin;    /* the client (on this thread) */
    int64_t stretch_ms;           /* when the steps running back to back up
                                     to this one began (busy clock) */
    bool cont;                    /* the call it waits for ran at once here:
                                     the next step continues the stretch */
    unsigned stretch_steps;       /* steps so far in the stretch */
};

/* In a stretch of steps, every this many the busy hook runs at the step's
 * first instruction: each step sets the count hook afresh, so a loop of
 * short steps would never reach SCRIPT_HOOK_COUNT instructions. */
#define STRETCH_HOOK_EVERY 64

void script_xrun_free(struct script_xrun *x)
{
    if (!x)
        return;
    lua_State *L = x->st->L;
    script_busy_drop_kept();
    luaL_unref(L, LUA_REGISTRYINDEX, x->co_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, x->keys_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, x->args_ref);
    lstate_unref(x->st);
    free(x->pending.argv);
    free(x->keymem);
    free(x->fname);
    free(x->argv);
    free(x);
}

const struct script_pending *script_xrun_pending(const struct script_xrun *x)
{
    return &x->pending;
}

int script_xrun_proto(const struct script_xrun *x)
{
    return x->run.resp;
}

/* The place of the error in the dead coroutine, as Redis's handler finds
 * it: the raising function, or its caller when it is C (redis.call,
 * error()). Sets source and line on the error table on top of co. */
static void error_place(lua_State *co)
{
    lua_Debug ar;
    int level = 0;
    if (!lua_getstack(co, level, &ar))
        return;
    lua_getinfo(co, "Sl", &ar);
    if (strcmp(ar.what, "C") == 0) {
        if (!lua_getstack(co, ++level, &ar))
            return;
        lua_getinfo(co, "Sl", &ar);
    }
    /* The pcall of scripts across shards (script_xpcall.c) stands in for
     * a C function: its caller is the place. */
    while (strcmp(ar.source, "=pcall") == 0) {
        if (!lua_getstack(co, ++level, &ar))
            return;
        lua_getinfo(co, "Sl", &ar);
    }
    lua_pushstring(co, ar.source);
    lua_setfield(co, -2, "source");
    lua_pushnumber(co, ar.currentline);
    lua_setfield(co, -2, "line");
}

/* A Lua 5.1 C function cannot run again after it yielded, so redis.call
 * cannot raise its command's error reply itself across shards. The
 * driver resumes the script with a count hook set: before the script's
 * next instruction the hook raises the error, from the script's own frame,
 * which is where Redis's error would point. */
static void raise_hook(lua_State *co, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(co, script_busy_hook, LUA_MASKCOUNT, SCRIPT_HOOK_COUNT);
    int ref = tl_raise;
    tl_raise = LUA_NOREF;
    if (ref == LUA_NOREF)
        return; /* its step ended before this thread ran again */
    lua_rawgeti(co, LUA_REGISTRYINDEX, ref);
    luaL_unref(co, LUA_REGISTRYINDEX, ref);
    lua_error(co);
}

/* Run x until its next redis.call or its end. */
static int xrun_step(struct script_xrun *x, int nargs, struct rbuf *out)
{
    lua_State *L = x->st->L;
    if (!x->fname) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, x->keys_ref);
        set_global_raw(L, "KEYS");
        lua_rawgeti(L, LUA_REGISTRYINDEX, x->args_ref);
        set_global_raw(L, "ARGV");
    }
    free(x->pending.argv);
    x->pending.argv = NULL;
    script_cur = &x->run;
    /* The busy clock counts from this step: between two steps the thread
     * is free, the script waiting for its command; unless that command ran
     * here at once (script_xrun_continue). */
    script_busy_step_begin(x->origin, x->cont);
    int hook_count = SCRIPT_HOOK_COUNT;
    if (x->cont) {
        script_busy_backdate(x->stretch_ms);
        if (++x->stretch_steps % STRETCH_HOOK_EVERY == 0)
            hook_count = 1;
    } else {
        x->stretch_steps = 0;
    }
    x->cont = false;
    x->stretch_ms = script_busy_since();
    if (x->fname)
        script_busy_function(x->fname, strlen(x->fname), x->argc, x->argv);
    if (tl_raise == LUA_NOREF || x->pending.thread != x->co)
        lua_sethook(x->co, script_busy_hook, LUA_MASKCOUNT, hook_count);
    /* The global pcall and xpcall are the ones that let redis.call yield
     * through them (script_xpcall.c) while this script runs, Lua's C
     * functions otherwise. */
    lua_getglobal(L, "pcall");
    lua_getglobal(L, "xpcall");
    script_xpcall_push(L, false);
    set_global_raw(L, "pcall");
    script_xpcall_push(L, true);
    set_global_raw(L, "xpcall");
    int rc = lua_resume(x->co, nargs);
    set_global_raw(L, "xpcall");
    set_global_raw(L, "pcall");
    lua_sethook(x->co, NULL, 0, 0);
    /* A call for this worker's own shard runs at once, most likely. */
    struct worker *w = worker_current();
    script_busy_step_end(rc == LUA_YIELD && x->pending.argv && w && x->pending.shard == w->id);
    script_cur = NULL;
    if (tl_raise != LUA_NOREF) {
        /* The hook never ran (nothing followed the call). */
        luaL_unref(L, LUA_REGISTRYINDEX, tl_raise);
        tl_raise = LUA_NOREF;
    }
    if (rc == LUA_YIELD && x->pending.argv)
        return SCRIPT_X_CALL;
    if (rc == 0) {
        lua_settop(x->co, 1); /* the script's first value, as Redis */
        script_lua_to_resp(x->co, out, x->proto, x->run.resp);
    } else if (rc == LUA_YIELD) {
        /* A yield that is not redis.call's (coroutine.yield at the top
         * level): Redis's scripts cannot do that either. */
        resp_error(out, "ERR attempt to yield from outside a coroutine");
    } else {
        if (!lua_istable(x->co, -1)) {
            const char *m = lua_tostring(x->co, -1);
            lua_newtable(x->co);
            lua_pushfstring(x->co, "ERR %s", m ? m : "nil");
            lua_setfield(x->co, -2, "err");
        }
        error_place(x->co);
        if (x->fname)
            reply_error(x->co, out, x->fname, strlen(x->fname));
        else
            reply_error(x->co, out, x->sha, SHA1_HEX_LEN);
    }
    if (rc == LUA_ERRMEM)
        lua_gc(L, LUA_GCCOLLECT, 0);
    else
        gc_step(L);
    return SCRIPT_X_DONE;
}

int script_xrun_start(const struct script_call *sc, unsigned home, int proto,
                      const struct conn *origin, struct rbuf *out, struct script_xrun **xp)
{
    *xp = NULL;
    struct lstate *st = sc->fname ? fstate_get() : state_get();
    struct script_xrun *x = st ? calloc(1, sizeof *x) : NULL;
    size_t bytes = 0;
    for (size_t i = 0; i < sc->nkeys; i++)
        bytes += sc->keys[i].len;
    void *keymem = x ? malloc(sc->nkeys * sizeof(struct resp_arg) + bytes + 1) : NULL;
    char *fname = NULL;
    if (keymem && sc->fname) {
        fname = malloc(sc->fname_len + 1);
        if (fname) {
            memcpy(fname, sc->fname, sc->fname_len);
            fname[sc->fname_len] = '\0';
        }
    }
    if (!keymem || (sc->fname && !fname)) {
        free(keymem);
        free(x);
        resp_error(out, "ERR out of memory");
        return SCRIPT_X_DONE;
    }
    lua_State *L = st->L;
    uint32_t flags;
    /* Redis's pre_command_oom_state, from every shard's published usage. */
    bool oom = maxmemory_enabled() && maxmemory_refuses_split();
    if (!push_function(L, sc, oom, &flags, out)) {
        free(keymem);
        free(fname);
        free(x);
        return SCRIPT_X_DONE;
    }
    x->fname = fname;
    if (fname && sc->argv) {
        /* The command, for FUNCTION STATS while it is busy. */
        size_t total = 0;
        for (size_t i = 0; i < sc->argc; i++)
            total += sc->argv[i].len;
        x->argv = malloc(sc->argc * sizeof *x->argv + total + 1);
        if (x->argv) {
            char *p = (char *)(x->argv + sc->argc);
            for (size_t i = 0; i < sc->argc; i++) {
                memcpy(p, sc->argv[i].ptr, sc->argv[i].len);
                x->argv[i].ptr = p;
                x->argv[i].len = sc->argv[i].len;
                p += sc->argv[i].len;
            }
            x->argc = sc->argc;
        }
    }
    st->refs++;
    x->st = st;
    x->keymem = keymem;
    struct resp_arg *keys = keymem;
    char *at = (char *)(keys + sc->nkeys);
    for (size_t i = 0; i < sc->nkeys; i++) {
        memcpy(at, sc->keys[i].ptr, sc->keys[i].len);
        keys[i].ptr = at;
        keys[i].len = sc->keys[i].len;
        at += sc->keys[i].len;
    }
    memcpy(x->sha, sc->sha, SHA1_HEX_LEN + 1);
    x->sc = (struct script_call){.sha = x->sha,
                                 .keys = keys,
                                 .nkeys = sc->nkeys,
                                 .ro = sc->ro,
                                 .any_keys = sc->any_keys,
                                 .fname = fname,
                                 .fname_len = sc->fname_len};
    x->run = (struct script_run){
        .sc = &x->sc,
        .resp = RESP2,
        .ro = read_only(sc, flags),
        .oom = oom,
        .allow_oom = (flags & SCRIPT_FLAG_ALLOW_OOM) != 0,
        .home = home,
        .pending = &x->pending,
    };
    x->proto = proto;
    x->origin = origin;
    push_array(L, sc->keys, sc->nkeys);
    x->keys_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    push_array(L, sc->args, sc->nargs);
    x->args_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    x->co = lua_newthread(L);
    x->run.co = x->co;
    lua_pushvalue(L, -2);        /* the function */
    lua_xmove(L, x->co, 1);
    if (fname) {
        /* A function's two arguments: its keys and its arguments. */
        lua_rawgeti(L, LUA_REGISTRYINDEX, x->keys_ref);
        lua_rawgeti(L, LUA_REGISTRYINDEX, x->args_ref);
        lua_xmove(L, x->co, 2);
    }
    x->co_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the thread */
    lua_pop(L, 1);               /* the function */
    int rc = xrun_step(x, fname ? 2 : 0, out);
    if (rc == SCRIPT_X_DONE)
        script_xrun_free(x);
    else
        *xp = x;
    return rc;
}

void script_xrun_continue(struct script_xrun *x)
{
    x->cont = true;
}

int script_xrun_resume(struct script_xrun *x, const char *reply, size_t len, bool oom,
                       struct rbuf *out)
{
    lua_State *co = x->co;
    bool raise = x->pending.raise;
    lua_settop(co, 0);
    bool failed = oom || !len || reply[0] == '-';
    if (oom || !script_resp_to_lua(co, reply, len))
        script_push_error(co, "-ERR out of memory", 18);
    if (raise && failed) {
        /* Raised in the thread that called redis.call: the script's
         * coroutine, or a thread of its pcall (script_xpcall.c), which
         * keeps that thread alive until the resume reaches it. */
        lua_pushvalue(co, -1);
        tl_raise = luaL_ref(co, LUA_REGISTRYINDEX);
        lua_sethook(x->pending.thread, raise_hook, LUA_MASKCOUNT, 1);
    }
    return xrun_step(x, 1, out);
}
