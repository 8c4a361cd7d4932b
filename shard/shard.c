/* shard.c — the shard runtime: one thread per shard, each with its own
 * jemalloc arena, libuv loop, mailbox, maps and a 10 ms cron for active
 * expiry and idle rehash. The control functions (create/start/stop/destroy)
 * run on the embedder's thread; everything else on the shard threads. */
#include "shard/shard.h"

#include <assert.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/hash.h"
#include "shard/tval.h"

/* The cron period. Redis's serverCron runs at 10 Hz with active expiry at
 * most 25% of it; we tick more often with a smaller slice so that no single
 * tick adds more than about a millisecond to anyone's latency. */
#define SHARD_CRON_MS 10
/* Active expiry budget per tick, over all databases of a shard: 1 ms of
 * every 10 ms, and nothing when no key has a TTL (kvmap_expire_slice
 * returns at once then). */
#define SHARD_EXPIRE_BUDGET_NS 1000000u
/* The longer rounds while many keys expire: shard.h. */
/* Idle rehash budget per tick: requests already move buckets, this only
 * finishes a rehash on a shard that has gone quiet. */
#define SHARD_REHASH_BUDGET_NS 200000u
/* Lazy free budget per tick (big hashes and sets deleted, shard/tval.h):
 * half a millisecond of every 10 frees about 10 million elements a second,
 * and no tick pauses the shard for long. */
#define SHARD_LAZYFREE_BUDGET_NS 500000u
/* Defaults for shard_group_opts zeros. */
#define SHARD_DEFAULT_NDB 16
/* Sanity bounds on options: more shards than this is a configuration error
 * (one thread per core, and no machine we target has a thousand), and 65536
 * databases per shard is far beyond any real setup (Redis defaults to 16). */
#define SHARD_MAX_SHARDS 1024
#define SHARD_MAX_DB     65536

/* Per-shard state private to this file, wrapped around the public struct. */
struct shard_slot {
    struct shard s;   /* the public part; must stay first for slot_of() */
    int start_rc;     /* this thread's start-up result (under group lock) */
    bool joinable;    /* a thread was created and not joined yet */
    unsigned cron_db; /* database the next expiry slice starts with */
};

struct shard_group {
    struct shard_group_opts opts; /* copy, defaults filled in */
    unsigned n;                   /* number of shards */
    struct shard_slot *slots;     /* n slots */
    uv_mutex_t lock;              /* guards ready and slots' start_rc at start-up */
    uv_cond_t cond;               /* signalled when a thread reports */
    unsigned ready;               /* 1 once the thread being started reported */
    bool running;                 /* started and not stopped; control thread only */
};

/* The shard the calling thread runs, NULL on other threads. */
static _Thread_local struct shard *current_shard;

static struct shard_slot *slot_of(struct shard *s)
{
    return (struct shard_slot *)s;
}

struct shard *shard_current(void)
{
    return current_shard;
}

struct shard_group *shard_group_create(const struct shard_group_opts *opts)
{
    struct shard_group_opts o = {0};
    if (opts)
        o = *opts;
    if (o.nshards == 0)
        o.nshards = uv_available_parallelism();
    if (o.ndb == 0)
        o.ndb = SHARD_DEFAULT_NDB;
    if (o.max_value == 0)
        o.max_value = KVMAP_DEFAULT_MAX_VALUE;
    if (o.nshards == 0 || o.nshards > SHARD_MAX_SHARDS || o.ndb > SHARD_MAX_DB)
        return NULL;

    struct shard_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->slots = calloc(o.nshards, sizeof *g->slots);
    if (!g->slots) {
        free(g);
        return NULL;
    }
    if (uv_mutex_init(&g->lock) != 0) {
        free(g->slots);
        free(g);
        return NULL;
    }
    if (uv_cond_init(&g->cond) != 0) {
        uv_mutex_destroy(&g->lock);
        free(g->slots);
        free(g);
        return NULL;
    }
    g->opts = o;
    g->n = o.nshards;
    for (unsigned i = 0; i < g->n; i++) {
        struct shard *s = &g->slots[i].s;
        s->id = i;
        s->group = g;
        s->ndb = o.ndb;
        s->arena = -1;
    }
    return g;
}

/* Create the maps on first start, or adopt them on a restart (the previous
 * owner thread has been joined, so nobody else can be using them). */
static int shard_maps_attach(struct shard *s)
{
    struct shard_group *g = s->group;
    if (s->db) {
        for (unsigned i = 0; i < s->ndb; i++)
            kvmap_bind_owner(s->db[i]);
        return 0;
    }
    struct kvmap **db = calloc(s->ndb, sizeof *db);
    if (!db)
        return UV_ENOMEM;
    for (unsigned i = 0; i < s->ndb; i++) {
        db[i] = kvmap_create(&s->mem);
        if (!db[i]) {
            while (i-- > 0)
                kvmap_destroy(db[i]);
            free(db);
            return UV_ENOMEM;
        }
        kvmap_set_limits(db[i], KVMAP_DEFAULT_MAX_KEY, g->opts.max_value);
    }
    s->db = db;
    return 0;
}

