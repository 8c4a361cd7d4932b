/* test_kvmap.c — the per-shard hash map: growth and shrink under incremental
 * rehash, binary safety, integer encoding, INCRBY, expiry, scan, random,
 * write-epoch capture for snapshots, limits and memory accounting. All times
 * are explicit now_ms values, so nothing sleeps. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/hash.h"
#include "shard/kvmap.h"

/* An arbitrary "current time" for expiry tests. */
#define NOW ((int64_t)1700000000000)

/* 16-byte keys "key:000000000042", like the memory target's workload. */
static size_t mkkey(char buf[32], unsigned i)
{
    return (size_t)snprintf(buf, 32, "key:%012u", i);
}

/* Values of varying length (1..60 bytes) that encode their key id. */
static size_t mkval(char buf[80], unsigned i, unsigned gen)
{
    int n = snprintf(buf, 80, "v%u-%u-", gen, i);
    size_t len = (size_t)n + (i * 7u) % 50u;
    for (size_t j = (size_t)n; j < len; j++)
        buf[j] = (char)('a' + (j + i) % 26);
    return len;
}

static unsigned key_id(const struct kventry *e)
{
    size_t klen;
    const char *k = kventry_key(e, &klen);
    char tmp[32];
    cr_assert_lt(klen, sizeof tmp);
    memcpy(tmp, k, klen);
    tmp[klen] = '\0';
    unsigned id;
    cr_assert_eq(sscanf(tmp, "key:%u", &id), 1, "unexpected key %s", tmp);
    return id;
}

/* Assert that key i holds the value of generation gen. */
static void expect_val(struct kvmap *m, unsigned i, unsigned gen)
{
    char k[32], v[80], buf[21];
    size_t kl = mkkey(k, i), vl = mkval(v, i, gen), got;
    struct kventry *e = kvmap_find(m, k, kl, NOW);
    cr_assert_not_null(e, "key %u missing", i);
    const char *p = kventry_value(e, buf, &got);
    cr_assert_eq(got, vl, "key %u: length %zu != %zu", i, got, vl);
    cr_assert_eq(memcmp(p, v, vl), 0, "key %u: wrong value", i);
}

static void put(struct kvmap *m, unsigned i, unsigned gen, int expect_ret)
{
    char k[32], v[80];
    size_t kl = mkkey(k, i), vl = mkval(v, i, gen);
    int rc = kvmap_set(m, k, kl, v, vl, KVMAP_NO_EXPIRE, NOW);
    cr_assert_eq(rc, expect_ret, "set key %u returned %d", i, rc);
}

static int del(struct kvmap *m, unsigned i)
{
    char k[32];
    size_t kl = mkkey(k, i);
    return kvmap_del(m, k, kl, NOW);
}

static bool has(struct kvmap *m, unsigned i)
{
    char k[32];
    size_t kl = mkkey(k, i);
    return kvmap_find(m, k, kl, NOW) != NULL;
}

static void stats(struct kvmap *m, struct kvmap_stats *st)
{
    kvmap_stats(m, st);
}

Test(kvmap, set_find_replace_del)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    cr_assert_not_null(m);
    cr_assert_eq(kvmap_count(m), 0);
    cr_assert_null(kvmap_find(m, "a", 1, NOW));
    cr_assert_eq(kvmap_set(m, "a", 1, "one", 3, KVMAP_NO_EXPIRE, NOW), 1);
    cr_assert_eq(kvmap_set(m, "a", 1, "uno", 3, KVMAP_NO_EXPIRE, NOW), 0);
    cr_assert_eq(kvmap_count(m), 1);
    char buf[21];
    size_t vl;
    struct kventry *e = kvmap_find(m, "a", 1, NOW);
    cr_assert_not_null(e);
    cr_assert_eq(memcmp(kventry_value(e, buf, &vl), "uno", 3), 0);
    cr_assert_eq(vl, 3);
    cr_assert_eq(kventry_expire(e), KVMAP_NO_EXPIRE);
    cr_assert_eq(kvmap_del(m, "a", 1, NOW), 1);
    cr_assert_eq(kvmap_del(m, "a", 1, NOW), 0);
    cr_assert_null(kvmap_find(m, "a", 1, NOW));
    cr_assert_eq(kvmap_count(m), 0);
    cr_assert_str_eq(kvmap_strerror(KVMAP_ETOOBIG), "key or value too large");
    cr_assert_str_neq(kvmap_strerror(KVMAP_ENOMEM), kvmap_strerror(KVMAP_ENOTINT));
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
    cr_assert_eq(a.allocs, a.frees);
}

#define GROW_KEYS 200000u

Test(kvmap, grows_across_many_resizes_and_keeps_every_key)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    struct kvmap_stats st;
    unsigned checks_while_rehashing = 0;
    unsigned next_check = 1;
    for (unsigned i = 0; i < GROW_KEYS; i++) {
        put(m, i, 0, 1);
        if (i + 1 == next_check || (i % 9973) == 0) {
            /* Verify every key so far, at each doubling and now and then,
             * which often lands in the middle of a rehash. */
            stats(m, &st);
            if (st.rehashing)
                checks_while_rehashing++;
            cr_assert_eq(st.keys, i + 1);
            for (unsigned j = 0; j <= i; j++)
                expect_val(m, j, 0);
            if (i + 1 == next_check)
                next_check = next_check * 2 + 1;
        }
    }
    stats(m, &st);
    cr_assert_eq(st.keys, GROW_KEYS);
    cr_assert_geq(st.resizes, 15, "4 -> 262144 buckets is 16 doublings, got %" PRIu64, st.resizes);
    cr_assert_gt(checks_while_rehashing, 0, "no check happened during a rehash");
    cr_assert_leq(st.load_factor, 1.0 + 1e-9);
    cr_assert_geq(st.longest_chain, 1);
    for (unsigned j = 0; j < GROW_KEYS; j++)
        expect_val(m, j, 0);
    cr_assert_null(kvmap_find(m, "key:999999999999", 16, NOW));
    /* Delete most keys: the table shrinks (incrementally) and the rest stay. */
    for (unsigned j = 0; j < GROW_KEYS; j++)
        if (j % 50)
            cr_assert_eq(del(m, j), 1);
    while (kvmap_rehash_slice(m, 1000000))
        ;
    stats(m, &st);
    cr_assert_eq(st.keys, GROW_KEYS / 50);
    cr_assert_lt(st.buckets, 262144, "table did not shrink: %" PRIu64 " buckets", st.buckets);
    cr_assert_geq(st.load_factor, 0.1);
    for (unsigned j = 0; j < GROW_KEYS; j += 50)
        expect_val(m, j, 0);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

/* Heads arrays of at least this many bytes must come from mem_map (mirrors
 * TABLE_MAP_BYTES in kvmap.c: 1 MB, i.e. 2^17 buckets of 8 bytes). */
#define MAPPED_HEADS_BYTES ((int64_t)1 << 20)
/* Keys to reach and finish the 2^17 -> 2^18 grow: it starts at 131,072 keys
 * and drains the old table about 83,000 operations later. */
#define MAPPED_KEYS 240000u

/* One write's effect on the accounting, checked without timing: a resize
 * step must never be O(table). Large tables are fresh mappings (so no
 * allocator memset), the old one is retired at the end of the rehash (so no
 * synchronous free of megabytes) and released less than one array's worth
 * per operation. */
struct map_watch {
    struct kvmap_stats st;  /* stats before the operation */
    int64_t used, mapped;   /* a.used and a.mapped before it */
    unsigned mapped_grows;  /* resizes whose new heads were mapped */
    unsigned calloc_grows;  /* resizes below the threshold (not mapped) */
    unsigned retires;       /* finished rehashes that retired a mapping */
};

static void watch_after(struct map_watch *w, struct kvmap *m, const struct mem_acct *a)
{
    struct kvmap_stats st;
    stats(m, &st);
    int64_t dmapped = a->mapped - w->mapped;
    cr_assert_lt(w->used - a->used, MAPPED_HEADS_BYTES,
                 "one operation released %" PRId64 " bytes at once (buckets %" PRIu64
                 " -> %" PRIu64 ", keys %" PRIu64 ", retired %" PRIu64 ")",
                 w->used - a->used, w->st.buckets, st.buckets, st.keys, st.retired_bytes);
    cr_assert_lt(w->mapped - a->mapped, MAPPED_HEADS_BYTES);
    cr_assert_leq(a->mapped, a->used);
    cr_assert_leq((int64_t)st.retired_bytes, a->mapped);
    if (st.resizes != w->st.resizes) {
        /* The target is the larger table while growing, the smaller while
         * shrinking; its heads are mapped exactly when they reach 1 MB. */
        uint64_t newsize = st.buckets - (w->st.rehashing ? 0 : w->st.buckets);
        if (st.rehashing == 0) /* finished at once: only the new table left */
            newsize = st.buckets;
        if ((int64_t)newsize * 8 >= MAPPED_HEADS_BYTES) {
            cr_assert_eq(dmapped, (int64_t)newsize * 8, "heads of %" PRIu64
                         " buckets not mapped (mapped grew by %" PRId64 ")", newsize, dmapped);
            w->mapped_grows++;
        } else {
            cr_assert_leq(dmapped, 0, "a %" PRIu64 "-bucket table was mapped", newsize);
            w->calloc_grows++;
        }
    }
    if (st.retired_bytes > w->st.retired_bytes) {
        /* A finished rehash retired the old mapped heads: still held and
         * charged (the release bound above shows nothing big was freed). */
        cr_assert_geq(st.retired_bytes - w->st.retired_bytes, (uint64_t)MAPPED_HEADS_BYTES);
        w->retires++;
    }
    w->st = st;
    w->used = a->used;
    w->mapped = a->mapped;
}

Test(kvmap, large_tables_are_mapped_and_released_in_slices)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    cr_assert_not_null(m);
    struct map_watch w = {.used = a.used};
    stats(m, &w.st);
    for (unsigned i = 0; i < MAPPED_KEYS; i++) {
        put(m, i, 0, 1);
        watch_after(&w, m, &a);
    }
    cr_assert_geq(w.calloc_grows, 10, "small tables: %u", w.calloc_grows);
    cr_assert_geq(w.mapped_grows, 2, "2^17 and 2^18 buckets: %u", w.mapped_grows);
    cr_assert_geq(w.retires, 1, "the 2^17-bucket table was never retired");
    /* The retired array is gone after a bounded number of operations and
     * only the live table's heads stay mapped. */
    for (unsigned i = 0; i < MAPPED_KEYS && w.st.retired_bytes; i++) {
        cr_assert(has(m, i));
        watch_after(&w, m, &a);
    }
    cr_assert_eq(w.st.retired_bytes, 0);
    cr_assert_eq(w.st.rehashing, 0);
    cr_assert_eq(a.mapped, (int64_t)w.st.buckets * 8);
    /* Shrink: the big table is retired too, and kvmap_rehash_slice drains
     * it, as idle time would. */
    for (unsigned i = 0; i < MAPPED_KEYS; i++) {
        if (i % 200) {
            cr_assert_eq(del(m, i), 1);
            watch_after(&w, m, &a);
        }
    }
    /* Lookups finish the shrink's rehash and release the old mapping, each
     * a bounded step as well. */
    for (unsigned k = 0; (w.st.rehashing || w.st.retired_bytes) && k < MAPPED_KEYS * 10; k++) {
        cr_assert(has(m, (k * 200) % MAPPED_KEYS));
        watch_after(&w, m, &a);
    }
    cr_assert_geq(w.retires, 2, "the shrink retired nothing");
    /* Idle work may release everything at once: that is what it is for. */
    while (kvmap_rehash_slice(m, UINT64_MAX / 2))
        ;
    stats(m, &w.st);
    cr_assert_eq(w.st.keys, MAPPED_KEYS / 200);
    cr_assert_eq(w.st.retired_bytes, 0);
    cr_assert_eq(a.mapped, 0, "%" PRId64 " bytes still mapped for %" PRIu64 " buckets",
                 a.mapped, w.st.buckets);
    for (unsigned i = 0; i < MAPPED_KEYS; i += 200)
        expect_val(m, i, 0);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
    cr_assert_eq(a.mapped, 0);
    cr_assert_eq(a.allocs, a.frees);
}

