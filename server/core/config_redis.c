/* config_redis.c — redis.conf and Redis-style flags on top of the option
 * table (config.c): include, accumulating "save" lines, and the table of
 * Redis directives that are accepted with a warning because they mean
 * nothing here. Start-up only, main thread. */
#include "server/core/config_redis.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/util/conftext.h"
#include "server/util/glob.h"

/* Redis directives shardkv accepts but ignores, with the reason printed in
 * the warning. The first row whose name matches and whose value glob (NULL
 * = any value) matches the joined arguments applies. A directive moves to
 * "honoured" by adding it to the option table in config.c and deleting its
 * rows here (a unit test checks that no row without a value glob shadows an
 * option). Rows whose ignoring would change what a Redis user expects say
 * so in capitals: NOT SUPPORTED / NOT ENFORCED. */
#define IGNORED_DIRECTIVES(X)                                                                      \
    /* Persistence: only RDB snapshots exist. */                                                   \
    X("appendonly", "no", "shardkv has no append-only file")                                       \
    X("appendonly", NULL,                                                                          \
      "NOT SUPPORTED: shardkv has no append-only file; only RDB "                                  \
      "snapshots (save, SAVE, BGSAVE, SHUTDOWN) persist data")                                     \
    X("appendfilename", NULL, "shardkv has no append-only file")                                   \
    X("appenddirname", NULL, "shardkv has no append-only file")                                    \
    X("appendfsync", NULL, "shardkv has no append-only file")                                      \
    X("no-appendfsync-on-rewrite", NULL, "shardkv has no append-only file")                        \
    X("auto-aof-rewrite-percentage", NULL, "shardkv has no append-only file")                      \
    X("auto-aof-rewrite-min-size", NULL, "shardkv has no append-only file")                        \
    X("aof-load-truncated", NULL, "shardkv has no append-only file")                               \
    X("aof-use-rdb-preamble", NULL, "shardkv has no append-only file")                             \
    X("aof-timestamp-enabled", NULL, "shardkv has no append-only file")                            \
    X("aof-rewrite-incremental-fsync", NULL, "shardkv has no append-only file")                    \
    X("rdbchecksum", NULL, "snapshots always carry a CRC64 checksum")                              \
    X("rdb-del-sync-files", NULL, "shardkv has no replication")                                    \
    X("rdb-save-incremental-fsync", NULL, "snapshots are fsync'ed once, when complete")            \
    /* Replication and cluster. */                                                                 \
    X("replica-serve-stale-data", NULL, "shardkv has no replication")                              \
    X("replica-read-only", NULL, "shardkv has no replication")                                     \
    X("repl-diskless-sync", NULL, "shardkv has no replication")                                    \
    X("repl-diskless-sync-delay", NULL, "shardkv has no replication")                              \
    X("repl-diskless-sync-max-replicas", NULL, "shardkv has no replication")                       \
    X("repl-diskless-load", NULL, "shardkv has no replication")                                    \
    X("repl-disable-tcp-nodelay", NULL, "shardkv has no replication")                              \
    X("repl-ping-replica-period", NULL, "shardkv has no replication")                              \
    X("repl-timeout", NULL, "shardkv has no replication")                                          \
    X("repl-backlog-size", NULL, "shardkv has no replication")                                     \
    X("repl-backlog-ttl", NULL, "shardkv has no replication")                                      \
    X("replica-priority", NULL, "shardkv has no replication")                                      \
    X("replica-lazy-flush", NULL, "shardkv has no replication")                                    \
    X("replica-announced", NULL, "shardkv has no replication")                                     \
    X("replica-ignore-maxmemory", NULL, "shardkv has no replication")                              \
    X("min-replicas-to-write", "0", "shardkv has no replication")                                  \
    X("min-replicas-to-write", NULL,                                                               \
      "NOT ENFORCED: shardkv has no replicas, writes are "                                         \
      "accepted")                                                                                  \
    X("min-replicas-max-lag", NULL, "shardkv has no replication")                                  \
    X("masterauth", NULL, "shardkv has no replication")                                            \
    X("masteruser", NULL, "shardkv has no replication")                                            \
    /* Memory: maxmemory and its policy are honoured (server/memory/maxmemory.c). */                      \
    X("maxmemory-clients", NULL, "shardkv does not evict clients")                                 \
    X("lazyfree-lazy-eviction", NULL, "memory is freed on the shard threads")                      \
    X("lazyfree-lazy-expire", NULL, "memory is freed on the shard threads")                        \
    X("lazyfree-lazy-server-del", NULL, "memory is freed on the shard threads")                    \
    X("lazyfree-lazy-user-del", NULL, "memory is freed on the shard threads")                      \
    X("lazyfree-lazy-user-flush", NULL, "memory is freed on the shard threads")                    \
    X("activerehashing", NULL, "the shard maps rehash incrementally on their own")                 \
    X("activedefrag", NULL, "no active defragmentation")                                           \
    X("jemalloc-bg-thread", NULL, "the allocator is set up at build time")                         \
    /* Encodings of types shardkv does not have, or stores its own way. */                         \
    X("hll-sparse-max-bytes", NULL, "no HyperLogLogs here")                                        \
    X("stream-node-max-bytes", NULL, "no streams here")                                            \
    X("stream-node-max-entries", NULL, "no streams here")                                          \
    /* Monitoring and process cosmetics. */                                                        \
    X("acllog-max-len", NULL, "no ACL log here")                                                   \
    X("always-show-logo", NULL, "no ASCII-art logo here")                                          \
    X("set-proc-title", NULL, "the process title is never changed")                                \
    X("proc-title-template", NULL, "the process title is never changed")                           \
    X("supervised", NULL, "no systemd/upstart notification; use Type=simple or forking")           \
    X("syslog-enabled", NULL, "logs go to logfile or standard error only")                         \
    X("syslog-ident", NULL, "logs go to logfile or standard error only")                           \
    X("syslog-facility", NULL, "logs go to logfile or standard error only")                        \
    X("crash-log-enabled", NULL, "no crash report here")                                           \
    X("crash-memcheck-enabled", NULL, "no crash report here")                                      \
    X("oom-score-adj", NULL, "the OOM score is left to the service manager")                       \
    X("oom-score-adj-values", NULL, "the OOM score is left to the service manager")                \
    X("disable-thp", NULL, "transparent huge pages are left as the system sets them")              \
    /* Server tuning that the shard threads do their own way. */                                   \
    X("tcp-keepalive", NULL, "TCP keepalive is not set on client sockets")                         \
    X("dynamic-hz", NULL, "hz is fixed")                                                           \
    X("io-threads", NULL, "the number of threads is 'threads' (one per CPU by default)")           \
    X("io-threads-do-reads", NULL, "every worker thread reads and writes")                         \
    X("active-expire-effort", NULL, "expiry runs at a fixed effort")                               \
    X("tracking-table-max-keys", NULL, "no client-side caching here")                              \
    X("shutdown-timeout", NULL, "shardkv has no replicas to wait for")

