/* test_quicklist.c — shard/quicklist.c and quicklist_iter.c: a model-based
 * randomized test (thousands of random pushes, pops, inserts, sets, range
 * deletions, LREM, LPOS, iterator deletions and conversions against a
 * plain array) for every fill in {-5,-2,-1,1,2,128} and compress depth in
 * {0,1,2}, with the invariant check (links, counts, listpacks, node limits,
 * compression of exactly the inner nodes, the bytes figure) after each
 * step; memory returned to the account to the byte; compression applied
 * to inner nodes; LZF round trips; and a 1,000,000-element list whose
 * pushes stay O(1) in allocations. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "shard/listpack.h"
#include "shard/lzf.h"
#include "shard/lzf.h"
#include "shard/quicklist.h"

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

TestSuite(quicklist, .init = setup, .fini = teardown);

/* ------------------------------------------------------------ model */

struct str {
    char *p;
    size_t len;
};

struct model {
    struct str *v;
    size_t n, cap;
};

static void m_insert(struct model *m, size_t at, const char *s, size_t len)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = realloc(m->v, m->cap * sizeof *m->v);
        cr_assert_not_null(m->v);
    }
    memmove(&m->v[at + 1], &m->v[at], (m->n - at) * sizeof *m->v);
    m->v[at].p = malloc(len ? len : 1);
    memcpy(m->v[at].p, s, len);
    m->v[at].len = len;
    m->n++;
}

static void m_delete(struct model *m, size_t at)
{
    free(m->v[at].p);
    memmove(&m->v[at], &m->v[at + 1], (m->n - at - 1) * sizeof *m->v);
    m->n--;
}

static void m_free(struct model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].p);
    free(m->v);
}

static bool m_eq(const struct str *a, const char *s, size_t len)
{
    return a->len == len && memcmp(a->p, s, len) == 0;
}

/* An entry's text, as a command would reply it. */
static size_t entry_text(const struct listpack_entry *e, char *buf, const char **out)
{
    if (e->str) {
        *out = (const char *)e->str;
        return e->len;
    }
    *out = buf;
    return (size_t)snprintf(buf, LISTPACK_INTBUF_SIZE, "%" PRId64, e->num);
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64*: reproducible from the seed printed on failure. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static uint64_t rnd_below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* A random element: integers, a few repeated short values (so that LREM,
 * LPOS and pivots find matches), compressible runs, and now and then one
 * bigger than a whole node. */
static size_t gen(char *buf, size_t cap)
{
    switch (rnd_below(10)) {
    case 0:
        return (size_t)snprintf(buf, cap, "%" PRId64, (int64_t)rnd() >> rnd_below(64));
    case 1:
    case 2:
    case 3:
        return (size_t)snprintf(buf, cap, "v%u", (unsigned)rnd_below(8));
    case 4:
    case 5:
    case 6: {
        size_t len = 16 + rnd_below(64);
        memset(buf, 'a' + (int)rnd_below(3), len);
        buf[0] = 'x';
        return len;
    }
    case 7:
    case 8: {
        size_t len = rnd_below(40);
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)('A' + rnd_below(26));
        return len;
    }
    default: {
        size_t len = rnd_below(50) == 0 ? 5000 + rnd_below(15000) : 100 + rnd_below(300);
        if (len > cap)
            len = cap;
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)('a' + (i * 7 + len) % 13);
        return len;
    }
    }
}

/* The whole list against the model, both directions. */
static void compare(struct quicklist *ql, const struct model *m)
{
    cr_assert_eq(quicklist_len(ql), m->n);
    struct quicklist_iter it;
    struct listpack_entry e;
    char buf[LISTPACK_INTBUF_SIZE];
    const char *t;
    size_t i = 0;
    quicklist_iter_init(&it, &acct, ql, 0, true);
    while (quicklist_iter_next(&it, &e) == 1) {
        size_t tl = entry_text(&e, buf, &t);
        cr_assert(i < m->n && m_eq(&m->v[i], t, tl), "entry %zu differs", i);
        i++;
    }
    quicklist_iter_release(&it);
    cr_assert_eq(i, m->n);
    quicklist_iter_init(&it, &acct, ql, -1, false);
    while (quicklist_iter_next(&it, &e) == 1) {
        size_t tl = entry_text(&e, buf, &t);
        cr_assert(i > 0 && m_eq(&m->v[i - 1], t, tl), "entry %zu differs backwards", i - 1);
        i--;
    }
    quicklist_iter_release(&it);
    cr_assert_eq(i, 0);
}

