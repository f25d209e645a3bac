/*
 * `cprof export` on hand-written files (stream.h): the chrome writer's
 * events call by call (recursion, longjmp repairs, frames inherited at a
 * fork, calls closed at the end, the time window and --min-dur, summary
 * data refused), the folded stacks' values for each weight, the json and
 * csv bundles and the atomic -o. One tick is one nanosecond, so an event at
 * tick 20 has ts 0.020 (µs).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "stream.h"

#define FUNCS "f1=0x1100 f2=0x1200 f3=0x1300 "

static void begin(struct tstream *s, const char *mode)
{
    ts_begin(s, mode, 100);
    ts_module(s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(s, 1, 100);
}

static void finish(struct tstream *s, uint64_t end)
{
    ts_thread_end(s, 1, "");
    ts_end(s, 1e9, end);
}

/* A one-thread trace file of events ending at end. */
static char *trace_file(const char *events, uint64_t end)
{
    struct tstream s;
    begin(&s, "trace");
    ts_trace(&s, 1, 0, events);
    finish(&s, end);
    return ts_write_temp(&s, "export");
}

/* Runs `cprof export ARGS... PATH` and returns its status; out and err
 * (allocated) get what it printed. */
static int run_export(const char *path, const char *const *args, char **out, char **err)
{
    char *argv[20] = {"export"};
    int argc = 1;
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    argv[argc++] = (char *)path;
    argv[argc] = NULL;
    return ts_run_cmd(cmd_export, argv, out, err);
}

/* The output of a successful `cprof export ARGS... PATH`; removes path. */
static char *export_ok(char *path, const char *const *args)
{
    char *out, *err;
    int status = run_export(path, args, &out, &err);
    cr_assert_eq(status, 0, "status %d: %s", status, err);
    free(err);
    unlink(path);
    free(path);
    return out;
}

