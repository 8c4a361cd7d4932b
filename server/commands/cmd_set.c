/* cmd_set.c — the single-key set commands (SADD SREM SCARD SISMEMBER
 * SMISMEMBER SMEMBERS SRANDMEMBER SPOP SSCAN) with Redis 7.0's replies and
 * error texts, and the set family's table, multi-key commands included
 * (cmd_set_ops.c, cmd_set_multi.c). Every exec function runs on the thread
 * that owns the key's shard. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/int64str.h"
#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_set.h"
#include "server/util/glob.h"
#include "shard/tset.h"

/* SRANDMEMBER with a negative count repeats members, so its reply is not
 * bounded by the set's size: Redis 7.0 streams |count| of them into the
 * client's output buffer, which for count = -2^63+1 never ends. We refuse
 * counts above this many (2^27, a reply of at least 1 GB) with Redis's
 * range error instead of growing a buffer until the host runs out. */
#define SET_RANDOM_REPEAT_MAX ((int64_t)1 << 27)

static void reply_oom(struct cmd_ctx *c)
{
    cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
}

static struct tval *set_of(struct kventry *e)
{
    return e ? kventry_tval(e) : NULL;
}

/* ---- SADD SREM ----------------------------------------------------------- */

static void sadd_exec(struct cmd_ctx *c)
{
    const struct resp_arg *key = &c->argv[1];
    bool wrong;
    struct kventry *e = cmd_lookup_type_w(c, key, TVAL_SET, &wrong);
    if (wrong)
        return;
    struct mem_acct *a = kvmap_acct(c->db);
    struct tval *tv = set_of(e);
    bool fresh = !tv;
    if (fresh) {
        tv = tset_create(a, c->argv[2].ptr, c->argv[2].len, c->argc - 2);
        if (!tv) {
            reply_oom(c);
            return;
        }
    }
    int64_t added = 0;
    int err = 0;
    for (size_t j = 2; j < c->argc; j++) {
        int rc = tset_add(a, tv, c->argv[j].ptr, c->argv[j].len);
        if (rc < 0) {
            err = rc;
            break;
        }
        added += rc;
    }
    if (fresh) {
        int rc = added ? kvmap_set_tval(c->db, key->ptr, key->len, tv, KVMAP_NO_EXPIRE, c->now_ms)
                       : KVMAP_ENOMEM;
        if (rc < 0) {
            tval_free(a, tv);
            cmd_reply_kvmap_error(c, rc);
            return;
        }
    }
    if (added)
        cmd_key_modified(c, NOTIFY_SET, "sadd", key->ptr, key->len);
    if (err < 0)
        reply_oom(c);
    else
        resp_int(c->out, added);
}

static void srem_exec(struct cmd_ctx *c)
{
    const struct resp_arg *key = &c->argv[1];
    bool wrong;
    struct kventry *e = cmd_lookup_type_w(c, key, TVAL_SET, &wrong);
    if (wrong)
        return;
    int64_t removed = 0;
    if (e) {
        struct tval *tv = set_of(e);
        struct mem_acct *a = kvmap_acct(c->db);
        for (size_t j = 2; j < c->argc && tval_len(tv) > 0; j++)
            removed += tset_remove(a, tv, c->argv[j].ptr, c->argv[j].len);
        if (removed)
            cmd_key_changed_drop_empty(c, NOTIFY_SET, "srem", key, tv);
    }
    resp_int(c->out, removed);
}

/* ---- Reads --------------------------------------------------------------- */

static void scard_exec(struct cmd_ctx *c)
{
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_SET, &wrong);
    if (!wrong)
        resp_int(c->out, e ? (int64_t)tval_len(set_of(e)) : 0);
}

static void sismember_exec(struct cmd_ctx *c)
{
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_SET, &wrong);
    if (!wrong)
        resp_int(c->out, e && tset_has(set_of(e), c->argv[2].ptr, c->argv[2].len) ? 1 : 0);
}

static void smismember_exec(struct cmd_ctx *c)
{
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_SET, &wrong);
    if (wrong)
        return;
    resp_array(c->out, c->argc - 2);
    for (size_t j = 2; j < c->argc; j++)
        resp_int(c->out, e && tset_has(set_of(e), c->argv[j].ptr, c->argv[j].len) ? 1 : 0);
}

