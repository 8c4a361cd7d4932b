/* cmd_block_reg.c — the blocking commands' waiter registry: on each
 * shard, a FIFO of waiters per (db, key), in the order clients blocked;
 * marking keys written; serving them before the next command on the shard
 * (or at the end of the turn) by
 * claiming each waiter (one atomic flag, so a client waiting on several
 * shards is served once) and posting the outcome to its worker; and
 * removing a finished waiter's registrations. The waiters' lifetime
 * (references, claim) is here too.
 *
 * Threads: the registry is thread-local to each shard's thread; waiters
 * are shared by reference between their client's worker and the shards. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/hash.h"
#include "server/commands/cmd_block.h"
#include "server/commands/cmd_block_internal.h"
#include "server/core/server.h"
#include "server/net/conn.h"
#include "server/net/worker.h"
#include "server/txn/txn.h"

/* ---- Waiters ------------------------------------------------------------- */

void blk_waiter_unref(struct blk_waiter *w)
{
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) != 1)
        return;
    rbuf_deinit(&w->reply);
    free(w);
}

bool blk_waiter_claim(struct blk_waiter *w)
{
    int zero = 0;
    return atomic_compare_exchange_strong(&w->claimed, &zero, 1);
}

struct blk_waiter *blk_waiter_new(struct conn *c, const struct cmd_def *d,
                                  const struct blk_spec *sp, size_t argc,
                                  const struct resp_arg *argv)
{
    size_t bytes = resp_args_len(argv, argc);
    struct blk_waiter *w = calloc(1, sizeof *w + argc * sizeof(struct resp_arg) + bytes);
    if (!w)
        return NULL;
    atomic_init(&w->refs, 1);
    w->client_id = c->id;
    w->origin = c->w->id;
    w->db = c->db;
    w->proto = c->proto;
    w->sp = *sp;
    w->cmd = d;
    w->argc = argc;
    w->argv = (struct resp_arg *)(w + 1);
    resp_args_copy(w->argv, argv, argc);
    rbuf_init(&w->reply);
    return w;
}

/* ---- The per-shard registry (the shard's thread) ------------------------- */

struct wnode {
    struct blk_waiter *w;    /* holds a reference */
    struct wnode *next;      /* FIFO: the order clients blocked */
    bool moving;             /* its move transaction (BLMOVE across shards)
                                is reserved and has not checked the key
                                yet: an element is its */
};

struct wkey {
    struct wkey *hnext;      /* bucket chain */
    uint64_t h;              /* hash_key(key) */
    unsigned db;             /* database */
    bool ready;              /* written this turn: on the ready list */
    struct wkey *rnext;      /* ready list link */
    struct wnode *head, *tail; /* waiters */
    unsigned nmoving;        /* its waiters moving: the elements at the
                                 head are theirs */
    size_t klen;             /* key length */
    char key[];              /* key bytes */
};

struct wreg {
    struct wkey **b;         /* buckets (power of two) */
    size_t nb;               /* bucket count */
    size_t n;                /* keys with waiters */
    struct wkey *ready;      /* keys to serve before the next command */
};

static _Thread_local struct wreg reg;

static struct wkey **reg_slot(unsigned db, const void *key, size_t klen, uint64_t h)
{
    struct wkey **pp = &reg.b[h & (reg.nb - 1)];
    for (; *pp; pp = &(*pp)->hnext)
        if ((*pp)->h == h && (*pp)->db == db && (*pp)->klen == klen &&
            memcmp((*pp)->key, key, klen) == 0)
            break;
    return pp;
}

static int reg_grow(void)
{
    size_t nb = reg.nb ? reg.nb * 2 : 64;
    struct wkey **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < reg.nb; i++)
        for (struct wkey *k = reg.b[i], *next; k; k = next) {
            next = k->hnext;
            k->hnext = b[k->h & (nb - 1)];
            b[k->h & (nb - 1)] = k;
        }
    free(reg.b);
    reg.b = b;
    reg.nb = nb;
    return 0;
}