static void check(struct quicklist *ql)
{
    const char *err = quicklist_check(&acct, ql, true);
    cr_assert_null(err, "invariant: %s", err);
    /* The list is the only thing charged to the account here. */
    cr_assert_eq((int64_t)quicklist_bytes(ql), acct.used);
}

struct popped {
    char buf[32768];
    size_t len;
};

static void save_entry(void *ctx, const struct listpack_entry *e)
{
    struct popped *p = ctx;
    char ib[LISTPACK_INTBUF_SIZE];
    const char *t;
    p->len = entry_text(e, ib, &t);
    memcpy(p->buf, t, p->len);
}

struct positions {
    int64_t idx[64];
    size_t n;
};

static void save_pos(void *ctx, int64_t index)
{
    struct positions *p = ctx;
    if (p->n < 64)
        p->idx[p->n] = index;
    p->n++;
}

/* ------------------------------------------------------------ the random walk */

static void random_walk(int fill, int depth, uint64_t seed, int steps, size_t size)
{
    rng_state = seed;
    struct model m = {0};
    struct quicklist *ql = quicklist_create(&acct, fill, depth);
    cr_assert_not_null(ql);
    static char buf[32768];
    static struct popped pop;
    /* Grow first, then wander around a size of a few hundred to thousands. */
    size_t target = size / 10 + rnd_below(size);

    for (int step = 0; step < steps; step++) {
        unsigned op = (unsigned)rnd_below(100);
        bool grow = m.n < target;
        if (op < 35 || (grow && op < 80)) {
            size_t len = gen(buf, sizeof buf);
            bool head = rnd() & 1;
            cr_assert_eq(
                quicklist_push(&acct, ql, head ? QUICKLIST_HEAD : QUICKLIST_TAIL, buf, len), 0);
            m_insert(&m, head ? 0 : m.n, buf, len);
        } else if (op < 50) {
            bool head = rnd() & 1;
            int rc =
                quicklist_pop(&acct, ql, head ? QUICKLIST_HEAD : QUICKLIST_TAIL, save_entry, &pop);
            cr_assert_eq(rc, m.n ? 1 : 0);
            if (m.n) {
                size_t at = head ? 0 : m.n - 1;
                cr_assert(m_eq(&m.v[at], pop.buf, pop.len), "popped the wrong element");
                m_delete(&m, at);
            }
        } else if (op < 58) {
            /* LINDEX and a short LRANGE from a random index, either way. */
            int64_t idx = (int64_t)rnd_below(m.n + 4) - 2;
            if (rnd() & 1)
                idx -= (int64_t)m.n;
            bool fwd = rnd() & 1;
            struct quicklist_iter it;
            struct listpack_entry e;
            char ib[LISTPACK_INTBUF_SIZE];
            const char *t;
            quicklist_iter_init(&it, &acct, ql, idx, fwd);
            int64_t i = idx < 0 ? idx + (int64_t)m.n : idx;
            int got = 0;
            while (got < 20 && quicklist_iter_next(&it, &e) == 1) {
                cr_assert(i >= 0 && i < (int64_t)m.n);
                size_t tl = entry_text(&e, ib, &t);
                cr_assert(m_eq(&m.v[i], t, tl), "index %" PRId64 " differs", i);
                i += fwd ? 1 : -1;
                got++;
            }
            quicklist_iter_release(&it);
            if (idx < -(int64_t)m.n || idx >= (int64_t)m.n)
                cr_assert_eq(got, 0);
        } else if (op < 66) {
            /* LINSERT around a value that may or may not be there. */
            char pv[16];
            size_t pl = (size_t)snprintf(pv, sizeof pv, "v%u", (unsigned)rnd_below(10));
            size_t len = gen(buf, sizeof buf);
            bool after = rnd() & 1;
            int rc = quicklist_insert_pivot(&acct, ql, pv, pl,
                                            after ? LISTPACK_AFTER : LISTPACK_BEFORE, buf, len);
            size_t at = 0;
            while (at < m.n && !m_eq(&m.v[at], pv, pl))
                at++;
            cr_assert_eq(rc, at < m.n ? 1 : 0);
            if (at < m.n)
                m_insert(&m, after ? at + 1 : at, buf, len);
        } else if (op < 72) {
            /* LSET. */
            int64_t idx = (int64_t)rnd_below(m.n + 2) - 1;
            size_t len = gen(buf, sizeof buf);
            int rc = quicklist_replace_at(&acct, ql, idx, buf, len);
            int64_t i = idx < 0 ? idx + (int64_t)m.n : idx;
            if (i < 0 || i >= (int64_t)m.n) {
                cr_assert_eq(rc, QUICKLIST_ERANGE);
            } else {
                cr_assert_eq(rc, 0);
                m_delete(&m, (size_t)i);
                m_insert(&m, (size_t)i, buf, len);
            }
        } else if (op < 77) {
            /* A range deletion (LTRIM's steps), sometimes a big one. */
            int64_t start = (int64_t)rnd_below(m.n + 2) - (rnd() & 1 ? (int64_t)m.n : 0);
            int64_t count = (int64_t)rnd_below(!grow && rnd_below(30) == 0 ? m.n + 2 : 40);
            int64_t got = quicklist_del_range(&acct, ql, start, count);
            int64_t s = start < 0 ? start + (int64_t)m.n : start;
            int64_t want = 0;
            if (count > 0 && s >= 0 && s < (int64_t)m.n)
                want = count < (int64_t)m.n - s ? count : (int64_t)m.n - s;
            cr_assert_eq(got, want, "del_range(%" PRId64 ", %" PRId64 ")", start, count);
            for (int64_t j = 0; j < want; j++)
                m_delete(&m, (size_t)s);
        } else if (op < 83) {
            /* LREM. */
            char pv[16];
            size_t pl = (size_t)snprintf(pv, sizeof pv, "v%u", (unsigned)rnd_below(10));
            int64_t count = (int64_t)rnd_below(6) - 3;
            if (count >= 0 && (grow || rnd_below(4) != 0))
                count++;
            size_t removed;
            cr_assert_eq(quicklist_rem(&acct, ql, pv, pl, count, &removed), 0);
            size_t want = 0;
            if (count >= 0) {
                for (size_t i = 0; i < m.n && (count == 0 || want < (size_t)count);)
                    if (m_eq(&m.v[i], pv, pl)) {
                        m_delete(&m, i);
                        want++;
                    } else {
                        i++;
                    }
            } else {
                for (size_t i = m.n; i > 0 && want < (size_t)-count; i--)
                    if (m_eq(&m.v[i - 1], pv, pl)) {
                        m_delete(&m, i - 1);
                        want++;
                    }
            }
            cr_assert_eq(removed, want);
        } else if (op < 88) {
            /* LPOS with RANK, COUNT and MAXLEN. */
            char pv[16];
            size_t pl = (size_t)snprintf(pv, sizeof pv, "v%u", (unsigned)rnd_below(10));
            bool tail = rnd() & 1;
            uint64_t rank = 1 + rnd_below(3), count = rnd_below(4), maxlen = rnd_below(3) * 50;
            struct positions got = {0}, want = {0};
            int64_t rc =
                quicklist_pos(&acct, ql, pv, pl, tail, rank, count, maxlen, save_pos, &got);
            uint64_t matches = 0;
            for (size_t s = 0; s < m.n && (maxlen == 0 || s < maxlen); s++) {
                size_t i = tail ? m.n - 1 - s : s;
                if (m_eq(&m.v[i], pv, pl) && ++matches >= rank) {
                    save_pos(&want, (int64_t)i);
                    if (want.n == count)
                        break;
                }
            }
            cr_assert_eq(rc, (int64_t)want.n);
            cr_assert_eq(got.n, want.n);
            for (size_t i = 0; i < got.n && i < 64; i++)
                cr_assert_eq(got.idx[i], want.idx[i]);
        } else if (op < 93) {
            /* Walk from a random place deleting some entries on the way. */
            bool fwd = rnd() & 1;
            int64_t idx = (int64_t)rnd_below(m.n + 1);
            struct quicklist_iter it;
            struct listpack_entry e;
            quicklist_iter_init(&it, &acct, ql, idx, fwd);
            int64_t i = idx;
            unsigned odds = 1 + (unsigned)rnd_below(grow ? 16 : 4);
            int walk = !grow && rnd_below(20) == 0 ? 2000 : 60;
            for (int k = 0; k < walk && quicklist_iter_next(&it, &e) == 1; k++) {
                if (rnd_below(odds) == 0) {
                    cr_assert_eq(quicklist_iter_del(&it), 0);
                    cr_assert_eq(quicklist_iter_del(&it), QUICKLIST_EINVAL);
                    m_delete(&m, (size_t)i);
                    if (fwd)
                        continue;
                }
                i += fwd ? 1 : -1;
            }
            quicklist_iter_release(&it);
        } else if (op < 96) {
            /* The single-listpack encoding and back, when small enough. */
            if (quicklist_can_shrink(ql)) {
                unsigned char *lp;
                cr_assert_eq(quicklist_to_listpack(&acct, ql, &lp), 0);
                cr_assert_eq(listpack_count(lp), m.n);
                ql = quicklist_from_listpack(&acct, lp, fill, depth);
                cr_assert_not_null(ql);
            } else {
                unsigned char *lp;
                /* Counted first: a successful conversion frees ql. */
                size_t nodes = quicklist_node_count(ql);
                cr_assert_eq(quicklist_to_listpack(&acct, ql, &lp),
                             nodes > 1 ? QUICKLIST_EINVAL : 0);
                if (nodes <= 1) {
                    ql = quicklist_from_listpack(&acct, lp, fill, depth);
                    cr_assert_not_null(ql);
                }
            }
        } else if (op < 98) {
            /* COPY: the copy is equal and independent. */
            struct quicklist *c = quicklist_copy(&acct, ql);
            cr_assert_not_null(c);
            cr_assert_null(quicklist_check(&acct, c, true));
            compare(c, &m);
            int64_t before = acct.used;
            quicklist_destroy(&acct, c);
            cr_assert_lt(acct.used, before);
        } else {
            /* Rebuild node by node as an RDB load does. */
            struct quicklist *c = quicklist_create(&acct, fill, depth);
            cr_assert_not_null(c);
            for (const struct quicklist_node *n = quicklist_node_first(ql); n;
                 n = quicklist_node_next(n)) {
                struct quicklist_blob b;
                quicklist_node_blob(n, &b);
                unsigned char *lp = mem_alloc(&acct, b.raw_len);
                cr_assert_not_null(lp);
                if (b.compressed)
                    cr_assert(lzf_decompress(b.data, b.len, lp, b.raw_len));
                else
                    memcpy(lp, b.data, b.len);
                cr_assert_eq(listpack_validate(lp, b.raw_len, true), 0);
                cr_assert_eq(listpack_count(lp), b.count);
                cr_assert_eq(quicklist_append_listpack(&acct, c, lp), 0);
            }
            quicklist_destroy(&acct, ql);
            ql = c;
        }
        if (step % 7 == 0 || m.n < 50)
            check(ql);
        if (step % 97 == 0)
            compare(ql, &m);
        if (rnd_below(500) == 0)
            target = rnd_below(size + size / 5);
    }
    check(ql);
    compare(ql, &m);
    quicklist_destroy(&acct, ql);
    m_free(&m);
}

