/*
 * The line hook, __cprof_line(site), which the line pass of cprof-cc calls
 * at every basic block start and line change of the functions it selects
 * (common/cprof_lines.h), and the per-thread line table behind it.
 *
 * Semantics, like Python's line_profiler plus self time: each open call has
 * a current line. A line event of the innermost call closes that call's
 * current line (its time gains the ticks since the line started, its self
 * time the same less the ticks spent in instrumented callees meanwhile) and
 * makes the site current with one more hit. A call's current line is also
 * closed when the call ends (exit, longjmp repair, thread or process end:
 * rt_line_frame_end), and that call's time then counts as callee time of
 * its caller's current line. So recursive activations each keep their own
 * line, and a line's time includes its callees.
 *
 * A site whose function is not the innermost open call (its enter was
 * dropped, it is not instrumented) gets its hit and no time, and is counted
 * as lines_unmatched. Count mode counts hits only and reads no clock.
 *
 * The table is per thread, mapped at the thread's first line event, fixed
 * size (a writer may read it from another thread: it never moves), open
 * addressing on the site's address. Sites past RT_LINE_MAX_USED are counted
 * under one [line limit] slot and as lines_dropped. In trace mode each site
 * gets an index on first use, defined by a LINE_SITE record that waits in a
 * small buffer and is written just before the chunk that uses it
 * (rt_trace.c, rt_records.c).
 *
 * The fast path (__cprof_line through rt_line) touches the thread's struct,
 * the innermost frame and one slot (found in the first or second place it
 * hashes to); everything else is in rt_line_slow.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt_internal.h"

static const struct cprof_line_site rt_line_limit_site = {
    (void *)(uintptr_t)CPROF_FN_NODE_LIMIT, "[line limit]", "", 0, 0};

/* Pages checked for being mapped: the last one found mapped is cached. */
struct rt_pages {
    uintptr_t size;
    uintptr_t known;
};

/* Whether the page holding p is mapped. Signal-safe. */
RT_NOINST static int rt_mapped(const void *p, struct rt_pages *pages)
{
    uintptr_t page = (uintptr_t)p & ~(pages->size - 1);
    unsigned char v;
    if (page == pages->known)
        return 1;
    if (mincore((void *)page, 1, &v) != 0)
        return 0;
    pages->known = page;
    return 1;
}

/* The length of the name at s, at most RT_LINE_STR_MAX, reading mapped
 * pages only (a NULL or unmapped name is empty). */
RT_NOINST static size_t rt_name_len(const char *s, struct rt_pages *pages)
{
    size_t len = 0;
    while (s && len < RT_LINE_STR_MAX && rt_mapped(s + len, pages)) {
        size_t room = pages->size - ((uintptr_t)(s + len) & (pages->size - 1));
        if (room > RT_LINE_STR_MAX - len)
            room = RT_LINE_STR_MAX - len;
        size_t n = strnlen(s + len, room);
        len += n;
        if (n < room)
            break;
    }
    return len;
}

RT_NOINST void rt_line_describe(const struct rt_line *l, struct rt_line_names *out)
{
    const struct cprof_line_site *site = l->site;
    struct rt_pages pages = {(uintptr_t)getpagesize(), 0};
    /* unmapped, or mapped again by something else (which the function and
     * line kept in the slot tell) */
    if (!rt_mapped(site, &pages) || !rt_mapped((const char *)(site + 1) - 1, &pages) ||
        (uint64_t)(uintptr_t)site->fn != l->fn || site->line != l->line) {
        struct rt_line_names gone = {l->fn, l->line, "", "", 0, 0};
        *out = gone;
        return;
    }
    out->fn = (uint64_t)(uintptr_t)site->fn;
    out->line = site->line;
    out->func = site->func;
    out->func_len = rt_name_len(site->func, &pages);
    out->file = site->file;
    out->file_len = rt_name_len(site->file, &pages);
    if (!out->func_len)
        out->func = "";
    if (!out->file_len)
        out->file = "";
}

