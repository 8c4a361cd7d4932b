/* skv_store.c — the in-process store. The API functions run on the caller's
 * thread: they check limits, group operations per owning shard, post one
 * message per shard and wait (a short poll, then a semaphore). The message
 * handler runs on the shard thread and is the only code here that touches
 * a map. */
#include "shard/skv_store.h"

#include <assert.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/hash.h"
#include "shard/shard.h"

_Static_assert((int)SKV_STORE_ENOMEM == (int)KVMAP_ENOMEM &&
                   (int)SKV_STORE_ETOOBIG == (int)KVMAP_ETOOBIG &&
                   (int)SKV_STORE_ENOTINT == (int)KVMAP_ENOTINT &&
                   (int)SKV_STORE_EOVERFLOW == (int)KVMAP_EOVERFLOW,
               "kvmap codes pass through the store unchanged");

/* Batches up to this many operations (and groups over up to this many
 * shards) are routed with stack arrays; larger ones allocate. 64 covers a
 * pipelined burst or a typical MGET without touching the allocator. */
#define STORE_STACK_OPS    64
#define STORE_STACK_SHARDS 16
/* How many operations ahead a shard requests an operation's entry line
 * (twice that for its bucket line): see struct prefetcher. */
#define STORE_PREFETCH_DIST 8

/* Per-shard figures kept by the store itself; written only by that shard's
 * thread, read through a stats message. One cache line each so that shards
 * never share a line. */
struct store_shard {
    alignas(64) uint64_t max_op_ns; /* slowest single map operation */
};

struct skv_store {
    struct shard_group *group; /* the shards; owned */
    unsigned n;                /* shard count */
    size_t max_key;            /* key limit, checked on the caller's thread */
    size_t max_value;          /* value limit, idem */
    bool time_ops;             /* measure every map operation */
    uint64_t spin_ns;          /* caller and shard polling before sleeping */
    struct store_shard *per;   /* n entries, aligned */
};

/* skv_store_opts.spin_us is capped here: polling longer than a
 * millisecond is never better than sleeping. */
#define STORE_MAX_SPIN_US 1000

/* Caller-side completion states (store_done.state). */
enum {
    DONE_RUNNING = 0,  /* shards still working, caller polling */
    DONE_FINISHED = 1, /* last shard done; it touches nothing after this */
    DONE_SLEEPING = 2, /* caller blocked in sem: the last shard must post */
};

/* What a caller waits on. The last shard to finish flips state; only if
 * the caller had gone to sleep does it also post the semaphore. */
struct store_done {
    atomic_uint pending; /* messages not yet handled */
    atomic_int state;    /* DONE_* */
    uv_sem_t sem;        /* initialised only when the caller sleeps */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Shard thread, once per message. msg and done may be gone as soon as this
 * says so: the caller returns when it sees DONE_FINISHED. acq_rel on both:
 * every shard's results happen-before the last decrement, which
 * happens-before the caller's acquire of the state. */
static void done_signal(struct store_done *d)
{
    if (atomic_fetch_sub_explicit(&d->pending, 1, memory_order_acq_rel) != 1)
        return;
    if (atomic_exchange_explicit(&d->state, DONE_FINISHED, memory_order_acq_rel) == DONE_SLEEPING)
        uv_sem_post(&d->sem);
}

/* Caller thread: poll, then sleep. Returns when every message is handled. */
static void done_wait(struct store_done *d, uint64_t spin_ns)
{
    uint64_t start = 0;
    for (unsigned i = 1; spin_ns > 0; i++) {
        if (atomic_load_explicit(&d->state, memory_order_acquire) == DONE_FINISHED)
            return;
        /* Read the clock only every 64 polls: it costs more than a poll. */
        if ((i & 63) == 0) {
            uint64_t now = clock_mono_ns();
            if (start == 0)
                start = now;
            else if (now - start > spin_ns)
                break;
        }
        cpu_relax();
    }
    if (uv_sem_init(&d->sem, 0) != 0) {
        /* Cannot block (the kernel refused a semaphore): keep yielding. */
        while (atomic_load_explicit(&d->state, memory_order_acquire) != DONE_FINISHED)
            sched_yield();
        return;
    }
    int expect = DONE_RUNNING;
    if (atomic_compare_exchange_strong_explicit(&d->state, &expect, DONE_SLEEPING,
                                                memory_order_acq_rel, memory_order_acquire))
        uv_sem_wait(&d->sem); /* the last shard saw SLEEPING and posts */
    uv_sem_destroy(&d->sem);
}

/* One message to one shard. It lives in the caller's frame (or a block the
 * caller frees), which is safe because the caller blocks until the handler
 * has signalled done; the handler never touches it after that. For the same
 * reason the operations' key and value bytes are borrowed, not copied: the
 * only copy made is the one into the map. */
struct store_msg {
    struct mbox_msg hdr;  /* mailbox link; must be first */
    struct skv_store *st; /* the store (limits, per-shard figures) */
    /* Global order of a multi-shard batch, for the VLL-style transactions
     * to come; 0 = unordered (today every batch). */
    uint64_t txid;
    struct skv_store_op *ops;      /* the caller's operations (borrowed) */
    const size_t *idx;             /* indices into ops of this shard's share */
    size_t nops;                   /* length of idx */
    struct skv_store_stats *stats; /* non-NULL: a stats request, no ops */
    struct store_done *done;       /* signalled when handled */
};

const char *skv_store_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case SKV_STORE_ENOMEM:
        return "out of memory";
    case SKV_STORE_ETOOBIG:
        return "key or value exceeds the size limit";
    case SKV_STORE_ENOTINT:
        return "value is not an integer or out of range";
    case SKV_STORE_EOVERFLOW:
        return "increment or decrement would overflow";
    case SKV_STORE_EINVAL:
        return "invalid argument";
    case SKV_STORE_EDEADLK:
        return "called from a shard thread of the same store";
    default:
        return "unknown error";
    }
}

