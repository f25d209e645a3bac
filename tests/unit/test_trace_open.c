/*
 * Trace chunks read open (reader.h): the replay walks a chunk's events
 * once, straight from the reader's window, asking for refills as it goes.
 * These tests put the window's end at every byte of a repeating pattern of
 * events in every form, damage and cut chunks past a refill, and skip the
 * chunks of a thread left out, and check each against the answer the
 * records describe.
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

TestSuite(trace_open, .init = setup, .fini = teardown);

/* A chunk's events as msgpack bytes, growing, with their element count. */
struct chunk {
    uint8_t *buf;
    size_t len, cap;
    uint32_t count;
    uint64_t last; /* the time of the last token */
};

static void ch_byte(struct chunk *c, uint8_t b)
{
    if (c->len == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1 << 16;
        c->buf = realloc(c->buf, c->cap);
        cr_assert(c->buf);
    }
    c->buf[c->len++] = b;
}

/* One element: v as msgpack type type with a big-endian payload of len
 * bytes (type 0: the smallest form). */
static void ch_uint(struct chunk *c, uint64_t v, uint8_t type, int len)
{
    if (type == 0) {
        uint8_t tmp[9];
        struct mp_out o = {tmp, tmp + sizeof tmp, 0};
        mp_uint(&o, v);
        for (uint8_t *p = tmp; p < o.pos; p++)
            ch_byte(c, *p);
    } else {
        ch_byte(c, type);
        for (int i = len - 1; i >= 0; i--)
            ch_byte(c, (uint8_t)(v >> (8 * i)));
    }
    c->count++;
}

static void ch_token(struct chunk *c, uint64_t now, unsigned kind, uint8_t type, int len)
{
    ch_uint(c, (now - c->last) << CPROF_EV_KIND_BITS | kind, type, len);
    c->last = now;
}

/* The chunk as a trace record of thread 1 from base; frees its bytes. */
static void ch_write(struct tstream *s, struct chunk *c, uint32_t thread, uint64_t base)
{
    struct mp_out *o = &s->out;
    mp_array(o, 4);
    mp_uint(o, CPROF_REC_TRACE);
    mp_uint(o, thread);
    mp_uint(o, base);
    mp_array(o, c->count);
    cr_assert((size_t)(o->end - o->pos) >= c->len);
    memcpy(o->pos, c->buf, c->len);
    o->pos += c->len;
    free(c->buf);
    memset(c, 0, sizeof *c);
}

/* Gives s room for cap bytes in all (the builders' buffer holds 1 MiB). */
static void enlarge(struct tstream *s, size_t cap)
{
    size_t len = ts_len(s);
    s->buf = realloc(s->buf, cap);
    cr_assert(s->buf);
    s->out = (struct mp_out){s->buf + len, s->buf + cap, 0};
}

/* The header, a module and thread 1, then a record of an unknown type
 * holding pad bytes, which moves what follows by pad bytes. */
static void begin(struct tstream *s, size_t pad)
{
    ts_begin(s, "trace", 100);
    enlarge(s, 8u << 20);
    ts_module(s, 0, 0x1000, 0x100000, "/nonexistent/prog");
    ts_thread(s, 1, 100);
    struct mp_out *o = &s->out;
    mp_array(o, 2);
    mp_uint(o, 200);
    mp_array(o, (uint32_t)pad);
    for (size_t i = 0; i < pad; i++)
        mp_uint(o, 0);
}

/* What the pattern below makes, to check a model against. */
struct answer {
    uint64_t outer_calls, outer_ticks, inner_calls, inner_ticks;
    uint64_t dropped, alloc_calls, alloc_bytes;
};

static const struct {
    uint8_t type;
    int len;
} forms[] = {{0, 0},    {0xcc, 1}, {0xcd, 2}, {0xce, 4}, {0xcf, 8},
             {0xd0, 1}, {0xd1, 2}, {0xd2, 4}, {0xd3, 8}};
#define NFORMS (sizeof forms / sizeof *forms)

