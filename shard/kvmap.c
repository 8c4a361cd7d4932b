/* kvmap.c — the per-shard hash map: chained buckets with Redis-style
 * incremental rehash between two tables, one compact allocation per entry,
 * lazy and active expiry, and write epochs per segment for copy-on-write
 * snapshots. Runs only on the owner (shard) thread. */
#include "shard/kvmap.h"

#include <assert.h>
#include <pthread.h>
#include <string.h>

#include "common/clock.h"
#include "common/hash.h"

/* ------------------------------------------------------------------------
 * Entries
 *
 * One allocation per key: the chain link, one flags byte, then
 *
 *   klen   1 byte, or 4 bytes with EF_KLEN4 (keys over 255 bytes)
 *   vlen   1 byte, or 4 bytes with EF_VLEN4; absent with EF_INT
 *   expire 8 bytes, absolute Unix ms; only with EF_EXPIRE
 *   key    klen bytes
 *   value  vlen bytes, or an int64 (8 bytes) with EF_INT
 *
 * Multi-byte fields are unaligned and read with memcpy. The hash is not
 * stored: a rehash recomputes it, which costs less than 8 bytes per key.
 * A 16-byte key with a 32-byte value takes 8 + 1 + 2 + 48 = 59 bytes, which
 * fits jemalloc's 64-byte size class.
 * ------------------------------------------------------------------------ */

#define EF_EXPIRE 0x01u /* an expiry field is present */
#define EF_INT 0x02u    /* the value is an int64, not bytes */
#define EF_KLEN4 0x04u  /* klen is a 4-byte field */
#define EF_VLEN4 0x08u  /* vlen is a 4-byte field */

/* Longest length a 1-byte length field holds. */
#define SHORT_LEN_MAX 255u
/* Lengths are stored in at most 32 bits, so limits are clamped to this. */
#define LEN_FIELD_MAX ((size_t)UINT32_MAX)
/* The decimal form of any int64 is at most 20 bytes ("-9223372036854775808"). */
#define INT_STR_MAX 20

struct kventry {
    struct kventry *next; /* next entry in the same bucket */
    uint8_t flags;        /* EF_* */
    uint8_t data[];       /* lengths, optional expiry, key, value (see above) */
};

/* Bytes before data[]: 9, not sizeof (which pads to 16). */
#define ENTRY_HDR offsetof(struct kventry, data)

static inline size_t load_len(const uint8_t *p, bool wide)
{
    if (wide) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    return *p;
}

static inline uint8_t *store_len(uint8_t *p, size_t len, bool wide)
{
    if (wide) {
        uint32_t v = (uint32_t)len;
        memcpy(p, &v, sizeof v);
        return p + sizeof v;
    }
    *p = (uint8_t)len;
    return p + 1;
}

/* Bytes of the length fields for these flags. */
static inline size_t lens_size(unsigned f)
{
    return ((f & EF_KLEN4) ? 4 : 1) + ((f & EF_INT) ? 0 : (f & EF_VLEN4) ? 4 : 1);
}

/* Offset of the key inside data[]. */
static inline size_t key_off(unsigned f)
{
    return lens_size(f) + ((f & EF_EXPIRE) ? 8 : 0);
}

static inline size_t e_klen(const struct kventry *e)
{
    return load_len(e->data, e->flags & EF_KLEN4);
}

/* Stored value bytes: vlen, or 8 for an int. */
static inline size_t e_vbytes(const struct kventry *e)
{
    if (e->flags & EF_INT)
        return 8;
    return load_len(e->data + ((e->flags & EF_KLEN4) ? 4 : 1), e->flags & EF_VLEN4);
}

static inline const uint8_t *e_key(const struct kventry *e)
{
    return e->data + key_off(e->flags);
}

static inline int64_t e_expire(const struct kventry *e)
{
    if (!(e->flags & EF_EXPIRE))
        return KVMAP_NO_EXPIRE;
    int64_t t;
    memcpy(&t, e->data + lens_size(e->flags), sizeof t);
    return t;
}

/* Redis keeps a key through the millisecond its expiry names and drops it
 * after (expireIfNeeded: now > when); we follow it so replies match. */