static const int fills[] = {-2, -1, -5, 1, 2, 128};

Test(quicklist, random_depth0)
{
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++)
        random_walk(fills[f], 0, 0x9e3779b97f4a7c15ull + (uint64_t)f, 8000, 5000);
}

Test(quicklist, random_depth1)
{
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++)
        random_walk(fills[f], 1, 0xdeadbeefcafef00dull + (uint64_t)f, 8000, 5000);
}

Test(quicklist, random_depth2)
{
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++)
        random_walk(fills[f], 2, 0x0123456789abcdefull + (uint64_t)f, 8000, 5000);
}

Test(quicklist, random_fill0_and_clamped)
{
    /* 0 keeps one entry per node; out-of-range fills clamp. */
    random_walk(0, 1, 42, 1500, 5000);
    random_walk(-100, 3, 43, 1500, 5000);
    random_walk(1000000, 2, 44, 1500, 5000);
}

Test(quicklist, random_big_nodes)
{
    /* Lists of tens of thousands, so that 64 KB nodes come in numbers. */
    random_walk(-5, 1, 7, 12000, 40000);
    random_walk(-2, 2, 8, 12000, 40000);
}

/* ------------------------------------------------------------ explicit cases */

static void push_n(struct quicklist *ql, enum quicklist_end where, size_t n, size_t len,
                   bool compressible)
{
    char buf[256];
    for (size_t i = 0; i < n; i++) {
        if (compressible)
            snprintf(buf, sizeof buf, "item:%012zu------------------------", i % 1000);
        else
            snprintf(buf, sizeof buf, "k%015" PRIx64, (uint64_t)i * UINT64_C(0x9e3779b97f4a7c15));
        cr_assert_eq(quicklist_push(&acct, ql, where, buf, len), 0);
    }
}

