/* conftext.h — the text of a Redis configuration file (redis.conf): lines,
 * '#' comments and Redis's argument splitting (sdssplitargs). Pure: no I/O,
 * no globals; called on the main thread at start-up, and by the fuzzer. */
#ifndef SKV_SERVER_CONFTEXT_H
#define SKV_SERVER_CONFTEXT_H

#include <stddef.h>

/* Results of conftext_split and conftext_parse. */
enum conftext_status {
    CONFTEXT_OK = 0,      /* done */
    CONFTEXT_EQUOTE = -1, /* unbalanced quotes, or a closing quote not
                             followed by a space (Redis's rule) */
    CONFTEXT_ENUL = -2,   /* a NUL byte in the line or in an argument ("\x00"):
                             arguments are C strings */
    CONFTEXT_ENOMEM = -3, /* out of memory */
    CONFTEXT_ESTOP = -4,  /* the directive callback returned non-zero */
};

/* One line split into arguments. argv[0..argc) are NUL-terminated, owned by
 * the struct; argv[argc] is NULL. */
struct conftext_args {
    int argc;    /* number of arguments */
    char **argv; /* the arguments; free with conftext_args_free */
};

/* Split line[0..len) into arguments with Redis's rules: blanks separate;
 * "double quotes" allow \n \r \t \b \a \xHH and \<any> escapes; 'single
 * quotes' allow only \'; a quote may start inside an argument (a"b c" is
 * one argument "ab c"); a closing quote must be followed by a blank or the
 * end. Returns CONFTEXT_OK with *out filled (argc may be 0), or a negative
 * CONFTEXT_* with *out empty. */
int conftext_split(const char *line, size_t len, struct conftext_args *out);

/* Free the arguments of a; a becomes empty. */
void conftext_args_free(struct conftext_args *a);

/* Called for each directive: lineno counts from 1; argv[0] is lower-cased
 * (Redis matches directive names case-insensitively); the arrays are
 * borrowed for the call only. Return 0 to go on, anything else to stop. */
typedef int (*conftext_fn)(void *arg, int lineno, int argc, char **argv);

/* Walk text[0..len) as Redis does: lines split at '\n', trimmed of blanks
 * and '\r', empty lines and lines starting with '#' skipped, the rest split
 * by conftext_split and handed to fn. Returns CONFTEXT_OK, CONFTEXT_ESTOP if
 * fn stopped it, or a split error; *bad_line gets the line number of the
 * failing line (0 if none). */
int conftext_parse(const char *text, size_t len, conftext_fn fn, void *arg, int *bad_line);

/* A one-line description of a negative CONFTEXT_* status. */
const char *conftext_strerror(int status);

#endif