static inline bool e_expired(const struct kventry *e, int64_t now_ms)
{
    return (e->flags & EF_EXPIRE) && e_expire(e) < now_ms;
}

static inline int64_t e_int(const struct kventry *e)
{
    int64_t v;
    memcpy(&v, e_key(e) + e_klen(e), sizeof v);
    return v;
}

static inline size_t e_size(const struct kventry *e)
{
    return ENTRY_HDR + key_off(e->flags) + e_klen(e) + e_vbytes(e);
}

static inline bool e_key_eq(const struct kventry *e, const void *key, size_t klen)
{
    return e_klen(e) == klen && (klen == 0 || memcmp(e_key(e), key, klen) == 0);
}

static inline uint64_t e_hash(const struct kventry *e)
{
    return hash_key(e_key(e), e_klen(e));
}

/* A value about to be stored: bytes, or an integer. */
struct newval {
    bool is_int;      /* store iv as an int64 */
    int64_t iv;       /* the integer when is_int */
    const void *val;  /* the bytes when !is_int */
    size_t vlen;      /* their length */
};

/* Parse s[0..len) with Redis's string2ll rules: optional '-', then digits
 * without leading zeros ("0" itself is fine, "-0" is not), no '+', no
 * spaces, in int64 range. Exactly the strings that print back identically,
 * which is what makes integer encoding lossless. */
static bool parse_int64(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > INT_STR_MAX)
        return false;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (len == 1)
            return false;
    }
    if (s[i] < '1' || s[i] > '9')
        return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

/* Decimal form of v into buf (at least 21 bytes, NUL-terminated); returns
 * its length. */
static size_t format_int64(int64_t v, char *buf)
{
    char tmp[INT_STR_MAX];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

/* ------------------------------------------------------------------------
 * Tables and the map
 * ------------------------------------------------------------------------ */

/* Smallest table, as in Redis: 4 buckets (32 bytes). */
#define TABLE_MIN_SIZE 4
/* Buckets moved per step inside a request, and empty buckets a step may
 * skip per bucket moved (Redis's 1 and 10): bounds a request's extra work. */
#define STEP_BUCKETS 1
#define STEP_EMPTY_VISITS 10
/* Buckets moved between clock reads in kvmap_rehash_slice. */
#define SLICE_REHASH_BUCKETS 100
/* Buckets visited between clock reads in kvmap_expire_slice. */
#define SLICE_EXPIRE_CHECK 64
/* Shrink when fewer than 1 key per SHRINK_RATIO buckets (load < 0.1). */
#define SHRINK_RATIO 10

struct kvtable {
    struct kventry **bucket; /* size chain heads; NULL when absent */
    uint64_t *seg_epoch;     /* nseg write stamps; a stamp below base_epoch
                              * (0 from calloc) reads as base_epoch, so
                              * creation stays O(1) */
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
    uint64_t keys_with_ttl;      /* entries with EF_EXPIRE */
    uint64_t resizes;            /* grows and shrinks started */
    uint64_t expired;            /* entries reaped because their TTL passed */
    uint64_t longest_chain;      /* from the last kvmap_stats walk */
    uint64_t epoch;              /* current write epoch, stamped on writes */
    uint64_t capture_epoch;      /* epoch of the armed snapshot cut */
    kvmap_capture_fn capture_fn; /* armed capture hook, NULL when disarmed */
    void *capture_arg;           /* its argument */
    bool in_capture;             /* inside capture_fn: writes are a bug */
    uint64_t expire_cursor;      /* kvmap_expire_slice's scan cursor */
    uint64_t rng;                /* kvmap_random's generator state */
};

#define ASSERT_OWNER(m) assert(pthread_equal(pthread_self(), (m)->owner))
/* Writes must never happen from inside a capture hook. */
#define ASSERT_WRITABLE(m) (ASSERT_OWNER(m), assert(!(m)->in_capture))

static inline bool rehashing(const struct kvmap *m)
{
    return m->rehash_idx >= 0;
}

/* Allocation wrappers: charge acct and keep this map's own total, taken as
 * the change in acct->used so that it is exactly the usable size. */
static void *map_alloc(struct kvmap *m, size_t n)
{
    int64_t before = m->acct->used;
    void *p = mem_alloc(m->acct, n);
    m->used_memory += m->acct->used - before;
    return p;
}

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
    mem_free(m->acct, p);
    m->used_memory += m->acct->used - before;
}

