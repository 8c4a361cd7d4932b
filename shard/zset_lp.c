/* zset_lp.c — a small sorted set as one listpack of member, score pairs in
 * (score, member) order, laid out as Redis 7.0 does so the blob goes into
 * an RDB file (RDB_TYPE_ZSET_LISTPACK) as it is: a score that is an
 * integer within +-2^62 is an integer entry (Redis's double2ll), any other
 * is its "%.17g" text, "inf" or "-inf" (d2string). Owner shard's thread
 * only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard/zset_internal.h"

/* Longest score text read back: Redis's zzlStrtod copies at most 127. */
#define SCORE_TEXT_MAX 128

double zlp_score(const unsigned char *sp)
{
    struct listpack_entry e;
    listpack_get(sp, &e);
    if (!e.str)
        return (double)e.num;
    char buf[SCORE_TEXT_MAX];
    size_t n = e.len < sizeof buf - 1 ? e.len : sizeof buf - 1;
    memcpy(buf, e.str, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

/* The text a score is stored as; its length. */
static size_t score_text(double d, char buf[32])
{
    /* double2ll: integers in [-2^62, 2^62] are stored as integers (the
     * listpack turns their decimal text into an integer entry). */
    if (d >= -4611686018427387904.0 && d <= 4611686018427387904.0) {
        long long ll = (long long)d;
        if ((double)ll == d)
            return (size_t)snprintf(buf, 32, "%lld", ll);
    }
    if (isinf(d))
        return d > 0 ? (memcpy(buf, "inf", 4), 3u) : (memcpy(buf, "-inf", 5), 4u);
    return (size_t)snprintf(buf, 32, "%.17g", d);
}

const unsigned char *zlp_find(const unsigned char *lp, const void *m, size_t len, double *score)
{
    const unsigned char *ep = listpack_find(lp, listpack_first(lp), m, len, 1);
    if (ep && score)
        *score = zlp_score(listpack_next(lp, ep));
    return ep;
}

void zlp_read(const unsigned char *lp, const unsigned char *ep, struct zset_elem *e)
{
    e->m = listpack_get_text(ep, e->buf, &e->len);
    e->score = zlp_score(listpack_next(lp, ep));
}

static int lp_err(int rc)
{
    return rc == LISTPACK_ENOMEM ? ZSET_ENOMEM : ZSET_ETOOBIG;
}

int zlp_insert(struct mem_acct *a, unsigned char **lp, const void *m, size_t len, double score,
               size_t *at)
{
    char sbuf[32];
    size_t slen = score_text(score, sbuf);
    const unsigned char *ep = listpack_first(*lp);
    while (ep) {
        struct zset_elem e;
        zlp_read(*lp, ep, &e);
        if (zset_cmp(e.score, e.m, e.len, score, m, len) > 0)
            break;
        ep = listpack_next(*lp, listpack_next(*lp, ep));
    }
    int rc;
    if (!ep) {
        if (at)
            *at = listpack_bytes(*lp) - 1u; /* where the end byte is now */
        rc = listpack_append(a, lp, m, len);
        if (rc < 0)
            return lp_err(rc);
        rc = listpack_append(a, lp, sbuf, slen);
        if (rc < 0) {
            /* Take the member back off: the set must be as it was. */
            listpack_delete(a, lp, listpack_last(*lp), NULL);
            return lp_err(rc);
        }
        return 0;
    }
    const unsigned char *np;
    rc = listpack_insert(a, lp, ep, LISTPACK_BEFORE, m, len, &np);
    if (rc < 0)
        return lp_err(rc);
    size_t npoff = (size_t)(np - *lp);
    rc = listpack_insert(a, lp, np, LISTPACK_AFTER, sbuf, slen, NULL);
    if (rc < 0) {
        /* np is still valid: the failed insert left *lp unchanged. */
        listpack_delete(a, lp, np, NULL);
        return lp_err(rc);
    }
    if (at)
        *at = npoff;
    return 0;
}

void zlp_delete(struct mem_acct *a, unsigned char **lp, const unsigned char *ep)
{
    const unsigned char *sp;
    listpack_delete(a, lp, ep, &sp);
    listpack_delete(a, lp, sp, NULL);
}
