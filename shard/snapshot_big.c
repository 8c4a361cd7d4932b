/* snapshot_big.c — a snapshot's capture of big hash tables (hashes and
 * sets above SNAP_BIG_MIN elements) a segment at a time, so that a write
 * meeting one never waits for the whole container to be encoded.
 *
 * When a capture (a write's or the cursor's) meets such a container, the
 * part queues the record's head (expiry, type, key, element count as of
 * now, which is the cut: the segment is still uncaptured) in a chunk of
 * its own in the main stream, and arms the container's own table with a
 * capture hook at a new epoch: from then on the table is copy-on-write
 * exactly as the key map is. The part's cursor captures the container's
 * segments before anything else; a write to one of its uncaptured segments
 * captures that segment first. The elements go to the container's own
 * chunk queue. An RDB record must be contiguous, so the writer, on reaching
 * the head, writes the elements as they come and waits for the last one.
 * If the key lets go of the container meanwhile (DEL, overwrite, the last
 * element removed, FLUSHALL), tval_free hands it here (kvmap_epoch_retire)
 * and it is freed once captured.
 *
 * Threads: everything runs on the part's shard thread except
 * snap_big_write (the writer thread); they share b->head/tail/done under
 * the snapshot's lock, and b->queued, b->reached atomically. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "shard/kventry.h"
#include "shard/snapshot_internal.h"
#include "shard/tval.h"

struct snap_big {
    struct part_db d;          /* the container's table, walked as a database */
    struct snap_big *next;     /* the part's list of started containers */
    struct tval *tv;           /* the container (borrowed until retired) */
    struct mem_acct *retired;  /* non-NULL: the key let go of tv, which is
                                  ours to free with this account */
    bool hash;                 /* write each field's value after it */
    struct snap_chunk *cur;    /* chunk being filled (shard thread) */
    _Atomic size_t queued;     /* element bytes queued, not yet written */
    _Atomic bool reached;      /* the writer is waiting for these elements */
    /* Under s->lock: */
    struct snap_chunk *head;   /* element chunks for the writer, oldest first */
    struct snap_chunk *tail;   /* newest */
    bool done;                 /* the last chunk is queued (or the part gave up) */
};

/* kvmap's capture hook on the container's table. */
static void on_capture(void *arg, struct kvmap *m, int table, size_t seg)
{
    struct part_db *d = arg;
    (void)m;
    uint64_t n = snap_capture_segment(d, table, seg);
    atomic_fetch_add_explicit(&d->p->s->write_captures, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->p->s->big_write_elements, n, memory_order_relaxed);
}

/* kvmap's retire hook: the container's key let go of it mid-capture. */
static void on_retire(void *arg, void *owner, struct mem_acct *a)
{
    struct part_db *d = arg;
    (void)owner; /* it is d->big->tv */
    d->big->retired = a;
}

bool snap_big_defer(struct part_db *d, const struct kventry *e, const char *key, size_t klen)
{
    struct snap_part *p = d->p;
    struct tval *tv = kventry_tval(e);
    if (tv->enc != TVAL_ENC_HASHTABLE || kvmap_count(tv->u.ht) < SNAP_BIG_MIN ||
        kvmap_epoch_armed(tv->u.ht))
        return false;
    struct snap_big *b = calloc(1, sizeof *b);
    struct tval_rdb_buf *buf = &p->scratch;
    buf->len = 0;
    struct snap_chunk *c = NULL;
    if (b && tval_rdb_encode_head(buf, key, klen, tv, kventry_expire(e)) == 0)
        c = snap_chunk_new(d->db, buf->len);
    if (!c) {
        free(b);
        return false; /* encoded whole instead, or failed there */
    }
    memcpy(c->data, buf->p, buf->len);
    c->len = buf->len;
    c->keys = 1;
    c->big = b;
    b->tv = tv;
    b->hash = tv->type == TVAL_HASH;
    b->d.p = p;
    b->d.big = b;
    b->d.m = tv->u.ht;
    b->d.db = d->db;
    b->d.cut = kvmap_epoch_begin(tv->u.ht, on_capture, &b->d);
    if (b->d.cut == 0) {
        free(c);
        free(b);
        return false; /* no memory for its stamps: encoded whole instead */
    }
    kvmap_epoch_on_retire(tv->u.ht, on_retire);
    *p->bigs_tail = b;
    p->bigs_tail = &b->next;
    /* The records before it, then its head: the file's order. */
    snap_part_flush(p);
    snap_queue_push(p->s, c);
    atomic_fetch_add_explicit(&p->s->big_values, 1, memory_order_relaxed);
    return true;
}

