/*
 * Probe cost (format 1.5): what the hooks add to the times they measure,
 * measured once at start-up so that the analyzer can take it out again
 * (cprof report --compensate; docs/PERFORMANCE.md, "Compensation").
 *
 * Each hook reads the clock somewhere in its middle. What an enter hook
 * does after its timestamp and an exit hook before its own (inner) lies
 * between the call's two timestamps: inside the call's inclusive time and,
 * since it is no callee's, its self time. The rest of the pair (outer: the
 * calls of the hooks, the enter hook up to its timestamp, the exit hook
 * from its timestamp on) lies outside them, in the caller's self time; the
 * whole pair lies in every ancestor's inclusive time. Measured here with
 * the real hooks in the mode in use, on a scratch thread state that no
 * table holds and nothing writes, so no node, count or event of it reaches
 * the file:
 *   call   per call, the whole pair: a loop calling a function with hooks
 *          less the same loop calling one without, both between two clock
 *          reads;
 *   inner  per call: what the hooks' own timestamps say of a call with an
 *          empty body (its node's time in summary mode, the delta of its
 *          EXIT event in trace mode);
 *   line   per line event: a function making RT_CAL_LINES of them less one
 *          making none, in batches of RT_CAL_LINE_BATCH calls each (the
 *          batches' edges cancel in the difference).
 * Each is the minimum over RT_CAL_ROUNDS batches (interrupts, migrations
 * and a cold cache only add), converted to ns at the start-up tick rate;
 * about 0.2 ms in all in summary mode, 0.3 ms in trace mode
 * (CPROF_VERBOSE=1 prints it). A call's batch is RT_CAL_BATCH calls long
 * because the clock reads around it do not wait for the calls before them
 * to finish: its edges come out short by a roughly fixed amount, which a
 * longer batch spreads thinner (on the development VM a pair measured
 * 20.2 ns a call in batches of 64, 21.4 to 21.7 in batches of 256, where
 * the e2e test's program paid 21.0; docs/PERFORMANCE.md). Count mode
 * reads no clock: nothing to measure. Runs once, in rt_process_init,
 * before any thread has state; not signal-safe.
 */
#include "rt_internal.h"

#define RT_CAL_ROUNDS 8
#define RT_CAL_BATCH 256
#define RT_CAL_LINE_BATCH 64 /* line: the difference of two batches as long */
#define RT_CAL_LINES 8
#define RT_CAL_DEPTH 4

struct rt_probe_cost rt_probe_cost;

/* The shape of an instrumented function, by hand (the batch below, and the measured
 * functions where there is no assembly version of them): a call of the hooks at its start
 * and end, as -finstrument-functions makes them (under their hidden names: a program may
 * define the public ones itself). */
#define RT_CAL_ENTER(fn) rt_hook_enter((void *)(fn), __builtin_return_address(0))
#define RT_CAL_EXIT(fn) rt_hook_exit((void *)(fn), __builtin_return_address(0))

#if defined(__x86_64__)
/* The measured functions in assembly, so that what is measured does not
 * depend on the compiler that built the runtime: built from C, gcc's and
 * clang's versions of the same empty function differ by two registers
 * saved, which moved the measurement by 1.3 ns a call (docs/
 * PERFORMANCE.md, "Compensation"). The shape is the least an instrumented
 * function does: keep its own address in a saved register across the enter
 * hook, and leave through the exit hook (called by their hidden names, as
 * RT_CAL_ENTER and RT_CAL_EXIT call them). */
RT_HIDDEN void rt_cal_plain(void);
RT_HIDDEN void rt_cal_probed(void);
RT_HIDDEN void rt_cal_lined(void);

RT_HIDDEN __attribute__((used))
const struct cprof_line_site rt_cal_site_a = {(void *)rt_cal_lined, "", "", 1, 0};
RT_HIDDEN __attribute__((used))
const struct cprof_line_site rt_cal_site_b = {(void *)rt_cal_lined, "", "", 2, 0};

#define RT_CAL_ASM_FN(name)                                                              \
    ".p2align 4\n.globl " name "\n.hidden " name "\n.type " name ", @function\n" name    \
    ":\n    .cfi_startproc\n"
#define RT_CAL_ASM_ENTER(name)                                                           \
    "    pushq %rbx\n    .cfi_def_cfa_offset 16\n    .cfi_offset %rbx, -16\n"            \
    "    leaq " name "(%rip), %rbx\n    movq 8(%rsp), %rsi\n"                            \
    "    movq %rbx, %rdi\n    call rt_hook_enter\n"
