/*
 * The call graph of the model (`cprof graph`): the call edges between
 * functions, and the calling-context tree merged by call path, both summed
 * over every thread and process loaded. They come from the threads'
 * calling-context trees, so summary, trace and count data give the same
 * graph: a node under a parent node is a call from the parent's function to
 * the node's function.
 *
 * Recursion: an edge's calls and self time count every call along it; its
 * total counts a call nested inside another call along the same edge once
 * (the outer one), as a function's total in `cprof report` counts its
 * outermost activation only. So `fib -> fib` has as many calls as fib has
 * recursive calls, and a total no larger than the time the recursion took.
 *
 * Compensated times (total_adj_ns, self_adj_ns: `--compensate`) are the
 * same sums of the nodes' times less their probe cost, as profile.c
 * computes it per node for `cprof report`, clamped at 0 per edge and per
 * merged node (adj_clamped). They mean something when the graph's
 * compensable is set; where a process did not measure its probe cost its
 * nodes count as they are, as in the report.
 */
#ifndef CPROF_GRAPH_H
#define CPROF_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "hashmap.h"
#include "model.h"

/* Calls from one function to another. */
struct gr_edge {
    uint32_t caller; /* model.funcs index; M_NONE: none (a thread's first calls) */
    uint32_t callee; /* model.funcs index */
    uint64_t calls;
    double total_ns; /* inclusive time of those calls, nested ones counted once */
    double self_ns;  /* the callee's own time in them */
    double total_adj_ns, self_adj_ns; /* the same less the probe cost */
    int adj_clamped;                  /* one of them was below 0 */
};

struct graph {
    struct gr_edge *edges; /* in the order first seen */
    size_t nedges, cap;
    struct hashmap index; /* caller << 32 | callee -> edges index */
    int compensable;      /* some process measured its probe cost */
};

/* Builds every edge of the model into g (zeroed here); graph_free releases
 * it. */
void graph_build(const struct model *m, struct graph *g);
/* The edge from caller to callee, or NULL. */
const struct gr_edge *graph_edge(const struct graph *g, uint32_t caller, uint32_t callee);
void graph_free(struct graph *g);

/* A node of the merged calling-context tree: one call path. */
struct gr_node {
    uint32_t func;        /* model.funcs index; M_NONE for nodes[0] */
    uint32_t parent;      /* M_NONE for nodes[0] */
    uint32_t first_child; /* M_NONE when none; children in the order first seen */
    uint32_t last_child, next_sibling;
    uint64_t calls;
    double total_ns, self_ns;
    double total_adj_ns, self_adj_ns; /* the same less the probe cost */
    int adj_clamped;                  /* one of them was below 0 */
    /* the node's subtree (the node included): nodes and calls */
    uint64_t paths, subtree_calls;
};

struct gr_tree {
    struct gr_node *nodes; /* nodes[0] is a root standing for no call */
    size_t nnodes, cap;
    struct hashmap index; /* parent << 32 | func -> nodes index */
    int compensable;      /* some process measured its probe cost */
};

/*
 * Merges the threads' trees by call path into t (zeroed here). With
 * root_func M_NONE, the whole tree: nodes[0]'s children are the threads'
 * first calls. Otherwise the tree of that function: nodes[0] has one
 * child, root_func, merging the subtrees of its outermost activations
 * (calls with no call of root_func above them) wherever they were made.
 * Nodes' indexes are above their parents'.
 */
void graph_tree(const struct model *m, uint32_t root_func, struct gr_tree *t);
void graph_tree_free(struct gr_tree *t);

#endif
