/*
 * Control of recording from the program (<cprof.h>) and from outside
 * (CPROF_START, CPROF_SIGNAL): recording on and off, resets, flushes and
 * user-named regions.
 *
 * Recording is one process-wide word, rt_control_word: bit 0 says off,
 * the bits above count resets. Each thread keeps the value it last saw
 * (rt_thread.control); while the two differ the thread's enter hook takes
 * its slow path and rt_control_sync brings the thread up to date. So a
 * program that never uses control pays one compare in the enter hook's
 * slow path and nothing else, and no thread ever changes another
 * thread's data. The rule for switches: a call counts when it was entered
 * while recording was on, and its exit is always recorded (its time runs
 * to its exit); a call entered while off is not recorded at all, as if it
 * were not instrumented (callees entered after recording came back on
 * count under the innermost recorded call).
 *
 * Regions are pseudo-functions (fn = CPROF_FN_REGION_BIT | id), one per
 * distinct name text, in a process-wide table that only grows; their
 * calls are pushed and popped by rt_hooks.c like any other.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"

uint32_t rt_control_word;

/* ---- periods ----------------------------------------------------------- */

#define RT_MAX_PERIODS 512u

struct rt_period {
    uint64_t on, off;
    const char *how_on, *how_off; /* how_off NULL: still on */
};
/* Shared with the keeper (rt_keeper.c), which writes them too. */
static struct RT_SHARED_BLOCK {
    struct rt_period list[RT_MAX_PERIODS];
    uint32_t n;
    int switched; /* recording was switched at least once */
} rt_per;

RT_NOINST static uint64_t rt_control_now(void)
{
    return rt_ticks();
}

/* Switches recording to off (1) or on (0); how says who asked. Returns
 * whether it changed. Signal-safe. */
