/* test_config.c — server configuration: defaults, the precedence of file <
 * environment < flags, Redis size units, limits, error messages naming their
 * source, CONFIG GET globbing and formatting, CONFIG SET validation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/core/config.h"
#include "server/util/log.h"
#include "shard/tval.h"

extern char **environ;

/* Criterion runs each test in its own process, so environment changes made
 * by one test never reach another; start every test from a clean slate. */
static void clear_env(void)
{
    for (;;) {
        char **e = environ;
        while (*e && strncmp(*e, "SHARDKV_", 8) != 0)
            e++;
        if (*e == NULL)
            break;
        char name[256];
        size_t n = strcspn(*e, "=");
        snprintf(name, sizeof(name), "%.*s", (int)n, *e);
        unsetenv(name);
    }
}

static char tmp_path[64];

/* Each test runs in its own process: remove the file it wrote, also when
 * the test failed before its own unlink. */
static void remove_tmp(void)
{
    if (tmp_path[0])
        unlink(tmp_path);
}

TestSuite(config, .init = clear_env, .fini = remove_tmp);

/* Write text to a fresh temporary file, removing the previous one; returns
 * its path. */
static const char *write_tmp(const char *text)
{
    remove_tmp();
    strcpy(tmp_path, "/tmp/skv-config-XXXXXX");
    int fd = mkstemp(tmp_path);
    cr_assert(fd >= 0);
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    return tmp_path;
}

static int load(struct config *cfg, char *err, size_t errlen, int argc, char **argv)
{
    return config_load(cfg, argc, argv, err, errlen);
}

/* Collects CONFIG GET output as "name=value;" pairs. */
struct collect {
    char buf[4096];
    size_t n;
};

static void collect_fn(void *arg, const char *name, const char *value)
{
    struct collect *c = arg;
    c->n += (size_t)snprintf(c->buf + c->n, sizeof(c->buf) - c->n, "%s=%s;", name, value);
}

static const char *get(const struct config *cfg, const char *pattern)
{
    static struct collect c;
    memset(&c, 0, sizeof(c));
    config_get(cfg, pattern, collect_fn, &c);
    return c.buf;
}

Test(config, defaults_are_safe)
{
    struct config cfg;
    char err[256] = "";
    char *argv[] = {"shardkv-server"};
    cr_assert_eq(load(&cfg, err, sizeof(err), 1, argv), 0, "%s", err);
    cr_assert_str_eq(cfg.bind, "127.0.0.1");
    cr_assert_eq(cfg.port, 6379);
    cr_assert_eq(cfg.threads, 0);
    cr_assert_eq(cfg.databases, 16);
    cr_assert_eq(cfg.maxclients, 10000);
    cr_assert_eq(cfg.timeout, 0);
    cr_assert_null(cfg.requirepass);
    cr_assert_eq(cfg.loglevel, LOG_NOTICE);
    cr_assert_null(cfg.logfile);
    cr_assert_null(cfg.dir, "no persistence unless a directory is given");
    cr_assert_str_eq(cfg.dbfilename, "dump.rdb");
    cr_assert_eq(cfg.proto_max_bulk_len, (size_t)512 << 20);
    cr_assert_eq(cfg.client_query_buffer_limit, (size_t)1 << 30);
    cr_assert_eq(cfg.max_inline, (size_t)64 << 10);
    cr_assert_eq(cfg.max_multibulk, 1048576);
    cr_assert_eq(cfg.tcp_backlog, 511);
    cr_assert_eq(cfg.hz, 10);
    cr_assert_null(cfg.config_file);
    config_deinit(&cfg);
}

Test(config, precedence_file_env_flag)
{
    const char *path = write_tmp("{\"port\": 7000, \"timeout\": 5, \"maxclients\": 100,"
                                 " \"requirepass\": \"file\"}");
    setenv("SHARDKV_TIMEOUT", "6", 1);
    setenv("SHARDKV_MAXCLIENTS", "200", 1);
    char *argv[] = {"shardkv-server", "--maxclients", "300", "--config", (char *)path};
    struct config cfg;
    char err[256] = "";
    cr_assert_eq(load(&cfg, err, sizeof(err), 5, argv), 0, "%s", err);
    cr_assert_eq(cfg.port, 7000, "file only");
    cr_assert_eq(cfg.timeout, 6, "env beats file");
    cr_assert_eq(cfg.maxclients, 300, "flag beats env and file, wherever --config is");
    cr_assert_str_eq(cfg.requirepass, "file");
    cr_assert_str_eq(cfg.config_file, path);
    config_deinit(&cfg);
    unlink(path);
}

Test(config, env_names_map_dashes)
{
    setenv("SHARDKV_CLIENT_QUERY_BUFFER_LIMIT", "2mb", 1);
    setenv("SHARDKV_BIN", "/not/an/option", 1); /* used by scripts: ignored */
    char *argv[] = {"shardkv-server"};
    struct config cfg;
    char err[256] = "";
    cr_assert_eq(load(&cfg, err, sizeof(err), 1, argv), 0, "%s", err);
    cr_assert_eq(cfg.client_query_buffer_limit, 2u << 20);
    config_deinit(&cfg);
}

