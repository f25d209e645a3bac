/*
 * The runtime's malloc interposition (issue 4, cprof heap) inside real
 * programs. A program with known allocations runs in summary, trace and
 * count modes; the file it wrote is decoded with msgpack-c and checked:
 * exact allocation and free calls and bytes per function (malloc, calloc,
 * realloc growing and shrinking, realloc(NULL)/realloc(p, 0), the aligned
 * family with the alignment checked by the program, strdup), a block freed
 * in another function, leaks, node peaks carried up to callers, another
 * thread freeing a thread's blocks (FREED records naming the owner), a
 * pointer from __libc_malloc passed through (foreign_frees), allocations
 * outside any instrumented call, fork (blocks of the parent freed by the
 * child), and the end record's heap keys. In trace mode the per-function
 * figures come from the EXT_ALLOC/EXT_FREE events instead of node records.
 *
 * The program is built at -O0: clang removes malloc/free pairs it can see
 * through at higher levels, and those then never happen.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_mp.h"
#include "e2e_rtprog.h"
#include "e2e_util.h"

static const char heap_src[] =
    "#include <malloc.h>\n"
    "#include <pthread.h>\n"
    "#include <stdint.h>\n"
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "#include <unistd.h>\n"
    "#include <sys/wait.h>\n"
    "extern void *__libc_malloc(size_t);\n"
    "#define NI __attribute__((noinline))\n"
    "static void *volatile kept[16];\n"
    "static void check(void *p, size_t align, size_t n) {\n"
    "    if (!p || ((uintptr_t)p & (align - 1)) || malloc_usable_size(p) < n) {\n"
    "        printf(\"bad block %p\\n\", p); exit(3); } }\n"
    "NI void f_malloc(void) { kept[0] = malloc(100); check(kept[0], 16, 100); }\n"
    "NI void f_calloc(void) { kept[1] = calloc(10, 30); check(kept[1], 16, 300);\n"
    "    for (int i = 0; i < 300; i++) if (((char *)kept[1])[i]) exit(4); }\n"
    "NI void f_free(void) { free(kept[0]); free(kept[1]); free(NULL); }\n"
    "NI void f_realloc(void) { char *p = realloc(NULL, 50); memset(p, 7, 50);\n"
    "    p = realloc(p, 5000); if (p[49] != 7) exit(5);\n"
    "    p = realloc(p, 20); if (p[19] != 7) exit(5);\n"
    "    if (realloc(p, 0)) exit(6); }\n"
    "NI void f_aligned(void) { void *a = 0, *b, *c, *d;\n"
    "    if (posix_memalign(&a, 64, 100)) exit(7); check(a, 64, 100);\n"
    "    b = aligned_alloc(256, 512); check(b, 256, 512);\n"
    "    c = memalign(4096, 10); check(c, 4096, 10);\n"
    "    d = valloc(100); check(d, 4096, 100);\n"
    "    memset(c, 1, 10); c = realloc(c, 8000); check(c, 16, 8000);\n"
    "    if (((char *)c)[9] != 1) exit(8);\n"
    "    free(a); free(b); free(c); free(d); }\n"
    "NI void f_strdup(void) { char *s = strdup(\"hello world\"); free(s); }\n"
    "NI void f_leak(void) { kept[2] = malloc(777); }\n"
    "NI void f_foreign(void) { void *p = __libc_malloc(10); free(p); }\n"
    "NI void inner(void) { char *p = malloc(1 << 20); memset(p, 1, 1 << 20);\n"
    "    free(p); }\n"
    "NI void outer(void) { inner(); }\n"
    "NI void producer(void) { for (int i = 0; i < 10; i++) kept[3 + i] = malloc(64); }\n"
    "NI void consumer(void) { for (int i = 0; i < 10; i++) free(kept[3 + i]); }\n"
    "NI void t_alloc(void) { for (int i = 0; i < 5; i++) kept[13] = malloc(32); }\n"
    "NI void *worker(void *a) { consumer(); t_alloc(); return a; }\n"
    "static void *deep[1500];\n"
    "NI void rec(int n) { deep[n] = malloc(8); if (n + 1 < 1500) rec(n + 1); }\n"
    "NI void free_all(void) { for (int i = 0; i < 1500; i++) free(deep[i]); }\n"
    "NI void parent_alloc(void) { kept[14] = malloc(1000); }\n"
    "NI void child_free(void) { free(kept[14]); }\n"
    "NI void parent_free(void) { free(kept[14]); }\n"
    "__attribute__((no_instrument_function, constructor)) static void early(void) {\n"
    "    void *volatile p = malloc(11); free(p); }\n"
    "static void *volatile first;\n"
    "__attribute__((no_instrument_function)) static void preinit(int c, char **v,\n"
    "    char **e) { (void)e; if (c > 1 && !strcmp(v[1], \"early\")) first = malloc(24); "
    "}\n"
    "__attribute__((section(\".preinit_array\"), used))\n"
    "static void (*pre)(int, char **, char **) = preinit;\n"
    "NI void f_early_free(void) { free(first); }\n"
    "#define FN(f) printf(\"fn %s %p\\n\", #f, (void *)f)\n"
    "int main(int argc, char **argv) {\n"
    "    const char *w = argc > 1 ? argv[1] : \"\";\n"
    "    FN(f_malloc); FN(f_calloc); FN(f_free); FN(f_realloc); FN(f_aligned);\n"
    "    FN(f_strdup); FN(f_leak); FN(f_foreign); FN(inner); FN(outer);\n"
    "    FN(producer); FN(consumer); FN(t_alloc); FN(worker); FN(main);\n"
    "    FN(parent_alloc); FN(child_free); FN(parent_free); FN(rec); FN(free_all);\n"
    "    FN(f_early_free);\n"
    "    fflush(stdout);\n"
    "    if (!strcmp(w, \"basic\")) { f_malloc(); f_calloc(); f_free(); f_realloc();\n"
    "        f_aligned(); f_strdup(); f_leak(); f_foreign(); outer(); }\n"
    "    if (!strcmp(w, \"clean\")) { f_malloc(); f_calloc(); f_free(); f_realloc();\n"
    "        f_aligned(); f_strdup(); outer(); }\n"
    "    if (!strcmp(w, \"early\")) f_early_free();\n"
    "    if (!strcmp(w, \"owners\")) { rec(0); free_all(); }\n"
    "    if (!strcmp(w, \"threads\")) { pthread_t t; producer();\n"
    "        pthread_create(&t, 0, worker, 0); pthread_join(t, 0); }\n"
    "    if (!strcmp(w, \"fork\")) { parent_alloc(); pid_t p = fork();\n"
    "        if (p == 0) { child_free(); exit(0); }\n"
    "        waitpid(p, 0, 0); parent_free(); }\n"
    "    return 0; }\n";

#define MAX_FNS 32
#define MAX_THREADS 4
#define MAX_IDS 4096
#define MAX_FREED 4096
#define MAX_DEPTH 2048

/* Heap figures of one function (summed over its nodes) or one owner. */
struct heap_fig {
    unsigned long long alloc_calls, alloc_bytes, free_calls, freed_bytes, peak;
};

