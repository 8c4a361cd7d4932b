/* lzf.c — LZF decompression (the format of Marc Lehmann's liblzf, which
 * Redis uses for RDB strings), written from the format description: a
 * control byte below 32 starts a literal run of ctrl + 1 bytes; otherwise
 * its top three bits are a length (7 = add the next byte), and with its low
 * five bits and the next byte a back-reference distance. Pure; any thread. */
#include "shard/lzf.h"

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
