/*
 * The call graph (graph.c, `cprof graph`) on hand-written files: each test
 * states a run as its records (stream.h), as a trace and as summary nodes
 * where both apply, and the exact edges it must give: calls, total with a
 * call nested along the same edge counted once, and the callee's self
 * time. Then the merged tree, its folding, and the command's formats. One
 * tick is one nanosecond.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "graph.h"
#include "model.h"
#include "fixture.h"
#include "stream.h"

#define MAIN 0x1100
#define FIB 0x1200
#define LEAF 0x1300
#define EVEN 0x1400
#define ODD 0x1500
#define NONE UINT64_MAX /* no caller */

#define FUNCS "f1=0x1100 f2=0x1200 f3=0x1300 f4=0x1400 f5=0x1500 "

TestSuite(graph, .init = fx_init, .fini = fx_fini);

static void begin(struct tstream *s, const char *mode, uint64_t pid)
{
    ts_begin(s, mode, pid);
    ts_module(s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(s, 1, pid);
}

static void load(struct tstream *s, uint64_t end)
{
    ts_thread_end(s, 1, "");
    ts_end(s, 1e9, end);
    ts_load(&fx_model, s, "test.cprof");
}

/* Loads a one-thread trace of events ending at end. */
static void load_trace(const char *events, uint64_t end)
{
    struct tstream s;
    begin(&s, "trace", 100);
    ts_trace(&s, 1, 0, events);
    load(&s, end);
}

/* The model.funcs index of the function at link-time address addr. */
static uint32_t func(uint64_t addr)
{
    if (addr == NONE)
        return M_NONE;
    for (size_t i = 0; i < fx_model.nfuncs; i++)
        if (fx_model.funcs[i].addr == addr)
            return (uint32_t)i;
    cr_assert_fail("no function 0x%llx", (unsigned long long)addr);
    return M_NONE;
}

static void expect_edge(uint64_t caller, uint64_t callee, uint64_t calls, double total,
                        double self)
{
    const struct gr_edge *e = graph_edge(&fx_graph, func(caller), func(callee));
    cr_assert(e, "no edge 0x%llx -> 0x%llx", (unsigned long long)caller,
              (unsigned long long)callee);
    cr_expect_eq(e->calls, calls, "0x%llx -> 0x%llx: %llu calls, expected %llu",
                 (unsigned long long)caller, (unsigned long long)callee,
                 (unsigned long long)e->calls, (unsigned long long)calls);
    cr_expect_float_eq(e->total_ns, total, 1e-6, "0x%llx -> 0x%llx: total %f, not %f",
                       (unsigned long long)caller, (unsigned long long)callee,
                       e->total_ns, total);
    cr_expect_float_eq(e->self_ns, self, 1e-6, "0x%llx -> 0x%llx: self %f, not %f",
                       (unsigned long long)caller, (unsigned long long)callee, e->self_ns,
                       self);
}

/*
 * main -> fib(A) -> fib(B) -> fib(C)
 *                           -> leaf
 *                -> fib(D)
 *      -> leaf
 * B and D share a call path, so the tree has one node for both.
 */
static const char recursion_trace[] =
    FUNCS "@0 e1 @10 e2 @20 e2 @30 e2 @40 x @50 e3 @60 x @70 x @80 e2 @85 x @90 x "
          "@95 e3 @100 x @110 x";

static void write_recursion_summary(struct tstream *s)
{
    ts_node(s, 1, 1, 0, MAIN, 1, 110, 110, 110, 1);
    ts_node(s, 1, 2, 1, FIB, 1, 80, 80, 80, 1);
    ts_node(s, 1, 3, 2, FIB, 2, 55, 5, 50, 2);
    ts_node(s, 1, 4, 3, FIB, 1, 10, 10, 10, 1);
    ts_node(s, 1, 5, 3, LEAF, 1, 10, 10, 10, 1);
    ts_node(s, 1, 6, 1, LEAF, 1, 5, 5, 5, 1);
}

static void expect_recursion_edges(void)
{
    graph_build(&fx_model, &fx_graph);
    cr_expect_eq(fx_graph.nedges, 5);
    expect_edge(NONE, MAIN, 1, 110, 25);
    expect_edge(MAIN, FIB, 1, 80, 25);
    /* B, D and C: 3 calls; C is nested in B along fib -> fib: total 55 */
    expect_edge(FIB, FIB, 3, 55, 45);
    expect_edge(FIB, LEAF, 1, 10, 10);
    expect_edge(MAIN, LEAF, 1, 5, 5);
}

Test(graph, recursion_in_a_trace)
{
    load_trace(recursion_trace, 110);
    expect_recursion_edges();
}

Test(graph, recursion_in_a_summary_gives_the_same_edges)
{
    struct tstream s;
    begin(&s, "summary", 100);
    write_recursion_summary(&s);
    load(&s, 110);
    expect_recursion_edges();
}

/* main -> even -> odd -> even -> odd: the inner even -> odd call is nested
 * in the outer one, so the edge's total is the outer call's. */
Test(graph, mutual_recursion)
{
    load_trace(FUNCS "@0 e1 @10 e4 @20 e5 @30 e4 @50 e5 @60 x @70 x @90 x @100 x @110 x",
               110);
    graph_build(&fx_model, &fx_graph);
    expect_edge(MAIN, EVEN, 1, 90, 20);
    expect_edge(EVEN, ODD, 2, 70, 30 + 10);
    expect_edge(ODD, EVEN, 1, 40, 30);
    cr_expect_eq(fx_graph.nedges, 4);
}

/* Two threads and a second process of the same program: merged by
 * function, as report merges them. */
Test(graph, threads_and_processes_merge_by_function)
{
    struct tstream s;
    begin(&s, "summary", 100);
    ts_thread(&s, 2, 101);
    ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
    ts_node(&s, 1, 2, 1, LEAF, 3, 30, 10, 10, 3);
    ts_node(&s, 2, 1, 0, FIB, 1, 50, 50, 50, 1);
    ts_node(&s, 2, 2, 1, LEAF, 2, 20, 10, 10, 2);
    ts_thread_end(&s, 2, "");
    load(&s, 100);
    begin(&s, "trace", 200);
    ts_trace(&s, 1, 0, FUNCS "@0 e1 @10 e3 @17 x @20 x");
    load(&s, 20);
    graph_build(&fx_model, &fx_graph);
    expect_edge(NONE, MAIN, 2, 120, 83);
    expect_edge(NONE, FIB, 1, 50, 30);
    expect_edge(MAIN, LEAF, 4, 37, 37);
    expect_edge(FIB, LEAF, 2, 20, 20);
}

/* After a longjmp the next call's caller is the function jumped back to. */
Test(graph, longjmp_gives_later_calls_the_right_caller)
{
    load_trace(FUNCS "@0 e1 @10 e2 @20 e3 @50 u1:2 @60 e3 @70 x @100 x", 100);
    graph_build(&fx_model, &fx_graph);
    expect_edge(MAIN, FIB, 1, 40, 10);
    expect_edge(FIB, LEAF, 1, 30, 30);
    expect_edge(MAIN, LEAF, 1, 10, 10);
}

Test(graph, merged_tree_sums_paths)
{
    load_trace(recursion_trace, 110);
    struct gr_tree t;
    graph_tree(&fx_model, M_NONE, &t);
    /* root, main, fib, fib, fib, leaf (under fib), leaf (under main) */
    cr_expect_eq(t.nnodes, 7);
    cr_expect_eq(t.nodes[0].paths, 6);
    cr_expect_eq(t.nodes[0].subtree_calls, 7);
    uint32_t m = t.nodes[0].first_child;
    cr_expect_eq(t.nodes[m].func, func(MAIN));
    uint32_t f = t.nodes[m].first_child;
    cr_expect_eq(t.nodes[f].func, func(FIB));
    uint32_t f2 = t.nodes[f].first_child;
    cr_expect_eq(t.nodes[f2].calls, 2);
    cr_expect_float_eq(t.nodes[f2].total_ns, 55, 1e-6);
    cr_expect_float_eq(t.nodes[f2].self_ns, 35, 1e-6);
    graph_tree_free(&t);

    /* fib's own tree: its outermost call only, nested calls below it */
    graph_tree(&fx_model, func(FIB), &t);
    uint32_t root = t.nodes[0].first_child;
    cr_expect_eq(t.nodes[root].func, func(FIB));
    cr_expect_eq(t.nodes[root].calls, 1);
    cr_expect_eq(t.nodes[root].next_sibling, M_NONE);
    cr_expect_eq(t.nodes[root].subtree_calls, 5);
    graph_tree_free(&t);
}

/* ---- the command -------------------------------------------------------- */

static char *write_file(const char *mode)
{
    struct tstream s;
    begin(&s, mode, 100);
    if (!strcmp(mode, "summary"))
        write_recursion_summary(&s);
    else
        ts_trace(&s, 1, 0, recursion_trace);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 110);
    return ts_write_temp(&s, "graph");
}

