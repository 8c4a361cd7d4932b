/* cli.c — shardkv-cli, a command-line client in the manner of redis-cli:
 * one-shot commands, an interactive prompt (libedit line editing, history,
 * Tab completion, help from the server's COMMAND DOCS), raw/tty/--json
 * printing, -r repeats, and --pipe bulk loading of RESP from stdin.
 * Single-threaded. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <editline/readline.h>

#include "client/cli_format.h"
#include "client/cli_help.h"
#include "client/cli_history.h"
#include "client/reply.h"
#include "client/shardkv.h"
#include "common/clock.h"

enum output { OUT_TTY, OUT_RAW, OUT_JSON };

/* Everything the command line sets. */
struct cli_config {
    const char *host;     /* -h */
    int port;             /* -p */
    const char *password; /* -a */
    bool auth_warning;    /* warn about -a on the command line */
    int db;               /* -n */
    long repeat;          /* -r: times to run the command; -1 forever */
    double interval;      /* -i: seconds between repeats */
    enum output out;      /* how replies are printed */
    bool resp3;           /* -3 or --json: HELLO 3 after connecting */
    bool pipe;            /* --pipe */
    int pipe_timeout;     /* --pipe-timeout seconds, 0 = forever */
    bool stdin_last_arg;  /* -x */
    int timeout_ms;       /* -t seconds: connect and read timeout */
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: shardkv-cli [OPTIONS] [cmd [arg [arg ...]]]\n"
               "  -h <hostname>      Server hostname (default: 127.0.0.1).\n"
               "  -p <port>          Server port (default: 6379).\n"
               "  -a <password>      Password to use when connecting (AUTH).\n"
               "  -n <db>            Database number (SELECT).\n"
               "  -r <repeat>        Execute specified command N times (-1: forever).\n"
               "  -i <interval>      When -r is used, waits <interval> seconds per command.\n"
               "  -x                 Read last argument from STDIN.\n"
               "  -t <timeout>       Connect and read timeout in seconds (default: none).\n"
               "  -3                 Start session in RESP3 protocol mode (HELLO 3).\n"
               "  --raw              Use raw formatting for replies (default when STDOUT\n"
               "                     is not a tty).\n"
               "  --no-raw           Force formatted output even when STDOUT is not a tty.\n"
               "  --json             Output in JSON format (implies -3).\n"
               "  --pipe             Transfer raw RESP protocol from stdin to server.\n"
               "  --pipe-timeout <n> In --pipe mode, abort if no reply arrives for <n>\n"
               "                     seconds after all data is sent (default 30, 0: never).\n"
               "  --no-auth-warning  Don't warn about a password on the command line.\n"
               "  --help             Output this help and exit.\n"
               "  --version          Output version and exit.\n"
               "\n"
               "Examples:\n"
               "  shardkv-cli -p 6380 set key value\n"
               "  shardkv-cli -r 100 incr counter\n"
               "  cat commands.resp | shardkv-cli --pipe\n"
               "\n"
               "Without a command, an interactive prompt reads commands; quoting follows\n"
               "redis-cli (\"double quotes\" with \\n \\xHH escapes, 'single quotes').\n"
               "At a terminal it has line editing, Tab completion, \"help <command>\", and\n"
               "history in ~/" CLI_HISTORY_FILE " ($" CLI_HISTORY_ENV " names another\n"
               "file; /dev/null: none).\n");
}

static bool parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* Parse options; returns the index of the first command word, or -1 after
 * printing an error (exit 1), or -2 when the caller should exit 0. */
