/* kvmap.c — the per-shard hash map: chained buckets with Redis-style
 * incremental rehash between two tables, one compact allocation per entry
 * (laid out by kventry.c), lazy expiry, and the lookups and writes that
 * stamp segments for copy-on-write snapshots. The walkers (SCAN, random
 * pick, active expiry, the snapshot segment API) are in kvmap_iter.c, the
 * in-place edits (APPEND, SETRANGE) in kvmap_edit.c.
 * Runs only on the owner thread. */
#include "shard/kvmap.h"

#include <assert.h>
#include <pthread.h>
#include <string.h>

#include "common/clock.h"
#include "common/hash.h"
#include "common/int64str.h"
#include "shard/kventry.h"
#include "shard/kvmap_internal.h"

/* ------------------------------------------------------------------------
 * Tables and the map
 * ------------------------------------------------------------------------ */

/* Smallest table, as in Redis: 4 buckets (32 bytes). */
#define TABLE_MIN_SIZE 4
/* Buckets moved between clock reads in kvmap_rehash_slice. */
#define SLICE_REHASH_BUCKETS 100
/* Shrink when fewer than 1 key per SHRINK_RATIO buckets (load < 0.1). */
#define SHRINK_RATIO 10
/* Table arrays (heads or stamps) of at least this many bytes are mapped
 * straight from the kernel rather than calloc'd: from 1 MB (2^17 buckets)
 * up, handing the array back to jemalloc at the end of a rehash cost one
 * insert CPU time linear in its size (measured: 0.8 ms at 8 MB, 1.3 ms at
 * 16 MB, 2.5 ms at 32 MB), and a calloc that reuses a dirty extent would
 * memset all of it. Fresh mappings are zero for free and are given back a
 * slice at a time (retire_step). */
#define TABLE_MAP_BYTES ((size_t)1 << 20)
/* Segment stamps are made when a capture is armed, inside the snapshot's
 * cut: from 64 KB (2^17 buckets) up they are mapped too, so that arming
 * stays O(1) (no memset of a reused extent) whatever the table's size. */
#define STAMPS_MAP_BYTES ((size_t)64 << 10)
/* Bytes of a retired mapping unmapped per map operation: 256 KB is 64
 * pages, some tens of microseconds of munmap; a 128 MB array (2^24
 * buckets) is gone after 512 operations, long before the next resize
 * could retire another one. */
#define RETIRE_SLICE_BYTES ((size_t)256 << 10)

/* A mapped table array no longer in use, waiting to be unmapped from its
 * tail a slice per operation. The header lives in the array's own first
 * page, so retiring is O(1) and cannot fail. */
struct retired {
    struct retired *next; /* next array waiting; NULL at the end */
    size_t len;           /* bytes still mapped, this header included */
};

/* Allocation wrappers: charge acct and keep this map's own total, taken as
 * the change in acct->used so that it is exactly the usable size. */
static void *map_calloc(struct kvmap *m, size_t n)
{
    int64_t before = m->acct->used;
    void *p = mem_calloc(m->acct, n);
    m->used_memory += m->acct->used - before;
    return p;
}

static void map_free(struct kvmap *m, void *p)
{
    int64_t before = m->acct->used;
    /* A table array of a size this map has outgrown (or shrunk from): no
     * use in the thread's allocator cache. */
    mem_free_uncached(m->acct, p);
    m->used_memory += m->acct->used - before;
}

/* A zeroed table array of n bytes: mapped from map_min bytes up
 * (TABLE_MAP_BYTES, STAMPS_MAP_BYTES), so that this is O(1) whatever the
 * size. */
static void *array_alloc(struct kvmap *m, size_t n, size_t map_min)
{
    if (n < map_min)
        return map_calloc(m, n);
    int64_t before = m->acct->used;
    void *p = mem_map(m->acct, n);
    m->used_memory += m->acct->used - before;
    return p;
}

/* Give back a table array of n bytes from array_alloc with the same
 * map_min. Large ones are only queued here, O(1); retire_step unmaps them a
 * slice at a time. They stay charged until then, since the process still
 * holds them. */
static void array_free(struct kvmap *m, void *p, size_t n, size_t map_min)
{
    if (!p)
        return;
    if (n < map_min) {
        map_free(m, p);
        return;
    }
    struct retired *r = p;
    r->next = m->retired;
    r->len = mem_map_size(n);
    m->retired = r;
    m->retired_bytes += r->len;
}