RT_NOINST static int rt_control_set(int off, const char *how)
{
    uint32_t g = __atomic_load_n(&rt_control_word, __ATOMIC_ACQUIRE);
    do {
        if ((int)(g & RT_CONTROL_OFF) == off)
            return 0;
    } while (!__atomic_compare_exchange_n(&rt_control_word, &g, g ^ RT_CONTROL_OFF, 0,
                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    rt_threads_control_changed();
    rt_per.switched = 1;
    uint64_t now = rt_control_now();
    uint32_t n = rt_per.n;
    if (off) {
        if (n > 0 && rt_per.list[n - 1].how_off == NULL) {
            rt_per.list[n - 1].off = now;
            rt_per.list[n - 1].how_off = how;
        }
    } else if (n < RT_MAX_PERIODS) {
        rt_per.list[n].on = now;
        rt_per.list[n].off = 0;
        rt_per.list[n].how_on = how;
        rt_per.list[n].how_off = NULL;
        rt_per.n = n + 1;
    } else {
        rt_per.list[n - 1].how_off = NULL; /* out of room: the last one goes on */
    }
    return 1;
}

RT_NOINST void rt_control_put_periods(struct mp_out *o)
{
    if (!rt_per.switched)
        return;
    if (rt_per.n == 0) {
        /* CPROF_START=off and never switched on: one empty period says so */
        uint64_t at = rt_config.clock == RT_CLOCK_NONE ? rt_start_mono : rt_start_ticks;
        mp_array(o, 5);
        mp_uint(o, CPROF_REC_PERIOD);
        mp_uint(o, at);
        mp_uint(o, at);
        mp_cstr(o, "start");
        mp_cstr(o, "env");
        return;
    }
    for (uint32_t i = 0; i < rt_per.n; i++) {
        const struct rt_period *p = &rt_per.list[i];
        mp_array(o, 5);
        mp_uint(o, CPROF_REC_PERIOD);
        mp_uint(o, p->on);
        mp_uint(o, p->how_off ? p->off : 0);
        mp_cstr(o, p->how_on);
        mp_cstr(o, p->how_off ? p->how_off : "end");
    }
}

/* ---- threads ------------------------------------------------------------ */

/* Drops what t recorded so far: counts, times, lines and heap figures from
 * zero. Open calls go on as if entered now: each counts once, its time
 * runs from now. Summary and count modes, owner thread. */
RT_NOINST static void rt_reset_thread(struct rt_thread *t, uint64_t now)
{
    if (!t->root)
        return;
    rt_tree_zero(t);
    t->inherited = 0;
    for (uint32_t i = 0; i < t->depth && !t->overflow; i++) {
        struct rt_frame *f = &t->stack[i];
        if (f->ts == RT_TS_OFF)
            continue;
        f->ts = now;
        f->line_ts = now;
        f->line_child = 0;
        if (rt_config.cpu)
            t->cpu_stack[i] = t->off_cpu;
        if (f->node)
            f->node->calls++;
    }
    rt_lines_zero(t, 0);
    memset(&t->heap_all, 0, sizeof t->heap_all);
    memset(&t->heap_outside, 0, sizeof t->heap_outside);
}

/* Trace mode's reset of t: the trace keeps every event and says where the
 * reset fell (EXT_RESET: the analyzer drops what came before it); the
 * line and heap figures the runtime writes as records are zeroed here,
 * and the open calls' current lines start again now. Owner thread. */
RT_NOINST static void rt_reset_trace_thread(struct rt_thread *t, uint64_t now)
{
    rt_trace_ext(t, now, CPROF_EXT_RESET, NULL, 0);
    t->inherited = 0;
    for (uint32_t i = 0; i < t->depth && !t->overflow; i++) {
        struct rt_frame *f = &t->stack[i];
        if (f->ts == RT_TS_OFF)
            continue;
        f->ts = now; /* callee time of the caller's current line from now */
        f->line_ts = now;
        f->line_child = 0;
    }
    rt_lines_zero(t, 0);
    memset(&t->heap_all, 0, sizeof t->heap_all);
    memset(&t->heap_outside, 0, sizeof t->heap_outside);
}

RT_NOINST int rt_control_sync(struct rt_thread *t, uint64_t now)
{
    for (;;) {
        uint32_t g = __atomic_load_n(&rt_control_word, __ATOMIC_SEQ_CST);
        uint32_t seen = t->control & ~RT_CONTROL_SEEN_OFF;
        int off = (g & RT_CONTROL_OFF) != 0;
        int was_off = (t->control & RT_CONTROL_SEEN_OFF) != 0;
        if ((g >> 1) != (seen >> 1)) {
            if (rt_config.mode == RT_MODE_TRACE)
                rt_reset_trace_thread(t, now);
            else
                rt_reset_thread(t, now);
        }
        if (rt_config.mode == RT_MODE_TRACE && off != was_off)
            rt_trace_ext(t, now, off ? CPROF_EXT_OFF : CPROF_EXT_ON, NULL, 0);
        t->control = off ? g | RT_CONTROL_SEEN_OFF : g;
        if (off) {
            __atomic_store_n(&t->capacity, 0, __ATOMIC_SEQ_CST); /* stays slow */
            return 1;
        }
        /* back to the hot path, unless the word changed meanwhile (whoever
         * changed it may have zeroed the capacity before this store) */
        __atomic_store_n(&t->capacity, rt_config.max_depth, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&rt_control_word, __ATOMIC_SEQ_CST) == g)
            return 0;
        __atomic_store_n(&t->capacity, 0, __ATOMIC_SEQ_CST);
    }
}

RT_NOINST uint32_t rt_frames_recorded(const struct rt_thread *t, uint32_t depth)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < depth; i++)
        n += t->stack[i].ts != RT_TS_OFF;
    return n;
}

/* The calling thread, attached if new, marked busy; NULL when it is busy
 * already (the call came from a signal handler that interrupted the
 * runtime) or cannot be profiled. */
