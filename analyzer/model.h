/*
 * The model: what every view reads. Files are loaded into processes, each
 * with its threads, each thread with its calling-context tree, whether the
 * file was recorded in summary mode (the tree comes ready-made in node
 * records) or in trace mode (the tree is rebuilt by replaying the events).
 * Functions are identified across processes by the module they live in and
 * their link-time address, so the same function in several runs merges.
 *
 * Line data (format 1.1: line records of functions built with line
 * instrumentation) is merged over threads and processes by function, file
 * and line into model.lines, already in nanoseconds (model_lines.c).
 *
 * Heap data (format 1.2: allocation fields of node records, heap and
 * freed-owner records, EXT_ALLOC/EXT_FREE trace events) stays on the nodes
 * and threads it belongs to; what each allocating function left allocated
 * at the end is worked out per process once it is loaded (model_heap.c).
 *
 * Control data (format 1.4: region and period records, EXT_OFF/EXT_ON
 * trace events; model_control.c): a region is a function named by the
 * program (cprof_region_begin), merged across threads and processes by its
 * name; periods say when recording was on, per process.
 *
 * Times stay in the recording clock's ticks per process; m_process.ns_per_tick
 * converts them. Nothing is symbolized here: views ask sym.h with a
 * function's module path and address.
 */
#ifndef CPROF_MODEL_H
#define CPROF_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "hashmap.h"
#include "util.h"

#define M_NONE UINT32_MAX

struct mp_in;
struct progress;
struct rd_record;

/* An ELF object functions live in, merged across processes by path and
 * build id. */
struct m_module {
    char *path;
    char *build_id;       /* hex, "" when none */
    struct hashmap funcs; /* link-time address -> model.funcs index */
};

/* A function: module and link-time address. Index 0.. in model.funcs. */
struct m_func {
    uint32_t module; /* index in model.modules, M_NONE when no module held it */
    uint64_t addr;   /* link-time address; the runtime address when module is M_NONE */
    int node_limit;  /* the pseudo-function holding calls past CPROF_MAX_NODES */
    int has_lines;   /* some line record names it (see model.lines) */
    /* a region (format 1.4): its name (model.strings), the same function
     * in every thread and process that names a region so; NULL for code */
    const char *region;
};

/* One source line of a function built with line instrumentation, summed
 * over every thread and process loaded. */
struct m_line {
    uint32_t func;         /* model.funcs index */
    uint32_t next;         /* the same func and line in another file; M_NONE */
    const char *func_name; /* the name the compiler gave (model.strings) */
    const char *file;      /* the source file as recorded (model.strings) */
    uint32_t line;
    uint64_t hits;  /* times control entered the line from elsewhere */
    double time_ns; /* from each hit to the next line event of the call */
    double self_ns; /* the same less the time in instrumented callees */
};

/* One (bucket, count) pair of a node's per-call time histogram. */
struct m_bucket {
    uint32_t bucket;
    uint64_t count;
};

/* A calling-context tree node: one function reached by one call path. */
struct m_node {
    uint32_t parent;       /* node index, M_NONE for the root */
    uint32_t func;         /* model.funcs index once loaded; M_NONE for the root */
    uint32_t first_child;  /* M_NONE when none */
    uint32_t next_sibling; /* M_NONE when last */
    uint64_t calls;
    uint64_t incl_ticks;           /* inclusive time summed over calls */
    uint64_t min_ticks, max_ticks; /* over completed calls; 0, 0 when none */
    uint64_t completed;            /* calls that completed (min/max/hist cover these) */
    struct m_bucket *hist;         /* sorted by bucket (model_hist_add) */
    uint32_t hist_len, hist_cap;
    /* heap (1.2): allocations and frees made while this node's call was the
     * innermost one, requested bytes; peak_bytes the highest process heap
     * in use at an allocation in its subtree (0 when none allocated) */
    uint64_t alloc_calls, alloc_bytes, free_calls, freed_bytes, peak_bytes;
    /* CPU time (1.5, CPROF_CPU=1): the thread's CPU time during this node's
     * calls, inclusive, in ns; meaningful when the process has_cpu */
    uint64_t cpu_ns;
};

/* Heap counters of a thread (a CPROF_REC_HEAP record): everything it did,
 * and the part done with no instrumented call open. */
