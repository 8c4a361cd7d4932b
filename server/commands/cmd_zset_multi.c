/* cmd_zset_multi.c — the sorted set commands whose keys may live on
 * several shards, and their table: ZUNION ZINTER ZDIFF and their STORE
 * forms, ZINTERCARD (each shard sends its sources' elements; the
 * connection's thread computes; a second round writes the destination),
 * ZRANGESTORE (the source's shard sends the range, the destination's
 * stores it) and ZMPOP (the MPOP plan shared with LMPOP, cmd_mpop.c: every
 * shard says what its keys hold; the first sorted set in argument order is
 * popped on its shard). Every round runs
 * inside one transaction that holds all the keys (server/txn/txn.h), as the
 * set commands do (cmd_set_multi.c), so nobody sees a state between
 * rounds. Planning and merging run on the connection's thread, parts on
 * the owner shards' threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/int64str.h"
#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_mpop.h"
#include "server/commands/cmd_multi.h"
#include "server/commands/cmd_zset.h"
#include "server/route/dispatch.h"
#include "server/core/server.h"
#include "shard/tset.h"
#include "shard/zset.h"

/* Status byte of each key in a fetch part's output. */
#define FETCH_MISSING '0'
#define FETCH_ZSET 'Z'
#define FETCH_SET 'S'
#define FETCH_WRONG 'W'

static const char WRONGTYPE[] = "WRONGTYPE Operation against a key holding the wrong kind of value";

/* ---- Serialising elements ------------------------------------------------ */

/* One element: 4-byte length, the member, the 8-byte score. */
static void put_elem(struct rbuf *o, const void *m, size_t len, double score)
{
    uint32_t l = (uint32_t)len;
    rbuf_append(o, &l, sizeof l);
    rbuf_append(o, m, len);
    rbuf_append(o, &score, sizeof score);
}

struct set_fetch {
    struct rbuf *out; /* the part's output */
};

static void put_set_member(void *arg, const char *m, size_t len)
{
    struct set_fetch *x = arg;
    put_elem(x->out, m, len, 1.0);
}

/* A count, then every element of tv. */
static void put_value(struct rbuf *o, struct tval *tv)
{
    uint64_t n = tval_len(tv);
    rbuf_append(o, &n, sizeof n);
    if (tv->type == TVAL_SET) {
        struct set_fetch x = {o};
        tset_each(tv, put_set_member, &x);
        return;
    }
    struct zset_iter it;
    struct zset_elem e;
    zset_iter_init(&it, tv, 0, false);
    while (zset_iter_next(&it, &e))
        put_elem(o, e.m, e.len, e.score);
}

/* Read a count and its elements at *off of o into a new array (views into
 * o's bytes, the caller frees the array). False when the bytes are short. */
static bool get_elems(const struct rbuf *o, size_t *off, struct zpair **v, size_t *n)
{
    uint64_t k;
    *v = NULL;
    if (o->len - *off < sizeof k)
        return false;
    memcpy(&k, o->ptr + *off, sizeof k);
    *off += sizeof k;
    if (k > (o->len - *off) / 12) /* each takes at least 12 bytes */
        return false;
    struct zpair *p = malloc((k ? k : 1) * sizeof *p);
    if (!p)
        return false;
    for (uint64_t i = 0; i < k; i++) {
        uint32_t l;
        if (o->len - *off < sizeof l)
            goto short_;
        memcpy(&l, o->ptr + *off, sizeof l);
        *off += sizeof l;
        if (o->len - *off < (size_t)l + sizeof(double))
            goto short_;
        p[i].m = o->ptr + *off;
        p[i].len = l;
        *off += l;
        memcpy(&p[i].score, o->ptr + *off, sizeof(double));
        *off += sizeof(double);
    }
    *v = p;
    *n = (size_t)k;
    return true;
short_:
    free(p);
    return false;
}

/* ---- Parts (owner shard's thread) ---------------------------------------- */

/* argv[1..]: source keys. For each, a status byte, then for a set or
 * sorted set its elements (put_value). ival: 1 when some key has another
 * type. */
