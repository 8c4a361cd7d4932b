/* cmd_list.c — the single-key list commands (LPUSH, RPUSH, LPUSHX, RPUSHX,
 * LPOP, RPOP, LLEN, LINDEX, LSET, LRANGE, LTRIM, LREM, LINSERT, LPOS) with
 * Redis 7.0's semantics, replies and error texts, on top of
 * shard/quicklist.h, and the table of every list command. Each exec runs
 * on the thread that owns the key's shard. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/int64str.h"
#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_list.h"
#include "shard/quicklist.h"

/* ------------------------------------------------------------ helpers */

static struct tval *list_of(struct kventry *e)
{
    return e ? kventry_tval(e) : NULL;
}

/* The list at argv[1] for reading (a missing key is a "keymiss"): NULL
 * when missing, or after the WRONGTYPE reply (*wrong set). */
static struct tval *list_read(struct cmd_ctx *c, bool *wrong)
{
    return list_of(cmd_lookup_type(c, &c->argv[1], TVAL_LIST, wrong));
}

/* The list at argv[1] about to be changed in place (the entry counts as
 * written), or NULL as list_read, without the "keymiss". */
static struct tval *list_write(struct cmd_ctx *c, bool *wrong)
{
    return list_of(cmd_lookup_type_w(c, &c->argv[1], TVAL_LIST, wrong));
}

struct tval *cmd_list_create(struct cmd_ctx *c)
{
    struct mem_acct *a = kvmap_acct(c->db);
    struct tval_limits lim;
    tval_limits_get(&lim);
    struct tval *tv = tval_new(a, TVAL_LIST, TVAL_ENC_QUICKLIST);
    if (!tv)
        return NULL;
    tv->u.ql = quicklist_create(a, lim.list_max_listpack_size, lim.list_compress_depth);
    if (!tv->u.ql) {
        tval_free(a, tv);
        return NULL;
    }
    return tv;
}

void cmd_list_reply_entry(struct rbuf *out, const struct listpack_entry *e)
{
    if (e->str) {
        resp_bulk(out, e->str, e->len);
        return;
    }
    char num[INT64STR_MAX + 1];
    int n = snprintf(num, sizeof num, "%" PRId64, e->num);
    resp_bulk(out, num, (size_t)n);
}

static void reply_oom(struct cmd_ctx *c)
{
    cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
}

bool cmd_list_reply_range(struct cmd_ctx *c, struct quicklist *ql, int64_t start, int64_t n,
                          bool reverse)
{
    size_t mark = c->out->len;
    struct quicklist_iter it;
    quicklist_iter_init(&it, kvmap_acct(c->db), ql, reverse ? start + n - 1 : start, !reverse);
    resp_array(c->out, (size_t)n);
    struct listpack_entry e;
    int rc = 0;
    for (int64_t i = 0; i < n && (rc = quicklist_iter_next(&it, &e)) == 1; i++)
        cmd_list_reply_entry(c->out, &e);
    quicklist_iter_release(&it);
    if (rc < 0) {
        c->out->len = mark;
        reply_oom(c);
        return false;
    }
    return true;
}

/* Redis's addListRangeReply's normalisation: start and end (inclusive,
 * negative from the tail) against len. Returns the count (0: empty) and
 * the first index in *first. */
static int64_t clamp_range(int64_t start, int64_t end, int64_t len, int64_t *first)
{
    if (start < 0)
        start = len + start;
    if (end < 0)
        end = len + end;
    if (start < 0)
        start = 0;
    if (start > end || start >= len)
        return 0;
    if (end >= len)
        end = len - 1;
    *first = start;
    return end - start + 1;
}

void cmd_list_removed(struct cmd_ctx *c, const struct resp_arg *key, struct tval *tv,
                    enum quicklist_end where)
{
    cmd_key_changed_drop_empty(c, NOTIFY_LIST, where == QUICKLIST_HEAD ? "lpop" : "rpop", key,
                               tv);
}

