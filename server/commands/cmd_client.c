/* cmd_client.c — CLIENT ID/GETNAME/SETNAME/SETINFO/INFO/LIST/KILL/HELP with
 * Redis 7.0's replies (SETINFO as in 7.2). Runs on the caller's worker
 * thread; LIST and KILL reach every worker's clients through
 * dispatch_broadcast and reply when the last worker has answered, so the
 * calling thread never blocks. */
#include "server/commands/cmd_block.h"
#include "server/commands/cmd_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "server/commands/cmd_impl.h"
#include "server/net/conn.h"
#include "server/route/dispatch.h"
#include "server/net/worker.h"

/* Which clients CLIENT LIST shows or CLIENT KILL closes. Built on the
 * caller's thread, read-only on every worker, freed by done. */
struct client_filter {
    bool kill;            /* CLIENT KILL (else LIST) */
    bool old_form;        /* CLIENT KILL ip:port: reply OK / "No such client" */
    bool none;            /* TYPE master/replica: matches nobody */
    int type;             /* TYPE: 0 any, 1 normal, 2 pubsub (subscribed) */
    bool skipme;          /* KILL: spare the caller (new form default) */
    const struct conn *self; /* the caller, compared by address only */
    uint64_t *ids;        /* ID filter (LIST: several; KILL: one), or NULL */
    size_t nids;          /* entries in ids */
    char *addr;           /* ADDR / old-form filter, or NULL */
    char *laddr;          /* LADDR filter, or NULL */
    int64_t maxage;       /* KILL MAXAGE seconds, 0 = any age */
    int64_t now_ms;       /* wall clock when the command ran */
    int proto;            /* reply protocol */
    uint64_t walk;        /* conn_walk_begin's id, 0 before it */
};

/* What one worker's pass over its clients needs. */
struct client_walk {
    const struct client_filter *f; /* the filter */
    struct rbuf *part;             /* this worker's output */
    uint64_t killed;               /* KILL: clients closed here */
};

static void filter_free(struct client_filter *f)
{
    if (f->walk)
        conn_walk_end();
    free(f->ids);
    free(f->addr);
    free(f->laddr);
    free(f);
}

static bool filter_match(const struct client_filter *f, const struct conn *cn)
{
    if (f->none || conn_is_closing(cn))
        return false;
    if (f->type != 0 && (f->type == 2) != (cn->ps != NULL))
        return false;
    if (f->ids != NULL) {
        bool hit = false;
        for (size_t i = 0; i < f->nids && !hit; i++)
            hit = f->ids[i] == cn->id;
        if (!hit)
            return false;
    }
    if (f->addr != NULL && strcmp(f->addr, cn->addr) != 0)
        return false;
    if (f->laddr != NULL && strcmp(f->laddr, cn->laddr) != 0)
        return false;
    if (f->maxage > 0 && (f->now_ms - cn->created_ms) / 1000 < f->maxage)
        return false;
    if (f->kill && f->skipme && cn == f->self)
        return false;
    return true;
}

/* Has this walk seen cn already (in transit, on another worker's
 * pass)? Marks it seen. */
static bool seen(const struct client_filter *f, struct conn *cn)
{
    if (cn->walk_seen == f->walk)
        return true;
    cn->walk_seen = f->walk;
    return false;
}

static void client_visit(void *arg, struct conn *cn)
{
    struct client_walk *cw = arg;
    if (seen(cw->f, cn) || !filter_match(cw->f, cn))
        return;
    if (!cw->f->kill) {
        conn_describe(cn, cw->f->now_ms, cw->part);
        return;
    }
    /* The caller itself is on this thread: close it after its reply, as
     * Redis does, instead of dropping the reply it is waiting for. */
    if (cn == cw->f->self)
        conn_close_after_reply((struct conn *)cn);
    else
        conn_kill(cn);
    cw->killed++;
}

/* A client between two workers (under the transit lock): listed, or
 * killed by its new worker when it arrives. */
static void moving_visit(void *arg, struct conn *cn)
{
    struct client_walk *cw = arg;
    if (seen(cw->f, cn) || !filter_match(cw->f, cn))
        return;
    if (cw->f->kill) {
        cn->mv_kill = true;
        cw->killed++;
    } else {
        conn_describe(cn, cw->f->now_ms, cw->part);
    }
}

/* Every worker's pass also looks at the clients in transit: one that
 * arrives at a worker whose pass is over was seen there by the passes
 * that came before its arrival, or is seen by the passes after it. */
