/* quicklist_iter.c — iterators over a quicklist (see quicklist.h) and the
 * commands' operations built on them or on node ranges: LSET, LINSERT,
 * LTRIM's range deletion, LREM and LPOS. Node-level steps (decompressing,
 * merging, splitting, settling compression) are in quicklist.c. Owner
 * shard's thread only. */
#include <string.h>

#include "common/mem.h"
#include "shard/listpack.h"
#include "shard/quicklist.h"
#include "shard/quicklist_internal.h"

/* ------------------------------------------------------------ iterators */

void quicklist_iter_init(struct quicklist_iter *it, struct mem_acct *a, struct quicklist *ql,
                         int64_t index, bool forward)
{
    memset(it, 0, sizeof *it);
    it->a = a;
    it->ql = ql;
    it->forward = forward;
    int64_t n = (int64_t)ql->count;
    if (index < 0)
        index += n;
    if (index < 0 || index >= n)
        return;
    uint32_t k;
    it->node = ql_locate(ql, (uint64_t)index, &k);
    it->start = k;
}

/* Let go of the current node: merge it with the neighbour already passed
 * if it shrank (and, at the end, with the one ahead), settle compression,
 * and move to the next node. */
static void iter_leave(struct quicklist_iter *it, bool finished)
{
    struct quicklist_node *n = it->node;
    struct quicklist_node *ahead = it->forward ? n->next : n->prev;
    n->held--;
    if (it->modified) {
        /* Only with nodes already passed while the walk goes on: the one
         * ahead is still to be visited, and its pointer must stay valid. */
        struct quicklist_node *prev = n->prev;
        if ((it->forward || finished) && ql_merge_pair(it->a, it->ql, prev, n))
            n = prev;
        if (!it->forward || finished)
            ql_merge_pair(it->a, it->ql, n, n->next);
    }
    ql_settle(it->a, it->ql, n);
    it->node = finished ? NULL : ahead;
    it->start = it->forward ? 0 : -1;
    it->entered = false;
    it->modified = false;
    it->next_off = it->cur_off = 0;
}

int quicklist_iter_next(struct quicklist_iter *it, struct listpack_entry *e)
{
    struct mem_acct *a = it->a;
    int64_t mark = ql_mark(a);
    int rc = 0;
    while (it->node) {
        struct quicklist_node *n = it->node;
        if (!it->entered) {
            rc = ql_node_raw(a, n);
            if (rc != 0)
                break;
            n->held++;
            it->entered = true;
            const unsigned char *p = listpack_seek(n->lp, it->start);
            it->next_off = p ? (uint32_t)(p - n->lp) : 0;
            it->cur_off = 0;
        }
        if (it->next_off == 0) {
            iter_leave(it, false);
            continue;
        }
        const unsigned char *p = n->lp + it->next_off;
        listpack_get(p, e);
        it->cur_off = it->next_off;
        const unsigned char *q = it->forward ? listpack_next(n->lp, p) : listpack_prev(n->lp, p);
        it->next_off = q ? (uint32_t)(q - n->lp) : 0;
        rc = 1;
        break;
    }
    ql_charge(it->ql, a, mark);
    return rc;
}

int quicklist_iter_del(struct quicklist_iter *it)
{
    if (!it->entered || it->cur_off == 0)
        return QUICKLIST_EINVAL;
    struct mem_acct *a = it->a;
    struct quicklist *ql = it->ql;
    struct quicklist_node *n = it->node;
    int64_t mark = ql_mark(a);
    if (n->count == 1) {
        struct quicklist_node *ahead = it->forward ? n->next : n->prev;
        ql_node_remove(a, ql, n);
        it->node = ahead;
        it->start = it->forward ? 0 : -1;
        it->entered = it->modified = false;
        it->next_off = 0;
        ql_settle(a, ql, NULL);
    } else {
        const unsigned char *next;
        if (ql->cow)
            ql_cow_touch(ql, n);
        listpack_delete(a, &n->lp, n->lp + it->cur_off, &next);
        n->count--;
        ql_node_touch(a, n);
        it->modified = true;
        /* Forwards, the next entry slid into the deleted one's place;
         * backwards, the bytes before it did not move. */
        if (it->forward)
            it->next_off = next ? it->cur_off : 0;
    }
    it->cur_off = 0;
    ql->count--;
    ql_charge(ql, a, mark);
    return 0;
}

