/* test_ketama.c — MD5, twemproxy's fnv1a_64 and the ketama ring.
 *
 * How the expected values were derived (none comes from this code):
 * - MD5: RFC 1321 appendix A.5 test suite, plus Python's hashlib.md5.
 * - fnv1a_64 and ring values: an independent Python reimplementation of
 *   twemproxy's hashkit (hash_fnv1a_64 with 32-bit state and signed-char
 *   widening; ketama_update's float points-per-server formula, MD5 of
 *   "<name>-<i>" via hashlib, four little-endian words per digest, sorted;
 *   ketama_dispatch's first point >= hash, wrapping).
 * - The 3-server placements ("place3") were then confirmed against a real
 *   nutcracker 0.5.0 (Debian's /usr/sbin/nutcracker, `hash: fnv1a_64`,
 *   `distribution: ketama`) in front of three redis-servers named
 *   "127.0.0.1:6379/6380/6381" (the default names of those addresses): each
 *   key was SET through the proxy and found on the listed server.
 *   tests/integration/test_client_ketama.py repeats that check on every run
 *   when nutcracker is installed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "client/md5.h"
#include "client/shardkv.h"

static void hex(const unsigned char d[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

Test(md5, rfc1321_vectors)
{
    static const struct {
        const char *in, *out;
    } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"1234567890123456789012345678901234567890123456789012345678901234567890"
         "1234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
        /* hashlib.md5(b"127.0.0.1:6379-0"): the first ketama string. */
        {"127.0.0.1:6379-0", "0657b78baa661008fec6986c779eff28"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        unsigned char d[16];
        char h[33];
        md5_digest(v[i].in, strlen(v[i].in), d);
        hex(d, h);
        cr_assert_str_eq(h, v[i].out, "md5(%s)", v[i].in);
    }
    /* Lengths around the padding boundary (hashlib.md5(b"x" * n)). */
    static const struct {
        size_t n;
        const char *out;
    } x[] = {
        {55, "04364420e25c512fd958a70738aa8f72"}, {56, "668a72d5ba17f08e62dabcafad6db14b"},
        {63, "7dc2ca208106a2f703567bdff99d8981"}, {64, "c1bb4f81d892b2d57947682aeb252456"},
        {65, "1bc932052302d074bdec39795fe00cf6"}, {128, "d69cb61a6ee87200676eb0d4b90edbcb"},
    };
    char buf[128];
    memset(buf, 'x', sizeof(buf));
    for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++) {
        unsigned char d[16];
        char h[33];
        md5_digest(buf, x[i].n, d);
        hex(d, h);
        cr_assert_str_eq(h, x[i].out, "%zu x", x[i].n);
    }
}

Test(ketama, fnv1a_64_twemproxy)
{
    cr_assert_eq(skv_hash_fnv1a_64("", 0), 0x84222325u);
    cr_assert_eq(skv_hash_fnv1a_64("a", 1), 0x8601ec8cu);
    cr_assert_eq(skv_hash_fnv1a_64("foo", 3), 0xfed9d577u);
    cr_assert_eq(skv_hash_fnv1a_64("hello world", 11), 0x023cd2e7u);
    /* High bytes are widened as signed char, as twemproxy does on x86. */
    cr_assert_eq(skv_hash_fnv1a_64("\xff\x80key", 5), 0x9b091321u);
}

static const char *const keys[] = {"foo", "bar",         "user:1000",   "user:1001", "{user}:1",
                                   "a",   "session:xyz", "\xff\x80key", ""};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

