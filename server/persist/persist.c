/* persist.c — when and where snapshots are written, what INFO and LASTSAVE
 * say about them, and loading the RDB file at start-up. The snapshot
 * machinery is shard/snapshot.c; this file owns the process-wide state
 * around it (one mutex) and the save-point timer on the main thread. */
#include "server/persist/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/mem.h"
#include "server/exec/cmd.h"
#include "server/util/log.h"
#include "server/persist/persist_dir.h"
#include "server/core/server.h"
#include "server/txn/txn.h"
#include "server/net/worker.h"
#include "shard/rdb.h"
#include "shard/snapshot.h"
#include "shard/tval.h"
#include "shard/tval_rdb.h"

/* Save-point check period: Redis checks them in serverCron; once a second
 * is as precise as the seconds they are written in. */
#define PERSIST_TIMER_MS 1000
/* After a failed save, automatic saves wait this long (Redis's
 * CONFIG_BGSAVE_RETRY_DELAY) so a full disk is not hammered. */
#define PERSIST_RETRY_DELAY_S 5
/* Most save points a "save" option may list (Redis has no limit; 16
 * pairs is far past any real configuration). */
#define PERSIST_MAX_SAVEPARAMS 16
/* Loader: records per batch message to a shard are bounded in bytes, and
 * each shard has at most this many batches in flight, so loading never
 * holds more than a few MB beyond the data itself. */
#define LOAD_BATCH_BYTES ((size_t)256 * 1024)
#define LOAD_MAX_INFLIGHT 4
/* Cursor slice per millisecond for a save someone waits for (SAVE,
 * SHUTDOWN, SIGTERM): all of it, as Redis's SAVE would block the server
 * anyway; requests still run between slices. Background saves (BGSAVE,
 * save points) use the snapshot defaults (SNAP_DEFAULT_SLICE_NS while the
 * shard is busy, SNAP_IDLE_SLICE_NS while it is idle). */
#define PERSIST_FOREGROUND_SLICE_NS 1000000u
/* Progress lines while loading: at most one a second. */
#define LOAD_PROGRESS_NS 1000000000ull

struct persist_counter persist_changes[PERSIST_MAX_COUNTERS];
_Atomic bool persist_last_failed;
struct persist_function_hooks persist_functions;

struct saveparam {
    int64_t seconds; /* at least this long since the last save ... */
    int64_t changes; /* ... and at least this many changes */
};

/* Process-wide persistence state; every field under lock. */
static struct {
    uv_mutex_t lock;                 /* guards everything below */
    uv_cond_t cond;                  /* broadcast when a snapshot ends */
    bool ready;                      /* lock and cond initialised */
    bool closed;                     /* shutting down: start nothing more */
    struct snap *running;            /* the snapshot being written, or NULL */
    struct snap *finished;           /* the last one that ended, to join */
    uint64_t run_seq;                /* snapshots started (temp names, waits) */
    uint64_t done_seq;               /* run_seq of the last one that ended */
    int done_status;                 /* and its status */
    bool scheduled;                  /* BGSAVE SCHEDULE: start after running */
    struct persist_waiter *waiters;  /* notified when running ends */
    struct persist_waiter *pending;  /* want a fresh snapshot after running */
    int64_t run_start_ms;            /* when running started */
    bool run_foreground;             /* running is a SAVE or shutdown save */
    uint64_t run_changes;            /* change count at its cut */
    uint64_t changes_base;           /* change count at the last good save */
    int64_t last_save_s;             /* LASTSAVE */
    int64_t last_try_s;              /* last start, for the retry delay */
    bool last_ok;                    /* status of the last save */
    uint64_t saves;                  /* successful saves */
    int64_t last_secs;               /* duration of the last save, -1 none */
    uint64_t last_keys, last_bytes;  /* figures of the last good file */
    uv_timer_t timer;                /* save points, on the main loop */
    bool timer_on;                   /* timer initialised */
} st;

static void ensure_ready(void)
{
    /* persist_load or persist_setup run first, on the main thread, before
     * any worker can call in. */
    if (st.ready)
        return;
    uv_mutex_init(&st.lock);
    uv_cond_init(&st.cond);
    st.ready = true;
    st.last_save_s = clock_wall_ms() / 1000;
    st.last_ok = true;
    st.last_secs = -1;
}