struct freed_rec {
    unsigned thread, owner_thread;
    char owner[32]; /* function name, "" outside calls, "?" unknown */
    unsigned long long calls, bytes;
};

/* What one .cprof file holds, as far as these tests look. */
struct heap_file {
    struct e2e_rtprog_head head;         /* first: see e2e_rtprog.h */
    unsigned long long fn_addr[MAX_FNS]; /* the program's own list */
    const char *fn_name[MAX_FNS];
    int nfns;
    struct heap_fig by_fn[MAX_FNS];
    /* id (summary, count) or function index (trace) -> fn slot, per thread */
    int owner_fn[MAX_THREADS][MAX_IDS];
    int nfreed;
    struct freed_rec freed[MAX_FREED];
    unsigned owners_raw[MAX_FREED];
    int heap_records;
    struct heap_fig thread_all[MAX_THREADS], thread_outside[MAX_THREADS];
    long heap_in_use, heap_peak, heap_blocks, peak_rss, foreign_frees, heap_dropped;
    int has_end;
    int end_heap_keys; /* how many of the end record's six heap keys */
    /* trace mode: per-thread open calls, by function slot (-1 unknown) */
    int stack[MAX_THREADS][MAX_DEPTH];
    int depth[MAX_THREADS];
    unsigned long long idx_addr[MAX_THREADS][MAX_IDS];
};