static int parse_options(int argc, char **argv, struct cli_config *cfg)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        long v;
        if (!strcmp(a, "-h") && has_next) {
            cfg->host = argv[++i];
        } else if (!strcmp(a, "-p") && has_next) {
            if (!parse_long(argv[++i], &v) || v <= 0 || v > 65535) {
                fprintf(stderr, "Invalid port: %s\n", argv[i]);
                return -1;
            }
            cfg->port = (int)v;
        } else if (!strcmp(a, "-a") && has_next) {
            cfg->password = argv[++i];
        } else if (!strcmp(a, "-n") && has_next) {
            if (!parse_long(argv[++i], &v) || v < 0 || v > 1000000) {
                fprintf(stderr, "Invalid db number: %s\n", argv[i]);
                return -1;
            }
            cfg->db = (int)v;
        } else if (!strcmp(a, "-r") && has_next) {
            if (!parse_long(argv[++i], &v)) {
                fprintf(stderr, "Invalid repeat count: %s\n", argv[i]);
                return -1;
            }
            cfg->repeat = v;
        } else if (!strcmp(a, "-i") && has_next) {
            char *end;
            cfg->interval = strtod(argv[++i], &end);
            if (*end != '\0' || cfg->interval < 0) {
                fprintf(stderr, "Invalid interval: %s\n", argv[i]);
                return -1;
            }
        } else if (!strcmp(a, "-t") && has_next) {
            char *end;
            double t = strtod(argv[++i], &end);
            if (*end != '\0' || t < 0 || t > 86400) {
                fprintf(stderr, "Invalid timeout: %s\n", argv[i]);
                return -1;
            }
            cfg->timeout_ms = (int)(t * 1000);
        } else if (!strcmp(a, "-x")) {
            cfg->stdin_last_arg = true;
        } else if (!strcmp(a, "-3")) {
            cfg->resp3 = true;
        } else if (!strcmp(a, "--raw")) {
            cfg->out = OUT_RAW;
        } else if (!strcmp(a, "--no-raw")) {
            cfg->out = OUT_TTY;
        } else if (!strcmp(a, "--json")) {
            cfg->out = OUT_JSON;
            cfg->resp3 = true;
        } else if (!strcmp(a, "--pipe")) {
            cfg->pipe = true;
        } else if (!strcmp(a, "--pipe-timeout") && has_next) {
            if (!parse_long(argv[++i], &v) || v < 0 || v > 86400) {
                fprintf(stderr, "Invalid pipe timeout: %s\n", argv[i]);
                return -1;
            }
            cfg->pipe_timeout = (int)v;
        } else if (!strcmp(a, "--no-auth-warning")) {
            cfg->auth_warning = false;
        } else if (!strcmp(a, "--help")) {
            usage(stdout);
            return -2;
        } else if (!strcmp(a, "--version") || !strcmp(a, "-v")) {
            printf("shardkv-cli %d.%d.%d\n", SKV_VERSION_MAJOR, SKV_VERSION_MINOR,
                   SKV_VERSION_PATCH);
            return -2;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "Unrecognized option or bad number of args for: '%s'\n", a);
            return -1;
        } else {
            break;
        }
    }
    return i;
}

/* Print one reply in the configured form, with the trailing newline;
 * as_is: the command's reply is a text printed as it is (cli_prints_as_is). */
static void print_reply(const struct cli_config *cfg, const struct skv_reply *r, bool as_is)
{
    struct cli_buf b = {0};
    if (as_is) {
        cli_format_as_is(&b, r);
    } else if (cfg->out == OUT_TTY) {
        cli_format_tty(&b, r);
    } else if (cfg->out == OUT_RAW) {
        cli_format_raw(&b, r);
    } else {
        cli_format_json(&b, r);
        cli_buf_add(&b, "\n", 1);
    }
    if (b.oom)
        fputs("(out of memory formatting the reply)\n", stdout);
    else if (b.len)
        fwrite(b.ptr, 1, b.len, stdout);
    cli_buf_free(&b);
    fflush(stdout);
}

/* Run a command that must not fail (AUTH, SELECT, HELLO); report it unless
 * quiet. */
static bool setup_cmd(struct skv_client *c, int argc, const char **argv, const char *what,
                      bool quiet)
{
    struct skv_reply *r = NULL;
    int rc = skv_command_r(c, argc, argv, NULL, &r);
    if (rc < 0) {
        if (!quiet)
            fprintf(stderr, "%s failed: %s\n", what, skv_last_error(c));
        return false;
    }
    bool ok = r->type != SKV_REPLY_ERROR;
    if (!ok && !quiet)
        fprintf(stderr, "%s failed: %s\n", what, r->str);
    skv_reply_free(r);
    return ok;
}

