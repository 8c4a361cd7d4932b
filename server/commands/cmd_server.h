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

#include "server/exec/cmd.h"

/* The command table fragment merged by cmd_table.c. Arity, flags and key
 * positions are Redis 7.0's. */
extern const struct cmd_def cmd_server_defs[];
extern const size_t cmd_server_ndefs;

/* Record one sample of the server-wide command count for INFO's
 * instantaneous_ops_per_sec. Call about once a second from one thread (the
 * worker 0 tick); INFO also samples, so the figure exists without it.
 * Any thread: samples are kept under a mutex. */
void cmd_server_sample(int64_t now_ms);

/* The allocator's total once the server is set up, before the data set is
 * loaded (INFO used_memory_startup): noted once by server_start. */
extern size_t cmd_info_startup_memory;
void cmd_info_note_startup(void);

/* ---- Shared by cmd_server.c, cmd_client.c and cmd_info.c -------------- */

/* CLIENT's subcommands (cmd_client.c), COMMAND's (cmd_command.c), both
 * ended by a definition with a NULL name; COMMAND alone; INFO
 * (cmd_info.c). */
extern const struct cmd_def cmd_client_subs[];
extern const struct cmd_def cmd_command_subs[];
void cmd_command_exec(struct cmd_ctx *c);
void cmd_info_exec(struct cmd_ctx *c);

/* The ACL categories COMMAND reports for d (CMD_ACL_*): its own plus those
 * its flags and group imply, as Redis derives them. */
uint32_t cmd_command_acl(const struct cmd_def *d);

/* CONFIG RESETSTAT: every worker zeroes its counters on its own thread; the
 * reply (+OK) is deferred until all have. Defined in cmd_info.c. */
void cmd_info_resetstat(struct cmd_ctx *c);

/* A NUL-terminated malloc'ed copy of a; the caller frees it. NULL on
 * out-of-memory. */
char *cmd_server_arg_dup(const struct resp_arg *a);


/* Redis's rule for client names and library fields: printable ASCII
 * without spaces ('!'..'~'); the empty string is valid (clears). */
bool cmd_server_name_ok(const struct resp_arg *a);

#endif
