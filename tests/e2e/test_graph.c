/*
 * `cprof graph` end to end: samples built with cprof-cc and run in
 * summary, trace and count mode must give exactly the call edges their
 * samples/<name>/expected-edges file lists (`caller callee calls`, `-` for
 * no caller), no edge more; then FUNC selection, the tree with its fold
 * line, and the JSON and text views on the fib sample.
 */
#include <criterion/criterion.h>
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
    const char *head = "depth,name,calls,total_ns,self_ns,total_pct,folded_paths\n"
                       "0,fib,1,";
    cr_expect(!strncmp(out, head, strlen(head)), "%s", out);
    free(out);
}