/* mem_map's accounting, including a mapping given back in slices. */
Test(kvmap, mem_map_charges_pages_and_unmaps_in_slices)
{
    struct mem_acct a = {0};
    size_t page = mem_map_size(1);
    cr_assert_gt(page, 0);
    cr_assert_eq(mem_map_size(page), page);
    cr_assert_eq(mem_map_size(page + 1), 2 * page);
    cr_assert_null(mem_map(&a, 0));
    cr_assert_eq(a.fails, 1);
    size_t n = 8 * page + 5;
    unsigned char *p = mem_map(&a, n);
    cr_assert_not_null(p);
    cr_assert_eq(a.used, (int64_t)(9 * page));
    cr_assert_eq(a.mapped, a.used);
    for (size_t i = 0; i < n; i += 97)
        cr_assert_eq(p[i], 0, "byte %zu not zero", i);
    p[n - 1] = 1;
    mem_unmap_tail(&a, p, n, 3 * page);
    cr_assert_eq(a.used, (int64_t)(3 * page));
    p[3 * page - 1] = 2; /* the kept part is still mapped and writable */
    mem_unmap(&a, p, 3 * page);
    cr_assert_eq(a.used, 0);
    cr_assert_eq(a.mapped, 0);
    cr_assert_eq(a.allocs, 1);
    cr_assert_eq(a.frees, 1);
    mem_unmap(&a, NULL, 100); /* like free(NULL) */
    cr_assert_eq(a.frees, 1);
}

Test(kvmap, deletes_and_reinserts_during_rehash)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    struct kvmap_stats st;
    unsigned n = 0;
    bool live[70000] = {0};
    /* Reach a rehash of a large table: 32768 -> 65536 buckets. */
    for (; n < 32769; n++) {
        put(m, n, 0, 1);
        live[n] = true;
    }
    stats(m, &st);
    cr_assert_eq(st.rehashing, 1);
    unsigned rounds_in_rehash = 0;
    for (unsigned r = 0; r < 3000; r++) {
        unsigned i = (r * 7919u) % n;
        if (kvmap_segments(m, 1) != 0) /* O(1): table 1 exists only in a rehash */
            rounds_in_rehash++;
        if (live[i]) {
            cr_assert_eq(del(m, i), 1);
            cr_assert(!has(m, i));
            live[i] = false;
            put(m, i, 1, 1); /* re-insert right away with a new value */
            live[i] = true;
            expect_val(m, i, 1);
        } else {
            put(m, i, 2, 1);
            live[i] = true;
        }
        if (r % 2 == 0) {
            cr_assert_eq(del(m, i), 1);
            live[i] = false;
        }
    }
    cr_assert_gt(rounds_in_rehash, 100);
    uint64_t cnt = 0;
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(has(m, i), live[i], "key %u", i);
        cnt += live[i];
    }
    cr_assert_eq(kvmap_count(m), cnt);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

Test(kvmap, binary_keys_and_values)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    const char k1[] = "a\0b";    /* 3 bytes with a NUL */
    const char k2[] = "a\0c";
    const char k3[] = "a\r\n";
    const char v1[] = "x\0y\r\nz\0";
    cr_assert_eq(kvmap_set(m, k1, 3, v1, sizeof v1, KVMAP_NO_EXPIRE, NOW), 1);
    cr_assert_eq(kvmap_set(m, k2, 3, "2", 1, KVMAP_NO_EXPIRE, NOW), 1);
    cr_assert_eq(kvmap_set(m, k3, 3, "\r\n", 2, KVMAP_NO_EXPIRE, NOW), 1);
    /* "a" and "a\0" are different keys from "a\0b". */
    cr_assert_eq(kvmap_set(m, "a", 1, "", 0, KVMAP_NO_EXPIRE, NOW), 1);
    cr_assert_eq(kvmap_set(m, "a\0", 2, "-", 1, KVMAP_NO_EXPIRE, NOW), 1);
    /* The empty key is a key. */
    cr_assert_eq(kvmap_set(m, "", 0, "empty", 5, KVMAP_NO_EXPIRE, NOW), 1);
    cr_assert_eq(kvmap_count(m), 6);

    char buf[21];
    size_t kl, vl;
    struct kventry *e = kvmap_find(m, k1, 3, NOW);
    cr_assert_not_null(e);
    cr_assert_eq(memcmp(kventry_key(e, &kl), k1, 3), 0);
    cr_assert_eq(kl, 3);
    cr_assert_eq(memcmp(kventry_value(e, buf, &vl), v1, sizeof v1), 0);
    cr_assert_eq(vl, sizeof v1);
    e = kvmap_find(m, "a", 1, NOW);
    cr_assert_not_null(e);
    kventry_value(e, buf, &vl);
    cr_assert_eq(vl, 0);
    e = kvmap_find(m, "", 0, NOW);
    cr_assert_not_null(e);
    cr_assert_eq(memcmp(kventry_value(e, buf, &vl), "empty", 5), 0);
    e = kvmap_find(m, k3, 3, NOW);
    cr_assert_eq(memcmp(kventry_value(e, buf, &vl), "\r\n", 2), 0);
    cr_assert_eq(vl, 2);

    /* Lengths above 255 switch to 4-byte length fields. */
    size_t big = 70000;
    char *bk = malloc(300), *bv = malloc(big);
    for (size_t i = 0; i < 300; i++)
        bk[i] = (char)(i * 31);
    for (size_t i = 0; i < big; i++)
        bv[i] = (char)(i * 17 + 3);
    cr_assert_eq(kvmap_set(m, bk, 300, bv, big, NOW + 5000, NOW), 1);
    e = kvmap_find(m, bk, 300, NOW);
    cr_assert_not_null(e);
    cr_assert_eq(memcmp(kventry_key(e, &kl), bk, 300), 0);
    cr_assert_eq(kl, 300);
    cr_assert_eq(memcmp(kventry_value(e, buf, &vl), bv, big), 0);
    cr_assert_eq(vl, big);
    cr_assert_eq(kventry_expire(e), NOW + 5000);
    cr_assert_null(kvmap_find(m, bk, 299, NOW));
    free(bk);
    free(bv);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

static void expect_roundtrip(struct kvmap *m, const char *s, size_t len, bool want_int)
{
    cr_assert_geq(kvmap_set(m, "k", 1, s, len, KVMAP_NO_EXPIRE, NOW), 0);
    struct kventry *e = kvmap_find(m, "k", 1, NOW);
    cr_assert_not_null(e);
    char buf[21];
    size_t vl;
    const char *p = kventry_value(e, buf, &vl);
    cr_assert_eq(vl, len, "\"%.*s\": length %zu", (int)len, s, vl);
    cr_assert_eq(memcmp(p, s, len), 0, "\"%.*s\" came back changed", (int)len, s);
    int64_t v;
    cr_assert_eq(kventry_int(e, &v), want_int, "\"%.*s\": int encoding %d", (int)len, s, !want_int);
    if (want_int) {
        char tmp[32];
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        cr_assert_eq(v, strtoll(tmp, NULL, 10));
    }
}

Test(kvmap, integer_encoding_round_trips)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    /* Canonical integers of 7 or more characters are held as int64. */
    const char *ints[] = {"1234567", "-123456", "9223372036854775807", "-9223372036854775808",
                          "1000000", "-1000000000"};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        expect_roundtrip(m, ints[i], strlen(ints[i]), true);
    /* Short canonical integers stay strings (smaller that way) but read back
     * the same; INCR still treats them as integers. */
    const char *shorts[] = {"0", "-1", "42", "123456"};
    for (size_t i = 0; i < sizeof shorts / sizeof *shorts; i++)
        expect_roundtrip(m, shorts[i], strlen(shorts[i]), false);
    /* Not canonical: must stay byte-exact strings. */
    const char *strs[] = {"0123456", "+1234567", " 1234567", "1234567 ", "-0000000",
                          "00000000", "9223372036854775808", "-9223372036854775809",
                          "18446744073709551616", "123456789012345678901", "-", "", "12345e7",
                          "1234567\n", "-0"};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        expect_roundtrip(m, strs[i], strlen(strs[i]), false);
    expect_roundtrip(m, "1234567\0", 8, false);

    /* kvmap_set_int always stores an int64. */
    int64_t edge[] = {INT64_MIN, INT64_MAX, 0, -1, 1};
    const char *edge_s[] = {"-9223372036854775808", "9223372036854775807", "0", "-1", "1"};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(kvmap_set_int(m, "n", 1, edge[i], KVMAP_NO_EXPIRE, NOW), i == 0 ? 1 : 0);
        struct kventry *e = kvmap_find(m, "n", 1, NOW);
        int64_t v;
        cr_assert(kventry_int(e, &v));
        cr_assert_eq(v, edge[i]);
        char buf[21];
        size_t vl;
        const char *p = kventry_value(e, buf, &vl);
        cr_assert_eq(vl, strlen(edge_s[i]));
        cr_assert_eq(memcmp(p, edge_s[i], vl), 0);
    }
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

