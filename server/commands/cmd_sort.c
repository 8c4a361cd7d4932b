/* cmd_sort.c — SORT and SORT_RO (Redis 7.0's sortCommandGeneric) on lists,
 * sets and sorted sets: BY, LIMIT, GET, ASC/DESC, ALPHA, STORE.
 *
 * One engine, two drivers. When every key the command can touch lives on
 * one shard (one worker, or no BY/GET pattern that reads other keys and a
 * STORE destination beside the source), the whole command runs there
 * (sort_exec, the owner shard's thread). Otherwise it is a fan-out in one
 * transaction (planned and merged on the connection's thread): round 0
 * fetches the source's elements on its shard, the next round the BY
 * values from whichever shards own those keys, the connection's thread
 * sorts, a round fetches the GET values of the output range only (the
 * reads Redis makes, so keyspace hits and misses agree), and STORE adds a
 * round that writes the list on the destination's shard. The pattern keys are only known once the
 * source is read, so such a transaction declares a shared lock on every
 * shard (txn_lock_all) besides its keys: nobody writes any key between
 * the rounds, and readers are not held up. */
#define _GNU_SOURCE /* qsort_r, memmem */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_list.h"
#include "server/commands/cmd_multi.h"
#include "server/core/server.h"
#include "server/route/dispatch.h"
#include "server/txn/txn.h"
#include "shard/thash.h"
#include "shard/tset.h"
#include "shard/zset.h"

/* Source types in a fetch record (round 0 and the local driver). */
#define SRC_MISSING '0'
#define SRC_LIST 'L'
#define SRC_SET 'S'
#define SRC_ZSET 'Z'
#define SRC_WRONG 'W'

/* A byte string: a view, or an offset into an arena until it settles. */
struct sstr {
    const char *p; /* the bytes (NULL: absent, for pattern values) */
    size_t len;    /* their number */
};

/* The options, parsed as Redis does (views into argv). */
struct sort_opts {
    bool desc;                    /* DESC */
    bool alpha;                   /* ALPHA */
    bool dontsort;                /* BY with no '*' (nosort) */
    int64_t lstart, lcount;       /* LIMIT, Redis's defaults 0 and -1 */
    const struct resp_arg *by;    /* BY pattern holding '*', or NULL */
    const struct resp_arg *store; /* STORE destination, or NULL */
    size_t nget;                  /* GET patterns */
    const struct resp_arg **get;  /* them, in order (malloc'd) */
};

/* One run of the engine over a fetched source. */
struct sort_run {
    const struct sort_opts *o; /* options */
    char type;                 /* SRC_* */
    size_t n;                  /* elements in native order */
    struct sstr *el;           /* them (views into the fetch record) */
    bool dontsort, alpha;      /* after Redis's set-with-STORE rule */
    const struct resp_arg *by; /* likewise */
    size_t *vec;               /* elements to sort: indexes into el */
    size_t vn;                 /* their number */
    long start, end;           /* output range in vec after sorting */
    struct sstr *vals;         /* pattern values: [p * vn + v], p < nget for
                                  GET, p == nget for BY */
    size_t *order;             /* sorted positions in vec */
    double *score;             /* per vec entry */
};

/* ---- Options (any thread) ------------------------------------------------ */

static bool arg_has_star(const struct resp_arg *a)
{
    size_t clen = strnlen(a->ptr, a->len); /* Redis's strchr stops at a NUL */
    return memchr(a->ptr, '*', clen) != NULL;
}

/* Parse argv[2..] into *o; on a bad option return false with *err set
 * to Redis's reply text. o->get must be freed by the caller either way. */
static bool parse_opts(size_t argc, const struct resp_arg *argv, bool readonly,
                       struct sort_opts *o, const char **err)
{
    memset(o, 0, sizeof *o);
    o->lcount = -1;
    o->get = malloc((argc ? argc : 1) * sizeof *o->get);
    if (!o->get) {
        *err = "ERR out of memory";
        return false;
    }
    for (size_t j = 2; j < argc; j++) {
        size_t left = argc - j - 1;
        const struct resp_arg *a = &argv[j];
        if (cmd_arg_eq(a, "asc")) {
            o->desc = false;
        } else if (cmd_arg_eq(a, "desc")) {
            o->desc = true;
        } else if (cmd_arg_eq(a, "alpha")) {
            o->alpha = true;
        } else if (cmd_arg_eq(a, "limit") && left >= 2) {
            if (!int64str_parse(argv[j + 1].ptr, argv[j + 1].len, &o->lstart) ||
                !int64str_parse(argv[j + 2].ptr, argv[j + 2].len, &o->lcount)) {
                *err = "ERR value is not an integer or out of range";
                return false;
            }
            j += 2;
        } else if (!readonly && cmd_arg_eq(a, "store") && left >= 1) {
            o->store = &argv[++j];
        } else if (cmd_arg_eq(a, "by") && left >= 1) {
            j++;
            /* Redis keeps the last BY: a constant one means "do not sort",
             * a later pattern does not undo that. */
            if (!arg_has_star(&argv[j]))
                o->dontsort = true;
            o->by = &argv[j];
        } else if (cmd_arg_eq(a, "get") && left >= 1) {
            o->get[o->nget++] = &argv[++j];
        } else {
            *err = "ERR syntax error";
            return false;
        }
    }
    if (o->by && !arg_has_star(o->by))
        o->by = NULL; /* (a constant BY never reads a key) */
    return true;
}

