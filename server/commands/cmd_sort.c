/* cmd_sort.c — SORT and SORT_RO (Redis 7.0's sortCommandGeneric) on lists,
 * sets and sorted sets: BY, LIMIT, GET, ASC/DESC, ALPHA, STORE. The engine
 * (options, patterns, sorting, output; any thread), the reads and the
 * STORE write of a shard (owner shard's thread), and the whole command
 * when everything it can touch is on the source's shard (its exec
 * there). cmd_sort_multi.c runs it across shards. */
#define _GNU_SOURCE /* qsort_r, memmem */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/commands/cmd_sort.h"

#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_list.h"
#include "server/core/server.h"
#include "shard/thash.h"
#include "shard/tset.h"
#include "shard/zset.h"

/* ---- Options (any thread) ------------------------------------------------ */

static bool arg_has_star(const struct resp_arg *a)
{
    size_t clen = strnlen(a->ptr, a->len); /* Redis's strchr stops at a NUL */
    return memchr(a->ptr, '*', clen) != NULL;
}

/* Parse argv[2..] into *o; on a bad option return false with *err set
 * to Redis's reply text. o->get must be freed by the caller either way. */
bool cmd_sort_parse_opts(size_t argc, const struct resp_arg *argv, bool readonly,
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
bool cmd_sort_reads_keys(const struct sort_opts *o)
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
bool cmd_sort_fetch(struct cmd_ctx *c, const struct resp_arg *key, struct rbuf *out)
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
void cmd_sort_lookup(struct cmd_ctx *c, const char *key, size_t klen, const struct sstr *field,
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
bool cmd_sort_parse_source(const struct rbuf *o, size_t *off, char *type, struct sstr **el, size_t *n)
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
bool cmd_sort_parse_value(const struct rbuf *o, size_t *off, struct sstr *v)
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

void cmd_sort_run_free(struct sort_run *r)
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
bool cmd_sort_run_prepare(struct sort_run *r)
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
    /* GETs times elements can overflow before calloc sees it (a hostile
     * SORT with thousands of GETs on a large list). */
    if (r->vn && npat > SIZE_MAX / sizeof *r->vals / r->vn)
        return false;
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
size_t *cmd_sort_lookup_list(const struct sort_run *r, bool gets, size_t *n)
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
size_t cmd_sort_lookup_key(const struct sort_run *r, size_t idx, struct rbuf *key,
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
int cmd_sort_run_sort(struct sort_run *r)
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
struct sstr *cmd_sort_run_output(const struct sort_run *r, size_t *n)
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

void cmd_sort_reply(struct rbuf *out, int proto, const struct sstr *v, size_t n)
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
int cmd_sort_store(struct cmd_ctx *c, const struct resp_arg *key, const struct sstr *v, size_t n)
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
        size_t kl = cmd_sort_lookup_key(r, l[i], &key, &field);
        const char *k = key.ptr ? key.ptr : "";
        if (server.nworkers > 1 && c->shard &&
            shard_group_route(server.group, k, kl) != c->shard->id)
            away = true;
        else
            cmd_sort_lookup(c, k, kl, field.len ? &field : NULL, buf);
    }
    bool ok = !key.oom && !buf->oom;
    rbuf_deinit(&key);
    if (away)
        return 0;
    size_t off = 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = cmd_sort_parse_value(buf, &off, &r->vals[l[i]]);
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
    if (!cmd_sort_parse_opts(c->argc, c->argv, readonly, &o, &err)) {
        resp_error(c->out, err);
        goto out;
    }
    size_t off = 0;
    if (!cmd_sort_fetch(c, &c->argv[1], &src) || !cmd_sort_parse_source(&src, &off, &r.type, &r.el, &r.n)) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
        goto out;
    }
    if (r.type == SRC_WRONG) {
        cmd_reply_wrongtype(c);
        goto out;
    }
    /* rc: 1 go on, 0 a score that does not convert, -1 out of memory,
     * -2 a pattern key on another shard. */
    int rc = cmd_sort_run_prepare(&r) && (l = cmd_sort_lookup_list(&r, false, &nl)) != NULL ? 1 : -1;
    if (rc > 0) {
        int lr = local_lookups(c, &r, l, nl, &byv);
        rc = lr > 0 ? cmd_sort_run_sort(&r) : lr == 0 ? -2 : -1;
    }
    if (rc > 0) {
        free(l);
        l = cmd_sort_lookup_list(&r, true, &nl);
        int lr = l ? local_lookups(c, &r, l, nl, &getv) : -1;
        rc = lr > 0 ? 1 : lr == 0 ? -2 : -1;
    }
    size_t n = 0;
    struct sstr *res = rc > 0 ? cmd_sort_run_output(&r, &n) : NULL;
    if (rc == -2) {
        resp_error(c->out, "ERR shardkv: SORT in a script may read pattern keys only on "
                           "the script's shard");
    } else if (rc < 0 || (rc > 0 && !res)) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
    } else if (rc == 0) {
        resp_error(c->out, "ERR One or more scores can't be converted into double");
    } else if (!o.store) {
        cmd_sort_reply(c->out, c->proto, res, n);
    } else {
        int src_rc = cmd_sort_store(c, o.store, res, n);
        if (src_rc < 0)
            cmd_reply_kvmap_error(c, src_rc);
        else
            resp_int(c->out, (int64_t)n);
    }
    free(res);
out:
    free(l);
    cmd_sort_run_free(&r);
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
    { .name = "sort", .arity = -2, .exec = cmd_sort, .plan = &cmd_sort_plan,
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
    { .name = "sort_ro", .arity = -2, .exec = cmd_sort_ro, .plan = &cmd_sort_plan,
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
