/* test_dispatch.c — the parts of the server core that need no sockets: the
 * merged command table (lookup rules and integrity of every entry) and the
 * exact text of Redis's unknown-command error. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <string.h>

#include "server/commands/cmd_table.h"
#include "server/exec/cmd.h"
#include "server/route/dispatch.h"

static struct resp_arg arg(const char *s)
{
    return (struct resp_arg){s, strlen(s)};
}

/* The table is filled by the commands layer, as app/hooks.c arranges in
 * the server; before any test looks a command up. */
__attribute__((constructor)) static void fill_table(void)
{
    cmd_table_set_families(cmd_table_families);
}

Test(cmd_table, lookup_is_case_insensitive)
{
    const struct cmd_def *a = cmd_lookup("get", 3);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->name, "get");
    cr_expect_eq(cmd_lookup("GET", 3), a);
    cr_expect_eq(cmd_lookup("gEt", 3), a);
    cr_expect_not_null(cmd_lookup("MGET", 4));
    cr_expect_not_null(cmd_lookup("ping", 4));
}

Test(cmd_table, lookup_rejects_near_misses)
{
    cr_expect_null(cmd_lookup("ge", 2));
    cr_expect_null(cmd_lookup("gett", 4));
    cr_expect_null(cmd_lookup("get\0", 4));       /* NUL is part of the name */
    cr_expect_null(cmd_lookup("", 0));
    char longname[300];
    memset(longname, 'g', sizeof longname);
    cr_expect_null(cmd_lookup(longname, sizeof longname));
}

Test(cmd_table, every_entry_is_sane)
{
    size_t n;
    const struct cmd_def *t = cmd_table(&n);
    cr_assert_gt(n, 40, "only %zu commands in the table", n);
    for (size_t i = 0; i < n; i++) {
        const struct cmd_def *d = &t[i];
        cr_assert_not_null(d->name);
        for (const char *p = d->name; *p; p++)
            cr_expect(!isupper((unsigned char)*p), "'%s' is not lower case", d->name);
        cr_expect(d->exec || d->nsubs, "%s has no exec and no subcommands", d->name);
        for (size_t k = 0; k < d->nsubs; k++) {
            const struct cmd_def *sub = &d->subs[k];
            cr_expect_not_null(sub->exec, "%s has no exec", sub->name);
            cr_expect_eq(sub->parent, d, "%s: wrong parent", sub->name);
            cr_expect(strncmp(sub->name, d->name, strlen(d->name)) == 0 &&
                          sub->name[strlen(d->name)] == '|',
                      "%s is not named after %s", sub->name, d->name);
        }
        cr_expect_neq(d->arity, 0, "%s has arity 0", d->name);
        cr_expect_eq(cmd_lookup(d->name, strlen(d->name)), d, "%s not found by name", d->name);
        for (size_t j = i + 1; j < n; j++)
            cr_expect(strcmp(d->name, t[j].name) != 0, "%s defined twice", d->name);
        /* (Shard channels are names hashed like keys, not keys: SSUBSCRIBE
         * and kin run on the connection and route nothing by them.) */
        bool names_only = d->nkeyspecs > 0;
        for (unsigned k = 0; k < d->nkeyspecs; k++)
            names_only = names_only && (d->keys[k].flags & CMD_KS_NOT_KEY);
        if ((d->flags & CMD_CONN) && !(d->flags & CMD_TXN_CONTROL) && !names_only)
            cr_expect_eq(d->first_key, 0, "%s runs on the connection but has keys", d->name);
        /* (A numkeys form such as SINTERCARD has movable keys: no legacy
         * triple, its key specs say where they are.) */
        if ((d->flags & CMD_MULTIKEY) && !(d->flags & CMD_MOVABLE_KEYS))
            cr_expect_gt(d->first_key, 0, "%s is multi-key without keys", d->name);
        if (d->flags & CMD_MULTIKEY)
            cr_expect_gt(d->nkeyspecs, 0, "%s is multi-key without key specs", d->name);
        if (d->first_key > 0) {
            cr_expect_gt(d->key_step, 0, "%s has keys but step 0", d->name);
            /* The routed key must exist whenever the arity check passes,
             * except in OBJECT, whose HELP has no key: dispatch runs a
             * command with argc <= first_key as keyless. */
            int min_argc = d->arity > 0 ? d->arity : -d->arity;
            if (strcmp(d->name, "object") != 0 && !names_only)
                cr_expect_lt(d->first_key, min_argc, "%s: first key beyond arity", d->name);
        }
    }
}

static void check_unknown(size_t argc, const struct resp_arg *argv, const char *want)
{
    struct rbuf b;
    rbuf_init(&b);
    dispatch_reply_unknown(&b, argc, argv);
    cr_assert_eq(b.len, strlen(want), "got %.*s", (int)b.len, b.ptr);
    cr_expect(memcmp(b.ptr, want, b.len) == 0, "got %.*s", (int)b.len, b.ptr);
    rbuf_deinit(&b);
}

Test(dispatch, unknown_command_text)
{
    struct resp_arg a1[] = {arg("foo")};
    check_unknown(1, a1, "-ERR unknown command 'foo', with args beginning with: \r\n");
    struct resp_arg a2[] = {arg("FOO"), arg("bar"), arg("baz")};
    check_unknown(3, a2, "-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n");
    /* CR/LF become spaces; an argument ends at its NUL, as in Redis. */
    struct resp_arg a3[] = {arg("x"), arg("a\r\nb"), {"c\0d", 3}};
    check_unknown(3, a3, "-ERR unknown command 'x', with args beginning with: 'a  b' 'c' \r\n");
}

Test(dispatch, unknown_command_is_bounded)
{
    /* Redis cuts the name at 128 bytes and stops adding arguments once 128
     * bytes of them are written, each cut to what is left of the 128. */
    char big[300];
    memset(big, 'n', sizeof big);
    char y[200];
    memset(y, 'y', sizeof y);
    struct resp_arg a[] = {{big, sizeof big}, {y, 100}, {y, 100}, {y, 10}};
    struct rbuf b;
    rbuf_init(&b);
    dispatch_reply_unknown(&b, 4, a);
    char want[512];
    int n = snprintf(want, sizeof want,
                     "-ERR unknown command '%.128s', with args beginning with: '%.100s' '%.25s' \r\n",
                     big, y, y);
    cr_assert_eq(b.len, (size_t)n, "got %.*s", (int)b.len, b.ptr);
    cr_expect(memcmp(b.ptr, want, b.len) == 0, "got %.*s", (int)b.len, b.ptr);
    rbuf_deinit(&b);
}
