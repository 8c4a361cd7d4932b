/* zset.c — the sorted set type over its two encodings: creating, copying,
 * converting and freeing a set, and the single-member operations (ZADD's
 * semantics, ZREM, ZSCORE, ZRANK, the element at a rank). Ranges, walks and
 * checks are in zset_range.c. Owner shard's thread only. */
#include "shard/zset.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "shard/zset_internal.h"

/* Redis's lpSafeToAdd: a listpack is converted before it would pass 1 GB. */
#define LP_SAFETY_SIZE (1u << 30)

static struct zset_big *BIG(const struct tval *tv)
{
    return (struct zset_big *)tv->u.p;
}

uint64_t zset_node_visits(void)
{
    return zt_visits;
}

/* ------------------------------------------------------ create and free */

/* tval_new's work, here so that this file needs no more of shard/ than the
 * listpack (the fuzz target links the sorted set alone). */
static struct tval *new_tval(struct mem_acct *a, int enc)
{
    struct tval *tv = mem_alloc(a, sizeof *tv);
    if (!tv)
        return NULL;
    tv->type = TVAL_ZSET;
    tv->enc = (uint8_t)enc;
    tv->u.p = NULL;
    return tv;
}

struct tval *zset_create(struct mem_acct *a, const struct zset_limits *lim, size_t size_hint,
                         size_t maxlen_hint)
{
    bool small = size_hint <= lim->max_listpack_entries && maxlen_hint <= lim->max_listpack_value;
    struct tval *tv = new_tval(a, small ? TVAL_ENC_LISTPACK : ZSET_ENC_TREE);
    if (!tv)
        return NULL;
    tv->u.p = small ? (void *)listpack_create(a) : (void *)zt_create(a);
    if (!tv->u.p) {
        mem_free(a, tv);
        return NULL;
    }
    return tv;
}

bool zset_destroy_step(struct mem_acct *a, struct tval *tv, size_t n)
{
    if (tv->enc == ZSET_ENC_TREE) {
        if (!zt_destroy_step(BIG(tv), a, n))
            return false;
    } else {
        listpack_destroy(a, tv->u.lp);
    }
    mem_free(a, tv);
    return true;
}

void zset_free(struct mem_acct *a, struct tval *tv)
{
    if (tv)
        while (!zset_destroy_step(a, tv, SIZE_MAX))
            ;
}

size_t zset_len(const struct tval *tv)
{
    if (tv->enc == ZSET_ENC_TREE)
        return (size_t)BIG(tv)->count;
    return listpack_count(tv->u.lp) / 2;
}

size_t zset_bytes(const struct tval *tv)
{
    size_t n = mem_usable(tv);
    return n + (tv->enc == ZSET_ENC_TREE ? (size_t)BIG(tv)->bytes : mem_usable(tv->u.lp));
}

const char *zset_enc_name(const struct tval *tv)
{
    return tv->enc == ZSET_ENC_TREE ? "skiplist" : "listpack";
}

/* ------------------------------------------------------------ big set */

/* Add member (absent) with score to z: every allocation happens before
 * anything changes. */
static int big_add(struct mem_acct *a, struct zset_big *z, const void *m, size_t len, double score)
{
    if (len > UINT32_MAX)
        return ZSET_ETOOBIG;
    unsigned char *b = zmem_new(a, &z->bytes, m, len, score);
    if (!b)
        return ZSET_ENOMEM;
    int rc = zindex_reserve(&z->ix, a, &z->bytes);
    if (rc == 0)
        rc = zt_reserve(z, a, score, m, len);
    if (rc < 0) {
        zmem_free(a, &z->bytes, b);
        return rc;
    }
    zt_insert(z, b);
    zindex_insert(&z->ix, a, &z->bytes, b);
    if (z->cow)
        zset_cow_created(z, b);
    return 0;
}

static void big_del(struct mem_acct *a, struct zset_big *z, unsigned char *b)
{
    if (z->cow)
        zset_cow_touch(z, b);
    zt_remove(z, a, b);
    zindex_remove(&z->ix, a, &z->bytes, b);
    zmem_free(a, &z->bytes, b);
}

static int cmp_key_block(double s, const unsigned char *m, size_t len, const unsigned char *b)
{
    size_t bl;
    const unsigned char *bm = zmem_member(b, &bl);
    return zset_cmp(s, m, len, zmem_score(b), bm, bl);
}

