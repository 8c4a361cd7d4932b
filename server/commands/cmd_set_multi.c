/* cmd_set_multi.c — the multi-key set commands across shards: SINTER,
 * SINTERCARD, SUNION, SDIFF (one round: each shard sends its source keys'
 * members, the connection's thread computes the reply), their STORE forms
 * (a second round writes the destination on its shard) and SMOVE (check
 * both keys, add to the destination, then remove from the source). Every
 * round runs inside one transaction that holds all the keys (server/txn/txn.h),
 * so nobody sees a state between rounds. Planning and merging run on the
 * connection's thread, parts on the owner shards' threads. */
#include <stdlib.h>
#include <string.h>

#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_multi.h"
#include "server/commands/cmd_set.h"
#include "server/route/dispatch.h"
#include "server/core/server.h"
#include "shard/tset.h"

/* Status byte of each key in a fetch part's output. */
#define FETCH_MISSING '0'
#define FETCH_SET '1'
#define FETCH_WRONG 'W'

/* SMOVE's checks: ival of its round-0 parts. */
enum {
    CHK_MISSING = 0,   /* no such key */
    CHK_SET = 1,       /* a set (source: without the member) */
    CHK_MEMBER = 2,    /* the source set holds the member */
    CHK_WRONG = -1,    /* another type */
};

/* What an algebra command does. */
struct set_kind {
    enum setalg_op op;    /* its operation */
    bool store;           /* writes argv[1] */
    bool card;            /* SINTERCARD */
};

enum { K_SINTER, K_SINTERCARD, K_SINTERSTORE, K_SUNION, K_SUNIONSTORE, K_SDIFF, K_SDIFFSTORE };

static const struct set_kind kinds[] = {
    [K_SINTER] = {SETALG_INTER, false, false},
    [K_SINTERCARD] = {SETALG_INTER, false, true},
    [K_SINTERSTORE] = {SETALG_INTER, true, false},
    [K_SUNION] = {SETALG_UNION, false, false},
    [K_SUNIONSTORE] = {SETALG_UNION, true, false},
    [K_SDIFF] = {SETALG_DIFF, false, false},
    [K_SDIFFSTORE] = {SETALG_DIFF, true, false},
};

/* A cross-shard algebra command's state (fan.state). */
struct alg_state {
    const struct set_kind *k; /* what it is */
    size_t first;             /* argv index of the first source */
    size_t nsrc;              /* sources */
    size_t limit;             /* SINTERCARD's LIMIT, 0 = none */
    unsigned *src_part;       /* round-0 part of each source */
    unsigned dst_shard;       /* STORE: shard of argv[1] */
    int64_t stored;           /* STORE: the result's size, the reply */
};

/* SMOVE across two shards (fan.state). */
struct move_state {
    unsigned src_shard; /* shard of argv[1] */
    unsigned dst_shard; /* shard of argv[2] */
};

/* ---- Parts (owner shard's thread) ---------------------------------------- */

struct fetch_ctx {
    struct rbuf *out; /* the part's output */
};

static void fetch_member(void *arg, const char *m, size_t len)
{
    struct fetch_ctx *x = arg;
    uint32_t l = (uint32_t)len;
    rbuf_append(x->out, &l, sizeof l);
    rbuf_append(x->out, m, len);
}

/* argv[1..]: source keys. For each, a status byte, then for a set its
 * member count (8 bytes) and each member as a 4-byte length and its bytes.
 * ival: 1 when some key has another type. */
static void fetch_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    r->ival = 0;
    for (size_t i = 1; i < c->argc; i++) {
        /* Sources are reads, also for the STORE forms (Redis 7.0). */
        struct kventry *e = cmd_key_read(
            c, kvmap_find(c->db, c->argv[i].ptr, c->argv[i].len, c->now_ms), c->argv[i].ptr,
            c->argv[i].len);
        char st = !e ? FETCH_MISSING : kventry_type(e) == TVAL_SET ? FETCH_SET : FETCH_WRONG;
        rbuf_append(c->out, &st, 1);
        if (st == FETCH_WRONG)
            r->ival = 1;
        if (st != FETCH_SET)
            continue;
        struct tval *tv = kventry_tval(e);
        uint64_t n = tval_len(tv);
        rbuf_append(c->out, &n, sizeof n);
        struct fetch_ctx x = {c->out};
        tset_each(tv, fetch_member, &x);
    }
}

/* argv[0]: the STORE command's name (cmd_set_store_name), argv[1]:
 * destination, argv[2..]: the result's members. Replaces the destination
 * (deletes it for no member); an error reply on failure. */
