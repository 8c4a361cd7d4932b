/* quicklist.h — the list type's storage for lists too big for one listpack:
 * a doubly linked chain of nodes, each holding a listpack (shard/listpack.h,
 * Redis's bytes) of a bounded size, as Redis's quicklist does. Pushes and
 * pops at either end touch one node (O(1), never a copy of the whole list);
 * an index walks nodes from the nearer end; nodes further than
 * list-compress-depth from both ends are kept LZF-compressed when that
 * saves bytes, and decompressed while an operation uses them.
 *
 * Ownership: a quicklist owns its nodes and their listpacks; every block is
 * charged to the struct mem_acct passed to each call, which must be the
 * same account for the list's whole life. Views of entries (struct
 * listpack_entry, struct quicklist_blob) point into the list and are valid
 * until the list is next modified or the iterator that returned them moves
 * or is released.
 *
 * Errors: functions return 0 (or a count) or a negative QUICKLIST_E* code.
 * An allocation that fails leaves the list's contents unchanged (the one
 * exception, quicklist_rem, says what it did). A failure in an optional
 * step (merging neighbours, compressing, splitting an oversized node)
 * only leaves the list less compact; it is never reported.
 *
 * Thread: the owner shard's thread only, like the map that holds the list. */
#ifndef SKV_SHARD_QUICKLIST_H
#define SKV_SHARD_QUICKLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shard/listpack.h"

struct mem_acct;

enum quicklist_err {
    QUICKLIST_ENOMEM = -1,  /* the allocator said no; the list is unchanged */
    QUICKLIST_ETOOBIG = -2, /* an element over what a listpack holds (4 GiB); unchanged */
    QUICKLIST_ERANGE = -3,  /* index out of range; unchanged */
    QUICKLIST_EINVAL = -4,  /* the call does not apply to this list (see each function) */
};

/* Which end a push or pop works on. */
enum quicklist_end {
    QUICKLIST_HEAD = 0,
    QUICKLIST_TAIL = 1,
};

/* list-max-listpack-size: a negative fill -1..-5 bounds a node's listpack
 * to 4, 8, 16, 32 or 64 KB; a positive fill bounds its entries (and its
 * size to QUICKLIST_SIZE_SAFETY); 0 keeps one entry per node. Values out
 * of range are clamped, as Redis does. -2 is the default. */
#define QUICKLIST_FILL_MIN     (-5)
#define QUICKLIST_FILL_MAX     32767
#define QUICKLIST_FILL_DEFAULT (-2)
/* A node limited by count still stays under 8 KB (Redis's SIZE_SAFETY_LIMIT):
 * a node is read and rewritten whole on every change. */
#define QUICKLIST_SIZE_SAFETY 8192
/* list-compress-depth: nodes kept raw at each end; 0 compresses nothing.
 * Redis caps it at 2^16. */
#define QUICKLIST_DEPTH_MAX 65536
/* Nodes smaller than this are never compressed, and a compressed node must
 * save at least QUICKLIST_MIN_COMPRESS_GAIN bytes (Redis's figures). */
#define QUICKLIST_MIN_COMPRESS      48
#define QUICKLIST_MIN_COMPRESS_GAIN 8

struct quicklist;      /* opaque: the list */
struct quicklist_node; /* opaque: one node */

/* Human-readable text for a QUICKLIST_E* code. Static string. */
const char *quicklist_strerror(int err);

/* ---- limits and the single-listpack encoding ---- */

/* Whether one listpack of bytes bytes and count entries is within fill's
 * limits: what a quicklist node may hold, and the test for keeping a
 * small list as a single listpack (TVAL_ENC_LISTPACK) rather than a
 * quicklist. Pure. */
bool quicklist_listpack_fits(int fill, size_t bytes, size_t count);

/* Bytes an element s[0..len) takes in a listpack (encoding, data and
 * backlen; integer-looking strings are stored as integers). Pure. */
size_t quicklist_entry_bytes(const void *s, size_t len);

