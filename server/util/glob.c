/* glob.c — Redis-compatible glob matching for KEYS and SCAN MATCH, written
 * as a two-pointer loop with one backtrack point (the last '*'), which gives
 * the same answers as Redis's recursive stringmatchlen without its worst
 * case. Pure; any thread. */
#include "server/util/glob.h"

#include <ctype.h>

static int fold(int c, bool nocase)
{
    return nocase ? tolower(c) : c;
}

/* Does the one-character token at pat[*pi] match ch? Moves *pi past the
 * token. A token is '?', a class, an escaped character or a literal. The
 * class rules follow Redis exactly, quirks included: an unterminated class
 * ends with the pattern, a range is "x-y" with at least three bytes left
 * (so "[a-]" is the range 'a' to ']'), and reversed ranges are swapped. */
static bool token_match(const char *pat, size_t plen, size_t *pi, char ch, bool nocase)
{
    size_t i = *pi;
    if (pat[i] == '?') {
        *pi = i + 1;
        return true;
    }
    if (pat[i] == '[') {
        i++;
        bool neg = i < plen && pat[i] == '^';
        if (neg)
            i++;
        bool match = false;
        for (;;) {
            if (i >= plen)
                break; /* unterminated: the class ends with the pattern */
            if (pat[i] == '\\' && plen - i >= 2) {
                i++;
                if (pat[i] == ch) /* Redis compares escapes case-sensitively */
                    match = true;
            } else if (pat[i] == ']') {
                i++;
                break;
            } else if (plen - i >= 3 && pat[i + 1] == '-') {
                int start = fold(pat[i], nocase), end = fold(pat[i + 2], nocase);
                int x = fold(ch, nocase);
                if (start > end) {
                    int t = start;
                    start = end;
                    end = t;
                }
                i += 2;
                if (x >= start && x <= end)
                    match = true;
            } else if (fold(pat[i], nocase) == fold(ch, nocase)) {
                match = true;
            }
            i++;
        }
        *pi = i;
        return neg ? !match : match;
    }
    if (pat[i] == '\\' && plen - i >= 2)
        i++;
    *pi = i + 1;
    return fold(pat[i], nocase) == fold(ch, nocase);
}

bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase)
{
    size_t pi = 0, si = 0;
    size_t star_pi = (size_t)-1, star_si = 0;
    while (si < slen) {
        if (pi < plen && pat[pi] == '*') {
            while (pi < plen && pat[pi] == '*')
                pi++;
            if (pi == plen)
                return true; /* a trailing star takes the rest */
            star_pi = pi;
            star_si = si;
            continue;
        }
        if (pi < plen) {
            size_t next = pi;
            if (token_match(pat, plen, &next, s[si], nocase)) {
                pi = next;
                si++;
                continue;
            }
        }
        if (star_pi == (size_t)-1)
            return false;
        /* Let the last star swallow one more character and retry. */
        pi = star_pi;
        si = ++star_si;
    }
    while (pi < plen && pat[pi] == '*')
        pi++;
    return pi == plen;
}
