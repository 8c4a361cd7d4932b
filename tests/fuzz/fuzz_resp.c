/* fuzz_resp.c — libFuzzer target for the RESP request parser. The input is
 * fed the way a connection would see it (random read sizes, a buffer that
 * moves on every read), every result is checked against the parser's
 * contract, parsed commands are re-encoded and parsed back, and the results
 * must not depend on how the bytes were split. Single-threaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/resp.h"
#include "protocol/resp_enc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stop the run with a message: libFuzzer records the input as a crash. */
#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_resp: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* Small limits make every limit reachable within libFuzzer's input sizes. */
static const struct resp_limits small_limits = {
    .max_inline = 40, .max_multibulk = 6, .max_bulk = 50,
};

/* A tiny deterministic generator for read sizes, seeded from the input. */
static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

/* Check one parsed command and append it, re-encoded as multibulk, to log. */
static void check_cmd(const struct resp_parser *p, const char *buf, size_t len,
                      const struct resp_cmd *cmd, size_t used, struct rbuf *log)
{
    CHECK(used > 0 && used <= len);
    CHECK(cmd->argc <= p->lim.max_multibulk);
    CHECK(cmd->argc == 0 || cmd->argv != NULL);
    for (size_t i = 0; i < cmd->argc; i++) {
        const struct resp_arg *a = &cmd->argv[i];

        if (buf[0] == '*') {
            /* Multibulk: zero-copy views inside this command's bytes. */
            CHECK(a->len <= p->lim.max_bulk);
            CHECK(a->ptr >= buf && a->len <= used && a->ptr - buf <= (ptrdiff_t)(used - a->len));
        } else {
            /* Inline: views into the parser's unescape area, never longer
             * than the line. */
            CHECK(a->len < used);
            CHECK(a->ptr >= p->unesc && a->ptr + a->len <= p->unesc + p->unesc_cap);
        }
        /* Touch every byte so ASan sees any view outside live memory. */
        for (size_t j = 0; j < a->len; j++)
            CHECK(((volatile const char *)a->ptr)[j] == a->ptr[j]);
    }
    resp_array(log, cmd->argc);
    for (size_t i = 0; i < cmd->argc; i++)
        resp_bulk(log, cmd->argv[i].ptr, cmd->argv[i].len);
    CHECK(!log->oom);
}

/* Parse the re-encoded form of cmd and check it gives the same arguments. */
static void check_roundtrip(const struct resp_cmd *cmd)
{
    struct resp_parser q;
    struct resp_cmd back;
    struct rbuf b;
    size_t used;

    if (cmd->argc == 0)
        return; /* "*0\r\n" is an empty command: nothing to compare */
    rbuf_init(&b);
    resp_array(&b, cmd->argc);
    for (size_t i = 0; i < cmd->argc; i++)
        resp_bulk(&b, cmd->argv[i].ptr, cmd->argv[i].len);
    CHECK(!b.oom);
    CHECK(resp_parser_init(&q, NULL) == 0);
    CHECK(resp_parse(&q, b.ptr, b.len, &back, &used, NULL) == RESP_OK);
    CHECK(used == b.len);
    CHECK(back.argc == cmd->argc);
    for (size_t i = 0; i < cmd->argc; i++) {
        CHECK(back.argv[i].len == cmd->argv[i].len);
        CHECK(back.argv[i].len == 0 ||
              memcmp(back.argv[i].ptr, cmd->argv[i].ptr, back.argv[i].len) == 0);
    }
    resp_parser_deinit(&q);
    rbuf_deinit(&b);
}

/* Feed in[0..n) in reads of random size (max_read 0: all at once) into a
 * connection-like buffer, parsing every complete command. Appends each
 * command and the final outcome to log. */
static void run_stream(const uint8_t *in, size_t n, const struct resp_limits *lim,
                       uint32_t seed, size_t max_read, struct rbuf *log)
{
    struct resp_parser p;
    char *buf = NULL;     /* unconsumed bytes; reallocated (moved) on every read */
    size_t len = 0;       /* bytes at buf */
    size_t fed = 0;       /* bytes of in read so far */
    enum resp_status st = RESP_AGAIN;

    CHECK(resp_parser_init(&p, lim) == 0);
    while (st == RESP_AGAIN && fed < n) {
        size_t r = max_read == 0 ? n - fed : 1 + next_rand(&seed) % max_read;
        char *moved;

        if (r > n - fed)
            r = n - fed;
        moved = malloc(len + r);
        CHECK(moved != NULL);
        if (len > 0)
            memcpy(moved, buf, len);
        memcpy(moved + len, in + fed, r);
        free(buf);
        buf = moved;
        len += r;
        fed += r;

        for (;;) {
            struct resp_cmd cmd;
            size_t used = 12345, need = 12345;

            st = resp_parse(&p, buf, len, &cmd, &used, &need);
            if (st != RESP_OK)
                break;
            check_cmd(&p, buf, len, &cmd, used, log);
            check_roundtrip(&cmd);
            /* Consume like a server: drop the command's bytes. */
            memmove(buf, buf + used, len - used);
            len -= used;
            (void)need;
        }
        if (st == RESP_AGAIN) {
            CHECK(p.pos <= len && p.scan <= len);
            CHECK(p.got_args <= p.want_args);
        }
    }
    if (st == RESP_EPROTO || st == RESP_ETOOBIG) {
        CHECK(p.err != NULL && strncmp(p.err, "Protocol error: ", 16) == 0);
        resp_simple(log, st == RESP_EPROTO ? "EPROTO" : "ETOOBIG");
        resp_error(log, p.err);
    } else {
        CHECK(st == RESP_AGAIN);
        resp_simple(log, "AGAIN");
    }
    resp_parser_deinit(&p);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct resp_limits *lim;
    struct rbuf whole, chunked;
    uint32_t seed;
    size_t max_read;

    if (size < 2)
        return 0;
    /* Byte 0: limits and largest read size; byte 1: read-size seed. */
    lim = (data[0] & 1) ? &small_limits : NULL;
    max_read = 1 + (data[0] >> 1) % 64;
    seed = data[1];
    data += 2;
    size -= 2;

    rbuf_init(&whole);
    rbuf_init(&chunked);
    run_stream(data, size, lim, seed, 0, &whole);
    run_stream(data, size, lim, seed, max_read, &chunked);
    /* The same commands and the same outcome, however the bytes arrived. */
    CHECK(whole.len == chunked.len);
    CHECK(whole.len == 0 || memcmp(whole.ptr, chunked.ptr, whole.len) == 0);
    rbuf_deinit(&whole);
    rbuf_deinit(&chunked);
    return 0;
}
