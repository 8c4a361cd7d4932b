/* pubsub.c — Pub/Sub across workers (see pubsub.h): the server-wide
 * registry of subscription counts behind a big-reader lock, each worker's
 * own tables of its clients' subscriptions, and delivery: inline to this
 * worker's subscribers, through the others' inboxes to theirs (woken once
 * per loop turn), with a command's own client's frames placed before its
 * reply (pubsub_set_origin). Runs on worker threads; each worker's
 * tables and each conn only on its own. */
#include "server/pubsub/pubsub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/net/conn.h"
#include "server/route/dispatch.h"
#include "server/util/glob.h"
#include "server/util/log.h"
#include "server/net/outbuf.h"
#include "server/pubsub/pubsub_map.h"
#include "server/net/worker.h"
#include "server/net/reply_fifo.h"
#include "shard/shard.h"

/* Names subscribed per hold of the registry's write lock: a SUBSCRIBE of
 * 100,000 channels lets publishers in between, instead of stopping them
 * for its whole run. */
#define PUBSUB_LOCK_BATCH 256

/* ---- Registry (shared; read under one worker's lock, written under all) */

/* The registry's count of one name. */
struct reg_ent {
    uint32_t total;   /* subscriptions to it, all workers */
    size_t pidx;      /* patterns: its position in reg.pats */
    uint32_t per[];   /* subscriptions to it on worker i */
};

/* A registered pattern, in a dense array that PUBLISH walks. */
struct reg_pat {
    const char *key;  /* the pattern (the registry map entry's bytes) */
    size_t len;       /* its length */
    struct reg_ent *e; /* its counts */
};

/* One lock per worker, each on its own cache line: a reader takes only
 * its own, so publishers on different workers never share a line. */
struct lock_slot {
    _Alignas(64) pthread_mutex_t m;
};

static struct {
    unsigned nworkers;            /* workers (and locks) */
    struct lock_slot *locks;      /* [nworkers] */
    struct psmap names[PUBSUB_NKINDS]; /* name -> struct reg_ent */
    struct reg_pat *pats;         /* every pattern with subscribers */
    size_t npats, patcap;         /* count and allocation */
} reg;

/* ---- Per worker (its own thread only) --------------------------------- */

/* The local subscribers of one name. */
struct sublist {
    struct conn **v;  /* subscribed clients of this worker */
    uint32_t n, cap;  /* count and allocation */
    const char *key;  /* the name (the local map entry's bytes) */
    size_t len;       /* its length */
    size_t pidx;      /* patterns: position in local.pats */
};

/* A published message's node in one destination worker's inbox. */
struct psnode {
    struct psnode *next;    /* newer message for that worker */
    struct psmsg *m;        /* the message (one reference) */
};

/* A published message on its way to other workers: one copy, shared. */
struct psmsg {
    _Atomic unsigned refs;  /* destination workers that still hold it */
    enum pubsub_kind kind;  /* PUBSUB_CHANNEL or PUBSUB_SHARD */
    size_t chlen, len;      /* channel and payload lengths */
    const struct conn *origin; /* the client whose command caused it (a
                                  keyspace event) when its frames go into
                                  oslot, before that command's reply; NULL */
    struct slot *oslot;     /* origin's pending reply slot, or NULL */
    char *data;             /* channel bytes, then payload bytes (after nodes) */
    struct psnode nodes[];  /* one per destination worker */
};

/* A worker's inbox of messages from other workers. A publisher appends to
 * it before PUBLISH (or the write that caused an event) returns, so the
 * message is there before any reply of the publisher's can leave; the
 * worker takes it out when woken, and before it runs any command of a
 * subscribed client (pubsub_catch_up): a client that sends a command after
 * a PUBLISH was answered gets the message first, as in Redis. One mutex per
 * destination, held for a pointer append: publishers to different workers
 * never share it, and the list keeps one order for all its producers. */
struct inbox {
    _Alignas(64) pthread_mutex_t m; /* guards head and tail */
    struct psnode *head, *tail;     /* oldest and newest message */
    _Atomic bool nonempty;          /* head != NULL, read without the lock */
};

/* The message by which one worker wakes another for its inbox: one per
 * (producer, destination), posted by the producer itself, so that
 * whatever the producer posts to that worker later (a reply) is handled
 * after the inbox was drained, mailboxes being FIFO per producer. */
struct wake {
    struct mbox_msg hdr;    /* first: the handler casts back */
    _Atomic bool posted;    /* posted and not yet handled */
};

