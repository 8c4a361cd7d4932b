/* rdb.c — the RDB writer (strings with expiry, integer encodings, CRC64) and
 * the helpers both directions share: error texts, type names, file and
 * memory I/O callbacks. The loader is in rdb_load.c. Runs on whichever
 * thread writes the snapshot; a writer is never shared between threads. */
#include "shard/rdb.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shard/crc64.h"
#include "shard/lzf.h"

/* Writer states: calls must come in the order the file is laid out. */
enum {
    WS_INIT = 0, /* nothing written yet: only begin */
    WS_AUX,      /* after begin: aux, select_db or end */
    WS_DB,       /* inside a db: string, select_db or end */
    WS_DONE,     /* after end: nothing more */
};

/* The special-encoding marker: a length byte with both top bits set; its
 * low six bits say which encoding (RDB_ENC_*). */
#define RDB_ENCVAL 0xC0u
enum { RDB_ENC_INT8 = 0, RDB_ENC_INT16 = 1, RDB_ENC_INT32 = 2, RDB_ENC_LZF = 3 };

/* Longest decimal text that may be integer-encoded: "-2147483648" is 11
 * characters; longer texts cannot fit in 32 bits anyway. */
#define INT_ENC_MAX_TEXT 11

const char *rdb_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case RDB_EIO:
        return "I/O error";
    case RDB_ENOMEM:
        return "out of memory";
    case RDB_EMAGIC:
        return "not an RDB file (bad magic)";
    case RDB_EVERSION:
        return "unsupported RDB version";
    case RDB_ETRUNC:
        return "truncated RDB file";
    case RDB_ECRC:
        return "RDB checksum mismatch";
    case RDB_EOPCODE:
        return "unknown RDB opcode or type";
    case RDB_ETYPE:
        return "unsupported value type";
    case RDB_ECORRUPT:
        return "corrupt RDB file";
    case RDB_ETOOBIG:
        return "key or value over the configured limit";
    case RDB_ECALLBACK:
        return "load stopped by callback";
    default:
        return "unknown error";
    }
}

const char *rdb_type_name(int type)
{
    /* Names as Redis's own tools call the types, encodings spelled out so
     * an operator knows what the file holds. */
    static const char *const names[] = {
        [RDB_TYPE_STRING] = "string",
        [RDB_TYPE_LIST] = "list",
        [RDB_TYPE_SET] = "set",
        [RDB_TYPE_ZSET] = "zset",
        [RDB_TYPE_HASH] = "hash",
        [RDB_TYPE_ZSET_2] = "zset2",
        [RDB_TYPE_MODULE_PRE_GA] = "module (pre-GA)",
        [RDB_TYPE_MODULE_2] = "module",
        [RDB_TYPE_HASH_ZIPMAP] = "hash-zipmap",
        [RDB_TYPE_LIST_ZIPLIST] = "list-ziplist",
        [RDB_TYPE_SET_INTSET] = "set-intset",
        [RDB_TYPE_ZSET_ZIPLIST] = "zset-ziplist",
        [RDB_TYPE_HASH_ZIPLIST] = "hash-ziplist",
        [RDB_TYPE_LIST_QUICKLIST] = "list-quicklist",
        [RDB_TYPE_STREAM_LISTPACKS] = "stream",
        [RDB_TYPE_HASH_LISTPACK] = "hash-listpack",
        [RDB_TYPE_ZSET_LISTPACK] = "zset-listpack",
        [RDB_TYPE_LIST_QUICKLIST_2] = "list-quicklist2",
        [RDB_TYPE_STREAM_LISTPACKS_2] = "stream2",
    };
    if (type < 0 || (size_t)type >= sizeof names / sizeof names[0])
        return NULL;
    return names[type];
}

/* ------------------------------------------------------------------ I/O */

