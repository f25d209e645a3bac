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
/* The same with the header's version set to major.minor. */
void ts_begin_version(struct tstream *s, const char *mode, uint64_t pid, unsigned major,
                      unsigned minor);
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
size_t ts_len(const struct tstream *s);
void ts_free(struct tstream *s);

#endif