struct local {
    struct psmap names[PUBSUB_NKINDS]; /* name -> struct sublist */
    struct sublist **pats;  /* this worker's patterns, dense */
    size_t npats, patcap;   /* count and allocation */
    struct rbuf frame;      /* the message being delivered, encoded once
                               for all the subscribers of one name */
    struct wake *wakes;     /* [nworkers]: this worker's wake of worker j */
    bool *wake_due;         /* [nworkers]: worker j has messages from this
                               turn and no wake yet (pubsub_flush posts it) */
    bool wakes_due;         /* some wake_due is set */
};

static struct local *locals; /* [reg.nworkers] */
static struct inbox *inboxes; /* [reg.nworkers] */

/* A client's own subscriptions (conn.ps; NULL when it has none). */
struct pubsub_client {
    struct psmap names[PUBSUB_NKINDS]; /* name -> its index in the local
                                          sublist's v, as a uintptr_t */
};

/* ---- Set-up ------------------------------------------------------------ */

static void on_wake(void *owner, struct mbox_msg *hdr);
static void msg_unref(struct psmsg *m);

int pubsub_setup(unsigned nworkers)
{
    if (nworkers == 0)
        nworkers = 1;
    reg.locks = aligned_alloc(64, nworkers * sizeof *reg.locks);
    locals = calloc(nworkers, sizeof *locals);
    inboxes = aligned_alloc(64, nworkers * sizeof *inboxes);
    if (!reg.locks || !locals || !inboxes) {
        free(reg.locks);
        free(locals);
        free(inboxes);
        reg.locks = NULL;
        locals = NULL;
        inboxes = NULL;
        return -1;
    }
    for (unsigned i = 0; i < nworkers; i++) {
        pthread_mutex_init(&reg.locks[i].m, NULL);
        struct inbox *ib = &inboxes[i];
        memset(ib, 0, sizeof *ib);
        pthread_mutex_init(&ib->m, NULL);
        atomic_init(&ib->nonempty, false);
        locals[i].wakes = calloc(nworkers, sizeof *locals[i].wakes);
        locals[i].wake_due = calloc(nworkers, sizeof *locals[i].wake_due);
        if (!locals[i].wakes || !locals[i].wake_due) {
            reg.nworkers = i + 1;
            pubsub_teardown();
            return -1;
        }
        for (unsigned j = 0; j < nworkers; j++) {
            locals[i].wakes[j].hdr.handle = on_wake;
            atomic_init(&locals[i].wakes[j].posted, false);
        }
    }
    reg.nworkers = nworkers;
    return 0;
}

static void free_names(struct psmap *m)
{
    for (struct psmap_ent *e = psmap_next(m, NULL); e; e = psmap_next(m, e))
        free(e->val);
    psmap_deinit(m);
}

void pubsub_teardown(void)
{
    if (!reg.locks)
        return;
    for (unsigned i = 0; i < reg.nworkers; i++) {
        pthread_mutex_destroy(&reg.locks[i].m);
        struct local *l = &locals[i];
        for (int k = 0; k < PUBSUB_NKINDS; k++) {
            for (struct psmap_ent *e = psmap_next(&l->names[k], NULL); e;
                 e = psmap_next(&l->names[k], e))
                free(((struct sublist *)e->val)->v);
            free_names(&l->names[k]);
        }
        free(l->pats);
        /* (messages still in an inbox at stop are dropped) */
        struct inbox *ib = &inboxes[i];
        while (ib->head) {
            struct psnode *nd = ib->head;
            ib->head = nd->next;
            msg_unref(nd->m);
        }
        pthread_mutex_destroy(&ib->m);
        free(l->wakes);
        free(l->wake_due);
        rbuf_deinit(&l->frame);
    }
    for (int k = 0; k < PUBSUB_NKINDS; k++)
        free_names(&reg.names[k]);
    free(reg.pats);
    free(reg.locks);
    free(locals);
    free(inboxes);
    memset(&reg, 0, sizeof reg);
    locals = NULL;
    inboxes = NULL;
}

/* ---- The registry's lock ---------------------------------------------- */

/* The calling thread's read lock: its worker's (worker 0's elsewhere). */
static pthread_mutex_t *read_lock(void)
{
    struct worker *w = worker_current();
    unsigned i = w && w->id < reg.nworkers ? w->id : 0;
    pthread_mutex_lock(&reg.locks[i].m);
    return &reg.locks[i].m;
}

