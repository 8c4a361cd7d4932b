/* snapshot.c — copy-on-write snapshots: per-shard capture (write-triggered
 * through kvmap's capture hook, plus a sliced background cursor) on the
 * shard threads, and one writer thread per snapshot that turns the chunks
 * into an RDB file. See snapshot.h for the threading contract. */
#define _GNU_SOURCE /* sync_file_range */
#include "shard/snapshot.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <uv.h>

#include "common/clock.h"
#include "shard/rdb.h"
#include "shard/tval.h"
#include "shard/snapshot_internal.h"
#include "shard/tval_rdb.h"

/* ------------------------------------------------------------ queue */

void snap_set_failed(struct snap *s, int err)
{
    int zero = 0;
    atomic_compare_exchange_strong(&s->failed, &zero, err);
}

void snap_queue_push(struct snap *s, struct snap_chunk *c)
{
    size_t q = atomic_fetch_add(&s->queued, c->len) + c->len;
    size_t peak = atomic_load_explicit(&s->queue_peak, memory_order_relaxed);
    while (q > peak && !atomic_compare_exchange_weak(&s->queue_peak, &peak, q))
        ;
    c->next = NULL;
    uv_mutex_lock(&s->lock);
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    uv_cond_signal(&s->cond);
    uv_mutex_unlock(&s->lock);
}

void snap_part_flush(struct snap_part *p)
{
    if (p->cur && p->cur->len > 0)
        snap_queue_push(p->s, p->cur);
    else
        free(p->cur);
    p->cur = NULL;
}

/* Room for need more bytes of database db in the current chunk. */
static struct snap_chunk *chunk_room(struct snap_part *p, uint32_t db, size_t need)
{
    struct snap_chunk *c = p->cur;
    if (c && (c->db != db || c->cap - c->len < need)) {
        snap_part_flush(p);
        c = NULL;
    }
    if (!c) {
        c = snap_chunk_new(db, need > SNAP_CHUNK_BYTES ? need : SNAP_CHUNK_BYTES);
        p->cur = c;
    }
    return c;
}

struct snap_chunk *snap_chunk_new(uint32_t db, size_t cap)
{
    struct snap_chunk *c = malloc(sizeof *c + cap);
    if (!c)
        return NULL;
    c->next = NULL;
    c->big = NULL;
    c->db = db;
    c->keys = 0;
    c->len = 0;
    c->cap = cap;
    return c;
}

/* ---------------------------------------------------------- capture */

struct enc_ctx {
    struct part_db *d;  /* database being captured */
    uint64_t keys;      /* records encoded */
    bool lzf;           /* compress string records (snap_opts.compress) */
};

/* Scratch space kept between typed values; more is freed after use. */
#define SNAP_SCRATCH_KEEP ((size_t)1 << 20)

/* A container below SNAP_BIG_MIN elements, or one snapshot_big.c does not
 * capture in slices: its whole record is encoded (tval_rdb.h) and copied
 * into a chunk of its own size if need be, inside the write that met it. */
static void encode_typed(struct enc_ctx *x, const struct kventry *e, const char *key,
                         size_t klen)
{
    struct snap_part *p = x->d->p;
    struct tval_rdb_buf *b = &p->scratch;
    b->len = 0;
    if (tval_rdb_encode_record(b, key, klen, kventry_tval(e), kventry_expire(e)) != 0) {
        snap_set_failed(p->s, SNAP_ENOMEM);
        return;
    }
    struct snap_chunk *c = chunk_room(p, x->d->db, b->len);
    if (!c) {
        snap_set_failed(p->s, SNAP_ENOMEM);
        return;
    }
    memcpy(c->data + c->len, b->p, b->len);
    c->len += b->len;
    c->keys++;
    x->keys++;
    if (b->cap > SNAP_SCRATCH_KEEP)
        tval_rdb_buf_free(b);
}

