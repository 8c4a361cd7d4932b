/* zset_internal.h — what the files of the sorted set type share: the member
 * block, the member index (zset_index.c), the order-statistics B-tree
 * (zset_tree.c) and the small listpack form (zset_lp.c). Private to
 * shard/zset*.c (use shard/zset.h). Owner shard's thread only. */
#ifndef SKV_SHARD_ZSET_INTERNAL_H
#define SKV_SHARD_ZSET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/mem.h"
#include "shard/zset.h"

/* ---------------------------------------------------------- member block
 *
 * A big sorted set holds each member once, in one block:
 *
 *   <score: double, 8 bytes> <length: 1 byte, or 0xFF and a u32> <bytes>
 *
 * The tree's keys and the index's slots are pointers to blocks; the score
 * sits in the block so that ZSCORE is one hash probe and one read, and a
 * 16-byte member with its score fits jemalloc's 32-byte class. */

/* Lengths from this one on take 0xFF and a 4-byte length. */
#define ZMEM_LEN_LONG 0xFF

static inline double zmem_score(const unsigned char *b)
{
    double d;
    memcpy(&d, b, sizeof d);
    return d;
}

static inline void zmem_set_score(unsigned char *b, double d)
{
    memcpy(b, &d, sizeof d);
}

/* The member's bytes; *len set to their number. */
static inline const unsigned char *zmem_member(const unsigned char *b, size_t *len)
{
    if (b[8] != ZMEM_LEN_LONG) {
        *len = b[8];
        return b + 9;
    }
    uint32_t l;
    memcpy(&l, b + 9, sizeof l);
    *len = l;
    return b + 13;
}

/* Redis's order: score, then member bytes (memcmp, a prefix first). -0.0
 * equals 0.0. Neither score is NaN. */
static inline int zset_cmp(double s1, const void *m1, size_t l1, double s2, const void *m2,
                           size_t l2)
{
    if (s1 < s2)
        return -1;
    if (s1 > s2)
        return 1;
    size_t l = l1 < l2 ? l1 : l2;
    int c = l ? memcmp(m1, m2, l) : 0;
    if (c)
        return c;
    return l1 < l2 ? -1 : l1 > l2 ? 1 : 0;
}

/* Member bytes against member bytes only (lex ranges). */
static inline int zset_lexcmp(const void *m1, size_t l1, const void *m2, size_t l2)
{
    size_t l = l1 < l2 ? l1 : l2;
    int c = l ? memcmp(m1, m2, l) : 0;
    if (c)
        return c;
    return l1 < l2 ? -1 : l1 > l2 ? 1 : 0;
}

/* A block of member[0..len) with score, charged to a and counted in
 * *bytes. NULL when out of memory. */
unsigned char *zmem_new(struct mem_acct *a, uint64_t *bytes, const void *member, size_t len,
                        double score);
void zmem_free(struct mem_acct *a, uint64_t *bytes, unsigned char *b);

/* ---------------------------------------------------------- member index
 *
 * member -> block: open addressing in groups of 8 slots, each slot a block
 * pointer with one control byte beside it (Swiss-table style: empty,
 * deleted, or full with 7 bits of the hash), so a miss rarely touches a
 * block. Growth is by 1.5x and incremental: a resize moves a few groups per
 * write, so no write pays O(n). */
struct zindex_table {
    uint8_t *ctrl;         /* ngroups * 8 control bytes, then the slots */
    unsigned char **slot;  /* ngroups * 8 block pointers (inside the same block) */
    uint64_t ngroups;      /* groups of 8 slots; 0 when absent */
    uint64_t full;         /* slots holding a block */
    uint64_t deleted;      /* tombstones */
    size_t alloc;          /* bytes of the array (for mem_unmap), 0 if absent */
    bool mapped;           /* the array came from mem_map */
};

struct zindex {
    struct zindex_table t[2]; /* t[0] main; t[1] the target of a resize */
    uint64_t move_group;      /* next t[0] group to move while resizing */
    bool resizing;            /* t[1] is live */
};

/* Make room for one more member: may start a resize (allocates). Returns 0
 * or ZSET_ENOMEM with nothing changed. Call before zindex_insert. */
int zindex_reserve(struct zindex *ix, struct mem_acct *a, uint64_t *bytes);

/* The block of member[0..len), or NULL. */
unsigned char *zindex_find(const struct zindex *ix, const void *member, size_t len);

/* Add block b (its member absent). Never fails after zindex_reserve. */
void zindex_insert(struct zindex *ix, struct mem_acct *a, uint64_t *bytes, unsigned char *b);

/* Swap the slot that holds old for nb (the same member). */
void zindex_replace(struct zindex *ix, unsigned char *old, unsigned char *nb);

/* Remove block b (present). May step or start a shrink. */
void zindex_remove(struct zindex *ix, struct mem_acct *a, uint64_t *bytes, unsigned char *b);

/* Members held. */
uint64_t zindex_count(const struct zindex *ix);

/* ZSCAN's walk: visit the members whose hash's low 32 bits (what picks a
 * member's home group, monotonically, whatever the table's size) lie at or
 * after position cursor, range by range, until at least count were visited
 * or the hash space ends. Returns the next position, 0 when done (a cursor
 * of 2^32 or more is done at once). A member present for the whole scan
 * lies in exactly one range, so it is visited once, across resizes and
 * deletes alike. No write may run during a call. */
typedef void (*zindex_visit_fn)(void *arg, const unsigned char *b);
uint64_t zindex_scan(const struct zindex *ix, uint64_t cursor, uint64_t count,
                     zindex_visit_fn fn, void *arg);

/* Free the tables (not the blocks); up to budget bytes of a mapped table
 * are given back per call. Returns true when nothing is left. */
