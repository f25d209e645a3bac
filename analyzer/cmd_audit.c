/*
 * `cprof audit`: how exact a run's data is, per process and thread (the
 * enter/exit balance, frames repaired, every event the runtime dropped and
 * why, the clock and its calibration), with a status that fails when
 * anything was lost, and when recording was on (format 1.4 periods); or,
 * with --expect, a check of call counts against a
 * file of expectations, and with --write-expect the file to start from.
 * The facts come from audit.c; tables and formats are the other views'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "cmd_common.h"
#include "commands.h"
#include "fmt.h"
#include "model.h"
#include "profile.h"
#include "util.h"

static const char audit_usage[] =
    "usage: cprof audit [PATH...] [--format text|json|csv] [--pid PID] [--tid TID]\n"
    "                   [--periods]\n"
    "       cprof audit [PATH...] --expect FILE [--format text|json|csv]\n"
    "       cprof audit [PATH...] --write-expect [FILE|-]\n"
    "\n"
    "Says how exact the recorded data is, per process and thread: calls entered\n"
    "and completed, frames closed at the end or repaired after longjmp, exits\n"
    "that matched no call, every event the runtime dropped and why, threads\n"
    "lost, files cut short, processes killed, the clock and its calibration,\n"
    "and when recording was on (cprof_start/cprof_stop, CPROF_START=off,\n"
    "CPROF_SIGNAL): what ran while it was off is left out by request, no loss.\n"
    "\n"
    "  PATH              a .cprof file or a directory of them (default ./cprof.data)\n"
    "  -e, --expect FILE check call counts: `function count`, `function N..M`,\n"
    "                    `function >= N`, `function <= N` per line, # comments;\n"
    "                    name@file picks the functions of one source file\n"
    "  -w, --write-expect [FILE|-]\n"
    "                    write such a file of the exact counts (default: stdout)\n"
    "  -f, --format F    text (default), json or csv\n"
    "      --periods     only the table of recording periods (the one CSV writes)\n"
    "      --pid PID     only the process PID\n"
    "      --tid TID     only the thread with kernel thread id TID\n"
    "\n"
    "Examples:\n"
    "  cprof audit                                  losses, repairs and clock of "
    "./cprof.data\n"
    "  cprof audit --write-expect counts.txt        keep today's exact call counts\n"
    "  cprof audit --expect counts.txt              in CI: exit 4 when a count changed\n"
    "\n"
    "Exit status: 0 nothing lost (repairs keep counts exact) / every expectation\n"
    "met, 1 bad command line or expectation file, 2 no usable data or a file\n"
    "damaged or cut short, 3 events, threads or calls were lost, 4 a count is\n"
    "not as expected. See docs/cprof-audit.md.\n";

static const struct cmd_view audit_view = {"audit", audit_usage, NULL, 0};

/* ---- the exactness report ----------------------------------------------- */

enum audit_group_col {
    AG_FILE,
    AG_PID,
    AG_PPID,
    AG_FORK_PARENT,
    AG_EXE,
    AG_MODE,
    AG_CLOCK,
    AG_COMPLETE,
    AG_END_REASON,
    AG_SIGNAL,
    AG_THREADS_SEEN,
    AG_THREADS_RECORDED,
    AG_THREADS_LOST,
    AG_HEADER_TPS,
    AG_END_TPS,
    AG_END_DRIFT,
    AG_CLOCK_RECORDS,
    AG_CLOCK_TPS,
    AG_CLOCK_DRIFT,
    AG_DURATION,
    AG_HEAP_DROPPED,
    AG_FOREIGN_FREES,
    AG_DAMAGED,
    AG_KILLED,
    AG_LOST,
    AG_REPAIRED,
    AG_EXACT,
    AG_PERIODS,
    AG_RECORDED,
    AG_TRACE_MAX,
    AG_TRACE_STOP,
    AG_COUNT
};

