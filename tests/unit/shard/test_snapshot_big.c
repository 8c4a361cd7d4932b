/* test_snapshot_big.c — big hash tables (hashes and sets) in a snapshot
 * are captured a segment at a time: the write that meets one encodes a
 * segment's elements, not the container; the file still holds every
 * container as of the cut, whatever is written to it meanwhile, also when
 * its key is deleted or overwritten before it is captured; and every block
 * is given back. The part runs on the test thread, which owns the map. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "shard/kvmap.h"
#include "shard/rdb.h"
#include "shard/snapshot.h"
#include "shard/thash.h"
#include "shard/tset.h"
#include "shard/tval.h"
#include "shard/tval_rdb.h"

#define BIG 5000 /* elements per container: well over SNAP_BIG_MIN */

static struct mem_acct ma;
static char dir[64];

static void setup(void)
{
    memset(&ma, 0, sizeof ma);
    strcpy(dir, "/tmp/test-snapbig-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(snapshot_big, .init = setup, .fini = teardown, .timeout = 120);

static struct tval *big_hash(const char *prefix)
{
    struct tval *tv = thash_create(&ma);
    char f[32], v[32];
    for (int i = 0; i < BIG; i++) {
        int fl = snprintf(f, sizeof f, "%s-f%d", prefix, i);
        int vl = snprintf(v, sizeof v, "value-%d", i * 3);
        cr_assert_geq(thash_set(&ma, tv, f, (size_t)fl, v, (size_t)vl), 0);
    }
    cr_assert_str_eq(tval_enc_name(tv), "hashtable");
    return tv;
}

/* The typed value at key (a peek: no access stamp, no capture). */
static struct tval *peek_tval(struct kvmap *m, const char *key)
{
    struct kventry *e = kvmap_peek(m, key, strlen(key), 0);
    return e ? kventry_tval(e) : NULL;
}

static struct tval *big_set(void)
{
    struct tval *tv = tset_create(&ma, "member-0", 8, BIG);
    char m[32];
    for (int i = 0; i < BIG; i++) {
        int ml = snprintf(m, sizeof m, "member-%d", i);
        cr_assert_geq(tset_add(&ma, tv, m, (size_t)ml), 0);
    }
    cr_assert_str_eq(tval_enc_name(tv), "hashtable");
    return tv;
}

/* ------------------------------------------------ comparing containers */

struct pairs {
    char **s;  /* "field\0value" or "member" texts, sorted */
    size_t n;  /* how many */
};

static void add_pair(struct pairs *p, const char *a, size_t al, const char *b, size_t bl)
{
    char *t = malloc(al + bl + 2);
    memcpy(t, a, al);
    t[al] = '=';
    memcpy(t + al + 1, b, bl);
    t[al + 1 + bl] = 0;
    p->s = realloc(p->s, (p->n + 1) * sizeof *p->s);
    p->s[p->n++] = t;
}

static void hash_pair(void *arg, const struct thash_str *f, const struct thash_str *v)
{
    add_pair(arg, f->ptr, f->len, v->ptr, v->len);
}

static void set_member(void *arg, const char *m, size_t len)
{
    add_pair(arg, m, len, "", 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every element of tv as sorted text. */
static struct pairs elements(struct tval *tv)
{
    struct pairs p = {NULL, 0};
    if (tv->type == TVAL_HASH)
        thash_foreach(tv, hash_pair, &p);
    else
        tset_each(tv, set_member, &p);
    qsort(p.s, p.n, sizeof *p.s, cmp_str);
    return p;
}

static void pairs_free(struct pairs *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->s[i]);
    free(p->s);
}

static void assert_same(struct tval *want, struct tval *got, const char *key)
{
    cr_assert_eq(want->type, got->type, "type of %s", key);
    struct pairs a = elements(want), b = elements(got);
    cr_assert_eq(a.n, b.n, "%s: want %zu elements, got %zu", key, a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        cr_assert_str_eq(a.s[i], b.s[i], "%s: element %zu", key, i);
    pairs_free(&a);
    pairs_free(&b);
}

/* ----------------------------------------------------- the file's side */

/* What the cut holds, and what the file was found to hold. */
#define NKEYS 3
static const char *const keys[NKEYS] = {"h", "s", "gone"};
static struct tval *want[NKEYS];
static bool seen[NKEYS];
static uint64_t strings_seen;

static int on_object(void *arg, uint64_t db, const char *key, size_t klen,
                     const unsigned char *obj, size_t olen, int64_t expire_ms)
{
    (void)arg;
    cr_assert_eq(db, 0);
    for (int i = 0; i < NKEYS; i++) {
        if (strlen(keys[i]) != klen || memcmp(keys[i], key, klen) != 0)
            continue;
        cr_assert(!seen[i], "%s written twice", keys[i]);
        seen[i] = true;
        cr_assert_eq(expire_ms, i == 0 ? 4102444800000LL : -1, "expiry of %s", keys[i]);
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

Test(snapshot_big, containers_captured_in_slices_as_of_the_cut)
{
    struct kvmap *m = kvmap_create(&ma);
    cr_assert_eq(kvmap_set_tval(m, "h", 1, big_hash("h"), 4102444800000LL, 0), 1);
    cr_assert_eq(kvmap_set_tval(m, "s", 1, big_set(), KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_eq(kvmap_set_tval(m, "gone", 4, big_hash("g"), KVMAP_NO_EXPIRE, 0), 1);
    char k[32];
    for (int i = 0; i < 300; i++) {
        int kl = snprintf(k, sizeof k, "str:%d", i);
        cr_assert_geq(kvmap_set(m, k, (size_t)kl, "v", 1, KVMAP_NO_EXPIRE, 0), 0);
    }
    while (kvmap_rehash_slice(m, 1000000000)) /* no rehash step captures on its own */
        ;
    for (int i = 0; i < NKEYS; i++) {
        want[i] = tval_copy(&ma, peek_tval(m, keys[i]));
        seen[i] = false;
    }
    strings_seen = 0;

    struct box box = {.done = false, .status = 1};
    uv_mutex_init(&box.lock);
    uv_cond_init(&box.cond);
    char path[128], tmp[160];
    snprintf(path, sizeof path, "%s/dump.rdb", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    struct snap_opts o = {.nparts = 1, .path = path, .tmp_path = tmp, .ctime_s = 1,
                          .on_done = on_done, .arg = &box};
    struct snap *s = NULL;
    cr_assert_eq(snap_create(&o, &s), 0);
    struct snap_part *p = snap_part_begin(s, &m, 1);
    cr_assert_not_null(p);

    /* The first write to h meets its uncaptured segment: h is started, not
     * encoded; then each write to h captures one segment of h. */
    struct kventry *e = kvmap_find_w(m, "h", 1, 0);
    cr_assert_not_null(e);
    struct tval *h = kventry_tval(e);
    struct snap_stats st;
    snap_get_stats(s, &st);
    cr_assert_eq(st.big_values, 1, "h is captured in slices");
    cr_assert_eq(st.big_write_elements, 0);
    cr_assert_geq(thash_set(&ma, h, "h-f7", 4, "changed", 7), 0);
    cr_assert_eq(thash_del(&ma, h, "h-f8", 4), 1);
    cr_assert_geq(thash_set(&ma, h, "new", 3, "field", 5), 0);
    snap_get_stats(s, &st);
    cr_assert_gt(st.big_write_elements, 0, "the writes captured h's segments first");
    cr_assert_lt(st.big_write_elements, 200, "three writes captured %llu elements, not segments",
                 (unsigned long long)st.big_write_elements);

    /* s: members removed and added before the cursor gets there. */
    struct tval *sv = kventry_tval(kvmap_find_w(m, "s", 1, 0));
    for (int i = 0; i < BIG; i += 7) {
        int ml = snprintf(k, sizeof k, "member-%d", i);
        cr_assert_eq(tset_remove(&ma, sv, k, (size_t)ml), 1);
        ml = snprintf(k, sizeof k, "extra-%d", i);
        cr_assert_eq(tset_add(&ma, sv, k, (size_t)ml), 1);
    }
    /* gone: deleted before it is captured; the snapshot keeps it alive
     * until it has it all. */
    cr_assert_eq(kvmap_del(m, "gone", 4, 0), 1);
    cr_assert_null(peek_tval(m, "gone"));

    while (snap_part_step(p, 1000000) != SNAP_STEP_DONE)
        usleep(100);
    uv_mutex_lock(&box.lock);
    while (!box.done)
        uv_cond_wait(&box.cond, &box.lock);
    uv_mutex_unlock(&box.lock);
    cr_assert_eq(box.status, 0);
    snap_get_stats(s, &st);
    cr_assert_eq(st.big_values, 3);
    cr_assert_eq(st.keys, NKEYS + 300);
    snap_destroy(s);

    load(path);
    for (int i = 0; i < NKEYS; i++)
        cr_assert(seen[i], "%s missing from the file", keys[i]);
    cr_assert_eq(strings_seen, 300);

    /* The live h has the writes; the file had the cut. */
    char buf[THASH_NUMBUF];
    struct thash_str v;
    cr_assert(thash_get(peek_tval(m, "h"), "h-f7", 4, buf, &v));
    cr_assert_eq(v.len, 7);

    for (int i = 0; i < NKEYS; i++)
        tval_free(&ma, want[i]);
    kvmap_destroy(m);
    while (tval_lazyfree_step(1000000))
        ;
    cr_assert_eq(ma.used, 0, "%lld bytes left", (long long)ma.used);
}
