/* cli_history.h — shardkv-cli's command history file: where it is (as
 * redis-cli finds ~/.rediscli_history), loading it, and saving it after
 * every line, private to the user and without lines that carry passwords.
 * The line editor gets the lines from here. Single-threaded. */
#ifndef SKV_CLIENT_CLI_HISTORY_H
#define SKV_CLIENT_CLI_HISTORY_H

#include <stdbool.h>

/* Lines kept in memory and in the file: the oldest go first. */
#define CLI_HISTORY_MAX 1000
/* The file in $HOME, and the variable that names another one. */
#define CLI_HISTORY_FILE ".shardkv_cli_history"
#define CLI_HISTORY_ENV  "SHARDKV_CLI_HISTFILE"

struct cli_history {
    char *path;  /* the file; NULL: history is not saved. Owned */
    char **line; /* oldest first, len of them; each owned */
    int len;     /* lines held, at most CLI_HISTORY_MAX */
};

/* The history file as redis-cli picks its own: $SHARDKV_CLI_HISTFILE when
 * set and not empty ("/dev/null" there turns saving off), else
 * $HOME/.shardkv_cli_history. Returns a malloc'd path, or NULL when there
 * is none (no HOME, /dev/null, out of memory). */
char *cli_history_path(void);

/* Start h with path (taken; NULL: nothing is read or saved) and the lines
 * of that file if it exists. Lines over CLI_HISTORY_MAX drop the oldest.
 * Returns 0, or -1 when out of memory (h holds what was read). */
int cli_history_init(struct cli_history *h, char *path);
void cli_history_deinit(struct cli_history *h);

/* Append line (copied) unless it repeats the last one. Returns 1 when
 * added, 0 when it was a repeat, -1 when out of memory. */
int cli_history_add(struct cli_history *h, const char *line);

/* Write every line to the file, created with mode 0600 (and set to 0600 if
 * it existed: commands may hold secrets). Returns 0, or -1 with errno set;
 * 0 when h has no file. */
int cli_history_save(const struct cli_history *h);

/* True for a command line that carries a password and so is kept out of
 * the history: AUTH, HELLO with AUTH, ACL SETUSER, MIGRATE with AUTH or
 * AUTH2, CONFIG SET of requirepass, masterauth or masteruser. argv as
 * typed (after any repeat count). */
bool cli_history_is_secret(int argc, char *const *argv);

#endif