/* ---- shard thread ------------------------------------------------------ */

/* Absolute expiry for a relative TTL, or KVMAP_NO_EXPIRE for 0. */
static int abs_expire(int64_t ttl_ms, int64_t now_ms, int64_t *out)
{
    if (ttl_ms == 0) {
        *out = KVMAP_NO_EXPIRE;
        return 0;
    }
    if (ttl_ms < 0 || ttl_ms > INT64_MAX - now_ms)
        return SKV_STORE_EINVAL;
    *out = now_ms + ttl_ms;
    return 0;
}

static void exec_get(struct kvmap *db, struct skv_store_op *op, int64_t now_ms)
{
    struct kventry *e = kvmap_find(db, op->key, op->klen, now_ms);
    op->out = NULL;
    op->vlen = 0;
    if (!e) {
        op->rc = 0;
        return;
    }
    char buf[21];
    size_t vlen;
    const char *v = kventry_value(e, buf, &vlen);
    /* Never NULL on found, even for "": NULL means missing to the caller. */
    char *copy = malloc(vlen ? vlen : 1);
    if (!copy) {
        op->rc = SKV_STORE_ENOMEM;
        return;
    }
    memcpy(copy, v, vlen);
    op->out = copy;
    op->vlen = vlen;
    op->rc = 1;
}

static void exec_op(struct kvmap *db, struct skv_store_op *op, int64_t now_ms)
{
    int64_t exp;
    struct kventry *e;

    switch (op->kind) {
    case SKV_STORE_OP_GET:
        exec_get(db, op, now_ms);
        break;
    case SKV_STORE_OP_SET:
        op->rc = abs_expire(op->arg, now_ms, &exp);
        if (op->rc == 0) {
            int rc = kvmap_set(db, op->key, op->klen, op->val, op->vlen, exp, now_ms);
            op->rc = rc < 0 ? rc : 0;
        }
        break;
    case SKV_STORE_OP_DEL:
        op->rc = kvmap_del(db, op->key, op->klen, now_ms);
        break;
    case SKV_STORE_OP_EXISTS:
        op->rc = kvmap_find(db, op->key, op->klen, now_ms) != NULL;
        break;
    case SKV_STORE_OP_EXPIRE:
        e = kvmap_find(db, op->key, op->klen, now_ms);
        if (!e) {
            op->rc = 0;
        } else if (op->arg <= 0) {
            /* Redis: an expiry in the past deletes the key at once. */
            op->rc = kvmap_del(db, op->key, op->klen, now_ms);
        } else if ((op->rc = abs_expire(op->arg, now_ms, &exp)) == 0) {
            int rc = kvmap_entry_set_expire(db, e, exp);
            op->rc = rc < 0 ? rc : 1;
        }
        break;
    case SKV_STORE_OP_TTL:
        e = kvmap_find(db, op->key, op->klen, now_ms);
        if (!e) {
            op->num = -2;
        } else if ((exp = kventry_expire(e)) == KVMAP_NO_EXPIRE) {
            op->num = -1;
        } else {
            /* find() reaps expiry <= now, so this is >= 1 in practice. */
            op->num = exp > now_ms ? exp - now_ms : 0;
        }
        op->rc = 0;
        break;
    case SKV_STORE_OP_INCRBY:
        op->rc = kvmap_incrby(db, op->key, op->klen, op->arg, now_ms, &op->num);
        break;
    default:
        op->rc = SKV_STORE_EINVAL;
        break;
    }
}

