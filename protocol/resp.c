/* resp.c — incremental RESP2 request parser: multibulk ("*<n>\r\n$<len>\r\n
 * <bytes>\r\n"...) and inline commands, with Redis 7.0's rules and error texts.
 * Runs on whichever worker thread owns the connection; no shared state. */
#include "protocol/resp.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/resp_inline.h"

/* Entries allocated for the argument array up front: most commands have at
 * most a handful of arguments and never grow it. */
#define ARGV_INIT 16
/* After a command that grew the array past this many entries, the next
 * command starts from ARGV_INIT again, so one MSET with 100k keys does not
 * pin megabytes to an idle connection for its lifetime. */
#define ARGV_KEEP 1024

static const char err_mbulk_len[] = "Protocol error: invalid multibulk length";
static const char err_bulk_len[] = "Protocol error: invalid bulk length";
static const char err_mbulk_big[] = "Protocol error: too big mbulk count string";
static const char err_bulk_big[] = "Protocol error: too big bulk count string";
static const char err_unauth_mbulk[] = "Protocol error: unauthenticated multibulk length";
static const char err_unauth_bulk[] = "Protocol error: unauthenticated bulk length";
static const char err_inline_big[] = "Protocol error: too big inline request";
static const char err_quotes[] = "Protocol error: unbalanced quotes in request";
/* Not a Redis text: Redis aborts on out-of-memory, we close the connection. */
static const char err_nomem[] = "Protocol error: out of memory";

void resp_limits_default(struct resp_limits *l)
{
    l->max_inline = 64 * 1024;      /* PROTO_INLINE_MAX_SIZE */
    l->max_multibulk = 1024 * 1024; /* Redis's historical multibulk cap */
    l->max_bulk = 512 * 1024 * 1024; /* proto-max-bulk-len default */
}

/* Forget the current command's progress; keeps the arrays. */
static void progress_clear(struct resp_parser *p)
{
    p->want_args = 0;
    p->got_args = 0;
    p->pos = 0;
    p->bulk_len = RESP_NO_BULK;
    p->scan = 0;
}

/* Resize argv and offs to exactly cap entries. Returns 0, or -1 with
 * argv_cap still a count that both arrays hold. */
static int argv_resize(struct resp_parser *p, size_t cap)
{
    struct resp_arg *argv;
    size_t *offs;

    if (cap > SIZE_MAX / sizeof(*argv))
        return -1;
    argv = realloc(p->argv, cap * sizeof(*argv));
    if (argv == NULL)
        return -1;
    p->argv = argv;
    offs = realloc(p->offs, cap * sizeof(*offs));
    if (offs == NULL) {
        /* argv now has cap entries, offs still its old count. */
        if (cap < p->argv_cap)
            p->argv_cap = cap;
        return -1;
    }
    p->offs = offs;
    p->argv_cap = cap;
    return 0;
}

int resp_parser_init(struct resp_parser *p, const struct resp_limits *lim)
{
    memset(p, 0, sizeof(*p));
    if (lim != NULL)
        p->lim = *lim;
    else
        resp_limits_default(&p->lim);
    progress_clear(p);
    if (argv_resize(p, ARGV_INIT) != 0) {
        resp_parser_deinit(p);
        return -1;
    }
    return 0;
}

void resp_parser_deinit(struct resp_parser *p)
{
    free(p->argv);
    free(p->offs);
    free(p->unesc);
    p->argv = NULL;
    p->offs = NULL;
    p->unesc = NULL;
    p->argv_cap = 0;
    p->unesc_cap = 0;
}

void resp_parser_reset(struct resp_parser *p)
{
    progress_clear(p);
    p->err = NULL;
}

/* Make room for one more argument; the array never exceeds limit entries.
 * Returns 0 or -1 (limit reached or no memory). */
