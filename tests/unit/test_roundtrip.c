/*
 * The round trip: files the runtime writes, read back by the analyzer. A
 * program with known exact counts (recursion, a loop, a thread, a longjmp,
 * a fork) is built against the runtime of this build tree and run in each
 * recording mode; the model must give the same counts from every mode, and
 * times that nest (a caller's total covers its callees'). Functions are
 * identified by the link-time addresses nm reports, so this test does not
 * depend on the symbolizer.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "profile.h"
#include "testprog.h"

static const char rt_prog_src[] =
    "#include <pthread.h>\n"
    "#include <setjmp.h>\n"
    "#include <stdlib.h>\n"
    "#include <sys/wait.h>\n"
    "#include <unistd.h>\n"
    "static jmp_buf env;\n"
    "__attribute__((noinline)) int leaf(int i) { return i * 3; }\n"
    "__attribute__((noinline)) int rec(int n) { return n ? 1 + rec(n - 1) : leaf(n); }\n"
    "__attribute__((noinline)) void deep(int n) { if (!n) longjmp(env, 1); deep(n - 1); "
    "}\n"
    "__attribute__((noinline)) int after(int n) {\n"
    "    volatile char pad[512]; pad[n] = 1; return pad[n]; }\n"
    "__attribute__((noinline)) void huge(int n) {\n"
    "    volatile char pad[100000]; pad[n] = 1; deep(n); }\n"
    "void *worker(void *a) { (void)a; for (int i = 0; i < 40; i++) leaf(i); return 0; }\n"
    "int main(void) {\n"
    "    pthread_t t; pthread_create(&t, 0, worker, 0); pthread_join(t, 0);\n"
    "    for (int i = 0; i < 10; i++) rec(4);\n"
    "    if (!setjmp(env)) deep(3);\n"
    "    after(3);\n"
    "    if (!setjmp(env)) huge(1);\n"
    "    after(4);\n"
    "    leaf(1);\n"
    "    pid_t p = fork(); if (p == 0) { rec(2); exit(0); }\n"
    "    waitpid(p, 0, 0);\n"
    "    return 0; }\n";

/* main 1, worker 1, leaf 40 + 10 + 1 (+1 in the child), rec 50 (+3 in the
 * child), deep 4 + 2, after 2, huge 1 */
static const struct {
    const char *name;
    uint64_t calls;
} rt_expected[] = {
    {"main", 1}, {"worker", 1}, {"leaf", 52}, {"rec", 53},
    {"deep", 6}, {"after", 2},  {"huge", 1},
};

static char rt_dir[] = "/tmp/cprof-roundtrip-XXXXXX";

/* Builds <rt_dir>/prog from src with the extra compiler flags, and the
 * list of its symbols. */
static void rt_build(const char *src, const char *flags)
{
    cr_assert(mkdtemp(rt_dir));
    char nm[900];
    snprintf(nm, sizeof nm, " %s && nm %s/prog > %s/nm", flags, rt_dir, rt_dir);
    tp_build(rt_dir, "prog", src, nm);
}

/* The link-time address nm gives name. */
static uint64_t rt_addr(const char *name)
{
    char path[256], line[512];
    snprintf(path, sizeof path, "%s/nm", rt_dir);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    unsigned long long addr;
    char type, sym[256];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3 && !strcmp(sym, name)) {
            fclose(f);
            return addr;
        }
    }
    fclose(f);
    cr_assert_fail("nm does not list %s", name);
    return 0;
}

static void rt_cleanup(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", rt_dir);
    (void)system(cmd);
}

/* Runs the program in mode with the extra environment settings env ("" for
 * none) and loads what it wrote. */
static void rt_run(const char *mode, const char *env, struct model *m, struct profile *pf)
{
    char cmd[1024], data[512];
    snprintf(data, sizeof data, "%s/%s", rt_dir, mode);
    snprintf(cmd, sizeof cmd, "cd %s && CPROF_MODE=%s %s CPROF_DIR=%s ./prog", rt_dir,
             mode, env, data);
    cr_assert_eq(system(cmd), 0, "the profiled program failed in %s mode", mode);
    model_init(m);
    cr_assert_eq(model_load_path(m, data), 0);
    profile_build(m, NULL, pf);
}