Test(kvmap, incrby_rules)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    int64_t out = 0;
    cr_assert_eq(kvmap_incrby(m, "c", 1, 5, NOW, &out), 0);
    cr_assert_eq(out, 5);
    cr_assert_eq(kvmap_incrby(m, "c", 1, -7, NOW, &out), 0);
    cr_assert_eq(out, -2);
    /* A short string integer converts on first INCR. */
    kvmap_set(m, "s", 1, "10", 2, KVMAP_NO_EXPIRE, NOW);
    cr_assert_eq(kvmap_incrby(m, "s", 1, 5, NOW, &out), 0);
    cr_assert_eq(out, 15);
    int64_t v;
    cr_assert(kventry_int(kvmap_find(m, "s", 1, NOW), &v));
    cr_assert_eq(v, 15);

    /* Overflow either way leaves the value alone. */
    kvmap_set_int(m, "max", 3, INT64_MAX, KVMAP_NO_EXPIRE, NOW);
    cr_assert_eq(kvmap_incrby(m, "max", 3, 1, NOW, &out), KVMAP_EOVERFLOW);
    cr_assert_eq(kvmap_incrby(m, "max", 3, 0, NOW, &out), 0);
    cr_assert_eq(out, INT64_MAX);
    cr_assert_eq(kvmap_incrby(m, "max", 3, INT64_MIN, NOW, &out), 0);
    cr_assert_eq(out, -1);
    kvmap_set(m, "min", 3, "-9223372036854775808", 20, KVMAP_NO_EXPIRE, NOW);
    cr_assert_eq(kvmap_incrby(m, "min", 3, -1, NOW, &out), KVMAP_EOVERFLOW);
    cr_assert_eq(kvmap_incrby(m, "min", 3, INT64_MIN, NOW, &out), KVMAP_EOVERFLOW);
    cr_assert(kventry_int(kvmap_find(m, "min", 3, NOW), &v));
    cr_assert_eq(v, INT64_MIN);
    cr_assert_eq(kvmap_incrby(m, "min", 3, INT64_MAX, NOW, &out), 0);
    cr_assert_eq(out, -1);
    cr_assert_eq(kvmap_incrby(m, "new", 3, INT64_MIN, NOW, &out), 0);
    cr_assert_eq(out, INT64_MIN);

    /* Not integers: error and unchanged. */
    const char *bad[] = {"abc", "012", "+1", " 1", "1 ", "-0", "", "1.5",
                         "9223372036854775808", "123456789012345678901234"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t len = strlen(bad[i]);
        kvmap_set(m, "b", 1, bad[i], len, KVMAP_NO_EXPIRE, NOW);
        cr_assert_eq(kvmap_incrby(m, "b", 1, 1, NOW, &out), KVMAP_ENOTINT, "\"%s\"", bad[i]);
        char buf[21];
        size_t vl;
        const char *p = kventry_value(kvmap_find(m, "b", 1, NOW), buf, &vl);
        cr_assert_eq(vl, len);
        cr_assert_eq(memcmp(p, bad[i], len), 0);
    }

    /* INCRBY keeps the TTL, both in place and when converting. */
    kvmap_set(m, "t", 1, "7", 1, NOW + 100, NOW);
    cr_assert_eq(kvmap_incrby(m, "t", 1, 1, NOW, &out), 0);
    cr_assert_eq(kventry_expire(kvmap_find(m, "t", 1, NOW)), NOW + 100);
    cr_assert_eq(kvmap_incrby(m, "t", 1, 1, NOW, &out), 0);
    cr_assert_eq(out, 9);
    cr_assert_eq(kventry_expire(kvmap_find(m, "t", 1, NOW)), NOW + 100);
    /* An expired key counts as missing: starts from 0 without a TTL. */
    cr_assert_eq(kvmap_incrby(m, "t", 1, 3, NOW + 101, &out), 0);
    cr_assert_eq(out, 3);
    cr_assert_eq(kventry_expire(kvmap_find(m, "t", 1, NOW + 101)), KVMAP_NO_EXPIRE);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

Test(kvmap, lazy_expiry)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    struct kvmap_stats st;
    cr_assert_eq(kvmap_set(m, "e", 1, "v", 1, NOW + 100, NOW), 1);
    cr_assert_not_null(kvmap_find(m, "e", 1, NOW + 99));
    stats(m, &st);
    cr_assert_eq(st.keys_with_ttl, 1);
    /* As in Redis, the key lives through the millisecond its expiry names
     * and is gone one millisecond later. */
    cr_assert_not_null(kvmap_find(m, "e", 1, NOW + 100));
    cr_assert_null(kvmap_find(m, "e", 1, NOW + 101));
    stats(m, &st);
    cr_assert_eq(st.expired, 1);
    cr_assert_eq(st.keys, 0);
    cr_assert_eq(st.keys_with_ttl, 0);

    /* DEL of an expired key reports 0 and reaps it. */
    kvmap_set(m, "e", 1, "v", 1, NOW + 100, NOW);
    cr_assert_eq(kvmap_del(m, "e", 1, NOW + 200), 0);
    cr_assert_eq(kvmap_count(m), 0);

    /* SET over an expired key is an insert; KEEPTTL has nothing to keep. */
    kvmap_set(m, "e", 1, "v", 1, NOW + 100, NOW);
    cr_assert_eq(kvmap_set(m, "e", 1, "w", 1, KVMAP_KEEP_TTL, NOW + 101), 1);
    cr_assert_eq(kventry_expire(kvmap_find(m, "e", 1, NOW + 1000)), KVMAP_NO_EXPIRE);
    stats(m, &st);
    cr_assert_eq(st.expired, 3);
    cr_assert_eq(st.keys_with_ttl, 0);
    /* An expiry in the past (or before 1970) is expired at once. */
    kvmap_set(m, "p", 1, "v", 1, NOW - 1, NOW);
    cr_assert_null(kvmap_find(m, "p", 1, NOW));
    kvmap_set(m, "p", 1, "v", 1, -5, NOW);
    cr_assert_null(kvmap_find(m, "p", 1, NOW));
    /* Scan skips expired entries without reaping them. */
    kvmap_set(m, "q", 1, "v", 1, NOW + 10, NOW);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

Test(kvmap, ttl_keep_change_clear)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    struct kvmap_stats st;
    char k[32], v[80];
    size_t kl = mkkey(k, 1);
    memset(v, 'x', 32);
    kvmap_set(m, k, kl, v, 32, NOW + 100, NOW);
    cr_assert_eq(kvmap_set(m, k, kl, "y", 1, KVMAP_KEEP_TTL, NOW), 0);
    cr_assert_eq(kventry_expire(kvmap_find(m, k, kl, NOW)), NOW + 100);
    cr_assert_eq(kvmap_set(m, k, kl, "z", 1, KVMAP_NO_EXPIRE, NOW), 0);
    cr_assert_eq(kventry_expire(kvmap_find(m, k, kl, NOW)), KVMAP_NO_EXPIRE);
    stats(m, &st);
    cr_assert_eq(st.keys_with_ttl, 0);

    /* Add a TTL to a 59-byte entry: its 64-byte block has no room, so it
     * moves; the map must still find it with the value intact. */
    for (unsigned i = 0; i < 100; i++) {
        kl = mkkey(k, i);
        memset(v, 'a' + (int)(i % 26), 32);
        kvmap_set(m, k, kl, v, 32, KVMAP_NO_EXPIRE, NOW);
    }
    for (unsigned i = 0; i < 100; i++) {
        kl = mkkey(k, i);
        struct kventry *e = kvmap_find(m, k, kl, NOW);
        cr_assert_eq(kvmap_entry_set_expire(m, e, NOW + 1000 + i), 0);
    }
    while (kvmap_rehash_slice(m, UINT64_MAX))
        ;
    int64_t before_used = a.used;
    for (unsigned i = 0; i < 100; i++) {
        kl = mkkey(k, i);
        struct kventry *e = kvmap_find(m, k, kl, NOW);
        cr_assert_not_null(e);
        cr_assert_eq(kventry_expire(e), NOW + 1000 + i);
        char buf[21];
        size_t vl;
        const char *p = kventry_value(e, buf, &vl);
        cr_assert_eq(vl, 32);
        memset(v, 'a' + (int)(i % 26), 32);
        cr_assert_eq(memcmp(p, v, 32), 0);
        /* Change it in place, then clear it in place. */
        cr_assert_eq(kvmap_entry_set_expire(m, e, NOW + 5), 0);
        cr_assert_eq(kventry_expire(e), NOW + 5);
        if (i % 2) {
            cr_assert_eq(kvmap_entry_set_expire(m, e, KVMAP_NO_EXPIRE), 0);
            cr_assert_eq(kventry_expire(e), KVMAP_NO_EXPIRE);
            cr_assert_eq(memcmp(kventry_value(e, buf, &vl), v, 32), 0);
            /* Re-adding fits in the same block now. */
            cr_assert_eq(kvmap_entry_set_expire(m, e, NOW + 6), 0);
            cr_assert_eq(kventry_expire(kvmap_find(m, k, kl, NOW)), NOW + 6);
            cr_assert_eq(kvmap_entry_set_expire(m, kvmap_find(m, k, kl, NOW), KVMAP_NO_EXPIRE), 0);
        }
    }
    cr_assert_eq(a.used, before_used, "in-place TTL changes must not allocate");
    stats(m, &st);
    cr_assert_eq(st.keys_with_ttl, 50);
    cr_assert_eq(kvmap_expire_slice(m, NOW + 5, UINT64_MAX), 0);
    uint64_t examined = kvmap_expire_examined(m);
    cr_assert_eq(examined, 100, "a full pass looks at every entry once");
    cr_assert_eq(kvmap_expire_slice(m, NOW + 6, UINT64_MAX), 50);
    /* The reaped were looked at too; the pass ends once no TTL is left. */
    cr_assert(kvmap_expire_examined(m) - examined >= 50 &&
              kvmap_expire_examined(m) - examined <= 100);
    cr_assert_eq(kvmap_count(m), 50);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

Test(kvmap, active_expiry)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    char k[32], v[80];
    /* No TTLs: returns at once. */
    for (unsigned i = 0; i < 20000; i++)
        put(m, i, 0, 1);
    cr_assert_eq(kvmap_expire_slice(m, NOW, UINT64_MAX), 0);
    /* A third of the keys expire at NOW+10, a third at NOW+1000. */
    unsigned soon = 0;
    for (unsigned i = 0; i < 20000; i++) {
        if (i % 3 == 2)
            continue;
        size_t kl = mkkey(k, i), vl = mkval(v, i, 0);
        kvmap_set(m, k, kl, v, vl, i % 3 == 0 ? NOW + 10 : NOW + 1000, NOW);
        soon += i % 3 == 0;
    }
    cr_assert_eq(kvmap_expire_slice(m, NOW + 10, UINT64_MAX), 0);
    /* A zero budget still makes progress (one clock check per 64 buckets). */
    uint64_t removed = kvmap_expire_slice(m, NOW + 11, 0);
    cr_assert_lt(removed, soon);
    unsigned calls = 0;
    uint64_t r;
    while ((r = kvmap_expire_slice(m, NOW + 11, 0)) != 0 || removed < soon) {
        removed += r;
        cr_assert_lt(++calls, 100000);
    }
    cr_assert_eq(removed, soon);
    struct kvmap_stats st;
    stats(m, &st);
    cr_assert_eq(st.expired, soon);
    cr_assert_eq(st.keys, 20000 - soon);
    for (unsigned i = 0; i < 20000; i++)
        cr_assert_eq(has(m, i), i % 3 != 0);
    /* Everything else, in one generous slice. */
    cr_assert_eq(kvmap_expire_slice(m, NOW + 1001, UINT64_MAX), 20000 - soon - (20000 / 3));
    cr_assert_eq(st.keys_with_ttl, 20000 - soon - 20000 / 3);
    stats(m, &st);
    cr_assert_eq(st.keys_with_ttl, 0);
    cr_assert_eq(st.keys, 20000 / 3);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

/* INFO avg_ttl: the active expiry folds the TTLs left of the live
 * volatile keys it passes into a running average, 20 at a time with
 * weight 1/50 as Redis does, and drops it to 0 when no key has a TTL;
 * it also counts the volatile keys it met (expired_stale_perc). */
