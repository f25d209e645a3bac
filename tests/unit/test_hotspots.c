/*
 * The hotspot rules (hotspots.c) on small runs written in memory, one
 * clock tick a nanosecond: each rule fires at its threshold and not below
 * it, with the figures of its evidence and its time at stake worked out
 * by hand; findings rank by time at stake; thresholds parse; the JSON of a
 * function's suggestions.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "hotspots.h"
#include "stream.h"

#define F1 0x1100
#define F2 0x1200
#define F3 0x1300

TestSuite(hotspots, .init = fx_init, .fini = fx_fini);

static struct hs_result found;
static struct hs_config config;

static void begin(struct tstream *s, const char *mode, uint32_t threads)
{
    ts_begin(s, mode, 100);
    ts_module(s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    for (uint32_t t = 1; t <= threads; t++)
        ts_thread(s, t, 100 + t);
}

/* Loads s, builds the profile and runs the rules with config. */
static void run(struct tstream *s)
{
    ts_load(&fx_model, s, "hotspots");
    profile_build(&fx_model, NULL, &fx_prof);
    hs_find(&fx_model, &fx_prof, &config, &found);
}

static void setup(void)
{
    fx_init();
    hs_config_default(&config);
    memset(&found, 0, sizeof found);
}

static void teardown(void)
{
    hs_result_free(&found);
    fx_fini();
}

/* Runs the rules again, on the same profile, with threshold id at value. */
static void rerun(enum hs_threshold_id id, double value)
{
    hs_result_free(&found);
    config.value[id] = value;
    hs_find(&fx_model, &fx_prof, &config, &found);
}

/* F1 with 300 of the 1000 ns of self time, F2 700 in two calls. */
static void two_functions(void)
{
    struct tstream s;
    begin(&s, "summary", 1);
    ts_node(&s, 1, 1, 0, F1, 1, 1000, 1000, 1000, 1);
    ts_node(&s, 1, 2, 1, F2, 2, 700, 300, 400, 2);
    ts_end(&s, 1e9, 1000);
    run(&s);
}

/* A trace: one call of F1 that spends first_ns in itself, then calls F2
 * calls times, every every-th call taking slow_ns and the others fast_ns;
 * loaded and run. */
static void calls_of_f2(uint64_t first_ns, int calls, int every, uint64_t slow_ns,
                        uint64_t fast_ns)
{
    struct tstream s;
    begin(&s, "trace", 1);
    struct strbuf ev = {0};
    sb_puts(&ev, "f1=0x1100 f2=0x1200 @0 e1");
    uint64_t t = first_ns;
    for (int i = 0; i < calls; i++) {
        uint64_t d = i % every == every - 1 ? slow_ns : fast_ns;
        sb_printf(&ev, " @%llu e2 @%llu x", (unsigned long long)t,
                  (unsigned long long)(t + d));
        t += d;
    }
    sb_printf(&ev, " @%llu x", (unsigned long long)t);
    ts_trace(&s, 1, 0, ev.s);
    sb_free(&ev);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, t);
    run(&s);
}

/* The finding of rule on the function at addr, or NULL. */
static const struct hs_finding *finding(enum hs_rule rule, uint64_t addr)
{
    const struct pf_row *row = ts_row(&fx_model, &fx_prof, addr);
    for (size_t i = 0; i < found.count; i++)
        if (found.items[i].rule == rule && &fx_prof.rows[found.items[i].row] == row)
            return &found.items[i];
    return NULL;
}

static double evidence(const struct hs_finding *f, const char *key)
{
    for (size_t i = 0; i < f->nevidence; i++)
        if (!strcmp(f->evidence[i].key, key))
            return f->evidence[i].value;
    cr_assert_fail("no evidence %s", key);
    return 0;
}

/* F1 with 300 of the 1000 ns of self time, F2 700: both at least 25%. */
Test(hotspots, hot_self_share, .init = setup, .fini = teardown)
{
    two_functions();
    cr_assert_eq(found.count, 2);
    const struct hs_finding *f = finding(HS_HOT_SELF, F2);
    cr_assert(f);
    cr_expect_eq(f->at_stake_ns, 700);
    cr_expect_float_eq(evidence(f, "self_pct"), 70, 1e-9);
    cr_expect_eq(evidence(f, "self_per_call_ns"), 350);
    cr_expect(strstr(f->advice, "--cprof-lines="), "%s", f->advice);
    /* ranked by time at stake: F2 first */
    cr_expect_eq(&found.items[0], f);
    cr_expect(finding(HS_HOT_SELF, F1));
}

