/* evict.c — Redis's approximated eviction over one shard's databases: each
 * step samples maxmemory-samples keys per database, keeps the best
 * candidates in a pool of EVICT_POOL_SIZE across steps (Redis's
 * evictionPoolPopulate), and deletes the best one that still exists; the
 * random policies just pick a key. Runs on the shard's thread. */
#include "shard/evict.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/mem.h"
#include "shard/kventry.h"
#include "shard/kvmap.h"

/* Keys deleted between clock reads. */
#define EVICT_CLOCK_EVERY 16

static const char *const names[] = {
    [EVICT_NOEVICTION] = "noeviction",         [EVICT_ALLKEYS_LRU] = "allkeys-lru",
    [EVICT_ALLKEYS_LFU] = "allkeys-lfu",       [EVICT_ALLKEYS_RANDOM] = "allkeys-random",
    [EVICT_VOLATILE_LRU] = "volatile-lru",     [EVICT_VOLATILE_LFU] = "volatile-lfu",
    [EVICT_VOLATILE_RANDOM] = "volatile-random", [EVICT_VOLATILE_TTL] = "volatile-ttl",
};
#define NPOLICIES (sizeof names / sizeof names[0])

const char *evict_policy_name(int policy)
{
    return policy >= 0 && (size_t)policy < NPOLICIES ? names[policy] : NULL;
}

int evict_policy_parse(const char *name, size_t len)
{
    for (size_t i = 0; i < NPOLICIES; i++)
        if (strlen(names[i]) == len && strncasecmp(names[i], name, len) == 0)
            return (int)i;
    return -1;
}

int evict_policy_access(int policy)
{
    return policy == EVICT_ALLKEYS_LFU || policy == EVICT_VOLATILE_LFU ? KVMAP_ACCESS_LFU
                                                                        : KVMAP_ACCESS_LRU;
}

static bool is_volatile(int policy)
{
    return policy >= EVICT_VOLATILE_LRU;
}

/* ------------------------------------------------------------------ pool */

/* Key bytes a slot keeps in a buffer of its own (Redis's
 * EVPOOL_CACHED_SDS_SIZE): a candidate costs no malloc and free unless its
 * key is longer. */
#define KEY_CACHE 255

/* One candidate: a copy of its key, since the entry may go away before
 * the pool is next read. A candidate lives in a slot of the pool, which
 * never moves: the ranking moves one-byte slot numbers instead, so that an
 * insertion shifts 9 bytes per place rather than a whole candidate. */
struct cand {
    char *key;   /* the key: cache, or malloc'd when longer; NULL for an
                    empty slot */
    char *cache; /* this slot's KEY_CACHE bytes (inside the pool) */
    size_t klen; /* the key's length */
    unsigned db; /* its database */
};

struct evict_pool {
    /* The ranking, by position: rank[] ascending (higher is evicted
     * first), the n candidates in the last n positions; at[] is the slot
     * of each position (a permutation of the slots, the empty ones in the
     * first 16 - n positions). */
    uint64_t rank[EVICT_POOL_SIZE];
    uint8_t at[EVICT_POOL_SIZE];
    unsigned n;
    /* By slot: each candidate's entry address when sampled, 0 for an empty
     * slot. A sample at the same address may be the same key again
     * (compared, never followed). */
    uintptr_t entry[EVICT_POOL_SIZE];
    /* How many of those entries fall in each address class (entry_class):
     * a sample whose class is empty is not in the pool, and that is nearly
     * every sample. */
    uint8_t class_count[256];
    struct cand c[EVICT_POOL_SIZE]; /* by slot */
    unsigned next_db;               /* the random policies' round-robin */
    unsigned scan_db;               /* volatile fallback scan: database, */
    uint64_t scan_cursor;           /* and its kvmap_scan cursor */
    uint32_t live_dbs;              /* databases that held keys when last
                                       looked (bit i: database i < 32) */
    unsigned fills;                 /* pool_fill calls, counting to the next
                                       look (LIVE_DBS_EVERY) */
    char spare[KEY_CACHE];          /* the random policies' victim's key */
    char caches[EVICT_POOL_SIZE][KEY_CACHE]; /* the slots' buffers */
};

struct evict_pool *evict_pool_create(void)
{
    struct evict_pool *p = calloc(1, sizeof(struct evict_pool));
    if (p)
        for (unsigned i = 0; i < EVICT_POOL_SIZE; i++) {
            p->c[i].cache = p->caches[i];
            p->at[i] = (uint8_t)i;
        }
    return p;
}

