/* cmd_block.c — blocking pops (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP
 * BZPOPMIN BZPOPMAX BZMPOP), Redis 7.0's semantics across shards.
 *
 * A blocking command is a fan-out (route/fan.c) on the client's worker
 * that tries its keys one round at a time, in argument order, each on its
 * key's shard: a key with data is served there at once, as the
 * non-blocking command would (the same exec runs); an empty key gets the
 * client's waiter appended to its FIFO on that shard. After the last key
 * the fan parks, its reply slot open. A write that touches a key with
 * waiters (the cmd_hook_key listener: every command, EXEC, scripts,
 * RENAME, RESTORE, SORT STORE alike) marks it; at the end of that loop
 * turn the shard serves the key's waiters in FIFO order: it claims a
 * waiter (one atomic flag per waiter, so a client waiting on several
 * shards is served once), pops and writes the reply in one step on its own
 * thread, and posts the reply to the client's worker, which resumes the
 * fan. Timeouts, CLIENT UNBLOCK and disconnected clients are found by a
 * 20 ms timer per worker, which claims the waiter the same way.
 *
 * BLMOVE with its destination on another shard: the pop (with the claim)
 * happens on the source's shard, then the client's worker sends the push
 * to the destination's shard as a second round, so the two steps are
 * ordered but not atomic together (another client may see the element in
 * neither list in between); a destination of the wrong type sends the
 * element back to the source (a third step) and replies WRONGTYPE.
 *
 * Inside MULTI/EXEC (and BLMPOP/BZMPOP in scripts; the others are
 * noscript in Redis 7.0) the commands never block: they act as their
 * non-blocking forms and reply nil when no key has data.
 *
 * Threads: the fan and the timer run on the client's worker; the waiter
 * registry (per shard, thread-local) and serving on the key's shard. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/clock.h"
#include "common/hash.h"
#include "server/commands/cmd_block.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_multi.h"
#include "server/core/server.h"
#include "server/exec/req.h"
#include "server/net/conn.h"
#include "server/net/worker.h"
#include "server/route/dispatch.h"
#include "server/txn/txn.h"

/* Which pop a blocking command does. */
enum blk_kind {
    BK_LPOP,  /* BLPOP */
    BK_RPOP,  /* BRPOP */
    BK_ZMIN,  /* BZPOPMIN */
    BK_ZMAX,  /* BZPOPMAX */
    BK_LMPOP, /* BLMPOP */
    BK_ZMPOP, /* BZMPOP */
    BK_LMOVE, /* BLMOVE, BRPOPLPUSH */
};

/* A parsed blocking command. */
struct blk_spec {
    enum blk_kind kind;
    size_t kfirst;       /* argv index of the first key */
    size_t nkeys;        /* keys waited on (LMOVE: the source only) */
    int64_t timeout_ms;  /* relative; 0: forever */
    bool left;           /* pop from the head (LEFT, MIN) */
    bool to_left;        /* LMOVE: push to the head */
    size_t count_at;     /* MPOP: argv index of COUNT's value, 0: none */
};

/* How a try on one key went (req.ival of a try part). */
enum {
    TRY_EMPTY,   /* no data: the waiter was registered (if any) */
    TRY_DONE,    /* the reply (or an error) is in the part's out */
    TRY_POPPED,  /* LMOVE across shards: the element (a bulk) is in out,
                    the push is still to do */
    TRY_CLAIMED, /* the waiter was already claimed elsewhere: wait for it */
};

/* Why a claimed waiter stopped waiting (set by its claimer). */
enum {
    OUT_SERVED,  /* reply (or element to push) in reply */
    OUT_TIMEOUT, /* timeout, or CLIENT UNBLOCK ... TIMEOUT */
    OUT_ERROR,   /* CLIENT UNBLOCK ... ERROR */
    OUT_GONE,    /* the client disconnected (or the server stops) */
};

/* One blocked client, shared by its worker and every shard it waits on. */
struct blk_waiter {
    _Atomic int claimed;     /* 0 while waiting; the first to set it serves */
    _Atomic int refs;        /* the fan's, one per registration and message */
    _Atomic int unblock;     /* CLIENT UNBLOCK asked: 0, or 1 + error */
    uint64_t client_id;      /* CLIENT ID, for CLIENT UNBLOCK */
    unsigned origin;         /* the client's worker */
    unsigned db;             /* SELECTed database */
    int proto;               /* RESP version of the reply */
    struct blk_spec sp;      /* the command */
    size_t argc;             /* its arguments (copied; trailing bytes) */
    struct resp_arg *argv;
    /* Written by the claimer before the wake message; read by the origin
     * after it. */
    int outcome;             /* OUT_* */
    bool popped;             /* LMOVE across shards: reply is the element */
    struct rbuf reply;       /* the reply, or the popped element */
    /* The origin's thread only: */
    struct fan *f;           /* the command's fan */
    int64_t deadline_ms;     /* 0: none */
    bool parked;             /* the fan is parked, the waiter in `parked` */
    bool woken;              /* its wake message came */
    bool gone;               /* claimed by cmd_block_hangup: resume at the
                                next tick */
    struct blk_waiter *prev, *next; /* this worker's parked waiters */
    struct blk_waiter *tnext;       /* blocked table (table_lock) */
};

