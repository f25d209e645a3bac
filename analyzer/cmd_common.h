/*
 * What the subcommands that show recorded data share, so that they take
 * the same options the same way and fail the same way: option values
 * (--format, --pid, --tid), loading the data paths into a model, and the
 * end of a command that printed a view (write errors, damaged input).
 */
#ifndef CPROF_CMD_COMMON_H
#define CPROF_CMD_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "fmt.h"
#include "model.h"

/* The default data path when a command is given none. */
#define CMD_DEFAULT_DATA "cprof.data"

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

/* path relative to cwd when it lies below it, else path: file columns stay
 * short for a report made from the project's top directory. */
const char *cmd_short_path(const char *path, const char *cwd);

#endif
