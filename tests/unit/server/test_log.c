/* test_log.c — the server log: Redis's line format, level filtering, the
 * thread role, truncation, and whole lines when several threads log at once. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/util/log.h"

static char path[64];

static void setup_file(int level)
{
    strcpy(path, "/tmp/skv-log-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(log_setup(level, path), 0);
}

/* The file's content (static buffer). */
static const char *slurp(void)
{
    static char buf[1 << 20];
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void done(void)
{
    log_teardown();
    unlink(path);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

Test(log, redis_line_format)
{
    setup_file(LOG_DEBUG);
    log_notice("hello %d", 42);
    log_set_thread_name("W3");
    log_warn("careful");
    log_verbose("v");
    log_debug("d");
    const char *text = slurp();
    regex_t re;
    cr_assert_eq(regcomp(&re,
                         "^[0-9]+:M [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} "
                         "\\* hello 42\n"
                         "[0-9]+:W3 [^\n]* # careful\n"
                         "[0-9]+:W3 [^\n]* - v\n"
                         "[0-9]+:W3 [^\n]* \\. d\n$",
                         REG_EXTENDED),
                 0);
    cr_assert_eq(regexec(&re, text, 0, NULL, 0), 0, "got:\n%s", text);
    regfree(&re);
    done();
}

Test(log, level_filters)
{
    setup_file(LOG_WARNING);
    log_debug("no");
    log_verbose("no");
    log_notice("no");
    log_warn("yes");
    cr_assert_eq(count_lines(slurp()), 1);
    log_set_level(LOG_VERBOSE);
    cr_assert_eq(log_level(), LOG_VERBOSE);
    log_debug("no");
    log_verbose("yes");
    cr_assert_eq(count_lines(slurp()), 2);
    cr_assert(strstr(slurp(), "no") == NULL);
    done();
}

Test(log, level_names)
{
    cr_assert_eq(log_level_parse("debug"), LOG_DEBUG);
    cr_assert_eq(log_level_parse("VERBOSE"), LOG_VERBOSE);
    cr_assert_eq(log_level_parse("Notice"), LOG_NOTICE);
    cr_assert_eq(log_level_parse("warning"), LOG_WARNING);
    cr_assert_eq(log_level_parse("warn"), -1);
    cr_assert_eq(log_level_parse(""), -1);
    cr_assert_str_eq(log_level_name(LOG_NOTICE), "notice");
    cr_assert_str_eq(log_level_name(99), "unknown");
}

Test(log, long_messages_are_truncated_on_one_line)
{
    setup_file(LOG_NOTICE);
    char *big = malloc(3 * LOG_MAX_LINE);
    memset(big, 'x', 3 * LOG_MAX_LINE - 1);
    big[3 * LOG_MAX_LINE - 1] = '\0';
    log_notice("%s", big);
    free(big);
    const char *text = slurp();
    cr_assert_eq(count_lines(text), 1);
    cr_assert_eq(strlen(text), LOG_MAX_LINE, "one full line, newline included");
    cr_assert(strstr(text, "...\n") != NULL);
    done();
}

Test(log, unopenable_file_keeps_previous_destination)
{
    setup_file(LOG_NOTICE);
    cr_assert_lt(log_setup(LOG_NOTICE, "/nonexistent-dir/x.log"), 0);
    log_notice("still here");
    cr_assert(strstr(slurp(), "still here") != NULL);
    done();
}

static void *writer(void *arg)
{
    char name[8];
    snprintf(name, sizeof(name), "W%d", (int)(intptr_t)arg);
    log_set_thread_name(name);
    for (int i = 0; i < 500; i++)
        log_notice("thread %d line %d %s", (int)(intptr_t)arg, i,
                   "padding-padding-padding-padding-padding-padding-padding");
    return NULL;
}

Test(log, concurrent_lines_stay_whole)
{
    setup_file(LOG_NOTICE);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    const char *text = slurp();
    cr_assert_eq(count_lines(text), 2000);
    /* Every line is exactly one message: its role matches its thread. */
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        int role, thr, line;
        const char *colon = strchr(p, ':');
        cr_assert(colon && colon < nl);
        cr_assert_eq(sscanf(colon + 1, "W%d", &role), 1);
        const char *msg = strstr(p, "thread ");
        cr_assert(msg && msg < nl, "%.*s", (int)(nl - p), p);
        cr_assert_eq(sscanf(msg, "thread %d line %d", &thr, &line), 2);
        cr_assert_eq(role, thr);
        cr_assert(strstr(msg, "padding\n") == nl - 7);
        p = nl + 1;
    }
    done();
}
