/* sha1.h — SHA-1 (FIPS 180-1), for naming scripts as Redis does (the
 * lower-case hex digest of the body) and redis.sha1hex. Not for security:
 * SHA-1 is what the Redis protocol fixes. Pure and thread-safe. */
#ifndef SKV_COMMON_SHA1_H
#define SKV_COMMON_SHA1_H

#include <stddef.h>
#include <stdint.h>

/* Length of a hex digest, without the terminating NUL. */
#define SHA1_HEX_LEN 40

/* The SHA-1 digest of p[0..n) into out[20]. */
void sha1(const void *p, size_t n, uint8_t out[20]);

/* The lower-case hex digest of p[0..n) into hex[41], NUL-terminated. */
void sha1_hex(const void *p, size_t n, char hex[SHA1_HEX_LEN + 1]);

#endif
