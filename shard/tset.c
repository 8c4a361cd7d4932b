/* tset.c — the set type on a struct tval: intset, listpack or hash table
 * (a nested kvmap whose keys are the members and whose values are empty),
 * with Redis 7.2's conversion rules. Runs on the owning shard's thread. */
#include "shard/tset.h"

#include <stdlib.h>
#include <string.h>

#include "common/int64str.h"
#include "shard/intset.h"
#include "shard/kventry.h"
#include "shard/kvmap.h"
#include "shard/listpack.h"

/* ------------------------------------------------------------- helpers */

/* xorshift64*, one state per thread: random members need spread, not
 * cryptographic strength (Redis uses random() too). */
static _Thread_local uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t x = rng_state ? rng_state : 0x9e3779b97f4a7c15ULL ^ (uintptr_t)&rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

uint64_t tset_rand(void)
{
    return rng_next();
}

/* Whether m[0..len) is an integer an intset may hold (Redis's
 * isSdsRepresentableAsLongLong), with its value in *v. */
static bool as_int(const void *m, size_t len, int64_t *v)
{
    return int64str_parse(m, len, v);
}

static void member_int(struct tset_member *out, int64_t v)
{
    out->len = kventry_format_int64(v, out->buf);
    out->ptr = out->buf;
}

static void member_lp(struct tset_member *out, const unsigned char *p)
{
    size_t n;
    const unsigned char *s = listpack_get_text(p, out->buf, &n);
    out->ptr = (const char *)s;
    out->len = n;
}

/* ---------------------------------------------------------- conversion */

static int ht_add(struct kvmap *ht, const void *m, size_t len)
{
    int rc = kvmap_set(ht, m, len, "", 0, KVMAP_NO_EXPIRE, 0);
    if (rc >= 0)
        return rc;
    return rc == KVMAP_ETOOBIG ? TSET_ETOOBIG : TSET_ENOMEM;
}

struct conv_ctx {
    struct mem_acct *a;      /* the account */
    struct tval *dst;        /* the new encoding being filled */
    int rc;                  /* first error */
};

static void conv_one(void *arg, const char *m, size_t len)
{
    struct conv_ctx *x = arg;
    if (x->rc < 0)
        return;
    if (x->dst->enc == TVAL_ENC_HASHTABLE) {
        int rc = ht_add(x->dst->u.ht, m, len);
        if (rc < 0)
            x->rc = rc;
    } else {
        int rc = listpack_append(x->a, &x->dst->u.lp, m, len);
        if (rc < 0)
            x->rc = rc == LISTPACK_ETOOBIG ? TSET_ETOOBIG : TSET_ENOMEM;
    }
}

int tset_convert(struct mem_acct *a, struct tval *tv, int enc)
{
    if (tv->enc == enc)
        return 0;
    struct tval tmp = {.type = TVAL_SET, .enc = (uint8_t)enc, .u.p = NULL};
    if (enc == TVAL_ENC_HASHTABLE)
        tmp.u.ht = tval_table_new(a);
    else
        tmp.u.lp = listpack_create(a);
    if (!tmp.u.p)
        return TSET_ENOMEM;
    struct conv_ctx x = {a, &tmp, 0};
    tset_each(tv, conv_one, &x);
    if (x.rc < 0) {
        if (enc == TVAL_ENC_HASHTABLE)
            kvmap_destroy(tmp.u.ht);
        else
            listpack_destroy(a, tmp.u.lp);
        return x.rc;
    }
    /* The old block goes now: it is at most a listpack or an intset
     * (small), since a hash table is never converted. */
    if (tv->enc == TVAL_ENC_INTSET)
        intset_destroy(a, tv->u.is);
    else if (tv->enc == TVAL_ENC_LISTPACK)
        listpack_destroy(a, tv->u.lp);
    tv->enc = (uint8_t)enc;
    tv->u = tmp.u;
    return 0;
}

/* ------------------------------------------------------------ creating */

