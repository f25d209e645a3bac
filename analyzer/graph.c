/*
 * The call graph; see graph.h. Edges: each thread's tree is walked depth
 * first along its parent and sibling links (no stack, however deep the
 * recursion), keeping for every edge how many of its calls are on the
 * current path, so that a call adds its inclusive time to its edge only
 * when no call above it went along the same edge. The merged tree needs no
 * walk: a node's parent comes before it, so one pass in index order maps
 * every node to the merged node of its path. Compensated times are summed
 * the same way from each node's probe cost (profile.c), then clamped.
 */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "util.h"

/* Node i's own time in ns: inclusive less its children's, never
 * negative; with comp, also its compensated self and inclusive times into
 * *self_adj_ns and *total_adj_ns (pf_node_adj, as profile.c sums them). */
static double graph_self_ns(const struct m_thread *t, uint32_t i,
                            const struct pf_comp *comp, const struct pf_node_cost *cost,
                            double *self_adj_ns, double *total_adj_ns)
{
    const struct m_node *n = &t->nodes[i];
    uint64_t child_ticks = 0;
    for (uint32_t c = n->first_child; c != M_NONE; c = t->nodes[c].next_sibling)
        child_ticks += t->nodes[c].incl_ticks;
    if (comp)
        pf_node_adj(t, i, child_ticks, cost, self_adj_ns, total_adj_ns);
    return n->incl_ticks > child_ticks
               ? (double)(n->incl_ticks - child_ticks) * t->proc->ns_per_tick
               : 0;
}

/* The index stored for key, or *count (then one more) stored for it as a
 * new entry: *added says which. */
static uint32_t graph_intern(struct hashmap *index, uint64_t key, size_t *count,
                             int *added)
{
    uint32_t i = hm_get(index, key);
    *added = i == HM_NONE;
    if (*added) {
        i = (uint32_t)(*count)++;
        hm_put(index, key, i);
    }
    return i;
}

static uint32_t graph_edge_index(struct graph *g, uint32_t caller, uint32_t callee)
{
    int added;
    uint32_t e =
        graph_intern(&g->index, (uint64_t)caller << 32 | callee, &g->nedges, &added);
    if (added) {
        cprof_grow(&g->edges, &g->cap, g->nedges, sizeof(*g->edges));
        g->edges[e] = (struct gr_edge){.caller = caller, .callee = callee};
    }
    return e;
}

/* Adds one thread's calls to g, compensated with comp (NULL: not). on_path
 * (one count per edge, zero on entry and on return) is grown to cover
 * every edge. */
static void graph_thread(const struct m_thread *t, struct graph *g,
                         const struct pf_comp *comp, uint32_t **on_path,
                         size_t *on_path_cap)
{
    double scale = t->proc->ns_per_tick;
    struct pf_node_cost *cost = profile_node_costs(comp, t);
    uint32_t *edge_of = cprof_xcalloc(t->nnodes ? t->nnodes : 1, sizeof(*edge_of));
    uint32_t n = t->nnodes ? t->nodes[0].first_child : M_NONE;
    while (n != M_NONE) {
        const struct m_node *node = &t->nodes[n];
        uint32_t caller = node->parent ? t->nodes[node->parent].func : M_NONE;
        uint32_t e = edge_of[n] = graph_edge_index(g, caller, node->func);
        size_t had = *on_path_cap;
        cprof_grow(on_path, on_path_cap, g->nedges, sizeof(**on_path));
        memset(*on_path + had, 0, (*on_path_cap - had) * sizeof(**on_path));
        struct gr_edge *edge = &g->edges[e];
        edge->calls += node->calls;
        double self_adj = 0, total_adj = 0;
        edge->self_ns += graph_self_ns(t, n, comp, cost, &self_adj, &total_adj);
        edge->self_adj_ns += self_adj;
        if (!(*on_path)[e]++) {
            edge->total_ns += (double)node->incl_ticks * scale;
            edge->total_adj_ns += total_adj;
        }
        if (node->first_child != M_NONE) {
            n = node->first_child;
            continue;
        }
        /* leave n and every ancestor whose last child it closes */
        for (;;) {
            (*on_path)[edge_of[n]]--;
            if (t->nodes[n].next_sibling != M_NONE) {
                n = t->nodes[n].next_sibling;
                break;
            }
            n = t->nodes[n].parent;
            if (n == 0) {
                n = M_NONE;
                break;
            }
        }
    }
    free(edge_of);
    free(cost);
}