struct m_heap {
    uint64_t alloc_calls, alloc_bytes, free_calls, freed_bytes;
    uint64_t outside_alloc_calls, outside_alloc_bytes, outside_free_calls,
        outside_freed_bytes;
    uint64_t owners_lost_calls, owners_lost_bytes; /* written only when not 0 */
};

/* A CPROF_REC_FREED record, kept until the process is finished: blocks
 * thread `thread` freed that thread owner_thread allocated under owner (a
 * node id, or a trace function index; 0 outside calls). */
struct m_freed {
    uint32_t thread, owner_thread;
    uint64_t owner, free_calls, freed_bytes;
};

/* What one allocating function of a process left allocated at the end. */
struct m_leak {
    uint32_t func; /* model.funcs index */
    uint64_t blocks, bytes;
};

/* Counters a thread's runtime reported (CPROF_STAT_*) plus what the model
 * itself had to repair. */
struct m_stats {
    uint64_t enters, dropped_reentrant, dropped_depth, dropped_nodes;
    uint64_t repaired_longjmp, closed_at_end, unmatched_exits, trace_bytes;
    uint64_t lines_unmatched;  /* line events outside a call of their function */
    uint64_t lines_dropped;    /* line hits counted under [line limit] */
    uint64_t dropped_events;   /* trace DROP events */
    uint64_t cut_open;         /* frames open when a cut-short trace ended */
    uint64_t heap_dropped;     /* allocation calls counted for no thread (end record) */
    uint64_t heap_owners_lost; /* frees whose allocating owner was not recorded */
    uint64_t hist_dropped;     /* completed calls left out of node histograms */
    uint64_t recording_off;    /* trace EXT_OFF events: recording stopped (1.4) */
    uint64_t resets;           /* trace EXT_RESET events: data dropped (1.4) */
    uint64_t trace_stopped_calls; /* calls left out past CPROF_TRACE_MAX (1.5) */
    uint64_t folded_threads;      /* ended threads merged into this one (1.5) */
};

struct m_trace_state;
struct m_thread;

/*
 * How the trace replay closed a call (m_trace_observer.call): the call
 * returned, control left it by longjmp (EXT_UNWIND 1), the runtime closed it
 * at the end of the thread or process (EXT_UNWIND 2), or the data ended
 * with it open (a cut-short file, or no unwind event at the end).
 */
enum m_close { M_CLOSE_EXIT, M_CLOSE_LONGJMP, M_CLOSE_END, M_CLOSE_CUT };

/*
 * A streaming consumer of the trace replay (`cprof export --format
 * chrome`): told of every call as it closes and every heap event, in the
 * order of the thread's events, while a file loads. Times are the thread's
 * ticks; local_fn a process-local function (m_process.local_fn_addr).
 */
struct m_trace_observer {
    void (*call)(void *ctx, const struct m_thread *t, uint32_t local_fn,
                 uint64_t start_ticks, uint64_t end_ticks, size_t depth, int inherited,
                 enum m_close how);
    void (*heap)(void *ctx, const struct m_thread *t, int alloc, uint64_t bytes,
                 uint64_t heap, uint64_t now_ticks); /* may be NULL */
    void *ctx;
};

struct m_thread {
    struct m_process *proc;
    uint32_t serial; /* the per-process thread number of the file */
    uint64_t tid;
    char *name;
    struct m_node *nodes; /* nodes[0] is the root */
    size_t nnodes, cap;
    struct hashmap children;  /* (parent << 32 | local fn) -> node, trace mode */
    struct hashmap ids;       /* file node id -> node, summary mode */
    uint64_t *node_parent_id; /* file parent id per node while loading */
    size_t parent_id_cap;
    struct m_stats stats;
    int ended;    /* a thread-end record was seen */
    int excluded; /* the tid filter leaves it out */
    struct m_trace_state *trace;
    uint32_t *line_sites; /* trace line site index -> local fn; M_NONE: undefined */
    size_t nline_sites;
    struct m_heap heap;        /* its heap record, or what the trace replay saw */
    struct m_heap heap_replay; /* what the trace replay saw */
    int heap_seen;             /* a heap record was read */
};

/* A CPROF_REC_PERIOD record (1.4): recording was on from on_ticks to
 * off_ticks (0: still on when the file was written); how_* say what
 * switched it ("start", "api", "signal", "env", "end"; model.strings). */
