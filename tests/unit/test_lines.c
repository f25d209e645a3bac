/*
 * Line data (format 1.1) on hand-written files: line records merged over
 * threads and processes, line site records and LINE events in a trace
 * (skipped by the replay, checked for an undefined site), malformed
 * records, the lines_unmatched warning, and the `cprof lines` and
 * `cprof report` commands' output in every format. One tick is one
 * nanosecond unless a test says otherwise.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "cprof_format.h"
#include "model.h"
#include "profile.h"
#include "stream.h"

#define MAIN 0x1100
#define SUM 0x1200
#define PROG "/nonexistent/prog"

static struct model model;

static void setup(void)
{
    model_init(&model);
}

static void teardown(void)
{
    model_free(&model);
}

TestSuite(lines, .init = setup, .fini = teardown);

static void load(struct tstream *s, const char *name)
{
    ts_load(&model, s, name);
}

/* The merged line of function addr (link-time), line number line. */
static const struct m_line *line_of(uint64_t addr, uint32_t line)
{
    for (size_t i = 0; i < model.nlines; i++) {
        const struct m_line *l = &model.lines[i];
        if (model.funcs[l->func].addr == addr && l->line == line)
            return l;
    }
    cr_assert_fail("no line %u of function 0x%llx", line, (unsigned long long)addr);
    return NULL;
}

/* A process of a summary run: main calls sum; sum's lines 10 and 11 and
 * main's line 3 have data, scaled by k so that processes differ. */
static void summary_process(uint64_t pid, uint64_t k, double ticks_per_sec)
{
    struct tstream s;
    ts_begin(&s, "summary", pid);
    ts_module(&s, 0, 0x1000, 0x2000, PROG);
    ts_thread(&s, 1, pid);
    ts_thread(&s, 2, pid + 1);
    ts_node(&s, 1, 1, 0, MAIN, 1, 1000 * k, 1000 * k, 1000 * k, 1);
    ts_node(&s, 1, 2, 1, SUM, 2, 400 * k, 200 * k, 200 * k, 2);
    ts_node(&s, 2, 1, 0, SUM, 1, 100 * k, 100 * k, 100 * k, 1);
    ts_line(&s, 1, SUM, "sum", "/src/sum.c", 10, 2, 100 * k, 100 * k);
    ts_line(&s, 1, SUM, "sum", "/src/sum.c", 11, 4, 300 * k, 250 * k);
    ts_line(&s, 2, SUM, "sum", "/src/sum.c", 10, 1, 60 * k, 60 * k);
    ts_line(&s, 1, MAIN, "main", "/src/sum.c", 3, 1, 1000 * k, 600 * k);
    ts_thread_end(&s, 1, "");
    ts_thread_end(&s, 2, "");
    ts_end(&s, ticks_per_sec, 1000 * k);
    char name[64];
    snprintf(name, sizeof name, "p.%llu.cprof", (unsigned long long)pid);
    load(&s, name);
}

Test(lines, records_merge_over_threads_and_processes_in_ns)
{
    summary_process(10, 1, 1e9);
    summary_process(20, 2, 2e9); /* twice the ticks at twice the rate */
    cr_expect_eq(model.nlines, 3, "one line per function, file and line");
    const struct m_line *l = line_of(SUM, 10);
    cr_expect_eq(l->hits, 6);
    cr_expect_float_eq(l->time_ns, 320, 1e-6);
    cr_expect_float_eq(l->self_ns, 320, 1e-6);
    cr_expect_str_eq(l->func_name, "sum");
    cr_expect_str_eq(l->file, "/src/sum.c");
    l = line_of(SUM, 11);
    cr_expect_eq(l->hits, 8);
    cr_expect_float_eq(l->time_ns, 600, 1e-6);
    cr_expect_float_eq(l->self_ns, 500, 1e-6);
    l = line_of(MAIN, 3);
    cr_expect_eq(l->hits, 2);
    cr_expect_float_eq(l->time_ns, 2000, 1e-6);
    cr_expect_eq(model.nfuncs, 2, "the same functions in both processes");
    for (size_t f = 0; f < model.nfuncs; f++)
        cr_expect(model.funcs[f].has_lines);
    cr_expect_eq(model.damage.count, 0);
}