/* Every lock, in index order (so two writers cannot deadlock). */
static void write_lock(void)
{
    for (unsigned i = 0; i < reg.nworkers; i++)
        pthread_mutex_lock(&reg.locks[i].m);
}

static void write_unlock(void)
{
    for (unsigned i = reg.nworkers; i-- > 0;)
        pthread_mutex_unlock(&reg.locks[i].m);
}

/* Count one more subscription to name in kind on worker wid. Write lock
 * held. Returns 0 or -1 on out-of-memory (nothing changed). */
static int reg_add(enum pubsub_kind kind, const char *name, size_t len, unsigned wid)
{
    struct psmap_ent *pe = psmap_find(&reg.names[kind], name, len);
    if (!pe) {
        if (kind == PUBSUB_PATTERN && reg.npats == reg.patcap) {
            size_t ncap = reg.patcap ? reg.patcap * 2 : 16;
            struct reg_pat *p = realloc(reg.pats, ncap * sizeof *p);
            if (!p)
                return -1;
            reg.pats = p;
            reg.patcap = ncap;
        }
        struct reg_ent *re = calloc(1, sizeof *re + reg.nworkers * sizeof re->per[0]);
        pe = re ? psmap_add(&reg.names[kind], name, len, re) : NULL;
        if (!pe) {
            free(re);
            return -1;
        }
        if (kind == PUBSUB_PATTERN) {
            re->pidx = reg.npats;
            reg.pats[reg.npats++] = (struct reg_pat){pe->key, pe->len, re};
        }
    }
    struct reg_ent *re = pe->val;
    re->per[wid]++;
    re->total++;
    return 0;
}

/* Count one subscription fewer. Write lock held. */
static void reg_del(enum pubsub_kind kind, const char *name, size_t len, unsigned wid)
{
    struct psmap_ent *pe = psmap_find(&reg.names[kind], name, len);
    if (!pe)
        return;
    struct reg_ent *re = pe->val;
    re->per[wid]--;
    if (--re->total > 0)
        return;
    if (kind == PUBSUB_PATTERN) {
        reg.pats[re->pidx] = reg.pats[--reg.npats];
        reg.pats[re->pidx].e->pidx = re->pidx;
    }
    psmap_del(&reg.names[kind], pe);
    free(re);
}

/* ---- Matching ---------------------------------------------------------- */

bool pubsub_match(const char *pat, size_t plen, const char *s, size_t slen)
{
    /* Redis's stringmatchlen loops while both pattern and string have
     * bytes left, so an empty channel matches only the empty pattern, even
     * "*" (checked against redis-server 7.0). */
    if (slen == 0)
        return plen == 0;
    return glob_match(pat, plen, s, slen, false);
}

/* ---- A worker's tables -------------------------------------------------- */

static struct local *local_of(const struct conn *c)
{
    return &locals[c->w->id];
}

/* Append c to the local subscribers of name; *idx gets its position.
 * Returns 0 or -1 on out-of-memory (nothing changed). */
static int local_add(struct local *l, enum pubsub_kind kind, const char *name, size_t len,
                     struct conn *c, uint32_t *idx)
{
    struct psmap_ent *le = psmap_find(&l->names[kind], name, len);
    struct sublist *sl;
    if (!le) {
        if (kind == PUBSUB_PATTERN && l->npats == l->patcap) {
            size_t ncap = l->patcap ? l->patcap * 2 : 16;
            struct sublist **p = realloc(l->pats, ncap * sizeof *p);
            if (!p)
                return -1;
            l->pats = p;
            l->patcap = ncap;
        }
        sl = calloc(1, sizeof *sl);
        le = sl ? psmap_add(&l->names[kind], name, len, sl) : NULL;
        if (!le) {
            free(sl);
            return -1;
        }
        sl->key = le->key;
        sl->len = le->len;
        if (kind == PUBSUB_PATTERN) {
            sl->pidx = l->npats;
            l->pats[l->npats++] = sl;
        }
    }
    sl = le->val;
    if (sl->n == sl->cap) {
        uint32_t ncap = sl->cap ? sl->cap * 2 : 4;
        struct conn **v = realloc(sl->v, ncap * sizeof *v);
        if (!v) {
            if (sl->n == 0) /* just made: do not leave an empty list */
                goto drop;
            return -1;
        }
        sl->v = v;
        sl->cap = ncap;
    }
    *idx = sl->n;
    sl->v[sl->n++] = c;
    return 0;
drop:
    if (kind == PUBSUB_PATTERN) {
        l->pats[sl->pidx] = l->pats[--l->npats];
        l->pats[sl->pidx]->pidx = sl->pidx;
    }
    psmap_del(&l->names[kind], le);
    free(sl);
    return -1;
}

