/* lzf.h — LZF for RDB strings: decompression of what redis-server
 * compressed (it compresses strings over 20 bytes by default), and a
 * compressor that produces the bytes Redis's liblzf produces, so that a
 * DUMP payload or an RDB blob we write is byte for byte Redis's. Pure; any
 * thread (the compressor keeps a 512 KB table per thread). */
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

/* Compress in[0..inlen) into at most outcap bytes at out, as liblzf 3.6
 * (which Debian's redis-server 7.0 links) does with its default settings
 * (HLOG 16, VERY_FAST): same hash, same match
 * rules, so the same output. Returns the compressed length, or 0 when the
 * output would not fit in outcap (Redis then stores the string plain) or
 * inlen is 0. inlen must be below 2^32. */
size_t lzf_compress(const unsigned char *in, size_t inlen, unsigned char *out, size_t outcap);

#endif
