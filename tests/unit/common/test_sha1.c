/* Unit tests for common/sha1.c: FIPS 180-1 vectors and the block edges. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/sha1.h"

static void check(const char *in, size_t n, const char *want)
{
    char hex[SHA1_HEX_LEN + 1];
    sha1_hex(in, n, hex);
    cr_assert_str_eq(hex, want, "input of %zu bytes", n);
}

Test(sha1, vectors)
{
    check("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check(two, strlen(two), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    /* Redis's name for "return 1" (SCRIPT LOAD replies it). */
    check("return 1", 8, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

Test(sha1, block_edges)
{
    /* 55, 56 and 64 bytes: the length fits in the tail block, then does
     * not, then the tail is empty. Digests from sha1sum. */
    char buf[65];
    memset(buf, 'a', sizeof buf);
    check(buf, 55, "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    check(buf, 56, "c2db330f6083854c99d4b5bfb6e8f29f201be699");
    check(buf, 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}