static int fn_slot(const struct heap_file *f, unsigned long long addr)
{
    for (int i = 0; i < f->nfns; i++)
        if (f->fn_addr[i] == addr)
            return i;
    return -1;
}

static void add_alloc(struct heap_fig *g, unsigned long long bytes)
{
    g->alloc_calls++;
    g->alloc_bytes += bytes;
}

static void add_free(struct heap_fig *g, unsigned long long bytes)
{
    g->free_calls++;
    g->freed_bytes += bytes;
}

/* The next operand of a chunk's events at *i. */
static uint64_t next_op(const msgpack_object *ev, uint32_t *i)
{
    cr_assert_lt(*i, ev->via.array.size, "an event cut short");
    return ev->via.array.ptr[(*i)++].via.u64;
}

/* Trace mode: one chunk's events, with allocations and frees counted
 * under the innermost open call's function and peaks under every open
 * call's. */
static void read_chunk(struct heap_file *f, unsigned thread, const msgpack_object *ev)
{
    cr_assert_lt(thread, MAX_THREADS);
    uint32_t n = ev->via.array.size, i = 0;
    int *depth = &f->depth[thread], *stack = f->stack[thread];
#define OP() next_op(ev, &i)
    while (i < n) {
        uint64_t token = OP();
        unsigned kind = (unsigned)(token & 3);
        if (kind == 0) {
            uint64_t idx = OP();
            cr_assert_lt(idx, MAX_IDS);
            cr_assert_lt(*depth, MAX_DEPTH);
            stack[(*depth)++] = fn_slot(f, f->idx_addr[thread][idx]);
        } else if (kind == 1) {
            cr_assert_gt(*depth, 0, "an exit with no open call");
            (*depth)--;
        } else if (kind == 2) {
            i++;
        } else {
            uint64_t code = OP();
            if (code == 1) { /* FUNC index address */
                uint64_t idx = OP(), addr = OP();
                cr_assert_lt(idx, MAX_IDS);
                f->idx_addr[thread][idx] = addr;
                f->owner_fn[thread][idx] = fn_slot(f, addr);
            } else if (code == 2) { /* INHERITED n fn*n */
                uint64_t k = OP();
                for (uint64_t j = 0; j < k; j++) {
                    uint64_t idx = OP();
                    cr_assert_lt(*depth, MAX_DEPTH);
                    stack[(*depth)++] = fn_slot(f, f->idx_addr[thread][idx]);
                }
            } else if (code == 3) { /* UNWIND reason n */
                OP();
                uint64_t k = OP();
                *depth -= (int)k;
                cr_assert_geq(*depth, 0);
            } else if (code == 4) {
                OP();
            } else if (code == 5 || code == 6) { /* ALLOC/FREE bytes heap */
                uint64_t bytes = OP(), heap = OP();
                int top = *depth ? stack[*depth - 1] : -1;
                if (top >= 0)
                    (code == 5 ? add_alloc : add_free)(&f->by_fn[top], bytes);
                for (int d = 0; code == 5 && d < *depth; d++)
                    if (stack[d] >= 0 && heap > f->by_fn[stack[d]].peak)
                        f->by_fn[stack[d]].peak = heap;
            } else {
                cr_assert_fail("unknown EXT code %lu", (unsigned long)code);
            }
        }
    }
#undef OP
}

