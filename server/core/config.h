/* config.h — server configuration: defaults, then a JSON file (--config),
 * then SHARDKV_* environment variables, then command-line flags; the last
 * one wins. One X-macro list declares every option once, so parsing, CONFIG
 * GET/SET and the docs all come from the same table. Read on the main
 * thread at start-up; CONFIG SET changes go through config_set. */
#ifndef SKV_SERVER_CONFIG_H
#define SKV_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* enable-protected-configs: who may CONFIG SET the options Redis marks
 * PROTECTED_CONFIG (dir, dbfilename). */
enum config_allow {
    CONFIG_ALLOW_NO = 0,    /* nobody (the default): only the config file,
                               environment and flags set them */
    CONFIG_ALLOW_YES = 1,   /* every client that may run CONFIG SET */
    CONFIG_ALLOW_LOCAL = 2, /* clients from 127.0.0.1 or ::1 (conn.local) */
};

/* latency-tracking-info-percentiles: Redis 7.0's list of percentiles (each
 * in [0, 100]) that INFO latencystats prints, in the order given. */
#define CONFIG_PCTL_MAX 128 /* values in the list: bounds INFO's line and
                               CONFIG GET's text (Redis has no bound) */
struct config_pctl {
    size_t n;    /* values; 0: INFO prints the command names only */
    double v[];  /* the percentiles */
};

/* Write percentile p as Redis names it in CONFIG GET and in INFO's
 * "p<name>=" ("%f" without trailing zeros: 50, 99.9) into buf, which has
 * room for 64 bytes; returns its length. */
size_t config_pctl_name(double p, char *buf);

/* Client classes of client-output-buffer-limit, in Redis's CONFIG GET
 * order. */
enum config_obuf_class {
    CONFIG_OBUF_NORMAL,  /* every client without subscriptions */
    CONFIG_OBUF_REPLICA, /* "replica" or "slave"; printed "slave" as Redis 7.0 does */
    CONFIG_OBUF_PUBSUB,  /* clients with Pub/Sub subscriptions */
    CONFIG_OBUF_NCLASS,
};

/* One class's output buffer limits. A client is closed when the bytes it
 * holds reach hard, or stay at or above soft for more than soft_seconds. */
struct config_obuf_limit {
    uint64_t hard;        /* bytes; 0 = no hard limit */
    uint64_t soft;        /* bytes; 0 = no soft limit */
    int64_t soft_seconds; /* 0..INT_MAX */
};

/* The options. Their names, defaults, limits and help live once, in the
 * CONFIG_OPTIONS X-macro in config.c: X(name, field, kind, default, min,
 * max, mutable_at_runtime, help); kinds are INT, UINT, SIZE (bytes; Redis
 * units 1k=1000, 1kb=1024, m/mb, g/gb), COUNT, STR, DIR (a STR that CONFIG
 * SET checks is a directory), FILENAME (a STR without '/' or '\\'),
 * LOGLEVEL, BOOL (yes/no), ALLOW (no/yes/local), OCTAL and OBUF
 * (client-output-buffer-limit's "<class> <hard> <soft> <seconds> ...");
 * mutable is false, true or OPT_PROTECTED (see enable-protected-configs).
 * Names are Redis's ("client-query-buffer-limit"); `shardkv-server --help`
 * prints the table. */