static struct skv_client *cli_connect(const struct cli_config *cfg, bool quiet)
{
    struct skv_options o;
    skv_options_init(&o);
    if (cfg->timeout_ms > 0) {
        o.connect_timeout_ms = cfg->timeout_ms;
        o.read_timeout_ms = cfg->timeout_ms;
    }
    char *err = NULL;
    struct skv_client *c = skv_connect(cfg->host, cfg->port, &o, &err);
    if (c == NULL) {
        if (!quiet) {
            /* The library's text ends with the reason after the last ": ". */
            const char *why = err ? err : "unknown error";
            for (const char *p = why; (p = strstr(p, ": ")) != NULL; p += 2)
                why = p + 2;
            fprintf(stderr, "Could not connect to %s:%d: %s\n", cfg->host, cfg->port, why);
        }
        free(err);
        return NULL;
    }
    if (cfg->password != NULL) {
        const char *a[] = {"AUTH", cfg->password};
        setup_cmd(c, 2, a, "AUTH", quiet);
    }
    if (cfg->db != 0) {
        char num[16];
        snprintf(num, sizeof(num), "%d", cfg->db);
        const char *a[] = {"SELECT", num};
        setup_cmd(c, 2, a, "SELECT", quiet);
    }
    if (cfg->resp3) {
        /* A server without RESP3 answers an error: stay on RESP2. */
        const char *a[] = {"HELLO", "3"};
        struct skv_reply *r = skv_command(c, 2, a, NULL);
        skv_reply_free(r);
    }
    return c;
}

/* Run one command; print its reply. Returns 0, 1 for an error reply, or a
 * negative code when the connection failed (then *c is closed and NULL). */
static int run_command(const struct cli_config *cfg, struct skv_client **c, int argc,
                       const char **argv, const size_t *lens)
{
    struct skv_reply *r = NULL;
    int rc = skv_command_r(*c, argc, argv, lens, &r);
    if (rc < 0) {
        if (rc == SKV_EEOF)
            fprintf(stderr, "Error: Server closed the connection\n");
        else
            fprintf(stderr, "Error: %s\n", skv_last_error(*c));
        skv_close(*c);
        *c = NULL;
        return rc;
    }
    print_reply(cfg, r, cli_prints_as_is(argc, (char *const *)argv));
    int ret = r->type == SKV_REPLY_ERROR;
    skv_reply_free(r);
    return ret;
}

/* ---------------------------------------------------------------- help */

/* The help table, fetched once on first use. File-static because libedit's
 * completion callback takes no user pointer. */
static struct {
    const struct cli_config *cfg; /* where to fetch it from */
    struct cli_help table;        /* the server's commands; empty until fetched */
    bool loaded;                  /* table holds the server's answer */
} help;

/* The help table, asking the server the first time: COMMAND DOCS, or just
 * the names from COMMAND on a server without it. A connection of its own
 * keeps the user's session as it was (inside MULTI the question would be
 * queued, for one). A server that cannot answer leaves the table empty,
 * and the next use asks again. */
static const struct cli_help *help_table(void)
{
    if (help.loaded || help.cfg == NULL)
        return &help.table;
    struct cli_config cfg = *help.cfg;
    cfg.db = 0;
    cfg.resp3 = false;
    struct skv_client *c = cli_connect(&cfg, true);
    if (c == NULL)
        return &help.table;
    const char *docs[] = {"COMMAND", "DOCS"}, *names[] = {"COMMAND"};
    struct skv_reply *r = skv_command(c, 2, docs, NULL);
    int rc = r != NULL ? cli_help_load_docs(&help.table, r) : -2;
    if (rc == -1) {
        skv_reply_free(r);
        r = skv_command(c, 1, names, NULL);
        rc = r != NULL ? cli_help_load_names(&help.table, r) : -2;
    }
    skv_reply_free(r);
    skv_close(c);
    help.loaded = rc == 0;
    return &help.table;
}

static bool is_help(const char *word)
{
    return !strcasecmp(word, "help") || !strcmp(word, "?");
}

/* `help`, `help <command>`, `help @<group>`: answered here, as redis-cli
 * does, never sent to the server. argv are the words after "help". */
static void print_help(int argc, char *const *argv)
{
    struct cli_buf b = {0};
    if (argc == 0) {
        char head[64];
        snprintf(head, sizeof(head), "shardkv-cli %d.%d.%d\n", SKV_VERSION_MAJOR, SKV_VERSION_MINOR,
                 SKV_VERSION_PATCH);
        cli_buf_add(&b, head, strlen(head));
        static const char rest[] = "To get help about shardkv commands type:\n"
                                   "      \"help @<group>\" to get a list of commands in <group>\n"
                                   "      \"help <command>\" for help on <command>\n"
                                   "      \"help <tab>\" to get a list of possible help topics\n"
                                   "      \"quit\" to exit\n"
                                   "\n"
                                   "History is kept in ~/" CLI_HISTORY_FILE " (or $" CLI_HISTORY_ENV
                                   "; /dev/null: none).\n";
        cli_buf_add(&b, rest, sizeof(rest) - 1);
    } else {
        cli_help_format(&b, help_table(), argc, argv);
    }
    if (b.oom)
        fputs("(out of memory formatting the help)\n", stdout);
    else
        fwrite(b.ptr, 1, b.len, stdout);
    cli_buf_free(&b);
    fflush(stdout);
}

