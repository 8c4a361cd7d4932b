/* cmd_server.c — connection and server commands with Redis 7.0's replies
 * and errors: PING ECHO QUIT HELLO AUTH SELECT COMMAND CONFIG TIME SHUTDOWN,
 * and the command table fragment that also lists CLIENT (cmd_client.c) and
 * INFO (cmd_info.c). Every one runs on the calling connection's worker
 * thread (CMD_CONN). */
#include "server/commands/cmd_server.h"
#include "server/commands/script.h"

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/clock.h"
#include "server/commands/cmd_impl.h"
#include "server/core/config.h"
#include "server/net/conn.h"
#include "server/util/glob.h"
#include "server/util/log.h"
#include "server/exec/slowlog.h"
#include "server/persist/persist.h"
#include "server/core/server.h"
#include "server/net/worker.h"

/* ------------------------------------------------------------ helpers */

static void reply_err(struct cmd_ctx *c, const char *msg)
{
    resp_error(c->out, msg);
}

char *cmd_server_arg_dup(const struct resp_arg *a)
{
    char *s = malloc(a->len + 1);
    if (s != NULL) {
        memcpy(s, a->ptr, a->len);
        s[a->len] = '\0';
    }
    return s;
}

static bool arg_has_nul(const struct resp_arg *a)
{
    return memchr(a->ptr, '\0', a->len) != NULL;
}

bool cmd_server_name_ok(const struct resp_arg *a)
{
    for (size_t i = 0; i < a->len; i++)
        if (a->ptr[i] < '!' || a->ptr[i] > '~')
            return false;
    return true;
}

/* Constant-time comparison, so AUTH's timing does not reveal how much of a
 * guessed password was right. */
static bool secret_eq(const char *secret, const struct resp_arg *a)
{
    size_t n = strlen(secret);
    unsigned char diff = (unsigned char)(n != a->len);
    for (size_t i = 0; i < a->len; i++)
        diff |= (unsigned char)(a->ptr[i] ^ secret[i < n ? i : 0]);
    return diff == 0 && n == a->len;
}

/* ------------------------------------------------ PING ECHO QUIT TIME */

static void cmd_ping(struct cmd_ctx *c)
{
    if (c->argc <= 2 && c->conn && c->conn->ps && c->proto == RESP2) {
        /* A subscribed RESP2 client reads only arrays: Redis answers
         * ["pong", argument or ""]. */
        resp_array(c->out, 2);
        resp_bulk(c->out, "pong", 4);
        resp_bulk(c->out, c->argc == 2 ? c->argv[1].ptr : "", c->argc == 2 ? c->argv[1].len : 0);
    } else if (c->argc == 1)
        resp_simple(c->out, "PONG");
    else if (c->argc == 2)
        resp_bulk(c->out, c->argv[1].ptr, c->argv[1].len);
    else
        reply_err(c, "ERR wrong number of arguments for 'ping' command");
}

static void cmd_echo(struct cmd_ctx *c)
{
    resp_bulk(c->out, c->argv[1].ptr, c->argv[1].len);
}

static void cmd_quit(struct cmd_ctx *c)
{
    resp_simple(c->out, "OK");
    conn_close_after_reply(c->conn);
}

static void cmd_time(struct cmd_ctx *c)
{
    struct timeval tv;
    char buf[32];
    gettimeofday(&tv, NULL);
    resp_array(c->out, 2);
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)tv.tv_sec);
    resp_bulk(c->out, buf, (size_t)n);
    n = snprintf(buf, sizeof(buf), "%ld", (long)tv.tv_usec);
    resp_bulk(c->out, buf, (size_t)n);
}

/* ---------------------------------------------------- AUTH HELLO SELECT */

enum auth_result { AUTH_OK, AUTH_WRONGPASS, AUTH_NOPASS_CONFIGURED };

/* One user exists, "default", with requirepass as its password (none: any
 * password is accepted for it, as Redis's "nopass" default user). user is
 * NULL for the one-argument AUTH form. */
static enum auth_result auth_check(const struct resp_arg *user, const struct resp_arg *pass)
{
    const char *rp = worker_requirepass();
    bool is_default = user == NULL || (user->len == 7 && memcmp(user->ptr, "default", 7) == 0);
    if (rp == NULL || rp[0] == '\0') {
        if (user == NULL)
            return AUTH_NOPASS_CONFIGURED;
        return is_default ? AUTH_OK : AUTH_WRONGPASS;
    }
    return is_default && secret_eq(rp, pass) ? AUTH_OK : AUTH_WRONGPASS;
}

static const char wrongpass[] = "WRONGPASS invalid username-password pair or user is disabled.";

