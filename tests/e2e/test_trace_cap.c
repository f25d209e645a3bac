/*
 * Bounded output for long runs (issue 7): the trace size cap
 * (CPROF_TRACE_MAX) and summary mode's size bound.
 *
 * A trace that reaches its cap stops cleanly: the program runs on and ends
 * as it would without cprof, the file stays valid msgpack to its last byte
 * (read with msgpack-c, an independent decoder), the calls it holds replay
 * into exact counts of the run's first part, the calls left out are
 * counted, and `cprof report` and `cprof audit` say so (audit with its
 * loss status). The counts in the file plus the calls left out give the
 * run's exact call count. Bad CPROF_TRACE_MAX values are warned about in
 * the file and the default is used.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "e2e_audited.h"
#include "e2e_mp.h"
#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"

TestSuite(trace_cap, .init = e2e_scratch_init, .fini = e2e_scratch_fini, .timeout = 240);

/* 100 batches of 10,000 calls of work: 1,000,101 calls with main, a few
 * MB of trace. Prints a checksum and exits 3. */
#define CALLS_SRC                                                                        \
    "#include <stdio.h>\n"                                                               \
    "static volatile long sink;\n"                                                       \
    "__attribute__((noinline)) void work(long i) { sink += i; }\n"                       \
    "__attribute__((noinline)) void batch(long n) {\n"                                   \
    "    for (long i = 0; i < n; i++) work(i); }\n"                                      \
    "int main(void) { for (int i = 0; i < 100; i++) batch(10000);\n"                     \
    "    printf(\"sum %ld\\n\", sink); return 3; }\n"
#define CALLS_TOTAL (100LL * 10000 + 100 + 1)

/* What the tests read of a .cprof file with msgpack-c. */
struct cap_file {
    long trace_max, trace_stop_ticks, end_ticks;
    long trace_bytes, stopped_calls;
    int ends, traces;
    char warnings[1024];
};

static void cap_header(const msgpack_object *h, void *ctx)
{
    struct cap_file *f = ctx;
    e2e_mp_config_warnings(h, f->warnings, sizeof f->warnings);
}

static void cap_record(const msgpack_object *r, void *ctx)
{
    struct cap_file *f = ctx;
    uint64_t type = e2e_mp_uint_at(r, 0);
    f->traces += type == E2E_MP_TRACE;
    const msgpack_object *stats = e2e_mp_stats(r);
    if (!stats)
        return;
    if (type == E2E_MP_END) {
        f->ends++;
        f->trace_max = e2e_mp_get_uint(stats, "trace_max");
        f->trace_stop_ticks = e2e_mp_get_uint(stats, "trace_stop_ticks");
        f->end_ticks = e2e_mp_get_uint(stats, "end_ticks");
    } else {
        f->trace_bytes += e2e_mp_get_uint(stats, "trace_bytes");
        f->stopped_calls += e2e_mp_get_uint(stats, "trace_stopped_calls");
    }
}

static void read_cap_file(const char *path, void *ctx)
{
    struct cap_file *f = ctx;
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    e2e_mp_read_file(path, cap_header, cap_record, f);
}

/* Reads the only .cprof file of run r. */
static void read_run(const struct e2e_audited *r, struct cap_file *f, long *size)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", e2e_scratch, r->data);
    memset(f, 0, sizeof *f);
    cr_assert_eq(e2e_each_file(dir, ".cprof", read_cap_file, f), 1, "%s: one file", dir);
    if (size) {
        char cmd[4300];
        snprintf(cmd, sizeof cmd, "du -b %s/*.cprof", dir);
        FILE *p = popen(cmd, "r");
        cr_assert(p);
        cr_assert_eq(fscanf(p, "%ld", size), 1);
        pclose(p);
    }
}

/* `cprof <cmd> <data>` in text, its status; out and err to free (the
 * warnings end out when it is the text). */
