/* test_cli_format.c — shardkv-cli's argument splitting (redis-cli's
 * sdssplitargs rules) and reply printing in tty, raw and JSON forms. The
 * expected texts are what redis-cli 7.0.15 prints for the same replies
 * (checked by hand against a real redis-server). */
#include <criterion/criterion.h>
#include <string.h>

#include "client/cli_format.h"
#include "client/reply.h"

static void split_ok(const char *line, int want, const char *const *args, const size_t *lens)
{
    char **argv;
    size_t *l;
    int argc = cli_split_args(line, &argv, &l);
    cr_assert_eq(argc, want, "line [%s]", line);
    for (int i = 0; i < argc; i++) {
        cr_assert_eq(l[i], lens[i], "line [%s] arg %d", line, i);
        cr_assert_eq(memcmp(argv[i], args[i], lens[i]), 0, "line [%s] arg %d", line, i);
    }
    cli_free_args(argc, argv, l);
}

Test(split, plain_and_blank)
{
    split_ok("", 0, NULL, NULL);
    split_ok("   \t ", 0, NULL, NULL);
    const char *a[] = {"set", "k", "v"};
    size_t l[] = {3, 1, 1};
    split_ok("  set k\tv  \n", 3, a, l);
}

Test(split, double_quotes_and_escapes)
{
    const char *a[] = {"set", "a b", "x\ny\"\\\x01z", ""};
    size_t l[] = {3, 3, 7, 0};
    split_ok("set \"a b\" \"x\\ny\\\"\\\\\\x01z\" \"\"", 4, a, l);
    const char *b[] = {"\t\r\a\b", "q"};
    size_t lb[] = {4, 1};
    split_ok("\"\\t\\r\\a\\b\" \"\\q\"", 2, b, lb);
    /* \x with bad hex digits is a literal 'x' followed by the rest. */
    const char *c[] = {"xzz"};
    size_t lc[] = {3};
    split_ok("\"\\xzz\"", 1, c, lc);
    /* NUL through \x00 is binary-safe. */
    const char *d[] = {"a\0b"};
    size_t ld[] = {3};
    split_ok("\"a\\x00b\"", 1, d, ld);
}

Test(split, single_quotes)
{
    const char *a[] = {"it's", "a\\nb"};
    size_t l[] = {4, 4};
    split_ok("'it\\'s' 'a\\nb'", 2, a, l);
}

Test(split, errors)
{
    char **argv;
    size_t *l;
    cr_assert_eq(cli_split_args("set \"unterminated", &argv, &l), -1);
    cr_assert_eq(cli_split_args("set 'unterminated", &argv, &l), -1);
    cr_assert_eq(cli_split_args("set \"a\"b", &argv, &l), -1, "quote must end the arg");
    cr_assert_eq(cli_split_args("set 'a'b", &argv, &l), -1);
}

Test(split, quote_inside_word_starts_quoting)
{
    /* As in sdssplitargs, a"b c" is one argument "ab c". */
    const char *a[] = {"ab c"};
    size_t l[] = {4};
    split_ok("a\"b c\"", 1, a, l);
}

static struct skv_reply *parse(const char *s)
{
    struct reply_parser p;
    reply_parser_init(&p);
    reply_parser_feed(&p, s, strlen(s));
    struct skv_reply *r = NULL;
    cr_assert_eq(reply_parser_next(&p, &r), REPLY_OK, "%s", s);
    reply_parser_deinit(&p);
    return r;
}

static void check(const char *resp, const char *tty, const char *raw, const char *json)
{
    struct skv_reply *r = parse(resp);
    struct cli_buf b = {0};
    cli_format_tty(&b, r);
    cr_assert_str_eq(b.ptr ? b.ptr : "", tty, "tty of %s", resp);
    cli_buf_free(&b);
    cli_format_raw(&b, r);
    cr_assert_str_eq(b.ptr ? b.ptr : "", raw, "raw of %s", resp);
    cli_buf_free(&b);
    cli_format_json(&b, r);
    cr_assert_str_eq(b.ptr ? b.ptr : "", json, "json of %s", resp);
    cli_buf_free(&b);
    skv_reply_free(r);
}

