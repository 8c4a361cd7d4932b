/* config.c — the server's options: one X-macro table, parsed from defaults,
 * a JSON file, SHARDKV_* environment variables and flags (in that order, the
 * last one wins), and read/written at run time by CONFIG GET/SET. Loading
 * runs on the main thread; config_set on a worker (see config.h). */
#include "server/core/config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/core/config_redis.h"
#include "server/util/daemon.h" /* DAEMON_DEFAULT_PIDFILE */
#include "server/util/glob.h"
#include "server/util/log.h"
#include "server/core/notify_classes.h"
#include "server/core/server.h" /* SERVER_VERSION */
#include "shard/evict.h"
#include "shard/tval.h"

extern char **environ;

/* How a value is parsed, stored and printed. */
enum opt_kind {
    OPT_STR,      /* char *, strdup'ed; "" is stored as NULL for optional paths */
    OPT_INT,      /* int */
    OPT_LL,       /* int64_t; plain integer (Redis's long long options) */
    OPT_UINT,     /* unsigned */
    OPT_SIZE,     /* size_t in bytes; accepts Redis units (1k, 1kb, 1mb, 1gb) */
    OPT_COUNT,    /* size_t count; plain integer */
    OPT_LOGLEVEL, /* int; debug, verbose, notice, warning */
    OPT_BOOL,     /* bool; yes or no, as Redis spells them */
    OPT_DIR,      /* like OPT_STR; CONFIG SET also checks that it names a
                     directory, as Redis's chdir would (start-up checks are
                     persist_load's: a bad dir there is not a usage error) */
    OPT_FILENAME, /* as OPT_STR, but a name in dir: no '/' or '\\' (Redis) */
    OPT_ALLOW,    /* int, enum config_allow; no, yes or local */
    OPT_POLICY,   /* int, enum evict_policy; Redis's maxmemory-policy names */
    OPT_OCTAL,    /* unsigned; octal digits (file modes: unixsocketperm) */
    OPT_OBUF,     /* struct config_obuf_limit[CONFIG_OBUF_NCLASS]; Redis's
                     "<class> <hard> <soft> <seconds> ..." (obuf_parse) */
    OPT_NOTIFY,   /* uint32_t, NOTIFY_* classes (server/pubsub/notify.h); Redis's
                     letters ("KEA"), printed in Redis's order */
    OPT_PCTL,     /* struct config_pctl *; numbers split at every single
                     space, as Redis splits its multi-argument options */
};

/* The "mutable" column: 0 (false) start-up only, 1 (true) CONFIG SET, or
 * OPT_PROTECTED: CONFIG SET only where enable-protected-configs allows it.
 * Redis marks so the options that let a client write files where it
 * chooses (PROTECTED_CONFIG): with dir and dbfilename anyone who can run
 * CONFIG SET could make SAVE write ~/.ssh/authorized_keys. */
#define OPT_PROTECTED 2

/* X(name, field, kind, default, min, max, mutable at run time, help)
 * Defaults are strings parsed by the same code as every other source, so
 * --help shows exactly what a user could type. Limits are Redis's where
 * Redis has the option, relaxed at the bottom so tests can set tiny limits. */
