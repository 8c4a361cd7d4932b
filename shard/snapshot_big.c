/* snapshot_big.c — a snapshot's capture of big containers a slice at a
 * time, so that a write meeting one never waits for the whole container to
 * be encoded: hashes and sets over SNAP_BIG_MIN elements (hash tables, a
 * segment at a time), sorted sets of as many (trees, an element at a time)
 * and lists of as many (quicklists, a node at a time).
 *
 * When a capture (a write's or the cursor's) meets such a container, the
 * part queues the record's head (expiry, type, key, and the count of
 * elements, or a list's nodes, as of now, which is the cut: the key's
 * segment is still uncaptured) in a chunk of its own in the main stream,
 * and arms the container's copy-on-write. A hash table gets a capture hook
 * at a new epoch, exactly as the key map has: a write to one of its
 * uncaptured segments captures that segment first. A sorted set's tree
 * hands out each element as of the cut, from the write about to change it
 * or from a cursor walking it in order (shard/zset_cow.c). A list hands
 * out its nodes in order, a write copying the nodes it changes ahead of
 * the cursor (shard/quicklist_cow.c). The part's cursor captures
 * containers before anything else. The elements go to the container's own
 * chunk queue. An RDB record must be contiguous, so the writer, on
 * reaching the head, writes the elements as they come and waits for the
 * last one. If the key lets go of the container meanwhile (DEL, overwrite,
 * the last element removed, FLUSHALL), tval_free hands it here
 * (kvmap_epoch_retire, zset_cow_retire, quicklist_cow_retire) and it is
 * freed once captured.
 *
 * Threads: everything runs on the part's shard thread except
 * snap_big_write (the writer thread); they share b->head/tail/done under
 * the snapshot's lock, and b->queued, b->reached atomically. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "shard/kventry.h"
#include "shard/snapshot_internal.h"
#include "shard/quicklist.h"
#include "shard/tval.h"
#include "shard/tval_rdb_zset.h"
#include "shard/zset.h"

/* How a container is captured. */
enum big_kind {
    BIG_TABLE, /* a hash table: its segments, walked as a database in d */
    BIG_ZSET,  /* a sorted set's tree: zset_cow_step */
    BIG_LIST,  /* a list's nodes: quicklist_cow_step */
};

/* Elements zset_cow_step walks between clock reads: a walked element costs
 * ~50 ns, one encoded ~100 ns. */
#define ZSET_STEP 256
/* Nodes quicklist_cow_step walks between clock reads: a node is a copy of
 * up to 8 KB (list-max-listpack-size -2), ~1 us. */
#define LIST_STEP 16

