/*
 * `cprof export --format chrome`: the Trace Event Format JSON that
 * chrome://tracing, Perfetto and speedscope open, one complete ("X") event
 * per call of a trace-mode run.
 *
 * It streams: each process's file is replayed again, chunk by chunk, by the
 * model's own trace replay (model_trace.c) with an observer that writes a
 * call's event the moment the call closes. Nothing holds more than the
 * replay does (the open calls of each thread, the calling-context tree);
 * the events themselves are never kept. Names and tick rates come from the
 * data already loaded (run->model), so the events name functions as
 * `cprof report` does and use the whole run's clock rate.
 *
 * Times: ts and dur are microseconds with nanosecond precision, ts on one
 * time line for every process (from the earliest process start, by wall
 * clock). Heap events (format 1.2) become a "heap" counter track of the
 * process; line events are left out. A timeline shows what ran: the calls
 * completed before a cprof_reset() (EXT_RESET, 1.4) are exported too, and
 * a call open across it keeps its real start; only the totals of the
 * other views start at the reset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"
#include "fmt.h"
#include "model.h"
#include "progress.h"
#include "util.h"

struct chrome {
    FILE *out;
    const struct export_opts *o;
    const char **names;           /* model.funcs index -> name */
    const struct m_process *proc; /* the loaded process of the file replayed */
    uint64_t *tids;               /* thread serial -> kernel tid */
    size_t ntids;
    double base_us; /* the process's start on the common time line */
};

static const char *const chrome_closed[] = {
    [M_CLOSE_EXIT] = NULL,
    [M_CLOSE_LONGJMP] = "longjmp",
    [M_CLOSE_END] = "end",
    [M_CLOSE_CUT] = "cut",
};

/* ns since the process started of the tick count ticks. */
static double chrome_ns(const struct chrome *c, uint64_t ticks)
{
    return ((double)ticks - (double)c->proc->start_ticks) * c->proc->ns_per_tick;
}

static int chrome_in_window(const struct export_opts *o, double from_ns, double to_ns)
{
    return (!o->has_from || to_ns >= o->from_ns) && (!o->has_to || from_ns <= o->to_ns);
}

static uint64_t chrome_tid(const struct chrome *c, const struct m_thread *t)
{
    return t->serial < c->ntids ? c->tids[t->serial] : t->tid;
}

/* The name of process-local function local_fn of the replayed file: the
 * loaded process maps the same runtime address to a model function. */
static const char *chrome_name(const struct chrome *c, const struct m_thread *t,
                               uint32_t local_fn)
{
    uint64_t addr = t->proc->local_fn_addr[local_fn];
    uint32_t idx = hm_get(&c->proc->local_fn, addr);
    if (idx == HM_NONE || !c->proc->local_to_func)
        return "?";
    const char *name = c->names[c->proc->local_to_func[idx]];
    return name[0] ? name : "?";
}

static void chrome_call(void *ctx, const struct m_thread *t, uint32_t local_fn,
                        uint64_t start_ticks, uint64_t end_ticks, size_t depth,
                        int inherited, enum m_close how)
{
    struct chrome *c = ctx;
    double start = chrome_ns(c, start_ticks), end = chrome_ns(c, end_ticks);
    if (end < start)
        end = start;
    if (!chrome_in_window(c->o, start, end) || end - start < c->o->min_dur_ns)
        return;
    fputs(",\n{\"ph\":\"X\",\"name\":", c->out);
    fmt_json_str(c->out, chrome_name(c, t, local_fn));
    fprintf(c->out,
            ",\"cat\":\"%s\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%llu,\"tid\":%llu,"
            "\"args\":{\"depth\":%zu",
            inherited ? "inherited" : "call", c->base_us + start / 1000,
            (end - start) / 1000, (unsigned long long)c->proc->pid,
            (unsigned long long)chrome_tid(c, t), depth);
    if (chrome_closed[how])
        fprintf(c->out, ",\"closed\":\"%s\"", chrome_closed[how]);
    fputs("}}", c->out);
}

static void chrome_heap(void *ctx, const struct m_thread *t, int alloc, uint64_t bytes,
                        uint64_t heap, uint64_t now_ticks)
{
    struct chrome *c = ctx;
    double now = chrome_ns(c, now_ticks);
    (void)alloc;
    (void)bytes;
    if (!chrome_in_window(c->o, now, now))
        return;
    fprintf(c->out,
            ",\n{\"ph\":\"C\",\"name\":\"heap\",\"ts\":%.3f,\"pid\":%llu,\"tid\":%llu,"
            "\"args\":{\"bytes\":%llu}}",
            c->base_us + now / 1000, (unsigned long long)c->proc->pid,
            (unsigned long long)chrome_tid(c, t), (unsigned long long)heap);
}

