/* test_resp.c — unit tests of the RESP request parser (protocol/resp.c):
 * table-driven cases, every input split at every byte, limits at -1/0/+1,
 * hostile input, pipelines and encode→parse round trips. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/resp.h"
#include "protocol/resp_enc.h"

#define MAX_ARGS 8

/* A string literal with its length, so cases can hold NUL bytes. */
#define S(lit) lit, sizeof(lit) - 1

struct arg_want {
    const char *ptr;
    size_t len;
};
#define A(lit) { S(lit) }

/* One table case: input, and what one resp_parse call on all of it yields. */
struct pcase {
    const char *name;
    const char *in;
    size_t in_len;
    enum resp_status st;
    size_t used;            /* for RESP_OK */
    size_t argc;            /* for RESP_OK */
    struct arg_want argv[MAX_ARGS];
    const char *err;        /* for errors */
};

static const char *status_name(enum resp_status st)
{
    switch (st) {
    case RESP_OK: return "OK";
    case RESP_AGAIN: return "AGAIN";
    case RESP_EPROTO: return "EPROTO";
    case RESP_ETOOBIG: return "ETOOBIG";
    }
    return "?";
}

/* Parse buf[0..n) from a fresh heap copy, so that views into a buffer the
 * caller has since freed or moved are caught by ASan. The copy is left in
 * *copy for the caller to free after checking the views. */
static enum resp_status parse_copy(struct resp_parser *p, const char *buf, size_t n,
                                   char **copy, struct resp_cmd *cmd, size_t *used,
                                   size_t *need)
{
    /* malloc(0) may return NULL; one spare byte keeps the copy real. */
    *copy = malloc(n + 1);
    cr_assert_not_null(*copy);
    memcpy(*copy, buf, n);
    return resp_parse(p, *copy, n, cmd, used, need);
}

/* Check a final (non-AGAIN) result against the case. */
static void check_result(const struct pcase *c, const struct resp_parser *p,
                         enum resp_status st, const struct resp_cmd *cmd, size_t used,
                         const char *buf, const char *how)
{
    cr_assert_eq(st, c->st, "%s (%s): status %s, want %s (err %s)", c->name, how,
                 status_name(st), status_name(c->st), p->err ? p->err : "-");
    if (st == RESP_AGAIN) {
        cr_assert_eq(used, 0, "%s (%s): used %zu on AGAIN", c->name, how, used);
        return;
    }
    if (st != RESP_OK) {
        cr_assert_eq(used, 0, "%s (%s): used %zu on error", c->name, how, used);
        cr_assert_not_null(p->err, "%s (%s): no error text", c->name, how);
        cr_assert_str_eq(p->err, c->err, "%s (%s): error '%s', want '%s'", c->name, how,
                         p->err, c->err);
        return;
    }
    cr_assert_eq(used, c->used, "%s (%s): used %zu, want %zu", c->name, how, used, c->used);
    cr_assert_eq(cmd->argc, c->argc, "%s (%s): argc %zu, want %zu", c->name, how,
                 cmd->argc, c->argc);
    for (size_t i = 0; i < c->argc; i++) {
        const struct resp_arg *a = &cmd->argv[i];

        cr_assert_eq(a->len, c->argv[i].len, "%s (%s): arg %zu length %zu, want %zu",
                     c->name, how, i, a->len, c->argv[i].len);
        cr_assert(a->len == 0 || memcmp(a->ptr, c->argv[i].ptr, a->len) == 0,
                  "%s (%s): arg %zu bytes differ", c->name, how, i);
        /* Multibulk arguments are zero-copy views into the caller's buffer. */
        if (buf[0] == '*' && a->len > 0)
            cr_assert(a->ptr >= buf && a->ptr + a->len <= buf + used,
                      "%s (%s): arg %zu not a view into the buffer", c->name, how, i);
    }
}

