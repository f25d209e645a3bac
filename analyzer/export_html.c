/*
 * `cprof export --format html` (see export.h): one self-contained page,
 * the loaded data embedded as JSON in a <script type="application/json">
 * block between the page's HTML, CSS and JavaScript (analyzer/report_html/,
 * embedded into the binary at build time by report_html/embed.cmake). The
 * page draws everything from that JSON: the flame graph of the merged
 * calling-context tree, the per-function table, the callers and callees of
 * the function selected (graph.h edges), the line tables, heap figures, the
 * run's processes and its warnings. Nothing is fetched: it works offline
 * from file://.
 *
 * Every string of the data (names, paths, source lines) goes through
 * html_str (fmt_json_string's html form), which escapes '<', '>' and '&' as well as
 * JSON's own, so no string can close the script block, and replaces bytes that are not
 * UTF-8; the script then only ever puts them in the page as text.
 */
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "fmt.h"
#include "graph.h"
#include "model.h"
#include "profile.h"
#include "source.h"
#include "util.h"

/* The page (export_html_page.c, generated from report_html/): the text
 * before the data and the text after it. */
extern const char cprof_html_head[], cprof_html_tail[];

/* Trees with more nodes keep the heaviest (a node weighs no more than its
 * parent, so every kept node's parent is kept): a page stays quick to load. */
#define HTML_MAX_NODES 100000
/* Between two lines with data no more than this far apart, the lines
 * without data are shown too (with their source text), as line_profiler
 * shows a whole function. */
#define HTML_LINE_GAP 200

/* s as a JSON string that is safe inside a <script> element; NULL as null. */
static void html_str(FILE *out, const char *s)
{
    fmt_json_string(out, s, 1);
}

/* A number of nanoseconds or bytes: an integer, or null when unknown. */
static void html_num(FILE *out, double v, int known)
{
    if (known && v == v && v - v == 0)
        fprintf(out, "%.0f", v);
    else
        fputs("null", out);
}

/* The functions, in the profile's order; row_of[func] is each one's index
 * in the array (M_NONE: not in it). */
static void html_functions(FILE *out, const struct profile *pf, const uint32_t *row_of,
                           size_t nfuncs)
{
    fprintf(out, ",\n\"totals\": {\"calls\": %llu, \"self_ns\": ",
            (unsigned long long)pf->total_calls);
    html_num(out, pf->total_self_ns, pf->timed);
    fprintf(out, ", \"pct_estimated\": %s, \"pct_error\": %.6f},\n\"functions\": [",
            pf->pct_estimated ? "true" : "false", pf->pct_error);
    for (size_t i = 0; i < pf->nrows; i++) {
        const struct pf_row *r = &pf->rows[i];
        fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", out);
        html_str(out, r->name);
        fputs(", \"file\": ", out);
        html_str(out, r->file);
        fprintf(out, ", \"line\": %u, \"module\": ", r->line);
        html_str(out, r->module);
        fprintf(out, ", \"calls\": %llu, \"completed\": %llu, \"self_ns\": ",
                (unsigned long long)r->calls, (unsigned long long)r->completed);
        html_num(out, r->self_ns, pf->timed);
        fputs(", \"total_ns\": ", out);
        html_num(out, r->total_ns, pf->timed);
        fputs(", \"min_ns\": ", out);
        html_num(out, r->min_ns, pf->timed && r->completed);
        fputs(", \"max_ns\": ", out);
        html_num(out, r->max_ns, pf->timed && r->completed);
        const double pcts[3] = {r->p50_ns, r->p90_ns, r->p99_ns};
        for (int k = 0; k < 3; k++) {
            fprintf(out, ", \"p%d_ns\": ", k == 0 ? 50 : k == 1 ? 90 : 99);
            html_num(out, pcts[k], r->has_pct);
        }
        fprintf(out, ", \"pct_exact\": %s", r->pct_exact ? "true" : "false");
        fprintf(out, ", \"lines\": %s", row_of[nfuncs + r->func] ? "true" : "false");
        if (pf->heap)
            fprintf(
                out,
                ", \"alloc_calls\": %llu, \"alloc_bytes\": %llu, \"free_calls\": "
                "%llu, \"freed_bytes\": %llu, \"total_alloc_bytes\": %llu, "
                "\"total_freed_bytes\": %llu, \"peak_bytes\": %llu, "
                "\"leaked_blocks\": %llu, \"leaked_bytes\": %llu",
                (unsigned long long)r->alloc_calls, (unsigned long long)r->alloc_bytes,
                (unsigned long long)r->free_calls, (unsigned long long)r->freed_bytes,
                (unsigned long long)r->total_alloc_bytes,
                (unsigned long long)r->total_freed_bytes,
                (unsigned long long)r->peak_bytes, (unsigned long long)r->leaked_blocks,
                (unsigned long long)r->leaked_bytes);
        fputc('}', out);
    }
    fputs("\n]", out);
}

/* The function index of func in the page, -1 when it has none. */
static long html_fn(const uint32_t *row_of, uint32_t func)
{
    return func == M_NONE || row_of[func] == M_NONE ? -1 : (long)row_of[func];
}

