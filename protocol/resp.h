/* resp.h — incremental RESP2 request parser (multibulk and inline commands).
 * Pure: no I/O, no threads; the only allocation is the argument array, whose
 * size is bounded by resp_limits.max_multibulk. */
#ifndef SKV_PROTOCOL_RESP_H
#define SKV_PROTOCOL_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum resp_status {
    RESP_OK = 0,   /* one command parsed; *out is filled */
    RESP_AGAIN,    /* incomplete; call again with more bytes */
    RESP_EPROTO,   /* malformed; reply resp_parser.err, then close */
    RESP_ETOOBIG,  /* over a limit in struct resp_limits; same handling */
};

/* Every length a client controls, with Redis's defaults and config names.
 * A limit is checked before anything is allocated for it; going over one
 * returns RESP_ETOOBIG with Redis's text for it. */
struct resp_limits {
    size_t max_inline;     /* inline line, bytes before its '\n' (64 KiB,
                              PROTO_INLINE_MAX_SIZE); like Redis, also the
                              longest "*<count>" or "$<len>" line */
    size_t max_multibulk;  /* arguments per command (1,048,576); a larger
                              "*<count>" is "invalid multibulk length", as in
                              Redis; also caps inline arguments */
    size_t max_bulk;       /* one bulk argument (proto-max-bulk-len, 512 MB);
                              larger is "invalid bulk length" */
};

/* Limits for a client that must authenticate and has not yet (Redis 7.0,
 * processMultibulkBuffer): enough for AUTH and HELLO with long passwords,
 * but nobody without the password can make the server buffer a 512 MB
 * bulk or a million-argument array. Going over one is RESP_ETOOBIG with
 * "Protocol error: unauthenticated multibulk length" / "... bulk length",
 * checked after the limits above, as in Redis. */
#define RESP_UNAUTH_MAX_MULTIBULK 10
#define RESP_UNAUTH_MAX_BULK 16384

/* Fill l with the defaults above. */
void resp_limits_default(struct resp_limits *l);

/* An argument: for multibulk commands a view into the caller's buffer; for
 * inline commands a view into the parser's own unescape area (quotes and
 * escapes removed). Not NUL-terminated. */
struct resp_arg {
    const char *ptr;
    size_t len;
};

/* The bytes of argv's argc arguments together. */
static inline size_t resp_args_len(const struct resp_arg *argv, size_t argc)
{
    size_t bytes = 0;
    for (size_t i = 0; i < argc; i++)
        bytes += argv[i].len;
    return bytes;
}

/* A private copy of argv in one block: dst is an array of argc views
 * followed by room for resp_args_len(argv, argc) bytes, which the views
 * are made to point into. */
static inline void resp_args_copy(struct resp_arg *dst, const struct resp_arg *argv, size_t argc)
{
    char *p = (char *)(dst + argc);
    for (size_t i = 0; i < argc; i++) {
        if (argv[i].len)
            memcpy(p, argv[i].ptr, argv[i].len);
        dst[i].ptr = p;
        dst[i].len = argv[i].len;
        p += argv[i].len;
    }
}

struct resp_cmd {
    size_t argc;
    struct resp_arg *argv; /* owned by the parser; valid until the next call */
};

/* bulk_len while no bulk header of the current command is pending. */
#define RESP_NO_BULK SIZE_MAX

struct resp_parser {
    struct resp_limits lim;
    bool unauth;           /* set by the caller before each call while the
                              client must still authenticate: the
                              RESP_UNAUTH_* limits apply */
    /* Multibulk progress, so a partial command is not re-parsed from its
     * first byte on every read (a 512 MB SET arrives in many reads). */
    size_t want_args;      /* declared argument count, 0 when not in a multibulk */
    size_t got_args;       /* arguments complete so far */
    size_t pos;            /* bytes of the current command already consumed */
    size_t bulk_len;       /* length of the bulk whose "$<len>\r\n" header is
                              consumed but whose bytes are not, or RESP_NO_BULK */
    size_t scan;           /* offset where the search for the current line's
                              terminator resumes: a header or inline line
                              trickling in is never searched twice */
    struct resp_arg *argv; /* argument array, grown up to lim.max_multibulk */
    size_t *offs;          /* offset in the caller's buffer of each multibulk
                              argument: the buffer may move between calls, so
                              argv[i].ptr is only set when a command completes */
    size_t argv_cap;       /* entries allocated in argv and in offs */
    char *unesc;           /* unescaped inline arguments */
    size_t unesc_cap;      /* bytes allocated at unesc */
    const char *err;       /* text after RESP_EPROTO/ETOOBIG, e.g.
                              "Protocol error: invalid bulk length"; static or
                              err_buf, valid until the next call */
    char err_buf[48];      /* room for "Protocol error: expected '$', got 'X'" */
};

/* Initialise with limits (NULL: defaults). Returns 0 or -1 on out-of-memory. */
int resp_parser_init(struct resp_parser *p, const struct resp_limits *lim);
/* Free the parser's arrays. */
void resp_parser_deinit(struct resp_parser *p);
/* Forget a partial command (after the caller discards its buffer). */
void resp_parser_reset(struct resp_parser *p);

/* Parse at most one command from buf[0..len). Borrows buf; on RESP_OK the
 * argument views point into buf (or the parser) and stay valid until the
 * caller discards those bytes or calls again. *used is how many bytes the
 * command took, including an empty inline line that yields argc == 0 (the
 * caller skips such commands). On RESP_AGAIN, *used is 0 and the caller must
 * call again with the same bytes plus more (buf may move; offsets are kept).
 * *need, if not NULL, gets a hint of how many more bytes complete the
 * current bulk (0 if unknown), so big values can be read straight in.
 * On RESP_EPROTO/ETOOBIG, *used is 0, p->err holds the reply text (without
 * the "ERR " prefix) and the parser has forgotten the partial command.
 * Argument allocation failure is RESP_ETOOBIG "Protocol error: out of
 * memory", never an abort. The result does not depend on how the bytes were
 * split across calls. Deliberate differences from Redis 7.0, which scans its
 * buffer with strchr: a NUL byte in an inline line ends the argument list
 * (Redis waits for a '\n' beyond it), and a NUL in a count line makes it
 * invalid (Redis waits). Like Redis, the two bytes after a bulk and the byte
 * after a count line's '\r' are skipped without being checked. */
enum resp_status resp_parse(struct resp_parser *p, const char *buf, size_t len,
                            struct resp_cmd *out, size_t *used, size_t *need);

#endif