/* Run one case: all at once; split in two at every byte; byte by byte. */
static void run_case(const struct pcase *c, const struct resp_limits *lim)
{
    struct resp_parser p;
    struct resp_cmd cmd;
    size_t used, need;
    enum resp_status st;
    char *copy, *copy2;
    char how[64];

    cr_assert_eq(resp_parser_init(&p, lim), 0);
    st = parse_copy(&p, c->in, c->in_len, &copy, &cmd, &used, NULL);
    check_result(c, &p, st, &cmd, used, copy, "whole");
    free(copy);
    resp_parser_deinit(&p);

    /* A prefix yields AGAIN (or, for an error, maybe the error already);
     * the full input after it yields the same as parsing it at once. */
    for (size_t k = 0; k < c->in_len; k++) {
        cr_assert_eq(resp_parser_init(&p, lim), 0);
        snprintf(how, sizeof(how), "split at %zu", k);
        st = parse_copy(&p, c->in, k, &copy, &cmd, &used, &need);
        if (st != RESP_AGAIN) {
            cr_assert(c->st != RESP_OK ? true : k >= c->used,
                      "%s (%s): prefix gave %s", c->name, how, status_name(st));
            check_result(c, &p, st, &cmd, used, copy, how);
            free(copy);
            resp_parser_deinit(&p);
            continue;
        }
        cr_assert_eq(used, 0, "%s (%s): used %zu on AGAIN", c->name, how, used);
        if (c->st == RESP_OK)
            cr_assert(k + need <= c->used, "%s (%s): need %zu overshoots", c->name, how, need);
        /* The second call sees a different buffer: offsets must survive. */
        st = parse_copy(&p, c->in, c->in_len, &copy2, &cmd, &used, NULL);
        free(copy);
        check_result(c, &p, st, &cmd, used, copy2, how);
        free(copy2);
        resp_parser_deinit(&p);
    }

    /* One byte more per call, each time in a new buffer. */
    cr_assert_eq(resp_parser_init(&p, lim), 0);
    st = RESP_AGAIN;
    for (size_t k = 0; k <= c->in_len; k++) {
        st = parse_copy(&p, c->in, k, &copy, &cmd, &used, &need);
        if (st != RESP_AGAIN || k == c->in_len) {
            check_result(c, &p, st, &cmd, used, copy, "byte by byte");
            free(copy);
            break;
        }
        free(copy);
    }
    resp_parser_deinit(&p);
}

static void run_table(const struct pcase *cases, size_t n, const struct resp_limits *lim)
{
    for (size_t i = 0; i < n; i++)
        run_case(&cases[i], lim);
}

#define N(arr) (sizeof(arr) / sizeof((arr)[0]))

static const char e_mbulk[] = "Protocol error: invalid multibulk length";
static const char e_bulk[] = "Protocol error: invalid bulk length";
static const char e_quotes[] = "Protocol error: unbalanced quotes in request";
static const char e_inline_big[] = "Protocol error: too big inline request";
static const char e_mbulk_big[] = "Protocol error: too big mbulk count string";
static const char e_bulk_big[] = "Protocol error: too big bulk count string";