static void encode_entry(void *arg, const struct kventry *e)
{
    struct enc_ctx *x = arg;
    struct snap_part *p = x->d->p;
    if (atomic_load_explicit(&p->s->failed, memory_order_relaxed))
        return;
    size_t klen, vlen;
    char ibuf[21];
    const char *key = kventry_key(e, &klen);
    if (kventry_type(e) != TVAL_STRING) {
        if (snap_big_defer(x->d, e, key, klen))
            x->keys++;
        else
            encode_typed(x, e, key, klen);
        return;
    }
    const char *val = kventry_value(e, ibuf, &vlen);
    struct snap_chunk *c = chunk_room(p, x->d->db, rdb_string_record_max(klen, vlen));
    if (!c) {
        snap_set_failed(p->s, SNAP_ENOMEM);
        return;
    }
    c->len += rdb_encode_string(c->data + c->len, key, klen, val, vlen, kventry_expire(e), x->lzf);
    c->keys++;
    x->keys++;
}

/* kvmap visit fn for a big container's table: elements, not records. */
static void encode_element(void *arg, const struct kventry *e)
{
    struct enc_ctx *x = arg;
    if (atomic_load_explicit(&x->d->p->s->failed, memory_order_relaxed))
        return;
    snap_big_encode_element(x->d, e);
    x->keys++;
}

uint64_t snap_capture_segment(struct part_db *d, int table, size_t seg)
{
    struct enc_ctx x = {d, 0, d->p->s->compress};
    if (d->big) {
        kvmap_segment_visit(d->m, table, seg, encode_element, &x);
        snap_big_flush(d->big);
        return x.keys;
    }
    kvmap_segment_visit(d->m, table, seg, encode_entry, &x);
    if (d->p->cur && d->p->cur->len >= SNAP_CHUNK_BYTES)
        snap_part_flush(d->p);
    return x.keys;
}

/* kvmap's hook: a write is about to change an uncaptured segment. */
static void on_capture(void *arg, struct kvmap *m, int table, size_t seg)
{
    struct part_db *d = arg;
    (void)m;
    uint64_t keys = snap_capture_segment(d, table, seg);
    atomic_fetch_add_explicit(&d->p->s->write_captures, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->p->s->write_capture_keys, keys, memory_order_relaxed);
}

/* -------------------------------------------------------------- part */

/* A part that could not begin (out of memory): the snapshot fails, and the
 * part counts as done so the writer is not left waiting for it. */
static void part_failed(struct snap *s)
{
    snap_set_failed(s, SNAP_ENOMEM);
    uv_mutex_lock(&s->lock);
    s->parts_done++;
    uv_cond_signal(&s->cond);
    uv_mutex_unlock(&s->lock);
}

struct snap_part *snap_part_begin(struct snap *s, struct kvmap **db, unsigned ndb)
{
    struct snap_part *p = calloc(1, sizeof *p + ndb * sizeof p->dbs[0]);
    if (!p) {
        part_failed(s);
        return NULL;
    }
    p->s = s;
    p->ndb = ndb;
    p->scratch.raw = !s->compress;
    p->bigs_tail = &p->bigs;
    for (unsigned i = 0; i < ndb; i++) {
        struct part_db *d = &p->dbs[i];
        d->p = p;
        d->m = db[i];
        d->db = i;
        d->cut = kvmap_epoch_begin(db[i], on_capture, d);
        if (d->cut == 0) {
            /* No memory for the segment stamps: the snapshot fails, as
             * it would for the part itself. */
            for (unsigned j = 0; j < i; j++)
                kvmap_epoch_end(db[j]);
            free(p);
            part_failed(s);
            return NULL;
        }
    }
    return p;
}

/* The shape of m's tables: any rehash start or finish, or a table
 * replaced by kvmap_clear, changes it, and only those move segments. */
static void shape(struct kvmap *m, uint64_t sig[3])
{
    struct kvmap_stats st;
    kvmap_stats(m, &st);
    sig[0] = st.resizes;
    sig[1] = kvmap_segments(m, 0);
    sig[2] = kvmap_segments(m, 1);
}

