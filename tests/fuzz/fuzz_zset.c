/* fuzz_zset.c — libFuzzer target for the sorted set storage (shard/zset*.c).
 * The input is a program: its first byte picks the listpack limits, then
 * each operation takes an opcode byte and its operands (member bytes,
 * score choice, flags, ranks). Every result is checked against a sorted
 * array model, zset_check runs after each operation, and the account must
 * be back at zero at the end. Injected allocation failures must leave the
 * set as it was. When bit 4 of the first byte is set, a snapshot's capture
 * (zset_cow.c) is armed as soon as the set is a tree and stepped every 1,
 * 2, 4 or 8 operations (bits 5-6): what it hands out must be exactly the
 * set at the arming, each member once. Single-threaded. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "shard/zset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_zset: check failed: %s (line %d)\n", #cond, __LINE__);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---------------------------------------------------------------- model */

#define MAXM 80

struct mel {
    unsigned char m[MAXM];
    size_t len;
    double s;
};

static struct mel *me;
static size_t mn, mcap;

static int mcmp(const struct mel *x, const unsigned char *m, size_t len, double s)
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

static long mfind(const unsigned char *m, size_t len)
{
    for (size_t i = 0; i < mn; i++)
        if (me[i].len == len && (!len || memcmp(me[i].m, m, len) == 0))
            return (long)i;
    return -1;
}

static void mdel(size_t i)
{
    memmove(&me[i], &me[i + 1], (mn - i - 1) * sizeof me[0]);
    mn--;
}

static void mins(const unsigned char *m, size_t len, double s)
{
    if (mn == mcap) {
        mcap = mcap ? mcap * 2 : 64;
        me = realloc(me, mcap * sizeof me[0]);
        CHECK(me);
    }
    size_t i = 0;
    while (i < mn && mcmp(&me[i], m, len, s) < 0)
        i++;
    memmove(&me[i + 1], &me[i], (mn - i) * sizeof me[0]);
    memcpy(me[i].m, m, len);
    me[i].len = len;
    me[i].s = s;
    mn++;
}

static int madd(const unsigned char *m, size_t len, double score, int in, int *out)
{
    *out = 0;
    long i = mfind(m, len);
    if (i >= 0) {
        double cur = me[i].s;
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
        if (score == cur)
            return 0;
        mdel((size_t)i);
        mins(m, len, score);
        *out = ZSET_OUT_UPDATED;
        return 0;
    }
    if (in & ZSET_IN_XX) {
        *out = ZSET_OUT_NOP;
        return 0;
    }
    mins(m, len, score);
    *out = ZSET_OUT_ADDED;
    return 0;
}

/* ---------------------------------------------------------------- input */

struct in {
    const uint8_t *p;
    size_t n;
};

static uint8_t byte(struct in *x)
{
    if (!x->n)
        return 0;
    x->n--;
    return *x->p++;
}

static size_t member(struct in *x, unsigned char *buf)
{
    size_t len = byte(x) % 24;
    if (len >= 20)
        len = 60 + (len - 20) * 3; /* around the 64-byte value limit */
    for (size_t i = 0; i < len; i++)
        buf[i] = i < 4 ? byte(x) % 4 + 'a' : (unsigned char)(i % 7 + 'a');
    if (len && byte(x) % 8 == 0)
        len = (size_t)snprintf((char *)buf, MAXM, "%d", (int8_t)buf[0]); /* integer entry */
    return len;
}

static const double SC[] = {0, -0.0, 1, -1, 0.5, 2, 1e20, 0.1, 4611686018427387904.0,
                            9.3e18, INFINITY, -INFINITY, 3, 7, -3.25, 1e-300};

static double score(struct in *x)
{
    uint8_t b = byte(x);
    return b < 128 ? SC[b % 16] : (double)(b - 192);
}

static bool one_score(void)
{
    for (size_t i = 1; i < mn; i++)
        if (me[i].s != me[0].s)
            return false;
    return true;
}

static void elem_eq(const struct zset_elem *e, const struct mel *x)
{
    CHECK(e->len == x->len);
    CHECK(!x->len || memcmp(e->m, x->m, x->len) == 0);
    CHECK(e->score == x->s);
}

static void lex_bound(struct in *x, struct zset_lex_bound *b, unsigned char *buf)
{
    uint8_t k = byte(x) % 4;
    b->kind = (enum zset_lex_kind)k;
    b->s = buf;
    b->len = k >= ZSET_LEX_INCL ? member(x, buf) : 0;
}

static bool lex_gte(const struct zset_lex_bound *b, const struct mel *x)
{
    if (b->kind == ZSET_LEX_MINUS || b->kind == ZSET_LEX_PLUS)
        return b->kind == ZSET_LEX_MINUS;
    int c = mcmp(x, b->s, b->len, x->s);
    return b->kind == ZSET_LEX_INCL ? c >= 0 : c > 0;
}

