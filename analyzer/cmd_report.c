/*
 * `cprof report`: the exact per-function table, merged over every process
 * and thread recorded (or those --pid/--tid select), in text, JSON or CSV.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_common.h"
#include "commands.h"
#include "fmt.h"
#include "model.h"
#include "profile.h"
#include "sym.h"
#include "util.h"

#define REPORT_TEXT_LIMIT 50
#define REPORT_HOTSPOTS 5 /* findings the text's last section shows */

static const char report_usage[] =
    "usage: cprof report [PATH...] [--format text|json|csv] [--sort KEY] [--limit N]\n"
    "                    [--pid PID] [--tid TID] [--percentiles] [--no-hotspots]\n"
    "                    [--compensate]\n"
    "\n"
    "Prints each function's exact call count, self and total time (recursion\n"
    "counted once), time per call, fastest and slowest call, and share of all\n"
    "self time, merged over every process and thread recorded. In the text\n"
    "table, * after a name marks a function with line data (see cprof lines);\n"
    "with heap data, 'heap net' is what the function and its callees allocated\n"
    "less what they freed (see cprof heap). With CPU time (recorded with\n"
    "CPROF_CPU=1), 'cpu' is the function's own CPU time and 'wait' its own time\n"
    "off the CPU (self less cpu: sleeping, blocked or preempted).\n"
    "\n"
    "  PATH            a .cprof file or a directory of them (default ./cprof.data)\n"
    "  -f, --format F  text (default), json or csv\n"
    "  -s, --sort KEY  self (default), total, calls, self_per_call, total_per_call,\n"
    "                  min, max, p50, p90, p99, cpu, cpu_total, wait, wait_total,\n"
    "                  name or file (or a key of cprof heap --sort)\n"
    "  -n, --limit N   show the first N functions; 0 shows all (text shows 50 by\n"
    "                  default, json and csv all)\n"
    "      --pid PID   only the process PID\n"
    "      --tid TID   only the thread with kernel thread id TID\n"
    "      --percentiles  show the median, 90th and 99th percentile of the time per\n"
    "                  call (total, callees included) in the text table too (json\n"
    "                  and csv always have them): exact from a trace, else estimated\n"
    "                  from the runtime's histograms, within 0.8%\n"
    "      --no-hotspots  leave out the last section, the first few findings of\n"
    "                  cprof hotspots (and in json, the functions'\n"
    "                  optimization_suggestions and the hotspots list)\n"
    "      --compensate  show times with the probe cost the runtime measured at\n"
    "                  start subtracted too (self adj, total adj; sorted by self\n"
    "                  adj unless --sort says otherwise): estimates, where the raw\n"
    "                  times are measurements; ! marks a function clamped at 0\n"
    "                  (json and csv always have them: self_adj_ns, total_adj_ns)\n"
    "\n"
    "Examples:\n"
    "  cprof report                                 the table of ./cprof.data\n"
    "  cprof report --sort calls -n 20              the 20 most called functions\n"
    "  cprof report --percentiles run1/             with p50, p90 and p99 per call\n"
    "  cprof report --format json > profile.json    for scripts\n"
    "\n"
    "Exit status: 0 report printed, 1 bad command line, 2 no usable data, or a\n"
    "file damaged or cut short (the report then covers what it holds). See\n"
    "docs/cprof.md.\n";