/* A list of one node (lp, which is taken: owned by the list from now on,
 * already charged to a) with the given fill and compress depth. An empty
 * lp is freed and the list starts empty. O(1): lp is not copied. NULL when
 * out of memory; lp is then still the caller's. */
struct quicklist *quicklist_from_listpack(struct mem_acct *a, unsigned char *lp, int fill,
                                          int depth);

/* Whether ql has shrunk enough to go back to a single listpack: one node
 * (or none) within half of fill's limits, so that a list hovering around
 * the limit does not convert back and forth (Redis 7.2's rule). O(1). */
bool quicklist_can_shrink(const struct quicklist *ql);

/* Turn a list of at most one node into that node's listpack, which the
 * caller owns (still charged to a); ql is freed. Returns 0,
 * QUICKLIST_ENOMEM (decompressing; ql unchanged) or QUICKLIST_EINVAL (more
 * than one node; unchanged). */
int quicklist_to_listpack(struct mem_acct *a, struct quicklist *ql, unsigned char **out);

/* ---- creating and freeing ---- */

/* A new empty list charged to a, with fill and depth clamped to their
 * ranges. Owned by the caller. NULL when out of memory. */
struct quicklist *quicklist_create(struct mem_acct *a, int fill, int depth);

/* A deep copy of ql (COPY), charged to a, nodes copied as they are stored
 * (compressed ones stay compressed). Owned by the caller. NULL when out of
 * memory. */
struct quicklist *quicklist_copy(struct mem_acct *a, const struct quicklist *ql);

/* Free ql and everything in it (NULL is fine). O(nodes). */
void quicklist_destroy(struct mem_acct *a, struct quicklist *ql);

/* Free up to max_nodes nodes of ql (at least one); when none are left,
 * free ql too and return true. For lazy freeing of a big list a slice at a
 * time: the list must not be used otherwise between steps. */
bool quicklist_destroy_step(struct mem_acct *a, struct quicklist *ql, size_t max_nodes);

/* ---- size ---- */

/* Entries. O(1). */
size_t quicklist_len(const struct quicklist *ql);

/* Nodes. O(1). */
size_t quicklist_node_count(const struct quicklist *ql);

/* Usable bytes of every block the list holds, its header included (MEMORY
 * USAGE, INFO): exactly what it has charged to its account. O(1). */
size_t quicklist_bytes(const struct quicklist *ql);

/* The fill and compress depth the list was made with. */
int quicklist_fill(const struct quicklist *ql);
int quicklist_depth(const struct quicklist *ql);

/* ---- ends ---- */

/* Add s[0..len) (copied) at one end. O(1): appends to the end node, or
 * starts a new node when it is full. Returns 0, QUICKLIST_ENOMEM or
 * QUICKLIST_ETOOBIG. */
int quicklist_push(struct mem_acct *a, struct quicklist *ql, enum quicklist_end where,
                   const void *s, size_t len);

/* Called with a view of an element about to be removed (copy what you
 * need: the view dies when the callback returns). */
typedef void (*quicklist_entry_fn)(void *ctx, const struct listpack_entry *e);

/* Remove the element at one end, calling fn(ctx, element) first (fn may
 * be NULL). Returns 1, 0 when the list is empty, or QUICKLIST_ENOMEM (only
 * if the end node was left compressed by an earlier allocation failure;
 * unchanged). O(1). */
int quicklist_pop(struct mem_acct *a, struct quicklist *ql, enum quicklist_end where,
                  quicklist_entry_fn fn, void *ctx);

/* ---- iterating ---- */

/* A position in a list. Lives on the caller's stack; every iterator that
 * was initialised must be released. While it is in use the list may be
 * changed only through it (quicklist_iter_del, quicklist_iter_insert). */
