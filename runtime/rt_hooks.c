/*
 * The hot path: __cyg_profile_func_enter/exit, which clang's
 * -finstrument-functions calls around every function of the profiled
 * program, and the rare repairs they need.
 *
 * Enter: a re-entrancy guard, one timestamp, a push of the shadow stack and
 * (summary and count modes) a step down the calling-context tree, usually
 * answered by the parent's last child or else the thread's child cache
 * (rt_tree_cached); (trace mode) two tokens appended to the thread's
 * buffer. Exit: one timestamp, a pop, an update.
 * No locks, no allocation, no libc; everything rare (first call on a thread,
 * repairs, a full buffer) is out of line so the common path stays short.
 *
 * On x86-64 the exported hooks are two-instruction trampolines that hand
 * the caller's stack pointer to the C code, so no frame pointer is needed.
 * Frames that control left without an exit (longjmp, siglongjmp) are found
 * from it: a real ancestor's call frame always sits higher on the stack than
 * its callee's, so a frame no higher than a new call's is stale. What is
 * compared is each call's canonical frame address (where its return address
 * lies, found once per function and cached), not the hook's own stack
 * pointer, which also depends on the function's frame size. Stale frames are
 * closed and counted (repaired_longjmp), never lost. Count mode's fast enter
 * (shared runtime) leaves the frame address to be found later, when a slow
 * path needs it (RT_LAZY_CFA, rt_frames_resolve), and learns of jumps from
 * the interposed longjmp family instead (rt_jump.c).
 *
 * The line hook __cprof_line (rt_lines.c) is entered through a trampoline
 * here too, so that a line event after a longjmp can close the frames the
 * jump left (rt_line_repair); frames closed anywhere close their current
 * line (rt_line_frame_end).
 */
#include <signal.h>

#include "rt_internal.h"

#define RT_COLD __attribute__((cold, noinline))

RT_HIDDEN void rt_enter(void *this_fn, void *call_site, uintptr_t sp, uintptr_t bp);
RT_HIDDEN void rt_exit(void *this_fn, void *call_site, uintptr_t sp);
RT_HIDDEN void rt_line(const struct cprof_line_site *site, uintptr_t sp);

#if defined(__x86_64__)
/* sp is the caller's stack pointer less the return address: the same
 * distance below the instrumented function's frame for both hooks. The
 * enter hook also passes rbp, which unwind tables may define the caller's
 * frame by. Each hook also has a hidden name (rt_hook_*) that the
 * runtime's own calls use, which a program defining the hook itself does
 * not take over. */
__asm__(".text\n"
        ".globl rt_hook_enter\n"
        ".hidden rt_hook_enter\n"
        ".type rt_hook_enter, @function\n"
        ".globl __cyg_profile_func_enter\n"
        ".type __cyg_profile_func_enter, @function\n"
        "rt_hook_enter:\n"
        "__cyg_profile_func_enter:\n"
        "    movq %rsp, %rdx\n"
        "    movq %rbp, %rcx\n"
        "    jmp rt_enter\n"
        ".size __cyg_profile_func_enter, .-__cyg_profile_func_enter\n"
        ".size rt_hook_enter, .-rt_hook_enter\n"
        ".globl rt_hook_exit\n"
        ".hidden rt_hook_exit\n"
        ".type rt_hook_exit, @function\n"
        ".globl __cyg_profile_func_exit\n"
        ".type __cyg_profile_func_exit, @function\n"
        "rt_hook_exit:\n"
        "__cyg_profile_func_exit:\n"
        "    movq %rsp, %rdx\n"
        "    jmp rt_exit\n"
        ".size __cyg_profile_func_exit, .-__cyg_profile_func_exit\n"
        ".size rt_hook_exit, .-rt_hook_exit\n"
        ".globl rt_hook_line\n"
        ".hidden rt_hook_line\n"
        ".type rt_hook_line, @function\n"
        ".globl __cprof_line\n"
        ".type __cprof_line, @function\n"
        "rt_hook_line:\n"
        "__cprof_line:\n"
        "    movq %rsp, %rsi\n"
        "    jmp rt_line\n"
        ".size __cprof_line, .-__cprof_line\n"
        ".size rt_hook_line, .-rt_hook_line\n");
#else
RT_EXPORT RT_NOINST void __cyg_profile_func_enter(void *this_fn, void *call_site)
{
    rt_enter(this_fn, call_site, (uintptr_t)__builtin_frame_address(0), 0);
}

RT_EXPORT RT_NOINST void __cyg_profile_func_exit(void *this_fn, void *call_site)
{
    rt_exit(this_fn, call_site, (uintptr_t)__builtin_frame_address(0));
}

RT_EXPORT RT_NOINST void __cprof_line(const struct cprof_line_site *site)
{
    rt_line(site, 0); /* no stack pointer: no longjmp repair at line events */
}

void rt_hook_enter(void *this_fn, void *call_site)
    __attribute__((alias("__cyg_profile_func_enter")));
void rt_hook_exit(void *this_fn, void *call_site)
    __attribute__((alias("__cyg_profile_func_exit")));
