/*
 * `cprof heap`: heap use per function (format 1.2 data). For every
 * function: allocation and free calls and their requested bytes while it
 * was the innermost call (self), the same with its callees (recursion
 * counted once, as total time is), the net change of both, the peak heap
 * while it ran and what it allocated that was still allocated at exit;
 * then the leaks by allocating function and the process totals. The
 * figures come from the per-function view (profile.c) and the model's
 * leak accounting (model_heap.c), so `cprof report` shows the same.
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

#define HEAP_TEXT_LIMIT 50

static const char heap_usage[] =
    "usage: cprof heap [FUNC...] [PATH...] [--format text|json|csv] [--sort KEY]\n"
    "                  [--limit N] [--pid PID] [--tid TID]\n"
    "\n"
    "Shows each function's heap use: allocation and free calls with the bytes\n"
    "they requested, in the function itself (self) and with its callees\n"
    "(total, recursion counted once), the net change (allocated less freed),\n"
    "the peak heap in use while it ran, and what it allocated that was still\n"
    "allocated at exit; then those leaks by allocating function and the\n"
    "totals of the run. Needs data of format 1.2 or later.\n"
    "\n"
    "  FUNC            a function name or glob (fnmatch: 'parse_*'); default all\n"
    "  PATH            a .cprof file or a directory of them (default ./cprof.data);\n"
    "                  an argument that names an existing file or directory, has\n"
    "                  a '/' or ends in .cprof is a PATH, any other a FUNC\n"
    "  -f, --format F  text (default), json or csv\n"
    "  -s, --sort KEY  alloc (default: bytes allocated, callees included),\n"
    "                  self_alloc, alloc_calls, free_calls, freed, delta,\n"
    "                  self_delta, peak, leaked, calls, name or file\n"
    "  -n, --limit N   show the first N functions; 0 shows all (text shows 50 by\n"
    "                  default, json and csv all)\n"
    "      --pid PID   only the process PID\n"
    "      --tid TID   only the thread with kernel thread id TID\n"
    "\n"
    "Examples:\n"
    "  cprof heap                                   allocations, frees, net, peak per "
    "function\n"
    "  cprof heap --sort leaked -n 10               the ten biggest leakers\n"
    "  cprof heap load_config                       one function's figures\n"
    "\n"
    "Exit status: 0 shown, 1 bad command line or a FUNC that names no function,\n"
    "2 no usable data, or a file damaged or cut short (the view then covers\n"
    "what it holds). See docs/cprof-heap.md.\n";

enum heap_col {
    HP_NAME,
    HP_NAME_TEXT,
    HP_LOCATION,
    HP_FILE,
    HP_LINE,
    HP_CALLS,
    HP_ALLOC_CALLS,
    HP_ALLOC_BYTES,
    HP_FREE_CALLS,
    HP_FREED_BYTES,
    HP_SELF_DELTA,
    HP_TOTAL_ALLOC_CALLS,
    HP_TOTAL_ALLOC_BYTES,
    HP_TOTAL_FREE_CALLS,
    HP_TOTAL_FREED_BYTES,
    HP_DELTA,
    HP_PEAK,
    HP_LEAKED_BLOCKS,
    HP_LEAKED_BYTES,
    HP_MODULE,
    HP_COUNT
};

static const struct fmt_col heap_cols[HP_COUNT] = {
    [HP_NAME] = {"name", "function", FMT_STR, FMT_DATA_ONLY, 0},
    [HP_NAME_TEXT] = {"name", "function", FMT_STR, FMT_TEXT_ONLY, 0},
    [HP_LOCATION] = {"location", "file:line", FMT_STR, FMT_TEXT_ONLY, 0},
    [HP_FILE] = {"file", "file", FMT_STR, FMT_DATA_ONLY, 0},
    [HP_LINE] = {"line", "line", FMT_UINT, FMT_DATA_ONLY, 0},
    [HP_CALLS] = {"calls", "calls", FMT_UINT, FMT_ALL, 0},
    [HP_ALLOC_CALLS] = {"alloc_calls", "allocs", FMT_UINT, FMT_ALL, 0},
    [HP_ALLOC_BYTES] = {"alloc_bytes", "allocated", FMT_BYTES, FMT_ALL, 0},
    [HP_FREE_CALLS] = {"free_calls", "frees", FMT_UINT, FMT_ALL, 0},
    [HP_FREED_BYTES] = {"freed_bytes", "freed", FMT_BYTES, FMT_ALL, 0},
    [HP_SELF_DELTA] = {"heap_delta_self_bytes", "net", FMT_BYTES, FMT_ALL, FMT_SIGN},
    [HP_TOTAL_ALLOC_CALLS] = {"total_alloc_calls", "total allocs", FMT_UINT,
                              FMT_DATA_ONLY, 0},
    [HP_TOTAL_ALLOC_BYTES] = {"total_alloc_bytes", "total allocated", FMT_BYTES, FMT_ALL,
                              0},
    [HP_TOTAL_FREE_CALLS] = {"total_free_calls", "total frees", FMT_UINT, FMT_DATA_ONLY,
                             0},
    [HP_TOTAL_FREED_BYTES] = {"total_freed_bytes", "total freed", FMT_BYTES,
                              FMT_DATA_ONLY, 0},
    [HP_DELTA] = {"heap_delta_bytes", "total net", FMT_BYTES, FMT_ALL, FMT_SIGN},
    [HP_PEAK] = {"heap_peak_bytes", "peak", FMT_BYTES, FMT_ALL, 0},
    [HP_LEAKED_BLOCKS] = {"leaked_blocks", "leaked blocks", FMT_UINT, FMT_DATA_ONLY, 0},
    [HP_LEAKED_BYTES] = {"leaked_bytes", "leaked", FMT_BYTES, FMT_ALL, 0},
    [HP_MODULE] = {"module", "module", FMT_STR, FMT_DATA_ONLY, 0},
};

/* The leak table: allocating functions with blocks still allocated. */
enum leak_col {
    LK_NAME,
    LK_NAME_TEXT,
    LK_LOCATION,
    LK_FILE,
    LK_LINE,
    LK_BLOCKS,
    LK_BYTES,
    LK_MODULE,
    LK_COUNT
};

