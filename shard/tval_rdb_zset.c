/* tval_rdb_zset.c — the RDB object codec for sorted sets (see
 * tval_rdb_zset.h): Redis 7.0's types 17 and 5 out; 17, 12, 5 and 3 in,
 * every element checked and added through the sorted set's own insert, so
 * that a loaded set keeps its invariants whatever order the input had.
 * Encoding on any thread that may read the value; decoding on the thread
 * that will own it. */
#include "shard/tval_rdb_zset.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard/listpack.h"
#include "shard/rdb.h"
#include "shard/rdb_legacy.h"
#include "shard/zset.h"

/* Longest score text read from a listpack, ziplist or RDB_TYPE_ZSET
 * (Redis's own are at most 24 bytes; "%.17g" of any double fits). */
#define SCORE_TEXT_MAX 128

bool tval_rdb_zset_type_known(int type)
{
    return type == RDB_TYPE_ZSET || type == RDB_TYPE_ZSET_2 || type == RDB_TYPE_ZSET_ZIPLIST ||
           type == RDB_TYPE_ZSET_LISTPACK;
}

int tval_rdb_zset_type(const struct tval *tv)
{
    return tv->enc == TVAL_ENC_LISTPACK ? RDB_TYPE_ZSET_LISTPACK : RDB_TYPE_ZSET_2;
}

int tval_rdb_zset_encode(const struct tval *tv, struct tval_rdb_buf *b)
{
    if (tv->enc == TVAL_ENC_LISTPACK)
        return tval_rdb_put_string(b, tv->u.lp, listpack_bytes(tv->u.lp));
    unsigned char l[9];
    size_t n = zset_len(tv);
    if (tval_rdb_buf_append(b, l, rdb_encode_len(l, n)))
        return TVAL_RDB_ENOMEM;
    if (n == 0)
        return 0;
    /* Highest first, as Redis writes it: its loader then inserts each
     * element at the head of its skiplist. */
    struct zset_iter it;
    struct zset_elem e;
    zset_iter_init(&it, tv, n - 1, true);
    while (zset_iter_next(&it, &e))
        if (tval_rdb_zset_encode_element(b, e.m, e.len, e.score))
            return TVAL_RDB_ENOMEM;
    return 0;
}

int tval_rdb_zset_encode_element(struct tval_rdb_buf *b, const void *m, size_t len,
                                 double score)
{
    unsigned char d[8];
    uint64_t bits;
    memcpy(&bits, &score, sizeof bits);
    for (int i = 0; i < 8; i++)
        d[i] = (unsigned char)(bits >> (8 * i));
    if (tval_rdb_put_string(b, m, len) || tval_rdb_buf_append(b, d, sizeof d))
        return TVAL_RDB_ENOMEM;
    return 0;
}

/* ------------------------------------------------------------------ decode */

/* A sorted set being loaded. */
struct zload {
    struct mem_acct *a;      /* what it is charged to */
    struct tval *tv;         /* the set so far */
    struct zset_limits lim;  /* conversion thresholds for this load */
    char *err;               /* message buffer, or NULL */
    size_t errlen;           /* its size */
    bool have_member;        /* blob walk: member holds a member waiting for its score */
    unsigned char *member;   /* a copy of it (malloc'd) */
    size_t mlen;             /* its length */
    size_t mcap;             /* room in member */
};

