/* cmd_multi.c — commands whose keys may live on several shards (MGET, MSET,
 * MSETNX, DEL, UNLINK, EXISTS, TOUCH, RENAME, RENAMENX, COPY; MOVE too,
 * whose one key stays on its shard). The planner runs on the
 * connection's thread: when every key lives on one shard the command goes
 * there whole (and is atomic there); otherwise it is split into one part per
 * shard, the parts run on their owners in this turn's batches, and a step
 * function merges the results in key order on the connection's thread.
 * Commands that need several rounds (MSETNX, RENAME across shards, COPY)
 * hold the client's later commands back until they finish.
 *
 * Atomic across shards: a command whose keys span shards runs its parts in
 * a transaction (txn.h) that holds intent locks on all its keys in the
 * global order, so no reader sees a partial MSET and MSETNX's check and
 * set are one step. The same planners run the commands inside EXEC
 * (cmd_txn.c), with EXEC's transaction instead of their own. */
#include "server/cmd_multi.h"

#include <stdlib.h>
#include <string.h>

#include "server/cmd_allshards.h"
#include "server/cmd_impl.h"
#include "server/conn.h"
#include "server/dispatch.h"
#include "server/server.h"
#include "server/txn.h"
#include "server/worker.h"

/* Keys routed with a stack array up to this many; more use the heap. */
#define MULTI_STACK_KEYS 64

/* ---- Small helpers (owner side) ----------------------------------------- */

static void reply_entry_value(struct rbuf *out, const struct kventry *e)
{
    char buf[21];
    size_t n;
    const char *v = kventry_value(e, buf, &n);
    resp_bulk(out, v, n);
}

static struct kventry *find(struct cmd_ctx *c, const struct resp_arg *k)
{
    return kvmap_find(c->db, k->ptr, k->len, c->now_ms);
}

/* A private copy of an entry's value (the entry dies at the next write). */
static char *copy_value(const struct kventry *e, size_t *len)
{
    char buf[21];
    const char *v = kventry_value(e, buf, len);
    char *p = malloc(*len ? *len : 1);
    if (p && *len)
        memcpy(p, v, *len);
    return p;
}

static int64_t count_existing(struct cmd_ctx *c)
{
    int64_t n = 0;
    for (size_t i = 1; i < c->argc; i++)
        if (find(c, &c->argv[i]))
            n++;
    return n;
}

static int64_t count_deleted(struct cmd_ctx *c)
{
    int64_t n = 0;
    for (size_t i = 1; i < c->argc; i++)
        n += kvmap_del(c->db, c->argv[i].ptr, c->argv[i].len, c->now_ms);
    return n;
}

/* ---- Whole commands on one shard (cmd_def.exec) -------------------------- */

static void mget_exec(struct cmd_ctx *c)
{
    resp_array(c->out, c->argc - 1);
    for (size_t i = 1; i < c->argc; i++) {
        struct kventry *e = find(c, &c->argv[i]);
        if (e)
            reply_entry_value(c->out, e);
        else
            resp_null(c->out, c->proto);
    }
}

/* Set pairs argv[1..]; on failure reply the error and return false. */
static bool set_pairs(struct cmd_ctx *c)
{
    for (size_t i = 1; i + 1 < c->argc; i += 2) {
        int rc = kvmap_set(c->db, c->argv[i].ptr, c->argv[i].len, c->argv[i + 1].ptr,
                           c->argv[i + 1].len, KVMAP_NO_EXPIRE, c->now_ms);
        if (rc < 0) {
            cmd_reply_kvmap_error(c, rc);
            return false;
        }
    }
    return true;
}

static void mset_exec(struct cmd_ctx *c)
{
    if (set_pairs(c))
        cmd_reply_ok(c);
}

static void msetnx_exec(struct cmd_ctx *c)
{
    for (size_t i = 1; i + 1 < c->argc; i += 2) {
        if (find(c, &c->argv[i])) {
            resp_int(c->out, 0);
            return;
        }
    }
    if (set_pairs(c))
        resp_int(c->out, 1);
}

static void del_exec(struct cmd_ctx *c)
{
    resp_int(c->out, count_deleted(c));
}

static void exists_exec(struct cmd_ctx *c)
{
    resp_int(c->out, count_existing(c));
}