int rdb_fd_write(void *arg, const void *buf, size_t len)
{
    int fd = *(const int *)arg;
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t rdb_fd_read(void *arg, void *buf, size_t len)
{
    int fd = *(const int *)arg;

    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}

ssize_t rdb_mem_read(void *arg, void *buf, size_t len)
{
    struct rdb_mem_reader *r = arg;
    size_t n = r->len - r->pos;

    if (n > len)
        n = len;
    if (r->max_read && n > r->max_read)
        n = r->max_read;
    if (n == 0)
        return 0;
    memcpy(buf, r->data + r->pos, n);
    r->pos += n;
    return (ssize_t)n;
}

/* --------------------------------------------------------------- writer */

void rdb_writer_init(struct rdb_writer *w, rdb_write_fn write, void *arg)
{
    w->write = write;
    w->arg = arg;
    w->crc = 0;
    w->bytes = 0;
    w->keys = 0;
    w->err = 0;
    w->state = WS_INIT;
    w->used = 0;
}

/* Hand p[0..len) to the sink, folding it into the CRC. */
static int sink(struct rdb_writer *w, const void *p, size_t len)
{
    if (len == 0)
        return 0;
    w->crc = crc64_update(w->crc, p, len);
    if (w->write(w->arg, p, len) != 0) {
        w->err = RDB_EIO;
        return w->err;
    }
    w->bytes += len;
    return 0;
}

static int flush(struct rdb_writer *w)
{
    int rc = sink(w, w->buf, w->used);
    w->used = 0;
    return rc;
}

/* Append bytes: through the buffer when they fit, straight to the sink
 * when they are at least a buffer's worth (big values are not copied). */
static void put(struct rdb_writer *w, const void *p, size_t len)
{
    if (w->err || len == 0)
        return;
    if (len > sizeof w->buf - w->used) {
        if (flush(w) != 0)
            return;
        if (len >= sizeof w->buf) {
            sink(w, p, len);
            return;
        }
    }
    memcpy(w->buf + w->used, p, len);
    w->used += len;
}

static void put_byte(struct rdb_writer *w, unsigned char b)
{
    put(w, &b, 1);
}

size_t rdb_encode_len(unsigned char *b, uint64_t v)
{
    size_t n;

    if (v < (1u << 6)) {
        b[0] = (unsigned char)v;
        n = 1;
    } else if (v < (1u << 14)) {
        b[0] = (unsigned char)(0x40 | (v >> 8));
        b[1] = (unsigned char)v;
        n = 2;
    } else if (v <= UINT32_MAX) {
        b[0] = 0x80;
        for (int i = 0; i < 4; i++)
            b[1 + i] = (unsigned char)(v >> (24 - 8 * i));
        n = 5;
    } else {
        b[0] = 0x81;
        for (int i = 0; i < 8; i++)
            b[1 + i] = (unsigned char)(v >> (56 - 8 * i));
        n = 9;
    }
    return n;
}

/* A length in the shortest of the 6/14/32/64-bit forms. */
static void put_len(struct rdb_writer *w, uint64_t v)
{
    unsigned char b[9];
    put(w, b, rdb_encode_len(b, v));
}

/* If s[0..len) is the canonical decimal text of an integer (what printf
 * "%lld" would print: no sign but '-', no leading zeros, no "-0"), store it
 * in *out and return true. Only such texts may be integer-encoded: loading
 * turns the integer back into exactly this text. */
static bool canonical_int(const unsigned char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    int64_t v = 0;

    if (len == 0 || len > INT_ENC_MAX_TEXT)
        return false;
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (len == 1)
            return false;
    }
    if (s[i] == '0' && (len - i > 1 || neg))
        return false; /* leading zero, or "-0" */
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0'); /* at most 11 chars: no overflow */
    }
    *out = neg ? -v : v;
    return true;
}

