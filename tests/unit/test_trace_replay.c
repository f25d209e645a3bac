/*
 * The trace replay's fast paths (model_trace.c, reader.c) against what
 * they stand in for: histogram counts gathered in a table that fills and
 * empties into the nodes several times, dense arrays, the loop's short
 * exit for the calls of a function past the exact-time limits, a node's
 * cached last child when the children alternate, events in every integer
 * form msgpack allows, records of other shapes walked by mp_skip, and
 * files read through a window that refills and grows. Each test states
 * the answer it expects from the run its records describe.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cprof_format.h"
#include "model.h"
#include "stream.h"

static struct model model;

static void setup(void)
{
    model_init(&model);
}

static void teardown(void)
{
    model_free(&model);
}

TestSuite(trace_replay, .init = setup, .fini = teardown);

/* Gives s room for cap bytes in all (the builders' buffer holds 1 MiB). */
static void enlarge(struct tstream *s, size_t cap)
{
    size_t len = ts_len(s);
    s->buf = realloc(s->buf, cap);
    cr_assert(s->buf);
    s->out = (struct mp_out){s->buf + len, s->buf + cap, 0};
}

/* Events as uints, growing. */
struct evs {
    uint64_t *v;
    size_t n, cap;
    uint64_t last; /* the time of the last token */
};

static void ev_put(struct evs *e, uint64_t v)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4096;
        e->v = realloc(e->v, e->cap * sizeof(*e->v));
        cr_assert(e->v);
    }
    e->v[e->n++] = v;
}

static void ev_token(struct evs *e, uint64_t now, unsigned kind)
{
    ev_put(e, (now - e->last) << CPROF_EV_KIND_BITS | kind);
    e->last = now;
}

static void ev_func(struct evs *e, uint64_t now, uint64_t index, uint64_t addr)
{
    ev_token(e, now, CPROF_EV_EXT);
    ev_put(e, CPROF_EXT_FUNC);
    ev_put(e, index);
    ev_put(e, addr);
}

/* A call of function index fn from start to end. */
static void ev_call(struct evs *e, uint64_t start, uint64_t end, uint64_t fn)
{
    ev_token(e, start, CPROF_EV_ENTER);
    ev_put(e, fn);
    ev_token(e, end, CPROF_EV_EXIT);
}

static void begin(struct tstream *s)
{
    ts_begin(s, "trace", 100);
    ts_module(s, 0, 0x1000, 0x100000, "/nonexistent/prog");
    ts_thread(s, 1, 100);
}

static const struct m_thread *thread1(void)
{
    cr_assert_eq(model.nprocs, 1);
    cr_assert_eq(model.procs[0]->nthreads, 1);
    return model.procs[0]->threads[0];
}

/* The node of the function at addr under parent. */
static const struct m_node *child(const struct m_thread *t, uint32_t parent,
                                  uint64_t addr)
{
    for (size_t i = 1; i < t->nnodes; i++) {
        const struct m_node *n = &t->nodes[i];
        if (n->parent == parent && model.funcs[n->func].addr == addr)
            return n;
    }
    cr_assert_fail("no node of 0x%llx under node %u", (unsigned long long)addr, parent);
    return NULL;
}

/* Ends the file with the events of e as one chunk of thread 1 from base,
 * the process ending at end, loads it as name and returns its thread. */
static const struct m_thread *load_events(struct tstream *s, struct evs *e, uint64_t base,
                                          uint64_t end, const char *name)
{
    ts_trace_raw(s, 1, base, e->v, e->n);
    free(e->v);
    ts_thread_end(s, 1, "");
    ts_end(s, 1e9, end);
    ts_load(&model, s, name);
    return thread1();
}

#define NFUNCS 120
#define NBUCKETS 100

/* 120 functions, each called twice with a time in each of 100 histogram
 * buckets, in an order that mixes buckets: 12,000 (node, bucket) pairs,
 * more than the pending table holds, so that it empties into nodes that
 * already have buckets on both sides of the ones it adds. */
