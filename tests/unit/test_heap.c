/*
 * Heap data (format 1.2) on hand-written files: one run stated twice, as
 * summary records and as a trace, must give the same exact per-function
 * heap table (self and inclusive with recursion counted once, peaks,
 * leaks with cross-thread frees and parent blocks), the same totals, and
 * the same output in every format. Files of format 1.1 have no heap data;
 * malformed heap records and events are errors that name the field.
 *
 * The run, thread 1 (main 0x1100, fib 0x1200, a 0x1300):
 *   outside any call: alloc 7                  (never freed)
 *   main: alloc 100                            (freed by thread 2)
 *     fib: alloc 25, alloc 25, free 25 (its own)
 *       fib: alloc 10
 *         fib: free 10 (the block of the fib above)
 *     a: alloc 300 x3, free 300 x3 (its own)
 *   outside any call: free 40 (a block the parent allocated before fork)
 * thread 2: free 100 (main's block), outside any call.
 * At exit 82 bytes in 3 blocks are live: fib's 25, the outside 7 and 50
 * of the parent's.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "cprof_format.h"
#include "fmt.h"
#include "model.h"
#include "profile.h"
#include "fixture.h"
#include "stream.h"

#define MAIN 0x1100
#define FIB 0x1200
#define A 0x1300

TestSuite(heap, .init = fx_init, .fini = fx_fini);

static const uint64_t end_heap[5] = {82, 1032, 3, 4096000, 2};

static void begin(struct tstream *s, const char *mode)
{
    ts_begin(s, mode, 100);
    ts_module(s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(s, 1, 100);
    ts_thread(s, 2, 101);
}

static void write_summary(struct tstream *s)
{
    begin(s, "summary");
    ts_node_heap(s, 1, 1, 0, MAIN, 1, 100, (const uint64_t[]){1, 100, 0, 0, 1032});
    ts_node_heap(s, 1, 2, 1, FIB, 1, 40, (const uint64_t[]){2, 50, 1, 25, 157});
    ts_node_heap(s, 1, 3, 2, FIB, 1, 20, (const uint64_t[]){1, 10, 0, 0, 142});
    ts_node_heap(s, 1, 4, 3, FIB, 1, 10, (const uint64_t[]){0, 0, 1, 10, 0});
    ts_node_heap(s, 1, 5, 1, A, 1, 10, (const uint64_t[]){3, 900, 3, 900, 1032});
    ts_heap(s, 1,
            "alloc_calls=8,alloc_bytes=1067,free_calls=6,freed_bytes=975,"
            "outside_alloc_calls=1,outside_alloc_bytes=7,outside_free_calls=1,"
            "outside_freed_bytes=40");
    ts_heap(s, 2,
            "free_calls=1,freed_bytes=100,outside_free_calls=1,outside_freed_bytes=100");
    ts_freed(s, 1, 1, 2, 1, 25);  /* fib frees its own block */
    ts_freed(s, 1, 1, 3, 1, 10);  /* the inner fib's block */
    ts_freed(s, 1, 1, 5, 3, 900); /* a's blocks */
    ts_freed(s, 1, 0, 0, 1, 40);  /* the parent's block */
    ts_freed(s, 2, 1, 1, 1, 100); /* main's block, freed by thread 2 */
    ts_thread_end(s, 1, "");
    ts_thread_end(s, 2, "");
    ts_end_heap(s, 1e9, 100, end_heap);
}

/* The same run as a trace; with_totals adds the heap records the runtime
 * writes (without them, the replay's own totals are used). */
static void write_trace(struct tstream *s, int with_totals)
{
    begin(s, "trace");
    ts_trace(s, 1, 0,
             "f1=0x1100 f2=0x1200 f3=0x1300 @0 a7:7 e1 a100:107 @10 e2 a25:132 a25:157 "
             "r25:132 @20 e2 a10:142 @30 e2 r10:132 @40 x @50 x @60 x "
             "@70 e3 a300:432 a300:732 a300:1032 r300:732 r300:432 r300:132 @80 x "
             "@100 x r40:92");
    ts_trace(s, 2, 0, "@50 r100:32");
    if (with_totals) {
        ts_heap(s, 1,
                "alloc_calls=8,alloc_bytes=1067,free_calls=6,freed_bytes=975,"
                "outside_alloc_calls=1,outside_alloc_bytes=7,outside_free_calls=1,"
                "outside_freed_bytes=40");
        ts_heap(
            s, 2,
            "free_calls=1,freed_bytes=100,outside_free_calls=1,outside_freed_bytes=100");
    }
    ts_freed(s, 1, 1, 2, 2, 35); /* fib's blocks: owner is fib's function index */
    ts_freed(s, 1, 1, 3, 3, 900);
    ts_freed(s, 1, 0, 0, 1, 40);
    ts_freed(s, 2, 1, 1, 1, 100);
    ts_thread_end(s, 1, "");
    ts_thread_end(s, 2, "");
    ts_end_heap(s, 1e9, 100, end_heap);
}