#define CONFIG_OPTIONS(X)                                                                      \
    X("bind", bind, OPT_STR, "127.0.0.1", 0, 0, false,                                        \
      "IPv4/IPv6 address to listen on (0.0.0.0 for all interfaces)")                          \
    X("port", port, OPT_INT, "6379", 0, 65535, false, "TCP port; 0 = any free port")          \
    X("threads", threads, OPT_UINT, "0", 0, 1024, false,                                       \
      "worker threads = shards; 0 = one per online CPU")                                      \
    X("databases", databases, OPT_UINT, "16", 1, 1024, false,                                  \
      "number of databases (SELECT 0..n-1)")                                                  \
    X("maxclients", maxclients, OPT_UINT, "10000", 1, UINT32_MAX, true,                         \
      "most clients connected at once")                                                        \
    X("timeout", timeout, OPT_UINT, "0", 0, INT_MAX, true,                                     \
      "close a client idle this many seconds; 0 = never")                                     \
    X("requirepass", requirepass, OPT_STR, "", 0, 0, true,                                     \
      "password for AUTH; empty = no authentication")                                         \
    X("loglevel", loglevel, OPT_LOGLEVEL, "notice", 0, 0, true,                                \
      "debug, verbose, notice or warning")                                                    \
    X("logfile", logfile, OPT_STR, "", 0, 0, false, "log file; empty = standard error")        \
    X("dir", dir, OPT_DIR, "", 0, 0, OPT_PROTECTED, "data directory; empty = no persistence") \
    X("dbfilename", dbfilename, OPT_FILENAME, "dump.rdb", 0, 0, OPT_PROTECTED,                 \
      "snapshot file name in dir")                                                            \
    X("save", save, OPT_STR, "", 0, 0, true,                                                   \
      "save points: \"<seconds> <changes> ...\" (e.g. \"3600 1 300 100\"); empty = none")      \
    X("stop-writes-on-bgsave-error", stop_writes_on_bgsave_error, OPT_BOOL, "yes", 0, 0, true, \
      "refuse writes (-MISCONF) after a failed save while save points are set")              \
    X("rdbcompression", rdbcompression, OPT_BOOL, "yes", 0, 0, true,                           \
      "LZF-compress strings of more than 20 bytes in snapshots, as Redis does")              \
    X("rdb-skip-unknown-types", rdb_skip_unknown_types, OPT_STR, "no", 0, 0, false,            \
      "yes: skip zsets, streams and modules when loading an RDB file; no: refuse it")        \
    X("rdb-skip-non-string", rdb_skip_non_string, OPT_STR, "no", 0, 0, false,                  \
      "older name of rdb-skip-unknown-types")                                                 \
    X("proto-max-bulk-len", proto_max_bulk_len, OPT_SIZE, "512mb", 1, INT64_MAX, true,          \
      "longest bulk string a client may send")                                                \
    X("client-query-buffer-limit", client_query_buffer_limit, OPT_SIZE, "1gb", 1024,           \
      INT64_MAX, true, "most unparsed bytes buffered for one client")                         \
    X("max-inline", max_inline, OPT_SIZE, "64kb", 16, INT64_MAX, true,                         \
      "longest inline (non-RESP) command line")                                               \
    X("max-multibulk", max_multibulk, OPT_COUNT, "1048576", 1, INT32_MAX, true,                 \
      "most arguments in one command")                                                        \
    X("client-output-buffer-limit", client_obuf, OPT_OBUF,                                     \
      "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60", 0, 0, true,                     \
      "reply bytes a client may hold: <class> <hard> <soft> <soft-seconds> ...")             \
    X("tcp-backlog", tcp_backlog, OPT_UINT, "511", 1, INT_MAX, false, "listen(2) backlog")    \
    X("hz", hz, OPT_UINT, "10", 1, 500, true, "background tasks per second")                \
    X("protected-mode", protected_mode, OPT_BOOL, "yes", 0, 0, true,                           \
      "yes: without requirepass, refuse clients other than 127.0.0.1 and ::1")                \
    X("enable-protected-configs", enable_protected_configs, OPT_ALLOW, "no", 0, 0, false,      \
      "who may CONFIG SET dir and dbfilename: no, yes, or local (127.0.0.1, ::1)")            \
    X("daemonize", daemonize, OPT_BOOL, "no", 0, 1, false,                                     \
      "yes: fork into the background, detach, stdio to /dev/null")                            \
    X("pidfile", pidfile, OPT_STR, "", 0, 0, false,                                            \
      "write the pid here (daemonized: default " DAEMON_DEFAULT_PIDFILE ")")                  \
    X("unixsocket", unixsocket, OPT_STR, "", 0, 0, false,                                      \
      "also listen on this Unix socket path; empty = none")                                   \
    X("unixsocketperm", unixsocketperm, OPT_OCTAL, "0", 0, 0777, false,                        \
      "octal mode of the Unix socket (e.g. 700); 0 = leave it to the umask")                   \
    X("hash-max-listpack-entries", hash_max_listpack_entries, OPT_COUNT, "512", 0, INT64_MAX,  \
      true, "hashes with more fields become hash tables")                                      \
    X("hash-max-listpack-value", hash_max_listpack_value, OPT_SIZE, "64", 0, INT64_MAX, true,  \
      "hashes with a longer field or value become hash tables")                                \
    X("zset-max-listpack-entries", zset_max_listpack_entries, OPT_COUNT, "128", 0, INT64_MAX,  \
      true, "sorted sets with more members become skiplists (a B-tree here)")                  \
    X("zset-max-listpack-value", zset_max_listpack_value, OPT_SIZE, "64", 0, INT64_MAX, true,  \
      "sorted sets with a longer member become skiplists")                                     \
    X("set-max-intset-entries", set_max_intset_entries, OPT_COUNT, "512", 0, UINT32_MAX, true, \
      "a set of integers stays an intset up to this many members")                             \
    X("set-max-listpack-entries", set_max_listpack_entries, OPT_COUNT, "128", 0, UINT32_MAX,   \
      true, "a small set stays a listpack up to this many members")                            \
    X("set-max-listpack-value", set_max_listpack_value, OPT_COUNT, "64", 0, UINT32_MAX, true,  \
      "... and while every member is at most this many bytes")                                \
    X("list-compress-depth", list_compress_depth, OPT_INT, "0", 0, INT_MAX, true,              \
      "list nodes kept uncompressed at each end; 0 = compress none")                           \
    X("list-max-listpack-size", list_max_listpack_size, OPT_INT, "-2", INT_MIN, INT_MAX, true, \
      "list node size: -1..-5 = 4..64 KB, n > 0 = n elements")                                \
    X("maxmemory", maxmemory, OPT_SIZE, "0", 0, INT64_MAX, true,                               \
      "most bytes the server may hold (allocator total); 0 = no bound")                      \
    X("maxmemory-policy", maxmemory_policy, OPT_POLICY, "noeviction", 0, 0, true,              \
      "what to evict at maxmemory: noeviction, allkeys-lru/-lfu/-random, volatile-lru/-lfu/-random/-ttl") \
    X("maxmemory-samples", maxmemory_samples, OPT_COUNT, "5", 1, INT_MAX, true,                     \
      "keys sampled per shard database and eviction step")                                    \
    X("maxmemory-eviction-tenacity", maxmemory_eviction_tenacity, OPT_COUNT, "10", 0, 100,     \
      true, "time an eviction step may take: 10 = 500 us, 100 = unlimited")                 \
    X("lfu-log-factor", lfu_log_factor, OPT_COUNT, "10", 0, INT_MAX, true,                     \
      "how slowly the LFU counter grows")                                                     \
    X("lfu-decay-time", lfu_decay_time, OPT_COUNT, "1", 0, INT_MAX, true,                      \
      "minutes for the LFU counter to decay by one")                                          \
    X("notify-keyspace-events", notify_keyspace_events, OPT_NOTIFY, "", 0, 0, true,             \
      "keyspace notifications: classes of events published (\"KEA\": all; empty: none)")      \
    X("slowlog-log-slower-than", slowlog_log_slower_than, OPT_LL, "10000", -1, INT64_MAX, true, \
      "log commands that run at least this many microseconds; -1 = none, 0 = all")           \
    X("slowlog-max-len", slowlog_max_len, OPT_LL, "128", 0, INT64_MAX, true,                   \
      "entries the slow log keeps")                                                           \
    X("latency-monitor-threshold", latency_monitor_threshold, OPT_LL, "0", 0, INT64_MAX, true, \
      "record latency events of at least this many milliseconds (LATENCY); 0 = off")        \
    X("busy-reply-threshold", busy_reply_threshold, OPT_LL, "5000", 0, INT64_MAX, true,        \
      "ms a script runs before other clients get -BUSY and SCRIPT KILL may stop it; 0 = at once") \
    X("latency-tracking", latency_tracking, OPT_BOOL, "yes", 0, 0, true,                       \
      "per-command latency histograms (INFO latencystats, LATENCY HISTOGRAM)")                 \
    X("latency-tracking-info-percentiles", latency_tracking_info_percentiles, OPT_PCTL,         \
      "50 99 99.9", 0, 0, true, "percentiles INFO latencystats shows")                          \
    X("lua-memory-limit", lua_memory_limit, OPT_SIZE, "1gb", 0, INT64_MAX, true,               \
      "most bytes each worker's Lua state may allocate; 0 = no bound")                       \
    X("lua-allow-undeclared-keys", lua_allow_undeclared_keys, OPT_BOOL, "no", 0, 0, true,      \
      "yes: scripts may touch keys they did not declare, and run with every shard locked") \
    X("move-clients", move_clients, OPT_BOOL, "yes", 0, 0, true,                               \
      "move a client whose commands keep using one other shard to that shard's worker")

struct opt {
    const char *name;   /* option name as in CONFIG GET and the JSON file */
    size_t off;         /* offset of the field in struct config */
    enum opt_kind kind; /* how the value is parsed and printed */
    const char *def;    /* default, as text */
    int64_t min, max;   /* accepted range for numeric kinds */
    int mutable_;       /* CONFIG SET allowed after start-up: false, true
                           or OPT_PROTECTED */
    const char *help;   /* one line for --help */
};

