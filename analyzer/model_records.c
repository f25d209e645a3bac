/*
 * The records a process is read from whatever its mode: module, thread,
 * clock, thread-end and end records, and summary mode's node records
 * (cprof_format.h); and the dispatch of each record type to its reader,
 * here or in the part of the model that owns its kind (trace, lines, heap,
 * control). model.c opens the files, feeds their records here one by one
 * and finishes each process after.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cprof_format.h"
#include "model.h"
#include "reader.h"

/* ---- records ------------------------------------------------------------ */

/* Every record loader returns 0, or -1 after writing what was wrong. */

static int model_module_rec(struct m_process *p, struct rd_record *rec, char *msg,
                            size_t msglen)
{
    uint64_t bias, lo, hi;
    const char *path, *build_id;
    uint32_t path_len, id_len;
    if (rd_field_uint(rec, &bias) || rd_field_uint(rec, &lo) || rd_field_uint(rec, &hi) ||
        rd_field_str(rec, &path, &path_len) || rd_field_str(rec, &build_id, &id_len)) {
        snprintf(msg, msglen, "bad module record");
        return -1;
    }
    for (size_t i = 0; i < p->nmodules; i++)
        if (p->modules[i].lo == lo && p->modules[i].hi == hi &&
            p->modules[i].bias == bias)
            return 0;
    /* the module is resolved to model.modules when the process is finished;
     * keep its strings in the process until then */
    cprof_grow(&p->modules, &p->modules_cap, p->nmodules + 1, sizeof(*p->modules));
    struct m_proc_module *pm = &p->modules[p->nmodules++];
    pm->lo = lo;
    pm->hi = hi;
    pm->bias = bias;
    pm->module = M_NONE;
    pm->path = cprof_xstrndup(path, path_len);
    pm->build_id = cprof_xstrndup(build_id, id_len);
    return 0;
}

static struct m_thread *model_rec_thread(struct model *m, struct m_process *p,
                                         struct rd_record *rec)
{
    uint64_t serial;
    if (rd_field_uint(rec, &serial) || serial > UINT32_MAX)
        return NULL;
    struct m_thread *t = model_thread(p, (uint32_t)serial);
    if (t->nnodes == 1 && !t->ended && m->filter.tid && !t->tid)
        t->excluded = 1; /* until its thread record says otherwise */
    return t;
}

static int model_thread_rec(struct model *m, struct m_process *p, struct rd_record *rec,
                            char *msg, size_t msglen)
{
    struct m_thread *t = model_rec_thread(m, p, rec);
    uint64_t tid;
    const char *name;
    uint32_t len;
    if (!t || rd_field_uint(rec, &tid) || rd_field_str(rec, &name, &len)) {
        snprintf(msg, msglen, "bad thread record");
        return -1;
    }
    t->tid = tid;
    free(t->name);
    t->name = cprof_xstrndup(name, len);
    t->excluded = m->filter.tid && m->filter.tid != tid;
    return 0;
}

static int model_node_rec(struct model *m, struct m_process *p, struct rd_record *rec,
                          char *msg, size_t msglen)
{
    struct m_thread *t = model_rec_thread(m, p, rec);
    uint64_t id, parent, fn, calls, incl, min, max;
    uint32_t nhist;
    if (!t || rd_field_uint(rec, &id) || rd_field_uint(rec, &parent) ||
        rd_field_uint(rec, &fn) || rd_field_uint(rec, &calls) ||
        rd_field_uint(rec, &incl) || rd_field_uint(rec, &min) ||
        rd_field_uint(rec, &max) || rec->nfields == 0 ||
        mp_read_array(&rec->body, &nhist) != MP_OK || nhist % 2) {
        snprintf(msg, msglen, "bad node record");
        return -1;
    }
    if (id == 0 || parent >= id || hm_get(&t->ids, id) != HM_NONE || t->trace) {
        snprintf(msg, msglen, "bad node record (node %llu, parent %llu of thread %u)",
                 (unsigned long long)id, (unsigned long long)parent, t->serial);
        return -1;
    }
    char user[64];
    snprintf(user, sizeof user, "node record %llu of thread %u", (unsigned long long)id,
             t->serial);
    if (model_region_check(p, fn, user, msg, msglen) < 0)
        return -1;
    if (t->excluded)
        return 0;
    uint32_t idx;
    struct m_node *n = model_node_new(t, M_NONE, model_local_fn(p, fn), &idx);
    cprof_grow(&t->node_parent_id, &t->parent_id_cap, t->nnodes,
               sizeof(*t->node_parent_id));
    t->node_parent_id[idx] = parent;
    hm_put(&t->ids, id, idx);
    n->calls = calls;
    n->incl_ticks = incl;
    n->min_ticks = min;
    n->max_ticks = max;
    for (uint32_t i = 0; i < nhist / 2; i++) {
        uint64_t bucket, count;
        /* the buckets of 64-bit times */
        if (mp_read_uint(&rec->body, &bucket) || mp_read_uint(&rec->body, &count) ||
            bucket >= (65ull - p->hist_sub_bits) << p->hist_sub_bits) {
            snprintf(msg, msglen, "bad histogram in node record %llu",
                     (unsigned long long)id);
            return -1;
        }
        model_hist_add(n, (uint32_t)bucket, count);
        n->completed += count;
    }
    rec->nfields--; /* the histogram */
    if (p->format_minor < 2 || rec->nfields == 0)
        return 0;
    p->has_heap = 1;
    if (model_node_heap(n, id, rec, msg, msglen) < 0)
        return -1;
    if (!p->has_cpu)
        return 0;
    if (rec->nfields == 0 || rd_field_uint(rec, &n->cpu_ns) < 0) {
        snprintf(msg, msglen, "bad node record %llu: no cpu_ns uint (the header says %s)",
                 (unsigned long long)id, "cpu_time");
        return -1;
    }
    return 0;
}

