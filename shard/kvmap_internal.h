/* kvmap_internal.h — what kvmap.c and kvmap_iter.c share: the map's layout
 * and the small helpers both use. Private to shard/kvmap*.c: not installed,
 * not included anywhere else (use shard/kvmap.h). Owner thread only, as
 * the whole map is. */
#ifndef SKV_SHARD_KVMAP_INTERNAL_H
#define SKV_SHARD_KVMAP_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"
#include "shard/kventry.h"
#include "shard/kvmap.h"
#include "shard/tval.h"

/* Buckets moved per step inside a request, and empty buckets a step may
 * skip per bucket moved (Redis's 1 and 10): bounds a request's extra work. */
#define STEP_BUCKETS      1
#define STEP_EMPTY_VISITS 10

struct retired; /* a mapped table array waiting to be unmapped (kvmap.c) */

struct kvtable {
    struct kventry **bucket; /* size chain heads; NULL when absent */
    uint64_t *seg_epoch;     /* nseg write stamps while a capture is armed,
                              * else NULL (kvmap_stamps_attach); a stamp
                              * below base_epoch (0 when made) reads as
                              * base_epoch, so making them stays O(1) */
    uint64_t size;           /* buckets, a power of two; 0 when absent */
    uint64_t mask;           /* size - 1: bucket = hash & mask */
    uint64_t used;           /* entries chained in this table */
    uint64_t nseg;           /* segments: ceil(size / KVMAP_SEGMENT_BUCKETS) */
    uint64_t base_epoch;     /* epoch when created: every segment's stamp */
};

struct kvmap {
    struct kvtable t[2];         /* t[0] main; t[1] the target of a rehash */
    int64_t rehash_idx;          /* next t[0] bucket to move; -1 when idle */
    pthread_t owner;             /* the only thread allowed to call in */
    struct mem_acct *acct;       /* charged for every block (borrowed) */
    int64_t used_memory;         /* usable bytes of this map's own blocks */
    size_t max_key;              /* key length limit */
    size_t max_value;            /* value length limit */
    uint64_t keys_with_ttl;      /* entries with KVENTRY_EXPIRE */
    uint64_t resizes;            /* grows and shrinks started */
    uint64_t expired;            /* entries reaped because their TTL passed */
    uint64_t longest_chain;      /* longest chain built since the last resize began */
    uint8_t load_shift;          /* grow at a load factor of 1 << load_shift */
    uint64_t epoch;              /* current write epoch, stamped on writes */
    uint64_t capture_epoch;      /* epoch of the armed snapshot cut */
    kvmap_capture_fn capture_fn; /* armed capture hook, NULL when disarmed */
    void *capture_arg;           /* its argument */
    kvmap_retire_fn retire_fn;   /* armed: takes the map's owner when it is freed */
    bool in_capture;             /* inside capture_fn: writes are a bug */
    uint64_t expire_cursor;      /* kvmap_expire_slice's scan cursor */
    int64_t avg_ttl;             /* running estimate of the TTL left to live
                                    entries, ms (Redis's db->avg_ttl) */
    uint64_t expire_sampled;     /* volatile entries the active expiry met */
    uint64_t expire_capped;      /* its slices that ran out of time */
    uint64_t expire_examined;    /* entries kvmap_expire_slice looked at, ever */
    uint64_t rng;                /* kvmap_random's generator state */
    uint64_t sample_ahead[2];    /* kvmap_sample's start positions for its
                                    next two calls, drawn early so that
                                    their buckets and entries are fetched
                                    while other work runs */
    struct retired *retired;     /* old mapped arrays being unmapped */
    uint64_t retired_bytes;      /* bytes still mapped in that list */
    uint64_t destroy_idx;        /* kvmap_destroy_step's next bucket */
    uint8_t access;              /* KVMAP_ACCESS_*: what entries' stamps record */
    uint8_t lfu_log_factor;      /* lfu-log-factor (LFU counter growth) */
    uint16_t lfu_decay_time;     /* lfu-decay-time: minutes per counter step down */
    kvmap_event_fn event_fn;     /* keyspace events (kvmap_set_events), or NULL */
    void *event_arg;             /* its argument */
};

#define ASSERT_OWNER(m) assert(pthread_equal(pthread_self(), (m)->owner))
/* Writes must never happen from inside a capture hook. */
#define ASSERT_WRITABLE(m) (ASSERT_OWNER(m), assert(!(m)->in_capture))

static inline bool rehashing(const struct kvmap *m)
{
    return m->rehash_idx >= 0;
}

/* Start loading entry e (may be NULL): both lines, as an entry of a small
 * key and value may span two. */
