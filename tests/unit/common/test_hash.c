/* test_hash.c — SipHash against the published vectors, seeding, routing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/hash.h"

static const uint8_t ref_key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

Test(hash, siphash24_reference_vectors)
{
    /* From the SipHash paper (key 00..0f, message 00..len-1). */
    uint8_t msg[16];
    for (int i = 0; i < 16; i++)
        msg[i] = (uint8_t)i;
    cr_assert_eq(hash_siphash24(ref_key, msg, 0), 0x726fdb47dd0e0e31ULL);
    cr_assert_eq(hash_siphash24(ref_key, msg, 1), 0x74f839c593dc67fdULL);
    cr_assert_eq(hash_siphash24(ref_key, msg, 15), 0xa129ca6149be45e5ULL);
}

Test(hash, siphash13_is_keyed_and_length_sensitive)
{
    uint8_t other[16];
    memcpy(other, ref_key, 16);
    other[15] ^= 1;
    const char k[] = "user:1000";
    cr_assert_neq(hash_siphash13(ref_key, k, 9), hash_siphash13(other, k, 9));
    /* A trailing NUL is part of a binary-safe key. */
    cr_assert_neq(hash_siphash13(ref_key, k, 9), hash_siphash13(ref_key, k, 10));
    cr_assert_eq(hash_siphash13(ref_key, k, 9), hash_siphash13(ref_key, k, 9));
}

Test(hash, process_seed_changes_hash_key)
{
    const char k[] = "abc";
    hash_seed_set(ref_key);
    uint64_t a = hash_key(k, 3);
    cr_assert_eq(a, hash_siphash13(ref_key, k, 3));
    cr_assert_eq(hash_seed_random(), 0);
    cr_assert_neq(hash_key(k, 3), a, "a random seed should change the hash (2^-64 flake)");
}

Test(hash, shard_pick_is_in_range_and_balanced)
{
    enum { N = 7, KEYS = 70000 };
    unsigned count[N] = {0};
    char key[32];
    for (int i = 0; i < KEYS; i++) {
        int n = snprintf(key, sizeof key, "key:%d", i);
        unsigned s = hash_shard(hash_key(key, (size_t)n), N);
        cr_assert_lt(s, N);
        count[s]++;
    }
    for (int s = 0; s < N; s++) /* expected 10000 each; 5 sigma is ~470 */
        cr_assert(count[s] > 9400 && count[s] < 10600, "shard %d got %u keys", s, count[s]);
    cr_assert_eq(hash_shard(0, 1), 0);
    cr_assert_eq(hash_shard(UINT64_MAX, 64), 63);
}
