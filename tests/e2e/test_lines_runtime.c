/*
 * The runtime's line hook (issue 3, cprof lines) inside real programs. The
 * test program calls __cprof_line(&site) by hand, with one constant site
 * per line, exactly where cprof-cc's line pass puts the calls (at block
 * starts and line changes, after the function's enter hook), so these
 * tests do not depend on the pass. Each program runs in summary, trace and
 * count modes; the file it wrote is decoded with msgpack-c (an independent
 * decoder) and checked: exact hits per line, time and self time of lines
 * that call a function sleeping 30 ms, recursion, threads, longjmp out of a
 * frame with an open line, exit from inside a line, a line outside its
 * function's call (lines_unmatched), fork, and in trace mode LINE events
 * whose sites are defined (LINE_SITE records) before the chunk using them.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_mp.h"
#include "e2e_rtprog.h"
#include "e2e_util.h"

static const char lines_src[] =
    "#include <pthread.h>\n"
    "#include <setjmp.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "#include <time.h>\n"
    "#include <unistd.h>\n"
    "#include <sys/wait.h>\n"
    "#include \"cprof_lines.h\"\n"
    "#define L(fn, n) do { static const struct cprof_line_site s_ =\\\n"
    "    {(void *)fn, #fn, \"/src/prog.c\", n, 0}; __cprof_line(&s_); } while (0)\n"
    "#define NI __attribute__((noinline))\n"
    "NI static void nap(void) { struct timespec ts = {0, 30000000};\n"
    "    nanosleep(&ts, 0); }\n"
    "NI static int loop(int n) { int s = 0;\n"
    "    L(loop, 1);\n"
    "    for (int i = 0; i < n; i++) { L(loop, 2); s += i; }\n"
    "    L(loop, 3);\n"
    "    return s; }\n"
    "NI static void sleeper(void) { L(sleeper, 1); nap(); L(sleeper, 2); }\n"
    "NI static int rec(int n) {\n"
    "    L(rec, 1);\n"
    "    if (n == 0) { L(rec, 2); nap(); return 0; }\n"
    "    L(rec, 3);\n"
    "    int r = rec(n - 1) + 1;\n"
    "    L(rec, 4);\n"
    "    return r; }\n"
    "static jmp_buf jb;\n"
    "NI static void jumper(void) { L(jumper, 1); nap(); L(jumper, 2); nap();\n"
    "    longjmp(jb, 1); }\n"
    "NI static void lj(void) {\n"
    "    if (!setjmp(jb)) { L(lj, 1); jumper(); }\n"
    "    L(lj, 2); }\n"
    "static jmp_buf jb2;\n"
    "NI static int rj(int n) {\n"
    "    if (n == 0) { L(rj, 1); longjmp(jb2, 1); }\n"
    "    if (n == 2 && setjmp(jb2)) { L(rj, 2); nap(); L(rj, 3); return 0; }\n"
    "    L(rj, 4);\n"
    "    return rj(n - 1); }\n"
    "__attribute__((no_instrument_function)) NI static void uninst(void) {\n"
    "    L(uninst, 1); }\n"
    "NI static void quitter(void) { L(quitter, 1); nap(); exit(0); }\n"
    "static void *worker(void *a) { loop(20); return a; }\n"
    "static struct cprof_line_site sites[13000];\n"
    "NI static void many(void) {\n"
    "    for (int i = 0; i < 13000; i++) __cprof_line(&sites[i]); }\n"
    "int main(int argc, char **argv) {\n"
    "    const char *w = argc > 1 ? argv[1] : \"\";\n"
    "    if (!strcmp(w, \"basic\")) { loop(10); loop(5); sleeper(); uninst(); }\n"
    "    if (!strcmp(w, \"rec\")) rec(3);\n"
    "    if (!strcmp(w, \"many\")) { for (int i = 0; i < 13000; i++) {\n"
    "            struct cprof_line_site s = {(void *)many, \"many\", \"/src/prog.c\",\n"
    "                                        (unsigned)i + 1, 0}; sites[i] = s; }\n"
    "        many(); many(); }\n"
    "    if (!strcmp(w, \"threads\")) { pthread_t t;\n"
    "        pthread_create(&t, 0, worker, 0); pthread_join(t, 0); loop(10); }\n"
    "    if (!strcmp(w, \"longjmp\")) lj();\n"
    "    if (!strcmp(w, \"rjump\")) rj(2);\n"
    "    if (!strcmp(w, \"exit\")) { loop(2); quitter(); }\n"
    "    if (!strcmp(w, \"fork\")) { loop(3); pid_t p = fork();\n"
    "        if (p == 0) { loop(5); exit(0); }\n"
    "        waitpid(p, 0, 0); loop(7); }\n"
    "    return 0; }\n";

#define MAX_LINES 16384 /* the "many" scenario: past the runtime's 12288 */
#define MAX_THREADS 4

