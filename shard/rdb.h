/* rdb.h — the snapshot file format: Redis RDB version 10 (what Redis 7.0
 * writes), so that redis-check-rdb and redis-server read our snapshots and we
 * read theirs. A streaming writer (strings with expiry, CRC64) and a streaming
 * loader (bounded memory whatever the file size). Pure: all I/O goes through
 * caller callbacks; no threads, no global state; one writer or loader is used
 * by one thread at a time. The writer is rdb.c, the loader rdb_load.c.
 *
 * File layout (all that this module writes; the loader reads any RDB 1..10):
 *
 *   "REDIS0010"                          magic and 4-digit version
 *   AUX name value ...                   0xFA, two strings each
 *   SELECTDB db  RESIZEDB keys expires   0xFE len, 0xFB len len
 *   [EXPIRETIME_MS t] 0 key value ...    0xFC + 8-byte LE ms, type 0 = string
 *                                        (hashes and sets: shard/tval_rdb.h)
 *   EOF crc64                            0xFF + 8-byte LE CRC over all before
 *
 * A length is 1, 2, 5 or 9 bytes: the top two bits of the first byte say
 * 00 = 6-bit value, 01 = 14-bit (big-endian with the next byte), 10 = the
 * value follows as 32-bit (0x80) or 64-bit (0x81) big-endian, 11 = the low
 * six bits name a special string encoding: integer in 1/2/4 little-endian
 * bytes (0, 1, 2) or LZF-compressed (3: compressed length, plain length,
 * data). A string is a length and that many bytes, or a special encoding. */
#ifndef SKV_SHARD_RDB_H
#define SKV_SHARD_RDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The RDB version we write, and the newest one we read. Version 11
 * (Redis 7.2) adds types we have not checked, so it is refused. */
#define RDB_VERSION 10
/* The version written into the "redis-ver" AUX field. redis-server only
 * logs it; tools print it. */
#define RDB_REDIS_VER "7.0.0"

/* DUMP and FUNCTION DUMP payloads end in this footer: the RDB version
 * (2 bytes, little-endian), then the CRC64 of everything before (8). */
#define RDB_PAYLOAD_FOOTER 10

/* Fill foot with the footer for a payload whose body is body[0..len). */
void rdb_payload_footer(const void *body, size_t len, unsigned char foot[RDB_PAYLOAD_FOOTER]);

/* Redis's verifyDumpPayload: p[0..len) is long enough for the footer,
 * names a version we read, and carries the CRC64 of what precedes it. */
bool rdb_payload_ok(const unsigned char *p, size_t len);

/* Opcodes that may appear where a value type is expected. */
enum {
    RDB_OPCODE_FUNCTION2 = 0xF5,       /* a function library (Redis 7.0) */
    RDB_OPCODE_FUNCTION_PRE_GA = 0xF6, /* 7.0 release-candidate functions */
    RDB_OPCODE_MODULE_AUX = 0xF7,      /* module data outside any key */
    RDB_OPCODE_IDLE = 0xF8,            /* LRU idle time of the next key */
    RDB_OPCODE_FREQ = 0xF9,            /* LFU counter of the next key */
    RDB_OPCODE_AUX = 0xFA,             /* name/value metadata pair */
    RDB_OPCODE_RESIZEDB = 0xFB,        /* key and expire counts: size hints */
    RDB_OPCODE_EXPIRETIME_MS = 0xFC,   /* next key's expiry, 8-byte LE ms */
    RDB_OPCODE_EXPIRETIME = 0xFD,      /* next key's expiry, 4-byte LE s */
    RDB_OPCODE_SELECTDB = 0xFE,        /* following keys go to this db */
    RDB_OPCODE_EOF = 0xFF,             /* end; the CRC64 follows (v5+) */
};

/* Value types. Strings are loaded; hashes and sets are handed over as raw
 * objects when on_object is set; the others are named in errors, or
 * skipped with RDB_LOAD_SKIP_UNKNOWN. */