RT_NOINST static struct rt_thread *rt_api_begin(void)
{
    if (!rt_ready)
        rt_process_init();
    struct rt_thread *t = rt_self;
    if (!t)
        t = rt_thread_attach();
    if (!t || t->stack == NULL)
        return NULL;
    if (t->busy) {
        t->stats.dropped_reentrant++;
        return NULL;
    }
    t->busy = 1;
    RT_SIGNAL_FENCE();
    return t;
}

RT_NOINST static void rt_api_end(struct rt_thread *t)
{
    RT_SIGNAL_FENCE();
    t->busy = 0;
}

/* ---- the toggle signal ---------------------------------------------------- */

static int rt_toggle_sig;       /* 0: none */
static int rt_toggle_installed; /* our handler went in */
static int rt_toggle_warned;
static char rt_toggle_msg[160];

RT_NOINST static void rt_on_toggle_signal(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)info;
    (void)ctx;
    uint32_t g = __atomic_load_n(&rt_control_word, __ATOMIC_ACQUIRE);
    rt_control_set(!(g & RT_CONTROL_OFF), "signal");
}

RT_NOINST static void rt_toggle_step_aside(void)
{
    if (rt_toggle_warned)
        return;
    rt_toggle_warned = 1;
    rt_config_warn(rt_toggle_msg);
}

RT_NOINST void rt_control_check_signal(void)
{
    struct sigaction cur;
    if (!rt_toggle_installed || sigaction(rt_toggle_sig, NULL, &cur) != 0)
        return;
    if (!(cur.sa_flags & SA_SIGINFO) || cur.sa_sigaction != rt_on_toggle_signal)
        rt_toggle_step_aside();
}

/* The signal CPROF_SIGNAL names: a number, a name with or without SIG,
 * "none" (0), or -1 when it is not one. */
RT_NOINST static int rt_signal_named(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2},  {"HUP", SIGHUP},
                 {"INT", SIGINT},   {"QUIT", SIGQUIT},  {"TERM", SIGTERM},
                 {"ALRM", SIGALRM}, {"WINCH", SIGWINCH}};
    if (rt_streq(s, "none"))
        return 0;
    if (*s >= '0' && *s <= '9') {
        int v = 0;
        for (; *s >= '0' && *s <= '9' && v < 1000; s++)
            v = v * 10 + (*s - '0');
        return *s || v < 1 || v >= NSIG || v == SIGKILL || v == SIGSTOP ? -1 : v;
    }
    if (s[0] == 'S' && s[1] == 'I' && s[2] == 'G')
        s += 3;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (rt_streq(s, names[i].name))
            return names[i].sig;
    return -1;
}

RT_NOINST static void rt_regions_share(void);

RT_NOINST void rt_control_init(void)
{
    rt_keeper_share(&rt_per, sizeof rt_per);
    rt_regions_share();
    const char *start = getenv("CPROF_START");
    int off = 0;
    if (start && *start && !rt_streq(start, "on")) {
        if (rt_streq(start, "off"))
            off = 1;
        else
            rt_config_warn("CPROF_START is not on or off: using on");
    }
    if (off) {
        __atomic_store_n(&rt_control_word, RT_CONTROL_OFF, __ATOMIC_RELEASE);
        rt_per.switched = 1;
    } else {
        rt_per.list[0].on =
            rt_config.clock == RT_CLOCK_NONE ? rt_start_mono : rt_start_ticks;
        rt_per.list[0].how_on = "start";
        rt_per.n = 1;
    }

    const char *name = getenv("CPROF_SIGNAL");
    int sig = SIGUSR2;
    if (name && *name) {
        sig = rt_signal_named(name);
        if (sig < 0) {
            rt_config_warn("CPROF_SIGNAL is not a signal number, name or none: "
                           "using SIGUSR2");
            sig = SIGUSR2;
        }
    }
    rt_toggle_sig = sig;
    if (!sig)
        return;
    char num[24];
    rt_strlcpy(rt_toggle_msg, "CPROF_SIGNAL: the program handles signal ",
               sizeof rt_toggle_msg);
    rt_strlcat(rt_toggle_msg, rt_utoa((uint64_t)sig, num), sizeof rt_toggle_msg);
    rt_strlcat(rt_toggle_msg,
               " itself: cprof stepped aside (recording is not toggled by the signal)",
               sizeof rt_toggle_msg);
    struct sigaction old;
    if (sigaction(sig, NULL, &old) != 0)
        return;
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) {
        rt_toggle_step_aside(); /* ignored or handled before we came */
        return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = rt_on_toggle_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) == 0)
        rt_toggle_installed = 1;
}