Test(lines, the_same_line_in_two_files_stays_apart)
{
    struct tstream s;
    ts_begin(&s, "summary", 1);
    ts_module(&s, 0, 0x1000, 0x2000, PROG);
    ts_node(&s, 1, 1, 0, SUM, 1, 100, 100, 100, 1);
    ts_line(&s, 1, SUM, "sum", "/src/sum.c", 10, 1, 10, 10);
    ts_line(&s, 1, SUM, "sum", "/src/inline.h", 10, 3, 30, 30);
    ts_line(&s, 1, SUM, "sum", "/src/sum.c", 10, 1, 10, 10);
    ts_end(&s, 1e9, 100);
    load(&s, "a.cprof");
    cr_expect_eq(model.nlines, 2);
    for (size_t i = 0; i < model.nlines; i++)
        cr_expect_eq(model.lines[i].hits, strstr(model.lines[i].file, ".h") ? 3 : 2);
}

Test(lines, the_tid_filter_leaves_other_threads_lines_out)
{
    model.filter.tid = 11; /* thread 2 of process 10 */
    summary_process(10, 1, 1e9);
    cr_expect_eq(model.nlines, 1);
    cr_expect_eq(line_of(SUM, 10)->hits, 1);
}

Test(lines, count_mode_lines_have_hits_only)
{
    struct tstream s;
    ts_begin(&s, "count", 1);
    ts_module(&s, 0, 0x1000, 0x2000, PROG);
    ts_node(&s, 1, 1, 0, SUM, 3, 0, 0, 0, 0);
    ts_line(&s, 1, SUM, "sum", "/src/sum.c", 10, 3, 0, 0);
    ts_end(&s, 0, 0);
    load(&s, "c.cprof");
    const struct m_line *l = line_of(SUM, 10);
    cr_expect_eq(l->hits, 3);
    cr_expect_float_eq(l->time_ns, 0, 1e-9);
    cr_expect(!model.timed);
}

Test(lines, a_1_0_file_still_reads)
{
    struct tstream s;
    ts_begin_version(&s, "summary", 1, 1, 0);
    ts_module(&s, 0, 0x1000, 0x2000, PROG);
    ts_node(&s, 1, 1, 0, SUM, 1, 100, 100, 100, 1);
    ts_end(&s, 1e9, 100);
    load(&s, "old.cprof");
    cr_expect_eq(model.nprocs, 1);
    cr_expect_eq(model.nlines, 0);
    cr_expect_eq(model.damage.count, 0);
}

/* ---- traces ------------------------------------------------------------- */

#define TOK(delta, kind) ((uint64_t)(delta) << CPROF_EV_KIND_BITS | (kind))

/* main enters at 100, calls sum at 150, which returns at 170; main
 * returns at 200. with_lines interleaves LINE events of sites 0 (main's
 * line 3), 1 and 2 (sum's lines 10 and 11) at the same times. */
static size_t trace_events(uint64_t *ev, int with_lines)
{
    size_t n = 0;
#define EV(...)                                                                          \
    do {                                                                                 \
        uint64_t e_[] = {__VA_ARGS__};                                                   \
        for (size_t i_ = 0; i_ < sizeof e_ / sizeof *e_; i_++)                           \
            ev[n++] = e_[i_];                                                            \
    } while (0)
    EV(TOK(0, CPROF_EV_EXT), CPROF_EXT_FUNC, 0, MAIN);
    EV(TOK(0, CPROF_EV_EXT), CPROF_EXT_FUNC, 1, SUM);
    EV(TOK(100, CPROF_EV_ENTER), 0);
    if (with_lines)
        EV(TOK(0, CPROF_EV_LINE), 0);
    EV(TOK(50, CPROF_EV_ENTER), 1);
    if (with_lines) {
        EV(TOK(0, CPROF_EV_LINE), 1);
        EV(TOK(10, CPROF_EV_LINE), 2);
        EV(TOK(10, CPROF_EV_EXIT));
    } else {
        EV(TOK(20, CPROF_EV_EXIT));
    }
    EV(TOK(30, CPROF_EV_EXIT));
#undef EV
    return n;
}

