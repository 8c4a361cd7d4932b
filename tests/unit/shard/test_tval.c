/* test_tval.c — typed values held by map entries (shard/tval.h and the
 * typed parts of kvmap.h): the type tag, replacing a typed value with a
 * string and back, RENAME's O(1) hand-over (kvmap_take_tval), EXPIRE on a
 * typed entry that must move to a larger block, deep copies, and freeing:
 * every byte returns to the account, big hash tables only through the lazy
 * free queue, a slice at a time. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "shard/kvmap.h"
#include "shard/listpack.h"
#include "shard/tval.h"
#include "shard/zset.h"

static struct mem_acct acct;
static struct kvmap *m;

static void setup(void)
{
    memset(&acct, 0, sizeof acct);
    m = kvmap_create(&acct);
    cr_assert_not_null(m);
}

/* Every test frees what it made: the account must be back to zero. */
static void teardown(void)
{
    kvmap_destroy(m);
    while (tval_lazyfree_step(UINT64_MAX))
        ;
    cr_expect_eq(acct.used, 0, "%" PRId64 " bytes still charged", acct.used);
    cr_expect_eq(acct.allocs, acct.frees);
}

TestSuite(tval, .init = setup, .fini = teardown);

/* A small hash as a listpack of n field/value pairs. */
static struct tval *small_hash(int n)
{
    struct tval *tv = tval_new(&acct, TVAL_HASH, TVAL_ENC_LISTPACK);
    cr_assert_not_null(tv);
    tv->u.lp = listpack_create(&acct);
    cr_assert_not_null(tv->u.lp);
    for (int i = 0; i < n; i++) {
        char f[16], v[16];
        int fl = snprintf(f, sizeof f, "f%d", i), vl = snprintf(v, sizeof v, "v%d", i);
        cr_assert_eq(listpack_append(&acct, &tv->u.lp, f, (size_t)fl), 0);
        cr_assert_eq(listpack_append(&acct, &tv->u.lp, v, (size_t)vl), 0);
    }
    return tv;
}

/* A set as a nested hash table of n members. */
static struct tval *big_set(int n)
{
    struct tval *tv = tval_new(&acct, TVAL_SET, TVAL_ENC_HASHTABLE);
    cr_assert_not_null(tv);
    tv->u.ht = kvmap_create(&acct);
    cr_assert_not_null(tv->u.ht);
    for (int i = 0; i < n; i++) {
        char k[24];
        int kl = snprintf(k, sizeof k, "member:%d", i);
        cr_assert_eq(kvmap_set(tv->u.ht, k, (size_t)kl, "", 0, KVMAP_NO_EXPIRE, 0), 1);
    }
    return tv;
}

Test(tval, entry_carries_its_type)
{
    struct tval *tv = small_hash(3);
    cr_assert_eq(kvmap_set_tval(m, "h", 1, tv, KVMAP_NO_EXPIRE, 0), 1);
    struct kventry *e = kvmap_find(m, "h", 1, 0);
    cr_assert_not_null(e);
    cr_assert_eq(kventry_type(e), TVAL_HASH);
    cr_assert_eq(kventry_tval(e), tv);
    cr_assert_eq(tval_len(tv), 3);
    cr_assert_str_eq(tval_type_name(kventry_type(e)), "hash");
    cr_assert_str_eq(tval_enc_name(tv), "listpack");
    int64_t iv;
    cr_assert(!kventry_int(e, &iv), "a typed entry is no integer string");

    cr_assert_eq(kvmap_set(m, "s", 1, "1234567890", 10, KVMAP_NO_EXPIRE, 0), 1);
    e = kvmap_find(m, "s", 1, 0);
    cr_assert_eq(kventry_type(e), TVAL_STRING);
    cr_assert_null(kventry_tval(e));
}

Test(tval, string_operations_refuse_typed_values)
{
    cr_assert_eq(kvmap_set_tval(m, "h", 1, small_hash(1), KVMAP_NO_EXPIRE, 0), 1);
    int64_t out;
    size_t n;
    cr_assert_eq(kvmap_incrby(m, "h", 1, 1, 0, &out), KVMAP_EWRONGTYPE);
    cr_assert_eq(kvmap_append(m, "h", 1, "x", 1, 0, &n), KVMAP_EWRONGTYPE);
    cr_assert_eq(kvmap_setrange(m, "h", 1, 0, "x", 1, 0, &n), KVMAP_EWRONGTYPE);
    cr_assert_eq(kventry_type(kvmap_find(m, "h", 1, 0)), TVAL_HASH);
}