Test(kvmap, avg_ttl_and_expire_counts)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    char k[32], v[80];
    struct kvmap_stats st;
    for (unsigned i = 0; i < 100; i++)
        put(m, i, 0, 1); /* no TTL: never sampled */
    for (unsigned i = 100; i < 140; i++) {
        size_t kl = mkkey(k, i), vl = mkval(v, i, 0);
        cr_assert_eq(kvmap_set(m, k, kl, v, vl, NOW + 100000, NOW), 1);
    }
    uint64_t sampled, capped;
    kvmap_expire_counts(m, &sampled, &capped);
    cr_assert_eq(sampled, 0);
    /* A first slice: every TTL left is 100 s, so is the average. */
    cr_assert_eq(kvmap_expire_slice(m, NOW, UINT64_MAX), 0);
    stats(m, &st);
    cr_assert_eq(st.avg_ttl, 100000);
    kvmap_expire_counts(m, &sampled, &capped);
    cr_assert_eq(sampled, 40);
    cr_assert_eq(capped, 0);
    /* 50 s later, two folds of 20 samples each move it 1/50 of the way
     * each, from 100000 towards 50000 (integer steps, as Redis). */
    cr_assert_eq(kvmap_expire_slice(m, NOW + 50000, UINT64_MAX), 0);
    stats(m, &st);
    int64_t x = (100000 / 50) * 49 + 50000 / 50;
    x = (x / 50) * 49 + 50000 / 50;
    cr_assert_eq(st.avg_ttl, x);
    /* Once they have all expired, the next slice finds no volatile key. */
    cr_assert_eq(kvmap_expire_slice(m, NOW + 100001, UINT64_MAX), 40);
    kvmap_expire_counts(m, &sampled, &capped);
    cr_assert_eq(sampled, 120);
    cr_assert_eq(kvmap_expire_slice(m, NOW + 100002, UINT64_MAX), 0);
    stats(m, &st);
    cr_assert_eq(st.avg_ttl, 0);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

/* Scan visitor: count visits per key id. */
struct seen {
    uint8_t *count; /* visits per key id */
    unsigned cap;   /* ids below cap */
};

static void count_visit(void *arg, const struct kventry *e)
{
    struct seen *s = arg;
    unsigned id = key_id(e);
    cr_assert_lt(id, s->cap);
    if (s->count[id] < 255)
        s->count[id]++;
}

/* How many of the key ids below n were visited. */
static unsigned seen_distinct(const struct seen *s, unsigned n)
{
    unsigned d = 0;
    for (unsigned i = 0; i < n; i++)
        d += s->count[i] != 0;
    return d;
}

/* Give key i a TTL ending at ms. */
static void expire_at(struct kvmap *m, unsigned i, int64_t ms)
{
    char k[32];
    size_t kl = mkkey(k, i);
    kvmap_entry_set_expire(m, kvmap_find(m, k, kl, NOW), ms);
}

Test(kvmap, scan_exactly_once_without_resize)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    for (unsigned i = 0; i < 5000; i++)
        put(m, i, 0, 1);
    while (kvmap_rehash_slice(m, UINT64_MAX))
        ;
    struct seen s = {calloc(5000, 1), 5000};
    uint64_t c = 0;
    unsigned calls = 0;
    do {
        c = kvmap_scan(m, c, NOW, count_visit, &s);
        calls++;
    } while (c != 0);
    struct kvmap_stats st;
    stats(m, &st);
    cr_assert_eq(calls, st.buckets);
    for (unsigned i = 0; i < 5000; i++)
        cr_assert_eq(s.count[i], 1, "key %u visited %u times", i, s.count[i]);
    free(s.count);
    kvmap_destroy(m);
}

/* Scan while the map grows (phase 0) or shrinks (phase 1) between calls:
 * every key present for the whole scan must be visited at least once. */
static void scan_during_resize(bool shrink)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    const unsigned base = 3000, extra = 60000;
    for (unsigned i = 0; i < base + (shrink ? extra : 0); i++)
        put(m, i, 0, 1);
    struct seen s = {calloc(base + extra, 1), base + extra};
    uint64_t c = 0;
    unsigned next = base, gone = base;
    unsigned resizes_seen = 0, calls_rehashing = 0;
    struct kvmap_stats st;
    stats(m, &st);
    uint64_t resizes0 = st.resizes;
    do {
        c = kvmap_scan(m, c, NOW, count_visit, &s);
        /* Between calls: 30 inserts (growth) or 30 deletes (shrink). */
        for (int j = 0; j < 30; j++) {
            if (!shrink && next < base + extra)
                put(m, next++, 0, 1);
            if (shrink && gone < base + extra)
                cr_assert_eq(del(m, gone++), 1);
        }
        calls_rehashing += kvmap_segments(m, 1) != 0;
    } while (c != 0);
    stats(m, &st);
    resizes_seen = (unsigned)(st.resizes - resizes0);
    cr_assert_geq(resizes_seen, 1, "no resize happened during the scan");
    cr_assert_gt(calls_rehashing, 0);
    for (unsigned i = 0; i < base; i++)
        cr_assert_geq(s.count[i], 1, "key %u never visited", i);
    free(s.count);
    kvmap_destroy(m);
}

Test(kvmap, scan_visits_every_key_while_growing)
{
    scan_during_resize(false);
}

Test(kvmap, scan_visits_every_key_while_shrinking)
{
    scan_during_resize(true);
}

/* kvmap_sample draws each start two calls ahead (to prefetch): its picks
 * must still spread over the whole table, from the first call on, while
 * it grows (rehashing) as well, and give only live entries, and only
 * entries with a TTL when asked. */
Test(kvmap, sample_spreads_and_returns_live_entries)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    const struct kventry *out[5];
    cr_assert_eq(kvmap_sample(m, 5, false, NOW, out), 0);
    /* A fresh map's first two calls begin at random places: in one of
     * three fresh maps at least, at two different keys (the same start
     * twice by chance: about 1 in 1000 per map). */
    unsigned differ = 0;
    for (unsigned t = 0; t < 3; t++) {
        struct mem_acct fa = {0};
        struct kvmap *f = kvmap_create(&fa);
        for (unsigned i = 0; i < 1000; i++)
            put(f, i, 0, 1);
        unsigned id[2];
        for (unsigned c = 0; c < 2; c++) {
            cr_assert_eq(kvmap_sample(f, 1, false, NOW, out), 1);
            id[c] = key_id(out[0]);
        }
        differ += id[0] != id[1];
        kvmap_destroy(f);
    }
    cr_assert_gt(differ, 0, "fresh maps begin sampling at one place twice");
    for (unsigned i = 0; i < 1000; i++)
        put(m, i, 0, 1);
    struct seen s = {calloc(3000, 1), 3000};
    bool rehashed = false;
    for (unsigned call = 0; call < 2000; call++) {
        size_t got = kvmap_sample(m, 5, false, NOW, out);
        cr_assert_eq(got, 5);
        for (size_t k = 0; k < got; k++)
            count_visit(&s, out[k]);
        if (call < 1000 && call % 2 == 0) {
            put(m, 1000 + call, 0, 1); /* grows the table meanwhile */
            put(m, 1001 + call, 0, 1);
        }
        rehashed |= kvmap_segments(m, 1) != 0;
    }
    cr_assert(rehashed, "the table never grew while sampled");
    unsigned distinct = seen_distinct(&s, 1000);
    /* 10000 picks in runs of 5 from 1000-2000 keys miss few of the first
     * 1000; starts stuck in one place would see a few dozen. */
    cr_assert_gt(distinct, 900, "only %u distinct keys", distinct);
    free(s.count);
    /* volatile_only: only the keys with a TTL, never an expired one. */
    for (unsigned i = 0; i < 100; i++)
        expire_at(m, i, i < 50 ? NOW + 1 : NOW + 100000);
    for (unsigned call = 0; call < 200; call++) {
        size_t got = kvmap_sample(m, 5, true, NOW + 2, out);
        for (size_t j = 0; j < got; j++) {
            unsigned id = key_id(out[j]);
            cr_assert(id >= 50 && id < 100, "sampled key %u has no TTL or is expired", id);
        }
    }
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

Test(kvmap, random_returns_live_entries)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    cr_assert_null(kvmap_random(m, NOW));
    for (unsigned i = 0; i < 1000; i++)
        put(m, i, 0, 1);
    struct seen s = {calloc(1000, 1), 1000};
    for (unsigned i = 0; i < 5000; i++)
        count_visit(&s, kvmap_random(m, NOW));
    unsigned distinct = seen_distinct(&s, 1000);
    /* 5000 uniform draws from 1000 miss ~7 keys; 900 is far below. */
    cr_assert_gt(distinct, 900, "only %u distinct keys", distinct);
    free(s.count);
    /* All keys expired: random reaps them and finds nothing. */
    for (unsigned i = 0; i < 1000; i++)
        expire_at(m, i, NOW + 1);
    cr_assert_not_null(kvmap_random(m, NOW + 1));
    cr_assert_null(kvmap_random(m, NOW + 2));
    cr_assert_eq(kvmap_count(m), 0);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

/* ---- write epochs and capture ---------------------------------------- */

#define SNAP_MAX 20000u

/* What a snapshot would have written: the value seen per key id. */
struct snap {
    struct kvmap *m;                 /* the map being captured */
    uint64_t epoch;                  /* cut epoch */
    unsigned calls;                  /* capture hook calls */
    uint8_t times[SNAP_MAX];         /* captures per key id */
    unsigned gen[SNAP_MAX];          /* generation of the captured value */
    unsigned seg_calls[2][4096];     /* hook calls per (table, segment) */
};

static void snap_visit(void *arg, const struct kventry *e)
{
    struct snap *s = arg;
    unsigned id = key_id(e);
    cr_assert_lt(id, SNAP_MAX);
    char buf[21];
    size_t vl;
    const char *v = kventry_value(e, buf, &vl);
    char tmp[80];
    cr_assert_lt(vl, sizeof tmp);
    memcpy(tmp, v, vl);
    tmp[vl] = '\0';
    unsigned gen, id2;
    cr_assert_eq(sscanf(tmp, "v%u-%u-", &gen, &id2), 2);
    cr_assert_eq(id2, id);
    s->times[id]++;
    s->gen[id] = gen;
}

static void snap_capture(void *arg, struct kvmap *m, int table, size_t seg)
{
    struct snap *s = arg;
    cr_assert_eq(m, s->m);
    cr_assert_lt(kvmap_segment_epoch(m, table, seg), s->epoch, "captured twice");
    s->calls++;
    if (seg < 4096)
        s->seg_calls[table][seg]++;
    kvmap_segment_visit(m, table, seg, snap_visit, s);
}

/* The background cursor of a snapshot: capture up to n uncaptured segments. */
static void snap_background(struct snap *s, unsigned n)
{
    for (int t = 0; t < 2 && n; t++) {
        for (size_t seg = 0; seg < kvmap_segments(s->m, t) && n; seg++) {
            if (kvmap_segment_epoch(s->m, t, seg) < s->epoch) {
                kvmap_segment_visit(s->m, t, seg, snap_visit, s);
                kvmap_segment_mark(s->m, t, seg);
                n--;
            }
        }
    }
}

