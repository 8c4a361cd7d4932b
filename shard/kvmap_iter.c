/* kvmap_iter.c — the per-shard map's walkers: the SCAN cursor, random
 * picks, active expiry, and the write-epoch and segment API that snapshots
 * use. Split from kvmap.c, whose layout they share through
 * kvmap_internal.h. Runs only on the owner thread. */
#include "shard/kvmap.h"

#include <assert.h>
#include <string.h>

#include "common/clock.h"
#include "shard/kventry.h"
#include "shard/kvmap_internal.h"

/* Buckets visited between clock reads in kvmap_expire_slice. */
#define SLICE_EXPIRE_CHECK 64

/* Reverse the bits of v (the scan cursor counts from the high bits). */
static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0fULL) | ((v & 0x0f0f0f0f0f0f0f0fULL) << 4);
    return __builtin_bswap64(v);
}

/* Increment the cursor's bits above mask, counting from the top bit down,
 * so buckets of a table of any size are visited in an order that stays
 * valid when the table doubles or halves between calls. */
static inline uint64_t cursor_next(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

typedef void (*bucket_fn)(struct kvmap *m, int ti, uint64_t idx, void *ctx);

/* One step of the reverse-binary scan: visit the buckets at cursor v (in a
 * rehash: the smaller table's bucket and all its expansions in the larger)
 * and return the next cursor. *nbuckets counts the buckets visited. */
static uint64_t scan_step(struct kvmap *m, uint64_t v, bucket_fn fn, void *ctx, uint64_t *nbuckets)
{
    if (!rehashing(m)) {
        fn(m, 0, v & m->t[0].mask, ctx);
        *nbuckets += 1;
        return cursor_next(v, m->t[0].mask);
    }
    int small = m->t[0].size <= m->t[1].size ? 0 : 1;
    int big = 1 - small;
    uint64_t m0 = m->t[small].mask, m1 = m->t[big].mask;
    fn(m, small, v & m0, ctx);
    *nbuckets += 1;
    do {
        fn(m, big, v & m1, ctx);
        *nbuckets += 1;
        v = cursor_next(v, m1);
    } while (v & (m0 ^ m1));
    return v;
}

struct scan_ctx {
    int64_t now_ms;    /* entries expired at this time are skipped */
    kvmap_visit_fn fn; /* the caller's visitor */
    void *arg;         /* its argument */
};

static void scan_bucket(struct kvmap *m, int ti, uint64_t idx, void *ctx)
{
    struct scan_ctx *c = ctx;
    for (struct kventry *e = m->t[ti].bucket[idx]; e; e = kventry_next(e))
        if (!kventry_expired(e, c->now_ms))
            c->fn(c->arg, e);
}

uint64_t kvmap_scan(struct kvmap *m, uint64_t cursor, int64_t now_ms, kvmap_visit_fn fn, void *arg)
{
    ASSERT_OWNER(m);
    if (kvmap_count(m) == 0)
        return 0;
    struct scan_ctx c = {now_ms, fn, arg};
    uint64_t n = 0;
    return scan_step(m, cursor, scan_bucket, &c, &n);
}

/* xorshift64*: kvmap_random needs spread, not cryptographic strength. */
static uint64_t rng_next(struct kvmap *m)
{
    uint64_t x = m->rng ? m->rng : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    m->rng = x;
    return x * 0x2545f4914f6cdd1dULL;
}

struct kventry *kvmap_random(struct kvmap *m, int64_t now_ms)
{
    ASSERT_WRITABLE(m); /* may reap an expired pick */
    for (;;) {
        if (kvmap_count(m) == 0)
            return NULL;
        kvmap_rehash_step(m, STEP_BUCKETS);
        /* Pick non-empty buckets uniformly over the live range of both
         * tables (t[0] below rehash_idx is empty). The shrink rule keeps
         * the load above 0.1, so this takes about 10 tries at worst. */
        int ti;
        uint64_t idx;
        for (;;) {
            if (rehashing(m)) {
                uint64_t lo = (uint64_t)m->rehash_idx;
                uint64_t span = m->t[0].size + m->t[1].size - lo;
                uint64_t r = lo + rng_next(m) % span;
                ti = r >= m->t[0].size ? 1 : 0;
                idx = ti ? r - m->t[0].size : r;
            } else {
                ti = 0;
                idx = rng_next(m) & m->t[0].mask;
            }
            if (m->t[ti].bucket[idx])
                break;
        }
        uint64_t len = 0;
        for (struct kventry *e = m->t[ti].bucket[idx]; e; e = kventry_next(e))
            len++;
        uint64_t k = rng_next(m) % len;
        struct kventry **link = &m->t[ti].bucket[idx];
        while (k--)
            link = kventry_next_slot(kv_slot_get(link));
        if (!kventry_expired(kv_slot_get(link), now_ms))
            return kv_slot_get(link);
        report_event(m, KVMAP_EV_EXPIRED, kv_slot_get(link));
        remove_at(m, ti, idx, link);
        m->expired++;
        kvmap_check_resize_after_delete(m);
    }
}

/* Redis's activeExpireCycle samples 20 volatile keys per round and folds
 * their mean TTL into db->avg_ttl with weight 1/50; the walk here folds
 * every 20 live volatile keys it passes the same way, so INFO's avg_ttl
 * moves at Redis's pace per key looked at. */
#define AVG_TTL_SAMPLES 20
#define AVG_TTL_WEIGHT 50

struct expire_ctx {
    int64_t now_ms;    /* entries with expiry < now_ms are reaped */
    uint64_t removed;  /* how many were */
    uint64_t sampled;  /* volatile entries met, reaped or not */
    int64_t ttl_sum;   /* TTLs left of the live volatile entries passed */
    unsigned ttl_n;    /* how many, since the last fold */
    uint64_t examined; /* entries looked at */
};

/* Fold the sampled TTLs into the map's running average, as Redis does. */
static void fold_avg_ttl(struct kvmap *m, struct expire_ctx *c)
{
    if (c->ttl_n == 0)
        return;
    int64_t avg = c->ttl_sum / c->ttl_n;
    if (m->avg_ttl == 0)
        m->avg_ttl = avg;
    else
        m->avg_ttl = (m->avg_ttl / AVG_TTL_WEIGHT) * (AVG_TTL_WEIGHT - 1) + avg / AVG_TTL_WEIGHT;
    c->ttl_sum = 0;
    c->ttl_n = 0;
}

static void expire_bucket(struct kvmap *m, int ti, uint64_t idx, void *ctx)
{
    struct expire_ctx *c = ctx;
    struct kventry **link = &m->t[ti].bucket[idx];
    while (kv_slot_get(link)) {
        struct kventry *e = kv_slot_get(link);
        c->examined++;
        if (kventry_expired(e, c->now_ms)) {
            report_event(m, KVMAP_EV_EXPIRED, e);
            remove_at(m, ti, idx, link);
            c->removed++;
            c->sampled++;
            continue;
        }
        int64_t when = kventry_expire_ms(e);
        if (when != KVMAP_NO_EXPIRE)
            c->sampled++;
        if (when != KVMAP_NO_EXPIRE && when > c->now_ms) {
            c->ttl_sum += when - c->now_ms;
            if (++c->ttl_n == AVG_TTL_SAMPLES)
                fold_avg_ttl(m, c);
        }
        link = kventry_next_slot(e);
    }
}

uint64_t kvmap_expire_slice(struct kvmap *m, int64_t now_ms, uint64_t budget_ns)
{
    ASSERT_WRITABLE(m);
    if (m->keys_with_ttl == 0) {
        m->avg_ttl = 0; /* as Redis, when the db has no volatile key */
        return 0;
    }
    uint64_t start = clock_mono_ns();
    uint64_t total = m->t[0].size + m->t[1].size;
    uint64_t visited = 0, next_check = SLICE_EXPIRE_CHECK;
    struct expire_ctx c = {now_ms, 0, 0, 0, 0, 0};
    uint64_t v = m->expire_cursor;
    /* Tables do not change size inside this loop (removals never start a
     * resize here), so the reverse-binary cursor stays valid throughout.
     * One pass is as many bucket visits as there are buckets, starting
     * wherever the last slice stopped. */
    do {
        v = scan_step(m, v, expire_bucket, &c, &visited);
        if (visited >= next_check) {
            next_check = visited + SLICE_EXPIRE_CHECK;
            if (clock_mono_ns() - start >= budget_ns) {
                m->expire_capped++;
                break;
            }
        }
    } while (visited < total && m->keys_with_ttl > 0);
    m->expire_cursor = v;
    fold_avg_ttl(m, &c);
    m->expire_sampled += c.sampled;
    m->expired += c.removed;
    m->expire_examined += c.examined;
    kvmap_check_resize_after_delete(m);
    return c.removed;
}

void kvmap_expire_counts(const struct kvmap *m, uint64_t *sampled, uint64_t *capped)
{
    *sampled = m->expire_sampled;
    *capped = m->expire_capped;
}

uint64_t kvmap_expire_examined(const struct kvmap *m)
{
    ASSERT_OWNER(m);
    return m->expire_examined;
}

uint64_t kvmap_epoch_begin(struct kvmap *m, kvmap_capture_fn fn, void *arg)
{
    ASSERT_WRITABLE(m);
    assert(!m->capture_fn);
    if (kvmap_stamps_attach(m) != 0)
        return 0;
    m->epoch++;
    m->capture_epoch = m->epoch;
    m->capture_fn = fn;
    m->capture_arg = arg;
    return m->epoch;
}

void kvmap_epoch_end(struct kvmap *m)
{
    ASSERT_WRITABLE(m);
    m->capture_fn = NULL;
    m->capture_arg = NULL;
    m->retire_fn = NULL;
    kvmap_stamps_detach(m);
}

void kvmap_epoch_on_retire(struct kvmap *m, kvmap_retire_fn fn)
{
    ASSERT_OWNER(m);
    assert(m->capture_fn);
    m->retire_fn = fn;
}

bool kvmap_epoch_armed(const struct kvmap *m)
{
    return m->capture_fn != NULL;
}

bool kvmap_epoch_retire(struct kvmap *m, void *owner, struct mem_acct *a)
{
    /* No owner check: a stopped shard's maps are freed by another thread,
     * after the shard's snapshots (and so their captures) have ended. */
    if (!m->capture_fn || !m->retire_fn)
        return false;
    m->retire_fn(m->capture_arg, owner, a);
    return true;
}

uint64_t kvmap_segment_epoch(const struct kvmap *m, int table, size_t seg)
{
    ASSERT_OWNER(m);
    assert(table == 0 || table == 1);
    assert(seg < m->t[table].nseg);
    return seg_stamp(&m->t[table], seg);
}

void kvmap_segment_mark(struct kvmap *m, int table, size_t seg)
{
    ASSERT_OWNER(m);
    assert(table == 0 || table == 1);
    assert(seg < m->t[table].nseg);
    m->t[table].seg_epoch[seg] = m->epoch;
}

size_t kvmap_segments(const struct kvmap *m, int table)
{
    ASSERT_OWNER(m);
    if (table != 0 && table != 1)
        return 0;
    return (size_t)m->t[table].nseg;
}

void kvmap_segment_visit(struct kvmap *m, int table, size_t seg, kvmap_visit_fn fn, void *arg)
{
    ASSERT_OWNER(m);
    assert(table == 0 || table == 1);
    const struct kvtable *t = &m->t[table];
    assert(seg < t->nseg);
    uint64_t lo = (uint64_t)seg * KVMAP_SEGMENT_BUCKETS;
    uint64_t hi = lo + KVMAP_SEGMENT_BUCKETS < t->size ? lo + KVMAP_SEGMENT_BUCKETS : t->size;
    /* Entries are separate allocations, so walking them is one cache miss
     * after another (most of a snapshot's CPU time, by perf). Start every
     * head's load first so that the segment's misses overlap. */
    for (uint64_t i = lo; i < hi; i++)
        prefetch_entry_lines(t->bucket[i]);
    for (uint64_t i = lo; i < hi; i++)
        for (struct kventry *e = t->bucket[i]; e; e = kventry_next(e)) {
            if (kventry_next(e))
                __builtin_prefetch(kventry_next(e));
            fn(arg, e);
        }
}

void kvmap_stats(struct kvmap *m, struct kvmap_stats *st)
{
    ASSERT_OWNER(m);
    memset(st, 0, sizeof *st);
    st->keys = kvmap_count(m);
    st->keys_with_ttl = m->keys_with_ttl;
    st->buckets = m->t[0].size + m->t[1].size;
    st->load_factor = st->buckets ? (double)st->keys / (double)st->buckets : 0.0;
    st->resizes = m->resizes;
    st->rehashing = rehashing(m) ? 1 : 0;
    st->longest_chain = m->longest_chain;
    st->expired = m->expired;
    st->avg_ttl = m->avg_ttl;
    st->epoch = m->epoch;
    st->used_memory = m->used_memory;
    st->retired_bytes = m->retired_bytes;
}

/* ------------------------------------------------------------------------
 * Eviction support
 * ------------------------------------------------------------------------ */

/* Buckets visited per candidate sought, at most (Redis's dictGetSomeKeys). */
#define SAMPLE_STEPS_PER_KEY 10
/* Buckets whose heads are gathered (and prefetched) before any is read. */
#define SAMPLE_BATCH 8

/* Buckets looked at ahead of a call for the entries to prefetch: about
 * what a call of maxmemory-samples 5 visits at a load factor near 1. */
#define SAMPLE_AHEAD_BUCKETS 16

/* Draw the start of the call after next and prefetch its bucket lines;
 * prefetch the heads of the next call's first buckets, whose lines the
 * previous call fetched. Returns this call's start. A start drawn two
 * calls early is as random as one drawn now: it does not depend on what
 * the buckets hold. Evicting in a loop (one call per key), the entry
 * misses are then paid while the previous key is deleted. */
static uint64_t sample_start(struct kvmap *m, size_t n)
{
    uint64_t i = m->sample_ahead[0];
    m->sample_ahead[0] = m->sample_ahead[1];
    m->sample_ahead[1] = rng_next(m);
    if (rehashing(m))
        return i;
    struct kventry **bucket = m->t[0].bucket;
    uint64_t mask = m->t[0].mask;
    __builtin_prefetch(&bucket[m->sample_ahead[1] & mask]);
    __builtin_prefetch(&bucket[(m->sample_ahead[1] + SAMPLE_BATCH) & mask]);
    size_t got = 0;
    for (unsigned b = 0; b < SAMPLE_AHEAD_BUCKETS && got < n; b++) {
        struct kventry *e = bucket[(m->sample_ahead[0] + b) & mask];
        if (e) {
            __builtin_prefetch(e);
            got++;
        }
    }
    return i;
}

size_t kvmap_sample(struct kvmap *m, size_t n, bool volatile_only, int64_t now_ms,
                    const struct kventry **out)
{
    ASSERT_OWNER(m);
    if (n == 0 || kvmap_count(m) == 0 || (volatile_only && m->keys_with_ttl == 0))
        return 0;
    size_t seen = 0;
    uint64_t steps = (uint64_t)n * SAMPLE_STEPS_PER_KEY;
    uint64_t i = sample_start(m, n);
    while (seen < n && steps > 0) {
        /* The heads of the next non-empty buckets, as many as samples are
         * still wanted, each prefetched as it is found: every sample is a
         * cache miss on its entry (eviction's main cost in a write flood),
         * and this way they overlap instead of being paid one by one.
         * The same buckets in the same order as visiting them one by one. */
        struct kventry *heads[2 * SAMPLE_BATCH];
        unsigned nh = 0, want = (unsigned)(n - seen < SAMPLE_BATCH ? n - seen : SAMPLE_BATCH);
        unsigned batch = (unsigned)(steps < SAMPLE_BATCH ? steps : SAMPLE_BATCH);
        if (!rehashing(m)) {
            /* One table (nearly always): the loop a flood at the bound
             * runs before every write. */
            struct kventry **bucket = m->t[0].bucket;
            uint64_t mask = m->t[0].mask;
            unsigned b = 0;
            for (; b < batch && nh < want; b++) {
                struct kventry *e = bucket[(i + b) & mask];
                if (e) {
                    __builtin_prefetch(e);
                    heads[nh++] = e;
                }
            }
            i += b;
            steps -= b;
        } else {
            for (unsigned b = 0; b < batch && nh < want; b++, steps--, i++) {
                for (int t = 0; t < 2; t++) {
                    const struct kvtable *tb = &m->t[t];
                    /* t[0] below rehash_idx has moved out already. */
                    uint64_t idx = i & tb->mask;
                    if (t == 0 && idx < (uint64_t)m->rehash_idx)
                        continue;
                    struct kventry *e = tb->bucket[idx];
                    if (e) {
                        __builtin_prefetch(e);
                        heads[nh++] = e;
                    }
                }
            }
        }
        for (unsigned h = 0; h < nh && seen < n; h++) {
            for (struct kventry *e = heads[h]; e && seen < n; e = kventry_next(e)) {
                if (kventry_expired(e, now_ms))
                    continue;
                if (volatile_only && !(e->flags & KVENTRY_EXPIRE))
                    continue;
                out[seen++] = e;
            }
        }
    }
    return seen;
}

uint64_t kvmap_evict_rank(const struct kvmap *m, const struct kventry *e, int64_t now_ms)
{
    uint32_t s = kventry_stamp_get(e);
    if (m->access == KVMAP_ACCESS_LFU)
        return 255 - lfu_decayed(s, now_ms, m->lfu_decay_time);
    if (m->access == KVMAP_ACCESS_LRU)
        return (uint64_t)((lru_now(now_ms) - s) & KVENTRY_STAMP_MAX) * 1000;
    return 0;
}

uint64_t kvmap_idle_seconds(const struct kvmap *m, const struct kventry *e, int64_t now_ms)
{
    if (m->access != KVMAP_ACCESS_LRU)
        return 0;
    return (lru_now(now_ms) - kventry_stamp_get(e)) & KVENTRY_STAMP_MAX;
}

int kvmap_lfu_freq(const struct kvmap *m, const struct kventry *e, int64_t now_ms)
{
    if (m->access != KVMAP_ACCESS_LFU)
        return -1;
    return (int)lfu_decayed(kventry_stamp_get(e), now_ms, m->lfu_decay_time);
}

int kvmap_access(const struct kvmap *m)
{
    return m->access;
}