struct m_period {
    uint64_t on_ticks, off_ticks;
    const char *how_on, *how_off;
};

struct m_proc_module {
    uint64_t lo, hi, bias;
    char *path, *build_id;
    uint32_t module; /* model.modules index, once the process is loaded */
};

/* A line record of one process, kept until the process's functions and
 * tick rate are known (model_lines_merge). */
struct m_proc_line {
    struct m_thread *thread;
    uint32_t local_fn;
    const char *func_name, *file; /* model.strings */
    uint32_t line;
    uint64_t hits, time_ticks, self_ticks;
};

struct m_process {
    char *file;
    char *mode, *clock, *exe;
    char **argv;
    size_t argc;
    uint64_t pid, ppid, fork_parent;
    int parent_missing; /* forked, and no file of the parent (model_check_parents) */
    unsigned hist_sub_bits;
    double ticks_per_sec; /* best known: end record, clock records, header */
    double header_ticks_per_sec;
    char **config_warnings; /* invalid CPROF_* settings the runtime reported */
    size_t nconfig_warnings;
    double ns_per_tick; /* 0 in count mode */
    uint64_t start_ticks, end_ticks, start_unix_ns;
    uint64_t clock_first_ticks, clock_first_ns, clock_last_ticks, clock_last_ns;
    int nclocks;
    int complete;     /* the end record was seen */
    char *end_reason; /* "exit", "signal", "exec", NULL when cut short */
    uint64_t end_signal, threads_lost;
    uint64_t threads_seen;    /* the end record's `threads`: 0 when absent */
    double end_ticks_per_sec; /* the end record's tick rate: 0 when absent */
    struct m_proc_module *modules;
    size_t nmodules, modules_cap;
    uint64_t *local_fn_addr; /* runtime addresses of the functions seen */
    size_t nlocal, local_cap;
    struct hashmap local_fn; /* runtime address -> local index */
    uint32_t *local_to_func; /* local index -> model.funcs, after loading */
    struct m_thread **threads;
    size_t nthreads, threads_cap;
    struct m_proc_line *lines;
    size_t nlines, lines_cap;
    unsigned format_minor;
    /* heap (1.2). has_heap: the file holds heap figures (a 1.1 file, or a
     * runtime that did not record them, has none: its zeros mean nothing) */
    int has_heap;
    uint64_t heap_in_use, heap_peak, heap_blocks, peak_rss, foreign_frees;
    int has_cpu; /* nodes carry cpu_ns (1.5, recorded with CPROF_CPU=1) */
    /* probe cost (1.5, the header's probe_* keys; has_probe: present), ns */
    int has_probe;
    double probe_call_ns, probe_inner_ns, probe_line_ns;
    uint64_t heap_dropped; /* allocation calls counted for no thread */
    int end_heap;          /* the end record had the heap keys */
    struct m_freed *freed;
    size_t nfreed, freed_cap;
    /* after loading: per allocating function, what was left allocated */
    struct m_leak *leaks;
    size_t nleaks;
    /* trace mode: each completed call's ticks per local function, while
     * within the limits of model_pct.c (moved to model.exact at the end) */
    struct m_proc_exact *exact;
    size_t nexact;
    /* left allocated by the included threads outside instrumented calls,
     * and frees of blocks whose allocating call was not recorded */
    uint64_t outside_leak_blocks, outside_leak_bytes;
    uint64_t unresolved_free_calls, unresolved_freed_bytes;
    /* control (1.4, model_control.c): region names by region fn (the
     * runtime's pseudo-address), and the recording periods in order */
    struct hashmap regions; /* region fn -> index in region_names */
    const char **region_names;
    size_t nregions, regions_cap;
    struct m_period *periods;
    size_t nperiods, periods_cap;
    int periods_ended; /* an end record came after them: a later period
                          record starts the list anew (a trace flush) */
    /* trace size cap (1.5): CPROF_TRACE_MAX in bytes (0: none or not
     * said), and when the trace stopped at it (0: it did not) */
    uint64_t trace_max, trace_stop_ticks;
};

/* What to load: 0 means everything. */
struct m_filter {
    uint64_t pid;
    uint64_t tid;
};

/* One kind of runtime report (a counter, a death by signal) summed over
 * processes, so that a test suite's hundreds of runs give one warning
 * each, not hundreds. */
