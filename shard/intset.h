/* intset.h — Redis's intset: a sorted array of distinct integers, all of
 * one width, byte for byte as Redis 7.0 lays it out, so that a small set of
 * integers goes into an RDB file (type 11, RDB_TYPE_SET_INTSET) as-is and
 * one read from a Redis RDB file can be used as-is. Pure: no threads, no
 * global state; an intset belongs to one thread at a time (its shard), and
 * a read-only intset may be read by several.
 *
 * Layout (all little-endian):
 *
 *   <encoding: u32 = 2, 4 or 8, the bytes per element> <length: u32>
 *   <length elements of that width, strictly ascending>
 *
 * The width grows (16 → 32 → 64 bits) when a value that needs it is added,
 * and never shrinks, as in Redis. */
#ifndef SKV_SHARD_INTSET_H
#define SKV_SHARD_INTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mem_acct;

/* Encoding (4 bytes) and length (4 bytes). */
#define INTSET_HDR_SIZE 8

enum intset_err {
    INTSET_ENOMEM = -1,   /* the allocator said no; the intset is unchanged */
    INTSET_ETOOBIG = -2,  /* already 2^32-1 elements; unchanged */
    INTSET_ECORRUPT = -3, /* intset_validate: the blob is not a valid intset */
};

/* Human-readable text for an INTSET_E* code. Static string. */
const char *intset_strerror(int err);

/* A new empty intset (16-bit, 8 bytes) charged to a. Returns NULL when out
 * of memory. The caller owns it and frees it with intset_destroy. */
unsigned char *intset_create(struct mem_acct *a);

/* A copy of blob[0..len) charged to a, for a blob that intset_validate
 * accepted with deep = true. Returns NULL when out of memory or len is 0.
 * The caller owns it. */
unsigned char *intset_create_from(struct mem_acct *a, const void *blob, size_t len);

/* Free is (NULL is fine), uncharging it from a. */
void intset_destroy(struct mem_acct *a, unsigned char *is);

/* Add v to *is (which may move; on error it is unchanged). *added (if not
 * NULL) says whether v was new. Returns 0, INTSET_ENOMEM or INTSET_ETOOBIG.
 * Owner thread. */
int intset_add(struct mem_acct *a, unsigned char **is, int64_t v, bool *added);

/* Remove v from *is (which may move). *removed (if not NULL) says whether
 * it was there. Never fails (a refused shrink keeps the larger block).
 * Owner thread. */
void intset_remove(struct mem_acct *a, unsigned char **is, int64_t v, bool *removed);

/* Whether v is in is. Binary search. */
bool intset_find(const unsigned char *is, int64_t v);

/* The element at pos (0 = smallest) into *out. Returns false when pos is
 * out of range. */
bool intset_get(const unsigned char *is, uint32_t pos, int64_t *out);

/* Number of elements. */
uint32_t intset_len(const unsigned char *is);

/* Bytes per element: 2, 4 or 8. */
uint32_t intset_encoding(const unsigned char *is);

/* Size in bytes: what goes into an RDB string as-is. */
size_t intset_blob_size(const unsigned char *is);

/* Check that blob[0..len) (an RDB string, a RESTORE payload) is an intset:
 * a known encoding, a length that makes the size exactly len, at least one
 * element (Redis refuses empty ones too) and, when deep, the elements
 * strictly ascending (so sorted and distinct). Never reads outside
 * blob[0..len). Only a blob accepted with deep = true may be used. Returns
 * 0 or INTSET_ECORRUPT. Pure. */
int intset_validate(const void *blob, size_t len, bool deep);

#endif