static uint64_t next_pow2(uint64_t n)
{
    uint64_t s = TABLE_MIN_SIZE;
    while (s < n && s < ((uint64_t)1 << 62))
        s <<= 1;
    return s;
}

/* Zeroed heads and segment stamps. Large callocs come from fresh, lazily
 * zeroed pages, so this is O(1) in practice. Two blocks rather than one:
 * the heads alone are a power of two, which is exactly a jemalloc size
 * class; heads plus stamps would round up to the next class (8 MB + 128 KB
 * becomes 10 MB at 2^20 buckets). */
static int table_init(struct kvmap *m, struct kvtable *t, uint64_t size)
{
    uint64_t nseg = (size + KVMAP_SEGMENT_BUCKETS - 1) / KVMAP_SEGMENT_BUCKETS;
    struct kventry **heads = map_calloc(m, (size_t)size * sizeof *heads);
    if (!heads)
        return KVMAP_ENOMEM;
    uint64_t *stamps = map_calloc(m, (size_t)nseg * sizeof *stamps);
    if (!stamps) {
        map_free(m, heads);
        return KVMAP_ENOMEM;
    }
    t->bucket = heads;
    t->seg_epoch = stamps;
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

static void table_free(struct kvmap *m, struct kvtable *t)
{
    map_free(m, t->seg_epoch);
    map_free(m, t->bucket);
    memset(t, 0, sizeof *t);
}

static inline uint64_t seg_stamp(const struct kvtable *t, size_t seg)
{
    uint64_t s = t->seg_epoch[seg];
    return s > t->base_epoch ? s : t->base_epoch;
}

/* Every write to bucket idx of table ti goes through here first: if a
 * snapshot is armed and has not captured the segment yet, let it serialise
 * the segment's pre-write state, then stamp the segment as written now. */
static void touch(struct kvmap *m, int ti, uint64_t idx)
{
    struct kvtable *t = &m->t[ti];
    size_t seg = (size_t)(idx / KVMAP_SEGMENT_BUCKETS);
    if (m->capture_fn && seg_stamp(t, seg) < m->capture_epoch) {
        m->in_capture = true;
        m->capture_fn(m->capture_arg, m, ti, seg);
        m->in_capture = false;
    }
    t->seg_epoch[seg] = m->epoch;
}

static void check_resize_after_delete(struct kvmap *m);

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
    check_resize_after_delete(m);
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
        for (struct kventry *x = e; x; x = x->next)
            touch(m, 1, e_hash(x) & t1->mask);
    }
    while (e) {
        struct kventry *next = e->next;
        uint64_t d = e_hash(e) & t1->mask;
        t1->seg_epoch[d / KVMAP_SEGMENT_BUCKETS] = m->epoch;
        e->next = t1->bucket[d];
        t1->bucket[d] = e;
        t0->used--;
        t1->used++;
        e = next;
    }
    t0->bucket[idx] = NULL;
}

/* Move up to n non-empty buckets, visiting at most n * STEP_EMPTY_VISITS
 * empty ones. Returns true while the rehash is still in progress. */
static bool rehash_step(struct kvmap *m, unsigned n)
{
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
    if (m->t[0].used == 0)
        rehash_finish(m); /* nothing to move: O(1) swap */
}

/* Grow at load factor 1, to twice the keys. */
static void check_expand(struct kvmap *m)
{
    if (!rehashing(m) && m->t[0].used >= m->t[0].size)
        resize_start(m, next_pow2(m->t[0].used + 1));
}

/* Shrink below load factor 0.1, to a load of 0.25..0.5 so that a few
 * inserts do not grow it straight back. */
