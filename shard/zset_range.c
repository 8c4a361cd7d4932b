/* zset_range.c — score and lex ranges of a sorted set: parsing their
 * bounds as Redis does, and turning a range into the ranks it covers, so
 * that ZCOUNT, ZRANGEBYSCORE ... LIMIT, ZREMRANGEBY* all become rank
 * arithmetic (O(log n) on the tree, where Redis walks the offset). Also the
 * invariant checker the tests run after every operation. Owner shard's
 * thread only (parsing is pure). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shard/zset_internal.h"

/* ---------------------------------------------------------------- parsing */

int zset_parse_score_bound(const char *s, size_t len, double *v, bool *ex)
{
    *ex = len > 0 && s[0] == '(';
    if (*ex) {
        s++;
        len--;
    }
    /* Redis runs strtod over the NUL-terminated argument and wants it to
     * stop at the terminator: text after an embedded NUL is ignored. */
    char stack[128], *buf = stack;
    if (len >= sizeof stack) {
        buf = malloc(len + 1);
        if (!buf)
            return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    *v = strtod(buf, &end);
    int rc = (*end != '\0' || isnan(*v)) ? -1 : 0;
    if (buf != stack)
        free(buf);
    return rc;
}

int zset_parse_lex_bound(const char *s, size_t len, struct zset_lex_bound *b)
{
    if (len == 0)
        return -1;
    /* "+" and "-" must end there, but Redis reads C strings: "+\0..." passes. */
    switch (s[0]) {
    case '+':
        if (len > 1 && s[1] != '\0')
            return -1;
        b->kind = ZSET_LEX_PLUS;
        b->s = NULL;
        b->len = 0;
        return 0;
    case '-':
        if (len > 1 && s[1] != '\0')
            return -1;
        b->kind = ZSET_LEX_MINUS;
        b->s = NULL;
        b->len = 0;
        return 0;
    case '(':
    case '[':
        b->kind = s[0] == '(' ? ZSET_LEX_EXCL : ZSET_LEX_INCL;
        b->s = (const unsigned char *)s + 1;
        b->len = len - 1;
        return 0;
    default: return -1;
    }
}

/* ------------------------------------------------------------ predicates */

static bool lex_gte_min(const struct zset_lex_bound *min, const unsigned char *m, size_t len)
{
    switch (min->kind) {
    case ZSET_LEX_MINUS: return true;
    case ZSET_LEX_PLUS: return false;
    case ZSET_LEX_INCL: return zset_lexcmp(m, len, min->s, min->len) >= 0;
    default: return zset_lexcmp(m, len, min->s, min->len) > 0;
    }
}

static bool lex_lte_max(const struct zset_lex_bound *max, const unsigned char *m, size_t len)
{
    switch (max->kind) {
    case ZSET_LEX_MINUS: return false;
    case ZSET_LEX_PLUS: return true;
    case ZSET_LEX_INCL: return zset_lexcmp(m, len, max->s, max->len) <= 0;
    default: return zset_lexcmp(m, len, max->s, max->len) < 0;
    }
}

static bool score_gte_min(const struct zset_score_range *r, double s)
{
    return r->minex ? s > r->min : s >= r->min;
}

static bool score_lte_max(const struct zset_score_range *r, double s)
{
    return r->maxex ? s < r->max : s <= r->max;
}

/* Tree predicates: "below" holds for a prefix of the order. */
static bool below_score_min(const void *arg, const unsigned char *b)
{
    return !score_gte_min(arg, zmem_score(b));
}

static bool below_score_max(const void *arg, const unsigned char *b)
{
    return score_lte_max(arg, zmem_score(b));
}

static bool below_lex_min(const void *arg, const unsigned char *b)
{
    size_t len;
    const unsigned char *m = zmem_member(b, &len);
    return !lex_gte_min(arg, m, len);
}

static bool below_lex_max(const void *arg, const unsigned char *b)
{
    size_t len;
    const unsigned char *m = zmem_member(b, &len);
    return lex_lte_max(arg, m, len);
}

/* ------------------------------------------------------------------ spans */

void zset_score_span(const struct tval *tv, const struct zset_score_range *r, size_t *first,
                     size_t *end)
{
    size_t f = 0, e = 0;
    if (tv->enc == ZSET_ENC_TREE) {
        const struct zset_big *z = tv->u.p;
        f = (size_t)zt_count_below(z, below_score_min, r);
        e = (size_t)zt_count_below(z, below_score_max, r);
    } else {
        const unsigned char *lp = tv->u.lp;
        for (const unsigned char *ep = listpack_first(lp); ep;
             ep = listpack_next(lp, listpack_next(lp, ep))) {
            double s = zlp_score(listpack_next(lp, ep));
            if (!score_gte_min(r, s))
                f++;
            if (score_lte_max(r, s))
                e++;
            else
                break;
        }
    }
    *first = f;
    *end = e > f ? e : f;
}

void zset_lex_span(const struct tval *tv, const struct zset_lex_range *r, size_t *first,
                   size_t *end)
{
    size_t f = 0, e = 0;
    if (tv->enc == ZSET_ENC_TREE) {
        const struct zset_big *z = tv->u.p;
        f = (size_t)zt_count_below(z, below_lex_min, &r->min);
        e = (size_t)zt_count_below(z, below_lex_max, &r->max);
    } else {
        /* Redis's walk: the first member at or above min, then members
         * while at or below max (it assumes one score throughout). */
        const unsigned char *lp = tv->u.lp;
        const unsigned char *ep = listpack_first(lp);
        for (; ep; ep = listpack_next(lp, listpack_next(lp, ep)), f++) {
            char buf[LISTPACK_INTBUF_SIZE];
            size_t len;
            const unsigned char *m = listpack_get_text(ep, buf, &len);
            if (lex_gte_min(&r->min, m, len))
                break;
        }
        e = f;
        for (; ep; ep = listpack_next(lp, listpack_next(lp, ep)), e++) {
            char buf[LISTPACK_INTBUF_SIZE];
            size_t len;
            const unsigned char *m = listpack_get_text(ep, buf, &len);
            if (!lex_lte_max(&r->max, m, len))
                break;
        }
    }
    *first = f;
    *end = e > f ? e : f;
}

/* --------------------------------------------------------------- checking */

int zset_check(const struct tval *tv)
{
    if (tv->type != TVAL_ZSET)
        return -1;
    if (tv->enc == ZSET_ENC_TREE)
        return zt_check(tv->u.p);
    if (tv->enc != TVAL_ENC_LISTPACK)
        return -2;
    const unsigned char *lp = tv->u.lp;
    if (listpack_validate(lp, listpack_bytes(lp), true) != 0)
        return -3;
    if (listpack_count(lp) % 2)
        return -4;
    struct zset_elem prev = {0}, cur;
    bool have = false;
    for (const unsigned char *ep = listpack_first(lp); ep;
         ep = listpack_next(lp, listpack_next(lp, ep))) {
        zlp_read(lp, ep, &cur);
        if (isnan(cur.score))
            return -5;
        if (have && zset_cmp(prev.score, prev.m, prev.len, cur.score, cur.m, cur.len) >= 0)
            return -6;
        if (have && listpack_find(lp, listpack_next(lp, listpack_next(lp, ep)), cur.m, cur.len, 1))
            return -7;
        prev = cur;
        if (cur.m == (const unsigned char *)cur.buf)
            prev.m = (const unsigned char *)prev.buf;
        have = true;
    }
    return 0;
}