static const struct fmt_col leak_cols[LK_COUNT] = {
    [LK_NAME] = {"name", "function", FMT_STR, FMT_DATA_ONLY, 0},
    [LK_NAME_TEXT] = {"name", "allocated by", FMT_STR, FMT_TEXT_ONLY, 0},
    [LK_LOCATION] = {"location", "file:line", FMT_STR, FMT_TEXT_ONLY, 0},
    [LK_FILE] = {"file", "file", FMT_STR, FMT_DATA_ONLY, 0},
    [LK_LINE] = {"line", "line", FMT_UINT, FMT_DATA_ONLY, 0},
    [LK_BLOCKS] = {"leaked_blocks", "blocks", FMT_UINT, FMT_ALL, 0},
    [LK_BYTES] = {"leaked_bytes", "bytes", FMT_BYTES, FMT_ALL, 0},
    [LK_MODULE] = {"module", "module", FMT_STR, FMT_DATA_ONLY, 0},
};

static int heap_sort_key(const char *name, enum pf_sort *key)
{
    if (profile_sort_key(name, key) < 0)
        return -1;
    /* the time keys are cprof report's */
    return *key >= PF_SORT_ALLOC || *key == PF_SORT_CALLS || *key == PF_SORT_NAME ||
                   *key == PF_SORT_FILE
               ? 0
               : -1;
}

static const struct cmd_view heap_view = {"heap", heap_usage, heap_sort_key, 1};

/* Keeps the rows a pattern names (all when there is none), in order.
 * Returns 0, or -1 after saying which pattern matched no function. */
static int heap_select(struct profile *pf, char **patterns, size_t npatterns)
{
    if (npatterns == 0)
        return 0;
    unsigned char *matched = cprof_xcalloc(pf->nrows + 1, sizeof(*matched));
    int status = cmd_select("heap", pf, patterns, npatterns, matched);
    size_t kept = 0;
    for (size_t i = 0; i < pf->nrows; i++)
        if (matched[i])
            pf->rows[kept++] = pf->rows[i];
    pf->nrows = kept;
    free(matched);
    return status;
}

/* "file:line" of a row, relative to cwd when below it. */
static const char *heap_location(struct strpool *hs, const struct pf_row *r,
                                 const char *cwd)
{
    return strpool_own(hs, cmd_location(r->file, r->module, r->line, cwd));
}

