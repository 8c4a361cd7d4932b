/* test_tval_rdb.c — shard/tval_rdb.c and rdb_legacy.c: DUMP payloads made by
 * a real redis-server 7.0 (tests/fixtures/dump, see make-dump-fixtures.py)
 * decoded into the encodings Redis's loader picks and written back byte for
 * byte where the encodings agree; round trips of values built in every
 * encoding; the older ziplist and zipmap blobs; and corrupt input: every
 * truncation, byte flips, duplicates, empty containers and impossible
 * counts, refused with nothing left allocated. Also the LZF compressor. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "shard/crc64.h"
#include "shard/intset.h"
#include "shard/kvmap.h"
#include "shard/listpack.h"
#include "shard/lzf.h"
#include "shard/quicklist.h"
#include "shard/rdb.h"
#include "shard/tval.h"
#include "shard/tval_rdb.h"

static struct mem_acct acct;
static const struct tval_limits lim = {128, 64, 512, 128, 64, -2, 0, 128, 64};

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

TestSuite(tval_rdb, .init = setup, .fini = teardown);

/* ------------------------------------------------------------ helpers */

static unsigned char *fixture(const char *name, size_t *len)
{
    char path[4096];
    const char *f = __FILE__;
    const char *cut = strstr(f, "tests/unit/shard/test_tval_rdb.c");
    cr_assert_not_null(cut, "cannot locate the repository from %s", f);
    snprintf(path, sizeof path, "%.*stests/fixtures/dump/%s.bin", (int)(cut - f), f, name);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "fixture %s missing", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    /* A DUMP payload: object, RDB version 10 (2 bytes LE), CRC64 (8 LE). */
    cr_assert_geq(n, 10);
    cr_assert_eq(buf[n - 10] | buf[n - 9] << 8, 10);
    uint64_t crc = crc64_update(0, buf, (size_t)n - 8), stored = 0;
    for (int i = 0; i < 8; i++)
        stored |= (uint64_t)buf[n - 8 + i] << (8 * i);
    cr_assert_eq(crc, stored, "fixture %s: bad CRC", name);
    *len = (size_t)n - 10;
    return buf;
}

/* Elements as sorted "field=value" (hash) or "member" lines, for comparing
 * two values whatever their encoding and order. */
struct lines {
    char **v;
    size_t n, cap;
};

static void lines_add(struct lines *l, const void *a, size_t an, const void *b, size_t bn,
                      bool pair)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    char *s = malloc(an + bn + 2);
    memcpy(s, a, an);
    size_t k = an;
    if (pair) {
        s[k++] = '=';
        memcpy(s + k, b, bn);
        k += bn;
    }
    s[k] = '\0';
    l->v[l->n++] = s;
}

struct walk {
    struct lines *l;
    bool pair;
};

static void walk_one(void *arg, const struct kventry *e)
{
    struct walk *w = arg;
    size_t kn, vn;
    char buf[21];
    const char *k = kventry_key(e, &kn);
    const char *v = kventry_value(e, buf, &vn);
    lines_add(w->l, k, kn, v, vn, w->pair);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct lines contents(const struct tval *tv)
{
    struct lines l = {0};
    bool pair = tv->type == TVAL_HASH;
    if (tv->enc == TVAL_ENC_LISTPACK) {
        for (const unsigned char *p = listpack_first(tv->u.lp); p; p = listpack_next(tv->u.lp, p)) {
            char b1[LISTPACK_INTBUF_SIZE], b2[LISTPACK_INTBUF_SIZE];
            size_t n1, n2 = 0;
            const unsigned char *s1 = listpack_get_text(p, b1, &n1), *s2 = NULL;
            if (pair) {
                p = listpack_next(tv->u.lp, p);
                s2 = listpack_get_text(p, b2, &n2);
            }
            lines_add(&l, s1, n1, s2, n2, pair);
        }
    } else if (tv->enc == TVAL_ENC_INTSET) {
        int64_t v;
        for (uint32_t i = 0; intset_get(tv->u.is, i, &v); i++) {
            char num[24];
            int n = snprintf(num, sizeof num, "%" PRId64, v);
            lines_add(&l, num, (size_t)n, NULL, 0, false);
        }
    } else {
        struct walk w = {&l, pair};
        uint64_t cur = 0;
        do
            cur = kvmap_scan(tv->u.ht, cur, 0, walk_one, &w);
        while (cur);
    }
    qsort(l.v, l.n, sizeof *l.v, cmp_str);
    return l;
}

static void lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static void expect_same(const struct tval *a, const struct tval *b)
{
    struct lines x = contents(a), y = contents(b);
    cr_assert_eq(x.n, y.n, "%zu elements vs %zu", x.n, y.n);
    for (size_t i = 0; i < x.n; i++)
        cr_assert_str_eq(x.v[i], y.v[i]);
    lines_free(&x);
    lines_free(&y);
}

static struct tval *decode_ok(const unsigned char *p, size_t len)
{
    struct tval *tv = NULL;
    size_t used = 0;
    char err[200];
    int rc = tval_rdb_decode(&acct, p, len, &lim, &tv, &used, err, sizeof err);
    cr_assert_eq(rc, 0, "decode failed: %d %s", rc, err);
    cr_assert_eq(used, len, "used %zu of %zu", used, len);
    return tv;
}

/* Decode must fail with code (or any error when code is 0) and leave
 * nothing allocated. */
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
    cr_assert_eq(acct.used, before, "a failed decode left %" PRId64 " bytes",
                 acct.used - before);
}

