/*
 * The profiled program's abrupt ends (issue 8): SIGSEGV, abort(), a real
 * integer division by zero, kill -9, exit() and _exit() from nested calls,
 * and the ways a thread ends inside nested calls (pthread_exit,
 * pthread_cancel). The program must end exactly as it does without cprof,
 * and the calls it completed before must be in its file.
 *
 * Each test builds a small program with cprof-cc, runs it in summary, trace
 * and count mode, and reads what it wrote only through the command line:
 * the exact call counts from `cprof report --format csv`, how the process
 * ended and what was lost from `cprof audit --format json`. The stress
 * tests (threads, signals, processes, descriptors) are in test_stress.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e_audited.h"
#include "e2e_scratch.h"

TestSuite(crash, .init = e2e_scratch_init, .fini = e2e_scratch_fini, .timeout = 240);

/* The program of the process-ending tests: 1,000 calls of work, then ten
 * nested calls and in the innermost (crash) the end that argv[1] names.
 * It allows no core dump, so that it dies alike with and without cprof
 * whatever the machine's core settings. "kill" prints the calls it made
 * and waits to be killed. */
static const char ends_src[] =
    "#include <signal.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
    "#include <sys/resource.h>\n#include <unistd.h>\n"
    "static volatile long sink;\n"
    "__attribute__((noinline)) void work(long i) { sink += i; }\n"
    "__attribute__((noinline)) void crash(const char *how) {\n"
    "    if (!strcmp(how, \"segv\")) { volatile int *p = 0; *p = 1; }\n"
    "    if (!strcmp(how, \"abort\")) abort();\n"
    "    if (!strcmp(how, \"fpe\")) { volatile int zero = 0, one = 1; sink = one / zero; "
    "}\n"
    "    if (!strcmp(how, \"exit\")) exit(7);\n"
    "    if (!strcmp(how, \"_exit\")) _exit(7);\n"
    "    if (!strcmp(how, \"kill\")) { printf(\"1000\\n\"); fflush(stdout);\n"
    "        for (;;) pause(); }\n"
    "}\n"
    "__attribute__((noinline)) void nested(const char *how, int depth) {\n"
    "    if (depth) nested(how, depth - 1); else crash(how); }\n"
    "int main(int argc, char **argv) {\n"
    "    struct rlimit no_core = {0, 0}; setrlimit(RLIMIT_CORE, &no_core);\n"
    "    if (argc < 2) return 2;\n"
    "    for (long i = 0; i < 1000; i++) work(i);\n"
    "    nested(argv[1], 9);\n"
    "    return 0; }\n";

/* Builds ends_src as ./ends with cprof-cc and, when plain is set, as
 * ./plain without cprof. */
static void build_ends(int plain)
{
    e2e_scratch_build("ends", ends_src, (char *[]){"-O1", "-g", NULL});
    if (!plain)
        return;
    struct e2e_result res;
    char *argv[] = {"clang", "-O1", "-o", "plain", "ends.c", NULL};
    int status = e2e_scratch_run(argv, NULL, NULL, &res);
    cr_assert_eq(status, 0, "cannot build plain: %s", res.err);
    e2e_result_free(&res);
}

/* The calls made before the end, all in the file: main, work x1000,
 * nested x10 and crash, the last twelve open at the end. */
static void expect_calls_before_the_end(const struct e2e_audited *r, const char *how)
{
    cr_expect_eq(e2e_audited_calls(r, "work"), 1000, "%s %s", how, r->mode);
    cr_expect_eq(e2e_audited_calls(r, "nested"), 10, "%s %s", how, r->mode);
    cr_expect_eq(e2e_audited_calls(r, "crash"), 1, "%s %s", how, r->mode);
    cr_expect_eq(e2e_audited_calls(r, "main"), 1, "%s %s", how, r->mode);
}

/* The program dies by sig exactly as without cprof; its file says so and
 * has every call made before. */