static void read_fig(struct heap_fig *g, const msgpack_object *map, const char *prefix)
{
    char key[64];
    snprintf(key, sizeof key, "%salloc_calls", prefix);
    g->alloc_calls = (unsigned long long)e2e_mp_get_uint(map, key);
    snprintf(key, sizeof key, "%salloc_bytes", prefix);
    g->alloc_bytes = (unsigned long long)e2e_mp_get_uint(map, key);
    snprintf(key, sizeof key, "%sfree_calls", prefix);
    g->free_calls = (unsigned long long)e2e_mp_get_uint(map, key);
    snprintf(key, sizeof key, "%sfreed_bytes", prefix);
    g->freed_bytes = (unsigned long long)e2e_mp_get_uint(map, key);
}

static void read_record(const msgpack_object *o, void *ctx)
{
    struct heap_file *f = ctx;
    uint64_t type = e2e_mp_uint_at(o, 0);
    if (type == 3) { /* NODE: 10 elements, then 5 heap elements since 1.2 */
        cr_assert_eq(o->via.array.size, 15, "NODE record of %u elements",
                     o->via.array.size);
        unsigned thread = (unsigned)e2e_mp_uint_at(o, 1);
        uint64_t id = e2e_mp_uint_at(o, 2);
        int slot = fn_slot(f, e2e_mp_uint_at(o, 4));
        cr_assert_lt(thread, MAX_THREADS);
        cr_assert_lt(id, MAX_IDS);
        f->owner_fn[thread][id] = slot;
        if (slot < 0)
            return;
        struct heap_fig *g = &f->by_fn[slot];
        g->alloc_calls += e2e_mp_uint_at(o, 10);
        g->alloc_bytes += e2e_mp_uint_at(o, 11);
        g->free_calls += e2e_mp_uint_at(o, 12);
        g->freed_bytes += e2e_mp_uint_at(o, 13);
        if (e2e_mp_uint_at(o, 14) > g->peak)
            g->peak = e2e_mp_uint_at(o, 14);
    } else if (type == 4) {
        read_chunk(f, (unsigned)e2e_mp_uint_at(o, 1), &o->via.array.ptr[3]);
    } else if (type == 10) { /* HEAP */
        cr_assert_eq(o->via.array.size, 3);
        unsigned thread = (unsigned)e2e_mp_uint_at(o, 1);
        cr_assert_lt(thread, MAX_THREADS);
        const msgpack_object *map = &o->via.array.ptr[2];
        cr_assert_eq(map->type, MSGPACK_OBJECT_MAP);
        read_fig(&f->thread_all[thread], map, "");
        read_fig(&f->thread_outside[thread], map, "outside_");
        f->heap_records++;
    } else if (type == 11) { /* FREED */
        cr_assert_eq(o->via.array.size, 6);
        cr_assert_lt(f->nfreed, MAX_FREED);
        struct freed_rec *r = &f->freed[f->nfreed];
        r->thread = (unsigned)e2e_mp_uint_at(o, 1);
        r->owner_thread = (unsigned)e2e_mp_uint_at(o, 2);
        f->owners_raw[f->nfreed] = (unsigned)e2e_mp_uint_at(o, 3);
        r->calls = e2e_mp_uint_at(o, 4);
        r->bytes = e2e_mp_uint_at(o, 5);
        f->nfreed++;
    } else if (type == 7) {
        const msgpack_object *m = e2e_mp_stats(o);
        f->has_end = 1;
        f->heap_in_use = e2e_mp_get_uint(m, "heap_in_use");
        f->heap_peak = e2e_mp_get_uint(m, "heap_peak");
        f->heap_blocks = e2e_mp_get_uint(m, "heap_blocks");
        f->peak_rss = e2e_mp_get_uint(m, "peak_rss");
        f->foreign_frees = e2e_mp_get_uint(m, "foreign_frees");
        f->heap_dropped = e2e_mp_get_uint(m, "heap_dropped");
        f->end_heap_keys = !!e2e_mp_get(m, "heap_in_use") + !!e2e_mp_get(m, "heap_peak") +
                           !!e2e_mp_get(m, "heap_blocks") + !!e2e_mp_get(m, "peak_rss") +
                           !!e2e_mp_get(m, "foreign_frees") +
                           !!e2e_mp_get(m, "heap_dropped");
    }
}