#define RT_CAL_ASM_EXIT(name)                                                            \
    "    movq 8(%rsp), %rsi\n    movq %rbx, %rdi\n    popq %rbx\n"                       \
    "    .cfi_def_cfa_offset 8\n    jmp rt_hook_exit\n" RT_CAL_ASM_END(name)
#define RT_CAL_ASM_END(name) "    .cfi_endproc\n.size " name ", .-" name "\n"
#define RT_CAL_ASM_LINES                                                                 \
    "    leaq rt_cal_site_a(%rip), %rdi\n    call rt_hook_line\n"                        \
    "    leaq rt_cal_site_b(%rip), %rdi\n    call rt_hook_line\n"

_Static_assert(RT_CAL_LINES == 8, "rt_cal_lined makes 4 times 2 line events");
__asm__(
    ".text\n" RT_CAL_ASM_FN("rt_cal_plain") "    ret\n" RT_CAL_ASM_END("rt_cal_plain"));
__asm__(".text\n" RT_CAL_ASM_FN("rt_cal_probed") RT_CAL_ASM_ENTER("rt_cal_probed")
            RT_CAL_ASM_EXIT("rt_cal_probed"));
__asm__(".text\n" RT_CAL_ASM_FN("rt_cal_lined") RT_CAL_ASM_ENTER("rt_cal_lined")
            RT_CAL_ASM_LINES RT_CAL_ASM_LINES RT_CAL_ASM_LINES RT_CAL_ASM_LINES
                RT_CAL_ASM_EXIT("rt_cal_lined"));
#else
static void rt_cal_lined(void);

static const struct cprof_line_site rt_cal_sites[2] = {
    {(void *)rt_cal_lined, "", "", 1, 0},
    {(void *)rt_cal_lined, "", "", 2, 0},
};

__attribute__((noinline)) RT_NOINST static void rt_cal_plain(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) RT_NOINST static void rt_cal_probed(void)
{
    RT_CAL_ENTER(rt_cal_probed);
    __asm__ volatile("" ::: "memory");
    RT_CAL_EXIT(rt_cal_probed);
}

__attribute__((noinline)) RT_NOINST static void rt_cal_lined(void)
{
    RT_CAL_ENTER(rt_cal_lined);
    for (int i = 0; i < RT_CAL_LINES; i += 2) {
        rt_hook_line(&rt_cal_sites[0]);
        rt_hook_line(&rt_cal_sites[1]);
    }
    RT_CAL_EXIT(rt_cal_lined);
}
#endif

/* Ticks for n calls of fn, made from a call with hooks of its own, as a
 * program's calls are. */
__attribute__((noinline)) RT_NOINST static uint64_t rt_cal_batch(void (*fn)(void), int n)
{
    RT_CAL_ENTER(rt_cal_batch);
    uint64_t t0 = rt_ticks();
    for (int i = 0; i < n; i++)
        fn();
    uint64_t t1 = rt_ticks();
    RT_CAL_EXIT(rt_cal_batch);
    return t1 > t0 ? t1 - t0 : 0;
}

/* Trace mode: the sum of the deltas of the EXIT events in [p, end) but
 * the last (the batch's own), or UINT64_MAX when the events are not the
 * plain ENTER, EXIT and LINE a warm batch makes. */
RT_NOINST static uint64_t rt_cal_exit_deltas(const uint8_t *p, const uint8_t *end)
{
    struct mp_in in = {p, end};
    uint64_t sum = 0, last = 0, token, operand;
    while (in.pos < in.end) {
        if (mp_read_uint(&in, &token) != MP_OK)
            return UINT64_MAX;
        unsigned kind = (unsigned)(token & ((1u << CPROF_EV_KIND_BITS) - 1u));
        if (kind == CPROF_EV_EXT)
            return UINT64_MAX;
        if (kind == CPROF_EV_EXIT) {
            last = token >> CPROF_EV_KIND_BITS;
            sum += last;
        } else if (mp_read_uint(&in, &operand) != MP_OK) {
            return UINT64_MAX;
        }
    }
    return sum - last;
}

/* One batch of n calls of fn on t: its ticks, and in *inner the ticks
 * the calls' own timestamps saw (UINT64_MAX: not known). Trace mode:
 * the events are taken back out of the buffer, which so never fills. */
