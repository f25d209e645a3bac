/*
 * `cprof export --format callgrind` end to end, read back by valgrind's
 * callgrind_annotate (skipped when it is not installed): samples built
 * with cprof-cc and recorded, their export must make callgrind_annotate
 * print, for every function, `cprof report`'s exact calls and self time,
 * and with --inclusive=yes its total time (fib's recursion included); and
 * for the line-instrumented functions of samples/lines, each line's self
 * time as `cprof lines` has it, in the annotated source.
 */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"
#define SAMPLES CPROF_SOURCE_DIR "/samples"
#define LINES_OPTION "--cprof-lines=sum_*,classify,count_down,wait_a_bit,worker"

TestSuite(export_callgrind_cli, .init = e2e_scratch_init, .fini = e2e_scratch_fini);

/* The standard output of argv run in the scratch directory; fails the
 * test unless it exits 0. */
static char *run_ok(char *const argv[])
{
    struct e2e_result res;
    int status = e2e_scratch_run_plain(argv, &res);
    cr_assert_eq(status, 0, "%s %s: status %d:\n%s%s", argv[0], argv[1], status, res.out,
                 res.err);
    char *out = res.out;
    res.out = NULL;
    e2e_result_free(&res);
    return out;
}

static void skip_without_annotate(void)
{
    struct e2e_result res;
    char *argv[] = {"callgrind_annotate", "--version", NULL};
    e2e_scratch_run_plain(argv, &res); /* it exits 255 after its version */
    int found =
        strstr(res.out, "callgrind_annotate-") || strstr(res.err, "callgrind_annotate-");
    e2e_result_free(&res);
    if (!found)
        cr_skip_test("callgrind_annotate (valgrind) is not installed");
}

/* Builds samples/<sample>/main.c as prog with flags, records it in mode
 * into data and exports it to prog.cg. */
static void record_and_export(const char *sample, char *const flags[], const char *mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/main.c", SAMPLES, sample);
    char *text = e2e_read_file(path, NULL);
    cr_assert(text, "cannot read %s", path);
    e2e_scratch_build("prog", text, flags);
    free(text);
    e2e_scratch_record("prog", mode, "data");
    free(run_ok((char *const[]){CPROF, "export", "--format", "callgrind", "-o", "prog.cg",
                                "data", NULL}));
}

/* Removes the thousands separators of a callgrind_annotate figure. */
static void plain_number(char *s)
{
    char *to = s;
    for (; *s; s++)
        if (*s != ',')
            *to++ = *s;
    *to = 0;
}

/* The Time_ns and Calls figures callgrind_annotate printed for function
 * name in its function table; fails the test when it printed none. */
static void annotate_figures(const char *out, const char *name, char *time, char *calls)
{
    const char *table = strstr(out, "file:function\n");
    cr_assert(table, "no function table:\n%s", out);
    table = strchr(strchr(table, '\n') + 1, '\n') + 1; /* past the ruler */
    for (const char *p = table; *p && *p != '\n';) {
        char t[64], c[64], where[1024];
        cr_assert_eq(sscanf(p, "%63s %63s %1023s", t, c, where), 3, "%s", p);
        const char *colon = strrchr(where, ':');
        if (colon && !strcmp(colon + 1, name)) {
            plain_number(strcpy(time, t));
            plain_number(strcpy(calls, c));
            return;
        }
        p = strchr(p, '\n');
        cr_assert(p);
        p++;
    }
    cr_assert_fail("callgrind_annotate printed no %s:\n%s", name, out);
}

/* callgrind_annotate's figures of prog.cg against the report of data. */
static void check_functions(void)
{
    char *report =
        run_ok((char *const[]){CPROF, "report", "--format", "csv", "data", NULL});
    char *excl = run_ok((char *const[]){"callgrind_annotate", "--threshold=100",
                                        "--show-percs=no", "--auto=no", "prog.cg", NULL});
    char *incl =
        run_ok((char *const[]){"callgrind_annotate", "--threshold=100", "--show-percs=no",
                               "--auto=no", "--inclusive=yes", "prog.cg", NULL});
    struct e2e_csv csv;
    cr_assert_eq(e2e_csv_parse(report, &csv), 0, "%s", report);
    int name_col = e2e_csv_column(&csv, "name");
    int calls_col = e2e_csv_column(&csv, "calls");
    int self_col = e2e_csv_column(&csv, "self_ns");
    int total_col = e2e_csv_column(&csv, "total_ns");
    cr_assert(name_col >= 0 && calls_col >= 0 && self_col >= 0 && total_col >= 0);
    cr_assert_gt(csv.n_rows, 1, "%s", report);
    for (size_t r = 1; r < csv.n_rows; r++) {
        const char *name = e2e_csv_cell(&csv, r, name_col);
        char time[64], calls[64];
        annotate_figures(excl, name, time, calls);
        cr_expect_str_eq(calls, e2e_csv_cell(&csv, r, calls_col), "%s: calls", name);
        cr_expect_str_eq(time, e2e_csv_cell(&csv, r, self_col), "%s: self time", name);
        annotate_figures(incl, name, time, calls);
        cr_expect_str_eq(time, e2e_csv_cell(&csv, r, total_col), "%s: total time", name);
    }
    e2e_csv_free(&csv);
    free(report);
    free(excl);
    free(incl);
}

