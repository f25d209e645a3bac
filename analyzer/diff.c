/*
 * Two runs side by side; see diff.h. Functions are matched by sorting the
 * rows of both profiles together by identity; each side's spread of time
 * per call is then read from its model's node histograms.
 */
#include "diff.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cprof_format.h"
#include "util.h"

/* A profile row and the side it came from, while matching. */
struct diff_entry {
    const struct pf_row *row;
    const char *ident; /* the source file, else the ELF file's base name */
    int side_b;
};

static int diff_entry_cmp(const void *x, const void *y)
{
    const struct diff_entry *a = x, *b = y;
    int c = strcmp(a->row->name, b->row->name);
    return c ? c : strcmp(a->ident, b->ident);
}

/* Per-call inclusive times of one side of a function, summed over its
 * nodes: count, sum and sum of squares of the node means, and the squared
 * deviations within the nodes. */
struct diff_acc {
    double n, sum, sum_sq, within;
};

/* Of each call path's completed calls, the slowest 1 in DIFF_TRIM are left
 * out of the judgement: interrupts, page faults, a first call's misses,
 * which would otherwise swamp the spread of short calls. */
#define DIFF_TRIM 100

/* The range of bucket i of node n's histogram in ticks, clamped to
 * [lo, hi], the node's fastest and slowest call. */
static void diff_bucket(const struct m_node *n, uint32_t i, unsigned sub_bits, double lo,
                        double hi, double *l, double *h)
{
    unsigned b = n->hist[i].bucket;
    *l = fmin(fmax((double)cprof_hist_bucket_low(b, sub_bits), lo), hi);
    *h = fmin(fmax((double)cprof_hist_bucket_low(b + 1, sub_bits), lo), hi);
}

/* Adds node n's completed calls to acc. Their mean is exact when every
 * call completed and none is left out (the node's inclusive ticks over its
 * calls); otherwise it, and always the spread, come from the histogram:
 * each bucket's middle and width, the bucket clamped to the node's fastest
 * and slowest call. The slowest 1 in DIFF_TRIM calls are left out (an
 * outlier's own bucket is too wide to subtract it from the exact sum).
 * Calls the runtime could not put in the histogram are taken to spread
 * alike. */
static void diff_node_spread(const struct m_node *n, const struct m_process *p,
                             struct diff_acc *acc)
{
    uint64_t count = 0;
    for (uint32_t i = 0; i < n->hist_len; i++)
        count += n->hist[i].count;
    int exact = n->completed && n->completed == n->calls;
    if (!count && !exact)
        return;
    double lo = (double)n->min_ticks, hi = fmax((double)n->max_ticks, lo);
    uint64_t trim = count / DIFF_TRIM, skip = trim;
    double kept = 0, sum = 0, sum_sq = 0;
    for (uint32_t i = n->hist_len; i-- > 0;) {
        double l, h;
        diff_bucket(n, i, p->hist_sub_bits, lo, hi, &l, &h);
        double mid = (l + h) / 2;
        uint64_t out = skip < n->hist[i].count ? skip : n->hist[i].count;
        skip -= out;
        double c = (double)(n->hist[i].count - out);
        kept += c;
        sum += c * mid;
        sum_sq += c * (mid * mid + (h - l) * (h - l) / 12);
    }
    double weight = (exact ? (double)n->completed : (double)count) - (double)trim;
    if (weight <= 0)
        return;
    double mean = exact && !trim ? (double)n->incl_ticks / weight : sum / kept;
    double var = kept > 0 ? (sum_sq - 2 * mean * sum + mean * mean * kept) / kept : 0;
    double scale = p->ns_per_tick;
    acc->n += weight;
    acc->sum += weight * mean * scale;
    acc->sum_sq += weight * mean * mean * scale * scale;
    acc->within += weight * fmax(var, 0) * scale * scale;
}

/* Fills the per-call mean and spread of one side of every row: row_of
 * maps m's functions to rows (M_NONE: none); b says which side. */
static void diff_spread(const struct model *m, const uint32_t *row_of, struct diff *d,
                        int b)
{
    struct diff_acc *acc = cprof_xcalloc(d->nrows ? d->nrows : 1, sizeof(*acc));
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct m_process *p = m->procs[i];
        if (p->ns_per_tick <= 0)
            continue;
        for (size_t k = 0; k < p->nthreads; k++) {
            const struct m_thread *t = p->threads[k];
            for (size_t j = 1; j < t->nnodes; j++) {
                const struct m_node *n = &t->nodes[j];
                if (n->func != M_NONE && row_of[n->func] != M_NONE)
                    diff_node_spread(n, p, &acc[row_of[n->func]]);
            }
        }
    }
    for (size_t r = 0; r < d->nrows; r++) {
        struct diff_side *s = b ? &d->rows[r].b : &d->rows[r].a;
        const struct diff_acc *x = &acc[r];
        if (x->n <= 0)
            continue;
        s->timed_calls = (uint64_t)x->n;
        s->mean_ns = x->sum / x->n;
        double var = (x->within + x->sum_sq - x->sum * x->sum / x->n) / x->n;
        s->sd_ns = var > 0 ? sqrt(var) : 0;
    }
    free(acc);
}

static void diff_add(struct diff_side *s, const struct pf_row *r)
{
    if (!s->row)
        s->row = r;
    s->calls += r->calls;
    s->self_ns += r->self_ns;
    s->total_ns += r->total_ns;
}

