/* tval.c — what every typed value shares: type and encoding names, length,
 * deep copy, the encoding thresholds, and freeing, with big hash tables and
 * quicklists queued and freed a slice at a time so that DEL of a
 * million-element set never stops its shard. Runs on the owning shard's thread (the thresholds
 * are set from any thread). */
#include "shard/tval.h"

#include <assert.h>
#include <string.h>

#include "common/clock.h"
#include "shard/intset.h"
#include "shard/kvmap.h"
#include "shard/listpack.h"
#include "shard/quicklist.h"
#include "shard/zset.h"

/* ------------------------------------------------------------ thresholds */

static struct tval_limits limits = {
    .hash_max_listpack_entries = 512,
    .hash_max_listpack_value = 64,
    .set_max_intset_entries = 512,
    .set_max_listpack_entries = 128,
    .set_max_listpack_value = 64,
    .list_max_listpack_size = QUICKLIST_FILL_DEFAULT,
    .list_compress_depth = 0,
    .zset_max_listpack_entries = 128,
    .zset_max_listpack_value = 64,
};

void tval_limits_get(struct tval_limits *out)
{
    out->hash_max_listpack_entries = __atomic_load_n(&limits.hash_max_listpack_entries,
                                                     __ATOMIC_RELAXED);
    out->hash_max_listpack_value = __atomic_load_n(&limits.hash_max_listpack_value,
                                                   __ATOMIC_RELAXED);
    out->set_max_intset_entries = __atomic_load_n(&limits.set_max_intset_entries,
                                                  __ATOMIC_RELAXED);
    out->set_max_listpack_entries = __atomic_load_n(&limits.set_max_listpack_entries,
                                                    __ATOMIC_RELAXED);
    out->set_max_listpack_value = __atomic_load_n(&limits.set_max_listpack_value,
                                                  __ATOMIC_RELAXED);
    out->list_max_listpack_size = __atomic_load_n(&limits.list_max_listpack_size,
                                                  __ATOMIC_RELAXED);
    out->list_compress_depth = __atomic_load_n(&limits.list_compress_depth, __ATOMIC_RELAXED);
    out->zset_max_listpack_entries = __atomic_load_n(&limits.zset_max_listpack_entries,
                                                     __ATOMIC_RELAXED);
    out->zset_max_listpack_value = __atomic_load_n(&limits.zset_max_listpack_value,
                                                   __ATOMIC_RELAXED);
}

void tval_limits_set(const struct tval_limits *in)
{
    __atomic_store_n(&limits.hash_max_listpack_entries, in->hash_max_listpack_entries,
                     __ATOMIC_RELAXED);
    __atomic_store_n(&limits.hash_max_listpack_value, in->hash_max_listpack_value,
                     __ATOMIC_RELAXED);
    __atomic_store_n(&limits.set_max_intset_entries, in->set_max_intset_entries,
                     __ATOMIC_RELAXED);
    __atomic_store_n(&limits.set_max_listpack_entries, in->set_max_listpack_entries,
                     __ATOMIC_RELAXED);
    __atomic_store_n(&limits.set_max_listpack_value, in->set_max_listpack_value,
                     __ATOMIC_RELAXED);
    __atomic_store_n(&limits.list_max_listpack_size, in->list_max_listpack_size,
                     __ATOMIC_RELAXED);
    __atomic_store_n(&limits.list_compress_depth, in->list_compress_depth, __ATOMIC_RELAXED);
    __atomic_store_n(&limits.zset_max_listpack_entries, in->zset_max_listpack_entries,
                     __ATOMIC_RELAXED);
    __atomic_store_n(&limits.zset_max_listpack_value, in->zset_max_listpack_value,
                     __ATOMIC_RELAXED);
}

/* ----------------------------------------------------------------- names */

const char *tval_type_name(int type)
{
    switch (type) {
    case TVAL_STRING: return "string";
    case TVAL_LIST: return "list";
    case TVAL_SET: return "set";
    case TVAL_ZSET: return "zset";
    case TVAL_HASH: return "hash";
    case TVAL_STREAM: return "stream";
    default: return "none";
    }
}

const char *tval_enc_name(const struct tval *tv)
{
    switch (tv->enc) {
    case TVAL_ENC_LISTPACK: return "listpack";
    case TVAL_ENC_INTSET: return "intset";
    case TVAL_ENC_HASHTABLE: return "hashtable";
    case TVAL_ENC_QUICKLIST: return "quicklist";
    case TVAL_ENC_SKIPLIST: return "skiplist";
    default: return "unknown";
    }
}

