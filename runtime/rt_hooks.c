/*
 * The hot path: __cyg_profile_func_enter/exit, which clang's
 * -finstrument-functions calls around every function of the profiled
 * program, and the rare repairs they need.
 *
 * Enter: a re-entrancy guard, one timestamp, a push of the shadow stack and
 * (summary and count modes) a step down the calling-context tree, usually
 * answered by the parent's one-entry child cache; (trace mode) two tokens
 * appended to the thread's buffer. Exit: one timestamp, a pop, an update.
 * No locks, no allocation, no libc.
 *
 * Frames that control left without an exit (longjmp, siglongjmp) are found
 * from the stack pointer: a real ancestor always sits higher on the stack
 * than its callee, so a frame at or below the current one is stale. Stale
 * frames are closed and counted (repaired_longjmp), never lost.
 */
#include <signal.h>

#include "rt_internal.h"

RT_NOINST static uintptr_t rt_sp_on_altstack(uintptr_t sp, uintptr_t *lo, uintptr_t *hi)
{
    stack_t ss;
    if (sigaltstack(NULL, &ss) != 0 || (ss.ss_flags & SS_DISABLE))
        return 0;
    *lo = (uintptr_t)ss.ss_sp;
    *hi = *lo + ss.ss_size;
    return (ss.ss_flags & SS_ONSTACK) && sp >= *lo && sp < *hi;
}

/* Closes the innermost frame at time now. calls were counted at entry. */
RT_NOINST static inline void rt_pop_frame(struct rt_thread *t, uint64_t now, int timed)
{
    struct rt_frame *f = &t->stack[--t->depth];
    if (f->node && timed) {
        uint64_t d = now > f->ts ? now - f->ts : 0;
        if (RT_UNLIKELY(t->depth < t->inherited)) {
            /* opened before fork: only the child's share of the time */
            f->node->incl += d;
            t->inherited = t->depth;
        } else {
            rt_node_record_call(f->node, d);
        }
    } else if (t->depth < t->inherited) {
        t->inherited = t->depth;
    }
}

/* Closes frames left behind by a longjmp before a new call of fn at sp from
 * site. Frames deeper than sp are stale, except that on a signal handler's
 * alternate stack only frames on that stack can be (and frames left on it
 * are stale once we are off it). A frame at the same sp is the new call's
 * host when fn was inlined into it (same site, another function), else a
 * stale sibling. Returns quickly for the inlined case, the common one. */
RT_NOINST static void rt_unwind_stale(struct rt_thread *t, uintptr_t sp, uintptr_t site,
                                      uint64_t fn, uint64_t now)
{
    uint64_t closed = 0;
    if (t->stack[t->depth - 1].sp < sp) {
        uintptr_t lo = 0, hi = 0;
        int on_alt = (int)rt_sp_on_altstack(sp, &lo, &hi);
        while (t->depth > 0) {
            uintptr_t fsp = t->stack[t->depth - 1].sp;
            int in_alt = hi > lo && fsp >= lo && fsp < hi;
            if (fsp >= sp && !(in_alt && !on_alt))
                break;
            if (on_alt && !in_alt)
                break;
            rt_pop_frame(t, now, rt_config.mode == RT_MODE_SUMMARY);
            closed++;
        }
    }
    while (t->depth > 0 && t->stack[t->depth - 1].sp == sp &&
           (t->stack[t->depth - 1].site != site || t->stack[t->depth - 1].fn == fn)) {
        rt_pop_frame(t, now, rt_config.mode == RT_MODE_SUMMARY);
        closed++;
    }
    if (!closed)
        return;
    t->stats.repaired_longjmp += closed;
    if (rt_config.mode == RT_MODE_TRACE) {
        uint64_t ops[2] = {CPROF_UNWIND_LONGJMP, closed};
        rt_trace_ext(t, now, CPROF_EXT_UNWIND, ops, 2);
    }
}

/* An exit that does not match the innermost frame. Frames below the exiting
 * function's own stack position are stale and closed; if the function is
 * still not on top it is looked for by stack position; an exit with no frame
 * at all is counted as unmatched. Returns whether the caller should pop. */
RT_NOINST static int rt_exit_mismatch(struct rt_thread *t, uint64_t fn, uintptr_t sp,
                                      uint64_t now)
{
    uint64_t closed = 0;
    while (t->depth > 0 && t->stack[t->depth - 1].sp < sp &&
           t->stack[t->depth - 1].fn != fn) {
        rt_pop_frame(t, now, rt_config.mode == RT_MODE_SUMMARY);
        closed++;
    }
    if (t->depth > 0 && t->stack[t->depth - 1].fn != fn) {
        /* e.g. a handler that left an alternate stack by siglongjmp */
        uint32_t d = t->depth;
        while (d > 0 && !(t->stack[d - 1].fn == fn && t->stack[d - 1].sp == sp))
            d--;
        while (d > 0 && t->depth > d) {
            rt_pop_frame(t, now, rt_config.mode == RT_MODE_SUMMARY);
            closed++;
        }
    }
    if (closed) {
        t->stats.repaired_longjmp += closed;
        if (rt_config.mode == RT_MODE_TRACE) {
            uint64_t ops[2] = {CPROF_UNWIND_LONGJMP, closed};
            rt_trace_ext(t, now, CPROF_EXT_UNWIND, ops, 2);
        }
    }
    if (t->depth == 0 || t->stack[t->depth - 1].fn != fn) {
        t->stats.unmatched_exits++;
        return 0;
    }
    return 1;
}