static inline void prefetch_entry_lines(const struct kventry *e)
{
    if (e) {
        __builtin_prefetch(e);
        __builtin_prefetch((const char *)e + 63);
    }
}

/* entry_free, touch and remove_at are plain static, as they were in
 * kvmap.c before the split, not inline: that keeps the compiler's choices
 * on the write path as they were (GCC -O2 calls touch and remove_at out of
 * line; marking them inline made it inline both into every writer). Each
 * file includes its own copy; "unused" because not every file calls all. */

/* Free an entry's block only (its typed value, if any, lives on in a copy
 * of the entry) and keep used_memory exact, as kvmap.c's other allocation
 * wrappers do. */
__attribute__((unused)) static void entry_free_block(struct kvmap *m, struct kventry *e)
{
    int64_t before = m->acct->used;
    kventry_free(m->acct, e);
    m->used_memory += m->acct->used - before;
}

/* Free an entry and its typed value; here because kvmap_iter.c frees
 * entries too (remove_at). The value is charged to the same account but
 * not to used_memory, which counts the map's own blocks. */
__attribute__((unused)) static void entry_free(struct kvmap *m, struct kventry *e)
{
    struct tval *tv = kventry_type_of(e) != TVAL_STRING ? kventry_tval(e) : NULL;
    entry_free_block(m, e);
    tval_free(m->acct, tv);
}

/* Segment stamps exist only while a capture is armed: a stamp says whether
 * the running cut has captured its segment, and between cuts every segment
 * counts as uncaptured for the next one anyway (its epoch will be above any
 * stamp written before it), so stamping then would record nothing. Making
 * them when a cut arms and dropping them when it ends saves 8 bytes per 16
 * buckets for the life of the map, and a store on every write. Both go
 * with arming (kvmap_epoch_begin/_end); table_init makes a new table's
 * while armed. Returns 0 or KVMAP_ENOMEM (then m has none). */
int kvmap_stamps_attach(struct kvmap *m);
void kvmap_stamps_detach(struct kvmap *m);

/* A segment's write stamp: stamps below base_epoch read as base_epoch, as
 * does every segment of a table without stamps. */
static inline uint64_t seg_stamp(const struct kvtable *t, size_t seg)
{
    uint64_t s = t->seg_epoch ? t->seg_epoch[seg] : 0;
    return s > t->base_epoch ? s : t->base_epoch;
}

/* Every write to bucket idx of table ti goes through here first: if a
 * snapshot is armed and has not captured the segment yet, let it serialise
 * the segment's pre-write state, then stamp the segment as written now.
 * Unarmed, nothing to do (kvmap_stamps_attach). */
__attribute__((unused)) static void touch(struct kvmap *m, int ti, uint64_t idx)
{
    if (!m->capture_fn)
        return;
    struct kvtable *t = &m->t[ti];
    size_t seg = (size_t)(idx / KVMAP_SEGMENT_BUCKETS);
    if (seg_stamp(t, seg) < m->capture_epoch) {
        m->in_capture = true;
        m->capture_fn(m->capture_arg, m, ti, seg);
        m->in_capture = false;
    }
    t->seg_epoch[seg] = m->epoch;
}

/* Unlink and free the entry at *link in bucket idx of table ti. */
__attribute__((unused)) static void remove_at(struct kvmap *m, int ti, uint64_t idx,
                                              struct kventry **link)
{
    touch(m, ti, idx);
    struct kventry *e = kv_slot_get(link);
    kv_slot_set(link, kventry_next(e));
    m->t[ti].used--;
    if (e->flags & KVENTRY_EXPIRE)
        m->keys_with_ttl--;
    entry_free(m, e);
}

/* ------------------------------------------------------------------------
 * Access stamps (kvmap_set_access): what eviction ranks entries by.
 * LRU: the Unix second of the last access, modulo 2^20 (12 days).
 * LFU: Redis's logarithmic 8-bit counter in the low 8 bits and the minute
 * of the last decay, modulo 2^12 (68 hours), in the high 12.
 * ------------------------------------------------------------------------ */

#define LFU_INIT_VAL 5   /* a new key's counter, as Redis's */
#define LFU_MINUTES_MASK 0xFFFu

static inline uint32_t lru_now(int64_t now_ms)
{
    return (uint32_t)((uint64_t)now_ms / 1000) & KVENTRY_STAMP_MAX;
}

static inline uint32_t lfu_minutes(int64_t now_ms)
{
    return (uint32_t)((uint64_t)now_ms / 60000) & LFU_MINUTES_MASK;
}

