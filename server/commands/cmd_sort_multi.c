/* cmd_sort_multi.c — SORT and SORT_RO when the keys they can touch live on
 * several shards: a fan-out in one transaction, planned and merged on the
 * connection's thread, its parts on the owner shards' threads. Round 0
 * fetches the source on its shard, the next round the BY values from the
 * shards that own those keys, the connection's thread sorts, a round
 * fetches the GET values of the output range only (the reads Redis makes,
 * so keyspace hits and misses agree), and STORE adds a round that writes
 * the list on the destination's shard. The pattern keys are known only
 * once the source is read, so such a transaction declares a shared lock
 * on every shard (txn_lock_all) besides its keys: nobody writes any key
 * between the rounds, and readers are not held up. */
#include <stdlib.h>
#include <string.h>

#include "server/commands/cmd_sort.h"

#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_multi.h"
#include "server/core/server.h"
#include "server/route/dispatch.h"
#include "server/txn/txn.h"

/* ---- Parts of the fan-out (owner shards' threads) ------------------------ */

/* Round 0: argv[1] is the source; its fetch record. */
static void fetch_part(struct cmd_ctx *c)
{
    if (!cmd_sort_fetch(c, &c->argv[1], c->out))
        c->out->oom = true;
}

/* Round 1: argv [_, key, field, key, field, ...] (an empty field: the
 * key's string value); one value record each. */
static void lookup_part(struct cmd_ctx *c)
{
    for (size_t i = 1; i + 1 < c->argc; i += 2) {
        struct sstr f = {c->argv[i + 1].ptr, c->argv[i + 1].len};
        cmd_sort_lookup(c, c->argv[i].ptr, c->argv[i].len, f.len ? &f : NULL, c->out);
    }
}

/* STORE's round: argv [_, dst, values...] (absent GET values come as "",
 * which is what Redis stores for them). Replies an error, or nothing. */
static void store_part(struct cmd_ctx *c)
{
    size_t n = c->argc - 2;
    struct sstr *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (struct sstr){c->argv[2 + i].ptr, c->argv[2 + i].len};
    int rc = cmd_sort_store(c, &c->argv[1], v, n);
    if (rc < 0)
        cmd_reply_kvmap_error(c, rc);
    free(v);
}

/* ---- The fan-out's merge (connection's thread) --------------------------- */

/* Stages of a SORT split over shards (fan.stage). */
enum {
    ST_FETCH = 0, /* round 0: the source */
    ST_BY = 1,    /* BY values */
    ST_GET = 2,   /* GET values of the output range */
    ST_STORE = 3, /* the destination written */
};

/* A SORT split over shards (fan.state). */
struct split {
    struct sort_opts o;    /* options (views into f->argv) */
    struct sort_run r;     /* the run, views into the buffers below */
    struct rbuf src;       /* round 0's fetch record, kept */
    struct rbuf byv, getv; /* the BY and GET rounds' value records */
    size_t *lk;            /* this lookup round's list (cmd_sort_lookup_list) */
    unsigned *lk_shard;    /* the shard of each of its keys */
    size_t nlk;            /* its length */
    int64_t stored;        /* STORE: the reply */
};

static void split_free(struct split *s)
{
    cmd_sort_run_free(&s->r);
    free(s->o.get);
    rbuf_deinit(&s->src);
    rbuf_deinit(&s->byv);
    rbuf_deinit(&s->getv);
    free(s->lk);
    free(s->lk_shard);
    free(s);
}

static bool parts_oom(struct req **parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i]->out.oom)
            return true;
    return false;
}

/* Send a lookup round for s->lk: one part per shard that owns some of its
 * keys, in shard order. Returns 1 when sent, 0 when there is nothing to
 * look up, -1 on out-of-memory. */
