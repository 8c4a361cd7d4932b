/* cmd_zset.c — the single-key sorted set commands that work on members one
 * at a time (ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZPOPMIN
 * ZPOPMAX ZRANDMEMBER ZSCAN), with Redis 7.0's replies and errors, and the
 * helpers the other cmd_zset*.c files share (score parsing, replies,
 * storing a result). Exec functions run on the thread that owns the key's
 * shard; the helpers on any thread unless they say otherwise. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/int64str.h"
#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_zset.h"
#include "server/util/glob.h"
#include "shard/tset.h"
#include "shard/zset.h"

/* ZRANDMEMBER with a negative count repeats members, so its reply is not
 * bounded by the set's size; as SRANDMEMBER (cmd_set.c) we refuse counts
 * over 2^27 with Redis's range error rather than grow a buffer until the
 * host runs out. */
#define ZSET_RANDOM_REPEAT_MAX ((int64_t)1 << 27)

/* Scores longer than this are copied to the heap to be NUL-terminated
 * for strtod; shorter ones use the stack. */
#define SCORE_STACK_MAX 128

/* ---- Shared helpers ------------------------------------------------------ */

void cmd_zset_limits(struct zset_limits *z)
{
    struct tval_limits l;
    tval_limits_get(&l);
    z->max_listpack_entries = l.zset_max_listpack_entries;
    z->max_listpack_value = l.zset_max_listpack_value;
}

bool cmd_zset_parse_score(const char *s, size_t len, double *d)
{
    char sbuf[SCORE_STACK_MAX];
    if (len == 0 || s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
        return false;
    char *buf = len < sizeof sbuf ? sbuf : malloc(len + 1);
    if (!buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    bool ok = (size_t)(end - buf) == len && !isnan(v) &&
              !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO));
    if (buf != sbuf)
        free(buf);
    if (ok)
        *d = v;
    return ok;
}

void cmd_zset_reply_elem(struct rbuf *out, int proto, const void *m, size_t len, double score,
                         bool withscores, bool nested)
{
    if (withscores && nested)
        resp_array(out, 2);
    resp_bulk(out, m, len);
    if (withscores)
        resp_double(out, proto, score);
}

int cmd_zset_store(struct cmd_ctx *c, const char *event, const void *key, size_t klen,
                   const struct zpair *res, size_t n)
{
    if (n == 0) {
        if (kvmap_del(c->db, key, klen, c->now_ms) <= 0)
            return 0;
        cmd_key_modified(c, NOTIFY_GENERIC, "del", key, klen);
        return 1;
    }
    struct mem_acct *a = kvmap_acct(c->db);
    struct zset_limits lim;
    cmd_zset_limits(&lim);
    size_t maxlen = 0;
    for (size_t i = 0; i < n; i++)
        if (res[i].len > maxlen)
            maxlen = res[i].len;
    struct tval *tv = zset_create(a, &lim, n, maxlen);
    if (!tv)
        return KVMAP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int out;
        int rc = zset_add(a, tv, &lim, res[i].m, res[i].len, res[i].score, 0, &out, NULL);
        if (rc < 0) {
            tval_free(a, tv);
            return rc == ZSET_ETOOBIG ? KVMAP_ETOOBIG : KVMAP_ENOMEM;
        }
    }
    int rc = kvmap_set_tval(c->db, key, klen, tv, KVMAP_NO_EXPIRE, c->now_ms);
    if (rc < 0) {
        tval_free(a, tv);
        return rc;
    }
    cmd_key_modified(c, NOTIFY_ZSET, event, key, klen);
    return 1;
}

static struct tval *zset_of(struct kventry *e)
{
    return e ? kventry_tval(e) : NULL;
}

static void reply_oom(struct cmd_ctx *c)
{
    cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
}

/* ---- ZADD ZINCRBY -------------------------------------------------------- */

