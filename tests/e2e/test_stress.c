/*
 * The profiled program under stress (issue 8): many threads calling at full
 * speed, a thousand short-lived threads, an instrumented SIGPROF handler
 * firing 10,000 times a second, every way of making a process (fork,
 * fork+exec, vfork+exec, posix_spawn, daemon), deep recursion, longjmp in a
 * loop, a program that closes every file descriptor, chdir()s or chroot()s.
 *
 * Each test builds a small program with cprof-cc, runs it in summary, trace
 * and count mode, and reads what it wrote only through the command line:
 * the exact call counts from `cprof report --format csv`, and from
 * `cprof audit --format json` that nothing was lost (or exactly what was).
 * Crashes, kill -9 and the ways out of a thread are in test_crash.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e_audited.h"
#include "e2e_scratch.h"

TestSuite(stress, .init = e2e_scratch_init, .fini = e2e_scratch_fini, .timeout = 240);

/* Builds <name>.c from src in the scratch directory as ./<name>. */
static void build(const char *name, const char *src)
{
    e2e_scratch_build(name, src, (char *[]){"-O1", "-g", NULL});
}

/* The checks of a run that must have lost nothing: the program exited
 * with want_exit, the audit is exact, every file complete. */
static void expect_exact_run(const struct e2e_audited *r, int want_exit, int files)
{
    char how[128];
    cr_assert(WIFEXITED(r->prog.status) && WEXITSTATUS(r->prog.status) == want_exit,
              "%s: the program ended with %s, expected exit %d: %s", r->mode,
              e2e_status_str(&r->prog, how, sizeof how), want_exit, r->prog.err);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", e2e_scratch, r->data);
    cr_assert_eq(e2e_count_files(dir, ".cprof"), files, "%s: %d files, expected %d",
                 r->mode, e2e_count_files(dir, ".cprof"), files);
    cr_expect_eq(r->audit_status, 0, "%s: audit status %d: %s", r->mode, r->audit_status,
                 e2e_audited_verdict(r));
    cr_expect_eq(e2e_audited_count(r, "\"complete\": true"), files,
                 "%s: complete files: %s", r->mode, e2e_audited_verdict(r));
    cr_expect_eq(e2e_audited_sum(r, "threads_lost"), 0, "%s", r->mode);
}

/* A function the programs call at full speed: small, never inlined away
 * (clang instruments before inlining anyway). */
#define WORK_SRC                                                                         \
    "static volatile long sink;\n"                                                       \
    "__attribute__((noinline)) void work(long i) { sink += i; }\n"                       \
    "__attribute__((noinline)) void batch(long n) {\n"                                   \
    "    for (long i = 0; i < n; i++) work(i); }\n"

/* 64 threads start together at a barrier and each calls work 20,000
 * times. */
Test(stress, threads_64_at_full_speed_count_exactly)
{
    build("threads64", "#include <pthread.h>\n" WORK_SRC "static pthread_barrier_t go;\n"
                       "void *worker(void *arg) { pthread_barrier_wait(&go);\n"
                       "    batch(20000); return arg; }\n"
                       "int main(void) { pthread_t t[64];\n"
                       "    pthread_barrier_init(&go, 0, 64);\n"
                       "    for (int i = 0; i < 64; i++)\n"
                       "        if (pthread_create(&t[i], 0, worker, 0)) return 1;\n"
                       "    for (int i = 0; i < 64; i++) pthread_join(t[i], 0);\n"
                       "    return 0; }\n");
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "threads64", NULL, e2e_modes[m], NULL);
        expect_exact_run(&r, 0, 1);
        cr_expect_eq(e2e_audited_calls(&r, "work"), 64 * 20000, "%s", r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "batch"), 64, "%s", r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "worker"), 64, "%s", r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "main"), 1, "%s", r.mode);
        cr_expect_eq(e2e_audited_sum(&r, "threads_seen"), 65, "%s", r.mode);
        cr_expect_eq(e2e_audited_sum(&r, "threads_recorded"), 65, "%s", r.mode);
        e2e_audited_free(&r);
    }
}

