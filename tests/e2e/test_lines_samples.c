/*
 * End-to-end tests of line timing over samples/lines (Criterion suite
 * `lines_sample`): hits against llvm-cov's line counts, and times against
 * a line whose callee sleeps a known time. The exact hits of every line at
 * -O0 and -O2 in each mode are checked by the samples suite
 * (samples/lines/expected-lines, tests/e2e/test_samples.c).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e_util.h"

#define SAMPLE_SRC CPROF_SOURCE_DIR "/samples/lines/main.c"
#define CPROF_CC_PATH CPROF_BINARY_DIR "/bin/cprof-cc"
#define CPROF_PATH CPROF_BINARY_DIR "/bin/cprof"
#define LINES_OPTION "--cprof-lines=sum_*,classify,count_down,wait_a_bit,worker"
#define TIMEOUT_S 120

/* The functions of the sample written one statement per line (sum_early's
 * for line holds three statements, so it is left out). */
static const char *const one_statement_funcs[] = {"sum_loop",   "classify", "count_down",
                                                  "wait_a_bit", "worker",   NULL};

/* Settings of the environment that would change what is built or
 * measured. */
static char *const run_env_unset[] = {"CPROF_DIR",   "CPROF_MODE",        "CPROF_VERBOSE",
                                      "CPROF_LINES", "LLVM_PROFILE_FILE", NULL};

/* Runs argv in dir and fails the test, with what it printed, unless it
 * exits 0. Returns its standard output (malloc'd). */
static char *run_ok(const char *dir, char *const argv[], char *const env[])
{
    struct e2e_result res;
    char status[128];
    cr_assert(e2e_run(dir, argv, env, run_env_unset, TIMEOUT_S, &res) == 0,
              "cannot start %s", argv[0]);
    cr_assert(!res.timed_out && WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0,
              "%s %s ended with %s:\n%s%s", argv[0], argv[1] ? argv[1] : "",
              e2e_status_str(&res, status, sizeof status), res.out, res.err);
    char *out = res.out;
    res.out = NULL;
    e2e_result_free(&res);
    return out;
}

/* Builds the sample with cprof-cc at level in dir, runs it in mode and
 * returns `cprof lines --format csv` of the run, parsed into csv. */
static void profile_sample(const char *dir, const char *level, const char *mode,
                           struct e2e_csv *csv)
{
    char *cc[] = {CPROF_CC_PATH, (char *)level, LINES_OPTION, "-o",
                  "prog",        SAMPLE_SRC,    "-lpthread",  NULL};
    free(run_ok(dir, cc, NULL));
    char *mode_env;
    cr_assert(asprintf(&mode_env, "CPROF_MODE=%s", mode) > 0);
    char *env[] = {"CPROF_DIR=data", mode_env, NULL};
    char *prog[] = {"./prog", NULL};
    free(run_ok(dir, prog, env));
    free(mode_env);
    char *data;
    cr_assert(asprintf(&data, "%s/data", dir) > 0);
    char *lines[] = {CPROF_PATH, "lines", "--format", "csv", data, NULL};
    char *out = run_ok(NULL, lines, NULL);
    cr_assert(e2e_csv_parse(out, csv) == 0, "cprof lines printed bad CSV:\n%s", out);
    free(out);
    free(data);
}

/* The row of csv for func's line, or 0 when there is none. */
static size_t find_row(const struct e2e_csv *csv, const char *func, unsigned line)
{
    int func_col = e2e_csv_column(csv, "function");
    int line_col = e2e_csv_column(csv, "line");
    cr_assert(func_col >= 0 && line_col >= 0, "the CSV has no function or line column");
    for (size_t r = 1; r < csv->n_rows; r++) {
        const char *f = e2e_csv_cell(csv, r, func_col);
        const char *l = e2e_csv_cell(csv, r, line_col);
        if (f && l && strcmp(f, func) == 0 && strtoul(l, NULL, 10) == line)
            return r;
    }
    return 0;
}

/* The number in the named column of row r. */
static double cell_number(const struct e2e_csv *csv, size_t r, const char *column)
{
    int col = e2e_csv_column(csv, column);
    cr_assert(col >= 0, "the CSV has no %s column", column);
    const char *cell = e2e_csv_cell(csv, r, col);
    cr_assert(cell != NULL && *cell, "row %zu has no %s", r, column);
    return strtod(cell, NULL);
}