struct reply_ctx {
    struct rbuf *out; /* where bulks go */
};

static void reply_one(void *arg, const char *m, size_t len)
{
    struct reply_ctx *x = arg;
    resp_bulk(x->out, m, len);
}

/* SMEMBERS: in Redis 7.0 it is SINTER of one key, so a set reply. */
static void smembers_exec(struct cmd_ctx *c)
{
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_SET, &wrong);
    if (wrong)
        return;
    struct tval *tv = set_of(e);
    resp_set(c->out, c->proto, tv ? tval_len(tv) : 0);
    if (tv) {
        struct reply_ctx x = {c->out};
        tset_each(tv, reply_one, &x);
    }
}

/* ---- SRANDMEMBER --------------------------------------------------------- */

/* Swap two elements of a tset_members array, keeping an integer's view
 * on its own element's buf. */
static void swap_members(struct tset_member *a, struct tset_member *b)
{
    bool ai = a->ptr == a->buf, bi = b->ptr == b->buf;
    struct tset_member t = *a;
    *a = *b;
    *b = t;
    if (bi)
        a->ptr = a->buf;
    if (ai)
        b->ptr = b->buf;
}

/* Reply count distinct random members of tv (count < its size). */
static void random_distinct(struct cmd_ctx *c, struct tval *tv, size_t count)
{
    size_t size = tval_len(tv);
    if (tv->enc != TVAL_ENC_HASHTABLE || count * 3 > size) {
        /* Many of them (or a small set): shuffle the first count of all
         * the members, as Redis copies the set and removes the rest. */
        struct tset_member *v;
        size_t n;
        if (tset_members(tv, &v, &n) < 0) {
            reply_oom(c);
            return;
        }
        if (count > n)
            count = n;
        resp_array(c->out, count);
        for (size_t i = 0; i < count; i++) {
            size_t j = i + (size_t)(tset_rand() % (n - i));
            swap_members(&v[i], &v[j]);
            resp_bulk(c->out, v[i].ptr, v[i].len);
        }
        free(v);
        return;
    }
    /* Few of a big table: pick at random and skip repeats. Hash table
     * members are views of entries, which stay put while nothing writes. */
    struct tset_member *v = malloc(count * sizeof *v);
    struct setalg_vset *seen = setalg_vset_create(count);
    if (!v || !seen) {
        free(v);
        setalg_vset_destroy(seen);
        reply_oom(c);
        return;
    }
    size_t k = 0;
    while (k < count) {
        if (!tset_random(tv, &v[k]))
            break;
        int rc = setalg_vset_add(seen, &v[k]);
        if (rc < 0)
            break;
        k += (size_t)rc;
    }
    resp_array(c->out, k);
    for (size_t i = 0; i < k; i++)
        resp_bulk(c->out, v[i].ptr, v[i].len);
    free(v);
    setalg_vset_destroy(seen);
}

static void srandmember_exec(struct cmd_ctx *c)
{
    if (c->argc > 3) {
        cmd_reply_syntax(c);
        return;
    }
    int64_t l = 0;
    if (c->argc == 3) {
        if (!cmd_arg_int64(c, &c->argv[2], &l))
            return;
        if (l == INT64_MIN) {
            resp_error(c->out, "ERR value is out of range, value must between "
                               "-9223372036854775807 and 9223372036854775807");
            return;
        }
    }
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_SET, &wrong);
    if (wrong)
        return;
    struct tval *tv = set_of(e);
    struct tset_member m;
    if (c->argc == 2) {
        if (tv && tset_random(tv, &m))
            resp_bulk(c->out, m.ptr, m.len);
        else
            resp_null(c->out, c->proto);
        return;
    }
    if (!tv || l == 0) {
        resp_array(c->out, 0);
        return;
    }
    size_t size = tval_len(tv);
    if (l < 0) {
        if (-l > SET_RANDOM_REPEAT_MAX) {
            resp_error(c->out, "ERR value is out of range");
            return;
        }
        resp_array(c->out, (size_t)-l);
        for (int64_t i = 0; i < -l && !c->out->oom; i++) {
            tset_random(tv, &m);
            resp_bulk(c->out, m.ptr, m.len);
        }
        return;
    }
    if ((uint64_t)l >= size) {
        resp_array(c->out, size);
        struct reply_ctx x = {c->out};
        tset_each(tv, reply_one, &x);
        return;
    }
    random_distinct(c, tv, (size_t)l);
}