#define M_NOTES 15
struct m_note {
    uint64_t total;  /* the counter summed over processes */
    size_t procs;    /* processes that reported it */
    char who[3][96]; /* the first few, as "prog[pid]" */
    size_t warning;  /* its index in model.warnings + 1; 0 before the first */
};

struct model {
    struct m_process **procs;
    size_t nprocs, procs_cap;
    struct m_module *modules;
    size_t nmodules, modules_cap;
    struct m_func *funcs;
    size_t nfuncs, funcs_cap;
    struct hashmap unmapped_funcs; /* runtime address -> funcs, no module */
    uint32_t node_limit_func;      /* M_NONE until needed */
    struct m_filter filter;
    struct warnings warnings;
    /* the subset of warnings that say a file is damaged or cut short: the
     * report still shows what it holds, but the command fails */
    struct warnings damage;
    struct m_note notes[M_NOTES];
    int timed;            /* some process recorded times (not only count mode) */
    struct m_line *lines; /* line data, in the order first seen */
    size_t nlines, lines_cap;
    struct hashmap line_index; /* func << 32 | line -> first m_line */
    struct hm_strings strings; /* one copy of each name the line records give */
    int heap;                  /* some process has heap data (format 1.2) */
    /* per model.funcs index: the exact per-call times traces gave
     * (model_pct.c); nexact entries, the rest have none */
    struct m_exact *exact;
    size_t nexact;
    uint64_t exact_kept; /* times held, over every function */
    /* trace replay: told of each call and heap event as it is replayed
     * (NULL: nobody listens); model_init clears it */
    const struct m_trace_observer *observer;
    /* told of each file and record read (progress.h); NULL: nobody */
    struct progress *progress;
    struct hashmap region_funcs; /* interned region name -> funcs (model_control.c) */
};

void model_init(struct model *m);
void model_free(struct model *m);

/*
 * Loads one .cprof file. Returns 0 when its data (maybe only part of it)
 * was added, 1 when the filter excluded the process, -1 when nothing could
 * be used: then msg (of msglen bytes) says why, without the path. Damage
 * after the header keeps what came before it and adds a warning.
 */
int model_load_file(struct model *m, const char *path, char *msg, size_t msglen);
/* The same from memory (tests, fuzzing); name stands for the path. */
int model_load_mem(struct model *m, const char *name, const void *data, size_t len,
                   char *msg, size_t msglen);

/*
 * Loads PATH: a .cprof file, or a directory whose *.cprof files are all
 * loaded (sorted by name). Prints one "cprof: PATH: reason" line per file
 * that could not be used. Returns CPROF_EXIT_OK when at least one process
 * was loaded and no file failed, CPROF_EXIT_DATA otherwise (with the
 * message printed when nothing at all was loaded).
 */
int model_load_path(struct model *m, const char *path);

/*
 * After every path is loaded: a forked child whose parent process has no
 * file among the data gets a warning (the parent ended through _exit(), as
 * in daemon(), or was killed before writing; or its file was not given)
 * and is marked parent_missing, which cprof audit counts as a loss. Not
 * checked when a --pid filter picked one process.
 */
void model_check_parents(struct model *m);

/* Warnings of the runtime's reports (model_notes.c): the kinds past the
 * thread counters; model_note adds count occurrences of a kind by process
 * who and rewrites that kind's warning; model_stat_warnings adds a
 * process's counters. */
enum { M_NOTE_KILLED = 13, M_NOTE_THREADS_LOST = 14 };
void model_note(struct model *m, size_t kind, const char *who, uint64_t count);
void model_stat_warnings(struct model *m, struct m_process *p, const struct m_stats *s);
/* "trace stopped at 1.00 GiB (CPROF_TRACE_MAX) after 12.3 s of 40.1 s"
 * (the times when known) for a process whose trace stopped at its cap;
 * NULL when it did not. The caller frees it. */
char *model_trace_stop_text(const struct m_process *p);
/* The last component of path. */
const char *model_basename(const char *path);

/* Helpers for the loaders (model.c, model_records.c, model_trace.c). */
struct m_thread *model_thread(struct m_process *p, uint32_t serial);
uint32_t model_local_fn(struct m_process *p, uint64_t addr);
/* Sets (*table)[index] = value in a table of *len entries indexed by a
 * file's own numbering (trace function or line site indexes), growing it
 * with M_NONE (undefined) entries as needed. */
