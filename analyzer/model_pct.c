/*
 * What latency percentiles are made from (see model.h): the exact per-call
 * times of trace replays, within fixed limits so that the analyzer's memory
 * does not grow with a trace's length, and the estimate of a node
 * histogram's bucket; and the nearest-rank percentile of a list of values
 * with counts, which serves both.
 */
#include <math.h>
#include <stdlib.h>

#include "cprof_format.h"
#include "model.h"

void model_exact_add(struct model *m, struct m_process *p, uint32_t local_fn,
                     uint64_t ticks)
{
    if (local_fn >= p->nexact) {
        size_t cap = p->nexact;
        cprof_grow(&p->exact, &cap, (size_t)local_fn + 1, sizeof(*p->exact));
        for (size_t i = p->nexact; i < cap; i++)
            p->exact[i] = (struct m_proc_exact){0};
        p->nexact = cap;
    }
    struct m_proc_exact *e = &p->exact[local_fn];
    if (e->over)
        return;
    if (e->n >= M_EXACT_PER_FUNC || m->exact_kept >= M_EXACT_TOTAL) {
        m->exact_kept -= e->n;
        free(e->ticks);
        *e = (struct m_proc_exact){.over = 1};
        return;
    }
    cprof_grow(&e->ticks, &e->cap, e->n + 1, sizeof(*e->ticks));
    e->ticks[e->n++] = ticks;
    m->exact_kept++;
}

void model_exact_drop(struct model *m, struct m_process *p, uint32_t local_fn)
{
    if (local_fn >= p->nexact)
        return;
    struct m_proc_exact *e = &p->exact[local_fn];
    m->exact_kept -= e->n;
    free(e->ticks);
    *e = (struct m_proc_exact){.over = 1};
}

void model_proc_exact_free(struct m_process *p)
{
    for (size_t i = 0; i < p->nexact; i++)
        free(p->exact[i].ticks);
    free(p->exact);
    p->exact = NULL;
    p->nexact = 0;
}

void model_exact_merge(struct model *m, struct m_process *p)
{
    for (size_t i = 0; i < p->nexact && i < p->nlocal; i++) {
        struct m_proc_exact *pe = &p->exact[i];
        if (!pe->n && !pe->over)
            continue;
        uint32_t f = p->local_to_func[i];
        if (f >= m->nexact) {
            size_t cap = m->nexact;
            cprof_grow(&m->exact, &cap, (size_t)f + 1, sizeof(*m->exact));
            for (size_t k = m->nexact; k < cap; k++)
                m->exact[k] = (struct m_exact){0};
            m->nexact = cap;
        }
        struct m_exact *e = &m->exact[f];
        /* the process's times move from its count to the model's */
        if (e->over || pe->over || e->n + pe->n > M_EXACT_PER_FUNC ||
            p->ns_per_tick <= 0) {
            m->exact_kept -= e->n + pe->n;
            free(e->ns);
            *e = (struct m_exact){.over = 1};
            continue;
        }
        cprof_grow(&e->ns, &e->cap, e->n + pe->n, sizeof(*e->ns));
        for (size_t k = 0; k < pe->n; k++)
            e->ns[e->n++] = (double)pe->ticks[k] * p->ns_per_tick;
        /* freed as it moves: the times are held once, not twice, at the peak */
        free(pe->ticks);
        *pe = (struct m_proc_exact){0};
    }
    model_proc_exact_free(p);
}

void model_exact_free(struct model *m)
{
    for (size_t i = 0; i < m->nexact; i++)
        free(m->exact[i].ns);
    free(m->exact);
    m->exact = NULL;
    m->nexact = 0;
    m->exact_kept = 0;
}

double model_bucket_value(uint32_t bucket, unsigned sub_bits, uint64_t min_ticks,
                          uint64_t max_ticks)
{
    unsigned long long lo = cprof_hist_bucket_low(bucket, sub_bits);
    unsigned long long next = cprof_hist_bucket_low(bucket + 1, sub_bits);
    /* integer tick counts lo .. next - 1 fall in the bucket */
    double mid = next > lo ? ((double)lo + (double)(next - 1)) / 2 : (double)lo;
    if (max_ticks >= min_ticks && max_ticks > 0) {
        if (mid < (double)min_ticks)
            mid = (double)min_ticks;
        if (mid > (double)max_ticks)
            mid = (double)max_ticks;
    }
    return mid;
}

double model_hist_error(unsigned sub_bits)
{
    return ldexp(1.0, -(int)sub_bits - 1);
}

static int model_sample_cmp(const void *a, const void *b)
{
    double x = ((const struct m_sample *)a)->ns, y = ((const struct m_sample *)b)->ns;
    return x < y ? -1 : x > y;
}

int model_percentiles(struct m_sample *samples, size_t nsamples, const double *pcts,
                      size_t npcts, double *out)
{
    uint64_t calls = 0;
    for (size_t i = 0; i < nsamples; i++)
        calls += samples[i].count;
    if (!calls)
        return -1;
    qsort(samples, nsamples, sizeof(*samples), model_sample_cmp);
    for (size_t k = 0; k < npcts; k++) {
        double want = ceil(pcts[k] / 100 * (double)calls);
        uint64_t rank = want < 1 ? 1 : want > (double)calls ? calls : (uint64_t)want;
        uint64_t seen = 0;
        size_t i = 0;
        for (; i < nsamples; i++) {
            seen += samples[i].count;
            if (seen >= rank)
                break;
        }
        out[k] = samples[i < nsamples ? i : nsamples - 1].ns;
    }
    return 0;
}