static int argv_grow(struct resp_parser *p, size_t limit)
{
    size_t cap;

    if (p->got_args < p->argv_cap)
        return 0;
    if (p->argv_cap >= limit)
        return -1;
    /* Double, but never past what the command declared: the array follows
     * the arguments that actually arrived, so "*1048576\r\n" alone costs
     * nothing. */
    cap = p->argv_cap < ARGV_INIT ? ARGV_INIT : p->argv_cap * 2;
    if (cap > limit)
        cap = limit;
    return argv_resize(p, cap);
}

/* Parse buf[0..n) as Redis's string2ll does: optional '-', no leading '+',
 * zeros or spaces, no "-0", no overflow. Returns 1 and sets *v, or 0. */
static int parse_ll(const char *buf, size_t n, long long *v)
{
    size_t i = 0;
    int neg = 0;
    unsigned long long u = 0;

    if (n == 0)
        return 0;
    if (n == 1 && buf[0] == '0') {
        *v = 0;
        return 1;
    }
    if (buf[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || buf[i] < '1' || buf[i] > '9')
        return 0;
    for (; i < n; i++) {
        unsigned d;

        if (buf[i] < '0' || buf[i] > '9')
            return 0;
        d = (unsigned)(buf[i] - '0');
        if (u > (ULLONG_MAX - d) / 10)
            return 0;
        u = u * 10 + d;
    }
    if (neg) {
        /* -LLONG_MIN is LLONG_MAX + 1. */
        if (u > (unsigned long long)LLONG_MAX + 1)
            return 0;
        *v = u == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)u;
    } else {
        if (u > (unsigned long long)LLONG_MAX)
            return 0;
        *v = (long long)u;
    }
    return 1;
}

/* The common form of a "*<count>" or "$<len>" line starting at start
 * (buf[start] is the type byte): 1 to 18 digits without a sign or a
 * leading zero, then '\r' and one more byte, all in buf[0..len) and no
 * longer than max_inline. Reads it in one pass, with no search for the
 * '\r' and no second pass over the digits: the value in *v, the '\r'
 * offset in *cr. Anything else returns false for read_line and
 * parse_ll, which give every error and wait for what is missing. */
static inline bool quick_line_number(const struct resp_parser *p, const char *buf, size_t len,
                                     size_t start, long long *v, size_t *cr)
{
    size_t i = start + 1;
    size_t end = len - start > 19 ? start + 19 : len;
    unsigned long long u = 0;

    if (i >= end || buf[i] < '1' || buf[i] > '9')
        return false;
    for (; i < end; i++) {
        unsigned d = (unsigned)(unsigned char)buf[i] - '0';

        if (d > 9)
            break;
        u = u * 10 + d;
    }
    if (i + 1 >= len || buf[i] != '\r' || i - start > p->lim.max_inline)
        return false;
    *v = (long long)u;
    *cr = i;
    return true;
}

/* Find the byte c in buf[from..len), resuming where the last call stopped
 * (p->scan). Returns its offset, or len after recording that everything up
 * to len has been searched. */
static size_t find_byte(struct resp_parser *p, const char *buf, size_t len,
                        size_t from, char c)
{
    const char *hit;

    if (p->scan > from)
        from = p->scan;
    hit = from < len ? memchr(buf + from, c, len - from) : NULL;
    if (hit == NULL) {
        p->scan = len;
        return len;
    }
    p->scan = (size_t)(hit - buf);
    return p->scan;
}

static enum resp_status fail(struct resp_parser *p, enum resp_status st, const char *err)
{
    p->err = err;
    progress_clear(p);
    return st;
}

/* Find the end of a "*<count>" or "$<len>" line starting at p->pos. Like
 * Redis, the line ends at the first '\r', which must be followed by one more
 * byte (the '\n', skipped unchecked); a line longer than max_inline is
 * refused with too_big. Unlike Redis, which uses strchr on its buffer, a NUL
 * byte does not hide the '\r' behind it: such a line gets an "invalid
 * length" error at once instead of waiting for too_big. Returns RESP_OK with
 * the '\r' offset in *cr, RESP_AGAIN, or RESP_ETOOBIG (p->err set). */
