/* test_snapshot.c — copy-on-write snapshots: the file equals the maps as
 * they were at the cut whatever is written meanwhile (overwrites, deletes,
 * inserts that grow the table, rehash renames, clears), segments are
 * captured before their first write, the cursor misses nothing, extra
 * memory follows the writes and not the data set, and the group cut over
 * real shard threads. Parts run on the test thread, which owns the maps. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/mem.h"
#include "shard/kvmap.h"
#include "shard/rdb.h"
#include "shard/shard.h"
#include "shard/snapshot.h"

/* Far-future expiry so nothing expires while a test runs (Unix ms). */
#define FAR_TTL ((int64_t)4102444800000)

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/test-snapshot-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void path_in_tmp(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

/* The writer's report, handed to the test thread. */
struct done_box {
    uv_mutex_t lock;  /* guards done, status */
    uv_cond_t cond;   /* signalled by on_done */
    bool done;        /* on_done has run */
    int status;       /* its status */
};

static void box_init(struct done_box *b)
{
    uv_mutex_init(&b->lock);
    uv_cond_init(&b->cond);
    b->done = false;
    b->status = 1;
}

static void on_done(void *arg, struct snap *s, int status)
{
    (void)s;
    struct done_box *b = arg;
    uv_mutex_lock(&b->lock);
    b->done = true;
    b->status = status;
    uv_cond_signal(&b->cond);
    uv_mutex_unlock(&b->lock);
}

static int box_wait(struct done_box *b)
{
    uv_mutex_lock(&b->lock);
    while (!b->done)
        uv_cond_wait(&b->cond, &b->lock);
    int st = b->status;
    uv_mutex_unlock(&b->lock);
    return st;
}

static struct snap *snap_new(const char *name, unsigned nparts, struct done_box *box)
{
    char path[256], tmp[300];
    path_in_tmp(path, sizeof path, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    struct snap_opts o = {
        .nparts = nparts, .path = path, .tmp_path = tmp, .ctime_s = 1,
        .on_done = on_done, .arg = box,
    };
    struct snap *s = NULL;
    cr_assert_eq(snap_create(&o, &s), 0);
    return s;
}

/* ------------------------------------------------------ map helpers */

struct copy_ctx {
    struct kvmap *dst;  /* where entries go */
};

static void copy_entry(void *arg, const struct kventry *e)
{
    struct copy_ctx *c = arg;
    size_t klen, vlen;
    char buf[21];
    const char *k = kventry_key(e, &klen);
    const char *v = kventry_value(e, buf, &vlen);
    cr_assert_geq(kvmap_set(c->dst, k, klen, v, vlen, kventry_expire(e), 0), 0);
}

/* A deep copy of m (every live entry with its TTL). */
static struct kvmap *map_copy(struct kvmap *m, struct mem_acct *acct)
{
    struct kvmap *c = kvmap_create(acct);
    struct copy_ctx cc = {c};
    uint64_t cur = 0;
    do
        cur = kvmap_scan(m, cur, 0, copy_entry, &cc);
    while (cur != 0);
    return c;
}

struct cmp_ctx {
    struct kvmap *other; /* looked up for every entry visited */
    uint64_t seen;       /* entries visited */
};

static void cmp_entry(void *arg, const struct kventry *e)
{
    struct cmp_ctx *c = arg;
    size_t klen, vlen, vlen2;
    char b1[21], b2[21];
    const char *k = kventry_key(e, &klen);
    const char *v = kventry_value(e, b1, &vlen);
    struct kventry *o = kvmap_find(c->other, k, klen, 0);
    cr_assert_not_null(o, "key %.*s missing", (int)klen, k);
    const char *v2 = kventry_value(o, b2, &vlen2);
    cr_assert_eq(vlen, vlen2, "value length of %.*s", (int)klen, k);
    cr_assert(memcmp(v, v2, vlen) == 0, "value of %.*s", (int)klen, k);
    cr_assert_eq(kventry_expire(e), kventry_expire(o), "TTL of %.*s", (int)klen, k);
    c->seen++;
}

static void assert_maps_equal(struct kvmap *want, struct kvmap *got)
{
    cr_assert_eq(kvmap_count(want), kvmap_count(got), "want %llu keys, got %llu",
                 (unsigned long long)kvmap_count(want), (unsigned long long)kvmap_count(got));
    struct cmp_ctx c = {got, 0};
    uint64_t cur = 0;
    do
        cur = kvmap_scan(want, cur, 0, cmp_entry, &c);
    while (cur != 0);
    cr_assert_geq(c.seen, kvmap_count(want));
}

/* Load a snapshot file into fresh maps, one per database. */
struct load_ctx {
    struct kvmap **dbs; /* destination maps */
    unsigned ndb;       /* how many */
};

static int load_string(void *arg, uint64_t db, const char *key, size_t klen, const char *val,
                       size_t vlen, int64_t expire_ms)
{
    struct load_ctx *l = arg;
    cr_assert_lt(db, l->ndb);
    cr_assert_null(kvmap_find(l->dbs[db], key, klen, 0), "key %.*s written twice", (int)klen, key);
    int rc = kvmap_set(l->dbs[db], key, klen, val, vlen, expire_ms, 0);
    return rc < 0 ? rc : 0;
}

static void load_file(const char *name, struct kvmap **dbs, unsigned ndb)
{
    char path[256];
    path_in_tmp(path, sizeof path, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "no file %s", path);
    int fd = fileno(f);
    struct load_ctx l = {dbs, ndb};
    struct rdb_load_opts o = {.arg = &l, .on_string = load_string, .flags = RDB_LOAD_REQUIRE_CRC};
    struct rdb_load_result res;
    int rc = rdb_load(rdb_fd_read, &fd, &o, &res);
    fclose(f);
    cr_assert_eq(rc, 0, "load: %s %s", rdb_strerror(rc), res.msg);
}

static void fill(struct kvmap *m, const char *prefix, int n)
{
    char k[64], v[64];
    for (int i = 0; i < n; i++) {
        int kl = snprintf(k, sizeof k, "%s:%d", prefix, i);
        int vl = snprintf(v, sizeof v, "value-%d-%s", i * 7, prefix);
        int64_t ttl = i % 5 == 0 ? FAR_TTL + i : KVMAP_NO_EXPIRE;
        if (i % 11 == 0) /* some integer-encoded values */
            cr_assert_geq(kvmap_set_int(m, k, (size_t)kl, 1234567890123LL + i, ttl, 0), 0);
        else
            cr_assert_geq(kvmap_set(m, k, (size_t)kl, v, (size_t)vl, ttl, 0), 0);
    }
}

/* Random writes: overwrite, delete, insert (growing the table), TTL. */
static void random_writes(struct kvmap *m, const char *prefix, int n, int range, unsigned *seed)
{
    char k[64];
    for (int i = 0; i < n; i++) {
        int r = rand_r(seed);
        int kl = snprintf(k, sizeof k, "%s:%d", prefix, r % range);
        switch ((r >> 8) % 4) {
        case 0:
            kvmap_set(m, k, (size_t)kl, "changed", 7, KVMAP_NO_EXPIRE, 0);
            break;
        case 1:
            kvmap_del(m, k, (size_t)kl, 0);
            break;
        case 2: {
            char nk[64];
            int nl = snprintf(nk, sizeof nk, "%s:new:%d", prefix, r);
            kvmap_set(m, nk, (size_t)nl, "fresh", 5, KVMAP_NO_EXPIRE, 0);
            break;
        }
        default: {
            int64_t out;
            kvmap_incrby(m, k, (size_t)kl, 1, 0, &out);
            break;
        }
        }
    }
}

/* ---------------------------------------------------------------- tests */

Test(snapshot, file_equals_state_at_cut_despite_writes, .timeout = 120)
{
    make_tmpdir();
    struct mem_acct acct = {0};
    struct kvmap *db[2] = {kvmap_create(&acct), kvmap_create(&acct)};
    fill(db[0], "a", 30000);
    fill(db[1], "b", 5000);
    struct kvmap *want[2] = {map_copy(db[0], &acct), map_copy(db[1], &acct)};

    struct done_box box;
    box_init(&box);
    struct snap *s = snap_new("cut.rdb", 1, &box);
    struct snap_part *p = snap_part_begin(s, db, 2);
    cr_assert_not_null(p);
    unsigned seed = 42;
    int r, rounds = 0;
    /* Tiny slices with writes between them, as a busy shard would see. */
    do {
        random_writes(db[0], "a", 200, 40000, &seed);
        random_writes(db[1], "b", 50, 6000, &seed);
        r = snap_part_step(p, 20000);
        rounds++;
    } while (r != SNAP_STEP_DONE);
    cr_assert_gt(rounds, 3, "the cursor should have needed several slices");
    cr_assert_eq(box_wait(&box), 0);
    struct snap_stats ss;
    snap_get_stats(s, &ss);
    cr_assert_eq(ss.keys, 35000);
    cr_assert_gt(ss.write_captures, 0);
    cr_assert_gt(ss.cursor_captures, 0);
    snap_destroy(s);

    struct kvmap *got[2] = {kvmap_create(&acct), kvmap_create(&acct)};
    load_file("cut.rdb", got, 2);
    assert_maps_equal(want[0], got[0]);
    assert_maps_equal(want[1], got[1]);
    for (int i = 0; i < 2; i++) {
        kvmap_destroy(db[i]);
        kvmap_destroy(want[i]);
        kvmap_destroy(got[i]);
    }
}

Test(snapshot, segment_captured_before_its_first_write, .timeout = 60)
{
    make_tmpdir();
    struct mem_acct acct = {0};
    struct kvmap *db[1] = {kvmap_create(&acct)};
    fill(db[0], "k", 1000);
    struct done_box box;
    box_init(&box);
    struct snap *s = snap_new("cap.rdb", 1, &box);
    struct snap_part *p = snap_part_begin(s, db, 1);

    /* No cursor step yet: each write must capture its segment first. */
    cr_assert_eq(kvmap_set(db[0], "k:7", 3, "new", 3, KVMAP_NO_EXPIRE, 0), 0);
    cr_assert_eq(kvmap_del(db[0], "k:8", 3, 0), 1);
    struct snap_stats ss;
    snap_get_stats(s, &ss);
    cr_assert_geq(ss.write_captures, 1);
    cr_assert_leq(ss.write_captures, 2);
    uint64_t before = ss.write_captures;
    /* A second write to the same segment captures nothing more. */
    cr_assert_eq(kvmap_set(db[0], "k:7", 3, "newer", 5, KVMAP_NO_EXPIRE, 0), 0);
    snap_get_stats(s, &ss);
    cr_assert_eq(ss.write_captures, before);

    while (snap_part_step(p, 1000000) != SNAP_STEP_DONE)
        ;
    cr_assert_eq(box_wait(&box), 0);
    snap_destroy(s);
    struct kvmap *got[1] = {kvmap_create(&acct)};
    load_file("cap.rdb", got, 1);
    cr_assert_eq(kvmap_count(got[0]), 1000);
    size_t vlen;
    char buf[21];
    struct kventry *e = kvmap_find(got[0], "k:7", 3, 0);
    cr_assert_not_null(e);
    const char *v = kventry_value(e, buf, &vlen);
    cr_assert(vlen == 10 && memcmp(v, "value-49-k", 10) == 0, "old value kept");
    cr_assert_not_null(kvmap_find(got[0], "k:8", 3, 0), "deleted key still in the snapshot");
    /* After the snapshot, capture is disarmed: writes cost nothing more. */
    cr_assert_eq(kvmap_set(db[0], "k:9", 3, "x", 1, KVMAP_NO_EXPIRE, 0), 0);
    kvmap_destroy(db[0]);
    kvmap_destroy(got[0]);
}

Test(snapshot, cursor_complete_across_rehash_and_rename, .timeout = 120)
{
    make_tmpdir();
    struct mem_acct acct = {0};
    struct kvmap *db[1] = {kvmap_create(&acct)};
    /* Insert until a grow is under way, so the cut sees two tables. */
    char k[32];
    int n = 0;
    struct kvmap_stats st;
    do {
        int kl = snprintf(k, sizeof k, "r:%d", n++);
        kvmap_set(db[0], k, (size_t)kl, "v", 1, KVMAP_NO_EXPIRE, 0);
        kvmap_stats(db[0], &st);
    } while (!(st.rehashing && n > 5000));
    cr_assert(st.rehashing);
    struct kvmap *want = map_copy(db[0], &acct);
    uint64_t resizes0 = st.resizes;

    struct done_box box;
    box_init(&box);
    struct snap *s = snap_new("rehash.rdb", 1, &box);
    struct snap_part *p = snap_part_begin(s, db, 1);
    /* Walk a little of the old tables, then finish the rehash (t1 is
     * renamed t0) and grow again with many inserts between tiny slices. */
    snap_part_step(p, 1000);
    kvmap_rehash_slice(db[0], UINT64_MAX / 2);
    kvmap_stats(db[0], &st);
    cr_assert_eq(st.rehashing, 0, "the rehash finished: t1 became t0");
    int r, i = 0;
    /* Start the next grow while the cursor is part-way through. */
    snap_part_step(p, 1000);
    do {
        int kl = snprintf(k, sizeof k, "grow:%d", i++);
        kvmap_set(db[0], k, (size_t)kl, "g", 1, KVMAP_NO_EXPIRE, 0);
        kvmap_stats(db[0], &st);
    } while (st.resizes == resizes0);
    /* Interleave bounded: each resize restarts the pass, so writes that
     * never stop growing the map could outrun 2 us slices on a slow build
     * (ThreadSanitizer) forever. 20,000 more keys still cross a resize. */
    const int grow_until = i + 20000;
    do {
        for (int j = 0; j < 300 && i < grow_until; j++, i++) {
            int kl = snprintf(k, sizeof k, "grow:%d", i);
            kvmap_set(db[0], k, (size_t)kl, "g", 1, KVMAP_NO_EXPIRE, 0);
        }
        r = snap_part_step(p, 2000);
    } while (r != SNAP_STEP_DONE);
    kvmap_stats(db[0], &st);
    cr_assert_gt(st.resizes, resizes0, "the map grew during the snapshot");
    cr_assert_eq(box_wait(&box), 0);
    snap_destroy(s);
    struct kvmap *got[1] = {kvmap_create(&acct)};
    load_file("rehash.rdb", got, 1);
    assert_maps_equal(want, got[0]);
    kvmap_destroy(db[0]);
    kvmap_destroy(want);
    kvmap_destroy(got[0]);
}

Test(snapshot, clear_during_snapshot_keeps_the_cut, .timeout = 60)
{
    make_tmpdir();
    struct mem_acct acct = {0};
    struct kvmap *db[1] = {kvmap_create(&acct)};
    fill(db[0], "c", 4000);
    struct kvmap *want = map_copy(db[0], &acct);
    struct done_box box;
    box_init(&box);
    struct snap *s = snap_new("clear.rdb", 1, &box);
    struct snap_part *p = snap_part_begin(s, db, 1);
    snap_part_step(p, 1000);
    kvmap_clear(db[0]); /* FLUSHDB */
    fill(db[0], "after", 3000);
    while (snap_part_step(p, 5000) != SNAP_STEP_DONE)
        ;
    cr_assert_eq(box_wait(&box), 0);
    snap_destroy(s);
    struct kvmap *got[1] = {kvmap_create(&acct)};
    load_file("clear.rdb", got, 1);
    assert_maps_equal(want, got[0]);
    kvmap_destroy(db[0]);
    kvmap_destroy(want);
    kvmap_destroy(got[0]);
}

Test(snapshot, extra_memory_follows_writes_not_data_set, .timeout = 120)
{
    make_tmpdir();
    struct mem_acct acct = {0};
    struct kvmap *db[1] = {kvmap_create(&acct)};
    const int nkeys = 200000, nwrites = 100;
    fill(db[0], "m", nkeys);
    kvmap_rehash_slice(db[0], UINT64_MAX / 2); /* settle: no rehash moves */
    struct kvmap_stats st;
    kvmap_stats(db[0], &st);
    struct done_box box;
    box_init(&box);
    struct snap *s = snap_new("mem.rdb", 1, &box);
    struct snap_part *p = snap_part_begin(s, db, 1);
    char k[32];
    unsigned seed = 7;
    for (int i = 0; i < nwrites; i++) {
        int kl = snprintf(k, sizeof k, "m:%d", rand_r(&seed) % nkeys);
        kvmap_set(db[0], k, (size_t)kl, "w", 1, KVMAP_NO_EXPIRE, 0);
    }
    struct snap_stats ss;
    snap_get_stats(s, &ss);
    /* Each overwrite captures at most its one segment (KVMAP_SEGMENT_BUCKETS at the
     * map's load factor), whatever the data set size. */
    double per_seg = KVMAP_SEGMENT_BUCKETS * (st.load_factor + 1.0) * 2;
    cr_assert_leq(ss.write_captures, (uint64_t)nwrites);
    cr_assert_leq((double)ss.write_capture_keys, nwrites * per_seg,
                  "%llu keys captured for %d writes",
                  (unsigned long long)ss.write_capture_keys, nwrites);
    cr_assert_lt(ss.write_capture_keys, (uint64_t)nkeys / 10);
    while (snap_part_step(p, 1000000) != SNAP_STEP_DONE)
        ;
    cr_assert_eq(box_wait(&box), 0);
    snap_get_stats(s, &ss);
    /* The cursor's queue is bounded by the limit plus one chunk. */
    cr_assert_leq(ss.queue_peak, SNAP_DEFAULT_QUEUE_LIMIT + ((size_t)1 << 20));
    cr_assert_eq(ss.keys, (uint64_t)nkeys);
    snap_destroy(s);
    kvmap_destroy(db[0]);
}

Test(snapshot, bad_directory_fails_cleanly, .timeout = 30)
{
    struct snap_opts o = {.nparts = 1,
                          .path = "/nonexistent-dir-skv/x.rdb",
                          .tmp_path = "/nonexistent-dir-skv/x.tmp"};
    struct snap *s = NULL;
    cr_assert_lt(snap_create(&o, &s), 0);
    cr_assert_null(s);
}

/* ------------------------------------------------- over shard threads */

struct fill_msg {
    struct mbox_msg m;      /* header */
    int n;                  /* keys to set on the shard */
    struct done_box *box;   /* signalled when done */
};

static void on_fill(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    struct fill_msg *f = (struct fill_msg *)m;
    char k[32];
    for (int i = 0; i < f->n; i++) {
        int kl = snprintf(k, sizeof k, "s%u:%d", s->id, i);
        kvmap_set(shard_db(s, (unsigned)i % 2), k, (size_t)kl, "v", 1, KVMAP_NO_EXPIRE, 0);
    }
    on_done(f->box, NULL, 0);
}

Test(snapshot, group_cut_over_shard_threads, .timeout = 120)
{
    make_tmpdir();
    struct shard_group_opts o = {.nshards = 3, .ndb = 2};
    struct shard_group *g = shard_group_create(&o);
    cr_assert_eq(shard_group_start(g), 0);
    for (unsigned i = 0; i < 3; i++) {
        struct done_box b;
        box_init(&b);
        struct fill_msg f = {.n = 20000, .box = &b};
        f.m.handle = on_fill;
        shard_post(shard_group_get(g, i), &f.m);
        box_wait(&b);
    }
    struct done_box box;
    box_init(&box);
    struct snap *s = snap_new("group.rdb", 3, &box);
    cr_assert_eq(snap_group_cut(s, g), 0);
    cr_assert_eq(box_wait(&box), 0);
    snap_destroy(s);
    shard_group_stop(g);
    shard_group_destroy(g);
    struct mem_acct acct = {0};
    struct kvmap *got[2] = {kvmap_create(&acct), kvmap_create(&acct)};
    load_file("group.rdb", got, 2);
    cr_assert_eq(kvmap_count(got[0]) + kvmap_count(got[1]), 60000);
    cr_assert_eq(kvmap_count(got[0]), 30000);
    kvmap_destroy(got[0]);
    kvmap_destroy(got[1]);
}

/* ------------------------------------------- pre-encoded records (rdb.h) */

struct mem_sink {
    unsigned char buf[4096]; /* the file */
    size_t len;              /* bytes in it */
};

static int mem_write(void *arg, const void *p, size_t n)
{
    struct mem_sink *m = arg;
    cr_assert_leq(m->len + n, sizeof m->buf);
    memcpy(m->buf + m->len, p, n);
    m->len += n;
    return 0;
}

Test(snapshot, encoded_records_match_the_writer_byte_for_byte)
{
    static const struct {
        const char *k, *v;
        int64_t exp;
    } recs[] = {{"a", "1", -1},          {"int", "-2147483648", 5},  {"big", "2147483648", -1},
                {"zero", "0", 0},        {"lead", "007", -1},        {"neg0", "-0", 1},
                {"", "", -1},            {"str", "hello world", 1700000000000LL}};
    static struct rdb_writer w1, w2;
    static struct mem_sink a, b;
    a.len = b.len = 0;
    rdb_writer_init(&w1, mem_write, &a);
    rdb_writer_init(&w2, mem_write, &b);
    cr_assert_eq(rdb_writer_begin(&w1, 7, 8), 0);
    cr_assert_eq(rdb_writer_begin(&w2, 7, 8), 0);
    cr_assert_eq(rdb_writer_select_db(&w1, 3, 0, 0), 0);
    cr_assert_eq(rdb_writer_select_db(&w2, 3, 0, 0), 0);
    unsigned char rec[256];
    for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
        size_t kl = strlen(recs[i].k), vl = strlen(recs[i].v);
        cr_assert_eq(rdb_writer_string(&w1, recs[i].k, kl, recs[i].v, vl, recs[i].exp), 0);
        cr_assert_leq(rdb_string_record_max(kl, vl), sizeof rec);
        size_t n = rdb_encode_string(rec, recs[i].k, kl, recs[i].v, vl, recs[i].exp, false);
        cr_assert_leq(n, rdb_string_record_max(kl, vl));
        cr_assert_eq(rdb_writer_raw(&w2, rec, n, 1), 0);
    }
    /* Selecting a database again is valid: the loader just switches. */
    cr_assert_eq(rdb_writer_select_db(&w1, 3, 0, 0), 0);
    cr_assert_eq(rdb_writer_select_db(&w2, 3, 0, 0), 0);
    cr_assert_eq(rdb_writer_end(&w1), 0);
    cr_assert_eq(rdb_writer_end(&w2), 0);
    cr_assert_eq(w1.keys, w2.keys);
    cr_assert_eq(a.len, b.len);
    cr_assert(memcmp(a.buf, b.buf, a.len) == 0, "same bytes, same CRC");
}

/* rdb_encode_string with lzf: keys and values of more than 20 bytes that
 * compress are written LZF-compressed (shorter than the raw record), the
 * rest as without it; the loader reads every record back unchanged. */
struct lzf_seen {
    unsigned n;                /* records loaded */
    const char *const *keys;   /* expected keys, in order */
    const char *const *vals;   /* and values */
};

static int lzf_seen_string(void *arg, uint64_t db, const char *key, size_t klen,
                           const char *val, size_t vlen, int64_t expire_ms)
{
    struct lzf_seen *s = arg;
    (void)db;
    (void)expire_ms;
    cr_assert_eq(klen, strlen(s->keys[s->n]));
    cr_assert(memcmp(key, s->keys[s->n], klen) == 0);
    cr_assert_eq(vlen, strlen(s->vals[s->n]), "record %u", s->n);
    cr_assert(memcmp(val, s->vals[s->n], vlen) == 0, "record %u", s->n);
    s->n++;
    return 0;
}

Test(snapshot, compressed_records_load_back)
{
    static const char *const keys[] = {"short", "key-key-key-key-key-key-key-key-key",
                                       "n", "incompressible-key-0123456789", "e"};
    static const char *const vals[] = {
        "abcabcabcabcabcabcabcabcabcabcabcabcabcabc", "12345", "v",
        "q8#Zk1!pL0@xW9$mN2%bV7^cX3&", "ababababababababababab"};
    static struct mem_sink a;
    static struct rdb_writer w;
    a.len = 0;
    rdb_writer_init(&w, mem_write, &a);
    cr_assert_eq(rdb_writer_begin(&w, 0, 0), 0);
    cr_assert_eq(rdb_writer_select_db(&w, 0, 0, 0), 0);
    unsigned char rec[256], raw[256];
    size_t shorter = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        size_t kl = strlen(keys[i]), vl = strlen(vals[i]);
        size_t n = rdb_encode_string(rec, keys[i], kl, vals[i], vl, -1, true);
        size_t m = rdb_encode_string(raw, keys[i], kl, vals[i], vl, -1, false);
        cr_assert_leq(n, m);
        if (n < m)
            shorter++;
        else
            cr_assert(memcmp(rec, raw, n) == 0, "record %zu: nothing to compress", i);
        cr_assert_eq(rdb_writer_raw(&w, rec, n, 1), 0);
    }
    cr_assert_eq(shorter, 3, "the two long repetitive values and the long key");
    cr_assert_eq(rdb_writer_end(&w), 0);
    struct lzf_seen seen = {0, keys, vals};
    struct rdb_mem_reader rd = {a.buf, a.len, 0, 0};
    struct rdb_load_opts o = {.arg = &seen, .on_string = lzf_seen_string,
                              .flags = RDB_LOAD_REQUIRE_CRC};
    struct rdb_load_result res;
    int rc = rdb_load(rdb_mem_read, &rd, &o, &res);
    cr_assert_eq(rc, 0, "load: %s %s", rdb_strerror(rc), res.msg);
    cr_assert_eq(seen.n, sizeof keys / sizeof keys[0]);
}
