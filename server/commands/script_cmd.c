/* script_cmd.c — EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: their
 * definitions, the plan that places a script by the keys it declares, and
 * the exec functions. The plan runs on the connection's thread. Keys on
 * one shard (or none): the script runs whole on that shard's owner thread,
 * where its redis.call commands run too (script_lua.c), after any
 * transaction holding its keys there, and nothing else runs on the shard
 * meanwhile. Keys on several shards: the script runs on the connection's
 * thread, each redis.call one round of a fan-out in a transaction over
 * every declared key (plan_across). SCRIPT runs on the connection's
 * thread. */
#include "server/commands/script.h"

#include <string.h>

#include "common/int64str.h"
#include "server/commands/cmd_multi.h"
#include "server/commands/function.h"
#include "server/memory/maxmemory.h"
#include "server/persist/persist.h"
#include "server/route/dispatch.h"
#include "server/txn/txn.h"
#include "server/net/conn.h"
#include "server/core/server.h"
#include "server/net/worker.h"

#define NOSCRIPT_ERR "NOSCRIPT No matching script. Please use EVAL."

/* ---- Planning -------------------------------------------------------------- */

/* What a script command names: a body (EVAL), a SHA1 (EVALSHA) or a
 * function (FCALL). */
enum { K_EVAL = 0, K_EVALSHA = 1, K_FCALL = 2 };

/* The script's flags as Redis's getCommandFlags finds them before the
 * command runs (evalGetCommandFlags, fcallGetCommandFlags): a stored
 * script's, or the body's shebang; SCRIPT_FLAG_EVAL_COMPAT when there are
 * none to find (a body without a valid shebang, an EVALSHA not stored, a
 * SHA1 of the wrong length), and the command's own flags hold. fflags: a
 * function's (FCALL). */
static uint32_t flags_before_run(int kind, const struct resp_arg *argv, uint32_t fflags)
{
    uint32_t f = SCRIPT_FLAG_EVAL_COMPAT;
    if (kind == K_FCALL) {
        f = fflags;
    } else if (kind == K_EVAL) {
        /* A stored body has the flags its shebang gives it. */
        struct rbuf err;
        size_t skip;
        rbuf_init(&err);
        if (!script_shebang(argv[1].ptr, argv[1].len, &f, &skip, &err))
            f = SCRIPT_FLAG_EVAL_COMPAT;
        rbuf_deinit(&err);
    } else if (argv[1].len == SHA1_HEX_LEN) {
        char sha[SHA1_HEX_LEN];
        for (size_t i = 0; i < SHA1_HEX_LEN; i++) {
            char ch = argv[1].ptr[i];
            sha[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + ('a' - 'A')) : ch;
        }
        if (!script_cache_flags(sha, &f))
            f = SCRIPT_FLAG_EVAL_COMPAT;
    }
    return f;
}

/* Redis's scriptFlagsToCmdFlags: a script that declares flags (f, from
 * flags_before_run) is a write command unless no-writes, deny-oom unless
 * allow-oom or no-writes; one without keeps its command's flags (base). */
static uint32_t cmd_flags_from_script(uint32_t base, uint32_t f)
{
    if (f & SCRIPT_FLAG_EVAL_COMPAT)
        return base;
    uint32_t out = base & ~(CMD_STALE | CMD_DENYOOM | CMD_WRITE | CMD_MAY_REPLICATE);
    if (!(f & (SCRIPT_FLAG_ALLOW_OOM | SCRIPT_FLAG_NO_WRITES)))
        out |= CMD_DENYOOM;
    if (!(f & SCRIPT_FLAG_NO_WRITES))
        out |= CMD_WRITE;
    if (f & SCRIPT_FLAG_ALLOW_STALE)
        out |= CMD_STALE;
    return out;
}

/* A call's flags (cmd_flags_fn), for what judges a command before it runs
 * without running it: MULTI's queueing and EXEC (cmd_txn.c). */
static uint32_t call_flags(int kind, const struct cmd_def *d, const struct resp_arg *argv)
{
    uint32_t fflags = 0;
    uint64_t id;
    if (kind == K_FCALL && !function_find(argv[1].ptr, argv[1].len, &id, &fflags))
        return d->flags;
    return cmd_flags_from_script(d->flags, flags_before_run(kind, argv, fflags));
}

