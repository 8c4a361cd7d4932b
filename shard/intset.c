/* intset.c — Redis 7.0's intset format (see intset.h): sorted insert with
 * width upgrade, remove, binary search, and the validator for blobs from
 * RDB files. Pure; the owner thread edits. */
#include "shard/intset.h"

#include <assert.h>
#include <string.h>

#include "common/le.h"
#include "common/mem.h"

/* The three widths, in bytes per element; their values are Redis's. */
#define ENC16 2u
#define ENC32 4u
#define ENC64 8u

const char *intset_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case INTSET_ENOMEM:
        return "out of memory";
    case INTSET_ETOOBIG:
        return "intset is full";
    case INTSET_ECORRUPT:
        return "invalid intset";
    default:
        return "unknown intset error";
    }
}

/* The smallest width that holds v. */
static uint32_t width_for(int64_t v)
{
    if (v < INT32_MIN || v > INT32_MAX)
        return ENC64;
    if (v < INT16_MIN || v > INT16_MAX)
        return ENC32;
    return ENC16;
}

/* Element i of an array of width w bytes at base (little-endian two's
 * complement, read byte by byte: no alignment is assumed). */
static int64_t elem(const unsigned char *base, uint32_t w, uint32_t i)
{
    const unsigned char *p = base + (size_t)i * w;
    uint64_t u = 0;
    for (uint32_t b = 0; b < w; b++)
        u |= (uint64_t)p[b] << (8 * b);
    if (w < 8) {
        uint64_t half = (uint64_t)1 << (8 * w - 1);
        return u >= half ? (int64_t)u - (int64_t)(half << 1) : (int64_t)u;
    }
    return u >> 63 ? -(int64_t)(~u) - 1 : (int64_t)u;
}

static void set_elem(unsigned char *base, uint32_t w, uint32_t i, int64_t v)
{
    unsigned char *p = base + (size_t)i * w;
    uint64_t u = (uint64_t)v;
    for (uint32_t b = 0; b < w; b++)
        p[b] = (unsigned char)(u >> (8 * b));
}

uint32_t intset_encoding(const unsigned char *is)
{
    return le_load32(is);
}

uint32_t intset_len(const unsigned char *is)
{
    return le_load32(is + 4);
}

size_t intset_blob_size(const unsigned char *is)
{
    return INTSET_HDR_SIZE + (size_t)intset_len(is) * intset_encoding(is);
}

unsigned char *intset_create(struct mem_acct *a)
{
    unsigned char *is = mem_alloc(a, INTSET_HDR_SIZE);
    if (!is)
        return NULL;
    le_store32(is, ENC16);
    le_store32(is + 4, 0);
    return is;
}

unsigned char *intset_create_from(struct mem_acct *a, const void *blob, size_t len)
{
    return mem_dup(a, blob, len);
}

void intset_destroy(struct mem_acct *a, unsigned char *is)
{
    mem_free(a, is);
}

/* Binary search: true and *pos = its index if v is there, else false and
 * *pos = where it would go. */
