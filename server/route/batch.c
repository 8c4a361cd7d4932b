/* batch.c — a worker's requests for other shards travel in batches, one
 * mailbox message per destination and loop turn each way: sent at the end
 * of the turn (after program order groups them, order.c), run on the owner
 * thread (keys prefetched, a request that meets a transaction's lock held,
 * a lone reply sent straight to the socket), and back on the origin, where
 * each reply fills its client's slot in the order the client sent them.
 * A request is touched by its origin thread, then by the owner thread,
 * then by the origin again, with the mailbox ordering each hand-over. */
#include "server/route/dispatch.h"
#include "server/route/dispatch_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/hash.h"
#include "server/core/server.h"
#include "server/exec/cmdstats.h"
#include "server/net/conn.h"
#include "server/net/outbuf.h"
#include "server/net/reply_fifo.h"
#include "server/net/worker.h"
#include "server/txn/txn.h"

_Static_assert(CMDSTAT_NONE == REPLY_FIFO_STAT_NONE, "a slot's stat holds a cmdstats id");

/* Mark a waiting slot complete (its reply is in s->out). */
static void slot_complete(struct conn *c, struct slot *s)
{
    assert(!s->done);
    if (s->out.oom) {
        /* The owner ran out of memory mid-reply: send a whole error instead
         * of half a reply. */
        rbuf_deinit(&s->out);
        rbuf_init(&s->out);
        resp_error(&s->out, "ERR out of memory while building the reply");
    }
    s->done = true;
    c->nwaiting--;
    if (s->stat != CMDSTAT_NONE) {
        cmdstat_run_end(c->w->cmdstats, s->stat, s->stat_t0);
        cmdstat_reply(c->w, s->stat, s->out.ptr, s->out.len);
        s->stat = CMDSTAT_NONE;
    }
}

void dispatch_flush_batches(struct worker *w)
{
    if (w->ord_turn)
        order_flush(w);
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct batch *b = w->out[i];
        if (!b)
            continue;
        w->out[i] = NULL;
        if (b->n == 0) { /* its only request failed to be added */
            dispatch_batch_recycle(w, b);
            continue;
        }
        b->msg.handle = dispatch_on_batch_exec;
        shard_post(shard_group_get(server.group, i), &b->msg);
        worker_stat_add(&w->stats.batches_sent, 1);
    }
}

/* Owner side: ask for the cache lines of requests v[0..n): the struct's
 * first line and the argv array with the bytes after it. Their addresses
 * are known without loading anything, so the misses overlap. */
static void batch_prefetch_reqs(const struct bent *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *r = (const char *)v[i].r;
        __builtin_prefetch(r);
        __builtin_prefetch(r + sizeof(struct req));
        __builtin_prefetch(r + sizeof(struct req) + 64);
    }
}

/* Owner side: ask for the maps' cache lines of requests v[0..n), buckets
 * first, then entries, so that their misses overlap
 * (kvmap_prefetch_bucket). Only hints: a request that is not a plain
 * single-key command just wastes one. */
static void batch_prefetch_keys(struct shard *s, const struct bent *v, size_t n)
{
    uint64_t h[DISPATCH_PREFETCH];
    unsigned db[DISPATCH_PREFETCH];
    unsigned k = 0;
    for (size_t i = 0; i < n && k < DISPATCH_PREFETCH; i++) {
        const struct req *r = v[i].r;
        size_t kpos = r->cmd ? cmd_first_key(r->cmd, r->argc, r->argv) : 0;
        if (kpos == 0)
            continue;
        const struct resp_arg *key = &r->argv[kpos];
        h[k] = r->khashed ? r->khash : hash_key(key->ptr, key->len);
        db[k++] = r->db;
    }
    dispatch_prefetch_map(s, h, db, k);
}

void dispatch_prefetch_map(struct shard *s, const uint64_t *h, const unsigned *db, unsigned n)
{
    struct kvmap *m[DISPATCH_PREFETCH];
    assert(n <= DISPATCH_PREFETCH);
    for (unsigned i = 0; i < n; i++) {
        m[i] = shard_db(s, db[i]);
        kvmap_prefetch_bucket(m[i], h[i]);
    }
    for (unsigned i = 0; i < n; i++)
        kvmap_prefetch_entry(m[i], h[i]);
}

