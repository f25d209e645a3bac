/*
 * `cprof graph`: who calls whom. For each function (or the ones FUNC
 * names), its callers and its callees with the exact calls along each edge,
 * the inclusive time those calls took and the callee's own time in them,
 * as gprof's call graph shows; with --tree, the calling-context tree merged
 * by call path, as `uftrace graph` shows, folding the paths below
 * --min-pct of the total into one line per place that says what it holds.
 * The numbers come from graph.c; function names and totals from the
 * per-function view (profile.c), so they agree with `cprof report`, and
 * so do the compensated times (probe cost subtracted) --compensate shows.
 * This file has the options and the edges; the tree is cmd_graph_tree.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_common.h"
#include "cmd_graph.h"
#include "commands.h"
#include "fmt.h"
#include "graph.h"
#include "model.h"
#include "profile.h"
#include "util.h"

#define GRAPH_TEXT_LIMIT 50
#define GRAPH_DEFAULT_MIN_PCT 1.0

static const char graph_usage[] =
    "usage: cprof graph [FUNC...] [PATH...] [--tree [--min-pct P]] [--compensate]\n"
    "                   [--format text|json|csv] [--limit N] [--pid PID] [--tid TID]\n"
    "\n"
    "Shows each function's callers and callees: the exact calls along each\n"
    "edge, their inclusive time (a call nested in another along the same edge\n"
    "counted once) and the callee's self time in them. With --tree, the\n"
    "calling-context tree merged by call path, indented.\n"
    "\n"
    "  FUNC            a function name or glob (fnmatch: 'parse_*'): only its\n"
    "                  callers and callees, or with --tree its own tree\n"
    "  PATH            a .cprof file or a directory of them (default ./cprof.data);\n"
    "                  an argument that names an existing file or directory, has\n"
    "                  a '/' or ends in .cprof is a PATH, any other a FUNC\n"
    "      --tree      the calling-context tree instead of the edges\n"
    "      --min-pct P --tree: fold the paths under P percent of the tree's total\n"
    "                  time (of its calls in count mode) into one line each place;\n"
    "                  default 1, 0 shows every path\n"
    "      --compensate  show times with the probe cost the runtime measured at\n"
    "                  start subtracted too (total adj, self adj; ordered and\n"
    "                  folded by total adj): estimates, where the raw times are\n"
    "                  measurements, as in cprof report; ! marks a line clamped\n"
    "                  at 0 (json and csv always have them: total_adj_ns,\n"
    "                  self_adj_ns, adj_clamped)\n"
    "  -f, --format F  text (default), json or csv\n"
    "  -n, --limit N   show the first N functions (text shows 50 by default, json\n"
    "                  all); 0 shows all. Edges and the tree are never cut\n"
    "      --pid PID   only the process PID\n"
    "      --tid TID   only the thread with kernel thread id TID\n"
    "\n"
    "Examples:\n"
    "  cprof graph parse_expr                       its callers and callees\n"
    "  cprof graph --tree --min-pct 2               the call tree, branches of 2% or "
    "more\n"
    "\n"
    "Exit status: 0 shown, 1 bad command line or a FUNC that names no function,\n"
    "2 no usable data, or a file damaged or cut short (the view then covers\n"
    "what it holds). See docs/cprof-graph.md.\n";

static const struct cmd_view graph_cmd_view = {"graph", graph_usage, NULL, 1};

/* The edges for programs (json, csv): one row per edge. */
enum edge_col {
    ED_CALLER,
    ED_CALLEE,
    ED_CALLS,
    ED_TOTAL,
    ED_SELF,
    ED_TOTAL_ADJ,
    ED_SELF_ADJ,
    ED_ADJ_CLAMPED,
    ED_CALLER_FILE,
    ED_CALLEE_FILE,
    ED_COUNT
};

