/* persist_dir.h — the data directory at start-up: is it usable, and which
 * temp files in it did killed saves leave behind. Main thread, before the
 * first snapshot (server/persist/persist.c calls both from persist_load). */
#ifndef SKV_SERVER_PERSIST_DIR_H
#define SKV_SERVER_PERSIST_DIR_H

#include <inttypes.h>

/* The name of a snapshot's temp file in dir, from the writing process's
 * pid and the snapshot's number: the pid lets persist_dir_clean tell whose
 * file it is, the number keeps a scheduled save from reusing a name. */
#define PERSIST_DIR_TEMP_FMT "temp-%d-%" PRIu64 ".rdb"

/* Check that snapshots can be written into dir: it exists, is a directory
 * and is writable. Returns 0, or -1 after logging why ("Can't chdir to
 * '<dir>': No such file or directory", as Redis before 7.0 logged it, or
 * "Not a directory", "Read-only file system", "Permission denied"); the
 * server must then exit 1, as Redis does. Redis 7.0 finds an unwritable
 * dir only at its first save; we refuse to start instead. */
int persist_dir_check(const char *dir);

/* Remove from dir the temp files of snapshots that no live process is
 * writing, one log line each. Candidates are regular files named
 * temp-<pid>-<n>.rdb (our own pattern only: Redis's temp-<pid>.rdb is not
 * ours) directly in dir (PERSIST_DIR_TEMP_FMT). One is kept while its pid is a live process other
 * than us, which may be saving into the same dir, and while its lock is
 * held (snap_create locks the file it writes, which covers a writer in
 * another pid namespace). */
void persist_dir_clean(const char *dir);

#endif