static uint64_t changes_total(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < PERSIST_MAX_COUNTERS && i < server.nworkers; i++)
        n += atomic_load_explicit(&persist_changes[i].n, memory_order_relaxed);
    return n;
}

/* Copies of the options persistence reads (strings may be swapped by
 * CONFIG SET; we read them under the config lock). Caller frees. */
static void read_paths(char **dir, char **file, char **save)
{
    server_config_rdlock();
    const char *d = __atomic_load_n(&server.cfg.dir, __ATOMIC_ACQUIRE);
    const char *f = __atomic_load_n(&server.cfg.dbfilename, __ATOMIC_ACQUIRE);
    const char *s = __atomic_load_n(&server.cfg.save, __ATOMIC_ACQUIRE);
    *dir = d && *d ? strdup(d) : NULL;
    if (file)
        *file = strdup(f && *f ? f : "dump.rdb");
    if (save)
        *save = s && *s ? strdup(s) : NULL;
    server_config_unlock_rd();
}

/* Parse Redis's "save" syntax: pairs of seconds and changes. Returns the
 * number of pairs, or -1 if malformed. */
static int parse_save(const char *s, struct saveparam *out, int max)
{
    int n = 0;
    const char *p = s ? s : "";
    for (;;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char *end;
        errno = 0;
        long long secs = strtoll(p, &end, 10);
        if (end == p || errno || secs < 1 || (*end != ' '))
            return -1;
        p = end;
        while (*p == ' ')
            p++;
        errno = 0;
        long long chg = strtoll(p, &end, 10);
        if (end == p || errno || chg < 0 || (*end != ' ' && *end != '\0'))
            return -1;
        p = end;
        if (n == max)
            return -1;
        out[n].seconds = secs;
        out[n].changes = chg;
        n++;
    }
    return n;
}

/* Record a save's outcome for INFO and the write check; under st.lock.
 * As in Redis, a failed SAVE or shutdown save is only reported to its
 * caller, a failed background save sets rdb_last_bgsave_status to err
 * (and so, with stop-writes-on-bgsave-error, refuses writes), and any
 * save that succeeds clears it. */
static void note_result_locked(bool ok, bool foreground)
{
    if (!ok && foreground)
        return;
    st.last_ok = ok;
    atomic_store_explicit(&persist_last_failed, !ok, memory_order_relaxed);
}

/* ----------------------------------------------------------- snapshots */

static int start_locked(bool foreground, struct persist_waiter *cut);

static void notify(struct persist_waiter *list, int status)
{
    while (list) {
        struct persist_waiter *next = list->next;
        list->fn(list->arg, status);
        list = next;
    }
}

/* The writer thread of s: the file is in place (status 0) or not. */
static void on_snap_done(void *arg, struct snap *s, int status)
{
    (void)arg;
    /* Log lines from this thread say "C", as Redis's saving child does. */
    log_set_thread_name("C");
    struct snap_stats ss;
    snap_get_stats(s, &ss);
    int64_t now_ms = clock_wall_ms();

    uv_mutex_lock(&st.lock);
    /* The previous finished snapshot's writer is joined below, outside
     * the lock: it may still be notifying waiters that take the lock. */
    struct snap *old = st.finished;
    st.finished = s;
    st.running = NULL;
    st.done_seq = st.run_seq;
    st.done_status = status;
    st.last_secs = (now_ms - st.run_start_ms + 500) / 1000;
    note_result_locked(status == 0, st.run_foreground);
    if (status == 0) {
        st.last_save_s = now_ms / 1000;
        st.changes_base = st.run_changes;
        st.saves++;
        st.last_keys = ss.keys;
        st.last_bytes = ss.bytes;
        log_notice("DB saved on disk: %" PRIu64 " keys, %" PRIu64 " bytes, %.3f seconds "
                   "(%" PRIu64 " segments captured before a write, peak queue %" PRIu64 " bytes)",
                   ss.keys, ss.bytes, (double)(now_ms - st.run_start_ms) / 1000.0,
                   ss.write_captures, ss.queue_peak);
    } else {
        log_warn("Background saving error: %s",
                 status == SNAP_ENOMEM ? "out of memory" : strerror(-status));
    }
    struct persist_waiter *done = st.waiters;
    st.waiters = NULL;
    /* Saves asked for while this one ran get a fresh snapshot, started
     * here so they need not wait for the timer. */
    if ((st.pending || st.scheduled) && !st.closed) {
        st.scheduled = false;
        if (start_locked(st.pending != NULL, NULL) == 0) {
            st.waiters = st.pending;
            st.pending = NULL;
        }
    }
    struct persist_waiter *failed = NULL;
    if (st.pending) {
        failed = st.pending;
        st.pending = NULL;
    }
    uv_cond_broadcast(&st.cond);
    uv_mutex_unlock(&st.lock);
    snap_destroy(old);
    notify(done, status);
    notify(failed, PERSIST_ESTART);
}

