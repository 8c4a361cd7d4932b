/* script_cache.c — the server-wide registry of script bodies by SHA1
 * (Redis's lctx.lua_scripts), shared by every worker behind one mutex:
 * SCRIPT LOAD and EVAL add, EVALSHA on any worker reads a copy and
 * compiles it into its own Lua state. Also the shebang ("#!lua
 * flags=...") parser that gives a body its flags. Any thread. */
#include "server/commands/script.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "server/util/conftext.h"

/* Buckets of the registry: chains keep it simple; a server with many
 * thousands of scripts is unusual (clients load a handful). */
#define CACHE_BUCKETS 1024

/* One stored script. */
struct entry {
    struct entry *next;      /* bucket chain */
    char sha[SHA1_HEX_LEN];  /* lower-case hex digest, no NUL */
    uint32_t flags;          /* SCRIPT_FLAG_* from its shebang */
    size_t len;              /* body length */
    char body[];             /* the body */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *buckets[CACHE_BUCKETS]; /* under lock */
static _Atomic uint64_t epoch;               /* bumped by each flush */
static size_t nscripts, script_bytes;        /* entries and their bytes, under lock */

/* The bucket of a digest: its first hex characters are uniformly spread. */
static unsigned bucket_of(const char *sha)
{
    unsigned h = 0;
    for (int i = 0; i < 8; i++)
        h = h * 31 + (unsigned char)sha[i];
    return h % CACHE_BUCKETS;
}

static struct entry *find(const char *sha)
{
    for (struct entry *e = buckets[bucket_of(sha)]; e; e = e->next)
        if (memcmp(e->sha, sha, SHA1_HEX_LEN) == 0)
            return e;
    return NULL;
}

int script_cache_add(const char *body, size_t len, uint32_t flags, const char *sha)
{
    int rc = 0;
    pthread_mutex_lock(&lock);
    if (!find(sha)) {
        struct entry *e = malloc(sizeof *e + len);
        if (!e) {
            rc = -1;
        } else {
            memcpy(e->sha, sha, SHA1_HEX_LEN);
            e->flags = flags;
            e->len = len;
            memcpy(e->body, body, len);
            unsigned b = bucket_of(sha);
            e->next = buckets[b];
            buckets[b] = e;
            nscripts++;
            script_bytes += sizeof *e + len;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

bool script_cache_get(const char *sha, struct rbuf *out, uint32_t *flags)
{
    bool found = false;
    pthread_mutex_lock(&lock);
    struct entry *e = find(sha);
    if (e && rbuf_append(out, e->body, e->len) == 0) {
        *flags = e->flags;
        found = true;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

bool script_cache_flags(const char *sha, uint32_t *flags)
{
    pthread_mutex_lock(&lock);
    struct entry *e = find(sha);
    if (e)
        *flags = e->flags;
    pthread_mutex_unlock(&lock);
    return e != NULL;
}

bool script_cache_exists(const char *s, size_t len)
{
    if (len != SHA1_HEX_LEN)
        return false;
    /* Redis compares script names case-insensitively. */
    char sha[SHA1_HEX_LEN];
    for (size_t i = 0; i < SHA1_HEX_LEN; i++)
        sha[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + ('a' - 'A')) : s[i];
    pthread_mutex_lock(&lock);
    bool found = find(sha) != NULL;
    pthread_mutex_unlock(&lock);
    return found;
}

void script_cache_flush(void)
{
    pthread_mutex_lock(&lock);
    for (unsigned b = 0; b < CACHE_BUCKETS; b++) {
        struct entry *e = buckets[b];
        while (e) {
            struct entry *next = e->next;
            free(e);
            e = next;
        }
        buckets[b] = NULL;
    }
    nscripts = script_bytes = 0;
    atomic_fetch_add_explicit(&epoch, 1, memory_order_release);
    pthread_mutex_unlock(&lock);
}

void script_cache_stats(size_t *n, size_t *bytes)
{
    pthread_mutex_lock(&lock);
    *n = nscripts;
    *bytes = script_bytes;
    pthread_mutex_unlock(&lock);
}

uint64_t script_cache_epoch(void)
{
    return atomic_load_explicit(&epoch, memory_order_acquire);
}

/* ---- Shebang ------------------------------------------------------------- */

static const struct {
    const char *name;
    uint32_t flag;
} flag_names[] = {
    {"no-writes", SCRIPT_FLAG_NO_WRITES},
    {"allow-oom", SCRIPT_FLAG_ALLOW_OOM},
    {"allow-stale", SCRIPT_FLAG_ALLOW_STALE},
    {"no-cluster", SCRIPT_FLAG_NO_CLUSTER},
    {"allow-cross-slot-keys", SCRIPT_FLAG_CROSS_SLOT},
};

/* One comma-separated flag list (Redis's sdssplitlen on ","), into *flags.
 * Empty items are looked up too, and fail, as in Redis. */
static bool parse_flags(const char *s, uint32_t *flags, struct rbuf *err)
{
    size_t n = strlen(s);
    if (n == 0)
        return true; /* sdssplitlen of "" gives no items */
    const char *p = s;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(s + n - p));
        size_t l = comma ? (size_t)(comma - p) : (size_t)(s + n - p);
        size_t i;
        for (i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
            if (strlen(flag_names[i].name) == l && memcmp(flag_names[i].name, p, l) == 0)
                break;
        if (i == sizeof flag_names / sizeof flag_names[0]) {
            static const char pre[] = "Unexpected flag in script shebang: ";
            rbuf_append(err, pre, sizeof pre - 1);
            rbuf_append(err, p, l);
            return false;
        }
        *flags |= flag_names[i].flag;
        if (!comma)
            return true;
        p = comma + 1;
    }
}

static bool fail(struct rbuf *err, const char *msg, const char *arg)
{
    rbuf_append(err, msg, strlen(msg));
    if (arg)
        rbuf_append(err, arg, strlen(arg));
    return false;
}

bool script_shebang(const char *body, size_t len, uint32_t *flags, size_t *skip,
                    struct rbuf *err)
{
    *flags = SCRIPT_FLAG_EVAL_COMPAT;
    *skip = 0;
    if (len < 2 || body[0] != '#' || body[1] != '!')
        return true;
    const char *nl = memchr(body, '\n', len);
    if (!nl)
        return fail(err, "Invalid script shebang", NULL);
    size_t line = (size_t)(nl - body);
    struct conftext_args a;
    if (conftext_split(body, line, &a) != CONFTEXT_OK || a.argc == 0) {
        if (a.argc == 0)
            conftext_args_free(&a);
        return fail(err, "Invalid engine in script shebang", NULL);
    }
    bool ok = true;
    uint32_t f = 0;
    if (strcmp(a.argv[0], "#!lua") != 0) {
        ok = fail(err, "Unexpected engine in script shebang: ", a.argv[0]);
    } else {
        for (int i = 1; ok && i < a.argc; i++) {
            if (strncmp(a.argv[i], "flags=", 6) == 0)
                ok = parse_flags(a.argv[i] + 6, &f, err);
            else
                ok = fail(err, "Unknown lua shebang option: ", a.argv[i]);
        }
    }
    conftext_args_free(&a);
    if (ok) {
        *flags = f;
        *skip = line;
    }
    return ok;
}