static void rename_exec(struct cmd_ctx *c)
{
    bool nx = c->argv[0].len == 8; /* "renamenx" vs "rename" */
    const struct resp_arg *src = &c->argv[1], *dst = &c->argv[2];
    struct kventry *e = find(c, src);
    if (!e) {
        resp_error(c->out, "ERR no such key");
        return;
    }
    if (src->len == dst->len && memcmp(src->ptr, dst->ptr, src->len) == 0) {
        if (nx)
            resp_int(c->out, 0);
        else
            cmd_reply_ok(c);
        return;
    }
    int64_t exp = kventry_expire(e);
    size_t vlen;
    char *val = copy_value(e, &vlen);
    if (!val) {
        resp_error(c->out, "ERR out of memory");
        return;
    }
    if (nx && find(c, dst)) {
        free(val);
        resp_int(c->out, 0);
        return;
    }
    int rc = kvmap_set(c->db, dst->ptr, dst->len, val, vlen, exp, c->now_ms);
    free(val);
    if (rc < 0) {
        cmd_reply_kvmap_error(c, rc);
        return;
    }
    kvmap_del(c->db, src->ptr, src->len, c->now_ms);
    if (nx)
        resp_int(c->out, 1);
    else
        cmd_reply_ok(c);
}

/* COPY's options, parsed the way Redis 7.0 does. Returns false after
 * replying an error. */
struct copy_opts {
    int64_t dstdb;  /* destination database */
    bool replace;   /* overwrite an existing destination */
};

static bool copy_parse(size_t argc, const struct resp_arg *argv, unsigned curdb, unsigned ndb,
                       struct copy_opts *o, struct rbuf *err)
{
    o->dstdb = curdb;
    o->replace = false;
    for (size_t j = 3; j < argc; j++) {
        if (cmd_arg_eq(&argv[j], "replace")) {
            o->replace = true;
        } else if (cmd_arg_eq(&argv[j], "db") && j + 1 < argc) {
            if (!int64str_parse(argv[j + 1].ptr, argv[j + 1].len, &o->dstdb)) {
                resp_error(err, "ERR value is not an integer or out of range");
                return false;
            }
            j++;
        } else {
            resp_error(err, "ERR syntax error");
            return false;
        }
    }
    if (o->dstdb < 0 || o->dstdb >= (int64_t)ndb) {
        resp_error(err, "ERR DB index is out of range");
        return false;
    }
    if ((unsigned)o->dstdb == curdb && argv[1].len == argv[2].len &&
        memcmp(argv[1].ptr, argv[2].ptr, argv[1].len) == 0) {
        resp_error(err, "ERR source and destination objects are the same");
        return false;
    }
    return true;
}

/* Write src's value (and TTL) to dst in database dstdb of this shard.
 * Returns 1 if written, 0 if skipped (nx and dst exists), <0 on error (the
 * reply is written). */
static int put_value(struct cmd_ctx *c, unsigned dstdb, const struct resp_arg *dst,
                     const char *val, size_t vlen, int64_t exp, bool nx)
{
    struct kvmap *m = shard_db(c->shard, dstdb);
    if (kvmap_find(m, dst->ptr, dst->len, c->now_ms)) {
        if (nx)
            return 0;
        kvmap_del(m, dst->ptr, dst->len, c->now_ms);
    }
    int rc = kvmap_set(m, dst->ptr, dst->len, val, vlen, exp, c->now_ms);
    if (rc < 0) {
        cmd_reply_kvmap_error(c, rc);
        return rc;
    }
    return 1;
}

/* COPY with both keys on this shard. */
static void copy_exec(struct cmd_ctx *c)
{
    struct copy_opts o;
    if (!copy_parse(c->argc, c->argv, c->dbidx, c->shard->ndb, &o, c->out))
        return;
    struct kventry *e = find(c, &c->argv[1]);
    if (!e) {
        resp_int(c->out, 0);
        return;
    }
    int64_t exp = kventry_expire(e);
    size_t vlen;
    char *val = copy_value(e, &vlen);
    if (!val) {
        resp_error(c->out, "ERR out of memory");
        return;
    }
    int rc = put_value(c, (unsigned)o.dstdb, &c->argv[2], val, vlen, exp, !o.replace);
    free(val);
    if (rc >= 0)
        resp_int(c->out, rc);
}

