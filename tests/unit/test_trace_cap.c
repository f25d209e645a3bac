/*
 * Long runs (format 1.5) on hand-written files: a trace that stopped at
 * its size cap (the end record's trace_max and trace_stop_ticks, the
 * threads' trace_stopped_calls) and the folded thread of summary mode
 * (serial CPROF_THREAD_FOLDED, folded_threads): what the model reads, the
 * warnings every report shows, and what `cprof audit` makes of them.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "commands.h"
#include "cprof_format.h"
#include "fixture.h"
#include "model.h"
#include "stream.h"

TestSuite(trace_cap, .init = fx_init, .fini = fx_fini);

/* An end record of reason exit at end_ticks (1 GHz), with trace_max when
 * not 0 and trace_stop_ticks when not 0. */
static void end_capped(struct tstream *s, uint64_t end_ticks, uint64_t max, uint64_t stop)
{
    struct mp_out *o = &s->out;
    mp_array(o, 2);
    mp_uint(o, CPROF_REC_END);
    mp_map(o, 3u + (max != 0) + (stop != 0));
    mp_cstr(o, "reason");
    mp_cstr(o, "exit");
    mp_cstr(o, "ticks_per_sec");
    mp_f64(o, 1e9);
    mp_cstr(o, "end_ticks");
    mp_uint(o, end_ticks);
    if (max) {
        mp_cstr(o, "trace_max");
        mp_uint(o, max);
    }
    if (stop) {
        mp_cstr(o, "trace_stop_ticks");
        mp_uint(o, stop);
    }
}

/* A trace whose thread wrote f1 entered twice, f2 once inside, then
 * stopped with f1 open; 7 calls left out. */
static void capped_trace(struct tstream *s, uint64_t max, uint64_t stop)
{
    ts_begin(s, "trace", 100);
    ts_module(s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(s, 1, 100);
    ts_trace(s, 1, 0, "f1=0x1100 f2=0x1200 @100 e1 @200 e2 @300 x @400 x @450 e1");
    ts_thread_end(s, 1, stop ? CPROF_STAT_TRACE_STOPPED_CALLS "=7" : "");
    end_capped(s, 2000000, max, stop);
}

static int has_warning(const struct model *m, const char *text)
{
    for (size_t i = 0; i < m->warnings.count; i++)
        if (strstr(m->warnings.text[i], text))
            return 1;
    return 0;
}

/* Writes s (and frees it), runs `cprof audit --format format` on it. */
static int run_audit(struct tstream *s, const char *format, char **out, char **err)
{
    char *path = ts_write_temp(s, "trace_cap");
    char *argv[] = {"audit", "--format", (char *)format, path, NULL};
    int status = ts_run_cmd(cmd_audit, argv, out, err);
    unlink(path);
    free(path);
    return status;
}

Test(trace_cap, stopped_trace_is_read_warned_and_a_loss)
{
    struct tstream s;
    capped_trace(&s, 65536, 500000);
    ts_load(&fx_model, &s, "test.cprof");
    const struct m_process *p = fx_model.procs[0];
    cr_expect_eq(p->trace_max, 65536);
    cr_expect_eq(p->trace_stop_ticks, 500000);
    cr_expect_eq(p->threads[0]->stats.trace_stopped_calls, 7);
    cr_expect_eq(p->threads[0]->stats.cut_open, 1, "the call open at the stop is cut");
    cr_expect(has_warning(&fx_model, "prog[100]: trace stopped at 64.0 KiB "
                                     "(CPROF_TRACE_MAX) after 500 µs of 2.00 ms; the 7 "
                                     "calls it left out are not in this report"));
    audit_build(&fx_model, &fx_audit);
    cr_expect_eq(fx_audit.lost, 7);
    cr_expect(fx_audit.threads[0].balanced);

    char *out, *err;
    capped_trace(&s, 65536, 500000);
    cr_expect_eq(run_audit(&s, "json", &out, &err), AUDIT_EXIT_LOST, "%s%s", out, err);
    cr_expect(strstr(out, "\"trace_max\": 65536"), "%s", out);
    cr_expect(strstr(out, "\"trace_stopped_ns\": 500000"), "%s", out);
    cr_expect(strstr(out, "\"trace_stopped_calls\": 7"), "%s", out);
    free(out);
    free(err);
    capped_trace(&s, 65536, 500000);
    cr_expect_eq(run_audit(&s, "text", &out, &err), AUDIT_EXIT_LOST);
    cr_expect(strstr(out, "  trace stopped at 64.0 KiB (CPROF_TRACE_MAX) after 500 µs of "
                          "2.00 ms; 7 calls after it left out (a loss)"),
              "%s", out);
    free(out);
    free(err);
}

/* A cap that was not reached is a fact, not a warning. */
Test(trace_cap, cap_not_reached_says_nothing)
{
    struct tstream s;
    capped_trace(&s, 1u << 30, 0);
    ts_load(&fx_model, &s, "test.cprof");
    cr_expect_eq(fx_model.procs[0]->trace_max, 1u << 30);
    cr_expect(!has_warning(&fx_model, "trace stopped"));
    char *out, *err;
    capped_trace(&s, 1u << 30, 0);
    cr_expect_eq(run_audit(&s, "json", &out, &err), 0, "%s%s", out, err);
    cr_expect(strstr(out, "\"trace_max\": 1073741824"), "%s", out);
    cr_expect(strstr(out, "\"trace_stopped_ns\": null"), "%s", out);
    free(out);
    free(err);
}

/* The folded thread: its nodes count like any thread's, it is named, the
 * folding is said and counted, and nothing is lost. */
/* A summary file of the main thread and the folded thread, which holds
 * 300 threads that each called f2 once. */
static void folded_file(struct tstream *s)
{
    ts_begin(s, "summary", 100);
    ts_module(s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(s, 1, 100);
    ts_node(s, 1, 1, 0, 0x1100, 1, 1000, 1000, 1000, 1);
    ts_thread_end(s, 1, CPROF_STAT_ENTERS "=1");
    ts_thread(s, CPROF_THREAD_FOLDED, 0);
    ts_node(s, CPROF_THREAD_FOLDED, 1, 0, 0x1200, 300, 9000, 10, 90, 300);
    ts_thread_end(s, CPROF_THREAD_FOLDED,
                  CPROF_STAT_ENTERS "=300," CPROF_STAT_FOLDED_THREADS "=300");
    ts_end(s, 1e9, 100000);
}

Test(trace_cap, folded_thread_is_counted_not_lost)
{
    struct tstream s;
    folded_file(&s);
    ts_load(&fx_model, &s, "test.cprof");
    const struct m_process *p = fx_model.procs[0];
    cr_assert_eq(p->nthreads, 2);
    cr_expect_eq(p->threads[1]->serial, CPROF_THREAD_FOLDED);
    cr_expect_eq(p->threads[1]->stats.folded_threads, 300);
    cr_expect(has_warning(&fx_model, "prog[100]: 300 threads that ended after the first "
                                     "256 are folded into one"));
    audit_build(&fx_model, &fx_audit);
    cr_expect_eq(fx_audit.lost, 0);
    char *out, *err;
    folded_file(&s);
    cr_expect_eq(run_audit(&s, "text", &out, &err), 0, "%s%s", out, err);
    cr_expect(strstr(out, "threads: 2 recorded (one holds 300 ended threads, folded)"),
              "%s", out);
    free(out);
    free(err);
}
