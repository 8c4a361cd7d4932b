/* cmd_hash.c — the hash commands (HSET, HGET, HDEL, HINCRBY*, HGETALL,
 * HRANDFIELD, HSCAN, ...) with Redis 7.0's semantics, replies and error
 * texts, on top of shard/thash.h. Each is single-key: its exec function
 * runs on the thread that owns the key's shard. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/int64str.h"
#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"
#include "server/util/glob.h"
#include "shard/thash.h"

/* The hash at key for reading: NULL when the key is missing or (after the
 * WRONGTYPE reply, *wrong set) holds another type. */
static struct tval *hash_read(struct cmd_ctx *c, bool *wrong)
{
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_HASH, wrong);
    return e ? kventry_tval(e) : NULL;
}

/* The hash at key as a write sees it before changing anything (HSETNX,
 * HDEL): as hash_read, without a "keymiss" event. */
static struct tval *hash_probe(struct cmd_ctx *c, bool *wrong)
{
    struct kventry *e = cmd_lookup_type_probe(c, &c->argv[1], TVAL_HASH, wrong);
    return e ? kventry_tval(e) : NULL;
}

/* The hash at key about to be changed in place (the entry counts as
 * written), or NULL as hash_read. */
static struct tval *hash_write(struct cmd_ctx *c, bool *wrong)
{
    struct kventry *e = cmd_lookup_type_w(c, &c->argv[1], TVAL_HASH, wrong);
    return e ? kventry_tval(e) : NULL;
}

/* Redis's hashTypeLookupWriteOrCreate: the existing hash, or a new empty
 * one (*fresh set) that store_fresh puts under the key once it holds a
 * field. NULL after replying WRONGTYPE or out of memory. */
static struct tval *hash_write_or_create(struct cmd_ctx *c, bool *fresh)
{
    bool wrong;
    struct tval *tv = hash_write(c, &wrong);
    *fresh = false;
    if (tv || wrong)
        return tv;
    tv = thash_create(kvmap_acct(c->db));
    if (!tv) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
        return NULL;
    }
    *fresh = true;
    return tv;
}

/* Store a hash made by hash_write_or_create under the key. On failure
 * the hash is freed, the error replied, and false returned. */
static bool store_fresh(struct cmd_ctx *c, struct tval *tv)
{
    const struct resp_arg *key = &c->argv[1];
    int rc = kvmap_set_tval(c->db, key->ptr, key->len, tv, KVMAP_NO_EXPIRE, c->now_ms);
    if (rc < 0) {
        tval_free(kvmap_acct(c->db), tv);
        cmd_reply_kvmap_error(c, rc);
        return false;
    }
    return true;
}

/* Report the change to argv[1]: event is Redis's name for it (class h). */
static void modified(struct cmd_ctx *c, const char *event)
{
    cmd_key_modified(c, NOTIFY_HASH, event, c->argv[1].ptr, c->argv[1].len);
}

static void reply_arity(struct cmd_ctx *c, const char *name)
{
    resp_errorf(c->out, "ERR wrong number of arguments for '%s' command", name);
}

/* ------------------------------------------------------------ HSET & co */

/* HSET and HMSET: field value pairs from argv[2]. Redis checks every
 * length for the conversion before writing any pair. */
static void hset_generic(struct cmd_ctx *c, const char *name, bool reply_ok)
{
    if (c->argc % 2 == 1) {
        reply_arity(c, name);
        return;
    }
    bool fresh;
    struct tval *tv = hash_write_or_create(c, &fresh);
    if (!tv)
        return;
    struct mem_acct *a = kvmap_acct(c->db);
    size_t maxlen = 0, sumlen = 0;
    for (size_t i = 2; i < c->argc; i++) {
        size_t n = c->argv[i].len;
        maxlen = n > maxlen ? n : maxlen;
        sumlen = n > SIZE_MAX - sumlen ? SIZE_MAX : sumlen + n;
    }
    int rc = thash_prepare(a, tv, maxlen, sumlen);
    int64_t created = 0;
    bool changed = false;
    for (size_t i = 2; rc >= 0 && i < c->argc; i += 2) {
        const struct resp_arg *f = &c->argv[i], *v = &c->argv[i + 1];
        rc = thash_set(a, tv, f->ptr, f->len, v->ptr, v->len);
        if (rc >= 0) {
            created += rc;
            changed = true;
        }
    }
    if (rc < 0) {
        /* A new hash is all or nothing; an old one keeps what was set. */
        if (fresh) {
            tval_free(a, tv);
        } else if (changed) {
            modified(c, "hset");
        }
        cmd_reply_kvmap_error(c, rc);
        return;
    }
    if (fresh && !store_fresh(c, tv))
        return;
    modified(c, "hset");
    if (reply_ok)
        cmd_reply_ok(c);
    else
        resp_int(c->out, created);
}

