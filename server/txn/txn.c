/* txn.c — VLL-style transactions across shards (see txn.h for the whole
 * protocol): the global sequencer, each shard's queue of scheduled
 * transactions and FIFO of held requests, and the messages between a
 * transaction's coordinator (a worker thread) and its shards. The lock
 * table is txn_locks.c, the WATCH tables txn_watch.c. Shard state is
 * touched only by its owner thread, a coordinator's only by its own. */
#include "server/txn/txn.h"

#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/hash.h"
#include "server/exec/req.h"
#include "server/util/log.h"
#include "server/core/server.h"
#include "server/txn/txn_watch.h"
#include "server/net/worker.h"
#include "shard/shard.h"

/* The routing layer's functions (txn_set_route). */
static struct txn_route route;

void txn_set_route(const struct txn_route *r)
{
    route = *r;
}

/* Slots the per-shard client table starts with; it doubles when half
 * full. */
#define TXN_TABLE_MIN 16

/* ---- Coordinator and shard structures -------------------------------------- */

/* One key a transaction locks on one shard. Bytes live in the part's kbuf. */
struct txn_key {
    uint64_t hash;  /* txn_locks_hash(db, key) */
    size_t off;     /* offset of the bytes in kbuf */
    size_t len;     /* key length */
    unsigned db;    /* database */
    bool excl;      /* exclusive (write) intent */
};

struct txn_hop;

/* A transaction's share on one shard. Made by the coordinator, handed to
 * the shard with SCHEDULE (the shard then owns the queue links and pending
 * hops), freed by the shard at CONCLUDE. */
struct txn_part {
    struct mbox_msg msg;        /* SCHEDULE / ACK / CONCLUDE; must be first */
    struct txn *t;              /* coordinator state (coordinator thread only) */
    unsigned origin;            /* coordinator's shard, where ACK goes */
    uint64_t id;                /* the transaction's place in the global order */
    unsigned shard;             /* this part's shard */
    bool all;                   /* shard-wide lock */
    bool all_excl;              /* ... exclusive */
    bool fallback;              /* the lock table had no memory: the keys are
                                   held as a shard-wide lock instead */
    bool fallback_excl;         /* ... exclusive */
    struct txn_key *keys;       /* keys locked here */
    size_t nkeys, kcap;         /* count and allocation */
    char *kbuf;                 /* their bytes */
    size_t klen, kbcap;         /* bytes used and allocated */
    struct txn_part *qnext;     /* shard queue, in id order (shard thread) */
    struct txn_part *qprev;     /* previous in the shard queue */
    bool stepped;               /* it has run a step (hop) here: until it
                                   concludes, nothing may run between its
                                   steps on its keys */
    struct txn_hop *pend_head;  /* hops waiting for this part to head the queue */
    struct txn_hop *pend_tail;  /* last of them, for appending */
    unsigned local_posted;      /* hops posted to the coordinator's own shard
                                   and not run yet (txn_run_here; that
                                   thread only) */
    /* One-shot transactions (txn_start_oneshot) only: */
    struct txn_gate *gate;      /* shared by its parts, NULL otherwise */
    void (*os_fn)(struct shard *s, void *arg); /* this shard's work */
    void *os_arg;               /* its argument */
    bool os_ready;              /* every part holds its locks (shard thread) */
    bool os_ran;                /* os_fn has run (local-first, txn_start_oneshot):
                                   only the conclude is left */
    bool os_keep;               /* keeps its locks after os_fn until the
                                   coordinator releases them (kept) */
    bool os_kept;               /* os_fn has run; the locks wait for the release */
    bool os_released;           /* the release came first: conclude once run */
    struct mbox_msg rel_msg;    /* the release (msg may still carry the GO) */
    /* Started by txn_start_reserved on this part's shard: */
    bool reserved;              /* its SCHEDULE is on its way: on the shard's
                                   reserved list, its locks count already */
    struct txn_part *rnext;     /* reserved list link (shard thread) */
};

/* What the parts of a one-shot transaction share: how many of them hold
 * their locks. The part that completes the count tells the others (GO, on
 * their own part's message, free once its SCHEDULE was handled); none runs
 * before that, which is what makes the transaction atomic without an
 * acknowledgement round trip to the coordinator. */
struct txn_gate {
    _Atomic unsigned locked;    /* parts whose SCHEDULE has been handled */
    _Atomic unsigned refs;      /* parts not yet run, and the coordinator
                                   until txn_oneshot_release when kept; the
                                   last frees the gate */
    unsigned n;                 /* parts */
    struct txn_part *parts[];   /* every part, for the GO messages */
};

/* One request (or function) a transaction runs on one shard. */
struct txn_hop {
    struct mbox_msg msg;            /* RUN, then DONE back; must be first */
    struct txn_part *p;             /* the part on the target shard */
    unsigned origin;                /* coordinator's shard */
    struct req *r;                  /* the request, or NULL with fn */
    void (*done)(struct req *r);    /* completion on the coordinator */
    void (*fn)(struct shard *s, void *arg); /* txn_all_shards's function */
    void *arg;                      /* its argument */
    bool conclude;                  /* conclude the part right after running */
    struct txn_all *all;            /* txn_all_shards state, with fn */
    struct txn_hop *next;           /* pending list link */
};

/* The coordinator's view of a transaction (its thread only). */
struct txn {
    unsigned origin;              /* coordinator's worker/shard */
    struct txn_part **parts;      /* per shard, NULL when not involved (or
                                     already concluded by a hop) */
    unsigned nparts;              /* involved shards */
    unsigned acks;                /* SCHEDULEs not acknowledged yet */
    bool started;                 /* txn_start done */
    void (*ready)(void *arg);     /* all locks held */
    void *ready_arg;              /* its argument */
};

/* A client with requests held on a shard: how many, and whether one of
 * them could not run in the current pump pass (then its later ones wait
 * too, keeping the client's order). */
struct client_ent {
    const void *client;  /* identity (the conn pointer), NULL = free slot */
    uint32_t held;       /* its requests in the held FIFO */
    uint32_t pass;       /* last pump pass in which one of them stayed */
};