/* llvm-cov's execution count of every line of the sample (-1: none). */
#define MAX_LINES 256
static void llvm_cov_counts(const char *dir, long long counts[MAX_LINES],
                            char text[MAX_LINES][128])
{
    char *cc[] = {"clang-14",           "-O0",       "-fprofile-instr-generate",
                  "-fcoverage-mapping", "-o",        "cov",
                  SAMPLE_SRC,           "-lpthread", NULL};
    free(run_ok(dir, cc, NULL));
    char *env[] = {"LLVM_PROFILE_FILE=cov.profraw", NULL};
    char *prog[] = {"./cov", NULL};
    free(run_ok(dir, prog, env));
    char *merge[] = {"llvm-profdata-14", "merge",       "-o",
                     "cov.profdata",     "cov.profraw", NULL};
    free(run_ok(dir, merge, NULL));
    char *show[] = {"llvm-cov-14",      "show", "./cov", "-instr-profile=cov.profdata",
                    "-use-color=false", NULL};
    char *out = run_ok(dir, show, NULL);
    for (int i = 0; i < MAX_LINES; i++) {
        counts[i] = -1;
        text[i][0] = '\0';
    }
    /* "   17|    411|    while (i < n) {"; a line without code has no count */
    for (char *line = out, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *bar1 = strchr(line, '|');
        char *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
        if (!bar2)
            continue;
        long no = strtol(line, NULL, 10);
        if (no <= 0 || no >= MAX_LINES)
            continue;
        char *end;
        long long count = strtoll(bar1 + 1, &end, 10);
        if (end != bar1 + 1 && end <= bar2)
            counts[no] = count;
        snprintf(text[no], sizeof text[no], "%s", bar2 + 1);
    }
    free(out);
}

static int is_closing_brace(const char *text)
{
    text += strspn(text, " \t");
    return text[0] == '}' && text[1 + strspn(text + 1, " \t")] == '\0';
}

/* On code written one statement per line, a line's hits are llvm-cov's
 * execution count of the line. Closing braces are left out: llvm-cov
 * gives them the count of the code region that ends there, not the times
 * control reached them. */
Test(lines_sample, hits_equal_llvm_cov, .timeout = 300)
{
    char *dir = e2e_make_temp_dir(NULL, "cprof-lines-cov");
    cr_assert(dir != NULL);
    static long long cov[MAX_LINES];
    static char text[MAX_LINES][128];
    llvm_cov_counts(dir, cov, text);
    struct e2e_csv csv;
    profile_sample(dir, "-O2", "summary", &csv);

    int func_col = e2e_csv_column(&csv, "function");
    int line_col = e2e_csv_column(&csv, "line");
    char report[8192] = "";
    size_t used = 0;
    int checked = 0, bad = 0;
    /* every line we have data for matches llvm-cov */
    for (size_t r = 1; r < csv.n_rows; r++) {
        const char *func = e2e_csv_cell(&csv, r, func_col);
        int selected = 0;
        for (size_t i = 0; one_statement_funcs[i]; i++)
            selected |= func && strcmp(func, one_statement_funcs[i]) == 0;
        long no = strtol(e2e_csv_cell(&csv, r, line_col), NULL, 10);
        if (!selected || no <= 0 || no >= MAX_LINES || is_closing_brace(text[no]))
            continue;
        long long hits = (long long)cell_number(&csv, r, "hits");
        checked++;
        if (hits != cov[no] && used < sizeof report) {
            bad++;
            used += (size_t)snprintf(report + used, sizeof report - used,
                                     "  %s:%ld hits %lld, llvm-cov %lld: %s\n", func, no,
                                     hits, cov[no], text[no]);
        }
    }
    /* and every executed statement line of those functions has data */
    int first[] = {15, 36, 51, 64, 72}, last[] = {21, 46, 53, 67, 79};
    for (size_t f = 0; f < sizeof first / sizeof *first; f++) {
        for (int no = first[f]; no <= last[f]; no++) {
            if (cov[no] <= 0 || !strchr(text[no], ';'))
                continue;
            if (!find_row(&csv, one_statement_funcs[f], (unsigned)no) &&
                used < sizeof report) {
                bad++;
                used += (size_t)snprintf(report + used, sizeof report - used,
                                         "  %s:%d no data, llvm-cov %lld: %s\n",
                                         one_statement_funcs[f], no, cov[no], text[no]);
            }
        }
    }
    cr_assert(checked >= 25, "only %d lines compared", checked);
    cr_assert(bad == 0, "%d line(s) differ from llvm-cov:\n%s", bad, report);
    e2e_csv_free(&csv);
    e2e_remove_tree(dir);
    free(dir);
}

/* wait_a_bit's line 65 calls nap(), which sleeps 30 ms: the line's time
 * includes it, its self time does not (nap is instrumented), and the
 * lines around it take next to nothing. count_down's recursive line
 * includes its callees' time. */
