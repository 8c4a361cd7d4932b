/* cmd_multi.c — commands whose keys may live on several shards (MGET, MSET,
 * MSETNX, DEL, UNLINK, EXISTS, TOUCH, RENAME, RENAMENX, COPY; MOVE too,
 * whose one key stays on its shard): the execution half. The whole
 * commands and the parts of a split command run on the owning shards'
 * threads; the step functions merge the parts' results in key order on the
 * connection's thread. Planning (which shard, which parts, the
 * transaction) is in cmd_multi_plan.c.
 *
 * Atomic across shards: a command whose keys span shards runs its parts in
 * a transaction (txn.h) that holds intent locks on all its keys in the
 * global order, so no reader sees a partial MSET and MSETNX's check and
 * set are one step. The same planners run the commands inside EXEC
 * (cmd_txn.c), with EXEC's transaction instead of their own. */
#include "server/commands/cmd_multi.h"

#include <stdlib.h>
#include <string.h>

#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_multi_internal.h"
#include "server/pubsub/notify.h"
#include "server/route/dispatch.h"
#include "server/txn/txn.h"
#include "shard/tval.h"
#include "shard/tval_rdb.h"

/* What cmd_multi_fetch_part found (req.uval): nothing (0), a string's
 * bytes, or a typed value as an RDB object. */
#define FETCHED_STRING 1
#define FETCHED_TYPED 2

/* ---- Small helpers (owner side) ----------------------------------------- */

/* MGET's reply for one key: a value of another type reads as missing. */
static void reply_entry_value(struct rbuf *out, int proto, const struct kventry *e)
{
    if (kventry_type(e) != TVAL_STRING) {
        resp_null(out, proto);
        return;
    }
    char buf[21];
    size_t n;
    const char *v = kventry_value(e, buf, &n);
    resp_bulk(out, v, n);
}

static struct kventry *find(struct cmd_ctx *c, const struct resp_arg *k)
{
    return kvmap_find(c->db, k->ptr, k->len, c->now_ms);
}