static void store_part(struct cmd_ctx *c)
{
    size_t n = c->argc - 2;
    const struct tset_member **res = malloc((n ? n : 1) * sizeof *res);
    struct tset_member *v = malloc((n ? n : 1) * sizeof *v);
    if (!res || !v) {
        free(res);
        free(v);
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        v[i].ptr = c->argv[2 + i].ptr;
        v[i].len = c->argv[2 + i].len;
        res[i] = &v[i];
    }
    enum setalg_op op = cmd_arg_eq(&c->argv[0], "sinterstore")   ? SETALG_INTER
                        : cmd_arg_eq(&c->argv[0], "sunionstore") ? SETALG_UNION
                                                                 : SETALG_DIFF;
    int rc = cmd_set_store(c, op, c->argv[1].ptr, c->argv[1].len, res, n);
    if (rc < 0)
        cmd_reply_kvmap_error(c, rc);
    free(res);
    free(v);
}

/* SMOVE round 0 on the source's shard: argv [_, src, member]; on the
 * destination's: argv [_, dst]. ival: CHK_*. */
static void check_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    struct kventry *e = kvmap_find(c->db, c->argv[1].ptr, c->argv[1].len, c->now_ms);
    if (!e)
        r->ival = CHK_MISSING;
    else if (kventry_type(e) != TVAL_SET)
        r->ival = CHK_WRONG;
    else if (c->argc > 2 && tset_has(kventry_tval(e), c->argv[2].ptr, c->argv[2].len))
        r->ival = CHK_MEMBER;
    else
        r->ival = CHK_SET;
}

/* SMOVE's writes: argv ["add"|"rem", key, member]. The transaction holds
 * both keys, so the checks of round 0 still hold. Errors reply. */
static void move_write_part(struct cmd_ctx *c)
{
    const struct resp_arg *key = &c->argv[1], *m = &c->argv[2];
    struct mem_acct *a = kvmap_acct(c->db);
    struct kventry *e = kvmap_find_w(c->db, key->ptr, key->len, c->now_ms);
    if (e && kventry_type(e) != TVAL_SET) {
        cmd_reply_wrongtype(c); /* (not after round 0's check) */
        return;
    }
    if (cmd_arg_eq(&c->argv[0], "rem")) {
        if (e) {
            struct tval *tv = kventry_tval(e);
            tset_remove(a, tv, m->ptr, m->len);
            cmd_key_changed_drop_empty(c, NOTIFY_SET, "srem", key, tv);
        }
        return;
    }
    int rc;
    if (e) {
        rc = tset_add(a, kventry_tval(e), m->ptr, m->len);
    } else {
        struct tval *tv = tset_create(a, m->ptr, m->len, 1);
        rc = tv ? tset_add(a, tv, m->ptr, m->len) : KVMAP_ENOMEM;
        if (rc >= 0)
            rc = kvmap_set_tval(c->db, key->ptr, key->len, tv, KVMAP_NO_EXPIRE, c->now_ms);
        if (rc < 0 && tv)
            tval_free(a, tv);
    }
    if (rc < 0) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
        return;
    }
    if (rc > 0) /* (the member was new: round 0 said so, but be exact) */
        cmd_key_modified(c, NOTIFY_SET, "sadd", key->ptr, key->len);
}

/* ---- Merging (connection's thread) --------------------------------------- */

static bool parts_oom(struct req **parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i]->out.oom)
            return true;
    return false;
}

/* An error reply left by a write part, forwarded; true if there was one. */
static bool forward_error(struct req **parts, size_t n, struct rbuf *out)
{
    for (size_t i = 0; i < n; i++) {
        const struct rbuf *o = &parts[i]->out;
        if (o->len > 0 && o->ptr[0] == '-') {
            rbuf_append(out, o->ptr, o->len);
            return true;
        }
    }
    return false;
}

/* Read one source's record of a fetch part at *off into s (views into
 * the part's bytes). False when the bytes are short (never, unless a part
 * lost its output). */
static bool parse_source(const struct rbuf *o, size_t *off, struct setalg_src *s)
{
    if (*off >= o->len)
        return false;
    char st = o->ptr[(*off)++];
    if (st != FETCH_SET) {
        s->missing = true;
        return true;
    }
    uint64_t n;
    if (o->len - *off < sizeof n)
        return false;
    memcpy(&n, o->ptr + *off, sizeof n);
    *off += sizeof n;
    /* Each member takes at least its 4-byte length. */
    if (n > (o->len - *off) / 4)
        return false;
    s->v = malloc((n ? n : 1) * sizeof *s->v);
    if (!s->v)
        return false;
    s->own_v = true;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t l;
        if (o->len - *off < sizeof l)
            return false;
        memcpy(&l, o->ptr + *off, sizeof l);
        *off += sizeof l;
        if (o->len - *off < l)
            return false;
        s->v[i].ptr = o->ptr + *off;
        s->v[i].len = l;
        *off += l;
    }
    s->n = (size_t)n;
    return true;
}

static void alg_state_free(struct alg_state *st)
{
    free(st->src_part);
    free(st);
}