/* The fan's state. */
struct blk_state {
    struct blk_spec sp;
    size_t ki;               /* key being tried */
    bool pushing;            /* LMOVE across shards: the push round is out */
    bool restoring;          /* the push failed (WRONGTYPE): the element
                                goes back where it came from */
    struct rbuf err;         /* then: the push's error, the reply */
    struct blk_waiter *w;    /* NULL inside EXEC (never blocks) */
    bool *reg_shards;        /* shards holding a registration of w */
    struct rbuf elem;        /* LMOVE across shards: the popped element */
};

/* ---- Parsing ------------------------------------------------------------ */

/* Redis's getTimeoutFromObjectOrReply (seconds, as a long double). */
static bool parse_timeout(const struct resp_arg *a, int64_t *ms, struct rbuf *err)
{
    char buf[128];
    bool ok = a->len > 0 && a->len < sizeof buf;
    long double v = 0;
    if (ok) {
        memcpy(buf, a->ptr, a->len);
        buf[a->len] = '\0';
        char *end;
        errno = 0;
        v = strtold(buf, &end);
        ok = !isspace((unsigned char)buf[0]) && *end == '\0' && !isnan(v) &&
             !(errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0));
    }
    if (!ok) {
        if (err)
            resp_error(err, "ERR timeout is not a float or out of range");
        return false;
    }
    /* Redis 7.0 converts with a plain cast, which truncates and turns
     * anything out of range into LLONG_MIN: "timeout is negative". */
    v *= 1000.0L;
    long long t = v >= 9223372036854775808.0L || v < -9223372036854775808.0L ? LLONG_MIN
                                                                              : (long long)v;
    if (t < 0) {
        if (err)
            resp_error(err, "ERR timeout is negative");
        return false;
    }
    /* (A deadline past the clock's range is forever.) */
    int64_t now = clock_wall_ms();
    if (t > LLONG_MAX - now)
        t = LLONG_MAX - now;
    *ms = t;
    return true;
}

/* A positive integer argument, else err (with Redis's message). */
static bool parse_pos(const struct resp_arg *a, long long *v, const char *msg, struct rbuf *err)
{
    char buf[32];
    bool ok = a->len > 0 && a->len < sizeof buf;
    if (ok) {
        memcpy(buf, a->ptr, a->len);
        buf[a->len] = '\0';
        char *end;
        errno = 0;
        *v = strtoll(buf, &end, 10);
        ok = *end == '\0' && errno == 0 && !isspace((unsigned char)buf[0]) && *v >= 1 &&
             !(buf[0] == '+') && !(buf[0] == '0' && a->len > 1);
    }
    if (!ok && err)
        resp_errorf(err, "ERR %s", msg);
    return ok;
}

static bool arg_is(const struct resp_arg *a, const char *lit)
{
    return cmd_arg_eq(a, lit);
}

/* Parse argv as a `kind` command into sp, in Redis's order of checks. On
 * bad input, write the error to err (if not NULL) and return false. */
static bool blk_parse(enum blk_kind kind, size_t argc, const struct resp_arg *argv,
                      struct blk_spec *sp, struct rbuf *err)
{
    memset(sp, 0, sizeof *sp);
    sp->kind = kind;
    switch (kind) {
    case BK_LPOP:
    case BK_RPOP:
    case BK_ZMIN:
    case BK_ZMAX:
        sp->kfirst = 1;
        sp->nkeys = argc - 2;
        sp->left = kind == BK_LPOP || kind == BK_ZMIN;
        return parse_timeout(&argv[argc - 1], &sp->timeout_ms, err);
    case BK_LMOVE:
        sp->kfirst = 1;
        sp->nkeys = 1;
        if (argc == 4) { /* BRPOPLPUSH src dst timeout */
            sp->left = false;
            sp->to_left = true;
            return parse_timeout(&argv[3], &sp->timeout_ms, err);
        }
        for (int i = 3; i <= 4; i++) {
            bool l = arg_is(&argv[i], "left");
            if (!l && !arg_is(&argv[i], "right")) {
                if (err)
                    resp_error(err, "ERR syntax error");
                return false;
            }
            if (i == 3)
                sp->left = l;
            else
                sp->to_left = l;
        }
        return parse_timeout(&argv[5], &sp->timeout_ms, err);
    case BK_LMPOP:
    case BK_ZMPOP: {
        long long numkeys, count;
        if (!parse_pos(&argv[2], &numkeys, "numkeys should be greater than 0", err))
            return false;
        if (numkeys >= (long long)argc - 3) {
            if (err)
                resp_error(err, "ERR syntax error");
            return false;
        }
        size_t where = 3 + (size_t)numkeys;
        const char *l = kind == BK_LMPOP ? "left" : "min";
        const char *r = kind == BK_LMPOP ? "right" : "max";
        sp->left = arg_is(&argv[where], l);
        if (!sp->left && !arg_is(&argv[where], r)) {
            if (err)
                resp_error(err, "ERR syntax error");
            return false;
        }
        for (size_t j = where + 1; j < argc; j++) {
            if (sp->count_at == 0 && arg_is(&argv[j], "count") && j + 1 < argc) {
                j++;
                if (!parse_pos(&argv[j], &count, "count should be greater than 0", err))
                    return false;
                sp->count_at = j;
            } else {
                if (err)
                    resp_error(err, "ERR syntax error");
                return false;
            }
        }
        sp->kfirst = 3;
        sp->nkeys = (size_t)numkeys;
        return parse_timeout(&argv[1], &sp->timeout_ms, err);
    }
    }
    return false;
}

