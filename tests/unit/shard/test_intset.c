/* test_intset.c — shard/intset.c: sorted insert, the width upgrade at every
 * 16/32/64-bit boundary (new value first or last), no downgrade on remove,
 * find of values wider than the set, random edits against a model,
 * validation of hand-made, truncated and corrupted blobs, and blobs written
 * by a real redis-server 7.0 (tests/fixtures/intset, see
 * make-listpack-fixtures.py) compared byte for byte with ours. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "shard/intset.h"

static struct mem_acct acct;

static void setup(void)
{
    memset(&acct, 0, sizeof acct);
}

/* Every test frees what it made: the account must be back to zero. */
static void teardown(void)
{
    cr_expect_eq(acct.used, 0, "%" PRId64 " bytes still charged", acct.used);
    cr_expect_eq(acct.allocs, acct.frees);
}

TestSuite(intset, .init = setup, .fini = teardown);

static unsigned char *is_new(void)
{
    unsigned char *is = intset_create(&acct);
    cr_assert_not_null(is);
    return is;
}

static bool add(unsigned char **is, int64_t v)
{
    bool added;
    cr_assert_eq(intset_add(&acct, is, v, &added), 0);
    return added;
}

static unsigned char *fixture(const char *name, size_t *len)
{
    char path[4096];
    const char *f = __FILE__;
    const char *cut = strstr(f, "tests/unit/shard/test_intset.c");
    cr_assert_not_null(cut, "cannot locate the repository from %s", f);
    snprintf(path, sizeof path, "%.*stests/fixtures/intset/%s", (int)(cut - f), f, name);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "fixture %s missing", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* The elements in order, checked ascending, into out[]; returns the count. */
static uint32_t elements(const unsigned char *is, int64_t *out, uint32_t cap)
{
    uint32_t n = intset_len(is);
    cr_assert_leq(n, cap);
    for (uint32_t i = 0; i < n; i++) {
        cr_assert(intset_get(is, i, &out[i]));
        if (i)
            cr_assert_gt(out[i], out[i - 1]);
    }
    int64_t dummy;
    cr_assert_not(intset_get(is, n, &dummy));
    cr_assert_eq(intset_blob_size(is), INTSET_HDR_SIZE + (size_t)n * intset_encoding(is));
    return n;
}

Test(intset, empty)
{
    unsigned char *is = is_new();
    static const unsigned char want[] = {2, 0, 0, 0, 0, 0, 0, 0};
    cr_expect_eq(memcmp(is, want, sizeof want), 0);
    cr_expect_eq(intset_len(is), 0);
    cr_expect_eq(intset_blob_size(is), 8);
    cr_expect_not(intset_find(is, 0));
    bool removed = true;
    intset_remove(&acct, &is, 0, &removed);
    cr_expect_not(removed);
    /* Redis refuses an empty intset from a file. */
    cr_expect_eq(intset_validate(is, 8, true), INTSET_ECORRUPT);
    intset_destroy(&acct, is);
}

Test(intset, sorted_insert_and_duplicates)
{
    unsigned char *is = is_new();
    static const int64_t in[] = {5, 3, 9, 1, -5, 9, 3, 0};
    static const bool fresh[] = {true, true, true, true, true, false, false, true};
    for (size_t i = 0; i < 8; i++)
        cr_expect_eq(add(&is, in[i]), fresh[i], "add %" PRId64, in[i]);
    int64_t got[16];
    cr_assert_eq(elements(is, got, 16), 6);
    static const int64_t want[] = {-5, 0, 1, 3, 5, 9};
    cr_expect_eq(memcmp(got, want, sizeof want), 0);
    cr_expect_eq(intset_encoding(is), 2);
    for (size_t i = 0; i < 6; i++)
        cr_expect(intset_find(is, want[i]));
    cr_expect_not(intset_find(is, 2));
    cr_expect_not(intset_find(is, 100000));    /* wider than the set */
    cr_expect_not(intset_find(is, INT64_MIN)); /* wider than the set */
    intset_destroy(&acct, is);
}

/* Adding v to {1} gives this encoding, and v lands first or last. */
struct width_case {
    int64_t v;
    uint32_t enc;
};

Test(intset, width_upgrade_at_every_boundary)
{
    static const struct width_case cases[] = {
        {INT16_MAX, 2}, {(int64_t)INT16_MAX + 1, 4},
        {INT16_MIN, 2}, {(int64_t)INT16_MIN - 1, 4},
        {INT32_MAX, 4}, {(int64_t)INT32_MAX + 1, 8},
        {INT32_MIN, 4}, {(int64_t)INT32_MIN - 1, 8},
        {INT64_MAX, 8}, {INT64_MIN, 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char *is = is_new();
        add(&is, 1);
        add(&is, -1);
        cr_assert(add(&is, cases[i].v));
        cr_expect_eq(intset_encoding(is), cases[i].enc, "%" PRId64, cases[i].v);
        int64_t got[4];
        cr_assert_eq(elements(is, got, 4), 3);
        /* the old elements survive the widening */
        cr_expect(intset_find(is, 1) && intset_find(is, -1) && intset_find(is, cases[i].v));
        cr_expect_eq(cases[i].v < 0 ? got[0] : got[2], cases[i].v);
        cr_expect_eq(intset_validate(is, intset_blob_size(is), true), 0);
        intset_destroy(&acct, is);
    }
}

Test(intset, remove_never_narrows)
{
    unsigned char *is = is_new();
    add(&is, 1);
    add(&is, 2);
    add(&is, 5000000000);
    bool removed;
    intset_remove(&acct, &is, 5000000000, &removed);
    cr_expect(removed);
    intset_remove(&acct, &is, 5000000000, &removed);
    cr_expect_not(removed);
    intset_remove(&acct, &is, 3, &removed);
    cr_expect_not(removed);
    cr_expect_eq(intset_encoding(is), 8);
    cr_expect_eq(intset_len(is), 2);
    cr_expect_eq(intset_blob_size(is), 24);
    intset_destroy(&acct, is);
}

/* Each Redis recipe (SADD, then SREM) in make-listpack-fixtures.py. */
struct golden {
    const char *file;
    int64_t add[8];
    size_t nadd;
    int64_t rem[2];
    size_t nrem;
};

static const struct golden goldens[] = {
    {"intset-16.bin", {5, 3, 9, 1, -5, 32767, -32768}, 7, {0}, 0},
    {"intset-32.bin", {1, 2, 70000, -70000, 32768, -32769}, 6, {0}, 0},
    {"intset-64.bin", {1, 5000000000, INT64_MIN, INT64_MAX}, 4, {0}, 0},
    {"intset-64-after-srem.bin", {1, 2, 5000000000}, 3, {5000000000}, 1},
};

Test(intset, golden_redis7_bytes)
{
    for (size_t g = 0; g < sizeof goldens / sizeof goldens[0]; g++) {
        const struct golden *c = &goldens[g];
        size_t len;
        unsigned char *blob = fixture(c->file, &len);
        cr_assert_eq(intset_validate(blob, len, true), 0, "%s", c->file);
        unsigned char *is = is_new();
        for (size_t i = 0; i < c->nadd; i++)
            add(&is, c->add[i]);
        for (size_t i = 0; i < c->nrem; i++)
            intset_remove(&acct, &is, c->rem[i], NULL);
        cr_assert_eq(intset_blob_size(is), len, "%s", c->file);
        for (size_t i = 0; i < len; i++)
            cr_assert_eq(is[i], blob[i], "%s: byte %zu is %02x, Redis wrote %02x", c->file, i,
                         is[i], blob[i]);
        /* And Redis's blob, taken as-is, answers the same. */
        unsigned char *theirs = intset_create_from(&acct, blob, len);
        cr_assert_not_null(theirs);
        for (size_t i = 0; i < c->nadd; i++)
            cr_expect_eq(intset_find(theirs, c->add[i]), intset_find(is, c->add[i]));
        intset_destroy(&acct, theirs);
        intset_destroy(&acct, is);
        free(blob);
    }
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Mostly small values (many duplicates), sometimes wide ones. */
static int64_t random_value(void)
{
    switch (rnd() % 8) {
    case 0:
        return (int64_t)rnd();
    case 1:
        return (int64_t)(rnd() % 200000) - 100000;
    case 2:
        return (int64_t)(rnd() % 10000000000ULL) - 5000000000LL;
    default:
        return (int64_t)(rnd() % 64) - 32;
    }
}

Test(intset, random_edits_match_a_model)
{
    enum { MAX = 400 };
    int64_t model[MAX], got[MAX];
    uint32_t n = 0;
    for (int run = 0; run < 20; run++) {
        rng_state = 0x243f6a8885a308d3ULL + (uint64_t)run;
        unsigned char *is = is_new();
        n = 0;
        for (int step = 0; step < 600; step++) {
            int64_t v = random_value();
            uint32_t at = 0;
            while (at < n && model[at] < v)
                at++;
            bool present = at < n && model[at] == v;
            bool adding = rnd() % 3 && n < MAX;
            if (adding) {
                cr_assert_eq(add(&is, v), !present, "run %d step %d", run, step);
                if (!present) {
                    memmove(model + at + 1, model + at, (n - at) * sizeof model[0]);
                    model[at] = v;
                    n++;
                }
            } else {
                bool removed;
                intset_remove(&acct, &is, v, &removed);
                cr_assert_eq(removed, present);
                if (present) {
                    memmove(model + at, model + at + 1, (n - at - 1) * sizeof model[0]);
                    n--;
                }
            }
            cr_assert_eq(elements(is, got, MAX), n);
            cr_assert_eq(memcmp(got, model, n * sizeof model[0]), 0, "run %d step %d", run, step);
            cr_assert_eq(intset_find(is, v), adding);
            if (n)
                cr_assert_eq(intset_validate(is, intset_blob_size(is), true), 0);
        }
        intset_destroy(&acct, is);
    }
}

struct bad_case {
    const char *why;
    unsigned char b[24];
    size_t len;
};

#define B(why, ...)                                                                                \
    {                                                                                              \
        why, {__VA_ARGS__}, sizeof((unsigned char[]){__VA_ARGS__})                                 \
    }

static const struct bad_case bad_cases[] = {
    B("shorter than a header", 2, 0, 0, 0, 1, 0, 0),
    B("encoding 0", 0, 0, 0, 0, 1, 0, 0, 0, 1, 0),
    B("encoding 3", 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0),
    B("encoding 16", 16, 0, 0, 0, 1, 0, 0, 0, 1, 0),
    B("empty", 2, 0, 0, 0, 0, 0, 0, 0),
    B("length 2, one element", 2, 0, 0, 0, 2, 0, 0, 0, 1, 0),
    B("length 1, two elements", 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 2, 0),
    B("length 2^31 (overflow bait)", 2, 0, 0, 0, 0, 0, 0, 0x80, 1, 0),
    B("duplicate", 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1, 0),
    B("descending", 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0),
    B("negative after positive", 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0xff, 0xff),
    B("32-bit descending", 4, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff, 0, 0),
};

Test(intset, validate_rejects_hand_made_blobs)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        unsigned char *copy = malloc(c->len);
        cr_assert_not_null(copy);
        memcpy(copy, c->b, c->len);
        cr_expect_eq(intset_validate(copy, c->len, true), INTSET_ECORRUPT, "%s", c->why);
        free(copy);
    }
    /* Shallow validation does not look at the order. */
    static const unsigned char desc[] = {2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0};
    cr_expect_eq(intset_validate(desc, sizeof desc, false), 0);
    cr_expect_eq(intset_validate(desc, sizeof desc, true), INTSET_ECORRUPT);
    /* A wide encoding for small values is fine (left by SREM). */
    static const unsigned char wide[] = {8, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0};
    cr_expect_eq(intset_validate(wide, sizeof wide, true), 0);
    cr_expect_str_eq(intset_strerror(INTSET_ECORRUPT), "invalid intset");
}

Test(intset, validate_every_truncation_and_corruption)
{
    for (size_t g = 0; g < sizeof goldens / sizeof goldens[0]; g++) {
        size_t len;
        unsigned char *blob = fixture(goldens[g].file, &len);
        for (size_t cut = 0; cut < len; cut++) {
            unsigned char *m = malloc(cut ? cut : 1);
            cr_assert_not_null(m);
            memcpy(m, blob, cut);
            cr_expect_eq(intset_validate(m, cut, true), INTSET_ECORRUPT, "%s cut %zu",
                         goldens[g].file, cut);
            free(m);
        }
        unsigned char *m = malloc(len);
        cr_assert_not_null(m);
        for (size_t i = 0; i < len; i++) {
            for (unsigned v = 0; v < 256; v++) {
                memcpy(m, blob, len);
                m[i] = (unsigned char)v;
                if (intset_validate(m, len, true) != 0)
                    continue;
                /* Accepted: it really is sorted and every element is found. */
                int64_t got[16];
                uint32_t n = elements(m, got, 16);
                for (uint32_t k = 0; k < n; k++)
                    cr_assert(intset_find(m, got[k]));
            }
        }
        free(m);
        free(blob);
    }
}