size_t tval_len(const struct tval *tv)
{
    switch (tv->enc) {
    case TVAL_ENC_LISTPACK: {
        size_t n = tv->u.lp ? listpack_count(tv->u.lp) : 0;
        return tv->type == TVAL_HASH || tv->type == TVAL_ZSET ? n / 2 : n; /* pairs */
    }
    case TVAL_ENC_SKIPLIST: return zset_len(tv);
    case TVAL_ENC_INTSET: return tv->u.is ? intset_len(tv->u.is) : 0;
    case TVAL_ENC_HASHTABLE: return tv->u.ht ? (size_t)kvmap_count(tv->u.ht) : 0;
    case TVAL_ENC_QUICKLIST: return tv->u.ql ? quicklist_len(tv->u.ql) : 0;
    default: return 0;
    }
}

size_t tval_bytes(const struct tval *tv)
{
    size_t n = mem_usable(tv);
    if (!tv->u.p)
        return n;
    switch (tv->enc) {
    case TVAL_ENC_LISTPACK:
    case TVAL_ENC_INTSET: return n + mem_usable(tv->u.p);
    case TVAL_ENC_HASHTABLE: {
        struct kvmap_stats st;
        kvmap_stats(tv->u.ht, &st);
        return n + (size_t)st.used_memory;
    }
    case TVAL_ENC_QUICKLIST: return n + quicklist_bytes(tv->u.ql);
    case TVAL_ENC_SKIPLIST: return zset_bytes(tv);
    default: return n;
    }
}

/* ------------------------------------------------------- create and copy */

struct kvmap *tval_table_new(struct mem_acct *a)
{
    struct kvmap *m = kvmap_create(a);
    if (m)
        kvmap_set_dense(m);
    return m;
}

struct tval *tval_new(struct mem_acct *a, int type, int enc)
{
    struct tval *tv = mem_alloc(a, sizeof *tv);
    if (!tv)
        return NULL;
    tv->type = (uint8_t)type;
    tv->enc = (uint8_t)enc;
    tv->u.p = NULL;
    return tv;
}

/* Copy every entry of src into dst (a fresh map). */
struct copy_ctx {
    struct kvmap *dst; /* the new table */
    int rc;            /* first error, or 0 */
};

static void copy_one(void *arg, const struct kventry *e)
{
    struct copy_ctx *x = arg;
    if (x->rc < 0)
        return;
    size_t klen, vlen;
    char buf[21];
    const char *k = kventry_key(e, &klen);
    const char *v = kventry_value(e, buf, &vlen);
    int rc = kvmap_set(x->dst, k, klen, v, vlen, KVMAP_NO_EXPIRE, 0);
    if (rc < 0)
        x->rc = rc;
}

struct tval *tval_copy(struct mem_acct *a, const struct tval *tv)
{
    if (tv->enc == TVAL_ENC_SKIPLIST)
        return zset_copy(a, tv);
    struct tval *n = tval_new(a, tv->type, tv->enc);
    if (!n || !tv->u.p)
        return n;
    switch (tv->enc) {
    case TVAL_ENC_LISTPACK:
        n->u.lp = listpack_create_from(a, tv->u.lp, listpack_bytes(tv->u.lp));
        break;
    case TVAL_ENC_INTSET:
        n->u.is = intset_create_from(a, tv->u.is, intset_blob_size(tv->u.is));
        break;
    case TVAL_ENC_HASHTABLE: {
        n->u.ht = tval_table_new(a);
        if (!n->u.ht)
            break;
        struct copy_ctx x = {n->u.ht, 0};
        uint64_t cur = 0;
        do
            cur = kvmap_scan(tv->u.ht, cur, 0, copy_one, &x);
        while (cur && x.rc == 0);
        if (x.rc < 0) {
            kvmap_destroy(n->u.ht);
            n->u.ht = NULL;
        }
        break;
    }
    case TVAL_ENC_QUICKLIST: n->u.ql = quicklist_copy(a, tv->u.ql); break;
    default: break;
    }
    if (!n->u.p) {
        mem_free(a, n);
        return NULL;
    }
    return n;
}

/* ------------------------------------------------------------------ free */

/* Values waiting to be freed a slice at a time; one queue per thread, since
 * each shard frees only what its own maps held. */
