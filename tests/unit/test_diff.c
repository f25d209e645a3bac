/*
 * `cprof diff` on hand-written runs: functions matched across runs by
 * identity (not by address or path), counts compared exactly with functions
 * of one side at 0 on the other, each side's per-call mean and spread read
 * from node histograms, the noise rule on synthetic spreads (within the
 * standard error, under the relative floor, too few calls, the slowest
 * calls left out), count-mode data, the JSON and CSV keys, the text's
 * sections and the exit statuses of the CI options.
 *
 * Files have a 1 GHz clock, so ticks are nanoseconds. Functions are in a
 * module that does not exist: their names are "prog+0x<offset>".
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "cprof_format.h"
#include "diff.h"
#include "model.h"
#include "profile.h"
#include "stream.h"
#include "sym.h"

#define MAIN 0x1100
#define F 0x1200
#define G 0x1300
#define H 0x1400

struct side {
    struct model model;
    struct sym_cache *syms;
    struct profile prof;
};

static struct side side_a, side_b;
static struct diff result;
/* the command tests' temp files and output, released by teardown */
static char *paths[4], *out, *err;
static size_t npaths;
static const struct diff_noise rule = {DIFF_NOISE_SE, DIFF_NOISE_PCT,
                                       DIFF_NOISE_MIN_CALLS};

static void setup(void)
{
    memset(&side_a, 0, sizeof side_a);
    memset(&side_b, 0, sizeof side_b);
    memset(&result, 0, sizeof result);
    npaths = 0;
    out = err = NULL;
    model_init(&side_a.model);
    model_init(&side_b.model);
}

static void teardown(void)
{
    for (size_t i = 0; i < npaths; i++) {
        unlink(paths[i]);
        free(paths[i]);
    }
    free(out);
    free(err);
    diff_free(&result);
    struct side *sides[] = {&side_a, &side_b};
    for (int i = 0; i < 2; i++) {
        profile_free(&sides[i]->prof);
        if (sides[i]->syms)
            sym_cache_free(sides[i]->syms);
        model_free(&sides[i]->model);
    }
}

TestSuite(diff, .init = setup, .fini = teardown);

/* Starts a summary (or count) file of process pid with its module at path. */
static void begin(struct tstream *s, const char *mode, uint64_t pid, const char *path)
{
    ts_begin(s, mode, pid);
    ts_module(s, 0, 0x1000, 0x2000, path);
    ts_thread(s, 1, pid);
}

static void finish(struct tstream *s)
{
    ts_thread_end(s, 1, "");
    ts_end(s, 1e9, 10000000);
}

static void load(struct side *side, struct tstream *s)
{
    ts_load(&side->model, s, "p.cprof");
}

/* Profiles both sides and compares them under noise. */
static void compare(const struct diff_noise *noise)
{
    struct side *sides[] = {&side_a, &side_b};
    for (int i = 0; i < 2; i++) {
        sides[i]->syms = sym_cache_new();
        profile_build(&sides[i]->model, sides[i]->syms, &sides[i]->prof);
    }
    diff_build(&side_a.model, &side_a.prof, &side_b.model, &side_b.prof, noise, &result);
}

static const struct diff_row *row(const char *name)
{
    for (size_t i = 0; i < result.nrows; i++)
        if (!strcmp(result.rows[i].name, name))
            return &result.rows[i];
    cr_assert_fail("no row %s", name);
    return NULL;
}

/* A run: main calls f calls_f times (each f_ns), g once, and h when h_calls. */
static void write_run(struct tstream *s, uint64_t pid, const char *path, uint64_t calls_f,
                      uint64_t f_ns, uint64_t h_calls)
{
    begin(s, "summary", pid, path);
    uint64_t total = calls_f * f_ns + 500 + h_calls * 100;
    ts_node(s, 1, 1, 0, MAIN, 1, total + 1000, total + 1000, total + 1000, 1);
    ts_node(s, 1, 2, 1, F, calls_f, calls_f * f_ns, f_ns, f_ns, calls_f);
    ts_node(s, 1, 3, 1, G, 1, 500, 500, 500, 1);
    if (h_calls)
        ts_node(s, 1, 4, 1, H, h_calls, h_calls * 100, 100, 100, h_calls);
    finish(s);
}