static void cmd_hset(struct cmd_ctx *c)
{
    hset_generic(c, "hset", false);
}

static void cmd_hmset(struct cmd_ctx *c)
{
    hset_generic(c, "hmset", true);
}

static void cmd_hsetnx(struct cmd_ctx *c)
{
    const struct resp_arg *f = &c->argv[2], *v = &c->argv[3];
    bool wrong;
    struct tval *tv = hash_probe(c, &wrong);
    if (wrong)
        return;
    if (tv && thash_exists(tv, f->ptr, f->len)) {
        resp_int(c->out, 0);
        return;
    }
    bool fresh;
    tv = hash_write_or_create(c, &fresh);
    if (!tv)
        return;
    struct mem_acct *a = kvmap_acct(c->db);
    size_t maxlen = f->len > v->len ? f->len : v->len;
    int rc = thash_prepare(a, tv, maxlen, f->len + v->len);
    if (rc >= 0)
        rc = thash_set(a, tv, f->ptr, f->len, v->ptr, v->len);
    if (rc < 0) {
        if (fresh)
            tval_free(a, tv);
        cmd_reply_kvmap_error(c, rc);
        return;
    }
    if (fresh && !store_fresh(c, tv))
        return;
    modified(c, "hset");
    resp_int(c->out, 1);
}

/* ------------------------------------------------------------ reads */

static void reply_field_value(struct cmd_ctx *c, struct tval *tv, const struct resp_arg *f)
{
    char buf[THASH_NUMBUF];
    struct thash_str v;
    if (tv && thash_get(tv, f->ptr, f->len, buf, &v))
        resp_bulk(c->out, v.ptr, v.len);
    else
        resp_null(c->out, c->proto);
}

static void cmd_hget(struct cmd_ctx *c)
{
    bool wrong;
    struct tval *tv = hash_read(c, &wrong);
    if (!wrong)
        reply_field_value(c, tv, &c->argv[2]);
}

static void cmd_hmget(struct cmd_ctx *c)
{
    bool wrong;
    struct tval *tv = hash_read(c, &wrong);
    if (wrong)
        return;
    resp_array(c->out, c->argc - 2);
    for (size_t i = 2; i < c->argc; i++)
        reply_field_value(c, tv, &c->argv[i]);
}

static void cmd_hlen(struct cmd_ctx *c)
{
    bool wrong;
    struct tval *tv = hash_read(c, &wrong);
    if (!wrong)
        resp_int(c->out, tv ? (int64_t)thash_len(tv) : 0);
}

static void cmd_hstrlen(struct cmd_ctx *c)
{
    bool wrong;
    struct tval *tv = hash_read(c, &wrong);
    if (wrong)
        return;
    char buf[THASH_NUMBUF];
    struct thash_str v = {NULL, 0};
    if (tv)
        thash_get(tv, c->argv[2].ptr, c->argv[2].len, buf, &v);
    resp_int(c->out, (int64_t)v.len);
}

static void cmd_hexists(struct cmd_ctx *c)
{
    bool wrong;
    struct tval *tv = hash_read(c, &wrong);
    if (!wrong)
        resp_int(c->out, tv && thash_exists(tv, c->argv[2].ptr, c->argv[2].len));
}

/* What a visit writes: fields, values, or both. */
enum { WANT_FIELD = 1, WANT_VALUE = 2 };

/* Writes visited pairs as replies. */
struct emit {
    struct rbuf *out; /* where */
    unsigned want;    /* WANT_* */
    bool pairs;       /* RESP3 HRANDFIELD WITHVALUES: each pair an array of 2 */
    const struct resp_arg *match; /* HSCAN MATCH on the field, or NULL */
    size_t n;         /* fields written */
};

static void emit_pair(void *arg, const struct thash_str *f, const struct thash_str *v)
{
    struct emit *x = arg;
    if (x->match && !glob_match(x->match->ptr, x->match->len, f->ptr, f->len, false))
        return;
    if (x->pairs)
        resp_array(x->out, 2);
    if (x->want & WANT_FIELD)
        resp_bulk(x->out, f->ptr, f->len);
    if (x->want & WANT_VALUE)
        resp_bulk(x->out, v->ptr, v->len);
    x->n++;
}

/* HKEYS, HVALS, HGETALL (Redis's genericHgetallCommand): HGETALL is a map
 * (also when the key is missing), the others flat arrays. */