/* Unmap up to bytes (a multiple of the page size) of retired arrays. Called
 * at the start of every operation that may rehash, so the work is spread as
 * the rehash itself is. */
static void retire_step(struct kvmap *m, size_t bytes)
{
    struct retired *r = m->retired;
    if (!r)
        return;
    int64_t before = m->acct->used;
    size_t len = r->len;
    if (len <= bytes) {
        m->retired = r->next;
        mem_unmap(m->acct, r, len); /* r is gone */
        m->retired_bytes -= len;
    } else {
        mem_unmap_tail(m->acct, r, len, len - bytes);
        r->len = len - bytes;
        m->retired_bytes -= bytes;
    }
    m->used_memory += m->acct->used - before;
}

/* The same for entries, which kventry.c builds, resizes and frees
 * (entry_free is in kvmap_internal.h, since kvmap_iter.c frees too). */
struct kventry *kvmap_entry_new(struct kvmap *m, const void *key, size_t klen,
                                 const struct kventry_val *v, int64_t expire_ms)
{
    int64_t before = m->acct->used;
    struct kventry *e = kventry_new(m->acct, key, klen, v, expire_ms);
    m->used_memory += m->acct->used - before;
    return e;
}

struct kventry *kvmap_entry_reserve(struct kvmap *m, struct kventry *e, size_t need)
{
    int64_t before = m->acct->used;
    struct kventry *n = kventry_reserve(m->acct, e, need, m->max_value);
    m->used_memory += m->acct->used - before;
    return n;
}

static struct kventry *entry_copy_with_expire(struct kvmap *m, const struct kventry *e,
                                              int64_t expire_ms)
{
    int64_t before = m->acct->used;
    struct kventry *n = kventry_copy_with_expire(m->acct, e, expire_ms);
    m->used_memory += m->acct->used - before;
    return n;
}

static uint64_t next_pow2(uint64_t n)
{
    uint64_t s = TABLE_MIN_SIZE;
    while (s < n && s < ((uint64_t)1 << 62))
        s <<= 1;
    return s;
}

/* Give t its segment stamps, zeroed (a stamp of 0 reads as base_epoch),
 * if it has none. Returns 0 or KVMAP_ENOMEM. */
static int stamps_attach(struct kvmap *m, struct kvtable *t)
{
    if (t->seg_epoch || !t->nseg)
        return 0;
    t->seg_epoch = array_alloc(m, (size_t)t->nseg * sizeof *t->seg_epoch, STAMPS_MAP_BYTES);
    return t->seg_epoch ? 0 : KVMAP_ENOMEM;
}

static void stamps_detach(struct kvmap *m, struct kvtable *t)
{
    array_free(m, t->seg_epoch, (size_t)t->nseg * sizeof *t->seg_epoch, STAMPS_MAP_BYTES);
    t->seg_epoch = NULL;
}

int kvmap_stamps_attach(struct kvmap *m)
{
    int rc = stamps_attach(m, &m->t[0]);
    if (rc == 0)
        rc = stamps_attach(m, &m->t[1]);
    if (rc != 0)
        kvmap_stamps_detach(m);
    return rc;
}

void kvmap_stamps_detach(struct kvmap *m)
{
    stamps_detach(m, &m->t[0]);
    stamps_detach(m, &m->t[1]);
}

/* Zeroed heads, O(1) whatever the size: large arrays are fresh mappings
 * whose pages the kernel zeroes one at a time as inserts first touch them.
 * Segment stamps only while a capture is armed (kvmap_internal.h): a
 * separate block, since the heads alone are a power of two, which is
 * exactly a jemalloc size class. */
static int table_init(struct kvmap *m, struct kvtable *t, uint64_t size)
{
    uint64_t nseg = (size + KVMAP_SEGMENT_BUCKETS - 1) / KVMAP_SEGMENT_BUCKETS;
    struct kventry **heads = array_alloc(m, (size_t)size * sizeof *heads, TABLE_MAP_BYTES);
    if (!heads)
        return KVMAP_ENOMEM;
    struct kvtable n = {.nseg = nseg};
    if (m->capture_fn && stamps_attach(m, &n) != 0) {
        array_free(m, heads, (size_t)size * sizeof *heads, TABLE_MAP_BYTES);
        return KVMAP_ENOMEM;
    }
    t->bucket = heads;
    t->seg_epoch = n.seg_epoch;
    t->size = size;
    t->mask = size - 1;
    t->used = 0;
    t->nseg = nseg;
    /* Invariant: a table born at epoch E holds nothing written before E,
     * so all its segments count as captured for a cut at E. Entries moved
     * in by a rehash come from t[0] segments that are captured before the
     * move (see move_bucket), so they are never lost nor serialised twice. */
    t->base_epoch = m->epoch;
    return 0;
}