/* Hand b's current chunk to the writer. */
static void push(struct snap_big *b, bool last)
{
    struct snap *s = b->d.p->s;
    struct snap_chunk *c = b->cur;
    b->cur = NULL;
    if (c && c->len == 0) {
        free(c);
        c = NULL;
    }
    if (c)
        atomic_fetch_add_explicit(&b->queued, c->len, memory_order_relaxed);
    uv_mutex_lock(&s->lock);
    if (c) {
        if (b->tail)
            b->tail->next = c;
        else
            b->head = c;
        b->tail = c;
    }
    if (last)
        b->done = true; /* b belongs to the writer from here on */
    uv_cond_signal(&s->cond);
    uv_mutex_unlock(&s->lock);
}

void snap_big_flush(struct snap_big *b)
{
    if (b->cur && b->cur->len >= SNAP_CHUNK_BYTES)
        push(b, false);
}

void snap_big_encode_element(struct part_db *d, const struct kventry *e)
{
    struct snap_big *b = d->big;
    struct snap *s = d->p->s;
    struct tval_rdb_buf *buf = &d->p->scratch;
    buf->len = 0;
    if (tval_rdb_encode_element(buf, b->hash, e) != 0) {
        snap_set_failed(s, SNAP_ENOMEM);
        return;
    }
    if (b->cur && b->cur->cap - b->cur->len < buf->len)
        push(b, false);
    if (!b->cur) {
        b->cur = snap_chunk_new(d->db, buf->len > SNAP_CHUNK_BYTES ? buf->len : SNAP_CHUNK_BYTES);
        if (!b->cur) {
            snap_set_failed(s, SNAP_ENOMEM);
            return;
        }
    }
    memcpy(b->cur->data + b->cur->len, buf->p, buf->len);
    b->cur->len += buf->len;
}

/* Disarm b's table, queue its last chunk and let the writer have b; free
 * the container if its key let go of it. */
static void finish(struct snap_part *p, struct snap_big *b)
{
    p->bigs = b->next;
    if (!p->bigs)
        p->bigs_tail = &p->bigs;
    struct tval *tv = b->tv;
    struct mem_acct *retired = b->retired;
    kvmap_epoch_end(tv->u.ht);
    push(b, true);
    /* b may be freed by the writer from here on. */
    if (retired)
        tval_free(retired, tv);
}

int snap_big_drive(struct snap_part *p, uint64_t deadline, unsigned *checks)
{
    struct snap *s = p->s;
    while (p->bigs) {
        struct snap_big *b = p->bigs;
        /* Elements the writer has not reached wait in memory: stop making
         * more beyond the queue limit until it gets there. Writes still
         * capture what they change. */
        if (!atomic_load_explicit(&b->reached, memory_order_acquire) &&
            atomic_load_explicit(&b->queued, memory_order_relaxed) > s->queue_limit)
            return SNAP_STEP_PAUSED;
        if (!snap_cursor_walk(&b->d, deadline, checks))
            return SNAP_STEP_MORE;
        finish(p, b);
        if (clock_mono_ns() >= deadline)
            return SNAP_STEP_MORE;
    }
    return SNAP_STEP_DONE;
}

void snap_big_abandon(struct snap_part *p)
{
    while (p->bigs) {
        struct snap_big *b = p->bigs;
        /* Whatever was captured is dropped with the failed snapshot. */
        if (b->cur)
            b->cur->len = 0;
        finish(p, b);
    }
}

void snap_big_write(struct snap *s, struct rdb_writer *w, struct snap_big *b, int *err)
{
    atomic_store_explicit(&b->reached, true, memory_order_release);
    for (;;) {
        uv_mutex_lock(&s->lock);
        while (!b->head && !b->done)
            uv_cond_wait(&s->cond, &s->lock);
        struct snap_chunk *c = b->head;
        bool done = b->done;
        b->head = b->tail = NULL;
        uv_mutex_unlock(&s->lock);
        while (c) {
            struct snap_chunk *next = c->next;
            if (!*err && rdb_writer_raw(w, c->data, c->len, 0) != 0) {
                *err = snap_write_error(s);
                snap_set_failed(s, *err);
            }
            atomic_fetch_sub_explicit(&b->queued, c->len, memory_order_relaxed);
            free(c);
            c = next;
        }
        if (done)
            break;
    }
    free(b);
}
