/*
 * Per-thread state: created on a thread's first hook, registered in a
 * lock-free table so that the process's end (or a fatal signal) can write
 * every thread, and written and released at thread exit through a pthread
 * key destructor.
 *
 * A thread that cannot get state (no memory, table full) and a thread whose
 * state is gone point rt_self at a sentinel that is permanently busy, so the
 * hooks drop its events in one compare; they are counted in threads_lost.
 */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rt_internal.h"

#define RT_MAX_THREADS 4096

__thread struct rt_thread *rt_self __attribute__((tls_model("initial-exec")));

/* The thread table, shared with the keeper (rt_keeper.c). */
static struct RT_SHARED_BLOCK rt_thread_table {
    struct rt_thread *slots[RT_MAX_THREADS];
    uint32_t serial;
    uint32_t lost;
    int iterating; /* walkers of slots in progress (the keeper's too) */
} rt_tab;
static struct rt_thread rt_sentinel = {.busy = 1};
static pthread_key_t rt_key;

/* Where a thread's struct starts in its mapping: not at the page's start.
 * Its first line is the hottest the hooks touch; at offset 0 it shares
 * its L1 set with the start of every page-aligned block of the program and
 * of the runtime (the nodes' first lines fall in every eighth set, the
 * shadow stack starts a page), and where the program's own hot data lands
 * there too it was evicted on every call: count mode on Lua ran 1.5 times
 * as long in one layout of memory in four (docs/PERFORMANCE.md). 0x5c0 is
 * set 23 of 64, off every 512-byte boundary. */
#define RT_THREAD_OFFSET 0x5c0u

/* The runtime's memory: from the keeper's shared region when there is
 * one (so that it outlives a killed process), else private. */
