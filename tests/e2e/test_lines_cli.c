/*
 * `cprof lines` end to end, independent of the line pass: a program built
 * with cprof-cc calls the runtime's line hook __cprof_line() by hand with
 * static sites (common/cprof_lines.h), so its exact hits per line are
 * known. It runs in every mode, with a thread and a forked child; the
 * lines view must give the same hits in each, merged over threads and
 * processes, with times where there are times; `cprof report` must mark
 * the functions with line data and give the same calls on a trace with
 * LINE events as in summary mode.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"

/* Line numbers matter: the sites name them, the test expects them. */
static const char lines_src[] =
    "#include <pthread.h>\n"                                        /* 1 */
    "#include <sys/wait.h>\n"                                       /* 2 */
    "#include <unistd.h>\n"                                         /* 3 */
    "#include \"cprof_lines.h\"\n"                                  /* 4 */
    "#define SITE(name, f, l) static const struct cprof_line_site " /* 5 */
    "name = {(void *)f, #f, __FILE__, l, 0}\n"                      /*   */
    "int sum(int n);\n"                                             /* 6 */
    "int twice(int n);\n"                                           /* 7 */
    "SITE(s10, sum, 10); SITE(s12, sum, 12); SITE(s14, sum, 14);\n" /* 8 */
    "__attribute__((noinline)) int sum(int n)\n"                    /* 9 */
    "{   __cprof_line(&s10); int s = 0;\n"                          /* 10 */
    "    for (int i = 0; i < n; i++) {\n"                           /* 11 */
    "        __cprof_line(&s12); s += i; }\n"                       /* 12 */
    "    /* the end */\n"                                           /* 13 */
    "    __cprof_line(&s14); return s; }\n"                         /* 14 */
    "SITE(t17, twice, 17); SITE(t18, twice, 18);\n"                 /* 15 */
    "__attribute__((noinline)) int twice(int n) {\n"                /* 16 */
    "    __cprof_line(&t17); int a = sum(n); usleep(2000);\n"       /* 17 */
    "    __cprof_line(&t18); return a + sum(n); }\n"                /* 18 */
    "static void *worker(void *arg) { (void)arg; sum(5); sum(5);\n" /* 19 */
    "    return NULL; }\n"                                          /* 20 */
    "int main(void) {\n"                                            /* 21 */
    "    pthread_t t; pthread_create(&t, NULL, worker, NULL);\n"    /* 22 */
    "    for (int i = 0; i < 3; i++) sum(10);\n"                    /* 23 */
    "    twice(4); pthread_join(t, NULL);\n"                        /* 24 */
    "    pid_t pid = fork();\n"                                     /* 25 */
    "    if (pid == 0) { sum(3); return 0; }\n"                     /* 26 */
    "    waitpid(pid, NULL, 0); return 0; }\n";                     /* 27 */

/* Hits per line over both processes: sum runs 3 times with 10, twice with
 * 5 (thread), twice with 4 (twice) and once with 3 (child): 8 calls. */
static const struct {
    const char *func;
    int line;
    long long hits;
} expected[] = {
    {"sum", 10, 8},   {"sum", 12, 30 + 10 + 8 + 3}, {"sum", 14, 8}, {"twice", 17, 1},
    {"twice", 18, 1},
};

static void lines_setup(void)
{
    e2e_scratch_init();
    char inc[700];
    snprintf(inc, sizeof inc, "-I%s/common", CPROF_SOURCE_DIR);
    e2e_scratch_build("prog", lines_src, (char *const[]){"-O1", "-g", inc, NULL});
}

TestSuite(lines_cli, .init = lines_setup, .fini = e2e_scratch_fini);

/* Runs the program in mode, its data in directory mode/. */
static void record(const char *mode)
{
    e2e_scratch_record("prog", mode, mode);
    char data[800];
    snprintf(data, sizeof data, "%s/%s", e2e_scratch, mode);
    cr_assert_eq(e2e_count_files(data, ".cprof"), 2, "%s: the parent's and the child's",
                 mode);
}

/* The CSV of `cprof lines DATA --format csv` (plus extra arguments). */
static void lines_csv(const char *data, const char *extra, struct e2e_csv *csv)
{
    char *argv[] = {CPROF, "lines", (char *)data, "--format", "csv", (char *)extra, NULL};
    struct e2e_result res;
    cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "cprof lines failed: %s", res.err);
    cr_assert_eq(e2e_csv_parse(res.out, csv), 0);
    e2e_result_free(&res);
}

/* Column values of the row of func and line; NULL when there is none. */
static const char *cell(const struct e2e_csv *csv, const char *func, int line,
                        const char *column)
{
    int f = e2e_csv_column(csv, "function"), l = e2e_csv_column(csv, "line"),
        c = e2e_csv_column(csv, column);
    cr_assert(f >= 0 && l >= 0 && c >= 0, "no %s column", column);
    for (size_t r = 1; r < csv->n_rows; r++)
        if (!strcmp(e2e_csv_cell(csv, r, f), func) &&
            atoi(e2e_csv_cell(csv, r, l)) == line)
            return e2e_csv_cell(csv, r, c);
    return NULL;
}

