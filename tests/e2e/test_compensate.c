/*
 * Overhead compensation end to end: a call-heavy program (main calls mid
 * 100000 times, mid calls leaf twice, each leaf a chain of 24 dependent
 * multiplications) built plain with clang -O2 and with cprof-cc -O2. The
 * program measures its own work loop in CPU time and wall time. In summary
 * mode, main's compensated total (total_adj_ns) must land within 15% of
 * the plain build's CPU time while the raw total is at least twice it.
 *
 * The machine is shared: main's times are wall-clock times, so each run's
 * time off the processor (the program's wall less CPU time over its loop)
 * is taken off main's totals before they are compared, and each side is
 * the best of several runs (the least disturbed), the whole retried a few
 * times. A compensation that subtracted nothing, or a whole pair for each
 * call's own time, still fails every attempt.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"
#define ITERATIONS "100000"
#define RUNS 5
#define ATTEMPTS 3

static const char work_src[] =
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "#include <time.h>\n"
    "__attribute__((noinline)) static unsigned leaf(unsigned x)\n"
    "{\n"
    "    for (int i = 0; i < 24; i++) {\n"
    "        x = x * 2654435761u + (unsigned)i;\n"
    "        __asm__ volatile(\"\" : \"+r\"(x));\n"
    "    }\n"
    "    return x;\n"
    "}\n"
    "__attribute__((noinline)) static unsigned mid(unsigned x)\n"
    "{\n"
    "    return leaf(x) ^ leaf(x + 1u);\n"
    "}\n"
    "static long long ns(clockid_t c)\n"
    "{\n"
    "    struct timespec ts;\n"
    "    clock_gettime(c, &ts);\n"
    "    return ts.tv_sec * 1000000000LL + ts.tv_nsec;\n"
    "}\n"
    "int main(int argc, char **argv)\n"
    "{\n"
    "    long n = argc > 1 ? atol(argv[1]) : 1000;\n"
    "    long long w0 = ns(CLOCK_MONOTONIC), c0 = ns(CLOCK_PROCESS_CPUTIME_ID);\n"
    "    unsigned acc = 0;\n"
    "    for (long i = 0; i < n; i++)\n"
    "        acc += mid((unsigned)i);\n"
    "    long long c1 = ns(CLOCK_PROCESS_CPUTIME_ID), w1 = ns(CLOCK_MONOTONIC);\n"
    "    printf(\"%u %lld %lld\\n\", acc, c1 - c0, w1 - w0);\n"
    "    return 0;\n"
    "}\n";

static void setup(void)
{
    e2e_scratch_init();
    e2e_scratch_build("work", work_src, (char *const[]){"-O2", NULL});
    char *cc = getenv("CPROF_CC") ? getenv("CPROF_CC") : "clang";
    struct e2e_result res;
    int status = e2e_scratch_run_plain(
        (char *const[]){cc, "-O2", "-o", "plain", "work.c", NULL}, &res);
    cr_assert_eq(status, 0, "%s cannot build the plain program: %s", cc, res.err);
    e2e_result_free(&res);
}

TestSuite(compensate, .init = setup, .fini = e2e_scratch_fini);

/* What the program says of its work loop: CPU and wall time, in ns. */
struct loop_time {
    double cpu, wall;
};

static void run_prog(const char *prog, const char *mode, const char *data,
                     struct loop_time *t)
{
    char dir_env[300], mode_env[64];
    snprintf(dir_env, sizeof dir_env, "CPROF_DIR=%s", data);
    snprintf(mode_env, sizeof mode_env, "CPROF_MODE=%s", mode);
    struct e2e_result res;
    int status = e2e_scratch_run((char *const[]){(char *)prog, ITERATIONS, NULL},
                                 (char *const[]){dir_env, mode_env, NULL},
                                 (char *const[]){"CPROF_VERBOSE", NULL}, &res);
    cr_assert_eq(status, 0, "%s: %s", prog, res.err);
    unsigned acc;
    long long cpu, wall;
    cr_assert_eq(sscanf(res.out, "%u %lld %lld", &acc, &cpu, &wall), 3, "%s printed %s",
                 prog, res.out);
    t->cpu = (double)cpu;
    t->wall = (double)wall;
    e2e_result_free(&res);
}

/* `cprof report DATA --format csv` (extra: one more option, or NULL). */
static char *report_csv(const char *data, const char *extra)
{
    struct e2e_result res;
    int status =
        e2e_scratch_run_plain((char *const[]){CPROF, "report", (char *)data, "--format",
                                              "csv", (char *)extra, NULL},
                              &res);
    cr_assert_eq(status, 0, "cprof report %s: %s", data, res.err);
    char *out = res.out;
    res.out = NULL;
    e2e_result_free(&res);
    return out;
}

static double cell_num(const struct e2e_csv *csv, const char *name, const char *col)
{
    const char *cell = e2e_csv_named(csv, name, col);
    cr_assert(cell && *cell, "no %s of %s in the report", col, name);
    return atof(cell);
}

/* One recorded run in mode: main's raw and compensated totals less the
 * time the program was off the processor; checks the exact counts (the
 * start-up measurement leaves nothing in the data). */
