/* persist_dir.c — start-up checks of the data directory and removal of
 * the temp files that killed saves left in it. Main thread, before any
 * snapshot starts. */
#include "server/persist/persist_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/util/log.h"

/* 0 if snapshots can be written into dir, else the errno that says why
 * not: ENOENT, ENOTDIR, or EACCES/EROFS for a directory we cannot write. */
static int dir_error(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return errno;
    if (!S_ISDIR(sb.st_mode))
        return ENOTDIR;
    if (access(dir, W_OK | X_OK) != 0)
        return errno;
    return 0;
}

/* Is name one of our temp files, PERSIST_DIR_TEMP_FMT? Sets *pid. Anything else, Redis's
 * temp-<pid>.rdb included, is not ours to remove. */
static bool temp_name_pid(const char *name, pid_t *pid)
{
    if (strncmp(name, "temp-", 5) != 0)
        return false;
    const char *p = name + 5;
    long long v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (digits == 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    if (digits == 0 || v <= 0 || v > INT_MAX || *p++ != '-')
        return false;
    for (digits = 0; *p >= '0' && *p <= '9'; p++, digits++)
        if (digits == 20)
            return false;
    if (digits == 0 || strcmp(p, ".rdb") != 0)
        return false;
    *pid = (pid_t)v;
    return true;
}

void persist_dir_clean(const char *dir)
{
    /* A save cut short by kill -9 or a crash leaves its temp file, and
     * every such file would stay until the disk is full. */
    DIR *d = opendir(dir);
    if (!d)
        return; /* dir_error said it is a directory we can use */
    int dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        pid_t pid;
        if (!temp_name_pid(e->d_name, &pid))
            continue;
        if (pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM))
            continue;
        /* O_NOFOLLOW: a symlink is not ours; O_NONBLOCK: nor would a FIFO
         * be, and opening one must not block start-up. */
        int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat sb, now;
        bool stale = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
                     flock(fd, LOCK_EX | LOCK_NB) == 0 &&
                     fstatat(dfd, e->d_name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
                     now.st_ino == sb.st_ino && now.st_dev == sb.st_dev;
        if (stale && unlinkat(dfd, e->d_name, 0) == 0)
            log_notice("Removed %s/%s (%lld bytes): the temp file of a save by process %d, "
                       "which is no longer running",
                       dir, e->d_name, (long long)sb.st_size, (int)pid);
        else if (stale)
            log_warn("Could not remove the stale temp file %s/%s: %s", dir, e->d_name,
                     strerror(errno));
        close(fd);
    }
    closedir(d);
}

int persist_dir_check(const char *dir)
{
    int e = dir_error(dir);
    if (e == 0)
        return 0;
    if (e == ENOENT || e == ENOTDIR)
        log_warn("Can't chdir to '%s': %s", dir, strerror(e));
    else
        log_warn("Can't write to the data directory '%s' (dir): %s", dir, strerror(e));
    return -1;
}