static int zfail(struct zload *z, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int zfail(struct zload *z, int code, const char *fmt, ...)
{
    if (z->err && z->errlen && !z->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(z->err, z->errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Score text as Redis reads it (strtod over the whole text). */
static bool parse_score(const unsigned char *s, size_t n, double *d)
{
    char buf[SCORE_TEXT_MAX];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    *d = strtod(buf, &end);
    return end == buf + n && !isnan(*d);
}

static int add_pair(struct zload *z, const unsigned char *m, size_t n, double score)
{
    if (isnan(score))
        return zfail(z, TVAL_RDB_ECORRUPT, "a NaN score");
    double old;
    if (zset_score(z->tv, m, n, &old))
        return zfail(z, TVAL_RDB_ECORRUPT, "duplicate member '%.*s'", (int)(n > 40 ? 40 : n), m);
    int out;
    int rc = zset_add(z->a, z->tv, &z->lim, m, n, score, 0, &out, NULL);
    if (rc == ZSET_ENOMEM)
        return zfail(z, TVAL_RDB_ENOMEM, "out of memory building a sorted set");
    if (rc < 0)
        return zfail(z, TVAL_RDB_ECORRUPT, "a member too big for a sorted set");
    return 0;
}

/* Blob elements alternate member, score. */
static int feed_one(void *arg, const unsigned char *s, size_t n)
{
    struct zload *z = arg;
    if (!z->have_member) {
        if (z->mcap < n) {
            unsigned char *p = realloc(z->member, n);
            if (!p)
                return zfail(z, TVAL_RDB_ENOMEM, "out of memory");
            z->member = p;
            z->mcap = n;
        }
        if (n)
            memcpy(z->member, s, n);
        z->mlen = n;
        z->have_member = true;
        return 0;
    }
    z->have_member = false;
    double d;
    if (!parse_score(s, n, &d))
        return zfail(z, TVAL_RDB_ECORRUPT, "a score that is not a number");
    return add_pair(z, z->member, z->mlen, d);
}

static int load_blob(struct zload *z, int type, struct tval_rdb_reader *r,
                     const struct tval_limits *lim)
{
    struct tval_rdb_str s = {0};
    const char *what = type == RDB_TYPE_ZSET_ZIPLIST ? "ziplist" : "listpack";
    size_t count = 0;
    int rc = tval_rdb_read_string(r, &s);
    if (rc)
        goto out;
    if (type == RDB_TYPE_ZSET_ZIPLIST)
        rc = rdb_ziplist_walk(s.s, s.n, NULL, NULL, &count);
    else if ((rc = listpack_validate(s.s, s.n, true)) == 0)
        count = listpack_count(s.s);
    if (rc) {
        rc = zfail(z, TVAL_RDB_ECORRUPT, "%s integrity check failed", what);
        goto out;
    }
    if (count % 2) {
        rc = zfail(z, TVAL_RDB_ECORRUPT, "a sorted set %s with an odd number of entries", what);
        goto out;
    }
    if (count == 0) {
        rc = zfail(z, TVAL_RDB_EEMPTY, "an empty sorted set");
        goto out;
    }
    /* Redis keeps a loaded blob compact up to the entry count, whatever
     * its members' lengths. */
    z->lim.max_listpack_entries = lim->zset_max_listpack_entries;
    z->lim.max_listpack_value = UINT32_MAX;
    if (!(z->tv = zset_create(z->a, &z->lim, count / 2, 0))) {
        rc = zfail(z, TVAL_RDB_ENOMEM, "out of memory");
        goto out;
    }
    if (type == RDB_TYPE_ZSET_ZIPLIST) {
        rc = rdb_ziplist_walk(s.s, s.n, feed_one, z, NULL);
        if (rc == RDB_LEGACY_ECORRUPT)
            rc = zfail(z, TVAL_RDB_ECORRUPT, "%s integrity check failed", what);
    } else {
        for (const unsigned char *q = listpack_first(s.s); q && rc == 0;
             q = listpack_next(s.s, q)) {
            char ibuf[LISTPACK_INTBUF_SIZE];
            size_t n;
            const unsigned char *t = listpack_get_text(q, ibuf, &n);
            rc = feed_one(z, t, n);
        }
    }
out:
    tval_rdb_str_free(&s);
    return rc;
}

/* RDB_TYPE_ZSET_2 and RDB_TYPE_ZSET: a count, then member and score. */
static int load_counted(struct zload *z, int type, struct tval_rdb_reader *r,
                        const struct tval_limits *lim)
{
    struct tval_rdb_str s = {0};
    uint64_t n;
    int rc = tval_rdb_read_len(r, &n);
    if (rc)
        return rc;
    if (n == 0)
        return zfail(z, TVAL_RDB_EEMPTY, "an empty sorted set");
    /* Each element takes at least two bytes: a count the input cannot
     * hold is refused before anything is built. */
    if (n > (uint64_t)(r->end - r->p) / 2)
        return zfail(z, TVAL_RDB_ECORRUPT, "%llu elements in %zu bytes", (unsigned long long)n,
                     (size_t)(r->end - r->p));
    z->lim.max_listpack_entries = lim->zset_max_listpack_entries;
    z->lim.max_listpack_value = lim->zset_max_listpack_value;
    /* Built as a tree and made a listpack only once complete, as Redis's
     * loader does: a listpack stores -0.0 as the integer 0, so a set that
     * started as one and grew into a tree (a long member after a -0.0
     * score) would hold 0.0 where Redis keeps -0.0, and the value would
     * not survive DUMP and RESTORE unchanged. */
    if (!(z->tv = zset_create(z->a, &z->lim, n, SIZE_MAX)))
        return zfail(z, TVAL_RDB_ENOMEM, "out of memory");
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        if ((rc = tval_rdb_read_string(r, &s)) != 0)
            break;
        double d;
        if (type == RDB_TYPE_ZSET_2) {
            if (r->end - r->p < 8) {
                rc = zfail(z, TVAL_RDB_ECORRUPT, "the value ends inside a score");
                break;
            }
            uint64_t bits = 0;
            for (int k = 0; k < 8; k++)
                bits |= (uint64_t)r->p[k] << (8 * k);
            r->p += 8;
            memcpy(&d, &bits, sizeof d);
        } else {
            if (r->end - r->p < 1) {
                rc = zfail(z, TVAL_RDB_ECORRUPT, "the value ends inside a score");
                break;
            }
            unsigned l = *r->p++;
            if (l == 253) {
                d = NAN;
            } else if (l == 254) {
                d = INFINITY;
            } else if (l == 255) {
                d = -INFINITY;
            } else if ((size_t)(r->end - r->p) < l || !parse_score(r->p, l, &d)) {
                rc = zfail(z, TVAL_RDB_ECORRUPT, "a bad text score");
                break;
            } else {
                r->p += l;
            }
        }
        /* (s may point into the input or into s.num / s.heap, none of
         * which the score's bytes touched.) */
        rc = add_pair(z, s.s, s.n, d);
    }
    tval_rdb_str_free(&s);
    if (rc == 0 && zset_convert_listpack_if_fits(z->a, z->tv, &z->lim) != 0)
        rc = zfail(z, TVAL_RDB_ENOMEM, "out of memory building a sorted set");
    return rc;
}

int tval_rdb_zset_decode(struct mem_acct *a, int type, const unsigned char *p, size_t len,
                         const struct tval_limits *lim, struct tval **out, size_t *used,
                         char *err, size_t errlen)
{
    struct tval_rdb_reader r = {p, p + len, err, errlen};
    struct zload z = {.a = a, .err = err, .errlen = errlen};
    int rc;
    if (type == RDB_TYPE_ZSET_LISTPACK || type == RDB_TYPE_ZSET_ZIPLIST)
        rc = load_blob(&z, type, &r, lim);
    else
        rc = load_counted(&z, type, &r, lim);
    free(z.member);
    if (rc) {
        zset_free(a, z.tv);
        return rc;
    }
    *out = z.tv;
    if (used)
        *used = (size_t)(r.p - p);
    return 0;
}
