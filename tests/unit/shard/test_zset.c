/* test_zset.c — the sorted set storage (shard/zset.h): random operations
 * checked against a sorted-array model in both encodings (listpack and
 * tree), with the invariant checker after every operation; Redis 7.0's
 * listpack bytes for known scores; every byte back to the account after a
 * free, also in slices; out-of-memory leaves the set unchanged; and a
 * million members: bytes per member against Redis's figure, and O(log n)
 * node visits. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "shard/zset.h"

static struct mem_acct acct;

static void setup(void)
{
    memset(&acct, 0, sizeof acct);
}

static void teardown(void)
{
    cr_expect_eq(acct.used, 0, "%" PRId64 " bytes still charged", acct.used);
    cr_expect_eq(acct.allocs, acct.frees);
}

TestSuite(zset, .init = setup, .fini = teardown);

static const struct zset_limits LIM = {128, 64};

/* ------------------------------------------------------------- the model */

struct mel {
    char m[80]; /* member */
    size_t len;
    double s;
};

struct model {
    struct mel *e;
    size_t n, cap;
};

static int mcmp(const struct mel *x, const char *m, size_t len, double s)
{
    if (x->s < s)
        return -1;
    if (x->s > s)
        return 1;
    size_t l = x->len < len ? x->len : len;
    int c = l ? memcmp(x->m, m, l) : 0;
    if (c)
        return c;
    return x->len < len ? -1 : x->len > len ? 1 : 0;
}

static int64_t mfind(const struct model *md, const char *m, size_t len)
{
    for (size_t i = 0; i < md->n; i++)
        if (md->e[i].len == len && memcmp(md->e[i].m, m, len) == 0)
            return (int64_t)i;
    return -1;
}

static void mdel_at(struct model *md, size_t i)
{
    memmove(&md->e[i], &md->e[i + 1], (md->n - i - 1) * sizeof md->e[0]);
    md->n--;
}

static void mins(struct model *md, const char *m, size_t len, double s)
{
    if (md->n == md->cap) {
        md->cap = md->cap ? md->cap * 2 : 64;
        md->e = realloc(md->e, md->cap * sizeof md->e[0]);
    }
    size_t i = 0;
    while (i < md->n && mcmp(&md->e[i], m, len, s) < 0)
        i++;
    memmove(&md->e[i + 1], &md->e[i], (md->n - i) * sizeof md->e[0]);
    memcpy(md->e[i].m, m, len);
    md->e[i].len = len;
    md->e[i].s = s;
    md->n++;
}

/* Redis's zsetAdd on the model. */
static int madd(struct model *md, const char *m, size_t len, double score, int in, int *out,
                double *ns)
{
    *out = 0;
    int64_t i = mfind(md, m, len);
    if (i >= 0) {
        double cur = md->e[i].s;
        if (in & ZSET_IN_NX) {
            *out = ZSET_OUT_NOP;
            return 0;
        }
        if (in & ZSET_IN_INCR) {
            score += cur;
            if (isnan(score))
                return ZSET_ENAN;
        }
        if (((in & ZSET_IN_LT) && score >= cur) || ((in & ZSET_IN_GT) && score <= cur)) {
            *out = ZSET_OUT_NOP;
            return 0;
        }
        *ns = score;
        if (score == cur)
            return 0;
        mdel_at(md, (size_t)i);
        mins(md, m, len, score);
        *out = ZSET_OUT_UPDATED;
        return 0;
    }
    if (in & ZSET_IN_XX) {
        *out = ZSET_OUT_NOP;
        return 0;
    }
    mins(md, m, len, score);
    *ns = score;
    *out = ZSET_OUT_ADDED;
    return 0;
}

/* ------------------------------------------------------------- helpers */

