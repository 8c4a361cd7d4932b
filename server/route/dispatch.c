/* dispatch.c — routing parsed commands to the shard that owns their key,
 * per-turn request batches (one mailbox message per destination each way)
 * and executing them on the owner thread; the client's program order is
 * order.c's, the fan-out engine for multi-shard commands fan.c's. Runs on
 * worker threads; a request is touched by its origin thread, then by the
 * owner thread, then by the origin again, with the mailbox ordering each
 * hand-over. */
#include "server/route/dispatch.h"
#include "server/route/dispatch_internal.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/hash.h"
#include "server/exec/cmdhist.h"
#include "server/exec/cmdstats.h"
#include "server/exec/slowlog.h"
#include "server/net/conn.h"
#include "server/util/log.h"
#include "server/net/outbuf.h"
#include "server/net/reply_fifo.h"
#include "server/core/notify_classes.h"
#include "server/core/server.h"
#include "server/txn/txn.h"
#include "server/net/worker.h"

/* The start of the split command being dispatched on this thread, for
 * the first fan it creates (its own; later ones are sub-fans). */
static _Thread_local uint64_t split_t0;

/* What the owner reads of a single request fits one cache line (dispatch.h). */
_Static_assert(sizeof(void *) != 8 || offsetof(struct req, next) <= 64,
               "struct req: the owner's fields spill out of the first cache line");

/* Never set: what writes_maybe_denied points to when nobody refuses
 * writes, so the check per command is two loads and no test. */
static const _Atomic bool never_denied;

/* The interceptions of the layers above (dispatch_set_hooks). */
static struct dispatch_hooks hooks = {.writes_maybe_denied = &never_denied};

void dispatch_set_hooks(const struct dispatch_hooks *h)
{
    hooks = *h;
    if (!hooks.writes_maybe_denied)
        hooks.writes_maybe_denied = &never_denied;
}

static void on_batch_exec(void *owner, struct mbox_msg *m);
static void on_batch_done(void *owner, struct mbox_msg *m);

_Static_assert(CMDSTAT_NONE == REPLY_FIFO_STAT_NONE, "a slot's stat holds a cmdstats id");

/* Free requests kept per worker: as many as slots (net/reply_fifo.h),
 * since every slot in flight may have its request. */
#define DISPATCH_POOL_MAX REPLY_FIFO_POOL_MAX
/* Batches kept for reuse per worker (a few per destination are in flight),
 * and the reply bytes and entries a kept batch keeps allocated. */
#define DISPATCH_BATCH_POOL_MAX 64
#define DISPATCH_BATCH_KEEP_BYTES ((size_t)64 * 1024)
#define DISPATCH_BATCH_KEEP_ENTRIES 4096
/* Size of a pooled request block: the struct, the argv array and the
 * argument bytes. 512 bytes holds a SET with a key and value of some 250
 * bytes together; bigger requests are allocated to measure. */
#define DISPATCH_REQ_BLOCK 512

static void batch_free(struct batch *b)
{
    rbuf_deinit(&b->out);
    free(b->v);
    free(b);
}

/* A batch is back on its origin, w: keep it for reuse, or free it. */
static void batch_recycle(struct worker *w, struct batch *b)
{
    if (w->stopping || w->nbatch_pool >= DISPATCH_BATCH_POOL_MAX) {
        batch_free(b);
        return;
    }
    if (b->out.cap > DISPATCH_BATCH_KEEP_BYTES || b->out.oom)
        rbuf_deinit(&b->out);
    b->out.len = 0;
    if (b->cap > DISPATCH_BATCH_KEEP_ENTRIES) {
        free(b->v);
        b->v = NULL;
        b->cap = 0;
    }
    b->pool_next = w->batch_pool;
    w->batch_pool = b;
    w->nbatch_pool++;
}

void dispatch_pool_drain(struct worker *w)
{
    while (w->req_pool) {
        struct req *r = w->req_pool;
        w->req_pool = r->next;
        rbuf_deinit(&r->out);
        free(r);
    }
    w->nreq_pool = 0;
    while (w->batch_pool) {
        struct batch *b = w->batch_pool;
        w->batch_pool = b->pool_next;
        batch_free(b);
    }
    w->nbatch_pool = 0;
}

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