static void record_once(const char *mode, double *raw, double *adj)
{
    static int runs; /* a directory of its own for each run */
    char data[64];
    snprintf(data, sizeof data, "data-%s-%d", mode, runs++);
    struct loop_time t;
    run_prog("./work", mode, data, &t);
    char *text = report_csv(data, NULL);
    struct e2e_csv csv;
    cr_assert_eq(e2e_csv_parse(text, &csv), 0);
    cr_expect_eq(e2e_report_calls(text, "main"), 1);
    cr_expect_eq(e2e_report_calls(text, "mid"), atoll(ITERATIONS));
    cr_expect_eq(e2e_report_calls(text, "leaf"), 2 * atoll(ITERATIONS));
    double off_cpu = t.wall > t.cpu ? t.wall - t.cpu : 0;
    *raw = cell_num(&csv, "main", "total_ns") - off_cpu;
    *adj = cell_num(&csv, "main", "total_adj_ns") - off_cpu;
    cr_expect_leq(cell_num(&csv, "leaf", "self_adj_ns"),
                  cell_num(&csv, "leaf", "self_ns"));
    cr_expect_eq(
        cell_num(&csv, "main", "total_adj_ns") <= cell_num(&csv, "main", "total_ns"), 1);
    e2e_csv_free(&csv);
    free(text);
}

static double least(double a, double b)
{
    return a < b ? a : b;
}

static double distance(double a, double b)
{
    return a > b ? a - b : b - a;
}

/* Best of RUNS: the plain program's loop CPU time, and main's raw total
 * in mode with the compensated total of that same run (the run least
 * disturbed; the least compensated total of all runs would favour a run
 * whose start-up measurement came out high). */
static void measure(const char *mode, double *plain, double *raw, double *adj)
{
    *plain = *raw = *adj = 1e300;
    for (int i = 0; i < RUNS; i++) {
        struct loop_time t;
        run_prog("./plain", mode, "data-plain", &t);
        *plain = least(*plain, t.cpu);
        double r, a;
        record_once(mode, &r, &a);
        if (r < *raw) {
            *raw = r;
            *adj = a;
        }
    }
}

Test(compensate, summary_main_matches_plain_run, .timeout = 240)
{
    double plain = 0, raw = 0, adj = 0;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        measure("summary", &plain, &raw, &adj);
        if (distance(adj, plain) <= 0.15 * plain && raw >= 2 * plain)
            break;
    }
    cr_expect_geq(raw, 2 * plain, "raw main %.3f ms is not several times plain %.3f ms",
                  raw / 1e6, plain / 1e6);
    cr_expect_leq(distance(adj, plain), 0.15 * plain,
                  "compensated main %.3f ms is not within 15%% of plain %.3f ms "
                  "(raw %.3f ms)",
                  adj / 1e6, plain / 1e6, raw / 1e6);
}

/* Trace mode's hooks cost more, and out-of-order execution hides more of
 * that cost behind a latency-bound body like leaf's than the start-up
 * measurement (empty bodies) sees: compensation may over-subtract there
 * (docs/PERFORMANCE.md). It must still move main's total most of the way
 * from raw towards the plain run. */
Test(compensate, trace_moves_towards_plain_run, .timeout = 240)
{
    double plain = 0, raw = 0, adj = 0;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        measure("trace", &plain, &raw, &adj);
        if (distance(adj, plain) <= 0.5 * distance(raw, plain))
            break;
    }
    cr_expect_leq(distance(adj, plain), 0.5 * distance(raw, plain),
                  "compensated main %.3f ms is not much closer than raw %.3f ms to plain "
                  "%.3f ms",
                  adj / 1e6, raw / 1e6, plain / 1e6);
}

/* Count mode measures no time: the compensated columns are empty, and
 * --compensate says there is nothing to subtract. */
Test(compensate, count_mode_has_no_probe_cost)
{
    struct loop_time t;
    run_prog("./work", "count", "data-count", &t);
    char *text = report_csv("data-count", "--compensate");
    struct e2e_csv csv;
    cr_assert_eq(e2e_csv_parse(text, &csv), 0);
    const char *cell = e2e_csv_named(&csv, "leaf", "self_adj_ns");
    cr_expect(cell && !*cell, "count mode has a compensated time: %s", text);
    cr_expect_eq(e2e_report_calls(text, "leaf"), 2 * atoll(ITERATIONS));
    e2e_csv_free(&csv);
    free(text);
}

/* The text table shows the compensated columns and what was subtracted
 * only when asked. */
Test(compensate, text_table_on_request)
{
    struct loop_time t;
    run_prog("./work", "summary", "data", &t);
    struct e2e_result res;
    cr_assert_eq(
        e2e_scratch_run_plain((char *const[]){CPROF, "report", "data", NULL}, &res), 0,
        "%s", res.err);
    cr_expect(!strstr(res.out, "self adj"), "%s", res.out);
    e2e_result_free(&res);
    cr_assert_eq(
        e2e_scratch_run_plain(
            (char *const[]){CPROF, "report", "data", "--compensate", NULL}, &res),
        0, "%s", res.err);
    cr_expect(strstr(res.out, "self adj") && strstr(res.out, "total adj"), "%s", res.out);
    cr_expect(strstr(res.out, "probe cost subtracted: "), "%s", res.out);
    cr_expect(strstr(res.out, "functions by self time, probe cost subtracted"), "%s",
              res.out);
    e2e_result_free(&res);
}