/* Redis's zaddGenericCommand: options, then score-member pairs. */
static void zadd_generic(struct cmd_ctx *c, int in)
{
    const struct resp_arg *key = &c->argv[1];
    size_t at = 2;
    bool ch = false;
    for (; at < c->argc; at++) {
        const struct resp_arg *o = &c->argv[at];
        if (cmd_arg_eq(o, "nx"))
            in |= ZSET_IN_NX;
        else if (cmd_arg_eq(o, "xx"))
            in |= ZSET_IN_XX;
        else if (cmd_arg_eq(o, "ch"))
            ch = true;
        else if (cmd_arg_eq(o, "incr"))
            in |= ZSET_IN_INCR;
        else if (cmd_arg_eq(o, "gt"))
            in |= ZSET_IN_GT;
        else if (cmd_arg_eq(o, "lt"))
            in |= ZSET_IN_LT;
        else
            break;
    }
    size_t elements = c->argc - at;
    bool incr = in & ZSET_IN_INCR, nx = in & ZSET_IN_NX, xx = in & ZSET_IN_XX;
    bool gt = in & ZSET_IN_GT, lt = in & ZSET_IN_LT;
    if (elements % 2 || elements == 0) {
        cmd_reply_syntax(c);
        return;
    }
    elements /= 2;
    if (nx && xx) {
        resp_error(c->out, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        resp_error(c->out, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        resp_error(c->out, "ERR INCR option supports a single increment-element pair");
        return;
    }
    double *scores = malloc(elements * sizeof *scores);
    if (!scores) {
        reply_oom(c);
        return;
    }
    for (size_t j = 0; j < elements; j++) {
        const struct resp_arg *s = &c->argv[at + 2 * j];
        if (!cmd_zset_parse_score(s->ptr, s->len, &scores[j])) {
            resp_error(c->out, "ERR value is not a valid float");
            free(scores);
            return;
        }
    }
    bool wrong;
    struct kventry *e = cmd_lookup_type_w(c, key, TVAL_ZSET, &wrong);
    if (wrong) {
        free(scores);
        return;
    }
    struct mem_acct *a = kvmap_acct(c->db);
    struct zset_limits lim;
    cmd_zset_limits(&lim);
    struct tval *tv = zset_of(e);
    int64_t added = 0, updated = 0, processed = 0;
    double newscore = 0;
    int err = 0;
    if (!tv && !xx) {
        /* Redis 7.0 starts a listpack unless zset-max-listpack-entries is
         * 0 or the first member is over the value limit (7.2 also counts
         * the pairs); the adds convert it from there. */
        tv = zset_create(a, &lim, 1, c->argv[at + 1].len);
        int rc = tv ? kvmap_set_tval(c->db, key->ptr, key->len, tv, KVMAP_NO_EXPIRE, c->now_ms)
                    : KVMAP_ENOMEM;
        if (rc < 0) {
            tval_free(a, tv);
            free(scores);
            cmd_reply_kvmap_error(c, rc);
            return;
        }
    }
    for (size_t j = 0; tv && j < elements; j++) {
        const struct resp_arg *m = &c->argv[at + 2 * j + 1];
        int out = 0;
        int rc = zset_add(a, tv, &lim, m->ptr, m->len, scores[j], in, &out, &newscore);
        if (rc < 0) {
            err = rc;
            break;
        }
        if (out & ZSET_OUT_ADDED)
            added++;
        if (out & ZSET_OUT_UPDATED)
            updated++;
        if (!(out & ZSET_OUT_NOP))
            processed++;
    }
    free(scores);
    if (added || updated)
        cmd_key_modified(c, NOTIFY_ZSET, incr ? "zincr" : "zadd", key->ptr, key->len);
    if (tv && zset_len(tv) == 0) /* a new key nothing was added to (an error) */
        kvmap_del(c->db, key->ptr, key->len, c->now_ms);
    if (err == ZSET_ENAN)
        resp_error(c->out, "ERR resulting score is not a number (NaN)");
    else if (err == ZSET_ETOOBIG)
        cmd_reply_kvmap_error(c, KVMAP_ETOOBIG);
    else if (err < 0)
        reply_oom(c);
    else if (incr && processed)
        resp_double(c->out, c->proto, newscore);
    else if (incr)
        resp_null(c->out, c->proto);
    else
        resp_int(c->out, ch ? added + updated : added);
}

static void zadd_exec(struct cmd_ctx *c)
{
    zadd_generic(c, 0);
}

static void zincrby_exec(struct cmd_ctx *c)
{
    /* ZINCRBY key incr member is ZADD key INCR incr member. */
    struct resp_arg argv[5] = {c->argv[0], c->argv[1], {"incr", 4}, c->argv[2], c->argv[3]};
    const struct resp_arg *saved = c->argv;
    size_t sargc = c->argc;
    c->argv = argv;
    c->argc = 5;
    zadd_generic(c, 0);
    c->argv = saved;
    c->argc = sargc;
}

/* ---- ZREM ---------------------------------------------------------------- */

static void zrem_exec(struct cmd_ctx *c)
{
    const struct resp_arg *key = &c->argv[1];
    bool wrong;
    struct kventry *e = cmd_lookup_type_w(c, key, TVAL_ZSET, &wrong);
    if (wrong)
        return;
    int64_t removed = 0;
    if (e) {
        struct tval *tv = zset_of(e);
        struct mem_acct *a = kvmap_acct(c->db);
        for (size_t j = 2; j < c->argc && zset_len(tv) > 0; j++)
            removed += zset_del(a, tv, c->argv[j].ptr, c->argv[j].len);
        if (removed)
            cmd_key_changed_drop_empty(c, NOTIFY_ZSET, "zrem", key, tv);
    }
    resp_int(c->out, removed);
}

/* ---- Reads --------------------------------------------------------------- */

static void zcard_exec(struct cmd_ctx *c)
{
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_ZSET, &wrong);
    if (!wrong)
        resp_int(c->out, e ? (int64_t)zset_len(zset_of(e)) : 0);
}

static void zscore_exec(struct cmd_ctx *c)
{
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_ZSET, &wrong);
    if (wrong)
        return;
    double s;
    if (e && zset_score(zset_of(e), c->argv[2].ptr, c->argv[2].len, &s))
        resp_double(c->out, c->proto, s);
    else
        resp_null(c->out, c->proto);
}

