/* cli_help.c — shardkv-cli's help table from COMMAND DOCS (or COMMAND):
 * redis-cli 7.0's argument syntax, help text and Tab candidates. Pure;
 * single-threaded. */
#include "client/cli_help.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Argument docs nest a few levels (block in oneof in block); a server that
 * nests deeper than this is not describing real syntax. */
#define ARG_MAX_DEPTH 8

void cli_help_init(struct cli_help *h)
{
    memset(h, 0, sizeof(*h));
}

static void entry_free(struct cli_help_entry *e)
{
    free(e->name);
    free(e->params);
    free(e->summary);
    free(e->since);
    free(e->group);
}

void cli_help_deinit(struct cli_help *h)
{
    for (size_t i = 0; i < h->count; i++)
        entry_free(&h->entry[i]);
    free(h->entry);
    memset(h, 0, sizeof(*h));
}

/* ------------------------------------------------------- reading replies */

static bool is_list(const struct skv_reply *r)
{
    return r != NULL &&
           (r->type == SKV_REPLY_ARRAY || r->type == SKV_REPLY_MAP || r->type == SKV_REPLY_SET);
}

static bool is_text(const struct skv_reply *r)
{
    return r != NULL && r->str != NULL &&
           (r->type == SKV_REPLY_STRING || r->type == SKV_REPLY_STATUS ||
            r->type == SKV_REPLY_VERBATIM);
}

/* The value after key in a flat key/value list (RESP2 array or RESP3 map:
 * both hold key, value, key, value...); NULL when absent. */
static const struct skv_reply *field(const struct skv_reply *kv, const char *key)
{
    if (!is_list(kv))
        return NULL;
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        if (is_text(kv->element[i]) && !strcmp(kv->element[i]->str, key))
            return kv->element[i + 1];
    return NULL;
}

static const char *text_field(const struct skv_reply *kv, const char *key)
{
    const struct skv_reply *v = field(kv, key);
    return is_text(v) ? v->str : NULL;
}

static bool has_flag(const struct skv_reply *arg, const char *flag)
{
    const struct skv_reply *f = field(arg, "flags");
    if (!is_list(f))
        return false;
    for (size_t i = 0; i < f->elements; i++)
        if (is_text(f->element[i]) && !strcmp(f->element[i]->str, flag))
            return true;
    return false;
}

/* ------------------------------------------------------ argument syntax */

static void add_s(struct cli_buf *b, const char *s)
{
    cli_buf_add(b, s, strlen(s));
}

/* Append one argument's syntax the way redis 7.0's help.h spells it
 * (utils/generate-command-help.rb): a block's parts joined by spaces, a
 * oneof's by "|", a pure token is just its token, "name [name ...]" when
 * multiple ("name [TOKEN name ...]" with multiple_token), the token before
 * the name, [brackets] when optional. */
static void arg_syntax(struct cli_buf *out, const struct skv_reply *arg, int depth)
{
    if (depth > ARG_MAX_DEPTH || !is_list(arg))
        return;
    const char *type = text_field(arg, "type");
    const char *token = text_field(arg, "token");
    /* MIGRATE's empty-string token: the user types "" for it. */
    if (token != NULL && *token == '\0')
        token = "\"\"";
    const struct skv_reply *parts = field(arg, "arguments");
    struct cli_buf name = {0};
    bool named = true;
    cli_buf_add(&name, "", 0);
    if (type && (!strcmp(type, "block") || !strcmp(type, "oneof")) && is_list(parts)) {
        for (size_t i = 0; i < parts->elements; i++) {
            if (i > 0)
                add_s(&name, !strcmp(type, "block") ? " " : "|");
            arg_syntax(&name, parts->element[i], depth + 1);
        }
    } else if (type && !strcmp(type, "pure-token")) {
        named = false;
    } else {
        const char *n = text_field(arg, "name");
        add_s(&name, n ? n : "");
    }
    if (has_flag(arg, "multiple")) {
        struct cli_buf m = {0};
        cli_buf_add(&m, name.ptr, name.len);
        add_s(&m, " [");
        if (has_flag(arg, "multiple_token") && token) {
            add_s(&m, token);
            add_s(&m, " ");
        }
        cli_buf_add(&m, name.ptr, name.len);
        add_s(&m, " ...]");
        cli_buf_free(&name);
        name = m;
        named = true;
    }
    bool optional = has_flag(arg, "optional");
    if (optional)
        add_s(out, "[");
    if (token) {
        add_s(out, token);
        if (named)
            add_s(out, " ");
    }
    if (named)
        cli_buf_add(out, name.ptr, name.len);
    if (optional)
        add_s(out, "]");
    if (name.oom)
        out->oom = 1;
    cli_buf_free(&name);
}

/* ------------------------------------------------------------- building */

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* Append an entry named name ("client|list" or "GET"); takes params.
 * Returns 0 or -2 (out of memory; params freed). */
