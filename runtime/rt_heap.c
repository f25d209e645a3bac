/*
 * The malloc family, interposed: malloc, free, calloc, realloc,
 * reallocarray, posix_memalign, aligned_alloc, memalign, valloc, pvalloc
 * and malloc_usable_size, on top of glibc's exported __libc_malloc,
 * __libc_free, __libc_calloc, __libc_realloc and __libc_memalign (no dlsym,
 * so nothing to set up and no recursion at start-up: they work before the
 * constructor ran, in any thread, in signal handlers).
 *
 * Each block cprof allocates carries a 16-byte header just before the
 * pointer returned: the requested size, who allocated it (thread serial,
 * and the innermost call's node id, or function index in trace mode, 0
 * outside calls), the process's fork generation, log2 of the distance back
 * to the real block (16; an aligned block's alignment), and a check derived
 * from the pointer, those fields and a per-process random cookie. A pointer
 * whose header does not check was not allocated by cprof (__libc_malloc,
 * another allocator): it is passed to libc unchanged and counted as a
 * foreign free. Sizes are always the requested ones: a free knows the
 * requested size of its block, so net growth is exact.
 *
 * Accounting: per thread into the innermost open call's tree node (summary
 * and count modes) or the thread's outside totals, plus the thread's
 * totals and its table of frees by owner (CPROF_REC_FREED); a trace gets
 * EXT_ALLOC/EXT_FREE events. Process-wide: bytes and blocks live (atomics:
 * one shared cache line written per allocation and free, never on the
 * enter/exit path) and their peak. A node's peak is raised here at its own
 * allocations only; the writer carries peaks up the tree, so calls pay
 * nothing for it. While the runtime is busy on the thread (a signal
 * handler interrupting a hook or this file), or the thread has no state,
 * only the process counters are kept, and the call is counted as dropped.
 *
 * The runtime's own memory comes from mmap and is never counted.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "rt_internal.h"

extern void *__libc_malloc(size_t n);
extern void __libc_free(void *p);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

/* The exported names are aliases of the rt_heap_* functions below (whose
 * own addresses rt_heap_probe.c compares with what calls resolve to). The
 * static runtime's are weak: under a static glibc, whose malloc.o defines
 * the family too, libc's win and cprof steps aside. */