/* O(1): large arrays are only queued for retire_step. */
static void table_free(struct kvmap *m, struct kvtable *t)
{
    stamps_detach(m, t);
    array_free(m, t->bucket, (size_t)t->size * sizeof *t->bucket, TABLE_MAP_BYTES);
    memset(t, 0, sizeof *t);
}

/* Record the length of the chain that starts at head. Called where an entry
 * has just been linked, so the chain is already in cache; this keeps
 * kvmap_stats O(1) (INFO runs it on every map) instead of walking every
 * bucket. */
static inline void note_chain(struct kvmap *m, const struct kventry *head)
{
    uint64_t n = 0;
    for (; head; head = kventry_next(head))
        n++;
    if (n > m->longest_chain)
        m->longest_chain = n;
}

/* The rehash is done: t[1] becomes t[0]. Segment indices of the old t[1]
 * now read as table 0; every old t[0] segment had been written (moved out
 * of), hence captured, so a snapshot cursor loses nothing by the rename. */
static void rehash_finish(struct kvmap *m)
{
    assert(m->t[0].used == 0);
    table_free(m, &m->t[0]);
    m->t[0] = m->t[1];
    memset(&m->t[1], 0, sizeof m->t[1]);
    m->rehash_idx = -1;
    kvmap_check_resize_after_delete(m);
}

/* Move t[0] bucket idx into t[1]. Source and destination segments are all
 * captured before the first entry moves, so a capture hook never sees a
 * half-moved bucket. */
static void move_bucket(struct kvmap *m, uint64_t idx)
{
    struct kvtable *t0 = &m->t[0], *t1 = &m->t[1];
    struct kventry *e = t0->bucket[idx];
    if (!e)
        return;
    touch(m, 0, idx);
    if (m->capture_fn) {
        for (struct kventry *x = e; x; x = kventry_next(x))
            touch(m, 1, kventry_hash(x) & t1->mask);
    }
    while (e) {
        struct kventry *next = kventry_next(e);
        uint64_t d = kventry_hash(e) & t1->mask;
        if (t1->seg_epoch)
            t1->seg_epoch[d / KVMAP_SEGMENT_BUCKETS] = m->epoch;
        kventry_set_next(e, t1->bucket[d]);
        t1->bucket[d] = e;
        note_chain(m, e);
        t0->used--;
        t1->used++;
        e = next;
    }
    t0->bucket[idx] = NULL;
}

/* Move up to n non-empty buckets, visiting at most n * STEP_EMPTY_VISITS
 * empty ones. Returns true while the rehash is still in progress. */
bool kvmap_rehash_step(struct kvmap *m, unsigned n)
{
    retire_step(m, RETIRE_SLICE_BYTES);
    if (!rehashing(m))
        return false;
    unsigned empty = n * STEP_EMPTY_VISITS;
    struct kvtable *t0 = &m->t[0];
    while (n-- && t0->used) {
        assert((uint64_t)m->rehash_idx < t0->size);
        while (!t0->bucket[m->rehash_idx]) {
            m->rehash_idx++;
            if (--empty == 0)
                return true;
        }
        move_bucket(m, (uint64_t)m->rehash_idx);
        m->rehash_idx++;
    }
    if (t0->used == 0) {
        rehash_finish(m);
        return rehashing(m);
    }
    return true;
}

/* Start moving to a table of size buckets. On allocation failure the map
 * keeps its current table (still correct, only slower) and a later write
 * tries again. */
static void resize_start(struct kvmap *m, uint64_t size)
{
    assert(!rehashing(m));
    if (size == m->t[0].size || table_init(m, &m->t[1], size) != 0)
        return;
    m->rehash_idx = 0;
    m->resizes++;
    m->longest_chain = 0; /* chains are rebuilt as buckets move */
    if (m->t[0].used == 0)
        rehash_finish(m); /* nothing to move: O(1) swap */
}

/* Grow at load factor 1 (or 2, see kvmap_set_dense), to half that load. */
static void check_expand(struct kvmap *m)
{
    if (!rehashing(m) && m->t[0].used >= m->t[0].size << m->load_shift)
        resize_start(m, next_pow2((m->t[0].used >> m->load_shift) + 1));
}

