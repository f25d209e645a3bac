/*
 * `cprof export --format json|csv`: every table of the data in one go,
 * under the keys the views use: the per-function table ("functions", as
 * `cprof report`), the call edges ("edges", as `cprof graph`), the source
 * lines ("lines", as `cprof lines`, when some function has line data), the
 * heap totals ("heap", as `cprof report`), the run and the warnings. JSON
 * writes one object; CSV, one table per file, writes a directory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "export.h"
#include "fmt.h"
#include "graph.h"
#include "profile.h"
#include "util.h"

enum {
    FC_NAME,
    FC_FILE,
    FC_LINE,
    FC_MODULE,
    FC_CALLS,
    FC_SELF,
    FC_TOTAL,
    FC_MIN,
    FC_MAX,
    FC_P50,
    FC_P90,
    FC_P99,
    FC_SELF_PCT,
    FC_ALLOC_CALLS,
    FC_ALLOC_BYTES,
    FC_FREE_CALLS,
    FC_FREED_BYTES,
    FC_PEAK,
    FC_COUNT
};

static const struct fmt_col func_cols[FC_COUNT] = {
    [FC_NAME] = {"name", "function", FMT_STR, FMT_DATA_ONLY, 0},
    [FC_FILE] = {"file", "file", FMT_STR, FMT_DATA_ONLY, 0},
    [FC_LINE] = {"line", "line", FMT_UINT, FMT_DATA_ONLY, 0},
    [FC_MODULE] = {"module", "module", FMT_STR, FMT_DATA_ONLY, 0},
    [FC_CALLS] = {"calls", "calls", FMT_UINT, FMT_DATA_ONLY, 0},
    [FC_SELF] = {"self_ns", "self", FMT_NS, FMT_DATA_ONLY, 0},
    [FC_TOTAL] = {"total_ns", "total", FMT_NS, FMT_DATA_ONLY, 0},
    [FC_MIN] = {"min_ns", "min", FMT_NS, FMT_DATA_ONLY, 0},
    [FC_MAX] = {"max_ns", "max", FMT_NS, FMT_DATA_ONLY, 0},
    [FC_P50] = {"p50_ns", "p50", FMT_NS, FMT_DATA_ONLY, 0},
    [FC_P90] = {"p90_ns", "p90", FMT_NS, FMT_DATA_ONLY, 0},
    [FC_P99] = {"p99_ns", "p99", FMT_NS, FMT_DATA_ONLY, 0},
    [FC_SELF_PCT] = {"self_pct", "self%", FMT_PCT, FMT_DATA_ONLY, 0},
    [FC_ALLOC_CALLS] = {"alloc_calls", "allocs", FMT_UINT, FMT_DATA_ONLY, 0},
    [FC_ALLOC_BYTES] = {"alloc_bytes", "allocated", FMT_BYTES, FMT_DATA_ONLY, 0},
    [FC_FREE_CALLS] = {"free_calls", "frees", FMT_UINT, FMT_DATA_ONLY, 0},
    [FC_FREED_BYTES] = {"freed_bytes", "freed", FMT_BYTES, FMT_DATA_ONLY, 0},
    [FC_PEAK] = {"heap_peak_bytes", "heap peak", FMT_BYTES, FMT_DATA_ONLY, 0},
};

enum { EC_CALLER, EC_CALLEE, EC_CALLS, EC_TOTAL, EC_SELF, EC_COUNT };

static const struct fmt_col edge_cols[EC_COUNT] = {
    [EC_CALLER] = {"caller", "caller", FMT_STR, FMT_DATA_ONLY, 0},
    [EC_CALLEE] = {"callee", "callee", FMT_STR, FMT_DATA_ONLY, 0},
    [EC_CALLS] = {"calls", "calls", FMT_UINT, FMT_DATA_ONLY, 0},
    [EC_TOTAL] = {"total_ns", "total", FMT_NS, FMT_DATA_ONLY, 0},
    [EC_SELF] = {"self_ns", "self", FMT_NS, FMT_DATA_ONLY, 0},
};

enum { LC_NAME, LC_FILE, LC_LINE, LC_HITS, LC_TIME, LC_SELF, LC_COUNT };

static const struct fmt_col line_cols[LC_COUNT] = {
    [LC_NAME] = {"name", "function", FMT_STR, FMT_DATA_ONLY, 0},
    [LC_FILE] = {"file", "file", FMT_STR, FMT_DATA_ONLY, 0},
    [LC_LINE] = {"line", "line", FMT_UINT, FMT_DATA_ONLY, 0},
    [LC_HITS] = {"hits", "hits", FMT_UINT, FMT_DATA_ONLY, 0},
    [LC_TIME] = {"time_ns", "time", FMT_NS, FMT_DATA_ONLY, 0},
    [LC_SELF] = {"self_ns", "self", FMT_NS, FMT_DATA_ONLY, 0},
};

/* Every table of run, allocated by tables_build and freed by tables_free. */
struct tables {
    struct fmt_table funcs, edges, lines, heap;
    struct fmt_cell heap_cells[CMD_HEAP_NCOLS];
    struct fmt_object heap_obj;
    struct graph graph;
    const char **names;
};

