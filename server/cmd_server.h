/* cmd_server.h — connection and server commands (PING ECHO QUIT HELLO AUTH
 * SELECT CLIENT COMMAND INFO CONFIG TIME SHUTDOWN). All are CMD_CONN: they
 * run on the connection's own worker thread with ctx->conn set; the ones that
 * need every worker (INFO, CLIENT LIST/KILL, CONFIG RESETSTAT) reply later
 * through dispatch_broadcast. */
#ifndef SKV_SERVER_CMD_SERVER_H
#define SKV_SERVER_CMD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/cmd.h"

/* The command table fragment merged by cmd_table.c. Arity, flags and key
 * positions are Redis 7.0's. */
extern const struct cmd_def cmd_server_defs[];
extern const size_t cmd_server_ndefs;

/* Record one sample of the server-wide command count for INFO's
 * instantaneous_ops_per_sec. Call about once a second from one thread (the
 * worker 0 tick); INFO also samples, so the figure exists without it.
 * Any thread: samples are kept under a mutex. */
void cmd_server_sample(int64_t now_ms);

/* ---- Shared by cmd_server.c, cmd_client.c and cmd_info.c -------------- */

/* CLIENT and INFO, defined in cmd_client.c and cmd_info.c. */
void cmd_client_exec(struct cmd_ctx *c);
void cmd_info_exec(struct cmd_ctx *c);

/* CONFIG RESETSTAT: every worker zeroes its counters on its own thread; the
 * reply (+OK) is deferred until all have. Defined in cmd_info.c. */
void cmd_info_resetstat(struct cmd_ctx *c);

/* Redis 7's arity of subcommand full (e.g. "client|setname"): n for
 * exactly n arguments, -n for at least n, 0 for a subcommand we lack. */
int cmd_server_sub_arity_of(const char *full);

/* If name ("client") is one of the containers whose subcommands we serve
 * (CLIENT, COMMAND, CONFIG), its name as its errors spell it ("CLIENT");
 * else NULL. */
const char *cmd_server_container(const char *name);

/* The subcommands of CLIENT, COMMAND and CONFIG we serve: how many, and
 * the full name of the i-th ("client|setname"; static storage). */
size_t cmd_server_sub_count(void);
const char *cmd_server_sub_name(size_t i);

/* Position of subcommand full in that list, or -1. */
int cmd_server_sub_index(const char *full);

/* Position of container's subcommand sub (any case, binary-safe: a NUL or
 * an overlong name is simply unknown) in that list, or -1. */
int cmd_server_sub_find(const char *container, const struct resp_arg *sub);

/* Check a subcommand's Redis arity (cmd_server_sub_arity_of(full)); on a
 * mismatch reply Redis's "wrong number of arguments" error, return false. */
bool cmd_server_sub_arity(struct cmd_ctx *c, const char *full);

/* Reply "ERR unknown subcommand '<argv[1]>'. Try <cmd> HELP." */
void cmd_server_unknown_sub(struct cmd_ctx *c, const char *cmd);

/* A NUL-terminated malloc'ed copy of a; the caller frees it. NULL on
 * out-of-memory. */
char *cmd_server_arg_dup(const struct resp_arg *a);

/* Reply a NULL-terminated array of help lines as simple strings. */
void cmd_server_reply_help(struct cmd_ctx *c, const char *const *lines);

/* Redis's rule for client names and library fields: printable ASCII
 * without spaces ('!'..'~'); the empty string is valid (clears). */
bool cmd_server_name_ok(const struct resp_arg *a);

#endif