/* Maps the thread's table (and in trace mode its site record buffer).
 * Returns 0 or -1. */
RT_NOINST static int rt_lines_init(struct rt_thread *t)
{
    struct rt_line *lines = rt_map(sizeof(struct rt_line) * (RT_LINE_SLOTS + 1));
    if (!lines)
        return -1;
    if (rt_config.mode == RT_MODE_TRACE) {
        t->line_defs = rt_map(RT_LINE_DEFS);
        if (!t->line_defs) {
            rt_unmap(lines, sizeof(struct rt_line) * (RT_LINE_SLOTS + 1));
            return -1;
        }
    }
    t->line_limit = &lines[RT_LINE_SLOTS];
    __atomic_store_n(&t->lines, lines, __ATOMIC_RELEASE);
    return 0;
}

/* The [line limit] slot, set up on first use. */
RT_NOINST static struct rt_line *rt_line_limit(struct rt_thread *t)
{
    struct rt_line *l = t->line_limit;
    if (!l->site) {
        l->fn = (uint64_t)(uintptr_t)rt_line_limit_site.fn;
        __atomic_store_n(&l->site, &rt_line_limit_site, __ATOMIC_RELEASE);
    }
    return l;
}

/* Trace mode: gives l the next site index and queues its LINE_SITE
 * record. When the queue is full the current chunk is written first (with
 * the records before it). */
RT_NOINST static void rt_line_define(struct rt_thread *t, struct rt_line *l)
{
    struct rt_line_names n;
    rt_line_describe(l, &n);
    if (RT_LINE_DEFS - t->line_defs_len < n.func_len + n.file_len + 64)
        rt_trace_flush(t);
    l->index = ++t->line_next_index;
    struct mp_out o = {t->line_defs + t->line_defs_len, t->line_defs + RT_LINE_DEFS, 0};
    mp_array(&o, 7);
    mp_uint(&o, CPROF_REC_LINE_SITE);
    mp_uint(&o, t->serial);
    mp_uint(&o, l->index);
    mp_uint(&o, n.fn);
    mp_str(&o, n.func, n.func_len);
    mp_str(&o, n.file, n.file_len);
    mp_uint(&o, n.line);
    __atomic_store_n(&t->line_defs_len, (uint32_t)(o.pos - t->line_defs),
                     __ATOMIC_RELEASE);
}

/* The slot of site, added on first use for function fn and line (or
 * [line limit] when the table is full; NULL without memory). Cold. */
RT_NOINST static struct rt_line *rt_line_slot_of(struct rt_thread *t,
                                                 const struct cprof_line_site *site,
                                                 uint64_t fn, uint32_t line)
{
    if (!t->lines && rt_lines_init(t) != 0)
        return NULL;
    uint32_t h = rt_line_hash(site);
    struct rt_line *l;
    for (;; h = (h + 1) & (RT_LINE_SLOTS - 1)) {
        l = &t->lines[h];
        if (l->site == site)
            return l;
        if (!l->site)
            break;
    }
    if (t->lines_used >= RT_LINE_MAX_USED) {
        t->stats.lines_dropped++;
        return rt_line_limit(t);
    }
    t->lines_used++;
    l->fn = fn;
    l->line = line;
    __atomic_store_n(&l->site, site, __ATOMIC_RELEASE);
    return l;
}

/* The slot of site, a live site of the program (rt_line_slot_of). */
RT_NOINST static struct rt_line *rt_line_slot(struct rt_thread *t,
                                              const struct cprof_line_site *site)
{
    return rt_line_slot_of(t, site, (uint64_t)(uintptr_t)site->fn, site->line);
}

