/* function_cmd.c — FUNCTION LOAD, DELETE, LIST, FLUSH, DUMP, RESTORE,
 * STATS, KILL and HELP (Redis 7.0's replies and errors), and the RDB
 * side of functions: the records a snapshot writes and the load of one
 * at start-up. FUNCTION runs on the connection's thread; LOAD and RESTORE
 * run the code in that worker's function state to learn what it
 * registers, then install it in the shared registry (function_lib.c). */
#include "server/commands/function.h"

#include <stdlib.h>
#include <string.h>

#include "server/commands/script.h"
#include "server/util/glob.h"
#include "server/util/log.h"
#include "shard/rdb.h"
#include "shard/tval_rdb.h"


static void reply_err_buf(struct cmd_ctx *c, struct rbuf *err)
{
    if (err->oom || !err->ptr)
        resp_error(c->out, "ERR out of memory");
    else
        resp_errorf(c->out, "ERR %.*s", (int)err->len, err->ptr);
}

/* Redis's addReplySubcommandSyntaxError. */
static void syntax_error(struct cmd_ctx *c)
{
    resp_errorf(c->out,
                "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                "FUNCTION HELP.",
                (int)(c->argv[1].len > 128 ? 128 : c->argv[1].len), c->argv[1].ptr);
}

/* Library from code (metadata, then its code run in this thread's
 * function state); NULL with the error in err. exists_check: refuse a
 * name already installed before running anything (FUNCTION LOAD without
 * REPLACE). */
static struct fn_lib *build(const char *code, size_t len, bool exists_check, struct rbuf *err)
{
    char *name = function_meta(code, len, err);
    if (!name)
        return NULL;
    struct fn_lib *lib = NULL;
    if (exists_check && function_registry_has(name, strlen(name))) {
        rbuf_append(err, "Library '", 9);
        rbuf_append(err, name, strlen(name));
        rbuf_append(err, "' already exists", 16);
    } else {
        lib = function_compile(code, len, name, err);
    }
    free(name);
    return lib;
}

/* ---- LOAD, DELETE, FLUSH ----------------------------------------------------- */

static void function_load_exec(struct cmd_ctx *c)
{
    bool replace = false;
    size_t i;
    for (i = 2; i < c->argc - 1; i++) {
        if (cmd_arg_eq(&c->argv[i], "replace")) {
            replace = true;
            continue;
        }
        resp_errorf(c->out, "ERR Unknown option given: %.*s", (int)c->argv[i].len,
                    c->argv[i].ptr);
        return;
    }
    const struct resp_arg *code = &c->argv[c->argc - 1];
    struct rbuf err;
    rbuf_init(&err);
    struct fn_lib *lib = build(code->ptr, code->len, !replace, &err);
    char *name = lib ? strdup(lib->name) : NULL;
    if (lib && !name) {
        function_lib_free(lib);
        lib = NULL;
        rbuf_append(&err, "out of memory", 13);
    }
    if (!lib ||
        function_registry_commit(&lib, 1, replace ? FN_REPLACE : FN_APPEND, true, &err) != 0) {
        reply_err_buf(c, &err);
    } else {
        resp_bulk(c->out, name, strlen(name));
        c->dirty++;
    }
    free(name);
    rbuf_deinit(&err);
}

static void function_delete_exec(struct cmd_ctx *c)
{
    if (!function_registry_delete(c->argv[2].ptr, c->argv[2].len)) {
        resp_error(c->out, "ERR Library not found");
        return;
    }
    c->dirty++;
    cmd_reply_ok(c);
}

