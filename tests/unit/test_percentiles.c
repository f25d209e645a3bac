/*
 * Latency percentiles (p50, p90, p99 of inclusive time per call): the
 * estimate of a histogram bucket and its error bound, nearest-rank
 * percentiles, merging over nodes, threads and processes, exact values
 * from traces (and the histogram past the limit on kept times), recursion,
 * count mode, old files with coarse histograms, and what cprof report
 * prints (JSON and CSV keys, --percentiles in text).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "cprof_format.h"
#include "model.h"
#include "profile.h"
#include "fixture.h"
#include "stream.h"

#define F 0x1100
#define G 0x1200
#define H 0x1300

TestSuite(pct, .init = fx_init, .fini = fx_fini);

/* A header as ts_begin's with the node histograms' sub_bits set: the
 * header's last value is hist_sub_bits, one positive fixint byte. */
static void begin(struct tstream *s, const char *mode, uint64_t pid, unsigned sub_bits)
{
    ts_begin(s, mode, pid);
    cr_assert_eq(s->out.pos[-1], 2);
    s->out.pos[-1] = (uint8_t)sub_bits;
    ts_module(s, 0, 0x1000, 0x2000, "/nonexistent/prog");
}

/* A node record whose histogram holds the given per-call ticks. */
static void node(struct tstream *s, unsigned sub_bits, uint32_t thread, uint64_t id,
                 uint64_t parent, uint64_t fn, const uint64_t *ticks, size_t n)
{
    uint64_t incl = 0, min = UINT64_MAX, max = 0;
    uint64_t *count = calloc(4096, sizeof *count);
    for (size_t i = 0; i < n; i++) {
        incl += ticks[i];
        min = ticks[i] < min ? ticks[i] : min;
        max = ticks[i] > max ? ticks[i] : max;
        count[cprof_hist_bucket(ticks[i], sub_bits)]++;
    }
    uint32_t used = 0;
    for (unsigned b = 0; b < 4096; b++)
        used += count[b] != 0;
    struct mp_out *o = &s->out;
    mp_array(o, 10);
    mp_uint(o, CPROF_REC_NODE);
    mp_uint(o, thread);
    mp_uint(o, id);
    mp_uint(o, parent);
    mp_uint(o, fn);
    mp_uint(o, n);
    mp_uint(o, incl);
    mp_uint(o, n ? min : 0);
    mp_uint(o, max);
    mp_array(o, 2 * used);
    for (unsigned b = 0; b < 4096; b++) {
        if (count[b]) {
            mp_uint(o, b);
            mp_uint(o, count[b]);
        }
    }
    free(count);
}

static void load(struct tstream *s, const char *name)
{
    ts_load(&fx_model, s, name);
}

static const struct pf_row *row_of(uint64_t addr)
{
    return ts_row(&fx_model, &fx_prof, addr);
}