/* "edges": [caller, callee, calls, total_ns, self_ns] each. */
static void html_edges(FILE *out, const struct model *m, const uint32_t *row_of,
                       int timed)
{
    struct graph g;
    graph_build(m, &g);
    fputs(",\n\"edges\": [", out);
    for (size_t i = 0; i < g.nedges; i++) {
        const struct gr_edge *e = &g.edges[i];
        fprintf(out, "%s[%ld, %ld, %llu, ", i ? (i % 8 ? ", " : ",\n  ") : "\n  ",
                html_fn(row_of, e->caller), html_fn(row_of, e->callee),
                (unsigned long long)e->calls);
        html_num(out, e->total_ns, timed);
        fputs(", ", out);
        html_num(out, e->self_ns, timed);
        fputc(']', out);
    }
    fputs("]", out);
    graph_free(&g);
}

static int html_cmp_weight(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return a < b ? 1 : a > b ? -1 : 0;
}

/*
 * "tree": the merged calling-context tree, [function, parent, calls,
 * total_ns, self_ns, weight] per node, parents first; node 0 stands for no
 * call. A node's weight is its subtree's self time (its calls in count
 * mode): the width of its frame. "tree_dropped" counts the nodes left out.
 */
static void html_tree(FILE *out, const struct model *m, const uint32_t *row_of, int timed)
{
    struct gr_tree t;
    graph_tree(m, M_NONE, &t);
    size_t n = t.nnodes;
    double *weight = cprof_xcalloc(n + 1, sizeof(*weight));
    for (size_t i = 0; i < n; i++)
        weight[i] = timed ? t.nodes[i].self_ns : (double)t.nodes[i].subtree_calls;
    if (timed)
        for (size_t i = n; i-- > 1;)
            weight[t.nodes[i].parent] += weight[i];
    double floor = 0; /* nodes must weigh more than this */
    if (n > HTML_MAX_NODES) {
        double *sorted = cprof_xcalloc(n, sizeof(*sorted));
        memcpy(sorted, weight, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), html_cmp_weight);
        floor = sorted[HTML_MAX_NODES];
        free(sorted);
    }
    uint32_t *index = cprof_xcalloc(n + 1, sizeof(*index));
    size_t kept = 0;
    fputs(",\n\"tree\": [", out);
    for (size_t i = 0; i < n; i++) {
        const struct gr_node *node = &t.nodes[i];
        if (i && (weight[i] <= floor || index[node->parent] == M_NONE)) {
            index[i] = M_NONE;
            continue;
        }
        index[i] = (uint32_t)kept;
        fprintf(out, "%s[%ld, %ld, %llu, ", kept ? (kept % 6 ? ", " : ",\n  ") : "\n  ",
                html_fn(row_of, node->func), i ? (long)index[node->parent] : -1L,
                (unsigned long long)node->calls);
        html_num(out, node->total_ns, timed);
        fputs(", ", out);
        html_num(out, node->self_ns, timed);
        fputs(", ", out);
        html_num(out, weight[i], 1);
        fputc(']', out);
        kept++;
    }
    fprintf(out, "],\n\"tree_dropped\": %zu", n - kept);
    free(index);
    free(weight);
    graph_tree_free(&t);
}

/* One row of a line table: [line, hits, time_ns, self_ns, text], the
 * figures null for a line without data. */
static void html_line_row(FILE *out, unsigned line, const struct m_line *l,
                          const char *text, int timed, int first)
{
    fprintf(out, "%s[%u, ", first ? "\n      " : ",\n      ", line);
    if (l) {
        fprintf(out, "%llu, ", (unsigned long long)l->hits);
        html_num(out, l->time_ns, timed);
        fputs(", ", out);
        html_num(out, l->self_ns, timed);
    } else {
        fputs("null, null, null", out);
    }
    fputs(", ", out);
    html_str(out, text);
    fputc(']', out);
}

/* One function's lines (sorted), a table per file. */
static void html_line_files(FILE *out, const struct m_line **lines, size_t n,
                            const struct pf_row *r, struct src_cache *src, int timed)
{
    for (size_t i = 0; i < n;) {
        const char *file = lines[i]->file;
        size_t end = i;
        while (end < n && lines[end]->file == file)
            end++;
        fputs(i ? ", {\"file\": " : "{\"file\": ", out);
        html_str(out, file);
        fprintf(out, ", \"source\": %s, \"rows\": [",
                file[0] && src_readable(src, file) ? "true" : "false");
        unsigned line = lines[i]->line;
        int has_rows = 0;
        if (r && !strcmp(file, r->file) && r->line && r->line < line &&
            line - r->line <= HTML_LINE_GAP)
            line = r->line; /* from the function's first line */
        for (size_t k = i; k < end; line++) {
            const struct m_line *l = lines[k];
            if (line < l->line && l->line - line > HTML_LINE_GAP)
                line = l->line;
            int has = line == l->line;
            html_line_row(out, line, has ? l : NULL, src_line(src, file, line), timed,
                          !has_rows);
            has_rows = 1;
            k += has;
        }
        fputs("]}", out);
        i = end;
    }
}