static int graph_cmd(char **argv, char **out)
{
    char *err;
    int status = ts_run_cmd(cmd_graph, argv, out, &err);
    free(err);
    return status;
}

/* No probe cost in these files: the compensated columns are empty. */
static const char recursion_csv[] =
    "caller,callee,calls,total_ns,self_ns,total_adj_ns,self_adj_ns,adj_clamped,"
    "caller_file,callee_file\n"
    ",main,1,110,25,,,,,\n"
    "main,fib,1,80,25,,,,,\n"
    "fib,fib,3,55,45,,,,,\n"
    "fib,leaf,1,10,10,,,,,\n"
    "main,leaf,1,5,5,,,,,\n";

/* Without symbols the names are 0x... of the made-up module; the test
 * renames them in the output for readability. */
static void rename_funcs(char *text)
{
    static const char *const from[] = {"prog+0x1100", "prog+0x1200", "prog+0x1300"};
    static const char *const to[] = {"main", "fib", "leaf"};
    for (size_t i = 0; i < 3; i++) {
        char *p;
        while ((p = strstr(text, from[i]))) {
            size_t n = strlen(from[i]), k = strlen(to[i]);
            memcpy(p, to[i], k);
            memmove(p + k, p + n, strlen(p + n) + 1);
        }
    }
}

