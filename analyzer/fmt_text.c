/*
 * The text format: a description of the run, an aligned table in human
 * units, and the warnings, for a terminal.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "util.h"

#define FMT_TEXT_MAX_STR 60 /* longer names are cut in the middle, with "…" */

void fmt_human_ns(double ns, char *buf, size_t len)
{
    if (ns < 0 && len > 1) { /* a change */
        buf[0] = '-';
        fmt_human_ns(-ns, buf + 1, len - 1);
        return;
    }
    static const struct {
        double scale;
        const char *unit;
    } units[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "µs"}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (ns >= units[i].scale * 0.9995) {
            double v = ns / units[i].scale;
            snprintf(buf, len,
                     v >= 99.95   ? "%.0f %s"
                     : v >= 9.995 ? "%.1f %s"
                                  : "%.2f %s",
                     v, units[i].unit);
            return;
        }
    }
    snprintf(buf, len, "%.0f ns", ns);
}

void fmt_human_bytes(double bytes, int sign, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    const char *plus = sign && bytes > 0 ? "+" : "";
    double mag = bytes < 0 ? -bytes : bytes;
    if (mag < 1023.5) {
        snprintf(buf, len, "%s%.0f B", plus, bytes);
        return;
    }
    size_t u = 0;
    double v = bytes / 1024;
    while (u + 1 < sizeof units / sizeof *units && (v < 0 ? -v : v) >= 1023.5) {
        v /= 1024;
        u++;
    }
    double a = v < 0 ? -v : v;
    snprintf(buf, len,
             a >= 99.95   ? "%s%.0f %s"
             : a >= 9.995 ? "%s%.1f %s"
                          : "%s%.2f %s",
             plus, v, units[u]);
}

/* Terminal columns of a UTF-8 string (continuation bytes take none). */
static size_t fmt_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

/* The text of one cell, allocated. */
static char *fmt_text_cell(const struct fmt_col *col, const struct fmt_cell *cell)
{
    char buf[512];
    if (cell->blank)
        return cprof_xstrdup("");
    if (cell->null)
        return cprof_xstrdup("-");
    switch (col->kind) {
    case FMT_STR: {
        size_t n = strlen(cell->str);
        if ((col->flags & FMT_WHOLE) || fmt_width(cell->str) <= FMT_TEXT_MAX_STR)
            return cprof_xstrdup(cell->str);
        /* keep the end, where a path's file name and a line are */
        const char *tail = cell->str + n;
        size_t w = 0;
        while (tail > cell->str && w < FMT_TEXT_MAX_STR - 1) {
            tail--;
            w += ((unsigned char)*tail & 0xc0) != 0x80;
        }
        return cprof_xasprintf("…%s", tail);
    }
    case FMT_UINT:
        snprintf(buf, sizeof buf, "%.0f", cell->num);
        break;
    case FMT_NS:
        fmt_human_ns(cell->num, buf, sizeof buf);
        break;
    case FMT_PCT:
        snprintf(buf, sizeof buf, "%.1f%%", cell->num);
        break;
    case FMT_BOOL:
        snprintf(buf, sizeof buf, "%s", cell->num != 0 ? "yes" : "no");
        break;
    case FMT_BYTES:
        fmt_human_bytes(cell->num, (col->flags & FMT_SIGN) != 0, buf, sizeof buf);
        return cprof_xstrdup(buf);
    case FMT_JSON: /* never shown */
        return cprof_xstrdup("");
    }
    if ((col->flags & FMT_SIGN) && cell->num > 0 && col->kind != FMT_BOOL)
        return cprof_xasprintf("+%s", buf);
    return cprof_xstrdup(buf);
}

static void fmt_text_pad(struct strbuf *line, size_t n)
{
    while (n--)
        sb_add(line, " ", 1);
}

static void fmt_text_run(FILE *out, const struct model *m)
{
    size_t threads = 0;
    double longest_ns = 0;
    const char *mode = m->nprocs ? m->procs[0]->mode : "";
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct m_process *p = m->procs[i];
        threads += p->nthreads;
        if (strcmp(p->mode, mode))
            mode = "mixed";
        if (p->complete && p->end_ticks > p->start_ticks && p->ns_per_tick > 0) {
            double ns = (double)(p->end_ticks - p->start_ticks) * p->ns_per_tick;
            if (ns > longest_ns)
                longest_ns = ns;
        }
    }
    if (m->nprocs == 1) {
        const struct m_process *p = m->procs[0];
        fprintf(out, "program: ");
        for (size_t i = 0; i < p->argc && i < 8; i++)
            fprintf(out, "%s%s", i ? " " : "", p->argv[i]);
        fprintf(out, "%s (pid %llu)\n", p->argc > 8 ? " …" : "",
                (unsigned long long)p->pid);
    } else {
        fprintf(out, "processes: %zu (", m->nprocs);
        for (size_t i = 0; i < m->nprocs && i < 6; i++) {
            const char *exe = m->procs[i]->exe;
            const char *base = strrchr(exe, '/');
            fprintf(out, "%s%s[%llu]", i ? ", " : "", base ? base + 1 : exe,
                    (unsigned long long)m->procs[i]->pid);
        }
        fprintf(out, "%s)\n", m->nprocs > 6 ? ", …" : "");
    }
    fprintf(out, "mode: %s, %zu thread%s", mode, threads, threads == 1 ? "" : "s");
    if (longest_ns > 0) {
        char buf[32];
        fmt_human_ns(longest_ns, buf, sizeof buf);
        fprintf(out, ", %s %s", m->nprocs == 1 ? "ran for" : "longest ran for", buf);
    }
    fputc('\n', out);
}

