/*
 * The runtime's reports as warnings (see model.h): each kind of loss or
 * repair a thread counted (m_stats), a death by signal, threads that could
 * not be profiled, summed over processes so that a test suite's hundreds
 * of runs give one warning of each kind, naming the first few processes.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "model.h"

const char *model_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

/* One warning per kind of loss or repair the runtime reported: what the
 * count of each m_stats field means, in the user's terms. */
static const struct {
    size_t offset;
    const char *what;
} model_stat_texts[] = {
    {offsetof(struct m_stats, dropped_depth),
     "calls nested deeper than CPROF_MAX_DEPTH were not recorded"},
    {offsetof(struct m_stats, dropped_reentrant),
     "events from signal handlers that interrupted the profiler were not recorded"},
    {offsetof(struct m_stats, dropped_nodes),
     "calls past CPROF_MAX_NODES call paths are counted under [node limit]"},
    {offsetof(struct m_stats, dropped_events), "events were dropped from the trace"},
    {offsetof(struct m_stats, repaired_longjmp),
     "frames left by longjmp were closed at the jump (counted as completed calls)"},
    {offsetof(struct m_stats, closed_at_end),
     "calls were still running when the data was written (exit() or a signal inside "
     "them, or a flush of a running program): timed up to that moment"},
    {offsetof(struct m_stats, unmatched_exits),
     "function exits matched no call (ignored)"},
    {offsetof(struct m_stats, cut_open),
     "calls had not returned where the trace ends: timed up to its last event"},
    {offsetof(struct m_stats, lines_unmatched),
     "line hits came from outside a recorded call of their function (counted, not "
     "timed)"},
    {offsetof(struct m_stats, lines_dropped),
     "line hits past the runtime's line table are counted under [line limit]"},
    {offsetof(struct m_stats, heap_dropped),
     "allocation and free calls were made where no thread could count them (inside the "
     "profiler, before it started or after a thread's data was written): in the process "
     "totals only"},
    {offsetof(struct m_stats, heap_owners_lost),
     "frees could not be matched to the function that allocated the block: leaks by "
     "function may be overstated"},
    {offsetof(struct m_stats, hist_dropped),
     "completed calls are missing from the latency histograms (the runtime's "
     "CPROF_HIST_MEMORY was spent): percentiles leave them out"},
};

/* The note kinds past the counters. */
_Static_assert(sizeof model_stat_texts / sizeof *model_stat_texts == M_NOTE_KILLED,
               "one note kind per counter");
_Static_assert(M_NOTE_THREADS_LOST < M_NOTES, "room for every note kind");

/* Adds count occurrences of note kind by process who (detail: what to say
 * of it in the list, e.g. the signal) and rewrites that note's warning. */
void model_note(struct model *m, size_t kind, const char *who, uint64_t count)
{
    struct m_note *n = &m->notes[kind];
    if (n->procs < 3)
        snprintf(n->who[n->procs], sizeof n->who[0], "%s", who);
    n->procs++;
    n->total += count;
    struct strbuf sb = {0};
    if (n->procs == 1 && kind == M_NOTE_KILLED)
        sb_printf(&sb, "%s; its data was saved", who);
    else if (n->procs == 1 && kind == M_NOTE_THREADS_LOST)
        sb_printf(&sb, "%s: %llu threads could not be profiled", who,
                  (unsigned long long)n->total);
    else if (n->procs == 1)
        sb_printf(&sb, "%s: %llu %s", who, (unsigned long long)n->total,
                  model_stat_texts[kind].what);
    else if (kind == M_NOTE_KILLED)
        sb_printf(&sb, "%zu processes were killed by a signal; their data was saved (",
                  n->procs);
    else if (kind == M_NOTE_THREADS_LOST)
        sb_printf(&sb, "%llu threads could not be profiled, in %zu processes (",
                  (unsigned long long)n->total, n->procs);
    else
        sb_printf(&sb, "%llu %s, in %zu processes (", (unsigned long long)n->total,
                  model_stat_texts[kind].what, n->procs);
    for (size_t i = 0; n->procs > 1 && i < n->procs && i < 3; i++)
        sb_printf(&sb, "%s%s", i ? ", " : "", n->who[i]);
    if (n->procs > 3)
        sb_printf(&sb, " and %zu more)", n->procs - 3);
    else if (n->procs > 1)
        sb_puts(&sb, ")");
    if (n->warning) {
        free(m->warnings.text[n->warning - 1]);
        m->warnings.text[n->warning - 1] = sb.s;
    } else {
        cprof_grow(&m->warnings.text, &m->warnings.cap, m->warnings.count + 1,
                   sizeof(*m->warnings.text));
        m->warnings.text[m->warnings.count++] = sb.s;
        n->warning = m->warnings.count;
    }
}

char *model_trace_stop_text(const struct m_process *p)
{
    if (!p->trace_stop_ticks)
        return NULL;
    struct strbuf sb = {0};
    char buf[32];
    sb_puts(&sb, "trace stopped");
    if (p->trace_max) {
        fmt_human_bytes((double)p->trace_max, 0, buf, sizeof buf);
        sb_printf(&sb, " at %s", buf);
    }
    sb_puts(&sb, " (CPROF_TRACE_MAX)");
    if (p->ns_per_tick > 0 && p->trace_stop_ticks >= p->start_ticks) {
        fmt_human_ns((double)(p->trace_stop_ticks - p->start_ticks) * p->ns_per_tick, buf,
                     sizeof buf);
        sb_printf(&sb, " after %s", buf);
        if (p->complete && p->end_ticks >= p->trace_stop_ticks) {
            fmt_human_ns((double)(p->end_ticks - p->start_ticks) * p->ns_per_tick, buf,
                         sizeof buf);
            sb_printf(&sb, " of %s", buf);
        }
    }
    return sb.s;
}

void model_stat_warnings(struct model *m, struct m_process *p, const struct m_stats *s)
{
    char who[96];
    snprintf(who, sizeof who, "%s[%llu]", model_basename(p->exe[0] ? p->exe : p->file),
             (unsigned long long)p->pid);
    for (size_t i = 0; i < sizeof model_stat_texts / sizeof *model_stat_texts; i++) {
        uint64_t n = *(const uint64_t *)((const char *)s + model_stat_texts[i].offset);
        if (n)
            model_note(m, i, who, n);
    }
}
