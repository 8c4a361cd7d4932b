/* test_listpack.c — shard/listpack.c: integer detection (lpStringToInt64
 * rules), the exact bytes of every encoding at its boundaries, backlen sizes,
 * iteration both ways, seek, find with skip, insert/replace/delete, the
 * unknown count past 65534, random edits against a model, validation of
 * hand-made, truncated and corrupted blobs, and blobs written by a real
 * redis-server 7.0 (tests/fixtures/listpack, see make-listpack-fixtures.py)
 * compared byte for byte with ours. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "shard/listpack.h"

/* ------------------------------------------------------------ helpers */

static struct mem_acct acct;

static void setup(void)
{
    memset(&acct, 0, sizeof acct);
}

/* Every test frees what it made: the account must be back to zero. */
static void teardown(void)
{
    cr_expect_eq(acct.used, 0, "%" PRId64 " bytes still charged", acct.used);
    cr_expect_eq(acct.allocs, acct.frees);
}

TestSuite(listpack, .init = setup, .fini = teardown);

static unsigned char *lp_new(void)
{
    unsigned char *lp = listpack_create(&acct);
    cr_assert_not_null(lp);
    return lp;
}

static void push(unsigned char **lp, const void *s, size_t len)
{
    cr_assert_eq(listpack_append(&acct, lp, s, len), 0);
}

static void push_str(unsigned char **lp, const char *s)
{
    push(lp, s, strlen(s));
}

