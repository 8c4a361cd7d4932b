/* cmd_allshards.c — commands that touch every shard: DBSIZE (sum), KEYS
 * (concatenation), RANDOMKEY (a shard picked in proportion to its size),
 * FLUSHDB/FLUSHALL and SWAPDB (done on each shard), and SCAN, which walks
 * the shards one after the other: the low bits of its cursor name the shard,
 * the rest is that shard's kvmap cursor. Arguments are checked on the
 * connection's thread before anything runs; the parts run on their shards.
 * Everything but SCAN runs as one transaction over every shard (txn.h), so
 * a reader never sees a FLUSHALL or SWAPDB done on some shards only, and
 * DBSIZE and KEYS answer from one point in the global order. */
#include "server/commands/cmd_allshards.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_multi.h"
#include "server/net/conn.h"
#include "server/route/dispatch.h"
#include "server/util/glob.h"
#include "server/core/server.h"
#include "server/txn/txn.h"
#include "server/net/worker.h"
#include "server/net/reply_fifo.h"

/* SCAN's default COUNT, and Redis's bound on empty buckets visited per call
 * (COUNT * 10) so a sparse table does not make one call O(buckets). */
#define SCAN_DEFAULT_COUNT 10
#define SCAN_ITER_FACTOR 10
/* Longest cursor text we parse (a 64-bit number has 20 digits, plus sign). */
#define SCAN_CURSOR_MAX 32

/* ---- Whole commands on one shard (cmd_def.exec) -------------------------- */

static void dbsize_exec(struct cmd_ctx *c)
{
    resp_int(c->out, (int64_t)kvmap_count(c->db));
}

/* keys_visit's type filter when there is none, and when it names no type. */
#define SCAN_ANY_TYPE (-1)
#define SCAN_NO_TYPE (-2)

/* KEYS on one shard: matching keys as bulks into out; returns the count. */
struct keys_visit {
    const struct resp_arg *pat; /* pattern, NULL = every key */
    struct rbuf *out;           /* bulks go here */
    int64_t n;                  /* keys written */
    int type;                   /* SCAN TYPE: TVAL_* to keep, SCAN_ANY_TYPE,
                                   or SCAN_NO_TYPE (a name no type has) */
};

static void keys_visit(void *arg, const struct kventry *e)
{
    struct keys_visit *v = arg;
    if (v->type != SCAN_ANY_TYPE && kventry_type(e) != v->type)
        return;
    size_t klen;
    const char *k = kventry_key(e, &klen);
    if (v->pat && !glob_match(v->pat->ptr, v->pat->len, k, klen, false))
        return;
    resp_bulk(v->out, k, klen);
    v->n++;
}

static int64_t keys_collect(struct cmd_ctx *c, struct rbuf *out)
{
    const struct resp_arg *pat = &c->argv[1];
    struct keys_visit v = {
        .pat = (pat->len == 1 && pat->ptr[0] == '*') ? NULL : pat,
        .out = out,
        .n = 0,
        .type = SCAN_ANY_TYPE,
    };
    uint64_t cur = 0;
    do
        cur = kvmap_scan(c->db, cur, c->now_ms, keys_visit, &v);
    while (cur != 0);
    return v.n;
}

static void keys_exec(struct cmd_ctx *c)
{
    struct rbuf tmp;
    rbuf_init(&tmp);
    int64_t n = keys_collect(c, &tmp);
    resp_array(c->out, (size_t)n);
    if (tmp.oom)
        c->out->oom = true;
    else
        rbuf_append(c->out, tmp.ptr, tmp.len);
    rbuf_deinit(&tmp);
}

static void randomkey_exec(struct cmd_ctx *c)
{
    struct kventry *e = kvmap_random(c->db, c->now_ms);
    if (!e) {
        resp_null(c->out, c->proto);
        return;
    }
    size_t klen;
    const char *k = kventry_key(e, &klen);
    resp_bulk(c->out, k, klen);
}

/* Empty database db of this shard and report it (WATCH, dirty keys). */
static void clear_db(struct cmd_ctx *c, unsigned db)
{
    struct kvmap *m = shard_db(c->shard, db);
    uint64_t n = kvmap_count(m);
    kvmap_clear(m);
    cmd_db_modified(c, db, n);
}