#ifdef CPROF_RT_SHARED
#define RT_HEAP_ALIAS(name)                                                              \
    extern __typeof(name) name                                                           \
        __attribute__((alias("rt_heap_" #name), visibility("default")));
#else
#define RT_HEAP_ALIAS(name)                                                              \
    extern __typeof(name) name                                                           \
        __attribute__((alias("rt_heap_" #name), visibility("default"), weak));
#endif

#define RT_HDR 16u
#define RT_HDR_SHIFT 4u
#define RT_SIZE_BITS 44 /* larger requests go to libc untracked */
#define RT_SIZE_MAX ((1ull << RT_SIZE_BITS) - 1)
#define RT_THREAD_BITS 20
#define RT_OWNER_MAX ((1u << 23) - 1)
#define RT_GEN_MASK 7u
#define RT_FREED_INITIAL 1024u
#define RT_FREED_MAX (1u << 22)

/* w0: size:44 thread:20; w1: owner:23 shift:6 gen:3 check:32 */
struct rt_heap_hdr {
    uint64_t w0, w1;
};

static struct RT_SHARED_BLOCK { /* shared with the keeper (rt_keeper.c) */
    uint64_t in_use, blocks, peak;
} rt_live;
static uint64_t rt_foreign __attribute__((aligned(64)));
static uint64_t rt_dropped;
static uint64_t rt_cookie;
static uint32_t rt_gen;
static int rt_state; /* 0 unknown, 1 active, 2 passing everything to libc */

RT_NOINST static inline uint32_t rt_hdr_check(uintptr_t p, uint64_t w0, uint32_t lo)
{
    uint64_t h = ((uint64_t)p ^ rt_cookie) * 0x9e3779b97f4a7c15ull;
    h = (h ^ w0) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ lo ^ (h >> 29)) * 0x94d049bb133111ebull;
    return (uint32_t)(h >> 32);
}

/* Decides once whether to track: only when every call of the family lands
 * here. Signal-safe. */
__attribute__((cold, noinline)) RT_NOINST static int rt_heap_start(void)
{
    int state = __atomic_load_n(&rt_state, __ATOMIC_ACQUIRE);
    if (state)
        return state;
    uint64_t cookie = rt_mono_ns() ^ (uint64_t)(uintptr_t)&state;
    const uint8_t *rnd = (const uint8_t *)getauxval(AT_RANDOM);
    if (rnd) {
        uint64_t r;
        memcpy(&r, rnd + 8, sizeof r);
        cookie ^= r;
    }
    uint64_t expected = 0;
    __atomic_compare_exchange_n(&rt_cookie, &expected, cookie | 1, 0, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
    int want = rt_heap_interposed() ? 1 : 2, none = 0;
    __atomic_compare_exchange_n(&rt_state, &none, want, 0, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
    return __atomic_load_n(&rt_state, __ATOMIC_ACQUIRE);
}

RT_NOINST int rt_heap_active(void)
{
    return rt_heap_start() == 1;
}

/* libc's malloc_usable_size, when the shared runtime could look it up
 * (a tool such as valgrind may have replaced glibc's allocator under
 * __libc_malloc: then its own answers). */
static size_t (*rt_real_usable)(void *p);

/* At start-up (rt_process_init), outside any allocation. */
RT_NOINST void rt_heap_init(void)
{
    rt_heap_start();
    rt_keeper_share(&rt_live, sizeof rt_live);
#ifdef CPROF_RT_SHARED
    rt_real_usable = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
#endif
}

#define RT_TRACKING() RT_LIKELY(__atomic_load_n(&rt_state, __ATOMIC_ACQUIRE) == 1)
#define RT_START() (RT_TRACKING() || rt_heap_start() == 1)

/* The thread's state, marked busy, when its heap calls can be attributed;
 * NULL (and the call counted as dropped) otherwise. A thread's first
 * allocation after start-up sets its state up. */
RT_NOINST static inline struct rt_thread *rt_heap_enter(void)
{
    struct rt_thread *t = rt_self;
    if (RT_UNLIKELY(t == NULL) && rt_ready && !rt_finished)
        t = rt_thread_attach();
    if (RT_UNLIKELY(t == NULL || t->busy)) {
        __atomic_add_fetch(&rt_dropped, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    t->busy = 1;
    RT_SIGNAL_FENCE();
    return t;
}

RT_NOINST static inline void rt_heap_leave(struct rt_thread *t)
{
    RT_SIGNAL_FENCE();
    t->busy = 0;
}

/* Counts one allocation of n bytes with in_use bytes live after it on t;
 * returns the owner to record in its header. */
RT_NOINST static uint32_t rt_note_alloc(struct rt_thread *t, uint64_t n, uint64_t in_use)
{
    uint32_t owner = 0;
    t->heap_all.alloc_calls++;
    t->heap_all.alloc_bytes += n;
    /* a call entered while recording was off at the top of the thread
     * holds the root: outside, as if not instrumented (rt_control.c) */
    if (t->depth > 0 && (!t->root || t->stack[t->depth - 1].node != t->root)) {
        struct rt_frame *f = &t->stack[t->depth - 1];
        if (rt_config.mode == RT_MODE_TRACE) {
            uint32_t idx = rt_trace_fn_lookup(t, f->fn);
            owner = idx <= RT_OWNER_MAX ? idx : RT_OWNER_MAX;
        } else if (f->node) {
            struct rt_node *node = f->node;
            node->alloc_calls++;
            node->alloc_bytes += n;
            if (in_use > node->peak)
                node->peak = in_use;
            owner = node->id;
        }
    } else {
        t->heap_outside.alloc_calls++;
        t->heap_outside.alloc_bytes += n;
    }
    if (rt_config.mode == RT_MODE_TRACE) {
        uint64_t ops[2] = {n, in_use};
        rt_trace_ext(t, rt_ticks(), CPROF_EXT_ALLOC, ops, 2);
    }
    return owner;
}

/* The table of frees by owner, grown to hold one more entry; NULL when it
 * cannot grow. Cold. */
__attribute__((cold, noinline)) RT_NOINST static struct rt_freed_table *
rt_freed_grow(struct rt_thread *t)
{
    struct rt_freed_table *old = t->freed;
    uint32_t slots = old ? (old->mask + 1) * 2 : RT_FREED_INITIAL;
    if (slots > RT_FREED_MAX)
        return NULL;
    size_t size = sizeof(struct rt_freed_table) + sizeof(struct rt_freed) * slots;
    struct rt_freed_table *ft = rt_map(size);
    if (!ft)
        return NULL;
    ft->map_size = size;
    ft->mask = slots - 1;
    ft->prev = old;
    for (uint32_t i = 0; old && i <= old->mask; i++) {
        const struct rt_freed *s = &old->slots[i];
        if (!s->calls)
            continue;
        uint32_t h = (uint32_t)((s->key * 0x9e3779b97f4a7c15ull) >> 32) & ft->mask;
        while (ft->slots[h].calls)
            h = (h + 1) & ft->mask;
        ft->slots[h] = *s;
        ft->used++;
    }
    __atomic_store_n(&t->freed, ft, __ATOMIC_RELEASE);
    return ft;
}

/* Adds calls frees of bytes of blocks owned by key to t's table. */
RT_NOINST static void rt_freed_add(struct rt_thread *t, uint64_t key, uint64_t calls,
                                   uint64_t bytes)
{
    struct rt_freed_table *ft = t->freed;
    for (;;) {
        if (RT_UNLIKELY(ft == NULL)) {
            if (!(ft = rt_freed_grow(t)))
                break;
        }
        uint32_t h = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & ft->mask;
        for (;;) {
            struct rt_freed *s = &ft->slots[h];
            if (s->calls && s->key == key) {
                s->calls += calls;
                s->bytes += bytes;
                return;
            }
            if (!s->calls)
                break;
            h = (h + 1) & ft->mask;
        }
        if ((ft->used + 1) * 4 <= (ft->mask + 1) * 3) {
            struct rt_freed *s = &ft->slots[h];
            s->key = key;
            s->bytes = bytes;
            __atomic_store_n(&s->calls, calls, __ATOMIC_RELEASE);
            ft->used++;
            return;
        }
        if (!(ft = rt_freed_grow(t)))
            break;
    }
    t->freed_lost_calls += calls;
    t->freed_lost_bytes += bytes;
}

/* Counts one free on t of a block of n bytes whose header word w0/w1
 * names its owner, with in_use bytes live after it. */
RT_NOINST static void rt_note_free(struct rt_thread *t, uint64_t n, uint64_t w0,
                                   uint64_t w1, uint64_t in_use)
{
    t->heap_all.free_calls++;
    t->heap_all.freed_bytes += n;
    if (t->depth > 0 && (!t->root || t->stack[t->depth - 1].node != t->root)) {
        struct rt_frame *f = &t->stack[t->depth - 1];
        if (rt_config.mode != RT_MODE_TRACE && f->node) {
            f->node->free_calls++;
            f->node->freed_bytes += n;
        }
    } else {
        t->heap_outside.free_calls++;
        t->heap_outside.freed_bytes += n;
    }
    uint32_t gen = (uint32_t)(w1 >> 29) & RT_GEN_MASK;
    uint64_t owner_thread = gen == rt_gen ? w0 >> RT_SIZE_BITS : 0;
    rt_freed_add(t, owner_thread << 32 | (w1 & RT_OWNER_MAX), 1, n);
    if (rt_config.mode == RT_MODE_TRACE) {
        uint64_t ops[2] = {n, in_use};
        rt_trace_ext(t, rt_ticks(), CPROF_EXT_FREE, ops, 2);
    }
}

/* Makes real (from libc, with 1 << shift bytes before the block of n
 * bytes) a tracked block: counts it and writes its header. Returns the
 * block. */
RT_NOINST static void *rt_track(void *real, unsigned shift, uint64_t n)
{
    uint8_t *p = (uint8_t *)real + ((size_t)1 << shift);
    uint64_t in_use = __atomic_add_fetch(&rt_live.in_use, n, __ATOMIC_RELAXED);
    __atomic_add_fetch(&rt_live.blocks, 1, __ATOMIC_RELAXED);
    uint64_t peak = __atomic_load_n(&rt_live.peak, __ATOMIC_RELAXED);
    while (RT_UNLIKELY(in_use > peak) &&
           !__atomic_compare_exchange_n(&rt_live.peak, &peak, in_use, 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        ;
    uint64_t thread = 0;
    uint32_t owner = 0;
    struct rt_thread *t = rt_heap_enter();
    if (t) {
        owner = rt_note_alloc(t, n, in_use);
        thread = t->serial & ((1u << RT_THREAD_BITS) - 1);
        rt_heap_leave(t);
    }
    struct rt_heap_hdr *h = (struct rt_heap_hdr *)p - 1;
    uint64_t w0 = n | thread << RT_SIZE_BITS;
    uint32_t lo = owner | (uint32_t)shift << 23 | rt_gen << 29;
    h->w0 = w0;
    h->w1 = (uint64_t)rt_hdr_check((uintptr_t)p, w0, lo) << 32 | lo;
    return p;
}

/* The header of p if cprof allocated p, else NULL (p not NULL). */
RT_NOINST static inline struct rt_heap_hdr *rt_hdr_of(void *p)
{
    struct rt_heap_hdr *h = (struct rt_heap_hdr *)p - 1;
    uint64_t w1 = h->w1;
    if (RT_LIKELY((uint32_t)(w1 >> 32) ==
                  rt_hdr_check((uintptr_t)p, h->w0, (uint32_t)w1)))
        return h;
    __atomic_add_fetch(&rt_foreign, 1, __ATOMIC_RELAXED);
    return NULL;
}

/* Uncounts the tracked block p (header h) and returns its real start,
 * which the caller gives back to libc. The header is wiped, so a second
 * free of p is seen as foreign and left to libc to diagnose. */
RT_NOINST static void *rt_untrack(void *p, struct rt_heap_hdr *h)
{
    uint64_t w0 = h->w0, w1 = h->w1;
    uint64_t n = w0 & RT_SIZE_MAX;
    h->w1 = 0;
    uint64_t in_use = __atomic_sub_fetch(&rt_live.in_use, n, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&rt_live.blocks, 1, __ATOMIC_RELAXED);
    struct rt_thread *t = rt_heap_enter();
    if (t) {
        rt_note_free(t, n, w0, w1, in_use);
        rt_heap_leave(t);
    }
    return (uint8_t *)p - ((size_t)1 << ((w1 >> 23) & 63));
}

RT_NOINST static void *rt_malloc(size_t n)
{
    if (RT_UNLIKELY(n > RT_SIZE_MAX))
        return __libc_malloc(n); /* beyond any real heap: not tracked */
    void *real = __libc_malloc(n + RT_HDR);
    return real ? rt_track(real, RT_HDR_SHIFT, n) : NULL;
}

RT_NOINST static void rt_free(void *p)
{
    struct rt_heap_hdr *h = rt_hdr_of(p);
    __libc_free(h ? rt_untrack(p, h) : p);
}

/* A block of n bytes aligned to align, a power of two. */
RT_NOINST static void *rt_aligned(size_t align, size_t n)
{
    if (align <= RT_HDR)
        return rt_malloc(n);
    if (RT_UNLIKELY(n > RT_SIZE_MAX || align > RT_SIZE_MAX))
        return __libc_memalign(align, n);
    void *real = __libc_memalign(align, align + n);
    return real ? rt_track(real, (unsigned)__builtin_ctzll(align), n) : NULL;
}

/* memalign's rules (glibc's, which aligned_alloc shares): an alignment
 * past half the address space is EINVAL, others round up to a power of
 * two. */
RT_NOINST static void *rt_memalign(size_t align, size_t n)
{
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (align & (align - 1))
        align = (size_t)1 << (64 - __builtin_clzll(align));
    return rt_aligned(align, n);
}

RT_HIDDEN RT_NOINST void *rt_heap_malloc(size_t n)
{
    if (!RT_START())
        return __libc_malloc(n);
    return rt_malloc(n);
}

RT_HIDDEN RT_NOINST void rt_heap_free(void *p)
{
    if (!p)
        return;
    if (!RT_START()) {
        __libc_free(p);
        return;
    }
    rt_free(p);
}

RT_HIDDEN RT_NOINST void *rt_heap_calloc(size_t count, size_t size)
{
    if (!RT_START())
        return __libc_calloc(count, size);
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    if (RT_UNLIKELY(n > RT_SIZE_MAX))
        return __libc_calloc(count, size);
    void *real = __libc_calloc(1, n + RT_HDR);
    return real ? rt_track(real, RT_HDR_SHIFT, n) : NULL;
}

/* A live block's realloc: one free of the old block and one allocation of
 * the new, in place through libc when the block is an ordinary one; an
 * aligned (or huge) one is copied into a fresh block. On failure the old
 * block is left as it was, counted as it was. */
RT_HIDDEN RT_NOINST void *rt_heap_realloc(void *p, size_t n)
{
    if (!RT_START())
        return __libc_realloc(p, n);
    if (!p)
        return rt_malloc(n);
    struct rt_heap_hdr *h = rt_hdr_of(p);
    if (!h)
        return __libc_realloc(p, n);
    if (n == 0) { /* glibc frees and returns NULL */
        __libc_free(rt_untrack(p, h));
        return NULL;
    }
    uint64_t old = h->w0 & RT_SIZE_MAX;
    if (((h->w1 >> 23) & 63) == RT_HDR_SHIFT && n <= RT_SIZE_MAX) {
        struct rt_heap_hdr saved = *h;
        void *real = __libc_realloc((uint8_t *)p - RT_HDR, n + RT_HDR);
        if (!real)
            return NULL;
        /* the old block is gone; its header survives in saved */
        rt_untrack((struct rt_heap_hdr *)&saved + 1, &saved);
        return rt_track(real, RT_HDR_SHIFT, n);
    }
    void *q = rt_malloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    __libc_free(rt_untrack(p, h));
    return q;
}

RT_HIDDEN RT_NOINST void *rt_heap_reallocarray(void *p, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return rt_heap_realloc(p, n);
}

RT_HIDDEN RT_NOINST int rt_heap_posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) != 0 || (align & (align - 1)) || align == 0)
        return EINVAL;
    int saved = errno;
    void *p = RT_START() ? rt_aligned(align, n) : __libc_memalign(align, n);
    errno = saved;
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

RT_HIDDEN RT_NOINST void *rt_heap_memalign(size_t align, size_t n)
{
    if (!RT_START())
        return __libc_memalign(align, n);
    return rt_memalign(align, n);
}

RT_HIDDEN RT_NOINST void *rt_heap_aligned_alloc(size_t align, size_t n)
{
    return rt_heap_memalign(align, n);
}

RT_HIDDEN RT_NOINST void *rt_heap_valloc(size_t n)
{
    return rt_heap_memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

RT_HIDDEN RT_NOINST void *rt_heap_pvalloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), rounded;
    if (__builtin_add_overflow(n, page - 1, &rounded)) {
        errno = ENOMEM;
        return NULL;
    }
    return rt_heap_memalign(page, rounded & ~(page - 1));
}

/* libc's usable size of a block it handed out; before start-up (and in
 * the static runtime) glibc's, read from the chunk: its size field (the word
 * before the block, low three bits are flags) less the header words the
 * chunk keeps: one, or two for a chunk of its own mapping. */
RT_NOINST static size_t rt_libc_usable(void *real)
{
    size_t (*usable)(void *) = rt_real_usable;
    if (usable)
        return usable(real);
    uint64_t field = ((const uint64_t *)real)[-1];
    uint64_t size = field & ~(uint64_t)7;
    return (size_t)(size - ((field & 2) ? 16 : 8));
}

RT_HIDDEN RT_NOINST size_t rt_heap_malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    if (!RT_START())
        return rt_libc_usable(p);
    struct rt_heap_hdr *h = (struct rt_heap_hdr *)p - 1;
    uint64_t w1 = h->w1;
    if ((uint32_t)(w1 >> 32) != rt_hdr_check((uintptr_t)p, h->w0, (uint32_t)w1))
        return rt_libc_usable(p);
    size_t before = (size_t)1 << ((w1 >> 23) & 63);
    return rt_libc_usable((uint8_t *)p - before) - before;
}

RT_HEAP_ALIAS(malloc)
RT_HEAP_ALIAS(free)
RT_HEAP_ALIAS(calloc)
RT_HEAP_ALIAS(realloc)
RT_HEAP_ALIAS(reallocarray)
RT_HEAP_ALIAS(posix_memalign)
RT_HEAP_ALIAS(memalign)
RT_HEAP_ALIAS(aligned_alloc)
RT_HEAP_ALIAS(valloc)
RT_HEAP_ALIAS(pvalloc)
RT_HEAP_ALIAS(malloc_usable_size)

RT_NOINST void rt_heap_process(struct rt_heap_process *out)
{
    out->in_use = __atomic_load_n(&rt_live.in_use, __ATOMIC_RELAXED);
    out->blocks = __atomic_load_n(&rt_live.blocks, __ATOMIC_RELAXED);
    out->peak = __atomic_load_n(&rt_live.peak, __ATOMIC_RELAXED);
    out->foreign_frees = __atomic_load_n(&rt_foreign, __ATOMIC_RELAXED);
    out->dropped = __atomic_load_n(&rt_dropped, __ATOMIC_RELAXED);
}

RT_NOINST void rt_heap_fold(struct rt_thread *into, const struct rt_thread *t)
{
    struct rt_heap_counts *all = &into->heap_all, *out = &into->heap_outside;
    all->alloc_calls += t->heap_all.alloc_calls;
    all->alloc_bytes += t->heap_all.alloc_bytes;
    all->free_calls += t->heap_all.free_calls;
    all->freed_bytes += t->heap_all.freed_bytes;
    out->alloc_calls += t->heap_outside.alloc_calls;
    out->alloc_bytes += t->heap_outside.alloc_bytes;
    out->free_calls += t->heap_outside.free_calls;
    out->freed_bytes += t->heap_outside.freed_bytes;
    into->freed_lost_calls += t->freed_lost_calls;
    into->freed_lost_bytes += t->freed_lost_bytes;
    /* owners stay as they are: the writer translates those of folded
     * threads (rt_fold_owner) */
    const struct rt_freed_table *ft = t->freed;
    for (uint32_t i = 0; ft && i <= ft->mask; i++) {
        const struct rt_freed *s = &ft->slots[i];
        if (s->calls)
            rt_freed_add(into, s->key, s->calls, s->bytes);
    }
}

RT_NOINST void rt_heap_release(struct rt_thread *t)
{
    struct rt_freed_table *ft = t->freed;
    t->freed = NULL;
    while (ft) {
        struct rt_freed_table *prev = ft->prev;
        rt_unmap(ft, ft->map_size);
        ft = prev;
    }
}

RT_NOINST void rt_heap_after_fork(struct rt_thread *survivor)
{
    rt_gen = (rt_gen + 1) & RT_GEN_MASK;
    rt_live.peak = rt_live.in_use;
    rt_foreign = 0;
    rt_dropped = 0;
    if (!survivor)
        return;
    struct rt_heap_counts zero = {0};
    survivor->heap_all = zero;
    survivor->heap_outside = zero;
    survivor->freed_lost_calls = 0;
    survivor->freed_lost_bytes = 0;
    rt_heap_release(survivor);
}
