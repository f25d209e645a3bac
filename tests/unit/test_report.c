/*
 * The output formats and the report command: exact text, JSON and CSV for
 * a small table (quoting, nulls, human units, alignment), and the report
 * command's exit statuses on good, missing and foreign input.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "fmt.h"
#include "model.h"
#include "stream.h"

static const struct fmt_col cols[] = {
    {"name", "function", FMT_STR, FMT_ALL, 0},
    {"location", "file:line", FMT_STR, FMT_TEXT_ONLY, 0},
    {"line", "line", FMT_UINT, FMT_DATA_ONLY, 0},
    {"calls", "calls", FMT_UINT, FMT_ALL, 0},
    {"total_ns", "total", FMT_NS, FMT_ALL, 0},
    {"self_pct", "self%", FMT_PCT, FMT_ALL, 0},
};

static const struct fmt_cell cells[] = {
    {.str = "main"},
    {.str = "a.c:3"},
    {.num = 3},
    {.num = 1},
    {.num = 2.5e9},
    {.num = 60},
    {.str = "odd, \"name\""},
    {.str = "b.c"},
    {.null = 1},
    {.num = 12345},
    {.num = 1500},
    {.num = 40},
};

static char *render(const struct fmt_ops *ops, const struct warnings *w)
{
    struct model m;
    model_init(&m);
    struct fmt_table t = {"functions", cols, 6, cells, 2, 50, NULL, NULL, NULL};
    struct fmt_doc doc = {.title = "functions", .model = &m, .table = &t, .warnings = w};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ops->write(out, &doc);
    fclose(out);
    model_free(&m);
    return buf;
}

Test(report, csv_quotes_and_leaves_unknowns_empty)
{
    char *csv = render(&fmt_csv, NULL);
    cr_expect_str_eq(csv, "name,line,calls,total_ns,self_pct\n"
                          "main,3,1,2500000000,60.00\n"
                          "\"odd, \"\"name\"\"\",,12345,1500,40.00\n");
    free(csv);
}

Test(report, json_has_stable_keys_nulls_and_warnings)
{
    struct warnings w = {0};
    warn_add(&w, "a \"quoted\" warning");
    char *json = render(&fmt_json, &w);
    cr_expect(
        strstr(json,
               "\"functions\": [\n    {\"name\": \"main\", \"line\": 3, \"calls\": 1, "
               "\"total_ns\": 2500000000, \"self_pct\": 60.00},\n"),
        "%s", json);
    cr_expect(
        strstr(json,
               "{\"name\": \"odd, \\\"name\\\"\", \"line\": null, \"calls\": 12345"),
        "%s", json);
    cr_expect(strstr(json, "\"warnings\": [\n    \"a \\\"quoted\\\" warning\"\n  ]"),
              "%s", json);
    cr_expect(!strstr(json, "location"), "text-only columns stay out of JSON");
    free(json);
    warn_free(&w);
}

/* fmt_json_string: JSON's escapes, bytes that are not UTF-8 as U+FFFD (so
 * the output stays valid JSON), valid UTF-8 as it is, NULL as null; the
 * html form also escapes what could end a <script> block. */