/* ---- Requests ----------------------------------------------------------- */

/* A freshly allocated (not pooled) request block of `bytes` bytes with its
 * header zeroed, an empty reply buffer, and room for argc views after the
 * struct. NULL on out-of-memory. */
static struct req *req_alloc(size_t bytes, size_t argc)
{
    struct req *r = malloc(bytes);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    rbuf_init(&r->out);
    r->direct_fd = -1;
    r->argc = argc;
    r->argv = (struct resp_arg *)(r + 1);
    return r;
}

/* A request with a private copy of argv (array and bytes in one block),
 * made on worker w's thread and freed there (req_free). Small ones come
 * from w's free list with their reply buffer's allocation kept. */
static struct req *req_new(struct worker *w, size_t argc, const struct resp_arg *argv)
{
    size_t bytes = 0;
    for (size_t i = 0; i < argc; i++)
        bytes += argv[i].len;
    size_t head = sizeof(struct req) + argc * sizeof(struct resp_arg);
    if (bytes > SIZE_MAX - head)
        return NULL;
    struct req *r;
    if (head + bytes <= DISPATCH_REQ_BLOCK) {
        r = w->req_pool;
        struct rbuf keep;
        if (r) {
            w->req_pool = r->next;
            w->nreq_pool--;
            keep = r->out;
        } else {
            r = malloc(DISPATCH_REQ_BLOCK);
            if (!r)
                return NULL;
            rbuf_init(&keep);
        }
        memset(r, 0, sizeof *r);
        r->out = keep;
        r->pooled = true;
        r->direct_fd = -1;
        r->argc = argc;
        r->argv = (struct resp_arg *)(r + 1);
    } else {
        r = req_alloc(head + bytes, argc);
        if (!r)
            return NULL;
    }
    char *p = (char *)(r->argv + argc);
    for (size_t i = 0; i < argc; i++) {
        if (argv[i].len)
            memcpy(p, argv[i].ptr, argv[i].len);
        r->argv[i].ptr = p;
        r->argv[i].len = argv[i].len;
        p += argv[i].len;
    }
    return r;
}

/* req_new for command argv of c, routed to another shard: when c lends
 * its read buffer (a big SET that ends the input), argv stays there and
 * only the views are copied, so the value is copied once, into the map,
 * on its owner's thread, and c's thread is not held up meanwhile. */
static struct req *req_new_routed(struct conn *c, size_t argc, const struct resp_arg *argv)
{
    size_t bytes = 0;
    for (size_t i = 0; i < argc; i++)
        bytes += argv[i].len;
    char *lent = conn_take_ibuf(c, bytes);
    if (!lent)
        return req_new(c->w, argc, argv);
    struct req *r = req_alloc(sizeof *r + argc * sizeof(struct resp_arg), argc);
    if (!r) {
        free(lent);
        return NULL;
    }
    memcpy(r->argv, argv, argc * sizeof *argv);
    r->lent = lent;
    return r;
}

/* Free a request made by req_new on w (the calling thread's worker). */
static void req_free(struct worker *w, struct req *r)
{
    free(r->ends);
    free(r->lent);
    rbuf_deinit(&r->events);
    if (r->pooled && !w->stopping && w->nreq_pool < DISPATCH_POOL_MAX) {
        reply_fifo_buf_recycle(&r->out);
        r->next = w->req_pool;
        w->req_pool = r;
        w->nreq_pool++;
        return;
    }
    rbuf_deinit(&r->out);
    free(r);
}

/* ---- Batches ------------------------------------------------------------ */

/* An empty batch of w's, from its free list or new. NULL on OOM. */
static struct batch *batch_get(struct worker *w)
{
    struct batch *b = w->batch_pool;
    if (b) {
        w->batch_pool = b->pool_next;
        w->nbatch_pool--;
    } else {
        b = calloc(1, sizeof *b);
        if (!b)
            return NULL;
        rbuf_init(&b->out);
    }
    b->origin = w->id;
    b->held = 0;
    b->n = 0;
    b->grouped = false;
    return b;
}