/* Everything one shard keeps (owner thread only). */
struct tshard {
    uint64_t posted;              /* SCHEDULEs posted to this shard; under
                                     seq_lock */
    uint64_t seen;                /* SCHEDULEs it has handled (owner thread):
                                     while equal to posted, nothing older
                                     than the next id is on its way here */
    struct txn_locks locks;       /* intent locks of scheduled transactions */
    unsigned all_shared;          /* shard-wide shared locks */
    unsigned all_excl;            /* shard-wide exclusive locks */
    struct txn_part *qhead;       /* scheduled transactions, in id order */
    struct txn_part *qtail;       /* the newest one */
    size_t nqueued;               /* entries in the queue */
    uint64_t last_id;             /* id of the last transaction scheduled here */
    struct req *held_head;        /* requests waiting behind locks, FIFO */
    struct req *held_tail;        /* the newest one */
    size_t nheld;                 /* entries in the FIFO */
    size_t nuncounted;            /* of those, not counted in cm (no memory) */
    bool pumping;                 /* inside pump (no re-entry) */
    uint32_t swept;               /* held requests txn_held_sweep took out,
                                     ever: pump looks again from the head
                                     when its run of one changed it */
    struct client_ent *cm;        /* clients with held requests (open
                                     addressing, linear probing) */
    size_t cmcap;                 /* slots in cm (a power of two, or 0) */
    size_t cmn;                   /* clients in cm */
    uint32_t pass;                /* pump pass number, for client_ent.pass */
    struct txn_part *running;     /* the one-shot part whose work runs now,
                                     holding its locks (run_oneshot) */
    bool concluded;               /* a part that ran steps concluded, and
                                     pump has not settled since */
    bool held_in;                 /* pump runs a held request now, */
    uint64_t held_in_upto;        /* which follows the transactions up to
                                     this id */
    struct txn_part *reserved;    /* parts this shard started whose SCHEDULE
                                     is still on its way (txn_start_reserved) */
};

static struct tshard *tshards;
static pthread_once_t tshards_once = PTHREAD_ONCE_INIT;

/* The global sequencer: id assignment and SCHEDULE posting under one lock,
 * so every mailbox sees transactions in id order. */
static pthread_mutex_t seq_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t seq_next = 1;

static void tshards_init(void)
{
    tshards = calloc(server.nworkers, sizeof *tshards);
    if (!tshards) {
        /* A few hundred bytes on the first command: no server without. */
        log_warn("Out of memory for the transaction tables");
        abort();
    }
}

static struct tshard *tsh(struct shard *s)
{
    pthread_once(&tshards_once, tshards_init);
    return &tshards[s->id];
}

struct txn_busy txn_busy_[TXN_MAX_SHARDS];

/* Keep s's txn_busy_ flag true to its queue and held list. */
static void busy_note(const struct shard *s, const struct tshard *ts)
{
    txn_busy_[s->id].any = ts->nqueued > 0 || ts->held_head != NULL || ts->reserved != NULL;
}

static bool is_write(const struct cmd_def *d)
{
    return !(d->flags & CMD_READONLY);
}

/* Does part p (a scheduled transaction) conflict with command d (argv in
 * database db)? A keyless command conflicts with every part when keyless
 * is set (SCAN, FLUSHDB on one shard wait for all), with none otherwise. */
static bool part_conflicts_cmd(const struct txn_part *p, const struct cmd_def *d, unsigned db,
                               size_t argc, const struct resp_arg *argv, bool keyless)
{
    bool write = is_write(d);
    if (p->all && (p->all_excl || write))
        return true;
    if (p->fallback && (p->fallback_excl || write))
        return true;
    struct cmd_keys it;
    if (cmd_keys_init(&it, d, argc, argv) <= 0)
        return keyless;
    size_t i;
    uint16_t flags;
    while (cmd_keys_next(&it, &i, &flags)) {
        const struct resp_arg *k = &argv[i];
        uint64_t h = txn_locks_hash(db, k->ptr, k->len);
        bool kw = cmd_key_writes(flags);
        for (size_t j = 0; j < p->nkeys; j++) {
            const struct txn_key *pk = &p->keys[j];
            if (pk->hash == h && pk->db == db && pk->len == k->len &&
                memcmp(p->kbuf + pk->off, k->ptr, k->len) == 0 && (pk->excl || kw))
                return true;
        }
    }
    return false;
}

/* The newest part reserved on ts (its SCHEDULE on its way) that command d
 * conflicts with: its id, 0 if none. Keyless commands touch no key. */
static uint64_t reserved_conflict(const struct tshard *ts, const struct cmd_def *d, unsigned db,
                                  size_t argc, const struct resp_arg *argv)
{
    uint64_t id = 0;
    for (const struct txn_part *p = ts->reserved; p; p = p->rnext)
        if (p->id > id && part_conflicts_cmd(p, d, db, argc, argv, false))
            id = p->id;
    return id;
}

/* Free a part that no shard queue links any more. */
static void part_free(struct txn_part *p)
{
    free(p->keys);
    free(p->kbuf);
    free(p);
}

/* ---- Shard side: may run, hold, pump ---------------------------------------- */

/* The slot of client in ts->cm (its entry, or the free slot it would
 * take). cm must exist and have a free slot. */
static size_t client_slot(const struct tshard *ts, const void *client)
{
    size_t mask = ts->cmcap - 1;
    size_t i = (size_t)(((uintptr_t)client >> 4) * 0x9e3779b97f4a7c15u) & mask;
    while (ts->cm[i].client && ts->cm[i].client != client)
        i = (i + 1) & mask;
    return i;
}

static struct client_ent *client_find(const struct tshard *ts, const void *client)
{
    if (ts->cmn == 0 || !client)
        return NULL;
    struct client_ent *e = &ts->cm[client_slot(ts, client)];
    return e->client ? e : NULL;
}

/* Count one more held request of client; false on out-of-memory. */
static bool client_add(struct tshard *ts, const void *client)
{
    if (!client)
        return false;
    if ((ts->cmn + 1) * 2 > ts->cmcap) {
        size_t ncap = ts->cmcap ? ts->cmcap * 2 : TXN_TABLE_MIN;
        struct client_ent *old = ts->cm, *cm = calloc(ncap, sizeof *cm);
        if (!cm)
            return false;
        size_t ocap = ts->cmcap;
        ts->cm = cm;
        ts->cmcap = ncap;
        for (size_t i = 0; i < ocap; i++)
            if (old[i].client)
                ts->cm[client_slot(ts, old[i].client)] = old[i];
        free(old);
    }
    struct client_ent *e = &ts->cm[client_slot(ts, client)];
    if (!e->client) {
        e->client = client;
        e->held = 0;
        e->pass = 0;
        ts->cmn++;
    }
    e->held++;
    return true;
}

/* One held request of client has run; the last one frees its entry
 * (backward-shift deletion keeps probe chains whole). */
