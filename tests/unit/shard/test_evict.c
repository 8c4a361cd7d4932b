/* test_evict.c — shard/evict.c, one test per maxmemory-policy on a shard's
 * maps with a small need: LRU keeps the recently read keys, LFU the
 * frequently read ones, volatile-* never touch keys without a TTL,
 * volatile-ttl takes the nearest expiries first, the random policies free
 * what was asked, noeviction frees nothing; plus the time budget, the
 * callback, several databases and the pool across steps. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "shard/evict.h"
#include "shard/kvmap.h"

#define NDB 2
#define NKEYS 2000
#define T0 ((int64_t)1700000000000)

static struct mem_acct acct;
static struct kvmap *db[NDB];
static struct evict_pool *pool;
/* Which keys were evicted, by index (keys are "k<index>" in db 0). */
static bool gone[NKEYS];
static unsigned ncalls;

static void setup(void)
{
    memset(&acct, 0, sizeof acct);
    memset(gone, 0, sizeof gone);
    ncalls = 0;
    for (int i = 0; i < NDB; i++)
        cr_assert_not_null(db[i] = kvmap_create(&acct));
    cr_assert_not_null(pool = evict_pool_create());
}

static void teardown(void)
{
    evict_pool_destroy(pool);
    for (int i = 0; i < NDB; i++)
        kvmap_destroy(db[i]);
    cr_expect_eq(acct.used, 0);
}

TestSuite(evict, .init = setup, .fini = teardown);

static int keyname(char *buf, int i)
{
    return snprintf(buf, 16, "k%d", i);
}

static void put(int i, int64_t expire, int64_t now)
{
    char k[16];
    int n = keyname(k, i);
    cr_assert_geq(kvmap_set(db[0], k, (size_t)n, "0123456789abcdef0123456789abcdef", 32, expire,
                            now), 0);
}

static void read_key(int i, int64_t now)
{
    char k[16];
    int n = keyname(k, i);
    cr_assert_not_null(kvmap_find(db[0], k, (size_t)n, now));
}

static void on_evict(void *arg, unsigned dbi, const void *key, size_t klen)
{
    (void)arg;
    ncalls++;
    if (dbi != 0)
        return;
    char buf[16];
    cr_assert_lt(klen, sizeof buf);
    memcpy(buf, key, klen);
    buf[klen] = 0;
    int i = atoi(buf + 1);
    cr_assert(i >= 0 && i < NKEYS);
    gone[i] = true;
}

/* Evict about n keys' worth of bytes under policy; returns keys evicted. */
static uint64_t evict(int policy, int n, int64_t now, bool *ok)
{
    size_t per_key = (size_t)acct.used / (kvmap_count(db[0]) + 1);
    struct evict_req r = {.policy = policy, .samples = 10, .now_ms = now,
                          .need = per_key * (size_t)n, .budget_ns = UINT64_MAX,
                          .on_evict = on_evict};
    bool done = evict_run(pool, db, NDB, &r);
    if (ok)
        *ok = done;
    cr_assert_eq(r.keys, ncalls, "the callback saw every key");
    return r.keys;
}

/* Evicted keys in [lo, hi). */
static int gone_in(int lo, int hi)
{
    int n = 0;
    for (int i = lo; i < hi; i++)
        n += gone[i];
    return n;
}

Test(evict, lru_keeps_recently_read_keys)
{
    for (int i = 0; i < NKEYS; i++)
        put(i, KVMAP_NO_EXPIRE, T0);
    for (int i = 0; i < NKEYS / 2; i++)
        read_key(i, T0 + 600000); /* the first half is read 10 minutes later */
    uint64_t n = evict(EVICT_ALLKEYS_LRU, 400, T0 + 700000, NULL);
    cr_assert_geq(n, 300);
    int idle = gone_in(NKEYS / 2, NKEYS);
    cr_assert_geq(idle * 100, (int)n * 95, "%d of %" PRIu64 " evicted keys were idle", idle, n);
}

Test(evict, lfu_keeps_frequently_read_keys)
{
    for (int i = 0; i < NDB; i++)
        kvmap_set_access(db[i], evict_policy_access(EVICT_ALLKEYS_LFU), 10, 1);
    for (int i = 0; i < NKEYS; i++)
        put(i, KVMAP_NO_EXPIRE, T0);
    for (int r = 0; r < 100; r++)
        for (int i = 0; i < NKEYS / 2; i++)
            read_key(i, T0);
    uint64_t n = evict(EVICT_ALLKEYS_LFU, 400, T0, NULL);
    cr_assert_geq(n, 300);
    int rare = gone_in(NKEYS / 2, NKEYS);
    cr_assert_geq(rare * 100, (int)n * 95, "%d of %" PRIu64 " evicted keys were rarely read", rare,
                  n);
    char k[16];
    int kl = keyname(k, 0);
    cr_assert_gt(kvmap_lfu_freq(db[0], kvmap_peek(db[0], k, (size_t)kl, T0), T0), 5);
}