/* The cut: snap_shard_begin on every shard at one point of the global
 * order, through the transaction layer (a shared all-shard lock, so it is
 * ordered with multi-key commands and never lands between the rounds of
 * one). txn_all_shards must be called on a worker thread, so the request
 * travels as a message to one. */
struct cut_req {
    struct mbox_msg m;   /* to a worker's mailbox */
    struct snap *s;      /* the snapshot to begin */
    struct persist_waiter *cut; /* told when every shard has its cut, or NULL */
};

static void cut_on_shard(struct shard *sh, void *arg)
{
    /* A failure here (no memory for the part) fails the snapshot; the
     * part counts as finished, so the writer still ends. */
    snap_shard_begin(arg, sh);
}

static void cut_done(void *arg)
{
    struct cut_req *c = arg;
    if (c->cut)
        c->cut->fn(c->cut->arg, 0);
    free(c);
}

static void on_cut_request(void *owner, struct mbox_msg *m)
{
    (void)owner;
    struct cut_req *c = (struct cut_req *)m;
    if (txn_all_shards(cut_on_shard, c->s, cut_done, c, false) != 0) {
        log_warn("Could not start the snapshot cut: out of memory");
        snap_cancel(c->s);
        if (c->cut)
            c->cut->fn(c->cut->arg, PERSIST_ESTART);
        free(c);
    }
}

/* Start a snapshot of every shard; cut (if not NULL) is told when the cut
 * is taken, only when PERSIST_STARTED is returned. Under the lock; none
 * running. */
static int start_locked(bool foreground, struct persist_waiter *cut)
{
    char *dir, *file;
    read_paths(&dir, &file, NULL);
    if (!dir) {
        free(file);
        return PERSIST_EDISABLED;
    }
    int64_t now_ms = clock_wall_ms();
    size_t alloc = 0, rss = 0;
    mem_process_stats(&alloc, &rss);
    st.run_seq++;
    char path[4096], tmp[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file ? file : "dump.rdb");
    snprintf(tmp, sizeof tmp, "%s/" PERSIST_DIR_TEMP_FMT, dir, (int)getpid(), st.run_seq);
    free(dir);
    free(file);
    /* The libraries as they are at the cut's start: FUNCTION commands run
     * on connection threads, not in the shards' order, so this is as
     * close to the cut as they have. */
    void *funcs = NULL;
    size_t funcs_len = 0;
    if (persist_functions.records && persist_functions.records(&funcs, &funcs_len) != 0) {
        log_warn("Could not save the function libraries: out of memory");
        note_result_locked(false, foreground);
        return PERSIST_ESTART;
    }
    struct snap_opts o = {
        .nparts = server.nworkers,
        .functions = funcs,
        .functions_len = funcs_len,
        .path = path,
        .tmp_path = tmp,
        .ctime_s = now_ms / 1000,
        .used_mem = alloc,
        .slice_ns = foreground ? PERSIST_FOREGROUND_SLICE_NS : 0,
        .compress = __atomic_load_n(&server.cfg.rdbcompression, __ATOMIC_RELAXED),
        .on_done = on_snap_done,
        .arg = NULL,
    };
    struct snap *s;
    int rc = snap_create(&o, &s);
    free(funcs);
    st.last_try_s = now_ms / 1000;
    if (rc != 0) {
        log_warn("Failed opening the temp RDB file %s (in server root dir %s) for saving: %s",
                 tmp, path, strerror(-rc));
        note_result_locked(false, foreground);
        return PERSIST_ESTART;
    }
    st.running = s;
    st.run_start_ms = now_ms;
    st.run_foreground = foreground;
    /* Counted before the cut: a write racing the cut counts as after it,
     * so changes are over-reported, never lost. */
    st.run_changes = changes_total();
    struct cut_req *c = calloc(1, sizeof *c);
    if (!c) {
        /* No part has begun: the writer is told to give up, and its
         * on_done (which takes this lock) runs once we release it. */
        log_warn("Could not start the snapshot cut: out of memory");
        snap_cancel(s);
        return PERSIST_ESTART;
    }
    c->s = s;
    c->cut = cut;
    c->m.handle = on_cut_request;
    struct worker *w = worker_current();
    shard_post(shard_group_get(server.group, w ? w->id : 0), &c->m);
    log_notice("Background saving started (snapshot %" PRIu64 ")", st.run_seq);
    return PERSIST_STARTED;
}

