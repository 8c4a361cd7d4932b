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
 * the pool is next read. */
struct cand {
    uint64_t rank;   /* higher is evicted first */
    uintptr_t entry; /* its entry's address when sampled: a sample at the
                        same address may be this key again (compared,
                        never followed) */
    char *key;       /* the key: cache, or malloc'd when longer; NULL for
                        an empty slot */
    char *cache;     /* this slot's KEY_CACHE bytes (inside the pool); it
                        travels with the slot as the pool shifts */
    size_t klen;     /* the key's length */
    unsigned db;     /* its database */
};

struct evict_pool {
    struct cand c[EVICT_POOL_SIZE]; /* sorted by rank, ascending; used slots last */
    unsigned next_db;               /* the random policies' round-robin */
    unsigned scan_db;               /* volatile fallback scan: database, */
    uint64_t scan_cursor;           /* and its kvmap_scan cursor */
    char spare[KEY_CACHE];          /* the random policies' victim's key */
    char caches[EVICT_POOL_SIZE][KEY_CACHE]; /* the slots' buffers */
};

struct evict_pool *evict_pool_create(void)
{
    struct evict_pool *p = calloc(1, sizeof(struct evict_pool));
    if (p)
        for (unsigned i = 0; i < EVICT_POOL_SIZE; i++)
            p->c[i].cache = p->caches[i];
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

/* Insert a candidate in rank order, dropping the worst when full (or this
 * one, when it is worse than all of them). Most samples of a flood are
 * dropped, so that is decided first. */
static void pool_insert(struct evict_pool *p, uint64_t rank, unsigned db, const struct kventry *e)
{
    struct cand *c = p->c;
    /* Position: the first used slot with a higher rank. */
    unsigned k = 0;
    while (k < EVICT_POOL_SIZE && (!c[k].key || c[k].rank < rank))
        k++;
    if (k == 0 && c[0].key)
        return; /* worse than every candidate of a full pool */
    size_t klen;
    const char *key = kventry_key(e, &klen);
    for (unsigned i = 0; i < EVICT_POOL_SIZE; i++)
        if (c[i].entry == (uintptr_t)e && c[i].key && c[i].db == db && c[i].klen == klen &&
            memcmp(c[i].key, key, klen) == 0)
            return; /* sampled again: keep the older rank */
    char *big = NULL;
    if (klen > KEY_CACHE && !(big = malloc(klen)))
        return; /* a candidate less; the next step samples again */
    /* Slot 0 (free, or the worst, dropped) leaves; the lower part shifts
     * left into it and the new candidate takes slot k - 1 and its buffer. */
    char *cache = c[0].cache;
    cand_clear(&c[0]);
    memmove(&c[0], &c[1], sizeof c[0] * (k - 1));
    c[k - 1] = (struct cand){.rank = rank, .entry = (uintptr_t)e,
                             .key = big ? big : cache, .cache = cache, .klen = klen, .db = db};
    memcpy(c[k - 1].key, key, klen);
}

struct sample_ctx {
    struct evict_pool *p;   /* where candidates go */
    const struct kvmap *m;  /* the map sampled */
    unsigned db;            /* its index */
    int policy;             /* EVICT_* */
    int64_t now_ms;         /* the clock */
};

static void sample_one(void *arg, const struct kventry *e)
{
    struct sample_ctx *x = arg;
    uint64_t rank;
    if (x->policy == EVICT_VOLATILE_TTL)
        rank = UINT64_MAX - (uint64_t)kventry_expire(e); /* the nearest expiry first */
    else
        rank = kvmap_evict_rank(x->m, e, x->now_ms);
    pool_insert(x->p, rank, x->db, e);
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

/* Fill the pool from every database; false when nothing was sampled and
 * the pool is empty (nothing left to evict under this policy). */
static bool pool_fill(struct evict_pool *p, struct kvmap *const *db, unsigned ndb,
                      const struct evict_req *r)
{
    size_t seen = 0;
    unsigned rounds = is_volatile(r->policy) ? VOLATILE_ROUNDS : 1;
    for (unsigned k = 0; k < rounds && seen == 0; k++) {
        for (unsigned i = 0; i < ndb; i++) {
            /* Most of a shard's 16 databases are empty, as Redis checks
             * before evictionPoolPopulate: kvmap_sample's entry costs more
             * than this test, and a flood paid it 15 times per key. */
            if (kvmap_count(db[i]) == 0)
                continue;
            struct sample_ctx x = {p, db[i], i, r->policy, r->now_ms};
            seen += kvmap_sample(db[i], r->samples, is_volatile(r->policy), r->now_ms,
                                 sample_one, &x);
        }
    }
    if (seen == 0 && is_volatile(r->policy)) {
        struct sample_ctx x = {p, NULL, 0, r->policy, r->now_ms};
        seen = volatile_scan(p, db, ndb, r->now_ms, sample_one, &x, &x.m, &x.db);
    }
    if (seen)
        return true;
    for (unsigned i = 0; i < EVICT_POOL_SIZE; i++)
        if (p->c[i].key)
            return true;
    return false;
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
            kvmap_sample(db[i], r->samples, true, r->now_ms, take_first, &x);
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
            /* The best candidate that still exists (Redis re-checks too):
             * always the last slot, since empty slots come first. It
             * leaves the pool, which shifts up; its buffer becomes slot
             * 0's, unused until the next pool_fill. */
            while (!found && p->c[EVICT_POOL_SIZE - 1].key) {
                victim = p->c[EVICT_POOL_SIZE - 1];
                memmove(&p->c[1], &p->c[0], sizeof p->c[0] * (EVICT_POOL_SIZE - 1));
                p->c[0] = (struct cand){.cache = victim.cache};
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
