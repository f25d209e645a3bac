/*
 * `cprof export --format callgrind` (see export.h): the loaded data in
 * valgrind's Callgrind format, for callgrind_annotate, KCachegrind and
 * QCachegrind. Every process and thread loaded is merged, as in `cprof
 * report`. The mapping (docs/cprof-export.md, "callgrind"):
 *
 * - Events `Time_ns Calls` (`Calls` alone for count-mode data). A
 *   function's self cost is its self time and its call count, so the
 *   viewers' exclusive columns are `cprof report`'s self_ns and calls.
 * - Self cost goes on the function's first line; a function with line data
 *   spreads its self time over its source lines by the lines' self time, the
 *   rest (prologue, time before the first line event) staying on its first
 *   line.
 * - Each call edge (graph.h) is a calls= line with its exact call count.
 *   Its cost is inclusive but counts only the calls along it that are
 *   outermost activations of the callee (no call of the callee above them):
 *   a nested call's cost is in the outermost one's already. So the
 *   viewers' inclusive column, the sum of the costs of the calls to a
 *   function, is `cprof report`'s total_ns, recursion included, and a
 *   directly recursive edge (fib -> fib) carries its calls at zero cost.
 *   Callgrind itself would add every recursive call's inclusive cost again.
 *   The Calls cost of a call line is the calls made inside those outermost
 *   activations, theirs included.
 * - A function (root), first in the file, makes each thread's first calls
 *   (Callgrind's "(below main)"): its inclusive cost is the whole run.
 *
 * The Callgrind format has no place for the call site: a call line's source
 * line is the caller's first line. Names are compressed ("(id) name").
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "graph.h"
#include "hashmap.h"
#include "util.h"

/* Ids of the compressed names of one kind (ob, fl): the string's id, and
 * whether its name was written already. */
struct cg_name {
    const char *text;
    int written;
};

struct cg_names {
    struct hashmap index; /* string hash -> names index (probing on collision) */
    struct cg_name *names;
    size_t count, cap;
};

static uint64_t cg_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The id (1..) of s, made when new; s must outlive names. */
static size_t cg_name_id(struct cg_names *names, const char *s)
{
    uint64_t key = cg_hash(s);
    for (;; key++) {
        uint32_t i = hm_get(&names->index, key);
        if (i == HM_NONE)
            break;
        if (!strcmp(names->names[i].text, s))
            return i + 1;
    }
    cprof_grow(&names->names, &names->cap, names->count + 1, sizeof(*names->names));
    names->names[names->count] = (struct cg_name){s, 0};
    hm_put(&names->index, key, (uint32_t)names->count);
    return ++names->count;
}

/* Writes "KEY=(id)", with the name the first time. */
static void cg_put_name(FILE *out, const char *key, struct cg_names *names, const char *s)
{
    size_t id = cg_name_id(names, s);
    fprintf(out, "%s=(%zu)", key, id);
    if (!names->names[id - 1].written)
        fprintf(out, " %s", s);
    names->names[id - 1].written = 1;
    fputc('\n', out);
}

static void cg_names_free(struct cg_names *names)
{
    hm_free(&names->index);
    free(names->names);
}

/* A time as the integer Callgrind costs are: rounded as the CSV views
 * print it. */
static uint64_t cg_ns(double ns)
{
    return ns > 0 ? (uint64_t)rint(ns) : 0;
}

/* The function that stands for what called each thread's first calls, so
 * that the viewers see those calls' costs as they see the others. */
#define CG_ROOT "(root)"

/* What the writer works from. */
struct cg_run {
    FILE *out;
    const struct model *m;
    const struct profile *pf;
    int timed;
    uint32_t *row_of;      /* model.funcs index -> profile row, M_NONE */
    const char **fn_names; /* per row: its name, or made up from its address;
                              the root's at pf->nrows */
    unsigned char *fn_written;
    struct cg_names files, objects;
    struct strpool owned;
    struct graph graph;
    double *edge_ns;      /* per edge: the outermost callee calls' inclusive time */
    uint64_t *edge_cost;  /* edge_ns rounded so that each callee's sum is exact */
    uint64_t *edge_calls; /* per edge: the calls inside them, theirs included */
    size_t *edges_by_row; /* edge indexes by caller row (the root: pf->nrows) */
    size_t *first_edge;   /* per row + 2: where its edges start in edges_by_row */
    const struct m_line **lines; /* line data grouped by row */
    size_t *first_line;          /* per row + 1 */
};

