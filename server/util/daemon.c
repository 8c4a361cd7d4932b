/* daemon.c — process-level start-up as redis-server does it: daemonize,
 * pid file, open-file limit (adjustOpenFilesLimit). Main thread only. */
#include "server/util/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "server/util/log.h"

int daemon_detach(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0)
        _exit(0); /* the parent: the shell or service manager goes on */
    setsid();
    int fd = open("/dev/null", O_RDWR, 0);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    return 0;
}

int daemon_write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    fprintf(f, "%d\n", (int)getpid());
    if (fclose(f) != 0)
        return -errno;
    return 0;
}

void daemon_remove_pidfile(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    int pid = 0;
    int n = fscanf(f, "%d", &pid);
    fclose(f);
    if (n == 1 && pid == (int)getpid())
        unlink(path);
}

int daemon_fit_nofile(unsigned *maxclients)
{
    rlim_t maxfiles = (rlim_t)*maxclients + DAEMON_RESERVED_FDS;
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == -1) {
        log_warn("Unable to obtain the current NOFILE limit (%s), assuming 1024 and setting "
                 "the max clients configuration accordingly.",
                 strerror(errno));
        *maxclients = 1024 - DAEMON_RESERVED_FDS;
        return 0;
    }
    rlim_t oldlimit = limit.rlim_cur;
    if (oldlimit >= maxfiles)
        return 0;
    /* Try the full amount, then step down 16 at a time (Redis's loop), so
     * a hard limit between the two is still used. */
    const rlim_t step = 16;
    rlim_t best = maxfiles;
    int setrlimit_error = 0;
    while (best > oldlimit) {
        limit.rlim_cur = best;
        limit.rlim_max = best;
        if (setrlimit(RLIMIT_NOFILE, &limit) != -1)
            break;
        setrlimit_error = errno;
        if (best < step) {
            best = oldlimit;
            break;
        }
        best -= step;
    }
    if (best < oldlimit)
        best = oldlimit;
    if (best >= maxfiles) {
        log_notice("Increased maximum number of open files to %llu (it was originally set to "
                   "%llu).",
                   (unsigned long long)maxfiles, (unsigned long long)oldlimit);
        return 0;
    }
    unsigned old_maxclients = *maxclients;
    if (best <= DAEMON_RESERVED_FDS) {
        log_warn("Your current 'ulimit -n' of %llu is not enough for the server to start. "
                 "Please increase your open file limit to at least %llu. Exiting.",
                 (unsigned long long)oldlimit, (unsigned long long)maxfiles);
        return -1;
    }
    *maxclients = (unsigned)(best - DAEMON_RESERVED_FDS);
    log_warn("You requested maxclients of %u requiring at least %llu max file descriptors.",
             old_maxclients, (unsigned long long)maxfiles);
    log_warn("Server can't set maximum open files to %llu because of OS error: %s.",
             (unsigned long long)maxfiles, strerror(setrlimit_error));
    log_warn("Current maximum open files is %llu. maxclients has been reduced to %u to "
             "compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
             (unsigned long long)best, *maxclients);
    return 0;
}
