/* cli_format.c — argument splitting and reply printing for shardkv-cli,
 * matching redis-cli 7.0's visible behaviour. Pure; single-threaded. */
#include "client/cli_format.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cli_buf_free(struct cli_buf *b)
{
    free(b->ptr);
    memset(b, 0, sizeof(*b));
}

void cli_buf_add(struct cli_buf *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->len < n + 1) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap - b->len < n + 1) {
            if (ncap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            ncap *= 2;
        }
        char *np = realloc(b->ptr, ncap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->ptr = np;
        b->cap = ncap;
    }
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
}

static void add_str(struct cli_buf *b, const char *s)
{
    cli_buf_add(b, s, strlen(s));
}

static void add_fmt(struct cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_fmt(struct cli_buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        cli_buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* ------------------------------------------------------------ splitting */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

void cli_free_args(int argc, char **argv, size_t *lens)
{
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    free(lens);
}

int cli_split_args(const char *line, char ***argvp, size_t **lensp)
{
    char **argv = NULL;
    size_t *lens = NULL;
    int argc = 0;
    const char *p = line;
    struct cli_buf cur = {0};
    *argvp = NULL;
    *lensp = NULL;
    for (;;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        bool inq = false, insq = false, done = false;
        cur.len = 0;
        cli_buf_add(&cur, "", 0); /* an empty "" argument still exists */
        while (!done) {
            if (inq) {
                if (*p == '\\' && p[1] == 'x' && hexval(p[2]) >= 0 && hexval(p[3]) >= 0) {
                    char c = (char)(hexval(p[2]) * 16 + hexval(p[3]));
                    cli_buf_add(&cur, &c, 1);
                    p += 3;
                } else if (*p == '\\' && p[1]) {
                    char c;
                    p++;
                    switch (*p) {
                    case 'n':
                        c = '\n';
                        break;
                    case 'r':
                        c = '\r';
                        break;
                    case 't':
                        c = '\t';
                        break;
                    case 'b':
                        c = '\b';
                        break;
                    case 'a':
                        c = '\a';
                        break;
                    default:
                        c = *p;
                        break;
                    }
                    cli_buf_add(&cur, &c, 1);
                } else if (*p == '"') {
                    /* The closing quote must end the argument. */
                    if (p[1] && !isspace((unsigned char)p[1]))
                        goto err;
                    done = true;
                } else if (*p == '\0') {
                    goto err; /* unterminated quotes */
                } else {
                    cli_buf_add(&cur, p, 1);
                }
            } else if (insq) {
                if (*p == '\\' && p[1] == '\'') {
                    p++;
                    cli_buf_add(&cur, "'", 1);
                } else if (*p == '\'') {
                    if (p[1] && !isspace((unsigned char)p[1]))
                        goto err;
                    done = true;
                } else if (*p == '\0') {
                    goto err;
                } else {
                    cli_buf_add(&cur, p, 1);
                }
            } else {
                switch (*p) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case '\0':
                    done = true;
                    break;
                case '"':
                    inq = true;
                    break;
                case '\'':
                    insq = true;
                    break;
                default:
                    cli_buf_add(&cur, p, 1);
                    break;
                }
            }
            if (*p)
                p++;
        }
        if (cur.oom)
            goto err;
        char **na = realloc(argv, (size_t)(argc + 1) * sizeof(*argv));
        if (na == NULL)
            goto err;
        argv = na;
        size_t *nl = realloc(lens, (size_t)(argc + 1) * sizeof(*lens));
        if (nl == NULL)
            goto err;
        lens = nl;
        argv[argc] = malloc(cur.len + 1);
        if (argv[argc] == NULL)
            goto err;
        memcpy(argv[argc], cur.ptr, cur.len + 1);
        lens[argc] = cur.len;
        argc++;
    }
    cli_buf_free(&cur);
    *argvp = argv;
    *lensp = lens;
    return argc;
err:
    cli_buf_free(&cur);
    cli_free_args(argc, argv, lens);
    return -1;
}

/* -------------------------------------------------------------- printing */

/* A quoted, escaped string, as redis-cli's sdscatrepr prints it. */
static void add_repr(struct cli_buf *b, const char *s, size_t n)
{
    cli_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\\':
            add_str(b, "\\\\");
            break;
        case '"':
            add_str(b, "\\\"");
            break;
        case '\n':
            add_str(b, "\\n");
            break;
        case '\r':
            add_str(b, "\\r");
            break;
        case '\t':
            add_str(b, "\\t");
            break;
        case '\a':
            add_str(b, "\\a");
            break;
        case '\b':
            add_str(b, "\\b");
            break;
        default:
            if (isprint(c))
                cli_buf_add(b, &s[i], 1);
            else
                add_fmt(b, "\\x%02x", c);
        }
    }
    cli_buf_add(b, "\"", 1);
}

