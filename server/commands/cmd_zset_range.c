/* cmd_zset_range.c — the sorted set commands over ranges of ranks, scores
 * or members: ZCOUNT ZLEXCOUNT ZRANGE ZREVRANGE ZRANGEBYSCORE
 * ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREMRANGEBYRANK
 * ZREMRANGEBYSCORE ZREMRANGEBYLEX, and ZRANGESTORE with both keys on one
 * shard (cmd_zset_multi.c plans the other case), with Redis 7.0's parsing
 * order and errors. Every range becomes a run of ranks (the storage
 * answers where a score or lex range starts and ends in O(log n)), walked
 * once. Exec functions run on the thread that owns the key's shard. */
#include <stdlib.h>
#include <string.h>

#include "common/int64str.h"
#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_multi.h"
#include "server/commands/cmd_zset.h"
#include "shard/zset.h"

/* ---- Parsing ------------------------------------------------------------- */

static bool arg_eq(const struct resp_arg *a, const char *lit)
{
    return cmd_arg_eq(a, lit);
}

static bool parse_long(const struct resp_arg *a, int64_t *v, struct rbuf *err)
{
    if (int64str_parse(a->ptr, a->len, v))
        return true;
    resp_error(err, "ERR value is not an integer or out of range");
    return false;
}