static int add_entry(struct cli_help *h, const char *name, char *params, const char *summary,
                     const char *since, const char *group)
{
    if (h->count == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        struct cli_help_entry *n = realloc(h->entry, ncap * sizeof(*n));
        if (n == NULL) {
            free(params);
            return -2;
        }
        h->entry = n;
        h->cap = ncap;
    }
    struct cli_help_entry *e = &h->entry[h->count];
    e->name = strdup(name);
    e->params = params;
    e->summary = dup_or_empty(summary);
    e->since = dup_or_empty(since);
    e->group = dup_or_empty(group);
    if (!e->name || !e->params || !e->summary || !e->since || !e->group) {
        entry_free(e);
        return -2;
    }
    e->words = 1;
    for (char *p = e->name; *p; p++) {
        if (*p == '|') {
            *p = ' ';
            e->words++;
        }
        *p = (char)toupper((unsigned char)*p);
    }
    h->count++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct cli_help_entry *)a)->name,
                  ((const struct cli_help_entry *)b)->name);
}

/* Sort a loaded table, or empty it after a failure. */
static int finish(struct cli_help *h, int rc)
{
    if (rc < 0)
        cli_help_deinit(h);
    else if (h->count > 1)
        qsort(h->entry, h->count, sizeof(*h->entry), by_name);
    return rc;
}

/* One command's docs, then its subcommands' (one level, as Redis has). */
static int load_doc(struct cli_help *h, const char *name, const struct skv_reply *doc, int depth)
{
    struct cli_buf params = {0};
    cli_buf_add(&params, "", 0);
    const struct skv_reply *args = field(doc, "arguments");
    if (is_list(args)) {
        for (size_t i = 0; i < args->elements; i++) {
            if (i > 0)
                add_s(&params, " ");
            arg_syntax(&params, args->element[i], 0);
        }
    }
    if (params.oom) {
        cli_buf_free(&params);
        return -2;
    }
    int rc = add_entry(h, name, params.ptr, text_field(doc, "summary"), text_field(doc, "since"),
                       text_field(doc, "group"));
    const struct skv_reply *subs = field(doc, "subcommands");
    if (rc == 0 && depth == 0 && is_list(subs)) {
        for (size_t i = 0; rc == 0 && i + 1 < subs->elements; i += 2)
            if (is_text(subs->element[i]) && is_list(subs->element[i + 1]))
                rc = load_doc(h, subs->element[i]->str, subs->element[i + 1], 1);
    }
    return rc;
}

int cli_help_load_docs(struct cli_help *h, const struct skv_reply *r)
{
    if (!is_list(r) || r->type == SKV_REPLY_SET || r->elements % 2 != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i + 1 < r->elements; i += 2) {
        if (!is_text(r->element[i]) || !is_list(r->element[i + 1]))
            rc = -1;
        else
            rc = load_doc(h, r->element[i]->str, r->element[i + 1], 0);
    }
    return finish(h, rc);
}

/* redis-cli's guess at the syntax from COMMAND's arity and first key:
 * "key " when the first argument is a key, "arg " for each other required
 * one, "...options..." when the arity is variable. */
static int load_name(struct cli_help *h, const struct skv_reply *info)
{
    if (!is_list(info) || info->elements < 4 || !is_text(info->element[0]) ||
        info->element[1]->type != SKV_REPLY_INTEGER || info->element[3]->type != SKV_REPLY_INTEGER)
        return -1;
    long long arity = info->element[1]->integer;
    long long args = (arity < 0 ? -arity : arity) - 1;
    struct cli_buf params = {0};
    cli_buf_add(&params, "", 0);
    if (info->element[3]->integer == 1 && args > 0) {
        add_s(&params, "key ");
        args--;
    }
    /* No real command takes more than a handful of fixed arguments. */
    for (long long i = 0; i < args && i < 16; i++)
        add_s(&params, "arg ");
    if (arity < 0)
        add_s(&params, "...options...");
    if (params.oom) {
        cli_buf_free(&params);
        return -2;
    }
    return add_entry(h, info->element[0]->str, params.ptr, "Help not available", "not known",
                     "generic");
}

int cli_help_load_names(struct cli_help *h, const struct skv_reply *r)
{
    if (!is_list(r) || r->type == SKV_REPLY_MAP)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->elements; i++)
        rc = load_name(h, r->element[i]);
    return finish(h, rc);
}

/* -------------------------------------------------------------- output */

/* redis-cli's cliOutputCommandHelp, byte for byte. */
static void entry_help(struct cli_buf *b, const struct cli_help_entry *e, bool with_group)
{
    add_s(b, "\r\n  \x1b[1m");
    add_s(b, e->name);
    add_s(b, "\x1b[0m \x1b[90m");
    add_s(b, e->params);
    add_s(b, "\x1b[0m\r\n  \x1b[33msummary:\x1b[0m ");
    add_s(b, e->summary);
    add_s(b, "\r\n  \x1b[33msince:\x1b[0m ");
    add_s(b, e->since);
    add_s(b, "\r\n");
    if (with_group) {
        add_s(b, "  \x1b[33mgroup:\x1b[0m ");
        add_s(b, e->group);
        add_s(b, "\r\n");
    }
}