int blk_reg_add(unsigned db, const struct resp_arg *key, struct blk_waiter *w)
{
    if (reg.n >= reg.nb && reg_grow() != 0)
        return -1;
    uint64_t h = hash_key(key->ptr, key->len);
    struct wkey **pp = reg_slot(db, key->ptr, key->len, h);
    struct wkey *k = *pp;
    if (k) {
        for (struct wnode *n = k->head; n; n = n->next)
            if (n->w == w)
                return 0; /* the same key twice in one command */
    }
    struct wnode *n = malloc(sizeof *n);
    if (!n)
        return -1;
    if (!k) {
        k = calloc(1, sizeof *k + key->len);
        if (!k) {
            free(n);
            return -1;
        }
        k->h = h;
        k->db = db;
        k->klen = key->len;
        memcpy(k->key, key->ptr, key->len);
        *pp = k;
        reg.n++;
    }
    n->w = w;
    n->next = NULL;
    n->moving = false;
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
    if (k->tail)
        k->tail->next = n;
    else
        k->head = n;
    k->tail = n;
    return 0;
}

/* Put k on the ready list: its waiters are looked at this turn's end. */
static void mark_ready(struct wkey *k)
{
    if (k->ready)
        return;
    k->ready = true;
    k->rnext = reg.ready;
    reg.ready = k;
}

/* Drop key k (no waiters left, not on the ready list). */
static void reg_drop(struct wkey *k)
{
    struct wkey **pp = reg_slot(k->db, k->key, k->klen, k->h);
    *pp = k->hnext;
    reg.n--;
    free(k);
}

/* A node of k no longer moving: the waiters behind it may be served. */
static void move_over(struct wkey *k, struct wnode *n)
{
    if (!n->moving)
        return;
    n->moving = false;
    k->nmoving--;
    mark_ready(k);
}

void blk_reg_remove(unsigned db, const struct resp_arg *key, struct blk_waiter *w)
{
    if (reg.n == 0)
        return;
    struct wkey *k = *reg_slot(db, key->ptr, key->len, hash_key(key->ptr, key->len));
    if (!k)
        return;
    struct wnode *prev = NULL;
    for (struct wnode *n = k->head; n; prev = n, n = n->next) {
        if (n->w != w)
            continue;
        move_over(k, n); /* (its move ended without it) */
        if (prev)
            prev->next = n->next;
        else
            k->head = n->next;
        if (k->tail == n)
            k->tail = prev;
        free(n);
        blk_waiter_unref(w);
        break;
    }
    if (!k->head && !k->ready)
        reg_drop(k);
}

void cmd_block_on_key(struct cmd_ctx *c, unsigned db, const void *key, size_t klen)
{
    (void)c;
    if (reg.n == 0 || !key)
        return;
    struct wkey *k = *reg_slot(db, key, klen, hash_key(key, klen));
    if (k)
        mark_ready(k);
}

void blk_reg_move_done(unsigned db, const struct resp_arg *key, struct blk_waiter *w)
{
    if (reg.n == 0)
        return;
    struct wkey *k = *reg_slot(db, key->ptr, key->len, hash_key(key->ptr, key->len));
    if (!k)
        return;
    for (struct wnode *n = k->head; n; n = n->next)
        if (n->w == w) {
            move_over(k, n);
            break;
        }
    mark_ready(k); /* (serving finds out whether anything is left to take) */
}

/* Tell w's worker that w was claimed and its outcome set (blk_on_wake).
 * Returns false on out-of-memory. */
static bool post_wake(struct blk_waiter *w)
{
    struct blk_wake_msg *m = malloc(sizeof *m);
    if (!m)
        return false;
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
    m->w = w;
    m->msg.handle = blk_on_wake;
    shard_post(shard_group_get(server.group, w->origin), &m->msg);
    return true;
}

/* The context a pop for k's waiters runs in, on s (k's shard), now. */
static struct cmd_ctx key_ctx(struct shard *s, const struct wkey *k)
{
    return (struct cmd_ctx){
        .shard = s,
        .db = shard_db(s, k->db),
        .dbidx = k->db,
        .now_ms = clock_wall_ms(),
    };
}

/* Pop for w (just claimed) from key k into its reply and wake it. */
static void serve_now(struct cmd_ctx *c, const struct wkey *k, struct blk_waiter *w)
{
    /* The key's index among the waiter's keys. */
    size_t ki = 0;
    for (; ki < w->sp.nkeys; ki++) {
        const struct resp_arg *a = &w->argv[w->sp.kfirst + ki];
        if (a->len == k->klen && memcmp(a->ptr, k->key, k->klen) == 0)
            break;
    }
    w->outcome = OUT_SERVED;
    blk_do_pop(c, &w->sp, w->argv, ki, &w->reply, w->proto);
    /* (Out of memory: the client stays blocked, nothing else can be
     * done.) */
    post_wake(w);
}

