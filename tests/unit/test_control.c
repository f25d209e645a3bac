/*
 * Control data of format 1.4 on hand-written files: regions (named by the
 * program with cprof_region_begin) shown like functions in the
 * per-function, graph and heap views, nested in functions and holding
 * them, merged by name over threads and processes; recording periods in
 * `cprof audit` (never a loss, not even a run never recorded); EXT_OFF and
 * EXT_ON in the trace replay; and malformed control records and events,
 * each refused with the field and the byte it starts at. One tick is one
 * nanosecond.
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
#include "graph.h"
#include "model.h"
#include "profile.h"
#include "stream.h"

#define MAIN 0x1100
#define WORK 0x1200
#define LEAF 0x1300
#define R_PARSE (CPROF_FN_REGION_BIT | 1)
#define R_IO (CPROF_FN_REGION_BIT | 2)

TestSuite(control, .init = fx_init, .fini = fx_fini);

static void begin(struct tstream *s, const char *mode, uint64_t pid)
{
    ts_begin(s, mode, pid);
    ts_module(s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(s, 1, pid);
}

static void finish(struct tstream *s, uint64_t end)
{
    ts_thread_end(s, 1, "");
    ts_end(s, 1e9, end);
}

/* The profile row named name (a region's, or a function's with its
 * address as name), NULL when none. */
static const struct pf_row *row_named(const char *name)
{
    for (size_t i = 0; i < fx_prof.nrows; i++)
        if (!strcmp(fx_prof.rows[i].name, name))
            return &fx_prof.rows[i];
    return NULL;
}

/* The model function of a region, M_NONE when none. */
static uint32_t region_func(const char *name)
{
    for (size_t i = 0; i < fx_model.nfuncs; i++)
        if (fx_model.funcs[i].region && !strcmp(fx_model.funcs[i].region, name))
            return (uint32_t)i;
    return M_NONE;
}

static uint32_t code_func(uint64_t addr)
{
    for (size_t i = 0; i < fx_model.nfuncs; i++)
        if (!fx_model.funcs[i].region && fx_model.funcs[i].addr == addr)
            return (uint32_t)i;
    return M_NONE;
}

