/* log.h — the server log: one line per message in Redis's format
 * "pid:role dd Mon yyyy hh:mm:ss.mmm <level> message", written with one
 * write(2) per line so lines from several threads never interleave. Any
 * thread may log; the role letter comes from a thread-local name. */
#ifndef SKV_SERVER_LOG_H
#define SKV_SERVER_LOG_H

/* Redis's verbosity levels, in increasing severity. The symbol printed for
 * each is Redis's: '.' debug, '-' verbose, '*' notice, '#' warning. */
enum log_level {
    LOG_DEBUG = 0,   /* "debug": a lot of information, for development */
    LOG_VERBOSE = 1, /* "verbose": useful, less noisy than debug */
    LOG_NOTICE = 2,  /* "notice": the default; what production wants */
    LOG_WARNING = 3, /* "warning": only very important / critical messages */
};

/* Longest line written; longer messages are truncated (with "..."). Redis
 * uses 1024 (LOG_MAX_LEN); paths and client lists can be longer. */
#define LOG_MAX_LINE 4096

/* Set the minimum level and the destination: path NULL or "" logs to
 * stderr, otherwise the file is opened for append (created 0644). May be
 * called again (e.g. after CONFIG SET); the previous file is closed. Returns
 * 0, or a negative errno if the file cannot be opened (the previous
 * destination is then kept). Main thread, or any thread once started. */
int log_setup(int level, const char *path);

/* Change only the level (CONFIG SET loglevel). Any thread. */
void log_set_level(int level);

/* The current minimum level. Any thread. */
int log_level(void);

/* Close the log file (if any) and go back to stderr. Main thread at exit. */
void log_teardown(void);

/* Name the calling thread's role in log lines: "M" for the main thread
 * (the default), "W0".."Wn" for workers. name is copied (at most 7 bytes). */
void log_set_thread_name(const char *name);

/* Format and write one line if level >= the configured level. Never fails
 * visibly: a failed write is dropped. Any thread. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Level names as in redis.conf: "debug", "verbose", "notice", "warning".
 * log_level_parse returns the level or -1 if name is not one of them
 * (case-insensitive). log_level_name returns a static string. */
int log_level_parse(const char *name);
const char *log_level_name(int level);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_verbose(...) log_msg(LOG_VERBOSE, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)

#endif