/* Remove the subscriber at position idx of name's local list. */
static void local_del(struct local *l, enum pubsub_kind kind, const char *name, size_t len,
                      uint32_t idx)
{
    struct psmap_ent *le = psmap_find(&l->names[kind], name, len);
    if (!le)
        return;
    struct sublist *sl = le->val;
    if (idx >= sl->n)
        return;
    struct conn *moved = sl->v[--sl->n];
    if (idx < sl->n) {
        /* The last subscriber fills the hole; its own record of where it
         * sits follows. */
        sl->v[idx] = moved;
        struct psmap_ent *ce = psmap_find(&moved->ps->names[kind], name, len);
        if (ce)
            ce->val = (void *)(uintptr_t)idx;
    }
    if (sl->n > 0)
        return;
    if (kind == PUBSUB_PATTERN) {
        l->pats[sl->pidx] = l->pats[--l->npats];
        l->pats[sl->pidx]->pidx = sl->pidx;
    }
    free(sl->v);
    psmap_del(&l->names[kind], le);
    free(sl);
}

/* ---- Replies ----------------------------------------------------------- */

/* An array header: '*' in RESP2, a push '>' in RESP3. */
static void push_header(struct rbuf *out, int proto, unsigned n)
{
    char h[16], d[10];
    size_t k = 0, nd = 0;
    h[k++] = proto == RESP3 ? '>' : '*';
    do
        d[nd++] = (char)('0' + n % 10);
    while ((n /= 10) != 0);
    while (nd)
        h[k++] = d[--nd];
    h[k++] = '\r';
    h[k++] = '\n';
    rbuf_append(out, h, k);
}

static unsigned client_total(const struct pubsub_client *ps, enum pubsub_kind kind)
{
    if (!ps)
        return 0;
    /* Redis counts channels and patterns together, shard channels apart. */
    if (kind == PUBSUB_SHARD)
        return (unsigned)ps->names[PUBSUB_SHARD].n;
    return (unsigned)(ps->names[PUBSUB_CHANNEL].n + ps->names[PUBSUB_PATTERN].n);
}

static void reply_sub(struct rbuf *out, int proto, const char *what, const char *name,
                      size_t len, unsigned count)
{
    push_header(out, proto, 3);
    resp_bulk_cstr(out, what);
    if (name)
        resp_bulk(out, name, len);
    else
        resp_null(out, proto);
    resp_int(out, count);
}

static const char *const sub_names[PUBSUB_NKINDS] = {"subscribe", "psubscribe", "ssubscribe"};
static const char *const unsub_names[PUBSUB_NKINDS] = {"unsubscribe", "punsubscribe",
                                                       "sunsubscribe"};

/* ---- Subscribing ------------------------------------------------------- */

static bool client_empty(const struct pubsub_client *ps)
{
    for (int k = 0; k < PUBSUB_NKINDS; k++)
        if (ps->names[k].n)
            return false;
    return true;
}

/* c has no subscription left: leave Pub/Sub mode. */
static void client_release(struct conn *c)
{
    if (!c->ps || !client_empty(c->ps))
        return;
    for (int k = 0; k < PUBSUB_NKINDS; k++)
        psmap_deinit(&c->ps->names[k]);
    free(c->ps);
    c->ps = NULL;
    atomic_store_explicit(&c->ob_pubsub, false, memory_order_relaxed);
}

void pubsub_subscribe(struct conn *c, enum pubsub_kind kind, const struct resp_arg *names,
                      size_t n, struct rbuf *out)
{
    struct local *l = local_of(c);
    unsigned wid = c->w->id;
    unsigned held = 0; /* names handled under the current write lock */
    if (!c->ps) {
        c->ps = calloc(1, sizeof *c->ps);
        if (!c->ps) {
            resp_error(out, "ERR out of memory");
            return;
        }
        atomic_store_explicit(&c->ob_pubsub, true, memory_order_relaxed);
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i].ptr;
        size_t len = names[i].len;
        if (!psmap_find(&c->ps->names[kind], name, len)) {
            uint32_t idx;
            if (local_add(l, kind, name, len, c, &idx) != 0)
                goto oom;
            struct psmap_ent *ce = psmap_add(&c->ps->names[kind], name, len,
                                             (void *)(uintptr_t)idx);
            if (!ce) {
                local_del(l, kind, name, len, idx);
                goto oom;
            }
            if (held == 0)
                write_lock();
            int rc = reg_add(kind, name, len, wid);
            if (rc != 0 || ++held == PUBSUB_LOCK_BATCH) {
                write_unlock();
                held = 0;
            }
            if (rc != 0) {
                psmap_del(&c->ps->names[kind], ce);
                local_del(l, kind, name, len, idx);
                goto oom;
            }
        }
        reply_sub(out, c->proto, sub_names[kind], name, len, client_total(c->ps, kind));
    }
    if (held)
        write_unlock();
    client_release(c);
    return;