/* ------------------------------------------------------- Redis's payloads */

struct fx {
    const char *name; /* fixture */
    int type;         /* TVAL_* */
    int enc;          /* our encoding after loading */
    size_t len;       /* elements */
    bool identical;   /* our encoding writes Redis's bytes back */
};

static const struct fx fixtures[] = {
    {"hash-lp-small", TVAL_HASH, TVAL_ENC_LISTPACK, 2, true},
    {"hash-lp-ints", TVAL_HASH, TVAL_ENC_LISTPACK, 3, true},
    {"hash-lp-lzf", TVAL_HASH, TVAL_ENC_LISTPACK, 20, true},
    {"hash-ht-many", TVAL_HASH, TVAL_ENC_HASHTABLE, 200, false},
    {"hash-ht-long", TVAL_HASH, TVAL_ENC_HASHTABLE, 2, false},
    {"set-is-16", TVAL_SET, TVAL_ENC_INTSET, 4, true},
    {"set-is-64", TVAL_SET, TVAL_ENC_INTSET, 3, true},
    {"set-is-lzf", TVAL_SET, TVAL_ENC_INTSET, 100, true},
    {"set-ht-ints", TVAL_SET, TVAL_ENC_HASHTABLE, 600, false},
    /* A 7.0 hash-table set of 4 strings loads as our listpack, in the
     * payload's order, and goes back out as the same type-2 bytes. */
    {"set-ht-small", TVAL_SET, TVAL_ENC_LISTPACK, 4, true},
    {"set-ht-many", TVAL_SET, TVAL_ENC_HASHTABLE, 300, false},
};

Test(tval_rdb, redis_payloads_decode_and_encode_back)
{
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        const struct fx *f = &fixtures[i];
        size_t len;
        unsigned char *p = fixture(f->name, &len);
        struct tval *tv = decode_ok(p, len);
        cr_assert_eq(tv->type, f->type, "%s", f->name);
        cr_assert_eq(tv->enc, f->enc, "%s: encoding %s", f->name, tval_enc_name(tv));
        cr_assert_eq(tval_len(tv), f->len, "%s: %zu elements", f->name, tval_len(tv));
        struct tval_rdb_buf b = {0};
        cr_assert_eq(tval_rdb_encode(tv, &b), 0);
        if (f->identical) {
            cr_assert_eq(b.len, len, "%s: %zu bytes, Redis %zu", f->name, b.len, len);
            cr_assert(memcmp(b.p, p, len) == 0, "%s: bytes differ from Redis's", f->name);
        }
        struct tval *back = decode_ok(b.p, b.len);
        cr_assert_eq(back->enc, tv->enc, "%s", f->name);
        expect_same(tv, back);
        tval_free(&acct, back);
        tval_free(&acct, tv);
        tval_rdb_buf_free(&b);
        free(p);
    }
}

Test(tval_rdb, redis_strings_decode_and_encode_back)
{
    static const char *names[] = {"str-short", "str-int", "str-int64", "str-lzf", "str-plain"};
    static const char *values[] = {"hello", "12345", "1234567890123", NULL, NULL};
    for (size_t i = 0; i < 5; i++) {
        size_t len, vlen, used;
        unsigned char *p = fixture(names[i], &len);
        char *v = NULL;
        cr_assert_eq(tval_rdb_decode_string(p, len, &v, &vlen, &used, NULL, 0), 0);
        cr_assert_eq(used, len);
        if (values[i])
            cr_assert(vlen == strlen(values[i]) && memcmp(v, values[i], vlen) == 0);
        /* Re-encoded as type 0 + rdbSaveRawString: Redis's bytes. */
        struct tval_rdb_buf b = {0};
        unsigned char t = 0;
        b.p = malloc(1);
        b.p[0] = t;
        b.len = b.cap = 1;
        cr_assert_eq(tval_rdb_put_string(&b, v, vlen), 0);
        cr_assert_eq(b.len, len, "%s", names[i]);
        cr_assert(memcmp(b.p, p, len) == 0, "%s: bytes differ", names[i]);
        tval_rdb_buf_free(&b);
        free(v);
        free(p);
    }
}

