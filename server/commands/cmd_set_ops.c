/* cmd_set_ops.c — the multi-key set commands (SMOVE, SINTER, SINTERCARD,
 * SINTERSTORE, SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE) run whole on the
 * shard that holds all their keys, with Redis 7.0's replies, and the
 * helpers that the cross-shard forms share (parsing, replies, storing the
 * result). Exec functions run on the owner shard's thread. */
#include <stdlib.h>
#include <string.h>

#include "common/int64str.h"
#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_set.h"
#include "shard/tset.h"

bool cmd_set_parse_sintercard(size_t argc, const struct resp_arg *argv, size_t *numkeys,
                              size_t *limit, struct rbuf *err)
{
    int64_t nk;
    if (!int64str_parse(argv[1].ptr, argv[1].len, &nk) || nk < 1) {
        resp_error(err, "ERR numkeys should be greater than 0");
        return false;
    }
    if ((uint64_t)nk > argc - 2) {
        resp_error(err, "ERR Number of keys can't be greater than number of args");
        return false;
    }
    *limit = 0;
    for (size_t j = 2 + (size_t)nk; j < argc; j++) {
        const struct resp_arg *a = &argv[j];
        int64_t l;
        if (a->len == 5 && strncasecmp(a->ptr, "limit", 5) == 0 && j + 1 < argc) {
            j++;
            if (!int64str_parse(argv[j].ptr, argv[j].len, &l) || l < 0) {
                resp_error(err, "ERR LIMIT can't be negative");
                return false;
            }
            *limit = (size_t)l;
        } else {
            resp_error(err, "ERR syntax error");
            return false;
        }
    }
    *numkeys = (size_t)nk;
    return true;
}

void cmd_set_reply_members(struct rbuf *out, int proto, const struct tset_member *const *res,
                           size_t n)
{
    resp_set(out, proto, n);
    for (size_t i = 0; i < n; i++)
        resp_bulk(out, res[i]->ptr, res[i]->len);
}

const char *cmd_set_store_name(enum setalg_op op)
{
    return op == SETALG_INTER ? "sinterstore" : op == SETALG_UNION ? "sunionstore" : "sdiffstore";
}

int cmd_set_store(struct cmd_ctx *c, enum setalg_op op, const void *key, size_t klen,
                  const struct tset_member *const *res, size_t n)
{
    struct kvmap *db = c->db;
    int64_t now_ms = c->now_ms;
    if (n == 0) {
        if (!kvmap_del(db, key, klen, now_ms))
            return 0;
        cmd_key_modified(c, NOTIFY_GENERIC, "del", key, klen);
        return 1;
    }
    struct mem_acct *a = kvmap_acct(db);
    struct tval *tv = tset_create(a, res[0]->ptr, res[0]->len, n);
    if (!tv)
        return KVMAP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (tset_add(a, tv, res[i]->ptr, res[i]->len) < 0) {
            tval_free(a, tv);
            return KVMAP_ENOMEM;
        }
    }
    /* Built whole before the old value goes: the result's views may point
     * into the destination's old set (SINTERSTORE s s t). */
    int rc = kvmap_set_tval(db, key, klen, tv, KVMAP_NO_EXPIRE, now_ms);
    if (rc < 0) {
        tval_free(a, tv);
        return rc;
    }
    cmd_key_modified(c, NOTIFY_SET, cmd_set_store_name(op), key, klen);
    return 1;
}

/* What an algebra command does with its result. */
enum alg_out {
    ALG_REPLY, /* reply the members */
    ALG_CARD,  /* reply their number (SINTERCARD) */
    ALG_STORE, /* store them at argv[1], reply their number */
};

/* Run op over keys argv[first..first+nkeys) on this shard. Every key's
 * type is checked before anything else, as Redis does; a missing key is
 * an empty set. */
static void alg_exec(struct cmd_ctx *c, enum setalg_op op, size_t first, size_t nkeys,
                     enum alg_out how, size_t limit)
{
    struct setalg_src *src = calloc(nkeys, sizeof *src);
    if (!src) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
        return;
    }
    for (size_t i = 0; i < nkeys; i++) {
        bool wrong;
        struct kventry *e = cmd_lookup_type(c, &c->argv[first + i], TVAL_SET, &wrong);
        if (wrong) {
            free(src);
            return;
        }
        src[i].missing = !e;
        if (e) {
            src[i].tv = kventry_tval(e);
            src[i].n = tval_len(src[i].tv);
        }
    }
    const struct tset_member **res = NULL;
    size_t nres = 0;
    int rc = setalg_run(op, src, nkeys, how == ALG_CARD ? limit : 0, &res, &nres);
    if (rc < 0) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
    } else if (how == ALG_CARD) {
        resp_int(c->out, (int64_t)nres);
    } else if (how == ALG_REPLY) {
        cmd_set_reply_members(c->out, c->proto, res, nres);
    } else {
        const struct resp_arg *dst = &c->argv[1];
        rc = cmd_set_store(c, op, dst->ptr, dst->len, res, nres);
        if (rc < 0)
            cmd_reply_kvmap_error(c, rc);
        else
            resp_int(c->out, (int64_t)nres);
    }
    free(res);
    for (size_t i = 0; i < nkeys; i++)
        setalg_src_deinit(&src[i]);
    free(src);
}