/* The prefetch pipeline of a message: operation j's bucket line is
 * requested when operation j - 2 * STORE_PREFETCH_DIST runs, its entry line
 * when j - STORE_PREFETCH_DIST runs (the bucket has arrived by then: the
 * entry's address is read from it), so misses overlap with useful work
 * instead of stalling each lookup. Hints only. */
struct prefetcher {
    uint64_t h[2 * STORE_PREFETCH_DIST]; /* hashes of the ops in flight */
};

static inline void prefetch_step(struct prefetcher *pf, struct kvmap *db,
                                 const struct store_msg *msg, size_t j)
{
    const size_t d = STORE_PREFETCH_DIST, ring = 2 * STORE_PREFETCH_DIST;
    if (j < msg->nops) {
        const struct skv_store_op *op = &msg->ops[msg->idx[j]];
        pf->h[j % ring] = hash_key(op->key, op->klen);
        kvmap_prefetch_bucket(db, pf->h[j % ring]);
    }
    if (j >= d && j - d < msg->nops)
        kvmap_prefetch_entry(db, pf->h[(j - d) % ring]);
}

static void fill_stats(struct skv_store *st, struct shard *s, struct skv_store_stats *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < s->ndb; i++)
        out->keys += kvmap_count(shard_db(s, i));
    out->ops = s->ctr.ops;
    out->batches = s->ctr.batches;
    out->expired_active = s->ctr.expired_active;
    out->used_memory = s->mem.used;
    out->max_op_ns = st->per[s->id].max_op_ns;
}

static void on_store_msg(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    struct store_msg *msg = (struct store_msg *)m;
    struct skv_store *st = msg->st;
    struct store_done *done = msg->done;

    s->ctr.batches++;
    if (msg->stats) {
        fill_stats(st, s, msg->stats);
    } else {
        struct kvmap *db = shard_db(s, 0);
        /* One wall-clock read per message: every op of a batch sees the
         * same "now", as the commands of one Redis event-loop turn do. */
        int64_t now_ms = clock_wall_ms();
        struct prefetcher pf;
        const size_t lead = 2 * STORE_PREFETCH_DIST;
        for (size_t j = 0; j < lead; j++)
            prefetch_step(&pf, db, msg, j);
        for (size_t j = 0; j < msg->nops; j++) {
            prefetch_step(&pf, db, msg, j + lead);
            struct skv_store_op *op = &msg->ops[msg->idx[j]];
            if (st->time_ops) {
                uint64_t t0 = clock_mono_ns();
                exec_op(db, op, now_ms);
                uint64_t dt = clock_mono_ns() - t0;
                if (dt > st->per[s->id].max_op_ns)
                    st->per[s->id].max_op_ns = dt;
            } else {
                exec_op(db, op, now_ms);
            }
        }
        s->ctr.ops += msg->nops;
    }
    /* Last touch of msg: the caller may reuse it once this returns. */
    done_signal(done);
}

/* ---- caller thread ----------------------------------------------------- */

struct skv_store *skv_store_open(unsigned nshards, const struct skv_store_opts *opts)
{
    struct skv_store_opts o = {0};
    if (opts)
        o = *opts;
    if (o.ndb != 0)
        return NULL;
    struct skv_store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->max_key = o.max_key ? o.max_key : KVMAP_DEFAULT_MAX_KEY;
    st->max_value = o.max_value ? o.max_value : KVMAP_DEFAULT_MAX_VALUE;
    st->time_ops = o.time_ops;
    /* Polling is opt-in: it pays only with spare cores. With no spare core
     * a poller steals the CPU that the shard it waits for needs (measured:
     * 45% of all cycles went to polling with 2 shards and 2 callers on 2
     * cores, and 1 shard with 2 callers ran 2-3x slower polling 20 us). */
    if (o.spin_us > STORE_MAX_SPIN_US)
        o.spin_us = STORE_MAX_SPIN_US;
    st->spin_ns = o.spin_us > 0 ? (uint64_t)o.spin_us * 1000 : 0;

