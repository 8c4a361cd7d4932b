/* tval_rdb.h — typed values (hashes, sets and, through tval_rdb_zset.h,
 * sorted sets) in Redis's serialisation:
 * the object format of RDB files and DUMP payloads. The encoder writes what
 * Redis 7.0 writes for each of our encodings; the decoder reads every
 * encoding Redis 7.0 writes or still loads for hashes and sets, validating
 * every byte, and picks our encoding by the thresholds of tval_limits_get,
 * as Redis's loader does. Also strings, for DUMP and RESTORE.
 *
 * What is written (the RDB type byte, then the payload):
 *
 *   hash, listpack    16 HASH_LISTPACK   the listpack blob as one string
 *   hash, hash table   4 HASH            count, then field, value, ...
 *   set, intset       11 SET_INTSET      the intset blob as one string
 *   set, listpack      2 SET             count, then members (Redis 7.0 has
 *   set, hash table    2 SET             no set listpack type: 7.0 loads it)
 *
 * Strings inside are written as Redis's rdbSaveRawString writes them:
 * integer-encoded when they are a canonical int32 of up to 11 bytes,
 * LZF-compressed when longer than 20 bytes and compression saves at least
 * 4 bytes, plain otherwise, so a small value's bytes are Redis's own.
 *
 * Read as well: 9 HASH_ZIPMAP, 13 HASH_ZIPLIST (Redis 2.x-6.x hashes) and
 * 20 SET_LISTPACK (Redis 7.2). Empty containers are refused with
 * TVAL_RDB_EEMPTY (Redis skips such keys when loading a file and refuses
 * them in RESTORE); duplicate fields or members are corrupt, as Redis's
 * deep sanitisation finds them.
 *
 * Threads: the encoder on any thread that may read the value (the shard's,
 * or a snapshot capture on it); the decoder on the thread that will own the
 * value (it creates nested maps, which bind to their creating thread). */
#ifndef SKV_SHARD_TVAL_RDB_H
#define SKV_SHARD_TVAL_RDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"
#include "shard/tval.h"

struct kventry;

/* RDB type 20, Redis 7.2's set listpack (not in rdb.h: RDB 10 files never
 * hold it). */
#define TVAL_RDB_TYPE_SET_LISTPACK 20

enum {
    TVAL_RDB_ENOMEM = -1,   /* out of memory */
    TVAL_RDB_ECORRUPT = -2, /* bad bytes: lengths, encodings, duplicates */
    TVAL_RDB_ETYPE = -3,    /* a type this codec does not read (list, zset, ...) */
    TVAL_RDB_EEMPTY = -4,   /* a container with no elements */
};

/* Human-readable text for a TVAL_RDB_E* code. Static string. */
const char *tval_rdb_strerror(int err);

/* A growable output buffer. The bytes are transient (on their way into a
 * snapshot chunk or a reply), so plain malloc, uncharged. Zero-initialise;
 * free with tval_rdb_buf_free. */
struct tval_rdb_buf {
    unsigned char *p; /* bytes */
    size_t len;       /* bytes used */
    size_t cap;       /* bytes allocated */
    bool raw;         /* strings as they are, never LZF-compressed
                         (rdbcompression no); set by the owner, kept by
                         tval_rdb_buf_free */
};

/* Free b's bytes and zero it. */
void tval_rdb_buf_free(struct tval_rdb_buf *b);

/* Append p[0..n) to b. Returns 0 or TVAL_RDB_ENOMEM (b unchanged). */
int tval_rdb_buf_append(struct tval_rdb_buf *b, const void *p, size_t n);

/* ---------------------------------------------------------------- encode */

/* The RDB type byte tv is written with (RDB_TYPE_*). */
int tval_rdb_type(const struct tval *tv);

/* Append one string as Redis's rdbSaveRawString writes it (see above).
 * Returns 0 or TVAL_RDB_ENOMEM (b keeps what it had). */
int tval_rdb_put_string(struct tval_rdb_buf *b, const void *s, size_t len);

/* Append tv's payload (what follows the type byte and, in a file, the
 * key). Borrows tv. Returns 0 or TVAL_RDB_ENOMEM. O(elements). */
int tval_rdb_encode_value(const struct tval *tv, struct tval_rdb_buf *b);

/* Append the type byte and the payload: a DUMP payload's object. */
int tval_rdb_encode(const struct tval *tv, struct tval_rdb_buf *b);

/* Append one key record of an RDB file: EXPIRETIME_MS (when expire_ms >=
 * 0), the type byte, the key, the payload. Returns 0 or TVAL_RDB_ENOMEM. */