static void fetch_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    r->ival = 0;
    for (size_t i = 1; i < c->argc; i++) {
        struct kventry *e = cmd_key_read(
            c, kvmap_find(c->db, c->argv[i].ptr, c->argv[i].len, c->now_ms), c->argv[i].ptr,
            c->argv[i].len);
        int t = e ? kventry_type(e) : -1;
        char st = !e ? FETCH_MISSING : t == TVAL_ZSET ? FETCH_ZSET : t == TVAL_SET ? FETCH_SET
                                                                                  : FETCH_WRONG;
        rbuf_append(c->out, &st, 1);
        if (st == FETCH_WRONG)
            r->ival = 1;
        else if (st != FETCH_MISSING)
            put_value(c->out, kventry_tval(e));
    }
}

/* ZRANGESTORE's first round on the source's shard: argv is the command;
 * out gets the selected elements (put_value's format), or an error reply
 * (ival 1). */
static void range_fetch_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    struct zrange_req q;
    r->ival = 1;
    if (!cmd_zset_range_parse(ZRC_ZRANGESTORE, c->argc, c->argv, 2, &q, c->out))
        return;
    struct kventry *e = cmd_key_read(c, kvmap_find(c->db, c->argv[2].ptr, c->argv[2].len, c->now_ms),
                                     c->argv[2].ptr, c->argv[2].len);
    if (e && kventry_type(e) != TVAL_ZSET) {
        cmd_reply_wrongtype(c);
        return;
    }
    r->ival = 0;
    if (!e) {
        uint64_t zero = 0;
        rbuf_append(c->out, &zero, sizeof zero);
        return;
    }
    const struct tval *tv = kventry_tval(e);
    size_t first, n;
    bool rev;
    cmd_zset_range_select(tv, &q, &first, &n, &rev);
    uint64_t k = n;
    rbuf_append(c->out, &k, sizeof k);
    struct zset_iter it;
    struct zset_elem el;
    /* Ascending, as the store wants them. */
    zset_iter_init(&it, tv, rev ? first + 1 - n : first, false);
    for (size_t i = 0; i < n && zset_iter_next(&it, &el); i++)
        put_elem(c->out, el.m, el.len, el.score);
}

/* argv[0]: the event ("zunionstore", ...), argv[1]: destination, argv[2]:
 * the elements in put_value's format. Replaces the destination; an error
 * reply on failure, nothing otherwise. */
static void store_part(struct cmd_ctx *c)
{
    struct rbuf in = {.ptr = (char *)c->argv[2].ptr, .len = c->argv[2].len};
    size_t off = 0, n = 0;
    struct zpair *v;
    if (!get_elems(&in, &off, &v, &n)) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
        return;
    }
    char ev[24];
    size_t el = c->argv[0].len < sizeof ev - 1 ? c->argv[0].len : sizeof ev - 1;
    memcpy(ev, c->argv[0].ptr, el);
    ev[el] = '\0';
    /* The event must outlive the call (notifications are queued): map it
     * to the static name. */
    const struct zalg_kind *k = cmd_zset_alg_kind(ev);
    const char *event = k ? k->name : "zrangestore";
    int rc = cmd_zset_store(c, event, c->argv[1].ptr, c->argv[1].len, v, n);
    if (rc < 0)
        cmd_reply_kvmap_error(c, rc);
    free(v);
}

void cmd_zset_mpop_pop_part(struct cmd_ctx *c)
{
    const struct resp_arg *key = &c->argv[1];
    struct kventry *e = kvmap_find_w(c->db, key->ptr, key->len, c->now_ms);
    if (!e || kventry_type(e) != TVAL_ZSET) { /* (round 0 said otherwise) */
        resp_null_array(c->out, c->proto);
        return;
    }
    int64_t count = 1;
    int64str_parse(c->argv[3].ptr, c->argv[3].len, &count);
    struct tval *tv = kventry_tval(e);
    size_t len = zset_len(tv), n = (uint64_t)count > len ? len : (size_t)count;
    resp_array(c->out, 2);
    resp_bulk(c->out, key->ptr, key->len);
    resp_array(c->out, n);
    cmd_zset_pop(c, key, tv, cmd_arg_eq(&c->argv[2], "max"), n, true);
}

/* ---- ZMPOP's arguments --------------------------------------------------- */

struct mpop_args {
    size_t numkeys; /* keys from argv[2] */
    bool max;       /* MAX */
    int64_t count;  /* COUNT, 1 by default */
};