static void flushdb_exec(struct cmd_ctx *c)
{
    clear_db(c, c->dbidx);
    cmd_reply_ok(c);
}

static void flushall_exec(struct cmd_ctx *c)
{
    for (unsigned i = 0; i < c->shard->ndb; i++)
        clear_db(c, i);
    cmd_reply_ok(c);
}

/* SWAPDB's arguments, validated by the planner already. */
static void swapdb_exec(struct cmd_ctx *c)
{
    int64_t a = 0, b = 0;
    int64str_parse(c->argv[1].ptr, c->argv[1].len, &a);
    int64str_parse(c->argv[2].ptr, c->argv[2].len, &b);
    struct kvmap *t = c->shard->db[a];
    c->shard->db[a] = c->shard->db[b];
    c->shard->db[b] = t;
    cmd_db_modified(c, (unsigned)a, 1);
    cmd_db_modified(c, (unsigned)b, 0);
    cmd_reply_ok(c);
}

/* RENAME / RENAMENX with both keys on this shard. */

/* ---- SCAN ----------------------------------------------------------------- */

/* Bits of the cursor that name the shard: enough for nworkers values. */
static unsigned scan_shard_bits(unsigned n)
{
    unsigned bits = 0;
    while ((1u << bits) < n)
        bits++;
    return bits;
}

/* Redis's parseScanCursorOrReply: strtoul rules (so "-1" wraps and "" is
 * 0), no leading space, nothing after the digits. */
static bool scan_parse_cursor(const struct resp_arg *a, uint64_t *out)
{
    char buf[SCAN_CURSOR_MAX + 1];
    if (a->len > SCAN_CURSOR_MAX || memchr(a->ptr, '\0', a->len))
        return false;
    memcpy(buf, a->ptr, a->len);
    buf[a->len] = '\0';
    if (buf[0] == ' ' || (buf[0] >= '\t' && buf[0] <= '\r'))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return false;
    *out = v;
    return true;
}

/* The options after the cursor. Returns false after writing the error. */
struct scan_opts {
    int64_t count;                /* buckets-worth of keys to aim for */
    const struct resp_arg *match; /* NULL = every key */
    int type;                     /* TYPE filter, as keys_visit's */
};

static bool scan_parse_opts(size_t argc, const struct resp_arg *argv, struct scan_opts *o,
                            struct rbuf *err)
{
    o->count = SCAN_DEFAULT_COUNT;
    o->match = NULL;
    o->type = SCAN_ANY_TYPE;
    for (size_t i = 2; i < argc;) {
        size_t left = argc - i;
        if (cmd_arg_eq(&argv[i], "count") && left >= 2) {
            if (!int64str_parse(argv[i + 1].ptr, argv[i + 1].len, &o->count)) {
                resp_error(err, "ERR value is not an integer or out of range");
                return false;
            }
            if (o->count < 1) {
                resp_error(err, "ERR syntax error");
                return false;
            }
            i += 2;
        } else if (cmd_arg_eq(&argv[i], "match") && left >= 2) {
            const struct resp_arg *p = &argv[i + 1];
            o->match = (p->len == 1 && p->ptr[0] == '*') ? NULL : p;
            i += 2;
        } else if (cmd_arg_eq(&argv[i], "type") && left >= 2) {
            /* A name no type has is accepted and filters everything out,
             * as in Redis 7.0. The last TYPE wins. */
            o->type = SCAN_NO_TYPE;
            for (int t = 0; t <= TVAL_TYPE_MAX; t++)
                if (cmd_arg_eq(&argv[i + 1], tval_type_name(t)))
                    o->type = t;
            i += 2;
        } else {
            resp_error(err, "ERR syntax error");
            return false;
        }
    }
    return true;
}

