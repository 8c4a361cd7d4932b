/* test_store.c — the in-process store API: single-key operations, TTLs,
 * INCRBY errors, MSET/MGET across shards, size limits, and eight threads
 * hammering one store with a consistency check afterwards. Test bodies run
 * on the main thread (plus the worker threads they start). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "shard/skv_store.h"

static struct skv_store *open_store(unsigned n, size_t max_value)
{
    struct skv_store_opts o = {.max_value = max_value, .max_key = max_value};
    struct skv_store *st = skv_store_open(n, &o);
    cr_assert_not_null(st);
    cr_assert_eq(skv_store_shards(st), n);
    return st;
}

/* get and compare; frees the copy. */
static void expect_value(struct skv_store *st, const char *key, size_t klen, const char *val,
                         size_t vlen)
{
    char *got = NULL;
    size_t glen = 99;
    int rc = skv_store_get(st, key, klen, &got, &glen);
    cr_assert_eq(rc, 1, "get %.*s: rc %d", (int)klen, key, rc);
    cr_assert_not_null(got);
    cr_assert_eq(glen, vlen);
    cr_assert_eq(memcmp(got, val, vlen), 0);
    free(got);
}

static void expect_missing(struct skv_store *st, const char *key, size_t klen)
{
    char *got = (char *)1;
    size_t glen = 99;
    cr_assert_eq(skv_store_get(st, key, klen, &got, &glen), 0);
    cr_assert_null(got);
    cr_assert_eq(glen, 0);
}

Test(store, set_get_del_exists_binary_safe)
{
    struct skv_store *st = open_store(3, 0);
    const char key[] = {'a', 0, 'b'};
    const char val[] = {0, 1, 0, 2};
    expect_missing(st, key, sizeof key);
    cr_assert_eq(skv_store_exists(st, key, sizeof key), 0);
    cr_assert_eq(skv_store_set(st, key, sizeof key, val, sizeof val, 0), 0);
    expect_value(st, key, sizeof key, val, sizeof val);
    cr_assert_eq(skv_store_exists(st, key, sizeof key), 1);
    /* "a" is a different key from "a\0b". */
    expect_missing(st, "a", 1);
    /* An empty value is found, with a non-NULL copy. */
    cr_assert_eq(skv_store_set(st, "empty", 5, "", 0, 0), 0);
    expect_value(st, "empty", 5, "", 0);
    /* Overwrite. */
    cr_assert_eq(skv_store_set(st, key, sizeof key, "x", 1, 0), 0);
    expect_value(st, key, sizeof key, "x", 1);
    cr_assert_eq(skv_store_del(st, key, sizeof key), 1);
    cr_assert_eq(skv_store_del(st, key, sizeof key), 0);
    expect_missing(st, key, sizeof key);

    struct skv_store_stats ss;
    cr_assert_eq(skv_store_stats(st, &ss), 0);
    cr_assert_eq(ss.keys, 1, "only \"empty\" is left");
    cr_assert_gt(ss.ops, 0);
    cr_assert_gt(ss.used_memory, 0);
    skv_store_close(st);
}