static void check_fatal_signal(const char *how, int sig)
{
    build_ends(1);
    struct e2e_result plain;
    char *argv[] = {"./plain", (char *)how, NULL};
    e2e_scratch_run_plain(argv, &plain);
    cr_assert(WIFSIGNALED(plain.status) && WTERMSIG(plain.status) == sig,
              "%s: without cprof the program must die by signal %d", how, sig);
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "ends", how, e2e_modes[m], NULL);
        cr_assert_eq(r.prog.status, plain.status,
                     "%s %s: wait status 0x%x with cprof, 0x%x without", how, r.mode,
                     (unsigned)r.prog.status, (unsigned)plain.status);
        expect_calls_before_the_end(&r, how);
        cr_expect_eq(e2e_audited_count(&r, "\"killed\": true"), 1, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_count(&r, "\"end_reason\": \"signal\""), 1, "%s %s", how,
                     r.mode);
        cr_expect_eq(e2e_audited_sum(&r, "signal"), sig, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_sum(&r, "closed_at_end"), 12, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_count(&r, "\"damaged\": false"), 1, "%s %s", how,
                     r.mode);
        cr_expect_eq(r.audit_status, 3, "%s %s: killed is a loss: %s", how, r.mode,
                     e2e_audited_verdict(&r));
        e2e_audited_free(&r);
    }
    e2e_result_free(&plain);
}

Test(crash, segv_dies_alike_and_keeps_the_calls_before)
{
    check_fatal_signal("segv", SIGSEGV);
}

Test(crash, abort_dies_alike_and_keeps_the_calls_before)
{
    check_fatal_signal("abort", SIGABRT);
}

/* A real division fault (idiv by a volatile zero), not raise(). */
Test(crash, integer_division_by_zero_dies_alike_and_keeps_the_calls_before)
{
    check_fatal_signal("fpe", SIGFPE);
}

Test(crash, exit_from_nested_calls_closes_them)
{
    build_ends(0);
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "ends", "exit", e2e_modes[m], NULL);
        cr_assert(WIFEXITED(r.prog.status) && WEXITSTATUS(r.prog.status) == 7,
                  "%s: status 0x%x", r.mode, (unsigned)r.prog.status);
        expect_calls_before_the_end(&r, "exit");
        cr_expect_eq(e2e_audited_count(&r, "\"end_reason\": \"exit\""), 1, "%s", r.mode);
        cr_expect_eq(e2e_audited_sum(&r, "closed_at_end"), 12, "%s", r.mode);
        cr_expect_eq(r.audit_status, 0, "%s: %s", r.mode, e2e_audited_verdict(&r));
        e2e_audited_free(&r);
    }
}

/* The runtime's _exit writes the data as exit() would (end reason
 * "exit", the open calls closed), then ends the process with its status. */
Test(crash, _exit_from_nested_calls_keeps_the_calls_before)
{
    build_ends(0);
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "ends", "_exit", e2e_modes[m], NULL);
        cr_assert(WIFEXITED(r.prog.status) && WEXITSTATUS(r.prog.status) == 7,
                  "%s: status 0x%x", r.mode, (unsigned)r.prog.status);
        expect_calls_before_the_end(&r, "_exit");
        cr_expect_eq(e2e_audited_count(&r, "\"end_reason\": \"exit\""), 1, "%s", r.mode);
        cr_expect_eq(e2e_audited_sum(&r, "closed_at_end"), 12, "%s", r.mode);
        cr_expect_eq(r.audit_status, 0, "%s: %s", r.mode, e2e_audited_verdict(&r));
        e2e_audited_free(&r);
    }
}

/* Starts ./ends kill in mode with its data in r's directory, waits until
 * it printed the calls it made (returned), kills it with SIGKILL and reaps
 * it, then waits for its keeper (which writes its data after it ended)
 * as its subreaper. */