static void heap_row(const struct pf_row *r, const char *location, struct fmt_cell *cell)
{
    const double values[HP_COUNT] = {
        [HP_LINE] = r->line,
        [HP_CALLS] = (double)r->calls,
        [HP_ALLOC_CALLS] = (double)r->alloc_calls,
        [HP_ALLOC_BYTES] = (double)r->alloc_bytes,
        [HP_FREE_CALLS] = (double)r->free_calls,
        [HP_FREED_BYTES] = (double)r->freed_bytes,
        [HP_SELF_DELTA] = pf_delta(r->alloc_bytes, r->freed_bytes),
        [HP_TOTAL_ALLOC_CALLS] = (double)r->total_alloc_calls,
        [HP_TOTAL_ALLOC_BYTES] = (double)r->total_alloc_bytes,
        [HP_TOTAL_FREE_CALLS] = (double)r->total_free_calls,
        [HP_TOTAL_FREED_BYTES] = (double)r->total_freed_bytes,
        [HP_DELTA] = pf_delta(r->total_alloc_bytes, r->total_freed_bytes),
        [HP_PEAK] = (double)r->peak_bytes,
        [HP_LEAKED_BLOCKS] = (double)r->leaked_blocks,
        [HP_LEAKED_BYTES] = (double)r->leaked_bytes,
    };
    for (int c = 0; c < HP_COUNT; c++)
        cell[c] = (struct fmt_cell){.num = values[c]};
    cell[HP_NAME].str = cell[HP_NAME_TEXT].str = r->name;
    cell[HP_LOCATION].str = location;
    cell[HP_FILE].str = r->file;
    cell[HP_LINE].null = r->line == 0;
    cell[HP_MODULE].str = r->module;
}

static void heap_leak_row(const struct pf_row *r, const char *location,
                          struct fmt_cell *cell)
{
    for (int c = 0; c < LK_COUNT; c++)
        cell[c] = (struct fmt_cell){0};
    cell[LK_NAME].str = cell[LK_NAME_TEXT].str = r->name;
    cell[LK_LOCATION].str = location;
    cell[LK_FILE].str = r->file;
    cell[LK_LINE].num = r->line;
    cell[LK_LINE].null = r->line == 0;
    cell[LK_BLOCKS].num = (double)r->leaked_blocks;
    cell[LK_BYTES].num = (double)r->leaked_bytes;
    cell[LK_MODULE].str = r->module;
}

/* "N things of B bytes" for the summary lines. */
static const char *heap_count(struct strpool *hs, uint64_t n, const char *what,
                              uint64_t bytes)
{
    char b[32];
    fmt_human_bytes((double)bytes, 0, b, sizeof b);
    return strpool_own(hs, cprof_xasprintf("%llu %s%s (%s)", (unsigned long long)n, what,
                                           n == 1 ? "" : "s", b));
}

/* The text lines under the run description: the totals of the run. */
static size_t heap_summary(const struct model *m, struct strpool *hs, const char **lines)
{
    size_t n = 0;
    if (!m->heap) {
        lines[n++] = "no heap data: these files were written before format 1.2, or "
                     "by a runtime that did not record the heap";
        return n;
    }
    struct m_heap_totals t;
    model_heap_totals(m, &t);
    char peak[32], rss[32];
    fmt_human_bytes((double)t.peak_bytes, 0, peak, sizeof peak);
    fmt_human_bytes((double)t.peak_rss_bytes, 0, rss, sizeof rss);
    lines[n++] = strpool_own(
        hs, cprof_xasprintf(
                "heap: %s, %s; peak %s in use%s, peak RSS %s",
                heap_count(hs, t.heap.alloc_calls, "allocation", t.heap.alloc_bytes),
                heap_count(hs, t.heap.free_calls, "free", t.heap.freed_bytes), peak,
                t.procs > 1 ? " (the largest process)" : "", rss));
    lines[n++] = strpool_own(
        hs, cprof_xasprintf("outside instrumented calls: %s, %s",
                            heap_count(hs, t.heap.outside_alloc_calls, "allocation",
                                       t.heap.outside_alloc_bytes),
                            heap_count(hs, t.heap.outside_free_calls, "free",
                                       t.heap.outside_freed_bytes)));
    uint64_t rest_bytes =
        t.leaked_bytes > t.func_leaked_bytes + t.outside_leaked_bytes
            ? t.leaked_bytes - t.func_leaked_bytes - t.outside_leaked_bytes
            : 0;
    uint64_t rest_blocks =
        t.leaked_blocks > t.func_leaked_blocks + t.outside_leaked_blocks
            ? t.leaked_blocks - t.func_leaked_blocks - t.outside_leaked_blocks
            : 0;
    struct strbuf sb = {0};
    sb_printf(&sb, "still allocated at exit: %s",
              heap_count(hs, t.leaked_blocks, "block", t.leaked_bytes));
    sb_printf(&sb, "; by instrumented functions %s",
              heap_count(hs, t.func_leaked_blocks, "block", t.func_leaked_bytes));
    sb_printf(&sb, ", outside instrumented calls %s",
              heap_count(hs, t.outside_leaked_blocks, "block", t.outside_leaked_bytes));
    if (rest_blocks || rest_bytes)
        sb_printf(&sb, ", before a fork by the parent or not attributed %s",
                  heap_count(hs, rest_blocks, "block", rest_bytes));
    lines[n++] = strpool_own(hs, sb.s);
    if (t.foreign_frees)
        lines[n++] = strpool_own(
            hs, cprof_xasprintf("foreign frees: %llu (of blocks cprof did not allocate: "
                                "passed on to libc, not counted)",
                                (unsigned long long)t.foreign_frees));
    if (t.procs < m->nprocs)
        lines[n++] =
            strpool_own(hs, cprof_xasprintf("%zu of %zu processes have no heap "
                                            "data (format before 1.2): not counted",
                                            m->nprocs - t.procs, m->nprocs));
    return n;
}