static void client_drop(struct tshard *ts, const void *client)
{
    size_t mask = ts->cmcap - 1;
    size_t i = client_slot(ts, client);
    assert(ts->cm[i].client == client && ts->cm[i].held > 0);
    if (--ts->cm[i].held > 0)
        return;
    ts->cmn--;
    size_t j = i;
    for (;;) {
        ts->cm[i].client = NULL;
        for (;;) {
            j = (j + 1) & mask;
            if (!ts->cm[j].client)
                return;
            size_t home =
                (size_t)(((uintptr_t)ts->cm[j].client >> 4) * 0x9e3779b97f4a7c15u) & mask;
            /* Move j back to i unless its home lies cyclically in (i, j]. */
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
                break;
        }
        ts->cm[i] = ts->cm[j];
        i = j;
    }
}

/* Is one of client's requests among the held ones before upto (NULL: all)? */
static bool client_held_before(const struct tshard *ts, const void *client,
                               const struct req *upto)
{
    for (const struct req *h = ts->held_head; h && h != upto; h = h->held_next)
        if (h->conn == client)
            return true;
    return false;
}

static bool client_held(const struct tshard *ts, const void *client)
{
    const struct client_ent *e = client_find(ts, client);
    if (e && e->held > 0)
        return true;
    return ts->nuncounted > 0 && client && client_held_before(ts, client, NULL);
}

/* In the current pump pass, did an earlier request of r's client stay? */
static bool client_blocked(const struct tshard *ts, const struct req *r)
{
    const struct client_ent *e = client_find(ts, r->conn);
    if (e && e->pass == ts->pass)
        return true;
    /* Requests before r still in the FIFO are exactly those that stayed. */
    return ts->nuncounted > 0 && r->conn && client_held_before(ts, r->conn, r);
}

bool txn_may_run_slow(struct shard *s, const struct cmd_def *d, unsigned db, size_t argc,
                      const struct resp_arg *argv, const void *client,
                      const uint64_t *key1_hash)
{
    struct tshard *ts = tsh(s);
    if (ts->nqueued == 0 && !ts->held_head && !ts->reserved)
        return true; /* no transaction here: the common case */
    if (client_held(ts, client))
        return false; /* keep this client's order on this shard */
    if (ts->reserved && reserved_conflict(ts, d, db, argc, argv))
        return false;
    bool write = is_write(d);
    if (ts->all_excl > 0 || (write && ts->all_shared > 0))
        return false;
    struct cmd_keys it;
    if (cmd_keys_init(&it, d, argc, argv) <= 0)
        return ts->nqueued == 0; /* keyless: never between a transaction's steps */
    if (ts->locks.n == 0)
        return true;
    size_t i;
    uint16_t flags;
    bool first = true;
    while (cmd_keys_next(&it, &i, &flags)) {
        uint64_t h = first && key1_hash ? txn_locks_hash_of(db, *key1_hash)
                                        : txn_locks_hash(db, argv[i].ptr, argv[i].len);
        first = false;
        if (txn_locks_conflict_h(&ts->locks, h, db, argv[i].ptr, argv[i].len,
                                 cmd_key_writes(flags)))
            return false;
    }
    return true;
}

/* Does (db, key), h its lock hash, conflict with a lock other than
 * running part p's? */
static bool conflict_beside(const struct tshard *ts, const struct txn_part *p, uint64_t h,
                            unsigned db, const struct resp_arg *key, bool write)
{
    uint32_t nshared, nexcl;
    txn_locks_counts_h(&ts->locks, h, db, key->ptr, key->len, &nshared, &nexcl);
    for (size_t j = 0; j < p->nkeys && !p->fallback; j++) {
        const struct txn_key *pk = &p->keys[j];
        if (pk->hash == h && pk->db == db && pk->len == key->len &&
            memcmp(p->kbuf + pk->off, key->ptr, key->len) == 0)
            --*(pk->excl ? &nexcl : &nshared);
    }
    return nexcl > 0 || (write && nshared > 0);
}

bool txn_stepping_conflict(struct shard *s, const struct cmd_def *d, unsigned db, size_t argc,
                           const struct resp_arg *argv)
{
    /* Only the head runs steps. */
    const struct txn_part *p = tsh(s)->qhead;
    return p && p->stepped && part_conflicts_cmd(p, d, db, argc, argv, true);
}

/* Does command d conflict with a transaction up to id `upto`, scheduled
 * or reserved here? */
static bool conflicts_upto(const struct tshard *ts, const struct cmd_def *d, unsigned db,
                           size_t argc, const struct resp_arg *argv, uint64_t upto)
{
    for (const struct txn_part *p = ts->qhead; p && p->id <= upto; p = p->qnext)
        if (part_conflicts_cmd(p, d, db, argc, argv, true))
            return true;
    for (const struct txn_part *p = ts->reserved; p; p = p->rnext)
        if (p->id <= upto && part_conflicts_cmd(p, d, db, argc, argv, true))
            return true;
    return false;
}

bool txn_may_run_beside(struct shard *s, const struct cmd_def *d, unsigned db, size_t argc,
                        const struct resp_arg *argv)
{
    struct tshard *ts = tsh(s);
    struct txn_part *p = ts->running;
    /* Beside a held request that pump runs, the transactions it follows
     * count, not the later ones: none of those has run here yet (the
     * queue's head runs its steps after the held requests), so a pop now
     * comes right after the request, in its place, as Redis serves right
     * after the command. */
    if (!p && ts->held_in)
        return !conflicts_upto(ts, d, db, argc, argv, ts->held_in_upto) &&
               !txn_stepping_conflict(s, d, db, argc, argv);
    /* Right after a transaction that ran in steps concluded (pump settles
     * before anything runs), the same holds for the transactions left. */
    if (!p && ts->concluded)
        return !txn_stepping_conflict(s, d, db, argc, argv);
    if (!p)
        return txn_may_run(s, d, db, argc, argv, NULL, NULL);
    /* Heading the queue, p comes before every other transaction holding
     * a lock here, and none of those has run on s yet (only the head runs
     * steps; a one-shot that ran ahead of the queue conflicted with
     * nothing and is done): a pop now comes right after p's step, as
     * Redis serves right after the command. */
    if (p == ts->qhead)
        return true;
    if (ts->reserved && reserved_conflict(ts, d, db, argc, argv))
        return false;
    bool write = is_write(d);
    /* Shard-wide locks, less p's own (p->all, or its keys held as one). */
    unsigned all_excl = ts->all_excl, all_shared = ts->all_shared;
    if (p->all)
        --*(p->all_excl ? &all_excl : &all_shared);
    if (p->fallback)
        --*(p->fallback_excl ? &all_excl : &all_shared);
    if (all_excl > 0 || (write && all_shared > 0))
        return false;
    struct cmd_keys it;
    if (cmd_keys_init(&it, d, argc, argv) <= 0)
        return false; /* keyless: never between a transaction's steps */
    size_t i;
    uint16_t flags;
    while (cmd_keys_next(&it, &i, &flags)) {
        uint64_t h = txn_locks_hash(db, argv[i].ptr, argv[i].len);
        if (conflict_beside(ts, p, h, db, &argv[i], cmd_key_writes(flags)))
            return false;
    }
    return true;
}