static void check_resize_after_delete(struct kvmap *m)
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
static struct kventry **lookup(struct kvmap *m, const void *key, size_t klen, uint64_t h, int *ti,
                               uint64_t *idx)
{
    for (int t = 0; t <= (rehashing(m) ? 1 : 0); t++) {
        uint64_t i = h & m->t[t].mask;
        for (struct kventry **link = &m->t[t].bucket[i]; *link; link = &(*link)->next) {
            if (e_key_eq(*link, key, klen)) {
                *ti = t;
                *idx = i;
                return link;
            }
        }
    }
    return NULL;
}

/* Unlink and free the entry at *link in bucket idx of table ti. */
static void remove_at(struct kvmap *m, int ti, uint64_t idx, struct kventry **link)
{
    touch(m, ti, idx);
    struct kventry *e = *link;
    *link = e->next;
    m->t[ti].used--;
    if (e->flags & EF_EXPIRE)
        m->keys_with_ttl--;
    map_free(m, e);
}

static struct kventry *entry_new(struct kvmap *m, const void *key, size_t klen,
                                 const struct newval *nv, int64_t expire_ms)
{
    unsigned f = 0;
    if (klen > SHORT_LEN_MAX)
        f |= EF_KLEN4;
    if (nv->is_int)
        f |= EF_INT;
    else if (nv->vlen > SHORT_LEN_MAX)
        f |= EF_VLEN4;
    if (expire_ms != KVMAP_NO_EXPIRE)
        f |= EF_EXPIRE;
    size_t vbytes = nv->is_int ? 8 : nv->vlen;
    struct kventry *e = map_alloc(m, ENTRY_HDR + key_off(f) + klen + vbytes);
    if (!e)
        return NULL;
    e->next = NULL;
    e->flags = (uint8_t)f;
    uint8_t *p = store_len(e->data, klen, f & EF_KLEN4);
    if (!nv->is_int)
        p = store_len(p, nv->vlen, f & EF_VLEN4);
    if (f & EF_EXPIRE) {
        memcpy(p, &expire_ms, sizeof expire_ms);
        p += sizeof expire_ms;
    }
    if (klen)
        memcpy(p, key, klen);
    p += klen;
    if (nv->is_int)
        memcpy(p, &nv->iv, sizeof nv->iv);
    else if (nv->vlen)
        memcpy(p, nv->val, nv->vlen);
    return e;
}

/* Link a new entry for a key known to be absent. */
static void insert_new(struct kvmap *m, struct kventry *e, uint64_t h)
{
    check_expand(m);
    int ti = rehashing(m) ? 1 : 0; /* during a rehash new keys go to the target */
    uint64_t idx = h & m->t[ti].mask;
    touch(m, ti, idx);
    e->next = m->t[ti].bucket[idx];
    m->t[ti].bucket[idx] = e;
    m->t[ti].used++;
    if (e->flags & EF_EXPIRE)
        m->keys_with_ttl++;
}

/* Put e where *link's entry is and free the old one. */
static void replace_at(struct kvmap *m, int ti, uint64_t idx, struct kventry **link, struct kventry *e)
{
    touch(m, ti, idx);
    struct kventry *old = *link;
    e->next = old->next;
    *link = e;
    m->keys_with_ttl += (uint64_t)((e->flags & EF_EXPIRE) != 0) - ((old->flags & EF_EXPIRE) != 0);
    map_free(m, old);
}

/* Expiry argument to the value stored: anything below KEEP_TTL is a time
 * before 1970, i.e. already expired. */
static int64_t resolve_expire(int64_t expire_ms, const struct kventry *old_live)
{
    if (expire_ms == KVMAP_KEEP_TTL)
        return old_live ? e_expire(old_live) : KVMAP_NO_EXPIRE;
    if (expire_ms == KVMAP_NO_EXPIRE)
        return KVMAP_NO_EXPIRE;
    return expire_ms < 0 ? 0 : expire_ms;
}

