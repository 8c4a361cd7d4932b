/* conftext.c — Redis configuration text: line walking and argument
 * splitting with the rules of Redis's sdssplitargs, so a redis.conf means
 * the same here as in redis-server. Pure; any thread (main at start-up). */
#include "server/util/conftext.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A growable byte string for the argument being built. */
struct tok {
    char *p;    /* bytes, NUL-terminated when finished */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
};

static int tok_put(struct tok *t, char c)
{
    if (t->len + 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        char *p = realloc(t->p, cap);
        if (p == NULL)
            return CONFTEXT_ENOMEM;
        t->p = p;
        t->cap = cap;
    }
    t->p[t->len++] = c;
    return 0;
}

/* Move the finished argument t into a (t becomes empty). */
static int args_push(struct conftext_args *a, struct tok *t)
{
    if (t->p == NULL) { /* "" still needs storage */
        t->p = malloc(1);
        if (t->p == NULL)
            return CONFTEXT_ENOMEM;
    }
    char **v = realloc(a->argv, sizeof(*v) * ((size_t)a->argc + 2));
    if (v == NULL)
        return CONFTEXT_ENOMEM;
    a->argv = v;
    t->p[t->len] = '\0';
    v[a->argc++] = t->p;
    v[a->argc] = NULL;
    t->p = NULL;
    t->len = t->cap = 0;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void conftext_args_free(struct conftext_args *a)
{
    for (int i = 0; i < a->argc; i++)
        free(a->argv[i]);
    free(a->argv);
    a->argc = 0;
    a->argv = NULL;
}

/* True where sdssplitargs ends an unquoted argument. */
static bool ends_arg(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Split one argument starting at line[*i] (not a blank) into t. */
static int split_one(const char *line, size_t len, size_t *i, struct tok *t)
{
    bool inq = false, insq = false;
    size_t p = *i;
    for (;;) {
        char c = p < len ? line[p] : '\0';
        bool more = p + 1 < len;
        char next = more ? line[p + 1] : '\0';
        int rc = 0;
        if (inq) {
            if (c == '\\' && next == 'x' && p + 3 < len && hexval(line[p + 2]) >= 0 &&
                hexval(line[p + 3]) >= 0) {
                char b = (char)(hexval(line[p + 2]) * 16 + hexval(line[p + 3]));
                if (b == '\0')
                    return CONFTEXT_ENUL;
                rc = tok_put(t, b);
                p += 3;
            } else if (c == '\\' && more) {
                p++;
                switch (line[p]) {
                case 'n':
                    rc = tok_put(t, '\n');
                    break;
                case 'r':
                    rc = tok_put(t, '\r');
                    break;
                case 't':
                    rc = tok_put(t, '\t');
                    break;
                case 'b':
                    rc = tok_put(t, '\b');
                    break;
                case 'a':
                    rc = tok_put(t, '\a');
                    break;
                default:
                    rc = tok_put(t, line[p]);
                    break;
                }
            } else if (c == '"') {
                /* A closing quote must be followed by a blank or the end. */
                if (more && !isspace((unsigned char)next))
                    return CONFTEXT_EQUOTE;
                *i = p + 1;
                return 0;
            } else if (p >= len) {
                return CONFTEXT_EQUOTE; /* unterminated */
            } else {
                rc = tok_put(t, c);
            }
        } else if (insq) {
            if (c == '\\' && next == '\'') {
                p++;
                rc = tok_put(t, '\'');
            } else if (c == '\'') {
                if (more && !isspace((unsigned char)next))
                    return CONFTEXT_EQUOTE;
                *i = p + 1;
                return 0;
            } else if (p >= len) {
                return CONFTEXT_EQUOTE;
            } else {
                rc = tok_put(t, c);
            }
        } else if (p >= len || ends_arg(c)) {
            *i = p;
            return 0;
        } else if (c == '"') {
            inq = true;
        } else if (c == '\'') {
            insq = true;
        } else {
            rc = tok_put(t, c);
        }
        if (rc != 0)
            return rc;
        p++;
    }
}

int conftext_split(const char *line, size_t len, struct conftext_args *out)
{
    out->argc = 0;
    out->argv = NULL;
    if (memchr(line, '\0', len) != NULL)
        return CONFTEXT_ENUL;
    size_t i = 0;
    for (;;) {
        while (i < len && isspace((unsigned char)line[i]))
            i++;
        if (i >= len)
            break;
        struct tok t = {0};
        int rc = split_one(line, len, &i, &t);
        if (rc == 0)
            rc = args_push(out, &t);
        if (rc != 0) {
            free(t.p);
            conftext_args_free(out);
            return rc;
        }
    }
    if (out->argv == NULL) {
        /* Like sdssplitargs: an empty line still gives a (NULL-ended) vector. */
        out->argv = calloc(1, sizeof(*out->argv));
        if (out->argv == NULL)
            return CONFTEXT_ENOMEM;
    }
    return CONFTEXT_OK;
}

static bool trim_char(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int conftext_parse(const char *text, size_t len, conftext_fn fn, void *arg, int *bad_line)
{
    *bad_line = 0;
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t a = pos, b = end;
        pos = nl ? end + 1 : len;
        lineno++;
        while (a < b && trim_char(text[a]))
            a++;
        while (b > a && trim_char(text[b - 1]))
            b--;
        if (a == b || text[a] == '#')
            continue;
        struct conftext_args args;
        int rc = conftext_split(text + a, b - a, &args);
        if (rc != 0) {
            *bad_line = lineno;
            return rc;
        }
        if (args.argc == 0) {
            conftext_args_free(&args);
            continue;
        }
        for (char *p = args.argv[0]; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        rc = fn(arg, lineno, args.argc, args.argv);
        conftext_args_free(&args);
        if (rc != 0) {
            *bad_line = lineno;
            return CONFTEXT_ESTOP;
        }
    }
    return CONFTEXT_OK;
}

const char *conftext_strerror(int status)
{
    switch (status) {
    case CONFTEXT_OK:
        return "ok";
    case CONFTEXT_EQUOTE:
        return "Unbalanced quotes in configuration line";
    case CONFTEXT_ENUL:
        return "NUL byte in configuration line";
    case CONFTEXT_ENOMEM:
        return "out of memory";
    case CONFTEXT_ESTOP:
        return "stopped";
    }
    return "unknown error";
}
