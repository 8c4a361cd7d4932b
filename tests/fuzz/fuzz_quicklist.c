/* fuzz_quicklist.c — libFuzzer target for shard/quicklist*.c. The input is
 * a program: its first two bytes pick the fill and the compress depth, and
 * every following byte an operation (push, pop, LSET, LINSERT, range
 * deletion, LREM, LPOS, iterator deletions, conversions, copies, rebuilding
 * from node blobs) with its arguments taken from the bytes after it. Each
 * step is checked against a plain array model, and the list's invariants
 * (quicklist_check, strict) and its byte figure against the account after
 * every step; everything must be given back at the end. When bit 2 of the
 * second byte is set, a snapshot's capture (quicklist_cow.c) is armed
 * after a number of steps the byte picks and stepped as the program runs:
 * the nodes it hands out, in order, must hold exactly the list at the
 * arming. Single-threaded. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "shard/listpack.h"
#include "shard/lzf.h"
#include "shard/quicklist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stop the run with a message: libFuzzer records the input as a crash. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_quicklist: check failed: %s (line %d)\n", #cond, __LINE__);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Bounds that keep one input fast: the model is an array, and every
 * check and compare walks (and decompresses) the whole list, so its bytes
 * are bounded too: 4000 values of 9 KB made a 36 MB list and a 39 s input. */
#define MAX_ELEMS 4000
#define MAX_LEN   9000
#define MAX_BYTES (512 * 1024)

struct elem {
    unsigned char *p;
    size_t len;
};

static struct elem model[MAX_ELEMS];
static size_t nmodel;
static size_t model_bytes; /* the model's value bytes */
static struct mem_acct acct;

/* The input as a stream of argument bytes; 0 once it runs out. */
struct in {
    const uint8_t *p;
    size_t n;
};

static unsigned take(struct in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static int64_t take_index(struct in *in)
{
    /* Mostly near the ends, both signs, sometimes anywhere. */
    unsigned b = take(in);
    int64_t n = (int64_t)nmodel;
    if (b & 0x80)
        return (int64_t)((b & 0x7f) | take(in) << 7) % (n + 3) - (b & 0x40 ? n : 0);
    return (b & 0x40) ? -(int64_t)(b & 0x3f) - 1 : (int64_t)(b & 0x3f);
}

/* A value: one of a few short strings or integers (so that matches
 * happen), or bytes of a chosen length with a repeat pattern. */
static size_t take_value(struct in *in, unsigned char *buf)
{
    static const char *const small[] = {"a", "b", "0", "-1", "127", "4096", "x1", "65536"};
    unsigned b = take(in);
    if (b < 128) {
        const char *s = small[b & 7];
        memcpy(buf, s, strlen(s));
        return strlen(s);
    }
    size_t len = (size_t)(b & 0x3f);
    if (b & 0x40)
        len = len * 140 + take(in); /* up to ~9 KB: bigger than a 4 KB or 8 KB node */
    if (len > MAX_LEN)
        len = MAX_LEN;
    unsigned pat = take(in);
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)(pat + (i % (1 + (pat & 7))));
    return len;
}

static bool elem_eq(const struct elem *e, const void *s, size_t len)
{
    return e->len == len && (len == 0 || memcmp(e->p, s, len) == 0);
}

static void model_insert(size_t at, const unsigned char *s, size_t len)
{
    memmove(&model[at + 1], &model[at], (nmodel - at) * sizeof model[0]);
    model[at].p = malloc(len ? len : 1);
    CHECK(model[at].p != NULL);
    memcpy(model[at].p, s, len);
    model[at].len = len;
    model_bytes += len;
    nmodel++;
}

/* Whether a value of len bytes more keeps the model within its bounds. */
static bool model_room(size_t len)
{
    return nmodel < MAX_ELEMS && model_bytes + len <= MAX_BYTES;
}

static void model_delete(size_t at)
{
    model_bytes -= model[at].len;
    free(model[at].p);
    memmove(&model[at], &model[at + 1], (nmodel - at - 1) * sizeof model[0]);
    nmodel--;
}

static size_t text(const struct listpack_entry *e, char *buf, const unsigned char **out)
{
    if (e->str) {
        *out = e->str;
        return e->len;
    }
    *out = (const unsigned char *)buf;
    return (size_t)snprintf(buf, LISTPACK_INTBUF_SIZE, "%" PRId64, e->num);
}