static size_t count(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* Expects the chrome output to hold an X event with this ts, dur (µs,
 * as written) and depth, and extra (e.g. ",\"closed\":\"longjmp\"") after
 * its depth. */
static void expect_event(const char *out, const char *cat, const char *ts,
                         const char *dur, int depth, const char *extra)
{
    char want[200];
    snprintf(want, sizeof want,
             "\"cat\":\"%s\",\"ts\":%s,\"dur\":%s,\"pid\":100,\"tid\":100,"
             "\"args\":{\"depth\":%d%s}}",
             cat, ts, dur, depth, extra);
    cr_expect(strstr(out, want), "no %s in:\n%s", want, out);
}

static const char *const chrome[] = {"--format", "chrome", NULL};

Test(export, chrome_recursion)
{
    char *out = export_ok(trace_file(FUNCS "@0 e1 @10 e2 @20 e2 @30 e2 @35 x @40 x "
                                           "@60 x @100 x",
                                     120),
                          chrome);
    cr_expect(strstr(out, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":["), "%s", out);
    cr_expect_eq(count(out, "\"ph\":\"X\""), 4, "%s", out);
    expect_event(out, "call", "0.030", "0.005", 3, "");
    expect_event(out, "call", "0.020", "0.020", 2, "");
    expect_event(out, "call", "0.010", "0.050", 1, "");
    expect_event(out, "call", "0.000", "0.100", 0, "");
    cr_expect(strstr(out, "\"name\":\"process_name\",\"pid\":100"), "%s", out);
    cr_expect(strstr(out, "\"name\":\"thread_name\",\"pid\":100,\"tid\":100"), "%s", out);
    free(out);
}

Test(export, chrome_longjmp_and_end)
{
    /* two frames left by longjmp at 30, one closed at the end at 90 */
    char *out = export_ok(trace_file(FUNCS "@0 e1 @10 e2 @20 e3 @30 u1:2 @40 e2 @50 x "
                                           "@90 u2:1",
                                     100),
                          chrome);
    cr_expect_eq(count(out, "\"ph\":\"X\""), 4, "%s", out);
    expect_event(out, "call", "0.020", "0.010", 2, ",\"closed\":\"longjmp\"");
    expect_event(out, "call", "0.010", "0.020", 1, ",\"closed\":\"longjmp\"");
    expect_event(out, "call", "0.040", "0.010", 1, "");
    expect_event(out, "call", "0.000", "0.090", 0, ",\"closed\":\"end\"");
    free(out);
}

Test(export, chrome_cut_short)
{
    struct tstream s;
    begin(&s, "trace");
    ts_trace(&s, 1, 0, FUNCS "@0 e1 @10 e2 @25 x");
    char *path = ts_write_temp(&s, "export");
    char *out, *err;
    cr_expect_eq(run_export(path, chrome, &out, &err), 2, "%s", err);
    cr_expect(strstr(err, "cut short"), "%s", err);
    expect_event(out, "call", "0.010", "0.015", 1, "");
    expect_event(out, "call", "0.000", "0.025", 0, ",\"closed\":\"cut\"");
    unlink(path);
    free(path);
    free(out);
    free(err);
}

Test(export, chrome_fork_inherited)
{
    /* a forked child starts inside main and f2: the parent counted them */
    char *out = export_ok(trace_file(FUNCS "i1,2 @10 e3 @20 x @30 x @40 x", 50), chrome);
    cr_expect_eq(count(out, "\"cat\":\"call\""), 1, "%s", out);
    cr_expect_eq(count(out, "\"cat\":\"inherited\""), 2, "%s", out);
    expect_event(out, "call", "0.010", "0.010", 2, "");
    expect_event(out, "inherited", "0.000", "0.030", 1, "");
    expect_event(out, "inherited", "0.000", "0.040", 0, "");
    free(out);
}

Test(export, chrome_window_and_min_dur)
{
    const char *events = FUNCS "@0 e1 @10 e2 @15 x @20 e2 @30 x @50 e3 @52 x @100 x";
    /* overlapping [18ns, 40ns]: main and the second f2, whole */
    char *out = export_ok(trace_file(events, 120),
                          (const char *const[]){"--format", "chrome", "--from", "18ns",
                                                "--to", "0.04us", NULL});
    cr_expect_eq(count(out, "\"ph\":\"X\""), 2, "%s", out);
    expect_event(out, "call", "0.020", "0.010", 1, "");
    expect_event(out, "call", "0.000", "0.100", 0, "");
    free(out);
    out = export_ok(trace_file(events, 120),
                    (const char *const[]){"--format", "chrome", "--min-dur", "6", NULL});
    cr_expect_eq(count(out, "\"ph\":\"X\""), 2, "%s", out);
    expect_event(out, "call", "0.020", "0.010", 1, "");
    free(out);
}

Test(export, chrome_tid_filter)
{
    struct tstream s;
    begin(&s, "trace");
    ts_thread(&s, 2, 101);
    ts_trace(&s, 1, 0, FUNCS "@0 e1 @10 x");
    ts_trace(&s, 2, 0, FUNCS "@5 e2 @8 e3 @9 x @20 x");
    ts_thread_end(&s, 2, "");
    finish(&s, 30);
    char *out = export_ok(ts_write_temp(&s, "export"),
                          (const char *const[]){"-f", "chrome", "--tid", "101", NULL});
    cr_expect_eq(count(out, "\"ph\":\"X\""), 2, "%s", out);
    cr_expect_eq(count(out, "\"tid\":101"), 3, "two calls and the thread's name:\n%s",
                 out);
    cr_expect(!strstr(out, "\"tid\":100"), "%s", out);
    free(out);
}

Test(export, chrome_heap_counter)
{
    char *out =
        export_ok(trace_file(FUNCS "@0 e1 @10 a64:64 @20 r64:0 @30 x", 40), chrome);
    cr_expect(strstr(out, "{\"ph\":\"C\",\"name\":\"heap\",\"ts\":0.010,\"pid\":100,"
                          "\"tid\":100,\"args\":{\"bytes\":64}}"),
              "%s", out);
    cr_expect(strstr(out, "\"ts\":0.020,\"pid\":100,\"tid\":100,\"args\":{\"bytes\":0}}"),
              "%s", out);
    free(out);
}

Test(export, chrome_refuses_summary)
{
    struct tstream s;
    begin(&s, "summary");
    ts_node(&s, 1, 1, 0, 0x1100, 1, 100, 100, 100, 1);
    finish(&s, 200);
    char *path = ts_write_temp(&s, "export");
    char *out, *err;
    char dest[256];
    snprintf(dest, sizeof dest, "%s.json", path);
    cr_expect_eq(run_export(path, (const char *const[]){"-f", "chrome", "-o", dest, NULL},
                            &out, &err),
                 2);
    cr_expect(strstr(err, "summary mode") && strstr(err, "CPROF_MODE=trace"), "%s", err);
    cr_expect_eq(access(dest, F_OK), -1, "a failed export left %s", dest);
    unlink(path);
    free(path);
    free(out);
    free(err);
}

/* A summary file: main (self 40) calls f2 twice (self 30) and f3 (self
 * 20, allocates 64 bytes), f3 again from f2 (self 10). */
static char *summary_file(void)
{
    struct tstream s;
    begin(&s, "summary");
    uint64_t none[5] = {0}, alloc[5] = {1, 64, 0, 0, 64};
    ts_node_heap(&s, 1, 1, 0, 0x1100, 1, 100, none);
    ts_node_heap(&s, 1, 2, 1, 0x1200, 2, 40, none);
    ts_node_heap(&s, 1, 3, 2, 0x1300, 1, 10, none);
    ts_node_heap(&s, 1, 4, 1, 0x1300, 1, 20, alloc);
    finish(&s, 200);
    return ts_write_temp(&s, "export");
}

/* Each line "a;b;c N" of folded into names and values; returns the lines. */
static size_t folded_lines(char *out, char **paths, unsigned long long *values)
{
    size_t n = 0;
    for (char *save, *line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *sp = strrchr(line, ' ');
        cr_assert(sp, "no value in \"%s\"", line);
        *sp = 0;
        paths[n] = line;
        values[n++] = strtoull(sp + 1, NULL, 10);
    }
    return n;
}

/* The value of the line whose path is the names of fns (link addresses). */
static unsigned long long folded_value(char **paths, const unsigned long long *values,
                                       size_t n, const char *want)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(paths[i], want))
            return values[i];
    cr_assert_fail("no path %s", want);
    return 0;
}