void cmd_list_pop_count(struct cmd_ctx *c, const struct resp_arg *key, struct tval *tv,
                        enum quicklist_end where, int64_t count, bool with_key)
{
    struct quicklist *ql = tv->u.ql;
    int64_t len = (int64_t)quicklist_len(ql);
    int64_t n = count > len ? len : count;
    int64_t start = where == QUICKLIST_HEAD ? 0 : len - n;
    size_t mark = c->out->len;
    if (with_key) {
        resp_array(c->out, 2);
        resp_bulk(c->out, key->ptr, key->len);
    }
    if (!cmd_list_reply_range(c, ql, start, n, where == QUICKLIST_TAIL)) {
        if (with_key) {
            c->out->len = mark;
            reply_oom(c);
        }
        return;
    }
    if (quicklist_del_range(kvmap_acct(c->db), ql, where == QUICKLIST_HEAD ? 0 : -n, n) < 0) {
        c->out->len = mark;
        reply_oom(c);
        return;
    }
    cmd_list_removed(c, key, tv, where);
}

bool cmd_list_parse_end(struct cmd_ctx *c, const struct resp_arg *a, enum quicklist_end *where)
{
    if (cmd_arg_eq(a, "left"))
        *where = QUICKLIST_HEAD;
    else if (cmd_arg_eq(a, "right"))
        *where = QUICKLIST_TAIL;
    else {
        cmd_reply_syntax(c);
        return false;
    }
    return true;
}

/* Redis's getRangeLongFromObjectOrReply with a message: msg for anything
 * that is not an integer in [min, INT64_MAX]. */
static bool parse_at_least(struct rbuf *out, const struct resp_arg *a, int64_t min, int64_t *v,
                           const char *msg)
{
    if (int64str_parse(a->ptr, a->len, v) && *v >= min)
        return true;
    resp_error(out, msg);
    return false;
}

bool cmd_list_parse_mpop(size_t argc, const struct resp_arg *argv, struct cmd_list_mpop *o,
                         struct rbuf *err)
{
    int64_t numkeys, count = -1;
    if (!parse_at_least(err, &argv[1], 1, &numkeys, "ERR numkeys should be greater than 0"))
        return false;
    /* Where LEFT|RIGHT should be; a count past argv is a syntax error. */
    if ((uint64_t)numkeys >= argc - 2) {
        resp_error(err, "ERR syntax error");
        return false;
    }
    size_t where_at = 2 + (size_t)numkeys;
    if (cmd_arg_eq(&argv[where_at], "left"))
        o->where = QUICKLIST_HEAD;
    else if (cmd_arg_eq(&argv[where_at], "right"))
        o->where = QUICKLIST_TAIL;
    else {
        resp_error(err, "ERR syntax error");
        return false;
    }
    for (size_t j = where_at + 1; j < argc; j++) {
        if (count == -1 && cmd_arg_eq(&argv[j], "count") && j + 1 < argc) {
            j++;
            if (!parse_at_least(err, &argv[j], 1, &count, "ERR count should be greater than 0"))
                return false;
        } else {
            resp_error(err, "ERR syntax error");
            return false;
        }
    }
    o->numkeys = (size_t)numkeys;
    o->count = count == -1 ? 1 : count;
    return true;
}

/* ------------------------------------------------------------ push */

/* LPUSH, RPUSH, LPUSHX, RPUSHX (Redis's pushGenericCommand). */
static void push_generic(struct cmd_ctx *c, enum quicklist_end where, bool xx)
{
    const struct resp_arg *key = &c->argv[1];
    bool wrong, fresh = false;
    struct tval *tv = list_write(c, &wrong);
    if (wrong)
        return;
    if (!tv) {
        if (xx) {
            resp_int(c->out, 0);
            return;
        }
        if (!(tv = cmd_list_create(c))) {
            reply_oom(c);
            return;
        }
        fresh = true;
    }
    struct mem_acct *a = kvmap_acct(c->db);
    int rc = 0;
    size_t pushed = 0;
    for (size_t i = 2; i < c->argc && rc == 0; i++) {
        rc = quicklist_push(a, tv->u.ql, where, c->argv[i].ptr, c->argv[i].len);
        pushed += rc == 0;
    }
    const char *event = where == QUICKLIST_HEAD ? "lpush" : "rpush";
    if (rc < 0) {
        /* A new list is all or nothing; an old one keeps what went in. */
        if (fresh)
            tval_free(a, tv);
        else if (pushed)
            cmd_key_modified(c, NOTIFY_LIST, event, key->ptr, key->len);
        reply_oom(c);
        return;
    }
    if (fresh) {
        rc = kvmap_set_tval(c->db, key->ptr, key->len, tv, KVMAP_NO_EXPIRE, c->now_ms);
        if (rc < 0) {
            tval_free(a, tv);
            cmd_reply_kvmap_error(c, rc);
            return;
        }
    }
    cmd_key_modified(c, NOTIFY_LIST, event, key->ptr, key->len);
    resp_int(c->out, (int64_t)quicklist_len(tv->u.ql));
}