/* Round 0 is back: compute; reply, or send the result to the destination's
 * shard. Returns true when finished. */
static bool alg_compute(struct fan *f, struct alg_state *st, struct req **parts, size_t n,
                        struct rbuf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (parts[i]->ival) {
            resp_error(out, "WRONGTYPE Operation against a key holding the wrong kind of value");
            return true;
        }
    }
    struct setalg_src *src = calloc(st->nsrc, sizeof *src);
    size_t *off = calloc(n, sizeof *off);
    const struct tset_member **res = NULL;
    size_t nres = 0;
    bool finished = true, ok = src && off;
    for (size_t i = 0; ok && i < st->nsrc; i++)
        ok = parse_source(&parts[st->src_part[i]]->out, &off[st->src_part[i]], &src[i]);
    if (ok)
        ok = setalg_run(st->k->op, src, st->nsrc, st->k->card ? st->limit : 0, &res, &nres) == 0;
    if (!ok) {
        resp_error(out, "ERR out of memory");
    } else if (st->k->card) {
        resp_int(out, (int64_t)nres);
    } else if (!st->k->store) {
        cmd_set_reply_members(out, f->proto, res, nres);
    } else {
        /* [name, dst, members...]: dispatch_part copies them. */
        struct resp_arg *a = malloc((nres + 2) * sizeof *a);
        if (a) {
            const char *name = cmd_set_store_name(st->k->op);
            a[0] = (struct resp_arg){name, strlen(name)};
            a[1] = f->argv[1];
            for (size_t i = 0; i < nres; i++)
                a[2 + i] = (struct resp_arg){res[i]->ptr, res[i]->len};
        }
        if (!a || !dispatch_part(f, st->dst_shard, store_part, nres + 2, a)) {
            resp_error(out, "ERR out of memory");
        } else {
            st->stored = (int64_t)nres;
            f->stage = 1;
            finished = false;
        }
        free(a);
    }
    free(res);
    if (src)
        for (size_t i = 0; i < st->nsrc; i++)
            setalg_src_deinit(&src[i]);
    free(src);
    free(off);
    return finished;
}

static bool alg_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct alg_state *st = f->state;
    bool finished = true;
    if (parts_oom(parts, n))
        resp_error(out, "ERR out of memory");
    else if (f->stage == 0)
        finished = alg_compute(f, st, parts, n, out);
    else if (!forward_error(parts, n, out))
        resp_int(out, st->stored);
    if (finished)
        alg_state_free(st);
    return finished;
}

/* SMOVE: round 0 checks both keys, round 1 adds to the destination,
 * round 2 removes from the source (only once the add has succeeded, so
 * running out of memory loses nothing). */
static bool move_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct move_state *st = f->state;
    const struct resp_arg *m = &f->argv[3];
    bool finished = true;
    if (parts_oom(parts, n)) {
        resp_error(out, "ERR out of memory");
    } else if (f->stage == 0) {
        int64_t s = parts[0]->ival, d = parts[1]->ival;
        if (s == CHK_MISSING) {
            resp_int(out, 0);
        } else if (s == CHK_WRONG || d == CHK_WRONG) {
            resp_error(out, "WRONGTYPE Operation against a key holding the wrong kind of value");
        } else if (s != CHK_MEMBER) {
            resp_int(out, 0);
        } else {
            struct resp_arg a[3] = {{"add", 3}, f->argv[2], *m};
            if (!dispatch_part(f, st->dst_shard, move_write_part, 3, a)) {
                resp_error(out, "ERR out of memory");
            } else {
                f->stage = 1;
                finished = false;
            }
        }
    } else if (forward_error(parts, n, out)) {
        /* the add failed: nothing changed */
    } else if (f->stage == 1) {
        struct resp_arg a[3] = {{"rem", 3}, f->argv[1], *m};
        if (!dispatch_part(f, st->src_shard, move_write_part, 3, a)) {
            resp_error(out, "ERR out of memory");
        } else {
            f->stage = 2;
            finished = false;
        }
    } else {
        resp_int(out, 1);
    }
    if (finished)
        free(st);
    return finished;
}

/* ---- Planning (connection's thread) -------------------------------------- */

