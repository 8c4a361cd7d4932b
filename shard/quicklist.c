/* quicklist.c — the list type's chain of listpack nodes (see quicklist.h):
 * the limits, node blocks, their compression, splits and merges, pushes
 * and pops at the ends, conversions from and to a single listpack, node
 * blobs for RDB, and the invariant check. Iterators and the operations
 * over ranges and matches are in quicklist_iter.c. Owner shard's thread
 * only. */
#include "shard/quicklist.h"

#include <assert.h>
#include <string.h>

#include "common/le.h"
#include "common/mem.h"
#include "shard/listpack.h"
#include "shard/lzf.h"
#include "shard/lzf.h"
#include "shard/quicklist_internal.h"

/* The listpack end marker. */
#define LP_EOF 0xFF
/* A node's entries counted in the listpack header saturate here. */
#define COUNT_LIMIT_BY_SIZE 65535

const char *quicklist_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case QUICKLIST_ENOMEM:
        return "out of memory";
    case QUICKLIST_ETOOBIG:
        return "element too large for a listpack";
    case QUICKLIST_ERANGE:
        return "index out of range";
    case QUICKLIST_EINVAL:
        return "operation does not apply";
    default:
        return "unknown quicklist error";
    }
}

/* ------------------------------------------------------------ limits */

static int clamp_fill(int fill)
{
    if (fill < QUICKLIST_FILL_MIN)
        return QUICKLIST_FILL_MIN;
    return fill > QUICKLIST_FILL_MAX ? QUICKLIST_FILL_MAX : fill;
}

size_t ql_size_limit(int fill)
{
    /* Redis's optimization levels: 4, 8, 16, 32, 64 KB for -1..-5. */
    return fill < 0 ? (size_t)4096 << (-fill - 1) : QUICKLIST_SIZE_SAFETY;
}

size_t ql_count_limit(int fill)
{
    return fill < 0 ? COUNT_LIMIT_BY_SIZE : (size_t)fill;
}

bool quicklist_listpack_fits(int fill, size_t bytes, size_t count)
{
    fill = clamp_fill(fill);
    return bytes <= ql_size_limit(fill) && count <= ql_count_limit(fill);
}

bool ql_node_fits(const struct quicklist *ql, size_t sz, size_t count)
{
    return count <= 1 || quicklist_listpack_fits(ql->fill, sz, count);
}

/* Bytes of the backlen for an entry of l bytes (listpack.c's thresholds). */
static size_t backlen_bytes(size_t l)
{
    if (l <= 127)
        return 1;
    if (l < 16383)
        return 2;
    if (l < 2097151)
        return 3;
    return l < 268435455 ? 4 : 5;
}

size_t quicklist_entry_bytes(const void *s, size_t len)
{
    int64_t v;
    size_t enc;
    if (listpack_string_to_int64(s, len, &v)) {
        if (v >= 0 && v <= 127)
            enc = 1;
        else if (v >= -4096 && v <= 4095)
            enc = 2;
        else if (v >= INT16_MIN && v <= INT16_MAX)
            enc = 3;
        else if (v >= -8388608 && v <= 8388607)
            enc = 4;
        else if (v >= INT32_MIN && v <= INT32_MAX)
            enc = 5;
        else
            enc = 9;
    } else {
        enc = (len < 64 ? 1 : len < 4096 ? 2 : 5) + len;
    }
    return enc + backlen_bytes(enc);
}

/* Redis's SIZE_ESTIMATE_OVERHEAD: what it adds to an element's length to
 * judge whether it fits in a node. */
#define SIZE_ESTIMATE_OVERHEAD 8

size_t ql_insert_bytes(const void *s, size_t len)
{
    size_t exact = quicklist_entry_bytes(s, len);
    size_t est = len + SIZE_ESTIMATE_OVERHEAD;
    return est > exact ? est : exact;
}

/* ------------------------------------------------------------ listpack bytes */

