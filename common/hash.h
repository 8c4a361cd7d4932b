/* hash.h — the seeded, flood-resistant key hash (SipHash-1-3). One 64-bit
 * hash per key: its high bits pick the shard, its low bits the bucket.
 * Pure and thread-safe once the seed is set. */
#ifndef SKV_COMMON_HASH_H
#define SKV_COMMON_HASH_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/* Set the process-wide 128-bit seed. Call once before any thread hashes;
 * hash_seed_random() fills it from the OS (getrandom) and returns 0, or a
 * negative errno if no randomness could be had (the seed then stays fixed). */
void hash_seed_set(const uint8_t seed[16]);
int hash_seed_random(void);

/* SipHash-1-3 of key[0..len) under the process seed. Binary-safe. */
uint64_t hash_key(const void *key, size_t len);

/* SipHash-1-3 of key[0..len) under an explicit seed (tests, other uses). */
uint64_t hash_siphash13(const uint8_t seed[16], const void *key, size_t len);

/* SipHash-2-4, the reference variant: lets tests check the shared code
 * against the published test vectors. */
uint64_t hash_siphash24(const uint8_t seed[16], const void *key, size_t len);

/* A hash already made of one key on this thread (hash_key_remember). */
struct hash_memo {
    const void *key; /* the key's bytes, by address; NULL: none */
    size_t len;      /* its length */
    uint64_t h;      /* hash_key(key, len) */
};
extern _Thread_local struct hash_memo hash_memo;

/* Remember that hash_key(key, len) is h, until hash_key_forget, so that
 * hash_key_of(key, len) returns it: a command's key, hashed once to route
 * it, is not hashed again by the map (a SipHash was 6% of a GET's
 * instructions). The bytes at key must not change meanwhile. Per thread. */
static inline void hash_key_remember(const void *key, size_t len, uint64_t h)
{
    hash_memo.key = key;
    hash_memo.len = len;
    hash_memo.h = h;
}

static inline void hash_key_forget(void)
{
    hash_memo.key = NULL;
}

/* hash_key(key, len): the remembered hash when key is the remembered key
 * (same address and length), else computed. Builds with assertions check
 * every use of the memo. */
static inline uint64_t hash_key_of(const void *key, size_t len)
{
    if (key == hash_memo.key && len == hash_memo.len) {
        assert(hash_memo.h == hash_key(key, len));
        return hash_memo.h;
    }
    return hash_key(key, len);
}

/* Pick a shard in [0, nshards) from a key hash. Uses the high 32 bits so the
 * bucket index (low bits) stays independent of the shard choice. */
static inline unsigned hash_shard(uint64_t h, unsigned nshards)
{
    return (unsigned)(((h >> 32) * (uint64_t)nshards) >> 32);
}

#endif