static uint32_t eval_call_flags(const struct cmd_def *d, size_t argc, const struct resp_arg *argv)
{
    (void)argc;
    return call_flags(K_EVAL, d, argv);
}

static uint32_t evalsha_call_flags(const struct cmd_def *d, size_t argc,
                                   const struct resp_arg *argv)
{
    (void)argc;
    return call_flags(K_EVALSHA, d, argv);
}

static uint32_t fcall_call_flags(const struct cmd_def *d, size_t argc, const struct resp_arg *argv)
{
    (void)argc;
    return call_flags(K_FCALL, d, argv);
}

/* Redis's processCommand refusal over maxmemory: a script that declares
 * flags without allow-oom or no-writes is a deny-oom command, refused
 * before anything of it runs, before its numkeys is even read. A script
 * without a shebang is not: its commands are judged as it calls them
 * (script_api.c). Split commands are refused here, on the connection's
 * thread, from every shard's published usage (maxmemory_refuses_split),
 * so is a script. */
static bool refused_oom(int kind, const struct resp_arg *argv, uint32_t fflags)
{
    if (!maxmemory_enabled())
        return false;
    uint32_t f = cmd_flags_from_script(0, flags_before_run(kind, argv, fflags));
    return (f & CMD_DENYOOM) && maxmemory_refuses_split();
}

/* Redis's processCommand refusal after a failed save: a script that
 * declares flags without no-writes is a write command, refused as SET is.
 * A script without a shebang is not: its writes are refused as it calls
 * them (script_api.c). */
static bool refused_misconf(int kind, const struct resp_arg *argv, uint32_t fflags)
{
    return atomic_load_explicit(&persist_last_failed, memory_order_relaxed) &&
           persist_writes_denied(cmd_flags_from_script(0, flags_before_run(kind, argv, fflags)));
}

/* Redis's checks of EVAL's arguments, in its order: a SHA1 of the wrong
 * length first (EVALSHA), or the function (FCALL), then the memory bound
 * (refused_oom; not inside EXEC, where Redis judged the memory for EXEC
 * as a whole and the script itself answers, script_lua.c's may_run),
 * then a failed save (refused_misconf, not inside EXEC either), then
 * numkeys. Returns numkeys, or -1 with Redis's error in *err. */
static int64_t check_args(int kind, size_t argc, const struct resp_arg *argv, bool in_exec,
                          const char **err)
{
    if (kind == K_EVALSHA && argv[1].len != SHA1_HEX_LEN) {
        *err = NOSCRIPT_ERR;
        return -1;
    }
    uint64_t id;
    uint32_t flags = 0;
    if (kind == K_FCALL && !function_find(argv[1].ptr, argv[1].len, &id, &flags)) {
        *err = "ERR Function not found";
        return -1;
    }
    if (!in_exec && refused_oom(kind, argv, flags)) {
        *err = MAXMEMORY_OOM_ERROR;
        return -1;
    }
    if (!in_exec && refused_misconf(kind, argv, flags)) {
        *err = PERSIST_MISCONF_ERR;
        return -1;
    }
    int64_t n;
    if (!int64str_parse(argv[2].ptr, argv[2].len, &n)) {
        *err = kind == K_FCALL ? "ERR Bad number of keys provided"
                               : "ERR value is not an integer or out of range";
        return -1;
    }
    if (n > (int64_t)argc - 3) {
        *err = "ERR Number of keys can't be greater than number of args";
        return -1;
    }
    if (n < 0) {
        *err = "ERR Number of keys can't be negative";
        return -1;
    }
    return n;
}