static int want_type(enum blk_kind k)
{
    return k == BK_ZMIN || k == BK_ZMAX || k == BK_ZMPOP ? TVAL_ZSET : TVAL_LIST;
}

/* ---- The pop (on the key's shard) ---------------------------------------- */

/* Run the non-blocking command argv[0] with argv on base's shard, reply to
 * out in RESP version proto: the same code path as a client's, but as a
 * part of the blocking command (cmd_call_part), which is timed, counted
 * and slow-logged whole, as Redis logs BLPOP and never its pop. */
static void run_named(struct cmd_ctx *base, size_t argc, const struct resp_arg *argv,
                      struct rbuf *out, int proto)
{
    const struct cmd_def *d = cmd_lookup(argv[0].ptr, argv[0].len);
    if (!d) {
        out->oom = true;
        return;
    }
    struct cmd_ctx c = *base;
    c.argc = argc;
    c.argv = argv;
    c.out = out;
    c.proto = proto;
    c.priv = NULL;
    cmd_call_part(d, d->exec, &c);
}

static struct resp_arg lit(const char *s)
{
    return (struct resp_arg){.ptr = s, .len = strlen(s)};
}

/* Is the destination of an LMOVE on another shard than s? */
static bool move_crosses(const struct cmd_ctx *c, const struct resp_arg *argv)
{
    return shard_group_route(server.group, argv[2].ptr, argv[2].len) != c->shard->id;
}

/* Pop from key ki (known to hold data of the right type) as the blocking
 * command's reply into out. Returns true when it popped an LMOVE's element
 * whose push to another shard is still to do (out holds it as a bulk). */
static bool do_pop(struct cmd_ctx *c, const struct blk_spec *sp, const struct resp_arg *argv,
                   size_t ki, struct rbuf *out, int proto)
{
    const struct resp_arg *key = &argv[sp->kfirst + ki];
    struct rbuf tmp;
    rbuf_init(&tmp);
    switch (sp->kind) {
    case BK_LPOP:
    case BK_RPOP: {
        struct resp_arg a[2] = {lit(sp->left ? "lpop" : "rpop"), *key};
        run_named(c, 2, a, &tmp, proto);
        if (tmp.oom) {
            out->oom = true;
            break;
        }
        resp_array(out, 2);
        resp_bulk(out, key->ptr, key->len);
        rbuf_append(out, tmp.ptr, tmp.len);
        break;
    }
    case BK_ZMIN:
    case BK_ZMAX: {
        struct resp_arg a[2] = {lit(sp->left ? "zpopmin" : "zpopmax"), *key};
        run_named(c, 2, a, &tmp, proto);
        /* "*2\r\n" member score: the member and score follow the key. */
        const char *nl = tmp.len ? memchr(tmp.ptr, '\n', tmp.len) : NULL;
        if (tmp.oom || !nl) {
            out->oom = true;
            break;
        }
        size_t skip = (size_t)(nl - tmp.ptr) + 1;
        resp_array(out, 3);
        resp_bulk(out, key->ptr, key->len);
        rbuf_append(out, tmp.ptr + skip, tmp.len - skip);
        break;
    }
    case BK_LMPOP:
    case BK_ZMPOP: {
        bool list = sp->kind == BK_LMPOP;
        struct resp_arg a[6] = {lit(list ? "lmpop" : "zmpop"), lit("1"), *key,
                                lit(list ? (sp->left ? "left" : "right")
                                         : (sp->left ? "min" : "max")),
                                lit("count"), sp->count_at ? argv[sp->count_at] : lit("1")};
        run_named(c, sp->count_at ? 6 : 4, a, out, proto);
        break;
    }
    case BK_LMOVE:
        if (move_crosses(c, argv)) {
            struct resp_arg a[2] = {lit(sp->left ? "lpop" : "rpop"), argv[1]};
            run_named(c, 2, a, out, proto);
            rbuf_deinit(&tmp);
            return true;
        } else {
            struct resp_arg a[5] = {lit("lmove"), argv[1], argv[2],
                                    lit(sp->left ? "left" : "right"),
                                    lit(sp->to_left ? "left" : "right")};
            run_named(c, 5, a, out, proto);
        }
        break;
    }
    rbuf_deinit(&tmp);
    return false;
}

/* ---- Waiters ------------------------------------------------------------- */

static _Atomic uint64_t nblocked; /* INFO blocked_clients */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct blk_waiter *table; /* parked waiters, for CLIENT UNBLOCK */

static void waiter_unref(struct blk_waiter *w)
{
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) != 1)
        return;
    rbuf_deinit(&w->reply);
    free(w);
}

static bool waiter_claim(struct blk_waiter *w)
{
    int zero = 0;
    return atomic_compare_exchange_strong(&w->claimed, &zero, 1);
}

/* A waiter for the fan's command (argv copied), one reference. */
static struct blk_waiter *waiter_new(struct conn *c, const struct blk_spec *sp, size_t argc,
                                     const struct resp_arg *argv)
{
    size_t bytes = 0;
    for (size_t i = 0; i < argc; i++)
        bytes += argv[i].len;
    struct blk_waiter *w = calloc(1, sizeof *w + argc * sizeof(struct resp_arg) + bytes);
    if (!w)
        return NULL;
    atomic_init(&w->refs, 1);
    w->client_id = c->id;
    w->origin = c->w->id;
    w->db = c->db;
    w->proto = c->proto;
    w->sp = *sp;
    w->argc = argc;
    w->argv = (struct resp_arg *)(w + 1);
    char *p = (char *)(w->argv + argc);
    for (size_t i = 0; i < argc; i++) {
        if (argv[i].len)
            memcpy(p, argv[i].ptr, argv[i].len);
        w->argv[i].ptr = p;
        w->argv[i].len = argv[i].len;
        p += argv[i].len;
    }
    rbuf_init(&w->reply);
    return w;
}

