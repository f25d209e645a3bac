/*
 * The model and the per-function view on hand-written files: each test
 * states a run as its records (stream.h) and the exact table it must give.
 * One tick is one nanosecond unless a test says otherwise.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cprof_format.h"
#include "model.h"
#include "profile.h"
#include "stream.h"
#include "sym.h"

#define MAIN 0x1100
#define FIB 0x1200
#define A 0x1300
#define B 0x1400

static struct model model;
static struct profile prof;
static struct sym_cache *syms;

static void load(struct tstream *s)
{
    ts_load(&model, s, "test.cprof");
}

static void build(void)
{
    syms = sym_cache_new();
    profile_build(&model, syms, &prof);
}

static void setup(void)
{
    model_init(&model);
    memset(&prof, 0, sizeof prof);
    syms = NULL;
}

static void teardown(void)
{
    profile_free(&prof);
    if (syms)
        sym_cache_free(syms);
    model_free(&model);
}

/* The row of the function at link-time address addr. */
static const struct pf_row *row(uint64_t addr)
{
    return ts_row(&model, &prof, addr);
}

static void expect(uint64_t addr, uint64_t calls, double self, double total)
{
    const struct pf_row *r = row(addr);
    cr_expect_eq(r->calls, calls, "0x%llx: calls %llu, expected %llu",
                 (unsigned long long)addr, (unsigned long long)r->calls,
                 (unsigned long long)calls);
    cr_expect_float_eq(r->self_ns, self, 1e-6, "0x%llx: self %f, expected %f",
                       (unsigned long long)addr, r->self_ns, self);
    cr_expect_float_eq(r->total_ns, total, 1e-6, "0x%llx: total %f, expected %f",
                       (unsigned long long)addr, r->total_ns, total);
}

static void expect_minmax(uint64_t addr, double min, double max)
{
    const struct pf_row *r = row(addr);
    cr_expect(r->completed > 0, "0x%llx: no completed call", (unsigned long long)addr);
    cr_expect_float_eq(r->min_ns, min, 1e-6, "0x%llx: min %f", (unsigned long long)addr,
                       r->min_ns);
    cr_expect_float_eq(r->max_ns, max, 1e-6, "0x%llx: max %f", (unsigned long long)addr,
                       r->max_ns);
}

static int has_warning(const char *part)
{
    for (size_t i = 0; i < model.warnings.count; i++)
        if (strstr(model.warnings.text[i], part))
            return 1;
    return 0;
}