static void cmd_lpush(struct cmd_ctx *c)
{
    push_generic(c, QUICKLIST_HEAD, false);
}

static void cmd_rpush(struct cmd_ctx *c)
{
    push_generic(c, QUICKLIST_TAIL, false);
}

static void cmd_lpushx(struct cmd_ctx *c)
{
    push_generic(c, QUICKLIST_HEAD, true);
}

static void cmd_rpushx(struct cmd_ctx *c)
{
    push_generic(c, QUICKLIST_TAIL, true);
}

/* ------------------------------------------------------------ pop */

static void pop_one_reply(void *ctx, const struct listpack_entry *e)
{
    cmd_list_reply_entry(ctx, e);
}

/* LPOP and RPOP (Redis's popGenericCommand): the count is checked before
 * the key; a missing key is a null (a null array with a count). */
static void pop_generic(struct cmd_ctx *c, enum quicklist_end where)
{
    int64_t count = 0;
    bool has_count = c->argc == 3;
    if (c->argc > 3) {
        resp_errorf(c->out, "ERR wrong number of arguments for '%s' command",
                    where == QUICKLIST_HEAD ? "lpop" : "rpop");
        return;
    }
    if (has_count && !parse_at_least(c->out, &c->argv[2], 0, &count,
                                      "ERR value is out of range, must be positive"))
        return;
    bool wrong;
    struct tval *tv = list_of(cmd_lookup_type_probe(c, &c->argv[1], TVAL_LIST, &wrong));
    if (wrong)
        return;
    if (!tv) {
        if (has_count)
            resp_null_array(c->out, c->proto);
        else
            resp_null(c->out, c->proto);
        return;
    }
    if (has_count && count == 0) {
        resp_array(c->out, 0);
        return;
    }
    tv = list_write(c, &wrong);
    if (has_count) {
        cmd_list_pop_count(c, &c->argv[1], tv, where, count, false);
        return;
    }
    int rc = quicklist_pop(kvmap_acct(c->db), tv->u.ql, where, pop_one_reply, c->out);
    if (rc < 0) {
        reply_oom(c);
        return;
    }
    cmd_list_removed(c, &c->argv[1], tv, where);
}

static void cmd_lpop(struct cmd_ctx *c)
{
    pop_generic(c, QUICKLIST_HEAD);
}

static void cmd_rpop(struct cmd_ctx *c)
{
    pop_generic(c, QUICKLIST_TAIL);
}

/* ------------------------------------------------------------ reads */

static void cmd_llen(struct cmd_ctx *c)
{
    bool wrong;
    struct tval *tv = list_read(c, &wrong);
    if (!wrong)
        resp_int(c->out, tv ? (int64_t)quicklist_len(tv->u.ql) : 0);
}

/* LINDEX: the key first, then the index (Redis's order). */
static void cmd_lindex(struct cmd_ctx *c)
{
    bool wrong;
    struct tval *tv = list_read(c, &wrong);
    if (wrong)
        return;
    if (!tv) {
        resp_null(c->out, c->proto);
        return;
    }
    int64_t index;
    if (!cmd_arg_int64(c, &c->argv[2], &index))
        return;
    struct quicklist_iter it;
    struct listpack_entry e;
    quicklist_iter_init(&it, kvmap_acct(c->db), tv->u.ql, index, true);
    int rc = quicklist_iter_next(&it, &e);
    if (rc == 1)
        cmd_list_reply_entry(c->out, &e);
    else if (rc == 0)
        resp_null(c->out, c->proto);
    else
        reply_oom(c);
    quicklist_iter_release(&it);
}

