/* cmd_string.c — the string commands (GET, SET and its options, GETEX,
 * APPEND, SETRANGE, INCR*, ...) with Redis 7.0's semantics, replies and error
 * texts. Every exec function runs on the thread that owns the key's shard. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"

/* Room for kventry_value to format an integer-encoded value. */
#define INT_VALUE_BUF 21

/* Options of SET and GETEX, Redis's OBJ_* flags. */
enum {
    OPT_NX = 1u << 0,      /* only if the key does not exist */
    OPT_XX = 1u << 1,      /* only if the key exists */
    OPT_GET = 1u << 2,     /* also reply the old value */
    OPT_KEEPTTL = 1u << 3, /* keep the existing TTL */
    OPT_PERSIST = 1u << 4, /* GETEX: remove the TTL */
    OPT_EX = 1u << 5,      /* relative seconds */
    OPT_PX = 1u << 6,      /* relative milliseconds */
    OPT_EXAT = 1u << 7,    /* absolute Unix seconds */
    OPT_PXAT = 1u << 8,    /* absolute Unix milliseconds */
};

#define OPT_ANY_EXPIRE (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

/* Which command's options are being parsed: they share one grammar with
 * different allowed words, as in Redis. */
enum opt_kind { FOR_SET, FOR_GETEX };

/* Parsed SET/GETEX options. */
struct set_opts {
    unsigned flags;               /* OPT_* */
    const struct resp_arg *when;  /* the expire argument, or NULL */
};

/* The key's string entry, or NULL: missing, or of another type (then
 * *wrong is set and WRONGTYPE replied, which ends the command). */
static struct kventry *lookup(struct cmd_ctx *c, const struct resp_arg *key, bool *wrong)
{
    return cmd_lookup_type(c, key, TVAL_STRING, wrong);
}

static void reply_value(struct cmd_ctx *c, const struct kventry *e)
{
    char buf[INT_VALUE_BUF];
    size_t n;
    const char *v = kventry_value(e, buf, &n);
    resp_bulk(c->out, v, n);
}

static void reply_expire_error(struct cmd_ctx *c, const char *cmdname)
{
    resp_errorf(c->out, "ERR invalid expire time in '%s' command", cmdname);
}

/* Redis's parseExtendedStringArgumentsOrReply: options start at argv[first].
 * Mutually exclusive options are refused as a syntax error at the point the
 * second one appears; repeating the same option is allowed (last wins). */
static bool parse_set_opts(struct cmd_ctx *c, size_t first, enum opt_kind kind,
                           struct set_opts *o)
{
    o->flags = 0;
    o->when = NULL;
    for (size_t j = first; j < c->argc; j++) {
        const struct resp_arg *a = &c->argv[j];
        const struct resp_arg *next = j + 1 < c->argc ? &c->argv[j + 1] : NULL;
        unsigned f = o->flags;

        if (kind == FOR_SET && cmd_arg_eq(a, "nx") && !(f & OPT_XX)) {
            o->flags |= OPT_NX;
        } else if (kind == FOR_SET && cmd_arg_eq(a, "xx") && !(f & OPT_NX)) {
            o->flags |= OPT_XX;
        } else if (kind == FOR_SET && cmd_arg_eq(a, "get")) {
            o->flags |= OPT_GET;
        } else if (kind == FOR_SET && cmd_arg_eq(a, "keepttl") &&
                   !(f & (OPT_PERSIST | OPT_ANY_EXPIRE))) {
            o->flags |= OPT_KEEPTTL;
        } else if (kind == FOR_GETEX && cmd_arg_eq(a, "persist") &&
                   !(f & (OPT_KEEPTTL | OPT_ANY_EXPIRE))) {
            o->flags |= OPT_PERSIST;
        } else if (cmd_arg_eq(a, "ex") && next &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_PX | OPT_EXAT | OPT_PXAT))) {
            o->flags |= OPT_EX;
            o->when = next;
            j++;
        } else if (cmd_arg_eq(a, "px") && next &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_EXAT | OPT_PXAT))) {
            o->flags |= OPT_PX;
            o->when = next;
            j++;
        } else if (cmd_arg_eq(a, "exat") && next &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_PX | OPT_PXAT))) {
            o->flags |= OPT_EXAT;
            o->when = next;
            j++;
        } else if (cmd_arg_eq(a, "pxat") && next &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_PX | OPT_EXAT))) {
            o->flags |= OPT_PXAT;
            o->when = next;
            j++;
        } else {
            cmd_reply_syntax(c);
            return false;
        }
    }
    return true;
}

