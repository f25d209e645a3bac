/*
 * <cprof.h> and the outside controls (CPROF_START, CPROF_SIGNAL) inside
 * real programs: the file each run wrote is decoded with msgpack-c and the
 * calls counted per function (node records in summary and count modes,
 * ENTER events in trace mode), regions named by their region records.
 * Checked: counts equal the calls entered while recording was on
 * (including a call that straddles a switch), regions nested and on two
 * threads, a flush from a program later killed with SIGKILL (trace mode:
 * with a second thread blocked at the flush), each trace event written
 * once across flushes, a reset after a warm-up (trace mode too),
 * CPROF_START=off, the toggle signal sent by another process, a program
 * with its own handler for it (cprof steps aside and says so), and the
 * same program built with plain clang without cprof.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "e2e_mp.h"
#include "e2e_scratch.h"

static const char control_src[] =
    "#include <cprof.h>\n"
    "#include <pthread.h>\n"
    "#include <signal.h>\n"
    "#include <spawn.h>\n"
    "#include <stdio.h>\n"
    "#include <string.h>\n"
    "#include <unistd.h>\n"
    "#include <sys/wait.h>\n"
    "extern char **environ;\n"
    "#define NI __attribute__((noinline))\n"
    "volatile int sink;\n"
    "NI void leaf(int x) { sink += x; }\n"
    "NI void mid(int x) { for (int i = 0; i < 3; i++) leaf(x + i); }\n"
    "NI void straddle(void) { cprof_stop(); mid(1); }\n"
    "NI void *worker(void *a) { for (int i = 0; i < 5; i++) CPROF_REGION(\"work\") {\n"
    "    leaf(1); leaf(2); leaf(3); CPROF_REGION(\"inner\") leaf(4); }\n"
    "    return a; }\n"
    "NI void *twice(void *a) { mid(1); mid(2); return a; }\n"
    "NI void *thrice(void *a) { mid(1); mid(2); mid(3); return a; }\n"
    "static int more;\n"
    "NI void *waiter(void *a) { int *p = a; char c = 1; mid(1); mid(2); mid(3);\n"
    "    if (write(p[1], &c, 1) != 1 || read(p[2], &c, 1) != 1) _exit(9);\n"
    "    for (int i = 0; i < more; i++) mid(i); return a; }\n"
    "static volatile sig_atomic_t handled;\n"
    "static void own(int s) { (void)s; handled++; }\n"
    "static void send_usr2(void) { char pid[24]; snprintf(pid, sizeof pid, \"%d\",\n"
    "    (int)getpid()); char *argv[] = {\"kill\", \"-USR2\", pid, 0}; pid_t p;\n"
    "    if (posix_spawnp(&p, \"kill\", 0, 0, argv, environ)) _exit(9);\n"
    "    waitpid(p, 0, 0); }\n"
    "static void wait_recording(int want) { for (long i = 0; i < 2000000000L &&\n"
    "    cprof_recording() != want; i++) usleep(100); }\n"
    "#define FN(f) printf(\"fn %s %p\\n\", #f, (void *)f)\n"
    "int main(int argc, char **argv) {\n"
    "    const char *w = argc > 1 ? argv[1] : \"\";\n"
    "    FN(leaf); FN(mid); FN(straddle); FN(worker); FN(main);\n"
    "    fflush(stdout);\n"
    "    if (!strcmp(w, \"straddle\")) {\n"
    "        for (int i = 0; i < 10; i++) mid(i);\n"
    "        cprof_stop(); for (int i = 0; i < 7; i++) mid(i);\n"
    "        cprof_start(); straddle(); mid(0); cprof_start(); mid(0); }\n"
    "    if (!strcmp(w, \"regions\")) { pthread_t t[2];\n"
    "        CPROF_REGION(\"outer\") { for (int i = 0; i < 2; i++)\n"
    "            pthread_create(&t[i], 0, worker, 0);\n"
    "            for (int i = 0; i < 2; i++) pthread_join(t[i], 0); }\n"
    "        for (int i = 0; i < 3; i++) { cprof_region_begin(\"outer\"); leaf(0);\n"
    "            cprof_region_end(); } }\n"
    "    if (!strcmp(w, \"flush\")) { for (int i = 0; i < 10; i++) mid(i);\n"
    "        cprof_flush(); mid(0); leaf(0); cprof_flush();\n"
    "        for (int i = 0; i < 5; i++) leaf(i); fflush(stdout); raise(SIGKILL); }\n"
    "    if (!strcmp(w, \"flushthreads\")) { pthread_t t;\n"
    "        pthread_create(&t, 0, twice, 0); pthread_join(t, 0); cprof_flush();\n"
    "        pthread_create(&t, 0, thrice, 0); pthread_join(t, 0); cprof_flush();\n"
    "        mid(0); }\n"
    "    if (!strncmp(w, \"flushwait\", 9)) { int p[4]; pthread_t t; char c = 1;\n"
    "        if (pipe(p) || pipe(p + 2)) return 9;\n"
    "        pthread_create(&t, 0, waiter, p); if (read(p[0], &c, 1) != 1) return 9;\n"
    "        mid(0); mid(1); cprof_flush();\n"
    "        if (!strcmp(w, \"flushwaitkill\")) { for (int i = 0; i < 5; i++) leaf(i);\n"
    "            fflush(stdout); raise(SIGKILL); }\n"
    "        more = 10000; if (write(p[3], &c, 1) != 1) return 9; cprof_flush();\n"
    "        pthread_join(t, 0); cprof_flush(); mid(0); }\n"
    "    if (!strcmp(w, \"reset\")) { for (int i = 0; i < 7; i++) mid(i);\n"
    "        cprof_reset(); for (int i = 0; i < 4; i++) mid(i); }\n"
    "    if (!strcmp(w, \"start\")) { leaf(1); leaf(2); leaf(3); cprof_start();\n"
    "        leaf(4); leaf(5); }\n"
    "    if (!strcmp(w, \"signal\")) { leaf(1); leaf(2); leaf(3);\n"
    "        send_usr2(); wait_recording(0); for (int i = 0; i < 5; i++) leaf(i);\n"
    "        send_usr2(); wait_recording(1); leaf(1); leaf(2);\n"
    "        printf(\"recording %d\\n\", cprof_recording()); }\n"
    "    if (!strcmp(w, \"own\")) { struct sigaction sa; memset(&sa, 0, sizeof sa);\n"
    "        sa.sa_handler = own; sigaction(SIGUSR2, &sa, 0);\n"
    "        leaf(1); send_usr2(); leaf(2); send_usr2(); leaf(3); leaf(4);\n"
    "        while (handled < 2) usleep(100);\n"
    "        printf(\"handled %d\\n\", (int)handled); }\n"
    "    return 0; }\n";

#define MAX_FNS 8
#define MAX_REGIONS 8
#define MAX_IDX 256

/* What one .cprof file says, as far as these tests look. */
struct ctl_file {
    char mode[16];
    char warnings[1024]; /* config_warnings, joined by newlines */
    unsigned long long fn_addr[MAX_FNS];
    char fn_name[MAX_FNS][16];
    int nfns;
    unsigned long long calls[MAX_FNS];
    unsigned long long region_fn[MAX_REGIONS];
    char region_name[MAX_REGIONS][32];
    unsigned long long region_calls[MAX_REGIONS];
    int nregions;
    unsigned long long idx_fn[8][MAX_IDX]; /* trace: per thread */
    int periods;
    char period_how[8][64];
    char end_reason[16];
    int ext_off, ext_on, ext_reset;
    unsigned long long open_fn[8][64]; /* trace: per thread, the open calls */
    int depth[8];
};

