/* thash.c — the hash type's operations on its two encodings (a listpack of
 * field, value, field, value... or a nested kvmap), the one-way conversion
 * between them, iteration, HSCAN's cursor and HRANDFIELD's sampling. Runs
 * on the owning shard's thread. */
#include "shard/thash.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "shard/kvmap.h"
#include "shard/listpack.h"

/* ------------------------------------------------------------- randomness */

/* HRANDFIELD's picks: xorshift64* per thread, seeded from the clock and the
 * thread on first use. Spread is what matters, not unpredictability. */
static _Thread_local uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    if (x == 0)
        x = clock_mono_ns() ^ (uint64_t)(uintptr_t)&rng_state ^ 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n), n > 0 (the modulo bias is below 2^-40 for any hash). */
static uint64_t rng_below(uint64_t n)
{
    return rng_next() % n;
}

/* ------------------------------------------------------------- conversion */

/* Turn a listpack hash into a hash table. Bounded by the thresholds: the
 * listpack holds at most hash-max-listpack-entries pairs when this runs
 * (or a single longer value is about to be added). On failure the hash
 * keeps its listpack. */
static int convert(struct mem_acct *a, struct tval *tv)
{
    struct kvmap *ht = tval_table_new(a);
    if (!ht)
        return THASH_ENOMEM;
    unsigned char *lp = tv->u.lp;
    for (const unsigned char *p = listpack_first(lp); p;) {
        const unsigned char *vp = listpack_next(lp, p);
        char fb[THASH_NUMBUF], vb[THASH_NUMBUF];
        size_t fl, vl;
        const unsigned char *f = listpack_get_text(p, fb, &fl);
        const unsigned char *v = listpack_get_text(vp, vb, &vl);
        int rc = kvmap_set(ht, f, fl, v, vl, KVMAP_NO_EXPIRE, 0);
        if (rc < 0) {
            kvmap_destroy(ht);
            return rc;
        }
        p = listpack_next(lp, vp);
    }
    listpack_destroy(a, lp);
    tv->u.ht = ht;
    tv->enc = TVAL_ENC_HASHTABLE;
    return 0;
}

struct tval *thash_create(struct mem_acct *a)
{
    struct tval *tv = tval_new(a, TVAL_HASH, TVAL_ENC_LISTPACK);
    if (!tv)
        return NULL;
    tv->u.lp = listpack_create(a);
    if (!tv->u.lp) {
        mem_free(a, tv);
        return NULL;
    }
    return tv;
}

int thash_prepare(struct mem_acct *a, struct tval *tv, size_t maxlen, size_t sumlen)
{
    if (tv->enc != TVAL_ENC_LISTPACK)
        return 0;
    struct tval_limits lim;
    tval_limits_get(&lim);
    size_t have = listpack_bytes(tv->u.lp);
    if (maxlen > lim.hash_max_listpack_value || have >= THASH_LISTPACK_SAFE_BYTES ||
        sumlen > THASH_LISTPACK_SAFE_BYTES - have)
        return convert(a, tv);
    return 0;
}

/* --------------------------------------------------------------- lookups */

/* The listpack entry of field, or NULL. */
static const unsigned char *lp_field(const struct tval *tv, const void *field, size_t flen)
{
    unsigned char *lp = tv->u.lp;
    return listpack_find(lp, listpack_first(lp), field, flen, 1);
}

bool thash_get(struct tval *tv, const void *field, size_t flen, char buf[THASH_NUMBUF],
               struct thash_str *v)
{
    if (tv->enc == TVAL_ENC_LISTPACK) {
        const unsigned char *p = lp_field(tv, field, flen);
        if (!p)
            return false;
        size_t n;
        v->ptr = (const char *)listpack_get_text(listpack_next(tv->u.lp, p), buf, &n);
        v->len = n;
        return true;
    }
    struct kventry *e = kvmap_find(tv->u.ht, field, flen, 0);
    if (!e)
        return false;
    v->ptr = kventry_value(e, buf, &v->len);
    return true;
}

bool thash_exists(struct tval *tv, const void *field, size_t flen)
{
    if (tv->enc == TVAL_ENC_LISTPACK)
        return lp_field(tv, field, flen) != NULL;
    return kvmap_find(tv->u.ht, field, flen, 0) != NULL;
}

/* ---------------------------------------------------------------- writes */

