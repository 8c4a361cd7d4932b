/* glob.h — Redis's glob-style pattern matching (stringmatchlen): '*', '?',
 * '[...]' classes with '^' negation and 'a-z' ranges, '\' escapes. Used by
 * KEYS and SCAN MATCH. Pure; any thread. */
#ifndef SKV_SERVER_GLOB_H
#define SKV_SERVER_GLOB_H

#include <stdbool.h>
#include <stddef.h>

/* True if s[0..slen) matches pat[0..plen). Binary-safe. nocase folds ASCII
 * case as Redis does. Runs in O(plen * slen) at worst: a '*' is retried by
 * moving the last star forward, never by recursion, so hostile patterns
 * such as "a*a*a*a*...b" cannot take exponential time. */
bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase);

#endif