/* The script's call for argv (its SHA1 into sha, 41 bytes). */
static struct script_call call_of(size_t argc, const struct resp_arg *argv, int64_t nkeys,
                                  int kind, bool ro, char *sha)
{
    bool evalsha = kind == K_EVALSHA;
    if (kind == K_FCALL) {
        memset(sha, '0', SHA1_HEX_LEN);
        sha[SHA1_HEX_LEN] = '\0';
    } else if (evalsha) {
        /* Lower-cased, as Redis's evalCalcFunctionName does. */
        for (size_t i = 0; i < SHA1_HEX_LEN; i++) {
            char ch = argv[1].ptr[i];
            sha[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + ('a' - 'A')) : ch;
        }
        sha[SHA1_HEX_LEN] = '\0';
    } else {
        sha1_hex(argv[1].ptr, argv[1].len, sha);
    }
    return (struct script_call){
        .sha = sha,
        .body = kind == K_EVAL ? argv[1].ptr : NULL,
        .body_len = kind == K_EVAL ? argv[1].len : 0,
        .fname = kind == K_FCALL ? argv[1].ptr : NULL,
        .fname_len = kind == K_FCALL ? argv[1].len : 0,
        .argc = argc,
        .argv = argv,
        .keys = argv + 3,
        .nkeys = (size_t)nkeys,
        .args = argv + 3 + nkeys,
        .nargs = argc - 3 - (size_t)nkeys,
        .ro = ro,
    };
}

/* Is d one of the read-only forms? (Their key specs say RO.) */
static bool is_ro(const struct cmd_def *d)
{
    return (d->flags & CMD_READONLY) != 0;
}

/* Add x's pending command as the fan's next round. */
static bool add_pending(struct fan *f, struct script_xrun *x)
{
    const struct script_pending *pd = script_xrun_pending(x);
    struct req *r = dispatch_part(f, pd->shard, pd->d->exec, pd->argc, pd->argv);
    if (!r)
        return false;
    r->cmd = pd->d;            /* its hooks and stats see the command itself */
    r->proto = script_xrun_proto(x); /* redis.setresp, not the client's */
    return true;
}

/* A round of a script across shards is back: resume it with the reply. */
static bool xrun_fan_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct script_xrun *x = f->state;
    if (f->round_here)
        script_xrun_continue(x);
    int rc = n ? script_xrun_resume(x, parts[0]->out.ptr, parts[0]->out.len, parts[0]->out.oom,
                                    out)
               : SCRIPT_X_DONE;
    if (rc == SCRIPT_X_CALL && add_pending(f, x))
        return false;
    if (rc == SCRIPT_X_CALL)
        resp_error(out, "ERR out of memory");
    script_xrun_free(x);
    f->state = NULL;
    return true;
}

/* Keys on several shards: the script runs here, as a coroutine, and each
 * redis.call is one round of a fan-out whose transaction holds every
 * declared key's intent lock from the first command to the reply. Lua
 * that runs before the first redis.call reads nothing of the keyspace, so
 * it may run before the locks are granted. */
