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

/* Adds one thread's tree to rows (indexed by function); on_path is zero on
 * entry and on return. */
static void profile_thread(const struct m_thread *t, struct pf_row *rows,
                           uint32_t *on_path)
{
    double scale = t->proc->ns_per_tick;
    struct pf_subtree *sub = t->proc->has_heap ? profile_subtrees(t) : NULL;
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
        uint64_t child_ticks = 0;
        for (uint32_t c = n->first_child; c != M_NONE; c = t->nodes[c].next_sibling)
            child_ticks += t->nodes[c].incl_ticks;
        row->calls += n->calls;
        if (n->incl_ticks > child_ticks)
            row->self_ns += (double)(n->incl_ticks - child_ticks) * scale;
        if (!on_path[n->func])
            row->total_ns += (double)n->incl_ticks * scale;
        if (sub)
            profile_heap(row, n, &sub[v.node], !on_path[n->func]);
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
}

static void profile_name(const struct model *m, struct sym_cache *syms, struct profile *p,
                         struct pf_row *row)
{
    const struct m_func *f = &m->funcs[row->func];
    row->file = "";
    row->module = "";
    row->quality = SYM_OFFSET;
    if (f->node_limit || f->module == M_NONE) {
        char *name = f->node_limit
                         ? cprof_xstrdup("[node limit]")
                         : cprof_xasprintf("0x%llx", (unsigned long long)f->addr);
        cprof_grow(&p->owned, &p->owned_cap, p->nowned + 1, sizeof(*p->owned));
        p->owned[p->nowned++] = name;
        row->name = name;
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

void profile_build(const struct model *m, struct sym_cache *syms, struct profile *out)
{
    memset(out, 0, sizeof(*out));
    out->timed = m->timed;
    struct pf_row *rows = cprof_xcalloc(m->nfuncs, sizeof(*rows));
    uint32_t *on_path = cprof_xcalloc(m->nfuncs, sizeof(*on_path));
    for (size_t i = 0; i < m->nprocs; i++)
        for (size_t k = 0; k < m->procs[i]->nthreads; k++)
            profile_thread(m->procs[i]->threads[k], rows, on_path);
    free(on_path);
    out->heap = m->heap;
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
    for (size_t i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    free(p->owned);
    free(p->rows);
    memset(p, 0, sizeof(*p));
}
