/*
 * The per-function view; see profile.h. Each thread's calling-context tree
 * is walked once, depth first, keeping for every function how many of its
 * frames are on the current path: a node adds its inclusive time to its
 * function's total only when no ancestor belongs to the same function.
 */
#include "profile.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Each node's subtree heap sums (the node included), for inclusive figures. */
struct pf_subtree {
    uint64_t alloc_calls, alloc_bytes, free_calls, freed_bytes;
};

static struct pf_subtree *profile_subtrees(const struct m_thread *t)
{
    struct pf_subtree *sub = cprof_xcalloc(t->nnodes, sizeof(*sub));
    /* a parent's index is below its children's: one backward pass */
    for (size_t i = t->nnodes; i-- > 1;) {
        const struct m_node *n = &t->nodes[i];
        sub[i].alloc_calls += n->alloc_calls;
        sub[i].alloc_bytes += n->alloc_bytes;
        sub[i].free_calls += n->free_calls;
        sub[i].freed_bytes += n->freed_bytes;
        struct pf_subtree *up = &sub[n->parent];
        up->alloc_calls += sub[i].alloc_calls;
        up->alloc_bytes += sub[i].alloc_bytes;
        up->free_calls += sub[i].free_calls;
        up->freed_bytes += sub[i].freed_bytes;
    }
    return sub;
}

/* Adds one node's heap figures to its function's row; outermost says no
 * ancestor belongs to the same function. */
static void profile_heap(struct pf_row *row, const struct m_node *n,
                         const struct pf_subtree *sub, int outermost)
{
    row->alloc_calls += n->alloc_calls;
    row->alloc_bytes += n->alloc_bytes;
    row->free_calls += n->free_calls;
    row->freed_bytes += n->freed_bytes;
    if (n->peak_bytes > row->peak_bytes)
        row->peak_bytes = n->peak_bytes;
    if (!outermost)
        return;
    row->total_alloc_calls += sub->alloc_calls;
    row->total_alloc_bytes += sub->alloc_bytes;
    row->total_free_calls += sub->free_calls;
    row->total_freed_bytes += sub->freed_bytes;
}

/*
 * Compensation. Each call's hooks read the clock in their middle: the part
 * of the pair after the enter's timestamp and before the exit's (inner)
 * lies in the call's own time, self and inclusive; the rest (outer) in its
 * caller's self time; the whole pair in every ancestor's inclusive time;
 * a line event wholly in the self time of the call it belongs to. So per
 * node, with c its calls, k its children's calls, d the calls below it and
 * l, L the line events of its own calls and of its whole subtree:
 *   self_adj  = self  - c * inner - k * (pair - inner) - l * line
 *   total_adj = total - c * inner - d * pair           - L * line
 * Line events are known per function, not per call path: each node gets
 * its function's in proportion to its calls. A region's calls ran no hook.
 */
struct pf_comp {
    double lines_per_call; /* the function's line events per call */
    int probed;            /* its calls ran the hooks (not a region's) */
};

/* Per node: probed calls and line events in its subtree, itself included. */
struct pf_comp_sub {
    double calls, lines;
};

struct pf_comp *profile_comp_new(const struct model *m)
{
    int any = 0;
    for (size_t i = 0; i < m->nprocs; i++)
        any |= m->procs[i]->has_probe && m->procs[i]->ns_per_tick > 0;
    if (!any)
        return NULL;
    struct pf_comp *fc = cprof_xcalloc(m->nfuncs ? m->nfuncs : 1, sizeof(*fc));
    double *calls = cprof_xcalloc(m->nfuncs ? m->nfuncs : 1, sizeof(*calls));
    for (size_t i = 0; i < m->nprocs; i++)
        for (size_t k = 0; k < m->procs[i]->nthreads; k++) {
            const struct m_thread *t = m->procs[i]->threads[k];
            for (size_t j = 1; j < t->nnodes; j++)
                calls[t->nodes[j].func] += (double)t->nodes[j].calls;
        }
    for (size_t l = 0; l < m->nlines; l++)
        if (calls[m->lines[l].func] > 0)
            fc[m->lines[l].func].lines_per_call +=
                (double)m->lines[l].hits / calls[m->lines[l].func];
    for (size_t f = 0; f < m->nfuncs; f++)
        fc[f].probed = !m->funcs[f].region;
    free(calls);
    return fc;
}

