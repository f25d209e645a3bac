/*
 * Overhead compensation's arithmetic (profile.c): hand-made trees with a
 * probe cost of 10 ns a call, 4 ns of it inside the call's own time (so 6
 * outside, in its caller's self time), and 2 ns a line event, at 1 GHz
 * (a tick is a nanosecond). Per node, with c its calls, k its children's
 * calls, d the calls below it and l, L its and its subtree's line events:
 *   self_adj  = self  - 4c - 6k - 2l
 *   total_adj = total - 4c - 10d - 2L
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "cprof_format.h"
#include "model.h"
#include "profile.h"
#include "stream.h"

#define MAIN 0x1100
#define A 0x1200
#define B 0x1300
#define FIB 0x1400
#define R_IO (CPROF_FN_REGION_BIT | 1)

static struct model model;
static struct profile prof;

static void setup(void)
{
    model_init(&model);
    memset(&prof, 0, sizeof prof);
}

static void teardown(void)
{
    profile_free(&prof);
    model_free(&model);
}

TestSuite(compensate, .init = setup, .fini = teardown);

static void begin(struct tstream *s, uint64_t pid, double call, double inner, double line)
{
    ts_begin_probe(s, "summary", pid, call, inner, line);
    ts_module(s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(s, 1, pid);
}

static void finish(struct tstream *s, uint64_t end)
{
    ts_thread_end(s, 1, "");
    ts_end(s, 1e9, end);
    ts_load(&model, s, "test.cprof");
    profile_build(&model, NULL, &prof);
}

static void expect_adj(uint64_t addr, double self_adj, double total_adj, int clamped)
{
    const struct pf_row *r = ts_row(&model, &prof, addr);
    cr_expect_float_eq(r->self_adj_ns, self_adj, 1e-6, "0x%llx: self_adj %f, expected %f",
                       (unsigned long long)addr, r->self_adj_ns, self_adj);
    cr_expect_float_eq(r->total_adj_ns, total_adj, 1e-6,
                       "0x%llx: total_adj %f, expected %f", (unsigned long long)addr,
                       r->total_adj_ns, total_adj);
    cr_expect_eq(r->adj_clamped, clamped, "0x%llx: clamped %d", (unsigned long long)addr,
                 r->adj_clamped);
}

/* main (1 call, 1000) -> a (10 calls, 600) -> b (20 calls, 300), and
 * main -> b (5 calls, 100). */
Test(compensate, self_and_total_of_a_tree)
{
    struct tstream s;
    begin(&s, 100, 10, 4, 2);
    ts_node(&s, 1, 1, 0, MAIN, 1, 1000, 1000, 1000, 1);
    ts_node(&s, 1, 2, 1, A, 10, 600, 60, 60, 10);
    ts_node(&s, 1, 3, 2, B, 20, 300, 15, 15, 20);
    ts_node(&s, 1, 4, 1, B, 5, 100, 20, 20, 5);
    finish(&s, 1000);
    cr_assert(prof.compensable);
    cr_expect(!prof.probe_varies);
    cr_expect_float_eq(prof.probe_call_ns, 10, 1e-9);
    cr_expect_float_eq(prof.probe_inner_ns, 4, 1e-9);
    cr_expect_float_eq(prof.probe_line_ns, 2, 1e-9);
    /* b: (300 - 80) + (100 - 20), both its nodes outermost */
    expect_adj(B, 300, 300, 0);
    /* a: self 300 - 40 - 6 * 20; total 600 - 40 - 10 * 20 */
    expect_adj(A, 140, 360, 0);
    /* main: self 300 - 4 - 6 * 15; total 1000 - 4 - 10 * 35 */
    expect_adj(MAIN, 206, 646, 0);
    /* the raw figures stay as they were */
    const struct pf_row *r = ts_row(&model, &prof, MAIN);
    cr_expect_float_eq(r->self_ns, 300, 1e-9);
    cr_expect_float_eq(r->total_ns, 1000, 1e-9);
}

/* fib (1 call, 100) -> fib (2 calls, 60) -> fib (4 calls, 20): the total
 * counts the outermost activation, whose subtree holds the other 6 calls. */
Test(compensate, recursion_counts_the_outermost_subtree)
{
    struct tstream s;
    begin(&s, 100, 10, 4, 2);
    ts_node(&s, 1, 1, 0, FIB, 1, 100, 100, 100, 1);
    ts_node(&s, 1, 2, 1, FIB, 2, 60, 30, 30, 2);
    ts_node(&s, 1, 3, 2, FIB, 4, 20, 5, 5, 4);
    finish(&s, 100);
    /* self: (40 - 4 - 12) + (40 - 8 - 24) + (20 - 16) */
    expect_adj(FIB, 36, 100 - 4 - 60, 0);
}