struct quicklist_iter {
    struct mem_acct *a;          /* the list's account: entering a node may decompress it */
    struct quicklist *ql;        /* the list walked (borrowed) */
    struct quicklist_node *node; /* node of the next entry; NULL when done */
    int64_t start;               /* entry to begin with on entering node (negative: from its end) */
    uint32_t next_off;           /* byte offset of the next entry in node, 0: node finished */
    uint32_t cur_off;            /* byte offset of the entry last returned, 0: none */
    bool entered;                /* node is decompressed and held for this iterator */
    bool forward;                /* head to tail, or tail to head */
    bool modified;               /* node was changed: try merging it with a neighbour on leaving */
};

/* Position it on the entry at index (0 = head, -1 = tail, -2 the one
 * before), to walk towards the tail (forward) or the head. An index out of
 * range gives an iterator that returns nothing. Walks nodes from the
 * nearer end. Never fails. */
void quicklist_iter_init(struct quicklist_iter *it, struct mem_acct *a, struct quicklist *ql,
                         int64_t index, bool forward);

/* The next entry into *e (a view, valid until the iterator moves, changes
 * the list, or is released). Returns 1, 0 at the end, or QUICKLIST_ENOMEM
 * when a compressed node could not be decompressed (the iterator stays
 * where it was; the call may be retried). */
int quicklist_iter_next(struct quicklist_iter *it, struct listpack_entry *e);

/* Delete the entry last returned by quicklist_iter_next; the next call
 * returns the one after it in the iterator's direction. Never fails.
 * A node emptied is freed; shrunk nodes are merged with a neighbour when
 * the iterator leaves them. Returns QUICKLIST_EINVAL when there is no
 * current entry (none returned yet, or already deleted). */
int quicklist_iter_del(struct quicklist_iter *it);

/* Insert s[0..len) before or after the entry last returned (LINSERT). A
 * full node spills into its neighbour or a new node, or is split. Ends the
 * iteration: the iterator returns nothing more (release it). Returns 0,
 * QUICKLIST_ENOMEM, QUICKLIST_ETOOBIG (unchanged, iterator still usable),
 * or QUICKLIST_EINVAL (no current entry). */
int quicklist_iter_insert(struct quicklist_iter *it, enum listpack_where where, const void *s,
                          size_t len);

/* Done with it: lets its node be compressed again. Idempotent. */
void quicklist_iter_release(struct quicklist_iter *it);

/* ---- commands' operations ---- */

/* LSET: replace the element at index with s[0..len). Returns 0,
 * QUICKLIST_ERANGE, QUICKLIST_ENOMEM or QUICKLIST_ETOOBIG. */
int quicklist_replace_at(struct mem_acct *a, struct quicklist *ql, int64_t index, const void *s,
                         size_t len);

/* LINSERT: insert s[0..len) before or after the first element (from the
 * head) equal to pivot[0..plen). Returns 1, 0 when there is no such
 * element, or a negative code (unchanged). */
int quicklist_insert_pivot(struct mem_acct *a, struct quicklist *ql, const void *pivot, size_t plen,
                           enum listpack_where where, const void *s, size_t len);

/* LTRIM's step: delete count elements from index start (negative: from the
 * tail); a range running past an end is cut there. Whole nodes in the
 * range are freed without being decompressed. Returns the number deleted,
 * or QUICKLIST_ENOMEM (unchanged). */
int64_t quicklist_del_range(struct mem_acct *a, struct quicklist *ql, int64_t start, int64_t count);

/* LREM: delete elements equal to s[0..len): the first count from the head
 * when count > 0, the last -count from the tail when count < 0, all when
 * 0. *removed says how many went. Returns 0, or QUICKLIST_ENOMEM when a
 * compressed node could not be decompressed: the search stopped there and
 * the *removed deletions before it stand. */
int quicklist_rem(struct mem_acct *a, struct quicklist *ql, const void *s, size_t len,
                  int64_t count, size_t *removed);

/* LPOS: report the index (from the head) of elements equal to s[0..len)
 * through fn(ctx, index), scanning from the head, or from the tail when
 * from_tail, skipping the first rank - 1 matches (rank >= 1), reporting at
 * most count of them (0: all), comparing at most maxlen elements (0: all).
 * Returns the number reported, or QUICKLIST_ENOMEM (some may have been
 * reported already). */
