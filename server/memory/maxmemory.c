/* maxmemory.c — the server-wide memory bound. The figure compared with
 * maxmemory is INFO used_memory (the allocator's total plus the hash table
 * arrays the shards map outside it): the sum of what the shards' maps
 * hold, which each shard publishes as it changes, plus the rest of the
 * process (connections, buffers, tables of commands), which worker 0
 * estimates from the allocator once a second. A shard over
 * the bound frees its share, proportional to what it holds, so shards
 * with more data evict more and a write flood on one shard is paid for by
 * that shard. Shard threads only, except the settings and counters. */
#include "server/memory/maxmemory.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <uv.h>

#include "common/clock.h"
#include "common/mem.h"
#include "server/pubsub/notify.h"
#include "server/core/server.h"
#include "shard/evict.h"
#include "shard/kvmap.h"
#include "shard/shard.h"

/* One shard's published figures. The sizes, which every other shard
 * reads before each of its commands, have a cache line of their own and
 * change only by PUBLISH_BYTES or more, so that in a flood at the bound
 * (where a shard's size only wobbles by a key or two) the other shards
 * keep reading a clean copy instead of fetching it from the owner's core
 * at every command; the eviction count, written at every evicted key and
 * read by INFO alone, has the next line. */
struct slot {
    _Atomic int64_t used;     /* its maps' bytes (mem_acct.used), as published */
    _Atomic int64_t mapped;   /* of which mapped outside the allocator */
    char pad[64 - 16];
    _Atomic uint64_t evicted; /* keys it evicted (its shard is the only writer) */
    char pad2[64 - 8];
};

/* A shard republishes its size when it moved by this much since it last
 * did (and at every tick): the other shards may then see it off by less,
 * which the bound's slack (docs/DESIGN.md) absorbs many times over. */
#define PUBLISH_BYTES 4096

static struct slot *slots;
static unsigned nslots;
/* Bytes the process holds beyond the shards' maps (worker 0's sample). */
static _Atomic int64_t overhead;
/* The last eviction step of some shard found nothing left to evict while
 * the server was over the bound (Redis's EVICT_FAIL). */
static _Atomic bool stuck;
/* The highest allocator total sampled (worker 0's tick, INFO). */
static _Atomic size_t peak;