int quicklist_iter_insert(struct quicklist_iter *it, enum listpack_where where, const void *s,
                          size_t len)
{
    if (!it->entered || it->cur_off == 0)
        return QUICKLIST_EINVAL;
    struct mem_acct *a = it->a;
    struct quicklist *ql = it->ql;
    struct quicklist_node *n = it->node;
    const unsigned char *p = n->lp + it->cur_off;
    size_t esz = ql_insert_bytes(s, len);
    int64_t mark = ql_mark(a);
    int rc;
    bool at_edge = where == LISTPACK_AFTER ? listpack_next(n->lp, p) == NULL
                                           : it->cur_off == LISTPACK_HDR_SIZE;
    bool fits = ql_node_fits(ql, n->sz + esz, (size_t)n->count + 1);

    if (fits || !at_edge) {
        /* In place; a node that grows past the limits is split below. */
        if (ql->cow)
            ql_cow_touch(ql, n);
        rc = listpack_insert(a, &n->lp, p, where, s, len, NULL);
        if (rc != 0)
            goto out;
        n->count++;
        ql_node_touch(a, n);
    } else {
        /* At a full node's edge: the neighbour's near end, or a new node. */
        struct quicklist_node *nb = where == LISTPACK_AFTER ? n->next : n->prev;
        if (nb && ql_node_fits(ql, nb->sz + esz, (size_t)nb->count + 1)) {
            rc = ql_node_raw(a, nb);
            if (rc == 0 && ql->cow)
                ql_cow_touch(ql, nb);
            if (rc == 0)
                rc = where == LISTPACK_AFTER ? listpack_insert(a, &nb->lp, listpack_first(nb->lp),
                                                               LISTPACK_BEFORE, s, len, NULL)
                                             : listpack_append(a, &nb->lp, s, len);
            if (rc == 0) {
                nb->count++;
                ql_node_touch(a, nb);
            }
            ql_settle(a, ql, nb);
        } else {
            struct quicklist_node *m;
            rc = ql_node_new_with(a, s, len, &m);
            if (rc == 0) {
                if (where == LISTPACK_AFTER)
                    ql_link_after(ql, n, m);
                else
                    ql_link_before(ql, n, m);
                ql_settle(a, ql, m);
            }
        }
        if (rc != 0)
            goto out;
    }
    ql->count++;
    /* The iteration ends here: let go of n, then fix its size. */
    n->held--;
    it->entered = it->modified = false;
    it->node = NULL;
    it->next_off = it->cur_off = 0;
    if (ql_node_fits(ql, n->sz, n->count))
        ql_settle(a, ql, n);
    else
        ql_normalize(a, ql, n);
out:
    ql_charge(ql, a, mark);
    return rc;
}

void quicklist_iter_release(struct quicklist_iter *it)
{
    if (it->node && it->entered) {
        int64_t mark = ql_mark(it->a);
        iter_leave(it, true);
        ql_charge(it->ql, it->a, mark);
    }
    it->node = NULL;
}

/* ------------------------------------------------------------ operations */

/* Whether the entry last returned by it equals s[0..len). */
static bool cur_eq(const struct quicklist_iter *it, const void *s, size_t len)
{
    return listpack_entry_eq(it->node->lp + it->cur_off, s, len);
}

int quicklist_replace_at(struct mem_acct *a, struct quicklist *ql, int64_t index, const void *s,
                         size_t len)
{
    struct quicklist_iter it;
    struct listpack_entry e;
    quicklist_iter_init(&it, a, ql, index, true);
    int rc = quicklist_iter_next(&it, &e);
    if (rc <= 0) {
        quicklist_iter_release(&it);
        return rc == 0 ? QUICKLIST_ERANGE : rc;
    }
    int64_t mark = ql_mark(a);
    struct quicklist_node *n = it.node;
    if (ql->cow)
        ql_cow_touch(ql, n);
    rc = listpack_replace(a, &n->lp, n->lp + it.cur_off, s, len, NULL);
    if (rc == 0) {
        ql_node_touch(a, n);
        it.modified = true; /* a smaller element may let n merge */
        if (!ql_node_fits(ql, n->sz, n->count)) {
            /* A bigger element overfilled n: let go of it and split it. */
            n->held--;
            it.entered = false;
            it.node = NULL;
            ql_normalize(a, ql, n);
        }
    }
    ql_charge(ql, a, mark);
    quicklist_iter_release(&it);
    return rc;
}

int quicklist_insert_pivot(struct mem_acct *a, struct quicklist *ql, const void *pivot, size_t plen,
                           enum listpack_where where, const void *s, size_t len)
{
    struct quicklist_iter it;
    struct listpack_entry e;
    int rc;
    quicklist_iter_init(&it, a, ql, 0, true);
    while ((rc = quicklist_iter_next(&it, &e)) == 1) {
        if (cur_eq(&it, pivot, plen)) {
            rc = quicklist_iter_insert(&it, where, s, len);
            if (rc == 0)
                rc = 1;
            break;
        }
    }
    quicklist_iter_release(&it);
    return rc;
}

/* Delete m entries of x (raw) from its entry k on; some stay. */
static void node_del_entries(struct mem_acct *a, struct quicklist_node *x, uint32_t k, uint64_t m)
{
    const unsigned char *p = listpack_seek(x->lp, k), *q = p;
    for (uint64_t i = 0; i < m && q; i++)
        q = listpack_next(x->lp, q);
    size_t off = (size_t)(p - x->lp);
    size_t end = q ? (size_t)(q - x->lp) : (size_t)x->sz - 1;
    ql_lp_cut(a, &x->lp, off, end - off, x->count - m);
    x->count -= (uint32_t)m;
    ql_node_touch(a, x);
}