void txn_hold(struct shard *s, struct req *r, void *ctx)
{
    struct tshard *ts = tsh(s);
    /* Without memory for the count, a slow scan keeps the order. */
    r->held_counted = client_add(ts, r->conn);
    if (!r->held_counted)
        ts->nuncounted++;
    r->held_ctx = ctx;
    /* A reservation's id is newer than every scheduled one: held behind
     * one, r follows every transaction up to it (held_runnable). */
    uint64_t rid = ts->reserved && r->cmd ? reserved_conflict(ts, r->cmd, r->db, r->argc, r->argv)
                                          : 0;
    r->held_upto = rid > ts->last_id ? rid : ts->last_id;
    r->held_next = NULL;
    if (ts->held_tail)
        ts->held_tail->held_next = r;
    else
        ts->held_head = r;
    ts->held_tail = r;
    ts->nheld++;
    busy_note(s, ts);
}

/* May held request r run now: does no transaction that it follows, and
 * that conflicts with it, remain here? It follows those scheduled here
 * before it arrived and, held behind a reservation (txn_start_reserved),
 * every one up to that reservation's id (held_upto): the reservation
 * follows them all, also those whose SCHEDULE was still on its way when r
 * arrived, so r may not run between the rounds of one of them once the
 * reservation is gone (concluded without running, say). (The same
 * client's earlier held requests are checked by the caller.) */
static bool held_runnable(const struct tshard *ts, const struct req *r)
{
    return !conflicts_upto(ts, r->cmd, r->db, r->argc, r->argv, r->held_upto);
}

static void run_hop(struct shard *s, struct txn_hop *h);
static void run_oneshot(struct shard *s, struct txn_part *p);

/* Is every intent on p's keys p's own: may p run ahead of the parts
 * scheduled before it? VLL's rule: a transaction that conflicts with
 * nothing scheduled before it runs at once; its order against those parts
 * cannot be seen, on this shard or (as every shard applies the same rule)
 * on any other. Conservative: later parts' intents count too. */
static bool part_alone(const struct tshard *ts, const struct txn_part *p)
{
    if (p->all || p->fallback || ts->all_excl > 0 || ts->all_shared > 0)
        return false;
    for (size_t i = 0; i < p->nkeys; i++) {
        const struct txn_key *k = &p->keys[i];
        uint32_t ns, nx, own_s = 0, own_x = 0;
        txn_locks_counts_h(&ts->locks, k->hash, k->db, p->kbuf + k->off, k->len, &ns, &nx);
        if (ns + nx == 1)
            continue; /* p's own intent alone: no scan of p's keys (a group
                         of a pipeline's turn locks hundreds) */
        for (size_t j = 0; j < p->nkeys; j++) {
            const struct txn_key *o = &p->keys[j];
            if (o->hash == k->hash && o->db == k->db && o->len == k->len &&
                (k->len == 0 || memcmp(p->kbuf + o->off, p->kbuf + k->off, k->len) == 0))
                ++*(o->excl ? &own_x : &own_s);
        }
        if (nx > own_x || (k->excl && ns > own_s))
            return false;
    }
    return true;
}

/* No scheduled transaction holds an intent on any of p's keys, nor a
 * shard-wide lock (p itself holds none yet). */
static bool part_keys_free(const struct tshard *ts, const struct txn_part *p)
{
    if (p->all || ts->all_excl > 0 || ts->all_shared > 0)
        return false;
    for (size_t i = 0; i < p->nkeys; i++) {
        const struct txn_key *k = &p->keys[i];
        uint32_t ns, nx;
        txn_locks_counts_h(&ts->locks, k->hash, k->db, p->kbuf + k->off, k->len, &ns, &nx);
        if (ns > 0 || nx > 0)
            return false;
    }
    return true;
}

/* A ready one-shot part that may run ahead of the queue (part_alone),
 * not while a request is held (it must not be overtaken). */
static struct txn_part *ready_alone(const struct tshard *ts)
{
    if (ts->held_head)
        return NULL;
    for (struct txn_part *q = ts->qhead ? ts->qhead->qnext : NULL; q; q = q->qnext)
        if (q->gate && q->os_ready && !q->os_kept && part_alone(ts, q))
            return q;
    return NULL;
}

/* Unlink held request r (after prev, or the head) and drop its count. */
static void held_unlink(struct shard *s, struct tshard *ts, struct req *prev, struct req *r)
{
    if (prev)
        prev->held_next = r->held_next;
    else
        ts->held_head = r->held_next;
    if (ts->held_tail == r)
        ts->held_tail = prev;
    ts->nheld--;
    busy_note(s, ts);
    if (r->held_counted)
        client_drop(ts, r->conn);
    else
        ts->nuncounted--;
    r->held_next = NULL;
}

void txn_held_sweep(struct shard *s, bool (*may_take)(const struct req *r),
                    void (*take)(struct shard *s, struct req *r, void *ctx))
{
    struct tshard *ts = tsh(s);
    struct req *prev = NULL, *r = ts->held_head;
    while (r) {
        struct req *next = r->held_next;
        if (may_take(r)) {
            held_unlink(s, ts, prev, r);
            ts->swept++;
            take(s, r, r->held_ctx);
        } else {
            prev = r;
        }
        r = next;
    }
}

/* After a conclude: run the held requests that may go (in FIFO order,
 * never ahead of the same client's earlier ones), then the hops of the new
 * queue head. Every held request that arrived before the head was
 * scheduled is runnable by then (or follows the head: held_upto), so the
 * head never overtakes one. */