static void scan_exec(struct cmd_ctx *c)
{
    struct scan_opts o;
    uint64_t cursor = 0;
    scan_parse_cursor(&c->argv[1], &cursor); /* checked by the planner */
    if (!scan_parse_opts(c->argc, c->argv, &o, c->out))
        return;
    unsigned n = server.nworkers, bits = scan_shard_bits(n);
    uint64_t kvcur = cursor >> bits;
    struct rbuf keys;
    rbuf_init(&keys);
    struct keys_visit v = {.pat = o.match, .out = &keys, .n = 0, .type = o.type};
    /* Redis visits at most COUNT*10 buckets per call; do the same in scan
     * steps (each step visits one bucket chain). */
    int64_t budget = o.count > INT64_MAX / SCAN_ITER_FACTOR ? INT64_MAX
                                                            : o.count * SCAN_ITER_FACTOR;
    do {
        kvcur = kvmap_scan(c->db, kvcur, c->now_ms, keys_visit, &v);
    } while (kvcur != 0 && v.n < o.count && --budget > 0);
    uint64_t next;
    if (kvcur != 0)
        next = (kvcur << bits) | c->shard->id;
    else
        next = c->shard->id + 1 < n ? c->shard->id + 1 : 0;
    char num[24];
    int len = snprintf(num, sizeof num, "%llu", (unsigned long long)next);
    resp_array(c->out, 2);
    resp_bulk(c->out, num, (size_t)len);
    resp_array(c->out, (size_t)v.n);
    if (keys.oom)
        c->out->oom = true;
    else
        rbuf_append(c->out, keys.ptr, keys.len);
    rbuf_deinit(&keys);
}


/* ---- Parts (run on each shard of a fan-out) ------------------------------ */

static void dbsize_part(struct cmd_ctx *c)
{
    ((struct req *)c->priv)->ival = (int64_t)kvmap_count(c->db);
}

static void keys_part(struct cmd_ctx *c)
{
    ((struct req *)c->priv)->ival = keys_collect(c, c->out);
}

/* A random key (bulk in out, if any) and the shard's key count, so the
 * merge can pick a shard in proportion to its size. */
static void randomkey_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    r->ival = (int64_t)kvmap_count(c->db);
    struct kventry *e = kvmap_random(c->db, c->now_ms);
    if (e) {
        size_t klen;
        const char *k = kventry_key(e, &klen);
        rbuf_append(c->out, k, klen);
        r->uval = 1;
    }
}

static void flushdb_part(struct cmd_ctx *c)
{
    clear_db(c, c->dbidx);
}

static void flushall_part(struct cmd_ctx *c)
{
    for (unsigned i = 0; i < c->shard->ndb; i++)
        clear_db(c, i);
}

static void swapdb_part(struct cmd_ctx *c)
{
    struct rbuf ignore;
    rbuf_init(&ignore);
    struct rbuf *out = c->out;
    c->out = &ignore;
    swapdb_exec(c);
    c->out = out;
    rbuf_deinit(&ignore);
}

/* Read argv[1] (and delete it if argv[0] is "take"): the raw value goes to
 * out, its TTL to ival, uval says whether it existed. */

/* ---- Merging ------------------------------------------------------------- */

static bool keys_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    (void)f;
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (parts[i]->out.oom) {
            resp_error(out, "ERR out of memory");
            return true;
        }
        total += parts[i]->ival;
    }
    resp_array(out, (size_t)total);
    for (size_t i = 0; i < n; i++)
        rbuf_append(out, parts[i]->out.ptr, parts[i]->out.len);
    return true;
}

/* A small per-thread generator for RANDOMKEY's choice of shard. */
static uint64_t rand_u64(void)
{
    static _Thread_local uint64_t x;
    if (x == 0)
        x = (uint64_t)clock_mono_ns() ^ ((uint64_t)(uintptr_t)&x << 17) ^ 0x9e3779b97f4a7c15u;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

static bool randomkey_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (parts[i]->uval)
            total += (uint64_t)parts[i]->ival;
    if (total == 0) {
        resp_null(out, f->proto);
        return true;
    }
    uint64_t pick = rand_u64() % total;
    for (size_t i = 0; i < n; i++) {
        if (!parts[i]->uval)
            continue;
        if (pick < (uint64_t)parts[i]->ival) {
            resp_bulk(out, parts[i]->out.ptr, parts[i]->out.len);
            return true;
        }
        pick -= (uint64_t)parts[i]->ival;
    }
    resp_null(out, f->proto);
    return true;
}

/* ---- Standalone DBSIZE, FLUSHDB, FLUSHALL, SWAPDB: txn_all_shards --------- */

