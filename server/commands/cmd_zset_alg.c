/* cmd_zset_alg.c — sorted set algebra: ZUNION ZINTER ZDIFF, their STORE
 * forms and ZINTERCARD, over sources given as element arrays (copies of
 * local sets, or what other shards sent), with Redis 7.0's argument
 * parsing, weights, aggregation (in Redis's order of sources, so float
 * sums round the same) and result order. Also the one-shard exec of these
 * commands. Pure apart from cmd_zset_alg_exec, which runs on the shard
 * that owns every key. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/int64str.h"
#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_zset.h"
#include "shard/tset.h"
#include "shard/zset.h"

static const struct zalg_kind kinds[] = {
    {ZALG_UNION, false, false, "zunion"},
    {ZALG_UNION, true, false, "zunionstore"},
    {ZALG_INTER, false, false, "zinter"},
    {ZALG_INTER, true, false, "zinterstore"},
    {ZALG_INTER, false, true, "zintercard"},
    {ZALG_DIFF, false, false, "zdiff"},
    {ZALG_DIFF, true, false, "zdiffstore"},
};

const struct zalg_kind *cmd_zset_alg_kind(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    return NULL;
}

/* ---- Parsing ------------------------------------------------------------- */

bool cmd_zset_alg_parse(const struct zalg_kind *k, size_t argc, const struct resp_arg *argv,
                        struct zalg_args *a, struct rbuf *err, bool *late)
{
    memset(a, 0, sizeof *a);
    *late = false;
    a->numkeys_at = k->store ? 2 : 1;
    int64_t setnum;
    if (!int64str_parse(argv[a->numkeys_at].ptr, argv[a->numkeys_at].len, &setnum)) {
        resp_error(err, "ERR value is not an integer or out of range");
        return false;
    }
    if (setnum < 1) {
        resp_errorf(err, "ERR at least 1 input key is needed for '%s' command", k->name);
        return false;
    }
    if ((uint64_t)setnum > argc - (a->numkeys_at + 1)) {
        resp_error(err, "ERR syntax error");
        return false;
    }
    a->nsrc = (size_t)setnum;
    a->weights = malloc(a->nsrc * sizeof *a->weights);
    if (!a->weights) {
        resp_error(err, "ERR out of memory");
        return false;
    }
    for (size_t i = 0; i < a->nsrc; i++)
        a->weights[i] = 1.0;
    *late = true;
    size_t j = a->numkeys_at + 1 + a->nsrc;
    while (j < argc) {
        size_t remaining = argc - j;
        const struct resp_arg *o = &argv[j];
        if (k->op != ZALG_DIFF && !k->card && remaining >= a->nsrc + 1 &&
            cmd_arg_eq(o, "weights")) {
            j++;
            for (size_t i = 0; i < a->nsrc; i++, j++) {
                if (!cmd_zset_parse_score(argv[j].ptr, argv[j].len, &a->weights[i])) {
                    resp_error(err, "ERR weight value is not a float");
                    return false;
                }
            }
        } else if (k->op != ZALG_DIFF && !k->card && remaining >= 2 &&
                   cmd_arg_eq(o, "aggregate")) {
            const struct resp_arg *v = &argv[j + 1];
            if (cmd_arg_eq(v, "sum")) {
                a->aggr = ZAGG_SUM;
            } else if (cmd_arg_eq(v, "min")) {
                a->aggr = ZAGG_MIN;
            } else if (cmd_arg_eq(v, "max")) {
                a->aggr = ZAGG_MAX;
            } else {
                resp_error(err, "ERR syntax error");
                return false;
            }
            j += 2;
        } else if (!k->store && !k->card && cmd_arg_eq(o, "withscores")) {
            a->withscores = true;
            j++;
        } else if (k->card && remaining >= 2 && cmd_arg_eq(o, "limit")) {
            int64_t l;
            if (!int64str_parse(argv[j + 1].ptr, argv[j + 1].len, &l) || l < 0) {
                resp_error(err, "ERR LIMIT can't be negative");
                return false;
            }
            a->limit = (size_t)l;
            j += 2;
        } else {
            resp_error(err, "ERR syntax error");
            return false;
        }
    }
    *late = false;
    return true;
}