static void add_calls(struct ctl_file *f, unsigned long long fn, unsigned long long n)
{
    for (int i = 0; i < f->nfns; i++)
        if (f->fn_addr[i] == fn)
            f->calls[i] += n;
    for (int i = 0; i < f->nregions; i++)
        if (f->region_fn[i] == fn)
            f->region_calls[i] += n;
}

static void on_header(const msgpack_object *h, void *ctx)
{
    struct ctl_file *f = ctx;
    e2e_mp_copy_str(f->mode, sizeof f->mode, e2e_mp_get(h, "mode"));
    e2e_mp_config_warnings(h, f->warnings, sizeof f->warnings);
}

/* Token i of a chunk's n events (the test fails past the end). */
static uint64_t token(const msgpack_object *p, uint32_t n, uint32_t *i)
{
    cr_assert(*i < n, "trace chunk cut inside an event");
    return p[(*i)++].via.u64;
}

/* The events of a trace chunk: ENTER counted per function. */
static void read_trace(struct ctl_file *f, unsigned thread, const msgpack_object *ev)
{
    cr_assert(ev->type == MSGPACK_OBJECT_ARRAY && thread < 8);
    const msgpack_object *p = ev->via.array.ptr;
    uint32_t n = ev->via.array.size, i = 0;
#define NEXT() token(p, n, &i)
    while (i < n) {
        uint64_t tok = NEXT(), kind = tok & 3;
        if (kind == 0) {
            uint64_t idx = NEXT();
            cr_assert(idx < MAX_IDX);
            add_calls(f, f->idx_fn[thread][idx], 1);
            cr_assert(f->depth[thread] < 64);
            f->open_fn[thread][f->depth[thread]++] = f->idx_fn[thread][idx];
        } else if (kind == 1) {
            f->depth[thread] -= f->depth[thread] > 0;
        } else if (kind == 2) {
            NEXT();
        } else if (kind == 3) {
            uint64_t code = NEXT();
            if (code == 1) { /* FUNC idx fn */
                uint64_t idx = NEXT(), fn = NEXT();
                cr_assert(idx < MAX_IDX);
                f->idx_fn[thread][idx] = fn;
            } else if (code == 2) {
                uint64_t k = NEXT();
                for (uint64_t j = 0; j < k; j++)
                    NEXT();
            } else if (code == 4) {
                NEXT();
            } else if (code == 7 || code == 8) {
                *(code == 7 ? &f->ext_off : &f->ext_on) += 1;
            } else if (code == 9) {
                /* EXT_RESET: what came before is dropped, open calls
                 * count once (counts are per process here: the reset
                 * scenarios have one thread) */
                f->ext_reset++;
                memset(f->calls, 0, sizeof f->calls);
                memset(f->region_calls, 0, sizeof f->region_calls);
                for (int d = 0; d < f->depth[thread]; d++)
                    add_calls(f, f->open_fn[thread][d], 1);
            } else if (code == 3) { /* UNWIND reason n */
                NEXT();
                uint64_t k = NEXT();
                f->depth[thread] -=
                    (int)(k < (uint64_t)f->depth[thread] ? k
                                                         : (uint64_t)f->depth[thread]);
            } else {
                NEXT();
                NEXT();
            }
        }
    }
#undef NEXT
}