struct config {
    char *bind;               /* "127.0.0.1": address to listen on */
    int port;                 /* 6379 */
    unsigned threads;         /* workers = shards; 0 = online CPUs */
    unsigned databases;       /* 16 */
    unsigned maxclients;      /* 10000 */
    unsigned timeout;         /* idle seconds before close; 0 = never */
    char *requirepass;        /* NULL/empty = no auth */
    int loglevel;             /* LOG_DEBUG..LOG_WARNING (log.h), "notice" default */
    char *logfile;            /* NULL/empty = stderr */
    char *dir;                /* data directory; NULL = no persistence */
    char *dbfilename;         /* "dump.rdb" */
    char *save;               /* save points, Redis syntax ("3600 1 300 100");
                                 NULL/empty = none */
    bool stop_writes_on_bgsave_error; /* yes: -MISCONF for writes while the
                                 last save failed and save points are set */
    bool rdbcompression;      /* yes: snapshots LZF-compress the strings of
                                 more than 20 bytes they can (Redis's) */
    char *rdb_skip_unknown_types; /* "yes": loading skips keys of types we
                                 do not load (lists, zsets, streams, modules);
                                 "no" (default): they stop the load */
    char *rdb_skip_non_string;/* the older name of rdb-skip-unknown-types
                                 (either "yes" skips) */
    size_t proto_max_bulk_len;        /* 512 MB */
    size_t client_query_buffer_limit; /* 1 GB */
    size_t max_inline;                /* 64 KiB */
    size_t max_multibulk;             /* 1,048,576 */
    size_t set_max_intset_entries;    /* 512: encoding thresholds of sets */
    size_t set_max_listpack_entries;  /* 128 */
    size_t set_max_listpack_value;    /* 64 */
    int list_max_listpack_size;       /* -2: list nodes of 8 KB (alias
                                         list-max-ziplist-size) */
    int list_compress_depth;          /* 0: no list node compressed */
    size_t maxmemory;                 /* 0: no bound (server/memory/maxmemory.h) */
    int maxmemory_policy;             /* enum evict_policy: noeviction */
    size_t maxmemory_samples;         /* 5 */
    size_t maxmemory_eviction_tenacity; /* 10 */
    size_t lfu_log_factor;            /* 10 */
    size_t lfu_decay_time;            /* 1 */
    int64_t slowlog_log_slower_than;  /* µs; -1 off, 0 every command (slowlog.h) */
    int64_t slowlog_max_len;          /* entries kept: 128 */
    int64_t latency_monitor_threshold; /* ms; 0 off (latency.h) */
    bool latency_tracking;            /* yes: per-command latency histograms
                                         (cmdhist.h) are kept and shown */
    struct config_pctl *latency_tracking_info_percentiles; /* INFO
                                         latencystats' percentiles; replaced
                                         whole by CONFIG SET, the old one
                                         kept until config_deinit (readers
                                         on any thread); never NULL after
                                         config_load */
    int64_t busy_reply_threshold; /* ms a script runs before it is busy
                                     (lua-time-limit); script_lua.c */
    int64_t lua_memory_limit;     /* bytes per Lua state; 0 = no bound */
    bool lua_allow_undeclared_keys; /* scripts lock every shard (script_cmd.c) */
    bool move_clients;        /* yes: a client moves to the worker of the
                                 shard its commands keep using (conn_move) */
    /* client-output-buffer-limit, one entry per class (Redis's format:
     * "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60");
     * normal and pubsub apply (outbuf.c); replica is kept for later. */
    struct config_obuf_limit client_obuf[CONFIG_OBUF_NCLASS];
    unsigned tcp_backlog;     /* 511 */
    unsigned hz;              /* 10: cron frequency */
    bool protected_mode;      /* yes: without requirepass, only 127.0.0.1 and
                                 ::1 (and Unix socket clients) are served
                                 (worker.c, on_connection) */
    int enable_protected_configs; /* enum config_allow; start-up only */
    bool daemonize;           /* "no": fork into the background at start */
    char *pidfile;            /* NULL/empty = none (daemonized: the default) */
    char *unixsocket;         /* NULL/empty = no Unix socket */
    unsigned unixsocketperm;  /* mode bits for the socket file; 0 = umask */
    size_t hash_max_listpack_entries; /* 512: more fields make a hash table
                                 (alias hash-max-ziplist-entries) */
    size_t hash_max_listpack_value;   /* 64: a longer field or value makes a
                                 hash table (alias hash-max-ziplist-value) */
    size_t zset_max_listpack_entries; /* 128: more members make a sorted set's
                                 tree (alias zset-max-ziplist-entries) */
    size_t zset_max_listpack_value;   /* 64: a longer member makes one (alias
                                 zset-max-ziplist-value) */
    uint32_t notify_keyspace_events; /* NOTIFY_* classes (core/notify_classes.h);
                                 0 (""): no keyspace notifications */
    char *config_file;        /* path given by --config or as the first
                                 argument, NULL if none */
    char **warnings;          /* start-up warnings (directives accepted but
                                 ignored), one line each, for main() to log
                                 once the log is open; owned */
    size_t nwarnings;         /* entries in warnings */
};

struct tval_limits;

/* The typed values' encoding thresholds as cfg sets them (shard/tval.h).
 * Any thread. */
void config_tval_limits(const struct config *cfg, struct tval_limits *out);

/* Hand them to the shards (tval_limits_set): at load and after every
 * successful CONFIG SET, so the next write of a container uses them. */
void config_push_tval_limits(const struct config *cfg);