/* Walk d's segments until the pass ends or the deadline passes. A database
 * is done after one pass over every segment of both tables during which
 * the tables kept their shape: segments captured stay captured (stamps only
 * grow), tables created after the cut start captured, and a rename (t1
 * becoming t0 at the end of a rehash) changes the shape and so restarts
 * the pass. Between slices writes may change the shape; within a slice
 * nothing but us runs. Returns true when d is done.
 *
 * Why restarts cannot go on forever: a restarted pass skips what is
 * captured at the cost of one stamp check (a few ns per 16-bucket
 * segment, ~0.2 ns per bucket), and captures are never undone, so only a
 * shape change before the pass ends costs anything. A shape change needs a
 * resize, and the next resize of an n-bucket map needs ~n/2 inserts or
 * deletes (~25n ns of shard time at >= 50 ns each), during which even the
 * busy cursor's 2.5% share (25 us per ms) is ~0.6n ns: three times a full
 * re-walk. A map small enough to resize within one 1 ms tick is re-walked
 * within one slice. */
bool snap_cursor_walk(struct part_db *d, uint64_t deadline, unsigned *checks)
{
    uint64_t sig[3];
    shape(d->m, sig);
    if (!d->in_pass || memcmp(sig, d->sig, sizeof sig) != 0) {
        memcpy(d->sig, sig, sizeof sig);
        d->in_pass = true;
        d->table = 0;
        d->seg = 0;
    }
    while (d->table < 2) {
        size_t n = kvmap_segments(d->m, d->table);
        while (d->seg < n) {
            if (kvmap_segment_epoch(d->m, d->table, d->seg) < d->cut) {
                snap_capture_segment(d, d->table, d->seg);
                kvmap_segment_mark(d->m, d->table, d->seg);
                atomic_fetch_add_explicit(&d->p->s->cursor_captures, 1, memory_order_relaxed);
            }
            d->seg++;
            if (++*checks % SNAP_CLOCK_EVERY == 0 && clock_mono_ns() >= deadline)
                return false;
        }
        d->table++;
        d->seg = 0;
    }
    d->done = true;
    return true;
}

static void part_finish(struct snap_part *p)
{
    snap_big_abandon(p);
    tval_rdb_buf_free(&p->scratch);
    for (unsigned i = 0; i < p->ndb; i++)
        kvmap_epoch_end(p->dbs[i].m);
    snap_part_flush(p);
    struct snap *s = p->s;
    free(p);
    uv_mutex_lock(&s->lock);
    s->parts_done++;
    uv_cond_signal(&s->cond);
    uv_mutex_unlock(&s->lock);
}

int snap_part_step(struct snap_part *p, uint64_t budget_ns)
{
    struct snap *s = p->s;
    uint64_t deadline = clock_mono_ns() + budget_ns;
    unsigned checks = 0;
    for (;;) {
        if (atomic_load(&s->failed))
            break;
        /* Containers first: the writer waits for each one it reaches. */
        int rc = snap_big_drive(p, deadline, &checks);
        if (rc != SNAP_STEP_DONE)
            return rc;
        if (p->next_db == p->ndb)
            break;
        if (atomic_load_explicit(&s->queued, memory_order_relaxed) > s->queue_limit)
            return SNAP_STEP_PAUSED;
        struct part_db *d = &p->dbs[p->next_db];
        if (!snap_cursor_walk(d, deadline, &checks))
            return SNAP_STEP_MORE;
        p->next_db++;
        /* Push what the finished database produced so the writer can
         * start on it while the next one is walked. */
        snap_part_flush(p);
        if (clock_mono_ns() >= deadline && p->next_db < p->ndb)
            return SNAP_STEP_MORE;
    }
    part_finish(p);
    return SNAP_STEP_DONE;
}

/* ------------------------------------------------------------ driver */

/* Runs a part on a shard's loop: a slice every SNAP_TICK_MS, of slice_ns
 * when the shard ran requests since the last tick, of idle_ns when it did
 * not. A timer rather than an idle handle, so that the cursor never keeps
 * the loop spinning: the requests keep their latency and the clients their
 * CPU. When the writer's queue is full the slice returns at once. */