static bool is_aggregate(const struct skv_reply *r)
{
    return r->type == SKV_REPLY_ARRAY || r->type == SKV_REPLY_MAP || r->type == SKV_REPLY_SET ||
           r->type == SKV_REPLY_PUSH;
}

/* prefix: indentation of nested lines (the first line of an element is
 * already preceded by its number). */
static void tty(struct cli_buf *b, const struct skv_reply *r, const char *prefix)
{
    switch (r->type) {
    case SKV_REPLY_ERROR:
        add_str(b, "(error) ");
        cli_buf_add(b, r->str, r->len);
        add_str(b, "\n");
        break;
    case SKV_REPLY_STATUS:
    case SKV_REPLY_VERBATIM:
        cli_buf_add(b, r->str, r->len);
        add_str(b, "\n");
        break;
    case SKV_REPLY_INTEGER:
        add_fmt(b, "(integer) %lld\n", r->integer);
        break;
    case SKV_REPLY_DOUBLE:
        add_str(b, "(double) ");
        cli_buf_add(b, r->str, r->len);
        add_str(b, "\n");
        break;
    case SKV_REPLY_BIGNUM:
        add_str(b, "(big number) ");
        cli_buf_add(b, r->str, r->len);
        add_str(b, "\n");
        break;
    case SKV_REPLY_BOOL:
        add_str(b, r->integer ? "(true)\n" : "(false)\n");
        break;
    case SKV_REPLY_STRING:
        add_repr(b, r->str, r->len);
        add_str(b, "\n");
        break;
    case SKV_REPLY_NIL:
        add_str(b, "(nil)\n");
        break;
    case SKV_REPLY_ARRAY:
    case SKV_REPLY_MAP:
    case SKV_REPLY_SET:
    case SKV_REPLY_PUSH: {
        if (r->elements == 0) {
            add_str(b, r->type == SKV_REPLY_ARRAY ? "(empty array)\n"
                       : r->type == SKV_REPLY_MAP ? "(empty hash)\n"
                       : r->type == SKV_REPLY_SET ? "(empty set)\n"
                                                  : "(empty push)\n");
            break;
        }
        size_t count = r->type == SKV_REPLY_MAP ? r->elements / 2 : r->elements;
        int width = 0;
        for (size_t i = count;; i /= 10) {
            width++;
            if (i < 10)
                break;
        }
        /* Nested lines are indented by the number's width plus ") ". */
        size_t plen = strlen(prefix);
        char *sub = malloc(plen + (size_t)width + 3);
        if (sub == NULL) {
            b->oom = 1;
            break;
        }
        memcpy(sub, prefix, plen);
        memset(sub + plen, ' ', (size_t)width + 2);
        sub[plen + (size_t)width + 2] = '\0';
        char sep = r->type == SKV_REPLY_SET ? '~' : r->type == SKV_REPLY_MAP ? '#' : ')';
        for (size_t i = 0; i < r->elements; i++) {
            size_t human = (r->type == SKV_REPLY_MAP ? i / 2 : i) + 1;
            add_fmt(b, "%s%*zu%c ", i == 0 ? "" : prefix, width, human, sep);
            tty(b, r->element[i], sub);
            if (r->type == SKV_REPLY_MAP && i + 1 < r->elements) {
                i++;
                if (b->len > 0 && !b->oom)
                    b->len--; /* drop the key's newline */
                add_str(b, " => ");
                tty(b, r->element[i], sub);
            }
        }
        free(sub);
        break;
    }
    }
}

void cli_format_tty(struct cli_buf *b, const struct skv_reply *r)
{
    tty(b, r, "");
}

static void raw(struct cli_buf *b, const struct skv_reply *r)
{
    switch (r->type) {
    case SKV_REPLY_NIL:
        break;
    case SKV_REPLY_ERROR:
        cli_buf_add(b, r->str, r->len);
        add_str(b, "\n");
        break;
    case SKV_REPLY_STATUS:
    case SKV_REPLY_STRING:
    case SKV_REPLY_VERBATIM:
    case SKV_REPLY_DOUBLE:
    case SKV_REPLY_BIGNUM:
        cli_buf_add(b, r->str, r->len);
        break;
    case SKV_REPLY_BOOL:
        add_str(b, r->integer ? "(true)" : "(false)");
        break;
    case SKV_REPLY_INTEGER:
        add_fmt(b, "%lld", r->integer);
        break;
    case SKV_REPLY_ARRAY:
    case SKV_REPLY_SET:
    case SKV_REPLY_PUSH:
        for (size_t i = 0; i < r->elements; i++) {
            if (i > 0)
                add_str(b, "\n");
            raw(b, r->element[i]);
        }
        break;
    case SKV_REPLY_MAP:
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            if (i > 0)
                add_str(b, "\n");
            raw(b, r->element[i]);
            add_str(b, " ");
            raw(b, r->element[i + 1]);
        }
        break;
    }
}

