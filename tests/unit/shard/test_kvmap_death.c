/* test_kvmap_death.c — the owner-thread rule: a map touched by any thread
 * but its owner aborts (assert), and kvmap_bind_owner hands a map over.
 * Criterion runs each test in its own process, so an abort fails only the
 * test that expects it. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>

#include "shard/kvmap.h"

#define NOW ((int64_t)1700000000000)

/* Used only by the death tests, which need the asserts (no NDEBUG). */
__attribute__((unused)) static void *touch_from_other_thread(void *arg)
{
    struct kvmap *m = arg;
    /* Not the owner: the owner assert must abort the whole process here. */
    kvmap_find(m, "k", 1, NOW);
    return NULL;
}

__attribute__((unused)) static void *set_from_other_thread(void *arg)
{
    struct kvmap *m = arg;
    kvmap_set(m, "k", 1, "v", 1, KVMAP_NO_EXPIRE, NOW);
    return NULL;
}

static void *bind_and_use(void *arg)
{
    struct kvmap *m = arg;
    kvmap_bind_owner(m);
    int rc = kvmap_set(m, "k", 1, "w", 1, KVMAP_NO_EXPIRE, NOW);
    return (void *)(intptr_t)rc;
}

static void run_thread(void *(*fn)(void *), struct kvmap *m, void **ret)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fn, m), 0);
    cr_assert_eq(pthread_join(t, ret), 0);
}

#ifndef NDEBUG
/* The owner check is an assert(), compiled out with NDEBUG. The test builds
 * (RelWithDebInfo) keep asserts on; an NDEBUG build leaves these two tests
 * out rather than counting a skipped check as passed. */
Test(kvmap_death, find_from_non_owner_thread_aborts, .signal = SIGABRT)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    cr_assert_eq(kvmap_set(m, "k", 1, "v", 1, KVMAP_NO_EXPIRE, NOW), 1);
    run_thread(touch_from_other_thread, m, NULL);
    cr_log_error("a non-owner kvmap_find returned instead of aborting");
}

Test(kvmap_death, set_from_non_owner_thread_aborts, .signal = SIGABRT)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    run_thread(set_from_other_thread, m, NULL);
    cr_log_error("a non-owner kvmap_set returned instead of aborting");
}
#endif

Test(kvmap_death, bind_owner_hands_the_map_over)
{
    struct mem_acct a = {0};
    struct kvmap *m = kvmap_create(&a);
    cr_assert_eq(kvmap_set(m, "k", 1, "v", 1, KVMAP_NO_EXPIRE, NOW), 1);
    void *ret;
    run_thread(bind_and_use, m, &ret);
    cr_assert_eq((intptr_t)ret, 0, "the new owner replaced the value");
    /* Take it back before touching it here again (the thread is joined). */
    kvmap_bind_owner(m);
    char buf[21];
    size_t vl;
    struct kventry *e = kvmap_find(m, "k", 1, NOW);
    cr_assert_not_null(e);
    cr_assert_eq(*kventry_value(e, buf, &vl), 'w');
    kvmap_destroy(m);
    cr_assert_eq(a.used, 0);
}