static long long run_and_kill(struct e2e_audited *r, const char *mode)
{
    e2e_audited_init(r, mode);
    e2e_adopt_keepers();
    int out[2];
    cr_assert_eq(pipe(out), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (chdir(e2e_scratch) != 0 || dup2(out[1], 1) < 0)
            _exit(127);
        close(out[0]);
        close(out[1]);
        unsetenv("CPROF_VERBOSE");
        setenv("CPROF_MODE", mode, 1);
        setenv("CPROF_DIR", r->data, 1);
        execl("./ends", "./ends", "kill", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[64] = "";
    size_t len = 0;
    struct pollfd pfd = {out[0], POLLIN, 0};
    while (len + 1 < sizeof line && !strchr(line, '\n') && poll(&pfd, 1, 120000) > 0) {
        ssize_t got = read(out[0], line + len, sizeof line - 1 - len);
        if (got <= 0 && !(got < 0 && errno == EINTR))
            break;
        if (got > 0)
            len += (size_t)got;
        line[len] = '\0';
    }
    close(out[0]);
    kill(pid, SIGKILL);
    while (waitpid(pid, &r->prog.status, 0) < 0 && errno == EINTR)
        ;
    cr_assert(strchr(line, '\n'), "%s: the program did not say how many calls it made",
              mode);
    cr_assert(WIFSIGNALED(r->prog.status) && WTERMSIG(r->prog.status) == SIGKILL,
              "%s: status 0x%x", mode, (unsigned)r->prog.status);
    cr_assert_eq(e2e_wait_keepers(60), 0, "%s: a keeper did not end within a minute",
                 mode);
    e2e_audited_analyse(r);
    return atoll(line);
}

/* kill -9 gives the runtime no chance to write: its keeper process does,
 * from the memory it shares with the program (end reason "killed"): every
 * call made before is there, the twelve still open closed at the keeper's
 * time, and the audit cannot call the run exact (status 3). */
Test(crash, kill_9_keeps_the_calls_before)
{
    build_ends(0);
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        struct e2e_audited r;
        long long made = run_and_kill(&r, e2e_modes[m]);
        cr_assert_eq(made, 1000);
        cr_expect_eq(r.report_status, 0, "%s: cprof report failed (%d)", r.mode,
                     r.report_status);
        expect_calls_before_the_end(&r, "kill");
        cr_expect_eq(e2e_audited_count(&r, "\"end_reason\": \"killed\""), 1, "%s",
                     r.mode);
        cr_expect_eq(e2e_audited_count(&r, "\"killed\": true"), 1, "%s", r.mode);
        cr_expect_eq(e2e_audited_sum(&r, "closed_at_end"), 12, "%s", r.mode);
        cr_expect_eq(r.audit_status, 3, "%s: a killed run is not exact: %s", r.mode,
                     e2e_audited_verdict(&r));
        struct e2e_result text;
        char *argv[] = {CPROF_BINARY_DIR "/bin/cprof", "report", r.data, NULL};
        cr_expect_eq(e2e_scratch_run_plain(argv, &text), 0, "%s", r.mode);
        cr_expect(strstr(text.out, "did not end normally") ||
                      strstr(text.err, "did not end normally"),
                  "%s: the report does not warn of the kill:\n%s%s", r.mode, text.out,
                  text.err);
        e2e_result_free(&text);
        e2e_audited_free(&r);
    }
}

/* A forked child killed by kill -9 has its own keeper, working on its own
 * copy of the memory: the child's calls are in its file (end reason
 * "killed"), the parent's in the parent's, none twice. */
static const char fork_kill_src[] =
    "#include <signal.h>\n#include <sys/wait.h>\n#include <unistd.h>\n"
    "static volatile long sink;\n"
    "__attribute__((noinline)) void work(long i) { sink += i; }\n"
    "__attribute__((noinline)) void child_work(long i) { sink += i; }\n"
    "__attribute__((noinline)) void die(void) { kill(getpid(), SIGKILL); }\n"
    "int main(void) {\n"
    "    for (long i = 0; i < 100; i++) work(i);\n"
    "    pid_t pid = fork();\n"
    "    if (pid == 0) { for (long i = 0; i < 50; i++) child_work(i); die(); }\n"
    "    int status = 0;\n"
    "    if (pid < 0 || waitpid(pid, &status, 0) != pid) return 2;\n"
    "    for (long i = 0; i < 10; i++) work(i);\n"
    "    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : 3; }\n";

Test(crash, kill_9_of_a_forked_child_keeps_its_calls)
{
    e2e_scratch_build("forkkill", fork_kill_src, (char *[]){"-O1", "-g", NULL});
    e2e_adopt_keepers();
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "forkkill", NULL, e2e_modes[m], NULL);
        cr_assert(WIFEXITED(r.prog.status) && WEXITSTATUS(r.prog.status) == 0,
                  "%s: status 0x%x", r.mode, (unsigned)r.prog.status);
        /* the child's keeper writes after the child ended: read again */
        cr_assert_eq(e2e_wait_keepers(60), 0, "%s: a keeper did not end", r.mode);
        free(r.report);
        free(r.audit);
        e2e_audited_analyse(&r);
        cr_expect_eq(e2e_audited_calls(&r, "work"), 110, "%s", r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "child_work"), 50, "%s", r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "die"), 1, "%s", r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "main"), 1, "%s", r.mode);
        cr_expect_eq(e2e_audited_count(&r, "\"end_reason\": \"killed\""), 1, "%s",
                     r.mode);
        cr_expect_eq(e2e_audited_count(&r, "\"end_reason\": \"exit\""), 1, "%s", r.mode);
        e2e_audited_free(&r);
    }
}

