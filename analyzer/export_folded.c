/*
 * `cprof export --format folded`: collapsed stacks, the input of
 * flamegraph.pl, inferno and speedscope. One line per call path of the
 * calling-context tree merged over every thread and process (graph.h),
 * outermost function first: `main;parse;lex 1234`. The value is the path's
 * self time in ns (default), its calls, or the bytes allocated while its
 * last function was the innermost call (--weight), rounded to an integer;
 * paths whose value is 0 are left out, so the values of the time weight
 * add up to the report's total self time. Recursion is a path of its own
 * per depth, as in the tree (`fib;fib;fib`).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "export.h"
#include "graph.h"
#include "model.h"
#include "util.h"

/* Per merged node: the bytes its calls allocated themselves. */
static double *folded_alloc(const struct model *m, const struct gr_tree *tree)
{
    double *bytes = cprof_xcalloc(tree->nnodes, sizeof(*bytes));
    uint32_t *merged = NULL; /* thread node -> merged node, as graph_tree does */
    size_t cap = 0;
    for (size_t i = 0; i < m->nprocs; i++) {
        for (size_t k = 0; k < m->procs[i]->nthreads; k++) {
            const struct m_thread *th = m->procs[i]->threads[k];
            if (!th->nnodes)
                continue;
            cprof_grow(&merged, &cap, th->nnodes, sizeof(*merged));
            merged[0] = 0;
            for (size_t n = 1; n < th->nnodes; n++) {
                const struct m_node *node = &th->nodes[n];
                merged[n] = hm_get(&tree->index,
                                   (uint64_t)merged[node->parent] << 32 | node->func);
                if (merged[n] != HM_NONE)
                    bytes[merged[n]] += (double)node->alloc_bytes;
            }
        }
    }
    free(merged);
    return bytes;
}

/* name with the characters that would break a folded line replaced. */
static void folded_name(FILE *out, const char *name)
{
    for (const char *s = name[0] ? name : "?"; *s; s++)
        fputc(*s == ';' || *s == '\n' || *s == '\r' ? '_' : *s, out);
}

int export_folded(FILE *out, struct cmd_view_run *run, const struct export_opts *o)
{
    const struct model *m = &run->model;
    if (o->weight == EXPORT_WEIGHT_TIME && !m->timed) {
        cprof_error("export: the data has no times (count mode): use --weight calls");
        return CPROF_EXIT_DATA;
    }
    if (o->weight == EXPORT_WEIGHT_ALLOC && !m->heap) {
        cprof_error("export: the data has no heap figures (recorded by a cprof before "
                    "format 1.2): use --weight time or calls");
        return CPROF_EXIT_DATA;
    }
    struct gr_tree tree;
    graph_tree(m, M_NONE, &tree);
    const char **names = export_func_names(run);
    double *alloc = o->weight == EXPORT_WEIGHT_ALLOC ? folded_alloc(m, &tree) : NULL;
    uint32_t *path = NULL;
    size_t cap = 0;
    for (size_t n = 1; n < tree.nnodes; n++) {
        const struct gr_node *g = &tree.nodes[n];
        double v = o->weight == EXPORT_WEIGHT_CALLS ? (double)g->calls
                   : alloc                          ? alloc[n]
                                                    : g->self_ns;
        unsigned long long value = (unsigned long long)llround(v);
        if (value == 0)
            continue;
        size_t depth = 0;
        for (uint32_t k = (uint32_t)n; k != 0; k = tree.nodes[k].parent) {
            cprof_grow(&path, &cap, depth + 1, sizeof(*path));
            path[depth++] = k;
        }
        while (depth--) {
            folded_name(out, names[tree.nodes[path[depth]].func]);
            fputc(depth ? ';' : ' ', out);
        }
        fprintf(out, "%llu\n", value);
    }
    free(path);
    free(alloc);
    free(names);
    graph_tree_free(&tree);
    return CPROF_EXIT_OK;
}