Test(trace_replay, histograms_are_exact_past_the_pending_table)
{
    struct tstream s;
    begin(&s);
    struct evs e = {0};
    uint64_t now = 1000;
    for (uint64_t f = 0; f < NFUNCS; f++)
        ev_func(&e, now, f, 0x1000 + 16 * f);
    for (uint64_t k = 0; k < NBUCKETS; k++) {
        uint64_t bucket = 1 + (k * 37) % NBUCKETS; /* a permutation of 1..100 */
        for (uint64_t f = 0; f < NFUNCS; f++)
            for (int twice = 0; twice < 2; twice++) {
                uint64_t ticks = cprof_hist_bucket_low((unsigned)bucket, 2);
                ev_call(&e, now, now + ticks, f);
                now += ticks + 1;
            }
    }
    const struct m_thread *t = load_events(&s, &e, 1000, now, "hist.cprof");
    cr_assert_eq(t->nnodes, 1 + NFUNCS);
    for (uint64_t f = 0; f < NFUNCS; f++) {
        const struct m_node *n = child(t, 0, 0x1000 + 16 * f);
        cr_expect_eq(n->calls, 2 * NBUCKETS);
        cr_expect_eq(n->completed, 2 * NBUCKETS);
        cr_assert_eq(n->hist_len, NBUCKETS, "function %llu: %u buckets",
                     (unsigned long long)f, n->hist_len);
        for (uint32_t i = 0; i < n->hist_len; i++) {
            cr_expect_eq(n->hist[i].bucket, i + 1, "function %llu: bucket %u at %u",
                         (unsigned long long)f, n->hist[i].bucket, i);
            cr_expect_eq(n->hist[i].count, 2);
        }
    }
}

/* Checks node n's histogram against want (counts by bucket, nb of them). */
static void expect_hist(const struct m_node *n, const uint64_t *want, unsigned nb,
                        const char *what, unsigned which)
{
    uint32_t i = 0;
    for (unsigned b = 0; b < nb; b++) {
        if (!want[b])
            continue;
        cr_assert_lt(i, n->hist_len, "%s %u: bucket %u missing", what, which, b);
        cr_expect_eq(n->hist[i].bucket, b, "%s %u: bucket %u at %u", what, which,
                     n->hist[i].bucket, i);
        cr_expect_eq(n->hist[i].count, want[b], "%s %u: bucket %u", what, which, b);
        i++;
    }
    cr_expect_eq(i, n->hist_len, "%s %u: more buckets than calls made", what, which);
}

#define NHOT 2200
#define HOT_CALLS 1100
#define SUB_BUCKETS ((65u - 2u) << 2) /* the buckets of hist_sub_bits 2 */

/* 2,200 functions of 1,100 calls each, in turns: each reaches the count
 * at which its node's calls go into a dense array of counts, until the
 * arrays' memory budget is spent (about 2,080 nodes of this file's 252
 * buckets); the rest stay in the pending table. Every histogram is the
 * one its calls' times give. */
Test(trace_replay, histograms_are_exact_in_dense_arrays)
{
    struct tstream s;
    begin(&s);
    enlarge(&s, 32u << 20);
    struct evs e = {0};
    uint64_t now = 1000;
    uint64_t *want = calloc((size_t)NHOT * SUB_BUCKETS, sizeof(*want));
    cr_assert(want);
    for (uint64_t f = 0; f < NHOT; f++)
        ev_func(&e, now, f, 0x1000 + 16 * f);
    for (uint64_t k = 0; k < HOT_CALLS; k++)
        for (uint64_t f = 0; f < NHOT; f++) {
            uint64_t ticks = 1 + (k * 7919 + f * 31) % (f % 2 ? 100 : 30000);
            ev_call(&e, now, now + ticks, f);
            want[f * SUB_BUCKETS + cprof_hist_bucket(ticks, 2)]++;
            now += ticks + 1;
        }
    const struct m_thread *t = load_events(&s, &e, 1000, now, "dense.cprof");
    cr_assert_eq(t->nnodes, 1 + NHOT);
    for (uint64_t f = 0; f < NHOT; f++) {
        const struct m_node *n = child(t, 0, 0x1000 + 16 * f);
        cr_expect_eq(n->completed, HOT_CALLS);
        expect_hist(n, want + f * SUB_BUCKETS, SUB_BUCKETS, "function", (unsigned)f);
    }
    free(want);
}

/* A reset drops the counts a dense array holds with the rest: only the
 * calls after it are in the histogram. */