/* Redis's LFUDecrAndReturn: the counter after the decay periods elapsed
 * since the stamp's minute. */
static inline uint32_t lfu_decayed(uint32_t stamp, int64_t now_ms, unsigned decay_time)
{
    uint32_t counter = stamp & 0xFFu, then = stamp >> 8, now = lfu_minutes(now_ms);
    uint32_t elapsed = (now - then) & LFU_MINUTES_MASK;
    uint32_t periods = decay_time ? elapsed / decay_time : 0;
    return periods > counter ? 0 : counter - periods;
}

/* The stamp a new entry starts with. */
static inline uint32_t stamp_new(const struct kvmap *m, int64_t now_ms)
{
    if (m->access == KVMAP_ACCESS_LFU)
        return lfu_minutes(now_ms) << 8 | LFU_INIT_VAL;
    return lru_now(now_ms);
}

/* Redis's updateLFU / the LRU clock: record an access to e. */
static inline void note_access(struct kvmap *m, struct kventry *e, int64_t now_ms)
{
    if (m->access == KVMAP_ACCESS_NONE)
        return;
    if (m->access == KVMAP_ACCESS_LRU) {
        kventry_stamp_put(e, lru_now(now_ms));
        return;
    }
    uint32_t counter = lfu_decayed(kventry_stamp_get(e), now_ms, m->lfu_decay_time);
    if (counter < 255) {
        /* LFULogIncr: the higher the counter, the less likely a step. */
        uint64_t x = m->rng ? m->rng : 0x9e3779b97f4a7c15ULL;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        m->rng = x;
        double r = (double)((x * 0x2545f4914f6cdd1dULL) >> 11) / (double)(1ULL << 53);
        double base = counter > LFU_INIT_VAL ? counter - LFU_INIT_VAL : 0;
        if (r < 1.0 / (base * m->lfu_log_factor + 1))
            counter++;
    }
    kventry_stamp_put(e, lfu_minutes(now_ms) << 8 | counter);
}

/* Report a key event to the map's hook, if any: EXPIRED before the entry
 * is unlinked (its key is read from it), NEW once it is linked. Inline:
 * the common case is one load and a branch not taken. */
static inline void report_event(struct kvmap *m, int ev, const struct kventry *e)
{
    if (__builtin_expect(m->event_fn != NULL, 0))
        m->event_fn(m->event_arg, m, ev, kventry_keyp(e), kventry_klen(e));
}

/* Functions shared between kvmap*.c only: hidden, so that a shared library
 * built from them calls them directly rather than through the PLT. */
#define KVMAP_INTERNAL __attribute__((visibility("hidden")))

/* kvmap.c's lookup and write primitives, shared with kvmap_edit.c. */

/* Find key (hash h): the link that points at its entry, and its table and
 * bucket in *ti, *idx; NULL when absent. Expired entries are found too. */
KVMAP_INTERNAL struct kventry **kvmap_lookup(struct kvmap *m, const void *key, size_t klen,
                                             uint64_t h, int *ti, uint64_t *idx);
/* Link e, a new entry for a key known to be absent (hash h). */
KVMAP_INTERNAL void kvmap_insert_new(struct kvmap *m, struct kventry *e, uint64_t h);
/* Put e where *link's entry is (bucket idx of table ti); frees the old one. */
KVMAP_INTERNAL void kvmap_replace_at(struct kvmap *m, int ti, uint64_t idx, struct kventry **link,
                                     struct kventry *e);
/* kventry_new with used_memory kept exact; NULL when out of memory. The
 * map owns the entry once linked. */
KVMAP_INTERNAL struct kventry *kvmap_entry_new(struct kvmap *m, const void *key, size_t klen,
                                               const struct kventry_val *v, int64_t expire_ms);
/* kventry_reserve (room for need value bytes; may move e) with
 * used_memory kept exact; NULL when out of memory (e unchanged). */
KVMAP_INTERNAL struct kventry *kvmap_entry_reserve(struct kvmap *m, struct kventry *e, size_t need);
/* Should this string value be stored as an int64 (*iv)? */
KVMAP_INTERNAL bool kvmap_worth_int(const void *val, size_t vlen, int64_t *iv);

/* Move up to n non-empty buckets of a running rehash (and unmap a slice of
 * retired arrays). Returns true while the rehash is still in progress. */
KVMAP_INTERNAL bool kvmap_rehash_step(struct kvmap *m, unsigned n);

/* Shrink the table when the load fell below 0.1, or finish a rehash whose
 * source emptied. Call after removing entries. */
KVMAP_INTERNAL void kvmap_check_resize_after_delete(struct kvmap *m);

#endif