/* 1,000 threads, 50 at a time, each making 101 calls. */
Test(stress, thousand_short_lived_threads_are_all_seen)
{
    build("threads1000",
          "#include <pthread.h>\n" WORK_SRC
          "void *worker(void *arg) { batch(100); return arg; }\n"
          "int main(void) {\n"
          "    for (int b = 0; b < 20; b++) { pthread_t t[50];\n"
          "        for (int i = 0; i < 50; i++)\n"
          "            if (pthread_create(&t[i], 0, worker, 0)) return 1;\n"
          "        for (int i = 0; i < 50; i++) pthread_join(t[i], 0); }\n"
          "    return 0; }\n");
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "threads1000", NULL, e2e_modes[m], NULL);
        expect_exact_run(&r, 0, 1);
        cr_expect_eq(e2e_audited_calls(&r, "work"), 1000 * 100, "%s", r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "batch"), 1000, "%s", r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "worker"), 1000, "%s", r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "main"), 1, "%s", r.mode);
        cr_expect_eq(e2e_audited_sum(&r, "threads_seen"), 1001, "%s", r.mode);
        /* summary and count modes write 256 ended threads on their own
         * and fold the other 744 into one (runtime.md, Long runs) */
        int trace = !strcmp(r.mode, "trace");
        cr_expect_eq(e2e_audited_sum(&r, "threads_recorded"), trace ? 1001 : 258, "%s",
                     r.mode);
        cr_expect_eq(e2e_audited_sum(&r, "folded_threads"), trace ? 0 : 744, "%s",
                     r.mode);
        e2e_audited_free(&r);
    }
}

/* An instrumented SIGPROF handler at 10,000/s (ITIMER_PROF every 100 µs)
 * while main calls work at full speed, for 0.5 s and at least 100
 * signals (a loaded machine gives the program less CPU time, so fewer
 * signals; and the kernel fires ITIMER_PROF at most once a tick, about
 * 250/s on the development VM). The program prints the calls it made and the signals its
 * handler counted. */
static const char sigprof_src[] =
    "#include <signal.h>\n#include <stdio.h>\n#include <sys/time.h>\n#include <time.h>\n"
    "static volatile long sink;\n"
    "static volatile sig_atomic_t signals;\n"
    "__attribute__((noinline)) void work(long i) { sink += i; }\n"
    "__attribute__((noinline)) void on_prof(int sig) { (void)sig; signals++; }\n"
    "__attribute__((no_instrument_function)) static double now(void) {\n"
    "    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);\n"
    "    return ts.tv_sec + ts.tv_nsec / 1e9; }\n"
    "int main(void) {\n"
    "    struct sigaction sa = {0}; sa.sa_handler = on_prof; sa.sa_flags = SA_RESTART;\n"
    "    sigemptyset(&sa.sa_mask); sigaction(SIGPROF, &sa, 0);\n"
    "    struct itimerval on = {{0, 100}, {0, 100}}, off = {{0, 0}, {0, 0}};\n"
    "    setitimer(ITIMER_PROF, &on, 0);\n"
    "    long n = 0; double start = now();\n"
    "    while (now() - start < 0.5 || (signals < 100 && now() - start < 30)) {\n"
    "        for (int i = 0; i < 1000; i++) work(i);\n"
    "        n += 1000; }\n"
    "    setitimer(ITIMER_PROF, &off, 0);\n"
    "    signal(SIGPROF, SIG_IGN);\n"
    "    printf(\"%ld %d\\n\", n, (int)signals);\n"
    "    return 0; }\n";

Test(stress, sigprof_handler_at_10khz_is_counted_or_its_drops_are)
{
    build("sigprof", sigprof_src);
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "sigprof", NULL, e2e_modes[m], NULL);
        long long made = -1, signals = -1;
        cr_assert_eq(sscanf(r.prog.out, "%lld %lld", &made, &signals), 2,
                     "%s: the program's output: %s", r.mode, r.prog.out);
        char how[128];
        cr_assert(WIFEXITED(r.prog.status) && WEXITSTATUS(r.prog.status) == 0, "%s: %s",
                  r.mode, e2e_status_str(&r.prog, how, sizeof how));
        cr_assert_gt(signals, 0, "%s: no SIGPROF came", r.mode);
        /* A handler that interrupted a hook has its enter and its exit
         * dropped: two events. */
        long long dropped = e2e_audited_sum(&r, "dropped_reentrant");
        cr_expect_eq(e2e_audited_calls(&r, "work"), made,
                     "%s: the interrupted code's calls", r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "main"), 1, "%s", r.mode);
        cr_expect_eq(dropped % 2, 0, "%s: %lld dropped events", r.mode, dropped);
        cr_expect_eq(e2e_audited_calls(&r, "on_prof") + dropped / 2, signals,
                     "%s: %lld handler calls + %lld dropped / 2 != %lld signals", r.mode,
                     e2e_audited_calls(&r, "on_prof"), dropped, signals);
        cr_expect_eq(r.audit_status, dropped ? 3 : 0, "%s: %s", r.mode,
                     e2e_audited_verdict(&r));
        cr_expect_eq(e2e_audited_sum(&r, "unmatched_exits"), 0, "%s", r.mode);
        e2e_audited_free(&r);
    }
}