void rt_hook_line(const struct cprof_line_site *site)
    __attribute__((alias("__cprof_line")));
#endif

RT_NOINST static int rt_sp_on_altstack(uintptr_t sp, uintptr_t *lo, uintptr_t *hi)
{
    stack_t ss;
    if (sigaltstack(NULL, &ss) != 0 || (ss.ss_flags & SS_DISABLE))
        return 0;
    *lo = (uintptr_t)ss.ss_sp;
    *hi = *lo + ss.ss_size;
    return (ss.ss_flags & SS_ONSTACK) && sp >= *lo && sp < *hi;
}

/* Closes the innermost frame at time now as a completed call (summary
 * mode), or just pops it (count and trace modes). calls were counted at
 * entry. A frame opened before fork adds only the child's share of its time
 * and is not a completed call of the child's. A call past the node limit
 * made by another such call shares its caller's node (rt_tree_child), whose
 * time already covers it: it adds nothing; so does a call entered while
 * recording was off (RT_TS_OFF: its node is its caller's, or the root's,
 * which is never written). cpu: CPROF_CPU=1 (its node gains the call's
 * off-CPU time), a constant where the hot path inlines it. */
__attribute__((always_inline)) RT_NOINST static inline void
rt_pop_frame_as(struct rt_thread *t, uint64_t now, int cpu)
{
    if (rt_config.mode != RT_MODE_COUNT)
        rt_line_frame_end(t, t->depth - 1, now);
    struct rt_frame *f = &t->stack[--t->depth];
    if (RT_UNLIKELY(t->depth < t->inherited)) {
        t->inherited = t->depth;
        if (f->node && rt_config.mode == RT_MODE_SUMMARY) {
            f->node->incl += now > f->ts ? now - f->ts : 0;
            if (cpu)
                f->node->off_cpu += t->off_cpu - t->cpu_stack[t->depth];
        }
        return;
    }
    if (rt_config.mode == RT_MODE_SUMMARY &&
        RT_LIKELY(t->depth == 0 || t->stack[t->depth - 1].node != f->node)) {
        rt_node_record_call(t, f->node, now > f->ts ? now - f->ts : 0);
        if (cpu)
            f->node->off_cpu += t->off_cpu - t->cpu_stack[t->depth];
    }
}

RT_NOINST static inline void rt_pop_frame(struct rt_thread *t, uint64_t now)
{
    rt_pop_frame_as(t, now, rt_config.cpu);
}

/* rt_pop_frame for the repairs (cold): returns 1 when the frame closed
 * was a recorded call (not entered while recording was off), which is
 * what the repair counts and the trace's EXT_UNWIND say. */
RT_NOINST static int rt_pop_counted(struct rt_thread *t, uint64_t now)
{
    int recorded = t->stack[t->depth - 1].ts != RT_TS_OFF;
    rt_pop_frame(t, now);
    return recorded;
}

RT_COLD static void rt_note_repair(struct rt_thread *t, uint64_t closed, uint64_t now)
{
    t->stats.repaired_longjmp += closed;
    if (rt_config.mode == RT_MODE_TRACE) {
        uint64_t ops[2] = {CPROF_UNWIND_LONGJMP, closed};
        rt_trace_ext(t, now, CPROF_EXT_UNWIND, ops, 2);
    }
}

/* The canonical frame address of the call whose enter hook has frame
 * address sp (and rbp bp) and whose return address is site, when the rule
 * for the hook's place is in the first slot it hashes to and holds; 0
 * otherwise (rt_cfa_find, cold, then looks further). Hot path. */
RT_NOINST static inline uintptr_t rt_cfa_cached(uintptr_t sp, uintptr_t bp,
                                                uintptr_t site)
{
#if defined(__x86_64__)
    uintptr_t pc = *(const uintptr_t *)sp; /* the hook's return address */
    const struct rt_cfa_entry *e = &rt_cfa_table[rt_cfa_hash(pc) & (RT_CFA_ENTRIES - 1)];
    if (RT_LIKELY(__atomic_load_n(&e->pc, __ATOMIC_ACQUIRE) == pc)) {
        uint64_t rule = __atomic_load_n(&e->rule, __ATOMIC_ACQUIRE);
        return rule == RT_CFA_NONE ? RT_CFA_UNKNOWN : rt_cfa_apply(rule, sp, bp, site);
    }
    return 0;
#else
    (void)bp;
    (void)site;
    return sp; /* no trampoline: hook frame addresses stand in */
#endif
}

/* Where the call whose frame address is cfa (RT_CFA_UNKNOWN for code
 * without unwind tables) and whose hook has frame address sp stands when
 * compared with the frames on the stack: its frame address, or when that
 * is unknown the lowest it can be, sp + 16 (its return address and the
 * hook's lie above sp): a frame no higher is surely stale. */
RT_NOINST static inline uintptr_t rt_cfa_at(uintptr_t cfa, uintptr_t sp)
{
    return cfa != RT_CFA_UNKNOWN ? cfa : sp + 2 * sizeof(uintptr_t);
}