static int cprof_text(const char *cmd, const char *data, char **out, char **err)
{
    struct e2e_result res;
    char *argv[] = {CPROF, (char *)cmd, (char *)data, NULL};
    int status = e2e_scratch_run_plain(argv, &res);
    *out = strdup(res.out);
    *err = strdup(res.err);
    e2e_result_free(&res);
    return status;
}

/* Removes run r's data, for the next run of a loop. */
static void drop_run(struct e2e_audited *r)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", e2e_scratch, r->data);
    e2e_remove_tree(dir);
    e2e_audited_free(r);
}

static void expect_program_unchanged(const struct e2e_audited *r)
{
    char how[128];
    cr_assert(WIFEXITED(r->prog.status) && WEXITSTATUS(r->prog.status) == 3,
              "the program ended with %s: %s", e2e_status_str(&r->prog, how, sizeof how),
              r->prog.err);
    cr_expect_str_eq(r->prog.out, "sum 4999500000\n");
}

/* A 64 KiB cap on a run that traces megabytes: the first part replays
 * exactly, the rest is counted, both commands say so. */
Test(trace_cap, small_cap_stops_cleanly_and_counts_what_it_left_out)
{
    e2e_scratch_build("calls", CALLS_SRC, (char *[]){"-O1", "-g", NULL});
    struct e2e_audited r;
    e2e_audited_run(&r, "calls", NULL, "trace", (char *[]){"CPROF_TRACE_MAX=64K", NULL});
    expect_program_unchanged(&r);
    struct cap_file f;
    long size;
    read_run(&r, &f, &size);
    cr_expect_eq(f.ends, 1);
    cr_expect_eq(f.trace_max, 64 * 1024);
    cr_expect_gt(f.trace_stop_ticks, 0, "no trace_stop_ticks in the end record");
    cr_expect_leq(f.trace_stop_ticks, f.end_ticks);
    cr_expect_gt(f.traces, 0, "no chunk written before the cap");
    cr_expect_leq(f.trace_bytes, 64 * 1024);
    cr_expect_lt(size, 64 * 1024 + 16 * 1024, "file of %ld bytes", size);
    cr_expect_gt(f.stopped_calls, 0);

    /* the chunks before the cap replay into the run's first calls */
    long long main_calls = e2e_audited_calls(&r, "main");
    long long batches = e2e_audited_calls(&r, "batch");
    long long works = e2e_audited_calls(&r, "work");
    cr_expect_eq(main_calls, 1);
    cr_expect_geq(batches, 1);
    cr_expect_lt(batches, 100);
    cr_expect(works > (batches - 1) * 10000 && works <= batches * 10000,
              "%lld calls of work in %lld batches", works, batches);
    cr_expect_eq(main_calls + batches + works + f.stopped_calls, CALLS_TOTAL,
                 "%lld + %lld + %lld recorded, %ld left out", main_calls, batches, works,
                 f.stopped_calls);

    /* audit: a loss, with its status and the facts */
    cr_expect_eq(r.audit_status, 3, "audit status %d", r.audit_status);
    cr_expect_eq(e2e_audited_sum(&r, "trace_stopped_calls"), f.stopped_calls);
    cr_expect_eq(e2e_audited_sum(&r, "trace_max"), 65536);
    cr_expect_gt(e2e_audited_sum(&r, "trace_stopped_ns"), 0);
    char *out, *err;
    cr_expect_eq(cprof_text("audit", r.data, &out, &err), 3);
    cr_expect(strstr(out, "trace stopped at 64.0 KiB (CPROF_TRACE_MAX) after "),
              "audit:\n%s", out);
    cr_expect(strstr(out, "calls after it left out (a loss)"), "audit:\n%s", out);
    free(out);
    free(err);

    /* report: a warning with the size, the times and the count */
    cr_expect_eq(cprof_text("report", r.data, &out, &err), 0, "%s", err);
    char want[160];
    snprintf(want, sizeof want, "; the %ld calls it left out are not in this report",
             f.stopped_calls);
    cr_expect(strstr(out, "warning: calls["), "report:\n%s", out);
    cr_expect(strstr(out, "trace stopped at 64.0 KiB (CPROF_TRACE_MAX) after "),
              "report:\n%s", out);
    cr_expect(strstr(out, " ms of "), "report:\n%s", out);
    cr_expect(strstr(out, want), "no \"%s\" in:\n%s", want, out);
    free(out);
    free(err);
    e2e_audited_free(&r);
}