static void sleep_seconds(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Read all of stdin into a malloc'd buffer. */
static char *read_stdin(size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0)
            break;
    }
    *len = n;
    return buf;
}

/* -------------------------------------------------------------- --pipe */

/* Send stdin to the server while reading replies, then an ECHO with a
 * random marker whose reply proves every earlier reply has arrived. */
static int pipe_mode(const struct cli_config *cfg, struct skv_client *c)
{
    int fd = skv_fd(c);
    struct reply_parser rp;
    reply_parser_init(&rp);
    char marker[21];
    static const char hexd[] = "0123456789abcdef";
    srand((unsigned)clock_mono_ns() ^ (unsigned)getpid());
    for (int i = 0; i < 20; i++)
        marker[i] = hexd[rand() % 16];
    marker[20] = '\0';
    char echo[64];
    int echolen = snprintf(echo, sizeof(echo), "*2\r\n$4\r\nECHO\r\n$20\r\n%s\r\n", marker);

    char obuf[65536];
    size_t olen = 0, opos = 0;
    bool eof = false, echo_sent = false, done = false;
    long long errors = 0, replies = 0;
    uint64_t last_reply = clock_mono_ns();
    int ret = 0;
    while (!done) {
        /* Refill the send buffer from stdin (blocking read is fine: the
         * socket is drained below on every turn). */
        if (opos == olen && !eof) {
            ssize_t n = read(STDIN_FILENO, obuf, sizeof(obuf));
            if (n > 0) {
                olen = (size_t)n;
                opos = 0;
            } else if (n == 0 || errno != EINTR) {
                eof = true;
                olen = opos = 0;
            }
        }
        if (opos == olen && eof && !echo_sent) {
            memcpy(obuf, echo, (size_t)echolen);
            olen = (size_t)echolen;
            opos = 0;
            echo_sent = true;
            printf("All data transferred. Waiting for the last reply...\n");
            fflush(stdout);
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (opos < olen)
            pfd.events |= POLLOUT;
        int pr = poll(&pfd, 1, 100);
        if (pr < 0 && errno != EINTR) {
            perror("poll");
            ret = 1;
            break;
        }
        if (pfd.revents & POLLOUT) {
            ssize_t n = send(fd, obuf + opos, olen - opos, MSG_NOSIGNAL);
            if (n > 0)
                opos += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                fprintf(stderr, "Error writing to the server: %s\n", strerror(errno));
                ret = 1;
                break;
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            size_t avail;
            char *dst = reply_parser_space(&rp, 65536, &avail);
            ssize_t n = dst ? recv(fd, dst, avail, 0) : -1;
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                fprintf(stderr, "Error reading from the server: %s\n",
                        n == 0 ? "connection closed" : strerror(errno));
                ret = 1;
                break;
            }
            if (n > 0)
                reply_parser_commit(&rp, (size_t)n);
            struct skv_reply *r;
            enum reply_status st;
            while ((st = reply_parser_next(&rp, &r)) == REPLY_OK) {
                last_reply = clock_mono_ns();
                if (echo_sent && opos == olen && r->type == SKV_REPLY_STRING && r->len == 20 &&
                    memcmp(r->str, marker, 20) == 0) {
                    done = true;
                } else {
                    replies++;
                    if (r->type == SKV_REPLY_ERROR) {
                        errors++;
                        fprintf(stderr, "%s\n", r->str);
                    }
                }
                skv_reply_free(r);
            }
            if (st != REPLY_AGAIN) {
                fprintf(stderr, "Bad reply from the server: %s\n", rp.err);
                ret = 1;
                break;
            }
        }
        if (echo_sent && cfg->pipe_timeout > 0 &&
            clock_mono_ns() - last_reply > (uint64_t)cfg->pipe_timeout * 1000000000u) {
            fprintf(stderr, "No replies for %d seconds: exiting.\n", cfg->pipe_timeout);
            ret = 1;
            break;
        }
    }
    reply_parser_deinit(&rp);
    if (done) {
        printf("Last reply received from server.\n");
        printf("errors: %lld, replies: %lld\n", errors, replies);
        ret = errors > 0;
    }
    return ret;
}