uint64_t shard_expire_cycle(struct shard *s, int64_t now_ms)
{
    struct shard_slot *slot = slot_of(s);
    uint64_t start = clock_mono_ns(), reaped = 0, sampled = 0;
    uint64_t deadline = start + SHARD_EXPIRE_BUDGET_NS, cap = start + SHARD_EXPIRE_MAX_NS;
    bool capped = false;
    for (;;) {
        uint64_t removed = 0, examined = 0;
        for (unsigned k = 0; k < s->ndb; k++) {
            unsigned i = (slot->cron_db + k) % s->ndb;
            uint64_t now = clock_mono_ns();
            if (now >= deadline) {
                slot->cron_db = i; /* out of time: start here next round */
                capped = true;
                break;
            }
            uint64_t before = kvmap_expire_examined(s->db[i]), s0, c0, s1, c1;
            kvmap_expire_counts(s->db[i], &s0, &c0);
            removed += kvmap_expire_slice(s->db[i], now_ms, deadline - now);
            kvmap_expire_counts(s->db[i], &s1, &c1);
            examined += kvmap_expire_examined(s->db[i]) - before;
            sampled += s1 - s0;
            capped |= c1 != c0;
        }
        reaped += removed;
        if (examined == 0 || removed * SHARD_EXPIRE_STALE_DIV <= examined)
            break;
        uint64_t now = clock_mono_ns();
        if (now >= cap) {
            capped = true; /* still stale, out of the tick's share */
            break;
        }
        capped = false; /* another round: only the last one's cut counts */
        deadline = now + SHARD_EXPIRE_ROUND_NS < cap ? now + SHARD_EXPIRE_ROUND_NS : cap;
    }
    s->ctr.expired_active += reaped;
    /* Redis's activeExpireCycle: the tick's share of stale keys folded in
     * with weight 5% (a tick that met none folds in 0), and a count of
     * ticks cut short by the time limit. */
    double perc = sampled ? 100.0 * (double)reaped / (double)sampled : 0.0;
    s->ctr.stale_perc = perc * 0.05 + s->ctr.stale_perc * 0.95;
    if (capped)
        s->ctr.expire_capped++;
    return reaped;
}

/* One cron tick: active expiry, then a little idle rehash. */
static void on_cron(uv_timer_t *t)
{
    struct shard *s = t->data;
    shard_expire_cycle(s, clock_wall_ms());

    uint64_t deadline = clock_mono_ns() + SHARD_REHASH_BUDGET_NS;
    for (unsigned i = 0; i < s->ndb; i++) {
        uint64_t now = clock_mono_ns();
        if (now >= deadline)
            break;
        kvmap_rehash_slice(s->db[i], deadline - now);
    }
    tval_lazyfree_step(SHARD_LAZYFREE_BUDGET_NS);
}