static int batch_add(struct worker *w, unsigned shard, struct req *r)
{
    struct batch *b = w->out[shard];
    if (!b) {
        b = batch_get(w);
        if (!b)
            return -1;
        w->out[shard] = b;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct bent *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return -1; /* b stays queued with what it had */
        b->v = v;
        b->cap = cap;
    }
    r->shard = shard;
    r->bidx = b->n;
    b->v[b->n].r = r;
    b->v[b->n++].end = 0;
    return 0;
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
            batch_recycle(w, b);
            continue;
        }
        b->msg.handle = on_batch_exec;
        shard_post(shard_group_get(server.group, i), &b->msg);
        atomic_fetch_add_explicit(&w->stats.batches_sent, 1, memory_order_relaxed);
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
    struct kvmap *db[DISPATCH_PREFETCH];
    unsigned k = 0;
    for (size_t i = 0; i < n && k < DISPATCH_PREFETCH; i++) {
        const struct req *r = v[i].r;
        size_t kpos = r->cmd ? cmd_first_key(r->cmd, r->argc, r->argv) : 0;
        if (kpos == 0)
            continue;
        const struct resp_arg *key = &r->argv[kpos];
        h[k] = r->khashed ? r->khash : hash_key(key->ptr, key->len);
        db[k] = shard_db(s, r->db);
        kvmap_prefetch_bucket(db[k], h[k]);
        k++;
    }
    for (unsigned i = 0; i < k; i++)
        kvmap_prefetch_entry(db[i], h[i]);
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
    atomic_fetch_add_explicit(&w->stats.net_out, (uint64_t)sent, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->stats.writes, 1, memory_order_relaxed);
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

/* The command's key (its first) was hashed to route it: the map need not
 * hash it again while the command runs (hash_key_remember; forgotten right
 * after, before the bytes can change). */
static inline void remember_key_hash(const struct cmd_def *d, size_t argc,
                                     const struct resp_arg *argv, uint64_t h)
{
    size_t k = cmd_first_key(d, argc, argv);
    if (k > 0)
        hash_key_remember(argv[k].ptr, argv[k].len, h);
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
        on_batch_done(s, &b->msg); /* no trip through our own mailbox */
        return;
    }
    b->msg.handle = on_batch_done;
    shard_post(shard_group_get(server.group, b->origin), &b->msg);
}

static void on_batch_exec(void *owner, struct mbox_msg *m)
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
    struct batch *b = ctx;
    if (b) {
        if (!r->out.oom && outbuf_big(r->out.len))
            own_reply_count(s, r);
        if (r->direct_fd >= 0 && !r->out.oom)
            direct_send(s, r, r->out.ptr, r->out.len);
        if (--b->held == 0) {
            b->msg.handle = on_batch_done;
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
    slot_complete(c, sl);
    req_free(s->user, r);
    order_done(c, reply_len);
    conn_inflight_done(c);
}

void dispatch_slot_complete(struct conn *c, struct slot *sl)
{
    slot_complete(c, sl);
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
    req_free(w, r);
    order_done(c, reply_len);
    conn_inflight_done(c);
}

/* Origin side: fill the slots in the order the requests were made. The
 * replies are copied out of the batch into the slots' own buffers, which
 * stay on this thread, so the socket writes read local memory. */
static void on_batch_done(void *owner, struct mbox_msg *m)
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
    batch_recycle(w, b);
}

/* ---- Commands ----------------------------------------------------------- */

/* Redis 7's reply for an unknown command: the name and the first arguments,
 * quoted, at most 128 bytes each way, C-string semantics (an argument ends
 * at its first NUL byte, as Redis's "%.*s" does), CR/LF made spaces. */
void dispatch_reply_unknown(struct rbuf *out, size_t argc, const struct resp_arg *argv)
{
    char args[160 + 4];
    size_t al = 0;
    args[0] = '\0';
    for (size_t i = 1; i < argc && al < 128; i++) {
        size_t room = 128 - al;
        size_t n = strnlen(argv[i].ptr, argv[i].len);
        if (n > room)
            n = room;
        args[al++] = '\'';
        memcpy(args + al, argv[i].ptr, n);
        al += n;
        args[al++] = '\'';
        args[al++] = ' ';
    }
    args[al] = '\0';
    size_t nl = strnlen(argv[0].ptr, argv[0].len);
    if (nl > 128)
        nl = 128;
    char msg[512];
    int n = snprintf(msg, sizeof msg, "ERR unknown command '%.*s', with args beginning with: %s",
                     (int)nl, argv[0].ptr, args);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    for (size_t i = 0; i < len; i++)
        if (msg[i] == '\r' || msg[i] == '\n')
            msg[i] = ' ';
    msg[len] = '\0';
    resp_error(out, msg);
}

