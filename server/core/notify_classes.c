/* notify_classes.c — the notify-keyspace-events option: which classes of
 * events are on (one atomic word every thread reads), and the option's
 * text as Redis 7.0 parses and prints it. Pure besides that word, so the
 * configuration code (and its fuzz target) needs nothing else of
 * notify.c. Any thread. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "server/core/notify_classes.h"

_Atomic uint32_t notify_classes;
_Thread_local bool notify_pending;

/* Letters in Redis's order of keyspaceEventsStringToFlags. */
static const struct {
    char c;
    uint32_t bits;
} letters[] = {
    {'A', NOTIFY_ALL},     {'g', NOTIFY_GENERIC},  {'$', NOTIFY_STRING},
    {'l', NOTIFY_LIST},    {'s', NOTIFY_SET},      {'h', NOTIFY_HASH},
    {'z', NOTIFY_ZSET},    {'x', NOTIFY_EXPIRED},  {'e', NOTIFY_EVICTED},
    {'K', NOTIFY_KEYSPACE}, {'E', NOTIFY_KEYEVENT}, {'t', NOTIFY_STREAM},
    {'m', NOTIFY_KEY_MISS}, {'d', NOTIFY_MODULE},   {'n', NOTIFY_NEW},
};

int notify_parse(const char *s, size_t len, uint32_t *out)
{
    uint32_t f = 0;
    for (size_t i = 0; i < len; i++) {
        size_t j = 0;
        while (j < sizeof letters / sizeof letters[0] && letters[j].c != s[i])
            j++;
        if (j == sizeof letters / sizeof letters[0])
            return -1;
        f |= letters[j].bits;
    }
    *out = f;
    return 0;
}

char *notify_format(uint32_t f, char *buf)
{
    /* Redis 7.0's keyspaceEventsFlagsToString: "A" hides the single
     * class letters, and with them "n" (printed only in that branch). */
    static const char order[] = "g$lshzxetdn";
    static const uint32_t bits[] = {NOTIFY_GENERIC, NOTIFY_STRING,  NOTIFY_LIST, NOTIFY_SET,
                                    NOTIFY_HASH,    NOTIFY_ZSET,    NOTIFY_EXPIRED,
                                    NOTIFY_EVICTED, NOTIFY_STREAM,  NOTIFY_MODULE,
                                    NOTIFY_NEW};
    char *p = buf;
    if ((f & NOTIFY_ALL) == NOTIFY_ALL) {
        *p++ = 'A';
    } else {
        for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
            if (f & bits[i])
                *p++ = order[i];
    }
    if (f & NOTIFY_KEYSPACE)
        *p++ = 'K';
    if (f & NOTIFY_KEYEVENT)
        *p++ = 'E';
    if (f & NOTIFY_KEY_MISS)
        *p++ = 'm';
    *p = '\0';
    return buf;
}

void notify_set(uint32_t classes)
{
    atomic_store_explicit(&notify_classes, classes, memory_order_relaxed);
}