/* What the frame of that call keeps: its frame address, or when that is
 * unknown a bound. While the function runs, every call it makes has a
 * frame address no higher than sp + 8 (its calls start where its hook call
 * did, or lower), so a new call whose frame address is higher cannot be its
 * descendant. sp + 15 compares that way and, being odd, never equals a
 * real frame address. */
RT_NOINST static inline uintptr_t rt_cfa_kept(uintptr_t cfa, uintptr_t sp)
{
    return cfa != RT_CFA_UNKNOWN ? cfa : sp + 2 * sizeof(uintptr_t) - 1;
}

/* Does an exit of fn close frame f, with nothing to repair? When f is a
 * call of fn, at whatever stack address: a function that moved its stack
 * pointer down after its entry (a variable-length array, alloca) exits
 * lower than it entered, and at -O2 clang calls the exit hook of some
 * functions after their epilogue has begun, higher (seen in Lua). The
 * stack address tells stale frames at the next enter, not here
 * (rt_exit_mismatch also closes the innermost frame of fn whatever its
 * address). Not a frame entered while recording was off (odd sp), whose
 * exit goes to rt_exit_mismatch. Hot path. */
RT_NOINST static inline int rt_exit_matches(const struct rt_frame *f, uint64_t fn)
{
    return f->fn == fn && !(f->sp & 1);
}

/* Can a frame whose position is only bounded be the host of a function
 * inlined into it (same return address, another function), which shares
 * its frame? Then it is not stale, whatever the bound says. */
RT_NOINST static inline int rt_may_host(const struct rt_frame *f, uintptr_t site,
                                        uint64_t fn)
{
    return (f->cfa & 1) && f->site == site && f->fn != fn;
}

/* Can the innermost frame up be stale for a new call of fn at cfa from
 * site? Not when the call is deeper, nor when it is a function inlined into
 * up (same physical frame and return address, another function): the
 * common case at -O2, kept off the cold path. Hot path. */
RT_NOINST static inline int rt_maybe_stale(const struct rt_frame *up, uintptr_t cfa,
                                           uintptr_t site, uint64_t fn)
{
    if (RT_LIKELY(up->cfa > cfa))
        return 0;
    if (up->cfa != cfa)
        return !rt_may_host(up, site, fn);
    return up->site != site || up->fn == fn;
}

/* Closes frames left behind by a longjmp before a new call of fn at cfa
 * (hook frame address sp) from site. Frames deeper than cfa are stale,
 * except that on a signal handler's alternate stack only frames on that
 * stack can be (and frames left on it are stale once we are off it). A
 * frame at the same cfa is the new call's host when fn was inlined into it
 * (same site, another function; a function is never inlined into itself),
 * else a stale sibling. */
RT_COLD static void rt_unwind_stale(struct rt_thread *t, uintptr_t sp, uintptr_t cfa,
                                    uintptr_t site, uint64_t fn, uint64_t now)
{
    uint64_t closed = 0;
    if (t->stack[t->depth - 1].cfa < cfa) {
        uintptr_t lo = 0, hi = 0;
        int on_alt = rt_sp_on_altstack(sp, &lo, &hi);
        while (t->depth > 0) {
            uintptr_t fcfa = t->stack[t->depth - 1].cfa;
            int in_alt = hi > lo && fcfa > lo && fcfa <= hi;
            if (fcfa >= cfa && !(in_alt && !on_alt))
                break;
            if (rt_may_host(&t->stack[t->depth - 1], site, fn))
                break;
            if (on_alt && !in_alt)
                break;
            closed += rt_pop_counted(t, now);
        }
    }
    while (t->depth > 0 && t->stack[t->depth - 1].cfa == cfa &&
           (t->stack[t->depth - 1].site != site || t->stack[t->depth - 1].fn == fn)) {
        closed += rt_pop_counted(t, now);
    }
    if (closed)
        rt_note_repair(t, closed, now);
}

/* Pops the innermost frame, entered while recording was off: nothing
 * recorded, no event. Returns 0 (the caller has nothing left to pop). */
RT_COLD static int rt_exit_off(struct rt_thread *t, uint64_t now)
{
    rt_pop_frame(t, now);
    return 0;
}

/* An exit that does not match the innermost frame. A function with a
 * variable-length array exits lower on the stack than it entered: same
 * function on top, nothing to repair. Otherwise frames deeper than the
 * exiting function are stale and closed; if it is still not on top it is
 * looked for by stack position (a handler that left an alternate stack by
 * siglongjmp); an exit with no frame at all is counted as unmatched. A
 * frame entered while recording was off keeps an odd sp, so its exit
 * always comes here, off the hot path, and is popped here without a
 * trace. Returns whether the caller should pop the top frame. */
