/*
 * The cprof command line end to end: `cprof record` runs a program with
 * the right environment, passes its exit status and death by signal on,
 * refuses to mix runs by accident; `cprof report` on a run killed by
 * SIGKILL (no end record), on a truncated copy, with --pid and --tid, and
 * in every format; both clocks measure real time. Programs are built with clang against
 * this build's runtime, so these tests do not depend on cprof-cc.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e_util.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"

static const char cli_src[] =
    "#include <signal.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "#include <unistd.h>\n"
    "__attribute__((noinline)) int work(int i) { return i * 7; }\n"
    "__attribute__((noinline)) void nap(void) { usleep(50000); }\n"
    "int main(int argc, char **argv) {\n"
    "    long n = argc > 1 ? atol(argv[1]) : 10, s = 0;\n"
    "    for (long i = 0; i < n; i++) s += work((int)i);\n"
    "    if (argc > 2 && !strcmp(argv[2], \"kill\")) kill(getpid(), SIGKILL);\n"
    "    if (argc > 2 && !strcmp(argv[2], \"term\")) raise(SIGTERM);\n"
    "    if (argc > 2 && !strcmp(argv[2], \"nap\")) { nap(); return 0; }\n"
    "    return argc > 2 ? atoi(argv[2]) : (int)(s & 0);\n"
    "}\n";

static char *dir;
static char prog[600];

static void cli_setup(void)
{
    dir = e2e_make_temp_dir(NULL, "cprof-cli");
    cr_assert(dir);
    char src[700], cmd[2400];
    snprintf(src, sizeof src, "%s/prog.c", dir);
    FILE *f = fopen(src, "w");
    cr_assert(f);
    fputs(cli_src, f);
    fclose(f);
    snprintf(prog, sizeof prog, "%s/prog", dir);
    snprintf(cmd, sizeof cmd,
             "clang -O1 -g -finstrument-functions -o %s %s -L%s/lib/cprof "
             "-Wl,-rpath,%s/lib/cprof -lcprof-rt",
             prog, src, CPROF_BINARY_DIR, CPROF_BINARY_DIR);
    cr_assert_eq(system(cmd), 0, "cannot build: %s", cmd);
}

static void cli_teardown(void)
{
    e2e_remove_tree(dir);
    free(dir);
}

TestSuite(cli, .init = cli_setup, .fini = cli_teardown);

static char *const unset[] = {"CPROF_DIR", "CPROF_MODE", "CPROF_VERBOSE", NULL};

static int run(char *const argv[], struct e2e_result *res)
{
    cr_assert_eq(e2e_run(dir, argv, NULL, unset, 120, res), 0, "cannot run %s", argv[0]);
    return WIFEXITED(res->status) ? WEXITSTATUS(res->status)
                                  : 128 + WTERMSIG(res->status);
}

static long long report_calls(const char *data, const char *name, char *const extra[])
{
    char *argv[12] = {CPROF, "report", (char *)data, "--format", "csv"};
    int argc = 5;
    for (int i = 0; extra && extra[i] && argc < 11; i++)
        argv[argc++] = extra[i];
    struct e2e_result res;
    cr_assert_eq(run(argv, &res), 0, "report failed: %s", res.err);
    long long calls = e2e_report_calls(res.out, name);
    e2e_result_free(&res);
    return calls;
}

Test(cli, record_runs_the_program_and_says_where_the_data_went)
{
    struct e2e_result res;
    cr_assert_eq(
        run((char *const[]){CPROF, "record", "-o", "out", "--", prog, "25", NULL}, &res),
        0, "%s", res.err);
    cr_expect(strstr(res.err, "cprof: wrote out/prog."), "%s", res.err);
    cr_expect(strstr(res.err, "cprof report out"), "%s", res.err);
    e2e_result_free(&res);
    cr_expect_eq(report_calls("out", "work", NULL), 25);
    cr_expect_eq(report_calls("out", "main", NULL), 1);
}

Test(cli, record_passes_the_exit_status_and_signals_on)
{
    struct e2e_result res;
    cr_expect_eq(
        run((char *const[]){CPROF, "record", "-o", "a", "--", prog, "3", "42", NULL},
            &res),
        42);
    e2e_result_free(&res);
    cr_expect_eq(
        run((char *const[]){CPROF, "record", "-o", "b", "--", prog, "3", "term", NULL},
            &res),
        128 + SIGTERM);
    cr_expect(strstr(res.err, "killed by signal"), "%s", res.err);
    e2e_result_free(&res);
    cr_expect_eq(report_calls("b", "work", NULL), 3, "data saved before SIGTERM");
    cr_expect_eq(
        run((char *const[]){CPROF, "record", "-o", "c", "--", "/nonexistent/x", NULL},
            &res),
        127);
    cr_expect(strstr(res.err, "cannot run /nonexistent/x"), "%s", res.err);
    e2e_result_free(&res);
}

Test(cli, record_refuses_to_mix_runs_unless_told)
{
    struct e2e_result res;
    char *const first[] = {CPROF, "record", "-o", "d", "--", prog, "5", NULL};
    cr_assert_eq(run(first, &res), 0);
    e2e_result_free(&res);
    cr_expect_eq(run(first, &res), 1);
    cr_expect(strstr(res.err, "already holds 1 .cprof file"), "%s", res.err);
    e2e_result_free(&res);
    cr_assert_eq(run((char *const[]){CPROF, "record", "-o", "d", "--append", "--", prog,
                                     "5", NULL},
                     &res),
                 0);
    e2e_result_free(&res);
    cr_expect_eq(report_calls("d", "work", NULL), 10, "two runs merged");
    cr_assert_eq(run((char *const[]){CPROF, "record", "-o", "d", "--force", "--mode",
                                     "trace", "--", prog, "7", NULL},
                     &res),
                 0);
    e2e_result_free(&res);
    cr_expect_eq(report_calls("d", "work", NULL), 7, "the earlier runs were replaced");
}

/* SIGKILL leaves the runtime no chance to finish the file, and without a
 * keeper (CPROF_KEEPER=0, or one that could not start) nobody does: in
 * trace mode the chunks written while the program ran are kept and
 * reported. */