static void compare(struct quicklist *ql)
{
    struct quicklist_iter it;
    struct listpack_entry e;
    char buf[LISTPACK_INTBUF_SIZE];
    const unsigned char *t;
    size_t i = 0;
    CHECK(quicklist_len(ql) == nmodel);
    quicklist_iter_init(&it, &acct, ql, 0, true);
    while (quicklist_iter_next(&it, &e) == 1) {
        size_t tl = text(&e, buf, &t);
        CHECK(i < nmodel && elem_eq(&model[i], t, tl));
        i++;
    }
    quicklist_iter_release(&it);
    CHECK(i == nmodel);
}

static void check(struct quicklist *ql)
{
    const char *err = quicklist_check(&acct, ql, true);
    if (err)
        fprintf(stderr, "fuzz_quicklist: %s\n", err);
    CHECK(err == NULL);
    CHECK((int64_t)quicklist_bytes(ql) == acct.used);
}

struct popped {
    unsigned char buf[MAX_LEN];
    size_t len;
};

static void save_entry(void *ctx, const struct listpack_entry *e)
{
    struct popped *p = ctx;
    char ib[LISTPACK_INTBUF_SIZE];
    const unsigned char *t;
    p->len = text(e, ib, &t);
    memcpy(p->buf, t, p->len);
}

struct positions {
    int64_t idx[16];
    size_t n;
};

static void save_pos(void *ctx, int64_t index)
{
    struct positions *p = ctx;
    if (p->n < 16)
        p->idx[p->n] = index;
    p->n++;
}

/* ------------------------------------------------ a capture (cow) */

static struct elem cut[MAX_ELEMS]; /* the model at the arming */
static size_t ncut;
static size_t cut_nodes;           /* nodes at the arming */
static size_t cap_got, cap_got_nodes; /* entries and nodes handed out so far */
static bool armed;

static void cap_node(void *arg, const struct quicklist_blob *b)
{
    (void)arg;
    unsigned char *lp = malloc(b->raw_len);
    CHECK(lp != NULL);
    if (b->compressed)
        CHECK(lzf_decompress(b->data, b->len, lp, b->raw_len));
    else
        memcpy(lp, b->data, b->len);
    CHECK(listpack_validate(lp, b->raw_len, true) == 0);
    CHECK(listpack_count(lp) == b->count);
    for (const unsigned char *q = listpack_first(lp); q; q = listpack_next(lp, q)) {
        struct listpack_entry e;
        char ib[LISTPACK_INTBUF_SIZE];
        const unsigned char *t;
        listpack_get(q, &e);
        size_t tl = text(&e, ib, &t);
        CHECK(cap_got < ncut && elem_eq(&cut[cap_got], t, tl));
        cap_got++;
    }
    free(lp);
    cap_got_nodes++;
}

static void cap_copied(void *arg)
{
    (void)arg;
}

static void cap_failed(void *arg)
{
    (void)arg;
    CHECK(!"a capture ran out of memory");
}

static void cap_retire(void *arg, void *owner, struct mem_acct *a)
{
    (void)arg, (void)owner, (void)a;
    CHECK(!"nothing frees an armed list here");
}

static const struct quicklist_cow_ops cap_ops = {cap_node, cap_copied, cap_failed, cap_retire};

static void cap_begin(struct quicklist *ql)
{
    for (size_t i = 0; i < nmodel; i++) {
        cut[i].p = malloc(model[i].len ? model[i].len : 1);
        CHECK(cut[i].p != NULL);
        memcpy(cut[i].p, model[i].p, model[i].len);
        cut[i].len = model[i].len;
    }
    ncut = nmodel;
    cut_nodes = quicklist_node_count(ql);
    cap_got = cap_got_nodes = 0;
    CHECK(quicklist_cow_begin(ql, &cap_ops, NULL) == 0);
    CHECK(quicklist_cow_begin(ql, &cap_ops, NULL) == QUICKLIST_EINVAL);
    armed = true;
}

/* Step the capture to its end, check what came out, disarm. */
static void cap_finish(struct quicklist *ql)
{
    if (!armed)
        return;
    while (!quicklist_cow_step(ql, 3))
        ;
    CHECK(cap_got == ncut && cap_got_nodes == cut_nodes);
    quicklist_cow_end(ql);
    CHECK(!quicklist_cow_armed(ql));
    for (size_t i = 0; i < ncut; i++)
        free(cut[i].p);
    ncut = 0;
    armed = false;
}

static struct quicklist *step(struct quicklist *ql, unsigned op, struct in *in, int fill, int depth)
{
    static unsigned char buf[MAX_LEN], pv[MAX_LEN];
    static struct popped pop;