/* Does e's name start with the words argv[0..argc)? */
static bool words_match(const struct cli_help_entry *e, int argc, char *const *argv)
{
    if (argc > e->words)
        return false;
    const char *p = e->name;
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (strncasecmp(p, argv[i], n) != 0 || (p[n] != ' ' && p[n] != '\0'))
            return false;
        p += n;
        if (*p == ' ')
            p++;
    }
    return true;
}

void cli_help_format(struct cli_buf *b, const struct cli_help *h, int argc, char *const *argv)
{
    const char *group = argc > 0 && argv[0][0] == '@' ? argv[0] + 1 : NULL;
    for (size_t i = 0; argc > 0 && i < h->count; i++) {
        const struct cli_help_entry *e = &h->entry[i];
        if (group ? !strcasecmp(group, e->group) : words_match(e, argc, argv))
            entry_help(b, e, group == NULL);
    }
    add_s(b, "\r\n");
}

/* ----------------------------------------------------------- completion */

/* Append a copy of s (lower-cased when lower) to the candidate list. */
static int add_candidate(char ***out, int *n, const char *s, size_t len, bool lower)
{
    char **nv = realloc(*out, (size_t)(*n + 2) * sizeof(**out));
    if (nv == NULL)
        return -1;
    *out = nv;
    char *c = malloc(len + 1);
    if (c == NULL)
        return -1;
    for (size_t i = 0; i < len; i++)
        c[i] = lower ? (char)tolower((unsigned char)s[i]) : s[i];
    c[len] = '\0';
    nv[(*n)++] = c;
    nv[*n] = NULL;
    return 0;
}

static bool is_help_word(const char *w, size_t n)
{
    return (n == 4 && !strncasecmp(w, "help", 4)) || (n == 1 && *w == '?');
}

int cli_help_complete(const struct cli_help *h, const char *before, const char *word, char ***out)
{
    /* The words typed before this one: only the first two matter. */
    const char *w[2] = {NULL, NULL};
    size_t wl[2] = {0, 0};
    int nw = 0;
    for (const char *p = before; *p;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (nw < 2) {
            w[nw] = s;
            wl[nw] = (size_t)(p - s);
        }
        nw++;
    }
    bool help = nw >= 1 && is_help_word(w[0], wl[0]);
    /* The command whose subcommands are wanted ("client", "help client"). */
    const char *cmd = NULL;
    size_t cmdlen = 0;
    if (nw == 1 && !help) {
        cmd = w[0];
        cmdlen = wl[0];
    } else if (nw == 2 && help) {
        cmd = w[1];
        cmdlen = wl[1];
    } else if (nw != 0 && !(nw == 1 && help)) {
        *out = NULL;
        return 0;
    }
    /* Follow the case being typed; for an empty word, the previous word's. */
    const char *cue = word[0] ? word : nw > 0 ? w[nw < 2 ? nw - 1 : 1] : "";
    bool lower = islower((unsigned char)cue[0]);
    size_t wlen = strlen(word);
    int n = 0;
    *out = NULL;
    for (size_t i = 0; i < h->count; i++) {
        const struct cli_help_entry *e = &h->entry[i];
        const char *cand = e->name;
        if (cmd != NULL) {
            /* "CLIENT LIST" after "client": offer "LIST". */
            if (e->words != 2 || strncasecmp(e->name, cmd, cmdlen) != 0 || e->name[cmdlen] != ' ')
                continue;
            cand = e->name + cmdlen + 1;
        } else if (e->words != 1) {
            continue;
        }
        if (strncasecmp(cand, word, wlen) == 0 && add_candidate(out, &n, cand, strlen(cand), lower))
            goto oom;
    }
    if (help && cmd == NULL) {
        /* "@group" once per group; the table is sorted by name, not group. */
        for (size_t i = 0; i < h->count; i++) {
            const char *g = h->entry[i].group;
            bool seen = *g == '\0';
            for (size_t j = 0; j < i && !seen; j++)
                seen = !strcmp(h->entry[j].group, g);
            if (seen)
                continue;
            char at[64];
            int len = snprintf(at, sizeof(at), "@%s", g);
            if (len > 0 && (size_t)len < sizeof(at) && strncasecmp(at, word, wlen) == 0 &&
                add_candidate(out, &n, at, (size_t)len, false))
                goto oom;
        }
    }
    return n;
oom:
    for (int i = 0; i < n; i++)
        free((*out)[i]);
    free(*out);
    *out = NULL;
    return -1;
}