static struct pf_comp_sub *profile_comp_subtrees(const struct m_thread *t,
                                                 const struct pf_comp *fc)
{
    struct pf_comp_sub *sub = cprof_xcalloc(t->nnodes, sizeof(*sub));
    for (size_t i = t->nnodes; i-- > 1;) {
        const struct m_node *n = &t->nodes[i];
        sub[i].calls += fc[n->func].probed ? (double)n->calls : 0;
        sub[i].lines += (double)n->calls * fc[n->func].lines_per_call;
        sub[n->parent].calls += sub[i].calls;
        sub[n->parent].lines += sub[i].lines;
    }
    return sub;
}

struct pf_node_cost *profile_node_costs(const struct pf_comp *fc,
                                        const struct m_thread *t)
{
    const struct m_process *p = t->proc;
    if (!fc || !p->has_probe || !(p->ns_per_tick > 0) || !t->nnodes)
        return NULL;
    struct pf_comp_sub *sub = profile_comp_subtrees(t, fc);
    struct pf_node_cost *cost = cprof_xcalloc(t->nnodes, sizeof(*cost));
    for (uint32_t i = 1; i < t->nnodes; i++) {
        const struct m_node *n = &t->nodes[i];
        double own = fc[n->func].probed ? (double)n->calls : 0, kids = 0;
        for (uint32_t c = n->first_child; c != M_NONE; c = t->nodes[c].next_sibling)
            kids += fc[t->nodes[c].func].probed ? (double)t->nodes[c].calls : 0;
        double lines = (double)n->calls * fc[n->func].lines_per_call;
        cost[i].self_ns = own * p->probe_inner_ns +
                          kids * (p->probe_call_ns - p->probe_inner_ns) +
                          lines * p->probe_line_ns;
        cost[i].total_ns = own * p->probe_inner_ns +
                           (sub[i].calls - own) * p->probe_call_ns +
                           sub[i].lines * p->probe_line_ns;
    }
    free(sub);
    return cost;
}

/* Per function: the (value, calls) pairs of its nodes' histograms. */
struct pf_samples {
    struct m_sample *s;
    size_t n, cap;
};

/* Adds node n's histogram to its function's samples, in ns. */
static void profile_node_samples(const struct m_thread *t, const struct m_node *n,
                                 struct pf_samples *out)
{
    double scale = t->proc->ns_per_tick;
    if (scale <= 0 || !n->hist_len)
        return;
    cprof_grow(&out->s, &out->cap, out->n + n->hist_len, sizeof(*out->s));
    for (uint32_t i = 0; i < n->hist_len; i++)
        out->s[out->n++] = (struct m_sample){
            model_bucket_value(n->hist[i].bucket, t->proc->hist_sub_bits, n->min_ticks,
                               n->max_ticks) *
                scale,
            n->hist[i].count};
}

/* Adds one thread's tree to rows (indexed by function); on_path is zero on
 * entry and on return. */
