/*
 * The test-stream builders; see stream.h. Files are encoded with the same
 * codec the runtime uses, so these tests exercise the analyzer, not a
 * second encoder.
 */
#include "stream.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cprof_format.h"

#define TS_CAP (1u << 20)

void ts_begin_version(struct tstream *s, const char *mode, uint64_t pid, unsigned major,
                      unsigned minor)
{
    s->buf = malloc(TS_CAP);
    cr_assert(s->buf);
    s->out = (struct mp_out){s->buf, s->buf + TS_CAP, 0};
    struct mp_out *o = &s->out;
    int count = strcmp(mode, "count") == 0;
    mp_map(o, 10);
    mp_cstr(o, "magic");
    mp_cstr(o, CPROF_MAGIC);
    mp_cstr(o, "version");
    mp_array(o, 2);
    mp_uint(o, major);
    mp_uint(o, minor);
    mp_cstr(o, "mode");
    mp_cstr(o, mode);
    mp_cstr(o, "clock");
    mp_cstr(o, count ? "none" : "tsc");
    mp_cstr(o, "ticks_per_sec");
    mp_f64(o, 1e9);
    mp_cstr(o, "start_ticks");
    mp_uint(o, 0);
    mp_cstr(o, "pid");
    mp_uint(o, pid);
    mp_cstr(o, "exe");
    mp_cstr(o, "/nonexistent/prog");
    mp_cstr(o, "argv");
    mp_array(o, 1);
    mp_cstr(o, "prog");
    mp_cstr(o, "hist_sub_bits");
    mp_uint(o, 2);
}

void ts_begin(struct tstream *s, const char *mode, uint64_t pid)
{
    ts_begin_version(s, mode, pid, CPROF_FORMAT_MAJOR, CPROF_FORMAT_MINOR);
}

void ts_module(struct tstream *s, uint64_t bias, uint64_t lo, uint64_t hi,
               const char *path)
{
    mp_array(&s->out, 6);
    mp_uint(&s->out, CPROF_REC_MODULE);
    mp_uint(&s->out, bias);
    mp_uint(&s->out, lo);
    mp_uint(&s->out, hi);
    mp_cstr(&s->out, path);
    mp_cstr(&s->out, "");
}

void ts_thread(struct tstream *s, uint32_t serial, uint64_t tid)
{
    mp_array(&s->out, 4);
    mp_uint(&s->out, CPROF_REC_THREAD);
    mp_uint(&s->out, serial);
    mp_uint(&s->out, tid);
    mp_cstr(&s->out, "t");
}

void ts_node(struct tstream *s, uint32_t thread, uint64_t id, uint64_t parent,
             uint64_t fn, uint64_t calls, uint64_t incl, uint64_t min, uint64_t max,
             uint64_t completed)
{
    struct mp_out *o = &s->out;
    mp_array(o, 10);
    mp_uint(o, CPROF_REC_NODE);
    mp_uint(o, thread);
    mp_uint(o, id);
    mp_uint(o, parent);
    mp_uint(o, fn);
    mp_uint(o, calls);
    mp_uint(o, incl);
    mp_uint(o, min);
    mp_uint(o, max);
    mp_array(o, completed ? 2 : 0);
    if (completed) {
        mp_uint(o, cprof_hist_bucket(max, 2));
        mp_uint(o, completed);
    }
}

