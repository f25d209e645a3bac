/*
 * Builders of small .cprof files in memory for the analyzer's unit tests:
 * a header, then records written one call each, with trace events given in
 * a compact text form so that a test's input reads like the run it stands
 * for:
 *
 *   "f1=0x1100 @100 e1 @150 e1 @170 x @200 x"
 *
 * f<i>=<addr> defines function index i; @<t> sets the time (in ticks) of
 * the events that follow; e<i> enters, x exits, u<reason>:<n> unwinds n
 * frames, i<a>,<b>,... starts inside inherited frames, d<n> drops n events.
 */
#ifndef CPROF_TEST_STREAM_H
#define CPROF_TEST_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "cprof_mp.h"

struct tstream {
    uint8_t *buf;
    struct mp_out out;
};

/* Header of a file of the given mode from process pid, with a 1 GHz clock
 * (one tick is one nanosecond) unless the test changes it. */
void ts_begin(struct tstream *s, const char *mode, uint64_t pid);
/* The header of a forked child's file (its "fork_parent" key). */
void ts_begin_forked(struct tstream *s, const char *mode, uint64_t pid, uint64_t parent);
/* The same with the header's version set to major.minor. */
void ts_begin_version(struct tstream *s, const char *mode, uint64_t pid, unsigned major,
                      unsigned minor);
/* The header with the probe cost keys of format 1.5 (ns). */
void ts_begin_probe(struct tstream *s, const char *mode, uint64_t pid, double call_ns,
                    double inner_ns, double line_ns);
void ts_module(struct tstream *s, uint64_t bias, uint64_t lo, uint64_t hi,
               const char *path);
void ts_thread(struct tstream *s, uint32_t serial, uint64_t tid);
/* A node whose completed calls all fall in one histogram bucket. */
void ts_node(struct tstream *s, uint32_t thread, uint64_t id, uint64_t parent,
             uint64_t fn, uint64_t calls, uint64_t incl, uint64_t min, uint64_t max,
             uint64_t completed);
void ts_trace(struct tstream *s, uint32_t thread, uint64_t base, const char *events);
/* stats: "key=value,key=value" with the CPROF_STAT_* names, or "". */
void ts_thread_end(struct tstream *s, uint32_t thread, const char *stats);
/* A line record [8, ...] (format 1.1). */
void ts_line(struct tstream *s, uint32_t thread, uint64_t fn, const char *func,
             const char *file, uint32_t line, uint64_t hits, uint64_t time,
             uint64_t self);
/* A line site record [9, ...]: defines site index site of the thread's trace. */
void ts_line_site(struct tstream *s, uint32_t thread, uint32_t site, uint64_t fn,
                  const char *func, const char *file, uint32_t line);
/* A trace chunk whose events are given as raw uints (tokens and operands),
 * for events the text form has no letter for (LINE events). */
void ts_trace_raw(struct tstream *s, uint32_t thread, uint64_t base,
                  const uint64_t *events, size_t n);
void ts_end(struct tstream *s, double ticks_per_sec, uint64_t end_ticks);

/*
 * Heap data (format 1.2). In the event text, a<bytes>:<heap> is an
 * EXT_ALLOC and r<bytes>:<heap> an EXT_FREE (heap: the process heap in use
 * after it).
 */
/* A node with the five heap fields after its histogram: heap is
 * {alloc_calls, alloc_bytes, free_calls, freed_bytes, peak_bytes}. */
void ts_node_heap(struct tstream *s, uint32_t thread, uint64_t id, uint64_t parent,
                  uint64_t fn, uint64_t calls, uint64_t incl, const uint64_t heap[5]);
/* CPU time (format 1.5): a summary header with the cpu_time key, and a
 * node with its cpu_ns after the (zero) heap fields. */
void ts_begin_cpu(struct tstream *s, uint64_t pid);
void ts_node_cpu(struct tstream *s, uint32_t thread, uint64_t id, uint64_t parent,
                 uint64_t fn, uint64_t calls, uint64_t incl, uint64_t cpu_ns);
/* A heap record [10, thread, map]; stats as for ts_thread_end, with the
 * keys of CPROF_REC_HEAP. */
void ts_heap(struct tstream *s, uint32_t thread, const char *stats);
/* A freed-owner record [11, thread, owner_thread, owner, calls, bytes]. */
void ts_freed(struct tstream *s, uint32_t thread, uint32_t owner_thread, uint64_t owner,
              uint64_t free_calls, uint64_t freed_bytes);
/* An end record with the heap keys: heap is {heap_in_use, heap_peak,
 * heap_blocks, peak_rss, foreign_frees}. */
void ts_end_heap(struct tstream *s, double ticks_per_sec, uint64_t end_ticks,
                 const uint64_t heap[5]);
/* The same with the end record's heap_dropped key (left out when 0). */
void ts_end_heap_dropped(struct tstream *s, double ticks_per_sec, uint64_t end_ticks,
                         const uint64_t heap[5], uint64_t heap_dropped);

/* A clock record [5, ticks, mono_ns]. */
void ts_clock(struct tstream *s, uint64_t ticks, uint64_t mono_ns);
/* An end record with reason ("exit", "signal", "exec"; signal is written
 * for "signal"), the threads seen and the threads lost. */
void ts_end_run(struct tstream *s, double ticks_per_sec, uint64_t end_ticks,
                const char *reason, uint64_t signal, uint64_t threads,
                uint64_t threads_lost);

/* A node whose completed calls are spread over a histogram: hist holds
 * npairs (bucket, count) pairs in increasing bucket order (buckets as
 * cprof_hist_bucket(ticks, 2)); completed is the sum of the counts. */
void ts_node_hist(struct tstream *s, uint32_t thread, uint64_t id, uint64_t parent,
                  uint64_t fn, uint64_t calls, uint64_t incl, uint64_t min, uint64_t max,
                  const uint64_t *hist, size_t npairs);

/* Writes the stream to a new file /tmp/cprof-<tag>-XXXXXX.cprof and frees
 * it; returns the path (the caller unlinks and frees it). */
char *ts_write_temp(struct tstream *s, const char *tag);
/* Runs a command (cmd_report, cmd_lines, ...) with argv (NULL-terminated)
 * and its stdout and stderr captured into *out and *err (allocated).
 * Returns its status. */
int ts_run_cmd(int (*cmd)(int, char **), char **argv, char **out, char **err);
size_t ts_len(const struct tstream *s);
void ts_free(struct tstream *s);

struct model;
struct profile;
struct pf_row;
/* Loads s into m as the file name and frees s; fails the test, with the
 * model's message, when it does not load. */
void ts_load(struct model *m, struct tstream *s, const char *name);
/* The row of profile p (built from m) of the function at link-time
 * address addr; fails the test when there is none. */
const struct pf_row *ts_row(const struct model *m, const struct profile *p,
                            uint64_t addr);

/* Control records (format 1.4): a region record [12, fn, name] (fn with
 * CPROF_FN_REGION_BIT) and a period record [13, on, off, how_on, how_off]. */
void ts_region(struct tstream *s, uint64_t fn, const char *name);
void ts_period(struct tstream *s, uint64_t on_ticks, uint64_t off_ticks,
               const char *how_on, const char *how_off);

#endif