struct tval *tset_create(struct mem_acct *a, const void *m, size_t len, size_t hint)
{
    struct tval_limits lim;
    tval_limits_get(&lim);
    int64_t v;
    int enc;
    if (as_int(m, len, &v) && hint <= lim.set_max_intset_entries)
        enc = TVAL_ENC_INTSET;
    else if (hint <= lim.set_max_listpack_entries && len <= lim.set_max_listpack_value)
        enc = TVAL_ENC_LISTPACK;
    else
        enc = TVAL_ENC_HASHTABLE;
    struct tval *tv = tval_new(a, TVAL_SET, enc);
    if (!tv)
        return NULL;
    if (enc == TVAL_ENC_INTSET)
        tv->u.is = intset_create(a);
    else if (enc == TVAL_ENC_LISTPACK)
        tv->u.lp = listpack_create(a);
    else
        tv->u.ht = tval_table_new(a);
    if (!tv->u.p) {
        mem_free(a, tv);
        return NULL;
    }
    return tv;
}

/* -------------------------------------------------------- add / remove */

int tset_add(struct mem_acct *a, struct tval *tv, const void *m, size_t len)
{
    struct tval_limits lim;
    tval_limits_get(&lim);
    int64_t v;
    if (tv->enc == TVAL_ENC_INTSET) {
        if (as_int(m, len, &v)) {
            if (intset_find(tv->u.is, v))
                return 0;
            if (intset_len(tv->u.is) < lim.set_max_intset_entries) {
                int rc = intset_add(a, &tv->u.is, v, NULL);
                if (rc < 0)
                    return rc == INTSET_ETOOBIG ? TSET_ETOOBIG : TSET_ENOMEM;
                return 1;
            }
        }
        /* A string member, or one integer too many: Redis 7.2 goes to a
         * listpack when the result fits its limits, else a hash table. */
        size_t n = intset_len(tv->u.is) + 1;
        bool fits = n <= lim.set_max_listpack_entries && len <= lim.set_max_listpack_value;
        int rc = tset_convert(a, tv, fits ? TVAL_ENC_LISTPACK : TVAL_ENC_HASHTABLE);
        if (rc < 0)
            return rc;
    }
    if (tv->enc == TVAL_ENC_LISTPACK) {
        if (listpack_find(tv->u.lp, listpack_first(tv->u.lp), m, len, 0))
            return 0;
        if (listpack_count(tv->u.lp) < lim.set_max_listpack_entries &&
            len <= lim.set_max_listpack_value) {
            int rc = listpack_append(a, &tv->u.lp, m, len);
            if (rc < 0)
                return rc == LISTPACK_ETOOBIG ? TSET_ETOOBIG : TSET_ENOMEM;
            return 1;
        }
        int rc = tset_convert(a, tv, TVAL_ENC_HASHTABLE);
        if (rc < 0)
            return rc;
    }
    if (kvmap_find(tv->u.ht, m, len, 0))
        return 0;
    return ht_add(tv->u.ht, m, len);
}

int tset_remove(struct mem_acct *a, struct tval *tv, const void *m, size_t len)
{
    switch (tv->enc) {
    case TVAL_ENC_INTSET: {
        int64_t v;
        bool removed = false;
        if (as_int(m, len, &v))
            intset_remove(a, &tv->u.is, v, &removed);
        return removed ? 1 : 0;
    }
    case TVAL_ENC_LISTPACK: {
        const unsigned char *p = listpack_find(tv->u.lp, listpack_first(tv->u.lp), m, len, 0);
        if (!p)
            return 0;
        listpack_delete(a, &tv->u.lp, p, NULL);
        return 1;
    }
    default: return kvmap_del(tv->u.ht, m, len, 0);
    }
}

bool tset_has(const struct tval *tv, const void *m, size_t len)
{
    switch (tv->enc) {
    case TVAL_ENC_INTSET: {
        int64_t v;
        return as_int(m, len, &v) && intset_find(tv->u.is, v);
    }
    case TVAL_ENC_LISTPACK:
        return listpack_find(tv->u.lp, listpack_first(tv->u.lp), m, len, 0) != NULL;
    default:
        /* kvmap_find writes only to reap expired entries; members never
         * expire, so a read-only caller may use it. */
        return kvmap_find((struct kvmap *)tv->u.ht, m, len, 0) != NULL;
    }
}