static void tables_funcs(const struct profile *pf, struct fmt_table *t)
{
    struct fmt_cell *cells = cprof_xcalloc(pf->nrows * FC_COUNT + 1, sizeof(*cells));
    for (size_t i = 0; i < pf->nrows; i++) {
        const struct pf_row *r = &pf->rows[i];
        struct fmt_cell *c = &cells[i * FC_COUNT];
        c[FC_NAME].str = r->name;
        c[FC_FILE].str = r->file;
        c[FC_LINE].num = r->line;
        c[FC_LINE].null = r->line == 0;
        c[FC_MODULE].str = r->module;
        c[FC_CALLS].num = (double)r->calls;
        c[FC_SELF].num = r->self_ns;
        c[FC_TOTAL].num = r->total_ns;
        c[FC_MIN].num = r->min_ns;
        c[FC_MAX].num = r->max_ns;
        c[FC_MIN].null = c[FC_MAX].null = r->completed == 0;
        c[FC_P50].num = r->p50_ns;
        c[FC_P90].num = r->p90_ns;
        c[FC_P99].num = r->p99_ns;
        c[FC_SELF_PCT].num = r->self_pct;
        for (int k = FC_P50; k <= FC_P99; k++)
            c[k].null = !pf->timed || !r->has_pct;
        for (int k = FC_SELF; k <= FC_SELF_PCT; k++)
            c[k].null |= !pf->timed;
        c[FC_ALLOC_CALLS].num = (double)r->alloc_calls;
        c[FC_ALLOC_BYTES].num = (double)r->alloc_bytes;
        c[FC_FREE_CALLS].num = (double)r->free_calls;
        c[FC_FREED_BYTES].num = (double)r->freed_bytes;
        c[FC_PEAK].num = (double)r->peak_bytes;
        for (int k = FC_ALLOC_CALLS; k <= FC_PEAK; k++)
            c[k].null = !pf->heap;
    }
    *t = (struct fmt_table){.name = "functions",
                            .cols = func_cols,
                            .ncols = FC_COUNT,
                            .cells = cells,
                            .nrows = pf->nrows};
}

static void tables_edges(struct tables *tb, const struct model *m, struct fmt_table *t)
{
    graph_build(m, &tb->graph);
    const struct graph *g = &tb->graph;
    struct fmt_cell *cells = cprof_xcalloc(g->nedges * EC_COUNT + 1, sizeof(*cells));
    for (size_t i = 0; i < g->nedges; i++) {
        const struct gr_edge *e = &g->edges[i];
        struct fmt_cell *c = &cells[i * EC_COUNT];
        c[EC_CALLER].str = e->caller == M_NONE ? "" : tb->names[e->caller];
        c[EC_CALLEE].str = tb->names[e->callee];
        c[EC_CALLS].num = (double)e->calls;
        c[EC_TOTAL].num = e->total_ns;
        c[EC_SELF].num = e->self_ns;
        c[EC_TOTAL].null = c[EC_SELF].null = !m->timed;
    }
    *t = (struct fmt_table){.name = "edges",
                            .cols = edge_cols,
                            .ncols = EC_COUNT,
                            .cells = cells,
                            .nrows = g->nedges};
}