static int model_clock_rec(struct m_process *p, struct rd_record *rec, char *msg,
                           size_t msglen)
{
    uint64_t ticks, ns;
    if (rd_field_uint(rec, &ticks) || rd_field_uint(rec, &ns)) {
        snprintf(msg, msglen, "bad clock record");
        return -1;
    }
    if (p->nclocks++ == 0) {
        p->clock_first_ticks = ticks;
        p->clock_first_ns = ns;
    }
    p->clock_last_ticks = ticks;
    p->clock_last_ns = ns;
    return 0;
}

int model_uint_map(struct rd_record *rec, const struct m_key *keys, size_t nkeys,
                   uint64_t *values, const char *what, char *msg, size_t msglen)
{
    uint32_t n;
    if (rec->nfields == 0 || mp_read_map(&rec->body, &n) != MP_OK) {
        snprintf(msg, msglen, "bad %s record: no map of counters", what);
        return -1;
    }
    rec->nfields--;
    for (uint32_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < nkeys && !mp_match_str(&rec->body, keys[k].key))
            k++;
        uint64_t v;
        if (k == nkeys) {
            if (mp_skip(&rec->body) != MP_OK || mp_skip(&rec->body) != MP_OK) {
                snprintf(msg, msglen, "bad %s record: entry %u of %u is damaged", what,
                         i + 1, n);
                return -1;
            }
        } else if (mp_read_uint(&rec->body, &v) != MP_OK) {
            snprintf(msg, msglen, "bad %s record: %s is not a uint", what, keys[k].key);
            return -1;
        } else {
            values[keys[k].index] = v;
        }
    }
    return 0;
}

static int model_thread_end_rec(struct model *m, struct m_process *p,
                                struct rd_record *rec, char *msg, size_t msglen)
{
    struct m_thread *t = model_rec_thread(m, p, rec);
    if (!t) {
        snprintf(msg, msglen, "bad thread-end record: thread is not a uint");
        return -1;
    }
#define STAT(key, field)                                                                 \
    {                                                                                    \
        key, offsetof(struct m_stats, field) / sizeof(uint64_t)                          \
    }
    static const struct m_key keys[] = {
        STAT(CPROF_STAT_ENTERS, enters),
        STAT(CPROF_STAT_DROPPED_REENTRANT, dropped_reentrant),
        STAT(CPROF_STAT_DROPPED_DEPTH, dropped_depth),
        STAT(CPROF_STAT_DROPPED_NODES, dropped_nodes),
        STAT(CPROF_STAT_REPAIRED_LONGJMP, repaired_longjmp),
        STAT(CPROF_STAT_CLOSED_AT_END, closed_at_end),
        STAT(CPROF_STAT_UNMATCHED_EXITS, unmatched_exits),
        STAT(CPROF_STAT_LINES_UNMATCHED, lines_unmatched),
        STAT(CPROF_STAT_LINES_DROPPED, lines_dropped),
        STAT(CPROF_STAT_HIST_DROPPED, hist_dropped),
        STAT(CPROF_STAT_TRACE_BYTES, trace_bytes),
        STAT(CPROF_STAT_TRACE_STOPPED_CALLS, trace_stopped_calls),
        STAT(CPROF_STAT_FOLDED_THREADS, folded_threads),
    };
#undef STAT
    uint64_t v[sizeof(struct m_stats) / sizeof(uint64_t)] = {0};
    if (model_uint_map(rec, keys, sizeof keys / sizeof *keys, v, "thread-end", msg,
                       msglen) < 0)
        return -1;
    uint64_t *to = (uint64_t *)&t->stats;
    for (size_t k = 0; k < sizeof v / sizeof *v; k++)
        to[k] += v[k];
    t->ended = 1;
    if (t->trace)
        model_trace_finish(t);
    return 0;
}