enum {
    RDB_TYPE_STRING = 0,
    RDB_TYPE_LIST = 1,
    RDB_TYPE_SET = 2,
    RDB_TYPE_ZSET = 3,
    RDB_TYPE_HASH = 4,
    RDB_TYPE_ZSET_2 = 5,        /* scores as binary doubles */
    RDB_TYPE_MODULE_PRE_GA = 6, /* never skippable: not self-describing */
    RDB_TYPE_MODULE_2 = 7,
    RDB_TYPE_HASH_ZIPMAP = 9,
    RDB_TYPE_LIST_ZIPLIST = 10,
    RDB_TYPE_SET_INTSET = 11,
    RDB_TYPE_ZSET_ZIPLIST = 12,
    RDB_TYPE_HASH_ZIPLIST = 13,
    RDB_TYPE_LIST_QUICKLIST = 14,
    RDB_TYPE_STREAM_LISTPACKS = 15,
    RDB_TYPE_HASH_LISTPACK = 16,
    RDB_TYPE_ZSET_LISTPACK = 17,
    RDB_TYPE_LIST_QUICKLIST_2 = 18,
    RDB_TYPE_STREAM_LISTPACKS_2 = 19,
};

/* Error codes (negative, returned directly). */
enum {
    RDB_EIO = -1,       /* the read or write callback failed */
    RDB_ENOMEM = -2,    /* out of memory for a key or value within limits */
    RDB_EMAGIC = -3,    /* not an RDB file: no "REDIS" magic */
    RDB_EVERSION = -4,  /* RDB version we cannot read (0 or over 10) */
    RDB_ETRUNC = -5,    /* the file ends before its EOF opcode and checksum */
    RDB_ECRC = -6,      /* the CRC64 at the end does not match the contents */
    RDB_EOPCODE = -7,   /* unknown opcode or value type byte */
    RDB_ETYPE = -8,     /* a value type we do not load (list, hash, ...) */
    RDB_ECORRUPT = -9,  /* bad encoding: LZF data, length, bytes after EOF */
    RDB_ETOOBIG = -10,  /* a key or value over struct rdb_limits */
    RDB_ECALLBACK = -11 /* a load callback returned an error; load stopped */
};

/* Human-readable text for an RDB_E* code. Static string. */
const char *rdb_strerror(int err);

/* ------------------------------------------------------------------ I/O */

/* Sink for the writer: write all of buf[0..len) and return 0, or a negative
 * code (the writer stops and reports RDB_EIO). Never called with len 0. */
typedef int (*rdb_write_fn)(void *arg, const void *buf, size_t len);

/* Source for the loader: read up to len bytes into buf; return how many
 * (fewer is fine), 0 at end of file, or a negative code (RDB_EIO). */
typedef ssize_t (*rdb_read_fn)(void *arg, void *buf, size_t len);

/* Ready-made callbacks over a file descriptor: arg points to an int fd.
 * They retry on EINTR and on short writes; errors return -errno. */
int rdb_fd_write(void *arg, const void *buf, size_t len);
ssize_t rdb_fd_read(void *arg, void *buf, size_t len);

/* A loader source over bytes in memory (tests, fuzzing). Borrows data. */
struct rdb_mem_reader {
    const unsigned char *data; /* the whole file */
    size_t len;                /* its length */
    size_t pos;                /* bytes handed out so far */
    size_t max_read;           /* cap per call (0 = none): to test splits */
};

/* rdb_read_fn over a struct rdb_mem_reader (arg). */
ssize_t rdb_mem_read(void *arg, void *buf, size_t len);

/* --------------------------------------------------------------- writer */

/* Bytes the writer buffers before calling the sink. Larger strings go to
 * the sink directly, so the buffer bounds memory, not value size. */
#define RDB_WRITER_BUF 65536

/* A streaming writer; the caller provides the storage (it is ~64 KB, so
 * allocate it rather than put it on a small stack). Fields are private. */
