/*
 * `cprof export --format html` end to end (Criterion suite `export_html`):
 * samples built with cprof-cc are run and exported, and the page must be
 * self-contained (nothing outside its data block loads from the network)
 * with an embedded JSON block that parses and holds the samples' exact
 * figures: calls per function (samples/fib/expected), hits per line
 * (samples/lines/expected-lines), heap per function
 * (samples/heap/expected-heap). A function whose name is HTML must stay
 * data. tests/html/page.py reads the page; tests/html/check.sh opens it in
 * headless Chromium (the last test here runs it, or skips without one).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"
#define CPROF_CC CPROF_BINARY_DIR "/bin/cprof-cc"
#define SAMPLES CPROF_SOURCE_DIR "/samples"
#define PAGE_PY CPROF_SOURCE_DIR "/tests/html/page.py"
#define CHECK_SH CPROF_SOURCE_DIR "/tests/html/check.sh"

TestSuite(export_html, .init = e2e_scratch_init, .fini = e2e_scratch_fini);

/* Runs argv in the scratch directory and fails the test unless it exits 0.
 * Returns what it printed (malloc'd). */
static char *run_ok(char *const argv[])
{
    struct e2e_result res;
    int status = e2e_scratch_run_plain(argv, &res);
    cr_assert(status == 0, "%s %s exited %d:\n%s%s", argv[0], argv[1] ? argv[1] : "",
              status, res.out, res.err);
    char *out = res.out;
    res.out = NULL;
    e2e_result_free(&res);
    return out;
}

/* The page the test exported (malloc'd). */
static char *read_page(void)
{
    char *path;
    cr_assert(asprintf(&path, "%s/page.html", e2e_scratch) > 0);
    char *page = e2e_read_file(path, NULL);
    cr_assert(page, "cannot read %s", path);
    free(path);
    return page;
}

/* Runs prog (built in the scratch directory) into data/ and exports
 * page.html; checks the page is self-contained. */
static void export_page(const char *prog)
{
    e2e_scratch_record(prog, "summary", "data");
    char *export[] = {CPROF, "export",    "--format", "html",
                      "-o",  "page.html", "data",     NULL};
    free(run_ok(export));
    char *check[] = {"python3", PAGE_PY, "check", "page.html", NULL};
    free(run_ok(check));
}

/* Builds samples/<sample>/main.c with cprof-cc -O2 (and flag) and exports
 * a page of its run (export_page). */
static void export_sample(const char *sample, const char *flag)
{
    char *src;
    cr_assert(asprintf(&src, "%s/%s/main.c", SAMPLES, sample) > 0);
    char *cc[] = {CPROF_CC, "-O2", "-o", "prog", src, "-lpthread", (char *)flag, NULL};
    free(run_ok(cc));
    free(src);
    export_page("prog");
}

/* What page.py prints about page.html for query (functions, lines). */
static char *page_query(const char *query)
{
    char *argv[] = {"python3", PAGE_PY, (char *)query, "page.html", NULL};
    return run_ok(argv);
}

/*
 * Checks each line "KEY... VALUE..." of samples/<sample>/<file> (nkey
 * words of key) against the page's line with the same key: its
 * TAB-separated fields from field first on must be the values. Returns
 * the number of lines checked.
 */
static int check_expected(const char *sample, const char *file, const char *query,
                          int nkey, int first)
{
    char *path;
    cr_assert(asprintf(&path, "%s/%s/%s", SAMPLES, sample, file) > 0);
    char *spec = e2e_read_file(path, NULL);
    cr_assert(spec, "cannot read %s", path);
    char *got = page_query(query);
    int checked = 0;
    char *save;
    for (char *line = strtok_r(spec, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '!' || !line[0])
            continue;
        char *words[16];
        int n = 0;
        char *wsave;
        for (char *w = strtok_r(line, " \t", &wsave); w && n < 16;
             w = strtok_r(NULL, " \t", &wsave))
            words[n++] = w;
        /* the page's line: key words joined by TABs */
        char key[256] = "";
        for (int i = 0; i < nkey; i++)
            snprintf(key + strlen(key), sizeof key - strlen(key), "%s\t", words[i]);
        const char *at = got;
        while (at && strncmp(at, key, strlen(key)) != 0)
            at = (at = strchr(at, '\n')) ? at + 1 : NULL;
        cr_assert(at, "%s: the page has no entry for %s", file, words[0]);
        char *fields[16];
        int nfields = 0;
        char *copy = strndup(at, strcspn(at, "\n")), *fsave;
        for (char *f = strtok_r(copy, "\t", &fsave); f && nfields < 16;
             f = strtok_r(NULL, "\t", &fsave))
            fields[nfields++] = f;
        for (int i = nkey; i < n; i++) {
            int field = first + i - nkey;
            cr_assert(field < nfields && !strcmp(fields[field], words[i]),
                      "%s: %s value %d is %s in the page, %s expected", file, key,
                      i - nkey, field < nfields ? fields[field] : "(none)", words[i]);
        }
        free(copy);
        checked++;
    }
    free(got);
    free(spec);
    free(path);
    return checked;
}