static const struct fmt_col edge_cols[ED_COUNT] = {
    [ED_CALLER] = {"caller", "caller", FMT_STR, FMT_DATA_ONLY, 0},
    [ED_CALLEE] = {"callee", "callee", FMT_STR, FMT_DATA_ONLY, 0},
    [ED_CALLS] = {"calls", "calls", FMT_UINT, FMT_DATA_ONLY, 0},
    [ED_TOTAL] = {"total_ns", "total", FMT_NS, FMT_DATA_ONLY, 0},
    [ED_SELF] = {"self_ns", "self", FMT_NS, FMT_DATA_ONLY, 0},
    [ED_TOTAL_ADJ] = {"total_adj_ns", "total adj", FMT_NS, FMT_DATA_ONLY, 0},
    [ED_SELF_ADJ] = {"self_adj_ns", "self adj", FMT_NS, FMT_DATA_ONLY, 0},
    [ED_ADJ_CLAMPED] = {"adj_clamped", "clamped", FMT_BOOL, FMT_DATA_ONLY, 0},
    [ED_CALLER_FILE] = {"caller_file", "caller file", FMT_STR, FMT_DATA_ONLY, 0},
    [ED_CALLEE_FILE] = {"callee_file", "callee file", FMT_STR, FMT_DATA_ONLY, 0},
};

/* The functions the edges are shown for (json). */
enum func_col {
    FN_NAME,
    FN_FILE,
    FN_LINE,
    FN_CALLS,
    FN_TOTAL,
    FN_SELF,
    FN_TOTAL_ADJ,
    FN_SELF_ADJ,
    FN_ADJ_CLAMPED,
    FN_MODULE,
    FN_COUNT
};

static const struct fmt_col func_cols[FN_COUNT] = {
    [FN_NAME] = {"name", "function", FMT_STR, FMT_DATA_ONLY, 0},
    [FN_FILE] = {"file", "file", FMT_STR, FMT_DATA_ONLY, 0},
    [FN_LINE] = {"line", "line", FMT_UINT, FMT_DATA_ONLY, 0},
    [FN_CALLS] = {"calls", "calls", FMT_UINT, FMT_DATA_ONLY, 0},
    [FN_TOTAL] = {"total_ns", "total", FMT_NS, FMT_DATA_ONLY, 0},
    [FN_SELF] = {"self_ns", "self", FMT_NS, FMT_DATA_ONLY, 0},
    [FN_TOTAL_ADJ] = {"total_adj_ns", "total adj", FMT_NS, FMT_DATA_ONLY, 0},
    [FN_SELF_ADJ] = {"self_adj_ns", "self adj", FMT_NS, FMT_DATA_ONLY, 0},
    [FN_ADJ_CLAMPED] = {"adj_clamped", "clamped", FMT_BOOL, FMT_DATA_ONLY, 0},
    [FN_MODULE] = {"module", "module", FMT_STR, FMT_DATA_ONLY, 0},
};

/* The edges for people: per function its callers, itself, its callees;
 * the compensated times with --compensate. */
enum block_col {
    BK_ROLE,
    BK_NAME,
    BK_CALLS,
    BK_TOTAL,
    BK_SELF,
    BK_TOTAL_ADJ,
    BK_SELF_ADJ,
    BK_COUNT
};

static const struct fmt_col block_cols[BK_COUNT] = {
    [BK_ROLE] = {"role", "", FMT_STR, FMT_TEXT_ONLY, 0},
    [BK_NAME] = {"name", "function", FMT_STR, FMT_TEXT_ONLY, 0},
    [BK_CALLS] = {"calls", "calls", FMT_UINT, FMT_TEXT_ONLY, 0},
    [BK_TOTAL] = {"total_ns", "total", FMT_NS, FMT_TEXT_ONLY, 0},
    [BK_SELF] = {"self_ns", "self", FMT_NS, FMT_TEXT_ONLY, 0},
    [BK_TOTAL_ADJ] = {"total_adj_ns", "total adj", FMT_NS, FMT_DATA_ONLY, 0},
    [BK_SELF_ADJ] = {"self_adj_ns", "self adj", FMT_NS, FMT_DATA_ONLY, 0},
};

