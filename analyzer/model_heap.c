/*
 * Heap data in the model (format 1.2): the five allocation fields of node
 * records, heap records (a thread's totals, and the part done outside any
 * instrumented call), freed-owner records and the heap keys of the end
 * record. Trace replay attributes EXT_ALLOC and EXT_FREE events to nodes
 * itself (model_trace.c); here its node peaks are propagated up the tree,
 * as the runtime does in summary mode, so both modes give the same data.
 *
 * Leaks: what a node (trace mode: a function) allocated, less what every
 * thread of the process freed of the blocks it allocated (freed-owner
 * records), is what it left allocated at the end. That is worked out per
 * process and per allocating function once the process is loaded, while
 * the file's own node ids and function indexes can still be resolved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cprof_format.h"
#include "model.h"
#include "reader.h"

/* struct m_heap is read and summed as an array of counters */
_Static_assert(sizeof(struct m_heap) == 10 * sizeof(uint64_t), "m_heap is 10 counters");

/* The next field of a heap-bearing record as a uint; on failure msg says
 * which field of what was missing or of another type. */
static int mh_field(struct rd_record *rec, uint64_t *v, const char *what,
                    const char *field, char *msg, size_t msglen)
{
    if (rec->nfields == 0) {
        snprintf(msg, msglen, "bad %s: no %s field", what, field);
        return -1;
    }
    if (rd_field_uint(rec, v) < 0) {
        snprintf(msg, msglen, "bad %s: %s is not a uint", what, field);
        return -1;
    }
    return 0;
}

int model_node_heap(struct m_node *n, uint64_t id, struct rd_record *rec, char *msg,
                    size_t msglen)
{
    static const char *const fields[] = {"alloc_calls", "alloc_bytes", "free_calls",
                                         "freed_bytes", "peak_bytes"};
    uint64_t v[5];
    char what[48];
    snprintf(what, sizeof what, "node record %llu", (unsigned long long)id);
    for (size_t i = 0; i < 5; i++)
        if (mh_field(rec, &v[i], what, fields[i], msg, msglen) < 0)
            return -1;
    n->alloc_calls = v[0];
    n->alloc_bytes = v[1];
    n->free_calls = v[2];
    n->freed_bytes = v[3];
    n->peak_bytes = v[4];
    return 0;
}

int model_heap_rec(struct model *m, struct m_process *p, struct rd_record *rec, char *msg,
                   size_t msglen)
{
    uint64_t serial;
    if (mh_field(rec, &serial, "heap record", "thread", msg, msglen) < 0)
        return -1;
    if (serial > UINT32_MAX) {
        snprintf(msg, msglen, "bad heap record: thread %llu is out of range",
                 (unsigned long long)serial);
        return -1;
    }
#define HEAP(field)                                                                      \
    {                                                                                    \
#field, offsetof(struct m_heap, field) / sizeof(uint64_t)                        \
    }
    static const struct m_key keys[] = {
        HEAP(alloc_calls),        HEAP(alloc_bytes),         HEAP(free_calls),
        HEAP(freed_bytes),        HEAP(outside_alloc_calls), HEAP(outside_alloc_bytes),
        HEAP(outside_free_calls), HEAP(outside_freed_bytes), HEAP(owners_lost_calls),
        HEAP(owners_lost_bytes),
    };
#undef HEAP
    struct m_heap h = {0};
    if (model_uint_map(rec, keys, sizeof keys / sizeof *keys, (uint64_t *)&h, "heap", msg,
                       msglen) < 0)
        return -1;
    struct m_thread *t = model_thread(p, (uint32_t)serial);
    if (t->nnodes == 1 && !t->tid && m->filter.tid)
        t->excluded = 1; /* until its thread record says otherwise */
    t->heap = h;
    t->stats.heap_owners_lost = h.owners_lost_calls;
    t->heap_seen = 1;
    p->has_heap = 1;
    return 0;
}

