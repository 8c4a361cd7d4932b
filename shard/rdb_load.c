/* rdb_load.c — the streaming RDB loader: parses RDB versions 1 to 10 from a
 * read callback through a 64 KB buffer, reports string keys to the caller,
 * hands hash and set objects over as raw bytes (decoded by the caller with
 * tval_rdb.h, on the thread that will own them),
 * decodes LZF-compressed strings (lzf.c), skips (on request) every other value type
 * of RDB 10, and checks the CRC64 at the end. Every length read from the
 * file is checked against a limit or against the bytes that really arrived
 * before memory is allocated for it. Runs on the thread that calls rdb_load
 * (at start-up, the thread that loads the snapshot into staging shards). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard/crc64.h"
#include "shard/lzf.h"
#include "shard/rdb.h"

/* Input buffer: big enough that refills are rare, small enough not to
 * matter next to the data set. Every fixed-size item (a 16-byte stream ID
 * is the largest) fits with room to spare. */
#define IN_BUF (64 * 1024)

/* Default progress interval. */
#define DEFAULT_PROGRESS_EVERY ((uint64_t)1 << 20)

/* Special string encodings (the low six bits of a 0b11xxxxxx length). */
enum { ENC_INT8 = 0, ENC_INT16 = 1, ENC_INT32 = 2, ENC_LZF = 3 };

/* Opcodes inside a module value (self-describing module serialisation). */
enum {
    MOD_EOF = 0,
    MOD_SINT = 1,
    MOD_UINT = 2,
    MOD_FLOAT = 3,
    MOD_DOUBLE = 4,
    MOD_STRING = 5,
};

/* Quicklist 2 node containers: one plain element or a packed listpack. */
enum { QL_PLAIN = 1, QL_PACKED = 2 };

/* Longest key excerpt quoted in an error message, in source bytes. */
#define QUOTE_MAX 40

/* A growable byte buffer the loader reuses from key to key. */
struct sbuf {
    char *p;    /* bytes (NULL until first use) */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
};

struct loader {
    rdb_read_fn read;              /* the source */
    void *read_arg;                /* its argument */
    const struct rdb_load_opts *o; /* callbacks, limits, flags */
    struct rdb_load_result *res;   /* where results and errors go */
    size_t max_key;                /* effective key limit */
    size_t max_value;              /* effective value / AUX limit */
    unsigned char *in;             /* IN_BUF bytes of input */
    size_t pos;                    /* next unread byte in in[] */
    size_t end;                    /* bytes valid in in[] */
    size_t crc_from;               /* in[crc_from..pos) not yet in crc */
    uint64_t crc;                  /* CRC64 of bytes consumed before that */
    uint64_t base;                 /* file offset of in[0] */
    bool eof;                      /* the source returned 0 */
    uint64_t db;                   /* current database */
    uint64_t progress_every;       /* progress interval in bytes */
    uint64_t next_progress;        /* next offset at which to report */
    struct sbuf key;               /* current key (or AUX name) */
    struct sbuf val;               /* current value (or AUX value) */
    struct sbuf lzf;               /* compressed bytes being decoded */
    struct sbuf obj;               /* a hash or set object's raw bytes */
    bool recording;                /* consumed bytes also go to obj */
    size_t rec_from;               /* in[rec_from..pos) not yet in obj */
    size_t max_object;             /* effective object limit */
};

static uint64_t offset(const struct loader *l)
{
    return l->base + l->pos;
}

