/* listpack.c — Redis 7.0's listpack format (see listpack.h): encoding,
 * iteration, in-place edits that grow or shrink the block with realloc, and
 * the validator for blobs from RDB files. Pure; the owner thread edits. */
#include "shard/listpack.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/le.h"
#include "common/mem.h"

/* First-byte patterns. The 1-byte forms are told apart by their top bits,
 * the rest by the whole byte. */
#define ENC_7BIT_UINT_MASK 0x80 /* 0xxxxxxx */
#define ENC_6BIT_STR       0x80 /* 10xxxxxx */
#define ENC_6BIT_STR_MASK  0xC0
#define ENC_13BIT_INT      0xC0 /* 110xxxxx */
#define ENC_13BIT_INT_MASK 0xE0
#define ENC_12BIT_STR      0xE0 /* 1110xxxx */
#define ENC_12BIT_STR_MASK 0xF0
#define ENC_32BIT_STR      0xF0
#define ENC_16BIT_INT      0xF1
#define ENC_24BIT_INT      0xF2
#define ENC_32BIT_INT      0xF3
#define ENC_64BIT_INT      0xF4
#define LP_EOF             0xFF

/* An encoding byte plus at most 8 bytes of integer: the longest head. */
#define MAX_HEAD 9
/* 5 bytes of 7 bits cover any u32 entry size. */
#define MAX_BACKLEN 5

const char *listpack_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case LISTPACK_ENOMEM:
        return "out of memory";
    case LISTPACK_ETOOBIG:
        return "listpack would exceed 4 GiB";
    case LISTPACK_ECORRUPT:
        return "invalid listpack";
    default:
        return "unknown listpack error";
    }
}

/* ------------------------------------------------------------ bytes */

static uint32_t hdr_count(const unsigned char *lp)
{
    return (uint32_t)lp[4] | (uint32_t)lp[5] << 8;
}

static void set_hdr_count(unsigned char *lp, uint32_t n)
{
    lp[4] = (unsigned char)n;
    lp[5] = (unsigned char)(n >> 8);
}

/* ------------------------------------------------------------ backlen */

/* Bytes the backlen of an entry of l bytes takes. The thresholds are
 * Redis's own (16383 takes 3 bytes though 2 could hold it): the bytes must
 * match, and lpPrev in Redis computes the size from the value this way. */
static unsigned backlen_size(uint64_t l)
{
    if (l <= 127)
        return 1;
    if (l < 16383)
        return 2;
    if (l < 2097151)
        return 3;
    if (l < 268435455)
        return 4;
    return 5;
}

/* Write l's backlen into buf[0..n), n = backlen_size(l): the leftmost byte
 * holds the highest bits and has no flag; every byte to its right has the
 * top bit set, the rightmost holding the lowest 7 bits. */
static void backlen_write(unsigned char *buf, uint64_t l, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        unsigned shift = 7 * (n - 1 - i);
        buf[i] = (unsigned char)((l >> shift) & 127);
        if (i > 0)
            buf[i] |= 128;
    }
}

/* Read a trusted backlen ending at last (its rightmost byte). */
static uint64_t backlen_read(const unsigned char *last)
{
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        v |= (uint64_t)(*last & 127) << shift;
        if (!(*last & 128))
            return v;
        shift += 7;
        last--;
    }
}

/* ------------------------------------------------------------ entries */

/* Bytes of the encoding byte plus length or integer bytes that the entry
 * starting with byte b has before its string data; 0 for 0xF5..0xFF. */
static unsigned head_size(unsigned char b)
{
    if ((b & ENC_7BIT_UINT_MASK) == 0)
        return 1;
    if ((b & ENC_6BIT_STR_MASK) == ENC_6BIT_STR)
        return 1;
    if ((b & ENC_13BIT_INT_MASK) == ENC_13BIT_INT)
        return 2;
    if ((b & ENC_12BIT_STR_MASK) == ENC_12BIT_STR)
        return 2;
    switch (b) {
    case ENC_32BIT_STR:
        return 5;
    case ENC_16BIT_INT:
        return 3;
    case ENC_24BIT_INT:
        return 4;
    case ENC_32BIT_INT:
        return 5;
    case ENC_64BIT_INT:
        return 9;
    default:
        return 0;
    }
}

/* Length of the string data after the head (0 for an integer). Reads only
 * the head_size(p[0]) bytes at p. */
