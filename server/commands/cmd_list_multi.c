/* cmd_list_multi.c — the list commands with several keys: LMOVE, RPOPLPUSH
 * and LMPOP. With every key on one shard the exec runs there as Redis's
 * command does. Across shards they run as rounds of one transaction that
 * holds all the keys (server/txn/txn.h), as SMOVE does: LMOVE checks both keys
 * and reads the element at the source's end, pushes it onto the
 * destination, then pops it from the source (so running out of memory
 * loses nothing); LMPOP is the MPOP plan (cmd_mpop.c): check every key,
 * then pop from the first list.
 * Nobody sees a state between rounds. Planning and merging run on the
 * connection's thread, execs and parts on the owner shards' threads. */
#include <stdlib.h>
#include <string.h>

#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_list.h"
#include "server/commands/cmd_mpop.h"
#include "server/commands/cmd_multi.h"
#include "server/route/dispatch.h"
#include "server/core/server.h"

#define WRONGTYPE_ERR "WRONGTYPE Operation against a key holding the wrong kind of value"

/* ---- Shared by the execs and the parts (owner shard's thread) ------------ */

static int key_state(struct cmd_ctx *c, const struct resp_arg *key, struct tval **tv)
{
    struct kventry *e = kvmap_find(c->db, key->ptr, key->len, c->now_ms);
    *tv = NULL;
    if (!e)
        return CMD_LIST_KEY_MISSING;
    if (kventry_type(e) != TVAL_LIST)
        return CMD_LIST_KEY_WRONG;
    *tv = kventry_tval(e);
    return CMD_LIST_KEY_LIST;
}

/* The list at key about to be changed (the entry counts as written). */
static struct tval *list_w(struct cmd_ctx *c, const struct resp_arg *key)
{
    struct kventry *e = kvmap_find_w(c->db, key->ptr, key->len, c->now_ms);
    return e && kventry_type(e) == TVAL_LIST ? kventry_tval(e) : NULL;
}

/* Collects an element's bytes. */
struct elem {
    char *p;    /* malloc'd copy */
    size_t len; /* its length */
};

/* Copy the element at one end of ql into *el. Returns 0, or a negative
 * QUICKLIST_E* / -1 (out of memory). */
static int peek_end(struct cmd_ctx *c, struct quicklist *ql, enum quicklist_end where,
                    struct elem *el)
{
    struct quicklist_iter it;
    struct listpack_entry e;
    quicklist_iter_init(&it, kvmap_acct(c->db), ql, where == QUICKLIST_HEAD ? 0 : -1, true);
    int rc = quicklist_iter_next(&it, &e);
    if (rc == 1) {
        char num[24];
        const char *s = (const char *)e.str;
        size_t n = e.len;
        if (!s) {
            n = (size_t)snprintf(num, sizeof num, "%lld", (long long)e.num);
            s = num;
        }
        el->p = malloc(n ? n : 1);
        el->len = n;
        if (el->p)
            memcpy(el->p, s, n);
        rc = el->p ? 0 : -1;
    } else if (rc == 0) {
        rc = QUICKLIST_EINVAL; /* (a list in the map is never empty) */
    }
    quicklist_iter_release(&it);
    return rc;
}

/* Push s[0..len) onto the list at key (made when missing) and report it.
 * Returns 0, or a KVMAP_E* code with nothing changed. */
static int push_to(struct cmd_ctx *c, const struct resp_arg *key, enum quicklist_end where,
                   const void *s, size_t len)
{
    struct mem_acct *a = kvmap_acct(c->db);
    struct tval *tv = list_w(c, key);
    int rc;
    if (tv) {
        rc = quicklist_push(a, tv->u.ql, where, s, len) < 0 ? KVMAP_ENOMEM : 0;
    } else {
        tv = cmd_list_create(c);
        rc = tv ? 0 : KVMAP_ENOMEM;
        if (rc == 0 && quicklist_push(a, tv->u.ql, where, s, len) < 0)
            rc = KVMAP_ENOMEM;
        if (rc == 0)
            rc = kvmap_set_tval(c->db, key->ptr, key->len, tv, KVMAP_NO_EXPIRE, c->now_ms);
        if (rc < 0 && tv)
            tval_free(a, tv);
    }
    if (rc < 0)
        return rc;
    cmd_key_modified(c, NOTIFY_LIST, where == QUICKLIST_HEAD ? "lpush" : "rpush", key->ptr,
                     key->len);
    return 0;
}

