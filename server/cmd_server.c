/* cmd_server.c — connection and server commands with Redis 7.0's replies
 * and errors: PING ECHO QUIT HELLO AUTH SELECT COMMAND CONFIG TIME SHUTDOWN,
 * and the command table fragment that also lists CLIENT (cmd_client.c) and
 * INFO (cmd_info.c). Every one runs on the calling connection's worker
 * thread (CMD_CONN). */
#include "server/cmd_server.h"

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/clock.h"
#include "server/cmd_impl.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/glob.h"
#include "server/log.h"
#include "server/persist.h"
#include "server/server.h"
#include "server/worker.h"

/* ------------------------------------------------------------ helpers */

static void reply_err(struct cmd_ctx *c, const char *msg)
{
    resp_error(c->out, msg);
}

/* Every subcommand of CLIENT, COMMAND and CONFIG we serve, with Redis 7's
 * arity: the exec functions check it when they run, cmd_txn.c when MULTI
 * queues one (as Redis does). */
static const struct {
    const char *full;
    int arity;
} subcommands[] = {
    {"client|getname", 2},   {"client|help", 2},     {"client|id", 2},
    {"client|info", 2},      {"client|kill", -3},    {"client|list", -2},
    {"client|setinfo", 4},   {"client|setname", 3},  {"command|count", 2},
    {"command|docs", -2},    {"command|help", 2},    {"command|info", -2},
    {"command|list", -2},    {"config|get", -3},     {"config|help", 2},
    {"config|resetstat", 2}, {"config|set", -4},
};

const char *cmd_server_container(const char *name)
{
    static const struct {
        const char *name, *upper;
    } containers[] = {{"client", "CLIENT"}, {"command", "COMMAND"}, {"config", "CONFIG"}};
    for (size_t i = 0; i < sizeof containers / sizeof containers[0]; i++)
        if (strcmp(containers[i].name, name) == 0)
            return containers[i].upper;
    return NULL;
}

size_t cmd_server_sub_count(void)
{
    return sizeof subcommands / sizeof subcommands[0];
}

const char *cmd_server_sub_name(size_t i)
{
    return i < cmd_server_sub_count() ? subcommands[i].full : NULL;
}

int cmd_server_sub_index(const char *full)
{
    for (size_t i = 0; i < cmd_server_sub_count(); i++)
        if (strcmp(subcommands[i].full, full) == 0)
            return (int)i;
    return -1;
}

int cmd_server_sub_find(const char *container, const struct resp_arg *sub)
{
    char full[32];
    size_t n = strlen(container);
    if (sub->len >= sizeof full - n - 1 || memchr(sub->ptr, '\0', sub->len))
        return -1;
    memcpy(full, container, n);
    full[n++] = '|';
    for (size_t i = 0; i < sub->len; i++)
        full[n++] = (char)tolower((unsigned char)sub->ptr[i]);
    full[n] = '\0';
    return cmd_server_sub_index(full);
}

int cmd_server_sub_arity_of(const char *full)
{
    int i = cmd_server_sub_index(full);
    return i < 0 ? 0 : subcommands[i].arity;
}

bool cmd_server_sub_arity(struct cmd_ctx *c, const char *full)
{
    int arity = cmd_server_sub_arity_of(full);
    assert(arity != 0); /* a subcommand missing from the table */
    bool ok = cmd_arity_allows(arity, c->argc);
    if (!ok)
        resp_errorf(c->out, "ERR wrong number of arguments for '%s' command", full);
    return ok;
}

