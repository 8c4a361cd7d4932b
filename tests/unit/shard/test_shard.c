/* test_shard.c — the shard runtime: start/stop cycles, hooks on the right
 * threads, shard_current(), messages executed on the owner thread, maps that
 * survive a restart, and the cron's active expiry. Control calls run on the
 * test's main thread; handlers on the shard threads. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "shard/shard.h"

#define MAX_SHARDS 8

/* What the hooks saw, per shard. Written on the shard thread; read by the
 * main thread after start (or stop) returned, which orders the accesses. */
struct hook_log {
    uv_thread_t start_thread[MAX_SHARDS]; /* thread that ran on_start */
    uv_thread_t stop_thread[MAX_SHARDS];  /* thread that ran on_stop */
    int starts[MAX_SHARDS];               /* on_start calls */
    int stops[MAX_SHARDS];                /* on_stop calls */
    int bad;                              /* hook invariants that failed */
    int fail_shard;                       /* on_start fails for this id; -1 none */
};

static int hook_start(struct shard *s, void *arg)
{
    struct hook_log *h = arg;
    h->start_thread[s->id] = uv_thread_self();
    h->starts[s->id]++;
    if (shard_current() != s || s->db == NULL || shard_db(s, 0) == NULL)
        h->bad++;
    return (int)s->id == h->fail_shard ? -1 : 0;
}

static void hook_stop(struct shard *s, void *arg)
{
    struct hook_log *h = arg;
    h->stop_thread[s->id] = uv_thread_self();
    h->stops[s->id]++;
    if (shard_current() != s)
        h->bad++;
}

Test(shard, start_stop_cycles_run_hooks_on_shard_threads, .timeout = 120)
{
    for (int cycle = 0; cycle < 10; cycle++) {
        struct hook_log h = {.fail_shard = -1};
        struct shard_group_opts o = {
            .nshards = 3, .ndb = 2, .on_start = hook_start, .on_stop = hook_stop, .arg = &h};
        struct shard_group *g = shard_group_create(&o);
        cr_assert_not_null(g);
        cr_assert_eq(shard_group_size(g), 3);
        cr_assert_eq(shard_group_start(g), 0);
        cr_assert_null(shard_current(), "the main thread is not a shard");
        uv_thread_t self = uv_thread_self();
        for (unsigned i = 0; i < 3; i++) {
            struct shard *s = shard_group_get(g, i);
            cr_assert_eq(s->id, i);
            cr_assert_eq(h.starts[i], 1);
            cr_assert(uv_thread_equal(&h.start_thread[i], &s->thread));
            cr_assert(!uv_thread_equal(&h.start_thread[i], &self));
        }
        shard_group_stop(g);
        shard_group_stop(g); /* idempotent */
        for (unsigned i = 0; i < 3; i++) {
            cr_assert_eq(h.stops[i], 1);
            cr_assert(uv_thread_equal(&h.stop_thread[i], &h.start_thread[i]));
        }
        cr_assert_eq(h.bad, 0);
        shard_group_destroy(g);
    }
}

Test(shard, failing_start_hook_fails_start)
{
    struct hook_log h = {.fail_shard = 1};
    struct shard_group_opts o = {
        .nshards = 3, .ndb = 1, .on_start = hook_start, .on_stop = hook_stop, .arg = &h};
    struct shard_group *g = shard_group_create(&o);
    cr_assert_not_null(g);
    cr_assert_neq(shard_group_start(g), 0);
    /* Shards start in order: 0 started and was stopped again through
     * on_stop, 1 failed (no on_stop), 2 was never started. */
    cr_assert_eq(h.starts[0], 1);
    cr_assert_eq(h.stops[0], 1);
    cr_assert_eq(h.starts[1], 1);
    cr_assert_eq(h.stops[1], 0);
    cr_assert_eq(h.starts[2], 0);
    cr_assert_eq(h.stops[2], 0);
    cr_assert_eq(h.bad, 0);
    shard_group_destroy(g);
}