RT_NOINST void rt_lines_merge(struct rt_thread *into, struct rt_thread *t, uint64_t now)
{
    struct rt_line *lines = t->lines;
    if (!lines)
        return;
    rt_lines_open_extra(t, now);
    for (uint32_t i = 0; i <= RT_LINE_SLOTS; i++) {
        const struct rt_line *l = &lines[i];
        if (!l->site || (!l->hits && !l->time && !l->open_time))
            continue;
        /* the site may be gone with its library: what the slot kept */
        struct rt_line *m =
            l == t->line_limit
                ? (into->lines || rt_lines_init(into) == 0 ? rt_line_limit(into) : NULL)
                : rt_line_slot_of(into, l->site, l->fn, l->line);
        if (!m) {
            into->stats.lines_dropped += l->hits;
            continue;
        }
        if (m == into->line_limit && l != t->line_limit) /* one counted already */
            into->stats.lines_dropped += l->hits - (l->hits != 0);
        m->hits += l->hits;
        m->time += l->time + l->open_time;
        m->self += l->self + l->open_self;
    }
}

/* Makes l the current line of frame f at now, closing f's previous one. */
RT_NOINST static inline void rt_line_switch(struct rt_frame *f, struct rt_line *l,
                                            uint64_t now)
{
    struct rt_line *old = f->line;
    if (old) {
        uint64_t spent = now > f->line_ts ? now - f->line_ts : 0;
        old->time += spent;
        old->self += spent > f->line_child ? spent - f->line_child : 0;
    }
    f->line = l;
    f->line_ts = now;
    f->line_child = 0;
}

/* Everything the fast path leaves: the first event of a thread, an event
 * inside the runtime (dropped), a site seen for the first time or not in
 * the first two places it hashes to, a site of another function than the
 * innermost call or of a call control has left (after a longjmp repair,
 * if that is why). */
__attribute__((noinline)) RT_NOINST static void
rt_line_slow(const struct cprof_line_site *site, uintptr_t sp)
{
    struct rt_thread *t = rt_self;
    if (RT_UNLIKELY(t == NULL)) {
        if (!rt_ready)
            rt_process_init();
        t = rt_thread_attach();
        if (!t)
            return;
    }
    if (RT_UNLIKELY(t->busy)) {
        t->stats.dropped_reentrant++;
        return;
    }
    t->busy = 1;
    RT_SIGNAL_FENCE();
    enum rt_mode mode = rt_config.mode;
    uint64_t now = mode == RT_MODE_COUNT ? 0 : rt_ticks();
    uint64_t fn = (uint64_t)(uintptr_t)site->fn;
    if (t->depth > 0 && t->stack[t->depth - 1].fn == fn &&
        t->stack[t->depth - 1].ts == RT_TS_OFF) {
        RT_SIGNAL_FENCE(); /* a call not recorded: nor are its lines */
        t->busy = 0;
        return;
    }
    struct rt_line *l = rt_line_slot(t, site);
    if (!l) {
        t->stats.lines_dropped++;
    } else {
        l->hits++;
        if (mode == RT_MODE_TRACE && l->index == 0)
            rt_line_define(t, l);
    }
    int matched = t->depth > 0 && !t->overflow && t->stack[t->depth - 1].fn == fn &&
                  !rt_frame_left(&t->stack[t->depth - 1], sp);
    if (!matched)
        matched = rt_line_repair(t, fn, sp, now);
    if (!matched) {
        t->stats.lines_unmatched++;
    } else if (l && mode != RT_MODE_COUNT) {
        rt_line_switch(&t->stack[t->depth - 1], l, now);
        if (mode == RT_MODE_TRACE)
            rt_trace_put(t, now, CPROF_EV_LINE, 1, l->index);
    }
    RT_SIGNAL_FENCE();
    t->busy = 0;
}

/* The hook, entered from the __cprof_line trampoline (rt_hooks.c) with the
 * stack pointer of its call. Hot path: a site in one of the first two
 * places it hashes to, hit by the innermost call. The checks come before
 * the busy flag is set, so bailing out to the slow path is free. */
