/*
 * `cprof export` end to end: samples built with cprof-cc and recorded in
 * trace mode, exported, and the exports read back by Python's json module
 * (as a viewer would): the chrome trace has one complete event per call
 * `cprof report` counts, the folded stacks are well formed and add up to
 * the report's total self time (within rounding) or, by calls, to its
 * calls; -o replaces its file only when the export succeeded.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"
#define SAMPLES CPROF_SOURCE_DIR "/samples"

TestSuite(export_cli, .init = e2e_scratch_init, .fini = e2e_scratch_fini, .timeout = 240);

/* Builds samples/<sample>/main.c as prog and records it into dir data in
 * mode. */
static void record_sample(const char *sample, const char *mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/main.c", SAMPLES, sample);
    char *text = e2e_read_file(path, NULL);
    cr_assert(text, "cannot read %s", path);
    e2e_scratch_build("prog", text, (char *const[]){"-O1", "-g", NULL});
    free(text);
    e2e_scratch_record("prog", mode, "data");
}

/* Runs argv (NULL terminated) in the scratch directory and expects
 * want_status; returns its stdout (allocated). */
static char *run(int want_status, char *const argv[])
{
    struct e2e_result res;
    int status = e2e_scratch_run_plain(argv, &res);
    cr_assert_eq(status, want_status, "%s %s: status %d:\n%s%s", argv[0], argv[1], status,
                 res.out, res.err);
    char *out = res.out;
    res.out = NULL;
    e2e_result_free(&res);
    return out;
}

/* `cprof report data --format json` into report.json. */
static void report_json(void)
{
    char *out =
        run(0, (char *const[]){CPROF, "report", "data", "--format", "json", NULL});
    e2e_scratch_put("report.json", out);
    free(out);
}

/* Runs a Python check (argv[1] is the scratch directory): it prints why
 * and exits 1 when the export is wrong. */
static void python_check(const char *what, const char *script)
{
    char *out =
        run(0, (char *const[]){"python3", "-c", (char *)script, e2e_scratch, NULL});
    cr_log_info("%s: %s", what, out);
    free(out);
}

/* One X event per call the report counts, metadata for every thread,
 * events well formed. */
static const char chrome_check[] =
    "import json, sys, os\n"
    "d = sys.argv[1]\n"
    "t = json.load(open(os.path.join(d, 'chrome.json')))\n"
    "r = json.load(open(os.path.join(d, 'report.json')))\n"
    "ev = t['traceEvents']\n"
    "assert t['displayTimeUnit'] == 'ns'\n"
    "x = [e for e in ev if e['ph'] == 'X']\n"
    "calls = sum(f['calls'] for f in r['functions'])\n"
    "assert len(x) == calls, (len(x), calls)\n"
    "for e in x:\n"
    "    assert e['cat'] == 'call' and e['dur'] >= 0 and e['ts'] >= 0, e\n"
    "    assert set(e) == {'ph','name','cat','ts','dur','pid','tid','args'}, e\n"
    "names = {}\n"
    "for e in x: names[e['name']] = names.get(e['name'], 0) + 1\n"
    "for f in r['functions']: assert names.get(f['name']) == f['calls'], f['name']\n"
    "threads = sum(len(p['threads']) for p in r['run']['processes'])\n"
    "meta = [e for e in ev if e['ph'] == 'M' and e['name'] == 'thread_name']\n"
    "assert len(meta) == threads, (len(meta), threads)\n"
    "print(len(x), 'events')\n";

/* Folded lines "a;b;c N" adding up to the report's self time, or with
 * --weight calls to its calls. */
static const char folded_check[] =
    "import json, sys, os, re\n"
    "d = sys.argv[1]\n"
    "r = json.load(open(os.path.join(d, 'report.json')))\n"
    "def read(name):\n"
    "    lines = open(os.path.join(d, name)).read().splitlines()\n"
    "    for l in lines: assert re.fullmatch(r'[^; ]+(;[^; ]+)* [1-9][0-9]*', l), l\n"
    "    assert len(set(l.rsplit(' ', 1)[0] for l in lines)) == len(lines)\n"
    "    return lines, sum(int(l.rsplit(' ', 1)[1]) for l in lines)\n"
    "lines, total = read('time.folded')\n"
    "self = sum(f['self_ns'] for f in r['functions'])\n"
    "assert abs(total - self) <= 0.5 * (len(lines) + len(r['functions'])) + 1, "
    "(total, self)\n"
    "lines, total = read('calls.folded')\n"
    "calls = sum(f['calls'] for f in r['functions'])\n"
    "assert total == calls, (total, calls)\n"
    "print(len(lines), 'paths')\n";