/* One row of the table. */
struct ignored {
    const char *name;   /* directive, lower case */
    const char *values; /* glob on the joined value, NULL = any */
    const char *why;    /* reason, printed in the warning */
};

#define IGNORED_ROW(n, v, w) {n, v, w},
static const struct ignored ignored[] = {IGNORED_DIRECTIVES(IGNORED_ROW)};
#define NIGNORED (sizeof(ignored) / sizeof(ignored[0]))

bool config_redis_ignored_row(size_t i, const char **name, const char **values, const char **why)
{
    if (i >= NIGNORED)
        return false;
    *name = ignored[i].name;
    *values = ignored[i].values;
    *why = ignored[i].why;
    return true;
}

static const struct ignored *find_ignored(const char *name, const char *value)
{
    for (size_t i = 0; i < NIGNORED; i++) {
        if (strcasecmp(ignored[i].name, name) != 0)
            continue;
        const char *v = ignored[i].values;
        if (v == NULL || glob_match(v, strlen(v), value, strlen(value), true))
            return &ignored[i];
    }
    return NULL;
}

/* argv[0..n) joined with single spaces; malloc'ed, NULL if out of memory. */
static char *join(int n, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len), *p = s;
    if (s == NULL)
        return NULL;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(argv[i]);
        if (i > 0)
            *p++ = ' ';
        memcpy(p, argv[i], l);
        p += l;
    }
    *p = '\0';
    return s;
}

/* "save": as Redis while it reads its configuration, the first save line
 * replaces the points, later ones add theirs, and save "" clears them. */
static int apply_save(struct config *cfg, struct config_redis_ctx *ctx, const char *src,
                      const char *value, char *err, size_t errlen)
{
    bool add = ctx->save_seen && value[0] != '\0' && cfg->save != NULL && cfg->save[0] != '\0';
    ctx->save_seen = true;
    if (!add)
        return config_apply(cfg, src, "save", value, err, errlen);
    char *both = malloc(strlen(cfg->save) + 1 + strlen(value) + 1);
    if (both == NULL) {
        snprintf(err, errlen, "%s: out of memory", src);
        return -1;
    }
    sprintf(both, "%s %s", cfg->save, value);
    int rc = config_apply(cfg, src, "save", both, err, errlen);
    free(both);
    return rc;
}

/* Load the Redis-format file path, named by the include directive at from. */
static int load_path(struct config *cfg, struct config_redis_ctx *ctx, const char *from,
                     const char *path, char *err, size_t errlen)
{
    char src[1024];
    snprintf(src, sizeof(src), "%s: cannot include '%s'", from, path);
    char *text;
    size_t n;
    if (config_read_file(path, src, &text, &n, err, errlen) != 0)
        return -1;
    ctx->depth++;
    int rc = config_redis_load_text(cfg, ctx, path, text, n, err, errlen);
    ctx->depth--;
    free(text);
    return rc;
}

/* "include path": as in Redis 7.0 the path is taken as given (relative to
 * the working directory), and a path with glob characters loads every
 * matching file in sorted order, none being fine (an empty conf.d). */