/* MOVE key db: source and destination are the same key, so one shard. */
static void move_exec(struct cmd_ctx *c)
{
    int64_t db;
    if (!cmd_arg_int64(c, &c->argv[2], &db))
        return;
    if (db < 0 || db >= (int64_t)c->shard->ndb) {
        resp_error(c->out, "ERR DB index is out of range");
        return;
    }
    if ((unsigned)db == c->dbidx) {
        resp_error(c->out, "ERR source and destination objects are the same");
        return;
    }
    const struct resp_arg *k = &c->argv[1];
    struct kventry *e = find(c, k);
    if (!e) {
        resp_int(c->out, 0);
        return;
    }
    struct kvmap *dst = shard_db(c->shard, (unsigned)db);
    if (kvmap_find(dst, k->ptr, k->len, c->now_ms)) {
        resp_int(c->out, 0);
        return;
    }
    int64_t exp = kventry_expire(e);
    size_t vlen;
    char *val = copy_value(e, &vlen);
    if (!val) {
        resp_error(c->out, "ERR out of memory");
        return;
    }
    int rc = kvmap_set(dst, k->ptr, k->len, val, vlen, exp, c->now_ms);
    free(val);
    if (rc < 0) {
        cmd_reply_kvmap_error(c, rc);
        return;
    }
    kvmap_del(c->db, k->ptr, k->len, c->now_ms);
    resp_int(c->out, 1);
}

/* ---- Parts (run on each shard of a fan-out) ------------------------------ */

static void mget_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    size_t n = c->argc - 1;
    r->ends = malloc(n * sizeof *r->ends);
    if (!r->ends) {
        c->out->oom = true;
        return;
    }
    r->nends = n;
    for (size_t i = 0; i < n; i++) {
        struct kventry *e = find(c, &c->argv[i + 1]);
        if (e)
            reply_entry_value(c->out, e);
        else
            resp_null(c->out, c->proto);
        r->ends[i] = c->out->len;
    }
}

static void mset_part(struct cmd_ctx *c)
{
    set_pairs(c); /* only an error leaves bytes in out */
}

static void del_part(struct cmd_ctx *c)
{
    ((struct req *)c->priv)->ival = count_deleted(c);
}

static void exists_part(struct cmd_ctx *c)
{
    ((struct req *)c->priv)->ival = count_existing(c);
}

static void fetch_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    struct kventry *e = find(c, &c->argv[1]);
    if (!e)
        return;
    size_t vlen;
    char buf[21];
    const char *v = kventry_value(e, buf, &vlen);
    r->ival = kventry_expire(e);
    r->uval = 1;
    if (rbuf_append(c->out, v, vlen) != 0)
        return; /* oom is set; the merge reports it */
    if (cmd_arg_eq(&c->argv[0], "take"))
        kvmap_del(c->db, c->argv[1].ptr, c->argv[1].len, c->now_ms);
}

/* Write argv[2] as the value of argv[1] with TTL i_arg; argv[0] "putnx"
 * skips an existing key. ival: 1 written, 0 skipped; errors go to out. */
static void put_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    bool nx = cmd_arg_eq(&c->argv[0], "putnx");
    int rc = put_value(c, c->dbidx, &c->argv[1], c->argv[2].ptr, c->argv[2].len, r->i_arg, nx);
    r->ival = rc > 0 ? 1 : 0;
}

/* ---- Merging ------------------------------------------------------------- */

/* If a part failed, pass its error (or an OOM error) on. */
static bool forward_error(struct req **parts, size_t n, struct rbuf *out)
{
    for (size_t i = 0; i < n; i++) {
        struct rbuf *o = &parts[i]->out;
        if (o->oom) {
            resp_error(out, "ERR out of memory");
            return true;
        }
        if (o->len > 0 && o->ptr[0] == '-') {
            rbuf_append(out, o->ptr, o->len);
            return true;
        }
    }
    return false;
}

/* MGET: the part of each key, so the merge walks keys in request order. */
struct mget_state {
    size_t nkeys;        /* keys in the command */
    unsigned *key_part;  /* part index of key i */
    size_t *cursor;      /* next element of each part */
};

static bool mget_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct mget_state *st = f->state;
    bool bad = false;
    for (size_t i = 0; i < n; i++)
        if (parts[i]->out.oom || !parts[i]->ends)
            bad = true;
    if (bad) {
        resp_error(out, "ERR out of memory");
    } else {
        resp_array(out, st->nkeys);
        for (size_t k = 0; k < st->nkeys; k++) {
            struct req *p = parts[st->key_part[k]];
            size_t e = st->cursor[st->key_part[k]]++;
            size_t from = e ? p->ends[e - 1] : 0;
            rbuf_append(out, p->out.ptr + from, p->ends[e] - from);
        }
    }
    free(st->cursor);
    free(st->key_part);
    free(st);
    return true;
}