static void on_record(const msgpack_object *r, void *ctx)
{
    struct ctl_file *f = ctx;
    uint64_t type = e2e_mp_uint_at(r, 0);
    if (type == 3) { /* node */
        add_calls(f, e2e_mp_uint_at(r, 4), e2e_mp_uint_at(r, 5));
    } else if (type == 4) {
        read_trace(f, (unsigned)e2e_mp_uint_at(r, 1), &r->via.array.ptr[3]);
    } else if (type == 12) { /* region */
        unsigned long long fn = e2e_mp_uint_at(r, 1);
        cr_assert(fn & (1ull << 62), "region fn %llx lacks the region bit", fn);
        for (int i = 0; i < f->nregions; i++)
            if (f->region_fn[i] == fn)
                return; /* defined again (trace mode): the same */
        cr_assert(f->nregions < MAX_REGIONS);
        f->region_fn[f->nregions] = fn;
        e2e_mp_copy_str(f->region_name[f->nregions], 32, &r->via.array.ptr[2]);
        f->nregions++;
    } else if (type == 13) { /* period */
        cr_assert(f->periods < 8);
        char on[24], off[24];
        e2e_mp_copy_str(on, sizeof on, &r->via.array.ptr[3]);
        e2e_mp_copy_str(off, sizeof off, &r->via.array.ptr[4]);
        snprintf(f->period_how[f->periods++], 64, "%s-%s", on, off);
    } else if (type == 7) {
        e2e_mp_copy_str(f->end_reason, sizeof f->end_reason,
                        e2e_mp_get(&r->via.array.ptr[1], "reason"));
    }
}