Test(trace_replay, a_reset_drops_dense_counts)
{
    struct tstream s;
    begin(&s);
    struct evs e = {0};
    uint64_t now = 1000;
    uint64_t want[SUB_BUCKETS] = {0};
    ev_func(&e, now, 0, 0x1100);
    for (int k = 0; k < 3500; k++) {
        if (k == 1500) {
            ev_token(&e, now, CPROF_EV_EXT);
            ev_put(&e, CPROF_EXT_RESET);
        }
        uint64_t ticks = 1 + (uint64_t)k * 7919 % 5000;
        ev_call(&e, now, now + ticks, 0);
        if (k >= 1500)
            want[cprof_hist_bucket(ticks, 2)]++;
        now += ticks + 1;
    }
    const struct m_thread *t = load_events(&s, &e, 1000, now, "reset.cprof");
    const struct m_node *n = child(t, 0, 0x1100);
    cr_expect_eq(n->calls, 2000);
    cr_expect_eq(n->completed, 2000);
    expect_hist(n, want, SUB_BUCKETS, "function", 0);
}

/* Past M_EXACT_PER_FUNC calls of a function, its node's exits take the
 * replay loop's short way (a dense array, no exact times kept): the node's
 * count, total, min, max and histogram are still every call's, with a new
 * min and a new max among the late calls, and an inherited frame of the
 * node (EXT_INHERITED after them) adds its time, not a call. */
Test(trace_replay, the_short_exit_counts_every_call)
{
    enum { NCALLS = M_EXACT_PER_FUNC + 5000 };
    struct tstream s;
    begin(&s);
    enlarge(&s, 8u << 20);
    struct evs e = {0};
    uint64_t now = 1000, total = 0, min = UINT64_MAX, max = 0;
    uint64_t want[SUB_BUCKETS] = {0};
    ev_func(&e, now, 0, 0x1100);
    for (uint64_t k = 0; k < NCALLS + 10; k++) {
        uint64_t ticks = 1 + k * 7919 % 20000;
        if (k == NCALLS - 100)
            ticks = 0;
        if (k == NCALLS - 50)
            ticks = 50000;
        if (k == NCALLS) {
            ev_token(&e, now, CPROF_EV_EXT);
            ev_put(&e, CPROF_EXT_INHERITED);
            ev_put(&e, 1);
            ev_put(&e, 0);
            ev_token(&e, now + 500, CPROF_EV_EXIT);
            total += 500;
            now += 501;
        }
        ev_call(&e, now, now + ticks, 0);
        want[cprof_hist_bucket(ticks, 2)]++;
        total += ticks;
        min = ticks < min ? ticks : min;
        max = ticks > max ? ticks : max;
        now += ticks + 1;
    }
    const struct m_thread *t = load_events(&s, &e, 1000, now, "short.cprof");
    const struct m_node *n = child(t, 0, 0x1100);
    cr_expect_eq(n->calls, NCALLS + 10);
    cr_expect_eq(n->completed, NCALLS + 10);
    cr_expect_eq(n->incl_ticks, total);
    cr_expect_eq(n->min_ticks, 0);
    cr_expect_eq(n->max_ticks, 50000);
    cr_expect_eq(min, 0);
    cr_expect_eq(max, 50000);
    expect_hist(n, want, SUB_BUCKETS, "function", 0);
}

/* main calls a and b in turn, a calls c then b: each call path keeps its
 * own node and counts, however often the last child changes. */
Test(trace_replay, alternating_children_keep_their_call_paths)
{
    struct tstream s;
    begin(&s);
    struct evs e = {0};
    uint64_t now = 100;
    ev_func(&e, now, 0, 0x1100); /* main */
    ev_func(&e, now, 1, 0x1200); /* a */
    ev_func(&e, now, 2, 0x1300); /* b */
    ev_func(&e, now, 3, 0x1400); /* c */
    ev_token(&e, now, CPROF_EV_ENTER);
    ev_put(&e, 0);
    for (int i = 0; i < 50; i++) {
        ev_token(&e, now += 10, CPROF_EV_ENTER);
        ev_put(&e, 1);
        ev_call(&e, now + 1, now + 3, 3);
        ev_call(&e, now + 4, now + 5, 2);
        ev_token(&e, now += 10, CPROF_EV_EXIT);
        ev_call(&e, now + 1, now + 8, 2);
        now += 10;
    }
    ev_token(&e, now += 1, CPROF_EV_EXIT);
    const struct m_thread *t = load_events(&s, &e, 100, now, "paths.cprof");
    cr_assert_eq(t->nnodes, 6); /* root, main, main>a, main>a>c, main>a>b, main>b */
    const struct m_node *main_n = child(t, 0, 0x1100);
    uint32_t main_id = (uint32_t)(main_n - t->nodes);
    const struct m_node *a = child(t, main_id, 0x1200);
    uint32_t a_id = (uint32_t)(a - t->nodes);
    const struct m_node *ab = child(t, a_id, 0x1300);
    const struct m_node *ac = child(t, a_id, 0x1400);
    const struct m_node *mb = child(t, main_id, 0x1300);
    cr_expect_eq(main_n->calls, 1);
    cr_expect_eq(a->calls, 50);
    cr_expect_eq(a->incl_ticks, 50 * 10);
    cr_expect_eq(ac->calls, 50);
    cr_expect_eq(ac->incl_ticks, 50 * 2);
    cr_expect_eq(ab->calls, 50);
    cr_expect_eq(ab->incl_ticks, 50 * 1);
    cr_expect_eq(mb->calls, 50);
    cr_expect_eq(mb->incl_ticks, 50 * 7);
}

