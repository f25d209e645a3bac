/*
 * `cprof audit` on hand-written files: the enter/exit balance, each kind
 * of loss failing the command with status 3, repairs that keep the counts
 * exact passing, the clock facts, and expectation files (exact counts,
 * ranges, bounds, comments, malformed lines, the mismatch listing).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "commands.h"
#include "cprof_format.h"
#include "model.h"
#include "fixture.h"
#include "stream.h"

#define FUNCS "f1=0x1100 f2=0x1200 "

TestSuite(audit, .init = fx_init, .fini = fx_fini);

static void begin(struct tstream *s, const char *mode)
{
    ts_begin(s, mode, 100);
    ts_module(s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(s, 1, 100);
}

/* Loads s into the model and works out the audit. */
static void load(struct tstream *s)
{
    ts_load(&fx_model, s, "test.cprof");
    audit_build(&fx_model, &fx_audit);
}

/* Runs `cprof audit ARGS... FILE` on s written to a temporary file. */
static int run_audit(struct tstream *s, const char *const *args, char **out, char **err)
{
    char *path = ts_write_temp(s, "audit");
    char *argv[16] = {"audit"};
    int argc = 1;
    for (; args && args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    argv[argc++] = path;
    argv[argc] = NULL;
    int status = ts_run_cmd(cmd_audit, argv, out, err);
    unlink(path);
    free(path);
    return status;
}

/* Runs `cprof audit ARGS... FILE` on s and expects status, each of wants
 * in its stdout and want_err (NULL: anything) in its stderr. */
static void check_audit(struct tstream *s, const char *const *args, int status,
                        const char *const *wants, const char *want_err)
{
    char *out, *err;
    int got = run_audit(s, args, &out, &err);
    cr_expect_eq(got, status, "status %d, expected %d:\n%s%s", got, status, out, err);
    for (size_t i = 0; wants && wants[i]; i++)
        cr_expect(strstr(out, wants[i]), "no \"%s\" in:\n%s", wants[i], out);
    if (want_err)
        cr_expect(strstr(err, want_err), "no \"%s\" in:\n%s", want_err, err);
    free(out);
    free(err);
}

static int audit_status_of(struct tstream *s)
{
    char *out, *err;
    int status = run_audit(s, NULL, &out, &err);
    free(out);
    free(err);
    return status;
}

/* A forked child's file whose parent has no file among the data: its
 * parent's calls are missing, which audit counts as a loss and every view
 * warns about; with the parent's file beside it, nothing is missing. */
Test(audit, a_child_without_its_parent_is_a_loss)
{
    struct tstream s;
    ts_begin_forked(&s, "summary", 101, 100);
    ts_module(&s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(&s, 1, 101);
    ts_node(&s, 1, 1, 0, 0x1100, 1, 100, 100, 100, 1);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 100);
    char *child = ts_write_temp(&s, "child");
    char *out, *err;
    char *argv[] = {"audit", child, NULL};
    int status = ts_run_cmd(cmd_audit, argv, &out, &err);
    cr_expect_eq(status, CPROF_EXIT_FOUND, "status %d:\n%s%s", status, out, err);
    cr_expect(strstr(out, "forked by process 100, which has no file in the data"), "%s",
              out);
    free(out);
    free(err);

    ts_begin(&s, "summary", 100);
    ts_module(&s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(&s, 1, 100);
    ts_node(&s, 1, 1, 0, 0x1100, 1, 100, 100, 100, 1);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 100);
    char *parent = ts_write_temp(&s, "parent");
    char *both[] = {"audit", child, parent, NULL};
    status = ts_run_cmd(cmd_audit, both, &out, &err);
    cr_expect_eq(status, CPROF_EXIT_OK, "status %d:\n%s%s", status, out, err);
    cr_expect(!strstr(out, "no file in the data"), "%s", out);
    free(out);
    free(err);
    unlink(child);
    unlink(parent);
    free(child);
    free(parent);
}

/* A summary file, up to its end record, of one completed call and a thread
 * end with stats. */
static void one_call(struct tstream *s, const char *stats)
{
    begin(s, "summary");
    ts_node(s, 1, 1, 0, 0x1100, 1, 100, 100, 100, 1);
    ts_thread_end(s, 1, stats);
}

/* main calls a twice; one call of a is left by longjmp, repaired. */
static void repaired_run(struct tstream *s, const char *mode)
{
    begin(s, mode);
    ts_trace(s, 1, 0, FUNCS "@0 e1 @10 e2 @20 x @30 e2 @40 u1:1 @50 x");
    ts_thread_end(s, 1, "repaired_longjmp=1");
    ts_end(s, 1e9, 50);
}

Test(audit, balance_counts_calls_completed_and_open_frames)
{
    struct tstream s;
    begin(&s, "summary");
    ts_node(&s, 1, 1, 0, 0x1100, 1, 100, 0, 0, 0);
    ts_node(&s, 1, 2, 1, 0x1200, 5, 50, 5, 20, 4);
    ts_thread_end(&s, 1, "closed_at_end=2");
    ts_end(&s, 1e9, 100);
    load(&s);
    cr_assert_eq(fx_audit.nthreads, 1);
    const struct audit_thread *t = &fx_audit.threads[0];
    cr_expect_eq(t->calls, 6);
    cr_expect_eq(t->completed, 4);
    cr_expect_eq(t->open_at_end, 2);
    cr_expect(t->balanced);
    cr_expect_eq(t->lost, 0);
    cr_expect_eq(fx_audit.lossy_procs, 0);
}

Test(audit, unbalanced_thread_is_reported)
{
    struct tstream s;
    begin(&s, "summary");
    ts_node(&s, 1, 1, 0, 0x1100, 3, 100, 5, 20, 1);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 100);
    load(&s);
    cr_expect(!fx_audit.threads[0].balanced);
}