static void trace_file(int with_lines, uint64_t pid)
{
    struct tstream s;
    uint64_t ev[64];
    size_t n = trace_events(ev, with_lines);
    ts_begin(&s, "trace", pid);
    ts_module(&s, 0, 0x1000, 0x2000, PROG);
    ts_thread(&s, 1, pid);
    if (with_lines) {
        ts_line_site(&s, 1, 0, MAIN, "main", "/src/sum.c", 3);
        ts_line_site(&s, 1, 1, SUM, "sum", "/src/sum.c", 10);
        ts_line_site(&s, 1, 2, SUM, "sum", "/src/sum.c", 11);
    }
    ts_trace_raw(&s, 1, 0, ev, n);
    if (with_lines) {
        ts_line(&s, 1, MAIN, "main", "/src/sum.c", 3, 1, 100, 80);
        ts_line(&s, 1, SUM, "sum", "/src/sum.c", 10, 1, 10, 10);
        ts_line(&s, 1, SUM, "sum", "/src/sum.c", 11, 1, 10, 10);
    }
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 200);
    load(&s, with_lines ? "lines.cprof" : "plain.cprof");
}

Test(lines, a_trace_with_line_events_gives_the_same_functions)
{
    struct profile plain, lined;
    trace_file(0, 1);
    profile_build(&model, NULL, &plain);
    profile_sort(&plain, PF_SORT_NAME);
    model_free(&model);
    model_init(&model);
    trace_file(1, 1);
    profile_build(&model, NULL, &lined);
    profile_sort(&lined, PF_SORT_NAME);
    cr_expect_eq(model.damage.count, 0, "%s",
                 model.damage.count ? model.damage.text[0] : "");
    cr_assert_eq(plain.nrows, 2);
    cr_assert_eq(lined.nrows, plain.nrows);
    for (size_t i = 0; i < plain.nrows; i++) {
        cr_expect_eq(lined.rows[i].calls, plain.rows[i].calls);
        cr_expect_float_eq(lined.rows[i].self_ns, plain.rows[i].self_ns, 1e-9);
        cr_expect_float_eq(lined.rows[i].total_ns, plain.rows[i].total_ns, 1e-9);
        cr_expect_float_eq(lined.rows[i].min_ns, plain.rows[i].min_ns, 1e-9);
        cr_expect_float_eq(lined.rows[i].max_ns, plain.rows[i].max_ns, 1e-9);
    }
    cr_expect_float_eq(plain.rows[0].total_ns + plain.rows[1].total_ns, 120, 1e-9);
    cr_expect_eq(model.nlines, 3, "the trace's line records are its line data");
    cr_expect_eq(line_of(SUM, 11)->hits, 1);
    profile_free(&plain);
    profile_free(&lined);
}

Test(lines, a_line_event_of_an_undefined_site_is_an_error)
{
    struct tstream s;
    uint64_t ev[64];
    size_t n = trace_events(ev, 1);
    ts_begin(&s, "trace", 1);
    ts_module(&s, 0, 0x1000, 0x2000, PROG);
    ts_line_site(&s, 1, 0, MAIN, "main", "/src/sum.c", 3);
    ts_line_site(&s, 1, 2, SUM, "sum", "/src/sum.c", 11); /* site 1 missing */
    ts_trace_raw(&s, 1, 0, ev, n);
    ts_end(&s, 1e9, 200);
    load(&s, "bad.cprof");
    cr_assert_eq(model.damage.count, 2, "damaged, so cut short before the end record");
    cr_expect(strstr(model.damage.text[0], "bad.cprof: damaged at byte "), "%s",
              model.damage.text[0]);
    cr_expect(strstr(model.damage.text[0], "LINE event at element 14 of the trace chunk "
                                           "of thread 1 uses line site 1, which no line "
                                           "site record defined"),
              "%s", model.damage.text[0]);
}

