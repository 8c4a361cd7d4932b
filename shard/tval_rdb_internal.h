/* tval_rdb_internal.h — what the RDB object codec (tval_rdb.c) shares with
 * its list part (tval_rdb_list.c): the input cursor, the string reader and
 * the length writer. Not for other modules: they use tval_rdb.h. */
#ifndef SKV_SHARD_TVAL_RDB_INTERNAL_H
#define SKV_SHARD_TVAL_RDB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"
#include "shard/tval.h"
#include "shard/tval_rdb.h"

/* A cursor over the input, with the error text. */
struct rd {
    const unsigned char *p;   /* next byte */
    const unsigned char *end; /* one past the last */
    char *err;                /* message buffer, or NULL */
    size_t errlen;            /* its size */
};

/* A string read from the input: a view into it, into num (an integer
 * encoding as text) or into heap (LZF output, reused across reads). */
struct str {
    const unsigned char *s; /* the bytes */
    size_t n;               /* their length */
    char num[24];           /* an integer's text */
    unsigned char *heap;    /* LZF output buffer, malloc'd */
    size_t hcap;            /* its size */
};

/* Read a length (no string encoding marker allowed). 0 or TVAL_RDB_E*. */
int tval_rdb_rd_len(struct rd *r, uint64_t *v);

/* Read one RDB string (plain, integer or LZF) into *o, whose heap buffer
 * is reused across calls and freed by tval_rdb_str_free. 0 or TVAL_RDB_E*
 * with the message in r->err. */
int tval_rdb_rd_str(struct rd *r, struct str *o);
void tval_rdb_str_free(struct str *o);

/* Append an RDB length. 0 or TVAL_RDB_ENOMEM. */
int tval_rdb_put_len(struct tval_rdb_buf *b, uint64_t v);

/* The list codec (tval_rdb_list.c). Encode: a list as RDB type 18
 * (QUICKLIST_2), every node a PACKED listpack, compressed nodes as LZF
 * blobs, as Redis 7.0 writes them. Decode: the payload of type (1 LIST,
 * 10 LIST_ZIPLIST, 14 LIST_QUICKLIST or 18 LIST_QUICKLIST_2; r is past the
 * type byte) into a new list charged to a, with lim's list options. Same
 * returns and guarantees as tval_rdb_decode. */
int tval_rdb_list_encode(const struct tval *tv, struct tval_rdb_buf *b);
int tval_rdb_list_decode(struct rd *r, int type, struct mem_acct *a,
                         const struct tval_limits *lim, struct tval **out);

#endif