static void expect_elem(const struct zset_elem *e, const struct mel *x, const char *what)
{
    cr_assert_eq(e->len, x->len, "%s: length %zu, model %zu", what, e->len, x->len);
    cr_assert(x->len == 0 || memcmp(e->m, x->m, x->len) == 0, "%s: member differs", what);
    cr_assert(e->score == x->s || (isinf(e->score) && e->score == x->s), "%s: score %.17g vs %.17g",
              what, e->score, x->s);
}

static void check_all(const struct tval *tv, const struct model *md)
{
    int rc = zset_check(tv);
    cr_assert_eq(rc, 0, "zset_check: %d", rc);
    cr_assert_eq(zset_len(tv), md->n);
}

static void full_compare(const struct tval *tv, const struct model *md)
{
    struct zset_iter it;
    struct zset_elem e;
    size_t i = 0;
    for (zset_iter_init(&it, tv, 0, false); zset_iter_next(&it, &e); i++) {
        cr_assert_lt(i, md->n);
        expect_elem(&e, &md->e[i], "forward walk");
    }
    cr_assert_eq(i, md->n);
    i = md->n;
    if (md->n)
        for (zset_iter_init(&it, tv, md->n - 1, true); zset_iter_next(&it, &e);) {
            cr_assert_gt(i, 0);
            i--;
            expect_elem(&e, &md->e[i], "reverse walk");
        }
    cr_assert_eq(i, 0);
}

static const double SCORES[] = {0, -0.0, 1, -1, 1.5, 2, 3, 0.1, -2.5, 1e20, -1e20, 4611686018427387904.0,
                                9.3e18, INFINITY, -INFINITY, 123456789012345678.0};
#define NSCORES (sizeof SCORES / sizeof SCORES[0])

static double rnd_score(unsigned mode)
{
    if (mode == 1)
        return 0; /* one score: lex ranges are well defined */
    if (rand() % 3 == 0)
        return SCORES[rand() % NSCORES];
    return (double)(rand() % 50) - 20 + (rand() % 4) * 0.25;
}

static size_t rnd_member(char *buf, int big)
{
    int kind = rand() % 10;
    if (kind == 0) {
        return (size_t)snprintf(buf, 80, "%d", rand() % 200 - 100); /* integer entries */
    }
    if (kind == 1 && big) {
        size_t n = 65 + (size_t)(rand() % 10); /* over the listpack's value limit */
        memset(buf, 'x', n);
        buf[n - 1] = (char)('a' + rand() % 26);
        return n;
    }
    size_t n = (size_t)(rand() % 5);
    for (size_t i = 0; i < n; i++)
        buf[i] = "abc\0\xff"[rand() % 5];
    return n;
}

static bool model_one_score(const struct model *md)
{
    for (size_t i = 1; i < md->n; i++)
        if (md->e[i].s != md->e[0].s)
            return false;
    return true;
}

static void rnd_lex_bound(struct zset_lex_bound *b, char *buf)
{
    int k = rand() % 6;
    if (k == 0) {
        b->kind = ZSET_LEX_MINUS;
    } else if (k == 1) {
        b->kind = ZSET_LEX_PLUS;
    } else {
        b->kind = k % 2 ? ZSET_LEX_INCL : ZSET_LEX_EXCL;
        b->len = rnd_member(buf, 0);
        b->s = (const unsigned char *)buf;
    }
}

static bool m_lex_gte(const struct zset_lex_bound *b, const struct mel *x)
{
    if (b->kind == ZSET_LEX_MINUS)
        return true;
    if (b->kind == ZSET_LEX_PLUS)
        return false;
    struct mel t;
    memcpy(t.m, b->s, b->len);
    t.len = b->len;
    t.s = x->s;
    int c = mcmp(x, t.m, t.len, x->s);
    return b->kind == ZSET_LEX_INCL ? c >= 0 : c > 0;
}

static bool m_lex_lte(const struct zset_lex_bound *b, const struct mel *x)
{
    if (b->kind == ZSET_LEX_MINUS)
        return false;
    if (b->kind == ZSET_LEX_PLUS)
        return true;
    int c = mcmp(x, (const char *)b->s, b->len, x->s);
    return b->kind == ZSET_LEX_INCL ? c <= 0 : c < 0;
}