size_t maxmemory_note_peak(size_t allocated)
{
    size_t p = atomic_load_explicit(&peak, memory_order_relaxed);
    while (allocated > p &&
           !atomic_compare_exchange_weak_explicit(&peak, &p, allocated, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
    return allocated > p ? allocated : p;
}

/* Per shard thread: its eviction pool and the policy its maps' stamps
 * were set for. */
static _Thread_local struct evict_pool *pool;
static _Thread_local int applied_access = KVMAP_ACCESS_LRU;
static _Thread_local unsigned applied_log_factor = 10, applied_decay = 1;
/* Redis's evictionTimeProc: when a step ran out of time while still over
 * the bound, this shard keeps evicting from its loop, a step per
 * millisecond, until it is within (commands in between still run). */
static _Thread_local uv_timer_t evict_timer;
static _Thread_local bool timer_inited, timer_armed;
static _Thread_local struct shard *timer_shard;

/* Period of the background steps. */
#define EVICT_TIMER_MS 1

/* A step before a command frees what the shard grew since its previous
 * step (what the commands in between added) plus this margin, not the
 * whole excess: with the whole excess, every command of a pipeline paid a
 * full tenacity step (500 us) whenever the excess jumped (the rest of the
 * process re-sampled, a table growing), 16 of them per batch. The margin
 * wears a jump down a few keys per command; the timer does the rest. */
#define CMD_MARGIN_BYTES 256
/* This shard's usage when its last step (of any kind) ended. */
static _Thread_local int64_t step_mark;

/* Before a command, a shard whose usage moved by less than
 * CMD_DEFER_BYTES since its last step, and that ran fewer than
 * CMD_LOOK_EVERY commands since, does not look at the bound: in a flood
 * at the bound it then evicts a few dozen keys per step instead of one
 * per command, which saves the step's fixed cost (the other shards'
 * published sizes, the clock) and lets one key's sampling overlap the
 * previous key's deletion (kvmap_sample's look-ahead). The bound may be
 * passed by that much per shard, within docs/DESIGN.md's slack. Where a
 * refusal depends on the exact figure (noeviction, nothing left to
 * evict) or a step ran out of time (the timer is wearing an excess
 * down), every command still looks. */
#define CMD_DEFER_BYTES 4096
#define CMD_LOOK_EVERY 32
/* Commands that skipped the look since the last step. */
static _Thread_local unsigned deferred;

int maxmemory_setup(unsigned nshards)
{
    slots = aligned_alloc(64, sizeof(struct slot) * (nshards ? nshards : 1));
    if (!slots)
        return -1;
    for (unsigned i = 0; i < nshards; i++) {
        atomic_init(&slots[i].used, 0);
        atomic_init(&slots[i].mapped, 0);
        atomic_init(&slots[i].evicted, 0);
    }
    nslots = nshards;
    return 0;
}

void maxmemory_teardown(void)
{
    free(slots);
    slots = NULL;
    nslots = 0;
}

void maxmemory_thread_end(void)
{
    evict_pool_destroy(pool);
    pool = NULL;
    if (timer_inited) {
        uv_close((uv_handle_t *)&evict_timer, NULL);
        timer_inited = timer_armed = false;
    }
}

uint64_t maxmemory_evicted(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < nslots; i++)
        n += atomic_load_explicit(&slots[i].evicted, memory_order_relaxed);
    return n;
}

uint64_t maxmemory_shard_evicted(unsigned id)
{
    return id < nslots ? atomic_load_explicit(&slots[id].evicted, memory_order_relaxed) : 0;
}

void maxmemory_reset_evicted(unsigned id)
{
    /* The shard's own thread is the only writer of its count. */
    if (id < nslots)
        atomic_store_explicit(&slots[id].evicted, 0, memory_order_relaxed);
}

/* The stamps the policy needs, on every map of this shard: a CONFIG SET
 * of the policy (or of the LFU parameters) reaches each shard this way,
 * on its own thread. */
static void apply_policy(struct shard *s, int policy)
{
    int access = evict_policy_access(policy);
    unsigned lf = (unsigned)__atomic_load_n(&server.cfg.lfu_log_factor, __ATOMIC_RELAXED);
    unsigned dt = (unsigned)__atomic_load_n(&server.cfg.lfu_decay_time, __ATOMIC_RELAXED);
    if (access == applied_access && lf == applied_log_factor && dt == applied_decay)
        return;
    for (unsigned i = 0; i < s->ndb; i++)
        kvmap_set_access(s->db[i], access, lf, dt);
    applied_access = access;
    applied_log_factor = lf;
    applied_decay = dt;
}

/* Publish this shard's sizes: always when force (the tick), else when
 * they moved by PUBLISH_BYTES or more (a stored size the same as before
 * still takes the line away from the shards that read it). */
static void publish(struct shard *s, bool force)
{
    if (s->id >= nslots)
        return;
    struct slot *sl = &slots[s->id];
    int64_t was = atomic_load_explicit(&sl->used, memory_order_relaxed);
    int64_t moved = s->mem.used > was ? s->mem.used - was : was - s->mem.used;
    /* Where writes are refused at the bound (noeviction, or nothing left
     * to evict), the figure decides a refusal, as Redis's exact count
     * does: published at every change. No eviction flood happens then. */
    int64_t step = PUBLISH_BYTES;
    if (__atomic_load_n(&server.cfg.maxmemory_policy, __ATOMIC_RELAXED) == EVICT_NOEVICTION ||
        atomic_load_explicit(&stuck, memory_order_relaxed))
        step = 1;
    if (force || moved >= step ||
        atomic_load_explicit(&sl->mapped, memory_order_relaxed) != s->mem.mapped) {
        atomic_store_explicit(&sl->used, s->mem.used, memory_order_relaxed);
        atomic_store_explicit(&sl->mapped, s->mem.mapped, memory_order_relaxed);
    }
}

/* Redis's evictionTimeLimitUs: 50 us per tenacity step up to 10 (500 us,
 * the default), then 15% more per step, unlimited at 100. */
static uint64_t time_limit_ns(unsigned tenacity)
{
    if (tenacity <= 10)
        return 50000ull * tenacity;
    if (tenacity >= 100)
        return UINT64_MAX;
    double us = 500.0;
    for (unsigned i = 10; i < tenacity; i++)
        us *= 1.15;
    return (uint64_t)(us * 1000.0);
}

/* Bytes this shard should free now: its share of the excess. 0 when the
 * server is within the bound. */
static size_t share_to_free(struct shard *s, uint64_t maxmemory)
{
    /* This shard's own size exact, the others' as published. */
    int64_t mine = s->mem.used;
    int64_t data = mine;
    for (unsigned i = 0; i < nslots; i++)
        if (i != s->id)
            data += atomic_load_explicit(&slots[i].used, memory_order_relaxed);
    int64_t total = data + atomic_load_explicit(&overhead, memory_order_relaxed);
    if (total <= (int64_t)maxmemory || data <= 0)
        return 0;
    if (mine <= 0)
        return 0;
    /* excess * mine / data, in 128 bits when 64 would overflow. */
    int64_t excess = total - (int64_t)maxmemory, product;
    __int128 share = __builtin_mul_overflow(excess, mine, &product)
                         ? (__int128)excess * mine / data
                         : product / data;
    if (share < 1)
        share = 1;
    return (size_t)(share > mine ? mine : share);
}

/* Each evicted key is Redis's "evicted" event (published after the
 * command that made room, or at the end of the loop turn). */
static void on_evicted(void *arg, unsigned db, const void *key, size_t klen)
{
    (void)arg;
    notify_evicted(db, key, klen);
}

/* What an eviction step ended with, as Redis's performEvictions. */
enum step {
    STEP_OK,      /* within the bound (as far as this shard can tell) */
    STEP_RUNNING, /* still over, out of time: keep evicting in the background */
    STEP_FAIL,    /* over, and nothing left to evict: deny-oom commands refused */
};

static enum step set_stuck(enum step st)
{
    bool fail = st == STEP_FAIL;
    if (atomic_load_explicit(&stuck, memory_order_relaxed) != fail)
        atomic_store_explicit(&stuck, fail, memory_order_relaxed);
    return st;
}

/* Evict this shard's share within the tenacity's time; before a command
 * (per_cmd), only what the shard grew since its last step and a margin,
 * and only once a look is due (CMD_DEFER_BYTES). */
static enum step evict_share(struct shard *s, uint64_t maxmemory, int64_t now_ms, bool per_cmd)
{
    int policy = __atomic_load_n(&server.cfg.maxmemory_policy, __ATOMIC_RELAXED);
    int64_t grown = s->mem.used - step_mark;
    if (per_cmd && grown < CMD_DEFER_BYTES && grown > -CMD_DEFER_BYTES &&
        ++deferred < CMD_LOOK_EVERY && policy != EVICT_NOEVICTION && !timer_armed &&
        !atomic_load_explicit(&stuck, memory_order_relaxed))
        return STEP_OK;
    deferred = 0;
    publish(s, false);
    size_t share = share_to_free(s, maxmemory);
    step_mark = s->mem.used;
    if (share == 0)
        return set_stuck(STEP_OK);
    if (policy == EVICT_NOEVICTION)
        return STEP_FAIL;
    size_t need = share;
    if (per_cmd) {
        size_t cap = (size_t)(grown > 0 ? grown : 0) + CMD_MARGIN_BYTES;
        if (need > cap)
            need = cap;
    }
    if (!pool && !(pool = evict_pool_create()))
        return set_stuck(STEP_FAIL);
    apply_policy(s, policy);
    struct evict_req r = {
        .policy = policy,
        .samples = (unsigned)__atomic_load_n(&server.cfg.maxmemory_samples, __ATOMIC_RELAXED),
        .now_ms = now_ms,
        .need = need,
        .budget_ns = time_limit_ns(
            (unsigned)__atomic_load_n(&server.cfg.maxmemory_eviction_tenacity, __ATOMIC_RELAXED)),
        .on_evict = on_evicted,
    };
    bool done = evict_run(pool, s->db, s->ndb, &r);
    if (r.keys && s->id < nslots) {
        /* The only writer: no locked add needed. */
        _Atomic uint64_t *n = &slots[s->id].evicted;
        atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + r.keys,
                              memory_order_relaxed);
    }
    publish(s, false);
    step_mark = s->mem.used;
    /* Redis fails a step that met nothing to evict even if it freed some
     * keys first; one that only ran out of time (or, before a command,
     * freed only its part) lets the command run. */
    if (r.exhausted)
        return set_stuck(STEP_FAIL);
    return set_stuck(done && need == share ? STEP_OK : STEP_RUNNING);
}