static void check_times(const char *mode)
{
    char *dir = e2e_make_temp_dir(NULL, "cprof-lines-time");
    cr_assert(dir != NULL);
    struct e2e_csv csv;
    profile_sample(dir, "-O2", mode, &csv);

    size_t nap_line = find_row(&csv, "wait_a_bit", 65);
    cr_assert(nap_line != 0, "%s: no data for wait_a_bit:65", mode);
    double time_ns = cell_number(&csv, nap_line, "time_ns");
    double self_ns = cell_number(&csv, nap_line, "self_ns");
    cr_expect(time_ns >= 30e6 && time_ns < 2e9,
              "%s: wait_a_bit:65 time %.0f ns, want >= 30 ms", mode, time_ns);
    cr_expect(self_ns >= 0 && self_ns < 1e6,
              "%s: wait_a_bit:65 self %.0f ns, want < 1 ms", mode, self_ns);
    unsigned quick[] = {64, 66, 67};
    for (size_t i = 0; i < sizeof quick / sizeof *quick; i++) {
        size_t r = find_row(&csv, "wait_a_bit", quick[i]);
        cr_assert(r != 0, "%s: no data for wait_a_bit:%u", mode, quick[i]);
        cr_expect(cell_number(&csv, r, "time_ns") < 1e6, "%s: wait_a_bit:%u took %.0f ns",
                  mode, quick[i], cell_number(&csv, r, "time_ns"));
    }

    size_t rec = find_row(&csv, "count_down", 53);
    cr_assert(rec != 0, "%s: no data for count_down:53", mode);
    double rec_time = cell_number(&csv, rec, "time_ns");
    double rec_self = cell_number(&csv, rec, "self_ns");
    cr_expect(rec_self > 0 && rec_time > rec_self,
              "%s: count_down:53 time %.0f ns should exceed its self %.0f ns", mode,
              rec_time, rec_self);
    /* every line: 0 <= self <= time */
    for (size_t r = 1; r < csv.n_rows; r++) {
        double t = cell_number(&csv, r, "time_ns"), s = cell_number(&csv, r, "self_ns");
        cr_expect(s >= 0 && s <= t, "%s: row %zu: self %.0f > time %.0f", mode, r, s, t);
    }
    e2e_csv_free(&csv);
    e2e_remove_tree(dir);
    free(dir);
}

Test(lines_sample, times_summary, .timeout = 300)
{
    check_times("summary");
}

Test(lines_sample, times_trace, .timeout = 300)
{
    check_times("trace");
}

/* The way the issue puts it: `make CC=cprof-cc CPROF_LINES=...` with an
 * unchanged makefile selects the functions (make hands variables set on
 * its command line to the recipes' environment). */
Test(lines_sample, make_variable, .timeout = 300)
{
    char *dir = e2e_make_temp_dir(NULL, "cprof-lines-make");
    cr_assert(dir != NULL);
    char *makefile;
    cr_assert(asprintf(&makefile, "%s/Makefile", dir) > 0);
    FILE *f = fopen(makefile, "w");
    cr_assert(f != NULL, "cannot write %s", makefile);
    fprintf(f, "prog: %s\n\t$(CC) -O2 -o prog %s -lpthread\n", SAMPLE_SRC, SAMPLE_SRC);
    fclose(f);
    char *make[] = {"make", "-s", "CC=" CPROF_CC_PATH, "CPROF_LINES=sum_loop,count_down",
                    NULL};
    free(run_ok(dir, make, NULL));
    char *env[] = {"CPROF_DIR=data", NULL};
    char *prog[] = {"./prog", NULL};
    free(run_ok(dir, prog, env));
    char *lines[] = {CPROF_PATH, "lines", "--format", "csv", "data", NULL};
    char *out = run_ok(dir, lines, NULL);
    struct e2e_csv csv;
    cr_assert(e2e_csv_parse(out, &csv) == 0, "cprof lines printed bad CSV:\n%s", out);
    int func_col = e2e_csv_column(&csv, "function");
    cr_assert(func_col >= 0, "no function column:\n%s", out);
    size_t loop_rows = 0, down_rows = 0;
    for (size_t r = 1; r < csv.n_rows; r++) {
        const char *func = e2e_csv_cell(&csv, r, func_col);
        cr_assert(func && (!strcmp(func, "sum_loop") || !strcmp(func, "count_down")),
                  "line data for %s, which CPROF_LINES did not select:\n%s", func, out);
        loop_rows += !strcmp(func, "sum_loop");
        down_rows += !strcmp(func, "count_down");
    }
    cr_assert(loop_rows == 6 && down_rows == 4,
              "sum_loop has %zu lines with data (want 6), count_down %zu (want 4):\n%s",
              loop_rows, down_rows, out);
    size_t r = find_row(&csv, "sum_loop", 17);
    cr_assert(r && cell_number(&csv, r, "hits") == 411,
              "sum_loop:17 should have 411 hits:\n%s", out);
    free(out);
    e2e_csv_free(&csv);
    free(makefile);
    e2e_remove_tree(dir);
    free(dir);
}