/* msgpack with a type byte and a big-endian payload of len bytes. */
static void raw(struct mp_out *o, uint8_t type, uint64_t v, int len)
{
    cr_assert(o->end - o->pos >= 1 + len);
    cr_assert(len == 0 || len == 8 || v < 1ull << (8 * len - 1), "%llu does not fit",
              (unsigned long long)v);
    *o->pos++ = type;
    for (int i = len - 1; i >= 0; i--)
        *o->pos++ = (uint8_t)(v >> (8 * i));
}

/* The same two calls with their tokens and operands in each integer form
 * a msgpack writer may choose (uint 8 to 64, non-negative int 8 to 64,
 * fixint), after a record of an unknown type holding strings, maps and
 * nested arrays that the reader must skip whole. */
Test(trace_replay, events_in_every_integer_form)
{
    static const struct {
        uint8_t type;
        int len;
    } forms[] = {{0xcc, 1}, {0xcd, 2}, {0xce, 4}, {0xcf, 8}, {0xd0, 1},
                 {0xd1, 2}, {0xd2, 4}, {0xd3, 8}, {0, 0}};
    struct tstream s;
    begin(&s);
    struct mp_out *o = &s.out;
    /* [200, "x", {"k": [1, -1]}, [[2], "y", 1.5], [-3, 4]] */
    mp_array(o, 5);
    mp_uint(o, 200);
    mp_cstr(o, "x");
    mp_map(o, 1);
    mp_cstr(o, "k");
    mp_array(o, 2);
    mp_uint(o, 1);
    raw(o, 0xff, 0, 0);
    mp_array(o, 3);
    mp_array(o, 1);
    mp_uint(o, 2);
    mp_cstr(o, "y");
    raw(o, 0xcb, 0x3ff8000000000000ull, 8);
    mp_array(o, 2);
    raw(o, 0xfd, 0, 0);
    mp_uint(o, 4);
    /* f0=0x1100, then a call of 10 + i ticks in form i */
    size_t nforms = sizeof forms / sizeof *forms;
    mp_array(o, 4);
    mp_uint(o, CPROF_REC_TRACE);
    mp_uint(o, 1);
    mp_uint(o, 0);
    mp_array(o, (uint32_t)(4 + 3 * nforms));
    mp_uint(o, 10 << CPROF_EV_KIND_BITS | CPROF_EV_EXT);
    mp_uint(o, CPROF_EXT_FUNC);
    mp_uint(o, 0);
    mp_uint(o, 0x1100);
    uint64_t total = 0;
    for (size_t i = 0; i < nforms; i++) {
        uint64_t enter = 0 << CPROF_EV_KIND_BITS | CPROF_EV_ENTER;
        uint64_t ticks = 10 + i; /* tokens up to 127: int 8 holds them */
        uint64_t exit = ticks << CPROF_EV_KIND_BITS | CPROF_EV_EXIT;
        if (forms[i].len) {
            raw(o, forms[i].type, enter, forms[i].len);
            raw(o, forms[i].type, 0, forms[i].len);
            raw(o, forms[i].type, exit, forms[i].len);
        } else {
            mp_uint(o, enter);
            mp_uint(o, 0);
            mp_uint(o, exit);
        }
        total += ticks;
    }
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 10000);
    ts_load(&model, &s, "forms.cprof");

    const struct m_thread *t = thread1();
    cr_assert_eq(t->nnodes, 2);
    cr_expect_eq(t->nodes[1].calls, nforms);
    cr_expect_eq(t->nodes[1].incl_ticks, total);
    cr_expect_eq(t->nodes[1].min_ticks, 10);
    cr_expect_eq(t->nodes[1].max_ticks, 10 + nforms - 1);
    cr_expect_eq(model.warnings.count, 0);
}