static void getall_generic(struct cmd_ctx *c, unsigned want)
{
    bool wrong;
    struct tval *tv = hash_read(c, &wrong);
    if (wrong)
        return;
    size_t n = tv ? thash_len(tv) : 0;
    if (want == (WANT_FIELD | WANT_VALUE))
        resp_map(c->out, c->proto, n);
    else
        resp_array(c->out, n);
    if (!tv)
        return;
    struct emit x = {c->out, want, false, NULL, 0};
    thash_foreach(tv, emit_pair, &x);
}

static void cmd_hkeys(struct cmd_ctx *c)
{
    getall_generic(c, WANT_FIELD);
}

static void cmd_hvals(struct cmd_ctx *c)
{
    getall_generic(c, WANT_VALUE);
}

static void cmd_hgetall(struct cmd_ctx *c)
{
    getall_generic(c, WANT_FIELD | WANT_VALUE);
}

/* ------------------------------------------------------------ writes */

static void cmd_hdel(struct cmd_ctx *c)
{
    bool wrong;
    struct tval *tv = hash_probe(c, &wrong);
    if (wrong)
        return;
    if (!tv) {
        resp_int(c->out, 0);
        return;
    }
    int64_t deleted = 0;
    bool emptied = false;
    for (size_t i = 2; i < c->argc; i++) {
        const struct resp_arg *f = &c->argv[i];
        if (deleted == 0) {
            /* Stamp the entry as written only once something changes. */
            if (!thash_exists(tv, f->ptr, f->len))
                continue;
            tv = hash_write(c, &wrong);
        }
        if (thash_del(kvmap_acct(c->db), tv, f->ptr, f->len) == 1) {
            deleted++;
            if (thash_len(tv) == 0) {
                kvmap_del(c->db, c->argv[1].ptr, c->argv[1].len, c->now_ms);
                emptied = true;
                break;
            }
        }
    }
    if (deleted)
        modified(c, "hdel");
    if (emptied)
        cmd_key_notify(c, NOTIFY_GENERIC, "del", c->argv[1].ptr, c->argv[1].len);
    resp_int(c->out, deleted);
}

static void cmd_hincrby(struct cmd_ctx *c)
{
    const struct resp_arg *f = &c->argv[2];
    int64_t incr, value = 0;
    if (!cmd_arg_int64(c, &c->argv[3], &incr))
        return;
    bool fresh;
    struct tval *tv = hash_write_or_create(c, &fresh);
    if (!tv)
        return;
    char buf[THASH_NUMBUF];
    struct thash_str v;
    if (!fresh && thash_get(tv, f->ptr, f->len, buf, &v) &&
        !int64str_parse(v.ptr, v.len, &value)) {
        resp_error(c->out, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && value < 0 && incr < INT64_MIN - value) ||
        (incr > 0 && value > 0 && incr > INT64_MAX - value)) {
        resp_error(c->out, "ERR increment or decrement would overflow");
        return;
    }
    value += incr;
    char num[INT64STR_MAX + 1];
    size_t n = (size_t)snprintf(num, sizeof num, "%" PRId64, value);
    struct mem_acct *a = kvmap_acct(c->db);
    int rc = thash_set(a, tv, f->ptr, f->len, num, n);
    if (rc < 0) {
        if (fresh)
            tval_free(a, tv);
        cmd_reply_kvmap_error(c, rc);
        return;
    }
    if (fresh && !store_fresh(c, tv))
        return;
    modified(c, "hincrby");
    resp_int(c->out, value);
}

static void cmd_hincrbyfloat(struct cmd_ctx *c)
{
    const struct resp_arg *f = &c->argv[2];
    long double incr, value = 0;
    if (!cmd_arg_double(c, &c->argv[3], &incr))
        return;
    if (isnan(incr) || isinf(incr)) {
        resp_error(c->out, "ERR value is NaN or Infinity");
        return;
    }
    bool fresh;
    struct tval *tv = hash_write_or_create(c, &fresh);
    if (!tv)
        return;
    char buf[THASH_NUMBUF];
    struct thash_str v;
    if (!fresh && thash_get(tv, f->ptr, f->len, buf, &v) &&
        !cmd_parse_ldouble(v.ptr, v.len, &value)) {
        resp_error(c->out, "ERR hash value is not a float");
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        resp_error(c->out, "ERR increment would produce NaN or Infinity");
        if (fresh)
            tval_free(kvmap_acct(c->db), tv);
        return;
    }
    char out[CMD_MAX_LDOUBLE_CHARS];
    size_t n = cmd_format_ldouble(out, sizeof out, value);
    struct mem_acct *a = kvmap_acct(c->db);
    int rc = thash_set(a, tv, f->ptr, f->len, out, n);
    if (rc < 0) {
        if (fresh)
            tval_free(a, tv);
        cmd_reply_kvmap_error(c, rc);
        return;
    }
    if (fresh && !store_fresh(c, tv))
        return;
    modified(c, "hincrbyfloat");
    resp_bulk(c->out, out, n);
}

