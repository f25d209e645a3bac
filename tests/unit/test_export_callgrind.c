/*
 * The callgrind writer (export_callgrind.c) on hand-written runs
 * (stream.h): the exact text for a recursive trace, line data and count
 * mode, and for other runs the property the viewers rely on: reading the
 * file back as callgrind_annotate does (self cost per function; inclusive
 * cost as the sum of the costs of the calls to a function, or self plus
 * the calls it makes for one nobody calls) gives `cprof report`'s calls,
 * self and total time. One tick is one nanosecond.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "stream.h"

#define MAIN 0x1100
#define FIB 0x1200
#define LEAF 0x1300
#define EVEN 0x1400
#define ODD 0x1500
#define PROG "/nonexistent/prog"

#define FUNCS "f1=0x1100 f2=0x1200 f3=0x1300 f4=0x1400 f5=0x1500 "

static struct cmd_view_run run;

static void setup(void)
{
    memset(&run, 0, sizeof run);
    model_init(&run.model);
}

static void teardown(void)
{
    cmd_view_end(&run);
}

TestSuite(export_callgrind, .init = setup, .fini = teardown);

static void begin(struct tstream *s, const char *mode, uint64_t pid)
{
    ts_begin(s, mode, pid);
    ts_module(s, 0, 0x1000, 0x2000, PROG);
    ts_thread(s, 1, pid);
}

static void load(struct tstream *s, uint64_t end)
{
    ts_thread_end(s, 1, "");
    ts_end(s, 1e9, end);
    ts_load(&run.model, s, "test.cprof");
}

static void load_trace(const char *events, uint64_t end)
{
    struct tstream s;
    begin(&s, "trace", 100);
    ts_trace(&s, 1, 0, events);
    load(&s, end);
}

/* Names the functions as the symbols of a program would, all in main.c:
 * main at line 20, fib 10, leaf 5, even 30, odd 40. */
static void build_profile(void)
{
    profile_build(&run.model, NULL, &run.profile);
    static const struct {
        uint64_t addr;
        const char *name;
        unsigned line;
    } names[] = {{MAIN, "main", 20},
                 {FIB, "fib", 10},
                 {LEAF, "leaf", 5},
                 {EVEN, "even", 30},
                 {ODD, "odd", 40}};
    for (size_t i = 0; i < run.profile.nrows; i++) {
        struct pf_row *r = &run.profile.rows[i];
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            if (run.model.funcs[r->func].addr == names[k].addr) {
                r->name = names[k].name;
                r->file = "/src/main.c";
                r->line = names[k].line;
            }
        }
    }
}

/* The writer's output with options o (NULL: none); its status in *status. */
static char *export_text(const struct export_opts *o, int *status)
{
    struct export_opts none = {0};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cr_assert(out);
    *status = export_callgrind(out, &run, o ? o : &none);
    fclose(out);
    return text;
}

static char *export_ok(void)
{
    int status;
    char *text = export_text(NULL, &status);
    cr_assert_eq(status, CPROF_EXIT_OK, "export failed:\n%s", text);
    return text;
}

/* main -> fib(A) -> fib(B) -> fib(C)
 *                           -> leaf
 *                -> fib(D)
 *      -> leaf                                (test_graph.c's run) */
static const char recursion_trace[] =
    FUNCS "@0 e1 @10 e2 @20 e2 @30 e2 @40 x @50 e3 @60 x @70 x @80 e2 @85 x @90 x "
          "@95 e3 @100 x @110 x";

Test(export_callgrind, recursion_text)
{
    load_trace(recursion_trace, 110);
    build_profile();
    char *text = export_ok();
    /* fib -> fib: 3 calls, all nested in fib A, whose cost main -> fib has */
    cr_expect_str_eq(text, "# callgrind format\n"
                           "version: 1\n"
                           "creator: cprof " CPROF_VERSION "\n"
                           "cmd: prog\n"
                           "pid: 100\n"
                           "positions: line\n"
                           "event: Time_ns : Time (ns)\n"
                           "event: Calls : Calls\n"
                           "events: Time_ns Calls\n"
                           "\n"
                           "fl=(1) /src/main.c\n"
                           "fn=(4) (root)\n"
                           "cob=(1) " PROG "\n"
                           "cfn=(1) main\n"
                           "calls=1 20\n"
                           "0 110 7\n"
                           "\n"
                           "ob=(1)\n"
                           "fl=(1)\n"
                           "fn=(1)\n"
                           "20 25 1\n"
                           "cfn=(2) fib\n"
                           "calls=1 10\n"
                           "20 80 5\n"
                           "cfn=(3) leaf\n"
                           "calls=1 5\n"
                           "20 5 1\n"
                           "\n"
                           "ob=(1)\n"
                           "fl=(1)\n"
                           "fn=(2)\n"
                           "10 70 4\n"
                           "cfn=(2)\n"
                           "calls=3 10\n"
                           "10 0\n"
                           "cfn=(3)\n"
                           "calls=1 5\n"
                           "10 10 1\n"
                           "\n"
                           "ob=(1)\n"
                           "fl=(1)\n"
                           "fn=(3)\n"
                           "5 15 2\n"
                           "\n"
                           "totals: 110 7\n");
    free(text);
}