Test(ketama, three_servers_default_names)
{
    struct skv_server s[3] = {
        {"127.0.0.1", 6379, 1, NULL}, {"127.0.0.1", 6380, 1, NULL}, {"127.0.0.1", 6381, 1, NULL}};
    struct skv_ring *r = skv_ring_create(s, 3, NULL);
    cr_assert_not_null(r);
    cr_assert_eq(skv_ring_points(r), 480);
    size_t srv;
    /* The first four and last two points of the sorted continuum. */
    static const uint32_t first[4] = {0x0132528e, 0x016533c4, 0x01bfc610, 0x024dd117};
    static const size_t first_srv[4] = {0, 1, 1, 0};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(skv_ring_point(r, (size_t)i, &srv), first[i], "point %d", i);
        cr_assert_eq(srv, first_srv[i]);
    }
    cr_assert_eq(skv_ring_point(r, 478, &srv), 0xff1c54e4u);
    cr_assert_eq(srv, 2);
    cr_assert_eq(skv_ring_point(r, 479, &srv), 0xffa67730u);
    cr_assert_eq(srv, 2);
    /* place3: confirmed against nutcracker (see the file comment). */
    static const size_t place[NKEYS] = {2, 0, 2, 2, 1, 0, 2, 2, 0};
    for (size_t i = 0; i < NKEYS; i++)
        cr_assert_eq(skv_ring_locate(r, keys[i], strlen(keys[i])), place[i], "key %zu", i);
    skv_ring_destroy(r);

    /* With hash_tag "{}" only "user" is hashed for "{user}:1". */
    r = skv_ring_create(s, 3, "{}");
    static const size_t tagged[NKEYS] = {2, 0, 2, 2, 0, 0, 2, 2, 0};
    for (size_t i = 0; i < NKEYS; i++)
        cr_assert_eq(skv_ring_locate(r, keys[i], strlen(keys[i])), tagged[i], "key %zu", i);
    cr_assert_eq(skv_ring_locate(r, "{user}:1", 8), skv_ring_locate(r, "user", 4));
    /* An empty tag "{}" means the whole key is hashed, as in twemproxy. */
    struct skv_ring *plain = skv_ring_create(s, 3, NULL);
    for (int k = 0; k < 50; k++) {
        char key[32];
        int n = snprintf(key, sizeof(key), "x{}y%d", k);
        cr_assert_eq(skv_ring_locate(r, key, (size_t)n), skv_ring_locate(plain, key, (size_t)n));
    }
    skv_ring_destroy(plain);
    skv_ring_destroy(r);
}

Test(ketama, weighted)
{
    struct skv_server s[2] = {{"10.0.0.1", 6379, 1, NULL}, {"10.0.0.2", 6379, 3, NULL}};
    struct skv_ring *r = skv_ring_create(s, 2, NULL);
    cr_assert_not_null(r);
    /* floor(0.25 * 160 / 4 * 2) * 4 = 80 and floor(0.75 * 40 * 2) * 4 = 240. */
    cr_assert_eq(skv_ring_points(r), 320);
    size_t per[2] = {0, 0};
    for (size_t i = 0; i < skv_ring_points(r); i++) {
        size_t srv;
        skv_ring_point(r, i, &srv);
        per[srv]++;
    }
    cr_assert_eq(per[0], 80);
    cr_assert_eq(per[1], 240);
    static const size_t place[NKEYS] = {1, 1, 0, 0, 1, 1, 1, 1, 1};
    for (size_t i = 0; i < NKEYS; i++)
        cr_assert_eq(skv_ring_locate(r, keys[i], strlen(keys[i])), place[i], "key %zu", i);
    skv_ring_destroy(r);
}

Test(ketama, names_and_port_11211)
{
    /* Port 11211 hashes "10.0.0.1-i"; named servers hash "<name>-i". */
    struct skv_server s[3] = {{"10.0.0.1", 11211, 1, NULL},
                              {"10.0.0.2", 6379, 1, "alpha"},
                              {"10.0.0.3", 6379, 1, "beta"}};
    struct skv_ring *r = skv_ring_create(s, 3, NULL);
    size_t srv;
    cr_assert_eq(skv_ring_point(r, 0, &srv), 0x00800cf9u);
    cr_assert_eq(srv, 1);
    cr_assert_eq(skv_ring_point(r, 1, &srv), 0x022ebb07u);
    cr_assert_eq(srv, 2);
    static const size_t place[NKEYS] = {1, 0, 2, 2, 2, 0, 0, 1, 1};
    for (size_t i = 0; i < NKEYS; i++)
        cr_assert_eq(skv_ring_locate(r, keys[i], strlen(keys[i])), place[i], "key %zu", i);
    skv_ring_destroy(r);
}

Test(ketama, single_server_and_bad_args)
{
    struct skv_server s = {"h", 1, 1, NULL};
    struct skv_ring *r = skv_ring_create(&s, 1, NULL);
    cr_assert_eq(skv_ring_locate(r, "anything", 8), 0);
    skv_ring_destroy(r);
    cr_assert_null(skv_ring_create(&s, 0, NULL));
    struct skv_server z = {"h", 1, 0, NULL};
    cr_assert_null(skv_ring_create(&z, 1, NULL), "weight 0 is refused");
    cr_assert_null(skv_ring_create(&s, 1, "{"), "hash_tag must be two chars");
}