#define OPT_ROW(n, f, k, d, lo, hi, m, h) {n, offsetof(struct config, f), k, d, lo, hi, m, h},
static const struct opt opts[] = {CONFIG_OPTIONS(OPT_ROW)};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* Redis 7.0's other names for options (its "alias" configs): accepted
 * everywhere the option is, and listed by CONFIG GET under their own name,
 * as Redis lists both. */
static const struct {
    const char *alias; /* the old name */
    const char *name;  /* the option in opts[] */
} aliases[] = {
    {"hash-max-ziplist-entries", "hash-max-listpack-entries"},
    {"hash-max-ziplist-value", "hash-max-listpack-value"},
    {"list-max-ziplist-size", "list-max-listpack-size"},
    {"zset-max-ziplist-entries", "zset-max-listpack-entries"},
    {"zset-max-ziplist-value", "zset-max-listpack-value"},
    {"lua-time-limit", "busy-reply-threshold"},
};
#define NALIASES (sizeof(aliases) / sizeof(aliases[0]))

/* Options Redis has that shardkv answers with a fixed value, because
 * clients read them: redis-benchmark fetches "appendonly" at start-up and
 * warns if it cannot. shardkv has no append-only file ("save" is a real
 * option, in the table above). */
static const struct {
    const char *name;  /* CONFIG GET name */
    const char *value; /* the only value it has */
} fixed_opts[] = {{"appendonly", "no"}};
#define NFIXED (sizeof(fixed_opts) / sizeof(fixed_opts[0]))

/* Strings and percentile lists replaced by CONFIG SET while other threads
 * may hold the old pointer: kept until config_deinit (one entry per CONFIG
 * SET of such an option). */
struct retired {
    void *s;              /* the old value (one malloc block) */
    struct retired *next; /* older entries */
};
static struct retired *retired_list; /* guarded by retired_lock */
static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;

/* A parsed value, before it is stored. */
union opt_val {
    int64_t i;   /* numeric kinds, the log level, OPT_BOOL and OPT_ALLOW */
    char *s;     /* OPT_STR, OPT_FILENAME: owned copy, NULL for "" */
    struct config_pctl *pctl; /* OPT_PCTL: owned */
    struct {
        unsigned set;                                   /* bit c: class c given */
        struct config_obuf_limit lim[CONFIG_OBUF_NCLASS]; /* values of those */
    } obuf;      /* OPT_OBUF: classes not given keep their values */
};

/* OPT_ALLOW's names, indexed by enum config_allow. */
static const char *const allow_names[] = {"no", "yes", "local"};

static const struct opt *opt_find_exact(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcasecmp(opts[i].name, name) == 0)
            return &opts[i];
    return NULL;
}

/* The option called name or one of its aliases; *shown (if not NULL) gets
 * the name to quote in errors: the alias when that was used, as Redis. */
static const struct opt *opt_find_as(const char *name, const char **shown)
{
    const struct opt *o = opt_find_exact(name);
    if (o != NULL) {
        if (shown)
            *shown = o->name;
        return o;
    }
    for (size_t i = 0; i < NALIASES; i++)
        if (strcasecmp(aliases[i].alias, name) == 0) {
            if (shown)
                *shown = aliases[i].alias;
            return opt_find_exact(aliases[i].name);
        }
    return NULL;
}

static const struct opt *opt_find(const char *name)
{
    return opt_find_as(name, NULL);
}

