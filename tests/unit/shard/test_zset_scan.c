/* test_zset_scan.c — ZSCAN's walk of a sorted set (zset_scan): on the tree
 * encoding every member present for the whole scan is returned exactly
 * once while members already returned are removed and others added between
 * calls (growing and shrinking the member index mid-scan); a listpack set
 * comes back whole; a cursor past the hash space ends the scan. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "shard/zset.h"

static struct mem_acct acct;

static void setup(void)
{
    memset(&acct, 0, sizeof acct);
}

static void teardown(void)
{
    cr_expect_eq(acct.used, 0, "%" PRId64 " bytes still charged", acct.used);
}

TestSuite(zset_scan, .init = setup, .fini = teardown);

static const struct zset_limits LIM = {128, 64};

#define BASE  6000  /* members "m<i>" at the start */
#define EXTRA 20000 /* members "n<i>" the churn may add */

/* What the scan returned so far. */
struct seen {
    unsigned base[BASE];   /* times each m<i> was returned */
    uint64_t visits;       /* elements visited in all */
    uint64_t in_call;      /* elements visited by the current call */
};

static void visit(void *arg, const struct zset_elem *e)
{
    struct seen *s = arg;
    char buf[32];
    cr_assert_lt(e->len, sizeof buf);
    memcpy(buf, e->m, e->len);
    buf[e->len] = 0;
    s->visits++;
    s->in_call++;
    if (buf[0] == 'm') {
        int i = atoi(buf + 1);
        cr_assert_eq(e->score, (double)i, "m%d's score", i);
        s->base[i]++;
    }
}

static void add(struct tval *tv, char c, int i)
{
    char m[32];
    int len = snprintf(m, sizeof m, "%c%d", c, i);
    int out;
    cr_assert_eq(zset_add(&acct, tv, &LIM, m, (size_t)len, (double)i, 0, &out, NULL), 0);
}

static bool del(struct tval *tv, char c, int i)
{
    char m[32];
    int len = snprintf(m, sizeof m, "%c%d", c, i);
    return zset_del(&acct, tv, m, (size_t)len) == 1;
}

/* One whole scan of COUNT count; between calls, churn(tv, round) runs.
 * Members of stable[] must each come back exactly once. */
static void scan_with_churn(uint64_t count, unsigned seed, bool shrink)
{
    struct tval *tv = zset_create(&acct, &LIM, 0, 0);
    cr_assert(tv);
    for (int i = 0; i < BASE; i++)
        add(tv, 'm', i);
    cr_assert_eq(tv->enc, ZSET_ENC_TREE);
    static struct seen s;
    memset(&s, 0, sizeof s);
    static bool removed[BASE];
    memset(removed, 0, sizeof removed);
    srand(seed);
    uint64_t cursor = 0, calls = 0;
    int next_extra = 0;
    do {
        s.in_call = 0;
        cursor = zset_scan(tv, cursor, count, visit, &s);
        calls++;
        cr_assert_lt(calls, 100000);
        /* Remove members already returned (below a rank cursor, these
         * would shift every later member down and skip some). */
        for (int k = 0; k < (shrink ? 400 : 30); k++) {
            int i = rand() % BASE;
            if (s.base[i] && !removed[i] && del(tv, 'm', i))
                removed[i] = true;
        }
        /* Add new members (growing the index) unless shrinking. */
        for (int k = 0; !shrink && k < 60 && next_extra < EXTRA; k++)
            add(tv, 'n', next_extra++);
        if (calls % 64 == 0)
            cr_assert_eq(zset_check(tv), 0);
    } while (cursor != 0);
    cr_assert_eq(zset_check(tv), 0);
    int missed = 0, twice = 0;
    for (int i = 0; i < BASE; i++) {
        missed += s.base[i] == 0;
        twice += s.base[i] > 1;
    }
    cr_expect_eq(missed, 0, "%d members present throughout were never returned", missed);
    cr_expect_eq(twice, 0, "%d members were returned more than once", twice);
    /* The count is honoured roughly: no page walk of one element per call. */
    cr_expect_lt(calls, 3 * (BASE + EXTRA) / count + 20, "%" PRIu64 " calls", calls);
    zset_free(&acct, tv);
}

Test(zset_scan, deletes_of_returned_members_skip_nothing_while_growing)
{
    scan_with_churn(37, 1, false);
}

Test(zset_scan, deletes_of_returned_members_skip_nothing_while_shrinking)
{
    scan_with_churn(25, 2, true);
}

Test(zset_scan, count_one_and_count_huge)
{
    scan_with_churn(1, 3, false);
    scan_with_churn(UINT64_MAX / 2, 4, true);
}

Test(zset_scan, listpack_whole_and_cursor_past_the_space)
{
    struct tval *tv = zset_create(&acct, &LIM, 0, 0);
    for (int i = 0; i < 10; i++)
        add(tv, 'm', i);
    cr_assert_eq(tv->enc, TVAL_ENC_LISTPACK);
    static struct seen s;
    memset(&s, 0, sizeof s);
    cr_expect_eq(zset_scan(tv, 0, 1, visit, &s), 0);
    cr_expect_eq(s.visits, 10);
    for (int i = 10; i < 1000; i++)
        add(tv, 'm', i);
    cr_assert_eq(tv->enc, ZSET_ENC_TREE);
    s.visits = 0;
    cr_expect_eq(zset_scan(tv, (uint64_t)1 << 32, 10, visit, &s), 0);
    cr_expect_eq(zset_scan(tv, UINT64_MAX, 10, visit, &s), 0);
    cr_expect_eq(s.visits, 0);
    zset_free(&acct, tv);
}