/* Pop one element from the end of the list at key, which holds it. */
static void pop_from(struct cmd_ctx *c, const struct resp_arg *key, enum quicklist_end where)
{
    struct tval *tv = list_w(c, key);
    if (!tv || quicklist_pop(kvmap_acct(c->db), tv->u.ql, where, NULL, NULL) != 1)
        return; /* (the transaction holds the key: it is still there) */
    cmd_list_removed(c, key, tv, where);
}

/* ---- Execs: every key on this shard ------------------------------------- */

/* Redis's lmoveGenericCommand: a missing source is a null; the source's
 * type, then the destination's; the destination gets its push (and its
 * event) before the source reports its pop. Peek, push, pop: for one key
 * that rotates the list, and an allocation failure changes nothing. */
static void lmove_generic(struct cmd_ctx *c, enum quicklist_end from, enum quicklist_end to)
{
    const struct resp_arg *src = &c->argv[1], *dst = &c->argv[2];
    struct tval *stv, *dtv;
    int s = key_state(c, src, &stv);
    if (s == CMD_LIST_KEY_MISSING) {
        resp_null(c->out, c->proto);
        return;
    }
    if (s == CMD_LIST_KEY_WRONG || key_state(c, dst, &dtv) == CMD_LIST_KEY_WRONG) {
        cmd_reply_wrongtype(c);
        return;
    }
    struct elem el = {NULL, 0};
    if (peek_end(c, stv->u.ql, from, &el) < 0) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
        return;
    }
    int rc = push_to(c, dst, to, el.p, el.len);
    if (rc < 0) {
        cmd_reply_kvmap_error(c, rc);
    } else {
        pop_from(c, src, from);
        resp_bulk(c->out, el.p, el.len);
    }
    free(el.p);
}

void cmd_list_lmove_exec(struct cmd_ctx *c)
{
    enum quicklist_end from, to;
    if (!cmd_list_parse_end(c, &c->argv[3], &from) || !cmd_list_parse_end(c, &c->argv[4], &to))
        return;
    lmove_generic(c, from, to);
}

void cmd_list_rpoplpush_exec(struct cmd_ctx *c)
{
    lmove_generic(c, QUICKLIST_TAIL, QUICKLIST_HEAD);
}

/* Redis's mpopGenericCommand: the first key that holds a list is popped;
 * a key of another type before it is WRONGTYPE; none is a null array. */
void cmd_list_lmpop_exec(struct cmd_ctx *c)
{
    struct cmd_list_mpop o;
    if (!cmd_list_parse_mpop(c->argc, c->argv, &o, c->out))
        return;
    for (size_t i = 0; i < o.numkeys; i++) {
        const struct resp_arg *key = &c->argv[2 + i];
        struct tval *tv;
        int s = key_state(c, key, &tv);
        if (s == CMD_LIST_KEY_MISSING)
            continue;
        if (s == CMD_LIST_KEY_WRONG) {
            cmd_reply_wrongtype(c);
            return;
        }
        cmd_list_pop_count(c, key, list_w(c, key), o.where, o.count, true);
        return;
    }
    resp_null_array(c->out, c->proto);
}

/* ---- Parts (owner shard's thread) ---------------------------------------- */

/* LMOVE round 0. Source: argv [_, src, "left"|"right"]: ival the key's
 * CMD_LIST_KEY_*, and for a list out gets the element at that end. Destination:
 * argv [_, dst]: ival only. */