/* "lines": the functions with line data, each {"function": index in
 * "functions" or -1, "name": as compiled, "files": [...]}. */
static void html_lines(FILE *out, const struct model *m, const struct profile *pf,
                       const uint32_t *row_of)
{
    const struct m_line **lines = cprof_xcalloc(m->nlines + 1, sizeof(*lines));
    size_t *count = cprof_xcalloc(m->nfuncs + 1, sizeof(*count));
    size_t *start = cprof_xcalloc(m->nfuncs + 1, sizeof(*start));
    for (size_t i = 0; i < m->nlines; i++)
        count[m->lines[i].func]++;
    for (size_t f = 1; f <= m->nfuncs; f++)
        start[f] = start[f - 1] + count[f - 1];
    for (size_t i = 0; i < m->nlines; i++)
        lines[start[m->lines[i].func]++] = &m->lines[i];
    struct src_cache *src = src_cache_new();
    fputs(",\n\"lines\": [", out);
    int first = 1;
    for (size_t f = 0, at = 0; f < m->nfuncs; at += count[f++]) {
        if (!count[f])
            continue;
        long fn = html_fn(row_of, (uint32_t)f);
        const struct pf_row *r = fn >= 0 ? &pf->rows[fn] : NULL;
        model_lines_sort(&lines[at], count[f],
                         r && r->file[0] ? r->file : lines[at]->file);
        fprintf(out, "%s{\"function\": %ld, \"name\": ", first ? "\n  " : ",\n  ", fn);
        html_str(out, lines[at]->func_name);
        fputs(", \"files\": [", out);
        html_line_files(out, &lines[at], count[f], r, src, pf->timed);
        fputs("]}", out);
        first = 0;
    }
    fputs("]", out);
    src_cache_free(src);
    free(start);
    free(count);
    free(lines);
}

/* "heap": the run's totals (model_heap_totals), null without heap data. */
static void html_heap(FILE *out, const struct model *m)
{
    fputs(",\n\"heap\": ", out);
    if (!m->heap) {
        fputs("null", out);
        return;
    }
    struct m_heap_totals t;
    model_heap_totals(m, &t);
    const struct {
        const char *key;
        uint64_t value;
    } fields[] = {
        {"processes", t.procs},
        {"alloc_calls", t.heap.alloc_calls},
        {"alloc_bytes", t.heap.alloc_bytes},
        {"free_calls", t.heap.free_calls},
        {"freed_bytes", t.heap.freed_bytes},
        {"outside_alloc_calls", t.heap.outside_alloc_calls},
        {"outside_alloc_bytes", t.heap.outside_alloc_bytes},
        {"outside_free_calls", t.heap.outside_free_calls},
        {"outside_freed_bytes", t.heap.outside_freed_bytes},
        {"peak_bytes", t.peak_bytes},
        {"peak_rss_bytes", t.peak_rss_bytes},
        {"leaked_blocks", t.leaked_blocks},
        {"leaked_bytes", t.leaked_bytes},
        {"func_leaked_blocks", t.func_leaked_blocks},
        {"func_leaked_bytes", t.func_leaked_bytes},
        {"outside_leaked_blocks", t.outside_leaked_blocks},
        {"outside_leaked_bytes", t.outside_leaked_bytes},
        {"foreign_frees", t.foreign_frees},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        fprintf(out, "%s\"%s\": %llu", i ? ", " : "{", fields[i].key,
                (unsigned long long)fields[i].value);
    fputc('}', out);
}

int export_html(FILE *out, struct cmd_view_run *run, const struct export_opts *o)
{
    (void)o; /* the page shows the whole run: the window options are chrome's */
    const struct model *m = &run->model;
    const struct profile *pf = &run->profile;
    /* row_of[func]: the function's index in the page; row_of[nfuncs + func]:
     * whether it has line data */
    uint32_t *row_of = cprof_xcalloc(2 * m->nfuncs + 1, sizeof(*row_of));
    for (size_t f = 0; f < m->nfuncs; f++)
        row_of[f] = M_NONE;
    for (size_t i = 0; i < pf->nrows; i++)
        row_of[pf->rows[i].func] = (uint32_t)i;
    for (size_t i = 0; i < m->nlines; i++)
        row_of[m->nfuncs + m->lines[i].func] = 1;

    fputs(cprof_html_head, out);
    fputs("{\"version\": 1,\n", out);
    fmt_json_run(out, "run", m, 1);
    html_functions(out, pf, row_of, m->nfuncs);
    html_edges(out, m, row_of, pf->timed);
    html_tree(out, m, row_of, pf->timed);
    html_lines(out, m, pf, row_of);
    html_heap(out, m);
    fputs(",\n\"warnings\": [", out);
    for (size_t i = 0; i < m->warnings.count; i++) {
        fputs(i ? ",\n  " : "\n  ", out);
        html_str(out, m->warnings.text[i]);
    }
    fputs("]}\n", out);
    fputs(cprof_html_tail, out);
    free(row_of);
    if (fflush(out) != 0 || ferror(out)) {
        cprof_error("export: cannot write the page");
        return CPROF_EXIT_DATA;
    }
    return CPROF_EXIT_OK;
}