Test(audit, repairs_keep_status_zero)
{
    struct tstream s;
    repaired_run(&s, "trace");
    check_audit(&s, NULL, 0,
                (const char *[]){"exact: nothing lost", "1 after longjmp", NULL}, NULL);
}

Test(audit, repairs_are_counted_but_not_losses)
{
    struct tstream s;
    repaired_run(&s, "trace");
    load(&s);
    cr_expect_eq(fx_audit.threads[0].calls, 3);
    cr_expect_eq(fx_audit.threads[0].completed, 3);
    cr_expect(fx_audit.threads[0].balanced);
    cr_expect_eq(fx_audit.repaired, 1);
    cr_expect_eq(fx_audit.lost, 0);
}

/* Each counter that says something was lost fails the audit. */
Test(audit, every_thread_loss_fails_with_status_3)
{
    static const char *const losses[] = {
        CPROF_STAT_DROPPED_REENTRANT "=2", CPROF_STAT_DROPPED_DEPTH "=1",
        CPROF_STAT_DROPPED_NODES "=1",     CPROF_STAT_UNMATCHED_EXITS "=1",
        CPROF_STAT_LINES_UNMATCHED "=3",   CPROF_STAT_LINES_DROPPED "=4",
    };
    for (size_t i = 0; i < sizeof losses / sizeof *losses; i++) {
        struct tstream s;
        one_call(&s, losses[i]);
        ts_end(&s, 1e9, 100);
        cr_expect_eq(audit_status_of(&s), AUDIT_EXIT_LOST, "%s", losses[i]);
    }
}

Test(audit, trace_drops_fail)
{
    struct tstream s;
    begin(&s, "trace");
    ts_trace(&s, 1, 0, FUNCS "@0 e1 @5 d7 @10 x");
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 10);
    check_audit(&s, (const char *[]){"--format", "csv", NULL}, AUDIT_EXIT_LOST,
                (const char *[]){"dropped_events", NULL}, "7 events were dropped");
}

Test(audit, threads_lost_and_kills_fail)
{
    struct tstream s;
    one_call(&s, "");
    ts_end_run(&s, 1e9, 100, "exit", 0, 3, 2);
    cr_expect_eq(audit_status_of(&s), AUDIT_EXIT_LOST);

    one_call(&s, "");
    ts_end_run(&s, 1e9, 100, "signal", 11, 1, 0);
    check_audit(&s, (const char *[]){"--format", "json", NULL}, AUDIT_EXIT_LOST,
                (const char *[]){"\"killed\": true", "\"signal\": 11",
                                 "\"audit\": {\"exact\": false, \"status\": 3", NULL},
                NULL);
}