oom:
    if (held)
        write_unlock();
    resp_error(out, "ERR out of memory");
    client_release(c);
}

/* Drop c's subscription entry ce (in kind) everywhere. Write lock held by
 * the caller if reg_locked, else taken here. */
static void unsubscribe_one(struct conn *c, enum pubsub_kind kind, struct psmap_ent *ce,
                            bool reg_locked)
{
    local_del(local_of(c), kind, ce->key, ce->len, (uint32_t)(uintptr_t)ce->val);
    if (!reg_locked)
        write_lock();
    reg_del(kind, ce->key, ce->len, c->w->id);
    if (!reg_locked)
        write_unlock();
    psmap_del(&c->ps->names[kind], ce);
}

void pubsub_unsubscribe(struct conn *c, enum pubsub_kind kind, const struct resp_arg *names,
                        size_t n, struct rbuf *out)
{
    const char *what = unsub_names[kind];
    if (n == 0) {
        if (!c->ps || c->ps->names[kind].n == 0) {
            if (out)
                reply_sub(out, c->proto, what, NULL, 0, client_total(c->ps, kind));
            return;
        }
        struct psmap *m = &c->ps->names[kind];
        write_lock();
        unsigned held = 0;
        struct psmap_ent *e = psmap_next(m, NULL);
        while (e) {
            struct psmap_ent *next = psmap_next(m, e);
            if (out) {
                /* The reply names the entry, which is about to go. */
                push_header(out, c->proto, 3);
                resp_bulk_cstr(out, what);
                resp_bulk(out, e->key, e->len);
            }
            unsubscribe_one(c, kind, e, true);
            if (out)
                resp_int(out, client_total(c->ps, kind));
            if (++held == PUBSUB_LOCK_BATCH) {
                write_unlock();
                write_lock();
                held = 0;
            }
            e = next;
        }
        write_unlock();
        client_release(c);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct psmap_ent *ce = c->ps ? psmap_find(&c->ps->names[kind], names[i].ptr,
                                                  names[i].len)
                                     : NULL;
        if (ce)
            unsubscribe_one(c, kind, ce, false);
        if (out)
            reply_sub(out, c->proto, what, names[i].ptr, names[i].len,
                      client_total(c->ps, kind));
    }
    client_release(c);
}

void pubsub_conn_reset(struct conn *c)
{
    for (int k = 0; k < PUBSUB_NKINDS && c->ps; k++)
        pubsub_unsubscribe(c, (enum pubsub_kind)k, NULL, 0, NULL);
}

void pubsub_conn_counts(const struct conn *c, unsigned counts[PUBSUB_NKINDS])
{
    for (int k = 0; k < PUBSUB_NKINDS; k++)
        counts[k] = c->ps ? (unsigned)c->ps->names[k].n : 0;
}

/* ---- Delivery ---------------------------------------------------------- */

/* May c be given another message? Not once it is closing, nor once what
 * it holds has reached its hard limit: it is closed at its next flush
 * (outbuf_check), and meanwhile the server's memory stays bounded. */
static bool may_push(const struct conn *c)
{
    if (conn_is_closing(c))
        return false;
    return !outbuf_pubsub_full(c);
}

/* Encode one message's frame, [type, (pattern,) channel, payload] under a
 * RESP2 array header, into l->frame: once per name, however many clients
 * subscribe to it (a RESP3 frame differs only in its first byte). False
 * when out of memory. */