static int set_value(struct kvmap *m, const void *key, size_t klen, const struct newval *nv,
                     int64_t expire_ms, int64_t now_ms)
{
    ASSERT_WRITABLE(m);
    if (klen > m->max_key || (!nv->is_int && nv->vlen > m->max_value))
        return KVMAP_ETOOBIG;
    rehash_step(m, STEP_BUCKETS);
    uint64_t h = hash_key(key, klen);
    int ti = 0;
    uint64_t idx = 0;
    struct kventry **link = lookup(m, key, klen, h, &ti, &idx);
    struct kventry *old = link ? *link : NULL;
    bool old_live = old && !e_expired(old, now_ms);
    struct kventry *e = entry_new(m, key, klen, nv, resolve_expire(expire_ms, old_live ? old : NULL));
    if (!e)
        return KVMAP_ENOMEM;
    if (!old) {
        insert_new(m, e, h);
        return 1;
    }
    replace_at(m, ti, idx, link, e);
    if (!old_live)
        m->expired++;
    return old_live ? 0 : 1;
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
    /* Any per-map seed will do: it only spreads kvmap_random's picks. */
    m->rng = clock_mono_ns() ^ ((uint64_t)(uintptr_t)m * 0x9e3779b97f4a7c15ULL);
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
            struct kventry *next = e->next;
            map_free(m, e);
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
    mem_free(m->acct, m);
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
    m->max_key = max_key < LEN_FIELD_MAX ? max_key : LEN_FIELD_MAX;
    m->max_value = max_value < LEN_FIELD_MAX ? max_value : LEN_FIELD_MAX;
}

struct kventry *kvmap_find(struct kvmap *m, const void *key, size_t klen, int64_t now_ms)
{
    ASSERT_WRITABLE(m); /* lazy expiry and rehash steps write */
    rehash_step(m, STEP_BUCKETS);
    int ti = 0;
    uint64_t idx = 0;
    struct kventry **link = lookup(m, key, klen, hash_key(key, klen), &ti, &idx);
    if (!link)
        return NULL;
    if (e_expired(*link, now_ms)) {
        remove_at(m, ti, idx, link);
        m->expired++;
        check_resize_after_delete(m);
        return NULL;
    }
    return *link;
}

int kvmap_set(struct kvmap *m, const void *key, size_t klen, const void *val, size_t vlen,
              int64_t expire_ms, int64_t now_ms)
{
    struct newval nv = {.val = val, .vlen = vlen};
    /* Only integers whose decimal form takes at least as many bytes as the
     * int64 (7 digits + the 1-byte length field) are converted: below that
     * the string is smaller, and INCR converts it on first use anyway. */
    if (vlen >= 7 && vlen <= m->max_value && parse_int64(val, vlen, &nv.iv))
        nv.is_int = true;
    return set_value(m, key, klen, &nv, expire_ms, now_ms);
}

int kvmap_set_int(struct kvmap *m, const void *key, size_t klen, int64_t v, int64_t expire_ms,
                  int64_t now_ms)
{
    struct newval nv = {.is_int = true, .iv = v};
    return set_value(m, key, klen, &nv, expire_ms, now_ms);
}

int kvmap_incrby(struct kvmap *m, const void *key, size_t klen, int64_t delta, int64_t now_ms,
                 int64_t *out)
{
    ASSERT_WRITABLE(m);
    if (klen > m->max_key)
        return KVMAP_ETOOBIG;
    rehash_step(m, STEP_BUCKETS);
    uint64_t h = hash_key(key, klen);
    int ti = 0;
    uint64_t idx = 0;
    struct kventry **link = lookup(m, key, klen, h, &ti, &idx);
    if (link && e_expired(*link, now_ms)) {
        /* Logically absent already; reaping it changes nothing visible. */
        remove_at(m, ti, idx, link);
        m->expired++;
        link = NULL;
    }
    struct newval nv = {.is_int = true};
    if (!link) {
        nv.iv = delta;
        struct kventry *e = entry_new(m, key, klen, &nv, KVMAP_NO_EXPIRE);
        if (!e)
            return KVMAP_ENOMEM;
        insert_new(m, e, h);
        *out = delta;
        return 0;
    }
    struct kventry *old = *link;
    int64_t cur;
    if (old->flags & EF_INT) {
        cur = e_int(old);
    } else {
        const char *s = (const char *)e_key(old) + e_klen(old);
        if (!parse_int64(s, e_vbytes(old), &cur))
            return KVMAP_ENOTINT;
    }
    if ((delta > 0 && cur > INT64_MAX - delta) || (delta < 0 && cur < INT64_MIN - delta))
        return KVMAP_EOVERFLOW;
    nv.iv = cur + delta;
    if (old->flags & EF_INT) {
        touch(m, ti, idx);
        memcpy((uint8_t *)e_key(old) + e_klen(old), &nv.iv, sizeof nv.iv);
    } else {
        struct kventry *e = entry_new(m, key, klen, &nv, e_expire(old));
        if (!e)
            return KVMAP_ENOMEM;
        replace_at(m, ti, idx, link, e);
    }
    *out = nv.iv;
    return 0;
}