/* Redis's getExpireMillisecondsOrReply: the expire argument as absolute Unix
 * ms. Zero, negative and overflowing times are refused with cmdname in the
 * error; relative times (EX, PX) are added to the command's clock. */
static bool expire_abs_ms(struct cmd_ctx *c, const struct resp_arg *a, unsigned flags,
                          const char *cmdname, int64_t *when)
{
    int64_t ms;
    bool seconds = flags & (OPT_EX | OPT_EXAT);

    if (!cmd_arg_int64(c, a, &ms))
        return false;
    if (ms <= 0 || (seconds && ms > INT64_MAX / 1000)) {
        reply_expire_error(c, cmdname);
        return false;
    }
    if (seconds)
        ms *= 1000;
    if (flags & (OPT_EX | OPT_PX)) {
        /* Redis adds and then sees the wrapped, negative sum; we refuse
         * the same cases without the signed overflow. */
        if (c->now_ms > 0 && ms > INT64_MAX - c->now_ms) {
            reply_expire_error(c, cmdname);
            return false;
        }
        ms += c->now_ms;
        if (ms <= 0) {
            reply_expire_error(c, cmdname);
            return false;
        }
    }
    *when = ms;
    return true;
}

/* What setGenericCommand replies on success and when NX/XX aborts. */
enum set_reply {
    SET_REPLY_OK,   /* +OK, or a null when aborted (SET) */
    SET_REPLY_INT,  /* :1, or :0 when aborted (SETNX) */
};

/* Redis's setGenericCommand: key and val are argument views, o the parsed
 * options (o->when still unparsed), rk the reply style, cmdname the name
 * quoted in expire errors. The expire time is checked first, then GET
 * replies the old value, then NX/XX may abort. */
static void set_generic(struct cmd_ctx *c, const struct set_opts *o, const struct resp_arg *key,
                        const struct resp_arg *val, enum set_reply rk, const char *cmdname)
{
    int64_t when = 0;
    int64_t expire = (o->flags & OPT_KEEPTTL) ? KVMAP_KEEP_TTL : KVMAP_NO_EXPIRE;
    size_t mark = c->out->len;
    struct kventry *e;
    int rc;

    if (o->when && !expire_abs_ms(c, o->when, o->flags, cmdname, &when))
        return;
    /* NX and XX ask whether the key exists, whatever its type; only GET
     * needs a string (SET itself replaces a value of any type). A plain SET
     * asks nothing: kvmap_set expires a stale old value itself, with the
     * same "expired" event first, and a second lookup would hash the key
     * again. */
    e = (o->flags & (OPT_GET | OPT_NX | OPT_XX)) ? kvmap_find(c->db, key->ptr, key->len, c->now_ms)
                                                  : NULL;
    if (o->flags & OPT_GET)
        (void)cmd_key_read(c, e, key->ptr, key->len); /* GET reads it */
    if ((o->flags & OPT_GET) && e && kventry_type(e) != TVAL_STRING) {
        cmd_reply_wrongtype(c);
        return;
    }
    if (o->flags & OPT_GET) {
        if (e) {
            reply_value(c, e);
        } else {
            resp_null(c->out, c->proto);
        }
    }
    if (((o->flags & OPT_NX) && e) || ((o->flags & OPT_XX) && !e)) {
        if (!(o->flags & OPT_GET)) {
            if (rk == SET_REPLY_INT)
                resp_int(c->out, 0);
            else
                resp_null(c->out, c->proto);
        }
        return;
    }
    if (o->when && when <= c->now_ms) {
        /* An absolute time already past: Redis stores the key and lets it
         * expire on the next access, which no client can tell apart from
         * not storing it. */
        kvmap_del(c->db, key->ptr, key->len, c->now_ms);
        rc = 0;
    } else {
        if (o->when)
            expire = when;
        rc = kvmap_set(c->db, key->ptr, key->len, val->ptr, val->len, expire, c->now_ms);
    }
    if (rc < 0) {
        /* Drop the GET reply, if any: the command answers with one error. */
        c->out->len = mark;
        cmd_reply_kvmap_error(c, rc);
        return;
    }
    cmd_key_modified(c, NOTIFY_STRING, "set", key->ptr, key->len);
    if (o->when) {
        cmd_key_notify(c, NOTIFY_GENERIC, "expire", key->ptr, key->len);
        /* Redis would reap it at the next access or cron tick. */
        if (when <= c->now_ms)
            cmd_key_notify(c, NOTIFY_EXPIRED, "expired", key->ptr, key->len);
    }
    if (!(o->flags & OPT_GET)) {
        if (rk == SET_REPLY_INT)
            resp_int(c->out, 1);
        else
            cmd_reply_ok(c);
    }
}

