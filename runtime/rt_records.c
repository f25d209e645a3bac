/*
 * The records: a thread's data as of a given time (summary and count
 * modes: its tree's nodes with their histograms; trace mode: what of its
 * trace is not in the file yet), then its line, heap and thread-end
 * records, and the process's end record. Encoded into an mmap'd buffer
 * and handed to the writer (rt_writer.c) a whole number of records at a
 * time. Writing never changes a thread's state: the thread may be running.
 *
 * All of it is signal-safe.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rt_internal.h"

#define RT_OUT_SIZE (1u << 20)
#define RT_OUT_FLUSH (RT_OUT_SIZE - 64 * 1024) /* any one record fits after */

struct rt_out {
    uint8_t *buf;
    struct mp_out o;
};

RT_NOINST static void rt_out_begin(struct rt_out *out, uint8_t *buf)
{
    out->buf = buf;
    out->o.pos = buf;
    out->o.end = buf + RT_OUT_SIZE;
    out->o.overflow = 0;
}

/* Writes what is buffered once it passes the threshold, or when forced.
 * Called between records only. */
RT_NOINST static void rt_out_flush(struct rt_out *out, int force)
{
    size_t len = (size_t)(out->o.pos - out->buf);
    if (!len || (!force && len < RT_OUT_FLUSH))
        return;
    rt_writer_write(out->buf, len);
    out->o.pos = out->buf;
}

/* Pending histogram updates of one thread, sorted by node id, so that the
 * tree can be written with them merged in and without applying them (the
 * thread may be running). */
struct rt_pending_view {
    struct rt_pending items[RT_PENDING];
    uint32_t count, next;
};

RT_NOINST static void rt_pending_view(struct rt_pending_view *v, struct rt_thread *t)
{
    uint32_t n = __atomic_load_n(&t->npending, __ATOMIC_ACQUIRE);
    v->count = n < RT_PENDING ? n : RT_PENDING;
    v->next = 0;
    for (uint32_t i = 0; i < v->count; i++)
        v->items[i] = t->pending[i];
    for (uint32_t i = 1; i < v->count; i++) { /* insertion sort: 256 at most */
        struct rt_pending x = v->items[i];
        uint32_t j = i;
        for (; j > 0 && v->items[j - 1].node->id > x.node->id; j--)
            v->items[j] = v->items[j - 1];
        v->items[j] = x;
    }
}

/* CPU time of node n's calls in ns (CPROF_CPU=1): wall less off-CPU
 * time, open calls included, at ns_per_tick. */
RT_NOINST static uint64_t rt_node_cpu_ns(const struct rt_node *n, double ns_per_tick)
{
    double wall = (double)(n->incl + n->open_extra) * ns_per_tick;
    double off = (double)(n->off_cpu + n->open_off_cpu);
    return wall > off ? (uint64_t)(wall - off) : 0;
}

RT_NOINST static void rt_put_node(struct mp_out *o, struct rt_thread *t,
                                  struct rt_node *n, struct rt_pending_view *pending,
                                  double ns_per_tick)
{
    uint16_t buckets[RT_PENDING]; /* n's pending updates, sorted */
    uint32_t npending = 0;
    while (pending->next < pending->count &&
           pending->items[pending->next].node->id < n->id)
        pending->next++;
    for (; pending->next < pending->count && pending->items[pending->next].node == n;
         pending->next++) {
        uint16_t b = (uint16_t)rt_hist_bucket(pending->items[pending->next].ticks);
        uint32_t j = npending++;
        for (; j > 0 && buckets[j - 1] > b; j--) /* insertion sort: 256 at most */
            buckets[j] = buckets[j - 1];
        buckets[j] = b;
    }
    int done = n->max != 0 || n->min != UINT64_MAX;
    mp_array(o, rt_config.cpu ? 16 : 15);
    mp_uint(o, CPROF_REC_NODE);
    mp_uint(o, t->serial);
    mp_uint(o, n->id);
    mp_uint(o, n->parent);
    mp_uint(o, n->fn);
    mp_uint(o, n->calls);
    mp_uint(o, n->incl + n->open_extra);
    mp_uint(o, done ? n->min : 0);
    mp_uint(o, done ? n->max : 0);
    rt_hist_put(o, n, buckets, npending);
    mp_uint(o, n->alloc_calls);
    mp_uint(o, n->alloc_bytes);
    mp_uint(o, n->free_calls);
    mp_uint(o, n->freed_bytes);
    mp_uint(o, n->peak_out);
    if (rt_config.cpu)
        mp_uint(o, rt_node_cpu_ns(n, ns_per_tick));
}