struct line_rec {
    unsigned thread;
    char func[32];
    char file[32];
    unsigned line;
    unsigned long long hits, time, self;
    unsigned long long events; /* trace mode: LINE events of this site */
};

struct site_def {
    int defined;
    char func[32];
    unsigned line;
    unsigned long long events;
};

/* What one .cprof file holds, as far as these tests look. */
struct lines_file {
    struct e2e_rtprog_head head; /* first: see e2e_rtprog.h */
    double ticks_per_sec;
    int nlines;
    struct line_rec lines[MAX_LINES];
    int nsites;
    struct site_def sites[MAX_THREADS][MAX_LINES + 2]; /* by thread, index */
    unsigned long long events;                         /* LINE events in all */
    long lines_unmatched, lines_dropped, repaired, closed_at_end;
    int thread_ends;
};

static struct site_def *find_site(struct lines_file *f, unsigned thread, unsigned index)
{
    cr_assert(thread < MAX_THREADS && index < MAX_LINES + 2,
              "thread %u, site index %u: out of the test's range", thread, index);
    return &f->sites[thread][index];
}

/* Walks one trace chunk's events, counting LINE events per site; every
 * site must have been defined before. */
static void read_chunk(struct lines_file *f, unsigned thread, const msgpack_object *ev)
{
    uint32_t n = ev->via.array.size, i = 0;
    while (i < n) {
        uint64_t token = ev->via.array.ptr[i++].via.u64;
        unsigned kind = (unsigned)(token & 3);
        if (kind == 0) {
            i++;
        } else if (kind == 2) {
            cr_assert(i < n, "LINE event without its operand");
            unsigned index = (unsigned)ev->via.array.ptr[i++].via.u64;
            struct site_def *s = find_site(f, thread, index);
            cr_assert(s->defined,
                      "thread %u: LINE event of site %u before its LINE_SITE record",
                      thread, index);
            s->events++;
            f->events++;
        } else if (kind == 3) {
            uint64_t code = ev->via.array.ptr[i++].via.u64;
            if (code == 2) /* INHERITED n fn*n */
                i += 1 + (uint32_t)ev->via.array.ptr[i].via.u64;
            else
                i += code == 4 ? 1 : 2;
        }
    }
    cr_assert_eq(i, n, "a trace chunk ends inside an event");
}

