/* test_int64str.c — the shared canonical int64 parser (Redis's string2ll):
 * boundaries, non-canonical forms, and no write on failure. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "common/int64str.h"

Test(int64str, redis_string2ll_rules)
{
    static const struct {
        const char *s;
        bool ok;
        int64_t v;
    } t[] = {
        { "0", true, 0 },
        { "-1", true, -1 },
        { "9223372036854775807", true, INT64_MAX },
        { "-9223372036854775808", true, INT64_MIN },
        { "9223372036854775808", false, 0 },
        { "-9223372036854775809", false, 0 },
        { "18446744073709551616", false, 0 },
        { "-18446744073709551616", false, 0 },
        { "00", false, 0 },
        { "-0", false, 0 },
        { "-", false, 0 },
        { "", false, 0 },
        { "+1", false, 0 },
        { " 1", false, 0 },
        { "1a", false, 0 },
        { "000000000000000000001", false, 0 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t v = 12345;
        bool ok = int64str_parse(t[i].s, strlen(t[i].s), &v);
        cr_assert_eq(ok, t[i].ok, "\"%s\"", t[i].s);
        if (ok)
            cr_assert_eq(v, t[i].v, "\"%s\"", t[i].s);
        else
            cr_assert_eq(v, 12345, "\"%s\" wrote *v on failure", t[i].s);
    }
}