/* A read of a key (MGET, COPY's source): a miss is Redis's "keymiss". */
static struct kventry *find_read(struct cmd_ctx *c, const struct resp_arg *k)
{
    return cmd_key_read(c, kvmap_find(c->db, k->ptr, k->len, c->now_ms), k->ptr, k->len);
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

/* EXISTS and TOUCH read the keys (a miss is a "keymiss"); MSETNX and
 * RENAMENX only probe them for a write (read false), as Redis's
 * lookupKeyWrite. */
static int64_t count_existing(struct cmd_ctx *c, bool read)
{
    int64_t n = 0;
    for (size_t i = 1; i < c->argc; i++) {
        /* EXISTS is no access (Redis's LOOKUP_NOTOUCH) */
        struct kventry *e = kvmap_peek(c->db, c->argv[i].ptr, c->argv[i].len, c->now_ms);
        if (read)
            e = cmd_key_read(c, e, c->argv[i].ptr, c->argv[i].len);
        if (e)
            n++;
    }
    return n;
}

static int64_t count_deleted(struct cmd_ctx *c)
{
    int64_t n = 0;
    for (size_t i = 1; i < c->argc; i++) {
        if (kvmap_del(c->db, c->argv[i].ptr, c->argv[i].len, c->now_ms)) {
            cmd_key_modified(c, NOTIFY_GENERIC, "del", c->argv[i].ptr, c->argv[i].len);
            n++;
        }
    }
    return n;
}

/* ---- Whole commands on one shard (cmd_def.exec) -------------------------- */

void cmd_multi_mget_exec(struct cmd_ctx *c)
{
    resp_array(c->out, c->argc - 1);
    for (size_t i = 1; i < c->argc; i++) {
        struct kventry *e = find_read(c, &c->argv[i]);
        if (e)
            reply_entry_value(c->out, c->proto, e);
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
        cmd_key_modified(c, NOTIFY_STRING, "set", c->argv[i].ptr, c->argv[i].len);
    }
    return true;
}

void cmd_multi_mset_exec(struct cmd_ctx *c)
{
    if (set_pairs(c))
        cmd_reply_ok(c);
}

void cmd_multi_msetnx_exec(struct cmd_ctx *c)
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

void cmd_multi_del_exec(struct cmd_ctx *c)
{
    resp_int(c->out, count_deleted(c));
}

static void exists_exec(struct cmd_ctx *c)
{
    resp_int(c->out, count_existing(c, true));
}

/* RENAME's and COPY's events, Redis's order: "new" when dst was replaced
 * (Redis deletes it and adds it again; a key that did not exist got its
 * "new" from the map), then "rename_from" src (none for COPY), then
 * "rename_to" or "copy_to" dst in database dstdb. rc: kvmap_set's. */
static void moved_events(struct cmd_ctx *c, int rc, const struct resp_arg *src, unsigned dstdb,
                         const struct resp_arg *dst, bool copy)
{
    if (rc == 0 && notify_wanted(NOTIFY_NEW))
        notify_key(NOTIFY_NEW, "new", dstdb, dst->ptr, dst->len);
    if (src)
        cmd_key_modified(c, NOTIFY_GENERIC, "rename_from", src->ptr, src->len);
    cmd_key_modified_db(c, dstdb, NOTIFY_GENERIC, copy ? "copy_to" : "rename_to", dst->ptr,
                        dst->len);
}

/* RENAME, or RENAMENX (nx), with both keys on this shard. */
static void rename_here(struct cmd_ctx *c, bool nx)
{
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
    if (kventry_type(e) != TVAL_STRING) {
        if (nx && find(c, dst)) {
            resp_int(c->out, 0);
            return;
        }
        /* The value itself moves, O(1) whatever its size as in Redis: dst
         * points at it first, then src lets go, so a failure changes nothing. */
        int rc = kvmap_set_tval(c->db, dst->ptr, dst->len, kventry_tval(e), exp, c->now_ms);
        if (rc < 0) {
            cmd_reply_kvmap_error(c, rc);
            return;
        }
        (void)kvmap_take_tval(c->db, src->ptr, src->len, c->now_ms);
        moved_events(c, rc, src, c->dbidx, dst, false);
        if (nx)
            resp_int(c->out, 1);
        else
            cmd_reply_ok(c);
        return;
    }
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
    moved_events(c, rc, src, c->dbidx, dst, false);
    if (nx)
        resp_int(c->out, 1);
    else
        cmd_reply_ok(c);
}

void cmd_multi_rename_exec(struct cmd_ctx *c)
{
    rename_here(c, false);
}

void cmd_multi_renamenx_exec(struct cmd_ctx *c)
{
    rename_here(c, true);
}

bool cmd_multi_copy_parse(size_t argc, const struct resp_arg *argv, unsigned curdb, unsigned ndb,
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
static int put_value(struct cmd_ctx *c, unsigned dstdb, const struct resp_arg *dst, const char *val,
                     size_t vlen, int64_t exp, bool nx, bool copy)
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
    moved_events(c, rc, NULL, dstdb, dst, copy);
    return 1;
}

/* COPY of a typed value on this shard: a deep copy under dst in dstdb.
 * Returns as put_value: 1 written, 0 skipped (nx and dst exists), <0 with
 * the error replied. */
static int put_tval_copy(struct cmd_ctx *c, unsigned dstdb, const struct resp_arg *dst,
                         const struct tval *src, int64_t exp, bool nx)
{
    struct kvmap *m = shard_db(c->shard, dstdb);
    if (nx && kvmap_find(m, dst->ptr, dst->len, c->now_ms))
        return 0;
    struct tval *tv = tval_copy(kvmap_acct(m), src);
    int rc = tv ? kvmap_set_tval(m, dst->ptr, dst->len, tv, exp, c->now_ms) : KVMAP_ENOMEM;
    if (rc < 0) {
        tval_free(kvmap_acct(m), tv);
        cmd_reply_kvmap_error(c, rc);
        return rc;
    }
    moved_events(c, rc, NULL, dstdb, dst, true);
    return 1;
}

/* COPY with both keys on this shard. */
void cmd_multi_copy_exec(struct cmd_ctx *c)
{
    struct copy_opts o;
    if (!cmd_multi_copy_parse(c->argc, c->argv, c->dbidx, c->shard->ndb, &o, c->out))
        return;
    struct kventry *e = find_read(c, &c->argv[1]);
    if (!e) {
        resp_int(c->out, 0);
        return;
    }
    int64_t exp = kventry_expire(e);
    if (kventry_type(e) != TVAL_STRING) {
        int rc = put_tval_copy(c, (unsigned)o.dstdb, &c->argv[2], kventry_tval(e), exp,
                               !o.replace);
        if (rc >= 0)
            resp_int(c->out, rc);
        return;
    }
    size_t vlen;
    char *val = copy_value(e, &vlen);
    if (!val) {
        resp_error(c->out, "ERR out of memory");
        return;
    }
    int rc = put_value(c, (unsigned)o.dstdb, &c->argv[2], val, vlen, exp, !o.replace, true);
    free(val);
    if (rc >= 0)
        resp_int(c->out, rc);
}

/* MOVE key db: source and destination are the same key, so one shard. */
void cmd_multi_move_exec(struct cmd_ctx *c)
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
    if (kventry_type(e) != TVAL_STRING) {
        int rc = kvmap_set_tval(dst, k->ptr, k->len, kventry_tval(e), exp, c->now_ms);
        if (rc < 0) {
            cmd_reply_kvmap_error(c, rc);
            return;
        }
        (void)kvmap_take_tval(c->db, k->ptr, k->len, c->now_ms); /* dst holds it now */
        cmd_key_modified(c, NOTIFY_GENERIC, "move_from", k->ptr, k->len);
        cmd_key_modified_db(c, (unsigned)db, NOTIFY_GENERIC, "move_to", k->ptr, k->len);
        resp_int(c->out, 1);
        return;
    }
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
    cmd_key_modified(c, NOTIFY_GENERIC, "move_from", k->ptr, k->len);
    cmd_key_modified_db(c, (unsigned)db, NOTIFY_GENERIC, "move_to", k->ptr, k->len);
    resp_int(c->out, 1);
}

