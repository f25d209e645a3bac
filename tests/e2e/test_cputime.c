/*
 * CPU time beside wall time end to end (CPROF_CPU=1): samples/cputime,
 * built with cprof-cc, sleeps in sleeper(), computes in compute() and
 * waits on a condition variable in waiter(). With CPUTIME_SELF=1 it
 * prints the CPU and wall time it measured itself around each function's
 * calls; cprof's figures must agree with those: compute()'s CPU time
 * within 5% (and 3 ms) of the program's own reading, whatever share of the
 * CPU the machine gave it, sleeper's and waiter's a few ms at most beside
 * wall times of 150 ms. Both ways of measuring are checked: rseq (the
 * thread clock read only after the thread left the CPU) and the clock
 * read at every hook (glibc's rseq turned off). Without CPROF_CPU the
 * report has no CPU columns; trace mode records none and says so; the
 * threads, fork and longjmp samples keep their exact counts with it, and
 * no function's CPU time exceeds its wall time.
 */
#define _GNU_SOURCE /* asprintf */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"
#define MS 1e6

TestSuite(cputime, .init = e2e_scratch_init, .fini = e2e_scratch_fini);

/* Builds samples/<sample>/main.c in the scratch directory as <sample>. */
static void build(const char *sample)
{
    char path[512];
    snprintf(path, sizeof path, CPROF_SOURCE_DIR "/samples/%s/main.c", sample);
    char *src = e2e_read_file(path, NULL);
    cr_assert(src, "%s", path);
    e2e_scratch_build(sample, src, (char *const[]){"-O2", NULL});
    free(src);
}

/* Runs ./prog with CPROF_DIR=data and env (NULL terminated, may be NULL)
 * and CPROF_CPU, CPROF_MODE, GLIBC_TUNABLES removed first; returns what it
 * printed on stderr (malloc'd). Fails unless it exits with status. */
static char *record_status(const char *prog, char *const env[], int status)
{
    char path[300];
    snprintf(path, sizeof path, "./%s", prog);
    char *argv[] = {path, NULL};
    char *all[8] = {"CPROF_DIR=data"};
    for (int i = 0; env && env[i]; i++)
        all[i + 1] = env[i];
    char *unset[] = {"CPROF_CPU",      "CPROF_MODE",   "CPROF_VERBOSE",
                     "GLIBC_TUNABLES", "CPUTIME_SELF", NULL};
    struct e2e_result res;
    int got = e2e_scratch_run(argv, all, unset, &res);
    cr_assert_eq(got, status, "%s (%d): %s", prog, got, res.err);
    char *err = res.err;
    res.err = NULL;
    e2e_result_free(&res);
    return err;
}

static char *record(const char *prog, char *const env[])
{
    return record_status(prog, env, 0);
}

/* `cprof report data` with more arguments (NULL terminated). */
static char *report(char *const more[])
{
    char *argv[16] = {CPROF, "report", "data"};
    int n = 3;
    for (int i = 0; more && more[i]; i++)
        argv[n++] = more[i];
    argv[n] = NULL;
    struct e2e_result res;
    cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "cprof report: %s", res.err);
    char *out = res.out;
    res.out = NULL;
    e2e_result_free(&res);
    return out;
}

static void report_csv(struct e2e_csv *csv)
{
    char *out = report((char *const[]){"--format", "csv", NULL});
    cr_assert_eq(e2e_csv_parse(out, csv), 0, "%s", out);
    free(out);
}

/* Column col of function name's row, a number; fails when absent. */
static double cell(const struct e2e_csv *csv, const char *name, const char *col)
{
    const char *v = e2e_csv_named(csv, name, col);
    cr_assert(v && *v, "no %s of %s in the report", col, name);
    return atof(v);
}

/* What the program measured itself: "self NAME cpu_ns C wall_ns W". */
static void self_time(const char *err, const char *name, double *cpu, double *wall)
{
    char key[64];
    snprintf(key, sizeof key, "self %s cpu_ns ", name);
    const char *at = strstr(err, key);
    cr_assert(at, "the program printed no %s line: %s", key, err);
    cr_assert_eq(sscanf(at + strlen(key), "%lf wall_ns %lf", cpu, wall), 2, "%s", at);
}

/* A function of samples/cputime that spends its 150 ms off the CPU: wall
 * time 150 ms at least, CPU time no more than the program measured (3 ms
 * allowed for the hooks and the clock's granularity), wait the rest. */
static void check_idle(const struct e2e_csv *csv, const char *err, const char *name,
                       const char *how)
{
    double own_cpu, own_wall;
    self_time(err, name, &own_cpu, &own_wall);
    double wall = cell(csv, name, "total_ns"), cpu = cell(csv, name, "cpu_total_ns");
    cr_expect(wall >= 150 * MS, "%s: %s wall %.0f ns", how, name, wall);
    cr_expect(cpu <= own_cpu + 3 * MS, "%s: %s CPU %.0f ns, the program measured %.0f",
              how, name, cpu, own_cpu);
    cr_expect(cell(csv, name, "wait_total_ns") >= 147 * MS, "%s: %s", how, name);
}