Test(tval_rdb, every_truncation_and_flip_is_refused_or_sane)
{
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        size_t len;
        unsigned char *p = fixture(fixtures[i].name, &len);
        /* The object is self-delimiting: any prefix is incomplete. */
        for (size_t n = 0; n < len; n++)
            decode_fails(p, n, 0);
        /* Flipped bytes: an error, or a valid value; never a crash or a
         * leak (ASan and the account check). */
        unsigned char *q = malloc(len);
        for (size_t at = 0; at < len; at += 1 + len / 64) {
            for (int bit = 0; bit < 8; bit += 3) {
                memcpy(q, p, len);
                q[at] ^= (unsigned char)(1u << bit);
                struct tval *tv = NULL;
                if (tval_rdb_decode(&acct, q, len, &lim, &tv, NULL, NULL, 0) == 0)
                    tval_free(&acct, tv);
            }
        }
        free(q);
        free(p);
    }
}

/* ------------------------------------------------------- built payloads */

/* A hand-made RDB_TYPE_HASH / RDB_TYPE_SET payload. */
static size_t build_counted(unsigned char *out, int type, const char *const *s, size_t n)
{
    size_t k = 0;
    out[k++] = (unsigned char)type;
    k += rdb_encode_len(out + k, type == RDB_TYPE_HASH ? n / 2 : n);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(s[i]);
        k += rdb_encode_len(out + k, l);
        memcpy(out + k, s[i], l);
        k += l;
    }
    return k;
}

Test(tval_rdb, loader_rules_pick_the_encoding)
{
    unsigned char buf[65536];
    const char *ints[] = {"3", "1", "2"};
    const char *mixed[] = {"3", "a", "2"};
    const char *pairs[] = {"f", "1", "g", "2"};
    struct tval *tv;

    tv = decode_ok(buf, build_counted(buf, RDB_TYPE_SET, ints, 3));
    cr_assert_eq(tv->enc, TVAL_ENC_INTSET);
    tval_free(&acct, tv);
    /* A non-integer turns the intset into a listpack, integers first. */
    tv = decode_ok(buf, build_counted(buf, RDB_TYPE_SET, mixed, 3));
    cr_assert_eq(tv->enc, TVAL_ENC_LISTPACK);
    cr_assert_eq(tval_len(tv), 3);
    tval_free(&acct, tv);
    tv = decode_ok(buf, build_counted(buf, RDB_TYPE_HASH, pairs, 4));
    cr_assert_eq(tv->enc, TVAL_ENC_LISTPACK);
    tval_free(&acct, tv);
    /* A value over hash-max-listpack-value: a hash table. */
    char big[80];
    memset(big, 'x', 65);
    big[65] = '\0';
    const char *longval[] = {"f", "1", "g", big};
    tv = decode_ok(buf, build_counted(buf, RDB_TYPE_HASH, longval, 4));
    cr_assert_eq(tv->enc, TVAL_ENC_HASHTABLE);
    cr_assert_eq(tval_len(tv), 2);
    tval_free(&acct, tv);
    /* 129 strings: over set-max-listpack-entries. */
    static char names[200][8];
    const char *many[200];
    for (int i = 0; i < 200; i++) {
        snprintf(names[i], sizeof names[i], "m%d", i);
        many[i] = names[i];
    }
    tv = decode_ok(buf, build_counted(buf, RDB_TYPE_SET, many, 128));
    cr_assert_eq(tv->enc, TVAL_ENC_LISTPACK);
    tval_free(&acct, tv);
    tv = decode_ok(buf, build_counted(buf, RDB_TYPE_SET, many, 129));
    cr_assert_eq(tv->enc, TVAL_ENC_HASHTABLE);
    cr_assert_eq(tval_len(tv), 129);
    tval_free(&acct, tv);
}

