/* test_tval_rdb_zset.c — sorted sets through the RDB object codec
 * (shard/tval_rdb_zset.c): Redis 7.0's two types round trip, the older ones
 * (12 ziplist, 3 text scores) load, the loader's encoding rules hold, and
 * bad payloads (NaN, duplicates, odd blobs, truncations) are refused with
 * nothing left allocated. Redis's own payloads are checked against a real
 * redis-server in tests/integration/test_types_rdb.py. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "shard/rdb.h"
#include "shard/tval.h"
#include "shard/tval_rdb.h"
#include "shard/zset.h"

static struct mem_acct acct;
static const struct tval_limits lim = {128, 64, 512, 128, 64, -2, 0, 4, 8};
static const struct zset_limits zlim = {4, 8};

static void setup(void)
{
    memset(&acct, 0, sizeof acct);
}

static void teardown(void)
{
    while (tval_lazyfree_step(1000000000))
        ;
    cr_expect_eq(acct.used, 0, "%" PRId64 " bytes still charged", acct.used);
}

TestSuite(tval_rdb_zset, .init = setup, .fini = teardown);

static struct tval *decode_ok(const unsigned char *p, size_t len)
{
    struct tval *tv = NULL;
    size_t used = 0;
    char err[200];
    int rc = tval_rdb_decode(&acct, p, len, &lim, &tv, &used, err, sizeof err);
    cr_assert_eq(rc, 0, "decode failed: %d %s", rc, err);
    cr_assert_eq(used, len, "used %zu of %zu", used, len);
    cr_assert_eq(tv->type, TVAL_ZSET);
    cr_assert_eq(zset_check(tv), 0);
    return tv;
}

static void decode_fails(const unsigned char *p, size_t len, int code)
{
    struct tval *tv = NULL;
    int64_t before = acct.used;
    char err[200];
    int rc = tval_rdb_decode(&acct, p, len, &lim, &tv, NULL, err, sizeof err);
    if (code)
        cr_assert_eq(rc, code, "rc %d (%s), wanted %d", rc, err, code);
    else
        cr_assert_lt(rc, 0, "decoded %zu bytes of corrupt input", len);
    cr_assert(err[0] != '\0', "no error text");
    cr_assert_eq(acct.used, before, "a failed decode left %" PRId64 " bytes", acct.used - before);
}

static void expect_elem(const struct tval *tv, size_t r, const char *m, double score)
{
    struct zset_elem e;
    cr_assert(zset_at(tv, r, &e));
    cr_assert_eq(e.len, strlen(m));
    cr_assert_eq(memcmp(e.m, m, e.len), 0, "rank %zu: %.*s", r, (int)e.len, e.m);
    if (isinf(score))
        cr_assert(isinf(e.score) && (e.score > 0) == (score > 0));
    else
        cr_assert_eq(e.score, score, "rank %zu: %.17g", r, e.score);
}

static struct tval *make(size_t n, size_t mlen)
{
    struct tval *tv = zset_create(&acct, &zlim, 0, 0);
    cr_assert_not_null(tv);
    for (size_t i = 0; i < n; i++) {
        char m[64];
        snprintf(m, sizeof m, "%0*zu", (int)mlen, i);
        int out;
        cr_assert_eq(zset_add(&acct, tv, &zlim, m, strlen(m), (double)i / 3, 0, &out, NULL), 0);
    }
    return tv;
}

Test(tval_rdb_zset, both_encodings_round_trip_with_redis_types)
{
    for (size_t n = 1; n <= 40; n += 13) {
        for (size_t mlen = 1; mlen <= 12; mlen += 11) {
            struct tval *tv = make(n, mlen);
            struct tval_rdb_buf b = {0};
            cr_assert_eq(tval_rdb_encode(tv, &b), 0);
            bool small = n <= zlim.max_listpack_entries && mlen <= zlim.max_listpack_value;
            cr_assert_eq(b.p[0], small ? RDB_TYPE_ZSET_LISTPACK : RDB_TYPE_ZSET_2);
            struct tval *back = decode_ok(b.p, b.len);
            cr_assert_eq(back->enc, tv->enc, "n %zu mlen %zu", n, mlen);
            cr_assert_eq(zset_len(back), n);
            struct tval_rdb_buf b2 = {0};
            cr_assert_eq(tval_rdb_encode(back, &b2), 0);
            cr_assert_eq(b2.len, b.len);
            cr_assert_eq(memcmp(b2.p, b.p, b.len), 0, "re-encoding differs");
            tval_rdb_buf_free(&b);
            tval_rdb_buf_free(&b2);
            tval_free(&acct, tv);
            tval_free(&acct, back);
        }
    }
}

Test(tval_rdb_zset, text_scores_and_ziplists_load)
{
    /* RDB_TYPE_ZSET: 3 elements, scores as text, 254 = +inf, 255 = -inf. */
    static const unsigned char t3[] = {RDB_TYPE_ZSET, 3, 1, 'a', 3, '1', '.', '5', 1, 'b', 254,
                                       1, 'c', 255};
    struct tval *tv = decode_ok(t3, sizeof t3);
    expect_elem(tv, 0, "c", -INFINITY);
    expect_elem(tv, 1, "a", 1.5);
    expect_elem(tv, 2, "b", INFINITY);
    tval_free(&acct, tv);
    /* 253 is NaN: corrupt, as Redis finds it. */
    static const unsigned char nan3[] = {RDB_TYPE_ZSET, 1, 1, 'a', 253};
    decode_fails(nan3, sizeof nan3, TVAL_RDB_ECORRUPT);
    /* A ziplist of member, score pairs (an immediate integer score and a
     * text one), as Redis 2.6-6.x wrote them. */
    unsigned char zl[64], obj[80];
    size_t k = 10, prev = 0, last = 10;
    const char *ent[] = {"x", "7", "y", "2.25"};
    for (size_t i = 0; i < 4; i++) {
        size_t start = k, l = strlen(ent[i]);
        zl[k++] = (unsigned char)prev;
        if (l == 1 && ent[i][0] >= '0' && ent[i][0] <= '9') {
            zl[k++] = (unsigned char)(0xF1 + (ent[i][0] - '0'));
        } else {
            zl[k++] = (unsigned char)l;
            memcpy(zl + k, ent[i], l);
            k += l;
        }
        prev = k - start;
        last = start;
    }
    zl[k++] = 0xFF;
    for (int i = 0; i < 4; i++) {
        zl[i] = (unsigned char)(k >> (8 * i));
        zl[4 + i] = (unsigned char)(last >> (8 * i));
    }
    zl[8] = 4;
    zl[9] = 0;
    size_t n = 0;
    obj[n++] = RDB_TYPE_ZSET_ZIPLIST;
    n += rdb_encode_len(obj + n, k);
    memcpy(obj + n, zl, k);
    n += k;
    tv = decode_ok(obj, n);
    cr_assert_eq(tv->enc, TVAL_ENC_LISTPACK);
    expect_elem(tv, 0, "y", 2.25);
    expect_elem(tv, 1, "x", 7);
    tval_free(&acct, tv);
    /* Every truncation of it is refused. */
    for (size_t cut = 0; cut < n; cut++)
        decode_fails(obj, cut, 0);
}