void kvmap_set_dense(struct kvmap *m)
{
    ASSERT_OWNER(m);
    m->load_shift = 1;
}

/* Shrink below load factor 0.1, to a load of 0.25..0.5 so that a few
 * inserts do not grow it straight back. */
void kvmap_check_resize_after_delete(struct kvmap *m)
{
    struct kvtable *t0 = &m->t[0];
    if (rehashing(m) && t0->used == 0) {
        rehash_finish(m); /* the source emptied by deletes: O(1) swap */
        return;
    }
    if (!rehashing(m) && t0->size > TABLE_MIN_SIZE && t0->used * SHRINK_RATIO < t0->size)
        resize_start(m, next_pow2(t0->used * 2));
}

/* Find key: returns the link that points at its entry (so it can be
 * unlinked or replaced) and where it is, or NULL. */
struct kventry **kvmap_lookup(struct kvmap *m, const void *key, size_t klen, uint64_t h, int *ti,
                               uint64_t *idx)
{
    for (int t = 0; t <= (rehashing(m) ? 1 : 0); t++) {
        uint64_t i = h & m->t[t].mask;
        for (struct kventry **link = &m->t[t].bucket[i]; kv_slot_get(link);
             link = kventry_next_slot(kv_slot_get(link))) {
            if (kventry_key_eq(kv_slot_get(link), key, klen)) {
                *ti = t;
                *idx = i;
                return link;
            }
        }
    }
    return NULL;
}

/* Link a new entry for a key known to be absent. */
void kvmap_insert_new(struct kvmap *m, struct kventry *e, uint64_t h)
{
    check_expand(m);
    int ti = rehashing(m) ? 1 : 0; /* during a rehash new keys go to the target */
    uint64_t idx = h & m->t[ti].mask;
    touch(m, ti, idx);
    kventry_set_next(e, m->t[ti].bucket[idx]);
    m->t[ti].bucket[idx] = e;
    note_chain(m, e);
    m->t[ti].used++;
    if (e->flags & KVENTRY_EXPIRE)
        m->keys_with_ttl++;
    report_event(m, KVMAP_EV_NEW, e);
}

/* Put e where *link's entry is and free the old one. */
void kvmap_replace_at(struct kvmap *m, int ti, uint64_t idx, struct kventry **link,
                       struct kventry *e)
{
    touch(m, ti, idx);
    struct kventry *old = kv_slot_get(link);
    kventry_set_next(e, kventry_next(old));
    kv_slot_set(link, e);
    m->keys_with_ttl +=
        (uint64_t)((e->flags & KVENTRY_EXPIRE) != 0) - ((old->flags & KVENTRY_EXPIRE) != 0);
    entry_free(m, old);
}

/* Expiry argument to the value stored: anything below KEEP_TTL is a time
 * before 1970, i.e. already expired. */
static int64_t resolve_expire(int64_t expire_ms, const struct kventry *old_live)
{
    if (expire_ms == KVMAP_KEEP_TTL)
        return old_live ? kventry_expire_ms(old_live) : KVMAP_NO_EXPIRE;
    if (expire_ms == KVMAP_NO_EXPIRE)
        return KVMAP_NO_EXPIRE;
    return expire_ms < 0 ? 0 : expire_ms;
}

/* Should a new string value be stored as an int64? Only integers whose
 * decimal form takes at least as many bytes as the int64 (7 digits + the
 * 1-byte length field) are: below that the string is smaller, and INCR
 * converts it on first use anyway. */
bool kvmap_worth_int(const void *val, size_t vlen, int64_t *iv)
{
    return vlen >= 7 && int64str_parse(val, vlen, iv);
}