static const struct fmt_col audit_group_cols[AG_COUNT] = {
    [AG_FILE] = {"file", "file", FMT_STR, FMT_ALL, FMT_IN_ROWS},
    [AG_PID] = {"pid", "pid", FMT_UINT, FMT_ALL, FMT_IN_ROWS},
    [AG_PPID] = {"ppid", "", FMT_UINT, FMT_ALL, 0},
    [AG_FORK_PARENT] = {"fork_parent", "", FMT_UINT, FMT_ALL, 0},
    [AG_EXE] = {"exe", "", FMT_STR, FMT_ALL, 0},
    [AG_MODE] = {"mode", "", FMT_STR, FMT_ALL, 0},
    [AG_CLOCK] = {"clock", "", FMT_STR, FMT_ALL, 0},
    [AG_COMPLETE] = {"complete", "", FMT_BOOL, FMT_ALL, 0},
    [AG_END_REASON] = {"end_reason", "", FMT_STR, FMT_ALL, 0},
    [AG_SIGNAL] = {"signal", "", FMT_UINT, FMT_ALL, 0},
    [AG_THREADS_SEEN] = {"threads_seen", "", FMT_UINT, FMT_ALL, 0},
    [AG_THREADS_RECORDED] = {"threads_recorded", "", FMT_UINT, FMT_ALL, 0},
    [AG_THREADS_LOST] = {"threads_lost", "", FMT_UINT, FMT_ALL, 0},
    [AG_HEADER_TPS] = {"header_ticks_per_sec", "", FMT_UINT, FMT_ALL, 0},
    [AG_END_TPS] = {"end_ticks_per_sec", "", FMT_UINT, FMT_ALL, 0},
    [AG_END_DRIFT] = {"end_drift_ppm", "", FMT_PCT, FMT_ALL, 0},
    [AG_CLOCK_RECORDS] = {"clock_records", "", FMT_UINT, FMT_ALL, 0},
    [AG_CLOCK_TPS] = {"clock_ticks_per_sec", "", FMT_UINT, FMT_ALL, 0},
    [AG_CLOCK_DRIFT] = {"clock_drift_ppm", "", FMT_PCT, FMT_ALL, 0},
    [AG_DURATION] = {"duration_ns", "", FMT_NS, FMT_ALL, 0},
    [AG_HEAP_DROPPED] = {"heap_dropped", "", FMT_UINT, FMT_ALL, 0},
    [AG_FOREIGN_FREES] = {"foreign_frees", "", FMT_UINT, FMT_ALL, 0},
    [AG_DAMAGED] = {"damaged", "", FMT_BOOL, FMT_ALL, 0},
    [AG_KILLED] = {"killed", "", FMT_BOOL, FMT_ALL, 0},
    [AG_LOST] = {"lost", "", FMT_UINT, FMT_ALL, 0},
    [AG_REPAIRED] = {"repaired", "", FMT_UINT, FMT_ALL, 0},
    [AG_EXACT] = {"exact", "", FMT_BOOL, FMT_ALL, 0},
    [AG_PERIODS] = {"periods", "", FMT_UINT, FMT_ALL, 0},
    [AG_RECORDED] = {"recorded_ns", "", FMT_NS, FMT_ALL, 0},
    [AG_TRACE_MAX] = {"trace_max", "", FMT_UINT, FMT_ALL, 0},
    [AG_TRACE_STOP] = {"trace_stopped_ns", "", FMT_NS, FMT_ALL, 0},
};

/* Thread columns: the fixed ones, then one per audit_stats counter. */
enum audit_thread_col {
    AT_THREAD,
    AT_TID,
    AT_NAME,
    AT_CALLS,
    AT_COMPLETED,
    AT_OPEN,
    AT_INHERITED,
    AT_LONGJMP,
    AT_UNMATCHED,
    AT_BALANCED,
    AT_LOST,
    AT_EXACT,
    AT_STATS /* audit_nstats more */
};

static const struct fmt_col audit_thread_cols[AT_STATS] = {
    [AT_THREAD] = {"thread", "thread", FMT_UINT, FMT_ALL, 0},
    [AT_TID] = {"tid", "tid", FMT_UINT, FMT_ALL, 0},
    [AT_NAME] = {"name", "name", FMT_STR, FMT_ALL, 0},
    [AT_CALLS] = {"calls", "calls", FMT_UINT, FMT_ALL, 0},
    [AT_COMPLETED] = {"completed", "completed", FMT_UINT, FMT_ALL, 0},
    [AT_OPEN] = {"open_at_end", "open at end", FMT_UINT, FMT_ALL, 0},
    [AT_INHERITED] = {"inherited", "inherited", FMT_UINT, FMT_DATA_ONLY, 0},
    [AT_LONGJMP] = {"longjmp_repaired", "longjmp repaired", FMT_UINT, FMT_TEXT_ONLY, 0},
    [AT_UNMATCHED] = {"unmatched", "unmatched exits", FMT_UINT, FMT_TEXT_ONLY, 0},
    [AT_BALANCED] = {"balanced", "balanced", FMT_BOOL, FMT_ALL, 0},
    [AT_LOST] = {"lost", "lost", FMT_UINT, FMT_ALL, 0},
    [AT_EXACT] = {"exact", "exact", FMT_BOOL, FMT_ALL, 0},
};

static int audit_proc_exact(const struct audit_process *ap)
{
    return !ap->lost && !ap->damaged && !ap->killed;
}