static void cmd_get(struct cmd_ctx *c)
{
    bool wrong;
    struct kventry *e = lookup(c, &c->argv[1], &wrong);

    if (wrong)
        return;
    if (e)
        reply_value(c, e);
    else
        resp_null(c->out, c->proto);
}

static void cmd_set(struct cmd_ctx *c)
{
    struct set_opts o;

    if (!parse_set_opts(c, 3, FOR_SET, &o))
        return;
    set_generic(c, &o, &c->argv[1], &c->argv[2], SET_REPLY_OK, "set");
}

static void cmd_setnx(struct cmd_ctx *c)
{
    struct set_opts o = { .flags = OPT_NX, .when = NULL };

    set_generic(c, &o, &c->argv[1], &c->argv[2], SET_REPLY_INT, "setnx");
}

static void cmd_setex(struct cmd_ctx *c)
{
    struct set_opts o = { .flags = OPT_EX, .when = &c->argv[2] };

    set_generic(c, &o, &c->argv[1], &c->argv[3], SET_REPLY_OK, "setex");
}

static void cmd_psetex(struct cmd_ctx *c)
{
    struct set_opts o = { .flags = OPT_PX, .when = &c->argv[2] };

    set_generic(c, &o, &c->argv[1], &c->argv[3], SET_REPLY_OK, "psetex");
}

static void cmd_getset(struct cmd_ctx *c)
{
    struct set_opts o = { .flags = OPT_GET, .when = NULL };

    set_generic(c, &o, &c->argv[1], &c->argv[2], SET_REPLY_OK, "getset");
}

static void cmd_getdel(struct cmd_ctx *c)
{
    const struct resp_arg *key = &c->argv[1];
    bool wrong;
    struct kventry *e = lookup(c, key, &wrong);

    if (wrong)
        return;
    if (!e) {
        resp_null(c->out, c->proto);
        return;
    }
    reply_value(c, e);
    kvmap_del(c->db, key->ptr, key->len, c->now_ms);
    cmd_key_modified(c, NOTIFY_GENERIC, "del", key->ptr, key->len);
}

/* Redis's getexCommand: options are checked before the lookup, the expire
 * value only once the key is known to exist. */
