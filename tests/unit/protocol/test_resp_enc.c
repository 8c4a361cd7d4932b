/* test_resp_enc.c — unit tests of the reply encoder (protocol/resp_enc.c):
 * every reply type in RESP2 and RESP3 form, integer and double formatting,
 * the growable buffer, its hard cap and out-of-memory atomicity. */
#include <criterion/criterion.h>

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/resp.h"
#include "protocol/resp_enc.h"

/* Check that b holds exactly the n bytes at want, then empty it. */
static void expect_bytes(struct rbuf *b, const char *want, size_t n, const char *what)
{
    cr_assert(!b->oom, "%s: oom", what);
    cr_assert_eq(b->len, n, "%s: %zu bytes '%.*s', want %zu '%.*s'", what, b->len,
                 (int)b->len, b->ptr ? b->ptr : "", n, (int)n, want);
    cr_assert(n == 0 || memcmp(b->ptr, want, n) == 0, "%s: got '%.*s', want '%.*s'", what,
              (int)b->len, b->ptr, (int)n, want);
    rbuf_consume(b, b->len);
}

#define EXPECT(b, lit, what) expect_bytes((b), lit, sizeof(lit) - 1, what)

Test(resp_enc, simple_types)
{
    struct rbuf b;

    rbuf_init(&b);
    resp_simple(&b, "OK");
    EXPECT(&b, "+OK\r\n", "simple");
    resp_simple(&b, "a\r\nb");
    EXPECT(&b, "+a  b\r\n", "simple with CRLF");
    resp_error(&b, "ERR unknown command");
    EXPECT(&b, "-ERR unknown command\r\n", "error");
    resp_error(&b, "-WRONGTYPE x");
    EXPECT(&b, "-WRONGTYPE x\r\n", "error with dash");
    resp_error(&b, "ERR bad\r\n+OK");
    EXPECT(&b, "-ERR bad  +OK\r\n", "error cannot inject a reply");
    resp_errorf(&b, "ERR wrong number of arguments for '%s' command", "get");
    EXPECT(&b, "-ERR wrong number of arguments for 'get' command\r\n", "errorf");
    resp_bulk(&b, "foo", 3);
    EXPECT(&b, "$3\r\nfoo\r\n", "bulk");
    resp_bulk(&b, "", 0);
    EXPECT(&b, "$0\r\n\r\n", "empty bulk");
    resp_bulk(&b, "a\0\r\n", 4);
    EXPECT(&b, "$4\r\na\0\r\n\r\n", "binary bulk");
    resp_bulk_cstr(&b, "hello");
    EXPECT(&b, "$5\r\nhello\r\n", "bulk cstr");
    resp_array(&b, 0);
    EXPECT(&b, "*0\r\n", "empty array");
    resp_array(&b, 12345);
    EXPECT(&b, "*12345\r\n", "array");
    rbuf_deinit(&b);
}

Test(resp_enc, errorf_long)
{
    struct rbuf b;
    char big[1000];
    char want[1100];
    int n;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    rbuf_init(&b);
    resp_errorf(&b, "ERR %s!", big);
    n = snprintf(want, sizeof(want), "-ERR %s!\r\n", big);
    expect_bytes(&b, want, (size_t)n, "long errorf");
    rbuf_deinit(&b);
}

/* Each RESP3 type and its RESP2 fallback. */
Test(resp_enc, resp2_and_resp3_forms)
{
    struct rbuf b;

    rbuf_init(&b);
    resp_null(&b, RESP2);
    EXPECT(&b, "$-1\r\n", "null 2");
    resp_null(&b, RESP3);
    EXPECT(&b, "_\r\n", "null 3");
    resp_null_array(&b, RESP2);
    EXPECT(&b, "*-1\r\n", "null array 2");
    resp_null_array(&b, RESP3);
    EXPECT(&b, "_\r\n", "null array 3");
    resp_map(&b, RESP2, 3);
    EXPECT(&b, "*6\r\n", "map 2");
    resp_map(&b, RESP3, 3);
    EXPECT(&b, "%3\r\n", "map 3");
    resp_set(&b, RESP2, 4);
    EXPECT(&b, "*4\r\n", "set 2");
    resp_set(&b, RESP3, 4);
    EXPECT(&b, "~4\r\n", "set 3");
    resp_bool(&b, RESP2, true);
    EXPECT(&b, ":1\r\n", "true 2");
    resp_bool(&b, RESP2, false);
    EXPECT(&b, ":0\r\n", "false 2");
    resp_bool(&b, RESP3, true);
    EXPECT(&b, "#t\r\n", "true 3");
    resp_bool(&b, RESP3, false);
    EXPECT(&b, "#f\r\n", "false 3");
    resp_verbatim(&b, RESP2, "ab\r\nc", 5);
    EXPECT(&b, "$5\r\nab\r\nc\r\n", "verbatim 2");
    resp_verbatim(&b, RESP3, "ab\r\nc", 5);
    EXPECT(&b, "=9\r\ntxt:ab\r\nc\r\n", "verbatim 3");
    resp_verbatim(&b, RESP3, "", 0);
    EXPECT(&b, "=4\r\ntxt:\r\n", "empty verbatim 3");
    rbuf_deinit(&b);
}

