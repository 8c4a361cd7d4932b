/* tval.h — typed values: the hashes, sets, lists and sorted sets
 * that a map entry holds instead of a string. An entry of another type than
 * string stores a pointer to its struct tval; the tval holds the value in one
 * of Redis's encodings (a listpack or an intset while small, a hash table
 * above the thresholds). The type modules (thash.c, tset.c) implement the
 * commands' operations; this file has what every type shares: names,
 * lengths, copies, the encoding thresholds, and freeing, in slices for big
 * values. Owner shard's thread only, like the map that holds the value. */
#ifndef SKV_SHARD_TVAL_H
#define SKV_SHARD_TVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"

struct kvmap;
struct quicklist;

/* Value types, numbered as Redis's OBJ_* (so TYPE and the RDB agree on
 * what they mean). TVAL_STRING is never held in a tval: a string lives in
 * the entry itself. */
enum tval_type {
    TVAL_STRING = 0,
    TVAL_LIST = 1,
    TVAL_SET = 2,
    TVAL_ZSET = 3,
    TVAL_HASH = 4,
    TVAL_STREAM = 6,
};
/* Types fit in 3 bits of the entry's flags. */
#define TVAL_TYPE_MAX 7

/* Encodings, as OBJECT ENCODING names them. */
enum tval_enc {
    TVAL_ENC_LISTPACK = 1,  /* u.lp: hash fields and values alternate; set members */
    TVAL_ENC_INTSET = 2,    /* u.is: a set of integers only */
    TVAL_ENC_HASHTABLE = 3, /* u.ht: a kvmap, field -> value (a set's values are empty) */
    TVAL_ENC_QUICKLIST = 4, /* u.ql: a list, every size (Redis 7.0 has no other) */
    TVAL_ENC_SKIPLIST = 5,  /* u.p: a sorted set's B-tree and member index
                             * (shard/zset.h); Redis's name for it */
};

/* One typed value. The entry points at it, so the value's blocks may move
 * (a listpack grows by realloc) while the entry stays where it is. */
struct tval {
    uint8_t type; /* TVAL_* */
    uint8_t enc;  /* TVAL_ENC_* */
    union {
        unsigned char *lp; /* TVAL_ENC_LISTPACK: shard/listpack.h */
        unsigned char *is; /* TVAL_ENC_INTSET: shard/intset.h */
        struct kvmap *ht;  /* TVAL_ENC_HASHTABLE: keys are fields or members */
        struct quicklist *ql; /* TVAL_ENC_QUICKLIST: shard/quicklist.h */
        void *p;           /* any of them */
    } u;
};

/* Encoding thresholds (Redis's config names and defaults). Set by the
 * server's configuration on any thread; read by the shards on each write
 * that might convert, so a CONFIG SET applies to the next write. */
struct tval_limits {
    uint32_t hash_max_listpack_entries; /* hash-max-listpack-entries: 512, as
                                         * Redis 7.0 (its zset default is 128) */
    uint32_t hash_max_listpack_value;   /* hash-max-listpack-value: 64 */
    uint32_t set_max_intset_entries;    /* set-max-intset-entries: 512 */
    uint32_t set_max_listpack_entries;  /* set-max-listpack-entries: 128 */
    uint32_t set_max_listpack_value;    /* set-max-listpack-value: 64 */
    int32_t list_max_listpack_size;     /* list-max-listpack-size: -2 (8 KB
                                         * nodes); taken by a list when made */
    int32_t list_compress_depth;        /* list-compress-depth: 0 (none) */
    uint32_t zset_max_listpack_entries; /* zset-max-listpack-entries: 128 */
    uint32_t zset_max_listpack_value;   /* zset-max-listpack-value: 64 */
};

/* Fill *out with the thresholds in force. Any thread. */
void tval_limits_get(struct tval_limits *out);

/* Replace the thresholds. Any thread; each field is read atomically. */
void tval_limits_set(const struct tval_limits *in);

/* Redis's name of a type for TYPE ("hash", "set", ...; "string" for
 * TVAL_STRING, "none" for anything else). Static string. */
const char *tval_type_name(int type);

/* OBJECT ENCODING's name of tv's encoding ("listpack", "intset",
 * "hashtable"). Static string. */
const char *tval_enc_name(const struct tval *tv);

/* Elements: fields of a hash, members of a set or sorted set, elements of a
 * list. O(1). */
size_t tval_len(const struct tval *tv);

/* A new empty tval of type with encoding enc and nothing allocated behind
 * it yet (u.p NULL), charged to a. Owned by the caller (tval_free).
 * NULL when out of memory. */
/* A new empty hash table for a container's elements, charged to a: a
 * kvmap grown at load factor 2 (kvmap_set_dense). NULL when out of
 * memory; the caller owns it. */
struct kvmap *tval_table_new(struct mem_acct *a);

struct tval *tval_new(struct mem_acct *a, int type, int enc);

/* A deep copy of tv charged to a (COPY, and values moving between
 * databases of one shard). Owned by the caller. NULL when out of memory. */
struct tval *tval_copy(struct mem_acct *a, const struct tval *tv);

/* Values with more elements than this in a hash table or a sorted set's
 * tree (nodes, for a quicklist) are freed a slice at a time from the
 * shard's cron (Redis's LAZYFREE_THRESHOLD is 64 too, and counts a
 * quicklist's nodes as well). */
#define TVAL_LAZYFREE_MIN 64

/* Free tv (NULL is fine), charged to a. A hash table or sorted set tree of
 * more than TVAL_LAZYFREE_MIN elements, or a quicklist of more nodes, is
 * only queued here, O(1), and freed by tval_lazyfree_step; it stays charged
 * until then, since the process still holds it. Everything else is freed
 * now. */
void tval_free(struct mem_acct *a, struct tval *tv);

/* Free queued values until budget_ns of monotonic time is spent. Returns
 * true while some remain. Call from the owning thread's cron: the queue is
 * per thread. */
bool tval_lazyfree_step(uint64_t budget_ns);

/* Bytes this thread's queue still holds (INFO lazyfree_pending_objects
 * counts values; this counts what they weigh). */
size_t tval_lazyfree_pending(size_t *values);

/* Usable bytes tv holds, its header included (MEMORY USAGE). O(1) for a
 * listpack or intset, O(1) for a hash table (the kvmap counts its own). */
size_t tval_bytes(const struct tval *tv);

#endif