size_t rdb_encode_int_string(unsigned char *b, const void *s, size_t len)
{
    int64_t v;

    if (canonical_int(s, len, &v) && v >= INT32_MIN && v <= INT32_MAX) {
        size_t n;
        uint32_t u = (uint32_t)v;

        if (v >= INT8_MIN && v <= INT8_MAX) {
            b[0] = RDB_ENCVAL | RDB_ENC_INT8;
            n = 1;
        } else if (v >= INT16_MIN && v <= INT16_MAX) {
            b[0] = RDB_ENCVAL | RDB_ENC_INT16;
            n = 2;
        } else {
            b[0] = RDB_ENCVAL | RDB_ENC_INT32;
            n = 4;
        }
        for (size_t i = 0; i < n; i++)
            b[1 + i] = (unsigned char)(u >> (8 * i)); /* little-endian */
        return 1 + n;
    }
    return 0;
}

/* A string: integer-encoded in 1, 2 or 4 bytes when canonical_int and in
 * the int32 range, otherwise raw (length + bytes). */
static void put_string(struct rdb_writer *w, const void *s, size_t len)
{
    unsigned char b[9];
    size_t n = rdb_encode_int_string(b, s, len);

    if (n > 0) {
        put(w, b, n);
        return;
    }
    put_len(w, len);
    put(w, s, len);
}

/* Strings Redis offers to LZF (rdbSaveRawString: longer than 20 bytes),
 * and the bytes compression must save for its form to be kept. */
#define RDB_LZF_MIN_LEN 21
#define RDB_LZF_MIN_SAVING 4

size_t rdb_encode_lzf_string(unsigned char *out, const void *s, size_t len)
{
    if (len < RDB_LZF_MIN_LEN || len >= UINT32_MAX)
        return 0;
    /* Compressed past the longest header (1 + 5 + 5: both lengths are
     * under 2^32), then slid back behind the real one: 11 + (len - 4). */
    size_t clen = lzf_compress(s, len, out + 11, len - RDB_LZF_MIN_SAVING);
    if (clen == 0)
        return 0;
    size_t n = 1;
    out[0] = RDB_ENCVAL | RDB_ENC_LZF;
    n += rdb_encode_len(out + n, clen);
    n += rdb_encode_len(out + n, len);
    memmove(out + n, out + 11, clen);
    return n + clen;
}

/* The same into memory: returns the bytes written at out, which has room
 * for 9 + len. With lzf, a string of more than 20 bytes is written
 * LZF-compressed when that saves at least 4 bytes, as Redis writes it. */
static size_t enc_string(unsigned char *out, const void *s, size_t len, bool lzf)
{
    size_t n = rdb_encode_int_string(out, s, len);

    if (n > 0)
        return n;
    if (lzf && (n = rdb_encode_lzf_string(out, s, len)) > 0)
        return n;
    n = rdb_encode_len(out, len);
    if (len)
        memcpy(out + n, s, len);
    return n + len;
}

/* The 9 bytes of EXPIRETIME_MS t (opcode, 8-byte little-endian ms). */
static void enc_expire(unsigned char *b, int64_t expire_ms)
{
    b[0] = RDB_OPCODE_EXPIRETIME_MS;
    for (int i = 0; i < 8; i++)
        b[1 + i] = (unsigned char)((uint64_t)expire_ms >> (8 * i));
}

size_t rdb_encode_string(unsigned char *out, const void *key, size_t klen, const void *val,
                         size_t vlen, int64_t expire_ms, bool lzf)
{
    size_t n = 0;

    assert(expire_ms >= -1);
    if (expire_ms >= 0) {
        enc_expire(out, expire_ms);
        n = 9;
    }
    out[n++] = RDB_TYPE_STRING;
    n += enc_string(out + n, key, klen, lzf);
    n += enc_string(out + n, val, vlen, lzf);
    return n;
}

int rdb_writer_raw(struct rdb_writer *w, const void *records, size_t len, uint64_t keys)
{
    assert(w->state == WS_DB);
    put(w, records, len);
    w->keys += keys;
    return w->err;
}

static void put_aux(struct rdb_writer *w, const char *name, const char *val)
{
    put_byte(w, RDB_OPCODE_AUX);
    put_string(w, name, strlen(name));
    put_string(w, val, strlen(val));
}