static void run(struct side *side, uint64_t pid, const char *path, uint64_t calls_f,
                uint64_t f_ns, uint64_t h_calls)
{
    struct tstream s;
    write_run(&s, pid, path, calls_f, f_ns, h_calls);
    load(side, &s);
}

Test(diff, functions_match_by_name_and_file_not_address_or_path)
{
    /* the same program at two paths; h only in A */
    run(&side_a, 10, "/build-a/prog", 40, 1000, 3);
    run(&side_b, 20, "/build-b/prog", 40, 1000, 0);
    compare(&rule);
    cr_expect_eq(result.nrows, 4, "main, f, g, h: %zu rows", result.nrows);
    const struct diff_row *f = row("prog+0x1200");
    cr_expect_eq(f->a.calls, 40);
    cr_expect_eq(f->b.calls, 40);
    cr_expect(f->a.row && f->b.row);
    const struct diff_row *h = row("prog+0x1400");
    cr_expect_eq(h->a.calls, 3);
    cr_expect_eq(h->b.calls, 0, "a function of one side has 0 calls on the other");
    cr_expect_null(h->b.row);
    cr_expect_eq(h->change, DIFF_ONLY_A);
    cr_expect_eq(result.only_a, 1);
    cr_expect_eq(result.only_b, 0);
    cr_expect_eq(result.count_changed, 1);
}

Test(diff, rows_of_one_side_with_one_identity_are_summed)
{
    /* A holds two processes of the program, at two paths */
    run(&side_a, 10, "/x/prog", 40, 1000, 0);
    run(&side_a, 11, "/y/prog", 60, 1000, 0);
    run(&side_b, 20, "/z/prog", 100, 1000, 0);
    compare(&rule);
    const struct diff_row *f = row("prog+0x1200");
    cr_expect_eq(f->a.calls, 100);
    cr_expect_eq(f->b.calls, 100);
    cr_expect_float_eq(f->a.total_ns, 100000, 1e-6);
    cr_expect_eq(f->a.timed_calls, 100);
    cr_expect_eq(result.count_changed, 2, "main and g ran in both processes of A");
    cr_expect_eq(f->change, DIFF_NOISE);
}

Test(diff, count_changes_are_exact_and_sort_first)
{
    run(&side_a, 10, "/a/prog", 40, 1000, 0);
    run(&side_b, 20, "/a/prog", 45, 1000, 7);
    compare(&rule);
    cr_expect_eq(result.count_changed, 2, "f and h");
    cr_expect_eq(result.only_b, 1);
    cr_expect_eq(result.calls_a, 42);
    cr_expect_eq(result.calls_b, 54);
    diff_sort(&result, DIFF_BY_COUNT);
    cr_expect_str_eq(result.rows[0].name, "prog+0x1400", "h: +7 before f: +5");
    cr_expect_str_eq(result.rows[1].name, "prog+0x1200");
    cr_expect_eq(result.rows[1].b.calls - result.rows[1].a.calls, 5);
    cr_expect_eq(result.rows[0].change, DIFF_ONLY_B);
    /* the same counts: main and g, by their change in total time */
    cr_expect_eq(result.rows[2].a.calls, result.rows[2].b.calls);
    cr_expect_eq(result.rows[3].a.calls, result.rows[3].b.calls);
    diff_sort(&result, DIFF_BY_TIME);
    cr_expect_str_eq(result.rows[0].name, "prog+0x1100", "main changed most in time");
}

/* A side of f alone: two call paths (nodes), n calls each, all taking
 * ns1 and ns2 nanoseconds. */
static void two_paths(struct side *side, uint64_t n, uint64_t ns1, uint64_t ns2)
{
    struct tstream s;
    begin(&s, "summary", 10, "/a/prog");
    ts_node(&s, 1, 1, 0, MAIN, 1, 1000000, 1000000, 1000000, 1);
    ts_node(&s, 1, 2, 1, F, n, n * ns1, ns1, ns1, n);
    ts_node(&s, 1, 3, 1, G, 1, 1000, 1000, 1000, 1);
    ts_node(&s, 1, 4, 3, F, n, n * ns2, ns2, ns2, n);
    finish(&s);
    load(side, &s);
}

