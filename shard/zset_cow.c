/* zset_cow.c — a tree sorted set's copy-on-write for a snapshot: once
 * armed (zset_cow_begin), every element present at that moment is handed
 * out exactly once, as it was then, either by the cursor (zset_cow_step,
 * which walks the tree in order) or by the write about to change or remove
 * it (zset_cow_touch), so a write costs one element, never the set.
 *
 * What is still owed: an element is captured once the cursor has passed
 * its key (the cursor keeps a copy of the last key it walked; an element
 * that was never written keeps its key, so it was walked) or once it is in
 * `written`, the set of blocks written since the arming. Every block a
 * write changes, replaces or creates goes into `written` (after being
 * handed out if still owed), and the cursor skips what is in it. A freed
 * block's address may come back for a new member: that member is written
 * after the arming and goes into `written` anyway.
 *
 * The tracking memory is the snapshot's (malloc), not the set's account:
 * MEMORY USAGE and used_memory are unchanged by a capture. Owner shard's
 * thread only. */
#include <stdlib.h>
#include <string.h>

#include "shard/zset_internal.h"

/* `written` starts at this many slots and doubles at half full. */
#define WRITTEN_MIN 64

struct zset_cow {
    zset_cow_fn fn;          /* gets each element as of the arming */
    zset_cow_retire_fn retire; /* gets the set when its key lets go */
    void *arg;               /* their argument */
    bool started;            /* the cursor has walked an element (last is set) */
    bool done;               /* the cursor has walked every element */
    double last_score;       /* the last key the cursor walked: score, */
    unsigned char *last_m;   /* member (malloc'd), */
    size_t last_len;         /* its length */
    size_t last_cap;         /* and room */
    uintptr_t *written;      /* open addressing set of block addresses (0 = free) */
    size_t wcap;             /* slots in written (a power of two) */
    size_t wn;               /* addresses held */
};

/* ------------------------------------------------------------- written */

/* Fibonacci hashing of an address: blocks are 16-byte aligned, so the
 * product's high bits are the well-mixed ones. */
static size_t slot_of(uintptr_t b, size_t cap)
{
    return (size_t)(((uint64_t)b * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static bool written_has(const struct zset_cow *c, const unsigned char *b)
{
    if (!c->wn)
        return false;
    for (size_t i = slot_of((uintptr_t)b, c->wcap);; i = (i + 1) & (c->wcap - 1)) {
        if (c->written[i] == (uintptr_t)b)
            return true;
        if (!c->written[i])
            return false;
    }
}

static void put(uintptr_t *t, size_t cap, uintptr_t b)
{
    size_t i = slot_of(b, cap);
    while (t[i] && t[i] != b)
        i = (i + 1) & (cap - 1);
    t[i] = b;
}

/* Add b; false when out of memory. */
static bool written_add(struct zset_cow *c, const unsigned char *b)
{
    if ((c->wn + 1) * 2 > c->wcap) {
        size_t cap = c->wcap ? c->wcap * 2 : WRITTEN_MIN;
        uintptr_t *t = calloc(cap, sizeof *t);
        if (!t)
            return false;
        for (size_t i = 0; i < c->wcap; i++)
            if (c->written[i])
                put(t, cap, c->written[i]);
        free(c->written);
        c->written = t;
        c->wcap = cap;
    }
    if (!written_has(c, b))
        c->wn++;
    put(c->written, c->wcap, (uintptr_t)b);
    return true;
}

/* -------------------------------------------------------------- cursor */

/* zt_below_fn: keys up to the cursor's last one. */
static bool walked(const void *arg, const unsigned char *b)
{
    const struct zset_cow *c = arg;
    size_t len;
    const unsigned char *m = zmem_member(b, &len);
    return zset_cmp(zmem_score(b), m, len, c->last_score, c->last_m, c->last_len) <= 0;
}

static void hand_out(struct zset_cow *c, const unsigned char *b)
{
    struct zset_elem e;
    e.m = zmem_member(b, &e.len);
    e.score = zmem_score(b);
    c->fn(c->arg, &e);
}

/* Remember b's key as the last walked; false when out of memory. */
static bool set_last(struct zset_cow *c, const unsigned char *b)
{
    size_t len;
    const unsigned char *m = zmem_member(b, &len);
    if (len > c->last_cap) {
        unsigned char *n = realloc(c->last_m, len);
        if (!n)
            return false;
        c->last_m = n;
        c->last_cap = len;
    }
    if (len)
        memcpy(c->last_m, m, len);
    c->last_len = len;
    c->last_score = zmem_score(b);
    c->started = true;
    return true;
}

static struct zset_big *BIG(const struct tval *tv)
{
    return (struct zset_big *)tv->u.p;
}

int zset_cow_begin(struct tval *tv, zset_cow_fn fn, zset_cow_retire_fn retire, void *arg)
{
    if (tv->enc != ZSET_ENC_TREE || BIG(tv)->cow)
        return ZSET_ETOOBIG;
    struct zset_cow *c = calloc(1, sizeof *c);
    if (!c)
        return ZSET_ENOMEM;
    c->fn = fn;
    c->retire = retire;
    c->arg = arg;
    BIG(tv)->cow = c;
    return 0;
}

bool zset_cow_armed(const struct tval *tv)
{
    return tv->enc == ZSET_ENC_TREE && BIG(tv)->cow != NULL;
}

bool zset_cow_step(struct tval *tv, size_t n)
{
    struct zset_big *z = BIG(tv);
    struct zset_cow *c = z->cow;
    if (c->done)
        return true;
    uint64_t r = c->started ? zt_count_below(z, walked, c) : 0;
    if (r >= z->count) {
        c->done = true;
        return true;
    }
    struct zset_path p;
    unsigned char *b = zt_select(z, r, &p), *last = NULL;
    for (; b && n; n--) {
        if (!written_has(c, b))
            hand_out(c, b);
        last = b;
        b = zt_path_next(&p);
    }
    if (!b) {
        c->done = true;
        return true;
    }
    if (last && !set_last(c, last)) {
        c->fn(c->arg, NULL);
        c->done = true;
    }
    return c->done;
}

void zset_cow_end(struct tval *tv)
{
    struct zset_big *z = BIG(tv);
    struct zset_cow *c = z->cow;
    if (!c)
        return;
    free(c->last_m);
    free(c->written);
    free(c);
    z->cow = NULL;
}

bool zset_cow_retire(struct tval *tv, struct mem_acct *a)
{
    if (!zset_cow_armed(tv))
        return false;
    struct zset_cow *c = BIG(tv)->cow;
    c->retire(c->arg, tv, a);
    return true;
}

/* --------------------------------------------------------------- writes */

void zset_cow_touch(struct zset_big *z, const unsigned char *b)
{
    struct zset_cow *c = z->cow;
    if (c->done || written_has(c, b))
        return;
    if (!c->started || !walked(c, b))
        hand_out(c, b);
    if (!written_add(c, b)) {
        /* The cursor could hand out b's new state: give up on this
         * capture rather than write a wrong file. */
        c->fn(c->arg, NULL);
        c->done = true;
    }
}

void zset_cow_created(struct zset_big *z, const unsigned char *b)
{
    struct zset_cow *c = z->cow;
    if (c->done || written_add(c, b))
        return;
    c->fn(c->arg, NULL);
    c->done = true;
}