Test(quicklist, node_limits)
{
    /* -2: listpacks of at most 8 KB, as full as that allows: 16-byte
     * strings take 18 bytes, so 454 of them fit behind the 7-byte frame. */
    struct quicklist *ql = quicklist_create(&acct, -2, 0);
    push_n(ql, QUICKLIST_TAIL, 10000, 16, false);
    for (const struct quicklist_node *n = quicklist_node_first(ql); n; n = quicklist_node_next(n)) {
        struct quicklist_blob b;
        quicklist_node_blob(n, &b);
        cr_assert_leq(b.raw_len, 8192);
        if (quicklist_node_next(n))
            cr_assert_eq(b.count, 454);
    }
    cr_assert_eq(quicklist_node_count(ql), (10000 + 453) / 454);
    check(ql);
    quicklist_destroy(&acct, ql);

    /* 128: at most 128 entries a node, whichever end grows. */
    ql = quicklist_create(&acct, 128, 0);
    push_n(ql, QUICKLIST_HEAD, 1000, 16, false);
    push_n(ql, QUICKLIST_TAIL, 1000, 16, false);
    for (const struct quicklist_node *n = quicklist_node_first(ql); n; n = quicklist_node_next(n)) {
        struct quicklist_blob b;
        quicklist_node_blob(n, &b);
        cr_assert_leq(b.count, 128);
    }
    cr_assert_eq(quicklist_node_count(ql), 2 * ((1000 + 127) / 128));
    check(ql);
    quicklist_destroy(&acct, ql);

    /* An element bigger than a node's limit gets a node of its own. */
    ql = quicklist_create(&acct, -1, 0);
    static char big[10000];
    memset(big, 'b', sizeof big);
    push_n(ql, QUICKLIST_TAIL, 10, 16, false);
    cr_assert_eq(quicklist_push(&acct, ql, QUICKLIST_TAIL, big, sizeof big), 0);
    push_n(ql, QUICKLIST_TAIL, 10, 16, false);
    cr_assert_eq(quicklist_node_count(ql), 3);
    /* And LSET with one in the middle of a node splits it around it. */
    cr_assert_eq(quicklist_replace_at(&acct, ql, 5, big, sizeof big), 0);
    cr_assert_eq(quicklist_len(ql), 21);
    cr_assert_eq(quicklist_node_count(ql), 5); /* [0-4] [big] [6-9] [big] [11-20] */
    check(ql);
    quicklist_destroy(&acct, ql);
}