/* ---- A member index ------------------------------------------------------ */

/* Open addressing over indexes into a pair array: member -> its pair. */
struct zidx {
    const struct zpair *v; /* the pairs indexed */
    size_t *slot;          /* pair index + 1, 0 = empty */
    size_t mask;           /* slots - 1 */
};

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, mixed at the end */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

static int zidx_init(struct zidx *x, const struct zpair *v, size_t cap_for)
{
    size_t n = 16;
    while (n < cap_for * 2)
        n *= 2;
    x->v = v;
    x->mask = n - 1;
    x->slot = calloc(n, sizeof *x->slot);
    return x->slot ? 0 : -1;
}

/* The index of the pair holding m, or SIZE_MAX; *h gets m's slot (the
 * free one where it would go). */
static size_t zidx_find(const struct zidx *x, const char *m, size_t len, size_t *h)
{
    size_t i = (size_t)hash_bytes(m, len) & x->mask;
    while (x->slot[i]) {
        const struct zpair *p = &x->v[x->slot[i] - 1];
        if (p->len == len && memcmp(p->m, m, len) == 0) {
            *h = i;
            return x->slot[i] - 1;
        }
        i = (i + 1) & x->mask;
    }
    *h = i;
    return SIZE_MAX;
}

/* Index all of v[0..n). */
static int zidx_build(struct zidx *x, const struct zpair *v, size_t n)
{
    if (zidx_init(x, v, n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t h;
        if (zidx_find(x, v[i].m, v[i].len, &h) == SIZE_MAX)
            x->slot[h] = i + 1;
    }
    return 0;
}

/* ---- Running ------------------------------------------------------------- */

static void aggregate(double *target, double val, enum zalg_aggr a)
{
    if (a == ZAGG_SUM) {
        *target = *target + val;
        if (isnan(*target)) /* inf + -inf: Redis's convention is 0 */
            *target = 0.0;
    } else if (a == ZAGG_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

static int cmp_pair(const void *pa, const void *pb)
{
    const struct zpair *a = pa, *b = pb;
    if (a->score < b->score)
        return -1;
    if (a->score > b->score)
        return 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->m, b->m, n);
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* A source with its weight, sorted by cardinality as Redis sorts them. */
struct wsrc {
    struct zalg_src *s; /* the source */
    double w;           /* its weight */
    size_t pos;         /* argument order, to keep the sort stable */
    struct zidx idx;    /* built when looked up */
    bool indexed;       /* idx is built */
};

static int cmp_card(const void *pa, const void *pb)
{
    const struct wsrc *a = pa, *b = pb;
    if (a->s->n != b->s->n)
        return a->s->n < b->s->n ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Look m up in w (indexing it on first use): its score, or false. */
static int lookup(struct wsrc *w, const char *m, size_t len, double *score, bool *found)
{
    if (!w->indexed) {
        if (zidx_build(&w->idx, w->s->v, w->s->n) < 0)
            return -1;
        w->indexed = true;
    }
    size_t h, i = zidx_find(&w->idx, m, len, &h);
    *found = i != SIZE_MAX;
    if (*found)
        *score = w->s->v[i].score;
    return 0;
}

int cmd_zset_alg_run(const struct zalg_kind *k, const struct zalg_args *a, struct zalg_src *src,
                     struct zpair **res, size_t *nres)
{
    size_t n = a->nsrc, total = 0, out = 0;
    struct wsrc *w = calloc(n, sizeof *w);
    if (!w)
        return -1;
    for (size_t i = 0; i < n; i++) {
        w[i] = (struct wsrc){.s = &src[i], .w = a->weights[i], .pos = i};
        total += src[i].n;
    }
    if (k->op != ZALG_DIFF)
        qsort(w, n, sizeof *w, cmp_card);
    struct zpair *r = malloc((total ? total : 1) * sizeof *r);
    int rc = r ? 0 : -1;
    if (rc == 0 && k->op == ZALG_INTER) {
        for (size_t e = 0; e < w[0].s->n && rc == 0; e++) {
            const struct zpair *p = &w[0].s->v[e];
            double score = w[0].w * p->score;
            if (isnan(score))
                score = 0;
            size_t j;
            for (j = 1; j < n; j++) {
                double v;
                bool found;
                /* (The same key twice finds its own score: Redis's special
                 * case for it gives the same.) */
                if ((rc = lookup(&w[j], p->m, p->len, &v, &found)) < 0 || !found)
                    break;
                aggregate(&score, v * w[j].w, a->aggr);
            }
            if (rc == 0 && j == n) {
                r[out++] = (struct zpair){p->m, p->len, score};
                if (k->card && a->limit && out >= a->limit)
                    break;
            }
        }
    } else if (rc == 0 && k->op == ZALG_UNION) {
        struct zidx acc;
        rc = zidx_init(&acc, r, total);
        for (size_t i = 0; i < n && rc == 0; i++) {
            for (size_t e = 0; e < w[i].s->n; e++) {
                const struct zpair *p = &w[i].s->v[e];
                double score = w[i].w * p->score;
                if (isnan(score))
                    score = 0;
                size_t h, at = zidx_find(&acc, p->m, p->len, &h);
                if (at == SIZE_MAX) {
                    r[out] = (struct zpair){p->m, p->len, score};
                    acc.slot[h] = ++out;
                } else {
                    aggregate(&r[at].score, score, a->aggr);
                }
            }
        }
        free(acc.slot);
    } else if (rc == 0) {
        bool self = false;
        for (size_t j = 1; j < n; j++)
            self |= src[j].same_as == 0;
        for (size_t e = 0; !self && e < src[0].n && rc == 0; e++) {
            const struct zpair *p = &src[0].v[e];
            bool found = false;
            double v;
            for (size_t j = 1; j < n && !found && rc == 0; j++)
                rc = lookup(&w[j], p->m, p->len, &v, &found);
            if (!found)
                r[out++] = *p;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(w[i].idx.slot);
    free(w);
    if (rc < 0) {
        free(r);
        return -1;
    }
    if (!k->card)
        qsort(r, out, sizeof *r, cmp_pair);
    *res = r;
    *nres = out;
    return 0;
}

void cmd_zset_alg_reply(struct rbuf *out, int proto, const struct zpair *res, size_t n,
                        bool withscores)
{
    bool nested = proto == RESP3;
    resp_array(out, withscores && !nested ? n * 2 : n);
    for (size_t i = 0; i < n; i++)
        cmd_zset_reply_elem(out, proto, res[i].m, res[i].len, res[i].score, withscores, nested);
}

/* ---- One shard ----------------------------------------------------------- */

/* Copies of a set's or sorted set's elements (a plain set's scores 1). */
struct copied {
    struct zpair *v; /* elements */
    char *bytes;     /* their members */
};

struct set_copy {
    struct zpair *v; /* where the next goes */
    size_t i;        /* how many so far */
    char *b;         /* member bytes */
    size_t off;      /* used */
};

static void count_member(void *arg, const char *m, size_t len)
{
    (void)m;
    *(size_t *)arg += len;
}

static void copy_member(void *arg, const char *m, size_t len)
{
    struct set_copy *x = arg;
    memcpy(x->b + x->off, m, len);
    x->v[x->i++] = (struct zpair){x->b + x->off, len, 1.0};
    x->off += len;
}

static int copy_source(struct tval *tv, struct zalg_src *s, struct copied *cp)
{
    size_t n = tval_len(tv), total = 0;
    if (tv->type == TVAL_SET)
        tset_each(tv, count_member, &total);
    else {
        struct zset_iter it;
        struct zset_elem e;
        zset_iter_init(&it, tv, 0, false);
        while (zset_iter_next(&it, &e))
            total += e.len;
    }
    cp->v = malloc((n ? n : 1) * sizeof *cp->v);
    cp->bytes = malloc(total ? total : 1);
    if (!cp->v || !cp->bytes)
        return -1;
    if (tv->type == TVAL_SET) {
        struct set_copy x = {cp->v, 0, cp->bytes, 0};
        tset_each(tv, copy_member, &x);
        n = x.i;
    } else {
        struct zset_iter it;
        struct zset_elem e;
        size_t i = 0, off = 0;
        zset_iter_init(&it, tv, 0, false);
        while (zset_iter_next(&it, &e)) {
            memcpy(cp->bytes + off, e.m, e.len);
            cp->v[i++] = (struct zpair){cp->bytes + off, e.len, e.score};
            off += e.len;
        }
    }
    s->v = cp->v;
    s->n = n;
    s->is_set = tv->type == TVAL_SET;
    return 0;
}

void cmd_zset_alg_exec(struct cmd_ctx *c)
{
    char name[24];
    size_t nl = c->argv[0].len < sizeof name - 1 ? c->argv[0].len : sizeof name - 1;
    for (size_t i = 0; i < nl; i++)
        name[i] = (char)(c->argv[0].ptr[i] | 0x20);
    name[nl] = '\0';
    const struct zalg_kind *k = cmd_zset_alg_kind(name);
    struct zalg_args a = {0};
    struct rbuf err;
    rbuf_init(&err);
    bool late = false;
    bool ok = k && cmd_zset_alg_parse(k, c->argc, c->argv, &a, &err, &late);
    if (!ok && !late) {
        rbuf_append(c->out, err.ptr, err.len);
        rbuf_deinit(&err);
        free(a.weights);
        return;
    }
    struct zalg_src *src = calloc(a.nsrc, sizeof *src);
    struct copied *cp = calloc(a.nsrc, sizeof *cp);
    struct zpair *res = NULL;
    size_t nres = 0;
    int rc = src && cp ? 0 : -1;
    bool wrong = false;
    for (size_t i = 0; i < a.nsrc && rc == 0; i++) {
        const struct resp_arg *key = &c->argv[a.numkeys_at + 1 + i];
        struct kventry *e =
            cmd_key_read(c, kvmap_find(c->db, key->ptr, key->len, c->now_ms), key->ptr, key->len);
        src[i].same_as = -1;
        if (!e)
            continue;
        if (kventry_type(e) != TVAL_ZSET && kventry_type(e) != TVAL_SET) {
            wrong = true;
            break;
        }
        for (size_t j = 0; j < i; j++) {
            const struct resp_arg *kj = &c->argv[a.numkeys_at + 1 + j];
            if (kj->len == key->len && memcmp(kj->ptr, key->ptr, key->len) == 0) {
                src[i].same_as = (int)j;
                break;
            }
        }
        rc = copy_source(kventry_tval(e), &src[i], &cp[i]);
    }
    if (wrong) {
        cmd_reply_wrongtype(c);
    } else if (!ok) {
        rbuf_append(c->out, err.ptr, err.len);
    } else if (rc == 0 && (rc = cmd_zset_alg_run(k, &a, src, &res, &nres)) == 0) {
        if (k->card) {
            resp_int(c->out, (int64_t)nres);
        } else if (!k->store) {
            cmd_zset_alg_reply(c->out, c->proto, res, nres, a.withscores);
        } else {
            int w = cmd_zset_store(c, k->name, c->argv[1].ptr, c->argv[1].len, res, nres);
            if (w < 0)
                cmd_reply_kvmap_error(c, w);
            else
                resp_int(c->out, (int64_t)nres);
        }
    }
    if (rc < 0)
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
    for (size_t i = 0; cp && i < a.nsrc; i++) {
        free(cp[i].v);
        free(cp[i].bytes);
    }
    free(cp);
    free(src);
    free(res);
    free(a.weights);
    rbuf_deinit(&err);
}