    switch (op % 13) {
    case 0:
    case 1: { /* push, possibly many copies */
        bool head = op & 0x10;
        unsigned copies = op & 0x20 ? 1 + take(in) : 1;
        size_t len = take_value(in, buf);
        for (unsigned c = 0; c < copies && model_room(len); c++) {
            CHECK(quicklist_push(&acct, ql, head ? QUICKLIST_HEAD : QUICKLIST_TAIL, buf, len) == 0);
            model_insert(head ? 0 : nmodel, buf, len);
        }
        break;
    }
    case 2: { /* pop */
        bool head = op & 0x10;
        int rc = quicklist_pop(&acct, ql, head ? QUICKLIST_HEAD : QUICKLIST_TAIL, save_entry, &pop);
        CHECK(rc == (nmodel ? 1 : 0));
        if (nmodel) {
            size_t at = head ? 0 : nmodel - 1;
            CHECK(elem_eq(&model[at], pop.buf, pop.len));
            model_delete(at);
        }
        break;
    }
    case 3: { /* LSET */
        int64_t idx = take_index(in);
        size_t len = take_value(in, buf);
        if (model_bytes + len > MAX_BYTES)
            break;
        int rc = quicklist_replace_at(&acct, ql, idx, buf, len);
        int64_t i = idx < 0 ? idx + (int64_t)nmodel : idx;
        if (i < 0 || i >= (int64_t)nmodel) {
            CHECK(rc == QUICKLIST_ERANGE);
        } else {
            CHECK(rc == 0);
            model_delete((size_t)i);
            model_insert((size_t)i, buf, len);
        }
        break;
    }
    case 4: { /* LINSERT */
        size_t pl = take_value(in, pv);
        size_t len = take_value(in, buf);
        bool after = op & 0x10;
        if (!model_room(len))
            break;
        int rc = quicklist_insert_pivot(&acct, ql, pv, pl, after ? LISTPACK_AFTER : LISTPACK_BEFORE,
                                        buf, len);
        size_t at = 0;
        while (at < nmodel && !elem_eq(&model[at], pv, pl))
            at++;
        CHECK(rc == (at < nmodel ? 1 : 0));
        if (at < nmodel)
            model_insert(after ? at + 1 : at, buf, len);
        break;
    }
    case 5: { /* range deletion */
        int64_t start = take_index(in);
        int64_t count = (int64_t)take(in) - 8;
        if (op & 0x10)
            count *= 64;
        int64_t got = quicklist_del_range(&acct, ql, start, count);
        int64_t s = start < 0 ? start + (int64_t)nmodel : start, want = 0;
        if (count > 0 && s >= 0 && s < (int64_t)nmodel)
            want = count < (int64_t)nmodel - s ? count : (int64_t)nmodel - s;
        CHECK(got == want);
        for (int64_t j = 0; j < want; j++)
            model_delete((size_t)s);
        break;
    }
    case 6: { /* LREM */
        size_t pl = take_value(in, pv);
        int64_t count = (int64_t)(take(in) % 9) - 4;
        size_t removed, want = 0;
        CHECK(quicklist_rem(&acct, ql, pv, pl, count, &removed) == 0);
        if (count >= 0) {
            for (size_t i = 0; i < nmodel && (count == 0 || want < (size_t)count);) {
                if (elem_eq(&model[i], pv, pl)) {
                    model_delete(i);
                    want++;
                } else {
                    i++;
                }
            }
        } else {
            for (size_t i = nmodel; i > 0 && want < (size_t)-count; i--) {
                if (elem_eq(&model[i - 1], pv, pl)) {
                    model_delete(i - 1);
                    want++;
                }
            }
        }
        CHECK(removed == want);
        break;
    }
    case 7: { /* LPOS */
        size_t pl = take_value(in, pv);
        unsigned b = take(in);
        bool tail = b & 1;
        uint64_t rank = 1 + ((b >> 1) & 3), count = (b >> 3) & 3, maxlen = (b >> 5) * 7;
        struct positions got = {0}, want = {0};
        int64_t rc = quicklist_pos(&acct, ql, pv, pl, tail, rank, count, maxlen, save_pos, &got);
        uint64_t matches = 0;
        for (size_t s = 0; s < nmodel && (maxlen == 0 || s < maxlen); s++) {
            size_t i = tail ? nmodel - 1 - s : s;
            if (elem_eq(&model[i], pv, pl) && ++matches >= rank) {
                save_pos(&want, (int64_t)i);
                if (want.n == count)
                    break;
            }
        }
        CHECK(rc == (int64_t)want.n && got.n == want.n);
        for (size_t i = 0; i < got.n && i < 16; i++)
            CHECK(got.idx[i] == want.idx[i]);
        break;
    }
    case 8:
    case 9: { /* walk from an index deleting by a bit mask */
        bool fwd = op & 0x10;
        int64_t idx = take_index(in);
        unsigned mask = take(in) | take(in) << 8;
        unsigned len = 1 + take(in);
        struct quicklist_iter it;
        struct listpack_entry e;
        char ib[LISTPACK_INTBUF_SIZE];
        const unsigned char *t;
        quicklist_iter_init(&it, &acct, ql, idx, fwd);
        int64_t i = idx < 0 ? idx + (int64_t)nmodel : idx;
        for (unsigned k = 0; k < len && quicklist_iter_next(&it, &e) == 1; k++) {
            CHECK(i >= 0 && i < (int64_t)nmodel);
            size_t tl = text(&e, ib, &t);
            CHECK(elem_eq(&model[i], t, tl));
            if (mask >> (k % 16) & 1) {
                CHECK(quicklist_iter_del(&it) == 0);
                model_delete((size_t)i);
                if (fwd)
                    continue;
            }
            i += fwd ? 1 : -1;
        }
        quicklist_iter_release(&it);
        break;
    }
    case 10: { /* to a single listpack and back, when allowed */
        cap_finish(ql);
        unsigned char *lp;
        size_t nodes = quicklist_node_count(ql);
        int rc = quicklist_to_listpack(&acct, ql, &lp);
        CHECK(rc == (nodes > 1 ? QUICKLIST_EINVAL : 0));
        if (rc == 0) {
            CHECK(listpack_validate(lp, listpack_bytes(lp), true) == 0);
            CHECK(listpack_count(lp) == nmodel);
            ql = quicklist_from_listpack(&acct, lp, fill, depth);
            CHECK(ql != NULL);
        }
        break;
    }
    case 11: { /* copy, compare, drop */
        struct quicklist *c = quicklist_copy(&acct, ql);
        CHECK(c != NULL);
        CHECK(quicklist_check(&acct, c, true) == NULL);
        compare(c);
        quicklist_destroy(&acct, c);
        break;
    }
    default: { /* rebuild from node blobs, as an RDB load would */
        cap_finish(ql);
        struct quicklist *c = quicklist_create(&acct, fill, depth);
        CHECK(c != NULL);
        for (const struct quicklist_node *n = quicklist_node_first(ql); n;
             n = quicklist_node_next(n)) {
            struct quicklist_blob b;
            quicklist_node_blob(n, &b);
            unsigned char *lp = mem_alloc(&acct, b.raw_len);
            CHECK(lp != NULL);
            if (b.compressed)
                CHECK(lzf_decompress(b.data, b.len, lp, b.raw_len));
            else
                memcpy(lp, b.data, b.len);
            CHECK(listpack_validate(lp, b.raw_len, true) == 0);
            CHECK(quicklist_append_listpack(&acct, c, lp) == 0);
        }
        quicklist_destroy(&acct, ql);
        ql = c;
        break;
    }
    }
    return ql;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int fills[] = {-2, -1, -5, -3, 0, 1, 2, 3, 16, 128};
    struct in in = {data, size};
    int fill = fills[take(&in) % 10];
    unsigned d = take(&in);
    int depth = (int)(d % 4);
    /* Capture mode: armed after arm_at steps, stepped by one node every
     * 1, 2, 4 or 8 operations (a cursor that lags lets writes meet nodes
     * it has not reached). */
    bool capture = d & 4;
    int arm_at = (int)((d >> 3) & 7) * 16;
    int every = 1 << (d >> 6);
    memset(&acct, 0, sizeof acct);
    nmodel = 0;
    model_bytes = 0;
    struct quicklist *ql = quicklist_create(&acct, fill, depth);
    CHECK(ql != NULL);
    for (int steps = 0; in.n > 0 && steps < 500; steps++) {
        if (capture && steps == arm_at)
            cap_begin(ql);
        ql = step(ql, take(&in), &in, fill, depth);
        if (armed && steps % every == 0 && quicklist_cow_step(ql, 1))
            cap_finish(ql);
        /* Every step while small (in entries and in bytes); big lists
         * now and then, or a run spends its time in the checks. */
        if ((nmodel < 200 && model_bytes < 64 * 1024) || steps % 16 == 0) {
            check(ql);
            compare(ql);
        }
    }
    cap_finish(ql);
    check(ql);
    compare(ql);
    quicklist_destroy(&acct, ql);
    CHECK(acct.used == 0 && acct.allocs == acct.frees);
    while (nmodel)
        model_delete(nmodel - 1);
    return 0;
}