Test(report, json_strings_are_valid_utf8_and_html_safe)
{
    static const struct {
        const char *in;
        int html;
        const char *want;
    } cases[] = {
        {"a\"b\\c\n\t\x01", 0, "\"a\\\"b\\\\c\\n\\t\\u0001\""},
        {"caf\xc3\xa9 \xe2\x82\xac", 0, "\"caf\xc3\xa9 \xe2\x82\xac\""},
        {"lat\xe9n1 \xc3", 0, "\"lat\\ufffdn1 \\ufffd\""},
        {"\xed\xa0\x80 \xf4\x90\x80\x80", 0,
         "\"\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd\\ufffd\""},
        {"</script>&", 0, "\"</script>&\""},
        {"</script>&", 1, "\"\\u003c/script\\u003e\\u0026\""},
        {NULL, 0, "null"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        cr_assert(out);
        fmt_json_string(out, cases[i].in, cases[i].html);
        fclose(out);
        cr_expect_str_eq(buf, cases[i].want, "case %zu", i);
        free(buf);
    }
}

Test(report, text_aligns_columns_in_human_units)
{
    char *text = render(&fmt_text, NULL);
    cr_expect(strstr(text, "function     file:line  calls    total  self%\n"
                           "main         a.c:3          1   2.50 s  60.0%\n"
                           "odd, \"name\"  b.c        12345  1.50 µs  40.0%\n"),
              "%s", text);
    free(text);
}

Test(report, human_units_keep_three_digits)
{
    static const struct {
        double ns;
        const char *text;
    } cases[] = {
        {0, "0 ns"},        {999, "999 ns"},     {1000, "1.00 µs"},  {12345, "12.3 µs"},
        {999499, "999 µs"}, {999600, "1.00 ms"}, {4.2e7, "42.0 ms"}, {3.6e12, "3600 s"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fmt_human_ns(cases[i].ns, buf, sizeof buf);
        cr_expect_str_eq(buf, cases[i].text, "%.0f ns", cases[i].ns);
    }
}

/* ---- the command -------------------------------------------------------- */

static char *write_sample(void)
{
    struct tstream s;
    ts_begin(&s, "summary", 7);
    ts_module(&s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(&s, 1, 7);
    ts_node(&s, 1, 1, 0, 0x1100, 1, 100, 100, 100, 1);
    ts_node(&s, 1, 2, 1, 0x1200, 3, 60, 10, 30, 3);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 100);
    return ts_write_temp(&s, "report");
}

static int report(int argc, char **argv)
{
    return cmd_report(argc, argv);
}

Test(report, csv_of_a_file, .init = cr_redirect_stdout)
{
    cr_redirect_stderr(); /* the warning about the made-up module */
    char *path = write_sample();
    char *argv[] = {"report", path, "--format", "csv", "--sort", "calls", NULL};
    cr_assert_eq(report(6, argv), 0);
    fflush(stdout);
    unlink(path);
    free(path);
    char line[512];
    FILE *out = cr_get_redirected_stdout();
    cr_assert(fgets(line, sizeof line, out));
    cr_expect_str_eq(line, "name,file,line,calls,self_ns,total_ns,self_per_call_ns,"
                           "total_per_call_ns,self_adj_ns,total_adj_ns,"
                           "self_adj_per_call_ns,total_adj_per_call_ns,adj_clamped,"
                           "min_ns,max_ns,p50_ns,p90_ns,p99_ns,"
                           "percentiles_exact,self_pct,module,has_lines,"
                           "alloc_calls,alloc_bytes,free_calls,freed_bytes,"
                           "heap_delta_bytes,heap_peak_bytes\n");
    cr_assert(fgets(line, sizeof line, out));
    /* percentiles: the histogram's bucket (28 to 31 ticks, 4 buckets an
     * octave) at its midpoint, 29.5 */
    cr_expect(strstr(line, ",3,60,60,20,20,,,,,,10,30,30,30,30,false,60.00,"
                           "/nonexistent/prog,false,,,,,,\n"),
              "%s (no heap data: empty heap fields; no probe cost: empty *_adj_ns)",
              line);
    cr_assert(fgets(line, sizeof line, out));
    cr_expect(strstr(line, ",1,40,100,40,100,,,,,,100,100,100,100,100,false,40.00,"
                           "/nonexistent/prog,"
                           "false,,,,,,\n"),
              "%s", line);
}

Test(report, usage_errors_exit_1, .init = cr_redirect_stderr)
{
    char *bad_format[] = {"report", "--format", "xml", NULL};
    cr_expect_eq(report(3, bad_format), CPROF_EXIT_USAGE);
    char *bad_sort[] = {"report", "--sort", "speed", NULL};
    cr_expect_eq(report(3, bad_sort), CPROF_EXIT_USAGE);
    char *bad_limit[] = {"report", "--limit", "ten", NULL};
    cr_expect_eq(report(3, bad_limit), CPROF_EXIT_USAGE);
    char *unknown[] = {"report", "--frobnicate", NULL};
    cr_expect_eq(report(2, unknown), CPROF_EXIT_USAGE);
}

Test(report, missing_and_foreign_input_exit_2, .init = cr_redirect_stderr)
{
    char *missing[] = {"report", "/nonexistent/cprof.data", NULL};
    cr_expect_eq(report(2, missing), CPROF_EXIT_DATA);
    char dir[] = "/tmp/cprof-empty-XXXXXX";
    cr_assert(mkdtemp(dir));
    char *empty[] = {"report", dir, NULL};
    cr_expect_eq(report(2, empty), CPROF_EXIT_DATA);
    char foreign[300];
    snprintf(foreign, sizeof foreign, "%s/x.cprof", dir);
    FILE *f = fopen(foreign, "w");
    fputs("hello\n", f);
    fclose(f);
    char *not_ours[] = {"report", foreign, NULL};
    cr_expect_eq(report(2, not_ours), CPROF_EXIT_DATA);
    unlink(foreign);
    rmdir(dir);
    fflush(stderr);
    char text[4096] = "";
    size_t n = fread(text, 1, sizeof text - 1, cr_get_redirected_stderr());
    text[n] = 0;
    cr_expect(strstr(text, "cprof: /nonexistent/cprof.data: No such file or directory\n"),
              "%s", text);
    cr_expect(strstr(text, "no .cprof files in this directory"), "%s", text);
    cr_expect(strstr(text, "x.cprof: not a cprof file"), "%s", text);
}