static void read_record(const msgpack_object *o, void *ctx)
{
    struct lines_file *f = ctx;
    const msgpack_object *a = o->via.array.ptr;
    uint64_t type = e2e_mp_uint_at(o, 0);
    if (type == E2E_MP_LINE) {
        cr_assert_eq(o->via.array.size, 9, "LINE record of %u elements",
                     o->via.array.size);
        cr_assert_lt(f->nlines, MAX_LINES);
        struct line_rec *l = &f->lines[f->nlines++];
        memset(l, 0, sizeof *l);
        l->thread = (unsigned)e2e_mp_uint_at(o, 1);
        e2e_mp_copy_str(l->func, sizeof l->func, &a[3]);
        e2e_mp_copy_str(l->file, sizeof l->file, &a[4]);
        l->line = (unsigned)e2e_mp_uint_at(o, 5);
        l->hits = e2e_mp_uint_at(o, 6);
        l->time = e2e_mp_uint_at(o, 7);
        l->self = e2e_mp_uint_at(o, 8);
    } else if (type == E2E_MP_LINE_SITE) {
        cr_assert_eq(o->via.array.size, 7, "LINE_SITE record of %u elements",
                     o->via.array.size);
        unsigned thread = (unsigned)e2e_mp_uint_at(o, 1);
        unsigned index = (unsigned)e2e_mp_uint_at(o, 2);
        struct site_def *s = find_site(f, thread, index);
        cr_assert(!s->defined, "site %u defined twice", index);
        s->defined = 1;
        f->nsites++;
        e2e_mp_copy_str(s->func, sizeof s->func, &a[4]);
        s->line = (unsigned)e2e_mp_uint_at(o, 6);
        s->events = 0;
    } else if (type == E2E_MP_TRACE) {
        read_chunk(f, (unsigned)e2e_mp_uint_at(o, 1), &a[3]);
    }
    const msgpack_object *stats = e2e_mp_stats(o);
    if (!stats)
        return;
    f->thread_ends += type == E2E_MP_THREAD_END;
    f->lines_unmatched += e2e_mp_get_uint(stats, "lines_unmatched");
    f->lines_dropped += e2e_mp_get_uint(stats, "lines_dropped");
    f->repaired += e2e_mp_get_uint(stats, "repaired_longjmp");
    f->closed_at_end += e2e_mp_get_uint(stats, "closed_at_end");
    const msgpack_object *rate = e2e_mp_get(stats, "ticks_per_sec");
    if (rate) {
        cr_assert(rate->type == MSGPACK_OBJECT_FLOAT64 ||
                      rate->type == MSGPACK_OBJECT_FLOAT32,
                  "ticks_per_sec is not a float");
        f->ticks_per_sec = rate->via.f64;
    }
}

static void read_lines_file(const char *path, struct lines_file *f)
{
    memset(f, 0, sizeof *f);
    e2e_mp_read_file(path, e2e_rtprog_read_head, read_record, f);
    /* a trace's events, by site, next to the line records (quadratic: not
     * for the thousands of lines of the "many" scenario) */
    for (int j = 0; j < f->nlines && f->nlines <= 1024; j++) {
        struct line_rec *l = &f->lines[j];
        for (unsigned i = 1; f->nsites && l->thread < MAX_THREADS && i < MAX_LINES + 2;
             i++) {
            const struct site_def *s = &f->sites[l->thread][i];
            if (!s->defined)
                break;
            if (s->line == l->line && !strcmp(l->func, s->func))
                l->events += s->events;
        }
    }
}

/* Builds lines_src as r->prog. */
static void build_lines(struct e2e_rtprog *r)
{
    e2e_rtprog_put(r, "prog.c", lines_src);
    char cmd[2600];
    snprintf(
        cmd, sizeof cmd,
        "clang -O1 -Wall -Wextra -Werror -finstrument-functions -I%s/common "
        "-o %s %s/prog.c -lpthread -L%s/lib/cprof -Wl,-rpath,%s/lib/cprof -lcprof-rt",
        CPROF_SOURCE_DIR, r->prog, r->dir, CPROF_BINARY_DIR, CPROF_BINARY_DIR);
    cr_assert_eq(system(cmd), 0, "cannot build: %s", cmd);
}

/* For e2e_rtprog: one file of the current run (too big for the stack). */
static struct e2e_rtprog_head *read_run_file(const char *path, const struct e2e_rtprog *r)
{
    (void)r;
    struct lines_file *f = malloc(sizeof *f);
    cr_assert(f);
    read_lines_file(path, f);
    return &f->head;
}

static const struct e2e_rtprog_ops lines_prog = {build_lines, read_run_file};

/* The scenario in each mode in turn (see e2e_rtprog.h); the program is
 * lines_src unless the test built its own in r.dir first. */
static int next_mode(struct e2e_rtprog *r)
{
    return e2e_rtprog_next(r, &lines_prog);
}

/* The record of func's line on thread (0: summed over threads). */
static struct line_rec get_line(const struct lines_file *f, const char *func,
                                unsigned line, unsigned thread)
{
    struct line_rec sum = {0};
    int found = 0;
    for (int i = 0; i < f->nlines; i++) {
        const struct line_rec *l = &f->lines[i];
        if (strcmp(l->func, func) || l->line != line || (thread && l->thread != thread))
            continue;
        cr_assert_str_eq(l->file, "/src/prog.c");
        cr_assert_leq(l->self, l->time, "%s:%u: self time above time", func, line);
        sum.hits += l->hits;
        sum.time += l->time;
        sum.self += l->self;
        sum.events += l->events;
        found++;
    }
    cr_assert(found, "no record of %s line %u (thread %u)", func, line, thread);
    return sum;
}