Test(store, ttl_expire_pttl, .timeout = 60)
{
    struct skv_store *st = open_store(2, 0);
    int64_t ttl = 0;
    cr_assert_eq(skv_store_ttl(st, "nokey", 5, &ttl), 0);
    cr_assert_eq(ttl, -2);
    cr_assert_eq(skv_store_set(st, "k", 1, "v", 1, 0), 0);
    cr_assert_eq(skv_store_ttl(st, "k", 1, &ttl), 0);
    cr_assert_eq(ttl, -1);

    cr_assert_eq(skv_store_set(st, "t", 1, "v", 1, 100000), 0);
    cr_assert_eq(skv_store_ttl(st, "t", 1, &ttl), 0);
    cr_assert(ttl > 0 && ttl <= 100000, "ttl %" PRId64, ttl);
    /* A plain SET clears the TTL. */
    cr_assert_eq(skv_store_set(st, "t", 1, "v", 1, 0), 0);
    cr_assert_eq(skv_store_ttl(st, "t", 1, &ttl), 0);
    cr_assert_eq(ttl, -1);

    cr_assert_eq(skv_store_expire(st, "k", 1, 50000), 1);
    cr_assert_eq(skv_store_ttl(st, "k", 1, &ttl), 0);
    cr_assert(ttl > 0 && ttl <= 50000);
    cr_assert_eq(skv_store_expire(st, "missing", 7, 1000), 0);
    /* Non-positive TTL deletes, as Redis's PEXPIRE does. */
    cr_assert_eq(skv_store_expire(st, "k", 1, 0), 1);
    expect_missing(st, "k", 1);

    /* Expiry actually happens. Not a timing test: poll until the 30 ms key
     * is gone, for as long as a loaded machine needs (bounded at 20 s). */
    cr_assert_eq(skv_store_set(st, "short", 5, "v", 1, 30), 0);
    int exists = 1;
    for (int i = 0; i < 2000 && exists == 1; i++) {
        uv_sleep(10);
        exists = skv_store_exists(st, "short", 5);
    }
    cr_assert_eq(exists, 0, "a 30 ms key still exists after 20 s");
    expect_missing(st, "short", 5);
    cr_assert_eq(skv_store_ttl(st, "short", 5, &ttl), 0);
    cr_assert_eq(ttl, -2);

    cr_assert_eq(skv_store_set(st, "neg", 3, "v", 1, -5), SKV_STORE_EINVAL);
    cr_assert_eq(skv_store_set(st, "huge", 4, "v", 1, INT64_MAX), SKV_STORE_EINVAL);
    expect_missing(st, "huge", 4);
    skv_store_close(st);
}

Test(store, incrby_values_and_errors)
{
    struct skv_store *st = open_store(2, 0);
    int64_t v = 0;
    cr_assert_eq(skv_store_incrby(st, "c", 1, 5, &v), 0);
    cr_assert_eq(v, 5);
    cr_assert_eq(skv_store_incrby(st, "c", 1, -7, &v), 0);
    cr_assert_eq(v, -2);
    expect_value(st, "c", 1, "-2", 2);
    cr_assert_eq(skv_store_set(st, "s", 1, "abc", 3, 0), 0);
    cr_assert_eq(skv_store_incrby(st, "s", 1, 1, &v), SKV_STORE_ENOTINT);
    cr_assert_eq(skv_store_set(st, "m", 1, "9223372036854775807", 19, 0), 0);
    cr_assert_eq(skv_store_incrby(st, "m", 1, 1, &v), SKV_STORE_EOVERFLOW);
    expect_value(st, "m", 1, "9223372036854775807", 19);
    cr_assert_str_neq(skv_store_strerror(SKV_STORE_ENOTINT), "unknown error");
    cr_assert_str_eq(skv_store_strerror(12345), "unknown error");
    skv_store_close(st);
}

#define NKEYS 300