RT_NOINST static uint64_t rt_cal_round(struct rt_thread *t, void (*fn)(void), int n,
                                       uint64_t *inner)
{
    uint8_t *mark = t->tpos;
    uint32_t tokens = t->tcount;
    uint64_t enters = t->tenters;
    const struct rt_node *node = NULL;
    uint64_t before = 0;
    struct rt_node *batch =
        rt_config.mode == RT_MODE_SUMMARY ? t->root->last_child : NULL;
    if (batch && batch->fn == (uint64_t)(uintptr_t)rt_cal_batch) {
        node = rt_tree_child(t, batch, (uint64_t)(uintptr_t)fn);
        before = node ? node->incl : 0;
    }
    uint64_t ticks = rt_cal_batch(fn, n);
    *inner = UINT64_MAX;
    if (node)
        *inner = node->incl - before;
    if (rt_config.mode == RT_MODE_TRACE) {
        if (mark)
            *inner = rt_cal_exit_deltas(mark, t->tpos);
        t->tpos = mark;
        t->tcount = tokens;
        t->tenters = enters;
    }
    return ticks;
}

/* Appends "<name><v, one decimal> <unit>" to line (CPROF_VERBOSE). */
RT_NOINST static void rt_cal_describe(char *line, size_t size, const char *name,
                                      double ns, const char *unit)
{
    char digits[24];
    uint64_t tenths = (uint64_t)(ns * 10 + 0.5);
    rt_strlcat(line, name, size);
    rt_strlcat(line, rt_utoa(tenths / 10, digits), size);
    rt_strlcat(line, ".", size);
    rt_strlcat(line, rt_utoa(tenths % 10, digits), size);
    rt_strlcat(line, unit, size);
}

RT_NOINST void rt_calibrate(void)
{
    if (rt_config.mode == RT_MODE_COUNT || rt_config.clock == RT_CLOCK_NONE)
        return;
    uint64_t began = rt_mono_ns();
    struct rt_thread *saved = rt_self;
    struct rt_thread *t = rt_thread_scratch(RT_CAL_DEPTH);
    if (!t)
        return;
    rt_self = t;
    uint64_t best_plain = UINT64_MAX, best_probed = UINT64_MAX, best_lined = UINT64_MAX;
    uint64_t best_short = UINT64_MAX, best_inner = UINT64_MAX, inner, unused;
    /* round 0 warms up: first calls take the slow paths (a node, a
     * function index, a line slot, the frame address rule) */
    for (int round = 0; round <= RT_CAL_ROUNDS; round++) {
        uint64_t plain = rt_cal_round(t, rt_cal_plain, RT_CAL_BATCH, &unused);
        uint64_t probed = rt_cal_round(t, rt_cal_probed, RT_CAL_BATCH, &inner);
        uint64_t probed_short =
            rt_cal_round(t, rt_cal_probed, RT_CAL_LINE_BATCH, &unused);
        uint64_t lined = rt_cal_round(t, rt_cal_lined, RT_CAL_LINE_BATCH, &unused);
        if (round == 0)
            continue;
        best_plain = plain < best_plain ? plain : best_plain;
        best_probed = probed < best_probed ? probed : best_probed;
        best_short = probed_short < best_short ? probed_short : best_short;
        best_lined = lined < best_lined ? lined : best_lined;
        best_inner = inner < best_inner ? inner : best_inner;
    }
    rt_self = saved;
    int sane = t->stats.dropped_reentrant == 0 && t->stats.repaired_longjmp == 0 &&
               t->stats.unmatched_exits == 0 && t->stats.lines_unmatched == 0 &&
               best_inner != UINT64_MAX;
    rt_thread_scratch_free(t);
    if (!sane)
        return;
    double ns_per_tick = 1e9 / rt_ticks_per_sec_estimate();
    double call = best_probed > best_plain ? (double)(best_probed - best_plain) : 0;
    double line = best_lined > best_short ? (double)(best_lined - best_short) : 0;
    call *= ns_per_tick / RT_CAL_BATCH;
    double in = (double)best_inner * ns_per_tick / RT_CAL_BATCH;
    rt_probe_cost.call_ns = call;
    rt_probe_cost.inner_ns = in < call ? in : call;
    rt_probe_cost.line_ns = line * ns_per_tick / (RT_CAL_LINE_BATCH * RT_CAL_LINES);
    rt_probe_cost.measured = 1;
    char what[200] = "";
    rt_cal_describe(what, sizeof what, "probe cost: a call ", rt_probe_cost.call_ns,
                    " ns");
    rt_cal_describe(what, sizeof what, " (inside its own time ", rt_probe_cost.inner_ns,
                    " ns");
    rt_cal_describe(what, sizeof what, "), a line event ", rt_probe_cost.line_ns, " ns");
    rt_cal_describe(what, sizeof what, "; measured in ",
                    (double)(rt_mono_ns() - began) / 1000, " us");
    rt_log(what, NULL);
}
