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
#include <unistd.h>

#include "cprof_format.h"
#include "model.h"
#include "profile.h"

#define TS_CAP (1u << 20)

/* The header, with "fork_parent" when parent is not 0, the probe cost
 * keys {call, inner, line} when probe is not NULL, and "cpu_time" when
 * cpu_time is not NULL. */
static void begin_header(struct tstream *s, const char *mode, uint64_t pid,
                         unsigned major, unsigned minor, uint64_t parent,
                         const double *probe, const char *cpu_time)
{
    s->buf = malloc(TS_CAP);
    cr_assert(s->buf);
    s->out = (struct mp_out){s->buf, s->buf + TS_CAP, 0};
    struct mp_out *o = &s->out;
    int count = strcmp(mode, "count") == 0;
    mp_map(o, 10u + (parent != 0) + (cpu_time != NULL) + (probe ? 3u : 0u));
    if (cpu_time) {
        mp_cstr(o, "cpu_time");
        mp_cstr(o, cpu_time);
    }
    if (parent) {
        mp_cstr(o, "fork_parent");
        mp_uint(o, parent);
    }
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
    static const char *const probe_keys[3] = {"probe_call_ns", "probe_call_inner_ns",
                                              "probe_line_ns"};
    for (int i = 0; probe && i < 3; i++) {
        mp_cstr(o, probe_keys[i]);
        mp_f64(o, probe[i]);
    }
}

void ts_begin_version(struct tstream *s, const char *mode, uint64_t pid, unsigned major,
                      unsigned minor)
{
    begin_header(s, mode, pid, major, minor, 0, NULL, NULL);
}

void ts_begin_probe(struct tstream *s, const char *mode, uint64_t pid, double call_ns,
                    double inner_ns, double line_ns)
{
    const double probe[3] = {call_ns, inner_ns, line_ns};
    begin_header(s, mode, pid, CPROF_FORMAT_MAJOR, CPROF_FORMAT_MINOR, 0, probe, NULL);
}

void ts_begin_forked(struct tstream *s, const char *mode, uint64_t pid, uint64_t parent)
{
    begin_header(s, mode, pid, CPROF_FORMAT_MAJOR, CPROF_FORMAT_MINOR, parent, NULL,
                 NULL);
}