/* Fixture path: the repository root is three levels above this file. */
static unsigned char *fixture(const char *name, size_t *len)
{
    char path[4096];
    const char *f = __FILE__;
    const char *cut = strstr(f, "tests/unit/shard/test_listpack.c");
    cr_assert_not_null(cut, "cannot locate the repository from %s", f);
    snprintf(path, sizeof path, "%.*stests/fixtures/listpack/%s", (int)(cut - f), f, name);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "fixture %s missing", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* Walk every entry forwards and backwards, checking that both walks agree
 * and match the count; returns the count. For any deep-valid blob. */
static uint32_t walk_both_ways(const unsigned char *lp)
{
    uint32_t n = 0;
    const unsigned char *p, *last = NULL;
    char buf[LISTPACK_INTBUF_SIZE];
    size_t len;
    for (p = listpack_first(lp); p; p = listpack_next(lp, p)) {
        listpack_get_text(p, buf, &len);
        last = p;
        n++;
    }
    cr_assert_eq(listpack_last(lp), last);
    uint32_t back = 0;
    for (p = listpack_last(lp); p; p = listpack_prev(lp, p))
        back++;
    cr_assert_eq(back, n);
    cr_assert_eq(listpack_count(lp), n);
    return n;
}

/* ------------------------------------------------------------ integers */

struct int_case {
    const char *s;
    bool ok;
    int64_t v;
};

static const struct int_case int_cases[] = {
    {"0", true, 0},
    {"1", true, 1},
    {"-1", true, -1},
    {"127", true, 127},
    {"9223372036854775807", true, INT64_MAX},
    {"-9223372036854775808", true, INT64_MIN},
    {"9223372036854775808", false, 0},
    {"-9223372036854775809", false, 0},
    {"18446744073709551615", false, 0},
    {"18446744073709551616", false, 0},
    {"99999999999999999999", false, 0},
    {"-0", false, 0},
    {"01", false, 0},
    {"00", false, 0},
    {"-01", false, 0},
    {" 1", false, 0},
    {"1 ", false, 0},
    {"+1", false, 0},
    {"", false, 0},
    {"-", false, 0},
    {"1a", false, 0},
    {"0x10", false, 0},
    {"1.5", false, 0},
    {"1e3", false, 0},
};

Test(listpack, string_to_int64_rules)
{
    for (size_t i = 0; i < sizeof int_cases / sizeof int_cases[0]; i++) {
        const struct int_case *c = &int_cases[i];
        int64_t v = 42;
        bool ok = listpack_string_to_int64(c->s, strlen(c->s), &v);
        cr_expect_eq(ok, c->ok, "\"%s\"", c->s);
        if (c->ok)
            cr_expect_eq(v, c->v, "\"%s\" -> %" PRId64, c->s, v);
    }
    /* Embedded NUL: the length rules, not the terminator. */
    cr_expect_not(listpack_string_to_int64("1\0", 2, NULL));
}

/* ------------------------------------------------------------ encodings */

/* One entry appended to an empty listpack, and the exact bytes (encoding,
 * data, backlen) Redis writes for it. */
struct enc_case {
    const char *s;
    size_t len; /* 0: strlen(s) */
    unsigned char want[12];
    size_t want_len;
};

#define E(str, ...)                                                                                \
    {                                                                                              \
        str, 0, {__VA_ARGS__}, sizeof((unsigned char[]){__VA_ARGS__})                              \
    }

static const struct enc_case enc_cases[] = {
    E("0", 0x00, 0x01),
    E("127", 0x7f, 0x01),
    E("128", 0xc0, 0x80, 0x02),
    E("-1", 0xdf, 0xff, 0x02),
    E("4095", 0xcf, 0xff, 0x02),
    E("4096", 0xf1, 0x00, 0x10, 0x03),
    E("-4096", 0xd0, 0x00, 0x02),
    E("-4097", 0xf1, 0xff, 0xef, 0x03),
    E("32767", 0xf1, 0xff, 0x7f, 0x03),
    E("32768", 0xf2, 0x00, 0x80, 0x00, 0x04),
    E("-32768", 0xf1, 0x00, 0x80, 0x03),
    E("-32769", 0xf2, 0xff, 0x7f, 0xff, 0x04),
    E("8388607", 0xf2, 0xff, 0xff, 0x7f, 0x04),
    E("8388608", 0xf3, 0x00, 0x00, 0x80, 0x00, 0x05),
    E("-8388608", 0xf2, 0x00, 0x00, 0x80, 0x04),
    E("-8388609", 0xf3, 0xff, 0xff, 0x7f, 0xff, 0x05),
    E("2147483647", 0xf3, 0xff, 0xff, 0xff, 0x7f, 0x05),
    E("2147483648", 0xf4, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x09),
    E("-2147483648", 0xf3, 0x00, 0x00, 0x00, 0x80, 0x05),
    E("-2147483649", 0xf4, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x09),
    E("9223372036854775807", 0xf4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x09),
    E("-9223372036854775808", 0xf4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x09),
    E("", 0x80, 0x01),
    E("-0", 0x82, '-', '0', 0x03),
    E("01", 0x82, '0', '1', 0x03),
    E(" 1", 0x82, ' ', '1', 0x03),
    E("+1", 0x82, '+', '1', 0x03),
    E("abc", 0x83, 'a', 'b', 'c', 0x04),
};

Test(listpack, encodings_exact_bytes)
{
    for (size_t i = 0; i < sizeof enc_cases / sizeof enc_cases[0]; i++) {
        const struct enc_case *c = &enc_cases[i];
        unsigned char *lp = lp_new();
        size_t len = c->len ? c->len : strlen(c->s);
        push(&lp, c->s, len);
        cr_assert_eq(listpack_bytes(lp), LISTPACK_EMPTY_SIZE + c->want_len, "\"%s\"", c->s);
        cr_expect_eq(memcmp(lp + LISTPACK_HDR_SIZE, c->want, c->want_len), 0, "\"%s\"", c->s);
        cr_expect_eq(lp[listpack_bytes(lp) - 1], 0xff);
        cr_expect_eq(listpack_count(lp), 1);
        /* Read back: same text, and integers as integers. */
        char buf[LISTPACK_INTBUF_SIZE];
        size_t tl;
        const unsigned char *t = listpack_get_text(listpack_first(lp), buf, &tl);
        cr_expect(tl == len && memcmp(t, c->s, len) == 0, "\"%s\" read back", c->s);
        struct listpack_entry e;
        listpack_get(listpack_first(lp), &e);
        cr_expect_eq(e.str == NULL, listpack_string_to_int64(c->s, len, NULL), "\"%s\"", c->s);
        cr_expect_eq(listpack_validate(lp, listpack_bytes(lp), true), 0);
        /* The same integer through append_int gives the same bytes. */
        int64_t v;
        if (listpack_string_to_int64(c->s, len, &v)) {
            unsigned char *lp2 = lp_new();
            cr_assert_eq(listpack_append_int(&acct, &lp2, v), 0);
            cr_expect_eq(memcmp(lp, lp2, listpack_bytes(lp)), 0);
            listpack_destroy(&acct, lp2);
        }
        listpack_destroy(&acct, lp);
    }
}

/* Backlen bytes Redis writes for an entry of l bytes (its thresholds). */
static size_t want_backlen(uint64_t l)
{
    return l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}

Test(listpack, string_lengths_at_every_boundary)
{
    static const size_t lens[] = {0,    1,    62,   63,   64,    65,    125,   126,  127,
                                  4094, 4095, 4096, 4097, 16377, 16378, 16379, 70000};
    size_t n = sizeof lens / sizeof lens[0];
    unsigned char *lp = lp_new();
    unsigned char *s = malloc(70000);
    cr_assert_not_null(s);
    for (size_t i = 0; i < 70000; i++)
        s[i] = (unsigned char)('a' + i % 26);
    for (size_t i = 0; i < n; i++) {
        unsigned char *one = lp_new();
        push(&one, s, lens[i]);
        size_t head = lens[i] < 64 ? 1 : lens[i] < 4096 ? 2 : 5;
        size_t enclen = head + lens[i];
        size_t bl = want_backlen(enclen);
        cr_assert_eq(listpack_bytes(one), LISTPACK_EMPTY_SIZE + enclen + bl, "len %zu", lens[i]);
        const unsigned char *p = one + LISTPACK_HDR_SIZE;
        if (head == 1)
            cr_expect_eq(p[0], 0x80 | lens[i]);
        else if (head == 2)
            cr_expect(p[0] == (0xe0 | lens[i] >> 8) && p[1] == (lens[i] & 0xff));
        else
            cr_expect(p[0] == 0xf0 && p[1] == (lens[i] & 0xff) && p[2] == ((lens[i] >> 8) & 0xff));
        /* Backlen: leftmost byte unflagged, the others flagged, low bits last. */
        const unsigned char *b = p + enclen;
        uint64_t v = 0;
        for (size_t k = 0; k < bl; k++) {
            cr_expect_eq(!!(b[k] & 0x80), k > 0, "len %zu backlen byte %zu", lens[i], k);
            v = v << 7 | (b[k] & 0x7f);
        }
        cr_expect_eq(v, enclen);
        listpack_destroy(&acct, one);
        push(&lp, s, lens[i]);
    }
    /* All of them in one listpack: both walks see every entry intact. */
    cr_assert_eq(listpack_validate(lp, listpack_bytes(lp), true), 0);
    cr_assert_eq(walk_both_ways(lp), n);
    size_t i = n;
    for (const unsigned char *p = listpack_last(lp); p; p = listpack_prev(lp, p)) {
        struct listpack_entry e;
        listpack_get(p, &e);
        i--;
        cr_assert(e.str && e.len == lens[i] && memcmp(e.str, s, lens[i]) == 0, "entry %zu", i);
    }
    free(s);
    listpack_destroy(&acct, lp);
}

Test(listpack, string_too_long_for_the_format)
{
    unsigned char *lp = lp_new();
    char c = 'x';
    /* The length is refused before the bytes are read. */
    cr_expect_eq(listpack_append(&acct, &lp, &c, (size_t)UINT32_MAX + 1), LISTPACK_ETOOBIG);
    cr_expect_eq(listpack_bytes(lp), LISTPACK_EMPTY_SIZE);
    /* A listpack whose header says it is nearly 4 GiB: one more entry would
     * overflow the u32 total, refused before anything is touched. */
    unsigned char forged[LISTPACK_EMPTY_SIZE];
    memcpy(forged, lp, sizeof forged);
    unsigned char *fp = forged;
    forged[0] = forged[1] = forged[2] = forged[3] = 0xff; /* UINT32_MAX */
    cr_expect_eq(listpack_append(&acct, &fp, "ab", 2), LISTPACK_ETOOBIG);
    cr_expect_eq(fp, forged);
    cr_expect_str_eq(listpack_strerror(LISTPACK_ETOOBIG), "listpack would exceed 4 GiB");
    listpack_destroy(&acct, lp);
}

/* ------------------------------------------------------------ golden bytes */

/* Redis's recipes in make-listpack-fixtures.py, as entry lists. */
static const char *const golden_ints[] = {
    "0", "1", "127", "128", "-1", "4095", "4096", "-4096", "-4097", "32767", "32768", "-32768",
    "-32769", "8388607", "8388608", "-8388608", "-8388609", "2147483647", "2147483648",
    "-2147483648", "-2147483649", "9223372036854775807", "-9223372036854775808",
    /* lookalikes: strings */
    "-0", "01", " 1", "1 ", "+1", "9223372036854775808", "-9223372036854775809", "", "-", "00",
    "1a", "0x10", "1.5", "18446744073709551616"};
static const size_t golden_strlens[] = {0, 1, 63, 64, 125, 126, 4095, 4096, 16377, 16378};

static void strlen_value(unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)('a' + i % 26);
}