/* Nearest rank of sorted values. */
static uint64_t rank_of(const uint64_t *sorted, size_t n, double pct)
{
    size_t r = (size_t)ceil(pct / 100 * (double)n);
    return sorted[(r ? r : 1) - 1];
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void expect_within(double got, double want, double rel, const char *what)
{
    cr_expect(fabs(got - want) <= rel * want, "%s: %.3f, expected %.3f within %.2f%%",
              what, got, want, rel * 100);
}

/* ---- the estimator -------------------------------------------------------- */

Test(pct, bucket_estimate_is_within_the_stated_error)
{
    cr_expect(model_hist_error(6) <= 0.008, "6 sub-bits: within 0.8%%");
    cr_expect_eq(model_hist_error(2), 0.125);
    uint64_t x = 1;
    for (int i = 0; i < 200000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t v = (x >> 20) >> (x % 40); /* spread over every octave */
        if (!v)
            continue;
        double est = model_bucket_value(cprof_hist_bucket(v, 6), 6, 0, UINT64_MAX);
        cr_assert(fabs(est - (double)v) <= model_hist_error(6) * (double)v,
                  "%llu estimated as %.1f", (unsigned long long)v, est);
    }
    /* small times have a bucket each: exact */
    for (uint64_t v = 0; v < 128; v++)
        cr_expect_eq(model_bucket_value(cprof_hist_bucket(v, 6), 6, 0, UINT64_MAX),
                     (double)v);
    /* clamped to the node's min and max */
    unsigned b = cprof_hist_bucket(1000000, 6);
    cr_expect_eq(model_bucket_value(b, 6, 1000000, 1000000), 1000000.0);
    cr_expect_eq(model_bucket_value(b, 6, 0, 999000), 999000.0);
}

/* The last bucket a file may name (the reader allows buckets below
 * (65 - sub_bits) << sub_bits) ends past 64 bits: its edges saturate
 * instead of shifting by 64 (a fuzzing find), at every resolution. */
Test(pct, last_bucket_edges_saturate)
{
    for (unsigned sub = 0; sub <= 6; sub++) {
        unsigned last = ((65u - sub) << sub) - 1u;
        unsigned long long lo = cprof_hist_bucket_low(last, sub);
        cr_expect_gt(lo, 0ull, "sub_bits %u", sub);
        cr_expect_eq(cprof_hist_bucket_low(last + 1, sub), ~0ull, "sub_bits %u", sub);
        double v = model_bucket_value(last, sub, 0, 0);
        cr_expect(v >= (double)lo && isfinite(v), "sub_bits %u: %g", sub, v);
        /* and a bucket well inside the range is unchanged */
        cr_expect_eq(cprof_hist_bucket_low(1u << sub, sub), 1ull << sub);
    }
}

Test(pct, nearest_rank)
{
    struct m_sample s[100];
    for (int i = 0; i < 100; i++)
        s[i] = (struct m_sample){(double)(100 - i), 1}; /* unsorted on purpose */
    double pcts[] = {50, 90, 99, 100, 0.1}, out[5];
    cr_assert_eq(model_percentiles(s, 100, pcts, 5, out), 0);
    cr_expect_eq(out[0], 50);
    cr_expect_eq(out[1], 90);
    cr_expect_eq(out[2], 99);
    cr_expect_eq(out[3], 100);
    cr_expect_eq(out[4], 1);
    /* counts: 90 calls of 1, 10 of 10 */
    struct m_sample c[] = {{10, 10}, {1, 90}};
    cr_assert_eq(model_percentiles(c, 2, pcts, 3, out), 0);
    cr_expect_eq(out[0], 1);
    cr_expect_eq(out[1], 1);
    cr_expect_eq(out[2], 10);
    struct m_sample none[] = {{5, 0}};
    cr_expect_eq(model_percentiles(none, 1, pcts, 3, out), -1);
}

/* Synthetic latency distributions through the histogram: every percentile
 * within the stated error of the exact one. */
Test(pct, histogram_percentiles_match_exact_ones)
{
    enum { N = 20000 };
    static uint64_t v[N];
    uint64_t x = 7;
    for (int dist = 0; dist < 3; dist++) {
        for (int i = 0; i < N; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(x >> 11) / 9007199254740992.0;
            if (dist == 0) /* log-uniform over 1 µs .. 1 s */
                v[i] = (uint64_t)(1000 * pow(1e6, u));
            else if (dist == 1) /* bimodal: 90% near 1 ms, 10% near 10 ms */
                v[i] = (uint64_t)((i % 10 ? 1e6 : 1e7) * (1 + u / 20));
            else /* narrow: 5,000 .. 5,100 ticks */
                v[i] = 5000 + (uint64_t)(u * 100);
        }
        struct tstream s;
        begin(&s, "summary", 100 + (uint64_t)dist, 6);
        ts_thread(&s, 1, 1);
        node(&s, 6, 1, 1, 0, F, v, N);
        ts_thread_end(&s, 1, "");
        ts_end(&s, 1e9, 2e10);
        model_free(&fx_model);
        model_init(&fx_model);
        load(&s, "dist.cprof");
        profile_free(&fx_prof);
        profile_build(&fx_model, NULL, &fx_prof);
        qsort(v, N, sizeof *v, cmp_u64);
        const struct pf_row *r = row_of(F);
        cr_assert(r->has_pct);
        cr_expect(!r->pct_exact);
        double e = model_hist_error(6);
        expect_within(r->p50_ns, (double)rank_of(v, N, 50), e, "p50");
        expect_within(r->p90_ns, (double)rank_of(v, N, 90), e, "p90");
        expect_within(r->p99_ns, (double)rank_of(v, N, 99), e, "p99");
        cr_expect_leq(fx_prof.pct_error, 0.02);
    }
}

/* One function's calls spread over nodes (two call paths), threads and
 * processes merge into one distribution. */
Test(pct, merged_over_nodes_threads_and_processes)
{
    uint64_t fast[60], mid[30], slow[9], slowest[1] = {900000};
    for (int i = 0; i < 60; i++)
        fast[i] = 1000 + (uint64_t)i; /* 1000 .. 1059 */
    for (int i = 0; i < 30; i++)
        mid[i] = 2000 + 10 * (uint64_t)i; /* 2000 .. 2290 */
    for (int i = 0; i < 9; i++)
        slow[i] = 50000 + 1000 * (uint64_t)i; /* 50000 .. 58000 */
    struct tstream a;
    begin(&a, "summary", 1, 6);
    ts_thread(&a, 1, 11);
    node(&a, 6, 1, 1, 0, F, fast, 60);
    ts_thread_end(&a, 1, "");
    ts_thread(&a, 2, 12);
    uint64_t g[1] = {100000};
    node(&a, 6, 2, 1, 0, G, g, 1);
    node(&a, 6, 2, 2, 1, F, mid, 30); /* under another caller */
    ts_thread_end(&a, 2, "");
    ts_end(&a, 1e9, 1e6);
    load(&a, "a.cprof");
    struct tstream b;
    begin(&b, "summary", 2, 6);
    ts_thread(&b, 1, 21);
    node(&b, 6, 1, 1, 0, F, slow, 9);
    node(&b, 6, 1, 2, 1, F, slowest, 1); /* recursion: F inside F */
    ts_thread_end(&b, 1, "");
    ts_end(&b, 1e9, 1e6);
    load(&b, "b.cprof");
    profile_build(&fx_model, NULL, &fx_prof);
    const struct pf_row *r = row_of(F);
    cr_expect_eq(r->calls, 100);
    cr_expect_eq(r->completed, 100);
    cr_assert(r->has_pct);
    uint64_t all[100];
    memcpy(all, fast, sizeof fast);
    memcpy(all + 60, mid, sizeof mid);
    memcpy(all + 90, slow, sizeof slow);
    all[99] = slowest[0];
    qsort(all, 100, sizeof *all, cmp_u64);
    double e = model_hist_error(6);
    expect_within(r->p50_ns, (double)rank_of(all, 100, 50), e, "p50");
    expect_within(r->p90_ns, (double)rank_of(all, 100, 90), e, "p90");
    expect_within(r->p99_ns, (double)rank_of(all, 100, 99), e, "p99");
    cr_expect_eq(rank_of(all, 100, 99), 58000, "the inner call counts once, on its own");
}

/* A 1.2 file of the earlier runtime (4 buckets an octave) still reads, with
 * its coarser error. */
Test(pct, coarse_histograms_of_older_files)
{
    uint64_t v[100];
    for (int i = 0; i < 100; i++)
        v[i] = 1000 * (uint64_t)(i + 1);
    struct tstream s;
    begin(&s, "summary", 3, 2);
    ts_thread(&s, 1, 1);
    node(&s, 2, 1, 1, 0, F, v, 100);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 1e6);
    load(&s, "old.cprof");
    profile_build(&fx_model, NULL, &fx_prof);
    const struct pf_row *r = row_of(F);
    cr_assert(r->has_pct);
    cr_expect_eq(fx_prof.pct_error, 0.125);
    expect_within(r->p50_ns, 50000, 0.125, "p50");
    expect_within(r->p99_ns, 99000, 0.125, "p99");
}