int persist_bgsave(bool schedule, struct persist_waiter *cut)
{
    ensure_ready();
    uv_mutex_lock(&st.lock);
    int rc;
    if (st.closed)
        rc = PERSIST_ECLOSED;
    else if (st.running) {
        if (schedule) {
            st.scheduled = true;
            rc = PERSIST_SCHEDULED;
        } else {
            rc = PERSIST_EBUSY;
        }
    } else {
        rc = start_locked(false, cut);
    }
    uv_mutex_unlock(&st.lock);
    return rc;
}

int persist_save_async(struct persist_waiter *w)
{
    ensure_ready();
    uv_mutex_lock(&st.lock);
    int rc = PERSIST_STARTED;
    if (st.closed) {
        rc = PERSIST_ECLOSED;
    } else if (st.running) {
        char *dir;
        read_paths(&dir, NULL, NULL);
        if (!dir)
            rc = PERSIST_EDISABLED;
        free(dir);
        if (rc == PERSIST_STARTED) {
            w->next = st.pending;
            st.pending = w;
        }
    } else if ((rc = start_locked(true, NULL)) == PERSIST_STARTED) {
        w->next = st.waiters;
        st.waiters = w;
    }
    uv_mutex_unlock(&st.lock);
    return rc;
}

int64_t persist_lastsave(void)
{
    ensure_ready();
    uv_mutex_lock(&st.lock);
    int64_t t = st.last_save_s;
    uv_mutex_unlock(&st.lock);
    return t;
}

void persist_get_info(struct persist_info *out)
{
    ensure_ready();
    char *dir;
    read_paths(&dir, NULL, NULL);
    out->enabled = dir != NULL;
    free(dir);
    uint64_t total = changes_total();
    int64_t now_ms = clock_wall_ms();
    uv_mutex_lock(&st.lock);
    out->in_progress = st.running != NULL;
    out->last_ok = st.last_ok;
    out->last_save_s = st.last_save_s;
    out->changes = total >= st.changes_base ? total - st.changes_base : 0;
    out->saves = st.saves;
    out->last_bgsave_secs = st.last_secs;
    out->current_secs = st.running ? (now_ms - st.run_start_ms) / 1000 : -1;
    out->last_keys = st.last_keys;
    out->last_bytes = st.last_bytes;
    uv_mutex_unlock(&st.lock);
}

/* ------------------------------------------------------- save points */

static void on_timer(uv_timer_t *t)
{
    (void)t;
    char *dir, *save;
    read_paths(&dir, NULL, &save);
    struct saveparam sp[PERSIST_MAX_SAVEPARAMS];
    int n = dir ? parse_save(save, sp, PERSIST_MAX_SAVEPARAMS) : 0;
    free(dir);
    free(save);
    uint64_t total = changes_total();
    int64_t now_s = clock_wall_ms() / 1000;

    uv_mutex_lock(&st.lock);
    if (!st.closed && !st.running) {
        bool go = st.scheduled;
        uint64_t changes = total >= st.changes_base ? total - st.changes_base : 0;
        for (int i = 0; i < n && !go; i++) {
            /* After a failure, wait the retry delay (Redis's rule). */
            if ((int64_t)changes >= sp[i].changes && sp[i].changes > 0 &&
                now_s - st.last_save_s >= sp[i].seconds &&
                (st.last_ok || now_s - st.last_try_s >= PERSIST_RETRY_DELAY_S)) {
                log_notice("%" PRId64 " changes in %" PRId64 " seconds. Saving...", sp[i].changes,
                           sp[i].seconds);
                go = true;
            }
        }
        if (go) {
            st.scheduled = false;
            start_locked(false, NULL);
        }
    }
    /* Join a finished writer while nobody waits for it. */
    struct snap *old = NULL;
    if (st.finished && !st.running) {
        old = st.finished;
        st.finished = NULL;
    }
    uv_mutex_unlock(&st.lock);
    snap_destroy(old);
}

