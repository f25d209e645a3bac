/*
 * `cprof diff` end to end: one source built twice with cprof-cc, the second
 * time with one loop count raised and one more function (-D), each binary
 * run and recorded; the diff must give the exact count deltas, the same
 * counts for the functions the change did not touch, 0 calls on the side a
 * function did not run, counts only for count-mode data, and the CI exit
 * status of --fail-on-count-change.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"

static const char diff_src[] =
    "#ifndef N\n"
    "#define N 100\n"
    "#endif\n"
    "volatile long sink;\n"
    "__attribute__((noinline)) void leaf(int i) { sink += i; }\n"
    "__attribute__((noinline)) void loop(int n) { for (int i = 0; i < n; i++) leaf(i); "
    "}\n"
    "__attribute__((noinline)) void fixed(void) { sink++; }\n"
    "#ifdef EXTRA\n"
    "__attribute__((noinline)) void extra(void) { sink--; }\n"
    "#endif\n"
    "int main(void) {\n"
    "    loop(N);\n"
    "    for (int i = 0; i < 10; i++) fixed();\n"
    "#ifdef EXTRA\n"
    "    extra();\n"
    "#endif\n"
    "    return 0; }\n";

/* Builds prog.c as old (N 100) and as new (N 150, with extra). */
static void diff_setup(void)
{
    e2e_scratch_init();
    e2e_scratch_put("prog.c", diff_src);
    char *const builds[][8] = {
        {CPROF_BINARY_DIR "/bin/cprof-cc", "-O0", "-g", "-o", "old", "prog.c", NULL},
        {CPROF_BINARY_DIR "/bin/cprof-cc", "-O0", "-g", "-DN=150", "-DEXTRA", "-o", "new",
         "prog.c"},
    };
    for (int i = 0; i < 2; i++) {
        char *argv[9] = {0};
        memcpy(argv, builds[i], sizeof builds[i]);
        struct e2e_result res;
        cr_assert_eq(e2e_scratch_run(argv, NULL, NULL, &res), 0, "cannot build: %s",
                     res.err);
        e2e_result_free(&res);
    }
}

TestSuite(diff_cli, .init = diff_setup, .fini = e2e_scratch_fini);

/* Runs `cprof diff A B [opt]`; returns its status, its stdout in *out. */
static int diff(const char *a, const char *b, const char *opt, const char *opt2,
                char **out)
{
    char *argv[] = {CPROF, "diff", (char *)a, (char *)b, (char *)opt, (char *)opt2, NULL};
    struct e2e_result res;
    int status = e2e_scratch_run_plain(argv, &res);
    cr_assert(status == 0 || status == 3, "cprof diff %s %s: %d: %s", a, b, status,
              res.err);
    *out = res.out;
    res.out = NULL;
    e2e_result_free(&res);
    return status;
}

static const char *cell(const struct e2e_csv *csv, const char *name, const char *column)
{
    cr_assert(e2e_csv_column(csv, column) >= 0, "no %s column", column);
    return e2e_csv_named(csv, name, column);
}

/* Exact calls on either side and whether they changed. */
static const struct {
    const char *name, *calls_a, *calls_b, *delta, *changed;
} expected[] = {
    {"leaf", "100", "150", "50", "true"}, {"extra", "0", "1", "1", "true"},
    {"loop", "1", "1", "0", "false"},     {"fixed", "10", "10", "0", "false"},
    {"main", "1", "1", "0", "false"},
};

static void check_counts(const char *mode)
{
    e2e_scratch_record("old", mode, "a");
    e2e_scratch_record("new", mode, "b");
    char *out;
    cr_expect_eq(diff("a", "b", "--format", "csv", &out), 0);
    struct e2e_csv csv;
    cr_assert_eq(e2e_csv_parse(out, &csv), 0, "%s", out);
    cr_expect_eq(csv.n_rows, 6, "%s: five functions: %s", mode, out);
    static const char *const columns[] = {"calls_a", "calls_b", "calls_delta",
                                          "count_changed"};
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) {
        const char *want[] = {expected[i].calls_a, expected[i].calls_b, expected[i].delta,
                              expected[i].changed};
        for (size_t c = 0; c < 4; c++) {
            const char *got = cell(&csv, expected[i].name, columns[c]);
            cr_expect(got && !strcmp(got, want[c]), "%s: %s %s is %s, not %s", mode,
                      expected[i].name, columns[c], got ? got : "(no row)", want[c]);
        }
    }
    /* count changes first, the largest first */
    int name = e2e_csv_column(&csv, "name");
    cr_expect_str_eq(e2e_csv_cell(&csv, 1, name), "leaf");
    cr_expect_str_eq(e2e_csv_cell(&csv, 2, name), "extra");
    const char *change = cell(&csv, "extra", "time_change");
    cr_expect_str_eq(change, strcmp(mode, "count") ? "only_b" : "", "%s", mode);
    if (!strcmp(mode, "count"))
        cr_expect_str_eq(cell(&csv, "leaf", "total_ns_a"), "", "count mode: no times");
    else
        cr_expect(atoll(cell(&csv, "leaf", "total_ns_b")) > 0);
    e2e_csv_free(&csv);
    free(out);
}

Test(diff_cli, exact_count_deltas_in_summary_mode)
{
    check_counts("summary");
}

Test(diff_cli, exact_count_deltas_in_trace_mode)
{
    check_counts("trace");
}

Test(diff_cli, count_mode_gives_counts_only)
{
    check_counts("count");
}

Test(diff_cli, text_and_exit_status_for_ci)
{
    e2e_scratch_record("old", "summary", "a");
    e2e_scratch_record("old", "summary", "a2");
    e2e_scratch_record("new", "summary", "b");
    char *out;
    cr_expect_eq(diff("a", "b", "--fail-on-count-change", NULL, &out), 3);
    const char *counts = strstr(out, "\ncall counts that changed\n");
    const char *time = strstr(out, "\ntime, largest change in total time first\n");
    cr_assert(counts && time && counts < time, "%s", out);
    cr_expect(strstr(out, "call counts: 2 of 5 functions changed (0 only in A, 1 only in "
                          "B), 3 the same\n"),
              "%s", out);
    cr_expect(strstr(counts, "leaf "), "%s", out);
    cr_expect(strstr(counts, "+50\n"), "%s", out);
    cr_expect(!strstr(counts, "fixed ") || strstr(counts, "fixed ") > time, "%s", out);
    free(out);
    /* two runs of one binary: the same counts */
    cr_expect_eq(diff("a", "a2", "--fail-on-count-change", NULL, &out), 0);
    cr_expect(strstr(out, "call counts: 0 of 4 functions changed"), "%s", out);
    free(out);
}