Test(diff, mean_and_spread_per_call_over_call_paths)
{
    two_paths(&side_a, 45, 1000, 2000);
    two_paths(&side_b, 45, 1000, 1000);
    compare(&rule);
    const struct diff_row *f = row("prog+0x1200");
    cr_expect_eq(f->a.timed_calls, 90);
    cr_expect_float_eq(f->a.mean_ns, 1500, 1e-6);
    cr_expect_float_eq(f->a.sd_ns, 500, 1e-6, "the spread between call paths");
    cr_expect_float_eq(f->b.mean_ns, 1000, 1e-6);
    cr_expect_float_eq(f->b.sd_ns, 0, 1e-6, "every call took the same time");
    cr_expect_eq(f->change, DIFF_IMPROVEMENT);
}

/* A side of f alone: 90 calls spread evenly over the buckets of 800,
 * 1000 and 1200 ns, with mean_ns their exact mean. */
static void spread(struct side *side, uint64_t mean_ns)
{
    struct tstream s;
    begin(&s, "summary", 10, "/a/prog");
    ts_node(&s, 1, 1, 0, MAIN, 1, 1000000, 1000000, 1000000, 1);
    const uint64_t hist[] = {cprof_hist_bucket(800, 2),  30,
                             cprof_hist_bucket(1000, 2), 30,
                             cprof_hist_bucket(1200, 2), 30};
    ts_node_hist(&s, 1, 2, 1, F, 90, 90 * mean_ns, 780, 1250, hist, 3);
    finish(&s);
    load(side, &s);
}

Test(diff, a_change_within_the_standard_error_is_noise)
{
    spread(&side_a, 1000);
    spread(&side_b, 1030);
    const struct diff_noise se_only = {3, 0, 5};
    compare(&se_only);
    const struct diff_row *f = row("prog+0x1200");
    cr_expect_float_eq(f->a.mean_ns, 1000, 1e-6);
    cr_expect_float_eq(f->b.mean_ns, 1030, 1e-6);
    /* buckets [768, 896), [896, 1024), [1024, 1280) clamped to 780..1250 */
    cr_expect_float_eq(f->a.sd_ns, 133.36, 0.01, "sd %g", f->a.sd_ns);
    double se = sqrt(2 * f->a.sd_ns * f->a.sd_ns / 90);
    cr_expect(30 < 3 * se, "30 ns is within 3 standard errors (%g)", se);
    cr_expect_eq(f->change, DIFF_NOISE);
}

Test(diff, a_change_beyond_the_standard_error_and_floor_is_a_regression)
{
    spread(&side_a, 1000);
    spread(&side_b, 1200);
    compare(&rule);
    cr_expect_eq(row("prog+0x1200")->change, DIFF_REGRESSION);
    cr_expect_eq(result.changes[DIFF_REGRESSION], 1);
}

Test(diff, a_change_under_the_relative_floor_is_noise)
{
    two_paths(&side_a, 45, 1000, 1000);
    two_paths(&side_b, 45, 1050, 1050);
    /* no spread at all: any change is beyond the standard error */
    const struct diff_noise floor = {3, 10, 5}, no_floor = {3, 0, 5};
    cr_expect_eq(
        diff_judge(
            &(struct diff_side){.row = (void *)1, .timed_calls = 90, .mean_ns = 1000},
            &(struct diff_side){.row = (void *)1, .timed_calls = 90, .mean_ns = 1050}, 1,
            &floor),
        DIFF_NOISE);
    compare(&no_floor);
    cr_expect_eq(row("prog+0x1200")->change, DIFF_REGRESSION);
}

Test(diff, too_few_calls_are_unknown)
{
    run(&side_a, 10, "/a/prog", 4, 1000, 0);
    run(&side_b, 20, "/a/prog", 4, 5000, 0);
    compare(&rule);
    cr_expect_eq(row("prog+0x1200")->change, DIFF_UNKNOWN, "4 calls a side");
    cr_expect_eq(row("prog+0x1100")->change, DIFF_UNKNOWN, "one call has no spread");
    const struct diff_noise one = {3, 10, 1};
    cr_expect_eq(diff_judge(&row("prog+0x1200")->a, &row("prog+0x1200")->b, 1, &one),
                 DIFF_REGRESSION);
    cr_expect_str_eq(diff_change_name(DIFF_UNKNOWN), "unknown");
    cr_expect_null(diff_change_name(DIFF_UNTIMED));
}