bool cmd_zset_range_parse(enum zrange_cmd cmd, size_t argc, const struct resp_arg *argv,
                          size_t key_at, struct zrange_req *r, struct rbuf *err)
{
    bool store = cmd == ZRC_ZRANGESTORE;
    bool auto_dir = cmd == ZRC_ZRANGE || store, auto_kind = auto_dir;
    memset(r, 0, sizeof *r);
    r->limit = -1;
    switch (cmd) {
    case ZRC_ZREVRANGE: r->rev = true; break;
    case ZRC_ZRANGEBYSCORE: r->kind = ZR_SCORE; break;
    case ZRC_ZREVRANGEBYSCORE: r->kind = ZR_SCORE; r->rev = true; break;
    case ZRC_ZRANGEBYLEX: r->kind = ZR_LEX; break;
    case ZRC_ZREVRANGEBYLEX: r->kind = ZR_LEX; r->rev = true; break;
    default: break;
    }
    for (size_t j = key_at + 3; j < argc; j++) {
        size_t left = argc - j - 1;
        const struct resp_arg *a = &argv[j];
        if (!store && arg_eq(a, "withscores")) {
            r->withscores = true;
        } else if (arg_eq(a, "limit") && left >= 2) {
            if (!parse_long(&argv[j + 1], &r->offset, err) ||
                !parse_long(&argv[j + 2], &r->limit, err))
                return false;
            j += 2;
        } else if (auto_dir && !r->rev && arg_eq(a, "rev")) {
            r->rev = true;
        } else if (auto_kind && arg_eq(a, "bylex")) {
            r->kind = ZR_LEX;
            auto_kind = false;
        } else if (auto_kind && arg_eq(a, "byscore")) {
            r->kind = ZR_SCORE;
            auto_kind = false;
        } else {
            resp_error(err, "ERR syntax error");
            return false;
        }
    }
    if (r->limit != -1 && r->kind == ZR_RANK) {
        resp_error(err, "ERR syntax error, LIMIT is only supported in combination with either "
                        "BYSCORE or BYLEX");
        return false;
    }
    if (r->withscores && r->kind == ZR_LEX) {
        resp_error(err, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return false;
    }
    const struct resp_arg *lo = &argv[key_at + 1], *hi = &argv[key_at + 2];
    if (r->rev && r->kind != ZR_RANK) { /* given as max, min */
        const struct resp_arg *t = lo;
        lo = hi;
        hi = t;
    }
    switch (r->kind) {
    case ZR_RANK:
        return parse_long(lo, &r->start, err) && parse_long(hi, &r->end, err);
    case ZR_SCORE:
        if (zset_parse_score_bound(lo->ptr, lo->len, &r->sr.min, &r->sr.minex) < 0 ||
            zset_parse_score_bound(hi->ptr, hi->len, &r->sr.max, &r->sr.maxex) < 0) {
            resp_error(err, "ERR min or max is not a float");
            return false;
        }
        return true;
    case ZR_LEX:
        if (zset_parse_lex_bound(lo->ptr, lo->len, &r->lr.min) < 0 ||
            zset_parse_lex_bound(hi->ptr, hi->len, &r->lr.max) < 0) {
            resp_error(err, "ERR min or max not valid string range item");
            return false;
        }
        return true;
    }
    return false;
}

/* ---- Lex ranges ---------------------------------------------------------- */

/* Redis's sdscmplex of two members, "-" below and "+" above everything. */
static int lexcmp(const void *a, size_t al, const void *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static int bound_cmp(const struct zset_lex_bound *a, const struct zset_lex_bound *b)
{
    bool ai = a->kind == ZSET_LEX_INCL || a->kind == ZSET_LEX_EXCL;
    bool bi = b->kind == ZSET_LEX_INCL || b->kind == ZSET_LEX_EXCL;
    if (!ai && !bi && a->kind == b->kind)
        return 0;
    if (a->kind == ZSET_LEX_MINUS || b->kind == ZSET_LEX_PLUS)
        return -1;
    if (a->kind == ZSET_LEX_PLUS || b->kind == ZSET_LEX_MINUS)
        return 1;
    return lexcmp(a->s, a->len, b->s, b->len);
}

static bool gte_min(const struct zset_lex_range *r, const struct zset_elem *e)
{
    const struct zset_lex_bound *b = &r->min;
    if (b->kind == ZSET_LEX_MINUS || b->kind == ZSET_LEX_PLUS)
        return b->kind == ZSET_LEX_MINUS;
    int c = lexcmp(e->m, e->len, b->s, b->len);
    return b->kind == ZSET_LEX_EXCL ? c > 0 : c >= 0;
}

static bool lte_max(const struct zset_lex_range *r, const struct zset_elem *e)
{
    const struct zset_lex_bound *b = &r->max;
    if (b->kind == ZSET_LEX_MINUS || b->kind == ZSET_LEX_PLUS)
        return b->kind == ZSET_LEX_PLUS;
    int c = lexcmp(e->m, e->len, b->s, b->len);
    return b->kind == ZSET_LEX_EXCL ? c < 0 : c <= 0;
}

/* The ranks [*lo, *hi) of a lex range, found as Redis finds them, which
 * matters when members have different scores (Redis assumes they do not):
 * nothing unless the last member is at or above min and the first at or
 * below max; then, walking forward (backward when rev), from the first
 * member past the near bound while members stay inside the far one. A
 * listpack is walked as Redis walks it; a tree is searched, which agrees
 * whenever the scores are equal. */
static void lex_run(const struct tval *tv, const struct zset_lex_range *r, bool rev, size_t *lo,
                    size_t *hi)
{
    size_t len = zset_len(tv);
    struct zset_elem e;
    *lo = *hi = 0;
    /* "-" and "+" count as exclusive bounds in Redis's emptiness test. */
    bool minex = r->min.kind != ZSET_LEX_INCL, maxex = r->max.kind != ZSET_LEX_INCL;
    int c = bound_cmp(&r->min, &r->max);
    if (len == 0 || c > 0 || (c == 0 && (minex || maxex)))
        return;
    if (!zset_at(tv, len - 1, &e) || !gte_min(r, &e) || !zset_at(tv, 0, &e) || !lte_max(r, &e))
        return;
    if (tv->enc != TVAL_ENC_LISTPACK) {
        zset_lex_span(tv, r, lo, hi);
        return;
    }
    struct zset_iter it;
    size_t i = 0;
    if (!rev) {
        zset_iter_init(&it, tv, 0, false);
        while (zset_iter_next(&it, &e) && !gte_min(r, &e))
            i++;
        if (i == len || !lte_max(r, &e))
            return;
        *lo = i++;
        while (zset_iter_next(&it, &e) && lte_max(r, &e))
            i++;
        *hi = i;
        return;
    }
    zset_iter_init(&it, tv, len - 1, true);
    while (zset_iter_next(&it, &e) && !lte_max(r, &e))
        i++;
    if (i == len || !gte_min(r, &e))
        return;
    *hi = len - i++;
    while (zset_iter_next(&it, &e) && gte_min(r, &e))
        i++;
    *lo = len - i;
}

/* ---- Selecting ----------------------------------------------------------- */

/* Redis's rank sanitising: negative ranks count from the end; an empty
 * result as *n = 0. */
static void rank_run(size_t len, int64_t start, int64_t end, size_t *first, size_t *n)
{
    int64_t l = (int64_t)len;
    if (start < 0)
        start += l;
    if (end < 0)
        end += l;
    if (start < 0)
        start = 0;
    *n = 0;
    if (start > end || start >= l)
        return;
    if (end >= l)
        end = l - 1;
    *first = (size_t)start;
    *n = (size_t)(end - start + 1);
}

void cmd_zset_range_select(const struct tval *tv, const struct zrange_req *r, size_t *first,
                           size_t *n, bool *rev)
{
    size_t len = zset_len(tv);
    *rev = r->rev;
    *first = 0;
    *n = 0;
    if (r->kind == ZR_RANK) {
        size_t f, k;
        rank_run(len, r->start, r->end, &f, &k);
        if (k == 0)
            return;
        *first = r->rev ? len - 1 - f : f;
        *n = k;
        return;
    }
    size_t lo, hi; /* [lo, hi): the ranks inside the range */
    if (r->kind == ZR_SCORE)
        zset_score_span(tv, &r->sr, &lo, &hi);
    else
        lex_run(tv, &r->lr, r->rev, &lo, &hi);
    /* LIMIT: a negative offset skips everything (Redis's "while (offset--)"
     * walks off the end), a negative count takes everything. */
    if (hi <= lo || r->offset < 0 || (uint64_t)r->offset >= hi - lo)
        return;
    size_t avail = hi - lo - (size_t)r->offset;
    size_t k = r->limit < 0 || (uint64_t)r->limit > avail ? avail : (size_t)r->limit;
    *first = r->rev ? hi - 1 - (size_t)r->offset : lo + (size_t)r->offset;
    *n = k;
}

int cmd_zset_range_copy(const struct tval *tv, const struct zrange_req *r, struct zpair **out,
                        size_t *n, char **bytes)
{
    size_t first, k;
    bool rev;
    cmd_zset_range_select(tv, r, &first, &k, &rev);
    *out = NULL;
    *bytes = NULL;
    *n = 0;
    if (k == 0)
        return 0;
    /* Ascending ranks for the store: the lowest selected rank first. */
    size_t lo = rev ? first + 1 - k : first, total = 0;
    struct zset_iter it;
    struct zset_elem e;
    zset_iter_init(&it, tv, lo, false);
    for (size_t i = 0; i < k && zset_iter_next(&it, &e); i++)
        total += e.len;
    struct zpair *v = malloc(k * sizeof *v);
    char *b = malloc(total ? total : 1);
    if (!v || !b) {
        free(v);
        free(b);
        return -1;
    }
    size_t off = 0;
    zset_iter_init(&it, tv, lo, false);
    for (size_t i = 0; i < k && zset_iter_next(&it, &e); i++) {
        memcpy(b + off, e.m, e.len);
        v[i] = (struct zpair){b + off, e.len, e.score};
        off += e.len;
    }
    *out = v;
    *bytes = b;
    *n = k;
    return 0;
}

/* ---- ZRANGE and its older forms ------------------------------------------ */

static void range_reply(struct cmd_ctx *c, enum zrange_cmd cmd)
{
    struct zrange_req r;
    if (!cmd_zset_range_parse(cmd, c->argc, c->argv, 1, &r, c->out))
        return;
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_ZSET, &wrong);
    if (wrong)
        return;
    if (!e) {
        resp_array(c->out, 0);
        return;
    }
    const struct tval *tv = kventry_tval(e);
    size_t first, n;
    bool rev;
    cmd_zset_range_select(tv, &r, &first, &n, &rev);
    bool nested = c->proto == RESP3;
    resp_array(c->out, r.withscores && !nested ? n * 2 : n);
    if (n == 0)
        return;
    struct zset_iter it;
    struct zset_elem el;
    zset_iter_init(&it, tv, first, rev);
    for (size_t i = 0; i < n && zset_iter_next(&it, &el); i++)
        cmd_zset_reply_elem(c->out, c->proto, el.m, el.len, el.score, r.withscores, nested);
}

static void zrange_exec(struct cmd_ctx *c) { range_reply(c, ZRC_ZRANGE); }
static void zrevrange_exec(struct cmd_ctx *c) { range_reply(c, ZRC_ZREVRANGE); }
static void zrangebyscore_exec(struct cmd_ctx *c) { range_reply(c, ZRC_ZRANGEBYSCORE); }
static void zrevrangebyscore_exec(struct cmd_ctx *c) { range_reply(c, ZRC_ZREVRANGEBYSCORE); }
static void zrangebylex_exec(struct cmd_ctx *c) { range_reply(c, ZRC_ZRANGEBYLEX); }
static void zrevrangebylex_exec(struct cmd_ctx *c) { range_reply(c, ZRC_ZREVRANGEBYLEX); }

void cmd_zset_zrangestore_exec(struct cmd_ctx *c)
{
    struct zrange_req r;
    if (!cmd_zset_range_parse(ZRC_ZRANGESTORE, c->argc, c->argv, 2, &r, c->out))
        return;
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[2], TVAL_ZSET, &wrong);
    if (wrong)
        return;
    struct zpair *v = NULL;
    char *bytes = NULL;
    size_t n = 0;
    if (e && cmd_zset_range_copy(kventry_tval(e), &r, &v, &n, &bytes) < 0) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
        return;
    }
    int rc = cmd_zset_store(c, "zrangestore", c->argv[1].ptr, c->argv[1].len, v, n);
    if (rc < 0)
        cmd_reply_kvmap_error(c, rc);
    else
        resp_int(c->out, (int64_t)n);
    free(v);
    free(bytes);
}