bool cmd_multi_sum_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    (void)f;
    if (forward_error(parts, n, out))
        return true;
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += parts[i]->ival;
    resp_int(out, sum);
    return true;
}

bool cmd_multi_ok_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    (void)f;
    if (!forward_error(parts, n, out))
        resp_simple(out, "OK");
    return true;
}

/* ---- Planning ------------------------------------------------------------ */

/* Key k (0-based) of a command whose keys start at argv[1], span apart. */
static const struct resp_arg *key_at(const struct resp_arg *argv, size_t k, size_t span)
{
    return &argv[1 + k * span];
}

/* Route every key; returns the shard if all share one, else -1. ks gets
 * each key's shard. */
static int route_keys(const struct resp_arg *argv, size_t nkeys, size_t span, unsigned *ks)
{
    int one = -2;
    for (size_t k = 0; k < nkeys; k++) {
        const struct resp_arg *a = key_at(argv, k, span);
        ks[k] = shard_group_route(server.group, a->ptr, a->len);
        if (one == -2)
            one = (int)ks[k];
        else if (one != (int)ks[k])
            one = -1;
    }
    return one;
}

/* Add one part per shard that holds keys: [name, then for each of its keys
 * the first `take` of the key's `span` arguments], in shard order. name
 * NULL keeps the command's own name. key_part (optional) gets each key's
 * part index. Returns 0, or -1 on out-of-memory (parts added so far stay
 * in f, which the caller aborts). */
static int add_key_parts(struct fan *f, const char *name, cmd_exec_fn exec, size_t nkeys,
                         size_t span, size_t take, const unsigned *ks, unsigned *key_part)
{
    unsigned n = server.nworkers;
    size_t *start = calloc(n, sizeof *start); /* shard s's first slot in all */
    size_t *fill = calloc(n, sizeof *fill);   /* its next free slot */
    unsigned *part_of = calloc(n, sizeof *part_of); /* every entry set below; calloc
                                                     * so -O3's flow analysis agrees */
    struct resp_arg *all = malloc((nkeys * take + n) * sizeof *all);
    struct resp_arg cmd = name ? (struct resp_arg){name, strlen(name)} : f->argv[0];
    int rc = -1;
    if (!start || !fill || !part_of || !all)
        goto out;
    for (size_t k = 0; k < nkeys; k++)
        fill[ks[k]]++; /* count first */
    size_t pos = 0;
    for (unsigned s = 0; s < n; s++) {
        size_t cnt = fill[s];
        start[s] = pos;
        fill[s] = pos;
        if (cnt) {
            all[pos] = cmd;
            fill[s] = pos + 1;
            pos += 1 + cnt * take;
        }
    }
    for (size_t k = 0; k < nkeys; k++) {
        const struct resp_arg *a = key_at(f->argv, k, span);
        for (size_t j = 0; j < take; j++)
            all[fill[ks[k]]++] = a[j];
    }
    unsigned idx = 0;
    for (unsigned s = 0; s < n; s++) {
        if (fill[s] == start[s]) {
            part_of[s] = UINT32_MAX;
            continue;
        }
        if (!dispatch_part(f, s, exec, fill[s] - start[s], &all[start[s]]))
            goto out;
        part_of[s] = idx++;
    }
    if (key_part)
        for (size_t k = 0; k < nkeys; k++)
            key_part[k] = part_of[ks[k]];
    rc = 0;
out:
    free(start);
    free(fill);
    free(part_of);
    free(all);
    return rc;
}

void cmd_multi_reply_error(struct conn *c, const char *err)
{
    struct rbuf *out = dispatch_reply_buf(c);
    if (out)
        resp_error(out, err);
    else
        conn_close(c);
}

/* ---- Where a plan goes: standalone or inside EXEC ------------------------ */

struct rbuf *cmd_multi_plan_reply_buf(struct mplan *p)
{
    if (p->t) {
        p->sync = true;
        return p->out;
    }
    struct rbuf *out = dispatch_reply_buf(p->c);
    if (!out)
        conn_close(p->c);
    return out;
}

void cmd_multi_plan_error(struct mplan *p, const char *err)
{
    struct rbuf *out = cmd_multi_plan_reply_buf(p);
    if (out)
        resp_error(out, err);
}

