/* cmd_keys.c — single-key keyspace commands: TYPE, OBJECT, the EXPIRE family with
 * Redis 7.0's NX/XX/GT/LT options, TTL/PTTL, EXPIRETIME/PEXPIRETIME and
 * PERSIST. Every exec function runs on the thread that owns the key's shard. */
#include <stdio.h>
#include <string.h>

#include "server/cmd.h"
#include "server/cmd_impl.h"
#include "server/cmd_server.h"

/* EXPIRE options, Redis's EXPIRE_* flags. */
enum {
    EXP_NX = 1u << 0, /* only when the key has no TTL */
    EXP_XX = 1u << 1, /* only when the key has a TTL */
    EXP_GT = 1u << 2, /* only when the new expiry is later */
    EXP_LT = 1u << 3, /* only when the new expiry is earlier */
};

/* Chunk in which an unknown option is cleaned up before it is quoted. */
#define QUOTE_CHUNK 256

static struct kventry *lookup(struct cmd_ctx *c, const struct resp_arg *key)
{
    return kvmap_find(c->db, key->ptr, key->len, c->now_ms);
}

static void cmd_type(struct cmd_ctx *c)
{
    struct kventry *e = lookup(c, &c->argv[1]);
    resp_simple(c->out, e ? tval_type_name(kventry_type(e)) : "none");
}

/* Redis's OBJ_SHARED_REFCOUNT: what OBJECT REFCOUNT says of a shared
 * integer (Redis shares 0..OBJ_SHARED_INTEGERS-1 when maxmemory is off). */
#define SHARED_REFCOUNT 2147483647
#define SHARED_INTEGERS 10000
/* Redis embeds strings up to this length in the object (OBJ_ENCODING_EMBSTR). */
#define EMBSTR_MAX 44

/* OBJECT ENCODING of a string: Redis's tryObjectEncoding keeps canonical
 * integers as "int", short strings "embstr", and APPEND / SETRANGE leave
 * "raw" (our entries that carry spare room, KVENTRY_CAP, are exactly those). */
static const char *string_encoding(const struct kventry *e)
{
    char buf[21];
    size_t n;
    int64_t iv;
    if (kventry_int(e, &iv))
        return "int";
    const char *v = kventry_value(e, buf, &n);
    if (n <= 20 && int64str_parse(v, n, &iv) && !kventry_has_room(e))
        return "int";
    return n <= EMBSTR_MAX && !kventry_has_room(e) ? "embstr" : "raw";
}

static const char *const object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Print this help.",
    NULL,
};

/* OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ / HELP, Redis 7.0's replies.
 * No access clock is kept yet (it comes with eviction), so IDLETIME is 0
 * and FREQ gives Redis's answer for a server without an LFU policy. */
static void cmd_object(struct cmd_ctx *c)
{
    static const char *const subs[] = {"encoding", "refcount", "idletime", "freq"};
    const struct resp_arg *sub = &c->argv[1];
    if (cmd_arg_eq(sub, "help")) {
        if (c->argc != 2)
            resp_error(c->out, "ERR wrong number of arguments for 'object|help' command");
        else
            cmd_server_reply_help(c, object_help);
        return;
    }
    size_t which = sizeof subs / sizeof subs[0];
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (cmd_arg_eq(sub, subs[i]))
            which = i;
    if (which == sizeof subs / sizeof subs[0]) {
        cmd_server_unknown_sub(c, "OBJECT");
        return;
    }
    if (c->argc != 3) {
        resp_errorf(c->out, "ERR wrong number of arguments for 'object|%s' command", subs[which]);
        return;
    }
    struct kventry *e = lookup(c, &c->argv[2]);
    if (!e) {
        resp_null(c->out, c->proto);
        return;
    }
    switch (which) {
    case 0: {
        struct tval *tv = kventry_tval(e);
        resp_bulk_cstr(c->out, tv ? tval_enc_name(tv) : string_encoding(e));
        break;
    }
    case 1: {
        int64_t iv;
        char buf[21];
        size_t n;
        bool shared = false;
        if (!kventry_tval(e)) {
            const char *v = kventry_value(e, buf, &n);
            shared = !kventry_has_room(e) && n <= 20 && int64str_parse(v, n, &iv) && iv >= 0 &&
                     iv < SHARED_INTEGERS;
        }
        resp_int(c->out, shared ? SHARED_REFCOUNT : 1);
        break;
    }
    case 2: resp_int(c->out, 0); break;
    default:
        resp_error(c->out, "ERR An LFU maxmemory policy is not selected, access frequency not "
                           "tracked. Please note that when switching between policies at runtime "
                           "LRU and LFU data will take some time to adjust.");
        break;
    }
}

/* "-ERR Unsupported option <opt>" as Redis's addReplyErrorFormat writes it:
 * the option read as a C string (up to a NUL), trailing CR/LF trimmed and
 * any other CR/LF turned into spaces so the reply stays one line. */