void cmd_set_sinter_exec(struct cmd_ctx *c)
{
    alg_exec(c, SETALG_INTER, 1, c->argc - 1, ALG_REPLY, 0);
}

void cmd_set_sunion_exec(struct cmd_ctx *c)
{
    alg_exec(c, SETALG_UNION, 1, c->argc - 1, ALG_REPLY, 0);
}

void cmd_set_sdiff_exec(struct cmd_ctx *c)
{
    alg_exec(c, SETALG_DIFF, 1, c->argc - 1, ALG_REPLY, 0);
}

void cmd_set_sinterstore_exec(struct cmd_ctx *c)
{
    alg_exec(c, SETALG_INTER, 2, c->argc - 2, ALG_STORE, 0);
}

void cmd_set_sunionstore_exec(struct cmd_ctx *c)
{
    alg_exec(c, SETALG_UNION, 2, c->argc - 2, ALG_STORE, 0);
}

void cmd_set_sdiffstore_exec(struct cmd_ctx *c)
{
    alg_exec(c, SETALG_DIFF, 2, c->argc - 2, ALG_STORE, 0);
}

void cmd_set_sintercard_exec(struct cmd_ctx *c)
{
    size_t numkeys, limit;
    if (!cmd_set_parse_sintercard(c->argc, c->argv, &numkeys, &limit, c->out))
        return;
    alg_exec(c, SETALG_INTER, 2, numkeys, ALG_CARD, limit);
}

/* SMOVE src dst member, both keys here. Redis's order: a missing source
 * replies 0 before any type check; then both types; a move onto itself
 * answers membership. */
void cmd_set_smove_exec(struct cmd_ctx *c)
{
    const struct resp_arg *src = &c->argv[1], *dst = &c->argv[2], *m = &c->argv[3];
    struct kventry *se = kvmap_find(c->db, src->ptr, src->len, c->now_ms);
    if (!se) {
        resp_int(c->out, 0);
        return;
    }
    struct kventry *de = kvmap_find(c->db, dst->ptr, dst->len, c->now_ms);
    if (kventry_type(se) != TVAL_SET || (de && kventry_type(de) != TVAL_SET)) {
        cmd_reply_wrongtype(c);
        return;
    }
    struct tval *stv = kventry_tval(se);
    if (src->len == dst->len && memcmp(src->ptr, dst->ptr, src->len) == 0) {
        resp_int(c->out, tset_has(stv, m->ptr, m->len) ? 1 : 0);
        return;
    }
    if (!tset_has(stv, m->ptr, m->len)) {
        resp_int(c->out, 0);
        return;
    }
    struct mem_acct *a = kvmap_acct(c->db);
    /* Add first, so that running out of memory changes nothing. */
    de = kvmap_find_w(c->db, dst->ptr, dst->len, c->now_ms);
    int rc;
    if (de) {
        rc = tset_add(a, kventry_tval(de), m->ptr, m->len);
    } else {
        struct tval *tv = tset_create(a, m->ptr, m->len, 1);
        rc = tv ? tset_add(a, tv, m->ptr, m->len) : KVMAP_ENOMEM;
        if (rc >= 0)
            rc = kvmap_set_tval(c->db, dst->ptr, dst->len, tv, KVMAP_NO_EXPIRE, c->now_ms);
        if (rc < 0 && tv)
            tval_free(a, tv);
    }
    if (rc < 0) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
        return;
    }
    se = kvmap_find_w(c->db, src->ptr, src->len, c->now_ms);
    stv = kventry_tval(se);
    tset_remove(a, stv, m->ptr, m->len);
    bool empty = tval_len(stv) == 0;
    if (empty)
        kvmap_del(c->db, src->ptr, src->len, c->now_ms);
    /* Redis's events: srem, del (emptied), sadd (the member was new).
     * A created dst's "new" came from the map before them: Redis sends
     * it after del, but adding first is what keeps a failure harmless. */
    cmd_key_modified(c, NOTIFY_SET, "srem", src->ptr, src->len);
    if (empty)
        cmd_key_notify(c, NOTIFY_GENERIC, "del", src->ptr, src->len);
    if (rc > 0)
        cmd_key_modified(c, NOTIFY_SET, "sadd", dst->ptr, dst->len);
    resp_int(c->out, 1);
}
