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
    FMT_STR,  /* text */
    FMT_UINT, /* an exact count */
    FMT_NS,   /* a time in nanoseconds: human units in text, integers in data */
    FMT_PCT,  /* a percentage 0..100 */
};

/* Where a column appears. */
enum fmt_where {
    FMT_ALL = 0,
    FMT_TEXT_ONLY = 1, /* e.g. "file:line" joined for people */
    FMT_DATA_ONLY = 2, /* e.g. "file" and "line" kept apart for programs */
};

struct fmt_col {
    const char *key;   /* JSON key and CSV header: stable, documented */
    const char *title; /* text header */
    enum fmt_kind kind;
    enum fmt_where where;
};

struct fmt_cell {
    const char *str; /* FMT_STR */
    double num;      /* FMT_UINT (exact below 2^53), FMT_NS, FMT_PCT */
    int null;        /* unknown: "-" in text, null in JSON, empty in CSV */
};

struct fmt_table {
    const char *name; /* JSON key of the row array, e.g. "functions" */
    const struct fmt_col *cols;
    size_t ncols;
    const struct fmt_cell *cells; /* row-major, nrows * ncols */
    size_t nrows;
    size_t text_rows; /* rows text shows; the rest are counted in a footer */
};

struct fmt_doc {
    const char *title; /* text: what this is, e.g. "functions by self time" */
    const struct model *model;
    const struct fmt_table *table;
    const char *const *summary; /* text: lines under the run description */
    size_t nsummary;
    const struct warnings *warnings;
};

struct fmt_ops {
    const char *name;
    void (*write)(FILE *out, const struct fmt_doc *doc);
};

extern const struct fmt_ops fmt_text, fmt_json, fmt_csv;

/* The format called name, or NULL. */
const struct fmt_ops *fmt_find(const char *name);

/* A time in human units with three significant digits: "812 ns",
 * "1.25 µs", "40.1 ms", "2.50 s". */
void fmt_human_ns(double ns, char *buf, size_t len);

#endif
