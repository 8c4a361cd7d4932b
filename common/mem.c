/* mem.c — accounting allocator over jemalloc (arena per shard thread) or,
 * in sanitizer builds where jemalloc cannot replace malloc, over libc. */
#include "common/mem.h"

/* Built with AddressSanitizer or ThreadSanitizer (gcc's macros, clang's
 * __has_feature): their allocator replaces malloc. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SKV_SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SKV_SANITIZER_ALLOCATOR 1
#endif
#endif
#ifndef SKV_SANITIZER_ALLOCATOR
#define SKV_SANITIZER_ALLOCATOR 0
#endif
#if SKV_SANITIZER_ALLOCATOR
/* From the sanitizer runtime (sanitizer/allocator_interface.h, which gcc
 * 12 does not ship): bytes its allocator has handed out and not taken back. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include <assert.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

void mem_thread_cache_flush(void)
{
#ifdef SKV_HAVE_JEMALLOC
    mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
#endif
}

void mem_thread_cache_off(void)
{
#ifdef SKV_HAVE_JEMALLOC
    bool off = false;
    mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    mallctl("thread.tcache.enabled", NULL, NULL, &off, sizeof off);
#endif
}

/* No object may exceed PTRDIFF_MAX bytes (pointer differences within it
 * must fit), so such requests fail here without asking the allocator:
 * sanitizer allocators abort on them instead of returning NULL. */
static inline bool size_ok(size_t n)
{
    return n > 0 && n <= (size_t)PTRDIFF_MAX;
}

size_t mem_usable(const void *p)
{
    return p ? malloc_usable_size((void *)p) : 0;
}

void *mem_alloc(struct mem_acct *a, size_t n)
{
    void *p = size_ok(n) ? malloc(n) : NULL;
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
    void *p = size_ok(n) ? calloc(1, n) : NULL;
    if (!p) {
        a->fails++;
        return NULL;
    }
    a->used += (int64_t)mem_usable(p);
    a->allocs++;
    return p;
}

void *mem_dup(struct mem_acct *a, const void *p, size_t n)
{
    void *q = n ? mem_alloc(a, n) : NULL;
    if (q)
        memcpy(q, p, n);
    return q;
}

void *mem_realloc(struct mem_acct *a, void *p, size_t n)
{
    if (!p)
        return mem_alloc(a, n);
    if (n == 0)
        return NULL;
    size_t old = mem_usable(p);
    void *q = size_ok(n) ? realloc(p, n) : NULL;
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

void mem_free_uncached(struct mem_acct *a, void *p)
{
    if (!p)
        return;
    a->used -= (int64_t)mem_usable(p);
    a->frees++;
#ifdef SKV_HAVE_JEMALLOC
    dallocx(p, MALLOCX_TCACHE_NONE);
#else
    free(p);
#endif
}

size_t mem_map_size(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (n > SIZE_MAX - (page - 1))
        return 0; /* no such mapping can exist */
    return (n + page - 1) & ~(page - 1);
}

void *mem_map(struct mem_acct *a, size_t n)
{
    size_t len = size_ok(n) ? mem_map_size(n) : 0;
    /* MAP_NORESERVE: the table is charged by what is touched, as malloc'd
     * memory is; strict overcommit accounting would refuse big tables
     * that are mostly never written. */
    void *p = len ? mmap(NULL, len, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                  : MAP_FAILED;
    if (p == MAP_FAILED) {
        a->fails++;
        return NULL;
    }
    a->used += (int64_t)len;
    a->mapped += (int64_t)len;
    a->allocs++;
    return p;
}

void mem_unmap_tail(struct mem_acct *a, void *p, size_t n, size_t keep)
{
    size_t len = mem_map_size(n), kept = mem_map_size(keep);
    if (!p || kept >= len)
        return;
    /* munmap of a page-aligned range inside a private anonymous mapping
     * cannot fail except on bad arguments, which would be a caller bug. */
    int rc = munmap((char *)p + kept, len - kept);
    assert(rc == 0);
    (void)rc;
    a->used -= (int64_t)(len - kept);
    a->mapped -= (int64_t)(len - kept);
}

void mem_unmap(struct mem_acct *a, void *p, size_t n)
{
    if (!p)
        return;
    size_t len = mem_map_size(n);
    int rc = munmap(p, len);
    assert(rc == 0);
    (void)rc;
    a->used -= (int64_t)len;
    a->mapped -= (int64_t)len;
    a->frees++;
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
#elif SKV_SANITIZER_ALLOCATOR
    /* The sanitizer's allocator serves every malloc: glibc's mallinfo2
     * would read an arena that was never set up (and crashes on it). */
    *allocated = __sanitizer_get_current_allocated_bytes();
    *resident = mem_rss();
#else
    struct mallinfo2 mi = mallinfo2();
    *allocated = mi.uordblks + mi.hblkhd;
    *resident = mem_rss();
#endif
}

bool mem_allocator_stats(size_t *allocated, size_t *active, size_t *resident)
{
#ifdef SKV_HAVE_JEMALLOC
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    size_t v[3];
    static const char *const names[3] = {"stats.allocated", "stats.active", "stats.resident"};
    for (int i = 0; i < 3; i++) {
        sz = sizeof(size_t);
        if (mallctl(names[i], &v[i], &sz, NULL, 0) != 0)
            return false;
    }
    *allocated = v[0];
    *active = v[1];
    *resident = v[2];
    return true;
#else
    (void)allocated;
    (void)active;
    (void)resident;
    return false;
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
