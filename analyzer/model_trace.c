/*
 * Trace replay: rebuilds a thread's calling-context tree from its enter and
 * exit events, so that every view works on trace files as on summary files.
 * The replay keeps the thread's open frames and function-index table
 * across chunks; it holds one chunk at a time, never the whole trace.
 *
 * It mirrors what the runtime does in summary mode: a call counts at entry,
 * a completed call (normal exit, or closed at a longjmp) adds its time to
 * the node's total, min, max and histogram; a frame inherited from before a
 * fork or still open at the end adds time only. Completed calls' times are
 * also kept one by one, within limits, for exact percentiles
 * (model_pct.c). LINE events are checked and skipped: the runtime writes a
 * trace's line data as line records too
 * (model_lines.c). EXT_ALLOC and EXT_FREE events (1.2) count on the
 * innermost open call's node, or on the thread's outside-calls totals when
 * none is open; an allocation's heap operand raises that node's peak
 * (model_heap.c propagates peaks up the tree). EXT_OFF and EXT_ON (1.4)
 * bound the thread's recording periods: what ran while recording was off is
 * not in the trace, and calls open across an EXT_OFF keep their whole time.
 * EXT_RESET (1.4) drops what the thread recorded before it (tr_reset).
 *
 * The replay is the analyzer's hot loop (a trace has tens of millions of
 * events a second of run): events are decoded inline, straight from the
 * reader's window (a chunk is an open record, reader.h, walked once: here;
 * a fast path without bounds checks takes the usual events, a checked one
 * the rest and the window's last bytes, refilling), a node's last child
 * is cached before the children map, and histogram counts gather in a
 * fixed-size table, or for the nodes with the most calls in dense arrays
 * of a bounded total size, before they go into the nodes' sorted bucket
 * lists. A call of such a node whose function keeps no more exact times
 * (most calls of a long trace) exits by a short way inline in the loop.
 * Memory grows with the call paths, not with the events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cprof_format.h"
#include "model_trace.h"
#include "reader.h"

/* The node of local_fn called from parent, made when new. */
static uint32_t tr_child(struct m_thread *t, uint32_t parent, uint32_t local_fn)
{
    struct m_trace_state *s = t->trace;
    if (parent < s->nlast && s->last_child[parent].local_fn == local_fn)
        return s->last_child[parent].node;
    uint64_t key = (uint64_t)parent << 32 | local_fn;
    uint32_t node = hm_get(&t->children, key);
    if (node == HM_NONE) {
        model_node_new(t, parent, local_fn, &node);
        hm_put(&t->children, key, node);
    }
    if (parent >= s->nlast) {
        size_t cap = s->nlast;
        cprof_grow(&s->last_child, &cap, t->nnodes, sizeof(*s->last_child));
        for (size_t i = s->nlast; i < cap; i++)
            s->last_child[i].local_fn = M_NONE;
        s->nlast = cap;
    }
    s->last_child[parent].local_fn = local_fn;
    s->last_child[parent].node = node;
    return node;
}

static void tr_push(struct m_thread *t, uint32_t local_fn, int inherited)
{
    struct m_trace_state *s = t->trace;
    uint32_t parent = s->depth ? s->stack[s->depth - 1].node : 0;
    uint32_t node = tr_child(t, parent, local_fn);
    if (!inherited)
        t->nodes[node].calls++;
    if (s->depth == s->cap)
        cprof_grow(&s->stack, &s->cap, s->depth + 1, sizeof(*s->stack));
    s->stack[s->depth].node = node;
    s->stack[s->depth].inherited = inherited;
    s->stack[s->depth].start = s->now;
    s->stack[s->depth].from = s->now;
    s->depth++;
}

/* Adds a call of node that lasted ticks to it: a completed one (exit or
 * longjmp, not inherited) to its count, min, max, histogram and exact
 * times too. The replay loop's exit takes a short way instead for the
 * nodes it marks fast, and calls this for the rest. */