/* Whether running the command may read keys other than the source. */
static bool reads_pattern_keys(const struct sort_opts *o)
{
    if (o->by && !o->dontsort)
        return true;
    for (size_t i = 0; i < o->nget; i++)
        if (arg_has_star(o->get[i]))
            return true;
    return false;
}

/* ---- Patterns (any thread) ----------------------------------------------- */

/* What a pattern asks for, given one element (Redis's lookupKeyByPattern). */
enum pat_kind {
    PAT_SELF,  /* "#": the element itself */
    PAT_NONE,  /* no '*': always nothing */
    PAT_KEY,   /* a string key's value */
    PAT_FIELD, /* a hash field's value */
};

struct pat {
    enum pat_kind kind;
    size_t prefix;         /* bytes before the '*' */
    const char *post;      /* the key's bytes after the element */
    size_t postlen;        /* their number */
    struct sstr field;     /* PAT_FIELD: the field */
};

static void pat_parse(const struct resp_arg *a, struct pat *p)
{
    const char *s = a->ptr;
    size_t clen = strnlen(s, a->len);
    memset(p, 0, sizeof *p);
    if (clen == 1 && s[0] == '#') {
        p->kind = PAT_SELF;
        return;
    }
    const char *star = memchr(s, '*', clen);
    if (!star) {
        p->kind = PAT_NONE;
        return;
    }
    size_t fieldlen = 0;
    size_t after = (size_t)(star - s) + 1;
    const char *f = clen > after ? memmem(star + 1, clen - after, "->", 2) : NULL;
    if (f && (size_t)(f - s) + 2 < clen) {
        fieldlen = a->len - (size_t)(f - s) - 2;
        p->field = (struct sstr){f + 2, fieldlen};
    }
    p->kind = fieldlen ? PAT_FIELD : PAT_KEY;
    p->prefix = (size_t)(star - s);
    p->post = star + 1;
    p->postlen = a->len - p->prefix - 1 - (fieldlen ? fieldlen + 2 : 0);
}

/* Append pattern a's key for element e to b; returns its length. */
static size_t pat_key(const struct resp_arg *a, const struct pat *p, const struct sstr *e,
                      struct rbuf *b)
{
    rbuf_append(b, a->ptr, p->prefix);
    rbuf_append(b, e->p, e->len);
    rbuf_append(b, p->post, p->postlen);
    return p->prefix + e->len + p->postlen;
}

/* ---- Reading the shard (owner shard's thread) ---------------------------- */

static void put_str(struct rbuf *out, const void *p, size_t len)
{
    uint32_t l = (uint32_t)len;
    rbuf_append(out, &l, sizeof l);
    rbuf_append(out, p, len);
}

static void put_member(void *arg, const char *m, size_t len)
{
    put_str(arg, m, len);
}

/* Append key's fetch record to out: its SRC_* byte, then for a list, set
 * or sorted set its element count (8 bytes) and each element as a 4-byte
 * length and its bytes, in the value's own order. Returns false when out
 * of memory. */
static bool fetch_source(struct cmd_ctx *c, const struct resp_arg *key, struct rbuf *out)
{
    struct kventry *e =
        cmd_key_read(c, kvmap_find(c->db, key->ptr, key->len, c->now_ms), key->ptr, key->len);
    int t = e ? (int)kventry_type(e) : -1;
    char st = !e ? SRC_MISSING
              : t == TVAL_LIST ? SRC_LIST
              : t == TVAL_SET ? SRC_SET
              : t == TVAL_ZSET ? SRC_ZSET
                               : SRC_WRONG;
    rbuf_append(out, &st, 1);
    if (st == SRC_MISSING || st == SRC_WRONG)
        return !out->oom;
    if (st == SRC_ZSET && kventry_tval(e)->enc == TVAL_ENC_LISTPACK) {
        /* Redis 7.0 converts a small sorted set for SORT, SORT_RO too
         * (OBJECT ENCODING says "skiplist" after). A write lookup, so a
         * snapshot in progress keeps its copy; out of memory, it stays. */
        struct kventry *w = kvmap_find_w(c->db, key->ptr, key->len, c->now_ms);
        if (w) {
            (void)zset_convert_tree(kvmap_acct(c->db), kventry_tval(w));
            e = w;
        }
    }
    struct tval *tv = kventry_tval(e);
    uint64_t n = tval_len(tv);
    rbuf_append(out, &n, sizeof n);
    if (st == SRC_SET) {
        tset_each(tv, put_member, out);
    } else if (st == SRC_ZSET) {
        struct zset_iter it;
        struct zset_elem z;
        zset_iter_init(&it, tv, 0, false);
        while (zset_iter_next(&it, &z))
            put_str(out, z.m, z.len);
    } else {
        struct quicklist_iter it;
        struct listpack_entry le;
        int rc;
        quicklist_iter_init(&it, kvmap_acct(c->db), tv->u.ql, 0, true);
        while ((rc = quicklist_iter_next(&it, &le)) == 1) {
            if (le.str) {
                put_str(out, le.str, le.len);
            } else {
                char buf[INT64STR_MAX + 1];
                int l = snprintf(buf, sizeof buf, "%" PRId64, le.num);
                put_str(out, buf, (size_t)l);
            }
        }
        quicklist_iter_release(&it);
        if (rc < 0)
            return false;
    }
    return !out->oom;
}

/* Append one pattern value's record to out: '1', a 4-byte length and the
 * bytes, or '0' when the key is missing, of another type, or (field) the
 * hash lacks it. Counted as a read, as Redis's lookupKeyRead. */