/* Runs cmd with args and the file s is written to; returns the status. */
static int run_cmd(int (*cmd)(int, char **), const char *name, struct tstream *s,
                   const char *const *args, char **out, char **err)
{
    char *path = ts_write_temp(s, "control");
    char *argv[16] = {(char *)name};
    int argc = 1;
    for (; args && args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    argv[argc++] = path;
    argv[argc] = NULL;
    int status = ts_run_cmd(cmd, argv, out, err);
    unlink(path);
    free(path);
    return status;
}

static void expect_in(const char *text, const char *const *wants)
{
    for (size_t i = 0; wants[i]; i++)
        cr_expect(strstr(text, wants[i]), "no \"%s\" in:\n%s", wants[i], text);
}

/* ---- regions ----------------------------------------------------------- */

/* main (1000) calls region parse twice (300 each), which calls leaf (100
 * each time): a region nested in a function, a function in a region. */
static void summary_nested(struct tstream *s, uint64_t pid)
{
    begin(s, "summary", pid);
    ts_region(s, R_PARSE, "parse");
    ts_node(s, 1, 1, 0, MAIN, 1, 1000, 1000, 1000, 1);
    ts_node(s, 1, 2, 1, R_PARSE, 2, 600, 300, 300, 2);
    ts_node(s, 1, 3, 2, LEAF, 2, 200, 100, 100, 2);
    finish(s, 1000);
}

Test(control, region_nested_in_function_is_a_row)
{
    struct tstream s;
    summary_nested(&s, 100);
    ts_load(&fx_model, &s, "a.cprof");
    profile_build(&fx_model, NULL, &fx_prof);
    const struct pf_row *r = row_named("parse");
    cr_assert(r, "no row for the region");
    cr_expect_eq(r->calls, 2);
    cr_expect_float_eq(r->total_ns, 600, 1e-9);
    cr_expect_float_eq(r->self_ns, 400, 1e-9);
    cr_expect_float_eq(r->min_ns, 300, 1e-9);
    cr_expect_str_eq(r->file, "");
    cr_expect_str_eq(r->module, "(region)");
    cr_expect_eq(r->line, 0);
    const struct pf_row *main_row = ts_row(&fx_model, &fx_prof, MAIN);
    cr_expect_float_eq(main_row->self_ns, 400, 1e-9);
}

Test(control, region_edges_in_the_graph)
{
    struct tstream s;
    summary_nested(&s, 100);
    ts_load(&fx_model, &s, "a.cprof");
    graph_build(&fx_model, &fx_graph);
    uint32_t parse = region_func("parse");
    cr_assert_neq(parse, M_NONE);
    const struct gr_edge *in = graph_edge(&fx_graph, code_func(MAIN), parse);
    const struct gr_edge *out = graph_edge(&fx_graph, parse, code_func(LEAF));
    cr_assert(in && out);
    cr_expect_eq(in->calls, 2);
    cr_expect_float_eq(in->total_ns, 600, 1e-9);
    cr_expect_eq(out->calls, 2);
    cr_expect_float_eq(out->total_ns, 200, 1e-9);
}

/* A trace: region io holds main's call of work, and work opens io again
 * (a region inside a function inside the same region). */
Test(control, region_holding_a_function_in_a_trace)
{
    struct tstream s;
    begin(&s, "trace", 100);
    ts_region(&s, R_IO, "io");
    ts_trace(&s, 1, 0,
             "f1=0x1100 f2=0x1200 f3=0x4000000000000002 "
             "@0 e1 @100 e3 @200 e2 @300 e3 @350 x @400 x @600 x @1000 x");
    finish(&s, 1000);
    ts_load(&fx_model, &s, "a.cprof");
    profile_build(&fx_model, NULL, &fx_prof);
    const struct pf_row *io = row_named("io");
    cr_assert(io);
    cr_expect_eq(io->calls, 2);
    cr_expect_float_eq(io->total_ns, 500, 1e-9); /* the outer activation only */
    cr_expect_float_eq(io->self_ns, 300 + 50, 1e-9);
    const struct pf_row *work = ts_row(&fx_model, &fx_prof, WORK);
    cr_expect_float_eq(work->total_ns, 200, 1e-9);
    graph_build(&fx_model, &fx_graph);
    const struct gr_edge *e = graph_edge(&fx_graph, region_func("io"), code_func(WORK));
    cr_assert(e);
    cr_expect_eq(e->calls, 1);
}

Test(control, regions_merge_by_name_over_threads_and_processes)
{
    struct tstream s;
    /* process 100: io in two threads; process 200 gives io another fn and
     * parse the fn process 100 gave io */
    begin(&s, "summary", 100);
    ts_region(&s, R_IO, "io");
    ts_node(&s, 1, 1, 0, R_IO, 3, 300, 100, 100, 3);
    ts_thread_end(&s, 1, "");
    ts_thread(&s, 2, 101);
    ts_node(&s, 2, 1, 0, R_IO, 1, 50, 50, 50, 1);
    ts_thread_end(&s, 2, "");
    ts_end(&s, 1e9, 1000);
    ts_load(&fx_model, &s, "a.cprof");
    begin(&s, "trace", 200);
    ts_region(&s, R_PARSE, "io");
    ts_region(&s, R_IO, "parse");
    ts_trace(&s, 1, 0,
             "f1=0x4000000000000001 f2=0x4000000000000002 @0 e1 @10 x @20 e2 @60 x");
    finish(&s, 100);
    ts_load(&fx_model, &s, "b.cprof");
    profile_build(&fx_model, NULL, &fx_prof);
    cr_expect_eq(fx_prof.nrows, 2);
    const struct pf_row *io = row_named("io"), *parse = row_named("parse");
    cr_assert(io && parse);
    cr_expect_eq(io->calls, 5);
    cr_expect_float_eq(io->total_ns, 360, 1e-9);
    cr_expect_eq(parse->calls, 1);
    cr_expect_float_eq(parse->total_ns, 40, 1e-9);
}

Test(control, regions_in_the_heap_view)
{
    struct tstream s;
    begin(&s, "summary", 100);
    ts_region(&s, R_PARSE, "parse");
    ts_node_heap(&s, 1, 1, 0, MAIN, 1, 1000, (const uint64_t[]){1, 100, 0, 0, 100});
    ts_node_heap(&s, 1, 2, 1, R_PARSE, 1, 500, (const uint64_t[]){2, 64, 1, 16, 164});
    finish(&s, 1000);
    ts_load(&fx_model, &s, "a.cprof");
    profile_build(&fx_model, NULL, &fx_prof);
    const struct pf_row *r = row_named("parse");
    cr_assert(r);
    cr_expect_eq(r->alloc_calls, 2);
    cr_expect_eq(r->alloc_bytes, 64);
    cr_expect_eq(r->peak_bytes, 164);
    const struct pf_row *main_row = ts_row(&fx_model, &fx_prof, MAIN);
    cr_expect_eq(main_row->total_alloc_bytes, 164);

    char *out, *err;
    begin(&s, "summary", 100);
    ts_region(&s, R_PARSE, "parse");
    ts_node_heap(&s, 1, 1, 0, R_PARSE, 1, 500, (const uint64_t[]){2, 64, 1, 16, 164});
    finish(&s, 1000);
    cr_expect_eq(run_cmd(cmd_heap, "heap", &s, NULL, &out, &err), 0, "%s", err);
    expect_in(out, (const char *[]){"parse", "(region)", NULL});
    free(out);
    free(err);
}

Test(control, regions_in_report_and_graph_commands)
{
    struct tstream s;
    char *out, *err;
    summary_nested(&s, 100);
    cr_expect_eq(run_cmd(cmd_report, "report", &s,
                         (const char *[]){"--format", "json", NULL}, &out, &err),
                 0, "%s", err);
    expect_in(out,
              (const char *[]){"\"name\": \"parse\"", "\"module\": \"(region)\"", NULL});
    free(out);
    free(err);
    summary_nested(&s, 100);
    cr_expect_eq(run_cmd(cmd_graph, "graph", &s, NULL, &out, &err), 0, "%s", err);
    expect_in(out, (const char *[]){"parse", NULL});
    free(out);
    free(err);
}

/* ---- EXT_OFF / EXT_ON --------------------------------------------------- */

/* Trace events as raw uints, with the time running from 0. */
struct evs {
    uint64_t v[64];
    size_t n;
    uint64_t last;
};

static void ev_token(struct evs *e, uint64_t at, unsigned kind)
{
    e->v[e->n++] = (at - e->last) << CPROF_EV_KIND_BITS | kind;
    e->last = at;
}

static void ev_ext(struct evs *e, uint64_t at, uint64_t code)
{
    ev_token(e, at, CPROF_EV_EXT);
    e->v[e->n++] = code;
}

static void ev_func(struct evs *e, uint64_t index, uint64_t addr)
{
    ev_ext(e, e->last, CPROF_EXT_FUNC);
    e->v[e->n++] = index;
    e->v[e->n++] = addr;
}

static void ev_enter(struct evs *e, uint64_t at, uint64_t index)
{
    ev_token(e, at, CPROF_EV_ENTER);
    e->v[e->n++] = index;
}

/* main runs 0..1000; recording is off 100..500 (work's first call, made
 * then, is not in the trace) and work's second call runs 600..700. */
static void toggled_trace(struct tstream *s, int start_with_on)
{
    struct evs e = {0};
    ev_func(&e, 1, MAIN);
    ev_func(&e, 2, WORK);
    if (start_with_on)
        ev_ext(&e, 0, CPROF_EXT_ON); /* the thread began while recording was off */
    ev_enter(&e, 0, 1);
    ev_ext(&e, 100, CPROF_EXT_OFF);
    ev_ext(&e, 500, CPROF_EXT_ON);
    ev_enter(&e, 600, 2);
    ev_token(&e, 700, CPROF_EV_EXIT);
    ev_token(&e, 1000, CPROF_EV_EXIT);
    begin(s, "trace", 100);
    ts_trace_raw(s, 1, 0, e.v, e.n);
    finish(s, 1000);
}

Test(control, replay_across_recording_off)
{
    struct tstream s;
    toggled_trace(&s, 0);
    ts_load(&fx_model, &s, "a.cprof");
    cr_expect_eq(fx_model.damage.count, 0);
    profile_build(&fx_model, NULL, &fx_prof);
    const struct pf_row *m = ts_row(&fx_model, &fx_prof, MAIN);
    const struct pf_row *w = ts_row(&fx_model, &fx_prof, WORK);
    cr_expect_eq(m->calls, 1);
    cr_expect_eq(m->completed, 1);
    cr_expect_float_eq(m->total_ns, 1000, 1e-9); /* open across the off period */
    cr_expect_eq(w->calls, 1);
    cr_expect_float_eq(w->total_ns, 100, 1e-9);
    cr_expect_eq(fx_model.procs[0]->threads[0]->stats.recording_off, 1);
    audit_build(&fx_model, &fx_audit);
    cr_expect(fx_audit.threads[0].balanced);
    cr_expect_eq(fx_audit.lost, 0);
}

Test(control, replay_of_a_thread_begun_while_off)
{
    struct tstream s;
    toggled_trace(&s, 1);
    ts_load(&fx_model, &s, "a.cprof");
    cr_expect_eq(fx_model.damage.count, 0);
    profile_build(&fx_model, NULL, &fx_prof);
    cr_expect_eq(ts_row(&fx_model, &fx_prof, WORK)->calls, 1);
}

/* ---- periods in audit ----------------------------------------------------- */

static void periods_run(struct tstream *s)
{
    begin(s, "summary", 100);
    ts_period(s, 0, 200, "start", "api");
    ts_period(s, 600, 800, "signal", "signal");
    ts_period(s, 900, 0, "api", "end");
    ts_node(s, 1, 1, 0, MAIN, 1, 1000, 1000, 1000, 1);
    finish(s, 1000);
}

Test(control, periods_are_facts_of_the_process)
{
    struct tstream s;
    periods_run(&s);
    ts_load(&fx_model, &s, "a.cprof");
    const struct m_process *p = fx_model.procs[0];
    cr_assert_eq(p->nperiods, 3);
    cr_expect_str_eq(p->periods[1].how_on, "signal");
    cr_expect_eq(p->periods[2].off_ticks, 0);
    audit_build(&fx_model, &fx_audit);
    cr_expect_eq(fx_audit.procs[0].nperiods, 3);
    cr_expect_float_eq(fx_audit.procs[0].recorded_ns, 500, 1e-9);
    cr_expect(!fx_audit.procs[0].never_on);
    cr_expect_eq(fx_audit.lossy_procs, 0);
}

Test(control, audit_text_and_json_list_periods)
{
    struct tstream s;
    char *out, *err;
    periods_run(&s);
    cr_expect_eq(run_cmd(cmd_audit, "audit", &s, NULL, &out, &err), 0, "%s", err);
    expect_in(out, (const char *[]){
                       "recording: on in 3 periods, 500 ns of 1.00 µs (50.0%)",
                       "recording periods", "signal", "exact: nothing lost", NULL});
    free(out);
    free(err);
    periods_run(&s);
    cr_expect_eq(run_cmd(cmd_audit, "audit", &s,
                         (const char *[]){"--format", "json", NULL}, &out, &err),
                 0, "%s", err);
    expect_in(out,
              (const char *[]){"\"periods\": [", "\"how_on\": \"signal\"",
                               "\"on_ns\": 600", "\"off_ns\": null",
                               "\"duration_ns\": 100", "\"recorded_ns\": 500", NULL});
    free(out);
    free(err);
    periods_run(&s);
    cr_expect_eq(run_cmd(cmd_audit, "audit", &s,
                         (const char *[]){"--format", "csv", "--periods", NULL}, &out,
                         &err),
                 0, "%s", err);
    expect_in(out,
              (const char *[]){"file,pid,period,on_ns,off_ns,duration_ns,how_on,how_off",
                               ",3,900,,100,api,end", NULL});
    free(out);
    free(err);
}

Test(control, a_run_never_recorded_is_not_a_loss)
{
    struct tstream s;
    char *out, *err;
    begin(&s, "summary", 100);
    ts_period(&s, 10, 10, "start", "env"); /* off_ticks 0 would mean still on */
    finish(&s, 1000);
    cr_expect_eq(run_cmd(cmd_audit, "audit", &s, NULL, &out, &err), 0, "%s%s", out, err);
    expect_in(out, (const char *[]){"recording: never on", "exact: nothing lost", NULL});
    free(out);
    free(err);
}

Test(control, a_run_without_periods_shows_none)
{
    struct tstream s;
    char *out, *err;
    begin(&s, "summary", 100);
    ts_node(&s, 1, 1, 0, MAIN, 1, 1000, 1000, 1000, 1);
    finish(&s, 1000);
    cr_expect_eq(run_cmd(cmd_audit, "audit", &s, NULL, &out, &err), 0, "%s", err);
    cr_expect(!strstr(out, "recording"), "%s", out);
    free(out);
    free(err);
}

/* ---- malformed control data ------------------------------------------------- */

/* Loads s (a header, a module and a thread, then what the test wrote from
 * byte at on) and expects the file to be damaged at byte at with want in
 * the message (then cut short: the end record is not read); the data
 * before it stays loaded. */
static void expect_damage(struct tstream *s, size_t at, const char *want)
{
    ts_end(s, 1e9, 1000);
    ts_load(&fx_model, s, "bad.cprof");
    cr_assert_geq(fx_model.damage.count, 1, "no damage reported");
    const char *got = fx_model.damage.text[0];
    char where[64];
    snprintf(where, sizeof where, "bad.cprof: damaged at byte %zu (", at);
    cr_expect(strstr(got, where), "no \"%s\" in: %s", where, got);
    cr_expect(strstr(got, want), "no \"%s\" in: %s", want, got);
}

static size_t bad_begin(struct tstream *s)
{
    begin(s, "summary", 100);
    return ts_len(s);
}

Test(control, region_fn_without_the_region_bit)
{
    struct tstream s;
    size_t at = bad_begin(&s);
    ts_region(&s, MAIN, "parse");
    expect_damage(&s, at, "bad region record: its fn field is a code address");
}

Test(control, region_name_not_a_string_or_empty)
{
    struct tstream s;
    size_t at = bad_begin(&s);
    mp_array(&s.out, 3);
    mp_uint(&s.out, CPROF_REC_REGION);
    mp_uint(&s.out, R_IO);
    mp_uint(&s.out, 7);
    expect_damage(&s, at, "bad region record: its name field is not a string");
    model_free(&fx_model);

    at = bad_begin(&s);
    ts_region(&s, R_IO, "");
    expect_damage(&s, at, "its name field is empty");
    model_free(&fx_model);

    at = bad_begin(&s);
    mp_array(&s.out, 2);
    mp_uint(&s.out, CPROF_REC_REGION);
    mp_uint(&s.out, R_IO);
    expect_damage(&s, at, "its name field is missing");
}

Test(control, region_renamed)
{
    struct tstream s;
    bad_begin(&s);
    ts_region(&s, R_IO, "io");
    ts_region(&s, R_IO, "io"); /* a repeat is fine */
    size_t at = ts_len(&s);
    ts_region(&s, R_IO, "disk");
    expect_damage(&s, at, "region 0x4000000000000002, named \"io\" before, is renamed");
}

Test(control, undefined_region_in_a_node_record)
{
    struct tstream s;
    bad_begin(&s);
    ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
    size_t at = ts_len(&s);
    ts_node(&s, 1, 2, 1, R_PARSE, 1, 50, 50, 50, 1);
    expect_damage(&s, at,
                  "node record 2 of thread 1 uses region 0x4000000000000001, which no "
                  "region record named");
    cr_expect_eq(fx_model.procs[0]->threads[0]->nnodes, 2); /* main kept */
}

Test(control, undefined_region_in_a_trace)
{
    struct tstream s;
    begin(&s, "trace", 100);
    size_t at = ts_len(&s);
    ts_trace(&s, 1, 0, "f1=0x4000000000000002 @0 e1 @10 x");
    expect_damage(
        &s, at, "EXT_FUNC uses region 0x4000000000000002, which no region record named");
}

Test(control, periods_out_of_order_or_inverted)
{
    struct tstream s;
    size_t at = bad_begin(&s);
    ts_period(&s, 500, 100, "api", "api");
    expect_damage(&s, at,
                  "bad period record 1: its off_ticks field is before its on_ticks");
    model_free(&fx_model);

    bad_begin(&s);
    ts_period(&s, 0, 500, "start", "api");
    at = ts_len(&s);
    ts_period(&s, 400, 600, "api", "api");
    expect_damage(&s, at, "bad period record 2: its on_ticks field is before the end");
    model_free(&fx_model);

    bad_begin(&s);
    ts_period(&s, 5, 5, "start", "env");
    ts_period(&s, 10, 0, "api", "end");
    at = ts_len(&s);
    ts_period(&s, 20, 30, "api", "api");
    expect_damage(&s, at,
                  "bad period record 3: its on_ticks field is after a period that "
                  "never ended");
}

Test(control, period_fields_missing_or_of_the_wrong_type)
{
    struct tstream s;
    size_t at = bad_begin(&s);
    mp_array(&s.out, 4);
    mp_uint(&s.out, CPROF_REC_PERIOD);
    mp_uint(&s.out, 0);
    mp_uint(&s.out, 10);
    mp_cstr(&s.out, "start");
    expect_damage(&s, at, "bad period record 1: its how_off field is missing");
    model_free(&fx_model);

    at = bad_begin(&s);
    mp_array(&s.out, 5);
    mp_uint(&s.out, CPROF_REC_PERIOD);
    mp_cstr(&s.out, "0");
    mp_uint(&s.out, 10);
    mp_cstr(&s.out, "start");
    mp_cstr(&s.out, "api");
    expect_damage(&s, at, "its on_ticks field is not an unsigned integer");
}

/* ---- EXT_RESET and trace flushes ----------------------------------------- */

/* main runs 0..1000 and allocates once before the reset and once after;
 * work's first call (10..30) ends before the reset at 60, its second
 * (40..100) is open across it with leaf (50..70) inside; work's third
 * call runs 200..250. */
static void reset_trace(struct tstream *s)
{
    struct evs e = {0};
    ev_func(&e, 1, MAIN);
    ev_func(&e, 2, WORK);
    ev_func(&e, 3, LEAF);
    ev_enter(&e, 0, 1);
    ev_ext(&e, 5, CPROF_EXT_ALLOC);
    e.v[e.n++] = 64;
    e.v[e.n++] = 64;
    ev_enter(&e, 10, 2);
    ev_token(&e, 30, CPROF_EV_EXIT);
    ev_enter(&e, 40, 2);
    ev_enter(&e, 50, 3);
    ev_ext(&e, 60, CPROF_EXT_RESET);
    ev_token(&e, 70, CPROF_EV_EXIT);
    ev_token(&e, 100, CPROF_EV_EXIT);
    ev_ext(&e, 150, CPROF_EXT_ALLOC);
    e.v[e.n++] = 32;
    e.v[e.n++] = 96;
    ev_enter(&e, 200, 2);
    ev_token(&e, 250, CPROF_EV_EXIT);
    ev_token(&e, 1000, CPROF_EV_EXIT);
    begin(s, "trace", 100);
    ts_trace_raw(s, 1, 0, e.v, e.n);
    finish(s, 1000);
}

Test(control, replay_drops_what_came_before_a_reset)
{
    struct tstream s;
    reset_trace(&s);
    ts_load(&fx_model, &s, "a.cprof");
    cr_expect_eq(fx_model.damage.count, 0);
    profile_build(&fx_model, NULL, &fx_prof);
    const struct pf_row *m = ts_row(&fx_model, &fx_prof, MAIN);
    const struct pf_row *w = ts_row(&fx_model, &fx_prof, WORK);
    const struct pf_row *l = ts_row(&fx_model, &fx_prof, LEAF);
    /* open at the reset: counted once, timed from it */
    cr_expect_eq(m->calls, 1);
    cr_expect_eq(m->completed, 1);
    cr_expect_float_eq(m->total_ns, 940, 1e-9);
    cr_expect_eq(w->calls, 2, "work %llu", (unsigned long long)w->calls);
    cr_expect_float_eq(w->total_ns, 40 + 50, 1e-9);
    cr_expect_eq(l->calls, 1);
    cr_expect_float_eq(l->total_ns, 10, 1e-9);
    cr_expect_eq(m->alloc_calls, 1, "main allocated %llu times",
                 (unsigned long long)m->alloc_calls);
    cr_expect_eq(m->alloc_bytes, 32);
    const struct m_thread *t = fx_model.procs[0]->threads[0];
    cr_expect_eq(t->heap_replay.alloc_calls, 1);
    cr_expect_eq(t->stats.resets, 1);
    audit_build(&fx_model, &fx_audit);
    cr_expect(fx_audit.threads[0].balanced);
    cr_expect_eq(fx_audit.lost, 0);
}

/* A trace whose last end record is a flush (the program was killed after
 * cprof_flush): complete, its open calls closed at the flush. */
Test(control, trace_ended_by_a_flush_is_complete)
{
    struct tstream s;
    begin(&s, "trace", 100);
    ts_trace(&s, 1, 0, "f1=0x1100 f2=0x1200 @0 e1 @10 e2 @20 x");
    ts_end_run(&s, 1e9, 500, "flush", 0, 1, 0);
    ts_load(&fx_model, &s, "a.cprof");
    cr_expect_eq(fx_model.damage.count, 0);
    profile_build(&fx_model, NULL, &fx_prof);
    const struct pf_row *m = ts_row(&fx_model, &fx_prof, MAIN);
    cr_expect_eq(m->calls, 1);
    cr_expect_eq(m->completed, 0);
    cr_expect_float_eq(m->total_ns, 500, 1e-9);
    const struct m_thread *t = fx_model.procs[0]->threads[0];
    cr_expect_eq(t->stats.closed_at_end, 1);
    cr_expect_eq(t->stats.cut_open, 0);
    cr_expect_str_eq(fx_model.procs[0]->end_reason, "flush");
}

/* Records after a flush's end record (chunks, the periods and end record
 * of a later flush or of the end) supersede it: the periods are listed
 * once, the last end record's reason and time hold. */
Test(control, records_after_a_flush_supersede_it)
{
    struct tstream s;
    begin(&s, "trace", 100);
    ts_trace(&s, 1, 0, "f1=0x1100 f2=0x1200 @0 e1 @10 e2 @20 x");
    ts_period(&s, 0, 0, "start", "end");
    ts_end_run(&s, 1e9, 300, "flush", 0, 1, 0);
    ts_trace(&s, 1, 20, "@400 e2 @450 x @800 x");
    ts_period(&s, 0, 0, "start", "end");
    ts_end_run(&s, 1e9, 900, "exit", 0, 1, 0);
    ts_load(&fx_model, &s, "a.cprof");
    cr_expect_eq(fx_model.damage.count, 0);
    cr_expect_eq(fx_model.procs[0]->nperiods, 1);
    cr_expect_str_eq(fx_model.procs[0]->end_reason, "exit");
    profile_build(&fx_model, NULL, &fx_prof);
    const struct pf_row *m = ts_row(&fx_model, &fx_prof, MAIN);
    const struct pf_row *w = ts_row(&fx_model, &fx_prof, WORK);
    cr_expect_eq(m->completed, 1);
    cr_expect_float_eq(m->total_ns, 800, 1e-9);
    cr_expect_eq(w->calls, 2);
    cr_expect_eq(fx_model.procs[0]->threads[0]->stats.cut_open, 0);
}