/* LRANGE: the indexes first, then the key. */
static void cmd_lrange(struct cmd_ctx *c)
{
    int64_t start, end, first = 0;
    if (!cmd_arg_int64(c, &c->argv[2], &start) || !cmd_arg_int64(c, &c->argv[3], &end))
        return;
    bool wrong;
    struct tval *tv = list_read(c, &wrong);
    if (wrong)
        return;
    int64_t n = tv ? clamp_range(start, end, (int64_t)quicklist_len(tv->u.ql), &first) : 0;
    if (n == 0) {
        resp_array(c->out, 0);
        return;
    }
    cmd_list_reply_range(c, tv->u.ql, first, n, false);
}

/* Collects LPOS's indexes. */
struct pos_ctx {
    struct rbuf *out; /* the replies */
    size_t n;         /* how many */
};

static void pos_one(void *arg, int64_t index)
{
    struct pos_ctx *x = arg;
    resp_int(x->out, index);
    x->n++;
}

/* LPOS key element [RANK rank] [COUNT n] [MAXLEN len] (Redis's
 * lposCommand): options first, then the key. */
static void cmd_lpos(struct cmd_ctx *c)
{
    const struct resp_arg *ele = &c->argv[2];
    int64_t rank = 1, count = -1, maxlen = 0;
    for (size_t j = 3; j < c->argc; j++) {
        bool more = j + 1 < c->argc;
        if (cmd_arg_eq(&c->argv[j], "rank") && more) {
            if (!cmd_arg_int64(c, &c->argv[++j], &rank))
                return;
            if (rank == 0) {
                resp_error(c->out, "ERR RANK can't be zero: use 1 to start from the first "
                                   "match, 2 from the second ... or use negative to start "
                                   "from the end of the list");
                return;
            }
        } else if (cmd_arg_eq(&c->argv[j], "count") && more) {
            if (!parse_at_least(c->out, &c->argv[++j], 0, &count, "ERR COUNT can't be negative"))
                return;
        } else if (cmd_arg_eq(&c->argv[j], "maxlen") && more) {
            if (!parse_at_least(c->out, &c->argv[++j], 0, &maxlen,
                                "ERR MAXLEN can't be negative"))
                return;
        } else {
            cmd_reply_syntax(c);
            return;
        }
    }
    bool from_tail = rank < 0;
    uint64_t limit = count == -1 ? 1 : (uint64_t)count;
    if (rank == INT64_MIN) {
        /* Redis negates it into itself: every match counts from the first
         * one at the tail, and a COUNT never stops the scan. */
        rank = 1;
        limit = count == -1 ? 1 : 0;
    } else if (rank < 0) {
        rank = -rank;
    }
    bool wrong;
    struct tval *tv = list_read(c, &wrong);
    if (wrong)
        return;
    if (!tv) {
        if (count != -1)
            resp_array(c->out, 0);
        else
            resp_null(c->out, c->proto);
        return;
    }
    struct rbuf found;
    rbuf_init(&found);
    struct pos_ctx x = {&found, 0};
    int64_t rc = quicklist_pos(kvmap_acct(c->db), tv->u.ql, ele->ptr, ele->len, from_tail,
                               (uint64_t)rank, limit, (uint64_t)maxlen, pos_one, &x);
    if (rc < 0) {
        reply_oom(c);
    } else if (count != -1) {
        resp_array(c->out, x.n);
        rbuf_append(c->out, found.ptr, found.len);
    } else if (x.n) {
        rbuf_append(c->out, found.ptr, found.len);
    } else {
        resp_null(c->out, c->proto);
    }
    rbuf_deinit(&found);
}

/* ------------------------------------------------------------ writes */