void ql_lp_set_header(unsigned char *lp, size_t bytes, size_t count)
{
    le_store32(lp, (uint32_t)bytes);
    size_t c = count < LISTPACK_COUNT_UNKNOWN ? count : LISTPACK_COUNT_UNKNOWN;
    lp[4] = (unsigned char)c;
    lp[5] = (unsigned char)(c >> 8);
}

void ql_lp_cut(struct mem_acct *a, unsigned char **lpp, size_t off, size_t len, size_t count)
{
    unsigned char *lp = *lpp;
    size_t bytes = listpack_bytes(lp);
    memmove(lp + off, lp + off + len, bytes - off - len);
    ql_lp_set_header(lp, bytes - len, count);
    /* Giving the space back may fail; the bigger block still holds it. */
    unsigned char *shrunk = mem_realloc(a, lp, bytes - len);
    if (shrunk)
        *lpp = shrunk;
}

/* Append right's entries to *left, which then holds count entries. */
static int lp_concat(struct mem_acct *a, unsigned char **left, const unsigned char *right,
                     size_t count)
{
    size_t lb = listpack_bytes(*left), rb = listpack_bytes(right);
    size_t nb = lb + rb - LISTPACK_EMPTY_SIZE;
    if (nb > LISTPACK_MAX_BYTES)
        return QUICKLIST_ETOOBIG;
    unsigned char *lp = *left;
    if (nb > mem_usable(lp)) {
        lp = mem_realloc(a, lp, nb);
        if (!lp)
            return QUICKLIST_ENOMEM;
    }
    memcpy(lp + lb - 1, right + LISTPACK_HDR_SIZE, rb - LISTPACK_HDR_SIZE);
    ql_lp_set_header(lp, nb, count);
    *left = lp;
    return 0;
}

/* ------------------------------------------------------------ nodes */

/* A node for lp (taken on success) holding count entries. */
static struct quicklist_node *node_new(struct mem_acct *a, unsigned char *lp, uint32_t count)
{
    struct quicklist_node *n = mem_calloc(a, sizeof *n);
    if (!n)
        return NULL;
    n->lp = lp;
    n->sz = listpack_bytes(lp);
    n->count = count;
    return n;
}

static void node_free(struct mem_acct *a, struct quicklist_node *n)
{
    mem_free(a, n->lp);
    mem_free(a, n->lzf);
    mem_free(a, n);
}

int ql_node_new_with(struct mem_acct *a, const void *s, size_t len, struct quicklist_node **out)
{
    unsigned char *lp = listpack_create(a);
    if (!lp)
        return QUICKLIST_ENOMEM;
    int rc = listpack_append(a, &lp, s, len);
    if (rc == 0 && !(*out = node_new(a, lp, 1)))
        rc = QUICKLIST_ENOMEM;
    if (rc != 0)
        listpack_destroy(a, lp);
    /* listpack's codes have the same values as ours. */
    return rc;
}

void ql_link_after(struct quicklist *ql, struct quicklist_node *at, struct quicklist_node *n)
{
    /* Linked now, so after any running capture's cut: nothing to capture. */
    n->stamp = ql->epoch;
    n->pend = NULL;
    n->prev = at;
    n->next = at ? at->next : ql->head;
    if (n->next)
        n->next->prev = n;
    else
        ql->tail = n;
    if (at)
        at->next = n;
    else
        ql->head = n;
    ql->nodes++;
}

void ql_link_before(struct quicklist *ql, struct quicklist_node *at, struct quicklist_node *n)
{
    ql_link_after(ql, at ? at->prev : ql->tail, n);
}

void ql_node_remove(struct mem_acct *a, struct quicklist *ql, struct quicklist_node *n)
{
    if (ql->cow)
        ql_cow_unlink(ql, n);
    if (n->prev)
        n->prev->next = n->next;
    else
        ql->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        ql->tail = n->prev;
    ql->nodes--;
    node_free(a, n);
}

