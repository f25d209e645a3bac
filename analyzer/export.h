/*
 * `cprof export`: the loaded data written for other viewers. cmd_export.c
 * parses the command line, loads the data and calls one writer per format;
 * each writer lives in its own file (export_*.c).
 */
#ifndef CPROF_EXPORT_H
#define CPROF_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "cmd_common.h"

enum export_weight {
    EXPORT_WEIGHT_TIME,  /* self time, ns */
    EXPORT_WEIGHT_CALLS, /* calls */
    EXPORT_WEIGHT_ALLOC, /* bytes allocated (self) */
};

struct export_opts {
    const char *out_path;      /* -o FILE; NULL: standard output */
    int has_from, has_to;      /* --from / --to given */
    double from_ns, to_ns;     /* the time window, ns from the start of each process */
    double min_dur_ns;         /* --min-dur: calls shorter than this are left out */
    enum export_weight weight; /* --weight (folded) */
};

/*
 * The writers. run holds the loaded data (model, profile, format, paths);
 * out is where to write. Each returns a CPROF_EXIT_* status and says on
 * stderr, prefixed "cprof: export: ", what went wrong.
 */
int export_callgrind(FILE *out, struct cmd_view_run *run, const struct export_opts *o);
int export_html(FILE *out, struct cmd_view_run *run, const struct export_opts *o);

/* The formats of cmd_export.c's own files: chrome (export_chrome.c),
 * folded (export_folded.c), json and csv (export_tables.c). csv writes a
 * directory of tables, o->out_path (required), not a stream. */
int export_chrome(FILE *out, struct cmd_view_run *run, const struct export_opts *o);
int export_folded(FILE *out, struct cmd_view_run *run, const struct export_opts *o);
int export_json(FILE *out, struct cmd_view_run *run, const struct export_opts *o);
int export_csv(struct cmd_view_run *run, const struct export_opts *o);

/* Each model function's name as the views show it (from run->profile;
 * "" for a function without a row): an array of model.nfuncs the caller
 * frees, the strings owned by the profile. */
const char **export_func_names(const struct cmd_view_run *run);

/*
 * Atomic output files: export_create opens a temporary file beside path
 * (a path that exists and is not a regular file, such as /dev/null or a
 * FIFO, is opened and written in place instead, *tmp NULL)
 * (*tmp gets its name, allocated); export_commit closes f and, when ok and
 * the writes succeeded, renames it to path, else removes it. Both return
 * 0, or -1 after saying why on stderr.
 */
FILE *export_create(const char *path, char **tmp);
int export_commit(FILE *f, const char *path, char *tmp, int ok);

#endif