static bool mpop_parse(size_t argc, const struct resp_arg *argv, struct mpop_args *a,
                       struct rbuf *err)
{
    int64_t nk;
    if (!int64str_parse(argv[1].ptr, argv[1].len, &nk) || nk < 1) {
        resp_error(err, "ERR numkeys should be greater than 0");
        return false;
    }
    if ((uint64_t)nk >= argc - 2) { /* where_idx = 1 + nk + 1 must be < argc */
        resp_error(err, "ERR syntax error");
        return false;
    }
    size_t where = 2 + (size_t)nk;
    if (cmd_arg_eq(&argv[where], "min")) {
        a->max = false;
    } else if (cmd_arg_eq(&argv[where], "max")) {
        a->max = true;
    } else {
        resp_error(err, "ERR syntax error");
        return false;
    }
    a->count = -1;
    for (size_t j = where + 1; j < argc; j++) {
        if (a->count == -1 && cmd_arg_eq(&argv[j], "count") && j + 1 < argc) {
            j++;
            if (!int64str_parse(argv[j].ptr, argv[j].len, &a->count) || a->count < 1) {
                resp_error(err, "ERR count should be greater than 0");
                return false;
            }
        } else {
            resp_error(err, "ERR syntax error");
            return false;
        }
    }
    if (a->count == -1)
        a->count = 1;
    a->numkeys = (size_t)nk;
    return true;
}

