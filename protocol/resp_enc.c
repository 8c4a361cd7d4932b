/* resp_enc.c — reply encoding (RESP2 and RESP3) into a growable buffer.
 * Each reply is appended whole or not at all, so a failed growth leaves the
 * buffer at a reply boundary with oom set. Runs on the connection's thread. */
#include "protocol/resp_enc.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* First allocation of a buffer: enough for most single replies. */
#define RBUF_MIN_CAP 64
/* Longest "<type><integer>\r\n" header: 1 + 20 digits and sign + 2. */
#define HDR_MAX 24

void rbuf_init(struct rbuf *b)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->oom = false;
}

void rbuf_deinit(struct rbuf *b)
{
    /* Most buffers deinitialised on the request path never grew, and
     * free(NULL) still costs jemalloc some 40 instructions. */
    if (b->ptr)
        free(b->ptr);
    rbuf_init(b);
}

int rbuf_reserve(struct rbuf *b, size_t n)
{
    size_t want, cap;
    char *ptr;

    if (n <= b->cap - b->len)
        return 0;
    if (n > RBUF_MAX_CAP - b->len) {
        b->oom = true;
        return -1;
    }
    want = b->len + n;
    /* Doubling keeps appends amortised O(1); the cap bounds the last step.
     * An append that more than doubles the buffer gets exactly its room:
     * doubling past it buys nothing (the sizes grow geometrically anyway),
     * and a 1 MB value would otherwise hold 2 MB. */
    cap = b->cap < RBUF_MIN_CAP ? RBUF_MIN_CAP : b->cap;
    if (want > cap && want / 2 > cap)
        cap = want;
    while (cap < want)
        cap = cap > RBUF_MAX_CAP / 2 ? RBUF_MAX_CAP : cap * 2;
    ptr = realloc(b->ptr, cap);
    if (ptr == NULL) {
        b->oom = true;
        return -1;
    }
    b->ptr = ptr;
    b->cap = cap;
    return 0;
}

int rbuf_append(struct rbuf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (rbuf_reserve(b, n) != 0)
        return -1;
    memcpy(b->ptr + b->len, p, n);
    b->len += n;
    return 0;
}

void rbuf_consume(struct rbuf *b, size_t n)
{
    assert(n <= b->len);
    if (n == 0)
        return;
    memmove(b->ptr, b->ptr + n, b->len - n);
    b->len -= n;
}

char *rbuf_steal(struct rbuf *b, size_t *len)
{
    char *ptr = b->ptr;

    *len = b->len;
    rbuf_init(b);
    return ptr;
}

/* Two-digit pairs "00".."99": formats integers two digits per step. */
static const char digit_pairs[201] =
    "0001020304050607080910111213141516171819"
    "2021222324252627282930313233343536373839"
    "4041424344454647484950515253545556575859"
    "6061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Write v in decimal to dst (room for 20 bytes); returns the length. */
static size_t ull2str(char *dst, unsigned long long v)
{
    char tmp[20];
    size_t i = sizeof(tmp);
    size_t n;

    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;

        v /= 100;
        tmp[--i] = digit_pairs[d + 1];
        tmp[--i] = digit_pairs[d];
    }
    if (v >= 10) {
        unsigned d = (unsigned)v * 2;

        tmp[--i] = digit_pairs[d + 1];
        tmp[--i] = digit_pairs[d];
    } else {
        tmp[--i] = (char)('0' + v);
    }
    n = sizeof(tmp) - i;
    memcpy(dst, tmp + i, n);
    return n;
}

/* Write v in decimal to dst (room for 21 bytes); returns the length. */
static size_t ll2str(char *dst, long long v)
{
    if (v < 0) {
        /* Negate in unsigned arithmetic: -LLONG_MIN does not fit. */
        dst[0] = '-';
        return 1 + ull2str(dst + 1, 0ULL - (unsigned long long)v);
    }
    return ull2str(dst, (unsigned long long)v);
}

/* Write "<type><v>\r\n" to dst (room for HDR_MAX); returns the length. */
static size_t header(char *dst, char type, long long v)
{
    size_t n;

    dst[0] = type;
    n = 1 + ll2str(dst + 1, v);
    dst[n++] = '\r';
    dst[n++] = '\n';
    return n;
}

static void append_header(struct rbuf *b, char type, long long v)
{
    char hdr[HDR_MAX];

    (void)rbuf_append(b, hdr, header(hdr, type, v));
}

/* Lengths and counts are size_t; a reply never holds more than the buffer
 * cap, so they fit in the long long the header takes. */
static long long count(size_t n)
{
    return n > (size_t)LLONG_MAX ? LLONG_MAX : (long long)n;
}

/* Append "<type><text>\r\n" with CR and LF in text turned into spaces, as
 * Redis does for error texts, so no message can break the framing. */
static void append_line(struct rbuf *b, char type, const char *s, size_t n)
{
    char *dst;

    if (rbuf_reserve(b, n + 3) != 0)
        return;
    dst = b->ptr + b->len;
    dst[0] = type;
    memcpy(dst + 1, s, n);
    for (size_t i = 1; i <= n; i++) {
        if (dst[i] == '\r' || dst[i] == '\n')
            dst[i] = ' ';
    }
    dst[n + 1] = '\r';
    dst[n + 2] = '\n';
    b->len += n + 3;
}

void resp_simple(struct rbuf *b, const char *s)
{
    append_line(b, '+', s, strlen(s));
}

void resp_error(struct rbuf *b, const char *msg)
{
    /* Tolerate a caller that already wrote the '-'. */
    if (msg[0] == '-')
        msg++;
    append_line(b, '-', msg, strlen(msg));
}

