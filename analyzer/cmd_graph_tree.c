/*
 * `cprof graph --tree`: the calling-context tree merged by call path, as
 * `uftrace graph` shows it, depth first and indented, the paths below
 * --min-pct of the total folded into one line per place that says what it
 * holds. Its own file because it shares only the command's state and row
 * helpers (cmd_graph.h) with the edges view: the tree comes from graph.c's
 * gr_tree, walked and folded here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_common.h"
#include "cmd_graph.h"
#include "fmt.h"
#include "graph.h"
#include "model.h"
#include "profile.h"
#include "util.h"

/* The tree, one row per call path in depth-first order, and a row for each
 * place paths were folded. */
enum tree_col {
    TR_DEPTH,
    TR_TEXT,
    TR_NAME,
    TR_CALLS,
    TR_TOTAL,
    TR_SELF,
    TR_TOTAL_ADJ,
    TR_SELF_ADJ,
    TR_ADJ_CLAMPED,
    TR_PCT,
    TR_FOLDED,
    TR_COUNT
};

static const struct fmt_col tree_cols[TR_COUNT] = {
    [TR_DEPTH] = {"depth", "depth", FMT_UINT, FMT_DATA_ONLY, 0},
    [TR_TEXT] = {"name", "call path", FMT_STR, FMT_TEXT_ONLY, FMT_WHOLE},
    [TR_NAME] = {"name", "function", FMT_STR, FMT_DATA_ONLY, 0},
    [TR_CALLS] = {"calls", "calls", FMT_UINT, FMT_ALL, 0},
    [TR_TOTAL] = {"total_ns", "total", FMT_NS, FMT_ALL, 0},
    [TR_SELF] = {"self_ns", "self", FMT_NS, FMT_ALL, 0},
    [TR_TOTAL_ADJ] = {"total_adj_ns", "total adj", FMT_NS, FMT_DATA_ONLY, 0},
    [TR_SELF_ADJ] = {"self_adj_ns", "self adj", FMT_NS, FMT_DATA_ONLY, 0},
    [TR_ADJ_CLAMPED] = {"adj_clamped", "clamped", FMT_BOOL, FMT_DATA_ONLY, 0},
    [TR_PCT] = {"total_pct", "total%", FMT_PCT, FMT_ALL, 0},
    [TR_FOLDED] = {"folded_paths", "folded", FMT_UINT, FMT_DATA_ONLY, 0},
};

/* ---- the tree ----------------------------------------------------------- */

/* qsort has no context argument: gv_expand sets these for gv_cmp_node. */
static const struct gv *gv_sorting;
static const struct gr_tree *gv_sorting_tree;

static double gv_node_weight(const struct gv *v, const struct gr_node *n)
{
    return gv_weight(v, n->total_ns, n->total_adj_ns, n->subtree_calls);
}

static int gv_cmp_node(const void *pa, const void *pb)
{
    const struct gr_node *a = &gv_sorting_tree->nodes[*(const uint32_t *)pa];
    const struct gr_node *b = &gv_sorting_tree->nodes[*(const uint32_t *)pb];
    double wa = gv_node_weight(gv_sorting, a), wb = gv_node_weight(gv_sorting, b);
    if (wa != wb)
        return wa < wb ? 1 : -1;
    if (a->calls != b->calls)
        return a->calls < b->calls ? 1 : -1;
    int c = strcmp(gv_name(gv_sorting, a->func), gv_name(gv_sorting, b->func));
    return c ? c : (a->func < b->func ? -1 : a->func > b->func);
}

/* A place in the depth-first walk: a node to show, or the fold line of a
 * node's children. */
struct gv_item {
    uint32_t node, depth;
    int fold;
    uint64_t paths, calls; /* fold: the folded paths and all their calls */
    double total_ns;       /* fold: the inclusive time of the folded children */
    double total_adj_ns;   /* fold: the same less the probe cost */
};

static void gv_tree_row(struct gv *v, const struct gr_tree *t, const struct gv_item *it,
                        double whole)
{
    struct fmt_cell *cell = gv_row(v, TR_COUNT);
    const struct gr_node *n = &t->nodes[it->node];
    cell[TR_DEPTH].num = it->depth;
    double total = it->fold ? it->total_ns : n->total_ns;
    double total_adj = it->fold ? it->total_adj_ns : n->total_adj_ns;
    uint64_t calls = it->fold ? it->calls : n->calls;
    if (it->fold) {
        cell[TR_TEXT].str = strpool_own(
            &v->owned,
            cprof_xasprintf("%*s… %llu call path%s folded (each under %g%%)",
                            (int)(2 * it->depth), "", (unsigned long long)it->paths,
                            it->paths == 1 ? "" : "s", v->min_pct));
        cell[TR_NAME].null = 1;
        gv_adj(v, &cell[TR_TOTAL_ADJ], &cell[TR_SELF_ADJ], &cell[TR_ADJ_CLAMPED],
               total_adj, 0, 0);
        cell[TR_SELF].blank = cell[TR_SELF_ADJ].blank = cell[TR_ADJ_CLAMPED].blank = 1;
        cell[TR_FOLDED].num = (double)it->paths;
    } else {
        cell[TR_TEXT].str = strpool_own(
            &v->owned,
            cprof_xasprintf("%*s%s", (int)(2 * it->depth), "",
                            gv_marked(v, gv_name(v, n->func), n->adj_clamped)));
        cell[TR_NAME].str = gv_name(v, n->func);
        gv_time(v, &cell[TR_SELF], n->self_ns);
        gv_adj(v, &cell[TR_TOTAL_ADJ], &cell[TR_SELF_ADJ], &cell[TR_ADJ_CLAMPED],
               total_adj, n->self_adj_ns, n->adj_clamped);
    }
    cell[TR_CALLS].num = (double)calls;
    gv_time(v, &cell[TR_TOTAL], total);
    double share =
        gv_weight(v, total, total_adj, it->fold ? it->calls : n->subtree_calls);
    cell[TR_PCT].num = whole > 0 ? share * 100 / whole : 0;
    cell[TR_PCT].null = !(whole > 0);
}

