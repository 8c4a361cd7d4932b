/* lzf_compress.c — an LZF encoder written from the format description (see
 * lzf.c): literal runs of 1..32 bytes behind a control byte below 32, and
 * back references of 3..264 bytes up to 8192 bytes back. Matches are found
 * through a hash table of the last position each 3-byte sequence was seen
 * at, which is what makes LZF fast rather than thorough. Pure; any thread. */
#include "shard/lzf_compress.h"

#include <stdint.h>
#include <string.h>

/* 2^13 slots of 4 bytes: 32 KB of stack, enough for the 4..64 KB listpacks
 * of a quicklist node to find most repeats. */
#define HLOG    13
#define MAX_LIT 32            /* a control byte below 32 covers 1..32 literals */
#define MAX_OFF 8192          /* 13 bits of distance - 1 */
#define MAX_REF (7 + 255 + 2) /* length 7 + an extra byte, + the implied 2 */

static inline uint32_t hash3(const unsigned char *p)
{
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    /* Multiplicative hashing: the top HLOG bits of the product. */
    return (v * 2654435761u) >> (32 - HLOG);
}

/* Write in[from..from+n) as literal runs at out + *op. */
static int put_literals(const unsigned char *in, size_t from, size_t n, unsigned char *out,
                        size_t *op, size_t outcap)
{
    while (n > 0) {
        size_t run = n < MAX_LIT ? n : MAX_LIT;
        if (outcap - *op < run + 1)
            return -1;
        out[(*op)++] = (unsigned char)(run - 1);
        memcpy(out + *op, in + from, run);
        *op += run;
        from += run;
        n -= run;
    }
    return 0;
}

size_t lzf_compress(const unsigned char *in, size_t inlen, unsigned char *out, size_t outcap)
{
    /* Positions + 1, so that 0 means "never seen". Inputs are listpacks,
     * at most 4 GiB, so a position fits 32 bits. */
    uint32_t htab[1u << HLOG];
    size_t ip = 0, op = 0, lit_from = 0;

    if (inlen == 0 || inlen > UINT32_MAX)
        return 0;
    memset(htab, 0, sizeof htab);
    while (ip + 2 < inlen) {
        uint32_t h = hash3(in + ip);
        size_t ref = htab[h];
        htab[h] = (uint32_t)(ip + 1);
        if (ref == 0 || ip - (ref - 1) > MAX_OFF || memcmp(in + ref - 1, in + ip, 3) != 0) {
            ip++;
            continue;
        }
        ref--;
        size_t max = inlen - ip < MAX_REF ? inlen - ip : MAX_REF;
        size_t len = 3;
        while (len < max && in[ref + len] == in[ip + len])
            len++;
        if (put_literals(in, lit_from, ip - lit_from, out, &op, outcap) != 0)
            return 0;
        size_t off = ip - ref - 1, l = len - 2;
        if (outcap - op < 3)
            return 0;
        if (l < 7) {
            out[op++] = (unsigned char)(l << 5 | off >> 8);
        } else {
            out[op++] = (unsigned char)(7 << 5 | off >> 8);
            out[op++] = (unsigned char)(l - 7);
        }
        out[op++] = (unsigned char)(off & 0xff);
        /* Remember the positions inside the match too: later repeats of
         * them are found, at a cost of one hash each. */
        for (size_t i = ip + 1; i < ip + len && i + 2 < inlen; i++)
            htab[hash3(in + i)] = (uint32_t)(i + 1);
        ip += len;
        lit_from = ip;
    }
    if (put_literals(in, lit_from, inlen - lit_from, out, &op, outcap) != 0)
        return 0;
    return op;
}