/* The bounds every run of samples/cputime meets. */
static void check_sample(const char *how, const char *err)
{
    struct e2e_csv csv;
    report_csv(&csv);
    double own_cpu, own_wall;
    self_time(err, "compute", &own_cpu, &own_wall);
    double cpu = cell(&csv, "compute", "cpu_total_ns");
    double wall = cell(&csv, "compute", "total_ns");
    cr_expect(cpu >= own_cpu * 0.95 - 3 * MS && cpu <= own_cpu * 1.05 + 3 * MS,
              "%s: compute CPU %.0f ns, the program measured %.0f", how, cpu, own_cpu);
    cr_expect(cpu <= wall, "%s: compute CPU %.0f above its wall time %.0f", how, cpu,
              wall);
    cr_expect_eq(cell(&csv, "compute", "wait_total_ns"), wall - cpu);
    check_idle(&csv, err, "sleeper", how);
    check_idle(&csv, err, "waiter", how);
    /* the self columns: nap_ms does the sleeping, sleeper only calls it */
    cr_expect(cell(&csv, "nap_ms", "wait_ns") >= 297 * MS, "%s", how);
    cr_expect(cell(&csv, "sleeper", "wait_ns") <= 3 * MS, "%s", how);
    cr_expect(cell(&csv, "main", "cpu_total_ns") >=
              cell(&csv, "compute", "cpu_total_ns"));
    e2e_csv_free(&csv);
}

/* The method the file's header names: its cpu_time key ("rseq" or "clock",
 * msgpack fixstrs), or "" without one. */
static const char *cpu_method(void)
{
    static char method[8];
    method[0] = 0;
    char *path = NULL;
    struct e2e_result res;
    char *ls[] = {"sh", "-c", "ls data/*.cprof | head -n 1", NULL};
    cr_assert_eq(e2e_scratch_run(ls, NULL, NULL, &res), 0);
    res.out[strcspn(res.out, "\n")] = 0;
    cr_assert(asprintf(&path, "%s/%s", e2e_scratch, res.out) > 0);
    e2e_result_free(&res);
    size_t len;
    char *data = e2e_read_file(path, &len);
    cr_assert(data, "%s", path);
    const char *key = "\xa8"
                      "cpu_time";
    for (size_t i = 0; i + 14 < len; i++) {
        if (memcmp(data + i, key, 9) == 0) {
            unsigned n = (unsigned char)data[i + 9] & 0x1f;
            if (n < sizeof method && i + 10 + n <= len) {
                memcpy(method, data + i + 10, n);
                method[n] = 0;
            }
            break;
        }
    }
    free(data);
    free(path);
    return method;
}

Test(cputime, sleep_wait_and_computation_told_apart, .timeout = 120)
{
    build("cputime");
    char *err = record("cputime", (char *const[]){"CPROF_CPU=1", "CPUTIME_SELF=1", NULL});
    const char *method = cpu_method();
    cr_expect(!strcmp(method, "rseq") || !strcmp(method, "clock"), "method '%s'", method);
    check_sample(method, err);
    free(err);
    /* the text table: its columns, and the computing function first by CPU */
    char *out = report((char *const[]){"--sort", "cpu", NULL});
    cr_expect(strstr(out, "functions by CPU time\n"), "%s", out);
    const char *head = strstr(out, "\nfunction ");
    cr_assert(head, "%s", out);
    cr_expect(strstr(head, " cpu ") && strstr(head, " wait\n"), "%s", out);
    cr_expect(!strncmp(strchr(head + 1, '\n') + 1, "compute ", 8), "%s", out);
    free(out);
}

Test(cputime, clock_at_every_hook_without_rseq, .timeout = 120)
{
    build("cputime");
    char *err =
        record("cputime", (char *const[]){"CPROF_CPU=1", "CPUTIME_SELF=1",
                                          "GLIBC_TUNABLES=glibc.pthread.rseq=0", NULL});
    cr_expect_str_eq(cpu_method(), "clock");
    check_sample("clock", err);
    free(err);
}

Test(cputime, no_columns_without_cpu_time)
{
    build("cputime");
    free(record("cputime", NULL));
    cr_expect_str_eq(cpu_method(), "");
    char *out = report(NULL);
    const char *head = strstr(out, "\nfunction ");
    cr_assert(head, "%s", out);
    cr_expect(!strstr(head, " cpu ") && !strstr(head, " wait\n"), "%s", out);
    free(out);
    out = report((char *const[]){"--format", "json", NULL});
    cr_expect(strstr(out, "\"total_ns\"") && !strstr(out, "cpu_") &&
                  !strstr(out, "wait_"),
              "%s", out);
    free(out);
}