RT_NOINST static void rt_put_stat(struct mp_out *o, const char *key, uint64_t v)
{
    mp_cstr(o, key);
    mp_uint(o, v);
}

/* [6, thread, stats]. enters and dropped_nodes (summary and count modes)
 * are summed over the tree by the caller; a trace counts its own events. */
RT_NOINST static void rt_put_thread_end(struct mp_out *o, struct rt_thread *t,
                                        uint32_t open_frames, uint64_t enters,
                                        uint64_t dropped_nodes)
{
    const struct rt_thread_stats *s = &t->stats;
    int tree = rt_config.mode != RT_MODE_TRACE;
    /* trace mode: enters holds the calls of the events left unwritten at
     * the end because the trace had stopped */
    uint64_t stopped = tree ? 0 : s->trace_stopped_calls + enters;
    mp_array(o, 3);
    mp_uint(o, CPROF_REC_THREAD_END);
    mp_uint(o, t->serial);
    mp_map(o, (tree ? 9u : 8u) + (s->lines_dropped != 0) + (s->hist_dropped != 0) +
                  (stopped != 0) + (s->folded_threads != 0));
    if (tree)
        rt_put_stat(o, CPROF_STAT_ENTERS, enters);
    rt_put_stat(o, CPROF_STAT_DROPPED_REENTRANT, s->dropped_reentrant);
    rt_put_stat(o, CPROF_STAT_DROPPED_DEPTH, s->dropped_depth);
    rt_put_stat(o, CPROF_STAT_DROPPED_NODES, dropped_nodes);
    rt_put_stat(o, CPROF_STAT_REPAIRED_LONGJMP, s->repaired_longjmp);
    rt_put_stat(o, CPROF_STAT_CLOSED_AT_END, open_frames + s->folded_closed);
    rt_put_stat(o, CPROF_STAT_UNMATCHED_EXITS, s->unmatched_exits);
    rt_put_stat(o, CPROF_STAT_TRACE_BYTES, s->trace_bytes);
    rt_put_stat(o, CPROF_STAT_LINES_UNMATCHED, s->lines_unmatched);
    if (s->lines_dropped)
        rt_put_stat(o, CPROF_STAT_LINES_DROPPED, s->lines_dropped);
    if (s->hist_dropped)
        rt_put_stat(o, CPROF_STAT_HIST_DROPPED, s->hist_dropped);
    if (stopped)
        rt_put_stat(o, CPROF_STAT_TRACE_STOPPED_CALLS, stopped);
    if (s->folded_threads)
        rt_put_stat(o, CPROF_STAT_FOLDED_THREADS, s->folded_threads);
}

/* The thread's heap record [10, thread, stats] and its frees by owner
 * [11, thread, owner_thread, owner, free_calls, freed_bytes], when the
 * process's heap is tracked. The thread may be running: counts are read
 * as they are. */
