/*
 * `cprof top`'s parts (cmd_top.c), shared between the command, the
 * snapshots it reads (cmd_top_snap.c) and the view it draws (cmd_top_view.c).
 * Private to them.
 */
#ifndef CPROF_CMD_TOP_H
#define CPROF_CMD_TOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "hashmap.h"
#include "model.h"
#include "sym.h"

#define TOP_LIVE_SUFFIX ".live.cprof"

/* ---- the functions of one snapshot, and of the one before ------------- */

struct top_fn {
    const char *name; /* its key in top_snap.keys starts with it */
    char *location;
    uint64_t calls;
    double self_ns;
    /* against the previous snapshot */
    uint64_t d_calls;
    double d_self_ns;
};

struct top_snap {
    struct top_fn *fns;
    size_t nfns;
    /* fns[i]'s key "name NUL module" (the same function in every snapshot)
     * is keys.items[i] */
    struct hm_strings keys;
    double elapsed_ns; /* the longest process's run time at its snapshot */
    uint64_t total_calls;
    double total_self_ns;
    size_t nprocs, nthreads;
    char *who; /* "prog 123, prog 124" */
    int timed;
};

/* Frees what s holds and leaves it empty (s itself is the caller's). */
void top_snap_free(struct top_snap *s);
/* Builds s, which must be empty, from the model; the figures of prev (may
 * be empty) give the last interval's. s then owns its strings and keys
 * until top_snap_free; m and prev are only read. */
void top_snap_build(struct top_snap *s, const struct model *m, struct sym_cache *syms,
                    const struct top_snap *prev);

/* ---- which files to read ---------------------------------------------- */

/* Whether s ends in suffix. */
int top_has_suffix(const char *s, const char *suffix);
/* The snapshot files to read now: path itself when it is a file, else the
 * *.live.cprof files in the directory (only pid's when pid is not 0),
 * sorted. *count paths, which the caller frees with top_free_list; NULL
 * with *count 0 when the directory cannot be read. */
char **top_list(const char *path, uint64_t pid, size_t *count);
/* The final files of the program that ran as pid (PROG.PID.cprof in dir):
 * *count paths for top_free_list, NULL when there are none. */
char **top_final_files(const char *dir, pid_t pid, size_t *count);
/* Frees a list of top_list or top_final_files (NULL is fine). */
void top_free_list(char **names, size_t n);
/* A fingerprint of the files' identities and times: a new snapshot of any
 * of them changes it. */
uint64_t top_stamp(char **names, size_t n);
/* Loads the files into m, which it initialises: the caller frees m with
 * model_free whatever it returns. Returns 0 when at least one process was
 * read, else -1. err gets the last file that could not be read and why,
 * or is empty; a file that vanished between listing and reading is
 * skipped quietly. */
int top_load(struct model *m, char **names, size_t n, uint64_t pid, char *err,
             size_t errlen);

/* ---- showing it ------------------------------------------------------- */

struct top_view {
    const char *state;  /* "running", "ended: exit status 0", ... */
    const char *notice; /* a line under the header, or NULL */
    double interval_ns; /* of the last interval, 0 when unknown */
    double age_s;       /* since the snapshot was read, -1 unknown */
    size_t rows;        /* functions to show */
    size_t width;       /* columns to fill (0: no limit) */
    int terminal;
};

/* Prints one line, cut to width (a terminal line must not wrap). */
void top_line(FILE *out, size_t width, int clear_eol, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prints s as v says: a header of totals, then v->rows functions, hottest
 * in the last interval first. Lines are cut to v->width and, on a
 * terminal, end by clearing the rest of the line. */
void top_show(FILE *out, const struct top_snap *s, const struct top_view *v);

/* ---- the terminal ----------------------------------------------------- */

/* Keys without echo or Enter, and the alternate screen without a cursor;
 * top_terminal_end gives the terminal back as it was. */
void top_terminal_begin(void);
void top_terminal_end(void);
/* The terminal's size, 24 x 80 when it cannot be asked. */
void top_terminal_size(size_t *rows, size_t *cols);

#endif
