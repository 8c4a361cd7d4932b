/* test_snapshot_big_seq.c — big sorted sets and lists in a snapshot are
 * captured in slices: the writes that meet one during the capture hand out
 * a bounded part of it (the element a write changes of a sorted set, the
 * nodes it changes of a list), not the container; the file holds every
 * container exactly as of the cut, whatever is written to it meanwhile
 * (compressed list nodes included), also when it is emptied or deleted
 * before it is captured (DEL, overwrite, ZREMRANGEBYRANK, LTRIM, popping
 * every element); and every byte is given back. The part runs on the test
 * thread, which owns the map. */
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

/* A list of n elements "<prefix>-<i>" padded to ~40 bytes (a few dozen
 * nodes of 8 KB), compress depth as given. */
static struct tval *big_list(const char *prefix, int n, int depth)
{
    struct quicklist *ql = quicklist_create(&ma, QUICKLIST_FILL_DEFAULT, depth);
    cr_assert_not_null(ql);
    char v[64];
    for (int i = 0; i < n; i++) {
        int vl = snprintf(v, sizeof v, "%s-%d-%s", prefix, i, "padding-padding-padding-pad");
        cr_assert_eq(quicklist_push(&ma, ql, QUICKLIST_TAIL, v, (size_t)vl), 0);
    }
    struct tval *tv = tval_new(&ma, TVAL_LIST, TVAL_ENC_QUICKLIST);
    cr_assert_not_null(tv);
    tv->u.ql = ql;
    cr_assert_gt(quicklist_node_count(ql), 20);
    return tv;
}

static void lpush(struct tval *tv, enum quicklist_end where, const char *v)
{
    cr_assert_eq(quicklist_push(&ma, tv->u.ql, where, v, strlen(v)), 0);
}

static void lset(struct tval *tv, int64_t index, const char *v)
{
    cr_assert_eq(quicklist_replace_at(&ma, tv->u.ql, index, v, strlen(v)), 0);
}