Test(audit, heap_drops_fail)
{
    struct tstream s;
    one_call(&s, "");
    const uint64_t heap[5] = {0};
    ts_end_heap_dropped(&s, 1e9, 100, heap, 5);
    cr_expect_eq(audit_status_of(&s), AUDIT_EXIT_LOST);
}

Test(audit, cut_short_file_fails)
{
    struct tstream s;
    begin(&s, "trace");
    ts_trace(&s, 1, 0, FUNCS "@0 e1 @10 e2");
    check_audit(&s, NULL, CPROF_EXIT_DATA,
                (const char *[]){"cut short", "NOT EXACT", NULL}, NULL);
}

Test(audit, clock_facts)
{
    struct tstream s;
    begin(&s, "trace");
    ts_clock(&s, 0, 0);
    ts_trace(&s, 1, 0, FUNCS "@0 e1 @10 x");
    ts_clock(&s, 1000200000, 1000000000);
    ts_thread_end(&s, 1, "");
    ts_end_run(&s, 1.0001e9, 1000200000, "exit", 0, 1, 0);
    load(&s);
    const struct audit_process *p = &fx_audit.procs[0];
    cr_expect_float_eq(p->proc->header_ticks_per_sec, 1e9, 1e-3);
    cr_expect_float_eq(p->proc->end_ticks_per_sec, 1.0001e9, 1e-3);
    cr_expect_float_eq(p->end_drift_ppm, 100, 1e-6);
    cr_expect_float_eq(p->clock_ticks_per_sec, 1.0002e9, 1e-3);
    cr_expect_float_eq(p->clock_drift_ppm, 200, 1e-6);
    cr_expect_eq(p->proc->threads_seen, 1);
}

Test(audit, clock_drift_unknown_without_records)
{
    struct tstream s;
    repaired_run(&s, "summary");
    load(&s);
    cr_expect(isnan(fx_audit.procs[0].clock_drift_ppm));
    cr_expect_eq(fx_audit.procs[0].clock_ticks_per_sec, 0);
}

/* ---- expectations ---- */

static struct audit_expect parsed;

static int parse(const char *text, char *msg, size_t len)
{
    memset(&parsed, 0, sizeof parsed);
    return audit_expect_parse("exp.txt", text, &parsed, msg, len);
}

Test(audit, expect_exact_range_bounds_and_comments)
{
    char msg[256] = "";
    cr_assert_eq(parse("# counts\n\nmain 1\nfib 10..20  # a range\n"
                       "leaf >= 5\nleaf <=7\n!exit 3\nhelper@b.c 2\r\n",
                       msg, sizeof msg),
                 0, "%s", msg);
    cr_assert_eq(parsed.count, 5);
    const struct audit_check *c = parsed.checks;
    cr_expect_str_eq(c[0].func, "main");
    cr_expect(c[0].lo == 1 && c[0].hi == 1 && c[0].line == 3);
    cr_expect(c[1].lo == 10 && c[1].hi == 20);
    cr_expect_str_eq(c[1].want, "10..20");
    cr_expect(c[2].lo == 5 && c[2].hi == UINT64_MAX);
    cr_expect(c[3].lo == 0 && c[3].hi == 7);
    cr_expect_str_eq(c[4].func, "helper");
    cr_expect_str_eq(c[4].file, "b.c");
    cr_expect(audit_check_ok(&c[1], 10) && audit_check_ok(&c[1], 20));
    cr_expect(!audit_check_ok(&c[1], 9) && !audit_check_ok(&c[1], 21));
    cr_expect(audit_check_ok(&c[2], 5) && !audit_check_ok(&c[2], 4));
    cr_expect(audit_check_ok(&c[3], 7) && !audit_check_ok(&c[3], 8));
    audit_expect_free(&parsed);
}

Test(audit, expect_malformed_lines_name_file_and_line)
{
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"main 1\nfib\n", "exp.txt:2: want `function count` (no count)"},
        {"fib ten\n", "exp.txt:1: want `function count`"},
        {"fib 20..10\n", "exp.txt:1: the range is empty"},
        {"fib 1 2\n", "exp.txt:1: unexpected text after the count"},
        {"fib >= x\n", "exp.txt:1: want a count after >= or <="},
        {"fib 5..\n", "exp.txt:1: want a count after .."},
        {"@a.c 5\n", "exp.txt:1: want a function name"},
        {"fib 99999999999999999999999\n", "exp.txt:1: want `function count`"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char msg[256] = "";
        cr_expect_eq(parse(bad[i].text, msg, sizeof msg), -1, "%s", bad[i].text);
        cr_expect(strstr(msg, bad[i].msg), "%s: %s", bad[i].text, msg);
        audit_expect_free(&parsed);
    }
}

