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

/* One cell; first says whether it starts the row. */
static void fmt_csv_cell(FILE *out, const struct fmt_col *col,
                         const struct fmt_cell *cell, int first)
{
    if (!first)
        fputc(',', out);
    if (cell->null || cell->blank || (col->kind != FMT_STR && !isfinite(cell->num)))
        return;
    if (col->kind == FMT_STR)
        fmt_csv_str(out, cell->str);
    else if (col->kind == FMT_BOOL)
        fputs(cell->num != 0 ? "true" : "false", out);
    else if (col->kind == FMT_PCT)
        fprintf(out, "%.2f", cell->num);
    else
        fprintf(out, "%.0f", cell->num);
}

static void fmt_csv_write(FILE *out, const struct fmt_doc *doc)
{
    const struct fmt_table *t = doc->table;
    const struct fmt_groups *g = t->groups;
    int first = 1;
    for (size_t c = 0; g && c < g->ncols; c++) {
        if (!(g->cols[c].flags & FMT_IN_ROWS))
            continue;
        fprintf(out, "%s%s", first ? "" : ",", g->cols[c].title);
        first = 0;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        if (t->cols[c].where == FMT_TEXT_ONLY || t->cols[c].kind == FMT_JSON)
            continue;
        fprintf(out, "%s%s", first ? "" : ",", t->cols[c].key);
        first = 0;
    }
    fputc('\n', out);
    size_t ngroups = g ? g->ngroups : 1;
    for (size_t i = 0; i < ngroups; i++) {
        const struct fmt_group *group = g ? &g->groups[i] : NULL;
        size_t from = group ? group->first : 0,
               to = group ? from + group->count : t->nrows;
        for (size_t r = from; r < to; r++) {
            first = 1;
            for (size_t c = 0; g && c < g->ncols; c++) {
                if (!(g->cols[c].flags & FMT_IN_ROWS))
                    continue;
                fmt_csv_cell(out, &g->cols[c], &group->cells[c], first);
                first = 0;
            }
            for (size_t c = 0; c < t->ncols; c++) {
                if (t->cols[c].where == FMT_TEXT_ONLY || t->cols[c].kind == FMT_JSON)
                    continue;
                fmt_csv_cell(out, &t->cols[c], &t->cells[r * t->ncols + c], first);
                first = 0;
            }
            fputc('\n', out);
        }
    }
    for (size_t i = 0; doc->warnings && i < doc->warnings->count; i++)
        fprintf(stderr, "cprof: warning: %s\n", doc->warnings->text[i]);
}

const struct fmt_ops fmt_csv = {"csv", fmt_csv_write};
