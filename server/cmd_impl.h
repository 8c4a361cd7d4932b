/* cmd_impl.h — command table fragments exported by the command families
 * (cmd_string.c, cmd_keys.c) for the server core, which merges them into the
 * one table behind cmd_lookup. The exec functions run on the owner shard's
 * thread, per server/cmd.h. */
#ifndef SKV_SERVER_CMD_IMPL_H
#define SKV_SERVER_CMD_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/int64str.h"
#include "server/cmd.h"

/* String commands: GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX APPEND
 * STRLEN GETRANGE SUBSTR SETRANGE INCR DECR INCRBY DECRBY INCRBYFLOAT.
 * Arity, flags and key positions are those of Redis 7.0's COMMAND INFO. */
extern const struct cmd_def cmd_string_defs[];
extern const size_t cmd_string_ndefs;

/* Single-key keyspace commands: TYPE EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL
 * PTTL EXPIRETIME PEXPIRETIME PERSIST. */
extern const struct cmd_def cmd_keys_defs[];
extern const size_t cmd_keys_ndefs;

/* DUMP and RESTORE (cmd_dump.c): Redis's serialisation of strings, hashes
 * and sets. */
extern const struct cmd_def cmd_dump_defs[];
extern const size_t cmd_dump_ndefs;

/* Reply for a failed kvmap write (KVMAP_E* code), with Redis's text where
 * Redis has one: ETOOBIG is the proto-max-bulk-len error, ENOMEM an -OOM
 * error. Shared by the command families; runs on the owner shard. */
void cmd_reply_kvmap_error(struct cmd_ctx *c, int err);

/* Parse s[0..len) as Redis's string2ld: strtold over the bytes (so hex,
 * "inf" and exponents are accepted as glibc does), no leading space, every
 * byte consumed (so no embedded NUL), no NaN, no overflow, and shorter than
 * CMD_MAX_LDOUBLE_CHARS. Returns true with *v set. */
bool cmd_parse_ldouble(const char *s, size_t len, long double *v);

/* Redis's MAX_LONG_DOUBLE_CHARS: the buffer both string2ld and ld2string
 * work in, so it bounds float arguments and formatted results alike. */
#define CMD_MAX_LDOUBLE_CHARS (5 * 1024)

#endif