RT_COLD static int rt_exit_mismatch(struct rt_thread *t, uint64_t fn, uintptr_t sp,
                                    uint64_t now)
{
    if (t->depth > 0 && t->stack[t->depth - 1].fn == fn && t->stack[t->depth - 1].sp > sp)
        return t->stack[t->depth - 1].sp & 1 ? rt_exit_off(t, now) : 1;
    uint64_t closed = 0;
    while (t->depth > 0 && t->stack[t->depth - 1].sp < sp &&
           t->stack[t->depth - 1].fn != fn) {
        closed += rt_pop_counted(t, now);
    }
    if (t->depth > 0 && t->stack[t->depth - 1].fn != fn) {
        uint32_t d = t->depth;
        while (d > 0 &&
               !(t->stack[d - 1].fn == fn && (t->stack[d - 1].sp | 1) == (sp | 1)))
            d--;
        while (d > 0 && t->depth > d) {
            closed += rt_pop_counted(t, now);
        }
    }
    if (closed)
        rt_note_repair(t, closed, now);
    if (t->depth == 0 || t->stack[t->depth - 1].fn != fn) {
        t->stats.unmatched_exits++;
        return 0;
    }
    return t->stack[t->depth - 1].sp & 1 ? rt_exit_off(t, now) : 1;
}

/* Finds the frame address of each frame count mode's fast enter pushed
 * with only a bound (pc set): they are the innermost ones, since every
 * other push comes after this. A frame with no rule keeps its bound. */
RT_COLD static void rt_frames_find(struct rt_thread *t)
{
    for (uint32_t d = t->depth; d > 0 && t->stack[d - 1].pc; d--) {
        struct rt_frame *f = &t->stack[d - 1];
        uintptr_t cfa = rt_cfa_resolve(f->pc, f->sp, f->bp);
        if (cfa != RT_CFA_UNKNOWN)
            f->cfa = cfa;
        f->pc = 0;
    }
}

/* Every frame address on t's shadow stack found, before a slow path in
 * mode compares them (busy set). Only count mode pushes frames without
 * one: in the others this costs nothing (summary mode's calls all come
 * through here). */
RT_NOINST static inline void rt_frames_resolve(struct rt_thread *t, enum rt_mode mode)
{
    if (RT_LAZY_CFA && mode == RT_MODE_COUNT && t->depth > 0 &&
        RT_UNLIKELY(t->stack[t->depth - 1].pc))
        rt_frames_find(t);
}

/* A line event of fn whose hook ran with stack pointer sp (its return
 * address lies at sp) found another call innermost, or one that control has
 * left: a frame whose frame address is no higher than the stack pointer fn
 * had at the hook call lies below it and was left without an exit
 * (longjmp). If the innermost frame not left is a call of fn, the frames
 * above it are closed, as at a call or return, and fn's call is innermost.
 * Otherwise (fn's enter was dropped, or fn is not instrumented) nothing
 * changes. Frames whose frame address is only bounded (no unwind tables)
 * are never taken as left. Returns whether fn's call is now innermost. */
RT_COLD int rt_line_repair(struct rt_thread *t, uint64_t fn, uintptr_t sp, uint64_t now)
{
    if (!sp || t->overflow)
        return 0;
    rt_frames_resolve(t, rt_config.mode);
    uint32_t d = t->depth;
    while (d > 0 && rt_frame_left(&t->stack[d - 1], sp))
        d--;
    if (d == 0 || d == t->depth || t->stack[d - 1].fn != fn)
        return 0;
    if (rt_config.cpu)
        rt_cpu_update(t);
    uint64_t closed = 0;
    while (t->depth > d)
        closed += rt_pop_counted(t, now);
    if (closed)
        rt_note_repair(t, closed, now);
    return 1;
}

/* The first event on a thread (or before the process was set up). */
RT_COLD static struct rt_thread *rt_first_event(void)
{
    if (!rt_ready)
        rt_process_init();
    return rt_thread_attach();
}

RT_COLD static void rt_enter_deep(struct rt_thread *t)
{
    t->overflow++;
    t->stats.dropped_depth++;
}

/* Marks t as inside the runtime, or counts the event as dropped when it
 * already is (a signal handler interrupted a hook). */
RT_NOINST static inline int rt_hook_begin(struct rt_thread *t)
{
    if (RT_UNLIKELY(t->busy)) {
        t->stats.dropped_reentrant++;
        return 0;
    }
    t->busy = 1;
    RT_SIGNAL_FENCE();
    return 1;
}

/* Fills in a frame for a call of fn entered at ts, hook frame address sp,
 * keeping cfa, from site. Hot path. Not pc, which only count mode reads
 * (rt_frame_eager). */
__attribute__((always_inline)) RT_NOINST static inline void
rt_frame_fill(struct rt_frame *f, uint64_t fn, uint64_t ts, uintptr_t sp, uintptr_t cfa,
              uintptr_t site)
{
    f->fn = fn;
    f->ts = ts;
    f->sp = sp;
    f->cfa = cfa;
    f->site = site;
    f->line = NULL;
}

/* Marks f, filled in by a slow path in mode, as holding its frame address:
 * in count mode the slot may hold the pc of a frame count mode's fast
 * enter pushed there before. */
RT_NOINST static inline void rt_frame_eager(struct rt_frame *f, enum rt_mode mode)
{
    if (RT_LAZY_CFA && mode == RT_MODE_COUNT)
        f->pc = 0;
}

