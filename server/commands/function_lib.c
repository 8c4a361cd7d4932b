/* function_lib.c — the server-wide registry of function libraries
 * (Redis's functions_lib_ctx): each library's name, code and registered
 * functions, behind one mutex. FUNCTION LOAD/DELETE/FLUSH/RESTORE change
 * it from any worker; FCALL finds a function's library here and each
 * worker's Lua state runs a library's code on first use
 * (function_lua.c). Also the "#!lua name=..." metadata parser. Any
 * thread. */
#include "server/commands/function.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/util/conftext.h"
#include "shard/rdb.h"
#include "shard/tval_rdb.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fn_lib *libs;           /* installed, load order; under lock */
static uint64_t next_id = 1;          /* under lock */
static _Atomic uint64_t gen;          /* bumped on each change */

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

bool function_name_ok(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

struct fn_lib *function_lib_new(const char *name, const char *code, size_t len)
{
    struct fn_lib *lib = calloc(1, sizeof *lib);
    if (!lib)
        return NULL;
    lib->name = strdup(name);
    lib->code = dup_n(code, len);
    lib->code_len = len;
    if (!lib->name || !lib->code) {
        function_lib_free(lib);
        return NULL;
    }
    return lib;
}

void function_lib_free(struct fn_lib *lib)
{
    if (!lib)
        return;
    for (size_t i = 0; i < lib->nfuncs; i++) {
        free(lib->funcs[i].name);
        free(lib->funcs[i].desc);
    }
    free(lib->funcs);
    free(lib->name);
    free(lib->code);
    free(lib);
}

int function_lib_add(struct fn_lib *lib, const char *name, size_t nlen, const char *desc,
                     size_t dlen, bool has_desc, uint32_t flags, const char **err)
{
    for (size_t i = 0; i < lib->nfuncs; i++) {
        if (lib->funcs[i].name_len == nlen && memcmp(lib->funcs[i].name, name, nlen) == 0) {
            *err = "Function already exists in the library";
            return -1;
        }
    }
    if (lib->nfuncs == lib->cap) {
        size_t cap = lib->cap ? lib->cap * 2 : 4;
        struct fn_func *f = realloc(lib->funcs, cap * sizeof *f);
        if (!f) {
            *err = "out of memory";
            return -1;
        }
        lib->funcs = f;
        lib->cap = cap;
    }
    struct fn_func *f = &lib->funcs[lib->nfuncs];
    f->name = dup_n(name, nlen);
    f->name_len = nlen;
    f->desc = has_desc ? dup_n(desc, dlen) : NULL;
    f->desc_len = has_desc ? dlen : 0;
    f->flags = flags;
    if (!f->name || (has_desc && !f->desc)) {
        free(f->name);
        free(f->desc);
        *err = "out of memory";
        return -1;
    }
    lib->nfuncs++;
    return 0;
}

static void err_str(struct rbuf *err, const char *s)
{
    rbuf_append(err, s, strlen(s));
}

char *function_meta(const char *code, size_t len, struct rbuf *err)
{
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        err_str(err, "Missing library metadata");
        return NULL;
    }
    const char *nl = memchr(code, '\n', len);
    if (!nl) {
        err_str(err, "Invalid library metadata");
        return NULL;
    }
    struct conftext_args a;
    if (conftext_split(code + 2, (size_t)(nl - code) - 2, &a) != CONFTEXT_OK) {
        err_str(err, "Invalid library metadata");
        return NULL;
    }
    char *name = NULL;
    const char *engine = a.argc > 0 ? a.argv[0] : "";
    for (int i = 1; i < a.argc; i++) {
        if (strncasecmp(a.argv[i], "name=", 5) != 0) {
            err_str(err, "Invalid metadata value given: ");
            err_str(err, a.argv[i]);
            goto fail;
        }
        if (name) {
            err_str(err, "Invalid metadata value, name argument was given multiple times");
            goto fail;
        }
        name = strdup(a.argv[i] + 5);
        if (!name) {
            err_str(err, "out of memory");
            goto fail;
        }
    }
    if (!name) {
        err_str(err, "Library name was not given");
        goto fail;
    }
    if (strcasecmp(engine, "lua") != 0) {
        err_str(err, "Engine '");
        err_str(err, engine);
        err_str(err, "' not found");
        goto fail;
    }
    if (!function_name_ok(name, strlen(name))) {
        err_str(err, "Library names can only contain letters, numbers, or underscores(_) and "
                     "must be at least one character long");
        goto fail;
    }
    conftext_args_free(&a);
    return name;
fail:
    free(name);
    conftext_args_free(&a);
    return NULL;
}

/* ---- The registry ----------------------------------------------------------- */

static struct fn_lib *find_lib(const char *name, size_t len)
{
    for (struct fn_lib *l = libs; l; l = l->next)
        if (strlen(l->name) == len && memcmp(l->name, name, len) == 0)
            return l;
    return NULL;
}

static const struct fn_func *find_func(struct fn_lib *in, const char *name, size_t len,
                                       struct fn_lib **owner)
{
    for (struct fn_lib *l = in; l; l = l->next) {
        for (size_t i = 0; i < l->nfuncs; i++) {
            /* Redis's dict of functions compares names case-insensitively. */
            if (l->funcs[i].name_len == len && strncasecmp(l->funcs[i].name, name, len) == 0) {
                if (owner)
                    *owner = l;
                return &l->funcs[i];
            }
        }
    }
    return NULL;
}