typedef void (*quicklist_pos_fn)(void *ctx, int64_t index);
int64_t quicklist_pos(struct mem_acct *a, struct quicklist *ql, const void *s, size_t len,
                      bool from_tail, uint64_t rank, uint64_t count, uint64_t maxlen,
                      quicklist_pos_fn fn, void *ctx);

/* ---- nodes as blobs (RDB_TYPE_LIST_QUICKLIST_2) ---- */

/* A node as stored: its listpack, or the LZF compression of it. */
struct quicklist_blob {
    const unsigned char *data; /* the bytes (a view into the list) */
    size_t len;                /* bytes at data */
    size_t raw_len;            /* the listpack's size; == len unless compressed */
    uint32_t count;            /* entries in the node */
    bool compressed;           /* data is LZF (shard/lzf.h) of a raw_len-byte listpack */
};

/* First node / the one after n; NULL at the end. Read-only: never
 * decompresses. Valid until the list is modified. */
const struct quicklist_node *quicklist_node_first(const struct quicklist *ql);
const struct quicklist_node *quicklist_node_next(const struct quicklist_node *n);

/* The blob of node n. */
void quicklist_node_blob(const struct quicklist_node *n, struct quicklist_blob *out);

/* Append lp, a listpack that listpack_validate accepted with deep = true
 * and that is charged to a, as a new tail node (loading an RDB file node by
 * node). On success lp is owned by the list (an empty one is freed). Returns
 * 0, or QUICKLIST_ENOMEM (lp is still the caller's). */
int quicklist_append_listpack(struct mem_acct *a, struct quicklist *ql, unsigned char *lp);

/* ---- a snapshot's copy-on-write (quicklist_cow.c) ---- */

/* Where a capture's nodes go. */
struct quicklist_cow_ops {
    /* One node as of the cut, in the list's order (a view, valid during
     * the call). */
    void (*node)(void *arg, const struct quicklist_blob *b);
    /* A write copied a node the cursor had not reached (statistics). */
    void (*copied)(void *arg);
    /* Out of memory: the capture is incomplete and ends (called once). */
    void (*failed)(void *arg);
    /* The list's owner (its tval) let go of it mid-capture: the capture
     * owns owner from now on and frees it with a once captured. */
    void (*retire)(void *arg, void *owner, struct mem_acct *a);
};

/* Arm ql for a capture as of now: every node it holds now reaches
 * ops->node exactly once, as it is now, in order, while writes go on (a
 * write copies at most the nodes it changes). ops must outlive the
 * capture. 0, QUICKLIST_ENOMEM, or QUICKLIST_EINVAL when armed already. */
int quicklist_cow_begin(struct quicklist *ql, const struct quicklist_cow_ops *ops, void *arg);
/* Is ql armed? */
bool quicklist_cow_armed(const struct quicklist *ql);
/* Walk up to max_nodes nodes from where the last step stopped, handing
 * out what is due; true once every node of the cut was handed out. */
bool quicklist_cow_step(struct quicklist *ql, size_t max_nodes);
/* Disarm ql (captured or not) and free what is still held for it. */
void quicklist_cow_end(struct quicklist *ql);
/* The owner's question before freeing ql: true when an armed ql was
 * handed to ops->retire (the caller must not free it). */
bool quicklist_cow_retire(struct quicklist *ql, void *owner, struct mem_acct *a);

/* ---- checking (tests, fuzzing) ---- */

/* Check every invariant of ql: links, counts, listpacks (deep), the bytes
 * figure against the blocks' usable sizes, and, when strict (no allocation
 * has failed), node limits and that exactly the nodes beyond the compress
 * depth are compressed (or could not be). Returns NULL when all hold, or a
 * static description of the first that does not. Decompresses into blocks
 * charged to a and freed before returning. O(size of the list). */
const char *quicklist_check(struct mem_acct *a, const struct quicklist *ql, bool strict);

#endif