static void audit_group_cells(const struct audit_process *ap, struct fmt_cell *c)
{
    const struct m_process *p = ap->proc;
    for (size_t i = 0; i < AG_COUNT; i++)
        c[i] = (struct fmt_cell){0};
    c[AG_FILE].str = p->file;
    c[AG_PID].num = (double)p->pid;
    c[AG_PPID].num = (double)p->ppid;
    c[AG_FORK_PARENT].num = (double)p->fork_parent;
    c[AG_FORK_PARENT].null = !p->fork_parent;
    c[AG_EXE].str = p->exe;
    c[AG_MODE].str = p->mode;
    c[AG_CLOCK].str = p->clock;
    c[AG_COMPLETE].num = p->complete;
    c[AG_END_REASON].str = p->end_reason ? p->end_reason : "";
    c[AG_END_REASON].null = !p->end_reason;
    c[AG_SIGNAL].num = (double)p->end_signal;
    c[AG_SIGNAL].null = !ap->killed || !p->end_signal;
    c[AG_THREADS_SEEN].num = (double)p->threads_seen;
    c[AG_THREADS_SEEN].null = !p->threads_seen;
    c[AG_THREADS_RECORDED].num = (double)p->nthreads;
    c[AG_THREADS_LOST].num = (double)p->threads_lost;
    c[AG_HEADER_TPS].num = p->header_ticks_per_sec;
    c[AG_END_TPS].num = p->end_ticks_per_sec;
    c[AG_END_TPS].null = !(p->end_ticks_per_sec > 0);
    c[AG_END_DRIFT].num = ap->end_drift_ppm;
    c[AG_END_DRIFT].null = ap->end_drift_ppm != ap->end_drift_ppm;
    c[AG_CLOCK_RECORDS].num = p->nclocks;
    c[AG_CLOCK_TPS].num = ap->clock_ticks_per_sec;
    c[AG_CLOCK_TPS].null = !(ap->clock_ticks_per_sec > 0);
    c[AG_CLOCK_DRIFT].num = ap->clock_drift_ppm;
    c[AG_CLOCK_DRIFT].null = ap->clock_drift_ppm != ap->clock_drift_ppm;
    int timed = p->complete && p->ns_per_tick > 0 && p->end_ticks >= p->start_ticks;
    c[AG_DURATION].num =
        timed ? (double)(p->end_ticks - p->start_ticks) * p->ns_per_tick : 0;
    c[AG_DURATION].null = !timed;
    c[AG_HEAP_DROPPED].num = (double)p->heap_dropped;
    c[AG_FOREIGN_FREES].num = (double)p->foreign_frees;
    c[AG_DAMAGED].num = ap->damaged;
    c[AG_KILLED].num = ap->killed;
    c[AG_LOST].num = (double)ap->lost;
    c[AG_REPAIRED].num = (double)ap->repaired;
    c[AG_EXACT].num = audit_proc_exact(ap);
    c[AG_PERIODS].num = (double)ap->nperiods;
    c[AG_RECORDED].num = ap->nperiods ? ap->recorded_ns : ap->run_ns;
    c[AG_RECORDED].null = c[AG_RECORDED].num != c[AG_RECORDED].num;
    c[AG_TRACE_MAX].num = (double)p->trace_max;
    c[AG_TRACE_MAX].null = !p->trace_max;
    /* when the trace stopped at its cap, from the start of the process */
    c[AG_TRACE_STOP].num =
        (double)(p->trace_stop_ticks - p->start_ticks) * p->ns_per_tick;
    c[AG_TRACE_STOP].null = !p->trace_stop_ticks || !(p->ns_per_tick > 0) ||
                            p->trace_stop_ticks < p->start_ticks;
}

static void audit_thread_cells(const struct audit_thread *at, struct fmt_cell *c)
{
    const struct m_thread *t = at->thread;
    for (size_t i = 0; i < AT_STATS + audit_nstats; i++)
        c[i] = (struct fmt_cell){0};
    c[AT_THREAD].num = t->serial;
    c[AT_TID].num = (double)t->tid;
    c[AT_NAME].str = t->name;
    c[AT_CALLS].num = (double)at->calls;
    c[AT_COMPLETED].num = (double)at->completed;
    c[AT_COMPLETED].null = !at->completed_known;
    c[AT_OPEN].num = (double)at->open_at_end;
    c[AT_INHERITED].num = (double)at->inherited;
    c[AT_LONGJMP].num = (double)t->stats.repaired_longjmp;
    c[AT_UNMATCHED].num = (double)t->stats.unmatched_exits;
    c[AT_BALANCED].num = at->balanced;
    c[AT_BALANCED].null = !at->completed_known;
    c[AT_LOST].num = (double)at->lost;
    c[AT_EXACT].num = at->lost == 0;
    for (size_t k = 0; k < audit_nstats; k++)
        c[AT_STATS + k].num = (double)audit_stat_value(&t->stats, &audit_stats[k]);
}