static void tr_account(struct m_thread *t, uint32_t node, uint64_t ticks, int completed)
{
    struct m_trace_state *s = t->trace;
    struct m_node *n = &t->nodes[node];
    n->incl_ticks += ticks;
    if (!completed)
        return;
    if (n->completed == 0 || ticks < n->min_ticks)
        n->min_ticks = ticks;
    if (ticks > n->max_ticks)
        n->max_ticks = ticks;
    n->completed++;
    unsigned bucket = cprof_hist_bucket(ticks, t->proc->hist_sub_bits);
    if (node < s->ndense && s->dense[node].counts)
        s->dense[node].counts[bucket]++;
    else
        model_tr_hist_add(t, node, bucket);
    if (n->completed % TR_DENSE_AFTER == 0)
        model_tr_dense_check(t, node, n->completed);
    const struct m_process *p = t->proc;
    if (n->func >= p->nexact || !p->exact[n->func].over)
        model_exact_add(s->model, t->proc, n->func, ticks);
    if (node < s->ndense && s->dense[node].counts && n->func < p->nexact &&
        p->exact[n->func].over)
        s->dense[node].fast = 1;
}

/* Closes the innermost frame as how says: a call that ended (exit or
 * longjmp) completed, one closed at the end or cut off by the end of the
 * data did not. */
static void tr_pop(struct m_thread *t, enum m_close how)
{
    struct m_trace_state *s = t->trace;
    struct tr_frame *f = &s->stack[--s->depth];
    uint64_t ticks = s->now > f->from ? s->now - f->from : 0;
    int completed = how == M_CLOSE_EXIT || how == M_CLOSE_LONGJMP;
    const struct m_trace_observer *obs = s->model->observer;
    if (obs)
        obs->call(obs->ctx, t, t->nodes[f->node].func, f->start, s->now, s->depth,
                  f->inherited, how);
    tr_account(t, f->node, ticks, completed && !f->inherited);
}

static int tr_index(struct m_trace_state *s, uint64_t index, uint32_t *local_fn)
{
    if (index >= s->nindex || s->fn_of_index[index] == M_NONE)
        return -1;
    *local_fn = s->fn_of_index[index];
    return 0;
}

static int tr_define(struct m_process *p, struct m_trace_state *s, uint64_t index,
                     uint64_t addr)
{
    if (index >= TR_MAX_INDEX)
        return -1;
    model_index_set(&s->fn_of_index, &s->nindex, index, model_local_fn(p, addr));
    return 0;
}

/* One EXT_ALLOC (alloc set) or EXT_FREE event of bytes, the process heap
 * in use being heap after it. */
static void tr_heap(struct m_thread *t, int alloc, uint64_t bytes, uint64_t heap)
{
    struct m_trace_state *s = t->trace;
    struct m_heap *h = &t->heap_replay;
    const struct m_trace_observer *obs = s->model->observer;
    if (obs && obs->heap)
        obs->heap(obs->ctx, t, alloc, bytes, heap, s->now);
    t->proc->has_heap = 1;
    if (alloc) {
        h->alloc_calls++;
        h->alloc_bytes += bytes;
    } else {
        h->free_calls++;
        h->freed_bytes += bytes;
    }
    if (!s->depth) {
        if (alloc) {
            h->outside_alloc_calls++;
            h->outside_alloc_bytes += bytes;
        } else {
            h->outside_free_calls++;
            h->outside_freed_bytes += bytes;
        }
        return;
    }
    struct m_node *n = &t->nodes[s->stack[s->depth - 1].node];
    if (alloc) {
        n->alloc_calls++;
        n->alloc_bytes += bytes;
        if (heap > n->peak_bytes)
            n->peak_bytes = heap;
    } else {
        n->free_calls++;
        n->freed_bytes += bytes;
    }
}

/* EXT_RESET (1.4): what the thread recorded so far is dropped, as summary
 * mode's reset drops it in the runtime: every node's counts, times,
 * histogram and heap figures go to zero, and the calls open now go on as
 * if entered now (an inherited frame becomes a call of this process):
 * each counts once, its time runs from now. Exact per-call times
 * (model_pct.c) are kept per process, not per thread: a function with
 * completed calls dropped here loses them, and its percentiles come from
 * its histogram. The observer (chrome export) is a timeline, not a
 * count: calls completed before the reset stay on it, and a call open
 * across it is told with its real entry when it ends. */
static void tr_reset(struct m_thread *t)
{
    struct m_trace_state *s = t->trace;
    free(s->pending); /* the pending histogram counts go too */
    s->pending = NULL;
    s->npending = s->npend_slots = 0;
    model_tr_dense_free(t, 0);
    for (size_t i = 1; i < t->nnodes; i++) {
        struct m_node *n = &t->nodes[i];
        if (n->completed)
            model_exact_drop(s->model, t->proc, n->func);
        n->calls = 0;
        n->incl_ticks = 0;
        n->min_ticks = n->max_ticks = 0;
        n->completed = 0;
        n->hist_len = 0;
        n->alloc_calls = n->alloc_bytes = n->free_calls = n->freed_bytes = 0;
        n->peak_bytes = 0;
    }
    memset(&t->heap_replay, 0, sizeof t->heap_replay);
    for (size_t i = 0; i < s->depth; i++) {
        struct tr_frame *f = &s->stack[i];
        f->inherited = 0;
        f->from = s->now;
        t->nodes[f->node].calls++;
    }
    t->stats.resets++;
}