int tval_rdb_encode_record(struct tval_rdb_buf *b, const void *key, size_t klen,
                           const struct tval *tv, int64_t expire_ms);

/* A container's record in pieces, for a snapshot that captures its
 * elements a slice at a time: the head is what tval_rdb_encode_record
 * writes before the first element (expiry, type, key, and the count of
 * what follows: elements of a hash table or a tree sorted set, nodes of a
 * quicklist); each element is one entry of a table (a field and its value
 * for a hash, a member for a set; tval_rdb_encode_element), one member and
 * score of a sorted set (tval_rdb_zset_encode_element) or one node of a
 * list. tv must be TVAL_ENC_HASHTABLE, TVAL_ENC_SKIPLIST or
 * TVAL_ENC_QUICKLIST (else TVAL_RDB_ETYPE). Return 0 or TVAL_RDB_ENOMEM. */
int tval_rdb_encode_head(struct tval_rdb_buf *b, const void *key, size_t klen,
                         const struct tval *tv, int64_t expire_ms);
/* One node of a list's type 18 payload (see tval_rdb_encode_head): its
 * container kind and its listpack, or the LZF blob of a compressed one.
 * 0 or TVAL_RDB_ENOMEM. */
struct quicklist_blob;
int tval_rdb_list_encode_node(struct tval_rdb_buf *b, const struct quicklist_blob *blob);
/* See tval_rdb_encode_head; hash is tv->type == TVAL_HASH. */
int tval_rdb_encode_element(struct tval_rdb_buf *b, bool hash, const struct kventry *e);

/* ---------------------------------------------------------------- decode */

/* Decode one object (type byte first) from p[0..len) into a new tval
 * charged to a, with the thresholds lim (NULL: tval_limits_get). Borrows
 * p; memory allocated is bounded by the bytes present (a count or length
 * that the input cannot back is refused before anything is allocated for
 * it; LZF output is at most 88 times its input). On success *out is the
 * caller's (tval_free) and *used (if not NULL) the bytes consumed; bytes
 * after the object are left alone. Otherwise a TVAL_RDB_E* code, nothing
 * allocated remains, and err (if not NULL) gets a sentence saying what was
 * wrong. Runs on the thread that will own the value. */
int tval_rdb_decode(struct mem_acct *a, const unsigned char *p, size_t len,
                    const struct tval_limits *lim, struct tval **out, size_t *used, char *err,
                    size_t errlen);

/* Decode one string object (type byte 0, then an RDB string) from
 * p[0..len): *val is a new malloc'd block of *vlen bytes (never NULL on
 * success, even for an empty string), the caller's to free. Same returns
 * and limits as tval_rdb_decode. Pure. */
int tval_rdb_decode_string(const unsigned char *p, size_t len, char **val, size_t *vlen,
                           size_t *used, char *err, size_t errlen);

/* ------------------------------------------------ for the type codecs */

/* A cursor over an object's bytes, with room for the error sentence: what
 * the type codecs (tval_rdb_list.c, tval_rdb_zset.c) read through. */
struct tval_rdb_reader {
    const unsigned char *p;   /* next byte */
    const unsigned char *end; /* one past the last */
    char *err;                /* message buffer, or NULL */
    size_t errlen;            /* its size */
};

/* A string read by tval_rdb_read_string: a view into the input, into num
 * (an integer encoding's text) or into heap (LZF output, reused by the
 * next read). Zero-initialise; free heap with tval_rdb_str_free. */
struct tval_rdb_str {
    const unsigned char *s; /* the bytes */
    size_t n;               /* their length */
    char num[24];           /* an integer's text */
    unsigned char *heap;    /* LZF output, malloc'd */
    size_t hcap;            /* its size */
};

/* Read an RDB length (no string encoding marker allowed), advancing r.
 * 0 or TVAL_RDB_ECORRUPT with a sentence in r->err (if it is still
 * empty). */
int tval_rdb_read_len(struct tval_rdb_reader *r, uint64_t *v);

/* Read one RDB string (plain, integer or LZF) into *o, advancing r; o's
 * heap buffer is reused across calls. 0, TVAL_RDB_ECORRUPT or
 * TVAL_RDB_ENOMEM with a sentence in r->err. */
int tval_rdb_read_string(struct tval_rdb_reader *r, struct tval_rdb_str *o);

/* Free o's heap buffer (o may be read into again after). */
void tval_rdb_str_free(struct tval_rdb_str *o);

#endif