static void pump(struct shard *s)
{
    struct tshard *ts = tsh(s);
    if (ts->pumping)
        return;
    ts->pumping = true;
    for (;;) {
        /* What a concluded transaction left for its end (blocked clients
         * it fed) comes before anything that waited for it. */
        cmd_settle(s);
        ts->concluded = false;
        ts->pass++;
        struct req *prev = NULL, *r = ts->held_head;
        while (r) {
            struct req *next = r->held_next;
            if (!client_blocked(ts, r) && held_runnable(ts, r)) {
                held_unlink(s, ts, prev, r);
                bool outer = ts->held_in;
                uint64_t outer_upto = ts->held_in_upto;
                uint32_t swept = ts->swept;
                ts->held_in = true;
                ts->held_in_upto = r->held_upto;
                route.held_run(s, r, r->held_ctx);
                ts->held_in = outer;
                ts->held_in_upto = outer_upto;
                if (ts->swept != swept) {
                    /* A busy script in that run had requests taken out
                     * (txn_held_sweep): prev and next may be gone. */
                    prev = NULL;
                    next = ts->held_head;
                }
            } else {
                struct client_ent *e = client_find(ts, r->conn);
                if (e)
                    e->pass = ts->pass; /* its later requests stay too */
                prev = r;
            }
            r = next;
        }
        /* One hop of the head, then look again: a hop that concludes its
         * part makes the next part the head, and requests held behind the
         * old head go first. */
        struct txn_part *p = ts->qhead;
        if (p && p->gate && p->os_ready && !p->os_kept) {
            run_oneshot(s, p);
            continue;
        }
        if (p && (p->gate || !p->pend_head)) {
            /* The head waits (for another shard's lock, for its
             * coordinator, or, kept, for its release): a ready one-shot
             * part behind it that shares
             * no key with any other scheduled transaction goes first. */
            struct txn_part *q = ready_alone(ts);
            if (!q)
                break;
            run_oneshot(s, q);
            continue;
        }
        if (!p)
            break;
        struct txn_hop *h = p->pend_head;
        p->pend_head = h->next;
        if (!p->pend_head)
            p->pend_tail = NULL;
        run_hop(s, h);
    }
    ts->pumping = false;
}

/* ---- Shard side: SCHEDULE, hops, CONCLUDE ------------------------------------ */

static void on_ack(void *owner, struct mbox_msg *m);

/* GO: every part of p's one-shot transaction holds its locks. */
static void on_go(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    struct txn_part *p = (struct txn_part *)m;
    p->os_ready = true;
    pump(s);
}

/* Count part p of a one-shot transaction in its gate; true if it is the
 * last part to get there. A part that is not the last then touches nothing
 * of the gate or of the other parts (the last one may be posting GO
 * already); its own fields other than msg stay its shard's. */
static bool oneshot_count(struct txn_part *p)
{
    struct txn_gate *g = p->gate;
    return atomic_fetch_add_explicit(&g->locked, 1, memory_order_acq_rel) + 1 == g->n;
}

/* p is the last part of its transaction to be counted: every other part
 * holds its locks; let them go. */
static void oneshot_go_others(struct txn_part *p)
{
    struct txn_gate *g = p->gate;
    for (unsigned i = 0; i < g->n; i++) {
        struct txn_part *q = g->parts[i];
        if (q == p)
            continue;
        q->msg.handle = on_go;
        shard_post(shard_group_get(server.group, q->shard), &q->msg);
    }
}

/* Drop p's reference on its gate; the last frees it. */
static void oneshot_unref(struct txn_gate *g)
{
    if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
        free(g);
}

static void conclude(struct shard *s, struct txn_part *p);

/* Run a ready one-shot part at the head of s's queue, then release its
 * locks there (pump's caller goes on with what waited for them), or, kept
 * and not released yet, keep them until the release (on_release). */
static void run_oneshot(struct shard *s, struct txn_part *p)
{
    assert(p->os_ready && !p->os_kept);
    struct txn_gate *g = p->gate;
    if (!p->os_ran) {
        struct tshard *ts = tsh(s);
        ts->running = p;
        p->os_fn(s, p->os_arg);
        ts->running = NULL;
    }
    if (p->os_keep && !p->os_released)
        p->os_kept = true;
    else
        conclude(s, p);
    oneshot_unref(g);
}

/* The coordinator releases a kept part's locks (txn_oneshot_release). */
static void on_release(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    struct txn_part *p = (struct txn_part *)(void *)((char *)m - offsetof(struct txn_part, rel_msg));
    if (!p->os_kept) {
        /* Not run yet (a part without work, or the coordinator's own one
         * before its GO): it concludes as soon as it has. */
        p->os_released = true;
        return;
    }
    conclude(s, p);
    pump(s);
}

/* Take p's locks on s and append it to s's queue (its id is the newest
 * scheduled here). */
static void part_enqueue(struct shard *s, struct txn_part *p)
{
    struct tshard *ts = tsh(s);
    for (size_t i = 0; i < p->nkeys && !p->fallback; i++) {
        struct txn_key *k = &p->keys[i];
        if (txn_locks_acquire_h(&ts->locks, k->hash, k->db, p->kbuf + k->off, k->len,
                                k->excl) != 0) {
            /* No memory for an entry: give back what was taken and hold
             * the shard instead (a counter, which cannot fail). */
            for (size_t j = 0; j < i; j++)
                txn_locks_release_h(&ts->locks, p->keys[j].hash, p->keys[j].db,
                                    p->kbuf + p->keys[j].off, p->keys[j].len, p->keys[j].excl);
            p->fallback = true;
            for (size_t j = 0; j < p->nkeys; j++)
                p->fallback_excl |= p->keys[j].excl;
        }
    }
    if (p->all)
        ++*(p->all_excl ? &ts->all_excl : &ts->all_shared);
    if (p->fallback)
        ++*(p->fallback_excl ? &ts->all_excl : &ts->all_shared);
    p->qnext = NULL;
    p->qprev = ts->qtail;
    if (ts->qtail)
        ts->qtail->qnext = p;
    else
        ts->qhead = p;
    ts->qtail = p;
    ts->nqueued++;
    ts->last_id = p->id;
    busy_note(s, ts);
}

