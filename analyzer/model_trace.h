/*
 * The trace replay's state (model_trace.c), shared with the part that
 * gathers its histogram counts (model_trace_hist.c). Private to them.
 */
#ifndef CPROF_MODEL_TRACE_H
#define CPROF_MODEL_TRACE_H

#include "model.h"

/* Function indexes above this are taken as damage, not data. */
#define TR_MAX_INDEX (1u << 24)

struct tr_frame {
    uint32_t node;
    int inherited;  /* opened before fork: not a call of this process */
    uint64_t start; /* its entry (what the observer is told; the fast path
                     * leaves it unset when the model has no observer) */
    uint64_t from;  /* where its time starts: its entry, or a later reset */
};

/* The child a node entered last: most calls repeat their parent's last
 * call, so tr_push finds them here before asking the children map. */
struct tr_last_child {
    uint32_t local_fn; /* M_NONE: none yet */
    uint32_t node;
};

/* Histogram counts of completed calls not yet added to their nodes, keyed
 * by node << 32 | bucket (TR_PEND_EMPTY: a free slot). Adding a count here
 * costs one probe where a node's sorted bucket list costs a bisection.
 * The table starts small and doubles up to TR_PEND_MAX slots; full at
 * that size, and when the replay ends, it goes into the nodes
 * (model_tr_hist_flush): its size, not the trace's length, bounds it. */
struct tr_pending {
    uint64_t key;
    uint64_t count;
};
#define TR_PEND_MIN 64u
#define TR_PEND_MAX (1u << 14)
#define TR_PEND_EMPTY UINT64_MAX

/* The nodes with many completed calls count them in dense arrays, one
 * uint32 per bucket, instead: an increment, no probe, and a node's
 * buckets sit side by side where the table scatters them over its cache
 * lines. A node gets one at its TR_DENSE_AFTER-th completed call while
 * the thread's arrays take less than TR_DENSE_MAX bytes. An array goes
 * into its node (tr_dense_flush) when the replay ends, and every 2^31
 * completed calls of its node, before a count could overflow. */
#define TR_DENSE_AFTER 1024u
#define TR_DENSE_MAX ((size_t)2 << 20)
#define TR_DENSE_FLUSH (1ull << 31)

/* A node's dense array, and whether the replay loop may take its short
 * exit for the node's completed calls: the node has counts and its
 * function went past the exact-time limits (model_pct.c), so that a call
 * adds to its times and its dense counts only. Set by tr_account once
 * both hold; neither goes back while the arrays live (model_tr_dense_free drops
 * them; a function's exact times restart only after its process's
 * replay, model_exact_merge). */
struct tr_dense {
    uint32_t *counts; /* NULL: none */
    int fast;
};

struct m_trace_state {
    uint32_t *fn_of_index; /* function index -> process-local function */
    size_t nindex;
    struct tr_frame *stack;
    size_t depth, cap;
    struct tr_last_child *last_child; /* per node id; nlast entries */
    size_t nlast;
    struct tr_pending *pending; /* npend_slots slots, a power of two */
    size_t npending, npend_slots;
    struct tr_dense *dense; /* per node id; ndense entries */
    size_t ndense;
    size_t dense_bytes; /* allocated to the arrays */
    uint32_t dense_nbuckets;
    uint64_t now;
    struct model *model; /* for the exact per-call times (model_pct.c) */
    int off;             /* between an EXT_OFF and the next EXT_ON (1.4) */
    char why[160];       /* what was wrong with the last event, when made up */
};

/* One completed call of node in bucket, into the pending table. */
void model_tr_hist_add(struct m_thread *t, uint32_t node, uint32_t bucket);
/* Adds the pending histogram counts to their nodes and frees the table. */
void model_tr_hist_flush(struct m_thread *t);
/* Every TR_DENSE_AFTER completed calls of node n (completed its count):
 * gives it a dense array at the first when the budget allows, and
 * empties its array before its counts could overflow. */
void model_tr_dense_check(struct m_thread *t, uint32_t node, uint64_t completed);
/* Drops every dense array, after adding its counts to its node when keep
 * is set. */
void model_tr_dense_free(struct m_thread *t, int keep);

#endif