static bool frame_build(struct local *l, const char *type, size_t tlen, const char *pat,
                        size_t plen, const char *ch, size_t chlen, const char *msg, size_t len)
{
    struct rbuf *f = &l->frame;
    f->len = 0;
    f->oom = false;
    /* One reservation: headers are at most 32 bytes each. */
    if (rbuf_reserve(f, tlen + plen + chlen + len + 4 * 32) != 0)
        return false;
    push_header(f, RESP2, pat ? 4 : 3);
    resp_bulk(f, type, tlen);
    if (pat)
        resp_bulk(f, pat, plen);
    resp_bulk(f, ch, chlen);
    resp_bulk(f, msg, len);
    return !f->oom;
}

/* Frames at least this long are shared by the subscribers' reply slots
 * rather than copied into each (one 1 MB message to 10,000 subscribers
 * holds 1 MB, not 10 GB); shorter ones cost less to copy than a slot and
 * an iovec of their own. */
#define PUBSUB_SHARE_MIN 1024

/* A message's frame on its way to the subscribers of one name: the bytes
 * (RESP2), and the shared copies made the first time a subscriber of each
 * protocol needs one. */
struct frame {
    const struct rbuf *f;         /* the RESP2 frame */
    struct shared_buf *shared[2]; /* [0] RESP2, [1] RESP3; NULL until needed */
};

/* The shared copy of fr for protocol proto; NULL when out of memory. */
static struct shared_buf *frame_shared(struct frame *fr, int proto)
{
    int i = proto == RESP3;
    if (!fr->shared[i]) {
        struct shared_buf *b = shared_buf_new(fr->f->len);
        if (!b)
            return NULL;
        memcpy(b->data, fr->f->ptr, fr->f->len);
        if (i)
            b->data[0] = '>'; /* a push, not an array */
        fr->shared[i] = b;
    }
    return fr->shared[i];
}

/* The client whose command is running on this thread, and where frames
 * for it go (pubsub_set_origin); .c NULL outside a command's events. */
static _Thread_local struct pubsub_origin cur;

/* Put the frame for the running command's own client before that
 * command's reply: into its pending slot (the reply is appended after), or
 * into its reply stream where the reply begins. Copied, whatever its size:
 * a slot holds one buffer. */
static void push_own(struct conn *c, const struct rbuf *f)
{
    struct rbuf *dst = cur.slot ? &cur.slot->out : cur.out;
    size_t at = cur.slot ? dst->len : cur.at;
    if (rbuf_reserve(dst, f->len) != 0) {
        conn_kill(c);
        return;
    }
    memmove(dst->ptr + at + f->len, dst->ptr + at, dst->len - at);
    memcpy(dst->ptr + at, f->ptr, f->len);
    if (c->proto == RESP3)
        dst->ptr[at] = '>'; /* a push, not an array */
    dst->len += f->len;
    if (!cur.slot)
        cur.at += f->len;
    outbuf_pubsub_added(c, f->len);
    worker_want_flush(c->w, c);
}

/* Append the frame to c's replies. */
static void push_frame(struct conn *c, struct frame *fr)
{
    if (!may_push(c))
        return;
    const struct rbuf *f = fr->f;
    if (__builtin_expect(cur.c == c, 0) && (cur.slot || cur.out)) {
        push_own(c, f);
        return;
    }
    if (f->len >= PUBSUB_SHARE_MIN) {
        struct shared_buf *b = frame_shared(fr, c->proto);
        if (!b || reply_fifo_push_shared(c, b) != 0) {
            conn_kill(c); /* (not conn_close: the caller walks the tables) */
            return;
        }
    } else {
        struct rbuf *out = reply_fifo_buf(c);
        size_t before = out ? out->len : 0;
        if (!out || rbuf_append(out, f->ptr, f->len) != 0) {
            conn_kill(c);
            return;
        }
        if (c->proto == RESP3)
            out->ptr[before] = '>'; /* a push, not an array */
    }
    outbuf_pubsub_added(c, f->len);
    worker_want_flush(c->w, c);
}

/* Deliver f to every client of sl. */
static void push_all(const struct sublist *sl, const struct rbuf *f)
{
    struct frame fr = {f, {NULL, NULL}};
    for (uint32_t i = 0; i < sl->n; i++)
        push_frame(sl->v[i], &fr);
    shared_buf_unref(fr.shared[0]);
    shared_buf_unref(fr.shared[1]);
}

