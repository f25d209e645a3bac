/*
 * Whether the program's calls of the malloc family land in rt_heap.c. Kept
 * apart from it so that the compiler cannot bind the names below to
 * rt_heap.c's definitions: here they are plain external functions, whose
 * addresses are what the dynamic (or static) linker resolved them to. A
 * program built with ASan, an allocator linked before libcprof-rt, or a
 * static glibc (whose malloc wins over the static runtime's weak one)
 * resolves them elsewhere, and cprof then leaves the heap alone.
 */
#include <malloc.h>
#include <stdlib.h>

#include "rt_internal.h"

RT_HIDDEN void *rt_heap_malloc(size_t n);
RT_HIDDEN void rt_heap_free(void *p);
RT_HIDDEN void *rt_heap_calloc(size_t count, size_t size);
RT_HIDDEN void *rt_heap_realloc(void *p, size_t n);
RT_HIDDEN int rt_heap_posix_memalign(void **out, size_t align, size_t n);
RT_HIDDEN void *rt_heap_memalign(size_t align, size_t n);
RT_HIDDEN void *rt_heap_aligned_alloc(size_t align, size_t n);
RT_HIDDEN size_t rt_heap_malloc_usable_size(void *p);

/* Signal-safe: compares addresses only. */
RT_NOINST int rt_heap_interposed(void)
{
    /* volatile: the comparisons are made at run time, on what was linked */
    void *volatile resolved[] = {
        (void *)malloc,         (void *)free,
        (void *)calloc,         (void *)realloc,
        (void *)posix_memalign, (void *)memalign,
        (void *)aligned_alloc,  (void *)malloc_usable_size,
    };
    void *const own[] = {
        (void *)rt_heap_malloc,         (void *)rt_heap_free,
        (void *)rt_heap_calloc,         (void *)rt_heap_realloc,
        (void *)rt_heap_posix_memalign, (void *)rt_heap_memalign,
        (void *)rt_heap_aligned_alloc,  (void *)rt_heap_malloc_usable_size,
    };
    for (size_t i = 0; i < sizeof own / sizeof *own; i++)
        if (resolved[i] != own[i])
            return 0;
    return 1;
}
