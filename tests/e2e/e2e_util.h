/*
 * Helpers shared by the end-to-end tests, which drive the built tools
 * (cprof-cc, cprof, programs built with them) as child processes: run a
 * command and capture what it prints, read a file, make and remove
 * scratch directories, parse the CSV that `cprof ... --format csv` writes.
 *
 * The tests link no project library, so nothing here knows the file
 * format: the tests see cprof only through its command line. Every
 * function reports failure by its return value and leaves the assertion
 * (and its message) to the caller.
 */
#ifndef CPROF_E2E_UTIL_H
#define CPROF_E2E_UTIL_H

#include <stddef.h>

/* What a finished command did. out and err are NUL-terminated, owned by
 * the struct and released by e2e_result_free. */
struct e2e_result {
    int status; /* raw wait status: use WIFEXITED and friends */
    int timed_out;
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
};

/* Runs argv[0] (searched in PATH when it has no '/') in directory cwd
 * (NULL: the current one), with env_set ("NAME=value" strings, NULL
 * terminated, may be NULL) added to the environment after removing every
 * name in env_unset (NULL terminated, may be NULL). Standard input is
 * /dev/null; standard output and error are captured into res. The command
 * is killed after timeout_s seconds (res->timed_out is then set).
 * Returns 0 when the command ran (whatever its exit status), -1 when it
 * could not be started; errno tells why. */
int e2e_run(const char *cwd, char *const argv[], char *const env_set[],
            char *const env_unset[], int timeout_s, struct e2e_result *res);

/* Releases what e2e_run put in res. */
void e2e_result_free(struct e2e_result *res);

/* Makes the calling process the subreaper of the processes it starts, so
 * that the keepers of profiled programs (which write the data of a killed
 * one after it ended) become its children; e2e_wait_keepers then waits
 * (up to timeout_s seconds) until every child left has ended. Returns 0,
 * or -1 when some still run. */
void e2e_adopt_keepers(void);
int e2e_wait_keepers(int timeout_s);

/* Describes a wait status in words ("exit 3", "signal 11 (Segmentation
 * fault)", "timed out") into buf; returns buf. */
const char *e2e_status_str(const struct e2e_result *res, char *buf, size_t size);

/* Reads the whole file at path into a NUL-terminated malloc'd buffer the
 * caller frees; *len (may be NULL) gets its length. NULL on error. */
char *e2e_read_file(const char *path, size_t *len);

/* Writes text to the file at path, replacing what was there. Returns 0 or
 * -1. */
int e2e_write_file(const char *path, const char *text);

/* Makes a fresh directory "<parent>/<tag>.XXXXXX" (parent NULL: $TMPDIR or
 * /tmp) and returns its malloc'd path, or NULL. */
char *e2e_make_temp_dir(const char *parent, const char *tag);

/* Removes path and everything under it. Returns 0 or -1. */
int e2e_remove_tree(const char *path);

/* Counts the entries of directory dir whose names end with suffix;
 * -1 when dir cannot be opened. */
int e2e_count_files(const char *dir, const char *suffix);

/* Calls fn with the path ("<dir>/<name>") of each entry of directory dir
 * whose name ends with suffix, in no particular order, and ctx. Returns how
 * many there were, -1 when dir cannot be opened (or no memory). fn may be
 * NULL. */
int e2e_each_file(const char *dir, const char *suffix,
                  void (*fn)(const char *path, void *ctx), void *ctx);

/* A parsed CSV table: rows[0] is the header. Cells are NUL-terminated with
 * quoting undone. Owned by the struct; release with e2e_csv_free. */
struct e2e_csv {
    size_t n_rows;
    size_t n_cols; /* of the header; other rows may be shorter or longer */
    char ***rows;
    size_t *row_len;
};

/* Parses text (RFC 4180: commas, "quoted" cells with "" for a quote, CRLF
 * or LF line ends; blank lines are skipped). Returns 0, or -1 on an
 * unterminated quote or no memory. */
int e2e_csv_parse(const char *text, struct e2e_csv *csv);

/* Index of the header column called name, or -1. */
int e2e_csv_column(const struct e2e_csv *csv, const char *name);

/* The cell at row, col, or NULL when that row is too short. */
const char *e2e_csv_cell(const struct e2e_csv *csv, size_t row, int col);

/* The cell in column column of the first row whose "name" cell is name;
 * NULL when there is no such row or column. */
const char *e2e_csv_named(const struct e2e_csv *csv, const char *name,
                          const char *column);

/* The row of the edge caller -> callee in the text of a `cprof graph
 * --format csv`, parsed (one row per edge); 0 when there is none or the
 * table has no caller and callee columns. */
size_t e2e_csv_edge(const struct e2e_csv *csv, const char *caller, const char *callee);

void e2e_csv_free(struct e2e_csv *csv);

/* The calls of function name in the text of a `cprof report --format csv`,
 * summed over its rows; -1 when no row names it, -2 when the text is not
 * such a CSV (no name or calls column). */
long long e2e_report_calls(const char *csv_text, const char *name);

#endif