static void zmscore_exec(struct cmd_ctx *c)
{
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_ZSET, &wrong);
    if (wrong)
        return;
    resp_array(c->out, c->argc - 2);
    for (size_t j = 2; j < c->argc; j++) {
        double s;
        if (e && zset_score(zset_of(e), c->argv[j].ptr, c->argv[j].len, &s))
            resp_double(c->out, c->proto, s);
        else
            resp_null(c->out, c->proto);
    }
}

static void zrank_generic(struct cmd_ctx *c, bool rev)
{
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_ZSET, &wrong);
    if (wrong)
        return;
    int64_t r = e ? zset_rank(zset_of(e), c->argv[2].ptr, c->argv[2].len, rev, NULL) : -1;
    if (r >= 0)
        resp_int(c->out, r);
    else
        resp_null(c->out, c->proto);
}

static void zrank_exec(struct cmd_ctx *c)
{
    zrank_generic(c, false);
}

static void zrevrank_exec(struct cmd_ctx *c)
{
    zrank_generic(c, true);
}

/* ---- ZPOPMIN ZPOPMAX ----------------------------------------------------- */

/* Redis's genericZpopCommand for one key: pop up to count elements from
 * the low end (or the high end when max), replying each; the caller has
 * written the reply's header. "zpopmin"/"zpopmax", then "del" if it
 * emptied the set. */