/* --------------------------------------------------------- interactive */

/* Candidates handed to libedit one by one (rl_completion_matches calls the
 * generator with state 0 first, then 1, 2... until it returns NULL). */
static struct {
    char **cand; /* from cli_help_complete; owned */
    int count;   /* entries in cand */
    int next;    /* the next one to hand out */
} completion;

static char *next_candidate(const char *text, int state)
{
    (void)text;
    if (state == 0)
        completion.next = 0;
    if (completion.next >= completion.count)
        return NULL;
    /* libedit frees what it gets: hand over ownership. */
    char *c = completion.cand[completion.next];
    completion.cand[completion.next++] = NULL;
    return c;
}

/* libedit's Tab: command names, subcommands, help topics. */
static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1; /* never fall back to file names */
    char *before = strndup(rl_line_buffer, (size_t)start);
    if (before == NULL)
        return NULL;
    char **cand = NULL;
    int n = cli_help_complete(help_table(), before, text, &cand);
    free(before);
    if (n <= 0)
        return NULL;
    completion.cand = cand;
    completion.count = n;
    char **matches = rl_completion_matches(text, next_candidate);
    for (int i = 0; i < n; i++)
        free(cand[i]);
    free(cand);
    completion.cand = NULL;
    completion.count = 0;
    return matches;
}

/* Words end at blanks only: "@" (a help group) and "-" are part of them. */
static char word_breaks[] = " \t\n";

/* Set up libedit and load the history into it. */
static void edit_start(struct cli_history *hist)
{
    rl_readline_name = "shardkv-cli";
    rl_basic_word_break_characters = word_breaks;
    rl_completer_word_break_characters = word_breaks;
    rl_attempted_completion_function = complete;
    using_history();
    stifle_history(CLI_HISTORY_MAX);
    if (cli_history_init(hist, cli_history_path()) < 0)
        fprintf(stderr, "Out of memory loading the history\n");
    for (int i = 0; i < hist->len; i++)
        add_history(hist->line[i]);
}

/* Remember a line typed at the prompt, in libedit and in the file (saved
 * after every line, like redis-cli, so a killed session keeps it). */
static void edit_remember(struct cli_history *hist, const char *line)
{
    if (cli_history_add(hist, line) <= 0)
        return;
    add_history(line);
    if (cli_history_save(hist) < 0) {
        /* Said once: a read-only home should not drown every reply. */
        static bool warned;
        if (!warned)
            fprintf(stderr, "Cannot save the history to %s: %s\n", hist->path, strerror(errno));
        warned = true;
    }
}

/* For a line that cannot be split (unbalanced quotes): the blank-separated
 * words, checked as cli_history_is_secret checks arguments. */
static bool secret_words(const char *line)
{
    char *copy = strdup(line), *save = NULL, *words[8];
    int n = 0;
    if (copy == NULL)
        return true;
    for (char *w = strtok_r(copy, " \t", &save); w != NULL && n < 8;
         w = strtok_r(NULL, " \t", &save))
        words[n++] = w;
    /* "3 auth ..." repeats: look past the count too. */
    bool secret =
        cli_history_is_secret(n, words) || (n > 1 && cli_history_is_secret(n - 1, words + 1));
    free(copy);
    return secret;
}

/* The next line, without its newline, malloc'd; NULL at the end of input.
 * A terminal gets redis-cli's prompt and libedit's line editing. */