/* Threads running at full speed when the cap is reached keep running; the
 * file stays valid and every call is in it or counted as left out. */
Test(trace_cap, threads_keep_running_past_the_cap)
{
    e2e_scratch_build(
        "threads",
        "#include <pthread.h>\n#include <stdio.h>\n"
        "static volatile long sink;\n"
        "__attribute__((noinline)) void work(long i) { sink += i; }\n"
        "void *worker(void *arg) { for (long i = 0; i < 200000; i++) work(i);\n"
        "    return arg; }\n"
        "int main(void) { pthread_t t[8];\n"
        "    for (int i = 0; i < 8; i++) if (pthread_create(&t[i], 0, worker, 0)) return "
        "1;\n"
        "    for (int i = 0; i < 8; i++) pthread_join(t[i], 0);\n"
        "    puts(\"joined\"); return 0; }\n",
        (char *[]){"-O1", "-g", NULL});
    struct e2e_audited r;
    e2e_audited_run(&r, "threads", NULL, "trace",
                    (char *[]){"CPROF_TRACE_MAX=256k", NULL});
    cr_assert(WIFEXITED(r.prog.status) && WEXITSTATUS(r.prog.status) == 0);
    cr_expect_str_eq(r.prog.out, "joined\n");
    struct cap_file f;
    long size;
    read_run(&r, &f, &size);
    cr_expect_eq(f.trace_max, 256 * 1024);
    cr_expect_gt(f.trace_stop_ticks, 0);
    cr_expect_leq(f.trace_bytes, 256 * 1024);
    cr_expect_lt(size, 256 * 1024 + 64 * 1024, "file of %ld bytes", size);
    long long recorded = e2e_audited_calls(&r, "work") + e2e_audited_calls(&r, "worker") +
                         e2e_audited_calls(&r, "main");
    cr_expect_eq(recorded + f.stopped_calls, 8 * 200000 + 8 + 1,
                 "%lld recorded, %ld left out", recorded, f.stopped_calls);
    cr_expect_eq(r.audit_status, 3);
    e2e_audited_free(&r);
}

/* A child forked after its parent's trace stopped has a cap of its own:
 * its file is whole, its counts exact. */
Test(trace_cap, forked_child_starts_its_own_cap)
{
    e2e_scratch_build("forks",
                      "#include <stdio.h>\n#include <sys/wait.h>\n#include <unistd.h>\n"
                      "static volatile long sink;\n"
                      "__attribute__((noinline)) void work(long i) { sink += i; }\n"
                      "__attribute__((noinline)) void batch(long n) {\n"
                      "    for (long i = 0; i < n; i++) work(i); }\n"
                      "int main(void) { for (int i = 0; i < 100; i++) batch(10000);\n"
                      "    pid_t pid = fork(); if (pid < 0) return 1;\n"
                      "    if (pid == 0) { batch(1000); return 0; }\n"
                      "    int st; waitpid(pid, &st, 0); return WEXITSTATUS(st); }\n",
                      (char *[]){"-O1", "-g", NULL});
    struct e2e_audited r;
    e2e_audited_run(&r, "forks", NULL, "trace", (char *[]){"CPROF_TRACE_MAX=64K", NULL});
    cr_assert(WIFEXITED(r.prog.status) && WEXITSTATUS(r.prog.status) == 0);
    /* the parent stopped, the child did not: one trace_max each, one stop */
    cr_expect_eq(e2e_audited_sum(&r, "trace_max"), 2 * 65536);
    cr_expect_eq(e2e_audited_count(&r, "\"trace_stopped_ns\": null"), 1, "%s", r.audit);
    struct e2e_result res;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", e2e_scratch, r.data);
    char *argv[] = {CPROF, "report", "--format", "csv", "--pid", "0", dir, NULL};
    /* the child's own calls: its pid is the one whose trace did not stop */
    const char *child = strstr(r.audit, "\"trace_stopped_ns\": null");
    cr_assert(child);
    const char *pid = NULL;
    for (const char *p = r.audit; (p = strstr(p, "\"pid\": ")) && p < child; p++)
        pid = p + 7;
    cr_assert(pid);
    char pid_s[24];
    snprintf(pid_s, sizeof pid_s, "%ld", atol(pid));
    argv[5] = pid_s;
    cr_expect_eq(e2e_scratch_run_plain(argv, &res), 0, "%s", res.err);
    cr_expect_eq(e2e_report_calls(res.out, "work"), 1000, "%s", res.out);
    cr_expect_eq(e2e_report_calls(res.out, "batch"), 1, "%s", res.out);
    e2e_result_free(&res);
    e2e_audited_free(&r);
}