/* Compare ours with Redis's bytes, reporting the first difference. */
static void expect_same_bytes(const unsigned char *ours, const unsigned char *redis, size_t len,
                              const char *name)
{
    cr_assert_eq(listpack_bytes(ours), len, "%s: %u bytes, Redis wrote %zu", name,
                 listpack_bytes(ours), len);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(ours[i], redis[i], "%s: byte %zu is %02x, Redis wrote %02x", name, i, ours[i],
                     redis[i]);
}

/* Redis's blob is valid, walks both ways, and re-encoding each entry's
 * text with our encoder gives exactly its bytes. */
static void check_golden_reencodes(const char *file)
{
    size_t len;
    unsigned char *g = fixture(file, &len);
    cr_assert_eq(listpack_validate(g, len, true), 0, "%s", file);
    walk_both_ways(g);
    unsigned char *ours = lp_new();
    char buf[LISTPACK_INTBUF_SIZE];
    for (const unsigned char *p = listpack_first(g); p; p = listpack_next(g, p)) {
        size_t tl;
        const unsigned char *t = listpack_get_text(p, buf, &tl);
        push(&ours, t, tl);
    }
    expect_same_bytes(ours, g, len, file);
    listpack_destroy(&acct, ours);
    free(g);
}

Test(listpack, golden_redis7_reencode)
{
    check_golden_reencodes("hash-small.bin");
    check_golden_reencodes("hash-ints.bin");
    check_golden_reencodes("hash-strlen.bin");
    check_golden_reencodes("hash-many.bin");
    check_golden_reencodes("zset-small.bin");
}