static uint32_t data_size(const unsigned char *p)
{
    if ((p[0] & ENC_6BIT_STR_MASK) == ENC_6BIT_STR)
        return p[0] & 0x3F;
    if ((p[0] & ENC_12BIT_STR_MASK) == ENC_12BIT_STR)
        return (uint32_t)(p[0] & 0x0F) << 8 | p[1];
    if (p[0] == ENC_32BIT_STR)
        return le_load32(p + 1);
    return 0;
}

/* Size of the entry at p without its backlen (trusted lp). */
static uint64_t entry_enclen(const unsigned char *p)
{
    return (uint64_t)head_size(p[0]) + data_size(p);
}

/* Size of the entry at p with its backlen (trusted lp). */
static uint64_t entry_size(const unsigned char *p)
{
    uint64_t l = entry_enclen(p);
    return l + backlen_size(l);
}

/* An entry ready to be written: its head (encoding byte, length or
 * integer bytes) and, for a string, the bytes that follow. */
struct encoded {
    unsigned char head[MAX_HEAD]; /* encoding byte and length / integer bytes */
    unsigned hlen;                /* bytes used in head */
    const unsigned char *data;    /* string bytes (borrowed); NULL for an integer */
    uint32_t dlen;                /* string length */
    uint64_t enclen;              /* hlen + dlen: what the backlen records */
};

/* Little-endian two's complement of v in head[1..1+n). */
static void put_int(struct encoded *e, unsigned char enc, int64_t v, unsigned n)
{
    uint64_t u = (uint64_t)v;
    e->head[0] = enc;
    for (unsigned i = 0; i < n; i++)
        e->head[1 + i] = (unsigned char)(u >> (8 * i));
    e->hlen = 1 + n;
}

/* The smallest of Redis's integer encodings that holds v. */
static void encode_int(struct encoded *e, int64_t v)
{
    e->data = NULL;
    e->dlen = 0;
    if (v >= 0 && v <= 127) {
        e->head[0] = (unsigned char)v;
        e->hlen = 1;
    } else if (v >= -4096 && v <= 4095) {
        /* 13 bits: the top 5 in the encoding byte, the low 8 after it. */
        uint32_t u = (uint32_t)(v < 0 ? v + 8192 : v);
        e->head[0] = (unsigned char)(ENC_13BIT_INT | (u >> 8));
        e->head[1] = (unsigned char)(u & 0xFF);
        e->hlen = 2;
    } else if (v >= INT16_MIN && v <= INT16_MAX) {
        put_int(e, ENC_16BIT_INT, v, 2);
    } else if (v >= -8388608 && v <= 8388607) {
        put_int(e, ENC_24BIT_INT, v, 3);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        put_int(e, ENC_32BIT_INT, v, 4);
    } else {
        put_int(e, ENC_64BIT_INT, v, 8);
    }
    e->enclen = e->hlen;
}

/* s as an integer if it reads as one, else as a string in the smallest
 * string encoding. len must be at most UINT32_MAX. */
static void encode_str(struct encoded *e, const void *s, size_t len)
{
    int64_t v;
    if (listpack_string_to_int64(s, len, &v)) {
        encode_int(e, v);
        return;
    }
    e->data = s;
    e->dlen = (uint32_t)len;
    if (len < 64) {
        e->head[0] = (unsigned char)(ENC_6BIT_STR | len);
        e->hlen = 1;
    } else if (len < 4096) {
        e->head[0] = (unsigned char)(ENC_12BIT_STR | (len >> 8));
        e->head[1] = (unsigned char)(len & 0xFF);
        e->hlen = 2;
    } else {
        e->head[0] = ENC_32BIT_STR;
        le_store32(e->head + 1, (uint32_t)len);
        e->hlen = 5;
    }
    e->enclen = (uint64_t)e->hlen + e->dlen;
}

bool listpack_string_to_int64(const void *s, size_t len, int64_t *out)
{
    const unsigned char *p = s;
    size_t i = 0;
    bool neg = false;
    if (len == 0 || len > 20) /* "-9223372036854775808" is the longest */
        return false;
    if (len == 1 && p[0] == '0') {
        if (out)
            *out = 0;
        return true;
    }
    if (p[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == len || p[i] < '1' || p[i] > '9') /* "-", leading zero, "-0", non-digit */
        return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = p[i] - '0';
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        if (out)
            *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        if (out)
            *out = (int64_t)v;
    }
    return true;
}