Test(tval, replacing_frees_the_old_value)
{
    int64_t base = acct.used;
    cr_assert_eq(kvmap_set_tval(m, "k", 1, small_hash(50), KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_gt(acct.used, base + 500, "the value is charged to the map's account");
    cr_assert_eq(kvmap_set(m, "k", 1, "v", 1, KVMAP_NO_EXPIRE, 0), 0);
    cr_assert_eq(kventry_type(kvmap_find(m, "k", 1, 0)), TVAL_STRING);
    cr_assert_eq(kvmap_set_tval(m, "k", 1, small_hash(2), KVMAP_NO_EXPIRE, 0), 0);
    cr_assert_eq(kvmap_del(m, "k", 1, 0), 1);
    cr_assert_eq(acct.used, base, "all returned: %" PRId64 " vs %" PRId64, acct.used, base);
}

Test(tval, take_hands_the_value_over)
{
    struct tval *tv = small_hash(4);
    cr_assert_eq(kvmap_set_tval(m, "src", 3, tv, 5000, 0), 1);
    struct kventry *e = kvmap_find(m, "src", 3, 0);
    /* RENAME's order: dst points at the value, then src lets it go. */
    cr_assert_eq(kvmap_set_tval(m, "dst", 3, kventry_tval(e), kventry_expire(e), 0), 1);
    cr_assert_eq(kvmap_take_tval(m, "src", 3, 0), tv);
    cr_assert_null(kvmap_find(m, "src", 3, 0));
    e = kvmap_find(m, "dst", 3, 0);
    cr_assert_eq(kventry_tval(e), tv);
    cr_assert_eq(kventry_expire(e), 5000);
    cr_assert_eq(tval_len(tv), 4, "the value survived the hand-over");
    cr_assert_null(kvmap_take_tval(m, "nope", 4, 0));
    cr_assert_eq(kvmap_set(m, "str", 3, "x", 1, KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_null(kvmap_take_tval(m, "str", 3, 0));
    cr_assert_not_null(kvmap_find(m, "str", 3, 0), "a string is left in place");
}

Test(tval, expire_that_moves_the_entry_keeps_the_value)
{
    struct tval *tv = small_hash(2);
    /* A 7-byte key: 9 + 2 + 7 + 8 = 26 bytes, a 32-byte block with 6 spare,
     * too few for the 8-byte expiry, so the entry is copied. */
    cr_assert_eq(kvmap_set_tval(m, "hashkey", 7, tv, KVMAP_NO_EXPIRE, 0), 1);
    struct kventry *e = kvmap_find(m, "hashkey", 7, 0);
    cr_assert_eq(kvmap_entry_set_expire(m, e, 123456), 0);
    e = kvmap_find(m, "hashkey", 7, 0);
    cr_assert_eq(kventry_tval(e), tv);
    cr_assert_eq(kventry_expire(e), 123456);
    cr_assert_eq(tval_len(tv), 2);
}

Test(tval, copy_is_deep)
{
    struct tval *a = big_set(300);
    struct tval *b = tval_copy(&acct, a);
    cr_assert_not_null(b);
    cr_assert_eq(tval_len(b), 300);
    cr_assert_neq(a->u.ht, b->u.ht);
    cr_assert_not_null(kvmap_find(b->u.ht, "member:299", 10, 0));
    tval_free(&acct, a);
    cr_assert_not_null(kvmap_find(b->u.ht, "member:0", 8, 0));
    struct tval *c = small_hash(3);
    struct tval *d = tval_copy(&acct, c);
    cr_assert_eq(tval_len(d), 3);
    cr_assert_neq(c->u.lp, d->u.lp);
    tval_free(&acct, c);
    tval_free(&acct, d);
    tval_free(&acct, b);
}

Test(tval, big_values_are_freed_in_slices)
{
    int64_t base = acct.used;
    cr_assert_eq(kvmap_set_tval(m, "big", 3, big_set(20000), KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_eq(kvmap_del(m, "big", 3, 0), 1);
    size_t values = 0;
    size_t pending = tval_lazyfree_pending(&values);
    cr_assert_eq(values, 1, "the big set waits in the queue");
    cr_assert_gt(pending, 20000 * 16, "and is still charged: %zu bytes", pending);
    cr_assert_gt(acct.used, base);
    /* A zero budget still frees one slice per call, so it finishes. */
    unsigned steps = 0;
    while (tval_lazyfree_step(0))
        steps++;
    cr_assert_gt(steps, 10, "freed in slices, not at once (%u steps)", steps);
    cr_assert_eq(acct.used, base);
    cr_assert_eq(tval_lazyfree_pending(&values), 0);
    cr_assert_eq(values, 0);
}

Test(tval, small_values_are_freed_at_once)
{
    int64_t base = acct.used;
    cr_assert_eq(kvmap_set_tval(m, "s", 1, big_set(TVAL_LAZYFREE_MIN), KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_eq(kvmap_del(m, "s", 1, 0), 1);
    size_t values = 9;
    tval_lazyfree_pending(&values);
    cr_assert_eq(values, 0);
    cr_assert_eq(acct.used, base);
}

Test(tval, clearing_a_map_frees_its_values)
{
    int64_t base = acct.used;
    for (int i = 0; i < 20; i++) {
        char k[8];
        int kl = snprintf(k, sizeof k, "k%d", i);
        struct tval *tv = (i % 2) ? small_hash(i) : big_set(i * 10);
        cr_assert_eq(kvmap_set_tval(m, k, (size_t)kl, tv, KVMAP_NO_EXPIRE, 0), 1);
    }
    kvmap_clear(m);
    while (tval_lazyfree_step(UINT64_MAX))
        ;
    cr_assert_eq(kvmap_count(m), 0);
    cr_assert_leq(acct.used, base, "clear returned every value");
}

Test(tval, limits_round_trip)
{
    struct tval_limits old, l, got;
    tval_limits_get(&old);
    cr_assert_eq(old.hash_max_listpack_entries, 512);
    cr_assert_eq(old.set_max_intset_entries, 512);
    l = old;
    l.hash_max_listpack_value = 7;
    l.set_max_listpack_entries = 3;
    tval_limits_set(&l);
    tval_limits_get(&got);
    cr_assert_eq(got.hash_max_listpack_value, 7);
    cr_assert_eq(got.set_max_listpack_entries, 3);
    tval_limits_set(&old);
}

/* A container's table grows at load factor 2 (the key map at 1): half the
 * bucket bytes per element, which the memory targets count on. */
Test(tval, container_tables_are_dense)
{
    struct kvmap *dense = tval_table_new(&acct), *keys = kvmap_create(&acct);
    char k[16];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(k, sizeof k, "%d", i);
        cr_assert_geq(kvmap_set(dense, k, (size_t)n, "", 0, KVMAP_NO_EXPIRE, 0), 0);
        cr_assert_geq(kvmap_set(keys, k, (size_t)n, "", 0, KVMAP_NO_EXPIRE, 0), 0);
    }
    while (kvmap_rehash_slice(dense, 1000000000) || kvmap_rehash_slice(keys, 1000000000))
        ;
    struct kvmap_stats d, s;
    kvmap_stats(dense, &d);
    kvmap_stats(keys, &s);
    cr_assert_eq(d.buckets, 2048, "3000 elements at most 2 per bucket: %" PRIu64, d.buckets);
    cr_assert_eq(s.buckets, 4096, "the key map keeps load factor 1: %" PRIu64, s.buckets);
    kvmap_destroy(dense);
    kvmap_destroy(keys);
}

/* A sorted set of n members, in the tree encoding above the thresholds. */
static struct tval *big_zset(int n)
{
    static const struct zset_limits lim = {128, 64};
    struct tval *tv = zset_create(&acct, &lim, (size_t)n, 0);
    cr_assert_not_null(tv);
    for (int i = 0; i < n; i++) {
        char k[24];
        int kl = snprintf(k, sizeof k, "member:%d", i), out;
        cr_assert_eq(zset_add(&acct, tv, &lim, k, (size_t)kl, i * 0.5, 0, &out, NULL), 0);
    }
    return tv;
}

Test(tval, sorted_sets_share_the_typed_value_operations)
{
    struct tval *z = big_zset(5000);
    cr_assert_eq(z->type, TVAL_ZSET);
    cr_assert_eq(z->enc, TVAL_ENC_SKIPLIST);
    cr_assert_str_eq(tval_enc_name(z), "skiplist");
    cr_assert_str_eq(tval_type_name(z->type), "zset");
    cr_assert_eq(tval_len(z), 5000);
    cr_assert_gt(tval_bytes(z), 5000 * 16);
    struct tval *c = tval_copy(&acct, z);
    cr_assert_not_null(c);
    cr_assert_eq(tval_len(c), 5000);
    cr_assert_eq(c->enc, TVAL_ENC_SKIPLIST);
    tval_free(&acct, c); /* queued: it is big */
    while (tval_lazyfree_step(UINT64_MAX))
        ;
    struct tval *small = big_zset(3);
    cr_assert_eq(small->enc, TVAL_ENC_LISTPACK);
    cr_assert_str_eq(tval_enc_name(small), "listpack");
    cr_assert_eq(tval_len(small), 3);
    struct tval *sc = tval_copy(&acct, small);
    cr_assert_eq(tval_len(sc), 3);
    tval_free(&acct, sc);
    tval_free(&acct, small);
    /* A big one leaves the map in O(1) and is freed a slice at a time. */
    int64_t base = acct.used - (int64_t)tval_bytes(z);
    cr_assert_eq(kvmap_set_tval(m, "z", 1, z, KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_eq(kvmap_del(m, "z", 1, 0), 1);
    size_t values = 0;
    cr_assert_gt(tval_lazyfree_pending(&values), 0);
    cr_assert_eq(values, 1);
    unsigned steps = 0;
    while (tval_lazyfree_step(0))
        steps++;
    cr_assert_gt(steps, 3, "freed in slices (%u steps)", steps);
    cr_assert_leq(acct.used, base + 64);
    tval_lazyfree_pending(&values);
    cr_assert_eq(values, 0);
}
