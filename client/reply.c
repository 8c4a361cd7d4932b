/* reply.c — incremental RESP2/RESP3 reply parser of libshardkv. Pure: runs
 * on whichever thread owns the connection it parses for. One item (a line,
 * or a header plus its bulk) is consumed only when complete; aggregates stay
 * open on a stack across calls, so no byte is parsed twice. */
#include "client/reply.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* First buffer allocation, and the compaction threshold: parsed bytes are
 * moved out of the way only when they are at least this many (or all). */
#define REPLY_BUF_MIN 16384

void reply_parser_init(struct reply_parser *p)
{
    memset(p, 0, sizeof(*p));
}

void reply_parser_deinit(struct reply_parser *p)
{
    /* The outermost open frame owns every inner one through its elements
     * (aggregates are attached when they open), except attributes, which
     * only their own frame owns. An open aggregate's elements count only
     * the children attached so far, so freeing it is always safe. */
    for (int i = 0; i < p->depth; i++)
        if (i == 0 || p->stack[i].is_attr)
            skv_reply_free(p->stack[i].r);
    free(p->buf);
    memset(p, 0, sizeof(*p));
}

void skv_reply_free(struct skv_reply *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->elements; i++)
        skv_reply_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

struct skv_reply *reply_new_str(enum skv_reply_type t, const char *s, size_t n)
{
    struct skv_reply *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->type = t;
    r->str = malloc(n + 1);
    if (r->str == NULL) {
        free(r);
        return NULL;
    }
    if (n)
        memcpy(r->str, s, n);
    r->str[n] = '\0';
    r->len = n;
    return r;
}

/* Drop parsed bytes when that is cheap or worthwhile. */
static void compact(struct reply_parser *p)
{
    if (p->pos == 0)
        return;
    /* scan may lag behind pos (it is only moved forward when a line is
     * searched), so it is rebased with a floor of 0. */
    if (p->pos == p->len) {
        p->scan = 0;
        p->len = p->pos = 0;
        return;
    }
    if (p->pos >= REPLY_BUF_MIN && p->pos * 2 >= p->len) {
        memmove(p->buf, p->buf + p->pos, p->len - p->pos);
        p->len -= p->pos;
        p->scan = p->scan > p->pos ? p->scan - p->pos : 0;
        p->pos = 0;
    }
}

char *reply_parser_space(struct reply_parser *p, size_t want, size_t *avail)
{
    compact(p);
    if (p->cap - p->len < want) {
        size_t ncap = p->cap ? p->cap : REPLY_BUF_MIN;
        while (ncap - p->len < want) {
            if (ncap > SIZE_MAX / 2)
                return NULL;
            ncap *= 2;
        }
        char *nb = realloc(p->buf, ncap);
        if (nb == NULL)
            return NULL;
        p->buf = nb;
        p->cap = ncap;
    }
    *avail = p->cap - p->len;
    return p->buf + p->len;
}

void reply_parser_commit(struct reply_parser *p, size_t n)
{
    p->len += n;
}

int reply_parser_feed(struct reply_parser *p, const void *data, size_t n)
{
    size_t avail;
    char *dst = reply_parser_space(p, n, &avail);
    if (dst == NULL)
        return -1;
    if (n)
        memcpy(dst, data, n);
    p->len += n;
    return 0;
}

size_t reply_parser_pending(const struct reply_parser *p)
{
    return p->len - p->pos;
}

/* Parse a signed decimal; the whole text must be digits. */
static int parse_ll(const char *s, size_t n, long long *out)
{
    if (n == 0 || n > 20)
        return -1;
    bool neg = s[0] == '-';
    size_t i = (neg || s[0] == '+') ? 1 : 0;
    if (i == n)
        return -1;
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return -1;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return -1;
        *out = (long long)v;
    }
    return 0;
}

static enum reply_status fail(struct reply_parser *p, enum reply_status st, const char *why)
{
    p->err = why;
    return st;
}

/* Put child into f's aggregate, growing the element array geometrically up
 * to the declared count: a header that claims millions of elements costs
 * memory only as they arrive. Returns 0 or -1 (out of memory). */
static int add_child(struct reply_frame *f, struct skv_reply *child)
{
    if (f->r->elements == f->cap) {
        size_t ncap = f->cap * 2 > f->want ? f->want : f->cap * 2;
        struct skv_reply **ne = realloc(f->r->element, ncap * sizeof(*ne));
        if (ne == NULL)
            return -1;
        f->r->element = ne;
        f->cap = ncap;
    }
    f->r->element[f->r->elements++] = child;
    return 0;
}

