/* req.c — the memory of requests and batches: a request is a private copy
 * of a command's arguments (or views into the client's lent read buffer),
 * made and freed on the worker that sent it; each worker keeps free lists
 * of requests and batches, so that a steady pipeline allocates nothing.
 * Worker threads, each on its own lists. */
#include "server/route/dispatch.h"
#include "server/route/dispatch_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/net/conn.h"
#include "server/net/reply_fifo.h"
#include "server/net/worker.h"

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
void dispatch_batch_recycle(struct worker *w, struct batch *b)
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
    group_local_pool_drain(w);
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
struct req *dispatch_req_new(struct worker *w, size_t argc, const struct resp_arg *argv)
{
    size_t bytes = resp_args_len(argv, argc);
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
    resp_args_copy(r->argv, argv, argc);
    return r;
}

/* req_new for command argv of c, routed to another shard: when c lends
 * its read buffer (a big SET that ends the input), argv stays there and
 * only the views are copied, so the value is copied once, into the map,
 * on its owner's thread, and c's thread is not held up meanwhile. */
struct req *dispatch_req_new_routed(struct conn *c, size_t argc, const struct resp_arg *argv)
{
    char *lent = conn_take_ibuf(c, resp_args_len(argv, argc));
    if (!lent)
        return dispatch_req_new(c->w, argc, argv);
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
void dispatch_req_free(struct worker *w, struct req *r)
{
    /* Set for a few requests only: free(NULL) is not free (rbuf_deinit). */
    if (r->ends)
        free(r->ends);
    if (r->lent)
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

int dispatch_batch_add(struct worker *w, unsigned shard, struct req *r)
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

struct batch *dispatch_batch_new(struct worker *w, size_t cap)
{
    struct batch *b = batch_get(w);
    if (!b || b->cap >= cap)
        return b;
    struct bent *v = realloc(b->v, cap * sizeof *v);
    if (!v) {
        batch_free(b); /* (empty: nothing to keep) */
        return NULL;
    }
    b->v = v;
    b->cap = cap;
    return b;
}