static void check_sample(const char *sample)
{
    record_sample(sample, "trace");
    report_json();
    free(run(0, (char *const[]){CPROF, "export", "--format", "chrome", "-o",
                                "chrome.json", "data", NULL}));
    python_check("chrome", chrome_check);
    free(run(0, (char *const[]){CPROF, "export", "-f", "folded", "-o", "time.folded",
                                "data", NULL}));
    free(run(0, (char *const[]){CPROF, "export", "-f", "folded", "--weight", "calls",
                                "-o", "calls.folded", "data", NULL}));
    python_check("folded", folded_check);
}

Test(export_cli, fib)
{
    check_sample("fib");
}

Test(export_cli, threads)
{
    check_sample("threads");
}

Test(export_cli, longjmp)
{
    check_sample("longjmp");
}

/* No file of the scratch directory is a leftover temporary (.tmpXXXXXX). */
static void expect_no_temporary(void)
{
    DIR *dir = opendir(e2e_scratch);
    cr_assert(dir);
    struct dirent *e;
    while ((e = readdir(dir)))
        cr_expect(!strstr(e->d_name, ".tmp"), "left behind: %s", e->d_name);
    closedir(dir);
}

Test(export_cli, output_is_atomic)
{
    record_sample("fib", "summary");
    e2e_scratch_put("out.json", "old\n");
    /* summary data has no timeline: the old file stays as it was */
    struct e2e_result res;
    int status = e2e_scratch_run_plain(
        (char *const[]){CPROF, "export", "-f", "chrome", "-o", "out.json", "data", NULL},
        &res);
    cr_expect_eq(status, 2, "%s", res.err);
    cr_expect(strstr(res.err, "CPROF_MODE=trace"), "%s", res.err);
    e2e_result_free(&res);
    char path[1024];
    snprintf(path, sizeof path, "%s/out.json", e2e_scratch);
    char *text = e2e_read_file(path, NULL);
    cr_expect_str_eq(text, "old\n");
    free(text);
    expect_no_temporary();
    /* folded works in every mode, and replaces the file */
    char *out = run(0, (char *const[]){CPROF, "export", "-f", "folded", "--weight",
                                       "calls", "-o", "out.json", "data", NULL});
    cr_expect_str_empty(out);
    free(out);
    text = e2e_read_file(path, NULL);
    cr_expect(strstr(text, "main;fib "), "%s", text);
    free(text);
    expect_no_temporary();
}

/* An output that is not a regular file (a FIFO here; /dev/null or
 * /dev/stdout alike) is written in place, never replaced by a renamed
 * temporary file. */
Test(export_cli, output_to_a_fifo_is_written_in_place)
{
    record_sample("fib", "summary");
    char fifo[1024];
    snprintf(fifo, sizeof fifo, "%s/pipe", e2e_scratch);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    char *out = run(0, (char *const[]){"/bin/sh", "-c",
                                       "cat pipe > got & " CPROF
                                       " export -f folded -o pipe data; wait",
                                       NULL});
    free(out);
    struct stat st;
    cr_assert_eq(stat(fifo, &st), 0);
    cr_expect(S_ISFIFO(st.st_mode), "the FIFO was replaced by a file");
    char path[1024];
    snprintf(path, sizeof path, "%s/got", e2e_scratch);
    char *text = e2e_read_file(path, NULL);
    cr_assert(text);
    cr_expect(strstr(text, "main;fib "), "%s", text);
    free(text);
    expect_no_temporary();
}

Test(export_cli, json_and_csv_bundles)
{
    record_sample("fib", "summary");
    char *out = run(0, (char *const[]){CPROF, "export", "-f", "json", "data", NULL});
    e2e_scratch_put("bundle.json", out);
    free(out);
    python_check("json", "import json, sys, os\n"
                         "b = json.load(open(os.path.join(sys.argv[1], 'bundle.json')))\n"
                         "for k in ('run', 'functions', 'edges', 'heap', 'warnings'):\n"
                         "    assert k in b, k\n"
                         "e = [e for e in b['edges'] if e['caller'] == 'main']\n"
                         "assert e and e[0]['callee'] == 'fib', e\n"
                         "print(len(b['functions']), 'functions')\n");
    free(run(
        0, (char *const[]){CPROF, "export", "-f", "csv", "-o", "tables", "data", NULL}));
    char path[1024];
    snprintf(path, sizeof path, "%s/tables", e2e_scratch);
    cr_expect_eq(e2e_count_files(path, ".csv"), 3, "functions, edges and heap");
}
