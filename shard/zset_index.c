/* zset_index.c — a big sorted set's member blocks and its member index:
 * member -> block (which holds the score), for O(1) ZSCORE and for finding
 * a member's tree key on ZREM and score updates. Open addressing over
 * groups of 8 slots with a control byte per slot (7 hash bits), grown by
 * about 1.5x and resized incrementally, a couple of groups per write, so no
 * write pays for the whole table. Owner shard's thread only. */
#include <assert.h>
#include <string.h>

#include "common/hash.h"
#include "shard/zset_internal.h"

/* Control bytes: empty ends a probe, deleted does not, a full slot keeps
 * the top 7 bits of its member's hash (0x80 set). */
#define CTRL_EMPTY   0x00
#define CTRL_DELETED 0x01
#define GROUP        8

/* Groups a resize moves per write: two groups against one insert keeps
 * the new table below its load limit until the move ends (see reserve). */
#define MOVE_GROUPS 2
/* Tables of this many bytes or more come from mem_map: zeroed for free and
 * given back a slice at a time. */
#define MAP_MIN_BYTES (256u << 10)
/* Never shrink below this many groups. */
#define MIN_GROUPS 2

static const uint64_t LO = 0x0101010101010101ull;
static const uint64_t HI = 0x8080808080808080ull;

_Thread_local long zset_fail_countdown = -1;

void zset_test_fail_after(long n)
{
    zset_fail_countdown = n;
}

/* Fault injection for tests: true when this allocation is to fail. */
static bool inject_fail(void)
{
    if (zset_fail_countdown < 0)
        return false;
    return zset_fail_countdown-- == 0;
}

void *zt_alloc(struct mem_acct *a, uint64_t *bytes, size_t n)
{
    void *p = inject_fail() ? NULL : mem_alloc(a, n);
    if (p)
        *bytes += mem_usable(p);
    return p;
}

void zt_free(struct mem_acct *a, uint64_t *bytes, void *p)
{
    if (!p)
        return;
    *bytes -= mem_usable(p);
    mem_free(a, p);
}

unsigned char *zmem_new(struct mem_acct *a, uint64_t *bytes, const void *member, size_t len,
                        double score)
{
    if (len > UINT32_MAX)
        return NULL;
    size_t hdr = len < ZMEM_LEN_LONG ? 9 : 13;
    unsigned char *b = zt_alloc(a, bytes, hdr + (len ? len : 1));
    if (!b)
        return NULL;
    zmem_set_score(b, score);
    if (hdr == 9) {
        b[8] = (unsigned char)len;
    } else {
        uint32_t l = (uint32_t)len;
        b[8] = ZMEM_LEN_LONG;
        memcpy(b + 9, &l, sizeof l);
    }
    if (len)
        memcpy(b + hdr, member, len);
    return b;
}

void zmem_free(struct mem_acct *a, uint64_t *bytes, unsigned char *b)
{
    zt_free(a, bytes, b);
}

/* ------------------------------------------------------------ one table */

static uint64_t hash_of(const void *m, size_t len)
{
    return hash_key(m, len);
}

static uint8_t tag_of(uint64_t h)
{
    return (uint8_t)(0x80 | (h >> 57));
}

/* Home group from the low 32 bits (the tag uses the top ones). */
static uint64_t home_of(const struct zindex_table *t, uint64_t h)
{
    return ((uint64_t)(uint32_t)h * t->ngroups) >> 32;
}

static uint64_t group_ctrl(const struct zindex_table *t, uint64_t g)
{
    uint64_t c;
    memcpy(&c, t->ctrl + g * GROUP, sizeof c);
    return c;
}

/* Bytes equal to tag: may flag a byte above a true match falsely, which
 * only costs a compare. */
static uint64_t match_tag(uint64_t c, uint8_t tag)
{
    uint64_t x = c ^ (LO * tag);
    return (x - LO) & ~x & HI;
}

/* Exact: the lowest flagged byte of a zero test is always a true zero. */
static bool has_empty(uint64_t c)
{
    return ((c - LO) & ~c & HI) != 0;
}

/* Empty or deleted bytes (high bit clear): exact. */
static uint64_t match_free(uint64_t c)
{
    return ~c & HI;
}

static unsigned lowest(uint64_t mask)
{
    return (unsigned)(__builtin_ctzll(mask) >> 3);
}