/* "2.30e9 ticks/s"-style rate for text. */
static void audit_rate(double tps, char *buf, size_t len)
{
    if (tps > 0)
        snprintf(buf, len, "%.0f ticks/s", tps);
    else
        snprintf(buf, len, "unknown");
}

/* "  recording: on in 2 periods, 1.20 s of 3.00 s (40.0%)": the line of a
 * process whose recording was switched. */
static const char *audit_periods_text(const struct audit_process *ap, struct strpool *as)
{
    if (ap->never_on)
        return "  recording: never on (switched off from the start): nothing recorded, "
               "by request";
    struct strbuf sb = {0};
    sb_printf(&sb, "  recording: on in %zu period%s", ap->nperiods,
              ap->nperiods == 1 ? "" : "s");
    char on[32], run[32];
    if (ap->recorded_ns == ap->recorded_ns) {
        fmt_human_ns(ap->recorded_ns, on, sizeof on);
        sb_printf(&sb, ", %s", on);
    }
    if (ap->recorded_ns == ap->recorded_ns && ap->run_ns > 0) {
        fmt_human_ns(ap->run_ns, run, sizeof run);
        sb_printf(&sb, " of %s (%.1f%%)", run, ap->recorded_ns * 100 / ap->run_ns);
    }
    sb_puts(&sb, "; calls while off are left out by request (no loss)");
    return strpool_own(as, sb.s);
}

/* The text lines above a process's thread table. */
static size_t audit_group_text(const struct audit_process *ap, struct strpool *as,
                               const char **lines)
{
    const struct m_process *p = ap->proc;
    size_t n = 0;
    const char *prog = model_basename(p->exe[0] ? p->exe : p->file);
    struct strbuf sb = {0};
    sb_printf(&sb, "process %s[%llu] (%s): %s mode, ", prog, (unsigned long long)p->pid,
              p->file, p->mode);
    if (!p->complete)
        sb_puts(&sb, "cut short (no end record)");
    else if (ap->killed && !p->end_signal)
        sb_puts(&sb, "killed (kill -9 or the like): its keeper wrote the data");
    else if (ap->killed)
        sb_printf(&sb, "killed by signal %llu", (unsigned long long)p->end_signal);
    else
        sb_printf(&sb, "ended by %s", p->end_reason);
    if (p->fork_parent)
        sb_printf(&sb, ", forked from %llu", (unsigned long long)p->fork_parent);
    lines[n++] = strpool_own(as, sb.s);
    uint64_t folded = 0;
    for (size_t i = 0; i < p->nthreads; i++)
        folded += p->threads[i]->stats.folded_threads;
    lines[n++] = strpool_own(
        as,
        cprof_xasprintf(
            "  threads: %zu recorded%s, %s seen by the runtime, %llu lost", p->nthreads,
            folded ? strpool_own(
                         as, cprof_xasprintf(" (one holds %llu ended threads, folded)",
                                             (unsigned long long)folded))
                   : "",
            p->threads_seen
                ? strpool_own(
                      as, cprof_xasprintf("%llu", (unsigned long long)p->threads_seen))
                : "?",
            (unsigned long long)p->threads_lost));
    char head[48], end[48], clk[48];
    audit_rate(p->header_ticks_per_sec, head, sizeof head);
    audit_rate(p->end_ticks_per_sec, end, sizeof end);
    audit_rate(ap->clock_ticks_per_sec, clk, sizeof clk);
    sb = (struct strbuf){0};
    if (!strcmp(p->clock, "none"))
        sb_puts(&sb, "  clock: none (count mode records no times)");
    else
        sb_printf(&sb, "  clock: %s; %s at start, %s over the run", p->clock, head, end);
    if (strcmp(p->clock, "none") && ap->end_drift_ppm == ap->end_drift_ppm)
        sb_printf(&sb, " (%+.2f ppm)", ap->end_drift_ppm);
    sb_printf(&sb, "; %d clock record%s", p->nclocks, p->nclocks == 1 ? "" : "s");
    if (strcmp(p->clock, "none") && ap->clock_ticks_per_sec > 0)
        sb_printf(&sb, " imply %s (%+.2f ppm)", clk, ap->clock_drift_ppm);
    lines[n++] = strpool_own(as, sb.s);
    uint64_t open = 0, longjmp = 0, unmatched = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        const struct m_stats *st = &p->threads[i]->stats;
        longjmp += st->repaired_longjmp;
        unmatched += st->unmatched_exits;
        open += st->closed_at_end + st->cut_open;
    }
    sb = (struct strbuf){0};
    sb_printf(&sb,
              "  repairs: %llu frame%s closed at the end, %llu after longjmp; %llu "
              "unmatched exit%s",
              (unsigned long long)open, open == 1 ? "" : "s", (unsigned long long)longjmp,
              (unsigned long long)unmatched, unmatched == 1 ? "" : "s");
    lines[n++] = strpool_own(as, sb.s);
    if (ap->nperiods)
        lines[n++] = audit_periods_text(ap, as);
    char *stop = model_trace_stop_text(p);
    if (stop) {
        uint64_t left_out = 0;
        for (size_t i = 0; i < p->nthreads; i++)
            left_out += p->threads[i]->stats.trace_stopped_calls;
        lines[n++] =
            strpool_own(as, cprof_xasprintf("  %s; %llu calls after it left out (a loss)",
                                            stop, (unsigned long long)left_out));
        free(stop);
    }
    if (audit_proc_exact(ap))
        lines[n++] = "  exact: nothing lost";
    else
        lines[n++] = strpool_own(
            as, cprof_xasprintf("  NOT EXACT: %llu lost%s%s (see the warnings)",
                                (unsigned long long)ap->lost,
                                ap->damaged ? ", file damaged or cut short" : "",
                                ap->killed ? ", killed by a signal" : ""));
    return n;
}

