/* fuzz_rdb.c — libFuzzer target for the RDB loader (shard/rdb_load.c). The
 * input is an RDB file, read through a memory source in pieces of varying
 * size; every result is checked against the loader's contract, the outcome
 * must not depend on how the bytes were split, and a file that loads is
 * re-written with the writer and must load back to the same keys. Small
 * limits make every limit reachable. Single-threaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard/crc64.h"
#include "shard/rdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stop the run with a message: libFuzzer records the input as a crash. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_rdb: check failed: %s (line %d)\n", #cond, __LINE__);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Small enough that the fuzzer reaches both sides of each limit. */
static const struct rdb_limits small_limits = {.max_key = 64, .max_value = 4096};

/* Everything a load reported: a digest of the callbacks in order, and the
 * string keys themselves for re-writing. */
struct seen {
    uint64_t digest;     /* CRC64 over every callback and its arguments */
    unsigned char *recs; /* string keys: db, klen, key, vlen, val, exp */
    size_t len, cap;
    uint64_t keys; /* on_string calls */
};

static void append(struct seen *s, const void *p, size_t n)
{
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        while (cap < s->len + n)
            cap *= 2;
        s->recs = realloc(s->recs, cap);
        CHECK(s->recs != NULL);
        s->cap = cap;
    }
    memcpy(s->recs + s->len, p, n);
    s->len += n;
}

static void mix(struct seen *s, const void *p, size_t n)
{
    s->digest = crc64_update(s->digest, p, n);
}

static int on_select(void *arg, uint64_t db)
{
    mix(arg, "S", 1);
    mix(arg, &db, sizeof db);
    return 0;
}

static int on_resize(void *arg, uint64_t db, uint64_t keys, uint64_t expires)
{
    uint64_t v[3] = {db, keys, expires};
    mix(arg, "R", 1);
    mix(arg, v, sizeof v);
    return 0;
}

static int on_aux(void *arg, const char *name, size_t nlen, const char *val, size_t vlen)
{
    CHECK(nlen <= small_limits.max_value && vlen <= small_limits.max_value);
    mix(arg, "A", 1);
    mix(arg, &nlen, sizeof nlen);
    mix(arg, name, nlen);
    mix(arg, &vlen, sizeof vlen);
    mix(arg, val, vlen);
    return 0;
}

static int on_string(void *arg, uint64_t db, const char *key, size_t klen, const char *val,
                     size_t vlen, int64_t exp)
{
    struct seen *s = arg;

    CHECK(klen <= small_limits.max_key && vlen <= small_limits.max_value);
    CHECK(exp >= -1);
    /* Touch every byte so ASan sees any view outside live memory. */
    for (size_t i = 0; i < klen; i++)
        CHECK(((volatile const char *)key)[i] == key[i]);
    for (size_t i = 0; i < vlen; i++)
        CHECK(((volatile const char *)val)[i] == val[i]);
    mix(s, "K", 1);
    mix(s, &db, sizeof db);
    mix(s, &klen, sizeof klen);
    mix(s, key, klen);
    mix(s, &vlen, sizeof vlen);
    mix(s, val, vlen);
    mix(s, &exp, sizeof exp);
    append(s, &db, sizeof db);
    append(s, &klen, sizeof klen);
    append(s, key, klen);
    append(s, &vlen, sizeof vlen);
    append(s, val, vlen);
    append(s, &exp, sizeof exp);
    s->keys++;
    return 0;
}

static int load(const uint8_t *data, size_t size, unsigned flags, size_t max_read, struct seen *s,
                struct rdb_load_result *res)
{
    struct rdb_mem_reader r = {.data = data, .len = size, .max_read = max_read};
    struct rdb_load_opts o = {
        .limits = small_limits,
        .flags = flags,
        .arg = s,
        .on_select_db = on_select,
        .on_resize_db = on_resize,
        .on_aux = on_aux,
        .on_string = on_string,
    };
    int rc;