static int fixed_find(const char *name)
{
    for (size_t i = 0; i < NFIXED; i++)
        if (strcasecmp(fixed_opts[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Strict integer: optional '-', digits only, within int64. */
static int parse_ll(const char *s, int64_t *out)
{
    if (*s == '\0' || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
    /* Digits, then an optional unit; no sign, no spaces. */
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p))
        p++;
    uint64_t mul;
    if (*p == '\0' || strcasecmp(p, "b") == 0)
        mul = 1;
    else if (strcasecmp(p, "k") == 0)
        mul = 1000;
    else if (strcasecmp(p, "kb") == 0)
        mul = 1024;
    else if (strcasecmp(p, "m") == 0)
        mul = 1000ULL * 1000;
    else if (strcasecmp(p, "mb") == 0)
        mul = 1024ULL * 1024;
    else if (strcasecmp(p, "g") == 0)
        mul = 1000ULL * 1000 * 1000;
    else if (strcasecmp(p, "gb") == 0)
        mul = 1024ULL * 1024 * 1024;
    else
        return -1;
    uint64_t v = 0;
    for (const char *q = s; q < p; q++) {
        unsigned d = (unsigned)(*q - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (mul != 1 && v > UINT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

/* Redis 7.0's memtoull, quirks included, so CONFIG SET accepts exactly
 * what redis-server does: digits (none is 0) and an optional unit, no sign;
 * too many digits saturate and the unit's product wraps. */
static int obuf_size(const char *p, uint64_t *out)
{
    const char *u = p;
    while (isdigit((unsigned char)*u))
        u++;
    uint64_t mul;
    if (*u == '\0' || strcasecmp(u, "b") == 0)
        mul = 1;
    else if (strcasecmp(u, "k") == 0)
        mul = 1000;
    else if (strcasecmp(u, "kb") == 0)
        mul = 1024;
    else if (strcasecmp(u, "m") == 0)
        mul = 1000ULL * 1000;
    else if (strcasecmp(u, "mb") == 0)
        mul = 1024ULL * 1024;
    else if (strcasecmp(u, "g") == 0)
        mul = 1000ULL * 1000 * 1000;
    else if (strcasecmp(u, "gb") == 0)
        mul = 1024ULL * 1024 * 1024;
    else
        return -1;
    uint64_t v = 0;
    for (const char *q = p; q < u; q++) {
        unsigned d = (unsigned)(*q - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    if (u - p >= 128)
        return -1; /* Redis copies the digits into a 128-byte buffer */
    *out = v * mul;
    return 0;
}

/* Parse client-output-buffer-limit as Redis 7.0 does: the text split at
 * every single space (so "" sets nothing and a doubled space is an empty
 * word), then groups of "<class> <hard> <soft> <soft-seconds>". Every
 * group is checked before any is taken. Returns 0 or -1 with Redis's
 * message in err. */
static int obuf_parse(const char *text, union opt_val *v, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        enum config_obuf_class cls;
    } names[] = {{"normal", CONFIG_OBUF_NORMAL},
                 {"replica", CONFIG_OBUF_REPLICA},
                 {"slave", CONFIG_OBUF_REPLICA},
                 {"pubsub", CONFIG_OBUF_PUBSUB}};
    memset(&v->obuf, 0, sizeof v->obuf);
    if (text[0] == '\0')
        return 0;
    size_t nwords = 1;
    for (const char *p = text; *p; p++)
        nwords += *p == ' ';
    if (nwords % 4 != 0) {
        snprintf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
        return -1;
    }
    const char *p = text;
    char word[4][160];
    for (size_t g = 0; g < nwords / 4; g++) {
        for (int k = 0; k < 4; k++) {
            size_t n = strcspn(p, " ");
            /* A longer word is wrong anyway: cut, it still fails below. */
            size_t keep = n < sizeof word[k] - 1 ? n : sizeof word[k] - 1;
            memcpy(word[k], p, keep);
            word[k][keep] = '\0';
            p += n + (p[n] == ' ');
        }
        int cls = -1;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcasecmp(word[0], names[i].name) == 0)
                cls = (int)names[i].cls;
        if (cls < 0) {
            snprintf(err, errlen, "Invalid client class specified in buffer limit configuration.");
            return -1;
        }
        struct config_obuf_limit lim;
        char *end;
        errno = 0;
        long long secs = strtoll(word[3], &end, 10);
        if (obuf_size(word[1], &lim.hard) != 0 || obuf_size(word[2], &lim.soft) != 0 ||
            *end != '\0' || secs < 0 || secs > INT_MAX) {
            snprintf(err, errlen,
                     "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
            return -1;
        }
        lim.soft_seconds = secs;
        v->obuf.lim[cls] = lim;
        v->obuf.set |= 1u << cls;
    }
    return 0;
}

/* Redis's string2d on s[0..n), which a space or the string's end follows
 * (strtod stops there): a whole double, no leading space, not NaN, not an
 * overflow or an underflow to zero. */
static bool parse_double(const char *s, size_t n, double *out)
{
    if (n == 0 || isspace((unsigned char)s[0]))
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if ((size_t)(end - s) != n || isnan(v) ||
        (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0.0)))
        return false;
    *out = v;
    return true;
}

/* latency-tracking-info-percentiles as Redis 7.0's CONFIG SET takes it:
 * split at every single space (so a doubled space is an empty, invalid
 * value), each checked in turn; "" is the empty list. */
static int pctl_parse(const char *text, union opt_val *v, char *err, size_t errlen)
{
    size_t n = text[0] ? 1 : 0;
    for (const char *p = text; *p; p++)
        n += *p == ' ';
    if (n > CONFIG_PCTL_MAX) {
        snprintf(err, errlen, "latency-tracking-info-percentiles takes at most %d values",
                 CONFIG_PCTL_MAX);
        return -1;
    }
    struct config_pctl *l = malloc(sizeof *l + (n ? n : 1) * sizeof l->v[0]);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    l->n = n;
    const char *p = text;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(p, " ");
        if (!parse_double(p, len, &l->v[i])) {
            snprintf(err, errlen, "Invalid latency-tracking-info-percentiles parameters");
            free(l);
            return -1;
        }
        if (l->v[i] > 100.0 || l->v[i] < 0.0) {
            snprintf(err, errlen, "latency-tracking-info-percentiles parameters should sit "
                                  "between [0.0,100.0]");
            free(l);
            return -1;
        }
        p += len + (p[len] == ' ');
    }
    v->pctl = l;
    return 0;
}

size_t config_pctl_name(double p, char *buf)
{
    /* Redis's sprintf("%f") and trimDoubleString; 64 bytes hold any value
     * in [0, 100] ("%f" of 1e308 would not fit, but none is stored). */
    int n = snprintf(buf, 64, "%f", p);
    size_t len = n < 0 ? 0 : (size_t)n >= 64 ? 63 : (size_t)n;
    if (memchr(buf, '.', len)) {
        while (len > 0 && buf[len - 1] == '0')
            len--;
        if (len > 0 && buf[len - 1] == '.')
            len--;
    }
    buf[len] = '\0';
    return len;
}

/* Parse text for o into *v. On error writes Redis's wording ("argument
 * must be ...") to err and returns -1. */
static int opt_parse(const struct opt *o, const char *text, union opt_val *v, char *err,
                     size_t errlen)
{
    v->i = 0; /* every kind sets it; GCC -O3 cannot always see that */
    switch (o->kind) {
    case OPT_FILENAME:
        if (strpbrk(text, "/\\") != NULL) {
            snprintf(err, errlen, "%s can't be a path, just a filename", o->name);
            return -1;
        }
        /* fall through */
    case OPT_STR:
    case OPT_DIR:
        v->s = NULL;
        if (text[0] != '\0') {
            v->s = strdup(text);
            if (v->s == NULL) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
        return 0;
    case OPT_OBUF:
        return obuf_parse(text, v, err, errlen);
    case OPT_PCTL:
        return pctl_parse(text, v, err, errlen);
    case OPT_NOTIFY: {
        uint32_t f;
        if (notify_parse(text, strlen(text), &f) != 0) {
            snprintf(err, errlen, "%s", NOTIFY_EINVAL_TEXT);
            return -1;
        }
        v->i = f;
        return 0;
    }
    case OPT_LOGLEVEL: {
        int l = log_level_parse(text);
        if (l < 0) {
            snprintf(err, errlen,
                     "argument(s) must be one of the following: debug, verbose, notice, warning");
            return -1;
        }
        v->i = l;
        return 0;
    }
    case OPT_BOOL:
        if (strcasecmp(text, "yes") != 0 && strcasecmp(text, "no") != 0) {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        v->i = strcasecmp(text, "yes") == 0;
        return 0;
    case OPT_POLICY: {
        int p = evict_policy_parse(text, strlen(text));
        if (p < 0) {
            snprintf(err, errlen, "argument(s) must be one of the following: volatile-lru, "
                                  "volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, "
                                  "allkeys-lfu, allkeys-random, noeviction");
            return -1;
        }
        v->i = p;
        return 0;
    }
    case OPT_ALLOW:
        for (size_t i = 0; i < sizeof allow_names / sizeof allow_names[0]; i++)
            if (strcasecmp(text, allow_names[i]) == 0) {
                v->i = (int64_t)i;
                return 0;
            }
        snprintf(err, errlen, "argument(s) must be one of the following: no, yes, local");
        return -1;
    case OPT_OCTAL: {
        char *end;
        errno = 0;
        long l = strtol(text, &end, 8);
        if (text[0] < '0' || text[0] > '7' || *end != '\0' || errno != 0) {
            snprintf(err, errlen, "argument couldn't be parsed into an integer");
            return -1;
        }
        v->i = l;
        break;
    }
    case OPT_SIZE: {
        uint64_t u;
        if (config_parse_size(text, &u) != 0) {
            snprintf(err, errlen, "argument must be a memory value");
            return -1;
        }
        if (u > INT64_MAX) {
            /* Redis parses it (an unsigned long long) and then finds it
             * out of the option's range. */
            snprintf(err, errlen, "argument must be between %" PRId64 " and %" PRId64
                     " inclusive", o->min, o->max);
            return -1;
        }
        v->i = (int64_t)u;
        break;
    }
    case OPT_INT:
    case OPT_LL:
    case OPT_UINT:
    case OPT_COUNT:
        if (parse_ll(text, &v->i) != 0) {
            snprintf(err, errlen, "argument couldn't be parsed into an integer");
            return -1;
        }
        break;
    }
    if (v->i < o->min || v->i > o->max) {
        snprintf(err, errlen, "argument must be between %" PRId64 " and %" PRId64 " inclusive",
                 o->min, o->max);
        return -1;
    }
    return 0;
}

static bool opt_is_str(const struct opt *o)
{
    return o->kind == OPT_STR || o->kind == OPT_DIR || o->kind == OPT_FILENAME;
}

static void opt_free_val(const struct opt *o, union opt_val *v)
{
    if (opt_is_str(o))
        free(v->s);
    else if (o->kind == OPT_PCTL)
        free(v->pctl);
}

/* Keep old, a value other threads may still read, until config_deinit.
 * Without memory for the list entry it leaks: a reader may still hold
 * it, so freeing it is not an option. */
static void retire(void *old)
{
    struct retired *r = malloc(sizeof(*r));
    pthread_mutex_lock(&retired_lock);
    if (r != NULL) {
        r->s = old;
        r->next = retired_list;
        retired_list = r;
    }
    pthread_mutex_unlock(&retired_lock);
}

/* CONFIG SET's extra check of a value that parsed: a new dir must be a
 * directory we can enter, or Redis's error (strerror of its chdir) is
 * written to err and -1 returned. An empty dir turns persistence off. */
static int opt_check_live(const struct opt *o, const union opt_val *v, char *err, size_t errlen)
{
    if (o->kind != OPT_DIR || v->s == NULL)
        return 0;
    struct stat sb;
    int e = 0;
    if (stat(v->s, &sb) != 0)
        e = errno;
    else if (!S_ISDIR(sb.st_mode))
        e = ENOTDIR;
    else if (access(v->s, X_OK) != 0)
        e = errno;
    if (e == 0)
        return 0;
    snprintf(err, errlen, "%s", strerror(e));
    return -1;
}

/* Store a parsed value (takes ownership of a string). live: other threads
 * may be reading cfg, so stores are atomic and old strings are retired. */
static void opt_store(struct config *cfg, const struct opt *o, union opt_val *v, bool live)
{
    char *base = (char *)cfg + o->off;
    switch (o->kind) {
    case OPT_STR:
    case OPT_DIR:
    case OPT_FILENAME: {
        char **field = (char **)(void *)base;
        char *old = __atomic_exchange_n(field, v->s, __ATOMIC_ACQ_REL);
        if (old != NULL && live)
            retire(old);
        else
            free(old);
        break;
    }
    case OPT_PCTL: {
        struct config_pctl **field = (struct config_pctl **)(void *)base;
        struct config_pctl *old = __atomic_exchange_n(field, v->pctl, __ATOMIC_ACQ_REL);
        if (old != NULL && live)
            retire(old);
        else
            free(old);
        v->pctl = NULL;
        return;
    }
    case OPT_BOOL:
        __atomic_store_n((bool *)(void *)base, v->i != 0, __ATOMIC_RELAXED);
        break;
    case OPT_INT:
    case OPT_LOGLEVEL:
    case OPT_ALLOW:
    case OPT_POLICY:
        __atomic_store_n((int *)(void *)base, (int)v->i, __ATOMIC_RELAXED);
        if (o->kind == OPT_LOGLEVEL && live)
            log_set_level((int)v->i);
        break;
    case OPT_UINT:
    case OPT_OCTAL:
        __atomic_store_n((unsigned *)(void *)base, (unsigned)v->i, __ATOMIC_RELAXED);
        break;
    case OPT_LL:
        __atomic_store_n((int64_t *)(void *)base, v->i, __ATOMIC_RELAXED);
        break;
    case OPT_NOTIFY:
        __atomic_store_n((uint32_t *)(void *)base, (uint32_t)v->i, __ATOMIC_RELAXED);
        /* At start-up the server puts it in force once loading is done. */
        if (live)
            notify_set((uint32_t)v->i);
        break;
    case OPT_SIZE:
    case OPT_COUNT:
        __atomic_store_n((size_t *)(void *)base, (size_t)v->i, __ATOMIC_RELAXED);
        break;
    case OPT_OBUF: {
        /* Field by field: a reader may see a class half updated for a
         * moment, which only mixes two limits the user asked for. */
        struct config_obuf_limit *lim = (struct config_obuf_limit *)(void *)base;
        for (int c = 0; c < CONFIG_OBUF_NCLASS; c++) {
            if (!(v->obuf.set & (1u << c)))
                continue;
            __atomic_store_n(&lim[c].hard, v->obuf.lim[c].hard, __ATOMIC_RELAXED);
            __atomic_store_n(&lim[c].soft, v->obuf.lim[c].soft, __ATOMIC_RELAXED);
            __atomic_store_n(&lim[c].soft_seconds, v->obuf.lim[c].soft_seconds,
                             __ATOMIC_RELAXED);
        }
        return;
    }
    }
    v->s = NULL;
}

/* Format o's current value the way Redis's CONFIG GET does. */
static void opt_format(const struct config *cfg, const struct opt *o, char *buf, size_t len)
{
    const char *base = (const char *)cfg + o->off;
    switch (o->kind) {
    case OPT_STR:
    case OPT_DIR:
    case OPT_FILENAME: {
        const char *s = __atomic_load_n((char *const *)(const void *)base, __ATOMIC_ACQUIRE);
        snprintf(buf, len, "%s", s ? s : "");
        break;
    }
    case OPT_INT:
        snprintf(buf, len, "%d", __atomic_load_n((const int *)(const void *)base, __ATOMIC_RELAXED));
        break;
    case OPT_LL:
        snprintf(buf, len, "%" PRId64,
                 __atomic_load_n((const int64_t *)(const void *)base, __ATOMIC_RELAXED));
        break;
    case OPT_LOGLEVEL:
        snprintf(buf, len, "%s",
                 log_level_name(__atomic_load_n((const int *)(const void *)base, __ATOMIC_RELAXED)));
        break;
    case OPT_UINT:
        snprintf(buf, len, "%u",
                 __atomic_load_n((const unsigned *)(const void *)base, __ATOMIC_RELAXED));
        break;
    case OPT_BOOL:
        snprintf(buf, len, "%s",
                 __atomic_load_n((const bool *)(const void *)base, __ATOMIC_RELAXED) ? "yes"
                                                                                     : "no");
        break;
    case OPT_ALLOW: {
        int a = __atomic_load_n((const int *)(const void *)base, __ATOMIC_RELAXED);
        snprintf(buf, len, "%s", allow_names[a]);
        break;
    }
    case OPT_PCTL: {
        const struct config_pctl *l =
            __atomic_load_n((struct config_pctl *const *)(const void *)base, __ATOMIC_ACQUIRE);
        size_t at = 0;
        buf[0] = '\0';
        for (size_t i = 0; l && i < l->n; i++) {
            char name[64];
            config_pctl_name(l->v[i], name);
            int n = snprintf(buf + at, len - at, "%s%s", i ? " " : "", name);
            if (n < 0 || (size_t)n >= len - at)
                break; /* (CONFIG_PCTL_MAX values fit in CONFIG GET's buffer) */
            at += (size_t)n;
        }
        break;
    }
    case OPT_NOTIFY: {
        char f[16];
        snprintf(buf, len, "%s",
                 notify_format(__atomic_load_n((const uint32_t *)(const void *)base,
                                               __ATOMIC_RELAXED),
                               f));
        break;
    }
    case OPT_POLICY:
        snprintf(buf, len, "%s",
                 evict_policy_name(__atomic_load_n((const int *)(const void *)base,
                                                   __ATOMIC_RELAXED)));
        break;
    case OPT_OCTAL: /* Redis prints file modes in octal: "700" */
        snprintf(buf, len, "%o",
                 __atomic_load_n((const unsigned *)(const void *)base, __ATOMIC_RELAXED));
        break;
    case OPT_SIZE:
    case OPT_COUNT:
        snprintf(buf, len, "%zu",
                 __atomic_load_n((const size_t *)(const void *)base, __ATOMIC_RELAXED));
        break;
    case OPT_OBUF: {
        static const char *const cls[CONFIG_OBUF_NCLASS] = {"normal", "slave", "pubsub"};
        const struct config_obuf_limit *lim = (const struct config_obuf_limit *)(const void *)base;
        size_t at = 0;
        buf[0] = '\0';
        for (int c = 0; c < CONFIG_OBUF_NCLASS && at < len; c++) {
            int n = snprintf(buf + at, len - at, "%s%s %" PRIu64 " %" PRIu64 " %" PRId64,
                             c ? " " : "", cls[c], __atomic_load_n(&lim[c].hard, __ATOMIC_RELAXED),
                             __atomic_load_n(&lim[c].soft, __ATOMIC_RELAXED),
                             __atomic_load_n(&lim[c].soft_seconds, __ATOMIC_RELAXED));
            if (n < 0)
                break;
            at += (size_t)n;
        }
        break;
    }
    }
}

int config_apply(struct config *cfg, const char *src, const char *name, const char *text,
                 char *err, size_t errlen)
{
    const struct opt *o = opt_find(name);
    if (o == NULL) {
        snprintf(err, errlen, "%s: unknown option '%s' (see --help)", src, name);
        return -1;
    }
    union opt_val v;
    char why[160];
    if (opt_parse(o, text, &v, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: invalid value '%s' for option '%s': %s", src, text, o->name,
                 why);
        return -1;
    }
    opt_store(cfg, o, &v, false);
    return 0;
}

bool config_is_option(const char *name)
{
    return opt_find(name) != NULL;
}

int config_add_warning(struct config *cfg, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    char **w = realloc(cfg->warnings, sizeof(*w) * (cfg->nwarnings + 1));
    if (w == NULL)
        return -1;
    cfg->warnings = w;
    w[cfg->nwarnings] = strdup(line);
    if (w[cfg->nwarnings] == NULL)
        return -1;
    cfg->nwarnings++;
    return 0;
}

int config_read_file(const char *path, const char *src, char **textp, size_t *lenp, char *err,
                     size_t errlen)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", src, strerror(errno));
        return -1;
    }
    char *text = malloc((size_t)CONFIG_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, (size_t)CONFIG_FILE_MAX + 1, f) : 0;
    int rerr = ferror(f);
    if (!is_stdin)
        fclose(f);
    if (text == NULL || rerr) {
        free(text);
        snprintf(err, errlen, "%s: %s", src, text ? "read error" : "out of memory");
        return -1;
    }
    if (n > (size_t)CONFIG_FILE_MAX) {
        free(text);
        snprintf(err, errlen, "%s: larger than %ld bytes", src, CONFIG_FILE_MAX);
        return -1;
    }
    text[n] = '\0';
    *textp = text;
    *lenp = n;
    return 0;
}

/* Load a config file: JSON if its first non-blank byte is '{' (or '[', so
 * a JSON array gets JSON's error), otherwise Redis's format. */
static int load_file(struct config *cfg, struct config_redis_ctx *ctx, const char *path,
                     char *err, size_t errlen)
{
    char src[512];
    snprintf(src, sizeof(src), "config file '%s'", path);
    char *text;
    size_t n;
    if (config_read_file(path, src, &text, &n, err, errlen) != 0)
        return -1;
    size_t first = 0;
    while (first < n && isspace((unsigned char)text[first]))
        first++;
    if (first == n || (text[first] != '{' && text[first] != '[')) {
        /* Redis's own defaults apply to a redis.conf: without a "save"
         * line it saves every hour after one change, and so on. */
        int rc = config_apply(cfg, src, "save", CONFIG_REDIS_DEFAULT_SAVE, err, errlen);
        if (rc == 0)
            rc = config_redis_load_text(cfg, ctx, path, text, n, err, errlen);
        free(text);
        return rc;
    }
    cJSON *root = cJSON_ParseWithLength(text, n);
    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= text && at <= text + n ? (long)(at - text) : -1;
        snprintf(err, errlen, "%s: invalid JSON near byte %ld", src, off);
        free(text);
        return -1;
    }
    free(text);
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "%s: expected a JSON object of \"option\": value", src);
        rc = -1;
    }
    for (cJSON *it = root->child; rc == 0 && it != NULL; it = it->next) {
        char num[64];
        const char *val;
        if (cJSON_IsString(it)) {
            val = it->valuestring;
        } else if (cJSON_IsNumber(it)) {
            double d = it->valuedouble;
            if (d != (double)(long long)d) {
                snprintf(err, errlen, "%s: option '%s' must be an integer", src, it->string);
                rc = -1;
                break;
            }
            snprintf(num, sizeof(num), "%lld", (long long)d);
            val = num;
        } else if (cJSON_IsBool(it)) {
            val = cJSON_IsTrue(it) ? "yes" : "no";
        } else {
            snprintf(err, errlen, "%s: option '%s' must be a string or a number", src,
                     it->string ? it->string : "?");
            rc = -1;
            break;
        }
        if (strcmp(it->string, "config") == 0) {
            snprintf(err, errlen, "%s: 'config' cannot be set from a config file", src);
            rc = -1;
            break;
        }
        rc = config_apply(cfg, src, it->string, val, err, errlen);
    }
    cJSON_Delete(root);
    return rc;
}

/* Environment variables the scripts and tests use that are not options. */
static const char *const env_not_options[] = {"SHARDKV_BIN", "SHARDKV_CONFIG"};

static int load_env(struct config *cfg, char *err, size_t errlen)
{
    const size_t plen = strlen("SHARDKV_");
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, "SHARDKV_", plen) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;
        size_t vlen = (size_t)(eq - *e);
        bool skip = false;
        for (size_t i = 0; i < sizeof(env_not_options) / sizeof(env_not_options[0]); i++)
            if (strlen(env_not_options[i]) == vlen && strncmp(*e, env_not_options[i], vlen) == 0)
                skip = true;
        if (skip)
            continue;
        char var[128], name[128], src[160];
        if (vlen >= sizeof(var)) {
            snprintf(err, errlen, "environment: variable name too long: %.60s...", *e);
            return -1;
        }
        memcpy(var, *e, vlen);
        var[vlen] = '\0';
        /* SHARDKV_CLIENT_QUERY_BUFFER_LIMIT -> client-query-buffer-limit */
        size_t i;
        for (i = 0; var[plen + i] != '\0'; i++) {
            char c = var[plen + i];
            name[i] = c == '_' ? '-' : (char)tolower((unsigned char)c);
        }
        name[i] = '\0';
        snprintf(src, sizeof(src), "environment %s", var);
        if (config_apply(cfg, src, name, eq + 1, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static void print_help(const char *prog)
{
    printf("Usage: %s [FILE | -] [--config FILE] [--OPTION VALUE... | --OPTION=VALUE ...]\n"
           "       %s --help | --version\n\n"
           "Options are read from defaults, then the config file (JSON if it starts with\n"
           "'{', otherwise Redis's redis.conf format; '-' reads standard input), then\n"
           "SHARDKV_<OPTION> environment variables (upper case, '-' as '_'), then flags;\n"
           "the last wins. Flags take Redis's form: --save 900 1 --save 300 10, --save \"\".\n"
           "Redis directives that have no meaning here are accepted with a warning.\n"
           "Sizes accept Redis units: 1k=1000, 1kb=1024, m/mb, g/gb.\n\n",
           prog, prog);
    printf("  %-28s %-10s %-9s %s\n", "option", "default", "runtime", "description");
    for (size_t i = 0; i < NOPTS; i++)
        printf("  %-28s %-10s %-9s %s\n", opts[i].name,
               opts[i].def[0] ? opts[i].def : "\"\"",
               opts[i].mutable_ == OPT_PROTECTED ? "protected" : opts[i].mutable_ ? "yes" : "no",
               opts[i].help);
    printf("  %-28s %-10s %-9s %s\n", "config", "\"\"", "no",
           "config file (first argument, flag --config or SHARDKV_CONFIG)");
    printf("  %-28s %-10s %-9s %s\n", "include", "", "no",
           "read another Redis-format file here (globs allowed)");
}

/* The limits hold 32 bits; Redis's own range for the hash thresholds is
 * larger, and a threshold no hash can reach means the same. */
static uint32_t limit32(size_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void config_tval_limits(const struct config *cfg, struct tval_limits *out)
{
    tval_limits_get(out); /* thresholds without an option keep theirs */
    out->hash_max_listpack_entries =
        limit32(__atomic_load_n(&cfg->hash_max_listpack_entries, __ATOMIC_RELAXED));
    out->hash_max_listpack_value =
        limit32(__atomic_load_n(&cfg->hash_max_listpack_value, __ATOMIC_RELAXED));
    out->zset_max_listpack_entries =
        limit32(__atomic_load_n(&cfg->zset_max_listpack_entries, __ATOMIC_RELAXED));
    out->zset_max_listpack_value =
        limit32(__atomic_load_n(&cfg->zset_max_listpack_value, __ATOMIC_RELAXED));
    out->set_max_intset_entries =
        (uint32_t)__atomic_load_n(&cfg->set_max_intset_entries, __ATOMIC_RELAXED);
    out->set_max_listpack_entries =
        (uint32_t)__atomic_load_n(&cfg->set_max_listpack_entries, __ATOMIC_RELAXED);
    out->set_max_listpack_value =
        (uint32_t)__atomic_load_n(&cfg->set_max_listpack_value, __ATOMIC_RELAXED);
    out->list_max_listpack_size = __atomic_load_n(&cfg->list_max_listpack_size, __ATOMIC_RELAXED);
    out->list_compress_depth = __atomic_load_n(&cfg->list_compress_depth, __ATOMIC_RELAXED);
}

void config_push_tval_limits(const struct config *cfg)
{
    struct tval_limits lim;
    config_tval_limits(cfg, &lim);
    tval_limits_set(&lim);
}

int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NOPTS; i++) {
        union opt_val v;
        char why[160];
        int rc = opt_parse(&opts[i], opts[i].def, &v, why, sizeof(why));
        if (rc != 0) {
            snprintf(err, errlen, "default of '%s': %s", opts[i].name, why);
            return -1;
        }
        opt_store(cfg, &opts[i], &v, false);
    }

    /* Pass 1: --help, --version and the config file's path: --config, or
     * the first argument when it is not a flag (redis-server's form); "-"
     * first or last reads the file from standard input, as Redis does. */
    const char *path = getenv("SHARDKV_CONFIG");
    int first = 1;
    if (argc > 1 && argv[1][0] != '-') {
        path = argv[1];
        first = 2;
    }
    bool stdin_first = argc > 1 && strcmp(argv[1], "-") == 0;
    bool stdin_last = argc > 2 && strcmp(argv[argc - 1], "-") == 0;
    if (stdin_first) {
        path = "-";
        first = 2;
    }
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(argv[0]);
            return 1;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
            printf("shardkv-server v%s\n", SERVER_VERSION);
            return 1;
        }
        if (strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "flag --config: missing value");
                return -1;
            }
            path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            path = a + 9;
        }
    }
    struct config_redis_ctx ctx = {0};
    ctx.allow_include = true;
    if (path != NULL && path[0] != '\0') {
        cfg->config_file = strdup(path);
        if (cfg->config_file == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (load_file(cfg, &ctx, path, err, errlen) != 0)
            return -1;
    }
    if (stdin_last && !stdin_first && load_file(cfg, &ctx, "-", err, errlen) != 0)
        return -1;
    if (load_env(cfg, err, errlen) != 0)
        return -1;

    /* Pass 2: every other flag, in order. */
    int end = stdin_last ? argc - 1 : argc;
    for (int i = first; i < end; i++) {
        if (!config_redis_is_flag(argv[i])) {
            snprintf(err, errlen,
                     "unexpected argument '%s' (options are --name value; a config file "
                     "goes first)",
                     argv[i]);
            return -1;
        }
        if (config_redis_flag(cfg, &ctx, end, argv, &i, err, errlen) != 0)
            return -1;
    }
    config_push_tval_limits(cfg);
    return 0;
}



void config_deinit(struct config *cfg)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (opt_is_str(&opts[i]) || opts[i].kind == OPT_PCTL) {
            void **field = (void **)(void *)((char *)cfg + opts[i].off);
            free(*field);
            *field = NULL;
        }
    free(cfg->config_file);
    cfg->config_file = NULL;
    for (size_t i = 0; i < cfg->nwarnings; i++)
        free(cfg->warnings[i]);
    free(cfg->warnings);
    cfg->warnings = NULL;
    cfg->nwarnings = 0;
    pthread_mutex_lock(&retired_lock);
    while (retired_list != NULL) {
        struct retired *r = retired_list;
        retired_list = r->next;
        free(r->s);
        free(r);
    }
    pthread_mutex_unlock(&retired_lock);
}