/* One random operation on tv and the model, compared. */
static void random_op(struct tval *tv, struct model *md, const struct zset_limits *lim,
                      unsigned mode)
{
    char m[80];
    size_t len = rnd_member(m, mode != 1);
    int op = rand() % 12;
    switch (op) {
    case 0:
    case 1:
    case 2: {
        static const int flags[] = {0, 0, ZSET_IN_NX, ZSET_IN_XX, ZSET_IN_GT, ZSET_IN_LT,
                                    ZSET_IN_INCR, ZSET_IN_INCR | ZSET_IN_XX,
                                    ZSET_IN_GT | ZSET_IN_XX, ZSET_IN_LT | ZSET_IN_INCR};
        int in = flags[rand() % (sizeof flags / sizeof flags[0])];
        double s = rnd_score(mode);
        int out, mout;
        double ns = 12345, mns = 12345;
        int rc = zset_add(&acct, tv, lim, m, len, s, in, &out, &ns);
        int mrc = madd(md, m, len, s, in, &mout, &mns);
        cr_assert_eq(rc, mrc, "zset_add rc %d, model %d", rc, mrc);
        if (rc == 0) {
            cr_assert_eq(out, mout, "zset_add out %d, model %d", out, mout);
            cr_assert(ns == mns || (isnan(ns) && isnan(mns)), "newscore %g vs %g", ns, mns);
        }
        break;
    }
    case 3: {
        int64_t i = mfind(md, m, len);
        cr_assert_eq(zset_del(&acct, tv, m, len), i >= 0);
        if (i >= 0)
            mdel_at(md, (size_t)i);
        break;
    }
    case 4: {
        double s = -7;
        int64_t i = mfind(md, m, len);
        cr_assert_eq(zset_score(tv, m, len, &s), i >= 0);
        if (i >= 0)
            cr_assert(s == md->e[i].s);
        bool rev = rand() % 2;
        int64_t r = zset_rank(tv, m, len, rev, NULL);
        cr_assert_eq(r, i < 0 ? -1 : rev ? (int64_t)md->n - 1 - i : i);
        break;
    }
    case 5: {
        if (!md->n)
            break;
        size_t r = (size_t)rand() % md->n;
        struct zset_elem e;
        cr_assert(zset_at(tv, r, &e));
        expect_elem(&e, &md->e[r], "zset_at");
        cr_assert(!zset_at(tv, md->n, &e));
        break;
    }
    case 6: {
        struct zset_score_range rg;
        rg.min = rnd_score(mode);
        rg.max = rand() % 4 ? rnd_score(mode) : rg.min;
        rg.minex = rand() % 2;
        rg.maxex = rand() % 2;
        size_t f, e, mf = 0, me;
        zset_score_span(tv, &rg, &f, &e);
        while (mf < md->n && !(rg.minex ? md->e[mf].s > rg.min : md->e[mf].s >= rg.min))
            mf++;
        me = mf;
        while (me < md->n && (rg.maxex ? md->e[me].s < rg.max : md->e[me].s <= rg.max))
            me++;
        cr_assert_eq(e - f, me - mf, "score count [%g %g] %d%d: %zu vs %zu", rg.min, rg.max,
                     rg.minex, rg.maxex, e - f, me - mf);
        if (me > mf)
            cr_assert_eq(f, mf);
        break;
    }
    case 7: {
        if (!model_one_score(md))
            break;
        char b1[80], b2[80];
        struct zset_lex_range rg;
        rnd_lex_bound(&rg.min, b1);
        rnd_lex_bound(&rg.max, b2);
        size_t f, e, mf = 0, me;
        zset_lex_span(tv, &rg, &f, &e);
        while (mf < md->n && !m_lex_gte(&rg.min, &md->e[mf]))
            mf++;
        me = mf;
        while (me < md->n && m_lex_lte(&rg.max, &md->e[me]))
            me++;
        cr_assert_eq(e - f, me - mf, "lex count: %zu vs %zu", e - f, me - mf);
        if (me > mf)
            cr_assert_eq(f, mf);
        break;
    }
    case 8: {
        if (!md->n || rand() % 4)
            break;
        size_t f = (size_t)rand() % md->n, k = (size_t)rand() % 5;
        size_t end = f + k > md->n ? md->n : f + k;
        cr_assert_eq(zset_del_range(&acct, tv, f, f + k), end - f);
        for (size_t i = f; i < end; i++)
            mdel_at(md, f);
        break;
    }
    case 9: {
        if (!md->n)
            break;
        size_t r = (size_t)rand() % md->n;
        bool rev = rand() % 2;
        struct zset_iter it;
        struct zset_elem e;
        size_t i = r, k = 0;
        for (zset_iter_init(&it, tv, r, rev); k < 10 && zset_iter_next(&it, &e); k++) {
            expect_elem(&e, &md->e[i], "walk");
            if (rev && i == 0) {
                cr_assert(!zset_iter_next(&it, &e));
                break;
            }
            i = rev ? i - 1 : i + 1;
        }
        break;
    }
    default: {
        /* pop min or max */
        if (!md->n || rand() % 3)
            break;
        bool max = rand() % 2;
        size_t r = max ? md->n - 1 : 0;
        struct zset_elem e;
        cr_assert(zset_at(tv, r, &e));
        expect_elem(&e, &md->e[r], "pop");
        cr_assert_eq(zset_del_range(&acct, tv, r, r + 1), 1);
        mdel_at(md, r);
        break;
    }
    }
}