static int include(struct config *cfg, struct config_redis_ctx *ctx, const char *src,
                   const char *path, char *err, size_t errlen)
{
    if (!ctx->allow_include) {
        snprintf(err, errlen, "%s: include is not allowed here", src);
        return -1;
    }
    if (ctx->depth >= CONFIG_REDIS_MAX_INCLUDE_DEPTH) {
        snprintf(err, errlen, "%s: includes nested deeper than %d files (a loop?)", src,
                 CONFIG_REDIS_MAX_INCLUDE_DEPTH);
        return -1;
    }
    if (strpbrk(path, "*?[") == NULL)
        return load_path(cfg, ctx, src, path, err, errlen);
    glob_t g;
    int grc = glob(path, 0, NULL, &g);
    if (grc == GLOB_NOMATCH)
        return 0;
    if (grc != 0) {
        snprintf(err, errlen, "%s: cannot expand include pattern '%s'", src, path);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
        rc = load_path(cfg, ctx, src, g.gl_pathv[i], err, errlen);
    globfree(&g);
    return rc;
}

int config_redis_directive(struct config *cfg, struct config_redis_ctx *ctx, const char *src,
                           int argc, char **argv, char *err, size_t errlen)
{
    const char *name = argv[0];
    if (argc < 2) {
        snprintf(err, errlen, "%s: '%s' needs a value", src, name);
        return -1;
    }
    if (strcasecmp(name, "include") == 0) {
        if (argc != 2) {
            snprintf(err, errlen, "%s: include takes one path", src);
            return -1;
        }
        return include(cfg, ctx, src, argv[1], err, errlen);
    }
    char *value = join(argc - 1, argv + 1);
    if (value == NULL) {
        snprintf(err, errlen, "%s: out of memory", src);
        return -1;
    }
    int rc;
    const struct ignored *ig = find_ignored(name, value);
    if (ig != NULL) {
        rc = config_add_warning(cfg, "%s: '%s' is accepted but ignored: %s", src, name, ig->why);
        if (rc != 0)
            snprintf(err, errlen, "%s: out of memory", src);
    } else if (strcasecmp(name, "save") == 0) {
        rc = apply_save(cfg, ctx, src, value, err, errlen);
    } else {
        rc = config_apply(cfg, src, name, value, err, errlen);
    }
    free(value);
    return rc;
}

bool config_redis_is_flag(const char *a)
{
    return a[0] == '-' && a[1] == '-' && a[2] != '\0';
}

int config_redis_flag(struct config *cfg, struct config_redis_ctx *ctx, int end, char **argv,
                      int *i, char *err, size_t errlen)
{
    const char *a = argv[*i];
    char name[128], src[160];
    const char *eq = strchr(a + 2, '=');
    size_t nlen = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
    if (nlen >= sizeof(name)) {
        snprintf(err, errlen, "flag %.60s...: unknown option", a);
        return -1;
    }
    memcpy(name, a + 2, nlen);
    name[nlen] = '\0';
    char *args[64];
    int n = 0;
    args[n++] = name;
    if (eq != NULL) {
        args[n++] = (char *)eq + 1;
    } else {
        if (*i + 1 >= end) {
            snprintf(err, errlen, "flag --%s: missing value", name);
            return -1;
        }
        args[n++] = argv[++*i];
    }
    while (*i + 1 < end && !config_redis_is_flag(argv[*i + 1])) {
        if (n == (int)(sizeof(args) / sizeof(args[0]))) {
            snprintf(err, errlen, "flag --%s: too many values", name);
            return -1;
        }
        args[n++] = argv[++*i];
    }
    if (strcmp(name, "config") == 0)
        return 0; /* read in pass 1 */
    snprintf(src, sizeof(src), "flag --%s", name);
    return config_redis_directive(cfg, ctx, src, n, args, err, errlen);
}

/* Where conftext_parse's callback reports. */
struct load_state {
    struct config *cfg;           /* being filled */
    struct config_redis_ctx *ctx; /* the load's state */
    const char *origin;           /* file path for messages */
    char *err;                    /* the caller's message buffer */
    size_t errlen;                /* its size */
};

static int on_directive(void *arg, int lineno, int argc, char **argv)
{
    struct load_state *st = arg;
    char src[600];
    snprintf(src, sizeof(src), "config file '%s' line %d", st->origin, lineno);
    return config_redis_directive(st->cfg, st->ctx, src, argc, argv, st->err, st->errlen);
}

int config_redis_load_text(struct config *cfg, struct config_redis_ctx *ctx, const char *origin,
                           const char *text, size_t len, char *err, size_t errlen)
{
    struct load_state st = {cfg, ctx, origin, err, errlen};
    int line;
    int rc = conftext_parse(text, len, on_directive, &st, &line);
    if (rc == CONFTEXT_ESTOP)
        return -1; /* err is set */
    if (rc != CONFTEXT_OK) {
        snprintf(err, errlen, "config file '%s' line %d: %s", origin, line, conftext_strerror(rc));
        return -1;
    }
    return 0;
}
