/* test_glob.c — glob_match against Redis's stringmatchlen rules: the
 * expected answers are what redis-server 7.0 gives for KEYS (the integration
 * suite checks the same patterns against a live redis-server). */
#include <criterion/criterion.h>
#include <string.h>

#include "server/util/glob.h"

struct gcase {
    const char *pat;
    const char *str;
    bool nocase;
    bool want;
};

static const struct gcase cases[] = {
    {"*", "", false, true},
    {"*", "anything", false, true},
    {"", "", false, true},
    {"", "a", false, false},
    {"a", "", false, false},
    {"h?llo", "hello", false, true},
    {"h?llo", "hllo", false, false},
    {"h*llo", "hllo", false, true},
    {"h*llo", "heeeello", false, true},
    {"h*llo", "hellox", false, false},
    {"h[ae]llo", "hallo", false, true},
    {"h[ae]llo", "hillo", false, false},
    {"h[^e]llo", "hallo", false, true},
    {"h[^e]llo", "hello", false, false},
    {"h[a-b]llo", "hbllo", false, true},
    {"h[b-a]llo", "hallo", false, true}, /* reversed range is swapped */
    {"h[a-b]llo", "hcllo", false, false},
    {"a\\*b", "a*b", false, true},
    {"a\\*b", "axb", false, false},
    {"a\\?b", "a?b", false, true},
    {"a[\\[]b", "a[b", false, true},
    {"a\\\\b", "a\\b", false, true},
    {"[", "a", false, false},           /* '[' at the end matches nothing */
    {"[]", "]", false, false},
    {"[^]", "x", false, true},          /* empty negated class: any char */
    {"[a-]", "]", false, true},         /* "a-]" is the range 'a'..']' */
    {"[a-]", "-", false, false},
    {"[]-]", "]", false, false},
    {"h[^", "hx", false, true},         /* unterminated negated class */
    {"h[^", "h", false, false},
    {"[abc", "b", false, true},         /* unterminated class ends with the pattern */
    {"\\", "\\", false, true},          /* lone trailing backslash is literal */
    {"*\\", "ab\\", false, true},
    {"[\\]]", "]", false, true},
    {"a*", "a", false, true},
    {"*o", "hello", false, true},
    {"??", "ab", false, true},
    {"??", "abc", false, false},
    {"H*", "hello", false, false},
    {"H*", "hello", true, true},
    {"h[A-Z]llo", "hello", true, true},
    {"*[^a-z]*", "hello", false, false},
    {"*[^a-z]*", "he-llo", false, true},
    {"a*b*c", "aXbYc", false, true},
    {"a*b*c", "aXcYb", false, false},
    {"*a*", "bbb", false, false},
    {"**", "x", false, true},
};

Test(glob, table)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct gcase *c = &cases[i];
        bool got = glob_match(c->pat, strlen(c->pat), c->str, strlen(c->str), c->nocase);
        cr_expect_eq(got, c->want, "pattern '%s' on '%s' (nocase %d): got %d", c->pat, c->str,
                     c->nocase, got);
    }
}

Test(glob, binary_safe)
{
    /* NUL bytes inside both the pattern and the string are ordinary bytes. */
    cr_expect(glob_match("h*\0*", 4, "hel\0lo", 6, false));
    cr_expect_not(glob_match("h*\0*", 4, "hello", 5, false));
    cr_expect(glob_match("a?c", 3, "a\0c", 3, false));
    cr_expect(glob_match("[\xf0-\xff]", 5, "\xff", 1, false));
}

Test(glob, hostile_pattern_finishes)
{
    /* Exponential for a naive recursive matcher; linear-ish here. The test
     * has no timing assertion: a regression shows up as a ctest timeout. */
    char s[200], p[200];
    memset(s, 'a', sizeof s);
    size_t n = 0;
    for (int i = 0; i < 60; i++) {
        p[n++] = 'a';
        p[n++] = '*';
    }
    p[n++] = 'b';
    cr_expect_not(glob_match(p, n, s, sizeof s, false));
    p[n - 1] = 'a';
    cr_expect(glob_match(p, n, s, sizeof s, false));
}
