/* test_cli_help.c — shardkv-cli's help table built from COMMAND DOCS and
 * COMMAND replies (argument syntax as redis-cli 7.0 prints it, help text,
 * Tab candidates) and its history file (location, 0600, secrets kept out).
 * The expected syntax strings are redis-cli 7.0.15's for the same docs. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/cli_help.h"
#include "client/cli_history.h"
#include "client/reply.h"

/* --------------------------------------------------------- reply builder */

static struct skv_reply *str(const char *s)
{
    return reply_new_str(SKV_REPLY_STRING, s, strlen(s));
}

/* An aggregate of type t from the replies given, NULL-terminated. */
static struct skv_reply *agg(enum skv_reply_type t, ...)
{
    struct skv_reply *r = calloc(1, sizeof(*r));
    r->type = t;
    r->element = calloc(64, sizeof(*r->element));
    va_list ap;
    va_start(ap, t);
    for (struct skv_reply *e; (e = va_arg(ap, struct skv_reply *)) != NULL;)
        r->element[r->elements++] = e;
    va_end(ap);
    return r;
}
#define ARR(...) agg(SKV_REPLY_ARRAY, __VA_ARGS__, NULL)
#define MAP(...) agg(SKV_REPLY_MAP, __VA_ARGS__, NULL)

/* One argument's docs; flags "optional", "multiple"... (status replies, as
 * Redis sends them); sub: nested arguments or NULL. */
static struct skv_reply *arg(const char *name, const char *type, const char *token,
                             const char *flag1, const char *flag2, struct skv_reply *sub)
{
    struct skv_reply *r = ARR(str("name"), str(name), str("type"), str(type));
    if (token) {
        r->element[r->elements++] = str("token");
        r->element[r->elements++] = str(token);
    }
    if (flag1) {
        struct skv_reply *f = agg(SKV_REPLY_ARRAY, NULL);
        f->element[f->elements++] = reply_new_str(SKV_REPLY_STATUS, flag1, strlen(flag1));
        if (flag2)
            f->element[f->elements++] = reply_new_str(SKV_REPLY_STATUS, flag2, strlen(flag2));
        r->element[r->elements++] = str("flags");
        r->element[r->elements++] = f;
    }
    if (sub) {
        r->element[r->elements++] = str("arguments");
        r->element[r->elements++] = sub;
    }
    return r;
}

static struct skv_reply *doc(const char *summary, const char *since, const char *group,
                             struct skv_reply *args)
{
    struct skv_reply *r =
        ARR(str("summary"), str(summary), str("since"), str(since), str("group"), str(group));
    if (args) {
        r->element[r->elements++] = str("arguments");
        r->element[r->elements++] = args;
    }
    return r;
}

/* COMMAND DOCS for GET, MSET, GETEX, MIGRATE's key|"" and CLIENT with
 * CLIENT LIST, as redis-server 7.0 sends them. */
static struct skv_reply *sample_docs(void)
{
    struct skv_reply *client =
        doc("A container for client connection commands", "2.4.0", "connection", NULL);
    struct skv_reply *list =
        doc("Get the list of client connections", "2.4.0", "connection",
            ARR(arg("client-type", "oneof", "TYPE", "optional", NULL,
                    ARR(arg("normal", "pure-token", "NORMAL", NULL, NULL, NULL),
                        arg("master", "pure-token", "MASTER", NULL, NULL, NULL))),
                arg("client-id", "integer", "ID", "optional", "multiple", NULL)));
    client->element[client->elements++] = str("subcommands");
    client->element[client->elements++] = ARR(str("client|list"), list);
    return ARR(str("get"),
               doc("Get the value of a key", "1.0.0", "string",
                   ARR(arg("key", "key", NULL, NULL, NULL, NULL))),
               str("mset"),
               doc("Set multiple keys to multiple values", "1.0.1", "string",
                   ARR(arg("key_value", "block", NULL, "multiple", NULL,
                           ARR(arg("key", "key", NULL, NULL, NULL, NULL),
                               arg("value", "string", NULL, NULL, NULL, NULL))))),
               str("getex"),
               doc("Get the value of a key and optionally set its expiration", "6.2.0", "string",
                   ARR(arg("key", "key", NULL, NULL, NULL, NULL),
                       arg("expiration", "oneof", NULL, "optional", NULL,
                           ARR(arg("seconds", "integer", "EX", NULL, NULL, NULL),
                               arg("persist", "pure-token", "PERSIST", NULL, NULL, NULL))))),
               str("migrate"),
               doc("Atomically transfer a key", "2.6.0", "generic",
                   ARR(arg("key_or_empty_string", "oneof", NULL, NULL, NULL,
                           ARR(arg("key", "key", NULL, NULL, NULL, NULL),
                               arg("empty_string", "pure-token", "", NULL, NULL, NULL))),
                       arg("keys", "key", "KEYS", "optional", "multiple_token", NULL),
                       arg("key", "key", "KEY", "multiple", "multiple_token", NULL))),
               str("client"), client);
}