RT_NOINST void rt_line(const struct cprof_line_site *site, uintptr_t sp)
{
    struct rt_thread *t = rt_self;
    if (RT_UNLIKELY(!rt_fast_ready(t) || t->lines == NULL))
        goto slow;
    uint32_t depth = t->depth;
    if (RT_UNLIKELY(depth == 0))
        goto slow;
    struct rt_frame *f = &t->stack[depth - 1];
    uint32_t h = rt_line_hash(site);
    struct rt_line *l = &t->lines[h];
    if (RT_UNLIKELY(l->site != site)) {
        l = &t->lines[(h + 1) & (RT_LINE_SLOTS - 1)]; /* one collision */
        if (l->site != site)
            goto slow;
    }
    if (RT_UNLIKELY(f->fn != (uint64_t)(uintptr_t)site->fn ||
                    f->cfa <= sp + sizeof(uintptr_t) || f->ts == RT_TS_OFF))
        goto slow; /* another function's call, one left by longjmp, or one
                      entered while recording was off */
    enum rt_mode mode = rt_config.mode;
    if (mode == RT_MODE_COUNT) {
        l->hits++; /* one add: no flag needed around it */
        return;
    }
    if (RT_UNLIKELY(mode == RT_MODE_TRACE && l->index == 0))
        goto slow;
    t->busy = 1;
    RT_SIGNAL_FENCE();
    uint64_t now = rt_ticks();
    l->hits++;
    rt_line_switch(f, l, now);
    if (mode == RT_MODE_TRACE)
        rt_trace_put(t, now, CPROF_EV_LINE, 1, l->index);
    RT_SIGNAL_FENCE();
    t->busy = 0;
    return;
slow:
    rt_line_slow(site, sp);
}

RT_NOINST void rt_lines_open_extra(struct rt_thread *t, uint64_t now)
{
    struct rt_line *lines = __atomic_load_n(&t->lines, __ATOMIC_ACQUIRE);
    if (!lines)
        return;
    for (uint32_t i = 0; i <= RT_LINE_SLOTS; i++) {
        if (__atomic_load_n(&lines[i].site, __ATOMIC_ACQUIRE)) {
            lines[i].open_time = 0;
            lines[i].open_self = 0;
        }
    }
    if (rt_config.mode == RT_MODE_COUNT)
        return;
    uint32_t depth = t->depth;
    for (uint32_t i = 0; i < depth; i++) {
        const struct rt_frame *f = &t->stack[i];
        struct rt_line *l = f->line;
        if (!l)
            continue;
        uint64_t spent = now > f->line_ts ? now - f->line_ts : 0, child = f->line_child;
        if (i + 1 < depth) {
            uint64_t from = rt_frame_start(t, i + 1);
            child += now > from ? now - from : 0;
        }
        l->open_time += spent;
        l->open_self += spent > child ? spent - child : 0;
    }
}

/* After fork: none of the parent's counts; the lines the inherited calls
 * are on stay current, timed from the fork. Trace mode: the child's file
 * defines its own site indexes. */
RT_NOINST void rt_lines_zero(struct rt_thread *t, int with_index)
{
    if (!t->lines)
        return;
    for (uint32_t i = 0; i <= RT_LINE_SLOTS; i++) {
        struct rt_line *l = &t->lines[i];
        if (!l->site)
            continue; /* untouched: keep its page unmapped */
        l->hits = 0;
        l->time = 0;
        l->self = 0;
        if (with_index)
            l->index = 0;
    }
}

RT_NOINST void rt_lines_after_fork(struct rt_thread *t, uint64_t now)
{
    t->fork_ticks = now;
    if (!t->lines)
        return;
    rt_lines_zero(t, 1);
    t->line_next_index = 0;
    t->line_defs_len = 0;
    for (uint32_t i = 0; i < t->depth; i++) {
        t->stack[i].line_ts = now;
        t->stack[i].line_child = 0;
    }
}

RT_NOINST void rt_lines_release(struct rt_thread *t)
{
    if (t->lines)
        rt_unmap(t->lines, sizeof(struct rt_line) * (RT_LINE_SLOTS + 1));
    if (t->line_defs)
        rt_unmap(t->line_defs, RT_LINE_DEFS);
    t->lines = NULL;
    t->line_defs = NULL;
}