Test(graph, csv_is_the_same_from_a_trace_and_a_summary)
{
    for (int i = 0; i < 2; i++) {
        char *path = write_file(i ? "summary" : "trace");
        char *argv[] = {"graph", path, "--format", "csv", NULL}, *out;
        cr_expect_eq(graph_cmd(argv, &out), 0);
        rename_funcs(out);
        cr_expect_str_eq(out, recursion_csv);
        free(out);
        unlink(path);
        free(path);
    }
}

Test(graph, func_selects_a_neighbourhood)
{
    char *path = write_file("trace");
    char *argv[] = {"graph", path, "*0x1300", "--format", "csv", NULL}, *out;
    cr_expect_eq(graph_cmd(argv, &out), 0);
    rename_funcs(out);
    cr_expect_str_eq(out, "caller,callee,calls,total_ns,self_ns,total_adj_ns,self_adj_ns,"
                          "adj_clamped,caller_file,callee_file\n"
                          "fib,leaf,1,10,10,,,,,\n"
                          "main,leaf,1,5,5,,,,,\n");
    free(out);
    char *nothing[] = {"graph", path, "no_such_function", NULL};
    cr_expect_eq(graph_cmd(nothing, &out), 1);
    free(out);
    unlink(path);
    free(path);
}

/* graph does not sort: --sort is refused by its name, with or without '=',
 * not by its value. */