/* calls repetitions of: f0 entered, an allocation, f1 called (its exit's
 * delta large), every seventh time a drop, f0's exit; tokens and
 * operands cycle through every integer form, so that the events' sizes
 * and the places where they split vary. */
static void pattern(struct chunk *c, int calls, uint64_t *now, struct answer *a)
{
    ch_token(c, *now, CPROF_EV_EXT, 0, 0);
    ch_uint(c, CPROF_EXT_FUNC, 0, 0);
    ch_uint(c, 0, 0, 0);
    ch_uint(c, 0x1100, 0, 0);
    ch_token(c, *now, CPROF_EV_EXT, 0, 0);
    ch_uint(c, CPROF_EXT_FUNC, 0, 0);
    ch_uint(c, 1, 0, 0);
    ch_uint(c, 0x1200, 0, 0);
    for (int i = 0; i < calls; i++) {
        int f = i % (int)NFORMS, g = (i / 3) % (int)NFORMS;
        uint64_t start = *now += 5;
        ch_token(c, start, CPROF_EV_ENTER, forms[f].type, forms[f].len);
        ch_uint(c, 0, forms[g].type, forms[g].len);
        *now += 1;
        ch_token(c, *now, CPROF_EV_EXT, forms[g].type, forms[g].len);
        ch_uint(c, CPROF_EXT_ALLOC, 0, 0);
        ch_uint(c, 16 + (uint64_t)i % 100, forms[f].type, forms[f].len);
        ch_uint(c, 4096, 0, 0);
        a->alloc_calls++;
        a->alloc_bytes += 16 + (uint64_t)i % 100;
        uint64_t inner = *now += 2;
        ch_token(c, inner, CPROF_EV_ENTER, 0, 0);
        ch_uint(c, 1, forms[f].type, forms[f].len);
        *now += 100 + (uint64_t)i % 5000; /* a token of 2 or 3 bytes */
        ch_token(c, *now, CPROF_EV_EXIT, 0, 0);
        a->inner_calls++;
        a->inner_ticks += *now - inner;
        if (i % 7 == 0) {
            ch_token(c, *now, CPROF_EV_EXT, 0, 0);
            ch_uint(c, CPROF_EXT_DROP, 0, 0);
            ch_uint(c, 1, forms[g].type, forms[g].len);
            a->dropped++;
        }
        *now += 3;
        ch_token(c, *now, CPROF_EV_EXIT, forms[g].type, forms[g].len);
        a->outer_calls++;
        a->outer_ticks += *now - start;
    }
}

/* Loads the file s holds through a file (the reader's window refills)
 * into model; returns the loader's result. */
static int load_file(struct tstream *s, const char *tag)
{
    char *path = ts_write_temp(s, tag);
    char msg[256] = "";
    int r = model_load_file(&model, path, msg, sizeof msg);
    unlink(path);
    free(path);
    cr_assert_eq(r, 0, "%s", msg);
    return r;
}

static const struct m_node *node_of(const struct m_thread *t, uint64_t addr)
{
    for (size_t i = 1; i < t->nnodes; i++)
        if (model.funcs[t->nodes[i].func].addr == addr)
            return &t->nodes[i];
    cr_assert_fail("no node of 0x%llx", (unsigned long long)addr);
    return NULL;
}

static void check(const struct answer *a, const char *what)
{
    cr_assert_eq(model.nprocs, 1);
    const struct m_thread *t = model.procs[0]->threads[0];
    const struct m_node *outer = node_of(t, 0x1100), *inner = node_of(t, 0x1200);
    cr_expect_eq(outer->calls, a->outer_calls, "%s", what);
    cr_expect_eq(outer->incl_ticks, a->outer_ticks, "%s", what);
    cr_expect_eq(outer->completed, a->outer_calls, "%s", what);
    cr_expect_eq(outer->alloc_calls, a->alloc_calls, "%s", what);
    cr_expect_eq(outer->alloc_bytes, a->alloc_bytes, "%s", what);
    cr_expect_eq(inner->calls, a->inner_calls, "%s", what);
    cr_expect_eq(inner->incl_ticks, a->inner_ticks, "%s", what);
    cr_expect_eq(t->stats.dropped_events, a->dropped, "%s", what);
}