static void profile_thread(const struct m_thread *t, struct pf_row *rows,
                           uint32_t *on_path, struct pf_samples *samples,
                           const struct pf_comp *fc)
{
    double scale = t->proc->ns_per_tick;
    struct pf_subtree *sub = t->proc->has_heap ? profile_subtrees(t) : NULL;
    struct pf_node_cost *cost = profile_node_costs(fc, t);
    /* an explicit stack: (node, leaving) so deep recursion needs no C stack */
    struct visit {
        uint32_t node;
        int leaving;
    } *stack = NULL;
    size_t depth = 0, cap = 0;
    for (uint32_t c = t->nodes[0].first_child; c != M_NONE;
         c = t->nodes[c].next_sibling) {
        cprof_grow(&stack, &cap, depth + 1, sizeof(*stack));
        stack[depth++] = (struct visit){c, 0};
    }
    while (depth) {
        struct visit v = stack[--depth];
        const struct m_node *n = &t->nodes[v.node];
        if (v.leaving) {
            on_path[n->func]--;
            continue;
        }
        struct pf_row *row = &rows[n->func];
        uint64_t child_ticks = 0, child_cpu = 0;
        for (uint32_t c = n->first_child; c != M_NONE; c = t->nodes[c].next_sibling) {
            child_ticks += t->nodes[c].incl_ticks;
            child_cpu += t->nodes[c].cpu_ns;
        }
        row->calls += n->calls;
        if (n->incl_ticks > child_ticks)
            row->self_ns += (double)(n->incl_ticks - child_ticks) * scale;
        if (!on_path[n->func])
            row->total_ns += (double)n->incl_ticks * scale;
        if (t->proc->has_cpu) {
            if (n->cpu_ns > child_cpu)
                row->cpu_self_ns += (double)(n->cpu_ns - child_cpu);
            if (!on_path[n->func])
                row->cpu_total_ns += (double)n->cpu_ns;
        }
        if (fc) {
            double self_adj, total_adj;
            pf_node_adj(t, v.node, child_ticks, cost, &self_adj, &total_adj);
            row->self_adj_ns += self_adj;
            if (!on_path[n->func])
                row->total_adj_ns += total_adj;
        }
        if (sub)
            profile_heap(row, n, &sub[v.node], !on_path[n->func]);
        profile_node_samples(t, n, &samples[n->func]);
        if (n->completed) {
            double lo = (double)n->min_ticks * scale, hi = (double)n->max_ticks * scale;
            if (!row->completed || lo < row->min_ns)
                row->min_ns = lo;
            if (hi > row->max_ns)
                row->max_ns = hi;
            row->completed += n->completed;
        }
        on_path[n->func]++;
        cprof_grow(&stack, &cap, depth + 1, sizeof(*stack));
        stack[depth++] = (struct visit){v.node, 1};
        for (uint32_t c = n->first_child; c != M_NONE; c = t->nodes[c].next_sibling) {
            cprof_grow(&stack, &cap, depth + 1, sizeof(*stack));
            stack[depth++] = (struct visit){c, 0};
        }
    }
    free(stack);
    free(sub);
    free(cost);
}

/* The profile's probe figures, and each row's compensated times clamped
 * at 0. */
static void profile_comp_finish(const struct model *m, struct profile *out)
{
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct m_process *p = m->procs[i];
        if (!p->has_probe || p->ns_per_tick <= 0)
            continue;
        if (out->compensable)
            out->probe_varies |= p->probe_call_ns != out->probe_call_ns ||
                                 p->probe_inner_ns != out->probe_inner_ns ||
                                 p->probe_line_ns != out->probe_line_ns;
        else {
            out->probe_call_ns = p->probe_call_ns;
            out->probe_inner_ns = p->probe_inner_ns;
            out->probe_line_ns = p->probe_line_ns;
        }
        out->compensable = 1;
    }
    for (size_t i = 0; i < out->nrows; i++)
        out->rows[i].adj_clamped =
            pf_clamp_adj(&out->rows[i].self_adj_ns, &out->rows[i].total_adj_ns);
}