void model_index_set(uint32_t **table, size_t *len, uint64_t index, uint32_t value);
struct m_node *model_node_new(struct m_thread *t, uint32_t parent, uint32_t local_fn,
                              uint32_t *index);
void model_hist_add(struct m_node *n, uint32_t bucket, uint64_t count);
/* A map of uint counters (the last field of thread-end and heap records):
 * the value of keys[i].key goes to values[keys[i].index]; other keys are
 * skipped. Returns 0, or -1 with msg naming the bad entry. */
struct m_key {
    const char *key;
    size_t index;
};
int model_uint_map(struct rd_record *rec, const struct m_key *keys, size_t nkeys,
                   uint64_t *values, const char *what, char *msg, size_t msglen);
/* One record of p's file into the model (model_records.c): 0 when it was
 * read, or is of a type from a newer minor version (skipped); -1 with msg
 * saying what was wrong, or with rd_failed() set when the damage is inside
 * an open record (reader.h), whose message the reader has. */
int model_record(struct model *m, struct m_process *p, struct rd_record *rec, char *msg,
                 size_t msglen);
/* Trace records: replay [thread, base_ticks, events] into the thread's
 * tree. Returns 0, or -1 with msg set when the chunk is malformed; -1 with
 * rd_failed() set when an open record (reader.h) is damaged or cut short,
 * which the reader's message says (the events before the damage are
 * replayed). */
int model_trace_chunk(struct model *m, struct m_process *p, struct rd_record *rec,
                      char *msg, size_t msglen);
/* Ends a thread's replay: frames still open are closed at the last event. */
void model_trace_finish(struct m_thread *t);
void model_trace_free(struct m_thread *t);
/* The process-local function of trace function index index of thread t,
 * M_NONE when none was defined. */
uint32_t model_trace_fn(const struct m_thread *t, uint64_t index);

/* Line records (model_lines.c). [8, ...] into the process's list and
 * [9, ...] into the thread's site table; each returns 0, or -1 with msg
 * saying which field was wrong. */
int model_line_rec(struct model *m, struct m_process *p, struct rd_record *rec, char *msg,
                   size_t msglen);
int model_line_site_rec(struct model *m, struct m_process *p, struct rd_record *rec,
                        char *msg, size_t msglen);
/* Whether a trace's LINE event may use site index site of thread t. */
int model_line_site_defined(const struct m_thread *t, uint64_t site);
/* Drops the line records of threads the filter excluded (before they are
 * freed), and, once the process's functions are mapped and its tick rate
 * known, adds the rest to model.lines. */
void model_lines_drop_excluded(struct m_process *p);
void model_lines_merge(struct model *m, struct m_process *p);
/* Whether file names a and b are one file: equal, or one absolute and
 * ending in the other (relative) one at a '/'. */
int model_same_file(const char *a, const char *b);
/* Sorts one function's lines for showing: those in its own file first
 * (model_same_file), then by file and line. */
void model_lines_sort(const struct m_line **lines, size_t n, const char *own_file);
/* Heap records (model_heap.c): [10, ...] into the thread's totals and
 * [11, ...] into the process's list; each returns 0, or -1 with msg naming
 * the field that was wrong. model_node_heap reads the five heap fields
 * that follow a 1.2 node record's histogram. */
int model_heap_rec(struct model *m, struct m_process *p, struct rd_record *rec, char *msg,
                   size_t msglen);
int model_freed_rec(struct model *m, struct m_process *p, struct rd_record *rec,
                    char *msg, size_t msglen);
int model_node_heap(struct m_node *n, uint64_t id, struct rd_record *rec, char *msg,
                    size_t msglen);
/* One end-record key if it is a heap key: 1 when it was (read into p), 0
 * when it is another key (nothing read), -1 when its value is bad. */
int model_end_heap_key(struct m_process *p, struct mp_in *in, char *msg, size_t msglen);
/* Once the process's functions are mapped and before its threads are
 * finished: propagates trace peaks up the trees, settles thread totals and
 * works out the process's leaks. Frees the freed-owner list. */
void model_heap_finish(struct model *m, struct m_process *p);
/* Process-wide heap totals, summed over the processes with heap data
 * (peaks: the largest). */