Test(listpack, golden_redis7_from_recipes)
{
    size_t len;
    unsigned char *g, *ours;

    g = fixture("hash-small.bin", &len);
    ours = lp_new();
    push_str(&ours, "f1");
    push_str(&ours, "v1");
    push_str(&ours, "f2");
    push_str(&ours, "v2");
    expect_same_bytes(ours, g, len, "hash-small");
    listpack_destroy(&acct, ours);
    free(g);

    g = fixture("hash-ints.bin", &len);
    ours = lp_new();
    for (size_t i = 0; i < sizeof golden_ints / sizeof golden_ints[0]; i++) {
        push_str(&ours, golden_ints[i]); /* field */
        push_str(&ours, golden_ints[i]); /* value */
    }
    expect_same_bytes(ours, g, len, "hash-ints");
    listpack_destroy(&acct, ours);
    free(g);

    g = fixture("hash-strlen.bin", &len);
    ours = lp_new();
    unsigned char *val = malloc(16378);
    cr_assert_not_null(val);
    for (size_t i = 0; i < sizeof golden_strlens / sizeof golden_strlens[0]; i++) {
        char field[16];
        snprintf(field, sizeof field, "s%zu", golden_strlens[i]);
        push_str(&ours, field);
        strlen_value(val, golden_strlens[i]);
        push(&ours, val, golden_strlens[i]);
    }
    free(val);
    expect_same_bytes(ours, g, len, "hash-strlen");
    listpack_destroy(&acct, ours);
    free(g);

    g = fixture("hash-many.bin", &len);
    ours = lp_new();
    for (int i = 0; i < 300; i++) {
        char f[32], v[32];
        snprintf(f, sizeof f, "field:%d", i);
        snprintf(v, sizeof v, "%d", i * 7919 - 1000000);
        push_str(&ours, f);
        push_str(&ours, v);
    }
    expect_same_bytes(ours, g, len, "hash-many");
    /* Hash field lookup over Redis's blob: fields only (skip 1). */
    const unsigned char *p = listpack_find(g, listpack_first(g), "field:299", 9, 1);
    cr_assert_not_null(p);
    struct listpack_entry e;
    listpack_get(listpack_next(g, p), &e);
    cr_expect(e.str == NULL && e.num == 299 * 7919 - 1000000);
    listpack_destroy(&acct, ours);
    free(g);
}

/* ------------------------------------------------------------ iteration */

Test(listpack, empty)
{
    unsigned char *lp = lp_new();
    static const unsigned char want[] = {7, 0, 0, 0, 0, 0, 0xff};
    cr_assert_eq(memcmp(lp, want, sizeof want), 0);
    cr_expect_null(listpack_first(lp));
    cr_expect_null(listpack_last(lp));
    cr_expect_null(listpack_seek(lp, 0));
    cr_expect_null(listpack_seek(lp, -1));
    cr_expect_eq(listpack_count(lp), 0);
    cr_expect_null(listpack_find(lp, listpack_first(lp), "a", 1, 0));
    cr_expect_eq(listpack_validate(lp, 7, true), 0);
    listpack_destroy(&acct, lp);
}