static const struct pf_row *rt_row(const struct model *m, const struct profile *pf,
                                   const char *name)
{
    uint64_t addr = rt_addr(name);
    for (size_t i = 0; i < pf->nrows; i++)
        if (m->funcs[pf->rows[i].func].addr == addr)
            return &pf->rows[i];
    cr_assert_fail("no row for %s", name);
    return NULL;
}

/* No call of name was recorded under a call of caller. deep's frames are
 * left by longjmp, and after(), called next from main, has a much larger
 * stack frame than deep: it would sit under the stale deep(3) if stale
 * frames were recognised by the hooks' stack pointers (which depend on the
 * frame size) rather than by call frame. huge's frame is too large for its
 * call frame address to be found: it must be recognised all the same. */
static void rt_expect_not_under(const struct model *m, const char *name,
                                const char *caller, const char *mode)
{
    uint64_t addr = rt_addr(name), caller_addr = rt_addr(caller);
    size_t seen = 0;
    for (size_t p = 0; p < m->nprocs; p++)
        for (size_t t = 0; t < m->procs[p]->nthreads; t++) {
            const struct m_thread *th = m->procs[p]->threads[t];
            for (size_t i = 1; i < th->nnodes; i++) {
                const struct m_node *n = &th->nodes[i];
                if (m->funcs[n->func].addr != addr || !n->calls)
                    continue;
                seen++;
                const struct m_node *up = &th->nodes[n->parent];
                cr_expect(up->func == M_NONE || m->funcs[up->func].addr != caller_addr,
                          "%s: %llu calls of %s recorded under %s", mode,
                          (unsigned long long)n->calls, name, caller);
            }
        }
    cr_expect(seen > 0, "%s: no calls of %s", mode, name);
}

/* Every function of rt_prog_src has its exact count. */
static void rt_expect_counts(const struct model *m, const struct profile *pf,
                             const char *what)
{
    for (size_t i = 0; i < sizeof rt_expected / sizeof *rt_expected; i++) {
        const struct pf_row *r = rt_row(m, pf, rt_expected[i].name);
        cr_expect_eq(r->calls, rt_expected[i].calls,
                     "%s: %s called %llu times, expected %llu", what, rt_expected[i].name,
                     (unsigned long long)r->calls,
                     (unsigned long long)rt_expected[i].calls);
    }
}

static void rt_check(const char *mode)
{
    struct model m;
    struct profile pf;
    rt_build(rt_prog_src, "");
    rt_run(mode, "", &m, &pf);
    cr_assert_eq(m.nprocs, 2, "%s: parent and forked child: %zu files", mode, m.nprocs);
    rt_expect_counts(&m, &pf, mode);
    cr_expect_eq(pf.timed, strcmp(mode, "count") != 0);
    if (pf.timed) {
        const struct pf_row *main_row = rt_row(&m, &pf, "main");
        const struct pf_row *rec = rt_row(&m, &pf, "rec");
        const struct pf_row *leaf = rt_row(&m, &pf, "leaf");
        cr_expect(main_row->total_ns > 0 && rec->total_ns > 0 && leaf->total_ns > 0);
        cr_expect(main_row->total_ns >= rec->total_ns, "main's total covers rec's");
        cr_expect(rec->self_ns <= rec->total_ns + 1e-6);
        cr_expect(rec->min_ns <= rec->max_ns);
        cr_expect(rec->completed == rec->calls, "%s: every rec call returned", mode);
        const struct pf_row *deep = rt_row(&m, &pf, "deep");
        cr_expect_eq(deep->completed, 6, "longjmp'd frames are completed calls");
    }
    rt_expect_not_under(&m, "after", "deep", mode);
    rt_expect_not_under(&m, "leaf", "deep", mode);
    rt_expect_not_under(&m, "after", "huge", mode);
    int longjmp_warned = 0;
    for (size_t i = 0; i < m.warnings.count; i++)
        longjmp_warned |= strstr(m.warnings.text[i], "7 frames left by longjmp") != NULL;
    cr_expect(longjmp_warned, "%s: the longjmp repair is reported", mode);
    profile_free(&pf);
    model_free(&m);
    rt_cleanup();
}

Test(roundtrip, summary_mode)
{
    rt_check("summary");
}

Test(roundtrip, trace_mode)
{
    rt_check("trace");
}

Test(roundtrip, count_mode)
{
    rt_check("count");
}

/* Past CPROF_MAX_NODES: every call is still counted (under [node limit]
 * for those that found no node), and times still add up: the calls folded
 * into one node nest, and only the outermost one's time may count, or the
 * self times would add up to more than the run. */