static void begin(struct tstream *s, const char *mode)
{
    ts_begin(s, mode, 100);
    ts_module(s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(s, 1, 100);
}

static void finish(struct tstream *s, const char *stats, uint64_t end)
{
    ts_thread_end(s, 1, stats);
    ts_end(s, 1e9, end);
    load(s);
    build();
}

#define FUNCS "f1=0x1100 f2=0x1200 f3=0x1300 f4=0x1400 "

TestSuite(model, .init = setup, .fini = teardown);

/* main -> fib -> fib -> fib: fib's total is its outermost call only. */
Test(model, recursion_counts_total_once_in_traces)
{
    struct tstream s;
    begin(&s, "trace");
    ts_trace(&s, 1, 0, FUNCS "@0 e1 @10 e2 @20 e2 @30 e2 @40 x @50 x @60 x @100 x");
    finish(&s, "", 100);
    expect(MAIN, 1, 50, 100);
    expect(FIB, 3, 50, 50);
    expect_minmax(FIB, 10, 50);
    cr_expect_eq(model.warnings.count, 0);
    cr_expect_eq(model.damage.count, 0);
}

Test(model, recursion_counts_total_once_in_summaries)
{
    struct tstream s;
    begin(&s, "summary");
    ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
    ts_node(&s, 1, 2, 1, FIB, 1, 50, 50, 50, 1);
    ts_node(&s, 1, 3, 2, FIB, 1, 30, 30, 30, 1);
    ts_node(&s, 1, 4, 3, FIB, 1, 10, 10, 10, 1);
    finish(&s, "enters=4", 100);
    expect(MAIN, 1, 50, 100);
    expect(FIB, 3, 50, 50);
    expect_minmax(FIB, 10, 50);
}

/* a -> b -> a -> b: each function's total is its outermost activation. */
Test(model, mutual_recursion)
{
    struct tstream s;
    begin(&s, "trace");
    ts_trace(&s, 1, 0, FUNCS "@0 e3 @10 e4 @20 e3 @30 e4 @40 x @50 x @60 x @70 x");
    finish(&s, "", 70);
    expect(A, 2, 40, 70);
    expect(B, 2, 30, 50);
    cr_expect_float_eq(prof.total_self_ns, 70, 1e-6);
}

/* main -> a -> b, longjmp back into main, then main calls a again: the
 * jump closes b and a, and the second a is main's child, not b's. */
Test(model, longjmp_unwind_closes_frames_and_keeps_parents_right)
{
    struct tstream s;
    begin(&s, "trace");
    ts_trace(&s, 1, 0, FUNCS "@0 e1 @10 e3 @20 e4 @50 u1:2 @60 e3 @70 x @100 x");
    finish(&s, "repaired_longjmp=2", 100);
    expect(MAIN, 1, 50, 100);
    expect(A, 2, 20, 50);
    expect(B, 1, 30, 30);
    expect_minmax(A, 10, 40);
    struct m_thread *t = model.procs[0]->threads[0];
    cr_assert_eq(t->nnodes, 4, "root, main, a, b: %zu nodes", t->nnodes);
    uint32_t main_node = t->nodes[0].first_child;
    uint32_t a_node = t->nodes[main_node].first_child;
    cr_expect_eq(t->nodes[a_node].calls, 2);
    cr_expect_eq(t->nodes[a_node].next_sibling, M_NONE, "a has one node, under main");
    cr_expect(has_warning("2 frames left by longjmp"));
}

/* exit() from depth: the frames are closed at the end, timed, and they are
 * not completed calls (no min/max). */
Test(model, frames_open_at_exit_are_closed_and_timed)
{
    struct tstream s;
    begin(&s, "trace");
    ts_trace(&s, 1, 0, FUNCS "@0 e1 @10 e3 @30 u2:2");
    finish(&s, "closed_at_end=2", 30);
    expect(MAIN, 1, 10, 30);
    expect(A, 1, 20, 20);
    cr_expect_eq(row(A)->completed, 0);
    cr_expect(has_warning("2 calls were still running"));
}

/* A forked child's file starts inside frames its parent counted: they
 * carry the child's time but no calls. */
Test(model, fork_child_inherits_frames_without_counting_them)
{
    struct tstream s;
    begin(&s, "trace");
    ts_trace(&s, 1, 100, FUNCS "@100 i1,3 @110 e4 @120 x @150 u2:2");
    finish(&s, "closed_at_end=2", 150);
    expect(MAIN, 0, 0, 50);
    expect(A, 0, 40, 50);
    expect(B, 1, 10, 10);
}

/* A trace cut short (the process was killed): what it holds is used and
 * the open frames are closed at the last event. */
Test(model, cut_short_trace_keeps_its_data)
{
    struct tstream s;
    begin(&s, "trace");
    ts_trace(&s, 1, 0, FUNCS "@0 e1 @10 e3 @20 x");
    load(&s);
    build();
    expect(MAIN, 1, 10, 20);
    expect(A, 1, 10, 10);
    cr_expect(has_warning("cut short"));
    cr_expect(has_warning("had not returned"));
}

/* Chunks continue each other: indexes and open frames carry over. */
Test(model, trace_chunks_continue)
{
    struct tstream s;
    begin(&s, "trace");
    ts_trace(&s, 1, 0, FUNCS "@0 e1 @10 e2");
    ts_trace(&s, 1, 15, "@20 x @30 e2 @35 x");
    ts_trace(&s, 1, 40, "@40 x");
    finish(&s, "", 40);
    expect(MAIN, 1, 25, 40);
    expect(FIB, 2, 15, 15);
    expect_minmax(FIB, 5, 10);
}

/* Two processes of one program at different load addresses (ASLR) merge
 * into one function by link-time address. */
Test(model, processes_merge_by_link_time_address)
{
    struct tstream s;
    ts_begin(&s, "summary", 1);
    ts_module(&s, 0x5550000, 0x5551000, 0x5552000, "/nonexistent/prog");
    ts_thread(&s, 1, 1);
    ts_node(&s, 1, 1, 0, 0x5550000 + MAIN, 1, 100, 100, 100, 1);
    finish(&s, "", 100);
    ts_begin(&s, "summary", 2);
    ts_module(&s, 0x7770000, 0x7771000, 0x7772000, "/nonexistent/prog");
    ts_thread(&s, 1, 2);
    ts_node(&s, 1, 1, 0, 0x7770000 + MAIN, 2, 300, 100, 200, 2);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 300);
    profile_free(&prof);
    sym_cache_free(syms);
    load(&s);
    build();
    cr_assert_eq(prof.nrows, 1);
    expect(MAIN, 3, 400, 400);
    expect_minmax(MAIN, 100, 200);
}