Test(kvmap, capture_once_per_segment_before_the_write)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    struct snap *s = calloc(1, sizeof *s);
    s->m = m;
    const unsigned n = 3000; /* 4096 buckets, 64 segments after growth */
    for (unsigned i = 0; i < n; i++)
        put(m, i, 0, 1);
    while (kvmap_rehash_slice(m, UINT64_MAX))
        ;
    struct kvmap_stats st;
    stats(m, &st);
    cr_assert_eq(st.rehashing, 0);
    size_t nseg = kvmap_segments(m, 0);
    cr_assert_eq(nseg, st.buckets / KVMAP_SEGMENT_BUCKETS);
    cr_assert_eq(kvmap_segments(m, 1), 0);

    s->epoch = kvmap_epoch_begin(m, snap_capture, s);
    cr_assert_eq(s->epoch, st.epoch + 1);
    for (size_t seg = 0; seg < nseg; seg++)
        cr_assert_lt(kvmap_segment_epoch(m, 0, seg), s->epoch);

    /* Overwrite every 5th key; each touched segment is captured once, before
     * the overwrite, so the snapshot holds generation 0 of it. */
    bool touched[4096] = {0};
    char k[32];
    for (unsigned i = 0; i < n; i += 5) {
        size_t kl = mkkey(k, i);
        size_t seg = (hash_key(k, kl) & (st.buckets - 1)) / KVMAP_SEGMENT_BUCKETS;
        unsigned before = s->seg_calls[0][seg];
        put(m, i, 1, 0);
        cr_assert_eq(s->seg_calls[0][seg], touched[seg] ? before : before + 1);
        touched[seg] = true;
        cr_assert_eq(s->times[i], 1);
        cr_assert_eq(s->gen[i], 0, "hook saw the post-write value of key %u", i);
        cr_assert_geq(kvmap_segment_epoch(m, 0, seg), s->epoch);
    }
    unsigned ntouched = 0;
    for (size_t seg = 0; seg < nseg; seg++) {
        cr_assert_eq(s->seg_calls[0][seg], touched[seg] ? 1 : 0);
        ntouched += touched[seg];
        if (!touched[seg])
            cr_assert_lt(kvmap_segment_epoch(m, 0, seg), s->epoch);
    }
    cr_assert_eq(s->calls, ntouched);
    /* Reads do not capture. */
    unsigned calls = s->calls;
    for (unsigned i = 1; i < n; i += 5)
        expect_val(m, i, 0);
    cr_assert_eq(s->calls, calls);
    kvmap_epoch_end(m);
    /* Disarmed: nothing is captured. */
    for (unsigned i = 1; i < n; i += 5)
        put(m, i, 1, 0);
    cr_assert_eq(s->calls, calls);
    free(s);
    kvmap_destroy(m);
}

/* The snapshot property: with writes, deletes, inserts and rehashes racing
 * the background cursor, the capture hook plus the cursor see exactly the
 * map as of the cut, each key once. */
static void snapshot_is_point_in_time(bool rehash_at_cut)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    struct snap *s = calloc(1, sizeof *s);
    s->m = m;
    /* 4097 keys start a 4096 -> 8192 rehash; 1500 more land in the new
     * table while it runs (about 60% done), so the cut finds pre-cut
     * entries in both tables, in segments the rehash has yet to fill. */
    unsigned n = rehash_at_cut ? 5600 : 3000;
    for (unsigned i = 0; i < n; i++)
        put(m, i, 0, 1);
    if (!rehash_at_cut)
        while (kvmap_rehash_slice(m, UINT64_MAX))
            ;
    struct kvmap_stats st;
    stats(m, &st);
    cr_assert_eq(st.rehashing, rehash_at_cut ? 1 : 0);
    s->epoch = kvmap_epoch_begin(m, snap_capture, s);
    uint64_t resizes0 = st.resizes;
    bool present[SNAP_MAX] = {0};
    for (unsigned i = 0; i < n; i++)
        present[i] = true;
    unsigned next = n;
    for (unsigned r = 0; r < 16000; r++) {
        unsigned i = (r * 2654435761u) % next;
        switch (r % 4) {
        case 0:
            put(m, i, 1, present[i] ? 0 : 1);
            present[i] = true;
            break;
        case 1:
            cr_assert_eq(del(m, i), present[i] ? 1 : 0);
            present[i] = false;
            break;
        default:
            if (next < SNAP_MAX) {
                put(m, next, 2, 1);
                present[next++] = true;
            }
        }
        if (r % 64 == 0)
            snap_background(s, 1);
    }
    stats(m, &st);
    cr_assert_gt(st.resizes, resizes0, "no rehash after the cut");
    snap_background(s, UINT32_MAX);
    kvmap_epoch_end(m);
    for (unsigned i = 0; i < SNAP_MAX; i++) {
        if (i < n) {
            cr_assert_eq(s->times[i], 1, "key %u captured %u times", i, s->times[i]);
            cr_assert_eq(s->gen[i], 0, "key %u captured after its write", i);
        } else {
            cr_assert_eq(s->times[i], 0, "post-cut key %u in the snapshot", i);
        }
    }
    free(s);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

Test(kvmap, snapshot_capture_is_point_in_time)
{
    snapshot_is_point_in_time(false);
}

Test(kvmap, snapshot_capture_is_point_in_time_across_a_rehash)
{
    snapshot_is_point_in_time(true);
}

Test(kvmap, memory_accounting_returns_to_baseline)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    struct kvmap_stats st;
    stats(m, &st);
    int64_t base = st.used_memory;
    uint64_t base_blocks = a.allocs - a.frees;
    cr_assert_eq(base, a.used, "the map is the account's only user");
    cr_assert_eq(base_blocks, 2, "map struct + one table's heads (no stamps: no cut)");
    char k[32], v[80];
    int64_t out;
    for (unsigned i = 0; i < 50000; i++) {
        size_t kl = mkkey(k, i), vl = mkval(v, i, 0);
        kvmap_set(m, k, kl, v, vl, i % 4 == 0 ? NOW + 1000 : KVMAP_NO_EXPIRE, NOW);
        if (i % 7 == 0)
            kvmap_entry_set_expire(m, kvmap_find(m, k, kl, NOW), NOW + 5);
        if (i % 11 == 0)
            kvmap_set_int(m, k, kl, i, KVMAP_KEEP_TTL, NOW);
        if (i % 13 == 0)
            kvmap_incrby(m, k, kl, 1, NOW, &out);
    }
    stats(m, &st);
    cr_assert_eq(st.used_memory, a.used);
    cr_assert_gt(st.used_memory, base + 50000 * 32);
    for (unsigned i = 0; i < 50000; i += 2)
        del(m, i);
    kvmap_expire_slice(m, NOW + 5, UINT64_MAX);
    for (unsigned i = 1; i < 50000; i += 2)
        del(m, i);
    while (kvmap_rehash_slice(m, UINT64_MAX))
        ;
    stats(m, &st);
    cr_assert_eq(st.keys, 0);
    cr_assert_eq(st.keys_with_ttl, 0);
    cr_assert_eq(st.buckets, 4);
    cr_assert_eq(st.used_memory, base);
    cr_assert_eq(a.used, base);
    cr_assert_eq(a.allocs - a.frees, base_blocks);
    /* Clear gets back to the same baseline. */
    for (unsigned i = 0; i < 10000; i++)
        put(m, i, 0, 1);
    kvmap_clear(m);
    stats(m, &st);
    cr_assert_eq(st.keys, 0);
    cr_assert_eq(st.used_memory, base);
    put(m, 1, 0, 1);
    expect_val(m, 1, 0);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
    cr_assert_eq(a.allocs, a.frees);
}

Test(kvmap, limits_at_minus_one_zero_plus_one)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    kvmap_set_limits(m, 10, 20);
    char k[16], v[32];
    memset(k, 'k', sizeof k);
    memset(v, 'v', sizeof v);
    cr_assert_eq(kvmap_set(m, k, 9, v, 5, KVMAP_NO_EXPIRE, NOW), 1);
    cr_assert_eq(kvmap_set(m, k, 10, v, 5, KVMAP_NO_EXPIRE, NOW), 1);
    uint64_t allocs = a.allocs;
    cr_assert_eq(kvmap_set(m, k, 11, v, 5, KVMAP_NO_EXPIRE, NOW), KVMAP_ETOOBIG);
    cr_assert_eq(kvmap_set_int(m, k, 11, 5, KVMAP_NO_EXPIRE, NOW), KVMAP_ETOOBIG);
    int64_t out;
    cr_assert_eq(kvmap_incrby(m, k, 11, 5, NOW, &out), KVMAP_ETOOBIG);
    cr_assert_eq(a.allocs, allocs, "ETOOBIG must be decided before allocating");
    cr_assert_eq(kvmap_set(m, "a", 1, v, 19, KVMAP_NO_EXPIRE, NOW), 1);
    cr_assert_eq(kvmap_set(m, "b", 1, v, 20, KVMAP_NO_EXPIRE, NOW), 1);
    allocs = a.allocs;
    cr_assert_eq(kvmap_set(m, "c", 1, v, 21, KVMAP_NO_EXPIRE, NOW), KVMAP_ETOOBIG);
    /* An integer-looking value is still judged by its byte length. */
    kvmap_set_limits(m, 10, 6);
    cr_assert_eq(kvmap_set(m, "d", 1, "1234567", 7, KVMAP_NO_EXPIRE, NOW), KVMAP_ETOOBIG);
    cr_assert_eq(a.allocs, allocs);
    cr_assert_null(kvmap_find(m, k, 11, NOW));
    cr_assert_null(kvmap_find(m, "c", 1, NOW));
    cr_assert_null(kvmap_find(m, "d", 1, NOW));
    cr_assert_eq(kvmap_count(m), 4);
    /* Zero-length limits: only empty keys and values. */
    kvmap_set_limits(m, 0, 0);
    cr_assert_eq(kvmap_set(m, "", 0, "", 0, KVMAP_NO_EXPIRE, NOW), 1);
    cr_assert_eq(kvmap_set(m, "x", 1, "", 0, KVMAP_NO_EXPIRE, NOW), KVMAP_ETOOBIG);
    cr_assert_eq(kvmap_set(m, "", 0, "x", 1, KVMAP_NO_EXPIRE, NOW), KVMAP_ETOOBIG);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

Test(kvmap, stats_and_clear_and_bind_owner)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    for (unsigned i = 0; i < 100; i++)
        put(m, i, 0, 1);
    struct kvmap_stats st;
    stats(m, &st);
    cr_assert_eq(st.keys, 100);
    cr_assert_geq(st.buckets, 128);
    cr_assert_float_eq(st.load_factor, (double)st.keys / (double)st.buckets, 1e-9);
    cr_assert_geq(st.longest_chain, 1);
    cr_assert_leq(st.longest_chain, 100);
    cr_assert_eq(st.used_memory, a.used);
    kvmap_bind_owner(m); /* same thread: a no-op that must not break */
    kvmap_clear(m);
    cr_assert_eq(kvmap_count(m), 0);
    cr_assert_null(kvmap_find(m, "key:000000000001", 16, NOW));
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
/* Out of memory, for real: cap this test process's address space just above
 * what it maps now, so a 64 MB block cannot be had. Sanitizer builds reserve
 * terabytes of shadow and abort on failed allocations by default, so this
 * test is compiled only in plain builds (it would prove nothing there). */