static void load(struct tstream *s)
{
    ts_load(&fx_model, s, "test.cprof");
    profile_build(&fx_model, NULL, &fx_prof);
}

static const struct pf_row *row(uint64_t addr)
{
    return ts_row(&fx_model, &fx_prof, addr);
}

/* self and total: {alloc_calls, alloc_bytes, free_calls, freed_bytes}. */
static void expect_heap(uint64_t addr, const uint64_t self[4], const uint64_t total[4],
                        uint64_t peak, uint64_t leaked_blocks, uint64_t leaked_bytes)
{
    const struct pf_row *r = row(addr);
    const uint64_t got[11] = {
        r->alloc_calls,      r->alloc_bytes,       r->free_calls,
        r->freed_bytes,      r->total_alloc_calls, r->total_alloc_bytes,
        r->total_free_calls, r->total_freed_bytes, r->peak_bytes,
        r->leaked_blocks,    r->leaked_bytes};
    const uint64_t want[11] = {self[0],  self[1],       self[2],     self[3],
                               total[0], total[1],      total[2],    total[3],
                               peak,     leaked_blocks, leaked_bytes};
    static const char *const names[11] = {
        "alloc_calls",       "alloc_bytes",       "free_calls",       "freed_bytes",
        "total_alloc_calls", "total_alloc_bytes", "total_free_calls", "total_freed_bytes",
        "peak_bytes",        "leaked_blocks",     "leaked_bytes"};
    for (int i = 0; i < 11; i++)
        cr_expect_eq(got[i], want[i], "0x%llx: %s %llu, expected %llu",
                     (unsigned long long)addr, names[i], (unsigned long long)got[i],
                     (unsigned long long)want[i]);
}

static void expect_the_run(void)
{
    cr_assert(fx_prof.heap);
    /* recursion counted once: fib's total is its outermost subtree, not
     * 60 + 10 more for the inner activation */
    expect_heap(FIB, (const uint64_t[]){3, 60, 2, 35}, (const uint64_t[]){3, 60, 2, 35},
                157, 1, 25);
    expect_heap(MAIN, (const uint64_t[]){1, 100, 0, 0},
                (const uint64_t[]){7, 1060, 5, 935}, 1032, 0, 0);
    expect_heap(A, (const uint64_t[]){3, 900, 3, 900}, (const uint64_t[]){3, 900, 3, 900},
                1032, 0, 0);
    const struct pf_row *m = row(MAIN);
    cr_expect_float_eq(pf_delta(m->total_alloc_bytes, m->total_freed_bytes), 125, 1e-9);
    cr_expect_float_eq(pf_delta(row(A)->alloc_bytes, row(A)->freed_bytes), 0, 1e-9);

    struct m_heap_totals t;
    model_heap_totals(&fx_model, &t);
    cr_expect_eq(t.procs, 1);
    cr_expect_eq(t.heap.alloc_calls, 8);
    cr_expect_eq(t.heap.alloc_bytes, 1067);
    cr_expect_eq(t.heap.free_calls, 7);
    cr_expect_eq(t.heap.freed_bytes, 1075);
    cr_expect_eq(t.heap.outside_alloc_bytes, 7);
    cr_expect_eq(t.heap.outside_free_calls, 2);
    cr_expect_eq(t.heap.outside_freed_bytes, 140);
    cr_expect_eq(t.peak_bytes, 1032);
    cr_expect_eq(t.peak_rss_bytes, 4096000);
    cr_expect_eq(t.leaked_bytes, 82);
    cr_expect_eq(t.leaked_blocks, 3);
    cr_expect_eq(t.foreign_frees, 2);
    cr_expect_eq(t.func_leaked_bytes, 25);
    cr_expect_eq(t.func_leaked_blocks, 1);
    cr_expect_eq(t.outside_leaked_bytes, 7);
    cr_expect_eq(t.outside_leaked_blocks, 1);
}