Test(roundtrip, node_limit_keeps_counts_and_times_consistent)
{
    static const char src[] =
        "__attribute__((noinline)) int rec(int n) { return n ? 1 + rec(n - 1) : 0; }\n"
        "__attribute__((noinline)) int other(int n) { return rec(n) + 1; }\n"
        "int main(void) { int s = 0;\n"
        "    for (int i = 0; i < 3; i++) { s += other(50); s += rec(99); }\n"
        "    return s == 3 * (99 + 51) ? 0 : 1; }\n";
    rt_build(src, "");
    struct model m;
    struct profile pf;
    rt_run("summary", "CPROF_MAX_NODES=16", &m, &pf);
    const struct pf_row *main_row = rt_row(&m, &pf, "main");
    const struct pf_row *rec = rt_row(&m, &pf, "rec");
    const struct pf_row *other = rt_row(&m, &pf, "other");
    const struct pf_row *limit = NULL;
    for (size_t i = 0; i < pf.nrows; i++)
        if (m.funcs[pf.rows[i].func].node_limit)
            limit = &pf.rows[i];
    cr_assert(limit, "no [node limit] row");
    cr_expect_eq(main_row->calls, 1);
    cr_expect_eq(rec->calls + other->calls + limit->calls, 3 * (100 + 51 + 1),
                 "rec %llu + other %llu + [node limit] %llu",
                 (unsigned long long)rec->calls, (unsigned long long)other->calls,
                 (unsigned long long)limit->calls);
    cr_expect(limit->calls > 0 && rec->calls < 300);
    cr_expect(pf.total_self_ns <= main_row->total_ns * 1.000001 + 1,
              "self times add up to %.0f ns, more than main's total %.0f ns",
              pf.total_self_ns, main_row->total_ns);
    cr_expect(limit->total_ns <= main_row->total_ns);
    int warned = 0;
    for (size_t i = 0; i < m.warnings.count; i++)
        warned |= strstr(m.warnings.text[i], "calls past CPROF_MAX_NODES") != NULL;
    cr_expect(warned, "the node limit is reported");
    profile_free(&pf);
    model_free(&m);
    rt_cleanup();
}

/* Past CPROF_MAX_DEPTH: the calls too deep to record are counted, once
 * each, and with the recorded ones make every call the program made. */
Test(roundtrip, depth_limit_counts_each_dropped_call_once)
{
    static const char src[] =
        "__attribute__((noinline)) int rec(int n) { return n ? 1 + rec(n - 1) : 0; }\n"
        "int main(void) { int s = 0;\n"
        "    for (int i = 0; i < 3; i++) s += rec(99);\n"
        "    return s == 3 * 99 ? 0 : 1; }\n";
    rt_build(src, "");
    const char *modes[] = {"summary", "trace", "count"};
    for (int i = 0; i < 3; i++) {
        struct model m;
        struct profile pf;
        rt_run(modes[i], "CPROF_MAX_DEPTH=20", &m, &pf);
        uint64_t recorded = rt_row(&m, &pf, "rec")->calls;
        uint64_t dropped = m.procs[0]->threads[0]->stats.dropped_depth;
        cr_expect_eq(recorded, 3 * 19, "%s: %llu calls recorded, frames for main and 19",
                     modes[i], (unsigned long long)recorded);
        cr_expect_eq(recorded + dropped, 300, "%s: %llu recorded + %llu dropped",
                     modes[i], (unsigned long long)recorded, (unsigned long long)dropped);
        profile_free(&pf);
        model_free(&m);
    }
    rt_cleanup();
}

/* Code built without unwind tables gives no call frame addresses: the
 * hooks' stack pointers stand in. Counts stay exact and every exit still
 * finds its call. */
Test(roundtrip, code_without_unwind_tables_keeps_exact_counts)
{
    rt_build(rt_prog_src, "-fno-asynchronous-unwind-tables -fno-unwind-tables");
    struct model m;
    struct profile pf;
    rt_run("summary", "", &m, &pf);
    rt_expect_counts(&m, &pf, "no unwind tables");
    for (size_t i = 0; i < m.warnings.count; i++)
        cr_expect(!strstr(m.warnings.text[i], "matched no call"), "%s",
                  m.warnings.text[i]);
    profile_free(&pf);
    model_free(&m);
    rt_cleanup();
}