Test(hotspots, hot_self_below_threshold, .init = setup, .fini = teardown)
{
    two_functions();
    rerun(HS_SELF_PCT, 30.01);
    cr_expect_eq(found.count, 1);
    cr_expect(finding(HS_HOT_SELF, F2));
    cr_expect(!finding(HS_HOT_SELF, F1));
}

/* With line data, the advice names the hottest lines and their shares. */
Test(hotspots, hot_self_names_hot_lines, .init = setup, .fini = teardown)
{
    struct tstream s;
    begin(&s, "summary", 1);
    ts_node(&s, 1, 1, 0, F1, 1, 1000, 1000, 1000, 1);
    ts_line(&s, 1, F1, "f1", "/src/f1.c", 42, 10, 610, 610);
    ts_line(&s, 1, F1, "f1", "/src/f1.c", 40, 1, 20, 20);
    ts_line(&s, 1, F1, "f1", "/src/f1.c", 43, 10, 370, 370);
    ts_end(&s, 1e9, 1000);
    run(&s);
    const struct hs_finding *f = finding(HS_HOT_SELF, F1);
    cr_assert(f);
    cr_expect(strstr(f->advice, "hot lines: f1.c:42 (61% of "), "%s", f->advice);
    cr_expect(strstr(f->advice, ", f1.c:43 (37% of "), "%s", f->advice);
    cr_expect(!strstr(f->advice, "f1.c:40"), "2%% is left out: %s", f->advice);
    cr_expect_eq(evidence(f, "hot_line"), 42);
    cr_expect_float_eq(evidence(f, "hot_line_pct"), 61, 1e-9);
}

/* 200,000 calls of 20 ns self each: tiny_calls, not hot_self; 99,999
 * calls are too few. */
Test(hotspots, tiny_calls, .init = setup, .fini = teardown)
{
    struct tstream s;
    begin(&s, "summary", 1);
    ts_node(&s, 1, 1, 0, F1, 1, 8000000, 8000000, 8000000, 1);
    ts_node(&s, 1, 2, 1, F2, 200000, 4000000, 20, 20, 200000);
    ts_node(&s, 1, 3, 1, F3, 99999, 1999980, 20, 20, 99999);
    ts_end(&s, 1e9, 8000000);
    run(&s);
    const struct hs_finding *f = finding(HS_TINY_CALLS, F2);
    cr_assert(f);
    cr_expect(!finding(HS_HOT_SELF, F2));
    cr_expect(!finding(HS_TINY_CALLS, F3));
    cr_expect_eq(f->at_stake_ns, 4000000);
    cr_expect_eq(evidence(f, "calls"), 200000);
    cr_expect_eq(evidence(f, "self_per_call_ns"), 20);
    cr_expect_float_eq(evidence(f, "typical_self_pct"), 50, 1e-9);
    cr_expect(strstr(f->advice, "200,000 calls at 20.0 ns self each = 50% of self time"),
              "%s", f->advice);
}

/* 2,000 calls allocating a block each and freeing it: short-lived. */
Test(hotspots, hot_alloc_short_lived, .init = setup, .fini = teardown)
{
    struct tstream s;
    begin(&s, "summary", 1);
    ts_node_heap(&s, 1, 1, 0, F1, 1, 1000, (const uint64_t[]){0, 0, 0, 0, 0});
    ts_node_heap(&s, 1, 2, 1, F2, 2000, 500,
                 (const uint64_t[]){2000, 128000, 2000, 128000, 64});
    ts_node_heap(&s, 1, 3, 1, F3, 999, 100, (const uint64_t[]){999, 999, 999, 999, 1});
    ts_end_heap(&s, 1e9, 1000, (const uint64_t[]){0, 64, 0, 0, 0});
    run(&s);
    const struct hs_finding *f = finding(HS_HOT_ALLOC, F2);
    cr_assert(f);
    cr_expect(!finding(HS_HOT_ALLOC, F3), "999 calls are below alloc_calls");
    cr_expect_eq(f->at_stake_ns, 2000 * 100.0);
    cr_expect_eq(evidence(f, "allocs_per_call"), 1);
    cr_expect(strstr(f->advice,
                     "2,000 allocations in 2,000 calls (1.0 a call, 64 B each on "
                     "average), 100% of them freed by "),
              "%s", f->advice);
    cr_expect(strstr(f->advice, "reuse one buffer"), "%s", f->advice);
}