/* No cap ("none" or 0): the whole trace, nothing said; summary mode has no
 * trace to cap. */
Test(trace_cap, no_cap_and_summary_mode_write_everything)
{
    e2e_scratch_build("calls", CALLS_SRC, (char *[]){"-O1", "-g", NULL});
    static const char *const settings[] = {"CPROF_TRACE_MAX=none", "CPROF_TRACE_MAX=0"};
    for (size_t i = 0; i < 2; i++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "calls", NULL, "trace",
                        (char *[]){(char *)settings[i], NULL});
        expect_program_unchanged(&r);
        struct cap_file f;
        read_run(&r, &f, NULL);
        cr_expect_eq(f.trace_max, 0, "%s", settings[i]);
        cr_expect_eq(f.trace_stop_ticks, 0, "%s", settings[i]);
        cr_expect_eq(f.stopped_calls, 0, "%s", settings[i]);
        cr_expect_eq(e2e_audited_calls(&r, "work"), 1000000, "%s", settings[i]);
        cr_expect_eq(r.audit_status, 0, "%s: %s", settings[i], e2e_audited_verdict(&r));
        drop_run(&r);
    }
    struct e2e_audited r;
    e2e_audited_run(&r, "calls", NULL, "summary", (char *[]){"CPROF_TRACE_MAX=4K", NULL});
    expect_program_unchanged(&r);
    struct cap_file f;
    read_run(&r, &f, NULL);
    cr_expect_eq(f.trace_max, 0);
    cr_expect_eq(e2e_audited_calls(&r, "work"), 1000000);
    cr_expect_eq(r.audit_status, 0);
    e2e_audited_free(&r);
}

/* A bad value is a warning in the file (shown by report) and the default
 * cap, 1 GiB, is used. */
Test(trace_cap, bad_values_warn_and_use_the_default)
{
    e2e_scratch_build("calls", CALLS_SRC, (char *[]){"-O1", "-g", NULL});
    static const char *const bad[] = {"CPROF_TRACE_MAX=12X",
                                      "CPROF_TRACE_MAX=-5",
                                      "CPROF_TRACE_MAX=1.5G",
                                      "CPROF_TRACE_MAX=64KB",
                                      "CPROF_TRACE_MAX=99999999999999999999",
                                      "CPROF_TRACE_MAX=99999999999999T"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "calls", NULL, "trace", (char *[]){(char *)bad[i], NULL});
        expect_program_unchanged(&r);
        struct cap_file f;
        read_run(&r, &f, NULL);
        cr_expect(strstr(f.warnings, "CPROF_TRACE_MAX is not a byte count"), "%s: %s",
                  bad[i], f.warnings);
        cr_expect_eq(f.trace_max, 1L << 30, "%s", bad[i]);
        cr_expect_eq(f.trace_stop_ticks, 0, "%s", bad[i]);
        cr_expect_eq(e2e_audited_calls(&r, "work"), 1000000, "%s", bad[i]);
        char *out, *err;
        cprof_text("report", r.data, &out, &err);
        cr_expect(strstr(out, "CPROF_TRACE_MAX is not a byte count"), "%s: %s", bad[i],
                  out);
        free(out);
        free(err);
        drop_run(&r);
    }
    /* and good ones are taken as given */
    static const struct {
        const char *env;
        long max;
    } good[] = {{"CPROF_TRACE_MAX=2g", 2L << 30},
                {"CPROF_TRACE_MAX=3M", 3L << 20},
                {"CPROF_TRACE_MAX=1T", 1L << 40},
                {"CPROF_TRACE_MAX=70000", 70000}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        struct e2e_audited r;
        e2e_audited_run(&r, "calls", NULL, "trace",
                        (char *[]){(char *)good[i].env, NULL});
        struct cap_file f;
        read_run(&r, &f, NULL);
        cr_expect_str_eq(f.warnings, "", "%s", good[i].env);
        cr_expect_eq(f.trace_max, good[i].max, "%s", good[i].env);
        drop_run(&r);
    }
}