Test(format, scalars)
{
    check("+OK\r\n", "OK\n", "OK\n", "\"OK\"");
    check(":42\r\n", "(integer) 42\n", "42\n", "42");
    check("$-1\r\n", "(nil)\n", "\n", "null");
    check("$1\r\nv\r\n", "\"v\"\n", "v\n", "\"v\"");
    check("-ERR unknown command 'bogus'\r\n", "(error) ERR unknown command 'bogus'\n",
          /* redis-cli --raw really ends an error with two newlines */
          "ERR unknown command 'bogus'\n\n", "error:\"ERR unknown command 'bogus'\"");
    check("$5\r\nx\"y\x01\n\r\n", "\"x\\\"y\\x01\\n\"\n", "x\"y\x01\n\n", "\"x\\\"y\\u0001\\n\"");
    check(",3.5\r\n", "(double) 3.5\n", "3.5\n", "3.5");
    check("#t\r\n", "(true)\n", "(true)\n", "true");
    check("_\r\n", "(nil)\n", "\n", "null");
}

Test(format, aggregates)
{
    check("*0\r\n", "(empty array)\n", "\n", "[]");
    /* redis-cli eval "return {1,{2,{'a','b'}},{}}" 0 */
    check("*3\r\n:1\r\n*2\r\n:2\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n*0\r\n",
          "1) (integer) 1\n2) 1) (integer) 2\n   2) 1) \"a\"\n      2) \"b\"\n3) (empty array)\n",
          "1\n2\na\nb\n\n", "[1,[2,[\"a\",\"b\"]],[]]");
    /* Ten or more elements widen the number column. */
    check("*10\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n:7\r\n:8\r\n:9\r\n*1\r\n:10\r\n",
          " 1) (integer) 1\n 2) (integer) 2\n 3) (integer) 3\n 4) (integer) 4\n"
          " 5) (integer) 5\n 6) (integer) 6\n 7) (integer) 7\n 8) (integer) 8\n"
          " 9) (integer) 9\n10) 1) (integer) 10\n",
          "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "[1,2,3,4,5,6,7,8,9,[10]]");
    /* redis-cli -3 hgetall H */
    check("%2\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$1\r\n2\r\n",
          "1# \"f1\" => \"v1\"\n2# \"f2\" => \"2\"\n", "f1 v1\nf2 2\n",
          "{\"f1\":\"v1\",\"f2\":\"2\"}");
    check("~1\r\n+a\r\n", "1~ a\n", "a\n", "[\"a\"]");
    check("*2\r\n$1\r\nv\r\n$-1\r\n", "1) \"v\"\n2) (nil)\n", "v\n\n", "[\"v\",null]");
}

Test(format, as_is_commands)
{
    char *info[] = {"InFo", "server"}, *cl[] = {"client", "LIST", "ID", "1"},
         *ci[] = {"CLIENT", "info"}, *cn[] = {"cluster", "nodes"},
         *cn3[] = {"cluster", "nodes", "x"}, *lg[] = {"latency", "graph", "command"},
         *lg2[] = {"latency", "graph"}, *ld[] = {"LATENCY", "DOCTOR"}, *md[] = {"memory", "doctor"},
         *get[] = {"get", "info"}, *ck[] = {"client", "kill"}, *px[] = {"proxy", "info"};
    cr_assert(cli_prints_as_is(2, info));
    cr_assert(cli_prints_as_is(4, cl));
    cr_assert(cli_prints_as_is(2, ci));
    cr_assert(cli_prints_as_is(2, cn));
    cr_assert_not(cli_prints_as_is(3, cn3)); /* redis-cli wants exactly 2 */
    cr_assert(cli_prints_as_is(3, lg));
    cr_assert_not(cli_prints_as_is(2, lg2));
    cr_assert(cli_prints_as_is(2, ld));
    cr_assert(cli_prints_as_is(2, md));
    cr_assert(cli_prints_as_is(2, px));
    cr_assert_not(cli_prints_as_is(2, get));
    cr_assert_not(cli_prints_as_is(2, ck));
    cr_assert_not(cli_prints_as_is(0, get));

    /* The text keeps its own line ends; nothing is added, an empty one
     * prints nothing (redis-cli CLIENT LIST ID 999). */
    struct skv_reply *r = parse("$15\r\n# Server\r\na:1\r\n\r\n");
    struct cli_buf b = {0};
    cli_format_as_is(&b, r);
    cr_assert_str_eq(b.ptr, "# Server\r\na:1\r\n");
    cli_buf_free(&b);
    skv_reply_free(r);
    r = parse("$0\r\n\r\n");
    cli_format_as_is(&b, r);
    cr_assert_eq(b.len, 0);
    cli_buf_free(&b);
    skv_reply_free(r);
}
