/*
 * The runtime's internal header: the per-thread state every hook reaches
 * through one initial-exec TLS pointer, the calling-context tree node, the
 * process-wide configuration, and the functions the runtime's files share.
 *
 * Rules for everything in runtime/ (DESIGN.md): no malloc, stdio, locks or
 * instrumented code on the hot path; memory comes from mmap; nothing is
 * printed into the host program's output unless CPROF_VERBOSE=1; nothing
 * aborts. Every function is built without instrumentation and marked
 * RT_NOINST as a second guard.
 */
#ifndef CPROF_RT_INTERNAL_H
#define CPROF_RT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cprof_format.h"
#include "cprof_lines.h"
#include "cprof_mp.h"

#define RT_HIDDEN __attribute__((visibility("hidden")))
#define RT_EXPORT __attribute__((visibility("default")))
#define RT_NOINST __attribute__((no_instrument_function))
#define RT_LIKELY(x) __builtin_expect(!!(x), 1)
#define RT_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* Orders a flag against the state it guards, as seen by a signal handler
 * running on the same thread (a compiler barrier, no fence instruction). */
#define RT_SIGNAL_FENCE() __atomic_signal_fence(__ATOMIC_SEQ_CST)

enum rt_mode {
    RT_MODE_SUMMARY,
    RT_MODE_TRACE,
    RT_MODE_COUNT,
};

enum rt_clock_source {
    RT_CLOCK_TSC,
    RT_CLOCK_MONOTONIC,
    RT_CLOCK_NONE,
};

/* Why the process's data is being written. */
enum rt_end_reason {
    RT_END_EXIT,
    RT_END_SIGNAL,
    RT_END_EXEC,
    RT_END_FLUSH,  /* cprof_flush(): the process goes on */
    RT_END_KILLED, /* written by the keeper after the process ended */
    RT_END_LIVE,   /* the keeper's snapshot of a running process */
};

/* Node histograms (rt_hist.c): 2^6 buckets per octave, each at most 1/64
 * of its lower bound wide. Buckets come in rows of one octave (64
 * counters, 256 bytes), allocated only for the octaves a node's calls
 * reach; the node holds a pointer per row (NULL until used). */
#define RT_HIST_SUB_BITS 6
#define RT_HIST_ROW (1u << RT_HIST_SUB_BITS)
#define RT_HIST_ROWS 44u /* covers per-call times below 2^49 ticks */
#define RT_HIST_BUCKETS (RT_HIST_ROWS * RT_HIST_ROW)
#define RT_HIST_CHUNK (1u << 20) /* the threads' row memory comes in mmap'd MiB */
#define RT_HIST_MAX_CHUNKS 1024u

#define RT_FN_NODE_LIMIT CPROF_FN_NODE_LIMIT

/* One calling-context tree node: a function reached by one call path. What
 * the hooks touch is in the first cache line. */
struct rt_node {
    uint64_t fn;
    struct rt_node *last_child; /* two-entry cache for the child lookup: */
    struct rt_node *prev_child; /* the last two children entered */
    uint64_t calls;             /* counted at entry */
    uint64_t incl;              /* ticks, added at exit */
    uint64_t min, max;
    uint32_t id, parent;
    uint64_t open_extra; /* writer scratch: time of the open call, if any */
    uint32_t keep;       /* writer scratch: the subtree holds data */
    /* heap (rt_heap.c): allocation and free calls made while this node's
     * call was the innermost, their requested bytes, and the highest
     * process heap seen at one of its own allocations (the writer adds
     * its callees', into peak_out) */
    uint64_t alloc_calls, alloc_bytes, free_calls, freed_bytes;
    uint64_t peak, peak_out;
    /* CPU time (CPROF_CPU=1, rt_cpu.c): ns its calls spent off the CPU;
     * open_off_cpu is writer scratch, as open_extra */
    uint64_t off_cpu, open_off_cpu;
    /* histogram (rt_hist.c): row r holds buckets [r * RT_HIST_ROW,
     * (r + 1) * RT_HIST_ROW) */
    uint32_t *hist[RT_HIST_ROWS];
} __attribute__((aligned(64)));

/* One open call on the shadow stack. sp is the hook's frame address, a
 * fixed distance below the instrumented function's stack pointer: the exit
 * hook of the same call sees the same value. cfa is the stack pointer the
 * function's caller had before the call (the address just above its return
 * address): a real ancestor's is always higher than a new call's, a frame
 * abandoned by longjmp has one no higher, whatever the two functions' frame
 * sizes (sp alone cannot tell: a stale sibling with a big frame sits lower
 * than a new call with a small one). Where it could not be found, a bound
 * that still tells (rt_hooks.c). A function inlined into another shares its host's
 * physical frame, so it has the same cfa and the same site (the host's return address),
 * which tells it apart from a stale sibling at that position. */
struct rt_frame {
    uint64_t fn;
    uint64_t ts;
    struct rt_node *node; /* NULL in trace mode */
    uintptr_t sp;
    uintptr_t cfa;
    uintptr_t site;
    /* a frame count mode's fast enter pushed (rt_hooks.c) keeps only a bound
     * in cfa, and what finds the real one when it is needed: its enter
     * hook's return address pc and rbp bp; pc is 0 for every other frame */
    uintptr_t pc, bp;
    /* the call's current source line (summary and trace modes; rt_lines.c):
     * its slot, NULL before the call's first line event, the tick it
     * started and the ticks spent in instrumented callees since */
    struct rt_line *line;
    uint64_t line_ts;
    uint64_t line_child;
};

#define RT_CFA_UNKNOWN UINTPTR_MAX

/* Rules for finding a call's canonical frame address from its enter
 * hook, read from the unwind tables once per place a hook is called from
 * (rt_cfa.c) and kept in one process-wide table: the low two bits say
 * which register the rule starts from, the rest is the offset. */