/* ---- summary mode's size bound ------------------------------------------ */

TestSuite(summary_bound, .init = e2e_scratch_init, .fini = e2e_scratch_fini,
          .timeout = 240);

/* Threads started 8 at a time, argv[1] of them: each reaches its own call
 * path (a recursion as deep as its number mod 100, through one of 8
 * functions), allocates two blocks, frees one, and leaves the other for
 * main to free at the end (a free of a block of a thread that ended). */
#define THREADS_SRC                                                                      \
    "#include <pthread.h>\n#include <stdio.h>\n#include <stdlib.h>\n"                    \
    "static volatile long sink;\n"                                                       \
    "static char *volatile blocks[100000];\n"                                            \
    "__attribute__((noinline)) void leaf(long i) { sink += i; }\n"                       \
    "__attribute__((noinline)) void rec(int n) { if (n > 0) rec(n - 1); else leaf(n); "  \
    "}\n"                                                                                \
    "#define F(i) __attribute__((noinline)) void f##i(int n) { rec(n); }\n"              \
    "F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7)\n"                                          \
    "static void (*const fs[8])(int) = {f0, f1, f2, f3, f4, f5, f6, f7};\n"              \
    "__attribute__((noinline)) void keep(long k) { blocks[k] = malloc(100); }\n"         \
    "__attribute__((noinline)) void *worker(void *arg) {\n"                              \
    "    long k = (long)arg;\n"                                                          \
    "    fs[k % 8]((int)(k % 100));\n"                                                   \
    "    char *volatile p = malloc(16); p[0] = 1; free(p);\n"                            \
    "    keep(k);\n"                                                                     \
    "    return arg; }\n"                                                                \
    "__attribute__((noinline)) void release(int n) {\n"                                  \
    "    for (int i = 0; i < n; i++) free(blocks[i]); }\n"                               \
    "int main(int argc, char **argv) {\n"                                                \
    "    int n = atoi(argv[1]);\n"                                                       \
    "    for (int i = 0; i < n; i += 8) { pthread_t t[8];\n"                             \
    "        for (int j = 0; j < 8; j++)\n"                                              \
    "            if (pthread_create(&t[j], 0, worker, (void *)(long)(i + j))) return "   \
    "1;\n"                                                                               \
    "        for (int j = 0; j < 8; j++) pthread_join(t[j], 0); }\n"                     \
    "    release(n);\n"                                                                  \
    "    printf(\"%ld\\n\", sink); return 0; }\n"