Test(cputime, trace_mode_records_none_and_says_so)
{
    build("cputime");
    free(record("cputime", (char *const[]){"CPROF_CPU=1", "CPROF_MODE=trace", NULL}));
    struct e2e_result res;
    char *argv[] = {CPROF, "report", "data", NULL};
    cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "%s", res.err);
    cr_expect(!strstr(res.out, " cpu "), "%s", res.out);
    cr_expect(strstr(res.out, "CPROF_CPU=1 is for summary mode") ||
                  strstr(res.err, "CPROF_CPU=1 is for summary mode"),
              "%s%s", res.out, res.err);
    e2e_result_free(&res);
}

/* samples/<sample>/expected's counts against the report's. */
static void check_counts(const char *sample, const struct e2e_csv *csv)
{
    char path[512];
    snprintf(path, sizeof path, CPROF_SOURCE_DIR "/samples/%s/expected", sample);
    char *text = e2e_read_file(path, NULL);
    cr_assert(text, "%s", path);
    int n = 0;
    for (char *save, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char name[64];
        double calls;
        if (line[0] == '#' || line[0] == '!' ||
            sscanf(line, "%63s %lf", name, &calls) != 2)
            continue;
        cr_expect_eq(cell(csv, name, "calls"), calls, "%s: %s", sample, name);
        n++;
    }
    cr_expect(n > 0, "%s: no counts", sample);
    free(text);
}

/* The exit status samples/<sample>/expected gives (!exit), 0 without. */
static int expected_status(const char *sample)
{
    char path[512];
    snprintf(path, sizeof path, CPROF_SOURCE_DIR "/samples/%s/expected", sample);
    char *text = e2e_read_file(path, NULL);
    cr_assert(text, "%s", path);
    const char *at = strstr(text, "!exit ");
    int status = at ? atoi(at + 6) : 0;
    free(text);
    return status;
}

/* With CPU time on: exact counts still, CPU time in every row and never
 * above wall time (threads, fork, longjmp, exit with calls open: the
 * state kept per frame). */
static void check_with_cpu(const char *sample)
{
    build(sample);
    free(record_status(sample, (char *const[]){"CPROF_CPU=1", NULL},
                       expected_status(sample)));
    struct e2e_csv csv;
    report_csv(&csv);
    check_counts(sample, &csv);
    int name = e2e_csv_column(&csv, "name"), total = e2e_csv_column(&csv, "total_ns"),
        self = e2e_csv_column(&csv, "self_ns"),
        cpu = e2e_csv_column(&csv, "cpu_total_ns"),
        cpu_self = e2e_csv_column(&csv, "cpu_self_ns");
    cr_assert(name >= 0 && total >= 0 && self >= 0 && cpu >= 0 && cpu_self >= 0,
              "%s: columns", sample);
    for (size_t r = 1; r < csv.n_rows; r++) {
        const char *fn = e2e_csv_cell(&csv, r, name);
        double t = atof(e2e_csv_cell(&csv, r, total)),
               c = atof(e2e_csv_cell(&csv, r, cpu));
        double s = atof(e2e_csv_cell(&csv, r, self)),
               cs = atof(e2e_csv_cell(&csv, r, cpu_self));
        cr_expect(c <= t + 1000 && cs <= s + 1000 && *e2e_csv_cell(&csv, r, cpu),
                  "%s: %s CPU %.0f of %.0f, self %.0f of %.0f", sample, fn, c, t, cs, s);
    }
    e2e_csv_free(&csv);
}

Test(cputime, threads_keep_working, .timeout = 120)
{
    check_with_cpu("threads");
}

Test(cputime, fork_keeps_working, .timeout = 120)
{
    check_with_cpu("fork");
}

Test(cputime, longjmp_keeps_working, .timeout = 120)
{
    check_with_cpu("longjmp");
}

Test(cputime, exit_with_calls_open_keeps_working, .timeout = 120)
{
    check_with_cpu("exit_deep");
}

/* `cprof record --cpu` sets CPROF_CPU=1; with another mode it is refused. */
Test(cputime, cprof_record_cpu_option, .timeout = 120)
{
    build("cputime");
    char *argv[] = {CPROF, "record", "--cpu", "-o", "data", "--", "./cputime", NULL};
    char *unset[] = {"CPROF_CPU", "CPROF_MODE", "CPROF_DIR", "GLIBC_TUNABLES", NULL};
    struct e2e_result res;
    cr_assert_eq(e2e_scratch_run(argv, NULL, unset, &res), 0, "%s", res.err);
    e2e_result_free(&res);
    cr_expect(cpu_method()[0], "no cpu_time key in the file");
    char *out = report((char *const[]){"--format", "csv", NULL});
    cr_expect(strstr(out, ",cpu_self_ns,wait_ns,"), "%s", out);
    free(out);
    char *trace[] = {CPROF, "record", "--cpu", "-m",        "trace",
                     "-o",  "data2",  "--",    "./cputime", NULL};
    cr_expect_eq(e2e_scratch_run(trace, NULL, unset, &res), 1);
    cr_expect(strstr(res.err, "--cpu is for summary mode"), "%s", res.err);
    e2e_result_free(&res);
}