/* The pattern that selects name, or NULL. Redis 7.0 answers a pattern
 * without glob characters with the name spelled as the client sent it
 * ("CONFIG GET TIMEOUT" -> "TIMEOUT"), so the caller reports that. */
static const char *first_match(size_t npat, const char *const *patterns, const char *name,
                               bool *exact)
{
    for (size_t j = 0; j < npat; j++) {
        if (glob_match(patterns[j], strlen(patterns[j]), name, strlen(name), true)) {
            *exact = strpbrk(patterns[j], "*?[\\") == NULL;
            return patterns[j];
        }
    }
    return NULL;
}

void config_get_many(const struct config *cfg, size_t npat, const char *const *patterns,
                     void (*fn)(void *arg, const char *name, const char *value), void *arg)
{
    char val[4096];
    bool exact;
    for (size_t i = 0; i < NOPTS; i++) {
        const char *p = first_match(npat, patterns, opts[i].name, &exact);
        if (p != NULL) {
            opt_format(cfg, &opts[i], val, sizeof(val));
            fn(arg, exact ? p : opts[i].name, val);
        }
    }
    for (size_t i = 0; i < NALIASES; i++) {
        const char *p = first_match(npat, patterns, aliases[i].alias, &exact);
        if (p != NULL) {
            opt_format(cfg, opt_find_exact(aliases[i].name), val, sizeof(val));
            fn(arg, exact ? p : aliases[i].alias, val);
        }
    }
    for (size_t i = 0; i < NFIXED; i++) {
        const char *p = first_match(npat, patterns, fixed_opts[i].name, &exact);
        if (p != NULL)
            fn(arg, exact ? p : fixed_opts[i].name, fixed_opts[i].value);
    }
}

