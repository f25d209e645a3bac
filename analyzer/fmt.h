/*
 * Output formats. A view turns the model into a table (named columns,
 * typed cells); a format writes the table, the run it came from and the
 * warnings: text for people, json and csv for programs. One file per
 * format, all behind struct fmt_ops, so a new view gets every format and a
 * new format serves every view.
 */
#ifndef CPROF_FMT_H
#define CPROF_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"

enum fmt_kind {
    FMT_STR,   /* text */
    FMT_UINT,  /* an exact count */
    FMT_NS,    /* a time in nanoseconds: human units in text, integers in data */
    FMT_PCT,   /* a percentage 0..100 */
    FMT_BOOL,  /* num != 0: true / false */
    FMT_BYTES, /* a byte count: human units (B, KiB, MiB, ...) in text, integers
                  in data; may be negative (a net change) */
    FMT_JSON,  /* a JSON value already written (str): JSON only, text and CSV
                  leave the column out */
};

/* Where a column appears. */
enum fmt_where {
    FMT_ALL = 0,
    FMT_TEXT_ONLY = 1, /* e.g. "file:line" joined for people */
    FMT_DATA_ONLY = 2, /* e.g. "file" and "line" kept apart for programs */
};

/* fmt_col.flags */
#define FMT_WHOLE 1u   /* text: never shorten the string (source lines) */
#define FMT_IN_ROWS 2u /* a group column CSV repeats in each row, under its title */
#define FMT_SIGN 4u    /* text: "+" before positive numbers (a change) */

struct fmt_col {
    const char *key;   /* JSON key and CSV header: stable, documented */
    const char *title; /* text header */
    enum fmt_kind kind;
    enum fmt_where where;
    unsigned flags; /* FMT_WHOLE, FMT_IN_ROWS */
};

struct fmt_cell {
    const char *str; /* FMT_STR */
    double num;      /* FMT_UINT (exact below 2^53), FMT_NS, FMT_PCT, FMT_BOOL */
    int null;        /* unknown: "-" in text, null in JSON, empty in CSV */
    int blank;       /* nothing to say: empty in text, else as null */
};

/*
 * Rows may come in groups, each with fields of its own: `cprof lines` has a
 * group per function and a row per source line. JSON writes the table's
 * array as one object per group (its fields, then its rows under
 * rows_key); CSV writes the table's rows, each after the fields of its
 * group's columns flagged FMT_IN_ROWS; text writes each group's text lines
 * and then its rows as a table of their own.
 */
struct fmt_group {
    const struct fmt_cell *cells; /* one per fmt_groups.cols */
    const char *const *text;      /* text: the lines above the group's rows */
    size_t ntext;
    size_t first, count; /* the group's rows in the table */
};

struct fmt_groups {
    const char *rows_key; /* JSON key of a group's rows, e.g. "lines" */
    const struct fmt_col *cols;
    size_t ncols;
    const struct fmt_group *groups;
    size_t ngroups;
};

struct fmt_table {
    const char *name; /* JSON key of the row array, e.g. "functions" */
    const struct fmt_col *cols;
    size_t ncols;
    const struct fmt_cell *cells; /* row-major, nrows * ncols */
    size_t nrows;
    size_t text_rows;  /* rows text shows; the rest are counted in a footer */
    const char *empty; /* text: what no rows means; NULL: "(no calls recorded)" */
    const struct fmt_groups *groups; /* NULL: one plain table */
    const char *title;               /* text: the heading of a table after the first */
};

/*
 * A top-level JSON object of named values (`"heap": {...}` of cprof report
 * and cprof heap); null when cells is NULL. Text and CSV leave it out: text
 * says the same in its summary lines.
 */
struct fmt_object {
    const char *key;
    const struct fmt_col *cols;
    size_t ncols;
    const struct fmt_cell *cells; /* one per column, or NULL */
};

/* One of the runs a document compares (`cprof diff`). */
struct fmt_run {
    const char *key;   /* JSON key of its run object, e.g. "run_a" */
    const char *title; /* text: the line above its description, e.g. "A: old.data" */
    const struct model *model;
};

struct fmt_doc {
    const char *title; /* text: what this is, e.g. "functions by self time" */
    const struct model *model;
    /* when nruns > 0: the runs compared, described each under its key
     * (JSON) or title (text) instead of model's "run" */
    const struct fmt_run *runs;
    size_t nruns;
    const struct fmt_table *table;
    const char *const *summary; /* text: lines under the run description */
    size_t nsummary;
    const char *const *notes; /* text: lines under the table, e.g. a key */
    size_t nnotes;
    const struct warnings *warnings;
    /* more tables after the first (text: each under its title; JSON: each
     * under its name; CSV writes only the first) */
    const struct fmt_table *const *more;
    size_t nmore;
    const struct fmt_object *objects; /* JSON only */
    size_t nobjects;
};

struct fmt_ops {
    const char *name;
    void (*write)(FILE *out, const struct fmt_doc *doc);
};

extern const struct fmt_ops fmt_text, fmt_json, fmt_csv;

/* The format called name, or NULL. */
const struct fmt_ops *fmt_find(const char *name);

/* s as a JSON string, quotes and escapes included, NULL as null; bytes
 * that are not UTF-8 become U+FFFD. html: '<', '>' and '&' escaped too, so
 * that the string cannot end a <script> block it is written into (cprof
 * export --format html). fmt_json_str: not html. */
void fmt_json_string(FILE *out, const char *s, int html);
void fmt_json_str(FILE *out, const char *s);

struct model;
/* The run object under key: whether the data is timed, and every process
 * (file, pid, exe, argv, mode, clock, end, duration, threads), its strings
 * as fmt_json_string writes them. */
void fmt_json_run(FILE *out, const char *key, const struct model *m, int html);

/* A time in human units with three significant digits: "812 ns",
 * "1.25 µs", "40.1 ms", "2.50 s". */
void fmt_human_ns(double ns, char *buf, size_t len);
/* A byte count in human units, three significant digits past 1 KiB:
 * "512 B", "1.50 KiB", "40.1 MiB", "-2.00 GiB"; with sign, "+" before a
 * positive count. */
void fmt_human_bytes(double bytes, int sign, char *buf, size_t len);

#endif