/* Owner side: send a direct request's reply, p[0..n), to its client now,
 * instead of after the round trip to the connection's worker: that hop,
 * waiting for a thread to be woken and scheduled, is most of a remote
 * request's latency when clients wait for each reply. Whatever the socket
 * does not take now (nothing, on EAGAIN or an error) the connection's
 * worker writes or handles as usual when the request is back. */
static void direct_send(struct shard *s, struct req *r, const char *p, size_t n)
{
    if (n == 0 || n > DISPATCH_DIRECT_MAX)
        return;
    ssize_t sent;
    do
        sent = send(r->direct_fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent <= 0)
        return;
    r->direct_sent = (size_t)sent;
    struct worker *w = s->user;
    worker_stat_add(&w->stats.net_out, (uint64_t)sent);
    worker_stat_add(&w->stats.writes, 1);
}

/* Owner side: r's reply, in its own buffer r->out, is big (outbuf.h):
 * count it for its connection while it travels back, or, when that is at
 * its output limit, drop it (the connection is closed before anything
 * after it is written; a fan-out part is marked oom, so its step fails). */
static void own_reply_count(struct shard *s, struct req *r)
{
    struct conn *c = r->fan ? r->fan->conn : r->conn;
    if (outbuf_produced(s->user, c, r->out.len)) {
        r->ob_counted = r->out.len;
        return;
    }
    rbuf_deinit(&r->out); /* now, not when it is back: the memory is the point */
    r->out.oom = r->fan != NULL;
}

void dispatch_reply_made(struct shard *s, struct req *r)
{
    if (r->fan && !r->out.oom && outbuf_big(r->out.len))
        own_reply_count(s, r);
}

/* Owner side: a big reply just written to b->out from start moves to
 * r->out, so that a batch never holds more than one (a pipeline of 1 MB
 * GETs would otherwise fill one buffer with 256 of them) and the origin
 * adopts it as its slot's buffer without copying it. Taking the whole
 * buffer when the reply is all it holds, as in a stream of big replies,
 * costs no copy here either. */
static inline __attribute__((always_inline)) void
single_own_reply(struct shard *s, struct batch *b, struct bent *e, size_t start)
{
    struct req *r = e->r;
    size_t n = b->out.len - start;
    if (start == 0) {
        struct rbuf t = r->out;
        r->out = b->out;
        b->out = t;
    } else {
        r->out.len = 0;
        if (rbuf_append(&r->out, b->out.ptr + start, n) != 0) {
            r->out.oom = false; /* (recycled, not used: the entry says oom) */
            b->out.len = start;
            e->end = start | BENT_OOM;
            return;
        }
    }
    b->out.len = start;
    e->end = start | BENT_OWN;
    own_reply_count(s, r);
}

/* Owner side: run single request r of batch b into b->out and record
 * where its reply ends in e. With events, its keyspace events are
 * recorded there for its origin to publish (group_events.c), and the
 * reply, which must follow them, is never sent directly. */
static inline __attribute__((always_inline)) void
run_single(struct shard *s, struct batch *b, struct bent *e, int64_t now_ms, struct rbuf *events)
{
    struct req *r = e->r;
    size_t start = b->out.len;
    if (r->khashed)
        remember_key_hash(r->cmd, r->argc, r->argv, r->khash);
    if (events)
        run_exec_events(s, r->cmd, r->exec, r->db, r->proto, r->argc, r->argv, &b->out, now_ms,
                        r, r->conn, events);
    else
        run_exec(s, r->cmd, r->exec, r->db, r->proto, r->argc, r->argv, &b->out, now_ms, r,
                 r->conn);
    hash_key_forget();
    if (b->out.oom) {
        /* Drop the partial reply; the next request starts clean. */
        b->out.len = start;
        b->out.oom = false;
        e->end = start | BENT_OOM;
    } else {
        e->end = b->out.len;
    }
    const char *reply = b->out.ptr ? b->out.ptr + start : NULL;
    if (!events && r->direct_fd >= 0 && !(e->end & BENT_OOM))
        direct_send(s, r, reply, b->out.len - start);
    if (!(e->end & BENT_OOM) && outbuf_big(b->out.len - start))
        single_own_reply(s, b, e, start); /* (never sent directly) */
}

