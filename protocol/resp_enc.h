/* resp_enc.h — reply encoder for RESP2 and RESP3 into a growable buffer.
 * Pure: allocation only through the buffer, which has a hard cap. */
#ifndef SKV_PROTOCOL_RESP_ENC_H
#define SKV_PROTOCOL_RESP_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard cap of one rbuf: no reply buffer grows past 4 GiB, so a runaway
 * reply (or a size computation gone wrong) fails with oom instead of taking
 * the machine's memory. Eight maximal 512 MB bulks still fit. */
#define RBUF_MAX_CAP ((size_t)4 << 30)

/* A growable byte buffer. len bytes of data at ptr, cap allocated. */
struct rbuf {
    char *ptr;  /* data, NULL until the first append; owned by the rbuf */
    size_t len; /* bytes of data at ptr */
    size_t cap; /* bytes allocated at ptr */
    bool oom;   /* a growth failed: the buffer's content is incomplete */
};

/* Make b empty; allocates nothing until the first append. */
void rbuf_init(struct rbuf *b);
/* Free b's bytes and make it empty again. */
void rbuf_deinit(struct rbuf *b);
/* Make room for n more bytes. Returns 0 or -1 (sets oom). */
int rbuf_reserve(struct rbuf *b, size_t n);
/* Append bytes. Returns 0 or -1 (sets oom; nothing appended). */
int rbuf_append(struct rbuf *b, const void *p, size_t n);
/* Drop the first n bytes. */
void rbuf_consume(struct rbuf *b, size_t n);
/* Take ownership of the bytes (caller frees with free()); b becomes empty. */
char *rbuf_steal(struct rbuf *b, size_t *len);

/* Protocol version a connection speaks: 2 (default) or 3 after HELLO 3. */
enum { RESP2 = 2, RESP3 = 3 };

/* Append one request as a RESP multibulk: "*argc" then "$len" + bytes per
 * argument (argvlen NULL: NUL-terminated strings). All or nothing: the size
 * is checked and reserved first. Returns 0, or -1 (b unchanged; oom set when
 * the buffer could not grow) when argc < 1 or growth fails. For clients. */
int resp_command(struct rbuf *b, int argc, const char *const *argv, const size_t *argvlen);

/* Each appends one reply, whole or not at all; a growth failure sets b->oom
 * and leaves the bytes before the call intact. CR and LF inside simple and
 * error texts are turned into spaces (as Redis does), so no text can break
 * the framing. Doubles use "%.17g" like Redis 7.0; inf, -inf and nan are
 * spelled so in both forms (RESP2 sends them as bulk strings). */
void resp_simple(struct rbuf *b, const char *s);                /* +s\r\n */
void resp_error(struct rbuf *b, const char *msg);               /* -msg\r\n (msg includes ERR ...;
                                                                   a leading '-' is not doubled) */
void resp_errorf(struct rbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));                      /* - + formatted */
void resp_int(struct rbuf *b, int64_t v);                       /* :v\r\n */
void resp_bulk(struct rbuf *b, const void *p, size_t n);        /* $n\r\n...\r\n */
void resp_bulk_cstr(struct rbuf *b, const char *s);             /* resp_bulk of a C string, not NULL */
void resp_null(struct rbuf *b, int proto);                      /* $-1 or _ */
void resp_null_array(struct rbuf *b, int proto);                /* *-1 or _ */
void resp_array(struct rbuf *b, size_t n);                      /* *n */
void resp_map(struct rbuf *b, int proto, size_t n);             /* %n, or *2n in RESP2 */
void resp_set(struct rbuf *b, int proto, size_t n);             /* ~n, or *n */
void resp_double(struct rbuf *b, int proto, double d);          /* ,d or bulk string */
void resp_bool(struct rbuf *b, int proto, bool v);              /* #t/#f or :1/:0 */
void resp_verbatim(struct rbuf *b, int proto, const char *p, size_t n); /* =n txt: or bulk */

#endif