static void lookup_value(struct cmd_ctx *c, const char *key, size_t klen, const struct sstr *field,
                         struct rbuf *out)
{
    struct kventry *e = cmd_key_read(c, kvmap_find(c->db, key, klen, c->now_ms), key, klen);
    char buf[THASH_NUMBUF > 24 ? THASH_NUMBUF : 24];
    const char *v = NULL;
    size_t vlen = 0;
    if (e && field && field->len) {
        struct thash_str s;
        if (kventry_type(e) == TVAL_HASH &&
            thash_get(kventry_tval(e), field->p, field->len, buf, &s)) {
            v = s.ptr;
            vlen = s.len;
        }
    } else if (e && kventry_type(e) == TVAL_STRING) {
        v = kventry_value(e, buf, &vlen);
    }
    char st = v ? '1' : '0';
    rbuf_append(out, &st, 1);
    if (v)
        put_str(out, v, vlen);
}

/* Read a fetch record at *off (views into o). False when it is short. */
static bool parse_source(const struct rbuf *o, size_t *off, char *type, struct sstr **el, size_t *n)
{
    *el = NULL;
    *n = 0;
    if (*off >= o->len)
        return false;
    *type = o->ptr[(*off)++];
    if (*type == SRC_MISSING || *type == SRC_WRONG)
        return true;
    uint64_t cnt;
    if (o->len - *off < sizeof cnt)
        return false;
    memcpy(&cnt, o->ptr + *off, sizeof cnt);
    *off += sizeof cnt;
    if (cnt > (o->len - *off) / 4) /* each takes at least its length */
        return false;
    *el = malloc((cnt ? cnt : 1) * sizeof **el);
    if (!*el)
        return false;
    for (uint64_t i = 0; i < cnt; i++) {
        uint32_t l;
        if (o->len - *off < sizeof l)
            return false;
        memcpy(&l, o->ptr + *off, sizeof l);
        *off += sizeof l;
        if (o->len - *off < l)
            return false;
        (*el)[i] = (struct sstr){o->ptr + *off, l};
        *off += l;
    }
    *n = (size_t)cnt;
    return true;
}

/* Read one value record at *off into *v (absent: p NULL). */
static bool parse_value(const struct rbuf *o, size_t *off, struct sstr *v)
{
    if (*off >= o->len)
        return false;
    char st = o->ptr[(*off)++];
    *v = (struct sstr){NULL, 0};
    if (st != '1')
        return true;
    uint32_t l;
    if (o->len - *off < sizeof l)
        return false;
    memcpy(&l, o->ptr + *off, sizeof l);
    *off += sizeof l;
    if (o->len - *off < l)
        return false;
    *v = (struct sstr){o->ptr + *off, l};
    *off += l;
    return true;
}

/* ---- The engine (any thread) --------------------------------------------- */

static void run_free(struct sort_run *r)
{
    free(r->el);
    free(r->vec);
    free(r->vals);
    free(r->order);
    free(r->score);
}

/* Which elements take part, and the output range: Redis's LIMIT clamping
 * and its direct load of a list's or sorted set's range when nothing is
 * sorted (in reverse for DESC). Returns false when out of memory. */
static bool run_prepare(struct sort_run *r)
{
    const struct sort_opts *o = r->o;
    r->dontsort = o->dontsort;
    r->alpha = o->alpha;
    r->by = o->by;
    if (r->dontsort && r->type == SRC_SET && o->store) {
        /* A set's order is not replicable: STORE sorts it (ALPHA). */
        r->dontsort = false;
        r->alpha = true;
        r->by = NULL;
    }
    long len = (long)r->n;
    long start = o->lstart < 0 ? 0 : o->lstart > len ? len : (long)o->lstart;
    long count = o->lcount < -1 ? -1 : o->lcount > len ? len : (long)o->lcount;
    long end = count < 0 ? len - 1 : start + count - 1;
    if (start >= len) {
        start = len - 1;
        end = len - 2;
    }
    if (end >= len)
        end = len - 1;
    r->vec = malloc((r->n ? r->n : 1) * sizeof *r->vec);
    if (!r->vec)
        return false;
    bool ordered = r->type == SRC_LIST || r->type == SRC_ZSET;
    if (ordered && r->dontsort) {
        r->vn = 0;
        for (long i = start; i <= end; i++)
            r->vec[r->vn++] = r->o->desc ? (size_t)(len - 1 - i) : (size_t)i;
        if (end >= start) {
            end -= start;
            start = 0;
        }
    } else {
        for (size_t i = 0; i < r->n; i++)
            r->vec[i] = i;
        r->vn = r->n;
    }
    r->start = start;
    r->end = end;
    size_t npat = o->nget + 1;
    r->vals = calloc(npat * (r->vn ? r->vn : 1), sizeof *r->vals);
    return r->vals != NULL;
}

/* Whether pattern p (nget: BY) must be looked up in the keyspace. */
static bool run_pattern_reads(const struct sort_run *r, size_t p, struct pat *pt)
{
    const struct resp_arg *a = p < r->o->nget ? r->o->get[p] : r->by;
    if (p == r->o->nget && (r->dontsort || !r->by))
        return false;
    pat_parse(a, pt);
    return pt->kind == PAT_KEY || pt->kind == PAT_FIELD;
}

static const struct resp_arg *run_pattern(const struct sort_run *r, size_t p)
{
    return p < r->o->nget ? r->o->get[p] : r->by;
}