/* A pop reserved behind a move: which waiter, on which key. */
struct rpop {
    struct blk_waiter *w;    /* a reference */
    unsigned db;             /* the key's database */
    size_t klen;             /* and its bytes */
    char key[];
};

/* The reserved pop's turn (a one-shot transaction heading the key's
 * queue on this shard): serve w now if it still waits and the key still
 * has what it wants; else it waits on in its place. */
static void rpop_run(struct shard *s, void *arg)
{
    struct rpop *rp = arg;
    struct blk_waiter *w = rp->w;
    uint64_t h = hash_key(rp->key, rp->klen);
    struct wkey *k = reg.n ? *reg_slot(rp->db, rp->key, rp->klen, h) : NULL;
    struct wnode *n = k ? k->head : NULL;
    while (n && n->w != w)
        n = n->next;
    if (n) {
        move_over(k, n); /* (whatever happens now, its turn is over) */
        struct cmd_ctx c = key_ctx(s, k);
        struct kventry *e = kvmap_find(c.db, k->key, k->klen, c.now_ms);
        if (e && kventry_type(e) == blk_want_type(w->sp.kind) && blk_waiter_claim(w))
            serve_now(&c, k, w); /* (serving drops the claimed node) */
    }
    blk_waiter_unref(w);
    free(rp);
}

/* Reserve, on s, the pop of w from k, to run once the moves and
 * transactions scheduled before it are done with its keys
 * (txn_start_reserved_oneshot): every command after this one waits for
 * it. A BLMOVE's destination (here: it does not cross) is locked too.
 * Returns false on out-of-memory. */
static bool reserve_pop(struct shard *s, const struct wkey *k, struct blk_waiter *w)
{
    struct rpop *rp = malloc(sizeof *rp + k->klen);
    struct txn *t = rp ? txn_create_for(s->id) : NULL;
    const struct resp_arg *dst = w->sp.kind == BK_LMOVE ? &w->argv[2] : NULL;
    if (!t || txn_lock_key(t, k->db, k->key, k->klen, true) != 0 ||
        (dst && txn_lock_key(t, k->db, dst->ptr, dst->len, true) != 0)) {
        if (t)
            txn_finish(t);
        free(rp);
        return false;
    }
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
    rp->w = w;
    rp->db = k->db;
    rp->klen = k->klen;
    memcpy(rp->key, k->key, k->klen);
    if (txn_start_reserved_oneshot(t, s, rpop_run, rp) != 0) {
        blk_waiter_unref(w);
        free(rp);
        return false;
    }
    return true;
}

/* Drop node n (after prev, or the head) from k's FIFO. */
static struct wnode *drop_node(struct wkey *k, struct wnode *prev, struct wnode *n)
{
    struct wnode *next = n->next;
    if (prev)
        prev->next = next;
    else
        k->head = next;
    if (k->tail == n)
        k->tail = prev;
    blk_waiter_unref(n->w);
    free(n);
    return next;
}

/* Serve the waiters of k while it has data they can take, in FIFO order.
 * A waiter whose BLMOVE crosses shards gets its move reserved
 * (blk_move_reserve), which takes an element at the head when it checks
 * the key; the waiters behind such moves are served too as long as there
 * are elements for them, by moves as well (a pop now would take a moving
 * waiter's element: a pop waits for the moves ahead of it), and so are
 * those behind a transaction's intent lock. Returns false when a
 * transaction between its steps holds the key: again once it concludes. */