RT_NOINST static inline struct rt_thread *rt_enter_thread(void)
{
    struct rt_thread *t = rt_self;
    if (RT_UNLIKELY(t == NULL)) {
        if (!rt_ready)
            rt_process_init();
        t = rt_thread_attach();
    }
    return t;
}

/* Appends one trace token and its operand. The buffer always keeps room for
 * the largest event past tend, so the check is one compare per event. */
RT_NOINST static inline void rt_trace_put(struct rt_thread *t, uint64_t now,
                                          unsigned kind, int with_operand,
                                          uint64_t operand)
{
    uint64_t delta = now > t->last_ts ? now - t->last_ts : 0;
    t->last_ts = now;
    uint8_t *p = mp_put_uint_unchecked(t->tpos, (delta << CPROF_EV_KIND_BITS) | kind);
    t->tcount++;
    if (with_operand) {
        p = mp_put_uint_unchecked(p, operand);
        t->tcount++;
    }
    t->tpos = p;
    if (RT_UNLIKELY(p >= t->tend))
        rt_trace_flush(t);
}

RT_EXPORT RT_NOINST void __cyg_profile_func_enter(void *this_fn, void *call_site)
{
    struct rt_thread *t = rt_enter_thread();
    if (RT_UNLIKELY(t == NULL))
        return;
    if (RT_UNLIKELY(t->busy)) {
        t->stats.dropped_reentrant++;
        return;
    }
    t->busy = 1;
    RT_SIGNAL_FENCE();

    uint64_t fn = (uint64_t)(uintptr_t)this_fn;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    uint64_t now = rt_config.mode == RT_MODE_COUNT ? 0 : rt_ticks();

    uintptr_t site = (uintptr_t)call_site;
    if (RT_UNLIKELY(t->depth > 0 && t->stack[t->depth - 1].sp <= sp))
        rt_unwind_stale(t, sp, site, fn, now);
    if (RT_UNLIKELY(t->depth >= t->capacity || t->overflow)) {
        t->overflow++;
        t->stats.dropped_depth++;
        goto out;
    }
    struct rt_frame *f = &t->stack[t->depth];
    f->fn = fn;
    f->ts = now;
    f->sp = sp;
    f->site = site;
    if (rt_config.mode == RT_MODE_TRACE) {
        f->node = NULL;
        uint32_t idx =
            RT_LIKELY(fn == t->last_fn) ? t->last_idx : rt_trace_fn_index(t, fn);
        rt_trace_put(t, now, CPROF_EV_ENTER, 1, idx);
    } else {
        struct rt_node *parent = t->depth ? t->stack[t->depth - 1].node : t->root;
        struct rt_node *c = parent->last_child;
        if (RT_UNLIKELY(c == NULL || c->fn != fn)) {
            c = rt_tree_child(t, parent, fn);
            parent->last_child = c;
        }
        c->calls++;
        f->node = c;
    }
    t->depth++;
    t->stats.enters++;
    if (RT_UNLIKELY(t->depth > t->stats.max_depth))
        t->stats.max_depth = t->depth;
out:
    RT_SIGNAL_FENCE();
    t->busy = 0;
}

RT_EXPORT RT_NOINST void __cyg_profile_func_exit(void *this_fn, void *call_site)
{
    (void)call_site;
    struct rt_thread *t = rt_self;
    if (RT_UNLIKELY(t == NULL))
        return; /* no enter was recorded on this thread */
    if (RT_UNLIKELY(t->busy)) {
        t->stats.dropped_reentrant++;
        return;
    }
    t->busy = 1;
    RT_SIGNAL_FENCE();

    uint64_t fn = (uint64_t)(uintptr_t)this_fn;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    uint64_t now = rt_config.mode == RT_MODE_COUNT ? 0 : rt_ticks();

    if (RT_UNLIKELY(t->overflow)) {
        t->overflow--;
        t->stats.dropped_depth++;
        goto out;
    }
    if (RT_UNLIKELY(t->depth == 0 || t->stack[t->depth - 1].fn != fn ||
                    t->stack[t->depth - 1].sp != sp)) {
        /* a function with a variable-length array exits lower on the stack
         * than it entered: same function on top, nothing to repair */
        if (!(t->depth > 0 && t->stack[t->depth - 1].fn == fn &&
              t->stack[t->depth - 1].sp > sp) &&
            !rt_exit_mismatch(t, fn, sp, now))
            goto out;
    }
    if (rt_config.mode == RT_MODE_TRACE) {
        t->depth--;
        if (RT_UNLIKELY(t->depth < t->inherited))
            t->inherited = t->depth;
        rt_trace_put(t, now, CPROF_EV_EXIT, 0, 0);
    } else {
        rt_pop_frame(t, now, rt_config.mode == RT_MODE_SUMMARY);
    }
    t->stats.exits++;
out:
    RT_SIGNAL_FENCE();
    t->busy = 0;
}
