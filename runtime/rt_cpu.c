/*
 * CPU time per call (CPROF_CPU=1, summary mode): how much of a call's wall
 * time its thread spent on a CPU, so that blocked time (sleep, I/O, locks)
 * is told apart from computation.
 *
 * The thread's CPU clock (CLOCK_THREAD_CPUTIME_ID) is not served by the
 * vDSO: every read is a system call, about 1.4 us on the reference machine
 * (docs/PERFORMANCE.md), 50 times the whole hook. Reading it at every
 * enter and exit would make a profile of CPU time a profile of that system
 * call. Instead each thread keeps off_cpu, the nanoseconds of wall time it
 * spent off the CPU so far, which changes only when the kernel switches
 * the thread out. A call's CPU time is its wall time less the growth of
 * off_cpu between its enter and its exit.
 *
 * Whether the thread was switched out since the previous hook is read from
 * its restartable-sequences area (rseq, registered by glibc 2.35 and
 * later): a hook that brings off_cpu up to date points the area's rseq_cs
 * field at a descriptor of an empty critical section, and the kernel sets
 * that field to 0 when it preempts the thread, switches it out to sleep or
 * block, migrates it or delivers a signal to it outside the (empty)
 * section. A hook that finds the field still pointing there knows the
 * thread ran without a break since then: off_cpu is current, one load and
 * one compare. Otherwise the thread's CPU clock and CLOCK_MONOTONIC are
 * read, the wall time since the last reading less the CPU time since then
 * is added to off_cpu, and the field is armed again. Any other writer of
 * the field (a program with its own rseq critical sections) only costs
 * such a reading.
 *
 * Exactness: the time between two consecutive hooks of a thread belongs to
 * one set of open calls, and all the off-CPU time found at the second hook
 * fell between them, so every call gets exactly the off-CPU time of its
 * own span, up to a switch inside a hook itself (a window of a few ns:
 * such time may go to the span on the other side of the hook). Where rseq
 * is not registered on a thread (older glibc, GLIBC_TUNABLES turning it
 * off, a kernel that does not clear the field: checked once at start), the
 * clock is read at every hook instead: exact, and slow.
 */
#include <stddef.h>
#include <time.h>
#if defined(__has_include)
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#endif
#endif

#include "rt_internal.h"

/* glibc 2.35+: where the thread's rseq area lies from the thread pointer,
 * and its size (0: not registered). Weak: older libcs do not define them. */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

/* The signature glibc registered the areas with, which the kernel checks
 * before a descriptor's abort address; without it, no rseq. */
#ifdef RSEQ_SIG
#define RT_RSEQ_SIG RSEQ_SIG
#endif

/* The kernel's struct rseq_cs: a critical section [start_ip, start_ip +
 * post_commit_offset) with its abort handler, preceded by the signature. */
struct rt_rseq_cs {
    uint32_t version, flags;
    uint64_t start_ip, post_commit_offset, abort_ip;
} __attribute__((aligned(32)));

/* The empty section every armed thread points at: its abort address follows
 * the signature, as the kernel checks, and is never jumped to. */
static const uint32_t rt_cpu_sig[2] __attribute__((aligned(8))) = {
#ifdef RT_RSEQ_SIG
    RT_RSEQ_SIG,
#else
    0,
#endif
    0};
static struct rt_rseq_cs rt_cpu_cs;
static int rt_cpu_rseq_ok; /* rseq areas tell switches on this kernel */
uint64_t rt_cpu_mark;

/* The thread's rseq_cs field, or NULL when rseq is not registered on it. */
RT_NOINST static volatile uint64_t *rt_cpu_rseq_field(void)
{
#ifdef RT_RSEQ_SIG
    if (!&__rseq_offset || !&__rseq_size || __rseq_size < 20)
        return NULL;
    char *area = (char *)__builtin_thread_pointer() + __rseq_offset;
    if (*(volatile int32_t *)(area + 4) < 0) /* cpu_id: not registered */
        return NULL;
    return (volatile uint64_t *)(area + 8);
#else
    return NULL;
#endif
}

RT_NOINST static uint64_t rt_cpu_clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The CPU clock of thread tid, as pthread_getcpuclockid makes it. */
RT_NOINST static clockid_t rt_cpu_clock_of(pid_t tid)
{
    return (clockid_t)((~(unsigned)tid << 3) | 6u);
}

RT_NOINST static void rt_cpu_arm(struct rt_thread *t)
{
    if (t->cpu_rseq) {
        *t->cpu_rseq = rt_cpu_mark;
        RT_SIGNAL_FENCE();
    }
}

RT_NOINST void rt_cpu_init(void)
{
    rt_cpu_cs.start_ip = rt_cpu_cs.abort_ip = (uint64_t)(uintptr_t)&rt_cpu_sig[1];
    rt_cpu_mark = (uint64_t)(uintptr_t)&rt_cpu_cs;
    volatile uint64_t *field = rt_cpu_rseq_field();
    if (!field)
        return;
    /* a sleep switches the thread out: the kernel must clear the field */
    uint64_t saved = *field;
    *field = rt_cpu_mark;
    struct timespec nap = {0, 1000};
    nanosleep(&nap, NULL);
    rt_cpu_rseq_ok = *field == 0;
    *field = saved;
}

RT_NOINST const char *rt_cpu_method(void)
{
    return rt_cpu_rseq_ok ? "rseq" : "clock";
}

RT_NOINST void rt_cpu_thread_init(struct rt_thread *t)
{
    t->cpu_rseq = rt_cpu_rseq_ok ? rt_cpu_rseq_field() : NULL;
    rt_cpu_rebase(t);
}

RT_NOINST void rt_cpu_rebase(struct rt_thread *t)
{
    rt_cpu_arm(t);
    t->cpu_base = rt_cpu_clock_ns(CLOCK_THREAD_CPUTIME_ID);
    t->cpu_wall = rt_mono_ns();
}

/* The off-CPU time of the span from the thread's last reading to a CPU
 * clock reading cpu at wall time wall. */
RT_NOINST static uint64_t rt_cpu_gap(const struct rt_thread *t, uint64_t cpu,
                                     uint64_t wall)
{
    uint64_t dw = wall > t->cpu_wall ? wall - t->cpu_wall : 0;
    uint64_t dc = cpu > t->cpu_base ? cpu - t->cpu_base : 0;
    return dw > dc ? dw - dc : 0;
}

__attribute__((cold, noinline)) RT_NOINST void rt_cpu_resync(struct rt_thread *t)
{
    rt_cpu_arm(t);
    uint64_t cpu = rt_cpu_clock_ns(CLOCK_THREAD_CPUTIME_ID);
    uint64_t wall = rt_mono_ns();
    t->off_cpu += rt_cpu_gap(t, cpu, wall);
    t->cpu_base = cpu;
    t->cpu_wall = wall;
}

RT_NOINST uint64_t rt_cpu_off_now(const struct rt_thread *t)
{
    uint64_t cpu = rt_cpu_clock_ns(rt_cpu_clock_of(t->tid));
    uint64_t wall = rt_mono_ns();
    return t->off_cpu + (cpu ? rt_cpu_gap(t, cpu, wall) : 0);
}