#define RT_CFA_RSP 1u          /* CFA = rsp of the instrumented function + offset */
#define RT_CFA_RBP 2u          /* CFA = rbp + offset */
#define RT_CFA_NONE 3u         /* no usable rule there */
#define RT_CFA_ENTRIES 262144u /* 4 MiB of .bss, touched only where used */
#define RT_CFA_PROBES 8u
#define RT_CFA_MAX_FRAME (1u << 20) /* larger frames are treated as unknown */
struct rt_cfa_entry {
    uintptr_t pc;  /* the hook's return address; 0: free */
    uint64_t rule; /* 0: being filled in */
};
extern struct rt_cfa_entry rt_cfa_table[RT_CFA_ENTRIES] RT_HIDDEN;

static inline RT_NOINST uint32_t rt_cfa_hash(uintptr_t pc)
{
    return (uint32_t)(((uint64_t)pc * 0x9e3779b97f4a7c15ull) >> 40);
}

/* The frame address rule gives for an enter hook with frame address sp
 * and rbp bp, unchecked; 0 when it cannot apply. */
static inline RT_NOINST uintptr_t rt_cfa_rule_at(uint64_t rule, uintptr_t sp,
                                                 uintptr_t bp)
{
    uintptr_t off = (uintptr_t)(rule >> 2), base;
    if ((rule & 3) == RT_CFA_RSP)
        base = sp + sizeof(uintptr_t);
    else if ((rule & 3) == RT_CFA_RBP && bp > sp && bp - sp < RT_CFA_MAX_FRAME)
        base = bp;
    else
        return 0;
    if (off < sizeof(uintptr_t) || off > RT_CFA_MAX_FRAME)
        return 0;
    return base + off;
}

/* rt_cfa_rule_at, if the return address site is where it says (it always
 * is when the rule is right; checking it guards against code unloaded and
 * replaced at the same address); 0 otherwise. */
static inline RT_NOINST uintptr_t rt_cfa_apply(uint64_t rule, uintptr_t sp, uintptr_t bp,
                                               uintptr_t site)
{
    uintptr_t cfa = rt_cfa_rule_at(rule, sp, bp);
    return cfa && *(const uintptr_t *)(cfa - sizeof(uintptr_t)) == site ? cfa : 0;
}

#define RT_CHILD_CACHE 1024u /* entries of a thread's child cache (8 KiB) */
#define RT_NODES_PER_CHUNK 1024u
#define RT_MAX_CHUNKS 4096u

/* One source line of a function built with line instrumentation, summed
 * over the thread's run: a slot of the thread's line table (rt_lines.c),
 * keyed by the site's address. One cache line. */
struct rt_line {
    const struct cprof_line_site *site; /* NULL: free; published last */
    uint64_t hits;
    uint64_t time, self;           /* ticks of visits already closed */
    uint32_t index;                /* trace mode: the site's index, 0 until defined */
    uint32_t line;                 /* the site's, kept should its library be unloaded */
    uint64_t open_time, open_self; /* writer scratch: visits still open */
    uint64_t fn;                   /* the site's, kept likewise */
} __attribute__((aligned(64)));

#define RT_LINE_BITS 14
#define RT_LINE_SLOTS (1u << RT_LINE_BITS)         /* 1 MiB, touched where used */
#define RT_LINE_MAX_USED (RT_LINE_SLOTS / 4u * 3u) /* then [line limit] */
#define RT_LINE_DEFS (64u * 1024u)                 /* trace mode: site records waiting */
#define RT_LINE_STR_MAX 4096u                      /* longer names are cut in the file */

static inline RT_NOINST uint32_t rt_line_hash(const struct cprof_line_site *site)
{
    return (uint32_t)(((uint64_t)(uintptr_t)site * 0x9e3779b97f4a7c15ull) >>
                      (64 - RT_LINE_BITS));
}

/* What the thread could not record or had to repair (never per event:
 * counts of calls come from the tree or the trace itself). */
struct rt_thread_stats {
    uint64_t dropped_reentrant, dropped_depth;
    uint64_t repaired_longjmp, unmatched_exits;
    uint64_t trace_bytes;
    uint64_t lines_unmatched; /* line events outside their function's call */
    uint64_t lines_dropped;   /* line hits not counted under their own site */
    uint64_t hist_dropped;    /* completed calls not in their node's histogram */
    /* trace mode: calls left out after the trace stopped (CPROF_TRACE_MAX) */
    uint64_t trace_stopped_calls;
    /* the folded thread (rt_fold.c): threads merged into it, and their
     * calls that were open when they ended */
    uint64_t folded_threads, folded_closed;
};

/* Heap totals of one thread, or of its part outside any instrumented call
 * (rt_heap.c): calls and requested bytes. */
struct rt_heap_counts {
    uint64_t alloc_calls, alloc_bytes, free_calls, freed_bytes;
};

/* One slot of a thread's table of frees by owner (CPROF_REC_FREED): key is
 * owner_thread << 32 | owner; a slot is free while calls is 0. */
struct rt_freed {
    uint64_t key;
    uint64_t calls, bytes;
};

/* The table: open addressing, doubled when three quarters full; a table
 * outgrown stays mapped (prev) until the thread is released, since a
 * writer on another thread may be reading it. */
struct rt_freed_table {
    struct rt_freed_table *prev;
    size_t map_size;
    uint32_t mask, used;
    struct rt_freed slots[];
};

/* A completed call whose histogram update is still to be applied. */
struct rt_pending {
    struct rt_node *node;
    uint64_t ticks;
};
#define RT_PENDING 256u

struct rt_thread {
    /* hot fields first */
    int busy;           /* inside the runtime: nested events are dropped */
    uint32_t control;   /* rt_control_word as last seen, RT_CONTROL_SEEN_OFF
                           added while recording is off (rt_control.c) */
    uint32_t depth;     /* frames in use */
    uint32_t capacity;  /* frames available */
    uint32_t overflow;  /* calls beyond capacity, still open */
    uint32_t inherited; /* frames [0, inherited) were opened before fork */
    struct rt_frame *stack;
    struct rt_node *root;
    struct rt_line *lines; /* line table (rt_lines.c), from the first line event */
    /* trace mode */
    uint8_t *tpos, *tend; /* cursor and flush threshold in tbuf */
    uint64_t last_ts;     /* ticks of the previous event */
    uint32_t tcount;      /* tokens in the current chunk */
    uint64_t last_fn;     /* two-entry cache of the function index table: */
    uint32_t last_idx;    /* the last two functions entered */
    uint64_t prev_fn;
    uint32_t prev_idx;
    uint32_t npending;
    struct rt_thread_stats stats;
    struct rt_pending pending[RT_PENDING];

