/* fuzz_intset.c — libFuzzer target for shard/intset.c's validator. The
 * input is an intset blob as an RDB file or RESTORE payload would carry it:
 * intset_validate must never read outside it, and a blob it accepts (deep)
 * must read back sorted, find each element, and stay valid through adds
 * and removes. Single-threaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "shard/intset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_intset: check failed: %s (line %d)\n", #cond, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int deep = intset_validate(data, size, true);
    int shallow = intset_validate(data, size, false);
    CHECK(deep == 0 || deep == INTSET_ECORRUPT);
    CHECK(deep != 0 || shallow == 0);
    if (deep != 0)
        return 0;

    uint32_t n = intset_len(data);
    CHECK(intset_blob_size(data) == size);
    int64_t prev = 0, v;
    for (uint32_t i = 0; i < n; i++) {
        CHECK(intset_get(data, i, &v));
        CHECK(i == 0 || v > prev);
        CHECK(intset_find(data, v));
        prev = v;
    }
    CHECK(!intset_get(data, n, &v));

    /* Edits: remove the first element, add neighbours of the last. */
    struct mem_acct acct = {0};
    unsigned char *is = intset_create_from(&acct, data, size);
    CHECK(is != NULL);
    int64_t first, last;
    CHECK(intset_get(is, 0, &first) && intset_get(is, n - 1, &last));
    bool done;
    intset_remove(&acct, &is, first, &done);
    CHECK(done && !intset_find(is, first));
    CHECK(intset_add(&acct, &is, first, &done) == 0 && done);
    if (last < INT64_MAX)
        CHECK(intset_add(&acct, &is, last + 1, &done) == 0 && done);
    CHECK(intset_add(&acct, &is, last, &done) == 0 && !done);
    CHECK(intset_validate(is, intset_blob_size(is), true) == 0);
    intset_destroy(&acct, is);
    CHECK(acct.used == 0);
    return 0;
}