/* A reserved byte inside a record's inner array is damage at the
 * record's first byte, as mp_skip reports it. */
Test(trace_replay, damage_inside_an_array_names_the_record)
{
    struct tstream s;
    begin(&s);
    ts_trace(&s, 1, 0, "f0=0x1100 @10 e0 @20 x");
    size_t at = ts_len(&s);
    struct mp_out *o = &s.out;
    mp_array(o, 3);
    mp_uint(o, 201);
    mp_array(o, 3);
    mp_uint(o, 1);
    raw(o, 0xc1, 0, 0);
    mp_uint(o, 2);
    mp_uint(o, 3);
    char msg[256] = "";
    cr_assert_eq(
        model_load_mem(&model, "damaged.cprof", s.buf, ts_len(&s), msg, sizeof msg), 0,
        "%s", msg);
    ts_free(&s);
    char want[64];
    snprintf(want, sizeof want, "damaged at byte %zu", at);
    int found = 0;
    for (size_t i = 0; i < model.warnings.count; i++)
        found |= strstr(model.warnings.text[i], want) != NULL;
    cr_expect(found, "no warning says \"%s\"", want);
    cr_expect_eq(thread1()->nodes[1].calls, 1);
}

/* Chunks larger than half the reader's 1 MiB window, from a file: the
 * window refills early and grows, and the model is the one the same bytes
 * give from memory. */
Test(trace_replay, large_chunks_from_a_file_match_memory)
{
    struct tstream s;
    begin(&s);
    enlarge(&s, 16u << 20);
    uint64_t now = 0;
    for (int chunk = 0; chunk < 6; chunk++) {
        struct evs e = {.last = now};
        uint64_t base = now;
        if (chunk == 0)
            ev_func(&e, now, 0, 0x1100);
        /* 150,000 calls of 1 to 200 ticks: about 4 bytes a call, and the
         * last chunks twice as many */
        int calls = chunk < 4 ? 150000 : 300000;
        for (int i = 0; i < calls; i++) {
            uint64_t ticks = 1 + (uint64_t)i * 7919 % 200;
            ev_call(&e, now, now + ticks, 0);
            now += ticks + 3;
        }
        ts_trace_raw(&s, 1, base, e.v, e.n);
        free(e.v);
    }
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, now);
    size_t len = ts_len(&s);
    uint8_t *copy = malloc(len);
    cr_assert(copy);
    memcpy(copy, s.buf, len);
    char *path = ts_write_temp(&s, "replay");
    char msg[256] = "";
    int r = model_load_file(&model, path, msg, sizeof msg);
    unlink(path);
    free(path);
    cr_assert_eq(r, 0, "%s", msg);
    struct model mem;
    model_init(&mem);
    cr_assert_eq(model_load_mem(&mem, "replay.cprof", copy, len, msg, sizeof msg), 0,
                 "%s", msg);

    const struct m_thread *t = thread1(), *u = mem.procs[0]->threads[0];
    cr_assert_eq(t->nnodes, 2);
    cr_assert_eq(u->nnodes, 2);
    const struct m_node *a = &t->nodes[1], *b = &u->nodes[1];
    cr_expect_eq(a->calls, 4 * 150000 + 2 * 300000);
    cr_expect_eq(a->calls, b->calls);
    cr_expect_eq(a->incl_ticks, b->incl_ticks);
    cr_expect_eq(a->min_ticks, 1);
    cr_expect_eq(a->max_ticks, 200);
    cr_assert_eq(a->hist_len, b->hist_len);
    uint64_t counted = 0;
    for (uint32_t i = 0; i < a->hist_len; i++) {
        cr_expect_eq(a->hist[i].bucket, b->hist[i].bucket);
        cr_expect_eq(a->hist[i].count, b->hist[i].count);
        counted += a->hist[i].count;
    }
    cr_expect_eq(counted, a->calls);
    cr_expect_eq(model.warnings.count, 0);
    model_free(&mem);
    free(copy);
}
