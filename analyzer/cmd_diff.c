/*
 * `cprof diff A B`: two runs side by side per function. Exact call count
 * changes come first, apart; then time, each function's change in time
 * per call judged against the runs' own noise (diff.h). Exit statuses for
 * CI: --fail-on-count-change, --fail-on-regression.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_common.h"
#include "commands.h"
#include "diff.h"
#include "fmt.h"
#include "util.h"

#define DIFF_TEXT_LIMIT 50

static const char diff_usage[] =
    "usage: cprof diff A B [--format text|json|csv] [--limit N] [--noise-se K]\n"
    "                  [--noise-pct P] [--noise-min-calls N] [--fail-on-count-change]\n"
    "                  [--fail-on-regression]\n"
    "\n"
    "Compares two runs per function: calls, self and total time in A and in B.\n"
    "Functions are matched by name and source file. Call counts that changed\n"
    "come first (they are exact); then time, where each function's change in\n"
    "time per call is a regression, an improvement, or noise: within K\n"
    "standard errors of the two runs' per-call means, or within P percent of\n"
    "A's mean; unknown when a side has too few completed calls to tell its\n"
    "spread. Count-mode data gives counts only.\n"
    "\n"
    "  A, B                    a .cprof file or a directory of them\n"
    "  -f, --format F          text (default), json or csv\n"
    "  -n, --limit N           text: show N functions per table (default 50; 0: all);\n"
    "                          json and csv: the first N functions (default all)\n"
    "      --noise-se K        standard errors a change must exceed (default 3)\n"
    "      --noise-pct P       percent of A's time per call it must exceed (default 10)\n"
    "      --noise-min-calls N completed calls each side needs to be judged\n"
    "                          (default 5)\n"
    "      --fail-on-count-change  exit 3 when a function's call count changed\n"
    "      --fail-on-regression    exit 3 when a function got slower beyond noise\n"
    "\n"
    "Examples:\n"
    "  cprof diff before/ after/                    per function: count changes, time "
    "beyond noise\n"
    "  cprof diff --fail-on-count-change base/ cprof.data\n"
    "      in CI\n"
    "\n"
    "Exit status: 0 compared, 1 bad command line, 2 no usable data in A or B, or\n"
    "a file damaged or cut short, 3 a change a --fail-on option names. See\n"
    "docs/cprof-diff.md.\n";

enum diff_col {
    DC_NAME,
    DC_LOCATION,
    DC_FILE,
    DC_LINE,
    DC_CALLS_A,
    DC_CALLS_B,
    DC_CALLS_DELTA,
    DC_COUNT_CHANGED,
    DC_TOTAL_A,
    DC_TOTAL_B,
    DC_TOTAL_DELTA,
    DC_TOTAL_PCT,
    DC_SELF_A,
    DC_SELF_B,
    DC_SELF_DELTA,
    DC_SELF_PCT,
    DC_MEAN_A,
    DC_MEAN_B,
    DC_MEAN_PCT,
    DC_SD_A,
    DC_SD_B,
    DC_CHANGE,
    DC_COUNT
};

static const struct fmt_col diff_cols[DC_COUNT] = {
    [DC_NAME] = {"name", "function", FMT_STR, FMT_ALL, 0},
    [DC_LOCATION] = {"location", "file:line", FMT_STR, FMT_TEXT_ONLY, 0},
    [DC_FILE] = {"file", "file", FMT_STR, FMT_DATA_ONLY, 0},
    [DC_LINE] = {"line", "line", FMT_UINT, FMT_DATA_ONLY, 0},
    [DC_CALLS_A] = {"calls_a", "calls A", FMT_UINT, FMT_ALL, 0},
    [DC_CALLS_B] = {"calls_b", "calls B", FMT_UINT, FMT_ALL, 0},
    [DC_CALLS_DELTA] = {"calls_delta", "Δ calls", FMT_UINT, FMT_ALL, FMT_SIGN},
    [DC_COUNT_CHANGED] = {"count_changed", "", FMT_BOOL, FMT_DATA_ONLY, 0},
    [DC_TOTAL_A] = {"total_ns_a", "total A", FMT_NS, FMT_ALL, 0},
    [DC_TOTAL_B] = {"total_ns_b", "total B", FMT_NS, FMT_ALL, 0},
    [DC_TOTAL_DELTA] = {"total_ns_delta", "Δ total", FMT_NS, FMT_ALL, FMT_SIGN},
    [DC_TOTAL_PCT] = {"total_change_pct", "Δ%", FMT_PCT, FMT_ALL, FMT_SIGN},
    [DC_SELF_A] = {"self_ns_a", "self A", FMT_NS, FMT_ALL, 0},
    [DC_SELF_B] = {"self_ns_b", "self B", FMT_NS, FMT_ALL, 0},
    [DC_SELF_DELTA] = {"self_ns_delta", "Δ self", FMT_NS, FMT_ALL, FMT_SIGN},
    [DC_SELF_PCT] = {"self_change_pct", "", FMT_PCT, FMT_DATA_ONLY, 0},
    [DC_MEAN_A] = {"call_mean_ns_a", "per call A", FMT_NS, FMT_ALL, 0},
    [DC_MEAN_B] = {"call_mean_ns_b", "per call B", FMT_NS, FMT_ALL, 0},
    [DC_MEAN_PCT] = {"call_change_pct", "Δ%/call", FMT_PCT, FMT_ALL, FMT_SIGN},
    [DC_SD_A] = {"call_sd_ns_a", "", FMT_NS, FMT_DATA_ONLY, 0},
    [DC_SD_B] = {"call_sd_ns_b", "", FMT_NS, FMT_DATA_ONLY, 0},
    [DC_CHANGE] = {"time_change", "change", FMT_STR, FMT_ALL, 0},
};

/* Which text table shows a column: the counts, the times, or both. */
enum { DIFF_IN_COUNTS = 1, DIFF_IN_TIMES = 2 };
static const unsigned char diff_col_tables[DC_COUNT] = {
    [DC_NAME] = DIFF_IN_COUNTS | DIFF_IN_TIMES,
    [DC_LOCATION] = DIFF_IN_COUNTS | DIFF_IN_TIMES,
    [DC_CALLS_A] = DIFF_IN_COUNTS,
    [DC_CALLS_B] = DIFF_IN_COUNTS,
    [DC_CALLS_DELTA] = DIFF_IN_COUNTS,
    [DC_TOTAL_A] = DIFF_IN_TIMES,
    [DC_TOTAL_B] = DIFF_IN_TIMES,
    [DC_TOTAL_DELTA] = DIFF_IN_TIMES,
    [DC_TOTAL_PCT] = DIFF_IN_TIMES,
    [DC_SELF_A] = DIFF_IN_TIMES,
    [DC_SELF_B] = DIFF_IN_TIMES,
    [DC_SELF_DELTA] = DIFF_IN_TIMES,
    [DC_MEAN_A] = DIFF_IN_TIMES,
    [DC_MEAN_B] = DIFF_IN_TIMES,
    [DC_MEAN_PCT] = DIFF_IN_TIMES,
    [DC_CHANGE] = DIFF_IN_TIMES,
};