Test(cli, report_keeps_what_a_killed_run_wrote)
{
    struct e2e_result res;
    char *const argv[] = {CPROF, "record", "-o",      "k",    "--mode", "trace",
                          "--",  prog,     "3000000", "kill", NULL};
    char *const no_keeper[] = {"CPROF_KEEPER=0", NULL};
    cr_assert_eq(e2e_run(dir, argv, no_keeper, unset, 120, &res), 0);
    cr_expect(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 128 + SIGKILL);
    e2e_result_free(&res);
    /* the report covers what the file holds, and the command fails */
    cr_assert_eq(
        run((char *const[]){CPROF, "report", "k", "--format", "csv", NULL}, &res), 2,
        "%s", res.err);
    cr_expect(strstr(res.err, "cut short"), "%s", res.err);
    long long calls = e2e_report_calls(res.out, "work");
    cr_expect(calls > 0 && calls <= 3000000, "work: %lld calls", calls);
    e2e_result_free(&res);
    cr_assert_eq(run((char *const[]){CPROF, "report", "k", NULL}, &res), 2, "%s",
                 res.err);
    cr_expect(strstr(res.out, "work"), "%s", res.out);
    cr_expect(strstr(res.err, "cprof: k/prog.") && strstr(res.err, ".cprof: cut short"),
              "%s", res.err);
    e2e_result_free(&res);
}

/* With its keeper, a run killed by SIGKILL loses nothing: cprof record
 * waits for the keeper, which wrote the rest (end reason "killed"). */
Test(cli, record_waits_for_the_keeper_of_a_killed_run)
{
    const char *modes[] = {"summary", "trace"};
    for (int m = 0; m < 2; m++) {
        struct e2e_result res;
        char out[16];
        snprintf(out, sizeof out, "kk-%s", modes[m]);
        char *const argv[] = {CPROF,     "record",         "-o", out,
                              "--mode",  (char *)modes[m], "--", prog,
                              "3000000", "kill",           NULL};
        cr_expect_eq(run(argv, &res), 128 + SIGKILL);
        e2e_result_free(&res);
        cr_expect_eq(report_calls(out, "work", NULL), 3000000, "%s", modes[m]);
        cr_assert_eq(run((char *const[]){CPROF, "report", out, NULL}, &res), 0, "%s",
                     res.err);
        cr_expect(strstr(res.out, "did not end normally") ||
                      strstr(res.err, "did not end normally"),
                  "%s: %s%s", modes[m], res.out, res.err);
        e2e_result_free(&res);
    }
}