/* A new row of ncols cells of the main table, all zero. */
struct fmt_cell *gv_row(struct gv *v, size_t ncols)
{
    cprof_grow(&v->cells, &v->cells_cap, (v->nrows + 1) * ncols, sizeof(*v->cells));
    struct fmt_cell *row = &v->cells[v->nrows++ * ncols];
    memset(row, 0, ncols * sizeof(*row));
    return row;
}

const char *gv_name(const struct gv *v, uint32_t func)
{
    return func != M_NONE && v->row_of[func] ? v->row_of[func]->name : "?";
}

static const char *gv_file(const struct gv *v, uint32_t func)
{
    return func != M_NONE && v->row_of[func] ? v->row_of[func]->file : "";
}

/* What orders functions, edges and paths: time (--compensate: less the
 * probe cost), or calls in count mode. */
double gv_weight(const struct gv *v, double total_ns, double total_adj_ns, uint64_t calls)
{
    if (!v->timed)
        return (double)calls;
    return v->compensate ? total_adj_ns : total_ns;
}

/* Sets a time cell: null in count mode. */
void gv_time(const struct gv *v, struct fmt_cell *cell, double ns)
{
    cell->num = ns;
    cell->null = !v->timed;
}

/* Sets the compensated cells total, self and (not NULL) clamped: null
 * when the data has no probe cost. */
void gv_adj(const struct gv *v, struct fmt_cell *total, struct fmt_cell *self,
            struct fmt_cell *clamped, double total_adj_ns, double self_adj_ns,
            int adj_clamped)
{
    total->num = total_adj_ns;
    self->num = self_adj_ns;
    total->null = self->null = !v->compensable;
    if (clamped) {
        clamped->num = adj_clamped;
        clamped->null = !v->compensable;
    }
}

/* name, with the clamp mark when --compensate shows a clamped line: owned
 * by v. */
const char *gv_marked(struct gv *v, const char *name, int adj_clamped)
{
    if (!(v->compensate && adj_clamped))
        return name;
    return strpool_own(&v->owned, cprof_xasprintf("%s%s", name, CMD_CLAMP_MARK));
}

/*
 * --tree and --min-pct P, which the shared view options do not have, taken
 * out of argv (before a "--"); the rest is left in *argc, argv. Returns 0,
 * or -1 after saying what was wrong.
 */
static int gv_own_options(int *argc, char **argv, int *tree, double *min_pct)
{
    int kept = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            while (i < *argc)
                argv[kept++] = argv[i++];
            break;
        }
        if (!strcmp(a, "--tree")) {
            *tree = 1;
            continue;
        }
        const char *value = NULL;
        if (!strcmp(a, "--min-pct")) {
            if (i + 1 >= *argc) {
                cprof_error("graph: option '--min-pct' needs a value");
                return -1;
            }
            value = argv[++i];
        } else if (!strncmp(a, "--min-pct=", 10)) {
            value = a + 10;
        }
        if (!value) {
            argv[kept++] = argv[i];
            continue;
        }
        char *end;
        *min_pct = strtod(value, &end);
        if (end == value || *end || !(*min_pct >= 0 && *min_pct <= 100)) {
            cprof_error("graph: --min-pct wants a percentage from 0 to 100, not '%s'",
                        value);
            return -1;
        }
    }
    *argc = kept;
    argv[kept] = NULL;
    return 0;
}

/* Marks the functions the FUNC patterns name. Returns 0, or -1 after
 * saying which pattern matched no function. */