/* ---- The per-shard registry (the shard's thread) ------------------------- */

struct wnode {
    struct blk_waiter *w;    /* holds a reference */
    struct wnode *next;      /* FIFO: the order clients blocked */
};

struct wkey {
    struct wkey *hnext;      /* bucket chain */
    uint64_t h;              /* hash_key(key) */
    unsigned db;             /* database */
    bool ready;              /* written this turn: on the ready list */
    struct wkey *rnext;      /* ready list link */
    struct wnode *head, *tail; /* waiters */
    size_t klen;             /* key length */
    char key[];              /* key bytes */
};

struct wreg {
    struct wkey **b;         /* buckets (power of two) */
    size_t nb;               /* bucket count */
    size_t n;                /* keys with waiters */
    struct wkey *ready;      /* keys to serve at the end of the turn */
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

/* Append w (a new reference) to the FIFO of (db, key). 0 or -1 (OOM). */
static int reg_add(unsigned db, const struct resp_arg *key, struct blk_waiter *w)
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
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
    if (k->tail)
        k->tail->next = n;
    else
        k->head = n;
    k->tail = n;
    return 0;
}

/* Drop key k (no waiters left, not on the ready list). */
static void reg_drop(struct wkey *k)
{
    struct wkey **pp = reg_slot(k->db, k->key, k->klen, k->h);
    *pp = k->hnext;
    reg.n--;
    free(k);
}

/* Remove w from (db, key)'s FIFO. */
static void reg_remove(unsigned db, const struct resp_arg *key, struct blk_waiter *w)
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
        if (prev)
            prev->next = n->next;
        else
            k->head = n->next;
        if (k->tail == n)
            k->tail = prev;
        free(n);
        waiter_unref(w);
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
    if (!k || k->ready)
        return;
    k->ready = true;
    k->rnext = reg.ready;
    reg.ready = k;
}

/* The message that tells a client's worker its waiter was served. */
struct wake_msg {
    struct mbox_msg msg;     /* first */
    struct blk_waiter *w;    /* a reference */
};

static void on_wake(void *owner, struct mbox_msg *m);

/* Tell w's worker (w claimed, outcome set). */
static void post_wake(struct blk_waiter *w)
{
    struct wake_msg *m = malloc(sizeof *m);
    if (!m)
        return; /* (the client stays blocked: nothing else can be done) */
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
    m->w = w;
    m->msg.handle = on_wake;
    shard_post(shard_group_get(server.group, w->origin), &m->msg);
}

/* Serve the waiters of k while it has data they can take. Returns false
 * when a transaction holds the key: try again at the next turn. */
static bool serve_key(struct shard *s, struct wkey *k)
{
    struct cmd_ctx c = {
        .shard = s,
        .db = shard_db(s, k->db),
        .dbidx = k->db,
        .now_ms = clock_wall_ms(),
    };
    struct resp_arg key = {.ptr = k->key, .len = k->klen};
    while (k->head) {
        struct wnode *n = k->head;
        struct blk_waiter *w = n->w;
        bool drop = atomic_load(&w->claimed) != 0;
        if (!drop) {
            struct kventry *e = kvmap_find(c.db, k->key, k->klen, c.now_ms);
            if (!e || kventry_type(e) != want_type(w->sp.kind))
                return true; /* nothing for them (yet) */
            /* Behind a transaction's intent lock: after it concludes. */
            const struct cmd_def *d = cmd_lookup(w->argv[0].ptr, w->argv[0].len);
            if (d && !txn_may_run(s, d, k->db, w->argc, w->argv, NULL, NULL))
                return false;
            drop = true;
            if (waiter_claim(w)) {
                /* The key's index among the waiter's keys. */
                size_t ki = 0;
                for (; ki < w->sp.nkeys; ki++) {
                    const struct resp_arg *a = &w->argv[w->sp.kfirst + ki];
                    if (a->len == key.len && memcmp(a->ptr, key.ptr, key.len) == 0)
                        break;
                }
                w->outcome = OUT_SERVED;
                w->popped = do_pop(&c, &w->sp, w->argv, ki, &w->reply, w->proto);
                post_wake(w);
            }
        }
        k->head = n->next;
        if (!k->head)
            k->tail = NULL;
        free(n);
        waiter_unref(w);
    }
    return true;
}