static void client_each(struct worker *w, void *arg, struct rbuf *part)
{
    struct client_walk cw = {.f = arg, .part = part, .killed = 0};
    worker_foreach_conn(w, client_visit, &cw);
    conn_foreach_moving(moving_visit, &cw);
    if (cw.f->kill)
        rbuf_append(part, &cw.killed, sizeof(cw.killed));
}

static void client_done(void *arg, struct rbuf *parts, unsigned n, struct rbuf *out)
{
    struct client_filter *f = arg;
    if (!f->kill) {
        size_t total = 0;
        for (unsigned i = 0; i < n; i++)
            total += parts[i].len;
        struct rbuf all;
        rbuf_init(&all);
        if (rbuf_reserve(&all, total + 1) != 0) {
            resp_error(out, "ERR out of memory");
        } else {
            for (unsigned i = 0; i < n; i++)
                rbuf_append(&all, parts[i].ptr, parts[i].len);
            resp_verbatim(out, f->proto, all.ptr ? all.ptr : "", all.len);
        }
        rbuf_deinit(&all);
    } else {
        uint64_t killed = 0;
        for (unsigned i = 0; i < n; i++) {
            uint64_t k = 0;
            if (parts[i].len >= sizeof(k))
                memcpy(&k, parts[i].ptr, sizeof(k));
            killed += k;
        }
        if (!f->old_form)
            resp_int(out, (int64_t)killed);
        else if (killed == 0)
            resp_error(out, "ERR No such client");
        else
            resp_simple(out, "OK");
    }
    filter_free(f);
}

/* TYPE's argument: normal and pubsub (a client with subscriptions, as
 * Redis's getClientType) pick clients; master and replica/slave match
 * nobody here. Returns -1 if unknown. */
static int parse_client_type(const struct resp_arg *a, struct client_filter *f)
{
    f->none = false;
    f->type = 0;
    if (cmd_arg_eq(a, "normal"))
        f->type = 1;
    else if (cmd_arg_eq(a, "pubsub"))
        f->type = 2;
    else if (cmd_arg_eq(a, "master") || cmd_arg_eq(a, "replica") || cmd_arg_eq(a, "slave"))
        f->none = true;
    else
        return -1;
    return 0;
}

static void client_start(struct cmd_ctx *c, struct client_filter *f)
{
    f->self = c->conn;
    f->now_ms = clock_wall_ms();
    f->proto = c->proto;
    f->walk = conn_walk_begin();
    if (dispatch_broadcast(c, client_each, client_done, f) != 0)
        filter_free(f);
}

static void client_list(struct cmd_ctx *c)
{
    struct client_filter *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        resp_error(c->out, "ERR out of memory");
        return;
    }
    for (size_t j = 2; j < c->argc; j++) {
        size_t more = c->argc - 1 - j;
        if (cmd_arg_eq(&c->argv[j], "type") && more >= 1) {
            if (parse_client_type(&c->argv[j + 1], f) != 0) {
                resp_errorf(c->out, "ERR Unknown client type '%.*s'", (int)c->argv[j + 1].len,
                            c->argv[j + 1].ptr);
                filter_free(f);
                return;
            }
            j++;
        } else if (cmd_arg_eq(&c->argv[j], "id") && more >= 1) {
            free(f->ids);
            f->ids = calloc(more, sizeof(*f->ids));
            if (f->ids == NULL) {
                resp_error(c->out, "ERR out of memory");
                filter_free(f);
                return;
            }
            for (size_t k = j + 1; k < c->argc; k++) {
                int64_t id;
                if (!int64str_parse(c->argv[k].ptr, c->argv[k].len, &id) || id <= 0) {
                    resp_error(c->out, "ERR Invalid client ID");
                    filter_free(f);
                    return;
                }
                f->ids[f->nids++] = (uint64_t)id;
            }
            break;
        } else {
            resp_error(c->out, "ERR syntax error");
            filter_free(f);
            return;
        }
    }
    client_start(c, f);
}

