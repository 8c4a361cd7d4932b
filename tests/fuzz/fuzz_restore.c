/* fuzz_restore.c — libFuzzer target for RESTORE payloads: shard/tval_rdb.c's
 * decoder (hashes and sets in every encoding Redis 7.0 loads, strings, LZF,
 * ziplists and zipmaps through rdb_legacy.c). The input is a DUMP payload;
 * its footer is not required (the fuzzer cannot forge CRC64s, and RESTORE
 * checks it before decoding), so the whole input is decoded as the object.
 * Bad input must get an error and free everything; a value that decodes
 * must encode and decode again to the same element count, and its
 * re-encoding must be a fixed point. Single-threaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "shard/lzf.h"
#include "shard/tval.h"
#include "shard/tval_rdb.h"
#include "shard/zset.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The LZF compressor keeps a table per thread, made on first use: make it
 * now, so that the leak check of the first input that compresses does not
 * count it. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const unsigned char in[32] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    unsigned char out[64];
    (void)argc;
    (void)argv;
    (void)lzf_compress(in, sizeof in, out, sizeof out);
    return 0;
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_restore: check failed: %s (line %d)\n", #cond, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct tval_limits lim = {128, 64, 512, 128, 64, -2, 0, 128, 64};
    struct mem_acct a = {0};
    struct tval *tv = NULL;
    size_t used = 0;
    char err[256];

    if (size > 0 && data[0] == 0) {
        char *v = NULL;
        size_t vlen;
        int rc = tval_rdb_decode_string(data, size, &v, &vlen, &used, err, sizeof err);
        CHECK(rc == 0 || (rc < 0 && err[0]));
        CHECK(rc != 0 || used <= size);
        free(v);
        return 0;
    }
    int rc = tval_rdb_decode(&a, data, size, &lim, &tv, &used, err, sizeof err);
    if (rc != 0) {
        CHECK(rc < 0 && err[0]);
        CHECK(a.used == 0);
        return 0;
    }
    CHECK(used <= size);
    size_t n = tval_len(tv);
    CHECK(n > 0);
    CHECK(tv->type != TVAL_ZSET || zset_check(tv) == 0);

    struct tval_rdb_buf b1 = {0}, b2 = {0};
    struct tval *back = NULL;
    CHECK(tval_rdb_encode(tv, &b1) == 0);
    CHECK(tval_rdb_decode(&a, b1.p, b1.len, &lim, &back, &used, err, sizeof err) == 0);
    CHECK(used == b1.len);
    CHECK(tval_len(back) == n && back->type == tv->type);
    CHECK(tval_rdb_encode(back, &b2) == 0);
    /* A listpack set is written as a plain set (Redis 7.0 has no listpack
     * sets), which loads as Redis's loader does: leading integers go into
     * an intset first, sorted, and a set of integers only stays an intset.
     * So its first reload may reorder it or make it an intset; from then on
     * it is a fixed point (an intset is written as one, so its size may
     * change too). Hash tables may come back in another order;
     * every other encoding comes back byte for byte. */
    if (tv->enc == TVAL_ENC_LISTPACK && tv->type == TVAL_SET) {
        CHECK(back->enc == TVAL_ENC_LISTPACK || back->enc == TVAL_ENC_INTSET);
        struct tval *again = NULL;
        struct tval_rdb_buf b3 = {0};
        CHECK(tval_rdb_decode(&a, b2.p, b2.len, &lim, &again, &used, err, sizeof err) == 0);
        CHECK(again->enc == back->enc);
        CHECK(tval_rdb_encode(again, &b3) == 0);
        CHECK(b3.len == b2.len && memcmp(b2.p, b3.p, b2.len) == 0);
        tval_free(&a, again);
        tval_rdb_buf_free(&b3);
    } else {
        CHECK(back->enc == tv->enc && b2.len == b1.len);
        CHECK(tv->enc == TVAL_ENC_HASHTABLE || memcmp(b1.p, b2.p, b1.len) == 0);
    }
    tval_free(&a, back);
    tval_free(&a, tv);
    while (tval_lazyfree_step(1000000000))
        ;
    tval_rdb_buf_free(&b1);
    tval_rdb_buf_free(&b2);
    CHECK(a.used == 0);
    return 0;
}