/* The events array of one chunk, read uint by uint. */
struct tr_events {
    const uint8_t *pos, *end; /* the unread part of the record */
    uint32_t left;            /* elements of the array not read yet */
    uint64_t bad_site;        /* a LINE event's undefined site index ... */
    int bad_site_found;       /* ... when one was found */
    const char *what;         /* a malformed event's description, when known */
};

static int tr_uint_any(struct tr_events *ev, uint64_t *v)
{
    struct mp_in in = {ev->pos, ev->end};
    if (mp_read_uint(&in, v) != MP_OK)
        return -1;
    ev->pos = in.pos;
    ev->left--;
    return 0;
}

/* The next element as a uint. Inline for the forms the runtime writes
 * events in (fixint, uint 8, 16 and 32); mp_read_uint for the rest. */
static inline int tr_uint(struct tr_events *ev, uint64_t *v)
{
    const uint8_t *p = ev->pos;
    if (ev->left == 0 || p == ev->end)
        return -1;
    size_t avail = (size_t)(ev->end - p);
    if (p[0] < 0x80) {
        *v = p[0];
        ev->pos = p + 1;
    } else if (p[0] == 0xcc && avail >= 2) {
        *v = p[1];
        ev->pos = p + 2;
    } else if (p[0] == 0xcd && avail >= 3) {
        *v = (uint64_t)p[1] << 8 | p[2];
        ev->pos = p + 3;
    } else if (p[0] == 0xce && avail >= 5) {
        *v = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 8 | p[4];
        ev->pos = p + 5;
    } else {
        return tr_uint_any(ev, v);
    }
    ev->left--;
    return 0;
}

/* One EXT event after its code. Returns 0 or -1 (malformed). */
static int tr_ext(struct m_thread *t, struct tr_events *ev, uint64_t code)
{
    struct m_trace_state *s = t->trace;
    uint64_t a, b;
    uint32_t local_fn;
    switch (code) {
    case CPROF_EXT_FUNC:
        if (tr_uint(ev, &a) || tr_uint(ev, &b))
            return -1;
        if (model_region_check(t->proc, b, "EXT_FUNC", s->why, sizeof s->why) < 0) {
            ev->what = s->why;
            return -1;
        }
        return tr_define(t->proc, s, a, b);
    case CPROF_EXT_INHERITED:
        if (tr_uint(ev, &a) || a > ev->left)
            return -1;
        for (uint64_t i = 0; i < a; i++) {
            if (tr_uint(ev, &b) || tr_index(s, b, &local_fn))
                return -1;
            tr_push(t, local_fn, 1);
        }
        return 0;
    case CPROF_EXT_UNWIND:
        if (tr_uint(ev, &a) || tr_uint(ev, &b) || b > s->depth)
            return -1;
        for (uint64_t i = 0; i < b; i++)
            tr_pop(t, a == CPROF_UNWIND_LONGJMP ? M_CLOSE_LONGJMP : M_CLOSE_END);
        return 0;
    case CPROF_EXT_DROP:
        if (tr_uint(ev, &a))
            return -1;
        t->stats.dropped_events += a;
        return 0;
    case CPROF_EXT_ALLOC:
    case CPROF_EXT_FREE:
        if (tr_uint(ev, &a) || tr_uint(ev, &b)) {
            ev->what = code == CPROF_EXT_ALLOC
                           ? "EXT_ALLOC event without its bytes and heap operands"
                           : "EXT_FREE event without its bytes and heap operands";
            return -1;
        }
        tr_heap(t, code == CPROF_EXT_ALLOC, a, b);
        return 0;
    case CPROF_EXT_OFF:
    case CPROF_EXT_ON:
        /* a boundary of a recording period: calls entered while off are
         * not in the trace, those open at EXT_OFF exit as usual. An EXT_ON
         * while on (a thread that began while recording was off) or an
         * EXT_OFF while off changes nothing. */
        t->stats.recording_off += code == CPROF_EXT_OFF && !s->off;
        s->off = code == CPROF_EXT_OFF;
        return 0;
    case CPROF_EXT_RESET:
        tr_reset(t);
        return 0;
    default:
        /* its operands cannot be skipped without knowing it */
        ev->what = "EXT event of an unknown code (written by a newer cprof?)";
        return -1;
    }
}

