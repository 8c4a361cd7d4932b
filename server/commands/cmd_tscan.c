/* cmd_tscan.c — what HSCAN, SSCAN and ZSCAN share: Redis 7.0's cursor
 * parsing, their options (COUNT, MATCH; TYPE belongs to SCAN alone) and the
 * reply's frame. Runs on the thread that owns the key's shard. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"

bool cmd_tscan_cursor(struct cmd_ctx *c, const struct resp_arg *a, uint64_t *cursor)
{
    /* Redis's parseScanCursorOrReply runs strtoul on the argument as a C
     * string: it stops at a NUL byte, accepts a sign (a '-' wraps the
     * value round 2^64) and an empty string (0), and refuses a leading
     * space, anything after the digits, and overflow. */
    size_t len = a->len;
    const char *nul = memchr(a->ptr, '\0', len);
    if (nul)
        len = (size_t)(nul - a->ptr);
    const char *p = a->ptr, *end = a->ptr + len;
    uint64_t v = 0;
    bool neg = false, ok = true;
    if (p < end && (*p == ' ' || (*p >= '\t' && *p <= '\r')))
        ok = false;
    if (ok && p < end && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
        ok = p < end && *p >= '0' && *p <= '9'; /* a bare sign is not parsed */
    }
    for (; ok && p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            ok = false;
        else
            v = v * 10 + d;
    }
    if (!ok) {
        resp_error(c->out, "ERR invalid cursor");
        return false;
    }
    *cursor = neg ? (uint64_t)0 - v : v;
    return true;
}

bool cmd_tscan_opts(struct cmd_ctx *c, size_t first, struct cmd_tscan_opts *o)
{
    o->count = CMD_TSCAN_DEFAULT_COUNT;
    o->match = NULL;
    for (size_t i = first; i < c->argc;) {
        const struct resp_arg *a = &c->argv[i];
        bool pair = c->argc - i >= 2;
        if (pair && cmd_arg_eq(a, "count")) {
            int64_t n;
            if (!cmd_arg_int64(c, &c->argv[i + 1], &n))
                return false;
            if (n < 1) {
                cmd_reply_syntax(c);
                return false;
            }
            o->count = (uint64_t)n;
        } else if (pair && cmd_arg_eq(a, "match")) {
            const struct resp_arg *p = &c->argv[i + 1];
            /* "*" matches everything: the same as no pattern. */
            o->match = (p->len == 1 && p->ptr[0] == '*') ? NULL : p;
        } else {
            cmd_reply_syntax(c);
            return false;
        }
        i += 2;
    }
    return true;
}

void cmd_tscan_reply(struct cmd_ctx *c, uint64_t cursor, size_t n, const struct rbuf *elems)
{
    char num[24];
    int len = snprintf(num, sizeof num, "%" PRIu64, cursor);
    resp_array(c->out, 2);
    resp_bulk(c->out, num, (size_t)len);
    resp_array(c->out, n);
    if (elems->oom)
        c->out->oom = true;
    else if (elems->len)
        rbuf_append(c->out, elems->ptr, elems->len);
}
