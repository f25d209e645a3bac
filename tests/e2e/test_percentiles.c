/*
 * Latency percentiles end to end: samples/latency (request() called 100
 * times, 90 calls waiting about 1 ms and 10 about 10 ms) built with
 * cprof-cc and run in summary, trace and count modes. The percentiles of
 * `cprof report` must match the known distribution within the histogram's
 * stated error (0.8%) and what sleeping costs on a loaded machine (sleeps
 * only ever last longer: the bounds below hold however late a wake-up
 * comes, unless most 1 ms sleeps took over 5 ms); in trace mode they are
 * exact, so the highest ranks equal the slowest call exactly. A run in
 * which some 1 ms sleep outlasted a 10 ms one (a machine so loaded that
 * the distribution is not the known one) is recorded again, up to three
 * times. Count mode has none. A runtime with too little memory for its histograms
 * (CPROF_HIST_MEMORY) says so in every report.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"
#define MS 1e6

static void setup(void)
{
    e2e_scratch_init();
    char *src = e2e_read_file(CPROF_SOURCE_DIR "/samples/latency/main.c", NULL);
    cr_assert(src, "samples/latency/main.c");
    e2e_scratch_build("latency", src, (char *const[]){"-O2", NULL});
    free(src);
}

TestSuite(percentiles, .init = setup, .fini = e2e_scratch_fini);

/* `cprof report DATA --format csv`, or with text the text table with
 * --percentiles. */
static char *report(const char *data, int text)
{
    char *csv[] = {CPROF, "report", (char *)data, "--format", "csv", NULL};
    char *table[] = {CPROF, "report", (char *)data, "--percentiles", NULL};
    char **argv = text ? table : csv;
    struct e2e_result res;
    cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "cprof report %s: %s", data,
                 res.err);
    char *out = res.out;
    res.out = NULL;
    e2e_result_free(&res);
    return out;
}

/* Records latency in mode into a fresh directory named mode, again while
 * a fast call took longer than a slow one (at most three runs), and
 * parses `cprof report --format csv` of it into csv. */
static void record_latency(const char *mode, struct e2e_csv *csv);

struct pct_row {
    double calls, min, max, p50, p90, p99;
    const char *exact; /* "true", "false" or "" */
};

static int get_row(const struct e2e_csv *csv, const char *name, struct pct_row *r)
{
    static const char *const cols[] = {"calls",  "min_ns", "max_ns",
                                       "p50_ns", "p90_ns", "p99_ns"};
    double *out[] = {&r->calls, &r->min, &r->max, &r->p50, &r->p90, &r->p99};
    int n = e2e_csv_column(csv, "name"), e = e2e_csv_column(csv, "percentiles_exact");
    cr_assert(n >= 0 && e >= 0, "no name or percentiles_exact column");
    for (size_t row = 1; row < csv->n_rows; row++) {
        if (strcmp(e2e_csv_cell(csv, row, n), name))
            continue;
        for (size_t c = 0; c < sizeof cols / sizeof *cols; c++) {
            int k = e2e_csv_column(csv, cols[c]);
            cr_assert(k >= 0, "no %s column", cols[c]);
            const char *cell = e2e_csv_cell(csv, row, k);
            *out[c] = cell && *cell ? atof(cell) : -1;
        }
        r->exact = e2e_csv_cell(csv, row, e);
        return 0;
    }
    return -1;
}

static void record_latency(const char *mode, struct e2e_csv *csv)
{
    for (int attempt = 1;; attempt++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/%s", e2e_scratch, mode);
        e2e_remove_tree(dir);
        e2e_scratch_record("latency", mode, mode);
        char *out = report(mode, 0);
        cr_assert_eq(e2e_csv_parse(out, csv), 0);
        free(out);
        struct pct_row fast, slow;
        if (attempt == 3 || get_row(csv, "fast_request", &fast) < 0 ||
            get_row(csv, "slow_request", &slow) < 0 || fast.max < 0 ||
            fast.max < slow.min)
            return;
        cr_log_warn("%s: a 1 ms call took %.1f ms, longer than a 10 ms one (%.1f ms): "
                    "recorded again",
                    mode, fast.max / MS, slow.min / MS);
        e2e_csv_free(csv);
    }
}