static void plan_across(struct mplan *p, const struct cmd_def *d, int kind, size_t argc,
                        const struct resp_arg *argv, int64_t nkeys, unsigned home, bool any_keys)
{
    char sha[SHA1_HEX_LEN + 1];
    struct script_call sc = call_of(argc, argv, nkeys, kind, is_ro(d), sha);
    sc.any_keys = any_keys;
    struct rbuf early;
    rbuf_init(&early);
    struct script_xrun *x;
    int rc = script_xrun_start(&sc, home, p->c->proto, p->c, &early, &x);
    if (rc == SCRIPT_X_DONE) {
        /* No redis.call (or refused before one): answered at once. */
        struct rbuf *out = cmd_multi_plan_reply_buf(p);
        if (out)
            rbuf_append(out, early.ptr, early.len);
        rbuf_deinit(&early);
        return;
    }
    rbuf_deinit(&early);
    struct fan *f = cmd_multi_plan_fan(p, d, argc, argv, xrun_fan_step, false);
    if (!f) {
        script_xrun_free(x);
        return;
    }
    f->state = x;
    f->events_each_round = true; /* (each round is one redis.call) */
    if (!add_pending(f, x)) {
        script_xrun_free(x);
        f->state = NULL;
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    cmd_multi_plan_go(p, f);
}

/* Set by script_plan while it plans a script that may touch any key: its
 * transaction locks every shard (lock_all). */
static _Thread_local bool tl_any_keys;

/* The plans' lock_more: every shard, for a script planned with
 * lua-allow-undeclared-keys; nothing more otherwise (EXEC's transaction,
 * built outside script_plan, locks only the declared keys: inside EXEC
 * undeclared keys stay refused). */
static int lock_all(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                    const struct resp_arg *argv)
{
    (void)db;
    (void)argc;
    (void)argv;
    return tl_any_keys ? txn_lock_all(t, !(d->flags & CMD_READONLY)) : 0;
}

/* The plan (struct cmd_plan): the shard of every declared key, or the
 * connection's own shard for a script with no keys; keys on several
 * shards run the script across them (plan_across). */
static void script_plan(struct mplan *p, const struct cmd_def *d, int kind, size_t argc,
                        const struct resp_arg *argv)
{
    const char *err = NULL;
    int64_t nkeys = check_args(kind, argc, argv, p->t != NULL, &err);
    if (nkeys < 0) {
        cmd_multi_plan_error(p, err);
        return;
    }
    /* lua-allow-undeclared-keys: any key may be touched, so the script runs
     * across shards in a transaction that locks every shard (lock_all;
     * inside EXEC, EXEC's transaction locked them when it was built). */
    if (!p->t && __atomic_load_n(&server.cfg.lua_allow_undeclared_keys, __ATOMIC_RELAXED)) {
        tl_any_keys = true; /* read by lock_all, called from within */
        plan_across(p, d, kind, argc, argv, nkeys, p->c->w->id, true);
        tl_any_keys = false;
        return;
    }
    if (nkeys == 0 && p->t) {
        /* Inside EXEC a script without keys holds no shard of EXEC's
         * transaction to run on; it can reach no key either, so it runs
         * here, on the connection's own shard, in EXEC's order. */
        struct rbuf *out = cmd_multi_plan_reply_buf(p);
        struct worker *w = p->c->w;
        struct cmd_ctx ctx = {
            .shard = w->shard,
            .db = shard_db(w->shard, p->c->db),
            .dbidx = p->c->db,
            .proto = p->c->proto,
            .argc = argc,
            .argv = argv,
            .out = out,
            .now_ms = w->now_ms,
            .origin = p->c,
        };
        if (out)
            cmd_call(d, &ctx);
        return;
    }
    unsigned shard = p->c->w->id;
    for (int64_t i = 0; i < nkeys; i++) {
        const struct resp_arg *k = &argv[3 + i];
        unsigned s = shard_group_route(server.group, k->ptr, k->len);
        if (i == 0) {
            shard = s;
        } else if (s != shard) {
            plan_across(p, d, kind, argc, argv, nkeys, shard, false);
            return;
        }
    }
    cmd_multi_plan_route(p, d, shard, d->exec, argc, argv);
}

/* cmd_multi_home for scripts: script_plan's single shard, or -1 (bad
 * arguments, no keys, keys on several shards, undeclared keys allowed). */
static int script_home(int kind, size_t argc, const struct resp_arg *argv)
{
    if (__atomic_load_n(&server.cfg.lua_allow_undeclared_keys, __ATOMIC_RELAXED))
        return -1;
    const char *err = NULL;
    int64_t nkeys = check_args(kind, argc, argv, false, &err);
    int one = -1;
    for (int64_t i = 0; i < nkeys; i++) {
        const struct resp_arg *k = &argv[3 + i];
        int s = (int)shard_group_route(server.group, k->ptr, k->len);
        if (one >= 0 && s != one)
            return -1;
        one = s;
    }
    return one;
}

static int eval_home(const struct conn *c, const struct cmd_def *d, size_t argc,
                     const struct resp_arg *argv)
{
    (void)c;
    (void)d;
    return script_home(K_EVAL, argc, argv);
}

static int evalsha_home(const struct conn *c, const struct cmd_def *d, size_t argc,
                        const struct resp_arg *argv)
{
    (void)c;
    (void)d;
    return script_home(K_EVALSHA, argc, argv);
}

static int fcall_home(const struct conn *c, const struct cmd_def *d, size_t argc,
                      const struct resp_arg *argv)
{
    (void)c;
    (void)d;
    return script_home(K_FCALL, argc, argv);
}

static void eval_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                      const struct resp_arg *argv)
{
    script_plan(p, d, K_EVAL, argc, argv);
}