static int gv_select(struct gv *v)
{
    const struct profile *pf = &v->run.profile;
    unsigned char *matched = cprof_xcalloc(pf->nrows + 1, sizeof(*matched));
    int status = cmd_select("graph", pf, v->run.funcs, v->run.nfuncs, matched);
    for (size_t i = 0; i < pf->nrows; i++)
        if (matched[i])
            v->selected[pf->rows[i].func] = 1;
    free(matched);
    v->any_selected = v->run.nfuncs > 0;
    return status;
}

int gv_shows(const struct gv *v, uint32_t func)
{
    return !v->any_selected || (func != M_NONE && v->selected[func]);
}

/* ---- the edges ---------------------------------------------------------- */

static const struct gv *gv_sorting;

static int gv_cmp_edge(const void *pa, const void *pb)
{
    const struct gr_edge *a = *(const struct gr_edge *const *)pa;
    const struct gr_edge *b = *(const struct gr_edge *const *)pb;
    double wa = gv_weight(gv_sorting, a->total_ns, a->total_adj_ns, a->calls);
    double wb = gv_weight(gv_sorting, b->total_ns, b->total_adj_ns, b->calls);
    if (wa != wb)
        return wa < wb ? 1 : -1;
    if (a->calls != b->calls)
        return a->calls < b->calls ? 1 : -1;
    int c = strcmp(gv_name(gv_sorting, a->caller), gv_name(gv_sorting, b->caller));
    if (!c)
        c = strcmp(gv_name(gv_sorting, a->callee), gv_name(gv_sorting, b->callee));
    if (!c)
        c = a->caller != b->caller ? (a->caller < b->caller ? -1 : 1)
                                   : (a->callee < b->callee ? -1 : a->callee > b->callee);
    return c;
}

/* The edges with something to show that touch a selected function, sorted
 * (heaviest first). Returns the count; *out is allocated. */
static size_t gv_edges(struct gv *v, const struct graph *g, const struct gr_edge ***out)
{
    const struct gr_edge **edges = cprof_xcalloc(g->nedges + 1, sizeof(*edges));
    size_t n = 0;
    for (size_t i = 0; i < g->nedges; i++) {
        const struct gr_edge *e = &g->edges[i];
        if (!e->calls && !(e->total_ns > 0) && !(e->self_ns > 0))
            continue;
        if (gv_shows(v, e->caller) || gv_shows(v, e->callee))
            edges[n++] = e;
    }
    gv_sorting = v;
    qsort(edges, n, sizeof(*edges), gv_cmp_edge);
    *out = edges;
    return n;
}

static void gv_edge_row(struct gv *v, const struct gr_edge *e)
{
    struct fmt_cell *cell = gv_row(v, ED_COUNT);
    cell[ED_CALLER].str = gv_name(v, e->caller);
    cell[ED_CALLER].null = e->caller == M_NONE;
    cell[ED_CALLEE].str = gv_name(v, e->callee);
    cell[ED_CALLS].num = (double)e->calls;
    gv_time(v, &cell[ED_TOTAL], e->total_ns);
    gv_time(v, &cell[ED_SELF], e->self_ns);
    gv_adj(v, &cell[ED_TOTAL_ADJ], &cell[ED_SELF_ADJ], &cell[ED_ADJ_CLAMPED],
           e->total_adj_ns, e->self_adj_ns, e->adj_clamped);
    cell[ED_CALLER_FILE].str = gv_file(v, e->caller);
    cell[ED_CALLER_FILE].null = e->caller == M_NONE;
    cell[ED_CALLEE_FILE].str = gv_file(v, e->callee);
}

/* The numbers of one line of a function's block. */
struct gv_nums {
    uint64_t calls;
    double total_ns, self_ns, total_adj_ns, self_adj_ns;
    int adj_clamped;
};

static struct gv_nums gv_edge_nums(const struct gr_edge *e)
{
    return (struct gv_nums){e->calls,        e->total_ns,    e->self_ns,
                            e->total_adj_ns, e->self_adj_ns, e->adj_clamped};
}