/* ---- SPOP ---------------------------------------------------------------- */

/* Pop one random member of tv, replying it as a bulk; false when the
 * reply could not be written (nothing removed). The member is removed by
 * the bytes just written to the reply, since its view dies with it. */
static bool pop_one(struct cmd_ctx *c, struct mem_acct *a, struct tval *tv)
{
    struct tset_member m;
    if (!tset_random(tv, &m))
        return false;
    resp_bulk(c->out, m.ptr, m.len);
    if (c->out->oom)
        return false;
    const char *p = c->out->ptr + c->out->len - 2 - m.len;
    tset_remove(a, tv, p, m.len);
    return true;
}

static void spop_exec(struct cmd_ctx *c)
{
    const struct resp_arg *key = &c->argv[1];
    if (c->argc > 3) {
        cmd_reply_syntax(c);
        return;
    }
    int64_t l = 1;
    /* Redis's getPositiveLongFromObjectOrReply: one error for both a
     * non-integer and a negative count. */
    if (c->argc == 3 && (!int64str_parse(c->argv[2].ptr, c->argv[2].len, &l) || l < 0)) {
        resp_error(c->out, "ERR value is out of range, must be positive");
        return;
    }
    bool wrong;
    struct kventry *e = cmd_lookup_type_w(c, key, TVAL_SET, &wrong);
    if (wrong)
        return;
    struct tval *tv = set_of(e);
    struct mem_acct *a = kvmap_acct(c->db);
    if (c->argc == 2) {
        if (!tv) {
            resp_null(c->out, c->proto);
            return;
        }
        size_t mark = c->out->len;
        if (!pop_one(c, a, tv)) {
            c->out->len = mark;
            c->out->oom = false;
            reply_oom(c);
            return;
        }
        cmd_key_changed_drop_empty(c, NOTIFY_SET, "spop", key, tv);
        return;
    }
    if (!tv || l == 0) {
        resp_set(c->out, c->proto, 0);
        return;
    }
    size_t size = tval_len(tv);
    if ((uint64_t)l >= size) {
        /* The whole set: reply it, then drop the key. Redis replies it
         * through SUNION's code, whose read lookup counts a keyspace hit. */
        cmd_key_read_quiet(c, e);
        resp_set(c->out, c->proto, size);
        struct reply_ctx x = {c->out};
        tset_each(tv, reply_one, &x);
        kvmap_del(c->db, key->ptr, key->len, c->now_ms);
        cmd_key_modified(c, NOTIFY_SET, "spop", key->ptr, key->len);
        cmd_key_notify(c, NOTIFY_GENERIC, "del", key->ptr, key->len);
        return;
    }
    resp_set(c->out, c->proto, (size_t)l);
    int64_t popped = 0;
    while (popped < l && pop_one(c, a, tv))
        popped++;
    if (popped)
        cmd_key_modified(c, NOTIFY_SET, "spop", key->ptr, key->len);
    if (popped < l) {
        /* Only when the reply buffer ran out of memory: the members
         * popped so far are gone, as Redis's would be after a crash of
         * its output; tell the client. */
        c->out->len = 0;
        c->out->oom = false;
        reply_oom(c);
    }
}

/* ---- SSCAN --------------------------------------------------------------- */

struct scan_ctx {
    struct rbuf *tmp;              /* matching members as bulks */
    size_t n;                      /* how many */
    size_t visited;                /* members seen, matching or not */
    const struct resp_arg *match;  /* pattern, or NULL */
};

static void scan_one(void *arg, const char *m, size_t len)
{
    struct scan_ctx *x = arg;
    x->visited++;
    if (x->match && !glob_match(x->match->ptr, x->match->len, m, len, false))
        return;
    resp_bulk(x->tmp, m, len);
    x->n++;
}