Test(evict, volatile_policies_spare_keys_without_ttl)
{
    static const int policies[] = {EVICT_VOLATILE_LRU, EVICT_VOLATILE_LFU, EVICT_VOLATILE_RANDOM,
                                   EVICT_VOLATILE_TTL};
    for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++) {
        kvmap_clear(db[0]);
        memset(gone, 0, sizeof gone);
        ncalls = 0;
        /* Only every tenth key has a TTL. */
        for (int i = 0; i < NKEYS; i++)
            put(i, i % 10 == 0 ? T0 + 3600000 + i : KVMAP_NO_EXPIRE, T0);
        bool ok;
        uint64_t n = evict(policies[p], NKEYS, T0, &ok);
        cr_assert(!ok, "%s cannot free more than the keys with a TTL hold",
                  evict_policy_name(policies[p]));
        cr_assert_eq(n, NKEYS / 10, "%s evicted %" PRIu64, evict_policy_name(policies[p]), n);
        for (int i = 0; i < NKEYS; i++)
            cr_assert_eq(gone[i], i % 10 == 0, "%s: key %d", evict_policy_name(policies[p]), i);
    }
}

Test(evict, volatile_ttl_takes_the_nearest_expiry_first)
{
    for (int i = 0; i < NKEYS; i++)
        put(i, T0 + 1000000 + (int64_t)i * 1000, T0); /* key i expires i seconds later */
    uint64_t n = evict(EVICT_VOLATILE_TTL, 100, T0, NULL);
    cr_assert_geq(n, 80);
    int near = gone_in(0, NKEYS / 5);
    cr_assert_geq(near * 100, (int)n * 90, "%d of %" PRIu64 " were among the nearest fifth", near,
                  n);
}

Test(evict, random_policies_free_what_is_asked)
{
    for (int i = 0; i < NKEYS; i++)
        put(i, i % 2 ? T0 + 100000 : KVMAP_NO_EXPIRE, T0);
    int64_t before = acct.used;
    bool ok;
    uint64_t n = evict(EVICT_ALLKEYS_RANDOM, 200, T0, &ok);
    cr_assert(ok);
    cr_assert_geq(n, 150);
    cr_assert_lt(acct.used, before);
    cr_assert_gt(gone_in(0, NKEYS), 0);
    memset(gone, 0, sizeof gone);
    ncalls = 0;
    n = evict(EVICT_VOLATILE_RANDOM, 100, T0, &ok);
    cr_assert(ok);
    for (int i = 0; i < NKEYS; i += 2)
        cr_assert(!gone[i], "volatile-random took key %d, which has no TTL", i);
}

Test(evict, noeviction_frees_nothing)
{
    for (int i = 0; i < 100; i++)
        put(i, KVMAP_NO_EXPIRE, T0);
    bool ok;
    cr_assert_eq(evict(EVICT_NOEVICTION, 10, T0, &ok), 0);
    cr_assert(!ok);
    cr_assert_eq(kvmap_count(db[0]), 100);
}

Test(evict, budget_bounds_a_step)
{
    for (int i = 0; i < NKEYS; i++)
        put(i, KVMAP_NO_EXPIRE, T0);
    struct evict_req r = {.policy = EVICT_ALLKEYS_LRU, .samples = 5, .now_ms = T0,
                          .need = SIZE_MAX, .budget_ns = 0};
    cr_assert(!evict_run(pool, db, NDB, &r));
    cr_assert_eq(r.keys, 16, "one clock check every 16 keys: %" PRIu64, r.keys);
    cr_assert(!r.exhausted, "out of time is not out of keys");
}

Test(evict, exhausted_only_when_nothing_is_left)
{
    for (int i = 0; i < 100; i++)
        put(i, i % 2 ? T0 + 100000 : KVMAP_NO_EXPIRE, T0);
    /* Every key with a TTL goes, then the step stops short: out of keys. */
    struct evict_req r = {.policy = EVICT_VOLATILE_LRU,
                          .samples = 5,
                          .now_ms = T0,
                          .need = SIZE_MAX,
                          .budget_ns = UINT64_MAX};
    cr_assert(!evict_run(pool, db, NDB, &r));
    cr_assert_eq(r.keys, 50);
    cr_assert(r.exhausted);
    /* Enough freed: not exhausted, though keys remain under the policy. */
    r = (struct evict_req){.policy = EVICT_ALLKEYS_LRU,
                           .samples = 5,
                           .now_ms = T0,
                           .need = 1,
                           .budget_ns = UINT64_MAX};
    cr_assert(evict_run(pool, db, NDB, &r));
    cr_assert(!r.exhausted);
    cr_assert_eq(r.keys, 1);
    /* noeviction over the bound is always out of keys. */
    r = (struct evict_req){.policy = EVICT_NOEVICTION, .need = 1};
    cr_assert(!evict_run(pool, db, NDB, &r));
    cr_assert(r.exhausted);
}

Test(evict, every_database_is_a_source)
{
    for (int i = 0; i < 200; i++) {
        char k[16];
        int n = keyname(k, i);
        cr_assert_geq(kvmap_set(db[1], k, (size_t)n, "v", 1, KVMAP_NO_EXPIRE, T0), 0);
    }
    bool ok;
    uint64_t n = evict(EVICT_ALLKEYS_LRU, 1000000, T0, &ok);
    cr_assert(!ok, "nothing left");
    cr_assert_eq(n, 200);
    cr_assert_eq(kvmap_count(db[1]), 0);
}

Test(evict, policy_names_round_trip)
{
    for (int p = EVICT_NOEVICTION; p <= EVICT_VOLATILE_TTL; p++) {
        const char *name = evict_policy_name(p);
        cr_assert_not_null(name);
        cr_assert_eq(evict_policy_parse(name, strlen(name)), p);
    }
    cr_assert_eq(evict_policy_parse("ALLKEYS-LRU", 11), EVICT_ALLKEYS_LRU);
    cr_assert_eq(evict_policy_parse("lru", 3), -1);
    cr_assert_null(evict_policy_name(99));
}