Test(export_html, fib_calls_exact, .timeout = 120)
{
    export_sample("fib", NULL);
    cr_assert(check_expected("fib", "expected", "functions", 1, 1) == 2);
}

Test(export_html, lines_hits_exact, .timeout = 120)
{
    export_sample("lines", "--cprof-lines=sum_*,classify,count_down,wait_a_bit,worker");
    cr_assert(check_expected("lines", "expected", "functions", 1, 1) > 0);
    int expected = check_expected("lines", "expected-lines", "lines", 2, 2);
    /* every line with hits is listed there: the page has no other */
    char *got = page_query("lines");
    int with_hits = 0;
    char *save;
    for (char *line = strtok_r(got, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        with_hits += strcmp(strrchr(line, '\t'), "\t0") != 0;
    cr_assert_eq(with_hits, expected, "%d lines with hits in the page, %d expected",
                 with_hits, expected);
    free(got);
    char *page = read_page();
    cr_assert(page && strstr(page, "s += sum_loop(3);"), "no source text in the page");
    free(page);
}

Test(export_html, heap_exact, .timeout = 120)
{
    export_sample("heap", NULL);
    cr_assert(check_expected("heap", "expected", "functions", 1, 1) > 0);
    cr_assert(check_expected("heap", "expected-heap", "functions", 1, 2) > 0);
    char *page = read_page();
    cr_assert(page && strstr(page, "\"heap\": {\"processes\": 1,"), "no heap totals");
    free(page);
}

/* A function named like markup: its name is escaped in the data and comes
 * back exactly through JSON. */
Test(export_html, hostile_name_escaped, .timeout = 120)
{
    e2e_scratch_build("hostile",
                      "int hostile(int n) __asm__(\"evil</script><img src=x "
                      "onerror=alert(1)>\");\n"
                      "int hostile(int n) { return n + 1; }\n"
                      "int main(void) { int s = 0; for (int i = 0; i < 3; i++) s += "
                      "hostile(i); return s == 6 ? 0 : 1; }\n",
                      (char *const[]){"-O0", NULL});
    export_page("hostile");
    char *page = read_page();
    cr_assert(page && !strstr(page, "<img") && !strstr(page, "evil</script>"),
              "the hostile name is in the page unescaped");
    cr_assert(strstr(page, "evil\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)"
                           "\\u003e"),
              "the hostile name is not in the data");
    free(page);
    char *names = page_query("names");
    cr_assert(strstr(names, "\"evil</script><img src=x onerror=alert(1)>\"\n"),
              "the name does not come back from the JSON: %s", names);
    free(names);
    char *functions = page_query("functions");
    cr_assert(strstr(functions, "evil</script><img src=x onerror=alert(1)>\t3\t"),
              "the hostile function has not its 3 calls: %s", functions);
    free(functions);
}

/* The page in headless Chromium (tests/html/check.sh): skipped only when
 * no Chromium is installed. */
Test(export_html, browser, .timeout = 180)
{
    char *argv[] = {CHECK_SH, CPROF_BINARY_DIR, NULL};
    char *out = run_ok(argv);
    if (strncmp(out, "SKIP", 4) == 0) {
        free(out);
        cr_skip_test("chromium is not installed: the browser check was skipped");
    }
    cr_assert(strstr(out, "html browser check: passed"), "%s", out);
    free(out);
}
