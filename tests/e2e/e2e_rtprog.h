/*
 * Running one test program in each of the runtime's modes, for the
 * runtime tests that decode what it wrote (test_heap_runtime.c,
 * test_lines_runtime.c). A test names the program's argument and loops:
 *
 *     struct e2e_rtprog r = {.scenario = "rec"};
 *     while (next_mode(&r))        (a wrapper of e2e_rtprog_next)
 *         check(r.f, r.mode, ...);
 *
 * The test file brings what differs, in a struct e2e_rtprog_ops: how to
 * build its program and how to read one .cprof file into its own struct.
 * These helpers fail the running Criterion test when something cannot be
 * done.
 */
#ifndef CPROF_E2E_RTPROG_H
#define CPROF_E2E_RTPROG_H

#include <msgpack.h>

/* What the runner needs of a file: the first member of each test file's
 * struct for a .cprof file, filled by e2e_rtprog_read_head. */
struct e2e_rtprog_head {
    char mode[16];
    int fork_child; /* the header names a fork parent */
};

struct e2e_rtprog;

struct e2e_rtprog_ops {
    /* Builds the program as r->prog, in r->dir (made already). */
    void (*build)(struct e2e_rtprog *r);
    /* Reads the .cprof file at path of the current run into a new
     * malloc'd struct whose first member is the head; the runner frees
     * it. */
    struct e2e_rtprog_head *(*read)(const char *path, const struct e2e_rtprog *r);
};

struct e2e_rtprog {
    /* set by the test */
    const char *scenario; /* the program's argument */
    const char *cflags;   /* more build flags, for ops->build; may be NULL */
    int with_child;       /* the scenario forks a child, which writes a file too */
    int summary_only;     /* one run, in summary mode */
    /* the scratch directory: the program, and its data in data/ */
    char *dir;
    char prog[512];
    char data[512];
    unsigned done; /* modes run */
    /* the current run: its mode, what it printed, the files it wrote */
    const char *mode;
    char *out;
    void *f, *child; /* the test file's structs */
    int n_files, n_children;
};

/* Runs r's scenario in the next mode (summary, trace, count), first
 * making r's scratch directory and building the program with ops when r
 * has no directory yet, and reads the files it wrote into r->f and, from
 * a forked child, r->child. Fails the test unless the program exits 0 and
 * writes one file (and one of a child when r->with_child). Returns 0,
 * with the last run's data freed and the scratch directory removed, when
 * every mode has run. */
int e2e_rtprog_next(struct e2e_rtprog *r, const struct e2e_rtprog_ops *ops);

/* Makes r's scratch directory ("cprof-<suite>.XXXXXX") and its paths, for
 * a test that builds its own program in it before the first
 * e2e_rtprog_next. */
void e2e_rtprog_make_dir(struct e2e_rtprog *r);

/* Writes text to <r->dir>/<name>. */
void e2e_rtprog_put(const struct e2e_rtprog *r, const char *name, const char *text);

/* An on_header for e2e_mp_read_file whose ctx is a struct whose first
 * member is a struct e2e_rtprog_head: fills that head. */
void e2e_rtprog_read_head(const msgpack_object *header, void *ctx);

#endif