struct driver {
    uv_timer_t timer;        /* fires every SNAP_TICK_MS */
    struct snap_part *p;     /* the part being driven */
    struct shard *sh;        /* its shard: ctr.ops tells whether it is busy */
    uint64_t last_ops;       /* sh->ctr.ops at the previous tick */
    uint64_t slice_ns;       /* budget per slice while busy */
    uint64_t idle_ns;        /* budget per slice while idle */
};

static void driver_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_tick(uv_timer_t *t)
{
    struct driver *d = t->data;
    /* != rather than >: CONFIG RESETSTAT may zero the counter. */
    bool busy = d->sh->ctr.ops != d->last_ops;
    d->last_ops = d->sh->ctr.ops;
    if (snap_part_step(d->p, busy ? d->slice_ns : d->idle_ns) == SNAP_STEP_DONE) {
        d->p = NULL;
        uv_timer_stop(&d->timer);
        uv_close((uv_handle_t *)&d->timer, driver_closed);
    }
}

int snap_shard_begin(struct snap *s, struct shard *sh)
{
    struct driver *d = calloc(1, sizeof *d);
    struct snap_part *p = snap_part_begin(s, sh->db, sh->ndb);
    if (!p) {
        free(d);
        return UV_ENOMEM;
    }
    if (!d) {
        /* No driver: capture everything now rather than lose the part. */
        while (snap_part_step(p, UINT64_MAX / 2) != SNAP_STEP_DONE)
            uv_sleep(SNAP_TICK_MS);
        return 0;
    }
    d->p = p;
    d->sh = sh;
    d->last_ops = sh->ctr.ops;
    d->slice_ns = s->slice_ns;
    d->idle_ns = s->slice_ns > SNAP_IDLE_SLICE_NS ? s->slice_ns : SNAP_IDLE_SLICE_NS;
    uv_timer_init(&sh->loop, &d->timer);
    d->timer.data = d;
    /* The first slice at once: small maps are done within this turn. */
    uv_timer_start(&d->timer, on_tick, 0, SNAP_TICK_MS);
    return 0;
}

/* --------------------------------------------------------------- cut */

/* The rendezvous for one cut: shared by the shards' messages. */
struct cut {
    struct snap *s;          /* the snapshot */
    uv_barrier_t barrier;    /* every shard waits here, then cuts */
    _Atomic unsigned left;   /* shards not yet past their cut; the last frees */
    struct cut_msg {
        struct mbox_msg m;   /* mailbox header */
        struct cut *cut;     /* back-pointer */
    } msgs[];                /* one message per shard */
};

static void on_cut(void *owner, struct mbox_msg *m)
{
    struct shard *sh = owner;
    struct cut *c = ((struct cut_msg *)m)->cut;
    uv_barrier_wait(&c->barrier);
    if (snap_shard_begin(c->s, sh) != 0) {
        /* snap_part_begin has counted the part finished and failed the
         * snapshot; nothing more to do here. */
    }
    if (atomic_fetch_sub(&c->left, 1) == 1) {
        /* Everyone has left uv_barrier_wait: safe to destroy. */
        uv_barrier_destroy(&c->barrier);
        free(c);
    }
}

int snap_group_cut(struct snap *s, struct shard_group *g)
{
    unsigned n = shard_group_size(g);
    assert(n == s->nparts);
    struct cut *c = calloc(1, sizeof *c + n * sizeof c->msgs[0]);
    if (!c)
        return UV_ENOMEM;
    if (uv_barrier_init(&c->barrier, n) != 0) {
        free(c);
        return UV_ENOMEM;
    }
    c->s = s;
    atomic_store(&c->left, n);
    for (unsigned i = 0; i < n; i++) {
        c->msgs[i].cut = c;
        c->msgs[i].m.handle = on_cut;
    }
    /* c may be freed by the last shard as soon as the last post is made,
     * so nothing touches it after the loop. */
    for (unsigned i = 0; i < n; i++)
        shard_post(shard_group_get(g, i), &c->msgs[i].m);
    return 0;
}