/* A chunk of about 1.4 MB read through the 1 MiB window, moved by 0 to
 * 47 bytes: the window's end falls on every byte of the pattern's events
 * (tokens, operands, EXT events of three and four elements), and the
 * replay refills there and goes on as if the chunk were whole. */
Test(trace_open, events_split_across_refills_at_every_offset)
{
    for (size_t pad = 0; pad < 48; pad++) {
        struct tstream s;
        begin(&s, pad);
        struct chunk c = {0};
        struct answer a = {0};
        uint64_t now = 1000;
        pattern(&c, 50000, &now, &a);
        cr_assert_gt(c.len, (size_t)1 << 20);
        ch_write(&s, &c, 1, 1000);
        ts_thread_end(&s, 1, "");
        ts_end(&s, 1e9, now);
        model_free(&model);
        model_init(&model);
        load_file(&s, "open");
        char what[32];
        snprintf(what, sizeof what, "moved by %zu", pad);
        check(&a, what);
        cr_expect_eq(model.damage.count, 0, "%s: %s", what,
                     model.damage.count ? model.damage.text[0] : "");
    }
}

/* Finds a warning that contains want. */
static void expect_warning(const char *want)
{
    int found = 0;
    for (size_t i = 0; i < model.warnings.count; i++)
        found |= strstr(model.warnings.text[i], want) != NULL;
    cr_expect(found, "no warning says \"%s\"", want);
}

/* The reader's damage warning, naming byte at. */
static void expect_damage_at(size_t at)
{
    char want[128];
    snprintf(want, sizeof want, "damaged at byte %zu: %s", at, mp_strerror(MP_EBAD));
    expect_warning(want);
}

/* A reserved byte inside a chunk, past the window's first refill: the
 * damage is named at the chunk's first byte, as the reader names damage
 * in any record, and the events before it are replayed. */
Test(trace_open, damage_in_the_middle_of_an_open_chunk)
{
    struct tstream s;
    begin(&s, 0);
    struct chunk c = {0};
    struct answer a = {0};
    uint64_t now = 1000;
    pattern(&c, 40000, &now, &a);
    cr_assert_gt(c.len, (size_t)1 << 20);
    ch_byte(&c, 0xc1);
    c.count++;
    struct answer more = {0};
    pattern(&c, 10, &now, &more);
    size_t at = ts_len(&s);
    ch_write(&s, &c, 1, 1000);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, now);
    load_file(&s, "damaged");
    check(&a, "before the damage");
    expect_damage_at(at);
}

/* A file cut inside a chunk, past the window's first refill: the cut is
 * named at the chunk's first byte, the calls entered before it count and
 * those still open there are cut off. */
Test(trace_open, a_file_cut_inside_an_open_chunk)
{
    struct tstream s;
    begin(&s, 0);
    struct chunk c = {0};
    struct answer a = {0};
    uint64_t now = 1000;
    pattern(&c, 40000, &now, &a);
    size_t whole = c.len;
    ch_token(&c, now + 5, CPROF_EV_ENTER, 0, 0);
    ch_uint(&c, 0, 0, 0);
    struct answer more = {0};
    uint64_t later = now + 5;
    pattern(&c, 1000, &later, &more);
    size_t at = ts_len(&s);
    ch_write(&s, &c, 1, 1000);
    /* cut after the first pattern's events, the enter (2 bytes) and the
     * first 2 bytes of the next pattern's EXT_FUNC event */
    uint8_t hdr[32];
    struct mp_out h = {hdr, hdr + sizeof hdr, 0};
    mp_array(&h, 4);
    mp_uint(&h, CPROF_REC_TRACE);
    mp_uint(&h, 1);
    mp_uint(&h, 1000);
    mp_array(&h, 0xffff + 1); /* the array 32 header its count needs */
    s.out.pos = s.buf + at + (size_t)(h.pos - hdr) + whole + 2 + 2;
    load_file(&s, "cut");
    const struct m_thread *t = model.procs[0]->threads[0];
    const struct m_node *outer = node_of(t, 0x1100);
    cr_expect_eq(outer->calls, a.outer_calls + 1);
    cr_expect_eq(outer->completed, a.outer_calls);
    cr_expect_eq(t->stats.cut_open, 1);
    char want[128];
    snprintf(want, sizeof want, "truncated at byte %zu (the file ends inside a record)",
             at);
    expect_warning(want);
}