/* A thread calls work 1,000 times, then ten nested calls, and in the
 * innermost (leave) calls pthread_exit, or waits in pause() for main to
 * cancel it. main joins it and calls work 10 more times. */
static const char thread_ends_src[] =
    "#include <pthread.h>\n#include <sched.h>\n#include <string.h>\n#include <unistd.h>\n"
    "static volatile long sink;\n"
    "static volatile int ready;\n"
    "__attribute__((noinline)) void work(long i) { sink += i; }\n"
    "__attribute__((noinline)) void leave(int cancel) {\n"
    "    if (!cancel) pthread_exit((void *)7);\n"
    "    ready = 1;\n"
    "    for (;;) pause(); }\n"
    "__attribute__((noinline)) void nested(int cancel, int depth) {\n"
    "    if (depth) nested(cancel, depth - 1); else leave(cancel); }\n"
    "void *thread(void *arg) {\n"
    "    for (long i = 0; i < 1000; i++) work(i);\n"
    "    nested(arg != 0, 9);\n"
    "    return 0; }\n"
    "int main(int argc, char **argv) {\n"
    "    int cancel = argc > 1 && !strcmp(argv[1], \"cancel\");\n"
    "    pthread_t t; void *ret;\n"
    "    if (pthread_create(&t, 0, thread, (void *)(long)cancel)) return 1;\n"
    "    if (cancel) { while (!ready) sched_yield(); pthread_cancel(t); }\n"
    "    pthread_join(t, &ret);\n"
    "    if (ret != (cancel ? PTHREAD_CANCELED : (void *)7)) return 2;\n"
    "    for (long i = 0; i < 10; i++) work(i);\n"
    "    return 0; }\n";

/* The thread's twelve open calls (thread, nested x10, leave) are closed
 * when its data is written, and nothing is lost. */
static void check_thread_end(const char *how)
{
    e2e_scratch_build("threads", thread_ends_src, (char *[]){"-O1", "-g", NULL});
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "threads", how, e2e_modes[m], NULL);
        cr_assert(WIFEXITED(r.prog.status) && WEXITSTATUS(r.prog.status) == 0,
                  "%s %s: status 0x%x", how, r.mode, (unsigned)r.prog.status);
        cr_expect_eq(e2e_audited_calls(&r, "work"), 1010, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "nested"), 10, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "leave"), 1, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "thread"), 1, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "main"), 1, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_sum(&r, "closed_at_end"), 12, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_sum(&r, "threads_recorded"), 2, "%s %s", how, r.mode);
        cr_expect_eq(r.audit_status, 0, "%s %s: %s", how, r.mode,
                     e2e_audited_verdict(&r));
        e2e_audited_free(&r);
    }
}

Test(crash, pthread_exit_from_nested_calls_closes_them)
{
    check_thread_end("exit");
}

Test(crash, pthread_cancel_in_nested_calls_closes_them)
{
    check_thread_end("cancel");
}