struct rdb_writer {
    rdb_write_fn write;                /* the sink */
    void *arg;                         /* the sink's argument */
    uint64_t crc;                      /* CRC64 of every byte handed to the sink */
    uint64_t bytes;                    /* bytes handed to the sink so far */
    uint64_t keys;                     /* keys written so far */
    int err;                           /* first error (sticky), or 0 */
    int state;                         /* where in the file we are: see rdb.c */
    size_t used;                       /* bytes pending in buf */
    unsigned char buf[RDB_WRITER_BUF]; /* pending output */
};

/* Prepare w to write into the sink write(arg, ...). Writes nothing yet. */
void rdb_writer_init(struct rdb_writer *w, rdb_write_fn write, void *arg);

/* Write the magic and the AUX fields redis-server writes: redis-ver
 * (RDB_REDIS_VER), redis-bits, ctime (ctime_s, Unix seconds), used-mem
 * (used_mem bytes) and aof-base 0. Must be the first call. Returns 0,
 * RDB_EIO if the sink failed (sticky: every later call returns it too). */
int rdb_writer_begin(struct rdb_writer *w, int64_t ctime_s, uint64_t used_mem);

/* Write one more AUX field (binary-safe name and value). Allowed after
 * begin and before the first select_db. Returns 0 or RDB_EIO. */
int rdb_writer_aux(struct rdb_writer *w, const void *name, size_t nlen, const void *val,
                   size_t vlen);

/* Write function records (RDB_OPCODE_FUNCTION2 + the library's code as
 * a string, each; Redis 7.0's rdbSaveFunctions), made by the caller, as
 * they are. Allowed after begin and before the first select_db, where
 * Redis writes them. Returns 0 or RDB_EIO. */
int rdb_writer_functions(struct rdb_writer *w, const void *records, size_t len);

/* Start database db: SELECTDB, then RESIZEDB with the expected number of
 * keys and of keys with an expiry (hints only: readers pre-size their tables
 * with them, so they need not be exact; pass 0 when unknown). Normally each
 * db once, in any order (selecting a db again is valid RDB too). Returns 0
 * or RDB_EIO. */
int rdb_writer_select_db(struct rdb_writer *w, uint32_t db, uint64_t keys_hint,
                         uint64_t expires_hint);

/* Write one string key (binary-safe key and value, borrowed) with its
 * absolute expiry in Unix milliseconds, or -1 for none. Keys and values
 * that are canonical decimal integers in the int32 range are written in the
 * integer encodings, as redis-server does; others raw, never compressed.
 * Only after select_db. Returns 0 or RDB_EIO. */
int rdb_writer_string(struct rdb_writer *w, const void *key, size_t klen, const void *val,
                      size_t vlen, int64_t expire_ms);

/* Most bytes rdb_encode_string writes for a klen-byte key and a vlen-byte
 * value: expiry (9), type (1), two lengths (9 each) and the bytes. */
static inline size_t rdb_string_record_max(size_t klen, size_t vlen)
{
    return 9 + 1 + 9 + klen + 9 + vlen;
}

/* Encode one string key record (optional EXPIRETIME_MS, type, key, value;
 * the same bytes rdb_writer_string writes, or with lzf the key and value
 * LZF-compressed where Redis would compress them) into out, which must hold
 * rdb_string_record_max(klen, vlen) bytes. For snapshot capture, which
 * encodes on the shard thread and writes on another. Returns the bytes
 * written. Any thread (lzf uses a table of the calling thread's). */
size_t rdb_encode_string(unsigned char *out, const void *key, size_t klen, const void *val,
                         size_t vlen, int64_t expire_ms, bool lzf);

/* Write s LZF-compressed as Redis's rdbSaveLzfStringObject does (marker,
 * compressed length, length, data) at out, which has room for 7 + len
 * bytes, and return the bytes written; 0 when Redis would write it as it
 * is: 20 bytes or fewer, or compression saves less than 4. Any thread
 * (lzf_compress uses a table of the calling thread's). */