int model_freed_rec(struct model *m, struct m_process *p, struct rd_record *rec,
                    char *msg, size_t msglen)
{
    (void)m;
    static const char *const fields[] = {"thread", "owner_thread", "owner", "free_calls",
                                         "freed_bytes"};
    uint64_t v[5];
    for (size_t i = 0; i < 5; i++)
        if (mh_field(rec, &v[i], "freed record", fields[i], msg, msglen) < 0)
            return -1;
    if (v[0] > UINT32_MAX || v[1] > UINT32_MAX) {
        snprintf(msg, msglen, "bad freed record: %s %llu is out of range",
                 v[0] > UINT32_MAX ? "thread" : "owner_thread",
                 (unsigned long long)(v[0] > UINT32_MAX ? v[0] : v[1]));
        return -1;
    }
    cprof_grow(&p->freed, &p->freed_cap, p->nfreed + 1, sizeof(*p->freed));
    p->freed[p->nfreed++] =
        (struct m_freed){(uint32_t)v[0], (uint32_t)v[1], v[2], v[3], v[4]};
    p->has_heap = 1;
    return 0;
}

int model_end_heap_key(struct m_process *p, struct mp_in *in, char *msg, size_t msglen)
{
    static const struct {
        const char *key;
        size_t offset;
    } keys[] = {
        {"heap_in_use", offsetof(struct m_process, heap_in_use)},
        {"heap_peak", offsetof(struct m_process, heap_peak)},
        {"heap_blocks", offsetof(struct m_process, heap_blocks)},
        {"peak_rss", offsetof(struct m_process, peak_rss)},
        {"foreign_frees", offsetof(struct m_process, foreign_frees)},
        {"heap_dropped", offsetof(struct m_process, heap_dropped)},
    };
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        if (!mp_match_str(in, keys[k].key))
            continue;
        if (mp_read_uint(in, (uint64_t *)((char *)p + keys[k].offset)) != MP_OK) {
            snprintf(msg, msglen, "bad end record: %s is not a uint", keys[k].key);
            return -1;
        }
        p->end_heap = 1;
        p->has_heap = 1;
        return 1;
    }
    return 0;
}

/* ---- finishing a process ------------------------------------------------ */

/* Allocations and frees of one owner (a process-local function), summed. */
struct mh_owner {
    uint64_t alloc_calls, alloc_bytes, free_calls, freed_bytes;
};

static uint64_t mh_left(uint64_t allocated, uint64_t freed)
{
    return allocated > freed ? allocated - freed : 0;
}

/* The process-local function that allocated under owner in thread t, or
 * M_NONE when the file does not say. */
static uint32_t mh_owner_fn(const struct m_process *p, const struct m_thread *t,
                            uint64_t owner)
{
    if (!strcmp(p->mode, "trace"))
        return model_trace_fn(t, owner);
    uint32_t node = hm_get(&t->ids, owner);
    return node == HM_NONE ? M_NONE : t->nodes[node].func;
}

/* Works out p->leaks and the outside-calls part from the nodes, the
 * threads' totals and the freed-owner records. */
