/* test_hist.c — shardkv-bench's log-linear histogram: bucket boundaries,
 * the 1/128 precision bound over the whole range, percentiles by nearest
 * rank, merging, and values beyond the range. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "client/hist.h"

Test(hist, buckets_are_exact_below_256)
{
    for (uint64_t v = 0; v < 256; v++) {
        cr_assert_eq(hist_index(v), v);
        cr_assert_eq(hist_bucket_top(hist_index(v)), v);
    }
    /* 256..511 in steps of 2, 512..1023 in steps of 4. */
    cr_assert_eq(hist_index(256), hist_index(257));
    cr_assert_neq(hist_index(257), hist_index(258));
    cr_assert_eq(hist_bucket_top(hist_index(256)), 257);
    cr_assert_eq(hist_bucket_top(hist_index(1023)), 1023);
    cr_assert_eq(hist_bucket_top(hist_index(1020)), 1023);
}

Test(hist, relative_error_bound)
{
    /* Every value lies in its bucket and the bucket is narrow. */
    uint64_t v = 1;
    while (v < ((uint64_t)1 << 40)) {
        unsigned i = hist_index(v);
        cr_assert_lt(i, HIST_BUCKETS);
        uint64_t top = hist_bucket_top(i);
        cr_assert_geq(top, v, "v %llu top %llu", (unsigned long long)v, (unsigned long long)top);
        cr_assert_leq((double)(top - v), (double)v / 128.0 + 1, "v %llu", (unsigned long long)v);
        if (i > 0)
            cr_assert_lt(hist_bucket_top(i - 1), v, "v %llu", (unsigned long long)v);
        v = v * 3 / 2 + 1;
    }
    /* Beyond the range: counted in the last bucket, never out of bounds. */
    cr_assert_eq(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
}

Test(hist, percentiles_nearest_rank)
{
    struct hist *h = malloc(sizeof(*h));
    hist_init(h);
    cr_assert_eq(hist_percentile(h, 50), 0);
    for (uint64_t v = 1; v <= 100; v++)
        hist_record(h, v);
    cr_assert_eq(h->total, 100);
    cr_assert_eq(hist_percentile(h, 50), 50);
    cr_assert_eq(hist_percentile(h, 90), 90);
    cr_assert_eq(hist_percentile(h, 99), 99);
    cr_assert_eq(hist_percentile(h, 99.9), 100);
    cr_assert_eq(hist_percentile(h, 100), 100);
    cr_assert_eq(hist_percentile(h, 0), 1);
    cr_assert_eq(h->min, 1);

    /* One slow outlier among fast values: max exact, p50 unaffected. */
    hist_init(h);
    for (int i = 0; i < 999; i++)
        hist_record(h, 1000);
    hist_record(h, 123456789);
    cr_assert_eq(h->max, 123456789);
    uint64_t p50 = hist_percentile(h, 50);
    cr_assert(p50 >= 1000 && p50 <= 1000 + 1000 / 128 + 1, "p50 %llu", (unsigned long long)p50);
    cr_assert_eq(hist_percentile(h, 99.95), 123456789);
    free(h);
}

Test(hist, merge)
{
    struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    hist_init(a);
    hist_init(b);
    for (int i = 0; i < 50; i++)
        hist_record(a, 10);
    for (int i = 0; i < 50; i++)
        hist_record(b, 20);
    hist_merge(a, b);
    cr_assert_eq(a->total, 100);
    cr_assert_eq(hist_percentile(a, 50), 10);
    cr_assert_eq(hist_percentile(a, 51), 20);
    cr_assert_eq(a->max, 20);
    cr_assert_eq(a->min, 10);
    cr_assert_float_eq(a->sum, 1500.0, 1e-9);
    free(a);
    free(b);
}