static void read_fn_list(struct ctl_file *f, const char *out)
{
    for (const char *line = out; line && *line;
         line = strchr(line, '\n'), line += !!line) {
        char name[16];
        unsigned long long addr;
        if (sscanf(line, "fn %15s %llx", name, &addr) == 2 && f->nfns < MAX_FNS) {
            snprintf(f->fn_name[f->nfns], 16, "%s", name);
            f->fn_addr[f->nfns++] = addr;
        }
    }
}

/* The one .cprof file in the scratch directory's data/, read. */
static struct ctl_file *read_data(const char *out)
{
    struct ctl_file *f = calloc(1, sizeof *f);
    cr_assert(f);
    read_fn_list(f, out);
    char data[1024];
    snprintf(data, sizeof data, "%s/data", e2e_scratch);
    cr_assert_eq(e2e_count_files(data, ".cprof"), 1, "want one .cprof file in %s", data);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls %s/*.cprof", data);
    FILE *ls = popen(cmd, "r");
    char path[1024] = "";
    cr_assert(ls && fgets(path, sizeof path, ls));
    pclose(ls);
    path[strcspn(path, "\n")] = 0;
    /* regions first: a trace's events may come before a reader knew them
     * in this simple one-pass reader */
    e2e_mp_read_file(path, on_header, on_record, f);
    if (f->nregions) {
        memset(f->calls, 0, sizeof f->calls);
        memset(f->region_calls, 0, sizeof f->region_calls);
        f->periods = 0;
        f->ext_off = f->ext_on = f->ext_reset = 0;
        memset(f->depth, 0, sizeof f->depth);
        f->warnings[0] = 0;
        e2e_mp_read_file(path, on_header, on_record, f);
    }
    return f;
}

static unsigned long long calls_of(const struct ctl_file *f, const char *name)
{
    for (int i = 0; i < f->nfns; i++)
        if (!strcmp(f->fn_name[i], name))
            return f->calls[i];
    for (int i = 0; i < f->nregions; i++)
        if (!strcmp(f->region_name[i], name))
            return f->region_calls[i];
    return 0;
}

static void build(void)
{
    char inc[600];
    snprintf(inc, sizeof inc, "-I%s/include", CPROF_SOURCE_DIR);
    char *flags[] = {"-O2", "-Wall", "-Wextra", "-Werror", inc, NULL};
    e2e_scratch_build("prog", control_src, flags);
}

/* Runs ./prog scenario in mode with more environment (may be NULL), its
 * data in data/ (emptied first); returns what it printed and its status. */
static int run(const char *scenario, const char *mode, const char *extra,
               struct e2e_result *res)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s/data", e2e_scratch);
    cr_assert_eq(system(cmd), 0);
    char mode_env[64], *env[4] = {mode_env, "CPROF_DIR=data", (char *)extra, NULL};
    snprintf(mode_env, sizeof mode_env, "CPROF_MODE=%s", mode);
    char *argv[] = {"./prog", (char *)scenario, NULL};
    return e2e_scratch_run(argv, env, (char *[]){"CPROF_START", "CPROF_SIGNAL", NULL},
                           res);
}

static const char *const modes[] = {"summary", "trace", "count"};

TestSuite(control, .init = e2e_scratch_init, .fini = e2e_scratch_fini, .timeout = 240);