/* A line record damaged in one of four ways (case c). */
static void bad_line(struct tstream *s, int c)
{
    struct mp_out *o = &s->out;
    mp_array(o, c == 2 ? 6 : 9);
    mp_uint(o, CPROF_REC_LINE);
    mp_uint(o, 1);
    mp_uint(o, SUM);
    mp_cstr(o, "sum");
    if (c == 1)
        mp_uint(o, 7);
    else
        mp_cstr(o, "/src/sum.c");
    mp_uint(o, 10);
    if (c == 2)
        return;
    if (c == 0)
        mp_cstr(o, "x");
    else
        mp_uint(o, 5);
    mp_uint(o, 100);
    mp_uint(o, c == 3 ? 101 : 50);
}

Test(lines, a_malformed_line_record_is_an_error_naming_the_field)
{
    static const char *const what[] = {
        "bad line record: its hits field is not an unsigned integer",
        "bad line record: its file field is not a string",
        "bad line record: its hits field is missing",
        "bad line record: its self_ticks field is larger than time_ticks",
    };
    for (int c = 0; c < 4; c++) {
        struct tstream s;
        ts_begin(&s, "summary", 1);
        ts_module(&s, 0, 0x1000, 0x2000, PROG);
        size_t at = ts_len(&s);
        bad_line(&s, c);
        ts_end(&s, 1e9, 100);
        model_free(&model);
        model_init(&model);
        load(&s, "bad.cprof");
        cr_assert_eq(model.damage.count, 2, "case %d: damaged, so cut short", c);
        char expected[300];
        snprintf(expected, sizeof expected, "bad.cprof: damaged at byte %zu (%s)", at,
                 what[c]);
        cr_expect(strstr(model.damage.text[0], expected), "case %d: %s\nexpected %s", c,
                  model.damage.text[0], expected);
        cr_expect_eq(model.nlines, 0);
    }
}

Test(lines, a_malformed_line_site_record_is_an_error)
{
    struct tstream s;
    ts_begin(&s, "trace", 1);
    mp_array(&s.out, 7);
    mp_uint(&s.out, CPROF_REC_LINE_SITE);
    mp_uint(&s.out, 1);
    mp_uint(&s.out, 1u << 30); /* site index out of range */
    mp_uint(&s.out, SUM);
    mp_cstr(&s.out, "sum");
    mp_cstr(&s.out, "/src/sum.c");
    mp_uint(&s.out, 10);
    load(&s, "bad.cprof");
    cr_assert_eq(model.damage.count, 2, "damaged and cut short");
    cr_expect(strstr(model.damage.text[0],
                     "(bad line site record: its site field is out of range)"),
              "%s", model.damage.text[0]);
}

Test(lines, unmatched_line_events_become_a_warning)
{
    struct tstream s;
    ts_begin(&s, "summary", 42);
    ts_module(&s, 0, 0x1000, 0x2000, PROG);
    ts_node(&s, 1, 1, 0, SUM, 1, 100, 100, 100, 1);
    ts_line(&s, 1, SUM, "sum", "/src/sum.c", 10, 3, 0, 0);
    ts_thread_end(&s, 1, CPROF_STAT_LINES_UNMATCHED "=3");
    ts_end(&s, 1e9, 100);
    load(&s, "w.cprof");
    int found = 0;
    for (size_t i = 0; i < model.warnings.count; i++)
        found |=
            strstr(model.warnings.text[i],
                   "prog[42]: 3 line hits came from outside a recorded call of their "
                   "function (counted, not timed)") != NULL;
    cr_expect(found, "no lines_unmatched warning");
}

/* ---- the commands --------------------------------------------------------- */

static char dir[64];

/* A source file for sum (lines 8 to 12) and a data file whose line records
 * name it, plus a function whose source is missing. Returns the data
 * path. */