RT_NOINST void *rt_map(size_t size)
{
    void *p = rt_region_map(size);
    if (p)
        return p;
    p = mmap(NULL, size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

RT_NOINST void rt_unmap(void *p, size_t size)
{
    if (p && !rt_region_unmap(p, size))
        munmap(p, size);
}

RT_NOINST static void rt_thread_release(struct rt_thread *t)
{
    rt_tree_release(t);
    rt_trace_release(t);
    rt_lines_release(t);
    rt_heap_release(t);
    rt_unmap((char *)t - RT_THREAD_OFFSET, t->map_size);
}

RT_NOINST static void rt_key_destructor(void *arg)
{
    struct rt_thread *t = arg;
    /* other keys' destructors may still call instrumented code: stay
     * until the last round glibc runs */
    if (++t->destructor_rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
        pthread_setspecific(rt_key, t);
        return;
    }
    rt_thread_detach(t);
}

RT_NOINST void rt_threads_init(void)
{
    pthread_key_create(&rt_key, rt_key_destructor);
    rt_keeper_share(&rt_tab, sizeof rt_tab);
}

RT_NOINST static struct rt_thread *rt_lose_thread(void)
{
    __atomic_fetch_add(&rt_tab.lost, 1, __ATOMIC_RELAXED);
    rt_self = &rt_sentinel;
    return &rt_sentinel;
}

/* A thread's state with room for depth frames and its tree or trace
 * buffer, busy, in no table; NULL when memory is short (*ok says whether
 * the tree or buffer was set up too). */
RT_NOINST static struct rt_thread *rt_thread_new(uint32_t depth, uint32_t serial, int *ok)
{
    size_t head = (RT_THREAD_OFFSET + sizeof(struct rt_thread) + 4095) & ~(size_t)4095;
    size_t size = head + (size_t)depth * sizeof(struct rt_frame);
    if (rt_config.cpu)
        size += (size_t)depth * sizeof(uint64_t);
    char *base = rt_map(size);
    *ok = 0;
    if (!base)
        return NULL;
    struct rt_thread *t = (struct rt_thread *)(base + RT_THREAD_OFFSET);
    t->map_size = size;
    t->stack = (struct rt_frame *)(base + head);
    if (rt_config.cpu)
        t->cpu_stack = (uint64_t *)(t->stack + depth);
    t->capacity = depth;
    t->max_nodes = rt_config.max_nodes;
    t->busy = 1;
    t->serial = serial;
    *ok = rt_config.mode == RT_MODE_TRACE ? rt_trace_init(t) == 0 : rt_tree_init(t) == 0;
    return t;
}

RT_NOINST struct rt_thread *rt_thread_scratch(uint32_t depth)
{
    int ok;
    struct rt_thread *t = rt_thread_new(depth, 0, &ok);
    if (t && !ok) {
        rt_thread_release(t);
        return NULL;
    }
    if (t && rt_config.cpu)
        rt_cpu_thread_init(t);
    if (t)
        t->busy = 0;
    return t;
}

RT_NOINST void rt_thread_scratch_free(struct rt_thread *t)
{
    rt_thread_release(t);
}

RT_NOINST struct rt_thread *rt_thread_attach(void)
{
    static __thread int attaching __attribute__((tls_model("initial-exec")));
    if (attaching || rt_finished)
        return NULL;
    attaching = 1;
    int ok;
    struct rt_thread *t =
        rt_thread_new(rt_config.max_depth,
                      __atomic_add_fetch(&rt_tab.serial, 1, __ATOMIC_RELAXED), &ok);
    if (!t) {
        attaching = 0;
        return rt_lose_thread();
    }
    t->tid = (pid_t)syscall(SYS_gettid);
    t->slot = -1;
    for (int i = 0; ok && i < RT_MAX_THREADS; i++) {
        struct rt_thread *expected = NULL;
        if (__atomic_compare_exchange_n(&rt_tab.slots[i], &expected, t, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            t->slot = i;
            break;
        }
    }
    if (t->slot < 0) {
        rt_thread_release(t);
        attaching = 0;
        return rt_lose_thread();
    }
    /* a thread born after a switch or reset catches up at its first call
     * (a change after this load finds it in the table) */
    if (__atomic_load_n(&rt_control_word, __ATOMIC_SEQ_CST) != 0)
        __atomic_store_n(&t->capacity, 0, __ATOMIC_SEQ_CST);
    pthread_setspecific(rt_key, t);
    if (rt_config.cpu)
        rt_cpu_thread_init(t);
    t->busy = 0;
    rt_self = t;
    attaching = 0;
    return t;
}

/* Claims the right to write t's data: the thread's own exit and the
 * process's end may race for it, and exactly one of them must write. */
RT_NOINST static int rt_claim(struct rt_thread *t)
{
    int expected = 0;
    return __atomic_compare_exchange_n(&t->written, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_RELAXED);
}

RT_NOINST void rt_thread_detach(struct rt_thread *t)
{
    t->busy = 1;
    rt_self = &rt_sentinel;
    /* a flush writing every thread just now: its end waits, then writes */
    int locked = rt_writing_take(1L << 30);
    uint64_t now = rt_config.mode == RT_MODE_COUNT ? 0 : rt_ticks();
    if (!rt_finished && rt_claim(t)) {
        if (locked)
            rt_fold_thread_ended(t, now);
        else
            rt_writer_thread(t, now);
    }
    if (locked)
        rt_writing_release();
    __atomic_store_n(&rt_tab.slots[t->slot], NULL, __ATOMIC_RELEASE);
    /* a walker that picked t up before it left the table may still read it */
    for (int spins = 0; __atomic_load_n(&rt_tab.iterating, __ATOMIC_ACQUIRE); spins++) {
        if (spins > 100000)
            return; /* leak rather than pull memory from under a walker */
        sched_yield();
    }
    rt_thread_release(t);
}

RT_NOINST void rt_threads_each(void (*fn)(struct rt_thread *t, void *arg), void *arg)
{
    __atomic_add_fetch(&rt_tab.iterating, 1, __ATOMIC_ACQ_REL);
    for (int i = 0; i < RT_MAX_THREADS; i++) {
        struct rt_thread *t = __atomic_load_n(&rt_tab.slots[i], __ATOMIC_ACQUIRE);
        if (t && (!rt_in_keeper || rt_region_holds(t)) && rt_claim(t))
            fn(t, arg);
    }
    __atomic_sub_fetch(&rt_tab.iterating, 1, __ATOMIC_ACQ_REL);
}

RT_NOINST void rt_threads_visit(void (*fn)(struct rt_thread *t, void *arg), void *arg)
{
    __atomic_add_fetch(&rt_tab.iterating, 1, __ATOMIC_ACQ_REL);
    for (int i = 0; i < RT_MAX_THREADS; i++) {
        struct rt_thread *t = __atomic_load_n(&rt_tab.slots[i], __ATOMIC_ACQUIRE);
        if (t && (!rt_in_keeper || rt_region_holds(t)) &&
            !__atomic_load_n(&t->written, __ATOMIC_ACQUIRE))
            fn(t, arg);
    }
    __atomic_sub_fetch(&rt_tab.iterating, 1, __ATOMIC_ACQ_REL);
}

RT_NOINST void rt_threads_control_changed(void)
{
    __atomic_add_fetch(&rt_tab.iterating, 1, __ATOMIC_ACQ_REL);
    for (int i = 0; i < RT_MAX_THREADS; i++) {
        struct rt_thread *t = __atomic_load_n(&rt_tab.slots[i], __ATOMIC_ACQUIRE);
        if (t)
            __atomic_store_n(&t->capacity, 0, __ATOMIC_SEQ_CST);
    }
    __atomic_sub_fetch(&rt_tab.iterating, 1, __ATOMIC_ACQ_REL);
}

/* After a failed exec: the threads' data was written and rolled back, and
 * will be written again at the end. */
RT_NOINST void rt_threads_unclaim(void)
{
    for (int i = 0; i < RT_MAX_THREADS; i++) {
        struct rt_thread *t = __atomic_load_n(&rt_tab.slots[i], __ATOMIC_ACQUIRE);
        if (t)
            __atomic_store_n(&t->written, 0, __ATOMIC_RELEASE);
    }
}

/* In a forked child only the forking thread exists: the others' state is
 * released, and the survivor starts over as the child's first thread. */
RT_NOINST void rt_threads_after_fork(struct rt_thread *survivor)
{
    for (int i = 0; i < RT_MAX_THREADS; i++) {
        struct rt_thread *t = rt_tab.slots[i];
        if (t && t != survivor) {
            rt_tab.slots[i] = NULL;
            rt_thread_release(t);
        }
    }
    rt_tab.iterating = 0;
    rt_tab.lost = 0;
    rt_tab.serial = survivor ? 1 : 0;
    if (survivor) {
        survivor->serial = 1;
        survivor->tid = (pid_t)syscall(SYS_gettid);
        survivor->written = 0;
        struct rt_thread_stats zero = {0};
        survivor->stats = zero;
    }
}

RT_NOINST uint32_t rt_threads_seen(void)
{
    return __atomic_load_n(&rt_tab.serial, __ATOMIC_RELAXED);
}

RT_NOINST uint32_t rt_threads_lost(void)
{
    return __atomic_load_n(&rt_tab.lost, __ATOMIC_RELAXED);
}