    struct shard_group_opts go = {
        .nshards = nshards,
        .ndb = 1,
        .max_value = st->max_value,
        .idle_spin_us = (unsigned)(st->spin_ns / 1000),
    };
    st->group = shard_group_create(&go);
    if (!st->group) {
        free(st);
        return NULL;
    }
    st->n = shard_group_size(st->group);
    st->per = aligned_alloc(alignof(struct store_shard), st->n * sizeof *st->per);
    if (!st->per) {
        shard_group_destroy(st->group);
        free(st);
        return NULL;
    }
    memset(st->per, 0, st->n * sizeof *st->per);
    if (shard_group_start(st->group) != 0) {
        shard_group_destroy(st->group);
        free(st->per);
        free(st);
        return NULL;
    }
    return st;
}

void skv_store_close(struct skv_store *st)
{
    if (!st)
        return;
    shard_group_destroy(st->group);
    free(st->per);
    free(st);
}

unsigned skv_store_shards(const struct skv_store *st)
{
    return st->n;
}

/* A store call from its own shard thread would wait for itself. */
static bool on_own_shard(struct skv_store *st)
{
    struct shard *cur = shard_current();
    return cur && cur->group == st->group;
}

/* Check an operation's inputs against the limits before anything is sent. */
static int op_check(const struct skv_store *st, const struct skv_store_op *op)
{
    if (op->key == NULL && op->klen != 0)
        return SKV_STORE_EINVAL;
    if (op->klen > st->max_key)
        return SKV_STORE_ETOOBIG;
    switch (op->kind) {
    case SKV_STORE_OP_SET:
        if (op->val == NULL && op->vlen != 0)
            return SKV_STORE_EINVAL;
        if (op->vlen > st->max_value)
            return SKV_STORE_ETOOBIG;
        if (op->arg < 0)
            return SKV_STORE_EINVAL;
        return 0;
    case SKV_STORE_OP_GET:
    case SKV_STORE_OP_DEL:
    case SKV_STORE_OP_EXISTS:
    case SKV_STORE_OP_EXPIRE:
    case SKV_STORE_OP_TTL:
    case SKV_STORE_OP_INCRBY:
        return 0;
    default:
        return SKV_STORE_EINVAL;
    }
}

/* Post msgs[0..nmsg) to their shards and wait for all of them. */
static void post_and_wait(struct skv_store *st, struct store_msg *msgs, unsigned *dest,
                          unsigned nmsg, struct store_done *done)
{
    atomic_init(&done->pending, nmsg);
    atomic_init(&done->state, DONE_RUNNING);
    for (unsigned i = 0; i < nmsg; i++) {
        msgs[i].hdr.handle = on_store_msg;
        msgs[i].done = done;
        shard_post(shard_group_get(st->group, dest[i]), &msgs[i].hdr);
    }
    done_wait(done, st->spin_ns);
}

