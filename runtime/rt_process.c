/*
 * The process's lifecycle: configuration from the environment at start, the
 * end of the run (normal exit, a fatal signal, exec), and fork.
 *
 * Start: a constructor (or the first hook, if instrumented code runs before
 * it) reads CPROF_* once, strictly: a bad value is recorded as a warning in
 * the file and the default is used. End: the library's destructor, which
 * runs after the program's own destructors and atexit handlers; fatal
 * signals write the data and then let the signal do what it would have done.
 * Fork: the child keeps the calls it is inside of but none of the parent's
 * counts, and writes its own file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"

struct rt_config rt_config = {
    .mode = RT_MODE_SUMMARY,
    .clock = RT_CLOCK_TSC,
    .max_depth = 1u << 18,
    .max_nodes = 1u << 17,
    .trace_buffer = 1u << 20,
    .hist_chunks = 256,
    .trace_max = 1ull << 30,
};
volatile int rt_ready;
volatile int rt_finished;
pid_t rt_pid;
pid_t rt_fork_parent;

static const int rt_fatal_signals[] = {
    SIGHUP,  SIGINT,  SIGQUIT, SIGILL,  SIGTRAP, SIGABRT, SIGBUS,    SIGFPE, SIGSEGV,
    SIGUSR1, SIGPIPE, SIGALRM, SIGTERM, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGSYS,
};
static struct sigaction rt_old_actions[NSIG];

/* The writing lock, shared with the keeper (its live snapshots take it):
 * 0 free, 1 held by the program, else held by the keeper of that pid + 1,
 * taken from it if it is gone. */
static struct RT_SHARED_BLOCK {
    int holder;
} rt_writing_lock;

RT_NOINST void rt_config_warn(const char *msg)
{
    if (rt_config.nwarnings <
        (int)(sizeof rt_config.warnings / sizeof *rt_config.warnings))
        rt_config.warnings[rt_config.nwarnings++] = msg;
    rt_log(msg, NULL);
}

/* A positive decimal within [lo, hi], or def with a warning. */
RT_NOINST static uint64_t rt_env_uint(const char *name, uint64_t def, uint64_t lo,
                                      uint64_t hi, const char *warning)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (hi - (uint64_t)(*p - '0')) / 10) {
            rt_config_warn(warning);
            return def;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < lo || v > hi) {
        rt_config_warn(warning);
        return def;
    }
    return v;
}

/* CPROF_TRACE_MAX: a byte count with an optional binary suffix (K, M, G,
 * T; 512M is 512 MiB), or 0 or "none" for no cap; else the default with
 * a warning. */
RT_NOINST static uint64_t rt_env_size(const char *name, uint64_t def, const char *warning)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    if (rt_streq(s, "none"))
        return 0;
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            break;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    unsigned shift = 0;
    if (p > s && *p && !p[1]) {
        const char *units = "KkMmGgTt";
        for (unsigned i = 0; units[i]; i++)
            if (*p == units[i])
                shift = 10 * (i / 2 + 1);
        p += shift != 0;
    }
    if (p == s || *p || (shift && v > UINT64_MAX >> shift)) {
        rt_config_warn(warning);
        return def;
    }
    return v << shift;
}