Test(control, counts_only_calls_entered_while_on)
{
    build();
    for (int m = 0; m < 3; m++) {
        struct e2e_result res;
        cr_assert_eq(run("straddle", modes[m], NULL, &res), 0, "%s: %s", modes[m],
                     res.err);
        struct ctl_file *f = read_data(res.out);
        /* 10 + 1 mid: not the 7 made while off, nor straddle's, nor the
         * one after straddle (still off) */
        cr_expect_eq(calls_of(f, "mid"), 11, "%s: mid %llu", modes[m],
                     calls_of(f, "mid"));
        cr_expect_eq(calls_of(f, "leaf"), 33, "%s: leaf %llu", modes[m],
                     calls_of(f, "leaf"));
        cr_expect_eq(calls_of(f, "straddle"), 1, "%s", modes[m]);
        cr_expect_eq(calls_of(f, "main"), 1, "%s", modes[m]);
        cr_expect_eq(f->periods, 3, "%s: %d periods", modes[m], f->periods);
        cr_expect_str_eq(f->period_how[0], "start-api");
        cr_expect_str_eq(f->period_how[2], "api-end");
        if (!strcmp(modes[m], "trace"))
            cr_expect(f->ext_off == 2 && f->ext_on == 2, "EXT_OFF %d, EXT_ON %d",
                      f->ext_off, f->ext_on);
        cr_expect_str_eq(f->end_reason, "exit");
        free(f);
        e2e_result_free(&res);
    }
}

Test(control, regions_nested_and_per_thread)
{
    build();
    for (int m = 0; m < 3; m++) {
        struct e2e_result res;
        cr_assert_eq(run("regions", modes[m], NULL, &res), 0, "%s: %s", modes[m],
                     res.err);
        struct ctl_file *f = read_data(res.out);
        cr_expect_eq(f->nregions, 3, "%s: %d regions", modes[m], f->nregions);
        cr_expect_eq(calls_of(f, "outer"), 4, "%s: outer %llu", modes[m],
                     calls_of(f, "outer"));
        cr_expect_eq(calls_of(f, "work"), 10, "%s: work %llu", modes[m],
                     calls_of(f, "work"));
        cr_expect_eq(calls_of(f, "inner"), 10, "%s", modes[m]);
        cr_expect_eq(calls_of(f, "leaf"), 43, "%s: leaf %llu", modes[m],
                     calls_of(f, "leaf"));
        cr_expect_eq(f->periods, 0, "%s: never switched, no period", modes[m]);
        free(f);
        e2e_result_free(&res);
    }
    /* the report shows regions as functions */
    struct e2e_result res;
    cr_assert_eq(run("regions", "summary", NULL, &res), 0);
    e2e_result_free(&res);
    char *argv[] = {
        CPROF_BINARY_DIR "/bin/cprof", "report", "--format", "csv", "data", NULL};
    cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "%s", res.err);
    cr_expect_eq(e2e_report_calls(res.out, "work"), 10, "%s", res.out);
    cr_expect_eq(e2e_report_calls(res.out, "inner"), 10, "%s", res.out);
    e2e_result_free(&res);
}

/* Without a keeper (CPROF_KEEPER=0), what the last flush wrote is what a
 * killed process leaves. */
Test(control, flush_survives_sigkill)
{
    build();
    const char *m2[] = {"summary", "count"};
    for (int m = 0; m < 2; m++) {
        struct e2e_result res;
        int st = run("flush", m2[m], "CPROF_KEEPER=0", &res);
        cr_assert_eq(st, 128 + SIGKILL, "%s: status %d", m2[m], st);
        struct ctl_file *f = read_data(res.out);
        /* the second flush: 11 mid, 34 leaf; not the 5 leaf after it */
        cr_expect_eq(calls_of(f, "mid"), 11, "%s: mid %llu", m2[m], calls_of(f, "mid"));
        cr_expect_eq(calls_of(f, "leaf"), 34, "%s: leaf %llu", m2[m],
                     calls_of(f, "leaf"));
        cr_expect_str_eq(f->end_reason, "flush");
        free(f);
        e2e_result_free(&res);
        char *argv[] = {
            CPROF_BINARY_DIR "/bin/cprof", "report", "--format", "csv", "data", NULL};
        cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "%s", res.err);
        cr_expect_eq(e2e_report_calls(res.out, "mid"), 11, "%s", res.out);
        e2e_result_free(&res);
    }
}

