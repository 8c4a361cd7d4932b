/* fuzz_conftext.c — libFuzzer target for the redis.conf reader: the
 * argument splitter (server/util/conftext.c) on the whole input as one line, the
 * line walker, and every directive applied to a real configuration through
 * config_redis_load_text (server/core/config_redis.c, config.c) with include
 * turned off, so the fuzzer never opens files. A config file is untrusted
 * input: nothing in it may crash the server or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/core/config.h"
#include "server/core/config_redis.h"
#include "server/util/conftext.h"

static int last_line;

/* Checks what conftext_parse hands over: a name, NUL-terminated arguments,
 * a NULL after the last, line numbers that only grow. */
static int check_directive(void *arg, int lineno, int argc, char **argv)
{
    (void)arg;
    if (argc < 1 || argv[argc] != NULL || lineno <= last_line)
        __builtin_trap();
    last_line = lineno;
    for (int i = 0; i < argc; i++)
        if (argv[i] == NULL)
            __builtin_trap();
    for (const char *p = argv[0]; *p; p++)
        if (*p >= 'A' && *p <= 'Z') /* names are lower-cased */
            __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;

    struct conftext_args a;
    int rc = conftext_split(text, size, &a);
    if (rc == CONFTEXT_OK) {
        if (a.argv == NULL || a.argv[a.argc] != NULL)
            __builtin_trap();
        for (int i = 0; i < a.argc; i++)
            if (strlen(a.argv[i]) > size) /* an argument never outgrows its line */
                __builtin_trap();
    } else if (a.argc != 0 || a.argv != NULL) {
        __builtin_trap(); /* a failed split leaves nothing behind */
    }
    conftext_args_free(&a);

    int bad;
    last_line = 0;
    rc = conftext_parse(text, size, check_directive, NULL, &bad);
    if ((rc == CONFTEXT_OK) != (bad == 0))
        __builtin_trap();

    static char *argv[] = {"fuzz_conftext", NULL};
    struct config cfg;
    char err[512];
    if (config_load(&cfg, 1, argv, err, sizeof(err)) == 0) {
        struct config_redis_ctx ctx = {.allow_include = false};
        err[0] = '\0';
        if (config_redis_load_text(&cfg, &ctx, "fuzz", text, size, err, sizeof(err)) != 0 &&
            err[0] == '\0')
            __builtin_trap(); /* every failure says why */
    }
    config_deinit(&cfg);
    return 0;
}