bool zindex_destroy_step(struct zindex *ix, struct mem_acct *a, uint64_t *bytes, size_t budget);

/* ------------------------------------------------------------ the B-tree
 *
 * An order-statistics B-tree (keys in inner nodes too, each key once, so
 * no separator ever points at a freed member) of block pointers ordered by
 * (score, member). Inner nodes keep the element count of each child's
 * subtree, so rank and select are O(log n). */

/* Leaf: an 8-byte header and 63 keys fill jemalloc's 512-byte class. */
#define ZT_LEAF_MAX 63
/* Inner: header, 41 keys, 42 children, 42 counts: 1016 of 1024 bytes. */
#define ZT_INNER_MAX 41
#define ZT_LEAF_MIN  (ZT_LEAF_MAX / 2)
#define ZT_INNER_MIN (ZT_INNER_MAX / 2)
#define ZT_MAX_DEPTH ZSET_MAX_DEPTH

struct zt_node {
    uint16_t n;    /* keys held */
    uint8_t leaf;  /* 1 for a leaf (no children) */
    uint8_t pad[5];
    unsigned char *key[]; /* n block pointers in order; an inner node's
                           * children and counts follow its ZT_INNER_MAX keys */
};

struct zt_inner {
    uint16_t n;
    uint8_t leaf;
    uint8_t pad[5];
    unsigned char *key[ZT_INNER_MAX];
    struct zt_node *child[ZT_INNER_MAX + 1]; /* n + 1 children */
    uint64_t cnt[ZT_INNER_MAX + 1];          /* elements under each child */
};

/* A big sorted set: the tree and the index over the same blocks. */
struct zset_big {
    struct zt_node *root;  /* NULL when empty */
    uint64_t count;        /* elements */
    uint32_t height;       /* levels; 1 when the root is a leaf */
    struct zindex ix;      /* member -> block */
    struct zt_node *spare_leaf;  /* a leaf reserved for the next insert's split */
    struct zt_node *spare_inner; /* inner nodes reserved likewise, chained through key[0] */
    uint64_t bytes;        /* usable bytes of everything above, this struct included */
    struct zset_path kill;   /* destroy_step's position */
    bool dying;            /* destroy_step has started */
    struct zset_cow *cow;  /* a snapshot's capture (zset_cow.c), or NULL */
};

/* zset_cow.c's write hooks, called only while z->cow is set: touch before
 * block b (present) is changed in place or removed, created after block b
 * joined the set (a new member, or the replacement of a touched one). */
void zset_cow_touch(struct zset_big *z, const unsigned char *b);
void zset_cow_created(struct zset_big *z, const unsigned char *b);

/* Nodes visited by descents on this thread (tests count them to show
 * O(log n) behaviour). */
extern _Thread_local uint64_t zt_visits;

struct zset_big *zt_create(struct mem_acct *a);

/* Reserve the nodes an insert of (score, member) may need. 0 or
 * ZSET_ENOMEM (nothing changed). */
int zt_reserve(struct zset_big *z, struct mem_acct *a, double score, const void *m, size_t len);

/* Insert block b (not present); zt_reserve for its key came first. */
void zt_insert(struct zset_big *z, unsigned char *b);

/* Remove block b (present) from the tree; frees nodes, never allocates. */
void zt_remove(struct zset_big *z, struct mem_acct *a, unsigned char *b);

/* 0-based rank of block b (present). */
uint64_t zt_rank(const struct zset_big *z, const unsigned char *b);

/* Element at rank r (< count); *path (if not NULL) gets the path to it. */
unsigned char *zt_select(const struct zset_big *z, uint64_t r, struct zset_path *path);

/* Number of elements for which below(elem) holds, for a predicate that
 * holds for a prefix of the order. */
typedef bool (*zt_below_fn)(const void *arg, const unsigned char *b);
uint64_t zt_count_below(const struct zset_big *z, zt_below_fn below, const void *arg);

/* Neighbours of the element at the bottom of path: next / previous in
 * order, NULL at either end; the path moves with them. */
unsigned char *zt_path_next(struct zset_path *p);
unsigned char *zt_path_prev(struct zset_path *p);

/* Free the tree a slice at a time (blocks too): at most n blocks or nodes
 * per call; true when done (z is then freed, index included). */
bool zt_destroy_step(struct zset_big *z, struct mem_acct *a, size_t n);

/* Check every invariant; 0 or a negative line number of the failed check. */
int zt_check(const struct zset_big *z);

/* Charge-aware allocation of blocks counted in z->bytes. */
void *zt_alloc(struct mem_acct *a, uint64_t *bytes, size_t n);
void zt_free(struct mem_acct *a, uint64_t *bytes, void *p);

/* ---------------------------------------------------------- listpack form */

/* The score an entry of a zset listpack holds (integer or text). */
double zlp_score(const unsigned char *sp);

/* The member entry of member[0..len) in lp, or NULL; *score set when found. */
const unsigned char *zlp_find(const unsigned char *lp, const void *m, size_t len, double *score);

/* Insert (member, score) in order; *at (if not NULL) gets the new member
 * entry's offset. 0, ZSET_ENOMEM or ZSET_ETOOBIG (lp unchanged). m must
 * not point into *lp. */
int zlp_insert(struct mem_acct *a, unsigned char **lp, const void *m, size_t len, double score,
               size_t *at);

/* Delete the pair whose member entry is ep. */
void zlp_delete(struct mem_acct *a, unsigned char **lp, const unsigned char *ep);

/* Read the pair at member entry ep into *e. */
void zlp_read(const unsigned char *lp, const unsigned char *ep, struct zset_elem *e);

#endif