enum report_col {
    RC_NAME,
    RC_NAME_TEXT,
    RC_LOCATION,
    RC_FILE,
    RC_LINE,
    RC_CALLS,
    RC_SELF,
    RC_TOTAL,
    RC_SELF_PER_CALL,
    RC_TOTAL_PER_CALL,
    RC_SELF_ADJ,
    RC_TOTAL_ADJ,
    RC_SELF_ADJ_PER_CALL,
    RC_TOTAL_ADJ_PER_CALL,
    RC_ADJ_CLAMPED,
    RC_MIN,
    RC_MAX,
    RC_P50,
    RC_P90,
    RC_P99,
    RC_PCT_EXACT,
    RC_SELF_PCT,
    RC_MODULE,
    RC_HAS_LINES,
    RC_ALLOC_CALLS,
    RC_ALLOC_BYTES,
    RC_FREE_CALLS,
    RC_FREED_BYTES,
    RC_HEAP_DELTA,
    RC_HEAP_PEAK,
    RC_SUGGESTIONS,
    /* CPU time: last, left out of every format without it */
    RC_CPU,
    RC_WAIT,
    RC_CPU_TOTAL,
    RC_WAIT_TOTAL,
    RC_COUNT
};

static const struct fmt_col report_cols[RC_COUNT] = {
    [RC_NAME] = {"name", "function", FMT_STR, FMT_DATA_ONLY, 0},
    [RC_NAME_TEXT] = {"name", "function", FMT_STR, FMT_TEXT_ONLY, 0},
    [RC_LOCATION] = {"location", "file:line", FMT_STR, FMT_TEXT_ONLY, 0},
    [RC_FILE] = {"file", "file", FMT_STR, FMT_DATA_ONLY, 0},
    [RC_LINE] = {"line", "line", FMT_UINT, FMT_DATA_ONLY, 0},
    [RC_CALLS] = {"calls", "calls", FMT_UINT, FMT_ALL, 0},
    [RC_SELF] = {"self_ns", "self", FMT_NS, FMT_ALL, 0},
    [RC_TOTAL] = {"total_ns", "total", FMT_NS, FMT_ALL, 0},
    [RC_SELF_PER_CALL] = {"self_per_call_ns", "self/call", FMT_NS, FMT_ALL, 0},
    [RC_TOTAL_PER_CALL] = {"total_per_call_ns", "total/call", FMT_NS, FMT_ALL, 0},
    [RC_SELF_ADJ] = {"self_adj_ns", "self adj", FMT_NS, FMT_DATA_ONLY, 0},
    [RC_TOTAL_ADJ] = {"total_adj_ns", "total adj", FMT_NS, FMT_DATA_ONLY, 0},
    [RC_SELF_ADJ_PER_CALL] = {"self_adj_per_call_ns", "self adj/call", FMT_NS,
                              FMT_DATA_ONLY, 0},
    [RC_TOTAL_ADJ_PER_CALL] = {"total_adj_per_call_ns", "total adj/call", FMT_NS,
                               FMT_DATA_ONLY, 0},
    [RC_ADJ_CLAMPED] = {"adj_clamped", "clamped", FMT_BOOL, FMT_DATA_ONLY, 0},
    [RC_MIN] = {"min_ns", "min", FMT_NS, FMT_ALL, 0},
    [RC_MAX] = {"max_ns", "max", FMT_NS, FMT_ALL, 0},
    [RC_SELF_PCT] = {"self_pct", "self%", FMT_PCT, FMT_ALL, 0},
    [RC_P50] = {"p50_ns", "p50", FMT_NS, FMT_DATA_ONLY, 0},
    [RC_P90] = {"p90_ns", "p90", FMT_NS, FMT_DATA_ONLY, 0},
    [RC_P99] = {"p99_ns", "p99", FMT_NS, FMT_DATA_ONLY, 0},
    [RC_PCT_EXACT] = {"percentiles_exact", "exact", FMT_BOOL, FMT_DATA_ONLY, 0},
    [RC_MODULE] = {"module", "module", FMT_STR, FMT_DATA_ONLY, 0},
    [RC_HAS_LINES] = {"has_lines", "has_lines", FMT_BOOL, FMT_DATA_ONLY, 0},
    [RC_ALLOC_CALLS] = {"alloc_calls", "allocs", FMT_UINT, FMT_DATA_ONLY, 0},
    [RC_ALLOC_BYTES] = {"alloc_bytes", "allocated", FMT_BYTES, FMT_DATA_ONLY, 0},
    [RC_FREE_CALLS] = {"free_calls", "frees", FMT_UINT, FMT_DATA_ONLY, 0},
    [RC_FREED_BYTES] = {"freed_bytes", "freed", FMT_BYTES, FMT_DATA_ONLY, 0},
    [RC_HEAP_DELTA] = {"heap_delta_bytes", "heap net", FMT_BYTES, FMT_ALL, FMT_SIGN},
    [RC_HEAP_PEAK] = {"heap_peak_bytes", "heap peak", FMT_BYTES, FMT_DATA_ONLY, 0},
    [RC_SUGGESTIONS] = {"optimization_suggestions", "", FMT_JSON, FMT_DATA_ONLY, 0},
    [RC_CPU] = {"cpu_self_ns", "cpu", FMT_NS, FMT_ALL, 0},
    [RC_WAIT] = {"wait_ns", "wait", FMT_NS, FMT_ALL, 0},
    [RC_CPU_TOTAL] = {"cpu_total_ns", "cpu total", FMT_NS, FMT_DATA_ONLY, 0},
    [RC_WAIT_TOTAL] = {"wait_total_ns", "wait total", FMT_NS, FMT_DATA_ONLY, 0},
};

