/* cmd_pubsub.h — the Pub/Sub commands' table fragment (SUBSCRIBE UNSUBSCRIBE
 * PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE PUBLISH SPUBLISH PUBSUB,
 * and RESET) and the subscribed-mode rule for dispatch. Client's worker
 * thread. */
#ifndef SKV_SERVER_CMD_PUBSUB_H
#define SKV_SERVER_CMD_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>

#include "server/exec/cmd.h"

struct conn;

extern const struct cmd_def cmd_pubsub_defs[];
extern const size_t cmd_pubsub_ndefs;

/* Is c a subscribed RESP2 client and d (with argv) not one of the commands
 * Redis allows it? Then Redis's error ("Can't execute 'get': only
 * (P|S)SUBSCRIBE / ...") is appended to err (the caller's scratch buffer)
 * and true returned; the caller replies it and counts the rejection.
 * c's thread. */
bool cmd_pubsub_refuses(const struct conn *c, const struct cmd_def *d, size_t argc,
                        const struct resp_arg *argv, struct rbuf *err);

#endif