RT_NOINST static void rt_put_heap(struct rt_out *out, struct rt_thread *t)
{
    if (!rt_heap_active())
        return;
    struct mp_out *o = &out->o;
    /* frees of blocks of threads folded since (rt_fold.c): summed by
     * their owners in the folded thread, or owners lost */
    const struct rt_freed_table *ft = __atomic_load_n(&t->freed, __ATOMIC_ACQUIRE);
    struct rt_fold_freed fold = {0};
    struct rt_freed *folded = rt_fold_freed(ft, &fold);
    uint64_t gone_calls = fold.gone_calls, gone_bytes = fold.gone_bytes;
    int lost = t->freed_lost_calls + gone_calls != 0;
    mp_array(o, 3);
    mp_uint(o, CPROF_REC_HEAP);
    mp_uint(o, t->serial);
    mp_map(o, 8u + (lost ? 2u : 0u));
    rt_put_stat(o, "alloc_calls", t->heap_all.alloc_calls);
    rt_put_stat(o, "alloc_bytes", t->heap_all.alloc_bytes);
    rt_put_stat(o, "free_calls", t->heap_all.free_calls);
    rt_put_stat(o, "freed_bytes", t->heap_all.freed_bytes);
    rt_put_stat(o, "outside_alloc_calls", t->heap_outside.alloc_calls);
    rt_put_stat(o, "outside_alloc_bytes", t->heap_outside.alloc_bytes);
    rt_put_stat(o, "outside_free_calls", t->heap_outside.free_calls);
    rt_put_stat(o, "outside_freed_bytes", t->heap_outside.freed_bytes);
    if (lost) {
        rt_put_stat(o, "owners_lost_calls", t->freed_lost_calls + gone_calls);
        rt_put_stat(o, "owners_lost_bytes", t->freed_lost_bytes + gone_bytes);
    }
    rt_out_flush(out, 0);
    for (uint32_t i = 0; ft && i <= ft->mask + fold.count; i++) {
        const struct rt_freed *s =
            i <= ft->mask ? &ft->slots[i] : &folded[i - ft->mask - 1];
        uint64_t calls = __atomic_load_n(&s->calls, __ATOMIC_ACQUIRE), key = s->key;
        int how = i <= ft->mask && calls ? rt_fold_owner(&key) : 0;
        if (!calls || how < 0 || (how > 0 && folded))
            continue;
        mp_array(o, 6);
        mp_uint(o, CPROF_REC_FREED);
        mp_uint(o, t->serial);
        mp_uint(o, key >> 32);
        mp_uint(o, key & 0xffffffffu);
        mp_uint(o, calls);
        mp_uint(o, s->bytes);
        rt_out_flush(out, 0);
    }
    rt_unmap(folded, fold.size);
}

/* [8, thread, fn, func, file, line, hits, time_ticks, self_ticks]. */
RT_NOINST static void rt_put_line(struct mp_out *o, struct rt_thread *t,
                                  const struct rt_line *l)
{
    struct rt_line_names n;
    rt_line_describe(l, &n);
    int timed = rt_config.mode != RT_MODE_COUNT;
    mp_array(o, 9);
    mp_uint(o, CPROF_REC_LINE);
    mp_uint(o, t->serial);
    mp_uint(o, n.fn);
    mp_str(o, n.func, n.func_len);
    mp_str(o, n.file, n.file_len);
    mp_uint(o, n.line);
    mp_uint(o, l->hits);
    mp_uint(o, timed ? l->time + l->open_time : 0);
    mp_uint(o, timed ? l->self + l->open_self : 0);
}

/* The thread's line records, with the lines still open closed at now in
 * what is written only. Sites with nothing to show (a forked child's
 * inherited table) are left out. */
RT_NOINST static void rt_put_lines(struct rt_out *out, struct rt_thread *t, uint64_t now)
{
    struct rt_line *lines = __atomic_load_n(&t->lines, __ATOMIC_ACQUIRE);
    if (!lines)
        return;
    rt_lines_open_extra(t, now);
    for (uint32_t i = 0; i <= RT_LINE_SLOTS; i++) {
        const struct rt_line *l = &lines[i];
        if (!__atomic_load_n(&l->site, __ATOMIC_ACQUIRE))
            continue;
        if (!l->hits && !l->time && !l->open_time)
            continue;
        rt_put_line(&out->o, t, l);
        rt_out_flush(out, 0);
    }
}

RT_NOINST void rt_writer_put_thread(struct mp_out *o, struct rt_thread *t)
{
    /* by pid: the keeper writes it too (names are gone once the process is) */
    char path[80] = "/proc/", num[24], name[32] = "[folded threads]";
    rt_strlcat(path, rt_utoa((uint64_t)rt_pid, num), sizeof path);
    rt_strlcat(path, "/task/", sizeof path);
    rt_strlcat(path, rt_utoa((uint64_t)t->tid, num), sizeof path);
    rt_strlcat(path, "/comm", sizeof path);
    int folded = t->serial == CPROF_THREAD_FOLDED;
    int fd = folded ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = folded    ? (ssize_t)strlen(name)
                : fd >= 0 ? read(fd, name, sizeof name - 1)
                          : 0;
    if (fd >= 0)
        close(fd);
    while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == 0))
        n--;
    mp_array(o, 4);
    mp_uint(o, CPROF_REC_THREAD);
    mp_uint(o, t->serial);
    mp_uint(o, (uint64_t)t->tid);
    mp_str(o, name, n > 0 ? (size_t)n : 0);
}