/* The pattern values to look up, as indexes into r->vals (p * vn + v),
 * in Redis's order: BY (gets false) for every element before sorting;
 * GET (gets true) for the output range after it, element by element.
 * *n gets the count; NULL when out of memory. */
static size_t *lookup_list(const struct sort_run *r, bool gets, size_t *n)
{
    size_t nget = r->o->nget, k = 0;
    size_t cap = gets ? nget * r->vn : r->vn;
    size_t *l = malloc((cap ? cap : 1) * sizeof *l);
    if (!l)
        return NULL;
    struct pat pt;
    if (!gets) {
        if (run_pattern_reads(r, nget, &pt))
            for (size_t v = 0; v < r->vn; v++)
                l[k++] = nget * r->vn + v;
    } else {
        for (long j = r->start; j <= r->end; j++)
            for (size_t p = 0; p < nget; p++)
                if (run_pattern_reads(r, p, &pt))
                    l[k++] = p * r->vn + r->order[j];
    }
    *n = k;
    return l;
}

/* Lookup idx's key (appended to key, which is emptied first) and field. */
static size_t lookup_key(const struct sort_run *r, size_t idx, struct rbuf *key,
                         struct sstr *field)
{
    size_t p = idx / r->vn, v = idx % r->vn;
    struct pat pt;
    pat_parse(run_pattern(r, p), &pt);
    key->len = 0;
    size_t kl = pat_key(run_pattern(r, p), &pt, &r->el[r->vec[v]], key);
    *field = pt.kind == PAT_FIELD ? pt.field : (struct sstr){"", 0};
    return kl;
}

/* Binary comparison (Redis's compareStringObjects). */
static int bin_cmp(const struct sstr *a, const struct sstr *b)
{
    size_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->p, b->p, m);
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

/* strcoll in the C locale, on the bytes up to the first NUL (Redis
 * compares C strings there). */
static int coll_cmp(const struct sstr *a, const struct sstr *b)
{
    struct sstr x = {a->p, strnlen(a->p, a->len)}, y = {b->p, strnlen(b->p, b->len)};
    return bin_cmp(&x, &y);
}

static int sort_cmp(const void *pa, const void *pb, void *arg)
{
    const struct sort_run *r = arg;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    const struct sstr *ea = &r->el[r->vec[a]], *eb = &r->el[r->vec[b]];
    int cmp;
    if (!r->alpha) {
        double x = r->score[a], y = r->score[b];
        cmp = x > y ? 1 : x < y ? -1 : bin_cmp(ea, eb);
    } else if (r->by) {
        const struct sstr *ca = &r->vals[r->o->nget * r->vn + a];
        const struct sstr *cb = &r->vals[r->o->nget * r->vn + b];
        if (!ca->p || !cb->p)
            cmp = ca->p == cb->p ? 0 : !ca->p ? -1 : 1;
        else
            cmp = r->o->store ? bin_cmp(ca, cb) : coll_cmp(ca, cb);
    } else {
        cmp = r->o->store ? bin_cmp(ea, eb) : coll_cmp(ea, eb);
    }
    return r->o->desc ? -cmp : cmp;
}

/* Redis's score of a BY value or an element: strtod over the C string,
 * all of it, no overflow, no NaN. */
static bool parse_score(const struct sstr *s, double *v)
{
    char stackbuf[64];
    char *buf = s->len < sizeof stackbuf ? stackbuf : malloc(s->len + 1);
    if (!buf)
        return false;
    memcpy(buf, s->p, s->len);
    buf[s->len] = '\0';
    char *end;
    errno = 0;
    *v = strtod(buf, &end);
    bool ok = end[0] == '\0' && errno != ERANGE && !isnan(*v);
    if (buf != stackbuf)
        free(buf);
    return ok;
}

/* Sort (unless told not to). Returns 1, 0 when a score cannot be
 * converted (Redis's error, after looking at every element), -1 when out
 * of memory. */
static int run_sort(struct sort_run *r)
{
    r->order = malloc((r->vn ? r->vn : 1) * sizeof *r->order);
    r->score = calloc(r->vn ? r->vn : 1, sizeof *r->score);
    if (!r->order || !r->score)
        return -1;
    for (size_t i = 0; i < r->vn; i++)
        r->order[i] = i;
    if (r->dontsort)
        return 1;
    bool bad = false;
    if (!r->alpha) {
        for (size_t i = 0; i < r->vn; i++) {
            const struct sstr *v = r->by ? &r->vals[r->o->nget * r->vn + i] : &r->el[r->vec[i]];
            if (!v->p && r->by)
                continue; /* a missing weight is 0 */
            struct sstr e = v->p ? *v : (struct sstr){"", 0};
            if (!parse_score(&e, &r->score[i]))
                bad = true;
        }
    }
    /* glibc's qsort_r merges (stable), as Redis's qsort does on this
     * platform; ties left by ALPHA with BY then keep the source order. */
    qsort_r(r->order, r->vn, sizeof *r->order, sort_cmp, r);
    return bad ? 0 : 1;
}

/* The output, in order: with GET patterns each selected element gives one
 * value per pattern (absent: p NULL), else the element. *n gets the count.
 * NULL when out of memory. Views into the run. */
