/* group_events.c — the keyspace events of a one-shot group (the requests
 * of a worker's turn whose clients' pipelines span shards: "Program
 * order", dispatch.c) while notifications are on. Each shard would publish
 * its share at once, so a subscriber could see a client's later command's
 * event before an earlier one's. Instead the shards record each request's
 * events and keep the group's locks; the worker, once every batch is back,
 * publishes them in its clients' command order, then releases the locks
 * (so no later command on those keys publishes first) and completes the
 * replies. docs/DESIGN.md, Pub/Sub. The group's worker thread, except
 * group_events_run (the shard's owner). */
#include <assert.h>
#include <stdlib.h>

#include "common/clock.h"
#include "server/route/dispatch.h"
#include "server/route/dispatch_internal.h"
#include "server/core/server.h"
#include "server/net/conn.h"
#include "server/net/worker.h"
#include "server/txn/txn.h"

/* A group whose events its worker publishes. */
struct group_events {
    struct txn_gate *kept;   /* the group's locks, kept by its shards until
                                released here (txn_start_oneshot's kept) */
    unsigned nbatches;       /* its batches (one per shard it has requests on) */
    unsigned nback;          /* of them back, in back[] */
    struct batch **back;     /* them (server.nworkers entries) */
    size_t n;                /* its requests */
    struct req *order[];     /* them, in an order that every client's
                                command order and every shard's run order
                                agree with */
};

/* Move the requests of grouped batch b (shard `shard`) that are not the
 * group's (of clients whose commands this turn stay on one shard, fan-out
 * parts) to a batch of their own, sent now: they may have to wait for
 * the group's locks, which are kept until all of the group's batches are
 * back. Returns 0, or -1 on OOM (b unchanged). */
static int split_others(struct worker *w, unsigned shard, struct batch *b)
{
    size_t others = 0;
    for (size_t i = 0; i < b->n; i++)
        others += !(b->v[i].end & BENT_GROUPED);
    if (others == 0)
        return 0;
    struct batch *o = dispatch_batch_new(w, others);
    if (!o)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct bent e = b->v[i];
        struct batch *to = (e.end & BENT_GROUPED) ? b : o;
        size_t at = to == b ? k++ : o->n++;
        e.r->bidx = at;
        to->v[at] = e;
    }
    b->n = k;
    dispatch_batch_send(w, shard, o);
    return 0;
}

struct group_events *group_events_prepare(struct worker *w, size_t n)
{
    unsigned nw = server.nworkers;
    struct group_events *g = malloc(sizeof *g + n * sizeof g->order[0]);
    struct batch **back = calloc(nw, sizeof *back);
    size_t *pos = calloc(nw, sizeof *pos); /* per batch: its next request */
    if (!g || !back || !pos)
        goto fail;
    g->kept = NULL;
    g->nbatches = g->nback = 0;
    g->back = back;
    g->n = 0;
    for (unsigned i = 0; i < nw; i++) {
        struct batch *b = w->out[i];
        if (!b || !b->grouped)
            continue;
        if (split_others(w, i, b) != 0)
            goto fail;
        g->nbatches++;
    }
    /* Merge the batches (each in the order its shard runs it) so that each
     * client's requests stay in its order: a batch's next request goes
     * when it heads its client's list. The order they were dispatched in
     * is one such merge, so one can always go. */
    for (bool moved = true; moved;) {
        moved = false;
        for (unsigned i = 0; i < nw; i++) {
            struct batch *b = w->out[i];
            if (!b || !b->grouped)
                continue;
            while (pos[i] < b->n) {
                struct req *r = b->v[pos[i]].r;
                if (r->conn->ord_first != r)
                    break;
                r->conn->ord_first = r->ord_next;
                g->order[g->n++] = r;
                pos[i]++;
                moved = true;
            }
        }
    }
    assert(g->n == n);
    for (unsigned i = 0; i < nw; i++)
        if (w->out[i] && w->out[i]->grouped)
            w->out[i]->grp = g;
    free(pos);
    return g;
fail:
    free(pos);
    free(back);
    free(g);
    return NULL;
}

struct txn_gate **group_events_kept(struct group_events *g)
{
    return &g->kept;
}

void group_events_cancel(struct worker *w, struct group_events *g)
{
    for (unsigned i = 0; i < server.nworkers; i++)
        if (w->out[i] && w->out[i]->grp == g)
            w->out[i]->grp = NULL;
    free(g->back);
    free(g);
}

/* A batch of group g is back on its worker (mailbox handler, or called by
 * its own shard): the last one publishes the group's events, releases its
 * locks and completes every batch's replies. */
static void on_back(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    struct batch *b = (struct batch *)m;
    struct group_events *g = b->grp;
    b->grp = NULL;
    g->back[g->nback++] = b;
    if (g->nback < g->nbatches)
        return;
    /* Each client's frames of its own events go into its slots first, ahead
     * of its replies, as Redis emits them while its command runs. The
     * messages for other workers are on their way (publish_events wakes
     * them now) before the releases, which their shards handle after. */
    for (size_t i = 0; i < g->n; i++)
        dispatch_req_publish(g->order[i]);
    txn_oneshot_release(g->kept);
    for (unsigned i = 0; i < g->nback; i++)
        dispatch_batch_done(s, g->back[i]);
    free(g->back);
    free(g);
}

void group_events_run(struct shard *s, struct batch *b)
{
    int64_t now_ms = clock_wall_ms();
    s->ctr.batches++;
    /* (Only the group's requests: group_events_prepare moved the others.) */
    for (size_t i = 0; i < b->n; i++)
        dispatch_run_recorded(s, b, &b->v[i], now_ms);
    b->msg.handle = on_back;
    if (b->origin == s->id)
        on_back(s, &b->msg); /* no trip through our own mailbox */
    else
        shard_post(shard_group_get(server.group, b->origin), &b->msg);
}