static const char *write_data(const char *mode)
{
    snprintf(dir, sizeof dir, "/tmp/cprof-lines-XXXXXX");
    cr_assert(mkdtemp(dir));
    char src[128], data[128], other[128];
    snprintf(src, sizeof src, "%s/sum.c", dir);
    snprintf(other, sizeof other, "%s/gone.c", dir);
    FILE *f = fopen(src, "w");
    cr_assert(f);
    fputs("1\n2\n3\n4\n5\n6\n7\n"
          "static int sum(int n)\n"
          "{\n"
          "    int s = 0, \"q\";\n"
          "    for (int i = 0; i < n; i++)\n"
          "        s += i;\n"
          "    return s;\n"
          "}\n",
          f);
    fclose(f);
    int count = !strcmp(mode, "count");
    struct tstream s;
    ts_begin(&s, mode, 5);
    ts_module(&s, 0, 0x1000, 0x2000, PROG);
    ts_thread(&s, 1, 5);
    ts_node(&s, 1, 1, 0, MAIN, 1, count ? 0 : 1000, count ? 0 : 1000, count ? 0 : 1000,
            !count);
    ts_node(&s, 1, 2, 1, SUM, 2, count ? 0 : 400, count ? 0 : 200, count ? 0 : 200,
            !count);
    ts_line(&s, 1, SUM, "sum", src, 10, 2, count ? 0 : 100, count ? 0 : 100);
    ts_line(&s, 1, SUM, "sum", src, 12, 8, count ? 0 : 200, count ? 0 : 150);
    ts_line(&s, 1, MAIN, "main", other, 3, 1, count ? 0 : 900, count ? 0 : 500);
    ts_thread_end(&s, 1, "");
    ts_end(&s, count ? 0 : 1e9, count ? 0 : 1000);
    snprintf(data, sizeof data, "%s/p.5.cprof", dir);
    int fd = open(data, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, s.buf, ts_len(&s)), (ssize_t)ts_len(&s));
    close(fd);
    ts_free(&s);
    static char path[128];
    snprintf(path, sizeof path, "%s", data);
    return path;
}