Test(heap, summary_self_total_recursion_peak_and_leaks)
{
    struct tstream s;
    write_summary(&s);
    load(&s);
    expect_the_run();
}

Test(heap, trace_replay_gives_the_summary_table)
{
    struct tstream s;
    write_trace(&s, 1);
    load(&s);
    expect_the_run();
}

Test(heap, trace_replay_totals_without_heap_records)
{
    struct tstream s;
    write_trace(&s, 0);
    load(&s);
    expect_the_run();
}

Test(heap, a_leak_freed_by_nobody_stays_with_its_allocator)
{
    struct tstream s;
    begin(&s, "summary");
    ts_node_heap(&s, 1, 1, 0, MAIN, 1, 100, (const uint64_t[]){4, 400, 0, 0, 400});
    ts_node_heap(&s, 2, 1, 0, A, 1, 100, (const uint64_t[]){0, 0, 3, 300, 0});
    /* thread 2 freed three of main's four blocks; a freed record naming a
     * node nobody recorded is not attributed */
    ts_freed(&s, 2, 1, 1, 3, 300);
    ts_freed(&s, 2, 1, 9, 1, 8);
    ts_end_heap(&s, 1e9, 100, (const uint64_t[]){100, 400, 1, 0, 0});
    load(&s);
    expect_heap(MAIN, (const uint64_t[]){4, 400, 0, 0}, (const uint64_t[]){4, 400, 0, 0},
                400, 1, 100);
    expect_heap(A, (const uint64_t[]){0, 0, 3, 300}, (const uint64_t[]){0, 0, 3, 300}, 0,
                0, 0);
    cr_expect_eq(fx_model.procs[0]->unresolved_free_calls, 1);
    cr_expect_eq(fx_model.procs[0]->unresolved_freed_bytes, 8);
}

/* What the runtime could not attribute is said, never dropped silently: a
 * thread's frees whose allocating owner it could not record, and
 * allocation calls it counted for no thread. */
Test(heap, lost_owners_and_dropped_calls_are_warnings)
{
    struct tstream s;
    begin(&s, "summary");
    ts_node_heap(&s, 1, 1, 0, MAIN, 1, 100, (const uint64_t[]){4, 400, 4, 400, 400});
    ts_heap(&s, 1,
            "alloc_calls=4,alloc_bytes=400,free_calls=4,freed_bytes=400,"
            "owners_lost_calls=3,owners_lost_bytes=300");
    ts_freed(&s, 1, 1, 1, 1, 100);
    ts_end_heap_dropped(&s, 1e9, 100, (const uint64_t[]){0, 400, 0, 0, 0}, 7);
    load(&s);
    int lost = 0, dropped = 0;
    for (size_t i = 0; i < fx_model.warnings.count; i++) {
        lost |= strstr(fx_model.warnings.text[i], "3 frees could not be matched") != NULL;
        dropped |=
            strstr(fx_model.warnings.text[i], "7 allocation and free calls") != NULL;
    }
    cr_expect(lost, "no warning of the 3 frees without an owner");
    cr_expect(dropped, "no warning of the 7 calls counted for no thread");
}

Test(heap, tid_filter_keeps_frees_by_other_threads)
{
    struct tstream s;
    begin(&s, "summary");
    ts_node_heap(&s, 1, 1, 0, MAIN, 1, 100, (const uint64_t[]){2, 200, 0, 0, 200});
    ts_node_heap(&s, 2, 1, 0, A, 1, 100, (const uint64_t[]){0, 0, 1, 100, 0});
    ts_freed(&s, 2, 1, 1, 1, 100);
    ts_end(&s, 1e9, 100);
    fx_model.filter.tid = 100;
    load(&s);
    cr_expect_eq(fx_prof.nrows, 1);
    expect_heap(MAIN, (const uint64_t[]){2, 200, 0, 0}, (const uint64_t[]){2, 200, 0, 0},
                200, 1, 100);
}