/* Deliver to this worker's subscribers (l is the calling worker's). */
static void deliver(struct local *l, enum pubsub_kind kind, const char *ch, size_t chlen,
                    const char *msg, size_t len)
{
    struct psmap_ent *le = psmap_find(&l->names[kind], ch, chlen);
    if (le) {
        bool shard = kind == PUBSUB_SHARD;
        if (frame_build(l, shard ? "smessage" : "message", shard ? 8 : 7, NULL, 0, ch, chlen,
                        msg, len))
            push_all(le->val, &l->frame);
        else
            log_warn("Pub/Sub: out of memory encoding a message");
    }
    if (kind != PUBSUB_CHANNEL)
        return;
    for (size_t p = 0; p < l->npats; p++) {
        struct sublist *sl = l->pats[p];
        if (!pubsub_match(sl->key, sl->len, ch, chlen))
            continue;
        if (frame_build(l, "pmessage", 8, sl->key, sl->len, ch, chlen, msg, len))
            push_all(sl, &l->frame);
        else
            log_warn("Pub/Sub: out of memory encoding a message");
    }
}

static void msg_unref(struct psmsg *m)
{
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        free(m);
}

void pubsub_set_origin(const struct pubsub_origin *o)
{
    if (o)
        cur = *o;
    else
        cur = (struct pubsub_origin){0};
}

size_t pubsub_origin_at(void)
{
    return cur.at;
}

/* Wake worker j for its inbox unless this worker's wake is already on
 * its way there (not handled yet, so it will see what is in the inbox
 * now). self: the calling worker. */
static void wake(unsigned self, unsigned j)
{
    struct wake *wk = &locals[self].wakes[j];
    if (!atomic_exchange(&wk->posted, true))
        shard_post(worker_get(j)->shard, &wk->hdr);
}

/* Append node nd to worker j's inbox. Its wake leaves at the end of this
 * loop turn (one per destination per turn, as a batch would), or now with
 * now: a message with frames for its origin's pending slot must be
 * delivered before the reply fills that slot, and the reply may be posted
 * before the turn ends (a held request's). Whoever sends a command
 * meanwhile finds the message anyway (pubsub_catch_up). self: the calling
 * worker. */
static void inbox_put(unsigned self, unsigned j, struct psnode *nd, bool now)
{
    struct inbox *ib = &inboxes[j];
    nd->next = NULL;
    pthread_mutex_lock(&ib->m);
    if (ib->tail)
        ib->tail->next = nd;
    else
        ib->head = nd;
    ib->tail = nd;
    atomic_store_explicit(&ib->nonempty, true, memory_order_relaxed);
    pthread_mutex_unlock(&ib->m);
    if (now) {
        wake(self, j);
        return;
    }
    locals[self].wake_due[j] = true;
    locals[self].wakes_due = true;
}

void pubsub_flush(struct worker *w)
{
    struct local *l = &locals[w->id];
    if (!l->wakes_due)
        return;
    l->wakes_due = false;
    for (unsigned j = 0; j < reg.nworkers; j++) {
        if (l->wake_due[j]) {
            l->wake_due[j] = false;
            wake(w->id, j);
        }
    }
}

/* Deliver everything in w's inbox, oldest first. w's thread. */
static void inbox_drain(struct worker *w)
{
    struct inbox *ib = &inboxes[w->id];
    pthread_mutex_lock(&ib->m);
    struct psnode *nd = ib->head;
    ib->head = ib->tail = NULL;
    atomic_store_explicit(&ib->nonempty, false, memory_order_relaxed);
    pthread_mutex_unlock(&ib->m);
    struct pubsub_origin saved = cur;
    while (nd) {
        struct psnode *next = nd->next; /* (nd lives in m: read it first) */
        struct psmsg *m = nd->m;
        if (!w->stopping) {
            /* The origin's frame goes before its command's reply, which
             * is still out: the message was appended before the command
             * returned, and the reply comes behind the producer's wake. */
            cur = (struct pubsub_origin){.c = m->origin, .slot = m->oslot};
            deliver(&locals[w->id], m->kind, m->data, m->chlen, m->data + m->chlen, m->len);
        }
        msg_unref(m);
        nd = next;
    }
    cur = saved;
}

/* A wake posted by inbox_put. Cleared before the drain: a message
 * appended after the drain took the list then posts a new wake. */
static void on_wake(void *owner, struct mbox_msg *hdr)
{
    struct shard *s = owner;
    atomic_store(&((struct wake *)hdr)->posted, false);
    inbox_drain(s->user);
}

void pubsub_catch_up(struct worker *w)
{
    if (atomic_load_explicit(&inboxes[w->id].nonempty, memory_order_relaxed))
        inbox_drain(w);
}