Test(resp_enc, doubles)
{
    static const struct {
        double d;
        const char *text;
    } cases[] = {
        { 0.0, "0" },
        { -0.0, "-0" },
        { 1.5, "1.5" },
        { 3.0, "3" },
        { -2.25, "-2.25" },
        { 0.1, "0.10000000000000001" },
        { 1e300, "1.0000000000000001e+300" },
        { 123456789012345678.0, "1.2345678901234568e+17" },
    };
    struct rbuf b;
    char want[64];
    int n;

    rbuf_init(&b);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        resp_double(&b, RESP3, cases[i].d);
        n = snprintf(want, sizeof(want), ",%s\r\n", cases[i].text);
        expect_bytes(&b, want, (size_t)n, cases[i].text);
        resp_double(&b, RESP2, cases[i].d);
        n = snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(cases[i].text), cases[i].text);
        expect_bytes(&b, want, (size_t)n, cases[i].text);
        /* "%.17g" round-trips. */
        cr_assert_eq(strtod(cases[i].text, NULL), cases[i].d);
    }
    resp_double(&b, RESP3, INFINITY);
    EXPECT(&b, ",inf\r\n", "inf 3");
    resp_double(&b, RESP3, -INFINITY);
    EXPECT(&b, ",-inf\r\n", "-inf 3");
    resp_double(&b, RESP3, NAN);
    EXPECT(&b, ",nan\r\n", "nan 3");
    resp_double(&b, RESP3, -NAN);
    EXPECT(&b, ",nan\r\n", "-nan 3");
    resp_double(&b, RESP2, INFINITY);
    EXPECT(&b, "$3\r\ninf\r\n", "inf 2");
    resp_double(&b, RESP2, -INFINITY);
    EXPECT(&b, "$4\r\n-inf\r\n", "-inf 2");
    rbuf_deinit(&b);
}

/* The hand-written integer formatting against printf, at the edges and on
 * random values of every magnitude. */
Test(resp_enc, integers)
{
    static const int64_t edges[] = { 0, 1, -1, 9, 10, 99, 100, -99, -100, 999, 1000,
                                     INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
                                     4294967296LL, -4294967296LL, 1000000000000000000LL };
    unsigned long long x = 88172645463325252ULL;
    struct rbuf b;
    char want[32];
    int n;

    rbuf_init(&b);
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        resp_int(&b, edges[i]);
        n = snprintf(want, sizeof(want), ":%lld\r\n", (long long)edges[i]);
        expect_bytes(&b, want, (size_t)n, want);
    }
    for (int i = 0; i < 20000; i++) {
        int64_t v;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Shift by a random amount so short numbers are as common as long. */
        v = (int64_t)(x >> (x % 64));
        if (i & 1)
            v = -v;
        resp_int(&b, v);
        n = snprintf(want, sizeof(want), ":%lld\r\n", (long long)v);
        expect_bytes(&b, want, (size_t)n, want);
    }
    rbuf_deinit(&b);
}

Test(resp_enc, rbuf_basics)
{
    struct rbuf b;
    char *data;
    size_t len;

    rbuf_init(&b);
    cr_assert_null(b.ptr);
    cr_assert_eq(b.len, 0);
    rbuf_consume(&b, 0);
    cr_assert_eq(rbuf_append(&b, "", 0), 0);
    /* Growth by doubling keeps every byte. */
    for (int i = 0; i < 10000; i++) {
        char c = (char)('a' + i % 26);

        cr_assert_eq(rbuf_append(&b, &c, 1), 0);
    }
    cr_assert_eq(b.len, 10000);
    cr_assert_geq(b.cap, b.len);
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(b.ptr[i], (char)('a' + i % 26));
    rbuf_consume(&b, 26 * 300);
    cr_assert_eq(b.len, 10000 - 26 * 300);
    cr_assert_eq(b.ptr[0], 'a');
    cr_assert_eq(rbuf_reserve(&b, 100000), 0);
    cr_assert_geq(b.cap - b.len, 100000);
    data = rbuf_steal(&b, &len);
    cr_assert_eq(len, 10000 - 26 * 300);
    cr_assert_eq(data[1], 'b');
    cr_assert_null(b.ptr);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.cap, 0);
    free(data);
    rbuf_deinit(&b);
}