int ql_node_raw(struct mem_acct *a, struct quicklist_node *n)
{
    if (n->lp)
        return 0;
    unsigned char *lp = mem_alloc(a, n->sz);
    if (!lp)
        return QUICKLIST_ENOMEM;
    /* Our own compression of a listpack we made: failing is a broken
     * invariant, not bad input. */
    bool ok = lzf_decompress(n->lzf, n->lzf_len, lp, n->sz);
    assert(ok);
    (void)ok;
    n->lp = lp;
    return 0;
}

void ql_node_touch(struct mem_acct *a, struct quicklist_node *n)
{
    mem_free(a, n->lzf);
    n->lzf = NULL;
    n->lzf_len = 0;
    n->no_compress = 0;
    n->sz = listpack_bytes(n->lp);
}

/* Keep n compressed only: reuse a still valid compressed copy, or compress
 * when it saves at least QUICKLIST_MIN_COMPRESS_GAIN bytes (Redis's rule),
 * remembering when it did not. */
static void node_compress(struct mem_acct *a, struct quicklist_node *n)
{
    if (n->lzf) {
        mem_free(a, n->lp);
        n->lp = NULL;
        return;
    }
    if (n->no_compress || !n->lp)
        return;
    if (n->sz < QUICKLIST_MIN_COMPRESS) {
        n->no_compress = 1;
        return;
    }
    size_t cap = n->sz - QUICKLIST_MIN_COMPRESS_GAIN - 1;
    unsigned char *buf = mem_alloc(a, cap);
    if (!buf)
        return; /* stays raw; tried again on the next settle */
    size_t clen = lzf_compress(n->lp, n->sz, buf, cap);
    if (clen == 0) {
        mem_free(a, buf);
        n->no_compress = 1;
        return;
    }
    unsigned char *shrunk = mem_realloc(a, buf, clen);
    n->lzf = shrunk ? shrunk : buf;
    n->lzf_len = (uint32_t)clen;
    mem_free(a, n->lp);
    n->lp = NULL;
}

/* Put n in the state its position asks for: inner (beyond the depth) is
 * compressed, otherwise raw. A held node is left for its iterator to
 * settle when it lets go. */
static void settle_one(struct mem_acct *a, struct quicklist_node *n, bool inner)
{
    if (n->held)
        return;
    if (inner) {
        node_compress(a, n);
    } else if (ql_node_raw(a, n) == 0 && n->lzf) {
        mem_free(a, n->lzf);
        n->lzf = NULL;
        n->lzf_len = 0;
    }
}

void ql_settle(struct mem_acct *a, struct quicklist *ql, struct quicklist_node *n)
{
    if (ql->depth == 0) {
        if (n)
            settle_one(a, n, false);
        return;
    }
    /* As Redis's __quicklistCompress: every change moves at most one node
     * across each window's edge, so checking the windows and the first
     * node past each keeps the whole chain right. */
    struct quicklist_node *h = ql->head, *t = ql->tail;
    bool in_window = false;
    for (uint32_t i = 0; i < ql->depth && h; i++, h = h->next) {
        settle_one(a, h, false);
        in_window |= h == n;
    }
    for (uint32_t i = 0; i < ql->depth && t; i++, t = t->prev) {
        settle_one(a, t, false);
        in_window |= t == n;
    }
    if (ql->nodes <= 2 * (uint64_t)ql->depth)
        return; /* every node is within a window */
    settle_one(a, h, true);
    settle_one(a, t, true);
    if (n && !in_window)
        settle_one(a, n, true);
}

bool ql_merge_pair(struct mem_acct *a, struct quicklist *ql, struct quicklist_node *left,
                   struct quicklist_node *right)
{
    if (!left || !right || left->held || right->held)
        return false;
    size_t sz = (size_t)left->sz + right->sz - LISTPACK_EMPTY_SIZE;
    if (!ql_node_fits(ql, sz, (size_t)left->count + right->count))
        return false;
    if (ql->cow)
        ql_cow_touch(ql, left);
    if (ql_node_raw(a, left) != 0 || ql_node_raw(a, right) != 0 ||
        lp_concat(a, &left->lp, right->lp, (size_t)left->count + right->count) != 0) {
        ql_settle(a, ql, left);
        ql_settle(a, ql, right);
        return false;
    }
    left->count += right->count;
    ql_node_touch(a, left);
    ql_node_remove(a, ql, right);
    return true;
}