/* ---- regions -------------------------------------------------------------- */

#define RT_MAX_REGIONS 1024u
#define RT_REGION_NAME_MAX 255u /* longer names are cut: same prefix, same region */
#define RT_REGION_SLOTS 4096u   /* the index: open addressing on the name's hash */
#define RT_REGION_LIMIT "[region limit]" /* the last region: names past the table */

struct rt_region {
    uint32_t hash, len;
    char name[RT_REGION_NAME_MAX + 1];
};
/* Shared with the keeper (rt_keeper.c), which writes them too. */
static struct RT_SHARED_BLOCK {
    struct rt_region list[RT_MAX_REGIONS]; /* id i + 1 */
    uint32_t index[RT_REGION_SLOTS];       /* ids; 0: free */
    uint32_t n;                            /* published with release */
    int lock;
} rt_reg;

RT_NOINST static void rt_regions_share(void)
{
    rt_keeper_share(&rt_reg, sizeof rt_reg);
}

RT_NOINST static uint32_t rt_region_hash(const char *name, uint32_t *len)
{
    uint32_t h = 2166136261u, n = 0;
    for (; name[n] && n < RT_REGION_NAME_MAX; n++)
        h = (h ^ (uint8_t)name[n]) * 16777619u;
    *len = n;
    return h;
}

RT_NOINST static uint32_t rt_region_find(const char *name, uint32_t hash, uint32_t len)
{
    for (uint32_t i = hash & (RT_REGION_SLOTS - 1);;
         i = (i + 1) & (RT_REGION_SLOTS - 1)) {
        uint32_t id = __atomic_load_n(&rt_reg.index[i], __ATOMIC_ACQUIRE);
        if (!id)
            return 0;
        const struct rt_region *r = &rt_reg.list[id - 1];
        if (r->hash == hash && r->len == len && memcmp(r->name, name, len) == 0)
            return id;
    }
}

RT_NOINST static void rt_region_record(struct mp_out *o, uint32_t id)
{
    mp_array(o, 3);
    mp_uint(o, CPROF_REC_REGION);
    mp_uint(o, CPROF_FN_REGION_BIT | id);
    mp_str(o, rt_reg.list[id - 1].name, rt_reg.list[id - 1].len);
}

RT_NOINST void rt_regions_put(struct mp_out *o, void (*put)(struct mp_out *o))
{
    uint32_t n = __atomic_load_n(&rt_reg.n, __ATOMIC_ACQUIRE);
    for (uint32_t id = 1; id <= n; id++) {
        rt_region_record(o, id);
        put(o);
    }
}

/* The id of the region named name, new if need be; 0 when the table is
 * full. New regions are rare: they are added under a spin lock (the
 * caller is marked busy, so a signal handler on this thread never waits
 * for it). */
