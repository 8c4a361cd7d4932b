/* lzf_compress.h — LZF compression, the format shard/lzf.h decompresses and
 * Redis writes: quicklist nodes beyond list-compress-depth are kept this way
 * (and RDB files carry them so). Pure; any thread. */
#ifndef SKV_SHARD_LZF_COMPRESS_H
#define SKV_SHARD_LZF_COMPRESS_H

#include <stddef.h>

/* Compress in[0..inlen) into out[0..outcap) (both borrowed). Returns the
 * compressed length, or 0 when the result would not fit in outcap bytes
 * (the caller then keeps the data as it is) or inlen is 0. Uses 32 KB of
 * stack for its match table. */
size_t lzf_compress(const unsigned char *in, size_t inlen, unsigned char *out, size_t outcap);

#endif