/* Cut n (raw) after its first k entries, which end at byte off; the rest
 * goes to a new node linked after it. NULL when out of memory (n intact). */
static struct quicklist_node *node_split(struct mem_acct *a, struct quicklist *ql,
                                         struct quicklist_node *n, size_t off, uint32_t k)
{
    size_t rest = n->sz - off; /* the entries after the cut and the end byte */
    unsigned char *lp = mem_alloc(a, LISTPACK_HDR_SIZE + rest);
    if (!lp)
        return NULL;
    memcpy(lp + LISTPACK_HDR_SIZE, n->lp + off, rest);
    ql_lp_set_header(lp, LISTPACK_HDR_SIZE + rest, n->count - k);
    struct quicklist_node *r = node_new(a, lp, n->count - k);
    if (!r) {
        mem_free(a, lp);
        return NULL;
    }
    if (ql->cow)
        ql_cow_touch(ql, n);
    ql_lp_cut(a, &n->lp, off, rest - 1, k);
    n->count = k;
    ql_node_touch(a, n);
    ql_link_after(ql, n, r);
    return r;
}

/* Split n (raw) in halves by bytes until every piece fits or holds one
 * entry. Pieces stay raw; the caller settles them. */
static void split_oversized(struct mem_acct *a, struct quicklist *ql, struct quicklist_node *n)
{
    if (ql_node_fits(ql, n->sz, n->count))
        return;
    size_t half = (n->sz - LISTPACK_EMPTY_SIZE) / 2;
    const unsigned char *p = listpack_first(n->lp);
    uint32_t k = 0;
    size_t off = 0;
    /* Cut after the entry that reaches half the bytes, but never after the
     * last one. */
    while (k + 1 < n->count) {
        p = listpack_next(n->lp, p);
        k++;
        off = (size_t)(p - n->lp);
        if (off - LISTPACK_HDR_SIZE >= half)
            break;
    }
    struct quicklist_node *r = node_split(a, ql, n, off, k);
    if (!r)
        return;
    split_oversized(a, ql, n);
    split_oversized(a, ql, r);
}

/* Settle the first and last `reach` nodes by their distance from the ends:
 * a split into k pieces moves the nodes beside it up to k-1 places, so a
 * node can cross a window's edge without being one of the pieces. */
static void settle_ends(struct mem_acct *a, struct quicklist *ql, uint64_t reach)
{
    if (ql->depth == 0 || ql->nodes <= 2 * (uint64_t)ql->depth)
        return;
    struct quicklist_node *h = ql->head, *t = ql->tail;
    for (uint64_t i = 0; i < reach && h; i++, h = h->next)
        settle_one(a, h, i >= ql->depth && ql->nodes - 1 - i >= ql->depth);
    for (uint64_t i = 0; i < reach && t; i++, t = t->prev)
        settle_one(a, t, i >= ql->depth && ql->nodes - 1 - i >= ql->depth);
}

void ql_normalize(struct mem_acct *a, struct quicklist *ql, struct quicklist_node *n)
{
    struct quicklist_node *stop = n->next;
    uint64_t before = ql->nodes;
    split_oversized(a, ql, n);
    uint64_t pieces = ql->nodes - before + 1;
    struct quicklist_node *last = stop ? stop->prev : ql->tail;
    struct quicklist_node *first = n, *prev = n->prev;
    if (ql_merge_pair(a, ql, prev, first)) {
        if (last == first)
            last = prev;
        first = prev;
    }
    if (ql_merge_pair(a, ql, last, stop))
        stop = last->next;
    for (struct quicklist_node *x = first; x != stop; x = x->next)
        ql_settle(a, ql, x);
    /* Two pieces and the merges move a neighbour at most one place, which
     * ql_settle covers; more pieces move it further. */
    if (pieces > 2)
        settle_ends(a, ql, ql->depth + pieces + 2);
}