/* A whole command run as the one part of a fan: its reply is the part's. */
static bool copy_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    (void)f;
    if (n != 1 || parts[0]->out.oom)
        resp_error(out, "ERR out of memory");
    else
        rbuf_append(out, parts[0]->out.ptr, parts[0]->out.len);
    return true;
}

void cmd_multi_plan_route(struct mplan *p, const struct cmd_def *d, unsigned shard,
                          cmd_exec_fn exec, size_t argc, const struct resp_arg *argv)
{
    if (!p->t) {
        dispatch_route(p->c, d, shard, exec, argc, argv);
        return;
    }
    struct fan *f = dispatch_fan_start_sub(p->c, argc, argv, copy_step, p->t, p->out,
                                           p->finished, p->arg);
    if (!f) {
        cmd_multi_plan_error(p, "ERR out of memory");
        return;
    }
    if (!dispatch_part(f, shard, exec, f->argc, f->argv)) {
        dispatch_fan_abort(f, "ERR out of memory"); /* runs finished */
        return;
    }
    dispatch_fan_go(f);
}

struct fan *cmd_multi_plan_fan(struct mplan *p, const struct cmd_def *d, size_t argc,
                               const struct resp_arg *argv, fan_step_fn step, bool one_round)
{
    if (p->t) {
        struct fan *f = dispatch_fan_start_sub(p->c, argc, argv, step, p->t, p->out, p->finished,
                                               p->arg);
        if (!f)
            cmd_multi_plan_error(p, "ERR out of memory");
        return f;
    }
    struct fan *f = dispatch_fan_start(p->c, argc, argv, step);
    if (!f)
        return NULL;
    f->txn = txn_create();
    if (!f->txn) {
        dispatch_fan_abort(f, "ERR out of memory");
        return NULL;
    }
    f->own_txn = true;
    f->one_round = one_round;
    p->c->txn_pending++; /* dropped when the fan finishes */
    if (cmd_multi_lock_keys(f->txn, d, f->db, f->argc, f->argv) != 0) {
        dispatch_fan_abort(f, "ERR out of memory");
        return NULL;
    }
    /* No barrier: the client's next commands reach every shard after this
     * transaction's SCHEDULE (conn->txn_pending keeps even those for this
     * worker's own shard in the mailbox), so they wait on its locks. */
    return f;
}

static void plan_ready(void *arg)
{
    dispatch_fan_go(arg);
}

void cmd_multi_plan_go(struct mplan *p, struct fan *f)
{
    if (p->t || !f->txn) {
        dispatch_fan_go(f);
        return;
    }
    if (txn_start(f->txn, plan_ready, f) != 0) {
        f->txn = NULL; /* txn_start freed it */
        f->own_txn = false;
        dispatch_fan_abort(f, "ERR out of memory");
    }
}

int cmd_multi_lock_keys(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                        const struct resp_arg *argv)
{
    if (d->flags & CMD_ALLSHARDS)
        return txn_lock_all(t, !(d->flags & CMD_READONLY));
    if (d->first_key <= 0 || (size_t)d->first_key >= argc)
        return 0;
    bool excl = !(d->flags & CMD_READONLY);
    if (d->exec == copy_exec) {
        /* Source read, destination written, maybe in another database. */
        struct copy_opts o;
        struct rbuf ignore;
        rbuf_init(&ignore);
        unsigned dstdb = db;
        if (copy_parse(argc, argv, db, UINT32_MAX, &o, &ignore))
            dstdb = (unsigned)o.dstdb;
        rbuf_deinit(&ignore);
        if (txn_lock_key(t, db, argv[1].ptr, argv[1].len, false) != 0)
            return -1;
        return txn_lock_key(t, dstdb, argv[2].ptr, argv[2].len, true);
    }
    size_t last = d->last_key < 0 ? argc - (size_t)(-(int64_t)d->last_key) : (size_t)d->last_key;
    if (last >= argc)
        last = argc - 1;
    size_t step = d->key_step > 0 ? (size_t)d->key_step : 1;
    for (size_t i = (size_t)d->first_key; i <= last; i += step)
        if (txn_lock_key(t, db, argv[i].ptr, argv[i].len, excl) != 0)
            return -1;
    if (d->exec == move_exec) {
        /* MOVE writes the same key in the target database too. */
        int64_t to;
        if (argc == 3 && int64str_parse(argv[2].ptr, argv[2].len, &to) && to >= 0 &&
            to < INT32_MAX)
            return txn_lock_key(t, (unsigned)to, argv[1].ptr, argv[1].len, true);
    }
    return 0;
}

