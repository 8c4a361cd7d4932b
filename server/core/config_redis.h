/* config_redis.h — Redis's configuration language on top of the option
 * table: redis.conf files (with include), Redis-style flags, repeated
 * "save" lines, and the table of Redis directives shardkv accepts but
 * ignores, each with its reason. Start-up only, main thread. */
#ifndef SKV_SERVER_CONFIG_REDIS_H
#define SKV_SERVER_CONFIG_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include "server/core/config.h"

/* Redis 7.0's save points when a config file has no "save" line. */
#define CONFIG_REDIS_DEFAULT_SAVE "3600 1 300 100 60 10000"

/* Deepest chain of include directives (Redis has no limit and overflows its
 * stack on a file that includes itself). */
#define CONFIG_REDIS_MAX_INCLUDE_DEPTH 16

/* State of one start-up load (files, includes and flags together). */
struct config_redis_ctx {
    bool save_seen;     /* a "save" directive was applied: the next one adds
                           its points instead of replacing (Redis's rule) */
    unsigned depth;     /* include nesting right now */
    bool allow_include; /* false: "include" is an error (the fuzzer) */
};

/* Apply one directive: argv[0] is its name, argv[1..argc) its arguments,
 * joined with single spaces into the option's value ("bind 127.0.0.1
 * -::1", "save 900 1"). "include" loads files; "save" accumulates; a
 * directive in the ignored table adds one warning to cfg->warnings naming
 * src; anything else must be an option. Returns 0, or -1 with a one-line
 * message starting with src in err. */
int config_redis_directive(struct config *cfg, struct config_redis_ctx *ctx, const char *src,
                           int argc, char **argv, char *err, size_t errlen);

/* Apply every directive of text[0..len), a redis.conf read from origin (a
 * path, used in messages as "config file '<origin>' line N"). Returns 0, or
 * -1 with err set; the first bad line stops the load. */
int config_redis_load_text(struct config *cfg, struct config_redis_ctx *ctx, const char *origin,
                           const char *text, size_t len, char *err, size_t errlen);

/* True for "--name" flags (a lone "--" is not one). */
bool config_redis_is_flag(const char *a);

/* Apply the flag argv[*i] and its values, as redis-server's command line
 * does: "--name value" or "--name=value", then every following argument
 * before end up to the next flag ("--save 900 1 300 10"); the first value
 * is taken whatever it looks like ("--requirepass -x"). *i moves to the
 * last argument used. "--config" is skipped (config_load reads it first).
 * Returns 0, or -1 with err set ("flag --name: ..."). */
int config_redis_flag(struct config *cfg, struct config_redis_ctx *ctx, int end, char **argv,
                      int *i, char *err, size_t errlen);

/* One row of the ignored table, for tests: its directive name, the glob its
 * value must match for the row to apply (NULL = any value) and the reason
 * printed. Returns false past the last row. */
bool config_redis_ignored_row(size_t i, const char **name, const char **values, const char **why);

#endif