struct quicklist_node *ql_locate(const struct quicklist *ql, uint64_t index, uint32_t *in_node)
{
    struct quicklist_node *n;
    if (index < ql->count / 2) {
        for (n = ql->head; index >= n->count; n = n->next)
            index -= n->count;
        *in_node = (uint32_t)index;
    } else {
        uint64_t back = ql->count - 1 - index;
        for (n = ql->tail; back >= n->count; n = n->prev)
            back -= n->count;
        *in_node = (uint32_t)(n->count - 1 - back);
    }
    return n;
}

/* ------------------------------------------------------------ lifetime */

struct quicklist *quicklist_create(struct mem_acct *a, int fill, int depth)
{
    struct quicklist *ql = mem_calloc(a, sizeof *ql);
    if (!ql)
        return NULL;
    ql->fill = clamp_fill(fill);
    ql->depth = depth < 0 ? 0 : depth > QUICKLIST_DEPTH_MAX ? QUICKLIST_DEPTH_MAX : (uint32_t)depth;
    ql->bytes = (int64_t)mem_usable(ql);
    return ql;
}

struct quicklist *quicklist_copy(struct mem_acct *a, const struct quicklist *ql)
{
    int64_t mark = ql_mark(a);
    struct quicklist *c = quicklist_create(a, ql->fill, (int)ql->depth);
    if (!c)
        return NULL;
    for (const struct quicklist_node *n = ql->head; n; n = n->next) {
        /* Outside an operation a node is raw or compressed, not both. */
        struct quicklist_node *m = mem_calloc(a, sizeof *m);
        unsigned char *blob = !m      ? NULL
                              : n->lp ? mem_dup(a, n->lp, n->sz)
                                      : mem_dup(a, n->lzf, n->lzf_len);
        if (!blob) {
            mem_free(a, m);
            quicklist_destroy(a, c);
            return NULL;
        }
        *m = *n;
        m->held = 0;
        m->pend = NULL; /* (ql_link_after stamps it for c) */
        m->lp = n->lp ? blob : NULL;
        m->lzf = n->lp ? NULL : blob;
        ql_link_after(c, c->tail, m);
        c->count += m->count;
    }
    c->bytes = a->used - mark;
    return c;
}

bool quicklist_destroy_step(struct mem_acct *a, struct quicklist *ql, size_t max_nodes)
{
    int64_t mark = ql_mark(a);
    for (size_t i = 0; ql->head && (i < max_nodes || i == 0); i++) {
        ql->count -= ql->head->count;
        ql_node_remove(a, ql, ql->head);
    }
    if (ql->head) {
        ql_charge(ql, a, mark);
        return false;
    }
    mem_free(a, ql);
    return true;
}

void quicklist_destroy(struct mem_acct *a, struct quicklist *ql)
{
    if (ql)
        quicklist_destroy_step(a, ql, SIZE_MAX);
}

size_t quicklist_len(const struct quicklist *ql)
{
    return (size_t)ql->count;
}

size_t quicklist_node_count(const struct quicklist *ql)
{
    return (size_t)ql->nodes;
}

size_t quicklist_bytes(const struct quicklist *ql)
{
    return (size_t)ql->bytes;
}

int quicklist_fill(const struct quicklist *ql)
{
    return ql->fill;
}

int quicklist_depth(const struct quicklist *ql)
{
    return (int)ql->depth;
}

/* ------------------------------------------------------------ single listpack */

struct quicklist *quicklist_from_listpack(struct mem_acct *a, unsigned char *lp, int fill,
                                          int depth)
{
    struct quicklist *ql = quicklist_create(a, fill, depth);
    if (!ql)
        return NULL;
    if (quicklist_append_listpack(a, ql, lp) != 0) {
        quicklist_destroy(a, ql);
        return NULL;
    }
    return ql;
}