void cmd_list_move_check_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    struct tval *tv;
    r->ival = key_state(c, &c->argv[1], &tv);
    if (r->ival != CMD_LIST_KEY_LIST || c->argc < 3)
        return;
    struct elem el = {NULL, 0};
    if (peek_end(c, tv->u.ql, cmd_arg_eq(&c->argv[2], "left") ? QUICKLIST_HEAD : QUICKLIST_TAIL,
                 &el) < 0) {
        r->ival = -1; /* out of memory */
        return;
    }
    rbuf_append(c->out, el.p, el.len);
    free(el.p);
}

/* LMOVE round 1: argv ["lpush"|"rpush", dst, element]. An error reply on
 * failure. */
void cmd_list_move_push_part(struct cmd_ctx *c)
{
    enum quicklist_end to = cmd_arg_eq(&c->argv[0], "lpush") ? QUICKLIST_HEAD : QUICKLIST_TAIL;
    int rc = push_to(c, &c->argv[1], to, c->argv[2].ptr, c->argv[2].len);
    if (rc < 0)
        cmd_reply_kvmap_error(c, rc);
}

/* LMOVE round 2: argv ["lpop"|"rpop", src]. */
void cmd_list_move_pop_part(struct cmd_ctx *c)
{
    pop_from(c, &c->argv[1], cmd_arg_eq(&c->argv[0], "lpop") ? QUICKLIST_HEAD : QUICKLIST_TAIL);
}

/* LMPOP's pop (cmd_mpop.h): argv [_, key, "left"|"right", count]: pops and
 * replies as LMPOP does. */
void cmd_list_mpop_pop_part(struct cmd_ctx *c)
{
    int64_t count = 1;
    int64str_parse(c->argv[3].ptr, c->argv[3].len, &count);
    struct tval *tv = list_w(c, &c->argv[1]);
    if (!tv) {
        resp_null_array(c->out, c->proto); /* (the transaction holds the key) */
        return;
    }
    cmd_list_pop_count(c, &c->argv[1], tv,
                       cmd_arg_eq(&c->argv[2], "left") ? QUICKLIST_HEAD : QUICKLIST_TAIL, count,
                       true);
}

/* ---- Merging (connection's thread) --------------------------------------- */

/* LMOVE across two shards (fan.state). */
struct move_state {
    unsigned src_shard;   /* shard of argv[1] */
    unsigned dst_shard;   /* shard of the destination */
    enum quicklist_end from, to;
    struct elem el;       /* the element moved, from round 0 */
};

static void move_state_free(struct move_state *st)
{
    free(st->el.p);
    free(st);
}

static bool parts_oom(struct req **parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i]->out.oom)
            return true;
    return false;
}

static bool move_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct move_state *st = f->state;
    bool finished = true;
    if (parts_oom(parts, n)) {
        resp_error(out, "ERR out of memory");
    } else if (f->stage == 0) {
        int64_t s = parts[0]->ival, d = parts[1]->ival;
        const struct rbuf *o = &parts[0]->out;
        if (s == CMD_LIST_KEY_MISSING) {
            resp_null(out, f->proto);
        } else if (s == CMD_LIST_KEY_WRONG || d == CMD_LIST_KEY_WRONG) {
            resp_error(out, WRONGTYPE_ERR);
        } else if (s < 0 || !(st->el.p = malloc(o->len ? o->len : 1))) {
            resp_error(out, "ERR out of memory");
        } else {
            memcpy(st->el.p, o->ptr, o->len);
            st->el.len = o->len;
            const char *push = st->to == QUICKLIST_HEAD ? "lpush" : "rpush";
            struct resp_arg a[3] = {{push, 5}, f->argv[2], {st->el.p, st->el.len}};
            if (!dispatch_part(f, st->dst_shard, cmd_list_move_push_part, 3, a)) {
                resp_error(out, "ERR out of memory");
            } else {
                f->stage = 1;
                finished = false;
            }
        }
    } else if (f->stage == 1 && parts[0]->out.len > 0) {
        rbuf_append(out, parts[0]->out.ptr, parts[0]->out.len); /* the push failed */
    } else if (f->stage == 1) {
        const char *pop = st->from == QUICKLIST_HEAD ? "lpop" : "rpop";
        struct resp_arg a[2] = {{pop, 4}, f->argv[1]};
        if (!dispatch_part(f, st->src_shard, cmd_list_move_pop_part, 2, a)) {
            resp_error(out, "ERR out of memory");
        } else {
            f->stage = 2;
            finished = false;
        }
    } else {
        resp_bulk(out, st->el.p, st->el.len);
    }
    if (finished)
        move_state_free(st);
    return finished;
}

