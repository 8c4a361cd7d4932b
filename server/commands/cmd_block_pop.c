/* cmd_block_pop.c — what a blocking command asks and what it does on a
 * key's shard: its arguments parsed in Redis's order of checks (the
 * timeout as Redis's getTimeoutFromObjectOrReply), and the pop, which is
 * the non-blocking command's own exec through cmd_call (LPOP, ZPOPMIN,
 * LMPOP, ZMPOP, LMOVE), its reply reshaped as the blocking form's.
 * Parsing is pure (any thread); the pop runs on the key's shard's
 * thread. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "server/commands/cmd_block_internal.h"
#include "server/commands/cmd_impl.h"
#include "server/core/server.h"

/* ---- Parsing ------------------------------------------------------------ */

/* Redis's getTimeoutFromObjectOrReply (seconds, as a long double). */
static bool parse_timeout(const struct resp_arg *a, int64_t *ms, struct rbuf *err)
{
    char buf[128];
    bool ok = a->len > 0 && a->len < sizeof buf;
    long double v = 0;
    if (ok) {
        memcpy(buf, a->ptr, a->len);
        buf[a->len] = '\0';
        char *end;
        errno = 0;
        v = strtold(buf, &end);
        ok = !isspace((unsigned char)buf[0]) && *end == '\0' && !isnan(v) &&
             !(errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0));
    }
    if (!ok) {
        if (err)
            resp_error(err, "ERR timeout is not a float or out of range");
        return false;
    }
    /* Redis 7.0 converts with a plain cast, which truncates and turns
     * anything out of range into LLONG_MIN: "timeout is negative". */
    v *= 1000.0L;
    long long t = v >= 9223372036854775808.0L || v < -9223372036854775808.0L ? LLONG_MIN
                                                                              : (long long)v;
    if (t < 0) {
        if (err)
            resp_error(err, "ERR timeout is negative");
        return false;
    }
    /* (A deadline past the clock's range is forever.) */
    int64_t now = clock_wall_ms();
    if (t > LLONG_MAX - now)
        t = LLONG_MAX - now;
    *ms = t;
    return true;
}

/* A positive integer argument, else err (with Redis's message). */
static bool parse_pos(const struct resp_arg *a, long long *v, const char *msg, struct rbuf *err)
{
    char buf[32];
    bool ok = a->len > 0 && a->len < sizeof buf;
    if (ok) {
        memcpy(buf, a->ptr, a->len);
        buf[a->len] = '\0';
        char *end;
        errno = 0;
        *v = strtoll(buf, &end, 10);
        ok = *end == '\0' && errno == 0 && !isspace((unsigned char)buf[0]) && *v >= 1 &&
             !(buf[0] == '+') && !(buf[0] == '0' && a->len > 1);
    }
    if (!ok && err)
        resp_errorf(err, "ERR %s", msg);
    return ok;
}

static bool arg_is(const struct resp_arg *a, const char *lit)
{
    return cmd_arg_eq(a, lit);
}

bool blk_parse(enum blk_kind kind, size_t argc, const struct resp_arg *argv,
               struct blk_spec *sp, struct rbuf *err)
{
    memset(sp, 0, sizeof *sp);
    sp->kind = kind;
    switch (kind) {
    case BK_LPOP:
    case BK_RPOP:
    case BK_ZMIN:
    case BK_ZMAX:
        sp->kfirst = 1;
        sp->nkeys = argc - 2;
        sp->left = kind == BK_LPOP || kind == BK_ZMIN;
        return parse_timeout(&argv[argc - 1], &sp->timeout_ms, err);
    case BK_LMOVE:
        sp->kfirst = 1;
        sp->nkeys = 1;
        if (argc == 4) { /* BRPOPLPUSH src dst timeout */
            sp->left = false;
            sp->to_left = true;
            return parse_timeout(&argv[3], &sp->timeout_ms, err);
        }
        for (int i = 3; i <= 4; i++) {
            bool l = arg_is(&argv[i], "left");
            if (!l && !arg_is(&argv[i], "right")) {
                if (err)
                    resp_error(err, "ERR syntax error");
                return false;
            }
            if (i == 3)
                sp->left = l;
            else
                sp->to_left = l;
        }
        return parse_timeout(&argv[5], &sp->timeout_ms, err);
    case BK_LMPOP:
    case BK_ZMPOP: {
        long long numkeys, count;
        if (!parse_pos(&argv[2], &numkeys, "numkeys should be greater than 0", err))
            return false;
        if (numkeys >= (long long)argc - 3) {
            if (err)
                resp_error(err, "ERR syntax error");
            return false;
        }
        size_t where = 3 + (size_t)numkeys;
        const char *l = kind == BK_LMPOP ? "left" : "min";
        const char *r = kind == BK_LMPOP ? "right" : "max";
        sp->left = arg_is(&argv[where], l);
        if (!sp->left && !arg_is(&argv[where], r)) {
            if (err)
                resp_error(err, "ERR syntax error");
            return false;
        }
        for (size_t j = where + 1; j < argc; j++) {
            if (sp->count_at == 0 && arg_is(&argv[j], "count") && j + 1 < argc) {
                j++;
                if (!parse_pos(&argv[j], &count, "count should be greater than 0", err))
                    return false;
                sp->count_at = j;
            } else {
                if (err)
                    resp_error(err, "ERR syntax error");
                return false;
            }
        }
        sp->kfirst = 3;
        sp->nkeys = (size_t)numkeys;
        return parse_timeout(&argv[1], &sp->timeout_ms, err);
    }
    }
    return false;
}