/* The names of owners, once every record is read (owners may be defined
 * by records after the FREED record: the owner thread's nodes). */
static void name_owners(struct heap_file *f)
{
    for (int i = 0; i < f->nfreed; i++) {
        struct freed_rec *r = &f->freed[i];
        unsigned owner = f->owners_raw[i];
        if (owner == 0)
            strcpy(r->owner, "");
        else if (r->owner_thread == 0 || r->owner_thread >= MAX_THREADS ||
                 owner >= MAX_IDS || f->owner_fn[r->owner_thread][owner] < 0)
            strcpy(r->owner, "?");
        else
            snprintf(r->owner, sizeof r->owner, "%s",
                     f->fn_name[f->owner_fn[r->owner_thread][owner]]);
    }
}

static void build_heap(struct e2e_rtprog *r)
{
    e2e_rtprog_put(r, "prog.c", heap_src);
    char cmd[2600];
    snprintf(cmd, sizeof cmd,
             "%s/bin/cprof-cc -O0 -Wall -Wextra -Werror %s -o %s %s/prog.c -lpthread",
             CPROF_BINARY_DIR, r->cflags ? r->cflags : "", r->prog, r->dir);
    cr_assert_eq(system(cmd), 0, "cannot build: %s", cmd);
}

/* Fills f's function list from the "fn NAME ADDR" lines the program
 * printed. The names point into out. */
static void read_fn_list(struct heap_file *f, char *out)
{
    for (int t = 0; t < MAX_THREADS; t++)
        for (int i = 0; i < MAX_IDS; i++)
            f->owner_fn[t][i] = -1;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *name = strchr(line, ' ');
        char *addr = name ? strchr(name + 1, ' ') : NULL;
        if (strncmp(line, "fn ", 3) || !addr || f->nfns == MAX_FNS)
            continue;
        *addr = 0;
        f->fn_name[f->nfns] = name + 1;
        f->fn_addr[f->nfns++] = strtoull(addr + 1, NULL, 16);
    }
    cr_assert_eq(f->nfns, 21, "the program listed %d functions", f->nfns);
}

/* For e2e_rtprog: one file of the current run, its functions named by
 * what the program printed. */
static struct e2e_rtprog_head *read_heap_file(const char *path,
                                              const struct e2e_rtprog *r)
{
    struct heap_file *file = calloc(1, sizeof *file);
    cr_assert(file);
    char *list = strdup(r->out); /* kept: fn names point into it (leaked) */
    cr_assert(list);
    read_fn_list(file, list);
    e2e_mp_read_file(path, e2e_rtprog_read_head, read_record, file);
    name_owners(file);
    cr_assert(file->has_end, "%s: no end record", path);
    return &file->head;
}

static const struct e2e_rtprog_ops heap_prog = {build_heap, read_heap_file};

/* The scenario in each mode in turn, as in test_lines_runtime. */
static int next_mode(struct e2e_rtprog *r)
{
    return e2e_rtprog_next(r, &heap_prog);
}

static struct heap_fig fig_of(const struct heap_file *f, const char *name)
{
    for (int i = 0; i < f->nfns; i++)
        if (!strcmp(f->fn_name[i], name))
            return f->by_fn[i];
    cr_assert_fail("no function %s", name);
    struct heap_fig none = {0};
    return none;
}