Test(tval_rdb, duplicates_empty_and_impossible_counts_are_refused)
{
    unsigned char buf[65536];
    const char *dupset[] = {"1", "2", "1"};
    const char *dupstr[] = {"a", "b", "a"};
    const char *duphash[] = {"f", "1", "f", "2"};
    decode_fails(buf, build_counted(buf, RDB_TYPE_SET, dupset, 3), TVAL_RDB_ECORRUPT);
    decode_fails(buf, build_counted(buf, RDB_TYPE_SET, dupstr, 3), TVAL_RDB_ECORRUPT);
    decode_fails(buf, build_counted(buf, RDB_TYPE_HASH, duphash, 4), TVAL_RDB_ECORRUPT);
    /* Duplicates found by the scratch map (past DUP_LINEAR_MAX) and by
     * the hash table (past the listpack threshold). */
    static char names[300][8];
    const char *many[301];
    for (int i = 0; i < 300; i++) {
        snprintf(names[i], sizeof names[i], "m%d", i);
        many[i] = names[i];
    }
    many[100] = "m6"; /* a field too when read as pairs */
    decode_fails(buf, build_counted(buf, RDB_TYPE_SET, many, 120), TVAL_RDB_ECORRUPT);
    decode_fails(buf, build_counted(buf, RDB_TYPE_SET, many, 300), TVAL_RDB_ECORRUPT);
    decode_fails(buf, build_counted(buf, RDB_TYPE_HASH, many, 120), TVAL_RDB_ECORRUPT);
    decode_fails(buf, build_counted(buf, RDB_TYPE_HASH, many, 300), TVAL_RDB_ECORRUPT);
    /* Empty. */
    decode_fails(buf, build_counted(buf, RDB_TYPE_SET, NULL, 0), TVAL_RDB_EEMPTY);
    decode_fails(buf, build_counted(buf, RDB_TYPE_HASH, NULL, 0), TVAL_RDB_EEMPTY);
    /* A count of 2^62 with three bytes behind it: refused up front. */
    unsigned char huge[] = {RDB_TYPE_SET, 0x81, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 'a', 1};
    decode_fails(huge, sizeof huge, TVAL_RDB_ECORRUPT);
    /* LZF whose stated plain length is far past what its bytes can hold. */
    unsigned char lzf[] = {RDB_TYPE_SET_INTSET, 0xC3, 2, 0x80, 0x10, 0, 0, 0, 0, 0};
    decode_fails(lzf, sizeof lzf, TVAL_RDB_ECORRUPT);
    /* Unknown types. */
    unsigned char stream[] = {RDB_TYPE_STREAM_LISTPACKS, 1, 1, 'a'};
    decode_fails(stream, sizeof stream, TVAL_RDB_ETYPE);
    decode_fails(stream, 0, TVAL_RDB_ECORRUPT);
}

/* ------------------------------------------------------- round trips */

static struct tval *build(int type, int enc, int n, int vlen)
{
    struct tval *tv = tval_new(&acct, type, enc);
    char k[32], v[128];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < n; i++) {
        int kn = type == TVAL_SET && enc == TVAL_ENC_INTSET ? snprintf(k, sizeof k, "%d", i * 7 - 50)
                                                           : snprintf(k, sizeof k, "key:%d", i);
        switch (enc) {
        case TVAL_ENC_LISTPACK:
            if (!tv->u.lp)
                tv->u.lp = listpack_create(&acct);
            cr_assert_eq(listpack_append(&acct, &tv->u.lp, k, (size_t)kn), 0);
            if (type == TVAL_HASH)
                cr_assert_eq(listpack_append(&acct, &tv->u.lp, v, (size_t)vlen), 0);
            break;
        case TVAL_ENC_INTSET:
            if (!tv->u.is)
                tv->u.is = intset_create(&acct);
            cr_assert_eq(intset_add(&acct, &tv->u.is, i * 7 - 50, NULL), 0);
            break;
        default:
            if (!tv->u.ht)
                tv->u.ht = kvmap_create(&acct);
            cr_assert_eq(kvmap_set(tv->u.ht, k, (size_t)kn, v, type == TVAL_HASH ? (size_t)vlen : 0,
                                   KVMAP_NO_EXPIRE, 0),
                         1);
            break;
        }
    }
    return tv;
}