/* f: 1000 calls of 1000 ns, but the slowest n took 1 ms each. */
static void outliers(struct side *side, uint64_t n)
{
    struct tstream s;
    begin(&s, "summary", 10, "/a/prog");
    ts_node(&s, 1, 1, 0, MAIN, 1, 100000000, 100000000, 100000000, 1);
    const uint64_t hist[] = {cprof_hist_bucket(1000, 2), 1000 - n,
                             cprof_hist_bucket(1000000, 2), n};
    ts_node_hist(&s, 1, 2, 1, F, 1000, (1000 - n) * 1000 + n * 1000000, 1000,
                 n ? 1000000 : 1000, hist, n ? 2 : 1);
    finish(&s);
    load(side, &s);
}

Test(diff, the_slowest_calls_are_left_out_of_the_judgement)
{
    outliers(&side_a, 0);
    outliers(&side_b, 3); /* three interrupts: 3 ms more in all */
    compare(&rule);
    const struct diff_row *f = row("prog+0x1200");
    cr_expect_float_eq(f->b.total_ns - f->a.total_ns, 3 * 999000, 1e-6);
    cr_expect_eq(f->b.timed_calls, 990, "1%% left out");
    /* the rest read from the histogram: within their bucket, [1000, 1024) */
    cr_expect(f->b.mean_ns >= 1000 && f->b.mean_ns < 1024, "%g", f->b.mean_ns);
    cr_expect_float_eq(f->a.mean_ns, 1000, 1e-6, "%g", f->a.mean_ns);
    cr_expect_eq(f->change, DIFF_NOISE);
}

Test(diff, count_mode_compares_counts_only)
{
    struct tstream s;
    begin(&s, "count", 10, "/a/prog");
    ts_node(&s, 1, 1, 0, MAIN, 1, 0, 0, 0, 0);
    ts_node(&s, 1, 2, 1, F, 7, 0, 0, 0, 0);
    finish(&s);
    load(&side_a, &s);
    run(&side_b, 20, "/a/prog", 9, 1000, 0);
    compare(&rule);
    cr_expect_not(result.timed);
    cr_expect_eq(row("prog+0x1200")->change, DIFF_UNTIMED);
    cr_expect_eq(row("prog+0x1200")->a.calls, 7);
    cr_expect_eq(result.changes[DIFF_REGRESSION], 0);
}

/* Writes a run to a temp file (removed by teardown). */
static char *run_file(uint64_t pid, uint64_t calls_f, uint64_t f_ns, uint64_t h_calls)
{
    struct tstream s;
    write_run(&s, pid, "/a/prog", calls_f, f_ns, h_calls);
    cr_assert_lt(npaths, 4);
    return paths[npaths++] = ts_write_temp(&s, "diff");
}

/* Runs cmd_diff with argv, its output in out and err. */
static int diff_cmd(char **argv)
{
    free(out);
    free(err);
    return ts_run_cmd(cmd_diff, argv, &out, &err);
}

Test(diff, json_has_the_documented_keys)
{
    char *a = run_file(10, 40, 1000, 0), *b = run_file(20, 45, 2000, 2);
    int st = diff_cmd((char *[]){"diff", a, b, "--format", "json", NULL});
    cr_expect_eq(st, 0, "%s", err);
    cr_expect(strstr(out, "\"run_a\": {\"timed\": true, \"processes\": ["), "%s", out);
    cr_expect(strstr(out, "\"run_b\": {"), "%s", out);
    cr_expect(strstr(out, "{\"name\": \"prog+0x1200\", \"file\": \"\", \"line\": null, "
                          "\"calls_a\": 40, \"calls_b\": 45, \"calls_delta\": 5, "
                          "\"count_changed\": true, \"total_ns_a\": 40000, "
                          "\"total_ns_b\": 90000, \"total_ns_delta\": 50000, "
                          "\"total_change_pct\": 125.00, \"self_ns_a\": 40000, "
                          "\"self_ns_b\": 90000, \"self_ns_delta\": 50000, "
                          "\"self_change_pct\": 125.00, \"call_mean_ns_a\": 1000, "
                          "\"call_mean_ns_b\": 2000, \"call_change_pct\": 100.00, "
                          "\"call_sd_ns_a\": 0, \"call_sd_ns_b\": 0, "
                          "\"time_change\": \"regression\"}"),
              "%s", out);
    cr_expect(strstr(out, "{\"name\": \"prog+0x1400\", \"file\": \"\", \"line\": null, "
                          "\"calls_a\": 0, \"calls_b\": 2, "),
              "%s", out);
    cr_expect(strstr(out, "\"call_mean_ns_a\": null, \"call_mean_ns_b\": 100, "
                          "\"call_change_pct\": null, \"call_sd_ns_a\": null, "
                          "\"call_sd_ns_b\": 0, \"time_change\": \"only_b\"}"),
              "%s", out);
    cr_expect(strstr(out, "\"warnings\": ["), "%s", out);
}

