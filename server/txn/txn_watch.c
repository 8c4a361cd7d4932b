/* txn_watch.c — WATCH's per-shard tables: which clients watch which
 * (db, key), whether each key existed at WATCH time, and the marking of
 * watchers when a key is written. The tables are touched only by their
 * shard's owner thread; a client's struct txn_watch is shared (atomics). */
#include "server/txn/txn_watch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server/exec/cmd.h"
#include "server/util/log.h"
#include "server/core/server.h"
#include "server/txn/txn.h"
#include "shard/kvmap.h"
#include "shard/shard.h"

/* Buckets a table starts with; it doubles when fuller than one entry per
 * bucket. */
#define TXN_WATCH_MIN 16

/* A client's WATCH registration on one shard key. */
struct watch_reg {
    struct watch_reg *next;  /* other clients watching the key */
    struct txn_watch *w;     /* the client's watch (one reference) */
    bool existed;            /* the key existed (unexpired) at WATCH */
};

/* One watched key of a shard and everyone watching it. */
struct watch_ent {
    struct watch_ent *next;  /* bucket chain */
    uint64_t hash;           /* txn_locks_hash(db, key) */
    unsigned db;             /* database */
    struct watch_reg *regs;  /* watchers */
    size_t len;              /* key length */
    char key[];              /* key bytes */
};

/* One shard's table (owner thread only). */
struct watch_table {
    struct watch_ent **wb;  /* buckets, NULL until the first WATCH */
    size_t wnb;             /* bucket count (a power of two, or 0) */
    size_t wn;              /* watched keys */
};

/* Published once (release) by tables_init; txn_watch_any reads it without
 * pthread_once, as it runs after every write. */
static struct watch_table *tables;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void tables_init(void)
{
    struct watch_table *t = calloc(server.nworkers, sizeof *t);
    if (!t) {
        /* A few dozen bytes on the first write: no server without. */
        log_warn("Out of memory for the WATCH tables");
        abort();
    }
    __atomic_store_n(&tables, t, __ATOMIC_RELEASE);
}

static struct watch_table *wtab(struct shard *s)
{
    pthread_once(&tables_once, tables_init);
    return &tables[s->id];
}

bool txn_watch_any(struct shard *s)
{
    /* No tables yet on this thread's view means none of this shard's: a
     * WATCH on it went through wtab on this very thread. */
    struct watch_table *t = __atomic_load_n(&tables, __ATOMIC_ACQUIRE);
    return t && t[s->id].wn > 0;
}

struct txn_watch *txn_watch_create(void)
{
    struct txn_watch *w = malloc(sizeof *w);
    if (!w)
        return NULL;
    atomic_init(&w->dirty, false);
    atomic_init(&w->dead, false);
    atomic_init(&w->refs, 1);
    return w;
}

void txn_watch_unref(struct txn_watch *w)
{
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1)
        free(w);
}

static struct watch_ent **watch_slot(struct watch_table *ts, uint64_t h, unsigned db, const void *key,
                                     size_t len)
{
    struct watch_ent **pp = &ts->wb[h & (ts->wnb - 1)];
    /* An empty key may arrive as a NULL pointer, and memcmp's arguments
     * must not be NULL even for zero bytes. */
    for (; *pp; pp = &(*pp)->next) {
        struct watch_ent *e = *pp;
        if (e->hash == h && e->db == db && e->len == len &&
            (len == 0 || memcmp(e->key, key, len) == 0))
            return pp;
    }
    return pp;
}

static void watch_grow(struct watch_table *ts)
{
    size_t nb = ts->wnb ? ts->wnb * 2 : TXN_WATCH_MIN;
    struct watch_ent **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* chains just get longer */
    for (size_t i = 0; i < ts->wnb; i++) {
        struct watch_ent *e = ts->wb[i];
        while (e) {
            struct watch_ent *n = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = n;
        }
    }
    free(ts->wb);
    ts->wb = b;
    ts->wnb = nb;
}

/* Mark every live watcher of *pp dirty, dropping dead registrations; frees
 * the entry when nobody is left. */