/* ---- traces: exact --------------------------------------------------------- */

#define TOKEN(delta, kind) (((uint64_t)(delta) << CPROF_EV_KIND_BITS) | (kind))

/* Events of calls of function index 1 lasting ticks[i], one after the other
 * (gap ticks apart), into ev; returns how many. */
static size_t calls_events(const uint64_t *ticks, size_t n, uint64_t gap, uint64_t *ev)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        ev[k++] = TOKEN(gap, CPROF_EV_ENTER);
        ev[k++] = 1;
        ev[k++] = TOKEN(ticks[i], CPROF_EV_EXIT);
    }
    return k;
}

static void define_fn(struct tstream *s, uint64_t base, uint64_t index, uint64_t addr)
{
    uint64_t ev[] = {TOKEN(0, CPROF_EV_EXT), CPROF_EXT_FUNC, index, addr};
    ts_trace_raw(s, 1, base, ev, 4);
}

Test(pct, trace_percentiles_are_exact)
{
    uint64_t t[100], ev[300];
    for (int i = 0; i < 100; i++) /* 1 .. 100 µs, shuffled */
        t[i] = 1000 * (uint64_t)((i * 37) % 100 + 1);
    struct tstream s;
    begin(&s, "trace", 4, 6);
    ts_thread(&s, 1, 1);
    define_fn(&s, 0, 1, F);
    size_t n = calls_events(t, 100, 10, ev);
    ts_trace_raw(&s, 1, 0, ev, n);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 1e8);
    load(&s, "trace.cprof");
    profile_build(&fx_model, NULL, &fx_prof);
    const struct pf_row *r = row_of(F);
    cr_assert(r->has_pct);
    cr_expect(r->pct_exact);
    cr_expect_eq(r->p50_ns, 50000);
    cr_expect_eq(r->p90_ns, 90000);
    cr_expect_eq(r->p99_ns, 99000);
    cr_expect(!fx_prof.pct_estimated);
}