static void function_flush_exec(struct cmd_ctx *c)
{
    if (c->argc > 3) {
        syntax_error(c);
        return;
    }
    if (c->argc == 3 && !cmd_arg_eq(&c->argv[2], "sync") && !cmd_arg_eq(&c->argv[2], "async")) {
        resp_error(c->out, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    /* ASYNC frees at once too: the libraries are code and names. */
    function_registry_flush();
    c->dirty++;
    cmd_reply_ok(c);
}

/* ---- LIST -------------------------------------------------------------------- */

struct list_ctx {
    struct cmd_ctx *c;
    const struct resp_arg *pattern; /* LIBRARYNAME, or NULL */
    bool with_code;
    size_t n;                        /* libraries written */
};

static void list_one(void *arg, const struct fn_lib *lib)
{
    struct list_ctx *x = arg;
    if (x->pattern && !glob_match(x->pattern->ptr, x->pattern->len, lib->name,
                                  strlen(lib->name), true))
        return;
    x->n++;
    struct cmd_ctx *c = x->c;
    resp_map(c->out, c->proto, x->with_code ? 4 : 3);
    resp_bulk_cstr(c->out, "library_name");
    resp_bulk_cstr(c->out, lib->name);
    resp_bulk_cstr(c->out, "engine");
    resp_bulk_cstr(c->out, "LUA");
    resp_bulk_cstr(c->out, "functions");
    resp_array(c->out, lib->nfuncs);
    for (size_t i = 0; i < lib->nfuncs; i++) {
        const struct fn_func *f = &lib->funcs[i];
        resp_map(c->out, c->proto, 3);
        resp_bulk_cstr(c->out, "name");
        resp_bulk(c->out, f->name, f->name_len);
        resp_bulk_cstr(c->out, "description");
        if (f->desc)
            resp_bulk(c->out, f->desc, f->desc_len);
        else
            resp_null(c->out, c->proto);
        resp_bulk_cstr(c->out, "flags");
        static const struct {
            uint32_t flag;
            const char *name;
        } names[] = {
            {SCRIPT_FLAG_NO_WRITES, "no-writes"},     {SCRIPT_FLAG_ALLOW_OOM, "allow-oom"},
            {SCRIPT_FLAG_ALLOW_STALE, "allow-stale"}, {SCRIPT_FLAG_NO_CLUSTER, "no-cluster"},
            {SCRIPT_FLAG_CROSS_SLOT, "allow-cross-slot-keys"},
        };
        size_t nf = 0;
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            nf += (f->flags & names[k].flag) != 0;
        resp_set(c->out, c->proto, nf);
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (f->flags & names[k].flag)
                resp_simple(c->out, names[k].name);
    }
    if (x->with_code) {
        resp_bulk_cstr(c->out, "library_code");
        resp_bulk(c->out, lib->code, lib->code_len);
    }
}

static void function_list_exec(struct cmd_ctx *c)
{
    struct list_ctx x = {.c = c};
    for (size_t i = 2; i < c->argc; i++) {
        if (!x.with_code && cmd_arg_eq(&c->argv[i], "withcode")) {
            x.with_code = true;
            continue;
        }
        if (!x.pattern && cmd_arg_eq(&c->argv[i], "libraryname")) {
            if (i >= c->argc - 1) {
                resp_error(c->out, "ERR library name argument was not given");
                return;
            }
            x.pattern = &c->argv[++i];
            continue;
        }
        resp_errorf(c->out, "ERR Unknown argument %.*s", (int)c->argv[i].len, c->argv[i].ptr);
        return;
    }
    /* One pass under the registry's lock: the maps go to a scratch
     * buffer while they are counted, then the array's header is known. */
    struct rbuf body;
    rbuf_init(&body);
    struct rbuf *out = c->out;
    c->out = &body;
    function_registry_each(list_one, &x);
    c->out = out;
    if (body.oom) {
        resp_error(c->out, "ERR out of memory");
    } else {
        resp_array(c->out, x.n);
        if (body.len)
            rbuf_append(c->out, body.ptr, body.len);
    }
    rbuf_deinit(&body);
}

/* ---- DUMP and RESTORE -------------------------------------------------------- */

static void function_dump_exec(struct cmd_ctx *c)
{
    struct rbuf b;
    rbuf_init(&b);
    int rc = function_registry_records(&b);
    unsigned char foot[RDB_PAYLOAD_FOOTER];
    rdb_payload_footer(b.ptr, b.len, foot);
    if (rc == 0)
        rc = rbuf_append(&b, foot, sizeof foot);
    if (rc != 0 || b.oom)
        resp_error(c->out, "ERR out of memory");
    else
        resp_bulk(c->out, b.ptr, b.len);
    rbuf_deinit(&b);
}

/* The libraries read from a payload so far. */
struct restore_ctx {
    struct fn_lib **libs;
    size_t n, cap;
};

/* One record of the payload: its metadata, then its code run in this
 * thread's function state. A library named twice in the payload is
 * refused, as Redis loads the payload into an empty set first. */
static int restore_one(void *arg, const char *code, size_t len, struct rbuf *err)
{
    struct restore_ctx *x = arg;
    char *name = function_meta(code, len, err);
    if (!name)
        return -1;
    for (size_t i = 0; i < x->n; i++) {
        if (strcmp(x->libs[i]->name, name) == 0) {
            rbuf_append(err, "Library '", 9);
            rbuf_append(err, name, strlen(name));
            rbuf_append(err, "' already exists", 16);
            free(name);
            return -1;
        }
    }
    struct fn_lib *lib = function_compile(code, len, name, err);
    free(name);
    if (!lib)
        return -1;
    if (x->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 8;
        struct fn_lib **l = realloc(x->libs, nc * sizeof *l);
        if (!l) {
            function_lib_free(lib);
            rbuf_append(err, "out of memory", 13);
            return -1;
        }
        x->libs = l;
        x->cap = nc;
    }
    x->libs[x->n++] = lib;
    return 0;
}

static void function_restore_exec(struct cmd_ctx *c)
{
    if (c->argc > 4) {
        syntax_error(c);
        return;
    }
    int policy = FN_APPEND;
    if (c->argc == 4) {
        if (cmd_arg_eq(&c->argv[3], "flush")) {
            policy = FN_FLUSH;
        } else if (cmd_arg_eq(&c->argv[3], "append")) {
            policy = FN_APPEND;
        } else if (cmd_arg_eq(&c->argv[3], "replace")) {
            policy = FN_REPLACE;
        } else {
            resp_error(c->out, "ERR Wrong restore policy given, value should be either FLUSH, "
                               "APPEND or REPLACE.");
            return;
        }
    }
    const unsigned char *p = (const unsigned char *)c->argv[2].ptr;
    size_t len = c->argv[2].len;
    if (!rdb_payload_ok(p, len)) {
        resp_error(c->out, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    struct rbuf err;
    rbuf_init(&err);
    struct restore_ctx x = {0};
    if (function_payload_split(p, len, restore_one, &x, &err) != 0) {
        for (size_t i = 0; i < x.n; i++)
            function_lib_free(x.libs[i]);
        reply_err_buf(c, &err);
    } else if (function_registry_commit(x.libs, x.n, policy, false, &err) != 0) {
        reply_err_buf(c, &err); /* the commit freed the libraries */
    } else {
        c->dirty++;
        cmd_reply_ok(c);
    }
    free(x.libs);
    rbuf_deinit(&err);
}

/* ---- STATS, KILL, HELP ----------------------------------------------------- */

static void function_stats_exec(struct cmd_ctx *c)
{
    size_t nlibs, nfuncs, bytes;
    struct rbuf running;
    rbuf_init(&running);
    int st = script_busy_stats(&running, c->proto);
    if (st == SCRIPT_STATS_EVAL) {
        /* Redis refuses STATS while an EVAL is busy. */
        rbuf_deinit(&running);
        resp_error(c->out, "BUSY Redis is busy running a script. You can only call SCRIPT "
                           "KILL or SHUTDOWN NOSAVE.");
        return;
    }
    function_registry_stats(&nlibs, &nfuncs, &bytes);
    resp_map(c->out, c->proto, 2);
    resp_bulk_cstr(c->out, "running_script");
    if (st == SCRIPT_STATS_FUNCTION && !running.oom)
        rbuf_append(c->out, running.ptr, running.len);
    else
        resp_null(c->out, c->proto);
    rbuf_deinit(&running);
    resp_bulk_cstr(c->out, "engines");
    resp_map(c->out, c->proto, 1);
    resp_bulk_cstr(c->out, "LUA");
    resp_map(c->out, c->proto, 2);
    resp_bulk_cstr(c->out, "libraries_count");
    resp_int(c->out, (int64_t)nlibs);
    resp_bulk_cstr(c->out, "functions_count");
    resp_int(c->out, (int64_t)nfuncs);
}

static void function_kill_exec(struct cmd_ctx *c)
{
    script_kill_reply(c, true);
}

static const char *const function_help[] = {
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using "
    "FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a "
    "restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
    "abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a "
    "chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
};

static void function_help_exec(struct cmd_ctx *c)
{
    size_t n = sizeof function_help / sizeof function_help[0];
    resp_array(c->out, n);
    for (size_t i = 0; i < n; i++)
        resp_simple(c->out, function_help[i]);
}

/* ---- RDB ------------------------------------------------------------------------ */

int function_rdb_load(const char *code, size_t len)
{
    struct rbuf err;
    rbuf_init(&err);
    struct fn_lib *lib = build(code, len, false, &err);
    int rc = 0;
    if (!lib || function_registry_commit(&lib, 1, FN_APPEND, true, &err) != 0) {
        log_warn("Failed loading library from the RDB file: %.*s", err.ptr ? (int)err.len : 0,
                 err.ptr ? err.ptr : "");
        rc = -1;
    }
    rbuf_deinit(&err);
    /* Loaded on the main thread at start-up: its Lua states go now, so
     * that nothing is left at exit (a worker builds its own on use). */
    script_thread_cleanup();
    return rc;
}

int function_rdb_records(void **out, size_t *len)
{
    struct rbuf b;
    rbuf_init(&b);
    if (function_registry_records(&b) != 0 || b.oom) {
        rbuf_deinit(&b);
        *out = NULL;
        *len = 0;
        return -1;
    }
    *out = rbuf_steal(&b, len);
    return 0;
}

/* ---- Table ------------------------------------------------------------------- */

#define FN_TIPS_ALL CMD_TIPS("request_policy:all_shards", "response_policy:all_succeeded")

static const struct cmd_def function_subs[] = {
    { .name = "function|delete", .arity = 3, .exec = function_delete_exec,
      .flags = CMD_WRITE | CMD_NOSCRIPT | CMD_AFTER_PRIOR, .acl = CMD_ACL_SCRIPTING, .tips = FN_TIPS_ALL,
      .group = "scripting", .since = "7.0.0", .complexity = "O(1)",
      .summary = "Delete a function by name" },
    { .name = "function|dump", .arity = 2, .exec = function_dump_exec, .flags = CMD_NOSCRIPT,
      .acl = CMD_ACL_SCRIPTING, .group = "scripting", .since = "7.0.0",
      .complexity = "O(N) where N is the number of functions",
      .summary = "Dump all functions into a serialized binary payload" },
    { .name = "function|flush", .arity = -2, .exec = function_flush_exec,
      .flags = CMD_WRITE | CMD_NOSCRIPT | CMD_AFTER_PRIOR, .acl = CMD_ACL_SCRIPTING, .tips = FN_TIPS_ALL,
      .group = "scripting", .since = "7.0.0",
      .complexity = "O(N) where N is the number of functions deleted",
      .summary = "Deleting all functions" },
    { .name = "function|help", .arity = 2, .exec = function_help_exec,
      .flags = CMD_LOADING | CMD_STALE, .acl = CMD_ACL_SCRIPTING, .group = "scripting",
      .since = "7.0.0", .complexity = "O(1)",
      .summary = "Show helpful text about the different subcommands" },
    { .name = "function|kill", .arity = 2, .exec = function_kill_exec,
      .flags = CMD_NOSCRIPT | CMD_ALLOW_BUSY, .acl = CMD_ACL_SCRIPTING,
      .tips = CMD_TIPS("request_policy:all_shards", "response_policy:one_succeeded"),
      .group = "scripting", .since = "7.0.0", .complexity = "O(1)",
      .summary = "Kill the function currently in execution." },
    { .name = "function|list", .arity = -2, .exec = function_list_exec, .flags = CMD_NOSCRIPT,
      .acl = CMD_ACL_SCRIPTING, .tips = CMD_TIPS("nondeterministic_output_order"),
      .group = "scripting", .since = "7.0.0",
      .complexity = "O(N) where N is the number of functions",
      .summary = "List information about all the functions" },
    { .name = "function|load", .arity = -3, .exec = function_load_exec,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_NOSCRIPT | CMD_AFTER_PRIOR, .acl = CMD_ACL_SCRIPTING,
      .tips = FN_TIPS_ALL, .group = "scripting", .since = "7.0.0",
      .complexity = "O(1) (considering compilation time is redundant)",
      .summary = "Create a function with the given arguments (name, code, description)" },
    { .name = "function|restore", .arity = -3, .exec = function_restore_exec,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_NOSCRIPT | CMD_AFTER_PRIOR, .acl = CMD_ACL_SCRIPTING,
      .tips = FN_TIPS_ALL, .group = "scripting", .since = "7.0.0",
      .complexity = "O(N) where N is the number of functions on the payload",
      .summary = "Restore all the functions on the given payload" },
    { .name = "function|stats", .arity = 2, .exec = function_stats_exec,
      .flags = CMD_NOSCRIPT | CMD_ALLOW_BUSY, .acl = CMD_ACL_SCRIPTING,
      .tips = CMD_TIPS("nondeterministic_output", "request_policy:all_shards",
                       "response_policy:special"),
      .group = "scripting", .since = "7.0.0", .complexity = "O(1)",
      .summary = "Return information about the function currently running (name, description, "
                 "duration)" },
    { .name = NULL },
};

const struct cmd_def cmd_function_defs[] = {
    { .name = "function", .arity = -2, .flags = CMD_CONN, .subcommands = function_subs,
      .group = "scripting", .since = "7.0.0", .complexity = "Depends on subcommand.",
      .summary = "A container for function commands" },
};
const size_t cmd_function_ndefs = sizeof cmd_function_defs / sizeof cmd_function_defs[0];
