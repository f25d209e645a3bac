/*
 * The clock: the invariant TSC where the CPU has one (read with rdtsc on the
 * hot path, see rt_ticks() in rt_internal.h), CLOCK_MONOTONIC otherwise or
 * when CPROF_CLOCK=monotonic asks for it.
 *
 * Ticks become time through a rate measured against CLOCK_MONOTONIC: a short
 * calibration at start (so that a file cut short still converts), and the
 * whole run's span at the end, which is what the end record carries.
 */
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "rt_internal.h"

#define RT_CALIBRATE_NS 1000000ull      /* start-up calibration span */
#define RT_WHOLE_RUN_MIN_NS 20000000ull /* shortest run worth measuring */

uint64_t rt_start_ticks;
uint64_t rt_start_mono;
uint64_t rt_start_unix;
static double rt_estimate = 1e9;

RT_NOINST uint64_t rt_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

RT_NOINST uint64_t rt_unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

RT_NOINST static int rt_tsc_invariant(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u)
        return 0;
    if (!__get_cpuid(0x80000007u, &a, &b, &c, &d))
        return 0;
    return (d >> 8) & 1u;
#else
    return 0;
#endif
}

RT_NOINST void rt_clock_init(enum rt_clock_source wanted)
{
    if (wanted == RT_CLOCK_TSC && !rt_tsc_invariant())
        wanted = RT_CLOCK_MONOTONIC;
    rt_config.clock = wanted;
    rt_start_unix = rt_unix_ns();
    rt_start_mono = rt_mono_ns();
    rt_start_ticks = wanted == RT_CLOCK_NONE ? 0 : rt_ticks();
    if (wanted != RT_CLOCK_TSC) {
        rt_estimate = 1e9;
        return;
    }
    uint64_t m1, t1;
    do {
        m1 = rt_mono_ns();
        t1 = rt_ticks();
    } while (m1 - rt_start_mono < RT_CALIBRATE_NS);
    rt_estimate = (double)(t1 - rt_start_ticks) * 1e9 / (double)(m1 - rt_start_mono);
}

RT_NOINST double rt_ticks_per_sec_estimate(void)
{
    return rt_estimate;
}

/* The rate over the whole run so far, or the start-up estimate when the run
 * was too short to measure better. */
RT_NOINST double rt_ticks_per_sec(void)
{
    if (rt_config.clock != RT_CLOCK_TSC)
        return 1e9;
    uint64_t m = rt_mono_ns();
    uint64_t t = rt_ticks();
    if (m - rt_start_mono < RT_WHOLE_RUN_MIN_NS || t <= rt_start_ticks)
        return rt_estimate;
    return (double)(t - rt_start_ticks) * 1e9 / (double)(m - rt_start_mono);
}