/* Forget c's key, keeping its buffer. */
static void cand_clear(struct cand *c)
{
    if (c->key && c->key != c->cache)
        free(c->key);
    *c = (struct cand){.cache = c->cache};
}

void evict_pool_destroy(struct evict_pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < EVICT_POOL_SIZE; i++)
        cand_clear(&p->c[i]);
    free(p);
}

/* e's address class in class_count (a multiplicative hash: entries are
 * 16-byte aligned, and those of one size class lie a fixed stride apart). */
static inline unsigned entry_class(uintptr_t e)
{
    return (unsigned)(((uint64_t)e * 0x9e3779b97f4a7c15ULL) >> 56);
}

/* Whether the pool holds e's key already (sampled again). */
static bool pool_has(const struct evict_pool *p, unsigned db, const struct kventry *e,
                     const char *key, size_t klen)
{
    if (p->class_count[entry_class((uintptr_t)e)] == 0)
        return false;
    for (unsigned s = 0; s < EVICT_POOL_SIZE; s++)
        if (p->entry[s] == (uintptr_t)e && p->c[s].db == db && p->c[s].klen == klen &&
            memcmp(p->c[s].key, key, klen) == 0)
            return true;
    return false;
}

/* Insert a candidate in rank order, dropping the worst when full (or this
 * one, when it is worse than all of them). Most samples of a flood are
 * dropped, so that is decided first. */
static inline void pool_insert(struct evict_pool *p, uint64_t rank, unsigned db,
                               const struct kventry *e)
{
    /* Position: the first candidate with a rank as high or higher. */
    unsigned k = EVICT_POOL_SIZE - p->n;
    while (k < EVICT_POOL_SIZE && p->rank[k] < rank)
        k++;
    if (k == 0)
        return; /* worse than every candidate of a full pool */
    size_t klen;
    const char *key = kventry_key(e, &klen);
    if (pool_has(p, db, e, key, klen))
        return; /* keep the older rank */
    char *big = NULL;
    if (klen > KEY_CACHE && !(big = malloc(klen)))
        return; /* a candidate less; the next step samples again */
    /* Position 0 (empty, or the worst, dropped) leaves; the positions
     * below k shift down into it and its slot takes position k - 1. */
    unsigned s = p->at[0];
    struct cand *c = &p->c[s];
    if (c->key) {
        p->class_count[entry_class(p->entry[s])]--;
        cand_clear(c);
    } else {
        p->n++;
    }
    memmove(&p->rank[0], &p->rank[1], sizeof p->rank[0] * (k - 1));
    memmove(&p->at[0], &p->at[1], k - 1);
    p->rank[k - 1] = rank;
    p->at[k - 1] = (uint8_t)s;
    p->entry[s] = (uintptr_t)e;
    p->class_count[entry_class((uintptr_t)e)]++;
    *c = (struct cand){.key = big ? big : c->cache, .cache = c->cache, .klen = klen, .db = db};
    memcpy(c->key, key, klen);
}

/* Take the best candidate out of the pool into *v (its key stays valid
 * until the next pool_insert); false when the pool is empty. */
static bool pool_take(struct evict_pool *p, struct cand *v)
{
    if (p->n == 0)
        return false;
    unsigned s = p->at[EVICT_POOL_SIZE - 1];
    *v = p->c[s];
    p->c[s] = (struct cand){.cache = v->cache};
    p->class_count[entry_class(p->entry[s])]--;
    p->entry[s] = 0;
    p->n--;
    memmove(&p->rank[1], &p->rank[0], sizeof p->rank[0] * (EVICT_POOL_SIZE - 1));
    memmove(&p->at[1], &p->at[0], EVICT_POOL_SIZE - 1);
    p->at[0] = (uint8_t)s;
    p->rank[0] = 0;
    return true;
}

/* The volatile fallback scan's visitor context (sample_one). */
struct sample_ctx {
    struct evict_pool *p;        /* where candidates go */
    const struct kvmap *m;       /* the map walked */
    unsigned db;                 /* its index */
    const struct evict_req *r;   /* policy and clock */
};

/* e's eviction rank in map m under r's policy: higher goes first. */
static inline uint64_t sample_rank(const struct kvmap *m, const struct evict_req *r,
                                   const struct kventry *e)
{
    if (r->policy == EVICT_VOLATILE_TTL)
        return UINT64_MAX - (uint64_t)kventry_expire(e); /* the nearest expiry first */
    return kvmap_evict_rank(m, e, r->now_ms);
}

static void sample_one(void *arg, const struct kventry *e)
{
    struct sample_ctx *x = arg;
    pool_insert(x->p, sample_rank(x->m, x->r, e), x->db, e);
}

