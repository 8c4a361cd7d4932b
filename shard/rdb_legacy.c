/* rdb_legacy.c — validating walkers over Redis's ziplist and zipmap blobs
 * (see rdb_legacy.h). Every length read from a blob is checked against the
 * bytes left before it is used. Pure; any thread. */
#include "shard/rdb_legacy.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Ziplist header: zlbytes, zltail, zllen. */
#define ZL_HDR 10
#define ZL_END 0xFFu
/* A prevlen of 254 or more is stored as 0xFE + u32. */
#define ZL_BIGLEN 0xFEu
/* zllen saturates here: the count is then found by walking. */
#define ZL_COUNT_UNKNOWN 65535u

/* Zipmap: a length byte of 254 means a u32 follows; 255 ends the map. */
#define ZM_BIGLEN 254u
#define ZM_END 255u

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Sign-extend the n little-endian bytes at p. */
static int64_t le_int(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    unsigned shift = 64 - 8 * n;
    return shift ? (int64_t)(v << shift) >> shift : (int64_t)v;
}

int rdb_ziplist_walk(const unsigned char *zl, size_t len, rdb_legacy_fn fn, void *arg,
                     size_t *count)
{
    if (len < ZL_HDR + 1 || le32(zl) != len || zl[len - 1] != ZL_END)
        return RDB_LEGACY_ECORRUPT;
    size_t tail = le32(zl + 4), hdr_count = (size_t)zl[8] | (size_t)zl[9] << 8;
    size_t pos = ZL_HDR, prev_size = 0, last = ZL_HDR, n = 0;
    const size_t end = len - 1; /* the 0xFF */

    while (pos < end) {
        size_t start = pos, prevlen, slen = 0;
        const unsigned char *s = NULL;
        char num[24];

        /* prevlen */
        if (zl[pos] < ZL_BIGLEN) {
            prevlen = zl[pos++];
        } else if (zl[pos] == ZL_BIGLEN) {
            if (end - pos < 5)
                return RDB_LEGACY_ECORRUPT;
            prevlen = le32(zl + pos + 1);
            pos += 5;
        } else {
            return RDB_LEGACY_ECORRUPT;
        }
        if (prevlen != prev_size || pos >= end)
            return RDB_LEGACY_ECORRUPT;
        /* encoding and data */
        unsigned enc = zl[pos];
        size_t left = end - pos;
        if (enc >> 6 == 0) {
            slen = enc & 0x3f;
            pos += 1;
        } else if (enc >> 6 == 1) {
            if (left < 2)
                return RDB_LEGACY_ECORRUPT;
            slen = (size_t)(enc & 0x3f) << 8 | zl[pos + 1];
            pos += 2;
        } else if (enc >> 6 == 2) {
            if (left < 5)
                return RDB_LEGACY_ECORRUPT;
            slen = (size_t)zl[pos + 1] << 24 | (size_t)zl[pos + 2] << 16 |
                   (size_t)zl[pos + 3] << 8 | zl[pos + 4];
            pos += 5;
        } else {
            unsigned ilen;
            int64_t v;
            switch (enc) {
            case 0xC0: ilen = 2; break;
            case 0xD0: ilen = 4; break;
            case 0xE0: ilen = 8; break;
            case 0xF0: ilen = 3; break;
            case 0xFE: ilen = 1; break;
            default:
                if (enc < 0xF1 || enc > 0xFD)
                    return RDB_LEGACY_ECORRUPT;
                ilen = 0;
                break;
            }
            if (left - 1 < ilen)
                return RDB_LEGACY_ECORRUPT;
            v = ilen ? le_int(zl + pos + 1, ilen) : (int64_t)(enc & 0x0f) - 1;
            pos += 1 + ilen;
            slen = (size_t)snprintf(num, sizeof num, "%" PRId64, v);
            s = (const unsigned char *)num;
        }
        if (!s) {
            if (slen > end - pos)
                return RDB_LEGACY_ECORRUPT;
            s = zl + pos;
            pos += slen;
        }
        if (fn) {
            int rc = fn(arg, s, slen);
            if (rc)
                return rc;
        }
        prev_size = pos - start;
        last = start;
        n++;
    }
    /* pos == end: the entries end exactly at the 0xFF. */
    if (tail != last || (hdr_count != ZL_COUNT_UNKNOWN && hdr_count != n))
        return RDB_LEGACY_ECORRUPT;
    if (count)
        *count = n;
    return 0;
}

/* A zipmap length at zm[*pos] (end = index of the last byte). */
static int zm_len(const unsigned char *zm, size_t end, size_t *pos, size_t *out)
{
    if (*pos >= end)
        return RDB_LEGACY_ECORRUPT;
    unsigned b = zm[*pos];
    if (b < ZM_BIGLEN) {
        *out = b;
        *pos += 1;
        return 0;
    }
    if (b == ZM_END || end - *pos < 5)
        return RDB_LEGACY_ECORRUPT;
    *out = le32(zm + *pos + 1);
    *pos += 5;
    return 0;
}

int rdb_zipmap_walk(const unsigned char *zm, size_t len, rdb_legacy_fn fn, void *arg,
                    size_t *count)
{
    if (len < 2 || zm[len - 1] != ZM_END)
        return RDB_LEGACY_ECORRUPT;
    const size_t end = len - 1;
    size_t pos = 1, n = 0;

    while (pos < end) {
        size_t flen, vlen, fpos;
        int rc;
        if ((rc = zm_len(zm, end, &pos, &flen)) != 0)
            return rc;
        if (flen > end - pos)
            return RDB_LEGACY_ECORRUPT;
        fpos = pos;
        pos += flen;
        if ((rc = zm_len(zm, end, &pos, &vlen)) != 0)
            return rc;
        if (pos >= end)
            return RDB_LEGACY_ECORRUPT;
        unsigned free_bytes = zm[pos++];
        if (vlen > end - pos || free_bytes > end - pos - vlen)
            return RDB_LEGACY_ECORRUPT;
        if (fn && ((rc = fn(arg, zm + fpos, flen)) != 0 || (rc = fn(arg, zm + pos, vlen)) != 0))
            return rc;
        pos += vlen + free_bytes;
        n++;
    }
    if (zm[0] < ZM_BIGLEN && zm[0] != n)
        return RDB_LEGACY_ECORRUPT;
    if (count)
        *count = n;
    return 0;
}