static const struct cli_help_entry *find(const struct cli_help *h, const char *name)
{
    for (size_t i = 0; i < h->count; i++)
        if (!strcmp(h->entry[i].name, name))
            return &h->entry[i];
    return NULL;
}

static void load_sample(struct cli_help *h)
{
    struct skv_reply *r = sample_docs();
    cli_help_init(h);
    cr_assert_eq(cli_help_load_docs(h, r), 0);
    skv_reply_free(r);
}

Test(help, argument_syntax_as_redis_cli_prints_it)
{
    struct cli_help h;
    load_sample(&h);
    cr_assert_eq(h.count, 6);
    /* Sorted by name; subcommands are entries of their own. */
    cr_assert_str_eq(h.entry[0].name, "CLIENT");
    cr_assert_str_eq(h.entry[1].name, "CLIENT LIST");
    cr_assert_eq(h.entry[1].words, 2);
    cr_assert_str_eq(find(&h, "GET")->params, "key");
    cr_assert_str_eq(find(&h, "MSET")->params, "key value [key value ...]");
    cr_assert_str_eq(find(&h, "GETEX")->params, "key [EX seconds|PERSIST]");
    cr_assert_str_eq(find(&h, "CLIENT LIST")->params,
                     "[TYPE NORMAL|MASTER] [ID client-id [client-id ...]]");
    cr_assert_str_eq(find(&h, "CLIENT")->params, "");
    /* multiple_token repeats the token; an empty token is typed as "". */
    cr_assert_str_eq(find(&h, "MIGRATE")->params, "key|\"\" [KEYS keys] KEY key [KEY key ...]");
    cr_assert_str_eq(find(&h, "GETEX")->since, "6.2.0");
    cr_assert_str_eq(find(&h, "GETEX")->group, "string");
    cli_help_deinit(&h);
}

Test(help, resp3_map_reply)
{
    /* HELLO 3 turns the outer reply and each docs into maps. */
    struct skv_reply *r =
        MAP(str("get"), agg(SKV_REPLY_MAP, str("summary"), str("Get it"), str("since"),
                            str("1.0.0"), str("group"), str("string"), NULL));
    struct cli_help h;
    cli_help_init(&h);
    cr_assert_eq(cli_help_load_docs(&h, r), 0);
    cr_assert_eq(h.count, 1);
    cr_assert_str_eq(h.entry[0].summary, "Get it");
    cli_help_deinit(&h);
    skv_reply_free(r);
}

Test(help, bad_replies_leave_the_table_empty)
{
    struct cli_help h;
    cli_help_init(&h);
    struct skv_reply *e =
        reply_new_str(SKV_REPLY_ERROR, "ERR unknown subcommand", strlen("ERR unknown subcommand"));
    cr_assert_eq(cli_help_load_docs(&h, e), -1);
    cr_assert_eq(h.count, 0);
    skv_reply_free(e);
    /* Odd element count, a name that is not a string, docs not a list. */
    struct skv_reply *bad[] = {ARR(str("get")), ARR(agg(SKV_REPLY_ARRAY, NULL), ARR(str("x"))),
                               ARR(str("get"), str("docs"), str("set"), ARR(str("summary")))};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        cr_assert_eq(cli_help_load_docs(&h, bad[i]), -1, "case %zu", i);
        cr_assert_eq(h.count, 0);
        skv_reply_free(bad[i]);
    }
    /* Fields of the wrong type are skipped, not trusted. */
    struct skv_reply *odd = ARR(str("get"), ARR(str("summary"), ARR(str("x")), str("arguments"),
                                                ARR(str("not an argument"), ARR(str("type")))));
    cr_assert_eq(cli_help_load_docs(&h, odd), 0);
    cr_assert_str_eq(h.entry[0].summary, "");
    cr_assert_str_eq(h.entry[0].params, " ");
    cli_help_deinit(&h);
    skv_reply_free(odd);
}