struct snap_big {
    enum big_kind kind;        /* how it is captured */
    struct part_db d;          /* BIG_TABLE: the container's table, walked
                                  as a database; the others use d.p, d.db */
    struct snap_big *next;     /* the part's list of started containers */
    struct tval *tv;           /* the container (borrowed until retired) */
    struct mem_acct *retired;  /* non-NULL: the key let go of tv, which is
                                  ours to free with this account */
    bool hash;                 /* BIG_TABLE: write each field's value after it */
    bool stepping;             /* the cursor is walking it: elements handed
                                  out now are not write captures */
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

/* zset_cow_fn: one element of a sorted set as of the cut. */
static void on_zset_element(void *arg, const struct zset_elem *e)
{
    struct snap_big *b = arg;
    struct snap *s = b->d.p->s;
    struct tval_rdb_buf *buf = &b->d.p->scratch;
    buf->len = 0;
    if (!e || tval_rdb_zset_encode_element(buf, e->m, e->len, e->score) != 0) {
        snap_set_failed(s, SNAP_ENOMEM);
        return;
    }
    snap_big_append(b, buf->p, buf->len);
    if (!b->stepping)
        atomic_fetch_add_explicit(&s->big_write_elements, 1, memory_order_relaxed);
}

/* zset_cow_retire_fn: the sorted set's key let go of it mid-capture. */
static void on_zset_retire(void *arg, struct tval *tv, struct mem_acct *a)
{
    struct snap_big *b = arg;
    (void)tv; /* it is b->tv */
    b->retired = a;
}

/* quicklist_cow_ops: one node of a list as of the cut, in order. */
static void on_list_node(void *arg, const struct quicklist_blob *blob)
{
    struct snap_big *b = arg;
    struct tval_rdb_buf *buf = &b->d.p->scratch;
    buf->len = 0;
    if (tval_rdb_list_encode_node(buf, blob) != 0) {
        snap_set_failed(b->d.p->s, SNAP_ENOMEM);
        return;
    }
    snap_big_append(b, buf->p, buf->len);
}

static void on_list_copied(void *arg)
{
    struct snap_big *b = arg;
    atomic_fetch_add_explicit(&b->d.p->s->big_write_elements, 1, memory_order_relaxed);
}

static void on_list_failed(void *arg)
{
    struct snap_big *b = arg;
    snap_set_failed(b->d.p->s, SNAP_ENOMEM);
}

static void on_list_retire(void *arg, void *owner, struct mem_acct *a)
{
    struct snap_big *b = arg;
    (void)owner; /* it is b->tv */
    b->retired = a;
}

static const struct quicklist_cow_ops list_ops = {
    .node = on_list_node,
    .copied = on_list_copied,
    .failed = on_list_failed,
    .retire = on_list_retire,
};

/* Which kind of capture tv gets, or false to encode it whole. */
static bool big_kind_of(const struct tval *tv, enum big_kind *kind)
{
    if (tv->enc == TVAL_ENC_HASHTABLE && kvmap_count(tv->u.ht) >= SNAP_BIG_MIN &&
        !kvmap_epoch_armed(tv->u.ht)) {
        *kind = BIG_TABLE;
        return true;
    }
    if (tv->enc == TVAL_ENC_SKIPLIST && zset_len(tv) >= SNAP_BIG_MIN && !zset_cow_armed(tv)) {
        *kind = BIG_ZSET;
        return true;
    }
    if (tv->enc == TVAL_ENC_QUICKLIST && tv->u.ql && quicklist_len(tv->u.ql) >= SNAP_BIG_MIN &&
        quicklist_node_count(tv->u.ql) > 1 && !quicklist_cow_armed(tv->u.ql)) {
        *kind = BIG_LIST;
        return true;
    }
    return false;
}

/* Arm tv's copy-on-write for b: 0 or a negative code (nothing armed). */
static int arm(struct snap_big *b, struct tval *tv)
{
    switch (b->kind) {
    case BIG_TABLE:
        b->d.m = tv->u.ht;
        b->d.cut = kvmap_epoch_begin(tv->u.ht, on_capture, &b->d);
        if (b->d.cut == 0)
            return -1; /* no memory for its stamps: encoded whole instead */
        kvmap_epoch_on_retire(tv->u.ht, on_retire);
        return 0;
    case BIG_ZSET:
        return zset_cow_begin(tv, on_zset_element, on_zset_retire, b);
    case BIG_LIST:
        return quicklist_cow_begin(tv->u.ql, &list_ops, b);
    }
    return -1;
}

bool snap_big_defer(struct part_db *d, const struct kventry *e, const char *key, size_t klen)
{
    struct snap_part *p = d->p;
    struct tval *tv = kventry_tval(e);
    enum big_kind kind;
    if (!big_kind_of(tv, &kind))
        return false;
    struct snap_big *b = calloc(1, sizeof *b);
    struct tval_rdb_buf *buf = &p->scratch;
    buf->len = 0;
    struct snap_chunk *c = NULL;
    if (b && tval_rdb_encode_head(buf, key, klen, tv, kventry_expire(e)) == 0)
        c = snap_chunk_new(d->db, buf->len);
    if (c) {
        b->kind = kind;
        b->d.p = p;
        b->d.big = b;
        b->d.db = d->db;
        if (arm(b, tv) != 0) {
            free(c);
            c = NULL;
        }
    }
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

void snap_big_append(struct snap_big *b, const void *p, size_t len)
{
    struct snap *s = b->d.p->s;
    if (b->cur && b->cur->cap - b->cur->len < len)
        push(b, false);
    if (!b->cur) {
        b->cur = snap_chunk_new(b->d.db, len > SNAP_CHUNK_BYTES ? len : SNAP_CHUNK_BYTES);
        if (!b->cur) {
            snap_set_failed(s, SNAP_ENOMEM);
            return;
        }
    }
    memcpy(b->cur->data + b->cur->len, p, len);
    b->cur->len += len;
}

void snap_big_encode_element(struct part_db *d, const struct kventry *e)
{
    struct snap_big *b = d->big;
    struct tval_rdb_buf *buf = &d->p->scratch;
    buf->len = 0;
    if (tval_rdb_encode_element(buf, b->hash, e) != 0) {
        snap_set_failed(d->p->s, SNAP_ENOMEM);
        return;
    }
    snap_big_append(b, buf->p, buf->len);
}

/* Disarm b's container, queue its last chunk and let the writer have b;
 * free the container if its key let go of it. */
static void finish(struct snap_part *p, struct snap_big *b)
{
    p->bigs = b->next;
    if (!p->bigs)
        p->bigs_tail = &p->bigs;
    struct tval *tv = b->tv;
    struct mem_acct *retired = b->retired;
    if (b->kind == BIG_TABLE)
        kvmap_epoch_end(tv->u.ht);
    else if (b->kind == BIG_ZSET)
        zset_cow_end(tv);
    else
        quicklist_cow_end(tv->u.ql);
    push(b, true);
    /* b may be freed by the writer from here on. */
    if (retired)
        tval_free(retired, tv);
}

/* Capture b until it is all captured (true) or the deadline passes. */
static bool walk(struct snap_big *b, uint64_t deadline, unsigned *checks)
{
    if (b->kind == BIG_TABLE)
        return snap_cursor_walk(&b->d, deadline, checks);
    for (;;) {
        if (atomic_load_explicit(&b->d.p->s->failed, memory_order_relaxed))
            return true; /* the part is ending: nothing more is wanted */
        b->stepping = true;
        bool done = b->kind == BIG_ZSET ? zset_cow_step(b->tv, ZSET_STEP)
                                        : quicklist_cow_step(b->tv->u.ql, LIST_STEP);
        b->stepping = false;
        if (done)
            return true;
        snap_big_flush(b);
        ++*checks;
        if (clock_mono_ns() >= deadline)
            return false;
    }
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
        if (!walk(b, deadline, checks))
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
