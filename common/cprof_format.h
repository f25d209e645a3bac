/*
 * The cprof file format: the one contract between the runtime, which writes
 * it, and the analyzer, which reads it. docs/FORMAT.md explains it in prose;
 * this header is the single source of the numbers both sides build in.
 *
 * A .cprof file is a plain stream of msgpack objects. The first is the header
 * map; every later one is a record: a msgpack array whose first element is a
 * record type (CPROF_REC_*). Any msgpack decoder can walk a file object by
 * object; events inside trace chunks are msgpack integers, not opaque bytes.
 *
 * Versioning: a reader refuses a file whose major version is newer than its
 * own. Minor versions only add header keys, map keys, record types or
 * trailing array elements, which readers skip.
 *
 * Changelog:
 *   1.0  first version: header, module, thread, node (summary and count
 *        modes), trace chunk, clock, thread end and end records.
 *   1.1  line data of functions built with line instrumentation
 *        (cprof-cc --cprof-lines): line records (every mode), line site
 *        records and LINE events (trace mode).
 *   1.2  heap: allocation fields at the end of node records, heap and
 *        freed-owner records, heap keys of the end record, EXT_ALLOC and
 *        EXT_FREE trace events.
 *   1.3  node histograms with 64 buckets per octave (hist_sub_bits 6), the
 *        thread statistic hist_dropped.
 *   1.4  control from the program (<cprof.h>) or outside: region and
 *        recording-period records, EXT_OFF/EXT_ON and EXT_RESET trace
 *        events, end reason "flush" in trace mode (a flush end record
 *        that later records supersede).
 *   1.5  probe-cost header keys (compensation), the trace size cap, CPU
 *        time per node (CPROF_CPU=1), the end reason of a killed process.
 */
#ifndef CPROF_FORMAT_H
#define CPROF_FORMAT_H

#define CPROF_MAGIC "cprof"
#define CPROF_FORMAT_MAJOR 1
#define CPROF_FORMAT_MINOR 5
#define CPROF_FILE_SUFFIX ".cprof"

/*
 * Header: a msgpack map with string keys, always first in the file.
 *   "magic"         str   "cprof"
 *   "version"       array [major, minor]
 *   "mode"          str   "summary" | "trace" | "count"
 *   "clock"         str   "tsc" | "monotonic" | "none" (count mode)
 *   "ticks_per_sec" float first estimate of the tick rate (the end and
 *                         clock records give better ones)
 *   "start_ticks"   uint  tick value at process start
 *   "start_unix_ns" uint  wall clock at process start
 *   "pid", "ppid"   uint
 *   "exe"           str   absolute path of the executable
 *   "argv"          array of str
 *   "hist_sub_bits" uint  sub-buckets per octave, as log2, of node histograms
 *   "fork_parent"   uint  present in a forked child's file: parent pid
 */