/* ---- Parts (run on each shard of a fan-out) ------------------------------ */

void cmd_multi_mget_part(struct cmd_ctx *c)
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
        struct kventry *e = find_read(c, &c->argv[i + 1]);
        if (e)
            reply_entry_value(c->out, c->proto, e);
        else
            resp_null(c->out, c->proto);
        r->ends[i] = c->out->len;
    }
}

void cmd_multi_mset_part(struct cmd_ctx *c)
{
    set_pairs(c); /* only an error leaves bytes in out */
}

void cmd_multi_del_part(struct cmd_ctx *c)
{
    ((struct req *)c->priv)->ival = count_deleted(c);
}

void cmd_multi_exists_part(struct cmd_ctx *c)
{
    ((struct req *)c->priv)->ival = count_existing(c, true);
}

void cmd_multi_probe_part(struct cmd_ctx *c)
{
    ((struct req *)c->priv)->ival = count_existing(c, false);
}

void cmd_multi_fetch_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    bool take = cmd_arg_eq(&c->argv[0], "take");
    struct kventry *e = take ? find(c, &c->argv[1]) : find_read(c, &c->argv[1]);
    if (!e)
        return;
    r->ival = kventry_expire(e);
    if (kventry_type(e) != TVAL_STRING) {
        /* Another shard's thread will own it: it travels serialised, as a
         * DUMP payload's object, and is rebuilt there (put_part). */
        struct tval_rdb_buf b = {.raw = true}; /* (a hop, not a file: no LZF) */
        int rc = tval_rdb_encode(kventry_tval(e), &b);
        if (rc == 0)
            rc = rbuf_append(c->out, b.p, b.len);
        tval_rdb_buf_free(&b);
        if (rc != 0) {
            c->out->oom = true; /* the merge reports it */
            return;
        }
        r->uval = FETCHED_TYPED;
    } else {
        size_t vlen;
        char buf[21];
        const char *v = kventry_value(e, buf, &vlen);
        r->uval = FETCHED_STRING;
        if (rbuf_append(c->out, v, vlen) != 0)
            return; /* oom is set; the merge reports it */
    }
    if (take && kvmap_del(c->db, c->argv[1].ptr, c->argv[1].len, c->now_ms))
        cmd_key_modified(c, NOTIFY_GENERIC, "rename_from", c->argv[1].ptr, c->argv[1].len);
}

