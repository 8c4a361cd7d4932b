/* cmd_pubsub.c — the Pub/Sub commands (SUBSCRIBE and its kin, PUBLISH,
 * SPUBLISH, PUBSUB), RESET, and the rule that a subscribed RESP2 client
 * may run only the few commands Redis allows it. All run on the client's
 * own worker thread (CMD_CONN); server/pubsub.c does the work. */
#include <stdio.h>
#include <string.h>

#include "server/cmd.h"
#include "server/cmd_impl.h"
#include "server/cmd_pubsub.h"
#include "server/cmd_server.h"
#include "server/cmd_txn.h"
#include "server/cmdstats.h"
#include "server/conn.h"
#include "server/pubsub.h"
#include "server/worker.h"

/* ---- SUBSCRIBE and kin ------------------------------------------------- */

static void subscribe_exec(struct cmd_ctx *c)
{
    pubsub_subscribe(c->conn, PUBSUB_CHANNEL, c->argv + 1, c->argc - 1, c->out);
}

static void psubscribe_exec(struct cmd_ctx *c)
{
    pubsub_subscribe(c->conn, PUBSUB_PATTERN, c->argv + 1, c->argc - 1, c->out);
}

static void ssubscribe_exec(struct cmd_ctx *c)
{
    pubsub_subscribe(c->conn, PUBSUB_SHARD, c->argv + 1, c->argc - 1, c->out);
}

static void unsubscribe_exec(struct cmd_ctx *c)
{
    pubsub_unsubscribe(c->conn, PUBSUB_CHANNEL, c->argv + 1, c->argc - 1, c->out);
}

static void punsubscribe_exec(struct cmd_ctx *c)
{
    pubsub_unsubscribe(c->conn, PUBSUB_PATTERN, c->argv + 1, c->argc - 1, c->out);
}

static void sunsubscribe_exec(struct cmd_ctx *c)
{
    pubsub_unsubscribe(c->conn, PUBSUB_SHARD, c->argv + 1, c->argc - 1, c->out);
}

static void publish_exec(struct cmd_ctx *c)
{
    resp_int(c->out, pubsub_publish(PUBSUB_CHANNEL, c->argv[1].ptr, c->argv[1].len,
                                    c->argv[2].ptr, c->argv[2].len));
}

static void spublish_exec(struct cmd_ctx *c)
{
    resp_int(c->out, pubsub_publish(PUBSUB_SHARD, c->argv[1].ptr, c->argv[1].len,
                                    c->argv[2].ptr, c->argv[2].len));
}

/* ---- PUBSUB ------------------------------------------------------------- */

/* PUBSUB's subcommands and their Redis arities. */
static const struct {
    const char *name;     /* lower case */
    const char *fullname; /* as Redis names it in errors */
    int arity;
} subs[] = {
    {"channels", "pubsub|channels", -2},   {"numsub", "pubsub|numsub", -2},
    {"numpat", "pubsub|numpat", 2},        {"shardchannels", "pubsub|shardchannels", -2},
    {"shardnumsub", "pubsub|shardnumsub", -2}, {"help", "pubsub|help", 2},
};

/* PUBSUB's subcommand in argv[1], or -1. */
static int pubsub_sub(size_t argc, const struct resp_arg *argv)
{
    if (argc < 2)
        return -1;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (cmd_arg_eq(&argv[1], subs[i].name))
            return (int)i;
    return -1;
}

/* Redis's text for PUBSUB HELP, line by line. */
static const char *const pubsub_help[] = {
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: "
    "'*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
};