/* One event. Returns 0 or -1 (malformed). */
static int tr_event(struct m_thread *t, struct tr_events *ev)
{
    struct m_trace_state *s = t->trace;
    uint64_t token, operand;
    uint32_t local_fn;
    if (tr_uint(ev, &token))
        return -1;
    s->now += token >> CPROF_EV_KIND_BITS;
    switch (token & ((1u << CPROF_EV_KIND_BITS) - 1)) {
    case CPROF_EV_ENTER:
        if (tr_uint(ev, &operand) || tr_index(s, operand, &local_fn))
            return -1;
        tr_push(t, local_fn, 0);
        return 0;
    case CPROF_EV_EXIT:
        if (s->depth)
            tr_pop(t, M_CLOSE_EXIT);
        else
            t->stats.unmatched_exits++;
        return 0;
    case CPROF_EV_LINE:
        if (tr_uint(ev, &operand))
            return -1;
        if (!model_line_site_defined(t, operand)) {
            ev->bad_site = operand;
            ev->bad_site_found = 1;
            return -1;
        }
        return 0;
    default:
        return tr_uint(ev, &operand) || tr_ext(t, ev, operand);
    }
}

/* The most bytes tr_run reads for one event: a token and an operand of
 * up to 5 bytes each (uint 32 at most). */
#define TR_FAST_BYTES 10u

/* The next uint at *q in the forms the runtime writes events in, with no
 * bounds check (the caller has TR_FAST_BYTES bytes). Returns 0 for any
 * other form, which the checked path takes. */
static inline int tr_fast_uint(const uint8_t **q, uint64_t *v)
{
    const uint8_t *p = *q;
    if (p[0] < 0x80) {
        *v = p[0];
        *q = p + 1;
    } else if (p[0] == 0xcc) {
        *v = p[1];
        *q = p + 2;
    } else if (p[0] == 0xcd) {
        *v = (uint64_t)p[1] << 8 | p[2];
        *q = p + 3;
    } else if (p[0] == 0xce) {
        *v = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 8 | p[4];
        *q = p + 5;
    } else {
        return 0;
    }
    return 1;
}

static inline __attribute__((always_inline)) void
tr_run_with(struct m_thread *t, struct tr_events *ev, const struct m_trace_observer *obs)
{
    struct m_trace_state *s = t->trace;
    const uint8_t *p = ev->pos, *end = ev->end;
    uint32_t left = ev->left;
    /* the state every event changes, in registers while the loop runs:
     * through s, each event would wait for the last one's stores */
    uint64_t now = s->now;
    size_t depth = s->depth;
    uint32_t top = depth ? s->stack[depth - 1].node : 0; /* the parent of an enter */
    unsigned sub_bits = t->proc->hist_sub_bits;
    while (left >= 2 && (size_t)(end - p) >= TR_FAST_BYTES) {
        const uint8_t *q = p;
        uint64_t token, operand;
        if (!tr_fast_uint(&q, &token))
            break;
        unsigned kind = (unsigned)token & ((1u << CPROF_EV_KIND_BITS) - 1);
        if (kind == CPROF_EV_EXIT) {
            now += token >> CPROF_EV_KIND_BITS;
            p = q;
            left--;
            if (__builtin_expect(!depth, 0)) {
                t->stats.unmatched_exits++;
                continue;
            }
            const struct tr_frame *f = &s->stack[--depth];
            uint64_t ticks = now > f->from ? now - f->from : 0;
            if (obs)
                obs->call(obs->ctx, t, t->nodes[top].func, f->start, now, depth,
                          f->inherited, M_CLOSE_EXIT);
            struct m_node *n = &t->nodes[top];
            uint64_t completed = n->completed + 1;
            /* most calls: tr_account's work for a fast node (whose function
             * keeps no more exact times, and which has had TR_DENSE_AFTER
             * completed calls: its min is set) when its dense array needs
             * no check at this call (model_tr_dense_check) */
            if (__builtin_expect(top < s->ndense && s->dense[top].fast && !f->inherited &&
                                     completed % TR_DENSE_AFTER != 0,
                                 1)) {
                n->incl_ticks += ticks;
                if (ticks < n->min_ticks)
                    n->min_ticks = ticks;
                if (ticks > n->max_ticks)
                    n->max_ticks = ticks;
                n->completed = completed;
                s->dense[top].counts[cprof_hist_bucket(ticks, sub_bits)]++;
            } else {
                tr_account(t, top, ticks, !f->inherited);
            }
            top = depth ? s->stack[depth - 1].node : 0;
            continue;
        }
        if (kind == CPROF_EV_EXT || !tr_fast_uint(&q, &operand))
            break;
        if (kind == CPROF_EV_ENTER) {
            if (operand >= s->nindex || s->fn_of_index[operand] == M_NONE)
                break;
            uint32_t local_fn = s->fn_of_index[operand];
            now += token >> CPROF_EV_KIND_BITS;
            uint32_t node;
            if (__builtin_expect(
                    top < s->nlast && s->last_child[top].local_fn == local_fn, 1))
                node = s->last_child[top].node;
            else
                node = tr_child(t, top, local_fn);
            t->nodes[node].calls++;
            if (__builtin_expect(depth == s->cap, 0))
                cprof_grow(&s->stack, &s->cap, depth + 1, sizeof(*s->stack));
            struct tr_frame *f = &s->stack[depth++];
            f->node = node;
            f->inherited = 0;
            if (obs)
                f->start = now;
            f->from = now;
            top = node;
        } else {
            if (!model_line_site_defined(t, operand))
                break;
            now += token >> CPROF_EV_KIND_BITS;
        }
        p = q;
        left -= 2;
    }
    s->now = now;
    s->depth = depth;
    ev->pos = p;
    ev->left = left;
}

