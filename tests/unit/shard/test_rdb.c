/* test_rdb.c — the RDB file format: CRC64, writer → loader round trips
 * (binary data, integer encodings, expiries, several dbs, every read split),
 * corruption (every byte flipped, every truncation, trailing bytes), header
 * and version checks, LZF decoding, limits, every non-string type refused by
 * name or skipped, and files written by a real redis-server 7.0
 * (tests/fixtures, see make-redis7-fixtures.py). Files built by hand in
 * this test use their own encoder, not the writer's. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "shard/crc64.h"
#include "shard/rdb.h"

/* ------------------------------------------------------------ helpers */

/* A growable byte buffer: the writer's sink, and the builder of files. */
struct bytes {
    unsigned char *p;
    size_t len, cap;
    int fail_after; /* sink: fail the call after this many (-1 = never) */
};

static void add(struct bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        cr_assert_not_null(b->p);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void add_byte(struct bytes *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    add(b, &c, 1);
}

/* Length encoding, written independently of rdb.c. wide forces the 32-bit
 * (1) or 64-bit (2) forms. */
static void add_len_w(struct bytes *b, uint64_t v, int wide)
{
    if (!wide && v < 64) {
        add_byte(b, (unsigned)v);
    } else if (!wide && v < 16384) {
        add_byte(b, 0x40 | (unsigned)(v >> 8));
        add_byte(b, (unsigned)(v & 0xff));
    } else if (wide != 2 && v <= UINT32_MAX) {
        add_byte(b, 0x80);
        for (int i = 3; i >= 0; i--)
            add_byte(b, (unsigned)(v >> (8 * i)) & 0xff);
    } else {
        add_byte(b, 0x81);
        for (int i = 7; i >= 0; i--)
            add_byte(b, (unsigned)(v >> (8 * i)) & 0xff);
    }
}

static void add_len(struct bytes *b, uint64_t v)
{
    add_len_w(b, v, 0);
}

static void add_str(struct bytes *b, const char *s)
{
    add_len(b, strlen(s));
    add(b, s, strlen(s));
}

static void add_le(struct bytes *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        add_byte(b, (unsigned)(v >> (8 * i)) & 0xff);
}

/* "REDIS00NN" */
static void add_header(struct bytes *b, int version)
{
    char h[16];
    snprintf(h, sizeof h, "REDIS%04d", version);
    add(b, h, 9);
}

/* EOF opcode and the CRC64 of everything before it. */
static void add_trailer(struct bytes *b)
{
    add_byte(b, 0xFF);
    add_le(b, crc64_update(0, b->p, b->len), 8);
}

static int sink(void *arg, const void *buf, size_t len)
{
    struct bytes *b = arg;
    cr_assert_gt(len, 0, "sink called with len 0");
    if (b->fail_after == 0)
        return -5;
    if (b->fail_after > 0)
        b->fail_after--;
    add(b, buf, len);
    return 0;
}

/* What a load reported. */
struct rec {
    uint64_t db;     /* database number */
    char *key, *val; /* owned copies, NUL-terminated for messages */
    size_t klen, vlen;
    int64_t exp; /* absolute expiry in ms, or -1 */
};

struct got {
    struct rec *r;                  /* on_string calls, in order */
    size_t n, cap;                  /* used and allocated entries of r */
    uint64_t selects, resizes, aux; /* calls of the other callbacks */
    char redis_ver[32];             /* the redis-ver AUX value */
    uint64_t progress_calls;        /* on_progress calls ... */
    uint64_t last_progress_bytes;   /* ... and the figures of the last one */
    uint64_t last_progress_keys;
    int fail_on_key; /* on_string returns -77 for this key index (-1 = never) */
};

static void got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->r[i].key);
        free(g->r[i].val);
    }
    free(g->r);
    memset(g, 0, sizeof *g);
    g->fail_on_key = -1;
}

static char *dup_bytes(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    cr_assert_not_null(d);
    memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

static int on_string(void *arg, uint64_t db, const char *key, size_t klen, const char *val,
                     size_t vlen, int64_t exp)
{
    struct got *g = arg;
    if (g->fail_on_key >= 0 && (size_t)g->fail_on_key == g->n)
        return -77;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 16;
        g->r = realloc(g->r, g->cap * sizeof *g->r);
        cr_assert_not_null(g->r);
    }
    g->r[g->n++] = (struct rec){db, dup_bytes(key, klen), dup_bytes(val, vlen), klen, vlen, exp};
    return 0;
}

static int on_select(void *arg, uint64_t db)
{
    ((struct got *)arg)->selects++;
    return 0;
}

static int on_resize(void *arg, uint64_t db, uint64_t keys, uint64_t expires)
{
    ((struct got *)arg)->resizes++;
    return 0;
}

static int on_aux(void *arg, const char *name, size_t nlen, const char *val, size_t vlen)
{
    struct got *g = arg;
    g->aux++;
    if (nlen == 9 && memcmp(name, "redis-ver", 9) == 0 && vlen < sizeof g->redis_ver) {
        memcpy(g->redis_ver, val, vlen);
        g->redis_ver[vlen] = '\0';
    }
    return 0;
}

static void on_progress(void *arg, uint64_t bytes, uint64_t keys)
{
    struct got *g = arg;
    g->progress_calls++;
    g->last_progress_bytes = bytes;
    g->last_progress_keys = keys;
}

/* Load data[0..len) with flags, max_read bytes per read call (0 = all). */
static int load_ex(const void *data, size_t len, unsigned flags, size_t max_read,
                   struct rdb_limits lim, struct got *g, struct rdb_load_result *res)
{
    struct rdb_mem_reader r = {.data = data, .len = len, .max_read = max_read};
    struct rdb_load_opts o = {
        .limits = lim,
        .flags = flags,
        .arg = g,
        .on_select_db = on_select,
        .on_resize_db = on_resize,
        .on_aux = on_aux,
        .on_string = on_string,
        .on_progress = on_progress,
        .progress_every = 4096,
    };
    int rc = rdb_load(rdb_mem_read, &r, &o, res);
    if (rc != 0) {
        cr_assert_neq(res->msg[0], '\0', "error %d without a message", rc);
        cr_assert(strncmp(res->msg, "offset ", 7) == 0, "message without offset: %s", res->msg);
    } else {
        cr_assert_eq(res->msg[0], '\0');
        cr_assert_eq(res->bytes, len, "consumed %" PRIu64 " of %zu", res->bytes, len);
    }
    return rc;
}