/* ---- recording periods (format 1.4) ------------------------------------- */

enum audit_period_col {
    AP_FILE,
    AP_PID,
    AP_PERIOD,
    AP_ON,
    AP_OFF,
    AP_DURATION,
    AP_HOW_ON,
    AP_HOW_OFF,
    AP_COUNT
};

static const struct fmt_col audit_period_cols[AP_COUNT] = {
    [AP_FILE] = {"file", "file", FMT_STR, FMT_ALL, 0},
    [AP_PID] = {"pid", "pid", FMT_UINT, FMT_ALL, 0},
    [AP_PERIOD] = {"period", "period", FMT_UINT, FMT_ALL, 0},
    [AP_ON] = {"on_ns", "on at", FMT_NS, FMT_ALL, 0},
    [AP_OFF] = {"off_ns", "off at", FMT_NS, FMT_ALL, 0},
    [AP_DURATION] = {"duration_ns", "on for", FMT_NS, FMT_ALL, 0},
    [AP_HOW_ON] = {"how_on", "on by", FMT_STR, FMT_ALL, 0},
    [AP_HOW_OFF] = {"how_off", "off by", FMT_STR, FMT_ALL, 0},
};

/* Every process's periods as a table, times from the process's start
 * (unknown without a clock); t->cells is allocated for the caller. */
static void audit_periods_table(const struct model *m, struct fmt_table *t)
{
    size_t n = 0, row = 0;
    for (size_t i = 0; i < m->nprocs; i++)
        n += m->procs[i]->nperiods;
    struct fmt_cell *cells = cprof_xcalloc(n * AP_COUNT + 1, sizeof(*cells));
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct m_process *p = m->procs[i];
        double scale = p->ns_per_tick;
        for (size_t k = 0; k < p->nperiods; k++) {
            const struct m_period *per = &p->periods[k];
            struct fmt_cell *c = &cells[row++ * AP_COUNT];
            uint64_t on = per->on_ticks > p->start_ticks ? per->on_ticks - p->start_ticks
                                                         : 0,
                     off = per->off_ticks > p->start_ticks
                               ? per->off_ticks - p->start_ticks
                               : 0,
                     ticks = 0;
            c[AP_FILE].str = p->file;
            c[AP_PID].num = (double)p->pid;
            c[AP_PERIOD].num = (double)(k + 1);
            c[AP_ON].num = (double)on * scale;
            c[AP_ON].null = !(scale > 0);
            c[AP_OFF].num = (double)off * scale;
            c[AP_OFF].null = !(scale > 0) || !per->off_ticks;
            c[AP_DURATION].null = !(scale > 0) || audit_period_ticks(p, per, &ticks) < 0;
            c[AP_DURATION].num = (double)ticks * scale;
            c[AP_HOW_ON].str = per->how_on;
            c[AP_HOW_OFF].str = per->how_off;
        }
    }
    *t = (struct fmt_table){
        .name = "periods",
        .cols = audit_period_cols,
        .ncols = AP_COUNT,
        .cells = cells,
        .nrows = n,
        .text_rows = n,
        .empty = "(recording was never switched: on for the whole run)",
        .title = "recording periods (times from the start of the process)",
    };
}

enum { AO_EXACT, AO_STATUS, AO_PROCESSES, AO_LOSSY, AO_LOST, AO_REPAIRED, AO_COUNT };
static const struct fmt_col audit_object_cols[AO_COUNT] = {
    [AO_EXACT] = {"exact", "", FMT_BOOL, FMT_ALL, 0},
    [AO_STATUS] = {"status", "", FMT_UINT, FMT_ALL, 0},
    [AO_PROCESSES] = {"processes", "", FMT_UINT, FMT_ALL, 0},
    [AO_LOSSY] = {"lossy_processes", "", FMT_UINT, FMT_ALL, 0},
    [AO_LOST] = {"lost", "", FMT_UINT, FMT_ALL, 0},
    [AO_REPAIRED] = {"repaired", "", FMT_UINT, FMT_ALL, 0},
};