/* The fast path: replays ENTER, EXIT and LINE events while the window
 * holds TR_FAST_BYTES more bytes, without bounds checks. Stops, with ev
 * at the event, at the first one it does not take (another kind, another
 * uint form, a bad operand, the last element or the window's last bytes):
 * the checked path (tr_step) takes that one. Made twice, with and without
 * an observer, so that the loop without has one register more and stores
 * no entry time (the model's observer is the same for the whole load). */
static void tr_run(struct m_thread *t, struct tr_events *ev)
{
    const struct m_trace_observer *obs = t->trace->model->observer;
    if (obs)
        tr_run_with(t, ev, obs);
    else
        tr_run_with(t, ev, NULL);
}

/* How many elements an event takes, from its elements read so far (v[0]
 * the token, v[1] the first operand, ...); 0: as many as it has (an EXT
 * event of an unknown code, which tr_event rejects). */
static uint64_t tr_event_len(const uint64_t *v, unsigned nread)
{
    unsigned kind = (unsigned)v[0] & ((1u << CPROF_EV_KIND_BITS) - 1);
    if (kind == CPROF_EV_EXIT)
        return 1;
    if (kind != CPROF_EV_EXT)
        return 2;
    if (nread < 2)
        return 2;
    switch (v[1]) {
    case CPROF_EXT_FUNC:
    case CPROF_EXT_UNWIND:
    case CPROF_EXT_ALLOC:
    case CPROF_EXT_FREE:
        return 4;
    case CPROF_EXT_DROP:
        return 3;
    case CPROF_EXT_OFF:
    case CPROF_EXT_ON:
    case CPROF_EXT_RESET:
        return 2;
    case CPROF_EXT_INHERITED:
        return nread < 3 ? 3 : 3 + v[2];
    default:
        return 0;
    }
}

/* Finds whether the window holds the whole event at ev->pos, walking its
 * elements as msgpack objects without acting on them: up to the element
 * count the event's own elements give, the array's end, or the first
 * element that is not a uint (tr_event rejects the event there). Returns
 * MP_OK, or MP_ETRUNC (the window ends inside it), MP_EBAD or MP_EDEPTH
 * (not msgpack). */
static int tr_event_whole(const struct tr_events *ev)
{
    struct mp_in in = {ev->pos, ev->end};
    uint64_t v[3] = {0, 0, 0};
    uint64_t want = 1;
    for (uint64_t i = 0; i < want && i < ev->left; i++) {
        struct mp_in at = in;
        int err = mp_skip(&in);
        if (err != MP_OK)
            return err;
        if (i < 3) {
            if (mp_read_uint(&at, &v[i]) != MP_OK)
                return MP_OK;
            want = tr_event_len(v, (unsigned)i + 1);
            if (want == 0)
                return MP_OK;
        }
    }
    return MP_OK;
}

/* The checked path: one event of any kind, read with bounds checks once
 * the window holds all of it; for an open record, a refill when it does
 * not. Returns 0, -1 (a bad event: ev says what) or -2 (damage or a read
 * error, which the reader reports: rd_failed()). */