bool quicklist_can_shrink(const struct quicklist *ql)
{
    if (ql->nodes == 0)
        return true;
    if (ql->nodes > 1)
        return false;
    /* Half the limits: growing back to the limit takes as many pushes as
     * the list shrank by, so conversions cannot alternate on every op. */
    const struct quicklist_node *n = ql->head;
    return n->sz <= ql_size_limit(ql->fill) / 2 && n->count <= ql_count_limit(ql->fill) / 2;
}

int quicklist_to_listpack(struct mem_acct *a, struct quicklist *ql, unsigned char **out)
{
    if (ql->nodes > 1 || ql->cow)
        return QUICKLIST_EINVAL;
    if (ql->nodes == 0) {
        unsigned char *lp = listpack_create(a);
        if (!lp)
            return QUICKLIST_ENOMEM;
        mem_free(a, ql);
        *out = lp;
        return 0;
    }
    struct quicklist_node *n = ql->head;
    int64_t mark = ql_mark(a);
    int rc = ql_node_raw(a, n);
    if (rc != 0)
        return rc;
    ql_charge(ql, a, mark);
    *out = n->lp;
    n->lp = NULL;
    node_free(a, n);
    mem_free(a, ql);
    return 0;
}

/* ------------------------------------------------------------ ends */

int quicklist_push(struct mem_acct *a, struct quicklist *ql, enum quicklist_end where,
                   const void *s, size_t len)
{
    int64_t mark = ql_mark(a);
    struct quicklist_node *n = where == QUICKLIST_HEAD ? ql->head : ql->tail;
    int rc;
    if (n && ql_node_fits(ql, n->sz + ql_insert_bytes(s, len), (size_t)n->count + 1)) {
        rc = ql_node_raw(a, n);
        if (rc == 0 && ql->cow)
            ql_cow_touch(ql, n);
        if (rc == 0)
            rc = where == QUICKLIST_HEAD ? listpack_insert(a, &n->lp, listpack_first(n->lp),
                                                           LISTPACK_BEFORE, s, len, NULL)
                                         : listpack_append(a, &n->lp, s, len);
        if (rc == 0) {
            n->count++;
            ql_node_touch(a, n);
        }
    } else {
        struct quicklist_node *m;
        rc = ql_node_new_with(a, s, len, &m);
        if (rc == 0) {
            if (where == QUICKLIST_HEAD)
                ql_link_after(ql, NULL, m);
            else
                ql_link_before(ql, NULL, m);
            /* A new end node pushes one node past the window's edge. */
            ql_settle(a, ql, NULL);
        }
    }
    if (rc == 0)
        ql->count++;
    ql_charge(ql, a, mark);
    return rc;
}

int quicklist_pop(struct mem_acct *a, struct quicklist *ql, enum quicklist_end where,
                  quicklist_entry_fn fn, void *ctx)
{
    struct quicklist_node *n = where == QUICKLIST_HEAD ? ql->head : ql->tail;
    if (!n)
        return 0;
    int64_t mark = ql_mark(a);
    int rc = ql_node_raw(a, n);
    if (rc != 0) {
        ql_charge(ql, a, mark);
        return rc;
    }
    const unsigned char *p = where == QUICKLIST_HEAD ? listpack_first(n->lp) : listpack_last(n->lp);
    if (fn) {
        struct listpack_entry e;
        listpack_get(p, &e);
        fn(ctx, &e);
    }
    if (n->count == 1) {
        ql_node_remove(a, ql, n);
        ql_settle(a, ql, NULL);
    } else {
        if (ql->cow)
            ql_cow_touch(ql, n);
        listpack_delete(a, &n->lp, p, NULL);
        n->count--;
        ql_node_touch(a, n);
    }
    ql->count--;
    ql_charge(ql, a, mark);
    return 1;
}

/* ------------------------------------------------------------ blobs */

const struct quicklist_node *quicklist_node_first(const struct quicklist *ql)
{
    return ql->head;
}