/* The status the facts call for: CPROF_EXIT_DATA for bad input (a path
 * that failed, a file damaged or cut short), else AUDIT_EXIT_LOST when
 * anything was lost. */
static int audit_status(const struct cmd_view_run *run, const struct audit *a)
{
    if (run->status != CPROF_EXIT_OK || run->model.damage.count)
        return CPROF_EXIT_DATA;
    return a->lossy_procs ? AUDIT_EXIT_LOST : CPROF_EXIT_OK;
}

/* The "audit" JSON object: the verdict. */
static void audit_object(const struct audit *a, int status, struct fmt_cell *cells,
                         struct fmt_object *obj)
{
    const double values[AO_COUNT] = {
        [AO_EXACT] = a->lossy_procs == 0,   [AO_STATUS] = status,
        [AO_PROCESSES] = (double)a->nprocs, [AO_LOSSY] = (double)a->lossy_procs,
        [AO_LOST] = (double)a->lost,        [AO_REPAIRED] = (double)a->repaired,
    };
    for (size_t i = 0; i < AO_COUNT; i++)
        cells[i] = (struct fmt_cell){.num = values[i]};
    *obj = (struct fmt_object){"audit", audit_object_cols, AO_COUNT, cells};
}

static int audit_report(struct cmd_view_run *run, const struct audit *a, int periods_only)
{
    const struct model *m = &run->model;
    size_t ncols = AT_STATS + audit_nstats;
    struct fmt_col *cols = cprof_xcalloc(ncols, sizeof(*cols));
    memcpy(cols, audit_thread_cols, sizeof audit_thread_cols);
    for (size_t k = 0; k < audit_nstats; k++)
        cols[AT_STATS + k] = (struct fmt_col){audit_stats[k].key, audit_stats[k].key,
                                              FMT_UINT, FMT_DATA_ONLY, 0};
    struct fmt_cell *cells = cprof_xcalloc(a->nthreads * ncols + 1, sizeof(*cells));
    struct fmt_cell *gcells = cprof_xcalloc(a->nprocs * AG_COUNT + 1, sizeof(*gcells));
    struct fmt_group *groups = cprof_xcalloc(a->nprocs + 1, sizeof(*groups));
    const char **gtext = cprof_xcalloc(a->nprocs * 8 + 1, sizeof(*gtext));
    struct strpool as = {0};
    for (size_t i = 0; i < a->nthreads; i++)
        audit_thread_cells(&a->threads[i], &cells[i * ncols]);
    for (size_t i = 0; i < a->nprocs; i++) {
        const struct audit_process *ap = &a->procs[i];
        audit_group_cells(ap, &gcells[i * AG_COUNT]);
        const char **text = &gtext[i * 8];
        groups[i] = (struct fmt_group){&gcells[i * AG_COUNT], text,
                                       audit_group_text(ap, &as, text), ap->first_thread,
                                       ap->nthreads};
    }
    struct fmt_groups fg = {"threads", audit_group_cols, AG_COUNT, groups, a->nprocs};
    struct fmt_table table = {
        .name = "processes",
        .cols = cols,
        .ncols = ncols,
        .cells = cells,
        .nrows = a->nthreads,
        .text_rows = a->nthreads,
        .empty = "(no thread recorded)",
        .groups = &fg,
    };
    int status = audit_status(run, a);
    const char *summary[1];
    if (a->lossy_procs)
        summary[0] = strpool_own(
            &as,
            cprof_xasprintf("exactness: NOT EXACT: %zu of %zu processes lost data "
                            "(%llu events, calls or threads dropped, %zu files damaged "
                            "or cut short, %zu killed; see the warnings)",
                            a->lossy_procs, a->nprocs, (unsigned long long)a->lost,
                            a->damaged_procs, a->killed_procs));
    else
        summary[0] = strpool_own(
            &as, cprof_xasprintf("exactness: exact: nothing lost; %llu frames repaired "
                                 "(closed at a longjmp or at the end), counts exact",
                                 (unsigned long long)a->repaired));
    struct fmt_cell ocells[AO_COUNT];
    struct fmt_object obj;
    audit_object(a, status, ocells, &obj);
    struct fmt_table periods;
    audit_periods_table(m, &periods);
    const struct fmt_table *more[] = {&periods};
    struct fmt_doc doc = {
        .title = "processes and threads",
        .model = m,
        .table = &table,
        .summary = summary,
        .nsummary = 1,
        .warnings = &m->warnings,
        .more = more,
        .nmore = run->format != &fmt_text || periods.nrows,
        .objects = &obj,
        .nobjects = 1,
    };
    if (periods_only) {
        periods.title = NULL;
        doc.title = "recording periods (times from the start of the process)";
        doc.table = &periods;
        doc.nmore = 0;
    }
    run->format->write(stdout, &doc);
    free((void *)periods.cells);
    int finished = cmd_finish("audit", m, run->format, run->status);
    strpool_free(&as);
    free(gtext);
    free(groups);
    free(gcells);
    free(cells);
    free(cols);
    return finished != CPROF_EXIT_OK ? finished : status;
}