/* ---- ZCOUNT ZLEXCOUNT ---------------------------------------------------- */

static void count_generic(struct cmd_ctx *c, bool lex)
{
    struct zrange_req r;
    memset(&r, 0, sizeof r);
    const struct resp_arg *lo = &c->argv[2], *hi = &c->argv[3];
    if (!lex && (zset_parse_score_bound(lo->ptr, lo->len, &r.sr.min, &r.sr.minex) < 0 ||
                 zset_parse_score_bound(hi->ptr, hi->len, &r.sr.max, &r.sr.maxex) < 0)) {
        resp_error(c->out, "ERR min or max is not a float");
        return;
    }
    if (lex && (zset_parse_lex_bound(lo->ptr, lo->len, &r.lr.min) < 0 ||
                zset_parse_lex_bound(hi->ptr, hi->len, &r.lr.max) < 0)) {
        resp_error(c->out, "ERR min or max not valid string range item");
        return;
    }
    bool wrong;
    struct kventry *e = cmd_lookup_type(c, &c->argv[1], TVAL_ZSET, &wrong);
    if (wrong)
        return;
    size_t first = 0, end = 0;
    if (e && lex)
        lex_run(kventry_tval(e), &r.lr, false, &first, &end);
    else if (e)
        zset_score_span(kventry_tval(e), &r.sr, &first, &end);
    resp_int(c->out, end > first ? (int64_t)(end - first) : 0);
}