int cmd_heap(int argc, char **argv)
{
    struct cmd_view_run run;
    if (!cmd_view_start(&heap_view, argc, argv, &run)) {
        cmd_view_end(&run);
        return run.status;
    }
    struct model *m = &run.model;
    struct profile *pf = &run.profile;
    int status = run.status;
    if (!run.sort_given)
        run.sort = PF_SORT_ALLOC;
    if (!pf->heap)
        pf->nrows = 0; /* zeros would not be facts */
    if (pf->heap && heap_select(pf, run.funcs, run.nfuncs) < 0) {
        cmd_view_end(&run);
        return CPROF_EXIT_USAGE;
    }

    /* the leak table, before the main one is sorted and cut */
    struct profile leaks = *pf;
    leaks.rows = cprof_xcalloc(pf->nrows + 1, sizeof(*leaks.rows));
    leaks.nrows = 0;
    for (size_t i = 0; i < pf->nrows; i++)
        if (pf->rows[i].leaked_blocks || pf->rows[i].leaked_bytes)
            leaks.rows[leaks.nrows++] = pf->rows[i];
    profile_sort(&leaks, PF_SORT_LEAKED);
    profile_sort(pf, run.sort);
    size_t nrows = pf->nrows;
    if (run.limit_given && run.limit && run.limit < nrows)
        nrows = (size_t)run.limit;

    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    struct strpool hs = {0};
    struct fmt_cell *cells = cprof_xcalloc(nrows * HP_COUNT + 1, sizeof(*cells));
    for (size_t i = 0; i < nrows; i++)
        heap_row(&pf->rows[i], heap_location(&hs, &pf->rows[i], cwd),
                 &cells[i * HP_COUNT]);
    struct fmt_cell *leak_cells =
        cprof_xcalloc(leaks.nrows * LK_COUNT + 1, sizeof(*leak_cells));
    for (size_t i = 0; i < leaks.nrows; i++)
        heap_leak_row(&leaks.rows[i], heap_location(&hs, &leaks.rows[i], cwd),
                      &leak_cells[i * LK_COUNT]);

    struct fmt_table table = {
        .name = "functions",
        .cols = heap_cols,
        .ncols = HP_COUNT,
        .cells = cells,
        .nrows = nrows,
        .text_rows = run.limit_given ? nrows : HEAP_TEXT_LIMIT,
        .empty = m->heap ? "(no function selected)" : "(no heap data)",
    };
    struct fmt_table leak_table = {
        .name = "leaks",
        .cols = leak_cols,
        .ncols = LK_COUNT,
        .cells = leak_cells,
        .nrows = leaks.nrows,
        .text_rows = leaks.nrows,
        .empty = m->heap ? "(nothing allocated by these functions was left allocated)"
                         : "(no heap data)",
        .title = "still allocated at exit, by allocating function",
    };
    const struct fmt_table *more[] = {&leak_table};
    const char *summary[8];
    size_t nsummary = heap_summary(m, &hs, summary);
    struct fmt_cell heap_cells[CMD_HEAP_NCOLS];
    struct fmt_object heap;
    cmd_heap_object(m, heap_cells, &heap);
    const char *title =
        strpool_own(&hs, cprof_xasprintf("functions by %s", profile_sort_what(run.sort)));
    struct fmt_doc doc = {
        .title = title,
        .model = m,
        .table = &table,
        .summary = summary,
        .nsummary = nsummary,
        .warnings = &m->warnings,
        .more = more,
        .nmore = 1,
        .objects = &heap,
        .nobjects = 1,
    };
    run.format->write(stdout, &doc);
    status = cmd_finish("heap", m, run.format, status);

    strpool_free(&hs);
    free(cells);
    free(leak_cells);
    free(leaks.rows);
    cmd_view_end(&run);
    return status;
}

const char *const cmd_heap_help = heap_usage;
