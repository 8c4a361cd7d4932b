/* int64str.h — Redis's string2ll: the one definition of "this string is a
 * 64-bit integer" that the map (integer encoding) and the commands (INCR,
 * EXPIRE, SELECT ...) share. Pure; any thread. */
#ifndef SKV_COMMON_INT64STR_H
#define SKV_COMMON_INT64STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest int64 in decimal: "-9223372036854775808" (Redis's LONG_STR_SIZE
 * less its NUL). */
#define INT64STR_MAX 20

/* Parse s[0..len) with Redis's string2ll rules: optional '-', then digits
 * without leading zeros ("0" itself is fine, "-0" is not), no '+', no
 * spaces, in int64 range. Exactly the strings that print back identically,
 * which is what makes the map's integer encoding lossless. Returns true
 * with *out set; false leaves *out untouched. */
bool int64str_parse(const char *s, size_t len, int64_t *out);

#endif
