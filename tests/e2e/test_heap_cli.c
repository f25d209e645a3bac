/*
 * `cprof heap` end to end: a program built with cprof-cc allocates known
 * amounts (a loop that frees what it allocates, a leak, a recursion, a
 * block freed by another thread, a realloc) and runs in every mode; the
 * heap view must give the same exact figures for each of its functions in
 * summary, trace and count data, the leak table must name the allocating
 * function of the block never freed, and `cprof report` must carry the
 * same heap fields. Built at -O0 so that the compiler keeps every call to
 * malloc and free.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"

static const char heap_src[] =
    "#include <pthread.h>\n"
    "#include <stdlib.h>\n"
    "void *volatile sink;\n"
    "__attribute__((noinline)) void *make(size_t n) { return malloc(n); }\n"
    "__attribute__((noinline)) void leak(void) { sink = make(1000); }\n"
    "__attribute__((noinline)) void churn(int k) {\n"
    "    for (int i = 0; i < k; i++) { void *p = make(100); sink = p; free(p); } }\n"
    "__attribute__((noinline)) int rec(int d) {\n"
    "    void *p = malloc(10); sink = p; int r = d ? rec(d - 1) : 0;\n"
    "    free(p); return r + 1; }\n"
    "__attribute__((noinline)) void *worker(void *arg) { free(arg); return NULL; }\n"
    "__attribute__((noinline)) void spawn(void *x) {\n"
    "    pthread_t t; pthread_create(&t, NULL, worker, x); pthread_join(t, NULL); }\n"
    "__attribute__((noinline)) void grow(void) {\n"
    "    void *r = make(50); sink = r; r = realloc(r, 80); sink = r; free(r); }\n"
    "int main(void) {\n"
    "    churn(5); leak(); rec(3); spawn(make(300)); grow(); return 0; }\n";

/* Exact figures per function (self and total), the same in every mode. */
static const struct {
    const char *name;
    const char *calls, *alloc_calls, *alloc_bytes, *free_calls, *freed_bytes;
    const char *total_alloc_bytes, *total_freed_bytes, *delta, *leaked_bytes;
} expected[] = {
    /* make: 5 x 100 (churn), 1000 (leak), 300 (main), 50 (grow) */
    {"make", "8", "8", "1850", "0", "0", "1850", "0", "1850", "1000"},
    {"churn", "1", "0", "0", "5", "500", "500", "500", "0", "0"},
    {"leak", "1", "0", "0", "0", "0", "1000", "0", "1000", "0"},
    /* recursion counted once in the totals: 4 blocks of 10, not 10 */
    {"rec", "4", "4", "40", "4", "40", "40", "40", "0", "0"},
    {"worker", "1", "0", "0", "1", "300", "0", "300", "-300", "0"},
    /* realloc: a free of 50 and an allocation of 80; then a free of 80 */
    {"grow", "1", "1", "80", "2", "130", "130", "130", "0", "0"},
};

/* A forked child frees a block its parent allocated (not the child's
 * allocation: it settles no leak of the child) and leaks one of its own. */
static const char fork_src[] =
    "#include <stdlib.h>\n"
    "#include <sys/wait.h>\n"
    "#include <unistd.h>\n"
    "void *volatile sink;\n"
    "__attribute__((noinline)) void *make(size_t n) { return malloc(n); }\n"
    "__attribute__((noinline)) void drop(void *p) { free(p); }\n"
    "int main(void) { void *p = make(64); pid_t pid = fork();\n"
    "    if (pid == 0) { drop(p); sink = make(32); exit(0); }\n"
    "    waitpid(pid, NULL, 0); drop(p); return 0; }\n";

static void heap_setup(void)
{
    e2e_scratch_init();
    e2e_scratch_build("prog", heap_src, (char *const[]){"-O0", "-g", NULL});
}

TestSuite(heap_cli, .init = heap_setup, .fini = e2e_scratch_fini);

/* Runs the program in mode, its data in directory mode/. */
static void record(const char *mode)
{
    e2e_scratch_record("prog", mode, mode);
}

/* The output of `cprof CMD DATA --format F`; exits 0. */
static char *cprof(const char *cmd, const char *data, const char *format)
{
    char *argv[] = {CPROF, (char *)cmd, (char *)data, "--format", (char *)format, NULL};
    struct e2e_result res;
    cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "cprof %s %s: %s", cmd, data,
                 res.err);
    char *out = res.out;
    res.out = NULL;
    e2e_result_free(&res);
    return out;
}

static const char *cell(const struct e2e_csv *csv, const char *name, const char *column)
{
    int n = e2e_csv_column(csv, "name"), c = e2e_csv_column(csv, column);
    cr_assert(n >= 0 && c >= 0, "no %s column", column);
    for (size_t r = 1; r < csv->n_rows; r++)
        if (!strcmp(e2e_csv_cell(csv, r, n), name))
            return e2e_csv_cell(csv, r, c);
    return NULL;
}