static void zcount_exec(struct cmd_ctx *c) { count_generic(c, false); }
static void zlexcount_exec(struct cmd_ctx *c) { count_generic(c, true); }

/* ---- ZREMRANGEBY* -------------------------------------------------------- */

static void remrange_generic(struct cmd_ctx *c, enum zrange_kind kind)
{
    static const char *const events[] = {
        [ZR_RANK] = "zremrangebyrank", [ZR_SCORE] = "zremrangebyscore",
        [ZR_LEX] = "zremrangebylex"};
    struct zrange_req r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.limit = -1;
    const struct resp_arg *key = &c->argv[1], *lo = &c->argv[2], *hi = &c->argv[3];
    if (kind == ZR_RANK) {
        if (!parse_long(lo, &r.start, c->out) || !parse_long(hi, &r.end, c->out))
            return;
    } else if (kind == ZR_SCORE) {
        if (zset_parse_score_bound(lo->ptr, lo->len, &r.sr.min, &r.sr.minex) < 0 ||
            zset_parse_score_bound(hi->ptr, hi->len, &r.sr.max, &r.sr.maxex) < 0) {
            resp_error(c->out, "ERR min or max is not a float");
            return;
        }
    } else if (zset_parse_lex_bound(lo->ptr, lo->len, &r.lr.min) < 0 ||
               zset_parse_lex_bound(hi->ptr, hi->len, &r.lr.max) < 0) {
        resp_error(c->out, "ERR min or max not valid string range item");
        return;
    }
    bool wrong;
    struct kventry *e = cmd_lookup_type_probe(c, key, TVAL_ZSET, &wrong);
    if (wrong)
        return;
    size_t first = 0, n = 0;
    bool rev;
    if (e)
        cmd_zset_range_select(kventry_tval(e), &r, &first, &n, &rev);
    if (n == 0) {
        resp_int(c->out, 0);
        return;
    }
    e = kvmap_find_w(c->db, key->ptr, key->len, c->now_ms);
    struct tval *tv = kventry_tval(e);
    size_t removed = zset_del_range(kvmap_acct(c->db), tv, first, first + n);
    cmd_key_changed_drop_empty(c, NOTIFY_ZSET, events[kind], key, tv);
    resp_int(c->out, (int64_t)removed);
}

static void zremrangebyrank_exec(struct cmd_ctx *c) { remrange_generic(c, ZR_RANK); }
static void zremrangebyscore_exec(struct cmd_ctx *c) { remrange_generic(c, ZR_SCORE); }
static void zremrangebylex_exec(struct cmd_ctx *c) { remrange_generic(c, ZR_LEX); }

/* ---- The table ----------------------------------------------------------- */