/* Fill cfg with defaults, then apply the config file named by --config or
 * by a first argument that is not a flag ("-" = standard input), then
 * SHARDKV_* environment variables, then argv flags. A file whose first
 * non-blank byte is '{' is JSON; anything else is Redis's redis.conf format
 * (config_redis.h), and flags take Redis's form too ("--save 900 1 --save
 * ''"). On error writes a one-line message to err (errlen bytes) and returns
 * -1; the caller prints it and exits with status 2. --help/--version return
 * 1 after printing. Directives accepted but ignored leave a line each in
 * cfg->warnings. */
int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Free the strings inside cfg. */
void config_deinit(struct config *cfg);

/* CONFIG GET: call fn(name, value) for every option whose name matches the
 * glob pattern (Redis stringmatch rules, case-insensitive). value is
 * formatted as Redis does (sizes in bytes, log level by name, "" for unset
 * strings). As in Redis 7.0, a pattern without glob characters reports the
 * name spelled as given ("TIMEOUT"). Also lists "save" ("") and "appendonly"
 * ("no"), which clients such as redis-benchmark read. Any thread; callers
 * hold the server's config read lock. */
void config_get(const struct config *cfg, const char *pattern,
                void (*fn)(void *arg, const char *name, const char *value), void *arg);

/* CONFIG SET one option. Returns 0, or -1 with a Redis-style error text in
 * err (e.g. "Unknown option or number of arguments for CONFIG SET - 'foo'"),
 * without the "ERR " prefix: the caller adds it.
 *
 * Threads: CONFIG SET runs on whichever worker owns the connection while the
 * others read cfg. Numeric options are stored with __atomic_store_n, so a
 * reader of a runtime-mutable option (maxclients, timeout, the size limits,
 * hz) must load it with __atomic_load_n(&cfg->field, __ATOMIC_RELAXED).
 * String options (requirepass, dir, dbfilename) are swapped the same way and
 * the old string is kept until config_deinit, so a pointer a reader loaded
 * stays valid. Immutable options (bind, port, threads, databases, logfile,
 * tcp-backlog) are never written after config_load. */
int config_set(struct config *cfg, const char *name, const char *value, char *err, size_t errlen);

/* CONFIG SET name value [name value ...] (Redis 7.0): every pair is checked
 * first (unknown name, immutable, bad value, duplicate name) and nothing is
 * applied unless all are valid. Returns 0 or -1 with err as config_set.
 * Trusted: may set protected options (dir, dbfilename), as config_set. */
int config_set_many(struct config *cfg, size_t n, const char *const *names,
                    const char *const *values, char *err, size_t errlen);

/* config_set_many for the CONFIG SET command of a client: a protected
 * option is refused with Redis's "can't set protected config" unless
 * enable-protected-configs is yes, or local and the client is local
 * (connected from 127.0.0.1 or ::1). */
int config_set_from_client(struct config *cfg, bool local, size_t n, const char *const *names,
                           const char *const *values, char *err, size_t errlen);

/* CONFIG GET pattern [pattern ...] (Redis 7.0): like config_get, but each
 * option is reported once even when several patterns match it. */
void config_get_many(const struct config *cfg, size_t npat, const char *const *patterns,
                     void (*fn)(void *arg, const char *name, const char *value), void *arg);

/* ---- For config_redis.c (start-up only, main thread) ------------------ */

/* Set option name from text, as a start-up source would (src names it in
 * the message: "flag --port"). Returns 0, or -1 with err set; an unknown
 * name is "<src>: unknown option '<name>' ...". */
int config_apply(struct config *cfg, const char *src, const char *name, const char *text,
                 char *err, size_t errlen);

/* True if name is an option of the table (case-insensitive). */
bool config_is_option(const char *name);

/* Add one line to cfg->warnings (printf format). Returns 0 or -1 (no memory). */
int config_add_warning(struct config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Read a whole config file (at most CONFIG_FILE_MAX bytes; path "-" reads
 * standard input). On success *text is a malloc'ed, NUL-terminated copy
 * of *len bytes. Returns 0, or -1 with "<src>: <why>" in err. */
int config_read_file(const char *path, const char *src, char **text, size_t *len, char *err,
                     size_t errlen);

/* A config file is small; 1 MiB is far beyond any real one (Debian's
 * redis.conf is about 100 KiB) and keeps a wrong path (say, a disk image)
 * from being read whole. */
#define CONFIG_FILE_MAX (1L << 20)

/* Parse a size with Redis's units (memtoll): "100", "1k" (1000), "1kb"
 * (1024), "m"/"mb", "g"/"gb", case-insensitive. Returns 0 or -1. */
int config_parse_size(const char *s, uint64_t *out);

#endif