static int table_alloc(struct zindex_table *t, struct mem_acct *a, uint64_t *bytes,
                       uint64_t ngroups)
{
    size_t n = (size_t)ngroups * GROUP * (1 + sizeof(unsigned char *));
    void *p;
    bool mapped = n >= MAP_MIN_BYTES;
    if (inject_fail()) {
        p = NULL;
    } else if (mapped) {
        p = mem_map(a, n);
        if (p)
            *bytes += mem_map_size(n);
    } else {
        p = mem_calloc(a, n);
        if (p)
            *bytes += mem_usable(p);
    }
    if (!p)
        return ZSET_ENOMEM;
    t->ctrl = p;
    t->slot = (unsigned char **)(t->ctrl + ngroups * GROUP);
    t->ngroups = ngroups;
    t->full = 0;
    t->deleted = 0;
    t->alloc = n;
    t->mapped = mapped;
    return 0;
}

static void table_free(struct zindex_table *t, struct mem_acct *a, uint64_t *bytes)
{
    if (!t->ctrl)
        return;
    if (t->mapped) {
        *bytes -= mem_map_size(t->alloc);
        mem_unmap(a, t->ctrl, t->alloc);
    } else {
        *bytes -= mem_usable(t->ctrl);
        mem_free(a, t->ctrl);
    }
    memset(t, 0, sizeof *t);
}

static unsigned char *table_find(const struct zindex_table *t, uint64_t h, const void *m,
                                 size_t len)
{
    if (!t->ngroups)
        return NULL;
    uint8_t tag = tag_of(h);
    uint64_t g = home_of(t, h);
    for (uint64_t probes = 0; probes < t->ngroups; probes++) {
        uint64_t c = group_ctrl(t, g);
        for (uint64_t mm = match_tag(c, tag); mm; mm &= mm - 1) {
            unsigned i = lowest(mm);
            if (t->ctrl[g * GROUP + i] != tag)
                continue;
            unsigned char *b = t->slot[g * GROUP + i];
            size_t bl;
            const unsigned char *bm = zmem_member(b, &bl);
            if (bl == len && (len == 0 || memcmp(bm, m, len) == 0))
                return b;
        }
        if (has_empty(c))
            return NULL;
        if (++g == t->ngroups)
            g = 0;
    }
    return NULL;
}

/* The index of the slot holding block b, which is in t, or -1. */
static int64_t table_slot_of(const struct zindex_table *t, uint64_t h, const unsigned char *b)
{
    if (!t->ngroups)
        return -1;
    uint8_t tag = tag_of(h);
    uint64_t g = home_of(t, h);
    for (uint64_t probes = 0; probes < t->ngroups; probes++) {
        uint64_t c = group_ctrl(t, g);
        for (uint64_t mm = match_tag(c, tag); mm; mm &= mm - 1) {
            unsigned i = lowest(mm);
            if (t->ctrl[g * GROUP + i] == tag && t->slot[g * GROUP + i] == b)
                return (int64_t)(g * GROUP + i);
        }
        if (has_empty(c))
            return -1;
        if (++g == t->ngroups)
            g = 0;
    }
    return -1;
}

static void table_put(struct zindex_table *t, uint64_t h, unsigned char *b)
{
    uint64_t g = home_of(t, h);
    for (;;) {
        uint64_t mm = match_free(group_ctrl(t, g));
        if (mm) {
            uint64_t s = g * GROUP + lowest(mm);
            if (t->ctrl[s] == CTRL_DELETED)
                t->deleted--;
            t->ctrl[s] = tag_of(h);
            t->slot[s] = b;
            t->full++;
            return;
        }
        if (++g == t->ngroups)
            g = 0;
    }
}

static void table_clear_slot(struct zindex_table *t, uint64_t s)
{
    uint64_t g = s / GROUP;
    /* A probe never went past a group that had an empty slot, so a slot in
     * such a group may become empty; elsewhere it must stay a tombstone. */
    if (has_empty(group_ctrl(t, g))) {
        t->ctrl[s] = CTRL_EMPTY;
    } else {
        t->ctrl[s] = CTRL_DELETED;
        t->deleted++;
    }
    t->full--;
}

static uint64_t slots_of(const struct zindex_table *t)
{
    return t->ngroups * GROUP;
}