static void sscan_exec(struct cmd_ctx *c)
{
    uint64_t cursor;
    if (!cmd_tscan_cursor(c, &c->argv[2], &cursor))
        return;
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_SET, &wrong);
    if (wrong)
        return;
    if (!e) {
        resp_array(c->out, 2);
        resp_bulk(c->out, "0", 1);
        resp_array(c->out, 0);
        return;
    }
    struct cmd_tscan_opts o;
    if (!cmd_tscan_opts(c, 3, &o))
        return;
    int64_t count = o.count > INT64_MAX ? INT64_MAX : (int64_t)o.count;
    const struct resp_arg *match = o.match;
    struct tval *tv = set_of(e);
    struct rbuf tmp;
    rbuf_init(&tmp);
    struct scan_ctx x = {&tmp, 0, 0, match};
    if (tv->enc != TVAL_ENC_HASHTABLE) {
        cursor = tset_scan(tv, 0, scan_one, &x);
    } else {
        /* Redis visits buckets until count elements were seen or count * 10
         * buckets were visited, then filters; we filter as we go and count
         * what was visited apart from what matched. */
        int64_t maxit = count > INT64_MAX / 10 ? INT64_MAX : count * 10;
        do
            cursor = tset_scan(tv, cursor, scan_one, &x);
        while (cursor && maxit-- && (int64_t)x.visited < count);
    }
    if (tmp.oom) {
        rbuf_deinit(&tmp);
        reply_oom(c);
        return;
    }
    cmd_tscan_reply(c, cursor, x.n, &tmp);
    rbuf_deinit(&tmp);
}

/* ---- The table ----------------------------------------------------------- */

#define KS_RO_ACCESS (CMD_KS_RO | CMD_KS_ACCESS)

/* Flags, key specs and docs as Redis 7.0's COMMAND INFO and DOCS report
 * them. The multi-key commands' plans are in cmd_set_multi.c. */