/* The command line. */
struct diff_args {
    const struct fmt_ops *format;
    uint64_t limit;
    int limit_given;
    struct diff_noise noise;
    int fail_on_count, fail_on_regression;
    const char *path_a, *path_b;
};

/* A --noise-* value: a finite number >= 0. */
static int diff_number_arg(const char *opt, const char *arg, double *v)
{
    char *end;
    *v = strtod(arg, &end);
    if (end != arg && !*end && isfinite(*v) && *v >= 0)
        return 0;
    cprof_error("diff: --%s wants a number of 0 or more, not '%s'", opt, arg);
    return -1;
}

/* Returns 0, 1 after --help, -1 after saying what was wrong. */
static int diff_parse(int argc, char **argv, struct diff_args *args)
{
    enum { OPT_SE = 256, OPT_PCT, OPT_MIN_CALLS, OPT_FAIL_COUNT, OPT_FAIL_REGRESSION };
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"limit", required_argument, NULL, 'n'},
        {"noise-se", required_argument, NULL, OPT_SE},
        {"noise-pct", required_argument, NULL, OPT_PCT},
        {"noise-min-calls", required_argument, NULL, OPT_MIN_CALLS},
        {"fail-on-count-change", no_argument, NULL, OPT_FAIL_COUNT},
        {"fail-on-regression", no_argument, NULL, OPT_FAIL_REGRESSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "f:n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (cmd_format_arg("diff", optarg, &args->format) < 0)
                return -1;
            break;
        case 'n':
            if (cprof_parse_u64(optarg, &args->limit) < 0) {
                cprof_error("diff: --limit wants a number, not '%s'", optarg);
                return -1;
            }
            args->limit_given = 1;
            break;
        case OPT_SE:
            if (diff_number_arg("noise-se", optarg, &args->noise.se_multiple) < 0)
                return -1;
            break;
        case OPT_PCT:
            if (diff_number_arg("noise-pct", optarg, &args->noise.floor_pct) < 0)
                return -1;
            break;
        case OPT_MIN_CALLS:
            if (cprof_parse_u64(optarg, &args->noise.min_calls) < 0 ||
                !args->noise.min_calls) {
                cprof_error(
                    "diff: --noise-min-calls wants a number of 1 or more, not '%s'",
                    optarg);
                return -1;
            }
            break;
        case OPT_FAIL_COUNT:
            args->fail_on_count = 1;
            break;
        case OPT_FAIL_REGRESSION:
            args->fail_on_regression = 1;
            break;
        case 'h':
            fputs(diff_usage, stdout);
            return 1;
        default:
            cmd_bad_option("diff", optopt, "fn", argv[optind - 1]);
            return -1;
        }
    }
    if (argc - optind != 2) {
        cprof_error("diff: wants two data paths, A and B, not %d (see cprof diff --help)",
                    argc - optind);
        return -1;
    }
    args->path_a = argv[optind];
    args->path_b = argv[optind + 1];
    return 0;
}