Test(heap, processes_merge_and_keep_the_largest_peak)
{
    for (int pid = 1; pid <= 2; pid++) {
        struct tstream s;
        ts_begin(&s, "summary", (uint64_t)pid);
        ts_module(&s, 0, 0x1000, 0x2000, "/nonexistent/prog");
        ts_node_heap(
            &s, 1, 1, 0, MAIN, 1, 100,
            (const uint64_t[]){1, 10u * (unsigned)pid, 0, 0, 10u * (unsigned)pid});
        ts_end_heap(
            &s, 1e9, 100,
            (const uint64_t[]){10u * (unsigned)pid, 10u * (unsigned)pid, 1, 0, 0});
        char msg[256];
        cr_assert_eq(
            model_load_mem(&fx_model, "p.cprof", s.buf, ts_len(&s), msg, sizeof msg), 0);
        ts_free(&s);
    }
    profile_build(&fx_model, NULL, &fx_prof);
    expect_heap(MAIN, (const uint64_t[]){2, 30, 0, 0}, (const uint64_t[]){2, 30, 0, 0},
                20, 2, 30);
    struct m_heap_totals t;
    model_heap_totals(&fx_model, &t);
    cr_expect_eq(t.procs, 2);
    cr_expect_eq(t.peak_bytes, 20);
    cr_expect_eq(t.leaked_bytes, 30);
}