static double ms(const struct lines_file *f, unsigned long long ticks)
{
    cr_assert_gt(f->ticks_per_sec, 0);
    return (double)ticks * 1e3 / f->ticks_per_sec;
}

/* Checks func's line: exact hits; in time modes time of at least min_ms
 * and self time below max_self_ms; in count mode no time; in trace mode
 * one LINE event per hit (matched says the hits were inside their call). */
static void expect_line(const struct lines_file *f, const char *mode, const char *func,
                        unsigned line, unsigned thread, unsigned long long hits,
                        double min_ms, double max_self_ms, int matched)
{
    struct line_rec l = get_line(f, func, line, thread);
    cr_assert_eq(l.hits, hits, "%s: %s line %u: %llu hits, expected %llu", mode, func,
                 line, l.hits, hits);
    if (!strcmp(mode, "count")) {
        cr_assert_eq(l.time + l.self, 0, "count mode: %s line %u has time", func, line);
        return;
    }
    cr_assert_geq(ms(f, l.time), min_ms, "%s: %s line %u: %.3f ms, expected >= %.1f",
                  mode, func, line, ms(f, l.time), min_ms);
    cr_assert_lt(ms(f, l.self), max_self_ms,
                 "%s: %s line %u: self %.3f ms, expected < %.1f", mode, func, line,
                 ms(f, l.self), max_self_ms);
    if (!strcmp(mode, "trace"))
        cr_assert_eq(l.events, matched ? hits : 0,
                     "trace: %s line %u: %llu LINE events for %llu hits", func, line,
                     l.events, hits);
}

Test(lines_runtime, hits_time_and_self_time)
{
    struct e2e_rtprog r = {.scenario = "basic"};
    while (next_mode(&r)) {
        const struct lines_file *f = r.f;
        expect_line(r.f, r.mode, "loop", 1, 0, 2, 0, 10, 1);
        expect_line(r.f, r.mode, "loop", 2, 0, 15, 0, 10, 1);
        expect_line(r.f, r.mode, "loop", 3, 0, 2, 0, 10, 1);
        /* the line that calls nap() holds its 30 ms, but not as self time */
        expect_line(r.f, r.mode, "sleeper", 1, 0, 1, 30, 5, 1);
        expect_line(r.f, r.mode, "sleeper", 2, 0, 1, 0, 5, 1);
        /* a function without enter hook: its hit, no time */
        expect_line(r.f, r.mode, "uninst", 1, 0, 1, 0, 0.001, 0);
        struct line_rec u = get_line(r.f, "uninst", 1, 0);
        cr_assert_eq(u.time, 0);
        cr_assert_eq(f->lines_unmatched, 1, "%s: lines_unmatched %ld", r.mode,
                     f->lines_unmatched);
        cr_assert_eq(f->repaired, 0);
        cr_assert_eq(f->nlines, 6, "%s: %d line records", r.mode, f->nlines);
        if (!strcmp(r.mode, "trace"))
            cr_assert_eq(f->nsites, 6, "trace: %d sites defined", f->nsites);
    }
}

Test(lines_runtime, recursion_keeps_each_activation_s_line)
{
    struct e2e_rtprog r = {.scenario = "rec"};
    while (next_mode(&r)) {
        const struct lines_file *f = r.f;
        expect_line(r.f, r.mode, "rec", 1, 0, 4, 0, 10, 1);
        /* the base case's line calls nap() */
        expect_line(r.f, r.mode, "rec", 2, 0, 1, 30, 5, 1);
        /* each of the three activations has this line open across the nap
         * at the bottom: its time includes recursive callees, 3 x 30 ms */
        expect_line(r.f, r.mode, "rec", 3, 0, 3, 90, 5, 1);
        expect_line(r.f, r.mode, "rec", 4, 0, 3, 0, 5, 1);
        cr_assert_eq(f->lines_unmatched, 0);
    }
}