/* Loads one side as `cprof report PATH` would: the shared view start,
 * given just the path. Returns 1 when run holds a profile. */
static int diff_load(const char *path, struct cmd_view_run *run)
{
    static const struct cmd_view side = {"diff", diff_usage, NULL, 0};
    char *argv[] = {"diff", "--", (char *)path, NULL};
    return cmd_view_start(&side, 3, argv, run);
}

/* A change in percent of before; null when before is 0. */
static void diff_pct(struct fmt_cell *cell, double before, double after)
{
    cell->num = before > 0 ? (after - before) * 100 / before : 0;
    cell->null = !(before > 0);
}

/* Fills one row of cells; the location string is owned by strs. */
static void diff_row_cells(const struct diff *d, const struct diff_row *r,
                           const char *cwd, struct fmt_cell *cell, struct strpool *strs)
{
    for (int c = 0; c < DC_COUNT; c++)
        cell[c] = (struct fmt_cell){0};
    cell[DC_NAME].str = r->name;
    cell[DC_LOCATION].str =
        strpool_own(strs, cmd_location(r->file, r->module, r->line, cwd));
    cell[DC_FILE].str = r->file;
    cell[DC_LINE].num = r->line;
    cell[DC_LINE].null = r->line == 0;
    cell[DC_CALLS_A].num = (double)r->a.calls;
    cell[DC_CALLS_B].num = (double)r->b.calls;
    cell[DC_CALLS_DELTA].num = (double)r->b.calls - (double)r->a.calls;
    cell[DC_COUNT_CHANGED].num = r->a.calls != r->b.calls;
    cell[DC_TOTAL_A].num = r->a.total_ns;
    cell[DC_TOTAL_B].num = r->b.total_ns;
    cell[DC_TOTAL_DELTA].num = r->b.total_ns - r->a.total_ns;
    diff_pct(&cell[DC_TOTAL_PCT], r->a.total_ns, r->b.total_ns);
    cell[DC_SELF_A].num = r->a.self_ns;
    cell[DC_SELF_B].num = r->b.self_ns;
    cell[DC_SELF_DELTA].num = r->b.self_ns - r->a.self_ns;
    diff_pct(&cell[DC_SELF_PCT], r->a.self_ns, r->b.self_ns);
    cell[DC_MEAN_A].num = r->a.mean_ns;
    cell[DC_MEAN_A].null = !r->a.timed_calls;
    cell[DC_SD_A].num = r->a.sd_ns;
    cell[DC_SD_A].null = !r->a.timed_calls;
    cell[DC_MEAN_B].num = r->b.mean_ns;
    cell[DC_MEAN_B].null = !r->b.timed_calls;
    cell[DC_SD_B].num = r->b.sd_ns;
    cell[DC_SD_B].null = !r->b.timed_calls;
    diff_pct(&cell[DC_MEAN_PCT], r->a.mean_ns, r->b.mean_ns);
    cell[DC_MEAN_PCT].null |= !r->b.timed_calls;
    cell[DC_CHANGE].str = diff_change_name(r->change);
    cell[DC_CHANGE].null = r->change == DIFF_UNTIMED;
    if (!d->timed)
        for (int c = DC_TOTAL_A; c <= DC_SD_B; c++)
            cell[c].null = 1;
}