static char *read_line(const struct cli_config *cfg, const struct skv_client *c, bool interactive)
{
    if (interactive) {
        char prompt[320];
        if (c == NULL)
            snprintf(prompt, sizeof(prompt), "not connected> ");
        else if (cfg->db != 0)
            snprintf(prompt, sizeof(prompt), "%s:%d[%d]> ", cfg->host, cfg->port, cfg->db);
        else
            snprintf(prompt, sizeof(prompt), "%s:%d> ", cfg->host, cfg->port);
        return readline(prompt);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
    return line;
}

static int repl(struct cli_config *cfg, struct skv_client *c)
{
    bool interactive = isatty(STDIN_FILENO);
    struct cli_history hist = {0};
    if (interactive)
        edit_start(&hist);
    char *line;
    while ((line = read_line(cfg, c, interactive)) != NULL) {
        char **argv;
        size_t *lens;
        int argc = cli_split_args(line, &argv, &lens);
        if (argc < 0) {
            /* Kept for fixing with arrow-up, as redis-cli does, unless its
             * words look like a password is in it. */
            if (interactive && !secret_words(line))
                edit_remember(&hist, line);
            free(line);
            printf("Invalid argument(s)\n");
            fflush(stdout);
            continue;
        }
        if (argc == 0) {
            free(line);
            cli_free_args(argc, argv, lens);
            continue;
        }
        /* "3 incr x" runs the command three times, as in redis-cli. */
        long times = 1;
        int skip = 0;
        if (argc > 1 && parse_long(argv[0], &times) && times > 0)
            skip = 1;
        else
            times = 1;
        if (interactive && !cli_history_is_secret(argc - skip, argv + skip))
            edit_remember(&hist, line);
        free(line);
        if (!strcasecmp(argv[0], "quit") || !strcasecmp(argv[0], "exit")) {
            cli_free_args(argc, argv, lens);
            break;
        }
        if (is_help(argv[skip])) {
            print_help(argc - skip - 1, argv + skip + 1);
            cli_free_args(argc, argv, lens);
            continue;
        }
        for (long t = 0; t < times; t++) {
            if (c == NULL && (c = cli_connect(cfg, false)) == NULL)
                break;
            int rc = run_command(cfg, &c, argc - skip, (const char **)argv + skip, lens + skip);
            if (rc == 0 && argc - skip == 2 && !strcasecmp(argv[skip], "select")) {
                long db;
                if (parse_long(argv[skip + 1], &db))
                    cfg->db = (int)db;
            }
            if (rc < 0)
                break;
        }
        cli_free_args(argc, argv, lens);
    }
    cli_history_deinit(&hist);
    skv_close(c);
    return 0;
}

int main(int argc, char **argv)
{
    struct cli_config cfg = {
        .host = "127.0.0.1",
        .port = 6379,
        .auth_warning = true,
        .repeat = 1,
        .out = isatty(STDOUT_FILENO) ? OUT_TTY : OUT_RAW,
        .pipe_timeout = 30,
    };
    int first = parse_options(argc, argv, &cfg);
    if (first == -2)
        return 0;
    if (first < 0)
        return 1;
    if (cfg.password != NULL && cfg.auth_warning)
        fprintf(stderr, "Warning: Using a password with '-a' or '-u' option on the "
                        "command line interface may not be safe.\n");

    help.cfg = &cfg;
    struct skv_client *c = cli_connect(&cfg, false);
    if (cfg.pipe) {
        if (c == NULL)
            return 1;
        int rc = pipe_mode(&cfg, c);
        skv_close(c);
        return rc;
    }
    if (first >= argc)
        return repl(&cfg, c);
    if (c == NULL)
        return 1;

    /* One-shot: the rest of the command line is the command. */
    int cargc = argc - first;
    const char **cargv = calloc((size_t)cargc + 1, sizeof(*cargv));
    size_t *clens = calloc((size_t)cargc + 1, sizeof(*clens));
    char *last = NULL;
    if (cargv == NULL || clens == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int i = 0; i < cargc; i++) {
        cargv[i] = argv[first + i];
        clens[i] = strlen(cargv[i]);
    }
    if (cfg.stdin_last_arg) {
        size_t n;
        if ((last = read_stdin(&n)) == NULL) {
            fprintf(stderr, "out of memory reading stdin\n");
            return 1;
        }
        cargv[cargc] = last;
        clens[cargc] = n;
        cargc++;
    }
    int ret = 0;
    if (is_help(cargv[0])) {
        print_help(cargc - 1, (char *const *)cargv + 1);
        cfg.repeat = 0;
    }
    for (long i = 0; cfg.repeat < 0 || i < cfg.repeat; i++) {
        if (c == NULL) {
            ret = 1;
            break;
        }
        if (run_command(&cfg, &c, cargc, cargv, clens) < 0) {
            ret = 1;
            break;
        }
        if (cfg.repeat < 0 || i + 1 < cfg.repeat)
            sleep_seconds(cfg.interval);
    }
    free(last);
    free(cargv);
    free(clens);
    skv_close(c);
    return ret;
}
