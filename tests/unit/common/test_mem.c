/* test_mem.c — the accounting allocator counts usable sizes exactly. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "common/mem.h"

Test(mem, accounting_returns_to_zero)
{
    struct mem_acct a = {0};
    void *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = mem_alloc(&a, (size_t)(i * 37 + 1));
        cr_assert_not_null(p[i]);
        cr_assert_geq(mem_usable(p[i]), (size_t)(i * 37 + 1));
    }
    cr_assert_gt(a.used, 0);
    for (int i = 0; i < 100; i += 2) {
        void *q = mem_realloc(&a, p[i], 4000);
        cr_assert_not_null(q);
        p[i] = q;
    }
    int64_t expect = 0;
    for (int i = 0; i < 100; i++)
        expect += (int64_t)mem_usable(p[i]);
    cr_assert_eq(a.used, expect);
    for (int i = 0; i < 100; i++)
        mem_free(&a, p[i]);
    cr_assert_eq(a.used, 0);
    cr_assert_eq(a.allocs, a.frees);
}

Test(mem, failures_are_reported_not_fatal)
{
    struct mem_acct a = {0};
    cr_assert_null(mem_alloc(&a, 0));
    cr_assert_null(mem_alloc(&a, SIZE_MAX - 4096));
    cr_assert_eq(a.fails, 2);
    cr_assert_eq(a.used, 0);
    void *p = mem_alloc(&a, 16);
    cr_assert_null(mem_realloc(&a, p, SIZE_MAX - 4096));
    cr_assert_eq(a.used, (int64_t)mem_usable(p), "a failed realloc keeps the old block charged");
    mem_free(&a, p);
    cr_assert_eq(a.used, 0);
}

Test(mem, process_stats_are_plausible)
{
    size_t alloc = 0, res = 0;
    mem_process_stats(&alloc, &res);
    cr_assert_gt(res, 0);
    cr_assert_gt(mem_rss(), 0);
    cr_assert_not_null(mem_allocator_name());
}