/* MSETNX across shards: round 0 asks every shard whether any of its keys
 * exists, round 1 sets them all. Both rounds run in one transaction that
 * holds every key exclusively, so nobody sees or changes the keys between
 * them. */
struct msetnx_state {
    size_t nkeys;  /* pairs */
    unsigned *ks;  /* shard of each key */
};

static bool msetnx_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct msetnx_state *st = f->state;
    bool finished = true;
    if (forward_error(parts, n, out)) {
        /* done */
    } else if (f->stage == 0) {
        int64_t existing = 0;
        for (size_t i = 0; i < n; i++)
            existing += parts[i]->ival;
        if (existing > 0) {
            resp_int(out, 0);
        } else if (add_key_parts(f, NULL, mset_part, st->nkeys, 2, 2, st->ks, NULL) != 0) {
            resp_error(out, "ERR out of memory");
        } else {
            f->stage = 1;
            finished = false;
        }
    } else {
        resp_int(out, 1);
    }
    if (finished) {
        free(st->ks);
        free(st);
    }
    return finished;
}

/* Plans for commands with keys on possibly several shards. */
static void plan_keys(struct mplan *pl, const struct cmd_def *d, size_t argc,
                      const struct resp_arg *argv)
{
    bool pairs = d->exec == mset_exec || d->exec == msetnx_exec;
    size_t span = pairs ? 2 : 1;
    if (pairs && argc % 2 == 0) {
        struct rbuf *out = cmd_multi_plan_reply_buf(pl);
        if (out)
            resp_errorf(out, "ERR wrong number of arguments for '%s' command", d->name);
        return;
    }
    size_t nkeys = (argc - 1) / span;
    unsigned stack_ks[MULTI_STACK_KEYS];
    unsigned *ks = nkeys <= MULTI_STACK_KEYS ? stack_ks : malloc(nkeys * sizeof *ks);
    if (!ks) {
        cmd_multi_plan_error(pl, "ERR out of memory");
        return;
    }
    int one = route_keys(argv, nkeys, span, ks);
    if (one >= 0) {
        /* Every key on one shard: the whole command runs there, atomically
         * (after any transaction holding its keys there). */
        cmd_multi_plan_route(pl, d, (unsigned)one, d->exec, argc, argv);
        goto out;
    }
    cmd_exec_fn part;
    fan_step_fn step;
    if (d->exec == mget_exec) {
        part = mget_part;
        step = mget_step;
    } else if (d->exec == mset_exec) {
        part = mset_part;
        step = cmd_multi_ok_step;
    } else if (d->exec == msetnx_exec) {
        part = exists_part;
        step = msetnx_step;
    } else if (d->exec == del_exec) {
        part = del_part;
        step = cmd_multi_sum_step;
    } else {
        part = exists_part; /* EXISTS, TOUCH */
        step = cmd_multi_sum_step;
    }
    struct fan *f = cmd_multi_plan_fan(pl, d, argc, argv, step, step != msetnx_step);
    if (!f)
        goto out;
    int rc = 0;
    if (step == mget_step) {
        struct mget_state *st = calloc(1, sizeof *st);
        if (st) {
            st->nkeys = nkeys;
            st->key_part = malloc(nkeys * sizeof *st->key_part);
            st->cursor = calloc(server.nworkers, sizeof *st->cursor);
        }
        if (!st || !st->key_part || !st->cursor) {
            if (st) {
                free(st->key_part);
                free(st->cursor);
            }
            free(st);
            rc = -1;
        } else {
            f->state = st;
            rc = add_key_parts(f, NULL, part, nkeys, 1, 1, ks, st->key_part);
        }
    } else if (step == msetnx_step) {
        struct msetnx_state *st = calloc(1, sizeof *st);
        unsigned *copy = malloc(nkeys * sizeof *copy);
        if (!st || !copy) {
            free(st);
            free(copy);
            rc = -1;
        } else {
            memcpy(copy, ks, nkeys * sizeof *copy);
            st->nkeys = nkeys;
            st->ks = copy;
            f->state = st;
            /* Stage 0 asks about the keys only: [name, k1, k2, ...]. */
            rc = add_key_parts(f, "exists", part, nkeys, 2, 1, ks, NULL);
        }
    } else {
        rc = add_key_parts(f, NULL, part, nkeys, span, span, ks, NULL);
    }
    if (rc != 0) {
        /* Nothing was sent yet: free the command state and answer now. */
        if (f->state && step == mget_step) {
            struct mget_state *st = f->state;
            free(st->key_part);
            free(st->cursor);
            free(st);
        } else if (f->state) {
            struct msetnx_state *st = f->state;
            free(st->ks);
            free(st);
        }
        dispatch_fan_abort(f, "ERR out of memory");
        goto out;
    }
    cmd_multi_plan_go(pl, f);
out:
    if (ks != stack_ks)
        free(ks);
}