static void on_schedule(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    struct tshard *ts = tsh(s);
    struct txn_part *p = (struct txn_part *)m;
    assert(p->id > ts->last_id); /* the sequencer's order */
    ts->seen++;
    if (p->reserved) {
        /* Its locks take over from the reservation. */
        struct txn_part **pp = &ts->reserved;
        while (*pp != p)
            pp = &(*pp)->rnext;
        *pp = p->rnext;
        p->reserved = false;
        busy_note(s, ts); /* (a one-shot part may run below and never queue) */
    }
    /* A one-shot part on a shard with nothing held, and nothing queued or
     * nothing locked on its keys (it may then run ahead of the queue, as
     * part_alone explains), counts itself first: if it is the last of its
     * transaction, every other part holds its locks and this one runs now,
     * so it needs no locks of its own (nothing else runs on this thread
     * meanwhile). If it is not the last, it takes its locks below before
     * this handler returns, so before this shard runs anything else, the
     * GO of the last part included. */
    bool counted = false;
    if (p->gate && !p->os_keep && !ts->held_head &&
        (ts->nqueued == 0 || part_keys_free(ts, p))) {
        counted = true;
        if (oneshot_count(p)) {
            struct txn_gate *g = p->gate;
            ts->last_id = p->id;
            oneshot_go_others(p);
            p->os_fn(s, p->os_arg);
            part_free(p);
            oneshot_unref(g);
            return;
        }
    }
    part_enqueue(s, p);
    if (p->gate) {
        /* The last part to be counted lets the others go and runs. */
        if (!counted && oneshot_count(p)) {
            oneshot_go_others(p);
            p->os_ready = true;
            pump(s);
        }
        return;
    }
    p->msg.handle = on_ack;
    shard_post(shard_group_get(server.group, p->origin), &p->msg);
}

/* Release p's locks, drop it from the queue, free it. (Its writes marked
 * their watchers as they ran: cmd_key_modified.) */
static void conclude(struct shard *s, struct txn_part *p)
{
    struct tshard *ts = tsh(s);
    if (p->stepped)
        ts->concluded = true;
    if (!p->fallback) {
        for (size_t i = 0; i < p->nkeys; i++) {
            struct txn_key *k = &p->keys[i];
            txn_locks_release_h(&ts->locks, k->hash, k->db, p->kbuf + k->off, k->len, k->excl);
        }
    } else {
        --*(p->fallback_excl ? &ts->all_excl : &ts->all_shared);
    }
    if (p->all)
        --*(p->all_excl ? &ts->all_excl : &ts->all_shared);
    if (p->qprev)
        p->qprev->qnext = p->qnext;
    else
        ts->qhead = p->qnext;
    if (p->qnext)
        p->qnext->qprev = p->qprev;
    else
        ts->qtail = p->qprev;
    ts->nqueued--;
    busy_note(s, ts);
    assert(!p->pend_head);
    part_free(p);
}

static void on_conclude(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    conclude(s, (struct txn_part *)m);
    pump(s);
}

static void on_hop_done(void *owner, struct mbox_msg *m);

/* Run request r of the part heading s's queue. */
static void run_part_req(struct shard *s, struct req *r)
{
    struct cmd_ctx ctx = {
        .shard = s,
        .db = shard_db(s, r->db),
        .dbidx = r->db,
        .proto = r->proto,
        .argc = r->argc,
        .argv = r->argv,
        .out = &r->out,
        .now_ms = clock_wall_ms(),
        .priv = r,
        .conn = NULL,
        .origin = r->conn,
        .events = r->fan ? &r->events : NULL,
    };
    cmd_call_part(r->cmd, r->exec, &ctx);
    route.reply_made(s, r); /* output buffer limit (outbuf.h) */
}

static void run_hop(struct shard *s, struct txn_hop *h)
{
    struct txn_part *p = h->p;
    assert(tsh(s)->qhead == p);
    p->stepped = true;
    if (h->r) {
        if (p->shard == h->origin)
            p->local_posted--; /* (txn_send counted it) */
        run_part_req(s, h->r);
    } else {
        h->fn(s, h->arg);
    }
    if (h->conclude)
        conclude(s, p); /* the next part may now head the queue: pump */
    h->msg.handle = on_hop_done;
    shard_post(shard_group_get(server.group, h->origin), &h->msg);
}

static void on_hop(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    struct tshard *ts = tsh(s);
    struct txn_hop *h = (struct txn_hop *)m;
    struct txn_part *p = h->p;
    if (ts->qhead == p && !p->pend_head) {
        bool concluding = h->conclude; /* h is the coordinator's once run */
        run_hop(s, h);
        if (concluding) /* p is gone: the next part may head the queue */
            pump(s);
        return;
    }
    h->next = NULL;
    if (p->pend_tail)
        p->pend_tail->next = h;
    else
        p->pend_head = h;
    p->pend_tail = h;
}

/* ---- Coordinator side ---------------------------------------------------------- */

struct txn *txn_create(void)
{
    struct worker *w = worker_current();
    assert(w);
    return txn_create_for(w->id);
}

struct txn *txn_create_for(unsigned origin)
{
    assert(origin < server.nworkers);
    struct txn *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->parts = calloc(server.nworkers, sizeof *t->parts);
    if (!t->parts) {
        free(t);
        return NULL;
    }
    t->origin = origin;
    return t;
}

static struct txn_part *part_get(struct txn *t, unsigned shard)
{
    struct txn_part *p = t->parts[shard];
    if (p)
        return p;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->t = t;
    p->origin = t->origin;
    p->shard = shard;
    t->parts[shard] = p;
    t->nparts++;
    return p;
}

int txn_lock_key(struct txn *t, unsigned db, const void *key, size_t len, bool exclusive)
{
    uint64_t h = hash_key(key, len);
    return txn_lock_key_hashed(t, db, key, len, exclusive, h,
                               shard_group_route_hash(server.group, h));
}

int txn_lock_key_hashed(struct txn *t, unsigned db, const void *key, size_t len, bool exclusive,
                        uint64_t key_hash, unsigned shard)
{
    assert(!t->started);
    struct txn_part *p = part_get(t, shard);
    if (!p)
        return -1;
    if (p->nkeys == p->kcap) {
        size_t ncap = p->kcap ? p->kcap * 2 : 4;
        struct txn_key *k = realloc(p->keys, ncap * sizeof *k);
        if (!k)
            return -1;
        p->keys = k;
        p->kcap = ncap;
    }
    if (len > p->kbcap - p->klen) {
        size_t ncap = p->kbcap ? p->kbcap : 64;
        while (ncap - p->klen < len) {
            if (ncap > SIZE_MAX / 2)
                return -1;
            ncap *= 2;
        }
        char *b = realloc(p->kbuf, ncap);
        if (!b)
            return -1;
        p->kbuf = b;
        p->kbcap = ncap;
    }
    struct txn_key *k = &p->keys[p->nkeys++];
    k->hash = txn_locks_hash_of(db, key_hash);
    k->off = p->klen;
    k->len = len;
    k->db = db;
    k->excl = exclusive;
    if (len)
        memcpy(p->kbuf + p->klen, key, len);
    p->klen += len;
    return 0;
}