/* Fields after the events (a newer format's) are skipped when the next
 * record is read, and checked: damage there is named at the chunk's
 * first byte too. */
Test(trace_open, fields_after_the_events_are_skipped_and_checked)
{
    struct tstream s;
    begin(&s, 0);
    struct mp_out *o = &s.out;
    mp_array(o, 6);
    mp_uint(o, CPROF_REC_TRACE);
    mp_uint(o, 1);
    mp_uint(o, 0);
    mp_array(o, 7);
    mp_uint(o, CPROF_EV_EXT);
    mp_uint(o, CPROF_EXT_FUNC);
    mp_uint(o, 0);
    mp_uint(o, 0x1100);
    mp_uint(o, 10 << CPROF_EV_KIND_BITS | CPROF_EV_ENTER);
    mp_uint(o, 0);
    mp_uint(o, 5 << CPROF_EV_KIND_BITS | CPROF_EV_EXIT);
    mp_cstr(o, "a newer field");
    mp_map(o, 1);
    mp_uint(o, 1);
    mp_uint(o, 2);
    size_t at = ts_len(&s);
    mp_array(o, 5);
    mp_uint(o, CPROF_REC_TRACE);
    mp_uint(o, 1);
    mp_uint(o, 100);
    mp_array(o, 2);
    mp_uint(o, 1 << CPROF_EV_KIND_BITS | CPROF_EV_ENTER);
    mp_uint(o, 0);
    *o->pos++ = 0xc1;
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 1000);
    char msg[256] = "";
    cr_assert_eq(
        model_load_mem(&model, "fields.cprof", s.buf, ts_len(&s), msg, sizeof msg), 0,
        "%s", msg);
    ts_free(&s);
    const struct m_thread *t = model.procs[0]->threads[0];
    const struct m_node *n = node_of(t, 0x1100);
    cr_expect_eq(n->calls, 2);
    cr_expect_eq(n->completed, 1);
    cr_expect_eq(n->incl_ticks, 5);
    expect_damage_at(at);
}

/* The chunks of a thread the tid filter leaves out are skipped whole, a
 * large one across refills, and the next thread's chunk is read where it
 * starts. */
Test(trace_open, chunks_of_a_thread_left_out_are_skipped)
{
    struct tstream s;
    begin(&s, 0);
    ts_thread(&s, 2, 200);
    struct chunk c = {0};
    struct answer a = {0}, b = {0};
    uint64_t now = 1000;
    pattern(&c, 50000, &now, &a);
    ch_write(&s, &c, 1, 1000);
    uint64_t now2 = 1000;
    pattern(&c, 300, &now2, &b);
    ch_write(&s, &c, 2, 1000);
    ts_thread_end(&s, 1, "");
    ts_thread_end(&s, 2, "");
    ts_end(&s, 1e9, now);
    model.filter.tid = 200;
    load_file(&s, "filtered");
    cr_assert_eq(model.nprocs, 1);
    const struct m_thread *t2 = NULL;
    for (size_t i = 0; i < model.procs[0]->nthreads; i++)
        if (model.procs[0]->threads[i]->tid == 200)
            t2 = model.procs[0]->threads[i];
    cr_assert(t2);
    cr_expect_eq(node_of(t2, 0x1100)->calls, b.outer_calls);
    cr_expect_eq(node_of(t2, 0x1200)->incl_ticks, b.inner_ticks);
    cr_expect_eq(t2->stats.dropped_events, b.dropped);
    cr_expect_eq(model.damage.count, 0, "%s",
                 model.damage.count ? model.damage.text[0] : "");
}