Test(tval_rdb, every_encoding_round_trips)
{
    static const struct {
        int type, enc, n, vlen;
    } cases[] = {
        {TVAL_HASH, TVAL_ENC_LISTPACK, 1, 0},   {TVAL_HASH, TVAL_ENC_LISTPACK, 100, 30},
        {TVAL_HASH, TVAL_ENC_HASHTABLE, 1000, 100}, {TVAL_SET, TVAL_ENC_INTSET, 1, 0},
        {TVAL_SET, TVAL_ENC_INTSET, 500, 0},     {TVAL_SET, TVAL_ENC_LISTPACK, 50, 0},
        {TVAL_SET, TVAL_ENC_HASHTABLE, 5000, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tval *tv = build(cases[i].type, cases[i].enc, cases[i].n, cases[i].vlen);
        struct tval_rdb_buf b = {0};
        cr_assert_eq(tval_rdb_encode(tv, &b), 0);
        struct tval *back = decode_ok(b.p, b.len);
        cr_assert_eq(back->type, tv->type);
        cr_assert_eq(back->enc, tv->enc, "case %zu: %s came back %s", i, tval_enc_name(tv),
                     tval_enc_name(back));
        expect_same(tv, back);
        /* A file record: expiry, type, key, then the same payload. */
        struct tval_rdb_buf r = {0};
        cr_assert_eq(tval_rdb_encode_record(&r, "key", 3, tv, 1234), 0);
        cr_assert_eq(r.len, 9 + b.len + 4);
        cr_assert_eq(r.p[0], RDB_OPCODE_EXPIRETIME_MS);
        cr_assert_eq(r.p[9], b.p[0]);
        cr_assert(memcmp(r.p + 14, b.p + 1, b.len - 1) == 0);
        tval_rdb_buf_free(&r);
        tval_free(&acct, back);
        tval_free(&acct, tv);
        tval_rdb_buf_free(&b);
    }
}

/* ------------------------------------------------------- ziplist, zipmap */

/* A ziplist of string entries (each under 64 bytes) and small integers. */
static size_t build_ziplist(unsigned char *out, const char *const *s, size_t n)
{
    size_t k = 10, prev = 0, last = 10;
    for (size_t i = 0; i < n; i++) {
        size_t start = k, l = strlen(s[i]);
        out[k++] = (unsigned char)prev;
        if (l == 1 && s[i][0] >= '0' && s[i][0] <= '9') {
            out[k++] = (unsigned char)(0xF1 + (s[i][0] - '0')); /* immediate 0..9 */
        } else {
            out[k++] = (unsigned char)l;
            memcpy(out + k, s[i], l);
            k += l;
        }
        prev = k - start;
        last = start;
    }
    out[k++] = 0xFF;
    for (int i = 0; i < 4; i++) {
        out[i] = (unsigned char)(k >> (8 * i));
        out[4 + i] = (unsigned char)(last >> (8 * i));
    }
    out[8] = (unsigned char)n;
    out[9] = 0;
    return k;
}

/* Wrap a blob as an RDB object of type t (a plain RDB string). */
static size_t wrap(unsigned char *out, int t, const unsigned char *blob, size_t n)
{
    size_t k = 0;
    out[k++] = (unsigned char)t;
    k += rdb_encode_len(out + k, n);
    memcpy(out + k, blob, n);
    return k + n;
}

Test(tval_rdb, ziplist_and_zipmap_hashes)
{
    unsigned char zl[512], obj[600];
    const char *pairs[] = {"name", "shardkv", "n", "7", "empty", ""};
    size_t n = build_ziplist(zl, pairs, 6);
    struct tval *tv = decode_ok(obj, wrap(obj, RDB_TYPE_HASH_ZIPLIST, zl, n));
    cr_assert_eq(tv->enc, TVAL_ENC_LISTPACK);
    struct lines l = contents(tv);
    cr_assert_eq(l.n, 3);
    cr_assert_str_eq(l.v[0], "empty=");
    cr_assert_str_eq(l.v[1], "n=7");
    cr_assert_str_eq(l.v[2], "name=shardkv");
    lines_free(&l);
    tval_free(&acct, tv);
    /* Corruptions: a wrong prevlen, a wrong tail, an odd count, a dup. */
    unsigned char bad[512];
    memcpy(bad, zl, n);
    bad[10 + 6] ^= 1; /* the second entry's prevlen */
    decode_fails(obj, wrap(obj, RDB_TYPE_HASH_ZIPLIST, bad, n), TVAL_RDB_ECORRUPT);
    memcpy(bad, zl, n);
    bad[4] ^= 1;
    decode_fails(obj, wrap(obj, RDB_TYPE_HASH_ZIPLIST, bad, n), TVAL_RDB_ECORRUPT);
    n = build_ziplist(zl, pairs, 5);
    decode_fails(obj, wrap(obj, RDB_TYPE_HASH_ZIPLIST, zl, n), TVAL_RDB_ECORRUPT);
    const char *dups[] = {"a", "1", "a", "2"};
    n = build_ziplist(zl, dups, 4);
    decode_fails(obj, wrap(obj, RDB_TYPE_HASH_ZIPLIST, zl, n), TVAL_RDB_ECORRUPT);

    /* Zipmap: count 2, "ab" -> "xyz" (1 free byte), "c" -> "". */
    unsigned char zm[] = {2, 2, 'a', 'b', 3, 1, 'x', 'y', 'z', 0, 1, 'c', 0, 0, 0xFF};
    tv = decode_ok(obj, wrap(obj, RDB_TYPE_HASH_ZIPMAP, zm, sizeof zm));
    l = contents(tv);
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.v[0], "ab=xyz");
    cr_assert_str_eq(l.v[1], "c=");
    lines_free(&l);
    tval_free(&acct, tv);
    zm[0] = 3; /* count disagrees */
    decode_fails(obj, wrap(obj, RDB_TYPE_HASH_ZIPMAP, zm, sizeof zm), TVAL_RDB_ECORRUPT);
    zm[0] = 2;
    zm[4] = 9; /* value runs past the end */
    decode_fails(obj, wrap(obj, RDB_TYPE_HASH_ZIPMAP, zm, sizeof zm), TVAL_RDB_ECORRUPT);
}