/* One of these commands in flight: each shard writes its own count. */
struct simple_job {
    struct conn *c;              /* the client (kept alive by inflight) */
    struct slot *slot;           /* its reply slot */
    const struct cmd_def *d;     /* which command */
    unsigned db;                 /* the client's database */
    int64_t a, b;                /* SWAPDB's databases (checked) */
    uint64_t t0;                 /* start, for the slow log (dispatch.h) */
    size_t argc;                 /* the command as sent, for the slow log: */
    struct resp_arg argv[3];     /* views into text (arity <= 3) */
    char text[3][24];            /* checked arguments are short; longer
                                    ones are cut, only the log sees them */
    int64_t counts[];            /* per shard: DBSIZE's key counts */
};

/* The commands' shares under txn_all_shards (cmd_plan.all_shards);
 * ctx->priv is the job. */
static void dbsize_all(struct cmd_ctx *c)
{
    struct simple_job *j = c->priv;
    j->counts[c->shard->id] = (int64_t)kvmap_count(c->db);
}

static void flushdb_all(struct cmd_ctx *c)
{
    clear_db(c, c->dbidx);
}

static void flushall_all(struct cmd_ctx *c)
{
    flushall_part(c);
}

static void swapdb_all(struct cmd_ctx *c)
{
    struct simple_job *j = c->priv;
    struct kvmap *t = c->shard->db[j->a];
    c->shard->db[j->a] = c->shard->db[j->b];
    c->shard->db[j->b] = t;
    cmd_db_modified(c, (unsigned)j->a, 1);
    cmd_db_modified(c, (unsigned)j->b, 0);
}

static void simple_fn(struct shard *s, void *arg)
{
    struct simple_job *j = arg;
    struct rbuf none;
    rbuf_init(&none);
    struct cmd_ctx ctx = {
        .shard = s,
        .db = shard_db(s, j->db),
        .dbidx = j->db,
        .proto = RESP2, /* (no reply: the merge writes it) */
        .out = &none,
        .now_ms = clock_wall_ms(),
        .priv = j,
    };
    cmd_call_part(j->d, j->d->plan->all_shards, &ctx);
    rbuf_deinit(&none);
}

static void simple_done(void *arg)
{
    struct simple_job *j = arg;
    struct conn *c = j->c;
    if (j->d->plan->sum) {
        int64_t sum = 0;
        for (unsigned i = 0; i < server.nworkers; i++)
            sum += j->counts[i];
        resp_int(&j->slot->out, sum);
    } else {
        resp_simple(&j->slot->out, "OK");
    }
    dispatch_slot_complete(c, j->slot);
    c->flags &= ~CONN_BARRIER;
    dispatch_split_done(c, j->argc, j->argv, j->t0);
    free(j);
    conn_inflight_done(c);
}

/* Run d on every shard at one point of the global order (txn_all_shards:
 * shared for DBSIZE, exclusive for the others). Arguments are checked. */
static void simple_all_shards(struct conn *c, const struct cmd_def *d, size_t argc,
                              const struct resp_arg *argv)
{
    struct simple_job *j = calloc(1, sizeof *j + server.nworkers * sizeof j->counts[0]);
    struct slot *sl = j ? reply_fifo_slot_new(c) : NULL;
    if (!sl) {
        free(j);
        cmd_multi_reply_error(c, "ERR out of memory");
        return;
    }
    j->c = c;
    j->slot = sl;
    j->d = d;
    j->db = c->db;
    j->t0 = dispatch_split_take();
    j->argc = argc < 3 ? argc : 3;
    for (size_t i = 0; i < j->argc; i++) {
        size_t n = argv[i].len < sizeof j->text[i] ? argv[i].len : sizeof j->text[i];
        memcpy(j->text[i], argv[i].ptr, n);
        j->argv[i] = (struct resp_arg){j->text[i], n};
    }
    if (argc == 3) { /* SWAPDB */
        int64str_parse(argv[1].ptr, argv[1].len, &j->a);
        int64str_parse(argv[2].ptr, argv[2].len, &j->b);
    }
    c->inflight++;
    /* Later commands of this client see the result (they may run on this
     * worker's shard before the transaction reaches it otherwise). */
    c->flags |= CONN_BARRIER;
    if (txn_all_shards(simple_fn, j, simple_done, j, !(d->flags & CMD_READONLY)) != 0) {
        resp_error(&sl->out, "ERR out of memory");
        dispatch_slot_complete(c, sl);
        c->flags &= ~CONN_BARRIER;
        free(j);
        conn_inflight_done(c);
    }
}

