/* test_snapshot_big_seq.c — big sorted sets and lists in a snapshot are
 * captured in slices: the writes that meet one during the capture hand out
 * a bounded part of it (an element of a sorted set, a node of a list per
 * write), not the container; the file holds every container exactly as of
 * the cut, whatever is written to it meanwhile, also when it is emptied or
 * deleted before it is captured (DEL, ZREMRANGEBYRANK or LTRIM of
 * everything, popping every element); and every byte is given back. The
 * part runs on the test thread, which owns the map. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "shard/kvmap.h"
#include "shard/quicklist.h"
#include "shard/rdb.h"
#include "shard/snapshot.h"
#include "shard/tval.h"
#include "shard/tval_rdb.h"
#include "shard/zset.h"

#define BIG 5000 /* elements per container: well over SNAP_BIG_MIN */

static struct mem_acct ma;
static char dir[64];

static void setup(void)
{
    memset(&ma, 0, sizeof ma);
    strcpy(dir, "/tmp/test-snapseq-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(snapshot_big_seq, .init = setup, .fini = teardown, .timeout = 120);

static const struct zset_limits ZLIM = {128, 64};

static struct tval *big_zset(const char *prefix, int n)
{
    struct tval *tv = zset_create(&ma, &ZLIM, 0, 0);
    char m[32];
    for (int i = 0; i < n; i++) {
        int ml = snprintf(m, sizeof m, "%s-%d", prefix, i);
        int out;
        cr_assert_eq(zset_add(&ma, tv, &ZLIM, m, (size_t)ml, (double)(i % 977) * 0.5, 0, &out,
                              NULL),
                     0);
    }
    cr_assert_str_eq(tval_enc_name(tv), "skiplist");
    return tv;
}

static void zadd(struct tval *tv, const char *m, double score)
{
    int out;
    cr_assert_eq(zset_add(&ma, tv, &ZLIM, m, strlen(m), score, 0, &out, NULL), 0);
}

/* The typed value at key (a peek: no access stamp, no capture). */
static struct tval *peek_tval(struct kvmap *m, const char *key)
{
    struct kventry *e = kvmap_peek(m, key, strlen(key), 0);
    return e ? kventry_tval(e) : NULL;
}

/* The value at key for a write: captures the key's segment first. */
static struct tval *write_tval(struct kvmap *m, const char *key)
{
    struct kventry *e = kvmap_find_w(m, key, strlen(key), 0);
    cr_assert_not_null(e, "no %s", key);
    return kventry_tval(e);
}

/* ------------------------------------------------ comparing containers */

static void assert_same_zset(struct tval *want, struct tval *got, const char *key)
{
    cr_assert_eq(zset_len(want), zset_len(got), "%s: want %zu elements, got %zu", key,
                 zset_len(want), zset_len(got));
    struct zset_iter a, b;
    struct zset_elem ea, eb;
    zset_iter_init(&a, want, 0, false);
    zset_iter_init(&b, got, 0, false);
    for (size_t i = 0; zset_iter_next(&a, &ea); i++) {
        cr_assert(zset_iter_next(&b, &eb));
        cr_assert(ea.len == eb.len && memcmp(ea.m, eb.m, ea.len) == 0 && ea.score == eb.score,
                  "%s: element %zu: want %.*s %g, got %.*s %g", key, i, (int)ea.len, ea.m,
                  ea.score, (int)eb.len, eb.m, eb.score);
    }
}

static void assert_same(struct tval *want, struct tval *got, const char *key)
{
    cr_assert_eq(want->type, got->type, "type of %s", key);
    if (want->type == TVAL_ZSET)
        assert_same_zset(want, got, key);
    else
        cr_assert_fail("%s: unexpected type", key);
}

/* ----------------------------------------------------- the file's side */

#define MAXKEYS 8
static const char *keys[MAXKEYS];
static struct tval *want[MAXKEYS];
static bool seen[MAXKEYS];
static int nkeys;
static uint64_t strings_seen;

static int on_object(void *arg, uint64_t db, const char *key, size_t klen,
                     const unsigned char *obj, size_t olen, int64_t expire_ms)
{
    (void)arg, (void)expire_ms;
    cr_assert_eq(db, 0);
    for (int i = 0; i < nkeys; i++) {
        if (strlen(keys[i]) != klen || memcmp(keys[i], key, klen) != 0)
            continue;
        cr_assert(!seen[i], "%s written twice", keys[i]);
        seen[i] = true;
        struct tval *got = NULL;
        char err[128] = "";
        int rc = tval_rdb_decode(&ma, obj, olen, NULL, &got, NULL, err, sizeof err);
        cr_assert_eq(rc, 0, "%s: %s", keys[i], err);
        assert_same(want[i], got, keys[i]);
        tval_free(&ma, got);
        return 0;
    }
    cr_assert_fail("unexpected key %.*s", (int)klen, key);
    return 0;
}

static int on_string(void *arg, uint64_t db, const char *key, size_t klen, const char *val,
                     size_t vlen, int64_t expire_ms)
{
    (void)arg, (void)db, (void)key, (void)klen, (void)val, (void)vlen, (void)expire_ms;
    strings_seen++;
    return 0;
}

static void load(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "no file %s", path);
    int fd = fileno(f);
    struct rdb_load_opts o = {
        .on_string = on_string, .on_object = on_object, .flags = RDB_LOAD_REQUIRE_CRC};
    struct rdb_load_result res;
    int rc = rdb_load(rdb_fd_read, &fd, &o, &res);
    fclose(f);
    cr_assert_eq(rc, 0, "load: %s %s", rdb_strerror(rc), res.msg);
}

/* ------------------------------------------------------------ snapshot */

struct box {
    uv_mutex_t lock; /* guards done, status */
    uv_cond_t cond;  /* signalled by on_done */
    bool done;       /* on_done ran */
    int status;      /* its status */
};

static void on_done(void *arg, struct snap *s, int status)
{
    (void)s;
    struct box *b = arg;
    uv_mutex_lock(&b->lock);
    b->done = true;
    b->status = status;
    uv_cond_signal(&b->cond);
    uv_mutex_unlock(&b->lock);
}

/* One snapshot of m around the test's writes. */
struct run {
    struct box box;
    struct snap *s;
    struct snap_part *p;  /* NULL once the part is done */
    char path[128];
};

/* One cursor slice of budget ns, unless the part is done. */
static void step(struct run *r, uint64_t budget)
{
    if (r->p && snap_part_step(r->p, budget) == SNAP_STEP_DONE)
        r->p = NULL;
}

/* Remember what the keys hold now, then take the cut. */
static void run_begin(struct run *r, struct kvmap *m, const char *const *names, int n)
{
    nkeys = n;
    for (int i = 0; i < n; i++) {
        keys[i] = names[i];
        want[i] = tval_copy(&ma, peek_tval(m, names[i]));
        cr_assert_not_null(want[i]);
        seen[i] = false;
    }
    strings_seen = 0;
    r->box.done = false;
    r->box.status = 1;
    uv_mutex_init(&r->box.lock);
    uv_cond_init(&r->box.cond);
    char tmp[160];
    snprintf(r->path, sizeof r->path, "%s/dump.rdb", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", r->path);
    struct snap_opts o = {.nparts = 1, .path = r->path, .tmp_path = tmp, .ctime_s = 1,
                          .on_done = on_done, .arg = &r->box};
    r->s = NULL;
    cr_assert_eq(snap_create(&o, &r->s), 0);
    r->p = snap_part_begin(r->s, &m, 1);
    cr_assert_not_null(r->p);
}

static void stats(struct run *r, struct snap_stats *st)
{
    snap_get_stats(r->s, st);
}

/* Let the cursor finish, check the file against the cut, free it all. */
static void run_end(struct run *r, uint64_t strings, uint64_t bigs)
{
    while (r->p) {
        step(r, 1000000);
        usleep(100);
    }
    uv_mutex_lock(&r->box.lock);
    while (!r->box.done)
        uv_cond_wait(&r->box.cond, &r->box.lock);
    uv_mutex_unlock(&r->box.lock);
    cr_assert_eq(r->box.status, 0);
    struct snap_stats st;
    snap_get_stats(r->s, &st);
    cr_assert_eq(st.big_values, bigs);
    cr_assert_eq(st.keys, (uint64_t)nkeys + strings);
    snap_destroy(r->s);
    uv_mutex_destroy(&r->box.lock);
    uv_cond_destroy(&r->box.cond);
    load(r->path);
    for (int i = 0; i < nkeys; i++)
        cr_assert(seen[i], "%s missing from the file", keys[i]);
    cr_assert_eq(strings_seen, strings);
    for (int i = 0; i < nkeys; i++)
        tval_free(&ma, want[i]);
}

static void free_map(struct kvmap *m)
{
    kvmap_destroy(m);
    while (tval_lazyfree_step(1000000))
        ;
    cr_assert_eq(ma.used, 0, "%lld bytes left", (long long)ma.used);
}

static void add_strings(struct kvmap *m, int n)
{
    char k[32];
    for (int i = 0; i < n; i++) {
        int kl = snprintf(k, sizeof k, "str:%d", i);
        cr_assert_geq(kvmap_set(m, k, (size_t)kl, "v", 1, KVMAP_NO_EXPIRE, 0), 0);
    }
    while (kvmap_rehash_slice(m, 1000000000)) /* no rehash step captures on its own */
        ;
}

/* ---------------------------------------------------------- sorted sets */

Test(snapshot_big_seq, zset_writes_capture_one_element_each)
{
    struct kvmap *m = kvmap_create(&ma);
    struct tval *zv = big_zset("z", BIG);
    zadd(zv, "solo", 1e6); /* alone between its neighbours: updated in place */
    cr_assert_eq(kvmap_set_tval(m, "z", 1, zv, KVMAP_NO_EXPIRE, 0), 1);
    add_strings(m, 200);
    static const char *const names[] = {"z"};
    struct run r;
    run_begin(&r, m, names, 1);

    /* The first write meets z's segment: z is started, not encoded. */
    struct tval *z = write_tval(m, "z");
    struct snap_stats st;
    stats(&r, &st);
    cr_assert_eq(st.big_values, 1, "z is captured in slices");
    cr_assert_eq(st.big_write_elements, 0);
    /* A score changed in place, one moved far, one removed, one added: a
     * write hands out at most the element it changes. */
    zadd(z, "z-10", 5.25);
    zadd(z, "z-11", 100000);
    cr_assert_eq(zset_del(&ma, z, "z-12", 4), 1);
    zadd(z, "new", 1);
    zadd(z, "new", 2); /* a member born after the cut is nobody's to hand out */
    zadd(z, "solo", 1.5e6);
    zadd(z, "solo", 1.7e6);
    stats(&r, &st);
    cr_assert_eq(st.big_write_elements, 4, "7 writes handed out %llu elements",
                 (unsigned long long)st.big_write_elements);

    /* Heavier churn between cursor slices: every element still comes out
     * once, as of the cut. */
    char mb[32];
    for (int round = 0; round < 20; round++) {
        step(&r, 20000);
        for (int i = round; i < BIG; i += 37) {
            snprintf(mb, sizeof mb, "z-%d", i);
            if (i % 3 == 0)
                (void)zset_del(&ma, z, mb, strlen(mb));
            else
                zadd(z, mb, (double)(i * round % 1000) - 300.5);
            snprintf(mb, sizeof mb, "late-%d-%d", round, i);
            zadd(z, mb, (double)(i % 500));
        }
    }
    cr_assert_eq(zset_check(z), 0);
    run_end(&r, 200, 1);
    free_map(m);
}

Test(snapshot_big_seq, zset_emptied_or_deleted_before_captured)
{
    struct kvmap *m = kvmap_create(&ma);
    cr_assert_eq(kvmap_set_tval(m, "del", 3, big_zset("d", BIG), KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_eq(kvmap_set_tval(m, "range", 5, big_zset("r", BIG), KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_eq(kvmap_set_tval(m, "pop", 3, big_zset("p", BIG + 7), KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_eq(kvmap_set_tval(m, "over", 4, big_zset("o", BIG), KVMAP_NO_EXPIRE, 0), 1);
    add_strings(m, 50);
    static const char *const names[] = {"del", "range", "pop", "over"};
    struct run r;
    run_begin(&r, m, names, 4);

    /* DEL: the key lets go of the set; the capture keeps it until done. */
    (void)write_tval(m, "del");
    cr_assert_eq(kvmap_del(m, "del", 3, 0), 1);
    /* ZREMRANGEBYRANK 0 -1, then the empty key goes, as the command does. */
    struct tval *z = write_tval(m, "range");
    cr_assert_eq(zset_del_range(&ma, z, 0, zset_len(z)), BIG);
    cr_assert_eq(kvmap_del(m, "range", 5, 0), 1);
    /* ZPOPMIN a slice at a time, between cursor slices, to the end. */
    z = write_tval(m, "pop");
    while (zset_len(z)) {
        (void)zset_del_range(&ma, z, 0, 100);
        step(&r, 5000);
    }
    cr_assert_eq(kvmap_del(m, "pop", 3, 0), 1);
    /* Overwritten by a string. */
    (void)write_tval(m, "over");
    cr_assert_geq(kvmap_set(m, "over", 4, "now a string", 12, KVMAP_NO_EXPIRE, 0), 0);
    struct snap_stats st;
    stats(&r, &st);
    cr_assert_eq(st.big_values, 4);
    run_end(&r, 50, 4);
    cr_assert_null(peek_tval(m, "del"));
    free_map(m);
}
