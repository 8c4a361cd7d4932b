/* group_local.c — the grouped requests of a loop turn for the worker's own
 * shard (program order, order.c). They run on this thread, when the
 * group's part here does (at once when the part may run first, txn.c's
 * local_first_ok), so they need neither requests nor a batch, which are
 * made to cross to another thread: each is a compact entry whose
 * arguments are copied into one arena, and its reply is written straight
 * into its slot. A pipeline spanning two shards has half its requests
 * here, and each used to cost a request block, a batch entry and a reply
 * copy more than a remote one. The worker's thread only. */
#include "server/route/dispatch.h"
#include "server/route/dispatch_internal.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/hash.h"
#include "server/net/conn.h"
#include "server/net/outbuf.h"
#include "server/net/reply_fifo.h"
#include "server/net/worker.h"
#include "server/txn/txn.h"

/* Logs kept for reuse per worker (one is in flight per group not yet
 * run), and the arena bytes and entries a kept log keeps allocated. */
#define GLOCAL_POOL_MAX 8
#define GLOCAL_KEEP_BYTES ((size_t)256 * 1024)
#define GLOCAL_KEEP_ENTRIES 4096

/* One request: argc views at argv_off in the arena, then their bytes.
 * Until group_local_seal the views hold offsets, since the arena moves
 * as it grows. */
struct glocal_ent {
    struct conn *c;            /* its client (kept: c->inflight) */
    struct slot *sl;           /* where its reply goes */
    const struct cmd_def *d;   /* the command */
    cmd_exec_fn exec;          /* what runs (d->exec, or a plan's) */
    uint64_t khash;            /* hash_key() of its first key, if khashed */
    size_t argc;               /* arguments */
    size_t argv_off;           /* offset of its views in the arena */
    unsigned db;               /* SELECTed database at parse time */
    int proto;                 /* RESP version at parse time */
    bool khashed;              /* khash is known */
};

struct glocal {
    struct glocal_ent *v;      /* entries, in the order they were sent */
    size_t n, cap;             /* used and allocated */
    char *arena;               /* views and argument bytes */
    size_t alen, acap;         /* used and allocated */
    bool sealed;               /* views hold pointers */
    struct glocal *pool_next;  /* the worker's free list */
};

static void glocal_free(struct glocal *g)
{
    free(g->v);
    free(g->arena);
    free(g);
}

/* Back to w's free list (or freed), empty. */
static void glocal_recycle(struct worker *w, struct glocal *g)
{
    if (w->stopping || w->nglocal_pool >= GLOCAL_POOL_MAX) {
        glocal_free(g);
        return;
    }
    if (g->acap > GLOCAL_KEEP_BYTES) {
        free(g->arena);
        g->arena = NULL;
        g->acap = 0;
    }
    if (g->cap > GLOCAL_KEEP_ENTRIES) {
        free(g->v);
        g->v = NULL;
        g->cap = 0;
    }
    g->n = g->alen = 0;
    g->sealed = false;
    g->pool_next = w->glocal_pool;
    w->glocal_pool = g;
    w->nglocal_pool++;
}

void group_local_pool_drain(struct worker *w)
{
    while (w->glocal_pool) {
        struct glocal *g = w->glocal_pool;
        w->glocal_pool = g->pool_next;
        glocal_free(g);
    }
    w->nglocal_pool = 0;
}

/* Room for n more arena bytes. 0 or -1. */
static int arena_reserve(struct glocal *g, size_t n)
{
    if (n <= g->acap - g->alen)
        return 0;
    if (n > SIZE_MAX / 2 - g->alen)
        return -1;
    size_t cap = g->acap ? g->acap : 4096;
    while (cap - g->alen < n)
        cap *= 2;
    char *a = realloc(g->arena, cap);
    if (!a)
        return -1;
    g->arena = a;
    g->acap = cap;
    return 0;
}