static void free_list(struct fn_lib *l)
{
    while (l) {
        struct fn_lib *next = l->next;
        function_lib_free(l);
        l = next;
    }
}

int function_registry_commit(struct fn_lib **add, size_t n, int policy, bool load_msgs,
                             struct rbuf *err)
{
    pthread_mutex_lock(&lock);
    struct fn_lib *keep = NULL, **kt = &keep, *drop = NULL;
    /* APPEND: a library of the same name refuses everything (LOAD's text
     * quotes the name, RESTORE's does not). */
    for (struct fn_lib *l = libs; l && policy == FN_APPEND; l = l->next) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(add[i]->name, l->name) == 0) {
                err_str(err, load_msgs ? "Library '" : "Library ");
                err_str(err, l->name);
                err_str(err, load_msgs ? "' already exists" : " already exists");
                goto refuse;
            }
        }
    }
    /* No function of the new libraries may be in a kept one. */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < add[i]->nfuncs; j++) {
            const struct fn_func *f = &add[i]->funcs[j];
            struct fn_lib *owner;
            if (!find_func(libs, f->name, f->name_len, &owner))
                continue;
            bool owner_goes = policy == FN_FLUSH;
            for (size_t k = 0; !owner_goes && k < n; k++)
                owner_goes = strcmp(add[k]->name, owner->name) == 0;
            if (!owner_goes) {
                err_str(err, "Function ");
                err_str(err, f->name);
                err_str(err, " already exists");
                goto refuse;
            }
        }
    }
    /* Split: kept, dropped. */
    for (struct fn_lib *l = libs, *next; l; l = next) {
        next = l->next;
        bool goes = policy == FN_FLUSH;
        for (size_t i = 0; !goes && i < n; i++)
            goes = strcmp(add[i]->name, l->name) == 0;
        if (goes) {
            l->next = drop;
            drop = l;
        } else {
            *kt = l;
            kt = &l->next;
        }
    }
    for (size_t i = 0; i < n; i++) {
        add[i]->id = next_id++;
        *kt = add[i];
        kt = &add[i]->next;
    }
    *kt = NULL;
    libs = keep;
    atomic_fetch_add(&gen, 1);
    pthread_mutex_unlock(&lock);
    free_list(drop);
    return 0;
refuse:
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n; i++)
        function_lib_free(add[i]);
    return -1;
}

bool function_registry_delete(const char *name, size_t len)
{
    pthread_mutex_lock(&lock);
    struct fn_lib **pp = &libs, *gone = NULL;
    for (; *pp; pp = &(*pp)->next) {
        if (strlen((*pp)->name) == len && memcmp((*pp)->name, name, len) == 0) {
            gone = *pp;
            *pp = gone->next;
            atomic_fetch_add(&gen, 1);
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    function_lib_free(gone);
    return gone != NULL;
}

void function_registry_flush(void)
{
    pthread_mutex_lock(&lock);
    struct fn_lib *old = libs;
    libs = NULL;
    atomic_fetch_add(&gen, 1);
    pthread_mutex_unlock(&lock);
    free_list(old);
}

bool function_find(const char *name, size_t len, uint64_t *lib_id, uint32_t *flags)
{
    pthread_mutex_lock(&lock);
    struct fn_lib *owner;
    const struct fn_func *f = find_func(libs, name, len, &owner);
    if (f) {
        *lib_id = owner->id;
        *flags = f->flags;
    }
    pthread_mutex_unlock(&lock);
    return f != NULL;
}

bool function_lib_code(uint64_t id, struct rbuf *out)
{
    bool found = false;
    pthread_mutex_lock(&lock);
    for (struct fn_lib *l = libs; l; l = l->next) {
        if (l->id == id) {
            found = rbuf_append(out, l->code, l->code_len) == 0;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

bool function_lib_alive(uint64_t id)
{
    bool found = false;
    pthread_mutex_lock(&lock);
    for (struct fn_lib *l = libs; l && !found; l = l->next)
        found = l->id == id;
    pthread_mutex_unlock(&lock);
    return found;
}

bool function_registry_has(const char *name, size_t len)
{
    pthread_mutex_lock(&lock);
    bool found = find_lib(name, len) != NULL;
    pthread_mutex_unlock(&lock);
    return found;
}

uint64_t function_registry_gen(void)
{
    return atomic_load(&gen);
}

void function_registry_each(void (*fn)(void *arg, const struct fn_lib *lib), void *arg)
{
    pthread_mutex_lock(&lock);
    for (struct fn_lib *l = libs; l; l = l->next)
        fn(arg, l);
    pthread_mutex_unlock(&lock);
}

void function_registry_stats(size_t *nlibs, size_t *nfuncs, size_t *bytes)
{
    size_t a = 0, b = 0, c = 0;
    pthread_mutex_lock(&lock);
    for (struct fn_lib *l = libs; l; l = l->next) {
        a++;
        b += l->nfuncs;
        c += l->code_len;
    }
    pthread_mutex_unlock(&lock);
    *nlibs = a;
    *nfuncs = b;
    *bytes = c;
}

int function_registry_records(struct rbuf *out)
{
    int rc = 0;
    pthread_mutex_lock(&lock);
    for (struct fn_lib *l = libs; l && rc == 0; l = l->next) {
        unsigned char hdr[10];
        hdr[0] = RDB_OPCODE_FUNCTION2;
        size_t h = 1 + rdb_encode_len(hdr + 1, l->code_len);
        if (rbuf_append(out, hdr, h) != 0 || rbuf_append(out, l->code, l->code_len) != 0)
            rc = -1;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}