/* ------------------------------------------------------------ HRANDFIELD */

/* The fewest bytes one element of an HRANDFIELD reply takes: "$0\r\n\r\n"
 * per string, and "*2\r\n" around a RESP3 pair. */
static uint64_t min_elem_bytes(bool withvalues, int proto)
{
    if (!withvalues)
        return 6;
    return proto == RESP3 ? 16 : 12;
}

static void cmd_hrandfield(struct cmd_ctx *c)
{
    if (c->argc == 2) {
        bool wrong;
        struct tval *tv = hash_read(c, &wrong);
        if (wrong)
            return;
        if (!tv) {
            resp_null(c->out, c->proto);
            return;
        }
        struct emit x = {c->out, WANT_FIELD, false, NULL, 0};
        thash_random(tv, emit_pair, &x);
        return;
    }
    /* Redis's hrandfieldCommand: the count in [-LONG_MAX, LONG_MAX], then
     * the WITHVALUES word, then (with values) half that range, all before
     * the key is looked at. */
    int64_t l;
    if (!cmd_arg_int64(c, &c->argv[2], &l))
        return;
    if (l == INT64_MIN) {
        resp_error(c->out, "ERR value is out of range, value must between "
                           "-9223372036854775807 and 9223372036854775807");
        return;
    }
    bool withvalues = c->argc == 4;
    if (c->argc > 4 || (withvalues && !cmd_arg_eq(&c->argv[3], "withvalues"))) {
        cmd_reply_syntax(c);
        return;
    }
    if (withvalues && (l < -INT64_MAX / 2 || l > INT64_MAX / 2)) {
        resp_error(c->out, "ERR value is out of range");
        return;
    }
    bool wrong;
    struct tval *tv = hash_read(c, &wrong);
    if (wrong)
        return;
    if (!tv || l == 0) {
        resp_array(c->out, 0);
        return;
    }
    uint64_t count = l < 0 ? (uint64_t)-l : (uint64_t)l;
    uint64_t size = thash_len(tv);
    bool uniq = l > 0;
    uint64_t n = uniq && count > size ? size : count;
    /* Redis builds whatever it is asked for (a count of -2^62 makes it
     * write until memory runs out); a reply that cannot fit in a reply
     * buffer is refused here, before any of it is built. */
    if (n > RBUF_MAX_CAP / min_elem_bytes(withvalues, c->proto)) {
        resp_error(c->out, "ERR value is out of range");
        return;
    }
    size_t mark = c->out->len;
    resp_array(c->out, withvalues && c->proto == RESP2 ? n * 2 : n);
    struct emit x = {c->out, withvalues ? WANT_FIELD | WANT_VALUE : WANT_FIELD,
                     withvalues && c->proto == RESP3, NULL, 0};
    if (!uniq || count == 1) {
        thash_random_many(tv, count, emit_pair, &x);
        return;
    }
    int rc = thash_random_unique(kvmap_acct(c->db), tv, count, emit_pair, &x);
    if (rc < 0) {
        c->out->len = mark;
        cmd_reply_kvmap_error(c, rc);
    }
}

/* ------------------------------------------------------------ HSCAN */

/* Redis's hscanCommand: the cursor is checked before the key, the options
 * only once the key is known to hold a hash. */
static void cmd_hscan(struct cmd_ctx *c)
{
    uint64_t cursor;
    if (!cmd_tscan_cursor(c, &c->argv[2], &cursor))
        return;
    bool wrong;
    struct tval *tv = hash_read(c, &wrong);
    if (wrong)
        return;
    struct rbuf elems;
    rbuf_init(&elems);
    if (!tv) {
        cmd_tscan_reply(c, 0, 0, &elems);
        return;
    }
    struct cmd_tscan_opts o;
    if (!cmd_tscan_opts(c, 3, &o))
        return;
    struct emit x = {&elems, WANT_FIELD | WANT_VALUE, false, o.match, 0};
    cursor = thash_scan(tv, cursor, o.count, emit_pair, &x);
    cmd_tscan_reply(c, cursor, x.n * 2, &elems);
    rbuf_deinit(&elems);
}

/* ------------------------------------------------------------ table */

/* Name, arity, flags, key specs and tips as Redis 7.0's COMMAND INFO
 * reports them; summary, since and complexity as its COMMAND DOCS. */