void cmd_block_serve(struct worker *w)
{
    if (!reg.ready)
        return;
    struct wkey *list = reg.ready, *again = NULL;
    reg.ready = NULL;
    while (list) {
        struct wkey *k = list;
        list = k->rnext;
        k->ready = false;
        if (!serve_key(w->shard, k)) {
            k->ready = true;
            k->rnext = again;
            again = k;
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
            reg_remove(w->db, key, w);
    }
    waiter_unref(w);
    free(pm);
}

/* ---- The client's side (its worker's thread) ----------------------------- */

static _Thread_local struct blk_waiter *parked; /* this worker's, a list */
static _Thread_local uv_timer_t *timer;          /* timeouts, 20 ms */

static void on_timer(uv_timer_t *t);

static void park(struct blk_waiter *w)
{
    w->parked = true;
    w->prev = NULL;
    w->next = parked;
    if (parked)
        parked->prev = w;
    parked = w;
    w->f->conn->blocked = true;
    worker_want_flush(w->f->conn->w, w->f->conn); /* reads again: hang-ups */
    atomic_fetch_add_explicit(&nblocked, 1, memory_order_relaxed);
    pthread_mutex_lock(&table_lock);
    w->tnext = table;
    table = w;
    pthread_mutex_unlock(&table_lock);
    if (timer && !uv_is_active((uv_handle_t *)timer))
        uv_timer_start(timer, on_timer, 20, 20);
}

static void unpark(struct blk_waiter *w)
{
    if (!w->parked)
        return;
    w->parked = false;
    if (w->prev)
        w->prev->next = w->next;
    else
        parked = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->f->conn->blocked = false;
    atomic_fetch_sub_explicit(&nblocked, 1, memory_order_relaxed);
    pthread_mutex_lock(&table_lock);
    for (struct blk_waiter **pp = &table; *pp; pp = &(*pp)->tnext)
        if (*pp == w) {
            *pp = w->tnext;
            break;
        }
    pthread_mutex_unlock(&table_lock);
}

/* The command is over: drop w's registrations and the fan's reference. */
static bool finish(struct fan *f, struct blk_state *st)
{
    struct blk_waiter *w = st->w;
    if (w) {
        unpark(w);
        /* (When stopping, each shard frees its own registrations: a
         * message to one that stopped first would never be handled.) */
        bool stopping = f->conn->w->stopping;
        for (unsigned i = 0; i < server.nworkers && !stopping; i++) {
            if (!st->reg_shards[i])
                continue;
            struct purge_msg *pm = malloc(sizeof *pm);
            if (!pm)
                continue; /* (left until the key is served or the shard stops) */
            atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
            pm->w = w;
            pm->msg.handle = on_purge;
            shard_post(shard_group_get(server.group, i), &pm->msg);
        }
        waiter_unref(w);
    }
    free(st->reg_shards);
    rbuf_deinit(&st->elem);
    rbuf_deinit(&st->err);
    free(st);
    f->state = NULL;
    return true;
}

static void try_part(struct cmd_ctx *c);
static void push_part(struct cmd_ctx *c);

/* Add the round that tries key st->ki. */
static bool add_try(struct fan *f, struct blk_state *st)
{
    const struct resp_arg *key = &f->argv[st->sp.kfirst + st->ki];
    unsigned shard = shard_group_route(server.group, key->ptr, key->len);
    struct req *r = dispatch_part(f, shard, try_part, f->argc, f->argv);
    if (!r)
        return false;
    r->i_arg = (int64_t)st->ki | ((int64_t)st->sp.kind << 32);
    r->uval = (uint64_t)(uintptr_t)st->w;
    if (st->w)
        st->reg_shards[shard] = true;
    return true;
}

/* Add the round that pushes the popped element to the destination. */
static bool add_push(struct fan *f, struct blk_state *st)
{
    /* After a failed push, back to the source's end it came from. */
    const struct resp_arg *dst = &f->argv[st->restoring ? 1 : 2];
    bool left = st->restoring ? st->sp.left : st->sp.to_left;
    unsigned shard = shard_group_route(server.group, dst->ptr, dst->len);
    /* The element is the bulk in st->elem: "$n\r\n<bytes>\r\n". */
    const char *nl = memchr(st->elem.ptr, '\n', st->elem.len);
    struct resp_arg a[3] = {lit(left ? "lpush" : "rpush"), *dst,
                            {.ptr = nl + 1, .len = (size_t)(st->elem.ptr + st->elem.len - nl - 3)}};
    struct req *r = dispatch_part(f, shard, push_part, 3, a);
    if (!r)
        return false;
    st->pushing = true;
    return true;
}

/* The outcome of a claimed waiter, written as the reply. */
static bool claimed_reply(struct fan *f, struct blk_state *st, struct rbuf *out)
{
    struct blk_waiter *w = st->w;
    switch (w->outcome) {
    case OUT_SERVED:
        if (w->popped) {
            if (w->reply.len < 4 || w->reply.ptr[0] != '$') {
                rbuf_append(out, w->reply.ptr, w->reply.len); /* (an error) */
                return finish(f, st);
            }
            rbuf_append(&st->elem, w->reply.ptr, w->reply.len);
            if (add_push(f, st))
                return false;
            resp_error(out, "ERR out of memory");
            return finish(f, st);
        }
        if (w->reply.oom)
            resp_error(out, "ERR out of memory");
        else
            rbuf_append(out, w->reply.ptr, w->reply.len);
        return finish(f, st);
    case OUT_TIMEOUT:
        resp_null_array(out, f->proto);
        return finish(f, st);
    case OUT_ERROR:
        resp_error(out, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
        return finish(f, st);
    default:
        return finish(f, st);
    }
}

static bool blk_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct blk_state *st = f->state;
    struct blk_waiter *w = st->w;
    if (n == 0) { /* resumed: the waiter was claimed and its outcome set */
        unpark(w);
        return claimed_reply(f, st, out);
    }
    struct req *r = parts[0];
    if (r->out.oom) {
        if (w && !waiter_claim(w)) {
            /* Served meanwhile: that reply wins. */
        } else {
            resp_error(out, "ERR out of memory");
            return finish(f, st);
        }
    } else if (st->restoring) {
        rbuf_append(out, st->err.ptr, st->err.len);
        return finish(f, st);
    } else if (st->pushing) {
        /* The push's own reply is an integer. A destination of the wrong
         * type: the element goes back to the source (Redis checks the
         * destination before it pops; here the pop came first), then the
         * error is the reply. */
        if (r->out.len && r->out.ptr[0] == '-') {
            rbuf_append(&st->err, r->out.ptr, r->out.len);
            st->restoring = true;
            if (add_push(f, st))
                return false;
            rbuf_append(out, st->err.ptr, st->err.len);
            return finish(f, st);
        }
        rbuf_append(out, st->elem.ptr, st->elem.len);
        return finish(f, st);
    } else {
        switch (r->ival) {
        case TRY_DONE:
            rbuf_append(out, r->out.ptr, r->out.len);
            return finish(f, st);
        case TRY_POPPED:
            rbuf_append(&st->elem, r->out.ptr, r->out.len);
            if (r->out.len < 4 || r->out.ptr[0] != '$') {
                rbuf_append(out, r->out.ptr, r->out.len);
                return finish(f, st);
            }
            if (add_push(f, st))
                return false;
            resp_error(out, "ERR out of memory");
            return finish(f, st);
        case TRY_EMPTY:
            if (++st->ki < st->sp.nkeys) {
                if (add_try(f, st))
                    return false;
                if (w && !waiter_claim(w))
                    break; /* served meanwhile */
                resp_error(out, "ERR out of memory");
                return finish(f, st);
            }
            if (!w) { /* inside EXEC: no key has data */
                if (st->sp.kind == BK_LMOVE)
                    resp_null(out, f->proto);
                else
                    resp_null_array(out, f->proto);
                return finish(f, st);
            }
            break;
        default: /* TRY_CLAIMED */
            break;
        }
    }
    /* Wait: for the wake message if it was claimed, else for data. */
    if (w->woken)
        return claimed_reply(f, st, out);
    if (st->sp.timeout_ms > 0 && w->deadline_ms == 0)
        w->deadline_ms = clock_wall_ms() + st->sp.timeout_ms;
    park(w);
    dispatch_fan_park(f);
    return false;
}

static void on_wake(void *owner, struct mbox_msg *m)
{
    (void)owner;
    struct wake_msg *wm = (struct wake_msg *)m;
    struct blk_waiter *w = wm->w;
    free(wm);
    w->woken = true;
    if (w->parked)
        dispatch_fan_resume(w->f);
    waiter_unref(w);
}

/* Stop waiting for `why` if w can still be claimed. */
static void give_up(struct blk_waiter *w, int why)
{
    if (!waiter_claim(w))
        return; /* served: its wake message is on the way */
    w->outcome = why;
    w->woken = true;
    dispatch_fan_resume(w->f);
}

static void on_timer(uv_timer_t *t)
{
    int64_t now = clock_wall_ms();
    for (struct blk_waiter *w = parked, *next; w; w = next) {
        next = w->next;
        int u = atomic_load_explicit(&w->unblock, memory_order_relaxed);
        if (w->gone)
            dispatch_fan_resume(w->f);
        else if (conn_is_closing(w->f->conn) || (w->f->conn->flags & CONN_READ_EOF))
            give_up(w, OUT_GONE);
        else if (u)
            give_up(w, u == 2 ? OUT_ERROR : OUT_TIMEOUT);
        else if (w->deadline_ms && now >= w->deadline_ms)
            give_up(w, OUT_TIMEOUT);
    }
    if (!parked)
        uv_timer_stop(t);
}

void cmd_block_hangup(struct conn *c)
{
    for (struct blk_waiter *w = parked; w; w = w->next) {
        if (w->f->conn != c || w->gone)
            continue;
        if (waiter_claim(w)) {
            w->outcome = OUT_GONE;
            w->woken = true;
            w->gone = true;
        }
    }
}

/* ---- Parts (on the key's shard) ------------------------------------------ */

/* Try key ki of the command: serve it, or register the waiter. */
static void try_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    enum blk_kind kind = (enum blk_kind)(r->i_arg >> 32);
    size_t ki = (size_t)(r->i_arg & 0xffffffff);
    struct blk_waiter *w = (struct blk_waiter *)(uintptr_t)r->uval;
    struct blk_spec sp;
    blk_parse(kind, c->argc, c->argv, &sp, NULL);
    const struct resp_arg *key = &c->argv[sp.kfirst + ki];
    r->ival = TRY_EMPTY;
    if (w && atomic_load(&w->claimed)) {
        r->ival = TRY_CLAIMED;
        return;
    }
    struct kventry *e = kvmap_find(c->db, key->ptr, key->len, c->now_ms);
    if (e) {
        if (kventry_type(e) != want_type(kind)) {
            cmd_reply_wrongtype(c);
            r->ival = TRY_DONE;
            return;
        }
        if (w && !waiter_claim(w)) {
            r->ival = TRY_CLAIMED;
            return;
        }
        r->ival = do_pop(c, &sp, c->argv, ki, c->out, c->proto) ? TRY_POPPED : TRY_DONE;
        return;
    }
    if (w && reg_add(c->dbidx, key, w) != 0) {
        if (!waiter_claim(w)) {
            r->ival = TRY_CLAIMED;
            return;
        }
        resp_error(c->out, "ERR out of memory");
        r->ival = TRY_DONE;
    }
}