int blk_want_type(enum blk_kind k)
{
    return k == BK_ZMIN || k == BK_ZMAX || k == BK_ZMPOP ? TVAL_ZSET : TVAL_LIST;
}

/* ---- The pop (on the key's shard) ---------------------------------------- */

/* Run the non-blocking command argv[0] with argv on base's shard, reply to
 * out in RESP version proto: the same code path as a client's, but as a
 * part of the blocking command (cmd_call_part), which is timed, counted
 * and slow-logged whole, as Redis logs BLPOP and never its pop. */
static void run_named(struct cmd_ctx *base, size_t argc, const struct resp_arg *argv,
                      struct rbuf *out, int proto)
{
    const struct cmd_def *d = cmd_lookup(argv[0].ptr, argv[0].len);
    if (!d) {
        out->oom = true;
        return;
    }
    struct cmd_ctx c = *base;
    c.argc = argc;
    c.argv = argv;
    c.out = out;
    c.proto = proto;
    c.priv = NULL;
    cmd_call_part(d, d->exec, &c);
}

static struct resp_arg lit(const char *s)
{
    return (struct resp_arg){.ptr = s, .len = strlen(s)};
}

bool blk_move_crosses(const struct blk_spec *sp, const struct resp_arg *argv, unsigned shard)
{
    return sp->kind == BK_LMOVE &&
           shard_group_route(server.group, argv[2].ptr, argv[2].len) != shard;
}

void blk_do_pop(struct cmd_ctx *c, const struct blk_spec *sp, const struct resp_arg *argv,
                size_t ki, struct rbuf *out, int proto)
{
    const struct resp_arg *key = &argv[sp->kfirst + ki];
    struct rbuf tmp;
    rbuf_init(&tmp);
    switch (sp->kind) {
    case BK_LPOP:
    case BK_RPOP: {
        struct resp_arg a[2] = {lit(sp->left ? "lpop" : "rpop"), *key};
        run_named(c, 2, a, &tmp, proto);
        if (tmp.oom) {
            out->oom = true;
            break;
        }
        resp_array(out, 2);
        resp_bulk(out, key->ptr, key->len);
        rbuf_append(out, tmp.ptr, tmp.len);
        break;
    }
    case BK_ZMIN:
    case BK_ZMAX: {
        struct resp_arg a[2] = {lit(sp->left ? "zpopmin" : "zpopmax"), *key};
        run_named(c, 2, a, &tmp, proto);
        /* "*2\r\n" member score: the member and score follow the key. */
        const char *nl = tmp.len ? memchr(tmp.ptr, '\n', tmp.len) : NULL;
        if (tmp.oom || !nl) {
            out->oom = true;
            break;
        }
        size_t skip = (size_t)(nl - tmp.ptr) + 1;
        resp_array(out, 3);
        resp_bulk(out, key->ptr, key->len);
        rbuf_append(out, tmp.ptr + skip, tmp.len - skip);
        break;
    }
    case BK_LMPOP:
    case BK_ZMPOP: {
        bool list = sp->kind == BK_LMPOP;
        struct resp_arg a[6] = {lit(list ? "lmpop" : "zmpop"), lit("1"), *key,
                                lit(list ? (sp->left ? "left" : "right")
                                         : (sp->left ? "min" : "max")),
                                lit("count"), sp->count_at ? argv[sp->count_at] : lit("1")};
        run_named(c, sp->count_at ? 6 : 4, a, out, proto);
        break;
    }
    case BK_LMOVE: { /* (both keys on this shard) */
        struct resp_arg a[5] = {lit("lmove"), argv[1], argv[2], lit(sp->left ? "left" : "right"),
                                lit(sp->to_left ? "left" : "right")};
        run_named(c, 5, a, out, proto);
        break;
    }
    }
    rbuf_deinit(&tmp);
}