    /* calling-context tree */
    struct rt_node *chunks[RT_MAX_CHUNKS];
    uint32_t nnodes; /* published with release order: readers may race */
    uint32_t max_nodes;
    uint32_t *child_hash; /* node ids, open addressing on (parent, fn) */
    uint32_t child_mask;
    uint32_t child_used;

    /* trace buffer and function index table */
    uint8_t *tbuf;
    size_t tbuf_size;
    uint8_t *tcount_at;     /* the chunk's array32 header, patched at flush */
    uint64_t tenters;       /* ENTER events appended to the buffer, ever */
    uint64_t tchunk_enters; /* tenters when the chunk in the buffer began */
    uint8_t *tchunk_at;     /* where the chunk's clock record starts */
    int announced;          /* the thread record is in the trace */
    uint64_t *fidx_keys;
    uint32_t *fidx_vals;
    uint32_t fidx_mask, fidx_used, fidx_next;
    /* cprof_flush() on another thread writes this thread's events while
     * it runs on (rt_trace_handover): tlock keeps that apart from the
     * owner's own chunk writes; what it wrote is marked here, and the
     * owner's next chunk write starts after it */
    int tlock;
    uint8_t *tdone;        /* events of the chunk before it are written; NULL: none */
    uint64_t tdone_ts;     /* ticks of the last event before tdone */
    uint32_t tdone_tokens; /* tokens of the chunk before tdone */
    uint32_t defs_done;    /* bytes of line_defs written */

    /* line table: the rest (rt_lines.c) */
    struct rt_line *line_limit; /* [line limit]: sites past RT_LINE_MAX_USED */
    uint32_t lines_used;
    uint32_t line_next_index; /* trace mode: the last site index handed out */
    uint8_t *line_defs;       /* trace mode: LINE_SITE records not yet */
    uint32_t line_defs_len;   /* written, go before the next chunk */
    uint64_t fork_ticks;      /* when this process forked off, or 0 */

    /* CPU time (CPROF_CPU=1, rt_cpu.c): ns the thread spent off the CPU,
     * as of its last hook; its rseq area's rseq_cs field (NULL: no rseq,
     * the clock is read at every hook); the last reading of its CPU clock
     * and CLOCK_MONOTONIC (ns) */
    uint64_t off_cpu;
    volatile uint64_t *cpu_rseq;
    uint64_t cpu_base, cpu_wall;
    /* frame i's entry value of off_cpu; NULL without CPROF_CPU, so that
     * struct rt_frame does not grow for the default mode */
    uint64_t *cpu_stack;

    /* histogram rows (rt_hist.c): bump allocation in
     * mmap'd chunks, never reused or unmapped before the thread is
     * released, so a writer on another thread always reads mapped memory */
    uint8_t *hist_pos, *hist_end;
    uint32_t hist_nchunks, hist_max_chunks;
    uint8_t *hist_chunks[RT_HIST_MAX_CHUNKS];

    /* heap (rt_heap.c) */
    struct rt_heap_counts heap_all, heap_outside;
    struct rt_freed_table *freed;
    uint64_t freed_lost_calls, freed_lost_bytes; /* no room in the table */

    /* identity and lifecycle */
    uint32_t serial;
    pid_t tid;
    int slot;
    int written; /* claimed by whoever writes its data (rt_thread.c) */
    int destructor_rounds;
    size_t map_size; /* size of the mapping holding this struct and stack */

    /* children found past their parent's own cache, by (parent, fn):
     * rt_tree_cache_slot; NULL or any node (rt_tree_cached checks it).
     * Last: 8 KiB that would otherwise part the hot fields above. */
    struct rt_node *child_cache[RT_CHILD_CACHE];
};

struct rt_config {
    enum rt_mode mode;
    enum rt_clock_source clock;
    int verbose;
    int cpu; /* CPROF_CPU=1 in summary mode: CPU time per node (rt_cpu.c) */
    uint32_t max_depth;
    uint32_t max_nodes;
    uint32_t hist_chunks; /* CPROF_HIST_MEMORY in MiB: per thread */
    size_t trace_buffer;
    char dir[4096]; /* absolute output directory */
    char exe[4096]; /* absolute path of the executable */
    char prog[256]; /* file-name-safe program name */
    const char *warnings[12];
    int nwarnings;
    /* CPROF_TRACE_MAX: bytes of trace chunks a process writes; 0: no cap */
    uint64_t trace_max;
};

extern struct rt_config rt_config RT_HIDDEN;
extern volatile int rt_ready RT_HIDDEN;    /* process init done */
extern volatile int rt_finished RT_HIDDEN; /* process data written */
/* Which of the hooks' fast paths apply (rt_hooks.c), set once at start. */
enum rt_fast {
    RT_FAST_CPU = -1,  /* none; the full versions with CPU time (CPROF_CPU=1) */
    RT_FAST_NONE = 0,  /* none: the full versions (summary mode) */
    RT_FAST_COUNT = 1, /* count mode's */
    RT_FAST_TRACE = 2, /* trace mode's (the clock is the TSC) */
};
extern int rt_fast_path RT_HIDDEN;
/* Count mode's fast enter leaves a frame's address to be found when a
 * slow path needs it (rt_hooks.c), which needs the longjmp family and the
 * context switches interposed to tell it of jumps (rt_jump.c): so only in
 * the shared runtime, on x86-64 (the trampolines give the hook's frame). */