void dispatch_route(struct conn *c, const struct cmd_def *d, unsigned shard, cmd_exec_fn exec,
                    size_t argc, const struct resp_arg *argv, uint16_t sid,
                    const uint64_t *khash)
{
    struct worker *w = c->w;
    /* Local, nothing of the client unexecuted anywhere (program order), and
     * not behind a transaction's intent lock: run it inline. (A multi-key
     * command of the client still out holds its later commands back:
     * cmd_multi_plan_fan's barrier.) */
    bool here = shard == w->id;
    if (here && c->ord_out == 0 &&
        txn_may_run(w->shard, d, c->db, argc, argv, c, khash)) {
        struct rbuf *out = reply_fifo_buf(c);
        if (!out) {
            conn_close(c);
            return;
        }
        size_t before = out->len;
        if (khash)
            remember_key_hash(d, argc, argv, *khash);
        run_exec(w->shard, d, exec, c->db, c->proto, argc, argv, out, w->now_ms, NULL, c);
        hash_key_forget();
        if (sid != CMDSTAT_NONE) {
            cmdstat_call(w->cmdstats, sid);
            cmdstat_reply(w, sid, out->ptr + before, out->len - before);
        }
        outbuf_local(c, out->len - before);
        return;
    }
    /* The request joins the client's unit (see "Program order" above; the
     * caller has made sure it may: order_must_wait). */
    if (c->ord_out == 0)
        c->ord_shard = shard;
    else if (c->ord_shard != shard && !c->ord_group) {
        assert(!c->ord_sent);
        c->ord_group = true;
        w->ord_grouped = true;
    }
    /* Held on this shard, not batched to it: a plain unit here. */
    bool hold = here && !c->ord_group;
    struct req *r = req_new_routed(c, argc, argv);
    struct slot *sl = r ? reply_fifo_slot_new(c) : NULL;
    if (!sl || (!hold && batch_add(w, shard, r) != 0)) {
        if (sl)
            slot_complete(c, sl); /* empty, and the conn closes anyway */
        if (r)
            req_free(w, r);
        log_warn("Closing client id=%llu addr=%s: out of memory queueing a request",
                 (unsigned long long)c->id, c->addr);
        conn_close(c);
        return;
    }
    r->conn = c;
    r->slot = sl;
    sl->stat = sid; /* slot_complete counts a failure */
    cmdstat_call(w->cmdstats, sid);
    r->cmd = d;
    r->exec = exec;
    r->db = c->db;
    r->proto = c->proto;
    r->khashed = khash != NULL;
    if (khash)
        r->khash = *khash;
    c->inflight++;
    c->ord_out++;
    /* A request with no key of its own (or one for every shard) cannot
     * be locked as part of a group: nothing may join its unit. */
    if (hold || cmd_first_key(d, argc, argv) == 0 || (d->flags & CMD_ALLSHARDS))
        c->ord_sent = true;
    /* Alone in the FIFO with nothing being written: nothing can be sent
     * before this reply, so its owner may send it (direct_send). Only for
     * a client that sent just this command: behind it, the rest of a
     * pipeline would be written separately, one more write for nothing. */
    if (!here && c->lone_cmd && c->head == sl && c->nwrites == 0 && !conn_is_closing(c) &&
        !c->ps) /* (frames of its own keyspace events go before the reply) */
        r->direct_fd = conn_direct_begin(c);
    if (hold) {
        r->shard = shard;
        txn_hold(w->shard, r, NULL); /* dispatch_held_run completes it */
        return;
    }
    order_track(w, c, r);
}

/* Is p[0..n) the name of d, ASCII case-insensitively? d->name is lower case. */
static bool same_cmd_name(const struct cmd_def *d, const char *p, size_t n)
{
    const char *name = d->name;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + ('a' - 'A'));
        if (name[i] == '\0' || name[i] != ch)
            return false;
    }
    return name[n] == '\0';
}

