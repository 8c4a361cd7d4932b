/* cli_format.h — the text side of shardkv-cli: splitting a typed line into
 * arguments with redis-cli's quoting rules, and printing replies the way
 * redis-cli does (tty, raw and --json). Pure; used by cli.c and its tests. */
#ifndef SKV_CLIENT_CLI_FORMAT_H
#define SKV_CLIENT_CLI_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "client/shardkv.h"

/* A growable output string. */
struct cli_buf {
    char *ptr;  /* bytes, NUL-terminated when not NULL; owned */
    size_t len; /* bytes used, without the NUL */
    size_t cap; /* bytes allocated */
    int oom;    /* an append failed: the content is incomplete */
};

void cli_buf_free(struct cli_buf *b);
void cli_buf_add(struct cli_buf *b, const void *p, size_t n);

/* Split line into arguments like redis-cli (sdssplitargs): blanks separate
 * arguments; "double quotes" allow \n \r \t \b \a \\ \" and \xHH;
 * 'single quotes' allow \' only; a closing quote must be followed by a blank
 * or the end. Returns the count (0 for a blank line) with *argv and *lens
 * malloc'd (free with cli_free_args), or -1 on unbalanced quotes or out of
 * memory. */
int cli_split_args(const char *line, char ***argv, size_t **lens);
void cli_free_args(int argc, char **argv, size_t *lens);

/* Append r formatted like redis-cli on a terminal: "(integer) 1", "(nil)",
 * quoted strings with escapes, numbered nested aggregates, "(error) ...". */
void cli_format_tty(struct cli_buf *b, const struct skv_reply *r);
/* Append r like redis-cli --raw (and when stdout is not a terminal). */
void cli_format_raw(struct cli_buf *b, const struct skv_reply *r);
/* Append r as JSON like redis-cli --json (an error is `error:"text"`,
 * exactly as redis-cli 7.0 prints it). No trailing newline. */
void cli_format_json(struct cli_buf *b, const struct skv_reply *r);

/* True for the commands whose reply is a text meant for people (INFO,
 * CLIENT LIST, CLIENT INFO, MEMORY DOCTOR, LATENCY DOCTOR, LOLWUT...):
 * redis-cli 7.0 prints those as they are in every output mode, tty and
 * --json included, so INFO reads as lines even with --no-raw. argv[0] is the
 * command name; the list is redis-cli 7.0's. */
bool cli_prints_as_is(int argc, char *const *argv);
/* Append r as redis-cli prints the replies of those commands: the raw form
 * with no newline added (the texts end with their own). */
void cli_format_as_is(struct cli_buf *b, const struct skv_reply *r);

#endif