int rdb_writer_begin(struct rdb_writer *w, int64_t ctime_s, uint64_t used_mem)
{
    char magic[16], num[24];

    assert(w->state == WS_INIT);
    w->state = WS_AUX;
    snprintf(magic, sizeof magic, "REDIS%04d", RDB_VERSION);
    put(w, magic, strlen(magic));
    put_aux(w, "redis-ver", RDB_REDIS_VER);
    snprintf(num, sizeof num, "%d", (int)(sizeof(void *) * 8));
    put_aux(w, "redis-bits", num);
    snprintf(num, sizeof num, "%lld", (long long)ctime_s);
    put_aux(w, "ctime", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)used_mem);
    put_aux(w, "used-mem", num);
    /* aof-base 0: this file is a snapshot, not the base of an AOF. */
    put_aux(w, "aof-base", "0");
    return w->err;
}

int rdb_writer_aux(struct rdb_writer *w, const void *name, size_t nlen, const void *val,
                   size_t vlen)
{
    assert(w->state == WS_AUX);
    put_byte(w, RDB_OPCODE_AUX);
    put_string(w, name, nlen);
    put_string(w, val, vlen);
    return w->err;
}

int rdb_writer_functions(struct rdb_writer *w, const void *records, size_t len)
{
    assert(w->state == WS_AUX);
    if (len)
        put(w, records, len);
    return w->err;
}

int rdb_writer_select_db(struct rdb_writer *w, uint32_t db, uint64_t keys_hint,
                         uint64_t expires_hint)
{
    assert(w->state == WS_AUX || w->state == WS_DB);
    w->state = WS_DB;
    put_byte(w, RDB_OPCODE_SELECTDB);
    put_len(w, db);
    put_byte(w, RDB_OPCODE_RESIZEDB);
    put_len(w, keys_hint);
    put_len(w, expires_hint);
    return w->err;
}

int rdb_writer_string(struct rdb_writer *w, const void *key, size_t klen, const void *val,
                      size_t vlen, int64_t expire_ms)
{
    assert(w->state == WS_DB);
    assert(expire_ms >= -1);
    if (expire_ms >= 0) {
        unsigned char b[9];
        enc_expire(b, expire_ms);
        put(w, b, sizeof b);
    }
    put_byte(w, RDB_TYPE_STRING);
    put_string(w, key, klen);
    put_string(w, val, vlen);
    w->keys++;
    return w->err;
}

int rdb_writer_end(struct rdb_writer *w)
{
    unsigned char b[8];
    uint64_t crc;

    assert(w->state == WS_AUX || w->state == WS_DB);
    w->state = WS_DONE;
    put_byte(w, RDB_OPCODE_EOF);
    if (w->err || flush(w) != 0)
        return w->err;
    /* The checksum covers everything up to and including the EOF byte and
     * is itself outside it, so it is computed after that flush. */
    crc = w->crc;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(crc >> (8 * i));
    if (w->write(w->arg, b, sizeof b) != 0) {
        w->err = RDB_EIO;
        return w->err;
    }
    w->bytes += sizeof b;
    return 0;
}

void rdb_payload_footer(const void *body, size_t len, unsigned char foot[RDB_PAYLOAD_FOOTER])
{
    foot[0] = RDB_VERSION & 0xff;
    foot[1] = RDB_VERSION >> 8;
    uint64_t crc = crc64_update(crc64_update(0, len ? body : "", len), foot, 2);
    for (int i = 0; i < 8; i++)
        foot[2 + i] = (unsigned char)(crc >> (8 * i));
}

bool rdb_payload_ok(const unsigned char *p, size_t len)
{
    if (len < RDB_PAYLOAD_FOOTER)
        return false;
    const unsigned char *foot = p + len - RDB_PAYLOAD_FOOTER;
    if ((foot[0] | foot[1] << 8) > RDB_VERSION)
        return false;
    uint64_t crc = crc64_update(0, p, len - 8), stored = 0;
    for (int i = 0; i < 8; i++)
        stored |= (uint64_t)foot[2 + i] << (8 * i);
    return crc == stored;
}
