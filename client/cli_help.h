/* cli_help.h — shardkv-cli's command help and completion, built from the
 * server's COMMAND DOCS reply (or only the names, from COMMAND): the text of
 * `help <command>` and `help @<group>` as redis-cli 7.0 prints it, and the
 * candidates for Tab. Pure: no I/O; single-threaded. */
#ifndef SKV_CLIENT_CLI_HELP_H
#define SKV_CLIENT_CLI_HELP_H

#include <stddef.h>

#include "client/cli_format.h"
#include "client/shardkv.h"

/* One command or subcommand. All strings are owned. */
struct cli_help_entry {
    char *name;    /* "GET", "CLIENT LIST": upper case, one space between words */
    int words;     /* 1 for a command, 2 for a subcommand */
    char *params;  /* argument syntax as redis-cli shows it, "key [key ...]";
                      "" when the docs have none */
    char *summary; /* one line */
    char *since;   /* version that added it, "1.0.0" */
    char *group;   /* "string", "connection"... */
};

/* The table. Zeroed (or cli_help_init) is empty and valid. */
struct cli_help {
    struct cli_help_entry *entry; /* sorted by name (strcmp); owned */
    size_t count;                 /* entries used */
    size_t cap;                   /* entries allocated */
};

void cli_help_init(struct cli_help *h);
void cli_help_deinit(struct cli_help *h);

/* Fill the empty table h from a COMMAND DOCS reply (RESP2 array or RESP3
 * map: name, docs, name, docs...), subcommands included. Borrows r.
 * Returns 0; -1 when r is not such a reply (an error, say), leaving h empty;
 * -2 when out of memory (h is emptied). */
int cli_help_load_docs(struct cli_help *h, const struct skv_reply *r);

/* Fill the empty table h with the names of a COMMAND reply, for servers
 * without COMMAND DOCS; their help says "Help not available" as redis-cli's
 * does. Same returns as cli_help_load_docs. */
int cli_help_load_names(struct cli_help *h, const struct skv_reply *r);

/* Append what redis-cli 7.0 prints for `help argv[0] ...` (argc >= 1):
 * `help @group` lists the group's entries; otherwise every entry whose
 * first argc words are argv (case-insensitive), so `help client` shows
 * CLIENT and its subcommands. Unknown topics print just the final blank
 * line. Lines end in "\r\n" and use redis-cli's colours, exactly as
 * redis-cli prints them whatever the output is. */
void cli_help_format(struct cli_buf *b, const struct cli_help *h, int argc, char *const *argv);

/* Tab candidates for word, the word being completed, given the text of the
 * line before it: command names first; after "help" (or "?") also
 * "@group"s; after a command with subcommands, their second words. Upper
 * case unless word starts with a lower-case letter. Returns how many were
 * stored in *out (a malloc'd array of malloc'd strings, NULL-terminated,
 * the caller frees both; NULL when 0), or -1 when out of memory. */
int cli_help_complete(const struct cli_help *h, const char *before, const char *word, char ***out);

#endif