static void run_random(unsigned seed, const struct zset_limits *lim, unsigned mode, int ops,
                       bool full_each)
{
    srand(seed);
    struct model md = {0};
    struct tval *tv = zset_create(&acct, lim, 0, 0);
    cr_assert_not_null(tv);
    bool saw_tree = false;
    for (int i = 0; i < ops; i++) {
        random_op(tv, &md, lim, mode);
        check_all(tv, &md);
        saw_tree |= tv->enc == ZSET_ENC_TREE;
        if (full_each || i % 256 == 0)
            full_compare(tv, &md);
    }
    full_compare(tv, &md);
    /* The default limits were crossed: both encodings were exercised. */
    cr_assert(mode != 0 || lim->max_listpack_entries == 0 || saw_tree, "never converted");
    zset_free(&acct, tv);
    free(md.e);
}

Test(zset, random_listpack_mixed_scores)
{
    for (unsigned seed = 1; seed <= 20; seed++)
        run_random(seed, &LIM, 0, 1500, true);
}

Test(zset, random_listpack_one_score_lex)
{
    for (unsigned seed = 1; seed <= 20; seed++)
        run_random(seed, &LIM, 1, 1500, true);
}

Test(zset, random_tree_from_start)
{
    const struct zset_limits tiny = {0, 0};
    for (unsigned seed = 1; seed <= 10; seed++)
        run_random(seed, &tiny, 0, 3000, false);
    for (unsigned seed = 1; seed <= 10; seed++)
        run_random(seed, &tiny, 1, 3000, false);
}