/* One line of a function's block: role, name and the numbers. */
static void gv_block_row(struct gv *v, const char *role, const char *name,
                         struct gv_nums nums)
{
    struct fmt_cell *cell = gv_row(v, BK_COUNT);
    cell[BK_ROLE].str = role;
    cell[BK_NAME].str = gv_marked(v, name, nums.adj_clamped);
    cell[BK_CALLS].num = (double)nums.calls;
    gv_time(v, &cell[BK_TOTAL], nums.total_ns);
    gv_time(v, &cell[BK_SELF], nums.self_ns);
    gv_adj(v, &cell[BK_TOTAL_ADJ], &cell[BK_SELF_ADJ], NULL, nums.total_adj_ns,
           nums.self_adj_ns, 0);
}

/* "name  file:line" above a function's block. */
static const char *gv_heading(struct gv *v, const struct pf_row *r, const char *cwd)
{
    const char *where = cmd_short_path(r->file[0] ? r->file : r->module, cwd);
    if (!*where)
        return r->name;
    return strpool_own(&v->owned,
                       r->line ? cprof_xasprintf("%s  %s:%u", r->name, where, r->line)
                               : cprof_xasprintf("%s  %s", r->name, where));
}

/* Edges grouped by the function at one end (its callee, or with by_caller
 * its caller), each group in the order of edges: function f's is
 * out[start[f]] to out[start[f + 1]]. Edges from no caller are in no
 * caller's group. Both arrays are allocated. */
static void gv_group_edges(const struct gr_edge *const *edges, size_t nedges,
                           size_t nfuncs, int by_caller, size_t **start,
                           const struct gr_edge ***out)
{
    size_t *first = cprof_xcalloc(nfuncs + 1, sizeof(*first));
    size_t *next = cprof_xcalloc(nfuncs + 1, sizeof(*next));
    *out = cprof_xcalloc(nedges + 1, sizeof(**out));
    for (size_t k = 0; k < nedges; k++) {
        uint32_t f = by_caller ? edges[k]->caller : edges[k]->callee;
        if (f != M_NONE)
            first[f + 1]++;
    }
    for (size_t f = 0; f < nfuncs; f++) {
        first[f + 1] += first[f];
        next[f] = first[f];
    }
    for (size_t k = 0; k < nedges; k++) {
        uint32_t f = by_caller ? edges[k]->caller : edges[k]->callee;
        if (f != M_NONE)
            (*out)[next[f]++] = edges[k];
    }
    free(next);
    *start = first;
}

/*
 * The text view's blocks, one per function shown (at most limit): its
 * callers, then its own line, then its callees, each list heaviest first.
 * groups gets one group per block; returns how many.
 */
static size_t gv_blocks(struct gv *v, const struct gr_edge *const *edges, size_t nedges,
                        size_t limit, struct fmt_group **groups)
{
    const struct profile *pf = &v->run.profile;
    size_t nfuncs = v->run.model.nfuncs;
    size_t *in_start, *out_start;
    const struct gr_edge **in, **out;
    gv_group_edges(edges, nedges, nfuncs, 0, &in_start, &in);
    gv_group_edges(edges, nedges, nfuncs, 1, &out_start, &out);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    size_t shown = 0;
    *groups = cprof_xcalloc(pf->nrows + 1, sizeof(**groups));
    for (size_t i = 0; i < pf->nrows && shown < limit; i++) {
        const struct pf_row *r = &pf->rows[i];
        if (!gv_shows(v, r->func))
            continue;
        struct fmt_group *g = &(*groups)[shown++];
        g->first = v->nrows;
        for (size_t k = in_start[r->func]; k < in_start[r->func + 1]; k++)
            gv_block_row(v, "called by",
                         in[k]->caller == M_NONE ? "<spontaneous>"
                                                 : gv_name(v, in[k]->caller),
                         gv_edge_nums(in[k]));
        gv_block_row(v, "", r->name,
                     (struct gv_nums){r->calls, r->total_ns, r->self_ns, r->total_adj_ns,
                                      r->self_adj_ns, r->adj_clamped});
        for (size_t k = out_start[r->func]; k < out_start[r->func + 1]; k++)
            gv_block_row(v, "calls", gv_name(v, out[k]->callee), gv_edge_nums(out[k]));
        g->count = v->nrows - g->first;
        const char **text = cprof_xcalloc(1, sizeof(*text));
        text[0] = gv_heading(v, r, cwd);
        g->text = text;
        g->ntext = 1;
    }
    free(in_start);
    free(out_start);
    free(in);
    free(out);
    return shown;
}