/* Record an error found at file offset off and return code. */
static int fail_at(struct loader *l, uint64_t off, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(struct loader *l, uint64_t off, int code, const char *fmt, ...)
{
    struct rdb_load_result *r = l->res;
    va_list ap;
    int n;

    r->err_offset = off;
    n = snprintf(r->msg, sizeof r->msg, "offset %" PRIu64 ": ", off);
    if (n < 0 || (size_t)n >= sizeof r->msg)
        return code;
    va_start(ap, fmt);
    vsnprintf(r->msg + n, sizeof r->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

#define fail(l, code, ...) fail_at((l), offset(l), (code), __VA_ARGS__)

/* Quote s[0..len) for a message: printable ASCII as is, the rest as \xNN,
 * cut at QUOTE_MAX bytes with "...". Returns out. */
static const char *quote(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < len && i < QUOTE_MAX && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    if (len > QUOTE_MAX && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* Fold the consumed bytes into the CRC, move the unread ones to the front
 * and read once more. Returns 1 if bytes arrived, 0 at end of file, or
 * RDB_EIO. */
static int rec_flush(struct loader *l);

static int more(struct loader *l)
{
    ssize_t n;

    if (l->recording) {
        int rc = rec_flush(l);
        if (rc)
            return rc;
        l->rec_from = 0; /* where in[pos] is about to move */
    }
    l->crc = crc64_update(l->crc, l->in + l->crc_from, l->pos - l->crc_from);
    memmove(l->in, l->in + l->pos, l->end - l->pos);
    l->base += l->pos;
    l->end -= l->pos;
    l->pos = 0;
    l->crc_from = 0;
    if (l->eof)
        return 0;
    n = l->read(l->read_arg, l->in + l->end, IN_BUF - l->end);
    if (n < 0 || (size_t)n > IN_BUF - l->end)
        return fail_at(l, l->base + l->end, RDB_EIO, "read failed (%zd)", n);
    if (n == 0) {
        l->eof = true;
        return 0;
    }
    l->end += (size_t)n;
    return 1;
}

static int truncated(struct loader *l, const char *what, uint64_t missing)
{
    return fail_at(l, l->base + l->end, RDB_ETRUNC,
                   "file ends inside %s (%" PRIu64 " more bytes expected)", what, missing);
}

/* Make n (<= IN_BUF) bytes available at in[pos]. */
static int need(struct loader *l, size_t n, const char *what)
{
    while (l->end - l->pos < n) {
        int rc = more(l);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return truncated(l, what, n - (l->end - l->pos));
    }
    return 0;
}

/* Consume n bytes into dst (or discard them when dst is NULL). */
static int get_bytes(struct loader *l, void *dst, uint64_t n, const char *what)
{
    unsigned char *d = dst;

    while (n > 0) {
        size_t k;
        if (l->pos == l->end) {
            int rc = more(l);
            if (rc < 0)
                return rc;
            if (rc == 0)
                return truncated(l, what, n);
        }
        k = l->end - l->pos;
        if (k > n)
            k = (size_t)n;
        if (d) {
            memcpy(d, l->in + l->pos, k);
            d += k;
        }
        l->pos += k;
        n -= k;
    }
    return 0;
}

static int get_byte(struct loader *l, unsigned *b, const char *what)
{
    int rc = need(l, 1, what);
    if (rc)
        return rc;
    *b = l->in[l->pos++];
    return 0;
}

/* n little-endian bytes (n <= 8) as an unsigned number. */
static int get_le(struct loader *l, size_t n, uint64_t *v, const char *what)
{
    int rc = need(l, n, what);
    if (rc)
        return rc;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v |= (uint64_t)l->in[l->pos + i] << (8 * i);
    l->pos += n;
    return 0;
}

/* Grow b to hold at least want bytes, doubling so that the capacity stays
 * within twice what is used. */
static int sbuf_reserve(struct loader *l, struct sbuf *b, size_t want)
{
    size_t cap = b->cap ? b->cap : 64;
    char *p;

    if (want <= b->cap)
        return 0;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    p = realloc(b->p, cap);
    if (!p)
        return fail(l, RDB_ENOMEM, "out of memory for %zu bytes", cap);
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Append the bytes consumed since the last call to the object being
 * recorded: memory grows only as the file's bytes arrive, up to the object
 * limit. */
static int rec_flush(struct loader *l)
{
    size_t n = l->pos - l->rec_from;
    if (n == 0)
        return 0;
    if (n > l->max_object - l->obj.len)
        return fail(l, RDB_ETOOBIG, "an object over the limit of %zu bytes", l->max_object);
    int rc = sbuf_reserve(l, &l->obj, l->obj.len + n);
    if (rc)
        return rc;
    memcpy(l->obj.p + l->obj.len, l->in + l->rec_from, n);
    l->obj.len += n;
    l->rec_from = l->pos;
    return 0;
}

/* Consume n bytes into b, allocating only as the bytes arrive: a length
 * that the file does not back with data fails as truncated without ever
 * having been allocated. */
static int get_into(struct loader *l, struct sbuf *b, uint64_t n, const char *what)
{
    b->len = 0;
    while (b->len < n) {
        size_t k;
        int rc;
        if (l->pos == l->end) {
            rc = more(l);
            if (rc < 0)
                return rc;
            if (rc == 0)
                return truncated(l, what, n - b->len);
        }
        k = l->end - l->pos;
        if (k > n - b->len)
            k = (size_t)(n - b->len);
        rc = sbuf_reserve(l, b, b->len + k);
        if (rc)
            return rc;
        memcpy(b->p + b->len, l->in + l->pos, k);
        b->len += k;
        l->pos += k;
    }
    return 0;
}

/* A length, or (when enc is not NULL) a special-encoding marker: then *enc
 * is set and *v is the encoding number. */
static int get_len(struct loader *l, uint64_t *v, bool *enc, const char *what)
{
    uint64_t off = offset(l);
    unsigned b, b2;
    uint64_t x;
    int rc;

    if (enc)
        *enc = false;
    if ((rc = get_byte(l, &b, what)) != 0)
        return rc;
    switch (b >> 6) {
    case 0:
        *v = b & 0x3f;
        return 0;
    case 1:
        if ((rc = get_byte(l, &b2, what)) != 0)
            return rc;
        *v = (uint64_t)(b & 0x3f) << 8 | b2;
        return 0;
    case 2:
        if (b != 0x80 && b != 0x81)
            return fail_at(l, off, RDB_ECORRUPT, "bad length prefix 0x%02x in %s", b, what);
        if ((rc = need(l, b == 0x80 ? 4 : 8, what)) != 0)
            return rc;
        x = 0;
        for (int i = 0; i < (b == 0x80 ? 4 : 8); i++)
            x = x << 8 | l->in[l->pos++]; /* big-endian, unlike the rest */
        *v = x;
        return 0;
    default:
        if (!enc)
            return fail_at(l, off, RDB_ECORRUPT,
                           "string encoding byte 0x%02x where %s (a length) was expected", b, what);
        *enc = true;
        *v = b & 0x3f;
        return 0;
    }
}

/* A string into b (or skipped when b is NULL), at most max bytes. Integer
 * encodings come back as their decimal text. */
static int get_string(struct loader *l, struct sbuf *b, size_t max, const char *what)
{
    uint64_t off = offset(l), v, clen, ulen, x;
    bool enc;
    int rc;

    if ((rc = get_len(l, &v, &enc, what)) != 0)
        return rc;
    if (!enc) {
        if (!b)
            return get_bytes(l, NULL, v, what);
        if (v > max)
            return fail_at(l, off, RDB_ETOOBIG, "%s is %" PRIu64 " bytes, over the limit of %zu",
                           what, v, max);
        return get_into(l, b, v, what);
    }
    switch (v) {
    case ENC_INT8:
    case ENC_INT16:
    case ENC_INT32: {
        size_t n = (size_t)1 << v; /* 1, 2 or 4 bytes */
        int64_t iv;
        if ((rc = get_le(l, n, &x, what)) != 0)
            return rc;
        /* Sign-extend from n bytes. */
        iv = (int64_t)(x << (64 - 8 * n)) >> (64 - 8 * n);
        if (!b)
            return 0;
        if ((rc = sbuf_reserve(l, b, 24)) != 0)
            return rc;
        b->len = (size_t)snprintf(b->p, 24, "%" PRId64, iv);
        if (b->len > max)
            return fail_at(l, off, RDB_ETOOBIG, "%s is %zu bytes, over the limit of %zu", what,
                           b->len, max);
        return 0;
    }
    case ENC_LZF:
        if ((rc = get_len(l, &clen, NULL, what)) != 0 || (rc = get_len(l, &ulen, NULL, what)) != 0)
            return rc;
        if (!b)
            return get_bytes(l, NULL, clen, what);
        if (ulen > max)
            return fail_at(l, off, RDB_ETOOBIG,
                           "%s is %" PRIu64 " bytes (LZF), over the limit of %zu", what, ulen, max);
        if (clen == 0 || ulen == 0 ||
            (clen < UINT64_MAX / LZF_MAX_EXPANSION && ulen > clen * LZF_MAX_EXPANSION) ||
            clen > ulen + ulen / 16 + 64)
            return fail_at(l, off, RDB_ECORRUPT,
                           "%s: LZF lengths impossible (%" PRIu64 " compressed, %" PRIu64 " plain)",
                           what, clen, ulen);
        if ((rc = get_into(l, &l->lzf, clen, what)) != 0)
            return rc;
        if ((rc = sbuf_reserve(l, b, (size_t)ulen)) != 0)
            return rc;
        if (!lzf_decompress((const unsigned char *)l->lzf.p, (size_t)clen, (unsigned char *)b->p,
                            (size_t)ulen))
            return fail_at(l, off, RDB_ECORRUPT,
                           "%s: LZF data does not decompress to %" PRIu64 " bytes", what, ulen);
        b->len = (size_t)ulen;
        return 0;
    default:
        return fail_at(l, off, RDB_ECORRUPT, "unknown string encoding %" PRIu64 " in %s", v, what);
    }
}

static int skip_string(struct loader *l, const char *what)
{
    return get_string(l, NULL, 0, what);
}

static int skip_len(struct loader *l, const char *what)
{
    uint64_t v;
    return get_len(l, &v, NULL, what);
}

/* ------------------------------------------------------- skipping types */

/* A module's 64-bit id holds its 9-character name (6 bits a character, from
 * this alphabet) and, in the low 10 bits, its encoding version. */
static void module_name(uint64_t id, char out[10])
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < 9; i++)
        out[i] = set[(id >> (64 - 6 * (i + 1))) & 63];
    out[9] = '\0';
}

/* The self-describing serialisation modules use: typed items until an
 * EOF opcode. */
static int skip_module_items(struct loader *l)
{
    for (;;) {
        uint64_t op, off = offset(l);
        int rc = get_len(l, &op, NULL, "a module value opcode");
        if (rc)
            return rc;
        switch (op) {
        case MOD_EOF:
            return 0;
        case MOD_SINT:
        case MOD_UINT:
            rc = skip_len(l, "a module integer");
            break;
        case MOD_FLOAT:
            rc = get_bytes(l, NULL, 4, "a module float");
            break;
        case MOD_DOUBLE:
            rc = get_bytes(l, NULL, 8, "a module double");
            break;
        case MOD_STRING:
            rc = skip_string(l, "a module string");
            break;
        default:
            return fail_at(l, off, RDB_ECORRUPT, "unknown module value opcode %" PRIu64, op);
        }
        if (rc)
            return rc;
    }
}

/* A stream: listpacks, metadata, consumer groups with their pending entry
 * lists and consumers. Version 2 (RDB type 19) adds first/max-deleted IDs,
 * entries-added and per-group entries-read. */
static int skip_stream(struct loader *l, int type)
{
    bool v2 = type == RDB_TYPE_STREAM_LISTPACKS_2;
    uint64_t n, groups, pel, consumers;
    int rc;

    if ((rc = get_len(l, &n, NULL, "stream listpack count")) != 0)
        return rc;
    for (uint64_t i = 0; i < n; i++)
        if ((rc = skip_string(l, "a stream node key")) != 0 ||
            (rc = skip_string(l, "a stream listpack")) != 0)
            return rc;
    /* Length, last ID (ms, seq); v2: first ID, max deleted ID, added. */
    for (int i = 0; i < (v2 ? 8 : 3); i++)
        if ((rc = skip_len(l, "stream metadata")) != 0)
            return rc;
    if ((rc = get_len(l, &groups, NULL, "stream group count")) != 0)
        return rc;
    for (uint64_t g = 0; g < groups; g++) {
        if ((rc = skip_string(l, "a stream group name")) != 0)
            return rc;
        /* Last delivered ID (ms, seq); v2: entries read. */
        for (int i = 0; i < (v2 ? 3 : 2); i++)
            if ((rc = skip_len(l, "stream group metadata")) != 0)
                return rc;
        if ((rc = get_len(l, &pel, NULL, "stream group PEL size")) != 0)
            return rc;
        for (uint64_t p = 0; p < pel; p++) {
            /* 16-byte raw ID, 8-byte delivery time, delivery count. */
            if ((rc = get_bytes(l, NULL, 16 + 8, "a stream pending entry")) != 0 ||
                (rc = skip_len(l, "a stream delivery count")) != 0)
                return rc;
        }
        if ((rc = get_len(l, &consumers, NULL, "stream consumer count")) != 0)
            return rc;
        for (uint64_t c = 0; c < consumers; c++) {
            /* Name, 8-byte seen time, then the IDs it has pending. */
            if ((rc = skip_string(l, "a stream consumer name")) != 0 ||
                (rc = get_bytes(l, NULL, 8, "a stream consumer seen time")) != 0 ||
                (rc = get_len(l, &pel, NULL, "stream consumer PEL size")) != 0)
                return rc;
            for (uint64_t p = 0; p < pel; p++)
                if ((rc = get_bytes(l, NULL, 16, "a stream consumer pending ID")) != 0)
                    return rc;
        }
    }
    return 0;
}

/* Skip the value of a non-string type (the key has been read). */
static int skip_value(struct loader *l, int type)
{
    uint64_t n, off;
    unsigned b;
    int rc;

    switch (type) {
    case RDB_TYPE_LIST:
    case RDB_TYPE_SET:
    case RDB_TYPE_LIST_QUICKLIST:
        if ((rc = get_len(l, &n, NULL, "an element count")) != 0)
            return rc;
        for (uint64_t i = 0; i < n; i++)
            if ((rc = skip_string(l, "an element")) != 0)
                return rc;
        return 0;
    case RDB_TYPE_HASH:
        if ((rc = get_len(l, &n, NULL, "a hash field count")) != 0)
            return rc;
        for (uint64_t i = 0; i < n; i++)
            if ((rc = skip_string(l, "a hash field")) != 0 ||
                (rc = skip_string(l, "a hash value")) != 0)
                return rc;
        return 0;
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
        if ((rc = get_len(l, &n, NULL, "a zset member count")) != 0)
            return rc;
        for (uint64_t i = 0; i < n; i++) {
            if ((rc = skip_string(l, "a zset member")) != 0)
                return rc;
            if (type == RDB_TYPE_ZSET_2) {
                rc = get_bytes(l, NULL, 8, "a zset score");
            } else {
                /* Old text scores: a length byte, except 253/254/255 for
                 * nan/+inf/-inf with no text. */
                if ((rc = get_byte(l, &b, "a zset score")) != 0)
                    return rc;
                rc = b >= 253 ? 0 : get_bytes(l, NULL, b, "a zset score");
            }
            if (rc)
                return rc;
        }
        return 0;
    case RDB_TYPE_LIST_QUICKLIST_2:
        if ((rc = get_len(l, &n, NULL, "a quicklist node count")) != 0)
            return rc;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t container;
            off = offset(l);
            if ((rc = get_len(l, &container, NULL, "a quicklist container")) != 0)
                return rc;
            if (container != QL_PLAIN && container != QL_PACKED)
                return fail_at(l, off, RDB_ECORRUPT, "bad quicklist container %" PRIu64, container);
            if ((rc = skip_string(l, "a quicklist node")) != 0)
                return rc;
        }
        return 0;
    case RDB_TYPE_HASH_ZIPMAP:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_ZSET_LISTPACK:
        /* One opaque blob, stored as a string. */
        return skip_string(l, "an encoded value");
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2:
        return skip_stream(l, type);
    case RDB_TYPE_MODULE_2:
        if ((rc = skip_len(l, "a module id")) != 0)
            return rc;
        return skip_module_items(l);
    default:
        /* Callers only pass skippable types. */
        return fail(l, RDB_ETYPE, "cannot skip type %d", type);
    }
}

/* ------------------------------------------------------------ the loop */

static void progress(struct loader *l, bool force)
{
    if (!l->o->on_progress)
        return;
    if (force || offset(l) >= l->next_progress) {
        l->o->on_progress(l->o->arg, offset(l), l->res->keys);
        l->next_progress = offset(l) + l->progress_every;
    }
}

static int callback_failed(struct loader *l, uint64_t off, const char *which, int rc)
{
    l->res->cb_err = rc;
    return fail_at(l, off, RDB_ECALLBACK, "%s callback returned %d", which, rc);
}

static int header(struct loader *l)
{
    char digits[5];
    int version = 0;
    int rc = need(l, 9, "the header");

    if (rc == RDB_ETRUNC && memcmp(l->in, "REDIS", l->end < 5 ? l->end : 5) != 0)
        rc = fail_at(l, 0, RDB_EMAGIC, "bad magic: the file does not start with \"REDIS\"");
    if (rc)
        return rc;
    if (memcmp(l->in, "REDIS", 5) != 0)
        return fail_at(l, 0, RDB_EMAGIC, "bad magic: the file does not start with \"REDIS\"");
    memcpy(digits, l->in + 5, 4);
    digits[4] = '\0';
    for (int i = 0; i < 4; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return fail_at(l, 5, RDB_EMAGIC, "bad version field \"%s\" (4 digits expected)",
                           quote(digits, 4, (char[24]){0}, 24));
        version = version * 10 + (digits[i] - '0');
    }
    l->pos = 9;
    l->res->version = version;
    if (version < 1 || version > RDB_VERSION)
        return fail_at(l, 5, RDB_EVERSION,
                       "RDB version %d is not supported (this loader reads 1 to %d)", version,
                       RDB_VERSION);
    return 0;
}

/* Read the key of a non-string value and refuse it or skip the value. */
/* Hash, set, list and sorted set types, reported through on_object when it is set. */
static bool object_type(int type)
{
    switch (type) {
    case RDB_TYPE_LIST:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
    case RDB_TYPE_SET:
    case RDB_TYPE_HASH:
    case RDB_TYPE_HASH_ZIPMAP:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_ZSET_LISTPACK:
        return true;
    default:
        return false;
    }
}

/* A hash, set or list: its bytes (type byte first) are recorded while the value
 * is walked as if skipped, then handed to on_object whole. The walk checks
 * the structure; the callback's decoder checks the contents. */
static int object_key(struct loader *l, int type, int64_t expire_ms, uint64_t off)
{
    char q[QUOTE_MAX * 4 + 8];
    unsigned char t = (unsigned char)type;
    int rc;

    l->obj.len = 0;
    if ((rc = sbuf_reserve(l, &l->obj, 1)) != 0)
        return rc;
    memcpy(l->obj.p, &t, 1);
    l->obj.len = 1;
    l->recording = true;
    l->rec_from = l->pos;
    rc = skip_value(l, type);
    if (rc == 0)
        rc = rec_flush(l);
    l->recording = false;
    if (rc) {
        size_t n = strlen(l->res->msg);
        snprintf(l->res->msg + n, sizeof l->res->msg - n, " (key '%s')",
                 quote(l->key.p, l->key.len, q, sizeof q));
        return rc;
    }
    rc = l->o->on_object(l->o->arg, l->db, l->key.p ? l->key.p : "", l->key.len,
                         (const unsigned char *)l->obj.p, l->obj.len, expire_ms);
    if (rc)
        return callback_failed(l, off, "on_object", rc);
    l->res->keys++;
    l->res->objects++;
    if (expire_ms >= 0)
        l->res->expires++;
    return 0;
}

static int other_type(struct loader *l, int type, int64_t expire_ms, uint64_t off)
{
    char q[QUOTE_MAX * 4 + 8];
    bool skip = l->o->flags & RDB_LOAD_SKIP_UNKNOWN;
    const char *loaded = l->o->on_object ? "only strings, hashes, sets, lists and sorted sets are loaded"
                                         : "only strings are loaded";
    int rc = get_string(l, &l->key, l->max_key, "a key");

    if (rc)
        return rc;
    if (l->o->on_object && object_type(type))
        return object_key(l, type, expire_ms, off);
    quote(l->key.p, l->key.len, q, sizeof q);
    if (type == RDB_TYPE_MODULE_PRE_GA)
        return fail_at(l, off, RDB_ETYPE,
                       "key '%s' holds a value of type %s (%d), which cannot be skipped", q,
                       rdb_type_name(type), type);
    if (!skip) {
        if (type == RDB_TYPE_MODULE_2) {
            uint64_t id = 0;
            char name[10];
            /* Peek is not possible without consuming: read the id for the
             * message, the load is failing anyway. */
            if (get_len(l, &id, NULL, "a module id") == 0) {
                module_name(id, name);
                return fail_at(l, off, RDB_ETYPE,
                               "key '%s' holds a value of module type '%s' (type 7); %s", q,
                               name, loaded);
            }
        }
        return fail_at(l, off, RDB_ETYPE,
                       "key '%s' holds a %s value (type %d); %s", q, rdb_type_name(type), type,
                       loaded);
    }
    if ((rc = skip_value(l, type)) != 0)
        return rc;
    l->res->skipped++;
    return 0;
}

/* A value of type 0: key and value, then the callback. */
static int string_key(struct loader *l, int64_t expire_ms, uint64_t off)
{
    char q[QUOTE_MAX * 4 + 8];
    int rc = get_string(l, &l->key, l->max_key, "a key");

    if (rc)
        return rc;
    if ((rc = get_string(l, &l->val, l->max_value, "a string value")) != 0) {
        /* Name the key: the value's error message alone would not. */
        size_t n = strlen(l->res->msg);
        snprintf(l->res->msg + n, sizeof l->res->msg - n, " (key '%s')",
                 quote(l->key.p, l->key.len, q, sizeof q));
        return rc;
    }
    rc = l->o->on_string(l->o->arg, l->db, l->key.p ? l->key.p : "", l->key.len,
                         l->val.p ? l->val.p : "", l->val.len, expire_ms);
    if (rc)
        return callback_failed(l, off, "on_string", rc);
    l->res->keys++;
    if (expire_ms >= 0)
        l->res->expires++;
    return 0;
}

static int body(struct loader *l)
{
    const struct rdb_load_opts *o = l->o;
    bool skip = o->flags & RDB_LOAD_SKIP_UNKNOWN;
    int64_t expire_ms = -1;
    uint64_t off, a, b, x;
    unsigned type, lfu;
    int rc;

    for (;;) {
        off = offset(l);
        if ((rc = get_byte(l, &type, "an opcode (no EOF opcode)")) != 0)
            return rc;
        switch (type) {
        case RDB_OPCODE_EOF:
            return 0;
        case RDB_OPCODE_EXPIRETIME_MS:
            if ((rc = get_le(l, 8, &x, "an expire time")) != 0)
                return rc;
            /* Times before 1970 are simply long expired. */
            expire_ms = (int64_t)x < 0 ? 0 : (int64_t)x;
            continue;
        case RDB_OPCODE_EXPIRETIME:
            if ((rc = get_le(l, 4, &x, "an expire time")) != 0)
                return rc;
            expire_ms = (int32_t)(uint32_t)x < 0 ? 0 : (int64_t)(int32_t)(uint32_t)x * 1000;
            continue;
        case RDB_OPCODE_FREQ:
            /* LFU counter and LRU idle time: we keep no such data. */
            if ((rc = get_byte(l, &lfu, "an LFU counter")) != 0)
                return rc;
            continue;
        case RDB_OPCODE_IDLE:
            if ((rc = skip_len(l, "an LRU idle time")) != 0)
                return rc;
            continue;
        case RDB_OPCODE_SELECTDB:
            if ((rc = get_len(l, &l->db, NULL, "a database number")) != 0)
                return rc;
            if (o->on_select_db && (rc = o->on_select_db(o->arg, l->db)) != 0)
                return callback_failed(l, off, "on_select_db", rc);
            continue;
        case RDB_OPCODE_RESIZEDB:
            if ((rc = get_len(l, &a, NULL, "a RESIZEDB key count")) != 0 ||
                (rc = get_len(l, &b, NULL, "a RESIZEDB expire count")) != 0)
                return rc;
            if (o->on_resize_db && (rc = o->on_resize_db(o->arg, l->db, a, b)) != 0)
                return callback_failed(l, off, "on_resize_db", rc);
            continue;
        case RDB_OPCODE_AUX:
            if ((rc = get_string(l, &l->key, l->max_value, "an AUX field name")) != 0 ||
                (rc = get_string(l, &l->val, l->max_value, "an AUX field value")) != 0)
                return rc;
            if (o->on_aux && (rc = o->on_aux(o->arg, l->key.p ? l->key.p : "", l->key.len,
                                             l->val.p ? l->val.p : "", l->val.len)) != 0)
                return callback_failed(l, off, "on_aux", rc);
            continue;
        case RDB_OPCODE_MODULE_AUX: {
            uint64_t id, when_op;
            char name[10];
            if ((rc = get_len(l, &id, NULL, "a module id")) != 0)
                return rc;
            module_name(id, name);
            if (!skip)
                return fail_at(l, off, RDB_ETYPE,
                               "module AUX data of module '%s'; only strings are loaded", name);
            if ((rc = get_len(l, &when_op, NULL, "a module AUX header")) != 0 ||
                (rc = skip_len(l, "a module AUX header")) != 0)
                return rc;
            if (when_op != MOD_UINT)
                return fail_at(l, off, RDB_ECORRUPT, "module AUX of '%s': bad header", name);
            if ((rc = skip_module_items(l)) != 0)
                return rc;
            l->res->skipped_aux++;
            continue;
        }
        case RDB_OPCODE_FUNCTION2:
            if (o->on_function) {
                if ((rc = get_string(l, &l->val, l->max_value, "a function library")) != 0)
                    return rc;
                if ((rc = o->on_function(o->arg, l->val.p ? l->val.p : "", l->val.len)) != 0)
                    return callback_failed(l, off, "on_function", rc);
                continue;
            }
            if (!skip)
                return fail_at(l, off, RDB_ETYPE, "a function library; only strings are loaded");
            if ((rc = skip_string(l, "a function library")) != 0)
                return rc;
            l->res->skipped_aux++;
            continue;
        case RDB_OPCODE_FUNCTION_PRE_GA:
            return fail_at(l, off, RDB_ETYPE,
                           "functions in the Redis 7.0 release-candidate format, which cannot "
                           "be skipped");
        case RDB_TYPE_STRING:
            rc = string_key(l, expire_ms, off);
            break;
        default:
            if (!rdb_type_name((int)type))
                return fail_at(l, off, RDB_EOPCODE, "unknown opcode or value type 0x%02x", type);
            rc = other_type(l, (int)type, expire_ms, off);
            break;
        }
        if (rc)
            return rc;
        expire_ms = -1;
        progress(l, false);
    }
}

static int trailer(struct loader *l)
{
    uint64_t stored, off;
    int rc;

    l->crc = crc64_update(l->crc, l->in + l->crc_from, l->pos - l->crc_from);
    l->crc_from = l->pos;
    if (l->res->version >= 5) {
        off = offset(l);
        if ((rc = get_le(l, 8, &stored, "the checksum")) != 0)
            return rc;
        l->crc_from = l->pos;
        if (stored == 0) {
            /* Redis writes 0 when checksums are disabled (rdbchecksum no). */
            if (l->o->flags & RDB_LOAD_REQUIRE_CRC)
                return fail_at(l, off, RDB_ECRC,
                               "the file carries no checksum (0) and one is required");
        } else if (stored != l->crc) {
            return fail_at(l, off, RDB_ECRC,
                           "checksum mismatch: the file says %016" PRIx64
                           ", its contents give %016" PRIx64,
                           stored, l->crc);
        } else {
            l->res->crc_checked = true;
        }
    }
    off = offset(l);
    if (l->pos == l->end && (rc = more(l)) < 0)
        return rc;
    if (l->pos < l->end)
        return fail_at(l, off, RDB_ECORRUPT, "unexpected bytes after the end of the file");
    return 0;
}

int rdb_load(rdb_read_fn read, void *read_arg, const struct rdb_load_opts *opts,
             struct rdb_load_result *res)
{
    struct loader l;
    int rc;

    memset(res, 0, sizeof *res);
    memset(&l, 0, sizeof l);
    l.read = read;
    l.read_arg = read_arg;
    l.o = opts;
    l.res = res;
    l.max_key = opts->limits.max_key ? opts->limits.max_key : RDB_DEFAULT_MAX_STRING;
    l.max_value = opts->limits.max_value ? opts->limits.max_value : RDB_DEFAULT_MAX_STRING;
    l.max_object = opts->limits.max_object ? opts->limits.max_object : RDB_DEFAULT_MAX_OBJECT;
    l.progress_every = opts->progress_every ? opts->progress_every : DEFAULT_PROGRESS_EVERY;
    l.next_progress = l.progress_every;
    l.in = malloc(IN_BUF);
    if (!l.in)
        return fail_at(&l, 0, RDB_ENOMEM, "out of memory for the read buffer");

    rc = header(&l);
    if (rc == 0)
        rc = body(&l);
    if (rc == 0)
        rc = trailer(&l);
    res->bytes = offset(&l);
    if (rc == 0)
        progress(&l, true);
    free(l.in);
    free(l.key.p);
    free(l.val.p);
    free(l.lzf.p);
    free(l.obj.p);
    return rc;
}
