/* test_txn_locks.c — the per-shard intent-lock table (server/txn/txn_locks.h):
 * shared and exclusive counts per (db, key), conflicts for readers and
 * writers, binary-safe keys, databases kept apart, growth, and release back
 * to an empty table (checked against a simple reference model). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/txn/txn_locks.h"

static struct txn_locks l;

static void setup(void)
{
    txn_locks_init(&l);
}

static void teardown(void)
{
    txn_locks_deinit(&l);
}

TestSuite(txn_locks, .init = setup, .fini = teardown);

static bool conflict(unsigned db, const char *k, bool write)
{
    return txn_locks_conflict(&l, db, k, strlen(k), write);
}

Test(txn_locks, empty_table_conflicts_with_nothing)
{
    cr_assert_not(conflict(0, "a", true));
    cr_assert_not(conflict(0, "a", false));
    cr_assert_eq(txn_locks_count(&l), 0);
    txn_locks_release(&l, 0, "a", 1, true); /* nothing there: a no-op */
}

Test(txn_locks, shared_blocks_writers_only)
{
    cr_assert_eq(txn_locks_acquire(&l, 0, "k", 1, false), 0);
    cr_assert(conflict(0, "k", true));
    cr_assert_not(conflict(0, "k", false));
    cr_assert_not(conflict(0, "other", true));
    txn_locks_release(&l, 0, "k", 1, false);
    cr_assert_not(conflict(0, "k", true));
    cr_assert_eq(txn_locks_count(&l), 0);
}

Test(txn_locks, exclusive_blocks_everyone)
{
    cr_assert_eq(txn_locks_acquire(&l, 3, "k", 1, true), 0);
    cr_assert(conflict(3, "k", true));
    cr_assert(conflict(3, "k", false));
    /* Another database is another key. */
    cr_assert_not(conflict(0, "k", true));
    txn_locks_release(&l, 3, "k", 1, true);
    cr_assert_not(conflict(3, "k", false));
}

Test(txn_locks, counts_stack_until_the_last_release)
{
    for (int i = 0; i < 3; i++)
        cr_assert_eq(txn_locks_acquire(&l, 0, "k", 1, false), 0);
    cr_assert_eq(txn_locks_acquire(&l, 0, "k", 1, true), 0);
    cr_assert_eq(txn_locks_count(&l), 1);
    txn_locks_release(&l, 0, "k", 1, true);
    cr_assert(conflict(0, "k", true));     /* shared intents remain */
    cr_assert_not(conflict(0, "k", false));
    for (int i = 0; i < 3; i++) {
        cr_assert(conflict(0, "k", true));
        txn_locks_release(&l, 0, "k", 1, false);
    }
    cr_assert_not(conflict(0, "k", true));
    cr_assert_eq(txn_locks_count(&l), 0);
}

Test(txn_locks, keys_are_binary_safe)
{
    const char a[] = {'k', '\0', 'x'};
    const char b[] = {'k', '\0', 'y'};
    cr_assert_eq(txn_locks_acquire(&l, 0, a, sizeof a, true), 0);
    cr_assert(txn_locks_conflict(&l, 0, a, sizeof a, false));
    cr_assert_not(txn_locks_conflict(&l, 0, b, sizeof b, false));
    cr_assert_not(txn_locks_conflict(&l, 0, a, 1, false)); /* a prefix is another key */
    cr_assert_eq(txn_locks_acquire(&l, 0, "", 0, false), 0); /* the empty key too */
    cr_assert(txn_locks_conflict(&l, 0, "", 0, true));
    txn_locks_release(&l, 0, "", 0, false);
    txn_locks_release(&l, 0, a, sizeof a, true);
    cr_assert_eq(txn_locks_count(&l), 0);
}

/* Random acquires and releases against a model: an array of counts. */
Test(txn_locks, matches_a_model_through_growth)
{
    enum { NKEYS = 2000, DBS = 3, STEPS = 60000 };
    static unsigned shared[DBS][NKEYS], excl[DBS][NKEYS];
    memset(shared, 0, sizeof shared);
    memset(excl, 0, sizeof excl);
    unsigned seed = 12345;
    char key[32];
    for (int step = 0; step < STEPS; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % NKEYS, db = (seed >> 4) % DBS;
        bool x = (seed >> 20) & 1;
        bool acquire = ((seed >> 21) % 3) != 0;
        int n = snprintf(key, sizeof key, "key:%u", k);
        unsigned *cnt = x ? &excl[db][k] : &shared[db][k];
        if (acquire) {
            cr_assert_eq(txn_locks_acquire(&l, db, key, (size_t)n, x), 0);
            (*cnt)++;
        } else if (*cnt > 0) {
            txn_locks_release(&l, db, key, (size_t)n, x);
            (*cnt)--;
        }
    }
    size_t live = 0;
    for (unsigned db = 0; db < DBS; db++) {
        for (unsigned k = 0; k < NKEYS; k++) {
            int n = snprintf(key, sizeof key, "key:%u", k);
            bool any = shared[db][k] || excl[db][k];
            live += any;
            cr_assert_eq(txn_locks_conflict(&l, db, key, (size_t)n, true), any, "db %u key %u", db,
                         k);
            cr_assert_eq(txn_locks_conflict(&l, db, key, (size_t)n, false), excl[db][k] > 0);
        }
    }
    cr_assert_eq(txn_locks_count(&l), live);
    /* Release everything: the table is empty again. */
    for (unsigned db = 0; db < DBS; db++) {
        for (unsigned k = 0; k < NKEYS; k++) {
            int n = snprintf(key, sizeof key, "key:%u", k);
            while (shared[db][k]--)
                txn_locks_release(&l, db, key, (size_t)n, false);
            while (excl[db][k]--)
                txn_locks_release(&l, db, key, (size_t)n, true);
        }
    }
    cr_assert_eq(txn_locks_count(&l), 0);
}