static int load(const void *data, size_t len, unsigned flags, struct got *g,
                struct rdb_load_result *res)
{
    return load_ex(data, len, flags, 0, (struct rdb_limits){0}, g, res);
}

/* Fixture path: the repository root is three levels above this file. */
static char *fixture(const char *name, size_t *len)
{
    char path[4096];
    const char *f = __FILE__;
    const char *cut = strstr(f, "tests/unit/shard/test_rdb.c");
    FILE *fp;
    char *buf;
    long n;

    cr_assert_not_null(cut, "cannot locate the repository from %s", f);
    snprintf(path, sizeof path, "%.*stests/fixtures/%s", (int)(cut - f), f, name);
    fp = fopen(path, "rb");
    cr_assert_not_null(fp, "fixture %s missing", path);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static const struct rec *find(const struct got *g, uint64_t db, const char *key, size_t klen)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->r[i].db == db && g->r[i].klen == klen && memcmp(g->r[i].key, key, klen) == 0)
            return &g->r[i];
    return NULL;
}

static void expect_key(const struct got *g, uint64_t db, const char *key, size_t klen,
                       const char *val, size_t vlen, int64_t exp)
{
    const struct rec *r = find(g, db, key, klen);
    cr_assert_not_null(r, "key '%.*s' missing in db %" PRIu64, (int)klen, key, db);
    cr_assert_eq(r->vlen, vlen, "key '%.*s': length %zu, expected %zu", (int)klen, key, r->vlen,
                 vlen);
    cr_assert_eq(memcmp(r->val, val, vlen), 0, "key '%.*s': wrong value", (int)klen, key);
    cr_assert_eq(r->exp, exp, "key '%.*s': expiry %" PRId64 ", expected %" PRId64, (int)klen, key,
                 r->exp, exp);
}

#define EXPECT(g, db, k, v, e) expect_key((g), (db), (k), strlen(k), (v), strlen(v), (e))

/* ------------------------------------------------------------- a corpus */

/* Values that test the integer encodings at and around every boundary,
 * and texts that look numeric but must stay strings. */
static const char *const int_like[] = {
    "0",
    "1",
    "-1",
    "127",
    "128",
    "-128",
    "-129",
    "255",
    "256",
    "32767",
    "32768",
    "-32768",
    "-32769",
    "65535",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999",
    "007",
    "-0",
    "+5",
    " 5",
    "5 ",
    "1e3",
    "0x10",
    "-",
    "",
    "00",
    "12345678901",
};
#define N_INT_LIKE (sizeof int_like / sizeof int_like[0])

/* The model written by write_model: several dbs, binary keys, integer-like
 * keys and values, expiries, an empty key, and one value bigger than the
 * writer's buffer. */
struct model {
    struct rec r[2100];
    size_t n;
};

static void model_add(struct model *m, uint64_t db, const void *k, size_t kl, const void *v,
                      size_t vl, int64_t exp)
{
    cr_assert_lt(m->n, sizeof m->r / sizeof m->r[0]);
    m->r[m->n++] = (struct rec){db, dup_bytes(k, kl), dup_bytes(v, vl), kl, vl, exp};
}

static void model_build(struct model *m)
{
    char k[64], v[300];
    m->n = 0;
    for (size_t i = 0; i < N_INT_LIKE; i++) {
        snprintf(k, sizeof k, "int:%zu", i);
        model_add(m, 0, k, strlen(k), int_like[i], strlen(int_like[i]), -1);
        /* The same texts as keys. */
        model_add(m, 1, int_like[i], strlen(int_like[i]), "x", 1, -1);
    }
    /* Binary keys and values with every byte value. */
    for (unsigned i = 0; i < 256; i++) {
        unsigned char bk[3] = {(unsigned char)i, 0, 0xff}, bv[256];
        for (unsigned j = 0; j <= i; j++)
            bv[j] = (unsigned char)(i + j);
        model_add(m, 2, bk, 3, bv, i + 1, i % 3 ? -1 : (int64_t)1700000000000 + i);
    }
    /* Lengths around the 6- and 14-bit length encodings. */
    for (size_t len = 60; len <= 70; len++) {
        memset(v, 'a' + (int)(len % 26), len);
        snprintf(k, sizeof k, "len:%zu", len);
        model_add(m, 0, k, strlen(k), v, len, -1);
    }
    /* Many small keys so that the 64 KB buffers wrap several times. */
    for (unsigned i = 0; i < 1700; i++) {
        int kl = snprintf(k, sizeof k, "key:%06u", i);
        int vl = snprintf(v, sizeof v, "value-%u-%0*u", i, (int)(i % 40), i);
        model_add(m, 15, k, (size_t)kl, v, (size_t)vl, i % 2 ? (int64_t)4102444800000 : -1);
    }
    model_add(m, 0, "", 0, "empty key", 9, -1);
    model_add(m, 0, "expires-at-0", 12, "v", 1, 0);
    {
        /* 200 KB: bigger than the writer buffer and the loader buffer,
         * and its length takes the 32-bit form. */
        size_t big = 200 * 1024;
        char *bv = malloc(big);
        cr_assert_not_null(bv);
        for (size_t i = 0; i < big; i++)
            bv[i] = (char)(i * 31 + (i >> 9));
        model_add(m, 3, "big", 3, bv, big, 1800000000000);
        free(bv);
    }
}

static void model_free(struct model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->r[i].key);
        free(m->r[i].val);
    }
    m->n = 0;
}

/* Write the model db by db with the writer into out. */
static void write_model(const struct model *m, struct bytes *out)
{
    struct rdb_writer *w = malloc(sizeof *w);
    cr_assert_not_null(w);
    out->fail_after = -1;
    rdb_writer_init(w, sink, out);
    cr_assert_eq(rdb_writer_begin(w, 1700000000, 123456789), 0);
    cr_assert_eq(rdb_writer_aux(w, "extra", 5, "1", 1), 0);
    for (uint64_t db = 0; db < 16; db++) {
        uint64_t keys = 0;
        for (size_t i = 0; i < m->n; i++)
            keys += m->r[i].db == db;
        if (!keys)
            continue;
        cr_assert_eq(rdb_writer_select_db(w, (uint32_t)db, keys, 0), 0);
        for (size_t i = 0; i < m->n; i++)
            if (m->r[i].db == db)
                cr_assert_eq(rdb_writer_string(w, m->r[i].key, m->r[i].klen, m->r[i].val,
                                               m->r[i].vlen, m->r[i].exp),
                             0);
    }
    cr_assert_eq(rdb_writer_end(w), 0);
    cr_assert_eq(w->bytes, out->len);
    free(w);
}