static void evalsha_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                         const struct resp_arg *argv)
{
    script_plan(p, d, K_EVALSHA, argc, argv);
}

static void fcall_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                       const struct resp_arg *argv)
{
    script_plan(p, d, K_FCALL, argc, argv);
}

/* EVAL and EVAL_RO carry a body, EVALSHA and EVALSHA_RO a SHA1. */
static const struct cmd_plan eval_plan_def = {
    .plan = eval_plan, .home = eval_home, .lock_more = lock_all};
static const struct cmd_plan evalsha_plan_def = {
    .plan = evalsha_plan, .home = evalsha_home, .lock_more = lock_all};
static const struct cmd_plan fcall_plan_def = {
    .plan = fcall_plan, .home = fcall_home, .lock_more = lock_all};

/* ---- EVAL and friends ------------------------------------------------------- */

static void eval_generic(struct cmd_ctx *c, int kind, bool ro)
{
    int64_t nkeys;
    /* Checked by the plan; parsed again rather than carried. */
    if (!int64str_parse(c->argv[2].ptr, c->argv[2].len, &nkeys) || nkeys < 0 ||
        nkeys > (int64_t)c->argc - 3) {
        resp_error(c->out, kind == K_FCALL ? "ERR Bad number of keys provided"
                                              : "ERR value is not an integer or out of range");
        return;
    }
    char sha[SHA1_HEX_LEN + 1];
    struct script_call sc = call_of(c->argc, c->argv, nkeys, kind, ro, sha);
    script_run(c, &sc);
}

static void eval_exec(struct cmd_ctx *c)
{
    eval_generic(c, K_EVAL, false);
}

static void eval_ro_exec(struct cmd_ctx *c)
{
    eval_generic(c, K_EVAL, true);
}

static void evalsha_exec(struct cmd_ctx *c)
{
    eval_generic(c, K_EVALSHA, false);
}

static void evalsha_ro_exec(struct cmd_ctx *c)
{
    eval_generic(c, K_EVALSHA, true);
}

static void fcall_exec(struct cmd_ctx *c)
{
    eval_generic(c, K_FCALL, false);
}

static void fcall_ro_exec(struct cmd_ctx *c)
{
    eval_generic(c, K_FCALL, true);
}

/* ---- SCRIPT ------------------------------------------------------------------ */

static const char *const script_help[] = {
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
};

static void script_help_exec(struct cmd_ctx *c)
{
    size_t n = sizeof script_help / sizeof script_help[0];
    resp_array(c->out, n);
    for (size_t i = 0; i < n; i++)
        resp_simple(c->out, script_help[i]);
}

static void script_load_exec(struct cmd_ctx *c)
{
    char sha[SHA1_HEX_LEN + 1];
    if (script_load(c->argv[2].ptr, c->argv[2].len, sha, c->out))
        resp_bulk(c->out, sha, SHA1_HEX_LEN);
}

static void script_exists_exec(struct cmd_ctx *c)
{
    resp_array(c->out, c->argc - 2);
    for (size_t i = 2; i < c->argc; i++)
        resp_int(c->out, script_cache_exists(c->argv[i].ptr, c->argv[i].len));
}