/* Commandstats for a command just dispatched on c, whose reply begins after
 * byte tail_len of slot tail (NULL: at the FIFO's head): an error already
 * there counts as failed now; a reply still to come is tagged, and
 * slot_complete counts it. t0: the run's start if timed until its reply. */
static void reply_note_stat(struct conn *c, struct slot *tail, size_t tail_len, uint16_t sid,
                            uint64_t t0)
{
    if (c->flags & CONN_CLOSING)
        return; /* (a closed connection's slots are gone) */
    struct slot *s = tail ? tail : c->head;
    size_t off = tail ? tail_len : 0;
    if (s && s == tail && s->out.len == off) {
        s = s->next; /* nothing went into the old tail: a slot of its own */
        off = 0;
    }
    if (s && !s->done) {
        s->stat = sid;
        s->stat_t0 = t0;
        return;
    }
    cmdstat_run_end(c->w->cmdstats, sid, t0);
    if (s && s->out.len > off)
        cmdstat_reply(c->w, sid, s->out.ptr + off, s->out.len - off);
}

/* Refuse d for a subscribed RESP2 client if Redis would (cmd_pubsub.h),
 * counting it as Redis's rejectCommand does. Returns true if refused. */
static bool pubsub_reject(struct conn *c, const struct cmd_def *d, size_t argc,
                              const struct resp_arg *argv, uint16_t sid)
{
    struct rbuf err;
    rbuf_init(&err);
    if (!hooks.pubsub_refuses || !hooks.pubsub_refuses(c, d, argc, argv, &err))
        return false;
    struct rbuf *out = reply_fifo_buf(c);
    if (!out || err.oom) {
        rbuf_deinit(&err);
        conn_close(c);
        return true;
    }
    rbuf_append(out, err.ptr, err.len);
    cmdstat_reject(c->w->cmdstats, sid);
    errstat_reply(c->w->errstats, err.ptr, err.len);
    rbuf_deinit(&err);
    if (c->txc)
        hooks.flag_error(c);
    return true;
}

/* Must d be refused because writes are (persistence's MISCONF)? One
 * relaxed load while saves succeed. */
static inline bool writes_denied(const struct cmd_def *d)
{
    return atomic_load_explicit(hooks.writes_maybe_denied, memory_order_relaxed) &&
           hooks.writes_denied(d);
}

/* Is d refused with -BUSY? While a script runs past busy-reply-threshold,
 * on any worker, every command but the allow-busy ones is, as Redis
 * refuses them to every client, but the script's own client's: Redis does
 * not read that one until the script ends, so its commands wait (behind
 * the EVAL, in program order). On the busy thread itself (its hook
 * answering the clients, worker_serve_busy) WATCH is refused too: it
 * would visit the shard whose script is still on the stack. */
static bool busy_refused(const struct conn *c, const struct worker *w, const struct cmd_def *d)
{
    if (atomic_load_explicit(&server.busy_scripts, memory_order_relaxed) == 0)
        return false;
    if (hooks.busy_origin && hooks.busy_origin(c))
        return false;
    /* EXEC aborts its transaction instead (Redis's rejectCommand on EXEC),
     * in exec_exec, which touches no shard then. */
    if (strcmp(d->name, "exec") == 0)
        return false;
    if (!(d->flags & CMD_ALLOW_BUSY))
        return true;
    return w->serving_busy && (d->flags & CMD_AFTER_PRIOR); /* WATCH */
}


/* mailbox_sweep's offer while a script on this thread is busy: a batch
 * of single requests, each of which dispatch would refuse with -BUSY now
 * (busy_refused; EXEC is never routed alone), is answered so without
 * running, and goes back. It was posted before the threshold passed: Redis
 * would answer it -BUSY too. A batch with anything else (a fan-out part, a
 * group's request, an allow-busy command, a command of a busy script's
 * own client) waits for the script's end. */