static void check_hits(const char *mode)
{
    struct e2e_csv csv;
    lines_csv(mode, NULL, &csv);
    size_t n = sizeof expected / sizeof *expected;
    cr_expect_eq(csv.n_rows, n + 1, "%s: one row per line with data", mode);
    for (size_t i = 0; i < n; i++) {
        const char *hits = cell(&csv, expected[i].func, expected[i].line, "hits");
        cr_expect(hits, "%s: no row for %s:%d", mode, expected[i].func, expected[i].line);
        if (hits)
            cr_expect_eq(atoll(hits), expected[i].hits, "%s: %s:%d has %s hits, not %lld",
                         mode, expected[i].func, expected[i].line, hits,
                         expected[i].hits);
    }
    const char *text = cell(&csv, "sum", 12, "text");
    cr_expect(text && strstr(text, "__cprof_line(&s12); s += i; }"), "%s: text %s", mode,
              text ? text : "(none)");
    const char *time = cell(&csv, "twice", 17, "time_ns"),
               *self = cell(&csv, "twice", 17, "self_ns");
    if (!strcmp(mode, "count")) {
        cr_expect(time && !*time, "count mode has no times");
    } else {
        cr_assert(time && self && *time && *self, "%s: no times", mode);
        cr_expect_geq(atoll(time), 2000000, "%s: line 17 sleeps 2 ms", mode);
        cr_expect_lt(atoll(self), atoll(time), "%s: sum's time is not line 17's self",
                     mode);
    }
    e2e_csv_free(&csv);
}

Test(lines_cli, summary_trace_and_count_give_the_same_hits)
{
    record("summary");
    record("trace");
    record("count");
    check_hits("summary");
    check_hits("trace");
    check_hits("count");
}

Test(lines_cli, report_on_a_trace_with_line_events_and_marks)
{
    record("summary");
    record("trace");
    for (int i = 0; i < 2; i++) {
        const char *data = i ? "trace" : "summary";
        char *argv[] = {CPROF, "report", (char *)data, "--format", "csv", NULL};
        struct e2e_result res;
        cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "%s: %s", data, res.err);
        cr_expect_eq(e2e_report_calls(res.out, "sum"), 8, "%s", data);
        cr_expect_eq(e2e_report_calls(res.out, "twice"), 1, "%s", data);
        cr_expect_eq(e2e_report_calls(res.out, "main"), 1, "%s", data);
        struct e2e_csv csv;
        cr_assert_eq(e2e_csv_parse(res.out, &csv), 0);
        int name = e2e_csv_column(&csv, "name"), has = e2e_csv_column(&csv, "has_lines");
        cr_assert(name >= 0 && has >= 0, "%s", res.out);
        for (size_t r = 1; r < csv.n_rows; r++) {
            const char *fn = e2e_csv_cell(&csv, r, name);
            int lined = !strcmp(fn, "sum") || !strcmp(fn, "twice");
            cr_expect_str_eq(e2e_csv_cell(&csv, r, has), lined ? "true" : "false", "%s",
                             fn);
        }
        e2e_csv_free(&csv);
        cr_expect(!strstr(res.err, "warning"), "%s: %s", data, res.err);
        e2e_result_free(&res);
    }
    char *text[] = {CPROF, "report", "trace", NULL};
    struct e2e_result res;
    cr_assert_eq(e2e_scratch_run_plain(text, &res), 0, "%s", res.err);
    cr_expect(strstr(res.out, "sum *"), "%s", res.out);
    cr_expect(strstr(res.out, "has line data: cprof lines NAME"), "%s", res.out);
    e2e_result_free(&res);
}

Test(lines_cli, text_table_and_function_selection)
{
    record("summary");
    char *argv[] = {CPROF, "lines", "summary", "su?", NULL};
    struct e2e_result res;
    cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "%s", res.err);
    cr_expect(strstr(res.out, "Function: sum at "), "%s", res.out);
    cr_expect(strstr(res.out, "Total time: "), "%s", res.out);
    cr_expect(strstr(res.out, "Line #  Hits"), "%s", res.out);
    cr_expect(strstr(res.out, "\n    13  "), "%s", res.out);
    cr_expect(strstr(res.out, "/* the end */"), "a line without data: %s", res.out);
    cr_expect(!strstr(res.out, "Function: twice"), "%s", res.out);
    e2e_result_free(&res);

    char *unknown[] = {CPROF, "lines", "summary", "nosuch", NULL};
    cr_expect_eq(e2e_scratch_run_plain(unknown, &res), 1);
    cr_expect(strstr(res.err, "no function with line data matches 'nosuch' (functions "
                              "with line data: sum, twice)"),
              "%s", res.err);
    e2e_result_free(&res);

    char *json[] = {CPROF, "lines", "--format", "json", "summary", "twice", NULL};
    cr_assert_eq(e2e_scratch_run_plain(json, &res), 0, "%s", res.err);
    cr_expect(strstr(res.out, "{\"name\": \"twice\", \"file\": "), "%s", res.out);
    cr_expect(strstr(res.out, "\"line\": 18, \"hits\": 1, "), "%s", res.out);
    e2e_result_free(&res);
}