/* kvmap_scan visitor for the volatile fallback: entries with a TTL. */
struct ttl_scan {
    kvmap_visit_fn fn; /* called for each */
    void *arg;         /* its argument */
    size_t seen;       /* how many */
};

static void ttl_visit(void *arg, const struct kventry *e)
{
    struct ttl_scan *x = arg;
    if (kventry_expire(e) == KVMAP_NO_EXPIRE)
        return;
    x->fn(x->arg, e);
    x->seen++;
}

/* When sampling meets no key with a TTL, a volatile policy walks the maps
 * with a cursor kept across calls until it meets some, or has walked them
 * all once: a few keys with TTLs among millions without are still found
 * (Redis samples a dictionary of those keys alone; we keep none). Each
 * kvmap_scan call visits about one bucket. fn gets arg, after *m and *dbi
 * (when not NULL) were set to the map being walked. */
static size_t volatile_scan(struct evict_pool *p, struct kvmap *const *db, unsigned ndb,
                            int64_t now_ms, kvmap_visit_fn fn, void *arg,
                            const struct kvmap **m, unsigned *dbi)
{
    for (unsigned n = 0; n <= ndb; n++) {
        unsigned i = p->scan_db % ndb;
        if (m)
            *m = db[i];
        if (dbi)
            *dbi = i;
        struct ttl_scan x = {fn, arg, 0};
        do
            p->scan_cursor = kvmap_scan(db[i], p->scan_cursor, now_ms, ttl_visit, &x);
        while (p->scan_cursor != 0 && x.seen == 0);
        if (x.seen)
            return x.seen;
        p->scan_db++; /* none left in this database: the next one */
    }
    return 0;
}

/* Sampling rounds before a volatile policy concludes that no key has a
 * TTL: we sample the whole map (Redis samples its expires dict), so a few
 * keys with TTLs among many without may take several rounds to meet. */
#define VOLATILE_ROUNDS 8

/* pool_fill calls between two looks at which databases hold keys: most
 * of a shard's 16 are empty, and asking each of them cost a flood more
 * than sampling. A database filled in between waits this many steps to be
 * sampled; one that emptied is skipped as before. */
#define LIVE_DBS_EVERY 64

/* The databases to sample (bit i: db[i]), looked at again every
 * LIVE_DBS_EVERY calls or when fresh. Databases past the 32nd are always
 * looked at. */
static uint32_t live_dbs(struct evict_pool *p, struct kvmap *const *db, unsigned ndb, bool fresh)
{
    if (fresh || p->fills++ % LIVE_DBS_EVERY == 0) {
        uint32_t live = 0;
        for (unsigned i = 0; i < ndb && i < 32; i++)
            if (kvmap_count(db[i]) != 0)
                live |= 1u << i;
        p->live_dbs = live;
    }
    return p->live_dbs;
}

/* Keys sampled per kvmap_sample call: maxmemory-samples is taken in
 * chunks of this many. */
#define SAMPLE_CHUNK 64

/* Sample database i of db[] into the pool; how many keys were seen. */
static size_t fill_from(struct evict_pool *p, struct kvmap *const *db, unsigned i,
                        const struct evict_req *r)
{
    const struct kventry *e[SAMPLE_CHUNK];
    size_t seen = 0;
    for (size_t left = r->samples; left > 0;) {
        size_t want = left < SAMPLE_CHUNK ? left : SAMPLE_CHUNK;
        size_t got = kvmap_sample(db[i], want, is_volatile(r->policy), r->now_ms, e);
        for (size_t k = 0; k < got; k++)
            pool_insert(p, sample_rank(db[i], r, e[k]), i, e[k]);
        seen += got;
        left -= want;
        if (got < want)
            break; /* the map ran out of buckets to visit */
    }
    return seen;
}

/* Fill the pool from every database; false when nothing was sampled and
 * the pool is empty (nothing left to evict under this policy). */
static bool pool_fill(struct evict_pool *p, struct kvmap *const *db, unsigned ndb,
                      const struct evict_req *r)
{
    size_t seen = 0;
    unsigned rounds = is_volatile(r->policy) ? VOLATILE_ROUNDS : 1;
    /* A pass that sees nothing looks at the databases afresh before the
     * pool is judged empty: the "nothing left" decision (and so every
     * -OOM refusal) never rests on an old look. */
    for (int pass = 0; pass < 2 && seen == 0; pass++) {
        uint32_t live = live_dbs(p, db, ndb, pass == 1);
        for (unsigned k = 0; k < rounds && seen == 0; k++) {
            for (uint32_t m = live; m; m &= m - 1)
                seen += fill_from(p, db, (unsigned)__builtin_ctz(m), r);
            for (unsigned i = 32; i < ndb; i++)
                if (kvmap_count(db[i]) != 0)
                    seen += fill_from(p, db, i, r);
        }
    }
    if (seen == 0 && is_volatile(r->policy)) {
        struct sample_ctx x = {p, NULL, 0, r};
        seen = volatile_scan(p, db, ndb, r->now_ms, sample_one, &x, &x.m, &x.db);
    }
    return seen || p->n;
}

