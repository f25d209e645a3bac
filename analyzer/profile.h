/*
 * The per-function view: one row per function with its exact call count,
 * self and inclusive time, per-call min and max, summed over every thread
 * and process in the model. Inclusive time counts a recursive function's
 * outermost activation only (as cProfile does), so a function's total never
 * exceeds the time it was really on the stack.
 *
 * Latency percentiles (p50, p90, p99) are of the inclusive times of the
 * calls min and max cover: every completed call once, with its own
 * inclusive time (a recursive function's inner calls too). They are exact
 * (nearest rank) where a trace kept every such time of the function (see
 * model.h), else estimated from the node histograms: each bucket's calls
 * taken at its midpoint clamped to its node's min and max (model_pct.c),
 * within model_hist_error() of the true value.
 *
 * Heap figures (format 1.2) follow the same rules: self counts are what the
 * function did while it was the innermost call, totals sum the subtrees of
 * its outermost activations, the peak is the largest of its nodes' peaks,
 * and leaks are what it allocated that no thread freed.
 *
 * CPU time (format 1.5, CPROF_CPU=1) follows the rules of self and total
 * time: cpu_self_ns is a node's CPU time less its instrumented children's,
 * cpu_total_ns counts outermost activations only.
 */
#ifndef CPROF_PROFILE_H
#define CPROF_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "sym.h"
#include "util.h"

struct pf_row {
    uint32_t func;           /* model.funcs index */
    const char *name, *file; /* owned by the symbol cache (or the profile) */
    unsigned line;
    const char *module; /* path of the ELF object, "" when unknown, "(region)"
                           for a region (name: its name, no file) */
    enum sym_quality quality;
    uint64_t calls;
    uint64_t completed; /* calls that returned (min/max cover these) */
    double self_ns, total_ns;
    double min_ns, max_ns; /* valid when completed > 0 */
    double self_pct;       /* share of all self time, 0..100 */
    /* latency percentiles of inclusive time per call, valid when has_pct
     * (timed data with completed calls); pct_exact: from every call's own
     * time, not from histograms */
    int has_pct, pct_exact;
    double p50_ns, p90_ns, p99_ns;
    /* heap (meaningful when profile.heap): self, then inclusive */
    uint64_t alloc_calls, alloc_bytes, free_calls, freed_bytes;
    uint64_t total_alloc_calls, total_alloc_bytes, total_free_calls, total_freed_bytes;
    uint64_t peak_bytes;                  /* highest heap in use while it ran */
    uint64_t leaked_blocks, leaked_bytes; /* allocated here, never freed */
    /* CPU time (meaningful when profile.cpu), the same rules as self_ns and
     * total_ns; wall less CPU (pf_wait) is time the thread was off the CPU */
    double cpu_self_ns, cpu_total_ns;
    /* compensated times (meaningful when profile.compensable): self_ns and
     * total_ns less the probe cost the runtime measured at start, per call
     * and per line event (see profile.c); estimates where the raw times are
     * measurements. Clamped at 0, and then adj_clamped is set. */
    double self_adj_ns, total_adj_ns;
    int adj_clamped;
};

/* Net heap change in bytes: allocated less freed (negative: it freed more
 * than it allocated). */
static inline double pf_delta(uint64_t allocated, uint64_t freed)
{
    return (double)allocated - (double)freed;
}

/* Wait: wall time less CPU time, the time the thread was off the CPU
 * (blocked, sleeping, or preempted); never below 0. */
static inline double pf_wait(double wall_ns, double cpu_ns)
{
    return wall_ns > cpu_ns ? wall_ns - cpu_ns : 0;
}

struct profile {
    struct pf_row *rows;
    size_t nrows;
    uint64_t total_calls;
    double total_self_ns;
    int timed; /* times are known (not only count-mode data) */
    int heap;  /* some process has heap data (format 1.2) */
    int cpu;   /* some process has CPU time per node (1.5, CPROF_CPU=1) */
    /* some timed process recorded its probe cost (1.5): the *_adj_ns figures
     * mean something; probe_*: the first such process's, probe_varies: not
     * every such process measured the same */
    int compensable, probe_varies;
    double probe_call_ns, probe_inner_ns, probe_line_ns;
    double pct_error;     /* the largest relative error of estimated percentiles */
    int pct_estimated;    /* some row's percentiles are estimates */
    struct strpool owned; /* names made up here for functions without a module */
};

