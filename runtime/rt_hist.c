/*
 * Node histograms of summary mode: per-call inclusive ticks in log-linear
 * buckets, 2^RT_HIST_SUB_BITS (64) per octave, so that a bucket's midpoint
 * is within 1/128 (0.8%) of any time in it.
 *
 * A dense array of that many buckets would take 11 KiB a node; most nodes'
 * calls span a few octaves at most. So a node's buckets come in rows of one
 * octave (64 counters), made on first use, reached through the node's
 * pointer per row (44 of them, in the node). Rows are bump-allocated from
 * the thread's own mmap'd chunks (the runtime never calls malloc) up to
 * CPROF_HIST_MEMORY MiB a thread; a call whose row cannot be had is
 * counted in the thread's hist_dropped statistic, never silently lost.
 *
 * The hooks do not touch histograms: they queue (node, ticks) in the
 * thread's pending ring, and rt_hist_drain applies the ring in batches.
 * The writer may read a running thread's histograms from another thread:
 * row pointers are published with release order after their memory is
 * zero, and memory is never reused or unmapped before the thread is
 * released.
 */
#include <string.h>

#include "rt_internal.h"

/* size bytes of zeroed memory from the thread's histogram chunks, or NULL
 * when the thread's budget is spent or mmap fails. Owner thread only. */
RT_NOINST static void *rt_hist_alloc(struct rt_thread *t, size_t size)
{
    if ((size_t)(t->hist_end - t->hist_pos) < size) {
        uint32_t limit = rt_config.hist_chunks < RT_HIST_MAX_CHUNKS
                             ? rt_config.hist_chunks
                             : RT_HIST_MAX_CHUNKS;
        if (t->hist_nchunks >= limit)
            return NULL;
        uint8_t *chunk = rt_map(RT_HIST_CHUNK);
        if (!chunk)
            return NULL;
        t->hist_chunks[t->hist_nchunks++] = chunk;
        t->hist_pos = chunk;
        t->hist_end = chunk + RT_HIST_CHUNK;
    }
    void *p = t->hist_pos;
    t->hist_pos += size;
    return p;
}

/* Row r of node n, made; NULL when there is no memory for it. */
RT_NOINST __attribute__((noinline)) static uint32_t *
rt_hist_row(struct rt_thread *t, struct rt_node *n, unsigned r)
{
    uint32_t *row = rt_hist_alloc(t, RT_HIST_ROW * sizeof *row);
    if (row)
        __atomic_store_n(&n->hist[r], row, __ATOMIC_RELEASE);
    return row;
}

RT_NOINST void rt_hist_drain(struct rt_thread *t)
{
    const struct rt_pending *p = t->pending, *end = p + t->npending;
    for (; p < end; p++) {
        struct rt_node *node = p->node;
        unsigned column, r = rt_hist_row_of(p->ticks, &column);
        uint32_t *row = node->hist[r];
        if (RT_UNLIKELY(!row) && !(row = rt_hist_row(t, node, r))) {
            t->stats.hist_dropped++;
            continue;
        }
        if (RT_UNLIKELY(++row[column] == 0)) {
            row[column] = UINT32_MAX; /* the counter is full: it stays so */
            t->stats.hist_dropped++;
        }
    }
    t->npending = 0;
}

RT_NOINST void rt_hist_zero(struct rt_thread *t)
{
    for (uint32_t id = 0; id < t->nnodes; id++) {
        struct rt_node *n = rt_tree_node(t, id);
        for (unsigned r = 0; r < RT_HIST_ROWS; r++)
            if (n->hist[r])
                memset(n->hist[r], 0, RT_HIST_ROW * sizeof(uint32_t));
    }
}

RT_NOINST void rt_hist_release(struct rt_thread *t)
{
    for (uint32_t c = 0; c < t->hist_nchunks; c++) {
        rt_unmap(t->hist_chunks[c], RT_HIST_CHUNK);
        t->hist_chunks[c] = NULL;
    }
    t->hist_nchunks = 0;
    t->hist_pos = t->hist_end = NULL;
}

RT_NOINST void rt_hist_merge(struct rt_thread *t, struct rt_node *into,
                             const struct rt_node *n)
{
    for (unsigned r = 0; r < RT_HIST_ROWS; r++) {
        const uint32_t *from = n->hist[r];
        if (!from)
            continue;
        uint32_t *row = into->hist[r] ? into->hist[r] : rt_hist_row(t, into, r);
        for (unsigned c = 0; c < RT_HIST_ROW; c++) {
            if (!row) {
                t->stats.hist_dropped += from[c];
                continue;
            }
            uint64_t sum = (uint64_t)row[c] + from[c];
            if (sum > UINT32_MAX)
                t->stats.hist_dropped += sum - UINT32_MAX;
            row[c] = sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
        }
    }
}

RT_NOINST void rt_hist_put(struct mp_out *o, const struct rt_node *n,
                           const uint16_t *pending, uint32_t npending)
{
    const uint32_t *rows[RT_HIST_ROWS];
    int any = npending != 0;
    for (unsigned r = 0; r < RT_HIST_ROWS; r++) {
        rows[r] = __atomic_load_n(&n->hist[r], __ATOMIC_ACQUIRE);
        any |= rows[r] != NULL;
    }
    if (!any) {
        mp_array(o, 0); /* count mode, or no completed call */
        return;
    }
    uint8_t *header = o->pos;
    uint32_t pairs = 0, next = 0;
    mp_array32(o, 0);
    for (unsigned r = 0; r < RT_HIST_ROWS; r++) {
        const uint32_t *row = rows[r];
        unsigned end = (r + 1) * RT_HIST_ROW;
        if (!row && (next >= npending || pending[next] >= end))
            continue;
        for (unsigned b = r * RT_HIST_ROW; b < end; b++) {
            uint64_t count =
                row ? __atomic_load_n(&row[b % RT_HIST_ROW], __ATOMIC_RELAXED) : 0;
            for (; next < npending && pending[next] == b; next++)
                count++;
            if (!count)
                continue;
            mp_uint(o, b);
            mp_uint(o, count);
            pairs++;
        }
    }
    if (!o->overflow)
        mp_patch_array32(header, 2 * pairs);
}