#if defined(__x86_64__) && defined(CPROF_RT_SHARED)
#define RT_LAZY_CFA 1
#else
#define RT_LAZY_CFA 0
#endif
extern __thread struct rt_thread *rt_self __attribute__((tls_model("initial-exec")))
RT_HIDDEN;

/* Can t take an event on a hook's fast path: set up, not inside the
 * runtime, no call past its capacity still open? Hot path. */
__attribute__((always_inline)) static inline RT_NOINST int
rt_fast_ready(const struct rt_thread *t)
{
    return !(t == NULL || t->busy || t->overflow);
}

/* rt_cfa.c: the frame address of the call whose enter hook has frame
 * address sp and rbp bp and whose return address is site, reading the
 * unwind tables when needed; RT_CFA_UNKNOWN when they have no rule for it.
 * Cold. */
RT_HIDDEN uintptr_t rt_cfa_find(uintptr_t sp, uintptr_t bp, uintptr_t site);
/* The frame address of a call still on the shadow stack whose enter hook
 * had return address pc, frame address sp and rbp bp, by the rule for pc,
 * unchecked (the return address may be gone: a frame left by longjmp);
 * RT_CFA_UNKNOWN when there is none. Cold. */
RT_HIDDEN uintptr_t rt_cfa_resolve(uintptr_t pc, uintptr_t sp, uintptr_t bp);

/* rt_clock.c */
RT_HIDDEN void rt_clock_init(enum rt_clock_source wanted);
RT_HIDDEN uint64_t rt_mono_ns(void);
RT_HIDDEN uint64_t rt_unix_ns(void);
RT_HIDDEN double rt_ticks_per_sec(void);
RT_HIDDEN double rt_ticks_per_sec_estimate(void);
extern uint64_t rt_start_ticks RT_HIDDEN;
extern uint64_t rt_start_mono RT_HIDDEN;
extern uint64_t rt_start_unix RT_HIDDEN;

static inline RT_NOINST uint64_t rt_ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
    if (RT_LIKELY(rt_config.clock == RT_CLOCK_TSC))
        return __builtin_ia32_rdtsc();
#endif
    return rt_mono_ns();
}

/* rt_hooks.c: the hooks under hidden names, for the runtime's own calls
 * (rt_calibrate.c), which a program that defines __cyg_profile_func_enter
 * or __cprof_line itself (a test's counting hook) must not receive. */
RT_HIDDEN void rt_hook_enter(void *this_fn, void *call_site);
RT_HIDDEN void rt_hook_exit(void *this_fn, void *call_site);
RT_HIDDEN void rt_hook_line(const struct cprof_line_site *site);

/* rt_calibrate.c: the hooks' own cost as their timestamps see it (see
 * there), measured by rt_calibrate() at process start in the time modes;
 * all 0 until measured. */
struct rt_probe_cost {
    int measured;
    double call_ns;  /* a whole enter+exit pair, per call */
    double inner_ns; /* the part of it between the call's two timestamps */
    double line_ns;  /* one line event */
};
extern struct rt_probe_cost rt_probe_cost RT_HIDDEN;
RT_HIDDEN void rt_calibrate(void);

/* rt_tree.c */
RT_HIDDEN int rt_tree_init(struct rt_thread *t);
RT_HIDDEN struct rt_node *rt_tree_child(struct rt_thread *t, struct rt_node *parent,
                                        uint64_t fn);
RT_HIDDEN struct rt_node *rt_tree_child_cached(struct rt_thread *t,
                                               struct rt_node *parent, uint64_t fn);

/* The thread's child cache: a direct-mapped table of children keyed by
 * (parent, fn), which an interpreter's dispatch loop needs (its calls
 * alternate between dozens of callees, past the parent's two cached
 * children). */
static inline RT_NOINST uint32_t rt_tree_cache_slot(uint32_t parent, uint64_t fn)
{
    uint64_t h = (fn ^ ((uint64_t)parent << 32)) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 54) & (RT_CHILD_CACHE - 1u);
}

/* Hot path: the child of parent for fn when a cache has it, else NULL. */
static inline RT_NOINST struct rt_node *
rt_tree_cached(struct rt_thread *t, const struct rt_node *parent, uint64_t fn)
{
    struct rt_node *c = parent->last_child;
    if (RT_LIKELY(c != NULL && c->fn == fn))
        return c;
    c = t->child_cache[rt_tree_cache_slot(parent->id, fn)];
    if (c != NULL && c->fn == fn && c->parent == parent->id)
        return c;
    return NULL;
}
RT_HIDDEN struct rt_node *rt_tree_node(struct rt_thread *t, uint32_t id);
RT_HIDDEN void rt_tree_zero(struct rt_thread *t);
RT_HIDDEN void rt_tree_release(struct rt_thread *t);

/* The histogram row and column (bucket = row * RT_HIST_ROW + column) of a
 * per-call time: cprof_hist_bucket() without its branch, times of 2^49
 * ticks and more in the last bucket. */
static inline RT_NOINST unsigned rt_hist_row_of(uint64_t ticks, unsigned *column)
{
    /* below 2^sub_bits ticks, row 0 holds the time itself: msb is then
     * sub_bits, the shift 0, and the row one less than the formula's */
    uint64_t v = ticks | RT_HIST_ROW;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned row = msb - RT_HIST_SUB_BITS + 1u - (unsigned)(ticks < RT_HIST_ROW);
    *column = (unsigned)(v >> (msb - RT_HIST_SUB_BITS)) & (RT_HIST_ROW - 1u);
    if (RT_UNLIKELY(row >= RT_HIST_ROWS)) {
        row = RT_HIST_ROWS - 1u;
        *column = RT_HIST_ROW - 1u;
    }
    return row;
}

/* The same as one bucket number. */
static inline RT_NOINST unsigned rt_hist_bucket(uint64_t ticks)
{
    unsigned column, row = rt_hist_row_of(ticks, &column);
    return row * RT_HIST_ROW + column;
}

/* rt_hist.c */
/* Adds n's histogram (its pending updates applied) into node into of
 * thread t, counting in t's hist_dropped what does not fit. Owner of t
 * (the folded thread: the writing lock). */