/* RENAME, RENAMENX and COPY with keys on two shards. */
struct move_state {
    bool nx;            /* RENAMENX */
    bool copy;          /* COPY (else a rename) */
    bool replace;       /* COPY REPLACE */
    unsigned src_shard; /* shard of argv[1] */
    unsigned dst_shard; /* shard of argv[2] */
    unsigned dstdb;     /* destination database */
};

static bool move_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct move_state *st = f->state;
    const struct resp_arg *src = &f->argv[1], *dst = &f->argv[2];
    bool finished = true;
    /* Fetched values are raw bytes (a value may start with '-'): only the
     * writes of the last round carry error replies. */
    for (size_t i = 0; i < n; i++) {
        if (parts[i]->out.oom) {
            resp_error(out, "ERR out of memory");
            goto done;
        }
    }
    if (f->stage == 2 && forward_error(parts, n, out))
        goto done;
    switch (f->stage) {
    case 0: /* RENAMENX: [exists src, exists dst]; others: fetched src */
        if (st->nx) {
            if (parts[0]->ival == 0) {
                resp_error(out, "ERR no such key");
                break;
            }
            if (parts[1]->ival > 0) {
                resp_int(out, 0);
                break;
            }
            struct resp_arg a[2] = {{"take", 4}, *src};
            if (!dispatch_part(f, st->src_shard, fetch_part, 2, a)) {
                resp_error(out, "ERR out of memory");
                break;
            }
            f->stage = 1;
            finished = false;
            break;
        }
        /* Otherwise stage 0 was the fetch of the source, as stage 1 is
         * for RENAMENX. */
        __attribute__((fallthrough));
    case 1: {
        struct req *got = parts[0];
        if (!got->uval) {
            if (st->copy)
                resp_int(out, 0);
            else
                resp_error(out, "ERR no such key");
            break;
        }
        bool nx = st->copy && !st->replace;
        struct resp_arg a[3] = {{nx ? "putnx" : "put", nx ? 5u : 3u}, *dst,
                                {got->out.ptr ? got->out.ptr : "", got->out.len}};
        struct req *p = dispatch_part(f, st->dst_shard, put_part, 3, a);
        if (!p) {
            resp_error(out, "ERR out of memory");
            break;
        }
        p->i_arg = got->ival;
        p->db = st->dstdb;
        f->stage = 2;
        finished = false;
        break;
    }
    default: /* the write is done */
        if (st->copy)
            resp_int(out, parts[0]->ival);
        else if (st->nx)
            resp_int(out, 1);
        else
            resp_simple(out, "OK");
        break;
    }
done:
    if (finished)
        free(st);
    return finished;
}

