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

/* Adds one thread's tree to rows (indexed by function); on_path is zero on
 * entry and on return. */
static void profile_thread(const struct m_thread *t, struct pf_row *rows,
                           uint32_t *on_path)
{
    double scale = t->proc->ns_per_tick;
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