/* The selected functions' rows for json's "functions", at most limit. */
static struct fmt_cell *gv_functions(const struct gv *v, size_t limit, size_t *nrows)
{
    const struct profile *pf = &v->run.profile;
    struct fmt_cell *cells = cprof_xcalloc(pf->nrows * FN_COUNT + 1, sizeof(*cells));
    size_t n = 0;
    for (size_t i = 0; i < pf->nrows && n < limit; i++) {
        const struct pf_row *r = &pf->rows[i];
        if (!gv_shows(v, r->func))
            continue;
        struct fmt_cell *cell = &cells[n++ * FN_COUNT];
        cell[FN_NAME].str = r->name;
        cell[FN_FILE].str = r->file;
        cell[FN_LINE].num = r->line;
        cell[FN_LINE].null = r->line == 0;
        cell[FN_CALLS].num = (double)r->calls;
        gv_time(v, &cell[FN_TOTAL], r->total_ns);
        gv_time(v, &cell[FN_SELF], r->self_ns);
        gv_adj(v, &cell[FN_TOTAL_ADJ], &cell[FN_SELF_ADJ], &cell[FN_ADJ_CLAMPED],
               r->total_adj_ns, r->self_adj_ns, r->adj_clamped);
        cell[FN_MODULE].str = r->module;
    }
    *nrows = n;
    return cells;
}

/* The summary lines of both views (at most 2): count mode, what
 * --compensate subtracted. Returns how many. */
size_t gv_summary(const struct gv *v, const char **summary)
{
    size_t n = 0;
    if (!v->timed)
        summary[n++] = "count mode: calls only (no times were recorded)";
    if (v->probe)
        summary[n++] = v->probe;
    return n;
}