int kvmap_del(struct kvmap *m, const void *key, size_t klen, int64_t now_ms)
{
    ASSERT_WRITABLE(m);
    rehash_step(m, STEP_BUCKETS);
    int ti = 0;
    uint64_t idx = 0;
    struct kventry **link = lookup(m, key, klen, hash_key(key, klen), &ti, &idx);
    if (!link)
        return 0;
    bool live = !e_expired(*link, now_ms);
    remove_at(m, ti, idx, link);
    if (!live)
        m->expired++;
    check_resize_after_delete(m);
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
    uint64_t h = e_hash(e);
    struct kventry **link = NULL;
    int ti = 0;
    uint64_t idx = 0;
    for (int t = 0; t <= (rehashing(m) ? 1 : 0) && !link; t++) {
        uint64_t i = h & m->t[t].mask;
        for (struct kventry **l = &m->t[t].bucket[i]; *l; l = &(*l)->next) {
            if (*l == e) {
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
    size_t lens = lens_size(e->flags);
    size_t body = e_klen(e) + e_vbytes(e); /* key and value bytes */
    if (expire_ms == KVMAP_NO_EXPIRE) {
        if (!(e->flags & EF_EXPIRE))
            return 0;
        touch(m, ti, idx);
        memmove(e->data + lens, e->data + lens + 8, body);
        e->flags &= (uint8_t)~EF_EXPIRE;
        m->keys_with_ttl--;
        return 0;
    }
    if (e->flags & EF_EXPIRE) {
        touch(m, ti, idx);
        memcpy(e->data + lens, &expire_ms, sizeof expire_ms);
        return 0;
    }
    size_t need = e_size(e) + 8;
    if (need <= mem_usable(e)) {
        /* The size class has room: shift key and value in place. */
        touch(m, ti, idx);
        memmove(e->data + lens + 8, e->data + lens, body);
    } else {
        struct kventry *n = map_alloc(m, need);
        if (!n)
            return KVMAP_ENOMEM;
        touch(m, ti, idx);
        n->flags = e->flags;
        memcpy(n->data, e->data, lens);
        memcpy(n->data + lens + 8, e->data + lens, body);
        n->next = e->next;
        *link = n;
        map_free(m, e);
        e = n;
    }
    memcpy(e->data + lens, &expire_ms, sizeof expire_ms);
    e->flags |= EF_EXPIRE;
    m->keys_with_ttl++;
    return 0;
}

const char *kventry_key(const struct kventry *e, size_t *klen)
{
    *klen = e_klen(e);
    return (const char *)e_key(e);
}

const char *kventry_value(const struct kventry *e, char buf[21], size_t *vlen)
{
    if (e->flags & EF_INT) {
        *vlen = format_int64(e_int(e), buf);
        return buf;
    }
    *vlen = e_vbytes(e);
    return (const char *)e_key(e) + e_klen(e);
}

bool kventry_int(const struct kventry *e, int64_t *v)
{
    if (!(e->flags & EF_INT))
        return false;
    *v = e_int(e);
    return true;
}

int64_t kventry_expire(const struct kventry *e)
{
    return e_expire(e);
}

uint64_t kvmap_count(const struct kvmap *m)
{
    ASSERT_OWNER(m);
    return m->t[0].used + m->t[1].used;
}

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
    int64_t now_ms;     /* entries expired at this time are skipped */
    kvmap_visit_fn fn;  /* the caller's visitor */
    void *arg;          /* its argument */
};

static void scan_bucket(struct kvmap *m, int ti, uint64_t idx, void *ctx)
{
    struct scan_ctx *c = ctx;
    for (struct kventry *e = m->t[ti].bucket[idx]; e; e = e->next)
        if (!e_expired(e, c->now_ms))
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
        rehash_step(m, STEP_BUCKETS);
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
        for (struct kventry *e = m->t[ti].bucket[idx]; e; e = e->next)
            len++;
        uint64_t k = rng_next(m) % len;
        struct kventry **link = &m->t[ti].bucket[idx];
        while (k--)
            link = &(*link)->next;
        if (!e_expired(*link, now_ms))
            return *link;
        remove_at(m, ti, idx, link);
        m->expired++;
        check_resize_after_delete(m);
    }
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

struct expire_ctx {
    int64_t now_ms;    /* entries with expiry < now_ms are reaped */
    uint64_t removed;  /* how many were */
};

static void expire_bucket(struct kvmap *m, int ti, uint64_t idx, void *ctx)
{
    struct expire_ctx *c = ctx;
    struct kventry **link = &m->t[ti].bucket[idx];
    while (*link) {
        if (e_expired(*link, c->now_ms)) {
            remove_at(m, ti, idx, link);
            c->removed++;
        } else {
            link = &(*link)->next;
        }
    }
}

uint64_t kvmap_expire_slice(struct kvmap *m, int64_t now_ms, uint64_t budget_ns)
{
    ASSERT_WRITABLE(m);
    if (m->keys_with_ttl == 0)
        return 0;
    uint64_t start = clock_mono_ns();
    uint64_t total = m->t[0].size + m->t[1].size;
    uint64_t visited = 0, next_check = SLICE_EXPIRE_CHECK;
    struct expire_ctx c = {now_ms, 0};
    uint64_t v = m->expire_cursor;
    /* Tables do not change size inside this loop (removals never start a
     * resize here), so the reverse-binary cursor stays valid throughout.
     * One pass is as many bucket visits as there are buckets, starting
     * wherever the last slice stopped. */
    do {
        v = scan_step(m, v, expire_bucket, &c, &visited);
        if (visited >= next_check) {
            next_check = visited + SLICE_EXPIRE_CHECK;
            if (clock_mono_ns() - start >= budget_ns)
                break;
        }
    } while (visited < total && m->keys_with_ttl > 0);
    m->expire_cursor = v;
    m->expired += c.removed;
    check_resize_after_delete(m);
    return c.removed;
}

bool kvmap_rehash_slice(struct kvmap *m, uint64_t budget_ns)
{
    ASSERT_WRITABLE(m);
    if (!rehashing(m))
        return false;
    uint64_t start = clock_mono_ns();
    while (rehash_step(m, SLICE_REHASH_BUCKETS) && clock_mono_ns() - start < budget_ns)
        ;
    return rehashing(m);
}

uint64_t kvmap_epoch_begin(struct kvmap *m, kvmap_capture_fn fn, void *arg)
{
    ASSERT_WRITABLE(m);
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
    for (uint64_t i = lo; i < hi; i++)
        for (struct kventry *e = t->bucket[i]; e; e = e->next)
            fn(arg, e);
}

void kvmap_stats(struct kvmap *m, struct kvmap_stats *st)
{
    ASSERT_OWNER(m);
    uint64_t longest = 0;
    for (int t = 0; t < 2; t++) {
        for (uint64_t i = 0; i < m->t[t].size; i++) {
            uint64_t len = 0;
            for (struct kventry *e = m->t[t].bucket[i]; e; e = e->next)
                len++;
            if (len > longest)
                longest = len;
        }
    }
    m->longest_chain = longest;
    memset(st, 0, sizeof *st);
    st->keys = kvmap_count(m);
    st->keys_with_ttl = m->keys_with_ttl;
    st->buckets = m->t[0].size + m->t[1].size;
    st->load_factor = st->buckets ? (double)st->keys / (double)st->buckets : 0.0;
    st->resizes = m->resizes;
    st->rehashing = rehashing(m) ? 1 : 0;
    st->longest_chain = longest;
    st->expired = m->expired;
    st->epoch = m->epoch;
    st->used_memory = m->used_memory;
}