RT_NOINST static uint32_t rt_region_id(const char *name)
{
    uint32_t len, hash = rt_region_hash(name, &len);
    uint32_t id = rt_region_find(name, hash, len);
    if (id)
        return id;
    while (__atomic_exchange_n(&rt_reg.lock, 1, __ATOMIC_ACQUIRE))
        sched_yield();
    id = rt_region_find(name, hash, len);
    uint32_t n = rt_reg.n;
    if (!id && n >= RT_MAX_REGIONS - 1 && !rt_streq(name, RT_REGION_LIMIT)) {
        /* the table is full: counted under the last one */
        __atomic_store_n(&rt_reg.lock, 0, __ATOMIC_RELEASE);
        return rt_region_id(RT_REGION_LIMIT);
    }
    if (!id && n < RT_MAX_REGIONS) {
        struct rt_region *r = &rt_reg.list[n];
        memcpy(r->name, name, len);
        r->name[len] = 0;
        r->len = len;
        r->hash = hash;
        id = n + 1;
        __atomic_store_n(&rt_reg.n, id, __ATOMIC_RELEASE);
        uint32_t i = hash & (RT_REGION_SLOTS - 1);
        while (rt_reg.index[i])
            i = (i + 1) & (RT_REGION_SLOTS - 1);
        __atomic_store_n(&rt_reg.index[i], id, __ATOMIC_RELEASE);
        if (rt_config.mode == RT_MODE_TRACE) {
            /* trace chunks are written as the run goes: the definition
             * must come first (the file's head repeats it: harmless) */
            uint8_t buf[RT_REGION_NAME_MAX + 64];
            struct mp_out o = {buf, buf + sizeof buf, 0};
            rt_region_record(&o, id);
            rt_writer_write(buf, (size_t)(o.pos - buf));
        }
    }
    __atomic_store_n(&rt_reg.lock, 0, __ATOMIC_RELEASE);
    return id;
}

/* ---- the API (<cprof.h>) ---------------------------------------------------- */

RT_EXPORT RT_NOINST void cprof_rt_start(void)
{
    struct rt_thread *t = rt_api_begin();
    rt_control_set(0, "api");
    if (t) {
        rt_control_sync(t, rt_config.mode == RT_MODE_COUNT ? 0 : rt_ticks());
        rt_api_end(t);
    }
}

RT_EXPORT RT_NOINST void cprof_rt_stop(void)
{
    struct rt_thread *t = rt_api_begin();
    rt_control_set(1, "api");
    if (t) {
        rt_control_sync(t, rt_config.mode == RT_MODE_COUNT ? 0 : rt_ticks());
        rt_api_end(t);
    }
}

RT_EXPORT RT_NOINST int cprof_rt_recording(void)
{
    if (!rt_ready)
        rt_process_init();
    return !(__atomic_load_n(&rt_control_word, __ATOMIC_ACQUIRE) & RT_CONTROL_OFF);
}

RT_EXPORT RT_NOINST void cprof_rt_reset(void)
{
    struct rt_thread *t = rt_api_begin();
    __atomic_add_fetch(&rt_control_word, 2u, __ATOMIC_ACQ_REL);
    rt_threads_control_changed();
    if (t) {
        rt_control_sync(t, rt_config.mode == RT_MODE_COUNT ? 0 : rt_ticks());
        rt_api_end(t);
    }
}

RT_EXPORT RT_NOINST void cprof_rt_flush(void)
{
    struct rt_thread *t = rt_api_begin();
    if (rt_config.mode == RT_MODE_TRACE) {
        /* not from a handler that interrupted the runtime on this thread
         * (it may hold this thread's trace lock) */
        if (t || !rt_self || rt_self->stack == NULL)
            rt_process_trace_flush(t);
    } else {
        rt_process_flush();
    }
    if (t)
        rt_api_end(t);
}

RT_EXPORT RT_NOINST void cprof_rt_region_begin(const char *name)
{
    uintptr_t cfa = (uintptr_t)__builtin_dwarf_cfa();
    uintptr_t site = (uintptr_t)__builtin_return_address(0);
    struct rt_thread *t = rt_api_begin();
    if (!t)
        return;
    uint32_t id = rt_region_id(name && *name ? name : "[unnamed region]");
    if (id)
        rt_region_enter(t, CPROF_FN_REGION_BIT | id, site, cfa);
    rt_api_end(t);
}

RT_EXPORT RT_NOINST void cprof_rt_region_end(void)
{
    struct rt_thread *t = rt_self;
    if (!t || t->stack == NULL || t->busy)
        return;
    t->busy = 1;
    RT_SIGNAL_FENCE();
    rt_region_exit(t);
    rt_api_end(t);
}