static void batch_run_single(struct shard *s, struct batch *b, struct bent *e, int64_t now_ms)
{
    run_single(s, b, e, now_ms, NULL);
}

/* Owner side: execute every request of b with one clock reading, send it
 * back. */
static void batch_exec(struct shard *s, struct batch *b)
{
    int64_t now_ms = clock_wall_ms();
    s->ctr.batches++;
    /* A batch this thread made itself (a group's local part) is in its
     * cache, and its keys were asked for when the commands were parsed. */
    bool own = b->origin == s->id;
    if (!own)
        batch_prefetch_reqs(b->v, b->n < DISPATCH_PREFETCH ? b->n : DISPATCH_PREFETCH);
    for (size_t i = 0; i < b->n; i++) {
        if (!own && i % DISPATCH_PREFETCH == 0) {
            /* The requests of the round after this one, then the map
             * lines of this one (whose requests are cached by now). */
            size_t next = i + DISPATCH_PREFETCH;
            if (next < b->n)
                batch_prefetch_reqs(b->v + next, b->n - next < DISPATCH_PREFETCH
                                                     ? b->n - next
                                                     : DISPATCH_PREFETCH);
            batch_prefetch_keys(s, b->v + i, b->n - i);
        }
        struct bent *e = &b->v[i];
        struct req *r = e->r;
        if (e->end & BENT_OOM) {
            /* Its group could not be scheduled: not run (order_flush). */
            e->end = b->out.len | BENT_OOM;
            continue;
        }
        /* A command on a key a transaction holds waits for it (txn.h);
         * the batch goes back when its last held request has run. A
         * grouped request runs now: its group holds its keys' locks. */
        bool grouped = e->end & BENT_GROUPED;
        if (r->cmd && !grouped &&
            !txn_may_run(s, r->cmd, r->db, r->argc, r->argv, r->conn,
                         r->khashed ? &r->khash : NULL)) {
            e->end = b->out.len | BENT_HELD;
            b->held++;
            txn_hold(s, r, b);
            continue;
        }
        if (r->fan) {
            run_exec(s, NULL, r->exec, r->db, r->proto, r->argc, r->argv, &r->out, now_ms, r, r->conn);
            if (outbuf_big(r->out.len))
                own_reply_count(s, r);
            e->end = b->out.len;
            continue;
        }
        batch_run_single(s, b, e, now_ms);
    }
    if (b->held > 0)
        return;
    if (own) {
        dispatch_on_batch_done(s, &b->msg); /* no trip through our own mailbox */
        return;
    }
    b->msg.handle = dispatch_on_batch_done;
    shard_post(shard_group_get(server.group, b->origin), &b->msg);
}

void dispatch_on_batch_exec(void *owner, struct mbox_msg *m)
{
    batch_exec(owner, (struct batch *)m);
}

/* A grouped batch's turn (txn_start_oneshot): every shard of its group
 * holds the group's locks. arg is NULL on a shard whose locks the group
 * took without sending it requests. A group whose events its worker
 * publishes (b->grp) runs in group_events.c. */
void dispatch_group_exec(struct shard *s, void *arg)
{
    struct batch *b = arg;
    if (b && b->grp)
        group_events_run(s, b);
    else if (b)
        batch_exec(s, b);
}

void dispatch_held_run(struct shard *s, struct req *r, void *ctx)
{
    run_exec(s, r->cmd, r->exec, r->db, r->proto, r->argc, r->argv, &r->out, clock_wall_ms(), r, r->conn);
    dispatch_held_reply(s, r, ctx);
}

void dispatch_held_reply(struct shard *s, struct req *r, void *ctx)
{
    struct batch *b = ctx;
    if (b) {
        if (!r->out.oom && outbuf_big(r->out.len))
            own_reply_count(s, r);
        if (r->direct_fd >= 0 && !r->out.oom)
            direct_send(s, r, r->out.ptr, r->out.len);
        if (--b->held == 0) {
            b->msg.handle = dispatch_on_batch_done;
            shard_post(shard_group_get(server.group, b->origin), &b->msg);
        }
        return;
    }
    /* Held on the connection's own shard: complete its slot here. */
    struct conn *c = r->conn;
    struct slot *sl = r->slot;
    size_t reply_len = r->out.len;
    if (sl->out.len == 0) {
        struct rbuf empty = sl->out;
        sl->out = r->out;
        r->out = empty;
    } else if (r->out.oom || rbuf_append(&sl->out, r->out.ptr, r->out.len) != 0) {
        sl->out.oom = true; /* (after frames of its own keyspace events) */
    }
    dispatch_req_free(s->user, r);
    dispatch_slot_done(c, sl, reply_len);
}