/* The text table's mark after the name of a function with line data (and
 * CMD_CLAMP_MARK). */
#define REPORT_LINES_MARK " *"

/* Fills one row of cells from a profile row, the strings it makes (location,
 * marked name) owned by strs; compensate: the clamp mark is shown. Returns
 * whether the function has line data. */
static int report_row(const struct model *m, const struct profile *pf,
                      const struct pf_row *r, const char *cwd, struct fmt_cell *cell,
                      struct strpool *strs, int compensate)
{
    for (int c = 0; c < RC_COUNT; c++)
        cell[c] = (struct fmt_cell){0};
    int has_lines = m->funcs[r->func].has_lines;
    int clamp_mark = compensate && pf->compensable && r->adj_clamped;
    cell[RC_NAME].str = r->name;
    cell[RC_NAME_TEXT].str =
        has_lines || clamp_mark
            ? strpool_own(strs, cprof_xasprintf("%s%s%s", r->name,
                                                has_lines ? REPORT_LINES_MARK : "",
                                                clamp_mark ? CMD_CLAMP_MARK : ""))
            : r->name;
    cell[RC_HAS_LINES].num = has_lines;
    cell[RC_LOCATION].str =
        strpool_own(strs, cmd_location(r->file, r->module, r->line, cwd));
    cell[RC_FILE].str = r->file;
    cell[RC_LINE].num = r->line;
    cell[RC_LINE].null = r->line == 0;
    cell[RC_CALLS].num = (double)r->calls;
    cell[RC_SELF].num = r->self_ns;
    cell[RC_TOTAL].num = r->total_ns;
    cell[RC_SELF_PER_CALL].num = r->calls ? r->self_ns / (double)r->calls : 0;
    cell[RC_SELF_PER_CALL].null = r->calls == 0;
    cell[RC_TOTAL_PER_CALL].num = r->calls ? r->total_ns / (double)r->calls : 0;
    cell[RC_TOTAL_PER_CALL].null = r->calls == 0;
    cell[RC_SELF_ADJ].num = r->self_adj_ns;
    cell[RC_TOTAL_ADJ].num = r->total_adj_ns;
    cell[RC_SELF_ADJ_PER_CALL].num = r->calls ? r->self_adj_ns / (double)r->calls : 0;
    cell[RC_SELF_ADJ_PER_CALL].null = r->calls == 0;
    cell[RC_TOTAL_ADJ_PER_CALL].num = r->calls ? r->total_adj_ns / (double)r->calls : 0;
    cell[RC_TOTAL_ADJ_PER_CALL].null = r->calls == 0;
    cell[RC_ADJ_CLAMPED].num = r->adj_clamped;
    if (!pf->compensable)
        for (int c = RC_SELF_ADJ; c <= RC_ADJ_CLAMPED; c++)
            cell[c].null = 1;
    cell[RC_MIN].num = r->min_ns;
    cell[RC_MIN].null = r->completed == 0;
    cell[RC_MAX].num = r->max_ns;
    cell[RC_MAX].null = r->completed == 0;
    cell[RC_SELF_PCT].num = r->self_pct;
    cell[RC_P50].num = r->p50_ns;
    cell[RC_P90].num = r->p90_ns;
    cell[RC_P99].num = r->p99_ns;
    cell[RC_PCT_EXACT].num = r->pct_exact;
    for (int c = RC_P50; c <= RC_PCT_EXACT; c++)
        cell[c].null = !pf->timed || !r->has_pct;
    cell[RC_MODULE].str = r->module;
    if (!pf->timed)
        for (int c = RC_SELF; c <= RC_SELF_PCT; c++)
            cell[c].null = 1; /* the percentiles too */
    cell[RC_ALLOC_CALLS].num = (double)r->alloc_calls;
    cell[RC_ALLOC_BYTES].num = (double)r->alloc_bytes;
    cell[RC_FREE_CALLS].num = (double)r->free_calls;
    cell[RC_FREED_BYTES].num = (double)r->freed_bytes;
    cell[RC_HEAP_DELTA].num = pf_delta(r->total_alloc_bytes, r->total_freed_bytes);
    cell[RC_HEAP_PEAK].num = (double)r->peak_bytes;
    if (!pf->heap)
        for (int c = RC_ALLOC_CALLS; c <= RC_HEAP_PEAK; c++)
            cell[c].null = 1;
    cell[RC_CPU].num = r->cpu_self_ns;
    cell[RC_WAIT].num = pf_wait(r->self_ns, r->cpu_self_ns);
    cell[RC_CPU_TOTAL].num = r->cpu_total_ns;
    cell[RC_WAIT_TOTAL].num = pf_wait(r->total_ns, r->cpu_total_ns);
    return has_lines;
}