void graph_build(const struct model *m, struct graph *g)
{
    memset(g, 0, sizeof(*g));
    struct pf_comp *comp = profile_comp_new(m);
    g->compensable = comp != NULL;
    uint32_t *on_path = NULL;
    size_t on_path_cap = 0;
    for (size_t i = 0; i < m->nprocs; i++)
        for (size_t k = 0; k < m->procs[i]->nthreads; k++)
            graph_thread(m->procs[i]->threads[k], g, comp, &on_path, &on_path_cap);
    free(on_path);
    free(comp);
    for (size_t e = 0; g->compensable && e < g->nedges; e++)
        g->edges[e].adj_clamped =
            pf_clamp_adj(&g->edges[e].self_adj_ns, &g->edges[e].total_adj_ns);
}

const struct gr_edge *graph_edge(const struct graph *g, uint32_t caller, uint32_t callee)
{
    uint32_t e = hm_get(&g->index, (uint64_t)caller << 32 | callee);
    return e == HM_NONE ? NULL : &g->edges[e];
}

void graph_free(struct graph *g)
{
    free(g->edges);
    hm_free(&g->index);
    memset(g, 0, sizeof(*g));
}

/* The child of merged node parent for func, made when new. */
static uint32_t graph_tree_child(struct gr_tree *t, uint32_t parent, uint32_t func)
{
    int added;
    uint32_t c =
        graph_intern(&t->index, (uint64_t)parent << 32 | func, &t->nnodes, &added);
    if (!added)
        return c;
    cprof_grow(&t->nodes, &t->cap, t->nnodes, sizeof(*t->nodes));
    t->nodes[c] = (struct gr_node){.func = func,
                                   .parent = parent,
                                   .first_child = M_NONE,
                                   .last_child = M_NONE,
                                   .next_sibling = M_NONE};
    struct gr_node *p = &t->nodes[parent];
    if (p->last_child == M_NONE)
        p->first_child = c;
    else
        t->nodes[p->last_child].next_sibling = c;
    p->last_child = c;
    return c;
}

void graph_tree(const struct model *m, uint32_t root_func, struct gr_tree *t)
{
    memset(t, 0, sizeof(*t));
    cprof_grow(&t->nodes, &t->cap, 1, sizeof(*t->nodes));
    t->nodes[0] = (struct gr_node){.func = M_NONE,
                                   .parent = M_NONE,
                                   .first_child = M_NONE,
                                   .last_child = M_NONE,
                                   .next_sibling = M_NONE};
    t->nnodes = 1;
    uint32_t *merged = NULL; /* thread node -> merged node, M_NONE: outside */
    size_t cap = 0;
    struct pf_comp *comp = profile_comp_new(m);
    t->compensable = comp != NULL;
    for (size_t i = 0; i < m->nprocs; i++) {
        for (size_t k = 0; k < m->procs[i]->nthreads; k++) {
            const struct m_thread *th = m->procs[i]->threads[k];
            double scale = th->proc->ns_per_tick;
            if (!th->nnodes)
                continue;
            struct pf_node_cost *cost = profile_node_costs(comp, th);
            cprof_grow(&merged, &cap, th->nnodes, sizeof(*merged));
            merged[0] = root_func == M_NONE ? 0 : M_NONE;
            for (size_t n = 1; n < th->nnodes; n++) {
                const struct m_node *node = &th->nodes[n];
                uint32_t up = merged[node->parent];
                if (up == M_NONE && node->func == root_func)
                    up = 0; /* an outermost call of root_func */
                merged[n] = up == M_NONE ? M_NONE : graph_tree_child(t, up, node->func);
                if (merged[n] == M_NONE)
                    continue;
                struct gr_node *g = &t->nodes[merged[n]];
                g->calls += node->calls;
                g->total_ns += (double)node->incl_ticks * scale;
                double self_adj = 0, total_adj = 0;
                g->self_ns +=
                    graph_self_ns(th, (uint32_t)n, comp, cost, &self_adj, &total_adj);
                g->self_adj_ns += self_adj;
                g->total_adj_ns += total_adj;
            }
            free(cost);
        }
    }
    free(merged);
    free(comp);
    for (size_t n = 1; t->compensable && n < t->nnodes; n++)
        t->nodes[n].adj_clamped =
            pf_clamp_adj(&t->nodes[n].self_adj_ns, &t->nodes[n].total_adj_ns);
    /* subtree sums: children come after their parents */
    for (size_t n = t->nnodes; n-- > 0;) {
        struct gr_node *g = &t->nodes[n];
        g->paths += n ? 1 : 0;
        g->subtree_calls += g->calls;
        if (n) {
            t->nodes[g->parent].paths += g->paths;
            t->nodes[g->parent].subtree_calls += g->subtree_calls;
        }
    }
}

void graph_tree_free(struct gr_tree *t)
{
    free(t->nodes);
    hm_free(&t->index);
    memset(t, 0, sizeof(*t));
}