static enum resp_status read_line(struct resp_parser *p, const char *buf, size_t len,
                                  const char *too_big, size_t *cr)
{
    size_t start = p->pos;
    size_t end = find_byte(p, buf, len, start, '\r');

    /* Redis measures the whole unterminated line against the limit;
     * measuring up to the '\r' when there is one gives the same answer
     * however the bytes are split across reads. */
    if (end - start > p->lim.max_inline)
        return fail(p, RESP_ETOOBIG, too_big);
    if (end == len || end + 1 == len)
        return RESP_AGAIN;
    *cr = end;
    return RESP_OK;
}

/* A "$<len>" line at start, the general way: its '\r' found by read_line,
 * its digits by parse_ll, every error as Redis words it. */
static enum resp_status bulk_header(struct resp_parser *p, const char *buf, size_t len,
                                    size_t start, long long *ll, size_t *cr)
{
    enum resp_status st = read_line(p, buf, len, err_bulk_big, cr);

    if (st != RESP_OK)
        return st;
    if (buf[start] != '$') {
        char got = buf[start];

        /* Redis turns CR and LF in error texts into spaces; a NUL
         * ends the text, as it does in Redis's formatted reply. */
        if (got == '\r' || got == '\n')
            got = ' ';
        snprintf(p->err_buf, sizeof(p->err_buf),
                 "Protocol error: expected '$', got '%c'", got);
        return fail(p, RESP_EPROTO, p->err_buf);
    }
    if (!parse_ll(buf + start + 1, *cr - start - 1, ll) || *ll < 0)
        return fail(p, RESP_EPROTO, err_bulk_len);
    return RESP_OK;
}

/* The multibulk part of resp_parse; buf[0] is '*'. */
static enum resp_status parse_multibulk(struct resp_parser *p, const char *buf, size_t len,
                                        struct resp_cmd *out, size_t *used, size_t *need)
{
    enum resp_status st;
    long long ll;
    size_t cr;

    if (p->want_args == 0) {
        assert(p->pos == 0);
        if (quick_line_number(p, buf, len, 0, &ll, &cr)) {
            p->scan = cr; /* as read_line leaves it */
        } else {
            st = read_line(p, buf, len, err_mbulk_big, &cr);
            if (st != RESP_OK)
                return st;
            if (!parse_ll(buf + 1, cr - 1, &ll))
                return fail(p, RESP_EPROTO, err_mbulk_len);
        }
        if (ll <= 0) {
            /* "*0" and "*-1" (or any negative count) are empty commands
             * in Redis: consumed and skipped. */
            progress_clear(p);
            out->argc = 0;
            out->argv = p->argv;
            *used = cr + 2;
            return RESP_OK;
        }
        /* Redis's own cap on a count is INT_MAX, and it checks the
         * unauthenticated limit right after it; ours may be lower. */
        if (ll > INT_MAX)
            return fail(p, RESP_ETOOBIG, err_mbulk_len);
        if (p->unauth && ll > RESP_UNAUTH_MAX_MULTIBULK)
            return fail(p, RESP_ETOOBIG, err_unauth_mbulk);
        if ((unsigned long long)ll > p->lim.max_multibulk)
            return fail(p, RESP_ETOOBIG, err_mbulk_len);
        p->want_args = (size_t)ll;
        p->pos = cr + 2;
    }

    while (p->got_args < p->want_args) {
        if (p->bulk_len == RESP_NO_BULK) {
            size_t start = p->pos;

            if (start < len && buf[start] == '$' &&
                quick_line_number(p, buf, len, start, &ll, &cr))
                p->scan = cr; /* as read_line leaves it */
            else if ((st = bulk_header(p, buf, len, start, &ll, &cr)) != RESP_OK)
                return st;
            if ((unsigned long long)ll > p->lim.max_bulk)
                return fail(p, RESP_ETOOBIG, err_bulk_len);
            if (p->unauth && ll > RESP_UNAUTH_MAX_BULK)
                return fail(p, RESP_ETOOBIG, err_unauth_bulk);
            p->bulk_len = (size_t)ll;
            p->pos = cr + 2;
        }
        /* The bulk and the two bytes after it (CRLF, skipped unchecked as
         * Redis does). bulk_len <= LLONG_MAX, so + 2 cannot wrap. */
        if (len - p->pos < p->bulk_len + 2) {
            if (need != NULL)
                *need = p->bulk_len + 2 - (len - p->pos);
            return RESP_AGAIN;
        }
        if (argv_grow(p, p->want_args) != 0)
            return fail(p, RESP_ETOOBIG, err_nomem);
        p->offs[p->got_args] = p->pos;
        p->argv[p->got_args].len = p->bulk_len;
        p->got_args++;
        p->pos += p->bulk_len + 2;
        p->bulk_len = RESP_NO_BULK;
        p->scan = p->pos;
    }