static int set_value(struct kvmap *m, const void *key, size_t klen, const struct kventry_val *nv,
                     int64_t expire_ms, int64_t now_ms)
{
    ASSERT_WRITABLE(m);
    if (klen > m->max_key || (!nv->is_int && nv->vlen > m->max_value))
        return KVMAP_ETOOBIG;
    kvmap_rehash_step(m, STEP_BUCKETS);
    uint64_t h = hash_key_of(key, klen);
    int ti = 0;
    uint64_t idx = 0;
    struct kventry **link = kvmap_lookup(m, key, klen, h, &ti, &idx);
    struct kventry *old = link ? kv_slot_get(link) : NULL;
    bool old_live = old && !kventry_expired(old, now_ms);
    struct kventry *e =
        kvmap_entry_new(m, key, klen, nv, resolve_expire(expire_ms, old_live ? old : NULL));
    if (!e)
        return KVMAP_ENOMEM;
    /* A new value starts fresh, except that LFU keeps the key's frequency
     * across an overwrite, as Redis's dbSetValue does. */
    if (m->access == KVMAP_ACCESS_LFU && old_live)
        kventry_stamp_put(e, kventry_stamp_get(old));
    else if (m->access != KVMAP_ACCESS_NONE)
        kventry_stamp_put(e, stamp_new(m, now_ms));
    if (!old) {
        kvmap_insert_new(m, e, h);
        return 1;
    }
    if (!old_live)
        report_event(m, KVMAP_EV_EXPIRED, old);
    kvmap_replace_at(m, ti, idx, link, e);
    if (old_live)
        return 0;
    m->expired++;
    report_event(m, KVMAP_EV_NEW, e);
    return 1;
}

/* ------------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------------ */

const char *kvmap_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case KVMAP_ENOMEM:
        return "out of memory";
    case KVMAP_ETOOBIG:
        return "key or value too large";
    case KVMAP_ENOTINT:
        return "value is not an integer or out of range";
    case KVMAP_EOVERFLOW:
        return "increment or decrement would overflow";
    case KVMAP_EWRONGTYPE:
        return "operation against a key holding the wrong kind of value";
    default:
        return "unknown kvmap error";
    }
}

struct kvmap *kvmap_create(struct mem_acct *acct)
{
    int64_t before = acct->used;
    struct kvmap *m = mem_alloc(acct, sizeof *m);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->acct = acct;
    m->used_memory = acct->used - before;
    m->owner = pthread_self();
    m->rehash_idx = -1;
    m->max_key = KVMAP_DEFAULT_MAX_KEY;
    m->max_value = KVMAP_DEFAULT_MAX_VALUE;
    m->epoch = 1;
    /* Redis keeps the LRU clock whatever the policy (OBJECT IDLETIME). */
    m->access = KVMAP_ACCESS_LRU;
    m->lfu_log_factor = 10;
    m->lfu_decay_time = 1;
    /* Any per-map seed will do: it only spreads kvmap_random's and
     * kvmap_sample's picks. */
    m->rng = clock_mono_ns() ^ ((uint64_t)(uintptr_t)m * 0x9e3779b97f4a7c15ULL);
    m->sample_ahead[0] = m->rng * 0x2545f4914f6cdd1dULL;
    m->sample_ahead[1] = (m->rng ^ (m->rng >> 29)) * 0xbf58476d1ce4e5b9ULL;
    if (table_init(m, &m->t[0], TABLE_MIN_SIZE) != 0) {
        mem_free(acct, m);
        return NULL;
    }
    return m;
}

static void free_chains(struct kvmap *m, struct kvtable *t, bool capture)
{
    for (uint64_t i = 0; i < t->size; i++) {
        struct kventry *e = t->bucket[i];
        if (!e)
            continue;
        if (capture)
            touch(m, (int)(t - m->t), i);
        t->bucket[i] = NULL;
        while (e) {
            struct kventry *next = kventry_next(e);
            entry_free(m, e);
            e = next;
        }
    }
    t->used = 0;
}

void kvmap_destroy(struct kvmap *m)
{
    if (!m)
        return;
    ASSERT_WRITABLE(m);
    for (int t = 0; t < 2; t++) {
        if (m->t[t].bucket) {
            free_chains(m, &m->t[t], false);
            table_free(m, &m->t[t]);
        }
    }
    while (m->retired)
        retire_step(m, SIZE_MAX); /* whole arrays: destroy is O(n) anyway */
    mem_free(m->acct, m);
}

/* Empty buckets kvmap_destroy_step may skip per entry it frees. */
#define DESTROY_EMPTY_VISITS 16