/* Attach a finished item r to the innermost open aggregate and close every
 * aggregate that this completes. An aggregate is put into its parent when
 * it opens (so the outermost frame always owns the partial tree); an
 * attribute is not put anywhere and is dropped when complete. *done gets
 * the finished top-level reply, or NULL while one is still open. Returns 0,
 * or -1 when out of memory (r is freed). */
static int attach(struct reply_parser *p, struct skv_reply *r, struct skv_reply **done)
{
    *done = NULL;
    if (p->depth == 0) {
        *done = r;
        return 0;
    }
    if (add_child(&p->stack[p->depth - 1], r) < 0) {
        skv_reply_free(r);
        return -1;
    }
    while (p->depth > 0) {
        struct reply_frame *f = &p->stack[p->depth - 1];
        if (f->r->elements < f->want)
            return 0;
        p->depth--;
        if (f->is_attr) {
            /* Attributes describe the next reply; we do not expose them. */
            skv_reply_free(f->r);
            continue;
        }
        if (p->depth == 0)
            *done = f->r;
    }
    return 0;
}

enum reply_status reply_parser_next(struct reply_parser *p, struct skv_reply **out)
{
    for (;;) {
        /* Find the current line's CRLF, resuming where the last search
         * stopped. */
        if (p->scan < p->pos)
            p->scan = p->pos;
        const char *start = p->buf + p->pos;
        char *nl = NULL;
        if (p->len > p->scan)
            nl = memchr(p->buf + p->scan, '\n', p->len - p->scan);
        if (nl == NULL) {
            p->scan = p->len;
            if (p->len - p->pos > REPLY_MAX_LINE)
                return fail(p, REPLY_ETOOBIG, "reply line too long");
            return REPLY_AGAIN;
        }
        size_t linelen = (size_t)(nl - start);
        if (linelen < 2 || nl[-1] != '\r')
            return fail(p, REPLY_EPROTO, "line not terminated by CRLF");
        char t = start[0];
        const char *txt = start + 1;
        size_t tlen = linelen - 2; /* without the type byte and CR */
        size_t used = linelen + 1;
        struct skv_reply *r = NULL;
        long long n;

        switch (t) {
        case '+':
        case '-':
        case '(':
            r = reply_new_str(t == '+'   ? SKV_REPLY_STATUS
                              : t == '-' ? SKV_REPLY_ERROR
                                         : SKV_REPLY_BIGNUM,
                              txt, tlen);
            if (r == NULL)
                return fail(p, REPLY_ENOMEM, "out of memory");
            break;
        case ':':
            if (parse_ll(txt, tlen, &n) < 0)
                return fail(p, REPLY_EPROTO, "bad integer");
            if ((r = calloc(1, sizeof(*r))) == NULL)
                return fail(p, REPLY_ENOMEM, "out of memory");
            r->type = SKV_REPLY_INTEGER;
            r->integer = n;
            break;
        case ',': {
            char tmp[64];
            if (tlen == 0 || tlen >= sizeof(tmp))
                return fail(p, REPLY_EPROTO, "bad double");
            memcpy(tmp, txt, tlen);
            tmp[tlen] = '\0';
            char *end;
            errno = 0;
            double d = strtod(tmp, &end);
            if (*end != '\0')
                return fail(p, REPLY_EPROTO, "bad double");
            if ((r = reply_new_str(SKV_REPLY_DOUBLE, txt, tlen)) == NULL)
                return fail(p, REPLY_ENOMEM, "out of memory");
            r->dval = d;
            break;
        }
        case '#':
            if (tlen != 1 || (txt[0] != 't' && txt[0] != 'f'))
                return fail(p, REPLY_EPROTO, "bad boolean");
            if ((r = calloc(1, sizeof(*r))) == NULL)
                return fail(p, REPLY_ENOMEM, "out of memory");
            r->type = SKV_REPLY_BOOL;
            r->integer = txt[0] == 't';
            break;
        case '_':
            if (tlen != 0)
                return fail(p, REPLY_EPROTO, "bad null");
            if ((r = calloc(1, sizeof(*r))) == NULL)
                return fail(p, REPLY_ENOMEM, "out of memory");
            r->type = SKV_REPLY_NIL;
            break;
        case '$':
        case '=':
        case '!': {
            if (parse_ll(txt, tlen, &n) < 0 || n < -1)
                return fail(p, REPLY_EPROTO, "bad bulk length");
            if (n == -1) {
                if (t != '$')
                    return fail(p, REPLY_EPROTO, "bad bulk length");
                if ((r = calloc(1, sizeof(*r))) == NULL)
                    return fail(p, REPLY_ENOMEM, "out of memory");
                r->type = SKV_REPLY_NIL;
                break;
            }
            if ((size_t)n > REPLY_MAX_BULK)
                return fail(p, REPLY_ETOOBIG, "bulk reply too long");
            /* The bulk is consumed only when complete: until then the next
             * call finds the same header (a short line) again. */
            if (p->len - p->pos < used + (size_t)n + 2) {
                p->scan = p->pos;
                return REPLY_AGAIN;
            }
            const char *data = start + used;
            if (data[n] != '\r' || data[n + 1] != '\n')
                return fail(p, REPLY_EPROTO, "bulk not terminated by CRLF");
            if (t == '=') {
                if (n < 4 || data[3] != ':')
                    return fail(p, REPLY_EPROTO, "bad verbatim string");
                r = reply_new_str(SKV_REPLY_VERBATIM, data + 4, (size_t)n - 4);
                if (r != NULL)
                    memcpy(r->vtype, data, 3);
            } else {
                r = reply_new_str(t == '$' ? SKV_REPLY_STRING : SKV_REPLY_ERROR, data, (size_t)n);
            }
            if (r == NULL)
                return fail(p, REPLY_ENOMEM, "out of memory");
            used += (size_t)n + 2;
            break;
        }
        case '*':
        case '%':
        case '~':
        case '>':
        case '|': {
            if (parse_ll(txt, tlen, &n) < 0 || n < -1)
                return fail(p, REPLY_EPROTO, "bad aggregate length");
            if (n == -1) {
                if (t != '*')
                    return fail(p, REPLY_EPROTO, "bad aggregate length");
                if ((r = calloc(1, sizeof(*r))) == NULL)
                    return fail(p, REPLY_ENOMEM, "out of memory");
                r->type = SKV_REPLY_NIL;
                break;
            }
            size_t count = (size_t)n;
            if (t == '%' || t == '|') {
                if (count > REPLY_MAX_ELEMENTS / 2)
                    return fail(p, REPLY_ETOOBIG, "aggregate too long");
                count *= 2;
            }
            if (count > REPLY_MAX_ELEMENTS)
                return fail(p, REPLY_ETOOBIG, "aggregate too long");
            if ((r = calloc(1, sizeof(*r))) == NULL)
                return fail(p, REPLY_ENOMEM, "out of memory");
            r->type = t == '*'   ? SKV_REPLY_ARRAY
                      : t == '~' ? SKV_REPLY_SET
                      : t == '>' ? SKV_REPLY_PUSH
                                 : SKV_REPLY_MAP;
            if (count == 0 && t != '|')
                break;        /* an empty aggregate is complete at once */
            if (count == 0) { /* empty attribute: nothing to keep */
                free(r);
                p->pos += used;
                continue;
            }
            if (p->depth == REPLY_MAX_DEPTH) {
                free(r);
                return fail(p, REPLY_EPROTO, "reply nested too deeply");
            }
            struct reply_frame *f = &p->stack[p->depth];
            f->want = count;
            f->cap = count < REPLY_FIRST_ELEMENTS ? count : REPLY_FIRST_ELEMENTS;
            f->is_attr = t == '|';
            r->element = malloc(f->cap * sizeof(*r->element));
            /* Attach to the parent before opening, so the outermost frame
             * owns the partial tree. An attribute is kept out of its parent. */
            if (r->element == NULL ||
                (p->depth > 0 && !f->is_attr && add_child(&p->stack[p->depth - 1], r) < 0)) {
                free(r->element);
                free(r);
                return fail(p, REPLY_ENOMEM, "out of memory");
            }
            f->r = r;
            p->pos += used;
            p->depth++;
            continue;
        }
        default:
            return fail(p, REPLY_EPROTO, "unknown reply type byte");
        }

        p->pos += used;
        struct skv_reply *done;
        if (attach(p, r, &done) < 0)
            return fail(p, REPLY_ENOMEM, "out of memory");
        if (done != NULL) {
            *out = done;
            compact(p);
            return REPLY_OK;
        }
    }
}