Test(help, names_from_command)
{
    /* COMMAND entries: name, arity, flags, first key, ... */
    struct skv_reply *r = ARR(
        ARR(str("get"), agg(SKV_REPLY_INTEGER, NULL), ARR(str("x")), agg(SKV_REPLY_INTEGER, NULL)),
        ARR(str("ping"), agg(SKV_REPLY_INTEGER, NULL), ARR(str("x")),
            agg(SKV_REPLY_INTEGER, NULL)));
    r->element[0]->element[1]->integer = 2;
    r->element[0]->element[3]->integer = 1;
    r->element[1]->element[1]->integer = -1;
    struct cli_help h;
    cli_help_init(&h);
    cr_assert_eq(cli_help_load_names(&h, r), 0);
    cr_assert_eq(h.count, 2);
    cr_assert_str_eq(find(&h, "GET")->params, "key ");
    cr_assert_str_eq(find(&h, "PING")->params, "...options...");
    cr_assert_str_eq(find(&h, "PING")->summary, "Help not available");
    cli_help_deinit(&h);
    skv_reply_free(r);
}

static char *help_text(const struct cli_help *h, int argc, char **argv)
{
    struct cli_buf b = {0};
    cli_help_format(&b, h, argc, argv);
    return b.ptr;
}

Test(help, text_as_redis_cli_prints_it)
{
    struct cli_help h;
    load_sample(&h);
    char *get[] = {"get"};
    char *t = help_text(&h, 1, get);
    cr_assert_str_eq(t, "\r\n  \x1b[1mGET\x1b[0m \x1b[90mkey\x1b[0m\r\n"
                        "  \x1b[33msummary:\x1b[0m Get the value of a key\r\n"
                        "  \x1b[33msince:\x1b[0m 1.0.0\r\n"
                        "  \x1b[33mgroup:\x1b[0m string\r\n\r\n");
    free(t);
    /* A group lists its entries without the group line. */
    char *grp[] = {"@STRING"};
    t = help_text(&h, 1, grp);
    cr_assert(strstr(t, "GETEX") && strstr(t, "MSET") && !strstr(t, "group:") &&
              !strstr(t, "CLIENT"));
    free(t);
    /* "help client" shows CLIENT and its subcommands; "help client list"
     * just the one; "help cli" nothing (words match whole). */
    char *cl[] = {"Client", "LIST"}, *cli[] = {"cli"};
    t = help_text(&h, 1, cl);
    cr_assert(strstr(t, "CLIENT\x1b[0m") && strstr(t, "CLIENT LIST\x1b[0m"));
    free(t);
    t = help_text(&h, 2, cl);
    cr_assert(!strstr(t, "CLIENT\x1b[0m") && strstr(t, "CLIENT LIST\x1b[0m"));
    free(t);
    t = help_text(&h, 1, cli);
    cr_assert_str_eq(t, "\r\n");
    free(t);
    char *extra[] = {"get", "x"};
    t = help_text(&h, 2, extra);
    cr_assert_str_eq(t, "\r\n");
    free(t);
    cli_help_deinit(&h);
    /* An empty table (server without docs) prints the blank line only. */
    cli_help_init(&h);
    t = help_text(&h, 1, get);
    cr_assert_str_eq(t, "\r\n");
    free(t);
}

/* The candidates joined by spaces (freed here). */
static char *cands(const struct cli_help *h, const char *before, const char *word)
{
    char **c;
    int n = cli_help_complete(h, before, word, &c);
    cr_assert_geq(n, 0);
    static char out[512];
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(out, " ");
        strcat(out, c[i]);
        free(c[i]);
    }
    cr_assert(n == 0 ? c == NULL : c[n] == NULL);
    free(c);
    return out;
}

Test(help, completion)
{
    struct cli_help h;
    load_sample(&h);
    cr_assert_str_eq(cands(&h, "", "GE"), "GET GETEX");
    cr_assert_str_eq(cands(&h, "  ", "ge"), "get getex");
    cr_assert_str_eq(cands(&h, "", "getE"), "getex");
    cr_assert_str_eq(cands(&h, "", "x"), "");
    /* After a command: its subcommands, in the command's case. */
    cr_assert_str_eq(cands(&h, "client ", ""), "list");
    cr_assert_str_eq(cands(&h, "CLIENT ", "L"), "LIST");
    cr_assert_str_eq(cands(&h, "get ", ""), "");
    cr_assert_str_eq(cands(&h, "client list ", ""), "");
    /* After help: commands and groups, then subcommands. */
    cr_assert_str_eq(cands(&h, "help ", "@"), "@connection @string @generic");
    cr_assert_str_eq(cands(&h, "HELP ", "M"), "MIGRATE MSET");
    cr_assert_str_eq(cands(&h, "? ", "@s"), "@string");
    cr_assert_str_eq(cands(&h, "help client ", "l"), "list");
    cr_assert_str_eq(cands(&h, "help client list ", ""), "");
    cli_help_deinit(&h);
    /* Nothing known: no candidates, no crash. */
    cr_assert_str_eq(cands(&h, "", "g"), "");
}