static int model_end_rec(struct m_process *p, struct rd_record *rec, char *msg,
                         size_t msglen)
{
    uint32_t n;
    if (rec->nfields == 0 || mp_read_map(&rec->body, &n) != MP_OK) {
        snprintf(msg, msglen, "bad end record");
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        int bad = 0;
        double tps;
        int heap_key = model_end_heap_key(p, &rec->body, msg, msglen);
        if (heap_key < 0)
            return -1;
        if (heap_key)
            continue;
        if (mp_match_str(&rec->body, "reason")) {
            const char *s;
            uint32_t len;
            bad = mp_read_str(&rec->body, &s, &len) != MP_OK;
            if (!bad) {
                free(p->end_reason);
                p->end_reason = cprof_xstrndup(s, len);
            }
        } else if (mp_match_str(&rec->body, "signal")) {
            bad = mp_read_uint(&rec->body, &p->end_signal) != MP_OK;
        } else if (mp_match_str(&rec->body, "end_ticks")) {
            bad = mp_read_uint(&rec->body, &p->end_ticks) != MP_OK;
        } else if (mp_match_str(&rec->body, "threads_lost")) {
            bad = mp_read_uint(&rec->body, &p->threads_lost) != MP_OK;
        } else if (mp_match_str(&rec->body, "ticks_per_sec")) {
            bad = mp_read_f64(&rec->body, &tps) != MP_OK;
            if (!bad && tps > 0 && isfinite(tps))
                p->ticks_per_sec = p->end_ticks_per_sec = tps;
        } else if (mp_match_str(&rec->body, "threads")) {
            bad = mp_read_uint(&rec->body, &p->threads_seen) != MP_OK;
        } else if (mp_match_str(&rec->body, "trace_max")) {
            bad = mp_read_uint(&rec->body, &p->trace_max) != MP_OK;
        } else if (mp_match_str(&rec->body, "trace_stop_ticks")) {
            bad = mp_read_uint(&rec->body, &p->trace_stop_ticks) != MP_OK;
        } else {
            bad = mp_skip(&rec->body) != MP_OK || mp_skip(&rec->body) != MP_OK;
        }
        if (bad) {
            snprintf(msg, msglen, "bad end record");
            return -1;
        }
    }
    if (!p->end_reason)
        p->end_reason = cprof_xstrdup("exit");
    p->complete = 1;
    p->periods_ended = 1;
    return 0;
}

int model_record(struct model *m, struct m_process *p, struct rd_record *rec, char *msg,
                 size_t msglen)
{
    switch (rec->type) {
    case CPROF_REC_MODULE:
        return model_module_rec(p, rec, msg, msglen);
    case CPROF_REC_THREAD:
        return model_thread_rec(m, p, rec, msg, msglen);
    case CPROF_REC_NODE:
        return model_node_rec(m, p, rec, msg, msglen);
    case CPROF_REC_TRACE:
        return model_trace_chunk(m, p, rec, msg, msglen);
    case CPROF_REC_CLOCK:
        return model_clock_rec(p, rec, msg, msglen);
    case CPROF_REC_THREAD_END:
        return model_thread_end_rec(m, p, rec, msg, msglen);
    case CPROF_REC_END:
        return model_end_rec(p, rec, msg, msglen);
    case CPROF_REC_LINE:
        return model_line_rec(m, p, rec, msg, msglen);
    case CPROF_REC_LINE_SITE:
        return model_line_site_rec(m, p, rec, msg, msglen);
    case CPROF_REC_HEAP:
        return model_heap_rec(m, p, rec, msg, msglen);
    case CPROF_REC_FREED:
        return model_freed_rec(m, p, rec, msg, msglen);
    case CPROF_REC_REGION:
        return model_region_rec(m, p, rec, msg, msglen);
    case CPROF_REC_PERIOD:
        return model_period_rec(m, p, rec, msg, msglen);
    default:
        return 0; /* a record type from a newer minor version */
    }
}
