/* test_thash.c — shard/thash.c: set/get/delete in both encodings, the
 * listpack -> hash table conversion at each threshold (field count, field
 * length, value length, and after the thresholds change), a big hash grown
 * and emptied, HSCAN's cursor covering every field, HRANDFIELD's sampling
 * (distinct fields, repetitions, bounded memory), and every byte returned
 * to the account after free. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "shard/thash.h"
#include "shard/tval.h"

static struct mem_acct acct;
static struct tval_limits saved;

static void setup(void)
{
    memset(&acct, 0, sizeof acct);
    tval_limits_get(&saved);
}

/* Every test frees what it made: the account must be back to zero. */
static void teardown(void)
{
    tval_limits_set(&saved);
    while (tval_lazyfree_step(1000000000))
        ;
    cr_expect_eq(acct.used, 0, "%" PRId64 " bytes still charged", acct.used);
    cr_expect_eq(acct.allocs, acct.frees);
}

TestSuite(thash, .init = setup, .fini = teardown);

static void set_limits(uint32_t entries, uint32_t value)
{
    struct tval_limits l = saved;
    l.hash_max_listpack_entries = entries;
    l.hash_max_listpack_value = value;
    tval_limits_set(&l);
}

static struct tval *mk(void)
{
    struct tval *tv = thash_create(&acct);
    cr_assert_not_null(tv);
    cr_assert_eq(tv->type, TVAL_HASH);
    cr_assert_eq(tv->enc, TVAL_ENC_LISTPACK);
    return tv;
}

static int hset(struct tval *tv, const char *f, const char *v)
{
    return thash_set(&acct, tv, f, strlen(f), v, strlen(v));
}

/* The value of f as a NUL-terminated string in out, or false. */
static bool hget(struct tval *tv, const char *f, char *out, size_t cap)
{
    char buf[THASH_NUMBUF];
    struct thash_str v;
    if (!thash_get(tv, f, strlen(f), buf, &v))
        return false;
    cr_assert_lt(v.len, cap);
    memcpy(out, v.ptr, v.len);
    out[v.len] = '\0';
    return true;
}

static void expect_value(struct tval *tv, const char *f, const char *want)
{
    char got[256];
    cr_assert(hget(tv, f, got, sizeof got), "field %s missing", f);
    cr_expect_str_eq(got, want, "field %s", f);
}

/* Fill with n fields "f<i>" -> "v<i>". */
static void fill(struct tval *tv, int from, int n)
{
    char f[32], v[32];
    for (int i = from; i < from + n; i++) {
        snprintf(f, sizeof f, "f%d", i);
        snprintf(v, sizeof v, "v%d", i);
        cr_assert_eq(hset(tv, f, v), 1, "field %s", f);
    }
}

Test(thash, set_get_del_listpack)
{
    struct tval *tv = mk();
    cr_expect_eq(hset(tv, "a", "1"), 1);
    cr_expect_eq(hset(tv, "b", "hello"), 1);
    cr_expect_eq(hset(tv, "a", "-12345678901"), 0); /* update, integer text */
    cr_expect_eq(hset(tv, "", ""), 1);             /* empty field and value */
    cr_expect_eq(thash_len(tv), 3);
    expect_value(tv, "a", "-12345678901");
    expect_value(tv, "b", "hello");
    expect_value(tv, "", "");
    char out[8];
    cr_expect_not(hget(tv, "c", out, sizeof out));
    /* A field equal to a value must not be found through the value. */
    cr_expect_not(thash_exists(tv, "hello", 5));
    cr_expect(thash_exists(tv, "b", 1));
    cr_expect_eq(thash_del(&acct, tv, "hello", 5), 0);
    cr_expect_eq(thash_del(&acct, tv, "a", 1), 1);
    cr_expect_eq(thash_del(&acct, tv, "a", 1), 0);
    cr_expect_eq(thash_len(tv), 2);
    expect_value(tv, "b", "hello");
    cr_expect_eq(tv->enc, TVAL_ENC_LISTPACK);
    tval_free(&acct, tv);
}

Test(thash, converts_above_entries)
{
    set_limits(4, 64);
    struct tval *tv = mk();
    fill(tv, 0, 4);
    cr_expect_eq(tv->enc, TVAL_ENC_LISTPACK, "4 fields is at the threshold, not over");
    cr_expect_eq(hset(tv, "f0", "again"), 0);
    cr_expect_eq(tv->enc, TVAL_ENC_LISTPACK, "an update adds no field");
    fill(tv, 4, 1);
    cr_expect_eq(tv->enc, TVAL_ENC_HASHTABLE);
    cr_expect_eq(thash_len(tv), 5);
    expect_value(tv, "f0", "again");
    expect_value(tv, "f4", "v4");
    /* Never back, even when emptied below the threshold. */
    for (int i = 0; i < 4; i++) {
        char f[8];
        snprintf(f, sizeof f, "f%d", i);
        cr_expect_eq(thash_del(&acct, tv, f, strlen(f)), 1);
    }
    cr_expect_eq(tv->enc, TVAL_ENC_HASHTABLE);
    cr_expect_eq(thash_len(tv), 1);
    tval_free(&acct, tv);
}