int skv_store_exec(struct skv_store *st, struct skv_store_op *ops, size_t n)
{
    if (!st || (!ops && n))
        return SKV_STORE_EINVAL;
    if (on_own_shard(st)) {
        for (size_t i = 0; i < n; i++) {
            ops[i].rc = SKV_STORE_EDEADLK;
            ops[i].out = NULL;
        }
        return SKV_STORE_EDEADLK;
    }
    if (n == 0)
        return 0;

    size_t stack_idx[STORE_STACK_OPS];
    unsigned stack_sh[STORE_STACK_OPS];
    struct store_msg stack_msgs[STORE_STACK_SHARDS];
    unsigned stack_dest[STORE_STACK_SHARDS];
    size_t stack_count[STORE_STACK_SHARDS];
    size_t *idx = stack_idx;
    unsigned *sh = stack_sh;
    struct store_msg *msgs = stack_msgs;
    unsigned *dest = stack_dest;
    size_t *count = stack_count;
    void *heap_ops = NULL, *heap_shards = NULL;
    unsigned S = st->n;

    if (n > STORE_STACK_OPS) {
        if (n > SIZE_MAX / (sizeof *idx + sizeof *sh))
            goto fail_nomem;
        heap_ops = malloc(n * (sizeof *idx + sizeof *sh));
        if (!heap_ops)
            goto fail_nomem;
        idx = heap_ops;
        sh = (unsigned *)(idx + n);
    }
    if (S > STORE_STACK_SHARDS) {
        size_t one = sizeof *msgs + sizeof *dest + sizeof *count;
        heap_shards = malloc(S * one);
        if (!heap_shards)
            goto fail_nomem;
        msgs = heap_shards;
        count = (size_t *)(msgs + S);
        dest = (unsigned *)(count + S);
    }

    /* Pass 1: check every op and count each shard's share. */
    memset(count, 0, S * sizeof *count);
    size_t valid = 0;
    for (size_t i = 0; i < n; i++) {
        struct skv_store_op *op = &ops[i];
        op->out = NULL;
        op->rc = op_check(st, op);
        if (op->rc != 0) {
            sh[i] = S; /* not sent */
            continue;
        }
        sh[i] = shard_group_route(st->group, op->key, op->klen);
        count[sh[i]]++;
        valid++;
    }
    if (valid == 0)
        goto out;

    /* Pass 2: one contiguous run of indices per shard, in array order. */
    unsigned nmsg = 0;
    size_t start = 0;
    for (unsigned s = 0; s < S; s++) {
        size_t c = count[s];
        count[s] = start; /* becomes the fill cursor */
        if (c == 0)
            continue;
        struct store_msg *m = &msgs[nmsg];
        memset(m, 0, sizeof *m);
        m->st = st;
        m->ops = ops;
        m->idx = idx + start;
        m->nops = c;
        dest[nmsg++] = s;
        start += c;
    }
    for (size_t i = 0; i < n; i++)
        if (sh[i] < S)
            idx[count[sh[i]]++] = i;

    struct store_done done;
    post_and_wait(st, msgs, dest, nmsg, &done);

out:
    free(heap_ops);
    free(heap_shards);
    return 0;

fail_nomem:
    for (size_t i = 0; i < n; i++) {
        ops[i].rc = SKV_STORE_ENOMEM;
        ops[i].out = NULL;
    }
    free(heap_ops);
    free(heap_shards);
    return SKV_STORE_ENOMEM;
}

/* Run one operation; returns its rc, or the batch error. */
static int run_one(struct skv_store *st, struct skv_store_op *op)
{
    int rc = skv_store_exec(st, op, 1);
    return rc < 0 ? rc : op->rc;
}

int skv_store_set(struct skv_store *st, const void *key, size_t klen, const void *val, size_t vlen,
                  int64_t ttl_ms)
{
    struct skv_store_op op = {.kind = SKV_STORE_OP_SET,
                              .key = key,
                              .klen = klen,
                              .val = val,
                              .vlen = vlen,
                              .arg = ttl_ms};
    return run_one(st, &op);
}

int skv_store_get(struct skv_store *st, const void *key, size_t klen, char **val, size_t *vlen)
{
    struct skv_store_op op = {.kind = SKV_STORE_OP_GET, .key = key, .klen = klen};
    int rc = run_one(st, &op);
    *val = op.out;
    *vlen = rc == 1 ? op.vlen : 0;
    return rc;
}

int skv_store_del(struct skv_store *st, const void *key, size_t klen)
{
    struct skv_store_op op = {.kind = SKV_STORE_OP_DEL, .key = key, .klen = klen};
    return run_one(st, &op);
}

int skv_store_exists(struct skv_store *st, const void *key, size_t klen)
{
    struct skv_store_op op = {.kind = SKV_STORE_OP_EXISTS, .key = key, .klen = klen};
    return run_one(st, &op);
}

int skv_store_expire(struct skv_store *st, const void *key, size_t klen, int64_t ttl_ms)
{
    struct skv_store_op op = {.kind = SKV_STORE_OP_EXPIRE, .key = key, .klen = klen, .arg = ttl_ms};
    return run_one(st, &op);
}

int skv_store_ttl(struct skv_store *st, const void *key, size_t klen, int64_t *ttl_ms)
{
    struct skv_store_op op = {.kind = SKV_STORE_OP_TTL, .key = key, .klen = klen};
    int rc = run_one(st, &op);
    if (rc == 0)
        *ttl_ms = op.num;
    return rc;
}

int skv_store_incrby(struct skv_store *st, const void *key, size_t klen, int64_t delta,
                     int64_t *out)
{
    struct skv_store_op op = {.kind = SKV_STORE_OP_INCRBY, .key = key, .klen = klen, .arg = delta};
    int rc = run_one(st, &op);
    if (rc == 0 && out)
        *out = op.num;
    return rc;
}