static void cmd_getex(struct cmd_ctx *c)
{
    const struct resp_arg *key = &c->argv[1];
    struct set_opts o;
    struct kventry *e;
    int64_t when = 0;
    size_t mark;
    int rc = 0;

    bool wrong;

    if (!parse_set_opts(c, 2, FOR_GETEX, &o))
        return;
    e = lookup(c, key, &wrong);
    if (wrong)
        return;
    if (!e) {
        resp_null(c->out, c->proto);
        return;
    }
    if (o.when && !expire_abs_ms(c, o.when, o.flags, "getex", &when))
        return;
    mark = c->out->len;
    reply_value(c, e);
    const char *event = NULL; /* NULL: a plain GETEX, or PERSIST without a TTL */
    if ((o.flags & (OPT_EXAT | OPT_PXAT)) && when <= c->now_ms) {
        kvmap_del(c->db, key->ptr, key->len, c->now_ms);
        event = "del";
    } else if (o.when) {
        rc = kvmap_entry_set_expire(c->db, e, when);
        event = "expire";
    } else if ((o.flags & OPT_PERSIST) && kventry_expire(e) != KVMAP_NO_EXPIRE) {
        rc = kvmap_entry_set_expire(c->db, e, KVMAP_NO_EXPIRE);
        event = "persist";
    }
    if (rc < 0) {
        /* One reply per command: the error replaces the value. */
        c->out->len = mark;
        cmd_reply_kvmap_error(c, rc);
    } else if (event) {
        cmd_key_modified(c, NOTIFY_GENERIC, event, key->ptr, key->len);
    }
}

/* The value grows in place inside the map (kvmap_append), so a run of
 * APPENDs costs O(final length) in total, as in Redis. */
static void cmd_append(struct cmd_ctx *c)
{
    const struct resp_arg *key = &c->argv[1], *add = &c->argv[2];
    size_t newlen;
    int rc;

    rc = kvmap_append(c->db, key->ptr, key->len, add->ptr, add->len, c->now_ms, &newlen);
    if (rc < 0) {
        cmd_reply_kvmap_error(c, rc);
        return;
    }
    cmd_key_modified(c, NOTIFY_STRING, "append", key->ptr, key->len);
    resp_int(c->out, (int64_t)newlen);
}

static void cmd_strlen(struct cmd_ctx *c)
{
    bool wrong;
    struct kventry *e = lookup(c, &c->argv[1], &wrong);
    char ibuf[INT_VALUE_BUF];
    size_t n = 0;

    if (wrong)
        return;
    if (e)
        kventry_value(e, ibuf, &n);
    resp_int(c->out, (int64_t)n);
}

/* GETRANGE and SUBSTR: Redis 7.0's index rules, including the quirk that a
 * pair of negative indexes with start > end is empty before clamping. */
static void cmd_getrange(struct cmd_ctx *c)
{
    int64_t start, end, len;
    struct kventry *e;
    char ibuf[INT_VALUE_BUF];
    const char *v;
    size_t n;

    if (!cmd_arg_int64(c, &c->argv[2], &start) || !cmd_arg_int64(c, &c->argv[3], &end))
        return;
    bool wrong;
    e = lookup(c, &c->argv[1], &wrong);
    if (wrong)
        return;
    if (!e) {
        resp_bulk(c->out, "", 0);
        return;
    }
    v = kventry_value(e, ibuf, &n);
    len = (int64_t)n;
    if (start < 0 && end < 0 && start > end) {
        resp_bulk(c->out, "", 0);
        return;
    }
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= len)
        end = len - 1;
    if (start > end || len == 0)
        resp_bulk(c->out, "", 0);
    else
        resp_bulk(c->out, v + start, (size_t)(end - start + 1));
}

/* kvmap_setrange keeps Redis's order: an empty value replies the current
 * length (creating nothing) before offset + length is checked against the
 * value limit, and that check comes before any allocation. */