/* ---- Planning (connection's thread) -------------------------------------- */

static void plan_move(struct mplan *p, const struct cmd_def *d, size_t argc,
                      const struct resp_arg *argv, enum quicklist_end from, enum quicklist_end to)
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
    st->from = from;
    st->to = to;
    struct fan *f = cmd_multi_plan_fan(p, d, argc, argv, move_step, false);
    if (!f) {
        free(st);
        return;
    }
    f->state = st;
    bool left = from == QUICKLIST_HEAD;
    struct resp_arg a1[3] = {{"lmchk", 5}, f->argv[1], {left ? "left" : "right", left ? 4 : 5}};
    struct resp_arg a2[2] = {{"lmchk", 5}, f->argv[2]};
    if (!dispatch_part(f, ss, cmd_list_move_check_part, 3, a1) ||
        !dispatch_part(f, ds, cmd_list_move_check_part, 2, a2)) {
        free(st);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    cmd_multi_plan_go(p, f);
}

static bool plan_end(struct mplan *p, const struct resp_arg *a, enum quicklist_end *where)
{
    if (cmd_arg_eq(a, "left"))
        *where = QUICKLIST_HEAD;
    else if (cmd_arg_eq(a, "right"))
        *where = QUICKLIST_TAIL;
    else {
        cmd_multi_plan_error(p, "ERR syntax error");
        return false;
    }
    return true;
}

static void plan_lmove(struct mplan *p, const struct cmd_def *d, size_t argc,
                       const struct resp_arg *argv)
{
    enum quicklist_end from, to;
    if (plan_end(p, &argv[3], &from) && plan_end(p, &argv[4], &to))
        plan_move(p, d, argc, argv, from, to);
}

static void plan_rpoplpush(struct mplan *p, const struct cmd_def *d, size_t argc,
                           const struct resp_arg *argv)
{
    plan_move(p, d, argc, argv, QUICKLIST_TAIL, QUICKLIST_HEAD);
}

static void plan_lmpop(struct mplan *p, const struct cmd_def *d, size_t argc,
                       const struct resp_arg *argv)
{
    struct cmd_list_mpop o;
    struct rbuf err;
    rbuf_init(&err);
    if (!cmd_list_parse_mpop(argc, argv, &o, &err)) {
        struct rbuf *out = cmd_multi_plan_reply_buf(p);
        if (out)
            rbuf_append(out, err.ptr, err.len);
        rbuf_deinit(&err);
        return;
    }
    rbuf_deinit(&err);
    struct cmd_mpop m = {.type = TVAL_LIST, .first = 2, .numkeys = o.numkeys,
                         .end = o.where == QUICKLIST_HEAD ? "left" : "right", .count = o.count,
                         .pop_part = cmd_list_mpop_pop_part};
    cmd_mpop_plan(p, d, argc, argv, &m);
}

const struct cmd_plan cmd_list_lmove_plan = {.plan = plan_lmove, .events_dest_first = true};
const struct cmd_plan cmd_list_rpoplpush_plan = {.plan = plan_rpoplpush,
                                                 .events_dest_first = true};
const struct cmd_plan cmd_list_lmpop_plan = {.plan = plan_lmpop};