static void pop_elems(struct cmd_ctx *c, const struct resp_arg *key, struct tval *tv, bool max,
                      size_t count, bool nested)
{
    struct mem_acct *a = kvmap_acct(c->db);
    size_t len = zset_len(tv);
    if (count > len)
        count = len;
    size_t first = max ? len - count : 0;
    struct zset_iter it;
    struct zset_elem e;
    /* Reply first (the views die with the removal), then remove the
     * range in one step. */
    zset_iter_init(&it, tv, max ? len - 1 : 0, max);
    for (size_t i = 0; i < count && zset_iter_next(&it, &e); i++)
        cmd_zset_reply_elem(c->out, c->proto, e.m, e.len, e.score, true, nested);
    zset_del_range(a, tv, first, first + count);
    cmd_key_changed_drop_empty(c, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", key, tv);
}

void cmd_zset_pop(struct cmd_ctx *c, const struct resp_arg *key, struct tval *tv, bool max,
                  size_t count, bool nested)
{
    pop_elems(c, key, tv, max, count, nested);
}

static void zpop_generic(struct cmd_ctx *c, bool max)
{
    if (c->argc > 3) {
        cmd_reply_syntax(c);
        return;
    }
    int64_t count = -1;
    if (c->argc == 3 && (!int64str_parse(c->argv[2].ptr, c->argv[2].len, &count) || count < 0)) {
        resp_error(c->out, "ERR value is out of range, must be positive");
        return;
    }
    bool nested = c->proto == RESP3 && count != -1;
    bool wrong;
    struct kventry *e = cmd_lookup_type_probe(c, &c->argv[1], TVAL_ZSET, &wrong);
    if (wrong)
        return;
    if (!e || count == 0) {
        resp_array(c->out, 0);
        return;
    }
    e = kvmap_find_w(c->db, c->argv[1].ptr, c->argv[1].len, c->now_ms);
    struct tval *tv = zset_of(e);
    size_t n = count == -1 ? 1 : (size_t)count;
    size_t len = zset_len(tv);
    size_t rangelen = n > len ? len : n;
    resp_array(c->out, nested ? rangelen : rangelen * 2);
    pop_elems(c, &c->argv[1], tv, max, n, nested);
}

static void zpopmin_exec(struct cmd_ctx *c)
{
    zpop_generic(c, false);
}

static void zpopmax_exec(struct cmd_ctx *c)
{
    zpop_generic(c, true);
}

/* ---- ZRANDMEMBER --------------------------------------------------------- */

/* Random access to a set's elements: a listpack's are listed once (at most
 * zset-max-listpack-entries of them; zset_at would walk the listpack on
 * every pick), a tree answers by rank in O(log n). */
struct picker {
    const struct tval *tv;  /* the set */
    struct zset_elem *lp;   /* a listpack's elements in order, or NULL */
};

static int picker_init(struct picker *p, const struct tval *tv)
{
    p->tv = tv;
    p->lp = NULL;
    if (tv->enc != TVAL_ENC_LISTPACK)
        return 0;
    size_t n = zset_len(tv), i = 0;
    p->lp = malloc((n ? n : 1) * sizeof *p->lp);
    if (!p->lp)
        return -1;
    struct zset_iter it;
    zset_iter_init(&it, tv, 0, false);
    /* (An integer member's text lands in its own element's buf.) */
    while (i < n && zset_iter_next(&it, &p->lp[i]))
        i++;
    return 0;
}

static void reply_rank(struct cmd_ctx *c, const struct picker *p, size_t r, bool ws)
{
    struct zset_elem e;
    const struct zset_elem *x = &e;
    if (p->lp)
        x = &p->lp[r];
    else
        zset_at(p->tv, r, &e);
    cmd_zset_reply_elem(c->out, c->proto, x->m, x->len, x->score, ws, c->proto == RESP3);
}

/* count distinct random elements of tv (count < its size): Floyd's
 * sampling of ranks, replied in the order picked. */
static void random_distinct(struct cmd_ctx *c, const struct picker *p, size_t count, bool ws)
{
    size_t size = zset_len(p->tv);
    uint64_t *picked = malloc(count * sizeof *picked);
    /* An open-addressing set of picked ranks, twice the size needed. */
    size_t cap = 16;
    while (cap < count * 2)
        cap *= 2;
    uint64_t *slots = malloc(cap * sizeof *slots);
    if (!picked || !slots) {
        free(picked);
        free(slots);
        reply_oom(c);
        return;
    }
    memset(slots, 0xff, cap * sizeof *slots);
    size_t k = 0;
    for (size_t j = size - count; j < size; j++) {
        uint64_t t = tset_rand() % (j + 1), pick = t;
        for (int pass = 0; pass < 2; pass++) {
            size_t h = (size_t)(pick * 0x9E3779B97F4A7C15ull) & (cap - 1);
            bool seen = false;
            while (slots[h] != UINT64_MAX) {
                if (slots[h] == pick) {
                    seen = true;
                    break;
                }
                h = (h + 1) & (cap - 1);
            }
            if (!seen) {
                slots[h] = pick;
                picked[k++] = pick;
                break;
            }
            pick = j; /* t was taken: take j, which never was */
        }
    }
    resp_array(c->out, ws && c->proto != RESP3 ? k * 2 : k);
    for (size_t i = 0; i < k; i++)
        reply_rank(c, p, (size_t)picked[i], ws);
    free(picked);
    free(slots);
}

static void zrandmember_exec(struct cmd_ctx *c)
{
    bool ws = false;
    int64_t l = 0;
    if (c->argc >= 3) {
        if (c->argc > 4 || (c->argc == 4 && !cmd_arg_eq(&c->argv[3], "withscores"))) {
            cmd_reply_syntax(c);
            return;
        }
        ws = c->argc == 4;
        if (!cmd_arg_int64(c, &c->argv[2], &l))
            return;
        if (l == INT64_MIN) {
            resp_error(c->out, "ERR value is out of range, value must between "
                               "-9223372036854775807 and 9223372036854775807");
            return;
        }
        /* Redis refuses counts whose reply length would overflow. */
        if (ws && (l < -INT64_MAX / 2 || l > INT64_MAX / 2)) {
            resp_error(c->out, "ERR value is out of range");
            return;
        }
    }
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_ZSET, &wrong);
    if (wrong)
        return;
    const struct tval *tv = zset_of(e);
    struct picker p = {tv, NULL};
    if (c->argc == 2) {
        if (tv)
            reply_rank(c, &p, (size_t)(tset_rand() % zset_len(tv)), false);
        else
            resp_null(c->out, c->proto);
        return;
    }
    if (!tv || l == 0) {
        resp_array(c->out, 0);
        return;
    }
    size_t size = zset_len(tv);
    size_t mul = ws && c->proto != RESP3 ? 2 : 1;
    if (l < 0) {
        if (-l > ZSET_RANDOM_REPEAT_MAX) {
            resp_error(c->out, "ERR value is out of range");
            return;
        }
        if (picker_init(&p, tv) < 0) {
            reply_oom(c);
            return;
        }
        resp_array(c->out, (size_t)-l * mul);
        for (int64_t i = 0; i < -l && !c->out->oom; i++)
            reply_rank(c, &p, (size_t)(tset_rand() % size), ws);
        free(p.lp);
        return;
    }
    if ((uint64_t)l >= size) {
        resp_array(c->out, size * mul);
        struct zset_iter it;
        struct zset_elem el;
        zset_iter_init(&it, tv, 0, false);
        while (zset_iter_next(&it, &el))
            cmd_zset_reply_elem(c->out, c->proto, el.m, el.len, el.score, ws,
                                c->proto == RESP3);
        return;
    }
    if (picker_init(&p, tv) < 0) {
        reply_oom(c);
        return;
    }
    random_distinct(c, &p, (size_t)l, ws);
    free(p.lp);
}