/* ---- expectations --------------------------------------------------------- */

enum audit_check_col {
    AC_FUNC,
    AC_FILE,
    AC_LINE,
    AC_EXPECTED,
    AC_MIN,
    AC_MAX,
    AC_CALLS,
    AC_OK,
    AC_COUNT
};

static const struct fmt_col audit_check_cols[AC_COUNT] = {
    [AC_FUNC] = {"name", "function", FMT_STR, FMT_ALL, 0},
    [AC_FILE] = {"file", "file", FMT_STR, FMT_ALL, 0},
    [AC_LINE] = {"line", "line", FMT_UINT, FMT_ALL, 0},
    [AC_EXPECTED] = {"expected", "expected", FMT_STR, FMT_ALL, 0},
    [AC_MIN] = {"min", "min", FMT_UINT, FMT_DATA_ONLY, 0},
    [AC_MAX] = {"max", "max", FMT_UINT, FMT_DATA_ONLY, 0},
    [AC_CALLS] = {"calls", "calls", FMT_UINT, FMT_ALL, 0},
    [AC_OK] = {"ok", "ok", FMT_BOOL, FMT_ALL, 0},
};

static int audit_expect(struct cmd_view_run *run, const struct audit *a,
                        const struct audit_expect *e, const char *path)
{
    const struct model *m = &run->model;
    struct fmt_cell *cells = cprof_xcalloc(e->count * AC_COUNT + 1, sizeof(*cells));
    size_t failed = 0;
    for (size_t i = 0; i < e->count; i++) {
        const struct audit_check *c = &e->checks[i];
        uint64_t calls = audit_calls(&run->profile, c->func, c->file);
        int ok = audit_check_ok(c, calls);
        failed += !ok;
        struct fmt_cell *row = &cells[i * AC_COUNT];
        row[AC_FUNC].str = c->func;
        row[AC_FILE].str = c->file ? c->file : "";
        row[AC_FILE].null = !c->file;
        row[AC_LINE].num = c->line;
        row[AC_EXPECTED].str = c->want;
        row[AC_MIN].num = (double)c->lo;
        row[AC_MAX].num = (double)c->hi;
        row[AC_MAX].null = c->hi == UINT64_MAX;
        row[AC_CALLS].num = (double)calls;
        row[AC_OK].num = ok;
        if (!ok && run->format == &fmt_text)
            printf("mismatch: %s%s%s expected %s, got %llu (%s:%u)\n", c->func,
                   c->file ? "@" : "", c->file ? c->file : "", c->want,
                   (unsigned long long)calls, path, c->line);
    }
    int status = audit_status(run, a);
    if (failed && status != CPROF_EXIT_DATA)
        status = AUDIT_EXIT_MISMATCH;
    if (run->format == &fmt_text) {
        if (failed)
            printf("cprof audit: %zu of %zu expectations of %s not met\n", failed,
                   e->count, path);
        else
            printf("cprof audit: all %zu expectations of %s met\n", e->count, path);
        if (a->lossy_procs)
            cprof_error("audit: the run lost data in %zu of %zu processes: the counts "
                        "may not be exact (cprof audit without --expect says what)",
                        a->lossy_procs, a->nprocs);
    } else {
        struct fmt_table table = {
            .name = "expectations",
            .cols = audit_check_cols,
            .ncols = AC_COUNT,
            .cells = cells,
            .nrows = e->count,
            .text_rows = e->count,
        };
        struct fmt_cell ocells[AO_COUNT];
        struct fmt_object obj;
        audit_object(a, status, ocells, &obj);
        struct fmt_doc doc = {
            .model = m,
            .table = &table,
            .warnings = &m->warnings,
            .objects = &obj,
            .nobjects = 1,
        };
        run->format->write(stdout, &doc);
    }
    free(cells);
    int finished = cmd_finish("audit", m, run->format, run->status);
    return finished != CPROF_EXIT_OK ? finished : status;
}