Test(quicklist, compression_of_inner_nodes)
{
    struct quicklist *ql = quicklist_create(&acct, -2, 1);
    push_n(ql, QUICKLIST_TAIL, 20000, 40, true);
    size_t nodes = quicklist_node_count(ql), i = 0, raw_bytes = 0, stored = 0;
    cr_assert_gt(nodes, 10);
    for (const struct quicklist_node *n = quicklist_node_first(ql); n;
         n = quicklist_node_next(n), i++) {
        struct quicklist_blob b;
        quicklist_node_blob(n, &b);
        bool inner = i > 0 && i < nodes - 1;
        cr_assert_eq(b.compressed, inner, "node %zu of %zu", i, nodes);
        if (inner)
            cr_assert_lt(b.len + QUICKLIST_MIN_COMPRESS_GAIN, b.raw_len);
        raw_bytes += b.raw_len;
        stored += b.len;
    }
    cr_assert_lt(stored * 3, raw_bytes, "compression should pay on repetitive data");
    check(ql);

    /* Reading an inner node leaves it compressed; changing it recompresses. */
    struct quicklist_iter it;
    struct listpack_entry e;
    quicklist_iter_init(&it, &acct, ql, 10000, true);
    cr_assert_eq(quicklist_iter_next(&it, &e), 1);
    cr_assert_eq(e.len, 40);
    quicklist_iter_release(&it);
    check(ql);
    cr_assert_eq(quicklist_replace_at(&acct, ql, 10001, "changed", 7), 0);
    check(ql);

    /* Popping down to two nodes leaves nothing compressed. */
    while (quicklist_node_count(ql) > 2)
        cr_assert_eq(quicklist_pop(&acct, ql, QUICKLIST_HEAD, NULL, NULL), 1);
    for (const struct quicklist_node *n = quicklist_node_first(ql); n; n = quicklist_node_next(n)) {
        struct quicklist_blob b;
        quicklist_node_blob(n, &b);
        cr_assert(!b.compressed);
    }
    check(ql);
    quicklist_destroy(&acct, ql);

    /* Depth 0 never compresses. */
    ql = quicklist_create(&acct, -2, 0);
    push_n(ql, QUICKLIST_TAIL, 20000, 40, true);
    for (const struct quicklist_node *n = quicklist_node_first(ql); n; n = quicklist_node_next(n)) {
        struct quicklist_blob b;
        quicklist_node_blob(n, &b);
        cr_assert(!b.compressed);
    }
    quicklist_destroy(&acct, ql);
}