Test(graph, sort_is_refused_by_its_name)
{
    char *path = write_file("trace");
    const char *sorts[][2] = {{"--sort", "calls"}, {"--sort=calls", NULL}};
    for (size_t i = 0; i < 2; i++) {
        char *argv[] = {"graph", path, (char *)sorts[i][0], (char *)sorts[i][1], NULL};
        char *out, *err;
        cr_expect_eq(ts_run_cmd(cmd_graph, argv, &out, &err), 1);
        cr_expect_str_eq(out, "");
        cr_expect(strstr(err, "cprof: graph: unknown option '--sort'\n"), "%s", err);
        free(out);
        free(err);
    }
    unlink(path);
    free(path);
}

Test(graph, tree_folds_small_paths_and_says_so)
{
    char *path = write_file("summary");
    /* leaf under main is 5 of 110 ns (4.5%), leaf under fib 10 (9.1%) */
    char *argv[] = {"graph", path, "--tree", "--min-pct", "5", "--format", "csv", NULL};
    char *out;
    cr_expect_eq(graph_cmd(argv, &out), 0);
    rename_funcs(out);
    cr_expect_str_eq(out, "depth,name,calls,total_ns,self_ns,total_adj_ns,self_adj_ns,"
                          "adj_clamped,total_pct,folded_paths\n"
                          "0,main,1,110,25,,,,100.00,0\n"
                          "1,fib,1,80,25,,,,72.73,0\n"
                          "2,fib,2,55,35,,,,50.00,0\n"
                          "3,fib,1,10,10,,,,9.09,0\n"
                          "3,leaf,1,10,10,,,,9.09,0\n"
                          "1,,1,5,,,,,4.55,1\n");
    free(out);
    char *text_argv[] = {"graph", path, "--tree", "--min-pct=10", NULL};
    cr_expect_eq(graph_cmd(text_argv, &out), 0);
    cr_expect(strstr(out, "… 2 call paths folded (each under 10%)"), "%s", out);
    cr_expect(strstr(out, "… 1 call path folded (each under 10%)"), "%s", out);
    free(out);
    char *all[] = {"graph", path, "--tree", "--min-pct", "0", "--format", "json", NULL};
    cr_expect_eq(graph_cmd(all, &out), 0);
    cr_expect(strstr(out, "\"tree\": [\n    {\"depth\": 0, \"name\": "), "%s", out);
    cr_expect(!strstr(out, "\"folded_paths\": 1"), "%s", out);
    free(out);
    char *bad[] = {"graph", path, "--tree", "--min-pct", "x", NULL};
    cr_expect_eq(graph_cmd(bad, &out), 1);
    free(out);
    unlink(path);
    free(path);
}

Test(graph, count_mode_has_calls_and_no_times)
{
    struct tstream s;
    begin(&s, "count", 100);
    write_recursion_summary(&s);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 110);
    char *path = ts_write_temp(&s, "graph");
    char *argv[] = {"graph", path, "--format", "json", NULL}, *out;
    cr_expect_eq(graph_cmd(argv, &out), 0);
    rename_funcs(out);
    cr_expect(strstr(out,
                     "{\"caller\": \"fib\", \"callee\": \"fib\", \"calls\": 3, "
                     "\"total_ns\": null, \"self_ns\": null, \"total_adj_ns\": null, "
                     "\"self_adj_ns\": null, \"adj_clamped\": null"),
              "%s", out);
    cr_expect(strstr(out, "\"functions\": ["), "%s", out);
    free(out);
    /* --compensate: nothing to subtract, and the text says so */
    char *text[] = {"graph", path, "--compensate", NULL};
    cr_expect_eq(graph_cmd(text, &out), 0);
    cr_expect(strstr(out, "probe cost: not in the data (count mode"), "%s", out);
    cr_expect(!strstr(out, "total adj"), "%s", out);
    free(out);
    unlink(path);
    free(path);
}

/* ---- compensation ------------------------------------------------------- */

/* The output of `cprof graph` with args (NULL terminated), which must
 * succeed, functions renamed. */
static char *graph_ok(char *const args[])
{
    char *argv[12] = {"graph"}, *out;
    for (size_t i = 0; args[i] && i + 2 < 12; i++)
        argv[i + 1] = args[i];
    cr_assert_eq(graph_cmd(argv, &out), 0);
    rename_funcs(out);
    return out;
}