int txn_join(struct txn *t, unsigned shard)
{
    assert(!t->started && shard < server.nworkers);
    return part_get(t, shard) ? 0 : -1;
}

int txn_lock_all(struct txn *t, bool exclusive)
{
    assert(!t->started);
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct txn_part *p = part_get(t, i);
        if (!p)
            return -1;
        p->all = true;
        p->all_excl |= exclusive;
    }
    return 0;
}

static void txn_free(struct txn *t)
{
    free(t->parts);
    free(t);
}

static void on_ack(void *owner, struct mbox_msg *m)
{
    (void)owner;
    struct txn_part *p = (struct txn_part *)m;
    struct txn *t = p->t;
    assert(t->acks > 0);
    if (--t->acks == 0)
        t->ready(t->ready_arg);
}

/* Give t's parts the next id and post their SCHEDULEs, under seq_lock so
 * that every mailbox receives transactions in id order; with reserve (the
 * calling thread's shard), t's part there is reserved first. */
static void post_schedules(struct txn *t, struct shard *reserve)
{
    pthread_mutex_lock(&seq_lock);
    uint64_t id = seq_next++;
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct txn_part *p = t->parts[i];
        if (!p)
            continue;
        p->id = id;
        p->msg.handle = on_schedule;
        if (reserve && i == reserve->id) {
            /* Ours until its SCHEDULE is handled, which is on this thread. */
            struct tshard *ts = tsh(reserve);
            p->reserved = true;
            p->rnext = ts->reserved;
            ts->reserved = p;
        }
        tshards[i].posted++;
        shard_post(shard_group_get(server.group, i), &p->msg);
    }
    pthread_mutex_unlock(&seq_lock);
}

int txn_start(struct txn *t, void (*ready)(void *arg), void *arg)
{
    pthread_once(&tshards_once, tshards_init);
    assert(!t->started);
    t->started = true;
    t->ready = ready;
    t->ready_arg = arg;
    t->acks = t->nparts;
    if (t->nparts == 0) {
        ready(arg);
        return 0;
    }
    /* Requests this worker batched earlier in this loop turn (the same
     * client's pipelined commands before this one, say) must reach their
     * shards before the SCHEDULE does. */
    struct worker *w = worker_current();
    if (w)
        route.flush_batches(w);
    post_schedules(t, NULL);
    return 0;
}

int txn_start_reserved(struct txn *t, struct shard *s, void (*ready)(void *arg), void *arg)
{
    pthread_once(&tshards_once, tshards_init);
    assert(!t->started && t->parts[s->id]);
    t->started = true;
    t->ready = ready;
    t->ready_arg = arg;
    t->acks = t->nparts;
    post_schedules(t, s);
    busy_note(s, tsh(s));
    return 0;
}

int txn_start_reserved_oneshot(struct txn *t, struct shard *s,
                               void (*fn)(struct shard *s, void *arg), void *arg)
{
    pthread_once(&tshards_once, tshards_init);
    struct txn_part *p = t->parts[s->id];
    assert(!t->started && p && t->nparts == 1);
    struct txn_gate *g = malloc(sizeof *g + sizeof g->parts[0]);
    if (!g) {
        txn_finish(t); /* never started: frees the part */
        return -1;
    }
    atomic_init(&g->locked, 0);
    atomic_init(&g->refs, 1);
    g->n = 1;
    g->parts[0] = p;
    p->gate = g;
    p->os_fn = fn;
    p->os_arg = arg;
    t->started = true;
    post_schedules(t, s);
    txn_free(t);
    busy_note(s, tsh(s));
    return 0;
}

/* May the coordinator run part p of a one-shot transaction on its own
 * shard s now, under seq_lock, before the other parts even hold their
 * locks? It takes p's locks first and keeps them until the last other part
 * is counted (its GO), so whoever sees p's effects on s can only then look
 * at the other shards, whose parts run before they handle anything else
 * or hold their locks until they do. Running ahead of the queue is VLL's
 * rule for a transaction that conflicts with nothing scheduled before it:
 * no SCHEDULE older than p may be on its way to s (posted == seen; p's is
 * the next id), no lock on s may conflict with p's, and nothing may be held
 * (a held request waits for its order). Then the local half of a pipeline
 * spanning shards runs while the remote half travels, as plain commands
 * did before program order. */
static bool local_first_ok(struct shard *s, const struct txn_part *p)
{
    struct tshard *ts = tsh(s);
    if (ts->posted != ts->seen || ts->held_head || p->all)
        return false;
    bool excl = false;
    for (size_t i = 0; i < p->nkeys; i++)
        excl |= p->keys[i].excl;
    if (ts->all_excl > 0 || (excl && ts->all_shared > 0))
        return false;
    for (size_t i = 0; i < p->nkeys; i++) {
        const struct txn_key *k = &p->keys[i];
        if (txn_locks_conflict_h(&ts->locks, k->hash, k->db, p->kbuf + k->off, k->len, k->excl))
            return false;
    }
    return true;
}

int txn_start_oneshot(struct txn *t, void (*fn)(struct shard *s, void *arg), void *const *args,
                      struct txn_gate **kept)
{
    return txn_start_oneshot_own(t, fn, fn, args, kept);
}