/* ------------------------------------------------------- LZF */

Test(tval_rdb, lzf_compress_round_trips)
{
    static unsigned char in[100000], out[110000], back[100000];
    unsigned seed = 1;
    for (size_t len = 1; len < sizeof in; len = len * 3 + 1) {
        for (int kind = 0; kind < 3; kind++) {
            for (size_t i = 0; i < len; i++) {
                seed = seed * 1103515245u + 12345u;
                in[i] = kind == 0 ? (unsigned char)(seed >> 16) : kind == 1 ? 'a' + (seed >> 16) % 3 : 'z';
            }
            size_t c = lzf_compress(in, len, out, sizeof out);
            cr_assert_gt(c, 0);
            cr_assert(lzf_decompress(out, c, back, len));
            cr_assert(memcmp(in, back, len) == 0);
            /* Too little room: 0, never an overflow. */
            if (c > 1)
                cr_assert_eq(lzf_compress(in, len, out, c - 1), 0);
        }
    }
}

/* ------------------------------------------------------- the file loader */

/* What on_object saw: each object decoded on the spot. */
struct objs {
    int n;           /* objects reported */
    size_t elements; /* their elements */
    int strings;     /* string keys */
};

static int obj_string(void *arg, uint64_t db, const char *key, size_t klen, const char *val,
                      size_t vlen, int64_t exp)
{
    ((struct objs *)arg)->strings++;
    return 0;
}

static int obj_object(void *arg, uint64_t db, const char *key, size_t klen,
                      const unsigned char *obj, size_t olen, int64_t exp)
{
    struct objs *o = arg;
    struct tval *tv = decode_ok(obj, olen);
    o->n++;
    o->elements += tval_len(tv);
    tval_free(&acct, tv);
    return 0;
}