/* Pushes a call of fn as the innermost frame, recorded (tree node or
 * ENTER event) unless recording is off; cfa is what the frame keeps. A
 * frame entered while off keeps an odd sp: its exit never matches on the
 * hot path (rt_exit_mismatch pops it). */
RT_COLD static void rt_push_frame(struct rt_thread *t, uint64_t fn, uintptr_t site,
                                  uintptr_t sp, uintptr_t cfa, uint64_t now, int off)
{
    enum rt_mode mode = rt_config.mode;
    uint32_t depth = t->depth;
    struct rt_frame *f = &t->stack[depth];
    rt_frame_fill(f, fn, off ? RT_TS_OFF : now, off ? sp | 1 : sp, cfa, site);
    rt_frame_eager(f, mode);
    if (rt_config.cpu)
        t->cpu_stack[depth] = t->off_cpu;
    if (off) {
        f->node =
            depth ? t->stack[depth - 1].node : (mode == RT_MODE_TRACE ? NULL : t->root);
    } else if (mode == RT_MODE_TRACE) {
        f->node = NULL;
        rt_trace_put(t, now, CPROF_EV_ENTER, 1, rt_trace_fn_index(t, fn));
    } else {
        struct rt_node *parent = depth ? t->stack[depth - 1].node : t->root;
        struct rt_node *c = rt_tree_child_cached(t, parent, fn);
        c->calls++;
        f->node = c;
    }
    t->depth = depth + 1;
}

/* An enter that found no room: the shadow stack is full, or the thread's
 * capacity is 0 because control changed (rt_control.c sets it so, which
 * costs the hot path nothing): then the thread catches up and the call is
 * pushed, recorded or not. */
RT_COLD static void rt_enter_special(struct rt_thread *t, uint64_t fn, uintptr_t site,
                                     uintptr_t sp, uintptr_t cfa, uint64_t now)
{
    int off = 0;
    if (__atomic_load_n(&t->capacity, __ATOMIC_RELAXED) == 0)
        off = rt_control_sync(t, now);
    if (t->depth >= rt_config.max_depth || t->overflow) {
        rt_enter_deep(t);
        return;
    }
    rt_push_frame(t, fn, site, sp, cfa, now, off);
}

/* The enter hook's full version; cpu: CPROF_CPU=1 (a constant: each
 * way has its own copy, rt_enter_slow and rt_enter_cpu, so the default
 * mode pays nothing for CPU time). */
__attribute__((always_inline)) RT_NOINST static inline void
rt_enter_as(void *this_fn, void *call_site, uintptr_t sp, uintptr_t bp, int cpu)
{
    struct rt_thread *t = rt_self;
    if (RT_UNLIKELY(t == NULL)) {
        t = rt_first_event();
        if (!t)
            return;
    }
    if (RT_UNLIKELY(!rt_hook_begin(t)))
        return;

    uint64_t fn = (uint64_t)(uintptr_t)this_fn;
    uintptr_t site = (uintptr_t)call_site;
    enum rt_mode mode = rt_config.mode;
    if (cpu)
        rt_cpu_update(t);
    uint64_t now = mode == RT_MODE_COUNT ? 0 : rt_ticks();
    uintptr_t cfa = rt_cfa_cached(sp, bp, site);
    if (RT_UNLIKELY(cfa == 0))
        cfa = rt_cfa_find(sp, bp, site);
    uintptr_t at = rt_cfa_at(cfa, sp);
    rt_frames_resolve(t, mode);
    uint32_t depth = t->depth;
    if (RT_UNLIKELY(depth > 0 && rt_maybe_stale(&t->stack[depth - 1], at, site, fn))) {
        rt_unwind_stale(t, sp, at, site, fn, now);
        depth = t->depth;
    }
    if (RT_UNLIKELY(depth >= t->capacity || t->overflow)) {
        rt_enter_special(t, fn, site, sp, rt_cfa_kept(cfa, sp), now);
    } else {
        struct rt_frame *f = &t->stack[depth];
        rt_frame_fill(f, fn, now, sp, rt_cfa_kept(cfa, sp), site);
        rt_frame_eager(f, mode);
        if (cpu)
            t->cpu_stack[depth] = t->off_cpu;
        if (mode == RT_MODE_TRACE) {
            f->node = NULL;
            uint32_t idx =
                RT_LIKELY(fn == t->last_fn) ? t->last_idx : rt_trace_fn_index(t, fn);
            rt_trace_put(t, now, CPROF_EV_ENTER, 1, idx);
        } else {
            struct rt_node *parent = depth ? t->stack[depth - 1].node : t->root;
            struct rt_node *c = rt_tree_cached(t, parent, fn);
            if (RT_UNLIKELY(c == NULL))
                c = rt_tree_child_cached(t, parent, fn);
            c->calls++;
            f->node = c;
        }
        t->depth = depth + 1;
    }
    RT_SIGNAL_FENCE();
    t->busy = 0;
}

__attribute__((noinline)) RT_NOINST static void
rt_enter_slow(void *this_fn, void *call_site, uintptr_t sp, uintptr_t bp)
{
    rt_enter_as(this_fn, call_site, sp, bp, 0);
}