static bool lex_lte(const struct zset_lex_bound *b, const struct mel *x)
{
    if (b->kind == ZSET_LEX_MINUS || b->kind == ZSET_LEX_PLUS)
        return b->kind == ZSET_LEX_PLUS;
    int c = mcmp(x, b->s, b->len, x->s);
    return b->kind == ZSET_LEX_INCL ? c <= 0 : c < 0;
}

/* ------------------------------------------------------------- capture */

static struct mel *cut, *got;   /* the model at the arming; what came out */
static size_t ncut, ngot;
static bool armed;

static void cap_elem(void *arg, const struct zset_elem *e)
{
    (void)arg;
    CHECK(e != NULL);
    CHECK(ngot < ncut && e->len <= MAXM);
    memcpy(got[ngot].m, e->m, e->len);
    got[ngot].len = e->len;
    got[ngot].s = e->score;
    ngot++;
}

static void cap_retire(void *arg, struct tval *tv, struct mem_acct *a)
{
    (void)arg, (void)tv, (void)a;
    CHECK(!"nothing frees an armed set here");
}

static int by_member(const void *a, const void *b)
{
    const struct mel *x = a, *y = b;
    size_t l = x->len < y->len ? x->len : y->len;
    int c = l ? memcmp(x->m, y->m, l) : 0;
    return c ? c : x->len < y->len ? -1 : x->len > y->len;
}

static void cap_begin(struct tval *tv)
{
    cut = malloc((mn ? mn : 1) * sizeof *cut);
    got = malloc((mn ? mn : 1) * sizeof *got);
    CHECK(cut && got);
    memcpy(cut, me, mn * sizeof *cut);
    ncut = mn;
    ngot = 0;
    CHECK(zset_cow_begin(tv, cap_elem, cap_retire, NULL) == 0);
    CHECK(zset_cow_armed(tv));
    armed = true;
}