/* ------------------------------------------------------------ writer */

/* fsync the directory holding path, so the rename survives a crash. */
static int sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* rdb_write_fn for the writer: write, and start writeback of every
 * SNAP_WRITEBACK_BYTES without waiting for it. */
static int file_write(void *arg, const void *buf, size_t len)
{
    struct snap *s = arg;
    int rc = rdb_fd_write(&s->fd, buf, len);
    if (rc != 0) {
        s->sink_err = rc;
        return rc;
    }
    s->written += len;
    if (s->written - s->synced >= SNAP_WRITEBACK_BYTES) {
        /* Advisory: a failure only loses the smoothing, never data (the
         * final fsync still covers everything). */
        (void)sync_file_range(s->fd, (off_t)s->synced, (off_t)(s->written - s->synced),
                              SYNC_FILE_RANGE_WRITE);
        s->synced = s->written;
    }
    return 0;
}

/* The code for a failed rdb_writer call: the file's errno (ENOSPC for a
 * full disk), or EIO when the sink never failed. */
int snap_write_error(const struct snap *s)
{
    return s->sink_err ? s->sink_err : -EIO;
}

static void writer_main(void *arg)
{
    struct snap *s = arg;
    struct rdb_writer *w = malloc(sizeof *w);
    int err = 0;
    int64_t cur_db = -1;

    if (!w)
        err = -ENOMEM;
    else {
        rdb_writer_init(w, file_write, s);
        if (rdb_writer_begin(w, s->ctime_s, s->used_mem) != 0 ||
            rdb_writer_functions(w, s->functions, s->functions_len) != 0)
            err = snap_write_error(s);
    }
    if (err)
        snap_set_failed(s, err);

    for (;;) {
        uv_mutex_lock(&s->lock);
        while (!s->head && s->parts_done < s->nparts)
            uv_cond_wait(&s->cond, &s->lock);
        struct snap_chunk *c = s->head;
        s->head = s->tail = NULL;
        bool last = s->parts_done == s->nparts;
        uv_mutex_unlock(&s->lock);

        while (c) {
            struct snap_chunk *next = c->next;
            if (!err) {
                if ((int64_t)c->db != cur_db) {
                    /* Repeating SELECTDB for a database is valid RDB
                     * (Redis's loader and redis-check-rdb just switch);
                     * the size hints are only for the first visit. */
                    cur_db = c->db;
                    if (rdb_writer_select_db(w, c->db, 0, 0) != 0)
                        err = snap_write_error(s);
                }
                if (!err && rdb_writer_raw(w, c->data, c->len, c->keys) != 0)
                    err = snap_write_error(s);
                if (err)
                    snap_set_failed(s, err);
            }
            /* A container's head: its elements follow before anything
             * else, as the part captures them (failed or not, the part
             * ends every container it started). */
            if (c->big)
                snap_big_write(s, w, c->big, &err);
            atomic_fetch_sub(&s->queued, c->len);
            free(c);
            c = next;
        }
        if (last)
            break;
    }
    /* A shard's allocation failure is recorded in failed, not err. */
    if (!err)
        err = atomic_load(&s->failed);
    if (!err && rdb_writer_end(w) != 0)
        err = snap_write_error(s);
    if (!err && fsync(s->fd) != 0)
        err = -errno;
    /* Under the lock: snap_get_stats may read them on any thread while the
     * capture still runs. */
    uv_mutex_lock(&s->lock);
    if (w) {
        s->keys = w->keys;
        s->bytes = w->bytes;
    }
    uv_mutex_unlock(&s->lock);
    free(w);
    /* Renamed or removed while still open, so the lock taken in
     * snap_create covers the temp name for as long as it exists. The
     * data is fsynced by then: a close failing after the rename cannot
     * have lost any of it, but is still reported. */
    if (!err && rename(s->tmp_path, s->path) != 0)
        err = -errno;
    if (err)
        unlink(s->tmp_path);
    if (close(s->fd) != 0 && !err)
        err = -errno;
    s->fd = -1;
    if (!err)
        err = sync_dir(s->path);
    if (err)
        snap_set_failed(s, err);
    uv_mutex_lock(&s->lock);
    s->status = err;
    uv_mutex_unlock(&s->lock);
    if (s->on_done)
        s->on_done(s->arg, s, err);
}