Test(export_callgrind_cli, fib_summary)
{
    skip_without_annotate();
    record_and_export("fib", (char *const[]){"-O0", "-g", NULL}, "summary");
    check_functions();
    /* the recursive edge with its exact calls: 2*F(26)-2 */
    char *tree =
        run_ok((char *const[]){"callgrind_annotate", "--threshold=100", "--tree=caller",
                               "--inclusive=yes", "--auto=no", "prog.cg", NULL});
    cr_expect(strstr(tree, ":fib (242,784x)"), "%s", tree);
    free(tree);
}

Test(export_callgrind_cli, fib_trace)
{
    skip_without_annotate();
    record_and_export("fib", (char *const[]){"-O2", "-g", NULL}, "trace");
    check_functions();
}

/* The Time_ns figure of each line of source file prog.c in
 * callgrind_annotate's annotated source (NULL: none); *nlines entries. */
static char **annotated_lines(const char *out, size_t *nlines)
{
    const char *src = strstr(out, "-- Auto-annotated source: ");
    cr_assert(src, "no annotated source:\n%s", out);
    src = strchr(src, '\n') + 1;
    src = strchr(src, '\n') + 1; /* past the ruler */
    char **figures = NULL;
    size_t n = 0, line = 1;
    for (const char *p = src; *p && strncmp(p, "-----", 5);) {
        const char *eol = strchr(p, '\n');
        unsigned long marker;
        char t[64];
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (memmem(p, len, "  => ", 5)) {
            /* a call from the line above: no source line */
        } else if (sscanf(p, "-- line %lu -", &marker) == 1) {
            line = marker;
        } else if (sscanf(p, "%63s", t) == 1 &&
                   (t[0] == '.' || (t[0] >= '0' && t[0] <= '9'))) {
            if (line >= n) {
                figures = realloc(figures, (line + 1) * sizeof(*figures));
                cr_assert(figures);
                memset(figures + n, 0, (line + 1 - n) * sizeof(*figures));
                n = line + 1;
            }
            plain_number(t);
            figures[line++] = t[0] == '.' ? NULL : strdup(t);
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    *nlines = n;
    return figures;
}

Test(export_callgrind_cli, lines_have_their_self_time)
{
    skip_without_annotate();
    record_and_export("lines", (char *const[]){"-O0", "-g", LINES_OPTION, NULL},
                      "summary");
    check_functions();
    char *out = run_ok((char *const[]){"callgrind_annotate", "--threshold=100",
                                       "--show-percs=no", "--auto=yes", "prog.cg", NULL});
    size_t nfigures;
    char **figures = annotated_lines(out, &nfigures);
    char *lines =
        run_ok((char *const[]){CPROF, "lines", "--format", "csv", "data", NULL});
    char *report =
        run_ok((char *const[]){CPROF, "report", "--format", "csv", "data", NULL});
    struct e2e_csv csv, rep;
    cr_assert_eq(e2e_csv_parse(lines, &csv), 0, "%s", lines);
    cr_assert_eq(e2e_csv_parse(report, &rep), 0, "%s", report);
    int line_col = e2e_csv_column(&csv, "line");
    int self_col = e2e_csv_column(&csv, "self_ns");
    int func_line_col = e2e_csv_column(&rep, "line");
    cr_assert(line_col >= 0 && self_col >= 0 && func_line_col >= 0);
    cr_assert_gt(csv.n_rows, 20, "%s", lines);
    for (size_t r = 1; r < csv.n_rows; r++) {
        unsigned long line = strtoul(e2e_csv_cell(&csv, r, line_col), NULL, 10);
        int first_line = 0; /* holds the function's calls and prologue too */
        for (size_t f = 1; f < rep.n_rows; f++)
            first_line |= strtoul(e2e_csv_cell(&rep, f, func_line_col), NULL, 10) == line;
        if (first_line)
            continue;
        const char *self = e2e_csv_cell(&csv, r, self_col);
        cr_assert(line < nfigures && figures[line], "line %lu has no cost:\n%s", line,
                  out);
        cr_expect_str_eq(figures[line], self, "line %lu", line);
    }
    for (size_t i = 0; i < nfigures; i++)
        free(figures[i]);
    free(figures);
    e2e_csv_free(&csv);
    e2e_csv_free(&rep);
    free(lines);
    free(report);
    free(out);
}