static int tr_step(struct m_thread *t, struct tr_events *ev, struct rd_record *rec)
{
    for (;;) {
        int err = tr_event_whole(ev);
        if (err == MP_OK)
            return tr_event(t, ev);
        if (!rec->open)
            return -1; /* the reader walked it: cannot happen */
        if (err != MP_ETRUNC) {
            rd_damage(rec, err);
            return -2;
        }
        rec->body.pos = ev->pos;
        int more = rd_more(rec);
        if (more <= 0) {
            if (more == 0)
                rd_damage(rec, MP_ETRUNC);
            return -2;
        }
        ev->pos = rec->body.pos;
        ev->end = rec->body.end;
    }
}

int model_trace_chunk(struct model *m, struct m_process *p, struct rd_record *rec,
                      char *msg, size_t msglen)
{
    uint64_t serial, base;
    uint32_t count;
    if (rd_field_uint(rec, &serial) || serial > UINT32_MAX || rd_field_uint(rec, &base) ||
        rec->nfields == 0 || mp_peek(&rec->body) != MP_T_ARRAY) {
        snprintf(msg, msglen, "bad trace record");
        return -1;
    }
    struct m_thread *t = model_thread(p, (uint32_t)serial);
    if (m->filter.tid && !t->tid)
        t->excluded = 1;
    if (t->excluded)
        return 0; /* the events are skipped as a whole field */
    if (mp_read_array(&rec->body, &count) != MP_OK) {
        snprintf(msg, msglen, "bad trace record");
        return -1;
    }
    rec->nfields--;
    if (t->nnodes > 1 && !t->trace) {
        snprintf(msg, msglen, "trace record for thread %u, which has node records",
                 t->serial);
        return -1;
    }
    if (!t->trace)
        t->trace = cprof_xcalloc(1, sizeof(*t->trace));
    t->trace->now = base;
    t->trace->model = m;
    struct tr_events ev = {rec->body.pos, rec->body.end, count, 0, 0, NULL};
    for (;;) {
        tr_run(t, &ev);
        if (!ev.left)
            break;
        uint32_t at = count - ev.left;
        int r = tr_step(t, &ev, rec);
        if (r == 0)
            continue;
        rec->body.pos = ev.pos;
        if (r == -2)
            return -1;
        if (ev.bad_site_found)
            snprintf(msg, msglen,
                     "LINE event at element %u of the trace chunk of thread %u uses line "
                     "site %llu, which no line site record defined",
                     at, t->serial, (unsigned long long)ev.bad_site);
        else
            snprintf(msg, msglen,
                     "bad event at element %u of the trace chunk of thread %u%s%s", at,
                     t->serial, ev.what ? ": " : "", ev.what ? ev.what : "");
        return -1;
    }
    rec->body.pos = ev.pos;
    return 0;
}

/* The end of a thread's trace. Calls still open were cut off by the end
 * of the data, unless the thread was still running at a flush (1.4:
 * cprof_flush in trace mode, the file's last end record has reason
 * "flush", and the thread has no thread-end record): then they are closed
 * at the flush, as summary mode's flush closes them, and counted as
 * closed at the end. The histogram counts still pending go into the
 * nodes last. */
void model_trace_finish(struct m_thread *t)
{
    struct m_trace_state *s = t->trace;
    if (!s)
        return;
    const struct m_process *p = t->proc;
    if (!t->ended && p->complete && p->end_reason && !strcmp(p->end_reason, "flush")) {
        if (p->end_ticks > s->now)
            s->now = p->end_ticks;
        t->stats.closed_at_end += s->depth;
        while (s->depth)
            tr_pop(t, M_CLOSE_END);
    } else {
        t->stats.cut_open += s->depth;
        while (s->depth)
            tr_pop(t, M_CLOSE_CUT);
    }
    model_tr_dense_free(t, 1);
    model_tr_hist_flush(t);
}

void model_trace_free(struct m_thread *t)
{
    if (!t->trace)
        return;
    free(t->trace->fn_of_index);
    free(t->trace->stack);
    free(t->trace->last_child);
    free(t->trace->pending);
    model_tr_dense_free(t, 0);
    free(t->trace);
    t->trace = NULL;
}

uint32_t model_trace_fn(const struct m_thread *t, uint64_t index)
{
    uint32_t local_fn;
    if (!t->trace || tr_index(t->trace, index, &local_fn) < 0)
        return M_NONE;
    return local_fn;
}