static char *rdb_fixture(const char *name, size_t *len)
{
    char path[4096];
    const char *f = __FILE__;
    const char *cut = strstr(f, "tests/unit/shard/test_tval_rdb.c");
    snprintf(path, sizeof path, "%.*stests/fixtures/%s", (int)(cut - f), f, name);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "fixture %s missing", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static int load_objs(const char *data, size_t len, size_t max_read, size_t max_object,
                     struct objs *o, struct rdb_load_result *res)
{
    struct rdb_mem_reader r = {(const unsigned char *)data, len, 0, max_read};
    struct rdb_load_opts opts = {
        .limits = {0, 0, max_object},
        .flags = RDB_LOAD_SKIP_UNKNOWN,
        .arg = o,
        .on_string = obj_string,
        .on_object = obj_object,
    };
    memset(o, 0, sizeof *o);
    return rdb_load(rdb_mem_read, &r, &opts, res);
}

Test(tval_rdb, loader_hands_over_redis_hashes_sets_lists_and_zsets)
{
    size_t len;
    char *data = rdb_fixture("redis7-mixed.rdb", &len);
    struct objs o;
    struct rdb_load_result res;
    /* Whole reads, and one byte per read (every object split across
     * refills of the loader's buffer). */
    for (size_t max_read = 0; max_read <= 1; max_read++) {
        cr_assert_eq(load_objs(data, len, max_read, 0, &o, &res), 0, "%s", res.msg);
        cr_assert_eq(o.n, 8); /* mylist, biglist, myhash, bighash, myset, intset, myz, bigz */
        cr_assert_eq(o.elements, 5 + 2 + 2 + 130 + 3 + 3 + 2 + 130);
        cr_assert_eq(o.strings, 3);
        cr_assert_eq(res.objects, 8);
        cr_assert_eq(res.keys, 11);
        cr_assert_eq(res.skipped, 1); /* the stream */
    }
    /* An object over the limit is refused before it is held whole. */
    cr_assert_eq(load_objs(data, len, 0, 64, &o, &res), RDB_ETOOBIG);
    cr_assert_not_null(strstr(res.msg, "key '"), "%s", res.msg);
    /* Without the skip flag the stream stops the load, named. */
    struct rdb_mem_reader r = {(const unsigned char *)data, len, 0, 0};
    struct rdb_load_opts opts = {.arg = &o, .on_string = obj_string, .on_object = obj_object};
    cr_assert_eq(rdb_load(rdb_mem_read, &r, &opts, &res), RDB_ETYPE);
    cr_assert_not_null(strstr(res.msg, "only strings, hashes, sets, lists and sorted sets are loaded"), "%s", res.msg);
    /* Every truncation: refused. */
    for (size_t n = 0; n < len; n += 7)
        cr_assert_lt(load_objs(data, n, 0, 0, &o, &res), 0, "prefix of %zu bytes loaded", n);
    free(data);
}

/* ------------------------------------------------------------------ lists */

/* The elements of list tv, joined by ',' into out. */
static void list_text(const struct tval *tv, char *out, size_t cap)
{
    struct quicklist_iter it;
    struct listpack_entry e;
    size_t k = 0;
    out[0] = '\0';
    quicklist_iter_init(&it, &acct, tv->u.ql, 0, true);
    while (quicklist_iter_next(&it, &e) == 1) {
        int n = e.str ? snprintf(out + k, cap - k, "%s%.*s", k ? "," : "", (int)e.len, e.str)
                      : snprintf(out + k, cap - k, "%s%lld", k ? "," : "", (long long)e.num);
        k += (size_t)n;
    }
    quicklist_iter_release(&it);
}

/* Decode, check type, encoding and elements, and that the re-encoding
 * (type 18) decodes to the same elements. */
static void list_decodes_to(const unsigned char *p, size_t len, const char *want)
{
    char got[512], again[512];
    struct tval *tv = decode_ok(p, len);
    cr_assert_eq(tv->type, TVAL_LIST);
    cr_assert_eq(tv->enc, TVAL_ENC_QUICKLIST);
    list_text(tv, got, sizeof got);
    cr_assert_str_eq(got, want);
    struct tval_rdb_buf b = {0};
    cr_assert_eq(tval_rdb_encode(tv, &b), 0);
    cr_assert_eq(b.p[0], RDB_TYPE_LIST_QUICKLIST_2);
    struct tval *back = decode_ok(b.p, b.len);
    list_text(back, again, sizeof again);
    cr_assert_str_eq(again, want);
    tval_free(&acct, back);
    tval_free(&acct, tv);
    tval_rdb_buf_free(&b);
}

/* A two-entry ziplist: "a", then the integer 2 (0xF3: the 4-bit form). */
static const unsigned char ziplist2[] = {16, 0, 0, 0, 13, 0, 0, 0, 2, 0,
                                         0, 0x01, 'a', 3, 0xF3, 0xFF};

Test(tval_rdb, lists_of_every_type_redis_loads)
{
    /* 1: counted strings, one integer-encoded. */
    unsigned char plain[] = {RDB_TYPE_LIST, 3, 1, 'a', 2, 'b', 'c', 0xC0, 5};
    list_decodes_to(plain, sizeof plain, "a,bc,5");
    /* 10: one ziplist; 14: a quicklist of ziplists, an empty node skipped. */
    unsigned char zl[64], ql[64];
    size_t n = 0, m = 0;
    zl[n++] = RDB_TYPE_LIST_ZIPLIST;
    zl[n++] = sizeof ziplist2;
    memcpy(zl + n, ziplist2, sizeof ziplist2);
    n += sizeof ziplist2;
    list_decodes_to(zl, n, "a,2");
    static const unsigned char empty_zl[] = {11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0xFF};
    ql[m++] = RDB_TYPE_LIST_QUICKLIST;
    ql[m++] = 2;
    ql[m++] = sizeof empty_zl;
    memcpy(ql + m, empty_zl, sizeof empty_zl);
    m += sizeof empty_zl;
    ql[m++] = sizeof ziplist2;
    memcpy(ql + m, ziplist2, sizeof ziplist2);
    m += sizeof ziplist2;
    list_decodes_to(ql, m, "a,2");
    /* 18: a PLAIN node, then a PACKED one. */
    unsigned char *lp = listpack_create(&acct);
    cr_assert_eq(listpack_append(&acct, &lp, "x", 1), 0);
    cr_assert_eq(listpack_append(&acct, &lp, "42", 2), 0);
    unsigned char q2[128];
    size_t k = 0;
    q2[k++] = RDB_TYPE_LIST_QUICKLIST_2;
    q2[k++] = 2;
    q2[k++] = 1; /* PLAIN */
    q2[k++] = 3;
    memcpy(q2 + k, "big", 3);
    k += 3;
    q2[k++] = 2; /* PACKED */
    q2[k++] = (unsigned char)listpack_bytes(lp);
    memcpy(q2 + k, lp, listpack_bytes(lp));
    k += listpack_bytes(lp);
    listpack_destroy(&acct, lp);
    list_decodes_to(q2, k, "big,x,42");
    /* Bad containers, corrupt blobs, empty lists and lying counts. */
    unsigned char badc[] = {RDB_TYPE_LIST_QUICKLIST_2, 1, 3, 1, 'a'};
    decode_fails(badc, sizeof badc, TVAL_RDB_ECORRUPT);
    unsigned char badlp[] = {RDB_TYPE_LIST_QUICKLIST_2, 1, 2, 3, 'a', 'b', 'c'};
    decode_fails(badlp, sizeof badlp, TVAL_RDB_ECORRUPT);
    zl[6] ^= 1; /* the ziplist's tail offset */
    decode_fails(zl, n, TVAL_RDB_ECORRUPT);
    unsigned char none[] = {RDB_TYPE_LIST_QUICKLIST_2, 0};
    decode_fails(none, sizeof none, TVAL_RDB_EEMPTY);
    unsigned char only_empty[16] = {RDB_TYPE_LIST_QUICKLIST, 1, sizeof empty_zl};
    memcpy(only_empty + 3, empty_zl, sizeof empty_zl);
    decode_fails(only_empty, 3 + sizeof empty_zl, TVAL_RDB_EEMPTY);
    unsigned char empty1[] = {RDB_TYPE_LIST, 0};
    decode_fails(empty1, sizeof empty1, TVAL_RDB_EEMPTY);
    unsigned char lying[] = {RDB_TYPE_LIST, 0x81, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 'a'};
    decode_fails(lying, sizeof lying, TVAL_RDB_ECORRUPT);
    for (size_t cut = 0; cut < k; cut++)
        decode_fails(q2, cut, 0);
}

Test(tval_rdb, big_compressed_list_round_trip)
{
    struct tval *tv = tval_new(&acct, TVAL_LIST, TVAL_ENC_QUICKLIST);
    tv->u.ql = quicklist_create(&acct, 8, 1);
    char e[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(e, sizeof e, "element-%d", i);
        cr_assert_eq(quicklist_push(&acct, tv->u.ql, QUICKLIST_TAIL, e, (size_t)n), 0);
    }
    struct tval_rdb_buf b = {0};
    cr_assert_eq(tval_rdb_encode(tv, &b), 0);
    struct tval *back = decode_ok(b.p, b.len);
    cr_assert_eq(tval_len(back), 1000);
    cr_assert_eq(quicklist_node_count(back->u.ql), quicklist_node_count(tv->u.ql));
    struct tval_rdb_buf b2 = {0};
    cr_assert_eq(tval_rdb_encode(back, &b2), 0);
    cr_assert_eq(b2.len, b.len);
    cr_assert_eq(memcmp(b2.p, b.p, b.len), 0);
    /* A copy is the same list. */
    struct tval *copy = tval_copy(&acct, tv);
    cr_assert_not_null(copy);
    cr_assert_eq(tval_len(copy), 1000);
    cr_assert_str_eq(tval_enc_name(copy), "quicklist");
    tval_free(&acct, copy);
    tval_free(&acct, back);
    tval_free(&acct, tv);
    while (tval_lazyfree_step(1000000000))
        ;
    tval_rdb_buf_free(&b);
    tval_rdb_buf_free(&b2);
    cr_assert_eq(acct.used, 0);
}