Test(shard, create_destroy_without_start_and_bad_opts)
{
    struct shard_group *g = shard_group_create(NULL); /* defaults */
    cr_assert_not_null(g);
    cr_assert_geq(shard_group_size(g), 1);
    shard_group_stop(g); /* not started: nothing to do */
    shard_group_destroy(g);
    struct shard_group_opts o = {.nshards = 100000};
    cr_assert_null(shard_group_create(&o));
}

/* A message that runs a function on a shard and signals the main thread. */
struct call {
    struct mbox_msg hdr; /* must be first */
    uv_sem_t done;       /* posted after fn ran */
    void (*fn)(struct shard *s, struct call *c);
    const char *key; /* argument */
    int64_t expire;  /* argument: absolute expiry or KVMAP_NO_EXPIRE */
    int rc;          /* result */
    uint64_t count;  /* result */
    bool on_owner;   /* result: shard_current() was the owner */
};

static void on_call(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    struct call *c = (struct call *)m;
    c->on_owner = shard_current() == s;
    c->fn(s, c);
    uv_sem_post(&c->done);
}

static void call_shard(struct shard *s, struct call *c)
{
    c->hdr.handle = on_call;
    cr_assert_eq(uv_sem_init(&c->done, 0), 0);
    shard_post(s, &c->hdr);
    uv_sem_wait(&c->done);
    uv_sem_destroy(&c->done);
    cr_assert(c->on_owner, "handler ran on a thread that does not own the shard");
}

static void fn_set(struct shard *s, struct call *c)
{
    c->rc = kvmap_set(shard_db(s, 0), c->key, strlen(c->key), "v", 1, c->expire, clock_wall_ms());
}

static void fn_get(struct shard *s, struct call *c)
{
    c->rc = kvmap_find(shard_db(s, 0), c->key, strlen(c->key), clock_wall_ms()) != NULL;
}

static void fn_count(struct shard *s, struct call *c)
{
    /* kvmap_count includes expired entries not yet reaped: only active
     * expiry can bring it down without anyone reading the keys. */
    c->count = kvmap_count(shard_db(s, 0));
    c->rc = (int)s->ctr.expired_active;
}

Test(shard, messages_run_on_owner_and_maps_survive_restart)
{
    struct shard_group_opts o = {.nshards = 2, .ndb = 1};
    struct shard_group *g = shard_group_create(&o);
    cr_assert_not_null(g);
    cr_assert_eq(shard_group_start(g), 0);
    const char *key = "restart-key";
    struct shard *s = shard_group_get(g, shard_group_route(g, key, strlen(key)));
    struct call c = {.fn = fn_set, .key = key, .expire = KVMAP_NO_EXPIRE};
    call_shard(s, &c);
    cr_assert_eq(c.rc, 1, "new key");
    shard_group_stop(g);

    cr_assert_eq(shard_group_start(g), 0, "a stopped group starts again");
    c = (struct call){.fn = fn_get, .key = key};
    call_shard(s, &c);
    cr_assert_eq(c.rc, 1, "data kept across stop/start");
    shard_group_destroy(g); /* stops too */
}

Test(shard, route_is_stable_and_in_range)
{
    struct shard_group_opts o = {.nshards = 5, .ndb = 1};
    struct shard_group *g = shard_group_create(&o);
    cr_assert_not_null(g);
    unsigned hits[5] = {0};
    for (int i = 0; i < 1000; i++) {
        char k[16];
        int n = snprintf(k, sizeof k, "k%d", i);
        unsigned r = shard_group_route(g, k, (size_t)n);
        cr_assert_lt(r, 5);
        cr_assert_eq(r, shard_group_route(g, k, (size_t)n));
        hits[r]++;
    }
    for (int i = 0; i < 5; i++)
        cr_assert_gt(hits[i], 100, "shard %d got %u of 1000 keys", i, hits[i]);
    shard_group_destroy(g);
}