/* Summary and count modes: the thread's tree. Calls still open are closed
 * at time now in what is written only (their node's inclusive time gains
 * now - entry), so writing never changes the thread's state. Nodes whose
 * whole subtree recorded nothing (a forked child's inherited shape) are
 * left out. */
RT_NOINST static void rt_write_tree(struct rt_thread *t, uint64_t now)
{
    uint8_t *buf = rt_map(RT_OUT_SIZE);
    if (!buf)
        return;
    struct rt_out out;
    rt_out_begin(&out, buf);
    rt_writer_put_thread(&out.o, t);

    uint32_t nnodes = __atomic_load_n(&t->nnodes, __ATOMIC_ACQUIRE);
    uint32_t depth = t->depth;
    for (uint32_t id = 1; id < nnodes; id++) {
        struct rt_node *n = rt_tree_node(t, id);
        n->keep = 0;
        n->open_extra = 0;
        n->open_off_cpu = 0;
        n->peak_out = n->peak;
    }
    uint64_t off_cpu = rt_config.cpu && depth ? rt_cpu_off_now(t) : 0;
    if (rt_config.mode == RT_MODE_SUMMARY) {
        for (uint32_t i = 0; i < depth; i++) {
            const struct rt_frame *f = &t->stack[i];
            /* a call folded into its caller's node is timed by the caller */
            if (f->node && now > f->ts && !(i > 0 && t->stack[i - 1].node == f->node)) {
                f->node->open_extra += now - f->ts;
                if (rt_config.cpu && off_cpu > t->cpu_stack[i])
                    f->node->open_off_cpu += off_cpu - t->cpu_stack[i];
            }
        }
    }
    for (uint32_t id = nnodes; id-- > 1;) {
        struct rt_node *n = rt_tree_node(t, id);
        if (n->calls || n->incl || n->open_extra || n->keep || n->alloc_calls ||
            n->free_calls) {
            n->keep = 1;
            if (n->parent)
                rt_tree_node(t, n->parent)->keep = 1;
        }
        /* a call's peak covers its callees' (parents have smaller ids) */
        if (n->parent) {
            struct rt_node *up = rt_tree_node(t, n->parent);
            if (n->peak_out > up->peak_out)
                up->peak_out = n->peak_out;
        }
    }
    double ns_per_tick = rt_config.cpu ? 1e9 / rt_ticks_per_sec() : 0;
    static struct rt_pending_view pending; /* one writer at a time per thread */
    rt_pending_view(&pending, t);
    /* calls that found no node at all (no memory) were counted on the root */
    uint64_t enters = t->root->calls, dropped_nodes = t->root->calls;
    for (uint32_t id = 1; id < nnodes; id++) {
        struct rt_node *n = rt_tree_node(t, id);
        if (!n->keep)
            continue;
        enters += n->calls;
        if (n->fn == RT_FN_NODE_LIMIT)
            dropped_nodes += n->calls;
        rt_put_node(&out.o, t, n, &pending, ns_per_tick);
        rt_out_flush(&out, 0);
    }
    rt_put_lines(&out, t, now);
    rt_put_heap(&out, t);
    rt_put_thread_end(&out.o, t, rt_frames_recorded(t, depth), enters, dropped_nodes);
    rt_out_flush(&out, 1);
    rt_unmap(buf, RT_OUT_SIZE);
}

/* Trace mode: what of the thread's trace is not in the file yet (a copy:
 * another thread may be appending to it right now), with the open frames
 * closed at time now, then its line records, heap record and statistics.
 * The thread's own buffer is left as it is. */