/* ------------------------------------------------------------ create */

unsigned char *listpack_create(struct mem_acct *a)
{
    unsigned char *lp = mem_alloc(a, LISTPACK_EMPTY_SIZE);
    if (!lp)
        return NULL;
    le_store32(lp, LISTPACK_EMPTY_SIZE);
    set_hdr_count(lp, 0);
    lp[LISTPACK_HDR_SIZE] = LP_EOF;
    return lp;
}

unsigned char *listpack_create_from(struct mem_acct *a, const void *blob, size_t len)
{
    return mem_dup(a, blob, len);
}

void listpack_destroy(struct mem_acct *a, unsigned char *lp)
{
    mem_free(a, lp);
}

/* ------------------------------------------------------------ reading */

uint32_t listpack_bytes(const unsigned char *lp)
{
    return le_load32(lp);
}

uint32_t listpack_count(const unsigned char *lp)
{
    uint32_t n = hdr_count(lp);
    if (n != LISTPACK_COUNT_UNKNOWN)
        return n;
    n = 0;
    for (const unsigned char *p = listpack_first(lp); p; p = listpack_next(lp, p))
        n++;
    return n;
}

const unsigned char *listpack_first(const unsigned char *lp)
{
    const unsigned char *p = lp + LISTPACK_HDR_SIZE;
    return *p == LP_EOF ? NULL : p;
}

const unsigned char *listpack_next(const unsigned char *lp, const unsigned char *p)
{
    p += entry_size(p);
    assert(p < lp + listpack_bytes(lp));
    return *p == LP_EOF ? NULL : p;
}

const unsigned char *listpack_prev(const unsigned char *lp, const unsigned char *p)
{
    if (p == lp + LISTPACK_HDR_SIZE)
        return NULL;
    uint64_t l = backlen_read(p - 1);
    p -= l + backlen_size(l);
    assert(p >= lp + LISTPACK_HDR_SIZE);
    return p;
}

const unsigned char *listpack_last(const unsigned char *lp)
{
    return listpack_prev(lp, lp + listpack_bytes(lp) - 1);
}

const unsigned char *listpack_seek(const unsigned char *lp, int64_t index)
{
    uint32_t n = listpack_count(lp);
    if (index < 0)
        index += n;
    if (index < 0 || index >= (int64_t)n)
        return NULL;
    const unsigned char *p;
    if (index <= (int64_t)n / 2) {
        p = listpack_first(lp);
        while (index-- > 0)
            p = listpack_next(lp, p);
    } else {
        p = listpack_last(lp);
        for (int64_t back = (int64_t)n - 1 - index; back > 0; back--)
            p = listpack_prev(lp, p);
    }
    return p;
}

/* The value of an n-bit two's complement number held in u. */
static int64_t sign_extend(uint64_t u, unsigned bits)
{
    if (bits == 64)
        return u >> 63 ? -(int64_t)(~u) - 1 : (int64_t)u;
    uint64_t half = (uint64_t)1 << (bits - 1);
    return u >= half ? (int64_t)u - (int64_t)(half << 1) : (int64_t)u;
}

/* The integer in the n bytes after the encoding byte. */
static uint64_t rd_le(const unsigned char *p, unsigned n)
{
    uint64_t u = 0;
    for (unsigned i = 0; i < n; i++)
        u |= (uint64_t)p[i] << (8 * i);
    return u;
}

void listpack_get(const unsigned char *p, struct listpack_entry *e)
{
    unsigned char b = p[0];
    e->str = NULL;
    e->len = 0;
    e->num = 0;
    if ((b & ENC_7BIT_UINT_MASK) == 0) {
        e->num = b;
    } else if ((b & ENC_6BIT_STR_MASK) == ENC_6BIT_STR) {
        e->str = p + 1;
        e->len = data_size(p);
    } else if ((b & ENC_13BIT_INT_MASK) == ENC_13BIT_INT) {
        e->num = sign_extend((uint64_t)(b & 0x1F) << 8 | p[1], 13);
    } else if ((b & ENC_12BIT_STR_MASK) == ENC_12BIT_STR) {
        e->str = p + 2;
        e->len = data_size(p);
    } else if (b == ENC_32BIT_STR) {
        e->str = p + 5;
        e->len = data_size(p);
    } else {
        unsigned n = head_size(b) - 1; /* 2, 3, 4 or 8 integer bytes */
        assert(b >= ENC_16BIT_INT && b <= ENC_64BIT_INT);
        e->num = sign_extend(rd_le(p + 1, n), 8 * n);
    }
}