/* Writes text to a new file from template path ("...XXXXXX"). */
static void temp_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* A run of main (1 call) and a (2 calls), written as an expectation file,
 * then checked against it and against an edited copy. */
Test(audit, write_expect_then_expect_and_mismatches)
{
    struct tstream s;
    repaired_run(&s, "trace");
    char *out, *err;
    cr_assert_eq(run_audit(&s, (const char *[]){"--write-expect", "-", NULL}, &out, &err),
                 0, "%s", err);
    cr_expect(!strncmp(out, "# Exact calls per function", 26), "%s", out);
    /* the synthetic module is not on disk: functions are named by offset */
    char *first = strchr(out, '\n');
    while (first && first[1] == '#')
        first = strchr(first + 1, '\n');
    cr_assert(first, "%s", out);
    char name1[64], name2[64];
    unsigned long long calls1, calls2;
    cr_assert_eq(sscanf(first + 1, "%63s %llu %63s %llu", name1, &calls1, name2, &calls2),
                 4, "%s", out);

    char good[] = "/tmp/cprof-expect-XXXXXX";
    temp_file(good, out);
    repaired_run(&s, "trace");
    char *out2, *err2;
    cr_expect_eq(run_audit(&s, (const char *[]){"--expect", good, NULL}, &out2, &err2), 0,
                 "%s%s", out2, err2);
    cr_expect(strstr(out2, "all 2 expectations"), "%s", out2);
    free(out2);
    free(err2);

    char edited[512];
    snprintf(edited, sizeof edited,
             "%s %llu\n%s 5..9\n%s >= 1\nmissing 3\nmissing <= 0\n", name1, calls1 + 1,
             name2, name2);
    unlink(good);
    strcpy(good, "/tmp/cprof-expect-XXXXXX");
    temp_file(good, edited);
    repaired_run(&s, "trace");
    cr_expect_eq(run_audit(&s, (const char *[]){"--expect", good, NULL}, &out2, &err2),
                 AUDIT_EXIT_MISMATCH, "%s%s", out2, err2);
    char want[256];
    snprintf(want, sizeof want, "mismatch: %s expected %llu, got %llu (%s:1)", name1,
             calls1 + 1, calls1, good);
    cr_expect(strstr(out2, want), "%s\nnot in:\n%s", want, out2);
    snprintf(want, sizeof want, "mismatch: %s expected 5..9, got %llu", name2, calls2);
    cr_expect(strstr(out2, want), "%s\nnot in:\n%s", want, out2);
    cr_expect(strstr(out2, "mismatch: missing expected 3, got 0"), "%s", out2);
    cr_expect(!strstr(out2, "missing expected <= 0"), "%s", out2);
    cr_expect(strstr(out2, "3 of 5 expectations"), "%s", out2);
    free(out2);
    free(err2);

    repaired_run(&s, "trace");
    cr_expect_eq(run_audit(&s,
                           (const char *[]){"--expect", good, "--format", "csv", NULL},
                           &out2, &err2),
                 AUDIT_EXIT_MISMATCH);
    cr_expect(strstr(out2, "name,file,line,expected,min,max,calls,ok\n"), "%s", out2);
    cr_expect(strstr(out2, "missing,,4,3,3,3,0,false\n"), "%s", out2);
    snprintf(want, sizeof want, ",5..9,5,9,%llu,false\n", calls2);
    cr_expect(strstr(out2, want), "%s", out2);
    free(out2);
    free(err2);
    unlink(good);
    free(out);
    free(err);
}

Test(audit, malformed_expect_file_is_a_usage_error)
{
    char path[] = "/tmp/cprof-expect-XXXXXX";
    temp_file(path, "main 1\nmain one\n");
    struct tstream s;
    repaired_run(&s, "trace");
    char want[128];
    snprintf(want, sizeof want, "cprof: audit: %s:2: want `function count`", path);
    check_audit(&s, (const char *[]){"--expect", path, NULL}, CPROF_EXIT_USAGE, NULL,
                want);
    unlink(path);
}