/* Give block b the score s. When its neighbours still bracket it, the
 * score is written in place (a leaderboard's small increments); otherwise
 * a new block takes its place in the tree and the index. */
static int big_update(struct mem_acct *a, struct zset_big *z, unsigned char *b, double s)
{
    size_t len;
    const unsigned char *m = zmem_member(b, &len);
    struct zset_path p, q;
    zt_select(z, zt_rank(z, b), &p);
    q = p;
    const unsigned char *prev = zt_path_prev(&p), *next = zt_path_next(&q);
    if ((!prev || cmp_key_block(s, m, len, prev) > 0) &&
        (!next || cmp_key_block(s, m, len, next) < 0)) {
        if (z->cow)
            zset_cow_touch(z, b);
        zmem_set_score(b, s);
        return 0;
    }
    unsigned char *nb = zmem_new(a, &z->bytes, m, len, s);
    if (!nb)
        return ZSET_ENOMEM;
    /* nb's key differs from b's by score only, so the two may sit in the
     * tree together for a moment. */
    int rc = zt_reserve(z, a, s, m, len);
    if (rc < 0) {
        zmem_free(a, &z->bytes, nb);
        return rc;
    }
    if (z->cow)
        zset_cow_touch(z, b);
    zt_insert(z, nb);
    zt_remove(z, a, b);
    zindex_replace(&z->ix, b, nb);
    zmem_free(a, &z->bytes, b);
    if (z->cow)
        zset_cow_created(z, nb);
    return 0;
}

int zset_convert_tree(struct mem_acct *a, struct tval *tv)
{
    if (tv->enc == ZSET_ENC_TREE)
        return 0;
    struct zset_big *z = zt_create(a);
    if (!z)
        return ZSET_ENOMEM;
    const unsigned char *lp = tv->u.lp;
    for (const unsigned char *ep = listpack_first(lp); ep;
         ep = listpack_next(lp, listpack_next(lp, ep))) {
        struct zset_elem e;
        zlp_read(lp, ep, &e);
        int rc = big_add(a, z, e.m, e.len, e.score);
        if (rc < 0) {
            while (!zt_destroy_step(z, a, SIZE_MAX))
                ;
            return rc;
        }
    }
    listpack_destroy(a, tv->u.lp);
    tv->u.p = z;
    tv->enc = ZSET_ENC_TREE;
    return 0;
}

/* Append member and score to *lp; 0 or a ZSET_E* code (lp may then hold
 * a partial set: the caller throws it away). */
static int lp_append_pair(struct mem_acct *a, unsigned char **lp, const void *m, size_t len,
                          double score)
{
    return zlp_insert(a, lp, m, len, score, NULL) == 0 ? 0 : ZSET_ENOMEM;
}

int zset_convert_listpack_if_fits(struct mem_acct *a, struct tval *tv,
                                  const struct zset_limits *lim)
{
    if (tv->enc != ZSET_ENC_TREE)
        return 0;
    struct zset_big *z = BIG(tv);
    /* A set a snapshot is capturing keeps its tree until it is captured. */
    if (z->count > lim->max_listpack_entries || z->cow)
        return 0;
    struct zset_iter it;
    struct zset_elem e;
    for (zset_iter_init(&it, tv, 0, false); zset_iter_next(&it, &e);)
        if (e.len > lim->max_listpack_value)
            return 0;
    unsigned char *lp = listpack_create(a);
    if (!lp)
        return ZSET_ENOMEM;
    for (zset_iter_init(&it, tv, 0, false); zset_iter_next(&it, &e);) {
        if (lp_append_pair(a, &lp, e.m, e.len, e.score) < 0) {
            listpack_destroy(a, lp);
            return ZSET_ENOMEM;
        }
    }
    while (!zt_destroy_step(z, a, SIZE_MAX))
        ;
    tv->u.lp = lp;
    tv->enc = TVAL_ENC_LISTPACK;
    return 0;
}

struct tval *zset_copy(struct mem_acct *a, const struct tval *tv)
{
    struct tval *n = new_tval(a, tv->enc);
    if (!n)
        return NULL;
    if (tv->enc != ZSET_ENC_TREE) {
        n->u.lp = listpack_create_from(a, tv->u.lp, listpack_bytes(tv->u.lp));
        if (!n->u.lp) {
            mem_free(a, n);
            return NULL;
        }
        return n;
    }
    struct zset_big *z = zt_create(a);
    if (!z) {
        mem_free(a, n);
        return NULL;
    }
    n->u.p = z;
    struct zset_iter it;
    struct zset_elem e;
    for (zset_iter_init(&it, tv, 0, false); zset_iter_next(&it, &e);) {
        if (big_add(a, z, e.m, e.len, e.score) < 0) {
            zset_free(a, n);
            return NULL;
        }
    }
    return n;
}