static void plan_move(struct mplan *pl, const struct cmd_def *d, size_t argc,
                      const struct resp_arg *argv)
{
    struct conn *c = pl->c;
    bool copy = d->exec == copy_exec;
    struct copy_opts o = {.dstdb = c->db, .replace = false};
    if (copy) {
        struct rbuf err;
        rbuf_init(&err);
        bool ok = copy_parse(argc, argv, c->db, c->w->set.databases, &o, &err);
        if (!ok) {
            struct rbuf *out = cmd_multi_plan_reply_buf(pl);
            if (out)
                rbuf_append(out, err.ptr, err.len);
        }
        rbuf_deinit(&err);
        if (!ok)
            return;
    }
    unsigned ss = shard_group_route(server.group, argv[1].ptr, argv[1].len);
    unsigned ds = shard_group_route(server.group, argv[2].ptr, argv[2].len);
    if (ss == ds) {
        cmd_multi_plan_route(pl, d, ss, d->exec, argc, argv);
        return;
    }
    struct move_state *st = calloc(1, sizeof *st);
    if (!st) {
        cmd_multi_plan_error(pl, "ERR out of memory");
        return;
    }
    st->nx = !copy && argv[0].len == 8;
    st->copy = copy;
    st->replace = o.replace;
    st->src_shard = ss;
    st->dst_shard = ds;
    st->dstdb = (unsigned)o.dstdb;
    struct fan *f = cmd_multi_plan_fan(pl, d, argc, argv, move_step, false);
    if (!f) {
        free(st);
        return;
    }
    f->state = st;
    bool ok;
    if (st->nx) {
        struct resp_arg a1[2] = {{"exists", 6}, f->argv[1]};
        struct resp_arg a2[2] = {{"exists", 6}, f->argv[2]};
        ok = dispatch_part(f, ss, exists_part, 2, a1) && dispatch_part(f, ds, exists_part, 2, a2);
    } else {
        struct resp_arg a[2] = {{copy ? "get" : "take", copy ? 3u : 4u}, f->argv[1]};
        ok = dispatch_part(f, ss, fetch_part, 2, a) != NULL;
    }
    if (!ok) {
        free(st);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    cmd_multi_plan_go(pl, f);
}

/* Commands on every shard. Arguments are checked here, before any part
 * runs, so every error comes from one place. */
void cmd_multi_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                    const struct resp_arg *argv)
{
    if (d->flags & CMD_ALLSHARDS) {
        cmd_allshards_plan(p, d, argc, argv);
    } else if (d->exec == rename_exec || d->exec == copy_exec) {
        plan_move(p, d, argc, argv);
    } else if (d->flags & CMD_MULTIKEY) {
        plan_keys(p, d, argc, argv);
    } else {
        /* A single-key command (inside EXEC): its key's shard. */
        unsigned shard = p->c->w->id;
        if (d->first_key > 0 && (size_t)d->first_key < argc)
            shard = shard_group_route(server.group, argv[d->first_key].ptr,
                                      argv[d->first_key].len);
        cmd_multi_plan_route(p, d, shard, d->exec, argc, argv);
    }
}

void cmd_multi_dispatch(struct conn *c, const struct cmd_def *d, size_t argc,
                        const struct resp_arg *argv)
{
    struct mplan p = {.c = c};
    cmd_multi_plan(&p, d, argc, argv);
}

/* Arity, flags and key positions as Redis 7.0's COMMAND INFO reports them. */
const struct cmd_def cmd_multi_defs[] = {
    {"mget", -2, CMD_READONLY | CMD_FAST | CMD_MULTIKEY, 1, -1, 1, mget_exec,
     "Returns the string values of one or more keys."},
    {"mset", -3, CMD_WRITE | CMD_MULTIKEY, 1, -1, 2, mset_exec,
     "Atomically creates or modifies the string values of one or more keys."},
    {"msetnx", -3, CMD_WRITE | CMD_MULTIKEY, 1, -1, 2, msetnx_exec,
     "Atomically modifies the string values of one or more keys only when all keys don't exist."},
    {"del", -2, CMD_WRITE | CMD_MULTIKEY, 1, -1, 1, del_exec, "Deletes one or more keys."},
    {"unlink", -2, CMD_WRITE | CMD_FAST | CMD_MULTIKEY, 1, -1, 1, del_exec,
     "Asynchronously deletes one or more keys."},
    {"exists", -2, CMD_READONLY | CMD_FAST | CMD_MULTIKEY, 1, -1, 1, exists_exec,
     "Determines whether one or more keys exist."},
    {"touch", -2, CMD_READONLY | CMD_FAST | CMD_MULTIKEY, 1, -1, 1, exists_exec,
     "Returns the number of existing keys out of those specified after updating the time they "
     "were last accessed."},
    {"rename", 3, CMD_WRITE | CMD_MULTIKEY, 1, 2, 1, rename_exec, "Renames a key and overwrites the destination."},
    {"renamenx", 3, CMD_WRITE | CMD_FAST | CMD_MULTIKEY, 1, 2, 1, rename_exec,
     "Renames a key only when the target key name doesn't exist."},
    {"copy", -3, CMD_WRITE | CMD_MULTIKEY, 1, 2, 1, copy_exec, "Copies the value of a key to a new key."},
    {"move", 3, CMD_WRITE | CMD_FAST, 1, 1, 1, move_exec, "Moves a key to another database."},
};
const size_t cmd_multi_ndefs = sizeof cmd_multi_defs / sizeof cmd_multi_defs[0];