bool kvmap_destroy_step(struct kvmap *m, size_t n)
{
    ASSERT_WRITABLE(m);
    size_t visits = n * DESTROY_EMPTY_VISITS + 1;
    for (int t = 0; t < 2; t++) {
        struct kvtable *tb = &m->t[t];
        if (!tb->bucket)
            continue; /* absent, or freed by an earlier step */
        while (tb->used > 0 && n > 0 && visits > 0) {
            uint64_t i = m->destroy_idx;
            if (i >= tb->size) { /* cannot happen while used > 0; be safe */
                tb->used = 0;
                break;
            }
            struct kventry *e = tb->bucket[i];
            if (!e) {
                m->destroy_idx++;
                visits--;
                continue;
            }
            tb->bucket[i] = kventry_next(e);
            tb->used--;
            entry_free(m, e);
            n--;
        }
        if (tb->used > 0)
            return false;
        m->destroy_idx = 0; /* the next table starts from its first bucket */
        table_free(m, tb);
    }
    if (m->retired) {
        retire_step(m, RETIRE_SLICE_BYTES);
        if (m->retired)
            return false;
    }
    mem_free(m->acct, m);
    return true;
}

void kvmap_bind_owner(struct kvmap *m)
{
    m->owner = pthread_self();
}

size_t kvmap_max_value(const struct kvmap *m)
{
    return m->max_value;
}

void kvmap_set_limits(struct kvmap *m, size_t max_key, size_t max_value)
{
    ASSERT_OWNER(m);
    m->max_key = max_key < KVENTRY_LEN_MAX ? max_key : KVENTRY_LEN_MAX;
    m->max_value = max_value < KVENTRY_LEN_MAX ? max_value : KVENTRY_LEN_MAX;
}

void kvmap_prefetch_bucket(const struct kvmap *m, uint64_t h)
{
    ASSERT_OWNER(m);
    for (int t = 0; t <= (rehashing(m) ? 1 : 0); t++)
        if (m->t[t].size)
            __builtin_prefetch(&m->t[t].bucket[h & m->t[t].mask]);
}

void kvmap_prefetch_entry(const struct kvmap *m, uint64_t h)
{
    ASSERT_OWNER(m);
    for (int t = 0; t <= (rehashing(m) ? 1 : 0); t++)
        if (m->t[t].size)
            prefetch_entry_lines(m->t[t].bucket[h & m->t[t].mask]);
}

/* The link to key's live entry (*ti, *idx: where it is), or NULL; an
 * expired entry is reaped on the way (lazy expiry). Shared by every lookup:
 * they differ only in what they record once the entry is found. */
static struct kventry **find_live(struct kvmap *m, const void *key, size_t klen, int64_t now_ms,
                                  int *ti, uint64_t *idx)
{
    ASSERT_WRITABLE(m); /* lazy expiry and rehash steps write */
    kvmap_rehash_step(m, STEP_BUCKETS);
    *ti = 0;
    *idx = 0;
    struct kventry **link = kvmap_lookup(m, key, klen, hash_key_of(key, klen), ti, idx);
    if (!link)
        return NULL;
    if (kventry_expired(kv_slot_get(link), now_ms)) {
        report_event(m, KVMAP_EV_EXPIRED, kv_slot_get(link));
        remove_at(m, *ti, *idx, link);
        m->expired++;
        kvmap_check_resize_after_delete(m);
        return NULL;
    }
    return link;
}

struct kventry *kvmap_find(struct kvmap *m, const void *key, size_t klen, int64_t now_ms)
{
    int ti;
    uint64_t idx;
    struct kventry **link = find_live(m, key, klen, now_ms, &ti, &idx);
    if (!link)
        return NULL;
    struct kventry *e = kv_slot_get(link);
    note_access(m, e, now_ms);
    return e;
}

struct kventry *kvmap_peek(struct kvmap *m, const void *key, size_t klen, int64_t now_ms)
{
    int ti;
    uint64_t idx;
    struct kventry **link = find_live(m, key, klen, now_ms, &ti, &idx);
    return link ? kv_slot_get(link) : NULL;
}

int kvmap_set(struct kvmap *m, const void *key, size_t klen, const void *val, size_t vlen,
              int64_t expire_ms, int64_t now_ms)
{
    struct kventry_val nv = {.val = val, .vlen = vlen};
    if (vlen <= m->max_value && kvmap_worth_int(val, vlen, &nv.iv))
        nv.is_int = true;
    return set_value(m, key, klen, &nv, expire_ms, now_ms);
}

int kvmap_set_tval(struct kvmap *m, const void *key, size_t klen, struct tval *tv,
                   int64_t expire_ms, int64_t now_ms)
{
    struct kventry_val nv = {.is_int = true, .type = tv->type, .iv = (int64_t)(intptr_t)tv};
    return set_value(m, key, klen, &nv, expire_ms, now_ms);
}