/* BLMOVE across shards, second step: push argv[2] onto list argv[1]. */
static void push_part(struct cmd_ctx *c)
{
    run_named(c, 3, c->argv, c->out, c->proto);
}

/* ---- Commands ------------------------------------------------------------ */

/* The planner (cmd_plan.plan): standalone, a fan that may block; inside
 * EXEC, the non-blocking form (one shard: the exec; several: the fan
 * without a waiter). */
static void blk_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                     const struct resp_arg *argv, enum blk_kind kind)
{
    struct blk_spec sp;
    struct rbuf err;
    rbuf_init(&err);
    if (!blk_parse(kind, argc, argv, &sp, &err)) {
        struct rbuf *out = cmd_multi_plan_reply_buf(p);
        if (out)
            rbuf_append(out, err.ptr, err.len);
        rbuf_deinit(&err);
        return;
    }
    rbuf_deinit(&err);
    struct blk_state *st = calloc(1, sizeof *st);
    bool *regs = p->t ? NULL : calloc(server.nworkers, sizeof *regs);
    struct blk_waiter *w = p->t || !st ? NULL : waiter_new(p->c, &sp, argc, argv);
    if (!st || (!p->t && (!regs || !w))) {
        free(st);
        free(regs);
        free(w);
        cmd_multi_plan_error(p, "ERR out of memory");
        return;
    }
    st->sp = sp;
    st->w = w;
    st->reg_shards = regs;
    rbuf_init(&st->elem);
    rbuf_init(&st->err);
    struct fan *f;
    if (p->t) {
        f = cmd_multi_plan_fan(p, d, argc, argv, blk_step, false);
    } else {
        /* No transaction of its own: a parked command holds no lock. */
        f = dispatch_fan_start(p->c, argc, argv, blk_step);
        if (f)
            dispatch_fan_barrier(f);
    }
    if (!f) {
        free(regs);
        free(st);
        if (w)
            waiter_unref(w);
        return;
    }
    f->state = st;
    if (w)
        w->f = f;
    if (!add_try(f, st)) {
        finish(f, st);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    if (p->t)
        cmd_multi_plan_go(p, f);
    else
        dispatch_fan_go(f);
}

/* The exec: all keys on one shard inside EXEC or a script. Never blocks. */
static void blk_exec(struct cmd_ctx *c, enum blk_kind kind)
{
    struct blk_spec sp;
    if (!blk_parse(kind, c->argc, c->argv, &sp, c->out))
        return;
    for (size_t ki = 0; ki < sp.nkeys; ki++) {
        const struct resp_arg *key = &c->argv[sp.kfirst + ki];
        struct kventry *e = kvmap_find(c->db, key->ptr, key->len, c->now_ms);
        if (!e)
            continue;
        if (kventry_type(e) != want_type(kind)) {
            cmd_reply_wrongtype(c);
            return;
        }
        if (do_pop(c, &sp, c->argv, ki, c->out, c->proto)) {
            /* (LMOVE whose keys are on one shard never crosses) */
        }
        return;
    }
    if (kind == BK_LMOVE)
        resp_null(c->out, c->proto);
    else
        resp_null_array(c->out, c->proto);
}

#define BLK_FNS(name, kind)                                                                   \
    static void name##_exec(struct cmd_ctx *c)                                                \
    {                                                                                         \
        blk_exec(c, kind);                                                                    \
    }                                                                                         \
    static void name##_planner(struct mplan *p, const struct cmd_def *d, size_t argc,         \
                               const struct resp_arg *argv)                                   \
    {                                                                                         \
        blk_plan(p, d, argc, argv, kind);                                                     \
    }                                                                                         \
    static const struct cmd_plan name##_plan = {.plan = name##_planner};