static bool busy_take(void *owner, struct mbox_msg *m, void *arg)
{
    (void)arg;
    struct shard *s = owner;
    struct batch *b = (struct batch *)m;
    if (m->handle != on_batch_exec || b->grouped || b->held || b->out.len)
        return false;
    for (size_t i = 0; i < b->n; i++) {
        const struct req *r = b->v[i].r;
        if (r->fan || (b->v[i].end & BENT_FLAGS) || !r->cmd ||
            (r->cmd->flags & CMD_ALLOW_BUSY) || (hooks.busy_origin && hooks.busy_origin(r->conn)))
            return false;
    }
    for (size_t i = 0; i < b->n; i++) {
        struct req *r = b->v[i].r;
        r->out.len = 0;
        resp_error(&r->out, server_busy_error()); /* (out of memory: the origin says so) */
        b->v[i].end = BENT_OWN;          /* in r->out; b->out stays empty */
    }
    s->ctr.batches++;
    b->msg.handle = on_batch_done;
    shard_post(shard_group_get(server.group, b->origin), &b->msg);
    return true;
}

void dispatch_busy_answer(struct shard *s)
{
    if (atomic_load_explicit(&server.busy_scripts, memory_order_relaxed) > 0)
        mailbox_sweep(&s->mbox, busy_take, NULL);
}

/* Count a keyed command of c for `shard` in the run of commands for one
 * other shard that moves c there once it is long enough (conn_move). */
static inline void move_note(struct conn *c, unsigned shard)
{
    if (shard == c->w->id) {
        c->mv_run = 0;
        return;
    }
    if (c->mv_shard != shard) {
        c->mv_shard = shard;
        c->mv_run = 0;
    }
    c->mv_run++;
}

bool dispatch_command(struct conn *c, size_t argc, const struct resp_arg *argv)
{
    return dispatch_command_hashed(c, argc, argv, NULL);
}