/* With its keeper, a process killed after flushes loses nothing: the
 * keeper writes the whole file again (end reason "killed"), the calls
 * after the last flush included. */
Test(control, keeper_writes_after_flush_and_sigkill)
{
    build();
    e2e_adopt_keepers();
    const char *m2[] = {"summary", "count"};
    for (int m = 0; m < 2; m++) {
        struct e2e_result res;
        int st = run("flush", m2[m], NULL, &res);
        cr_assert_eq(st, 128 + SIGKILL, "%s: status %d", m2[m], st);
        e2e_result_free(&res);
        cr_assert_eq(e2e_wait_keepers(60), 0, "%s: the keeper did not end", m2[m]);
        char *argv[] = {
            CPROF_BINARY_DIR "/bin/cprof", "report", "--format", "csv", "data", NULL};
        cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "%s", res.err);
        cr_expect_eq(e2e_report_calls(res.out, "mid"), 11, "%s", res.out);
        cr_expect_eq(e2e_report_calls(res.out, "leaf"), 39, "%s", res.out);
        cr_expect(strstr(res.err, "did not end normally"), "%s", res.err);
        e2e_result_free(&res);
        char data[1024];
        snprintf(data, sizeof data, "%s/data", e2e_scratch);
        cr_expect_eq(e2e_count_files(data, ".cprof"), 1, "%s: one file", m2[m]);
    }
}

Test(control, flush_keeps_threads_that_ended)
{
    build();
    const char *m2[] = {"summary", "count"};
    for (int m = 0; m < 2; m++) {
        struct e2e_result res;
        cr_assert_eq(run("flushthreads", m2[m], NULL, &res), 0, "%s: %s", m2[m], res.err);
        struct ctl_file *f = read_data(res.out);
        /* two threads that ended before and between the flushes, then main */
        cr_expect_eq(calls_of(f, "mid"), 6, "%s: mid %llu", m2[m], calls_of(f, "mid"));
        cr_expect_eq(calls_of(f, "leaf"), 18, "%s: leaf %llu", m2[m],
                     calls_of(f, "leaf"));
        cr_expect_str_eq(f->end_reason, "exit");
        free(f);
        e2e_result_free(&res);
        char data[1024];
        snprintf(data, sizeof data, "%s/data", e2e_scratch);
        cr_expect_eq(e2e_count_files(data, ".base"), 0, "%s: the base file is left",
                     m2[m]);
        cr_expect_eq(e2e_count_files(data, ".tmp"), 0, "%s: a .tmp file is left", m2[m]);
    }
}

Test(control, reset_after_warm_up)
{
    build();
    for (int m = 0; m < 3; m++) {
        struct e2e_result res;
        cr_assert_eq(run("reset", modes[m], NULL, &res), 0, "%s: %s", modes[m], res.err);
        struct ctl_file *f = read_data(res.out);
        cr_expect_eq(calls_of(f, "mid"), 4, "%s: mid %llu", modes[m], calls_of(f, "mid"));
        cr_expect_eq(calls_of(f, "leaf"), 12, "%s", modes[m]);
        cr_expect_eq(calls_of(f, "main"), 1, "%s: main, open at the reset", modes[m]);
        if (!strcmp(modes[m], "trace"))
            cr_expect_eq(f->ext_reset, 1, "EXT_RESET %d", f->ext_reset);
        free(f);
        e2e_result_free(&res);
        /* the analyzer's replay drops what came before the reset too */
        char *argv[] = {
            CPROF_BINARY_DIR "/bin/cprof", "report", "--format", "csv", "data", NULL};
        cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "%s: %s", modes[m], res.err);
        cr_expect_eq(e2e_report_calls(res.out, "mid"), 4, "%s: %s", modes[m], res.out);
        cr_expect_eq(e2e_report_calls(res.out, "leaf"), 12, "%s: %s", modes[m], res.out);
        cr_expect_eq(e2e_report_calls(res.out, "main"), 1, "%s: %s", modes[m], res.out);
        e2e_result_free(&res);
    }
}