static void reply_unsupported(struct cmd_ctx *c, const struct resp_arg *a)
{
    static const char head[] = "-ERR Unsupported option ";
    char buf[QUOTE_CHUNK];
    size_t n = a->len;
    const char *nul = memchr(a->ptr, '\0', n);

    if (nul)
        n = (size_t)(nul - a->ptr);
    while (n > 0 && (a->ptr[n - 1] == '\r' || a->ptr[n - 1] == '\n'))
        n--;
    /* Written in pieces straight into the reply: the option may be as long
     * as any argument, and Redis quotes all of it. */
    rbuf_append(c->out, head, sizeof head - 1);
    for (size_t off = 0; off < n;) {
        size_t k = n - off < sizeof buf ? n - off : sizeof buf;
        for (size_t i = 0; i < k; i++) {
            char ch = a->ptr[off + i];
            buf[i] = (ch == '\r' || ch == '\n') ? ' ' : ch;
        }
        rbuf_append(c->out, buf, k);
        off += k;
    }
    rbuf_append(c->out, "\r\n", 2);
}

/* Redis's parseExtendedExpireArgumentsOrReply: options from argv[3] on. */
static bool parse_expire_opts(struct cmd_ctx *c, unsigned *flags)
{
    unsigned f = 0;

    for (size_t j = 3; j < c->argc; j++) {
        const struct resp_arg *a = &c->argv[j];
        if (cmd_arg_eq(a, "nx")) {
            f |= EXP_NX;
        } else if (cmd_arg_eq(a, "xx")) {
            f |= EXP_XX;
        } else if (cmd_arg_eq(a, "gt")) {
            f |= EXP_GT;
        } else if (cmd_arg_eq(a, "lt")) {
            f |= EXP_LT;
        } else {
            reply_unsupported(c, a);
            return false;
        }
    }
    if ((f & EXP_NX) && (f & (EXP_XX | EXP_GT | EXP_LT))) {
        resp_error(c->out, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return false;
    }
    if ((f & EXP_GT) && (f & EXP_LT)) {
        resp_error(c->out, "ERR GT and LT options at the same time are not compatible");
        return false;
    }
    *flags = f;
    return true;
}

/* Redis's expireGenericCommand. basetime_ms is added to the argument (the
 * clock for EXPIRE/PEXPIRE, 0 for the *AT forms); seconds says the argument
 * is in seconds. Negative times are allowed; only overflow is an error. */
static void expire_generic(struct cmd_ctx *c, int64_t basetime_ms, bool seconds, const char *name)
{
    const struct resp_arg *key = &c->argv[1];
    unsigned flags;
    int64_t when, cur;
    struct kventry *e;

    if (!parse_expire_opts(c, &flags))
        return;
    if (!cmd_arg_int64(c, &c->argv[2], &when))
        return;
    if (seconds) {
        if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) {
            resp_errorf(c->out, "ERR invalid expire time in '%s' command", name);
            return;
        }
        when *= 1000;
    }
    /* Only upward overflow is checked, as in Redis: basetime is never
     * negative, so a negative argument cannot wrap. */
    if (when > INT64_MAX - basetime_ms) {
        resp_errorf(c->out, "ERR invalid expire time in '%s' command", name);
        return;
    }
    when += basetime_ms;

    e = lookup(c, key);
    if (!e) {
        resp_int(c->out, 0);
        return;
    }
    /* KVMAP_NO_EXPIRE is -1, the value Redis's getExpire uses for "none". */
    cur = kventry_expire(e);
    if (((flags & EXP_NX) && cur != KVMAP_NO_EXPIRE) ||
        ((flags & EXP_XX) && cur == KVMAP_NO_EXPIRE) ||
        /* No TTL counts as infinite: GT can never beat it. */
        ((flags & EXP_GT) && (cur == KVMAP_NO_EXPIRE || when <= cur)) ||
        ((flags & EXP_LT) && cur != KVMAP_NO_EXPIRE && when >= cur)) {
        resp_int(c->out, 0);
        return;
    }
    if (when <= c->now_ms) {
        kvmap_del(c->db, key->ptr, key->len, c->now_ms);
    } else {
        int rc = kvmap_entry_set_expire(c->db, e, when);
        if (rc < 0) {
            cmd_reply_kvmap_error(c, rc);
            return;
        }
    }
    resp_int(c->out, 1);
}

static void cmd_expire(struct cmd_ctx *c)
{
    expire_generic(c, c->now_ms, true, "expire");
}

static void cmd_pexpire(struct cmd_ctx *c)
{
    expire_generic(c, c->now_ms, false, "pexpire");
}

static void cmd_expireat(struct cmd_ctx *c)
{
    expire_generic(c, 0, true, "expireat");
}

static void cmd_pexpireat(struct cmd_ctx *c)
{
    expire_generic(c, 0, false, "pexpireat");
}

/* Redis's ttlGenericCommand: -2 for a missing key, -1 without a TTL, else
 * the remaining (or absolute, for *EXPIRETIME) time, never negative, in ms
 * or in seconds rounded to the nearest. */