static struct sstr *run_output(const struct sort_run *r, size_t *n)
{
    size_t k = r->end >= r->start ? (size_t)(r->end - r->start + 1) : 0;
    size_t per = r->o->nget ? r->o->nget : 1;
    struct sstr *out = malloc((k > 0 ? k * per : 1) * sizeof *out);
    if (!out)
        return NULL;
    size_t m = 0;
    for (long j = r->start; j <= r->end; j++) {
        size_t v = r->order[j];
        const struct sstr *e = &r->el[r->vec[v]];
        if (!r->o->nget) {
            out[m++] = *e;
            continue;
        }
        for (size_t p = 0; p < r->o->nget; p++) {
            struct pat pt;
            pat_parse(r->o->get[p], &pt);
            if (pt.kind == PAT_SELF)
                out[m++] = *e;
            else if (pt.kind == PAT_NONE)
                out[m++] = (struct sstr){NULL, 0};
            else
                out[m++] = r->vals[p * r->vn + v];
        }
    }
    *n = m;
    return out;
}

static void reply_output(struct rbuf *out, int proto, const struct sstr *v, size_t n)
{
    resp_array(out, n);
    for (size_t i = 0; i < n; i++) {
        if (v[i].p)
            resp_bulk(out, v[i].p, v[i].len);
        else
            resp_null(out, proto);
    }
}

/* Replace key with a list of v[0..n) (absent values stored as ""), or
 * delete it when n is 0, and report it as Redis does ("sortstore", or
 * "del" when a key went). Returns 0 or a KVMAP_E* code. */
static int store_list(struct cmd_ctx *c, const struct resp_arg *key, const struct sstr *v, size_t n)
{
    if (n == 0) {
        if (kvmap_del(c->db, key->ptr, key->len, c->now_ms))
            cmd_key_modified(c, NOTIFY_GENERIC, "del", key->ptr, key->len);
        return 0;
    }
    struct mem_acct *a = kvmap_acct(c->db);
    struct tval *tv = cmd_list_create(c);
    if (!tv)
        return KVMAP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (quicklist_push(a, tv->u.ql, QUICKLIST_TAIL, v[i].p ? v[i].p : "", v[i].len) < 0) {
            tval_free(a, tv);
            return KVMAP_ENOMEM;
        }
    }
    int rc = kvmap_set_tval(c->db, key->ptr, key->len, tv, KVMAP_NO_EXPIRE, c->now_ms);
    if (rc < 0) {
        tval_free(a, tv);
        return rc;
    }
    cmd_key_modified(c, NOTIFY_LIST, "sortstore", key->ptr, key->len);
    return 0;
}

/* ---- The whole command on one shard (owner shard's thread) --------------- */

/* Look up the values l[0..n) names on this shard into buf, then point
 * r->vals at them. Returns 1, 0 when a key lives on another shard (only
 * from a script, which holds its own keys' shard: the planner sends
 * everything else here only when every key is local), -1 when out of
 * memory. */
static int local_lookups(struct cmd_ctx *c, struct sort_run *r, const size_t *l, size_t n,
                         struct rbuf *buf)
{
    struct rbuf key;
    rbuf_init(&key);
    bool away = false;
    for (size_t i = 0; i < n && !away; i++) {
        struct sstr field;
        size_t kl = lookup_key(r, l[i], &key, &field);
        const char *k = key.ptr ? key.ptr : "";
        if (server.nworkers > 1 && c->shard &&
            shard_group_route(server.group, k, kl) != c->shard->id)
            away = true;
        else
            lookup_value(c, k, kl, field.len ? &field : NULL, buf);
    }
    bool ok = !key.oom && !buf->oom;
    rbuf_deinit(&key);
    if (away)
        return 0;
    size_t off = 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = parse_value(buf, &off, &r->vals[l[i]]);
    return ok ? 1 : -1;
}

static void sort_generic(struct cmd_ctx *c, bool readonly)
{
    struct sort_opts o;
    const char *err;
    struct rbuf src, byv, getv;
    struct sort_run r = {.o = &o};
    size_t *l = NULL, nl = 0;
    rbuf_init(&src);
    rbuf_init(&byv);
    rbuf_init(&getv);
    if (!parse_opts(c->argc, c->argv, readonly, &o, &err)) {
        resp_error(c->out, err);
        goto out;
    }
    size_t off = 0;
    if (!fetch_source(c, &c->argv[1], &src) || !parse_source(&src, &off, &r.type, &r.el, &r.n)) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
        goto out;
    }
    if (r.type == SRC_WRONG) {
        cmd_reply_wrongtype(c);
        goto out;
    }
    /* rc: 1 go on, 0 a score that does not convert, -1 out of memory,
     * -2 a pattern key on another shard. */
    int rc = run_prepare(&r) && (l = lookup_list(&r, false, &nl)) != NULL ? 1 : -1;
    if (rc > 0) {
        int lr = local_lookups(c, &r, l, nl, &byv);
        rc = lr > 0 ? run_sort(&r) : lr == 0 ? -2 : -1;
    }
    if (rc > 0) {
        free(l);
        l = lookup_list(&r, true, &nl);
        int lr = l ? local_lookups(c, &r, l, nl, &getv) : -1;
        rc = lr > 0 ? 1 : lr == 0 ? -2 : -1;
    }
    size_t n = 0;
    struct sstr *res = rc > 0 ? run_output(&r, &n) : NULL;
    if (rc == -2) {
        resp_error(c->out, "ERR shardkv: SORT in a script may read pattern keys only on "
                           "the script's shard");
    } else if (rc < 0 || (rc > 0 && !res)) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
    } else if (rc == 0) {
        resp_error(c->out, "ERR One or more scores can't be converted into double");
    } else if (!o.store) {
        reply_output(c->out, c->proto, res, n);
    } else {
        int src_rc = store_list(c, o.store, res, n);
        if (src_rc < 0)
            cmd_reply_kvmap_error(c, src_rc);
        else
            resp_int(c->out, (int64_t)n);
    }
    free(res);