/* ----------------------------------------------------------- iteration */

struct visit_ctx {
    tset_visit_fn fn; /* the caller's visitor */
    void *arg;        /* its argument */
};

static void visit_entry(void *arg, const struct kventry *e)
{
    struct visit_ctx *x = arg;
    size_t klen;
    const char *k = kventry_key(e, &klen);
    x->fn(x->arg, k, klen);
}

static void each_small(struct tval *tv, tset_visit_fn fn, void *arg)
{
    struct tset_member m;
    if (tv->enc == TVAL_ENC_INTSET) {
        uint32_t n = intset_len(tv->u.is);
        for (uint32_t i = 0; i < n; i++) {
            int64_t v;
            intset_get(tv->u.is, i, &v);
            member_int(&m, v);
            fn(arg, m.ptr, m.len);
        }
        return;
    }
    for (const unsigned char *p = listpack_first(tv->u.lp); p; p = listpack_next(tv->u.lp, p)) {
        member_lp(&m, p);
        fn(arg, m.ptr, m.len);
    }
}

void tset_each(struct tval *tv, tset_visit_fn fn, void *arg)
{
    if (tv->enc != TVAL_ENC_HASHTABLE) {
        each_small(tv, fn, arg);
        return;
    }
    /* Nothing writes the table between the calls, so each member is seen
     * exactly once. */
    struct visit_ctx x = {fn, arg};
    uint64_t cur = 0;
    do
        cur = kvmap_scan(tv->u.ht, cur, 0, visit_entry, &x);
    while (cur);
}

uint64_t tset_scan(struct tval *tv, uint64_t cursor, tset_visit_fn fn, void *arg)
{
    if (tv->enc != TVAL_ENC_HASHTABLE) {
        each_small(tv, fn, arg);
        return 0;
    }
    struct visit_ctx x = {fn, arg};
    return kvmap_scan(tv->u.ht, cursor, 0, visit_entry, &x);
}

bool tset_random(struct tval *tv, struct tset_member *out)
{
    size_t n = tval_len(tv);
    if (n == 0)
        return false;
    if (tv->enc == TVAL_ENC_INTSET) {
        int64_t v;
        intset_get(tv->u.is, (uint32_t)(rng_next() % n), &v);
        member_int(out, v);
    } else if (tv->enc == TVAL_ENC_LISTPACK) {
        member_lp(out, listpack_seek(tv->u.lp, (int64_t)(rng_next() % n)));
    } else {
        struct kventry *e = kvmap_random(tv->u.ht, 0);
        if (!e)
            return false;
        out->ptr = kventry_key(e, &out->len);
    }
    return true;
}

struct collect_ctx {
    struct tset_member *v; /* the array */
    size_t n;              /* filled so far */
    size_t cap;            /* its length */
};

static void collect_one(void *arg, const char *m, size_t len)
{
    struct collect_ctx *x = arg;
    if (x->n < x->cap) {
        x->v[x->n].ptr = m;
        x->v[x->n].len = len;
        x->n++;
    }
}

int tset_members(struct tval *tv, struct tset_member **v, size_t *n)
{
    size_t cnt = tval_len(tv);
    struct tset_member *arr = malloc((cnt ? cnt : 1) * sizeof *arr);
    if (!arr)
        return TSET_ENOMEM;
    if (tv->enc == TVAL_ENC_INTSET) {
        for (size_t i = 0; i < cnt; i++) {
            int64_t x;
            intset_get(tv->u.is, (uint32_t)i, &x);
            member_int(&arr[i], x);
        }
    } else if (tv->enc == TVAL_ENC_LISTPACK) {
        size_t i = 0;
        for (const unsigned char *p = listpack_first(tv->u.lp); p && i < cnt;
             p = listpack_next(tv->u.lp, p))
            member_lp(&arr[i++], p);
        cnt = i;
    } else {
        struct collect_ctx x = {arr, 0, cnt};
        tset_each(tv, collect_one, &x);
        cnt = x.n;
    }
    *v = arr;
    *n = cnt;
    return 0;
}