/* Record types: the first element of every record array. */
enum cprof_rec {
    /* [1, load_bias, lo, hi, path, build_id]: an ELF object mapped at
     * [lo, hi) whose link-time address of runtime address A is
     * A - load_bias. build_id is a hex str, "" when absent. */
    CPROF_REC_MODULE = 1,
    /* [2, thread, tid, name]: thread is the per-process serial (1 = first
     * thread seen, normally main) used by every other record; tid is the
     * kernel thread id, which the kernel may reuse. */
    CPROF_REC_THREAD = 2,
    /* [3, thread, node, parent, fn, calls, incl_ticks, min_ticks,
     *  max_ticks, hist]: one calling-context-tree node (summary and count
     * modes). node ids are per thread, start at 1 and a parent's id is
     * always smaller than its children's; parent 0 is the thread's root.
     * fn is the function's runtime address. calls counts entries;
     * incl_ticks the time between entry and exit summed over calls (calls
     * still open when the thread was written are closed at that moment);
     * min/max are per-call inclusive ticks of calls that exited (0 when
     * none did). hist is a flat array [bucket, count, bucket, count, ...]
     * of the per-call inclusive ticks, buckets as cprof_hist_bucket(). In
     * count mode the tick fields are 0 and hist is empty.
     * Since 1.2 five more elements follow hist:
     *   alloc_calls, alloc_bytes, free_calls, freed_bytes, peak_bytes
     * allocation calls made while this node's call was the innermost
     * instrumented call (self), with the bytes they requested; frees made
     * likewise, with the requested size of the blocks they freed; and the
     * highest process heap in use (requested bytes of live blocks) seen at
     * an allocation made while this node's call or one of its callees ran
     * (0 when none allocated). Every mode (heap figures need no clock). See
     * CPROF_REC_HEAP for what counts as an allocation. */
    CPROF_REC_NODE = 3,
    /* [4, thread, base_ticks, events]: a chunk of one thread's trace.
     * events is an array of uints, read as tokens; see CPROF_EV_*. A
     * thread's chunks appear in the file in the order they were recorded. */
    CPROF_REC_TRACE = 4,
    /* [5, ticks, mono_ns]: a calibration point, the tick counter and
     * CLOCK_MONOTONIC read together. Written at start and before trace
     * chunks, so a file cut short still converts ticks to time. */
    CPROF_REC_CLOCK = 5,
    /* [6, thread, stats]: the end of a thread's data; stats is a map of
     * counters, see CPROF_STAT_* below. */
    CPROF_REC_THREAD_END = 6,
    /* [7, info]: the end of the process's data; info is a map:
     *   "reason"        str  "exit" | "signal" | "exec" | "flush"
     *   "signal"        uint signal number when reason is "signal"
     *   "end_ticks"     uint
     *   "end_unix_ns"   uint
     *   "ticks_per_sec" float the calibrated tick rate over the whole run
     *   "threads"       uint  threads seen
     *   "threads_lost"  uint  threads that could not be profiled
     * and since 1.2:
     *   "heap_in_use"   uint  requested bytes of blocks live at the end
     *   "heap_peak"     uint  the highest heap_in_use during the run
     *   "heap_blocks"   uint  blocks live at the end
     *   "peak_rss"      uint  peak resident set size, bytes (getrusage)
     *   "foreign_frees" uint  frees and reallocs of blocks cprof did not
     *                         allocate (passed on to libc, not counted)
     *   "heap_dropped"  uint  allocation and free calls counted for no
     *                         thread (made while the runtime was busy on
     *                         the thread, before it started, or after the
     *                         thread's data was written); the heap_* keys
     *                         above include them
     * The heap keys are absent when the process's heap was not tracked
     * (its malloc was not cprof's: ASan, another allocator, static glibc);
     * the file then has no heap records either.
     * and since 1.5, in trace mode (CPROF_TRACE_MAX):
     *   "trace_max"        uint  the cap on the trace chunks' bytes, when
     *                            one was set
     *   "trace_stop_ticks" uint  when the cap was reached: no trace chunk
     *                            was written after it (absent: it was not)
     * A file without it was cut short (killed, crashed in the writer). */
    CPROF_REC_END = 7,
    /* [8, thread, fn, func, file, line, hits, time_ticks, self_ticks]: one
     * source line of a function built with line instrumentation, summed
     * over the thread's run (every mode). fn is the function's runtime
     * address, func its name and file its source file as the compiler's
     * debug information gives them. hits counts the times control entered
     * the line's code from elsewhere (a new basic block or a line change);
     * time_ticks the time from each hit to the next line event in the same
     * call (callees included); self_ticks the same less the time spent in
     * instrumented callees. Tick fields are 0 in count mode. */
    CPROF_REC_LINE = 8,
    /* [9, thread, site, fn, func, file, line]: defines a line site index of
     * the thread's trace (trace mode), before the first chunk that uses it.
     * Fields as in CPROF_REC_LINE. */
    CPROF_REC_LINE_SITE = 9,
    /* [10, thread, stats]: the thread's heap totals (every mode, since 1.2),
     * a map of uints:
     *   "alloc_calls", "alloc_bytes", "free_calls", "freed_bytes"
     *                   everything the thread did
     *   "outside_alloc_calls", "outside_alloc_bytes", "outside_free_calls",
     *   "outside_freed_bytes"
     *                   the part done with no instrumented call open
     * Allocation calls: malloc, calloc, realloc, reallocarray,
     * posix_memalign, aligned_alloc, memalign, valloc, pvalloc (and the
     * libc functions that allocate through them, strdup and the like);
     * bytes are the requested sizes (calloc: n * size). A realloc of a live
     * block counts as a free of the old block and an allocation of the new
     * one; realloc(NULL, n) is an allocation, realloc(p, 0) a free. A free
     * of NULL or of a block cprof did not allocate is not counted.
     *   "owners_lost_calls", "owners_lost_bytes"
     *                   present when not 0: frees counted above whose
     *                   owner has no CPROF_REC_FREED record (the thread's
     *                   table of owners could not grow) */
    CPROF_REC_HEAP = 10,
    /* [11, thread, owner_thread, owner, free_calls, freed_bytes]: blocks the
     * thread freed (or reallocated) that were allocated by thread
     * owner_thread of this process while owner was its innermost call:
     * owner is a node id in summary and count modes, a function index in
     * trace mode, 0 when no instrumented call was open. owner_thread 0:
     * blocks allocated before a fork, by the parent process, or counted
     * for no thread (the end record's heap_dropped; owner 0). Since 1.2.
     * What a node or function allocated less what all threads freed of it
     * is what it left allocated at the end (leaks). */
    CPROF_REC_FREED = 11,
    /* [12, fn, name]: a user-named region (cprof_region_begin): fn is the
     * pseudo-function address its calls carry in node records, trace
     * events and owners, name its name. fn values of regions have the
     * CPROF_FN_REGION_BIT set, which no code address has. Written before
     * the first record that uses fn. Since 1.4. */
    CPROF_REC_REGION = 12,
    /* [13, on_ticks, off_ticks, how_on, how_off]: a period during which
     * recording was on (process-wide). off_ticks 0: still on when the file
     * was written. how_*: "start" (the process began with recording on),
     * "api" (cprof_start/cprof_stop), "signal" (CPROF_SIGNAL), "env"
     * (CPROF_START=off at start), "end". Every period of the run, in order;
     * absent when recording was never switched. Since 1.4. */
    CPROF_REC_PERIOD = 13,
};

