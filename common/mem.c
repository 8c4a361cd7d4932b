/* mem.c — accounting allocator over jemalloc (arena per shard thread) or,
 * in sanitizer builds where jemalloc cannot replace malloc, over libc. */
#include "common/mem.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef SKV_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

int mem_thread_arena_create(void)
{
#ifdef SKV_HAVE_JEMALLOC
    unsigned arena;
    size_t sz = sizeof arena;
    if (mallctl("arenas.create", &arena, &sz, NULL, 0) != 0)
        return -1;
    if (mallctl("thread.arena", NULL, NULL, &arena, sizeof arena) != 0)
        return -1;
    return (int)arena;
#else
    return -1;
#endif
}

size_t mem_usable(const void *p)
{
    return p ? malloc_usable_size((void *)p) : 0;
}

void *mem_alloc(struct mem_acct *a, size_t n)
{
    void *p = n ? malloc(n) : NULL;
    if (!p) {
        a->fails++;
        return NULL;
    }
    a->used += (int64_t)mem_usable(p);
    a->allocs++;
    return p;
}

void *mem_calloc(struct mem_acct *a, size_t n)
{
    void *p = n ? calloc(1, n) : NULL;
    if (!p) {
        a->fails++;
        return NULL;
    }
    a->used += (int64_t)mem_usable(p);
    a->allocs++;
    return p;
}

void *mem_realloc(struct mem_acct *a, void *p, size_t n)
{
    if (!p)
        return mem_alloc(a, n);
    if (n == 0)
        return NULL;
    size_t old = mem_usable(p);
    void *q = realloc(p, n);
    if (!q) {
        a->fails++;
        return NULL;
    }
    a->used += (int64_t)mem_usable(q) - (int64_t)old;
    return q;
}

void mem_free(struct mem_acct *a, void *p)
{
    if (!p)
        return;
    a->used -= (int64_t)mem_usable(p);
    a->frees++;
    free(p);
}

size_t mem_rss(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

void mem_process_stats(size_t *allocated, size_t *resident)
{
#ifdef SKV_HAVE_JEMALLOC
    /* stats.* are cached snapshots; bumping the epoch refreshes them. */
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    sz = sizeof(size_t);
    if (mallctl("stats.allocated", allocated, &sz, NULL, 0) != 0)
        *allocated = 0;
    sz = sizeof(size_t);
    if (mallctl("stats.resident", resident, &sz, NULL, 0) != 0)
        *resident = mem_rss();
#else
    struct mallinfo2 mi = mallinfo2();
    *allocated = mi.uordblks + mi.hblkhd;
    *resident = mem_rss();
#endif
}

const char *mem_allocator_name(void)
{
#ifdef SKV_HAVE_JEMALLOC
    return "jemalloc-" JEMALLOC_VERSION;
#else
    return "libc";
#endif
}