int txn_start_oneshot_own(struct txn *t, void (*fn)(struct shard *s, void *arg),
                          void (*own_fn)(struct shard *s, void *arg), void *const *args,
                          struct txn_gate **kept)
{
    pthread_once(&tshards_once, tshards_init);
    assert(!t->started && t->nparts > 0);
    struct txn_gate *g = malloc(sizeof *g + t->nparts * sizeof g->parts[0]);
    if (!g) {
        txn_finish(t); /* never started: frees the parts */
        return -1;
    }
    atomic_init(&g->locked, 0);
    atomic_init(&g->refs, t->nparts + (kept != NULL));
    g->n = 0;
    struct worker *w = worker_current();
    struct shard *self = w ? w->shard : NULL;
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct txn_part *p = t->parts[i];
        if (!p)
            continue;
        p->gate = g;
        p->os_fn = self && i == self->id ? own_fn : fn;
        p->os_arg = args[i];
        p->os_keep = kept != NULL;
        g->parts[g->n++] = p;
    }
    if (kept)
        *kept = g; /* (before any part can run) */
    t->started = true;
    /* The coordinator's own shard may run its part at once (local first):
     * see local_first_ok. */
    struct txn_part *mine = self && g->n > 1 ? t->parts[self->id] : NULL;
    /* From the first post on, the parts belong to their shards. */
    pthread_mutex_lock(&seq_lock);
    uint64_t id = seq_next++;
    for (unsigned i = 0; i < g->n; i++)
        g->parts[i]->id = id;
    if (mine && !local_first_ok(self, mine))
        mine = NULL;
    if (mine) {
        /* As its SCHEDULE would, but now: counted first, so never the last. */
        part_enqueue(self, mine);
        bool last = oneshot_count(mine);
        assert(!last);
        (void)last;
    }
    /* No part runs before the last is posted, and then g may be freed at
     * any time: nothing of it is read after that post (mine is this
     * thread's until it has run: its GO is handled after this returns). */
    unsigned n = g->n;
    for (unsigned i = 0; i < n; i++) {
        struct txn_part *p = g->parts[i];
        if (p == mine)
            continue;
        p->msg.handle = on_schedule;
        tshards[p->shard].posted++;
        shard_post(shard_group_get(server.group, p->shard), &p->msg);
    }
    pthread_mutex_unlock(&seq_lock);
    txn_free(t);
    if (mine) {
        struct tshard *ts = tsh(self);
        ts->running = mine;
        mine->os_fn(self, mine->os_arg);
        ts->running = NULL;
        mine->os_ran = true;
    }
    return 0;
}

void txn_oneshot_release(struct txn_gate *g)
{
    struct worker *w = worker_current();
    struct shard *self = w ? w->shard : NULL;
    struct txn_part *own = NULL;
    /* Every part lives until its release is handled, and g until the
     * coordinator's reference is dropped below. */
    for (unsigned i = 0; i < g->n; i++) {
        struct txn_part *p = g->parts[i];
        if (self && p->shard == self->id) {
            own = p;
            continue;
        }
        p->rel_msg.handle = on_release;
        shard_post(shard_group_get(server.group, p->shard), &p->rel_msg);
    }
    oneshot_unref(g);
    if (own)
        on_release(self, &own->rel_msg); /* this thread's shard: no trip */
}

static void on_hop_done(void *owner, struct mbox_msg *m);

int txn_send(struct txn *t, struct req *r, void (*done)(struct req *r), bool conclude)
{
    struct txn_part *p = r->shard < server.nworkers ? t->parts[r->shard] : NULL;
    assert(p && t->started && t->acks == 0);
    struct txn_hop *h = p ? calloc(1, sizeof *h) : NULL;
    if (!h) {
        r->out.oom = true;
        return -1;
    }
    h->p = p;
    h->origin = t->origin;
    h->r = r;
    h->done = done;
    h->conclude = conclude;
    if (conclude)
        t->parts[r->shard] = NULL; /* the hop concludes it there */
    h->msg.handle = on_hop;
    if (r->shard == t->origin)
        p->local_posted++;
    shard_post(shard_group_get(server.group, r->shard), &h->msg);
    return 0;
}

bool txn_run_here(struct txn *t, struct req *r)
{
    struct txn_part *p = r->shard < server.nworkers ? t->parts[r->shard] : NULL;
    assert(p && t->started && t->acks == 0);
    if (r->shard != t->origin || p->local_posted || p->pend_head)
        return false;
    struct shard *s = shard_group_get(server.group, r->shard);
    if (tsh(s)->qhead != p)
        return false;
    p->stepped = true;
    run_part_req(s, r);
    return true;
}

void txn_finish(struct txn *t)
{
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct txn_part *p = t->parts[i];
        if (!p)
            continue;
        if (!t->started) {
            part_free(p);
            continue;
        }
        p->msg.handle = on_conclude;
        shard_post(shard_group_get(server.group, i), &p->msg);
    }
    txn_free(t);
}

/* ---- txn_all_shards ------------------------------------------------------------ */

struct txn_all {
    struct txn *t;                          /* the transaction */
    void (*fn)(struct shard *s, void *arg); /* what each shard runs */
    void *arg;                              /* fn's argument */
    void (*done)(void *done_arg);           /* when every shard has run fn */
    void *done_arg;                         /* its argument */
    unsigned left;                          /* shards not back yet */
    struct txn_hop **hops;                  /* preallocated, one per shard */
};

static void all_ready(void *arg)
{
    struct txn_all *a = arg;
    struct txn *t = a->t;
    a->left = server.nworkers;
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct txn_hop *h = a->hops[i];
        h->p = t->parts[i];
        t->parts[i] = NULL; /* the hop concludes it on its shard */
        shard_post(shard_group_get(server.group, i), &h->msg);
    }
    txn_free(t);
    a->t = NULL;
}

static void on_hop_done(void *owner, struct mbox_msg *m)
{
    (void)owner;
    struct txn_hop *h = (struct txn_hop *)m;
    if (h->r) {
        struct req *r = h->r;
        void (*done)(struct req *) = h->done;
        free(h);
        done(r);
        return;
    }
    struct txn_all *a = h->all;
    free(h);
    if (--a->left > 0)
        return;
    void (*done)(void *) = a->done;
    void *done_arg = a->done_arg;
    free(a->hops);
    free(a);
    done(done_arg);
}

int txn_all_shards(void (*fn)(struct shard *s, void *arg), void *arg,
                   void (*done)(void *done_arg), void *done_arg, bool exclusive)
{
    struct txn_all *a = calloc(1, sizeof *a);
    if (!a)
        return -1;
    a->fn = fn;
    a->arg = arg;
    a->done = done;
    a->done_arg = done_arg;
    a->hops = calloc(server.nworkers, sizeof *a->hops);
    a->t = a->hops ? txn_create() : NULL;
    bool ok = a->t && txn_lock_all(a->t, exclusive) == 0;
    /* Every message is allocated before the transaction is scheduled, so
     * a scheduled transaction always completes. */
    for (unsigned i = 0; ok && i < server.nworkers; i++) {
        struct txn_hop *h = calloc(1, sizeof *h);
        if (!h) {
            ok = false;
            break;
        }
        h->origin = a->t->origin;
        h->fn = fn;
        h->arg = arg;
        h->all = a;
        h->conclude = true;
        h->msg.handle = on_hop;
        a->hops[i] = h;
    }
    if (!ok) {
        if (a->hops)
            for (unsigned i = 0; i < server.nworkers; i++)
                free(a->hops[i]);
        if (a->t)
            txn_finish(a->t);
        free(a->hops);
        free(a);
        return -1;
    }
    return txn_start(a->t, all_ready, a);
}