/* Every way to make a process. The program calls batch(100), makes the
 * process, the parent calls batch(400); a child calls batch(200) before
 * its exec (when it may), an exec'd image batch(300). */
static const char procs_src[] =
    "#define _GNU_SOURCE\n#include <spawn.h>\n#include <stdlib.h>\n#include <string.h>\n"
    "#include <sys/wait.h>\n#include <unistd.h>\n" WORK_SRC "extern char **environ;\n"
    "__attribute__((no_instrument_function)) static int reap(pid_t pid) {\n"
    "    int st; if (pid < 0 || waitpid(pid, &st, 0) != pid) return 0;\n"
    "    return WIFEXITED(st) && WEXITSTATUS(st) == 0; }\n"
    "int main(int argc, char **argv) {\n"
    "    char *child[] = {argv[0], \"child\", 0};\n"
    "    if (argc < 2) return 2;\n"
    "    if (!strcmp(argv[1], \"child\")) { batch(300); return 0; }\n"
    "    batch(100);\n"
    "    if (!strcmp(argv[1], \"fork\")) { pid_t p = fork();\n"
    "        if (p == 0) { batch(200); return 0; }\n"
    "        if (!reap(p)) return 3; }\n"
    "    if (!strcmp(argv[1], \"fork-exec\")) { pid_t p = fork();\n"
    "        if (p == 0) { batch(200); execv(argv[0], child); _exit(127); }\n"
    "        if (!reap(p)) return 3; }\n"
    "    if (!strcmp(argv[1], \"vfork-exec\")) { pid_t p = vfork();\n"
    "        if (p == 0) { execv(argv[0], child); _exit(127); }\n"
    "        if (!reap(p)) return 3; }\n"
    "    if (!strcmp(argv[1], \"spawn\")) { pid_t p;\n"
    "        if (posix_spawn(&p, argv[0], 0, 0, child, environ)) return 4;\n"
    "        if (!reap(p)) return 3; }\n"
    "    if (!strcmp(argv[1], \"daemon\")) { if (daemon(1, 1)) return 5;\n"
    "        batch(200); }\n"
    "    batch(400);\n"
    "    return 0; }\n";

/* Runs the procs program's scenario how in every mode: files processes'
 * files, work calls in all, batch and main calls. */
static void check_procs(const char *how, int files, long long work, long long batches,
                        long long mains)
{
    build("procs", procs_src);
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "procs", how, e2e_modes[m], NULL);
        expect_exact_run(&r, 0, files);
        cr_expect_eq(e2e_audited_calls(&r, "work"), work, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "batch"), batches, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "main"), mains, "%s %s", how, r.mode);
        e2e_audited_free(&r);
    }
}

Test(stress, fork_without_exec_counts_each_call_once)
{
    check_procs("fork", 2, 100 + 200 + 400, 3, 1);
}

Test(stress, fork_and_exec_counts_each_call_once)
{
    /* the parent, the child up to its exec, the exec'd image */
    check_procs("fork-exec", 3, 100 + 200 + 300 + 400, 4, 2);
}

Test(stress, vfork_and_exec_counts_each_call_once)
{
    check_procs("vfork-exec", 2, 100 + 300 + 400, 3, 2);
}

Test(stress, posix_spawn_counts_each_call_once)
{
    check_procs("spawn", 2, 100 + 300 + 400, 3, 2);
}

/* daemon() forks and the parent leaves by _exit(0) inside it (glibc's
 * own, which the runtime cannot interpose: it interposes daemon and writes
 * the parent's data first); the child keeps the program's stdout, so the
 * run ends when the child does. */
Test(stress, daemon_counts_each_call_once)
{
    check_procs("daemon", 2, 100 + 200 + 400, 3, 1);
}

/* rec(99999) is 100,000 frames deep, three times, in a thread with a
 * 256 MiB stack. */
Test(stress, recursion_100000_frames_deep_counts_exactly)
{
    build("deep", "#include <pthread.h>\n"
                  "__attribute__((noinline)) long rec(long n) {\n"
                  "    return n ? rec(n - 1) + 1 : 0; }\n"
                  "void *deep(void *arg) { long total = 0;\n"
                  "    for (int i = 0; i < 3; i++) total += rec(99999);\n"
                  "    return (void *)total; }\n"
                  "int main(void) { pthread_attr_t a; pthread_t t; void *total;\n"
                  "    pthread_attr_init(&a); pthread_attr_setstacksize(&a, 256 << 20);\n"
                  "    if (pthread_create(&t, &a, deep, 0)) return 1;\n"
                  "    pthread_join(t, &total);\n"
                  "    return (long)total == 3 * 99999 ? 0 : 2; }\n");
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "deep", NULL, e2e_modes[m], NULL);
        expect_exact_run(&r, 0, 1);
        cr_expect_eq(e2e_audited_calls(&r, "rec"), 3 * 100000, "%s", r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "deep"), 1, "%s", r.mode);
        cr_expect_eq(e2e_audited_sum(&r, "dropped_depth"), 0, "%s", r.mode);
        e2e_audited_free(&r);
    }
}