/* A big LSET near an end splits its node in three, which pushes the node
 * beside it two places: out of the raw window, so it must be compressed
 * (found by fuzz_quicklist). */
Test(quicklist, three_way_split_moves_a_neighbour_out_of_the_window)
{
    static char big[6000];
    memset(big, 'q', sizeof big);
    for (int end = 0; end < 2; end++) {
        struct quicklist *ql = quicklist_create(&acct, -1, 2);
        push_n(ql, QUICKLIST_TAIL, 2000, 40, true);
        cr_assert_gt(quicklist_node_count(ql), 8);
        size_t before = quicklist_node_count(ql);
        cr_assert_eq(quicklist_replace_at(&acct, ql, end ? -20 : 20, big, sizeof big), 0);
        cr_assert_eq(quicklist_node_count(ql), before + 2, "the node split in three");
        check(ql);
        quicklist_destroy(&acct, ql);
    }
}

Test(quicklist, lzf_round_trip)
{
    static unsigned char in[70000], out[70000], back[70000];
    rng_state = 99;
    for (int round = 0; round < 200; round++) {
        size_t len = 1 + rnd_below(sizeof in);
        unsigned alphabet = 1 + (unsigned)rnd_below(round % 2 ? 4 : 256);
        for (size_t i = 0; i < len; i++)
            in[i] = (unsigned char)(rnd_below(8) ? rnd_below(alphabet) : in[i / 2]);
        size_t clen = lzf_compress(in, len, out, sizeof out);
        if (clen == 0)
            continue; /* did not fit: only for incompressible input */
        cr_assert(lzf_decompress(out, clen, back, len));
        cr_assert(memcmp(in, back, len) == 0);
        /* A smaller budget than needed is refused, never overrun. */
        cr_assert_eq(lzf_compress(in, len, out, clen - 1), 0);
    }
    /* Random bytes do not compress into less than their size. */
    for (size_t i = 0; i < 8192; i++)
        in[i] = (unsigned char)rnd();
    cr_assert_eq(lzf_compress(in, 8192, out, 8192 - 9), 0);
    memset(in, 'z', 8192);
    size_t clen = lzf_compress(in, 8192, out, sizeof out);
    cr_assert_gt(clen, 0);
    cr_assert_lt(clen, 200);
    cr_assert(lzf_decompress(out, clen, back, 8192));
    cr_assert(memcmp(in, back, 8192) == 0);
}

Test(quicklist, empty_and_bad_calls)
{
    struct quicklist *ql = quicklist_create(&acct, -2, 1);
    struct quicklist_iter it;
    struct listpack_entry e;
    cr_assert_eq(quicklist_pop(&acct, ql, QUICKLIST_HEAD, NULL, NULL), 0);
    cr_assert_eq(quicklist_replace_at(&acct, ql, 0, "x", 1), QUICKLIST_ERANGE);
    cr_assert_eq(quicklist_del_range(&acct, ql, 0, 10), 0);
    size_t removed = 7;
    cr_assert_eq(quicklist_rem(&acct, ql, "x", 1, 0, &removed), 0);
    cr_assert_eq(removed, 0);
    cr_assert_eq(quicklist_insert_pivot(&acct, ql, "x", 1, LISTPACK_AFTER, "y", 1), 0);
    quicklist_iter_init(&it, &acct, ql, 0, true);
    cr_assert_eq(quicklist_iter_del(&it), QUICKLIST_EINVAL);
    cr_assert_eq(quicklist_iter_next(&it, &e), 0);
    quicklist_iter_release(&it);
    quicklist_iter_release(&it);
    check(ql);

    push_n(ql, QUICKLIST_TAIL, 3000, 16, false);
    quicklist_iter_init(&it, &acct, ql, 5, true);
    cr_assert_eq(quicklist_iter_del(&it), QUICKLIST_EINVAL); /* nothing returned yet */
    cr_assert_eq(quicklist_iter_insert(&it, LISTPACK_AFTER, "x", 1), QUICKLIST_EINVAL);
    quicklist_iter_release(&it);
    unsigned char *lp;
    cr_assert_eq(quicklist_to_listpack(&acct, ql, &lp), QUICKLIST_EINVAL);
    cr_assert_not(quicklist_can_shrink(ql));
    /* Out-of-range deletions and indexes change nothing. */
    cr_assert_eq(quicklist_del_range(&acct, ql, 3000, 5), 0);
    cr_assert_eq(quicklist_del_range(&acct, ql, -3001, 5), 0);
    cr_assert_eq(quicklist_del_range(&acct, ql, 0, -1), 0);
    cr_assert_eq(quicklist_replace_at(&acct, ql, -3001, "x", 1), QUICKLIST_ERANGE);
    cr_assert_eq(quicklist_len(ql), 3000);
    /* The whole list in one range, past the end. */
    cr_assert_eq(quicklist_del_range(&acct, ql, -3000, INT64_MAX), 3000);
    cr_assert_eq(quicklist_node_count(ql), 0);
    check(ql);
    cr_assert(quicklist_can_shrink(ql));
    cr_assert_eq(quicklist_to_listpack(&acct, ql, &lp), 0);
    cr_assert_eq(listpack_count(lp), 0);
    listpack_destroy(&acct, lp);
    cr_assert_str_eq(quicklist_strerror(QUICKLIST_ENOMEM), "out of memory");
}

