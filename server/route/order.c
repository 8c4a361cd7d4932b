/* order.c — program order across shards: a client's commands take effect
 * in the order it sent them, whichever shards own their keys
 * (docs/DESIGN.md, "Program order across shards"). A request for a key on
 * another shard runs when its batch arrives there, so a later command must
 * not overtake it. The requests a client sends while an earlier one is
 * still unexecuted form its unit (conn.ord_*):
 *   - all for one shard: they go out as today, in order through that
 *     shard's mailbox (or held on this one), and a later command for the
 *     same shard follows them at once;
 *   - for several shards within one loop turn: the unit becomes grouped.
 *     At the end of the turn every grouped request of this worker goes out
 *     as one transaction (txn_start_oneshot) that locks their keys on every
 *     shard before any runs, so no other client sees part of the unit
 *     before the rest: a pipeline spanning shards still costs one trip;
 *   - anything else (a request for another shard once the unit has left
 *     this turn, a multi-key command, EXEC) waits until the unit is back
 *     (CONN_ORDER_WAIT).
 * The connection's worker thread (dispatch.c calls in). */
#include "server/route/dispatch_internal.h"

#include <assert.h>
#include <stdlib.h>

#include "server/core/notify_classes.h"
#include "server/core/server.h"
#include "server/exec/cmd.h"
#include "server/net/conn.h"
#include "server/net/worker.h"
#include "server/txn/txn.h"
#include "server/util/log.h"

/* Pacing of a connection's unit (order_unit_max): about this many reply
 * bytes in flight (conn.c's CONN_OUT_SOFT), between ORDER_UNIT_MIN and
 * ORDER_UNIT_MAX requests (conn.c's CONN_MAX_WAITING), and
 * ORDER_UNIT_FIRST before any reply size is known (a client's first
 * pipeline of big values; a pipeline-64 client of small ones takes four
 * trips once, then 256 a unit). */
#define ORDER_UNIT_BYTES ((size_t)4 << 20)
#define ORDER_UNIT_MIN 4
#define ORDER_UNIT_MAX 256
#define ORDER_UNIT_FIRST 16

/* Most requests a unit may hold after one whose biggest reply was big
 * bytes. Its replies are made where its requests run, after the client's
 * parse loop has moved on, so they do not slow that loop down the way
 * replies made inline do: the biggest reply of c's last unit paces the
 * next one to about CONN_OUT_SOFT's worth (4 MB) in flight, and a client
 * whose replies are unknown yet gets ORDER_UNIT_FIRST (conn.ord_max 0).
 * Worked out once a unit, not per request: it divides. */
static unsigned order_unit_max(size_t big)
{
    size_t n = big ? ORDER_UNIT_BYTES / big : ORDER_UNIT_MAX;
    return n < ORDER_UNIT_MIN ? ORDER_UNIT_MIN : n > ORDER_UNIT_MAX ? ORDER_UNIT_MAX : (unsigned)n;
}

/* A request of c's unit is back (its reply, reply_len bytes, is in its
 * slot): the last one ends the unit and lets a waiting command go
 * (conn_inflight_done, which the caller calls next, schedules the parse). */
void order_done(struct conn *c, size_t reply_len)
{
    assert(c->ord_out > 0);
    if (reply_len > c->ord_big)
        c->ord_big = reply_len;
    if (--c->ord_out > 0)
        return;
    c->ord_max = order_unit_max(c->ord_big);
    c->ord_big = 0;
    c->ord_group = false;
    c->ord_sent = false;
    c->flags &= ~CONN_ORDER_WAIT;
}

/* Must a command for shard `shard` (keyed: it has a key there; else it
 * may touch anything) wait for c's unit? */
bool order_must_wait(const struct conn *c, bool keyed, unsigned shard)
{
    if (c->ord_out == 0)
        return false;
    if (!keyed || c->ord_out >= (c->ord_max ? c->ord_max : ORDER_UNIT_FIRST))
        return true;
    if (!c->ord_group && c->ord_shard == shard)
        return false; /* follows the unit through the same shard's FIFO */
    return c->ord_sent; /* else it joins, or makes, this turn's group */
}

/* Request r of c goes out with this turn's batches: remember it until the
 * end of the turn, when order_flush may have to group it. */
void order_track(struct worker *w, struct conn *c, struct req *r)
{
    r->ord_next = NULL;
    if (c->ord_last)
        c->ord_last->ord_next = r;
    else
        c->ord_first = r;
    c->ord_last = r;
    if (!c->ord_on_turn) {
        c->ord_on_turn = true;
        c->ord_turn_next = w->ord_turn;
        w->ord_turn = c;
    }
}

int order_lock_cmd(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                   const struct resp_arg *argv, const uint64_t *khash, unsigned shard)
{
    /* One key at a fixed place, hashed by routing already: lock it by that
     * hash; anything else by its key specs (and plan: a planned command,
     * such as MOVE, may lock more than its specs say). */
    if (!khash || (d->flags & (CMD_MULTIKEY | CMD_MOVABLE_KEYS)) || d->nkeyspecs != 1 ||
        d->last_key != d->first_key || d->plan)
        return dispatch_lock_keys(t, d, db, argc, argv);
    const struct resp_arg *k = &argv[d->first_key];
    return txn_lock_key_hashed(t, db, k->ptr, k->len, cmd_key_writes(d->keys[0].flags), *khash,
                               shard);
}