static const char *cg_file(const struct pf_row *r)
{
    return r->file[0] ? r->file : "???";
}

static void cg_fn(struct cg_run *cg, const char *key, uint32_t row)
{
    fprintf(cg->out, "%s=(%u)", key, row + 1);
    if (!cg->fn_written[row])
        fprintf(cg->out, " %s", cg->fn_names[row]);
    cg->fn_written[row] = 1;
    fputc('\n', cg->out);
}

/*
 * The edge costs: the merged calling-context tree walked depth first
 * (stackless, along its links), counting per function how many of its
 * calls are on the current path; a node whose function has none above it
 * adds its inclusive time and subtree calls to the edge from its parent.
 */
static void cg_edge_costs(struct cg_run *cg)
{
    const struct model *m = cg->m;
    struct gr_tree t;
    graph_tree(m, M_NONE, &t);
    uint32_t *on_path = cprof_xcalloc(m->nfuncs ? m->nfuncs : 1, sizeof(*on_path));
    uint32_t n = t.nodes[0].first_child;
    while (n != M_NONE) {
        const struct gr_node *node = &t.nodes[n];
        if (!on_path[node->func]) {
            const struct gr_edge *e =
                graph_edge(&cg->graph, t.nodes[node->parent].func, node->func);
            if (e) {
                cg->edge_ns[e - cg->graph.edges] += node->total_ns;
                cg->edge_calls[e - cg->graph.edges] += node->subtree_calls;
            }
        }
        on_path[node->func]++;
        if (node->first_child != M_NONE) {
            n = node->first_child;
            continue;
        }
        for (;;) {
            on_path[t.nodes[n].func]--;
            if (t.nodes[n].next_sibling != M_NONE) {
                n = t.nodes[n].next_sibling;
                break;
            }
            n = t.nodes[n].parent;
            if (n == 0) {
                n = M_NONE;
                break;
            }
        }
    }
    free(on_path);
    graph_tree_free(&t);
}

/* Whether the recorded path file names the function's own file own: the
 * same, or a relative path own ends in after a '/'. */
static int cg_own_file(const char *file, const char *own)
{
    size_t nf = strlen(file), no = strlen(own);
    if (nf == no || file[0] == '/')
        return !strcmp(file, own);
    return no > nf && own[no - nf - 1] == '/' && !strcmp(own + no - nf, file);
}

static const char *cg_sort_own;

/* A function's lines in its own file first, then by file and line. */
static int cg_cmp_line(const void *pa, const void *pb)
{
    const struct m_line *a = *(const struct m_line *const *)pa;
    const struct m_line *b = *(const struct m_line *const *)pb;
    int own_a = cg_own_file(a->file, cg_sort_own),
        own_b = cg_own_file(b->file, cg_sort_own);
    if (own_a != own_b)
        return own_b - own_a;
    int c = own_a ? 0 : strcmp(a->file, b->file);
    if (c)
        return c;
    return a->line < b->line ? -1 : a->line > b->line;
}

/* Groups the items of rows given by row_at into *sorted with *first the
 * start of each row's group (nrows + 1 entries); items of no row are left
 * out. */
static void cg_group(size_t nrows, size_t nitems,
                     uint32_t (*row_at)(struct cg_run *, size_t), struct cg_run *cg,
                     size_t **first, size_t **sorted)
{
    size_t *start = cprof_xcalloc(nrows + 2, sizeof(*start));
    for (size_t i = 0; i < nitems; i++) {
        uint32_t r = row_at(cg, i);
        if (r != M_NONE)
            start[r + 2]++;
    }
    for (size_t r = 2; r < nrows + 2; r++)
        start[r] += start[r - 1];
    size_t *items = cprof_xcalloc(nitems ? nitems : 1, sizeof(*items));
    for (size_t i = 0; i < nitems; i++) {
        uint32_t r = row_at(cg, i);
        if (r != M_NONE)
            items[start[r + 1]++] = i;
    }
    *first = start;
    *sorted = items;
}