Test(cli, report_of_a_truncated_file_warns_and_shows_the_rest)
{
    struct e2e_result res;
    char *const argv[] = {CPROF,   "record", "-o", "t",       "--mode",
                          "trace", "--",     prog, "2000000", NULL};
    cr_assert_eq(run(argv, &res), 0);
    e2e_result_free(&res);
    char cmd[1400];
    /* keep the first 60% of the file */
    snprintf(cmd, sizeof cmd,
             "cd %s && f=$(ls t/*.cprof) && n=$(stat -c %%s $f) && "
             "head -c $((n * 6 / 10)) $f > cut.cprof",
             dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(
        run((char *const[]){CPROF, "report", "cut.cprof", "--format", "csv", NULL}, &res),
        2, "%s", res.err);
    cr_expect(strstr(res.err, "cut.cprof: truncated at byte"), "%s", res.err);
    long long calls = e2e_report_calls(res.out, "work");
    cr_expect(calls > 0 && calls < 2000000, "work: %lld calls before the cut", calls);
    e2e_result_free(&res);
}

Test(cli, report_selects_by_pid_and_formats_json)
{
    struct e2e_result res;
    cr_assert_eq(
        run((char *const[]){CPROF, "record", "-o", "p", "--", prog, "4", NULL}, &res), 0);
    const char *at = strstr(res.err, "p/prog.");
    cr_assert(at);
    long pid = atol(at + strlen("p/prog."));
    e2e_result_free(&res);
    cr_assert_eq(run((char *const[]){CPROF, "record", "-o", "p", "--append", "--", prog,
                                     "6", NULL},
                     &res),
                 0);
    e2e_result_free(&res);
    char pid_arg[32];
    snprintf(pid_arg, sizeof pid_arg, "%ld", pid);
    cr_expect_eq(report_calls("p", "work", (char *const[]){"--pid", pid_arg, NULL}), 4);
    cr_expect_eq(report_calls("p", "work", NULL), 10);
    cr_expect_eq(run((char *const[]){CPROF, "report", "p", "--pid", "1", NULL}, &res), 2);
    cr_expect(strstr(res.err, "no process with pid 1"), "%s", res.err);
    e2e_result_free(&res);
    cr_assert_eq(
        run((char *const[]){CPROF, "report", "p", "--format", "json", NULL}, &res), 0);
    cr_expect(strstr(res.out, "\"functions\": ["), "%s", res.out);
    cr_expect(strstr(res.out, "\"name\": \"work\""), "%s", res.out);
    cr_expect(strstr(res.out, "\"calls\": 10"), "%s", res.out);
    cr_expect(strstr(res.out, "\"warnings\": ["), "%s", res.out);
    e2e_result_free(&res);
}

Test(cli, usage_errors_exit_1_and_version_works)
{
    struct e2e_result res;
    cr_expect_eq(run((char *const[]){CPROF, NULL}, &res), 1);
    e2e_result_free(&res);
    cr_expect_eq(run((char *const[]){CPROF, "frobnicate", NULL}, &res), 1);
    cr_expect(strstr(res.err, "unknown command 'frobnicate'"), "%s", res.err);
    e2e_result_free(&res);
    cr_expect_eq(run((char *const[]){CPROF, "record", "-o", "x", NULL}, &res), 1);
    cr_expect(strstr(res.err, "no program to run"), "%s", res.err);
    e2e_result_free(&res);
    cr_expect_eq(run((char *const[]){CPROF, "--version", NULL}, &res), 0);
    cr_expect(!strncmp(res.out, "cprof ", 6), "%s", res.out);
    e2e_result_free(&res);
    cr_expect_eq(run((char *const[]){CPROF, "help", "report", NULL}, &res), 0);
    cr_expect(strstr(res.out, "usage: cprof report"), "%s", res.out);
    e2e_result_free(&res);
}

/* Does this CPU have an invariant TSC (the runtime then uses it unless
 * told otherwise)? */
static int cpu_has_invariant_tsc(void)
{
    char *info = e2e_read_file("/proc/cpuinfo", NULL);
    int has = info && strstr(info, " nonstop_tsc") && strstr(info, " constant_tsc");
    free(info);
    return has;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* A 50 ms sleep measures at least 50 ms and no more than the whole run
 * took, whichever clock records it (a wrong tick rate would break one
 * bound or the other); the file says which clock did. */
Test(cli, both_clocks_measure_real_time)
{
    const char *clocks[] = {"tsc", "monotonic"};
    for (int i = 0; i < 2; i++) {
        struct e2e_result res;
        char out[32];
        snprintf(out, sizeof out, "clock-%s", clocks[i]);
        double start = now_ns();
        cr_assert_eq(run((char *const[]){CPROF, "record", "-o", out, "--clock",
                                         (char *)clocks[i], "--", prog, "1", "nap", NULL},
                         &res),
                     0, "%s: %s", clocks[i], res.err);
        double wall = now_ns() - start;
        e2e_result_free(&res);
        cr_assert_eq(
            run((char *const[]){CPROF, "report", out, "--format", "json", NULL}, &res),
            0);
        const char *used = i == 0 && cpu_has_invariant_tsc() ? "tsc" : "monotonic";
        char want[64];
        snprintf(want, sizeof want, "\"clock\": \"%s\"", used);
        cr_expect(strstr(res.out, want), "%s: expected %s in %s", clocks[i], want,
                  res.out);
        e2e_result_free(&res);
        cr_assert_eq(
            run((char *const[]){CPROF, "report", out, "--format", "csv", NULL}, &res), 0);
        struct e2e_csv csv;
        cr_assert_eq(e2e_csv_parse(res.out, &csv), 0);
        int name = e2e_csv_column(&csv, "name"), total = e2e_csv_column(&csv, "total_ns");
        cr_assert(name >= 0 && total >= 0);
        double nap_ns = -1;
        for (size_t r = 1; r < csv.n_rows; r++)
            if (e2e_csv_cell(&csv, r, name) &&
                !strcmp(e2e_csv_cell(&csv, r, name), "nap"))
                nap_ns = atof(e2e_csv_cell(&csv, r, total));
        cr_expect(nap_ns >= 50e6 && nap_ns <= wall,
                  "%s: a 50 ms sleep took %.0f ns, in a run of %.0f ns", clocks[i],
                  nap_ns, wall);
        e2e_csv_free(&csv);
        e2e_result_free(&res);
    }
}