/* Over the hard cap: the call fails, oom is set, and the buffer keeps
 * exactly the replies that were appended before (each reply is whole). */
Test(resp_enc, hard_cap_and_atomic_replies)
{
    struct rbuf b;

    rbuf_init(&b);
    resp_simple(&b, "OK");
    cr_assert_eq(rbuf_reserve(&b, RBUF_MAX_CAP), -1);
    cr_assert(b.oom);
    cr_assert_eq(b.len, 5);
    b.oom = false;
    /* A bulk whose length alone exceeds the cap (the pointer is never read). */
    resp_bulk(&b, "x", RBUF_MAX_CAP + 1);
    cr_assert(b.oom);
    cr_assert_eq(b.len, 5);
    b.oom = false;
    resp_verbatim(&b, RESP3, "x", SIZE_MAX - 2);
    cr_assert(b.oom);
    cr_assert_eq(b.len, 5);
    cr_assert(memcmp(b.ptr, "+OK\r\n", 5) == 0);
    rbuf_deinit(&b);
}

/* Replies the encoder writes as a command are parsed back by resp.c: the
 * two halves agree on the framing of every length. */
Test(resp_enc, bulk_lengths_parse_back)
{
    struct rbuf b;
    struct resp_parser p;
    struct resp_cmd cmd;
    size_t used;
    char *data = malloc(70000);

    cr_assert_not_null(data);
    for (size_t i = 0; i < 70000; i++)
        data[i] = (char)(i * 31 + 7);
    cr_assert_eq(resp_parser_init(&p, NULL), 0);
    for (size_t n = 0; n < 70000; n = n < 300 ? n + 1 : n * 3 / 2) {
        rbuf_init(&b);
        resp_array(&b, 2);
        resp_bulk(&b, "k", 1);
        resp_bulk(&b, data, n);
        cr_assert_eq(resp_parse(&p, b.ptr, b.len, &cmd, &used, NULL), RESP_OK);
        cr_assert_eq(used, b.len);
        cr_assert_eq(cmd.argc, 2);
        cr_assert_eq(cmd.argv[1].len, n);
        cr_assert(n == 0 || memcmp(cmd.argv[1].ptr, data, n) == 0);
        rbuf_deinit(&b);
    }
    resp_parser_deinit(&p);
    free(data);
}

/* resp_command (the clients' encoder) must produce exactly what the
 * request parser reads back, binary arguments included. */
Test(resp_enc, command_round_trips_through_the_parser)
{
    const char *argv[] = {"SET", "k\r\n\0x", "", "v"};
    const size_t argvlen[] = {3, 5, 0, 1};
    struct rbuf b;
    rbuf_init(&b);
    cr_assert_eq(resp_command(&b, 4, argv, argvlen), 0);
    const char want[] = "*4\r\n$3\r\nSET\r\n$5\r\nk\r\n\0x\r\n$0\r\n\r\n$1\r\nv\r\n";
    cr_assert_eq(b.len, sizeof want - 1);
    cr_assert_eq(memcmp(b.ptr, want, b.len), 0);

    struct resp_parser p;
    cr_assert_eq(resp_parser_init(&p, NULL), 0);
    struct resp_cmd cmd;
    size_t used = 0;
    cr_assert_eq(resp_parse(&p, b.ptr, b.len, &cmd, &used, NULL), RESP_OK);
    cr_assert_eq(used, b.len);
    cr_assert_eq(cmd.argc, 4);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(cmd.argv[i].len, argvlen[i]);
        cr_assert_eq(memcmp(cmd.argv[i].ptr, argv[i], argvlen[i]), 0);
    }
    resp_parser_deinit(&p);

    /* NULL lengths: NUL-terminated strings. An empty command is refused
     * and leaves the buffer as it was. */
    size_t before = b.len;
    const char *ping[] = {"PING"};
    cr_assert_eq(resp_command(&b, 1, ping, NULL), 0);
    cr_assert_eq(b.len - before, sizeof "*1\r\n$4\r\nPING\r\n" - 1);
    cr_assert_eq(memcmp(b.ptr + before, "*1\r\n$4\r\nPING\r\n", b.len - before), 0);
    before = b.len;
    cr_assert_eq(resp_command(&b, 0, ping, NULL), -1);
    cr_assert_eq(b.len, before);
    rbuf_deinit(&b);
}