Test(kvmap, enomem_leaves_the_map_unchanged)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    const size_t big = (size_t)64 << 20;
    char *v = malloc(big);
    cr_assert_not_null(v);
    memset(v, 'x', big);
    cr_assert_eq(kvmap_set(m, "k", 1, "old", 3, NOW + 100, NOW), 1);
    put(m, 7, 0, 1);
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%ld", &pages), 1);
    fclose(f);
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_AS, &rl), 0);
    /* 16 MB of headroom: enough for small blocks, far below 64 MB. */
    rl.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)16 << 20);
    cr_assert(rl.rlim_max == RLIM_INFINITY || rl.rlim_cur <= rl.rlim_max);
    cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0);
    int64_t used = a.used;
    uint64_t fails = a.fails;
    cr_assert_eq(kvmap_set(m, "k", 1, v, big, KVMAP_NO_EXPIRE, NOW), KVMAP_ENOMEM);
    cr_assert_eq(kvmap_set(m, "n", 1, v, big, KVMAP_NO_EXPIRE, NOW), KVMAP_ENOMEM);
    cr_assert_gt(a.fails, fails);
    cr_assert_eq(a.used, used);
    cr_assert_eq(kvmap_count(m), 2);
    cr_assert_null(kvmap_find(m, "n", 1, NOW));
    struct kventry *e = kvmap_find(m, "k", 1, NOW);
    cr_assert_not_null(e);
    char buf[21];
    size_t vl;
    cr_assert_eq(memcmp(kventry_value(e, buf, &vl), "old", 3), 0);
    cr_assert_eq(vl, 3);
    cr_assert_eq(kventry_expire(e), NOW + 100);
    expect_val(m, 7, 0);
    free(v);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}
#endif

/* ---- APPEND and SETRANGE in place ------------------------------------- */

/* Assert that key holds exactly want[0..wlen). */
static void expect_bytes(struct kvmap *m, const void *key, size_t klen, const void *want,
                         size_t wlen)
{
    struct kventry *e = kvmap_find(m, key, klen, NOW);
    cr_assert_not_null(e, "key missing");
    char buf[21];
    size_t vl;
    const char *v = kventry_value(e, buf, &vl);
    cr_assert_eq(vl, wlen, "length %zu, want %zu", vl, wlen);
    cr_assert(wlen == 0 || memcmp(v, want, wlen) == 0, "wrong bytes");
}

/* A model of one key's value: what APPEND/SETRANGE must produce. */
struct model {
    unsigned char *buf;  /* the expected bytes */
    size_t len;          /* their length */
    bool exists;         /* the key exists */
};

static void model_write(struct model *x, size_t off, const void *d, size_t n)
{
    size_t end = off + n > x->len ? off + n : x->len;
    x->buf = realloc(x->buf, end ? end : 1);
    cr_assert_not_null(x->buf);
    if (off > x->len)
        memset(x->buf + x->len, 0, off - x->len);
    memcpy(x->buf + off, d, n);
    x->len = end;
    x->exists = true;
}

/* Random APPEND, SETRANGE, SET and DEL on many keys (some over 255 bytes
 * long), with binary data, while the table grows through rehashes; every
 * reply and, at the end, every value is checked against a model. */
Test(kvmap, append_setrange_round_trips_binary)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    enum { NKEYS = 600, ROUNDS = 30000 };
    struct model *x = calloc(NKEYS, sizeof *x);
    char *keys = malloc((size_t)NKEYS * 300);
    size_t klen[NKEYS];
    for (unsigned i = 0; i < NKEYS; i++) {
        klen[i] = i % 10 == 0 ? 300 : 1 + i % 40;
        for (size_t j = 0; j < klen[i]; j++)
            keys[i * 300 + j] = (char)(i * 7 + j * 13); /* NULs included */
        memcpy(keys + i * 300, &i, sizeof i);
    }
    unsigned char data[700];
    uint64_t rng = 88172645463325252ULL;
    for (unsigned r = 0; r < ROUNDS; r++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        unsigned i = (unsigned)(rng % NKEYS);
        const char *k = keys + i * 300;
        size_t n = (size_t)(rng >> 20) % (r % 100 == 0 ? sizeof data : 40);
        for (size_t j = 0; j < n; j++)
            data[j] = (unsigned char)((rng >> (j % 56)) + j);
        size_t got = 12345;
        switch ((rng >> 40) % 8) {
        case 0: case 1: case 2: case 3:
            cr_assert_eq(kvmap_append(m, k, klen[i], data, n, NOW, &got), 0);
            model_write(&x[i], x[i].exists ? x[i].len : 0, data, n);
            cr_assert_eq(got, x[i].len);
            break;
        case 4: case 5: {
            size_t off = (size_t)(rng >> 48) % (x[i].len + 300);
            cr_assert_eq(kvmap_setrange(m, k, klen[i], off, data, n, NOW, &got), 0);
            if (n > 0)
                model_write(&x[i], off, data, n);
            cr_assert_eq(got, x[i].exists ? x[i].len : 0);
            break;
        }
        case 6:
            cr_assert_geq(kvmap_set(m, k, klen[i], data, n, KVMAP_NO_EXPIRE, NOW), 0);
            x[i].len = 0;
            model_write(&x[i], 0, data, n);
            break;
        default:
            cr_assert_eq(kvmap_del(m, k, klen[i], NOW), x[i].exists ? 1 : 0);
            x[i].exists = false;
            x[i].len = 0;
        }
    }
    struct kvmap_stats st;
    stats(m, &st);
    cr_assert_gt(st.resizes, 3, "the table should have grown while editing");
    cr_assert_eq(st.used_memory, a.used);
    unsigned live = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        if (x[i].exists) {
            expect_bytes(m, keys + i * 300, klen[i], x[i].buf, x[i].len);
            live++;
        } else {
            cr_assert_null(kvmap_find(m, keys + i * 300, klen[i], NOW));
        }
        free(x[i].buf);
    }
    cr_assert_eq(kvmap_count(m), live);
    free(x);
    free(keys);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
    cr_assert_eq(a.allocs, a.frees);
}

