/* crc64.c — table-driven CRC-64/Jones (the RDB file checksum), eight bytes
 * per step ("slicing by 8") so that checksumming a multi-gigabyte snapshot
 * costs well under a second per gigabyte. Any thread. */
#include "shard/crc64.h"

#include <pthread.h>

/* The Jones polynomial 0xad93d23594c935a9 bit-reversed, because the CRC is
 * computed LSB-first (reflected input and output). */
#define CRC64_POLY_REFLECTED UINT64_C(0x95ac9329ac4bc9b5)

/* table[0][b] is the CRC of the single byte b; table[k][b] is the CRC of b
 * followed by k zero bytes, which lets one step consume eight bytes. */
static uint64_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    for (unsigned b = 0; b < 256; b++) {
        uint64_t c = b;
        for (int bit = 0; bit < 8; bit++)
            c = (c & 1) ? (c >> 1) ^ CRC64_POLY_REFLECTED : c >> 1;
        table[0][b] = c;
    }
    for (unsigned b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
}

void crc64_init(void)
{
    pthread_once(&table_once, build_tables);
}

uint64_t crc64_update(uint64_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    crc64_init();
    while (len >= 8) {
        /* Assemble little-endian by hand: no alignment or host-order
         * assumptions. */
        uint64_t w = crc ^ ((uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
                            (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
                            (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56);
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
              table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}