Test(quicklist, listpack_conversion)
{
    /* The small encoding's limits: -2 is 8 KB whatever the count; a
     * positive fill counts entries. */
    cr_assert(quicklist_listpack_fits(-2, 8192, 10000));
    cr_assert_not(quicklist_listpack_fits(-2, 8193, 1));
    cr_assert(quicklist_listpack_fits(-1, 4096, 1));
    cr_assert_not(quicklist_listpack_fits(-1, 4097, 1));
    cr_assert(quicklist_listpack_fits(-5, 65536, 1));
    cr_assert(quicklist_listpack_fits(-9, 65536, 1)); /* clamped to -5 */
    cr_assert(quicklist_listpack_fits(128, 100, 128));
    cr_assert_not(quicklist_listpack_fits(128, 100, 129));
    cr_assert_not(quicklist_listpack_fits(128, 8193, 2));
    cr_assert_eq(quicklist_entry_bytes("hello", 5), 7);
    cr_assert_eq(quicklist_entry_bytes("100", 3), 2);
    cr_assert_eq(quicklist_entry_bytes("1000", 4), 3);

    /* A listpack becomes the single node without a copy, and comes back. */
    unsigned char *lp = listpack_create(&acct);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(listpack_append(&acct, &lp, "element", 7), 0);
    int64_t before = acct.used;
    struct quicklist *ql = quicklist_from_listpack(&acct, lp, -2, 0);
    cr_assert_not_null(ql);
    cr_assert_eq(quicklist_len(ql), 100);
    cr_assert_eq(quicklist_node_count(ql), 1);
    cr_assert_eq(acct.used - before, (int64_t)(quicklist_bytes(ql) - mem_usable(lp)));
    check(ql);
    /* Growing past 8 KB, then shrinking below half of it. */
    push_n(ql, QUICKLIST_TAIL, 1000, 16, false);
    cr_assert_not(quicklist_can_shrink(ql));
    cr_assert_eq(quicklist_del_range(&acct, ql, 0, 1100 - 200), 900);
    cr_assert(quicklist_can_shrink(ql), "nodes %zu", quicklist_node_count(ql));
    unsigned char *out;
    cr_assert_eq(quicklist_to_listpack(&acct, ql, &out), 0);
    cr_assert_eq(listpack_count(out), 200);
    cr_assert_eq(listpack_validate(out, listpack_bytes(out), true), 0);
    listpack_destroy(&acct, out);
}