/* Bigger trees (height 3) with many deletes and updates. */
static void grow_and_churn(unsigned seed, int n, int churn)
{
    srand(seed);
    const struct zset_limits tiny = {0, 0};
    struct model md = {0};
    struct tval *tv = zset_create(&acct, &tiny, 0, 0);
    for (int i = 0; i < n; i++) {
        char m[80];
        size_t len = (size_t)snprintf(m, sizeof m, "m%d", rand() % (n * 2));
        double s = (double)(rand() % 500);
        int out, mout;
        double ns, mns;
        cr_assert_eq(zset_add(&acct, tv, &tiny, m, len, s, 0, &out, &ns), 0);
        madd(&md, m, len, s, 0, &mout, &mns);
        cr_assert_eq(out, mout);
        if (i % 500 == 0)
            check_all(tv, &md);
    }
    check_all(tv, &md);
    full_compare(tv, &md);
    for (int i = 0; i < churn; i++) {
        random_op(tv, &md, &tiny, 0);
        if (i % 100 == 0)
            check_all(tv, &md);
        /* delete by score ranges now and then: drains nodes */
        if (i % 50 == 0 && md.n) {
            size_t f = (size_t)rand() % md.n;
            size_t k = (size_t)rand() % 300;
            size_t end = f + k > md.n ? md.n : f + k;
            cr_assert_eq(zset_del_range(&acct, tv, f, f + k), end - f);
            for (size_t j = f; j < end; j++)
                mdel_at(&md, f);
            check_all(tv, &md);
        }
    }
    check_all(tv, &md);
    full_compare(tv, &md);
    /* drain completely: every merge path */
    while (md.n) {
        size_t r = (size_t)rand() % md.n;
        struct zset_elem e;
        cr_assert(zset_at(tv, r, &e));
        cr_assert_eq(zset_del(&acct, tv, e.m, e.len), 1);
        mdel_at(&md, r);
        if (md.n % 97 == 0)
            check_all(tv, &md);
    }
    check_all(tv, &md);
    zset_free(&acct, tv);
    free(md.e);
}

Test(zset, tree_grow_churn_drain)
{
    grow_and_churn(7, 20000, 4000);
    grow_and_churn(8, 5000, 2000);
}

/* ------------------------------------------------- Redis 7.0's listpack */

/* ZADD z 1.5 a -0 b 1e20 c 3 d inf e 0.1 f -inf g 4503599627370496 h
 * 4503599627370495 i -4503599627370495 j 1e-300 k 123456789012345678 l
 * 4611686018427387904 n 4611686018427387906 o, then DUMP (rdbcompression
 * no) on redis-server 7.0.15: the listpack inside, as hex. */
static const char REDIS_LP_HEX[] =
    "a50000001c00816702842d696e6605816a02f4010000000000f0ff098162020001816b028631652d333030"
    "0781660293302e31303030303030303030303030303030311481610283312e35048164020301816902f4ff"
    "ffffffffff0f0009816802f4000000000000100009816c02f450f330a64b9bb60109816e02f40000000000"
    "00004009816f02f40000000000000040098163028531652b32300681650283696e6604ff";

Test(zset, listpack_bytes_as_redis)
{
    unsigned char want[sizeof REDIS_LP_HEX / 2];
    size_t wn = (sizeof REDIS_LP_HEX - 1) / 2;
    for (size_t i = 0; i < wn; i++) {
        unsigned v;
        sscanf(REDIS_LP_HEX + 2 * i, "%2x", &v);
        want[i] = (unsigned char)v;
    }
    struct tval *tv = zset_create(&acct, &LIM, 0, 0);
    const struct {
        const char *m;
        double s;
    } in[] = {{"a", 1.5},
              {"b", -0.0},
              {"c", 1e20},
              {"d", 3},
              {"e", INFINITY},
              {"f", 0.1},
              {"g", -INFINITY},
              {"h", 4503599627370496.0},
              {"i", 4503599627370495.0},
              {"j", -4503599627370495.0},
              {"k", 1e-300},
              {"l", 123456789012345678.0},
              {"n", 4611686018427387904.0},
              {"o", 4611686018427387906.0}};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        int out;
        cr_assert_eq(zset_add(&acct, tv, &LIM, in[i].m, 1, in[i].s, 0, &out, NULL), 0);
    }
    const unsigned char *lp = tv->u.lp;
    cr_assert_eq(listpack_bytes(lp), wn, "size %u, Redis %zu", listpack_bytes(lp), wn);
    cr_assert(memcmp(lp, want, wn) == 0, "bytes differ from Redis's");
    cr_assert_str_eq(zset_enc_name(tv), "listpack");
    /* and reading Redis's blob gives the same scores back */
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        double sc;
        cr_assert(zset_score(tv, in[i].m, 1, &sc));
        cr_assert(sc == in[i].s, "%s: %.17g", in[i].m, sc);
    }
    zset_free(&acct, tv);
}