/* Operations for a multi-key call: on the stack when small. */
static struct skv_store_op *ops_alloc(size_t n, struct skv_store_op *stack)
{
    if (n <= STORE_STACK_OPS)
        return stack;
    if (n > SIZE_MAX / sizeof *stack)
        return NULL;
    return calloc(n, sizeof *stack);
}

int skv_store_mset(struct skv_store *st, size_t n, const void *const *keys, const size_t *klens,
                   const void *const *vals, const size_t *vlens)
{
    if (!st || (n && (!keys || !klens || !vals || !vlens)))
        return SKV_STORE_EINVAL;
    struct skv_store_op stack[STORE_STACK_OPS];
    /* All limits first: a too-big value must write nothing at all. */
    for (size_t i = 0; i < n; i++) {
        struct skv_store_op probe = {.kind = SKV_STORE_OP_SET,
                                     .key = keys[i],
                                     .klen = klens[i],
                                     .val = vals[i],
                                     .vlen = vlens[i]};
        int rc = op_check(st, &probe);
        if (rc != 0)
            return rc;
    }
    if (n == 0)
        return 0;
    struct skv_store_op *ops = ops_alloc(n, stack);
    if (!ops)
        return SKV_STORE_ENOMEM;
    for (size_t i = 0; i < n; i++)
        ops[i] = (struct skv_store_op){.kind = SKV_STORE_OP_SET,
                                       .key = keys[i],
                                       .klen = klens[i],
                                       .val = vals[i],
                                       .vlen = vlens[i]};
    int rc = skv_store_exec(st, ops, n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (ops[i].rc < 0)
            rc = ops[i].rc;
    if (ops != stack)
        free(ops);
    return rc;
}

void skv_store_values_free(struct skv_store_value *res, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(res[i].data);
        res[i].data = NULL;
        res[i].len = 0;
    }
}

int skv_store_mget(struct skv_store *st, size_t n, const void *const *keys, const size_t *klens,
                   struct skv_store_value *res)
{
    if (!st || (n && (!keys || !klens || !res)))
        return SKV_STORE_EINVAL;
    for (size_t i = 0; i < n; i++)
        res[i] = (struct skv_store_value){NULL, 0};
    if (n == 0)
        return 0;
    struct skv_store_op stack[STORE_STACK_OPS];
    struct skv_store_op *ops = ops_alloc(n, stack);
    if (!ops)
        return SKV_STORE_ENOMEM;
    for (size_t i = 0; i < n; i++)
        ops[i] = (struct skv_store_op){.kind = SKV_STORE_OP_GET, .key = keys[i], .klen = klens[i]};
    int rc = skv_store_exec(st, ops, n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (ops[i].rc < 0)
            rc = ops[i].rc;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && ops[i].rc == 1) {
            res[i].data = ops[i].out;
            res[i].len = ops[i].vlen;
        } else {
            free(ops[i].out); /* all-or-nothing on error */
        }
    }
    if (ops != stack)
        free(ops);
    return rc;
}

int skv_store_stats(struct skv_store *st, struct skv_store_stats *out)
{
    if (!st || !out)
        return SKV_STORE_EINVAL;
    if (on_own_shard(st))
        return SKV_STORE_EDEADLK;
    memset(out, 0, sizeof *out);
    unsigned S = st->n;
    struct store_msg *msgs = calloc(S, sizeof *msgs);
    struct skv_store_stats *part = calloc(S, sizeof *part);
    unsigned *dest = calloc(S, sizeof *dest);
    struct store_done done;
    if (!msgs || !part || !dest) {
        free(msgs);
        free(part);
        free(dest);
        return SKV_STORE_ENOMEM;
    }
    for (unsigned i = 0; i < S; i++) {
        msgs[i].st = st;
        msgs[i].stats = &part[i];
        dest[i] = i;
    }
    post_and_wait(st, msgs, dest, S, &done);
    for (unsigned i = 0; i < S; i++) {
        out->keys += part[i].keys;
        out->ops += part[i].ops;
        out->batches += part[i].batches;
        out->expired_active += part[i].expired_active;
        out->used_memory += part[i].used_memory;
        if (part[i].max_op_ns > out->max_op_ns)
            out->max_op_ns = part[i].max_op_ns;
    }
    free(msgs);
    free(part);
    free(dest);
    return 0;
}