struct kventry *kvmap_find_w(struct kvmap *m, const void *key, size_t klen, int64_t now_ms)
{
    int ti;
    uint64_t idx;
    struct kventry **link = find_live(m, key, klen, now_ms, &ti, &idx);
    if (!link)
        return NULL;
    touch(m, ti, idx);
    struct kventry *e = kv_slot_get(link);
    note_access(m, e, now_ms);
    return e;
}

struct tval *kvmap_take_tval(struct kvmap *m, const void *key, size_t klen, int64_t now_ms)
{
    struct kventry *e = kvmap_find(m, key, klen, now_ms);
    if (!e || kventry_type_of(e) == TVAL_STRING)
        return NULL;
    struct tval *tv = kventry_tval(e);
    /* A string-typed entry frees only its own block: the value survives. */
    e->flags &= (uint8_t)~KVENTRY_TYPE_MASK;
    kvmap_del(m, key, klen, now_ms);
    return tv;
}

void kvmap_set_access(struct kvmap *m, int mode, unsigned lfu_log_factor, unsigned lfu_decay_time)
{
    ASSERT_OWNER(m);
    m->access = (uint8_t)mode;
    m->lfu_log_factor = (uint8_t)(lfu_log_factor > 255 ? 255 : lfu_log_factor);
    /* Stamps keep 12 bits of minutes: a longer period could not elapse. */
    m->lfu_decay_time = (uint16_t)(lfu_decay_time > LFU_MINUTES_MASK ? LFU_MINUTES_MASK
                                                                     : lfu_decay_time);
}

void kvmap_set_events(struct kvmap *m, kvmap_event_fn fn, void *arg)
{
    ASSERT_OWNER(m);
    m->event_fn = fn;
    m->event_arg = arg;
}

struct mem_acct *kvmap_acct(const struct kvmap *m)
{
    return m->acct;
}

int kvmap_set_int(struct kvmap *m, const void *key, size_t klen, int64_t v, int64_t expire_ms,
                  int64_t now_ms)
{
    struct kventry_val nv = {.is_int = true, .iv = v};
    return set_value(m, key, klen, &nv, expire_ms, now_ms);
}

int kvmap_incrby(struct kvmap *m, const void *key, size_t klen, int64_t delta, int64_t now_ms,
                 int64_t *out)
{
    ASSERT_WRITABLE(m);
    if (klen > m->max_key)
        return KVMAP_ETOOBIG;
    kvmap_rehash_step(m, STEP_BUCKETS);
    uint64_t h = hash_key_of(key, klen);
    int ti = 0;
    uint64_t idx = 0;
    struct kventry **link = kvmap_lookup(m, key, klen, h, &ti, &idx);
    if (link && kventry_expired(kv_slot_get(link), now_ms)) {
        /* Logically absent already; reaping it changes nothing visible. */
        report_event(m, KVMAP_EV_EXPIRED, kv_slot_get(link));
        remove_at(m, ti, idx, link);
        m->expired++;
        link = NULL;
    }
    struct kventry_val nv = {.is_int = true};
    if (!link) {
        nv.iv = delta;
        struct kventry *e = kvmap_entry_new(m, key, klen, &nv, KVMAP_NO_EXPIRE);
        if (!e)
            return KVMAP_ENOMEM;
        kventry_stamp_put(e, stamp_new(m, now_ms));
        kvmap_insert_new(m, e, h);
        *out = delta;
        return 0;
    }
    struct kventry *old = kv_slot_get(link);
    note_access(m, old, now_ms);
    int64_t cur;
    if (kventry_type_of(old) != TVAL_STRING)
        return KVMAP_EWRONGTYPE;
    if (old->flags & KVENTRY_INT) {
        cur = kventry_ival(old);
    } else {
        const char *s = (const char *)kventry_keyp(old) + kventry_klen(old);
        if (!int64str_parse(s, kventry_vbytes(old), &cur))
            return KVMAP_ENOTINT;
    }
    if ((delta > 0 && cur > INT64_MAX - delta) || (delta < 0 && cur < INT64_MIN - delta))
        return KVMAP_EOVERFLOW;
    nv.iv = cur + delta;
    if (old->flags & KVENTRY_INT) {
        touch(m, ti, idx);
        kventry_ival_store(old, nv.iv);
    } else {
        struct kventry *e = kvmap_entry_new(m, key, klen, &nv, kventry_expire_ms(old));
        if (!e)
            return KVMAP_ENOMEM;
        kventry_stamp_put(e, kventry_stamp_get(old));
        kvmap_replace_at(m, ti, idx, link, e);
    }
    *out = nv.iv;
    return 0;
}