/* Load limit: 7/8 of the slots, tombstones counted. */
static bool over_limit(const struct zindex_table *t, uint64_t extra)
{
    return (t->full + t->deleted + extra) * 8 > slots_of(t) * 7;
}

/* Groups for live members at a load of 4/7, so a resize lands well below
 * the limit and the next one is ~1.5x away. */
static uint64_t groups_for(uint64_t live)
{
    uint64_t g = (live * 7 + 31) / 32;
    return g < MIN_GROUPS ? MIN_GROUPS : g;
}

/* ------------------------------------------------------------- resizing */

static void move_group(struct zindex *ix, struct mem_acct *a, uint64_t *bytes)
{
    struct zindex_table *t0 = &ix->t[0], *t1 = &ix->t[1];
    uint64_t g = ix->move_group++;
    for (unsigned i = 0; i < GROUP; i++) {
        uint64_t s = g * GROUP + i;
        if (t0->ctrl[s] < 0x80)
            continue;
        unsigned char *b = t0->slot[s];
        size_t len;
        const unsigned char *m = zmem_member(b, &len);
        table_put(t1, hash_of(m, len), b);
        /* Deleted, not empty: probes of members not moved yet may run
         * through this group. */
        t0->ctrl[s] = CTRL_DELETED;
        t0->full--;
        t0->deleted++;
    }
    if (ix->move_group == t0->ngroups) {
        table_free(t0, a, bytes);
        *t0 = *t1;
        memset(t1, 0, sizeof *t1);
        ix->resizing = false;
        ix->move_group = 0;
    }
}

static void step(struct zindex *ix, struct mem_acct *a, uint64_t *bytes, unsigned groups)
{
    while (ix->resizing && groups--)
        move_group(ix, a, bytes);
}

static int start_resize(struct zindex *ix, struct mem_acct *a, uint64_t *bytes, uint64_t live)
{
    int rc = table_alloc(&ix->t[1], a, bytes, groups_for(live));
    if (rc < 0)
        return rc;
    ix->resizing = true;
    ix->move_group = 0;
    return 0;
}

int zindex_reserve(struct zindex *ix, struct mem_acct *a, uint64_t *bytes)
{
    if (!ix->t[0].ngroups)
        return table_alloc(&ix->t[0], a, bytes, MIN_GROUPS);
    step(ix, a, bytes, MOVE_GROUPS);
    if (ix->resizing) {
        /* Cannot happen with the sizes above; finishing the move keeps the
         * promise anyway. */
        if (over_limit(&ix->t[1], 1))
            step(ix, a, bytes, UINT32_MAX);
        return 0;
    }
    if (!over_limit(&ix->t[0], 1))
        return 0;
    return start_resize(ix, a, bytes, ix->t[0].full + 1);
}

unsigned char *zindex_find(const struct zindex *ix, const void *member, size_t len)
{
    if (!ix->t[0].ngroups)
        return NULL;
    uint64_t h = hash_of(member, len);
    unsigned char *b = ix->resizing ? table_find(&ix->t[1], h, member, len) : NULL;
    return b ? b : table_find(&ix->t[0], h, member, len);
}

void zindex_insert(struct zindex *ix, struct mem_acct *a, uint64_t *bytes, unsigned char *b)
{
    (void)a;
    (void)bytes;
    size_t len;
    const unsigned char *m = zmem_member(b, &len);
    table_put(ix->resizing ? &ix->t[1] : &ix->t[0], hash_of(m, len), b);
}

/* The table and slot of block b. */
static struct zindex_table *locate(struct zindex *ix, const unsigned char *b, int64_t *slot)
{
    size_t len;
    const unsigned char *m = zmem_member(b, &len);
    uint64_t h = hash_of(m, len);
    if (ix->resizing) {
        *slot = table_slot_of(&ix->t[1], h, b);
        if (*slot >= 0)
            return &ix->t[1];
    }
    *slot = table_slot_of(&ix->t[0], h, b);
    assert(*slot >= 0);
    return &ix->t[0];
}

void zindex_replace(struct zindex *ix, unsigned char *old, unsigned char *nb)
{
    int64_t s;
    struct zindex_table *t = locate(ix, old, &s);
    t->slot[s] = nb;
}