/* Step the capture to its end, compare, disarm. */
static void cap_finish(struct tval *tv)
{
    if (!armed)
        return;
    while (!zset_cow_step(tv, 5))
        ;
    CHECK(ngot == ncut);
    qsort(cut, ncut, sizeof *cut, by_member);
    qsort(got, ngot, sizeof *got, by_member);
    for (size_t i = 0; i < ncut; i++)
        CHECK(by_member(&cut[i], &got[i]) == 0 && cut[i].s == got[i].s);
    zset_cow_end(tv);
    CHECK(!zset_cow_armed(tv));
    free(cut);
    free(got);
    armed = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in x = {data, size};
    struct mem_acct acct = {0};
    uint8_t l = byte(&x);
    struct zset_limits lim = {(uint32_t)(l % 16) * 9, l & 0x80 ? 64 : 8};
    struct tval *tv = zset_create(&acct, &lim, 0, 0);
    CHECK(tv);
    mn = 0;
    unsigned char m[MAXM], m2[MAXM];
    bool capture = l & 0x10, captured = false;
    int every = 1 << ((l >> 5) & 3);
    for (int ops = 0; x.n && ops < 2000; ops++) {
        if (capture && !captured && tv->enc == ZSET_ENC_TREE) {
            cap_begin(tv);
            captured = true;
        }
        if (armed && ops % every == 0 && zset_cow_step(tv, 1))
            cap_finish(tv);
        uint8_t op = byte(&x) % 12;
        switch (op) {
        case 0:
        case 1: {
            size_t len = member(&x, m);
            double s = score(&x);
            int in = byte(&x) & 31, out, mout;
            if ((in & ZSET_IN_NX) && (in & (ZSET_IN_XX | ZSET_IN_GT | ZSET_IN_LT)))
                in &= ~ZSET_IN_NX; /* the command layer refuses these pairs */
            if ((in & ZSET_IN_GT) && (in & ZSET_IN_LT))
                in &= ~ZSET_IN_LT;
            long fail = op == 1 ? (long)(byte(&x) % 8) : -1;
            zset_test_fail_after(fail);
            int rc = zset_add(&acct, tv, &lim, m, len, s, in, &out, NULL);
            zset_test_fail_after(-1);
            if (rc == ZSET_ENOMEM)
                break; /* the model is untouched; zset_check and the walk below compare */
            int mrc = madd(m, len, s, in, &mout);
            CHECK(rc == mrc);
            CHECK(rc != 0 || out == mout);
            break;
        }
        case 2: {
            size_t len = member(&x, m);
            long i = mfind(m, len);
            CHECK(zset_del(&acct, tv, m, len) == (i >= 0));
            if (i >= 0)
                mdel((size_t)i);
            break;
        }
        case 3: {
            size_t len = member(&x, m);
            long i = mfind(m, len);
            double s;
            CHECK(zset_score(tv, m, len, &s) == (i >= 0));
            CHECK(i < 0 || s == me[i].s);
            CHECK(zset_rank(tv, m, len, false, NULL) == i);
            CHECK(zset_rank(tv, m, len, true, NULL) == (i < 0 ? -1 : (long)mn - 1 - i));
            break;
        }
        case 4: {
            /* many members at once: deeper trees */
            unsigned k = (unsigned)(byte(&x) % 64) * 16;
            double s = score(&x);
            for (unsigned j = 0; j < k; j++) {
                size_t len = (size_t)snprintf((char *)m, MAXM, "bulk%u:%u", k, j);
                int out, mout;
                CHECK(zset_add(&acct, tv, &lim, m, len, s + (j % 5), 0, &out, NULL) == 0);
                madd(m, len, s + (j % 5), 0, &mout);
                CHECK(out == mout);
            }
            break;
        }
        case 5: {
            struct zset_score_range r = {score(&x), score(&x), false, false};
            uint8_t f = byte(&x);
            r.minex = f & 1;
            r.maxex = f & 2;
            size_t lo, hi, ml = 0, mh;
            zset_score_span(tv, &r, &lo, &hi);
            while (ml < mn && !(r.minex ? me[ml].s > r.min : me[ml].s >= r.min))
                ml++;
            mh = ml;
            while (mh < mn && (r.maxex ? me[mh].s < r.max : me[mh].s <= r.max))
                mh++;
            CHECK(hi - lo == mh - ml);
            CHECK(mh == ml || lo == ml);
            break;
        }
        case 6: {
            if (!one_score())
                break;
            struct zset_lex_range r;
            lex_bound(&x, &r.min, m);
            lex_bound(&x, &r.max, m2);
            size_t lo, hi, ml = 0, mh;
            zset_lex_span(tv, &r, &lo, &hi);
            while (ml < mn && !lex_gte(&r.min, &me[ml]))
                ml++;
            mh = ml;
            while (mh < mn && lex_lte(&r.max, &me[mh]))
                mh++;
            CHECK(hi - lo == mh - ml);
            CHECK(mh == ml || lo == ml);
            break;
        }
        case 7: {
            size_t f = byte(&x), k = byte(&x) % 16;
            if (f > mn)
                break;
            size_t end = f + k > mn ? mn : f + k;
            CHECK(zset_del_range(&acct, tv, f, f + k) == end - f);
            for (size_t i = f; i < end; i++)
                mdel(f);
            break;
        }
        case 8: {
            if (!mn)
                break;
            size_t r = ((size_t)byte(&x) << 8 | byte(&x)) % mn;
            bool rev = byte(&x) & 1;
            struct zset_iter it;
            struct zset_elem e;
            size_t i = r;
            for (zset_iter_init(&it, tv, r, rev); zset_iter_next(&it, &e);) {
                elem_eq(&e, &me[i]);
                if (rev && i == 0) {
                    CHECK(!zset_iter_next(&it, &e));
                    break;
                }
                i = rev ? i - 1 : i + 1;
            }
            CHECK(rev || i == mn);
            break;
        }
        case 9: {
            if (!mn)
                break;
            size_t r = byte(&x) & 1 ? mn - 1 : 0;
            struct zset_elem e;
            CHECK(zset_at(tv, r, &e));
            elem_eq(&e, &me[r]);
            CHECK(zset_del_range(&acct, tv, r, r + 1) == 1);
            mdel(r);
            break;
        }
        case 10: {
            struct tval *cp = zset_copy(&acct, tv);
            CHECK(cp && zset_check(cp) == 0 && zset_len(cp) == mn);
            zset_free(&acct, cp);
            if (byte(&x) & 1)
                CHECK(zset_convert_listpack_if_fits(&acct, tv, &lim) == 0);
            break;
        }
        default: {
            if (tv->enc != ZSET_ENC_TREE)
                CHECK(zset_convert_tree(&acct, tv) == 0);
            break;
        }
        }
        /* The O(n) check after every operation while small, then now and then. */
        if (mn < 300 || ops % 32 == 0)
            CHECK(zset_check(tv) == 0);
        CHECK(zset_len(tv) == mn);
    }
    cap_finish(tv);
    CHECK(zset_check(tv) == 0);
    struct zset_iter it;
    struct zset_elem e;
    size_t i = 0;
    for (zset_iter_init(&it, tv, 0, false); zset_iter_next(&it, &e); i++)
        elem_eq(&e, &me[i]);
    CHECK(i == mn);
    while (!zset_destroy_step(&acct, tv, 7))
        ;
    CHECK(acct.used == 0);
    CHECK(acct.allocs == acct.frees);
    return 0;
}