long long pubsub_publish(enum pubsub_kind kind, const char *channel, size_t chlen,
                         const char *msg, size_t len)
{
    struct worker *w = worker_current();
    unsigned self = w && w->id < reg.nworkers ? w->id : 0;
    uint64_t dest[(1024 + 63) / 64] = {0}; /* workers with receivers (threads <= 1024) */
    long long total = 0;
    pthread_mutex_t *lk = read_lock();
    struct psmap_ent *pe = psmap_find(&reg.names[kind], channel, chlen);
    if (pe) {
        const struct reg_ent *re = pe->val;
        total += re->total;
        for (unsigned j = 0; j < reg.nworkers; j++)
            if (re->per[j])
                dest[j / 64] |= 1ull << (j % 64);
    }
    if (kind == PUBSUB_CHANNEL) {
        for (size_t p = 0; p < reg.npats; p++) {
            const struct reg_pat *rp = &reg.pats[p];
            if (!pubsub_match(rp->key, rp->len, channel, chlen))
                continue;
            total += rp->e->total;
            for (unsigned j = 0; j < reg.nworkers; j++)
                if (rp->e->per[j])
                    dest[j / 64] |= 1ull << (j % 64);
        }
    }
    pthread_mutex_unlock(lk);
    if (total == 0)
        return 0;

    /* Others first, so that the message is on its way to them before any
     * local delivery can close a connection and reenter. */
    unsigned nremote = 0;
    for (unsigned j = 0; j < reg.nworkers; j++)
        if (j != self && (dest[j / 64] >> (j % 64) & 1))
            nremote++;
    if (nremote > 0 && w) {
        size_t head = sizeof(struct psmsg) + nremote * sizeof(struct psnode);
        struct psmsg *m = chlen + len <= SIZE_MAX - head ? malloc(head + chlen + len) : NULL;
        if (!m) {
            log_warn("Pub/Sub: out of memory queueing a message for other workers");
        } else {
            atomic_init(&m->refs, nremote);
            m->kind = kind;
            m->chlen = chlen;
            m->len = len;
            /* Only the origin's worker finds the origin among its clients. */
            m->origin = cur.slot ? cur.c : NULL;
            m->oslot = cur.slot;
            m->data = (char *)m + head;
            if (chlen)
                memcpy(m->data, channel, chlen);
            if (len)
                memcpy(m->data + chlen, msg, len);
            unsigned k = 0;
            for (unsigned j = 0; j < reg.nworkers; j++) {
                if (j == self || !(dest[j / 64] >> (j % 64) & 1))
                    continue;
                m->nodes[k].m = m;
                inbox_put(self, j, &m->nodes[k++], m->oslot != NULL);
            }
        }
    }
    if (w && (dest[self / 64] >> (self % 64) & 1)) {
        /* What other workers queued here before comes first: a message
         * published after them (an event of a key whose earlier event
         * another worker published) must not overtake them. */
        pubsub_catch_up(w);
        deliver(&locals[self], kind, channel, chlen, msg, len);
    }
    return total;
}

/* ---- Introspection ----------------------------------------------------- */

long long pubsub_numsub(enum pubsub_kind kind, const char *name, size_t len)
{
    pthread_mutex_t *lk = read_lock();
    struct psmap_ent *pe = psmap_find(&reg.names[kind], name, len);
    long long n = pe ? ((const struct reg_ent *)pe->val)->total : 0;
    pthread_mutex_unlock(lk);
    return n;
}

long long pubsub_count(enum pubsub_kind kind)
{
    if (!reg.locks)
        return 0;
    pthread_mutex_t *lk = read_lock();
    long long n = (long long)reg.names[kind].n;
    pthread_mutex_unlock(lk);
    return n;
}

void pubsub_list(enum pubsub_kind kind, const char *pat, size_t plen, struct rbuf *out)
{
    struct rbuf body;
    rbuf_init(&body);
    size_t n = 0;
    pthread_mutex_t *lk = read_lock();
    const struct psmap *m = &reg.names[kind];
    for (struct psmap_ent *e = psmap_next(m, NULL); e; e = psmap_next(m, e)) {
        if (pat && !pubsub_match(pat, plen, e->key, e->len))
            continue;
        resp_bulk(&body, e->key, e->len);
        n++;
    }
    pthread_mutex_unlock(lk);
    if (body.oom) {
        resp_error(out, "ERR out of memory");
    } else {
        resp_array(out, n);
        rbuf_append(out, body.ptr, body.len);
    }
    rbuf_deinit(&body);
}