Test(shard, cron_reaps_expired_keys_without_reads, .timeout = 60)
{
    struct shard_group_opts o = {.nshards = 1, .ndb = 1};
    struct shard_group *g = shard_group_create(&o);
    cr_assert_not_null(g);
    cr_assert_eq(shard_group_start(g), 0);
    struct shard *s = shard_group_get(g, 0);
    int64_t exp = clock_wall_ms() + 50;
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "ttl%d", i);
        struct call c = {.fn = fn_set, .key = k, .expire = exp};
        call_shard(s, &c);
        cr_assert_eq(c.rc, 1);
    }
    struct call keep = {.fn = fn_set, .key = "forever", .expire = KVMAP_NO_EXPIRE};
    call_shard(s, &keep);

    /* Not a timing test: wait as long as needed (up to the test timeout)
     * for the 10 ms cron to find them. */
    struct call c = {.fn = fn_count};
    for (int tries = 0; tries < 5000; tries++) {
        c = (struct call){.fn = fn_count};
        call_shard(s, &c);
        if (c.count == 1)
            break;
        uv_sleep(10);
    }
    cr_assert_eq(c.count, 1, "expired keys still in the map: %llu", (unsigned long long)c.count);
    cr_assert_eq(c.rc, 200, "expired_active counts the reaped keys");
    shard_group_destroy(g);
}

/* shard_expire_cycle on a big map, run on the shard thread: c->count keys
 * with an expiry an hour ahead (the cron, on the real clock, leaves them),
 * then one cycle as if at c->expire; c->rc is its time in microseconds and
 * the reaped count is left in c->count. */
static void fn_expire_cycle(struct shard *s, struct call *c)
{
    struct kvmap *m = shard_db(s, 0);
    int64_t now = clock_wall_ms();
    for (uint64_t i = 0; i < c->count; i++) {
        char k[24];
        int n = snprintf(k, sizeof k, "cyc%llu", (unsigned long long)i);
        kvmap_set(m, k, (size_t)n, "v", 1, now + 3600 * 1000, now);
    }
    uint64_t t0 = clock_mono_ns();
    c->count = shard_expire_cycle(s, c->expire);
    c->rc = (int)((clock_mono_ns() - t0) / 1000);
    kvmap_clear(m);
}

Test(shard, expire_cycle_reaps_longer_while_many_keys_expired, .timeout = 120)
{
    struct shard_group_opts o = {.nshards = 1, .ndb = 1};
    struct shard_group *g = shard_group_create(&o);
    cr_assert_not_null(g);
    cr_assert_eq(shard_group_start(g), 0);
    struct shard *s = shard_group_get(g, 0);
    /* Every key expired, far more than a cycle can reap: the cycle goes
     * on past the first millisecond to its cap. */
    struct call c = {
        .fn = fn_expire_cycle, .count = 300000, .expire = clock_wall_ms() + 7200 * 1000};
    call_shard(s, &c);
    cr_assert_gt(c.count, 0);
    cr_assert_lt(c.count, 300000, "a cycle is bounded: it cannot reap 300,000 keys");
    cr_assert_geq(c.rc, SHARD_EXPIRE_MAX_NS / 1000, "stopped after %d us with most keys expired",
                  c.rc);
    /* No key expired: one millisecond and no more (the first of a few
     * tries not stretched by the machine). */
    int best = INT32_MAX;
    for (int tries = 0; tries < 5 && best >= (int)(SHARD_EXPIRE_MAX_NS / 1000); tries++) {
        c = (struct call){.fn = fn_expire_cycle, .count = 300000, .expire = clock_wall_ms()};
        call_shard(s, &c);
        cr_assert_eq(c.count, 0);
        if (c.rc < best)
            best = c.rc;
    }
    cr_assert_lt(best, SHARD_EXPIRE_MAX_NS / 1000, "no key expired, yet the cycle took %d us",
                 best);
    shard_group_destroy(g);
}