const unsigned char *listpack_get_text(const unsigned char *p, char buf[LISTPACK_INTBUF_SIZE],
                                       size_t *len)
{
    struct listpack_entry e;
    listpack_get(p, &e);
    if (e.str) {
        *len = e.len;
        return e.str;
    }
    *len = (size_t)snprintf(buf, LISTPACK_INTBUF_SIZE, "%" PRId64, e.num);
    return (const unsigned char *)buf;
}

/* listpack_entry_eq with the needle's integer reading done once:
 * s_is_int says whether s is an integer's text, s_num its value. */
static bool entry_eq(const unsigned char *p, const void *s, size_t len, bool s_is_int,
                     int64_t s_num)
{
    struct listpack_entry e;
    listpack_get(p, &e);
    if (e.str)
        return e.len == len && (len == 0 || memcmp(e.str, s, len) == 0);
    /* An integer's text is always canonical, so it equals s exactly when
     * s is canonical text of the same number. */
    return s_is_int && e.num == s_num;
}

bool listpack_entry_eq(const unsigned char *p, const void *s, size_t len)
{
    int64_t v = 0;
    bool is_int = listpack_string_to_int64(s, len, &v);
    return entry_eq(p, s, len, is_int, v);
}

const unsigned char *listpack_find(const unsigned char *lp, const unsigned char *p, const void *s,
                                   size_t len, unsigned skip)
{
    int64_t v = 0;
    bool is_int = listpack_string_to_int64(s, len, &v);
    while (p) {
        if (entry_eq(p, s, len, is_int, v))
            return p;
        for (unsigned i = 0; i <= skip && p; i++)
            p = listpack_next(lp, p);
    }
    return NULL;
}

/* ------------------------------------------------------------ editing */

/* Replace the old_len bytes at offset off of *lp with entry e (NULL: with
 * nothing), moving the tail and resizing the block; count_delta is +1 for
 * an insert, -1 for a delete, 0 for a replace. */
static int splice(struct mem_acct *a, unsigned char **lpp, size_t off, uint64_t old_len,
                  const struct encoded *e, int count_delta)
{
    unsigned char *lp = *lpp;
    uint64_t old_bytes = listpack_bytes(lp);
    unsigned blen = e ? backlen_size(e->enclen) : 0;
    uint64_t new_len = e ? e->enclen + blen : 0;
    uint64_t new_bytes = old_bytes - old_len + new_len; /* old_len <= old_bytes - 7 */
    if (new_bytes > LISTPACK_MAX_BYTES)
        return LISTPACK_ETOOBIG;
    size_t tail = (size_t)(old_bytes - off - old_len);

    if (new_bytes > old_bytes && new_bytes > mem_usable(lp)) {
        unsigned char *grown = mem_realloc(a, lp, (size_t)new_bytes);
        if (!grown)
            return LISTPACK_ENOMEM;
        lp = grown;
    }
    memmove(lp + off + new_len, lp + off + old_len, tail);
    if (new_bytes < old_bytes) {
        /* Give the space back; if the allocator cannot, the bigger block
         * still holds the listpack, so this never fails. */
        unsigned char *shrunk = mem_realloc(a, lp, (size_t)new_bytes);
        if (shrunk)
            lp = shrunk;
    }
    if (e) {
        unsigned char *dst = lp + off;
        memcpy(dst, e->head, e->hlen);
        if (e->dlen)
            memcpy(dst + e->hlen, e->data, e->dlen);
        backlen_write(dst + e->enclen, e->enclen, blen);
    }
    le_store32(lp, (uint32_t)new_bytes);
    uint32_t n = hdr_count(lp);
    /* An unknown count stays unknown (as in Redis); 65534 + 1 becomes it. */
    if (n != LISTPACK_COUNT_UNKNOWN)
        set_hdr_count(lp, (uint32_t)((int64_t)n + count_delta));
    *lpp = lp;
    return 0;
}

/* A string's entry can be written only if its length fits the format. */
static int encode_checked(struct encoded *e, const void *s, size_t len)
{
    if (len > LISTPACK_MAX_BYTES)
        return LISTPACK_ETOOBIG;
    encode_str(e, s, len);
    return 0;
}