int kvmap_del(struct kvmap *m, const void *key, size_t klen, int64_t now_ms)
{
    ASSERT_WRITABLE(m);
    kvmap_rehash_step(m, STEP_BUCKETS);
    int ti = 0;
    uint64_t idx = 0;
    struct kventry **link = kvmap_lookup(m, key, klen, hash_key_of(key, klen), &ti, &idx);
    if (!link)
        return 0;
    bool live = !kventry_expired(kv_slot_get(link), now_ms);
    if (!live)
        report_event(m, KVMAP_EV_EXPIRED, kv_slot_get(link));
    remove_at(m, ti, idx, link);
    if (!live)
        m->expired++;
    kvmap_check_resize_after_delete(m);
    return live ? 1 : 0;
}

int kvmap_entry_set_expire(struct kvmap *m, struct kventry *e, int64_t expire_ms)
{
    ASSERT_WRITABLE(m);
    if (expire_ms == KVMAP_KEEP_TTL)
        return 0;
    if (expire_ms < KVMAP_NO_EXPIRE)
        expire_ms = 0;
    /* Find the link to e: needed to stamp its segment and to relink it. */
    uint64_t h = kventry_hash(e);
    struct kventry **link = NULL;
    int ti = 0;
    uint64_t idx = 0;
    for (int t = 0; t <= (rehashing(m) ? 1 : 0) && !link; t++) {
        uint64_t i = h & m->t[t].mask;
        for (struct kventry **l = &m->t[t].bucket[i]; kv_slot_get(l);
             l = kventry_next_slot(kv_slot_get(l))) {
            if (kv_slot_get(l) == e) {
                link = l;
                ti = t;
                idx = i;
                break;
            }
        }
    }
    assert(link && "kvmap_entry_set_expire: entry not in this map");
    if (!link)
        return 0;
    if (expire_ms == KVMAP_NO_EXPIRE) {
        if (!(e->flags & KVENTRY_EXPIRE))
            return 0;
        touch(m, ti, idx);
        kventry_expire_remove(e);
        m->keys_with_ttl--;
        return 0;
    }
    if (e->flags & KVENTRY_EXPIRE) {
        touch(m, ti, idx);
        kventry_expire_store(e, expire_ms);
        return 0;
    }
    if (kventry_expire_fits(e)) {
        /* The size class has room: shift key and value in place. */
        touch(m, ti, idx);
        kventry_expire_insert(e, expire_ms);
    } else {
        struct kventry *n = entry_copy_with_expire(m, e, expire_ms);
        if (!n)
            return KVMAP_ENOMEM;
        touch(m, ti, idx);
        kv_slot_set(link, n);
        entry_free_block(m, e); /* n points at e's typed value now */
    }
    m->keys_with_ttl++;
    return 0;
}

uint64_t kvmap_count(const struct kvmap *m)
{
    ASSERT_OWNER(m);
    return m->t[0].used + m->t[1].used;
}

void kvmap_clear(struct kvmap *m)
{
    ASSERT_WRITABLE(m);
    /* Capture what a running snapshot has not taken yet: it must still see
     * the map as of its cut. */
    bool capture = m->capture_fn != NULL;
    free_chains(m, &m->t[0], capture);
    if (rehashing(m)) {
        free_chains(m, &m->t[1], capture);
        table_free(m, &m->t[1]);
        m->rehash_idx = -1;
    }
    m->keys_with_ttl = 0;
    m->expire_cursor = 0;
    if (m->t[0].size > TABLE_MIN_SIZE) {
        struct kvtable small;
        if (table_init(m, &small, TABLE_MIN_SIZE) == 0) {
            table_free(m, &m->t[0]);
            m->t[0] = small;
        }
    }
}

bool kvmap_rehash_slice(struct kvmap *m, uint64_t budget_ns)
{
    ASSERT_WRITABLE(m);
    if (!rehashing(m) && !m->retired)
        return false;
    uint64_t start = clock_mono_ns();
    do
        kvmap_rehash_step(m, SLICE_REHASH_BUCKETS); /* also unmaps a retired slice */
    while ((rehashing(m) || m->retired) && clock_mono_ns() - start < budget_ns);
    return rehashing(m) || m->retired;
}