    memset(s, 0, sizeof *s);
    rc = rdb_load(rdb_mem_read, &r, &o, res);
    CHECK(rc <= 0 && rc >= RDB_ECALLBACK);
    CHECK(rc != RDB_EIO && rc != RDB_ECALLBACK); /* neither source nor callbacks fail */
    CHECK(res->bytes <= size);
    CHECK(res->keys == s->keys);
    CHECK(memchr(res->msg, '\0', sizeof res->msg) != NULL);
    if (rc == 0) {
        CHECK(res->msg[0] == '\0');
        CHECK(res->bytes == size);
        CHECK(res->version >= 1 && res->version <= RDB_VERSION);
    } else {
        CHECK(res->msg[0] != '\0');
        CHECK(strncmp(res->msg, "offset ", 7) == 0);
        CHECK(res->err_offset <= size);
    }
    return rc;
}

static int sink(void *arg, const void *buf, size_t len)
{
    append(arg, buf, len);
    return 0;
}

/* Write the string keys in s with the writer, in the same order. */
static void rewrite(const struct seen *s, struct seen *out)
{
    struct rdb_writer *w = malloc(sizeof *w);
    size_t p = 0;
    uint64_t cur_db = UINT64_MAX;

    CHECK(w != NULL);
    memset(out, 0, sizeof *out);
    rdb_writer_init(w, sink, out);
    CHECK(rdb_writer_begin(w, 0, 0) == 0);
    while (p < s->len) {
        uint64_t db;
        size_t klen, vlen;
        const unsigned char *key, *val;
        int64_t exp;
        memcpy(&db, s->recs + p, sizeof db);
        p += sizeof db;
        memcpy(&klen, s->recs + p, sizeof klen);
        p += sizeof klen;
        key = s->recs + p;
        p += klen;
        memcpy(&vlen, s->recs + p, sizeof vlen);
        p += sizeof vlen;
        val = s->recs + p;
        p += vlen;
        memcpy(&exp, s->recs + p, sizeof exp);
        p += sizeof exp;
        if (db > UINT32_MAX)
            continue; /* the writer's dbs are 32-bit; such keys are not compared */
        if (db != cur_db) {
            CHECK(rdb_writer_select_db(w, (uint32_t)db, 0, 0) == 0);
            cur_db = db;
        }
        CHECK(rdb_writer_string(w, key, klen, val, vlen, exp) == 0);
    }
    CHECK(rdb_writer_end(w) == 0);
    CHECK(w->bytes == out->len);
    free(w);
}

/* Is every db number below 2^32 (so that rewrite kept every key)? */
static bool small_dbs(const struct seen *s)
{
    size_t p = 0;
    while (p < s->len) {
        uint64_t db;
        size_t n;
        memcpy(&db, s->recs + p, sizeof db);
        if (db > UINT32_MAX)
            return false;
        p += sizeof db;
        memcpy(&n, s->recs + p, sizeof n);
        p += sizeof n + n;
        memcpy(&n, s->recs + p, sizeof n);
        p += sizeof n + n + sizeof(int64_t);
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rdb_load_result res1, res2;
    struct seen s1, s2;
    /* A split size that depends on the input: 1 to 64 bytes per read. */
    size_t split = 1 + (size ? (size_t)(crc64_update(0, data, size) % 64) : 0);
    int rc1, rc2;

    for (unsigned flags = 0; flags <= RDB_LOAD_SKIP_NON_STRING; flags++) {
        rc1 = load(data, size, flags, 0, &s1, &res1);
        rc2 = load(data, size, flags, split, &s2, &res2);
        /* The same outcome however the bytes arrive. */
        CHECK(rc1 == rc2);
        CHECK(res1.err_offset == res2.err_offset);
        CHECK(res1.bytes == res2.bytes);
        CHECK(s1.digest == s2.digest);
        CHECK(strcmp(res1.msg, res2.msg) == 0);
        free(s2.recs);

        if (rc1 == 0 && small_dbs(&s1)) {
            /* Re-written by the writer, the keys load back identically
             * (without the AUX/SELECTDB parts of the digest). */
            struct seen file, again;
            rewrite(&s1, &file);
            CHECK(load(file.recs, file.len, 0, split, &again, &res2) == 0);
            CHECK(res2.crc_checked);
            CHECK(again.keys == s1.keys);
            CHECK(again.len == s1.len);
            CHECK(s1.len == 0 || memcmp(again.recs, s1.recs, s1.len) == 0);
            free(again.recs);
            free(file.recs);
        }
        free(s1.recs);
    }
    return 0;
}