void diff_build(const struct model *ma, const struct profile *pa, const struct model *mb,
                const struct profile *pb, const struct diff_noise *noise,
                struct diff *out)
{
    memset(out, 0, sizeof(*out));
    out->timed = pa->timed && pb->timed;
    size_t n = pa->nrows + pb->nrows;
    struct diff_entry *e = cprof_xcalloc(n ? n : 1, sizeof(*e));
    for (size_t i = 0; i < n; i++) {
        int side_b = i >= pa->nrows;
        const struct pf_row *r = side_b ? &pb->rows[i - pa->nrows] : &pa->rows[i];
        e[i] = (struct diff_entry){r, r->file[0] ? r->file : model_basename(r->module),
                                   side_b};
    }
    qsort(e, n, sizeof(*e), diff_entry_cmp);

    uint32_t *row_of_a = cprof_xmalloc((ma->nfuncs + 1) * sizeof(uint32_t));
    uint32_t *row_of_b = cprof_xmalloc((mb->nfuncs + 1) * sizeof(uint32_t));
    memset(row_of_a, 0xff, (ma->nfuncs + 1) * sizeof(uint32_t));
    memset(row_of_b, 0xff, (mb->nfuncs + 1) * sizeof(uint32_t));
    out->rows = cprof_xcalloc(n ? n : 1, sizeof(*out->rows));
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || diff_entry_cmp(&e[i - 1], &e[i]))
            out->nrows++;
        struct diff_row *row = &out->rows[out->nrows - 1];
        diff_add(e[i].side_b ? &row->b : &row->a, e[i].row);
        (e[i].side_b ? row_of_b : row_of_a)[e[i].row->func] = (uint32_t)(out->nrows - 1);
    }
    free(e);
    diff_spread(ma, row_of_a, out, 0);
    diff_spread(mb, row_of_b, out, 1);
    free(row_of_a);
    free(row_of_b);

    for (size_t i = 0; i < out->nrows; i++) {
        struct diff_row *row = &out->rows[i];
        const struct pf_row *named = row->b.row ? row->b.row : row->a.row;
        row->name = named->name;
        row->file = named->file;
        row->line = named->line;
        row->module = named->module;
        row->change = diff_judge(&row->a, &row->b, out->timed, noise);
        out->changes[row->change]++;
        out->count_changed += row->a.calls != row->b.calls;
        out->only_a += !row->b.row;
        out->only_b += !row->a.row;
    }
    out->calls_a = pa->total_calls;
    out->calls_b = pb->total_calls;
    out->self_ns_a = pa->total_self_ns;
    out->self_ns_b = pb->total_self_ns;
}

enum diff_change diff_judge(const struct diff_side *a, const struct diff_side *b,
                            int timed, const struct diff_noise *noise)
{
    if (!timed)
        return DIFF_UNTIMED;
    if (!a->row)
        return DIFF_ONLY_B;
    if (!b->row)
        return DIFF_ONLY_A;
    uint64_t least = noise->min_calls ? noise->min_calls : 1;
    if (a->timed_calls < least || b->timed_calls < least)
        return DIFF_UNKNOWN;
    double change = b->mean_ns - a->mean_ns;
    double se = sqrt(a->sd_ns * a->sd_ns / (double)a->timed_calls +
                     b->sd_ns * b->sd_ns / (double)b->timed_calls);
    if (fabs(change) <= noise->se_multiple * se ||
        fabs(change) <= noise->floor_pct / 100 * a->mean_ns)
        return DIFF_NOISE;
    return change > 0 ? DIFF_REGRESSION : DIFF_IMPROVEMENT;
}

const char *diff_change_name(enum diff_change c)
{
    static const char *const names[] = {
        [DIFF_UNTIMED] = NULL,
        [DIFF_NOISE] = "noise",
        [DIFF_REGRESSION] = "regression",
        [DIFF_IMPROVEMENT] = "improvement",
        [DIFF_ONLY_A] = "only_a",
        [DIFF_ONLY_B] = "only_b",
        [DIFF_UNKNOWN] = "unknown",
    };
    return names[c];
}

static double diff_calls_change(const struct diff_row *r)
{
    return fabs((double)r->b.calls - (double)r->a.calls);
}

static double diff_total_change(const struct diff_row *r)
{
    return fabs(r->b.total_ns - r->a.total_ns);
}

/* Larger first, then by name, file and line. */
static int diff_tie(const struct diff_row *a, const struct diff_row *b, double ka,
                    double kb)
{
    if (ka != kb)
        return ka > kb ? -1 : 1;
    int c = strcmp(a->name, b->name);
    if (!c)
        c = strcmp(a->file, b->file);
    return c ? c : (a->line > b->line) - (a->line < b->line);
}

static int diff_by_time(const void *x, const void *y)
{
    const struct diff_row *a = x, *b = y;
    return diff_tie(a, b, diff_total_change(a), diff_total_change(b));
}

static int diff_by_count(const void *x, const void *y)
{
    const struct diff_row *a = x, *b = y;
    int ca = a->a.calls != a->b.calls, cb = b->a.calls != b->b.calls;
    if (ca != cb)
        return cb - ca;
    if (ca)
        return diff_tie(a, b, diff_calls_change(a), diff_calls_change(b));
    return diff_by_time(a, b);
}

void diff_sort(struct diff *d, enum diff_order order)
{
    qsort(d->rows, d->nrows, sizeof(*d->rows),
          order == DIFF_BY_TIME ? diff_by_time : diff_by_count);
}

void diff_free(struct diff *d)
{
    free(d->rows);
    memset(d, 0, sizeof(*d));
}