Test(listpack, seek_positive_and_negative)
{
    unsigned char *lp = lp_new();
    for (int i = 0; i < 11; i++)
        cr_assert_eq(listpack_append_int(&acct, &lp, i * 1000), 0);
    for (int64_t i = -13; i < 13; i++) {
        const unsigned char *p = listpack_seek(lp, i);
        if (i < -11 || i >= 11) {
            cr_expect_null(p, "index %" PRId64, i);
            continue;
        }
        cr_assert_not_null(p, "index %" PRId64, i);
        struct listpack_entry e;
        listpack_get(p, &e);
        cr_expect_eq(e.num, (i < 0 ? i + 11 : i) * 1000, "index %" PRId64, i);
    }
    cr_expect_null(listpack_seek(lp, INT64_MIN));
    cr_expect_null(listpack_seek(lp, INT64_MAX));
    listpack_destroy(&acct, lp);
}

Test(listpack, find_with_skip_steps_over_values)
{
    unsigned char *lp = lp_new();
    /* field/value pairs where values look like other fields */
    const char *kv[] = {"a", "b", "b", "c", "7", "a", "c", "7", "-0", "x"};
    for (size_t i = 0; i < 10; i++)
        push_str(&lp, kv[i]);
    const unsigned char *first = listpack_first(lp);
    struct {
        const char *f;
        int64_t idx;
    } cases[] = {{"a", 0},  {"b", 2},  {"7", 4},   {"c", 6},
                 {"-0", 8}, {"x", -1}, {"07", -1}, {"", -1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const unsigned char *p = listpack_find(lp, first, cases[i].f, strlen(cases[i].f), 1);
        if (cases[i].idx < 0)
            cr_expect_null(p, "%s", cases[i].f);
        else
            cr_expect_eq(p, listpack_seek(lp, cases[i].idx), "%s", cases[i].f);
    }
    /* Without skip, values are seen too. */
    cr_expect_eq(listpack_find(lp, first, "x", 1, 0), listpack_seek(lp, 9));
    /* The integer 7 equals "7" only. */
    cr_expect(listpack_entry_eq(listpack_seek(lp, 4), "7", 1));
    cr_expect_not(listpack_entry_eq(listpack_seek(lp, 4), "07", 2));
    cr_expect_not(listpack_entry_eq(listpack_seek(lp, 4), "7 ", 2));
    cr_expect_null(listpack_find(lp, NULL, "a", 1, 1));
    listpack_destroy(&acct, lp);
}

/* ------------------------------------------------------------ editing */

/* Render a listpack as "a,b,c" for compact expectations. */
static void render(const unsigned char *lp, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (const unsigned char *p = listpack_first(lp); p; p = listpack_next(lp, p)) {
        char buf[LISTPACK_INTBUF_SIZE];
        size_t tl;
        const unsigned char *t = listpack_get_text(p, buf, &tl);
        o += (size_t)snprintf(out + o, cap - o, "%s%.*s", o ? "," : "", (int)tl, (const char *)t);
    }
}

Test(listpack, insert_replace_delete)
{
    char got[256];
    unsigned char *lp = lp_new();
    const unsigned char *p, *np;
    push_str(&lp, "b");
    cr_assert_eq(listpack_insert(&acct, &lp, listpack_first(lp), LISTPACK_BEFORE, "a", 1, &np), 0);
    cr_expect_eq(np, listpack_first(lp));
    cr_assert_eq(listpack_insert(&acct, &lp, listpack_last(lp), LISTPACK_AFTER, "100", 3, &np), 0);
    cr_expect_eq(np, listpack_last(lp));
    render(lp, got, sizeof got);
    cr_expect_str_eq(got, "a,b,100");
    /* Replace with something longer, then shorter, then an integer. */
    p = listpack_seek(lp, 1);
    char big[300];
    memset(big, 'z', sizeof big);
    cr_assert_eq(listpack_replace(&acct, &lp, p, big, sizeof big, &np), 0);
    cr_expect_eq(np, listpack_seek(lp, 1));
    cr_assert_eq(listpack_validate(lp, listpack_bytes(lp), true), 0);
    cr_assert_eq(listpack_replace(&acct, &lp, np, "B", 1, &np), 0);
    cr_assert_eq(listpack_replace_int(&acct, &lp, listpack_seek(lp, 2), -70000, &np), 0);
    render(lp, got, sizeof got);
    cr_expect_str_eq(got, "a,B,-70000");
    cr_expect_eq(listpack_count(lp), 3);
    /* Delete the middle: next is the old third; delete the last: NULL. */
    listpack_delete(&acct, &lp, listpack_seek(lp, 1), &np);
    cr_expect_eq(np, listpack_seek(lp, 1));
    listpack_delete(&acct, &lp, listpack_last(lp), &np);
    cr_expect_null(np);
    render(lp, got, sizeof got);
    cr_expect_str_eq(got, "a");
    listpack_delete(&acct, &lp, listpack_first(lp), NULL);
    cr_expect_eq(listpack_bytes(lp), LISTPACK_EMPTY_SIZE);
    cr_expect_eq(listpack_count(lp), 0);
    listpack_destroy(&acct, lp);
}

Test(listpack, count_past_65534_is_unknown)
{
    unsigned char *lp = lp_new();
    for (int i = 0; i < 65534; i++)
        cr_assert_eq(listpack_append_int(&acct, &lp, i & 127), 0);
    cr_expect_eq(lp[4] | lp[5] << 8, 65534);
    cr_assert_eq(listpack_append_int(&acct, &lp, 1), 0);
    cr_expect_eq(lp[4] | lp[5] << 8, LISTPACK_COUNT_UNKNOWN);
    cr_expect_eq(listpack_count(lp), 65535);
    cr_assert_eq(listpack_append_int(&acct, &lp, 2), 0);
    cr_expect_eq(listpack_count(lp), 65536);
    cr_expect_eq(listpack_validate(lp, listpack_bytes(lp), true), 0);
    struct listpack_entry e;
    listpack_get(listpack_seek(lp, -1), &e);
    cr_expect_eq(e.num, 2);
    listpack_get(listpack_seek(lp, 65534), &e);
    cr_expect_eq(e.num, 1);
    /* Deleting keeps the header unknown (as Redis does); the walk counts. */
    listpack_delete(&acct, &lp, listpack_first(lp), NULL);
    listpack_delete(&acct, &lp, listpack_first(lp), NULL);
    cr_expect_eq(lp[4] | lp[5] << 8, LISTPACK_COUNT_UNKNOWN);
    cr_expect_eq(listpack_count(lp), 65534);
    cr_expect_eq(listpack_validate(lp, listpack_bytes(lp), true), 0);
    /* A known count that is wrong is refused. */
    lp[4] = 0xfd;
    cr_expect_eq(listpack_validate(lp, listpack_bytes(lp), true), LISTPACK_ECORRUPT);
    listpack_destroy(&acct, lp);
}

/* A small deterministic generator: the runs are reproducible. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A random value: small and boundary integers, lookalikes, and strings of
 * lengths around the string encodings. */
static size_t random_value(char *buf, size_t cap)
{
    static const int64_t ints[] = {0,     127,    128,     -1,        4095,      4096,     -4097,
                                   32768, -32769, 8388608, INT32_MIN, INT64_MAX, INT64_MIN};
    switch (rnd() % 4) {
    case 0:
        return (size_t)snprintf(buf, cap, "%" PRId64, ints[rnd() % 13]);
    case 1:
        return (size_t)snprintf(buf, cap, "%" PRId64, (int64_t)rnd() >> (rnd() % 64));
    case 2: {
        static const char *const odd[] = {"-0", "01", " 1", "", "+5", "9223372036854775808"};
        const char *s = odd[rnd() % 6];
        return (size_t)snprintf(buf, cap, "%s", s);
    }
    default: {
        static const size_t lens[] = {1, 63, 64, 126, 4095, 4096};
        size_t n = lens[rnd() % 6];
        for (size_t i = 0; i < n && i < cap; i++)
            buf[i] = (char)('A' + rnd() % 26);
        return n;
    }
    }
}

/* The model: an array of owned strings. */
struct model {
    char *v[512];
    size_t len[512];
    size_t n;
};

static void model_insert(struct model *m, size_t at, const char *s, size_t len)
{
    memmove(m->v + at + 1, m->v + at, (m->n - at) * sizeof m->v[0]);
    memmove(m->len + at + 1, m->len + at, (m->n - at) * sizeof m->len[0]);
    m->v[at] = malloc(len + 1);
    cr_assert_not_null(m->v[at]);
    memcpy(m->v[at], s, len);
    m->len[at] = len;
    m->n++;
}

static void model_delete(struct model *m, size_t at)
{
    free(m->v[at]);
    memmove(m->v + at, m->v + at + 1, (m->n - at - 1) * sizeof m->v[0]);
    memmove(m->len + at, m->len + at + 1, (m->n - at - 1) * sizeof m->len[0]);
    m->n--;
}

static void model_check(const struct model *m, const unsigned char *lp, int step)
{
    cr_assert_eq(listpack_validate(lp, listpack_bytes(lp), true), 0, "step %d", step);
    cr_assert_eq(listpack_count(lp), m->n, "step %d", step);
    size_t i = 0;
    for (const unsigned char *p = listpack_first(lp); p; p = listpack_next(lp, p), i++)
        cr_assert(listpack_entry_eq(p, m->v[i], m->len[i]), "step %d entry %zu", step, i);
    cr_assert_eq(i, m->n);
    for (const unsigned char *p = listpack_last(lp); p; p = listpack_prev(lp, p)) {
        i--;
        cr_assert(listpack_entry_eq(p, m->v[i], m->len[i]), "step %d back %zu", step, i);
    }
}

Test(listpack, random_edits_match_a_model)
{
    static char buf[4200];
    rng_state = 0x9e3779b97f4a7c15ULL;
    struct model m = {.n = 0};
    unsigned char *lp = lp_new();
    for (int step = 0; step < 4000; step++) {
        unsigned op = (unsigned)(rnd() % 6);
        size_t len = random_value(buf, sizeof buf);
        if (m.n == 0 || (op == 0 && m.n < 500)) {
            push(&lp, buf, len);
            model_insert(&m, m.n, buf, len);
        } else if (op <= 2 && m.n < 500) {
            size_t at = rnd() % m.n;
            bool after = op == 2;
            const unsigned char *np;
            cr_assert_eq(listpack_insert(&acct, &lp, listpack_seek(lp, (int64_t)at),
                                         after ? LISTPACK_AFTER : LISTPACK_BEFORE, buf, len, &np),
                         0);
            model_insert(&m, at + after, buf, len);
            cr_assert_eq(np, listpack_seek(lp, (int64_t)(at + after)));
        } else if (op == 3) {
            size_t at = rnd() % m.n;
            cr_assert_eq(
                listpack_replace(&acct, &lp, listpack_seek(lp, (int64_t)at), buf, len, NULL), 0);
            model_delete(&m, at);
            model_insert(&m, at, buf, len);
        } else {
            size_t at = rnd() % m.n;
            listpack_delete(&acct, &lp, listpack_seek(lp, -(int64_t)(m.n - at)), NULL);
            model_delete(&m, at);
        }
        model_check(&m, lp, step);
    }
    while (m.n)
        model_delete(&m, 0);
    listpack_destroy(&acct, lp);
}

/* ------------------------------------------------------------ validation */

struct bad_case {
    const char *why;
    unsigned char b[24];
    size_t len;
};

#define B(why, ...)                                                                                \
    {                                                                                              \
        why, {__VA_ARGS__}, sizeof((unsigned char[]){__VA_ARGS__})                                 \
    }

static const struct bad_case bad_cases[] = {
    B("shorter than a header", 6, 0, 0, 0, 0, 0),
    B("no terminator", 7, 0, 0, 0, 0, 0, 0x00),
    B("size says 8", 8, 0, 0, 0, 0, 0, 0xff),
    B("count 1, no entries", 7, 0, 0, 0, 1, 0, 0xff),
    B("count 0, one entry", 9, 0, 0, 0, 0, 0, 0x05, 0x01, 0xff),
    B("stray terminator", 10, 0, 0, 0, 1, 0, 0xff, 0x05, 0x01, 0xff),
    B("encoding 0xF5", 9, 0, 0, 0, 1, 0, 0xf5, 0x01, 0xff),
    B("encoding 0xFE", 9, 0, 0, 0, 1, 0, 0xfe, 0x01, 0xff),
    B("backlen too big", 9, 0, 0, 0, 1, 0, 0x05, 0x02, 0xff),
    B("backlen flagged", 9, 0, 0, 0, 1, 0, 0x05, 0x81, 0xff),
    B("backlen missing", 8, 0, 0, 0, 1, 0, 0x05, 0xff),
    B("6-bit string past the end", 10, 0, 0, 0, 1, 0, 0x85, 'a', 0x06, 0xff),
    B("12-bit string past the end", 11, 0, 0, 0, 1, 0, 0xe0, 0x40, 'a', 0x02, 0xff),
    B("12-bit head cut", 8, 0, 0, 0, 1, 0, 0xe0, 0xff),
    B("32-bit string huge", 14, 0, 0, 0, 1, 0, 0xf0, 0xff, 0xff, 0xff, 0xff, 'a', 0x02, 0xff),
    B("64-bit int cut", 12, 0, 0, 0, 1, 0, 0xf4, 0, 0, 0, 0, 0xff),
    B("13-bit int cut", 8, 0, 0, 0, 1, 0, 0xc0, 0xff),
    B("backlen non-canonical 2 bytes", 10, 0, 0, 0, 1, 0, 0x05, 0x00, 0x81, 0xff),
};

Test(listpack, validate_rejects_hand_made_blobs)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        unsigned char *copy = malloc(c->len); /* exact size: ASan sees overreads */
        cr_assert_not_null(copy);
        memcpy(copy, c->b, c->len);
        cr_expect_eq(listpack_validate(copy, c->len, true), LISTPACK_ECORRUPT, "%s", c->why);
        free(copy);
    }
    /* Shallow validation checks only the header and terminator. */
    static const unsigned char bad_entry[] = {9, 0, 0, 0, 1, 0, 0xf5, 0x01, 0xff};
    cr_expect_eq(listpack_validate(bad_entry, sizeof bad_entry, false), 0);
    cr_expect_eq(listpack_validate(bad_entry, sizeof bad_entry, true), LISTPACK_ECORRUPT);
    cr_expect_eq(listpack_validate(bad_entry, 0, false), LISTPACK_ECORRUPT);
    /* Non-canonical encodings Redis would read are accepted: 5 as a 64-bit
     * integer, "ab" as a 12-bit string. */
    static const unsigned char wide[] = {21, 0, 0, 0, 2,    0,    0xf4, 5,   0,   0,   0,
                                         0,  0, 0, 0, 0x09, 0xe0, 0x02, 'a', 'b', 0x04};
    unsigned char ok[sizeof wide + 1];
    memcpy(ok, wide, sizeof wide);
    ok[0] = sizeof ok;
    ok[sizeof wide] = 0xff;
    cr_expect_eq(listpack_validate(ok, sizeof ok, true), 0);
    cr_expect(listpack_entry_eq(listpack_first(ok), "5", 1));
    cr_expect(listpack_entry_eq(listpack_last(ok), "ab", 2));
}

