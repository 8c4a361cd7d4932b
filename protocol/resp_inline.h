/* resp_inline.h — splitting an inline command line into arguments, with the
 * quoting rules of Redis's sdssplitargs. Private to protocol/; pure. */
#ifndef SKV_PROTOCOL_RESP_INLINE_H
#define SKV_PROTOCOL_RESP_INLINE_H

#include <stddef.h>

/* Read the next argument of line[0..n) starting at *at. Arguments are
 * separated by whitespace; "double quotes" take \n \r \t \b \a \xHH and
 * backslash-anything escapes, 'single quotes' only \'; a closing quote must
 * be followed by whitespace or the end. A NUL byte ends the line, as it ends
 * the C string Redis splits. The unescaped argument is written to out (room
 * for n - *at bytes is always enough) and its length to *out_len; *at moves
 * past it. Returns 1 (an argument), 0 (no more arguments) or -1 (unbalanced
 * quotes: Redis's "unbalanced quotes in request"). */
int resp_inline_next(const char *line, size_t n, size_t *at, char *out, size_t *out_len);

#endif
