/* reply_fifo.c — a connection's FIFO of reply slots and the worker's free
 * list of slots (reply_fifo.h). The connection's worker thread. */
#include "server/net/reply_fifo.h"

#include <stdint.h>
#include <stdlib.h>

#include "server/net/conn.h"
#include "server/net/outbuf.h"
#include "server/net/worker.h"

void reply_fifo_buf_recycle(struct rbuf *b)
{
    if (b->cap > REPLY_FIFO_BUF_KEEP || b->oom) {
        rbuf_deinit(b);
        return;
    }
    b->len = 0;
}

static struct slot *slot_alloc(struct conn *c, bool done)
{
    struct worker *w = c->w;
    struct slot *s = w->slot_pool;
    if (s) {
        w->slot_pool = s->next;
        w->nslot_pool--;
    } else {
        s = malloc(sizeof *s);
        if (!s)
            return NULL;
        rbuf_init(&s->out);
    }
    s->next = NULL;
    s->ext = NULL;
    s->done = done;
    s->stat = REPLY_FIFO_STAT_NONE;
    s->stat_t0 = 0;
    s->fan = NULL;
    if (c->tail)
        c->tail->next = s;
    else
        c->head = s;
    c->tail = s;
    c->nslots++;
    if (!done)
        c->nwaiting++;
    return s;
}

struct slot *reply_fifo_slot_new(struct conn *c)
{
    return slot_alloc(c, false);
}

struct rbuf *reply_fifo_buf(struct conn *c)
{
    /* Not behind a big reply: growing one buffer by many of them would
     * copy them over and over and hold up to twice their size. */
    if (c->tail && c->tail->done && !c->tail->ext && !c->tail->out.oom &&
        !outbuf_big(c->tail->out.len))
        return &c->tail->out;
    struct slot *s = slot_alloc(c, true);
    return s ? &s->out : NULL;
}

int reply_fifo_push_shared(struct conn *c, struct shared_buf *b)
{
    struct slot *s = slot_alloc(c, true);
    if (!s)
        return -1;
    b->refs++;
    s->ext = b;
    return 0;
}

struct shared_buf *shared_buf_new(size_t len)
{
    struct shared_buf *b = len <= SIZE_MAX - sizeof *b ? malloc(sizeof *b + len) : NULL;
    if (b) {
        b->refs = 1;
        b->len = len;
    }
    return b;
}

void shared_buf_unref(struct shared_buf *b)
{
    if (b && --b->refs == 0)
        free(b);
}

void reply_fifo_slot_free(struct slot *s)
{
    shared_buf_unref(s->ext);
    s->ext = NULL;
    /* Slots are freed on their connection's thread: its worker's pool.
     * Not while stopping, so that worker_on_stop's drain is final. */
    struct worker *w = worker_current();
    if (w && !w->stopping && w->nslot_pool < REPLY_FIFO_POOL_MAX) {
        reply_fifo_buf_recycle(&s->out);
        s->fan = NULL;
        s->next = w->slot_pool;
        w->slot_pool = s;
        w->nslot_pool++;
        return;
    }
    rbuf_deinit(&s->out);
    free(s);
}

void reply_fifo_drain(struct worker *w)
{
    while (w->slot_pool) {
        struct slot *s = w->slot_pool;
        w->slot_pool = s->next;
        rbuf_deinit(&s->out);
        free(s);
    }
    w->nslot_pool = 0;
}