static uint32_t cg_edge_row(struct cg_run *cg, size_t e)
{
    uint32_t caller = cg->graph.edges[e].caller;
    return caller == M_NONE ? (uint32_t)cg->pf->nrows : cg->row_of[caller];
}

static uint32_t cg_callee_row(struct cg_run *cg, size_t e)
{
    return cg->row_of[cg->graph.edges[e].callee];
}

/* Rounds the edges' times to whole nanoseconds so that the costs of the
 * calls to a function add up to its total rounded, not to a sum of
 * roundings: each edge takes the rounded running sum less the one before. */
static void cg_round_edges(struct cg_run *cg)
{
    size_t *first, *by_callee;
    cg_group(cg->pf->nrows, cg->graph.nedges, cg_callee_row, cg, &first, &by_callee);
    cg->edge_cost =
        cprof_xcalloc(cg->graph.nedges ? cg->graph.nedges : 1, sizeof(*cg->edge_cost));
    for (size_t r = 0; r < cg->pf->nrows; r++) {
        double sum = 0;
        uint64_t done = 0;
        for (size_t k = first[r]; k < first[r + 1]; k++) {
            sum += cg->edge_ns[by_callee[k]];
            cg->edge_cost[by_callee[k]] = cg_ns(sum) - done;
            done = cg_ns(sum);
        }
    }
    free(first);
    free(by_callee);
}

static uint32_t cg_line_row(struct cg_run *cg, size_t i)
{
    return cg->row_of[cg->m->lines[i].func];
}

/* Builds what the writer needs from the model and profile. */
static void cg_prepare(struct cg_run *cg)
{
    const struct model *m = cg->m;
    const struct profile *pf = cg->pf;
    cg->row_of = cprof_xcalloc(m->nfuncs ? m->nfuncs : 1, sizeof(*cg->row_of));
    for (size_t f = 0; f < m->nfuncs; f++)
        cg->row_of[f] = M_NONE;
    cg->fn_names = cprof_xcalloc(pf->nrows + 1, sizeof(*cg->fn_names));
    cg->fn_written = cprof_xcalloc(pf->nrows + 1, 1);
    cg->fn_names[pf->nrows] = CG_ROOT;
    for (size_t i = 0; i < pf->nrows; i++) {
        const struct pf_row *r = &pf->rows[i];
        cg->row_of[r->func] = (uint32_t)i;
        cg->fn_names[i] =
            r->name[0]
                ? r->name
                : strpool_own(&cg->owned,
                              cprof_xasprintf(
                                  "0x%llx", (unsigned long long)m->funcs[r->func].addr));
    }
    graph_build(m, &cg->graph);
    size_t ne = cg->graph.nedges ? cg->graph.nedges : 1;
    cg->edge_ns = cprof_xcalloc(ne, sizeof(*cg->edge_ns));
    cg->edge_calls = cprof_xcalloc(ne, sizeof(*cg->edge_calls));
    cg_edge_costs(cg);
    cg_round_edges(cg);
    cg_group(pf->nrows + 1, cg->graph.nedges, cg_edge_row, cg, &cg->first_edge,
             &cg->edges_by_row);

    size_t *line_index;
    cg_group(pf->nrows, m->nlines, cg_line_row, cg, &cg->first_line, &line_index);
    cg->lines = cprof_xcalloc(m->nlines ? m->nlines : 1, sizeof(*cg->lines));
    for (size_t i = 0; i < m->nlines; i++)
        cg->lines[i] = &m->lines[line_index[i]];
    free(line_index);
    for (size_t r = 0; r < pf->nrows; r++) {
        cg_sort_own = pf->rows[r].file;
        qsort(cg->lines + cg->first_line[r], cg->first_line[r + 1] - cg->first_line[r],
              sizeof(*cg->lines), cg_cmp_line);
    }
}