int group_local_add(struct worker *w, struct conn *c, struct slot *sl, const struct cmd_def *d,
                    cmd_exec_fn exec, size_t argc, const struct resp_arg *argv,
                    const uint64_t *khash)
{
    struct glocal *g = w->glocal;
    if (!g) {
        g = w->glocal_pool;
        if (g) {
            w->glocal_pool = g->pool_next;
            w->nglocal_pool--;
        } else if (!(g = calloc(1, sizeof *g))) {
            return -1;
        }
        w->glocal = g;
    }
    assert(!g->sealed);
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        struct glocal_ent *v = realloc(g->v, cap * sizeof *v);
        if (!v)
            return -1;
        g->v = v;
        g->cap = cap;
    }
    /* Views aligned for struct resp_arg, then the bytes. */
    size_t pad = (-g->alen) & (_Alignof(struct resp_arg) - 1);
    size_t bytes = resp_args_len(argv, argc);
    size_t views = argc * sizeof(struct resp_arg);
    if (bytes > SIZE_MAX / 2 || arena_reserve(g, pad + views + bytes) != 0)
        return -1;
    size_t at = g->alen + pad;
    struct resp_arg *dst = (struct resp_arg *)(void *)(g->arena + at);
    size_t off = at + views;
    for (size_t i = 0; i < argc; i++) {
        if (argv[i].len)
            memcpy(g->arena + off, argv[i].ptr, argv[i].len);
        dst[i].ptr = (const char *)(uintptr_t)off; /* (group_local_seal) */
        dst[i].len = argv[i].len;
        off += argv[i].len;
    }
    g->alen = off;
    struct glocal_ent *e = &g->v[g->n++];
    e->c = c;
    e->sl = sl;
    e->d = d;
    e->exec = exec;
    e->khashed = khash != NULL;
    e->khash = khash ? *khash : 0;
    e->argc = argc;
    e->argv_off = at;
    e->db = c->db;
    e->proto = c->proto;
    return 0;
}

/* e's views (after group_local_seal). */
static struct resp_arg *ent_argv(const struct glocal *g, const struct glocal_ent *e)
{
    return (struct resp_arg *)(void *)(g->arena + e->argv_off);
}

struct glocal *group_local_seal(struct worker *w)
{
    struct glocal *g = w->glocal;
    if (!g)
        return NULL;
    w->glocal = NULL;
    if (g->n == 0) { /* (its only add failed: the client was closed) */
        glocal_recycle(w, g);
        return NULL;
    }
    for (size_t i = 0; i < g->n; i++) {
        struct resp_arg *argv = ent_argv(g, &g->v[i]);
        for (size_t j = 0; j < g->v[i].argc; j++)
            argv[j].ptr = g->arena + (uintptr_t)argv[j].ptr;
    }
    g->sealed = true;
    return g;
}

int group_local_lock(struct txn *t, const struct glocal *g, unsigned shard)
{
    assert(g->sealed);
    for (size_t i = 0; i < g->n; i++) {
        const struct glocal_ent *e = &g->v[i];
        int rc = order_lock_cmd(t, e->d, e->db, e->argc, ent_argv(g, e),
                                e->khashed ? &e->khash : NULL, shard);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Ask for the map lines of the keys of v[0..n) hashed by routing (plain
 * single-key commands), as batch.c does for requests. */
static void prefetch_keys(struct shard *s, const struct glocal_ent *v, size_t n)
{
    uint64_t h[DISPATCH_PREFETCH];
    unsigned db[DISPATCH_PREFETCH];
    unsigned k = 0;
    for (size_t i = 0; i < n && k < DISPATCH_PREFETCH; i++) {
        if (!v[i].khashed)
            continue;
        h[k] = v[i].khash;
        db[k++] = v[i].db;
    }
    dispatch_prefetch_map(s, h, db, k);
}

void group_local_exec(struct shard *s, void *arg)
{
    struct glocal *g = arg;
    struct worker *w = s->user;
    int64_t now_ms = clock_wall_ms();
    assert(g->sealed);
    for (size_t i = 0; i < g->n; i++) {
        if (i % DISPATCH_PREFETCH == 0)
            prefetch_keys(s, g->v + i, g->n - i);
        const struct glocal_ent *e = &g->v[i];
        /* A closed client's command still runs (it was read, as Redis
         * would run it); its reply stays in its slot, freed with the
         * client once nothing of it is in flight. */
        struct rbuf *out = &e->sl->out;
        size_t before = out->len;
        struct resp_arg *argv = ent_argv(g, e);
        if (e->khashed)
            remember_key_hash(e->d, e->argc, argv, e->khash);
        run_exec(s, e->d, e->exec, e->db, e->proto, e->argc, argv, out, now_ms, NULL, e->c);
        hash_key_forget();
        size_t len = out->len - before;
        if (!(e->c->flags & CONN_CLOSING))
            outbuf_local(e->c, len); /* (a big one counts at once) */
        dispatch_slot_done(e->c, e->sl, len);
    }
    glocal_recycle(w, g);
}

void group_local_fail(struct worker *w, struct glocal *g)
{
    for (size_t i = 0; i < g->n; i++) {
        g->v[i].sl->out.oom = true; /* slot_complete sends an error instead */
        dispatch_slot_done(g->v[i].c, g->v[i].sl, 0);
    }
    glocal_recycle(w, g);
}