/* ---- Planning ------------------------------------------------------------ */

/* Run d on every shard, its arguments checked: the whole command when
 * there is one shard; standalone at one point of the global order
 * (txn_all_shards) when it has such a form; else a fan-out in one
 * transaction over every shard (inside EXEC: EXEC's). */
static void allshards_go(struct mplan *p, const struct cmd_def *d, size_t argc,
                         const struct resp_arg *argv)
{
    if (server.nworkers == 1) {
        /* One shard: the whole command there, after any transaction. */
        cmd_multi_plan_route(p, d, 0, d->exec, argc, argv);
        return;
    }
    if (!p->t && d->plan->all_shards) {
        simple_all_shards(p->c, d, argc, argv);
        return;
    }
    struct fan *f = cmd_multi_plan_fan(p, d, argc, argv, d->plan->step, true);
    if (!f)
        return;
    for (unsigned s = 0; s < server.nworkers; s++) {
        if (!dispatch_part(f, s, d->plan->part, f->argc, f->argv)) {
            dispatch_fan_abort(f, "ERR out of memory");
            return;
        }
    }
    cmd_multi_plan_go(p, f);
}

/* SCAN: one shard per call, the one the cursor names. */
static void scan_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                      const struct resp_arg *argv)
{
    uint64_t cursor;
    struct scan_opts o;
    struct rbuf err;
    rbuf_init(&err);
    bool ok = scan_parse_cursor(&argv[1], &cursor);
    if (!ok)
        resp_error(&err, "ERR invalid cursor");
    else
        ok = scan_parse_opts(argc, argv, &o, &err);
    if (!ok) {
        struct rbuf *out = cmd_multi_plan_reply_buf(p);
        if (out)
            rbuf_append(out, err.ptr, err.len);
        rbuf_deinit(&err);
        return;
    }
    rbuf_deinit(&err);
    unsigned bits = scan_shard_bits(server.nworkers);
    uint64_t shard = cursor & ((1u << bits) - 1);
    if (shard >= server.nworkers) {
        /* Not a cursor we made: there is nothing left to see. */
        struct rbuf *out = cmd_multi_plan_reply_buf(p);
        if (!out)
            return;
        resp_array(out, 2);
        resp_bulk(out, "0", 1);
        resp_array(out, 0);
        return;
    }
    cmd_multi_plan_route(p, d, (unsigned)shard, d->exec, argc, argv);
}

/* FLUSHDB and FLUSHALL: [ASYNC|SYNC] checked before any shard runs. */
static void flush_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                       const struct resp_arg *argv)
{
    if (argc > 2 ||
        (argc == 2 && !cmd_arg_eq(&argv[1], "async") && !cmd_arg_eq(&argv[1], "sync"))) {
        cmd_multi_plan_error(p, "ERR syntax error");
        return;
    }
    allshards_go(p, d, argc, argv);
}

static void swapdb_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                        const struct resp_arg *argv)
{
    int64_t a, b;
    if (!int64str_parse(argv[1].ptr, argv[1].len, &a)) {
        cmd_multi_plan_error(p, "ERR invalid first DB index");
        return;
    }
    if (!int64str_parse(argv[2].ptr, argv[2].len, &b)) {
        cmd_multi_plan_error(p, "ERR invalid second DB index");
        return;
    }
    int64_t ndb = p->c->w->set.databases;
    if (a < 0 || a >= ndb || b < 0 || b >= ndb) {
        cmd_multi_plan_error(p, "ERR DB index is out of range");
        return;
    }
    allshards_go(p, d, argc, argv);
}

void cmd_allshards_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                        const struct resp_arg *argv)
{
    if (d->plan->plan)
        d->plan->plan(p, d, argc, argv);
    else
        allshards_go(p, d, argc, argv);
}

static const struct cmd_plan dbsize_plan = {
    .part = dbsize_part, .step = cmd_multi_sum_step, .all_shards = dbsize_all, .sum = true};