static void cmd_setrange(struct cmd_ctx *c)
{
    const struct resp_arg *key = &c->argv[1], *val = &c->argv[3];
    int64_t offset;
    size_t newlen;
    int rc;

    if (!cmd_arg_int64(c, &c->argv[2], &offset))
        return;
    if (offset < 0) {
        resp_error(c->out, "ERR offset is out of range");
        return;
    }
    rc = kvmap_setrange(c->db, key->ptr, key->len, (size_t)offset, val->ptr, val->len, c->now_ms,
                        &newlen);
    if (rc < 0) {
        cmd_reply_kvmap_error(c, rc);
        return;
    }
    /* An empty value changes nothing (Redis replies the length alone). */
    if (val->len > 0)
        cmd_key_modified(c, NOTIFY_STRING, "setrange", key->ptr, key->len);
    resp_int(c->out, (int64_t)newlen);
}

static void incr_generic(struct cmd_ctx *c, int64_t delta)
{
    int64_t v;
    int rc = kvmap_incrby(c->db, c->argv[1].ptr, c->argv[1].len, delta, c->now_ms, &v);

    if (rc < 0) {
        cmd_reply_kvmap_error(c, rc);
        return;
    }
    cmd_key_modified(c, NOTIFY_STRING, "incrby", c->argv[1].ptr, c->argv[1].len);
    resp_int(c->out, v);
}

static void cmd_incr(struct cmd_ctx *c)
{
    incr_generic(c, 1);
}

static void cmd_decr(struct cmd_ctx *c)
{
    incr_generic(c, -1);
}

static void cmd_incrby(struct cmd_ctx *c)
{
    int64_t d;

    if (cmd_arg_int64(c, &c->argv[2], &d))
        incr_generic(c, d);
}