/* The process_name and thread_name metadata events of p. */
static void chrome_meta(FILE *out, const struct m_process *p, int first)
{
    fprintf(out, "%s{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%llu,\"tid\":0,",
            first ? "" : ",\n", (unsigned long long)p->pid);
    char *name =
        cprof_xasprintf("%s [%llu]", model_basename(p->exe[0] ? p->exe : p->file),
                        (unsigned long long)p->pid);
    fputs("\"args\":{\"name\":", out);
    fmt_json_str(out, name);
    fputs("}}", out);
    free(name);
    for (size_t i = 0; i < p->nthreads; i++) {
        const struct m_thread *t = p->threads[i];
        fprintf(out,
                ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%llu,\"tid\":%llu,"
                "\"args\":{\"name\":",
                (unsigned long long)p->pid, (unsigned long long)t->tid);
        char *tname =
            t->name[0] ? cprof_xstrdup(t->name) : cprof_xasprintf("thread %u", t->serial);
        fmt_json_str(out, tname);
        free(tname);
        fputs("}}", out);
    }
}

/* Replays p's file again with c listening. Damage was reported when the
 * data was loaded: the replay stops where the load stopped. */
static void chrome_process(struct chrome *c, const struct m_process *p,
                           const struct m_filter *filter, uint64_t first_unix_ns)
{
    c->proc = p;
    c->base_us = (double)(p->start_unix_ns - first_unix_ns) / 1000;
    c->ntids = 0;
    for (size_t i = 0; i < p->nthreads; i++)
        if (p->threads[i]->serial >= c->ntids)
            c->ntids = p->threads[i]->serial + 1;
    c->tids = cprof_xcalloc(c->ntids ? c->ntids : 1, sizeof(*c->tids));
    for (size_t i = 0; i < p->nthreads; i++)
        c->tids[p->threads[i]->serial] = p->threads[i]->tid;
    const struct m_trace_observer obs = {chrome_call, chrome_heap, c};
    struct model replay;
    model_init(&replay);
    replay.filter = *filter;
    replay.observer = &obs;
    if (progress_stderr.active)
        replay.progress = &progress_stderr;
    char msg[300];
    model_load_file(&replay, p->file, msg, sizeof msg);
    model_free(&replay);
    free(c->tids);
    c->tids = NULL;
}

int export_chrome(FILE *out, struct cmd_view_run *run, const struct export_opts *o)
{
    const struct model *m = &run->model;
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct m_process *p = m->procs[i];
        if (strcmp(p->mode, "trace")) {
            cprof_error("export: %s was recorded in %s mode: the chrome format needs "
                        "the time of every call: record with CPROF_MODE=trace "
                        "(cprof record --mode trace -- PROGRAM)",
                        p->file, p->mode);
            return CPROF_EXIT_DATA;
        }
    }
    uint64_t first_unix_ns = UINT64_MAX;
    for (size_t i = 0; i < m->nprocs; i++)
        if (m->procs[i]->start_unix_ns < first_unix_ns)
            first_unix_ns = m->procs[i]->start_unix_ns;
    struct chrome c = {.out = out, .o = o, .names = export_func_names(run)};
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", out);
    for (size_t i = 0; i < m->nprocs; i++)
        chrome_meta(out, m->procs[i], i == 0);
    /* the replay reads every file again: a progress line of its own, unless
     * the events go to the terminal it would be drawn on */
    int fd = fileno(out);
    if (progress_wanted(&progress_stderr) && !(fd >= 0 && isatty(fd))) {
        uint64_t bytes = 0;
        struct stat st;
        for (size_t i = 0; i < m->nprocs; i++)
            if (stat(m->procs[i]->file, &st) == 0)
                bytes += (uint64_t)st.st_size;
        progress_begin(&progress_stderr, "exporting", m->nprocs, bytes);
    }
    for (size_t i = 0; i < m->nprocs; i++)
        chrome_process(&c, m->procs[i], &m->filter, first_unix_ns);
    progress_end(&progress_stderr);
    fputs("\n]}\n", out);
    free(c.names);
    return CPROF_EXIT_OK;
}
