/* zset.h — the sorted set type's storage: what ZADD, ZRANGE, ZREM and the
 * rest (a later command layer) and the RDB code call. A sorted set lives in
 * a struct tval of type TVAL_ZSET in one of two encodings:
 *
 *  - TVAL_ENC_LISTPACK: one listpack of member, score pairs sorted by
 *    (score, member), byte for byte as Redis 7.0 lays it out (a score that
 *    is an integer within +-2^62 is an integer entry, any other is its
 *    "%.17g" text, "inf" or "-inf"), while at most zset-max-listpack-entries
 *    members of at most zset-max-listpack-value bytes;
 *  - ZSET_ENC_TREE: an order-statistics B-tree of (score, member) beside a
 *    member index (shard/zset_internal.h), leaner than Redis's skiplist and
 *    dict. OBJECT ENCODING calls it "skiplist", as Redis does.
 *
 * Ordering is Redis's: by score, then by member bytes (memcmp, a prefix
 * first); -0.0 equals 0.0; NaN is never stored. Ranks are 0-based from the
 * lowest element. Every block is charged to the caller's mem_acct; an
 * allocation failure returns ZSET_ENOMEM and leaves the set unchanged.
 * Owner shard's thread only; element views (struct zset_elem) are valid
 * until the set is next modified. */
#ifndef SKV_SHARD_ZSET_H
#define SKV_SHARD_ZSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"
#include "shard/listpack.h"
#include "shard/tval.h"

/* tv->enc of a big sorted set: tval.h's TVAL_ENC_SKIPLIST. */
#define ZSET_ENC_TREE TVAL_ENC_SKIPLIST

enum zset_err {
    ZSET_ENOMEM = -1, /* the allocator said no; the set is unchanged */
    ZSET_ETOOBIG = -2,/* a member over 4 GiB, or a listpack over its limit; unchanged */
    ZSET_ENAN = -3,   /* INCR made the score NaN (inf + -inf); unchanged */
};

/* Encoding thresholds (Redis's zset-max-listpack-entries / -value). */
struct zset_limits {
    uint32_t max_listpack_entries; /* 128 */
    uint32_t max_listpack_value;   /* 64 */
};

/* zset_add's flags in: Redis's ZADD options. */
enum {
    ZSET_IN_INCR = 1 << 0, /* add score to the current one (0 when absent) */
    ZSET_IN_NX = 1 << 1,   /* only add new members */
    ZSET_IN_XX = 1 << 2,   /* only update existing ones */
    ZSET_IN_GT = 1 << 3,   /* update only when the new score is greater */
    ZSET_IN_LT = 1 << 4,   /* update only when the new score is less */
};

/* zset_add's flags out. */
enum {
    ZSET_OUT_NOP = 1 << 0,     /* nothing done because of NX/XX/GT/LT */
    ZSET_OUT_ADDED = 1 << 1,   /* a new member */
    ZSET_OUT_UPDATED = 1 << 2, /* an existing member's score changed */
};

/* One element as read: a view into the set, or for a listpack integer
 * member its text in buf. */
struct zset_elem {
    const unsigned char *m;          /* member bytes */
    size_t len;                      /* their number */
    double score;                    /* its score */
    char buf[LISTPACK_INTBUF_SIZE];  /* backing for m when the member is an integer entry */
};

/* A score range: min and max, each inclusive or not (ZRANGEBYSCORE's "(").
 * -inf and +inf are plain doubles here. */
struct zset_score_range {
    double min, max;  /* bounds */
    bool minex, maxex;/* exclusive bounds */
};

/* One end of a lex range: "-", "+", "[member" or "(member". */
enum zset_lex_kind {
    ZSET_LEX_MINUS = 0, /* "-": below everything */
    ZSET_LEX_PLUS,      /* "+": above everything */
    ZSET_LEX_INCL,      /* "[x" */
    ZSET_LEX_EXCL,      /* "(x" */
};
struct zset_lex_bound {
    enum zset_lex_kind kind;
    const unsigned char *s; /* x, borrowed */
    size_t len;
};
struct zset_lex_range {
    struct zset_lex_bound min, max;
};

/* A path from the tree's root to one element (iterators hold one). At an
 * inner node above the bottom, idx is the child taken; at the bottom, the
 * key. Depth 24 holds more than 2^64 elements at the minimum fill. */
