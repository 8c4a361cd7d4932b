/* cmd_keys.c — single-key keyspace commands: TYPE, OBJECT, the EXPIRE family with
 * Redis 7.0's NX/XX/GT/LT options, TTL/PTTL, EXPIRETIME/PEXPIRETIME and
 * PERSIST. Every exec function runs on the thread that owns the key's shard. */
#include <stdio.h>
#include <string.h>

#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_server.h"

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

/* A lookup that is not an access (Redis's LOOKUP_NOTOUCH): TYPE, TTL and
 * OBJECT leave the key's idle time as it was. */
static struct kventry *peek(struct cmd_ctx *c, const struct resp_arg *key)
{
    return kvmap_peek(c->db, key->ptr, key->len, c->now_ms);
}

/* peek for TYPE and TTL, reads whose miss is a "keymiss" (OBJECT's is
 * not: Redis looks it up with LOOKUP_NONOTIFY). */
static struct kventry *peek_read(struct cmd_ctx *c, const struct resp_arg *key)
{
    return cmd_key_read(c, peek(c, key), key->ptr, key->len);
}

static void cmd_type(struct cmd_ctx *c)
{
    struct kventry *e = peek_read(c, &c->argv[1]);
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
    "    Prints this help.",
    NULL,
};

/* OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ / HELP, Redis 7.0's replies;
 * OBJECT is a container, so dispatch has checked the subcommand and its
 * arity. IDLETIME comes from the LRU stamp every entry keeps, FREQ from the
 * LFU counter when the map keeps those instead (an LFU maxmemory-policy). */
static void object_help_exec(struct cmd_ctx *c)
{
    cmd_reply_help(c, object_help);
}

/* argv[2]'s entry, or NULL after replying the null for a missing key. */
static struct kventry *object_key(struct cmd_ctx *c)
{
    struct kventry *e = peek(c, &c->argv[2]);
    cmd_key_read_quiet(c, e); /* Redis: LOOKUP_NOTOUCH|LOOKUP_NONOTIFY */
    if (!e)
        resp_null(c->out, c->proto);
    return e;
}

static void object_encoding_exec(struct cmd_ctx *c)
{
    struct kventry *e = object_key(c);
    if (!e)
        return;
    struct tval *tv = kventry_tval(e);
    resp_bulk_cstr(c->out, tv ? tval_enc_name(tv) : string_encoding(e));
}

static void object_refcount_exec(struct cmd_ctx *c)
{
    struct kventry *e = object_key(c);
    if (!e)
        return;
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
}

static void object_idletime_exec(struct cmd_ctx *c)
{
    struct kventry *e = object_key(c);
    if (!e)
        return;
    if (kvmap_access(c->db) == KVMAP_ACCESS_LFU)
        resp_error(c->out, "ERR An LFU maxmemory policy is selected, idle time not tracked. "
                           "Please note that when switching between policies at runtime LRU and "
                           "LFU data will take some time to adjust.");
    else
        resp_int(c->out, (int64_t)kvmap_idle_seconds(c->db, e, c->now_ms));
}

static void object_freq_exec(struct cmd_ctx *c)
{
    struct kventry *e = object_key(c);
    if (!e)
        return;
    int freq = kvmap_lfu_freq(c->db, e, c->now_ms);
    if (freq < 0)
        resp_error(c->out, "ERR An LFU maxmemory policy is not selected, access frequency not "
                           "tracked. Please note that when switching between policies at runtime "
                           "LRU and LFU data will take some time to adjust.");
    else
        resp_int(c->out, freq);
}