/* Trace mode: a flush writes every thread's events, a thread blocked in
 * read() included, and the file then reads as complete (end reason flush)
 * even when the program is killed right after and has no keeper. */
Test(control, trace_flush_of_two_threads_survives_sigkill)
{
    build();
    struct e2e_result res;
    int st = run("flushwaitkill", "trace", "CPROF_KEEPER=0", &res);
    cr_assert_eq(st, 128 + SIGKILL, "status %d: %s", st, res.err);
    struct ctl_file *f = read_data(res.out);
    /* the waiter's 3 mid and main's 2, not main's 5 leaf after the flush */
    cr_expect_eq(calls_of(f, "mid"), 5, "mid %llu", calls_of(f, "mid"));
    cr_expect_eq(calls_of(f, "leaf"), 15, "leaf %llu", calls_of(f, "leaf"));
    cr_expect_eq(calls_of(f, "main"), 1);
    cr_expect_str_eq(f->end_reason, "flush");
    free(f);
    e2e_result_free(&res);
    char *argv[] = {
        CPROF_BINARY_DIR "/bin/cprof", "report", "--format", "csv", "data", NULL};
    cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "not damaged: %s", res.err);
    cr_expect_eq(e2e_report_calls(res.out, "mid"), 5, "%s", res.out);
    cr_expect_eq(e2e_report_calls(res.out, "leaf"), 15, "%s", res.out);
    cr_expect_eq(e2e_report_calls(res.out, "main"), 1, "%s", res.out);
    cr_expect(!strstr(res.err, "cut short"), "%s", res.err);
    e2e_result_free(&res);
}

/* Trace mode: events a flush wrote for a thread are not written again by
 * the thread (its later chunks, small buffers so there are several, and
 * its exit), flushes while it runs included. */
Test(control, trace_flush_writes_each_event_once)
{
    build();
    struct e2e_result res;
    cr_assert_eq(run("flushwait", "trace", "CPROF_TRACE_BUFFER=65536", &res), 0, "%s",
                 res.err);
    struct ctl_file *f = read_data(res.out);
    cr_expect_eq(calls_of(f, "mid"), 10006, "mid %llu", calls_of(f, "mid"));
    cr_expect_eq(calls_of(f, "leaf"), 30018, "leaf %llu", calls_of(f, "leaf"));
    cr_expect_eq(calls_of(f, "main"), 1);
    cr_expect_str_eq(f->end_reason, "exit");
    free(f);
    e2e_result_free(&res);
    char *argv[] = {CPROF_BINARY_DIR "/bin/cprof", "audit", "data", NULL};
    int st = e2e_scratch_run_plain(argv, &res);
    cr_expect_eq(st, 0, "audit %d: %s%s", st, res.out, res.err);
    e2e_result_free(&res);
    char *rep[] = {
        CPROF_BINARY_DIR "/bin/cprof", "report", "--format", "csv", "data", NULL};
    cr_assert_eq(e2e_scratch_run_plain(rep, &res), 0, "%s", res.err);
    cr_expect_eq(e2e_report_calls(res.out, "mid"), 10006, "%s", res.out);
    e2e_result_free(&res);
}