struct lazy {
    struct lazy *next;    /* next waiting value */
    struct tval *tv;      /* a hash table or sorted set tree of more than
                             TVAL_LAZYFREE_MIN elements, or a quicklist of
                             more nodes */
    struct mem_acct *acct;/* what it is charged to */
};

static _Thread_local struct lazy *lazy_head;
static _Thread_local size_t lazy_values;

/* Entries freed between clock reads in tval_lazyfree_step. */
#define LAZY_STEP_ENTRIES 256
/* Quicklist nodes freed between clock reads: each is a listpack of up to
 * 8 KB (one free), so fewer than entries of a map would be as slow. */
#define LAZY_STEP_NODES 64

static void free_now(struct mem_acct *a, struct tval *tv)
{
    if (tv->enc == TVAL_ENC_SKIPLIST) {
        zset_free(a, tv); /* frees tv too */
        return;
    }
    switch (tv->enc) {
    case TVAL_ENC_LISTPACK: listpack_destroy(a, tv->u.lp); break;
    case TVAL_ENC_INTSET: intset_destroy(a, tv->u.is); break;
    case TVAL_ENC_HASHTABLE:
        kvmap_bind_owner(tv->u.ht); /* the entry's owner frees it, see tval_free */
        kvmap_destroy(tv->u.ht);
        break;
    case TVAL_ENC_QUICKLIST: quicklist_destroy(a, tv->u.ql); break;
    default: break;
    }
    mem_free(a, tv);
}

void tval_free(struct mem_acct *a, struct tval *tv)
{
    if (!tv)
        return;
    /* A snapshot still reading this table as of its cut takes it, and
     * frees it here again once it has captured it. */
    if (tv->enc == TVAL_ENC_HASHTABLE && tv->u.ht && kvmap_epoch_retire(tv->u.ht, tv, a))
        return;
    if (tv->enc == TVAL_ENC_SKIPLIST && zset_cow_retire(tv, a))
        return;
    if (tv->enc == TVAL_ENC_QUICKLIST && tv->u.ql && quicklist_cow_retire(tv->u.ql, tv, a))
        return;
    /* Whoever frees the entry owns its value: a shard, or the thread that
     * destroys a stopped shard's maps (after joining it), whose table is
     * still bound to the shard's thread. */
    if (tv->enc == TVAL_ENC_HASHTABLE && tv->u.ht)
        kvmap_bind_owner(tv->u.ht);
    bool big_ht = tv->enc == TVAL_ENC_HASHTABLE && tv->u.ht &&
                  kvmap_count(tv->u.ht) > TVAL_LAZYFREE_MIN;
    bool big = big_ht ||
               (tv->enc == TVAL_ENC_QUICKLIST && tv->u.ql &&
                quicklist_node_count(tv->u.ql) > TVAL_LAZYFREE_MIN) ||
               (tv->enc == TVAL_ENC_SKIPLIST && zset_len(tv) > TVAL_LAZYFREE_MIN);
    if (big) {
        struct lazy *l = mem_alloc(a, sizeof *l);
        if (l) {
            l->tv = tv;
            l->acct = a;
            l->next = lazy_head;
            lazy_head = l;
            lazy_values++;
            return;
        }
        /* No memory for the queue node: free it now rather than leak. */
    }
    free_now(a, tv);
}

bool tval_lazyfree_step(uint64_t budget_ns)
{
    if (!lazy_head)
        return false;
    uint64_t start = clock_mono_ns();
    while (lazy_head) {
        struct lazy *l = lazy_head;
        bool done;
        if (l->tv->enc == TVAL_ENC_SKIPLIST) {
            done = zset_destroy_step(l->acct, l->tv, LAZY_STEP_ENTRIES); /* frees tv */
        } else {
            done = l->tv->enc == TVAL_ENC_QUICKLIST
                       ? quicklist_destroy_step(l->acct, l->tv->u.ql, LAZY_STEP_NODES)
                       : kvmap_destroy_step(l->tv->u.ht, LAZY_STEP_ENTRIES);
            if (done)
                mem_free(l->acct, l->tv);
        }
        if (done) {
            lazy_head = l->next;
            lazy_values--;
            mem_free(l->acct, l);
        }
        if (clock_mono_ns() - start >= budget_ns)
            break;
    }
    return lazy_head != NULL;
}

size_t tval_lazyfree_pending(size_t *values)
{
    size_t bytes = 0;
    for (struct lazy *l = lazy_head; l; l = l->next)
        bytes += tval_bytes(l->tv);
    if (values)
        *values = lazy_values;
    return bytes;
}