static void expect_model(const struct model *m, const struct got *g)
{
    cr_assert_eq(g->n, m->n, "loaded %zu keys, wrote %zu", g->n, m->n);
    for (size_t i = 0; i < m->n; i++)
        expect_key(g, m->r[i].db, m->r[i].key, m->r[i].klen, m->r[i].val, m->r[i].vlen,
                   m->r[i].exp);
}

/* A small file: a few keys in two dbs, one with an expiry. */
static void small_file(struct bytes *out)
{
    struct rdb_writer *w = malloc(sizeof *w);
    cr_assert_not_null(w);
    out->fail_after = -1;
    rdb_writer_init(w, sink, out);
    cr_assert_eq(rdb_writer_begin(w, 1700000000, 1000), 0);
    cr_assert_eq(rdb_writer_select_db(w, 0, 3, 1), 0);
    cr_assert_eq(rdb_writer_string(w, "a", 1, "hello", 5, -1), 0);
    cr_assert_eq(rdb_writer_string(w, "n", 1, "-300", 4, 1800000000000), 0);
    cr_assert_eq(rdb_writer_string(w, "b\0c", 3, "\x01\x02", 2, -1), 0);
    cr_assert_eq(rdb_writer_select_db(w, 7, 1, 0), 0);
    cr_assert_eq(rdb_writer_string(w, "k7", 2, "in seven", 8, -1), 0);
    cr_assert_eq(rdb_writer_end(w), 0);
    free(w);
}

/* ------------------------------------------------------------- CRC64 */

Test(rdb, crc64_check_value_and_incremental)
{
    unsigned char buf[1000];
    uint64_t whole, parts = 0;

    cr_assert_eq(crc64_update(0, "123456789", 9), UINT64_C(0xe9c6d914c4b8d9ca));
    cr_assert_eq(crc64_update(0, "", 0), 0);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    whole = crc64_update(0, buf, sizeof buf);
    /* Any split gives the same CRC (the loader folds it in pieces). */
    for (size_t step = 1; step < 20; step++) {
        parts = 0;
        for (size_t i = 0; i < sizeof buf; i += step)
            parts = crc64_update(parts, buf + i, i + step > sizeof buf ? sizeof buf - i : step);
        cr_assert_eq(parts, whole, "split %zu", step);
    }
}

/* -------------------------------------------------------- round trips */

Test(rdb, round_trip_every_read_split)
{
    static struct model m;
    struct bytes f = {0};
    const size_t splits[] = {0, 1, 2, 3, 7, 8, 9, 4095, 65536, 65537};

    model_build(&m);
    write_model(&m, &f);
    for (size_t s = 0; s < sizeof splits / sizeof splits[0]; s++) {
        struct got g = {.fail_on_key = -1};
        struct rdb_load_result res;
        int rc = load_ex(f.p, f.len, 0, splits[s], (struct rdb_limits){0}, &g, &res);
        cr_assert_eq(rc, 0, "split %zu: %s", splits[s], res.msg);
        cr_assert_eq(res.version, 10);
        cr_assert(res.crc_checked);
        cr_assert_eq(res.keys, m.n);
        expect_model(&m, &g);
        cr_assert_str_eq(g.redis_ver, RDB_REDIS_VER);
        cr_assert_eq(g.aux, 6, "5 standard AUX fields and one extra, got %" PRIu64, g.aux);
        cr_assert_eq(g.selects, 5);
        cr_assert_eq(g.resizes, 5);
        cr_assert_eq(res.expires, 86 + 850 + 1 + 1, "expires %" PRIu64, res.expires);
        /* Progress: several calls, the last one with the final figures. */
        cr_assert_gt(g.progress_calls, 10);
        cr_assert_eq(g.last_progress_bytes, f.len);
        cr_assert_eq(g.last_progress_keys, m.n);
        got_free(&g);
    }
    model_free(&m);
    free(f.p);
}