/* A typed value fetched from another shard (an RDB object in val): decode
 * it for this shard and store it under dst. Returns as put_value. */
static int put_typed(struct cmd_ctx *c, unsigned dstdb, const struct resp_arg *dst,
                     const struct resp_arg *val, int64_t exp, bool nx, bool copy)
{
    struct kvmap *m = shard_db(c->shard, dstdb);
    if (nx && kvmap_find(m, dst->ptr, dst->len, c->now_ms))
        return 0;
    struct tval_limits lim;
    tval_limits_get(&lim);
    struct tval *tv = NULL;
    size_t used;
    char err[128];
    int rc = tval_rdb_decode(kvmap_acct(m), (const unsigned char *)val->ptr, val->len, &lim, &tv,
                             &used, err, sizeof err);
    if (rc < 0) {
        /* Our own encoder wrote it: only memory can be short here. */
        resp_errorf(c->out, "ERR out of memory moving the value (%s)", tval_rdb_strerror(rc));
        return -1;
    }
    rc = kvmap_set_tval(m, dst->ptr, dst->len, tv, exp, c->now_ms);
    if (rc < 0) {
        tval_free(kvmap_acct(m), tv);
        cmd_reply_kvmap_error(c, rc);
        return rc;
    }
    moved_events(c, rc, NULL, dstdb, dst, copy);
    return 1;
}

/* Write argv[2] as the value of argv[1] with TTL i_arg; argv[0] "putnx"
 * skips an existing key, "tput"/"tputnx" do the same with a typed value's
 * RDB object. ival: 1 written, 0 skipped; errors go to out. */
static void put_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    const struct resp_arg *cmd = &c->argv[0];
    bool nx = cmd_arg_eq(cmd, "putnx") || cmd_arg_eq(cmd, "tputnx");
    bool typed = cmd->len >= 4 && (cmd->ptr[0] == 't' || cmd->ptr[0] == 'T');
    bool copy = r->uval != 0; /* set by cmd_multi_move_step: COPY, not RENAME */
    int rc = typed ? put_typed(c, c->dbidx, &c->argv[1], &c->argv[2], r->i_arg, nx, copy)
                   : put_value(c, c->dbidx, &c->argv[1], c->argv[2].ptr, c->argv[2].len,
                               r->i_arg, nx, copy);
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

bool cmd_multi_mget_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
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

/* A whole command run as the one part of a fan: its reply is the part's. */
bool cmd_multi_copy_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    (void)f;
    if (n != 1 || parts[0]->out.oom)
        resp_error(out, "ERR out of memory");
    else
        rbuf_append(out, parts[0]->out.ptr, parts[0]->out.len);
    return true;
}