static void on_evict_timer(uv_timer_t *t)
{
    (void)t;
    uint64_t maxmemory = __atomic_load_n(&server.cfg.maxmemory, __ATOMIC_RELAXED);
    int policy = __atomic_load_n(&server.cfg.maxmemory_policy, __ATOMIC_RELAXED);
    if (maxmemory == 0 || policy == EVICT_NOEVICTION ||
        evict_share(timer_shard, maxmemory, clock_wall_ms(), false) != STEP_RUNNING) {
        uv_timer_stop(&evict_timer);
        timer_armed = false;
    }
}

/* Keep evicting in the background after a step that ran out of time. */
static void arm_timer(struct shard *s)
{
    if (timer_armed)
        return;
    if (!timer_inited) {
        if (uv_timer_init(&s->loop, &evict_timer) != 0)
            return;
        timer_inited = true;
    }
    timer_shard = s;
    if (uv_timer_start(&evict_timer, on_evict_timer, EVICT_TIMER_MS, EVICT_TIMER_MS) == 0)
        timer_armed = true;
}

bool maxmemory_refuses_split(void)
{
    uint64_t maxmemory = __atomic_load_n(&server.cfg.maxmemory, __ATOMIC_RELAXED);
    if (maxmemory == 0)
        return false;
    int64_t total = atomic_load_explicit(&overhead, memory_order_relaxed);
    for (unsigned i = 0; i < nslots; i++)
        total += atomic_load_explicit(&slots[i].used, memory_order_relaxed);
    if (total <= (int64_t)maxmemory)
        return false;
    return __atomic_load_n(&server.cfg.maxmemory_policy, __ATOMIC_RELAXED) == EVICT_NOEVICTION ||
           atomic_load_explicit(&stuck, memory_order_relaxed);
}

