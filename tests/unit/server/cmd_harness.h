/* cmd_harness.h — runs string and key commands against a real kvmap through
 * a hand-built cmd_ctx, the way the dispatcher does (arity, then exec), and
 * checks reply bytes exactly. Included by one test file per executable; the
 * state below is that executable's. Single-threaded: the test thread owns
 * the map. */
#ifndef SKV_TEST_CMD_HARNESS_H
#define SKV_TEST_CMD_HARNESS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"

#define NOW 1700000000000LL

static struct mem_acct macct;
static struct kvmap *db;
static struct rbuf out;
static int64_t now_ms;
static int proto;

static void setup(void)
{
    memset(&macct, 0, sizeof macct);
    db = kvmap_create(&macct);
    cr_assert_not_null(db);
    rbuf_init(&out);
    now_ms = NOW;
    proto = RESP2;
}

static void teardown(void)
{
    kvmap_destroy(db);
    rbuf_deinit(&out);
}

static const struct cmd_def *find_def(const char *name, size_t len)
{
    for (size_t i = 0; i < cmd_string_ndefs; i++) {
        if (strlen(cmd_string_defs[i].name) == len && !strncasecmp(cmd_string_defs[i].name, name, len))
            return &cmd_string_defs[i];
    }
    for (size_t i = 0; i < cmd_keys_ndefs; i++) {
        if (strlen(cmd_keys_defs[i].name) == len && !strncasecmp(cmd_keys_defs[i].name, name, len))
            return &cmd_keys_defs[i];
    }
    return NULL;
}

/* Run one command the way the dispatcher does: arity first, then exec. */
static void exec_argv(size_t argc, const struct resp_arg *argv)
{
    const struct cmd_def *d = find_def(argv[0].ptr, argv[0].len);
    cr_assert_not_null(d, "unknown command %.*s", (int)argv[0].len, argv[0].ptr);
    if (!cmd_arity_ok(d, argc)) {
        resp_errorf(&out, "ERR wrong number of arguments for '%s' command", d->name);
        return;
    }
    struct cmd_ctx c = {
        .db = db, .proto = proto, .argc = argc, .argv = argv, .out = &out, .now_ms = now_ms,
    };
    d->exec(&c);
}

/* Arguments as C strings, NULL-terminated. */
static void exec_strs(const char *const *s)
{
    struct resp_arg argv[16];
    size_t n = 0;
    for (; s[n]; n++) {
        cr_assert_lt(n, 16);
        argv[n].ptr = s[n];
        argv[n].len = strlen(s[n]);
    }
    exec_argv(n, argv);
}

static void escape(char *dst, size_t cap, const char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r')
            o += (size_t)snprintf(dst + o, cap - o, "\\r");
        else if (ch == '\n')
            o += (size_t)snprintf(dst + o, cap - o, "\\n");
        else if (ch < 32 || ch > 126)
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", ch);
        else
            dst[o++] = (char)ch;
    }
    dst[o] = '\0';
}

/* The reply bytes must be exactly want[0..wlen); then they are dropped. */
static void check_reply(const char *want, size_t wlen, const char *what)
{
    char got_s[512], want_s[512];
    bool same = out.len == wlen && memcmp(out.ptr, want, wlen) == 0;
    if (!same) {
        escape(got_s, sizeof got_s, out.ptr, out.len);
        escape(want_s, sizeof want_s, want, wlen);
        cr_assert(same, "%s: got \"%s\", want \"%s\"", what, got_s, want_s);
    }
    rbuf_consume(&out, out.len);
}

#define RUN(...) exec_strs((const char *const[]){__VA_ARGS__, NULL})
/* EXPECT("reply bytes", "cmd", "arg", ...): want may contain NUL bytes. */
#define EXPECT(want, ...)                                   \
    do {                                                    \
        RUN(__VA_ARGS__);                                   \
        check_reply(want, sizeof(want) - 1, #__VA_ARGS__); \
    } while (0)

#define NOTINT "-ERR value is not an integer or out of range\r\n"
#define SYNTAX "-ERR syntax error\r\n"

#endif