void persist_on_call(const struct cmd_def *d, struct cmd_ctx *c)
{
    (void)d;
    persist_note_writes(c->shard->id, c->dirty);
}

int persist_setup(uv_loop_t *loop)
{
    ensure_ready();
    int rc = uv_timer_init(loop, &st.timer);
    if (rc != 0)
        return rc;
    st.timer_on = true;
    return uv_timer_start(&st.timer, on_timer, PERSIST_TIMER_MS, PERSIST_TIMER_MS);
}

bool persist_stop_writes_configured(void)
{
    return __atomic_load_n(&server.cfg.stop_writes_on_bgsave_error, __ATOMIC_RELAXED) &&
           persist_save_on_shutdown();
}

bool persist_save_on_shutdown(void)
{
    char *dir, *save;
    read_paths(&dir, NULL, &save);
    struct saveparam sp[PERSIST_MAX_SAVEPARAMS];
    bool yes = dir && parse_save(save, sp, PERSIST_MAX_SAVEPARAMS) > 0;
    free(dir);
    free(save);
    return yes;
}

/* A blocking waiter for the main thread. */
struct sync_wait {
    bool done;      /* fn has run (under st.lock) */
    int status;     /* its status */
};

static void sync_done(void *arg, int status)
{
    struct sync_wait *w = arg;
    uv_mutex_lock(&st.lock);
    w->done = true;
    w->status = status;
    uv_cond_broadcast(&st.cond);
    uv_mutex_unlock(&st.lock);
}

int persist_shutdown_save(bool force)
{
    ensure_ready();
    if (!force && !persist_save_on_shutdown())
        return 0;
    struct sync_wait sw = {false, 0};
    struct persist_waiter w = {NULL, sync_done, &sw};
    log_notice("Saving the final RDB snapshot before exiting.");
    int rc = persist_save_async(&w);
    if (rc != PERSIST_STARTED) {
        log_warn("Error trying to save the DB, can't exit.");
        return -1;
    }
    uv_mutex_lock(&st.lock);
    while (!sw.done)
        uv_cond_wait(&st.cond, &st.lock);
    uv_mutex_unlock(&st.lock);
    if (sw.status != 0) {
        log_warn("Error trying to save the DB, can't exit.");
        return -1;
    }
    return 0;
}

void persist_teardown(void)
{
    if (!st.ready)
        return;
    uv_mutex_lock(&st.lock);
    st.closed = true;
    st.scheduled = false;
    while (st.running)
        uv_cond_wait(&st.cond, &st.lock);
    struct snap *old = st.finished;
    st.finished = NULL;
    uv_mutex_unlock(&st.lock);
    snap_destroy(old);
    if (st.timer_on) {
        uv_close((uv_handle_t *)&st.timer, NULL);
        st.timer_on = false;
    }
}

/* ------------------------------------------------------------- loading */

/* One batch of records for one shard: [db u32][kind u32][klen u32]
 * [vlen u32][expire i64][key][value], native byte order (same process). A
 * value of kind LOAD_OBJECT is a hash or set object's bytes, decoded on
 * the shard's thread (its nested maps bind to the thread that makes them,
 * and the memory is charged to the shard's account). */
enum { LOAD_STRING = 0, LOAD_OBJECT = 1 };
#define LOAD_REC_HDR 24
struct load_batch {
    struct mbox_msg m;        /* mailbox header */
    struct loader *ld;        /* the load it belongs to */
    size_t len;               /* bytes used in data */
    size_t cap;               /* bytes allocated */
    uint64_t keys;            /* records */
    unsigned char data[];     /* records */
};

struct loader {
    unsigned n;                   /* shards */
    unsigned ndb;                 /* databases */
    int64_t now_ms;               /* keys expiring before this are dropped */
    struct load_batch **cur;      /* per shard: batch being filled */
    uv_mutex_t lock;              /* guards inflight */
    uv_cond_t cond;               /* signalled when a batch is done */
    unsigned *inflight;           /* per shard: batches posted, not done */
    _Atomic int err;              /* first kvmap error on a shard */
    char obj_err[320];            /* first object that did not decode (under
                                     lock), or "" */
    _Atomic uint64_t empty;       /* empty hashes and sets skipped, as Redis */
    uint64_t loaded;              /* keys stored */
    uint64_t expired;             /* keys dropped as expired */
    uint64_t last_log_ns;         /* last progress line */
    uint64_t start_ns;            /* load start */
    uint64_t file_size;           /* for progress percentages */
};