BLK_FNS(blpop, BK_LPOP)
BLK_FNS(brpop, BK_RPOP)
BLK_FNS(bzpopmin, BK_ZMIN)
BLK_FNS(bzpopmax, BK_ZMAX)
BLK_FNS(blmpop, BK_LMPOP)
BLK_FNS(bzmpop, BK_ZMPOP)
BLK_FNS(blmove, BK_LMOVE)

/* Key specs: a run of keys before the timeout; numkeys forms as LMPOP. */
#define KS_POP (CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE)
#define KS_RANGE_BEFORE_TIMEOUT {{.flags = KS_POP, .begin = 1, .last = -2, .step = 1}}
#define KS_KEYNUM {{.flags = KS_POP, .begin = 2, .keynum = true, .numkeys_at = 0, \
                    .first_at = 1, .step = 1}}
#define KS_MOVE {{.flags = KS_POP, .begin = 1, .last = 0, .step = 1}, \
                 {.flags = CMD_KS_RW | CMD_KS_INSERT, .begin = 2, .last = 0, .step = 1}}
#define BLK_FLAGS (CMD_WRITE | CMD_BLOCKING | CMD_MULTIKEY)

const struct cmd_def cmd_block_defs[] = {
    {.name = "blpop", .arity = -3, .flags = BLK_FLAGS | CMD_NOSCRIPT, .keys = KS_RANGE_BEFORE_TIMEOUT,
     .exec = blpop_exec, .plan = &blpop_plan, .group = "list", .since = "2.0.0",
     .complexity = "O(N) where N is the number of provided keys.",
     .summary = "Remove and get the first element in a list, or block until one is available"},
    {.name = "brpop", .arity = -3, .flags = BLK_FLAGS | CMD_NOSCRIPT, .keys = KS_RANGE_BEFORE_TIMEOUT,
     .exec = brpop_exec, .plan = &brpop_plan, .group = "list", .since = "2.0.0",
     .complexity = "O(N) where N is the number of provided keys.",
     .summary = "Remove and get the last element in a list, or block until one is available"},
    {.name = "brpoplpush", .arity = 4, .flags = BLK_FLAGS | CMD_NOSCRIPT | CMD_DENYOOM, .keys = KS_MOVE,
     .exec = blmove_exec, .plan = &blmove_plan, .group = "list", .since = "2.2.0",
     .complexity = "O(1)",
     .summary = "Pop an element from a list, push it to another list and return it; or block "
                "until one is available"},
    {.name = "blmove", .arity = 6, .flags = BLK_FLAGS | CMD_NOSCRIPT | CMD_DENYOOM, .keys = KS_MOVE,
     .exec = blmove_exec, .plan = &blmove_plan, .group = "list", .since = "6.2.0",
     .complexity = "O(1)",
     .summary = "Pop an element from a list, push it to another list and return it; or block "
                "until one is available"},
    {.name = "blmpop", .arity = -5, .flags = BLK_FLAGS, .keys = KS_KEYNUM,
     .exec = blmpop_exec, .plan = &blmpop_plan, .group = "list", .since = "7.0.0",
     .complexity = "O(N+M) where N is the number of provided keys and M is the number of "
                   "elements returned.",
     .summary = "Pop elements from a list, or block until one is available"},
    {.name = "bzpopmin", .arity = -3, .flags = BLK_FLAGS | CMD_NOSCRIPT | CMD_FAST,
     .keys = KS_RANGE_BEFORE_TIMEOUT, .exec = bzpopmin_exec, .plan = &bzpopmin_plan,
     .group = "sorted-set", .since = "5.0.0",
     .complexity = "O(log(N)) with N being the number of elements in the sorted set.",
     .summary = "Remove and return the member with the lowest score from one or more sorted "
                "sets, or block until one is available"},
    {.name = "bzpopmax", .arity = -3, .flags = BLK_FLAGS | CMD_NOSCRIPT | CMD_FAST,
     .keys = KS_RANGE_BEFORE_TIMEOUT, .exec = bzpopmax_exec, .plan = &bzpopmax_plan,
     .group = "sorted-set", .since = "5.0.0",
     .complexity = "O(log(N)) with N being the number of elements in the sorted set.",
     .summary = "Remove and return the member with the highest score from one or more sorted "
                "sets, or block until one is available"},
    {.name = "bzmpop", .arity = -5, .flags = BLK_FLAGS, .keys = KS_KEYNUM,
     .exec = bzmpop_exec, .plan = &bzmpop_plan, .group = "sorted-set", .since = "7.0.0",
     .complexity = "O(K) + O(M*log(N)) where K is the number of provided keys, N being the "
                   "number of elements in the sorted set, and M being the number of elements "
                   "popped.",
     .summary = "Remove and return members with scores in a sorted set or block until one is "
                "available"},
};