/* Recursion in a trace: F(F(F)) gives three calls, each with its own
 * inclusive time, as min and max count them. */
Test(pct, trace_recursion_counts_every_call_once)
{
    struct tstream s;
    begin(&s, "trace", 5, 6);
    ts_thread(&s, 1, 1);
    ts_trace(&s, 1, 0, "f1=0x1100 @0 e1 @100 e1 @200 e1 @500 x @900 x @2000 x");
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 1e6);
    load(&s, "rec.cprof");
    profile_build(&fx_model, NULL, &fx_prof);
    const struct pf_row *r = row_of(F);
    cr_expect_eq(r->calls, 3);
    cr_assert(r->pct_exact);
    cr_expect_eq(r->min_ns, 300);
    cr_expect_eq(r->max_ns, 2000);
    cr_expect_eq(r->p50_ns, 800); /* 300, 800, 2000 */
    cr_expect_eq(r->p99_ns, 2000);
}

/* Past M_EXACT_PER_FUNC calls of a function the analyzer stops keeping
 * their times: the percentiles come from the histogram, within its error,
 * and say so. */
Test(pct, trace_past_the_limit_uses_the_histogram)
{
    enum { CHUNK = 10000 };
    size_t total = M_EXACT_PER_FUNC + 1000;
    uint64_t *all = malloc(total * sizeof *all), *ev = malloc(3 * CHUNK * sizeof *ev);
    struct tstream s;
    begin(&s, "trace", 6, 6);
    ts_thread(&s, 1, 1);
    define_fn(&s, 0, 1, F);
    for (size_t i = 0; i < total; i++)
        all[i] = 1000 + (i * 7919) % 100000;
    for (size_t at = 0; at < total; at += CHUNK) {
        size_t n = total - at < CHUNK ? total - at : CHUNK;
        ts_trace_raw(&s, 1, 0, ev, calls_events(all + at, n, 1, ev));
    }
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 1e12);
    load(&s, "long.cprof");
    profile_build(&fx_model, NULL, &fx_prof);
    const struct pf_row *r = row_of(F);
    cr_expect_eq(r->calls, total);
    cr_assert(r->has_pct);
    cr_expect(!r->pct_exact);
    cr_expect(fx_prof.pct_estimated);
    cr_expect_eq(fx_model.exact_kept, 0, "nothing kept for it");
    qsort(all, total, sizeof *all, cmp_u64);
    double e = model_hist_error(6);
    expect_within(r->p50_ns, (double)rank_of(all, total, 50), e, "p50");
    expect_within(r->p99_ns, (double)rank_of(all, total, 99), e, "p99");
    free(all);
    free(ev);
}

/* A trace and a summary file of the same function: not every call's time
 * is known, so the histogram answers for both. */
Test(pct, trace_and_summary_mixed_use_the_histogram)
{
    uint64_t t[3] = {1000, 2000, 3000}, ev[9];
    struct tstream s;
    begin(&s, "trace", 7, 6);
    ts_thread(&s, 1, 1);
    define_fn(&s, 0, 1, F);
    ts_trace_raw(&s, 1, 0, ev, calls_events(t, 3, 1, ev));
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 1e6);
    load(&s, "t.cprof");
    struct tstream u;
    begin(&u, "summary", 8, 6);
    ts_thread(&u, 1, 1);
    uint64_t v[1] = {4000};
    node(&u, 6, 1, 1, 0, F, v, 1);
    ts_thread_end(&u, 1, "");
    ts_end(&u, 1e9, 1e6);
    load(&u, "u.cprof");
    profile_build(&fx_model, NULL, &fx_prof);
    const struct pf_row *r = row_of(F);
    cr_expect_eq(r->completed, 4);
    cr_assert(r->has_pct);
    cr_expect(!r->pct_exact);
    expect_within(r->p50_ns, 2000, model_hist_error(6), "p50");
    expect_within(r->p99_ns, 4000, model_hist_error(6), "p99");
}