Test(thash, converts_on_long_field_or_value)
{
    set_limits(128, 8);
    char eight[] = "12345678", nine[] = "123456789";
    struct tval *tv = mk();
    cr_expect_eq(hset(tv, eight, eight), 1);
    cr_expect_eq(tv->enc, TVAL_ENC_LISTPACK, "8 bytes is at the limit, not over");
    cr_expect_eq(hset(tv, "x", nine), 1);
    cr_expect_eq(tv->enc, TVAL_ENC_HASHTABLE, "a 9-byte value converts");
    expect_value(tv, eight, eight);
    expect_value(tv, "x", nine);
    tval_free(&acct, tv);

    tv = mk();
    cr_expect_eq(hset(tv, nine, "v"), 1);
    cr_expect_eq(tv->enc, TVAL_ENC_HASHTABLE, "a 9-byte field converts");
    tval_free(&acct, tv);

    /* An update to a long value converts too (HINCRBYFLOAT's case). */
    tv = mk();
    cr_expect_eq(hset(tv, "f", "1"), 1);
    cr_expect_eq(hset(tv, "f", nine), 0);
    cr_expect_eq(tv->enc, TVAL_ENC_HASHTABLE);
    expect_value(tv, "f", nine);
    tval_free(&acct, tv);
}

Test(thash, prepare_converts_before_a_multi_set)
{
    set_limits(128, 8);
    struct tval *tv = mk();
    fill(tv, 0, 3);
    cr_expect_eq(thash_prepare(&acct, tv, 8, 100), 0);
    cr_expect_eq(tv->enc, TVAL_ENC_LISTPACK);
    cr_expect_eq(thash_prepare(&acct, tv, 9, 9), 0);
    cr_expect_eq(tv->enc, TVAL_ENC_HASHTABLE);
    for (int i = 0; i < 3; i++) {
        char f[8], v[8];
        snprintf(f, sizeof f, "f%d", i);
        snprintf(v, sizeof v, "v%d", i);
        expect_value(tv, f, v);
    }
    tval_free(&acct, tv);

    /* The 1 GiB safety bound, checked without allocating it. */
    tv = mk();
    cr_expect_eq(thash_prepare(&acct, tv, 1, THASH_LISTPACK_SAFE_BYTES), 0);
    cr_expect_eq(tv->enc, TVAL_ENC_HASHTABLE);
    tval_free(&acct, tv);
}

Test(thash, thresholds_changed_at_run_time)
{
    struct tval *tv = mk();
    fill(tv, 0, 10);
    cr_expect_eq(tv->enc, TVAL_ENC_LISTPACK);
    set_limits(5, 64);
    /* A delete does not convert; the next set does, an update too (as
     * Redis's hashTypeSet). */
    cr_expect_eq(thash_del(&acct, tv, "f9", 2), 1);
    cr_expect_eq(tv->enc, TVAL_ENC_LISTPACK);
    cr_expect_eq(hset(tv, "f0", "new"), 0);
    cr_expect_eq(tv->enc, TVAL_ENC_HASHTABLE);
    fill(tv, 10, 1);
    cr_expect_eq(thash_len(tv), 10);
    expect_value(tv, "f0", "new");
    tval_free(&acct, tv);
}

/* Collects visited pairs into a string set (checks exactly-once). */
struct seen {
    char (*f)[16]; /* field names seen */
    int n;         /* how many */
    int cap;       /* room */
};