/* -------------------------------------------------------------- history */

Test(history, path_from_environment)
{
    setenv("HOME", "/home/u", 1);
    unsetenv(CLI_HISTORY_ENV);
    char *p = cli_history_path();
    cr_assert_str_eq(p, "/home/u/.shardkv_cli_history");
    free(p);
    /* As REDISCLI_HISTFILE: empty means the default, /dev/null none. */
    setenv(CLI_HISTORY_ENV, "", 1);
    p = cli_history_path();
    cr_assert_str_eq(p, "/home/u/.shardkv_cli_history");
    free(p);
    setenv(CLI_HISTORY_ENV, "/tmp/h", 1);
    p = cli_history_path();
    cr_assert_str_eq(p, "/tmp/h");
    free(p);
    setenv(CLI_HISTORY_ENV, "/dev/null", 1);
    cr_assert_null(cli_history_path());
    unsetenv(CLI_HISTORY_ENV);
    setenv("HOME", "", 1);
    cr_assert_null(cli_history_path());
}

Test(history, save_load_private)
{
    char dir[] = "/tmp/skv_hist_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/h", dir);
    /* A file that exists world-readable becomes 0600 on the first save. */
    FILE *f = fopen(path, "w");
    fputs("old one\n\nold two\r\n", f);
    fclose(f);
    chmod(path, 0644);

    struct cli_history h;
    cr_assert_eq(cli_history_init(&h, strdup(path)), 0);
    cr_assert_eq(h.len, 2);
    cr_assert_str_eq(h.line[1], "old two");
    cr_assert_eq(cli_history_add(&h, "old two"), 0); /* repeat of the last */
    cr_assert_eq(cli_history_add(&h, "set k v"), 1);
    cr_assert_eq(cli_history_save(&h), 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cli_history_deinit(&h);

    cr_assert_eq(cli_history_init(&h, strdup(path)), 0);
    cr_assert_eq(h.len, 3);
    cr_assert_str_eq(h.line[2], "set k v");
    /* At most CLI_HISTORY_MAX lines: the oldest go. */
    char line[32];
    for (int i = 0; i < CLI_HISTORY_MAX + 5; i++) {
        snprintf(line, sizeof(line), "echo %d", i);
        cr_assert_eq(cli_history_add(&h, line), 1);
    }
    cr_assert_eq(h.len, CLI_HISTORY_MAX);
    cr_assert_str_eq(h.line[0], "echo 5");
    cli_history_deinit(&h);
    unlink(path);
    rmdir(dir);

    /* No file: nothing loaded, saving is a no-op. */
    cr_assert_eq(cli_history_init(&h, NULL), 0);
    cr_assert_eq(cli_history_add(&h, "x"), 1);
    cr_assert_eq(cli_history_save(&h), 0);
    cli_history_deinit(&h);
}

Test(history, secrets_stay_out)
{
    char *auth[] = {"auth", "pw"}, *hello[] = {"HELLO", "3", "AUTH", "u", "pw"},
         *hello3[] = {"hello", "3"}, *acl[] = {"acl", "SETUSER", "u", ">pw"},
         *aclw[] = {"acl", "whoami"}, *cfg[] = {"config", "set", "requirepass", "pw"},
         *cfg2[] = {"CONFIG", "SET", "maxclients", "1", "masterauth", "pw"},
         *cfgg[] = {"config", "get", "requirepass"},
         *mig[] = {"migrate", "h", "1", "", "0", "5", "AUTH2", "u", "pw", "KEYS", "k"},
         *set[] = {"set", "auth", "x"};
    cr_assert(cli_history_is_secret(2, auth));
    cr_assert(cli_history_is_secret(5, hello));
    cr_assert_not(cli_history_is_secret(2, hello3));
    cr_assert(cli_history_is_secret(4, acl));
    cr_assert_not(cli_history_is_secret(2, aclw));
    cr_assert(cli_history_is_secret(4, cfg));
    cr_assert(cli_history_is_secret(6, cfg2));
    cr_assert_not(cli_history_is_secret(3, cfgg));
    cr_assert(cli_history_is_secret(11, mig));
    cr_assert_not(cli_history_is_secret(3, set));
    cr_assert_not(cli_history_is_secret(0, set));
}
