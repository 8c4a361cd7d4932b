/* evict.h — choosing and removing keys when a shard is over its share of
 * maxmemory: Redis's eight policies, approximated as Redis does (a few
 * keys sampled per step, the best kept in a small pool across steps), over
 * the databases of one shard. Runs on the shard's own thread, in bounded
 * steps: a caller asks for a number of bytes and a time budget, never
 * "until done". How much a shard must free (the shared bound) is the
 * caller's business. */
#ifndef SKV_SHARD_EVICT_H
#define SKV_SHARD_EVICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kvmap;

/* maxmemory-policy values, in Redis's order of documentation. */
enum evict_policy {
    EVICT_NOEVICTION = 0,
    EVICT_ALLKEYS_LRU,
    EVICT_ALLKEYS_LFU,
    EVICT_ALLKEYS_RANDOM,
    EVICT_VOLATILE_LRU,
    EVICT_VOLATILE_LFU,
    EVICT_VOLATILE_RANDOM,
    EVICT_VOLATILE_TTL,
};

/* Redis's name of a policy ("allkeys-lru", ...), or NULL. Static string. */
const char *evict_policy_name(int policy);

/* The policy named name (case-insensitive, len bytes), or -1. */
int evict_policy_parse(const char *name, size_t len);

/* The access stamps a policy ranks by (KVMAP_ACCESS_* of kvmap.h): LFU for
 * the LFU policies, LRU for every other (Redis keeps the LRU clock
 * whatever the policy, for OBJECT IDLETIME). */
int evict_policy_access(int policy);

/* Candidates kept between steps (Redis's EVPOOL_SIZE). */
#define EVICT_POOL_SIZE 16

/* One shard's eviction state: the pool. Owned by the shard. */
struct evict_pool;

/* A new empty pool, or NULL when out of memory. */
struct evict_pool *evict_pool_create(void);

/* Free p (NULL is fine). */
void evict_pool_destroy(struct evict_pool *p);

/* Called for each key evicted, before it is deleted (keyspace events,
 * counters). The key is borrowed for the call. */
typedef void (*evict_key_fn)(void *arg, unsigned db, const void *key, size_t klen);

/* What one evict_run asks and did. */
struct evict_req {
    int policy;             /* EVICT_* (NOEVICTION evicts nothing) */
    unsigned samples;       /* maxmemory-samples: keys sampled per database and step */
    int64_t now_ms;         /* the clock for idle times and expiry */
    size_t need;            /* bytes to free */
    uint64_t budget_ns;     /* stop after this much time even if short */
    evict_key_fn on_evict;  /* optional */
    void *arg;              /* its argument */
    /* Out: */
    size_t freed;           /* bytes the maps' account went down by */
    uint64_t keys;          /* keys evicted */
    bool exhausted;         /* stopped short because nothing is left to evict
                               under the policy (Redis's EVICT_FAIL), not for
                               lack of time (EVICT_RUNNING) */
};

/* Evict from the ndb maps db[] (one shard's, all charged to one account)
 * until r->need bytes are freed, nothing is left to evict under the policy
 * (r->exhausted), or r->budget_ns is spent (checked every few keys).
 * Returns true when it freed what was needed. Owner thread. */
bool evict_run(struct evict_pool *p, struct kvmap *const *db, unsigned ndb, struct evict_req *r);

#endif