static void watch_touch_ent(struct watch_table *ts, struct watch_ent **pp)
{
    struct watch_ent *e = *pp;
    struct watch_reg **rp = &e->regs;
    while (*rp) {
        struct watch_reg *g = *rp;
        if (atomic_load_explicit(&g->w->dead, memory_order_acquire)) {
            *rp = g->next;
            txn_watch_unref(g->w);
            free(g);
            continue;
        }
        atomic_store_explicit(&g->w->dirty, true, memory_order_release);
        rp = &g->next;
    }
    if (!e->regs) {
        *pp = e->next;
        free(e);
        ts->wn--;
    }
}

void txn_watch_touch(struct shard *s, unsigned db, const void *key, size_t len)
{
    struct watch_table *ts = wtab(s);
    if (ts->wn == 0)
        return;
    struct watch_ent **pp = watch_slot(ts, txn_locks_hash(db, key, len), db, key, len);
    if (*pp)
        watch_touch_ent(ts, pp);
}

void txn_watch_touch_all(struct shard *s)
{
    struct watch_table *ts = wtab(s);
    for (size_t i = 0; i < ts->wnb && ts->wn > 0; i++) {
        struct watch_ent **pp = &ts->wb[i];
        while (*pp) {
            struct watch_ent *e = *pp;
            watch_touch_ent(ts, pp);
            if (*pp == e)
                pp = &e->next;
        }
    }
}

void txn_watch_on_modified(struct cmd_ctx *c, unsigned db, const void *key, size_t len)
{
    if (!txn_watch_any(c->shard))
        return;
    /* (Every key of one database: all of this shard's watchers, as the
     * WATCH tables are not split by database.) */
    if (key)
        txn_watch_touch(c->shard, db, key, len);
    else
        txn_watch_touch_all(c->shard);
}

int txn_watch_add(struct shard *s, struct txn_watch *w, unsigned db, const void *key, size_t len,
                  int64_t now_ms)
{
    struct watch_table *ts = wtab(s);
    if (ts->wn >= ts->wnb)
        watch_grow(ts);
    if (ts->wnb == 0)
        return -1;
    uint64_t h = txn_locks_hash(db, key, len);
    struct watch_ent **pp = watch_slot(ts, h, db, key, len);
    struct watch_ent *e = *pp;
    if (e) {
        for (struct watch_reg *g = e->regs; g; g = g->next)
            if (g->w == w)
                return 0; /* watched twice: the first WATCH counts */
    }
    struct watch_reg *g = malloc(sizeof *g);
    if (!g)
        return -1;
    if (!e) {
        e = malloc(sizeof *e + len);
        if (!e) {
            free(g);
            return -1;
        }
        e->next = NULL;
        e->hash = h;
        e->db = db;
        e->regs = NULL;
        e->len = len;
        if (len)
            memcpy(e->key, key, len);
        *pp = e;
        ts->wn++;
    }
    g->w = w;
    g->existed = kvmap_find(shard_db(s, db), key, len, now_ms) != NULL;
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
    g->next = e->regs;
    e->regs = g;
    return 0;
}

bool txn_watch_expired(struct shard *s, struct txn_watch *w, unsigned db, const void *key,
                       size_t len, int64_t now_ms)
{
    struct watch_table *ts = wtab(s);
    if (ts->wn == 0)
        return false;
    struct watch_ent *e = *watch_slot(ts, txn_locks_hash(db, key, len), db, key, len);
    if (!e)
        return false;
    for (struct watch_reg *g = e->regs; g; g = g->next)
        if (g->w == w)
            return g->existed && kvmap_find(shard_db(s, db), key, len, now_ms) == NULL;
    return false;
}

void txn_watch_remove(struct shard *s, struct txn_watch *w, unsigned db, const void *key,
                      size_t len)
{
    struct watch_table *ts = wtab(s);
    if (ts->wn == 0)
        return;
    struct watch_ent **pp = watch_slot(ts, txn_locks_hash(db, key, len), db, key, len);
    struct watch_ent *e = *pp;
    if (!e)
        return;
    for (struct watch_reg **rp = &e->regs; *rp; rp = &(*rp)->next) {
        struct watch_reg *g = *rp;
        if (g->w == w) {
            *rp = g->next;
            txn_watch_unref(g->w);
            free(g);
            break;
        }
    }
    if (!e->regs) {
        *pp = e->next;
        free(e);
        ts->wn--;
    }
}