static void remove_data(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

Test(lines_cmd, csv_has_a_row_per_line_with_data)
{
    const char *data = write_data("summary");
    char *out, *err;
    char *argv[] = {"lines", (char *)data, "--format", "csv", NULL};
    cr_assert_eq(ts_run_cmd(cmd_lines, argv, &out, &err), 0, "%s", err);
    char expected[1024];
    snprintf(expected, sizeof expected,
             "function,file,line,hits,time_ns,self_ns,time_adj_ns,self_adj_ns,text\n"
             "main,%s/gone.c,3,1,900,500,,,\n"
             "sum,%s/sum.c,10,2,100,100,,,\"    int s = 0, \"\"q\"\";\"\n"
             "sum,%s/sum.c,12,8,200,150,,,        s += i;\n",
             dir, dir, dir);
    cr_expect_str_eq(out, expected);
    cr_expect(strstr(err, "cprof: warning: source file not found: "), "%s", err);
    cr_expect(strstr(err, "gone.c (lines are shown without their text)"), "%s", err);
    free(out);
    free(err);
    remove_data();
}

Test(lines_cmd, json_groups_lines_by_function)
{
    const char *data = write_data("summary");
    char *out, *err;
    char *argv[] = {"lines", "--format", "json", (char *)data, "sum", NULL};
    cr_assert_eq(ts_run_cmd(cmd_lines, argv, &out, &err), 0, "%s", err);
    char expected[1024];
    snprintf(
        expected, sizeof expected,
        "  \"functions\": [\n"
        "    {\"name\": \"sum\", \"file\": \"%s/sum.c\", \"line\": 10, \"calls\": 2, "
        "\"total_ns\": 400, \"total_adj_ns\": null, \"lines\": [\n"
        "        {\"file\": \"%s/sum.c\", \"line\": 10, \"hits\": 2, \"time_ns\": 100, "
        "\"self_ns\": 100, \"time_adj_ns\": null, \"self_adj_ns\": null, "
        "\"text\": \"    int s = 0, \\\"q\\\";\"},\n"
        "        {\"file\": \"%s/sum.c\", \"line\": 12, \"hits\": 8, \"time_ns\": 200, "
        "\"self_ns\": 150, \"time_adj_ns\": null, \"self_adj_ns\": null, "
        "\"text\": \"        s += i;\"}\n"
        "      ]}\n"
        "  ],\n",
        dir, dir, dir);
    cr_expect(strstr(out, expected), "%s\nexpected\n%s", out, expected);
    cr_expect(!strstr(out, "\"main\""), "only the function asked for");
    free(out);
    free(err);
    remove_data();
}

Test(lines_cmd, json_text_is_null_without_the_source)
{
    const char *data = write_data("summary");
    char *out, *err;
    char *argv[] = {"lines", "-f", "json", (char *)data, "ma?n", NULL};
    cr_assert_eq(ts_run_cmd(cmd_lines, argv, &out, &err), 0, "%s", err);
    cr_expect(strstr(out,
                     "\"line\": 3, \"hits\": 1, \"time_ns\": 900, \"self_ns\": 500, "
                     "\"time_adj_ns\": null, \"self_adj_ns\": null, \"text\": null}"),
              "%s", out);
    cr_expect(strstr(out, "\n    \"source file not found: "), "%s", out);
    free(out);
    free(err);
    remove_data();
}

Test(lines_cmd, text_shows_every_line_of_the_range_with_the_source)
{
    const char *data = write_data("summary");
    char *out, *err;
    char *argv[] = {"lines", (char *)data, NULL};
    cr_assert_eq(ts_run_cmd(cmd_lines, argv, &out, &err), 0, "%s", err);
    /* main first: its total (1 µs) is larger than sum's */
    char *main_at = strstr(out, "Function: main at "),
         *sum_at = strstr(out, "Function: sum");
    cr_assert(main_at && sum_at, "%s", out);
    cr_expect(main_at < sum_at, "%s", out);
    cr_expect(strstr(out, "Total time: 400 ns in 2 calls\n"
                          "\n"
                          "Line #  Hits    Time    Self  Per Hit  % Time  Line Contents\n"
                          "============================================================\n"
                          "    10     2  100 ns  100 ns    50 ns   25.0%      int s = 0, "
                          "\"q\";\n"
                          "    11                                         "
                          "    for (int i = 0; i < n; i++)\n"
                          "    12     8  200 ns  150 ns    25 ns   50.0%          s += "
                          "i;\n"),
              "%s", out);
    cr_expect(strstr(out, "Note: source file not found: "), "%s", out);
    cr_expect(strstr(out, "     3     1  900 ns  500 ns   900 ns   90.0%\n"), "%s", out);
    free(out);
    free(err);
    remove_data();
}

Test(lines_cmd, count_mode_shows_hits_and_dashes)
{
    const char *data = write_data("count");
    char *out, *err;
    char *argv[] = {"lines", (char *)data, "sum", NULL};
    cr_assert_eq(ts_run_cmd(cmd_lines, argv, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "count mode: hits only"), "%s", out);
    cr_expect(strstr(out, "    12     8     -     -        -       -          s += i;\n"),
              "%s", out);
    free(out);
    free(err);
    char *json_argv[] = {"lines", (char *)data, "sum", "--format", "json", NULL};
    cr_assert_eq(ts_run_cmd(cmd_lines, json_argv, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "\"hits\": 8, \"time_ns\": null, \"self_ns\": null"), "%s",
              out);
    free(out);
    free(err);
    remove_data();
}

Test(lines_cmd, an_unknown_function_is_an_error_listing_what_has_lines)
{
    const char *data = write_data("summary");
    char *out, *err;
    char *argv[] = {"lines", (char *)data, "sum", "nosuch*", NULL};
    cr_expect_eq(ts_run_cmd(cmd_lines, argv, &out, &err), CPROF_EXIT_USAGE);
    cr_expect(strstr(err, "cprof: lines: no function with line data matches 'nosuch*' "
                          "(functions with line data: main, sum)\n"),
              "%s", err);
    cr_expect_str_eq(out, "");
    free(out);
    free(err);
    remove_data();
}

Test(lines_cmd, usage_and_missing_data)
{
    char *out, *err;
    char *bad_format[] = {"lines", "--format", "xml", NULL};
    cr_expect_eq(ts_run_cmd(cmd_lines, bad_format, &out, &err), CPROF_EXIT_USAGE);
    cr_expect(strstr(err, "unknown format 'xml'"), "%s", err);
    free(out);
    free(err);
    char *help[] = {"lines", "--help", NULL};
    cr_expect_eq(ts_run_cmd(cmd_lines, help, &out, &err), 0);
    cr_expect(strstr(out, "usage: cprof lines [FUNC...]"), "%s", out);
    free(out);
    free(err);
    char *missing[] = {"lines", "/nonexistent/cprof.data/x.cprof", NULL};
    /* a path (it has a '/'), even a missing one */
    cr_expect_eq(ts_run_cmd(cmd_lines, missing, &out, &err), CPROF_EXIT_DATA);
    cr_expect(strstr(err, "cprof: /nonexistent/cprof.data/x.cprof: No such file"), "%s",
              err);
    free(out);
    free(err);
    char *func_only[] = {"lines", "sum", NULL};
    /* not a path, so a function name: the default data is missing */
    char cwd[4096];
    cr_assert(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir("/"), 0);
    cr_expect_eq(ts_run_cmd(cmd_lines, func_only, &out, &err), CPROF_EXIT_DATA);
    cr_expect(strstr(err, "cprof: no profile here: ./cprof.data does not exist"), "%s",
              err);
    cr_assert_eq(chdir(cwd), 0);
    free(out);
    free(err);
}

Test(lines_cmd, report_marks_functions_with_line_data)
{
    const char *data = write_data("summary");
    char *out, *err;
    char *csv[] = {"report", (char *)data, "--format", "csv", "--sort", "name", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, csv, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, ",self_pct,module,has_lines,alloc_calls,"), "%s", out);
    cr_expect(strstr(out, ",/nonexistent/prog,true,"), "%s", out);
    free(out);
    free(err);
    char *json[] = {"report", (char *)data, "--format", "json", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, json, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "\"module\": \"/nonexistent/prog\", \"has_lines\": true,"),
              "%s", out);
    free(out);
    free(err);
    char *text[] = {"report", (char *)data, NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, text, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, " *  "), "a marked name: %s", out);
    cr_expect(strstr(out, "*  has line data: cprof lines NAME"), "%s", out);
    free(out);
    free(err);
    remove_data();
}