Test(control, start_off_from_the_environment)
{
    build();
    for (int m = 0; m < 3; m++) {
        struct e2e_result res;
        cr_assert_eq(run("start", modes[m], "CPROF_START=off", &res), 0, "%s", res.err);
        struct ctl_file *f = read_data(res.out);
        cr_expect_eq(calls_of(f, "leaf"), 2, "%s: leaf %llu", modes[m],
                     calls_of(f, "leaf"));
        cr_expect_eq(calls_of(f, "main"), 0, "%s: main was entered while off", modes[m]);
        cr_expect_eq(f->periods, 1, "%s", modes[m]);
        cr_expect_str_eq(f->period_how[0], "api-end");
        free(f);
        e2e_result_free(&res);
    }
}

Test(control, signal_from_another_process)
{
    build();
    for (int m = 0; m < 3; m++) {
        struct e2e_result res;
        cr_assert_eq(run("signal", modes[m], NULL, &res), 0, "%s: %s", modes[m], res.err);
        cr_expect(strstr(res.out, "recording 1"), "%s", res.out);
        struct ctl_file *f = read_data(res.out);
        cr_expect_eq(calls_of(f, "leaf"), 5, "%s: leaf %llu", modes[m],
                     calls_of(f, "leaf"));
        cr_expect_eq(f->periods, 2, "%s", modes[m]);
        cr_expect_str_eq(f->period_how[0], "start-signal");
        cr_expect_str_eq(f->period_how[1], "signal-end");
        cr_expect_eq(f->warnings[0], 0, "%s", f->warnings);
        free(f);
        e2e_result_free(&res);
    }
    /* CPROF_SIGNAL=none: the signal is the program's (default: it ends) */
    struct e2e_result res;
    int st = run("signal", "summary", "CPROF_SIGNAL=none", &res);
    cr_expect_eq(st, 128 + SIGUSR2, "status %d", st);
    e2e_result_free(&res);
}

Test(control, program_with_its_own_handler_is_not_disturbed)
{
    build();
    for (int m = 0; m < 3; m++) {
        struct e2e_result res;
        cr_assert_eq(run("own", modes[m], NULL, &res), 0, "%s: %s", modes[m], res.err);
        cr_expect(strstr(res.out, "handled 2"), "%s", res.out);
        struct ctl_file *f = read_data(res.out);
        cr_expect_eq(calls_of(f, "leaf"), 4, "%s: leaf %llu", modes[m],
                     calls_of(f, "leaf"));
        cr_expect_eq(f->periods, 0, "%s", modes[m]);
        cr_expect(strstr(f->warnings, "stepped aside"), "%s: warnings: %s", modes[m],
                  f->warnings);
        free(f);
        e2e_result_free(&res);
    }
}

Test(control, builds_and_runs_without_cprof)
{
    e2e_scratch_put("plain.c", control_src);
    char inc[600];
    snprintf(inc, sizeof inc, "-I%s/include", CPROF_SOURCE_DIR);
    char *cc = getenv("CPROF_CC") ? getenv("CPROF_CC") : "clang";
    char *argv[] = {cc,   "-O2",   "-Wall",   "-Wextra",   "-Werror", inc,
                    "-o", "plain", "plain.c", "-lpthread", NULL};
    struct e2e_result res;
    cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "%s", res.err);
    e2e_result_free(&res);
    const char *scenarios[] = {"straddle", "regions", "reset", "start"};
    for (int i = 0; i < 4; i++) {
        char *run_argv[] = {"./plain", (char *)scenarios[i], NULL};
        cr_assert_eq(
            e2e_scratch_run(run_argv, (char *[]){"CPROF_DIR=data", NULL}, NULL, &res), 0,
            "%s: %s", scenarios[i], res.err);
        e2e_result_free(&res);
    }
    char data[1024];
    snprintf(data, sizeof data, "%s/data", e2e_scratch);
    cr_expect(e2e_count_files(data, ".cprof") <= 0, "no cprof, no data");
    /* and the plain program's own signal handling stays */
    char *own[] = {"./plain", "own", NULL};
    cr_assert_eq(e2e_scratch_run(own, NULL, NULL, &res), 0);
    cr_expect(strstr(res.out, "handled 2"), "%s", res.out);
    e2e_result_free(&res);
}
