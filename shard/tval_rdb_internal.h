/* tval_rdb_internal.h — what the RDB object codec (tval_rdb.c) shares with
 * its list part (tval_rdb_list.c): the length writer and the list codec.
 * Not for other modules: they use tval_rdb.h. */
#ifndef SKV_SHARD_TVAL_RDB_INTERNAL_H
#define SKV_SHARD_TVAL_RDB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"
#include "shard/tval.h"
#include "shard/tval_rdb.h"

/* Append an RDB length. 0 or TVAL_RDB_ENOMEM. */
int tval_rdb_put_len(struct tval_rdb_buf *b, uint64_t v);

/* The list codec (tval_rdb_list.c). Encode: a list as RDB type 18
 * (QUICKLIST_2), every node a PACKED listpack, compressed nodes as LZF
 * blobs, as Redis 7.0 writes them. Decode: the payload of type (1 LIST,
 * 10 LIST_ZIPLIST, 14 LIST_QUICKLIST or 18 LIST_QUICKLIST_2; r is past the
 * type byte) into a new list charged to a, with lim's list options. Same
 * returns and guarantees as tval_rdb_decode. */
int tval_rdb_list_encode(const struct tval *tv, struct tval_rdb_buf *b);
int tval_rdb_list_decode(struct tval_rdb_reader *r, int type, struct mem_acct *a,
                         const struct tval_limits *lim, struct tval **out);

#endif