void cli_format_raw(struct cli_buf *b, const struct skv_reply *r)
{
    raw(b, r);
    add_str(b, "\n");
}

void cli_format_as_is(struct cli_buf *b, const struct skv_reply *r)
{
    raw(b, r);
}

bool cli_prints_as_is(int argc, char *const *argv)
{
    if (argc < 1)
        return false;
    const char *cmd = argv[0];
    const char *sub = argc >= 2 ? argv[1] : "";
    if (!strcasecmp(cmd, "info") || !strcasecmp(cmd, "lolwut"))
        return true;
    if (!strcasecmp(cmd, "debug"))
        return !strcasecmp(sub, "htstats") || !strcasecmp(sub, "htstats-key") ||
               !strcasecmp(sub, "client-eviction");
    if (!strcasecmp(cmd, "memory"))
        return !strcasecmp(sub, "malloc-stats") || !strcasecmp(sub, "doctor");
    if (!strcasecmp(cmd, "client"))
        return !strcasecmp(sub, "list") || !strcasecmp(sub, "info");
    if (!strcasecmp(cmd, "proxy"))
        return !strcasecmp(sub, "info");
    /* redis-cli checks these with an exact argument count. */
    if (!strcasecmp(cmd, "cluster"))
        return argc == 2 && (!strcasecmp(sub, "nodes") || !strcasecmp(sub, "info"));
    if (!strcasecmp(cmd, "latency"))
        return (argc == 3 && !strcasecmp(sub, "graph")) ||
               (argc == 2 && !strcasecmp(sub, "doctor"));
    return false;
}

static void json_str(struct cli_buf *b, const char *s, size_t n)
{
    cli_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            add_str(b, "\\\"");
            break;
        case '\\':
            add_str(b, "\\\\");
            break;
        case '\n':
            add_str(b, "\\n");
            break;
        case '\r':
            add_str(b, "\\r");
            break;
        case '\t':
            add_str(b, "\\t");
            break;
        case '\b':
            add_str(b, "\\b");
            break;
        case '\f':
            add_str(b, "\\f");
            break;
        default:
            if (c < 0x20)
                add_fmt(b, "\\u%04x", c);
            else
                cli_buf_add(b, &s[i], 1);
        }
    }
    cli_buf_add(b, "\"", 1);
}

void cli_format_json(struct cli_buf *b, const struct skv_reply *r)
{
    switch (r->type) {
    case SKV_REPLY_ERROR:
        add_str(b, "error:");
        json_str(b, r->str, r->len);
        break;
    case SKV_REPLY_STATUS:
    case SKV_REPLY_STRING:
    case SKV_REPLY_VERBATIM:
        json_str(b, r->str, r->len);
        break;
    case SKV_REPLY_DOUBLE:
    case SKV_REPLY_BIGNUM:
        cli_buf_add(b, r->str, r->len);
        break;
    case SKV_REPLY_INTEGER:
        add_fmt(b, "%lld", r->integer);
        break;
    case SKV_REPLY_BOOL:
        add_str(b, r->integer ? "true" : "false");
        break;
    case SKV_REPLY_NIL:
        add_str(b, "null");
        break;
    case SKV_REPLY_ARRAY:
    case SKV_REPLY_SET:
    case SKV_REPLY_PUSH:
        add_str(b, "[");
        for (size_t i = 0; i < r->elements; i++) {
            if (i > 0)
                add_str(b, ",");
            cli_format_json(b, r->element[i]);
        }
        add_str(b, "]");
        break;
    case SKV_REPLY_MAP:
        add_str(b, "{");
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            if (i > 0)
                add_str(b, ",");
            const struct skv_reply *k = r->element[i];
            /* JSON keys are strings: other key types are printed first. */
            if (k->str != NULL && !is_aggregate(k)) {
                json_str(b, k->str, k->len);
            } else {
                struct cli_buf kb = {0};
                cli_format_json(&kb, k);
                json_str(b, kb.ptr ? kb.ptr : "", kb.len);
                cli_buf_free(&kb);
            }
            add_str(b, ":");
            cli_format_json(b, r->element[i + 1]);
        }
        add_str(b, "}");
        break;
    }
}