void cmd_server_unknown_sub(struct cmd_ctx *c, const char *cmd)
{
    const struct resp_arg *a = &c->argv[1];
    /* Redis prints at most 128 bytes of the subcommand. */
    resp_errorf(c->out, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                (int)(a->len > 128 ? 128 : a->len), a->ptr, cmd);
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

void cmd_server_reply_help(struct cmd_ctx *c, const char *const *lines)
{
    size_t n = 0;
    while (lines[n] != NULL)
        n++;
    resp_array(c->out, n);
    for (size_t i = 0; i < n; i++)
        resp_simple(c->out, lines[i]);
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
    if (name != NULL && conn_set_str(&cn->name, name->ptr, name->len) != 0) {
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

/* -------------------------------------------------------------- COMMAND */

static size_t flag_names(uint32_t flags, const char *names[8])
{
    size_t n = 0;
    if (flags & CMD_WRITE)
        names[n++] = "write";
    if (flags & CMD_READONLY)
        names[n++] = "readonly";
    if (flags & CMD_ADMIN)
        names[n++] = "admin";
    if (flags & CMD_NOAUTH)
        names[n++] = "no_auth";
    if (flags & CMD_FAST)
        names[n++] = "fast";
    return n;
}

/* One COMMAND INFO entry, Redis 7's ten fields. Only what the table knows
 * is reported: no ACL categories, tips or subcommands; the key
 * specification is derived from first/last/step. */
static void command_info(struct cmd_ctx *c, const struct cmd_def *d)
{
    struct rbuf *o = c->out;
    const char *fl[8];
    size_t nf = flag_names(d->flags, fl);
    resp_array(o, 10);
    resp_bulk_cstr(o, d->name);
    resp_int(o, d->arity);
    resp_set(o, c->proto, nf);
    for (size_t i = 0; i < nf; i++)
        resp_simple(o, fl[i]);
    resp_int(o, d->first_key);
    resp_int(o, d->last_key);
    resp_int(o, d->key_step);
    resp_set(o, c->proto, 0); /* ACL categories */
    resp_set(o, c->proto, 0); /* tips */
    if (d->first_key > 0) {
        int last = d->last_key < 0 ? d->last_key : d->last_key - d->first_key;
        resp_array(o, 1);
        resp_map(o, c->proto, 3);
        resp_bulk_cstr(o, "flags");
        resp_set(o, c->proto, 0);
        resp_bulk_cstr(o, "begin_search");
        resp_map(o, c->proto, 2);
        resp_bulk_cstr(o, "type");
        resp_bulk_cstr(o, "index");
        resp_bulk_cstr(o, "spec");
        resp_map(o, c->proto, 1);
        resp_bulk_cstr(o, "index");
        resp_int(o, d->first_key);
        resp_bulk_cstr(o, "find_keys");
        resp_map(o, c->proto, 2);
        resp_bulk_cstr(o, "type");
        resp_bulk_cstr(o, "range");
        resp_bulk_cstr(o, "spec");
        resp_map(o, c->proto, 3);
        resp_bulk_cstr(o, "lastkey");
        resp_int(o, last);
        resp_bulk_cstr(o, "keystep");
        resp_int(o, d->key_step);
        resp_bulk_cstr(o, "limit");
        resp_int(o, 0);
    } else {
        resp_array(o, 0);
    }
    resp_array(o, 0); /* subcommands */
}

/* One COMMAND DOCS entry, from the command's definition. redis-cli needs
 * "group" (its interactive "help @group" dereferences it). */
static void command_docs_one(struct cmd_ctx *c, const struct cmd_def *d)
{
    resp_bulk_cstr(c->out, d->name);
    resp_map(c->out, c->proto, 3);
    resp_bulk_cstr(c->out, "summary");
    resp_bulk_cstr(c->out, d->summary ? d->summary : "");
    resp_bulk_cstr(c->out, "since");
    resp_bulk_cstr(c->out, d->since ? d->since : SERVER_VERSION);
    resp_bulk_cstr(c->out, "group");
    resp_bulk_cstr(c->out, d->group ? d->group : "generic");
}

static const char *const command_help[] = {
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all commands.",
    "COUNT",
    "    Return the total number of commands in this server.",
    "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
    "    Return a list of all commands in this server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "HELP",
    "    Print this help.",
    NULL,
};

static void cmd_command(struct cmd_ctx *c)
{
    size_t n;
    const struct cmd_def *t = cmd_table(&n);
    if (c->argc == 1) {
        resp_array(c->out, n);
        for (size_t i = 0; i < n; i++)
            command_info(c, &t[i]);
        return;
    }
    const struct resp_arg *sub = &c->argv[1];
    if (cmd_arg_eq(sub, "count")) {
        if (cmd_server_sub_arity(c, "command|count"))
            resp_int(c->out, (int64_t)n);
    } else if (cmd_arg_eq(sub, "info")) {
        if (!cmd_server_sub_arity(c, "command|info"))
            return;
        if (c->argc == 2) {
            resp_array(c->out, n);
            for (size_t i = 0; i < n; i++)
                command_info(c, &t[i]);
            return;
        }
        resp_array(c->out, c->argc - 2);
        for (size_t j = 2; j < c->argc; j++) {
            const struct cmd_def *d = cmd_lookup(c->argv[j].ptr, c->argv[j].len);
            if (d != NULL)
                command_info(c, d);
            else
                resp_null_array(c->out, c->proto);
        }
    } else if (cmd_arg_eq(sub, "docs")) {
        if (!cmd_server_sub_arity(c, "command|docs"))
            return;
        if (c->argc == 2) {
            resp_map(c->out, c->proto, n);
            for (size_t i = 0; i < n; i++)
                command_docs_one(c, &t[i]);
            return;
        }
        size_t found = 0;
        for (size_t j = 2; j < c->argc; j++)
            found += cmd_lookup(c->argv[j].ptr, c->argv[j].len) != NULL;
        resp_map(c->out, c->proto, found);
        for (size_t j = 2; j < c->argc; j++) {
            const struct cmd_def *d = cmd_lookup(c->argv[j].ptr, c->argv[j].len);
            if (d != NULL)
                command_docs_one(c, d);
        }
    } else if (cmd_arg_eq(sub, "list")) {
        if (!cmd_server_sub_arity(c, "command|list"))
            return;
        const struct resp_arg *pat = NULL;
        bool none = false;
        if (c->argc != 2) {
            if (c->argc != 5 || !cmd_arg_eq(&c->argv[2], "filterby")) {
                reply_err(c, "ERR syntax error");
                return;
            }
            if (cmd_arg_eq(&c->argv[3], "pattern")) {
                pat = &c->argv[4];
            } else if (cmd_arg_eq(&c->argv[3], "module") || cmd_arg_eq(&c->argv[3], "aclcat")) {
                none = true; /* no modules, no ACL categories */
            } else {
                reply_err(c, "ERR syntax error");
                return;
            }
        }
        size_t m = 0;
        for (size_t i = 0; i < n && !none; i++)
            m += pat == NULL || glob_match(pat->ptr, pat->len, t[i].name,
                                                  strlen(t[i].name), true);
        resp_array(c->out, m);
        for (size_t i = 0; i < n && !none; i++)
            if (pat == NULL ||
                glob_match(pat->ptr, pat->len, t[i].name, strlen(t[i].name), true))
                resp_bulk_cstr(c->out, t[i].name);
    } else if (cmd_arg_eq(sub, "help")) {
        if (cmd_server_sub_arity(c, "command|help"))
            cmd_server_reply_help(c, command_help);
    } else {
        cmd_server_unknown_sub(c, "COMMAND");
    }
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

static void config_get_cmd(struct cmd_ctx *c)
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

static void config_set_cmd(struct cmd_ctx *c)
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
            server_config_changed();
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

static void cmd_config(struct cmd_ctx *c)
{
    const struct resp_arg *sub = &c->argv[1];
    if (cmd_arg_eq(sub, "get")) {
        if (cmd_server_sub_arity(c, "config|get"))
            config_get_cmd(c);
    } else if (cmd_arg_eq(sub, "set")) {
        if (cmd_server_sub_arity(c, "config|set"))
            config_set_cmd(c);
    } else if (cmd_arg_eq(sub, "resetstat")) {
        if (cmd_server_sub_arity(c, "config|resetstat"))
            cmd_info_resetstat(c);
    } else if (cmd_arg_eq(sub, "help")) {
        if (cmd_server_sub_arity(c, "config|help"))
            cmd_server_reply_help(c, config_help);
    } else {
        cmd_server_unknown_sub(c, "CONFIG");
    }
}

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
    { .name = "ping", .arity = -1, .flags = CMD_FAST | CMD_CONN | CMD_MISCONF | CMD_SUBSCRIBED,
      .first_key = 0, .last_key = 0, .key_step = 0, .exec = cmd_ping,
      .group = "connection", .since = "1.0.0",
      .summary = "Returns the server's liveliness response." },
    { .name = "echo", .arity = 2, .flags = CMD_FAST | CMD_CONN,
      .first_key = 0, .last_key = 0, .key_step = 0, .exec = cmd_echo,
      .group = "connection", .since = "1.0.0",
      .summary = "Returns the given string." },
    { .name = "quit", .arity = -1, .flags = CMD_NOAUTH | CMD_FAST | CMD_CONN | CMD_SUBSCRIBED,
      .first_key = 0, .last_key = 0, .key_step = 0, .exec = cmd_quit,
      .group = "connection", .since = "1.0.0",
      .summary = "Closes the connection." },
    { .name = "hello", .arity = -1, .flags = CMD_NOAUTH | CMD_FAST | CMD_CONN,
      .first_key = 0, .last_key = 0, .key_step = 0, .exec = cmd_hello,
      .group = "connection", .since = "6.0.0",
      .summary = "Handshakes with the server." },
    { .name = "auth", .arity = -2, .flags = CMD_NOAUTH | CMD_FAST | CMD_CONN,
      .first_key = 0, .last_key = 0, .key_step = 0, .exec = cmd_auth,
      .group = "connection", .since = "1.0.0",
      .summary = "Authenticates the connection." },
    { .name = "select", .arity = 2, .flags = CMD_FAST | CMD_CONN,
      .first_key = 0, .last_key = 0, .key_step = 0, .exec = cmd_select,
      .group = "connection", .since = "1.0.0",
      .summary = "Changes the selected database." },
    { .name = "client", .arity = -2, .flags = CMD_CONN,
      .first_key = 0, .last_key = 0, .key_step = 0, .exec = cmd_client_exec,
      .group = "connection", .since = "2.4.0",
      .summary = "A container for client connection commands." },
    { .name = "command", .arity = -1, .flags = CMD_CONN,
      .first_key = 0, .last_key = 0, .key_step = 0, .exec = cmd_command,
      .group = "server", .since = "2.8.13",
      .summary = "Returns detailed information about all commands." },
    { .name = "info", .arity = -1, .flags = CMD_CONN,
      .first_key = 0, .last_key = 0, .key_step = 0, .exec = cmd_info_exec,
      .group = "server", .since = "1.0.0",
      .summary = "Returns information and statistics about the server." },
    { .name = "config", .arity = -2, .flags = CMD_ADMIN | CMD_CONN,
      .first_key = 0, .last_key = 0, .key_step = 0, .exec = cmd_config,
      .group = "server", .since = "2.0.0",
      .summary = "A container for server configuration commands." },
    { .name = "time", .arity = 1, .flags = CMD_FAST | CMD_CONN,
      .first_key = 0, .last_key = 0, .key_step = 0, .exec = cmd_time,
      .group = "server", .since = "2.6.0",
      .summary = "Returns the server time." },
    { .name = "shutdown", .arity = -1, .flags = CMD_ADMIN | CMD_CONN,
      .first_key = 0, .last_key = 0, .key_step = 0, .exec = cmd_shutdown,
      .group = "server", .since = "1.0.0",
      .summary = "Synchronously saves the database(s) to disk and shuts down the server." },
};
const size_t cmd_server_ndefs = sizeof(cmd_server_defs) / sizeof(cmd_server_defs[0]);

