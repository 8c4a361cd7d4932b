/* cmd_lookup.c — the one command table: the families' fragments merged
 * into one array (commands/cmd_table.c says which, through
 * cmd_table_set_families), every subcommand appended after the top-level
 * commands, what the definitions imply derived (Redis's legacy key triple
 * and movablekeys from the key specs, parent links), and the top-level
 * names indexed with a small open-addressing hash. Built once, on first
 * use, then read-only: any thread may look commands up. */
#include <assert.h>
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "server/exec/cmd.h"

/* Room for every command and subcommand we will ever have (Redis 7.0 has
 * 240 commands and 126 subcommands); the commandstats id is 16 bits. */
#define CMD_MAX 1024
/* Index slots: a power of two at least twice the top-level commands. */
#define CMD_INDEX 1024
/* Longest command name (Redis's longest is 20 bytes). */
#define CMD_NAME_MAX 32

static struct cmd_def table[CMD_MAX];
static size_t ntop;   /* top-level commands: table[0..ntop) */
static size_t ntable; /* with the subcommands after them */
static int16_t index_of[CMD_INDEX]; /* -1 = empty, else position in table */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a: tiny inputs, no flooding concern */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* Redis's populateCommandLegacyRangeSpec: the (first, last, step) that
 * COMMAND INFO prints and old clients route by, from the index/range
 * specs that follow each other with step 1 (or the single one); any other
 * spec makes the keys movable. */
static void derive_keys(struct cmd_def *d)
{
    d->nkeyspecs = 0;
    while (d->nkeyspecs < CMD_KEY_SPECS_MAX && d->keys[d->nkeyspecs].flags)
        d->nkeyspecs++;
    /* The triple is derived, never written by hand: a definition that sets
     * it without key specs would silently lose its keys (and its routing). */
    assert(d->nkeyspecs > 0 || d->first_key == 0);
    d->first_key = d->last_key = d->key_step = 0;
    if (d->getkeys && !d->nkeyspecs)
        d->flags |= CMD_MOVABLE_KEYS;
    if (d->nkeyspecs == 0)
        return;
    const struct cmd_key_spec *k = d->keys;
    if (d->nkeyspecs == 1 && !k->keynum && !k->unknown) {
        d->first_key = k->begin;
        d->last_key = k->last < 0 ? k->last : k->begin + k->last;
        d->key_step = k->step;
        if (k->flags & CMD_KS_INCOMPLETE)
            d->flags |= CMD_MOVABLE_KEYS;
        return;
    }
    int first = INT_MAX, last = 0, prev_last = 0;
    for (unsigned i = 0; i < d->nkeyspecs; i++) {
        k = &d->keys[i];
        if (k->unknown || k->keynum || k->step != 1 || (prev_last && prev_last != k->begin - 1)) {
            d->flags |= CMD_MOVABLE_KEYS;
            continue;
        }
        if (k->flags & CMD_KS_INCOMPLETE)
            d->flags |= CMD_MOVABLE_KEYS;
        if (k->begin < first)
            first = k->begin;
        int abs_last = k->last >= 0 ? k->last + k->begin : k->last;
        /* Unsigned, as Redis compares: -1 (the last argument) wins. */
        if ((unsigned)abs_last > (unsigned)last)
            last = abs_last;
        prev_last = last;
    }
    if (first == INT_MAX) {
        d->flags |= CMD_MOVABLE_KEYS;
        return;
    }
    d->first_key = first;
    d->last_key = last;
    d->key_step = 1;
}

/* Subcommands run where their container runs: they inherit its flags
 * that say where and how (ours, not Redis's). */
#define CMD_INHERITED (CMD_CONN | CMD_AFTER_PRIOR | CMD_MULTIKEY | CMD_ALLSHARDS)

void cmd_table_add(const struct cmd_def *defs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = defs[i].name;
        size_t len = strlen(name);
        uint32_t h = name_hash(name, len) & (CMD_INDEX - 1);
        bool dup = false;
        while (index_of[h] >= 0) {
            if (strcmp(table[index_of[h]].name, name) == 0) {
                dup = true;
                break;
            }
            h = (h + 1) & (CMD_INDEX - 1);
        }
        /* Two families defining one command is a build mistake; the first
         * definition wins so the server still runs. */
        if (dup || ntable == CMD_MAX)
            continue;
        table[ntable] = defs[i];
        derive_keys(&table[ntable]);
        index_of[h] = (int16_t)ntable;
        ntable++;
    }
}

/* Append every top-level command's subcommands after them. */
static void add_subcommands(void)
{
    ntop = ntable;
    for (size_t i = 0; i < ntop; i++) {
        struct cmd_def *d = &table[i];
        if (!d->subcommands)
            continue;
        d->subs = &table[ntable];
        for (const struct cmd_def *s = d->subcommands; s->name && ntable < CMD_MAX; s++) {
            struct cmd_def *t = &table[ntable++];
            *t = *s;
            t->parent = d;
            t->flags |= d->flags & CMD_INHERITED;
            derive_keys(t);
            d->nsubs++;
        }
    }
}

/* What fills the table (cmd_table_set_families). */
static void (*families)(void);

void cmd_table_set_families(void (*add_all)(void))
{
    families = add_all;
}

static void build(void)
{
    memset(index_of, 0xff, sizeof index_of);
    if (families)
        families();
    add_subcommands();
}

const struct cmd_def *cmd_lookup(const char *name, size_t len)
{
    pthread_once(&once, build);
    if (len == 0 || len >= CMD_NAME_MAX)
        return NULL;
    char low[CMD_NAME_MAX];
    for (size_t i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    uint32_t h = name_hash(low, len) & (CMD_INDEX - 1);
    while (index_of[h] >= 0) {
        const struct cmd_def *d = &table[index_of[h]];
        if (strlen(d->name) == len && memcmp(d->name, low, len) == 0)
            return d;
        h = (h + 1) & (CMD_INDEX - 1);
    }
    return NULL;
}

const struct cmd_def *cmd_lookup_sub(const struct cmd_def *d, const struct resp_arg *sub)
{
    size_t plen = strlen(d->name) + 1; /* "config|" */
    for (size_t i = 0; i < d->nsubs; i++) {
        const char *n = d->subs[i].name + plen;
        if (strlen(n) != sub->len)
            continue;
        size_t j = 0;
        while (j < sub->len && tolower((unsigned char)sub->ptr[j]) == n[j])
            j++;
        if (j == sub->len)
            return &d->subs[i];
    }
    return NULL;
}

const struct cmd_def *cmd_lookup_argv(size_t argc, const struct resp_arg *argv,
                                      const struct cmd_def **container)
{
    const struct cmd_def *d = cmd_lookup(argv[0].ptr, argv[0].len);
    *container = NULL;
    if (!d || !d->nsubs || argc < 2)
        return d;
    *container = d;
    return cmd_lookup_sub(d, &argv[1]);
}

const struct cmd_def *cmd_table(size_t *n)
{
    pthread_once(&once, build);
    *n = ntop;
    return table;
}

const struct cmd_def *cmd_table_all(size_t *n)
{
    pthread_once(&once, build);
    *n = ntable;
    return table;
}