static void check_heap(const char *mode)
{
    char *out = cprof("heap", mode, "csv");
    struct e2e_csv csv;
    cr_assert_eq(e2e_csv_parse(out, &csv), 0);
    static const char *const columns[] = {
        "calls",       "alloc_calls",       "alloc_bytes",       "free_calls",
        "freed_bytes", "total_alloc_bytes", "total_freed_bytes", "heap_delta_bytes",
        "leaked_bytes"};
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) {
        const char *want[] = {expected[i].calls,
                              expected[i].alloc_calls,
                              expected[i].alloc_bytes,
                              expected[i].free_calls,
                              expected[i].freed_bytes,
                              expected[i].total_alloc_bytes,
                              expected[i].total_freed_bytes,
                              expected[i].delta,
                              expected[i].leaked_bytes};
        for (size_t c = 0; c < sizeof columns / sizeof *columns; c++) {
            const char *got = cell(&csv, expected[i].name, columns[c]);
            cr_expect(got && !strcmp(got, want[c]), "%s: %s %s is %s, not %s", mode,
                      expected[i].name, columns[c], got ? got : "(no row)", want[c]);
        }
    }
    /* the peak while make ran covers at least the leaked block and the
     * 300 bytes it allocated for the thread */
    const char *peak = cell(&csv, "make", "heap_peak_bytes");
    cr_expect(peak && atoll(peak) >= 1300, "%s: make's peak %s", mode, peak);
    e2e_csv_free(&csv);
    free(out);

    out = cprof("heap", mode, "json");
    cr_expect(strstr(out, "\"leaks\": [\n    {\"name\": \"make\""), "%s: %s", mode, out);
    cr_expect(strstr(out, "\"leaked_blocks\": 1, \"leaked_bytes\": 1000"), "%s: %s", mode,
              out);
    cr_expect(strstr(out, "\"heap\": {\"processes\": 1, "), "%s: %s", mode, out);
    cr_expect(strstr(out, "\"function_leaked_bytes\": "), "%s", out);
    free(out);
}

Test(heap_cli, every_mode_gives_the_same_exact_heap_table)
{
    record("summary");
    record("trace");
    record("count");
    check_heap("summary");
    check_heap("trace");
    check_heap("count");
}

Test(heap_cli, text_view_and_report_columns)
{
    record("summary");
    char *text = cprof("heap", "summary", "text");
    cr_expect(strstr(text, "functions by bytes allocated, callees included"), "%s", text);
    cr_expect(strstr(text, "still allocated at exit, by allocating function"), "%s",
              text);
    cr_expect(strstr(text, "1000 B"), "%s", text);
    free(text);
    char *report = cprof("report", "summary", "text");
    cr_expect(strstr(report, "heap net"), "%s", report);
    free(report);
    char *csv_text = cprof("report", "summary", "csv");
    struct e2e_csv csv;
    cr_assert_eq(e2e_csv_parse(csv_text, &csv), 0);
    const char *delta = cell(&csv, "leak", "heap_delta_bytes");
    cr_expect(delta && !strcmp(delta, "1000"), "leak's net change: %s", delta);
    const char *allocs = cell(&csv, "make", "alloc_calls");
    cr_expect(allocs && !strcmp(allocs, "8"), "make's allocations: %s", allocs);
    e2e_csv_free(&csv);
    free(csv_text);
}

Test(heap_cli, a_forked_child_settles_none_of_its_parents_leaks)
{
    e2e_scratch_build("forks", fork_src, (char *const[]){"-O0", "-g", NULL});
    for (int i = 0; i < 2; i++) {
        const char *mode = i ? "trace" : "summary";
        char data[64];
        snprintf(data, sizeof data, "fork-%s", mode);
        e2e_scratch_record("forks", mode, data);
        char *out = cprof("heap", data, "csv");
        struct e2e_csv csv;
        cr_assert_eq(e2e_csv_parse(out, &csv), 0);
        /* make: 64 in the parent (dropped there), 32 in the child (kept) */
        const char *want[][3] = {{"make", "alloc_bytes", "96"},
                                 {"make", "leaked_bytes", "32"},
                                 {"make", "leaked_blocks", "1"},
                                 {"drop", "free_calls", "2"},
                                 {"drop", "freed_bytes", "128"}};
        for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
            const char *got = cell(&csv, want[k][0], want[k][1]);
            cr_expect(got && !strcmp(got, want[k][2]), "%s: %s %s is %s, not %s", mode,
                      want[k][0], want[k][1], got ? got : "(no row)", want[k][2]);
        }
        e2e_csv_free(&csv);
        free(out);
    }
}