/* ---------------------------------------------------------------- random */

/* The random policies' victim: the first key seen, copied into v (its
 * cache, or a malloc'd block when longer). */
struct first_ctx {
    struct cand *v; /* key NULL until one is seen */
    unsigned db;    /* the database sampled */
};

static void take_first(void *arg, const struct kventry *e)
{
    struct first_ctx *x = arg;
    if (x->v->key)
        return;
    size_t klen;
    const char *k = kventry_key(e, &klen);
    char *key = klen <= KEY_CACHE ? x->v->cache : malloc(klen);
    if (!key)
        return;
    memcpy(key, k, klen);
    *x->v = (struct cand){.key = key, .cache = x->v->cache,
                          .klen = klen, .db = x->db};
}

/* Pick a random victim for the random policies: a copy of its key in *v,
 * whose cache is the buffer to use. */
static bool pick_random(struct evict_pool *p, struct kvmap *const *db, unsigned ndb,
                        const struct evict_req *r, struct cand *v)
{
    unsigned rounds = r->policy == EVICT_VOLATILE_RANDOM ? VOLATILE_ROUNDS : 1;
    for (unsigned tries = 0; tries < ndb * rounds; tries++) {
        unsigned i = p->next_db++ % ndb;
        struct first_ctx x = {v, i};
        if (r->policy == EVICT_VOLATILE_RANDOM) {
            /* The first key with a TTL after a random bucket. */
            const struct kventry *e[SAMPLE_CHUNK];
            if (kvmap_sample(db[i], r->samples < SAMPLE_CHUNK ? r->samples : SAMPLE_CHUNK, true,
                             r->now_ms, e))
                take_first(&x, e[0]);
        } else {
            struct kventry *e = kvmap_random(db[i], r->now_ms);
            if (e)
                take_first(&x, e);
        }
        if (v->key)
            return true;
    }
    if (r->policy == EVICT_VOLATILE_RANDOM) {
        struct first_ctx x = {v, 0};
        volatile_scan(p, db, ndb, r->now_ms, take_first, &x, NULL, &x.db);
        if (v->key)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------- run */

bool evict_run(struct evict_pool *p, struct kvmap *const *db, unsigned ndb, struct evict_req *r)
{
    r->freed = 0;
    r->keys = 0;
    r->exhausted = false;
    if (r->policy == EVICT_NOEVICTION || ndb == 0 || r->need == 0) {
        r->exhausted = r->need != 0;
        return r->need == 0;
    }
    struct mem_acct *acct = kvmap_acct(db[0]);
    int64_t start_used = acct->used;
    uint64_t start = clock_mono_ns();
    bool random = r->policy == EVICT_ALLKEYS_RANDOM || r->policy == EVICT_VOLATILE_RANDOM;
    if (r->samples == 0)
        r->samples = 1;
    for (;;) {
        struct cand victim = {.cache = p->spare};
        bool found = false;
        if (random) {
            found = pick_random(p, db, ndb, r, &victim);
        } else {
            if (!pool_fill(p, db, ndb, r)) {
                r->exhausted = true;
                break;
            }
            /* The best candidate that still exists (Redis re-checks too).
             * Its buffer is unused until the next pool_fill. */
            while (!found && pool_take(p, &victim)) {
                found = kvmap_del(db[victim.db], victim.key, victim.klen, r->now_ms) == 1;
                if (!found)
                    cand_clear(&victim);
            }
            if (!found)
                continue; /* every candidate was gone: sample afresh */
        }
        if (!found) {
            r->exhausted = true;
            break;
        }
        if (random)
            kvmap_del(db[victim.db], victim.key, victim.klen, r->now_ms);
        if (r->on_evict)
            r->on_evict(r->arg, victim.db, victim.key, victim.klen);
        cand_clear(&victim);
        r->keys++;
        int64_t freed = start_used - acct->used;
        r->freed = freed > 0 ? (size_t)freed : 0;
        if (r->freed >= r->need)
            return true;
        if (r->keys % EVICT_CLOCK_EVERY == 0 && clock_mono_ns() - start >= r->budget_ns)
            break;
    }
    return r->freed >= r->need;
}
