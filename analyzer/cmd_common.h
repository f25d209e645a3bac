/*
 * What the subcommands that show recorded data share, so that they take
 * the same options the same way and fail the same way: option values
 * (--format, --pid, --tid), loading the data paths into a model, picking
 * functions by FUNC patterns, and the end of a command that printed a view
 * (write errors, damaged input).
 */
#ifndef CPROF_CMD_COMMON_H
#define CPROF_CMD_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "fmt.h"
#include "hotspots.h"
#include "model.h"
#include "profile.h"
#include "sym.h"

/* The default data path when a command is given none. */
#define CMD_DEFAULT_DATA "cprof.data"
/* What a command says after finding no data at all: how to get some. */
#define CMD_NO_DATA_HINT                                                                 \
    "To get a profile: build the program with cprof-cc (make CC=cprof-cc, cmake\n"       \
    "-DCMAKE_C_COMPILER=cprof-cc or ./configure CC=cprof-cc) and run it here; it "       \
    "writes\n"                                                                           \
    "cprof.data/PROGRAM.PID.cprof. Or: cprof record -- PROGRAM [ARGS...]\n"

/* --format F: 0, or -1 after printing "cprof: CMD: unknown format". */
int cmd_format_arg(const char *cmd, const char *arg, const struct fmt_ops **format);
/* --pid / --tid ID (opt names it): 0, or -1 after printing why not. */
int cmd_id_arg(const char *cmd, const char *opt, const char *arg, uint64_t *id);
/* Reports an option getopt_long refused; with_value lists the short
 * options that take a value. */
void cmd_bad_option(const char *cmd, int optopt, const char *with_value, const char *arg);

/*
 * Loads paths (CMD_DEFAULT_DATA when npaths is 0) into m with its filter
 * set. Returns CPROF_EXIT_OK, or CPROF_EXIT_DATA when a path failed (the
 * others are loaded; each problem printed). Sets *nothing when no process
 * is left to show (the reason printed): the caller then stops with
 * CPROF_EXIT_DATA.
 */
int cmd_load(struct model *m, const struct m_filter *filter, char *const *paths,
             size_t npaths, int *nothing);

/*
 * After a view was written to stdout with format: fails when the output
 * could not be written, and turns damaged input into an error line each
 * (CSV has already put every warning on stderr). Returns the status.
 */
int cmd_finish(const char *cmd, const struct model *m, const struct fmt_ops *format,
               int status);

/*
 * The data views (report, lines, heap) start alike: the options --format,
 * --sort (when the view sorts), --limit, --pid, --tid and --help, then
 * data paths (and, for views that select functions, FUNC names or globs),
 * the data loaded into a model and the per-function view built from it.
 */
struct cmd_view {
    const char *name;  /* "report" */
    const char *usage; /* printed by --help */
    /* the --sort keys it takes (0, or -1 for another key); NULL: no --sort */
    int (*sort_key)(const char *name, enum pf_sort *key);
    int funcs; /* arguments that name no existing file are FUNCs */
};

struct cmd_view_run {
    const struct fmt_ops *format;
    enum pf_sort sort;
    int sort_given;
    uint64_t limit;
    int limit_given;
    struct m_filter filter;
    char **paths, **funcs; /* point into argv */
    size_t npaths, nfuncs;
    struct model model;
    struct sym_cache *syms;
    struct profile profile; /* unsorted; symbol warnings are in model.warnings */
    int status;             /* so far: CPROF_EXIT_DATA when a path failed */
};

/* Parses the command line and loads the data. Returns 1 with run ready for
 * the view, 0 when the command ends here with run->status (help printed, a
 * bad command line or no data, said on stderr). Either way cmd_view_end()
 * releases run. */
int cmd_view_start(const struct cmd_view *view, int argc, char **argv,
                   struct cmd_view_run *run);
/* The loading half of cmd_view_start, for commands that parse their own
 * options into run (run->paths, run->filter set, run->model initialised):
 * loads the data and builds the profile. Returns 1 when run is ready, 0
 * when there is nothing to show (said on stderr; run->status set). */
int cmd_view_load(struct cmd_view_run *run);
void cmd_view_end(struct cmd_view_run *run);

/*
 * Splits the arguments from first on into data paths (those that name an
 * existing file or directory, have a '/' or end in .cprof) and function
 * names or globs (the others), as
 * `cprof lines` and `cprof heap` take them. Both arrays are allocated (the
 * strings point into argv).
 */
void cmd_split_args(int argc, char **argv, int first, char ***paths, size_t *npaths,
                    char ***funcs, size_t *nfuncs);

/*
 * Matches the FUNC patterns (fnmatch globs) against the names of pf's
 * rows: matched[i] is set to 1 for each row i some pattern names (matched
 * has room for pf->nrows; other entries are left alone). Each pattern that
 * names no row is reported as "cprof: CMD: no function matches 'P' (cprof
 * report lists them)".
 * Returns 0, or -1 when a pattern matched nothing.
 */
int cmd_select(const char *cmd, const struct profile *pf, char *const *patterns,
               size_t npatterns, unsigned char *matched);

/* The heap totals of the data (format 1.2) as a JSON object "heap" (null
 * when no process has heap data): cells has room for CMD_HEAP_NCOLS. */
#define CMD_HEAP_NCOLS 18
void cmd_heap_object(const struct model *m, struct fmt_cell *cells,
                     struct fmt_object *obj);

/* Takes the option flag (one without a value that only some views have:
 * --percentiles, --compensate) out of argv, leaving the arguments after
 * "--" alone. Returns whether it was there. */
int cmd_take_flag(int *argc, char **argv, const char *flag);
/* The text's mark after the name of a line whose compensated time
 * (--compensate) was clamped at 0 (cprof report, cprof graph). */
#define CMD_CLAMP_MARK " !"
/* The summary line of --compensate (allocated): the probe cost subtracted,
 * or that the data has none. */
char *cmd_probe_line(const struct profile *pf);
/* When show is set (--compensate, and the data has the probe costs), puts
 * the compensated columns first to last of cols, a view's own copy of its
 * column set-up (they are data-only until asked for), where: FMT_ALL, or
 * FMT_TEXT_ONLY for a text-only table. */
void cmd_show_adj_cols(struct fmt_col *cols, int show, int first, int last,
                       enum fmt_where where);

/* path relative to cwd when it lies below it, else path: file columns stay
 * short for a report made from the project's top directory. */
const char *cmd_short_path(const char *path, const char *cwd);
/* A function's "file:line" for a location column (allocated): its file, or
 * its module when the file is unknown, short as cmd_short_path makes it;
 * without ":line" when the line is unknown (0). */
char *cmd_location(const char *file, const char *module, unsigned line, const char *cwd);

/*
 * The table of hotspot findings (cmd_hotspots.c), of `cprof hotspots` and
 * of the last section of `cprof report`: one row per finding of r (whose
 * rows are pf's), the first limit of them (0: all). The table and what it
 * points to belong to t until cmd_hotspots_table_free.
 */
struct cmd_hotspots_table {
    struct fmt_table table;
    struct fmt_cell *cells;
    struct strpool strs;
};
void cmd_hotspots_table(const struct profile *pf, const struct hs_result *r, size_t limit,
                        const char *cwd, struct cmd_hotspots_table *t);
void cmd_hotspots_table_free(struct cmd_hotspots_table *t);

#endif