RT_HIDDEN void rt_hist_merge(struct rt_thread *t, struct rt_node *into,
                             const struct rt_node *n);
/* Applies the pending histogram updates. Owner thread only (or a forked
 * child, where the owner is the only thread). Amortised hot path. */
RT_HIDDEN void rt_hist_drain(struct rt_thread *t);
/* After fork: every node's counts to 0, rows kept. */
RT_HIDDEN void rt_hist_zero(struct rt_thread *t);
RT_HIDDEN void rt_hist_release(struct rt_thread *t);
/* Writes node n's histogram, [bucket, count, ...] in bucket order, with
 * the pending updates of n (buckets, sorted; npending of them) added. The
 * thread may be running: counts are read once each, and the array's
 * header is patched with the number of pairs written. Signal-safe. */
RT_HIDDEN void rt_hist_put(struct mp_out *o, const struct rt_node *n,
                           const uint16_t *pending, uint32_t npending);

/* Hot path: one completed call of ticks inclusive time. The histogram
 * update waits in a small ring and is applied in batches (rt_hist_drain),
 * which keeps the bucket arithmetic off the clock read's critical path. */
static inline RT_NOINST void rt_node_record_call(struct rt_thread *t, struct rt_node *n,
                                                 uint64_t ticks)
{
    n->incl += ticks;
    if (RT_UNLIKELY(ticks < n->min))
        n->min = ticks;
    if (RT_UNLIKELY(ticks > n->max))
        n->max = ticks;
    struct rt_pending *p = &t->pending[t->npending];
    p->node = n;
    p->ticks = ticks;
    if (RT_UNLIKELY(++t->npending == RT_PENDING))
        rt_hist_drain(t);
}

/* rt_trace.c */
RT_HIDDEN int rt_trace_init(struct rt_thread *t);
RT_HIDDEN void rt_trace_begin_chunk(struct rt_thread *t);
RT_HIDDEN void rt_trace_flush(struct rt_thread *t);
RT_HIDDEN uint32_t rt_trace_fn_index(struct rt_thread *t, uint64_t fn);
/* fn's index if it has one, else 0; defines nothing (rt_heap.c). */
RT_HIDDEN uint32_t rt_trace_fn_lookup(const struct rt_thread *t, uint64_t fn);
RT_HIDDEN void rt_trace_ext(struct rt_thread *t, uint64_t now, uint32_t code,
                            const uint64_t *ops, int nops);
RT_HIDDEN void rt_trace_inherit(struct rt_thread *t);
RT_HIDDEN void rt_trace_release(struct rt_thread *t);
/* t's lock against writes of its events from another thread: taken
 * within spins yields (1), or not (0: the caller goes on without it, or
 * gives up). Signal-safe. */
RT_HIDDEN int rt_trace_lock(struct rt_thread *t, long spins);
RT_HIDDEN void rt_trace_unlock(struct rt_thread *t);
/* What of a thread's trace is not in the file yet, as whole records
 * (rt_trace_copy): the thread record when not written yet, the line site
 * records not written yet, a clock record and a trace chunk of the events
 * not written yet, cut after the last complete one (the owner may be
 * appending right now). */
struct rt_trace_copy {
    uint8_t *buf;      /* the caller's, rt_trace_copy_size(t) bytes */
    struct mp_out o;   /* after the last event copied: more may follow */
    uint8_t *count_at; /* the chunk's array32 header, in buf */
    uint32_t tokens;   /* of the events copied */
    uint64_t last_ts;  /* ticks of the last event copied */
    uint8_t *cut;      /* where the copy ended in the thread's buffer */
    size_t head;       /* bytes of buf before the line sites: the thread record */
    uint32_t defs;     /* line_defs_len as read */
};
RT_HIDDEN size_t rt_trace_copy_size(const struct rt_thread *t);
/* Whether len more bytes of trace chunks fit under CPROF_TRACE_MAX: 1,
 * and they are counted as written; or 0, and the trace stops for good
 * (every later call returns 0), at the time now if it had not yet.
 * Lock-free, signal-safe. */
RT_HIDDEN int rt_trace_reserve(size_t len, uint64_t now);
/* ENTER events among the whole events in [p, end). Signal-safe. */
RT_HIDDEN uint64_t rt_trace_count_enters(const uint8_t *p, const uint8_t *end);
/* When the trace stopped at CPROF_TRACE_MAX, or 0 while it goes on. */
RT_HIDDEN uint64_t rt_trace_stop_ticks(void);
/* In a forked child: its file has a cap of its own, nothing written yet. */
RT_HIDDEN void rt_trace_cap_after_fork(void);
/* Reads t only (the caller holds its lock, or is its owner, or accepts
 * the race as the end of a process does). Signal-safe. */
RT_HIDDEN void rt_trace_copy(struct rt_thread *t, struct rt_trace_copy *c);
/* cprof_flush() on a thread other than t's owner: writes what t recorded
 * and did not write yet and marks it written, t running on. buf holds
 * rt_trace_copy_size(t) bytes. Returns 0, or -1 when t's lock was not to
 * be had (t is writing its own chunk) or the write failed: then nothing
 * is marked and t writes the events itself later. The caller holds the
 * writing lock (so t's exit does not write it meanwhile). Signal-safe. */
RT_HIDDEN int rt_trace_handover(struct rt_thread *t, uint8_t *buf, size_t size);

/* Hot path: appends one event token and its operand, if any. The buffer
 * keeps room for the largest event past tend, so the check is one compare
 * per event. */
static inline RT_NOINST void rt_trace_put(struct rt_thread *t, uint64_t now,
                                          unsigned kind, int with_operand,
                                          uint64_t operand)
{
    uint64_t delta = now > t->last_ts ? now - t->last_ts : 0;
    t->last_ts = now;
    uint8_t *p = mp_put_uint_token(t->tpos, (delta << CPROF_EV_KIND_BITS) | kind);
    if (with_operand)
        p = mp_put_uint_token(p, operand);
    t->tcount += 1u + (unsigned)with_operand;
    if (kind == CPROF_EV_ENTER)
        t->tenters++; /* the calls a chunk past CPROF_TRACE_MAX leaves out */
    t->tpos = p;
    if (RT_UNLIKELY(p >= t->tend))
        rt_trace_flush(t);
}