#define P1 "prog+0x1100"
#define P2 "prog+0x1200"
#define P3 "prog+0x1300"

Test(export, folded_weights)
{
    char *paths[8];
    unsigned long long values[8];
    char *out = export_ok(summary_file(), (const char *const[]){"-f", "folded", NULL});
    size_t n = folded_lines(out, paths, values);
    cr_expect_eq(n, 4);
    cr_expect_eq(folded_value(paths, values, n, P1), 40);
    cr_expect_eq(folded_value(paths, values, n, P1 ";" P2), 30);
    cr_expect_eq(folded_value(paths, values, n, P1 ";" P2 ";" P3), 10);
    cr_expect_eq(folded_value(paths, values, n, P1 ";" P3), 20);
    free(out);
    out = export_ok(summary_file(),
                    (const char *const[]){"-f", "folded", "--weight", "calls", NULL});
    n = folded_lines(out, paths, values);
    cr_expect_eq(folded_value(paths, values, n, P1 ";" P2), 2);
    free(out);
    out = export_ok(summary_file(), (const char *const[]){"-f", "folded", "--weight",
                                                          "alloc_bytes", NULL});
    n = folded_lines(out, paths, values);
    cr_expect_eq(n, 1, "paths of no value are left out");
    cr_expect_eq(folded_value(paths, values, n, P1 ";" P3), 64);
    free(out);
}

Test(export, folded_recursion_from_trace)
{
    char *paths[8];
    unsigned long long values[8];
    char *out = export_ok(trace_file(FUNCS "@0 e1 @10 e2 @20 e2 @30 x @40 x @100 x", 120),
                          (const char *const[]){"-f", "folded", NULL});
    size_t n = folded_lines(out, paths, values);
    cr_expect_eq(n, 3);
    cr_expect_eq(folded_value(paths, values, n, P1), 70);
    cr_expect_eq(folded_value(paths, values, n, P1 ";" P2), 20);
    cr_expect_eq(folded_value(paths, values, n, P1 ";" P2 ";" P2), 10);
    free(out);
}

Test(export, json_bundle)
{
    char *out = export_ok(summary_file(), (const char *const[]){"-f", "json", NULL});
    const char *keys[] = {"\"run\": {", "\"functions\": [", "\"edges\": [", "\"heap\": {",
                          "\"warnings\": ["};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        cr_expect(strstr(out, keys[i]), "no %s in:\n%s", keys[i], out);
    cr_expect(strstr(out, "\"caller\": \"" P1 "\", \"callee\": \"" P2 "\", \"calls\": 2"),
              "%s", out);
    cr_expect(!strstr(out, "\"lines\": ["), "no line data, no lines table:\n%s", out);
    free(out);
}

Test(export, csv_directory_and_atomic_output)
{
    char *path = summary_file(), *out, *err;
    cr_expect_eq(run_export(path, (const char *const[]){"-f", "csv", NULL}, &out, &err),
                 1);
    cr_expect(strstr(err, "-o DIR"), "%s", err);
    free(out);
    free(err);
    char dir[] = "/tmp/cprof-export-XXXXXX";
    cr_assert(mkdtemp(dir));
    cr_expect_eq(
        run_export(path, (const char *const[]){"-f", "csv", "-o", dir, NULL}, &out, &err),
        0, "%s", err);
    free(out);
    free(err);
    const char *files[] = {"functions.csv", "edges.csv", "heap.csv"};
    for (size_t i = 0; i < 3; i++) {
        char f[128];
        snprintf(f, sizeof f, "%s/%s", dir, files[i]);
        cr_expect_eq(access(f, R_OK), 0, "no %s", f);
        unlink(f);
    }
    char fold[128];
    snprintf(fold, sizeof fold, "%s/out.folded", dir);
    cr_expect_eq(run_export(path, (const char *const[]){"-f", "folded", "-o", fold, NULL},
                            &out, &err),
                 0, "%s", err);
    cr_expect_str_empty(out);
    struct stat st;
    cr_expect(stat(fold, &st) == 0 && st.st_size > 0);
    unlink(fold);
    cr_expect_eq(rmdir(dir), 0, "files left behind in %s", dir);
    unlink(path);
    free(path);
    free(out);
    free(err);
}

Test(export, bad_command_lines)
{
    const char *const *bad[] = {
        (const char *const[]){NULL},
        (const char *const[]){"-f", "svg", NULL},
        (const char *const[]){"-f", "chrome", "--from", "soon", NULL},
        (const char *const[]){"-f", "folded", "--min-dur", "1ms", NULL},
        (const char *const[]){"-f", "folded", "--weight", "mass", NULL},
        (const char *const[]){"-f", "chrome", "--from", "2s", "--to", "1s", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *out, *err;
        cr_expect_eq(run_export("/nonexistent.cprof", bad[i], &out, &err), 1,
                     "case %zu: %s", i, err);
        free(out);
        free(err);
    }
}