static void cg_release(struct cg_run *cg)
{
    free(cg->row_of);
    free(cg->fn_names);
    free(cg->fn_written);
    cg_names_free(&cg->files);
    cg_names_free(&cg->objects);
    strpool_free(&cg->owned);
    graph_free(&cg->graph);
    free(cg->edge_ns);
    free(cg->edge_cost);
    free(cg->edge_calls);
    free(cg->edges_by_row);
    free(cg->first_edge);
    free(cg->lines);
    free(cg->first_line);
}

/* One cost line: a position and the costs of the events written, a
 * trailing Calls cost of 0 left out (Callgrind reads it as 0). */
static void cg_cost(struct cg_run *cg, unsigned line, uint64_t ns, uint64_t calls)
{
    if (cg->timed && !calls)
        fprintf(cg->out, "%u %llu\n", line, (unsigned long long)ns);
    else if (cg->timed)
        fprintf(cg->out, "%u %llu %llu\n", line, (unsigned long long)ns,
                (unsigned long long)calls);
    else
        fprintf(cg->out, "%u %llu\n", line, (unsigned long long)calls);
}

/*
 * The self cost of row r: its calls on its first line with the self time
 * its lines do not account for, then each line's self time. Should the
 * lines hold more than the function's self time (clock rounding), they are
 * scaled down to it, so that the function's total stays exact.
 */
static void cg_self(struct cg_run *cg, size_t r)
{
    const struct pf_row *row = &cg->pf->rows[r];
    const struct m_line **lines = cg->lines + cg->first_line[r];
    size_t nlines = cg->first_line[r + 1] - cg->first_line[r];
    uint64_t self = cg_ns(row->self_ns), on_lines = 0;
    for (size_t i = 0; i < nlines; i++)
        on_lines += cg_ns(lines[i]->self_ns);
    double scale = on_lines > self ? (double)self / (double)on_lines : 1;
    uint64_t *ns = cprof_xcalloc(nlines ? nlines : 1, sizeof(*ns));
    uint64_t rest = self;
    for (size_t i = 0; i < nlines; i++) {
        ns[i] = (uint64_t)floor((double)cg_ns(lines[i]->self_ns) * scale);
        rest -= ns[i] <= rest ? ns[i] : rest;
    }
    cg_cost(cg, row->line, rest, row->calls);
    if (!cg->timed)
        nlines = 0; /* count mode: lines have hits, no time */
    const char *file = NULL;
    for (size_t i = 0; i < nlines; i++) {
        if (lines[i]->file != file && !cg_own_file(lines[i]->file, row->file)) {
            cg_put_name(cg->out, "fi", &cg->files, lines[i]->file);
            file = lines[i]->file;
        }
        cg_cost(cg, lines[i]->line, ns[i], 0);
    }
    if (file)
        cg_put_name(cg->out, "fe", &cg->files, cg_file(row));
    free(ns);
}

/* The calls of row r, or with r pf->nrows those of the root to functions
 * of file root_file: one calls= line per function called. */
static void cg_calls(struct cg_run *cg, size_t r, const char *root_file)
{
    struct pf_row root = {.module = "", .file = root_file ? root_file : ""};
    const struct pf_row *row = r < cg->pf->nrows ? &cg->pf->rows[r] : &root;
    for (size_t k = cg->first_edge[r]; k < cg->first_edge[r + 1]; k++) {
        size_t e = cg->edges_by_row[k];
        const struct gr_edge *edge = &cg->graph.edges[e];
        uint32_t callee = cg->row_of[edge->callee];
        if (callee == M_NONE)
            continue;
        const struct pf_row *to = &cg->pf->rows[callee];
        if (root_file && strcmp(cg_file(to), root_file))
            continue;
        if (to->module[0] && strcmp(to->module, row->module))
            cg_put_name(cg->out, "cob", &cg->objects, to->module);
        /* callgrind_annotate 3.19 keys a cfl= file unshortened: only when
         * needed */
        if (strcmp(cg_file(to), cg_file(row)))
            cg_put_name(cg->out, "cfl", &cg->files, cg_file(to));
        cg_fn(cg, "cfn", callee);
        fprintf(cg->out, "calls=%llu %u\n", (unsigned long long)edge->calls, to->line);
        cg_cost(cg, row->line, cg->edge_cost[e], cg->edge_calls[e]);
    }
}