/* A test suite's many runs each repairing some frames: one warning that
 * sums them and names the first few processes, not one per process. */
Test(model, warnings_of_many_processes_are_summed)
{
    for (uint64_t pid = 1; pid <= 5; pid++) {
        struct tstream s;
        ts_begin(&s, "summary", pid);
        ts_module(&s, 0, 0x1000, 0x2000, "/nonexistent/prog");
        ts_thread(&s, 1, pid);
        ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
        ts_thread_end(&s, 1, "repaired_longjmp=2");
        ts_end(&s, 1e9, 100);
        load(&s);
    }
    build();
    size_t longjmp_warnings = 0;
    for (size_t i = 0; i < model.warnings.count; i++)
        longjmp_warnings += strstr(model.warnings.text[i], "longjmp") != NULL;
    cr_expect_eq(longjmp_warnings, 1, "%zu longjmp warnings", longjmp_warnings);
    cr_expect(has_warning("10 frames left by longjmp"));
    cr_expect(has_warning("in 5 processes ("));
    cr_expect(has_warning("[1], "));
    cr_expect(has_warning("[3] and 2 more)"));
    expect(MAIN, 5, 500, 500);
}

Test(model, ticks_convert_with_the_recorded_rate)
{
    struct tstream s;
    begin(&s, "summary");
    ts_node(&s, 1, 1, 0, MAIN, 1, 3000, 3000, 3000, 1);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 3e9, 3000); /* 3 GHz: 3000 ticks are 1000 ns */
    load(&s);
    build();
    expect(MAIN, 1, 1000, 1000);
}

Test(model, count_mode_has_counts_and_no_times)
{
    struct tstream s;
    begin(&s, "count");
    ts_node(&s, 1, 1, 0, MAIN, 1, 0, 0, 0, 0);
    ts_node(&s, 1, 2, 1, FIB, 7, 0, 0, 0, 0);
    finish(&s, "", 0);
    cr_expect(!prof.timed);
    cr_expect_eq(row(FIB)->calls, 7);
    cr_expect_eq(row(MAIN)->calls, 1);
}

Test(model, pid_and_tid_filters)
{
    struct tstream s;
    begin(&s, "summary");
    ts_node(&s, 1, 1, 0, MAIN, 1, 10, 10, 10, 1);
    ts_thread(&s, 2, 222);
    ts_node(&s, 2, 1, 0, FIB, 5, 50, 10, 10, 5);
    ts_thread_end(&s, 2, "");
    model.filter.tid = 222;
    finish(&s, "", 100);
    cr_assert_eq(prof.nrows, 1);
    expect(FIB, 5, 50, 50);

    char msg[128];
    begin(&s, "summary");
    model.filter.pid = 99;
    cr_expect_eq(model_load_mem(&model, "x", s.buf, ts_len(&s), msg, sizeof msg), 1);
    ts_free(&s);
}

Test(model, calls_past_the_node_limit_have_their_own_row)
{
    struct tstream s;
    begin(&s, "summary");
    ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
    ts_node(&s, 1, 2, 1, CPROF_FN_NODE_LIMIT, 40, 60, 1, 2, 40);
    finish(&s, "dropped_nodes=40", 100);
    const struct pf_row *r = NULL;
    for (size_t i = 0; i < prof.nrows; i++)
        if (!strcmp(prof.rows[i].name, "[node limit]"))
            r = &prof.rows[i];
    cr_assert(r, "no [node limit] row");
    cr_expect_eq(r->calls, 40);
    cr_expect(has_warning("40 calls past CPROF_MAX_NODES"));
}

Test(model, functions_outside_every_module_are_named_by_address)
{
    struct tstream s;
    begin(&s, "summary");
    ts_node(&s, 1, 1, 0, 0x999999, 1, 10, 10, 10, 1);
    finish(&s, "", 10);
    cr_assert_eq(prof.nrows, 1);
    cr_expect_str_eq(prof.rows[0].name, "0x999999");
}