void maxmemory_before_part(struct cmd_ctx *c)
{
    uint64_t maxmemory = __atomic_load_n(&server.cfg.maxmemory, __ATOMIC_RELAXED);
    if (maxmemory && c->shard &&
        evict_share(c->shard, maxmemory, c->now_ms, true) == STEP_RUNNING)
        arm_timer(c->shard);
}

bool maxmemory_out_of_memory(struct cmd_ctx *c)
{
    uint64_t maxmemory = __atomic_load_n(&server.cfg.maxmemory, __ATOMIC_RELAXED);
    if (maxmemory == 0 || !c->shard)
        return false;
    enum step st = evict_share(c->shard, maxmemory, c->now_ms, true);
    if (st == STEP_RUNNING)
        arm_timer(c->shard);
    return st == STEP_FAIL;
}

bool maxmemory_admit(const struct cmd_def *d, struct cmd_ctx *c)
{
    return !maxmemory_out_of_memory(c) || !(d->flags & CMD_DENYOOM);
}

void maxmemory_sample_process(void)
{
    size_t allocated = 0, resident = 0;
    mem_process_stats(&allocated, &resident);
    /* The shards' blocks are part of the allocator's total, their mapped
     * table arrays are not: the rest of the process is what the allocator
     * holds beyond the former. */
    int64_t data = 0, mapped = 0;
    for (unsigned i = 0; i < nslots; i++) {
        data += atomic_load_explicit(&slots[i].used, memory_order_relaxed);
        mapped += atomic_load_explicit(&slots[i].mapped, memory_order_relaxed);
    }
    maxmemory_note_peak(allocated + (size_t)(mapped > 0 ? mapped : 0));
    int64_t rest = (int64_t)allocated - (data - mapped);
    atomic_store_explicit(&overhead, rest > 0 ? rest : 0, memory_order_relaxed);
}

void maxmemory_tick(struct shard *s, bool sample_process)
{
    int policy = __atomic_load_n(&server.cfg.maxmemory_policy, __ATOMIC_RELAXED);
    apply_policy(s, policy);
    publish(s, true);
    if (sample_process)
        maxmemory_sample_process();
    uint64_t maxmemory = __atomic_load_n(&server.cfg.maxmemory, __ATOMIC_RELAXED);
    if (maxmemory && evict_share(s, maxmemory, clock_wall_ms(), false) == STEP_RUNNING)
        arm_timer(s);
}