out:
    free(l);
    run_free(&r);
    free(o.get);
    rbuf_deinit(&src);
    rbuf_deinit(&byv);
    rbuf_deinit(&getv);
}

static void cmd_sort(struct cmd_ctx *c)
{
    sort_generic(c, false);
}

static void cmd_sort_ro(struct cmd_ctx *c)
{
    sort_generic(c, true);
}

/* ---- Parts of the fan-out (owner shards' threads) ------------------------ */

/* Round 0: argv[1] is the source; its fetch record. */
static void fetch_part(struct cmd_ctx *c)
{
    if (!fetch_source(c, &c->argv[1], c->out))
        c->out->oom = true;
}

/* Round 1: argv [_, key, field, key, field, ...] (an empty field: the
 * key's string value); one value record each. */
static void lookup_part(struct cmd_ctx *c)
{
    for (size_t i = 1; i + 1 < c->argc; i += 2) {
        struct sstr f = {c->argv[i + 1].ptr, c->argv[i + 1].len};
        lookup_value(c, c->argv[i].ptr, c->argv[i].len, f.len ? &f : NULL, c->out);
    }
}

/* STORE's round: argv [_, dst, values...] (absent GET values come as "",
 * which is what Redis stores for them). Replies an error, or nothing. */
static void store_part(struct cmd_ctx *c)
{
    size_t n = c->argc - 2;
    struct sstr *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (struct sstr){c->argv[2 + i].ptr, c->argv[2 + i].len};
    int rc = store_list(c, &c->argv[1], v, n);
    if (rc < 0)
        cmd_reply_kvmap_error(c, rc);
    free(v);
}

/* ---- The fan-out's merge (connection's thread) --------------------------- */

/* Stages of a SORT split over shards (fan.stage). */
enum {
    ST_FETCH = 0, /* round 0: the source */
    ST_BY = 1,    /* BY values */
    ST_GET = 2,   /* GET values of the output range */
    ST_STORE = 3, /* the destination written */
};

/* A SORT split over shards (fan.state). */
struct split {
    struct sort_opts o;    /* options (views into f->argv) */
    struct sort_run r;     /* the run, views into the buffers below */
    struct rbuf src;       /* round 0's fetch record, kept */
    struct rbuf byv, getv; /* the BY and GET rounds' value records */
    size_t *lk;            /* this lookup round's list (lookup_list) */
    unsigned *lk_shard;    /* the shard of each of its keys */
    size_t nlk;            /* its length */
    int64_t stored;        /* STORE: the reply */
};

static void split_free(struct split *s)
{
    run_free(&s->r);
    free(s->o.get);
    rbuf_deinit(&s->src);
    rbuf_deinit(&s->byv);
    rbuf_deinit(&s->getv);
    free(s->lk);
    free(s->lk_shard);
    free(s);
}

static bool parts_oom(struct req **parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i]->out.oom)
            return true;
    return false;
}

/* Send a lookup round for s->lk: one part per shard that owns some of its
 * keys, in shard order. Returns 1 when sent, 0 when there is nothing to
 * look up, -1 on out-of-memory. */
static int send_lookups(struct fan *f, struct split *s)
{
    struct sort_run *r = &s->r;
    unsigned nw = server.nworkers;
    struct rbuf keys, one;
    rbuf_init(&keys);
    rbuf_init(&one);
    size_t n = s->nlk;
    size_t *koff = malloc((n ? n : 1) * sizeof *koff);
    size_t *klen = malloc((n ? n : 1) * sizeof *klen);
    struct sstr *field = malloc((n ? n : 1) * sizeof *field);
    free(s->lk_shard);
    s->lk_shard = malloc((n ? n : 1) * sizeof *s->lk_shard);
    struct resp_arg *a = malloc((2 * n + 1) * sizeof *a);
    int rc = -1;
    if (!koff || !klen || !field || !s->lk_shard || !a)
        goto out;
    for (size_t i = 0; i < n; i++) {
        klen[i] = lookup_key(r, s->lk[i], &one, &field[i]);
        koff[i] = keys.len;
        rbuf_append(&keys, one.ptr ? one.ptr : "", klen[i]);
    }
    if (keys.oom || one.oom)
        goto out;
    for (size_t i = 0; i < n; i++)
        s->lk_shard[i] = shard_group_route(server.group, keys.ptr + koff[i], klen[i]);
    rc = 0;
    for (unsigned sh = 0; sh < nw; sh++) {
        size_t na = 0;
        a[na++] = (struct resp_arg){"sortget", 7};
        for (size_t i = 0; i < n; i++) {
            if (s->lk_shard[i] != sh)
                continue;
            a[na++] = (struct resp_arg){keys.ptr + koff[i], klen[i]};
            a[na++] = (struct resp_arg){field[i].p, field[i].len};
        }
        if (na == 1)
            continue;
        if (!dispatch_part(f, sh, lookup_part, na, a)) {
            rc = -1;
            goto out;
        }
        rc = 1;
    }
out:
    rbuf_deinit(&keys);
    rbuf_deinit(&one);
    free(koff);
    free(klen);
    free(field);
    free(a);
    return rc;
}

/* A lookup round is back: copy its records into buf (the parts go with
 * the next round) and point r->vals at them. */