/* Parses the event text into uints (tokens and operands). */
static size_t ts_events(uint64_t base, const char *text, uint64_t *ev, size_t cap)
{
    size_t n = 0;
    uint64_t now = base, last = base;
    const char *p = text;
#define TS_PUT(v)                                                                        \
    do {                                                                                 \
        cr_assert(n < cap);                                                              \
        ev[n++] = (v);                                                                   \
    } while (0)
#define TS_TOKEN(kind)                                                                   \
    do {                                                                                 \
        TS_PUT((now - last) << CPROF_EV_KIND_BITS | (kind));                             \
        last = now;                                                                      \
    } while (0)
    while (*p) {
        char *end;
        switch (*p) {
        case ' ':
            p++;
            continue;
        case '@':
            now = strtoull(p + 1, &end, 10);
            break;
        case 'f': {
            uint64_t idx = strtoull(p + 1, &end, 10);
            cr_assert_eq(*end, '=', "bad stream text at '%s'", p);
            uint64_t addr = strtoull(end + 1, &end, 0);
            TS_TOKEN(CPROF_EV_EXT);
            TS_PUT(CPROF_EXT_FUNC);
            TS_PUT(idx);
            TS_PUT(addr);
            break;
        }
        case 'e':
            TS_TOKEN(CPROF_EV_ENTER);
            TS_PUT(strtoull(p + 1, &end, 10));
            break;
        case 'x':
            TS_TOKEN(CPROF_EV_EXIT);
            end = (char *)p + 1;
            break;
        case 'u': {
            uint64_t reason = strtoull(p + 1, &end, 10);
            cr_assert_eq(*end, ':', "bad stream text at '%s'", p);
            TS_TOKEN(CPROF_EV_EXT);
            TS_PUT(CPROF_EXT_UNWIND);
            TS_PUT(reason);
            TS_PUT(strtoull(end + 1, &end, 10));
            break;
        }
        case 'i': {
            uint64_t idx[64];
            size_t k = 0;
            end = (char *)p;
            do {
                idx[k++] = strtoull(end + 1, &end, 10);
            } while (*end == ',' && k < 64);
            TS_TOKEN(CPROF_EV_EXT);
            TS_PUT(CPROF_EXT_INHERITED);
            TS_PUT(k);
            for (size_t j = 0; j < k; j++)
                TS_PUT(idx[j]);
            break;
        }
        case 'd':
            TS_TOKEN(CPROF_EV_EXT);
            TS_PUT(CPROF_EXT_DROP);
            TS_PUT(strtoull(p + 1, &end, 10));
            break;
        default:
            cr_assert_fail("bad stream text at '%s'", p);
            return 0;
        }
        p = end;
    }
    return n;
#undef TS_PUT
#undef TS_TOKEN
}

void ts_trace(struct tstream *s, uint32_t thread, uint64_t base, const char *events)
{
    static uint64_t ev[4096];
    size_t n = ts_events(base, events, ev, sizeof ev / sizeof *ev);
    ts_trace_raw(s, thread, base, ev, n);
}

void ts_thread_end(struct tstream *s, uint32_t thread, const char *stats)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", stats);
    uint32_t n = 0;
    for (const char *p = copy; *p; p++)
        n += *p == '=';
    struct mp_out *o = &s->out;
    mp_array(o, 3);
    mp_uint(o, CPROF_REC_THREAD_END);
    mp_uint(o, thread);
    mp_map(o, n);
    char *save = NULL;
    for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        *eq = 0;
        mp_cstr(o, kv);
        mp_uint(o, strtoull(eq + 1, NULL, 10));
    }
}

void ts_line(struct tstream *s, uint32_t thread, uint64_t fn, const char *func,
             const char *file, uint32_t line, uint64_t hits, uint64_t time, uint64_t self)
{
    struct mp_out *o = &s->out;
    mp_array(o, 9);
    mp_uint(o, CPROF_REC_LINE);
    mp_uint(o, thread);
    mp_uint(o, fn);
    mp_cstr(o, func);
    mp_cstr(o, file);
    mp_uint(o, line);
    mp_uint(o, hits);
    mp_uint(o, time);
    mp_uint(o, self);
}

void ts_line_site(struct tstream *s, uint32_t thread, uint32_t site, uint64_t fn,
                  const char *func, const char *file, uint32_t line)
{
    struct mp_out *o = &s->out;
    mp_array(o, 7);
    mp_uint(o, CPROF_REC_LINE_SITE);
    mp_uint(o, thread);
    mp_uint(o, site);
    mp_uint(o, fn);
    mp_cstr(o, func);
    mp_cstr(o, file);
    mp_uint(o, line);
}

void ts_trace_raw(struct tstream *s, uint32_t thread, uint64_t base,
                  const uint64_t *events, size_t n)
{
    struct mp_out *o = &s->out;
    mp_array(o, 4);
    mp_uint(o, CPROF_REC_TRACE);
    mp_uint(o, thread);
    mp_uint(o, base);
    mp_array(o, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        mp_uint(o, events[i]);
}

void ts_end(struct tstream *s, double ticks_per_sec, uint64_t end_ticks)
{
    struct mp_out *o = &s->out;
    mp_array(o, 2);
    mp_uint(o, CPROF_REC_END);
    mp_map(o, 3);
    mp_cstr(o, "reason");
    mp_cstr(o, "exit");
    mp_cstr(o, "ticks_per_sec");
    mp_f64(o, ticks_per_sec);
    mp_cstr(o, "end_ticks");
    mp_uint(o, end_ticks);
}

size_t ts_len(const struct tstream *s)
{
    cr_assert(!s->out.overflow);
    return (size_t)(s->out.pos - s->buf);
}

void ts_free(struct tstream *s)
{
    free(s->buf);
    s->buf = NULL;
}
