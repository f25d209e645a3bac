/*
 * <cprof.h>: control cprof's recording from inside the profiled program.
 *
 *   cprof_start(), cprof_stop()    recording on and off, process-wide
 *   cprof_recording()              whether recording is on
 *   cprof_reset()                  drop what was recorded so far
 *   cprof_flush()                  write the data file now, run on
 *   cprof_region_begin(name), cprof_region_end(), CPROF_REGION(name) { }
 *                                  a named part of a function, shown in
 *                                  every view as a function called name
 *
 * A program that includes this header builds and runs without cprof: the
 * calls go to the runtime through weak references, which stay null when
 * the program is not linked with cprof's runtime (plain cc), and then do
 * nothing. Define CPROF_DISABLE before including it to compile every call
 * out. Nothing here is instrumented, so none of it appears in a profile.
 *
 * docs/cprof-h.md has the rules (what counts while recording is off, how
 * regions nest, flush and reset in each mode).
 */
#ifndef CPROF_H
#define CPROF_H

#define CPROF_H_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(CPROF_DISABLE)

#define CPROF_API_                                                                       \
    static inline __attribute__((always_inline, no_instrument_function, unused))

/* The runtime's entry points (libcprof-rt); null without it. */
extern void cprof_rt_start(void) __attribute__((weak));
extern void cprof_rt_stop(void) __attribute__((weak));
extern int cprof_rt_recording(void) __attribute__((weak));
extern void cprof_rt_reset(void) __attribute__((weak));
extern void cprof_rt_flush(void) __attribute__((weak));
extern void cprof_rt_region_begin(const char *name) __attribute__((weak));
extern void cprof_rt_region_end(void) __attribute__((weak));

/* Recording on: calls entered from now on are counted. */
CPROF_API_ void cprof_start(void)
{
    if (cprof_rt_start)
        cprof_rt_start();
}

/* Recording off: calls entered from now on are not counted (calls already
 * open still are, their time running to their exit). */
CPROF_API_ void cprof_stop(void)
{
    if (cprof_rt_stop)
        cprof_rt_stop();
}

/* 1 while recording is on, 0 while off or without cprof. */
CPROF_API_ int cprof_recording(void)
{
    return cprof_rt_recording ? cprof_rt_recording() : 0;
}

/* Drops everything recorded so far (counts, times, lines, heap figures
 * per call): the profile starts here. Open calls go on, counted once,
 * their time from now. Summary and count modes; nothing in trace mode. */
CPROF_API_ void cprof_reset(void)
{
    if (cprof_rt_reset)
        cprof_rt_reset();
}

/* Writes everything recorded so far to the data file without stopping:
 * the file is complete and readable from then on, and replaced whole by
 * the next flush or the end of the run. */
CPROF_API_ void cprof_flush(void)
{
    if (cprof_rt_flush)
        cprof_rt_flush();
}

/* A region: counted and timed like a call of a function called name (the
 * same text is the same region), nested in the calls and regions open on
 * this thread. Ends with cprof_region_end() in the same function. */
CPROF_API_ void cprof_region_begin(const char *name)
{
    /* always inlined, even at -O0: the runtime places the region by the
     * frame of its caller, which must be the function the region is in */
    if (cprof_rt_region_begin)
        cprof_rt_region_begin(name);
}

/* Ends the innermost open region of this thread. */
CPROF_API_ void cprof_region_end(void)
{
    if (cprof_rt_region_end)
        cprof_rt_region_end();
}

__attribute__((no_instrument_function, unused)) static inline void
cprof_region_cleanup_(int *unused)
{
    (void)unused;
    cprof_region_end();
}

#define CPROF_CAT2_(a, b) a##b
#define CPROF_CAT_(a, b) CPROF_CAT2_(a, b)
/* CPROF_REGION("name") { ... }: the block is a region; it ends however
 * the block is left (end, break, continue, return, goto out). */
#define CPROF_REGION(name)                                                               \
    for (int CPROF_CAT_(cprof_region_, __LINE__)                                         \
             __attribute__((cleanup(cprof_region_cleanup_))) =                           \
                 (cprof_region_begin(name), 1);                                          \
         CPROF_CAT_(cprof_region_, __LINE__); CPROF_CAT_(cprof_region_, __LINE__) = 0)

#else /* no GNU C, or CPROF_DISABLE: every call compiles to nothing */

#define cprof_start() ((void)0)
#define cprof_stop() ((void)0)
#define cprof_recording() 0
#define cprof_reset() ((void)0)
#define cprof_flush() ((void)0)
#define cprof_region_begin(name) ((void)(name))
#define cprof_region_end() ((void)0)
#define CPROF_REGION(name) if (((void)(name), 1))

#endif

#ifdef __cplusplus
}
#endif

#endif