const size_t cmd_block_ndefs = sizeof cmd_block_defs / sizeof cmd_block_defs[0];

/* ---- Hooks -------------------------------------------------------------- */

uint64_t cmd_block_count(void)
{
    return atomic_load_explicit(&nblocked, memory_order_relaxed);
}

bool cmd_block_unblock(uint64_t id, bool error)
{
    bool found = false;
    pthread_mutex_lock(&table_lock);
    for (struct blk_waiter *w = table; w; w = w->tnext)
        if (w->client_id == id && !atomic_load(&w->claimed)) {
            atomic_store(&w->unblock, error ? 2 : 1);
            found = true;
            break;
        }
    pthread_mutex_unlock(&table_lock);
    return found;
}

void cmd_block_thread_start(struct worker *w)
{
    timer = malloc(sizeof *timer);
    if (timer && uv_timer_init(&w->shard->loop, timer) != 0) {
        free(timer);
        timer = NULL;
    }
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void cmd_block_thread_stop(struct worker *w)
{
    (void)w;
    /* The clients are closing: their waits end now. */
    while (parked) {
        struct blk_waiter *b = parked;
        if (b->gone) {
            dispatch_fan_resume(b->f);
            continue;
        }
        if (!waiter_claim(b)) {
            unpark(b); /* (its wake message will not be handled) */
            continue;
        }
        b->outcome = OUT_GONE;
        b->woken = true;
        dispatch_fan_resume(b->f);
    }
    if (timer) {
        uv_close((uv_handle_t *)timer, timer_closed);
        timer = NULL;
    }
    /* This shard's registrations. */
    for (size_t i = 0; i < reg.nb; i++)
        for (struct wkey *k = reg.b[i], *next; k; k = next) {
            next = k->hnext;
            for (struct wnode *n = k->head, *nn; n; n = nn) {
                nn = n->next;
                waiter_unref(n->w);
                free(n);
            }
            free(k);
        }
    free(reg.b);
    memset(&reg, 0, sizeof reg);
}