static void expect_fig(const struct heap_file *f, const char *name,
                       unsigned long long alloc_calls, unsigned long long alloc_bytes,
                       unsigned long long free_calls, unsigned long long freed_bytes)
{
    struct heap_fig g = fig_of(f, name);
    cr_assert(g.alloc_calls == alloc_calls && g.alloc_bytes == alloc_bytes &&
                  g.free_calls == free_calls && g.freed_bytes == freed_bytes,
              "%s: %s: %llu allocations of %llu bytes, %llu frees of %llu bytes; "
              "expected %llu/%llu, %llu/%llu",
              f->head.mode, name, g.alloc_calls, g.alloc_bytes, g.free_calls,
              g.freed_bytes, alloc_calls, alloc_bytes, free_calls, freed_bytes);
}

#define ANY_THREAD (~0u)

/* What thread freed of blocks owner_thread allocated in owner, summed
 * (ANY_THREAD, NULL owner: any); *records (may be NULL) gets how many
 * FREED records that was. */
static struct freed_rec freed_of(const struct heap_file *f, unsigned thread,
                                 unsigned owner_thread, const char *owner, int *records)
{
    struct freed_rec sum = {0};
    int n = 0;
    for (int i = 0; i < f->nfreed; i++) {
        const struct freed_rec *r = &f->freed[i];
        if ((thread == ANY_THREAD || r->thread == thread) &&
            (owner_thread == ANY_THREAD || r->owner_thread == owner_thread) &&
            (!owner || !strcmp(r->owner, owner))) {
            sum.calls += r->calls;
            sum.bytes += r->bytes;
            n++;
        }
    }
    if (records)
        *records = n;
    return sum;
}

static void expect_freed(const struct heap_file *f, unsigned thread,
                         unsigned owner_thread, const char *owner,
                         unsigned long long calls, unsigned long long bytes)
{
    struct freed_rec r = freed_of(f, thread, owner_thread, owner, NULL);
    cr_assert(r.calls == calls && r.bytes == bytes,
              "%s: thread %u freed %llu blocks (%llu bytes) of thread %u's %s; "
              "expected %llu (%llu)",
              f->head.mode, thread, r.calls, r.bytes, owner_thread, owner, calls, bytes);
}

Test(heap_runtime, calls_and_bytes_per_function)
{
    struct e2e_rtprog r = {.scenario = "basic"};
    while (next_mode(&r)) {
        struct heap_file *f = r.f;
        expect_fig(f, "f_malloc", 1, 100, 0, 0);
        expect_fig(f, "f_calloc", 1, 300, 0, 0);
        expect_fig(f, "f_free", 0, 0, 2, 400);
        /* realloc(NULL, 50), grow to 5000, shrink to 20, realloc(p, 0) */
        expect_fig(f, "f_realloc", 3, 5070, 3, 5070);
        /* 100 + 512 + 10 + 100, then the memalign block realloc'd to 8000 */
        expect_fig(f, "f_aligned", 5, 8722, 5, 8722);
        expect_fig(f, "f_strdup", 1, 12, 1, 12);
        expect_fig(f, "f_leak", 1, 777, 0, 0);
        expect_fig(f, "f_foreign", 0, 0, 0, 0);
        expect_fig(f, "inner", 1, 1 << 20, 1, 1 << 20);
        expect_fig(f, "outer", 0, 0, 0, 0);
        /* a block freed in another function: by owner */
        expect_freed(f, 1, 1, "f_malloc", 1, 100);
        expect_freed(f, 1, 1, "f_calloc", 1, 300);
        expect_freed(f, 1, 1, "f_realloc", 3, 5070);
        expect_freed(f, 1, 1, "f_leak", 0, 0);
        /* leaks: what f_leak allocated less what was freed of it */
        cr_assert_eq(fig_of(f, "f_leak").alloc_bytes -
                         freed_of(f, 1, 1, "f_leak", NULL).bytes,
                     777);
        cr_assert_eq(f->foreign_frees, 1, "%s: foreign_frees %ld", f->head.mode,
                     f->foreign_frees);
    }
}