Test(heap, format_1_1_has_no_heap_data)
{
    struct tstream s;
    ts_begin_version(&s, "summary", 1, 1, 1);
    ts_module(&s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    /* trailing elements a 1.1 reader does not know are skipped, not read
     * as heap fields */
    ts_node_heap(&s, 1, 1, 0, MAIN, 1, 100, (const uint64_t[]){1, 2, 3, 4, 5});
    ts_end(&s, 1e9, 100);
    load(&s);
    cr_expect(!fx_model.heap);
    cr_expect(!fx_prof.heap);
    cr_expect_eq(row(MAIN)->alloc_calls, 0);
}

Test(heap, a_1_2_file_without_heap_figures_has_no_heap_data)
{
    struct tstream s;
    ts_begin(&s, "summary", 1);
    ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
    ts_end(&s, 1e9, 100);
    load(&s);
    cr_expect(!fx_prof.heap);
}

/* ---- malformed input ---------------------------------------------------- */

static int has_warning(const char *part)
{
    for (size_t i = 0; i < fx_model.warnings.count; i++)
        if (strstr(fx_model.warnings.text[i], part))
            return 1;
    return 0;
}

static void expect_damage(struct tstream *s, size_t at, const char *why)
{
    char msg[256];
    cr_assert_eq(
        model_load_mem(&fx_model, "bad.cprof", s->buf, ts_len(s), msg, sizeof msg), 0);
    ts_free(s);
    char want[256];
    snprintf(want, sizeof want, "damaged at byte %zu (%s)", at, why);
    cr_expect(has_warning(want), "no warning '%s' (first: %s)", want,
              fx_model.warnings.count ? fx_model.warnings.text[0] : "none");
}

/* The start of a node record of nelems elements, up to its empty
 * histogram: the heap fields are the test's. */
static void node_head(struct tstream *s, uint32_t nelems)
{
    mp_array(&s->out, nelems);
    const uint64_t fields[] = {CPROF_REC_NODE, 1, 1, 0, MAIN, 1, 10, 0, 0};
    for (size_t i = 0; i < 9; i++)
        mp_uint(&s->out, fields[i]);
    mp_array(&s->out, 0);
}

Test(heap, a_node_record_short_of_heap_fields)
{
    struct tstream s;
    begin(&s, "summary");
    size_t at = ts_len(&s);
    node_head(&s, 12);
    mp_uint(&s.out, 1);
    mp_uint(&s.out, 16);
    expect_damage(&s, at, "bad node record 1: no free_calls field");
}

Test(heap, a_node_record_with_a_heap_field_of_another_type)
{
    struct tstream s;
    begin(&s, "summary");
    size_t at = ts_len(&s);
    node_head(&s, 15);
    mp_uint(&s.out, 1);
    mp_cstr(&s.out, "many");
    mp_uint(&s.out, 0);
    mp_uint(&s.out, 0);
    mp_uint(&s.out, 0);
    expect_damage(&s, at, "bad node record 1: alloc_bytes is not a uint");
}

Test(heap, a_heap_record_with_a_bad_counter)
{
    struct tstream s;
    begin(&s, "summary");
    size_t at = ts_len(&s);
    mp_array(&s.out, 3);
    mp_uint(&s.out, CPROF_REC_HEAP);
    mp_uint(&s.out, 1);
    mp_map(&s.out, 1);
    mp_cstr(&s.out, "freed_bytes");
    mp_int(&s.out, -5);
    expect_damage(&s, at, "bad heap record: freed_bytes is not a uint");
}

Test(heap, a_freed_record_without_its_owner)
{
    struct tstream s;
    begin(&s, "summary");
    size_t at = ts_len(&s);
    mp_array(&s.out, 3);
    mp_uint(&s.out, CPROF_REC_FREED);
    mp_uint(&s.out, 1);
    mp_uint(&s.out, 1);
    expect_damage(&s, at, "bad freed record: no owner field");
}

Test(heap, an_end_record_with_a_bad_heap_key)
{
    struct tstream s;
    begin(&s, "summary");
    size_t at = ts_len(&s);
    mp_array(&s.out, 2);
    mp_uint(&s.out, CPROF_REC_END);
    mp_map(&s.out, 1);
    mp_cstr(&s.out, "heap_in_use");
    mp_cstr(&s.out, "lots");
    expect_damage(&s, at, "bad end record: heap_in_use is not a uint");
}

Test(heap, an_alloc_event_cut_short)
{
    struct tstream s;
    begin(&s, "trace");
    size_t at = ts_len(&s);
    const uint64_t ev[] = {CPROF_EV_EXT, CPROF_EXT_ALLOC, 16};
    ts_trace_raw(&s, 1, 0, ev, 3);
    expect_damage(&s, at,
                  "bad event at element 0 of the trace chunk of thread 1: EXT_ALLOC "
                  "event without its bytes and heap operands");
}

Test(heap, an_unknown_ext_code_is_an_error)
{
    struct tstream s;
    begin(&s, "trace");
    size_t at = ts_len(&s);
    const uint64_t ev[] = {CPROF_EV_EXT, 99, 1, 2};
    ts_trace_raw(&s, 1, 0, ev, 4);
    expect_damage(
        &s, at,
        "bad event at element 0 of the trace chunk of thread 1: EXT event of an "
        "unknown code (written by a newer cprof?)");
}

/* ---- output ------------------------------------------------------------- */

Test(heap_out, human_bytes)
{
    static const struct {
        double bytes;
        int sign;
        const char *text;
    } cases[] = {
        {0, 0, "0 B"},           {1023, 0, "1023 B"},
        {1024, 0, "1.00 KiB"},   {1536, 1, "+1.50 KiB"},
        {-2048, 1, "-2.00 KiB"}, {12.5 * 1048576, 0, "12.5 MiB"},
        {-100, 1, "-100 B"},     {3.0 * 1073741824, 0, "3.00 GiB"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fmt_human_bytes(cases[i].bytes, cases[i].sign, buf, sizeof buf);
        cr_expect_str_eq(buf, cases[i].text, "%.0f", cases[i].bytes);
    }
}

/* Writes the run to a file; returns its path (to free and unlink). */
static char *write_file(int heap)
{
    struct tstream s;
    if (heap) {
        write_summary(&s);
    } else {
        ts_begin_version(&s, "summary", 100, 1, 1);
        ts_module(&s, 0, 0x1000, 0x2000, "/nonexistent/prog");
        ts_node(&s, 1, 1, 0, MAIN, 1, 100, 100, 100, 1);
        ts_end(&s, 1e9, 100);
    }
    return ts_write_temp(&s, "heap");
}

Test(heap_out, text_table_leaks_and_totals)
{
    char *path = write_file(1);
    char *argv[] = {"heap", path, NULL};
    char *out, *err;
    cr_assert_eq(ts_run_cmd(cmd_heap, argv, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "functions by bytes allocated, callees included\n"), "%s", out);
    cr_expect(strstr(out, "heap: 8 allocations (1.04 KiB), 7 frees (1.05 KiB); peak "
                          "1.01 KiB in use, peak RSS 3.91 MiB\n"),
              "%s", out);
    cr_expect(
        strstr(out, "outside instrumented calls: 1 allocation (7 B), 2 frees (140 B)"),
        "%s", out);
    cr_expect(strstr(out, "still allocated at exit: 3 blocks (82 B); by instrumented "
                          "functions 1 block (25 B), outside instrumented calls 1 block "
                          "(7 B), before a fork by the parent or not attributed 1 block "
                          "(50 B)\n"),
              "%s", out);
    cr_expect(strstr(out, "foreign frees: 2 "), "%s", out);
    cr_expect(strstr(out, "  calls  allocs  allocated  frees  freed     net  "
                          "total allocated  total net      peak  leaked\n"),
              "%s", out);
    /* main first: 1060 bytes allocated with its callees */
    const char *main_row = strstr(out, "prog+0x1100");
    const char *fib_row = strstr(out, "prog+0x1200");
    cr_assert(main_row && fib_row, "%s", out);
    cr_expect(main_row < fib_row, "%s", out);
    cr_expect(strstr(main_row, "      1       1      100 B      0    0 B  +100 B         "
                               "1.04 KiB     +125 B  1.01 KiB     0 B\n"),
              "%s", out);
    cr_expect(strstr(out, "still allocated at exit, by allocating function\n\n"
                          "allocated by"),
              "%s", out);
    free(out);
    free(err);
    unlink(path);
    free(path);
}

Test(heap_out, json_keys)
{
    char *path = write_file(1);
    char *argv[] = {"heap", path, "--format", "json", "--sort", "leaked", NULL};
    char *out, *err;
    cr_assert_eq(ts_run_cmd(cmd_heap, argv, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "{\"name\": \"prog+0x1200\", \"file\": \"\", \"line\": null, "
                          "\"calls\": 3, \"alloc_calls\": 3, \"alloc_bytes\": 60, "
                          "\"free_calls\": 2, \"freed_bytes\": 35, "
                          "\"heap_delta_self_bytes\": 25, \"total_alloc_calls\": 3, "
                          "\"total_alloc_bytes\": 60, \"total_free_calls\": 2, "
                          "\"total_freed_bytes\": 35, \"heap_delta_bytes\": 25, "
                          "\"heap_peak_bytes\": 157, \"leaked_blocks\": 1, "
                          "\"leaked_bytes\": 25, \"module\": \"/nonexistent/prog\"}"),
              "%s", out);
    cr_expect(strstr(out, "\"leaks\": [\n    {\"name\": \"prog+0x1200\", \"file\": \"\", "
                          "\"line\": null, \"leaked_blocks\": 1, \"leaked_bytes\": 25, "
                          "\"module\": \"/nonexistent/prog\"}\n  ]"),
              "%s", out);
    cr_expect(strstr(out,
                     "\"heap\": {\"processes\": 1, \"alloc_calls\": 8, \"free_calls\": "
                     "7, \"alloc_bytes\": 1067, \"freed_bytes\": 1075, \"peak_bytes\": "
                     "1032, \"peak_rss_bytes\": 4096000, \"leaked_bytes\": 82, "
                     "\"leaked_blocks\": 3, \"function_leaked_bytes\": 25, "
                     "\"function_leaked_blocks\": 1, \"outside_leaked_bytes\": 7, "
                     "\"outside_leaked_blocks\": 1, \"outside_alloc_calls\": 1, "
                     "\"outside_alloc_bytes\": 7, \"outside_free_calls\": 2, "
                     "\"outside_freed_bytes\": 140, \"foreign_frees\": 2}"),
              "%s", out);
    free(out);
    free(err);
    unlink(path);
    free(path);
}

Test(heap_out, csv_rows_and_function_selection)
{
    char *path = write_file(1);
    char *argv[] = {"heap", "prog+0x12*", path, "--format", "csv", NULL};
    char *out, *err;
    cr_assert_eq(ts_run_cmd(cmd_heap, argv, &out, &err), 0, "%s", err);
    cr_expect_str_eq(out, "name,file,line,calls,alloc_calls,alloc_bytes,free_calls,"
                          "freed_bytes,heap_delta_self_bytes,total_alloc_calls,"
                          "total_alloc_bytes,total_free_calls,total_freed_bytes,"
                          "heap_delta_bytes,heap_peak_bytes,leaked_blocks,leaked_bytes,"
                          "module\n"
                          "prog+0x1200,,,3,3,60,2,35,25,3,60,2,35,25,157,1,25,"
                          "/nonexistent/prog\n");
    free(out);
    free(err);
    char *none[] = {"heap", "no_such_function", path, NULL};
    cr_expect_eq(ts_run_cmd(cmd_heap, none, &out, &err), CPROF_EXIT_USAGE);
    cr_expect(strstr(err, "heap: no function matches 'no_such_function'"), "%s", err);
    free(out);
    free(err);
    char *bad_sort[] = {"heap", path, "--sort", "self", NULL};
    cr_expect_eq(ts_run_cmd(cmd_heap, bad_sort, &out, &err), CPROF_EXIT_USAGE);
    free(out);
    free(err);
    unlink(path);
    free(path);
}

Test(heap_out, no_heap_data_is_said_not_shown_as_zeros)
{
    char *path = write_file(0);
    char *out, *err;
    char *text[] = {"heap", path, NULL};
    cr_assert_eq(ts_run_cmd(cmd_heap, text, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "no heap data"), "%s", out);
    cr_expect(!strstr(out, "prog+0x1100"), "%s", out);
    free(out);
    free(err);
    char *json[] = {"heap", path, "--format", "json", NULL};
    cr_assert_eq(ts_run_cmd(cmd_heap, json, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "\"functions\": [],"), "%s", out);
    cr_expect(strstr(out, "\"heap\": null"), "%s", out);
    free(out);
    free(err);
    char *report_json[] = {"report", path, "--format", "json", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, report_json, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "\"alloc_calls\": null, \"alloc_bytes\": null, \"free_calls\": "
                          "null, \"freed_bytes\": null, \"heap_delta_bytes\": null, "
                          "\"heap_peak_bytes\": null, "),
              "%s", out);
    cr_expect(strstr(out, "\"heap\": null"), "%s", out);
    free(out);
    free(err);
    char *report_text[] = {"report", path, NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, report_text, &out, &err), 0, "%s", err);
    cr_expect(!strstr(out, "heap net"), "no heap column without heap data: %s", out);
    free(out);
    free(err);
    unlink(path);
    free(path);
}