const struct quicklist_node *quicklist_node_next(const struct quicklist_node *n)
{
    return n->next;
}

void quicklist_node_blob(const struct quicklist_node *n, struct quicklist_blob *out)
{
    out->count = n->count;
    out->raw_len = n->sz;
    out->compressed = n->lp == NULL;
    out->data = n->lp ? n->lp : n->lzf;
    out->len = n->lp ? n->sz : n->lzf_len;
}

int quicklist_append_listpack(struct mem_acct *a, struct quicklist *ql, unsigned char *lp)
{
    uint32_t count = listpack_count(lp);
    if (count == 0) {
        listpack_destroy(a, lp);
        return 0;
    }
    int64_t mark = ql_mark(a);
    struct quicklist_node *n = node_new(a, lp, count);
    if (!n)
        return QUICKLIST_ENOMEM;
    ql_link_before(ql, NULL, n);
    ql->count += count;
    ql->bytes += (int64_t)mem_usable(lp); /* charged before it came in */
    ql_settle(a, ql, NULL);
    ql_charge(ql, a, mark);
    return 0;
}

/* ------------------------------------------------------------ checking */

/* Whether n's content is a valid listpack of n->count entries and n->sz
 * bytes; checks the compressed copy against it too. */
static const char *check_node(struct mem_acct *a, const struct quicklist_node *n)
{
    if (!n->lp && !n->lzf)
        return "node without content";
    if (n->count == 0)
        return "empty node";
    unsigned char *tmp = NULL;
    const unsigned char *lp = n->lp;
    if (n->lzf) {
        tmp = mem_alloc(a, n->sz);
        if (!tmp)
            return NULL; /* cannot check without memory: not a violation */
        if (!lzf_decompress(n->lzf, n->lzf_len, tmp, n->sz)) {
            mem_free(a, tmp);
            return "compressed node does not decompress to sz bytes";
        }
        if (lp && memcmp(lp, tmp, n->sz) != 0) {
            mem_free(a, tmp);
            return "compressed copy differs from the listpack";
        }
        lp = tmp;
    }
    const char *err = NULL;
    if (listpack_bytes(lp) != n->sz)
        err = "node sz differs from its listpack's size";
    else if (listpack_validate(lp, n->sz, true) != 0)
        err = "node holds an invalid listpack";
    else if (listpack_count(lp) != n->count)
        err = "node count differs from its listpack's";
    mem_free(a, tmp);
    return err;
}

const char *quicklist_check(struct mem_acct *a, const struct quicklist *ql, bool strict)
{
    uint64_t count = 0, nodes = 0, idx = 0;
    size_t bytes = mem_usable(ql);
    const struct quicklist_node *prev = NULL;
    if ((ql->head == NULL) != (ql->nodes == 0) || (ql->head && ql->head->prev))
        return "bad head";
    for (const struct quicklist_node *n = ql->head; n; prev = n, n = n->next, idx++) {
        if (n->prev != prev)
            return "prev link broken";
        if (n->held)
            return "node held with no iterator open";
        const char *err = check_node(a, n);
        if (err)
            return err;
        count += n->count;
        nodes++;
        bytes += mem_usable(n) + mem_usable(n->lp) + mem_usable(n->lzf);
        if (!strict)
            continue;
        if (!ql_node_fits(ql, n->sz, n->count))
            return "node over the fill limits";
        bool inner = ql->depth > 0 && idx >= ql->depth && ql->nodes - 1 - idx >= ql->depth;
        if (inner && n->lp && !n->no_compress)
            return "inner node not compressed";
        if (inner && n->lp && n->lzf)
            return "inner node both raw and compressed";
        if (!inner && (!n->lp || n->lzf))
            return "node within the compress depth not raw";
    }
    if (prev != ql->tail)
        return "tail does not end the chain";
    if (nodes != ql->nodes)
        return "node count wrong";
    if (count != ql->count)
        return "entry count wrong";
    if ((int64_t)bytes != ql->bytes)
        return "bytes figure differs from the blocks held";
    return NULL;
}