/* The cells of the first nrows rows of d in their current order (allocated),
 * their location strings owned by strs. */
static struct fmt_cell *diff_cells(const struct diff *d, size_t nrows, const char *cwd,
                                   struct strpool *strs)
{
    struct fmt_cell *cells = cprof_xcalloc(nrows * DC_COUNT + 1, sizeof(*cells));
    for (size_t i = 0; i < nrows; i++)
        diff_row_cells(d, &d->rows[i], cwd, &cells[i * DC_COUNT], strs);
    return cells;
}

/* The columns of a text table: those flagged for it, the others hidden. */
static void diff_text_cols(struct fmt_col *cols, unsigned table)
{
    memcpy(cols, diff_cols, sizeof diff_cols);
    for (int c = 0; c < DC_COUNT; c++)
        if (!(diff_col_tables[c] & table))
            cols[c].where = FMT_DATA_ONLY;
}

/* The text summary lines under the runs' descriptions (allocated). */
static size_t diff_summary(const struct diff *d, const struct diff_noise *noise,
                           char **lines)
{
    size_t n = 0;
    lines[n++] = cprof_xasprintf(
        "calls: %llu in A, %llu in B (%+.0f)", (unsigned long long)d->calls_a,
        (unsigned long long)d->calls_b, (double)d->calls_b - (double)d->calls_a);
    lines[n++] = cprof_xasprintf(
        "call counts: %zu of %zu functions changed (%zu only in A, %zu only in B), "
        "%zu the same",
        d->count_changed, d->nrows, d->only_a, d->only_b, d->nrows - d->count_changed);
    if (!d->timed) {
        lines[n++] = cprof_xstrdup("count-mode data: call counts only, no times");
        return n;
    }
    char a[32], b[32];
    fmt_human_ns(d->self_ns_a, a, sizeof a);
    fmt_human_ns(d->self_ns_b, b, sizeof b);
    struct strbuf sb = {0};
    sb_printf(&sb, "time in instrumented functions: %s in A, %s in B", a, b);
    if (d->self_ns_a > 0)
        sb_printf(&sb, " (%+.1f%%)", (d->self_ns_b - d->self_ns_a) * 100 / d->self_ns_a);
    lines[n++] = sb.s;
    lines[n++] = cprof_xasprintf(
        "time per call: %zu regression%s, %zu improvement%s, %zu within noise, "
        "%zu unknown (noise: within %g standard errors or %g%% of A; unknown: fewer "
        "than %llu completed calls)",
        d->changes[DIFF_REGRESSION], d->changes[DIFF_REGRESSION] == 1 ? "" : "s",
        d->changes[DIFF_IMPROVEMENT], d->changes[DIFF_IMPROVEMENT] == 1 ? "" : "s",
        d->changes[DIFF_NOISE], d->changes[DIFF_UNKNOWN], noise->se_multiple,
        noise->floor_pct, (unsigned long long)noise->min_calls);
    return n;
}

