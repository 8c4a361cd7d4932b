/* fuzz_reply.c — libFuzzer target for libshardkv's RESP2/RESP3 reply parser
 * (client/reply.c). The input is parsed twice: whole, and fed in chunks whose
 * sizes come from the input itself. Both runs must agree reply by reply
 * (same trees, same final status), and every tree must be well formed.
 * Bytes from a server are as hostile as bytes from a client. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/reply.h"

/* Keep the fuzzer's memory flat: a run stops comparing after this many
 * replies (the parser state is what matters, not the count). */
#define MAX_REPLIES 256

/* A 64-bit digest of a reply tree: type, scalars and bytes, recursively. */
static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

static uint64_t digest(const struct skv_reply *r, int depth)
{
    if (depth > REPLY_MAX_DEPTH) /* the parser bounds nesting */
        __builtin_trap();
    uint64_t h = mix(0, (uint64_t)r->type);
    h = mix(h, (uint64_t)r->integer);
    h = mix(h, r->len);
    if (r->str) {
        if (r->str[r->len] != '\0') /* documented NUL terminator */
            __builtin_trap();
        for (size_t i = 0; i < r->len; i++)
            h = mix(h, (unsigned char)r->str[i]);
    }
    h = mix(h, r->elements);
    if (r->elements && !r->element)
        __builtin_trap();
    for (size_t i = 0; i < r->elements; i++) {
        if (!r->element[i])
            __builtin_trap();
        h = mix(h, digest(r->element[i], depth + 1));
    }
    return h;
}

/* Parse data[0..n) in chunks (chunk sizes drawn from seed), recording each
 * reply's digest. Returns the final status. */
static enum reply_status run(const uint8_t *data, size_t n, uint8_t seed, uint64_t *out,
                             size_t *count)
{
    struct reply_parser p;
    reply_parser_init(&p);
    enum reply_status st = REPLY_AGAIN;
    size_t off = 0;
    *count = 0;
    while (off < n) {
        size_t chunk = seed ? (size_t)(seed % 17) + 1 : n - off;
        if (chunk > n - off)
            chunk = n - off;
        if (reply_parser_feed(&p, data + off, chunk) != 0)
            break;
        off += chunk;
        seed = (uint8_t)(seed * 31 + 7) | (seed ? 1 : 0);
        struct skv_reply *r;
        while ((st = reply_parser_next(&p, &r)) == REPLY_OK) {
            if (*count < MAX_REPLIES)
                out[(*count)++] = digest(r, 0);
            skv_reply_free(r);
        }
        if (st != REPLY_AGAIN)
            break;
    }
    reply_parser_deinit(&p);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t seed = data[0] | 1; /* never 0: the chunked run really chunks */
    data++;
    size--;
    static uint64_t whole[MAX_REPLIES], split[MAX_REPLIES];
    size_t nw, ns;
    enum reply_status sw = run(data, size, 0, whole, &nw);
    enum reply_status ss = run(data, size, seed, split, &ns);
    /* Out-of-memory is the only outcome allowed to depend on chunking. */
    if (sw == REPLY_ENOMEM || ss == REPLY_ENOMEM)
        return 0;
    if (sw != ss || nw != ns || memcmp(whole, split, nw * sizeof whole[0]) != 0)
        __builtin_trap();
    return 0;
}