__attribute__((noinline)) RT_NOINST static void
rt_enter_cpu(void *this_fn, void *call_site, uintptr_t sp, uintptr_t bp)
{
    rt_enter_as(this_fn, call_site, sp, bp, 1);
}

/* The exit hook's full version; cpu as for rt_enter_as. */
__attribute__((always_inline)) RT_NOINST static inline void
rt_exit_as(void *this_fn, void *call_site, uintptr_t sp, int cpu)
{
    (void)call_site;
    struct rt_thread *t = rt_self;
    if (RT_UNLIKELY(t == NULL))
        return; /* no enter was recorded on this thread */
    if (RT_UNLIKELY(!rt_hook_begin(t)))
        return;

    uint64_t fn = (uint64_t)(uintptr_t)this_fn;
    enum rt_mode mode = rt_config.mode;
    if (cpu)
        rt_cpu_update(t);
    uint64_t now = mode == RT_MODE_COUNT ? 0 : rt_ticks();
    if (RT_UNLIKELY(t->overflow)) {
        t->overflow--; /* the call was counted as dropped at its entry */
    } else if (RT_LIKELY(t->depth > 0 && rt_exit_matches(&t->stack[t->depth - 1], fn)) ||
               rt_exit_mismatch(t, fn, sp, now)) {
        if (mode == RT_MODE_TRACE) {
            rt_line_frame_end(t, t->depth - 1, now);
            if (RT_UNLIKELY(--t->depth < t->inherited))
                t->inherited = t->depth;
            rt_trace_put(t, now, CPROF_EV_EXIT, 0, 0);
        } else {
            rt_pop_frame_as(t, now, cpu);
        }
    }
    RT_SIGNAL_FENCE();
    t->busy = 0;
}

__attribute__((noinline)) RT_NOINST static void
rt_exit_slow(void *this_fn, void *call_site, uintptr_t sp)
{
    rt_exit_as(this_fn, call_site, sp, 0);
}

__attribute__((noinline)) RT_NOINST static void rt_exit_cpu(void *this_fn,
                                                            void *call_site, uintptr_t sp)
{
    rt_exit_as(this_fn, call_site, sp, 1);
}

/*
 * The fast paths: a call that needs no repair, and an exit that matches
 * the innermost frame. They touch only the thread's struct, the frame and
 * the node (count mode) or the trace buffer (trace mode), and so need no
 * stack frame of their own (the full versions above save six registers).
 * Checks come before the busy flag is set, so bailing out to the full
 * version is free. Count mode's enter also needs its node to be in the
 * child caches (rt_tree_cached), and with RT_LAZY_CFA finds no frame
 * address: the frame keeps a bound (rt_cfa_kept's for an unknown one), the
 * hook's return address and rbp, and the call must run lower on the stack
 * than the innermost frame (rt_lazy_child); finding and checking the
 * address was 1.1 ns of its 5.4 on Lua (docs/PERFORMANCE.md, "Count mode
 * under 5 ns"). A jump sends the thread's next enter to the full version
 * (rt_jump.c), which finds the addresses first. Trace mode's hooks need
 * the clock to be the TSC (read first thing, so that its latency overlaps
 * the checks). Summary mode measured faster through the full versions
 * (bench/overhead.sh: 28 ns/call against 30), where the clock reads sit
 * earlier, so it does not use these. rt_fast_path: enum rt_fast.
 */
int rt_fast_path;

/* The checks every fast enter makes first: the thread can take it
 * (rt_fast_ready) and has room for one more frame. Returns whether it
 * can; *depth: the frames in use. Hot path. */
__attribute__((always_inline)) RT_NOINST static inline int
rt_enter_fast_room(const struct rt_thread *t, uint32_t *depth)
{
    if (RT_UNLIKELY(!rt_fast_ready(t)))
        return 0;
    uint32_t d = t->depth;
    if (RT_UNLIKELY(d >= t->capacity))
        return 0;
    *depth = d;
    return 1;
}

/* The checks a fast enter that finds its frame address makes: those of
 * rt_enter_fast_room, the new call's frame address is in the rule table's
 * first slot, and the innermost frame is not stale. Returns that frame
 * address (*depth: the frames in use), or 0 to leave the call to the full
 * version. Hot path. */
__attribute__((always_inline)) RT_NOINST static inline uintptr_t
rt_enter_fast_cfa(const struct rt_thread *t, uint64_t fn, uintptr_t site, uintptr_t sp,
                  uintptr_t bp, uint32_t *depth)
{
    uint32_t d;
    if (!rt_enter_fast_room(t, &d))
        return 0;
    uintptr_t cfa = rt_cfa_cached(sp, bp, site);
    if (RT_UNLIKELY(cfa == 0))
        return 0;
    if (d && RT_UNLIKELY(rt_maybe_stale(&t->stack[d - 1], rt_cfa_at(cfa, sp), site, fn)))
        return 0;
    *depth = d;
    return cfa;
}

/* The checks every fast exit makes: the thread is set up, not inside the
 * runtime, has no call past its capacity, and its innermost frame is a
 * call of fn opened since the last fork. Returns the frames in use, or 0
 * to leave the exit to the full version. Hot path. */