/* Colour for this document (cprof_color): bold titles and headers, yellow
 * warnings. */
static int fmt_text_colour;
#define FMT_BOLD(s) (fmt_text_colour ? "\033[1m" s : s)
#define FMT_OFF (fmt_text_colour ? "\033[0m" : "")

/* Rows [first, first + rows) of t as an aligned table with its header
 * (underlined when rule is set). */
static void fmt_text_table(FILE *out, const struct fmt_table *t, size_t first,
                           size_t rows, int rule)
{
    char **text = cprof_xcalloc((rows + 1) * t->ncols, sizeof(*text));
    size_t *width = cprof_xcalloc(t->ncols, sizeof(*width));
    for (size_t c = 0; c < t->ncols; c++) {
        text[c] = cprof_xstrdup(t->cols[c].title);
        for (size_t r = 0; r < rows; r++)
            text[(r + 1) * t->ncols + c] =
                fmt_text_cell(&t->cols[c], &t->cells[(first + r) * t->ncols + c]);
    }
    for (size_t i = 0; i < (rows + 1) * t->ncols; i++) {
        size_t w = fmt_width(text[i]);
        if (w > width[i % t->ncols])
            width[i % t->ncols] = w;
    }
    struct strbuf line = {0};
    for (size_t r = 0; r <= rows; r++) {
        size_t pending = 0; /* spaces owed to a left-aligned cell, written lazily */
        int first_col = 1;
        line.len = 0;
        for (size_t c = 0; c < t->ncols; c++) {
            if (t->cols[c].where == FMT_DATA_ONLY || t->cols[c].kind == FMT_JSON)
                continue;
            const char *s = text[r * t->ncols + c];
            size_t pad = width[c] - fmt_width(s);
            fmt_text_pad(&line, pending + (first_col ? 0 : 2));
            pending = 0;
            first_col = 0;
            if (t->cols[c].kind == FMT_STR) {
                sb_puts(&line, s);
                pending = pad;
            } else {
                fmt_text_pad(&line, pad);
                sb_puts(&line, s);
            }
        }
        while (line.len && line.s[line.len - 1] == ' ')
            line.s[--line.len] = 0; /* an empty last cell */
        if (r == 0 && line.len)
            fprintf(out, "%s%s%s\n", FMT_BOLD(""), line.s, FMT_OFF);
        else
            fprintf(out, "%s\n", line.len ? line.s : "");
        if (r == 0 && rule) {
            for (size_t i = fmt_width(line.s); i > 0; i--)
                fputc('=', out);
            fputc('\n', out);
        }
    }
    sb_free(&line);
    for (size_t i = 0; i < (rows + 1) * t->ncols; i++)
        free(text[i]);
    free(text);
    free(width);
}

static void fmt_text_write(FILE *out, const struct fmt_doc *doc)
{
    const struct fmt_table *t = doc->table;
    fmt_text_colour = cprof_color(out);
    for (size_t i = 0; i < doc->nruns; i++) {
        fprintf(out, "%s\n", doc->runs[i].title);
        fmt_text_run(out, doc->runs[i].model);
    }
    if (!doc->nruns)
        fmt_text_run(out, doc->model);
    for (size_t i = 0; i < doc->nsummary; i++)
        fprintf(out, "%s\n", doc->summary[i]);
    if (doc->title)
        fprintf(out, "\n%s%s%s\n\n", FMT_BOLD(""), doc->title, FMT_OFF);

    if (t->groups) {
        for (size_t g = 0; g < t->groups->ngroups; g++) {
            const struct fmt_group *group = &t->groups->groups[g];
            if (g)
                fputc('\n', out);
            for (size_t i = 0; i < group->ntext; i++)
                fprintf(out, "%s\n", group->text[i]);
            fputc('\n', out);
            fmt_text_table(out, t, group->first, group->count, 1);
        }
    } else {
        size_t rows = t->text_rows < t->nrows ? t->text_rows : t->nrows;
        fmt_text_table(out, t, 0, rows, 0);
        if (rows < t->nrows)
            fprintf(out, "… %zu more (--limit 0 shows all)\n", t->nrows - rows);
    }
    if (t->nrows == 0)
        fprintf(out, "%s\n", t->empty ? t->empty : "(no calls recorded)");
    for (size_t i = 0; i < doc->nmore; i++) {
        const struct fmt_table *more = doc->more[i];
        fprintf(out, "\n%s%s%s\n\n", FMT_BOLD(""), more->title ? more->title : more->name,
                FMT_OFF);
        if (more->nrows)
            fmt_text_table(out, more, 0, more->nrows, 0);
        else
            fprintf(out, "%s\n", more->empty ? more->empty : "(none)");
    }
    if (doc->nnotes)
        fputc('\n', out);
    for (size_t i = 0; i < doc->nnotes; i++)
        fprintf(out, "%s\n", doc->notes[i]);

    if (doc->warnings && doc->warnings->count) {
        fputc('\n', out);
        for (size_t i = 0; i < doc->warnings->count; i++)
            fprintf(out, "%swarning:%s %s\n", fmt_text_colour ? "\033[33m" : "", FMT_OFF,
                    doc->warnings->text[i]);
    }
}

const struct fmt_ops fmt_text = {"text", fmt_text_write};
