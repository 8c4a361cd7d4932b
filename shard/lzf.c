/* lzf.c — LZF decompression and compression (the format of Marc Lehmann's
 * liblzf, which Redis uses for RDB strings), written from the format
 * description and, for the compressor, liblzf 3.6's matching rules: a
 * control byte below 32 starts a literal run of ctrl + 1 bytes; otherwise
 * its top three bits are a length (7 = add the next byte), and with its low
 * five bits and the next byte a back-reference distance. Pure; any thread. */
#include "shard/lzf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

bool lzf_decompress(const unsigned char *in, size_t inlen, unsigned char *out, size_t outlen)
{
    size_t ip = 0, op = 0;

    while (ip < inlen) {
        unsigned ctrl = in[ip++];
        if (ctrl < 32) {
            /* A literal run of ctrl + 1 bytes. */
            size_t run = ctrl + 1;
            if (run > inlen - ip || run > outlen - op)
                return false;
            memcpy(out + op, in + ip, run);
            ip += run;
            op += run;
        } else {
            /* A back reference: length in the top 3 bits (7 = more in the
             * next byte), distance in the low 5 bits and the next byte. */
            size_t len = ctrl >> 5, dist;
            if (len == 7) {
                if (ip >= inlen)
                    return false;
                len += in[ip++];
            }
            if (ip >= inlen)
                return false;
            dist = ((size_t)(ctrl & 0x1f) << 8) + in[ip++] + 1;
            len += 2;
            if (dist > op || len > outlen - op)
                return false;
            /* Byte by byte: the source may overlap what is being written
             * (a run of one repeated byte has distance 1). */
            for (size_t i = 0; i < len; i++, op++)
                out[op] = out[op - dist];
        }
    }
    return op == outlen;
}

/* ----------------------------------------------------------- compression */

/* liblzf's hash table: 2^16 slots, indexed by a hash of the next three
 * bytes. The table size and hash decide which earlier positions a match is
 * looked for at, so both are Redis's, or the output would differ. */
#define HLOG 16
#define HSIZE (1u << HLOG)
/* Format limits: a literal run holds 32 bytes, a back reference reaches
 * 8192 bytes back and copies at most 264 (7 + 255 + 2) bytes. */
#define MAX_LIT 32
#define MAX_OFF 8192
#define MAX_REF 264

/* A slot holds (position + 1 + base) of the last position with that hash,
 * where base grows by each input's length: a slot is from this call iff
 * its value is above the call's base, so the table is never cleared (a
 * memset of 512 KB per 21-byte string would cost more than compressing). A
 * stale slot stands for "no earlier position", which is what liblzf's
 * checks make of a slot pointing outside the input. */
struct lzf_table {
    uint64_t base;         /* this call's base */
    uint64_t slot[HSIZE];  /* position + 1 + base of the call that wrote it */
};

static pthread_key_t table_key;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_key_init(void)
{
    (void)pthread_key_create(&table_key, free);
}

static struct lzf_table *thread_table(void)
{
    pthread_once(&table_once, table_key_init);
    struct lzf_table *t = pthread_getspecific(table_key);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (t && pthread_setspecific(table_key, t) != 0) {
            free(t);
            t = NULL;
        }
    }
    return t;
}

static inline uint32_t hash_first(const unsigned char *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t hash_next(uint32_t v, const unsigned char *p)
{
    return v << 8 | p[2];
}

/* liblzf's VERY_FAST index. */
static inline uint32_t hash_idx(uint32_t h)
{
    return ((h >> (3 * 8 - HLOG)) - h * 5) & (HSIZE - 1);
}

size_t lzf_compress(const unsigned char *in, size_t inlen, unsigned char *out, size_t outcap)
{
    struct lzf_table *t;
    size_t ip = 0, op = 0, lit = 0;
    uint32_t hval;

    if (inlen == 0 || outcap == 0 || inlen >= UINT32_MAX || !(t = thread_table()))
        return 0;
    uint64_t base = t->base;
    /* Slots written by this call are in (base, base + inlen]. */
    t->base += (uint64_t)inlen + 1;

    /* op always leaves room for the control byte of the current literal
     * run at out[op - lit - 1]. */
    op++;
    hval = inlen >= 2 ? hash_first(in) : 0;
    while (inlen >= 2 && ip < inlen - 2) {
        hval = hash_next(hval, in + ip);
        uint64_t *slot = &t->slot[hash_idx(hval)];
        uint64_t prev = *slot;
        *slot = base + ip + 1;
        size_t ref = 0, off = 0;
        bool found = false;
        if (prev > base) {
            ref = (size_t)(prev - base - 1);
            off = ip - ref - 1;
            /* liblzf also refuses a reference to position 0 (ref >
             * in_data). */
            found = off < MAX_OFF && ref > 0 && in[ref] == in[ip] &&
                    in[ref + 1] == in[ip + 1] && in[ref + 2] == in[ip + 2];
        }
        if (found) {
            size_t len = 2;
            size_t maxlen = inlen - ip - len;
            if (maxlen > MAX_REF)
                maxlen = MAX_REF;
            /* Room for the reference and the next run's control byte. */
            if (op - (lit == 0) + 3 + 1 >= outcap)
                return 0;
            /* Close the literal run (drop its control byte if empty). */
            out[op - lit - 1] = (unsigned char)(lit - 1);
            if (lit == 0)
                op--;
            /* liblzf first compares 16 bytes unrolled whenever maxlen >
             * 16, without checking maxlen; near the end of the input that
             * lets a match run up to 2 bytes past maxlen (still inside the
             * input). Done the same way, so such matches come out alike. */
            bool ended = false;
            if (maxlen > 16) {
                for (int k = 0; k < 16 && !ended; k++) {
                    len++;
                    ended = in[ref + len] != in[ip + len];
                }
            }
            if (!ended) {
                do
                    len++;
                while (len < maxlen && in[ref + len] == in[ip + len]);
            }
            len -= 2; /* now the match length minus one, minus two */
            ip++;
            if (len < 7) {
                out[op++] = (unsigned char)((off >> 8) + (len << 5));
            } else {
                out[op++] = (unsigned char)((off >> 8) + (7 << 5));
                out[op++] = (unsigned char)(len - 7);
            }
            out[op++] = (unsigned char)off;
            lit = 0;
            op++; /* control byte of the next run */
            ip += len + 1;
            if (ip >= inlen - 2)
                break;
            /* VERY_FAST: hash the last two positions of the match. */
            ip -= 2;
            hval = hash_first(in + ip);
            hval = hash_next(hval, in + ip);
            t->slot[hash_idx(hval)] = base + ip + 1;
            ip++;
            hval = hash_next(hval, in + ip);
            t->slot[hash_idx(hval)] = base + ip + 1;
            ip++;
        } else {
            if (op >= outcap)
                return 0;
            lit++;
            out[op++] = in[ip++];
            if (lit == MAX_LIT) {
                out[op - lit - 1] = (unsigned char)(lit - 1);
                lit = 0;
                op++;
            }
        }
    }
    if (op + 3 > outcap)
        return 0;
    while (ip < inlen) {
        lit++;
        out[op++] = in[ip++];
        if (lit == MAX_LIT) {
            out[op - lit - 1] = (unsigned char)(lit - 1);
            lit = 0;
            op++;
        }
    }
    out[op - lit - 1] = (unsigned char)(lit - 1);
    if (lit == 0)
        op--;
    return op;
}
