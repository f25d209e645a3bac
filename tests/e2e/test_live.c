/*
 * Live snapshots (CPROF_LIVE, issue 9): while a process runs with
 * CPROF_LIVE=S its keeper rewrites cprof.data/PROG.PID.live.cprof every S
 * seconds, a complete summary file (end reason "live") that every command
 * reads, replaced by a rename (a reader never sees a torn one), and
 * removed when the process ends. The program is built with cprof-cc, and
 * read only through the command line.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"

TestSuite(live, .init = e2e_scratch_init, .fini = e2e_scratch_fini, .timeout = 240);

/* A thread that calls work 500 times and ends; then main calls work 1,000
 * times, says "ready" and waits for a line on stdin (inside wait_here,
 * still open in every snapshot), then calls work 10 more times. */
static const char live_src[] =
    "#include <pthread.h>\n#include <stdio.h>\n#include <unistd.h>\n"
    "static volatile long sink;\n"
    "__attribute__((noinline)) void work(long i) { sink += i; }\n"
    "__attribute__((noinline)) void *worker(void *a) {\n"
    "    for (long i = 0; i < 500; i++) work(i); return a; }\n"
    "__attribute__((noinline)) void wait_here(void) { char c; "
    "while (read(0, &c, 1) == 1 && c != '\\n'); }\n"
    "int main(void) {\n"
    "    pthread_t t; pthread_create(&t, 0, worker, 0); pthread_join(t, 0);\n"
    "    for (long i = 0; i < 1000; i++) work(i);\n"
    "    printf(\"ready\\n\"); fflush(stdout);\n"
    "    wait_here();\n"
    "    for (long i = 0; i < 10; i++) work(i);\n"
    "    return 0; }\n";

struct live_run {
    pid_t pid;
    int to;   /* the program's stdin */
    int from; /* its stdout */
    char live[512], final[512];
};

/* Starts ./live with CPROF_LIVE=1 (as the keepers' subreaper) and waits
 * until it says ready. */
