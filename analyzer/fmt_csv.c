/*
 * The CSV format (RFC 4180): a header row of column keys, then one row per
 * table row. Unknown values are empty fields. Warnings do not belong in the
 * table; they go to stderr, so that the CSV stays clean for other tools.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"

static void fmt_csv_str(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void fmt_csv_write(FILE *out, const struct fmt_doc *doc)
{
    const struct fmt_table *t = doc->table;
    int first = 1;
    for (size_t c = 0; c < t->ncols; c++) {
        if (t->cols[c].where == FMT_TEXT_ONLY)
            continue;
        fprintf(out, "%s%s", first ? "" : ",", t->cols[c].key);
        first = 0;
    }
    fputc('\n', out);
    for (size_t r = 0; r < t->nrows; r++) {
        first = 1;
        for (size_t c = 0; c < t->ncols; c++) {
            const struct fmt_col *col = &t->cols[c];
            const struct fmt_cell *cell = &t->cells[r * t->ncols + c];
            if (col->where == FMT_TEXT_ONLY)
                continue;
            if (!first)
                fputc(',', out);
            first = 0;
            if (cell->null || (col->kind != FMT_STR && !isfinite(cell->num)))
                continue;
            if (col->kind == FMT_STR)
                fmt_csv_str(out, cell->str);
            else if (col->kind == FMT_PCT)
                fprintf(out, "%.2f", cell->num);
            else
                fprintf(out, "%.0f", cell->num);
        }
        fputc('\n', out);
    }
    for (size_t i = 0; doc->warnings && i < doc->warnings->count; i++)
        fprintf(stderr, "cprof: warning: %s\n", doc->warnings->text[i]);
}

const struct fmt_ops fmt_csv = {"csv", fmt_csv_write};