Test(config, generic_and_equals_flags)
{
    char *argv[] = {"shardkv-server", "--proto-max-bulk-len=1k", "--max-inline", "1KB",
                    "--loglevel", "WARNING", "--dir", "/tmp/x"};
    struct config cfg;
    char err[256] = "";
    cr_assert_eq(load(&cfg, err, sizeof(err), 8, argv), 0, "%s", err);
    cr_assert_eq(cfg.proto_max_bulk_len, 1000, "k is 1000 as in Redis");
    cr_assert_eq(cfg.max_inline, 1024, "kb is 1024, any case");
    cr_assert_eq(cfg.loglevel, LOG_WARNING);
    cr_assert_str_eq(cfg.dir, "/tmp/x");
    config_deinit(&cfg);
}

Test(config, size_units)
{
    struct {
        const char *in;
        uint64_t out;
        int rc;
    } cases[] = {
        {"0", 0, 0},          {"1", 1, 0},           {"1b", 1, 0},
        {"1k", 1000, 0},      {"1kb", 1024, 0},      {"1K", 1000, 0},
        {"1Kb", 1024, 0},     {"3m", 3000000, 0},    {"3mb", 3u << 20, 0},
        {"2g", 2000000000ULL, 0}, {"2GB", 2ULL << 30, 0},
        {"", 0, -1},          {"-1", 0, -1},         {"1x", 0, -1},
        {"kb", 0, -1},        {" 1", 0, -1},         {"1 kb", 0, -1},
        {"1.5mb", 0, -1},     {"18446744073709551615", UINT64_MAX, 0},
        {"18446744073709551616", 0, -1}, {"20000000000gb", 0, -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 0;
        int rc = config_parse_size(cases[i].in, &v);
        cr_assert_eq(rc, cases[i].rc, "'%s': rc %d", cases[i].in, rc);
        if (rc == 0)
            cr_assert_eq(v, cases[i].out, "'%s' -> %llu", cases[i].in, (unsigned long long)v);
    }
}

Test(config, limits_at_edges)
{
    struct {
        const char *flag, *val;
        int rc;
    } cases[] = {
        {"--port", "0", 0},      {"--port", "1", 0},        {"--port", "65535", 0},
        {"--port", "65536", -1}, {"--port", "-1", -1},      {"--port", "12x", -1},
        {"--port", "", -1},      {"--databases", "0", -1},  {"--databases", "1", 0},
        {"--maxclients", "0", -1}, {"--maxclients", "4294967295", 0},
        {"--maxclients", "4294967296", -1}, {"--hz", "500", 0}, {"--hz", "501", -1},
        {"--timeout", "2147483647", 0}, {"--timeout", "2147483648", -1},
        {"--loglevel", "loud", -1}, {"--threads", "99999999999999999999", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[] = {"shardkv-server", (char *)cases[i].flag, (char *)cases[i].val};
        struct config cfg;
        char err[256] = "";
        int rc = load(&cfg, err, sizeof(err), 3, argv);
        cr_assert_eq(rc, cases[i].rc, "%s %s: rc %d (%s)", cases[i].flag, cases[i].val, rc, err);
        if (rc != 0) {
            cr_assert(strstr(err, cases[i].flag) != NULL, "message names the flag: %s", err);
            cr_assert_null(strchr(err, '\n'), "one line");
        }
        config_deinit(&cfg);
    }
}

Test(config, errors_name_their_source)
{
    struct config cfg;
    char err[256];
    char *a1[] = {"shardkv-server", "--no-such-thing", "1"};
    cr_assert_eq(load(&cfg, err, sizeof(err), 3, a1), -1);
    cr_assert(strstr(err, "flag --no-such-thing") && strstr(err, "unknown option"), "%s", err);
    config_deinit(&cfg);

    char *a2[] = {"shardkv-server", "--port"};
    cr_assert_eq(load(&cfg, err, sizeof(err), 2, a2), -1);
    cr_assert(strstr(err, "--port") && strstr(err, "missing value"), "%s", err);
    config_deinit(&cfg);

    char *a3[] = {"shardkv-server", "stray"};
    cr_assert_eq(load(&cfg, err, sizeof(err), 2, a3), -1);
    cr_assert(strstr(err, "stray"), "%s", err);
    config_deinit(&cfg);

    setenv("SHARDKV_PORTT", "1", 1);
    char *a4[] = {"shardkv-server"};
    cr_assert_eq(load(&cfg, err, sizeof(err), 1, a4), -1);
    cr_assert(strstr(err, "environment SHARDKV_PORTT") && strstr(err, "'portt'"), "%s", err);
    config_deinit(&cfg);
    unsetenv("SHARDKV_PORTT");

    setenv("SHARDKV_PORT", "abc", 1);
    cr_assert_eq(load(&cfg, err, sizeof(err), 1, a4), -1);
    cr_assert(strstr(err, "environment SHARDKV_PORT") && strstr(err, "integer"), "%s", err);
    config_deinit(&cfg);
    unsetenv("SHARDKV_PORT");

    const char *path = write_tmp("{\"bogus\": 1}");
    char *a5[] = {"shardkv-server", "--config", (char *)path};
    cr_assert_eq(load(&cfg, err, sizeof(err), 3, a5), -1);
    cr_assert(strstr(err, "config file") && strstr(err, path) && strstr(err, "'bogus'"), "%s",
              err);
    config_deinit(&cfg);
    unlink(path);

    path = write_tmp("{\"port\": ");
    cr_assert_eq(load(&cfg, err, sizeof(err), 3, a5), -1);
    cr_assert(strstr(err, "invalid JSON"), "%s", err);
    config_deinit(&cfg);
    unlink(path);

    path = write_tmp("[1, 2]");
    cr_assert_eq(load(&cfg, err, sizeof(err), 3, a5), -1);
    cr_assert(strstr(err, "object"), "%s", err);
    config_deinit(&cfg);

    path = write_tmp("{\"port\": 1.5}");
    cr_assert_eq(load(&cfg, err, sizeof(err), 3, a5), -1);
    cr_assert(strstr(err, "'port'") && strstr(err, "integer"), "%s", err);
    config_deinit(&cfg);

    path = write_tmp("{\"requirepass\": null}");
    cr_assert_eq(load(&cfg, err, sizeof(err), 3, a5), -1);
    cr_assert(strstr(err, "'requirepass'"), "%s", err);
    config_deinit(&cfg);
    unlink(path);

    char *a6[] = {"shardkv-server", "--config", "/nonexistent/skv.json"};
    cr_assert_eq(load(&cfg, err, sizeof(err), 3, a6), -1);
    cr_assert(strstr(err, "/nonexistent/skv.json") && strstr(err, "No such file"), "%s", err);
    config_deinit(&cfg);
}

Test(config, file_accepts_sizes_as_strings)
{
    const char *path = write_tmp("{\"client-query-buffer-limit\": \"16mb\", \"bind\": \"::1\"}");
    char *argv[] = {"shardkv-server", "--config", (char *)path};
    struct config cfg;
    char err[256] = "";
    cr_assert_eq(load(&cfg, err, sizeof(err), 3, argv), 0, "%s", err);
    cr_assert_eq(cfg.client_query_buffer_limit, 16u << 20);
    cr_assert_str_eq(cfg.bind, "::1");
    config_deinit(&cfg);
    unlink(path);
}

Test(config, help_and_version_return_1)
{
    struct config cfg;
    char err[256];
    char *a1[] = {"shardkv-server", "--version"};
    cr_assert_eq(load(&cfg, err, sizeof(err), 2, a1), 1);
    config_deinit(&cfg);
    char *a2[] = {"shardkv-server", "--port", "1", "--help"};
    cr_assert_eq(load(&cfg, err, sizeof(err), 4, a2), 1);
    config_deinit(&cfg);
}

Test(config, get_formats_like_redis)
{
    char *argv[] = {"shardkv-server", "--requirepass", "pw"};
    struct config cfg;
    char err[256] = "";
    cr_assert_eq(load(&cfg, err, sizeof(err), 3, argv), 0, "%s", err);
    cr_assert_str_eq(get(&cfg, "port"), "port=6379;");
    cr_assert_str_eq(get(&cfg, "PORT"), "PORT=6379;", "exact names echo the spelling, as Redis");
    cr_assert_str_eq(get(&cfg, "P?RT"), "port=6379;", "globs report the real name");
    cr_assert_str_eq(get(&cfg, "proto-max-bulk-len"), "proto-max-bulk-len=536870912;");
    cr_assert_str_eq(get(&cfg, "loglevel"), "loglevel=notice;");
    cr_assert_str_eq(get(&cfg, "logfile"), "logfile=;");
    cr_assert_str_eq(get(&cfg, "requirepass"), "requirepass=pw;");
    cr_assert_str_eq(get(&cfg, "save"), "save=;");
    cr_assert_str_eq(get(&cfg, "appendonly"), "appendonly=no;");
    cr_assert_str_eq(get(&cfg, "max*"), "maxclients=10000;max-inline=65536;max-multibulk=1048576;"
                                         "maxmemory=0;maxmemory-policy=noeviction;"
                                         "maxmemory-samples=5;maxmemory-eviction-tenacity=10;");
    cr_assert_str_eq(get(&cfg, "d[a-b]*"), "databases=16;dbfilename=dump.rdb;daemonize=no;");
    cr_assert_str_eq(get(&cfg, "unixsocketperm"), "unixsocketperm=0;");
    cr_assert_str_eq(get(&cfg, "nothing-matches"), "");
    /* Several patterns: each option once. */
    struct collect c = {0};
    const char *pats[] = {"port", "po*", "hz"};
    config_get_many(&cfg, 3, pats, collect_fn, &c);
    cr_assert_str_eq(c.buf, "port=6379;hz=10;");
    config_deinit(&cfg);
}

Test(config, set_validates_like_redis)
{
    char *argv[] = {"shardkv-server"};
    struct config cfg;
    char err[256] = "";
    cr_assert_eq(load(&cfg, err, sizeof(err), 1, argv), 0, "%s", err);

    cr_assert_eq(config_set(&cfg, "foo", "1", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "Unknown option or number of arguments for CONFIG SET - 'foo'");
    cr_assert_eq(config_set(&cfg, "maxclients", "abc", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "CONFIG SET failed (possibly related to argument 'maxclients') - "
                          "argument couldn't be parsed into an integer");
    cr_assert_eq(config_set(&cfg, "maxclients", "0", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "CONFIG SET failed (possibly related to argument 'maxclients') - "
                          "argument must be between 1 and 4294967295 inclusive");
    cr_assert_eq(config_set(&cfg, "databases", "3", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "CONFIG SET failed (possibly related to argument 'databases') - "
                          "can't set immutable config");
    cr_assert_eq(config_set(&cfg, "proto-max-bulk-len", "1x", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "CONFIG SET failed (possibly related to argument "
                          "'proto-max-bulk-len') - argument must be a memory value");
    cr_assert_eq(config_set(&cfg, "loglevel", "x", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "CONFIG SET failed (possibly related to argument 'loglevel') - "
                          "argument(s) must be one of the following: debug, verbose, notice, "
                          "warning");
    /* save is a real option now (server/persist/persist.c reads it). */
    cr_assert_eq(config_set(&cfg, "save", "900 1", err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(cfg.save, "900 1");
    cr_assert_eq(config_set(&cfg, "save", "", err, sizeof(err)), 0, "%s", err);

    cr_assert_eq(config_set(&cfg, "MAXCLIENTS", "5", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cfg.maxclients, 5);
    cr_assert_eq(config_set(&cfg, "requirepass", "s3cret", err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(cfg.requirepass, "s3cret");
    cr_assert_eq(config_set(&cfg, "requirepass", "", err, sizeof(err)), 0, "%s", err);
    cr_assert_null(cfg.requirepass);
    cr_assert_eq(config_set(&cfg, "client-query-buffer-limit", "2mb", err, sizeof(err)), 0);
    cr_assert_eq(cfg.client_query_buffer_limit, 2u << 20);
    cr_assert_eq(config_set(&cfg, "loglevel", "debug", err, sizeof(err)), 0);
    cr_assert_eq(cfg.loglevel, LOG_DEBUG);
    cr_assert_eq(log_level(), LOG_DEBUG, "CONFIG SET loglevel reaches the log");
    config_deinit(&cfg);
}

Test(config, protected_mode)
{
    char *argv[] = {"shardkv-server"};
    struct config cfg;
    char err[256] = "";

    cr_assert_eq(load(&cfg, err, sizeof(err), 1, argv), 0, "%s", err);
    cr_assert(cfg.protected_mode);
    cr_assert_eq(config_set(&cfg, "protected-mode", "maybe", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "CONFIG SET failed (possibly related to argument 'protected-mode') - "
                          "argument must be 'yes' or 'no'");
    cr_assert_eq(config_set(&cfg, "protected-mode", "NO", err, sizeof(err)), 0, "%s", err);
    cr_assert(!cfg.protected_mode);
    config_deinit(&cfg);
}

Test(config, protected_configs)
{
    char *argv[] = {"shardkv-server"};
    char *argv_local[] = {"shardkv-server", "--enable-protected-configs", "local"};
    char *argv_bad[] = {"shardkv-server", "--dbfilename", "../evil.rdb"};
    struct config cfg;
    char err[256] = "";
    const char *dir[] = {"DIR"}, *tmp[] = {"/tmp"};
    const char *dbf[] = {"dbfilename"}, *path[] = {"a\\b"};

    cr_assert_eq(load(&cfg, err, sizeof(err), 1, argv), 0, "%s", err);
    cr_assert_eq(cfg.enable_protected_configs, CONFIG_ALLOW_NO);
    /* By default no client may set dir or dbfilename, local or not. */
    cr_assert_eq(config_set_from_client(&cfg, true, 1, dir, tmp, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "CONFIG SET failed (possibly related to argument 'DIR') - can't set "
                          "protected config");
    cr_assert_null(cfg.dir);
    /* The trusted path (start-up sources) may. */
    cr_assert_eq(config_set_many(&cfg, 1, dir, tmp, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(cfg.dir, "/tmp");
    cr_assert_eq(config_set(&cfg, "dbfilename", "../evil.rdb", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "CONFIG SET failed (possibly related to argument 'dbfilename') - "
                          "dbfilename can't be a path, just a filename");
    cr_assert_eq(config_set_many(&cfg, 1, dbf, path, err, sizeof(err)), -1);
    cr_assert_eq(config_set(&cfg, "enable-protected-configs", "yes", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "CONFIG SET failed (possibly related to argument "
                          "'enable-protected-configs') - can't set immutable config");
    config_deinit(&cfg);

    cr_assert_eq(load(&cfg, err, sizeof(err), 3, argv_local), 0, "%s", err);
    cr_assert_eq(config_set_from_client(&cfg, false, 1, dir, tmp, err, sizeof(err)), -1);
    cr_assert_eq(config_set_from_client(&cfg, true, 1, dir, tmp, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_str_eq(cfg.dir, "/tmp");
    config_deinit(&cfg);

    cr_assert_eq(load(&cfg, err, sizeof(err), 3, argv_bad), -1);
    cr_assert_str_eq(err, "flag --dbfilename: invalid value '../evil.rdb' for option "
                          "'dbfilename': dbfilename can't be a path, just a filename");
    config_deinit(&cfg);
}

Test(config, set_many_is_all_or_nothing)
{
    char *argv[] = {"shardkv-server"};
    struct config cfg;
    char err[256] = "";
    cr_assert_eq(load(&cfg, err, sizeof(err), 1, argv), 0, "%s", err);
    const char *n1[] = {"maxclients", "timeout", "hz"};
    const char *v1[] = {"50", "7", "bad"};
    cr_assert_eq(config_set_many(&cfg, 3, n1, v1, err, sizeof(err)), -1);
    cr_assert(strstr(err, "'hz'"), "%s", err);
    cr_assert_eq(cfg.maxclients, 10000, "nothing applied");
    cr_assert_eq(cfg.timeout, 0);

    const char *n2[] = {"maxclients", "requirepass", "maxclients"};
    const char *v2[] = {"50", "x", "60"};
    cr_assert_eq(config_set_many(&cfg, 3, n2, v2, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "CONFIG SET failed (possibly related to argument 'maxclients') - "
                          "duplicate parameter");
    cr_assert_null(cfg.requirepass);

    v1[2] = "20";
    cr_assert_eq(config_set_many(&cfg, 3, n1, v1, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cfg.maxclients, 50);
    cr_assert_eq(cfg.timeout, 7);
    cr_assert_eq(cfg.hz, 20);
    config_deinit(&cfg);
}

Test(config, bool_and_dir_kinds_validate_like_redis)
{
    char *argv[] = {"shardkv-server", "--stop-writes-on-bgsave-error", "No"};
    struct config cfg;
    char err[256] = "";
    cr_assert_eq(load(&cfg, err, sizeof(err), 3, argv), 0, "%s", err);
    cr_assert_not(cfg.stop_writes_on_bgsave_error);
    cr_assert_str_eq(get(&cfg, "stop-writes-on-bgsave-error"), "stop-writes-on-bgsave-error=no;");
    cr_assert_eq(config_set(&cfg, "stop-writes-on-bgsave-error", "YES", err, sizeof(err)), 0);
    cr_assert(cfg.stop_writes_on_bgsave_error);
    cr_assert_eq(config_set(&cfg, "stop-writes-on-bgsave-error", "1", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "CONFIG SET failed (possibly related to argument "
                          "'stop-writes-on-bgsave-error') - argument must be 'yes' or 'no'");

    /* A dir is checked when set at run time, as Redis's chdir checks it;
     * a failed check leaves the old value, and "" (no persistence) is fine. */
    cr_assert_eq(config_set(&cfg, "dir", "/tmp", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(config_set(&cfg, "dir", "/nonexistent-skv/x", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "CONFIG SET failed (possibly related to argument 'dir') - "
                          "No such file or directory");
    cr_assert_eq(config_set(&cfg, "dir", "/dev/null", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "CONFIG SET failed (possibly related to argument 'dir') - "
                          "Not a directory");
    cr_assert_str_eq(cfg.dir, "/tmp");
    cr_assert_eq(config_set(&cfg, "dir", "", err, sizeof(err)), 0, "%s", err);
    cr_assert_null(cfg.dir);
    config_deinit(&cfg);
}
/* ---- Redis's configuration format (conftext.c, config_redis.c) ---------- */

#include "server/core/config_redis.h"
#include "server/util/conftext.h"

/* Split text; return the arguments joined as "[a][b]" or "ERR<n>". */
static const char *split(const char *text)
{
    static char out[512];
    struct conftext_args a;
    int rc = conftext_split(text, strlen(text), &a);
    if (rc != CONFTEXT_OK) {
        snprintf(out, sizeof(out), "ERR%d", rc);
        return out;
    }
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < a.argc; i++)
        n += (size_t)snprintf(out + n, sizeof(out) - n, "[%s]", a.argv[i]);
    cr_assert_null(a.argv[a.argc], "argv is NULL-terminated");
    conftext_args_free(&a);
    return out;
}

Test(config, conftext_splits_like_sdssplitargs)
{
    /* Expected values checked against Redis 7.0's sdssplitargs rules. */
    struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"   \t ", ""},
        {"port 6379", "[port][6379]"},
        {"  port\t 6379  ", "[port][6379]"},
        {"save \"\"", "[save][]"},
        {"save ''", "[save][]"},
        {"a \"b c\" d", "[a][b c][d]"},
        {"a 'b c' d", "[a][b c][d]"},
        {"a\"b c\"", "[ab c]"},                       /* a quote may start mid-argument */
        {"x \"\\n\\r\\t\\b\\a\\\\\\\"\"", "[x][\n\r\t\b\a\\\"]"},
        {"x \"\\x41\\x7a\"", "[x][Az]"},
        {"x \"\\x4\"", "[x][x4]"},                    /* not two hex digits: plain escape */
        {"x \"\\q\"", "[x][q]"},
        {"x 'it\\'s'", "[x][it's]"},
        {"x 'a\\nb'", "[x][a\\nb]"},                 /* no escapes in single quotes */
        {"x \\n", "[x][\\n]"},                        /* nor outside quotes */
        {"x \"a\"b", "ERR-1"},                        /* closing quote glued to a char */
        {"x 'a'b", "ERR-1"},
        {"x \"abc", "ERR-1"},
        {"x 'abc", "ERR-1"},
        {"x \"abc\\\"", "ERR-1"},
        {"x \"\\x00\"", "ERR-2"},                     /* a NUL cannot be a C string */
        {"x\r\ny", "[x][y]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_assert_str_eq(split(cases[i].in), cases[i].out, "input '%s'", cases[i].in);
    /* A raw NUL byte in a line. */
    struct conftext_args a;
    cr_assert_eq(conftext_split("a\0b", 3, &a), CONFTEXT_ENUL);
    cr_assert_eq(a.argc, 0);
}

/* Every prefix of a valid line is either valid or an unbalanced quote,
 * never a crash or a leak (ASan builds check the latter). */
Test(config, conftext_every_prefix)
{
    const char *line = "client-output-buffer-limit \"a\\x41 b\" 'c\\'d' e\"f g\" h";
    for (size_t n = 0; n <= strlen(line); n++) {
        struct conftext_args a;
        int rc = conftext_split(line, n, &a);
        cr_assert(rc == CONFTEXT_OK || rc == CONFTEXT_EQUOTE, "prefix %zu: %d", n, rc);
        conftext_args_free(&a);
    }
}

/* Collects what conftext_parse hands over. */
static char parsed[1024];
static int collect_directive(void *arg, int lineno, int argc, char **argv)
{
    (void)arg;
    size_t n = strlen(parsed);
    n += (size_t)snprintf(parsed + n, sizeof(parsed) - n, "%d:", lineno);
    for (int i = 0; i < argc; i++)
        n += (size_t)snprintf(parsed + n, sizeof(parsed) - n, "[%s]", argv[i]);
    snprintf(parsed + n, sizeof(parsed) - n, ";");
    return strcmp(argv[0], "stop") == 0;
}

Test(config, conftext_parse_lines)
{
    const char *text = "# comment\n\nPORT 1\r\n   # indented comment\n\tsave 900 1  \n"
                       "bind a -b\n"
                       "last \"no newline\"";
    int bad = -1;
    parsed[0] = '\0';
    cr_assert_eq(conftext_parse(text, strlen(text), collect_directive, NULL, &bad), 0);
    cr_assert_eq(bad, 0);
    cr_assert_str_eq(parsed, "3:[port][1];5:[save][900][1];6:[bind][a][-b];7:[last][no newline];",
                     "names are lower-cased, line numbers count every line");

    const char *bad_text = "a 1\nb \"open\nc 3\n";
    parsed[0] = '\0';
    cr_assert_eq(conftext_parse(bad_text, strlen(bad_text), collect_directive, NULL, &bad),
                 CONFTEXT_EQUOTE);
    cr_assert_eq(bad, 2);
    const char *stop_text = "a 1\n\nstop here\nc 3\n";
    parsed[0] = '\0';
    cr_assert_eq(conftext_parse(stop_text, strlen(stop_text), collect_directive, NULL, &bad),
                 CONFTEXT_ESTOP);
    cr_assert_eq(bad, 3);
    cr_assert_str_eq(parsed, "1:[a][1];3:[stop][here];");
}

Test(config, redis_format_file)
{
    const char *path = write_tmp("# a redis.conf\n"
                                 "port 7001\n"
                                 "bind 127.0.0.1 -::1\n"
                                 "save 900 1\n"
                                 "save 300 10\n"
                                 "requirepass \"p w\\x21\"\n"
                                 "daemonize no\n"
                                 "unixsocketperm 770\n"
                                 "min-replicas-to-write 2\n"
                                 "appendonly yes\n"
                                 "client-output-buffer-limit normal 0 0 0\n");
    char *argv[] = {"shardkv-server", (char *)path, "--save", "60", "100"};
    struct config cfg;
    char err[256] = "";
    cr_assert_eq(load(&cfg, err, sizeof(err), 5, argv), 0, "%s", err);
    cr_assert_eq(cfg.port, 7001);
    cr_assert_str_eq(cfg.bind, "127.0.0.1 -::1", "arguments are joined with spaces");
    cr_assert_str_eq(cfg.save, "900 1 300 10 60 100", "save lines and flags accumulate");
    cr_assert_str_eq(cfg.requirepass, "p w!");
    cr_assert_eq(cfg.daemonize, false);
    cr_assert_eq(cfg.unixsocketperm, 0770);
    cr_assert_str_eq(get(&cfg, "unixsocketperm"), "unixsocketperm=770;");
    cr_assert_eq(cfg.client_obuf[CONFIG_OBUF_NORMAL].hard, 0, "the class form is honoured");
    cr_assert_eq(cfg.client_obuf[CONFIG_OBUF_PUBSUB].hard, 32u << 20, "other classes kept");
    cr_assert_eq(cfg.nwarnings, 2, "one warning per ignored directive");
    cr_assert(strstr(cfg.warnings[0], "line 9") &&
                  strstr(cfg.warnings[0], "'min-replicas-to-write'"), "%s",
              cfg.warnings[0]);
    cr_assert(strstr(cfg.warnings[1], "line 10") && strstr(cfg.warnings[1], "NOT SUPPORTED"),
              "appendonly yes is not silently ignored: %s", cfg.warnings[1]);
    config_deinit(&cfg);

    /* No save line: Redis's default save points; save "" clears. */
    path = write_tmp("port 7002\n");
    char *a2[] = {"shardkv-server", (char *)path};
    cr_assert_eq(load(&cfg, err, sizeof(err), 2, a2), 0, "%s", err);
    cr_assert_str_eq(cfg.save, CONFIG_REDIS_DEFAULT_SAVE);
    config_deinit(&cfg);
    char *a3[] = {"shardkv-server", (char *)path, "--save", ""};
    cr_assert_eq(load(&cfg, err, sizeof(err), 4, a3), 0, "%s", err);
    cr_assert_null(cfg.save);
    config_deinit(&cfg);
}

Test(config, redis_format_errors_name_the_line)
{
    struct config cfg;
    char err[256];
    struct {
        const char *text, *want1, *want2;
    } cases[] = {
        {"port 1\n\nbogus-directive yes\n", "line 3", "'bogus-directive'"},
        {"port 1\nport\n", "line 2", "needs a value"},
        {"port 70000\n", "line 1", "between"},
        {"# x\nrequirepass \"open\n", "line 2", "Unbalanced quotes"},
        {"daemonize maybe\n", "line 1", "'yes' or 'no'"},
        {"unixsocketperm 800\n", "line 1", "integer"},
        {"\ninclude /nonexistent/skv-inc.conf\n", "line 2: cannot include '/nonexistent/skv-inc.conf'",
         "No such file"},
        {"include a b\n", "line 1", "one path"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *path = write_tmp(cases[i].text);
        char *argv[] = {"shardkv-server", "--config", (char *)path};
        err[0] = '\0';
        cr_assert_eq(load(&cfg, err, sizeof(err), 3, argv), -1, "case %zu", i);
        cr_assert(strstr(err, cases[i].want1) && strstr(err, cases[i].want2), "case %zu: %s", i,
                  err);
        cr_assert(strstr(err, path), "names the file: %s", err);
        config_deinit(&cfg);
    }
}

Test(config, redis_include)
{
    char dir[] = "/tmp/skv-inc-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char inc[128], main_conf[128], loop_conf[128], glob_pat[128];
    snprintf(inc, sizeof(inc), "%s/a.conf", dir);
    snprintf(main_conf, sizeof(main_conf), "%s/main.conf", dir);
    snprintf(loop_conf, sizeof(loop_conf), "%s/loop.conf", dir);
    snprintf(glob_pat, sizeof(glob_pat), "%s/none-*.conf", dir);
    FILE *f = fopen(inc, "w");
    fprintf(f, "timeout 7\nsave 10 1\n");
    fclose(f);
    f = fopen(main_conf, "w");
    fprintf(f, "save 20 2\ninclude %s\ninclude %s\nport 7003\n", inc, glob_pat);
    fclose(f);
    f = fopen(loop_conf, "w");
    fprintf(f, "include %s\n", loop_conf);
    fclose(f);

    struct config cfg;
    char err[256] = "";
    char *a1[] = {"shardkv-server", main_conf};
    cr_assert_eq(load(&cfg, err, sizeof(err), 2, a1), 0, "%s", err);
    cr_assert_eq(cfg.timeout, 7);
    cr_assert_eq(cfg.port, 7003);
    cr_assert_str_eq(cfg.save, "20 2 10 1", "save accumulates across included files");
    config_deinit(&cfg);

    char *a2[] = {"shardkv-server", loop_conf};
    cr_assert_eq(load(&cfg, err, sizeof(err), 2, a2), -1);
    cr_assert(strstr(err, "nested deeper"), "%s", err);
    config_deinit(&cfg);

    char *a3[] = {"shardkv-server", "--include", inc, "--port", "7004"};
    cr_assert_eq(load(&cfg, err, sizeof(err), 5, a3), 0, "%s", err);
    cr_assert_eq(cfg.timeout, 7, "--include works as on redis-server's command line");
    config_deinit(&cfg);
    unlink(inc);
    unlink(main_conf);
    unlink(loop_conf);
    rmdir(dir);
}

Test(config, redis_flags)
{
    char *argv[] = {"shardkv-server", "--port", "6380", "--save", "",   "--daemonize", "yes",
                    "--pidfile", "/tmp/x.pid", "--unixsocket", "/tmp/x.sock",
                    "--protected-mode", "no", "--min-replicas-to-write", "1", "--appendonly", "no"};
    struct config cfg;
    char err[256] = "";
    cr_assert_eq(load(&cfg, err, sizeof(err), 17, argv), 0, "%s", err);
    cr_assert_eq(cfg.port, 6380);
    cr_assert_null(cfg.save);
    cr_assert(cfg.daemonize);
    cr_assert_str_eq(cfg.pidfile, "/tmp/x.pid");
    cr_assert_str_eq(cfg.unixsocket, "/tmp/x.sock");
    cr_assert_not(cfg.protected_mode);
    cr_assert_eq(cfg.nwarnings, 2);
    cr_assert(strstr(cfg.warnings[0], "flag --min-replicas-to-write") &&
                  strstr(cfg.warnings[0], "NOT ENFORCED"),
              "%s", cfg.warnings[0]);
    config_deinit(&cfg);

    char *a2[] = {"shardkv-server", "--save", "900", "1", "300", "10", "--port", "1"};
    cr_assert_eq(load(&cfg, err, sizeof(err), 8, a2), 0, "%s", err);
    cr_assert_str_eq(cfg.save, "900 1 300 10", "a flag takes every value up to the next flag");
    cr_assert_eq(cfg.port, 1);
    config_deinit(&cfg);

    char *a3[] = {"shardkv-server", "--port", "1", "2"};
    cr_assert_eq(load(&cfg, err, sizeof(err), 4, a3), -1);
    cr_assert(strstr(err, "flag --port") && strstr(err, "'1 2'"), "%s", err);
    config_deinit(&cfg);
}

/* A row without a value glob hides an option of the same name from every
 * source: when a directive becomes an option, its rows must go. */
Test(config, ignored_rows_do_not_shadow_options)
{
    const char *name, *values, *why;
    size_t n = 0;
    for (size_t i = 0; config_redis_ignored_row(i, &name, &values, &why); i++, n++) {
        cr_assert(values != NULL || !config_is_option(name),
                  "ignored row '%s' shadows the option of that name: delete the row", name);
        cr_assert(why[0] != '\0');
        for (const char *p = name; *p; p++)
            cr_assert(!(*p >= 'A' && *p <= 'Z'), "'%s' is lower case", name);
    }
    cr_assert_gt(n, 50);
}
Test(config, output_buffer_limit_classes)
{
    struct config cfg;
    char err[256] = "";
    char *argv[] = {"shardkv-server", "--client-output-buffer-limit", "normal 64mb 1k 5"};
    cr_assert_eq(load(&cfg, err, sizeof(err), 3, argv), 0, "%s", err);
    const struct config_obuf_limit *n = &cfg.client_obuf[CONFIG_OBUF_NORMAL];
    cr_assert_eq(n->hard, 64ull << 20);
    cr_assert_eq(n->soft, 1000);
    cr_assert_eq(n->soft_seconds, 5);
    /* Classes not given keep their defaults; "slave" as Redis 7.0 prints it. */
    cr_assert_str_eq(get(&cfg, "client-output-buffer-limit"),
                     "client-output-buffer-limit=normal 67108864 1000 5 "
                     "slave 268435456 67108864 60 pubsub 33554432 8388608 60;");
    /* "" sets nothing; "replica" and "slave" name one class. */
    cr_assert_eq(config_set(&cfg, "client-output-buffer-limit", "", err, sizeof(err)), 0);
    cr_assert_eq(config_set(&cfg, "client-output-buffer-limit", "replica 1 2 3 slave 4 5 6", err,
                            sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(cfg.client_obuf[CONFIG_OBUF_REPLICA].hard, 4);
    /* Every group is checked before any is taken. */
    static const struct {
        const char *val, *why;
    } bad[] = {
        {"normal 1 2", "Wrong number of arguments in buffer limit configuration."},
        {"normal 1 2 3 ", "Wrong number of arguments in buffer limit configuration."},
        {"pubsub 9 9 9 master 1 2 3", "Invalid client class specified in buffer limit configuration."},
        {"pubsub 9 9 9 normal 1 2 2147483648",
         "Error in hard, soft or soft_seconds setting in buffer limit configuration."},
        {"normal +1 2 3", "Error in hard, soft or soft_seconds setting in buffer limit configuration."},
        {"normal 1 2 -1", "Error in hard, soft or soft_seconds setting in buffer limit configuration."},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(config_set(&cfg, "client-output-buffer-limit", bad[i].val, err, sizeof(err)),
                     -1, "%s", bad[i].val);
        char want[256];
        snprintf(want, sizeof want,
                 "CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - %s",
                 bad[i].why);
        cr_assert_str_eq(err, want);
    }
    cr_assert_eq(cfg.client_obuf[CONFIG_OBUF_PUBSUB].hard, 32ull << 20, "nothing was applied");
    config_deinit(&cfg);
}

/* The encoding thresholds: Redis 7.0's names and its "ziplist" aliases, both
 * listed by CONFIG GET, errors quoting the name used, and every change
 * handed to the shards' limits (tval_limits). */
Test(config, hash_thresholds_and_aliases)
{
    struct config cfg;
    char err[256];
    char *argv[] = {"shardkv-server", "--hash-max-ziplist-entries", "9"};
    cr_assert_eq(load(&cfg, err, sizeof(err), 3, argv), 0, "%s", err);
    struct tval_limits l;
    tval_limits_get(&l);
    cr_expect_eq(l.hash_max_listpack_entries, 9);
    cr_expect_eq(l.hash_max_listpack_value, 64);
    cr_expect_str_eq(get(&cfg, "hash-max-*"),
                     "hash-max-listpack-entries=9;hash-max-listpack-value=64;"
                     "hash-max-ziplist-entries=9;hash-max-ziplist-value=64;");

    cr_assert_eq(config_set(&cfg, "hash-max-ziplist-value", "1kb", err, sizeof(err)), 0);
    tval_limits_get(&l);
    cr_expect_eq(l.hash_max_listpack_value, 1024);
    cr_expect_str_eq(get(&cfg, "hash-max-listpack-value"), "hash-max-listpack-value=1024;");
    /* Past 32 bits the threshold saturates: no hash can reach it anyway. */
    cr_assert_eq(config_set(&cfg, "hash-max-listpack-entries", "9223372036854775807", err,
                            sizeof(err)), 0);
    tval_limits_get(&l);
    cr_expect_eq(l.hash_max_listpack_entries, UINT32_MAX);

    cr_expect_eq(config_set(&cfg, "hash-max-ziplist-entries", "abc", err, sizeof(err)), -1);
    cr_expect_str_eq(err, "CONFIG SET failed (possibly related to argument "
                          "'hash-max-ziplist-entries') - argument couldn't be parsed into an "
                          "integer");
    cr_expect_eq(config_set(&cfg, "hash-max-listpack-value", "-1", err, sizeof(err)), -1);
    cr_expect_str_eq(err, "CONFIG SET failed (possibly related to argument "
                          "'hash-max-listpack-value') - argument must be a memory value");
    cr_expect_eq(config_set(&cfg, "hash-max-listpack-value", "9223372036854775808", err,
                            sizeof(err)), -1);
    cr_expect(strstr(err, "between 0 and 9223372036854775807 inclusive"), "%s", err);
    config_deinit(&cfg);
}