static void ttl_generic(struct cmd_ctx *c, bool ms, bool absolute)
{
    struct kventry *e = lookup(c, &c->argv[1]);
    int64_t exp, t;

    if (!e) {
        resp_int(c->out, -2);
        return;
    }
    exp = kventry_expire(e);
    if (exp == KVMAP_NO_EXPIRE) {
        resp_int(c->out, -1);
        return;
    }
    t = absolute ? exp : exp - c->now_ms;
    if (t < 0)
        t = 0;
    resp_int(c->out, ms ? t : (t + 500) / 1000);
}

static void cmd_ttl(struct cmd_ctx *c)
{
    ttl_generic(c, false, false);
}

static void cmd_pttl(struct cmd_ctx *c)
{
    ttl_generic(c, true, false);
}

static void cmd_expiretime(struct cmd_ctx *c)
{
    ttl_generic(c, false, true);
}

static void cmd_pexpiretime(struct cmd_ctx *c)
{
    ttl_generic(c, true, true);
}

static void cmd_persist(struct cmd_ctx *c)
{
    struct kventry *e = lookup(c, &c->argv[1]);

    if (e && kventry_expire(e) != KVMAP_NO_EXPIRE) {
        /* Removing a TTL never allocates, so this cannot fail. */
        (void)kvmap_entry_set_expire(c->db, e, KVMAP_NO_EXPIRE);
        resp_int(c->out, 1);
    } else {
        resp_int(c->out, 0);
    }
}

/* Name, arity, flags and key positions as Redis 7.0's COMMAND INFO reports
 * them. */
const struct cmd_def cmd_keys_defs[] = {
    { .name = "type", .arity = 2, .flags = CMD_READONLY | CMD_FAST,
      .first_key = 1, .last_key = 1, .key_step = 1, .exec = cmd_type,
      .group = "generic", .since = "1.0.0",
      .summary = "Determine the type stored at key" },
    { .name = "object", .arity = -2, .flags = CMD_READONLY,
      .first_key = 2, .last_key = 2, .key_step = 1, .exec = cmd_object,
      .group = "generic", .since = "2.2.3",
      .summary = "A container for object introspection commands" },
    { .name = "expire", .arity = -3, .flags = CMD_WRITE | CMD_FAST,
      .first_key = 1, .last_key = 1, .key_step = 1, .exec = cmd_expire,
      .group = "generic", .since = "1.0.0",
      .summary = "Set a key's time to live in seconds" },
    { .name = "pexpire", .arity = -3, .flags = CMD_WRITE | CMD_FAST,
      .first_key = 1, .last_key = 1, .key_step = 1, .exec = cmd_pexpire,
      .group = "generic", .since = "2.6.0",
      .summary = "Set a key's time to live in milliseconds" },
    { .name = "expireat", .arity = -3, .flags = CMD_WRITE | CMD_FAST,
      .first_key = 1, .last_key = 1, .key_step = 1, .exec = cmd_expireat,
      .group = "generic", .since = "1.2.0",
      .summary = "Set the expiration for a key as a UNIX timestamp" },
    { .name = "pexpireat", .arity = -3, .flags = CMD_WRITE | CMD_FAST,
      .first_key = 1, .last_key = 1, .key_step = 1, .exec = cmd_pexpireat,
      .group = "generic", .since = "2.6.0",
      .summary = "Set the expiration for a key as a UNIX timestamp specified in milliseconds" },
    { .name = "ttl", .arity = 2, .flags = CMD_READONLY | CMD_FAST,
      .first_key = 1, .last_key = 1, .key_step = 1, .exec = cmd_ttl,
      .group = "generic", .since = "1.0.0",
      .summary = "Get the time to live for a key in seconds" },
    { .name = "pttl", .arity = 2, .flags = CMD_READONLY | CMD_FAST,
      .first_key = 1, .last_key = 1, .key_step = 1, .exec = cmd_pttl,
      .group = "generic", .since = "2.6.0",
      .summary = "Get the time to live for a key in milliseconds" },
    { .name = "expiretime", .arity = 2, .flags = CMD_READONLY | CMD_FAST,
      .first_key = 1, .last_key = 1, .key_step = 1, .exec = cmd_expiretime,
      .group = "generic", .since = "7.0.0",
      .summary = "Get the expiration Unix timestamp for a key" },
    { .name = "pexpiretime", .arity = 2, .flags = CMD_READONLY | CMD_FAST,
      .first_key = 1, .last_key = 1, .key_step = 1, .exec = cmd_pexpiretime,
      .group = "generic", .since = "7.0.0",
      .summary = "Get the expiration Unix timestamp for a key in milliseconds" },
    { .name = "persist", .arity = 2, .flags = CMD_WRITE | CMD_FAST,
      .first_key = 1, .last_key = 1, .key_step = 1, .exec = cmd_persist,
      .group = "generic", .since = "2.2.0",
      .summary = "Remove the expiration from a key" },
};

const size_t cmd_keys_ndefs = sizeof cmd_keys_defs / sizeof cmd_keys_defs[0];