/* ---------------------------------------------------------------- ZADD */

int zset_add(struct mem_acct *a, struct tval *tv, const struct zset_limits *lim, const void *m,
             size_t len, double score, int in, int *out, double *newscore)
{
    bool incr = in & ZSET_IN_INCR, nx = in & ZSET_IN_NX, xx = in & ZSET_IN_XX;
    bool gt = in & ZSET_IN_GT, lt = in & ZSET_IN_LT;
    *out = 0;
    double cur;
    const unsigned char *ep = NULL;
    unsigned char *b = NULL;
    bool found;
    if (tv->enc == ZSET_ENC_TREE) {
        b = zindex_find(&BIG(tv)->ix, m, len);
        found = b != NULL;
        if (found)
            cur = zmem_score(b);
    } else {
        ep = zlp_find(tv->u.lp, m, len, &cur);
        found = ep != NULL;
    }

    if (found) {
        if (nx) {
            *out = ZSET_OUT_NOP;
            return 0;
        }
        if (incr) {
            score += cur;
            if (isnan(score))
                return ZSET_ENAN;
        }
        if ((lt && score >= cur) || (gt && score <= cur)) {
            *out = ZSET_OUT_NOP;
            return 0;
        }
        if (newscore)
            *newscore = score;
        if (score == cur) /* -0.0 == 0.0 too, as in Redis */
            return 0;
        int rc;
        if (tv->enc == ZSET_ENC_TREE) {
            rc = big_update(a, BIG(tv), b, score);
        } else {
            /* The new pair goes in first, then the old one goes: a failed
             * insert leaves the set as it was. */
            size_t off = (size_t)(ep - tv->u.lp), at;
            uint32_t before = listpack_bytes(tv->u.lp);
            rc = zlp_insert(a, &tv->u.lp, m, len, score, &at);
            if (rc == 0) {
                if (at <= off)
                    off += listpack_bytes(tv->u.lp) - before;
                zlp_delete(a, &tv->u.lp, tv->u.lp + off);
            }
        }
        if (rc < 0)
            return rc;
        *out = ZSET_OUT_UPDATED;
        return 0;
    }
    if (xx) {
        *out = ZSET_OUT_NOP;
        return 0;
    }
    if (tv->enc != ZSET_ENC_TREE &&
        (listpack_count(tv->u.lp) / 2 + 1 > lim->max_listpack_entries ||
         len > lim->max_listpack_value ||
         (size_t)listpack_bytes(tv->u.lp) + len + 32 > LP_SAFETY_SIZE)) {
        if (len > UINT32_MAX)
            return ZSET_ETOOBIG;
        int rc = zset_convert_tree(a, tv);
        if (rc < 0)
            return rc;
    }
    int rc = tv->enc == ZSET_ENC_TREE ? big_add(a, BIG(tv), m, len, score)
                                      : zlp_insert(a, &tv->u.lp, m, len, score, NULL);
    if (rc < 0)
        return rc;
    if (newscore)
        *newscore = score;
    *out = ZSET_OUT_ADDED;
    return 0;
}

/* ----------------------------------------------------------- other ops */

int zset_del(struct mem_acct *a, struct tval *tv, const void *m, size_t len)
{
    if (tv->enc == ZSET_ENC_TREE) {
        unsigned char *b = zindex_find(&BIG(tv)->ix, m, len);
        if (!b)
            return 0;
        big_del(a, BIG(tv), b);
        return 1;
    }
    const unsigned char *ep = zlp_find(tv->u.lp, m, len, NULL);
    if (!ep)
        return 0;
    zlp_delete(a, &tv->u.lp, ep);
    return 1;
}

size_t zset_del_range(struct mem_acct *a, struct tval *tv, size_t first, size_t end)
{
    size_t n = zset_len(tv);
    if (end > n)
        end = n;
    if (first >= end)
        return 0;
    if (tv->enc == ZSET_ENC_TREE) {
        struct zset_big *z = BIG(tv);
        for (size_t i = first; i < end; i++)
            big_del(a, z, zt_select(z, first, NULL));
    } else {
        for (size_t i = first; i < end; i++)
            zlp_delete(a, &tv->u.lp, listpack_seek(tv->u.lp, (int64_t)first * 2));
    }
    return end - first;
}