Test(lines_runtime, threads_have_their_own_records)
{
    struct e2e_rtprog r = {.scenario = "threads"};
    while (next_mode(&r)) {
        const struct lines_file *f = r.f;
        /* thread 1 is main (its first event is main's enter), 2 the worker */
        expect_line(r.f, r.mode, "loop", 2, 1, 10, 0, 10, 1);
        expect_line(r.f, r.mode, "loop", 2, 2, 20, 0, 10, 1);
        expect_line(r.f, r.mode, "loop", 1, 1, 1, 0, 10, 1);
        expect_line(r.f, r.mode, "loop", 1, 2, 1, 0, 10, 1);
        cr_assert_eq(f->nlines, 6, "%s: three lines on each of two threads", r.mode);
        cr_assert_eq(f->thread_ends, 2);
    }
}

Test(lines_runtime, longjmp_closes_the_open_line)
{
    struct e2e_rtprog r = {.scenario = "longjmp"};
    while (next_mode(&r)) {
        const struct lines_file *f = r.f;
        expect_line(r.f, r.mode, "jumper", 1, 0, 1, 30, 5, 1);
        /* open when longjmp left jumper: closed when the jump is noticed
         * (lj's next line), not lost */
        expect_line(r.f, r.mode, "jumper", 2, 0, 1, 30, 5, 1);
        /* jumper's time, both naps, is callee time of lj's line */
        expect_line(r.f, r.mode, "lj", 1, 0, 1, 60, 5, 1);
        expect_line(r.f, r.mode, "lj", 2, 0, 1, 0, 5, 1);
        cr_assert_eq(f->repaired, 1, "%s: jumper's frame repaired once", r.mode);
        cr_assert_eq(f->lines_unmatched, 0, "%s: lj's line after the jump is lj's",
                     r.mode);
    }
}

/* A longjmp from a recursive call back into an outer activation of the
 * same function: the line after the jump is the outer activation's, not
 * that of the abandoned inner one on top of the stack. */
Test(lines_runtime, longjmp_to_an_outer_activation)
{
    struct e2e_rtprog r = {.scenario = "rjump"};
    while (next_mode(&r)) {
        const struct lines_file *f = r.f;
        expect_line(r.f, r.mode, "rj", 1, 0, 1, 0, 5, 1);
        expect_line(r.f, r.mode, "rj", 2, 0, 1, 30, 5, 1);
        expect_line(r.f, r.mode, "rj", 3, 0, 1, 0, 5, 1);
        expect_line(r.f, r.mode, "rj", 4, 0, 2, 0, 5, 1);
        if (strcmp(r.mode, "count"))
            cr_assert_lt(ms(r.f, get_line(r.f, "rj", 4, 0).time), 10,
                         "%s: the nap is not in the line that made the calls", r.mode);
        cr_assert_eq(f->repaired, 2, "%s: two activations left", r.mode);
        cr_assert_eq(f->lines_unmatched, 0);
    }
}

Test(lines_runtime, exit_closes_the_open_line)
{
    struct e2e_rtprog r = {.scenario = "exit"};
    while (next_mode(&r)) {
        const struct lines_file *f = r.f;
        expect_line(r.f, r.mode, "loop", 2, 0, 2, 0, 10, 1);
        expect_line(r.f, r.mode, "quitter", 1, 0, 1, 30, 5, 1);
        cr_assert_eq(f->closed_at_end, 2, "main and quitter were open at exit");
    }
}

Test(lines_runtime, forked_child_starts_from_zero)
{
    struct e2e_rtprog r = {.scenario = "fork", .with_child = 1};
    while (next_mode(&r)) {
        const struct lines_file *c = r.child;
        expect_line(r.f, r.mode, "loop", 1, 0, 2, 0, 10, 1);
        expect_line(r.f, r.mode, "loop", 2, 0, 10, 0, 10, 1);
        expect_line(r.child, r.mode, "loop", 1, 0, 1, 0, 10, 1);
        expect_line(r.child, r.mode, "loop", 2, 0, 5, 0, 10, 1);
        expect_line(r.child, r.mode, "loop", 3, 0, 1, 0, 10, 1);
        cr_assert_eq(c->nlines, 3, "%s: the child has only its own lines", r.mode);
    }
}

/* More sites than a thread's table holds: the hits past it are counted
 * under [line limit] and as lines_dropped, none lost; the rest keep their
 * own records (and go through the table's collisions). */