/* OBJECT's subcommands, Redis 7.0's definitions. */
static const struct cmd_def object_subs[] = {
    { .name = "object|encoding", .arity = 3, .exec = object_encoding_exec,
      .flags = CMD_READONLY,
      .keys = { { .flags = CMD_KS_RO, .begin = 2, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "generic", .since = "2.2.3",
      .complexity = "O(1)",
      .summary = "Inspect the internal encoding of a Redis object" },
    { .name = "object|freq", .arity = 3, .exec = object_freq_exec,
      .flags = CMD_READONLY,
      .keys = { { .flags = CMD_KS_RO, .begin = 2, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "generic", .since = "4.0.0",
      .complexity = "O(1)",
      .summary = "Get the logarithmic access frequency counter of a Redis object" },
    { .name = "object|help", .arity = 2, .exec = object_help_exec,
      .flags = CMD_LOADING | CMD_STALE,
      .group = "generic", .since = "6.2.0",
      .complexity = "O(1)",
      .summary = "Show helpful text about the different subcommands" },
    { .name = "object|idletime", .arity = 3, .exec = object_idletime_exec,
      .flags = CMD_READONLY,
      .keys = { { .flags = CMD_KS_RO, .begin = 2, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "generic", .since = "2.2.3",
      .complexity = "O(1)",
      .summary = "Get the time since a Redis object was last accessed" },
    { .name = "object|refcount", .arity = 3, .exec = object_refcount_exec,
      .flags = CMD_READONLY,
      .keys = { { .flags = CMD_KS_RO, .begin = 2, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "generic", .since = "2.2.3",
      .complexity = "O(1)",
      .summary = "Get the number of references to the value of the key" },
    { .name = NULL },
};

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
    const char *event = "del"; /* Redis deletes a key whose time is past */
    if (when <= c->now_ms) {
        kvmap_del(c->db, key->ptr, key->len, c->now_ms);
    } else {
        int rc = kvmap_entry_set_expire(c->db, e, when);
        if (rc < 0) {
            cmd_reply_kvmap_error(c, rc);
            return;
        }
        event = "expire";
    }
    cmd_key_modified(c, NOTIFY_GENERIC, event, key->ptr, key->len);
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
    struct kventry *e = peek_read(c, &c->argv[1]);
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
        cmd_key_modified(c, NOTIFY_GENERIC, "persist", c->argv[1].ptr, c->argv[1].len);
        resp_int(c->out, 1);
    } else {
        resp_int(c->out, 0);
    }
}

/* Name, arity, flags and key positions as Redis 7.0's COMMAND INFO reports
 * them. */
const struct cmd_def cmd_keys_defs[] = {
    { .name = "type", .arity = 2, .exec = cmd_type,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO, .begin = 1, .last = 0, .step = 1 } },
      .group = "generic", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Determine the type stored at key" },
    /* A container: its subcommands run (and route by their key). */
    { .name = "object", .arity = -2, .subcommands = object_subs,
      .flags = 0,
      .group = "generic", .since = "2.2.3",
      .complexity = "Depends on subcommand.",
      .summary = "A container for object introspection commands" },
    { .name = "expire", .arity = -3, .exec = cmd_expire,
      .flags = CMD_WRITE | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "generic", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Set a key's time to live in seconds" },
    { .name = "pexpire", .arity = -3, .exec = cmd_pexpire,
      .flags = CMD_WRITE | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "generic", .since = "2.6.0",
      .complexity = "O(1)",
      .summary = "Set a key's time to live in milliseconds" },
    { .name = "expireat", .arity = -3, .exec = cmd_expireat,
      .flags = CMD_WRITE | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "generic", .since = "1.2.0",
      .complexity = "O(1)",
      .summary = "Set the expiration for a key as a UNIX timestamp" },
    { .name = "pexpireat", .arity = -3, .exec = cmd_pexpireat,
      .flags = CMD_WRITE | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "generic", .since = "2.6.0",
      .complexity = "O(1)",
      .summary = "Set the expiration for a key as a UNIX timestamp specified in milliseconds" },
    { .name = "ttl", .arity = 2, .exec = cmd_ttl,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "generic", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Get the time to live for a key in seconds" },
    { .name = "pttl", .arity = 2, .exec = cmd_pttl,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "generic", .since = "2.6.0",
      .complexity = "O(1)",
      .summary = "Get the time to live for a key in milliseconds" },
    { .name = "expiretime", .arity = 2, .exec = cmd_expiretime,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .group = "generic", .since = "7.0.0",
      .complexity = "O(1)",
      .summary = "Get the expiration Unix timestamp for a key" },
    { .name = "pexpiretime", .arity = 2, .exec = cmd_pexpiretime,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .group = "generic", .since = "7.0.0",
      .complexity = "O(1)",
      .summary = "Get the expiration Unix timestamp for a key in milliseconds" },
    { .name = "persist", .arity = 2, .exec = cmd_persist,
      .flags = CMD_WRITE | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "generic", .since = "2.2.0",
      .complexity = "O(1)",
      .summary = "Remove the expiration from a key" },
};

const size_t cmd_keys_ndefs = sizeof cmd_keys_defs / sizeof cmd_keys_defs[0];