struct m_heap_totals {
    size_t procs;                         /* processes with heap data */
    struct m_heap heap;                   /* summed over their threads */
    uint64_t peak_bytes;                  /* largest heap_peak */
    uint64_t peak_rss_bytes;              /* largest peak_rss */
    uint64_t leaked_bytes, leaked_blocks; /* end records' heap_in_use, heap_blocks */
    uint64_t foreign_frees;
    uint64_t func_leaked_bytes, func_leaked_blocks; /* the part by functions */
    uint64_t outside_leaked_bytes, outside_leaked_blocks;
};
void model_heap_totals(const struct model *m, struct m_heap_totals *out);

/*
 * Control records (model_control.c, format 1.4). model_region_rec reads
 * [12, fn, name], model_period_rec [13, on, off, how_on, how_off]; each
 * returns 0, or -1 with msg naming the field that was wrong.
 * model_region_check: 0 when fn is a code address or a region some region
 * record named, else -1 with msg saying that user (e.g. "node record 4 of
 * thread 1") uses an undefined region. model_region_func: the model
 * function of a region fn of p (defined), merged by name over processes.
 */
int model_region_rec(struct model *m, struct m_process *p, struct rd_record *rec,
                     char *msg, size_t msglen);
int model_period_rec(struct model *m, struct m_process *p, struct rd_record *rec,
                     char *msg, size_t msglen);
int model_region_check(const struct m_process *p, uint64_t fn, const char *user,
                       char *msg, size_t msglen);
uint32_t model_region_func(struct model *m, const struct m_process *p, uint64_t fn);
void model_control_free(struct m_process *p);

/*
 * Latency percentiles (model_pct.c). Each completed call counts once with
 * its own inclusive time (a recursive function's inner calls too), the
 * calls min_ns and max_ns cover. Trace mode keeps every such time of a
 * function while the function has at most M_EXACT_PER_FUNC of them and the
 * model holds at most M_EXACT_TOTAL in all; past either, the function's
 * percentiles come from its node histograms like summary mode's.
 */
#define M_EXACT_PER_FUNC 100000u
#define M_EXACT_TOTAL 8000000u
struct m_proc_exact {
    uint64_t *ticks;
    size_t n, cap;
    int over; /* went past a limit: no times kept */
};
struct m_exact {
    double *ns;
    size_t n, cap;
    int over;
};
/* Trace replay: a completed call of local function local_fn took ticks. */
void model_exact_add(struct model *m, struct m_process *p, uint32_t local_fn,
                     uint64_t ticks);
/* Trace replay (EXT_RESET): the times kept of local_fn are dropped, and no
 * more are kept (its percentiles come from its histogram). */
void model_exact_drop(struct model *m, struct m_process *p, uint32_t local_fn);
/* Once the process's functions and tick rate are known: its times into
 * model.exact. */
void model_exact_merge(struct model *m, struct m_process *p);
void model_exact_free(struct model *m);
void model_proc_exact_free(struct m_process *p);

/* One value with its number of calls, for percentile estimates. */
struct m_sample {
    double ns;
    uint64_t count;
};
/* The estimate of a histogram bucket, in ticks: the midpoint of the
 * bucket's values (of sub_bits), clamped to [min_ticks, max_ticks] of the
 * node it is from. */
double model_bucket_value(uint32_t bucket, unsigned sub_bits, uint64_t min_ticks,
                          uint64_t max_ticks);
/* The relative error bound of estimates from histograms of sub_bits. */
double model_hist_error(unsigned sub_bits);
/* Nearest-rank percentiles of the calls samples count (sorted in place by
 * value): out[i] is the value of the call of rank ceil(pcts[i]/100 * calls)
 * (at least 1) in increasing order, pcts[i] in (0, 100]. Returns 0, or -1
 * when the samples count no call. */
int model_percentiles(struct m_sample *samples, size_t nsamples, const double *pcts,
                      size_t npcts, double *out);

/* The next field of a record as a uint no larger than max, or as a string
 * without NUL bytes (interned): NULL, or what is wrong with it ("missing",
 * "not a string", ...) for a message that names the field. */
const char *model_field_uint(struct rd_record *rec, uint64_t *v, uint64_t max);
const char *model_field_str(struct model *m, struct rd_record *rec, const char **s);

/* The interned copy of the n bytes at s. */
const char *model_intern(struct model *m, const char *s, size_t n);
void model_lines_free(struct model *m);

#endif
