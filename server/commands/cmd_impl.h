/* cmd_impl.h — command table fragments exported by the command families
 * (cmd_string.c, cmd_keys.c) for the server core, which merges them into the
 * one table behind cmd_lookup. The exec functions run on the owner shard's
 * thread, per server/exec/cmd.h. */
#ifndef SKV_SERVER_CMD_IMPL_H
#define SKV_SERVER_CMD_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/int64str.h"
#include "server/exec/cmd.h"

/* String commands: GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX APPEND
 * STRLEN GETRANGE SUBSTR SETRANGE INCR DECR INCRBY DECRBY INCRBYFLOAT.
 * Arity, flags and key positions are those of Redis 7.0's COMMAND INFO. */
extern const struct cmd_def cmd_string_defs[];
extern const size_t cmd_string_ndefs;

/* Single-key keyspace commands: TYPE EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL
 * PTTL EXPIRETIME PEXPIRETIME PERSIST. */
extern const struct cmd_def cmd_keys_defs[];
extern const size_t cmd_keys_ndefs;

/* Hash commands: HSET HSETNX HGET HMGET HMSET HDEL HLEN HSTRLEN HEXISTS
 * HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN (cmd_hash.c). */
extern const struct cmd_def cmd_hash_defs[];
extern const size_t cmd_hash_ndefs;

/* Set commands: SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SRANDMEMBER
 * SPOP SSCAN SMOVE SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF
 * SDIFFSTORE (server/cmd_set*.c). */
extern const struct cmd_def cmd_set_defs[];
extern const size_t cmd_set_ndefs;

/* List commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LINDEX LSET
 * LRANGE LTRIM LREM LINSERT LPOS LMOVE RPOPLPUSH LMPOP (server/cmd_list*.c). */
extern const struct cmd_def cmd_list_defs[];
extern const size_t cmd_list_ndefs;
/* Sorted set commands (server/cmd_zset*.c): ZADD ZINCRBY ZREM ZCARD ZSCORE
 * ZMSCORE ZRANK ZREVRANK ZPOPMIN ZPOPMAX ZRANDMEMBER ZSCAN (cmd_zset.c);
 * ZCOUNT ZLEXCOUNT, the ZRANGE family, ZRANGESTORE and ZREMRANGEBY*
 * (cmd_zset_range.c); ZUNION ZINTER ZDIFF, their STORE forms, ZINTERCARD
 * and ZMPOP (cmd_zset_multi.c). */
extern const struct cmd_def cmd_zset_defs[];
extern const size_t cmd_zset_ndefs;
extern const struct cmd_def cmd_zset_range_defs[];
extern const size_t cmd_zset_range_ndefs;
extern const struct cmd_def cmd_zset_multi_defs[];
extern const size_t cmd_zset_multi_ndefs;

/* SORT and SORT_RO (cmd_sort.c). */
extern const struct cmd_def cmd_sort_defs[];
extern const size_t cmd_sort_ndefs;
/* DUMP and RESTORE (cmd_dump.c): Redis's serialisation of strings, hashes
 * and sets. */
extern const struct cmd_def cmd_dump_defs[];
extern const size_t cmd_dump_ndefs;

/* Reply for a failed kvmap write (KVMAP_E* code), with Redis's text where
 * Redis has one: ETOOBIG is the proto-max-bulk-len error, ENOMEM an -OOM
 * error. Shared by the command families; runs on the owner shard. */
void cmd_reply_kvmap_error(struct cmd_ctx *c, int err);
/* After a container at key lost elements: drop the key if tv is now empty
 * (Redis never keeps an empty one), report the change as event of class,
 * then "del" if it was dropped, in Redis's order. tv is freed with the key. */
void cmd_key_changed_drop_empty(struct cmd_ctx *c, int class, const char *event,
                                const struct resp_arg *key, const struct tval *tv);

/* Parse s[0..len) as Redis's string2ld: strtold over the bytes (so hex,
 * "inf" and exponents are accepted as glibc does), no leading space, every
 * byte consumed (so no embedded NUL), no NaN, no overflow, and shorter than
 * CMD_MAX_LDOUBLE_CHARS. Returns true with *v set. */
bool cmd_parse_ldouble(const char *s, size_t len, long double *v);

/* Redis's ld2string in LD_STR_HUMAN mode (INCRBYFLOAT, HINCRBYFLOAT):
 * %.17Lf, then trailing zeros (and a bare '.') removed, and "-0" written as
 * "0", into buf (cap bytes). Returns the length, 0 when the text does not
 * fit (Redis stores an empty string then). */
size_t cmd_format_ldouble(char *buf, size_t cap, long double v);

/* Redis's MAX_LONG_DOUBLE_CHARS: the buffer both string2ld and ld2string
 * work in, so it bounds float arguments and formatted results alike. */
#define CMD_MAX_LDOUBLE_CHARS (5 * 1024)

/* ---- HSCAN, SSCAN, ZSCAN (cmd_tscan.c) ---- */

/* Redis's default COUNT for the SCAN family. */
#define CMD_TSCAN_DEFAULT_COUNT 10

/* Options after the cursor: COUNT n (n >= 1) and MATCH pattern. */
struct cmd_tscan_opts {
    uint64_t count;               /* elements to aim for per call */
    const struct resp_arg *match; /* glob on the field or member; NULL = all */
};

/* Parse a cursor as Redis's parseScanCursorOrReply does (strtoul rules:
 * "" is 0, "-1" wraps, nothing may follow the digits); on failure reply
 * "ERR invalid cursor" and return false. */
bool cmd_tscan_cursor(struct cmd_ctx *c, const struct resp_arg *a, uint64_t *cursor);

/* Parse the options from argv[first] on; on failure reply Redis's error
 * (syntax error, or not an integer) and return false. */
bool cmd_tscan_opts(struct cmd_ctx *c, size_t first, struct cmd_tscan_opts *o);

/* Reply [cursor, [n elements]] where elems (borrowed) holds the n elements'
 * encoded replies, in both protocols. */
void cmd_tscan_reply(struct cmd_ctx *c, uint64_t cursor, size_t n, const struct rbuf *elems);

#endif