/* What holds in summary and trace data alike. */
static void check_known_distribution(const char *mode, const struct e2e_csv *csv)
{
    const double err = 0.008; /* the histogram's relative error */
    struct pct_row r, fast, slow;
    cr_assert_eq(get_row(csv, "request", &r), 0, "%s: no request row", mode);
    cr_assert_eq(get_row(csv, "fast_request", &fast), 0);
    cr_assert_eq(get_row(csv, "slow_request", &slow), 0);
    cr_expect_eq(r.calls, 100);
    cr_expect_eq(fast.calls, 90);
    cr_expect_eq(slow.calls, 10);
    /* ordered, and within the calls' range */
    cr_expect(r.min * (1 - err) <= r.p50 && r.p50 <= r.p90 && r.p90 <= r.p99 &&
                  r.p99 <= r.max * (1 + err),
              "%s: min %.0f p50 %.0f p90 %.0f p99 %.0f max %.0f", mode, r.min, r.p50,
              r.p90, r.p99, r.max);
    /* half the calls and more are fast ones: about 1 ms */
    cr_expect(r.p50 >= 1 * MS * (1 - err) && r.p50 < 5 * MS, "%s: p50 %.0f ns", mode,
              r.p50);
    /* the 90th call by time is the slowest fast one: below every slow call */
    cr_expect(
        r.p90 >= 1 * MS * (1 - err) && r.p90 <= fast.max * (1 + err) && r.p90 < slow.min,
        "%s: p90 %.0f ns, fast max %.0f, slow min %.0f", mode, r.p90, fast.max, slow.min);
    /* the 99th is a slow one: 10 ms at least */
    cr_expect(r.p99 >= 10 * MS * (1 - err), "%s: p99 %.0f ns", mode, r.p99);
    cr_expect(slow.p50 >= 10 * MS * (1 - err), "%s: slow_request p50 %.0f", mode,
              slow.p50);
    cr_expect(fast.p50 >= 1 * MS * (1 - err) && fast.p50 < 5 * MS,
              "%s: fast_request p50 %.0f", mode, fast.p50);
}

Test(percentiles, summary_mode_estimates_within_the_error)
{
    struct e2e_csv csv;
    record_latency("summary", &csv);
    char *out = NULL;
    check_known_distribution("summary", &csv);
    struct pct_row r;
    cr_assert_eq(get_row(&csv, "request", &r), 0);
    cr_expect_str_eq(r.exact, "false", "summary: estimated from histograms");
    e2e_csv_free(&csv);
    free(out);
    out = report("summary", 1);
    cr_expect(strstr(out, "p50") && strstr(out, "p90") && strstr(out, "p99"), "%s", out);
    cr_expect(strstr(out, "estimated from histograms (within 0.78%)"), "%s", out);
    free(out);
}

Test(percentiles, trace_mode_is_exact)
{
    struct e2e_csv csv;
    record_latency("trace", &csv);
    char *out = NULL;
    check_known_distribution("trace", &csv);
    struct pct_row r, fast, slow;
    cr_assert_eq(get_row(&csv, "request", &r), 0);
    cr_assert_eq(get_row(&csv, "fast_request", &fast), 0);
    cr_assert_eq(get_row(&csv, "slow_request", &slow), 0);
    cr_expect_str_eq(r.exact, "true");
    /* exact ranks: fast_request's 99th of 90 calls is its 90th, the slowest;
     * slow_request's 99th of 10 is its 10th; request's 90th is above no slow
     * call and at most the slowest fast one (request adds its own time) */
    cr_expect_eq(fast.p99, fast.max, "fast p99 %.0f max %.0f", fast.p99, fast.max);
    cr_expect_eq(slow.p99, slow.max, "slow p99 %.0f max %.0f", slow.p99, slow.max);
    cr_expect(r.p90 < slow.min);
    e2e_csv_free(&csv);
    free(out);
    out = report("trace", 1);
    cr_expect(strstr(out, "exact (from the trace)"), "%s", out);
    free(out);
}

Test(percentiles, count_mode_has_none)
{
    e2e_scratch_record("latency", "count", "count");
    char *out = report("count", 0);
    struct e2e_csv csv;
    cr_assert_eq(e2e_csv_parse(out, &csv), 0);
    struct pct_row r;
    cr_assert_eq(get_row(&csv, "request", &r), 0);
    cr_expect_eq(r.calls, 100);
    cr_expect_eq(r.p50, -1, "empty");
    cr_expect_eq(r.p99, -1, "empty");
    cr_expect_str_eq(r.exact, "");
    e2e_csv_free(&csv);
    free(out);
}

/* 5,000 nested call paths need 1.3 MB of histogram rows; with 1 MiB
 * the runtime counts the calls it could not put in a histogram, and the
 * report says so (calls and times stay exact). */
Test(percentiles, histogram_memory_limit_is_reported)
{
    e2e_scratch_build("deep",
                      "__attribute__((noinline)) int rec(int d) {\n"
                      "    return d ? rec(d - 1) + 1 : 0; }\n"
                      "int main(void) { return rec(5000) == 5000 ? 0 : 1; }\n",
                      (char *const[]){"-O0", NULL});
    char *argv[] = {"./deep", NULL};
    char *env[] = {"CPROF_DIR=data", "CPROF_MODE=summary", "CPROF_HIST_MEMORY=1",
                   "CPROF_MAX_NODES=10000", NULL};
    struct e2e_result res;
    cr_assert_eq(e2e_scratch_run(argv, env, NULL, &res), 0, "%s", res.err);
    e2e_result_free(&res);
    char *cmd[] = {CPROF, "report", "data", NULL};
    cr_assert_eq(e2e_scratch_run_plain(cmd, &res), 0, "%s", res.err);
    cr_expect(
        strstr(res.out, "completed calls are missing from the latency histograms") ||
            strstr(res.err, "completed calls are missing from the latency histograms"),
        "%s%s", res.out, res.err);
    cr_expect(strstr(res.out, "5001"), "rec's calls stay exact: %s", res.out);
    e2e_result_free(&res);
}