RT_NOINST static void rt_read_config(void)
{
    const char *mode = getenv("CPROF_MODE");
    if (!mode || !*mode || rt_streq(mode, "summary"))
        rt_config.mode = RT_MODE_SUMMARY;
    else if (rt_streq(mode, "trace"))
        rt_config.mode = RT_MODE_TRACE;
    else if (rt_streq(mode, "count"))
        rt_config.mode = RT_MODE_COUNT;
    else
        rt_config_warn("CPROF_MODE is not summary, trace or count: using summary");

    enum rt_clock_source clock = RT_CLOCK_TSC;
    const char *c = getenv("CPROF_CLOCK");
    if (c && *c && !rt_streq(c, "tsc")) {
        if (rt_streq(c, "monotonic"))
            clock = RT_CLOCK_MONOTONIC;
        else
            rt_config_warn("CPROF_CLOCK is not tsc or monotonic: using tsc");
    }
    if (rt_config.mode == RT_MODE_COUNT)
        clock = RT_CLOCK_NONE;
    rt_config.clock = clock;

    const char *cpu = getenv("CPROF_CPU");
    if (cpu && *cpu && !rt_streq(cpu, "0")) {
        if (!rt_streq(cpu, "1"))
            rt_config_warn("CPROF_CPU is not 0 or 1: using 1");
        if (rt_config.mode == RT_MODE_SUMMARY)
            rt_config.cpu = 1;
        else
            rt_config_warn("CPROF_CPU=1 is for summary mode: no CPU time recorded");
    }

    const char *v = getenv("CPROF_VERBOSE");
    rt_config.verbose = v && *v && !rt_streq(v, "0");
    rt_config.max_depth =
        (uint32_t)rt_env_uint("CPROF_MAX_DEPTH", rt_config.max_depth, 16, 1u << 24,
                              "CPROF_MAX_DEPTH is not a number from 16 "
                              "to 16777216: using 262144");
    rt_config.max_nodes = (uint32_t)rt_env_uint(
        "CPROF_MAX_NODES", rt_config.max_nodes, 16,
        RT_NODES_PER_CHUNK * RT_MAX_CHUNKS - 1,
        "CPROF_MAX_NODES is not a number from 16 to 4194303: using 131072");
    rt_config.hist_chunks = (uint32_t)rt_env_uint(
        "CPROF_HIST_MEMORY", rt_config.hist_chunks, 1, RT_HIST_MAX_CHUNKS,
        "CPROF_HIST_MEMORY is not a number of MiB from 1 to 1024: using 256");
    rt_config.trace_buffer = (size_t)rt_env_uint(
        "CPROF_TRACE_BUFFER", rt_config.trace_buffer, 65536, 1u << 30,
        "CPROF_TRACE_BUFFER is not a byte count from 65536 to 1073741824: using 1048576");
    rt_config.trace_max = rt_env_size("CPROF_TRACE_MAX", rt_config.trace_max,
                                      "CPROF_TRACE_MAX is not a byte count (e.g. 512M, "
                                      "4G; 0 or none: no cap): using 1G");
    /* a chunk is at most a quarter of the cap, so a small cap still keeps
     * the start of the run */
    if (rt_config.trace_max && rt_config.trace_buffer > rt_config.trace_max / 4)
        rt_config.trace_buffer =
            rt_config.trace_max / 4 > 65536 ? (size_t)(rt_config.trace_max / 4) : 65536;

    ssize_t n = readlink("/proc/self/exe", rt_config.exe, sizeof rt_config.exe - 1);
    rt_config.exe[n > 0 ? n : 0] = 0;
    const char *base = strrchr(rt_config.exe, '/');
    base = base ? base + 1 : rt_config.exe;
    if (!*base)
        base = "prog";
    size_t i = 0;
    for (; base[i] && i + 1 < sizeof rt_config.prog; i++) {
        char ch = base[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '+' ||
                 ch == '.';
        rt_config.prog[i] = ok ? ch : '_';
    }
    rt_config.prog[i] = 0;

    const char *dir = getenv("CPROF_DIR");
    if (!dir || !*dir)
        dir = "cprof.data";
    rt_config.dir[0] = 0;
    if (dir[0] != '/') {
        if (!getcwd(rt_config.dir, sizeof rt_config.dir - 2))
            rt_config.dir[0] = 0;
        rt_strlcat(rt_config.dir, "/", sizeof rt_config.dir);
    }
    rt_strlcat(rt_config.dir, dir, sizeof rt_config.dir);
}

/* Writes the data, then hands the signal to whatever handled it before:
 * a fault re-executes into the restored disposition, a sent signal is
 * raised again, so the program ends exactly as it would have. */
RT_NOINST static void rt_on_fatal_signal(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    int saved = errno;
    rt_process_finish(RT_END_SIGNAL, sig);
    sigaction(sig, &rt_old_actions[sig], NULL);
    int fault = (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE) &&
                info && info->si_code > 0;
    if (!fault)
        raise(sig);
    errno = saved;
}

RT_NOINST static void rt_install_signal_handlers(void)
{
    for (size_t i = 0; i < sizeof rt_fatal_signals / sizeof *rt_fatal_signals; i++) {
        int sig = rt_fatal_signals[i];
        struct sigaction old;
        if (sigaction(sig, NULL, &old) != 0)
            continue;
        /* only where the program relies on the default (it did not ask
         * to ignore or handle it) */
        if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
            continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = rt_on_fatal_signal;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        rt_old_actions[sig] = old;
        sigaction(sig, &sa, NULL);
    }
}

RT_NOINST static void rt_after_fork_child(void)
{
    rt_keeper_after_fork(); /* before anything writes the parent's memory */
    rt_fork_parent = rt_pid;
    rt_pid = getpid();
    rt_writer_after_fork();
    struct rt_thread *t = rt_self;
    if (t && t->stack == NULL)
        t = NULL; /* the sentinel */
    rt_threads_after_fork(t);
    rt_fold_after_fork();
    rt_trace_cap_after_fork();
    rt_heap_after_fork(t);
    rt_finished = 0;
    rt_keeper_spawn_child();
    if (!t)
        return;
    t->inherited = t->depth;
    rt_lines_after_fork(t, rt_config.mode == RT_MODE_COUNT ? 0 : rt_ticks());
    if (rt_config.cpu)
        rt_cpu_rebase(t); /* the child's CPU clock starts at 0 */
    if (rt_config.mode == RT_MODE_TRACE)
        rt_trace_inherit(t);
    else
        rt_tree_zero(t);
}

RT_NOINST void rt_process_init(void)
{
    static int state; /* 0 new, 1 running, 2 done */
    int expected = 0;
    if (!__atomic_compare_exchange_n(&state, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return; /* done, or in progress on this thread (a nested hook) */
    rt_pid = getpid();
    rt_read_config();
    rt_writer_init(); /* the data directory, before a chdir or chroot */
    rt_clock_init(rt_config.clock);
    if (rt_config.cpu)
        rt_cpu_init();
    rt_threads_init();
    pthread_atfork(rt_keeper_before_fork, rt_keeper_parent_after_fork,
                   rt_after_fork_child);
    rt_control_init(); /* before the fatal handlers: its signal is not theirs */
    rt_install_signal_handlers();
    rt_modules_refresh();
    rt_exec_init();
    rt_heap_init();
    /* the hooks as the program will run them: before the calibration */
#if defined(__x86_64__)
    if (rt_config.mode == RT_MODE_COUNT)
        rt_fast_path = RT_FAST_COUNT;
    else if (rt_config.mode == RT_MODE_TRACE && rt_config.clock == RT_CLOCK_TSC)
        rt_fast_path = RT_FAST_TRACE;
#endif
    if (rt_config.cpu)
        rt_fast_path = RT_FAST_CPU;
    rt_calibrate();
    rt_keeper_share(&rt_writing_lock, sizeof rt_writing_lock);
    rt_fold_init();
    rt_keeper_start(); /* last: the blocks are registered */
    __atomic_store_n(&state, 2, __ATOMIC_RELEASE);
    rt_ready = 1;
}

struct rt_finish_ctx {
    uint64_t now;
};

RT_NOINST static void rt_finish_thread(struct rt_thread *t, void *arg)
{
    const struct rt_finish_ctx *ctx = arg;
    rt_writer_thread(t, ctx->now);
}

/* Whether the keeper of pid + 1 = holder is gone. Keeps errno. */
RT_NOINST static int rt_holder_gone(int holder)
{
    int saved = errno;
    int gone = kill(holder - 1, 0) != 0 && errno == ESRCH;
    errno = saved;
    return gone;
}

/* Gives up after spins yields (the file then keeps the last flush), as
 * when the writer is this thread's, interrupted by a fatal signal. A live
 * snapshot of the keeper's is waited for longer (it ends, and else the
 * end's data would be left to the keeper as killed), unless the keeper
 * is gone: then the lock is taken from it. */
RT_NOINST int rt_writing_take(long spins_max)
{
    int me = rt_in_keeper ? (int)getpid() + 1 : 1;
    for (long spins = 0;; spins++) {
        int expected = 0;
        if (__atomic_compare_exchange_n(&rt_writing_lock.holder, &expected, me, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return 1;
        if (expected > 1 && spins % 1024 == 1023 && rt_holder_gone(expected))
            __atomic_compare_exchange_n(&rt_writing_lock.holder, &expected, 0, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
        if (spins > spins_max && !(expected > 1 && spins < (1L << 24)))
            return 0;
        sched_yield();
    }
}

RT_NOINST void rt_writing_release(void)
{
    __atomic_store_n(&rt_writing_lock.holder, 0, __ATOMIC_RELEASE);
}

/* Writes every thread and the end record: the whole file (rt_writer.c's
 * snapshot) once a flush has written it, else appended to the head. */
RT_NOINST static void rt_write_all_threads(enum rt_end_reason why, int sig)
{
    rt_control_check_signal();
    struct rt_finish_ctx ctx = {rt_config.clock == RT_CLOCK_NONE ? 0 : rt_ticks()};
    int snapshot = why == RT_END_FLUSH || rt_writer_snapshotting();
    if ((snapshot ? rt_writer_snapshot_begin() : rt_writer_open()) == 0) {
        rt_threads_each(rt_finish_thread, &ctx);
        rt_fold_write(ctx.now);
        rt_writer_end(why, sig);
        if (snapshot)
            rt_writer_snapshot_commit(why != RT_END_FLUSH);
    }
    if (why == RT_END_FLUSH)
        rt_threads_unclaim(); /* written again by their exit or the end */
}

/* Writes every thread and the end record, once. Signal-safe when why is
 * RT_END_SIGNAL. Leaves all in-memory state as it was, so that a failed
 * exec can take the writing back (rt_process_resume). */
RT_NOINST void rt_process_finish(enum rt_end_reason why, int sig)
{
    int expected = 0;
    if (!rt_ready || !__atomic_compare_exchange_n(&rt_finished, &expected, 1, 0,
                                                  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return;
    struct rt_thread *self = rt_self;
    int was_busy = self ? self->busy : 0;
    if (self)
        self->busy = 1;
    if (why != RT_END_SIGNAL && !rt_in_keeper)
        rt_modules_refresh();
    if (rt_writing_take(20000)) {
        rt_write_all_threads(why, sig);
        rt_keeper_data(RT_KEEPER_WRITTEN); /* else the keeper writes it */
        rt_writing_release();
    }
    if (self)
        self->busy = was_busy;
}

/* cprof_flush() in summary and count modes: the whole file written anew
 * as of now (end reason "flush"), the run going on. Not signal-safe
 * (reads the module list). */
RT_NOINST void rt_process_flush(void)
{
    if (!rt_ready || __atomic_load_n(&rt_finished, __ATOMIC_ACQUIRE))
        return;
    if (!rt_writing_take(1L << 30))
        return;
    rt_modules_refresh();
    rt_write_all_threads(RT_END_FLUSH, 0);
    rt_writing_release();
}

struct rt_handover_ctx {
    struct rt_thread *self;
    uint8_t *buf;
    size_t size;
};

RT_NOINST static void rt_handover_thread(struct rt_thread *t, void *arg)
{
    struct rt_handover_ctx *ctx = arg;
    if (t == ctx->self || !t->tbuf)
        return;
    if (rt_trace_copy_size(t) > ctx->size) {
        rt_unmap(ctx->buf, ctx->size);
        ctx->size = rt_trace_copy_size(t);
        ctx->buf = rt_map(ctx->size);
        if (!ctx->buf) {
            ctx->size = 0;
            return;
        }
    }
    rt_trace_handover(t, ctx->buf, ctx->size);
}

/* cprof_flush() in trace mode. Chunks are appended as the run goes, so a
 * flush appends too (a trace is never rewritten): the calling thread's
 * buffer, every other live thread's events not yet written (copied from
 * its buffer while it runs on or waits, rt_trace_handover), then the
 * modules, periods and an end record of reason "flush". Later records
 * supersede it: the analyzer reads every record, takes the last end
 * record's reason, and closes calls still open in a file whose last end
 * record is a flush at that record's time. Signals are blocked while the
 * writing lock and threads' trace locks are held (a handler that waited
 * for them could not run on this thread). */
RT_NOINST void rt_process_trace_flush(struct rt_thread *self)
{
    if (!rt_ready || __atomic_load_n(&rt_finished, __ATOMIC_ACQUIRE))
        return;
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGFPE);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (rt_writing_take(1L << 30)) {
        rt_modules_refresh();
        if (self)
            rt_trace_flush(self);
        struct rt_handover_ctx ctx = {self, NULL, 0};
        rt_threads_visit(rt_handover_thread, &ctx);
        if (ctx.buf)
            rt_unmap(ctx.buf, ctx.size);
        rt_control_check_signal();
        rt_writer_end(RT_END_FLUSH, 0);
        rt_writing_release();
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* After a failed exec: the file goes back to where it was before the exec
 * wrote it, and recording goes on. */
RT_NOINST void rt_process_resume(off_t file_size)
{
    if (!rt_writer_snapshotting()) /* else the next write rewrites it whole */
        rt_writer_truncate(file_size);
    rt_threads_unclaim();
    rt_keeper_data(RT_KEEPER_PENDING);
    __atomic_store_n(&rt_finished, 0, __ATOMIC_RELEASE);
}

/* In the keeper, once the process ended without writing its data: it is
 * written as the process's end would have, end reason "killed". */
RT_NOINST void rt_process_killed(void)
{
    rt_writer_adopt();
    rt_finished = 0;
    rt_process_finish(RT_END_KILLED, 0);
}

/* In the keeper: a complete summary of the running process into fd, end
 * reason "live"; nothing of the process's own state changes (threads are
 * not claimed, the data file is not touched). Returns 0 or -1. */
RT_NOINST int rt_process_live(int fd)
{
    if (!rt_writing_take(1L << 16))
        return -1;
    rt_writer_redirect(fd);
    int rc = rt_writer_live_begin(fd);
    if (rc == 0) {
        struct rt_finish_ctx ctx = {rt_ticks()};
        rt_threads_visit(rt_finish_thread, &ctx);
        rt_writer_end(RT_END_LIVE, 0);
    }
    rt_writer_redirect(-1);
    rt_writing_release();
    return rc;
}

__attribute__((constructor(101))) RT_NOINST static void rt_constructor(void)
{
    rt_process_init();
}

__attribute__((destructor(101))) RT_NOINST static void rt_destructor(void)
{
    rt_process_finish(RT_END_EXIT, 0);
}