/* Ten thousand blocks over few calls, kept: the per-call branch needs
 * alloc_calls calls, the short-lived one frees; neither holds until
 * alloc_per_call allows 0.5 a call. */
Test(hotspots, hot_alloc_per_call, .init = setup, .fini = teardown)
{
    struct tstream s;
    begin(&s, "summary", 1);
    ts_node_heap(&s, 1, 1, 0, F1, 1, 1000, (const uint64_t[]){0, 0, 0, 0, 0});
    ts_node_heap(&s, 1, 2, 1, F2, 4000, 500, (const uint64_t[]){3000, 3000, 0, 0, 3000});
    ts_freed(&s, 1, 1, 2, 3000, 3000); /* freed by main: no leak */
    ts_end_heap(&s, 1e9, 1000, (const uint64_t[]){0, 3000, 0, 0, 0});
    run(&s);
    cr_expect(!finding(HS_HOT_ALLOC, F2));
    rerun(HS_ALLOC_PER_CALL, 0.5);
    const struct hs_finding *f = finding(HS_HOT_ALLOC, F2);
    cr_assert(f);
    cr_expect_eq(evidence(f, "allocs_per_call"), 0.75);
    cr_expect(strstr(f->advice, "hoist the allocation"), "%s", f->advice);
}

/* 200 blocks of 64 bytes never freed: a leak by blocks; 99 are not. */
Test(hotspots, leak, .init = setup, .fini = teardown)
{
    struct tstream s;
    begin(&s, "summary", 1);
    ts_node_heap(&s, 1, 1, 0, F1, 1, 1000, (const uint64_t[]){0, 0, 0, 0, 0});
    ts_node_heap(&s, 1, 2, 1, F2, 200, 100, (const uint64_t[]){200, 12800, 0, 0, 12800});
    ts_node_heap(&s, 1, 3, 1, F3, 99, 100, (const uint64_t[]){99, 6336, 0, 0, 19136});
    ts_end_heap(&s, 1e9, 1000, (const uint64_t[]){19136, 19136, 299, 0, 0});
    run(&s);
    const struct hs_finding *f = finding(HS_LEAK, F2);
    cr_assert(f);
    cr_expect(!finding(HS_LEAK, F3));
    cr_expect_eq(f->at_stake_ns, 0);
    cr_expect_eq(f->at_stake_bytes, 12800);
    cr_expect_eq(evidence(f, "leaked_blocks"), 200);
    cr_expect(strstr(f->advice, "200 blocks (12.5 KiB) it allocated were never freed"),
              "%s", f->advice);
    /* a leak puts no time at stake: it ranks after the time findings */
    cr_expect_eq(&found.items[found.count - 1], f);
    rerun(HS_LEAK_BYTES, 6336);
    cr_expect(finding(HS_LEAK, F3), "6336 bytes reach leak_bytes");
}

/* A trace of 100 calls, 98 of 10 us and 2 of 5 ms: p50 10 us, p99 5 ms. */
Test(hotspots, latency, .init = setup, .fini = teardown)
{
    calls_of_f2(0, 100, 50, 5000000, 10000);
    const struct hs_finding *f = finding(HS_LATENCY, F2);
    cr_assert(f);
    cr_expect_eq(evidence(f, "p50_ns"), 10000);
    cr_expect_eq(evidence(f, "p99_ns"), 5000000);
    cr_expect_eq(evidence(f, "p99_over_p50"), 500);
    /* the time above the median: 2 x (5 ms - 10 us) */
    cr_expect_eq(f->at_stake_ns, 2 * (5000000 - 10000));
    cr_expect(!finding(HS_LATENCY, F1), "one call");
    /* 9.98 of the 10.98 ms of self time: 90.9% */
    rerun(HS_LATENCY_PCT, 90.8);
    cr_expect(finding(HS_LATENCY, F2));
    rerun(HS_LATENCY_PCT, 91);
    cr_expect(!finding(HS_LATENCY, F2));
    rerun(HS_LATENCY_PCT, 1);
    rerun(HS_LATENCY_RATIO, 501);
    cr_expect(!finding(HS_LATENCY, F2));
}