static void close_straggler(uv_handle_t *h, void *arg)
{
    (void)arg;
    /* Anything the embedder left open would keep the loop alive forever;
     * its memory stays the embedder's, so no close callback. */
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Runs on the shard thread when shard_group_stop asks. */
static void on_stop_async(uv_async_t *h)
{
    struct shard *s = h->data;
    struct shard_group *g = s->group;
    if (g->opts.on_stop)
        g->opts.on_stop(s, g->opts.arg);
    /* Deliver what was posted before the stop, so that no sender that got
     * in before it waits forever. */
    mailbox_drain(&s->mbox);
    mailbox_close(&s->mbox, NULL);
    /* The lazy free queue is this thread's own: empty it before it ends. */
    while (tval_lazyfree_step(UINT64_MAX))
        ;
    uv_close((uv_handle_t *)&s->cron, NULL);
    uv_close((uv_handle_t *)&s->stop_async, NULL);
    uv_walk(&s->loop, close_straggler, NULL);
}

static void report_start(struct shard *s, int rc)
{
    struct shard_group *g = s->group;
    uv_mutex_lock(&g->lock);
    slot_of(s)->start_rc = rc;
    g->ready++;
    uv_cond_signal(&g->cond);
    uv_mutex_unlock(&g->lock);
}

/* Close whatever start-up managed to open and let libuv finish the closes. */
static void loop_wind_down(uv_loop_t *loop)
{
    uv_walk(loop, close_straggler, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* Close the loop for good. Returns nothing: a loop whose handles are all
 * closed always closes, anything else is a broken invariant. */
static void loop_finish(uv_loop_t *loop)
{
    if (uv_loop_close(loop) != 0) {
        /* A handle closed from its own close path needs one more turn. */
        loop_wind_down(loop);
        int closed = uv_loop_close(loop);
        assert(closed == 0);
        (void)closed;
    }
}

static void shard_main(void *arg)
{
    struct shard *s = arg;
    struct shard_group *g = s->group;

    current_shard = s;
    s->arena = mem_thread_arena_create();

    int rc = shard_maps_attach(s);
    bool have_loop = false;
    if (rc == 0 && (rc = uv_loop_init(&s->loop)) == 0) {
        have_loop = true;
        if ((rc = mailbox_init(&s->mbox, &s->loop, s)) == 0) {
            mailbox_set_idle_spin(&s->mbox, (uint64_t)g->opts.idle_spin_us * 1000);
            if ((rc = uv_timer_init(&s->loop, &s->cron)) == 0 &&
                (rc = uv_async_init(&s->loop, &s->stop_async, on_stop_async)) == 0) {
                s->cron.data = s;
                s->stop_async.data = s;
                rc = uv_timer_start(&s->cron, on_cron, SHARD_CRON_MS, SHARD_CRON_MS);
            }
        }
    }
    if (rc == 0 && g->opts.on_start && g->opts.on_start(s, g->opts.arg) != 0)
        rc = UV_ECANCELED;
    if (rc != 0) {
        /* Release every descriptor before reporting: the report is what
         * lets the next shard thread start, and it may be handed the same
         * descriptor numbers (ThreadSanitizer wants that ordered). */
        if (have_loop) {
            loop_wind_down(&s->loop);
            loop_finish(&s->loop);
        }
        current_shard = NULL;
        report_start(s, rc);
        return;
    }
    /* What setting up the maps and the worker freed would otherwise sit in
     * this thread's allocator cache, counted in used_memory, until traffic
     * happened to reuse it. */
    mem_thread_cache_flush();
    report_start(s, 0);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    loop_finish(&s->loop);
    current_shard = NULL;
}

/* Ask every running shard loop to stop and join every thread. */
static void stop_and_join(struct shard_group *g)
{
    for (unsigned i = 0; i < g->n; i++) {
        struct shard_slot *slot = &g->slots[i];
        /* Only a thread whose start succeeded has a live loop to wake;
         * a failed one is already on its way out. */
        if (slot->joinable && slot->start_rc == 0)
            uv_async_send(&slot->s.stop_async);
    }
    for (unsigned i = 0; i < g->n; i++) {
        struct shard_slot *slot = &g->slots[i];
        if (slot->joinable) {
            uv_thread_join(&slot->s.thread);
            slot->joinable = false;
        }
    }
}

int shard_group_start(struct shard_group *g)
{
    assert(shard_current() == NULL || shard_current()->group != g);
    if (g->running)
        return UV_EBUSY;

    /* One thread at a time: each is created only after the previous one
     * has finished start-up, so that a failed thread has released its
     * descriptors before the next one opens its own, and so that a failure
     * stops the start-up before more threads are spun up. */
    int rc = 0;
    for (unsigned i = 0; i < g->n && rc == 0; i++) {
        struct shard_slot *slot = &g->slots[i];
        slot->start_rc = 0;
        uv_mutex_lock(&g->lock);
        g->ready = 0;
        uv_mutex_unlock(&g->lock);
        rc = uv_thread_create(&slot->s.thread, shard_main, &slot->s);
        if (rc != 0)
            break;
        slot->joinable = true;
        uv_mutex_lock(&g->lock);
        while (g->ready == 0)
            uv_cond_wait(&g->cond, &g->lock);
        rc = slot->start_rc;
        uv_mutex_unlock(&g->lock);
    }
    if (rc != 0) {
        stop_and_join(g);
        return rc;
    }
    g->running = true;
    return 0;
}

void shard_group_stop(struct shard_group *g)
{
    assert(shard_current() == NULL || shard_current()->group != g);
    if (!g->running)
        return;
    stop_and_join(g);
    g->running = false;
}

void shard_group_destroy(struct shard_group *g)
{
    if (!g)
        return;
    shard_group_stop(g);
    for (unsigned i = 0; i < g->n; i++) {
        struct shard *s = &g->slots[i].s;
        if (!s->db)
            continue;
        /* The owner thread is gone (joined), so adopting its maps here is
         * safe, and the join ordered all its writes before ours. */
        for (unsigned d = 0; d < s->ndb; d++) {
            kvmap_bind_owner(s->db[d]);
            kvmap_destroy(s->db[d]);
        }
        free(s->db);
        s->db = NULL;
    }
    /* Big values of those maps went to this thread's lazy free queue. */
    while (tval_lazyfree_step(UINT64_MAX))
        ;
    uv_cond_destroy(&g->cond);
    uv_mutex_destroy(&g->lock);
    free(g->slots);
    free(g);
}

unsigned shard_group_size(const struct shard_group *g)
{
    return g->n;
}

struct shard *shard_group_get(struct shard_group *g, unsigned i)
{
    assert(i < g->n);
    return &g->slots[i].s;
}

unsigned shard_group_route(const struct shard_group *g, const void *key, size_t klen)
{
    return shard_group_route_hash(g, hash_key(key, klen));
}

unsigned shard_group_route_hash(const struct shard_group *g, uint64_t h)
{
    return hash_shard(h, g->n);
}

void shard_post(struct shard *s, struct mbox_msg *m)
{
    mailbox_post(&s->mbox, m);
}

struct kvmap *shard_db(struct shard *s, unsigned i)
{
    assert(current_shard == s);
    assert(i < s->ndb);
    return s->db[i];
}