void config_get(const struct config *cfg, const char *pattern,
                void (*fn)(void *arg, const char *name, const char *value), void *arg)
{
    config_get_many(cfg, 1, &pattern, fn, arg);
}

/* config_set_many and config_set_from_client; protected_ok: the caller may
 * set OPT_PROTECTED options. */
static int set_many(struct config *cfg, bool protected_ok, size_t n, const char *const *names,
                    const char *const *values, char *err, size_t errlen)
{
    /* Redis 7.0 checks every pair before applying any, so a bad one leaves
     * the configuration untouched. The duplicate check is quadratic, but
     * it stops at the first unknown or repeated name, so it never looks at
     * more pairs than the table has options. */
    if (n == 0) {
        snprintf(err, errlen, "wrong number of arguments for 'config|set' command");
        return -1;
    }
    union opt_val *vals = calloc(n, sizeof(*vals));
    const struct opt **os = calloc(n, sizeof(*os));
    if (vals == NULL || os == NULL) {
        free(vals);
        free(os);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    size_t parsed = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int fx = fixed_find(names[i]);
        const char *shown = names[i];
        os[i] = opt_find_as(names[i], &shown);
        if (os[i] == NULL && fx < 0) {
            snprintf(err, errlen, "Unknown option or number of arguments for CONFIG SET - '%s'",
                     names[i]);
            rc = -1;
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(names[j], names[i]) == 0) {
                snprintf(err, errlen,
                         "CONFIG SET failed (possibly related to argument '%s') - duplicate "
                         "parameter",
                         names[i]);
                rc = -1;
                break;
            }
        if (rc != 0)
            break;
        if (fx >= 0) {
            /* Setting a fixed option to its own value is a no-op Redis
             * clients do (CONFIG SET save ""); anything else is refused. */
            if (strcmp(values[i], fixed_opts[fx].value) != 0) {
                snprintf(err, errlen,
                         "CONFIG SET failed (possibly related to argument '%s') - can't set "
                         "immutable config",
                         fixed_opts[fx].name);
                rc = -1;
            }
            continue;
        }
        if (!os[i]->mutable_) {
            snprintf(err, errlen,
                     "CONFIG SET failed (possibly related to argument '%s') - can't set "
                     "immutable config",
                     shown);
            rc = -1;
            break;
        }
        if (os[i]->mutable_ == OPT_PROTECTED && !protected_ok) {
            snprintf(err, errlen,
                     "CONFIG SET failed (possibly related to argument '%s') - can't set "
                     "protected config",
                     names[i]);
            rc = -1;
            break;
        }
        char why[160];
        if (opt_parse(os[i], values[i], &vals[i], why, sizeof(why)) != 0) {
            snprintf(err, errlen, "CONFIG SET failed (possibly related to argument '%s') - %s",
                     shown, why);
            rc = -1;
            break;
        }
        parsed = i + 1;
        if (opt_check_live(os[i], &vals[i], why, sizeof(why)) != 0) {
            snprintf(err, errlen, "CONFIG SET failed (possibly related to argument '%s') - %s",
                     shown, why);
            rc = -1;
            break;
        }
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            if (os[i] != NULL)
                opt_store(cfg, os[i], &vals[i], true);
        config_push_tval_limits(cfg);
    } else {
        for (size_t i = 0; i < parsed; i++)
            if (os[i] != NULL)
                opt_free_val(os[i], &vals[i]);
    }
    free(vals);
    free(os);
    return rc;
}

int config_set_many(struct config *cfg, size_t n, const char *const *names,
                    const char *const *values, char *err, size_t errlen)
{
    return set_many(cfg, true, n, names, values, err, errlen);
}

int config_set_from_client(struct config *cfg, bool local, size_t n, const char *const *names,
                           const char *const *values, char *err, size_t errlen)
{
    int allow = __atomic_load_n(&cfg->enable_protected_configs, __ATOMIC_RELAXED);
    bool ok = allow == CONFIG_ALLOW_YES || (allow == CONFIG_ALLOW_LOCAL && local);
    return set_many(cfg, ok, n, names, values, err, errlen);
}

int config_set(struct config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
    return config_set_many(cfg, 1, &name, &value, err, errlen);
}