bool zset_score(const struct tval *tv, const void *m, size_t len, double *score)
{
    if (tv->enc == ZSET_ENC_TREE) {
        const unsigned char *b = zindex_find(&BIG(tv)->ix, m, len);
        if (b)
            *score = zmem_score(b);
        return b != NULL;
    }
    return zlp_find(tv->u.lp, m, len, score) != NULL;
}

int64_t zset_rank(const struct tval *tv, const void *m, size_t len, bool rev, double *score)
{
    int64_t r = -1;
    if (tv->enc == ZSET_ENC_TREE) {
        const unsigned char *b = zindex_find(&BIG(tv)->ix, m, len);
        if (!b)
            return -1;
        r = (int64_t)zt_rank(BIG(tv), b);
        if (score)
            *score = zmem_score(b);
    } else {
        const unsigned char *lp = tv->u.lp;
        int64_t i = 0;
        for (const unsigned char *ep = listpack_first(lp); ep;
             ep = listpack_next(lp, listpack_next(lp, ep)), i++) {
            if (listpack_entry_eq(ep, m, len)) {
                r = i;
                if (score)
                    *score = zlp_score(listpack_next(lp, ep));
                break;
            }
        }
        if (r < 0)
            return -1;
    }
    return rev ? (int64_t)zset_len(tv) - 1 - r : r;
}

static void block_elem(const unsigned char *b, struct zset_elem *e)
{
    e->m = zmem_member(b, &e->len);
    e->score = zmem_score(b);
}

bool zset_at(const struct tval *tv, size_t r, struct zset_elem *e)
{
    if (r >= zset_len(tv))
        return false;
    if (tv->enc == ZSET_ENC_TREE)
        block_elem(zt_select(BIG(tv), r, NULL), e);
    else
        zlp_read(tv->u.lp, listpack_seek(tv->u.lp, (int64_t)r * 2), e);
    return true;
}

/* ------------------------------------------------------------ scanning */

/* zset_scan's visit of one block. */
struct scan_arg {
    zset_visit_fn fn; /* the caller's */
    void *arg;        /* its argument */
};

static void scan_block(void *arg, const unsigned char *b)
{
    struct scan_arg *sa = arg;
    struct zset_elem e;
    block_elem(b, &e);
    sa->fn(sa->arg, &e);
}

uint64_t zset_scan(const struct tval *tv, uint64_t cursor, uint64_t count, zset_visit_fn fn,
                   void *arg)
{
    if (tv->enc == ZSET_ENC_TREE) {
        struct scan_arg sa = {fn, arg};
        return zindex_scan(&BIG(tv)->ix, cursor, count, scan_block, &sa);
    }
    struct zset_iter it;
    struct zset_elem e;
    zset_iter_init(&it, tv, 0, false);
    while (zset_iter_next(&it, &e))
        fn(arg, &e);
    return 0;
}

/* ------------------------------------------------------------- walking */

void zset_iter_init(struct zset_iter *it, const struct tval *tv, size_t rank, bool rev)
{
    it->tv = tv;
    it->rev = rev;
    it->done = rank >= zset_len(tv);
    it->p = NULL;
    it->cur = NULL;
    it->path.depth = 0;
    if (it->done)
        return;
    if (tv->enc == ZSET_ENC_TREE)
        it->cur = zt_select(BIG(tv), rank, &it->path);
    else
        it->p = listpack_seek(tv->u.lp, (int64_t)rank * 2);
}

bool zset_iter_next(struct zset_iter *it, struct zset_elem *e)
{
    if (it->done)
        return false;
    if (it->tv->enc == ZSET_ENC_TREE) {
        block_elem(it->cur, e);
        it->cur = it->rev ? zt_path_prev(&it->path) : zt_path_next(&it->path);
        it->done = it->cur == NULL;
        return true;
    }
    const unsigned char *lp = it->tv->u.lp;
    zlp_read(lp, it->p, e);
    it->p = it->rev ? listpack_prev(lp, it->p) : listpack_next(lp, listpack_next(lp, it->p));
    if (it->rev && it->p)
        it->p = listpack_prev(lp, it->p);
    it->done = it->p == NULL;
    return true;
}