/* Set in the fn of every region (CPROF_REC_REGION); never in a code
 * address on the platforms cprof supports (user space is below 2^47). */
#define CPROF_FN_REGION_BIT (1ull << 62)

/*
 * Thread statistics (keys of the CPROF_REC_THREAD_END map). Every key is a
 * uint; absent means 0.
 */
/* calls recorded (summary and count modes; a trace counts its own events) */
#define CPROF_STAT_ENTERS "enters"
/* events that arrived while the runtime itself was running on the thread
 * (a signal handler interrupting a hook): dropped, enter and exit alike */
#define CPROF_STAT_DROPPED_REENTRANT "dropped_reentrant"
/* calls deeper than the shadow stack (CPROF_MAX_DEPTH) */
#define CPROF_STAT_DROPPED_DEPTH "dropped_depth"
/* calls that found no tree node (CPROF_MAX_NODES): counted under the
 * pseudo-function at address CPROF_FN_NODE_LIMIT instead of their own */
#define CPROF_STAT_DROPPED_NODES "dropped_nodes"
/* frames closed because control left them without an exit (longjmp) */
#define CPROF_STAT_REPAIRED_LONGJMP "repaired_longjmp"
/* frames still open when the thread or process ended: closed at that moment
 * in what was written */
#define CPROF_STAT_CLOSED_AT_END "closed_at_end"
/* exits that matched no open frame */
#define CPROF_STAT_UNMATCHED_EXITS "unmatched_exits"
/* line events whose site belongs to another function than the innermost
 * open call (that call's enter was dropped, or the function is not
 * instrumented): hits counted, no time measured */
#define CPROF_STAT_LINES_UNMATCHED "lines_unmatched"
/* line hits not counted under their own site: under the line-limit record
 * (fn CPROF_FN_NODE_LIMIT, file "", line 0) because the thread's table of
 * line sites was full, or not at all when there was no memory for one */
#define CPROF_STAT_LINES_DROPPED "lines_dropped"
/* completed calls (summary mode) whose time is in their node's min, max
 * and total but not in its histogram: the thread's memory for histograms
 * (CPROF_HIST_MEMORY) was spent, or a bucket's counter was full. Written
 * only when not 0, by runtimes with 64-bucket histograms (a 1.2 reader
 * skips it as any unknown key). */
#define CPROF_STAT_HIST_DROPPED "hist_dropped"
/* bytes of trace chunks written */
#define CPROF_STAT_TRACE_BYTES "trace_bytes"
/* trace mode (1.5): calls (ENTER events) the thread made that are not in
 * the file because the trace reached CPROF_TRACE_MAX; written only when
 * not 0 */
#define CPROF_STAT_TRACE_STOPPED_CALLS "trace_stopped_calls"
/* summary and count modes (1.5): in the thread-end record of the folded
 * thread (serial CPROF_THREAD_FOLDED), the ended threads merged into it */
#define CPROF_STAT_FOLDED_THREADS "folded_threads"

/*
 * Trace event tokens. Each event starts with a uint token:
 *   kind  = token & 3
 *   delta = token >> 2   ticks since the thread's previous event (the first
 *                        event of a chunk counts from the chunk's base_ticks)
 * and continues with operands, each one more uint in the events array:
 *   ENTER  fn_index          a call; fn_index was defined by EXT_FUNC
 *   EXIT                     the innermost open call returns
 *   LINE   site_index        control entered a line of the innermost open
 *                            call; site_index was defined by a
 *                            CPROF_REC_LINE_SITE record
 *   EXT    code, operands    see CPROF_EXT_*
 * Function indexes are per thread and stay valid across that thread's
 * chunks.
 */