void ts_begin_cpu(struct tstream *s, uint64_t pid)
{
    begin_header(s, "summary", pid, CPROF_FORMAT_MAJOR, CPROF_FORMAT_MINOR, 0, NULL,
                 "rseq");
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

/* The array header of a node record of n elements and its first seven:
 * the fields every version has before the histogram's. */
static void node_start(struct mp_out *o, uint32_t n, uint32_t thread, uint64_t id,
                       uint64_t parent, uint64_t fn, uint64_t calls, uint64_t incl)
{
    mp_array(o, n);
    mp_uint(o, CPROF_REC_NODE);
    mp_uint(o, thread);
    mp_uint(o, id);
    mp_uint(o, parent);
    mp_uint(o, fn);
    mp_uint(o, calls);
    mp_uint(o, incl);
}

void ts_node(struct tstream *s, uint32_t thread, uint64_t id, uint64_t parent,
             uint64_t fn, uint64_t calls, uint64_t incl, uint64_t min, uint64_t max,
             uint64_t completed)
{
    struct mp_out *o = &s->out;
    node_start(o, 10, thread, id, parent, fn, calls, incl);
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
        case 'a':
        case 'r': {
            uint64_t bytes = strtoull(p + 1, &end, 10);
            cr_assert_eq(*end, ':', "bad stream text at '%s'", p);
            TS_TOKEN(CPROF_EV_EXT);
            TS_PUT(*p == 'a' ? CPROF_EXT_ALLOC : CPROF_EXT_FREE);
            TS_PUT(bytes);
            TS_PUT(strtoull(end + 1, &end, 10));
            break;
        }
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

/* [type, thread, {key: uint, ...}] from "key=value,key=value". */
static void ts_counters(struct tstream *s, unsigned type, uint32_t thread,
                        const char *stats)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", stats);
    uint32_t n = 0;
    for (const char *p = copy; *p; p++)
        n += *p == '=';
    struct mp_out *o = &s->out;
    mp_array(o, 3);
    mp_uint(o, type);
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

void ts_thread_end(struct tstream *s, uint32_t thread, const char *stats)
{
    ts_counters(s, CPROF_REC_THREAD_END, thread, stats);
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

/* An end record whose map has the reason, the clock's rate and the end
 * time, then n_more keys the caller writes. */
static void end_start(struct mp_out *o, double ticks_per_sec, uint64_t end_ticks,
                      uint32_t n_more)
{
    mp_array(o, 2);
    mp_uint(o, CPROF_REC_END);
    mp_map(o, 3 + n_more);
    mp_cstr(o, "reason");
    mp_cstr(o, "exit");
    mp_cstr(o, "ticks_per_sec");
    mp_f64(o, ticks_per_sec);
    mp_cstr(o, "end_ticks");
    mp_uint(o, end_ticks);
}

void ts_end(struct tstream *s, double ticks_per_sec, uint64_t end_ticks)
{
    end_start(&s->out, ticks_per_sec, end_ticks, 0);
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

void ts_node_heap(struct tstream *s, uint32_t thread, uint64_t id, uint64_t parent,
                  uint64_t fn, uint64_t calls, uint64_t incl, const uint64_t heap[5])
{
    struct mp_out *o = &s->out;
    node_start(o, 15, thread, id, parent, fn, calls, incl);
    mp_uint(o, 0);
    mp_uint(o, 0);
    mp_array(o, 0);
    for (int i = 0; i < 5; i++)
        mp_uint(o, heap[i]);
}

void ts_node_cpu(struct tstream *s, uint32_t thread, uint64_t id, uint64_t parent,
                 uint64_t fn, uint64_t calls, uint64_t incl, uint64_t cpu_ns)
{
    struct mp_out *o = &s->out;
    node_start(o, 16, thread, id, parent, fn, calls, incl);
    mp_uint(o, 0);
    mp_uint(o, 0);
    mp_array(o, 0);
    for (int i = 0; i < 5; i++)
        mp_uint(o, 0);
    mp_uint(o, cpu_ns);
}

void ts_heap(struct tstream *s, uint32_t thread, const char *stats)
{
    ts_counters(s, CPROF_REC_HEAP, thread, stats);
}

void ts_freed(struct tstream *s, uint32_t thread, uint32_t owner_thread, uint64_t owner,
              uint64_t free_calls, uint64_t freed_bytes)
{
    struct mp_out *o = &s->out;
    mp_array(o, 6);
    mp_uint(o, CPROF_REC_FREED);
    mp_uint(o, thread);
    mp_uint(o, owner_thread);
    mp_uint(o, owner);
    mp_uint(o, free_calls);
    mp_uint(o, freed_bytes);
}

void ts_end_heap(struct tstream *s, double ticks_per_sec, uint64_t end_ticks,
                 const uint64_t heap[5])
{
    ts_end_heap_dropped(s, ticks_per_sec, end_ticks, heap, 0);
}

void ts_end_heap_dropped(struct tstream *s, double ticks_per_sec, uint64_t end_ticks,
                         const uint64_t heap[5], uint64_t heap_dropped)
{
    static const char *const keys[] = {"heap_in_use", "heap_peak", "heap_blocks",
                                       "peak_rss", "foreign_frees"};
    struct mp_out *o = &s->out;
    end_start(o, ticks_per_sec, end_ticks, 5u + (heap_dropped != 0));
    for (int i = 0; i < 5; i++) {
        mp_cstr(o, keys[i]);
        mp_uint(o, heap[i]);
    }
    if (heap_dropped) {
        mp_cstr(o, "heap_dropped");
        mp_uint(o, heap_dropped);
    }
}

char *ts_write_temp(struct tstream *s, const char *tag)
{
    char *path = malloc(strlen(tag) + 32);
    cr_assert(path);
    sprintf(path, "/tmp/cprof-%s-XXXXXX.cprof", tag);
    int fd = mkstemps(path, 6);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, s->buf, ts_len(s)), (ssize_t)ts_len(s));
    close(fd);
    ts_free(s);
    return path;
}

int ts_run_cmd(int (*cmd)(int, char **), char **argv, char **out, char **err)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    char out_path[] = "/tmp/cprof-out-XXXXXX", err_path[] = "/tmp/cprof-err-XXXXXX";
    int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
    cr_assert(out_fd >= 0 && err_fd >= 0);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    int status = cmd(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    char **dst[2] = {out, err};
    int fds[2] = {out_fd, err_fd};
    for (int i = 0; i < 2; i++) {
        off_t len = lseek(fds[i], 0, SEEK_END);
        *dst[i] = calloc(1, (size_t)len + 1);
        cr_assert_eq(pread(fds[i], *dst[i], (size_t)len, 0), (ssize_t)len);
        close(fds[i]);
    }
    unlink(out_path);
    unlink(err_path);
    return status;
}

void ts_load(struct model *m, struct tstream *s, const char *name)
{
    char msg[256] = "";
    int r = model_load_mem(m, name, s->buf, ts_len(s), msg, sizeof msg);
    cr_assert_eq(r, 0, "load failed: %s", msg);
    ts_free(s);
}

const struct pf_row *ts_row(const struct model *m, const struct profile *p, uint64_t addr)
{
    for (size_t i = 0; i < p->nrows; i++)
        if (m->funcs[p->rows[i].func].addr == addr)
            return &p->rows[i];
    cr_assert_fail("no row for function 0x%llx", (unsigned long long)addr);
    return NULL;
}

void ts_clock(struct tstream *s, uint64_t ticks, uint64_t mono_ns)
{
    struct mp_out *o = &s->out;
    mp_array(o, 3);
    mp_uint(o, CPROF_REC_CLOCK);
    mp_uint(o, ticks);
    mp_uint(o, mono_ns);
}

void ts_end_run(struct tstream *s, double ticks_per_sec, uint64_t end_ticks,
                const char *reason, uint64_t signal, uint64_t threads,
                uint64_t threads_lost)
{
    struct mp_out *o = &s->out;
    int killed = !strcmp(reason, "signal");
    mp_array(o, 2);
    mp_uint(o, CPROF_REC_END);
    mp_map(o, 5u + (killed != 0));
    mp_cstr(o, "reason");
    mp_cstr(o, reason);
    if (killed) {
        mp_cstr(o, "signal");
        mp_uint(o, signal);
    }
    mp_cstr(o, "ticks_per_sec");
    mp_f64(o, ticks_per_sec);
    mp_cstr(o, "end_ticks");
    mp_uint(o, end_ticks);
    mp_cstr(o, "threads");
    mp_uint(o, threads);
    mp_cstr(o, "threads_lost");
    mp_uint(o, threads_lost);
}

void ts_node_hist(struct tstream *s, uint32_t thread, uint64_t id, uint64_t parent,
                  uint64_t fn, uint64_t calls, uint64_t incl, uint64_t min, uint64_t max,
                  const uint64_t *hist, size_t npairs)
{
    struct mp_out *o = &s->out;
    node_start(o, 10, thread, id, parent, fn, calls, incl);
    mp_uint(o, min);
    mp_uint(o, max);
    mp_array(o, (uint32_t)(2 * npairs));
    for (size_t i = 0; i < 2 * npairs; i++)
        mp_uint(o, hist[i]);
}

void ts_region(struct tstream *s, uint64_t fn, const char *name)
{
    struct mp_out *o = &s->out;
    mp_array(o, 3);
    mp_uint(o, CPROF_REC_REGION);
    mp_uint(o, fn);
    mp_cstr(o, name);
}

void ts_period(struct tstream *s, uint64_t on_ticks, uint64_t off_ticks,
               const char *how_on, const char *how_off)
{
    struct mp_out *o = &s->out;
    mp_array(o, 5);
    mp_uint(o, CPROF_REC_PERIOD);
    mp_uint(o, on_ticks);
    mp_uint(o, off_ticks);
    mp_cstr(o, how_on);
    mp_cstr(o, how_off);
}