static const struct pcase multibulk_cases[] = {
    { "ping", S("*1\r\n$4\r\nPING\r\n"), RESP_OK, 14, 1, { A("PING") }, NULL },
    { "set", S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n"), RESP_OK, 31, 3,
      { A("SET"), A("k"), A("value") }, NULL },
    { "empty bulk", S("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"), RESP_OK, 20, 2, { A("ECHO"), A("") }, NULL },
    { "binary bulk", S("*1\r\n$6\r\na\0\r\n\nb\r\n"), RESP_OK, 16, 1, { A("a\0\r\n\nb") }, NULL },
    { "zero count", S("*0\r\n"), RESP_OK, 4, 0, { { NULL, 0 } }, NULL },
    { "minus one count", S("*-1\r\n"), RESP_OK, 5, 0, { { NULL, 0 } }, NULL },
    { "negative count is empty (Redis)", S("*-5\r\n"), RESP_OK, 5, 0, { { NULL, 0 } }, NULL },
    { "trailing garbage left for next call", S("*1\r\n$3\r\nfoo\r\nGARBAGE"), RESP_OK, 13, 1,
      { A("foo") }, NULL },
    { "CRLF after bulk not checked (Redis)", S("*1\r\n$4\r\nPINGxx"), RESP_OK, 14, 1, { A("PING") }, NULL },
    { "LF after header CR not checked (Redis)", S("*1\rX$4\r\nPING\r\n"), RESP_OK, 14, 1,
      { A("PING") }, NULL },
    { "abc count", S("*abc\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_mbulk },
    { "empty count", S("*\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_mbulk },
    { "leading zero count", S("*01\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_mbulk },
    { "plus count", S("*+1\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_mbulk },
    { "minus zero count", S("*-0\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_mbulk },
    { "count 2^64", S("*18446744073709551616\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_mbulk },
    { "count 2^63", S("*9223372036854775808\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_mbulk },
    { "count 2^63-1 over limit", S("*9223372036854775807\r\n"), RESP_ETOOBIG, 0, 0, { { NULL, 0 } },
      e_mbulk },
    { "count 123BOGUS", S("*123BOGUS\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_mbulk },
    /* 18 digits are read in one pass (quick_line_number), 19 the general
     * way: the same answers either side of that line. */
    { "count 18 digits over limit", S("*999999999999999999\r\n"), RESP_ETOOBIG, 0, 0,
      { { NULL, 0 } }, e_mbulk },
    { "count 19 digits over limit", S("*1000000000000000000\r\n"), RESP_ETOOBIG, 0, 0,
      { { NULL, 0 } }, e_mbulk },
    { "bulk 18 digits over limit", S("*1\r\n$999999999999999999\r\n"), RESP_ETOOBIG, 0, 0,
      { { NULL, 0 } }, e_bulk },
    { "bulk 19 digits over limit", S("*1\r\n$1000000000000000000\r\n"), RESP_ETOOBIG, 0, 0,
      { { NULL, 0 } }, e_bulk },
    { "bulk 20 digits", S("*1\r\n$99999999999999999999\r\n"), RESP_EPROTO, 0, 0,
      { { NULL, 0 } }, e_bulk },
    { "bulk -1", S("*1\r\n$-1\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_bulk },
    { "bulk 2^64", S("*1\r\n$18446744073709551616\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_bulk },
    { "bulk leading zero", S("*1\r\n$01\r\nx\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_bulk },
    { "bulk space", S("*1\r\n$ 4\r\nPING\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_bulk },
    { "bulk trailing space", S("*1\r\n$4 \r\nPING\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_bulk },
    { "bulk empty", S("*1\r\n$\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_bulk },
    { "expected $", S("*1\r\nfoo\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } },
      "Protocol error: expected '$', got 'f'" },
    { "expected $ got CR", S("*1\r\n\r\n\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } },
      "Protocol error: expected '$', got ' '" },
    { "expected $ got CR after an arg", S("*2\r\n$1\r\na\r\n\r\nX"), RESP_EPROTO, 0, 0,
      { { NULL, 0 } }, "Protocol error: expected '$', got ' '" },
    { "expected $ second arg", S("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"), RESP_EPROTO, 0, 0,
      { { NULL, 0 } }, "Protocol error: expected '$', got 'f'" },
    { "short bulk", S("*1\r\n$3\r\nab"), RESP_AGAIN, 0, 0, { { NULL, 0 } }, NULL },
    { "header only", S("*1048576\r\n"), RESP_AGAIN, 0, 0, { { NULL, 0 } }, NULL },
    { "no terminator", S("*abc"), RESP_AGAIN, 0, 0, { { NULL, 0 } }, NULL },
};

static const struct pcase inline_cases[] = {
    { "inline ping", S("PING\r\n"), RESP_OK, 6, 1, { A("PING") }, NULL },
    { "inline LF only", S("PING\n"), RESP_OK, 5, 1, { A("PING") }, NULL },
    { "inline args", S("SET  k\tv \r\n"), RESP_OK, 11, 3, { A("SET"), A("k"), A("v") }, NULL },
    { "inline empty CRLF", S("\r\n"), RESP_OK, 2, 0, { { NULL, 0 } }, NULL },
    { "inline empty LF", S("\n"), RESP_OK, 1, 0, { { NULL, 0 } }, NULL },
    { "inline blanks", S("  \t \r\n"), RESP_OK, 6, 0, { { NULL, 0 } }, NULL },
    { "http", S("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), RESP_OK, 16, 3,
      { A("GET"), A("/"), A("HTTP/1.1") }, NULL },
    { "double quotes", S("ECHO \"a b\"\r\n"), RESP_OK, 12, 2, { A("ECHO"), A("a b") }, NULL },
    { "escapes", S("ECHO \"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\n"), RESP_OK, 24, 2,
      { A("ECHO"), A("\n\r\t\b\a\\\"q") }, NULL },
    { "hex escapes", S("ECHO \"a\\x41\\x00\\xfF\"\n"), RESP_OK, 21, 2,
      { A("ECHO"), A("aA\0\xff") }, NULL },
    { "short hex is literal", S("ECHO \"\\x4\"\n"), RESP_OK, 11, 2, { A("ECHO"), A("x4") }, NULL },
    { "single quotes", S("ECHO 'a\\'b\\n'\n"), RESP_OK, 14, 2, { A("ECHO"), A("a'b\\n") }, NULL },
    { "empty quotes", S("ECHO \"\" ''\n"), RESP_OK, 11, 3, { A("ECHO"), A(""), A("") }, NULL },
    { "quote inside word", S("ECHO a\"b c\"\n"), RESP_OK, 12, 2, { A("ECHO"), A("ab c") }, NULL },
    { "VT inside word, skipped between", S("ECHO \vx a\vb\n"), RESP_OK, 12, 3,
      { A("ECHO"), A("x"), A("a\vb") }, NULL },
    { "NUL ends the line", S("ECHO a\0b c\n"), RESP_OK, 11, 2, { A("ECHO"), A("a") }, NULL },
    { "lone CR separates", S("A\rB\n"), RESP_OK, 4, 2, { A("A"), A("B") }, NULL },
    { "pipelined inline", S("PING\r\nPING\r\n"), RESP_OK, 6, 1, { A("PING") }, NULL },
    { "unbalanced double", S("ECHO \"abc\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_quotes },
    { "unbalanced single", S("ECHO 'abc\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_quotes },
    { "quote then char", S("ECHO \"a\"b\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_quotes },
    { "squote then char", S("ECHO 'a'b\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_quotes },
    { "escaped closing quote", S("ECHO \"a\\\"\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_quotes },
    { "NUL inside quotes", S("ECHO \"a\0\"\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_quotes },
    { "no newline yet", S("PING"), RESP_AGAIN, 0, 0, { { NULL, 0 } }, NULL },
};

Test(resp, multibulk_table)
{
    run_table(multibulk_cases, N(multibulk_cases), NULL);
}

Test(resp, inline_table)
{
    run_table(inline_cases, N(inline_cases), NULL);
}

/* Small limits so each can be probed at -1, 0 and +1. */
static const struct resp_limits small = { .max_inline = 10, .max_multibulk = 3, .max_bulk = 5 };

static const struct pcase limit_cases[] = {
    /* Inline: at most 10 bytes before the '\n' (a '\r' counts). */
    { "inline 9", S("123456789\n"), RESP_OK, 10, 1, { A("123456789") }, NULL },
    { "inline 10", S("1234567890\n"), RESP_OK, 11, 1, { A("1234567890") }, NULL },
    { "inline 10 with CR", S("123456789\r\n"), RESP_OK, 11, 1, { A("123456789") }, NULL },
    { "inline 11", S("12345678901\n"), RESP_ETOOBIG, 0, 0, { { NULL, 0 } }, e_inline_big },
    { "inline 11 no LF", S("12345678901"), RESP_ETOOBIG, 0, 0, { { NULL, 0 } }, e_inline_big },
    { "inline 10 no LF", S("1234567890"), RESP_AGAIN, 0, 0, { { NULL, 0 } }, NULL },
    /* Multibulk count: 3 at most. */
    { "count 2", S("*2\r\n$1\r\na\r\n$1\r\nb\r\n"), RESP_OK, 18, 2, { A("a"), A("b") }, NULL },
    { "count 3", S("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"), RESP_OK, 25, 3,
      { A("a"), A("b"), A("c") }, NULL },
    { "count 4", S("*4\r\n$1\r\na\r\n"), RESP_ETOOBIG, 0, 0, { { NULL, 0 } }, e_mbulk },
    /* Inline arguments live in the same array and obey the same cap. */
    { "inline 3 args", S("a b c\n"), RESP_OK, 6, 3, { A("a"), A("b"), A("c") }, NULL },
    { "inline 4 args", S("a b c d\n"), RESP_ETOOBIG, 0, 0, { { NULL, 0 } }, e_mbulk },
    /* Bulk length: 5 at most. */
    { "bulk 4", S("*1\r\n$4\r\nabcd\r\n"), RESP_OK, 14, 1, { A("abcd") }, NULL },
    { "bulk 5", S("*1\r\n$5\r\nabcde\r\n"), RESP_OK, 15, 1, { A("abcde") }, NULL },
    { "bulk 6", S("*1\r\n$6\r\nabcdef\r\n"), RESP_ETOOBIG, 0, 0, { { NULL, 0 } }, e_bulk },
    /* Count and length lines: at most max_inline bytes before the '\r'. */
    { "mbulk line 10", S("*000000003\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_mbulk },
    { "mbulk line 11", S("*0000000003\r\n"), RESP_ETOOBIG, 0, 0, { { NULL, 0 } }, e_mbulk_big },
    { "mbulk line 11 no CR", S("*0000000003"), RESP_ETOOBIG, 0, 0, { { NULL, 0 } }, e_mbulk_big },
    { "mbulk line 10 no CR", S("*000000000"), RESP_AGAIN, 0, 0, { { NULL, 0 } }, NULL },
    { "bulk line 10", S("*1\r\n$000000001\r\n"), RESP_EPROTO, 0, 0, { { NULL, 0 } }, e_bulk },
    { "bulk line 11", S("*1\r\n$0000000001\r\n"), RESP_ETOOBIG, 0, 0, { { NULL, 0 } }, e_bulk_big },
    { "bulk line 11 no CR", S("*1\r\n$0000000001"), RESP_ETOOBIG, 0, 0, { { NULL, 0 } }, e_bulk_big },
};

Test(resp, limits_small)
{
    run_table(limit_cases, N(limit_cases), &small);
}

Test(resp, limits_default_inline)
{
    struct resp_limits lim;
    struct resp_parser p;
    struct resp_cmd cmd;
    size_t used;
    size_t max;
    char *buf;

    resp_limits_default(&lim);
    cr_assert_eq(lim.max_inline, 65536);
    cr_assert_eq(lim.max_multibulk, 1048576);
    cr_assert_eq(lim.max_bulk, 512u * 1024 * 1024);
    max = lim.max_inline;
    buf = malloc(max + 2);
    cr_assert_not_null(buf);
    memset(buf, 'a', max + 2);
    cr_assert_eq(resp_parser_init(&p, NULL), 0);
    /* max bytes without a newline: still waiting; max + 1: refused. */
    cr_assert_eq(resp_parse(&p, buf, max, &cmd, &used, NULL), RESP_AGAIN);
    cr_assert_eq(resp_parse(&p, buf, max + 1, &cmd, &used, NULL), RESP_ETOOBIG);
    cr_assert_str_eq(p.err, e_inline_big);
    resp_parser_reset(&p);
    buf[max] = '\n';
    cr_assert_eq(resp_parse(&p, buf, max + 1, &cmd, &used, NULL), RESP_OK);
    cr_assert_eq(used, max + 1);
    cr_assert_eq(cmd.argc, 1);
    cr_assert_eq(cmd.argv[0].len, max);
    resp_parser_deinit(&p);
    free(buf);
}

/* A client that must still authenticate: Redis's 10 arguments and 16384
 * bytes, each at -1/0/+1, checked after the normal limits as Redis does;
 * inline commands keep only their own limits. */
static enum resp_status parse_unauth(const char *in, size_t len, struct resp_parser *p,
                                     struct resp_cmd *cmd)
{
    size_t used;

    resp_parser_reset(p);
    p->unauth = true;
    return resp_parse(p, in, len, cmd, &used, NULL);
}

Test(resp, limits_unauthenticated)
{
    static const char e_unauth_mbulk[] = "Protocol error: unauthenticated multibulk length";
    static const char e_unauth_bulk[] = "Protocol error: unauthenticated bulk length";
    struct resp_parser p;
    struct resp_cmd cmd;
    char buf[16500];
    int n;

    cr_assert_eq(resp_parser_init(&p, NULL), 0);
    cr_assert_eq(parse_unauth(S("*11\r\n"), &p, &cmd), RESP_ETOOBIG);
    cr_assert_str_eq(p.err, e_unauth_mbulk);
    cr_assert_eq(parse_unauth(S("*2147483647\r\n"), &p, &cmd), RESP_ETOOBIG);
    cr_assert_str_eq(p.err, e_unauth_mbulk);
    cr_assert_eq(parse_unauth(S("*2147483648\r\n"), &p, &cmd), RESP_ETOOBIG);
    cr_assert_str_eq(p.err, e_mbulk);
    cr_assert_eq(parse_unauth(S("*10\r\n"), &p, &cmd), RESP_AGAIN);
    cr_assert_eq(parse_unauth(S("*9\r\n"), &p, &cmd), RESP_AGAIN);
    cr_assert_eq(parse_unauth(S("*1\r\n$16385\r\n"), &p, &cmd), RESP_ETOOBIG);
    cr_assert_str_eq(p.err, e_unauth_bulk);
    cr_assert_eq(parse_unauth(S("*1\r\n$600000000\r\n"), &p, &cmd), RESP_ETOOBIG);
    cr_assert_str_eq(p.err, e_bulk);
    cr_assert_eq(parse_unauth(S("*1\r\n$16383\r\n"), &p, &cmd), RESP_AGAIN);
    n = snprintf(buf, sizeof(buf), "*1\r\n$16384\r\n");
    memset(buf + n, 'x', 16384);
    memcpy(buf + n + 16384, "\r\n", 2);
    cr_assert_eq(parse_unauth(buf, (size_t)n + 16386, &p, &cmd), RESP_OK);
    cr_assert_eq(cmd.argc, 1);
    cr_assert_eq(cmd.argv[0].len, 16384);
    cr_assert_eq(parse_unauth(S("a b c d e f g h i j k l\n"), &p, &cmd), RESP_OK);
    cr_assert_eq(cmd.argc, 12);
    /* Authenticated: the normal limits only. */
    resp_parser_reset(&p);
    p.unauth = false;
    size_t used;
    cr_assert_eq(resp_parse(&p, S("*1\r\n$16385\r\n"), &cmd, &used, NULL), RESP_AGAIN);
    resp_parser_deinit(&p);
}

Test(resp, pipeline)
{
    static const char in[] = "*1\r\n$4\r\nPING\r\nECHO x\r\n\r\n*0\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$2\r\nab";
    static const size_t want_argc[] = { 1, 2, 0, 0, 2 };
    struct resp_parser p;
    struct resp_cmd cmd;
    size_t off = 0, used, n = 0;
    enum resp_status st;

    cr_assert_eq(resp_parser_init(&p, NULL), 0);
    while ((st = resp_parse(&p, in + off, sizeof(in) - 1 - off, &cmd, &used, NULL)) == RESP_OK) {
        cr_assert_lt(n, N(want_argc));
        cr_assert_eq(cmd.argc, want_argc[n], "command %zu: argc %zu", n, cmd.argc);
        cr_assert_gt(used, 0);
        off += used;
        n++;
    }
    cr_assert_eq(st, RESP_AGAIN);
    cr_assert_eq(n, N(want_argc));
    cr_assert_str_eq(in + off, "*1\r\n$2\r\nab");
    resp_parser_deinit(&p);
}

/* A 1 MB bulk arriving in 4 KB reads: the need hint is exact, the array is
 * not preallocated from the declared count, and the bytes are not
 * rescanned (pos only moves forward). */
Test(resp, big_bulk_incremental)
{
    const size_t vlen = 1 << 20;
    const char *hdr = "*1048576\r\n$1048576\r\n";
    size_t hlen = strlen(hdr);
    size_t total = hlen + vlen + 2;
    char *buf = malloc(total);
    struct resp_parser p;
    struct resp_cmd cmd;
    size_t used, need, last_pos = 0;
    enum resp_status st;

    cr_assert_not_null(buf);
    memcpy(buf, hdr, hlen);
    for (size_t i = 0; i < vlen; i++)
        buf[hlen + i] = (char)(i * 7);
    memcpy(buf + hlen + vlen, "\r\n", 2);
    cr_assert_eq(resp_parser_init(&p, NULL), 0);
    for (size_t k = hlen; k < total; k += 4096) {
        st = resp_parse(&p, buf, k, &cmd, &used, &need);
        cr_assert_eq(st, RESP_AGAIN);
        cr_assert_eq(need, total - k, "need %zu at %zu", need, k);
        cr_assert_eq(p.pos, hlen, "pos %zu", p.pos);
        cr_assert_geq(p.pos, last_pos);
        last_pos = p.pos;
    }
    /* The first argument arrived: one entry used, the array is small. */
    st = resp_parse(&p, buf, total, &cmd, &used, &need);
    cr_assert_eq(st, RESP_AGAIN);
    cr_assert_eq(p.got_args, 1);
    cr_assert_leq(p.argv_cap, 16, "argv_cap %zu: preallocated from the count", p.argv_cap);
    resp_parser_deinit(&p);
    free(buf);
}

/* Many arguments grow the array up to the count, and the next command gives
 * the memory back. */
Test(resp, argv_growth_and_shrink)
{
    const size_t n = 5000;
    struct rbuf b;
    struct resp_parser p;
    struct resp_cmd cmd;
    size_t used;

    rbuf_init(&b);
    resp_array(&b, n);
    for (size_t i = 0; i < n; i++) {
        char arg[16];
        int len = snprintf(arg, sizeof(arg), "%zu", i);

        resp_bulk(&b, arg, (size_t)len);
    }
    cr_assert(!b.oom);
    cr_assert_eq(resp_parser_init(&p, NULL), 0);
    cr_assert_eq(resp_parse(&p, b.ptr, b.len, &cmd, &used, NULL), RESP_OK);
    cr_assert_eq(cmd.argc, n);
    cr_assert_eq(used, b.len);
    cr_assert_eq(cmd.argv[4999].len, 4);
    cr_assert(memcmp(cmd.argv[4999].ptr, "4999", 4) == 0);
    cr_assert_geq(p.argv_cap, n);
    cr_assert_eq(resp_parse(&p, "PING\r\n", 6, &cmd, &used, NULL), RESP_OK);
    cr_assert_leq(p.argv_cap, 1024);
    resp_parser_deinit(&p);
    rbuf_deinit(&b);
}

/* After an error the caller may reset and parse a fresh buffer. */
Test(resp, reset_after_partial)
{
    struct resp_parser p;
    struct resp_cmd cmd;
    size_t used;

    cr_assert_eq(resp_parser_init(&p, NULL), 0);
    cr_assert_eq(resp_parse(&p, "*2\r\n$3\r\nGET\r\n$1", 16, &cmd, &used, NULL), RESP_AGAIN);
    cr_assert_gt(p.pos, 0);
    resp_parser_reset(&p);
    cr_assert_eq(resp_parse(&p, "PING\n", 5, &cmd, &used, NULL), RESP_OK);
    cr_assert_eq(cmd.argc, 1);
    resp_parser_deinit(&p);
}

static unsigned long long rng_state = 0x9E3779B97F4A7C15ULL;

/* xorshift64*: a fixed-seed generator, so failures reproduce. */
static unsigned long long rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

/* Random binary arguments, biased towards the bytes that matter. */
static size_t random_args(char args[][64], size_t *lens, size_t max_args)
{
    static const char special[] = { '\0', '\r', '\n', '$', '*', '"', '\'', '\\', ' ', 'x' };
    size_t argc = 1 + rnd() % max_args;

    for (size_t i = 0; i < argc; i++) {
        lens[i] = rnd() % 64;
        for (size_t j = 0; j < lens[i]; j++)
            args[i][j] = (rnd() & 1) ? special[rnd() % sizeof(special)] : (char)rnd();
    }
    return argc;
}

/* Encode random commands as multibulk with the encoder, pipeline them and
 * parse them back, the whole buffer and one byte at a time. */
Test(resp, roundtrip_multibulk)
{
    char args[4][MAX_ARGS][64];
    size_t lens[4][MAX_ARGS], argc[4];
    struct resp_parser p;
    struct resp_cmd cmd;

    cr_assert_eq(resp_parser_init(&p, NULL), 0);
    for (int iter = 0; iter < 300; iter++) {
        struct rbuf b;
        size_t off = 0, used, ncmd = 1 + rnd() % 4;

        rbuf_init(&b);
        for (size_t c = 0; c < ncmd; c++) {
            argc[c] = random_args(args[c], lens[c], MAX_ARGS);
            resp_array(&b, argc[c]);
            for (size_t i = 0; i < argc[c]; i++)
                resp_bulk(&b, args[c][i], lens[c][i]);
        }
        cr_assert(!b.oom);
        for (size_t c = 0; c < ncmd; c++) {
            enum resp_status st = RESP_AGAIN;

            /* Grow the visible part one byte at a time from this command's
             * start; AGAIN until it is complete. */
            for (size_t k = 0; off + k <= b.len; k++) {
                st = resp_parse(&p, b.ptr + off, k, &cmd, &used, NULL);
                if (st != RESP_AGAIN)
                    break;
            }
            cr_assert_eq(st, RESP_OK, "iter %d cmd %zu: %s", iter, c, status_name(st));
            cr_assert_eq(cmd.argc, argc[c]);
            for (size_t i = 0; i < argc[c]; i++) {
                cr_assert_eq(cmd.argv[i].len, lens[c][i]);
                cr_assert(memcmp(cmd.argv[i].ptr, args[c][i], lens[c][i]) == 0,
                          "iter %d cmd %zu arg %zu differs", iter, c, i);
            }
            off += used;
        }
        cr_assert_eq(off, b.len);
        rbuf_deinit(&b);
    }
    resp_parser_deinit(&p);
}

/* Encode random binary arguments as an inline line, every byte as \xHH in
 * double quotes, and check the splitter gives them back. */
Test(resp, roundtrip_inline_escapes)
{
    char args[MAX_ARGS][64];
    size_t lens[MAX_ARGS];
    struct resp_parser p;
    struct resp_cmd cmd;

    cr_assert_eq(resp_parser_init(&p, NULL), 0);
    for (int iter = 0; iter < 300; iter++) {
        char line[MAX_ARGS * (64 * 4 + 3) + 2];
        size_t n = 0, used;
        size_t argc = random_args(args, lens, MAX_ARGS);

        for (size_t i = 0; i < argc; i++) {
            line[n++] = '"';
            for (size_t j = 0; j < lens[i]; j++)
                n += (size_t)sprintf(line + n, "\\x%02x", (unsigned char)args[i][j]);
            line[n++] = '"';
            line[n++] = i + 1 < argc ? ' ' : '\r';
        }
        line[n++] = '\n';
        cr_assert_eq(resp_parse(&p, line, n, &cmd, &used, NULL), RESP_OK, "iter %d", iter);
        cr_assert_eq(used, n);
        cr_assert_eq(cmd.argc, argc);
        for (size_t i = 0; i < argc; i++) {
            cr_assert_eq(cmd.argv[i].len, lens[i]);
            cr_assert(memcmp(cmd.argv[i].ptr, args[i], lens[i]) == 0);
        }
    }
    resp_parser_deinit(&p);
}