static void client_kill(struct cmd_ctx *c)
{
    struct client_filter *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        resp_error(c->out, "ERR out of memory");
        return;
    }
    f->kill = true;
    if (c->argc == 3) {
        /* CLIENT KILL ip:port: the caller is not spared. */
        f->old_form = true;
        f->addr = cmd_server_arg_dup(&c->argv[2]);
        if (f->addr == NULL) {
            resp_error(c->out, "ERR out of memory");
            filter_free(f);
            return;
        }
        client_start(c, f);
        return;
    }
    f->skipme = true;
    if ((c->argc - 2) % 2 != 0) {
        resp_error(c->out, "ERR syntax error");
        filter_free(f);
        return;
    }
    for (size_t j = 2; j + 1 < c->argc; j += 2) {
        const struct resp_arg *k = &c->argv[j], *v = &c->argv[j + 1];
        const char *oom = NULL;
        if (cmd_arg_eq(k, "id")) {
            int64_t id;
            if (!int64str_parse(v->ptr, v->len, &id) || id <= 0) {
                resp_error(c->out, "ERR client-id should be greater than 0");
                filter_free(f);
                return;
            }
            free(f->ids);
            f->ids = malloc(sizeof(*f->ids));
            if (f->ids == NULL) {
                oom = "ids";
            } else {
                f->ids[0] = (uint64_t)id;
                f->nids = 1;
            }
        } else if (cmd_arg_eq(k, "addr")) {
            free(f->addr);
            if ((f->addr = cmd_server_arg_dup(v)) == NULL)
                oom = "addr";
        } else if (cmd_arg_eq(k, "laddr")) {
            free(f->laddr);
            if ((f->laddr = cmd_server_arg_dup(v)) == NULL)
                oom = "laddr";
        } else if (cmd_arg_eq(k, "type")) {
            if (parse_client_type(v, f) != 0) {
                resp_errorf(c->out, "ERR Unknown client type '%.*s'", (int)v->len, v->ptr);
                filter_free(f);
                return;
            }
        } else if (cmd_arg_eq(k, "user")) {
            /* Only the default user exists. */
            if (!(v->len == 7 && memcmp(v->ptr, "default", 7) == 0)) {
                resp_errorf(c->out, "ERR No such user '%.*s'", (int)v->len, v->ptr);
                filter_free(f);
                return;
            }
        } else if (cmd_arg_eq(k, "skipme")) {
            if (cmd_arg_eq(v, "yes")) {
                f->skipme = true;
            } else if (cmd_arg_eq(v, "no")) {
                f->skipme = false;
            } else {
                resp_error(c->out, "ERR syntax error");
                filter_free(f);
                return;
            }
        } else if (cmd_arg_eq(k, "maxage")) {
            int64_t age;
            if (!int64str_parse(v->ptr, v->len, &age) || age < 0) {
                resp_error(c->out, "ERR syntax error");
                filter_free(f);
                return;
            }
            f->maxage = age;
        } else {
            resp_error(c->out, "ERR syntax error");
            filter_free(f);
            return;
        }
        if (oom != NULL) {
            resp_error(c->out, "ERR out of memory");
            filter_free(f);
            return;
        }
    }
    client_start(c, f);
}

static void client_setinfo(struct cmd_ctx *c)
{
    const struct resp_arg *attr = &c->argv[2], *val = &c->argv[3];
    char **member;
    const char *what;
    if (cmd_arg_eq(attr, "lib-name")) {
        member = &c->conn->lib_name;
        what = "lib-name";
    } else if (cmd_arg_eq(attr, "lib-ver")) {
        member = &c->conn->lib_ver;
        what = "lib-ver";
    } else {
        resp_errorf(c->out, "ERR Unrecognized option '%.*s'",
                    (int)(attr->len > 128 ? 128 : attr->len), attr->ptr);
        return;
    }
    if (!cmd_server_name_ok(val)) {
        resp_errorf(c->out, "ERR %s cannot contain spaces, newlines or special characters.",
                    what);
        return;
    }
    if (conn_set_str(member, val->ptr, val->len) != 0) {
        resp_error(c->out, "ERR out of memory");
        return;
    }
    resp_simple(c->out, "OK");
}

static const char *const client_help[] = {
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>,",
    "    TYPE (NORMAL|MASTER|REPLICA|PUBSUB), USER <username>, SKIPME (YES|NO),",
    "    MAXAGE <maxage>.",
    "LIST [options ...]",
    "    Return information about client connections. Options: TYPE (NORMAL|MASTER|",
    "    REPLICA|PUBSUB), ID <client-id> [<client-id> ...].",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Record the client library's name or version (CLIENT LIST lib-name=, lib-ver=).",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "HELP",
    "    Print this help.",
    NULL,
};