static void tables_lines(const struct tables *tb, const struct model *m,
                         struct fmt_table *t)
{
    struct fmt_cell *cells = cprof_xcalloc(m->nlines * LC_COUNT + 1, sizeof(*cells));
    for (size_t i = 0; i < m->nlines; i++) {
        const struct m_line *l = &m->lines[i];
        struct fmt_cell *c = &cells[i * LC_COUNT];
        c[LC_NAME].str = tb->names[l->func][0] ? tb->names[l->func] : l->func_name;
        c[LC_FILE].str = l->file;
        c[LC_LINE].num = l->line;
        c[LC_HITS].num = (double)l->hits;
        c[LC_TIME].num = l->time_ns;
        c[LC_SELF].num = l->self_ns;
        c[LC_TIME].null = c[LC_SELF].null = !m->timed;
    }
    *t = (struct fmt_table){.name = "lines",
                            .cols = line_cols,
                            .ncols = LC_COUNT,
                            .cells = cells,
                            .nrows = m->nlines};
}

static void tables_build(struct cmd_view_run *run, struct tables *tb)
{
    memset(tb, 0, sizeof(*tb));
    tb->names = export_func_names(run);
    tables_funcs(&run->profile, &tb->funcs);
    tables_edges(tb, &run->model, &tb->edges);
    tables_lines(tb, &run->model, &tb->lines);
    cmd_heap_object(&run->model, tb->heap_cells, &tb->heap_obj);
    tb->heap = (struct fmt_table){.name = "heap",
                                  .cols = tb->heap_obj.cols,
                                  .ncols = tb->heap_obj.ncols,
                                  .cells = tb->heap_cells,
                                  .nrows = 1};
}

static void tables_free(struct tables *tb)
{
    free((void *)tb->funcs.cells);
    free((void *)tb->edges.cells);
    free((void *)tb->lines.cells);
    graph_free(&tb->graph);
    free(tb->names);
}

int export_json(FILE *out, struct cmd_view_run *run, const struct export_opts *o)
{
    (void)o;
    struct tables tb;
    tables_build(run, &tb);
    const struct fmt_table *more[2] = {&tb.edges, &tb.lines};
    struct fmt_doc doc = {
        .model = &run->model,
        .table = &tb.funcs,
        .warnings = &run->model.warnings,
        .more = more,
        .nmore = run->model.nlines ? 2 : 1,
        .objects = &tb.heap_obj,
        .nobjects = 1,
    };
    fmt_json.write(out, &doc);
    tables_free(&tb);
    return CPROF_EXIT_OK;
}

/* One table into dir/<table name>.csv, atomically. */
static int tables_csv(const char *dir, const struct fmt_table *t,
                      const struct warnings *warnings)
{
    char *path = cprof_xasprintf("%s/%s.csv", dir, t->name), *tmp;
    FILE *f = export_create(path, &tmp);
    int r = -1;
    if (f) {
        struct fmt_doc doc = {.table = t, .warnings = warnings};
        fmt_csv.write(f, &doc);
        r = export_commit(f, path, tmp, 1);
    }
    free(path);
    return r;
}

int export_csv(struct cmd_view_run *run, const struct export_opts *o)
{
    if (!o->out_path) {
        cprof_error("export: csv writes a directory of tables (functions.csv, "
                    "edges.csv, ...): name it with -o DIR");
        return CPROF_EXIT_USAGE;
    }
    if (mkdir(o->out_path, 0777) != 0 && errno != EEXIST) {
        cprof_error("export: %s: %s", o->out_path, strerror(errno));
        return CPROF_EXIT_DATA;
    }
    struct tables tb;
    tables_build(run, &tb);
    int bad = tables_csv(o->out_path, &tb.funcs, &run->model.warnings) < 0 ||
              tables_csv(o->out_path, &tb.edges, NULL) < 0 ||
              (run->model.nlines && tables_csv(o->out_path, &tb.lines, NULL) < 0) ||
              (run->model.heap && tables_csv(o->out_path, &tb.heap, NULL) < 0);
    tables_free(&tb);
    return bad ? CPROF_EXIT_DATA : CPROF_EXIT_OK;
}