/* "fib[123]" or "3 processes (fib[123], ...)" for the written file's header. */
static char *audit_what(const struct model *m)
{
    struct strbuf sb = {0};
    if (m->nprocs != 1)
        sb_printf(&sb, "%zu processes (", m->nprocs);
    for (size_t i = 0; i < m->nprocs && i < 4; i++) {
        const struct m_process *p = m->procs[i];
        sb_printf(&sb, "%s%s[%llu]", i ? ", " : "",
                  model_basename(p->exe[0] ? p->exe : p->file),
                  (unsigned long long)p->pid);
    }
    if (m->nprocs > 4)
        sb_puts(&sb, ", ...");
    if (m->nprocs != 1)
        sb_puts(&sb, ")");
    return sb.s;
}

static int audit_write(struct cmd_view_run *run, const char *path)
{
    int to_stdout = !strcmp(path, "-");
    FILE *out = to_stdout ? stdout : fopen(path, "w");
    if (!out) {
        cprof_error("audit: %s: cannot write it", path);
        return CPROF_EXIT_DATA;
    }
    char *what = audit_what(&run->model);
    audit_write_expect(out, &run->profile, what);
    free(what);
    int bad = ferror(out) || (!to_stdout && fclose(out) != 0);
    if (bad)
        cprof_error("audit: %s: cannot write it", path);
    for (size_t i = 0; i < run->model.warnings.count; i++)
        fprintf(stderr, "cprof: warning: %s\n", run->model.warnings.text[i]);
    int status = cmd_finish("audit", &run->model, &fmt_csv, run->status);
    return bad ? CPROF_EXIT_DATA : status;
}

/* ---- the command ------------------------------------------------------------ */

/* The options cmd_view_start does not know, taken out of argv: --expect
 * FILE and --write-expect [FILE|-]. Returns 0, or -1 after saying what was
 * wrong. */
static int audit_options(int *argc, char **argv, const char **expect, const char **write,
                         int *periods)
{
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            while (i < *argc)
                argv[kept++] = argv[i++];
            break;
        }
        if (!strcmp(a, "--expect") || !strcmp(a, "-e")) {
            if (i + 1 >= *argc) {
                cprof_error("audit: %s needs a file", a);
                return -1;
            }
            *expect = argv[++i];
        } else if (!strncmp(a, "--expect=", 9)) {
            *expect = a + 9;
        } else if (!strcmp(a, "--write-expect") || !strcmp(a, "-w")) {
            const char *next = i + 1 < *argc ? argv[i + 1] : NULL;
            *write = "-";
            if (next && (next[0] != '-' || !strcmp(next, "-"))) {
                *write = next;
                i++;
            }
        } else if (!strncmp(a, "--write-expect=", 15)) {
            *write = a + 15;
        } else if (!strcmp(a, "--periods")) {
            *periods = 1;
        } else {
            argv[kept++] = argv[i];
        }
    }
    *argc = kept;
    argv[kept] = NULL;
    struct stat st;
    size_t n = *write ? strlen(*write) : 0;
    if (*write && (!**write || (stat(*write, &st) == 0 && S_ISDIR(st.st_mode)) ||
                   (n > 6 && !strcmp(*write + n - 6, ".cprof")))) {
        cprof_error("audit: --write-expect '%s' names data, not an expectation file "
                    "(give the file first: --write-expect FILE PATH)",
                    *write);
        return -1;
    }
    if (*expect && *write) {
        cprof_error("audit: --expect and --write-expect do not go together");
        return -1;
    }
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    const char *expect_path = NULL, *write_path = NULL;
    int periods = 0;
    char **args = cprof_xcalloc((size_t)argc + 1, sizeof(*args));
    memcpy(args, argv, (size_t)argc * sizeof(*args));
    int nargs = argc;
    if (audit_options(&nargs, args, &expect_path, &write_path, &periods) < 0) {
        fprintf(stderr, "(cprof audit --help lists the options)\n");
        free(args);
        return CPROF_EXIT_USAGE;
    }
    struct audit_expect expect = {0};
    char msg[512];
    if (expect_path && audit_expect_load(expect_path, &expect, msg, sizeof msg) < 0) {
        cprof_error("audit: %s", msg);
        audit_expect_free(&expect);
        free(args);
        return CPROF_EXIT_USAGE;
    }
    struct cmd_view_run run;
    int status;
    if (!cmd_view_start(&audit_view, nargs, args, &run)) {
        status = run.status;
    } else if (write_path) {
        status = audit_write(&run, write_path);
    } else {
        struct audit a;
        audit_build(&run.model, &a);
        status = expect_path ? audit_expect(&run, &a, &expect, expect_path)
                             : audit_report(&run, &a, periods);
        audit_free(&a);
    }
    cmd_view_end(&run);
    audit_expect_free(&expect);
    free(args);
    return status;
}

const char *const cmd_audit_help = audit_usage;