static void cmd_auth(struct cmd_ctx *c)
{
    if (c->argc > 3) {
        reply_err(c, "ERR syntax error");
        return;
    }
    const struct resp_arg *user = c->argc == 3 ? &c->argv[1] : NULL;
    switch (auth_check(user, &c->argv[c->argc - 1])) {
    case AUTH_OK:
        c->conn->authenticated = true;
        resp_simple(c->out, "OK");
        break;
    case AUTH_WRONGPASS:
        log_verbose("AUTH failed for client id=%" PRIu64 " addr=%s", c->conn->id, c->conn->addr);
        reply_err(c, wrongpass);
        break;
    case AUTH_NOPASS_CONFIGURED:
        reply_err(c, "ERR AUTH <password> called without any password configured for the "
                     "default user. Are you sure your configuration is correct?");
        break;
    }
}

static void cmd_hello(struct cmd_ctx *c)
{
    struct conn *cn = c->conn;
    int64_t ver = cn->proto;
    size_t next = 1;
    if (c->argc >= 2) {
        if (!int64str_parse(c->argv[1].ptr, c->argv[1].len, &ver)) {
            reply_err(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            reply_err(c, "NOPROTO unsupported protocol version");
            return;
        }
        next = 2;
    }
    const struct resp_arg *name = NULL;
    for (size_t j = next; j < c->argc; j++) {
        size_t more = c->argc - 1 - j;
        if (cmd_arg_eq(&c->argv[j], "auth") && more >= 2) {
            if (auth_check(&c->argv[j + 1], &c->argv[j + 2]) != AUTH_OK) {
                reply_err(c, wrongpass);
                return;
            }
            cn->authenticated = true;
            j += 2;
        } else if (cmd_arg_eq(&c->argv[j], "setname") && more >= 1) {
            name = &c->argv[j + 1];
            if (!cmd_server_name_ok(name)) {
                reply_err(c, "ERR Client names cannot contain spaces, newlines or special "
                             "characters.");
                return;
            }
            j++;
        } else {
            const struct resp_arg *o = &c->argv[j];
            resp_errorf(c->out, "ERR Syntax error in HELLO option '%.*s'",
                        (int)(o->len > 128 ? 128 : o->len), o->ptr);
            return;
        }
    }
    if (!cn->authenticated) {
        reply_err(c, "NOAUTH HELLO must be called with the client already authenticated, "
                     "otherwise the HELLO AUTH <user> <pass> option can be used to "
                     "authenticate the client and select the RESP protocol version at the "
                     "same time");
        return;
    }
    if (name != NULL && conn_set_name(cn, name->ptr, name->len) != 0) {
        reply_err(c, "ERR out of memory");
        return;
    }
    /* The reply is already in the new protocol, as in Redis. */
    cn->proto = (int)ver;
    int p = cn->proto;
    resp_map(c->out, p, 7);
    resp_bulk_cstr(c->out, "server");
    resp_bulk_cstr(c->out, "redis");
    resp_bulk_cstr(c->out, "version");
    resp_bulk_cstr(c->out, SERVER_REDIS_VERSION);
    resp_bulk_cstr(c->out, "proto");
    resp_int(c->out, p);
    resp_bulk_cstr(c->out, "id");
    resp_int(c->out, (int64_t)cn->id);
    resp_bulk_cstr(c->out, "mode");
    resp_bulk_cstr(c->out, "standalone");
    resp_bulk_cstr(c->out, "role");
    resp_bulk_cstr(c->out, "master");
    resp_bulk_cstr(c->out, "modules");
    resp_array(c->out, 0);
}

static void cmd_select(struct cmd_ctx *c)
{
    int64_t idx;
    if (!int64str_parse(c->argv[1].ptr, c->argv[1].len, &idx)) {
        reply_err(c, "ERR value is not an integer or out of range");
        return;
    }
    struct worker *w = worker_current();
    unsigned ndb = w ? w->set.databases : 16;
    if (idx < 0 || idx >= (int64_t)ndb) {
        reply_err(c, "ERR DB index is out of range");
        return;
    }
    c->conn->db = (unsigned)idx;
    resp_simple(c->out, "OK");
}

/* --------------------------------------------------------------- CONFIG */

/* CONFIG GET output, counted first (the reply header needs the count). */
struct get_walk {
    struct rbuf *out; /* NULL while counting */
    size_t n;         /* pairs seen */
};

static void config_get_cb(void *arg, const char *name, const char *value)
{
    struct get_walk *g = arg;
    g->n++;
    if (g->out != NULL) {
        resp_bulk_cstr(g->out, name);
        resp_bulk_cstr(g->out, value);
    }
}

static void config_get_exec(struct cmd_ctx *c)
{
    size_t np = c->argc - 2;
    char **pats = calloc(np, sizeof(*pats));
    bool ok = pats != NULL;
    for (size_t i = 0; ok && i < np; i++)
        ok = (pats[i] = cmd_server_arg_dup(&c->argv[2 + i])) != NULL;
    if (ok) {
        struct get_walk g = {NULL, 0};
        server_config_rdlock();
        config_get_many(&server.cfg, np, (const char *const *)pats, config_get_cb, &g);
        resp_map(c->out, c->proto, g.n);
        g.out = c->out;
        g.n = 0;
        config_get_many(&server.cfg, np, (const char *const *)pats, config_get_cb, &g);
        server_config_unlock_rd();
    } else {
        reply_err(c, "ERR out of memory");
    }
    for (size_t i = 0; pats != NULL && i < np; i++)
        free(pats[i]);
    free(pats);
}

static void config_set_exec(struct cmd_ctx *c)
{
    if ((c->argc - 2) % 2 != 0) {
        reply_err(c, "ERR syntax error");
        return;
    }
    size_t np = (c->argc - 2) / 2;
    char **names = calloc(np, sizeof(*names));
    char **values = calloc(np, sizeof(*values));
    bool ok = names != NULL && values != NULL;
    for (size_t i = 0; ok && i < np; i++) {
        names[i] = cmd_server_arg_dup(&c->argv[2 + 2 * i]);
        values[i] = cmd_server_arg_dup(&c->argv[3 + 2 * i]);
        ok = names[i] != NULL && values[i] != NULL;
    }
    if (!ok) {
        reply_err(c, "ERR out of memory");
    } else {
        char err[256];
        int rc = 0;
        for (size_t i = 0; i < np && rc == 0; i++)
            if (arg_has_nul(&c->argv[3 + 2 * i])) {
                snprintf(err, sizeof(err),
                         "CONFIG SET failed (possibly related to argument '%s') - argument "
                         "contains a NUL byte",
                         names[i]);
                rc = -1;
            }
        if (rc == 0) {
            server_config_wrlock();
            rc = config_set_from_client(&server.cfg, c->conn->local, np,
                                        (const char *const *)names,
                                        (const char *const *)values, err, sizeof(err));
            server_config_unlock_wr();
        }
        if (rc == 0) {
            worker_config_changed();
            slowlog_refresh(); /* its gate is global, not per worker */
            resp_simple(c->out, "OK");
        } else {
            resp_errorf(c->out, "ERR %s", err);
        }
    }
    for (size_t i = 0; i < np; i++) {
        if (names)
            free(names[i]);
        if (values)
            free(values[i]);
    }
    free(names);
    free(values);
}

static const char *const config_help[] = {
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern> [<pattern> ...]",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value> [<directive> <value> ...]",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "HELP",
    "    Print this help.",
    NULL,
};

static void config_help_exec(struct cmd_ctx *c)
{
    cmd_reply_help(c, config_help);
}

/* CONFIG is a container: dispatch runs the subcommand's definition. */
static const struct cmd_def config_subs[] = {
    { .name = "config|get", .arity = -3, .exec = config_get_exec,
      .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .group = "server", .since = "2.0.0",
      .complexity = "O(N) when N is the number of configuration parameters provided",
      .summary = "Get the values of configuration parameters" },
    { .name = "config|help", .arity = 2, .exec = config_help_exec,
      .flags = CMD_LOADING | CMD_STALE,
      .group = "server", .since = "5.0.0",
      .complexity = "O(1)",
      .summary = "Show helpful text about the different subcommands" },
    { .name = "config|resetstat", .arity = 2, .exec = cmd_info_resetstat,
      .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .group = "server", .since = "2.0.0",
      .complexity = "O(1)",
      .summary = "Reset the stats returned by INFO" },
    /* After the client's earlier commands: a setting (maxmemory, the
     * events) must not reach a command sent before it. */
    { .name = "config|set", .arity = -4, .exec = config_set_exec,
      .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_AFTER_PRIOR,
      .tips = CMD_TIPS("request_policy:all_nodes", "response_policy:all_succeeded"),
      .group = "server", .since = "2.0.0",
      .complexity = "O(N) when N is the number of configuration parameters provided",
      .summary = "Set configuration parameters to the given values" },
    { .name = NULL },
};

/* ------------------------------------------------------------- SHUTDOWN */

static void cmd_shutdown(struct cmd_ctx *c)
{
    bool save = false, nosave = false, abort_ = false;
    for (size_t j = 1; j < c->argc; j++) {
        const struct resp_arg *a = &c->argv[j];
        if (cmd_arg_eq(a, "nosave"))
            nosave = true;
        else if (cmd_arg_eq(a, "save"))
            save = true;
        else if (cmd_arg_eq(a, "now") || cmd_arg_eq(a, "force"))
            ; /* no replicas to wait for, nothing to force past */
        else if (cmd_arg_eq(a, "abort"))
            abort_ = true;
        else {
            reply_err(c, "ERR syntax error");
            return;
        }
    }
    if ((save && nosave) || (abort_ && (save || nosave || c->argc > 2))) {
        reply_err(c, "ERR syntax error");
        return;
    }
    if (abort_) {
        reply_err(c, "ERR No shutdown in progress.");
        return;
    }
    /* A busy script: only NOSAVE may stop the server (Redis's
     * shutdownCommand), and it ends the script whatever it wrote. */
    if (atomic_load(&server.busy_scripts)) {
        if (!nosave) {
            reply_err(c, server_busy_error());
            return;
        }
        script_kill_all();
    }
    /* SAVE, or save points without NOSAVE: the reply (or the close and
     * the stop) comes when the snapshot ends; a failed save keeps the
     * server running, as in Redis. */
    if (persist_cmd_shutdown(c, save, nosave))
        return;
    log_notice("SHUTDOWN from client id=%" PRIu64 " addr=%s", c->conn->id, c->conn->addr);
    /* Like Redis, no reply: the client sees the connection close. */
    conn_close_after_reply(c->conn);
    server_request_stop(0);
}

/* ---------------------------------------------------------------- table */

const struct cmd_def cmd_server_defs[] = {
    { .name = "ping", .arity = -1, .exec = cmd_ping,
      .flags = CMD_FAST | CMD_CONN | CMD_MISCONF | CMD_SUBSCRIBED | CMD_CONNLESS,
      .tips = CMD_TIPS("request_policy:all_shards", "response_policy:all_succeeded"),
      .group = "connection", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Ping the server" },
    { .name = "echo", .arity = 2, .exec = cmd_echo,
      .flags = CMD_LOADING | CMD_STALE | CMD_FAST | CMD_CONN | CMD_CONNLESS,
      .group = "connection", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Echo the given string" },
    { .name = "quit", .arity = -1, .exec = cmd_quit,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NOAUTH | CMD_ALLOW_BUSY | CMD_CONN | CMD_TXN_CONTROL | CMD_SUBSCRIBED | CMD_ENDS_MULTI,
      .group = "connection", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Close the connection" },
    { .name = "hello", .arity = -1, .exec = cmd_hello,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NOAUTH | CMD_ALLOW_BUSY | CMD_CONN |
               CMD_REDACT,
      .group = "connection", .since = "6.0.0",
      .complexity = "O(1)",
      .summary = "Handshake with Redis" },
    { .name = "auth", .arity = -2, .exec = cmd_auth,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NOAUTH | CMD_ALLOW_BUSY | CMD_CONN |
               CMD_REDACT,
      .group = "connection", .since = "1.0.0",
      .complexity = "O(N) where N is the number of passwords defined for the user",
      .summary = "Authenticate to the server" },
    { .name = "select", .arity = 2, .exec = cmd_select,
      .flags = CMD_LOADING | CMD_STALE | CMD_FAST | CMD_CONN | CMD_SETS_DB,
      .group = "connection", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Change the selected database for the current connection" },
    { .name = "client", .arity = -2, .subcommands = cmd_client_subs,
      .flags = CMD_CONN,
      .group = "connection", .since = "2.4.0",
      .complexity = "Depends on subcommand.",
      .summary = "A container for client connection commands" },
    { .name = "command", .arity = -1, .exec = cmd_command_exec,
      .subcommands = cmd_command_subs,
      .flags = CMD_LOADING | CMD_STALE | CMD_CONN,
      .acl = CMD_ACL_CONNECTION,
      .tips = CMD_TIPS("nondeterministic_output_order"),
      .group = "server", .since = "2.8.13",
      .complexity = "O(N) where N is the total number of Redis commands",
      .summary = "Get array of Redis command details" },
    { .name = "info", .arity = -1, .exec = cmd_info_exec,
      .flags = CMD_LOADING | CMD_STALE | CMD_CONN,
      .acl = CMD_ACL_DANGEROUS,
      .tips = CMD_TIPS("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
      .group = "server", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Get information and statistics about the server" },
    { .name = "config", .arity = -2, .subcommands = config_subs,
      .flags = CMD_CONN,
      .group = "server", .since = "2.0.0",
      .complexity = "Depends on subcommand.",
      .summary = "A container for server configuration commands" },
    { .name = "time", .arity = 1, .exec = cmd_time,
      .flags = CMD_LOADING | CMD_STALE | CMD_FAST | CMD_CONN | CMD_CONNLESS,
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "server", .since = "2.6.0",
      .complexity = "O(1)",
      .summary = "Return the current server time" },
    { .name = "shutdown", .arity = -1, .exec = cmd_shutdown,
      .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_NO_MULTI | CMD_ALLOW_BUSY | CMD_CONN,
      .group = "server", .since = "1.0.0",
      .complexity = "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
      .summary = "Synchronously save the dataset to disk and then shut down the server" },
};
const size_t cmd_server_ndefs = sizeof(cmd_server_defs) / sizeof(cmd_server_defs[0]);