static void plan_move(struct mplan *p, const struct cmd_def *d, size_t argc,
                      const struct resp_arg *argv)
{
    unsigned ss = shard_group_route(server.group, argv[1].ptr, argv[1].len);
    unsigned ds = shard_group_route(server.group, argv[2].ptr, argv[2].len);
    if (ss == ds) {
        cmd_multi_plan_route(p, d, ss, d->exec, argc, argv);
        return;
    }
    struct move_state *st = calloc(1, sizeof *st);
    if (!st) {
        cmd_multi_plan_error(p, "ERR out of memory");
        return;
    }
    st->src_shard = ss;
    st->dst_shard = ds;
    struct fan *f = cmd_multi_plan_fan(p, d, argc, argv, move_step, false);
    if (!f) {
        free(st);
        return;
    }
    f->state = st;
    struct resp_arg a1[3] = {{"schk", 4}, f->argv[1], f->argv[3]};
    struct resp_arg a2[2] = {{"schk", 4}, f->argv[2]};
    if (!dispatch_part(f, ss, check_part, 3, a1) || !dispatch_part(f, ds, check_part, 2, a2)) {
        free(st);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    cmd_multi_plan_go(p, f);
}

/* Add round 0's fetch parts: one per shard holding sources, each listing
 * its sources in order; st->src_part gets each source's part. */
static bool add_fetch_parts(struct fan *f, struct alg_state *st, const unsigned *ks)
{
    unsigned nw = server.nworkers;
    struct resp_arg *a = malloc((st->nsrc + 1) * sizeof *a);
    if (!a)
        return false;
    unsigned idx = 0;
    bool ok = true;
    for (unsigned s = 0; s < nw && ok; s++) {
        size_t na = 0;
        a[na++] = (struct resp_arg){"sfetch", 6};
        for (size_t i = 0; i < st->nsrc; i++) {
            if (ks[i] != s)
                continue;
            a[na++] = f->argv[st->first + i];
            st->src_part[i] = idx;
        }
        if (na == 1)
            continue;
        ok = dispatch_part(f, s, fetch_part, na, a) != NULL;
        idx++;
    }
    free(a);
    return ok;
}

static void plan_alg(struct mplan *p, const struct cmd_def *d, const struct set_kind *k,
                     size_t argc, const struct resp_arg *argv)
{
    size_t first = k->store || k->card ? 2 : 1;
    size_t nsrc = argc - first, limit = 0;
    if (k->card) {
        struct rbuf err;
        rbuf_init(&err);
        bool ok = cmd_set_parse_sintercard(argc, argv, &nsrc, &limit, &err);
        if (!ok) {
            struct rbuf *out = cmd_multi_plan_reply_buf(p);
            if (out)
                rbuf_append(out, err.ptr, err.len);
        }
        rbuf_deinit(&err);
        if (!ok)
            return;
    }
    unsigned *ks = malloc(nsrc * sizeof *ks);
    struct alg_state *st = calloc(1, sizeof *st);
    unsigned *src_part = malloc(nsrc * sizeof *src_part);
    if (!ks || !st || !src_part) {
        free(ks);
        free(st);
        free(src_part);
        cmd_multi_plan_error(p, "ERR out of memory");
        return;
    }
    st->k = k;
    st->first = first;
    st->nsrc = nsrc;
    st->limit = limit;
    st->src_part = src_part;
    int one = -2;
    for (size_t i = 0; i < nsrc; i++) {
        const struct resp_arg *key = &argv[first + i];
        ks[i] = shard_group_route(server.group, key->ptr, key->len);
        one = one == -2 || one == (int)ks[i] ? (int)ks[i] : -1;
    }
    if (k->store) {
        st->dst_shard = shard_group_route(server.group, argv[1].ptr, argv[1].len);
        one = one == (int)st->dst_shard ? one : -1;
    }
    if (one >= 0) {
        /* Every key on one shard: the whole command runs there. */
        alg_state_free(st);
        free(ks);
        cmd_multi_plan_route(p, d, (unsigned)one, d->exec, argc, argv);
        return;
    }
    struct fan *f = cmd_multi_plan_fan(p, d, argc, argv, alg_step, !k->store);
    if (!f) {
        alg_state_free(st);
        free(ks);
        return;
    }
    f->state = st;
    if (!add_fetch_parts(f, st, ks)) {
        alg_state_free(st);
        free(ks);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    free(ks);
    cmd_multi_plan_go(p, f);
}

/* One planner per command: which operation it is travels in its kind. */
#define SET_PLAN(cmd, kind)                                                                   \
    static void plan_##cmd(struct mplan *p, const struct cmd_def *d, size_t argc,            \
                           const struct resp_arg *argv)                                       \
    {                                                                                         \
        plan_alg(p, d, &kinds[kind], argc, argv);                                             \
    }                                                                                         \
    const struct cmd_plan cmd_set_##cmd##_plan = {.plan = plan_##cmd};

SET_PLAN(sinter, K_SINTER)
SET_PLAN(sintercard, K_SINTERCARD)
SET_PLAN(sinterstore, K_SINTERSTORE)
SET_PLAN(sunion, K_SUNION)
SET_PLAN(sunionstore, K_SUNIONSTORE)
SET_PLAN(sdiff, K_SDIFF)
SET_PLAN(sdiffstore, K_SDIFFSTORE)

const struct cmd_plan cmd_set_smove_plan = {.plan = plan_move};
