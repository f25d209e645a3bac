/*
 * `cprof graph` end to end: samples built with cprof-cc and run in
 * summary, trace and count mode must give exactly the call edges their
 * samples/<name>/expected-edges file lists (`caller callee calls`, `-` for
 * no caller), no edge more; then FUNC selection, the tree with its fold
 * line, and the JSON and text views on the fib sample; and the compensated
 * times of fib's edges against the probe cost in the file's header.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"
#define SAMPLES CPROF_SOURCE_DIR "/samples"

TestSuite(graph_cli, .init = e2e_scratch_init, .fini = e2e_scratch_fini);

/* Builds samples/<sample>/main.c in the scratch directory as prog (not
 * as the sample's name: a FUNC that names an existing file is a PATH). */
static void build_sample(const char *sample)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/main.c", SAMPLES, sample);
    char *text = e2e_read_file(path, NULL);
    cr_assert(text, "cannot read %s", path);
    e2e_scratch_build("prog", text, (char *const[]){"-O2", "-g", NULL});
    free(text);
}

/* The output of `cprof graph ARGS...` (NULL terminated); exits with
 * want_status. */
static char *graph(int want_status, char *const args[])
{
    char *argv[16] = {CPROF, "graph"};
    int argc = 2;
    for (int i = 0; args[i]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    struct e2e_result res;
    int status = e2e_scratch_run_plain(argv, &res);
    cr_assert_eq(status, want_status, "cprof graph %s ...: status %d: %s", args[0],
                 status, res.err);
    char *out = res.out;
    res.out = NULL;
    e2e_result_free(&res);
    return out;
}

/* Checks the CSV edges of data against samples/<sample>/expected-edges:
 * the same edges, with the same calls. */
static void check_edges(const char *sample, const char *data)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/expected-edges", SAMPLES, sample);
    char *spec = e2e_read_file(path, NULL);
    cr_assert(spec, "cannot read %s", path);
    char *out = graph(0, (char *const[]){(char *)data, "--format", "csv", NULL});
    struct e2e_csv csv;
    cr_assert_eq(e2e_csv_parse(out, &csv), 0, "%s", out);
    int caller_col = e2e_csv_column(&csv, "caller");
    int callee_col = e2e_csv_column(&csv, "callee");
    int calls_col = e2e_csv_column(&csv, "calls");
    cr_assert(caller_col >= 0 && callee_col >= 0 && calls_col >= 0, "%s", out);
    size_t listed = 0;
    for (char *save, *line = strtok_r(spec, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char caller[128], callee[128];
        unsigned long long calls;
        if (line[0] == '#')
            continue;
        cr_assert_eq(sscanf(line, "%127s %127s %llu", caller, callee, &calls), 3,
                     "%s: bad line \"%s\"", path, line);
        listed++;
        const char *want_caller = strcmp(caller, "-") ? caller : "";
        int rows = 0;
        for (size_t r = 1; r < csv.n_rows; r++) {
            if (strcmp(e2e_csv_cell(&csv, r, caller_col), want_caller) ||
                strcmp(e2e_csv_cell(&csv, r, callee_col), callee))
                continue;
            rows++;
            cr_expect_eq(strtoull(e2e_csv_cell(&csv, r, calls_col), NULL, 10), calls,
                         "%s: %s -> %s: %s calls, expected %llu\n%s", data, caller,
                         callee, e2e_csv_cell(&csv, r, calls_col), calls, out);
        }
        cr_expect_eq(rows, 1, "%s: %s -> %s on %d rows\n%s", data, caller, callee, rows,
                     out);
    }
    cr_expect_eq(csv.n_rows - 1, listed, "%s: %zu edges, expected %zu\n%s", data,
                 csv.n_rows - 1, listed, out);
    e2e_csv_free(&csv);
    free(out);
    free(spec);
}

/* The sample's edges in every mode. */
static void check_sample(const char *sample)
{
    build_sample(sample);
    static const char *const modes[] = {"summary", "trace", "count"};
    for (size_t i = 0; i < 3; i++) {
        e2e_scratch_record("prog", modes[i], modes[i]);
        check_edges(sample, modes[i]);
    }
}

Test(graph_cli, fib_edges, .timeout = 120)
{
    check_sample("fib");
}

Test(graph_cli, mutual_edges, .timeout = 120)
{
    check_sample("mutual");
}

Test(graph_cli, longjmp_edges, .timeout = 120)
{
    check_sample("longjmp");
}

Test(graph_cli, threads_edges, .timeout = 120)
{
    check_sample("threads");
}

Test(graph_cli, func_tree_and_formats, .timeout = 120)
{
    build_sample("fib");
    e2e_scratch_record("prog", "summary", "data");

    /* FUNC: only the edges that touch fib */
    char *out = graph(0, (char *const[]){"fib", "data", "--format", "csv", NULL});
    cr_expect(strstr(out, "\nmain,fib,1,"), "%s", out);
    cr_expect(strstr(out, "\nfib,fib,242784,"), "%s", out);
    cr_expect(!strstr(out, "\n,main,"), "%s", out);
    free(out);
    out = graph(1, (char *const[]){"nosuchfunc", "data", NULL});
    free(out);

    /* text: fib's block, with its callers and callees */
    out = graph(0, (char *const[]){"data", NULL});
    cr_expect(strstr(out, "callers and callees of each function"), "%s", out);
    cr_expect(strstr(out, "called by  main"), "%s", out);
    cr_expect(strstr(out, "calls      fib       242784"), "%s", out);
    free(out);

    /* json: the documented keys */
    out = graph(0, (char *const[]){"data", "--format", "json", NULL});
    cr_expect(strstr(out, "\"edges\": [\n    {\"caller\": "), "%s", out);
    cr_expect(strstr(out, "{\"caller\": \"fib\", \"callee\": \"fib\", \"calls\": 242784, "
                          "\"total_ns\": "),
              "%s", out);
    cr_expect(strstr(out, "{\"caller\": null, \"callee\": \"main\", \"calls\": 1, "),
              "%s", out);
    cr_expect(strstr(out, "\"functions\": ["), "%s", out);
    free(out);

    /* the tree: fib's chain of calls, the smallest paths folded with a line
     * that says so; all of them with --min-pct 0 */
    out = graph(0, (char *const[]){"data", "--tree", NULL});
    cr_expect(strstr(out, "main "), "%s", out);
    cr_expect(strstr(out, "\n  fib "), "%s", out);
    cr_expect(strstr(out, "call paths folded (each under 1%)"), "%s", out);
    free(out);
    out = graph(
        0, (char *const[]){"data", "--tree", "--min-pct", "0", "--format", "csv", NULL});
    struct e2e_csv csv;
    cr_assert_eq(e2e_csv_parse(out, &csv), 0);
    int calls = e2e_csv_column(&csv, "calls"),
        folded = e2e_csv_column(&csv, "folded_paths");
    cr_assert(calls >= 0 && folded >= 0, "%s", out);
    unsigned long long sum = 0;
    for (size_t r = 1; r < csv.n_rows; r++) {
        sum += strtoull(e2e_csv_cell(&csv, r, calls), NULL, 10);
        cr_expect_str_eq(e2e_csv_cell(&csv, r, folded), "0");
    }
    cr_expect_eq(sum, 242786, "every call on a path: %llu\n%s", sum, out);
    e2e_csv_free(&csv);
    free(out);
    /* fib's own tree starts at fib */
    out = graph(0, (char *const[]){"fib", "data", "--tree", "--format", "csv", NULL});
    const char *head = "depth,name,calls,total_ns,self_ns,total_adj_ns,self_adj_ns,"
                       "adj_clamped,total_pct,folded_paths\n"
                       "0,fib,1,";
    cr_expect(!strncmp(out, head, strlen(head)), "%s", out);
    free(out);
}

/* ---- compensation ------------------------------------------------------- */

/* e2e_each_file's callback: the path into ctx (512 bytes). */
static void find_file(const char *path, void *ctx)
{
    snprintf(ctx, 512, "%s", path);
}

/* The float64 the header of the file in directory data (the scratch's)
 * holds under key: the key's text, then 0xcb and 8 bytes big endian. */
static double header_f64(const char *data, const char *key)
{
    char dir[512], path[512] = "";
    snprintf(dir, sizeof dir, "%s/%s", e2e_scratch, data);
    cr_assert_eq(e2e_each_file(dir, ".cprof", find_file, path), 1, "%s", dir);
    size_t len, n = strlen(key);
    unsigned char *bytes = (unsigned char *)e2e_read_file(path, &len);
    cr_assert(bytes, "cannot read %s", path);
    for (size_t i = 1; i + n + 9 <= len && i < 4096; i++) {
        if (bytes[i - 1] != (0xa0 | n) || memcmp(bytes + i, key, n) ||
            bytes[i + n] != 0xcb)
            continue;
        uint64_t u = 0;
        for (int k = 1; k <= 8; k++)
            u = u << 8 | bytes[i + n + k];
        double d;
        memcpy(&d, &u, sizeof d);
        free(bytes);
        return d;
    }
    cr_assert_fail("%s: no %s in the header", path, key);
    return 0;
}

/* The CSV row of the edge caller -> callee. */
static size_t edge_row(const struct e2e_csv *csv, const char *caller, const char *callee)
{
    cr_assert(e2e_csv_column(csv, "caller") >= 0 && e2e_csv_column(csv, "callee") >= 0,
              "no caller, callee columns");
    size_t r = e2e_csv_edge(csv, caller, callee);
    cr_assert(r > 0, "no edge %s -> %s", caller, callee);
    return r;
}

/* The text of a cell of the edge caller -> callee. */
static const char *edge_text(const struct e2e_csv *csv, const char *caller,
                             const char *callee, const char *column)
{
    int c = e2e_csv_column(csv, column);
    cr_assert(c >= 0, "no column %s", column);
    return e2e_csv_cell(csv, edge_row(csv, caller, callee), c);
}

static double edge_cell(const struct e2e_csv *csv, const char *caller, const char *callee,
                        const char *column)
{
    return strtod(edge_text(csv, caller, callee, column), NULL);
}

/* The edge's compensated times are its raw ones less cost_total and
 * cost_self, each clamped at 0 and then marked. Returns the self time
 * less cost_self, not clamped. */
static double expect_edge_adj(const struct e2e_csv *csv, const char *caller,
                              const char *callee, double cost_total, double cost_self)
{
    double total = edge_cell(csv, caller, callee, "total_ns") - cost_total;
    double self = edge_cell(csv, caller, callee, "self_ns") - cost_self;
    double total_adj = edge_cell(csv, caller, callee, "total_adj_ns");
    double self_adj = edge_cell(csv, caller, callee, "self_adj_ns");
    /* the CSV's times are whole ns: 1 ns each side of the rounding */
    cr_expect(fabs(total_adj - (total > 0 ? total : 0)) <= 2,
              "%s -> %s: total_adj %.0f, expected %.1f", caller, callee, total_adj,
              total);
    cr_expect(fabs(self_adj - (self > 0 ? self : 0)) <= 2,
              "%s -> %s: self_adj %.0f, expected %.1f", caller, callee, self_adj, self);
    cr_expect_str_eq(edge_text(csv, caller, callee, "adj_clamped"),
                     total < 0 || self < 0 ? "true" : "false", "%s -> %s", caller,
                     callee);
    return self;
}

/*
 * fib(25) in summary mode: main -> fib (1 call) -> fib (2 calls) -> ...,
 * 242785 calls of fib. Per node, with pair and inner the header's probe
 * cost: self less c * inner + k * (pair - inner), total less c * inner +
 * d * pair (the sample has no line events). Summed per edge: fib -> fib's
 * total is its outermost nodes' (the 2 calls below main's fib call), its
 * self every node's below that one.
 */
Test(graph_cli, compensated_edges_follow_the_formula, .timeout = 120)
{
    build_sample("fib");
    e2e_scratch_record("prog", "summary", "data");
    double pair = header_f64("data", "probe_call_ns");
    double inner = header_f64("data", "probe_call_inner_ns");
    cr_assert(pair > 0 && inner > 0, "probe cost %f, %f", pair, inner);
    const double fibs = 242785;

    char *out = graph(0, (char *const[]){"data", "--format", "csv", NULL});
    struct e2e_csv csv;
    cr_assert_eq(e2e_csv_parse(out, &csv), 0, "%s", out);
    expect_edge_adj(&csv, "", "main", inner + fibs * pair, inner + (pair - inner));
    double outer = expect_edge_adj(&csv, "main", "fib", inner + (fibs - 1) * pair,
                                   inner + 2 * (pair - inner));
    double inner_calls =
        expect_edge_adj(&csv, "fib", "fib", 2 * inner + (fibs - 3) * pair,
                        (fibs - 1) * inner + (fibs - 3) * (pair - inner));

    /* the edges into fib cover all its calls: report's self_adj is their
     * sum before clamping, clamped (a start-up measurement that came out
     * high, on a loaded machine, can take an edge below 0), and their
     * self_adj when neither was clamped; main -> fib (its outermost call)
     * has report's total_adj */
    char *argv[] = {CPROF, "report", "data", "--format", "csv", NULL};
    struct e2e_result res;
    cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "%s", res.err);
    struct e2e_csv report;
    cr_assert_eq(e2e_csv_parse(res.out, &report), 0, "%s", res.out);
    double self_adj = strtod(e2e_csv_named(&report, "fib", "self_adj_ns"), NULL);
    double total_adj = strtod(e2e_csv_named(&report, "fib", "total_adj_ns"), NULL);
    double edges_self = edge_cell(&csv, "main", "fib", "self_adj_ns") +
                        edge_cell(&csv, "fib", "fib", "self_adj_ns");
    double sum = outer + inner_calls;
    cr_expect(fabs(self_adj - (sum > 0 ? sum : 0)) <= 4,
              "fib: report's self_adj %.0f, the edges' sum before clamping %.1f",
              self_adj, sum);
    if (outer >= 0 && inner_calls >= 0)
        cr_expect(fabs(edges_self - self_adj) <= 2,
                  "edges into fib: self_adj %.0f, report %.0f", edges_self, self_adj);
    cr_expect(fabs(edge_cell(&csv, "main", "fib", "total_adj_ns") - total_adj) <= 1,
              "main -> fib: total_adj, report %.0f\n%s", total_adj, out);
    e2e_csv_free(&report);
    e2e_result_free(&res);
    e2e_csv_free(&csv);
    free(out);

    /* text: the compensated columns and what was subtracted only with
     * --compensate */
    out = graph(0, (char *const[]){"data", NULL});
    cr_expect(!strstr(out, "total adj"), "%s", out);
    free(out);
    out = graph(0, (char *const[]){"data", "--compensate", NULL});
    cr_expect(strstr(out, "total adj  self adj"), "%s", out);
    cr_expect(strstr(out, "probe cost subtracted: "), "%s", out);
    free(out);
    out = graph(0, (char *const[]){"data", "--tree", "--compensate", NULL});
    cr_expect(strstr(out, "total adj  self adj"), "%s", out);
    cr_expect(strstr(out, "probe cost subtracted,"), "%s", out);
    free(out);
}

/* Count mode has no times: the compensated cells are empty, and
 * --compensate says there was nothing to subtract. */
Test(graph_cli, count_mode_has_no_compensated_times, .timeout = 120)
{
    build_sample("fib");
    e2e_scratch_record("prog", "count", "data");
    char *out = graph(0, (char *const[]){"data", "--format", "csv", NULL});
    cr_expect(strstr(out, "\nfib,fib,242784,,,,,,"), "%s", out);
    free(out);
    out = graph(0, (char *const[]){"data", "--tree", "--format", "csv", NULL});
    cr_expect(strstr(out, "\n0,main,1,,,,,,"), "%s", out);
    free(out);
    out = graph(0, (char *const[]){"data", "--compensate", NULL});
    cr_expect(strstr(out, "probe cost: not in the data (count mode"), "%s", out);
    cr_expect(!strstr(out, "total adj"), "%s", out);
    free(out);
}