int listpack_append(struct mem_acct *a, unsigned char **lp, const void *s, size_t len)
{
    struct encoded e;
    int rc = encode_checked(&e, s, len);
    if (rc)
        return rc;
    return splice(a, lp, listpack_bytes(*lp) - 1, 0, &e, +1);
}

int listpack_append_int(struct mem_acct *a, unsigned char **lp, int64_t v)
{
    struct encoded e;
    encode_int(&e, v);
    return splice(a, lp, listpack_bytes(*lp) - 1, 0, &e, +1);
}

int listpack_insert(struct mem_acct *a, unsigned char **lp, const unsigned char *p,
                    enum listpack_where where, const void *s, size_t len,
                    const unsigned char **newp)
{
    struct encoded e;
    int rc = encode_checked(&e, s, len);
    if (rc)
        return rc;
    size_t off = (size_t)(p - *lp);
    if (where == LISTPACK_AFTER)
        off += (size_t)entry_size(p);
    rc = splice(a, lp, off, 0, &e, +1);
    if (rc == 0 && newp)
        *newp = *lp + off;
    return rc;
}

/* Shared by listpack_replace and listpack_replace_int. */
static int replace_encoded(struct mem_acct *a, unsigned char **lp, const unsigned char *p,
                           const struct encoded *e, const unsigned char **newp)
{
    size_t off = (size_t)(p - *lp);
    int rc = splice(a, lp, off, entry_size(p), e, 0);
    if (rc == 0 && newp)
        *newp = *lp + off;
    return rc;
}

int listpack_replace(struct mem_acct *a, unsigned char **lp, const unsigned char *p, const void *s,
                     size_t len, const unsigned char **newp)
{
    struct encoded e;
    int rc = encode_checked(&e, s, len);
    return rc ? rc : replace_encoded(a, lp, p, &e, newp);
}

int listpack_replace_int(struct mem_acct *a, unsigned char **lp, const unsigned char *p, int64_t v,
                         const unsigned char **newp)
{
    struct encoded e;
    encode_int(&e, v);
    return replace_encoded(a, lp, p, &e, newp);
}

void listpack_delete(struct mem_acct *a, unsigned char **lp, const unsigned char *p,
                     const unsigned char **nextp)
{
    size_t off = (size_t)(p - *lp);
    int rc = splice(a, lp, off, entry_size(p), NULL, -1);
    assert(rc == 0); /* a shrink neither grows nor allocates */
    (void)rc;
    if (nextp)
        *nextp = (*lp)[off] == LP_EOF ? NULL : *lp + off;
}

/* ------------------------------------------------------------ validation */

int listpack_validate(const void *blob, size_t len, bool deep)
{
    const unsigned char *lp = blob;
    if (len < LISTPACK_EMPTY_SIZE || len > LISTPACK_MAX_BYTES)
        return LISTPACK_ECORRUPT;
    if (le_load32(lp) != len || lp[len - 1] != LP_EOF)
        return LISTPACK_ECORRUPT;
    if (!deep)
        return 0;

    /* Each entry must end before the terminator at lp[len - 1]. */
    size_t off = LISTPACK_HDR_SIZE;
    const size_t end = len - 1;
    uint32_t n = 0;
    while (off < end) {
        const unsigned char *p = lp + off;
        unsigned hs = head_size(p[0]); /* 0 also for a stray 0xFF */
        if (hs == 0 || hs > end - off)
            return LISTPACK_ECORRUPT;
        uint64_t enclen = (uint64_t)hs + data_size(p);
        if (enclen > end - off)
            return LISTPACK_ECORRUPT;
        unsigned bs = backlen_size(enclen);
        if (bs > end - off - enclen)
            return LISTPACK_ECORRUPT;
        /* The exact bytes Redis writes: listpack_prev then steps back
         * exactly over this entry. */
        unsigned char want[MAX_BACKLEN];
        backlen_write(want, enclen, bs);
        if (memcmp(p + enclen, want, bs) != 0)
            return LISTPACK_ECORRUPT;
        off += (size_t)enclen + bs;
        n++; /* at most len / 2 entries: no overflow */
    }
    uint32_t hn = hdr_count(lp);
    if (hn != LISTPACK_COUNT_UNKNOWN && hn != n)
        return LISTPACK_ECORRUPT;
    return 0;
}
