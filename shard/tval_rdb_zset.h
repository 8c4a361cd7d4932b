/* tval_rdb_zset.h — sorted sets in Redis's RDB object format, the part of
 * tval_rdb.h's codec for TVAL_ZSET. Written as Redis 7.0 writes them:
 *
 *   listpack   17 ZSET_LISTPACK  the listpack blob as one string
 *   tree        5 ZSET_2         count, then member and its score as an
 *                                8-byte little-endian double, from the
 *                                highest element to the lowest
 *
 * Read as well: 12 ZSET_ZIPLIST (Redis 2.6-6.x) and 3 ZSET (scores as
 * text: a length byte, or 253/254/255 for nan/+inf/-inf). The encoding is
 * picked as Redis 7.0's loader does: a blob stays compact up to
 * zset-max-listpack-entries members; a counted set becomes compact when
 * it also has no member over zset-max-listpack-value. NaN scores and
 * duplicate members are corrupt. Threads as tval_rdb.h says. */
#ifndef SKV_SHARD_TVAL_RDB_ZSET_H
#define SKV_SHARD_TVAL_RDB_ZSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"
#include "shard/tval.h"
#include "shard/tval_rdb.h"

/* Is type one of the sorted set RDB types (3, 5, 12, 17)? */
bool tval_rdb_zset_type_known(int type);

/* The RDB type byte of sorted set tv: 17 or 5. */
int tval_rdb_zset_type(const struct tval *tv);

/* Append sorted set tv's payload. Returns 0 or TVAL_RDB_ENOMEM. */
int tval_rdb_zset_encode(const struct tval *tv, struct tval_rdb_buf *b);

/* One element of a type 5 payload (member, then its score as an 8-byte
 * little-endian double): what a snapshot appends after
 * tval_rdb_encode_head for each element of a tree set. 0 or
 * TVAL_RDB_ENOMEM. */
int tval_rdb_zset_encode_element(struct tval_rdb_buf *b, const void *m, size_t len,
                                 double score);

/* Decode the payload of a sorted set of RDB type `type` from
 * p[0..len) (the type byte already read) into a new tval charged to a:
 * tval_rdb_decode's contract (*out the caller's; *used the payload bytes
 * read; a TVAL_RDB_E* code and a sentence in err otherwise). */
int tval_rdb_zset_decode(struct mem_acct *a, int type, const unsigned char *p, size_t len,
                         const struct tval_limits *lim, struct tval **out, size_t *used,
                         char *err, size_t errlen);

#endif