enum pf_sort {
    PF_SORT_SELF,
    PF_SORT_TOTAL,
    PF_SORT_CALLS,
    PF_SORT_SELF_PER_CALL,
    PF_SORT_TOTAL_PER_CALL,
    PF_SORT_MIN,
    PF_SORT_MAX,
    PF_SORT_NAME,
    PF_SORT_FILE,
    /* latency percentiles (cprof report) */
    PF_SORT_P50,
    PF_SORT_P90,
    PF_SORT_P99,
    /* heap keys (cprof heap) */
    PF_SORT_ALLOC,      /* bytes allocated, inclusive */
    PF_SORT_SELF_ALLOC, /* bytes allocated, self */
    PF_SORT_ALLOC_CALLS,
    PF_SORT_FREE_CALLS,
    PF_SORT_FREED,
    PF_SORT_DELTA, /* net change, inclusive */
    PF_SORT_SELF_DELTA,
    PF_SORT_PEAK,
    PF_SORT_LEAKED,
    /* CPU time (cprof report, data recorded with CPROF_CPU=1) */
    PF_SORT_CPU, /* self */
    PF_SORT_CPU_TOTAL,
    PF_SORT_WAIT, /* self time off the CPU */
    PF_SORT_WAIT_TOTAL,
    /* compensated times (cprof report --compensate) */
    PF_SORT_SELF_ADJ,
    PF_SORT_TOTAL_ADJ,
};

/* Builds the table; functions with neither calls nor time are left out.
 * Names come from the symbol cache, which must outlive the profile; with
 * syms NULL, functions in modules are left unnamed (""). */
void profile_build(const struct model *m, struct sym_cache *syms, struct profile *out);
/* Sorts by key, largest first for numbers, alphabetically for names and
 * files; ties go by name, file, line. Returns -1 for an unknown key name. */
int profile_sort_key(const char *name, enum pf_sort *key);
void profile_sort(struct profile *p, enum pf_sort key);
/* What key orders by, for a title: "self time", "bytes freed", ... */
const char *profile_sort_what(enum pf_sort key);
void profile_free(struct profile *p);

/*
 * Compensation per calling-context node, for views that sum nodes their
 * own way (cprof graph sums them by edge and by call path): each node's
 * compensated self time is its raw self (inclusive less its children's,
 * not clamped) less cost.self_ns, its compensated inclusive time its raw
 * one less cost.total_ns; sums of them are clamped with pf_clamp_adj.
 */
struct pf_comp;
struct pf_node_cost {
    double self_ns, total_ns; /* the probe cost in the node's self, inclusive time */
};
/* What compensating m's nodes needs (per function: its line events per
 * call, whether it is a region), or NULL when no process of m measured its probe
 * cost (count mode, files before 1.5): nothing is compensable. Release it
 * with free(). */
struct pf_comp *profile_comp_new(const struct model *m);
/* The cost in each node of t (indexed as t->nodes; allocated), or NULL
 * when comp is NULL or t's process did not measure its probe cost: its
 * nodes' times are then taken as they are. */
struct pf_node_cost *profile_node_costs(const struct pf_comp *comp,
                                        const struct m_thread *t);

/* Node i of t's compensated self and inclusive times, not clamped: its raw
 * self (inclusive less child_ticks, its children's inclusive ticks; not
 * clamped) and inclusive time less its probe cost from cost (NULL: its
 * process measured none, the times count as they are). */
static inline void pf_node_adj(const struct m_thread *t, uint32_t i, uint64_t child_ticks,
                               const struct pf_node_cost *cost, double *self_adj_ns,
                               double *total_adj_ns)
{
    const struct m_node *n = &t->nodes[i];
    double scale = t->proc->ns_per_tick;
    *self_adj_ns = ((double)n->incl_ticks - (double)child_ticks) * scale -
                   (cost ? cost[i].self_ns : 0);
    *total_adj_ns = (double)n->incl_ticks * scale - (cost ? cost[i].total_ns : 0);
}

/* Clamps compensated times at 0; returns whether one was below. */
static inline int pf_clamp_adj(double *self_adj_ns, double *total_adj_ns)
{
    int clamped = *self_adj_ns < 0 || *total_adj_ns < 0;
    *self_adj_ns = *self_adj_ns > 0 ? *self_adj_ns : 0;
    *total_adj_ns = *total_adj_ns > 0 ? *total_adj_ns : 0;
    return clamped;
}

#endif