Test(heap_runtime, peaks_reach_callers)
{
    struct e2e_rtprog r = {.scenario = "basic"};
    while (next_mode(&r)) {
        struct heap_file *f = r.f;
        cr_assert_geq(fig_of(f, "inner").peak, 1 << 20, "%s: inner's peak %llu",
                      f->head.mode, fig_of(f, "inner").peak);
        cr_assert_geq(fig_of(f, "outer").peak, 1 << 20, "%s: outer's peak %llu",
                      f->head.mode, fig_of(f, "outer").peak);
        cr_assert_geq(fig_of(f, "main").peak, 1 << 20);
        cr_assert_lt(fig_of(f, "f_malloc").peak, 1 << 20);
        cr_assert_geq(f->heap_peak, 1 << 20);
    }
}

Test(heap_runtime, process_and_thread_totals)
{
    struct e2e_rtprog r = {.scenario = "basic"};
    while (next_mode(&r)) {
        struct heap_file *f = r.f;
        cr_assert_eq(f->heap_records, 1);
        cr_assert_eq(f->end_heap_keys, 6, "%s: the end record has %d of the heap keys",
                     f->head.mode, f->end_heap_keys);
        const struct heap_fig *all = &f->thread_all[1], *out = &f->thread_outside[1];
        /* the program's constructor, before main: 11 bytes, freed */
        cr_assert(out->alloc_calls == 1 && out->alloc_bytes == 11 &&
                      out->free_calls == 1 && out->freed_bytes == 11,
                  "%s: outside calls: %llu/%llu, %llu/%llu", f->head.mode,
                  out->alloc_calls, out->alloc_bytes, out->free_calls, out->freed_bytes);
        /* what is live at the end: the leak and stdout's buffer */
        cr_assert_eq(f->heap_dropped, 0);
        cr_assert_eq((unsigned long long)f->heap_in_use,
                     all->alloc_bytes - all->freed_bytes);
        cr_assert_eq((unsigned long long)f->heap_blocks,
                     all->alloc_calls - all->free_calls);
        cr_assert_geq(f->heap_in_use, 777);
        cr_assert_leq(f->heap_in_use, 777 + 65536);
        cr_assert_geq(f->heap_peak, f->heap_in_use);
        cr_assert_geq(f->peak_rss, 1 << 20);
    }
}

Test(heap_runtime, another_thread_frees)
{
    struct e2e_rtprog r = {.scenario = "threads"};
    while (next_mode(&r)) {
        struct heap_file *f = r.f;
        expect_fig(f, "producer", 10, 640, 0, 0);
        expect_fig(f, "consumer", 0, 0, 10, 640);
        expect_fig(f, "t_alloc", 5, 160, 0, 0);
        expect_freed(f, 2, 1, "producer", 10, 640);
        cr_assert_eq(f->heap_records, 2);
        cr_assert_eq(f->thread_all[2].free_calls, 10);
        cr_assert_geq(f->thread_all[2].alloc_calls, 5);
    }
}

Test(heap_runtime, fork_child_frees_parent_blocks)
{
    struct e2e_rtprog r = {.scenario = "fork", .with_child = 1};
    while (next_mode(&r)) {
        struct heap_file *f = r.f, *c = r.child;
        expect_fig(f, "parent_alloc", 1, 1000, 0, 0);
        expect_fig(f, "parent_free", 0, 0, 1, 1000);
        expect_freed(f, 1, 1, "parent_alloc", 1, 1000);
        /* the child starts with none of the parent's counts; the block is
         * the parent's (owner thread 0) */
        expect_fig(c, "parent_alloc", 0, 0, 0, 0);
        expect_fig(c, "child_free", 0, 0, 1, 1000);
        unsigned long long from_parent = freed_of(c, ANY_THREAD, 0, NULL, NULL).bytes;
        cr_assert_eq(from_parent, 1000, "%s: the child freed %llu bytes of the parent's",
                     c->head.mode, from_parent);
        cr_assert_geq(c->heap_in_use, 0);
        cr_assert_eq(c->thread_all[1].alloc_calls, 0, "%s: the child allocated %llu",
                     c->head.mode, c->thread_all[1].alloc_calls);
    }
}