Test(lines_cmd, lines_from_another_file_get_a_table_of_their_own)
{
    snprintf(dir, sizeof dir, "/tmp/cprof-lines-XXXXXX");
    cr_assert(mkdtemp(dir));
    char data[128];
    snprintf(data, sizeof data, "%s/p.cprof", dir);
    struct tstream s;
    ts_begin(&s, "summary", 1);
    ts_module(&s, 0, 0x1000, 0x2000, PROG);
    ts_node(&s, 1, 1, 0, SUM, 1, 100, 100, 100, 1);
    ts_line(&s, 1, SUM, "sum", "/nonexistent/sum.c", 10, 1, 40, 40);
    ts_line(&s, 1, SUM, "sum", "/nonexistent/inline.h", 3, 2, 50, 50);
    /* hits past the runtime's line table: no function to look at */
    ts_line(&s, 1, CPROF_FN_NODE_LIMIT, "[line limit]", "", 0, 7, 10, 10);
    ts_thread_end(&s, 1, "lines_dropped=7");
    ts_end(&s, 1e9, 100);
    FILE *f = fopen(data, "w");
    cr_assert(f);
    cr_assert_eq(fwrite(s.buf, 1, ts_len(&s), f), ts_len(&s));
    fclose(f);
    ts_free(&s);
    char *out, *err;
    char *argv[] = {"lines", data, "sum", NULL};
    cr_assert_eq(ts_run_cmd(cmd_lines, argv, &out, &err), 0, "%s", err);
    char *own = strstr(out, "Function: sum at /nonexistent/sum.c:10\n"),
         *other = strstr(out, "sum, lines in /nonexistent/inline.h:\n"
                              "Note: source file not found: /nonexistent/inline.h");
    cr_expect(own && other && own < other, "%s", out);
    cr_expect(strstr(out, "warning: prog[1]: 7 line hits past the runtime's line table "
                          "are counted under [line limit]"),
              "%s", out);
    free(out);
    free(err);
    char *report_argv[] = {"report", data, "--format", "csv", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, report_argv, &out, &err), 0, "%s", err);
    cr_expect(!strstr(out, "[node limit]"), "no calls past the node limit: %s", out);
    cr_expect(strstr(out, ",true,"), "sum has line data: %s", out);
    free(out);
    free(err);
    remove_data();
}