static void live_start(struct live_run *r)
{
    e2e_adopt_keepers();
    int in[2], out[2];
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    r->pid = fork();
    cr_assert_geq(r->pid, 0);
    if (r->pid == 0) {
        if (chdir(e2e_scratch) != 0 || dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
            _exit(127);
        close(in[1]);
        close(out[0]);
        unsetenv("CPROF_VERBOSE");
        setenv("CPROF_MODE", "summary", 1);
        setenv("CPROF_DIR", "data", 1);
        setenv("CPROF_LIVE", "1", 1);
        execl("./live", "./live", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    r->to = in[1];
    r->from = out[0];
    char line[16] = "";
    struct pollfd pfd = {r->from, POLLIN, 0};
    cr_assert_gt(poll(&pfd, 1, 60000), 0, "the program did not start");
    cr_assert_gt(read(r->from, line, sizeof line - 1), 0);
    cr_assert(strstr(line, "ready"), "%s", line);
    snprintf(r->live, sizeof r->live, "%s/data/live.%d.live.cprof", e2e_scratch,
             (int)r->pid);
    snprintf(r->final, sizeof r->final, "%s/data/live.%d.cprof", e2e_scratch,
             (int)r->pid);
}

/* `cprof report --format csv path`: its exit status, the calls of fn. */
static int live_report(const char *path, const char *fn, long long *calls,
                       struct e2e_result *res)
{
    char *argv[] = {CPROF, "report", "--format", "csv", (char *)path, NULL};
    int status = e2e_scratch_run_plain(argv, res);
    *calls = status == 0 ? e2e_report_calls(res->out, fn) : -1;
    return status;
}

Test(live, snapshots_while_it_runs_and_none_after)
{
    e2e_scratch_build("live", live_src, (char *[]){"-O1", "-g", NULL});
    struct live_run r;
    live_start(&r);
    /* a snapshot taken after "ready" holds all 1,500 calls */
    long long work = -1;
    struct e2e_result res;
    for (int i = 0; i < 200 && work != 1500; i++) {
        struct stat st;
        if (stat(r.live, &st) == 0) {
            cr_assert_eq(live_report(r.live, "work", &work, &res), 0, "%s", res.err);
            e2e_result_free(&res);
        }
        if (work != 1500)
            usleep(100000);
    }
    cr_assert_eq(work, 1500, "no snapshot with every call made so far");
    /* the directory reads as the snapshot (the process's own file holds
     * only the thread that ended): every call once, and a warning */
    cr_assert_eq(live_report("data", "work", &work, &res), 0, "%s", res.err);
    cr_expect_eq(work, 1500, "%s", res.out);
    cr_expect_eq(e2e_report_calls(res.out, "worker"), 1, "%s", res.out);
    cr_expect_eq(e2e_report_calls(res.out, "main"), 1, "%s", res.out);
    cr_expect_eq(e2e_report_calls(res.out, "wait_here"), 1, "%s", res.out);
    cr_expect(strstr(res.err, "a snapshot of a running process"), "%s", res.err);
    e2e_result_free(&res);
    char *audit[] = {CPROF, "audit", "--format", "json", r.live, NULL};
    cr_assert_eq(e2e_scratch_run_plain(audit, &res), 0, "%s", res.err);
    cr_expect(strstr(res.out, "\"end_reason\": \"live\""), "%s", res.out);
    e2e_result_free(&res);
    /* rewritten by renames: read it over three rewrites, never torn */
    for (int i = 0; i < 30; i++) {
        cr_assert_eq(live_report(r.live, "work", &work, &res), 0, "read %d: %s", i,
                     res.err);
        cr_expect_eq(work, 1500);
        e2e_result_free(&res);
        usleep(100000);
    }
    /* the end: the process's own file is complete, the snapshot gone */
    cr_assert_eq(write(r.to, "\n", 1), 1);
    close(r.to);
    close(r.from);
    int status;
    while (waitpid(r.pid, &status, 0) < 0 && errno == EINTR)
        ;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x",
              (unsigned)status);
    cr_assert_eq(e2e_wait_keepers(60), 0, "the keeper did not end");
    struct stat st;
    cr_expect_neq(stat(r.live, &st), 0, "the snapshot is left after the end");
    char data[600];
    snprintf(data, sizeof data, "%s/data", e2e_scratch);
    cr_expect_eq(e2e_count_files(data, ".tmp"), 0, "a .tmp file is left");
    cr_assert_eq(live_report("data", "work", &work, &res), 0, "%s", res.err);
    cr_expect_eq(work, 1510, "%s", res.out);
    cr_expect(!strstr(res.err, "snapshot"), "%s", res.err);
    e2e_result_free(&res);
}

/* A bad value is a warning in the file, and there is no snapshot. */
Test(live, bad_value_is_a_warning_and_no_snapshot)
{
    e2e_scratch_build("live", live_src, (char *[]){"-O1", "-g", NULL});
    const char *env_modes[] = {"CPROF_LIVE=0", "CPROF_LIVE=1x"};
    for (int i = 0; i < 2; i++) {
        struct e2e_result res;
        char *argv[] = {"./live", NULL};
        char *env[] = {"CPROF_DIR=data", "CPROF_MODE=summary", (char *)env_modes[i],
                       NULL};
        cr_assert_eq(e2e_scratch_run(argv, env, (char *[]){"CPROF_LIVE", NULL}, &res), 0,
                     "%s", res.err);
        e2e_result_free(&res);
        char *rep[] = {CPROF, "report", "data", NULL};
        cr_assert_eq(e2e_scratch_run_plain(rep, &res), 0, "%s", res.err);
        cr_expect(strstr(res.out, "CPROF_LIVE is not a number"), "%s: %s", env_modes[i],
                  res.out);
        e2e_result_free(&res);
        char data[600];
        snprintf(data, sizeof data, "%s/data", e2e_scratch);
        cr_expect_eq(e2e_count_files(data, ".live.cprof"), 0);
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf %s", data);
        cr_assert_eq(system(cmd), 0);
    }
}