static void mh_leaks(struct m_process *p)
{
    struct mh_owner *by_fn = cprof_xcalloc(p->nlocal + 1, sizeof(*by_fn));
    struct mh_owner *outside = cprof_xcalloc(p->nthreads + 1, sizeof(*outside));
    for (size_t i = 0; i < p->nthreads; i++) {
        const struct m_thread *t = p->threads[i];
        if (t->excluded)
            continue;
        for (size_t k = 1; k < t->nnodes; k++) {
            const struct m_node *n = &t->nodes[k];
            by_fn[n->func].alloc_calls += n->alloc_calls;
            by_fn[n->func].alloc_bytes += n->alloc_bytes;
        }
        outside[i].alloc_calls = t->heap.outside_alloc_calls;
        outside[i].alloc_bytes = t->heap.outside_alloc_bytes;
    }
    for (size_t i = 0; i < p->nfreed; i++) {
        const struct m_freed *r = &p->freed[i];
        if (r->owner_thread == 0)
            continue; /* the parent's blocks: not this process's allocations */
        size_t ti = 0;
        while (ti < p->nthreads && p->threads[ti]->serial != r->owner_thread)
            ti++;
        const struct m_thread *t = ti < p->nthreads ? p->threads[ti] : NULL;
        if (t && t->excluded)
            continue;
        struct mh_owner *o = NULL;
        if (t && r->owner == 0) {
            o = &outside[ti];
        } else if (t) {
            uint32_t fn = mh_owner_fn(p, t, r->owner);
            o = fn == M_NONE ? NULL : &by_fn[fn];
        }
        if (!o) {
            p->unresolved_free_calls += r->free_calls;
            p->unresolved_freed_bytes += r->freed_bytes;
            continue;
        }
        o->free_calls += r->free_calls;
        o->freed_bytes += r->freed_bytes;
    }
    for (size_t i = 0; i < p->nthreads; i++) {
        p->outside_leak_blocks += mh_left(outside[i].alloc_calls, outside[i].free_calls);
        p->outside_leak_bytes += mh_left(outside[i].alloc_bytes, outside[i].freed_bytes);
    }
    p->leaks = cprof_xcalloc(p->nlocal + 1, sizeof(*p->leaks));
    for (size_t f = 0; f < p->nlocal; f++) {
        uint64_t blocks = mh_left(by_fn[f].alloc_calls, by_fn[f].free_calls);
        uint64_t bytes = mh_left(by_fn[f].alloc_bytes, by_fn[f].freed_bytes);
        if (blocks || bytes)
            p->leaks[p->nleaks++] = (struct m_leak){p->local_to_func[f], blocks, bytes};
    }
    free(by_fn);
    free(outside);
}

void model_heap_finish(struct model *m, struct m_process *p)
{
    m->heap |= p->has_heap;
    if (p->has_heap) {
        for (size_t i = 0; i < p->nthreads; i++) {
            struct m_thread *t = p->threads[i];
            if (!t->heap_seen)
                t->heap = t->heap_replay;
            if (!t->trace)
                continue; /* summary peaks come propagated by the runtime */
            for (size_t k = t->nnodes; k-- > 1;) {
                struct m_node *parent = &t->nodes[t->nodes[k].parent];
                if (t->nodes[k].peak_bytes > parent->peak_bytes)
                    parent->peak_bytes = t->nodes[k].peak_bytes;
            }
        }
        mh_leaks(p);
    }
    free(p->freed);
    p->freed = NULL;
    p->nfreed = p->freed_cap = 0;
}

void model_heap_totals(const struct model *m, struct m_heap_totals *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct m_process *p = m->procs[i];
        if (!p->has_heap)
            continue;
        out->procs++;
        for (size_t k = 0; k < p->nthreads; k++) {
            const uint64_t *from = (const uint64_t *)&p->threads[k]->heap;
            uint64_t *to = (uint64_t *)&out->heap;
            for (size_t f = 0; f < sizeof(struct m_heap) / sizeof(uint64_t); f++)
                to[f] += from[f];
        }
        if (p->heap_peak > out->peak_bytes)
            out->peak_bytes = p->heap_peak;
        if (p->peak_rss > out->peak_rss_bytes)
            out->peak_rss_bytes = p->peak_rss;
        out->leaked_bytes += p->heap_in_use;
        out->leaked_blocks += p->heap_blocks;
        out->foreign_frees += p->foreign_frees;
        for (size_t k = 0; k < p->nleaks; k++) {
            out->func_leaked_bytes += p->leaks[k].bytes;
            out->func_leaked_blocks += p->leaks[k].blocks;
        }
        out->outside_leaked_bytes += p->outside_leak_bytes;
        out->outside_leaked_blocks += p->outside_leak_blocks;
    }
}
