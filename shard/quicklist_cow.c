/* quicklist_cow.c — a list's copy-on-write for a snapshot, a node at a
 * time: once armed (quicklist_cow_begin), every node the list holds at
 * that moment (the cut) reaches the capture exactly once, as it was then,
 * and in the list's order, so the RDB record (type 18, one listpack per
 * node) comes out as of the cut while a write costs at most a copy of the
 * nodes it changes (one, two for a merge), never the list.
 *
 * A node linked before the cut has a stamp below cut until it is captured.
 * The cursor walks the chain from the head, capturing what it meets; a
 * write about to change or free a node the cursor has not reached copies
 * its bytes first into a record kept on the node, in `pend`, and the
 * cursor hands out a node's pending records before the node itself. The
 * chain with the pending records in place of the nodes they were is the
 * cut's order at all times: writes only add nodes (stamped as captured,
 * they add nothing), change nodes (their record stays where they are) or
 * free them (their records move to the front of the next node's, or to
 * the end of the list when it was the tail). Memory: the records written
 * ahead of the cursor, bounded by what the writes touched.
 *
 * The records and the tracking state are the snapshot's (malloc), not the
 * list's account. Owner shard's thread only. */
#include <stdlib.h>
#include <string.h>

#include "shard/quicklist_internal.h"

/* A node's bytes as of the cut, copied by a write. */
struct ql_rec {
    struct ql_rec *next;  /* the next record in the cut's order */
    struct quicklist_blob blob; /* data points at bytes[] */
    unsigned char bytes[];
};

/* Records to hand out before a node (or at the end of the list). */
struct ql_pend {
    struct ql_rec *head;  /* first, in the cut's order */
    struct ql_rec *tail;  /* last */
};

struct ql_cow {
    const struct quicklist_cow_ops *ops; /* where the nodes go */
    void *arg;                /* the ops' argument */
    uint32_t cut;             /* nodes stamped below it are not captured */
    struct quicklist_node *at;/* next node the cursor visits; NULL past the tail */
    struct ql_pend end;       /* records of tail nodes freed ahead of the cursor */
    bool done;                /* every node of the cut was handed out */
};

/* Hand out and free every record of p. */
static void hand_out(struct ql_cow *c, struct ql_pend *p)
{
    for (struct ql_rec *r = p->head, *next; r; r = next) {
        next = r->next;
        c->ops->node(c->arg, &r->blob);
        free(r);
    }
    p->head = p->tail = NULL;
}

static void pend_free(struct ql_pend *p)
{
    for (struct ql_rec *r = p->head, *next; r; r = next) {
        next = r->next;
        free(r);
    }
    p->head = p->tail = NULL;
}

/* Give up: the capture is incomplete. */
static void fail(struct ql_cow *c)
{
    if (!c->done)
        c->ops->failed(c->arg);
    c->done = true;
}

int quicklist_cow_begin(struct quicklist *ql, const struct quicklist_cow_ops *ops, void *arg)
{
    if (ql->cow)
        return QUICKLIST_EINVAL;
    struct ql_cow *c = calloc(1, sizeof *c);
    if (!c)
        return QUICKLIST_ENOMEM;
    c->ops = ops;
    c->arg = arg;
    c->cut = ++ql->epoch;
    c->at = ql->head;
    ql->cow = c;
    return 0;
}

bool quicklist_cow_armed(const struct quicklist *ql)
{
    return ql->cow != NULL;
}

bool quicklist_cow_step(struct quicklist *ql, size_t max_nodes)
{
    struct ql_cow *c = ql->cow;
    for (; !c->done && max_nodes; max_nodes--) {
        struct quicklist_node *n = c->at;
        if (!n) {
            hand_out(c, &c->end);
            c->done = true;
            break;
        }
        if (n->pend) {
            hand_out(c, n->pend);
            free(n->pend);
            n->pend = NULL;
        }
        if (n->stamp < c->cut) {
            struct quicklist_blob b;
            quicklist_node_blob(n, &b);
            c->ops->node(c->arg, &b);
            n->stamp = c->cut;
        }
        c->at = n->next;
    }
    return c->done;
}

void quicklist_cow_end(struct quicklist *ql)
{
    struct ql_cow *c = ql->cow;
    if (!c)
        return;
    /* Records the cursor never reached (the capture was abandoned). */
    for (struct quicklist_node *n = c->at; n; n = n->next) {
        if (n->pend) {
            pend_free(n->pend);
            free(n->pend);
            n->pend = NULL;
        }
    }
    pend_free(&c->end);
    free(c);
    ql->cow = NULL;
}

bool quicklist_cow_retire(struct quicklist *ql, void *owner, struct mem_acct *a)
{
    if (!ql->cow)
        return false;
    ql->cow->ops->retire(ql->cow->arg, owner, a);
    return true;
}

void ql_cow_touch(struct quicklist *ql, struct quicklist_node *n)
{
    struct ql_cow *c = ql->cow;
    if (c->done || n->stamp >= c->cut)
        return;
    struct quicklist_blob b;
    quicklist_node_blob(n, &b);
    struct ql_rec *r = malloc(sizeof *r + b.len);
    if (!r || (!n->pend && !(n->pend = calloc(1, sizeof *n->pend)))) {
        free(r);
        fail(c);
        return;
    }
    memcpy(r->bytes, b.data, b.len);
    r->blob = b;
    r->blob.data = r->bytes;
    r->next = NULL;
    if (n->pend->tail)
        n->pend->tail->next = r;
    else
        n->pend->head = r;
    n->pend->tail = r;
    n->stamp = c->cut;
    c->ops->copied(c->arg);
}

void ql_cow_unlink(struct quicklist *ql, struct quicklist_node *n)
{
    struct ql_cow *c = ql->cow;
    ql_cow_touch(ql, n);
    if (c->at == n)
        c->at = n->next;
    struct ql_pend *p = n->pend;
    if (!p)
        return;
    n->pend = NULL;
    if (c->done) {
        pend_free(p);
        free(p);
        return;
    }
    /* n's records come before whatever the next node holds. */
    struct ql_pend *to = n->next ? n->next->pend : &c->end;
    if (n->next && !to) {
        n->next->pend = p;
        return;
    }
    if (to->head) {
        p->tail->next = to->head;
        to->head = p->head;
    } else {
        *to = *p;
    }
    free(p);
}