Test(diff, csv_header_and_count_changes_first)
{
    char *a = run_file(10, 40, 1000, 0), *b = run_file(20, 40, 1000, 2);
    int st = diff_cmd((char *[]){"diff", "-f", "csv", a, b, NULL});
    cr_expect_eq(st, 0, "%s", err);
    const char *header =
        "name,file,line,calls_a,calls_b,calls_delta,count_changed,total_ns_a,"
        "total_ns_b,total_ns_delta,total_change_pct,self_ns_a,self_ns_b,self_ns_delta,"
        "self_change_pct,call_mean_ns_a,call_mean_ns_b,call_change_pct,call_sd_ns_a,"
        "call_sd_ns_b,time_change\n";
    cr_expect(!strncmp(out, header, strlen(header)), "%s", out);
    cr_expect(!strncmp(out + strlen(header), "prog+0x1400,,,0,2,2,true,0,200,200,,", 36),
              "%s", out);
    cr_expect(strstr(out, "\nprog+0x1200,,,40,40,0,false,40000,40000,0,0.00,"), "%s",
              out);
}

Test(diff, text_shows_counts_then_time)
{
    char *a = run_file(10, 40, 1000, 0), *b = run_file(20, 45, 1000, 0);
    int st = diff_cmd((char *[]){"diff", a, b, NULL});
    cr_expect_eq(st, 0, "%s", err);
    const char *counts = strstr(out, "\ncall counts that changed\n");
    const char *time = strstr(out, "\ntime, largest change in total time first\n");
    cr_assert(counts && time && counts < time, "%s", out);
    cr_expect(strstr(out, "call counts: 1 of 3 functions changed (0 only in A, 0 only "
                          "in B), 2 the same\n"),
              "%s", out);
    cr_expect(strstr(counts, "prog+0x1200  /a/prog         40       45       +5\n"), "%s",
              out);
    cr_expect(strstr(time, "+5.00 µs  +12.5%"), "%s", out);
    cr_expect(!strncmp(out, "A: ", 3), "%s", out);
    cr_expect(strstr(out, "\nB: "), "%s", out);
}

Test(diff, exit_statuses_for_ci)
{
    char *a = run_file(10, 40, 1000, 0), *same = run_file(20, 40, 1000, 0),
         *more = run_file(30, 41, 1000, 0), *slow = run_file(40, 40, 3000, 0);
    struct {
        char *b, *opt;
        int status;
    } cases[] = {
        {same, "--fail-on-count-change", 0}, {more, "--fail-on-count-change", 3},
        {more, "--fail-on-regression", 0},   {slow, "--fail-on-regression", 3},
        {slow, "--fail-on-count-change", 0}, {slow, "--noise-pct=0", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = diff_cmd((char *[]){"diff", cases[i].opt, a, cases[i].b, NULL});
        cr_expect_eq(st, cases[i].status, "case %zu: %d; %s", i, st, err);
    }
    cr_expect_eq(diff_cmd((char *[]){"diff", a, "/nonexistent/b.cprof", NULL}), 2);
    cr_expect(strstr(err, "/nonexistent/b.cprof"), "%s", err);
    cr_expect_eq(diff_cmd((char *[]){"diff", a, NULL}), 1);
    cr_expect(strstr(err, "two data paths"), "%s", err);
    cr_expect_eq(diff_cmd((char *[]){"diff", "--noise-se", "x", a, a, NULL}), 1);
}