int64_t quicklist_del_range(struct mem_acct *a, struct quicklist *ql, int64_t start, int64_t count)
{
    int64_t n = (int64_t)ql->count;
    if (count <= 0)
        return 0;
    if (start < 0)
        start += n;
    if (start < 0 || start >= n)
        return 0;
    uint64_t extent = (uint64_t)(count < n - start ? count : n - start);

    /* Find where the range ends: first/k .. last/lk + r. */
    uint32_t k;
    struct quicklist_node *first = ql_locate(ql, (uint64_t)start, &k);
    struct quicklist_node *last = first;
    uint64_t r = extent;
    uint32_t lk = k;
    while (r > last->count - lk) {
        r -= last->count - lk;
        last = last->next;
        lk = 0;
    }
    bool last_partial = !(lk == 0 && r == last->count);
    bool first_partial = first == last ? last_partial : k > 0;

    /* Only nodes losing part of their entries are decompressed, and both
     * before anything changes, so running out of memory changes nothing. */
    int64_t mark = ql_mark(a);
    int rc = first_partial ? ql_node_raw(a, first) : 0;
    if (rc == 0 && last_partial && last != first)
        rc = ql_node_raw(a, last);
    if (rc != 0) {
        ql_settle(a, ql, first);
        ql_settle(a, ql, last);
        ql_charge(ql, a, mark);
        return rc;
    }

    /* The nodes around the range, in order, are the merge candidates:
     * the one before, the partial ones kept, the one after. */
    struct quicklist_node *cand[4];
    int nc = 0;
    struct quicklist_node *after = last->next;
    if (first->prev)
        cand[nc++] = first->prev;
    struct quicklist_node *x = first;
    uint32_t kk = k;
    for (r = extent; r > 0; kk = 0) {
        struct quicklist_node *nx = x->next;
        uint64_t m = x->count - kk < r ? x->count - kk : r;
        if (kk == 0 && m == x->count) {
            ql_node_remove(a, ql, x); /* whole: freed as it is stored */
        } else {
            if (ql->cow)
                ql_cow_touch(ql, x);
            node_del_entries(a, x, kk, m);
            cand[nc++] = x;
        }
        r -= m;
        x = nx;
    }
    if (after)
        cand[nc++] = after;
    ql->count -= extent;

    for (int i = 0; i + 1 < nc;) {
        if (ql_merge_pair(a, ql, cand[i], cand[i + 1])) {
            memmove(&cand[i + 1], &cand[i + 2], (size_t)(nc - i - 2) * sizeof cand[0]);
            nc--;
        } else {
            i++;
        }
    }
    ql_settle(a, ql, NULL);
    for (int i = 0; i < nc; i++)
        ql_settle(a, ql, cand[i]);
    ql_charge(ql, a, mark);
    return (int64_t)extent;
}

int quicklist_rem(struct mem_acct *a, struct quicklist *ql, const void *s, size_t len,
                  int64_t count, size_t *removed)
{
    struct quicklist_iter it;
    struct listpack_entry e;
    bool forward = count >= 0;
    uint64_t limit = count < 0 ? -(uint64_t)count : (uint64_t)count;
    int rc;
    *removed = 0;
    quicklist_iter_init(&it, a, ql, forward ? 0 : -1, forward);
    while ((rc = quicklist_iter_next(&it, &e)) == 1) {
        if (!cur_eq(&it, s, len))
            continue;
        quicklist_iter_del(&it);
        if (++*removed == limit)
            break;
    }
    quicklist_iter_release(&it);
    return rc < 0 ? rc : 0;
}

int64_t quicklist_pos(struct mem_acct *a, struct quicklist *ql, const void *s, size_t len,
                      bool from_tail, uint64_t rank, uint64_t count, uint64_t maxlen,
                      quicklist_pos_fn fn, void *ctx)
{
    struct quicklist_iter it;
    struct listpack_entry e;
    uint64_t scanned = 0, matches = 0, llen = ql->count;
    int64_t reported = 0;
    int rc = 0;
    quicklist_iter_init(&it, a, ql, from_tail ? -1 : 0, !from_tail);
    while ((maxlen == 0 || scanned < maxlen) && (rc = quicklist_iter_next(&it, &e)) == 1) {
        if (cur_eq(&it, s, len) && ++matches >= rank) {
            fn(ctx, (int64_t)(from_tail ? llen - 1 - scanned : scanned));
            if (++reported == (int64_t)count)
                break;
        }
        scanned++;
    }
    quicklist_iter_release(&it);
    return rc < 0 ? rc : reported;
}