/* ---- the report ------------------------------------------------------------ */

static char *write_summary(void)
{
    uint64_t v[100];
    for (int i = 0; i < 100; i++)
        v[i] = i < 90 ? 1000000 : 10000000;
    uint64_t one[1] = {20000000};
    struct tstream s;
    begin(&s, "summary", 9, 6);
    ts_thread(&s, 1, 1);
    node(&s, 6, 1, 1, 0, G, one, 1);
    node(&s, 6, 1, 2, 1, F, v, 100);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 1e9);
    return ts_write_temp(&s, "pct");
}

Test(pct_report, json_csv_and_text_columns)
{
    char *path = write_summary();
    char *out, *err;
    char *json[] = {"report", path, "--format", "json", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, json, &out, &err), 0, "%s", err);
    /* 1 ms is estimated as its bucket's midpoint, 1.0035 ms (within 0.78%);
     * 10 ms is the node's max */
    cr_expect(strstr(out,
                     "\"max_ns\": 10000000, \"p50_ns\": 1003520, \"p90_ns\": 1003520, "
                     "\"p99_ns\": 10000000, \"percentiles_exact\": false, "),
              "%s", out);
    free(out);
    free(err);
    char *csv[] = {"report", path, "--format", "csv", "--sort", "p99", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, csv, &out, &err), 0, "%s", err);
    cr_expect(
        strstr(out, ",min_ns,max_ns,p50_ns,p90_ns,p99_ns,percentiles_exact,self_pct,"),
        "%s", out);
    cr_expect(strstr(out, ",20000000,20000000,20000000,20000000,20000000,false,"),
              "G first by p99: %s", out);
    cr_expect(strstr(out, ",1000000,10000000,1003520,1003520,10000000,false,"), "%s",
              out);
    free(out);
    free(err);
    char *plain[] = {"report", path, NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, plain, &out, &err), 0, "%s", err);
    cr_expect(!strstr(out, "p50"), "no percentile columns by default: %s", out);
    free(out);
    free(err);
    char *text[] = {"report", path, "--percentiles", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, text, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "     p50      p90      p99"), "%s", out);
    cr_expect(strstr(out, "1.00 ms  1.00 ms  10.0 ms"), "%s", out);
    cr_expect(strstr(out, "estimated from histograms (within 0.78%)"), "%s", out);
    free(out);
    free(err);
    unlink(path);
    free(path);
}

Test(pct_report, count_mode_has_null_percentiles)
{
    struct tstream s;
    ts_begin(&s, "count", 10);
    ts_module(&s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(&s, 1, 1);
    ts_node(&s, 1, 1, 0, F, 5, 0, 0, 0, 0);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 0, 0);
    char *path = ts_write_temp(&s, "count");
    char *out, *err;
    char *json[] = {"report", path, "--format", "json", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, json, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "\"p50_ns\": null, \"p90_ns\": null, \"p99_ns\": null, "
                          "\"percentiles_exact\": null"),
              "%s", out);
    free(out);
    free(err);
    char *csv[] = {"report", path, "--format", "csv", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, csv, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, ",5,,,,,,,,,,,,,,,,,/nonexistent/prog,"), "%s", out);
    free(out);
    free(err);
    char *text[] = {"report", path, "--percentiles", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, text, &out, &err), 0, "%s", err);
    cr_expect(!strstr(out, "p50"), "count mode: no percentile columns: %s", out);
    free(out);
    free(err);
    unlink(path);
    free(path);
}

Test(pct_report, histogram_losses_are_warned)
{
    struct tstream s;
    begin(&s, "summary", 11, 6);
    ts_thread(&s, 1, 1);
    uint64_t v[2] = {1000, 2000};
    node(&s, 6, 1, 1, 0, F, v, 2);
    ts_thread_end(&s, 1, "hist_dropped=5");
    ts_end(&s, 1e9, 1e6);
    char *path = ts_write_temp(&s, "dropped");
    char *out, *err;
    char *text[] = {"report", path, NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, text, &out, &err), 0, "%s", err);
    cr_expect(
        strstr(out, "5 completed calls are missing from the latency histograms") ||
            strstr(err, "5 completed calls are missing from the latency histograms"),
        "%s%s", out, err);
    free(out);
    free(err);
    unlink(path);
    free(path);
}