int thash_set(struct mem_acct *a, struct tval *tv, const void *field, size_t flen,
              const void *value, size_t vlen)
{
    struct tval_limits lim;
    tval_limits_get(&lim);
    if (tv->enc == TVAL_ENC_LISTPACK) {
        /* Redis's hashTypeSet converts before a long field or value goes
         * in (HINCRBYFLOAT's result is the case thash_prepare misses). */
        int rc = thash_prepare(a, tv, flen > vlen ? flen : vlen, flen + vlen);
        if (rc < 0)
            return rc;
    }
    if (tv->enc != TVAL_ENC_LISTPACK)
        return kvmap_set(tv->u.ht, field, flen, value, vlen, KVMAP_NO_EXPIRE, 0);

    const unsigned char *p = lp_field(tv, field, flen);
    int rc, created = p == NULL;
    if (p) {
        rc = listpack_replace(a, &tv->u.lp, listpack_next(tv->u.lp, p), value, vlen, NULL);
    } else {
        rc = listpack_append(a, &tv->u.lp, field, flen);
        if (rc == 0) {
            rc = listpack_append(a, &tv->u.lp, value, vlen);
            if (rc < 0) /* take the lone field out again: all or nothing */
                listpack_delete(a, &tv->u.lp, listpack_last(tv->u.lp), NULL);
        }
    }
    if (rc < 0)
        return rc == LISTPACK_ENOMEM ? THASH_ENOMEM : THASH_ETOOBIG;
    /* Checked after an update too, as Redis's hashTypeSet does: a listpack
     * left over a threshold lowered by CONFIG SET converts on its next
     * write. A failed conversion leaves the listpack over the threshold,
     * and the field set: the next write tries again. */
    if (thash_len(tv) > lim.hash_max_listpack_entries)
        (void)convert(a, tv);
    return created;
}

int thash_del(struct mem_acct *a, struct tval *tv, const void *field, size_t flen)
{
    if (tv->enc != TVAL_ENC_LISTPACK)
        return kvmap_del(tv->u.ht, field, flen, 0);
    const unsigned char *p = lp_field(tv, field, flen);
    if (!p)
        return 0;
    const unsigned char *vp;
    listpack_delete(a, &tv->u.lp, p, &vp);
    listpack_delete(a, &tv->u.lp, vp, NULL);
    return 1;
}

/* ------------------------------------------------------------- iteration */

/* Visit the pair whose field entry is p. */
static void lp_visit(const unsigned char *lp, const unsigned char *p, thash_visit_fn fn, void *arg)
{
    char fb[THASH_NUMBUF], vb[THASH_NUMBUF];
    struct thash_str f, v;
    f.ptr = (const char *)listpack_get_text(p, fb, &f.len);
    v.ptr = (const char *)listpack_get_text(listpack_next(lp, p), vb, &v.len);
    fn(arg, &f, &v);
}

/* A kvmap visitor forwarding to a thash visitor. */
struct ht_visit {
    thash_visit_fn fn; /* the caller's visitor */
    void *arg;         /* its argument */
    uint64_t n;        /* fields visited so far */
};

static void ht_visit_one(void *arg, const struct kventry *e)
{
    struct ht_visit *x = arg;
    char buf[THASH_NUMBUF];
    struct thash_str f, v;
    f.ptr = kventry_key(e, &f.len);
    v.ptr = kventry_value(e, buf, &v.len);
    x->n++;
    x->fn(x->arg, &f, &v);
}

void thash_foreach(struct tval *tv, thash_visit_fn fn, void *arg)
{
    if (tv->enc == TVAL_ENC_LISTPACK) {
        unsigned char *lp = tv->u.lp;
        for (const unsigned char *p = listpack_first(lp); p;
             p = listpack_next(lp, listpack_next(lp, p)))
            lp_visit(lp, p, fn, arg);
        return;
    }
    /* kvmap_scan never writes the map, so the table's shape holds still
     * and a full pass visits every entry exactly once. */
    struct ht_visit x = {fn, arg, 0};
    uint64_t cur = 0;
    do
        cur = kvmap_scan(tv->u.ht, cur, 0, ht_visit_one, &x);
    while (cur);
}

uint64_t thash_scan(struct tval *tv, uint64_t cursor, uint64_t count, thash_visit_fn fn,
                    void *arg)
{
    if (tv->enc == TVAL_ENC_LISTPACK) {
        thash_foreach(tv, fn, arg);
        return 0;
    }
    /* Redis doubles COUNT for hashes (a field and a value per element) and
     * stops after ten times that many buckets. */
    uint64_t budget = count > UINT64_MAX / 20 ? UINT64_MAX : count * 20;
    struct ht_visit x = {fn, arg, 0};
    do
        cursor = kvmap_scan(tv->u.ht, cursor, 0, ht_visit_one, &x);
    while (cursor && budget-- && x.n < count);
    return cursor;
}

/* ---------------------------------------------------------------- random */