static void seen_add(void *arg, const struct thash_str *f, const struct thash_str *v)
{
    struct seen *s = arg;
    cr_assert_lt(s->n, s->cap);
    cr_assert_lt(f->len, 16);
    /* Value is "v" + the field's digits. */
    cr_assert_eq(v->len, f->len);
    cr_assert_eq(memcmp(v->ptr + 1, f->ptr + 1, f->len - 1), 0);
    memcpy(s->f[s->n], f->ptr, f->len);
    s->f[s->n][f->len] = '\0';
    s->n++;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Sort s's fields and check they are n distinct ones of "f0".."f<total-1>". */
static void expect_distinct(struct seen *s, int n)
{
    cr_assert_eq(s->n, n);
    qsort(s->f, (size_t)s->n, sizeof s->f[0], str_cmp);
    for (int i = 1; i < s->n; i++)
        cr_assert_neq(strcmp(s->f[i - 1], s->f[i]), 0, "%s twice", s->f[i]);
}

Test(thash, big_hash_grows_scans_and_empties)
{
    enum { N = 100000 };
    struct tval *tv = mk();
    fill(tv, 0, N);
    cr_expect_eq(tv->enc, TVAL_ENC_HASHTABLE);
    cr_expect_eq(thash_len(tv), N);
    expect_value(tv, "f0", "v0");
    expect_value(tv, "f99999", "v99999");

    struct seen s = {calloc(N, 16), 0, N};
    thash_foreach(tv, seen_add, &s);
    expect_distinct(&s, N);

    /* HSCAN with COUNT 100 from cursor 0 until 0: every field, and (the
     * table not resizing meanwhile) each exactly once. */
    s.n = 0;
    uint64_t cur = 0;
    int calls = 0;
    do {
        cur = thash_scan(tv, cur, 100, seen_add, &s);
        calls++;
    } while (cur);
    expect_distinct(&s, N);
    cr_expect_gt(calls, N / 1000, "COUNT bounds each call");

    for (int i = 0; i < N; i += 2) {
        char f[16];
        snprintf(f, sizeof f, "f%d", i);
        cr_assert_eq(thash_del(&acct, tv, f, strlen(f)), 1);
    }
    cr_expect_eq(thash_len(tv), N / 2);
    cr_expect_not(thash_exists(tv, "f0", 2));
    expect_value(tv, "f1", "v1");
    free(s.f);
    tval_free(&acct, tv); /* queued for the lazy free: teardown drains it */
}

Test(thash, scan_listpack_is_whole)
{
    struct tval *tv = mk();
    fill(tv, 0, 50);
    struct seen s = {calloc(50, 16), 0, 50};
    cr_expect_eq(thash_scan(tv, 12345, 1, seen_add, &s), 0);
    expect_distinct(&s, 50);
    free(s.f);
    tval_free(&acct, tv);
}

static void count_visit(void *arg, const struct thash_str *f, const struct thash_str *v)
{
    (void)f;
    (void)v;
    (*(uint64_t *)arg)++;
}

/* Random sampling in both encodings. */
static void check_random(struct tval *tv, int size)
{
    struct seen s = {calloc((size_t)size, 16), 0, size};
    for (int n = 1; n < size; n = n * 3 + 1) {
        s.n = 0;
        cr_assert_eq(thash_random_unique(&acct, tv, (uint64_t)n, seen_add, &s), 0);
        expect_distinct(&s, n);
    }
    s.n = 0;
    cr_assert_eq(thash_random_unique(&acct, tv, (uint64_t)size + 5, seen_add, &s), 0);
    expect_distinct(&s, size);
    free(s.f);

    /* Repetitions: exactly n visits, each a real pair (seen_add checks). */
    struct seen r = {calloc(5000, 16), 0, 5000};
    thash_random_many(tv, 5000, seen_add, &r);
    cr_expect_eq(r.n, 5000);
    /* With 5000 draws every field of a small hash shows up. */
    qsort(r.f, 5000, 16, str_cmp);
    int distinct = 1;
    for (int i = 1; i < 5000; i++)
        distinct += strcmp(r.f[i - 1], r.f[i]) != 0;
    if (size <= 100)
        cr_expect_eq(distinct, size);
    free(r.f);
    uint64_t one = 0;
    thash_random(tv, count_visit, &one);
    cr_expect_eq(one, 1);
}

Test(thash, random_listpack)
{
    struct tval *tv = mk();
    fill(tv, 0, 40);
    check_random(tv, 40);
    tval_free(&acct, tv);
}

Test(thash, random_hashtable)
{
    struct tval *tv = mk();
    fill(tv, 0, 3000);
    cr_assert_eq(tv->enc, TVAL_ENC_HASHTABLE);
    check_random(tv, 3000);
    tval_free(&acct, tv);
    tv = mk();
    fill(tv, 0, 600);
    check_random(tv, 600);
    tval_free(&acct, tv);
}

Test(thash, random_many_huge_count_is_streamed)
{
    /* A billion picks would need gigabytes if collected first; visiting
     * a few million proves the memory is a fixed batch. */
    struct tval *tv = mk();
    fill(tv, 0, 3);
    int64_t before = acct.used;
    uint64_t n = 0;
    thash_random_many(tv, 3000000, count_visit, &n);
    cr_expect_eq(n, 3000000);
    cr_expect_eq(acct.used, before);
    tval_free(&acct, tv);
}

Test(thash, memory_returned_after_free)
{
    struct tval *tv = mk();
    cr_expect_gt(acct.used, 0);
    fill(tv, 0, 1000);
    cr_expect_eq(tv->enc, TVAL_ENC_HASHTABLE);
    cr_expect_gt(acct.used, 1000 * 16);
    cr_expect_eq(tval_bytes(tv) > 0, true);
    tval_free(&acct, tv);
    while (tval_lazyfree_step(1000000000))
        ;
    cr_expect_eq(acct.used, 0);
    /* Copies are charged and freed the same way. */
    tv = mk();
    fill(tv, 0, 10);
    struct tval *cp = tval_copy(&acct, tv);
    cr_assert_not_null(cp);
    expect_value(cp, "f3", "v3");
    tval_free(&acct, tv);
    tval_free(&acct, cp);
    cr_expect_eq(acct.used, 0);
}