/* `cprof graph` with args prints each of want (NULL terminated). */
static void expect_graph(char *const args[], const char *const want[])
{
    char *out = graph_ok(args);
    for (size_t i = 0; want[i]; i++)
        cr_expect(strstr(out, want[i]), "no \"%s\" in:\n%s", want[i], out);
    free(out);
}

/*
 * The recursion's summary with a probe cost of 10 ns a call, 4 of it
 * inside the call's own time, per node (c calls, k children's calls, d
 * calls below): self_adj = self - 4c - 6k, total_adj = total - 4c - 10d.
 *   node  function  c  k  d  self  total  self_adj  total_adj
 *   1     main      1  2  6   25    110        9        46
 *   2     fib       1  2  4   25     80        9        36
 *   3     fib       2  2  2   35     55       15        27
 *   4     fib       1  0  0   10     10        6         6
 *   5     leaf      1  0  0   10     10        6         6
 *   6     leaf      1  0  0    5      5        1         1
 */
static void probed_begin(struct tstream *s)
{
    ts_begin_probe(s, "summary", 100, 10, 4, 2);
    ts_module(s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(s, 1, 100);
}

static void probed_recursion(struct tstream *s)
{
    probed_begin(s);
    write_recursion_summary(s);
    ts_thread_end(s, 1, "");
    ts_end(s, 1e9, 110);
}

/* Loads the file make writes into the model, and writes it to a file
 * whose path it returns. */
static char *load_and_write(void (*make)(struct tstream *s))
{
    struct tstream s;
    make(&s);
    ts_load(&fx_model, &s, "test.cprof");
    make(&s);
    return ts_write_temp(&s, "graph");
}

static void expect_adj(double total_adj, double self_adj, int clamped, double got_total,
                       double got_self, int got_clamped, const char *what)
{
    cr_expect_float_eq(got_total, total_adj, 1e-6, "%s: total_adj %f, not %f", what,
                       got_total, total_adj);
    cr_expect_float_eq(got_self, self_adj, 1e-6, "%s: self_adj %f, not %f", what,
                       got_self, self_adj);
    cr_expect_eq(got_clamped, clamped, "%s: clamped %d", what, got_clamped);
}

static void expect_edge_adj(uint64_t caller, uint64_t callee, double total_adj,
                            double self_adj, int clamped)
{
    const struct gr_edge *e = graph_edge(&fx_graph, func(caller), func(callee));
    cr_assert(e, "no edge 0x%llx -> 0x%llx", (unsigned long long)caller,
              (unsigned long long)callee);
    char what[64];
    snprintf(what, sizeof what, "0x%llx -> 0x%llx", (unsigned long long)caller,
             (unsigned long long)callee);
    expect_adj(total_adj, self_adj, clamped, e->total_adj_ns, e->self_adj_ns,
               e->adj_clamped, what);
}

/* Each edge: the sum over its nodes, the nested fib -> fib call (node 4,
 * inside node 3) counted once in the total, as in the raw one. */
Test(graph, edges_less_the_probe_cost)
{
    char *path = load_and_write(probed_recursion);
    graph_build(&fx_model, &fx_graph);
    cr_expect(fx_graph.compensable);
    expect_edge_adj(NONE, MAIN, 46, 9, 0);
    expect_edge_adj(MAIN, FIB, 36, 9, 0);
    expect_edge_adj(FIB, FIB, 27, 15 + 6, 0);
    expect_edge_adj(FIB, LEAF, 6, 6, 0);
    expect_edge_adj(MAIN, LEAF, 1, 1, 0);

    /* the same in CSV; and fib's self_adj over its edges in (9 + 21) is
     * cprof report's self_adj_ns for fib */
    char *out = graph_ok((char *const[]){path, "--format", "csv", NULL});
    cr_expect(strstr(out, "\nfib,fib,3,55,45,27,21,false,"), "%s", out);
    cr_expect(strstr(out, "\nmain,fib,1,80,25,36,9,false,"), "%s", out);
    free(out);
    char *report[] = {"report", path, "--format", "csv", NULL}, *err;
    cr_expect_eq(ts_run_cmd(cmd_report, report, &out, &err), 0);
    rename_funcs(out);
    char *fib = strstr(out, "\nfib,");
    cr_assert(fib, "%s", out);
    char *end = strchr(fib + 1, '\n');
    if (end)
        *end = 0;
    cr_expect(strstr(fib, ",30,36,"), "fib: self_adj 30, total_adj 36: %s", fib);
    free(out);
    free(err);

    /* text: the columns and what was subtracted only with --compensate */
    out = graph_ok((char *const[]){path, NULL});
    cr_expect(!strstr(out, "total adj") && !strstr(out, "probe cost"), "%s", out);
    free(out);
    expect_graph((char *const[]){path, "--compensate", NULL},
                 (const char *const[]){"total adj  self adj",
                                       "probe cost subtracted: 10.0 ns a call (4.0 ns",
                                       "by total time, probe cost subtracted", NULL});
    unlink(path);
    free(path);
}

/* The merged tree: each path's nodes' compensated times summed. */
Test(graph, tree_less_the_probe_cost)
{
    char *path = load_and_write(probed_recursion);
    struct gr_tree t;
    graph_tree(&fx_model, M_NONE, &t);
    cr_expect(t.compensable);
    uint32_t m = t.nodes[0].first_child, f = t.nodes[m].first_child;
    uint32_t f2 = t.nodes[f].first_child;
    expect_adj(46, 9, 0, t.nodes[m].total_adj_ns, t.nodes[m].self_adj_ns,
               t.nodes[m].adj_clamped, "main");
    expect_adj(36, 9, 0, t.nodes[f].total_adj_ns, t.nodes[f].self_adj_ns,
               t.nodes[f].adj_clamped, "main fib");
    expect_adj(27, 15, 0, t.nodes[f2].total_adj_ns, t.nodes[f2].self_adj_ns,
               t.nodes[f2].adj_clamped, "main fib fib");
    graph_tree_free(&t);

    /* without --compensate folded by the raw total (leaf under main: 5 of 110) */
    expect_graph(
        (char *const[]){path, "--tree", "--min-pct", "5", "--format", "csv", NULL},
        (const char *const[]){"0,main,1,110,25,46,9,false,100.00,0\n",
                              "2,fib,2,55,35,27,15,false,50.00,0\n",
                              "1,,1,5,,1,,,4.55,1\n", NULL});
    expect_graph((char *const[]){path, "--tree", "--compensate", NULL},
                 (const char *const[]){"total adj  self adj",
                                       "paths under 1% of the total time, probe cost "
                                       "subtracted, folded",
                                       NULL});
    unlink(path);
    free(path);
}

/* main (1 call, 400) -> leaf (10 calls, 20): calls shorter than their
 * probe cost. */
static void probed_short_calls(struct tstream *s)
{
    probed_begin(s);
    ts_node(s, 1, 1, 0, MAIN, 1, 400, 400, 400, 1);
    ts_node(s, 1, 2, 1, LEAF, 10, 20, 2, 2, 10);
    ts_thread_end(s, 1, "");
    ts_end(s, 1e9, 400);
}

/* Clamped at 0, marked with ! in the text with --compensate. */
Test(graph, clamped_at_zero_and_marked)
{
    char *path = load_and_write(probed_short_calls);
    graph_build(&fx_model, &fx_graph);
    expect_edge_adj(MAIN, LEAF, 0, 0, 1);
    expect_edge_adj(NONE, MAIN, 400 - 4 - 100, 380 - 4 - 60, 0);
    expect_graph((char *const[]){path, "--compensate", NULL},
                 (const char *const[]){"calls      leaf !", "! clamped at 0", NULL});
    expect_graph((char *const[]){path, "--format", "csv", NULL},
                 (const char *const[]){"\nmain,leaf,10,20,20,0,0,true,", NULL});
    unlink(path);
    free(path);
}