__attribute__((always_inline)) RT_NOINST static inline uint32_t
rt_exit_fast_depth(const struct rt_thread *t, uint64_t fn)
{
    if (RT_UNLIKELY(!rt_fast_ready(t)))
        return 0;
    uint32_t depth = t->depth;
    if (RT_UNLIKELY(depth == 0 || depth - 1 < t->inherited))
        return 0;
    if (RT_UNLIKELY(!rt_exit_matches(&t->stack[depth - 1], fn)))
        return 0;
    return depth;
}

#if RT_LAZY_CFA
/* May count mode's fast enter push a call of fn from site, whose enter
 * hook has frame address sp, above frame up without finding its frame
 * address? When its hook runs lower on the stack than up's did (a
 * callee's always does), or at the same place from the same return address
 * as a function inlined into up (sharing its frame). A call that is not
 * is no callee of up, which was left without an exit: the full version
 * resolves and compares the frames (rt_unwind_stale). Hot path. */
__attribute__((always_inline)) RT_NOINST static inline int
rt_lazy_child(const struct rt_frame *up, uintptr_t sp, uintptr_t site, uint64_t fn)
{
    return sp < up->sp || (sp == up->sp && up->site == site && up->fn != fn);
}
#endif

/* Trace mode's enter: returns 0 to leave the call to the full version. */
__attribute__((always_inline)) RT_NOINST static inline int
rt_enter_trace_fast(struct rt_thread *t, uint64_t fn, uintptr_t site, uintptr_t sp,
                    uintptr_t bp)
{
#if defined(__x86_64__)
    uint64_t now = __builtin_ia32_rdtsc();
    uint32_t depth;
    uintptr_t cfa = rt_enter_fast_cfa(t, fn, site, sp, bp, &depth);
    if (RT_UNLIKELY(cfa == 0))
        return 0;
    t->busy = 1;
    RT_SIGNAL_FENCE();
    struct rt_frame *f = &t->stack[depth];
    rt_frame_fill(f, fn, now, sp, rt_cfa_kept(cfa, sp), site);
    f->node = NULL;
    uint32_t idx = RT_LIKELY(fn == t->last_fn) ? t->last_idx : rt_trace_fn_index(t, fn);
    rt_trace_put(t, now, CPROF_EV_ENTER, 1, idx);
    t->depth = depth + 1;
    RT_SIGNAL_FENCE();
    t->busy = 0;
    return 1;
#else
    (void)t, (void)fn, (void)site, (void)sp, (void)bp;
    return 0;
#endif
}

/* Trace mode's exit: returns 0 to leave the exit to the full version. */
__attribute__((always_inline)) RT_NOINST static inline int
rt_exit_trace_fast(struct rt_thread *t, uint64_t fn)
{
#if defined(__x86_64__)
    uint64_t now = __builtin_ia32_rdtsc();
    uint32_t depth = rt_exit_fast_depth(t, fn);
    if (RT_UNLIKELY(depth == 0))
        return 0;
    t->busy = 1;
    RT_SIGNAL_FENCE();
    rt_line_frame_end(t, depth - 1, now);
    t->depth = depth - 1;
    rt_trace_put(t, now, CPROF_EV_EXIT, 0, 0);
    RT_SIGNAL_FENCE();
    t->busy = 0;
    return 1;
#else
    (void)t, (void)fn;
    return 0;
#endif
}

RT_NOINST void rt_enter(void *this_fn, void *call_site, uintptr_t sp, uintptr_t bp)
{
    struct rt_thread *t = rt_self;
    uint64_t fn = (uint64_t)(uintptr_t)this_fn;
    if (rt_fast_path == RT_FAST_TRACE) {
        if (RT_LIKELY(rt_enter_trace_fast(t, fn, (uintptr_t)call_site, sp, bp)))
            return;
        goto slow;
    }
    if (RT_UNLIKELY(rt_fast_path != RT_FAST_COUNT))
        goto slow;
#if RT_LAZY_CFA
    uintptr_t pc = *(const uintptr_t *)sp; /* the hook's return address */
    uint32_t depth;
    if (!rt_enter_fast_room(t, &depth) || RT_UNLIKELY(depth == 0))
        goto slow;
    const struct rt_frame *up = &t->stack[depth - 1];
    if (RT_UNLIKELY(!rt_lazy_child(up, sp, (uintptr_t)call_site, fn)))
        goto slow;
    struct rt_node *c = rt_tree_cached(t, up->node, fn);
    if (RT_UNLIKELY(c == NULL))
        goto slow;
    t->busy = 1;
    RT_SIGNAL_FENCE();
    struct rt_frame *f = &t->stack[depth];
    f->cfa = rt_cfa_kept(RT_CFA_UNKNOWN, sp);
    f->pc = pc;
    f->bp = bp;
#else
    uint32_t depth;
    uintptr_t cfa = rt_enter_fast_cfa(t, fn, (uintptr_t)call_site, sp, bp, &depth);
    if (RT_UNLIKELY(cfa == 0))
        goto slow;
    struct rt_node *c = rt_tree_cached(t, depth ? t->stack[depth - 1].node : t->root, fn);
    if (RT_UNLIKELY(c == NULL))
        goto slow;
    t->busy = 1;
    RT_SIGNAL_FENCE();
    struct rt_frame *f = &t->stack[depth];
    f->cfa = rt_cfa_kept(cfa, sp);
#endif
    f->fn = fn;
    f->ts = 0;
    f->sp = sp;
    f->site = (uintptr_t)call_site;
    f->node = c;
    c->calls++;
    t->depth = depth + 1;
    RT_SIGNAL_FENCE();
    t->busy = 0;
    return;
slow:
    if (RT_UNLIKELY(rt_fast_path == RT_FAST_CPU))
        rt_enter_cpu(this_fn, call_site, sp, bp);
    else
        rt_enter_slow(this_fn, call_site, sp, bp);
}