Test(lines_runtime, table_limit_loses_no_hit)
{
    struct e2e_rtprog r = {.scenario = "many"};
    while (next_mode(&r)) {
        const struct lines_file *f = r.f;
        unsigned long long own = 0, limit = 0;
        int nown = 0, nlimit = 0;
        for (int i = 0; i < f->nlines; i++) {
            const struct line_rec *l = &f->lines[i];
            if (!strcmp(l->func, "many")) {
                cr_assert_eq(l->hits, 2, "%s: many line %u: %llu hits", r.mode, l->line,
                             l->hits);
                own += l->hits;
                nown++;
            } else if (!strcmp(l->func, "[line limit]")) {
                limit += l->hits;
                nlimit++;
            }
        }
        cr_assert_eq(nlimit, 1, "%s: one [line limit] record", r.mode);
        cr_assert_eq(own + limit, 2 * 13000, "%s: %llu + %llu hits", r.mode, own, limit);
        cr_assert_eq((long)limit, f->lines_dropped, "%s: lines_dropped", r.mode);
        cr_assert_gt(limit, 0);
        cr_assert_gt(nown, 12000);
        if (!strcmp(r.mode, "trace"))
            cr_assert_eq(f->events, 2 * 13000, "trace: a LINE event per hit");
    }
}

/* A library with line sites unloaded before the end: its lines are
 * written with their function address, line and hits, without the names
 * that went with it, and the program is not hurt. */
Test(lines_runtime, unloaded_library_keeps_its_counts)
{
    struct e2e_rtprog r = {0};
    e2e_rtprog_make_dir(&r);
    e2e_rtprog_put(
        &r, "lib.c",
        "#include \"cprof_lines.h\"\n"
        "void libfn(void) { static const struct cprof_line_site s =\n"
        "    {(void *)libfn, \"libfn\", \"/src/lib.c\", 7, 0}; __cprof_line(&s); }\n");
    e2e_rtprog_put(
        &r, "prog.c",
        "#include <dlfcn.h>\n#include <stdio.h>\n#include <string.h>\n"
        "int main(int argc, char **argv) { (void)argc;\n"
        "    void *h = dlopen(argv[1], RTLD_NOW); if (!h) return 3;\n"
        "    void (*f)(void) = (void (*)(void))dlsym(h, \"libfn\"); f(); f();\n"
        "    dlclose(h); FILE *m = fopen(\"/proc/self/maps\", \"r\"); char l[4096];\n"
        "    int mapped = 0; while (fgets(l, sizeof l, m)) mapped |= !!strstr(l, "
        "\"libl.so\");\n"
        "    fclose(m); printf(\"%s\\n\", mapped ? \"mapped\" : \"unloaded\"); return 0; "
        "}\n");
    char cmd[3000];
    snprintf(cmd, sizeof cmd,
             "clang -O1 -shared -fPIC -finstrument-functions -I%s/common -o %s/libl.so "
             "%s/lib.c && clang -O1 -finstrument-functions -o %s %s/prog.c -ldl "
             "-L%s/lib/cprof -Wl,-rpath,%s/lib/cprof -lcprof-rt",
             CPROF_SOURCE_DIR, r.dir, r.dir, r.prog, r.dir, CPROF_BINARY_DIR,
             CPROF_BINARY_DIR);
    cr_assert_eq(system(cmd), 0, "cannot build: %s", cmd);
    char lib[700];
    snprintf(lib, sizeof lib, "%s/libl.so", r.dir);
    r.scenario = lib;
    while (next_mode(&r)) {
        const struct lines_file *f = r.f;
        int unloaded = strstr(r.out, "unloaded") != NULL;
        cr_assert_eq(f->nlines, 1);
        cr_assert_eq(f->lines[0].hits, 2);
        cr_assert_eq(f->lines[0].line, 7);
        /* line records are written at the end: the names are gone with the
         * library; a trace defined the site, names included, at first use */
        cr_assert_str_eq(f->lines[0].func, unloaded ? "" : "libfn", "%s", r.mode);
        if (!strcmp(r.mode, "trace"))
            cr_assert_str_eq(f->sites[1][1].func, "libfn");
    }
}
