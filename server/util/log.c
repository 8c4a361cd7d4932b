/* log.c — the server log (see log.h). Lines are formatted into a stack
 * buffer and written with a single write(2), which POSIX keeps whole for
 * O_APPEND files and pipes, so no lock is needed on the hot path; only
 * log_setup swaps the descriptor, under a mutex. Any thread. */
#include "server/util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int min_level = LOG_NOTICE; /* lines below this are dropped */
static _Atomic int log_fd = STDERR_FILENO; /* where lines go */
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER; /* serialises fd swaps */
static _Thread_local char thread_name[8] = "M"; /* role shown after the pid */

static const char *const level_names[] = {"debug", "verbose", "notice", "warning"};
static const char level_marks[] = {'.', '-', '*', '#'}; /* Redis's symbols */

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

const char *log_level_name(int level)
{
    return level >= LOG_DEBUG && level <= LOG_WARNING ? level_names[level] : "unknown";
}

int log_setup(int level, const char *path)
{
    int fd = STDERR_FILENO;
    if (path != NULL && path[0] != '\0') {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return -errno;
    }
    pthread_mutex_lock(&setup_lock);
    int old = atomic_exchange(&log_fd, fd);
    /* A thread that loaded the old fd may still write to it after close; a
     * write to a closed (or reused) fd is the price of not locking every
     * line. Reconfiguring the log file at run time is rare; accept it. */
    if (old != STDERR_FILENO && old != fd)
        close(old);
    pthread_mutex_unlock(&setup_lock);
    log_set_level(level);
    return 0;
}

void log_set_level(int level)
{
    if (level < LOG_DEBUG)
        level = LOG_DEBUG;
    if (level > LOG_WARNING)
        level = LOG_WARNING;
    atomic_store(&min_level, level);
}

int log_level(void)
{
    return atomic_load(&min_level);
}

void log_teardown(void)
{
    (void)log_setup(log_level(), NULL);
}

void log_set_thread_name(const char *name)
{
    snprintf(thread_name, sizeof(thread_name), "%s", name);
}

void log_msg(int level, const char *fmt, ...)
{
    if (level < atomic_load(&min_level))
        return;
    if (level > LOG_WARNING)
        level = LOG_WARNING;
    if (level < LOG_DEBUG)
        level = LOG_DEBUG;

    char line[LOG_MAX_LINE];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%d:%s ", (int)getpid(), thread_name);
    n += (int)strftime(line + n, sizeof(line) - (size_t)n, "%d %b %Y %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03d %c ", (int)(tv.tv_usec / 1000),
                  level_marks[level]);

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* Room for the newline: the last byte of line is always kept for it. */
    size_t len;
    if (m < 0) {
        len = (size_t)n;
    } else if ((size_t)n + (size_t)m >= sizeof(line) - 1) {
        len = sizeof(line) - 1;
        memcpy(line + len - 3, "...", 3);
    } else {
        len = (size_t)(n + m);
    }
    line[len++] = '\n';
    ssize_t w;
    do {
        w = write(atomic_load(&log_fd), line, len);
    } while (w < 0 && errno == EINTR);
}