bool dispatch_command_hashed(struct conn *c, size_t argc, const struct resp_arg *argv,
                             const uint64_t *key1_hash)
{
    struct worker *w = c->w;
    /* A subscriber's reply comes after every message published before it
     * sent the command (Redis writes a message into every subscriber's
     * output before PUBLISH returns). */
    if (__builtin_expect(c->ps != NULL, 0) && hooks.pubsub_catch_up)
        hooks.pubsub_catch_up(w);
    /* Pipelines repeat one command: checking the client's previous one
     * first skips the table's hashing for most commands. */
    const struct cmd_def *d = c->last_cmd, *container = NULL;
    if (!d || d->nsubs || !same_cmd_name(d, argv[0].ptr, argv[0].len))
        d = cmd_lookup_argv(argc, argv, &container); /* "CONFIG GET": config|get */
    bool misconf = false; /* a write after a failed save (server/persist/persist.h) */
    bool busy = false;    /* a script is busy (busy_refused) */
    bool refused = !d || !cmd_arity_ok(d, argc) ||
                   (!c->authenticated && !(d->flags & CMD_NOAUTH) && worker_requirepass()) ||
                   (misconf = writes_denied(d)) || (busy = busy_refused(c, w, d));
    /* A single-key command's shard; a keyless one runs on this worker's. */
    bool single = !refused && !(d->flags & (CMD_CONN | CMD_MULTIKEY | CMD_ALLSHARDS));
    size_t kpos = single ? cmd_first_key(d, argc, argv) : 0;
    bool keyed = kpos > 0;
    unsigned shard = w->id;
    uint64_t khash = 0;
    if (keyed) {
        const struct resp_arg *k = &argv[kpos];
        khash = key1_hash && kpos == 1 ? *key1_hash : hash_key(k->ptr, k->len);
        shard = shard_group_route_hash(server.group, khash);
    }
    /* Program order: what may touch data waits for the client's unit
     * unless it can follow or join it. Connection commands touch none,
     * but those flagged CMD_AFTER_PRIOR (EXEC, WATCH, SAVE) read or write
     * across shards. Commands queued by MULTI run later, in EXEC. A
     * multi-key command (a script) whose keys are all on one shard runs
     * there whole, so it follows or joins the unit as a single-key
     * command would. */
    int home = -1;
    if (c->ord_out > 0 && !refused &&
        ((d->flags & CMD_CONN) ? (d->flags & CMD_AFTER_PRIOR)
                               : !(c->txc && hooks.in_multi(c)))) {
        if (!single && !(d->flags & CMD_CONN) && hooks.multi_home &&
            (home = hooks.multi_home(c, d, argc, argv)) >= 0) {
            keyed = true;
            shard = (unsigned)home;
        }
        if (order_must_wait(c, keyed, shard)) {
            c->flags |= CONN_ORDER_WAIT;
            return false;
        }
    }
    c->ncmds++;
    atomic_fetch_add_explicit(&w->stats.cmds, 1, memory_order_relaxed);

    uint16_t sid = cmdstat_id(d);
    if (refused) {
        struct rbuf *out = reply_fifo_buf(c);
        if (!out) {
            conn_close(c);
            return true;
        }
        size_t before = out->len;
        if (!d && container) {
            /* Redis's processCommand: argv[0] upper-cased, the
             * subcommand cut at 128 bytes and at a NUL. */
            char up[32];
            size_t n = strlen(container->name);
            for (size_t i = 0; i <= n && i < sizeof up; i++)
                up[i] = (char)(container->name[i] >= 'a' && container->name[i] <= 'z'
                                   ? container->name[i] - ('a' - 'A')
                                   : container->name[i]);
            up[sizeof up - 1] = '\0';
            size_t sl = strnlen(argv[1].ptr, argv[1].len);
            resp_errorf(out, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                        (int)(sl > 128 ? 128 : sl), argv[1].ptr, up);
        } else if (!d) {
            dispatch_reply_unknown(out, argc, argv);
        }
        else if (!cmd_arity_ok(d, argc))
            resp_errorf(out, "ERR wrong number of arguments for '%s' command", d->name);
        else if (misconf)
            resp_error(out, hooks.writes_denied_err);
        else if (busy)
            resp_error(out, server_busy_error());
        else
            resp_error(out, "NOAUTH Authentication required.");
        cmdstat_reject(w->cmdstats, sid);
        if (out->len > before)
            errstat_reply(w->errstats, out->ptr + before, out->len - before);
        if (c->txc)
            hooks.flag_error(c); /* inside MULTI: EXEC aborts */
        return true;
    }
    /* A subscribed RESP2 client runs only what Redis allows it (pubsub.h). */
    if (c->ps && pubsub_reject(c, d, argc, argv, sid))
        return true;
    c->last_cmd = d;
    /* Inside MULTI, commands are queued for EXEC (cmd_txn.c). */
    if (c->txc && hooks.intercept(c, d, argc, argv))
        return true;

    if (single) {
        if (keyed)
            move_note(c, shard);
        dispatch_route(c, d, shard, d->exec, argc, argv, sid, keyed ? &khash : NULL);
        return true;
    }
    if (!(d->flags & CMD_CONN)) {
        /* A multi-key command spans shards, except for a queue consumer:
         * a blocking pop is served by its first key when that has data. */
        size_t k = (d->flags & CMD_BLOCKING) ? cmd_first_key(d, argc, argv) : 0;
        if (k > 0)
            move_note(c, shard_group_route(server.group, argv[k].ptr, argv[k].len));
        else
            c->mv_run = 0;
    }
    /* Where this command's reply will begin, for its commandstats. */
    struct slot *tail = c->tail;
    size_t tail_len = tail ? tail->out.len : 0;
    uint64_t t0 = 0;
    if (d->flags & CMD_CONN) {
        struct rbuf *out = reply_fifo_buf(c);
        if (!out) {
            conn_close(c);
            return true;
        }
        struct cmd_ctx ctx = {
            .shard = w->shard,
            .db = shard_db(w->shard, c->db),
            .dbidx = c->db,
            .proto = c->proto,
            .argc = argc,
            .argv = argv,
            .out = out,
            .now_ms = w->now_ms,
            .priv = NULL,
            .conn = c,
            .origin = c,
        };
        cmd_call(d, &ctx);
    } else {
        /* Multi-key or all shards: timed from here to the merged reply
         * (cmdstats.h). */
        t0 = cmdstat_run_begin(w->cmdstats, sid);
        split_t0 = slowlog_clock(); /* taken by the command's fan (fan_new) */
        hooks.multi_dispatch(c, d, argc, argv, home);
        split_t0 = 0;
    }
    cmdstat_call(w->cmdstats, sid);
    reply_note_stat(c, tail, tail_len, sid, t0);
    return true;
}