/* Calls shorter than their probe cost: clamped at 0 and marked. */
Test(compensate, clamped_at_zero)
{
    struct tstream s;
    begin(&s, 100, 10, 4, 2);
    ts_node(&s, 1, 1, 0, MAIN, 1, 400, 400, 400, 1);
    ts_node(&s, 1, 2, 1, A, 10, 20, 2, 2, 10);
    finish(&s, 400);
    expect_adj(A, 0, 0, 1);
    expect_adj(MAIN, 380 - 4 - 60, 400 - 4 - 100, 0);
}

/* main (1 call, 300) -> b (4 calls, 200), b with 10 line events over two
 * lines. */
static void begin_lined(struct tstream *s)
{
    begin(s, 100, 10, 4, 2);
    ts_node(s, 1, 1, 0, MAIN, 1, 300, 300, 300, 1);
    ts_node(s, 1, 2, 1, B, 4, 200, 50, 50, 4);
    ts_line(s, 1, B, "b", "/nonexistent/b.c", 3, 4, 80, 80);
    ts_line(s, 1, B, "b", "/nonexistent/b.c", 4, 6, 120, 100);
}

/* Line events: each 2 ns in b's self time and in every ancestor's total. */
Test(compensate, line_events)
{
    struct tstream s;
    begin_lined(&s);
    finish(&s, 300);
    expect_adj(B, 200 - 16 - 20, 200 - 16 - 20, 0);
    expect_adj(MAIN, 100 - 4 - 24, 300 - 4 - 40 - 20, 0);
}

/* A region's begin and end run no hook: its calls cost nothing, while
 * the calls inside it do. main (1, 100) -> io (1, 50) -> a (2, 20). */
Test(compensate, regions_are_not_probed_calls)
{
    struct tstream s;
    begin(&s, 100, 10, 4, 2);
    ts_region(&s, R_IO, "io");
    ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
    ts_node(&s, 1, 2, 1, R_IO, 1, 50, 50, 50, 1);
    ts_node(&s, 1, 3, 2, A, 2, 20, 10, 10, 2);
    finish(&s, 100);
    expect_adj(MAIN, 50 - 4, 100 - 4 - 20, 0);
    expect_adj(A, 20 - 8, 20 - 8, 0);
}

/* Without the keys (a file from before 1.5) there is nothing to subtract:
 * the profile says so. */
Test(compensate, no_probe_cost_no_compensation)
{
    struct tstream s;
    ts_begin(&s, "summary", 100);
    ts_module(&s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(&s, 1, 100);
    ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
    finish(&s, 100);
    cr_expect(!prof.compensable);
}

/* Two processes with different probe costs: each node is compensated
 * with its own process's, and the profile notes that they differ. */
Test(compensate, each_process_its_own_cost)
{
    struct tstream s;
    begin(&s, 100, 10, 4, 2);
    ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
    ts_node(&s, 1, 2, 1, A, 2, 40, 20, 20, 2);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 100);
    ts_load(&model, &s, "a.cprof");
    begin(&s, 101, 20, 8, 2);
    ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
    ts_node(&s, 1, 2, 1, A, 2, 40, 20, 20, 2);
    finish(&s, 100);
    cr_expect(prof.probe_varies);
    /* a: (40 - 8) + (40 - 16); main's total: (100 - 4 - 20) + (100 - 8 - 40) */
    expect_adj(A, 56, 56, 0);
    expect_adj(MAIN, (60 - 4 - 12) + (60 - 8 - 24), 76 + 52, 0);
}

/* A probe cost that is no measurement (negative) is a damaged header. */
Test(compensate, bad_probe_cost_is_damage)
{
    struct tstream s;
    begin(&s, 100, -5, 4, 2);
    ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 100);
    char *path = ts_write_temp(&s, "compensate");
    char *out, *err;
    char *argv[] = {"report", path, "--compensate", NULL};
    int status = ts_run_cmd(cmd_report, argv, &out, &err);
    unlink(path);
    free(path);
    cr_expect_neq(status, 0);
    cr_expect(strstr(err, "damaged header"), "%s", err);
    free(out);
    free(err);
}

/* cprof lines: each line less one line event's cost a hit (2 ns); the
 * function's total as cprof report compensates it (200 - 16 - 20). */
Test(compensate, lines_less_their_line_events)
{
    struct tstream s;
    begin_lined(&s);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 300);
    char *path = ts_write_temp(&s, "compensate");
    char *out, *err;
    char *csv[] = {"lines", path, "--format", "csv", NULL};
    cr_assert_eq(ts_run_cmd(cmd_lines, csv, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, ",3,4,80,80,72,72,"), "%s", out);
    cr_expect(strstr(out, ",4,6,120,100,108,88,"), "%s", out);
    free(out);
    free(err);
    char *text[] = {"lines", path, "--compensate", NULL};
    cr_assert_eq(ts_run_cmd(cmd_lines, text, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "Time adj") && strstr(out, "Self adj"), "%s", out);
    cr_expect(strstr(out, "probe cost subtracted: 10.0 ns a call (4.0 ns"), "%s", out);
    cr_expect(strstr(out, "(164 ns with the probe cost subtracted)"), "%s", out);
    free(out);
    free(err);
    unlink(path);
    free(path);
}