/* ---- damaged and foreign input ---------------------------------------- */

static int load_raw(const void *data, size_t len, char *msg, size_t msglen)
{
    return model_load_mem(&model, "bad.cprof", data, len, msg, msglen);
}

Test(model, refuses_what_is_not_a_cprof_file)
{
    char msg[256];
    cr_expect_eq(load_raw("", 0, msg, sizeof msg), -1);
    cr_expect(strstr(msg, "empty file"), "%s", msg);
    const char *json = "{\"magic\": \"cprof\"}";
    cr_expect_eq(load_raw(json, strlen(json), msg, sizeof msg), -1);
    cr_expect(strstr(msg, "not a cprof file"), "%s", msg);
    /* a msgpack map that is someone else's */
    static const uint8_t other[] = {0x81, 0xa3, 'f', 'o', 'o', 0x01};
    cr_expect_eq(load_raw(other, sizeof other, msg, sizeof msg), -1);
    cr_expect(strstr(msg, "not a cprof file"), "%s", msg);
    cr_expect_eq(model.nprocs, 0);
}

Test(model, refuses_a_newer_major_version)
{
    struct tstream s;
    ts_begin_version(&s, "summary", 1, 2, 0);
    char msg[256];
    cr_expect_eq(load_raw(s.buf, ts_len(&s), msg, sizeof msg), -1);
    char want[96];
    snprintf(want, sizeof want, "format 2.0 is newer than this cprof reads (%d.%d)",
             CPROF_FORMAT_MAJOR, CPROF_FORMAT_MINOR);
    cr_expect(strstr(msg, want), "%s", msg);
    ts_free(&s);
}

Test(model, reads_a_newer_minor_version_skipping_what_it_does_not_know)
{
    struct tstream s;
    ts_begin_version(&s, "summary", 1, 1, 7);
    ts_module(&s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    mp_array(&s.out, 3); /* a record type from the future */
    mp_uint(&s.out, 99);
    mp_cstr(&s.out, "new");
    mp_map(&s.out, 0);
    ts_node(&s, 1, 1, 0, MAIN, 4, 40, 10, 10, 4);
    finish(&s, "", 40);
    expect(MAIN, 4, 40, 40);
}

/* A file cut off inside a record keeps every record before the cut and
 * says at which byte the damage starts. */
Test(model, truncated_file_reports_the_data_before_the_cut)
{
    struct tstream s;
    begin(&s, "summary");
    ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
    size_t cut_record = ts_len(&s);
    ts_node(&s, 1, 2, 1, FIB, 9, 50, 5, 6, 9);
    size_t whole = ts_len(&s);
    char msg[256];
    for (size_t len = cut_record + 1; len < whole; len++) {
        model_free(&model);
        model_init(&model);
        cr_assert_eq(load_raw(s.buf, len, msg, sizeof msg), 0);
        char expected[64];
        snprintf(expected, sizeof expected, "truncated at byte %zu", cut_record);
        cr_expect(has_warning(expected), "cut at %zu: no '%s' warning", len, expected);
        cr_expect_eq(model.damage.count, 2, "truncated, and cut short (no end record)");
        profile_free(&prof);
        if (syms)
            sym_cache_free(syms);
        build();
        cr_expect_eq(prof.nrows, 1);
        expect(MAIN, 1, 100, 100);
    }
    ts_free(&s);
}

Test(model, malformed_records_stop_the_file_with_a_warning)
{
    struct tstream s;
    begin(&s, "summary");
    ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
    size_t at = ts_len(&s);
    mp_array(&s.out, 3); /* a node record with two fields */
    mp_uint(&s.out, CPROF_REC_NODE);
    mp_uint(&s.out, 1);
    mp_cstr(&s.out, "oops");
    ts_node(&s, 1, 2, 1, FIB, 9, 50, 5, 6, 9);
    load(&s);
    build();
    char expected[64];
    snprintf(expected, sizeof expected, "damaged at byte %zu (bad node record)", at);
    cr_expect(has_warning(expected));
    cr_expect_eq(prof.nrows, 1);
}

Test(model, bad_trace_events_stop_the_file_with_a_warning)
{
    struct tstream s;
    begin(&s, "trace");
    ts_trace(&s, 1, 0, "@0 e5"); /* index 5 was never defined */
    load(&s);
    cr_expect(has_warning("bad event"));
}