Test(tval_rdb_zset, loader_picks_redis_encodings)
{
    /* A ZSET_2 of 3 short members: a listpack; with a member over the
     * value limit (8 here): a tree; 5 members (over 4): a tree. */
    unsigned char p[256];
    const char *sets[][5] = {{"a", "b", "c"}, {"a", "longer-than-8", "c"},
                             {"a", "b", "c", "d", "e"}};
    const size_t counts[] = {3, 3, 5};
    const int want[] = {TVAL_ENC_LISTPACK, TVAL_ENC_SKIPLIST, TVAL_ENC_SKIPLIST};
    for (int s = 0; s < 3; s++) {
        size_t k = 0;
        p[k++] = RDB_TYPE_ZSET_2;
        k += rdb_encode_len(p + k, counts[s]);
        for (size_t i = 0; i < counts[s]; i++) {
            size_t l = strlen(sets[s][i]);
            p[k++] = (unsigned char)l;
            memcpy(p + k, sets[s][i], l);
            k += l;
            double d = (double)i;
            memcpy(p + k, &d, 8); /* little-endian hosts only, as the codec's tests */
            k += 8;
        }
        struct tval *tv = decode_ok(p, k);
        cr_assert_eq(tv->enc, want[s], "set %d", s);
        cr_assert_eq(zset_len(tv), counts[s]);
        tval_free(&acct, tv);
    }
    /* A listpack blob stays a listpack up to the entry count whatever its
     * members' lengths (Redis checks only the count when loading one). */
    struct tval *big = make(3, 12);
    cr_assert_eq(big->enc, TVAL_ENC_SKIPLIST);
    struct zset_limits loose = {128, 64};
    cr_assert_eq(zset_convert_listpack_if_fits(&acct, big, &loose), 0);
    cr_assert_eq(big->enc, TVAL_ENC_LISTPACK);
    struct tval_rdb_buf b = {0};
    cr_assert_eq(tval_rdb_encode(big, &b), 0);
    struct tval *back = decode_ok(b.p, b.len);
    cr_assert_eq(back->enc, TVAL_ENC_LISTPACK);
    tval_rdb_buf_free(&b);
    tval_free(&acct, back);
    tval_free(&acct, big);
}

/* A ZSET_2 payload: count, then each member (under 64 bytes) and its
 * score's little-endian bits. */