/* End of a loop turn, before the batches go: every unit batched this turn
 * has left once they do; the grouped ones mark their requests and go out
 * as one transaction over every key they touch. Without memory for it the
 * grouped requests are not run, and their clients get an error reply. */
void order_flush(struct worker *w)
{
    struct txn *t = NULL;
    bool oom = false;
    /* The group's requests for this shard, kept apart (group_local.c). */
    struct glocal *gl = group_local_seal(w);
    assert(!gl || w->ord_grouped);
    /* With keyspace events on, the group's worker publishes them, in its
     * clients' order (group_events.c), which it reads from their lists:
     * those are kept on `listed` until then. (Not in a turn whose
     * requests for this shard were routed while they were off, gl: then
     * they are published as the shards run the group.) */
    bool events = w->ord_grouped && !gl && notify_on();
    struct conn *listed = NULL;
    size_t ngrouped = 0;
    for (struct conn *c = w->ord_turn, *next; c; c = next) {
        next = c->ord_turn_next;
        c->ord_turn_next = NULL;
        c->ord_on_turn = false;
        for (struct req *r = c->ord_group ? c->ord_first : NULL; r; r = r->ord_next) {
            /* (A turn's grouped requests for this shard go one way only:
             * dispatch_route.) */
            assert(!gl || r->shard != w->id);
            struct batch *b = w->out[r->shard];
            if (!oom && !t)
                oom = !(t = txn_create());
            if (!oom)
                oom = order_lock_cmd(t, r->cmd, r->db, r->argc, r->argv,
                                     r->khashed ? &r->khash : NULL, r->shard) != 0;
            b->v[r->bidx].end = BENT_GROUPED;
            b->grouped = true;
            ngrouped++;
        }
        if (events && c->ord_group) {
            c->ord_turn_next = listed;
            listed = c;
        } else {
            c->ord_first = c->ord_last = NULL;
        }
        c->ord_sent = true;
    }
    w->ord_turn = NULL;
    if (gl && !oom) {
        if (!t)
            oom = !(t = txn_create());
        /* (Its part runs and completes the requests even if none locks
         * a key.) */
        if (!oom)
            oom = group_local_lock(t, gl, w->id) != 0 || txn_join(t, w->id) != 0;
    }
    if (!w->ord_grouped)
        return;
    w->ord_grouped = false;
    /* Stopping (worker_on_stop's last flush): its shards may have stopped,
     * and a group some of whose shards never run it would run in part.
     * Its clients are gone; it is not run at all, as if they had closed
     * first. */
    if (w->stopping && t) {
        txn_finish(t);
        t = NULL;
        oom = true;
    }
    struct group_events *grp = NULL;
    if (listed && !oom) {
        grp = group_events_prepare(w, ngrouped);
        if (!grp)
            log_warn("Out of memory ordering the keyspace events of a pipeline that spans "
                     "shards: they are published as its shards run it");
    }
    for (struct conn *c = listed, *next; c; c = next) {
        next = c->ord_turn_next;
        c->ord_turn_next = NULL;
        c->ord_first = c->ord_last = NULL;
    }
    if (!oom && !w->ord_args)
        oom = !(w->ord_args = calloc(server.nworkers, sizeof *w->ord_args));
    if (!oom) {
        for (unsigned i = 0; i < server.nworkers; i++)
            w->ord_args[i] = w->out[i] && w->out[i]->grouped ? w->out[i] : NULL;
        if (gl)
            w->ord_args[w->id] = gl; /* (out[w->id] is NULL then) */
        int rc = txn_start_oneshot_own(t, dispatch_group_exec,
                                       gl ? group_local_exec : dispatch_group_exec, w->ord_args,
                                       grp ? group_events_kept(grp) : NULL);
        t = NULL; /* consumed */
        if (rc == 0) {
            for (unsigned i = 0; i < server.nworkers; i++) {
                if (!w->ord_args[i] || (gl && i == w->id))
                    continue;
                w->out[i] = NULL; /* its shards run it, then post it back */
                worker_stat_add(&w->stats.batches_sent, 1);
            }
            return;
        }
    }
    if (t)
        txn_finish(t); /* never started: just freed */
    if (grp)
        group_events_cancel(w, grp);
    if (!w->stopping)
        log_warn("Out of memory scheduling a pipeline that spans shards: its commands fail");
    if (gl)
        group_local_fail(w, gl);
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct batch *b = w->out[i];
        if (!b || !b->grouped)
            continue;
        b->grouped = false;
        for (size_t j = 0; j < b->n; j++)
            if (b->v[j].end & BENT_GROUPED)
                b->v[j].end = BENT_OOM;
    }
}