void thash_random(struct tval *tv, thash_visit_fn fn, void *arg)
{
    if (tv->enc == TVAL_ENC_LISTPACK) {
        uint64_t i = rng_below(thash_len(tv));
        lp_visit(tv->u.lp, listpack_seek(tv->u.lp, (int64_t)(2 * i)), fn, arg);
        return;
    }
    struct kventry *e = kvmap_random(tv->u.ht, 0);
    struct ht_visit x = {fn, arg, 0};
    if (e)
        ht_visit_one(&x, e);
}

/* Picks per batch of a listpack's random fields: each batch walks the
 * listpack once, so a larger batch walks less. Redis's batch
 * (HRANDFIELD_RANDOM_SAMPLE_LIMIT); its arrays take 24 KiB of stack. */
#define RANDOM_BATCH 1000

/* One pick: which pair, and where in the batch's output it goes. */
struct pick {
    uint64_t pair;  /* index of the field/value pair */
    uint32_t order; /* position in the batch's output */
};

static int pick_cmp(const void *x, const void *y)
{
    const struct pick *a = x, *b = y;
    return a->pair < b->pair ? -1 : a->pair > b->pair;
}

void thash_random_many(struct tval *tv, uint64_t n, thash_visit_fn fn, void *arg)
{
    if (tv->enc != TVAL_ENC_LISTPACK) {
        struct ht_visit x = {fn, arg, 0};
        while (n--) {
            struct kventry *e = kvmap_random(tv->u.ht, 0);
            if (e)
                ht_visit_one(&x, e);
        }
        return;
    }
    /* Redis's lpRandomPairs: sort a batch of random pair indexes, walk the
     * listpack once to find them, hand them out in the order drawn. */
    struct pick picks[RANDOM_BATCH];
    const unsigned char *at[RANDOM_BATCH];
    unsigned char *lp = tv->u.lp;
    uint64_t size = thash_len(tv);
    while (n) {
        uint32_t k = n > RANDOM_BATCH ? RANDOM_BATCH : (uint32_t)n;
        n -= k;
        for (uint32_t i = 0; i < k; i++) {
            picks[i].pair = rng_below(size);
            picks[i].order = i;
        }
        qsort(picks, k, sizeof picks[0], pick_cmp);
        const unsigned char *p = listpack_first(lp);
        uint64_t pair = 0;
        for (uint32_t i = 0; i < k; i++) {
            while (pair < picks[i].pair) {
                p = listpack_next(lp, listpack_next(lp, p));
                pair++;
            }
            at[picks[i].order] = p;
        }
        for (uint32_t i = 0; i < k; i++)
            lp_visit(lp, at[i], fn, arg);
    }
}

/* Selection sampling (Knuth's algorithm S) over a full visit: each of the
 * total fields is taken with probability need / left, which yields exactly
 * the wanted number, each subset equally likely, in visiting order. */
struct sample {
    thash_visit_fn fn; /* the caller's visitor */
    void *arg;         /* its argument */
    uint64_t need;     /* fields still to take */
    uint64_t left;     /* fields not yet looked at */
};

static void sample_one(void *arg, const struct thash_str *f, const struct thash_str *v)
{
    struct sample *s = arg;
    if (s->need && rng_below(s->left) < s->need) {
        s->need--;
        s->fn(s->arg, f, v);
    }
    s->left--;
}

/* Slot of pointer p in a power-of-two open-addressing set. */
static size_t ptr_slot(const void *p, size_t mask)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 17) & mask;
}

int thash_random_unique(struct mem_acct *a, struct tval *tv, uint64_t n, thash_visit_fn fn,
                        void *arg)
{
    uint64_t size = thash_len(tv);
    if (n >= size) {
        thash_foreach(tv, fn, arg);
        return 0;
    }
    /* A listpack is small, and a count of a third of the table or more
     * costs about as much as the reply: one sampling pass over it all. */
    if (tv->enc == TVAL_ENC_LISTPACK || n > size / 3) {
        struct sample s = {fn, arg, n, size};
        thash_foreach(tv, sample_one, &s);
        return 0;
    }
    /* Few of many (Redis's case 4): random entries until n distinct, with
     * the ones taken kept in a set of entry pointers. Entries do not move
     * while nothing is written (kvmap_random only relinks them). The set
     * is at most half full, so the expected picks stay under 1.5 n. */
    size_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    const void **set = mem_calloc(a, cap * sizeof *set);
    if (!set)
        return THASH_ENOMEM;
    struct ht_visit x = {fn, arg, 0};
    while (x.n < n) {
        struct kventry *e = kvmap_random(tv->u.ht, 0);
        if (!e)
            break;
        size_t i = ptr_slot(e, cap - 1);
        while (set[i] && set[i] != e)
            i = (i + 1) & (cap - 1);
        if (set[i])
            continue;
        set[i] = e;
        ht_visit_one(&x, e);
    }
    mem_free(a, set);
    return 0;
}