/* rt_lines.c */
/* What a line record says of its site. rt_line_describe reads it from the
 * site after checking that its memory is still mapped (a library with line
 * sites may be dlclose'd before the data is written) and still holds the
 * function and line kept in the slot: names it cannot read are empty, and
 * a site that is gone gives the function address and line kept in its
 * slot. Signal-safe, cold. */
struct rt_line_names {
    uint64_t fn;
    uint32_t line;
    const char *func, *file;
    size_t func_len, file_len;
};
RT_HIDDEN void rt_line_describe(const struct rt_line *l, struct rt_line_names *out);
/* Zeroes the counts of every site the thread used (with_index: their
 * trace indexes too); untouched slots stay unmapped. */
RT_HIDDEN void rt_lines_zero(struct rt_thread *t, int with_index);
RT_HIDDEN void rt_lines_after_fork(struct rt_thread *t, uint64_t now);
RT_HIDDEN void rt_lines_release(struct rt_thread *t);
/* Adds t's line table, its lines still open closed at now, into that of
 * into (the folded thread, rt_fold.c). */
RT_HIDDEN void rt_lines_merge(struct rt_thread *into, struct rt_thread *t, uint64_t now);
/* Fills the table's writer scratch with the visits still open at now, as
 * if every open frame were closed then; changes nothing else. */
RT_HIDDEN void rt_lines_open_extra(struct rt_thread *t, uint64_t now);
/* rt_hooks.c: closes frames a longjmp left above the call of fn whose
 * line hook ran with stack pointer sp, if the innermost frame not left is
 * a call of fn; returns whether fn's call is now the innermost. Cold. */
RT_HIDDEN int rt_line_repair(struct rt_thread *t, uint64_t fn, uintptr_t sp,
                             uint64_t now);

/* Has control left frame f, seen from a line hook whose stack pointer is
 * sp (0: unknown)? Its frame address lies below the stack pointer of the
 * function running the line. A frame address that is only a bound (odd,
 * rt_hooks.c) cannot tell. */
static inline RT_NOINST int rt_frame_left(const struct rt_frame *f, uintptr_t sp)
{
    return sp && !(f->cfa & 1) && f->cfa <= sp + sizeof(uintptr_t);
}

/* When frame i's time in this process began: its entry, or the fork for a
 * frame the process inherited. */
static inline RT_NOINST uint64_t rt_frame_start(const struct rt_thread *t, uint32_t i)
{
    uint64_t ts = t->stack[i].ts;
    return RT_UNLIKELY(i < t->inherited) && t->fork_ticks > ts ? t->fork_ticks : ts;
}

/* Hot path (time modes): frame i, the innermost, ends at now (exit, repair
 * or end): its current line is closed, and its caller's current line gains
 * its time as callee time. */
static inline RT_NOINST void rt_line_frame_end(struct rt_thread *t, uint32_t i,
                                               uint64_t now)
{
    if (!t->lines)
        return; /* no line event yet on this thread */
    struct rt_frame *f = &t->stack[i];
    if (RT_UNLIKELY(f->line != NULL)) {
        uint64_t spent = now > f->line_ts ? now - f->line_ts : 0;
        f->line->time += spent;
        f->line->self += spent > f->line_child ? spent - f->line_child : 0;
        f->line = NULL;
    }
    /* the caller's callee time matters only while it has a current line
     * (a line event resets it) */
    if (i > 0 && f[-1].line != NULL) {
        uint64_t from = rt_frame_start(t, i);
        f[-1].line_child += now > from ? now - from : 0;
    }
}

/* rt_cpu.c: CPU time per call (CPROF_CPU=1). init checks whether rseq
 * areas tell switches on this kernel, once at start; method says how CPU
 * time is measured ("rseq" or "clock"), for the header. */
RT_HIDDEN void rt_cpu_init(void);
RT_HIDDEN const char *rt_cpu_method(void);
/* A new thread's (owner thread): its rseq field, its first readings. */
RT_HIDDEN void rt_cpu_thread_init(struct rt_thread *t);
/* New readings, off_cpu kept (a forked child: its CPU clock starts at 0). */
RT_HIDDEN void rt_cpu_rebase(struct rt_thread *t);
/* Brings t->off_cpu up to date: the thread left the CPU since its last
 * reading, or may have. Owner thread, cold. */
RT_HIDDEN void rt_cpu_resync(struct rt_thread *t);
/* t's off_cpu as of now, t unchanged (t may run on another thread, as
 * when the process's end writes it). Signal-safe, cold. */
RT_HIDDEN uint64_t rt_cpu_off_now(const struct rt_thread *t);
extern uint64_t rt_cpu_mark RT_HIDDEN; /* what an armed rseq field holds */

/* Hot path with CPROF_CPU=1: t->off_cpu current at a hook. One load and
 * compare while the thread stayed on its CPU. */
static inline RT_NOINST void rt_cpu_update(struct rt_thread *t)
{
    if (RT_UNLIKELY(t->cpu_rseq == NULL || *t->cpu_rseq != rt_cpu_mark))
        rt_cpu_resync(t);
}

/* rt_thread.c */
RT_HIDDEN struct rt_thread *rt_thread_attach(void);
RT_HIDDEN void rt_thread_detach(struct rt_thread *t);
/* A thread's state for depth frames that no table holds, never written
 * (rt_calibrate.c runs the hooks on it); NULL when memory is short. */
RT_HIDDEN struct rt_thread *rt_thread_scratch(uint32_t depth);
RT_HIDDEN void rt_thread_scratch_free(struct rt_thread *t);
RT_HIDDEN void rt_threads_init(void);
/* Calls fn for every live thread. Lock-free: safe in signal handlers. */
RT_HIDDEN void rt_threads_each(void (*fn)(struct rt_thread *t, void *arg), void *arg);
/* Calls fn for every live thread whose data was not written yet (its exit
 * wrote it), without claiming it. Lock-free. */