size_t rdb_encode_lzf_string(unsigned char *out, const void *s, size_t len);

/* Encode the length v in the shortest of the 6/14/32/64-bit forms into b
 * (room for 9 bytes); returns the bytes used. Pure. */
size_t rdb_encode_len(unsigned char *b, uint64_t v);

/* If s[0..len) is the canonical decimal text of an int32 ("-12", not "012"
 * or "+1"), write its integer encoding (2, 3 or 5 bytes) into b (room for
 * 5) and return how many bytes; otherwise return 0. Redis tries this on
 * every string of 11 bytes or less. Pure. */
size_t rdb_encode_int_string(unsigned char *b, const void *s, size_t len);

/* Append len bytes of records made by rdb_encode_string (keys of them) to
 * the current database, folding them into the CRC like any other bytes.
 * Only after select_db. Returns 0 or RDB_EIO. */
int rdb_writer_raw(struct rdb_writer *w, const void *records, size_t len, uint64_t keys);

/* Write the EOF opcode and the CRC64, and flush everything to the sink.
 * The file is complete only when this returns 0; the caller then fsyncs
 * and renames it into place. Returns 0 or RDB_EIO. */
int rdb_writer_end(struct rdb_writer *w);

/* --------------------------------------------------------------- loader */

/* Limits on what a file may ask the loader to allocate. A key or value
 * longer than its limit fails the load with RDB_ETOOBIG before anything is
 * allocated; below the limit, memory grows only as bytes actually arrive, so
 * a corrupt length in a small file cannot cause a large allocation. */
struct rdb_limits {
    size_t max_key;    /* longest key; 0 = RDB_DEFAULT_MAX_STRING */
    size_t max_value;  /* longest value or AUX field; 0 = the default */
    size_t max_object; /* most bytes of one hash or set object in the file
                          (on_object); 0 = RDB_DEFAULT_MAX_OBJECT */
};
/* Redis's own bound on a string (proto-max-bulk-len): 512 MB. */
#define RDB_DEFAULT_MAX_STRING ((size_t)512 * 1024 * 1024)
/* A hash or set object is held whole while it is handed over: 4 GB bounds
 * that (a million-member set takes ~20 MB). */
#define RDB_DEFAULT_MAX_OBJECT ((size_t)4 << 30)

/* Flags for struct rdb_load_opts. */
#define RDB_LOAD_SKIP_UNKNOWN 0x1u /* skip the types no callback loads
                                     (lists, zsets, streams, modules; and
                                     hashes and sets without on_object) */
#define RDB_LOAD_SKIP_NON_STRING RDB_LOAD_SKIP_UNKNOWN /* its older name */
#define RDB_LOAD_REQUIRE_CRC     0x2u /* refuse files whose CRC is 0 */

/* Callbacks and settings for one load. Callbacks are optional (NULL) except
 * on_string. A callback returns 0 to go on, or a negative code to stop the
 * load, which then returns RDB_ECALLBACK (the code is kept in
 * result.cb_err). Views passed to callbacks are valid only during the call.
 *
 * The loader reports keys as it parses them, but the CRC can only be
 * checked at the end of the file. A caller must therefore load into a
 * staging area and commit only when rdb_load returned 0: a truncated or
 * corrupt file is refused whole, never loaded in part silently. */
struct rdb_load_opts {
    struct rdb_limits limits; /* allocation bounds; zeros = defaults */
    unsigned flags;           /* RDB_LOAD_* */
    uint64_t progress_every;  /* call on_progress about every this many
                                 bytes; 0 = every 1 MB */
    void *arg;                /* passed to every callback */