void cmd_zset_zmpop_exec(struct cmd_ctx *c)
{
    struct mpop_args a;
    if (!mpop_parse(c->argc, c->argv, &a, c->out))
        return;
    for (size_t i = 0; i < a.numkeys; i++) {
        const struct resp_arg *key = &c->argv[2 + i];
        struct kventry *e = kvmap_find(c->db, key->ptr, key->len, c->now_ms);
        if (!e)
            continue;
        if (kventry_type(e) != TVAL_ZSET) {
            cmd_reply_wrongtype(c);
            return;
        }
        e = kvmap_find_w(c->db, key->ptr, key->len, c->now_ms);
        struct tval *tv = kventry_tval(e);
        size_t len = zset_len(tv), n = (uint64_t)a.count > len ? len : (size_t)a.count;
        resp_array(c->out, 2);
        resp_bulk(c->out, key->ptr, key->len);
        resp_array(c->out, n);
        cmd_zset_pop(c, key, tv, a.max, n, true);
        return;
    }
    resp_null_array(c->out, c->proto);
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

/* A cross-shard algebra command's state (fan.state). */
struct alg_state {
    const struct zalg_kind *k; /* what it is */
    struct zalg_args a;        /* its arguments */
    char *late_err;            /* an option error to reply unless a key has
                                  another type (malloc'd), or NULL */
    unsigned *src_part;        /* round-0 part of each source */
    unsigned dst_shard;        /* STORE: shard of argv[1] */
    int64_t stored;            /* STORE: the result's size, the reply */
};

static void alg_state_free(struct alg_state *st)
{
    free(st->a.weights);
    free(st->late_err);
    free(st->src_part);
    free(st);
}

/* Send res to the destination's shard: [event, dst, elements]. */
static bool send_store(struct fan *f, unsigned shard, const char *event, const struct resp_arg *dst,
                       const struct zpair *res, size_t n)
{
    struct rbuf b;
    rbuf_init(&b);
    uint64_t k = n;
    rbuf_append(&b, &k, sizeof k);
    for (size_t i = 0; i < n; i++)
        put_elem(&b, res[i].m, res[i].len, res[i].score);
    bool ok = !b.oom;
    if (ok) {
        struct resp_arg a[3] = {{event, strlen(event)}, *dst, {b.ptr, b.len}};
        ok = dispatch_part(f, shard, store_part, 3, a) != NULL;
    }
    rbuf_deinit(&b);
    return ok;
}

/* Round 0 is back: compute; reply, or send the result to the destination's
 * shard. Returns true when finished. */
static bool alg_compute(struct fan *f, struct alg_state *st, struct req **parts, size_t n,
                        struct rbuf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (parts[i]->ival) {
            resp_error(out, WRONGTYPE);
            return true;
        }
    }
    if (st->late_err) {
        resp_error(out, st->late_err);
        return true;
    }
    size_t nsrc = st->a.nsrc;
    struct zalg_src *src = calloc(nsrc, sizeof *src);
    size_t *off = calloc(n, sizeof *off);
    struct zpair *res = NULL;
    size_t nres = 0;
    bool finished = true, ok = src && off;
    for (size_t i = 0; ok && i < nsrc; i++) {
        const struct rbuf *o = &parts[st->src_part[i]]->out;
        size_t *at = &off[st->src_part[i]];
        src[i].same_as = -1;
        const struct resp_arg *key = &f->argv[st->a.numkeys_at + 1 + i];
        for (size_t j = 0; j < i; j++) {
            const struct resp_arg *kj = &f->argv[st->a.numkeys_at + 1 + j];
            if (kj->len == key->len && memcmp(kj->ptr, key->ptr, key->len) == 0) {
                src[i].same_as = (int)j;
                break;
            }
        }
        ok = *at < o->len;
        if (!ok)
            break;
        char s = o->ptr[(*at)++];
        if (s == FETCH_MISSING)
            continue;
        src[i].is_set = s == FETCH_SET;
        ok = get_elems(o, at, &src[i].v, &src[i].n);
    }
    if (ok)
        ok = cmd_zset_alg_run(st->k, &st->a, src, &res, &nres) == 0;
    if (!ok) {
        resp_error(out, "ERR out of memory");
    } else if (st->k->card) {
        resp_int(out, (int64_t)nres);
    } else if (!st->k->store) {
        cmd_zset_alg_reply(out, f->proto, res, nres, st->a.withscores);
    } else if (!send_store(f, st->dst_shard, st->k->name, &f->argv[1], res, nres)) {
        resp_error(out, "ERR out of memory");
    } else {
        st->stored = (int64_t)nres;
        f->stage = 1;
        finished = false;
    }
    free(res);
    if (src)
        for (size_t i = 0; i < nsrc; i++)
            free(src[i].v);
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

/* ZRANGESTORE across two shards (fan.state). */
struct rstore_state {
    unsigned dst_shard; /* shard of argv[1] */
    int64_t stored;     /* the result's size, the reply */
};

static bool rstore_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct rstore_state *st = f->state;
    bool finished = true;
    if (parts_oom(parts, n)) {
        resp_error(out, "ERR out of memory");
    } else if (f->stage == 0) {
        const struct rbuf *o = &parts[0]->out;
        if (parts[0]->ival) {
            rbuf_append(out, o->ptr, o->len); /* the source's error */
        } else {
            struct resp_arg a[3] = {{"zrangestore", 11}, f->argv[1], {o->ptr, o->len}};
            uint64_t k = 0;
            if (o->len >= sizeof k)
                memcpy(&k, o->ptr, sizeof k);
            if (!dispatch_part(f, st->dst_shard, store_part, 3, a)) {
                resp_error(out, "ERR out of memory");
            } else {
                st->stored = (int64_t)k;
                f->stage = 1;
                finished = false;
            }
        }
    } else if (!forward_error(parts, n, out)) {
        resp_int(out, st->stored);
    }
    if (finished)
        free(st);
    return finished;
}

/* ---- Planning (connection's thread) -------------------------------------- */

/* Reply the bytes of err now. */
static void plan_reply(struct mplan *p, const struct rbuf *err)
{
    struct rbuf *out = cmd_multi_plan_reply_buf(p);
    if (out)
        rbuf_append(out, err->ptr, err->len);
}

/* One part per shard holding some of keys[0..n) (argv indexes), each
 * listing its keys in order (argv[0] name); part_of[i] gets key i's part
 * and slot_of[i] (if not NULL) its position among that part's keys. */
static bool add_key_parts(struct fan *f, const char *name, cmd_exec_fn fn, size_t first, size_t n,
                          const unsigned *ks, unsigned *part_of, size_t *slot_of)
{
    struct resp_arg *a = malloc((n + 1) * sizeof *a);
    if (!a)
        return false;
    unsigned idx = 0;
    bool ok = true;
    for (unsigned s = 0; s < server.nworkers && ok; s++) {
        size_t na = 0;
        a[na++] = (struct resp_arg){name, strlen(name)};
        for (size_t i = 0; i < n; i++) {
            if (ks[i] != s)
                continue;
            if (slot_of)
                slot_of[i] = na - 1;
            a[na++] = f->argv[first + i];
            part_of[i] = idx;
        }
        if (na == 1)
            continue;
        ok = dispatch_part(f, s, fn, na, a) != NULL;
        idx++;
    }
    free(a);
    return ok;
}