static bool take_lookups(struct split *s, struct req **parts, size_t n, struct rbuf *buf)
{
    unsigned nw = server.nworkers;
    size_t *part_of = malloc(nw * sizeof *part_of);
    size_t *off = calloc(n ? n : 1, sizeof *off);
    bool ok = part_of && off;
    if (ok) {
        /* Parts went out in shard order, one per shard with keys. */
        size_t idx = 0;
        for (unsigned sh = 0; sh < nw; sh++) {
            bool any = false;
            for (size_t i = 0; i < s->nlk && !any; i++)
                any = s->lk_shard[i] == sh;
            part_of[sh] = any ? idx++ : SIZE_MAX;
        }
        for (size_t i = 0; i < n; i++) {
            off[i] = buf->len;
            rbuf_append(buf, parts[i]->out.ptr, parts[i]->out.len);
        }
        ok = !buf->oom;
    }
    for (size_t i = 0; ok && i < s->nlk; i++) {
        size_t pi = part_of[s->lk_shard[i]];
        ok = pi < n && parse_value(buf, &off[pi], &s->r.vals[s->lk[i]]);
    }
    free(part_of);
    free(off);
    return ok;
}

/* Start the lookup round for stage st (ST_BY or ST_GET). Returns 1 when
 * a round went out, 0 when it had nothing to do, -1 on out-of-memory. */
static int start_lookups(struct fan *f, struct split *s, int st)
{
    free(s->lk);
    s->lk = lookup_list(&s->r, st == ST_GET, &s->nlk);
    if (!s->lk)
        return -1;
    int rc = s->nlk ? send_lookups(f, s) : 0;
    if (rc > 0)
        f->stage = st;
    return rc;
}

/* Reply, or send the STORE round. Returns true when finished. */
static bool output(struct fan *f, struct split *s, struct rbuf *out)
{
    size_t n = 0;
    struct sstr *res = run_output(&s->r, &n);
    bool finished = true;
    if (!res) {
        resp_error(out, "ERR out of memory");
    } else if (!s->o.store) {
        reply_output(out, f->proto, res, n);
    } else {
        struct resp_arg *a = malloc((n + 2) * sizeof *a);
        if (a) {
            a[0] = (struct resp_arg){"sortstore", 9};
            a[1] = *s->o.store;
            for (size_t i = 0; i < n; i++)
                a[2 + i] = res[i].p ? (struct resp_arg){res[i].p, res[i].len}
                                    : (struct resp_arg){"", 0};
        }
        unsigned ds = shard_group_route(server.group, s->o.store->ptr, s->o.store->len);
        if (!a || !dispatch_part(f, ds, store_part, n + 2, a)) {
            resp_error(out, "ERR out of memory");
        } else {
            s->stored = (int64_t)n;
            f->stage = ST_STORE;
            finished = false;
        }
        free(a);
    }
    free(res);
    return finished;
}

/* The BY values are in: sort, then fetch the GET values or go on. */
static bool after_by(struct fan *f, struct split *s, struct rbuf *out)
{
    int rc = run_sort(&s->r);
    if (rc == 0) {
        resp_error(out, "ERR One or more scores can't be converted into double");
        return true;
    }
    if (rc > 0)
        rc = start_lookups(f, s, ST_GET);
    if (rc < 0) {
        resp_error(out, "ERR out of memory");
        return true;
    }
    return rc > 0 ? false : output(f, s, out);
}

static bool split_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct split *s = f->state;
    bool finished = true;
    if (parts_oom(parts, n)) {
        resp_error(out, "ERR out of memory");
    } else if (f->stage == ST_FETCH) {
        /* The fetch record outlives round 0's parts: copy it. */
        size_t off = 0;
        rbuf_append(&s->src, parts[0]->out.ptr, parts[0]->out.len);
        if (s->src.oom || !parse_source(&s->src, &off, &s->r.type, &s->r.el, &s->r.n) ||
            (s->r.type != SRC_WRONG && !run_prepare(&s->r))) {
            resp_error(out, "ERR out of memory");
        } else if (s->r.type == SRC_WRONG) {
            resp_error(out, "WRONGTYPE Operation against a key holding the wrong kind of value");
        } else {
            int rc = start_lookups(f, s, ST_BY);
            if (rc < 0)
                resp_error(out, "ERR out of memory");
            else
                finished = rc > 0 ? false : after_by(f, s, out);
        }
    } else if (f->stage == ST_BY) {
        if (!take_lookups(s, parts, n, &s->byv))
            resp_error(out, "ERR out of memory");
        else
            finished = after_by(f, s, out);
    } else if (f->stage == ST_GET) {
        if (!take_lookups(s, parts, n, &s->getv))
            resp_error(out, "ERR out of memory");
        else
            finished = output(f, s, out);
    } else {
        const struct rbuf *o = &parts[0]->out;
        if (o->len > 0 && o->ptr[0] == '-')
            rbuf_append(out, o->ptr, o->len);
        else
            resp_int(out, s->stored);
    }
    if (finished)
        split_free(s);
    return finished;
}

/* ---- Planning (connection's thread) -------------------------------------- */