static void profile_name(const struct model *m, struct sym_cache *syms, struct profile *p,
                         struct pf_row *row)
{
    const struct m_func *f = &m->funcs[row->func];
    row->file = "";
    row->module = "";
    row->quality = SYM_OFFSET;
    if (f->region) { /* named by the program, exactly */
        row->name = f->region;
        row->module = "(region)";
        row->quality = SYM_DWARF;
        return;
    }
    if (f->node_limit || f->module == M_NONE) {
        char *name = f->node_limit
                         ? cprof_xstrdup("[node limit]")
                         : cprof_xasprintf("0x%llx", (unsigned long long)f->addr);
        row->name = strpool_own(&p->owned, name);
        return;
    }
    const struct m_module *mod = &m->modules[f->module];
    row->module = mod->path;
    if (!syms) {
        row->name = "";
        return;
    }
    struct sym_func sf;
    sym_resolve(syms, mod->path, mod->build_id, f->addr, &sf);
    row->name = sf.name;
    row->file = sf.file;
    row->line = sf.line;
    row->quality = sf.quality;
}

/* Fills row's percentiles: from the exact times when the model holds one
 * for each of its completed calls, else from its histogram samples. */
static void profile_percentiles(const struct model *m, size_t f, struct pf_row *row,
                                struct pf_samples *samples)
{
    static const double pcts[3] = {50, 90, 99};
    double out[3];
    const struct m_exact *e = f < m->nexact ? &m->exact[f] : NULL;
    if (!row->completed)
        return;
    if (e && !e->over && e->n && e->n == row->completed) {
        struct m_sample *s = cprof_xcalloc(e->n, sizeof(*s));
        for (size_t i = 0; i < e->n; i++)
            s[i] = (struct m_sample){e->ns[i], 1};
        row->has_pct = model_percentiles(s, e->n, pcts, 3, out) == 0;
        row->pct_exact = row->has_pct;
        free(s);
    } else {
        row->has_pct = model_percentiles(samples->s, samples->n, pcts, 3, out) == 0;
    }
    if (row->has_pct) {
        row->p50_ns = out[0];
        row->p90_ns = out[1];
        row->p99_ns = out[2];
    }
}

void profile_build(const struct model *m, struct sym_cache *syms, struct profile *out)
{
    memset(out, 0, sizeof(*out));
    out->timed = m->timed;
    struct pf_row *rows = cprof_xcalloc(m->nfuncs, sizeof(*rows));
    uint32_t *on_path = cprof_xcalloc(m->nfuncs, sizeof(*on_path));
    struct pf_samples *samples = cprof_xcalloc(m->nfuncs, sizeof(*samples));
    struct pf_comp *fc = profile_comp_new(m);
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct m_process *p = m->procs[i];
        if (p->ns_per_tick > 0 && model_hist_error(p->hist_sub_bits) > out->pct_error)
            out->pct_error = model_hist_error(p->hist_sub_bits);
        for (size_t k = 0; k < p->nthreads; k++)
            profile_thread(p->threads[k], rows, on_path, samples, fc);
    }
    free(fc);
    free(on_path);
    for (size_t f = 0; f < m->nfuncs; f++) {
        profile_percentiles(m, f, &rows[f], &samples[f]);
        out->pct_estimated |= rows[f].has_pct && !rows[f].pct_exact;
        free(samples[f].s);
    }
    free(samples);
    out->heap = m->heap;
    for (size_t i = 0; i < m->nprocs; i++)
        out->cpu |= m->procs[i]->has_cpu;
    for (size_t i = 0; i < m->nprocs; i++)
        for (size_t k = 0; k < m->procs[i]->nleaks; k++) {
            const struct m_leak *l = &m->procs[i]->leaks[k];
            rows[l->func].leaked_blocks += l->blocks;
            rows[l->func].leaked_bytes += l->bytes;
        }
    size_t kept = 0;
    for (size_t f = 0; f < m->nfuncs; f++) {
        if (!rows[f].calls && rows[f].total_ns <= 0 && rows[f].self_ns <= 0)
            continue;
        rows[f].func = (uint32_t)f;
        out->total_calls += rows[f].calls;
        out->total_self_ns += rows[f].self_ns;
        rows[kept++] = rows[f];
    }
    out->rows = rows;
    out->nrows = kept;
    for (size_t i = 0; i < kept; i++) {
        profile_name(m, syms, out, &rows[i]);
        rows[i].self_pct =
            out->total_self_ns > 0 ? rows[i].self_ns * 100 / out->total_self_ns : 0;
    }
    profile_comp_finish(m, out);
}