/* LINSERT v after the element at index. */
static void linsert(struct tval *tv, int64_t index, const char *v)
{
    struct quicklist_iter it;
    struct listpack_entry e;
    quicklist_iter_init(&it, &ma, tv->u.ql, index, true);
    cr_assert_eq(quicklist_iter_next(&it, &e), 1);
    cr_assert_eq(quicklist_iter_insert(&it, LISTPACK_AFTER, v, strlen(v)), 0);
    quicklist_iter_release(&it);
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

/* An entry as text. */
static size_t entry_text(const struct listpack_entry *e, char *buf, size_t cap)
{
    if (e->str) {
        cr_assert_lt(e->len, cap);
        memcpy(buf, e->str, e->len);
        return e->len;
    }
    return (size_t)snprintf(buf, cap, "%lld", (long long)e->num);
}

static void assert_same_list(struct tval *want, struct tval *got, const char *key)
{
    cr_assert_eq(quicklist_len(want->u.ql), quicklist_len(got->u.ql), "%s: want %zu, got %zu",
                 key, quicklist_len(want->u.ql), quicklist_len(got->u.ql));
    cr_assert_eq(quicklist_check(&ma, got->u.ql, false), NULL, "%s", key);
    struct quicklist_iter a, b;
    struct listpack_entry ea, eb;
    quicklist_iter_init(&a, &ma, want->u.ql, 0, true);
    quicklist_iter_init(&b, &ma, got->u.ql, 0, true);
    for (size_t i = 0; quicklist_iter_next(&a, &ea) == 1; i++) {
        cr_assert_eq(quicklist_iter_next(&b, &eb), 1);
        char ta[128], tb[128];
        size_t la = entry_text(&ea, ta, sizeof ta), lb = entry_text(&eb, tb, sizeof tb);
        cr_assert(la == lb && memcmp(ta, tb, la) == 0, "%s: element %zu: want %.*s, got %.*s",
                  key, i, (int)la, ta, (int)lb, tb);
    }
    quicklist_iter_release(&a);
    quicklist_iter_release(&b);
}

static void assert_same(struct tval *want, struct tval *got, const char *key)
{
    cr_assert_eq(want->type, got->type, "type of %s", key);
    if (want->type == TVAL_ZSET)
        assert_same_zset(want, got, key);
    else if (want->type == TVAL_LIST)
        assert_same_list(want, got, key);
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

/* ---------------------------------------------------------------- lists */

Test(snapshot_big_seq, list_writes_copy_one_node_each)
{
    struct kvmap *m = kvmap_create(&ma);
    cr_assert_eq(kvmap_set_tval(m, "l", 1, big_list("l", BIG, 0), KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_eq(kvmap_set_tval(m, "c", 1, big_list("c", BIG, 1), KVMAP_NO_EXPIRE, 0), 1);
    add_strings(m, 100);
    static const char *const names[] = {"l", "c"};
    struct run r;
    run_begin(&r, m, names, 2);

    /* The first write meets l's segment: l is started, not encoded. */
    struct tval *l = write_tval(m, "l");
    struct snap_stats st;
    stats(&r, &st);
    cr_assert_eq(st.big_write_elements, 0);
    size_t nodes = quicklist_node_count(l->u.ql);
    /* RPUSH, LPUSH, LSET in the middle, LINSERT in the middle, RPUSH to
     * the same tail node again: four nodes copied, not the list. */
    lpush(l, QUICKLIST_TAIL, "tail");
    lpush(l, QUICKLIST_HEAD, "head");
    lset(l, BIG / 2, "set in the middle");
    linsert(l, BIG / 3, "inserted");
    lpush(l, QUICKLIST_TAIL, "tail again");
    stats(&r, &st);
    cr_assert_leq(st.big_write_elements, 4, "5 writes copied %llu of %zu nodes",
                  (unsigned long long)st.big_write_elements, nodes);
    cr_assert_geq(st.big_write_elements, 3);

    /* Churn between cursor slices, on both lists (c's inner nodes are
     * compressed): pops, pushes, sets, inserts and trims anywhere. */
    struct tval *c = write_tval(m, "c");
    char v[64];
    srand(5);
    for (int round = 0; round < 40; round++) {
        step(&r, 3000);
        struct tval *t = round % 2 ? c : l;
        for (int k = 0; k < 6; k++) {
            int64_t len = (int64_t)quicklist_len(t->u.ql);
            snprintf(v, sizeof v, "churn-%d-%d", round, k);
            switch (rand() % 6) {
            case 0: lpush(t, rand() % 2 ? QUICKLIST_HEAD : QUICKLIST_TAIL, v); break;
            case 1:
                cr_assert_eq(quicklist_pop(&ma, t->u.ql,
                                           rand() % 2 ? QUICKLIST_HEAD : QUICKLIST_TAIL, NULL,
                                           NULL),
                             1);
                break;
            case 2: lset(t, rand() % len, v); break;
            case 3: linsert(t, rand() % len, v); break;
            case 4:
                cr_assert_geq(quicklist_del_range(&ma, t->u.ql, rand() % len, 1 + rand() % 300),
                              1);
                break;
            default: {
                /* LREM-like: delete entries through an iterator. */
                struct quicklist_iter it;
                struct listpack_entry e;
                quicklist_iter_init(&it, &ma, t->u.ql, rand() % len, true);
                for (int d = 0; d < 50 && quicklist_iter_next(&it, &e) == 1; d++)
                    if (d % 2 == 0)
                        cr_assert_eq(quicklist_iter_del(&it), 0);
                quicklist_iter_release(&it);
            }
            }
        }
        cr_assert_eq(quicklist_check(&ma, t->u.ql, false), NULL);
    }
    run_end(&r, 100, 2);
    free_map(m);
}

Test(snapshot_big_seq, list_emptied_or_deleted_before_captured)
{
    struct kvmap *m = kvmap_create(&ma);
    cr_assert_eq(kvmap_set_tval(m, "del", 3, big_list("d", BIG, 0), KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_eq(kvmap_set_tval(m, "trim", 4, big_list("t", BIG, 2), KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_eq(kvmap_set_tval(m, "lpop", 4, big_list("p", BIG, 0), KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_eq(kvmap_set_tval(m, "rpop", 4, big_list("q", BIG, 1), KVMAP_NO_EXPIRE, 0), 1);
    cr_assert_eq(kvmap_set_tval(m, "mid", 3, big_list("m", BIG, 0), KVMAP_NO_EXPIRE, 0), 1);
    add_strings(m, 30);
    static const char *const names[] = {"del", "trim", "lpop", "rpop", "mid"};
    struct run r;
    run_begin(&r, m, names, 5);

    (void)write_tval(m, "del");
    cr_assert_eq(kvmap_del(m, "del", 3, 0), 1);
    /* LTRIM to nothing, then the empty key goes, as the command does. */
    struct tval *t = write_tval(m, "trim");
    cr_assert_eq(quicklist_del_range(&ma, t->u.ql, 0, BIG), BIG);
    cr_assert_eq(kvmap_del(m, "trim", 4, 0), 1);
    /* LPOP / RPOP of everything, interleaved with cursor slices. */
    t = write_tval(m, "lpop");
    struct tval *q = write_tval(m, "rpop");
    while (quicklist_len(t->u.ql) || quicklist_len(q->u.ql)) {
        for (int k = 0; k < 97; k++) {
            (void)quicklist_pop(&ma, t->u.ql, QUICKLIST_HEAD, NULL, NULL);
            (void)quicklist_pop(&ma, q->u.ql, QUICKLIST_TAIL, NULL, NULL);
        }
        step(&r, 2000);
    }
    cr_assert_eq(kvmap_del(m, "lpop", 4, 0), 1);
    cr_assert_eq(kvmap_del(m, "rpop", 4, 0), 1);
    /* LTRIM keeping the middle, then more of it, then nothing. */
    t = write_tval(m, "mid");
    cr_assert_eq(quicklist_del_range(&ma, t->u.ql, 0, 1000), 1000);
    cr_assert_eq(quicklist_del_range(&ma, t->u.ql, -1000, 1000), 1000);
    step(&r, 2000);
    cr_assert_eq(quicklist_del_range(&ma, t->u.ql, 100, 2000), 2000);
    cr_assert_eq(quicklist_del_range(&ma, t->u.ql, 0, BIG), BIG - 4000);
    cr_assert_eq(kvmap_del(m, "mid", 3, 0), 1);
    struct snap_stats st;
    stats(&r, &st);
    cr_assert_eq(st.big_values, 5);
    run_end(&r, 30, 5);
    free_map(m);
}