RT_NOINST void rt_exit(void *this_fn, void *call_site, uintptr_t sp)
{
    struct rt_thread *t = rt_self;
    uint64_t fn = (uint64_t)(uintptr_t)this_fn;
    if (rt_fast_path == RT_FAST_TRACE) {
        if (RT_LIKELY(rt_exit_trace_fast(t, fn)))
            return;
        goto slow;
    }
    if (RT_UNLIKELY(rt_fast_path != RT_FAST_COUNT))
        goto slow;
    uint32_t depth = rt_exit_fast_depth(t, fn);
    if (RT_UNLIKELY(depth == 0))
        goto slow;
    /* popping is one store: no flag needed around it */
    t->depth = depth - 1;
    return;
slow:
    if (RT_UNLIKELY(rt_fast_path == RT_FAST_CPU))
        rt_exit_cpu(this_fn, call_site, sp);
    else
        rt_exit_slow(this_fn, call_site, sp);
}

/*
 * Regions (cprof_region_begin/end, rt_control.c): a call of a
 * pseudo-function pushed and popped like any other. Its frame is placed
 * as that of a function inlined into the innermost call, the one that
 * began it: the same frame address and return address, so the calls that
 * function makes inside the region (inlined ones too) are its
 * descendants, and a region left open by a return is closed with the
 * function's frame (counted as repaired). At the top of a thread (no
 * instrumented call open) it keeps a bound just above the stack pointer
 * of its caller instead (odd: only a bound, rt_cfa_kept).
 */
RT_COLD void rt_region_enter(struct rt_thread *t, uint64_t fn, uintptr_t site,
                             uintptr_t cfa)
{
    enum rt_mode mode = rt_config.mode;
    if (rt_config.cpu)
        rt_cpu_update(t);
    uint64_t now = mode == RT_MODE_COUNT ? 0 : rt_ticks();
    uintptr_t sp = cfa - sizeof(uintptr_t);
    rt_frames_resolve(t, mode);
    uint32_t depth = t->depth;
    if (depth > 0 && rt_maybe_stale(&t->stack[depth - 1], cfa, site, fn)) {
        rt_unwind_stale(t, sp, cfa, site, fn, now);
        depth = t->depth;
    }
    int off = 0;
    if (__atomic_load_n(&t->capacity, __ATOMIC_RELAXED) == 0)
        off = rt_control_sync(t, now);
    if (depth >= rt_config.max_depth || t->overflow) {
        rt_enter_deep(t);
        return;
    }
    /* placed as a function inlined into the call that began it (the
     * innermost; the same physical frame) */
    if (depth > 0)
        rt_push_frame(t, fn, t->stack[depth - 1].site, sp, t->stack[depth - 1].cfa, now,
                      off);
    else
        rt_push_frame(t, fn, site, sp, cfa + sizeof(uintptr_t) - 1, now, off);
}

/* Ends the innermost open region: frames still open above it (their
 * exits never came) are closed and counted as repaired; with no region
 * open, the end is an unmatched exit. */
RT_COLD void rt_region_exit(struct rt_thread *t)
{
    enum rt_mode mode = rt_config.mode;
    if (rt_config.cpu)
        rt_cpu_update(t);
    uint64_t now = mode == RT_MODE_COUNT ? 0 : rt_ticks();
    if (t->overflow) {
        t->overflow--;
        return;
    }
    uint32_t d = t->depth;
    while (d > 0 && !(t->stack[d - 1].fn & CPROF_FN_REGION_BIT))
        d--;
    if (d == 0) {
        t->stats.unmatched_exits++;
        return;
    }
    uint64_t closed = 0;
    while (t->depth > d)
        closed += rt_pop_counted(t, now);
    if (closed)
        rt_note_repair(t, closed, now);
    if (mode == RT_MODE_TRACE) {
        rt_line_frame_end(t, t->depth - 1, now);
        if (--t->depth < t->inherited)
            t->inherited = t->depth;
        if (t->stack[t->depth].ts != RT_TS_OFF)
            rt_trace_put(t, now, CPROF_EV_EXIT, 0, 0);
    } else {
        rt_pop_frame(t, now);
    }
}