RT_HIDDEN void rt_threads_visit(void (*fn)(struct rt_thread *t, void *arg), void *arg);
RT_HIDDEN void rt_threads_after_fork(struct rt_thread *survivor);
RT_HIDDEN void rt_threads_unclaim(void);
/* rt_control_word changed: every live thread's capacity to 0 (see
 * rt_control_sync). Lock-free: safe in signal handlers. */
RT_HIDDEN void rt_threads_control_changed(void);
RT_HIDDEN uint32_t rt_threads_seen(void);
RT_HIDDEN uint32_t rt_threads_lost(void);
RT_HIDDEN void *rt_map(size_t size);
RT_HIDDEN void rt_unmap(void *p, size_t size);

/* rt_writer.c */
RT_HIDDEN int rt_writer_open(void);
/* cprof_flush() and every write after one: the whole file is written anew
 * to <file>.tmp (begin: header, modules, regions and the data of threads
 * that ended are written there, every later write goes there) and renamed
 * over the file (commit), so a reader sees the previous complete file or
 * the new one, never a mix. last: the run's final write (the base file of
 * ended threads goes). Summary and count modes. Signal-safe. */
RT_HIDDEN int rt_writer_snapshot_begin(void);
RT_HIDDEN void rt_writer_snapshot_commit(int last);
RT_HIDDEN int rt_writer_snapshotting(void);
RT_HIDDEN int rt_writer_write(const void *buf, size_t len);
/* One write of a then b (one record split in two buffers). */
RT_HIDDEN int rt_writer_write2(const void *a, size_t alen, const void *b, size_t blen);
RT_HIDDEN void rt_writer_init(void);
RT_HIDDEN void rt_writer_after_fork(void);
RT_HIDDEN off_t rt_writer_offset(void);
RT_HIDDEN void rt_writer_truncate(off_t at);
RT_HIDDEN void rt_log(const char *msg, const char *arg);
/* The keeper: the data directory's descriptor; writes going to fd instead
 * of the data file (-1: back); a snapshot's head and the data of the
 * threads that ended, into fd; the file's state taken over after fork. */
RT_HIDDEN int rt_writer_dir_fd(void);
RT_HIDDEN void rt_writer_redirect(int fd);
RT_HIDDEN int rt_writer_live_begin(int fd);
RT_HIDDEN void rt_writer_adopt(void);

/* rt_records.c */
RT_HIDDEN void rt_writer_thread(struct rt_thread *t, uint64_t now);
/* The thread record [2, serial, tid, name]. */
RT_HIDDEN void rt_writer_put_thread(struct mp_out *o, struct rt_thread *t);
RT_HIDDEN void rt_writer_end(enum rt_end_reason why, int sig);

/* rt_modules.c */
/* Re-reads the loaded modules. Takes the loader's lock: not signal-safe. */
RT_HIDDEN void rt_modules_refresh(void);
/* The module records [1, bias, lo, hi, path, build_id]. Signal-safe. */
RT_HIDDEN void rt_put_modules(struct mp_out *o);

/* rt_fold.c: ended threads past the first few hundred merged into one
 * (summary and count modes). All with the writing lock held. */
/* Writes the data of thread t, ending, as of now, or folds it. */
RT_HIDDEN void rt_fold_thread_ended(struct rt_thread *t, uint64_t now);
/* Writes the folded thread, if any thread was folded. */
RT_HIDDEN void rt_fold_write(uint64_t now);
RT_HIDDEN void rt_fold_after_fork(void);
/* A freed record's owner key (owner_thread << 32 | owner) as the file
 * should name it: not a folded thread's, unchanged (0); a folded thread's
 * owner, translated to the folded thread's node (1); or one that cannot
 * be (-1, its map was over the budget): the frees count as owners lost.
 * Lock-free. */
RT_HIDDEN int rt_fold_owner(uint64_t *key);
/* The frees of table ft whose owners are folded threads': translated and
 * summed by owner into count entries of a table the caller unmaps (size
 * bytes), so that their number stays bounded; those of owners that cannot
 * be translated summed into gone_*. NULL when there are none, or no
 * memory (then the caller writes them one by one). Signal-safe. */
struct rt_fold_freed {
    uint32_t count;
    size_t size;
    uint64_t gone_calls, gone_bytes;
};
RT_HIDDEN struct rt_freed *rt_fold_freed(const struct rt_freed_table *ft,
                                         struct rt_fold_freed *out);

/* rt_process.c */
RT_HIDDEN void rt_process_init(void);
/* Adds msg (static storage) to the header's config_warnings. */
RT_HIDDEN void rt_config_warn(const char *msg);
RT_HIDDEN void rt_process_finish(enum rt_end_reason why, int sig);
RT_HIDDEN void rt_process_flush(void);
/* cprof_flush() in trace mode, called by self (NULL: a thread cprof does
 * not profile): every thread's events so far written, then an end record
 * of reason "flush" that later records supersede. Not signal-safe. */
RT_HIDDEN void rt_process_trace_flush(struct rt_thread *self);
/* Held while thread data is written (a flush, the end, a thread's exit),
 * so that they never mix. take yields up to spins_max times, then gives
 * up (0). */
RT_HIDDEN int rt_writing_take(long spins_max);
RT_HIDDEN void rt_writing_release(void);
RT_HIDDEN void rt_process_resume(off_t file_size);
RT_HIDDEN void rt_exec_init(void);
/* The keeper (rt_keeper.c): the data of a process that ended without
 * writing it, written as killed; a live snapshot into fd. Keeper only. */
RT_HIDDEN void rt_process_killed(void);
RT_HIDDEN int rt_process_live(int fd);
extern pid_t rt_pid RT_HIDDEN;
extern pid_t rt_fork_parent RT_HIDDEN;