/* Validate a mutated copy in an exact-size buffer; if accepted, walk it. */
static void try_blob(const unsigned char *b, size_t len)
{
    unsigned char *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    if (len)
        memcpy(copy, b, len);
    if (listpack_validate(copy, len, true) == 0) {
        walk_both_ways(copy);
        char buf[LISTPACK_INTBUF_SIZE];
        for (const unsigned char *p = listpack_first(copy); p; p = listpack_next(copy, p)) {
            size_t tl;
            listpack_get_text(p, buf, &tl);
            listpack_entry_eq(p, "x", 1);
        }
    }
    free(copy);
}

static void truncations_and_corruptions(const char *file)
{
    size_t len;
    unsigned char *g = fixture(file, &len);
    unsigned char *m = malloc(len);
    cr_assert_not_null(m);
    for (size_t cut = 0; cut < len; cut++) {
        /* Plain truncation: refused (the size no longer matches). */
        cr_expect_eq(listpack_validate(g, cut, true), LISTPACK_ECORRUPT, "%s cut %zu", file, cut);
        /* Truncation with the header and terminator made to fit: the cut
         * lands inside some entry and must be refused, unless it falls
         * exactly between entries with a wrong count (also refused). */
        if (cut >= LISTPACK_EMPTY_SIZE) {
            memcpy(m, g, cut);
            m[0] = (unsigned char)cut;
            m[1] = (unsigned char)(cut >> 8);
            m[2] = m[3] = 0;
            m[cut - 1] = 0xff;
            try_blob(m, cut);
        }
    }
    static const unsigned char vals[] = {0x00, 0x01, 0x7f, 0x80, 0xbf, 0xc0, 0xdf, 0xe0,
                                         0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xfe, 0xff};
    for (size_t i = 0; i < len; i++) {
        memcpy(m, g, len);
        for (size_t v = 0; v < sizeof vals; v++) {
            m[i] = vals[v];
            try_blob(m, len);
        }
        m[i] = g[i] ^ 0x01;
        try_blob(m, len);
    }
    free(m);
    free(g);
}

Test(listpack, validate_every_truncation_and_corruption)
{
    truncations_and_corruptions("hash-small.bin");
    truncations_and_corruptions("hash-ints.bin");
    truncations_and_corruptions("zset-small.bin");
}

Test(listpack, create_from_a_validated_blob)
{
    size_t len;
    unsigned char *g = fixture("hash-ints.bin", &len);
    unsigned char *lp = listpack_create_from(&acct, g, len);
    cr_assert_not_null(lp);
    free(g);
    /* Edits work on a blob taken from Redis. */
    const unsigned char *p = listpack_find(lp, listpack_first(lp), "-0", 2, 1);
    cr_assert_not_null(p);
    cr_assert_eq(listpack_replace(&acct, &lp, listpack_next(lp, p), "changed", 7, NULL), 0);
    cr_expect(listpack_entry_eq(
        listpack_next(lp, listpack_find(lp, listpack_first(lp), "-0", 2, 1)), "changed", 7));
    cr_expect_eq(listpack_validate(lp, listpack_bytes(lp), true), 0);
    cr_expect_null(listpack_create_from(&acct, "", 0));
    listpack_destroy(&acct, lp);
}