/* ---- For the fan-out engine, program order and groups' events ----------- *
 * (dispatch_internal.h) */

int dispatch_lock_keys(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                       const struct resp_arg *argv)
{
    return hooks.multi_lock_keys(t, d, db, argc, argv);
}

struct batch *dispatch_batch_new(struct worker *w, size_t cap)
{
    struct batch *b = batch_get(w);
    if (!b || b->cap >= cap)
        return b;
    struct bent *v = realloc(b->v, cap * sizeof *v);
    if (!v) {
        batch_free(b); /* (not batch_recycle: it stays inlined where it runs) */
        return NULL;
    }
    b->v = v;
    b->cap = cap;
    return b;
}

void dispatch_batch_send(struct worker *w, unsigned shard, struct batch *b)
{
    b->msg.handle = on_batch_exec;
    shard_post(shard_group_get(server.group, shard), &b->msg);
    atomic_fetch_add_explicit(&w->stats.batches_sent, 1, memory_order_relaxed);
}

void dispatch_batch_done(struct shard *s, struct batch *b)
{
    on_batch_done(s, &b->msg);
}

void dispatch_run_recorded(struct shard *s, struct batch *b, struct bent *e, int64_t now_ms)
{
    run_single(s, b, e, now_ms, &e->r->events);
}

void dispatch_req_publish(struct req *r)
{
    if (r->events.len == 0 || !hooks.publish_events)
        return;
    size_t at = r->slot->out.len; /* (its reply is appended after) */
    hooks.publish_events(r->conn, &r->slot->out, &at, 0, NULL, &r->events);
}

struct req *dispatch_req_new(struct worker *w, size_t argc, const struct resp_arg *argv)
{
    return req_new(w, argc, argv);
}

void dispatch_req_free(struct worker *w, struct req *r)
{
    req_free(w, r);
}

int dispatch_batch_add(struct worker *w, unsigned shard, struct req *r)
{
    return batch_add(w, shard, r);
}

void dispatch_fan_events(struct fan *f, struct req *const *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct rbuf *e = &parts[i]->events;
        if (e->len == 0)
            continue;
        if (f->events.len == 0 && f->events.ptr == NULL) {
            f->events = *e; /* (the first part's: no copy) */
            rbuf_init(e);
        } else if (rbuf_append(&f->events, e->ptr, e->len) != 0) {
            /* No memory to keep them: what is kept goes now. */
            f->events.oom = false;
            dispatch_fan_publish(f);
            rbuf_append(&f->events, e->ptr, e->len);
        }
    }
}

void dispatch_fan_publish(struct fan *f)
{
    if (f->events.len == 0 || !hooks.publish_events)
        return;
    /* The client's own frames go before its reply, which the step writes
     * into its slot (a sub-fan of EXEC writes into EXEC's reply: there
     * they go after it). */
    struct rbuf *out = f->slot ? f->out : NULL;
    size_t at = f->frames_len;
    hooks.publish_events(f->conn, out, out ? &at : NULL, f->argc, f->argv, &f->events);
    f->frames_len = at;
    rbuf_deinit(&f->events);
}

/* ---- The slow log's view of split commands (dispatch.h) ------------------ */

uint64_t dispatch_split_take(void)
{
    uint64_t t = split_t0;
    split_t0 = 0;
    return t;
}
void dispatch_split_done(struct conn *c, size_t argc, const struct resp_arg *argv, uint64_t t0)
{
    if (!t0)
        return;
    uint64_t ticks = slowlog_clock() - t0;
    const struct cmd_def *container;
    const struct cmd_def *d = cmd_lookup_argv(argc, argv, &container);
    if (!d)
        return;
    if (cmdhist_enabled())
        cmdhist_record(c->w->id, d, (uint64_t)((double)ticks * slowlog_ns_per_tick));
    if (ticks < atomic_load_explicit(&slowlog_gate, memory_order_relaxed))
        return;
    struct cmd_ctx ctx = {
        .shard = c->w->shard,
        .dbidx = c->db,
        .proto = c->proto,
        .argc = argc,
        .argv = argv,
        .conn = c,
        .origin = c,
    };
    slowlog_note(d, &ctx, ticks);
}
