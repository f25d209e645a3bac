/*
 * The trace replay's histogram counts (see model_trace.h): a completed
 * call's bucket goes into a fixed-size table of pending counts, or for the
 * nodes with the most calls into a dense array, and both go into the
 * nodes' sorted bucket lists when full, every 2^31 calls of a node, and
 * when the replay ends.
 */
#include <stdlib.h>
#include <string.h>

#include "model_trace.h"
#include "util.h"

void model_tr_hist_flush(struct m_thread *t)
{
    struct m_trace_state *s = t->trace;
    for (size_t i = 0; s->npending && i < s->npend_slots; i++) {
        struct tr_pending *e = &s->pending[i];
        if (e->key != TR_PEND_EMPTY) {
            model_hist_add(&t->nodes[e->key >> 32], (uint32_t)e->key, e->count);
            s->npending--;
        }
    }
    free(s->pending);
    s->pending = NULL;
    s->npend_slots = 0;
}

static size_t tr_pend_slot(uint64_t key, size_t slots)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (slots - 1);
}

/* Moves the pending counts into a new table of slots slots. */
static void tr_pend_resize(struct m_trace_state *s, size_t slots)
{
    struct tr_pending *old = s->pending;
    size_t nold = s->npend_slots;
    s->pending = cprof_xmalloc(slots * sizeof(*s->pending));
    s->npend_slots = slots;
    for (size_t i = 0; i < slots; i++)
        s->pending[i].key = TR_PEND_EMPTY;
    for (size_t k = 0; k < nold; k++) {
        if (old[k].key == TR_PEND_EMPTY)
            continue;
        size_t i = tr_pend_slot(old[k].key, slots);
        while (s->pending[i].key != TR_PEND_EMPTY)
            i = (i + 1) & (slots - 1);
        s->pending[i] = old[k];
    }
    free(old);
}

void model_tr_hist_add(struct m_thread *t, uint32_t node, uint32_t bucket)
{
    struct m_trace_state *s = t->trace;
    uint64_t key = (uint64_t)node << 32 | bucket;
    size_t i = s->npend_slots ? tr_pend_slot(key, s->npend_slots) : 0;
    for (; s->npend_slots; i = (i + 1) & (s->npend_slots - 1)) {
        struct tr_pending *e = &s->pending[i];
        if (e->key == key) {
            e->count++;
            return;
        }
        if (e->key == TR_PEND_EMPTY)
            break;
    }
    /* a new key: kept at most half full, so that probes stay short */
    if ((s->npending + 1) * 2 > s->npend_slots) {
        if (s->npend_slots >= TR_PEND_MAX)
            model_tr_hist_flush(t);
        tr_pend_resize(s, s->npend_slots ? s->npend_slots * 2 : TR_PEND_MIN);
        i = tr_pend_slot(key, s->npend_slots);
        while (s->pending[i].key != TR_PEND_EMPTY)
            i = (i + 1) & (s->npend_slots - 1);
    }
    s->pending[i].key = key;
    s->pending[i].count = 1;
    s->npending++;
}

/* Adds node's dense counts to it and zeroes them. */
static void tr_dense_flush(struct m_thread *t, uint32_t node)
{
    struct m_trace_state *s = t->trace;
    uint32_t *counts = s->dense[node].counts;
    for (uint32_t b = 0; b < s->dense_nbuckets; b++) {
        if (counts[b]) {
            model_hist_add(&t->nodes[node], b, counts[b]);
            counts[b] = 0;
        }
    }
}

void model_tr_dense_free(struct m_thread *t, int keep)
{
    struct m_trace_state *s = t->trace;
    for (size_t i = 0; i < s->ndense; i++) {
        if (s->dense[i].counts && keep)
            tr_dense_flush(t, (uint32_t)i);
        free(s->dense[i].counts);
    }
    free(s->dense);
    s->dense = NULL;
    s->ndense = 0;
    s->dense_bytes = 0;
}

void model_tr_dense_check(struct m_thread *t, uint32_t node, uint64_t completed)
{
    struct m_trace_state *s = t->trace;
    if (node < s->ndense && s->dense[node].counts) {
        if (completed % TR_DENSE_FLUSH == 0)
            tr_dense_flush(t, node);
        return;
    }
    if (completed != TR_DENSE_AFTER)
        return;
    if (!s->dense_nbuckets)
        s->dense_nbuckets = (65u - t->proc->hist_sub_bits) << t->proc->hist_sub_bits;
    size_t bytes = s->dense_nbuckets * sizeof(uint32_t);
    if (s->dense_bytes + bytes > TR_DENSE_MAX)
        return;
    if (node >= s->ndense) {
        size_t cap = s->ndense;
        cprof_grow(&s->dense, &cap, t->nnodes > node ? t->nnodes : node + 1,
                   sizeof(*s->dense));
        memset(s->dense + s->ndense, 0, (cap - s->ndense) * sizeof(*s->dense));
        s->ndense = cap;
    }
    s->dense[node].counts = cprof_xcalloc(s->dense_nbuckets, sizeof(uint32_t));
    s->dense_bytes += bytes;
}