int snap_create(const struct snap_opts *o, struct snap **out)
{
    struct snap *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->path = strdup(o->path);
    s->tmp_path = strdup(o->tmp_path);
    s->functions = o->functions_len ? malloc(o->functions_len) : NULL;
    if (!s->path || !s->tmp_path || (o->functions_len && !s->functions)) {
        free(s->path);
        free(s->tmp_path);
        free(s->functions);
        free(s);
        return -ENOMEM;
    }
    if (o->functions_len)
        memcpy(s->functions, o->functions, o->functions_len);
    s->functions_len = o->functions_len;
    s->nparts = o->nparts;
    s->ctime_s = o->ctime_s;
    s->used_mem = o->used_mem;
    s->queue_limit = o->queue_limit ? o->queue_limit : SNAP_DEFAULT_QUEUE_LIMIT;
    s->slice_ns = o->slice_ns ? o->slice_ns : SNAP_DEFAULT_SLICE_NS;
    s->compress = o->compress;
    s->on_done = o->on_done;
    s->arg = o->arg;
    /* Locked before it is truncated, and for as long as it is written: a
     * start-up clean-up in another process removes only unlocked temp
     * files, and the file of a live save (same name from another pid
     * namespace) is refused here rather than clobbered. */
    s->fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    int rc = s->fd < 0 ? -errno : 0;
    bool ours = false;
    if (rc == 0 && flock(s->fd, LOCK_EX | LOCK_NB) != 0)
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
    else if (rc == 0)
        ours = true;
    if (rc == 0 && ftruncate(s->fd, 0) != 0)
        rc = -errno;
    if (rc == 0 && (rc = uv_mutex_init(&s->lock)) == 0) {
        if ((rc = uv_cond_init(&s->cond)) == 0) {
            if ((rc = uv_thread_create(&s->writer, writer_main, s)) == 0) {
                *out = s;
                return 0;
            }
            uv_cond_destroy(&s->cond);
        }
        uv_mutex_destroy(&s->lock);
    }
    if (s->fd >= 0) {
        if (ours)
            unlink(s->tmp_path);
        close(s->fd);
    }
    free(s->path);
    free(s->tmp_path);
    free(s->functions);
    free(s);
    return rc;
}

void snap_destroy(struct snap *s)
{
    if (!s)
        return;
    uv_thread_join(&s->writer);
    uv_cond_destroy(&s->cond);
    uv_mutex_destroy(&s->lock);
    free(s->path);
    free(s->tmp_path);
    free(s->functions);
    free(s);
}

void snap_cancel(struct snap *s)
{
    snap_set_failed(s, SNAP_ENOMEM);
    uv_mutex_lock(&s->lock);
    s->parts_done = s->nparts;
    uv_cond_signal(&s->cond);
    uv_mutex_unlock(&s->lock);
}

void snap_get_stats(struct snap *s, struct snap_stats *out)
{
    memset(out, 0, sizeof *out);
    uv_mutex_lock(&s->lock);
    out->keys = s->keys;
    out->bytes = s->bytes;
    out->status = s->status;
    uv_mutex_unlock(&s->lock);
    out->write_captures = atomic_load(&s->write_captures);
    out->write_capture_keys = atomic_load(&s->write_capture_keys);
    out->cursor_captures = atomic_load(&s->cursor_captures);
    out->big_values = atomic_load(&s->big_values);
    out->big_write_elements = atomic_load(&s->big_write_elements);
    out->queue_peak = atomic_load(&s->queue_peak);
}