static const struct cmd_view report_view = {"report", report_usage, profile_sort_key, 0};

int cmd_report(int argc, char **argv)
{
    struct cmd_view_run run;
    int percentiles = cmd_take_flag(&argc, argv, "--percentiles");
    int compensate = cmd_take_flag(&argc, argv, "--compensate");
    int hotspots = !cmd_take_flag(&argc, argv, "--no-hotspots");
    if (!cmd_view_start(&report_view, argc, argv, &run)) {
        cmd_view_end(&run);
        return run.status;
    }
    struct model *m = &run.model;
    struct profile *pf = &run.profile;
    if (!run.sort_given)
        run.sort = !pf->timed                      ? PF_SORT_CALLS
                   : compensate && pf->compensable ? PF_SORT_SELF_ADJ
                                                   : PF_SORT_SELF;
    profile_sort(pf, run.sort);

    size_t nrows = pf->nrows;
    if (run.limit_given && run.limit && run.limit < nrows)
        nrows = (size_t)run.limit;
    struct fmt_col cols[RC_COUNT];
    memcpy(cols, report_cols, sizeof cols);
    if (!pf->timed)
        for (int c = RC_SELF; c <= RC_SELF_PCT; c++)
            cols[c].where = FMT_DATA_ONLY;
    if (!pf->heap)
        cols[RC_HEAP_DELTA].where = FMT_DATA_ONLY;
    if (percentiles && pf->timed)
        for (int c = RC_P50; c <= RC_P99; c++)
            cols[c].where = FMT_ALL;
    cmd_show_adj_cols(cols, compensate && pf->compensable, RC_SELF_ADJ,
                      RC_TOTAL_ADJ_PER_CALL, FMT_ALL);
    struct fmt_cell *cells = cprof_xcalloc(nrows * RC_COUNT, sizeof(*cells));
    struct strpool strs = {0};
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    int any_lines = 0;
    /* the findings of cprof hotspots, by function and as the last section */
    struct hs_result found = {0};
    struct cmd_hotspots_table hot = {0};
    const struct fmt_table *more = &hot.table;
    if (hotspots) {
        struct hs_config config;
        hs_config_default(&config);
        hs_find(m, pf, &config, &found);
        cmd_hotspots_table(pf, &found, run.format == &fmt_text ? REPORT_HOTSPOTS : 0, cwd,
                           &hot);
    }
    for (size_t i = 0; i < nrows; i++) {
        struct fmt_cell *row = &cells[i * RC_COUNT];
        any_lines |= report_row(m, pf, &pf->rows[i], cwd, row, &strs, compensate);
        row[RC_SUGGESTIONS].null = !hotspots;
        if (hotspots)
            row[RC_SUGGESTIONS].str = strpool_own(&strs, hs_row_json(&found, i));
    }
    /* without CPU time its columns are left out: rows packed without them */
    size_t ncols = pf->cpu ? RC_COUNT : RC_CPU;
    for (size_t i = 1; ncols < RC_COUNT && i < nrows; i++)
        memmove(&cells[i * ncols], &cells[i * RC_COUNT], ncols * sizeof(*cells));
    const char *notes[3];
    size_t nnotes = 0;
    if (any_lines)
        notes[nnotes++] =
            "*  has line data: cprof lines NAME shows its time line by line";
    char *pct_note = NULL;
    if (percentiles && pf->timed) {
        pct_note =
            pf->pct_estimated
                ? cprof_xasprintf("p50, p90, p99: time per call, callees included; "
                                  "exact from a trace where it kept every call, "
                                  "else estimated from histograms (within %.2g%%)",
                                  pf->pct_error * 100)
                : cprof_xstrdup("p50, p90, p99: time per call, callees included, "
                                "exact (from the trace)");
        notes[nnotes++] = pct_note;
    }

    if (compensate && pf->compensable)
        notes[nnotes++] = "self adj, total adj: probe cost subtracted, estimates (see "
                          "docs/PERFORMANCE.md); ! clamped at 0";

    struct fmt_table table = {
        .name = "functions",
        .cols = cols,
        .ncols = ncols,
        .cells = cells,
        .nrows = nrows,
        .text_rows = run.limit_given ? nrows : REPORT_TEXT_LIMIT,
    };
    char *summary[3];
    size_t nsummary = 0;
    summary[nsummary++] = cprof_xasprintf("calls: %llu to %zu function%s",
                                          (unsigned long long)pf->total_calls, pf->nrows,
                                          pf->nrows == 1 ? "" : "s");
    if (pf->timed) {
        char buf[32];
        fmt_human_ns(pf->total_self_ns, buf, sizeof buf);
        summary[nsummary++] = cprof_xasprintf("time in instrumented functions: %s", buf);
    }
    if (compensate && pf->timed)
        summary[nsummary++] = cmd_probe_line(pf);
    struct fmt_cell heap_cells[CMD_HEAP_NCOLS];
    struct fmt_object heap;
    cmd_heap_object(m, heap_cells, &heap);
    char *title = cprof_xasprintf("functions by %s", profile_sort_what(run.sort));
    struct fmt_doc doc = {
        .title = title,
        .model = m,
        .table = &table,
        .summary = (const char *const *)summary,
        .nsummary = nsummary,
        .notes = notes,
        .nnotes = nnotes,
        .warnings = &m->warnings,
        .objects = &heap,
        .nobjects = 1,
        .more = &more,
        .nmore = hotspots,
    };
    run.format->write(stdout, &doc);
    int status = cmd_finish("report", m, run.format, run.status);

    free(title);
    free(pct_note);
    cmd_hotspots_table_free(&hot);
    hs_result_free(&found);
    for (size_t i = 0; i < nsummary; i++)
        free(summary[i]);
    strpool_free(&strs);
    free(cells);
    cmd_view_end(&run);
    return status;
}

const char *const cmd_report_help = report_usage;