static size_t zset2_payload(unsigned char *p, size_t n, const char *const *m, const double *sc)
{
    size_t k = 0;
    p[k++] = RDB_TYPE_ZSET_2;
    k += rdb_encode_len(p + k, n);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(m[i]);
        p[k++] = (unsigned char)l;
        memcpy(p + k, m[i], l);
        k += l;
        uint64_t bits;
        memcpy(&bits, &sc[i], sizeof bits);
        for (int b = 0; b < 8; b++)
            p[k++] = (unsigned char)(bits >> (8 * b));
    }
    return k;
}

Test(tval_rdb_zset, negative_zero_kept_as_redis_loads_it)
{
    /* Found by fuzz_restore (corpus/restore/zset-skiplist-negzero.bin):
     * -0.0 first, then a member over the value limit. Redis loads the
     * whole set into its skiplist and keeps -0.0; building it as a
     * listpack first turned -0.0 into the integer 0, so the set DUMPed
     * back with 0.0 and a second RESTORE and DUMP gave other bytes. */
    unsigned char p[128];
    const char *m[] = {"a", "longer-than-8"};
    const double sc[] = {-0.0, -1.0};
    size_t k = zset2_payload(p, 2, m, sc);
    struct tval *tv = decode_ok(p, k);
    cr_assert_eq(tv->enc, TVAL_ENC_SKIPLIST);
    struct zset_elem e;
    cr_assert(zset_at(tv, 1, &e));
    cr_assert(e.len == 1 && e.m[0] == 'a');
    cr_assert(e.score == 0 && signbit(e.score), "-0.0 came back as %g", e.score);
    /* Redis writes the highest first, which is this very payload. */
    struct tval_rdb_buf b = {0};
    cr_assert_eq(tval_rdb_encode(tv, &b), 0);
    cr_assert_eq(b.len, k);
    cr_assert_eq(memcmp(b.p, p, k), 0, "DUMP of the loaded set differs from the payload");
    tval_rdb_buf_free(&b);
    tval_free(&acct, tv);
    /* A set that fits a listpack becomes one once loaded, and there -0.0
     * is the integer 0, as in Redis (its ZSCORE then says "0"). */
    const char *ms[] = {"a", "b"};
    k = zset2_payload(p, 2, ms, sc);
    tv = decode_ok(p, k);
    cr_assert_eq(tv->enc, TVAL_ENC_LISTPACK);
    cr_assert(zset_at(tv, 1, &e));
    cr_assert(e.len == 1 && e.m[0] == 'a');
    cr_assert(e.score == 0 && !signbit(e.score));
    tval_free(&acct, tv);
}

Test(tval_rdb_zset, bad_payloads_are_refused)
{
    /* Duplicates, NaN, empty, odd listpacks, counts the input cannot hold. */
    static const unsigned char dup[] = {RDB_TYPE_ZSET, 2, 1, 'a', 1, '1', 1, 'a', 1, '2'};
    decode_fails(dup, sizeof dup, TVAL_RDB_ECORRUPT);
    static const unsigned char empty[] = {RDB_TYPE_ZSET_2, 0};
    decode_fails(empty, sizeof empty, TVAL_RDB_EEMPTY);
    static const unsigned char huge[] = {RDB_TYPE_ZSET_2, 0x80, 0x7f, 0xff, 0xff, 0xff, 1, 'a'};
    decode_fails(huge, sizeof huge, TVAL_RDB_ECORRUPT);
    static const unsigned char badtext[] = {RDB_TYPE_ZSET, 1, 1, 'a', 2, '1', 'x'};
    decode_fails(badtext, sizeof badtext, TVAL_RDB_ECORRUPT);
    unsigned char nan2[] = {RDB_TYPE_ZSET_2, 1, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0};
    double d = NAN;
    memcpy(nan2 + 4, &d, 8);
    decode_fails(nan2, sizeof nan2, TVAL_RDB_ECORRUPT);
    /* An odd listpack: the member without its score. */
    struct tval *tv = make(2, 1);
    struct tval_rdb_buf b = {0};
    cr_assert_eq(tval_rdb_encode(tv, &b), 0);
    for (size_t cut = 0; cut < b.len; cut++)
        decode_fails(b.p, cut, 0);
    /* Flipping any byte gives an error or a valid set, never a crash. */
    for (size_t i = 1; i < b.len; i++) {
        unsigned char save = b.p[i];
        b.p[i] ^= 0x5a;
        struct tval *out = NULL;
        if (tval_rdb_decode(&acct, b.p, b.len, &lim, &out, NULL, NULL, 0) == 0) {
            cr_assert_eq(zset_check(out), 0);
            tval_free(&acct, out);
        }
        b.p[i] = save;
    }
    tval_rdb_buf_free(&b);
    tval_free(&acct, tv);
}