/* CPU time (format 1.5) put on the rows by hand: F2 waited 900 of its
 * 1000 ns. Without CPU data the rule is off. */
Test(hotspots, waiting, .init = setup, .fini = teardown)
{
    struct tstream s;
    begin(&s, "summary", 1);
    ts_node(&s, 1, 1, 0, F1, 1, 2000, 2000, 2000, 1);
    ts_node(&s, 1, 2, 1, F2, 10, 1000, 100, 100, 10);
    ts_end(&s, 1e9, 2000);
    run(&s);
    cr_expect(!finding(HS_WAITING, F2));
    cr_expect(finding(HS_HOT_SELF, F2));
    fx_prof.cpu = 1;
    struct pf_row *f1 = (struct pf_row *)ts_row(&fx_model, &fx_prof, F1);
    struct pf_row *f2 = (struct pf_row *)ts_row(&fx_model, &fx_prof, F2);
    f1->cpu_self_ns = 1000;
    f2->cpu_self_ns = 100;
    rerun(HS_WAIT_PCT, hs_thresholds[HS_WAIT_PCT].value);
    const struct hs_finding *f = finding(HS_WAITING, F2);
    cr_assert(f);
    cr_expect_eq(f->at_stake_ns, 900);
    cr_expect_float_eq(evidence(f, "wait_pct"), 90, 1e-9);
    cr_expect(!finding(HS_HOT_SELF, F2), "waiting explains it");
    /* F1 is on the CPU: hot by its CPU share, 1000 of 1100 */
    const struct hs_finding *hot = finding(HS_HOT_SELF, F1);
    cr_assert(hot);
    cr_expect_float_eq(evidence(hot, "cpu_self_pct"), 1000 * 100.0 / 1100, 1e-9);
    rerun(HS_WAIT_PCT, 91);
    cr_expect(!finding(HS_WAITING, F2));
}

/* Four threads start in F1 with 10, 10, 10 and 30 ms: 3x apart; the
 * slowest is 15 ms above the mean. */
Test(hotspots, imbalance, .init = setup, .fini = teardown)
{
    struct tstream s;
    begin(&s, "summary", 4);
    for (uint32_t t = 1; t <= 4; t++) {
        uint64_t ns = t == 4 ? 30000000 : 10000000;
        ts_node(&s, t, 1, 0, F1, 1, ns, ns, ns, 1);
    }
    ts_end(&s, 1e9, 30000000);
    run(&s);
    const struct hs_finding *f = finding(HS_IMBALANCE, F1);
    cr_assert(f);
    cr_expect_eq(f->at_stake_ns, 15000000);
    cr_expect_eq(evidence(f, "threads"), 4);
    cr_expect_eq(evidence(f, "slowest_over_fastest"), 3);
    cr_expect_eq(evidence(f, "slowest_tid"), 104);
    cr_expect(strstr(f->advice,
                     "4 threads of pid 100 start with it, the slowest (tid 104) "
                     "takes 30.0 ms, the fastest 10.0 ms (3.0x)"),
              "%s", f->advice);
    rerun(HS_IMBALANCE_RATIO, 3.01);
    cr_expect(!finding(HS_IMBALANCE, F1));
}

/* With CPU time, imbalance compares CPU time: equal CPU, unequal wall is
 * no imbalance. */
Test(hotspots, imbalance_by_cpu_time, .init = setup, .fini = teardown)
{
    struct tstream s;
    begin(&s, "summary", 2);
    ts_node(&s, 1, 1, 0, F1, 1, 10000000, 10000000, 10000000, 1);
    ts_node(&s, 2, 1, 0, F1, 1, 30000000, 30000000, 30000000, 1);
    ts_end(&s, 1e9, 30000000);
    ts_load(&fx_model, &s, "hotspots");
    struct m_process *p = fx_model.procs[0];
    p->has_cpu = 1;
    for (size_t t = 0; t < p->nthreads; t++)
        p->threads[t]->nodes[1].cpu_ns = 9000000;
    profile_build(&fx_model, NULL, &fx_prof);
    hs_find(&fx_model, &fx_prof, &config, &found);
    cr_expect(!finding(HS_IMBALANCE, F1));
}