static void script_flush_exec(struct cmd_ctx *c)
{
    /* SYNC and ASYNC both free at once: the bodies are small, and each
     * worker rebuilds its Lua state lazily. */
    if (c->argc == 3 && !cmd_arg_eq(&c->argv[2], "sync") && !cmd_arg_eq(&c->argv[2], "async")) {
        resp_error(c->out, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    if (c->argc > 3) {
        resp_error(c->out, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    script_cache_flush();
    cmd_reply_ok(c);
}

void script_kill_reply(struct cmd_ctx *c, bool function)
{
    switch (script_kill(function)) {
    case SCRIPT_KILL_OTHER:
        resp_error(c->out, function ? "BUSY Redis is busy running a script. You can only call "
                                      "SCRIPT KILL or SHUTDOWN NOSAVE."
                                    : "BUSY Redis is busy running a script. You can only call "
                                      "FUNCTION KILL or SHUTDOWN NOSAVE.");
        break;
    case SCRIPT_KILL_NOTBUSY:
        resp_error(c->out, "NOTBUSY No scripts in execution right now.");
        break;
    case SCRIPT_KILL_UNKILLABLE:
        resp_error(c->out, "UNKILLABLE Sorry the script already executed write commands against "
                           "the dataset. You can either wait the script termination or kill "
                           "the server in a hard way using the SHUTDOWN NOSAVE command.");
        break;
    default:
        cmd_reply_ok(c);
    }
}

static void script_kill_exec(struct cmd_ctx *c)
{
    script_kill_reply(c, false);
}

static void script_debug_exec(struct cmd_ctx *c)
{
    if (cmd_arg_eq(&c->argv[2], "no")) {
        cmd_reply_ok(c);
        return;
    }
    if (cmd_arg_eq(&c->argv[2], "yes") || cmd_arg_eq(&c->argv[2], "sync")) {
        resp_error(c->out, "ERR shardkv has no Lua debugger (SCRIPT DEBUG NO only)");
        return;
    }
    resp_error(c->out, "ERR Use SCRIPT DEBUG YES/SYNC/NO");
}

/* ---- Table ------------------------------------------------------------------- */

static const struct cmd_def script_subs[] = {
    { .name = "script|debug", .arity = 3, .exec = script_debug_exec, .flags = CMD_NOSCRIPT,
      .acl = CMD_ACL_SCRIPTING, .group = "scripting", .since = "3.2.0", .complexity = "O(1)",
      .summary = "Set the debug mode for executed scripts." },
    { .name = "script|exists", .arity = -3, .exec = script_exists_exec, .flags = CMD_NOSCRIPT,
      .acl = CMD_ACL_SCRIPTING,
      .tips = CMD_TIPS("request_policy:all_shards", "response_policy:agg_logical_and"),
      .group = "scripting", .since = "2.6.0",
      .complexity = "O(N) with N being the number of scripts to check (so checking a single "
                    "script is an O(1) operation).",
      .summary = "Check existence of scripts in the script cache." },
    { .name = "script|flush", .arity = -2, .exec = script_flush_exec,
      .flags = CMD_NOSCRIPT | CMD_AFTER_PRIOR,
      .acl = CMD_ACL_SCRIPTING,
      .tips = CMD_TIPS("request_policy:all_nodes", "response_policy:all_succeeded"),
      .group = "scripting", .since = "2.6.0",
      .complexity = "O(N) with N being the number of scripts in cache",
      .summary = "Remove all the scripts from the script cache." },
    { .name = "script|help", .arity = 2, .exec = script_help_exec,
      .flags = CMD_LOADING | CMD_STALE, .acl = CMD_ACL_SCRIPTING, .group = "scripting",
      .since = "5.0.0", .complexity = "O(1)",
      .summary = "Show helpful text about the different subcommands" },
    { .name = "script|kill", .arity = 2, .exec = script_kill_exec,
      .flags = CMD_NOSCRIPT | CMD_ALLOW_BUSY, .acl = CMD_ACL_SCRIPTING,
      .tips = CMD_TIPS("request_policy:all_shards", "response_policy:one_succeeded"),
      .group = "scripting", .since = "2.6.0", .complexity = "O(1)",
      .summary = "Kill the script currently in execution." },
    { .name = "script|load", .arity = 3, .exec = script_load_exec,
      .flags = CMD_NOSCRIPT | CMD_STALE, .acl = CMD_ACL_SCRIPTING,
      .tips = CMD_TIPS("request_policy:all_nodes", "response_policy:all_succeeded"),
      .group = "scripting", .since = "2.6.0",
      .complexity = "O(N) with N being the length in bytes of the script body.",
      .summary = "Load the specified Lua script into the script cache." },
    { .name = NULL },
};

/* EVAL's key spec: numkeys at argv[2], the keys after it. Redis cannot
 * tell how a script uses them, so it assumes the worst. */
#define EVAL_KEYS(f, note)                                                                    \
    { { .flags = (f), .begin = 2, .keynum = true, .numkeys_at = 0, .first_at = 1, .step = 1, \
        .notes = (note) } }
#define EVAL_RW (CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE)
#define EVAL_RO (CMD_KS_RO | CMD_KS_ACCESS)
#define EVAL_FLAGS                                                                       \
    (CMD_NOSCRIPT | CMD_STALE | CMD_SKIP_MONITOR | CMD_NO_MANDATORY_KEYS | CMD_MULTIKEY)

/* Arity, flags, key specs and docs as Redis 7.0's COMMAND reports them. */
const struct cmd_def cmd_script_defs[] = {
    { .name = "eval", .arity = -3, .exec = eval_exec, .plan = &eval_plan_def,
      .call_flags = eval_call_flags,
      .flags = EVAL_FLAGS | CMD_MAY_REPLICATE, .acl = CMD_ACL_SCRIPTING,
      .keys = EVAL_KEYS(EVAL_RW, "We cannot tell how the keys will be used so we assume the "
                                 "worst, RW and UPDATE"),
      .group = "scripting", .since = "2.6.0", .complexity = "Depends on the script that is executed.",
      .summary = "Execute a Lua script server side" },
    { .name = "eval_ro", .arity = -3, .exec = eval_ro_exec, .plan = &eval_plan_def,
      .call_flags = eval_call_flags,
      .flags = EVAL_FLAGS | CMD_READONLY, .acl = CMD_ACL_SCRIPTING,
      .keys = EVAL_KEYS(EVAL_RO, "We cannot tell how the keys will be used so we assume the "
                                 "worst, RO and ACCESS"),
      .group = "scripting", .since = "7.0.0", .complexity = "Depends on the script that is executed.",
      .summary = "Execute a read-only Lua script server side" },
    { .name = "evalsha", .arity = -3, .exec = evalsha_exec, .plan = &evalsha_plan_def,
      .call_flags = evalsha_call_flags,
      .flags = EVAL_FLAGS | CMD_MAY_REPLICATE, .acl = CMD_ACL_SCRIPTING,
      .keys = EVAL_KEYS(EVAL_RW, NULL),
      .group = "scripting", .since = "2.6.0", .complexity = "Depends on the script that is executed.",
      .summary = "Execute a Lua script server side" },
    { .name = "evalsha_ro", .arity = -3, .exec = evalsha_ro_exec, .plan = &evalsha_plan_def,
      .call_flags = evalsha_call_flags,
      .flags = EVAL_FLAGS | CMD_READONLY, .acl = CMD_ACL_SCRIPTING,
      .keys = EVAL_KEYS(EVAL_RO, NULL),
      .group = "scripting", .since = "7.0.0", .complexity = "Depends on the script that is executed.",
      .summary = "Execute a read-only Lua script server side" },
    { .name = "fcall", .arity = -3, .exec = fcall_exec, .plan = &fcall_plan_def,
      .call_flags = fcall_call_flags,
      .flags = EVAL_FLAGS, .acl = CMD_ACL_SCRIPTING,
      .keys = EVAL_KEYS(EVAL_RW, "We cannot tell how the keys will be used so we assume the "
                                 "worst, RW and UPDATE"),
      .group = "scripting", .since = "7.0.0",
      .complexity = "Depends on the function that is executed.",
      .summary = "Invoke a function" },
    { .name = "fcall_ro", .arity = -3, .exec = fcall_ro_exec, .plan = &fcall_plan_def,
      .call_flags = fcall_call_flags,
      .flags = EVAL_FLAGS | CMD_READONLY, .acl = CMD_ACL_SCRIPTING,
      .keys = EVAL_KEYS(EVAL_RO, "We cannot tell how the keys will be used so we assume the "
                                 "worst, RO and ACCESS"),
      .group = "scripting", .since = "7.0.0",
      .complexity = "Depends on the function that is executed.",
      .summary = "Invoke a read-only function" },
    { .name = "script", .arity = -2, .flags = CMD_CONN, .subcommands = script_subs,
      .group = "scripting", .since = "2.6.0", .complexity = "Depends on subcommand.",
      .summary = "A container for Lua scripts management commands" },
};
const size_t cmd_script_ndefs = sizeof cmd_script_defs / sizeof cmd_script_defs[0];