/* ------------------------------------------------------ conversions */

Test(zset, converts_above_thresholds)
{
    struct tval *tv = zset_create(&acct, &LIM, 0, 0);
    char m[80];
    int out;
    for (int i = 0; i < 128; i++) {
        size_t len = (size_t)snprintf(m, sizeof m, "member:%d", i);
        cr_assert_eq(zset_add(&acct, tv, &LIM, m, len, i % 7, 0, &out, NULL), 0);
    }
    cr_assert_str_eq(zset_enc_name(tv), "listpack");
    cr_assert_eq(zset_add(&acct, tv, &LIM, "x", 1, 1, 0, &out, NULL), 0);
    cr_assert_str_eq(zset_enc_name(tv), "skiplist");
    cr_assert_eq(zset_len(tv), 129);
    cr_assert_eq(zset_check(tv), 0);
    /* and back when the STORE commands' result fits */
    zset_del_range(&acct, tv, 0, 100);
    cr_assert_eq(zset_convert_listpack_if_fits(&acct, tv, &LIM), 0);
    cr_assert_str_eq(zset_enc_name(tv), "listpack");
    cr_assert_eq(zset_len(tv), 29);
    cr_assert_eq(zset_check(tv), 0);
    zset_free(&acct, tv);

    /* a long member converts at once */
    tv = zset_create(&acct, &LIM, 0, 0);
    memset(m, 'q', 65);
    cr_assert_eq(zset_add(&acct, tv, &LIM, m, 64, 1, 0, &out, NULL), 0);
    cr_assert_str_eq(zset_enc_name(tv), "listpack");
    cr_assert_eq(zset_add(&acct, tv, &LIM, m, 65, 1, 0, &out, NULL), 0);
    cr_assert_str_eq(zset_enc_name(tv), "skiplist");
    struct tval *cp = zset_copy(&acct, tv);
    cr_assert_not_null(cp);
    cr_assert_eq(zset_check(cp), 0);
    cr_assert_eq(zset_len(cp), 2);
    zset_free(&acct, cp);
    zset_free(&acct, tv);

    /* zsetTypeCreate's hints */
    tv = zset_create(&acct, &LIM, 129, 1);
    cr_assert_str_eq(zset_enc_name(tv), "skiplist");
    zset_free(&acct, tv);
}

Test(zset, incr_nan_and_signed_zero)
{
    struct tval *tv = zset_create(&acct, &LIM, 0, 0);
    int out;
    double ns;
    cr_assert_eq(zset_add(&acct, tv, &LIM, "a", 1, INFINITY, 0, &out, &ns), 0);
    cr_assert_eq(zset_add(&acct, tv, &LIM, "a", 1, -INFINITY, ZSET_IN_INCR, &out, &ns), ZSET_ENAN);
    double s;
    cr_assert(zset_score(tv, "a", 1, &s) && s == INFINITY);
    cr_assert_eq(zset_add(&acct, tv, &LIM, "z", 1, 0.0, 0, &out, &ns), 0);
    cr_assert_eq(zset_add(&acct, tv, &LIM, "z", 1, -0.0, 0, &out, &ns), 0);
    cr_assert_eq(out, 0, "-0.0 equals 0.0: no update");
    zset_free(&acct, tv);
}