static const char *const profile_key_names[] = {
    [PF_SORT_SELF] = "self",
    [PF_SORT_TOTAL] = "total",
    [PF_SORT_CALLS] = "calls",
    [PF_SORT_SELF_PER_CALL] = "self_per_call",
    [PF_SORT_TOTAL_PER_CALL] = "total_per_call",
    [PF_SORT_MIN] = "min",
    [PF_SORT_MAX] = "max",
    [PF_SORT_NAME] = "name",
    [PF_SORT_FILE] = "file",
    [PF_SORT_ALLOC] = "alloc",
    [PF_SORT_SELF_ALLOC] = "self_alloc",
    [PF_SORT_ALLOC_CALLS] = "alloc_calls",
    [PF_SORT_FREE_CALLS] = "free_calls",
    [PF_SORT_FREED] = "freed",
    [PF_SORT_DELTA] = "delta",
    [PF_SORT_SELF_DELTA] = "self_delta",
    [PF_SORT_PEAK] = "peak",
    [PF_SORT_LEAKED] = "leaked",
    [PF_SORT_P50] = "p50",
    [PF_SORT_P90] = "p90",
    [PF_SORT_P99] = "p99",
    [PF_SORT_CPU] = "cpu",
    [PF_SORT_CPU_TOTAL] = "cpu_total",
    [PF_SORT_WAIT] = "wait",
    [PF_SORT_WAIT_TOTAL] = "wait_total",
    [PF_SORT_SELF_ADJ] = "self_adj",
    [PF_SORT_TOTAL_ADJ] = "total_adj",
};

int profile_sort_key(const char *name, enum pf_sort *key)
{
    for (size_t i = 0; i < sizeof profile_key_names / sizeof *profile_key_names; i++) {
        if (!strcmp(name, profile_key_names[i])) {
            *key = (enum pf_sort)i;
            return 0;
        }
    }
    return -1;
}

const char *profile_sort_what(enum pf_sort key)
{
    static const char *const what[] = {
        [PF_SORT_SELF] = "self time",
        [PF_SORT_TOTAL] = "total time",
        [PF_SORT_CALLS] = "calls",
        [PF_SORT_SELF_PER_CALL] = "self time per call",
        [PF_SORT_TOTAL_PER_CALL] = "total time per call",
        [PF_SORT_MIN] = "fastest call",
        [PF_SORT_MAX] = "slowest call",
        [PF_SORT_NAME] = "name",
        [PF_SORT_FILE] = "file",
        [PF_SORT_ALLOC] = "bytes allocated, callees included",
        [PF_SORT_SELF_ALLOC] = "bytes allocated in the function itself",
        [PF_SORT_ALLOC_CALLS] = "allocation calls",
        [PF_SORT_FREE_CALLS] = "free calls",
        [PF_SORT_FREED] = "bytes freed",
        [PF_SORT_DELTA] = "net heap change, callees included",
        [PF_SORT_SELF_DELTA] = "net heap change in the function itself",
        [PF_SORT_PEAK] = "peak heap while running",
        [PF_SORT_LEAKED] = "bytes still allocated at exit",
        [PF_SORT_P50] = "median time per call",
        [PF_SORT_P90] = "90th percentile time per call",
        [PF_SORT_P99] = "99th percentile time per call",
        [PF_SORT_CPU] = "CPU time",
        [PF_SORT_CPU_TOTAL] = "CPU time, callees included",
        [PF_SORT_WAIT] = "wait (time off the CPU)",
        [PF_SORT_WAIT_TOTAL] = "wait, callees included",
        [PF_SORT_SELF_ADJ] = "self time, probe cost subtracted",
        [PF_SORT_TOTAL_ADJ] = "total time, probe cost subtracted",
    };
    return what[key];
}