enum cprof_ev {
    CPROF_EV_ENTER = 0,
    CPROF_EV_EXIT = 1,
    CPROF_EV_LINE = 2,
    CPROF_EV_EXT = 3,
};
#define CPROF_EV_KIND_BITS 2

enum cprof_ext {
    /* EXT_FUNC fn_index fn_address: defines an index, before its first use */
    CPROF_EXT_FUNC = 1,
    /* EXT_INHERITED n fn_index*n: a forked child starts inside these n
     * frames (outermost first); they were counted as calls by the parent */
    CPROF_EXT_INHERITED = 2,
    /* EXT_UNWIND reason n: the runtime closed the n innermost frames here:
     * reason 1 = control left them without exit (longjmp), 2 = the thread
     * or process ended with them open */
    CPROF_EXT_UNWIND = 3,
    /* EXT_DROP n: n events were dropped here (re-entrancy, depth limit) */
    CPROF_EXT_DROP = 4,
    /* EXT_ALLOC bytes heap: the innermost open call (none: outside calls)
     * allocated a block of bytes; heap is the process heap in use after it.
     * Since 1.2. */
    CPROF_EXT_ALLOC = 5,
    /* EXT_FREE bytes heap: the innermost open call freed a block of bytes;
     * heap as for EXT_ALLOC. Since 1.2. */
    CPROF_EXT_FREE = 6,
    /* EXT_OFF: recording was switched off here on this thread's timeline
     * (events stop until EXT_ON); EXT_ON: switched back on. Calls open at an
     * EXT_OFF stay open and are closed by their exits as usual. Since 1.4. */
    CPROF_EXT_OFF = 7,
    CPROF_EXT_ON = 8,
    /* EXT_RESET: cprof_reset() took effect here on this thread's timeline:
     * what the thread recorded before it is dropped (counts, times, line
     * and heap figures from zero, as summary mode's reset does); calls
     * open here go on as if entered here, each counting once with its time
     * from here. No operands. Since 1.4. */
    CPROF_EXT_RESET = 9,
};

/* The function address of the node that holds calls made after a thread ran
 * out of nodes (see CPROF_STAT_DROPPED_NODES). */
#define CPROF_FN_NODE_LIMIT 1u

/* The thread serial of the folded thread (1.5, summary and count modes):
 * the data of the threads that ended after the first 256 written on their
 * own, merged into one (its thread-end record's folded_threads says how
 * many). Its thread record has tid 0 and the name "[folded threads]". */
#define CPROF_THREAD_FOLDED 0xffffffffu

enum cprof_unwind_reason {
    CPROF_UNWIND_LONGJMP = 1,
    CPROF_UNWIND_END = 2,
};

/*
 * Node histograms: log-linear buckets of per-call inclusive ticks with
 * 2^sub_bits buckets per octave (the header's "hist_sub_bits"). Values
 * below 2^sub_bits have a bucket each. The relative width of a bucket is at
 * most 2^-sub_bits, so its midpoint is within 2^-(sub_bits+1) of any value
 * in it. The runtime writes sub_bits 6 (0.8%); runtimes before it wrote 2
 * (12.5%), and readers take any sub_bits up to 8 from the header. Buckets
 * of 64-bit values are below (65 - sub_bits) << sub_bits.
 */
static inline unsigned cprof_hist_bucket(unsigned long long ticks, unsigned sub_bits)
{
    if (ticks < (1ull << sub_bits))
        return (unsigned)ticks;
    unsigned msb = 63u - (unsigned)__builtin_clzll(ticks);
    unsigned shift = msb - sub_bits;
    return ((shift + 1u) << sub_bits) +
           (unsigned)((ticks >> shift) & ((1ull << sub_bits) - 1u));
}

/* The smallest tick value that falls in bucket b (all ones for the bucket
 * after the last one: its values would not fit in 64 bits). */
static inline unsigned long long cprof_hist_bucket_low(unsigned b, unsigned sub_bits)
{
    unsigned long long per = 1ull << sub_bits;
    if (b < per)
        return b;
    unsigned shift = (b >> sub_bits) - 1u;
    if (shift >= 64u - sub_bits) /* past the 64-bit range: the end of the last bucket */
        return ~0ull;
    return (per + (b & (per - 1u))) << shift;
}

#endif
