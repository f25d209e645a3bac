/*
 * Trace mode's per-thread buffer: chunks of event tokens (see
 * cprof_format.h) appended by the hooks and written to the file with one
 * write() each when the buffer fills, plus the per-thread function index
 * table that keeps ENTER events to a byte or two.
 *
 * A buffer holds, in order: the thread record (first chunk only), a clock
 * record, and a trace record whose event array's count is patched at flush.
 * Each event is kept whole inside one chunk. Everything here runs on the
 * owning thread, on the slow path of a hook or at thread/process end, and is
 * signal-safe (mmap and write only), except the copies: cprof_flush() on
 * another thread copies out and writes the events a thread has not written
 * yet while it runs on or waits (rt_trace_handover), under the thread's
 * trace lock, which the owner takes only to write a full chunk (never in
 * the hooks' common path); the owner's next chunk then starts after what
 * was copied (tdone), so every event is written once.
 *
 * CPROF_TRACE_MAX caps the bytes of trace chunks a process writes: every
 * chunk reserves its size first (rt_trace_reserve), and the first that
 * does not fit stops the trace for every thread. From then on a thread's
 * events are still appended to its buffer (the hooks do not change), but
 * a full buffer is counted instead of written: its ENTER events add to
 * the thread's trace_stopped_calls. The file keeps every chunk written
 * before the stop, whole; the end record says when it stopped.
 */
#include <sched.h>
#include <string.h>

#include "rt_internal.h"

#define RT_TRACE_SLACK 96u /* room past tend for the largest event */
#define RT_FIDX_INITIAL 1024u

/* The head of a trace chunk: a clock record, then the chunk's array up to
 * its events array, whose header the caller writes (base_ts: the time the
 * chunk's first delta counts from). */
RT_NOINST static void rt_trace_head(struct mp_out *o, const struct rt_thread *t,
                                    uint64_t base_ts)
{
    mp_array(o, 3);
    mp_uint(o, CPROF_REC_CLOCK);
    mp_uint(o, rt_ticks());
    mp_uint(o, rt_mono_ns());
    mp_array(o, 4);
    mp_uint(o, CPROF_REC_TRACE);
    mp_uint(o, t->serial);
    mp_uint64_fixed(o, base_ts);
}

static uint64_t rt_trace_written; /* bytes of chunks reserved, process-wide */
static uint64_t rt_trace_stopped; /* ticks the cap was reached; 0: not yet */