Test(zset, parse_bounds)
{
    double v;
    bool ex;
    cr_assert_eq(zset_parse_score_bound("(1.5", 4, &v, &ex), 0);
    cr_assert(ex && v == 1.5);
    cr_assert_eq(zset_parse_score_bound("-inf", 4, &v, &ex), 0);
    cr_assert(!ex && v == -INFINITY);
    cr_assert_eq(zset_parse_score_bound("+inf", 4, &v, &ex), 0);
    cr_assert_eq(zset_parse_score_bound("nan", 3, &v, &ex), -1);
    cr_assert_eq(zset_parse_score_bound("1x", 2, &v, &ex), -1);
    cr_assert_eq(zset_parse_score_bound("(", 1, &v, &ex), 0); /* strtod("") is 0, as in Redis */
    struct zset_lex_bound b;
    cr_assert_eq(zset_parse_lex_bound("-", 1, &b), 0);
    cr_assert_eq(b.kind, ZSET_LEX_MINUS);
    cr_assert_eq(zset_parse_lex_bound("+", 1, &b), 0);
    cr_assert_eq(zset_parse_lex_bound("+a", 2, &b), -1);
    cr_assert_eq(zset_parse_lex_bound("a", 1, &b), -1);
    cr_assert_eq(zset_parse_lex_bound("", 0, &b), -1);
    cr_assert_eq(zset_parse_lex_bound("(ab", 3, &b), 0);
    cr_assert(b.kind == ZSET_LEX_EXCL && b.len == 2);
    cr_assert_eq(zset_parse_lex_bound("[", 1, &b), 0);
    cr_assert(b.kind == ZSET_LEX_INCL && b.len == 0);
}

/* ----------------------------------------------------- out of memory */

/* A tree set whose allocations fail from the k-th on: every failed add
 * leaves it exactly as it was. Uses an account with a sabotaged counter:
 * mem_alloc cannot be made to fail, so we test what can fail cheaply — a
 * member over 4 GiB is refused before anything is allocated. */
Test(zset, too_big_member_is_refused_unchanged)
{
    const struct zset_limits tiny = {0, 0};
    struct tval *tv = zset_create(&acct, &tiny, 0, 0);
    int out;
    int64_t before = acct.used;
    char c = 'x';
    if (SIZE_MAX > UINT32_MAX) {
        cr_assert_eq(zset_add(&acct, tv, &tiny, &c, (size_t)UINT32_MAX + 1, 1, 0, &out, NULL),
                     ZSET_ETOOBIG);
        cr_assert_eq(acct.used, before);
        cr_assert_eq(zset_len(tv), 0);
    }
    zset_free(&acct, tv);
}

/* Every allocation an add or an update makes, failed in turn: the call
 * returns ZSET_ENOMEM and the set holds what it held (spare nodes reserved
 * before the failure may stay, charged, for the next insert). */
Test(zset, enomem_at_every_allocation_leaves_the_set_unchanged)
{
    const struct zset_limits tiny = {0, 0};
    struct tval *tv = zset_create(&acct, &tiny, 0, 0);
    struct model md = {0};
    char m[32];
    int out, mout;
    double ns, mns;
    srand(3);
    int failures = 0;
    for (int round = 0; round < 3000; round++) {
        size_t len = (size_t)snprintf(m, sizeof m, "k%d", rand() % 4000);
        double s = (double)(rand() % 100);
        int in = rand() % 2 ? ZSET_IN_INCR : 0;
        bool failed = false;
        for (long k = 0;; k++) {
            zset_test_fail_after(k);
            int rc = zset_add(&acct, tv, &tiny, m, len, s, in, &out, &ns);
            zset_test_fail_after(-1);
            if (rc == ZSET_ENOMEM) {
                failed = true;
                failures++;
                check_all(tv, &md);
                if (round % 50 == 0)
                    full_compare(tv, &md);
                continue;
            }
            cr_assert_eq(rc, 0);
            madd(&md, m, len, s, in, &mout, &mns);
            cr_assert_eq(out, mout);
            break;
        }
        (void)failed;
        check_all(tv, &md);
    }
    cr_assert_gt(failures, 3000, "%d injected failures", failures);
    full_compare(tv, &md);
    zset_free(&acct, tv);
    free(md.e);
}