void dispatch_slot_complete(struct conn *c, struct slot *sl)
{
    slot_complete(c, sl);
}

void dispatch_slot_done(struct conn *c, struct slot *sl, size_t reply_len)
{
    slot_complete(c, sl);
    order_done(c, reply_len);
    conn_inflight_done(c);
}

/* Origin side: single request r is back with its reply in p[0..n), or in
 * own (r->out: the slot adopts its buffer, no copy), or (oom) without one:
 * put the reply in its slot and complete it. The whole reply goes in, so
 * that slot_complete judges it (INFO commandstats); the bytes its owner
 * already sent directly are dropped after that, and the connection may
 * write (or close) again. A closed connection's replies are dropped. */
static void single_done(struct worker *w, struct req *r, struct rbuf *own, const char *p,
                        size_t n, bool oom)
{
    struct conn *c = r->conn;
    struct slot *sl = r->slot;
    size_t reply_len = own ? own->len : n;
    outbuf_landed(c, r->ob_counted);
    if (own) {
        p = own->ptr;
        n = own->len;
        if (sl->out.len == 0 && !oom && !(c->flags & CONN_CLOSING)) {
            struct rbuf t = sl->out;
            sl->out = *own;
            *own = t;
            n = 0; /* in place */
        }
    }
    bool whole = !oom && !(c->flags & CONN_CLOSING) &&
                 (n == 0 || rbuf_append(&sl->out, p, n) == 0);
    if (oom)
        sl->out.oom = true; /* slot_complete sends an error instead */
    slot_complete(c, sl);
    if (r->direct_fd >= 0) {
        /* (The owner sends only whole replies, never an oom one.) */
        c->net_out += r->direct_sent;
        if (r->direct_sent > 0 && whole) {
            /* The reply is the slot's last reply_len bytes: frames of its
             * own keyspace events may be before it, if the client
             * subscribed while the request was out (then they follow
             * the reply on the wire). */
            size_t at = sl->out.len - reply_len;
            memmove(sl->out.ptr + at, sl->out.ptr + at + r->direct_sent,
                    sl->out.len - at - r->direct_sent);
            sl->out.len -= r->direct_sent;
        }
        conn_direct_done(c);
    }
    dispatch_req_free(w, r);
    order_done(c, reply_len);
    conn_inflight_done(c);
}

/* Origin side: fill the slots in the order the requests were made. The
 * replies are copied out of the batch into the slots' own buffers, which
 * stay on this thread, so the socket writes read local memory. */
void dispatch_on_batch_done(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    struct worker *w = s->user;
    struct batch *b = (struct batch *)m;
    w->now_ms = clock_wall_ms();
    size_t start = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct req *r = b->v[i].r;
        size_t end = b->v[i].end;
        size_t off = end & ~BENT_FLAGS;
        if (r->fan) {
            outbuf_landed(r->fan->conn, r->ob_counted);
            dispatch_fan_part_done(r->fan); /* the fan frees its parts */
        } else if (end & (BENT_HELD | BENT_OWN)) {
            /* Ran later, or too big for the batch: in its own buffer. */
            single_done(w, r, &r->out, NULL, 0, r->out.oom);
        } else {
            const char *p = b->out.ptr ? b->out.ptr + start : NULL;
            single_done(w, r, NULL, p, off - start, end & BENT_OOM);
        }
        start = off;
    }
    dispatch_batch_recycle(w, b);
}

void dispatch_batch_send(struct worker *w, unsigned shard, struct batch *b)
{
    b->msg.handle = dispatch_on_batch_exec;
    shard_post(shard_group_get(server.group, shard), &b->msg);
    worker_stat_add(&w->stats.batches_sent, 1);
}

void dispatch_batch_done(struct shard *s, struct batch *b)
{
    dispatch_on_batch_done(s, &b->msg);
}

void dispatch_run_recorded(struct shard *s, struct batch *b, struct bent *e, int64_t now_ms)
{
    run_single(s, b, e, now_ms, &e->r->events);
}

