/* quicklist_internal.h — what quicklist.c (nodes, compression, ends, RDB
 * blobs) and quicklist_iter.c (iterators and the commands' operations over
 * ranges and matches) share: the layout and the node-level steps. Private to
 * shard/quicklist*.c; everything else uses shard/quicklist.h. Owner
 * shard's thread only. */
#ifndef SKV_SHARD_QUICKLIST_INTERNAL_H
#define SKV_SHARD_QUICKLIST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"
#include "shard/listpack.h"
#include "shard/quicklist.h"

struct ql_pend;
struct ql_cow;

/* A node is raw (lp), compressed (lzf), or both while an operation reads
 * a compressed node: the compressed copy stays valid until the node is
 * changed, so a read-only visit frees the raw copy again instead of
 * compressing anew. */
struct quicklist_node {
    struct quicklist_node *prev; /* towards the head; NULL at the head */
    struct quicklist_node *next; /* towards the tail; NULL at the tail */
    unsigned char *lp;           /* the listpack, or NULL while only compressed */
    unsigned char *lzf;          /* LZF of the listpack, or NULL; dropped on any change */
    uint32_t sz;                 /* bytes of the listpack (known while compressed too) */
    uint32_t lzf_len;            /* bytes at lzf */
    uint32_t count;              /* entries, never 0 */
    uint8_t held;                /* iterators using lp: not to be compressed under them */
    uint8_t no_compress;         /* compressing this content did not pay; unset on change */
    uint32_t stamp;              /* ql->epoch when linked or captured (quicklist_cow.c) */
    struct ql_pend *pend;        /* a capture's records due before this node, or NULL */
};

struct quicklist {
    struct quicklist_node *head; /* first node, NULL when empty */
    struct quicklist_node *tail; /* last node */
    uint64_t count;              /* entries in all nodes */
    uint64_t nodes;              /* nodes in the chain */
    int64_t bytes;               /* usable bytes charged for the list (quicklist_bytes) */
    int32_t fill;                /* list-max-listpack-size, clamped */
    uint32_t depth;              /* list-compress-depth, clamped; 0 = no compression */
    uint32_t epoch;              /* bumped by each capture's start: new nodes' stamp */
    struct ql_cow *cow;          /* the running capture (quicklist_cow.c), or NULL */
};

/* quicklist_cow.c's write hooks, called only while ql->cow is set: touch
 * before n's entries change (n stays linked), unlink before n leaves the
 * chain (ql_node_remove calls it). */
void ql_cow_touch(struct quicklist *ql, struct quicklist_node *n);
void ql_cow_unlink(struct quicklist *ql, struct quicklist_node *n);

/* Bytes and entries limits of fill (see QUICKLIST_FILL_*). */
size_t ql_size_limit(int fill);
size_t ql_count_limit(int fill);

/* Whether a node of sz bytes and count entries is within ql's limits (a
 * node of one entry always is: an element larger than the limit gets a
 * node of its own). */
bool ql_node_fits(const struct quicklist *ql, size_t sz, size_t count);

/* What inserting s[0..len) into a node is judged to add to it: Redis's
 * estimate (len + 8, its SIZE_ESTIMATE_OVERHEAD), never less than the
 * exact bytes. Judging pushes as Redis does makes a list built by the same
 * commands split into the same nodes, so its DUMP is Redis's bytes; the
 * estimate only errs high, so nodes stay within the limits. */
size_t ql_insert_bytes(const void *s, size_t len);

/* The account's usage now; ql_charge adds what changed since to ql->bytes.
 * Each public entry point brackets its work with them, so the figure is
 * exact without following every allocation. */
static inline int64_t ql_mark(const struct mem_acct *a)
{
    return a->used;
}
static inline void ql_charge(struct quicklist *ql, const struct mem_acct *a, int64_t mark)
{
    ql->bytes += a->used - mark;
}

/* Make n's listpack available (decompress a compressed node, keeping the
 * compressed copy). Returns 0 or QUICKLIST_ENOMEM. */
int ql_node_raw(struct mem_acct *a, struct quicklist_node *n);

/* n's listpack changed: drop the stale compressed copy, refresh sz. */
void ql_node_touch(struct mem_acct *a, struct quicklist_node *n);

/* A new node holding only s[0..len), not linked. Returns 0,
 * QUICKLIST_ENOMEM or QUICKLIST_ETOOBIG. */
int ql_node_new_with(struct mem_acct *a, const void *s, size_t len, struct quicklist_node **out);

/* Link n after at (at NULL: as the new head) / before at (at NULL: as the
 * new tail). */
void ql_link_after(struct quicklist *ql, struct quicklist_node *at, struct quicklist_node *n);
void ql_link_before(struct quicklist *ql, struct quicklist_node *at, struct quicklist_node *n);

/* Unlink n from ql and free it with its blocks. Does not change ql->count. */
void ql_node_remove(struct mem_acct *a, struct quicklist *ql, struct quicklist_node *n);

/* Bring compression in line with the depth: the nodes within depth of
 * either end raw, the first ones past it compressed, and n (if not NULL)
 * compressed or raw as its position says. O(depth). Failures are soft. */
void ql_settle(struct mem_acct *a, struct quicklist *ql, struct quicklist_node *n);

/* Merge the adjacent nodes left and right (right's entries go to the end
 * of left, right is freed) when neither is held and the result is within
 * the limits. Returns true when merged. Failures are soft (false). */
bool ql_merge_pair(struct mem_acct *a, struct quicklist *ql, struct quicklist_node *left,
                   struct quicklist_node *right);

/* n (raw, not held) grew past the limits: split it into nodes within
 * them, try merging the outer pieces with their neighbours, and settle
 * compression for all of them. Failures are soft. */
void ql_normalize(struct mem_acct *a, struct quicklist *ql, struct quicklist_node *n);

/* The node holding entry index (0 <= index < ql->count) and the entry's
 * index inside it, walking from the nearer end. */
struct quicklist_node *ql_locate(const struct quicklist *ql, uint64_t index, uint32_t *in_node);

/* Byte helpers on listpacks whose entries are trusted: the header of lp
 * set for bytes and count; entries at off..off+len cut out. */
void ql_lp_set_header(unsigned char *lp, size_t bytes, size_t count);
void ql_lp_cut(struct mem_acct *a, unsigned char **lp, size_t off, size_t len, size_t count);

#endif