/*
 * Pushes the children of node (shown at depth) onto the walk: those at or
 * above the threshold heaviest on top, under them one fold item for the
 * rest when there are any.
 */
static void gv_expand(struct gv *v, const struct gr_tree *t, uint32_t node,
                      uint32_t depth, double threshold, struct gv_item **stack,
                      size_t *depth_used, size_t *cap)
{
    uint32_t *kids = NULL;
    size_t n = 0, kids_cap = 0;
    for (uint32_t c = t->nodes[node].first_child; c != M_NONE;
         c = t->nodes[c].next_sibling) {
        const struct gr_node *k = &t->nodes[c];
        if (!k->subtree_calls && !(k->total_ns > 0))
            continue; /* nothing to show or fold */
        cprof_grow(&kids, &kids_cap, n + 1, sizeof(*kids));
        kids[n++] = c;
    }
    gv_sorting = v;
    gv_sorting_tree = t;
    if (n)
        qsort(kids, n, sizeof(*kids), gv_cmp_node);
    struct gv_item fold = {.node = node, .depth = depth, .fold = 1};
    size_t shown = n;
    while (shown && gv_node_weight(v, &t->nodes[kids[shown - 1]]) < threshold) {
        const struct gr_node *k = &t->nodes[kids[--shown]];
        fold.paths += k->paths;
        fold.calls += k->subtree_calls;
        fold.total_ns += k->total_ns;
        fold.total_adj_ns += k->total_adj_ns;
    }
    cprof_grow(stack, cap, *depth_used + shown + 1, sizeof(**stack));
    if (shown < n)
        (*stack)[(*depth_used)++] = fold;
    while (shown)
        (*stack)[(*depth_used)++] =
            (struct gv_item){.node = kids[--shown], .depth = depth};
    free(kids);
}

/* The rows of one tree, depth first. */
static void gv_tree_rows(struct gv *v, const struct gr_tree *t)
{
    double whole = 0;
    for (uint32_t c = t->nodes[0].first_child; c != M_NONE; c = t->nodes[c].next_sibling)
        whole += gv_node_weight(v, &t->nodes[c]);
    double threshold = v->min_pct > 0 ? whole * v->min_pct / 100 : -1;
    struct gv_item *stack = NULL;
    size_t used = 0, cap = 0;
    gv_expand(v, t, 0, 0, threshold, &stack, &used, &cap);
    while (used) {
        struct gv_item it = stack[--used];
        gv_tree_row(v, t, &it, whole);
        if (!it.fold)
            gv_expand(v, t, it.node, it.depth + 1, threshold, &stack, &used, &cap);
    }
    free(stack);
}

int gv_show_tree(struct gv *v)
{
    struct model *m = &v->run.model;
    const struct profile *pf = &v->run.profile;
    struct gr_tree t;
    if (!v->any_selected) {
        graph_tree(m, M_NONE, &t);
        gv_tree_rows(v, &t);
        graph_tree_free(&t);
    }
    for (size_t i = 0; v->any_selected && i < pf->nrows; i++) {
        if (!gv_shows(v, pf->rows[i].func))
            continue;
        graph_tree(m, pf->rows[i].func, &t);
        gv_tree_rows(v, &t);
        graph_tree_free(&t);
    }
    struct fmt_col cols[TR_COUNT];
    memcpy(cols, tree_cols, sizeof cols);
    cmd_show_adj_cols(cols, v->compensate, TR_TOTAL_ADJ, TR_SELF_ADJ, FMT_ALL);
    struct fmt_table table = {
        .name = "tree",
        .cols = cols,
        .ncols = TR_COUNT,
        .cells = v->cells,
        .nrows = v->nrows,
        .text_rows = v->nrows,
    };
    const char *summary[2];
    size_t nsummary = gv_summary(v, summary);
    const char *notes[] = {GRAPH_ADJ_NOTE};
    const char *what = !v->timed       ? "calls"
                       : v->compensate ? "total time, probe cost subtracted,"
                                       : "total time";
    const char *title =
        v->min_pct > 0
            ? strpool_own(&v->owned,
                          cprof_xasprintf("calling-context tree (paths under %g%% of the "
                                          "%s folded; --min-pct 0 shows all)",
                                          v->min_pct, what))
        : v->compensate ? "calling-context tree, probe cost subtracted"
                        : "calling-context tree";
    struct fmt_doc doc = {
        .title = title,
        .model = m,
        .table = &table,
        .summary = summary,
        .nsummary = nsummary,
        .notes = notes,
        .nnotes = v->compensate && v->run.format == &fmt_text,
        .warnings = &m->warnings,
    };
    v->run.format->write(stdout, &doc);
    return 0;
}