RT_NOINST int rt_trace_reserve(size_t len, uint64_t now)
{
    uint64_t max = rt_config.trace_max;
    if (!max)
        return 1;
    if (__atomic_load_n(&rt_trace_stopped, __ATOMIC_ACQUIRE))
        return 0;
    uint64_t used =
        __atomic_add_fetch(&rt_trace_written, (uint64_t)len, __ATOMIC_ACQ_REL);
    if (used <= max)
        return 1;
    uint64_t expected = 0;
    __atomic_compare_exchange_n(&rt_trace_stopped, &expected, now ? now : 1, 0,
                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return 0;
}

RT_NOINST uint64_t rt_trace_stop_ticks(void)
{
    return __atomic_load_n(&rt_trace_stopped, __ATOMIC_ACQUIRE);
}

RT_NOINST void rt_trace_cap_after_fork(void)
{
    rt_trace_written = 0;
    rt_trace_stopped = 0;
}

RT_NOINST void rt_trace_begin_chunk(struct rt_thread *t)
{
    struct mp_out o = {t->tbuf, t->tbuf + t->tbuf_size, 0};
    if (!t->announced) {
        rt_writer_put_thread(&o, t);
        t->announced = 1;
    }
    t->tchunk_at = o.pos;
    rt_trace_head(&o, t, t->last_ts);
    t->tcount_at = o.pos;
    mp_array32(&o, 0);
    t->tpos = o.pos;
    t->tcount = 0;
    t->tchunk_enters = t->tenters;
}

RT_NOINST int rt_trace_lock(struct rt_thread *t, long spins)
{
    for (long i = 0;; i++) {
        int expected = 0;
        if (__atomic_compare_exchange_n(&t->tlock, &expected, 1, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return 1;
        if (i >= spins)
            return 0;
        sched_yield();
    }
}

RT_NOINST void rt_trace_unlock(struct rt_thread *t)
{
    __atomic_store_n(&t->tlock, 0, __ATOMIC_RELEASE);
}

RT_NOINST static int rt_trace_stopping(struct rt_thread *t, uint32_t defs);

/* Writes the chunk in the buffer and starts the next. Owner thread; a
 * flusher on another thread may be writing these events at the same
 * time: the lock waits for it (it only copies and writes), and the
 * events it wrote (up to tdone) are not written again. */
RT_NOINST void rt_trace_flush(struct rt_thread *t)
{
    if (!t->tbuf)
        return;
    int locked = rt_trace_lock(t, 1L << 30);
    uint32_t defs = t->line_defs_len, defs_done = t->defs_done;
    if (rt_trace_stopping(t, defs - defs_done)) {
        /* counted, not written (the thread record, if in the buffer, is) */
    } else if (t->tdone) {
        /* the thread record and the events before tdone are written: a
         * chunk of the rest, counted from the last event written */
        if (defs > defs_done)
            rt_writer_write(t->line_defs + defs_done, defs - defs_done);
        size_t rest = (size_t)(t->tpos - t->tdone);
        if (rest) {
            uint8_t head[64];
            struct mp_out o = {head, head + sizeof head, 0};
            rt_trace_head(&o, t, t->tdone_ts);
            mp_array32(&o, t->tcount - t->tdone_tokens);
            size_t hlen = (size_t)(o.pos - head);
            if (rt_writer_write2(head, hlen, t->tdone, rest) == 0)
                t->stats.trace_bytes += hlen + rest;
        }
    } else {
        mp_patch_array32(t->tcount_at, t->tcount);
        size_t len = (size_t)(t->tpos - t->tbuf);
        if (defs > defs_done) {
            /* the sites the chunk uses are defined before it (and after the
             * thread record, which the first chunk's buffer starts with) */
            size_t head = (size_t)(t->tchunk_at - t->tbuf);
            if (head)
                rt_writer_write(t->tbuf, head);
            rt_writer_write(t->line_defs + defs_done, defs - defs_done);
            if (rt_writer_write(t->tchunk_at, len - head) == 0)
                t->stats.trace_bytes += len;
        } else if (rt_writer_write(t->tbuf, len) == 0) {
            t->stats.trace_bytes += len;
        }
    }
    __atomic_store_n(&t->line_defs_len, 0, __ATOMIC_RELEASE);
    t->defs_done = 0;
    t->tdone = NULL;
    t->tdone_tokens = 0;
    rt_trace_begin_chunk(t);
    if (locked)
        rt_trace_unlock(t);
}

/* Reads one trace token; returns its length, 0 if incomplete. The
 * runtime writes tokens as positive fixints or uint 8/16/32/64, read here
 * without a call (the count of calls past CPROF_TRACE_MAX walks every
 * event); anything else goes to the codec. */
RT_NOINST static inline size_t rt_token(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    if (p < end && *p < 0x80) {
        *v = *p;
        return 1;
    }
    unsigned n = p < end && *p >= 0xcc && *p <= 0xcf ? 1u << (*p - 0xcc) : 0;
    if (n && (size_t)(end - p) > n) {
        uint64_t u = 0;
        for (unsigned i = 1; i <= n; i++)
            u = u << 8 | p[i];
        *v = u;
        return n + 1;
    }
    struct mp_in in = {p, end};
    return mp_read_uint(&in, v) == MP_OK ? (size_t)(in.pos - p) : 0;
}

/* The end of the last complete event in [p, end), whose first event
 * counts from ts: its tokens and ticks into *tokens and *ts. */
RT_NOINST static const uint8_t *rt_events_cut(const uint8_t *p, const uint8_t *end,
                                              uint32_t *tokens, uint64_t *ts,
                                              uint64_t *enters)
{
    const uint8_t *cut = p;
    uint32_t count = 0;
    uint64_t at = *ts;
    while (p < end) {
        uint64_t v, code = 0, n = 0;
        size_t l = rt_token(p, end, &v);
        if (!l)
            break;
        const uint8_t *q = p + l;
        uint32_t k = 1;
        unsigned kind = (unsigned)(v & 3);
        uint64_t operands = kind == CPROF_EV_ENTER || kind == CPROF_EV_LINE;
        if (kind == CPROF_EV_EXT) {
            if (!(l = rt_token(q, end, &code)))
                break;
            q += l;
            k++;
            operands =
                code == CPROF_EXT_DROP ? 1
                : code == CPROF_EXT_OFF || code == CPROF_EXT_ON || code == CPROF_EXT_RESET
                    ? 0
                    : 2;
            if (code == CPROF_EXT_INHERITED) {
                if (!(l = rt_token(q, end, &n)))
                    break;
                q += l;
                k++;
                operands = n;
            }
        }
        uint64_t i = 0;
        for (; i < operands && (l = rt_token(q, end, &code)); i++, k++)
            q += l;
        if (i < operands)
            break;
        at += v >> CPROF_EV_KIND_BITS;
        if (enters && kind == CPROF_EV_ENTER)
            ++*enters;
        count += k;
        p = q;
        cut = p;
        *tokens = count;
        *ts = at;
    }
    return cut;
}

RT_NOINST uint64_t rt_trace_count_enters(const uint8_t *p, const uint8_t *end)
{
    uint32_t tokens = 0;
    uint64_t ts = 0, enters = 0;
    rt_events_cut(p, end, &tokens, &ts, &enters);
    return enters;
}

/* rt_trace_flush: whether the chunk in t's buffer (with defs bytes of line
 * sites before it) is past the cap. Then its calls are counted as left
 * out, and only the thread record is written if the buffer holds it. */
RT_NOINST static int rt_trace_stopping(struct rt_thread *t, uint32_t defs)
{
    uint8_t *from = t->tdone ? t->tdone : t->tcount_at + 5;
    /* at least what rt_trace_flush writes of it */
    size_t len = (size_t)(t->tpos - from) + defs +
                 (t->tdone ? 64u : (size_t)(from - t->tchunk_at));
    if (rt_trace_reserve(len, t->last_ts))
        return 0;
    if (!t->tdone && t->tchunk_at > t->tbuf)
        rt_writer_write(t->tbuf, (size_t)(t->tchunk_at - t->tbuf));
    /* counted as they were appended, unless a copy wrote part of them */
    t->stats.trace_stopped_calls +=
        t->tdone ? rt_trace_count_enters(from, t->tpos) : t->tenters - t->tchunk_enters;
    return 1;
}

RT_NOINST size_t rt_trace_copy_size(const struct rt_thread *t)
{
    return t->tbuf_size + RT_LINE_DEFS + 512;
}

RT_NOINST void rt_trace_copy(struct rt_thread *t, struct rt_trace_copy *c)
{
    uint8_t *tpos = __atomic_load_n(&t->tpos, __ATOMIC_ACQUIRE);
    /* after tpos: a site an event before tpos uses was defined before it */
    uint32_t defs =
        t->line_defs ? __atomic_load_n(&t->line_defs_len, __ATOMIC_ACQUIRE) : 0;
    uint8_t *done = t->tdone;
    struct mp_out *o = &c->o;
    o->pos = c->buf;
    o->end = c->buf + rt_trace_copy_size(t);
    o->overflow = 0;
    const uint8_t *from;
    uint64_t ts;
    if (done) {
        from = done;
        ts = t->tdone_ts;
    } else {
        from = t->tcount_at + 5;
        struct mp_in base = {t->tcount_at - 9, t->tcount_at};
        if (mp_read_uint(&base, &ts) != MP_OK)
            ts = t->last_ts;
        size_t head = (size_t)(t->tchunk_at - t->tbuf); /* the thread record */
        memcpy(o->pos, t->tbuf, head);
        o->pos += head;
    }
    c->head = (size_t)(o->pos - c->buf);
    c->defs = defs > t->defs_done ? defs : t->defs_done;
    if (defs > t->defs_done) {
        memcpy(o->pos, t->line_defs + t->defs_done, defs - t->defs_done);
        o->pos += defs - t->defs_done;
    }
    rt_trace_head(o, t, ts);
    c->count_at = o->pos;
    mp_array32(o, 0);
    size_t len = tpos > from ? (size_t)(tpos - from) : 0;
    if (len > t->tbuf_size)
        len = 0; /* the buffer was reset under us (the end of a process) */
    memcpy(o->pos, from, len);
    c->tokens = 0;
    c->last_ts = ts;
    const uint8_t *cut =
        rt_events_cut(o->pos, o->pos + len, &c->tokens, &c->last_ts, NULL);
    c->cut = (uint8_t *)from + (cut - o->pos);
    o->pos = (uint8_t *)cut;
    mp_patch_array32(c->count_at, c->tokens);
}

RT_NOINST int rt_trace_handover(struct rt_thread *t, uint8_t *buf, size_t size)
{
    if (!t->tbuf || size < rt_trace_copy_size(t))
        return -1;
    /* the owner holds it only while it writes its chunk (which then holds
     * the events): a bounded wait, never a hang */
    if (!rt_trace_lock(t, 100000))
        return -1;
    struct rt_trace_copy c = {.buf = buf};
    rt_trace_copy(t, &c);
    int rc = 0;
    if (c.tokens) {
        size_t len = (size_t)(c.o.pos - c.buf);
        if (!rt_trace_reserve(len - c.head, c.last_ts)) {
            /* past the cap: counted, marked done, not written */
            t->stats.trace_stopped_calls +=
                rt_trace_count_enters(c.count_at + 5, c.o.pos);
            len = c.head;
        }
        rc = len ? rt_writer_write(c.buf, len) : 0;
        if (rc == 0) {
            t->stats.trace_bytes += len;
            t->tdone_tokens += c.tokens;
            t->tdone_ts = c.last_ts;
            t->defs_done = c.defs;
            __atomic_store_n(&t->tdone, c.cut, __ATOMIC_RELEASE);
        }
    }
    rt_trace_unlock(t);
    return rc;
}

RT_NOINST static int rt_fidx_grow(struct rt_thread *t)
{
    uint32_t size = t->fidx_keys ? (t->fidx_mask + 1) * 2 : RT_FIDX_INITIAL;
    uint64_t *keys = rt_map(sizeof(uint64_t) * size);
    uint32_t *vals = rt_map(sizeof(uint32_t) * size);
    if (!keys || !vals) {
        if (keys)
            rt_unmap(keys, sizeof(uint64_t) * size);
        if (vals)
            rt_unmap(vals, sizeof(uint32_t) * size);
        return -1;
    }
    uint32_t mask = size - 1;
    if (t->fidx_keys) {
        for (uint32_t i = 0; i <= t->fidx_mask; i++) {
            if (!t->fidx_keys[i])
                continue;
            uint32_t h =
                (uint32_t)((t->fidx_keys[i] * 0x9e3779b97f4a7c15ull) >> 40) & mask;
            while (keys[h])
                h = (h + 1) & mask;
            keys[h] = t->fidx_keys[i];
            vals[h] = t->fidx_vals[i];
        }
        rt_unmap(t->fidx_keys, sizeof(uint64_t) * (t->fidx_mask + 1));
        rt_unmap(t->fidx_vals, sizeof(uint32_t) * (t->fidx_mask + 1));
    }
    t->fidx_keys = keys;
    t->fidx_vals = vals;
    t->fidx_mask = mask;
    return 0;
}

/* Writes one whole event: a token with kind EXT, the code, the operands. */
RT_NOINST void rt_trace_ext(struct rt_thread *t, uint64_t now, uint32_t code,
                            const uint64_t *ops, int nops)
{
    if (!t->tbuf)
        return;
    if ((size_t)(t->tbuf + t->tbuf_size - t->tpos) < (size_t)(2 + nops) * 9)
        rt_trace_flush(t);
    uint64_t delta = now > t->last_ts ? now - t->last_ts : 0;
    if (now > t->last_ts)
        t->last_ts = now;
    uint8_t *p =
        mp_put_uint_unchecked(t->tpos, (delta << CPROF_EV_KIND_BITS) | CPROF_EV_EXT);
    p = mp_put_uint_unchecked(p, code);
    for (int i = 0; i < nops; i++)
        p = mp_put_uint_unchecked(p, ops[i]);
    t->tcount += 2u + (uint32_t)nops;
    t->tpos = p;
    if (p >= t->tend)
        rt_trace_flush(t);
}

/* The index of fn in this thread's table, defined in the trace on first use.
 * Index 0 is never handed out; a thread whose table cannot grow reuses it
 * for every new function (and says so with an EXT_FUNC of address 0). */
RT_NOINST uint32_t rt_trace_fn_index(struct rt_thread *t, uint64_t fn)
{
    uint32_t idx = 0;
    if (fn == t->prev_fn && fn) {
        idx = t->prev_idx; /* a caller alternating between two callees */
        goto found;
    }
    if (t->fidx_keys) {
        uint32_t h = (uint32_t)((fn * 0x9e3779b97f4a7c15ull) >> 40) & t->fidx_mask;
        while (t->fidx_keys[h]) {
            if (t->fidx_keys[h] == fn) {
                idx = t->fidx_vals[h];
                goto found;
            }
            h = (h + 1) & t->fidx_mask;
        }
        if ((t->fidx_used + 1) * 2 > t->fidx_mask + 1) {
            if (rt_fidx_grow(t) != 0)
                goto full;
            h = (uint32_t)((fn * 0x9e3779b97f4a7c15ull) >> 40) & t->fidx_mask;
            while (t->fidx_keys[h])
                h = (h + 1) & t->fidx_mask;
        }
        idx = ++t->fidx_next;
        t->fidx_keys[h] = fn;
        t->fidx_vals[h] = idx;
        t->fidx_used++;
        uint64_t ops[2] = {idx, fn};
        rt_trace_ext(t, t->last_ts, CPROF_EXT_FUNC, ops, 2);
        goto found;
    }
full : {
    uint64_t ops[2] = {0, 0};
    rt_trace_ext(t, t->last_ts, CPROF_EXT_FUNC, ops, 2);
    idx = 0;
}
found:
    t->prev_fn = t->last_fn;
    t->prev_idx = t->last_idx;
    t->last_fn = fn;
    t->last_idx = idx;
    return idx;
}

/* The index rt_trace_fn_index gave fn, or 0 when it gave none (the owner
 * of an allocation made in the innermost call, whose function was indexed
 * at its entry). Reads only: signal-safe. */
RT_NOINST uint32_t rt_trace_fn_lookup(const struct rt_thread *t, uint64_t fn)
{
    if (fn == t->last_fn)
        return t->last_idx;
    if (fn == t->prev_fn)
        return t->prev_idx;
    if (!t->fidx_keys || !fn)
        return 0;
    uint32_t h = (uint32_t)((fn * 0x9e3779b97f4a7c15ull) >> 40) & t->fidx_mask;
    for (uint32_t probes = 0; t->fidx_keys[h] && probes <= t->fidx_mask; probes++) {
        if (t->fidx_keys[h] == fn)
            return t->fidx_vals[h];
        h = (h + 1) & t->fidx_mask;
    }
    return 0;
}

RT_NOINST int rt_trace_init(struct rt_thread *t)
{
    t->tbuf_size = rt_config.trace_buffer;
    t->tbuf = rt_map(t->tbuf_size);
    if (!t->tbuf)
        return -1;
    t->tend = t->tbuf + t->tbuf_size - RT_TRACE_SLACK;
    if (rt_fidx_grow(t) != 0)
        return -1;
    t->last_ts = rt_ticks();
    rt_trace_begin_chunk(t);
    return 0;
}

/* In a forked child: drop the parent's unwritten events and index table and
 * start the child's trace inside the frames it inherited. */
RT_NOINST void rt_trace_inherit(struct rt_thread *t)
{
    if (!t->tbuf)
        return;
    for (uint32_t i = 0; i <= t->fidx_mask; i++)
        t->fidx_keys[i] = 0;
    t->fidx_used = 0;
    t->fidx_next = 0;
    t->last_fn = 0;
    t->last_idx = 0;
    t->prev_fn = 0;
    t->prev_idx = 0;
    t->tcount = 0;
    t->announced = 0;
    t->tlock = 0; /* a flusher of the parent's is not in the child */
    t->tdone = NULL;
    t->tdone_tokens = 0;
    t->defs_done = 0;
    t->last_ts = rt_ticks();
    rt_trace_begin_chunk(t);
    uint64_t ops[17];
    uint32_t i = 0;
    while (i < t->depth) {
        uint32_t n = 0;
        for (; i < t->depth && n < 16; i++)
            if (t->stack[i].ts != RT_TS_OFF) /* not in the trace */
                ops[1 + n++] = rt_trace_fn_index(t, t->stack[i].fn);
        if (!n)
            break;
        ops[0] = n;
        rt_trace_ext(t, t->last_ts, CPROF_EXT_INHERITED, ops, (int)n + 1);
    }
}

RT_NOINST void rt_trace_release(struct rt_thread *t)
{
    if (t->tbuf)
        rt_unmap(t->tbuf, t->tbuf_size);
    if (t->fidx_keys) {
        rt_unmap(t->fidx_keys, sizeof(uint64_t) * (t->fidx_mask + 1));
        rt_unmap(t->fidx_vals, sizeof(uint32_t) * (t->fidx_mask + 1));
    }
    t->tbuf = NULL;
    t->fidx_keys = NULL;
}