/* The file of the function the k-th edge of edges_by_row calls; "" when
 * the profile left the function out (no calls, no time). */
static const char *cg_callee_file(const struct cg_run *cg, size_t k)
{
    uint32_t callee = cg->row_of[cg->graph.edges[cg->edges_by_row[k]].callee];
    return callee == M_NONE ? "" : cg_file(&cg->pf->rows[callee]);
}

/* The root: under the file of each function it calls, so that no call
 * needs a cfl= line. */
static void cg_root(struct cg_run *cg)
{
    size_t root = cg->pf->nrows;
    for (size_t k = cg->first_edge[root]; k < cg->first_edge[root + 1]; k++) {
        const char *file = cg_callee_file(cg, k);
        size_t seen = cg->first_edge[root];
        while (seen < k && strcmp(file, cg_callee_file(cg, seen)))
            seen++;
        if (seen < k || !file[0])
            continue; /* written with an earlier call's file, or none */
        fputc('\n', cg->out);
        cg_put_name(cg->out, "fl", &cg->files, file);
        cg_fn(cg, "fn", (uint32_t)root);
        cg_calls(cg, root, file);
    }
}

/* The header: who made the file, from what run, and the events. */
static void cg_header(struct cg_run *cg)
{
    const struct model *m = cg->m;
    FILE *out = cg->out;
    fprintf(out, "# callgrind format\nversion: 1\ncreator: cprof %s\n", CPROF_VERSION);
    const struct m_process *p = m->nprocs ? m->procs[0] : NULL;
    if (p && p->argc) {
        fputs("cmd:", out);
        for (size_t i = 0; i < p->argc; i++)
            fprintf(out, " %s", p->argv[i]);
        fputc('\n', out);
    } else if (p && p->exe) {
        fprintf(out, "cmd: %s\n", p->exe);
    }
    if (m->nprocs == 1)
        fprintf(out, "pid: %llu\n", (unsigned long long)p->pid);
    else
        fprintf(out, "desc: Processes: %zu, merged\n", m->nprocs);
    fputs("positions: line\n", out);
    if (cg->timed)
        fputs("event: Time_ns : Time (ns)\n", out);
    fputs("event: Calls : Calls\n", out);
    fputs(cg->timed ? "events: Time_ns Calls\n" : "events: Calls\n", out);
}

int export_callgrind(FILE *out, struct cmd_view_run *run, const struct export_opts *o)
{
    if (o->has_from || o->has_to || o->min_dur_ns > 0) {
        cprof_error("export: --from, --to and --min-dur select calls of a trace: the "
                    "callgrind format holds totals (leave them out)");
        return CPROF_EXIT_USAGE;
    }
    struct cg_run cg = {.out = out, .m = &run->model, .pf = &run->profile};
    cg.timed = run->profile.timed;
    cg_prepare(&cg);
    cg_header(&cg);
    uint64_t total_ns = 0, total_calls = 0;
    cg_root(&cg);
    for (size_t r = 0; r < cg.pf->nrows; r++) {
        const struct pf_row *row = &cg.pf->rows[r];
        fputc('\n', out);
        if (row->module[0])
            cg_put_name(out, "ob", &cg.objects, row->module);
        cg_put_name(out, "fl", &cg.files, cg_file(row));
        cg_fn(&cg, "fn", (uint32_t)r);
        cg_self(&cg, r);
        cg_calls(&cg, r, NULL);
        total_ns += cg_ns(row->self_ns);
        total_calls += row->calls;
    }
    fputc('\n', out);
    if (cg.timed)
        fprintf(out, "totals: %llu %llu\n", (unsigned long long)total_ns,
                (unsigned long long)total_calls);
    else
        fprintf(out, "totals: %llu\n", (unsigned long long)total_calls);
    cg_release(&cg);
    if (fflush(out) != 0 || ferror(out)) {
        cprof_error("export: cannot write the callgrind output");
        return CPROF_EXIT_DATA;
    }
    return CPROF_EXIT_OK;
}