static void plan_sort(struct mplan *p, const struct cmd_def *d, size_t argc,
                      const struct resp_arg *argv)
{
    bool readonly = (d->flags & CMD_READONLY) != 0;
    struct split *s = calloc(1, sizeof *s);
    const char *err = "ERR out of memory";
    if (!s || !parse_opts(argc, argv, readonly, &s->o, &err)) {
        if (s)
            free(s->o.get);
        free(s);
        cmd_multi_plan_error(p, err);
        return;
    }
    unsigned ss = shard_group_route(server.group, argv[1].ptr, argv[1].len);
    bool one = server.nworkers == 1 || !reads_pattern_keys(&s->o);
    if (one && s->o.store)
        one = shard_group_route(server.group, s->o.store->ptr, s->o.store->len) == ss;
    if (one) {
        /* Everything it can touch is on the source's shard. */
        free(s->o.get);
        free(s);
        cmd_multi_plan_route(p, d, ss, d->exec, argc, argv);
        return;
    }
    struct fan *f = cmd_multi_plan_fan(p, d, argc, argv, split_step, false);
    if (!f) {
        free(s->o.get);
        free(s);
        return;
    }
    /* The options again, as views into the fan's own copy of argv. */
    free(s->o.get);
    if (!parse_opts(f->argc, f->argv, readonly, &s->o, &err)) {
        free(s->o.get);
        free(s);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    s->r.o = &s->o;
    rbuf_init(&s->src);
    rbuf_init(&s->byv);
    rbuf_init(&s->getv);
    f->state = s;
    struct resp_arg a[2] = {{"sortfetch", 9}, f->argv[1]};
    if (!dispatch_part(f, ss, fetch_part, 2, a)) {
        f->state = NULL;
        split_free(s);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    cmd_multi_plan_go(p, f);
}

/* Patterns read keys no spec names: a shared lock on every shard keeps
 * them still between the rounds (see the file comment). */
static int lock_patterns(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                         const struct resp_arg *argv)
{
    (void)db;
    struct sort_opts o;
    const char *err;
    bool ok = parse_opts(argc, argv, (d->flags & CMD_READONLY) != 0, &o, &err);
    bool reads = ok && reads_pattern_keys(&o);
    free(o.get);
    return reads ? txn_lock_all(t, false) : 0;
}

static const struct cmd_plan sort_plan = {.plan = plan_sort, .lock_more = lock_patterns};

/* ---- Keys (pure) ------------------------------------------------------------ */

/* Redis's sortGetKeys: the source, and the last STORE's destination, found
 * by skipping LIMIT's two arguments and GET's and BY's one. */
static int sort_getkeys(const struct cmd_def *d, size_t argc, const struct resp_arg *argv,
                        struct cmd_key_range *out)
{
    (void)d;
    int n = 1;
    out[0] = (struct cmd_key_range){1, 1, 1, CMD_KS_RO | CMD_KS_ACCESS};
    for (size_t i = 2; i < argc; i++) {
        if (cmd_arg_eq(&argv[i], "limit")) {
            i += 2;
        } else if (cmd_arg_eq(&argv[i], "get") || cmd_arg_eq(&argv[i], "by")) {
            i += 1;
        } else if (cmd_arg_eq(&argv[i], "store") && i + 1 < argc) {
            out[1] = (struct cmd_key_range){(uint32_t)(i + 1), (uint32_t)(i + 1), 1,
                                            CMD_KS_OW | CMD_KS_UPDATE};
            n = 2;
        }
    }
    return n;
}

/* SORT_RO: the source only (Redis's sortROGetKeys). */
static int sort_ro_getkeys(const struct cmd_def *d, size_t argc, const struct resp_arg *argv,
                           struct cmd_key_range *out)
{
    (void)d;
    (void)argc;
    (void)argv;
    out[0] = (struct cmd_key_range){1, 1, 1, CMD_KS_RO | CMD_KS_ACCESS};
    return 1;
}

#define SORT_BYGET_NOTE                                                                      \
    "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive " \
    "from the content of the key we sort"
#define SORT_STORE_NOTE                                                                      \
    "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear " \
    "anywhere in the argument array"
#define SORT_COMPLEXITY                                                                      \
    "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the " \
    "number of returned elements. When the elements are not sorted, complexity is O(N)."

const struct cmd_def cmd_sort_defs[] = {
    { .name = "sort", .arity = -2, .exec = cmd_sort, .plan = &sort_plan,
      .getkeys = sort_getkeys,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_MULTIKEY,
      .acl = CMD_ACL_SET | CMD_ACL_SORTEDSET | CMD_ACL_LIST | CMD_ACL_DANGEROUS,
      .acl_drop = CMD_ACL_KEYSPACE,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 },
                { .flags = CMD_KS_RO | CMD_KS_ACCESS, .unknown = true, .notes = SORT_BYGET_NOTE },
                { .flags = CMD_KS_OW | CMD_KS_UPDATE, .unknown = true,
                  .notes = SORT_STORE_NOTE } },
      .group = "generic", .since = "1.0.0", .complexity = SORT_COMPLEXITY,
      .summary = "Sort the elements in a list, set or sorted set" },
    { .name = "sort_ro", .arity = -2, .exec = cmd_sort_ro, .plan = &sort_plan,
      .getkeys = sort_ro_getkeys,
      .flags = CMD_READONLY | CMD_MULTIKEY,
      .acl = CMD_ACL_SET | CMD_ACL_SORTEDSET | CMD_ACL_LIST | CMD_ACL_DANGEROUS,
      .acl_drop = CMD_ACL_KEYSPACE,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 },
                { .flags = CMD_KS_RO | CMD_KS_ACCESS, .unknown = true,
                  .notes = SORT_BYGET_NOTE } },
      .group = "generic", .since = "7.0.0", .complexity = SORT_COMPLEXITY,
      .summary = "Sort the elements in a list, set or sorted set. Read-only variant of SORT." },
};
const size_t cmd_sort_ndefs = sizeof cmd_sort_defs / sizeof cmd_sort_defs[0];