/* ---- ZSCAN --------------------------------------------------------------- */

/* Redis's d2string: how SCAN writes a score (integers as integers, "-0"
 * kept, else "%.17g"). */
static size_t d2string(char *buf, size_t cap, double v)
{
    int n;
    if (isnan(v))
        n = snprintf(buf, cap, "nan");
    else if (isinf(v))
        n = snprintf(buf, cap, "%s", v < 0 ? "-inf" : "inf");
    else if (v == 0)
        n = snprintf(buf, cap, "%s", signbit(v) ? "-0" : "0");
    else if (v > -4503599627370495.0 && v < 4503599627370496.0 && v == (double)(long long)v)
        n = snprintf(buf, cap, "%lld", (long long)v);
    else
        n = snprintf(buf, cap, "%.17g", v);
    return (size_t)n;
}

/* ZSCAN's page being built. */
struct zscan_page {
    const struct resp_arg *match; /* MATCH's pattern, NULL for all */
    struct rbuf out;              /* member, score pairs */
    size_t n;                     /* bulk strings in out */
};

static void zscan_one(void *arg, const struct zset_elem *el)
{
    struct zscan_page *pg = arg;
    if (pg->match && !glob_match(pg->match->ptr, pg->match->len, (const char *)el->m, el->len,
                                 false))
        return;
    char num[40];
    resp_bulk(&pg->out, el->m, el->len);
    resp_bulk(&pg->out, num, d2string(num, sizeof num, el->score));
    pg->n += 2;
}

/* A listpack set comes back whole in one call, as Redis does; a tree set is
 * walked through its member index (zset_scan), whose cursor survives
 * members removed between calls, as Redis's dict cursor does. */
static void zscan_exec(struct cmd_ctx *c)
{
    uint64_t cursor;
    if (!cmd_tscan_cursor(c, &c->argv[2], &cursor))
        return;
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_ZSET, &wrong);
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
    struct zscan_page pg = {.match = o.match};
    rbuf_init(&pg.out);
    uint64_t next = zset_scan(zset_of(e), cursor, o.count, zscan_one, &pg);
    if (pg.out.oom) {
        rbuf_deinit(&pg.out);
        reply_oom(c);
        return;
    }
    cmd_tscan_reply(c, next, pg.n, &pg.out);
    rbuf_deinit(&pg.out);
}