static const struct cmd_plan keys_plan = {.part = keys_part, .step = keys_step};
static const struct cmd_plan scan_plan_def = {.plan = scan_plan};
static const struct cmd_plan randomkey_plan = {.part = randomkey_part, .step = randomkey_step};
static const struct cmd_plan flushdb_plan = {
    .plan = flush_plan, .part = flushdb_part, .step = cmd_multi_ok_step,
    .all_shards = flushdb_all};
static const struct cmd_plan flushall_plan = {
    .plan = flush_plan, .part = flushall_part, .step = cmd_multi_ok_step,
    .all_shards = flushall_all};
static const struct cmd_plan swapdb_plan_def = {
    .plan = swapdb_plan, .part = swapdb_part, .step = cmd_multi_ok_step,
    .all_shards = swapdb_all};

/* Arity, flags and key positions as Redis 7.0's COMMAND INFO reports them. */
const struct cmd_def cmd_allshards_defs[] = {
    { .name = "dbsize", .arity = 1, .exec = dbsize_exec,
      .plan = &dbsize_plan,
      .flags = CMD_READONLY | CMD_FAST | CMD_ALLSHARDS,
      .acl = CMD_ACL_KEYSPACE,
      .tips = CMD_TIPS("request_policy:all_shards", "response_policy:agg_sum"),
      .group = "server", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Return the number of keys in the selected database" },
    { .name = "keys", .arity = 2, .exec = keys_exec,
      .plan = &keys_plan,
      .flags = CMD_READONLY | CMD_ALLSHARDS,
      .acl = CMD_ACL_DANGEROUS,
      .tips = CMD_TIPS("request_policy:all_shards", "nondeterministic_output_order"),
      .group = "generic", .since = "1.0.0",
      .complexity = "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
      .summary = "Find all keys matching the given pattern" },
    { .name = "scan", .arity = -2, .exec = scan_exec,
      .plan = &scan_plan_def,
      .flags = CMD_READONLY | CMD_ALLSHARDS,
      .tips = CMD_TIPS("nondeterministic_output", "request_policy:special"),
      .group = "generic", .since = "2.8.0",
      .complexity = "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
      .summary = "Incrementally iterate the keys space" },
    { .name = "randomkey", .arity = 1, .exec = randomkey_exec,
      .plan = &randomkey_plan,
      .flags = CMD_READONLY | CMD_ALLSHARDS,
      .tips = CMD_TIPS("request_policy:all_shards", "nondeterministic_output"),
      .group = "generic", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Return a random key from the keyspace" },
    { .name = "flushdb", .arity = -1, .exec = flushdb_exec,
      .plan = &flushdb_plan,
      .flags = CMD_WRITE | CMD_ALLSHARDS,
      .acl = CMD_ACL_DANGEROUS | CMD_ACL_KEYSPACE,
      .tips = CMD_TIPS("request_policy:all_shards", "response_policy:all_succeeded"),
      .group = "server", .since = "1.0.0",
      .complexity = "O(N) where N is the number of keys in the selected database",
      .summary = "Remove all keys from the current database" },
    { .name = "flushall", .arity = -1, .exec = flushall_exec,
      .plan = &flushall_plan,
      .flags = CMD_WRITE | CMD_ALLSHARDS,
      .acl = CMD_ACL_DANGEROUS | CMD_ACL_KEYSPACE,
      .tips = CMD_TIPS("request_policy:all_shards", "response_policy:all_succeeded"),
      .group = "server", .since = "1.0.0",
      .complexity = "O(N) where N is the total number of keys in all databases",
      .summary = "Remove all keys from all databases" },
    { .name = "swapdb", .arity = 3, .exec = swapdb_exec,
      .plan = &swapdb_plan_def,
      .flags = CMD_WRITE | CMD_FAST | CMD_ALLSHARDS,
      .acl = CMD_ACL_DANGEROUS | CMD_ACL_KEYSPACE,
      .group = "server", .since = "4.0.0",
      .complexity = "O(N) where N is the count of clients watching or blocking on keys from both databases.",
      .summary = "Swaps two Redis databases" },
};
const size_t cmd_allshards_ndefs = sizeof cmd_allshards_defs / sizeof cmd_allshards_defs[0];
