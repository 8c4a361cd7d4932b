/* cli_history.c — shardkv-cli's history file: located like redis-cli's,
 * one command per line, rewritten after each command with mode 0600.
 * Single-threaded. */
#include "client/cli_history.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

char *cli_history_path(void)
{
    const char *env = getenv(CLI_HISTORY_ENV);
    if (env != NULL && *env != '\0') {
        if (!strcmp(env, "/dev/null"))
            return NULL;
        return strdup(env);
    }
    const char *home = getenv("HOME");
    if (home == NULL || *home == '\0')
        return NULL;
    size_t n = strlen(home) + 1 + strlen(CLI_HISTORY_FILE) + 1;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", home, CLI_HISTORY_FILE);
    return p;
}

/* Append without the repeat check (loading keeps the file as it is). */
static int push(struct cli_history *h, const char *line, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, line, len);
    copy[len] = '\0';
    if (h->len == CLI_HISTORY_MAX) {
        free(h->line[0]);
        memmove(h->line, h->line + 1, (size_t)(h->len - 1) * sizeof(*h->line));
        h->len--;
    }
    h->line[h->len++] = copy;
    return 0;
}

int cli_history_init(struct cli_history *h, char *path)
{
    h->path = path;
    h->len = 0;
    h->line = calloc(CLI_HISTORY_MAX, sizeof(*h->line));
    if (h->line == NULL)
        return -1;
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f == NULL)
        return 0;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&buf, &cap, f)) >= 0) {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        if (n > 0)
            rc = push(h, buf, (size_t)n);
    }
    free(buf);
    fclose(f);
    return rc;
}

void cli_history_deinit(struct cli_history *h)
{
    for (int i = 0; h->line != NULL && i < h->len; i++)
        free(h->line[i]);
    free(h->line);
    free(h->path);
    memset(h, 0, sizeof(*h));
}

int cli_history_add(struct cli_history *h, const char *line)
{
    if (h->len > 0 && !strcmp(h->line[h->len - 1], line))
        return 0;
    return push(h, line, strlen(line)) < 0 ? -1 : 1;
}

int cli_history_save(const struct cli_history *h)
{
    if (h->path == NULL)
        return 0;
    int fd = open(h->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    int rc = fchmod(fd, S_IRUSR | S_IWUSR);
    for (int i = 0; i < h->len; i++)
        if (fputs(h->line[i], f) == EOF || fputc('\n', f) == EOF)
            rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

/* Is any of argv[from..argc) equal to one of the words (case-insensitive)? */
static bool has_word(int argc, char *const *argv, int from, const char *a, const char *b)
{
    for (int i = from; i < argc; i++)
        if (!strcasecmp(argv[i], a) || (b != NULL && !strcasecmp(argv[i], b)))
            return true;
    return false;
}

bool cli_history_is_secret(int argc, char *const *argv)
{
    if (argc < 1)
        return false;
    const char *cmd = argv[0];
    if (!strcasecmp(cmd, "auth"))
        return true;
    if (!strcasecmp(cmd, "hello"))
        return has_word(argc, argv, 1, "auth", NULL);
    if (!strcasecmp(cmd, "migrate"))
        return has_word(argc, argv, 1, "auth", "auth2");
    if (argc >= 2 && !strcasecmp(cmd, "acl"))
        return !strcasecmp(argv[1], "setuser");
    if (argc >= 2 && !strcasecmp(cmd, "config") && !strcasecmp(argv[1], "set"))
        return has_word(argc, argv, 2, "requirepass", "masterauth") ||
               has_word(argc, argv, 2, "masteruser", NULL);
    return false;
}