Test(quicklist, insert_at_node_edges)
{
    /* fill 4: LINSERT after the last entry of a full node goes to the
     * next node's head when it has room, else to a new node. */
    struct quicklist *ql = quicklist_create(&acct, 4, 0);
    const char *v[] = {"a", "b", "c", "d", "e", "f"};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(quicklist_push(&acct, ql, QUICKLIST_TAIL, v[i], 1), 0);
    cr_assert_eq(quicklist_node_count(ql), 2); /* [a b c d] [e f] */
    cr_assert_eq(quicklist_insert_pivot(&acct, ql, "d", 1, LISTPACK_AFTER, "x", 1), 1);
    cr_assert_eq(quicklist_node_count(ql), 2); /* [a b c d] [x e f] */
    cr_assert_eq(quicklist_insert_pivot(&acct, ql, "x", 1, LISTPACK_BEFORE, "y", 1), 1);
    cr_assert_eq(quicklist_node_count(ql), 2); /* [a b c d] [y x e f] */
    cr_assert_eq(quicklist_insert_pivot(&acct, ql, "d", 1, LISTPACK_AFTER, "z", 1), 1);
    cr_assert_eq(quicklist_node_count(ql), 3); /* [a b c d] [z] [y x e f] */
    /* In the middle of a full node: split. */
    cr_assert_eq(quicklist_insert_pivot(&acct, ql, "b", 1, LISTPACK_AFTER, "w", 1), 1);
    check(ql);
    const char *want[] = {"a", "b", "w", "c", "d", "z", "y", "x", "e", "f"};
    struct model m = {0};
    for (int i = 0; i < 10; i++)
        m_insert(&m, (size_t)i, want[i], 1);
    compare(ql, &m);
    m_free(&m);
    /* Deleting most of it merges what is left. */
    size_t removed;
    cr_assert_eq(quicklist_rem(&acct, ql, "z", 1, 0, &removed), 0);
    cr_assert_eq(quicklist_rem(&acct, ql, "y", 1, 0, &removed), 0);
    cr_assert_eq(quicklist_rem(&acct, ql, "x", 1, 0, &removed), 0);
    cr_assert_eq(quicklist_rem(&acct, ql, "w", 1, 0, &removed), 0);
    cr_assert_eq(quicklist_len(ql), 6);
    cr_assert_eq(quicklist_node_count(ql), 2);
    check(ql);
    quicklist_destroy(&acct, ql);
}

Test(quicklist, destroy_in_steps)
{
    struct quicklist *ql = quicklist_create(&acct, -2, 1);
    push_n(ql, QUICKLIST_TAIL, 50000, 40, true);
    size_t nodes = quicklist_node_count(ql), steps = 1;
    while (!quicklist_destroy_step(&acct, ql, 16)) {
        steps++;
        cr_assert_eq((int64_t)quicklist_bytes(ql), acct.used);
    }
    cr_assert_eq(steps, (nodes + 15) / 16);
}

/* A million 16-byte strings: pushes at both ends allocate only when a node
 * starts (a node and its listpack) and when a listpack outgrows its
 * allocator size class, so the last pushes cost what the first did. */
/* 200,000 elements: enough for the per-element figure, and quick under
 * ThreadSanitizer on a loaded machine (a million took over 60 s there). */
Test(quicklist, pushes_are_o1, .timeout = 120)
{
    for (int end = 0; end < 2; end++) {
        enum quicklist_end where = end ? QUICKLIST_HEAD : QUICKLIST_TAIL;
        struct quicklist *ql = quicklist_create(&acct, -2, 0);
        uint64_t a0 = acct.allocs;
        push_n(ql, where, 10000, 16, false);
        uint64_t first = acct.allocs - a0;
        push_n(ql, where, 180000, 16, false);
        uint64_t a1 = acct.allocs;
        push_n(ql, where, 10000, 16, false);
        uint64_t last = acct.allocs - a1;
        cr_assert_eq(quicklist_len(ql), 200000);
        size_t nodes = quicklist_node_count(ql);
        cr_assert_eq(nodes, (200000 + 453) / 454);
        /* Two blocks per node, nothing else. */
        cr_assert_leq(acct.allocs - a0, 2 * nodes);
        cr_assert_leq(last, first + 2);
        double per = (double)quicklist_bytes(ql) / 2e5;
        cr_log_info("%s x 200,000 16-byte strings: %zu bytes, %.2f B/element, %zu nodes",
                    end ? "LPUSH" : "RPUSH", quicklist_bytes(ql), per, nodes);
        /* 18 bytes an entry in the listpack, 8 KB blocks, a 48-byte node
         * per 454 entries: about 18.1 B. */
        cr_assert_lt(per, 18.5);
        /* Popping it all, from the other end, gives every byte back. */
        size_t popped = 0;
        while (quicklist_pop(&acct, ql, end ? QUICKLIST_TAIL : QUICKLIST_HEAD, NULL, NULL) == 1)
            popped++;
        cr_assert_eq(popped, 200000);
        cr_assert_eq(quicklist_node_count(ql), 0);
        cr_assert_eq((int64_t)quicklist_bytes(ql), acct.used);
        quicklist_destroy(&acct, ql);
        cr_assert_eq(acct.used, 0);
    }
}