/* Route the keys argv[first..first+n) (and dst_shard when >= 0): the one
 * shard they share, or -1. ks gets each key's shard. */
static int one_shard(const struct resp_arg *argv, size_t first, size_t n, int dst_shard,
                     unsigned *ks)
{
    int one = dst_shard >= 0 ? dst_shard : -2;
    for (size_t i = 0; i < n; i++) {
        ks[i] = shard_group_route(server.group, argv[first + i].ptr, argv[first + i].len);
        one = one == -2 || one == (int)ks[i] ? (int)ks[i] : -1;
    }
    return one;
}

static void plan_alg(struct mplan *p, const struct cmd_def *d, size_t argc,
                     const struct resp_arg *argv)
{
    const struct zalg_kind *k = cmd_zset_alg_kind(d->name);
    struct alg_state *st = calloc(1, sizeof *st);
    if (!k || !st) {
        free(st);
        cmd_multi_plan_error(p, "ERR out of memory");
        return;
    }
    st->k = k;
    struct rbuf err;
    rbuf_init(&err);
    bool late;
    if (!cmd_zset_alg_parse(k, argc, argv, &st->a, &err, &late)) {
        if (!late) {
            plan_reply(p, &err);
            rbuf_deinit(&err);
            alg_state_free(st);
            return;
        }
        /* "-ERR ...\r\n" -> "ERR ...", replied after the type checks. */
        st->late_err = err.len >= 3 ? strndup(err.ptr + 1, err.len - 3) : NULL;
    }
    rbuf_deinit(&err);
    size_t nsrc = st->a.nsrc, first = st->a.numkeys_at + 1;
    unsigned *ks = malloc(nsrc * sizeof *ks);
    st->src_part = malloc(nsrc * sizeof *st->src_part);
    if (!ks || !st->src_part || (late && !st->late_err)) {
        free(ks);
        alg_state_free(st);
        cmd_multi_plan_error(p, "ERR out of memory");
        return;
    }
    int dst = -1;
    if (k->store)
        dst = (int)(st->dst_shard = shard_group_route(server.group, argv[1].ptr, argv[1].len));
    int one = one_shard(argv, first, nsrc, dst, ks);
    if (one >= 0) {
        free(ks);
        alg_state_free(st);
        cmd_multi_plan_route(p, d, (unsigned)one, d->exec, argc, argv);
        return;
    }
    struct fan *f = cmd_multi_plan_fan(p, d, argc, argv, alg_step, !k->store);
    if (!f) {
        free(ks);
        alg_state_free(st);
        return;
    }
    f->state = st;
    bool ok = add_key_parts(f, "zfetch", fetch_part, first, nsrc, ks, st->src_part, NULL);
    free(ks);
    if (!ok) {
        alg_state_free(st);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    cmd_multi_plan_go(p, f);
}

static void plan_rangestore(struct mplan *p, const struct cmd_def *d, size_t argc,
                            const struct resp_arg *argv)
{
    unsigned ds = shard_group_route(server.group, argv[1].ptr, argv[1].len);
    unsigned ss = shard_group_route(server.group, argv[2].ptr, argv[2].len);
    if (ss == ds) {
        cmd_multi_plan_route(p, d, ss, d->exec, argc, argv);
        return;
    }
    struct rstore_state *st = calloc(1, sizeof *st);
    if (!st) {
        cmd_multi_plan_error(p, "ERR out of memory");
        return;
    }
    st->dst_shard = ds;
    struct fan *f = cmd_multi_plan_fan(p, d, argc, argv, rstore_step, false);
    if (!f) {
        free(st);
        return;
    }
    f->state = st;
    if (!dispatch_part(f, ss, range_fetch_part, f->argc, f->argv)) {
        free(st);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    cmd_multi_plan_go(p, f);
}

static void plan_mpop(struct mplan *p, const struct cmd_def *d, size_t argc,
                      const struct resp_arg *argv)
{
    struct mpop_args a;
    struct rbuf err;
    rbuf_init(&err);
    if (!mpop_parse(argc, argv, &a, &err)) {
        plan_reply(p, &err);
        rbuf_deinit(&err);
        return;
    }
    rbuf_deinit(&err);
    struct cmd_mpop m = {.type = TVAL_ZSET, .first = 2, .numkeys = a.numkeys,
                         .end = a.max ? "max" : "min", .count = a.count,
                         .pop_part = cmd_zset_mpop_pop_part};
    cmd_mpop_plan(p, d, argc, argv, &m);
}

const struct cmd_plan cmd_zset_alg_plan = {.plan = plan_alg};
const struct cmd_plan cmd_zset_zrangestore_plan = {.plan = plan_rangestore};
const struct cmd_plan cmd_zset_zmpop_plan = {.plan = plan_mpop};

/* ---- The table ----------------------------------------------------------- */

#define KS_RO_ACCESS (CMD_KS_RO | CMD_KS_ACCESS)
/* numkeys at argv[at], the keys after it. */
#define KEYNUM(f, at) { .flags = (f), .begin = (at), .keynum = true, .numkeys_at = 0, \
                        .first_at = 1, .step = 1 }
#define DST_KEY { .flags = CMD_KS_OW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 }
#define ALG(nm, fl) .name = nm, .exec = cmd_zset_alg_exec, .plan = &cmd_zset_alg_plan, \
                    .flags = (fl) | CMD_MULTIKEY, .group = "sorted-set"

const struct cmd_def cmd_zset_multi_defs[] = {
    { ALG("zunion", CMD_READONLY), .arity = -3, .keys = { KEYNUM(KS_RO_ACCESS, 1) },
      .since = "6.2.0",
      .complexity = "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
      .summary = "Add multiple sorted sets" },
    { ALG("zunionstore", CMD_WRITE | CMD_DENYOOM), .arity = -4,
      .keys = { DST_KEY, KEYNUM(KS_RO_ACCESS, 2) }, .since = "2.0.0",
      .complexity = "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
      .summary = "Add multiple sorted sets and store the resulting sorted set in a new key" },
    { ALG("zinter", CMD_READONLY), .arity = -3, .keys = { KEYNUM(KS_RO_ACCESS, 1) },
      .since = "6.2.0",
      .complexity = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
      .summary = "Intersect multiple sorted sets" },
    { ALG("zinterstore", CMD_WRITE | CMD_DENYOOM), .arity = -4,
      .keys = { DST_KEY, KEYNUM(KS_RO_ACCESS, 2) }, .since = "2.0.0",
      .complexity = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
      .summary = "Intersect multiple sorted sets and store the resulting sorted set in a new key" },
    { ALG("zintercard", CMD_READONLY), .arity = -3, .keys = { KEYNUM(KS_RO_ACCESS, 1) },
      .since = "7.0.0",
      .complexity = "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
      .summary = "Intersect multiple sorted sets and return the cardinality of the result" },
    { ALG("zdiff", CMD_READONLY), .arity = -3, .keys = { KEYNUM(KS_RO_ACCESS, 1) },
      .since = "6.2.0",
      .complexity = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
      .summary = "Subtract multiple sorted sets" },
    { ALG("zdiffstore", CMD_WRITE | CMD_DENYOOM), .arity = -4,
      .keys = { DST_KEY, KEYNUM(KS_RO_ACCESS, 2) }, .since = "6.2.0",
      .complexity = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
      .summary = "Subtract multiple sorted sets and store the resulting sorted set in a new key" },
    { .name = "zmpop", .arity = -4, .exec = cmd_zset_zmpop_exec, .plan = &cmd_zset_zmpop_plan,
      .flags = CMD_WRITE | CMD_MULTIKEY,
      .keys = { KEYNUM(CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE, 1) },
      .group = "sorted-set", .since = "7.0.0",
      .complexity = "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
      .summary = "Remove and return members with scores in a sorted set" },
};
const size_t cmd_zset_multi_ndefs = sizeof cmd_zset_multi_defs / sizeof cmd_zset_multi_defs[0];
