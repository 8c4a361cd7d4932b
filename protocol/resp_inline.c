/* resp_inline.c — the argument splitter for inline commands ("SET k v\r\n"),
 * following the quoting and escaping rules of Redis's sdssplitargs so that
 * telnet users and scripts see the same arguments. Pure; any thread. */
#include "protocol/resp_inline.h"

/* isspace() in the C locale, without depending on the process locale. */
static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The byte at i, or 0 past the end: the splitter reads the line as the
 * NUL-terminated string Redis hands to sdssplitargs. */
static char at_or_nul(const char *s, size_t n, size_t i)
{
    return i < n ? s[i] : '\0';
}

/* The byte a backslash escape inside double quotes stands for. */
static char unescape(char c)
{
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c; /* \\ and \" and any other byte stand for themselves */
    }
}

/* A closing quote at i is valid when whitespace or the end follows it. */
static int quote_closes(const char *s, size_t n, size_t i)
{
    char next = at_or_nul(s, n, i + 1);

    return next == '\0' || is_space(next);
}

int resp_inline_next(const char *line, size_t n, size_t *at, char *out, size_t *out_len)
{
    size_t i = *at;
    size_t o = 0;
    int in_dq = 0; /* inside "double quotes" */
    int in_sq = 0; /* inside 'single quotes' */

    while (i < n && line[i] != '\0' && is_space(line[i]))
        i++;
    if (i == n || line[i] == '\0') {
        *at = n;
        return 0;
    }

    for (;;) {
        char c = at_or_nul(line, n, i);

        if (in_dq) {
            int hi, lo;

            if (c == '\\' && at_or_nul(line, n, i + 1) == 'x' &&
                (hi = hex_value(at_or_nul(line, n, i + 2))) >= 0 &&
                (lo = hex_value(at_or_nul(line, n, i + 3))) >= 0) {
                out[o++] = (char)(hi * 16 + lo);
                i += 3;
            } else if (c == '\\' && at_or_nul(line, n, i + 1) != '\0') {
                i++;
                out[o++] = unescape(line[i]);
            } else if (c == '"') {
                if (!quote_closes(line, n, i))
                    return -1;
                i++;
                break;
            } else if (c == '\0') {
                return -1; /* the line ended inside the quotes */
            } else {
                out[o++] = c;
            }
        } else if (in_sq) {
            if (c == '\\' && at_or_nul(line, n, i + 1) == '\'') {
                i++;
                out[o++] = '\'';
            } else if (c == '\'') {
                if (!quote_closes(line, n, i))
                    return -1;
                i++;
                break;
            } else if (c == '\0') {
                return -1;
            } else {
                out[o++] = c;
            }
        } else {
            /* Only these end an unquoted argument; \v and \f do not, though
             * they are skipped between arguments (as in sdssplitargs). */
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                i++;
                break;
            }
            if (c == '\0')
                break;
            if (c == '"')
                in_dq = 1;
            else if (c == '\'')
                in_sq = 1;
            else
                out[o++] = c;
        }
        i++;
    }
    *at = i;
    *out_len = o;
    return 1;
}