/* LSET: "no such key" for a missing key, then the index. */
static void cmd_lset(struct cmd_ctx *c)
{
    bool wrong;
    struct tval *tv = list_of(cmd_lookup_type_probe(c, &c->argv[1], TVAL_LIST, &wrong));
    if (wrong)
        return;
    if (!tv) {
        resp_error(c->out, "ERR no such key");
        return;
    }
    int64_t index;
    if (!cmd_arg_int64(c, &c->argv[2], &index))
        return;
    const struct resp_arg *v = &c->argv[3];
    tv = list_write(c, &wrong);
    int rc = quicklist_replace_at(kvmap_acct(c->db), tv->u.ql, index, v->ptr, v->len);
    if (rc == QUICKLIST_ERANGE) {
        resp_error(c->out, "ERR index out of range");
        return;
    }
    if (rc < 0) {
        reply_oom(c);
        return;
    }
    cmd_key_modified(c, NOTIFY_LIST, "lset", c->argv[1].ptr, c->argv[1].len);
    cmd_reply_ok(c);
}

/* LTRIM: the indexes, then the key; "ltrim" is reported even when nothing
 * went, as Redis does. */
static void cmd_ltrim(struct cmd_ctx *c)
{
    int64_t start, end;
    if (!cmd_arg_int64(c, &c->argv[2], &start) || !cmd_arg_int64(c, &c->argv[3], &end))
        return;
    bool wrong;
    struct tval *tv = list_write(c, &wrong);
    if (wrong)
        return;
    if (!tv) {
        cmd_reply_ok(c);
        return;
    }
    struct mem_acct *a = kvmap_acct(c->db);
    int64_t len = (int64_t)quicklist_len(tv->u.ql), first = 0;
    int64_t n = clamp_range(start, end, len, &first);
    int64_t ltrim = n ? first : len, rtrim = n ? len - first - n : 0;
    if ((ltrim && quicklist_del_range(a, tv->u.ql, 0, ltrim) < 0) ||
        (rtrim && quicklist_del_range(a, tv->u.ql, -rtrim, rtrim) < 0)) {
        reply_oom(c);
        return;
    }
    const struct resp_arg *key = &c->argv[1];
    cmd_key_changed_drop_empty(c, NOTIFY_LIST, "ltrim", key, tv);
    cmd_reply_ok(c);
}

/* LREM key count element. */
static void cmd_lrem(struct cmd_ctx *c)
{
    int64_t count;
    if (!cmd_arg_int64(c, &c->argv[2], &count))
        return;
    bool wrong;
    struct tval *tv = list_of(cmd_lookup_type_probe(c, &c->argv[1], TVAL_LIST, &wrong));
    if (wrong)
        return;
    if (!tv) {
        resp_int(c->out, 0);
        return;
    }
    tv = list_write(c, &wrong);
    const struct resp_arg *key = &c->argv[1], *ele = &c->argv[3];
    size_t n = 0;
    int rc = quicklist_rem(kvmap_acct(c->db), tv->u.ql, ele->ptr, ele->len, count, &n);
    if (n)
        cmd_key_changed_drop_empty(c, NOTIFY_LIST, "lrem", key, tv);
    if (rc < 0)
        reply_oom(c);
    else
        resp_int(c->out, (int64_t)n);
}

/* LINSERT key BEFORE|AFTER pivot element. */
static void cmd_linsert(struct cmd_ctx *c)
{
    enum listpack_where where;
    if (cmd_arg_eq(&c->argv[2], "after"))
        where = LISTPACK_AFTER;
    else if (cmd_arg_eq(&c->argv[2], "before"))
        where = LISTPACK_BEFORE;
    else {
        cmd_reply_syntax(c);
        return;
    }
    bool wrong;
    struct tval *tv = list_of(cmd_lookup_type_probe(c, &c->argv[1], TVAL_LIST, &wrong));
    if (wrong)
        return;
    if (!tv) {
        resp_int(c->out, 0);
        return;
    }
    tv = list_write(c, &wrong);
    const struct resp_arg *pivot = &c->argv[3], *ele = &c->argv[4];
    int rc = quicklist_insert_pivot(kvmap_acct(c->db), tv->u.ql, pivot->ptr, pivot->len, where,
                                    ele->ptr, ele->len);
    if (rc < 0) {
        reply_oom(c);
        return;
    }
    if (rc == 0) {
        resp_int(c->out, -1);
        return;
    }
    cmd_key_modified(c, NOTIFY_LIST, "linsert", c->argv[1].ptr, c->argv[1].len);
    resp_int(c->out, (int64_t)quicklist_len(tv->u.ql));
}