void zindex_remove(struct zindex *ix, struct mem_acct *a, uint64_t *bytes, unsigned char *b)
{
    int64_t s;
    struct zindex_table *t = locate(ix, b, &s);
    table_clear_slot(t, (uint64_t)s);
    if (ix->resizing) {
        step(ix, a, bytes, MOVE_GROUPS);
        return;
    }
    /* Shrink below 1/8 full (Redis shrinks its dicts below 1/10); a refused
     * allocation only means no shrink. */
    struct zindex_table *t0 = &ix->t[0];
    if (t0->ngroups > MIN_GROUPS && t0->full * 8 < slots_of(t0) &&
        groups_for(t0->full) < t0->ngroups)
        (void)start_resize(ix, a, bytes, t0->full);
}

uint64_t zindex_count(const struct zindex *ix)
{
    return ix->t[0].full + ix->t[1].full;
}

/* ---------------------------------------------------------------- scan */

/* The hash positions a scan cursor walks: the low 32 bits home_of reads. */
#define SCAN_SPACE ((uint64_t)1 << 32)
/* Ranges one call may try before it returns short of count (Redis's SCAN
 * likewise stops after 10 * count empty buckets): a run of empty ranges
 * never costs one call more than this. */
#define SCAN_MAX_RANGES 16

/* Visit t's members whose position lies in [from, to). Their home groups
 * are home_of(from) .. home_of(to - 1); a member sits in its home group
 * or past it, before the first group that had an empty slot when it was
 * put (a group without one never gets one back: table_clear_slot), so the
 * walk ends at the first such group at or after the last home group. */
static uint64_t table_scan(const struct zindex_table *t, uint64_t from, uint64_t to,
                           zindex_visit_fn fn, void *arg)
{
    if (!t->ngroups || !t->full)
        return 0;
    uint64_t g = home_of(t, from), homes = home_of(t, to - 1) - g + 1, seen = 0;
    for (uint64_t k = 0; k < t->ngroups; k++) {
        for (unsigned i = 0; i < GROUP; i++) {
            uint64_t s = g * GROUP + i;
            if (t->ctrl[s] < 0x80)
                continue;
            size_t len;
            const unsigned char *m = zmem_member(t->slot[s], &len);
            uint64_t pos = (uint32_t)hash_of(m, len);
            if (pos >= from && pos < to) {
                fn(arg, t->slot[s]);
                seen++;
            }
        }
        if (k + 1 >= homes && has_empty(group_ctrl(t, g)))
            break;
        if (++g == t->ngroups)
            g = 0;
    }
    return seen;
}

uint64_t zindex_scan(const struct zindex *ix, uint64_t cursor, uint64_t count,
                     zindex_visit_fn fn, void *arg)
{
    uint64_t n = zindex_count(ix), got = 0;
    if (cursor >= SCAN_SPACE || n == 0)
        return 0;
    for (unsigned r = 0; r < SCAN_MAX_RANGES && got < count && cursor < SCAN_SPACE; r++) {
        /* A range expected to hold what is still wanted. */
        uint64_t want = count - got;
        uint64_t span = want >= n ? SCAN_SPACE
                                  : (uint64_t)(((unsigned __int128)want << 32) / n);
        if (span == 0)
            span = 1;
        uint64_t to = span >= SCAN_SPACE - cursor ? SCAN_SPACE : cursor + span;
        got += table_scan(&ix->t[0], cursor, to, fn, arg);
        if (ix->resizing)
            got += table_scan(&ix->t[1], cursor, to, fn, arg);
        cursor = to;
    }
    return cursor >= SCAN_SPACE ? 0 : cursor;
}

/* Give back up to budget bytes of t, a mapped table, from its tail. */
static bool table_shrink_step(struct zindex_table *t, struct mem_acct *a, uint64_t *bytes,
                              size_t budget)
{
    if (!t->mapped || t->alloc <= budget)
        return false;
    size_t keep = t->alloc - budget;
    *bytes -= mem_map_size(t->alloc) - mem_map_size(keep);
    mem_unmap_tail(a, t->ctrl, t->alloc, keep);
    t->alloc = keep;
    return true;
}

bool zindex_destroy_step(struct zindex *ix, struct mem_acct *a, uint64_t *bytes, size_t budget)
{
    for (int i = 1; i >= 0; i--) {
        struct zindex_table *t = &ix->t[i];
        if (!t->ctrl)
            continue;
        if (table_shrink_step(t, a, bytes, budget))
            return false;
        table_free(t, a, bytes);
        return false;
    }
    ix->resizing = false;
    return true;
}