void resp_errorf(struct rbuf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    char *msg = small;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true; /* an encoding error: nothing sensible to send */
        return;
    }
    if ((size_t)n >= sizeof(small)) {
        msg = malloc((size_t)n + 1);
        if (msg == NULL) {
            b->oom = true;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    resp_error(b, msg);
    if (msg != small)
        free(msg);
}

void resp_int(struct rbuf *b, int64_t v)
{
    append_header(b, ':', (long long)v);
}

void resp_bulk(struct rbuf *b, const void *p, size_t n)
{
    char hdr[HDR_MAX];
    size_t h = header(hdr, '$', count(n));

    /* Reserve the whole reply first so it is appended whole or not at all. */
    if (n > RBUF_MAX_CAP || rbuf_reserve(b, h + n + 2) != 0) {
        b->oom = true;
        return;
    }
    memcpy(b->ptr + b->len, hdr, h);
    if (n > 0)
        memcpy(b->ptr + b->len + h, p, n);
    memcpy(b->ptr + b->len + h + n, "\r\n", 2);
    b->len += h + n + 2;
}

void resp_bulk_cstr(struct rbuf *b, const char *s)
{
    assert(s != NULL);
    resp_bulk(b, s, strlen(s));
}

void resp_null(struct rbuf *b, int proto)
{
    if (proto == RESP3)
        (void)rbuf_append(b, "_\r\n", 3);
    else
        (void)rbuf_append(b, "$-1\r\n", 5);
}

void resp_null_array(struct rbuf *b, int proto)
{
    if (proto == RESP3)
        (void)rbuf_append(b, "_\r\n", 3);
    else
        (void)rbuf_append(b, "*-1\r\n", 5);
}

void resp_array(struct rbuf *b, size_t n)
{
    append_header(b, '*', count(n));
}

void resp_map(struct rbuf *b, int proto, size_t n)
{
    if (proto == RESP3)
        append_header(b, '%', count(n));
    else
        append_header(b, '*', n > (size_t)LLONG_MAX / 2 ? LLONG_MAX : (long long)n * 2);
}

void resp_set(struct rbuf *b, int proto, size_t n)
{
    append_header(b, proto == RESP3 ? '~' : '*', count(n));
}

void resp_double(struct rbuf *b, int proto, double d)
{
    /* "%.17g" round-trips every double; 32 bytes hold its longest form
     * ("-2.2250738585072014e-308" is 24). */
    char num[32];
    int n;

    /* Spelled out rather than left to printf: RESP3 names exactly inf,
     * -inf and nan, and some libcs print "Infinity" or "-nan". */
    if (isinf(d))
        n = snprintf(num, sizeof(num), "%s", d > 0 ? "inf" : "-inf");
    else if (isnan(d))
        n = snprintf(num, sizeof(num), "nan");
    else
        n = snprintf(num, sizeof(num), "%.17g", d);
    assert(n > 0 && (size_t)n < sizeof(num));
    if (proto == RESP3)
        append_line(b, ',', num, (size_t)n);
    else
        resp_bulk(b, num, (size_t)n);
}

void resp_bool(struct rbuf *b, int proto, bool v)
{
    if (proto == RESP3)
        (void)rbuf_append(b, v ? "#t\r\n" : "#f\r\n", 4);
    else
        (void)rbuf_append(b, v ? ":1\r\n" : ":0\r\n", 4);
}

void resp_verbatim(struct rbuf *b, int proto, const char *p, size_t n)
{
    char hdr[HDR_MAX];
    size_t h;

    if (proto != RESP3) {
        resp_bulk(b, p, n);
        return;
    }
    /* "=<n+4>\r\ntxt:<bytes>\r\n": the format tag counts in the length. */
    if (n > RBUF_MAX_CAP) {
        b->oom = true;
        return;
    }
    h = header(hdr, '=', count(n + 4));
    if (rbuf_reserve(b, h + 4 + n + 2) != 0)
        return;
    memcpy(b->ptr + b->len, hdr, h);
    memcpy(b->ptr + b->len + h, "txt:", 4);
    if (n > 0)
        memcpy(b->ptr + b->len + h + 4, p, n);
    memcpy(b->ptr + b->len + h + 4 + n, "\r\n", 2);
    b->len += h + 4 + n + 2;
}

int resp_command(struct rbuf *b, int argc, const char *const *argv, const size_t *argvlen)
{
    if (argc < 1 || argv == NULL)
        return -1;
    /* "*<argc>\r\n", then "$<len>\r\n<data>\r\n" per argument; 20 digits
     * bound any length. Sized first so the command goes in whole or not at
     * all, and so the copies below cannot fail. */
    size_t need = 1 + 20 + 2;
    for (int i = 0; i < argc; i++) {
        size_t l = argvlen ? argvlen[i] : strlen(argv[i]);
        if (need > RBUF_MAX_CAP || l > RBUF_MAX_CAP - need) {
            b->oom = true;
            return -1;
        }
        need += 1 + 20 + 2 + l + 2;
    }
    if (rbuf_reserve(b, need) != 0)
        return -1;
    char *p = b->ptr + b->len;
    *p++ = '*';
    p += ull2str(p, (unsigned long long)argc);
    *p++ = '\r';
    *p++ = '\n';
    for (int i = 0; i < argc; i++) {
        size_t l = argvlen ? argvlen[i] : strlen(argv[i]);
        *p++ = '$';
        p += ull2str(p, l);
        *p++ = '\r';
        *p++ = '\n';
        if (l)
            memcpy(p, argv[i], l);
        p += l;
        *p++ = '\r';
        *p++ = '\n';
    }
    b->len = (size_t)(p - b->ptr);
    return 0;
}