/* Decode one hash or set object into map m (the shard's thread). An empty
 * container is skipped, as Redis's loader does; a corrupt one fails the
 * load (its text kept for the log) with KVMAP_ENOMEM's neighbour -EINVAL. */
static int load_object(struct loader *ld, struct kvmap *m, const unsigned char *key,
                       uint32_t klen, const unsigned char *obj, uint32_t olen, int64_t exp,
                       int64_t now_ms)
{
    struct tval *tv = NULL;
    char err[200];
    size_t used = 0;
    int rc = tval_rdb_decode(kvmap_acct(m), obj, olen, NULL, &tv, &used, err, sizeof err);
    if (rc == TVAL_RDB_EEMPTY) {
        atomic_fetch_add(&ld->empty, 1);
        return 0;
    }
    if (rc == 0 && used != olen) {
        tval_free(kvmap_acct(m), tv);
        rc = TVAL_RDB_ECORRUPT;
        snprintf(err, sizeof err, "%u bytes after the value", olen - (uint32_t)used);
    }
    if (rc < 0) {
        uv_mutex_lock(&ld->lock);
        if (!ld->obj_err[0])
            snprintf(ld->obj_err, sizeof ld->obj_err, "key '%.*s': %s: %s",
                     (int)(klen > 64 ? 64 : klen), (const char *)key, tval_rdb_strerror(rc),
                     err);
        uv_mutex_unlock(&ld->lock);
        return rc == TVAL_RDB_ENOMEM ? KVMAP_ENOMEM : -EINVAL;
    }
    rc = kvmap_set_tval(m, key, klen, tv, exp, now_ms);
    if (rc < 0)
        tval_free(kvmap_acct(m), tv);
    return rc < 0 ? rc : 0;
}

static void on_load_batch(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    struct load_batch *b = (struct load_batch *)m;
    struct loader *ld = b->ld;
    int64_t now_ms = clock_wall_ms();
    const unsigned char *p = b->data, *end = b->data + b->len;
    while (p < end) {
        uint32_t db, kind, klen, vlen;
        int64_t exp;
        memcpy(&db, p, 4);
        memcpy(&kind, p + 4, 4);
        memcpy(&klen, p + 8, 4);
        memcpy(&vlen, p + 12, 4);
        memcpy(&exp, p + 16, 8);
        p += LOAD_REC_HDR;
        int rc;
        if (kind == LOAD_OBJECT)
            rc = load_object(ld, shard_db(s, db), p, klen, p + klen, vlen, exp, now_ms);
        else
            rc = kvmap_set(shard_db(s, db), p, klen, p + klen, vlen, exp, now_ms);
        if (rc < 0) {
            int zero = 0;
            atomic_compare_exchange_strong(&ld->err, &zero, rc);
        }
        p += klen + vlen;
    }
    uv_mutex_lock(&ld->lock);
    ld->inflight[s->id]--;
    uv_cond_signal(&ld->cond);
    uv_mutex_unlock(&ld->lock);
    free(b);
}

static void load_post(struct loader *ld, unsigned i)
{
    struct load_batch *b = ld->cur[i];
    if (!b)
        return;
    ld->cur[i] = NULL;
    uv_mutex_lock(&ld->lock);
    while (ld->inflight[i] >= LOAD_MAX_INFLIGHT)
        uv_cond_wait(&ld->cond, &ld->lock);
    ld->inflight[i]++;
    uv_mutex_unlock(&ld->lock);
    b->m.handle = on_load_batch;
    shard_post(shard_group_get(server.group, i), &b->m);
}