    for (size_t i = 0; i < p->got_args; i++)
        p->argv[i].ptr = buf + p->offs[i];
    out->argc = p->got_args;
    out->argv = p->argv;
    *used = p->pos;
    progress_clear(p);
    return RESP_OK;
}

/* The inline part of resp_parse: one line up to '\n'. */
static enum resp_status parse_inline(struct resp_parser *p, const char *buf, size_t len,
                                     struct resp_cmd *out, size_t *used)
{
    size_t nl = find_byte(p, buf, len, 0, '\n');
    size_t line = nl;
    size_t at = 0;      /* next byte of the line to split */
    size_t out_len = 0; /* bytes of unesc used by earlier arguments */
    int rc;

    /* Redis refuses more than PROTO_INLINE_MAX_SIZE bytes without a
     * newline; bytes before the '\n' are measured the same way. */
    if (nl > p->lim.max_inline)
        return fail(p, RESP_ETOOBIG, err_inline_big);
    if (nl == len)
        return RESP_AGAIN;
    if (line > 0 && buf[line - 1] == '\r')
        line--;

    if (line > p->unesc_cap) {
        char *u = realloc(p->unesc, line);

        if (u == NULL)
            return fail(p, RESP_ETOOBIG, err_nomem);
        p->unesc = u;
        p->unesc_cap = line;
    }
    /* Arguments are unescaped into unesc one after another; each is no
     * longer than its quoted form, so line bytes are always enough. */
    while (at < line) {
        size_t arg_len;

        rc = resp_inline_next(buf, line, &at, p->unesc + out_len, &arg_len);
        if (rc == 0)
            break;
        if (rc < 0)
            return fail(p, RESP_EPROTO, err_quotes);
        /* Redis puts no count limit on inline arguments; we keep argv
         * within max_multibulk for both forms (with the defaults a 64 KiB
         * line cannot reach it). */
        if (p->got_args == p->lim.max_multibulk)
            return fail(p, RESP_ETOOBIG, err_mbulk_len);
        if (argv_grow(p, p->lim.max_multibulk) != 0)
            return fail(p, RESP_ETOOBIG, err_nomem);
        p->argv[p->got_args].ptr = p->unesc + out_len;
        p->argv[p->got_args].len = arg_len;
        p->got_args++;
        out_len += arg_len;
    }
    out->argc = p->got_args;
    out->argv = p->argv;
    *used = nl + 1;
    progress_clear(p);
    return RESP_OK;
}

enum resp_status resp_parse(struct resp_parser *p, const char *buf, size_t len,
                            struct resp_cmd *out, size_t *used, size_t *need)
{
    *used = 0;
    if (need != NULL)
        *need = 0;
    /* RESP_AGAIN promised the same bytes plus more. */
    assert(len >= p->pos && len >= p->scan);
    p->err = NULL;

    if (p->want_args == 0 && p->pos == 0 && p->scan == 0) {
        /* A new command: the previous command's argv is no longer lent out,
         * so an array grown by a huge command can be given back. */
        if (p->argv_cap > ARGV_KEEP)
            (void)argv_resize(p, ARGV_INIT);
        if (len == 0)
            return RESP_AGAIN;
    }
    if (buf[0] == '*')
        return parse_multibulk(p, buf, len, out, used, need);
    return parse_inline(p, buf, len, out, used);
}