/* ---- The subcommands (CLIENT itself is a container: dispatch runs the
 * subcommand's definition, as Redis's lookupCommand finds it). */

static void client_id_exec(struct cmd_ctx *c)
{
    resp_int(c->out, (int64_t)c->conn->id);
}

static void client_getname_exec(struct cmd_ctx *c)
{
    if (c->conn->name != NULL)
        resp_bulk_cstr(c->out, c->conn->name);
    else
        resp_null(c->out, c->proto);
}

static void client_setname_exec(struct cmd_ctx *c)
{
    if (!cmd_server_name_ok(&c->argv[2])) {
        resp_error(c->out, "ERR Client names cannot contain spaces, newlines or special "
                           "characters.");
        return;
    }
    if (conn_set_name(c->conn, c->argv[2].ptr, c->argv[2].len) != 0) {
        resp_error(c->out, "ERR out of memory");
        return;
    }
    resp_simple(c->out, "OK");
}

static void client_info_exec(struct cmd_ctx *c)
{
    struct rbuf line;
    rbuf_init(&line);
    conn_describe(c->conn, clock_wall_ms(), &line);
    if (line.oom)
        resp_error(c->out, "ERR out of memory");
    else
        resp_verbatim(c->out, c->proto, line.ptr ? line.ptr : "", line.len);
    rbuf_deinit(&line);
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: the client stops waiting within the
 * blocking commands' timer period (cmd_block.c), as if its timeout came
 * or with -UNBLOCKED. */
static void client_unblock_exec(struct cmd_ctx *c)
{
    bool error = false;
    if (c->argc == 4) {
        if (cmd_arg_eq(&c->argv[3], "error")) {
            error = true;
        } else if (!cmd_arg_eq(&c->argv[3], "timeout")) {
            resp_error(c->out, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    } else if (c->argc != 3) {
        resp_error(c->out, "ERR syntax error");
        return;
    }
    int64_t id;
    if (!cmd_arg_int64(c, &c->argv[2], &id))
        return;
    resp_int(c->out, cmd_block_unblock((uint64_t)id, error) ? 1 : 0);
}

static void client_help_exec(struct cmd_ctx *c)
{
    cmd_reply_help(c, client_help);
}

/* Redis 7.0's flags and docs; SETINFO is 7.2's (clients send it). */
const struct cmd_def cmd_client_subs[] = {
    { .name = "client|getname", .arity = 2, .exec = client_getname_exec,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .group = "connection", .since = "2.6.9",
      .complexity = "O(1)",
      .summary = "Get the current connection name" },
    { .name = "client|help", .arity = 2, .exec = client_help_exec,
      .flags = CMD_LOADING | CMD_STALE,
      .group = "connection", .since = "5.0.0",
      .complexity = "O(1)",
      .summary = "Show helpful text about the different subcommands" },
    { .name = "client|id", .arity = 2, .exec = client_id_exec,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .group = "connection", .since = "5.0.0",
      .complexity = "O(1)",
      .summary = "Returns the client ID for the current connection" },
    { .name = "client|info", .arity = 2, .exec = client_info_exec,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "connection", .since = "6.2.0",
      .complexity = "O(1)",
      .summary = "Returns information about the current client connection." },
    { .name = "client|kill", .arity = -3, .exec = client_kill,
      .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .group = "connection", .since = "2.4.0",
      .complexity = "O(N) where N is the number of client connections",
      .summary = "Kill the connection of a client" },
    { .name = "client|list", .arity = -2, .exec = client_list,
      .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "connection", .since = "2.4.0",
      .complexity = "O(N) where N is the number of client connections",
      .summary = "Get the list of client connections" },
    { .name = "client|setinfo", .arity = 4, .exec = client_setinfo,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .tips = CMD_TIPS("request_policy:all_nodes", "response_policy:all_succeeded"),
      .group = "connection", .since = "7.2.0",
      .complexity = "O(1)",
      .summary = "Set client or connection specific info" },
    { .name = "client|setname", .arity = 3, .exec = client_setname_exec,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .group = "connection", .since = "2.6.9",
      .complexity = "O(1)",
      .summary = "Set the current connection name" },
    { .name = "client|unblock", .arity = -3, .exec = client_unblock_exec,
      .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .group = "connection", .since = "5.0.0",
      .complexity = "O(log N) where N is the number of client connections",
      .summary = "Unblock a client blocked in a blocking command from a different connection" },
    { .name = NULL },
};