Test(heap_out, report_gains_heap_columns)
{
    char *path = write_file(1);
    char *out, *err;
    char *text[] = {"report", path, NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, text, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "  self%  heap net\n"), "%s", out);
    cr_expect(strstr(out, "+125 B\n"), "main's net change with callees: %s", out);
    free(out);
    free(err);
    char *json[] = {"report", path, "--format", "json", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, json, &out, &err), 0, "%s", err);
    cr_expect(strstr(out,
                     "\"has_lines\": false, \"alloc_calls\": 1, \"alloc_bytes\": 100, "
                     "\"free_calls\": 0, \"freed_bytes\": 0, \"heap_delta_bytes\": "
                     "125, \"heap_peak_bytes\": 1032, "),
              "%s", out);
    cr_expect(strstr(out, "\"heap\": {\"processes\": 1, \"alloc_calls\": 8, "), "%s",
              out);
    free(out);
    free(err);
    char *csv[] = {"report", path, "--format", "csv", "--sort", "name", NULL};
    cr_assert_eq(ts_run_cmd(cmd_report, csv, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, ",/nonexistent/prog,false,1,100,0,0,125,1032\n"), "%s", out);
    free(out);
    free(err);
    unlink(path);
    free(path);
}

Test(heap_out, sort_limit_and_missing_data)
{
    char *path = write_file(1);
    char *out, *err;
    char *by_peak[] = {"heap", path, "--sort", "peak", "--limit", "1", NULL};
    cr_assert_eq(ts_run_cmd(cmd_heap, by_peak, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "functions by peak heap while running\n"), "%s", out);
    /* main and a share the top peak: the tie goes by name, a is cut */
    cr_expect(strstr(out, "prog+0x1100") && !strstr(out, "prog+0x1300"), "%s", out);
    free(out);
    free(err);
    char *missing[] = {"heap", "/nonexistent/cprof.data", NULL};
    cr_expect_eq(ts_run_cmd(cmd_heap, missing, &out, &err), CPROF_EXIT_DATA);
    cr_expect(strstr(err, "cprof: /nonexistent/cprof.data: No such file"), "%s", err);
    free(out);
    free(err);
    char *help[] = {"heap", "--help", NULL};
    cr_expect_eq(ts_run_cmd(cmd_heap, help, &out, &err), 0);
    cr_expect(strstr(out, "usage: cprof heap [FUNC...]"), "%s", out);
    free(out);
    free(err);
    unlink(path);
    free(path);
}