/* 1,000 times: setjmp in main, dive 51 frames deep, longjmp back. */
Test(stress, longjmp_across_51_frames_in_a_loop_is_repaired)
{
    build("jumps",
          "#include <setjmp.h>\n"
          "static jmp_buf back;\n"
          "__attribute__((noinline)) void dive(int n) {\n"
          "    if (n) dive(n - 1); else longjmp(back, 1); }\n"
          "__attribute__((noinline)) void after(void) {}\n"
          "int main(void) {\n"
          "    for (volatile int i = 0; i < 1000; i++) if (!setjmp(back)) dive(50);\n"
          "    after(); return 0; }\n");
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "jumps", NULL, e2e_modes[m], NULL);
        expect_exact_run(&r, 0, 1);
        cr_expect_eq(e2e_audited_calls(&r, "dive"), 1000 * 51, "%s", r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "after"), 1, "%s", r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "main"), 1, "%s", r.mode);
        if (strcmp(r.mode, "count") != 0)
            cr_expect_eq(e2e_audited_sum(&r, "repaired_longjmp"), 1000 * 51, "%s: %s",
                         r.mode, e2e_audited_verdict(&r));
        e2e_audited_free(&r);
    }
}

/* The program calls batch(100000), does what how says to its descriptors
 * or its root, and calls batch(100000) again; in trace mode a 64 KiB
 * buffer makes it write all along. */
static const char fds_src[] =
    "#include <fcntl.h>\n#include <string.h>\n#include <unistd.h>\n" WORK_SRC
    "int main(int argc, char **argv) {\n"
    "    if (argc < 2) return 2;\n"
    "    batch(100000);\n"
    "    if (!strcmp(argv[1], \"close\")) {\n"
    "        long max = sysconf(_SC_OPEN_MAX);\n"
    "        for (long fd = 0; fd < (max > 0 && max < 65536 ? max : 65536); fd++)\n"
    "            close((int)fd);\n"
    "        for (int i = 0; i < 8; i++) if (open(\"/dev/null\", O_RDWR) < 0) return 3; "
    "}\n"
    "    if (!strcmp(argv[1], \"chdir\") && chdir(\"/\")) return 3;\n"
    "    if (!strcmp(argv[1], \"chroot\") && (chroot(\"jail\") || chdir(\"/\"))) return "
    "3;\n"
    "    batch(100000);\n"
    "    return 0; }\n";

/* Runs the fds program's scenario how in the modes listed (NULL: all). */
static void check_fds(const char *how, const char *const *only)
{
    build("fds", fds_src);
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        int wanted = !only;
        for (int i = 0; only && only[i]; i++)
            wanted |= !strcmp(only[i], e2e_modes[m]);
        if (!wanted)
            continue;
        struct e2e_audited r;
        e2e_audited_run(&r, "fds", how, e2e_modes[m],
                        (char *[]){"CPROF_TRACE_BUFFER=65536", NULL});
        expect_exact_run(&r, 0, 1);
        cr_expect_eq(e2e_audited_calls(&r, "work"), 200000, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "batch"), 2, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "main"), 1, "%s %s", how, r.mode);
        e2e_audited_free(&r);
    }
}

/* Every descriptor closed, then eight opened on /dev/null: the runtime's
 * descriptor numbers now name the program's files. */
Test(stress, closing_every_descriptor_loses_nothing)
{
    check_fds("close", NULL);
}

Test(stress, chdir_after_start_keeps_the_data_directory)
{
    check_fds("chdir", NULL);
}

/* The program must run as root to chroot into ./jail (an empty directory):
 * skipped otherwise. */
static void check_chroot(const char *const *only)
{
    if (geteuid() != 0)
        cr_skip_test("chroot needs root: skipped");
    char jail[4200];
    snprintf(jail, sizeof jail, "%s/jail", e2e_scratch);
    cr_assert_eq(mkdir(jail, 0755), 0);
    check_fds("chroot", only);
}

/* Trace mode has its file open from the first chunk on and keeps it. */
Test(stress, chroot_after_start_keeps_the_data_directory_trace)
{
    check_chroot((const char *[]){"trace", NULL});
}

/* Summary and count modes create their file at the end, in the data
 * directory the runtime opened at start. */
Test(stress, chroot_after_start_keeps_the_data_directory)
{
    check_chroot((const char *[]){"summary", "count", NULL});
}