/* Writes the comparison in args->format. */
static void diff_write(const struct diff_args *args, struct diff *d,
                       const struct fmt_run runs[2], const struct warnings *warnings)
{
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    int text = args->format == &fmt_text;
    uint64_t limit = args->limit_given ? args->limit : text ? DIFF_TEXT_LIMIT : 0;
    diff_sort(d, DIFF_BY_COUNT);
    size_t nrows = text ? d->count_changed : d->nrows;
    if (limit && limit < nrows)
        nrows = (size_t)limit;
    struct strpool strs = {0};
    struct fmt_cell *cells = diff_cells(d, nrows, cwd, &strs);
    struct fmt_col count_cols[DC_COUNT], time_cols[DC_COUNT];
    diff_text_cols(count_cols, DIFF_IN_COUNTS);
    diff_text_cols(time_cols, DIFF_IN_TIMES);
    struct fmt_table table = {
        .name = "functions",
        .cols = text ? count_cols : diff_cols,
        .ncols = DC_COUNT,
        .cells = cells,
        .nrows = nrows,
        .text_rows = nrows,
        .empty = "(none: every function has the same call count in A and B)",
    };

    /* text: then every function by its change in total time */
    size_t ntimes = text && d->timed ? d->nrows : 0;
    if (limit && limit < ntimes)
        ntimes = (size_t)limit;
    diff_sort(d, DIFF_BY_TIME);
    struct fmt_cell *time_cells = diff_cells(d, ntimes, cwd, &strs);
    struct fmt_table times = {
        .name = "time",
        .cols = time_cols,
        .ncols = DC_COUNT,
        .cells = time_cells,
        .nrows = ntimes,
        .title = "time, largest change in total time first",
    };
    const struct fmt_table *more = &times;
    char *notes[2];
    size_t nnotes = 0;
    if (text && d->count_changed > nrows)
        notes[nnotes++] = cprof_xasprintf(
            "… %zu more in call counts (--limit 0 shows all)", d->count_changed - nrows);
    if (text && d->timed && d->nrows > ntimes)
        notes[nnotes++] = cprof_xasprintf("… %zu more in time (--limit 0 shows all)",
                                          d->nrows - ntimes);

    char *summary[4];
    size_t nsummary = diff_summary(d, &args->noise, summary);
    struct fmt_doc doc = {
        .title = "call counts that changed",
        .model = runs[0].model,
        .runs = runs,
        .nruns = 2,
        .table = &table,
        .summary = (const char *const *)summary,
        .nsummary = nsummary,
        .notes = (const char *const *)notes,
        .nnotes = nnotes,
        .warnings = warnings,
        .more = &more,
        .nmore = ntimes > 0,
    };
    args->format->write(stdout, &doc);
    for (size_t i = 0; i < nsummary; i++)
        free(summary[i]);
    for (size_t i = 0; i < nnotes; i++)
        free(notes[i]);
    strpool_free(&strs);
    free(cells);
    free(time_cells);
}

int cmd_diff(int argc, char **argv)
{
    struct diff_args args = {
        .format = &fmt_text,
        .noise = {DIFF_NOISE_SE, DIFF_NOISE_PCT, DIFF_NOISE_MIN_CALLS},
    };
    int r = diff_parse(argc, argv, &args);
    if (r)
        return r > 0 ? CPROF_EXIT_OK : CPROF_EXIT_USAGE;
    struct cmd_view_run a, b;
    int loaded_a = diff_load(args.path_a, &a);
    int loaded_b = diff_load(args.path_b, &b);
    int status = a.status != CPROF_EXIT_OK ? a.status : b.status;
    if (loaded_a && loaded_b) {
        struct diff d;
        diff_build(&a.model, &a.profile, &b.model, &b.profile, &args.noise, &d);
        struct warnings warnings = {0};
        for (size_t i = 0; i < a.model.warnings.count; i++)
            warn_add(&warnings, "A: %s", a.model.warnings.text[i]);
        for (size_t i = 0; i < b.model.warnings.count; i++)
            warn_add(&warnings, "B: %s", b.model.warnings.text[i]);
        char *title_a = cprof_xasprintf("A: %s", args.path_a);
        char *title_b = cprof_xasprintf("B: %s", args.path_b);
        const struct fmt_run runs[2] = {{"run_a", title_a, &a.model},
                                        {"run_b", title_b, &b.model}};
        diff_write(&args, &d, runs, &warnings);
        status = cmd_finish("diff", &a.model, args.format, status);
        status = cmd_finish("diff", &b.model, args.format, status);
        if (status == CPROF_EXIT_OK &&
            ((args.fail_on_count && d.count_changed) ||
             (args.fail_on_regression && d.changes[DIFF_REGRESSION])))
            status = DIFF_EXIT_CHANGED;
        free(title_a);
        free(title_b);
        warn_free(&warnings);
        diff_free(&d);
    } else if (status == CPROF_EXIT_OK) {
        status = CPROF_EXIT_DATA;
    }
    cmd_view_end(&a);
    cmd_view_end(&b);
    return status;
}

const char *const cmd_diff_help = diff_usage;