/* argv[0] upper-cased, as Redis names a container in its errors. */
static void upper_name(const struct resp_arg *a, char *buf, size_t n)
{
    size_t len = a->len < n - 1 ? a->len : n - 1;
    for (size_t i = 0; i < len; i++) {
        char ch = a->ptr[i];
        buf[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
    }
    buf[len] = '\0';
}

static void numsub_reply(struct cmd_ctx *c, enum pubsub_kind kind)
{
    resp_array(c->out, (c->argc - 2) * 2);
    for (size_t i = 2; i < c->argc; i++) {
        resp_bulk(c->out, c->argv[i].ptr, c->argv[i].len);
        resp_int(c->out, pubsub_numsub(kind, c->argv[i].ptr, c->argv[i].len));
    }
}

static void pubsub_exec(struct cmd_ctx *c)
{
    char cname[64];
    upper_name(&c->argv[0], cname, sizeof cname);
    int s = pubsub_sub(c->argc, c->argv);
    if (s < 0) {
        const struct resp_arg *a = &c->argv[1];
        size_t n = strnlen(a->ptr, a->len < 128 ? a->len : 128); /* a C string to Redis */
        resp_errorf(c->out, "ERR unknown subcommand '%.*s'. Try %s HELP.", (int)n, a->ptr,
                    cname);
        return;
    }
    if (!cmd_arity_allows(subs[s].arity, c->argc)) {
        resp_errorf(c->out, "ERR wrong number of arguments for '%s' command", subs[s].fullname);
        return;
    }
    const struct resp_arg *sub = &c->argv[1];
    bool list = strcmp(subs[s].name, "channels") == 0 ||
                strcmp(subs[s].name, "shardchannels") == 0;
    if (list && c->argc > 3) {
        resp_errorf(c->out,
                    "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s "
                    "HELP.",
                    (int)(sub->len > 128 ? 128 : sub->len), sub->ptr, cname);
        return;
    }
    enum pubsub_kind kind = subs[s].name[0] == 's' ? PUBSUB_SHARD : PUBSUB_CHANNEL;
    if (list) {
        pubsub_list(kind, c->argc == 3 ? c->argv[2].ptr : NULL,
                    c->argc == 3 ? c->argv[2].len : 0, c->out);
    } else if (strcmp(subs[s].name, "numpat") == 0) {
        resp_int(c->out, pubsub_count(PUBSUB_PATTERN));
    } else if (strcmp(subs[s].name, "help") == 0) {
        size_t n = sizeof pubsub_help / sizeof pubsub_help[0];
        resp_array(c->out, n);
        for (size_t i = 0; i < n; i++)
            resp_simple(c->out, pubsub_help[i]);
    } else {
        numsub_reply(c, kind);
    }
}

/* ---- RESET -------------------------------------------------------------- */

/* Redis's clearClientConnectionState: out of MULTI, WATCH and Pub/Sub,
 * back to database 0, RESP2, no name, and unauthenticated if a password
 * is required. */
static void reset_exec(struct cmd_ctx *c)
{
    struct conn *cn = c->conn;
    cmd_txn_conn_free(cn);
    pubsub_conn_reset(cn);
    cn->db = 0;
    cn->proto = RESP2;
    conn_set_str(&cn->name, NULL, 0);
    cn->authenticated = worker_requirepass() == NULL;
    resp_simple(c->out, "RESET");
}

/* ---- Subscribed RESP2 clients ------------------------------------------- */

/* The name Redis gives d in errors: "client|list" for a subcommand. NULL
 * when Redis would answer with its own error first (an unknown subcommand,
 * a subcommand's wrong arity): then d must run and give it. */
static const char *full_name(const struct cmd_def *d, size_t argc, const struct resp_arg *argv)
{
    if (d->exec == pubsub_exec) {
        int s = pubsub_sub(argc, argv);
        if (s < 0 || !cmd_arity_allows(subs[s].arity, argc))
            return NULL;
        return subs[s].fullname;
    }
    size_t ncmd;
    const struct cmd_def *t = cmd_table(&ncmd);
    uint16_t sid = cmdstat_id(d, argc, argv);
    if (sid == CMDSTAT_NONE)
        return NULL;
    if (sid < ncmd)
        return t[sid].name;
    if (cmdstat_sub_arity_rejects(sid, argc))
        return NULL;
    return cmd_server_sub_name(sid - ncmd);
}

bool cmd_pubsub_refuses(const struct conn *c, const struct cmd_def *d, size_t argc,
                        const struct resp_arg *argv, struct rbuf *err)
{
    if (!c->ps || c->proto != RESP2 || (d->flags & CMD_SUBSCRIBED))
        return false;
    const char *name = full_name(d, argc, argv);
    if (!name)
        return false;
    resp_errorf(err,
                "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                "RESET are allowed in this context",
                name);
    return true;
}

/* ---- Table ---------------------------------------------------------------- */

#define PS_SUB (CMD_PUBSUB | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_CONN | CMD_SUBSCRIBED)
#define PS_PUB (CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_CONN)

/* Arity, flags and key positions as Redis 7.0's COMMAND INFO reports them,
 * except that Redis reports the shard channels of SSUBSCRIBE, SUNSUBSCRIBE
 * and SPUBLISH as keys (flagged not_key, for cluster routing): here they
 * run on the connection's thread, and such commands declare no keys. */
const struct cmd_def cmd_pubsub_defs[] = {
    { .name = "subscribe", .arity = -2, .flags = PS_SUB, .exec = subscribe_exec,
      .group = "pubsub", .since = "2.0.0",
      .summary = "Listen for messages published to the given channels" },
    { .name = "unsubscribe", .arity = -1, .flags = PS_SUB, .exec = unsubscribe_exec,
      .group = "pubsub", .since = "2.0.0",
      .summary = "Stop listening for messages posted to the given channels" },
    { .name = "psubscribe", .arity = -2, .flags = PS_SUB, .exec = psubscribe_exec,
      .group = "pubsub", .since = "2.0.0",
      .summary = "Listen for messages published to channels matching the given patterns" },
    { .name = "punsubscribe", .arity = -1, .flags = PS_SUB, .exec = punsubscribe_exec,
      .group = "pubsub", .since = "2.0.0",
      .summary = "Stop listening for messages posted to channels matching the given patterns" },
    { .name = "ssubscribe", .arity = -2, .flags = PS_SUB, .exec = ssubscribe_exec, .group = "pubsub", .since = "7.0.0",
      .summary = "Listen for messages published to the given shard channels" },
    { .name = "sunsubscribe", .arity = -1, .flags = PS_SUB, .exec = sunsubscribe_exec, .group = "pubsub", .since = "7.0.0",
      .summary = "Stop listening for messages posted to the given shard channels" },
    { .name = "publish", .arity = 3, .flags = PS_PUB, .exec = publish_exec,
      .group = "pubsub", .since = "2.0.0", .summary = "Post a message to a channel" },
    { .name = "spublish", .arity = 3, .flags = PS_PUB, .exec = spublish_exec, .group = "pubsub", .since = "7.0.0",
      .summary = "Post a message to a shard channel" },
    { .name = "pubsub", .arity = -2, .flags = CMD_CONN, .exec = pubsub_exec,
      .group = "pubsub", .since = "2.8.0", .summary = "A container for Pub/Sub commands" },
    { .name = "reset", .arity = 1,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NOAUTH | CMD_CONN |
               CMD_SUBSCRIBED,
      .exec = reset_exec, .group = "connection", .since = "6.2.0",
      .summary = "Reset the connection" },
};
const size_t cmd_pubsub_ndefs = sizeof cmd_pubsub_defs / sizeof cmd_pubsub_defs[0];
