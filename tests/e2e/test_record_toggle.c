/*
 * `cprof record --start-off --toggle-signal SIG` end to end: a program
 * built with cprof-cc calls `before` while recording is off and `after`
 * once the test has sent SIG to cprof record, which passes it on to the
 * program; only the calls of `after` are in the data, the audit lists the
 * period the signal opened and passes (what ran while off is no loss). A
 * run never switched on is exact too, and a bad signal is refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"

TestSuite(record_toggle, .init = e2e_scratch_init, .fini = e2e_scratch_fini,
          .timeout = 120);

/* before() runs while recording is off; with two arguments the program
 * then makes the file argv[1] and waits for the file argv[2] and for
 * recording to be on (the runtime's cprof_rt_recording, weak: the program
 * also runs without cprof), and calls after() five times. */
static const char toggle_src[] =
    "#include <stdio.h>\n"
    "#include <sys/stat.h>\n"
    "#include <unistd.h>\n"
    "extern int cprof_rt_recording(void) __attribute__((weak));\n"
    "__attribute__((noinline)) void before(void) { }\n"
    "__attribute__((noinline)) void after(void) { }\n"
    "__attribute__((no_instrument_function)) static int ready(const char *go) {\n"
    "    struct stat st;\n"
    "    return stat(go, &st) == 0 && (!cprof_rt_recording || cprof_rt_recording()); }\n"
    "int main(int argc, char **argv) {\n"
    "    for (int i = 0; i < 3; i++) before();\n"
    "    if (argc > 2) {\n"
    "        FILE *f = fopen(argv[1], \"w\");\n"
    "        if (f) fclose(f);\n"
    "        for (int i = 0; i < 30000 && !ready(argv[2]); i++) usleep(1000);\n"
    "    }\n"
    "    for (int i = 0; i < 5; i++) after();\n"
    "    return 0; }\n";

static char *scratch_path(const char *name)
{
    size_t n = strlen(e2e_scratch) + strlen(name) + 2;
    char *p = malloc(n);
    cr_assert(p);
    snprintf(p, n, "%s/%s", e2e_scratch, name);
    return p;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Starts argv in the scratch directory with stdout and stderr into the
 * files out and err there; returns its pid. */
static pid_t start(char *const argv[], const char *out, const char *err)
{
    char *out_path = scratch_path(out), *err_path = scratch_path(err);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || chdir(e2e_scratch) != 0)
            _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        unsetenv("CPROF_DIR");
        unsetenv("CPROF_MODE");
        unsetenv("CPROF_START");
        unsetenv("CPROF_SIGNAL");
        execv(argv[0], argv);
        _exit(127);
    }
    free(out_path);
    free(err_path);
    return pid;
}

/* Waits up to limit_ms for path to exist. */
static int wait_file(const char *path, int limit_ms)
{
    for (int i = 0; i < limit_ms / 10; i++) {
        if (exists(path))
            return 1;
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    return 0;
}

/* The exit status of pid, waited for up to limit_ms (killed after). */
static int wait_exit(pid_t pid, int limit_ms)
{
    int status;
    for (int i = 0; i < limit_ms / 10; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static char *scratch_read(const char *name)
{
    char *path = scratch_path(name);
    char *text = e2e_read_file(path, NULL);
    free(path);
    cr_assert(text, "cannot read %s", name);
    return text;
}

Test(record_toggle, signal_to_cprof_record_turns_recording_on)
{
    e2e_scratch_build("toggle", toggle_src, NULL);
    char *ready = scratch_path("ready"), *go = scratch_path("go");
    pid_t pid = start((char *const[]){CPROF, "record", "-o", "data", "--start-off",
                                      "--toggle-signal", "USR1", "--", "./toggle", ready,
                                      go, NULL},
                      "record.out", "record.err");
    cr_assert(wait_file(ready, 60000), "the program did not get ready");
    kill(pid, SIGUSR1);
    cr_assert_eq(e2e_write_file(go, ""), 0);
    int status = wait_exit(pid, 60000);
    char *err = scratch_read("record.err");
    cr_assert_eq(status, 0, "cprof record: status %d:\n%s", status, err);
    cr_expect(strstr(err, "recording toggles on signal 10"), "%s", err);
    free(err);

    struct e2e_result res;
    cr_assert_eq(
        e2e_scratch_run_plain(
            (char *const[]){CPROF, "report", "data", "--format", "csv", NULL}, &res),
        0, "%s", res.err);
    cr_expect_eq(e2e_report_calls(res.out, "after"), 5, "%s", res.out);
    cr_expect_eq(e2e_report_calls(res.out, "before"), -1, "%s", res.out);
    e2e_result_free(&res);

    cr_expect_eq(
        e2e_scratch_run_plain((char *const[]){CPROF, "audit", "data", NULL}, &res), 0,
        "%s%s", res.out, res.err);
    cr_expect(strstr(res.out, "recording: on in 1 period"), "%s", res.out);
    e2e_result_free(&res);
    cr_expect_eq(
        e2e_scratch_run_plain(
            (char *const[]){CPROF, "audit", "data", "--periods", "--format", "csv", NULL},
            &res),
        0, "%s", res.err);
    cr_expect(strstr(res.out, ",signal,end"), "%s", res.out);
    e2e_result_free(&res);
    free(ready);
    free(go);
}

Test(record_toggle, a_run_never_switched_on_is_exact)
{
    e2e_scratch_build("toggle", toggle_src, NULL);
    struct e2e_result res;
    cr_assert_eq(
        e2e_scratch_run_plain((char *const[]){CPROF, "record", "-o", "data",
                                              "--start-off", "--", "./toggle", NULL},
                              &res),
        0, "%s", res.err);
    e2e_result_free(&res);
    cr_expect_eq(
        e2e_scratch_run_plain(
            (char *const[]){CPROF, "report", "data", "--format", "csv", NULL}, &res),
        0, "%s", res.err);
    cr_expect_eq(e2e_report_calls(res.out, "after"), -1, "%s", res.out);
    cr_expect_eq(e2e_report_calls(res.out, "before"), -1, "%s", res.out);
    e2e_result_free(&res);
    cr_expect_eq(
        e2e_scratch_run_plain((char *const[]){CPROF, "audit", "data", NULL}, &res), 0,
        "%s%s", res.out, res.err);
    cr_expect(strstr(res.out, "exact: nothing lost"), "%s", res.out);
    e2e_result_free(&res);
}

Test(record_toggle, bad_toggle_signal_is_refused)
{
    struct e2e_result res;
    cr_expect_eq(e2e_scratch_run_plain((char *const[]){CPROF, "record", "--toggle-signal",
                                                       "KILL", "--", "/bin/true", NULL},
                                       &res),
                 1);
    cr_expect(strstr(res.err, "unknown toggle signal 'KILL'"), "%s", res.err);
    e2e_result_free(&res);
}