RT_NOINST static void rt_write_trace(struct rt_thread *t, uint64_t now)
{
    if (!t->tbuf || !__atomic_load_n(&t->tpos, __ATOMIC_ACQUIRE))
        return;
    size_t size = rt_trace_copy_size(t);
    uint8_t *copy = rt_map(size);
    if (!copy)
        return;
    /* the owner may be writing its chunk (a process ending with threads
     * running): a short wait, then on regardless, as the end must */
    int locked = rt_trace_lock(t, 2000);
    struct rt_trace_copy c = {.buf = copy};
    rt_trace_copy(t, &c);
    if (locked)
        rt_trace_unlock(t);
    struct mp_out *o = &c.o;
    uint32_t depth = rt_frames_recorded(t, t->depth);
    uint64_t stopped = 0; /* calls of events past CPROF_TRACE_MAX */
    if ((c.tokens || depth) &&
        !rt_trace_reserve((size_t)(o->pos - copy) - c.head + 16, now)) {
        /* the trace stopped (the events since this thread's last chunk
         * written may be gone): its frames stay open where it ends */
        stopped = rt_trace_count_enters(c.count_at + 5, o->pos);
        o->pos = copy + c.head;
        depth = 0;
    } else if (depth) {
        uint64_t delta = now > c.last_ts ? now - c.last_ts : 0;
        mp_uint(o, (delta << CPROF_EV_KIND_BITS) | CPROF_EV_EXT);
        mp_uint(o, CPROF_EXT_UNWIND);
        mp_uint(o, CPROF_UNWIND_END);
        mp_uint(o, depth);
        mp_patch_array32(c.count_at, c.tokens + 4);
    }
    uint8_t *buf = rt_map(RT_OUT_SIZE);
    if (buf) {
        rt_writer_write(copy, (size_t)(o->pos - copy));
        struct rt_out out;
        rt_out_begin(&out, buf);
        rt_put_lines(&out, t, now);
        rt_put_heap(&out, t);
        rt_put_thread_end(&out.o, t, depth, stopped, 0);
        rt_out_flush(&out, 1);
        rt_unmap(buf, RT_OUT_SIZE);
    } else {
        rt_put_thread_end(o, t, depth, stopped, 0);
        rt_writer_write(copy, (size_t)(o->pos - copy));
    }
    rt_unmap(copy, size);
}

/* Writes one thread's data as of time now, without changing its state: the
 * thread may still be running (exit() with other threads alive, a fatal
 * signal), or the process may go on (a failed exec rolls the file back). */
RT_NOINST void rt_writer_thread(struct rt_thread *t, uint64_t now)
{
    if (rt_config.mode == RT_MODE_TRACE)
        rt_write_trace(t, now);
    else
        rt_write_tree(t, now);
}

RT_NOINST void rt_writer_end(enum rt_end_reason why, int sig)
{
    static const char *const reasons[] = {"exit",  "signal", "exec",
                                          "flush", "killed", "live"};
    static uint8_t end[64 * 1024];
    struct mp_out o = {end, end + sizeof end, 0};
    rt_put_modules(&o);
    rt_control_put_periods(&o);
    mp_array(&o, 2);
    mp_uint(&o, CPROF_REC_END);
    struct rt_heap_process heap;
    int with_heap = rt_heap_active();
    rt_heap_process(&heap);
    int capped = rt_config.mode == RT_MODE_TRACE && rt_config.trace_max;
    uint64_t stop = capped ? rt_trace_stop_ticks() : 0;
    mp_map(&o, (why == RT_END_SIGNAL ? 7u : 6u) + (with_heap ? 6u : 0u) + (capped != 0) +
                   (stop != 0));
    mp_cstr(&o, "reason");
    mp_cstr(&o, reasons[why]);
    if (why == RT_END_SIGNAL) {
        mp_cstr(&o, "signal");
        mp_uint(&o, (uint64_t)sig);
    }
    rt_put_stat(&o, "end_ticks", rt_config.clock == RT_CLOCK_NONE ? 0 : rt_ticks());
    rt_put_stat(&o, "end_unix_ns", rt_unix_ns());
    mp_cstr(&o, "ticks_per_sec");
    mp_f64(&o, rt_ticks_per_sec());
    rt_put_stat(&o, "threads", rt_threads_seen());
    rt_put_stat(&o, "threads_lost", rt_threads_lost());
    if (with_heap) {
        struct rusage ru;
        uint64_t rss =
            getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss * 1024 : 0;
        rt_put_stat(&o, "heap_in_use", heap.in_use);
        rt_put_stat(&o, "heap_peak", heap.peak);
        rt_put_stat(&o, "heap_blocks", heap.blocks);
        rt_put_stat(&o, "peak_rss", rss);
        rt_put_stat(&o, "foreign_frees", heap.foreign_frees);
        rt_put_stat(&o, "heap_dropped", heap.dropped);
    }
    if (capped)
        rt_put_stat(&o, "trace_max", rt_config.trace_max);
    if (stop)
        rt_put_stat(&o, "trace_stop_ticks", stop);
    rt_writer_write(end, (size_t)(o.pos - end));
}