static int send_lookups(struct fan *f, struct split *s)
{
    struct sort_run *r = &s->r;
    unsigned nw = server.nworkers;
    struct rbuf keys, one;
    rbuf_init(&keys);
    rbuf_init(&one);
    size_t n = s->nlk;
    size_t *koff = malloc((n ? n : 1) * sizeof *koff);
    size_t *klen = malloc((n ? n : 1) * sizeof *klen);
    struct sstr *field = malloc((n ? n : 1) * sizeof *field);
    free(s->lk_shard);
    s->lk_shard = malloc((n ? n : 1) * sizeof *s->lk_shard);
    struct resp_arg *a = malloc((2 * n + 1) * sizeof *a);
    int rc = -1;
    if (!koff || !klen || !field || !s->lk_shard || !a)
        goto out;
    for (size_t i = 0; i < n; i++) {
        klen[i] = cmd_sort_lookup_key(r, s->lk[i], &one, &field[i]);
        koff[i] = keys.len;
        rbuf_append(&keys, one.ptr ? one.ptr : "", klen[i]);
    }
    if (keys.oom || one.oom)
        goto out;
    for (size_t i = 0; i < n; i++)
        s->lk_shard[i] = shard_group_route(server.group, keys.ptr + koff[i], klen[i]);
    rc = 0;
    for (unsigned sh = 0; sh < nw; sh++) {
        size_t na = 0;
        a[na++] = (struct resp_arg){"sortget", 7};
        for (size_t i = 0; i < n; i++) {
            if (s->lk_shard[i] != sh)
                continue;
            a[na++] = (struct resp_arg){keys.ptr + koff[i], klen[i]};
            a[na++] = (struct resp_arg){field[i].p, field[i].len};
        }
        if (na == 1)
            continue;
        if (!dispatch_part(f, sh, lookup_part, na, a)) {
            rc = -1;
            goto out;
        }
        rc = 1;
    }
out:
    rbuf_deinit(&keys);
    rbuf_deinit(&one);
    free(koff);
    free(klen);
    free(field);
    free(a);
    return rc;
}

/* A lookup round is back: copy its records into buf (the parts go with
 * the next round) and point r->vals at them. */
static bool take_lookups(struct split *s, struct req **parts, size_t n, struct rbuf *buf)
{
    unsigned nw = server.nworkers;
    size_t *part_of = malloc(nw * sizeof *part_of);
    size_t *off = calloc(n ? n : 1, sizeof *off);
    bool ok = part_of && off;
    if (ok) {
        /* Parts went out in shard order, one per shard with keys. */
        size_t idx = 0;
        for (unsigned sh = 0; sh < nw; sh++) {
            bool any = false;
            for (size_t i = 0; i < s->nlk && !any; i++)
                any = s->lk_shard[i] == sh;
            part_of[sh] = any ? idx++ : SIZE_MAX;
        }
        for (size_t i = 0; i < n; i++) {
            off[i] = buf->len;
            rbuf_append(buf, parts[i]->out.ptr, parts[i]->out.len);
        }
        ok = !buf->oom;
    }
    for (size_t i = 0; ok && i < s->nlk; i++) {
        size_t pi = part_of[s->lk_shard[i]];
        ok = pi < n && cmd_sort_parse_value(buf, &off[pi], &s->r.vals[s->lk[i]]);
    }
    free(part_of);
    free(off);
    return ok;
}

/* Start the lookup round for stage st (ST_BY or ST_GET). Returns 1 when
 * a round went out, 0 when it had nothing to do, -1 on out-of-memory. */
static int start_lookups(struct fan *f, struct split *s, int st)
{
    free(s->lk);
    s->lk = cmd_sort_lookup_list(&s->r, st == ST_GET, &s->nlk);
    if (!s->lk)
        return -1;
    int rc = s->nlk ? send_lookups(f, s) : 0;
    if (rc > 0)
        f->stage = st;
    return rc;
}

/* Reply, or send the STORE round. Returns true when finished. */
static bool output(struct fan *f, struct split *s, struct rbuf *out)
{
    size_t n = 0;
    struct sstr *res = cmd_sort_run_output(&s->r, &n);
    bool finished = true;
    if (!res) {
        resp_error(out, "ERR out of memory");
    } else if (!s->o.store) {
        cmd_sort_reply(out, f->proto, res, n);
    } else {
        struct resp_arg *a = malloc((n + 2) * sizeof *a);
        if (a) {
            a[0] = (struct resp_arg){"sortstore", 9};
            a[1] = *s->o.store;
            for (size_t i = 0; i < n; i++)
                a[2 + i] = res[i].p ? (struct resp_arg){res[i].p, res[i].len}
                                    : (struct resp_arg){"", 0};
        }
        unsigned ds = shard_group_route(server.group, s->o.store->ptr, s->o.store->len);
        if (!a || !dispatch_part(f, ds, store_part, n + 2, a)) {
            resp_error(out, "ERR out of memory");
        } else {
            s->stored = (int64_t)n;
            f->stage = ST_STORE;
            finished = false;
        }
        free(a);
    }
    free(res);
    return finished;
}

