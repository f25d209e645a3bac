/*
 * CPU time per function (format 1.5, CPROF_CPU=1): node records carry
 * their calls' CPU time after the heap fields when the header has the
 * cpu_time key. The profile gives each function its CPU time by the rules
 * of self and total time (self: a node's CPU time less its instrumented
 * children's; total: outermost activations only) and the report adds the
 * cpu and wait columns, sortable, only for data that has them.
 *
 * The run, one thread (main 0x1100, fib 0x1200, nap 0x1300), wall / CPU:
 *   main 1000 / 400
 *     fib 400 / 300
 *       fib 200 / 100
 *     nap 500 / 10
 * main's own time is 100 wall, 90 CPU; fib's 400 wall, 300 CPU (its inner
 * call counted in its self time, once in its total); nap waits 490.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "fixture.h"
#include "model.h"
#include "profile.h"
#include "stream.h"

#define MAIN 0x1100
#define FIB 0x1200
#define NAP 0x1300

TestSuite(cputime, .init = fx_init, .fini = fx_fini);

/* The run above; a second thread (with_second) runs nap once more, 300
 * wall, 20 CPU. */
static void the_run(struct tstream *s, int with_second)
{
    ts_begin_cpu(s, 42);
    ts_module(s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(s, 1, 42);
    ts_node_cpu(s, 1, 1, 0, MAIN, 1, 1000, 400);
    ts_node_cpu(s, 1, 2, 1, FIB, 1, 400, 300);
    ts_node_cpu(s, 1, 3, 2, FIB, 1, 200, 100);
    ts_node_cpu(s, 1, 4, 1, NAP, 1, 500, 10);
    ts_thread_end(s, 1, "");
    if (with_second) {
        ts_thread(s, 2, 43);
        ts_node_cpu(s, 2, 1, 0, NAP, 1, 300, 20);
        ts_thread_end(s, 2, "");
    }
    ts_end(s, 1e9, 1000);
}

static void load(struct tstream *s)
{
    ts_load(&fx_model, s, "test.cprof");
    profile_build(&fx_model, NULL, &fx_prof);
}

static void expect_cpu(uint64_t addr, double self, double total, double wait,
                       double wait_total)
{
    const struct pf_row *r = ts_row(&fx_model, &fx_prof, addr);
    cr_expect_eq(r->cpu_self_ns, self, "0x%llx: cpu self %.0f, expected %.0f",
                 (unsigned long long)addr, r->cpu_self_ns, self);
    cr_expect_eq(r->cpu_total_ns, total, "0x%llx: cpu total %.0f, expected %.0f",
                 (unsigned long long)addr, r->cpu_total_ns, total);
    cr_expect_eq(pf_wait(r->self_ns, r->cpu_self_ns), wait, "0x%llx: wait %.0f",
                 (unsigned long long)addr, pf_wait(r->self_ns, r->cpu_self_ns));
    cr_expect_eq(pf_wait(r->total_ns, r->cpu_total_ns), wait_total,
                 "0x%llx: wait total %.0f", (unsigned long long)addr,
                 pf_wait(r->total_ns, r->cpu_total_ns));
}

Test(cputime, self_and_total_like_wall_time)
{
    struct tstream s;
    the_run(&s, 0);
    load(&s);
    cr_assert(fx_prof.cpu);
    cr_assert(fx_model.procs[0]->has_cpu);
    expect_cpu(MAIN, 90, 400, 10, 600);
    expect_cpu(FIB, 300, 300, 100, 100);
    expect_cpu(NAP, 10, 10, 490, 490);
}

Test(cputime, threads_are_summed)
{
    struct tstream s;
    the_run(&s, 1);
    load(&s);
    expect_cpu(NAP, 30, 30, 770, 770);
}

Test(cputime, sort_keys)
{
    struct tstream s;
    the_run(&s, 0);
    load(&s);
    static const char *const keys[] = {"cpu", "cpu_total", "wait", "wait_total"};
    static const uint64_t first[] = {FIB, MAIN, NAP, MAIN};
    for (int i = 0; i < 4; i++) {
        enum pf_sort key;
        cr_assert_eq(profile_sort_key(keys[i], &key), 0, "%s", keys[i]);
        profile_sort(&fx_prof, key);
        uint64_t addr = fx_model.funcs[fx_prof.rows[0].func].addr;
        cr_expect_eq(addr, first[i], "--sort %s: 0x%llx first", keys[i],
                     (unsigned long long)addr);
    }
}

Test(cputime, none_without_the_header_key)
{
    struct tstream s;
    ts_begin(&s, "summary", 42);
    ts_module(&s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(&s, 1, 42);
    ts_node(&s, 1, 1, 0, MAIN, 1, 1000, 1000, 1000, 1);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 1000);
    load(&s);
    cr_expect(!fx_prof.cpu);
    cr_expect(!fx_model.procs[0]->has_cpu);
}

Test(cputime, missing_cpu_field_is_an_error)
{
    struct tstream s;
    ts_begin_cpu(&s, 42);
    ts_thread(&s, 1, 42);
    static const uint64_t heap[5] = {0};
    ts_node_heap(&s, 1, 1, 0, MAIN, 1, 1000, heap);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 1000);
    char msg[256] = "";
    cr_assert_eq(model_load_mem(&fx_model, "t.cprof", s.buf, ts_len(&s), msg, sizeof msg),
                 0, "%s", msg);
    ts_free(&s);
    cr_assert(fx_model.damage.count >= 1, "a node without cpu_ns is damage");
    const char *w = fx_model.damage.text[0];
    cr_expect(strstr(w, "damaged at byte") && strstr(w, "node record 1") &&
                  strstr(w, "cpu_ns"),
              "%s", w);
}

/* `cprof report`: the columns when the data has CPU time, none otherwise. */
Test(cputime, report_columns)
{
    struct tstream s;
    the_run(&s, 0);
    char *path = ts_write_temp(&s, "cputime");
    char *out, *err;
    char *csv[] = {"report", path, "--format", "csv", "--sort", "wait", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, csv, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, ",cpu_self_ns,wait_ns,cpu_total_ns,wait_total_ns\n"), "%s",
              out);
    cr_expect(strstr(out, ",10,490,10,490\n"), "nap's row: %s", out);
    free(out);
    free(err);
    char *text[] = {"report", path, "--sort", "cpu", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, text, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "functions by CPU time\n"), "%s", out);
    cr_expect(strstr(out, "  cpu  ") && strstr(out, " wait\n"), "%s", out);
    free(out);
    free(err);
    unlink(path);
    free(path);

    ts_begin(&s, "summary", 42);
    ts_thread(&s, 1, 42);
    ts_node(&s, 1, 1, 0, MAIN, 1, 1000, 1000, 1000, 1);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 1000);
    path = ts_write_temp(&s, "nocpu");
    char *json[] = {"report", path, "--format", "json", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, json, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "\"self_ns\"") && !strstr(out, "cpu_self_ns") &&
                  !strstr(out, "wait_ns"),
              "%s", out);
    free(out);
    free(err);
    char *plain[] = {"report", path, NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, plain, &out, &err), 0, "%s", err);
    cr_expect(!strstr(out, " cpu") && !strstr(out, " wait"), "%s", out);
    free(out);
    free(err);
    unlink(path);
    free(path);
}
