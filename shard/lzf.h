/* lzf.h — LZF decompression for RDB strings that redis-server compressed
 * (it compresses strings over 20 bytes by default). Decompression only: our
 * writer stores strings uncompressed. Pure; any thread. */
#ifndef SKV_SHARD_LZF_H
#define SKV_SHARD_LZF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most output one byte of LZF input can stand for: a long back
 * reference is 3 bytes and copies at most 7 + 255 + 2 = 264 bytes, i.e. 88
 * per byte (a literal run never expands). A stated plain length above 88x
 * the compressed length is corrupt; checking it first keeps the output
 * allocation proportional to compressed bytes that really exist. */
#define LZF_MAX_EXPANSION 88

/* Decode in[0..inlen) into exactly outlen bytes at out (both borrowed).
 * Returns true on success; false on malformed input: a back reference
 * before the start of the output, output beyond outlen, data cut short, or
 * fewer than outlen bytes produced. Never reads or writes out of bounds. */
bool lzf_decompress(const unsigned char *in, size_t inlen, unsigned char *out, size_t outlen);

#endif