/* The static runtime in a dynamically linked program defines the family
 * in the executable: tracked as with the shared one. */
Test(heap_runtime, static_runtime_tracks)
{
    struct e2e_rtprog r = {
        .scenario = "basic", .cflags = "--cprof-runtime=static", .summary_only = 1};
    while (next_mode(&r)) {
        const struct heap_file *f = r.f;
        expect_fig(f, "f_realloc", 3, 5070, 3, 5070);
        expect_fig(f, "inner", 1, 1 << 20, 1, 1 << 20);
        cr_assert_eq(f->end_heap_keys, 6);
    }
}

/* Where the program's malloc is not cprof's, every call goes to libc and
 * the file has no heap data at all (rather than zeros that look real). */
static void expect_untracked(const char *cflags)
{
    /* no leak, no foreign pointer: ASan would fail the run */
    struct e2e_rtprog r = {.scenario = "clean", .cflags = cflags, .summary_only = 1};
    while (next_mode(&r)) {
        const struct heap_file *f = r.f;
        expect_fig(f, "f_realloc", 0, 0, 0, 0);
        cr_assert_eq(f->heap_records, 0, "%s: heap records", cflags);
        cr_assert_eq(f->nfreed, 0, "%s: freed records", cflags);
        cr_assert_eq(f->end_heap_keys, 0, "%s: heap keys in the end record", cflags);
    }
}

Test(heap_runtime, steps_aside_under_asan)
{
    expect_untracked("-fsanitize=address");
}

Test(heap_runtime, steps_aside_under_static_glibc)
{
    expect_untracked("-static");
}

/* 1500 owners (one node per depth of a recursion in summary and count
 * modes): the thread's table of owners grows past its first 1024 slots
 * and loses nothing. */
Test(heap_runtime, many_owners)
{
    struct e2e_rtprog r = {.scenario = "owners"};
    while (next_mode(&r)) {
        struct heap_file *f = r.f;
        expect_fig(f, "rec", 1500, 12000, 0, 0);
        expect_fig(f, "free_all", 0, 0, 1500, 12000);
        int records;
        struct freed_rec all = freed_of(f, ANY_THREAD, ANY_THREAD, "rec", &records);
        cr_assert_eq(all.calls, 1500, "%s: %llu frees of rec's blocks by owner",
                     f->head.mode, all.calls);
        cr_assert_eq(all.bytes, 12000);
        cr_assert_eq(records, strcmp(f->head.mode, "trace") ? 1500 : 1, "%s: %d owners",
                     f->head.mode, records);
    }
}

/* A block allocated before the runtime started (a preinit function runs
 * before every library's constructor): a real block, in the process's
 * heap, counted for no thread (heap_dropped); its free is counted, under
 * no owner. */
Test(heap_runtime, allocation_before_start)
{
    struct e2e_rtprog r = {.scenario = "early"};
    while (next_mode(&r)) {
        struct heap_file *f = r.f;
        expect_fig(f, "f_early_free", 0, 0, 1, 24);
        expect_freed(f, 1, 0, "", 1, 24);
        cr_assert_eq(f->heap_dropped, 1, "%s: heap_dropped %ld", f->head.mode,
                     f->heap_dropped);
        const struct heap_fig *all = &f->thread_all[1];
        cr_assert_eq((unsigned long long)f->heap_in_use + all->freed_bytes,
                     all->alloc_bytes + 24);
    }
}