/* The BY values are in: sort, then fetch the GET values or go on. */
static bool after_by(struct fan *f, struct split *s, struct rbuf *out)
{
    int rc = cmd_sort_run_sort(&s->r);
    if (rc == 0) {
        resp_error(out, "ERR One or more scores can't be converted into double");
        return true;
    }
    if (rc > 0)
        rc = start_lookups(f, s, ST_GET);
    if (rc < 0) {
        resp_error(out, "ERR out of memory");
        return true;
    }
    return rc > 0 ? false : output(f, s, out);
}

static bool split_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct split *s = f->state;
    bool finished = true;
    if (parts_oom(parts, n)) {
        resp_error(out, "ERR out of memory");
    } else if (f->stage == ST_FETCH) {
        /* The fetch record outlives round 0's parts: copy it. */
        size_t off = 0;
        rbuf_append(&s->src, parts[0]->out.ptr, parts[0]->out.len);
        if (s->src.oom || !cmd_sort_parse_source(&s->src, &off, &s->r.type, &s->r.el, &s->r.n) ||
            (s->r.type != SRC_WRONG && !cmd_sort_run_prepare(&s->r))) {
            resp_error(out, "ERR out of memory");
        } else if (s->r.type == SRC_WRONG) {
            resp_error(out, "WRONGTYPE Operation against a key holding the wrong kind of value");
        } else {
            int rc = start_lookups(f, s, ST_BY);
            if (rc < 0)
                resp_error(out, "ERR out of memory");
            else
                finished = rc > 0 ? false : after_by(f, s, out);
        }
    } else if (f->stage == ST_BY) {
        if (!take_lookups(s, parts, n, &s->byv))
            resp_error(out, "ERR out of memory");
        else
            finished = after_by(f, s, out);
    } else if (f->stage == ST_GET) {
        if (!take_lookups(s, parts, n, &s->getv))
            resp_error(out, "ERR out of memory");
        else
            finished = output(f, s, out);
    } else {
        const struct rbuf *o = &parts[0]->out;
        if (o->len > 0 && o->ptr[0] == '-')
            rbuf_append(out, o->ptr, o->len);
        else
            resp_int(out, s->stored);
    }
    if (finished)
        split_free(s);
    return finished;
}

/* ---- Planning (connection's thread) -------------------------------------- */

static void plan_sort(struct mplan *p, const struct cmd_def *d, size_t argc,
                      const struct resp_arg *argv)
{
    bool readonly = (d->flags & CMD_READONLY) != 0;
    struct split *s = calloc(1, sizeof *s);
    const char *err = "ERR out of memory";
    if (!s || !cmd_sort_parse_opts(argc, argv, readonly, &s->o, &err)) {
        if (s)
            free(s->o.get);
        free(s);
        cmd_multi_plan_error(p, err);
        return;
    }
    unsigned ss = shard_group_route(server.group, argv[1].ptr, argv[1].len);
    bool one = server.nworkers == 1 || !cmd_sort_reads_keys(&s->o);
    if (one && s->o.store)
        one = shard_group_route(server.group, s->o.store->ptr, s->o.store->len) == ss;
    if (one) {
        /* Everything it can touch is on the source's shard. */
        free(s->o.get);
        free(s);
        cmd_multi_plan_route(p, d, ss, d->exec, argc, argv);
        return;
    }
    struct fan *f = cmd_multi_plan_fan(p, d, argc, argv, split_step, false);
    if (!f) {
        free(s->o.get);
        free(s);
        return;
    }
    /* The options again, as views into the fan's own copy of argv. */
    free(s->o.get);
    if (!cmd_sort_parse_opts(f->argc, f->argv, readonly, &s->o, &err)) {
        free(s->o.get);
        free(s);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    s->r.o = &s->o;
    rbuf_init(&s->src);
    rbuf_init(&s->byv);
    rbuf_init(&s->getv);
    f->state = s;
    struct resp_arg a[2] = {{"sortfetch", 9}, f->argv[1]};
    if (!dispatch_part(f, ss, fetch_part, 2, a)) {
        f->state = NULL;
        split_free(s);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    cmd_multi_plan_go(p, f);
}

/* Patterns read keys no spec names: a shared lock on every shard keeps
 * them still between the rounds (see the file comment). */
static int lock_patterns(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                         const struct resp_arg *argv)
{
    (void)db;
    struct sort_opts o;
    const char *err;
    bool ok = cmd_sort_parse_opts(argc, argv, (d->flags & CMD_READONLY) != 0, &o, &err);
    bool reads = ok && cmd_sort_reads_keys(&o);
    free(o.get);
    return reads ? txn_lock_all(t, false) : 0;
}

const struct cmd_plan cmd_sort_plan = {.plan = plan_sort, .lock_more = lock_patterns};