/* MSETNX across shards: see struct msetnx_state. */
bool cmd_multi_msetnx_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
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
        } else if (cmd_multi_add_key_parts(f, NULL, cmd_multi_mset_part, st->nkeys, 2, 2, st->ks,
                                           NULL) != 0) {
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

/* RENAME, RENAMENX and COPY with keys on two shards: see struct move_state. */
bool cmd_multi_move_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
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
            if (!dispatch_part(f, st->src_shard, cmd_multi_fetch_part, 2, a)) {
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
        static const struct resp_arg puts[2][2] = {{{"put", 3}, {"putnx", 5}},
                                                   {{"tput", 4}, {"tputnx", 6}}};
        struct resp_arg a[3] = {puts[got->uval == FETCHED_TYPED][nx],
                                *dst,
                                {got->out.ptr ? got->out.ptr : "", got->out.len}};
        struct req *p = dispatch_part(f, st->dst_shard, put_part, 3, a);
        if (!p) {
            resp_error(out, "ERR out of memory");
            break;
        }
        p->i_arg = got->ival;
        p->db = st->dstdb;
        p->uval = st->copy; /* which event the write is: copy_to or rename_to */
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

/* Arity, flags and key positions as Redis 7.0's COMMAND INFO reports them. */
/* ---- Plans (struct cmd_plan): how each command splits over shards ------- */

/* COPY writes its destination in the DB option's database. */
static int copy_lock_more(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                          const struct resp_arg *argv)
{
    (void)d;
    struct copy_opts o;
    struct rbuf ignore;
    rbuf_init(&ignore);
    bool other = cmd_multi_copy_parse(argc, argv, db, UINT32_MAX, &o, &ignore) &&
                 (unsigned)o.dstdb != db;
    rbuf_deinit(&ignore);
    return other ? txn_lock_key(t, (unsigned)o.dstdb, argv[2].ptr, argv[2].len, true) : 0;
}

/* MOVE writes the same key in the target database too. */
static int move_lock_more(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                          const struct resp_arg *argv)
{
    (void)d;
    (void)db;
    int64_t to;
    if (argc == 3 && int64str_parse(argv[2].ptr, argv[2].len, &to) && to >= 0 && to < INT32_MAX)
        return txn_lock_key(t, (unsigned)to, argv[1].ptr, argv[1].len, true);
    return 0;
}

static const struct cmd_plan mget_plan = {
    .part = cmd_multi_mget_part, .step = cmd_multi_mget_step};
static const struct cmd_plan mset_plan = {
    .part = cmd_multi_mset_part, .step = cmd_multi_ok_step, .span = 2};
/* Round 0 asks whether any key exists ([exists, k1, k2, ...]); round 1
 * sets them all (cmd_multi_msetnx_step). */
static const struct cmd_plan msetnx_plan = {
    .part = cmd_multi_probe_part, .step = cmd_multi_msetnx_step, .part_name = "exists",
    .span = 2, .rounds = true};
static const struct cmd_plan del_plan = {
    .part = cmd_multi_del_part, .step = cmd_multi_sum_step};
static const struct cmd_plan exists_plan = {
    .part = cmd_multi_exists_part, .step = cmd_multi_sum_step};
static const struct cmd_plan rename_plan = {.plan = cmd_multi_plan_move};
static const struct cmd_plan renamenx_plan = {.plan = cmd_multi_plan_move, .nx = true};
static const struct cmd_plan copy_plan = {
    .plan = cmd_multi_plan_move, .copy = true, .lock_more = copy_lock_more};
/* MOVE's key stays on its shard: a single-key command, whose locks inside
 * EXEC and pipeline groups include the target database's key. */
static const struct cmd_plan move_plan = {.lock_more = move_lock_more};

const struct cmd_def cmd_multi_defs[] = {
    { .name = "mget", .arity = -2, .exec = cmd_multi_mget_exec,
      .plan = &mget_plan,
      .flags = CMD_READONLY | CMD_FAST | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = -1, .step = 1 } },
      .tips = CMD_TIPS("request_policy:multi_shard"),
      .group = "string", .since = "1.0.0",
      .complexity = "O(N) where N is the number of keys to retrieve.",
      .summary = "Get the values of all the given keys" },
    { .name = "mset", .arity = -3, .exec = cmd_multi_mset_exec,
      .plan = &mset_plan,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_OW | CMD_KS_UPDATE, .begin = 1, .last = -1, .step = 2 } },
      .tips = CMD_TIPS("request_policy:multi_shard", "response_policy:all_succeeded"),
      .group = "string", .since = "1.0.1",
      .complexity = "O(N) where N is the number of keys to set.",
      .summary = "Set multiple keys to multiple values" },
    { .name = "msetnx", .arity = -3, .exec = cmd_multi_msetnx_exec,
      .plan = &msetnx_plan,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_OW | CMD_KS_INSERT, .begin = 1, .last = -1, .step = 2 } },
      .tips = CMD_TIPS("request_policy:multi_shard", "response_policy:agg_min"),
      .group = "string", .since = "1.0.1",
      .complexity = "O(N) where N is the number of keys to set.",
      .summary = "Set multiple keys to multiple values, only if none of the keys exist" },
    { .name = "del", .arity = -2, .exec = cmd_multi_del_exec,
      .plan = &del_plan,
      .flags = CMD_WRITE | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_RM | CMD_KS_DELETE, .begin = 1, .last = -1, .step = 1 } },
      .tips = CMD_TIPS("request_policy:multi_shard", "response_policy:agg_sum"),
      .group = "generic", .since = "1.0.0",
      .complexity = "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
      .summary = "Delete a key" },
    { .name = "unlink", .arity = -2, .exec = cmd_multi_del_exec,
      .plan = &del_plan,
      .flags = CMD_WRITE | CMD_FAST | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_RM | CMD_KS_DELETE, .begin = 1, .last = -1, .step = 1 } },
      .tips = CMD_TIPS("request_policy:multi_shard", "response_policy:agg_sum"),
      .group = "generic", .since = "4.0.0",
      .complexity = "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
      .summary = "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking." },
    { .name = "exists", .arity = -2, .exec = exists_exec,
      .plan = &exists_plan,
      .flags = CMD_READONLY | CMD_FAST | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_RO, .begin = 1, .last = -1, .step = 1 } },
      .tips = CMD_TIPS("request_policy:multi_shard", "response_policy:agg_sum"),
      .group = "generic", .since = "1.0.0",
      .complexity = "O(N) where N is the number of keys to check.",
      .summary = "Determine if a key exists" },
    { .name = "touch", .arity = -2, .exec = exists_exec,
      .plan = &exists_plan,
      .flags = CMD_READONLY | CMD_FAST | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_RO, .begin = 1, .last = -1, .step = 1 } },
      .tips = CMD_TIPS("request_policy:multi_shard", "response_policy:agg_sum"),
      .group = "generic", .since = "3.2.1",
      .complexity = "O(N) where N is the number of keys that will be touched.",
      .summary = "Alters the last access time of a key(s). Returns the number of existing keys specified." },
    { .name = "rename", .arity = 3, .exec = cmd_multi_rename_exec,
      .plan = &rename_plan,
      .flags = CMD_WRITE | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE, .begin = 1, .last = 0, .step = 1 },
                { .flags = CMD_KS_OW | CMD_KS_UPDATE, .begin = 2, .last = 0, .step = 1 } },
      .group = "generic", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Rename a key" },
    { .name = "renamenx", .arity = 3, .exec = cmd_multi_renamenx_exec,
      .plan = &renamenx_plan,
      .flags = CMD_WRITE | CMD_FAST | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE, .begin = 1, .last = 0, .step = 1 },
                { .flags = CMD_KS_OW | CMD_KS_INSERT, .begin = 2, .last = 0, .step = 1 } },
      .group = "generic", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Rename a key, only if the new key does not exist" },
    { .name = "copy", .arity = -3, .exec = cmd_multi_copy_exec,
      .plan = &copy_plan,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 },
                { .flags = CMD_KS_OW | CMD_KS_UPDATE, .begin = 2, .last = 0, .step = 1 } },
      .group = "generic", .since = "6.2.0",
      .complexity = "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
      .summary = "Copy a key" },
    { .name = "move", .arity = 3, .exec = cmd_multi_move_exec,
      .plan = &move_plan,
      .flags = CMD_WRITE | CMD_FAST,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "generic", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Move a key to another database" },
};
const size_t cmd_multi_ndefs = sizeof cmd_multi_defs / sizeof cmd_multi_defs[0];
