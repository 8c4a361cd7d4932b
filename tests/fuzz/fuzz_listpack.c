/* fuzz_listpack.c — libFuzzer target for shard/listpack.c's validator. The
 * input is a listpack blob as an RDB file or RESTORE payload would carry
 * it: listpack_validate must never read outside it, and a blob it accepts
 * (deep) must iterate both ways to the same entries, seek to each, re-encode
 * to a valid listpack with the same entries, and survive edits.
 * Single-threaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "shard/listpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stop the run with a message: libFuzzer records the input as a crash. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_listpack: check failed: %s (line %d)\n", #cond, __LINE__);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int text_eq(const unsigned char *a, const unsigned char *b)
{
    char ba[LISTPACK_INTBUF_SIZE], bb[LISTPACK_INTBUF_SIZE];
    size_t la, lb;
    const unsigned char *ta = listpack_get_text(a, ba, &la);
    const unsigned char *tb = listpack_get_text(b, bb, &lb);
    return la == lb && (la == 0 || memcmp(ta, tb, la) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int deep = listpack_validate(data, size, true);
    int shallow = listpack_validate(data, size, false);
    CHECK(deep == 0 || deep == LISTPACK_ECORRUPT);
    CHECK(deep != 0 || shallow == 0); /* deep implies shallow */
    if (deep != 0)
        return 0;

    /* Forwards, then backwards to the same entries. */
    uint32_t n = 0;
    const unsigned char *p;
    char buf[LISTPACK_INTBUF_SIZE];
    for (p = listpack_first(data); p; p = listpack_next(data, p)) {
        size_t tl;
        const unsigned char *t = listpack_get_text(p, buf, &tl);
        CHECK(listpack_entry_eq(p, t, tl));
        n++;
    }
    CHECK(n == listpack_count(data));
    uint32_t back = 0;
    for (p = listpack_last(data); p; p = listpack_prev(data, p)) {
        back++;
        CHECK(text_eq(p, listpack_seek(data, -(int64_t)back)));
    }
    CHECK(back == n);
    CHECK(listpack_seek(data, n) == NULL);

    /* Re-encode every entry's text: valid, same entries, and find sees them. */
    struct mem_acct acct = {0};
    unsigned char *copy = listpack_create(&acct);
    CHECK(copy != NULL);
    for (p = listpack_first(data); p; p = listpack_next(data, p)) {
        size_t tl;
        const unsigned char *t = listpack_get_text(p, buf, &tl);
        CHECK(listpack_append(&acct, &copy, t, tl) == 0);
        CHECK(listpack_find(copy, listpack_first(copy), t, tl, 0) != NULL);
    }
    CHECK(listpack_validate(copy, listpack_bytes(copy), true) == 0);
    CHECK(listpack_count(copy) == n);
    const unsigned char *q = listpack_first(copy);
    for (p = listpack_first(data); p; p = listpack_next(data, p), q = listpack_next(copy, q))
        CHECK(q && text_eq(p, q));

    /* Edits on Redis's bytes as-is. */
    unsigned char *lp = listpack_create_from(&acct, data, size);
    CHECK(lp != NULL);
    if (n > 0) {
        listpack_delete(&acct, &lp, listpack_first(lp), NULL);
        CHECK(listpack_count(lp) == n - 1);
    }
    if (n > 1)
        CHECK(listpack_replace(&acct, &lp, listpack_last(lp), "replaced", 8, NULL) == 0);
    CHECK(listpack_append_int(&acct, &lp, -12345) == 0);
    CHECK(listpack_validate(lp, listpack_bytes(lp), true) == 0);
    listpack_destroy(&acct, lp);
    listpack_destroy(&acct, copy);
    CHECK(acct.used == 0);
    return 0;
}