/* Threads that start in different functions, or one thread, are not
 * compared. */
Test(hotspots, no_imbalance_between_different_work, .init = setup, .fini = teardown)
{
    struct tstream s;
    begin(&s, "summary", 2);
    ts_node(&s, 1, 1, 0, F1, 1, 1000000, 1000000, 1000000, 1);
    ts_node(&s, 2, 1, 0, F2, 1, 9000000, 9000000, 9000000, 1);
    ts_end(&s, 1e9, 9000000);
    run(&s);
    cr_expect(!finding(HS_IMBALANCE, F1) && !finding(HS_IMBALANCE, F2));
}

/* A thread preempted for 10 ms in 5 of F2's 1,000 calls of 1 us: F2's
 * wall self time is 51 ms, but no call counts above its p99 (1 us), so
 * its share is 1 of 11 ms, not hot; F1's 10 ms in one call is. */
Test(hotspots, preempted_calls_do_not_make_a_function_hot, .init = setup,
     .fini = teardown)
{
    calls_of_f2(10000000, 1000, 200, 10000000, 1000); /* F1's own 10 ms first */
    cr_expect(!finding(HS_HOT_SELF, F2));
    const struct hs_finding *f = finding(HS_HOT_SELF, F1);
    cr_assert(f);
    cr_expect_float_eq(evidence(f, "typical_self_pct"), 10000000 * 100.0 / 11000000,
                       1e-9);
    cr_expect_eq(evidence(f, "self_ns"), 10000000);
    /* 0.5% of its calls: not even its p99 is slow */
    cr_expect(!finding(HS_LATENCY, F2));
}

Test(hotspots, thresholds_parse, .init = setup, .fini = teardown)
{
    char msg[512];
    cr_expect_eq(hs_config_set(&config, "self_pct=12.5", msg, sizeof msg), 0);
    cr_expect_eq(config.value[HS_SELF_PCT], 12.5);
    cr_expect_eq(hs_config_set(&config, "speed=1", msg, sizeof msg), -1);
    cr_expect(strstr(msg, "unknown threshold 'speed' (valid: self_pct, tiny_calls, "),
              "%s", msg);
    cr_expect(strstr(msg, "imbalance_ns)"), "%s", msg);
    cr_expect_eq(hs_config_set(&config, "self_pct=-1", msg, sizeof msg), -1);
    cr_expect(strstr(msg, "self_pct wants a number (0 or more), not '-1'"), "%s", msg);
    cr_expect_eq(hs_config_set(&config, "self_pct", msg, sizeof msg), -1);
    cr_expect_eq(hs_config_set(&config, "self_pct=", msg, sizeof msg), -1);
    cr_expect_eq(hs_config_set(&config, "self_pct=1x", msg, sizeof msg), -1);
    cr_expect_eq(config.value[HS_SELF_PCT], 12.5, "unchanged by the bad ones");
    for (size_t i = 0; i < HS_NTHRESHOLDS; i++)
        cr_expect(hs_thresholds[i].name && hs_thresholds[i].doc, "threshold %zu", i);
}

Test(hotspots, row_json, .init = setup, .fini = teardown)
{
    two_functions();
    const struct pf_row *f2 = ts_row(&fx_model, &fx_prof, F2);
    char *json = hs_row_json(&found, (size_t)(f2 - fx_prof.rows));
    static const char want[] =
        "[{\"rule\": \"hot_self\", \"evidence\": {\"self_ns\": 700, \"self_pct\": 70.00, "
        "\"typical_self_ns\": 700, \"typical_self_pct\": 70.00, \"calls\": 2, "
        "\"self_per_call_ns\": 350}, \"advice\": \"";
    cr_expect(!strncmp(json, want, strlen(want)), "%s", json);
    cr_expect(json[strlen(json) - 1] == ']' && json[strlen(json) - 2] == '}', "%s", json);
    free(json);
    json = hs_row_json(&found, fx_prof.nrows); /* no such row: no finding */
    cr_expect_str_eq(json, "[]");
    free(json);
}
