/* int64str.c — canonical int64 parsing (Redis's string2ll rules). */
#include "common/int64str.h"

bool int64str_parse(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > INT64STR_MAX)
        return false;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-') {
        neg = true;
        if (++i == len)
            return false;
    }
    /* The first digit is 1-9: "0" alone was handled, "01" and "-0" are not
     * canonical and Redis refuses them. */
    if (s[i] < '1' || s[i] > '9')
        return false;
    uint64_t acc = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9 || acc > (UINT64_MAX - d) / 10)
            return false;
        acc = acc * 10 + d;
    }
    if (neg) {
        if (acc > (uint64_t)INT64_MAX + 1)
            return false;
        /* Two's complement negation through unsigned: no signed overflow
         * for INT64_MIN. */
        *out = (int64_t)(0 - acc);
    } else {
        if (acc > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)acc;
    }
    return true;
}