/* rt_keeper.c: the shared region and the keeper process. */
enum rt_keeper_data {
    RT_KEEPER_PENDING, /* the data is not written: the keeper writes it */
    RT_KEEPER_WRITTEN, /* the process wrote it (end, exec, signal) */
};
/* A page-aligned static of whole pages that the keeper must see as the
 * program changes it (a process-wide table). Called before
 * rt_keeper_start. */
RT_HIDDEN void rt_keeper_share(void *block, size_t size);
/* rt_fold.c's state is shared with the keeper (before rt_keeper_start). */
RT_HIDDEN void rt_fold_init(void);
/* At process start, last: the region, the shared blocks, the keeper
 * (CPROF_KEEPER, CPROF_LIVE). Not signal-safe. */
RT_HIDDEN void rt_keeper_start(void);
/* Fork handlers: the parent waits until the child has its own region
 * (child: first thing); last, the child starts its own keeper. */
RT_HIDDEN void rt_keeper_before_fork(void);
RT_HIDDEN void rt_keeper_parent_after_fork(void);
RT_HIDDEN void rt_keeper_after_fork(void);
RT_HIDDEN void rt_keeper_spawn_child(void);
/* Whether p is in the shared region (all the keeper can read). */
RT_HIDDEN int rt_region_holds(const void *p);
RT_HIDDEN void rt_keeper_data(enum rt_keeper_data state);
/* Shared memory for rt_map, or NULL (none, full, or in the keeper).
 * Lock-free, signal-safe. */
RT_HIDDEN void *rt_region_map(size_t size);
/* Frees region memory; 0 when p is not region memory. Lock-free. */
RT_HIDDEN int rt_region_unmap(void *p, size_t size);
/* The program's parent (in the keeper, as it was at the keeper's start). */
RT_HIDDEN pid_t rt_process_ppid(void);
extern int rt_in_keeper RT_HIDDEN; /* this process is a keeper */
#define RT_SHARED_BLOCK __attribute__((aligned(4096)))

/* rt_heap.c: the malloc family, interposed. */
/* What the end record says of the process's heap. */
struct rt_heap_process {
    uint64_t in_use, peak, blocks, foreign_frees, dropped;
};
/* Whether this process's allocations go through cprof's malloc (not when
 * the program or a library before libcprof-rt defines its own, as ASan
 * and static glibc do): then no heap data is written. */
RT_HIDDEN int rt_heap_active(void);
RT_HIDDEN void rt_heap_init(void);
RT_HIDDEN void rt_heap_process(struct rt_heap_process *out);
/* In a forked child: a new fork generation, the survivor's heap counts
 * and freed table reset (the blocks live on in the child). */
RT_HIDDEN void rt_heap_after_fork(struct rt_thread *survivor);
RT_HIDDEN void rt_heap_release(struct rt_thread *t);
/* Adds t's heap totals and frees by owner into into (the folded
 * thread). */
RT_HIDDEN void rt_heap_fold(struct rt_thread *into, const struct rt_thread *t);
/* rt_heap_probe.c: whether the malloc family the program's calls resolve
 * to is the one in rt_heap.c. */
RT_HIDDEN int rt_heap_interposed(void);

/* rt_control.c: recording on and off, resets and regions (<cprof.h>,
 * CPROF_START, CPROF_SIGNAL). rt_control_word is bit 0: recording off,
 * bits 1-30: the number of resets. When it changes every thread's
 * capacity is set to 0 (rt_threads_control_changed), so the thread's next
 * enter finds no room, the check the hot path makes anyway, and in that
 * cold path rt_control_sync brings the thread up to date: a reset not yet
 * applied zeroes its data (summary and count modes), a switch is marked in
 * its trace (EXT_OFF, EXT_ON), and the capacity comes back unless
 * recording is off. Returns whether recording is off. Owner thread, busy
 * set. Cold. */
#define RT_CONTROL_OFF 1u
#define RT_CONTROL_SEEN_OFF 0x80000000u
/* The ts of a frame entered while recording was off: not a recorded call,
 * its exit records nothing, it adds no time anywhere (now > ts never
 * holds). Its node is its caller's (the thread's root at the top), so its
 * callees entered while recording is on count under the innermost
 * recorded call, as if it were not instrumented. */
#define RT_TS_OFF UINT64_MAX
extern uint32_t rt_control_word RT_HIDDEN;
RT_HIDDEN int rt_control_sync(struct rt_thread *t, uint64_t now);
/* CPROF_START and CPROF_SIGNAL, at process start. */
RT_HIDDEN void rt_control_init(void);
/* Before the data is written: notes (config warning) a program that took
 * over the toggle signal. Signal-safe. */
RT_HIDDEN void rt_control_check_signal(void);
/* The period records [13, ...], when recording was ever switched. */
RT_HIDDEN void rt_control_put_periods(struct mp_out *o);
/* The region records [12, fn, name] of every region so far, each through
 * put (which writes o's buffer out when it fills). Signal-safe. */
RT_HIDDEN void rt_regions_put(struct mp_out *o, void (*put)(struct mp_out *o));
/* Frames [0, depth) of t that are recorded calls (not entered while off). */
RT_HIDDEN uint32_t rt_frames_recorded(const struct rt_thread *t, uint32_t depth);
/* rt_hooks.c: a region's begin and end as a call of its pseudo-function
 * fn, made from the frame whose call of cprof_region_begin had frame
 * address cfa and return address site. Owner thread, busy set. */
RT_HIDDEN void rt_region_enter(struct rt_thread *t, uint64_t fn, uintptr_t site,
                               uintptr_t cfa);
RT_HIDDEN void rt_region_exit(struct rt_thread *t);

/* rt_util.c: the few string helpers the runtime needs without libc's
 * locale machinery; all signal-safe. */
RT_HIDDEN size_t rt_strlcpy(char *dst, const char *src, size_t size);
RT_HIDDEN size_t rt_strlcat(char *dst, const char *src, size_t size);
RT_HIDDEN char *rt_utoa(uint64_t v, char *buf); /* buf >= 21 bytes */
RT_HIDDEN int rt_streq(const char *a, const char *b);

#endif