static void cmd_decrby(struct cmd_ctx *c)
{
    int64_t d;

    if (!cmd_arg_int64(c, &c->argv[2], &d))
        return;
    /* -INT64_MIN does not exist; Redis has its own message for it. */
    if (d == INT64_MIN) {
        resp_error(c->out, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, -d);
}

static void cmd_incrbyfloat(struct cmd_ctx *c)
{
    const struct resp_arg *key = &c->argv[1];
    bool wrong;
    struct kventry *e = cmd_lookup_type_probe(c, key, TVAL_STRING, &wrong); /* a write */
    long double value = 0, incr;
    char buf[CMD_MAX_LDOUBLE_CHARS];
    size_t n;
    int rc;

    if (wrong)
        return;
    /* Redis checks the stored value before the increment argument. */
    if (e) {
        int64_t iv;
        if (kventry_int(e, &iv)) {
            value = (long double)iv;
        } else {
            char ibuf[INT_VALUE_BUF];
            size_t vlen;
            const char *v = kventry_value(e, ibuf, &vlen);
            if (!cmd_parse_ldouble(v, vlen, &value)) {
                resp_error(c->out, "ERR value is not a valid float");
                return;
            }
        }
    }
    if (!cmd_arg_double(c, &c->argv[2], &incr))
        return;
    value += incr;
    if (isnan(value) || isinf(value)) {
        resp_error(c->out, "ERR increment would produce NaN or Infinity");
        return;
    }
    n = cmd_format_ldouble(buf, sizeof buf, value);
    rc = kvmap_set(c->db, key->ptr, key->len, buf, n, KVMAP_KEEP_TTL, c->now_ms);
    if (rc < 0) {
        cmd_reply_kvmap_error(c, rc);
        return;
    }
    cmd_key_modified(c, NOTIFY_STRING, "incrbyfloat", key->ptr, key->len);
    resp_bulk(c->out, buf, n);
}

/* SET's key flags depend on GET (Redis's setGetKeys): read and updated
 * with it, overwritten without. */
static int set_getkeys(const struct cmd_def *d, size_t argc, const struct resp_arg *argv,
                       struct cmd_key_range *out)
{
    (void)d;
    out->first = out->last = out->step = 1;
    out->flags = CMD_KS_OW | CMD_KS_UPDATE;
    for (size_t i = 3; i < argc; i++)
        if (cmd_arg_eq(&argv[i], "get"))
            out->flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE;
    return argc > 1 ? 1 : -1;
}

/* Name, arity, flags and key positions as Redis 7.0's COMMAND INFO reports
 * them (denyoom has no CMD_* flag here). */
const struct cmd_def cmd_string_defs[] = {
    { .name = "get", .arity = 2, .exec = cmd_get,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Get the value of a key" },
    { .name = "set", .arity = -3, .exec = cmd_set, .getkeys = set_getkeys,
      .flags = CMD_WRITE | CMD_DENYOOM,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE | CMD_KS_VARIABLE_FLAGS, .begin = 1, .last = 0, .step = 1,
            .notes = "RW and ACCESS due to the optional `GET` argument" } },
      .group = "string", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Set the string value of a key" },
    { .name = "setnx", .arity = 3, .exec = cmd_setnx,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_OW | CMD_KS_INSERT, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Set the value of a key, only if the key does not exist" },
    { .name = "setex", .arity = 4, .exec = cmd_setex,
      .flags = CMD_WRITE | CMD_DENYOOM,
      .keys = { { .flags = CMD_KS_OW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "2.0.0",
      .complexity = "O(1)",
      .summary = "Set the value and expiration of a key" },
    { .name = "psetex", .arity = 4, .exec = cmd_psetex,
      .flags = CMD_WRITE | CMD_DENYOOM,
      .keys = { { .flags = CMD_KS_OW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "2.6.0",
      .complexity = "O(1)",
      .summary = "Set the value and expiration in milliseconds of a key" },
    { .name = "getset", .arity = 3, .exec = cmd_getset,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Set the string value of a key and return its old value" },
    { .name = "getdel", .arity = 2, .exec = cmd_getdel,
      .flags = CMD_WRITE | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "6.2.0",
      .complexity = "O(1)",
      .summary = "Get the value of a key and delete the key" },
    { .name = "getex", .arity = -2, .exec = cmd_getex,
      .flags = CMD_WRITE | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1,
            .notes = "RW and UPDATE because it changes the TTL" } },
      .group = "string", .since = "6.2.0",
      .complexity = "O(1)",
      .summary = "Get the value of a key and optionally set its expiration" },
    { .name = "append", .arity = 3, .exec = cmd_append,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_INSERT, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "2.0.0",
      .complexity = "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
      .summary = "Append a value to a key" },
    { .name = "strlen", .arity = 2, .exec = cmd_strlen,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "2.2.0",
      .complexity = "O(1)",
      .summary = "Get the length of the value stored in a key" },
    { .name = "getrange", .arity = 4, .exec = cmd_getrange,
      .flags = CMD_READONLY,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "2.4.0",
      .complexity = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
      .summary = "Get a substring of the string stored at a key" },
    { .name = "substr", .arity = 4, .exec = cmd_getrange,
      .flags = CMD_READONLY,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "1.0.0",
      .complexity = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
      .summary = "Get a substring of the string stored at a key" },
    { .name = "setrange", .arity = 4, .exec = cmd_setrange,
      .flags = CMD_WRITE | CMD_DENYOOM,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "2.2.0",
      .complexity = "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
      .summary = "Overwrite part of a string at key starting at the specified offset" },
    { .name = "incr", .arity = 2, .exec = cmd_incr,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Increment the integer value of a key by one" },
    { .name = "decr", .arity = 2, .exec = cmd_decr,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Decrement the integer value of a key by one" },
    { .name = "incrby", .arity = 3, .exec = cmd_incrby,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Increment the integer value of a key by the given amount" },
    { .name = "decrby", .arity = 3, .exec = cmd_decrby,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Decrement the integer value of a key by the given number" },
    { .name = "incrbyfloat", .arity = 3, .exec = cmd_incrbyfloat,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "string", .since = "2.6.0",
      .complexity = "O(1)",
      .summary = "Increment the float value of a key by the given amount" },
};

const size_t cmd_string_ndefs = sizeof cmd_string_defs / sizeof cmd_string_defs[0];