#define KS_RO_ACCESS (CMD_KS_RO | CMD_KS_ACCESS)
#define KEY1(f) .keys = { { .flags = (f), .begin = 1, .last = 0, .step = 1 } }
#define ZRANGE_CX "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."
#define ZREM_CX "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."

const struct cmd_def cmd_zset_range_defs[] = {
    { .name = "zcount", .arity = 4, .exec = zcount_exec,
      .flags = CMD_READONLY | CMD_FAST, KEY1(KS_RO_ACCESS),
      .group = "sorted-set", .since = "2.0.0",
      .complexity = "O(log(N)) with N being the number of elements in the sorted set.",
      .summary = "Count the members in a sorted set with scores within the given values" },
    { .name = "zlexcount", .arity = 4, .exec = zlexcount_exec,
      .flags = CMD_READONLY | CMD_FAST, KEY1(KS_RO_ACCESS),
      .group = "sorted-set", .since = "2.8.9",
      .complexity = "O(log(N)) with N being the number of elements in the sorted set.",
      .summary = "Count the number of members in a sorted set between a given lexicographical range" },
    { .name = "zrange", .arity = -4, .exec = zrange_exec,
      .flags = CMD_READONLY, KEY1(KS_RO_ACCESS),
      .group = "sorted-set", .since = "1.2.0", .complexity = ZRANGE_CX,
      .summary = "Return a range of members in a sorted set" },
    { .name = "zrangestore", .arity = -5, .exec = cmd_zset_zrangestore_exec,
      .plan = &cmd_zset_zrangestore_plan,
      .flags = CMD_WRITE | CMD_DENYOOM | CMD_MULTIKEY,
      .keys = { { .flags = CMD_KS_OW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 },
                { .flags = KS_RO_ACCESS, .begin = 2, .last = 0, .step = 1 } },
      .group = "sorted-set", .since = "6.2.0",
      .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
      .summary = "Store a range of members from sorted set into another key" },
    { .name = "zrevrange", .arity = -4, .exec = zrevrange_exec,
      .flags = CMD_READONLY, KEY1(KS_RO_ACCESS),
      .group = "sorted-set", .since = "1.2.0", .complexity = ZRANGE_CX,
      .summary = "Return a range of members in a sorted set, by index, with scores ordered from high to low" },
    { .name = "zrangebyscore", .arity = -4, .exec = zrangebyscore_exec,
      .flags = CMD_READONLY, KEY1(KS_RO_ACCESS),
      .group = "sorted-set", .since = "1.0.5",
      .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
      .summary = "Return a range of members in a sorted set, by score" },
    { .name = "zrevrangebyscore", .arity = -4, .exec = zrevrangebyscore_exec,
      .flags = CMD_READONLY, KEY1(KS_RO_ACCESS),
      .group = "sorted-set", .since = "2.2.0",
      .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
      .summary = "Return a range of members in a sorted set, by score, with scores ordered from high to low" },
    { .name = "zrangebylex", .arity = -4, .exec = zrangebylex_exec,
      .flags = CMD_READONLY, KEY1(KS_RO_ACCESS),
      .group = "sorted-set", .since = "2.8.9",
      .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
      .summary = "Return a range of members in a sorted set, by lexicographical range" },
    { .name = "zrevrangebylex", .arity = -4, .exec = zrevrangebylex_exec,
      .flags = CMD_READONLY, KEY1(KS_RO_ACCESS),
      .group = "sorted-set", .since = "2.8.9",
      .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
      .summary = "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings." },
    { .name = "zremrangebyrank", .arity = 4, .exec = zremrangebyrank_exec,
      .flags = CMD_WRITE, KEY1(CMD_KS_RW | CMD_KS_DELETE),
      .group = "sorted-set", .since = "2.0.0", .complexity = ZREM_CX,
      .summary = "Remove all members in a sorted set within the given indexes" },
    { .name = "zremrangebyscore", .arity = 4, .exec = zremrangebyscore_exec,
      .flags = CMD_WRITE, KEY1(CMD_KS_RW | CMD_KS_DELETE),
      .group = "sorted-set", .since = "1.2.0", .complexity = ZREM_CX,
      .summary = "Remove all members in a sorted set within the given scores" },
    { .name = "zremrangebylex", .arity = 4, .exec = zremrangebylex_exec,
      .flags = CMD_WRITE, KEY1(CMD_KS_RW | CMD_KS_DELETE),
      .group = "sorted-set", .since = "2.8.9", .complexity = ZREM_CX,
      .summary = "Remove all members in a sorted set between the given lexicographical range" },
};
const size_t cmd_zset_range_ndefs = sizeof cmd_zset_range_defs / sizeof cmd_zset_range_defs[0];