static double profile_per_call(double ns, uint64_t calls)
{
    return calls ? ns / (double)calls : 0;
}

static double profile_value(const struct pf_row *r, enum pf_sort key)
{
    switch (key) {
    case PF_SORT_SELF:
        return r->self_ns;
    case PF_SORT_TOTAL:
        return r->total_ns;
    case PF_SORT_CALLS:
        return (double)r->calls;
    case PF_SORT_SELF_PER_CALL:
        return profile_per_call(r->self_ns, r->calls);
    case PF_SORT_TOTAL_PER_CALL:
        return profile_per_call(r->total_ns, r->calls);
    case PF_SORT_MIN:
        return r->completed ? r->min_ns : -1;
    case PF_SORT_MAX:
        return r->completed ? r->max_ns : -1;
    case PF_SORT_ALLOC:
        return (double)r->total_alloc_bytes;
    case PF_SORT_SELF_ALLOC:
        return (double)r->alloc_bytes;
    case PF_SORT_ALLOC_CALLS:
        return (double)r->alloc_calls;
    case PF_SORT_FREE_CALLS:
        return (double)r->free_calls;
    case PF_SORT_FREED:
        return (double)r->freed_bytes;
    case PF_SORT_DELTA:
        return pf_delta(r->total_alloc_bytes, r->total_freed_bytes);
    case PF_SORT_SELF_DELTA:
        return pf_delta(r->alloc_bytes, r->freed_bytes);
    case PF_SORT_PEAK:
        return (double)r->peak_bytes;
    case PF_SORT_LEAKED:
        return (double)r->leaked_bytes;
    case PF_SORT_P50:
        return r->has_pct ? r->p50_ns : -1;
    case PF_SORT_P90:
        return r->has_pct ? r->p90_ns : -1;
    case PF_SORT_P99:
        return r->has_pct ? r->p99_ns : -1;
    case PF_SORT_CPU:
        return r->cpu_self_ns;
    case PF_SORT_CPU_TOTAL:
        return r->cpu_total_ns;
    case PF_SORT_WAIT:
        return pf_wait(r->self_ns, r->cpu_self_ns);
    case PF_SORT_WAIT_TOTAL:
        return pf_wait(r->total_ns, r->cpu_total_ns);
    case PF_SORT_SELF_ADJ:
        return r->self_adj_ns;
    case PF_SORT_TOTAL_ADJ:
        return r->total_adj_ns;
    default:
        return 0;
    }
}

static enum pf_sort profile_sort_by;

static int profile_cmp(const void *a, const void *b)
{
    const struct pf_row *x = a, *y = b;
    int c = 0;
    if (profile_sort_by == PF_SORT_FILE)
        c = strcmp(x->file, y->file);
    else if (profile_sort_by != PF_SORT_NAME) {
        double vx = profile_value(x, profile_sort_by),
               vy = profile_value(y, profile_sort_by);
        c = vx < vy ? 1 : vx > vy ? -1 : 0;
    }
    if (!c)
        c = strcmp(x->name, y->name);
    if (!c)
        c = strcmp(x->file, y->file);
    if (!c)
        c = x->line < y->line ? -1 : x->line > y->line;
    if (!c)
        c = x->func < y->func ? -1 : x->func > y->func;
    return c;
}

void profile_sort(struct profile *p, enum pf_sort key)
{
    profile_sort_by = key;
    if (p->nrows)
        qsort(p->rows, p->nrows, sizeof(*p->rows), profile_cmp);
}

void profile_free(struct profile *p)
{
    strpool_free(&p->owned);
    free(p->rows);
    memset(p, 0, sizeof(*p));
}