static int load_stage(struct loader *ld, uint32_t kind, uint64_t db, const void *key,
                      size_t klen, const void *val, size_t vlen, int64_t expire_ms)
{
    if (db >= ld->ndb) {
        log_warn("FATAL: Data file was created with a Redis server configured to handle more "
                 "than %u databases. Exiting", ld->ndb);
        return -ERANGE;
    }
    if (expire_ms >= 0 && expire_ms < ld->now_ms) {
        ld->expired++;
        return 0;
    }
    if (klen > UINT32_MAX || vlen > UINT32_MAX)
        return -E2BIG;
    unsigned i = shard_group_route(server.group, key, klen);
    size_t need = LOAD_REC_HDR + klen + vlen;
    struct load_batch *b = ld->cur[i];
    if (b && b->cap - b->len < need) {
        load_post(ld, i);
        b = NULL;
    }
    if (!b) {
        size_t cap = need > LOAD_BATCH_BYTES ? need : LOAD_BATCH_BYTES;
        b = malloc(sizeof *b + cap);
        if (!b)
            return -ENOMEM;
        b->ld = ld;
        b->len = 0;
        b->cap = cap;
        b->keys = 0;
        ld->cur[i] = b;
    }
    unsigned char *p = b->data + b->len;
    uint32_t d32 = (uint32_t)db, k32 = (uint32_t)klen, v32 = (uint32_t)vlen;
    int64_t exp = expire_ms >= 0 ? expire_ms : KVMAP_NO_EXPIRE;
    memcpy(p, &d32, 4);
    memcpy(p + 4, &kind, 4);
    memcpy(p + 8, &k32, 4);
    memcpy(p + 12, &v32, 4);
    memcpy(p + 16, &exp, 8);
    if (klen)
        memcpy(p + LOAD_REC_HDR, key, klen);
    if (vlen)
        memcpy(p + LOAD_REC_HDR + klen, val, vlen);
    b->len += need;
    b->keys++;
    ld->loaded++;
    return 0;
}

/* A function library in the file: installed at once (a file that fails
 * later stops the server anyway). */
static int load_on_function(void *arg, const char *code, size_t len)
{
    (void)arg;
    return persist_functions.load(code, len) == 0 ? 0 : -EINVAL;
}

static int load_on_string(void *arg, uint64_t db, const char *key, size_t klen, const char *val,
                          size_t vlen, int64_t expire_ms)
{
    return load_stage(arg, LOAD_STRING, db, key, klen, val, vlen, expire_ms);
}

static int load_on_object(void *arg, uint64_t db, const char *key, size_t klen,
                          const unsigned char *obj, size_t olen, int64_t expire_ms)
{
    return load_stage(arg, LOAD_OBJECT, db, key, klen, obj, olen, expire_ms);
}

static void load_on_progress(void *arg, uint64_t bytes, uint64_t keys)
{
    struct loader *ld = arg;
    uint64_t now = clock_mono_ns();
    if (now - ld->last_log_ns < LOAD_PROGRESS_NS)
        return;
    ld->last_log_ns = now;
    log_notice("Loading RDB: %" PRIu64 " of %" PRIu64 " bytes (%.0f%%), %" PRIu64 " keys, "
               "%.1f seconds",
               bytes, ld->file_size,
               ld->file_size ? 100.0 * (double)bytes / (double)ld->file_size : 100.0, keys,
               (double)(now - ld->start_ns) / 1e9);
}

/* Wait until every batch posted so far has been stored. */
static void load_drain(struct loader *ld)
{
    for (unsigned i = 0; i < ld->n; i++)
        load_post(ld, i);
    uv_mutex_lock(&ld->lock);
    for (unsigned i = 0; i < ld->n; i++)
        while (ld->inflight[i] > 0)
            uv_cond_wait(&ld->cond, &ld->lock);
    uv_mutex_unlock(&ld->lock);
}

/* Validate options persistence reads; -1 after logging. */
static int check_options(bool *skip_non_string)
{
    char *dir, *save;
    read_paths(&dir, NULL, &save);
    struct saveparam sp[PERSIST_MAX_SAVEPARAMS];
    int rc = 0;
    if (parse_save(save, sp, PERSIST_MAX_SAVEPARAMS) < 0) {
        log_warn("Invalid save parameters: '%s' (expected pairs of seconds and changes, "
                 "e.g. \"3600 1 300 100 60 10000\")", save);
        rc = -1;
    }
    /* rdb-skip-unknown-types, or its older name rdb-skip-non-string:
     * either one set to yes skips. */
    const char *names[2] = {"rdb-skip-unknown-types", "rdb-skip-non-string"};
    const char *vals[2] = {server.cfg.rdb_skip_unknown_types, server.cfg.rdb_skip_non_string};
    *skip_non_string = false;
    for (int i = 0; i < 2; i++) {
        const char *skip = vals[i];
        if (skip && *skip && strcasecmp(skip, "yes") != 0 && strcasecmp(skip, "no") != 0) {
            log_warn("Invalid %s '%s': expected yes or no", names[i], skip);
            rc = -1;
        }
        if (skip && strcasecmp(skip, "yes") == 0)
            *skip_non_string = true;
    }
    free(dir);
    free(save);
    return rc;
}