/* ------------------------------------------------------------ table */

#define KS_ONE(f) { { .flags = (f), .begin = 1, .last = 0, .step = 1 } }

/* Name, arity, flags and key specs as Redis 7.0's COMMAND INFO reports
 * them; summary, since and complexity as its COMMAND DOCS. */
const struct cmd_def cmd_list_defs[] = {
    { .name = "lpush", .arity = -3, .exec = cmd_lpush,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = KS_ONE(CMD_KS_RW | CMD_KS_INSERT),
      .group = "list", .since = "1.0.0",
      .complexity = "O(1) for each element added, so O(N) to add N elements when the command is "
                    "called with multiple arguments.",
      .summary = "Prepend one or multiple elements to a list" },
    { .name = "rpush", .arity = -3, .exec = cmd_rpush,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = KS_ONE(CMD_KS_RW | CMD_KS_INSERT),
      .group = "list", .since = "1.0.0",
      .complexity = "O(1) for each element added, so O(N) to add N elements when the command is "
                    "called with multiple arguments.",
      .summary = "Append one or multiple elements to a list" },
    { .name = "lpushx", .arity = -3, .exec = cmd_lpushx,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = KS_ONE(CMD_KS_RW | CMD_KS_INSERT),
      .group = "list", .since = "2.2.0",
      .complexity = "O(1) for each element added, so O(N) to add N elements when the command is "
                    "called with multiple arguments.",
      .summary = "Prepend an element to a list, only if the list exists" },
    { .name = "rpushx", .arity = -3, .exec = cmd_rpushx,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
      .keys = KS_ONE(CMD_KS_RW | CMD_KS_INSERT),
      .group = "list", .since = "2.2.0",
      .complexity = "O(1) for each element added, so O(N) to add N elements when the command is "
                    "called with multiple arguments.",
      .summary = "Append an element to a list, only if the list exists" },
    { .name = "lpop", .arity = -2, .exec = cmd_lpop,
      .flags = CMD_WRITE | CMD_FAST,
      .keys = KS_ONE(CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE),
      .group = "list", .since = "1.0.0",
      .complexity = "O(N) where N is the number of elements returned",
      .summary = "Remove and get the first elements in a list" },
    { .name = "rpop", .arity = -2, .exec = cmd_rpop,
      .flags = CMD_WRITE | CMD_FAST,
      .keys = KS_ONE(CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE),
      .group = "list", .since = "1.0.0",
      .complexity = "O(N) where N is the number of elements returned",
      .summary = "Remove and get the last elements in a list" },
    { .name = "llen", .arity = 2, .exec = cmd_llen,
      .flags = CMD_READONLY | CMD_FAST,
      .keys = KS_ONE(CMD_KS_RO),
      .group = "list", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Get the length of a list" },
    { .name = "lindex", .arity = 3, .exec = cmd_lindex,
      .flags = CMD_READONLY,
      .keys = KS_ONE(CMD_KS_RO | CMD_KS_ACCESS),
      .group = "list", .since = "1.0.0",
      .complexity = "O(N) where N is the number of elements to traverse to get to the element at "
                    "index. This makes asking for the first or the last element of the list O(1).",
      .summary = "Get an element from a list by its index" },
    { .name = "lset", .arity = 4, .exec = cmd_lset,
      .flags = CMD_WRITE | CMD_DENYOOM,
      .keys = KS_ONE(CMD_KS_RW | CMD_KS_UPDATE),
      .group = "list", .since = "1.0.0",
      .complexity = "O(N) where N is the length of the list. Setting either the first or the last "
                    "element of the list is O(1).",
      .summary = "Set the value of an element in a list by its index" },
    { .name = "lrange", .arity = 4, .exec = cmd_lrange,
      .flags = CMD_READONLY,
      .keys = KS_ONE(CMD_KS_RO | CMD_KS_ACCESS),
      .group = "list", .since = "1.0.0",
      .complexity = "O(S+N) where S is the distance of start offset from HEAD for small lists, "
                    "from nearest end (HEAD or TAIL) for large lists; and N is the number of "
                    "elements in the specified range.",
      .summary = "Get a range of elements from a list" },
    { .name = "ltrim", .arity = 4, .exec = cmd_ltrim,
      .flags = CMD_WRITE,
      .keys = KS_ONE(CMD_KS_RW | CMD_KS_DELETE),
      .group = "list", .since = "1.0.0",
      .complexity = "O(N) where N is the number of elements to be removed by the operation.",
      .summary = "Trim a list to the specified range" },
    { .name = "lrem", .arity = 4, .exec = cmd_lrem,
      .flags = CMD_WRITE,
      .keys = KS_ONE(CMD_KS_RW | CMD_KS_DELETE),
      .group = "list", .since = "1.0.0",
      .complexity = "O(N+M) where N is the length of the list and M is the number of elements "
                    "removed.",
      .summary = "Remove elements from a list" },
    { .name = "linsert", .arity = 5, .exec = cmd_linsert,
      .flags = CMD_WRITE | CMD_DENYOOM,
      .keys = KS_ONE(CMD_KS_RW | CMD_KS_INSERT),
      .group = "list", .since = "2.2.0",
      .complexity = "O(N) where N is the number of elements to traverse before seeing the value "
                    "pivot. This means that inserting somewhere on the left end on the list "
                    "(head) can be considered O(1) and inserting somewhere on the right end "
                    "(tail) is O(N).",
      .summary = "Insert an element before or after another element in a list" },
    { .name = "lpos", .arity = -3, .exec = cmd_lpos,
      .flags = CMD_READONLY,
      .keys = KS_ONE(CMD_KS_RO | CMD_KS_ACCESS),
      .group = "list", .since = "6.0.6",
      .complexity = "O(N) where N is the number of elements in the list, for the average case. "
                    "When searching for elements near the head or the tail of the list, or when "
                    "the MAXLEN option is provided, the command may run in constant time.",
      .summary = "Return the index of matching elements on a list" },
    { .name = "lmove", .arity = 5, .exec = cmd_list_lmove_exec, .plan = &cmd_list_lmove_plan,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE, .begin = 1, .last = 0,
                  .step = 1 },
                { .flags = CMD_KS_RW | CMD_KS_INSERT, .begin = 2, .last = 0, .step = 1 } },
      .group = "list", .since = "6.2.0", .complexity = "O(1)",
      .summary = "Pop an element from a list, push it to another list and return it" },
    { .name = "rpoplpush", .arity = 3, .exec = cmd_list_rpoplpush_exec,
      .plan = &cmd_list_rpoplpush_plan,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE, .begin = 1, .last = 0,
                  .step = 1 },
                { .flags = CMD_KS_RW | CMD_KS_INSERT, .begin = 2, .last = 0, .step = 1 } },
      .group = "list", .since = "1.2.0", .complexity = "O(1)",
      .summary = "Remove the last element in a list, prepend it to another list and return it" },
    { .name = "lmpop", .arity = -4, .exec = cmd_list_lmpop_exec, .plan = &cmd_list_lmpop_plan,
      .flags = CMD_WRITE | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE, .begin = 1, .keynum = true,
                  .numkeys_at = 0, .first_at = 1, .step = 1 } },
      .group = "list", .since = "7.0.0",
      .complexity = "O(N+M) where N is the number of provided keys and M is the number of "
                    "elements returned.",
      .summary = "Pop elements from a list" },
};

const size_t cmd_list_ndefs = sizeof cmd_list_defs / sizeof cmd_list_defs[0];