const struct cmd_def cmd_set_defs[] = {
    { .name = "sadd", .arity = -3, .exec = sadd_exec,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_INSERT, .begin = 1, .last = 0, .step = 1 } },
      .group = "set", .since = "1.0.0",
      .complexity = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
      .summary = "Add one or more members to a set" },
    { .name = "srem", .arity = -3, .exec = srem_exec,
      .flags = CMD_WRITE | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_DELETE, .begin = 1, .last = 0, .step = 1 } },
      .group = "set", .since = "1.0.0",
      .complexity = "O(N) where N is the number of members to be removed.",
      .summary = "Remove one or more members from a set" },
    { .name = "scard", .arity = 2, .exec = scard_exec,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO, .begin = 1, .last = 0, .step = 1 } },
      .group = "set", .since = "1.0.0", .complexity = "O(1)",
      .summary = "Get the number of members in a set" },
    { .name = "sismember", .arity = 3, .exec = sismember_exec,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = CMD_KS_RO, .begin = 1, .last = 0, .step = 1 } },
      .group = "set", .since = "1.0.0", .complexity = "O(1)",
      .summary = "Determine if a given value is a member of a set" },
    { .name = "smismember", .arity = -3, .exec = smismember_exec,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = { { .flags = KS_RO_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .group = "set", .since = "6.2.0",
      .complexity = "O(N) where N is the number of elements being checked for membership",
      .summary = "Returns the membership associated with the given elements for a set" },
    { .name = "smembers", .arity = 2, .exec = smembers_exec,
      .flags = CMD_READONLY,
      .keys = { { .flags = KS_RO_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output_order"),
      .group = "set", .since = "1.0.0", .complexity = "O(N) where N is the set cardinality.",
      .summary = "Get all the members in a set" },
    { .name = "srandmember", .arity = -2, .exec = srandmember_exec,
      .flags = CMD_READONLY,
      .keys = { { .flags = KS_RO_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "set", .since = "1.0.0",
      .complexity = "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
      .summary = "Get one or multiple random members from a set" },
    { .name = "spop", .arity = -2, .exec = spop_exec,
      .flags = CMD_WRITE | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE, .begin = 1, .last = 0,
                  .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "set", .since = "1.0.0",
      .complexity = "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
      .summary = "Remove and return one or multiple random members from a set" },
    { .name = "sscan", .arity = -3, .exec = sscan_exec,
      .flags = CMD_READONLY,
      .keys = { { .flags = KS_RO_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "set", .since = "2.8.0",
      .complexity = "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", /* (Redis's text, both dots) */
      .summary = "Incrementally iterate Set elements" },
    { .name = "smove", .arity = 4, .exec = cmd_set_smove_exec, .plan = &cmd_set_smove_plan,
      .flags = CMD_WRITE | CMD_FAST | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE, .begin = 1, .last = 0,
                  .step = 1 },
                { .flags = CMD_KS_RW | CMD_KS_INSERT, .begin = 2, .last = 0, .step = 1 } },
      .group = "set", .since = "1.0.0", .complexity = "O(1)",
      .summary = "Move a member from one set to another" },
    { .name = "sinter", .arity = -2, .exec = cmd_set_sinter_exec, .plan = &cmd_set_sinter_plan,
      .flags = CMD_READONLY | CMD_MULTIKEY,
      .keys = { { .flags = KS_RO_ACCESS, .begin = 1, .last = -1, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output_order"),
      .group = "set", .since = "1.0.0",
      .complexity = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
      .summary = "Intersect multiple sets" },
    { .name = "sintercard", .arity = -3, .exec = cmd_set_sintercard_exec,
      .plan = &cmd_set_sintercard_plan,
      .flags = CMD_READONLY | CMD_MULTIKEY,
      .keys = { { .flags = KS_RO_ACCESS, .begin = 1, .keynum = true, .numkeys_at = 0,
                  .first_at = 1, .step = 1 } },
      .group = "set", .since = "7.0.0",
      .complexity = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
      .summary = "Intersect multiple sets and return the cardinality of the result" },
    { .name = "sinterstore", .arity = -3, .exec = cmd_set_sinterstore_exec,
      .plan = &cmd_set_sinterstore_plan,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 },
                { .flags = KS_RO_ACCESS, .begin = 2, .last = -1, .step = 1 } },
      .group = "set", .since = "1.0.0",
      .complexity = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
      .summary = "Intersect multiple sets and store the resulting set in a key" },
    { .name = "sunion", .arity = -2, .exec = cmd_set_sunion_exec, .plan = &cmd_set_sunion_plan,
      .flags = CMD_READONLY | CMD_MULTIKEY,
      .keys = { { .flags = KS_RO_ACCESS, .begin = 1, .last = -1, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output_order"),
      .group = "set", .since = "1.0.0",
      .complexity = "O(N) where N is the total number of elements in all given sets.",
      .summary = "Add multiple sets" },
    { .name = "sunionstore", .arity = -3, .exec = cmd_set_sunionstore_exec,
      .plan = &cmd_set_sunionstore_plan,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_OW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 },
                { .flags = KS_RO_ACCESS, .begin = 2, .last = -1, .step = 1 } },
      .group = "set", .since = "1.0.0",
      .complexity = "O(N) where N is the total number of elements in all given sets.",
      .summary = "Add multiple sets and store the resulting set in a key" },
    { .name = "sdiff", .arity = -2, .exec = cmd_set_sdiff_exec, .plan = &cmd_set_sdiff_plan,
      .flags = CMD_READONLY | CMD_MULTIKEY,
      .keys = { { .flags = KS_RO_ACCESS, .begin = 1, .last = -1, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output_order"),
      .group = "set", .since = "1.0.0",
      .complexity = "O(N) where N is the total number of elements in all given sets.",
      .summary = "Subtract multiple sets" },
    { .name = "sdiffstore", .arity = -3, .exec = cmd_set_sdiffstore_exec,
      .plan = &cmd_set_sdiffstore_plan,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_OW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 },
                { .flags = KS_RO_ACCESS, .begin = 2, .last = -1, .step = 1 } },
      .group = "set", .since = "1.0.0",
      .complexity = "O(N) where N is the total number of elements in all given sets.",
      .summary = "Subtract multiple sets and store the resulting set in a key" },
};
const size_t cmd_set_ndefs = sizeof cmd_set_defs / sizeof cmd_set_defs[0];