Test(rdb, integer_encoding_as_redis_does)
{
    /* Canonical decimal texts in the int32 range take 1 + 1/2/4 bytes; all
     * others are raw. Check the exact bytes the writer produces. */
    static const struct {
        const char *text;
        const char *enc;
        size_t len;
    } cases[] = {
        {"0", "\xc0\x00", 2},
        {"-1", "\xc0\xff", 2},
        {"127", "\xc0\x7f", 2},
        {"128", "\xc1\x80\x00", 3},
        {"-129", "\xc1\x7f\xff", 3},
        {"32768", "\xc2\x00\x80\x00\x00", 5},
        {"-2147483648", "\xc2\x00\x00\x00\x80", 5},
        {"2147483648",
         "\x0a"
         "2147483648",
         11},
        {"007",
         "\x03"
         "007",
         4},
        {"-0", "\x02-0", 3},
        {"+5", "\x02+5", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct bytes f = {0};
        struct rdb_writer *w = malloc(sizeof *w);
        /* Locate the value: it follows type 0 and the key "k". */
        static const unsigned char key_prefix[] = {0x00, 0x01, 'k'};
        unsigned char *p;

        rdb_writer_init(w, sink, &f);
        f.fail_after = -1;
        rdb_writer_begin(w, 0, 0);
        rdb_writer_select_db(w, 0, 1, 0);
        rdb_writer_string(w, "k", 1, cases[i].text, strlen(cases[i].text), -1);
        cr_assert_eq(rdb_writer_end(w), 0);
        p = NULL;
        for (size_t j = 0; j + sizeof key_prefix <= f.len && !p; j++)
            if (memcmp(f.p + j, key_prefix, sizeof key_prefix) == 0)
                p = f.p + j;
        cr_assert_not_null(p);
        p += sizeof key_prefix;
        cr_assert_eq(memcmp(p, cases[i].enc, cases[i].len), 0, "'%s' encoded wrongly",
                     cases[i].text);
        cr_assert_eq(p[cases[i].len], 0xFF, "'%s': trailing bytes", cases[i].text);
        free(w);
        free(f.p);
    }
}

Test(rdb, empty_file_and_empty_db)
{
    struct bytes f = {0};
    struct rdb_writer *w = malloc(sizeof *w);
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;

    f.fail_after = -1;
    rdb_writer_init(w, sink, &f);
    cr_assert_eq(rdb_writer_begin(w, 1, 0), 0);
    cr_assert_eq(rdb_writer_end(w), 0);
    free(w);
    cr_assert_eq(load(f.p, f.len, 0, &g, &res), 0, "%s", res.msg);
    cr_assert_eq(g.n, 0);
    cr_assert_eq(g.selects, 0);
    free(f.p);
}

Test(rdb, writer_sink_failure_is_sticky)
{
    static struct model m;

    model_build(&m);
    for (int after = 0; after < 4; after++) {
        struct bytes f = {0};
        struct rdb_writer *w = malloc(sizeof *w);
        int rc = 0;
        rdb_writer_init(w, sink, &f);
        f.fail_after = after;
        rc |= rdb_writer_begin(w, 0, 0);
        for (uint32_t db = 0; db < 16; db++) {
            rc |= rdb_writer_select_db(w, db, 0, 0);
            for (size_t i = 0; i < m.n; i++)
                if (m.r[i].db == db)
                    rc |= rdb_writer_string(w, m.r[i].key, m.r[i].klen, m.r[i].val, m.r[i].vlen,
                                            m.r[i].exp);
        }
        cr_assert_eq(rdb_writer_end(w), RDB_EIO, "failure after %d sink calls not reported", after);
        if (after == 0)
            cr_assert_neq(rc, 0, "calls after the failure returned 0");
        free(w);
        free(f.p);
    }
    model_free(&m);
}

/* --------------------------------------------------------- corruption */

Test(rdb, every_flipped_byte_fails)
{
    struct bytes f = {0};
    static const unsigned masks[] = {0xFF, 0x01, 0x80, 0x20};

    small_file(&f);
    for (size_t mi = 0; mi < sizeof masks / sizeof masks[0]; mi++)
        for (size_t i = 0; i < f.len; i++) {
            struct got g = {.fail_on_key = -1};
            struct rdb_load_result res;
            int rc;
            f.p[i] ^= (unsigned char)masks[mi];
            rc = load(f.p, f.len, 0, &g, &res);
            f.p[i] ^= (unsigned char)masks[mi];
            cr_assert_lt(rc, 0, "byte %zu ^ 0x%02x: loaded (%zu keys)", i, masks[mi], g.n);
            got_free(&g);
        }
    free(f.p);
}

Test(rdb, every_truncation_fails)
{
    struct bytes f = {0};

    small_file(&f);
    for (size_t len = 0; len < f.len; len++) {
        struct got g = {.fail_on_key = -1};
        struct rdb_load_result res;
        int rc = load(f.p, len, 0, &g, &res);
        cr_assert_eq(rc, RDB_ETRUNC, "cut at %zu: %d %s", len, rc, res.msg);
        cr_assert_eq(res.err_offset, len, "cut at %zu: error at %" PRIu64, len, res.err_offset);
        got_free(&g);
    }
    free(f.p);
}

Test(rdb, crc_mismatch_message)
{
    struct bytes f = {0};
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;

    small_file(&f);
    f.p[f.len - 3] ^= 0x10; /* inside the stored checksum */
    cr_assert_eq(load(f.p, f.len, 0, &g, &res), RDB_ECRC);
    cr_assert_eq(res.err_offset, f.len - 8);
    cr_assert_not_null(strstr(res.msg, "checksum mismatch"), "%s", res.msg);
    got_free(&g);
    free(f.p);
}

Test(rdb, trailing_bytes_refused)
{
    struct bytes f = {0};
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;

    small_file(&f);
    add_byte(&f, 0);
    cr_assert_eq(load(f.p, f.len, 0, &g, &res), RDB_ECORRUPT);
    cr_assert_eq(res.err_offset, f.len - 1);
    got_free(&g);
    free(f.p);
}

Test(rdb, zero_checksum_means_not_computed)
{
    struct bytes f = {0};
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;

    small_file(&f);
    memset(f.p + f.len - 8, 0, 8);
    cr_assert_eq(load(f.p, f.len, 0, &g, &res), 0, "%s", res.msg);
    cr_assert_not(res.crc_checked);
    cr_assert_eq(g.n, 4);
    got_free(&g);
    cr_assert_eq(load(f.p, f.len, RDB_LOAD_REQUIRE_CRC, &g, &res), RDB_ECRC);
    got_free(&g);
    free(f.p);
}

Test(rdb, header_checks)
{
    static const struct {
        const char *data;
        size_t len;
        int rc;
        const char *in_msg;
    } cases[] = {
        {"", 0, RDB_ETRUNC, "header"},
        {"RED", 3, RDB_ETRUNC, "header"},
        {"REDIS001", 8, RDB_ETRUNC, "header"},
        {"XEDIS0010\xff", 10, RDB_EMAGIC, "magic"},
        {"redis0010\xff", 10, RDB_EMAGIC, "magic"},
        {"\x00\x01", 2, RDB_EMAGIC, "magic"},
        {"REDIS001a\xff", 10, RDB_EMAGIC, "version field"},
        {"REDIS0011\xff", 10, RDB_EVERSION, "RDB version 11 "},
        {"REDIS9999\xff", 10, RDB_EVERSION, "RDB version 9999 "},
        {"REDIS0000\xff", 10, RDB_EVERSION, "RDB version 0 "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct got g = {.fail_on_key = -1};
        struct rdb_load_result res;
        int rc = load(cases[i].data, cases[i].len, 0, &g, &res);
        cr_assert_eq(rc, cases[i].rc, "case %zu: %d (%s)", i, rc, res.msg);
        cr_assert_not_null(strstr(res.msg, cases[i].in_msg), "case %zu: %s", i, res.msg);
    }
}

Test(rdb, old_version_without_checksum)
{
    /* RDB 4 has no checksum after EOF; SELECTDB and a string key. */
    struct bytes f = {0};
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;

    add_header(&f, 4);
    add_byte(&f, 0xFE);
    add_len(&f, 2);
    add_byte(&f, 0xFD); /* EXPIRETIME in seconds */
    add_le(&f, 2000000000, 4);
    add_byte(&f, 0);
    add_str(&f, "old");
    add_str(&f, "format");
    add_byte(&f, 0xFF);
    cr_assert_eq(load(f.p, f.len, 0, &g, &res), 0, "%s", res.msg);
    cr_assert_eq(res.version, 4);
    cr_assert_not(res.crc_checked);
    EXPECT(&g, 2, "old", "format", (int64_t)2000000000 * 1000);
    got_free(&g);
    free(f.p);
}

Test(rdb, unknown_opcode)
{
    struct bytes f = {0};
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;

    add_header(&f, 10);
    add_byte(&f, 0x42);
    add_trailer(&f);
    cr_assert_eq(load(f.p, f.len, RDB_LOAD_SKIP_NON_STRING, &g, &res), RDB_EOPCODE);
    cr_assert_eq(res.err_offset, 9);
    cr_assert_not_null(strstr(res.msg, "0x42"), "%s", res.msg);
    free(f.p);
}

Test(rdb, bad_length_prefix)
{
    struct bytes f = {0};
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;

    add_header(&f, 10);
    add_byte(&f, 0xFE);
    add_byte(&f, 0x82); /* 10xxxxxx with neither 0x80 nor 0x81 */
    add_trailer(&f);
    cr_assert_eq(load(f.p, f.len, 0, &g, &res), RDB_ECORRUPT);
    cr_assert_eq(res.err_offset, 10);
    free(f.p);
}

/* ---------------------------------------------------- hand-made bodies */

/* A file: header, SELECTDB 0, body(b), then a string key "after" =
 * "tail" (so that a skip that consumed the wrong amount shows), trailer. */
static void wrap(struct bytes *f, void (*body)(struct bytes *))
{
    add_header(f, 10);
    add_byte(f, 0xFE);
    add_len(f, 0);
    body(f);
    add_byte(f, 0);
    add_str(f, "after");
    add_str(f, "tail");
    add_trailer(f);
}

static void body_lengths(struct bytes *f)
{
    /* The same values in 6-, 14-, 32- and 64-bit length forms. */
    add_byte(f, 0xFB);
    add_len_w(f, 5, 1);
    add_len_w(f, 5, 2);
    add_byte(f, 0);
    add_len_w(f, 2, 1);
    add(f, "k1", 2);
    add_len_w(f, 3, 2);
    add(f, "v64", 3);
    add_byte(f, 0);
    add_byte(f, 0x40);
    add_byte(f, 2);
    add(f, "k2", 2);
    add_str(f, "v14");
    /* An 8-byte millisecond expiry, LRU idle and LFU freq before a key. */
    add_byte(f, 0xFC);
    add_le(f, 1900000000123, 8);
    add_byte(f, 0xF8);
    add_len(f, 12345);
    add_byte(f, 0xF9);
    add_byte(f, 7);
    add_byte(f, 0);
    add_str(f, "k3");
    add_byte(f, 0xc2); /* int32 */
    add_le(f, (uint32_t)-100000, 4);
}

Test(rdb, length_forms_and_key_metadata)
{
    struct bytes f = {0};
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;

    wrap(&f, body_lengths);
    cr_assert_eq(load(f.p, f.len, 0, &g, &res), 0, "%s", res.msg);
    cr_assert_eq(g.n, 4);
    EXPECT(&g, 0, "k1", "v64", -1);
    EXPECT(&g, 0, "k2", "v14", -1);
    EXPECT(&g, 0, "k3", "-100000", 1900000000123);
    EXPECT(&g, 0, "after", "tail", -1);
    got_free(&g);
    free(f.p);
}

/* LZF: the literal "abc", then a back reference that overlaps its own
 * output: control 0xE0 says length 7 + the next byte (2) = 9, distance
 * (0 << 8) + 0 + 1 = 1, and copies 9 + 2 = 11 bytes: "abc" + 11 x 'c'. */
static const unsigned char lzf_sample[] = {0x02, 'a', 'b', 'c', 0xE0, 0x02, 0x00};

static void lzf_plain(char *out, size_t *len)
{
    memcpy(out, "abc", 3);
    memset(out + 3, 'c', 11);
    *len = 14;
}

static void add_lzf_string(struct bytes *f, const unsigned char *c, size_t clen, size_t ulen)
{
    add_byte(f, 0xC3);
    add_len(f, clen);
    add_len(f, ulen);
    add(f, c, clen);
}

static size_t lzf_ulen;
static const unsigned char *lzf_data;
static size_t lzf_dlen;

static void body_lzf(struct bytes *f)
{
    add_byte(f, 0);
    add_str(f, "z");
    add_lzf_string(f, lzf_data, lzf_dlen, lzf_ulen);
}

static int load_lzf(const unsigned char *c, size_t clen, size_t ulen, struct got *g,
                    struct rdb_load_result *res)
{
    struct bytes f = {0};
    int rc;
    lzf_data = c;
    lzf_dlen = clen;
    lzf_ulen = ulen;
    wrap(&f, body_lzf);
    rc = load(f.p, f.len, 0, g, res);
    free(f.p);
    return rc;
}

Test(rdb, lzf_decoding)
{
    char plain[64];
    size_t plen;
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;
    /* Two literal runs, a short back reference (len 3 + 2 = 5, distance 4)
     * and a long one (7 + 5 + 2 = 14 bytes from distance 10) that reads
     * bytes it writes itself: "wxyz" "wxyzw" "!" "wxyzwxyzw!wxyz". */
    static const unsigned char two[] = {
        0x03, 'w',  'x',  'y', 'z', /* "wxyz" */
        0x60, 0x03,                 /* len 3 -> 5 bytes from distance 4 */
        0x00, '!',                  /* "!" */
        0xE0, 0x05, 0x09,           /* 14 bytes from distance 10 */
    };

    lzf_plain(plain, &plen);
    cr_assert_eq(load_lzf(lzf_sample, sizeof lzf_sample, plen, &g, &res), 0, "%s", res.msg);
    expect_key(&g, 0, "z", 1, plain, plen, -1);
    got_free(&g);

    cr_assert_eq(load_lzf(two, sizeof two, 24, &g, &res), 0, "%s", res.msg);
    EXPECT(&g, 0, "z", "wxyzwxyzw!wxyzwxyzw!wxyz", -1);
    got_free(&g);

    /* The stated plain length must match exactly. */
    cr_assert_eq(load_lzf(two, sizeof two, 23, &g, &res), RDB_ECORRUPT);
    cr_assert_not_null(strstr(res.msg, "LZF"), "%s", res.msg);
    got_free(&g);
    cr_assert_eq(load_lzf(two, sizeof two, 25, &g, &res), RDB_ECORRUPT);
    got_free(&g);
    /* A reference before the start of the output. */
    static const unsigned char before[] = {0x00, 'a', 0x20, 0x01};
    cr_assert_eq(load_lzf(before, sizeof before, 4, &g, &res), RDB_ECORRUPT);
    got_free(&g);
    /* A reference cut off after its control byte. */
    static const unsigned char cut[] = {0x00, 'a', 0x20};
    cr_assert_eq(load_lzf(cut, sizeof cut, 3, &g, &res), RDB_ECORRUPT);
    got_free(&g);
    /* A literal run longer than the data. */
    static const unsigned char longrun[] = {0x05, 'a', 'b'};
    cr_assert_eq(load_lzf(longrun, sizeof longrun, 6, &g, &res), RDB_ECORRUPT);
    got_free(&g);
    /* A plain length the compressed size cannot produce (over 88x). */
    cr_assert_eq(load_lzf(two, sizeof two, 12 * 88 + 1, &g, &res), RDB_ECORRUPT);
    cr_assert_not_null(strstr(res.msg, "impossible"), "%s", res.msg);
    got_free(&g);
}

/* ------------------------------------------------------------- limits */

static size_t lim_len;

static void body_value_of_len(struct bytes *f)
{
    add_byte(f, 0);
    add_str(f, "k");
    add_len(f, lim_len);
    for (size_t i = 0; i < lim_len; i++)
        add_byte(f, 'v');
}

static void body_key_of_len(struct bytes *f)
{
    add_byte(f, 0);
    add_len(f, lim_len);
    for (size_t i = 0; i < lim_len; i++)
        add_byte(f, 'k');
    add_str(f, "v");
}

Test(rdb, limits_at_minus_one_zero_plus_one)
{
    struct rdb_limits lim = {.max_key = 10, .max_value = 20};

    for (size_t len = 19; len <= 21; len++) {
        struct bytes f = {0};
        struct got g = {.fail_on_key = -1};
        struct rdb_load_result res;
        lim_len = len;
        wrap(&f, body_value_of_len);
        int rc = load_ex(f.p, f.len, 0, 0, lim, &g, &res);
        cr_assert_eq(rc, len <= 20 ? 0 : RDB_ETOOBIG, "value %zu: %s", len, res.msg);
        if (rc)
            cr_assert_not_null(strstr(res.msg, "key 'k'"), "%s", res.msg);
        got_free(&g);
        free(f.p);
    }
    for (size_t len = 9; len <= 11; len++) {
        struct bytes f = {0};
        struct got g = {.fail_on_key = -1};
        struct rdb_load_result res;
        lim_len = len;
        wrap(&f, body_key_of_len);
        cr_assert_eq(load_ex(f.p, f.len, 0, 0, lim, &g, &res), len <= 10 ? 0 : RDB_ETOOBIG,
                     "key %zu: %s", len, res.msg);
        got_free(&g);
        free(f.p);
    }
    {
        /* The limit applies to the plain length of LZF strings. */
        char plain[64];
        size_t plen;
        struct got g = {.fail_on_key = -1};
        struct rdb_load_result res;
        struct bytes f = {0};
        lzf_plain(plain, &plen);
        lzf_data = lzf_sample;
        lzf_dlen = sizeof lzf_sample;
        lzf_ulen = plen;
        wrap(&f, body_lzf);
        lim.max_value = plen - 1;
        cr_assert_eq(load_ex(f.p, f.len, 0, 0, lim, &g, &res), RDB_ETOOBIG, "%s", res.msg);
        lim.max_value = plen;
        cr_assert_eq(load_ex(f.p, f.len, 0, 0, lim, &g, &res), 0, "%s", res.msg);
        got_free(&g);
        free(f.p);
    }
}

/* A source that records the allocator's figure on every read. */
struct watch_reader {
    struct rdb_mem_reader r;
    size_t max_allocated;
};

static ssize_t watch_read(void *arg, void *buf, size_t len)
{
    struct watch_reader *w = arg;
    size_t allocated, resident;
    mem_process_stats(&allocated, &resident);
    if (allocated > w->max_allocated)
        w->max_allocated = allocated;
    return rdb_mem_read(&w->r, buf, len);
}

static void body_huge_claims(struct bytes *f)
{
    /* A value that claims 400 MB (under the default 512 MB limit) and is
     * followed by 1000 bytes only. */
    add_byte(f, 0);
    add_str(f, "k");
    add_len(f, (uint64_t)400 << 20);
    for (int i = 0; i < 1000; i++)
        add_byte(f, 'x');
}

Test(rdb, corrupt_lengths_never_allocate_big)
{
    struct bytes f = {0};
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;
    struct watch_reader w = {0};
    struct rdb_load_opts o = {.arg = &g, .on_string = on_string};
    size_t before, resident;
    int rc;

    add_header(&f, 10);
    body_huge_claims(&f);
    mem_process_stats(&before, &resident);
    w.r = (struct rdb_mem_reader){.data = f.p, .len = f.len, .max_read = 100};
    rc = rdb_load(watch_read, &w, &o, &res);
    cr_assert_eq(rc, RDB_ETRUNC, "%s", res.msg);
    cr_assert_lt(w.max_allocated, before + ((size_t)16 << 20),
                 "the loader allocated %zu MB for a 1 KB file", (w.max_allocated - before) >> 20);

    /* Lengths over the limit fail before reading: 2^62 and 600 MB. */
    free(f.p);
    f = (struct bytes){0};
    add_header(&f, 10);
    add_byte(&f, 0);
    add_len_w(&f, (uint64_t)1 << 62, 2);
    cr_assert_eq(load(f.p, f.len, 0, &g, &res), RDB_ETOOBIG, "%s", res.msg);
    free(f.p);
    f = (struct bytes){0};
    add_header(&f, 10);
    add_byte(&f, 0);
    add_str(&f, "k");
    add_byte(&f, 0xC3);
    add_len(&f, 100);
    add_len(&f, (uint64_t)600 << 20);
    cr_assert_eq(load(f.p, f.len, 0, &g, &res), RDB_ETOOBIG, "%s", res.msg);
    free(f.p);
    got_free(&g);
}

/* ------------------------------------------------- non-string types */

/* One value of each skippable type, built by hand after the key "key". */
static int cur_type;

static void add_stream_id(struct bytes *f)
{
    for (int i = 0; i < 16; i++)
        add_byte(f, (unsigned)i);
}

static void body_type(struct bytes *f)
{
    int t = cur_type;

    add_byte(f, (unsigned)t);
    add_str(f, "key");
    switch (t) {
    case RDB_TYPE_LIST:
    case RDB_TYPE_SET:
    case RDB_TYPE_LIST_QUICKLIST:
        add_len(f, 3);
        add_str(f, "a");
        add_byte(f, 0xC0); /* an integer-encoded element */
        add_byte(f, 5);
        add_lzf_string(f, lzf_sample, sizeof lzf_sample, 14);
        break;
    case RDB_TYPE_HASH:
        add_len(f, 2);
        add_str(f, "f1");
        add_str(f, "v1");
        add_str(f, "f2");
        add_str(f, "");
        break;
    case RDB_TYPE_ZSET:
        /* Text scores, and the three one-byte specials nan/+inf/-inf. */
        add_len(f, 4);
        add_str(f, "m1");
        add_str(f, "1.5");
        add_str(f, "m2");
        add_byte(f, 253);
        add_str(f, "m3");
        add_byte(f, 254);
        add_str(f, "m4");
        add_byte(f, 255);
        break;
    case RDB_TYPE_ZSET_2:
        add_len(f, 2);
        add_str(f, "m1");
        add_le(f, 0x3ff8000000000000, 8);
        add_str(f, "m2");
        add_le(f, 0xfff0000000000000, 8);
        break;
    case RDB_TYPE_MODULE_2:
        add_len_w(f, UINT64_C(0x123456789abcd001), 2); /* module id */
        add_len(f, 1);                                 /* SINT */
        add_len(f, 42);
        add_len(f, 2); /* UINT */
        add_len(f, 70000);
        add_len(f, 3); /* FLOAT */
        add_le(f, 0x3f800000, 4);
        add_len(f, 4); /* DOUBLE */
        add_le(f, 0x3ff0000000000000, 8);
        add_len(f, 5); /* STRING */
        add_str(f, "module string");
        add_len(f, 0); /* EOF */
        break;
    case RDB_TYPE_LIST_QUICKLIST_2:
        add_len(f, 2);
        add_len(f, 1); /* plain */
        add_str(f, "big element");
        add_len(f, 2); /* packed */
        add_str(f, "listpack bytes");
        break;
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2: {
        bool v2 = t == RDB_TYPE_STREAM_LISTPACKS_2;
        add_len(f, 2); /* two listpacks */
        for (int i = 0; i < 2; i++) {
            add_len(f, 16);
            add_stream_id(f);
            add_str(f, "listpack");
        }
        add_len(f, 10);   /* length */
        add_len(f, 1000); /* last id ms */
        add_len(f, 3);    /* last id seq */
        if (v2) {
            add_len(f, 1); /* first id */
            add_len(f, 0);
            add_len(f, 0); /* max deleted id */
            add_len(f, 0);
            add_len(f, 12); /* entries added */
        }
        add_len(f, 2); /* groups */
        for (int gi = 0; gi < 2; gi++) {
            add_str(f, gi ? "g2" : "g1");
            add_len(f, 999);
            add_len(f, 1);
            if (v2)
                add_len(f, 5); /* entries read */
            add_len(f, 2);     /* group PEL */
            for (int p = 0; p < 2; p++) {
                add_stream_id(f);
                add_le(f, 1700000000000, 8);
                add_len(f, 3);
            }
            add_len(f, 2); /* consumers */
            for (int c = 0; c < 2; c++) {
                add_str(f, c ? "bob" : "alice");
                add_le(f, 1700000000000, 8);
                add_len(f, 1);
                add_stream_id(f);
            }
        }
        break;
    }
    default:
        /* Ziplists, listpacks, intsets and zipmaps: one opaque string. */
        add_str(f, "\x0b\x00\x00\x00 opaque blob");
        break;
    }
}

Test(rdb, every_type_named_or_skipped)
{
    static const int types[] = {
        RDB_TYPE_LIST,
        RDB_TYPE_SET,
        RDB_TYPE_ZSET,
        RDB_TYPE_HASH,
        RDB_TYPE_ZSET_2,
        RDB_TYPE_MODULE_2,
        RDB_TYPE_HASH_ZIPMAP,
        RDB_TYPE_LIST_ZIPLIST,
        RDB_TYPE_SET_INTSET,
        RDB_TYPE_ZSET_ZIPLIST,
        RDB_TYPE_HASH_ZIPLIST,
        RDB_TYPE_LIST_QUICKLIST,
        RDB_TYPE_STREAM_LISTPACKS,
        RDB_TYPE_HASH_LISTPACK,
        RDB_TYPE_ZSET_LISTPACK,
        RDB_TYPE_LIST_QUICKLIST_2,
        RDB_TYPE_STREAM_LISTPACKS_2,
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        struct bytes f = {0};
        struct got g = {.fail_on_key = -1};
        struct rdb_load_result res;
        const char *name = rdb_type_name(types[i]);
        int rc;

        cur_type = types[i];
        wrap(&f, body_type);
        cr_assert_not_null(name);
        rc = load(f.p, f.len, 0, &g, &res);
        cr_assert_eq(rc, RDB_ETYPE, "type %d: %d %s", types[i], rc, res.msg);
        cr_assert_not_null(strstr(res.msg, "key 'key'"), "type %d: %s", types[i], res.msg);
        if (types[i] == RDB_TYPE_MODULE_2)
            cr_assert_not_null(strstr(res.msg, "module type"), "%s", res.msg);
        else
            cr_assert_not_null(strstr(res.msg, name), "type %d: %s", types[i], res.msg);
        cr_assert_eq(res.err_offset, 11, "type %d: error at %" PRIu64, types[i], res.err_offset);
        got_free(&g);

        rc = load(f.p, f.len, RDB_LOAD_SKIP_NON_STRING, &g, &res);
        cr_assert_eq(rc, 0, "type %d (%s) not skipped: %s", types[i], name, res.msg);
        cr_assert_eq(res.skipped, 1);
        cr_assert_eq(g.n, 1);
        EXPECT(&g, 0, "after", "tail", -1);
        got_free(&g);

        /* Truncated anywhere inside the skipped value: still refused. */
        for (size_t len = 12; len < f.len; len++) {
            rc = load(f.p, len, RDB_LOAD_SKIP_NON_STRING, &g, &res);
            cr_assert_eq(rc, RDB_ETRUNC, "type %d cut at %zu: %s", types[i], len, res.msg);
            got_free(&g);
        }
        free(f.p);
    }
}

Test(rdb, unskippable_records_refused_even_with_skip)
{
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;
    struct bytes f = {0};

    add_header(&f, 10);
    add_byte(&f, RDB_TYPE_MODULE_PRE_GA);
    add_str(&f, "mod");
    add_trailer(&f);
    cr_assert_eq(load(f.p, f.len, RDB_LOAD_SKIP_NON_STRING, &g, &res), RDB_ETYPE);
    cr_assert_not_null(strstr(res.msg, "cannot be skipped"), "%s", res.msg);
    free(f.p);

    f = (struct bytes){0};
    add_header(&f, 10);
    add_byte(&f, RDB_OPCODE_FUNCTION_PRE_GA);
    add_trailer(&f);
    cr_assert_eq(load(f.p, f.len, RDB_LOAD_SKIP_NON_STRING, &g, &res), RDB_ETYPE);
    cr_assert_not_null(strstr(res.msg, "cannot be skipped"), "%s", res.msg);
    free(f.p);
}

static void body_aux_records(struct bytes *f)
{
    /* A function library and module AUX data, both skippable. */
    add_byte(f, RDB_OPCODE_FUNCTION2);
    add_str(f, "#!lua name=mylib\nredis.register_function('f', function() return 1 end)");
    add_byte(f, RDB_OPCODE_MODULE_AUX);
    add_len_w(f, UINT64_C(0x123456789abcd001), 2);
    add_len(f, 2); /* when_opcode: UINT */
    add_len(f, 1); /* when: before keys */
    add_len(f, 5);
    add_str(f, "module aux");
    add_len(f, 0);
}

Test(rdb, function_and_module_aux)
{
    struct bytes f = {0};
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;

    wrap(&f, body_aux_records);
    cr_assert_eq(load(f.p, f.len, 0, &g, &res), RDB_ETYPE);
    cr_assert_not_null(strstr(res.msg, "function"), "%s", res.msg);
    got_free(&g);
    cr_assert_eq(load(f.p, f.len, RDB_LOAD_SKIP_NON_STRING, &g, &res), 0, "%s", res.msg);
    cr_assert_eq(res.skipped_aux, 2);
    EXPECT(&g, 0, "after", "tail", -1);
    got_free(&g);
    free(f.p);
}

static int bad_kind;

static void body_bad_skippable(struct bytes *f)
{
    switch (bad_kind) {
    case 0: /* a quicklist node container other than plain (1) or packed (2) */
        add_byte(f, RDB_TYPE_LIST_QUICKLIST_2);
        add_str(f, "key");
        add_len(f, 1);
        add_len(f, 3);
        add_str(f, "node");
        break;
    case 1: /* a module value opcode above STRING (5) */
        add_byte(f, RDB_TYPE_MODULE_2);
        add_str(f, "key");
        add_len(f, 1);
        add_len(f, 6);
        add_len(f, 0);
        break;
    default: /* module AUX whose "when" is not announced as UINT (2) */
        add_byte(f, RDB_OPCODE_MODULE_AUX);
        add_len(f, 1);
        add_len(f, 1);
        add_len(f, 1);
        add_len(f, 0);
        break;
    }
}

Test(rdb, malformed_skipped_values_are_corrupt)
{
    for (bad_kind = 0; bad_kind < 3; bad_kind++) {
        struct bytes f = {0};
        struct got g = {.fail_on_key = -1};
        struct rdb_load_result res;
        wrap(&f, body_bad_skippable);
        cr_assert_eq(load(f.p, f.len, RDB_LOAD_SKIP_NON_STRING, &g, &res), RDB_ECORRUPT,
                     "case %d: %s", bad_kind, res.msg);
        got_free(&g);
        free(f.p);
    }
}

/* ---------------------------------------------------------- callbacks */

Test(rdb, callback_error_stops_the_load)
{
    struct bytes f = {0};
    struct got g = {.fail_on_key = 1};
    struct rdb_load_result res;

    small_file(&f);
    cr_assert_eq(load(f.p, f.len, 0, &g, &res), RDB_ECALLBACK);
    cr_assert_eq(res.cb_err, -77);
    cr_assert_eq(g.n, 1);
    got_free(&g);
    free(f.p);
}

/* ----------------------------------------------------- real Redis files */

Test(rdb, redis7_strings_fixture)
{
    size_t len;
    char *data = fixture("redis7-strings.rdb", &len);
    char longv[201];
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;

    for (int i = 0; i < 20; i++)
        memcpy(longv + 10 * i, "abcdefghij", 10);
    /* And through one-byte reads, to split every item. */
    for (size_t mr = 0; mr <= 1; mr++) {
        cr_assert_eq(load_ex(data, len, 0, mr, (struct rdb_limits){0}, &g, &res), 0, "%s", res.msg);
        cr_assert(res.crc_checked);
        cr_assert_str_eq(g.redis_ver, "7.0.15");
        cr_assert_eq(g.n, 9);
        EXPECT(&g, 0, "plain", "hello", -1);
        EXPECT(&g, 0, "counter", "12345", -1);
        EXPECT(&g, 0, "neg", "-7", -1);
        EXPECT(&g, 0, "big", "4000000000", -1);
        expect_key(&g, 0, "long", 4, longv, 200, -1); /* LZF */
        EXPECT(&g, 0, "ttl", "lives long", 4102444800000);
        expect_key(&g, 0, "bin\0key\xff", 8, "\x00\x01\x02", 3, -1);
        EXPECT(&g, 0, "empty", "", -1);
        EXPECT(&g, 3, "in-db3", "three", -1);
        got_free(&g);
    }
    free(data);
}

Test(rdb, redis7_mixed_fixture)
{
    size_t len;
    char *data = fixture("redis7-mixed.rdb", &len);
    struct got g = {.fail_on_key = -1};
    struct rdb_load_result res;
    int rc;

    rc = load(data, len, 0, &g, &res);
    cr_assert_eq(rc, RDB_ETYPE, "%d %s", rc, res.msg);
    cr_assert_not_null(strstr(res.msg, "holds a"), "%s", res.msg);
    cr_assert_not_null(strstr(res.msg, "only strings are loaded"), "%s", res.msg);
    got_free(&g);

    /* Lists, hashes, sets, intsets, sorted sets (small and big encodings)
     * and a stream with a consumer group are all skipped exactly: the keys
     * after them, and the db after db 0, load correctly. */
    rc = load(data, len, RDB_LOAD_SKIP_NON_STRING, &g, &res);
    cr_assert_eq(rc, 0, "%s", res.msg);
    cr_assert(res.crc_checked);
    cr_assert_eq(res.skipped, 9);
    cr_assert_eq(g.n, 3);
    EXPECT(&g, 0, "str", "value", -1);
    EXPECT(&g, 0, "after", "tail", -1);
    EXPECT(&g, 2, "indb2", "yes", -1);
    got_free(&g);
    free(data);
}

Test(rdb, strerror_and_type_names)
{
    for (int e = 0; e >= RDB_ECALLBACK; e--)
        cr_assert_str_neq(rdb_strerror(e), "unknown error", "code %d", e);
    cr_assert_str_eq(rdb_strerror(-1000), "unknown error");
    cr_assert_str_eq(rdb_type_name(RDB_TYPE_HASH_LISTPACK), "hash-listpack");
    cr_assert_null(rdb_type_name(8));
    cr_assert_null(rdb_type_name(20));
    cr_assert_null(rdb_type_name(-1));
}