/* ------------------------------------------------------ freeing */

Test(zset, destroy_in_slices_returns_every_byte)
{
    const struct zset_limits tiny = {0, 0};
    struct tval *tv = zset_create(&acct, &tiny, 0, 0);
    char m[32];
    int out;
    for (int i = 0; i < 200000; i++) {
        size_t len = (size_t)snprintf(m, sizeof m, "member-%08d", i);
        cr_assert_eq(zset_add(&acct, tv, &tiny, m, len, (double)(i * 7919 % 100003), 0, &out, NULL),
                     0);
    }
    cr_assert_eq((int64_t)zset_bytes(tv), acct.used, "zset_bytes %zu, account %" PRId64,
                 zset_bytes(tv), acct.used);
    int steps = 0;
    while (!zset_destroy_step(&acct, tv, 1000))
        steps++;
    cr_assert_gt(steps, 150, "freed in %d slices", steps);
}

/* ------------------------------------------------------ a million */

/* Redis 7.0.15, one sorted set of 1,000,000 16-byte members with random
 * scores: INFO memory used_memory grows by 125.8 bytes per member (RSS
 * 133.1). The target is 0.6x of the RSS figure. */
#define REDIS_USED_PER_MEMBER 125.8

Test(zset, million_members_memory_and_log_n, .timeout = 120)
{
    const struct zset_limits lim = LIM;
    struct tval *tv = zset_create(&acct, &lim, 0, 0);
    int64_t base = acct.used;
    char m[17];
    int out;
    srand(42);
    const int N = 1000000;
    for (int i = 0; i < N; i++) {
        snprintf(m, sizeof m, "%016d", i);
        double s = (double)rand() / RAND_MAX * 1e6;
        cr_assert_eq(zset_add(&acct, tv, &lim, m, 16, s, 0, &out, NULL), 0);
    }
    double per = (double)(acct.used - base) / N;
    cr_log_info("zset: %.1f bytes per member (Redis 7.0: %.1f used_memory, 133.1 RSS)\n", per,
                REDIS_USED_PER_MEMBER);
    fprintf(stderr, "zset: %.1f bytes per member (Redis 7.0: %.1f used_memory, 133.1 RSS)\n", per,
            REDIS_USED_PER_MEMBER);
    cr_assert_lt(per, 0.6 * REDIS_USED_PER_MEMBER, "%.1f bytes per member", per);
    cr_assert_eq(zset_check(tv), 0);

    /* O(log n): a rank, a select or a span visits one node per level. */
    uint64_t v0 = zset_node_visits();
    for (int i = 0; i < 1000; i++) {
        snprintf(m, sizeof m, "%016d", rand() % N);
        cr_assert_geq(zset_rank(tv, m, 16, false, NULL), 0);
        struct zset_elem e;
        cr_assert(zset_at(tv, (size_t)rand() % N, &e));
        struct zset_score_range r = {(double)(rand() % 1000000), 1e6, false, true};
        size_t f, end;
        zset_score_span(tv, &r, &f, &end);
    }
    double visits = (double)(zset_node_visits() - v0) / 4000;
    cr_log_info("zset: %.2f node visits per descent\n", visits);
    cr_assert_leq(visits, 6.0, "%.2f node visits per descent", visits);

    /* updates and deletes stay O(log n) too */
    v0 = zset_node_visits();
    for (int i = 0; i < 1000; i++) {
        snprintf(m, sizeof m, "%016d", rand() % N);
        cr_assert_eq(zset_add(&acct, tv, &lim, m, 16, (double)rand(), 0, &out, NULL), 0);
        snprintf(m, sizeof m, "%016d", rand() % N);
        zset_del(&acct, tv, m, 16);
    }
    visits = (double)(zset_node_visits() - v0) / 2000;
    cr_assert_leq(visits, 16.0, "%.2f node visits per write", visits);
    cr_assert_eq(zset_check(tv), 0);
    zset_free(&acct, tv);
}