static bool search(const unsigned char *is, int64_t v, uint32_t *pos)
{
    uint32_t w = intset_encoding(is), lo = 0, hi = intset_len(is);
    const unsigned char *base = is + INTSET_HDR_SIZE;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t cur = elem(base, w, mid);
        if (cur == v) {
            *pos = mid;
            return true;
        }
        if (cur < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return false;
}

bool intset_find(const unsigned char *is, int64_t v)
{
    uint32_t pos;
    /* A value wider than the set's elements cannot be among them. */
    return width_for(v) <= intset_encoding(is) && search(is, v, &pos);
}

bool intset_get(const unsigned char *is, uint32_t pos, int64_t *out)
{
    if (pos >= intset_len(is))
        return false;
    *out = elem(is + INTSET_HDR_SIZE, intset_encoding(is), pos);
    return true;
}

/* Grow *is to hold n elements of width w. Header untouched. */
static int resize(struct mem_acct *a, unsigned char **is, uint32_t n, uint32_t w)
{
    /* n < 2^32 and w <= 8: fits 64-bit size_t. */
    size_t bytes = INTSET_HDR_SIZE + (size_t)n * w;
    unsigned char *p = mem_realloc(a, *is, bytes);
    if (!p)
        return INTSET_ENOMEM;
    *is = p;
    return 0;
}

/* Add v, which needs a width w wider than the set's: it is smaller or
 * larger than every element, so it goes first (negative) or last. Existing
 * elements are widened from the back so none is overwritten before it is
 * read. */
static int add_upgrade(struct mem_acct *a, unsigned char **isp, int64_t v, uint32_t w)
{
    uint32_t old_w = intset_encoding(*isp), n = intset_len(*isp);
    int rc = resize(a, isp, n + 1, w);
    if (rc)
        return rc;
    unsigned char *is = *isp, *base = is + INTSET_HDR_SIZE;
    uint32_t shift = v < 0 ? 1 : 0;
    for (uint32_t i = n; i-- > 0;)
        set_elem(base, w, i + shift, elem(base, old_w, i));
    set_elem(base, w, v < 0 ? 0 : n, v);
    le_store32(is, w);
    le_store32(is + 4, n + 1);
    return 0;
}

int intset_add(struct mem_acct *a, unsigned char **isp, int64_t v, bool *added)
{
    if (added)
        *added = false;
    uint32_t w = width_for(v), n = intset_len(*isp), pos;
    if (w <= intset_encoding(*isp) && search(*isp, v, &pos))
        return 0;
    if (n == UINT32_MAX)
        return INTSET_ETOOBIG;
    int rc;
    if (w > intset_encoding(*isp)) {
        rc = add_upgrade(a, isp, v, w);
    } else {
        w = intset_encoding(*isp);
        rc = resize(a, isp, n + 1, w);
        if (rc == 0) {
            unsigned char *base = *isp + INTSET_HDR_SIZE;
            memmove(base + (size_t)(pos + 1) * w, base + (size_t)pos * w, (size_t)(n - pos) * w);
            set_elem(base, w, pos, v);
            le_store32(*isp + 4, n + 1);
        }
    }
    if (rc == 0 && added)
        *added = true;
    return rc;
}

void intset_remove(struct mem_acct *a, unsigned char **isp, int64_t v, bool *removed)
{
    uint32_t pos, n = intset_len(*isp), w = intset_encoding(*isp);
    if (removed)
        *removed = false;
    if (width_for(v) > w || !search(*isp, v, &pos))
        return;
    unsigned char *base = *isp + INTSET_HDR_SIZE;
    memmove(base + (size_t)pos * w, base + (size_t)(pos + 1) * w, (size_t)(n - pos - 1) * w);
    le_store32(*isp + 4, n - 1);
    /* Shrink; a refusal keeps the bigger block, which still holds it all. */
    (void)resize(a, isp, n - 1, w);
    if (removed)
        *removed = true;
}

int intset_validate(const void *blob, size_t len, bool deep)
{
    const unsigned char *is = blob;
    if (len < INTSET_HDR_SIZE)
        return INTSET_ECORRUPT;
    uint32_t w = le_load32(is), n = le_load32(is + 4);
    if (w != ENC16 && w != ENC32 && w != ENC64)
        return INTSET_ECORRUPT;
    /* n * w < 2^35: no overflow in 64 bits. */
    if ((uint64_t)INTSET_HDR_SIZE + (uint64_t)n * w != len || n == 0)
        return INTSET_ECORRUPT;
    if (!deep)
        return 0;
    const unsigned char *base = is + INTSET_HDR_SIZE;
    int64_t prev = elem(base, w, 0);
    for (uint32_t i = 1; i < n; i++) {
        int64_t cur = elem(base, w, i);
        if (cur <= prev)
            return INTSET_ECORRUPT;
        prev = cur;
    }
    return 0;
}