/* ---- The table ----------------------------------------------------------- */

#define KS_RO_ACCESS (CMD_KS_RO | CMD_KS_ACCESS)
#define KEY1(f) .keys = { { .flags = (f), .begin = 1, .last = 0, .step = 1 } }

/* Flags, key specs and docs as Redis 7.0's COMMAND INFO and DOCS report
 * them. */
const struct cmd_def cmd_zset_defs[] = {
    { .name = "zadd", .arity = -4, .exec = zadd_exec,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEY1(CMD_KS_RW | CMD_KS_UPDATE),
      .group = "sorted-set", .since = "1.2.0",
      .complexity = "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
      .summary = "Add one or more members to a sorted set, or update its score if it already exists" },
    { .name = "zincrby", .arity = 4, .exec = zincrby_exec,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      KEY1(CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE),
      .group = "sorted-set", .since = "1.2.0",
      .complexity = "O(log(N)) where N is the number of elements in the sorted set.",
      .summary = "Increment the score of a member in a sorted set" },
    { .name = "zrem", .arity = -3, .exec = zrem_exec,
      .flags = CMD_WRITE | CMD_FAST, KEY1(CMD_KS_RW | CMD_KS_DELETE),
      .group = "sorted-set", .since = "1.2.0",
      .complexity = "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
      .summary = "Remove one or more members from a sorted set" },
    { .name = "zcard", .arity = 2, .exec = zcard_exec,
      .flags = CMD_READONLY | CMD_FAST, KEY1(CMD_KS_RO),
      .group = "sorted-set", .since = "1.2.0", .complexity = "O(1)",
      .summary = "Get the number of members in a sorted set" },
    { .name = "zscore", .arity = 3, .exec = zscore_exec,
      .flags = CMD_READONLY | CMD_FAST, KEY1(KS_RO_ACCESS),
      .group = "sorted-set", .since = "1.2.0", .complexity = "O(1)",
      .summary = "Get the score associated with the given member in a sorted set" },
    { .name = "zmscore", .arity = -3, .exec = zmscore_exec,
      .flags = CMD_READONLY | CMD_FAST, KEY1(KS_RO_ACCESS),
      .group = "sorted-set", .since = "6.2.0",
      .complexity = "O(N) where N is the number of members being requested.",
      .summary = "Get the score associated with the given members in a sorted set" },
    { .name = "zrank", .arity = 3, .exec = zrank_exec,
      .flags = CMD_READONLY | CMD_FAST, KEY1(KS_RO_ACCESS),
      .group = "sorted-set", .since = "2.0.0", .complexity = "O(log(N))",
      .summary = "Determine the index of a member in a sorted set" },
    { .name = "zrevrank", .arity = 3, .exec = zrevrank_exec,
      .flags = CMD_READONLY | CMD_FAST, KEY1(KS_RO_ACCESS),
      .group = "sorted-set", .since = "2.0.0", .complexity = "O(log(N))",
      .summary = "Determine the index of a member in a sorted set, with scores ordered from high to low" },
    { .name = "zpopmin", .arity = -2, .exec = zpopmin_exec,
      .flags = CMD_WRITE | CMD_FAST, KEY1(CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE),
      .group = "sorted-set", .since = "5.0.0",
      .complexity = "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
      .summary = "Remove and return members with the lowest scores in a sorted set" },
    { .name = "zpopmax", .arity = -2, .exec = zpopmax_exec,
      .flags = CMD_WRITE | CMD_FAST, KEY1(CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE),
      .group = "sorted-set", .since = "5.0.0",
      .complexity = "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
      .summary = "Remove and return members with the highest scores in a sorted set" },
    { .name = "zrandmember", .arity = -2, .exec = zrandmember_exec,
      .flags = CMD_READONLY, KEY1(KS_RO_ACCESS),
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "sorted-set", .since = "6.2.0",
      .complexity = "O(N) where N is the number of elements returned",
      .summary = "Get one or multiple random elements from a sorted set" },
    { .name = "zscan", .arity = -3, .exec = zscan_exec,
      .flags = CMD_READONLY, KEY1(KS_RO_ACCESS),
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "sorted-set", .since = "2.8.0",
      .complexity = "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
      .summary = "Incrementally iterate sorted sets elements and associated scores" },
};
const size_t cmd_zset_ndefs = sizeof cmd_zset_defs / sizeof cmd_zset_defs[0];