const struct cmd_def cmd_hash_defs[] = {
    { .name = "hset", .arity = -4, .exec = cmd_hset,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "hash", .since = "2.0.0",
      .complexity = "O(1) for each field/value pair added, so O(N) to add N field/value "
                    "pairs when the command is called with multiple field/value pairs.",
      .summary = "Set the string value of a hash field" },
    { .name = "hsetnx", .arity = 4, .exec = cmd_hsetnx,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_INSERT, .begin = 1, .last = 0, .step = 1 } },
      .group = "hash", .since = "2.0.0",
      .complexity = "O(1)",
      .summary = "Set the value of a hash field, only if the field does not exist" },
    { .name = "hget", .arity = 3, .exec = cmd_hget,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .group = "hash", .since = "2.0.0",
      .complexity = "O(1)",
      .summary = "Get the value of a hash field" },
    { .name = "hmget", .arity = -3, .exec = cmd_hmget,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .group = "hash", .since = "2.0.0",
      .complexity = "O(N) where N is the number of fields being requested.",
      .summary = "Get the values of all the given hash fields" },
    { .name = "hmset", .arity = -4, .exec = cmd_hmset,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "hash", .since = "2.0.0",
      .complexity = "O(N) where N is the number of fields being set.",
      .summary = "Set multiple hash fields to multiple values" },
    { .name = "hdel", .arity = -3, .exec = cmd_hdel,
      .flags = CMD_WRITE | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_DELETE, .begin = 1, .last = 0, .step = 1 } },
      .group = "hash", .since = "2.0.0",
      .complexity = "O(N) where N is the number of fields to be removed.",
      .summary = "Delete one or more hash fields" },
    { .name = "hlen", .arity = 2, .exec = cmd_hlen,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO, .begin = 1, .last = 0, .step = 1 } },
      .group = "hash", .since = "2.0.0",
      .complexity = "O(1)",
      .summary = "Get the number of fields in a hash" },
    { .name = "hstrlen", .arity = 3, .exec = cmd_hstrlen,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO, .begin = 1, .last = 0, .step = 1 } },
      .group = "hash", .since = "3.2.0",
      .complexity = "O(1)",
      .summary = "Get the length of the value of a hash field" },
    { .name = "hexists", .arity = 3, .exec = cmd_hexists,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO, .begin = 1, .last = 0, .step = 1 } },
      .group = "hash", .since = "2.0.0",
      .complexity = "O(1)",
      .summary = "Determine if a hash field exists" },
    { .name = "hkeys", .arity = 2, .exec = cmd_hkeys,
      .flags = CMD_READONLY,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output_order"),
      .group = "hash", .since = "2.0.0",
      .complexity = "O(N) where N is the size of the hash.",
      .summary = "Get all the fields in a hash" },
    { .name = "hvals", .arity = 2, .exec = cmd_hvals,
      .flags = CMD_READONLY,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output_order"),
      .group = "hash", .since = "2.0.0",
      .complexity = "O(N) where N is the size of the hash.",
      .summary = "Get all the values in a hash" },
    { .name = "hgetall", .arity = 2, .exec = cmd_hgetall,
      .flags = CMD_READONLY,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output_order"),
      .group = "hash", .since = "2.0.0",
      .complexity = "O(N) where N is the size of the hash.",
      .summary = "Get all the fields and values in a hash" },
    { .name = "hincrby", .arity = 4, .exec = cmd_hincrby,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "hash", .since = "2.0.0",
      .complexity = "O(1)",
      .summary = "Increment the integer value of a hash field by the given number" },
    { .name = "hincrbyfloat", .arity = 4, .exec = cmd_hincrbyfloat,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "hash", .since = "2.6.0",
      .complexity = "O(1)",
      .summary = "Increment the float value of a hash field by the given amount" },
    { .name = "hrandfield", .arity = -2, .exec = cmd_hrandfield,
      .flags = CMD_READONLY,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "hash", .since = "6.2.0",
      .complexity = "O(N) where N is the number of fields returned",
      .summary = "Get one or multiple random fields from a hash" },
    { .name = "hscan", .arity = -3, .exec = cmd_hscan,
      .flags = CMD_READONLY,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "hash", .since = "2.8.0",
      .complexity = "O(1) for every call. O(N) for a complete iteration, including enough "
                    "command calls for the cursor to return back to 0. N is the number of "
                    "elements inside the collection..",
      .summary = "Incrementally iterate hash fields and associated values" },
};

const size_t cmd_hash_ndefs = sizeof cmd_hash_defs / sizeof cmd_hash_defs[0];