Test(kvmap, append_setrange_on_int_encoded_values)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    size_t n = 0;
    int64_t iv;
    /* A new key from APPEND is stored as SET stores it: an int64 here. */
    cr_assert_eq(kvmap_append(m, "n", 1, "1234567890", 10, NOW, &n), 0);
    cr_assert_eq(n, 10);
    cr_assert(kventry_int(kvmap_find(m, "n", 1, NOW), &iv));
    cr_assert_eq(iv, 1234567890);
    /* Appending nothing writes nothing: still an int. */
    cr_assert_eq(kvmap_append(m, "n", 1, "", 0, NOW, &n), 0);
    cr_assert_eq(n, 10);
    cr_assert(kventry_int(kvmap_find(m, "n", 1, NOW), &iv));
    cr_assert_eq(kvmap_append(m, "n", 1, "12", 2, NOW, &n), 0);
    cr_assert_eq(n, 12);
    cr_assert_not(kventry_int(kvmap_find(m, "n", 1, NOW), &iv));
    expect_bytes(m, "n", 1, "123456789012", 12);
    /* INCR parses the text again; APPEND to the result converts again. */
    int64_t out;
    cr_assert_eq(kvmap_incrby(m, "n", 1, 1, NOW, &out), 0);
    cr_assert_eq(out, 123456789013);
    cr_assert_eq(kvmap_append(m, "n", 1, "x", 1, NOW, &n), 0);
    expect_bytes(m, "n", 1, "123456789013x", 13);
    cr_assert_eq(kvmap_incrby(m, "n", 1, 1, NOW, &out), KVMAP_ENOTINT);
    /* The extremes of int64 as text. */
    cr_assert_eq(kvmap_set_int(m, "m", 1, INT64_MIN, KVMAP_NO_EXPIRE, NOW), 1);
    cr_assert_eq(kvmap_append(m, "m", 1, "\0", 1, NOW, &n), 0);
    expect_bytes(m, "m", 1, "-9223372036854775808\0", 21);
    /* SETRANGE inside an int's text: converted, not grown. */
    cr_assert_eq(kvmap_set_int(m, "s", 1, -700, KVMAP_NO_EXPIRE, NOW), 1);
    cr_assert_eq(kvmap_setrange(m, "s", 1, 0, "9", 1, NOW, &n), 0);
    cr_assert_eq(n, 4);
    expect_bytes(m, "s", 1, "9700", 4);
    cr_assert_eq(kvmap_incrby(m, "s", 1, 1, NOW, &out), 0);
    cr_assert_eq(out, 9701);
    /* ... and past its end, zero-filled. */
    cr_assert_eq(kvmap_set_int(m, "t", 1, INT64_MAX, KVMAP_NO_EXPIRE, NOW), 1);
    cr_assert_eq(kvmap_setrange(m, "t", 1, 21, "ab", 2, NOW, &n), 0);
    cr_assert_eq(n, 23);
    expect_bytes(m, "t", 1, "9223372036854775807\0\0ab", 23);
    /* SETRANGE with nothing to write leaves an int alone. */
    cr_assert_eq(kvmap_set_int(m, "u", 1, 42, KVMAP_NO_EXPIRE, NOW), 1);
    cr_assert_eq(kvmap_setrange(m, "u", 1, 99, "", 0, NOW, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert(kventry_int(kvmap_find(m, "u", 1, NOW), &iv));
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

Test(kvmap, append_setrange_keep_the_ttl)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    size_t n;
    cr_assert_eq(kvmap_set(m, "k", 1, "abc", 3, NOW + 1000, NOW), 1);
    cr_assert_eq(kvmap_set_int(m, "i", 1, 12345678, NOW + 2000, NOW), 1);
    struct kvmap_stats st;
    stats(m, &st);
    cr_assert_eq(st.keys_with_ttl, 2);
    char big[600];
    memset(big, 'z', sizeof big);
    for (int r = 0; r < 20; r++) {
        cr_assert_eq(kvmap_append(m, "k", 1, big, 30, NOW, &n), 0);
        cr_assert_eq(kvmap_setrange(m, "i", 1, n, "q", 1, NOW, &n), 0);
    }
    cr_assert_eq(kventry_expire(kvmap_find(m, "k", 1, NOW)), NOW + 1000);
    cr_assert_eq(kventry_expire(kvmap_find(m, "i", 1, NOW)), NOW + 2000);
    stats(m, &st);
    cr_assert_eq(st.keys_with_ttl, 2);
    /* A grown entry (with spare room) takes TTL changes too: clear, set
     * again (in place or moved), change. Its bytes survive each one. */
    size_t vl;
    char buf[21];
    char *want = malloc(3 + 20 * 30);
    memcpy(want, "abc", 3);
    memset(want + 3, 'z', 20 * 30);
    for (int r = 0; r < 3; r++) {
        struct kventry *e = kvmap_find(m, "k", 1, NOW);
        cr_assert_eq(kvmap_entry_set_expire(m, e, KVMAP_NO_EXPIRE), 0);
        expect_bytes(m, "k", 1, want, 603);
        cr_assert_eq(kventry_expire(kvmap_find(m, "k", 1, NOW)), KVMAP_NO_EXPIRE);
        cr_assert_eq(kvmap_append(m, "k", 1, "", 0, NOW, &n), 0);
        cr_assert_eq(n, 603);
        e = kvmap_find(m, "k", 1, NOW);
        cr_assert_eq(kvmap_entry_set_expire(m, e, NOW + 77 + r), 0);
        e = kvmap_find(m, "k", 1, NOW);
        cr_assert_eq(kventry_expire(e), NOW + 77 + r);
        cr_assert_eq(memcmp(kventry_value(e, buf, &vl), want, 603), 0);
        cr_assert_eq(vl, 603);
    }
    /* Appending after the TTL changes still keeps the latest TTL. */
    cr_assert_eq(kvmap_append(m, "k", 1, big, sizeof big, NOW, &n), 0);
    cr_assert_eq(n, 603 + sizeof big);
    cr_assert_eq(kventry_expire(kvmap_find(m, "k", 1, NOW)), NOW + 79);
    free(want);
    stats(m, &st);
    cr_assert_eq(st.keys_with_ttl, 2);
    cr_assert_eq(st.used_memory, a.used);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

Test(kvmap, append_setrange_on_expired_keys_start_afresh)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    size_t n = 99;
    cr_assert_eq(kvmap_set(m, "a", 1, "old", 3, NOW - 1, NOW - 10), 1);
    cr_assert_eq(kvmap_set(m, "b", 1, "old", 3, NOW - 1, NOW - 10), 1);
    cr_assert_eq(kvmap_set(m, "c", 1, "old", 3, NOW - 1, NOW - 10), 1);
    cr_assert_eq(kvmap_set(m, "d", 1, "old", 3, NOW, NOW - 10), 1);
    struct kvmap_stats st;
    stats(m, &st);
    uint64_t expired = st.expired;
    /* APPEND: a new value without the old TTL. */
    cr_assert_eq(kvmap_append(m, "a", 1, "new", 3, NOW, &n), 0);
    cr_assert_eq(n, 3);
    expect_bytes(m, "a", 1, "new", 3);
    cr_assert_eq(kventry_expire(kvmap_find(m, "a", 1, NOW)), KVMAP_NO_EXPIRE);
    /* SETRANGE with nothing to write: 0, and no key. */
    cr_assert_eq(kvmap_setrange(m, "b", 1, 5, "", 0, NOW, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_null(kvmap_find(m, "b", 1, NOW));
    /* SETRANGE with bytes: a new zero-padded value. */
    cr_assert_eq(kvmap_setrange(m, "c", 1, 2, "xy", 2, NOW, &n), 0);
    cr_assert_eq(n, 4);
    expect_bytes(m, "c", 1, "\0\0xy", 4);
    cr_assert_eq(kventry_expire(kvmap_find(m, "c", 1, NOW)), KVMAP_NO_EXPIRE);
    /* Expiring at NOW is still live at NOW (Redis's rule). */
    cr_assert_eq(kvmap_append(m, "d", 1, "+", 1, NOW, &n), 0);
    cr_assert_eq(n, 4);
    expect_bytes(m, "d", 1, "old+", 4);
    cr_assert_eq(kventry_expire(kvmap_find(m, "d", 1, NOW)), NOW);
    stats(m, &st);
    cr_assert_eq(st.expired, expired + 3);
    cr_assert_eq(st.keys, 3);
    cr_assert_eq(st.keys_with_ttl, 1);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

Test(kvmap, append_setrange_limits_at_minus_one_zero_plus_one)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    kvmap_set_limits(m, 10, 20);
    char k[16], v[32];
    memset(k, 'k', sizeof k);
    memset(v, 'v', sizeof v);
    size_t n = 0;
    /* Missing keys: the data alone against the value limit. */
    cr_assert_eq(kvmap_append(m, "a", 1, v, 19, NOW, &n), 0);
    cr_assert_eq(kvmap_append(m, "b", 1, v, 20, NOW, &n), 0);
    cr_assert_eq(kvmap_setrange(m, "c", 1, 10, v, 9, NOW, &n), 0);
    cr_assert_eq(kvmap_setrange(m, "d", 1, 10, v, 10, NOW, &n), 0);
    cr_assert_eq(n, 20);
    cr_assert_eq(kvmap_append(m, k, 10, v, 1, NOW, &n), 0);
    cr_assert_eq(kvmap_setrange(m, k, 9, 0, v, 1, NOW, &n), 0);
    while (kvmap_rehash_slice(m, UINT64_MAX))
        ; /* a finishing rehash frees a table: not what is measured here */
    int64_t used = a.used;
    uint64_t allocs = a.allocs;
    cr_assert_eq(kvmap_append(m, "e", 1, v, 21, NOW, &n), KVMAP_ETOOBIG);
    cr_assert_eq(kvmap_setrange(m, "e", 1, 10, v, 11, NOW, &n), KVMAP_ETOOBIG);
    cr_assert_eq(kvmap_setrange(m, "e", 1, 21, v, 0, NOW, &n), 0, "empty: no limit check");
    cr_assert_eq(kvmap_setrange(m, "e", 1, SIZE_MAX, v, 1, NOW, &n), KVMAP_ETOOBIG);
    cr_assert_eq(kvmap_setrange(m, "e", 1, 1, v, SIZE_MAX, NOW, &n), KVMAP_ETOOBIG);
    cr_assert_eq(kvmap_append(m, k, 11, v, 1, NOW, &n), KVMAP_ETOOBIG);
    cr_assert_eq(kvmap_setrange(m, k, 11, 0, v, 1, NOW, &n), KVMAP_ETOOBIG);
    cr_assert_null(kvmap_find(m, "e", 1, NOW));
    cr_assert_null(kvmap_find(m, k, 11, NOW));
    /* Existing keys: old length + data. "a" has 19 bytes, "b" 20. */
    cr_assert_eq(kvmap_append(m, "b", 1, v, 1, NOW, &n), KVMAP_ETOOBIG);
    cr_assert_eq(kvmap_append(m, "a", 1, v, 2, NOW, &n), KVMAP_ETOOBIG);
    cr_assert_eq(kvmap_setrange(m, "a", 1, 20, v, 1, NOW, &n), KVMAP_ETOOBIG);
    cr_assert_eq(kvmap_setrange(m, "a", 1, 0, v, 21, NOW, &n), KVMAP_ETOOBIG);
    cr_assert_eq(a.allocs, allocs, "ETOOBIG must be decided before allocating");
    cr_assert_eq(a.used, used);
    expect_bytes(m, "a", 1, v, 19);
    expect_bytes(m, "b", 1, v, 20);
    /* Appending nothing to a full value is fine, as is the exact limit. */
    cr_assert_eq(kvmap_append(m, "b", 1, v, 0, NOW, &n), 0);
    cr_assert_eq(n, 20);
    cr_assert_eq(kvmap_append(m, "a", 1, "!", 1, NOW, &n), 0);
    cr_assert_eq(n, 20);
    cr_assert_eq(kvmap_setrange(m, "c", 1, 19, "!", 1, NOW, &n), 0);
    cr_assert_eq(n, 20);
    cr_assert_eq(kvmap_setrange(m, "d", 1, 0, "xyz", 3, NOW, &n), 0);
    cr_assert_eq(n, 20);
    /* Greedy room never goes past the limit: doubling 20 would be 40. */
    size_t kl;
    struct kventry *e = kvmap_find(m, "a", 1, NOW);
    kventry_key(e, &kl);
    cr_assert_lt(mem_usable(e), (size_t)64, "room past the value limit");
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

/* The capture hook runs before the first in-place edit of a segment after
 * the cut and sees the value as it was; later edits of that segment do not
 * call it again. */
struct edit_snap {
    uint64_t epoch;     /* cut epoch */
    unsigned calls;     /* hook calls */
    const char *key;    /* the watched key */
    size_t seen_len;    /* its value length as the hook saw it */
    char seen[64];      /* and its first bytes */
    unsigned seen_n;    /* how often the hook saw the watched key */
    bool seen_int;      /* it was still integer-encoded then */
};

static struct edit_snap *edit_snap_cur;

static void edit_visit(void *arg, const struct kventry *e)
{
    struct edit_snap *s = arg;
    size_t kl, vl;
    const char *k = kventry_key(e, &kl);
    if (kl != strlen(s->key) || memcmp(k, s->key, kl) != 0)
        return;
    char buf[21];
    const char *v = kventry_value(e, buf, &vl);
    int64_t iv;
    s->seen_int = kventry_int(e, &iv);
    s->seen_len = vl;
    memcpy(s->seen, v, vl < sizeof s->seen ? vl : sizeof s->seen);
    s->seen_n++;
}

static void edit_capture(void *arg, struct kvmap *m, int table, size_t seg)
{
    struct edit_snap *s = arg;
    cr_assert_lt(kvmap_segment_epoch(m, table, seg), s->epoch, "captured twice");
    s->calls++;
    kvmap_segment_visit(m, table, seg, edit_visit, s);
}

static void capture_before_edit(bool use_setrange)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    for (unsigned i = 0; i < 3000; i++)
        put(m, i, 0, 1);
    while (kvmap_rehash_slice(m, UINT64_MAX))
        ;
    char k[32], v[80];
    size_t kl = mkkey(k, 1234), vl = mkval(v, 1234, 0);
    /* Make it an int first: the hook must see the int, not the text. */
    cr_assert_eq(kvmap_set_int(m, k, kl, 777, KVMAP_NO_EXPIRE, NOW), 0);
    struct edit_snap s = {.key = k};
    edit_snap_cur = &s;
    s.epoch = kvmap_epoch_begin(m, edit_capture, &s);
    struct kvmap_stats st;
    stats(m, &st);
    size_t seg = (hash_key(k, kl) & (st.buckets - 1)) / KVMAP_SEGMENT_BUCKETS;
    cr_assert_lt(kvmap_segment_epoch(m, 0, seg), s.epoch);
    size_t n;
    char chunk[100];
    memset(chunk, '#', sizeof chunk);
    for (unsigned r = 0; r < 50; r++) {
        if (use_setrange)
            cr_assert_eq(kvmap_setrange(m, k, kl, 3 + r * 100, chunk, 100, NOW, &n), 0);
        else
            cr_assert_eq(kvmap_append(m, k, kl, chunk, 100, NOW, &n), 0);
        cr_assert_eq(s.calls, 1, "hook calls after %u edits: %u", r + 1, s.calls);
    }
    cr_assert_eq(s.seen_n, 1);
    cr_assert_eq(s.seen_len, 3, "the hook saw the value after the edit");
    cr_assert_eq(memcmp(s.seen, "777", 3), 0);
    cr_assert(s.seen_int, "the hook saw the value converted to text");
    cr_assert_geq(kvmap_segment_epoch(m, 0, seg), s.epoch);
    cr_assert_eq(n, 3 + 50 * 100);
    /* A no-op edit (nothing to write) of another segment captures nothing. */
    unsigned other = 0;
    char k2[32];
    size_t kl2 = 0;
    for (unsigned i = 0; i < 3000; i++) {
        kl2 = mkkey(k2, i);
        if ((hash_key(k2, kl2) & (st.buckets - 1)) / KVMAP_SEGMENT_BUCKETS != seg) {
            other = i;
            break;
        }
    }
    cr_assert_eq(kvmap_append(m, k2, kl2, "", 0, NOW, &n), 0);
    cr_assert_eq(kvmap_setrange(m, k2, kl2, 5, "", 0, NOW, &n), 0);
    cr_assert_eq(s.calls, 1);
    expect_val(m, other, 0);
    kvmap_epoch_end(m);
    (void)vl;
    edit_snap_cur = NULL;
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

Test(kvmap, append_captures_once_before_the_first_write)
{
    capture_before_edit(false);
}

Test(kvmap, setrange_captures_once_before_the_first_write)
{
    capture_before_edit(true);
}

static void count_capture(void *arg, struct kvmap *m, int table, size_t seg)
{
    (void)m;
    (void)table;
    (void)seg;
    (*(unsigned *)arg)++;
}

/* Segment stamps exist only while a cut is armed: 8 bytes per 16 buckets
 * charged from kvmap_epoch_begin to kvmap_epoch_end, and a table a rehash
 * makes meanwhile gets them too; a second cut captures every segment
 * again. */
Test(kvmap, stamps_only_while_armed)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    for (unsigned i = 0; i < 4000; i++)
        put(m, i, 0, 1);
    while (kvmap_rehash_slice(m, UINT64_MAX))
        ;
    struct kvmap_stats st;
    stats(m, &st);
    int64_t unarmed = a.used;
    unsigned calls = 0;
    uint64_t e1 = kvmap_epoch_begin(m, count_capture, &calls);
    cr_assert_gt(e1, 0);
    cr_assert_eq(a.used, unarmed + (int64_t)(st.buckets / KVMAP_SEGMENT_BUCKETS * 8));
    for (size_t seg = 0; seg < kvmap_segments(m, 0); seg++)
        cr_assert_lt(kvmap_segment_epoch(m, 0, seg), e1);
    put(m, 1, 1, 0);
    cr_assert_eq(calls, 1);
    /* Grow while armed: the new table is born captured. */
    for (unsigned i = 4000; i < 9000; i++)
        put(m, i, 0, 1);
    stats(m, &st);
    cr_assert_eq(st.rehashing, 1);
    for (size_t seg = 0; seg < kvmap_segments(m, 1); seg++)
        cr_assert_geq(kvmap_segment_epoch(m, 1, seg), e1);
    while (kvmap_rehash_slice(m, UINT64_MAX))
        ;
    kvmap_epoch_end(m);
    stats(m, &st);
    int64_t grown = a.used;
    cr_assert_eq(st.used_memory, a.used);
    /* Disarmed: writes capture nothing and cost no stamp. */
    unsigned before = calls;
    put(m, 2, 2, 0);
    cr_assert_eq(calls, before);
    cr_assert_eq(a.used, grown);
    /* A second cut starts with every segment uncaptured. */
    uint64_t e2 = kvmap_epoch_begin(m, count_capture, &calls);
    cr_assert_gt(e2, e1);
    for (size_t seg = 0; seg < kvmap_segments(m, 0); seg++)
        cr_assert_lt(kvmap_segment_epoch(m, 0, seg), e2);
    kvmap_epoch_end(m);
    cr_assert_eq(a.used, grown);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

Test(kvmap, append_memory_accounting_returns_to_baseline)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    int64_t base = a.used;
    uint64_t base_blocks = a.allocs - a.frees;
    char k[32], chunk[300];
    memset(chunk, 'c', sizeof chunk);
    size_t n;
    for (unsigned r = 0; r < 40; r++) {
        for (unsigned i = 0; i < 500; i++) {
            size_t kl = mkkey(k, i);
            if (i % 3 == 0)
                kvmap_append(m, k, kl, chunk, 1 + (r * 7 + i) % 300, NOW, &n);
            else
                kvmap_setrange(m, k, kl, (r * 13 + i) % 400, chunk, 1 + i % 50, NOW, &n);
            if (i % 7 == 0 && r % 5 == 0)
                kvmap_entry_set_expire(m, kvmap_find(m, k, kl, NOW), NOW + 5 + r);
            if (i % 11 == 0 && r % 5 == 1)
                kvmap_entry_set_expire(m, kvmap_find(m, k, kl, NOW), KVMAP_NO_EXPIRE);
            if (i % 13 == 0 && r == 20)
                kvmap_set(m, k, kl, "plain", 5, KVMAP_KEEP_TTL, NOW);
        }
        struct kvmap_stats st;
        stats(m, &st);
        cr_assert_eq(st.used_memory, a.used);
    }
    for (unsigned i = 0; i < 500; i++) {
        size_t kl = mkkey(k, i);
        cr_assert_eq(kvmap_del(m, k, kl, NOW), 1, "key %u", i);
    }
    while (kvmap_rehash_slice(m, UINT64_MAX))
        ;
    struct kvmap_stats st;
    stats(m, &st);
    cr_assert_eq(st.keys, 0);
    cr_assert_eq(st.keys_with_ttl, 0);
    cr_assert_eq(st.used_memory, base);
    cr_assert_eq(a.used, base);
    cr_assert_eq(a.allocs - a.frees, base_blocks);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
    cr_assert_eq(a.allocs, a.frees);
}

/* 20,000 appends of 100 bytes: every byte checked, and the block is resized
 * only O(log n) times (greedy room), not once per append. */
Test(kvmap, many_appends_grow_geometrically)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    enum { N = 20000, CHUNK = 100 };
    unsigned char chunk[CHUNK];
    size_t n = 0;
    unsigned resizes = 0;
    int64_t last = a.used;
    for (unsigned i = 0; i < N; i++) {
        for (unsigned j = 0; j < CHUNK; j++)
            chunk[j] = (unsigned char)(i * 31 + j);
        memcpy(chunk, &i, sizeof i);
        cr_assert_eq(kvmap_append(m, "log", 3, chunk, CHUNK, NOW, &n), 0);
        cr_assert_eq(n, (size_t)(i + 1) * CHUNK);
        if (a.used != last) {
            resizes++;
            last = a.used;
        }
    }
    /* Doubling to 1 MB is ~14 steps from 100 bytes, then 1 MB steps. */
    cr_assert_leq(resizes, 24, "%u resizes for %d appends", resizes, N);
    struct kventry *e = kvmap_find(m, "log", 3, NOW);
    cr_assert_not_null(e);
    char buf[21];
    size_t vl;
    const unsigned char *v = (const unsigned char *)kventry_value(e, buf, &vl);
    cr_assert_eq(vl, (size_t)N * CHUNK);
    for (unsigned i = 0; i < N; i++) {
        for (unsigned j = 0; j < CHUNK; j++)
            chunk[j] = (unsigned char)(i * 31 + j);
        memcpy(chunk, &i, sizeof i);
        cr_assert_eq(memcmp(v + (size_t)i * CHUNK, chunk, CHUNK), 0, "chunk %u", i);
    }
    /* The spare room is bounded: at most 1 MB over the needed length,
     * before the allocator's own rounding (under 25% for large blocks). */
    cr_assert_lt(mem_usable(e), ((size_t)N * CHUNK + ((size_t)1 << 20)) * 5 / 4);
    /* A plain SET replaces it with a compact entry. */
    cr_assert_eq(kvmap_set(m, "log", 3, "short", 5, KVMAP_NO_EXPIRE, NOW), 0);
    cr_assert_lt(mem_usable(kvmap_find(m, "log", 3, NOW)), (size_t)64);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

/* Plain SETs keep the compact entry: a 16-byte key with a 32-byte value is
 * 59 bytes, jemalloc's 64-byte class (whatever malloc gives 59 otherwise). */
Test(kvmap, plain_set_entries_stay_compact)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    char k[32], v[32];
    size_t kl = mkkey(k, 7);
    cr_assert_eq(kl, 16);
    memset(v, 'v', sizeof v);
    cr_assert_eq(kvmap_set(m, k, kl, v, sizeof v, KVMAP_NO_EXPIRE, NOW), 1);
    struct kventry *e = kvmap_find(m, k, kl, NOW);
    void *ref = malloc(59);
    cr_assert_not_null(ref);
    cr_assert_eq(mem_usable(e), mem_usable(ref));
    free(ref);
    if (strncmp(mem_allocator_name(), "jemalloc", 8) == 0)
        cr_assert_eq(mem_usable(e), 64);
    /* Grown by APPEND, then SET again: compact again. */
    size_t n;
    cr_assert_eq(kvmap_append(m, k, kl, v, 1, NOW, &n), 0);
    cr_assert_gt(mem_usable(kvmap_find(m, k, kl, NOW)), 64, "no spare room after APPEND");
    cr_assert_eq(kvmap_set(m, k, kl, v, sizeof v, KVMAP_NO_EXPIRE, NOW), 0);
    e = kvmap_find(m, k, kl, NOW);
    ref = malloc(59);
    cr_assert_eq(mem_usable(e), mem_usable(ref));
    free(ref);
    /* SETRANGE inside a compact value edits it in place, no room added. */
    cr_assert_eq(kvmap_setrange(m, k, kl, 4, "XY", 2, NOW, &n), 0);
    cr_assert_eq(n, 32);
    cr_assert_eq(kvmap_find(m, k, kl, NOW), e, "moved without growing");
    memcpy(v + 4, "XY", 2);
    expect_bytes(m, k, kl, v, sizeof v);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
/* As enomem_leaves_the_map_unchanged, for growth in place. */
Test(kvmap, append_enomem_leaves_the_map_unchanged)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    const size_t big = (size_t)64 << 20;
    char *v = malloc(big);
    cr_assert_not_null(v);
    memset(v, 'x', big);
    size_t n;
    cr_assert_eq(kvmap_set(m, "k", 1, "old", 3, NOW + 100, NOW), 1);
    cr_assert_eq(kvmap_set_int(m, "i", 1, 1234567, KVMAP_NO_EXPIRE, NOW), 1);
    cr_assert_eq(kvmap_append(m, "g", 1, "grown", 5, NOW, &n), 0);
    cr_assert_eq(kvmap_append(m, "g", 1, "+", 1, NOW, &n), 0);
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%ld", &pages), 1);
    fclose(f);
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_AS, &rl), 0);
    rl.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)16 << 20);
    cr_assert(rl.rlim_max == RLIM_INFINITY || rl.rlim_cur <= rl.rlim_max);
    cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0);
    int64_t used = a.used;
    uint64_t fails = a.fails;
    cr_assert_eq(kvmap_append(m, "k", 1, v, big, NOW, &n), KVMAP_ENOMEM);
    cr_assert_eq(kvmap_append(m, "i", 1, v, big, NOW, &n), KVMAP_ENOMEM);
    cr_assert_eq(kvmap_append(m, "g", 1, v, big, NOW, &n), KVMAP_ENOMEM);
    cr_assert_eq(kvmap_append(m, "n", 1, v, big, NOW, &n), KVMAP_ENOMEM);
    cr_assert_eq(kvmap_setrange(m, "k", 1, big, "y", 1, NOW, &n), KVMAP_ENOMEM);
    cr_assert_eq(kvmap_setrange(m, "n", 1, big, "y", 1, NOW, &n), KVMAP_ENOMEM);
    cr_assert_gt(a.fails, fails);
    cr_assert_eq(a.used, used);
    cr_assert_eq(kvmap_count(m), 3);
    cr_assert_null(kvmap_find(m, "n", 1, NOW));
    expect_bytes(m, "k", 1, "old", 3);
    cr_assert_eq(kventry_expire(kvmap_find(m, "k", 1, NOW)), NOW + 100);
    int64_t iv;
    cr_assert(kventry_int(kvmap_find(m, "i", 1, NOW), &iv));
    cr_assert_eq(iv, 1234567);
    expect_bytes(m, "g", 1, "grown+", 6);
    free(v);
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}
#endif
