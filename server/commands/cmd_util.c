/* cmd_util.c — argument parsing and standard replies shared by the command
 * implementations, reproducing Redis 7.0's parsing rules and error texts
 * byte for byte. Runs on whichever thread executes the command. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/exec/cmd.h"
#include "shard/tval.h"
#include "server/commands/cmd_impl.h"

bool cmd_parse_ldouble(const char *s, size_t len, long double *v)
{
    char buf[CMD_MAX_LDOUBLE_CHARS];
    char *end;
    long double d;

    if (len == 0 || len >= sizeof buf)
        return false;
    /* strtold needs a terminated string; every byte must be consumed, so
     * a NUL inside the argument makes it invalid. */
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    d = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || (size_t)(end - buf) != len || errno == EINVAL ||
        isnan(d))
        return false;
    /* Overflow (±HUGE_VAL) and underflow to zero are refused; a subnormal
     * result that glibc flags ERANGE is kept, as in Redis. */
    if (errno == ERANGE && (isinf(d) || d == 0.0L))
        return false;
    *v = d;
    return true;
}

size_t cmd_format_ldouble(char *buf, size_t cap, long double v)
{
    int r = snprintf(buf, cap, "%.17Lf", v);
    size_t n;

    if (r < 0 || (size_t)r + 1 > cap)
        return 0;
    n = (size_t)r;
    if (memchr(buf, '.', n)) {
        while (n > 0 && buf[n - 1] == '0')
            n--;
        if (n > 0 && buf[n - 1] == '.')
            n--;
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        n = 1;
    }
    return n;
}

bool cmd_arg_int64(struct cmd_ctx *c, const struct resp_arg *a, int64_t *v)
{
    if (int64str_parse(a->ptr, a->len, v))
        return true;
    resp_error(c->out, "ERR value is not an integer or out of range");
    return false;
}

bool cmd_arg_double(struct cmd_ctx *c, const struct resp_arg *a, long double *v)
{
    if (cmd_parse_ldouble(a->ptr, a->len, v))
        return true;
    resp_error(c->out, "ERR value is not a valid float");
    return false;
}

bool cmd_arg_eq(const struct resp_arg *a, const char *lit)
{
    size_t n = strlen(lit);

    if (a->len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (tolower((unsigned char)a->ptr[i]) != tolower((unsigned char)lit[i]))
            return false;
    }
    return true;
}

void cmd_reply_ok(struct cmd_ctx *c)
{
    resp_simple(c->out, "OK");
}

void cmd_reply_syntax(struct cmd_ctx *c)
{
    resp_error(c->out, "ERR syntax error");
}

void cmd_reply_wrongtype(struct cmd_ctx *c)
{
    resp_error(c->out, "WRONGTYPE Operation against a key holding the wrong kind of value");
}

void cmd_reply_kvmap_error(struct cmd_ctx *c, int err)
{
    switch (err) {
    case KVMAP_ETOOBIG:
        resp_error(c->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        break;
    case KVMAP_ENOTINT:
        resp_error(c->out, "ERR value is not an integer or out of range");
        break;
    case KVMAP_EOVERFLOW:
        resp_error(c->out, "ERR increment or decrement would overflow");
        break;
    case KVMAP_EWRONGTYPE:
        cmd_reply_wrongtype(c);
        break;
    default:
        /* Redis would have been stopped by maxmemory before this point;
         * we answer the client and keep serving. */
        resp_error(c->out, "OOM out of memory while executing the command");
        break;
    }
}

void cmd_key_changed_drop_empty(struct cmd_ctx *c, int class, const char *event,
                                const struct resp_arg *key, const struct tval *tv)
{
    bool empty = tval_len(tv) == 0;
    if (empty)
        kvmap_del(c->db, key->ptr, key->len, c->now_ms);
    cmd_key_modified(c, class, event, key->ptr, key->len);
    if (empty)
        cmd_key_notify(c, NOTIFY_GENERIC, "del", key->ptr, key->len);
}