#define ZSET_MAX_DEPTH 24
struct zt_node;
struct zset_path {
    struct {
        struct zt_node *node; /* the node at this level */
        uint32_t idx;         /* child (above the bottom) or key (at it) */
    } s[ZSET_MAX_DEPTH];      /* s[0] is the root */
    uint32_t depth;           /* levels used */
};

/* ---- creating, sizing, freeing ---- */

/* A new empty sorted set (a tval of type TVAL_ZSET) in the encoding that
 * size_hint elements of at most maxlen_hint bytes would need (Redis's
 * zsetTypeCreate), charged to a. Owned by the caller; NULL when out of
 * memory. */
struct tval *zset_create(struct mem_acct *a, const struct zset_limits *lim, size_t size_hint,
                         size_t maxlen_hint);

/* Free tv and everything behind it now (O(n)). */
void zset_free(struct mem_acct *a, struct tval *tv);

/* Free up to n members or nodes of tv per call, so a DEL of a huge set
 * never stalls the shard; returns true once tv itself is freed. Nothing
 * else may be called on tv once this was. */
bool zset_destroy_step(struct mem_acct *a, struct tval *tv, size_t n);

/* A deep copy charged to a, same encoding. Owned by the caller; NULL when
 * out of memory. */
struct tval *zset_copy(struct mem_acct *a, const struct tval *tv);

/* Members. O(1). */
size_t zset_len(const struct tval *tv);

/* Usable bytes held, the tval included (MEMORY USAGE). O(1). */
size_t zset_bytes(const struct tval *tv);

/* OBJECT ENCODING's name: "listpack" or "skiplist". Static string. */
const char *zset_enc_name(const struct tval *tv);

/* Turn a listpack set into the tree encoding (what zset_add does above the
 * thresholds; RDB loading may call it too). 0 or ZSET_ENOMEM (unchanged). */
int zset_convert_tree(struct mem_acct *a, struct tval *tv);

/* Turn a tree set of at most lim's entries and value size back into a
 * listpack (Redis does so for the STORE commands' results). 0, or
 * ZSET_ENOMEM (unchanged); a set over the limits is left as it is. */
int zset_convert_listpack_if_fits(struct mem_acct *a, struct tval *tv,
                                  const struct zset_limits *lim);

/* ---- writes ---- */

/* ZADD / ZINCRBY of one member: Redis's zsetAdd. in is ZSET_IN_* flags;
 * *out gets ZSET_OUT_* flags; *newscore (if not NULL) the score now held
 * when the member was added or updated (or would have been, for a no-op
 * of an equal score). score must not be NaN (the caller rejects it).
 * Converts to the tree encoding when lim says so. Returns 0, ZSET_ENAN,
 * ZSET_ENOMEM or ZSET_ETOOBIG, and on error the set is unchanged. */
int zset_add(struct mem_acct *a, struct tval *tv, const struct zset_limits *lim, const void *m,
             size_t len, double score, int in, int *out, double *newscore);

/* ZREM of one member: 1 when removed, 0 when absent. Never fails. */
int zset_del(struct mem_acct *a, struct tval *tv, const void *m, size_t len);

/* Remove the elements of ranks [first, end) (ZREMRANGEBY*, ZPOPMIN/MAX);
 * returns how many. Never fails. */
size_t zset_del_range(struct mem_acct *a, struct tval *tv, size_t first, size_t end);

/* ---- reads ---- */

/* ZSCORE: true and *score when member is present. O(1) for a tree. */
bool zset_score(const struct tval *tv, const void *m, size_t len, double *score);

/* ZRANK / ZREVRANK: the member's rank (from the top when rev), or -1 when
 * absent; *score (if not NULL) gets its score. O(log n) for a tree. */
int64_t zset_rank(const struct tval *tv, const void *m, size_t len, bool rev, double *score);

/* The element at forward rank r (< zset_len). O(log n) for a tree. */
bool zset_at(const struct tval *tv, size_t r, struct zset_elem *e);

/* The ranks [*first, *end) of the elements inside a score / lex range
 * (ZCOUNT is end - first; ZRANGEBYSCORE ... LIMIT offset count starts at
 * first + offset). For a lex range the order of members of different
 * scores is Redis's: it assumes one score. O(log n) for a tree. */
