/* cmd_mpop.c — LMPOP's and ZMPOP's plan across shards (cmd_mpop.h), one
 * for both families: round 0 asks every shard holding keys what each
 * holds (a byte per key), the connection's thread finds the first key in
 * argument order that exists, and round 1 pops it on its shard with the
 * family's pop part. Both rounds run in one transaction holding every key,
 * so the answer of round 0 still holds in round 1. Planning and merging
 * on the connection's thread, parts on the keys' shards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_mpop.h"
#include "server/commands/cmd_multi.h"
#include "server/core/server.h"
#include "server/route/dispatch.h"

#define WRONGTYPE_ERR "WRONGTYPE Operation against a key holding the wrong kind of value"

/* A key's byte in a check part's output. */
enum {
    KEY_MISSING = '0', /* no such key */
    KEY_TYPE = 'T',    /* the type popped */
    KEY_WRONG = 'W',   /* another type */
};

/* The fan's state. */
struct mpop_state {
    struct cmd_mpop m;   /* the command */
    unsigned *shard;     /* each key's shard */
    unsigned *part;      /* each key's round-0 part */
    size_t *at;          /* each key's byte in that part's output */
};

static void state_free(struct mpop_state *st)
{
    free(st->shard);
    free(st->part);
    free(st->at);
    free(st);
}

/* Round 0: argv [_, keys...], i_arg the type popped: a KEY_* byte per key
 * in out. The key's shard's thread. */
static void check_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    for (size_t i = 1; i < c->argc; i++) {
        struct kventry *e = kvmap_find(c->db, c->argv[i].ptr, c->argv[i].len, c->now_ms);
        char s = !e ? KEY_MISSING : kventry_type(e) == (int)r->i_arg ? KEY_TYPE : KEY_WRONG;
        rbuf_append(c->out, &s, 1);
    }
}

static bool mpop_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct mpop_state *st = f->state;
    bool finished = true;
    bool oom = false;
    for (size_t i = 0; i < n; i++)
        oom |= parts[i]->out.oom;
    if (oom) {
        resp_error(out, "ERR out of memory");
    } else if (f->stage == 1) {
        rbuf_append(out, parts[0]->out.ptr, parts[0]->out.len);
    } else {
        size_t i = 0;
        char s = KEY_MISSING;
        for (; i < st->m.numkeys; i++) {
            const struct rbuf *o = &parts[st->part[i]]->out;
            s = st->at[i] < o->len ? o->ptr[st->at[i]] : KEY_MISSING;
            if (s != KEY_MISSING)
                break;
        }
        if (s == KEY_MISSING) {
            resp_null_array(out, f->proto);
        } else if (s == KEY_WRONG) {
            resp_error(out, WRONGTYPE_ERR);
        } else {
            char num[24];
            int nl = snprintf(num, sizeof num, "%lld", (long long)st->m.count);
            struct resp_arg a[4] = {{"mpop", 4}, f->argv[st->m.first + i],
                                    {st->m.end, strlen(st->m.end)}, {num, (size_t)nl}};
            if (!dispatch_part(f, st->shard[i], st->m.pop_part, 4, a)) {
                resp_error(out, "ERR out of memory");
            } else {
                f->stage = 1;
                finished = false;
            }
        }
    }
    if (finished)
        state_free(st);
    return finished;
}

void cmd_mpop_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                   const struct resp_arg *argv, const struct cmd_mpop *m)
{
    size_t nk = m->numkeys;
    struct mpop_state *st = calloc(1, sizeof *st);
    if (st) {
        st->m = *m;
        st->shard = malloc(nk * sizeof *st->shard);
        st->part = malloc(nk * sizeof *st->part);
        st->at = malloc(nk * sizeof *st->at);
    }
    if (!st || !st->shard || !st->part || !st->at) {
        if (st)
            state_free(st);
        cmd_multi_plan_error(p, "ERR out of memory");
        return;
    }
    int one = -2;
    for (size_t i = 0; i < nk; i++) {
        const struct resp_arg *key = &argv[m->first + i];
        st->shard[i] = shard_group_route(server.group, key->ptr, key->len);
        one = one == -2 || one == (int)st->shard[i] ? (int)st->shard[i] : -1;
    }
    if (one >= 0) {
        state_free(st);
        cmd_multi_plan_route(p, d, (unsigned)one, d->exec, argc, argv);
        return;
    }
    struct fan *f = cmd_multi_plan_fan(p, d, argc, argv, mpop_step, false);
    if (!f) {
        state_free(st);
        return;
    }
    f->state = st;
    /* One check part per shard holding keys, listing them in order. */
    struct resp_arg *a = malloc((nk + 1) * sizeof *a);
    bool ok = a != NULL;
    unsigned idx = 0;
    for (unsigned s = 0; ok && s < server.nworkers; s++) {
        size_t na = 0;
        a[na++] = (struct resp_arg){"mpopchk", 7};
        for (size_t i = 0; i < nk; i++) {
            if (st->shard[i] != s)
                continue;
            st->part[i] = idx;
            st->at[i] = na - 1;
            a[na++] = f->argv[m->first + i];
        }
        if (na == 1)
            continue;
        struct req *r = dispatch_part(f, s, check_part, na, a);
        ok = r != NULL;
        if (r)
            r->i_arg = m->type;
        idx++;
    }
    free(a);
    if (!ok) {
        state_free(st);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    cmd_multi_plan_go(p, f);
}