static int gv_show_edges(struct gv *v)
{
    struct model *m = &v->run.model;
    struct graph g;
    graph_build(m, &g);
    const struct gr_edge **edges;
    size_t nedges = gv_edges(v, &g, &edges);
    int text = v->run.format == &fmt_text;
    size_t limit = v->run.limit_given ? (size_t)v->run.limit
                   : text             ? GRAPH_TEXT_LIMIT
                                      : 0;
    size_t selected = 0;
    for (size_t i = 0; i < v->run.profile.nrows; i++)
        selected += gv_shows(v, v->run.profile.rows[i].func);
    if (!limit || limit > selected)
        limit = selected;

    struct fmt_group *groups = NULL;
    size_t ngroups = 0;
    if (text)
        ngroups = gv_blocks(v, edges, nedges, limit, &groups);
    else
        for (size_t i = 0; i < nedges; i++)
            gv_edge_row(v, edges[i]);
    struct fmt_groups grouping = {
        .rows_key = "edges", .cols = NULL, .groups = groups, .ngroups = ngroups};
    size_t nfuncs = 0;
    struct fmt_cell *func_cells = gv_functions(v, limit, &nfuncs);
    struct fmt_col bcols[BK_COUNT];
    memcpy(bcols, block_cols, sizeof bcols);
    cmd_show_adj_cols(bcols, v->compensate, BK_TOTAL_ADJ, BK_SELF_ADJ, FMT_TEXT_ONLY);
    struct fmt_table table = {
        .name = "edges",
        .cols = text ? bcols : edge_cols,
        .ncols = text ? BK_COUNT : ED_COUNT,
        .cells = v->cells,
        .nrows = v->nrows,
        .text_rows = v->nrows,
        .groups = text ? &grouping : NULL,
    };
    struct fmt_table functions = {
        .name = "functions",
        .cols = func_cols,
        .ncols = FN_COUNT,
        .cells = func_cells,
        .nrows = nfuncs,
        .text_rows = 0,
    };
    const struct fmt_table *more[] = {&functions};
    const char *summary[2];
    size_t nsummary = gv_summary(v, summary);
    const char *notes[2];
    size_t nnotes = 0;
    if (text && v->compensate)
        notes[nnotes++] = GRAPH_ADJ_NOTE;
    if (text && ngroups < selected)
        notes[nnotes++] = strpool_own(
            &v->owned,
            cprof_xasprintf("… %zu more function%s (--limit 0 shows all)",
                            selected - ngroups, selected - ngroups == 1 ? "" : "s"));
    struct fmt_doc doc = {
        .title = !v->timed ? "callers and callees of each function, by calls"
                 : v->compensate
                     ? "callers and callees of each function, by total time, probe cost "
                       "subtracted"
                     : "callers and callees of each function, by total time",
        .model = m,
        .table = &table,
        .summary = summary,
        .nsummary = nsummary,
        .notes = notes,
        .nnotes = nnotes,
        .warnings = &m->warnings,
        .more = more,
        .nmore = text ? 0 : 1,
    };
    v->run.format->write(stdout, &doc);

    for (size_t i = 0; i < ngroups; i++)
        free((void *)groups[i].text);
    free(groups);
    free(func_cells);
    free(edges);
    graph_free(&g);
    return 0;
}

int cmd_graph(int argc, char **argv)
{
    struct gv v = {.min_pct = GRAPH_DEFAULT_MIN_PCT};
    int tree = 0, compensate = cmd_take_flag(&argc, argv, "--compensate");
    char **args = cprof_xcalloc((size_t)argc + 1, sizeof(*args));
    memcpy(args, argv, (size_t)argc * sizeof(*args));
    if (gv_own_options(&argc, args, &tree, &v.min_pct) < 0) {
        free(args);
        return CPROF_EXIT_USAGE;
    }
    int status;
    if (!cmd_view_start(&graph_cmd_view, argc, args, &v.run)) {
        status = v.run.status;
        goto out;
    }
    struct model *m = &v.run.model;
    struct profile *pf = &v.run.profile;
    v.timed = pf->timed;
    v.compensable = pf->compensable;
    v.compensate = compensate && pf->compensable;
    v.probe = compensate ? cmd_probe_line(pf) : NULL;
    v.row_of = cprof_xcalloc(m->nfuncs + 1, sizeof(*v.row_of));
    v.selected = cprof_xcalloc(m->nfuncs + 1, sizeof(*v.selected));
    if (gv_select(&v) < 0) {
        status = CPROF_EXIT_USAGE;
        goto out;
    }
    profile_sort(pf, !v.timed       ? PF_SORT_CALLS
                     : v.compensate ? PF_SORT_TOTAL_ADJ
                                    : PF_SORT_TOTAL);
    for (size_t i = 0; i < pf->nrows; i++)
        v.row_of[pf->rows[i].func] = &pf->rows[i];
    if (tree)
        gv_show_tree(&v);
    else
        gv_show_edges(&v);
    status = cmd_finish("graph", m, v.run.format, v.run.status);
out:
    strpool_free(&v.owned);
    free(v.probe);
    free(v.cells);
    free(v.row_of);
    free(v.selected);
    cmd_view_end(&v.run);
    free(args);
    return status;
}

const char *const cmd_graph_help = graph_usage;
