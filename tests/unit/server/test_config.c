/* test_config.c — server configuration: defaults, the precedence of file <
 * environment < flags, Redis size units, limits, error messages naming their
 * source, CONFIG GET globbing and formatting, CONFIG SET validation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/config.h"
#include "server/log.h"

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
    cr_assert_str_eq(get(&cfg, "max*"), "maxclients=10000;max-inline=65536;max-multibulk=1048576;");
    cr_assert_str_eq(get(&cfg, "d[a-b]*"), "databases=16;dbfilename=dump.rdb;");
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
    /* save is a real option now (server/persist.c reads it). */
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