/* The calls of one run of THREADS_SRC with n threads. */
static void expect_thread_counts(const struct e2e_audited *r, long long n)
{
    long long rec = 0;
    for (long long k = 0; k < n; k++)
        rec += k % 100 + 1;
    cr_expect_eq(e2e_audited_calls(r, "worker"), n, "%s", r->mode);
    cr_expect_eq(e2e_audited_calls(r, "leaf"), n, "%s", r->mode);
    cr_expect_eq(e2e_audited_calls(r, "keep"), n, "%s", r->mode);
    cr_expect_eq(e2e_audited_calls(r, "rec"), rec, "%s", r->mode);
    cr_expect_eq(e2e_audited_calls(r, "f0") + e2e_audited_calls(r, "f7"), n / 4, "%s",
                 r->mode);
    cr_expect_eq(e2e_audited_calls(r, "release"), 1, "%s", r->mode);
    cr_expect_eq(e2e_audited_calls(r, "main"), 1, "%s", r->mode);
}

/* 600 and then 4,000 short-lived threads: past the first 256 that end,
 * the file stops growing; every count stays exact, nothing is lost, the
 * folding is counted and said, and main's frees of the blocks of threads
 * folded before are still matched to the function that allocated them. */
Test(summary_bound, many_threads_fold_and_counts_stay_exact)
{
    e2e_scratch_build("threads", THREADS_SRC, (char *[]){"-O1", "-g", NULL});
    static const char *const modes[] = {"summary", "count"};
    for (size_t m = 0; m < 2; m++) {
        long size[2];
        static const char *const runs[] = {"600", "4000"};
        for (int i = 0; i < 2; i++) {
            struct e2e_audited r;
            e2e_audited_run(&r, "threads", runs[i], modes[m], NULL);
            cr_assert(WIFEXITED(r.prog.status) && WEXITSTATUS(r.prog.status) == 0,
                      "%s: %s", r.mode, r.prog.err);
            long long n = atoll(runs[i]);
            read_run(&r, &(struct cap_file){0}, &size[i]);
            expect_thread_counts(&r, n);
            cr_expect_eq(r.audit_status, 0, "%s %s: %s", r.mode, runs[i],
                         e2e_audited_verdict(&r));
            cr_expect_eq(e2e_audited_sum(&r, "folded_threads"), n - 256, "%s %s", r.mode,
                         runs[i]);
            cr_expect_eq(e2e_audited_count(&r, "\"name\": \"[folded threads]\""), 1);
            char *out, *err;
            cprof_text("report", r.data, &out, &err);
            char want[128];
            snprintf(want, sizeof want,
                     "%lld threads that ended after the first 256 are "
                     "folded into one",
                     n - 256);
            cr_expect(strstr(out, want), "%s: no \"%s\" in:\n%s", r.mode, want, out);
            free(out);
            free(err);
            if (!strcmp(modes[m], "summary")) {
                /* every block keep allocated was freed by main */
                struct e2e_result res;
                char *argv[] = {CPROF, "heap", "--format", "csv", r.data, NULL};
                cr_expect_eq(e2e_scratch_run_plain(argv, &res), 0, "%s", res.err);
                struct e2e_csv csv;
                cr_assert_eq(e2e_csv_parse(res.out, &csv), 0);
                const char *leaked = e2e_csv_named(&csv, "keep", "leaked_bytes");
                const char *allocs = e2e_csv_named(&csv, "keep", "alloc_calls");
                cr_expect(leaked && !strcmp(leaked, "0"), "keep leaked %s:\n%s",
                          leaked ? leaked : "?", res.out);
                cr_expect(allocs && atoll(allocs) == n, "keep allocated %s", allocs);
                cr_expect(!strstr(res.err, "overstated"), "%s", res.err);
                e2e_csv_free(&csv);
                e2e_result_free(&res);
            }
            drop_run(&r);
        }
        /* 3,400 more threads cost less than a tenth of what writing each
         * would (a thread's share of the first run: 256 written and the
         * folded one); what still grows is the folded nodes' histograms,
         * at most 2,816 buckets each */
        long per_thread = size[0] / 257;
        cr_expect_lt(size[1] - size[0], 3400 * per_thread / 10,
                     "%s: %ld bytes for 600 threads, %ld for 4000", modes[m], size[0],
                     size[1]);
        cr_expect_lt(size[1], 10 * 1000 * 1000);
    }
}
