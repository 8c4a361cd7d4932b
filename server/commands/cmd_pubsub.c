/* cmd_pubsub.c — the Pub/Sub commands (SUBSCRIBE and its kin, PUBLISH,
 * SPUBLISH, PUBSUB), RESET, and the rule that a subscribed RESP2 client
 * may run only the few commands Redis allows it. All run on the client's
 * own worker thread (CMD_CONN); server/pubsub/pubsub.c does the work. */
#include <string.h>

#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_pubsub.h"
#include "server/commands/cmd_txn.h"
#include "server/net/conn.h"
#include "server/pubsub/pubsub.h"
#include "server/net/worker.h"

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
    ("    Return the currently active shard level channels matching a <pattern> (default: "
     "'*')."),
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
};

static void pubsub_help_exec(struct cmd_ctx *c)
{
    size_t n = sizeof pubsub_help / sizeof pubsub_help[0];
    resp_array(c->out, n);
    for (size_t i = 0; i < n; i++)
        resp_simple(c->out, pubsub_help[i]);
}

/* CHANNELS and SHARDCHANNELS take at most one pattern: more is Redis's
 * addReplySubcommandSyntaxError (argv[0] upper-cased, argv[1] as typed,
 * cut at 128 bytes and at a NUL). */
static void list_reply(struct cmd_ctx *c, enum pubsub_kind kind)
{
    if (c->argc > 3) {
        char up[16];
        size_t n = c->argv[0].len < sizeof up - 1 ? c->argv[0].len : sizeof up - 1;
        for (size_t i = 0; i < n; i++) {
            char ch = c->argv[0].ptr[i];
            up[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
        }
        up[n] = '\0';
        size_t sl = strnlen(c->argv[1].ptr, c->argv[1].len);
        resp_errorf(c->out,
                    "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s "
                    "HELP.",
                    (int)(sl > 128 ? 128 : sl), c->argv[1].ptr, up);
        return;
    }
    pubsub_list(kind, c->argc == 3 ? c->argv[2].ptr : NULL, c->argc == 3 ? c->argv[2].len : 0,
                c->out);
}

static void pubsub_channels_exec(struct cmd_ctx *c)
{
    list_reply(c, PUBSUB_CHANNEL);
}

static void pubsub_shardchannels_exec(struct cmd_ctx *c)
{
    list_reply(c, PUBSUB_SHARD);
}

static void numsub_reply(struct cmd_ctx *c, enum pubsub_kind kind)
{
    resp_array(c->out, (c->argc - 2) * 2); /* (an array in RESP3 too, as Redis 7.0) */
    for (size_t i = 2; i < c->argc; i++) {
        resp_bulk(c->out, c->argv[i].ptr, c->argv[i].len);
        resp_int(c->out, pubsub_numsub(kind, c->argv[i].ptr, c->argv[i].len));
    }
}

static void pubsub_numsub_exec(struct cmd_ctx *c)
{
    numsub_reply(c, PUBSUB_CHANNEL);
}

static void pubsub_shardnumsub_exec(struct cmd_ctx *c)
{
    numsub_reply(c, PUBSUB_SHARD);
}

static void pubsub_numpat_exec(struct cmd_ctx *c)
{
    resp_int(c->out, pubsub_count(PUBSUB_PATTERN));
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
    conn_set_name(cn, NULL, 0);
    cn->authenticated = worker_requirepass() == NULL;
    resp_simple(c->out, "RESET");
}

/* ---- Subscribed RESP2 clients ------------------------------------------- */

bool cmd_pubsub_refuses(const struct conn *c, const struct cmd_def *d, size_t argc,
                        const struct resp_arg *argv, struct rbuf *err)
{
    (void)argc;
    (void)argv;
    if (!c->ps || c->proto != RESP2 || (d->flags & CMD_SUBSCRIBED))
        return false;
    /* d is the subcommand when there is one: "client|list", as Redis's
     * fullname. */
    resp_errorf(err,
                "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                "RESET are allowed in this context",
                d->name);
    return true;
}

/* ---- Table ---------------------------------------------------------------- */

#define PS_SUB (CMD_PUBSUB | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_CONN | CMD_SUBSCRIBED)
#define PS_PUB (CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_CONN | CMD_CONNLESS)
#define PS_INTRO (CMD_PUBSUB | CMD_LOADING | CMD_STALE)

static const struct cmd_def pubsub_subs[] = {
    { .name = "pubsub|channels", .arity = -2, .exec = pubsub_channels_exec, .flags = PS_INTRO,
      .group = "pubsub", .since = "2.8.0",
      .complexity = "O(N) where N is the number of active channels, and assuming constant time "
                    "pattern matching (relatively short channels and patterns)",
      .summary = "List active channels" },
    { .name = "pubsub|help", .arity = 2, .exec = pubsub_help_exec,
      .flags = CMD_LOADING | CMD_STALE, .group = "pubsub", .since = "6.2.0",
      .complexity = "O(1)", .summary = "Show helpful text about the different subcommands" },
    { .name = "pubsub|numpat", .arity = 2, .exec = pubsub_numpat_exec, .flags = PS_INTRO,
      .group = "pubsub", .since = "2.8.0", .complexity = "O(1)",
      .summary = "Get the count of unique patterns pattern subscriptions" },
    { .name = "pubsub|numsub", .arity = -2, .exec = pubsub_numsub_exec, .flags = PS_INTRO,
      .group = "pubsub", .since = "2.8.0",
      .complexity = "O(N) for the NUMSUB subcommand, where N is the number of requested "
                    "channels",
      .summary = "Get the count of subscribers for channels" },
    { .name = "pubsub|shardchannels", .arity = -2, .exec = pubsub_shardchannels_exec,
      .flags = PS_INTRO, .group = "pubsub", .since = "7.0.0",
      .complexity = "O(N) where N is the number of active shard channels, and assuming "
                    "constant time pattern matching (relatively short shard channels).",
      .summary = "List active shard channels" },
    { .name = "pubsub|shardnumsub", .arity = -2, .exec = pubsub_shardnumsub_exec,
      .flags = PS_INTRO, .group = "pubsub", .since = "7.0.0",
      .complexity = "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested "
                    "shard channels",
      .summary = "Get the count of subscribers for shard channels" },
    { .name = NULL },
};

/* Shard channels: Redis's key spec (not_key: a name hashed like a key, for
 * cluster routing). These commands run on the connection's thread, which
 * never routes by key specs; COMMAND reports them as Redis does. */
#define PS_SHARD_ALL { { .flags = CMD_KS_NOT_KEY, .begin = 1, .last = -1, .step = 1 } }
#define PS_SHARD_ONE { { .flags = CMD_KS_NOT_KEY, .begin = 1, .last = 0, .step = 1 } }

/* Arity, flags and key specs as Redis 7.0's COMMAND INFO reports them. */
const struct cmd_def cmd_pubsub_defs[] = {
    { .name = "subscribe", .arity = -2, .flags = PS_SUB, .exec = subscribe_exec,
      .group = "pubsub", .since = "2.0.0",
      .complexity = "O(N) where N is the number of channels to subscribe to.",
      .summary = "Listen for messages published to the given channels" },
    { .name = "unsubscribe", .arity = -1, .flags = PS_SUB, .exec = unsubscribe_exec,
      .group = "pubsub", .since = "2.0.0",
      .complexity = "O(N) where N is the number of clients already subscribed to a channel.",
      .summary = "Stop listening for messages posted to the given channels" },
    { .name = "psubscribe", .arity = -2, .flags = PS_SUB, .exec = psubscribe_exec,
      .group = "pubsub", .since = "2.0.0",
      .complexity = "O(N) where N is the number of patterns the client is already subscribed "
                    "to.",
      .summary = "Listen for messages published to channels matching the given patterns" },
    { .name = "punsubscribe", .arity = -1, .flags = PS_SUB, .exec = punsubscribe_exec,
      .group = "pubsub", .since = "2.0.0",
      .complexity = "O(N+M) where N is the number of patterns the client is already "
                    "subscribed and M is the number of total patterns subscribed in the system "
                    "(by any client).",
      .summary = "Stop listening for messages posted to channels matching the given patterns" },
    { .name = "ssubscribe", .arity = -2, .flags = PS_SUB, .exec = ssubscribe_exec,
      .keys = PS_SHARD_ALL,
      .group = "pubsub", .since = "7.0.0",
      .complexity = "O(N) where N is the number of shard channels to subscribe to.",
      .summary = "Listen for messages published to the given shard channels" },
    { .name = "sunsubscribe", .arity = -1, .flags = PS_SUB, .exec = sunsubscribe_exec,
      .keys = PS_SHARD_ALL,
      .group = "pubsub", .since = "7.0.0",
      .complexity = "O(N) where N is the number of clients already subscribed to a shard "
                    "channel.",
      .summary = "Stop listening for messages posted to the given shard channels" },
    { .name = "publish", .arity = 3, .flags = PS_PUB, .exec = publish_exec,
      .group = "pubsub", .since = "2.0.0",
      .complexity = "O(N+M) where N is the number of clients subscribed to the receiving "
                    "channel and M is the total number of subscribed patterns (by any client).",
      .summary = "Post a message to a channel" },
    { .name = "spublish", .arity = 3, .flags = PS_PUB, .exec = spublish_exec,
      .keys = PS_SHARD_ONE,
      .group = "pubsub", .since = "7.0.0",
      .complexity = "O(N) where N is the number of clients subscribed to the receiving shard "
                    "channel.",
      .summary = "Post a message to a shard channel" },
    { .name = "pubsub", .arity = -2, .flags = CMD_CONN, .subcommands = pubsub_subs,
      .group = "pubsub", .since = "2.8.0", .complexity = "Depends on subcommand.",
      .summary = "A container for Pub/Sub commands" },
    { .name = "reset", .arity = 1,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NOAUTH | CMD_ALLOW_BUSY |
               CMD_CONN | CMD_TXN_CONTROL | CMD_SUBSCRIBED | CMD_ENDS_MULTI,
      .exec = reset_exec, .group = "connection", .since = "6.2.0", .complexity = "O(1)",
      .summary = "Reset the connection" },
};
const size_t cmd_pubsub_ndefs = sizeof cmd_pubsub_defs / sizeof cmd_pubsub_defs[0];