/* What callgrind_annotate makes of a file: per function (by name), the
 * self cost, the costs of the calls to it and of the calls it makes, and
 * the call counts of its calls= lines. */
struct cg_func {
    char name[32];
    double self[2], in[2], out[2];
    int called;
};

static struct cg_func *cg_func(struct cg_func *funcs, size_t *n, size_t id,
                               const char *rest)
{
    cr_assert(id > 0 && id <= 16, "name id %zu", id);
    struct cg_func *f = &funcs[id - 1];
    const char *name = strchr(rest, ' ');
    if (name)
        snprintf(f->name, sizeof f->name, "%s", name + 1);
    if (id > *n)
        *n = id;
    return f;
}

/* Reads text (events Time_ns Calls) into funcs (16 entries); returns the
 * count. */
static size_t cg_read(const char *text, struct cg_func *funcs)
{
    memset(funcs, 0, 16 * sizeof(*funcs));
    size_t n = 0;
    struct cg_func *fn = NULL, *callee = NULL;
    int in_call = 0;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[256];
        cr_assert(len < sizeof line);
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (eol != NULL);
        size_t id;
        unsigned long long pos, ns, calls;
        if (sscanf(line, "fn=(%zu)", &id) == 1) {
            fn = cg_func(funcs, &n, id, line);
        } else if (sscanf(line, "cfn=(%zu)", &id) == 1) {
            callee = cg_func(funcs, &n, id, line);
        } else if (sscanf(line, "calls=%llu", &calls) == 1) {
            in_call = 1;
            callee->called = 1;
        } else if (sscanf(line, "%llu %llu %llu", &pos, &ns, &calls) == 3) {
            cr_assert(fn, "a cost line before fn=");
            double *to = in_call ? fn->out : fn->self;
            to[0] += (double)ns;
            to[1] += (double)calls;
            if (in_call) {
                callee->in[0] += (double)ns;
                callee->in[1] += (double)calls;
            }
            in_call = 0;
        }
    }
    return n;
}

/* The file's exclusive and inclusive times and exclusive calls are the
 * profile's self, total and calls for every function. */
static void expect_report_figures(void)
{
    char *text = export_ok();
    struct cg_func funcs[16];
    size_t n = cg_read(text, funcs);
    cr_expect_eq(n, run.profile.nrows + 1, "one function per row, and (root):\n%s", text);
    for (size_t i = 0; i < run.profile.nrows; i++) {
        const struct pf_row *r = &run.profile.rows[i];
        const struct cg_func *f = NULL;
        for (size_t k = 0; k < n; k++)
            if (!strcmp(funcs[k].name, r->name))
                f = &funcs[k];
        cr_assert(f, "no function %s in:\n%s", r->name, text);
        double incl = f->called ? f->in[0] : f->self[0] + f->out[0];
        cr_expect_float_eq(f->self[0], r->self_ns, 1e-6, "%s self", r->name);
        cr_expect_float_eq(f->self[1], (double)r->calls, 1e-6, "%s calls", r->name);
        cr_expect_float_eq(incl, r->total_ns, 1e-6, "%s: inclusive %f, total %f:\n%s",
                           r->name, incl, r->total_ns, text);
    }
    free(text);
}

Test(export_callgrind, recursion_inclusive_is_the_report_total)
{
    load_trace(recursion_trace, 110);
    build_profile();
    expect_report_figures();
}

/* main -> even -> odd -> even -> odd: inner calls of each are nested in
 * the outer ones, across two edges. */
Test(export_callgrind, mutual_recursion_inclusive_is_the_report_total)
{
    load_trace(FUNCS "@0 e1 @10 e4 @20 e5 @30 e4 @50 e5 @60 x @70 x @90 x @100 x @110 x",
               110);
    build_profile();
    expect_report_figures();
}

/* fib -> leaf -> fib: a call of fib nested in another through leaf. */
Test(export_callgrind, recursion_through_another_function)
{
    load_trace(FUNCS "@0 e1 @10 e2 @20 e3 @30 e2 @45 x @60 x @70 x @75 e3 @80 x @100 x",
               100);
    build_profile();
    expect_report_figures();
}

/* Two threads and a second process of the same program merge by
 * function; leaf is both a thread's first call and called by others, its
 * inclusive cost the sum of both. */