static bool serve_key(struct shard *s, struct wkey *k)
{
    struct cmd_ctx c = key_ctx(s, k);
    struct wnode *prev = NULL;
    for (struct wnode *n = k->head; n;) {
        struct blk_waiter *w = n->w;
        if (n->moving) { /* its element is reserved: the next one's */
            prev = n;
            n = n->next;
            continue;
        }
        if (atomic_load(&w->claimed)) {
            n = drop_node(k, prev, n);
            continue;
        }
        struct kventry *e = kvmap_find(c.db, k->key, k->klen, c.now_ms);
        if (!e || kventry_type(e) != blk_want_type(w->sp.kind) ||
            tval_len(kventry_tval(e)) <= k->nmoving)
            return true; /* nothing for them (yet) */
        /* A BLMOVE to another shard: its worker runs the move as a
         * transaction over both keys, which claims w; its lock here counts
         * from now, so no later command takes the element. Behind a move,
         * or behind a transaction's intent lock (txn_may_run_beside): a
         * pop reserved the same way, in its turn. Waiting for a moment
         * with no transaction on the key instead starves w while
         * transactions keep coming (MULTI/EXEC readers in turn). Only a
         * transaction between two of its steps is waited for: it fed the
         * key (EXEC's push), and w is served as it concludes, before the
         * transactions after it, as Redis serves after EXEC. (Out of
         * memory: tried again at the key's next write.) */
        const struct cmd_def *d = w->cmd;
        bool crosses = blk_move_crosses(&w->sp, w->argv, s->id);
        bool held = !crosses && k->nmoving == 0 &&
                    !txn_may_run_beside(s, d, k->db, w->argc, w->argv);
        if (held && txn_stepping_conflict(s, d, k->db, w->argc, w->argv))
            return false;
        if (crosses || k->nmoving > 0 || held) {
            if (!(crosses ? blk_move_reserve(s, w) : reserve_pop(s, k, w)))
                return true;
            n->moving = true;
            k->nmoving++;
            prev = n;
            n = n->next;
            continue;
        }
        if (blk_waiter_claim(w))
            serve_now(&c, k, w);
        n = drop_node(k, prev, n);
    }
    return true;
}

/* Serving is under way on this thread: the pops it makes must not serve
 * (cmd_block_serve works on one list at a time). */
static _Thread_local bool serving;

void cmd_block_serve(struct worker *w)
{
    if (!reg.ready || serving)
        return;
    serving = true;
    struct wkey *list = reg.ready, *again = NULL;
    reg.ready = NULL;
    while (list) {
        struct wkey *k = list;
        list = k->rnext;
        k->ready = false;
        if (!serve_key(w->shard, k)) {
            /* (A pop before the held waiter may have put k back on
             * reg.ready already: one list at a time, or the links cross.) */
            if (!k->ready) {
                k->ready = true;
                k->rnext = again;
                again = k;
            }
            continue;
        }
        if (!k->head && !k->ready)
            reg_drop(k);
    }
    /* Keys served meanwhile (by pops that wrote) come back on reg.ready. */
    while (again) {
        struct wkey *k = again;
        again = k->rnext;
        k->rnext = reg.ready;
        reg.ready = k;
    }
    serving = false;
}

void cmd_block_settle(struct shard *s)
{
    /* Redis serves the keys a command made ready right after it
     * (handleClientsBlockedOnKeys), so the next command, of any client,
     * finds the elements gone to the clients that waited for them. Here
     * that is at the end of the command that wrote them, or of the
     * transaction that held them; the turn's end serves what is left. */
    if (reg.ready)
        cmd_block_serve(s->user);
}

/* The message that removes a finished waiter's registrations on a shard. */
struct purge_msg {
    struct mbox_msg msg;     /* first */
    struct blk_waiter *w;    /* a reference */
};

static void on_purge(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    struct purge_msg *pm = (struct purge_msg *)m;
    struct blk_waiter *w = pm->w;
    for (size_t i = 0; i < w->sp.nkeys; i++) {
        const struct resp_arg *key = &w->argv[w->sp.kfirst + i];
        if (shard_group_route(server.group, key->ptr, key->len) == s->id)
            blk_reg_remove(w->db, key, w);
    }
    blk_waiter_unref(w);
    free(pm);
}

bool blk_reg_post_purge(unsigned shard, struct blk_waiter *w)
{
    struct purge_msg *pm = malloc(sizeof *pm);
    if (!pm)
        return false;
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
    pm->w = w;
    pm->msg.handle = on_purge;
    shard_post(shard_group_get(server.group, shard), &pm->msg);
    return true;
}

void blk_reg_free_all(void)
{
    for (size_t i = 0; i < reg.nb; i++)
        for (struct wkey *k = reg.b[i], *next; k; k = next) {
            next = k->hnext;
            for (struct wnode *n = k->head, *nn; n; n = nn) {
                nn = n->next;
                blk_waiter_unref(n->w);
                free(n);
            }
            free(k);
        }
    free(reg.b);
    memset(&reg, 0, sizeof reg);
}