Test(store, mset_mget_across_shards)
{
    struct skv_store *st = open_store(4, 0);
    static char kbuf[NKEYS][24], vbuf[NKEYS][24];
    const void *keys[NKEYS], *vals[NKEYS];
    size_t klens[NKEYS], vlens[NKEYS];
    for (int i = 0; i < NKEYS; i++) {
        klens[i] = (size_t)snprintf(kbuf[i], sizeof kbuf[i], "mkey:%d", i);
        vlens[i] = (size_t)snprintf(vbuf[i], sizeof vbuf[i], "value-%d", i * 7);
        keys[i] = kbuf[i];
        vals[i] = vbuf[i];
    }
    /* The first half only, so MGET sees hits and misses. */
    cr_assert_eq(skv_store_mset(st, NKEYS / 2, keys, klens, vals, vlens), 0);
    struct skv_store_value res[NKEYS];
    cr_assert_eq(skv_store_mget(st, NKEYS, keys, klens, res), 0);
    for (int i = 0; i < NKEYS; i++) {
        if (i < NKEYS / 2) {
            cr_assert_not_null(res[i].data, "key %d", i);
            cr_assert_eq(res[i].len, vlens[i]);
            cr_assert_eq(memcmp(res[i].data, vals[i], vlens[i]), 0);
        } else {
            cr_assert_null(res[i].data, "key %d", i);
        }
    }
    skv_store_values_free(res, NKEYS);
    cr_assert_null(res[0].data);

    /* The whole batch landed, spread over the shards. */
    struct skv_store_stats ss;
    cr_assert_eq(skv_store_stats(st, &ss), 0);
    cr_assert_eq(ss.keys, NKEYS / 2);
    /* A small batch goes through the stack path with the same result. */
    cr_assert_eq(skv_store_mget(st, 3, keys, klens, res), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(memcmp(res[i].data, vals[i], vlens[i]), 0);
    skv_store_values_free(res, 3);
    cr_assert_eq(skv_store_mget(st, 0, keys, klens, res), 0);
    skv_store_close(st);
}

Test(store, exec_mixed_batch_keeps_per_key_order)
{
    struct skv_store *st = open_store(3, 0);
    struct skv_store_op ops[] = {
        {.kind = SKV_STORE_OP_SET, .key = "a", .klen = 1, .val = "1", .vlen = 1},
        {.kind = SKV_STORE_OP_INCRBY, .key = "a", .klen = 1, .arg = 41},
        {.kind = SKV_STORE_OP_GET, .key = "a", .klen = 1},
        {.kind = SKV_STORE_OP_SET, .key = "b", .klen = 1, .val = "x", .vlen = 1, .arg = 60000},
        {.kind = SKV_STORE_OP_TTL, .key = "b", .klen = 1},
        {.kind = SKV_STORE_OP_DEL, .key = "b", .klen = 1},
        {.kind = SKV_STORE_OP_EXISTS, .key = "b", .klen = 1},
        {.kind = (enum skv_store_op_kind)99, .key = "c", .klen = 1},
    };
    cr_assert_eq(skv_store_exec(st, ops, 8), 0);
    cr_assert_eq(ops[0].rc, 0);
    cr_assert_eq(ops[1].rc, 0);
    cr_assert_eq(ops[1].num, 42);
    cr_assert_eq(ops[2].rc, 1);
    cr_assert_eq(ops[2].vlen, 2);
    cr_assert_eq(memcmp(ops[2].out, "42", 2), 0);
    free(ops[2].out);
    cr_assert(ops[4].num > 0 && ops[4].num <= 60000);
    cr_assert_eq(ops[5].rc, 1);
    cr_assert_eq(ops[6].rc, 0);
    cr_assert_eq(ops[7].rc, SKV_STORE_EINVAL);
    skv_store_close(st);
}

Test(store, limits_checked_before_anything_is_sent)
{
    struct skv_store *st = open_store(2, 1024);
    char *big = calloc(1, 1025);
    cr_assert_not_null(big);
    cr_assert_eq(skv_store_set(st, "k", 1, big, 1024, 0), 0, "at the limit: ok");
    cr_assert_eq(skv_store_set(st, "k2", 2, big, 1025, 0), SKV_STORE_ETOOBIG);
    expect_missing(st, "k2", 2);
    cr_assert_eq(skv_store_get(st, big, 1025, &(char *){NULL}, &(size_t){0}), SKV_STORE_ETOOBIG,
                 "key over the limit");
    /* MSET with one value over the limit writes nothing. */
    const void *keys[] = {"m1", "m2", "m3"};
    size_t klens[] = {2, 2, 2};
    const void *vals[] = {"a", big, "c"};
    size_t vlens[] = {1, 1025, 1};
    cr_assert_eq(skv_store_mset(st, 3, keys, klens, vals, vlens), SKV_STORE_ETOOBIG);
    for (int i = 0; i < 3; i++)
        expect_missing(st, keys[i], 2);
    /* A failing op in a batch fails alone. */
    struct skv_store_op ops[] = {
        {.kind = SKV_STORE_OP_SET, .key = "ok", .klen = 2, .val = "v", .vlen = 1},
        {.kind = SKV_STORE_OP_SET, .key = "no", .klen = 2, .val = big, .vlen = 1025},
    };
    cr_assert_eq(skv_store_exec(st, ops, 2), 0);
    cr_assert_eq(ops[0].rc, 0);
    cr_assert_eq(ops[1].rc, SKV_STORE_ETOOBIG);
    expect_value(st, "ok", 2, "v", 1);
    expect_missing(st, "no", 2);
    free(big);
    skv_store_close(st);
}

/* ---- eight threads at once ---------------------------------------------- */

#define THREADS    8
#define PER_THREAD 1500
#define COUNTERS   3

/* One worker's parameters and outcome. */
struct worker {
    uv_thread_t tid;      /* the thread */
    struct skv_store *st; /* shared store */
    int id;               /* worker index: owns keys "w<id>:*" */
    int errors;           /* mismatches seen by the worker itself */
};

static void work(void *arg)
{
    struct worker *w = arg;
    char k[32], v[32];
    for (int i = 0; i < PER_THREAD; i++) {
        int kl = snprintf(k, sizeof k, "w%d:%d", w->id, i);
        int vl = snprintf(v, sizeof v, "v%d-%d", w->id, i * 3);
        if (skv_store_set(w->st, k, (size_t)kl, v, (size_t)vl, 0) != 0)
            w->errors++;
        /* Read back a key written earlier by this thread. */
        int j = i / 2;
        kl = snprintf(k, sizeof k, "w%d:%d", w->id, j);
        vl = snprintf(v, sizeof v, "v%d-%d", w->id, j * 3);
        char *got = NULL;
        size_t glen = 0;
        if (skv_store_get(w->st, k, (size_t)kl, &got, &glen) != 1 || glen != (size_t)vl ||
            memcmp(got, v, glen) != 0)
            w->errors++;
        free(got);
        char c[8];
        int cl = snprintf(c, sizeof c, "ctr%d", i % COUNTERS);
        if (skv_store_incrby(w->st, c, (size_t)cl, 1, NULL) != 0)
            w->errors++;
        /* Every tenth round, a batch: one MSET of two keys and one MGET. */
        if (i % 10 == 0) {
            char k2[32];
            int k2l = snprintf(k2, sizeof k2, "w%d:b%d", w->id, i);
            const void *keys[] = {k, k2};
            size_t klens[] = {(size_t)kl, (size_t)k2l};
            const void *vals[] = {v, v};
            size_t vlens[] = {(size_t)vl, (size_t)vl};
            if (skv_store_mset(w->st, 2, keys, klens, vals, vlens) != 0)
                w->errors++;
            struct skv_store_value res[2];
            if (skv_store_mget(w->st, 2, keys, klens, res) != 0 || !res[1].data ||
                res[1].len != (size_t)vl || memcmp(res[1].data, v, (size_t)vl) != 0)
                w->errors++;
            skv_store_values_free(res, 2);
        }
    }
}

static void hammer_and_check(struct skv_store *st)
{
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.st = st, .id = i};
        cr_assert_eq(uv_thread_create(&w[i].tid, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        uv_thread_join(&w[i].tid);
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(w[i].errors, 0, "worker %d saw %d errors", i, w[i].errors);

    /* Every key every thread wrote is there with its last value. */
    char k[32], v[32];
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < PER_THREAD; i++) {
            int kl = snprintf(k, sizeof k, "w%d:%d", t, i);
            int vl = snprintf(v, sizeof v, "v%d-%d", t, i * 3);
            expect_value(st, k, (size_t)kl, v, (size_t)vl);
        }
    }
    /* Counters: no increment lost. */
    int64_t total = 0;
    for (int c = 0; c < COUNTERS; c++) {
        int64_t want = 0;
        for (int i = 0; i < PER_THREAD; i++)
            want += (i % COUNTERS == c);
        want *= THREADS;
        char name[8];
        int nl = snprintf(name, sizeof name, "ctr%d", c);
        int64_t got = 0;
        cr_assert_eq(skv_store_incrby(st, name, (size_t)nl, 0, &got), 0);
        cr_assert_eq(got, want, "counter %d: %" PRId64 " != %" PRId64, c, got, want);
        total += got;
    }
    cr_assert_eq(total, (int64_t)THREADS * PER_THREAD);

    struct skv_store_stats ss;
    cr_assert_eq(skv_store_stats(st, &ss), 0);
    uint64_t batch_keys = (PER_THREAD + 9) / 10;
    cr_assert_eq(ss.keys, (uint64_t)THREADS * (PER_THREAD + batch_keys) + COUNTERS);
    skv_store_close(st);
}

/* Callers and shards that always sleep (futex / eventfd wake-ups). */
Test(store, eight_threads_sleeping_waits, .timeout = 240)
{
    struct skv_store_opts o = {.spin_us = -1};
    struct skv_store *st = skv_store_open(3, &o);
    cr_assert_not_null(st);
    hammer_and_check(st);
}

/* Callers and shards that poll before sleeping: both hand-over paths. */
Test(store, eight_threads_polling_waits, .timeout = 240)
{
    struct skv_store_opts o = {.spin_us = 50};
    struct skv_store *st = skv_store_open(2, &o);
    cr_assert_not_null(st);
    hammer_and_check(st);
}