int persist_load(void)
{
    ensure_ready();
    bool skip = false;
    if (check_options(&skip) != 0)
        return -1;
    char *dir, *file;
    read_paths(&dir, &file, NULL);
    if (!dir) {
        free(file);
        return 0;
    }
    if (persist_dir_check(dir) != 0) {
        free(dir);
        free(file);
        return -1;
    }
    persist_dir_clean(dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    free(dir);
    free(file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0; /* nothing saved yet: start empty, as Redis does */
        log_warn("Fatal error loading the DB (%s): %s. Exiting.", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    uint64_t size = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;

    struct loader ld;
    memset(&ld, 0, sizeof ld);
    ld.n = server.nworkers;
    ld.ndb = server.cfg.databases;
    ld.now_ms = clock_wall_ms();
    ld.start_ns = ld.last_log_ns = clock_mono_ns();
    ld.file_size = size;
    ld.cur = calloc(ld.n, sizeof *ld.cur);
    ld.inflight = calloc(ld.n, sizeof *ld.inflight);
    if (!ld.cur || !ld.inflight || uv_mutex_init(&ld.lock) != 0) {
        free(ld.cur);
        free(ld.inflight);
        close(fd);
        log_warn("Out of memory loading the DB. Exiting.");
        return -1;
    }
    uv_cond_init(&ld.cond);
    log_notice("Loading RDB produced by %s (%" PRIu64 " bytes)...", path, size);

    struct rdb_load_opts o = {
        .limits = {.max_key = 0, .max_value = server.cfg.proto_max_bulk_len},
        .flags = skip ? RDB_LOAD_SKIP_UNKNOWN : 0,
        .progress_every = 0,
        .arg = &ld,
        .on_function = persist_functions.load ? load_on_function : NULL,
        .on_string = load_on_string,
        .on_object = load_on_object,
        .on_progress = load_on_progress,
    };
    struct rdb_load_result res;
    int rc = rdb_load(rdb_fd_read, &fd, &o, &res);
    close(fd);
    load_drain(&ld);
    int kerr = atomic_load(&ld.err);
    uv_cond_destroy(&ld.cond);
    uv_mutex_destroy(&ld.lock);
    free(ld.cur);
    free(ld.inflight);
    double secs = (double)(clock_mono_ns() - ld.start_ns) / 1e9;
    if (rc != 0) {
        const char *why = rc == RDB_ECALLBACK ? strerror(-res.cb_err) : rdb_strerror(rc);
        log_warn("Fatal error loading the DB %s: %s: %s. The file was refused whole: fix or "
                 "remove it (redis-check-rdb can tell what is wrong). Exiting.",
                 path, why, res.msg[0] ? res.msg : "no details");
        return -1;
    }
    if (kerr != 0) {
        log_warn("Fatal error loading the DB %s: %s. The file was refused whole. Exiting.", path,
                 ld.obj_err[0] ? ld.obj_err : kvmap_strerror(kerr));
        return -1;
    }
    if (res.skipped)
        log_warn("Skipped %" PRIu64 " keys of types not loaded here (lists, zsets, streams, "
                 "modules: rdb-skip-unknown-types yes)",
                 res.skipped);
    if (atomic_load(&ld.empty))
        log_notice("Skipped %" PRIu64 " empty hashes or sets, as Redis does",
                   (uint64_t)atomic_load(&ld.empty));
    log_notice("Done loading RDB, keys loaded: %" PRIu64 ", keys expired: %" PRIu64 ".",
               ld.loaded, ld.expired);
    log_notice("DB loaded from disk: %.3f seconds", secs);
    uv_mutex_lock(&st.lock);
    st.last_save_s = clock_wall_ms() / 1000;
    uv_mutex_unlock(&st.lock);
    return 0;
}