    /* A SELECTDB: keys that follow belong to database db. */
    int (*on_select_db)(void *arg, uint64_t db);
    /* A RESIZEDB: size hints for the current db (untrusted numbers). */
    int (*on_resize_db)(void *arg, uint64_t db, uint64_t keys, uint64_t expires);
    /* An AUX field (redis-ver, ctime, ...). Integer-encoded values arrive
     * as their decimal text. */
    int (*on_aux)(void *arg, const char *name, size_t nlen, const char *val, size_t vlen);
    /* A function library (RDB_OPCODE_FUNCTION2): its code, shebang
     * included. NULL: the record is skipped with RDB_LOAD_SKIP_UNKNOWN,
     * else refused (RDB_ETYPE). */
    int (*on_function)(void *arg, const char *code, size_t len);
    /* A string key in database db, with its absolute expiry in Unix ms or
     * -1. Keys that have expired already are reported too (with their past
     * expiry; times before 1970 as 0): dropping them is the caller's
     * policy. db is the file's number, unchecked: refuse it here if it is
     * out of range. */
    int (*on_string)(void *arg, uint64_t db, const char *key, size_t klen, const char *val,
                     size_t vlen, int64_t expire_ms);
    /* A hash or set key (RDB types 2, 4, 9, 11, 13, 16) in database db:
     * obj[0..olen) is its object as the file holds it, type byte first, to
     * decode with tval_rdb_decode (shard/tval_rdb.h); the loader has only
     * checked its structure. expire_ms and db as for on_string. NULL: such
     * keys count as unknown types. */
    int (*on_object)(void *arg, uint64_t db, const char *key, size_t klen,
                     const unsigned char *obj, size_t olen, int64_t expire_ms);
    /* Progress: bytes read and keys reported so far. Also called
     * once when the load succeeds. Cannot fail. */
    void (*on_progress)(void *arg, uint64_t bytes, uint64_t keys);
};

/* What a load found; filled in by rdb_load whatever it returns. */
struct rdb_load_result {
    int version;          /* RDB version from the header (0 if unread) */
    uint64_t bytes;       /* bytes consumed */
    uint64_t keys;        /* keys reported to on_string and on_object */
    uint64_t objects;     /* of which hashes and sets (on_object) */
    uint64_t expires;     /* of which with an expiry */
    uint64_t skipped;     /* non-string keys skipped (RDB_LOAD_SKIP_...) */
    uint64_t skipped_aux; /* module AUX and function entries skipped */
    bool crc_checked;     /* false for v1-4 files and a stored CRC of 0 */
    int cb_err;           /* a callback's error code (RDB_ECALLBACK) */
    uint64_t err_offset;  /* file offset where the error was found */
    char msg[256];        /* "offset N: what was wrong", or "" on success */
};

/* Read an RDB file from read(read_arg, ...) to its end, reporting
 * databases, AUX fields, string keys and (with on_object) hash and set
 * objects through opts' callbacks. Memory is bounded by a 64 KB read buffer
 * plus the largest key, value and object (see struct rdb_limits), whatever
 * the file size. Borrows opts; res may not be
 * NULL. Returns 0 only when the whole file parsed and its CRC64 matched (or
 * was 0, i.e. not computed by the writer, unless RDB_LOAD_REQUIRE_CRC), with
 * nothing after the checksum. Otherwise a negative RDB_E* code, with
 * res->msg saying what was wrong and at which offset:
 * RDB_EMAGIC, RDB_EVERSION, RDB_ETRUNC, RDB_ECRC, RDB_EOPCODE, RDB_ETYPE
 * (the message names the type; streams, list, zset and module values, and
 * hash and set ones without on_object, are skipped instead with
 * RDB_LOAD_SKIP_UNKNOWN, except old
 * pre-GA module and function records, which cannot be skipped and are
 * always refused), RDB_ECORRUPT, RDB_ETOOBIG, RDB_ENOMEM, RDB_EIO,
 * RDB_ECALLBACK. */
int rdb_load(rdb_read_fn read, void *read_arg, const struct rdb_load_opts *opts,
             struct rdb_load_result *res);

/* Name of a value type for messages ("list", "hash-listpack", ...), or
 * NULL for a byte that is no type. Static string. */
const char *rdb_type_name(int type);

#endif
