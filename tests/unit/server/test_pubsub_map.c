/* test_pubsub_map.c — the Pub/Sub name map (add, find, delete while
 * iterating, binary names, growth) and pubsub_match, the pattern rule
 * PUBLISH applies: Redis's stringmatchlen, under which an empty channel
 * matches only the empty pattern (the differential suite checks the same
 * against redis-server 7.0). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "server/pubsub/pubsub.h"
#include "server/pubsub/pubsub_map.h"

Test(pubsub_map, add_find_delete)
{
    struct psmap m;
    psmap_init(&m);
    cr_assert_null(psmap_find(&m, "a", 1));
    struct psmap_ent *e = psmap_add(&m, "a\0b", 3, (void *)1);
    cr_assert_not_null(e);
    cr_assert_eq(psmap_find(&m, "a\0b", 3), e);
    cr_assert_null(psmap_find(&m, "a", 1), "binary names are compared whole");
    cr_assert_null(psmap_find(&m, "a\0c", 3));
    struct psmap_ent *empty = psmap_add(&m, "", 0, (void *)2);
    cr_assert_eq(psmap_find(&m, "", 0), empty);
    psmap_del(&m, e);
    cr_assert_null(psmap_find(&m, "a\0b", 3));
    cr_assert_eq(m.n, 1);
    psmap_deinit(&m);
    cr_assert_eq(m.n, 0);
}

Test(pubsub_map, grows_and_iterates_while_deleting)
{
    struct psmap m;
    psmap_init(&m);
    char name[32];
    const int n = 5000;
    for (int i = 0; i < n; i++) {
        int len = snprintf(name, sizeof name, "ch:%d", i);
        cr_assert_not_null(psmap_add(&m, name, (size_t)len, (void *)(intptr_t)i));
    }
    cr_assert_eq(m.n, (size_t)n);
    for (int i = 0; i < n; i += 7) {
        int len = snprintf(name, sizeof name, "ch:%d", i);
        struct psmap_ent *e = psmap_find(&m, name, (size_t)len);
        cr_assert_not_null(e);
        cr_assert_eq((intptr_t)e->val, i);
    }
    /* Delete every entry as the iteration passes it: each is seen once. */
    size_t seen = 0;
    struct psmap_ent *e = psmap_next(&m, NULL);
    while (e) {
        struct psmap_ent *next = psmap_next(&m, e);
        psmap_del(&m, e);
        seen++;
        e = next;
    }
    cr_assert_eq(seen, (size_t)n);
    cr_assert_eq(m.n, 0);
    psmap_deinit(&m);
}

struct mcase {
    const char *pat;
    const char *ch;
    bool want;
};

/* Answers of redis-server 7.0 (PSUBSCRIBE pat, PUBLISH ch). */
static const struct mcase mcases[] = {
    {"*", "", false},      {"**", "", false},     {"", "", true},
    {"", "x", false},      {"*", "x", true},      {"?", "", false},
    {"a*", "a", true},     {"a*", "ba", false},   {"h[^e]llo", "hallo", true},
    {"h[^e]llo", "hello", false}, {"h[c-a]llo", "hbllo", true}, {"h\\*llo", "hello", false},
    {"h\\*llo", "h*llo", true},  {"[", "[", false}, {"[a", "a", true},
    {"a\\", "a\\", true},  {"[a-]", "]", true},   {"H*", "hello", false},
};

Test(pubsub_match, redis_rules)
{
    for (size_t i = 0; i < sizeof mcases / sizeof mcases[0]; i++) {
        const struct mcase *t = &mcases[i];
        cr_expect_eq(pubsub_match(t->pat, strlen(t->pat), t->ch, strlen(t->ch)), t->want,
                     "pattern '%s' channel '%s'", t->pat, t->ch);
    }
}

Test(pubsub_match, pathological_pattern_is_fast)
{
    char pat[201], s[4001];
    for (int i = 0; i < 200; i += 2) {
        pat[i] = '*';
        pat[i + 1] = 'a';
    }
    pat[199] = 'b';
    pat[200] = '\0';
    memset(s, 'a', 4000);
    s[4000] = '\0';
    cr_assert_not(pubsub_match(pat, 200, s, 4000));
}