void zset_score_span(const struct tval *tv, const struct zset_score_range *r, size_t *first,
                     size_t *end);
void zset_lex_span(const struct tval *tv, const struct zset_lex_range *r, size_t *first,
                   size_t *end);

/* Parse ZRANGEBYSCORE's bounds ("1.5", "(1.5", "-inf", "+inf") and
 * ZRANGEBYLEX's ("-", "+", "[a", "(a") as Redis does; 0, or -1 for text
 * Redis rejects ("min or max is not a float" / "min or max not valid string
 * range item"). A lex bound borrows s. */
int zset_parse_score_bound(const char *s, size_t len, double *v, bool *ex);
int zset_parse_lex_bound(const char *s, size_t len, struct zset_lex_bound *b);

/* ZSCAN: visit elements from cursor on (0 to start) until at least count
 * were visited, and return the cursor to continue from, 0 when done. A
 * listpack set is visited whole, in order, and 0 returned, as Redis does.
 * A tree set is walked through its member index in hash order (see
 * zindex_scan), so a member present for the whole scan is visited exactly
 * once whatever is added or removed between calls. The set must not be
 * modified during a call; views in *e last until fn returns. */
typedef void (*zset_visit_fn)(void *arg, const struct zset_elem *e);
uint64_t zset_scan(const struct tval *tv, uint64_t cursor, uint64_t count, zset_visit_fn fn,
                   void *arg);

/* Walk elements from forward rank `rank` towards higher ranks, or lower
 * ranks when rev, while zset_iter_next returns true. The set must not be
 * modified while walking. */
struct zset_iter {
    const struct tval *tv;       /* the set */
    bool rev;                    /* towards lower ranks */
    bool done;                   /* nothing more */
    const unsigned char *p;      /* listpack: next member entry */
    unsigned char *cur;          /* tree: next block */
    struct zset_path path;       /* tree: where cur is */
};
void zset_iter_init(struct zset_iter *it, const struct tval *tv, size_t rank, bool rev);
bool zset_iter_next(struct zset_iter *it, struct zset_elem *e);

/* ---- a snapshot's copy-on-write (zset_cow.c) ---- */

/* Gets one element as of the arming (a view, valid during the call), or
 * NULL once when the capture failed (out of memory): the snapshot must
 * then fail, its copy is incomplete. */
typedef void (*zset_cow_fn)(void *arg, const struct zset_elem *e);
/* Gets the set when its key lets go of it mid-capture (tval_free): the
 * capture owns it from then on and frees it with a once captured. */
typedef void (*zset_cow_retire_fn)(void *arg, struct tval *tv, struct mem_acct *a);

/* Arm tree set tv for a capture as of now: from here on every element it
 * holds now reaches fn exactly once, as it is now, either from
 * zset_cow_step or from the write about to change or remove it (one
 * element per write, never the set). 0, ZSET_ENOMEM, or ZSET_ETOOBIG when
 * tv is not a tree or is armed already. */
int zset_cow_begin(struct tval *tv, zset_cow_fn fn, zset_cow_retire_fn retire, void *arg);
/* Is tv armed? */
bool zset_cow_armed(const struct tval *tv);
/* Walk up to n elements in order, handing out those still owed; true when
 * every element is captured. O(log size + n). */
bool zset_cow_step(struct tval *tv, size_t n);
/* Disarm tv (captured or not) and free the tracking state. */
void zset_cow_end(struct tval *tv);
/* tval_free's question: true when an armed tv was handed to the capture's
 * retire fn (the caller must not free it), false to free it as usual. */
bool zset_cow_retire(struct tval *tv, struct mem_acct *a);

/* ---- tests and debugging ---- */

/* Check every invariant of tv's encoding (order, counts, index, fill);
 * 0, or a negative number naming the failed check. O(n). */
int zset_check(const struct tval *tv);

/* Fault injection: on this thread, the n-th next allocation of a tree set's
 * blocks, nodes or index fails (0 = the next one); -1 turns it off. */
void zset_test_fail_after(long n);

/* Tree nodes this thread has visited in descents since it started. */
uint64_t zset_node_visits(void);

#endif