Test(export_callgrind, threads_and_processes_merge)
{
    static const struct {
        uint32_t thread;
        uint64_t id, parent, fn, calls, per_call;
    } nodes[] = {{1, 1, 0, MAIN, 1, 200},
                 {1, 2, 1, FIB, 2, 60},
                 {1, 3, 2, LEAF, 4, 10},
                 {2, 1, 0, LEAF, 1, 25}};
    struct tstream s;
    begin(&s, "summary", 100);
    ts_thread(&s, 2, 101);
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++)
        ts_node(&s, nodes[i].thread, nodes[i].id, nodes[i].parent, nodes[i].fn,
                nodes[i].calls, nodes[i].calls * nodes[i].per_call, nodes[i].per_call,
                nodes[i].per_call, nodes[i].calls);
    ts_thread_end(&s, 2, "");
    load(&s, 200);
    begin(&s, "trace", 200);
    ts_trace(&s, 1, 0, FUNCS "@0 e1 @5 e2 @9 e3 @16 x @30 x @31 e3 @33 x @40 x");
    load(&s, 40);
    build_profile();
    expect_report_figures();
    int status;
    char *text = export_text(NULL, &status);
    cr_expect(strstr(text, "desc: Processes: 2, merged\n"), "%s", text);
    cr_expect(!strstr(text, "pid:"), "%s", text);
    free(text);
}

/* fib's lines take their self time; the rest of fib's (10 of 70) stays
 * on its first line, with its calls; a line of another file comes under
 * fi= and the function's own file back with fe=. */
Test(export_callgrind, lines_spread_self_time)
{
    struct tstream s;
    begin(&s, "summary", 100);
    ts_node(&s, 1, 1, 0, MAIN, 1, 110, 110, 110, 1);
    ts_node(&s, 1, 2, 1, FIB, 1, 80, 80, 80, 1);
    ts_node(&s, 1, 3, 2, LEAF, 1, 10, 10, 10, 1);
    ts_line(&s, 1, FIB, "fib", "main.c", 12, 3, 50, 40);
    ts_line(&s, 1, FIB, "fib", "main.c", 11, 1, 5, 5);
    ts_line(&s, 1, FIB, "fib", "/src/inline.h", 3, 2, 15, 15);
    load(&s, 110);
    build_profile();
    char *text = export_ok();
    cr_expect(strstr(text, "fn=(2)\n"
                           "10 10 1\n"
                           "11 5\n"
                           "12 40\n"
                           "fi=(2) /src/inline.h\n"
                           "3 15\n"
                           "fe=(1)\n"
                           "cfn=(3) leaf\n"
                           "calls=1 5\n"
                           "10 10 1\n"),
              "%s", text);
    free(text);
}

/* Lines holding more than the function's self time are scaled down to
 * it: the function's total stays the report's. */
Test(export_callgrind, lines_over_self_time_are_scaled)
{
    struct tstream s;
    begin(&s, "summary", 100);
    ts_node(&s, 1, 1, 0, FIB, 1, 40, 40, 40, 1);
    ts_line(&s, 1, FIB, "fib", "/src/main.c", 11, 1, 30, 30);
    ts_line(&s, 1, FIB, "fib", "/src/main.c", 12, 1, 50, 50);
    load(&s, 40);
    build_profile();
    char *text = export_ok();
    cr_expect(strstr(text, "fn=(1)\n10 0 1\n11 15\n12 25\n"), "%s", text);
    free(text);
}

Test(export_callgrind, count_mode_has_calls_only)
{
    struct tstream s;
    begin(&s, "count", 100);
    ts_node(&s, 1, 1, 0, MAIN, 1, 0, 0, 0, 0);
    ts_node(&s, 1, 2, 1, FIB, 3, 0, 0, 0, 0);
    ts_line(&s, 1, FIB, "fib", "/src/main.c", 11, 3, 0, 0);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 0, 0);
    ts_load(&run.model, &s, "count.cprof");
    build_profile();
    char *text = export_ok();
    cr_expect(strstr(text, "events: Calls\n"), "%s", text);
    cr_expect(!strstr(text, "Time_ns"), "%s", text);
    cr_expect(strstr(text, "fn=(1)\n"
                           "20 1\n"
                           "cfn=(2) fib\n"
                           "calls=3 10\n"
                           "20 3\n"),
              "%s", text);
    cr_expect(strstr(text, "fn=(2)\n10 3\n\ntotals: 4\n"), "%s", text);
    free(text);
}

Test(export_callgrind, trace_window_options_are_refused)
{
    load_trace(recursion_trace, 110);
    build_profile();
    struct export_opts o = {.has_from = 1};
    int status;
    char *text = export_text(&o, &status);
    cr_expect_eq(status, CPROF_EXIT_USAGE);
    cr_expect_str_eq(text, "");
    free(text);
}
